/* test-negotiator.c — matching jobs to slots (schedd/negotiator.c):
 * two-sided matches (the job's Requirements and the slot's Start),
 * Rank choosing among slots, each slot used once, JobPrio within a
 * user, fair share between users (least recent usage first, turns
 * within a cycle), autoclusters evaluated once for many jobs, and
 * usage decaying with its half-life. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>

#include "test-helpers.h"

#include "ad.h"
#include "schedd/autocluster.h"
#include "schedd/negotiator.h"

/* Older cmocka has no assert_near. */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static KiteAd *slot_ad(const char *name, gint64 memory, const char *start)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "Name", name);
	kite_ad_set_int(ad, "Memory", memory);
	kite_ad_set_string(ad, "Arch", "X86_64");
	kite_ad_set_string(ad, "State", "Unclaimed");
	assert_true(kite_ad_set_parsed(ad, "Start", start ? start : "true", NULL));
	return ad;
}

static KiteAd *job_ad(gint64 cluster, gint64 proc, const char *owner, gint64 memory, const char *rank)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_int(ad, "ClusterId", cluster);
	kite_ad_set_int(ad, "ProcId", proc);
	kite_ad_set_string(ad, "Owner", owner);
	kite_ad_set_int(ad, "RequestMemory", memory);
	kite_ad_set_string(ad, "Out", "out.$(Process)");
	assert_true(kite_ad_set_parsed(
	    ad, "Requirements", "TARGET.Arch == \"X86_64\" && TARGET.Memory >= MY.RequestMemory", NULL));
	if (rank)
		assert_true(kite_ad_set_parsed(ad, "Rank", rank, NULL));
	return ad;
}

static GPtrArray *ads(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
}

/* "C.P->slotname …" for the matches, in order. */
static char *describe(GArray *matches, GPtrArray *slots)
{
	g_autoptr(GString) s = g_string_new(NULL);
	for (guint i = 0; i < matches->len; i++) {
		const KiteMatch *m = &g_array_index(matches, KiteMatch, i);
		g_autofree char *name = NULL;
		kite_ad_get_string(slots->pdata[m->slot], "Name", &name);
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "->%s",
				       s->len ? " " : "", m->id.cluster, m->id.proc, name);
	}
	return g_strdup(s->str);
}

static void test_two_sided(void **state)
{
	g_autoptr(KiteAd) job = job_ad(1, 0, "alice", 512, NULL);
	g_autoptr(KiteAd) big = slot_ad("big", 4096, NULL);
	g_autoptr(KiteAd) small = slot_ad("small", 256, NULL);
	g_autoptr(KiteAd) picky = slot_ad("picky", 4096, "TARGET.Owner == \"bob\"");
	g_autoptr(KiteAd) owner_back = slot_ad("owner", 4096, "false");
	assert_true(kite_negotiator_match(job, big));
	assert_false(kite_negotiator_match(job, small));      /* the job's Requirements */
	assert_false(kite_negotiator_match(job, picky));      /* the slot's Start */
	assert_false(kite_negotiator_match(job, owner_back)); /* Start false */
	g_autoptr(KiteAd) bobs = job_ad(2, 0, "bob", 512, NULL);
	assert_true(kite_negotiator_match(bobs, picky));
	/* Undefined is not true: a slot without Memory does not match. */
	g_autoptr(KiteAd) nomem = kite_ad_new();
	kite_ad_set_string(nomem, "Arch", "X86_64");
	kite_ad_set_bool(nomem, "Start", TRUE);
	assert_false(kite_negotiator_match(job, nomem));
}

