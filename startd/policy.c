/* policy.c — slot states and activities, the owner policy expressions
 * and the transition function; see policy.h.  Evaluating owner activity
 * is in activity*.c; building slot ads and applying steps in slots.c. */
#include "policy.h"

#include "util.h"

const char *kite_slot_state_name(KiteSlotState state)
{
	static const char *const names[] = {"Owner", "Unclaimed", "Matched", "Claimed", "Preempting"};
	return (guint)state < G_N_ELEMENTS(names) ? names[state] : "Unknown";
}

const char *kite_slot_activity_name(KiteSlotActivity activity)
{
	static const char *const names[] = {"Idle",	 "Benchmarking", "Busy",
					    "Suspended", "Vacating",	 "Killing"};
	return (guint)activity < G_N_ELEMENTS(names) ? names[activity] : "Unknown";
}

static gboolean go(KitePolicyStep *out, KiteSlotState s, KiteSlotActivity a, const char *reason)
{
	out->state = s;
	out->activity = a;
	out->reason = reason;
	return TRUE;
}

/* Condor's state diagram (policy-configuration.rst, "State and
 * Activity Transitions"), without Backfill, Drained and Retiring.
 * Where several transitions apply, the more drastic wins: kill over
 * preempt over suspend. */
gboolean kite_policy_next(KiteSlotState state, KiteSlotActivity activity, const KitePolicyInput *in,
			  KitePolicyStep *out)
{
	switch (state) {
	case KITE_SLOT_OWNER:
		if (!in->is_owner)
			return go(out, KITE_SLOT_UNCLAIMED, KITE_SLOT_IDLE, "START is no longer false");
		return FALSE;

	case KITE_SLOT_UNCLAIMED:
		if (activity == KITE_SLOT_BENCHMARKING) {
			if (in->benchmark_done)
				return go(out, KITE_SLOT_UNCLAIMED, KITE_SLOT_IDLE, "benchmark finished");
			return FALSE;
		}
		if (in->is_owner)
			return go(out, KITE_SLOT_OWNER, KITE_SLOT_IDLE, "START is false (the owner is back)");
		if (in->claimed)
			return go(out, KITE_SLOT_CLAIMED, KITE_SLOT_IDLE, "claim accepted");
		if (in->matched)
			return go(out, KITE_SLOT_MATCHED, KITE_SLOT_IDLE, "matched by the negotiator");
		return FALSE;

	case KITE_SLOT_MATCHED:
		if (in->is_owner)
			return go(out, KITE_SLOT_OWNER, KITE_SLOT_IDLE, "START is false (the owner is back)");
		if (in->claimed)
			return go(out, KITE_SLOT_CLAIMED, KITE_SLOT_IDLE, "claim accepted");
		if (in->match_timeout)
			return go(out, KITE_SLOT_UNCLAIMED, KITE_SLOT_IDLE, "match not claimed in time");
		return FALSE;

	case KITE_SLOT_CLAIMED:
		if (in->kill && activity != KITE_SLOT_IDLE)
			return go(out, KITE_SLOT_PREEMPTING, KITE_SLOT_KILLING, "KILL is true");
		if (in->claim_released)
			return go(out, KITE_SLOT_PREEMPTING, KITE_SLOT_VACATING, "claim released");
		switch (activity) {
		case KITE_SLOT_IDLE:
			/* A claim with no job yet yields to the owner at once. */
			if (!in->start)
				return go(out, KITE_SLOT_PREEMPTING, KITE_SLOT_VACATING,
					  "START is false with the claim idle");
			if (in->job_started)
				return go(out, KITE_SLOT_CLAIMED, KITE_SLOT_BUSY, "job started");
			return FALSE;
		case KITE_SLOT_BUSY:
			if (!in->job_running)
				return go(out, KITE_SLOT_CLAIMED, KITE_SLOT_IDLE, "job exited");
			if (in->preempt)
				return go(out, KITE_SLOT_PREEMPTING, KITE_SLOT_VACATING, "PREEMPT is true");
			if (in->suspend)
				return go(out, KITE_SLOT_CLAIMED, KITE_SLOT_SUSPENDED, "SUSPEND is true");
			return FALSE;
		case KITE_SLOT_SUSPENDED:
			if (!in->job_running)
				return go(out, KITE_SLOT_CLAIMED, KITE_SLOT_IDLE, "job exited");
			if (in->preempt)
				return go(out, KITE_SLOT_PREEMPTING, KITE_SLOT_VACATING, "PREEMPT is true");
			if (in->cont)
				return go(out, KITE_SLOT_CLAIMED, KITE_SLOT_BUSY, "CONTINUE is true");
			return FALSE;
		default:
			g_assert_not_reached();
		}

	case KITE_SLOT_PREEMPTING:
		if (!in->job_running)
			return go(out, KITE_SLOT_OWNER, KITE_SLOT_IDLE,
				  activity == KITE_SLOT_KILLING ? "job killed" : "job vacated");
		if (activity == KITE_SLOT_VACATING && in->kill)
			return go(out, KITE_SLOT_PREEMPTING, KITE_SLOT_KILLING,
				  "KILL is true while vacating");
		return FALSE;
	}
	g_assert_not_reached();
}

