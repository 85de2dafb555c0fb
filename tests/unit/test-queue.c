/* test-queue.c — the SQLite job queue (schedd/queue.c): submission of
 * clusters of procs with per-proc $(Process) expansion, every query
 * filter, hold / release / remove / edit with their permission checks
 * and messages, the limits (a refusal leaves nothing behind), history
 * and its purge, and that all of it is still there after the database
 * is closed and opened again.
 *
 * Each test runs on a fresh database in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "ad.h"
#include "expr.h"
#include "job.h"
#include "schedd/queue.h"
#include "util.h"

typedef struct {
	char *dir;
	char *path;
	KiteQueue *q;
} Fixture;

static const KiteQueueLimits roomy = {
    .max_per_submit = 1000,
    .max_per_owner = 1000,
    .max_total = 10000,
    .max_attribute_size = 4096,
};

static int setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);
	f->dir = g_dir_make_tmp("kite-queue-XXXXXX", NULL);
	assert_non_null(f->dir);
	f->path = g_build_filename(f->dir, "queue.db", NULL);
	g_autoptr(GError) error = NULL;
	f->q = kite_queue_open(f->path, &roomy, &error);
	if (!f->q)
		fail_msg("open: %s", error->message);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;
	kite_queue_close(f->q);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	g_free(f->dir);
	g_free(f->path);
	g_free(f);
	return 0;
}

/* ---- building jobs ------------------------------------------------------- */

/* A job as `submit` would send it: strings with $(Process) and
 * $(Cluster), numbers, an expression. */
static KiteAd *job_ad(void)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "Cmd", "/usr/bin/sim");
	kite_ad_set_string(ad, "Arguments", "--seed $(Process) in.$(Process)");
	kite_ad_set_string(ad, "Out", "out.$(Cluster).$(Process)");
	kite_ad_set_string(ad, "Iwd", "/home/alice/run");
	kite_ad_set_string(ad, "Note", "price $$5");
	kite_ad_set_int(ad, "RequestMemory", 128);
	kite_ad_set_int(ad, "JobPrio", 3);
	assert_true(kite_ad_set_parsed(ad, "Requirements", "TARGET.Memory >= MY.RequestMemory", NULL));
	return ad;
}

/* A job with nothing per proc. */
static KiteAd *plain_ad(void)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "Cmd", "/bin/echo");
	kite_ad_set_string(ad, "Arguments", "hello world");
	return ad;
}

static gint64 submit_ok(KiteQueue *q, const KiteAd *ad, guint count, const char *owner)
{
	gint64 cluster = -1;
	g_autoptr(GError) error = NULL;
	if (!kite_queue_submit(q, ad, count, owner, &cluster, &error))
		fail_msg("submit %u for %s: %s", count, owner, error->message);
	assert_true(cluster > 0);
	return cluster;
}

/* ---- reading the queue ----------------------------------------------------- */

/* A copy of a KiteJobRow that outlives the callback. */
typedef struct {
	gint64 cluster, proc, qdate, run_time, image_size, last_ckpt, entered;
	int status, prio, num_ckpts;
	char *owner, *host, *cmd, *hold_reason;
	KiteAd *ad;
} Row;

static void row_free(gpointer p)
{
	Row *r = p;
	g_free(r->owner);
	g_free(r->host);
	g_free(r->cmd);
	g_free(r->hold_reason);
	kite_ad_free(r->ad);
	g_free(r);
}

static void collect(const KiteJobRow *row, gpointer user_data)
{
	Row *r = g_new0(Row, 1);
	r->cluster = row->cluster;
	r->proc = row->proc;
	r->qdate = row->qdate;
	r->run_time = row->run_time;
	r->image_size = row->image_size;
	r->last_ckpt = row->last_ckpt;
	r->entered = row->entered_status;
	r->status = row->status;
	r->prio = row->prio;
	r->num_ckpts = row->num_ckpts;
	r->owner = g_strdup(row->owner);
	r->host = g_strdup(row->host);
	r->cmd = g_strdup(row->cmd);
	r->hold_reason = g_strdup(row->hold_reason);
	r->ad = row->ad ? kite_ad_copy(row->ad) : NULL;
	g_ptr_array_add(user_data, r);
}

static GPtrArray *query(KiteQueue *q, const KiteQueueFilter *filter)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
	g_autoptr(GError) error = NULL;
	if (!kite_queue_query(q, filter, collect, rows, &error))
		fail_msg("query: %s", error->message);
	return rows;
}

static GPtrArray *query_all(KiteQueue *q, gboolean history)
{
	KiteQueueFilter f = {.history = history, .full_ad = TRUE};
	return query(q, &f);
}

static guint count_jobs(KiteQueue *q, gboolean history)
{
	g_autoptr(GPtrArray) rows = query_all(q, history);
	return rows->len;
}

static Row *row_at(GPtrArray *rows, guint i)
{
	assert_true(i < rows->len);
	return g_ptr_array_index(rows, i);
}

/* The rows' ids as "1.0 1.1 2.0". */
static char *ids_of(GPtrArray *rows)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < rows->len; i++) {
		Row *r = row_at(rows, i);
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, i ? " " : "",
				       r->cluster, r->proc);
	}
	return g_string_free(s, FALSE);
}

static void assert_query_ids(KiteQueue *q, const KiteQueueFilter *filter, const char *want)
{
	g_autoptr(GPtrArray) rows = query(q, filter);
	g_autofree char *got = ids_of(rows);
	assert_string_equal(got, want);
}

/* One job's row (NULL if absent), with its full ad. */
static Row *get_job(KiteQueue *q, gint64 cluster, gint64 proc, gboolean history)
{
	KiteJobId id = {cluster, proc};
	KiteQueueFilter f = {.ids = &id, .n_ids = 1, .history = history, .full_ad = TRUE};
	g_autoptr(GPtrArray) rows = query(q, &f);
	assert_true(rows->len <= 1);
	return rows->len ? g_ptr_array_steal_index(rows, 0) : NULL;
}

static void assert_ad_string(const KiteAd *ad, const char *name, const char *want)
{
	assert_non_null(ad);
	g_autofree char *v = NULL;
	if (!kite_ad_get_string(ad, name, &v))
		fail_msg("%s is not a string attribute of the ad", name);
	assert_string_equal(v, want);
}

static void assert_ad_int(const KiteAd *ad, const char *name, gint64 want)
{
	assert_non_null(ad);
	gint64 v = G_MININT64;
	if (!kite_ad_get_int(ad, name, &v))
		fail_msg("%s is not an integer attribute of the ad", name);
	assert_int_equal(v, want);
}

static void assert_ad_expr(const KiteAd *ad, const char *name, const char *want)
{
	KiteExpr *e = kite_ad_lookup(ad, name);
	if (!e)
		fail_msg("%s is not in the ad", name);
	g_autofree char *text = kite_expr_to_string(e);
	assert_string_equal(text, want);
}

/* Everything in the queue and history as text, to compare snapshots. */
static char *dump(KiteQueue *q)
{
	GString *s = g_string_new(NULL);
	for (int h = 0; h < 2; h++) {
		g_autoptr(GPtrArray) rows = query_all(q, h);
		for (guint i = 0; i < rows->len; i++) {
			Row *r = row_at(rows, i);
			g_autofree char *ad = kite_ad_to_text(r->ad);
			g_string_append_printf(
			    s,
			    "%s %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " %s q=%" G_GINT64_FORMAT
			    " st=%d pri=%d e=%" G_GINT64_FORMAT " cmd=%s hold=%s\n%s",
			    h ? "history" : "queue", r->cluster, r->proc, r->owner, r->qdate, r->status,
			    r->prio, r->entered, r->cmd, r->hold_reason, ad);
		}
	}
	return g_string_free(s, FALSE);
}

/* ---- actions --------------------------------------------------------------- */

static GArray *act(KiteQueue *q, KiteJobAction action, const KiteJobId *ids, guint n, const char *who,
		   gboolean admin, const char *reason)
{
	GArray *results = NULL;
	g_autoptr(GError) error = NULL;
	if (!kite_queue_act(q, action, ids, n, who, admin, reason, &results, &error))
		fail_msg("act: %s", error->message);
	assert_non_null(results);
	return results;
}

static GArray *act1(KiteQueue *q, KiteJobAction action, gint64 cluster, gint64 proc, const char *who,
		    gboolean admin, const char *reason)
{
	KiteJobId id = {cluster, proc};
	return act(q, action, &id, 1, who, admin, reason);
}

static GArray *edit1(KiteQueue *q, gint64 cluster, gint64 proc, const char *attr, const char *text,
		     const char *who, gboolean admin)
{
	KiteJobId id = {cluster, proc};
	GArray *results = NULL;
	g_autoptr(GError) error = NULL;
	if (!kite_queue_edit(q, &id, 1, attr, text, who, admin, &results, &error))
		fail_msg("edit %s = %s: %s", attr, text, error->message);
	return results;
}