static void test_rank_and_single_use(void **state)
{
	g_autoptr(GPtrArray) slots = ads();
	g_ptr_array_add(slots, slot_ad("a", 1024, NULL));
	g_ptr_array_add(slots, slot_ad("b", 8192, NULL));
	g_ptr_array_add(slots, slot_ad("c", 4096, NULL));
	g_autoptr(GPtrArray) jobs = ads();
	for (int p = 0; p < 4; p++)
		g_ptr_array_add(jobs, job_ad(1, p, "alice", 512, "TARGET.Memory"));
	g_autoptr(GArray) m = kite_negotiate(jobs, slots, NULL, 1, 0, NULL);
	g_autofree char *got = describe(m, slots);
	/* Most memory first; three slots for four jobs; 1.3 waits. */
	assert_string_equal(got, "1.0->b 1.1->c 1.2->a");
	for (guint i = 0; i < m->len; i++)
		assert_int_equal(g_array_index(m, KiteMatch, i).job, i); /* index into jobs */
	assert_near(kite_negotiator_rank(jobs->pdata[0], slots->pdata[1]), 8192, 0);
	/* Without a Rank, ties go by slot name. */
	g_autoptr(GPtrArray) plain = ads();
	g_ptr_array_add(plain, job_ad(2, 0, "alice", 512, NULL));
	g_autoptr(GArray) m2 = kite_negotiate(plain, slots, NULL, 1, 0, NULL);
	g_autofree char *got2 = describe(m2, slots);
	assert_string_equal(got2, "2.0->a");
}

static void test_unmatchable_stays(void **state)
{
	g_autoptr(GPtrArray) slots = ads();
	g_ptr_array_add(slots, slot_ad("a", 1024, NULL));
	g_autoptr(GPtrArray) jobs = ads();
	g_ptr_array_add(jobs, job_ad(1, 0, "alice", 65536, NULL)); /* more memory than any slot */
	g_ptr_array_add(jobs, job_ad(2, 0, "alice", 100, NULL));
	KiteNegotiationStats st;
	g_autoptr(GArray) m = kite_negotiate(jobs, slots, NULL, 1, 0, &st);
	g_autofree char *got = describe(m, slots);
	assert_string_equal(got, "2.0->a");
	assert_int_equal(st.n_jobs, 2);
	assert_int_equal(st.n_matches, 1);
}

static void test_priority_within_user(void **state)
{
	g_autoptr(GPtrArray) slots = ads();
	g_ptr_array_add(slots, slot_ad("a", 1024, NULL));
	g_autoptr(GPtrArray) jobs = ads();
	g_ptr_array_add(jobs, job_ad(1, 0, "alice", 100, NULL));
	KiteAd *urgent = job_ad(2, 0, "alice", 100, NULL);
	kite_ad_set_int(urgent, "JobPrio", 10);
	g_ptr_array_add(jobs, urgent);
	g_autoptr(GArray) m = kite_negotiate(jobs, slots, NULL, 1, 0, NULL);
	g_autofree char *got = describe(m, slots);
	assert_string_equal(got, "2.0->a");
}

static void test_fair_share(void **state)
{
	g_autoptr(GPtrArray) slots = ads();
	for (int i = 0; i < 4; i++) {
		g_autofree char *name = g_strdup_printf("s%d", i);
		g_ptr_array_add(slots, slot_ad(name, 1024, NULL));
	}
	g_autoptr(GPtrArray) jobs = ads();
	/* alice submitted first and more, bob later. */
	for (int p = 0; p < 4; p++)
		g_ptr_array_add(jobs, job_ad(1, p, "alice", 100, NULL));
	for (int p = 0; p < 4; p++)
		g_ptr_array_add(jobs, job_ad(2, p, "bob", 100, NULL));
	g_autoptr(KiteUsage) usage = kite_usage_new(3600);
	/* With equal (no) usage, users take turns. */
	g_autoptr(GArray) m = kite_negotiate(jobs, slots, usage, 1, 1000, NULL);
	g_autofree char *got = describe(m, slots);
	assert_string_equal(got, "1.0->s0 2.0->s1 1.1->s2 2.1->s3");
	/* Each match was charged. */
	assert_near(kite_usage_get(usage, "alice", 1000), 2, 1e-9);

	/* alice has used the pool a lot lately: bob goes first. */
	g_autoptr(KiteUsage) u2 = kite_usage_new(3600);
	kite_usage_charge(u2, "alice", 7200, 1000);
	g_autoptr(GArray) m2 = kite_negotiate(jobs, slots, u2, 1, 1000, NULL);
	g_autofree char *got2 = describe(m2, slots);
	assert_string_equal(got2, "2.0->s0 2.1->s1 2.2->s2 2.3->s3");
}

