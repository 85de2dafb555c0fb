/* test-accounting.c — fair-share usage and machines' runs kept in the
 * queue database (schedd/accounting.c): a round trip through a real
 * SQLite queue that is closed and opened again, usage decaying across
 * the time the schedd was down, only what changed written again, rows
 * that make no sense skipped, and `pool userprio`'s list in the
 * negotiator's order with each user's jobs.
 *
 * Each test runs on a fresh database in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>

#include "test-helpers.h"

#include <sqlite3.h>

#include "ad.h"
#include "schedd/accounting.h"

/* Older cmocka has no assert_near. */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

KITE_TEST_TMP_DIR_FIXTURE("kite-accounting-XXXXXX")

static const KiteQueueLimits roomy = {
    .max_per_submit = 100,
    .max_per_owner = 100,
    .max_total = 1000,
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

static void save(KiteQueue *q, KiteUsage *u, KiteMtbf *m)
{
	g_autoptr(GError) error = NULL;
	if (!kite_accounting_save(q, u, m, &error))
		fail_msg("save: %s", error->message);
}

static void load(KiteQueue *q, KiteUsage *u, KiteMtbf *m)
{
	g_autoptr(GError) error = NULL;
	if (!kite_accounting_load(q, u, m, &error))
		fail_msg("load: %s", error->message);
}

static void count_user(const char *user, double value, gint64 at, gpointer data)
{
	(*(guint *)data)++;
}

/* A schedd charges, saves, dies; another opens the same database later:
 * the usage is there, decayed by the whole time since it was charged. */
static void test_usage_round_trip(void **state)
{
	KiteQueue *q = open_queue();
	g_autoptr(KiteUsage) u = kite_usage_new(100);
	kite_usage_charge(u, "alice", 800, 1000);
	kite_usage_charge(u, "bob", 100, 1050);
	save(q, u, NULL);
	kite_queue_close(q);

	/* the new schedd starts at 1100: alice's 800 s are 100 s (one
	 * half-life) old, bob's 100 s half a half-life */
	q = open_queue();
	g_autoptr(KiteUsage) again = kite_usage_new(100);
	load(q, again, NULL);
	assert_near(kite_usage_get(again, "alice", 1100), 400, 1e-9);
	assert_near(kite_usage_get(again, "bob", 1100), 100 * pow(0.5, 0.5), 1e-9);
	assert_near(kite_usage_get(again, "alice", 1300), 100, 1e-9);
	assert_near(kite_usage_get(again, "nobody", 1100), 0, 0);
	/* what was loaded is not written again */
	guint n = 0;
	assert_int_equal(kite_usage_take_changed(again, count_user, &n), 0);
	/* a charge after the restart adds to the decayed value */
	kite_usage_charge(again, "alice", 50, 1100);
	assert_near(kite_usage_get(again, "alice", 1100), 450, 1e-9);
	save(q, again, NULL);
	kite_queue_close(q);

	q = open_queue();
	g_autoptr(KiteUsage) third = kite_usage_new(100);
	load(q, third, NULL);
	assert_near(kite_usage_get(third, "alice", 1200), 225, 1e-9);
	assert_near(kite_usage_get(third, "bob", 1150), 50, 1e-9);
	kite_queue_close(q);
}

/* Only the users charged since the last save are written. */
static void test_usage_changed_only(void **state)
{
	g_autoptr(KiteUsage) u = kite_usage_new(3600);
	guint n = 0;
	kite_usage_charge(u, "alice", 1, 10);
	kite_usage_charge(u, "bob", 1, 10);
	assert_int_equal(kite_usage_take_changed(u, count_user, &n), 2);
	assert_int_equal(n, 2);
	assert_int_equal(kite_usage_take_changed(u, count_user, &n), 0);
	kite_usage_charge(u, "bob", 1, 20);
	assert_int_equal(kite_usage_take_changed(u, count_user, &n), 1);
	assert_int_equal(n, 3);
}

/* Each row is the whole record: a save that was lost (its transaction
 * never committed) is made good by the next save of the same user. */
static void test_usage_rows_are_whole(void **state)
{
	KiteQueue *q = open_queue();
	g_autoptr(KiteUsage) u = kite_usage_new(1e9);
	kite_usage_charge(u, "alice", 10, 100);
	save(q, u, NULL);
	kite_usage_charge(u, "alice", 20, 110);
	guint n = 0;
	kite_usage_take_changed(u, count_user, &n); /* as if its commit failed */
	kite_usage_charge(u, "alice", 30, 120);
	save(q, u, NULL);
	kite_queue_close(q);
	q = open_queue();
	g_autoptr(KiteUsage) again = kite_usage_new(1e9);
	load(q, again, NULL);
	assert_near(kite_usage_get(again, "alice", 120), 60, 1e-6);
	kite_queue_close(q);
}

/* A machine's runs and evictions survive, under its case-folded name. */
static void test_mtbf_round_trip(void **state)
{
	KiteQueue *q = open_queue();
	KiteMtbf *m = kite_mtbf_new(3600);
	kite_mtbf_note_run(m, "ws1", 1000, FALSE);
	kite_mtbf_note_run(m, "WS1", 400, TRUE);
	kite_mtbf_note_run(m, "ws2", 200, FALSE);
	save(q, NULL, m);
	assert_near(kite_mtbf_get(m, "ws1"), (1400 + 3600) / 2.0, 1e-9);
	kite_mtbf_free(m);
	kite_queue_close(q);

	q = open_queue();
	m = kite_mtbf_new(3600);
	load(q, NULL, m);
	assert_near(kite_mtbf_get(m, "Ws1"), (1400 + 3600) / 2.0, 1e-9);
	assert_near(kite_mtbf_get(m, "ws2"), 200 + 3600, 1e-9);
	assert_near(kite_mtbf_get(m, "ws3"), 3600, 1e-9);
	/* the next eviction counts on top of those before the restart */
	kite_mtbf_note_run(m, "ws1", 600, TRUE);
	save(q, NULL, m);
	kite_mtbf_free(m);
	kite_queue_close(q);

	q = open_queue();
	m = kite_mtbf_new(3600);
	load(q, NULL, m);
	assert_near(kite_mtbf_get(m, "ws1"), (2000 + 3600) / 3.0, 1e-9);
	kite_mtbf_free(m);
	kite_queue_close(q);
}

/* Rows that cannot be a record (edited by hand, or from a bug) are
 * skipped; the others load. */
static void test_bad_rows_skipped(void **state)
{
	KiteQueue *q = open_queue();
	kite_queue_close(q);
	g_autofree char *path = tmp_path("queue.db");
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "INSERT INTO usage VALUES('alice', -5, 100), ('bob', 7, 100);"
			 "INSERT INTO machine_runs VALUES('ws1', -1, 0), ('ws2', 100, -3), ('ws3', 100, 1);",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	q = open_queue();
	g_autoptr(KiteUsage) u = kite_usage_new(1e9);
	KiteMtbf *m = kite_mtbf_new(3600);
	load(q, u, m);
	assert_near(kite_usage_get(u, "alice", 100), 0, 0);
	assert_near(kite_usage_get(u, "bob", 100), 7, 1e-9);
	assert_near(kite_mtbf_get(m, "ws1"), 3600, 0);
	assert_near(kite_mtbf_get(m, "ws2"), 3600, 0);
	assert_near(kite_mtbf_get(m, "ws3"), 3700 / 2.0, 1e-9);
	kite_mtbf_free(m);
	kite_queue_close(q);
}

static void submit(KiteQueue *q, const char *owner, guint count, gint64 *out_cluster)
{
	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_string(ad, "Cmd", "/bin/true");
	g_autoptr(GError) error = NULL;
	if (!kite_queue_submit(q, ad, count, owner, out_cluster, &error))
		fail_msg("submit: %s", error->message);
}

/* `pool userprio`: users with usage and users with jobs, least usage
 * first, equal usage by name, each with their jobs by status. */
static void test_userprio(void **state)
{
	KiteQueue *q = open_queue();
	g_autoptr(KiteUsage) u = kite_usage_new(100);
	kite_usage_charge(u, "alice", 800, 1000);
	kite_usage_charge(u, "bob", 300, 1000);
	kite_usage_charge(u, "dave", 300, 1000);
	gint64 c_carol, c_alice, c_bob;
	submit(q, "carol", 3, &c_carol);
	submit(q, "alice", 2, &c_alice);
	submit(q, "bob", 1, &c_bob);
	KiteJobId held = {c_carol, 2};
	g_autoptr(GArray) results = NULL;
	g_autoptr(GError) error = NULL;
	assert_true(kite_queue_act(q, KITE_ACTION_HOLD, &held, 1, "carol", FALSE, NULL, &results, &error));
	KiteJobId running = {c_alice, 0};
	assert_true(kite_queue_set_running(q, &running, "slot1@ws1"));

	g_autoptr(GArray) rows = kite_accounting_userprio(q, u, 1100, &error);
	assert_non_null(rows);
	g_autoptr(GString) got = g_string_new(NULL);
	for (guint i = 0; i < rows->len; i++) {
		const KiteUserprio *r = &g_array_index(rows, KiteUserprio, i);
		g_string_append_printf(got,
				       "%s %.0f %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT
				       " %" G_GINT64_FORMAT "\n",
				       r->owner, r->usage, r->last, r->running, r->idle, r->held);
	}
	assert_string_equal(got->str, "carol 0 0 0 2 1\n"
				      "bob 150 1000 0 1 0\n"
				      "dave 150 1000 0 0 0\n"
				      "alice 400 1000 1 1 0\n");
	kite_queue_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_usage_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage_changed_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage_rows_are_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mtbf_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_rows_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_userprio, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
