/* startd.h — the startd's shared state (main.c owns it).  The pieces:
 * machine.c (static attributes), activity*.c (owner activity and load),
 * policy.c (states and the owner policy), slots.c (slot ads and
 * transitions), advertise.c (ads to the schedd). */
#pragma once

#include "activity.h"
#include "advertise.h"
#include "config.h"
#include "policy.h"
#include "slots.h"

typedef struct {
	KiteConfig *config;
	char *state_dir;
	char *name; /* machine name */
	GBytes *key;
	KiteAd *machine;
	KiteActivity *activity;
	KitePolicy *policy;
	GPtrArray *slots; /* KiteSlot* */
	KiteAdvertiser *advertiser;
	gint64 started; /* wall seconds */
} KiteStartd;

/* Most slots one startd offers. */
#define KITE_STARTD_MAX_SLOTS 1024
/* Longest machine name (slot and daemon names add a few bytes). */
#define KITE_STARTD_MAX_NAME 200