static void test_usage_decays(void **state)
{
	g_autoptr(KiteUsage) u = kite_usage_new(100);
	assert_near(kite_usage_get(u, "nobody", 0), 0, 0);
	kite_usage_charge(u, "alice", 800, 0);
	assert_near(kite_usage_get(u, "alice", 100), 400, 1e-6);
	assert_near(kite_usage_get(u, "alice", 300), 100, 1e-6);
	kite_usage_charge(u, "alice", 100, 300);
	assert_near(kite_usage_get(u, "alice", 300), 200, 1e-6);
}

static void test_autoclusters(void **state)
{
	g_autoptr(GPtrArray) slots = ads();
	for (int i = 0; i < 10; i++) {
		g_autofree char *name = g_strdup_printf("s%02d", i);
		g_ptr_array_add(slots, slot_ad(name, i < 5 ? 512 : 4096, NULL));
	}
	g_autoptr(GPtrArray) jobs = ads();
	/* 100 procs of one cluster differ only in per-proc attributes. */
	for (int p = 0; p < 100; p++)
		g_ptr_array_add(jobs, job_ad(1, p, "alice", 1024, NULL));
	g_ptr_array_add(jobs, job_ad(2, 0, "alice", 100, NULL));
	KiteNegotiationStats st;
	g_autoptr(GArray) m = kite_negotiate(jobs, slots, NULL, 1, 0, &st);
	assert_int_equal(st.n_autoclusters, 2);
	/* Cluster 1's autocluster was evaluated against the 10 slots once
	 * (not 100 times), and cluster 2's against the 5 still free then:
	 * a slot taken in this cycle is not evaluated again. */
	assert_int_equal(st.n_evaluations, 15);
	/* Five big slots for cluster 1, the five small ones for job 2.0
	 * (one) — JobPrio equal, so ids decide the order. */
	assert_int_equal(m->len, 6);
	for (guint i = 0; i < m->len; i++) {
		const KiteMatch *x = &g_array_index(m, KiteMatch, i);
		if (x->id.cluster == 1)
			assert_true(x->slot >= 5);
	}

	/* A per-proc attribute that Start looks at splits the autocluster. */
	g_autoptr(GPtrArray) picky = ads();
	g_ptr_array_add(picky, slot_ad("odd", 4096, "TARGET.ProcId % 2 == 1"));
	KiteNegotiationStats st2;
	g_autoptr(GArray) m2 = kite_negotiate(jobs, picky, NULL, 1, 0, &st2);
	assert_int_equal(st2.n_autoclusters, 101);
	g_autofree char *got2 = describe(m2, picky);
	assert_string_equal(got2, "1.1->odd");
}

/* Claim reuse: each kept claim takes its owner's next job that suits
 * its slot — by JobPrio, then id — and no job goes to two claims. */
/* Why a job does not match: the job's Requirements and each slot's
 * Start, clause by clause, with how many slots each clause holds on. */
static void test_analyze(void **state)
{
	(void)state;
	g_autoptr(GPtrArray) slots = ads();
	g_ptr_array_add(slots, slot_ad("s1@a", 4096, "KeyboardIdle > 900 && TARGET.Owner != \"mallory\""));
	g_ptr_array_add(slots, slot_ad("s2@a", 4096, "KeyboardIdle > 900 && TARGET.Owner != \"mallory\""));
	g_ptr_array_add(slots, slot_ad("s1@b", 1024, "TARGET.RequestMemory < 512"));
	kite_ad_set_int(slots->pdata[0], "KeyboardIdle", 30);
	kite_ad_set_int(slots->pdata[1], "KeyboardIdle", 1200);
	g_autoptr(KiteAd) job = job_ad(1, 0, "mallory", 2048, NULL);
	g_autofree char *why = kite_negotiator_analyze(job, slots, 3);
	assert_string_equal(why, "no slot matches (3 slots); requirement `TARGET.Memory >= MY.RequestMemory` holds on 2"
				 "; the slot's Start accepts this job on 0"
				 "; Start clause `KeyboardIdle > 900` holds on 1 of 2 slots"
				 "; Start clause `TARGET.Owner != \"mallory\"` holds on 0 of 2 slots"
				 "; Start clause `TARGET.RequestMemory < 512` holds on 0 of 1 slot");
	/* a job some slot takes: counted, nothing explained */
	g_autoptr(KiteAd) small = job_ad(2, 0, "alice", 256, NULL);
	g_autofree char *ok = kite_negotiator_analyze(small, slots, 3);
	assert_string_equal(ok, "2 of 3 slots match; 3 of the slots are free now");
}