/* The result for job CLUSTER.PROC (there must be exactly one). */
static const KiteActResult *result_for(GArray *results, gint64 cluster, gint64 proc)
{
	const KiteActResult *found = NULL;
	for (guint i = 0; i < results->len; i++) {
		const KiteActResult *r = &g_array_index(results, KiteActResult, i);
		if (r->id.cluster == cluster && r->id.proc == proc) {
			if (found)
				fail_msg("two results for %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, cluster,
					 proc);
			found = r;
		}
	}
	if (!found)
		fail_msg("no result for %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, cluster, proc);
	return found;
}

static void assert_result(GArray *results, gint64 cluster, gint64 proc, gboolean ok, const char *message)
{
	const KiteActResult *r = result_for(results, cluster, proc);
	assert_string_equal(r->message, message);
	assert_int_equal(r->ok, ok);
}

/* The only result of a one-job action. */
static void assert_single(GArray *results, gboolean ok, const char *message)
{
	assert_int_equal(results->len, 1);
	const KiteActResult *r = &g_array_index(results, KiteActResult, 0);
	assert_string_equal(r->message, message);
	assert_int_equal(r->ok, ok);
}

static gint64 status_of(KiteQueue *q, gint64 cluster, gint64 proc)
{
	Row *r = get_job(q, cluster, proc, FALSE);
	assert_non_null(r);
	gint64 s = r->status;
	row_free(r);
	return s;
}

/* ---- opening ---------------------------------------------------------------- */

static void test_open(void **state)
{
	Fixture *f = *state;
	/* An empty queue. */
	assert_int_equal(count_jobs(f->q, FALSE), 0);
	assert_int_equal(count_jobs(f->q, TRUE), 0);
	gint64 counts[8];
	memset(counts, 0xff, sizeof counts);
	kite_queue_counts(f->q, counts);
	for (int i = 0; i < 8; i++)
		assert_int_equal(counts[i], 0);

	/* In WAL mode, as the design requires. */
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Errors name the file. */
	g_autofree char *bad = g_build_filename(f->dir, "no", "such", "queue.db", NULL);
	g_autoptr(GError) error = NULL;
	assert_null(kite_queue_open(bad, &roomy, &error));
	g_autofree char *want = g_strdup_printf("queue database %s: open: unable to open database file", bad);
	assert_kite_error(error, KITE_ERROR_IO, want);
	g_clear_error(&error);

	g_autofree char *junk = g_build_filename(f->dir, "junk.db", NULL);
	g_autofree char *text = g_strnfill(8192, 'j');
	assert_true(g_file_set_contents(junk, text, -1, NULL));
	assert_null(kite_queue_open(junk, &roomy, &error));
	assert_int_equal(error->code, KITE_ERROR_IO);
	g_autofree char *prefix = g_strdup_printf("queue database %s: ", junk);
	assert_true(g_str_has_prefix(error->message, prefix));
	assert_non_null(strstr(error->message, "file is not a database"));
}

/* ---- submit ----------------------------------------------------------------- */

static void test_submit_clusters(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	gint64 t0 = kite_now_wall();
	assert_int_equal(submit_ok(f->q, ad, 3, "alice"), 1);
	assert_int_equal(submit_ok(f->q, ad, 2, "alice"), 2);
	g_autoptr(KiteAd) plain = plain_ad();
	assert_int_equal(submit_ok(f->q, plain, 1, "bob"), 3);
	gint64 t1 = kite_now_wall();

	g_autoptr(GPtrArray) rows = query_all(f->q, FALSE);
	g_autofree char *ids = ids_of(rows);
	assert_string_equal(ids, "1.0 1.1 1.2 2.0 2.1 3.0");
	for (guint i = 0; i < rows->len; i++) {
		Row *r = row_at(rows, i);
		gboolean bob = r->cluster == 3;
		assert_string_equal(r->owner, bob ? "bob" : "alice");
		assert_int_equal(r->status, KITE_JOB_IDLE);
		assert_int_equal(r->prio, bob ? 0 : 3);
		assert_true(r->qdate >= t0 && r->qdate <= t1);
		assert_int_equal(r->entered, r->qdate);
		assert_int_equal(r->run_time, 0);
		assert_int_equal(r->image_size, 0);
		assert_int_equal(r->num_ckpts, 0);
		assert_int_equal(r->last_ckpt, 0);
		assert_string_equal(r->host, "");
		assert_string_equal(r->hold_reason, "");
		/* The CMD column: base name and this proc's arguments. */
		g_autofree char *cmd =
		    bob ? g_strdup("echo hello world")
			: g_strdup_printf("sim --seed %" G_GINT64_FORMAT " in.%" G_GINT64_FORMAT, r->proc,
					  r->proc);
		assert_string_equal(r->cmd, cmd);
	}

	/* Without full_ad, no ad. */
	KiteQueueFilter f2 = {0};
	g_autoptr(GPtrArray) lean = query(f->q, &f2);
	assert_int_equal(lean->len, 6);
	for (guint i = 0; i < lean->len; i++)
		assert_null(row_at(lean, i)->ad);

	gint64 counts[8];
	kite_queue_counts(f->q, counts);
	assert_int_equal(counts[KITE_JOB_IDLE], 6);
	assert_int_equal(counts[KITE_JOB_HELD], 0);

	/* Zero procs is refused and uses no cluster id. */
	gint64 cluster = 77;
	g_autoptr(GError) error = NULL;
	assert_false(kite_queue_submit(f->q, ad, 0, "alice", &cluster, &error));
	assert_kite_error(error, KITE_ERROR_INVALID, "a submission needs at least one proc");
	assert_int_equal(cluster, 77);
	assert_int_equal(submit_ok(f->q, plain, 1, "bob"), 4);
}

/* Each proc sees its own $(Process) and $(Cluster); the schedd's own
 * attributes win over whatever the template claims. */
static void test_submit_full_ads(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	kite_ad_set_string(ad, "Owner", "mallory");
	kite_ad_set_int(ad, "JobStatus", KITE_JOB_COMPLETED);
	kite_ad_set_int(ad, "ClusterId", 99);
	kite_ad_set_int(ad, "ProcId", 42);
	kite_ad_set_int(ad, "QDate", 1);
	assert_int_equal(submit_ok(f->q, ad, 3, "alice"), 1);
	assert_int_equal(submit_ok(f->q, ad, 2, "alice"), 2);
	g_autofree char *req = kite_expr_to_string(kite_ad_lookup(ad, "Requirements"));

	g_autoptr(GPtrArray) rows = query_all(f->q, FALSE);
	assert_int_equal(rows->len, 5);
	for (guint i = 0; i < rows->len; i++) {
		Row *r = row_at(rows, i);
		g_autofree char *args =
		    g_strdup_printf("--seed %" G_GINT64_FORMAT " in.%" G_GINT64_FORMAT, r->proc, r->proc);
		g_autofree char *out =
		    g_strdup_printf("out.%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, r->cluster, r->proc);
		assert_ad_int(r->ad, "ClusterId", r->cluster);
		assert_ad_int(r->ad, "ProcId", r->proc);
		assert_ad_string(r->ad, "Owner", "alice");
		assert_ad_int(r->ad, "JobStatus", KITE_JOB_IDLE);
		assert_ad_int(r->ad, "QDate", r->qdate);
		assert_ad_int(r->ad, "EnteredCurrentStatus", r->entered);
		assert_ad_int(r->ad, "JobPrio", 3);
		assert_ad_string(r->ad, "Arguments", args);
		assert_ad_string(r->ad, "Out", out);
		assert_ad_string(r->ad, "Note", "price $5");
		assert_ad_string(r->ad, "Cmd", "/usr/bin/sim");
		assert_ad_string(r->ad, "Iwd", "/home/alice/run");
		assert_ad_int(r->ad, "RequestMemory", 128);
		assert_ad_expr(r->ad, "Requirements", req);
		assert_null(kite_ad_lookup(r->ad, "HoldReason"));
		assert_null(kite_ad_lookup(r->ad, "CompletionDate"));
	}

	/* Many procs in one submission. */
	gint64 c = submit_ok(f->q, ad, 500, "alice");
	assert_int_equal(c, 3);
	Row *last = get_job(f->q, 3, 499, FALSE);
	assert_non_null(last);
	assert_ad_string(last->ad, "Arguments", "--seed 499 in.499");
	assert_ad_string(last->ad, "Out", "out.3.499");
	assert_string_equal(last->cmd, "sim --seed 499 in.499");
	row_free(last);
	assert_null(get_job(f->q, 3, 500, FALSE));
	assert_int_equal(count_jobs(f->q, FALSE), 505);
}

/* ---- direct looks at the database file ------------------------------------- */

static sqlite3 *db_open(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static gint64 sql_int(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	gint64 v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* The template is stored once per cluster; each proc keeps only what
 * $(Process) changed. */
static void test_submit_storage(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	submit_ok(f->q, ad, 4, "alice");
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM clusters"), 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs"), 4);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs WHERE ad LIKE '%Arguments%'"), 4);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs WHERE ad LIKE '%Cmd%'"), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM clusters WHERE ad LIKE '%RequestMemory%'"),
			 1);
	assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key = 'next_cluster'"), 2);
}

/* A failure in the middle of a submission rolls all of it back: here
 * proc 2's row already exists, so the third insert fails. */
