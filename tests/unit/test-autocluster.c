/* test-autocluster.c — autoclusters (schedd/autocluster.c) over a real
 * SQLite queue: which attributes are significant (Requirements, Rank,
 * what they and the slots' Start mention, transitively; the owner);
 * the cache between cycles — a submitted job joins its group, an
 * edited job leaves it, a held job leaves, a released or requeued one
 * comes back, only changed jobs are regrouped, and a new Start
 * regroups everyone; and that a cycle over groups gives exactly the
 * matches of plain per-job matching on generated pools. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include <glib/gstdio.h>

#include "ad.h"
#include "schedd/autocluster.h"
#include "schedd/negotiator.h"
#include "schedd/queue.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-autocluster-XXXXXX")

static const KiteQueueLimits roomy = {
    .max_per_submit = 10000,
    .max_per_owner = 10000,
    .max_total = 100000,
    .max_attribute_size = 4096,
};

static KiteQueue *open_queue(void)
{
	g_autofree char *path = tmp_path("queue.db");
	g_autoptr(GError) error = NULL;
	KiteQueue *q = kite_queue_open(path, &roomy, &error);
	if (!q)
		fail_msg("open: %s", error->message);
	return q;
}

static KiteAd *slot_ad(const char *name, gint64 memory, const char *start)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "Name", name);
	kite_ad_set_int(ad, "Memory", memory);
	kite_ad_set_int(ad, "Mips", 1000 + memory % 7);
	kite_ad_set_string(ad, "Arch", "X86_64");
	assert_true(kite_ad_set_parsed(ad, "Start", start ? start : "KeyboardIdle > 60", NULL));
	kite_ad_set_int(ad, "KeyboardIdle", 600);
	return ad;
}

static GPtrArray *ads(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
}

/* Submit @count procs needing @memory MiB for @owner; per-proc Out and
 * Arguments differ, which must not split them. */
static gint64 submit(KiteQueue *q, const char *owner, guint count, gint64 memory, const char *rank)
{
	g_autoptr(KiteAd) t = kite_ad_new();
	kite_ad_set_string(t, "Cmd", "/bin/true");
	kite_ad_set_string(t, "Out", "out.$(Process)");
	kite_ad_set_string(t, "Arguments", "run $(Process)");
	kite_ad_set_int(t, "RequestMemory", memory);
	assert_true(kite_ad_set_parsed(
	    t, "Requirements", "TARGET.Arch == \"X86_64\" && TARGET.Memory >= MY.RequestMemory", NULL));
	if (rank)
		assert_true(kite_ad_set_parsed(t, "Rank", rank, NULL));
	g_autoptr(GError) error = NULL;
	gint64 cluster;
	if (!kite_queue_submit(q, t, count, owner, &cluster, &error))
		fail_msg("submit: %s", error->message);
	return cluster;
}

/* "C.P C.P | C.P …": the groups' members, groups in their order. */
static char *describe(GArray *groups)
{
	GString *s = g_string_new(NULL);
	for (guint k = 0; k < groups->len; k++) {
		const KiteJobGroup *g = &g_array_index(groups, KiteJobGroup, k);
		if (k)
			g_string_append(s, " | ");
		for (guint i = 0; i < g->jobs->len; i++) {
			const KiteGroupJob *j = &g_array_index(g->jobs, KiteGroupJob, i);
			g_string_append_printf(s, "%s%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, i ? " " : "",
					       j->id.cluster, j->id.proc);
		}
	}
	return g_string_free(s, FALSE);
}

static void refresh(KiteAutoclusters *ac, KiteQueue *q, GPtrArray *slots, const char *expect_groups,
		    guint expect_recomputed)
{
	GArray *groups = NULL;
	KiteAutoclusterStats st;
	g_autoptr(GError) error = NULL;
	if (!kite_autoclusters_refresh(ac, q, slots, &groups, &st, &error))
		fail_msg("refresh: %s", error->message);
	g_autofree char *got = describe(groups);
	assert_string_equal(got, expect_groups);
	assert_int_equal(st.n_groups, groups->len);
	assert_int_equal(st.n_recomputed, expect_recomputed);
}

static void act(KiteQueue *q, KiteJobAction action, gint64 cluster, gint64 proc)
{
	KiteJobId id = {cluster, proc};
	g_autoptr(GArray) results = NULL;
	g_autoptr(GError) error = NULL;
	assert_true(kite_queue_act(q, action, &id, 1, "alice", FALSE, "test", &results, &error));
	assert_true(g_array_index(results, KiteActResult, 0).ok);
	g_array_set_clear_func(results, (GDestroyNotify)kite_act_result_clear);
}

