/* test-policy.c — the startd's owner policy (startd/policy.c) and slot
 * transitions (startd/slots.c): every edge of the state diagram, the
 * desktop policy's defaults, and a slot walked over a scripted timeline
 * of owner activity — idle, back, away — with thresholds in seconds, as
 * an administrator would configure them for a test pool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include "config-keys.h"
#include "startd/policy.h"
#include "startd/slots.h"

#define OWNER	   KITE_SLOT_OWNER
#define UNCLAIMED  KITE_SLOT_UNCLAIMED
#define MATCHED	   KITE_SLOT_MATCHED
#define CLAIMED	   KITE_SLOT_CLAIMED
#define PREEMPTING KITE_SLOT_PREEMPTING
#define IDLE	   KITE_SLOT_IDLE
#define BUSY	   KITE_SLOT_BUSY
#define SUSPENDED  KITE_SLOT_SUSPENDED
#define VACATING   KITE_SLOT_VACATING
#define KILLING	   KITE_SLOT_KILLING

/* Expect @state/@activity with @in to move to @to_state/@to_activity. */
static void expect_step(KiteSlotState state, KiteSlotActivity activity, KitePolicyInput in,
			KiteSlotState to_state, KiteSlotActivity to_activity)
{
	KitePolicyStep step;
	if (!kite_policy_next(state, activity, &in, &step))
		fail_msg("%s/%s: expected a move to %s/%s, got none", kite_slot_state_name(state),
			 kite_slot_activity_name(activity), kite_slot_state_name(to_state),
			 kite_slot_activity_name(to_activity));
	assert_string_equal(kite_slot_state_name(step.state), kite_slot_state_name(to_state));
	assert_string_equal(kite_slot_activity_name(step.activity), kite_slot_activity_name(to_activity));
	assert_non_null(step.reason);
}

static void expect_stay(KiteSlotState state, KiteSlotActivity activity, KitePolicyInput in)
{
	KitePolicyStep step;
	if (kite_policy_next(state, activity, &in, &step))
		fail_msg("%s/%s: expected to stay, moved to %s/%s (%s)", kite_slot_state_name(state),
			 kite_slot_activity_name(activity), kite_slot_state_name(step.state),
			 kite_slot_activity_name(step.activity), step.reason);
}

static void test_names(void **state)
{
	assert_string_equal(kite_slot_state_name(OWNER), "Owner");
	assert_string_equal(kite_slot_state_name(PREEMPTING), "Preempting");
	assert_string_equal(kite_slot_activity_name(KITE_SLOT_BENCHMARKING), "Benchmarking");
	assert_string_equal(kite_slot_activity_name(KILLING), "Killing");
	assert_string_equal(kite_slot_state_name(99), "Unknown");
}

static void test_owner_and_unclaimed(void **state)
{
	expect_stay(OWNER, IDLE, (KitePolicyInput){.is_owner = TRUE});
	expect_step(OWNER, IDLE, (KitePolicyInput){.start = TRUE}, UNCLAIMED, IDLE);
	/* START undefined (it needs a job) is not "false": the owner is away. */
	expect_step(OWNER, IDLE, (KitePolicyInput){0}, UNCLAIMED, IDLE);
	expect_step(UNCLAIMED, IDLE, (KitePolicyInput){.is_owner = TRUE}, OWNER, IDLE);
	expect_stay(UNCLAIMED, IDLE, (KitePolicyInput){.start = TRUE});
	expect_stay(UNCLAIMED, KITE_SLOT_BENCHMARKING, (KitePolicyInput){.is_owner = TRUE});
	expect_step(UNCLAIMED, KITE_SLOT_BENCHMARKING, (KitePolicyInput){.benchmark_done = TRUE}, UNCLAIMED,
		    IDLE);
}

