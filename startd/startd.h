/* startd.h — the startd's shared state (main.c owns it).  The pieces:
 * machine.c (static attributes), activity*.c (owner activity and load),
 * claim.c and sandbox.c (claims and jobs),
 * policy.c (states and the owner policy), slots.c (slot ads and
 * transitions), advertise.c (ads to the schedd). */
#pragma once

#include "activity.h"
#include "advertise.h"
#include "cgroup.h"
#include "claim.h"
#include "config.h"
#include "policy.h"
#include "server.h"
#include "slots.h"

struct _KiteStartd {
	KiteConfig *config;
	char *state_dir;
	char *name; /* machine name */
	const char *schedd_addr; /* where we advertise (--schedd or config) */
	GBytes *key;
	KiteAd *machine;
	KiteActivity *activity;
	KitePolicy *policy;
	GPtrArray *slots; /* KiteSlot* */
	KiteAdvertiser *advertiser;
	gint64 started; /* wall seconds */
	/* running jobs (claim.c) */
	KiteActivitySample sample; /* the latest, for updates between polls */
	KiteJobLoad *job_load;	   /* the jobs' own CPU use, for NonJobLoadAvg */
	gint64 disk_kib;
	KiteServer *server;
	GPtrArray *claims; /* one per slot, NULL when the slot has none */
	KiteCgroups *cgroups; /* the jobs' cgroup subtree, NULL: rlimits */
	struct _KiteExecCache *exec_cache; /* executables by content (exec-cache.c) */
};

/* Most slots one startd offers. */
#define KITE_STARTD_MAX_SLOTS 1024
/* Longest machine name (slot and daemon names add a few bytes). */
#define KITE_STARTD_MAX_NAME 200