static void edit(KiteQueue *q, gint64 cluster, gint64 proc, const char *attr, const char *value)
{
	KiteJobId id = {cluster, proc};
	g_autoptr(GArray) results = NULL;
	g_autoptr(GError) error = NULL;
	assert_true(kite_queue_edit(q, &id, 1, attr, value, "alice", FALSE, &results, &error));
	assert_true(g_array_index(results, KiteActResult, 0).ok);
	g_array_set_clear_func(results, (GDestroyNotify)kite_act_result_clear);
}

static void test_significant_attributes(void **state)
{
	g_autoptr(GPtrArray) slots = ads();
	g_ptr_array_add(slots, slot_ad("s1", 1024, "KeyboardIdle > StartIdle && TARGET.ImageSize < 100"));
	assert_true(kite_ad_set_parsed(slots->pdata[0], "StartIdle", "MY.Memory / 10", NULL));
	g_autoptr(GHashTable) refs = kite_autocluster_slot_refs(slots);
	/* Start, what it mentions, and what StartIdle mentions in turn. */
	assert_true(g_hash_table_contains(refs, "keyboardidle"));
	assert_true(g_hash_table_contains(refs, "startidle"));
	assert_true(g_hash_table_contains(refs, "imagesize"));
	assert_true(g_hash_table_contains(refs, "memory"));
	assert_false(g_hash_table_contains(refs, "mips"));

	g_autoptr(KiteAd) job = kite_ad_new();
	kite_ad_set_string(job, "Owner", "alice");
	kite_ad_set_int(job, "ProcId", 3);
	kite_ad_set_string(job, "Out", "out.3");
	kite_ad_set_int(job, "ImageSize", 10);
	kite_ad_set_int(job, "Factor", 2);
	kite_ad_set_parsed(job, "RequestMemory", "100 * Factor", NULL);
	kite_ad_set_parsed(job, "Requirements", "TARGET.Memory >= MY.RequestMemory", NULL);
	g_autofree char *sig = kite_autocluster_signature(job, refs);
	/* Factor counts through RequestMemory; ProcId and Out do not. */
	assert_string_equal(sig, "owner=alice\n"
				 "factor=2\n"
				 "imagesize=10\n"
				 "requestmemory=100 * Factor\n"
				 "requirements=TARGET.Memory >= MY.RequestMemory\n");
}

static void test_cache_follows_the_queue(void **state)
{
	g_autoptr(KiteQueue) q = open_queue();
	g_autoptr(KiteAutoclusters) ac = kite_autoclusters_new();
	g_autoptr(GPtrArray) slots = ads();
	g_ptr_array_add(slots, slot_ad("s1", 4096, NULL));

	submit(q, "alice", 4, 512, NULL); /* cluster 1 */
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3", 4);
	/* Nothing changed: nothing is regrouped. */
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3", 0);

	/* A submitted job with the same matching attributes joins. */
	submit(q, "alice", 1, 512, NULL); /* cluster 2 */
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3 2.0", 1);

	/* An edit that changes what it matches takes a job out… */
	edit(q, 1, 2, "RequestMemory", "2048");
	refresh(ac, q, slots, "1.0 1.1 1.3 2.0 | 1.2", 1);
	/* …an edit of an attribute nobody looks at leaves it in place. */
	edit(q, 1, 1, "Comment", "\"still the same\"");
	refresh(ac, q, slots, "1.0 1.1 1.3 2.0 | 1.2", 1);
	/* …and editing it back brings it home. */
	edit(q, 1, 2, "RequestMemory", "512");
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3 2.0", 1);

	/* A held job leaves; released, it is back (its row changed). */
	act(q, KITE_ACTION_HOLD, 1, 0);
	refresh(ac, q, slots, "1.1 1.2 1.3 2.0", 0);
	act(q, KITE_ACTION_RELEASE, 1, 0);
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3 2.0", 1);

	/* A running job leaves, and a requeued one comes back. */
	KiteJobId id = {1, 3};
	assert_true(kite_queue_set_running(q, &id, "slot1@ws"));
	refresh(ac, q, slots, "1.0 1.1 1.2 2.0", 0);
	assert_true(kite_queue_set_idle(q, &id, 5, "lost", FALSE));
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3 2.0", 1);
	assert_int_equal(kite_autoclusters_group_of(ac, &id), 0);

	/* A removed job leaves for good. */
	act(q, KITE_ACTION_REMOVE, 2, 0);
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3", 0);
	KiteJobId gone = {2, 0};
	assert_int_equal(kite_autoclusters_group_of(ac, &gone), -1);

	/* Another owner is another group (fair share orders owners). */
	submit(q, "bob", 2, 512, NULL); /* cluster 3 */
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3 | 3.0 3.1", 2);

	/* A slot whose Start looks at ProcId makes every proc its own
	 * group, and everything is regrouped at once. */
	g_ptr_array_add(slots, slot_ad("s2", 4096, "TARGET.ProcId < 2"));
	refresh(ac, q, slots, "1.0 | 1.1 | 1.2 | 1.3 | 3.0 | 3.1", 6);
	g_ptr_array_remove_index(slots, 1);
	refresh(ac, q, slots, "1.0 1.1 1.2 1.3 | 3.0 3.1", 6);
}

