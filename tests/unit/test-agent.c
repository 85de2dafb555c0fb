/* test-agent.c — the agent's choice (schedd/agent.c): run-time
 * prediction from Mips, CPUs and load; two-sided filtering; order by
 * rank, then predicted run time (unknown last), then name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>

#include "test-helpers.h"

#include "ad.h"
#include "schedd/agent.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-9)

static KiteAd *slot(const char *name, gint64 mips, gint64 cpus, double load, const char *start)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "Name", name);
	if (mips)
		kite_ad_set_int(ad, "Mips", mips);
	kite_ad_set_int(ad, "TotalCpus", cpus);
	if (load >= 0)
		kite_ad_set_real(ad, "LoadAvg", load);
	kite_ad_set_int(ad, "Memory", 1000 + mips);
	assert_true(kite_ad_set_parsed(ad, "Start", start ? start : "true", NULL));
	return ad;
}

static void test_predict(void **state)
{
	g_autoptr(KiteAd) idle = slot("a", 2000, 1, 0.0, NULL);
	assert_near(kite_agent_predict(idle, 1e6), 500);
	/* One CPU, one other runnable process: half of it. */
	g_autoptr(KiteAd) busy = slot("b", 2000, 1, 1.0, NULL);
	assert_near(kite_agent_predict(busy, 1e6), 1000);
	/* Four CPUs and a load of 2: a whole CPU is still free. */
	g_autoptr(KiteAd) big = slot("c", 2000, 4, 2.0, NULL);
	assert_near(kite_agent_predict(big, 1e6), 500);
	/* Four CPUs and a load of 7: 4 CPUs for 8 processes. */
	g_autoptr(KiteAd) crowded = slot("d", 2000, 4, 7.0, NULL);
	assert_near(kite_agent_predict(crowded, 1e6), 1000);
	/* No load source: as if idle. */
	g_autoptr(KiteAd) unknown_load = slot("e", 2000, 1, -1, NULL);
	assert_near(kite_agent_predict(unknown_load, 1e6), 500);
	/* No Mips, or no work: unknown. */
	g_autoptr(KiteAd) no_mips = slot("f", 0, 1, 0, NULL);
	assert_true(kite_agent_predict(no_mips, 1e6) < 0);
	assert_true(kite_agent_predict(idle, 0) < 0);
}

static void test_choose(void **state)
{
	g_autoptr(GPtrArray) slots = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	g_ptr_array_add(slots, slot("slow", 1000, 1, 0, NULL));
	g_ptr_array_add(slots, slot("fast-loaded", 4000, 1, 3.0, NULL)); /* a quarter of 4000 */
	g_ptr_array_add(slots, slot("fast", 4000, 1, 0, NULL));
	g_ptr_array_add(slots, slot("b-nomips", 0, 1, 0, NULL));
	g_ptr_array_add(slots, slot("a-nomips", 0, 1, 0, NULL));
	g_ptr_array_add(slots, slot("picky", 9000, 1, 0, "TARGET.Owner == \"bob\""));
	g_autoptr(KiteAd) job = kite_ad_new();
	kite_ad_set_string(job, "Owner", "alice");
	assert_true(kite_ad_set_parsed(job, "Requirements", "true", NULL));
	g_autoptr(GArray) c = kite_agent_choose(job, slots, 4e6);
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < c->len; i++) {
		g_autofree char *name = NULL;
		kite_ad_get_string(g_array_index(c, KiteAgentChoice, i).slot, "Name", &name);
		g_string_append_printf(s, "%s%s", i ? " " : "", name);
	}
	g_autofree char *got = g_string_free(s, FALSE);
	/* fast (1000 s) ties fast-loaded (4000 s) and slow (4000 s) by name;
	 * slots without a prediction last; picky refuses alice. */
	assert_string_equal(got, "fast fast-loaded slow a-nomips b-nomips");

	/* A rank comes before the prediction. */
	assert_true(kite_ad_set_parsed(job, "Rank", "-TARGET.Memory", NULL));
	g_autoptr(GArray) r = kite_agent_choose(job, slots, 4e6);
	g_autofree char *first = NULL;
	kite_ad_get_string(g_array_index(r, KiteAgentChoice, 0).slot, "Name", &first);
	assert_string_equal(first, "a-nomips");
	assert_near(g_array_index(r, KiteAgentChoice, 0).rank, -1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_predict),
	    cmocka_unit_test(test_choose),
	};
	return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