static void test_match_and_claim(void **state)
{
	expect_step(UNCLAIMED, IDLE, (KitePolicyInput){.start = TRUE, .matched = TRUE}, MATCHED, IDLE);
	expect_step(UNCLAIMED, IDLE, (KitePolicyInput){.start = TRUE, .claimed = TRUE}, CLAIMED, IDLE);
	expect_step(MATCHED, IDLE, (KitePolicyInput){.start = TRUE, .claimed = TRUE}, CLAIMED, IDLE);
	expect_step(MATCHED, IDLE, (KitePolicyInput){.start = TRUE, .match_timeout = TRUE}, UNCLAIMED, IDLE);
	expect_step(MATCHED, IDLE, (KitePolicyInput){.is_owner = TRUE, .claimed = TRUE}, OWNER, IDLE);
	expect_stay(MATCHED, IDLE, (KitePolicyInput){.start = TRUE});
	/* The owner comes back before the first job starts. */
	expect_step(CLAIMED, IDLE, (KitePolicyInput){.is_owner = TRUE}, PREEMPTING, VACATING);
	expect_step(CLAIMED, IDLE, (KitePolicyInput){.start = TRUE, .job_started = TRUE, .job_running = TRUE},
		    CLAIMED, BUSY);
	expect_step(CLAIMED, IDLE, (KitePolicyInput){.start = TRUE, .claim_released = TRUE}, PREEMPTING,
		    VACATING);
	expect_stay(CLAIMED, IDLE, (KitePolicyInput){.start = TRUE});
}

static void test_running_job(void **state)
{
	KitePolicyInput run = {.start = TRUE, .job_running = TRUE};
	expect_stay(CLAIMED, BUSY, run);
	KitePolicyInput in = run;
	in.suspend = TRUE;
	expect_step(CLAIMED, BUSY, in, CLAIMED, SUSPENDED);
	in = run;
	in.preempt = TRUE;
	in.suspend = TRUE;
	expect_step(CLAIMED, BUSY, in, PREEMPTING, VACATING); /* preempt beats suspend */
	in.kill = TRUE;
	expect_step(CLAIMED, BUSY, in, PREEMPTING, KILLING);			     /* kill beats both */
	expect_step(CLAIMED, BUSY, (KitePolicyInput){.start = TRUE}, CLAIMED, IDLE); /* job exited */

	in = run;
	expect_stay(CLAIMED, SUSPENDED, in);
	in.cont = TRUE;
	expect_step(CLAIMED, SUSPENDED, in, CLAIMED, BUSY);
	in = run;
	in.preempt = TRUE;
	in.cont = TRUE;
	expect_step(CLAIMED, SUSPENDED, in, PREEMPTING, VACATING);
	in = run;
	in.kill = TRUE;
	expect_step(CLAIMED, SUSPENDED, in, PREEMPTING, KILLING);
	in = run;
	in.claim_released = TRUE;
	expect_step(CLAIMED, BUSY, in, PREEMPTING, VACATING);
}

static void test_preempting(void **state)
{
	KitePolicyInput run = {.job_running = TRUE};
	expect_stay(PREEMPTING, VACATING, run);
	KitePolicyInput in = run;
	in.kill = TRUE;
	expect_step(PREEMPTING, VACATING, in, PREEMPTING, KILLING);
	expect_stay(PREEMPTING, KILLING, in);
	/* Gone: back to Owner; the next step decides about Unclaimed. */
	expect_step(PREEMPTING, VACATING, (KitePolicyInput){.start = TRUE}, OWNER, IDLE);
	expect_step(PREEMPTING, KILLING, (KitePolicyInput){0}, OWNER, IDLE);
}

/* ---- the policy expressions over a slot ---- */

static KiteConfig *startd_config(const char *yaml)
{
	g_autoptr(GError) error = NULL;
	KiteConfig *cfg =
	    kite_config_load_data("startd.yaml", yaml, strlen(yaml), kite_startd_config_keys, &error);
	if (!cfg)
		fail_msg("%s", error->message);
	return cfg;
}

typedef struct {
	KiteConfig *cfg;
	KitePolicy *policy;
	KiteAd *machine;
	KiteActivitySample sample;
	KiteSlotContext ctx;
	KiteSlot *slot;
	gint64 now;
} Timeline;

static void timeline_init(Timeline *t, const char *yaml)
{
	t->cfg = startd_config(yaml);
	g_autoptr(GError) error = NULL;
	t->policy = kite_policy_new(t->cfg, &error);
	assert_non_null(t->policy);
	t->machine = kite_ad_new();
	kite_ad_set_string(t->machine, "Machine", "ws1");
	kite_ad_set_int(t->machine, "TotalCpus", 4);
	kite_ad_set_int(t->machine, "TotalMemory", 8192);
	t->sample = (KiteActivitySample){.keyboard_idle = 0, .console_idle = -1, .have_load = TRUE};
	t->now = 1000000;
	t->ctx = (KiteSlotContext){.machine = t->machine,
				   .policy = t->policy,
				   .sample = &t->sample,
				   .n_slots = 2,
				   .disk_kib = 1000,
				   .lifetime = 15,
				   .daemon_start = t->now};
	t->slot = kite_slot_new(2, "ws1", t->now);
}

