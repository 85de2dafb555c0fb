/* cycle.h — one negotiation cycle in the schedd up to the shadows (see
 * cycle.c): free slots, idle jobs grouped into autoclusters, matches,
 * and the matched jobs marked Running on disk. */
#pragma once

#include <glib.h>

#include "ad.h"
#include "autocluster.h"
#include "job.h"
#include "negotiator.h"

G_BEGIN_DECLS

typedef struct _KiteSchedd KiteSchedd;

/* A job the cycle marked Running, with what its shadow needs. */
typedef struct {
	KiteJobId id;
	KiteAd *job;	  /* its full ad (NULL if it could not be read back) */
	KiteAd *slot;	  /* the slot's ad */
	guint slot_index; /* of the slot among those given (claim reuse) */
} KiteCycleMatch;

typedef struct {
	KiteAutoclusterStats groups;
	KiteNegotiationStats negotiation;
	guint n_free_slots;
	guint n_marked; /* matches now Running on disk */
	double seconds;
} KiteCycleStats;

/* Run one cycle.  Returns the matched jobs (KiteCycleMatch*, already
 * Running on disk; the array frees them), or NULL with @error when the
 * queue failed (nothing is then marked). */
GPtrArray *kite_schedd_cycle(KiteSchedd *s, KiteCycleStats *out_stats, GError **error);

/* Claim reuse: the next job of each kept claim — @slots[i] (KiteAd*,
 * the ad the slot was matched with) held for user @owners[i] — as
 * kite_negotiate_claims() picks it, marked Running on that slot.  The
 * caller holds the queue's transaction (kite_queue_begin) and commits
 * it before handing the jobs to their shadows.  Returns the jobs
 * (KiteCycleMatch*, slot_index = the claim's index), or NULL with
 * @error. */
GPtrArray *kite_schedd_cycle_claims(KiteSchedd *s, GPtrArray *slots, const char *const *owners,
				    KiteCycleStats *out_stats, GError **error);

/* "10000 idle job(s) in 12 autocluster(s) (0 regrouped), 1000 free
 * slot(s): 1000 matched, 12000 evaluations, 0.041 s" */
char *kite_cycle_stats_describe(const KiteCycleStats *st);

G_END_DECLS