/* ---- a cycle gives what per-job matching gives ---- */

typedef struct {
	KiteJobId id;
	char *owner;
	gint64 prio;
	const KiteAd *ad;
} RefJob;

static gint compare_ref_jobs(gconstpointer a, gconstpointer b)
{
	const RefJob *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	if (x->id.cluster != y->id.cluster)
		return x->id.cluster < y->id.cluster ? -1 : 1;
	return x->id.proc < y->id.proc ? -1 : x->id.proc > y->id.proc;
}

/* The plain algorithm, job by job, no groups: users take turns by
 * usage (ties by name), each user's jobs by JobPrio then id, each job
 * takes its best free matching slot by Rank, then name. */
static char *per_job(GPtrArray *jobs, GPtrArray *slots)
{
	g_autoptr(GHashTable) by_owner =
	    g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
	for (guint i = 0; i < jobs->len; i++) {
		RefJob j = {.ad = jobs->pdata[i]};
		kite_ad_get_int(j.ad, "ClusterId", &j.id.cluster);
		kite_ad_get_int(j.ad, "ProcId", &j.id.proc);
		kite_ad_get_int(j.ad, "JobPrio", &j.prio);
		kite_ad_get_string(j.ad, "Owner", &j.owner);
		GArray *a = g_hash_table_lookup(by_owner, j.owner);
		if (!a) {
			a = g_array_new(FALSE, FALSE, sizeof(RefJob));
			g_hash_table_insert(by_owner, j.owner, a);
		}
		g_array_append_val(a, j);
	}
	g_autoptr(GPtrArray) owners = g_ptr_array_new();
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, by_owner);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		g_array_sort(value, compare_ref_jobs);
		g_ptr_array_add(owners, key);
	}
	g_autofree double *usage = g_new0(double, owners->len + 1);
	g_autofree guint *next = g_new0(guint, owners->len + 1);
	g_autofree gboolean *taken = g_new0(gboolean, slots->len + 1);
	GString *s = g_string_new(NULL);
	for (;;) {
		gint best = -1;
		for (guint o = 0; o < owners->len; o++) {
			GArray *a = g_hash_table_lookup(by_owner, owners->pdata[o]);
			if (next[o] >= a->len)
				continue;
			if (best < 0 || usage[o] < usage[best] ||
			    (usage[o] == usage[best] && strcmp(owners->pdata[o], owners->pdata[best]) < 0))
				best = o;
		}
		if (best < 0)
			break;
		GArray *a = g_hash_table_lookup(by_owner, owners->pdata[best]);
		RefJob *j = &g_array_index(a, RefJob, next[best]++);
		gint pick = -1;
		double pick_rank = 0;
		g_autofree char *pick_name = NULL;
		for (guint i = 0; i < slots->len; i++) {
			if (taken[i] || !kite_negotiator_match(j->ad, slots->pdata[i]))
				continue;
			double r = kite_negotiator_rank(j->ad, slots->pdata[i]);
			g_autofree char *name = NULL;
			kite_ad_get_string(slots->pdata[i], "Name", &name);
			if (pick < 0 || r > pick_rank || (r == pick_rank && strcmp(name, pick_name) < 0)) {
				pick = i;
				pick_rank = r;
				g_free(pick_name);
				pick_name = g_steal_pointer(&name);
			}
		}
		if (pick < 0)
			continue;
		taken[pick] = TRUE;
		usage[best] += 1;
		g_string_append_printf(s, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "->%s ", j->id.cluster,
				       j->id.proc, pick_name);
	}
	for (guint i = 0; i < owners->len; i++) {
		GArray *a = g_hash_table_lookup(by_owner, owners->pdata[i]);
		for (guint k = 0; k < a->len; k++)
			g_free(g_array_index(a, RefJob, k).owner);
	}
	return g_string_free(s, FALSE);
}