static void timeline_clear(Timeline *t)
{
	kite_slot_free(t->slot);
	kite_ad_free(t->machine);
	kite_policy_free(t->policy);
	kite_config_free(t->cfg);
}

/* Advance the clock by @dt seconds with the owner last active
 * @idle seconds ago, apply @events, and check where the slot is. */
static void tick(Timeline *t, gint64 dt, gint64 idle, const KitePolicyInput *events, const char *state,
		 const char *activity)
{
	t->now += dt;
	t->sample.keyboard_idle = idle;
	kite_slot_update(t->slot, &t->ctx, events, t->now);
	assert_string_equal(kite_slot_state_name(t->slot->state), state);
	assert_string_equal(kite_slot_activity_name(t->slot->activity), activity);
	g_autofree char *s = NULL;
	assert_true(kite_ad_get_string(t->slot->ad, "State", &s));
	assert_string_equal(s, state);
}

static void test_slot_ad(void **state)
{
	Timeline t;
	timeline_init(&t, "");
	tick(&t, 5, 0, NULL, "Owner", "Idle");
	const KiteAd *ad = t.slot->ad;
	g_autofree char *name = NULL;
	assert_true(kite_ad_get_string(ad, "Name", &name));
	assert_string_equal(name, "slot2@ws1");
	gint64 v;
	assert_true(kite_ad_get_int(ad, "Cpus", &v));
	assert_int_equal(v, 2);
	assert_true(kite_ad_get_int(ad, "Memory", &v));
	assert_int_equal(v, 4096);
	assert_true(kite_ad_get_int(ad, "Disk", &v));
	assert_int_equal(v, 500);
	assert_true(kite_ad_get_int(ad, "ActivityTimer", &v));
	assert_int_equal(v, 5);
	/* The desktop defaults, in seconds. */
	assert_true(kite_ad_get_int(ad, "StartIdleTime", &v));
	assert_int_equal(v, 15 * 60);
	assert_true(kite_ad_get_int(ad, "ContinueIdleTime", &v));
	assert_int_equal(v, 5 * 60);
	assert_true(kite_ad_get_int(ad, "MaxSuspendTime", &v));
	assert_int_equal(v, 10 * 60);
	assert_true(kite_ad_get_int(ad, "MaxVacateTime", &v));
	assert_int_equal(v, 10 * 60);
	double load;
	assert_true(kite_ad_get_real(ad, "BackgroundLoad", &load));
	assert_true(load == 0.3);
	assert_non_null(kite_ad_lookup(ad, "Start"));
	assert_null(kite_ad_lookup(ad, "ConsoleIdle")); /* no console source knew anything */
	timeline_clear(&t);
}

static void test_desktop_defaults(void **state)
{
	/* Condor's desktop policy: 15 idle minutes and a quiet CPU. */
	Timeline t;
	timeline_init(&t, "");
	tick(&t, 1, 14 * 60, NULL, "Owner", "Idle");
	tick(&t, 1, 15 * 60 + 1, NULL, "Unclaimed", "Idle");
	t.sample.load_avg = t.sample.nonjob_load_avg = 0.8; /* someone compiles */
	tick(&t, 1, 16 * 60, NULL, "Owner", "Idle");
	t.sample.load_avg = t.sample.nonjob_load_avg = 0.1;
	tick(&t, 1, 16 * 60, NULL, "Unclaimed", "Idle");
	tick(&t, 1, 3, NULL, "Owner", "Idle");
	timeline_clear(&t);
}