static void test_submit_atomic(void **state)
{
	Fixture *f = *state;
	sql_exec(f->path, "INSERT INTO jobs(cluster, proc, owner, status, prio, qdate, entered_status, cmd)"
			  " VALUES(1, 2, 'planted', 1, 0, 0, 0, 'x')");
	g_autoptr(KiteAd) ad = job_ad();
	gint64 cluster = -7;
	g_autoptr(GError) error = NULL;
	assert_false(kite_queue_submit(f->q, ad, 3, "alice", &cluster, &error));
	g_autofree char *want = g_strdup_printf(
	    "queue database %s: insert job: UNIQUE constraint failed: jobs.cluster, jobs.proc", f->path);
	assert_kite_error(error, KITE_ERROR_IO, want);
	assert_int_equal(cluster, -7);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM clusters"), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs WHERE owner = 'alice'"), 0);
	assert_int_equal(sql_int(f->path, "SELECT value FROM meta WHERE key = 'next_cluster'"), 1);

	/* Once the obstacle is gone the same cluster id is used. */
	sql_exec(f->path, "DELETE FROM jobs");
	assert_int_equal(submit_ok(f->q, ad, 3, "alice"), 1);
	assert_int_equal(count_jobs(f->q, FALSE), 3);
}

/* ---- queries ------------------------------------------------------------------ */

/* alice: 1.0 1.1 1.2 and 3.0; bob: 2.0 2.1. */
static void three_clusters(KiteQueue *q)
{
	g_autoptr(KiteAd) ad = job_ad();
	g_autoptr(KiteAd) plain = plain_ad();
	assert_int_equal(submit_ok(q, ad, 3, "alice"), 1);
	assert_int_equal(submit_ok(q, plain, 2, "bob"), 2);
	assert_int_equal(submit_ok(q, plain, 1, "alice"), 3);
}

static void assert_constraint(KiteQueue *q, KiteQueueFilter filter, const char *expr, const char *want)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteExpr) e = kite_expr_parse(expr, NULL, &error);
	if (!e)
		fail_msg("%s: %s", expr, error->message);
	filter.constraint = e;
	g_autoptr(GPtrArray) rows = query(q, &filter);
	g_autofree char *got = ids_of(rows);
	if (strcmp(got, want) != 0)
		fail_msg("constraint %s: got \"%s\", want \"%s\"", expr, got, want);
	for (guint i = 0; i < rows->len; i++)
		assert_true(filter.full_ad ? row_at(rows, i)->ad != NULL : row_at(rows, i)->ad == NULL);
}

static void test_query_filters(void **state)
{
	Fixture *f = *state;
	three_clusters(f->q);

	/* Owner. */
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = "alice"}, "1.0 1.1 1.2 3.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = "bob"}, "2.0 2.1");
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = ""}, "1.0 1.1 1.2 2.0 2.1 3.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = NULL}, "1.0 1.1 1.2 2.0 2.1 3.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = "nobody"}, "");
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = "Alice"}, "");
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = "alice'; DROP TABLE jobs; --"}, "");

	/* Ids, whole clusters, unknown ids, repeats. */
	KiteJobId one[] = {{1, 1}};
	assert_query_ids(f->q, &(KiteQueueFilter){.ids = one, .n_ids = 1}, "1.1");
	KiteJobId cl[] = {{1, -1}};
	assert_query_ids(f->q, &(KiteQueueFilter){.ids = cl, .n_ids = 1}, "1.0 1.1 1.2");
	KiteJobId mix[] = {{2, 1}, {1, -1}, {99, 0}, {3, -1}, {99, -1}};
	assert_query_ids(f->q, &(KiteQueueFilter){.ids = mix, .n_ids = 5}, "1.0 1.1 1.2 2.1 3.0");
	KiteJobId rep[] = {{1, 1}, {1, -1}, {1, 1}};
	assert_query_ids(f->q, &(KiteQueueFilter){.ids = rep, .n_ids = 3}, "1.0 1.1 1.2");
	KiteJobId none[] = {{99, 0}, {1, 3}};
	assert_query_ids(f->q, &(KiteQueueFilter){.ids = none, .n_ids = 2}, "");
	/* n_ids = 0 means no id filter. */
	assert_query_ids(f->q, &(KiteQueueFilter){.ids = none, .n_ids = 0}, "1.0 1.1 1.2 2.0 2.1 3.0");
	/* Ids and owner together. */
	KiteJobId both[] = {{1, -1}, {2, 0}};
	assert_query_ids(f->q, &(KiteQueueFilter){.owner = "bob", .ids = both, .n_ids = 2}, "2.0");

	/* Status. */
	g_autoptr(GArray) h1 = act1(f->q, KITE_ACTION_HOLD, 1, 1, "alice", FALSE, "x");
	g_autoptr(GArray) h2 = act1(f->q, KITE_ACTION_HOLD, 2, 0, "root", TRUE, "y");
	assert_query_ids(f->q, &(KiteQueueFilter){.status = KITE_JOB_HELD}, "1.1 2.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.status = KITE_JOB_IDLE}, "1.0 1.2 2.1 3.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.status = KITE_JOB_RUNNING}, "");
	assert_query_ids(f->q, &(KiteQueueFilter){.status = KITE_JOB_HELD, .owner = "bob"}, "2.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.status = KITE_JOB_IDLE, .ids = cl, .n_ids = 1}, "1.0 1.2");

	/* Constraints over the full ad, with or without returning it. */
	for (int full = 0; full < 2; full++) {
		KiteQueueFilter base = {.full_ad = full};
		assert_constraint(f->q, base, "Owner == \"alice\" && ProcId >= 1", "1.1 1.2");
		assert_constraint(f->q, base, "Owner == \"ALICE\"", "1.0 1.1 1.2 3.0"); /* == ignores case */
		assert_constraint(f->q, base, "Owner =?= \"ALICE\"", "");
		assert_constraint(f->q, base, "Arguments == \"--seed 2 in.2\"", "1.2");
		assert_constraint(f->q, base, "Out =?= \"out.1.0\"", "1.0");
		assert_constraint(f->q, base, "JobStatus == 5", "1.1 2.0");
		assert_constraint(f->q, base, "HoldReason == \"y (by root)\"", "2.0");
		assert_constraint(f->q, base, "NoSuchAttribute == 1", "");
		assert_constraint(f->q, base, "isUndefined(RequestMemory)", "2.0 2.1 3.0");
		assert_constraint(f->q, base, "RequestMemory > 100", "1.0 1.1 1.2");
		assert_constraint(f->q, base, "true", "1.0 1.1 1.2 2.0 2.1 3.0");
		assert_constraint(f->q, base, "1 / 0", "");
		assert_constraint(f->q, base, "ClusterId * 10 + ProcId == 21", "2.1");
		KiteQueueFilter narrowed = {.full_ad = full, .owner = "alice", .status = KITE_JOB_IDLE};
		assert_constraint(f->q, narrowed, "ProcId == 0", "1.0 3.0");
		KiteQueueFilter by_id = {.full_ad = full, .ids = cl, .n_ids = 1};
		assert_constraint(f->q, by_id, "ProcId != 1", "1.0 1.2");
	}

	/* History: empty until something leaves the queue. */
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE}, "");
	g_autoptr(GArray) r1 = act1(f->q, KITE_ACTION_REMOVE, 1, 2, "alice", FALSE, "cleanup");
	g_autoptr(GArray) r2 = act1(f->q, KITE_ACTION_REMOVE, 2, 1, "bob", FALSE, NULL);
	assert_query_ids(f->q, &(KiteQueueFilter){0}, "1.0 1.1 2.0 3.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE}, "1.2 2.1");
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE, .owner = "bob"}, "2.1");
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE, .ids = cl, .n_ids = 1}, "1.2");
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE, .status = KITE_JOB_REMOVED}, "1.2 2.1");
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE, .status = KITE_JOB_IDLE}, "");
	KiteQueueFilter hist = {.history = TRUE};
	assert_constraint(f->q, hist, "RemoveReason == \"cleanup\"", "1.2");
	assert_constraint(f->q, hist, "RemovedBy == \"bob\"", "2.1");
	assert_constraint(f->q, hist, "CompletionDate > 0 && JobStatus == 3", "1.2 2.1");
}

static void test_query_many_ids(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) plain = plain_ad();
	submit_ok(f->q, plain, 1000, "alice");

	/* The most ids one request may name. */
	g_autofree KiteJobId *ids = g_new(KiteJobId, 10001);
	for (guint i = 0; i < 10001; i++)
		ids[i] = (KiteJobId){1, i};
	KiteQueueFilter filter = {.ids = ids, .n_ids = 10000};
	g_autoptr(GPtrArray) rows = query(f->q, &filter);
	assert_int_equal(rows->len, 1000);
	assert_int_equal(row_at(rows, 999)->proc, 999);

	/* As many whole clusters, and a mix of both kinds. */
	for (guint i = 0; i < 10000; i++)
		ids[i] = (KiteJobId){i + 1, -1};
	g_autoptr(GPtrArray) by_cluster = query(f->q, &filter);
	assert_int_equal(by_cluster->len, 1000);
	for (guint i = 0; i < 10000; i++)
		ids[i] = i % 2 ? (KiteJobId){1, i / 2} : (KiteJobId){i + 2, -1};
	g_autoptr(GPtrArray) mixed = query(f->q, &filter);
	assert_int_equal(mixed->len, 1000);

	filter.n_ids = 10001;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) sink = g_ptr_array_new_with_free_func(row_free);
	assert_false(kite_queue_query(f->q, &filter, collect, sink, &error));
	assert_kite_error(error, KITE_ERROR_LIMIT, "10001 job ids in one request is over the limit of 10000");
	assert_int_equal(sink->len, 0);
	g_clear_error(&error);
	GArray *results = NULL;
	assert_false(
	    kite_queue_act(f->q, KITE_ACTION_HOLD, ids, 10001, "alice", FALSE, NULL, &results, &error));
	assert_kite_error(error, KITE_ERROR_LIMIT, "10001 job ids in one request is over the limit of 10000");
	assert_null(results);
	g_clear_error(&error);
	assert_false(kite_queue_edit(f->q, ids, 10001, "Foo", "1", "alice", FALSE, &results, &error));
	assert_kite_error(error, KITE_ERROR_LIMIT, "10001 job ids in one request is over the limit of 10000");
	assert_null(results);
	/* Nothing was held or edited. */
	gint64 counts[8];
	kite_queue_counts(f->q, counts);
	assert_int_equal(counts[KITE_JOB_IDLE], 1000);
	assert_int_equal(counts[KITE_JOB_HELD], 0);
}