static void collect(const KiteJobRow *row, gpointer data)
{
	g_ptr_array_add(data, kite_ad_copy(row->ad));
}

static void test_same_matches_as_per_job(void **state)
{
	static const char *const ranks[] = {NULL, "TARGET.Memory", "TARGET.Mips", "-TARGET.Memory"};
	static const char *const starts[] = {NULL, "TARGET.RequestMemory <= 2048",
					     "TARGET.Owner != \"carol\"",
					     "KeyboardIdle > 60 && TARGET.ProcId % 3 != 1"};
	static const char *const owners[] = {"alice", "bob", "carol"};
	guint total_groups = 0, total_jobs = 0;
	for (guint seed = 1; seed <= 6; seed++) {
		g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
		g_autofree char *dir = g_strdup_printf("run%u", seed);
		g_autofree char *sub = tmp_path(dir);
		g_mkdir(sub, 0700);
		g_autofree char *path = g_build_filename(sub, "queue.db", NULL);
		g_autoptr(KiteQueue) q = kite_queue_open(path, &roomy, NULL);
		assert_non_null(q);
		for (int c = 0; c < 12; c++) {
			gint64 cluster =
			    submit(q, owners[g_rand_int_range(rand, 0, 3)], g_rand_int_range(rand, 1, 15),
				   128 << g_rand_int_range(rand, 0, 6), ranks[g_rand_int_range(rand, 0, 4)]);
			if (g_rand_boolean(rand)) {
				KiteJobId id = {cluster, 0};
				g_autoptr(GArray) results = NULL;
				assert_true(
				    kite_queue_edit(q, &id, 1, "JobPrio", "5", "root", TRUE, &results, NULL));
				g_array_set_clear_func(results, (GDestroyNotify)kite_act_result_clear);
			}
		}
		g_autoptr(GPtrArray) slots = ads();
		guint n_slots = g_rand_int_range(rand, 5, 60);
		for (guint i = 0; i < n_slots; i++) {
			g_autofree char *name = g_strdup_printf("slot%u@ws%02u", i % 4 + 1, i / 4);
			g_ptr_array_add(slots, slot_ad(name, 256 << g_rand_int_range(rand, 0, 5),
						       starts[g_rand_int_range(rand, 0, seed == 6 ? 4 : 3)]));
		}
		/* (Only the last pool has slots whose Start looks at ProcId,
		 * which puts every proc in a group of its own.) */

		/* The plain way, from every job's full ad. */
		g_autoptr(GPtrArray) jobs = ads();
		KiteQueueFilter f = {.status = KITE_JOB_IDLE, .full_ad = TRUE};
		assert_true(kite_queue_query(q, &f, collect, jobs, NULL));
		g_autofree char *want = per_job(jobs, slots);

		/* The schedd's way, from the cache (refreshed twice, so the
		 * second cycle runs on cached groups). */
		g_autoptr(KiteAutoclusters) ac = kite_autoclusters_new();
		GArray *groups = NULL;
		KiteAutoclusterStats st;
		assert_true(kite_autoclusters_refresh(ac, q, slots, &groups, &st, NULL));
		assert_true(kite_autoclusters_refresh(ac, q, slots, &groups, &st, NULL));
		assert_int_equal(st.n_recomputed, 0);
		assert_true(st.n_groups <= jobs->len);
		total_groups += st.n_groups;
		total_jobs += jobs->len;
		g_autoptr(KiteUsage) usage = kite_usage_new(3600);
		g_autoptr(GArray) m = kite_negotiate_groups((const KiteJobGroup *)groups->data, groups->len,
							    slots, usage, 1, 0, NULL);
		GString *got = g_string_new(NULL);
		for (guint i = 0; i < m->len; i++) {
			const KiteMatch *x = &g_array_index(m, KiteMatch, i);
			g_autofree char *name = NULL;
			kite_ad_get_string(slots->pdata[x->slot], "Name", &name);
			g_string_append_printf(got, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "->%s ",
					       x->id.cluster, x->id.proc, name);
		}
		g_autofree char *got_text = g_string_free(got, FALSE);
		assert_string_equal(got_text, want);
		assert_true(strlen(want) > 0);
	}
	/* Grouping did save work overall. */
	assert_true(total_groups * 2 < total_jobs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_significant_attributes),
	    cmocka_unit_test_setup_teardown(test_cache_follows_the_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_matches_as_per_job, setup, teardown),
	};
	return cmocka_run_group_tests_name("autocluster", tests, NULL, NULL);
}
