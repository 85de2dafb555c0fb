/* policy.h — the owner policy of a slot (DESIGN.md §3): Condor's states
 * and activities, the policy expressions `start`, `suspend`,
 * `continue`, `preempt` and `kill`, the thresholds they refer to, and
 * the transition function that moves a slot from one state to the next.
 *
 * The transition function is pure — state, activity and what happened
 * in, the next state, activity and the reason out — so that claims and
 * jobs (a later issue) drive it the same way the owner does, and unit
 * tests can walk it over a scripted timeline. */
#pragma once

#include <glib.h>

#include "ad.h"
#include "config.h"

G_BEGIN_DECLS

typedef enum {
	KITE_SLOT_OWNER = 0,
	KITE_SLOT_UNCLAIMED,
	KITE_SLOT_MATCHED,
	KITE_SLOT_CLAIMED,
	KITE_SLOT_PREEMPTING,
} KiteSlotState;

typedef enum {
	KITE_SLOT_IDLE = 0,
	KITE_SLOT_BENCHMARKING,
	KITE_SLOT_BUSY,
	KITE_SLOT_SUSPENDED,
	KITE_SLOT_VACATING,
	KITE_SLOT_KILLING,
} KiteSlotActivity;

/* "Owner", "Unclaimed", … and "Idle", "Busy", … as Condor spells them. */
const char *kite_slot_state_name(KiteSlotState state);
const char *kite_slot_activity_name(KiteSlotActivity activity);

/* What the policy step looks at: the policy expressions as evaluated
 * for the slot now, and the events since the last step. */
typedef struct {
	gboolean start;	   /* START is true (against the job, if any) */
	gboolean is_owner; /* START is exactly false without a job: the owner wants the machine */
	gboolean suspend;
	gboolean cont; /* CONTINUE */
	gboolean preempt;
	gboolean kill;

	gboolean benchmark_done; /* the start-up benchmark has finished */
	gboolean matched;	 /* the negotiator matched this slot */
	gboolean match_timeout;	 /* a match was not followed by a claim in time */
	gboolean claimed;	 /* a claim was accepted */
	gboolean job_started;	 /* the claim's job was started */
	gboolean job_running;	 /* a job process exists on the slot */
	gboolean claim_released; /* the claim's holder let it go (or was lost) */
} KitePolicyInput;

typedef struct {
	KiteSlotState state;
	KiteSlotActivity activity;
	const char *reason; /* static text for the log */
} KitePolicyStep;

/* The next state and activity of a slot in @state/@activity given @in.
 * Returns TRUE and fills @out_step when the slot moves, FALSE when it
 * stays.  One step at a time: callers repeat until it returns FALSE
 * (Preempting → Owner → Unclaimed takes two steps). */
gboolean kite_policy_next(KiteSlotState state, KiteSlotActivity activity, const KitePolicyInput *in,
			  KitePolicyStep *out_step);

/* The parsed policy expressions and the constant attributes they use
 * (StartIdleTime, BackgroundLoad, KeyboardBusy, CPUIdle …), from a
 * startd config (kite_startd_config_keys). */
typedef struct _KitePolicy KitePolicy;

KitePolicy *kite_policy_new(const KiteConfig *cfg, GError **error);
void kite_policy_free(KitePolicy *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KitePolicy, kite_policy_free)

/* Add the policy's constant attributes and `Start` to @slot_ad. */
void kite_policy_publish(const KitePolicy *p, KiteAd *slot_ad);

/* Evaluate the policy expressions with @slot_ad as MY and @job (NULL:
 * none) as TARGET, writing the expression fields of @inout (the event
 * fields are left alone).  Undefined and error count as false, except
 * that is_owner needs START to be exactly false. */
void kite_policy_eval(const KitePolicy *p, const KiteAd *slot_ad, const KiteAd *job, KitePolicyInput *inout);

G_END_DECLS