/* ---- hold and release ------------------------------------------------------------ */

static void test_hold_release(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	g_autoptr(KiteAd) plain = plain_ad();
	submit_ok(f->q, ad, 3, "alice");
	submit_ok(f->q, plain, 1, "bob");
	gint64 t0 = kite_now_wall();

	g_autoptr(GArray) a = act1(f->q, KITE_ACTION_HOLD, 1, 0, "alice", FALSE, "waiting for data");
	assert_single(a, TRUE, "job 1.0 held");
	Row *r = get_job(f->q, 1, 0, FALSE);
	assert_int_equal(r->status, KITE_JOB_HELD);
	assert_string_equal(r->hold_reason, "waiting for data (by alice)");
	assert_true(r->entered >= t0 && r->entered <= kite_now_wall());
	assert_ad_int(r->ad, "JobStatus", KITE_JOB_HELD);
	assert_ad_string(r->ad, "HoldReason", "waiting for data (by alice)");
	assert_ad_int(r->ad, "HoldReasonCode", 1);
	assert_ad_int(r->ad, "EnteredCurrentStatus", r->entered);
	row_free(r);

	g_autoptr(GArray) b = act1(f->q, KITE_ACTION_HOLD, 1, 0, "alice", FALSE, "again");
	assert_single(b, FALSE, "job 1.0 is already held");
	r = get_job(f->q, 1, 0, FALSE);
	assert_string_equal(r->hold_reason, "waiting for data (by alice)");
	row_free(r);

	g_autoptr(GArray) c = act1(f->q, KITE_ACTION_RELEASE, 1, 1, "alice", FALSE, NULL);
	assert_single(c, FALSE, "job 1.1 is not held (it is idle)");
	assert_int_equal(status_of(f->q, 1, 1), KITE_JOB_IDLE);

	/* Another user may neither hold nor release alice's jobs. */
	g_autoptr(GArray) d = act1(f->q, KITE_ACTION_HOLD, 1, 1, "bob", FALSE, "mine now");
	assert_single(d, FALSE, "permission denied: job 1.1 belongs to alice");
	assert_int_equal(status_of(f->q, 1, 1), KITE_JOB_IDLE);
	g_autoptr(GArray) e = act1(f->q, KITE_ACTION_RELEASE, 1, 0, "bob", FALSE, NULL);
	assert_single(e, FALSE, "permission denied: job 1.0 belongs to alice");
	assert_int_equal(status_of(f->q, 1, 0), KITE_JOB_HELD);

	g_autoptr(GArray) g = act1(f->q, KITE_ACTION_RELEASE, 1, 0, "alice", FALSE, "ignored");
	assert_single(g, TRUE, "job 1.0 released");
	r = get_job(f->q, 1, 0, FALSE);
	assert_int_equal(r->status, KITE_JOB_IDLE);
	assert_string_equal(r->hold_reason, "");
	assert_null(kite_ad_lookup(r->ad, "HoldReason"));
	assert_null(kite_ad_lookup(r->ad, "HoldReasonCode"));
	assert_ad_int(r->ad, "JobStatus", KITE_JOB_IDLE);
	row_free(r);

	/* No reason given. */
	g_autoptr(GArray) h = act1(f->q, KITE_ACTION_HOLD, 1, 0, "alice", FALSE, NULL);
	assert_single(h, TRUE, "job 1.0 held");
	g_autoptr(GArray) i = act1(f->q, KITE_ACTION_HOLD, 1, 2, "alice", FALSE, "");
	assert_single(i, TRUE, "job 1.2 held");
	r = get_job(f->q, 1, 0, FALSE);
	assert_string_equal(r->hold_reason, "held by user (by alice)");
	row_free(r);
	r = get_job(f->q, 1, 2, FALSE);
	assert_string_equal(r->hold_reason, "held by user (by alice)");
	row_free(r);

	/* An admin may act on anyone's job. */
	g_autoptr(GArray) j = act1(f->q, KITE_ACTION_HOLD, 2, 0, "root", TRUE, "maintenance");
	assert_single(j, TRUE, "job 2.0 held");
	r = get_job(f->q, 2, 0, FALSE);
	assert_string_equal(r->hold_reason, "maintenance (by root)");
	row_free(r);

	gint64 counts[8];
	kite_queue_counts(f->q, counts);
	assert_int_equal(counts[KITE_JOB_IDLE], 1);
	assert_int_equal(counts[KITE_JOB_HELD], 3);
	for (int s = 0; s < 8; s++)
		if (s != KITE_JOB_IDLE && s != KITE_JOB_HELD)
			assert_int_equal(counts[s], 0);

	/* A whole cluster: one result per proc. */
	g_autoptr(GArray) k = act1(f->q, KITE_ACTION_RELEASE, 1, -1, "alice", FALSE, NULL);
	assert_int_equal(k->len, 3);
	assert_result(k, 1, 0, TRUE, "job 1.0 released");
	assert_result(k, 1, 1, FALSE, "job 1.1 is not held (it is idle)");
	assert_result(k, 1, 2, TRUE, "job 1.2 released");

	/* Ids that match nothing. */
	KiteJobId missing[] = {{9, 0}, {9, -1}, {1, 7}};
	g_autoptr(GArray) m = act(f->q, KITE_ACTION_HOLD, missing, 3, "alice", FALSE, NULL);
	assert_int_equal(m->len, 3);
	assert_result(m, 9, 0, FALSE, "job 9.0 not found");
	assert_result(m, 9, -1, FALSE, "cluster 9 not found");
	assert_result(m, 1, 7, FALSE, "job 1.7 not found");

	/* A mixed request does what it may and says why not for the rest. */
	KiteJobId mixed[] = {{2, 0}, {1, 2}, {8, -1}};
	g_autoptr(GArray) n = act(f->q, KITE_ACTION_HOLD, mixed, 3, "alice", FALSE, "mixed");
	assert_int_equal(n->len, 3);
	assert_result(n, 2, 0, FALSE, "permission denied: job 2.0 belongs to bob");
	assert_result(n, 1, 2, TRUE, "job 1.2 held");
	assert_result(n, 8, -1, FALSE, "cluster 8 not found");
	assert_int_equal(status_of(f->q, 1, 2), KITE_JOB_HELD);
	assert_int_equal(status_of(f->q, 2, 0), KITE_JOB_HELD);
	r = get_job(f->q, 2, 0, FALSE);
	assert_string_equal(r->hold_reason, "maintenance (by root)");
	row_free(r);

	/* Admin release of another user's job. */
	g_autoptr(GArray) o = act1(f->q, KITE_ACTION_RELEASE, 1, 2, "root", TRUE, NULL);
	assert_single(o, TRUE, "job 1.2 released");

	/* Vacate and checkpoint need a running job; the queue itself does
	 * not change (the schedd asks the job's shadow). */
	g_autoptr(GArray) v = act1(f->q, KITE_ACTION_VACATE, 1, 2, "root", TRUE, NULL);
	assert_single(v, FALSE, "job 1.2 is not running (it is idle)");
	g_autoptr(GArray) ck = act1(f->q, KITE_ACTION_CHECKPOINT, 1, 2, "bob", FALSE, NULL);
	assert_false(g_array_index(ck, KiteActResult, 0).ok);

	/* Unknown actions are refused as a whole. */
	const int bad_actions[] = {0, 6, -1};
	for (gsize x = 0; x < G_N_ELEMENTS(bad_actions); x++) {
		GArray *results = NULL;
		g_autoptr(GError) error = NULL;
		KiteJobId id = {1, 0};
		assert_false(
		    kite_queue_act(f->q, bad_actions[x], &id, 1, "alice", FALSE, NULL, &results, &error));
		g_autofree char *want = g_strdup_printf("unknown action %d", bad_actions[x]);
		assert_kite_error(error, KITE_ERROR_INVALID, want);
		assert_null(results);
	}
	assert_int_equal(count_jobs(f->q, FALSE), 4);
	assert_int_equal(count_jobs(f->q, TRUE), 0);
}

/* ---- remove and history ------------------------------------------------------------ */

