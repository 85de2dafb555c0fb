/* test-ckpt-interval: the agent's checkpoint interval (Young) and the
 * per-machine eviction record it uses (schedd/ckpt-interval.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "schedd/ckpt-interval.h"

static void test_young(void **state)
{
	/* sqrt(2 x 5 x 3600) = 189.7 */
	assert_int_equal(kite_ckpt_interval_young(5, 3600, 60, 21600), 190);
	/* clamped below and above */
	assert_int_equal(kite_ckpt_interval_young(0.01, 10, 60, 21600), 60);
	assert_int_equal(kite_ckpt_interval_young(100, 1e9, 60, 21600), 21600);
	/* a max below the min means the min */
	assert_int_equal(kite_ckpt_interval_young(5, 3600, 60, 30), 60);
}

static void test_mtbf(void **state)
{
	KiteMtbf *m = kite_mtbf_new(3600);
	/* a machine never seen: the prior */
	assert_true(fabs(kite_mtbf_get(m, "ws1") - 3600) < 1e-9);
	/* runs that ended normally lengthen it; evictions divide it */
	kite_mtbf_note_run(m, "ws1", 1800, FALSE);
	assert_true(fabs(kite_mtbf_get(m, "ws1") - 5400) < 1e-9);
	kite_mtbf_note_run(m, "WS1", 600, TRUE); /* names fold */
	assert_true(fabs(kite_mtbf_get(m, "ws1") - 3000) < 1e-9);
	kite_mtbf_note_run(m, "ws1", 0, TRUE);
	assert_true(fabs(kite_mtbf_get(m, "ws1") - 2000) < 1e-9);
	/* other machines are not affected */
	assert_true(fabs(kite_mtbf_get(m, "ws2") - 3600) < 1e-9);
	kite_mtbf_free(m);
}

static void test_choose(void **state)
{
	KiteMtbf *m = kite_mtbf_new(3600);
	kite_mtbf_note_run(m, "ws1", 0, TRUE); /* ws1: MTBF 1800 s */

	/* interval: auto, never checkpointed: the assumed cost */
	KiteAd *job = kite_ad_new();
	kite_ad_set_string(job, "CheckpointMode", "preload");
	kite_ckpt_interval_choose(m, job, "slot2@ws1", 5, 60, 21600);
	gint64 interval = 0;
	assert_true(kite_ad_get_int(job, "CheckpointInterval", &interval));
	assert_int_equal(interval, 134); /* sqrt(2 x 5 x 1800) = 134.2 */
	g_autofree char *why = NULL;
	assert_true(kite_ad_get_string(job, "CheckpointIntervalChoice", &why));
	assert_string_equal(why, "Young: sqrt(2 x 5 s assumed checkpoint cost x 1800 s between evictions of ws1) = 134 s, "
				 "within [60, 21600]: 134 s");
	kite_ad_free(job);

	/* a measured cost is used */
	job = kite_ad_new();
	kite_ad_set_string(job, "CheckpointMode", "preload");
	kite_ad_set_real(job, "CheckpointSeconds", 0.5);
	kite_ckpt_interval_choose(m, job, "slot1@ws2", 5, 60, 21600);
	assert_true(kite_ad_get_int(job, "CheckpointInterval", &interval));
	assert_int_equal(interval, 60); /* sqrt(2 x 0.5 x 3600) = 60 */
	kite_ad_free(job);

	/* the job file's own interval, or no checkpointing: left alone */
	job = kite_ad_new();
	kite_ad_set_string(job, "CheckpointMode", "preload");
	kite_ad_set_int(job, "CheckpointInterval", 600);
	kite_ckpt_interval_choose(m, job, "slot1@ws1", 5, 60, 21600);
	assert_true(kite_ad_get_int(job, "CheckpointInterval", &interval));
	assert_int_equal(interval, 600);
	assert_null(kite_ad_lookup(job, "CheckpointIntervalChoice"));
	kite_ad_free(job);
	job = kite_ad_new();
	kite_ad_set_string(job, "CheckpointMode", "none");
	kite_ckpt_interval_choose(m, job, "slot1@ws1", 5, 60, 21600);
	assert_null(kite_ad_lookup(job, "CheckpointInterval"));
	kite_ad_free(job);
	kite_mtbf_free(m);
}

static void test_slot_machine(void **state)
{
	assert_string_equal(kite_slot_machine("slot1@ws1"), "ws1");
	assert_string_equal(kite_slot_machine("ws1"), "ws1");
	assert_string_equal(kite_slot_machine("a@b@c"), "c");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_young),
	    cmocka_unit_test(test_mtbf),
	    cmocka_unit_test(test_choose),
	    cmocka_unit_test(test_slot_machine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
