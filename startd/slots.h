/* slots.h — a startd's slots (Condor's static slots): each has its own
 * state and activity, its share of the machine, and its own ad, rebuilt
 * from the machine's attributes, the activity sample and the policy at
 * every poll. */
#pragma once

#include <glib.h>

#include "activity.h"
#include "ad.h"
#include "policy.h"

G_BEGIN_DECLS

typedef struct {
	guint id;   /* 1-based */
	char *name; /* slotN@MACHINE */
	KiteSlotState state;
	KiteSlotActivity activity;
	gint64 entered_state;	 /* wall seconds */
	gint64 entered_activity; /* wall seconds */
	gint64 cpu_busy_since;	 /* wall seconds, -1 while CPUBusy is false */
	KiteAd *ad;		 /* the latest ad */
} KiteSlot;

/* What every slot's ad is built from. */
typedef struct {
	const KiteAd *machine; /* kite_machine_probe() */
	const KitePolicy *policy;
	const KiteActivitySample *sample;
	guint n_slots;
	gint64 disk_kib;     /* free in the state directory, whole machine */
	gint64 lifetime;     /* ClassAdLifetime, seconds */
	gint64 daemon_start; /* wall seconds */
} KiteSlotContext;

KiteSlot *kite_slot_new(guint id, const char *machine_name, gint64 now);
void kite_slot_free(KiteSlot *slot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteSlot, kite_slot_free)

/* Rebuild @slot's ad at wall time @now, evaluate the policy and apply
 * its steps (with @events, which may be NULL: nothing happened) until
 * the slot settles.  Every transition is logged with its reason.
 * Returns TRUE if the state or activity changed. */
gboolean kite_slot_update(KiteSlot *slot, const KiteSlotContext *ctx, const KitePolicyInput *events,
			  gint64 now);

G_END_DECLS