static void test_remove(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	g_autoptr(KiteAd) plain = plain_ad();
	submit_ok(f->q, ad, 3, "alice");
	submit_ok(f->q, plain, 1, "bob");
	Row *before = get_job(f->q, 1, 1, FALSE);
	gint64 qdate = before->qdate;
	row_free(before);
	gint64 t0 = kite_now_wall();

	g_autoptr(GArray) h = act1(f->q, KITE_ACTION_HOLD, 1, 2, "alice", FALSE, "before removal");
	assert_single(h, TRUE, "job 1.2 held");

	g_autoptr(GArray) a = act1(f->q, KITE_ACTION_REMOVE, 1, 1, "alice", FALSE, "wrong input");
	assert_single(a, TRUE, "job 1.1 removed");
	assert_null(get_job(f->q, 1, 1, FALSE));
	assert_query_ids(f->q, &(KiteQueueFilter){0}, "1.0 1.2 2.0");
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE}, "1.1");

	Row *r = get_job(f->q, 1, 1, TRUE);
	assert_non_null(r);
	assert_int_equal(r->status, KITE_JOB_REMOVED);
	assert_string_equal(r->owner, "alice");
	assert_int_equal(r->qdate, qdate);
	assert_true(r->entered >= t0 && r->entered <= kite_now_wall());
	assert_string_equal(r->cmd, "sim --seed 1 in.1");
	assert_ad_int(r->ad, "JobStatus", KITE_JOB_REMOVED);
	assert_ad_string(r->ad, "RemoveReason", "wrong input");
	assert_ad_string(r->ad, "RemovedBy", "alice");
	assert_ad_int(r->ad, "CompletionDate", r->entered);
	assert_ad_string(r->ad, "Arguments", "--seed 1 in.1");
	assert_ad_string(r->ad, "Out", "out.1.1");
	assert_ad_string(r->ad, "Cmd", "/usr/bin/sim");
	assert_ad_int(r->ad, "ProcId", 1);
	row_free(r);

	g_autoptr(GArray) b = act1(f->q, KITE_ACTION_REMOVE, 1, 1, "alice", FALSE, NULL);
	assert_single(b, FALSE, "job 1.1 not found");
	g_autoptr(GArray) c = act1(f->q, KITE_ACTION_HOLD, 1, 1, "alice", FALSE, NULL);
	assert_single(c, FALSE, "job 1.1 not found");

	/* A held job can be removed; its hold reason goes with it. */
	g_autoptr(GArray) d = act1(f->q, KITE_ACTION_REMOVE, 1, 2, "alice", FALSE, NULL);
	assert_single(d, TRUE, "job 1.2 removed");
	r = get_job(f->q, 1, 2, TRUE);
	assert_ad_string(r->ad, "RemoveReason", "removed by user");
	assert_string_equal(r->hold_reason, "before removal (by alice)");
	assert_ad_string(r->ad, "HoldReason", "before removal (by alice)");
	row_free(r);

	g_autoptr(GArray) e = act1(f->q, KITE_ACTION_REMOVE, 1, 0, "bob", FALSE, "spite");
	assert_single(e, FALSE, "permission denied: job 1.0 belongs to alice");
	Row *still = get_job(f->q, 1, 0, FALSE);
	assert_non_null(still);
	row_free(still);

	/* Reasons and names with quotes and backslashes survive intact. */
	const char *reason = "say \"hi\" \\ bye\nnext line";
	const char *admin = "ad\"min\\";
	g_autoptr(GArray) g = act1(f->q, KITE_ACTION_REMOVE, 2, 0, admin, TRUE, reason);
	assert_single(g, TRUE, "job 2.0 removed");
	r = get_job(f->q, 2, 0, TRUE);
	assert_non_null(r);
	assert_string_equal(r->owner, "bob");
	assert_ad_string(r->ad, "RemoveReason", reason);
	assert_ad_string(r->ad, "RemovedBy", admin);
	assert_ad_string(r->ad, "Arguments", "hello world");
	row_free(r);

	/* A whole cluster. */
	g_autoptr(GArray) k = act1(f->q, KITE_ACTION_REMOVE, 1, -1, "alice", FALSE, "done");
	assert_single(k, TRUE, "job 1.0 removed");
	assert_int_equal(count_jobs(f->q, FALSE), 0);
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE}, "1.0 1.1 1.2 2.0");
	gint64 counts[8];
	kite_queue_counts(f->q, counts);
	for (int s = 0; s < 8; s++)
		assert_int_equal(counts[s], 0);
	/* History is not acted on. */
	g_autoptr(GArray) l = act1(f->q, KITE_ACTION_REMOVE, 1, -1, "alice", FALSE, NULL);
	assert_single(l, FALSE, "cluster 1 not found");
}

/* ---- edit ----------------------------------------------------------------------- */

static void assert_edit_refused(KiteQueue *q, const char *attr, const char *text, KiteErrorCode code,
				const char *message)
{
	KiteJobId id = {1, 0};
	GArray *results = NULL;
	g_autoptr(GError) error = NULL;
	assert_false(kite_queue_edit(q, &id, 1, attr, text, "root", TRUE, &results, &error));
	assert_null(results);
	assert_kite_error(error, code, message);
}

static void test_edit(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	g_autoptr(KiteAd) plain = plain_ad();
	submit_ok(f->q, ad, 2, "alice");
	submit_ok(f->q, plain, 1, "bob");

	g_autoptr(GArray) a = edit1(f->q, 1, 0, "Arguments", "\"--fast\"", "alice", FALSE);
	assert_single(a, TRUE, "job 1.0: Arguments set");
	Row *r = get_job(f->q, 1, 0, FALSE);
	assert_ad_string(r->ad, "Arguments", "--fast");
	row_free(r);
	r = get_job(f->q, 1, 1, FALSE);
	assert_ad_string(r->ad, "Arguments", "--seed 1 in.1");
	row_free(r);

	/* A new attribute, an expression, on a whole cluster. */
	g_autoptr(GArray) b = edit1(f->q, 1, -1, "MyTag", "1 + 2", "alice", FALSE);
	assert_int_equal(b->len, 2);
	assert_result(b, 1, 0, TRUE, "job 1.0: MyTag set");
	assert_result(b, 1, 1, TRUE, "job 1.1: MyTag set");
	for (int p = 0; p < 2; p++) {
		r = get_job(f->q, 1, p, FALSE);
		assert_ad_expr(r->ad, "MyTag", "1 + 2");
		assert_ad_int(r->ad, "MyTag", 3);
		row_free(r);
	}
	r = get_job(f->q, 2, 0, FALSE);
	assert_null(kite_ad_lookup(r->ad, "MyTag"));
	row_free(r);
	/* Overriding a cluster attribute for one proc. */
	g_autoptr(GArray) b2 = edit1(f->q, 1, 1, "RequestMemory", "4096", "alice", FALSE);
	assert_single(b2, TRUE, "job 1.1: RequestMemory set");
	r = get_job(f->q, 1, 1, FALSE);
	assert_ad_int(r->ad, "RequestMemory", 4096);
	row_free(r);
	r = get_job(f->q, 1, 0, FALSE);
	assert_ad_int(r->ad, "RequestMemory", 128);
	row_free(r);

	/* JobPrio also moves the priority column; any case of the name. */
	g_autoptr(GArray) c = edit1(f->q, 1, 1, "JobPrio", "10", "alice", FALSE);
	assert_single(c, TRUE, "job 1.1: JobPrio set");
	r = get_job(f->q, 1, 1, FALSE);
	assert_int_equal(r->prio, 10);
	assert_ad_int(r->ad, "JobPrio", 10);
	row_free(r);
	r = get_job(f->q, 1, 0, FALSE);
	assert_int_equal(r->prio, 3);
	row_free(r);
	g_autoptr(GArray) c2 = edit1(f->q, 1, 0, "jobprio", "-5 + 1", "alice", FALSE);
	assert_single(c2, TRUE, "job 1.0: jobprio set");
	r = get_job(f->q, 1, 0, FALSE);
	assert_int_equal(r->prio, -4);
	assert_ad_int(r->ad, "JobPrio", -4);
	row_free(r);

	/* Permission: only the owner or an admin. */
	g_autoptr(GArray) d = edit1(f->q, 1, 0, "MyTag", "\"bob was here\"", "bob", FALSE);
	assert_single(d, FALSE, "permission denied: job 1.0 belongs to alice");
	r = get_job(f->q, 1, 0, FALSE);
	assert_ad_int(r->ad, "MyTag", 3);
	row_free(r);
	g_autoptr(GArray) e = edit1(f->q, 1, 0, "MyTag", "\"root was here\"", "root", TRUE);
	assert_single(e, TRUE, "job 1.0: MyTag set");
	r = get_job(f->q, 1, 0, FALSE);
	assert_ad_string(r->ad, "MyTag", "root was here");
	row_free(r);

	/* Not found. */
	g_autoptr(GArray) g = edit1(f->q, 5, 0, "MyTag", "1", "alice", FALSE);
	assert_single(g, FALSE, "job 5.0 not found");
	g_autoptr(GArray) g2 = edit1(f->q, 5, -1, "MyTag", "1", "alice", FALSE);
	assert_single(g2, FALSE, "cluster 5 not found");

	/* Refusals change nothing at all. */
	g_autofree char *snapshot = dump(f->q);
	const char *protected_attrs[] = {"Owner",
					 "ClusterId",
					 "ProcId",
					 "JobStatus",
					 "QDate",
					 "EnteredCurrentStatus",
					 "RemoteWallClockTime",
					 "MemoryUsage",
					 "ResidentSetSize",
					 "RemoteUserCpu",
					 "RemoteSysCpu",
					 "ImageSize",
					 "NumCheckpoints",
					 "LastCheckpointTime",
					 "RemoteHost",
					 "HoldReason",
					 "HoldReasonCode",
					 "CompletionDate",
					 "RemoveReason",
					 "RemovedBy"};
	for (gsize i = 0; i < G_N_ELEMENTS(protected_attrs); i++) {
		g_autofree char *want = g_strdup_printf(
		    "`%s` is maintained by the schedd and cannot be edited", protected_attrs[i]);
		assert_edit_refused(f->q, protected_attrs[i], "1", KITE_ERROR_PERMISSION, want);
		g_autofree char *lower = g_ascii_strdown(protected_attrs[i], -1);
		assert_edit_refused(f->q, lower, "1", KITE_ERROR_PERMISSION, want);
	}
	const char *fixed_attrs[] = {"Cmd", "Iwd"};
	for (gsize i = 0; i < G_N_ELEMENTS(fixed_attrs); i++) {
		g_autofree char *want = g_strdup_printf(
		    "`%s` is fixed at submission; remove the job and submit it again", fixed_attrs[i]);
		assert_edit_refused(f->q, fixed_attrs[i], "1", KITE_ERROR_PERMISSION, want);
	}
	const char *bad_names[] = {"1abc", "a.b", "MY.Owner", "a b", "", "caf\xc3\xa9"};
	for (gsize i = 0; i < G_N_ELEMENTS(bad_names); i++) {
		g_autofree char *want = g_strdup_printf("`%s` is not a valid attribute name", bad_names[i]);
		assert_edit_refused(f->q, bad_names[i], "1", KITE_ERROR_INVALID, want);
	}
	assert_edit_refused(f->q, "Foo", "1 +", KITE_ERROR_INVALID,
			    "value of `Foo`, column 4: expected an expression but found end of expression");
	assert_edit_refused(f->q, "Foo", "a @ b", KITE_ERROR_INVALID,
			    "value of `Foo`, column 3: unexpected character `@`");
	assert_edit_refused(f->q, "Foo", "", KITE_ERROR_INVALID,
			    "value of `Foo`, column 1: expected an expression but found end of expression");
	const char *bad_prios[] = {"\"high\"", "2.5", "undefined", "Foo", "true", "1 / 0"};
	for (gsize i = 0; i < G_N_ELEMENTS(bad_prios); i++)
		assert_edit_refused(f->q, "JobPrio", bad_prios[i], KITE_ERROR_INVALID,
				    "`JobPrio` must be a whole number");
	g_autofree char *xs = g_strnfill(4095, 'x');
	g_autofree char *big = g_strdup_printf("\"%s\"", xs); /* 4097 bytes */
	assert_edit_refused(f->q, "Big", big, KITE_ERROR_LIMIT,
			    "value of `Big` is over the limit of 4096 bytes");
	g_autofree char *after = dump(f->q);
	assert_string_equal(after, snapshot);

	/* Exactly at the size limit is fine. */
	g_autofree char *fits = g_strdup_printf("\"%.4094s\"", xs);
	assert_int_equal(strlen(fits), 4096);
	g_autoptr(GArray) h = edit1(f->q, 1, 0, "Big", fits, "alice", FALSE);
	assert_single(h, TRUE, "job 1.0: Big set");
}