static void test_claims(void **state)
{
	g_autoptr(GPtrArray) slots = ads();
	g_ptr_array_add(slots, slot_ad("small", 512, NULL));
	g_ptr_array_add(slots, slot_ad("big", 4096, NULL));
	g_ptr_array_add(slots, slot_ad("bob's", 4096, NULL));
	g_ptr_array_add(slots, slot_ad("alice's too", 4096, NULL));
	const char *owners[] = {"alice", "alice", "bob", "alice"};
	g_autoptr(GPtrArray) jobs = ads();
	g_ptr_array_add(jobs, job_ad(1, 0, "alice", 1024, NULL)); /* too big for "small" */
	g_ptr_array_add(jobs, job_ad(1, 1, "alice", 1024, NULL));
	g_ptr_array_add(jobs, job_ad(2, 0, "alice", 100, NULL));
	g_ptr_array_add(jobs, job_ad(3, 0, "carol", 100, NULL)); /* nobody's claim */
	KiteAd *urgent = job_ad(4, 0, "alice", 1024, NULL);
	kite_ad_set_int(urgent, "JobPrio", 5);
	g_ptr_array_add(jobs, urgent);
	/* the groups, as the schedd's autocluster cache gives them */
	g_autoptr(GHashTable) refs = kite_autocluster_slot_refs(slots);
	g_autoptr(GHashTable) by_sig = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GArray) groups = g_array_new(FALSE, TRUE, sizeof(KiteJobGroup));
	for (guint i = 0; i < jobs->len; i++) {
		const KiteAd *ad = jobs->pdata[i];
		KiteGroupJob m = {.index = i};
		kite_ad_get_int(ad, "ClusterId", &m.id.cluster);
		kite_ad_get_int(ad, "ProcId", &m.id.proc);
		kite_ad_get_int(ad, "JobPrio", &m.prio);
		char *sig = kite_autocluster_signature(ad, refs);
		gpointer k;
		if (!g_hash_table_lookup_extended(by_sig, sig, NULL, &k)) {
			KiteJobGroup g = {.ad = ad, .jobs = g_array_new(FALSE, FALSE, sizeof(KiteGroupJob))};
			kite_ad_get_string(ad, "Owner", (char **)&g.owner);
			g_array_append_val(groups, g);
			k = GUINT_TO_POINTER(groups->len - 1);
			g_hash_table_insert(by_sig, g_strdup(sig), k);
		}
		g_free(sig);
		g_array_append_val(g_array_index(groups, KiteJobGroup, GPOINTER_TO_UINT(k)).jobs, m);
	}
	KiteNegotiationStats st;
	g_autoptr(GArray) m = kite_negotiate_claims((const KiteJobGroup *)groups->data, groups->len, slots, owners, &st);
	g_autofree char *got = describe(m, slots);
	/* "small" gets the only alice job that fits it; "big" the urgent
	 * one; bob has no job; "alice's too" the next in id order. */
	assert_string_equal(got, "2.0->small 4.0->big 1.0->alice's too");
	for (guint k = 0; k < groups->len; k++) {
		KiteJobGroup *g = &g_array_index(groups, KiteJobGroup, k);
		g_free((char *)g->owner);
		g_array_unref(g->jobs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_sided),	      cmocka_unit_test(test_rank_and_single_use),
	    cmocka_unit_test(test_unmatchable_stays), cmocka_unit_test(test_priority_within_user),
	    cmocka_unit_test(test_fair_share),	      cmocka_unit_test(test_usage_decays),
	    cmocka_unit_test(test_autoclusters),      cmocka_unit_test(test_claims),
	    cmocka_unit_test(test_analyze),
	};
	return cmocka_run_group_tests_name("negotiator", tests, NULL, NULL);
}