static void test_owner_timeline(void **state)
{
	/* What the integration test does, second by second. */
	Timeline t;
	timeline_init(&t, "start_idle_time: 2s\nbackground_load: 100\n");
	tick(&t, 1, 0, NULL, "Owner", "Idle");
	tick(&t, 1, 1, NULL, "Owner", "Idle");
	tick(&t, 1, 2, NULL, "Owner", "Idle"); /* not more than 2 s yet */
	tick(&t, 1, 3, NULL, "Unclaimed", "Idle");
	gint64 entered;
	assert_true(kite_ad_get_int(t.slot->ad, "EnteredCurrentState", &entered));
	assert_int_equal(entered, t.now);
	tick(&t, 1, 4, NULL, "Unclaimed", "Idle");
	gint64 timer;
	assert_true(kite_ad_get_int(t.slot->ad, "StateTimer", &timer));
	assert_int_equal(timer, 1);
	tick(&t, 1, 0, NULL, "Owner", "Idle");
	timeline_clear(&t);
}

static void test_job_timeline(void **state)
{
	/* A claimed slot with a job, walked through suspend, continue,
	 * preempt and kill by the default expressions. */
	Timeline t;
	timeline_init(&t,
		      "start_idle_time: 10s\ncontinue_idle_time: 5s\nmax_suspend_time: 20s\n"
		      "max_vacate_time: 4s\nkeyboard_busy_time: 2s\nbackground_load: 100\nhigh_load: 100\n");
	tick(&t, 1, 11, NULL, "Unclaimed", "Idle");
	tick(&t, 1, 12, &(KitePolicyInput){.claimed = TRUE}, "Claimed", "Idle");
	KitePolicyInput run = {.job_running = TRUE};
	tick(&t, 1, 13, &(KitePolicyInput){.job_started = TRUE, .job_running = TRUE}, "Claimed", "Busy");
	tick(&t, 1, 14, &run, "Claimed", "Busy");
	tick(&t, 1, 0, &run, "Claimed", "Suspended"); /* the owner types */
	tick(&t, 5, 1, &run, "Claimed", "Suspended"); /* still busy */
	tick(&t, 5, 6, &run, "Claimed", "Suspended"); /* idle 6 s but suspended only 10 s: not > 10 */
	tick(&t, 1, 7, &run, "Claimed", "Busy");      /* ActivityTimer 11 > 10 and idle 7 > 5 */
	tick(&t, 1, 0, &run, "Claimed", "Suspended");
	tick(&t, 20, 0, &run, "Claimed", "Suspended"); /* ActivityTimer 20, not > 20 */
	tick(&t, 1, 0, &run, "Preempting", "Vacating");
	tick(&t, 4, 0, &run, "Preempting", "Vacating");
	tick(&t, 1, 0, &run, "Preempting", "Killing"); /* vacating took > MaxVacateTime */
	tick(&t, 1, 0, NULL, "Owner", "Idle");	       /* the job is gone */
	tick(&t, 1, 11, NULL, "Unclaimed", "Idle");
	timeline_clear(&t);
}

static void test_is_owner_needs_false(void **state)
{
	/* A START about the job is undefined without one: not Owner. */
	g_autoptr(KiteConfig) cfg = startd_config("start: 'TARGET.RequestMemory < 100'\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(KitePolicy) p = kite_policy_new(cfg, &error);
	assert_non_null(p);
	g_autoptr(KiteAd) slot = kite_ad_new();
	KitePolicyInput in = {0};
	kite_policy_eval(p, slot, NULL, &in);
	assert_false(in.is_owner);
	assert_false(in.start);
	g_autoptr(KiteAd) job = kite_ad_new();
	kite_ad_set_int(job, "RequestMemory", 50);
	kite_policy_eval(p, slot, job, &in);
	assert_true(in.start);
	kite_ad_set_int(job, "RequestMemory", 500);
	kite_policy_eval(p, slot, job, &in);
	assert_false(in.start);
}

static void test_bad_expression(void **state)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConfig) cfg = kite_config_load_data("startd.yaml", "start: 'KeyboardIdle >'\n", 24,
							  kite_startd_config_keys, &error);
	/* The config loader already checks expressions. */
	assert_null(cfg);
	assert_non_null(strstr(error->message, "startd.yaml:1:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_owner_and_unclaimed),
	    cmocka_unit_test(test_match_and_claim),
	    cmocka_unit_test(test_running_job),
	    cmocka_unit_test(test_preempting),
	    cmocka_unit_test(test_slot_ad),
	    cmocka_unit_test(test_desktop_defaults),
	    cmocka_unit_test(test_owner_timeline),
	    cmocka_unit_test(test_job_timeline),
	    cmocka_unit_test(test_is_owner_needs_false),
	    cmocka_unit_test(test_bad_expression),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