/* ---- limits ---------------------------------------------------------------------- */

static KiteQueue *open_with(Fixture *f, const char *name, const KiteQueueLimits *limits)
{
	g_autofree char *path = g_build_filename(f->dir, name, NULL);
	g_autoptr(GError) error = NULL;
	KiteQueue *q = kite_queue_open(path, limits, &error);
	if (!q)
		fail_msg("open %s: %s", path, error->message);
	return q;
}

static void assert_submit_refused(KiteQueue *q, const KiteAd *ad, guint count, const char *owner,
				  KiteErrorCode code, const char *message)
{
	guint before = count_jobs(q, FALSE);
	gint64 cluster = -3;
	g_autoptr(GError) error = NULL;
	assert_false(kite_queue_submit(q, ad, count, owner, &cluster, &error));
	assert_kite_error(error, code, message);
	assert_int_equal(cluster, -3);
	assert_int_equal(count_jobs(q, FALSE), before);
}

static void test_limit_per_submit(void **state)
{
	Fixture *f = *state;
	const KiteQueueLimits limits = {
	    .max_per_submit = 5, .max_per_owner = 100, .max_total = 100, .max_attribute_size = 4096};
	g_autoptr(KiteQueue) q = open_with(f, "limits.db", &limits);
	g_autoptr(KiteAd) ad = job_ad();
	assert_submit_refused(
	    q, ad, 6, "alice", KITE_ERROR_LIMIT,
	    "submission of 6 procs is over the limit of 5 per submission (max_jobs_per_submit)");
	assert_submit_refused(q, ad, G_MAXUINT, "alice", KITE_ERROR_LIMIT,
			      "submission of 4294967295 procs is over the limit of 5 per submission "
			      "(max_jobs_per_submit)");
	assert_int_equal(submit_ok(q, ad, 5, "alice"), 1);
	assert_int_equal(count_jobs(q, FALSE), 5);
}

static void test_limit_per_owner(void **state)
{
	Fixture *f = *state;
	const KiteQueueLimits limits = {
	    .max_per_submit = 100, .max_per_owner = 4, .max_total = 100, .max_attribute_size = 4096};
	g_autoptr(KiteQueue) q = open_with(f, "limits.db", &limits);
	g_autoptr(KiteAd) ad = job_ad();
	assert_int_equal(submit_ok(q, ad, 3, "alice"), 1);
	assert_submit_refused(
	    q, ad, 2, "alice", KITE_ERROR_LIMIT,
	    "alice has 3 jobs; 2 more would be over the limit of 4 per user (max_jobs_per_owner)");
	assert_submit_refused(
	    q, ad, 5, "bob", KITE_ERROR_LIMIT,
	    "bob has 0 jobs; 5 more would be over the limit of 4 per user (max_jobs_per_owner)");
	/* Others are not affected, and the refusals used no cluster id. */
	assert_int_equal(submit_ok(q, ad, 4, "bob"), 2);
	assert_int_equal(submit_ok(q, ad, 1, "alice"), 3);
	assert_submit_refused(
	    q, ad, 1, "alice", KITE_ERROR_LIMIT,
	    "alice has 4 jobs; 1 more would be over the limit of 4 per user (max_jobs_per_owner)");
	assert_query_ids(q, &(KiteQueueFilter){.owner = "alice"}, "1.0 1.1 1.2 3.0");
	/* Jobs in the history do not count. */
	g_autoptr(GArray) r = act1(q, KITE_ACTION_REMOVE, 1, 0, "alice", FALSE, NULL);
	assert_single(r, TRUE, "job 1.0 removed");
	assert_int_equal(submit_ok(q, ad, 1, "alice"), 4);
}

static void test_limit_total(void **state)
{
	Fixture *f = *state;
	const KiteQueueLimits limits = {
	    .max_per_submit = 100, .max_per_owner = 100, .max_total = 6, .max_attribute_size = 4096};
	g_autoptr(KiteQueue) q = open_with(f, "limits.db", &limits);
	g_autoptr(KiteAd) ad = plain_ad();
	assert_int_equal(submit_ok(q, ad, 3, "alice"), 1);
	assert_int_equal(submit_ok(q, ad, 2, "bob"), 2);
	assert_submit_refused(q, ad, 2, "carol", KITE_ERROR_LIMIT,
			      "the queue holds 5 jobs; 2 more would be over the limit of 6 (max_jobs)");
	assert_int_equal(submit_ok(q, ad, 1, "carol"), 3);
	assert_submit_refused(q, ad, 1, "dave", KITE_ERROR_LIMIT,
			      "the queue holds 6 jobs; 1 more would be over the limit of 6 (max_jobs)");
	assert_int_equal(count_jobs(q, FALSE), 6);
}

static void test_limit_attribute_size(void **state)
{
	Fixture *f = *state;
	const KiteQueueLimits limits = {
	    .max_per_submit = 100, .max_per_owner = 100, .max_total = 100, .max_attribute_size = 16};
	g_autoptr(KiteQueue) q = open_with(f, "limits.db", &limits);
	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_string(ad, "Cmd", "/bin/true");
	kite_ad_set_string(ad, "Note", "fourteen chars"); /* "…" is 16 bytes */
	assert_int_equal(submit_ok(q, ad, 2, "alice"), 1);

	kite_ad_set_string(ad, "Note", "fifteen chars!!");
	assert_submit_refused(q, ad, 2, "alice", KITE_ERROR_LIMIT,
			      "attribute `Note` is 17 bytes, over the limit of 16 (max_attribute_size)");
	kite_ad_set_string(ad, "Note", "short");
	assert_true(kite_ad_set_parsed(ad, "Requirements", "1 + 2 + 3 + 4 + 5 + 6", NULL));
	assert_submit_refused(
	    q, ad, 1, "alice", KITE_ERROR_LIMIT,
	    "attribute `Requirements` is 21 bytes, over the limit of 16 (max_attribute_size)");
	assert_true(kite_ad_remove(ad, "Requirements"));
	assert_int_equal(submit_ok(q, ad, 1, "alice"), 2);
	assert_query_ids(q, &(KiteQueueFilter){0}, "1.0 1.1 2.0");

	/* Edits are held to the same limit. */
	KiteJobId id = {1, 0};
	GArray *results = NULL;
	g_autoptr(GError) error = NULL;
	assert_false(
	    kite_queue_edit(q, &id, 1, "Note", "\"fifteen chars!!\"", "alice", FALSE, &results, &error));
	assert_kite_error(error, KITE_ERROR_LIMIT, "value of `Note` is over the limit of 16 bytes");
	g_autoptr(GArray) ok = edit1(q, 1, 0, "Note", "\"fourteen chars\"", "alice", FALSE);
	assert_single(ok, TRUE, "job 1.0: Note set");
}