/* ---- expressions ---- */

enum { P_START, P_SUSPEND, P_CONTINUE, P_PREEMPT, P_KILL, P_N };
static const char *const expr_keys[P_N] = {"start", "suspend", "continue", "preempt", "kill"};

struct _KitePolicy {
	KiteExpr *expr[P_N];
	KiteAd *constants; /* thresholds and the helper expressions */
};

void kite_policy_free(KitePolicy *p)
{
	if (!p)
		return;
	for (int i = 0; i < P_N; i++)
		if (p->expr[i])
			kite_expr_unref(p->expr[i]);
	kite_ad_free(p->constants);
	g_free(p);
}

/* Condor's names for the thresholds, from their config keys. */
static const struct {
	const char *key, *attr;
} durations[] = {
    {"start_idle_time", "StartIdleTime"},
    {"continue_idle_time", "ContinueIdleTime"},
    {"max_suspend_time", "MaxSuspendTime"},
    {"max_vacate_time", "MaxVacateTime"},
    {"keyboard_busy_time", "KeyboardBusyTime"},
    {"cpu_busy_time", "MaxCpuBusyTime"},
    {"activation_grace_time", "ActivationGraceTime"},
};

KitePolicy *kite_policy_new(const KiteConfig *cfg, GError **error)
{
	g_autoptr(KitePolicy) p = g_new0(KitePolicy, 1);
	for (int i = 0; i < P_N; i++) {
		const char *text = kite_config_get_expr(cfg, expr_keys[i]);
		g_autoptr(GError) local = NULL;
		p->expr[i] = kite_expr_parse(text, NULL, &local);
		if (!p->expr[i]) {
			kite_throw(error, KITE_ERROR_INVALID, "`%s`: %s", expr_keys[i], local->message);
			return NULL;
		}
	}
	p->constants = kite_ad_new();
	for (gsize i = 0; i < G_N_ELEMENTS(durations); i++)
		kite_ad_set_int(p->constants, durations[i].attr,
				(gint64)kite_config_get_duration(cfg, durations[i].key));
	const char *loads[][2] = {{"background_load", "BackgroundLoad"}, {"high_load", "HighLoad"}};
	for (gsize i = 0; i < G_N_ELEMENTS(loads); i++)
		if (!kite_ad_set_parsed(p->constants, loads[i][1], kite_config_get_expr(cfg, loads[i][0]),
					error))
			return NULL;
	/* Condor's helper macros, as attributes so that users' policies
	 * can use them too. */
	static const char *const helpers[][2] = {
	    {"CPUIdle", "NonJobLoadAvg <= BackgroundLoad"},
	    {"CPUBusy", "NonJobLoadAvg >= HighLoad"},
	    {"KeyboardBusy", "KeyboardIdle < KeyboardBusyTime"},
	};
	for (gsize i = 0; i < G_N_ELEMENTS(helpers); i++)
		if (!kite_ad_set_parsed(p->constants, helpers[i][0], helpers[i][1], error))
			g_assert_not_reached();
	return g_steal_pointer(&p);
}

void kite_policy_publish(const KitePolicy *p, KiteAd *slot_ad)
{
	for (guint i = 0; i < kite_ad_size(p->constants); i++)
		kite_ad_set(slot_ad, kite_ad_name_at(p->constants, i), kite_ad_expr_at(p->constants, i));
	kite_ad_set(slot_ad, "Start", p->expr[P_START]);
}

static gboolean eval_true(const KiteExpr *e, const KiteAd *my, const KiteAd *target, gboolean *out_false)
{
	KiteValue v = KITE_VALUE_INIT;
	kite_expr_eval(e, my, target, &v);
	gboolean t = kite_value_is_true(&v);
	if (out_false)
		*out_false = (v.type == KITE_VALUE_BOOL && !v.b) || (v.type == KITE_VALUE_INT && v.i == 0) ||
			     (v.type == KITE_VALUE_REAL && v.r == 0);
	kite_value_clear(&v);
	return t;
}

void kite_policy_eval(const KitePolicy *p, const KiteAd *slot_ad, const KiteAd *job, KitePolicyInput *inout)
{
	inout->start = eval_true(p->expr[P_START], slot_ad, job, NULL);
	/* IS_OWNER = (START =?= False), evaluated without a job. */
	eval_true(p->expr[P_START], slot_ad, NULL, &inout->is_owner);
	inout->suspend = eval_true(p->expr[P_SUSPEND], slot_ad, job, NULL);
	inout->cont = eval_true(p->expr[P_CONTINUE], slot_ad, job, NULL);
	inout->preempt = eval_true(p->expr[P_PREEMPT], slot_ad, job, NULL);
	inout->kill = eval_true(p->expr[P_KILL], slot_ad, job, NULL);
}