/* ---- durability -------------------------------------------------------------------- */

static void reopen(Fixture *f, const KiteQueueLimits *limits)
{
	kite_queue_close(f->q);
	g_autoptr(GError) error = NULL;
	f->q = kite_queue_open(f->path, limits, &error);
	if (!f->q)
		fail_msg("reopen: %s", error->message);
}

static void test_reopen(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	g_autoptr(KiteAd) plain = plain_ad();
	submit_ok(f->q, ad, 3, "alice");
	submit_ok(f->q, plain, 2, "bob");
	g_autoptr(GArray) a = act1(f->q, KITE_ACTION_HOLD, 1, 1, "alice", FALSE, "paused");
	g_autoptr(GArray) b = act1(f->q, KITE_ACTION_REMOVE, 2, 0, "bob", FALSE, "gone");
	g_autoptr(GArray) c = edit1(f->q, 1, 2, "JobPrio", "9", "alice", FALSE);
	g_autoptr(GArray) d = edit1(f->q, 1, 2, "MyTag", "\"t\"", "alice", FALSE);
	assert_single(d, TRUE, "job 1.2: MyTag set");
	g_autofree char *snapshot = dump(f->q);
	assert_non_null(strstr(snapshot, "queue 1.1 alice"));
	assert_non_null(strstr(snapshot, "history 2.0 bob"));

	reopen(f, &roomy);
	g_autofree char *after = dump(f->q);
	assert_string_equal(after, snapshot);
	Row *r = get_job(f->q, 1, 2, FALSE);
	assert_int_equal(r->prio, 9);
	assert_ad_string(r->ad, "MyTag", "t");
	assert_ad_string(r->ad, "Arguments", "--seed 2 in.2");
	row_free(r);
	r = get_job(f->q, 1, 1, FALSE);
	assert_int_equal(r->status, KITE_JOB_HELD);
	assert_string_equal(r->hold_reason, "paused (by alice)");
	row_free(r);
	gint64 counts[8];
	kite_queue_counts(f->q, counts);
	assert_int_equal(counts[KITE_JOB_IDLE], 3);
	assert_int_equal(counts[KITE_JOB_HELD], 1);

	/* Cluster ids carry on, even when every job is gone. */
	assert_int_equal(submit_ok(f->q, plain, 1, "carol"), 3);
	KiteJobId all[] = {{1, -1}, {2, -1}, {3, -1}};
	g_autoptr(GArray) e = act(f->q, KITE_ACTION_REMOVE, all, 3, "root", TRUE, NULL);
	assert_int_equal(e->len, 5);
	assert_int_equal(kite_queue_purge_history(f->q, -1), 6);
	assert_int_equal(count_jobs(f->q, FALSE), 0);
	assert_int_equal(count_jobs(f->q, TRUE), 0);
	reopen(f, &roomy);
	assert_int_equal(count_jobs(f->q, FALSE), 0);
	assert_int_equal(submit_ok(f->q, plain, 1, "carol"), 4);

	/* Limits come from the caller, not the file. */
	const KiteQueueLimits tight = {
	    .max_per_submit = 1, .max_per_owner = 10, .max_total = 10, .max_attribute_size = 4096};
	reopen(f, &tight);
	assert_submit_refused(
	    f->q, plain, 2, "carol", KITE_ERROR_LIMIT,
	    "submission of 2 procs is over the limit of 1 per submission (max_jobs_per_submit)");
	assert_int_equal(submit_ok(f->q, plain, 1, "carol"), 5);
}

/* Two handles on one file (as a schedd and a restarted one might
 * briefly have) see each other's commits. */
static void test_two_handles(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteQueue) q2 = kite_queue_open(f->path, &roomy, &error);
	assert_non_null(q2);
	g_autoptr(KiteAd) plain = plain_ad();
	assert_int_equal(submit_ok(f->q, plain, 2, "alice"), 1);
	assert_int_equal(submit_ok(q2, plain, 1, "bob"), 2);
	assert_int_equal(submit_ok(f->q, plain, 1, "alice"), 3);
	assert_query_ids(q2, &(KiteQueueFilter){0}, "1.0 1.1 2.0 3.0");
	g_autoptr(GArray) a = act1(q2, KITE_ACTION_HOLD, 1, 0, "alice", FALSE, NULL);
	assert_single(a, TRUE, "job 1.0 held");
	assert_int_equal(status_of(f->q, 1, 0), KITE_JOB_HELD);
}

/* ---- history purge ------------------------------------------------------------------- */

static void test_purge_history(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	submit_ok(f->q, ad, 3, "alice");
	submit_ok(f->q, ad, 1, "alice");
	assert_int_equal(kite_queue_purge_history(f->q, 0), 0);

	KiteJobId ids[] = {{1, 0}, {1, 1}, {2, 0}};
	g_autoptr(GArray) a = act(f->q, KITE_ACTION_REMOVE, ids, 3, "alice", FALSE, NULL);
	assert_int_equal(a->len, 3);
	/* Recent history stays. */
	assert_int_equal(kite_queue_purge_history(f->q, 3600), 0);
	assert_int_equal(count_jobs(f->q, TRUE), 3);

	/* Make cluster 1's removals two days old. */
	sql_exec(f->path, "UPDATE history SET completion_date = completion_date - 172800 WHERE cluster = 1");
	assert_int_equal(kite_queue_purge_history(f->q, 86400), 2);
	assert_query_ids(f->q, &(KiteQueueFilter){.history = TRUE}, "2.0");
	assert_int_equal(kite_queue_purge_history(f->q, 86400), 0);
	/* Cluster 1 still has a live job and cluster 2 a history row: both
	 * keep their cluster ad. */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM clusters"), 2);
	Row *r = get_job(f->q, 1, 2, FALSE);
	assert_ad_string(r->ad, "Cmd", "/usr/bin/sim");
	assert_ad_string(r->ad, "Arguments", "--seed 2 in.2");
	row_free(r);
	r = get_job(f->q, 2, 0, TRUE);
	assert_ad_string(r->ad, "Cmd", "/usr/bin/sim");
	row_free(r);

	/* A negative age purges everything, and clusters with nothing left. */
	assert_int_equal(kite_queue_purge_history(f->q, -1), 1);
	assert_int_equal(count_jobs(f->q, TRUE), 0);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM clusters"), 1);
	r = get_job(f->q, 1, 2, FALSE);
	assert_ad_string(r->ad, "Cmd", "/usr/bin/sim");
	row_free(r);
	g_autoptr(GArray) b = act1(f->q, KITE_ACTION_REMOVE, 1, 2, "alice", FALSE, NULL);
	assert_int_equal(kite_queue_purge_history(f->q, -1), 1);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM clusters"), 0);
	assert_int_equal(count_jobs(f->q, FALSE), 0);
	/* New clusters still get new ids. */
	assert_int_equal(submit_ok(f->q, ad, 1, "alice"), 3);
}

/* ---- job events and checkpoint capabilities ------------------------------------ */

static void add_event_text(gint64 time, const char *event, const char *host, const char *detail, gpointer data)
{
	g_string_append_printf(data, "%s %s %s;", event, host, detail);
}

static char *events_of(KiteQueue *q, gint64 cluster, gint64 proc)
{
	GString *s = g_string_new(NULL);
	KiteJobId id = {cluster, proc};
	assert_true(kite_queue_job_events(q, &id, add_event_text, s, NULL));
	return g_string_free(s, FALSE);
}

/* Events of a running job go to the events table; a checkpoint's
 * attributes go into its ad and columns, its capabilities into
 * job_secrets and never into the ad; completing the job forgets the
 * capabilities, purging its history forgets its events. */
static void test_job_events(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = job_ad();
	submit_ok(f->q, ad, 2, "alice");
	KiteJobId id = {1, 0}, other = {1, 1};
	g_autoptr(GError) error = NULL;
	/* only a running job has events */
	assert_false(kite_queue_job_event(f->q, &id, "checkpoint", "slot1@ws1", "x", ad, &error));
	g_clear_error(&error);
	assert_true(kite_queue_set_running(f->q, &id, "slot1@ws1"));
	assert_true(kite_queue_job_event(f->q, &id, "started", "slot1@ws1", "", NULL, &error));
	g_autoptr(KiteAd) ck = kite_ad_new();
	kite_ad_set_string(ck, "LastCheckpointImage", "server:h:1/abc");
	kite_ad_set_int(ck, "LastCheckpointTime", 1700000000);
	kite_ad_set_int(ck, "CheckpointSize", 4096);
	kite_ad_set_string(ck, "CheckpointCaps", "server h:1\nid abc\nread r\n");
	assert_true(kite_queue_job_event(f->q, &id, "checkpoint", "slot1@ws1", "4096 bytes", ck, &error));
	g_autofree char *ev = events_of(f->q, 1, 0);
	assert_string_equal(ev, "started slot1@ws1 ;checkpoint slot1@ws1 4096 bytes;");
	g_autofree char *none = events_of(f->q, 1, 1);
	assert_string_equal(none, "");
	Row *r = get_job(f->q, 1, 0, FALSE);
	assert_ad_string(r->ad, "LastCheckpointImage", "server:h:1/abc");
	assert_ad_int(r->ad, "NumCheckpoints", 1);
	assert_null(kite_ad_lookup(r->ad, "CheckpointCaps"));
	assert_int_equal(r->num_ckpts, 1);
	assert_int_equal(r->image_size, 4); /* KiB */
	row_free(r);
	g_autofree char *caps = kite_queue_job_ckpt_caps(f->q, &id);
	assert_string_equal(caps, "server h:1\nid abc\nread r\n");
	assert_null(kite_queue_job_ckpt_caps(f->q, &other));
	/* a constraint cannot read them either */
	g_autoptr(KiteExpr) probe = kite_expr_parse("CheckpointCaps =!= undefined", NULL, NULL);
	assert_query_ids(f->q, &(KiteQueueFilter){.constraint = probe}, "");
	g_autoptr(KiteExpr) image = kite_expr_parse("LastCheckpointImage =!= undefined", NULL, NULL);
	assert_query_ids(f->q, &(KiteQueueFilter){.constraint = image}, "1.0");
	/* completion forgets the capabilities, keeps the events */
	KiteJobExit exit = {.code = 0, .wall_seconds = 5};
	assert_true(kite_queue_complete(f->q, &id, &exit, &error));
	assert_null(kite_queue_job_ckpt_caps(f->q, &id));
	g_autofree char *after = events_of(f->q, 1, 0);
	assert_string_equal(after, ev);
	/* purging the history forgets them */
	assert_int_equal(kite_queue_purge_history(f->q, -1), 1);
	g_autofree char *purged = events_of(f->q, 1, 0);
	assert_string_equal(purged, "");
}

/* ---- running jobs ------------------------------------------------------------ */

/* Idle -> Running -> Idle -> Running -> Completed (history, ExitCode,
 * RemoteWallClockTime), a signal, a hold by the system, and the
 * restart rule (Running jobs back to Idle). */
static void test_run_lifecycle(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = plain_ad();
	gint64 c = submit_ok(f->q, ad, 4, "alice");
	KiteJobId j0 = {c, 0}, j1 = {c, 1}, j2 = {c, 2}, j3 = {c, 3};
	g_autoptr(GError) error = NULL;

	assert_true(kite_queue_begin(f->q, &error));
	assert_true(kite_queue_set_running(f->q, &j0, "slot1@ws1"));
	assert_true(kite_queue_commit(f->q, &error));
	assert_false(kite_queue_set_running(f->q, &j0, "slot2@ws1")); /* not idle */
	Row *r = get_job(f->q, c, 0, FALSE);
	assert_int_equal(r->status, KITE_JOB_RUNNING);
	assert_string_equal(r->host, "slot1@ws1");
	assert_ad_string(r->ad, "RemoteHost", "slot1@ws1");
	row_free(r);

	assert_true(kite_queue_set_idle(f->q, &j0, 5, "lost the startd", TRUE));
	assert_false(kite_queue_set_idle(f->q, &j0, 5, "again", TRUE)); /* not running */
	r = get_job(f->q, c, 0, FALSE);
	assert_int_equal(r->status, KITE_JOB_IDLE);
	assert_string_equal(r->host, "");
	assert_int_equal(r->run_time, 5);
	assert_ad_int(r->ad, "NumShadowStarts", 1);
	assert_ad_string(r->ad, "LastRequeueReason", "lost the startd");
	assert_ad_string(r->ad, "LastRemoteHost", "slot1@ws1");
	assert_ad_int(r->ad, "NumRetries", 1);
	row_free(r);

	/* Completing needs a running job. */
	KiteJobExit ok = {.code = 0, .wall_seconds = 7};
	assert_false(kite_queue_complete(f->q, &j0, &ok, &error));
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_NOT_FOUND));
	g_clear_error(&error);
	assert_true(kite_queue_set_running(f->q, &j0, "slot1@ws2"));
	assert_true(kite_queue_complete(f->q, &j0, &ok, &error));
	assert_null(get_job(f->q, c, 0, FALSE));
	r = get_job(f->q, c, 0, TRUE);
	assert_non_null(r);
	assert_int_equal(r->status, KITE_JOB_COMPLETED);
	assert_ad_int(r->ad, "ExitCode", 0);
	assert_ad_int(r->ad, "RemoteWallClockTime", 12);
	assert_ad_string(r->ad, "RemoteHost", "slot1@ws2");
	assert_ad_int(r->ad, "NumShadowStarts", 2);
	gint64 done = 0;
	assert_true(kite_ad_get_int(r->ad, "CompletionDate", &done));
	assert_true(done > 0);
	row_free(r);

	KiteJobExit killed = {.signal = 9, .wall_seconds = 1};
	assert_true(kite_queue_set_running(f->q, &j1, "slot1@ws1"));
	assert_true(kite_queue_complete(f->q, &j1, &killed, &error));
	r = get_job(f->q, c, 1, TRUE);
	assert_ad_int(r->ad, "ExitSignal", 9);
	gboolean by_signal = FALSE;
	assert_true(kite_ad_get_bool(r->ad, "ExitBySignal", &by_signal));
	assert_true(by_signal);
	row_free(r);

	assert_true(kite_queue_set_running(f->q, &j2, "slot1@ws1"));
	assert_true(kite_queue_hold_running(f->q, &j2, "in.txt: No such file or directory", 13, 0));
	r = get_job(f->q, c, 2, FALSE);
	assert_int_equal(r->status, KITE_JOB_HELD);
	assert_ad_int(r->ad, "HoldReasonCode", 13);
	row_free(r);

	assert_true(kite_queue_set_running(f->q, &j3, "slot2@ws1"));
	assert_int_equal(kite_queue_requeue_running(f->q), 1);
	assert_int_equal(status_of(f->q, c, 3), KITE_JOB_IDLE);
}

/* What the runs used (kite_queue_note_usage): the peaks keep the
 * highest run's, rounded up (MiB, KiB), the CPU times add up over a
 * vacated run and the last one, and the sum reaches the history. */
static void test_run_usage(void **state)
{
	Fixture *f = *state;
	g_autoptr(KiteAd) ad = plain_ad();
	gint64 c = submit_ok(f->q, ad, 1, "alice");
	KiteJobId j0 = {c, 0};
	g_autoptr(GError) error = NULL;
	KiteRunUsage first = {.memory_peak = 100 * 1048576 + 1, .user_cpu = 1.5, .sys_cpu = 0.25};
	KiteRunUsage second = {.memory_peak = 50 * 1048576, .user_cpu = 2.0, .sys_cpu = 0.5};

	/* Only a running job has a run to measure. */
	assert_false(kite_queue_note_usage(f->q, &j0, &first, &error));
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_STATE));
	g_clear_error(&error);
	Row *r = get_job(f->q, c, 0, FALSE);
	assert_null(kite_ad_lookup(r->ad, "MemoryUsage"));
	row_free(r);

	assert_true(kite_queue_set_running(f->q, &j0, "slot1@ws1"));
	assert_true(kite_queue_note_usage(f->q, &j0, &first, &error));
	assert_true(kite_queue_set_idle(f->q, &j0, 5, "vacated", FALSE));
	r = get_job(f->q, c, 0, FALSE);
	assert_ad_int(r->ad, "MemoryUsage", 101);
	assert_ad_int(r->ad, "ResidentSetSize", 102401);
	assert_ad_expr(r->ad, "RemoteUserCpu", "1.5");
	assert_ad_expr(r->ad, "RemoteSysCpu", "0.25");
	row_free(r);

	assert_true(kite_queue_set_running(f->q, &j0, "slot1@ws2"));
	assert_true(kite_queue_note_usage(f->q, &j0, &second, &error));
	KiteJobExit ok = {.code = 0, .wall_seconds = 7};
	assert_true(kite_queue_complete(f->q, &j0, &ok, &error));
	r = get_job(f->q, c, 0, TRUE);
	assert_non_null(r);
	assert_ad_int(r->ad, "MemoryUsage", 101);
	assert_ad_int(r->ad, "ResidentSetSize", 102401);
	assert_ad_expr(r->ad, "RemoteUserCpu", "3.5");
	assert_ad_expr(r->ad, "RemoteSysCpu", "0.75");
	/* Usable in expressions, as on_exit_hold / periodic_* use them. */
	KiteValue v = KITE_VALUE_INIT;
	g_autoptr(KiteExpr) e = kite_expr_parse("MemoryUsage > 100 && RemoteUserCpu + RemoteSysCpu > 4", NULL, &error);
	assert_non_null(e);
	kite_expr_eval(e, r->ad, NULL, &v);
	assert_int_equal(v.type, KITE_VALUE_BOOL);
	assert_true(kite_value_is_true(&v));
	row_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_clusters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_full_ads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_storage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_many_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hold_release, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit_per_submit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit_per_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit_total, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit_attribute_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_history, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_usage, setup, teardown),
	};
	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
