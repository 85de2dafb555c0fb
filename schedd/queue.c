/* queue.c — the SQLite job queue; see queue.h for the storage layout.
 *
 * Every change is one transaction (BEGIN IMMEDIATE … COMMIT) and the
 * database runs with synchronous=FULL, so a COMMIT that returned is on
 * disk: that is the moment the schedd may acknowledge. */
#include "queue.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#include "jobfile.h"
#include "util.h"

#define MAX_IDS_PER_REQUEST 10000

struct _KiteQueue {
	sqlite3 *db;
	char *path;
	KiteQueueLimits limits;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('next_cluster', 1);"
    "INSERT OR IGNORE INTO meta VALUES('schema_version', 1);"
    "CREATE TABLE IF NOT EXISTS clusters(cluster INTEGER PRIMARY KEY, owner TEXT NOT NULL,"
    "  ad TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs(cluster INTEGER NOT NULL, proc INTEGER NOT NULL,"
    "  owner TEXT NOT NULL, status INTEGER NOT NULL, prio INTEGER NOT NULL, qdate INTEGER NOT NULL,"
    "  entered_status INTEGER NOT NULL, run_time INTEGER NOT NULL DEFAULT 0,"
    "  image_size INTEGER NOT NULL DEFAULT 0, num_ckpts INTEGER NOT NULL DEFAULT 0,"
    "  last_ckpt INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT '', cmd TEXT NOT NULL,"
    "  hold_reason TEXT NOT NULL DEFAULT '', hold_code INTEGER NOT NULL DEFAULT 0,"
    "  ad TEXT NOT NULL DEFAULT '', completion_date INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(cluster, proc)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner);"
    "CREATE TABLE IF NOT EXISTS history AS SELECT * FROM jobs WHERE 0;"
    "CREATE UNIQUE INDEX IF NOT EXISTS history_id ON history(cluster, proc);"
    "CREATE INDEX IF NOT EXISTS history_owner ON history(owner);"
    "CREATE TABLE IF NOT EXISTS events(cluster INTEGER NOT NULL, proc INTEGER NOT NULL,"
    "  time INTEGER NOT NULL, event TEXT NOT NULL, host TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_job ON events(cluster, proc);"
    /* the event log (job file key `log`) of jobs that have one, for userlog.c */
    "CREATE TABLE IF NOT EXISTS job_logs(cluster INTEGER NOT NULL, proc INTEGER NOT NULL,"
    "  owner TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY(cluster, proc)) WITHOUT ROWID;"
    /* what no query shows: the capabilities of a job's checkpoint space */
    "CREATE TABLE IF NOT EXISTS job_secrets(cluster INTEGER NOT NULL, proc INTEGER NOT NULL,"
    "  ckpt_caps TEXT NOT NULL, PRIMARY KEY(cluster, proc)) WITHOUT ROWID;"
    /* the claim a Running job runs on, for a restarted schedd to reconnect */
    "CREATE TABLE IF NOT EXISTS job_claims(cluster INTEGER NOT NULL, proc INTEGER NOT NULL,"
    "  claim TEXT NOT NULL, slot_ad TEXT NOT NULL, PRIMARY KEY(cluster, proc)) WITHOUT ROWID;"
    /* fair-share usage: seconds as of `updated` (wall s), decaying from then */
    "CREATE TABLE IF NOT EXISTS usage(owner TEXT PRIMARY KEY, usage REAL NOT NULL,"
    "  updated INTEGER NOT NULL) WITHOUT ROWID;"
    /* what the schedd has seen of each machine (case-folded name), for its MTBF */
    "CREATE TABLE IF NOT EXISTS machine_runs(machine TEXT PRIMARY KEY, seconds REAL NOT NULL,"
    "  evictions INTEGER NOT NULL) WITHOUT ROWID;";

/* Columns in the order every SELECT uses. */
#define JOB_COLUMNS                                                                                          \
	"cluster, proc, owner, qdate, run_time, status, prio, image_size, num_ckpts, last_ckpt, host, cmd, " \
	"hold_reason, entered_status, ad, hold_code, completion_date"

static gboolean db_error(KiteQueue *q, GError **error, const char *what)
{
	return kite_throw(error, KITE_ERROR_IO, "queue database %s: %s: %s", q->path, what,
			  sqlite3_errmsg(q->db));
}

static gboolean exec(KiteQueue *q, const char *sql, GError **error)
{
	char *msg = NULL;
	if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		kite_throw(error, KITE_ERROR_IO, "queue database %s: %s", q->path, msg ? msg : "error");
		sqlite3_free(msg);
		return FALSE;
	}
	return TRUE;
}

static sqlite3_stmt *prepare(KiteQueue *q, const char *sql, GError **error)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(q, error, "prepare");
		return NULL;
	}
	return st;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

/* Attributes the schedd maintains: a submitted template's values for
 * them are dropped, and nobody may edit them (as with condor_qedit). */
static const char *const maintained_attrs[] = {
    "Owner",
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
    "RemovedBy",
    "NumShadowStarts",
    "NumRetries",
    "JobCurrentStartDate",
    "LastRemoteHost",
    "LastRequeueReason",
    "LastRequeueTime",
    "ExitCode",
    "ExitBySignal",
    "ExitSignal",
    NULL,
};

/* Set at submission and fixed afterwards: the job's executable and
 * directory are what the user checked at submit time. */
static const char *const fixed_attrs[] = {"Cmd", "Iwd", "UserLog", NULL};

/* The list's spelling of @name, or NULL if it is not in @list. */
static const char *in_list(const char *const *list, const char *name)
{
	for (const char *const *p = list; *p; p++)
		if (g_ascii_strcasecmp(*p, name) == 0)
			return *p;
	return NULL;
}

void kite_act_result_clear(KiteActResult *r)
{
	g_clear_pointer(&r->message, g_free);
}

KiteQueue *kite_queue_open(const char *path, const KiteQueueLimits *limits, GError **error)
{
	g_autoptr(KiteQueue) q = g_new0(KiteQueue, 1);
	q->path = g_strdup(path);
	q->limits = *limits;
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		if (!q->db) {
			kite_throw(error, KITE_ERROR_IO, "open queue database %s: out of memory", path);
			return NULL;
		}
		db_error(q, error, "open");
		return NULL;
	}
	sqlite3_busy_timeout(q->db, 5000);
	if (!exec(q, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", error))
		return NULL;
	if (!exec(q, "BEGIN IMMEDIATE", error))
		return NULL;
	if (!exec(q, schema, error) || !exec(q, "COMMIT", error)) {
		exec(q, "ROLLBACK", NULL);
		return NULL;
	}
	return g_steal_pointer(&q);
}

void kite_queue_close(KiteQueue *q)
{
	if (!q)
		return;
	if (q->db)
		sqlite3_close_v2(q->db);
	g_free(q->path);
	g_free(q);
}

static gint64 scalar(KiteQueue *q, const char *sql, const char *arg)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, sql, NULL);
	if (!st)
		return -1;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -1;
	return sqlite3_column_int64(st, 0);
}

/* The `q` CMD column: executable's base name and arguments. */
static char *command_line(const KiteAd *ad)
{
	g_autofree char *cmd = NULL, *args = NULL;
	kite_ad_get_string(ad, "Cmd", &cmd);
	kite_ad_get_string(ad, "Arguments", &args);
	g_autofree char *base = g_path_get_basename(cmd ? cmd : "?");
	return args && *args ? g_strdup_printf("%s %s", base, args) : g_steal_pointer(&base);
}

static gboolean check_attribute_sizes(KiteQueue *q, const KiteAd *ad, GError **error)
{
	for (guint i = 0; i < kite_ad_size(ad); i++) {
		g_autofree char *text = kite_expr_to_string(kite_ad_expr_at(ad, i));
		if (strlen(text) > q->limits.max_attribute_size)
			return kite_throw(
			    error, KITE_ERROR_LIMIT,
			    "attribute `%s` is %zu bytes, over the limit of %zu (max_attribute_size)",
			    kite_ad_name_at(ad, i), strlen(text), q->limits.max_attribute_size);
	}
	return TRUE;
}

static gboolean submit_in_transaction(KiteQueue *q, const KiteAd *tmpl, guint count, const char *owner,
				      gint64 *out_cluster, GError **error);

gboolean kite_queue_submit(KiteQueue *q, const KiteAd *tmpl, guint count, const char *owner,
			   gint64 *out_cluster, GError **error)
{
	if (count == 0)
		return kite_throw(error, KITE_ERROR_INVALID, "a submission needs at least one proc");
	if ((gint64)count > q->limits.max_per_submit)
		return kite_throw(error, KITE_ERROR_LIMIT,
				  "submission of %u procs is over the limit of %" G_GINT64_FORMAT
				  " per submission (max_jobs_per_submit)",
				  count, q->limits.max_per_submit);
	if (!check_attribute_sizes(q, tmpl, error))
		return FALSE;
	if (!exec(q, "BEGIN IMMEDIATE", error))
		return FALSE;
	if (!submit_in_transaction(q, tmpl, count, owner, out_cluster, error) || !exec(q, "COMMIT", error)) {
		exec(q, "ROLLBACK", NULL);
		return FALSE;
	}
	return TRUE;
}

/* Insert one row into events (inside the caller's transaction). */
static gboolean insert_event(KiteQueue *q, const KiteJobId *id, const char *event, const char *host,
			     const char *detail, GError **error)
{
	g_autoptr(sqlite3_stmt) ins = prepare(q, "INSERT INTO events VALUES(?, ?, ?, ?, ?, ?)", error);
	if (!ins)
		return FALSE;
	sqlite3_bind_int64(ins, 1, id->cluster);
	sqlite3_bind_int64(ins, 2, id->proc);
	sqlite3_bind_int64(ins, 3, kite_now_wall());
	sqlite3_bind_text(ins, 4, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 5, host ? host : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 6, detail ? detail : "", -1, SQLITE_STATIC);
	return sqlite3_step(ins) == SQLITE_DONE || db_error(q, error, "record a job event");
}

/* The body of kite_queue_submit, inside its transaction. */
static gboolean submit_in_transaction(KiteQueue *q, const KiteAd *tmpl, guint count, const char *owner,
				      gint64 *out_cluster, GError **error)
{
	gint64 mine = scalar(q, "SELECT count(*) FROM jobs WHERE owner = ?", owner);
	gint64 total = scalar(q, "SELECT count(*) FROM jobs", NULL);
	gint64 cluster = scalar(q, "SELECT value FROM meta WHERE key = 'next_cluster'", NULL);
	if (mine < 0 || total < 0 || cluster < 0) {
		return db_error(q, error, "count jobs");
	}
	if (mine + count > q->limits.max_per_owner) {
		kite_throw(error, KITE_ERROR_LIMIT,
			   "%s has %" G_GINT64_FORMAT
			   " jobs; %u more would be over the limit of %" G_GINT64_FORMAT
			   " per user (max_jobs_per_owner)",
			   owner, mine, count, q->limits.max_per_owner);
		return FALSE;
	}
	if (total + count > q->limits.max_total) {
		kite_throw(error, KITE_ERROR_LIMIT,
			   "the queue holds %" G_GINT64_FORMAT
			   " jobs; %u more would be over the limit of %" G_GINT64_FORMAT " (max_jobs)",
			   total, count, q->limits.max_total);
		return FALSE;
	}

	/* The attributes that $(Process) may change are expanded per proc and
	 * stored with the proc; everything else is stored once, expanded for
	 * proc 0's cluster (cluster macros are the same for every proc). */
	g_autoptr(KiteAd) per_proc = kite_ad_new();
	g_autoptr(KiteAd) shared = kite_ad_new();
	for (guint i = 0; i < kite_ad_size(tmpl); i++) {
		if (in_list(maintained_attrs, kite_ad_name_at(tmpl, i)))
			continue;
		g_autofree char *text = kite_expr_to_string(kite_ad_expr_at(tmpl, i));
		/* (QueueItems, `queue: {items: …}`, gives each proc its $(Item)
		 * and Item; kite_jobfile_expand leaves it out of the proc) */
		KiteAd *dest = strstr(text, "$(") || g_str_equal(kite_ad_name_at(tmpl, i), "QueueItems") ? per_proc
														      : shared;
		kite_ad_set(dest, kite_ad_name_at(tmpl, i), kite_ad_expr_at(tmpl, i));
	}
	g_autoptr(KiteAd) cluster_ad = kite_jobfile_expand(shared, cluster, 0);
	kite_ad_remove(cluster_ad, "ProcId");
	g_autofree char *cluster_text = kite_ad_to_text(cluster_ad);
	gint64 prio = 0;
	kite_ad_get_int(tmpl, "JobPrio", &prio);
	gint64 now = kite_now_wall();

	{
		g_autoptr(sqlite3_stmt) st = prepare(q, "INSERT INTO clusters VALUES(?, ?, ?)", error);
		if (!st)
			return FALSE;
		sqlite3_bind_int64(st, 1, cluster);
		sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, cluster_text, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_error(q, error, "insert cluster");
			return FALSE;
		}
	}
	{
		g_autoptr(sqlite3_stmt) st = prepare(
		    q,
		    "INSERT INTO jobs(cluster, proc, owner, status, prio, qdate, entered_status, cmd, ad) "
		    "VALUES(?, ?, ?, 1, ?, ?, ?, ?, ?)",
		    error);
		if (!st)
			return FALSE;
		g_autofree char *shared_cmd = kite_ad_size(per_proc) == 0 ? command_line(cluster_ad) : NULL;
		for (guint p = 0; p < count; p++) {
			g_autoptr(KiteAd) proc_ad = kite_jobfile_expand(per_proc, cluster, p);
			kite_ad_remove(proc_ad, "ClusterId");
			kite_ad_remove(proc_ad, "ProcId");
			g_autofree char *proc_text = kite_ad_to_text(proc_ad);
			g_autofree char *cmd = NULL;
			if (!shared_cmd) {
				g_autoptr(KiteAd) full = kite_ad_copy(cluster_ad);
				for (guint i = 0; i < kite_ad_size(proc_ad); i++)
					kite_ad_set(full, kite_ad_name_at(proc_ad, i),
						    kite_ad_expr_at(proc_ad, i));
				cmd = command_line(full);
			}
			sqlite3_bind_int64(st, 1, cluster);
			sqlite3_bind_int64(st, 2, p);
			sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, prio);
			sqlite3_bind_int64(st, 5, now);
			sqlite3_bind_int64(st, 6, now);
			sqlite3_bind_text(st, 7, shared_cmd ? shared_cmd : cmd, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 8, proc_text, -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE) {
				db_error(q, error, "insert job");
				return FALSE;
			}
			sqlite3_reset(st);
		}
	}
	/* A job with an event log (UserLog) is listed in job_logs and starts
	 * its log with "submitted"; other jobs need neither (a 10,000-proc
	 * cluster is no insert more per proc). */
	if (kite_ad_lookup(tmpl, "UserLog")) {
		g_autoptr(sqlite3_stmt) log = prepare(q, "INSERT INTO job_logs VALUES(?, ?, ?, ?)", error);
		if (!log)
			return FALSE;
		for (guint p = 0; p < count; p++) {
			KiteJobId id = {.cluster = cluster, .proc = p};
			g_autoptr(KiteAd) proc_ad = kite_jobfile_expand(tmpl, cluster, p);
			g_autofree char *path = NULL;
			kite_ad_get_string(proc_ad, "UserLog", &path);
			sqlite3_reset(log);
			sqlite3_bind_int64(log, 1, cluster);
			sqlite3_bind_int64(log, 2, p);
			sqlite3_bind_text(log, 3, owner, -1, SQLITE_STATIC);
			sqlite3_bind_text(log, 4, path ? path : "", -1, SQLITE_TRANSIENT);
			if (sqlite3_step(log) != SQLITE_DONE)
				return db_error(q, error, "record a job's event log");
			if (!insert_event(q, &id, "submitted", "", owner, error))
				return FALSE;
		}
	}
	{
		g_autoptr(sqlite3_stmt) st =
		    prepare(q, "UPDATE meta SET value = ? WHERE key = 'next_cluster'", error);
		if (!st)
			return FALSE;
		sqlite3_bind_int64(st, 1, cluster + 1);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_error(q, error, "update next cluster");
			return FALSE;
		}
	}
	*out_cluster = cluster;
	return TRUE;
}

/* Build the full ad of a row: cluster ad (cached in @clusters), proc
 * ad, then the columns the schedd owns. */
static KiteAd *build_ad(KiteQueue *q, GHashTable *clusters, sqlite3_stmt *st, gboolean history)
{
	gint64 cluster = sqlite3_column_int64(st, 0);
	KiteAd *cad = g_hash_table_lookup(clusters, &cluster);
	if (!cad) {
		g_autoptr(sqlite3_stmt) cs = prepare(q, "SELECT ad FROM clusters WHERE cluster = ?", NULL);
		const char *text = "";
		if (cs) {
			sqlite3_bind_int64(cs, 1, cluster);
			if (sqlite3_step(cs) == SQLITE_ROW)
				text = (const char *)sqlite3_column_text(cs, 0);
		}
		g_autoptr(GError) e = NULL;
		cad = kite_ad_parse(text, &e);
		if (!cad) {
			g_warning("cluster %" G_GINT64_FORMAT " has a damaged ad: %s", cluster, e->message);
			cad = kite_ad_new();
		}
		gint64 *key = g_new(gint64, 1);
		*key = cluster;
		g_hash_table_insert(clusters, key, cad);
	}
	/* Identity first, so that `q -l` reads top-down like condor_q -l's
	 * important lines; kite_ad_set keeps a name's first position. */
	KiteAd *ad = kite_ad_new();
	kite_ad_set_int(ad, "ClusterId", cluster);
	kite_ad_set_int(ad, "ProcId", sqlite3_column_int64(st, 1));
	kite_ad_set_string(ad, "Owner", (const char *)sqlite3_column_text(st, 2));
	kite_ad_set_int(ad, "JobStatus", sqlite3_column_int(st, 5));
	for (guint i = 0; i < kite_ad_size(cad); i++)
		kite_ad_set(ad, kite_ad_name_at(cad, i), kite_ad_expr_at(cad, i));
	const char *proc_text = (const char *)sqlite3_column_text(st, 14);
	if (proc_text && *proc_text) {
		g_autoptr(GError) e = NULL;
		g_autoptr(KiteAd) pad = kite_ad_parse(proc_text, &e);
		if (pad)
			for (guint i = 0; i < kite_ad_size(pad); i++)
				kite_ad_set(ad, kite_ad_name_at(pad, i), kite_ad_expr_at(pad, i));
	}
	kite_ad_set_int(ad, "ClusterId", cluster);
	kite_ad_set_int(ad, "ProcId", sqlite3_column_int64(st, 1));
	kite_ad_set_string(ad, "Owner", (const char *)sqlite3_column_text(st, 2));
	kite_ad_set_int(ad, "QDate", sqlite3_column_int64(st, 3));
	kite_ad_set_int(ad, "RemoteWallClockTime", sqlite3_column_int64(st, 4));
	kite_ad_set_int(ad, "JobStatus", sqlite3_column_int(st, 5));
	kite_ad_set_int(ad, "JobPrio", sqlite3_column_int(st, 6));
	kite_ad_set_int(ad, "ImageSize", sqlite3_column_int64(st, 7));
	kite_ad_set_int(ad, "NumCheckpoints", sqlite3_column_int(st, 8));
	kite_ad_set_int(ad, "LastCheckpointTime", sqlite3_column_int64(st, 9));
	const char *host = (const char *)sqlite3_column_text(st, 10);
	if (host && *host)
		kite_ad_set_string(ad, "RemoteHost", host);
	const char *hold = (const char *)sqlite3_column_text(st, 12);
	if (hold && *hold) {
		kite_ad_set_string(ad, "HoldReason", hold);
		kite_ad_set_int(ad, "HoldReasonCode", sqlite3_column_int(st, 15));
	}
	kite_ad_set_int(ad, "EnteredCurrentStatus", sqlite3_column_int64(st, 13));
	if (history)
		kite_ad_set_int(ad, "CompletionDate", sqlite3_column_int64(st, 16));
	return ad;
}

/* Append " AND (…ids…)" to @sql and remember the values to bind.  Whole
 * clusters go in one IN list and single procs in a list of pairs: one
 * OR per id would nest deeper than SQLite allows (1000) for long lists. */
static gboolean add_id_clause(GString *sql, GArray *binds, const KiteJobId *ids, guint n_ids, GError **error)
{
	if (n_ids == 0)
		return TRUE;
	if (n_ids > MAX_IDS_PER_REQUEST)
		return kite_throw(error, KITE_ERROR_LIMIT,
				  "%u job ids in one request is over the limit of %d", n_ids,
				  MAX_IDS_PER_REQUEST);
	g_autoptr(GString) whole = g_string_new(NULL);
	g_autoptr(GString) single = g_string_new(NULL);
	g_autoptr(GArray) single_binds = g_array_new(FALSE, FALSE, sizeof(gint64));
	for (guint i = 0; i < n_ids; i++) {
		if (ids[i].proc < 0) {
			g_string_append(whole, whole->len ? ", ?" : "?");
			g_array_append_val(binds, ids[i].cluster);
		} else {
			g_string_append(single, single->len ? ", (?, ?)" : "(?, ?)");
			g_array_append_val(single_binds, ids[i].cluster);
			g_array_append_val(single_binds, ids[i].proc);
		}
	}
	g_array_append_vals(binds, single_binds->data, single_binds->len);
	g_string_append(sql, " AND (");
	if (whole->len)
		g_string_append_printf(sql, "cluster IN (%s)", whole->str);
	if (whole->len && single->len)
		g_string_append(sql, " OR ");
	if (single->len)
		g_string_append_printf(sql, "(cluster, proc) IN (VALUES %s)", single->str);
	g_string_append(sql, ")");
	return TRUE;
}

gboolean kite_queue_query(KiteQueue *q, const KiteQueueFilter *f, KiteQueueRowFunc func, gpointer user_data,
			  GError **error)
{
	g_autoptr(GString) sql = g_string_new("SELECT " JOB_COLUMNS " FROM ");
	g_string_append(sql, f->history ? "history WHERE 1" : "jobs WHERE 1");
	g_autoptr(GArray) binds = g_array_new(FALSE, FALSE, sizeof(gint64));
	if (f->owner && *f->owner)
		g_string_append(sql, " AND owner = ?1");
	if (f->status)
		g_string_append_printf(sql, " AND status = %d", f->status);
	/* Bind numbers start after the owner (?1). */
	if (!add_id_clause(sql, binds, f->ids, f->n_ids, error))
		return FALSE;
	g_string_append(sql, " ORDER BY cluster, proc");

	g_autoptr(sqlite3_stmt) st = prepare(q, sql->str, error);
	if (!st)
		return FALSE;
	int base = 1;
	if (f->owner && *f->owner) {
		sqlite3_bind_text(st, 1, f->owner, -1, SQLITE_STATIC);
		base = 2;
	}
	for (guint i = 0; i < binds->len; i++)
		sqlite3_bind_int64(st, base + i, g_array_index(binds, gint64, i));

	g_autoptr(GHashTable) clusters =
	    g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify)kite_ad_free);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		g_autoptr(KiteAd) ad = NULL;
		if (f->full_ad || f->constraint)
			ad = build_ad(q, clusters, st, f->history);
		if (f->constraint) {
			KiteValue v = KITE_VALUE_INIT;
			kite_expr_eval(f->constraint, ad, NULL, &v);
			gboolean keep = kite_value_is_true(&v);
			kite_value_clear(&v);
			if (!keep)
				continue;
		}
		KiteJobRow row = {
		    .cluster = sqlite3_column_int64(st, 0),
		    .proc = sqlite3_column_int64(st, 1),
		    .owner = (const char *)sqlite3_column_text(st, 2),
		    .qdate = sqlite3_column_int64(st, 3),
		    .run_time = sqlite3_column_int64(st, 4),
		    .status = sqlite3_column_int(st, 5),
		    .prio = sqlite3_column_int(st, 6),
		    .image_size = sqlite3_column_int64(st, 7),
		    .num_ckpts = sqlite3_column_int(st, 8),
		    .last_ckpt = sqlite3_column_int64(st, 9),
		    .host = (const char *)sqlite3_column_text(st, 10),
		    .cmd = (const char *)sqlite3_column_text(st, 11),
		    .hold_reason = (const char *)sqlite3_column_text(st, 12),
		    .entered_status = sqlite3_column_int64(st, 13),
		    .proc_ad = (const char *)sqlite3_column_text(st, 14),
		    .ad = f->full_ad ? ad : NULL,
		};
		func(&row, user_data);
	}
	if (rc != SQLITE_DONE)
		return db_error(q, error, "query");
	return TRUE;
}

typedef struct {
	KiteJobId id;
	char *owner;
	int status;
} Target;

/* Resolve @ids to existing jobs (a cluster id to all its procs); ids
 * that match nothing become failed results. */
static gboolean resolve(KiteQueue *q, const KiteJobId *ids, guint n_ids, GArray *targets, GArray *results,
			GError **error)
{
	if (n_ids > MAX_IDS_PER_REQUEST)
		return kite_throw(error, KITE_ERROR_LIMIT,
				  "%u job ids in one request is over the limit of %d", n_ids,
				  MAX_IDS_PER_REQUEST);
	g_autoptr(sqlite3_stmt) one =
	    prepare(q, "SELECT cluster, proc, owner, status FROM jobs WHERE cluster = ? AND proc = ?", error);
	g_autoptr(sqlite3_stmt) all = prepare(
	    q, "SELECT cluster, proc, owner, status FROM jobs WHERE cluster = ? ORDER BY proc", error);
	if (!one || !all)
		return FALSE;
	/* A job named twice (1.0 and 1) is acted on once. */
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < n_ids; i++) {
		sqlite3_stmt *st = ids[i].proc >= 0 ? one : all;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i].cluster);
		if (ids[i].proc >= 0)
			sqlite3_bind_int64(st, 2, ids[i].proc);
		gboolean found = FALSE;
		while (sqlite3_step(st) == SQLITE_ROW) {
			Target t = {
			    .id = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)},
			    .owner = g_strdup((const char *)sqlite3_column_text(st, 2)),
			    .status = sqlite3_column_int(st, 3),
			};
			found = TRUE;
			char *key = g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, t.id.cluster,
						    t.id.proc);
			if (!g_hash_table_add(seen, key)) {
				g_free(t.owner);
				continue;
			}
			g_array_append_val(targets, t);
		}
		if (!found) {
			KiteActResult r = {.id = ids[i], .ok = FALSE};
			r.message =
			    ids[i].proc >= 0
				? g_strdup_printf("job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " not found",
						  ids[i].cluster, ids[i].proc)
				: g_strdup_printf("cluster %" G_GINT64_FORMAT " not found", ids[i].cluster);
			g_array_append_val(results, r);
		}
	}
	return TRUE;
}

/* The one permission rule for changing a job: its owner, or an admin.
 * Returns the refusal for @t (job @name) or NULL when allowed. */
static char *refuse_other_owner(const Target *t, const char *name, const char *requester, gboolean is_admin)
{
	if (is_admin || g_strcmp0(t->owner, requester) == 0)
		return NULL;
	return g_strdup_printf("permission denied: job %s belongs to %s", name, t->owner);
}

static void target_clear(gpointer p)
{
	g_free(((Target *)p)->owner);
}

static GArray *new_results(void)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(KiteActResult));
	g_array_set_clear_func(a, (GDestroyNotify)kite_act_result_clear);
	return a;
}

static gboolean forget_secrets(KiteQueue *q, const KiteJobId *id, GError **error);

static gboolean step_done(KiteQueue *q, sqlite3_stmt *st, GError **error)
{
	gboolean ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	return ok ? TRUE : db_error(q, error, "update job");
}

static gboolean act_in_transaction(KiteQueue *q, KiteJobAction action, GArray *targets, GArray *results,
				   const char *requester, gboolean is_admin, const char *reason,
				   GError **error);

gboolean kite_queue_act_periodic(KiteQueue *q, KiteJobAction action, const KiteJobId *id, const char *reason,
				 GArray **out_results, GError **error)
{
	g_return_val_if_fail(action == KITE_ACTION_REMOVE || action == KITE_ACTION_HOLD || action == KITE_ACTION_RELEASE,
			     FALSE);
	return kite_queue_act(q, action, id, 1, NULL, TRUE, reason, out_results, error);
}

gboolean kite_queue_act(KiteQueue *q, KiteJobAction action, const KiteJobId *ids, guint n_ids,
			const char *requester, gboolean is_admin, const char *reason, GArray **out_results,
			GError **error)
{
	g_autoptr(GArray) results = new_results();
	g_autoptr(GArray) targets = g_array_new(FALSE, TRUE, sizeof(Target));
	g_array_set_clear_func(targets, target_clear);
	if (action < KITE_ACTION_REMOVE || action > KITE_ACTION_CHECKPOINT)
		return kite_throw(error, KITE_ERROR_INVALID, "unknown action %d", action);
	if (!exec(q, "BEGIN IMMEDIATE", error))
		return FALSE;
	if (!resolve(q, ids, n_ids, targets, results, error) ||
	    !act_in_transaction(q, action, targets, results, requester, is_admin, reason, error) ||
	    !exec(q, "COMMIT", error)) {
		exec(q, "ROLLBACK", NULL);
		return FALSE;
	}
	*out_results = g_steal_pointer(&results);
	return TRUE;
}

static gboolean act_in_transaction(KiteQueue *q, KiteJobAction action, GArray *targets, GArray *results,
				   const char *requester, gboolean is_admin, const char *reason,
				   GError **error)
{
	gint64 now = kite_now_wall();
	/* No requester: the schedd itself, for a job's periodic expression
	 * (Condor's HoldReasonCode 3; the reason says which expression). */
	g_autoptr(sqlite3_stmt) hold = prepare(q,
					       "UPDATE jobs SET status = 5, hold_reason = ?, hold_code = ?, "
					       "entered_status = ? WHERE cluster = ? AND proc = ?",
					       error);
	g_autoptr(sqlite3_stmt) release = prepare(q,
						  "UPDATE jobs SET status = 1, hold_reason = '', hold_code = "
						  "0, entered_status = ? WHERE cluster = ? AND proc = ?",
						  error);
	g_autoptr(sqlite3_stmt) to_history =
	    prepare(q,
		    "INSERT OR REPLACE INTO history SELECT cluster, proc, owner, 3, prio, qdate, ?, "
		    "run_time, image_size,"
		    " num_ckpts, last_ckpt, host, cmd, hold_reason, hold_code, ad || ?, ? FROM jobs"
		    " WHERE cluster = ? AND proc = ?",
		    error);
	g_autoptr(sqlite3_stmt) del = prepare(q, "DELETE FROM jobs WHERE cluster = ? AND proc = ?", error);
	if (!hold || !release || !to_history || !del)
		return FALSE;

	for (guint i = 0; i < targets->len; i++) {
		Target *t = &g_array_index(targets, Target, i);
		KiteActResult r = {.id = t->id, .ok = FALSE};
		g_autofree char *name =
		    g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, t->id.cluster, t->id.proc);
		r.message = refuse_other_owner(t, name, requester, is_admin);
		if (r.message) {
			/* refused; the message says why */
		} else if (action == KITE_ACTION_VACATE || action == KITE_ACTION_CHECKPOINT) {
			/* nothing changes here: the schedd asks the job's shadow */
			if (t->status != KITE_JOB_RUNNING)
				r.message = g_strdup_printf("job %s is not running (it is %s)", name,
							    kite_job_status_name(t->status));
			else {
				r.ok = TRUE;
				r.message = g_strdup_printf(action == KITE_ACTION_VACATE
								? "job %s: asked to checkpoint and leave its machine"
								: "job %s: asked to checkpoint",
							    name);
			}
		} else if (action == KITE_ACTION_HOLD) {
			if (t->status == KITE_JOB_HELD)
				r.message = g_strdup_printf("job %s is already held", name);
			else {
				const char *why = reason && *reason ? reason : "held by user";
				g_autofree char *full =
				    requester ? g_strdup_printf("%s (by %s)", why, requester) : g_strdup(why);
				sqlite3_bind_text(hold, 1, full, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int(hold, 2, requester ? 1 : 3);
				sqlite3_bind_int64(hold, 3, now);
				sqlite3_bind_int64(hold, 4, t->id.cluster);
				sqlite3_bind_int64(hold, 5, t->id.proc);
				if (!step_done(q, hold, error) || !insert_event(q, &t->id, "held", "", full, error))
					return FALSE;
				r.ok = TRUE;
				r.message = g_strdup_printf("job %s held", name);
			}
		} else if (action == KITE_ACTION_RELEASE) {
			if (t->status != KITE_JOB_HELD)
				r.message = g_strdup_printf("job %s is not held (it is %s)", name,
							    kite_job_status_name(t->status));
			else {
				sqlite3_bind_int64(release, 1, now);
				sqlite3_bind_int64(release, 2, t->id.cluster);
				sqlite3_bind_int64(release, 3, t->id.proc);
				const char *why = reason && *reason ? reason : "released by user";
				g_autofree char *by =
				    requester ? g_strdup_printf("%s (by %s)", why, requester) : g_strdup(why);
				if (!step_done(q, release, error) || !insert_event(q, &t->id, "released", "", by, error))
					return FALSE;
				r.ok = TRUE;
				r.message = g_strdup_printf("job %s released", name);
			}
		} else {
			g_autoptr(KiteExpr) why =
			    kite_expr_new_string(reason && *reason ? reason : "removed by user");
			g_autofree char *why_text = kite_expr_to_string(why);
			g_autoptr(KiteExpr) by = kite_expr_new_string(requester ? requester : "schedd");
			g_autofree char *by_text = kite_expr_to_string(by);
			g_autofree char *extra =
			    g_strdup_printf("RemoveReason = %s\nRemovedBy = %s\n", why_text, by_text);
			sqlite3_bind_int64(to_history, 1, now);
			sqlite3_bind_text(to_history, 2, extra, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(to_history, 3, now);
			sqlite3_bind_int64(to_history, 4, t->id.cluster);
			sqlite3_bind_int64(to_history, 5, t->id.proc);
			if (!step_done(q, to_history, error))
				return FALSE;
			sqlite3_bind_int64(del, 1, t->id.cluster);
			sqlite3_bind_int64(del, 2, t->id.proc);
			const char *why_removed = reason && *reason ? reason : "removed by user";
			g_autofree char *what = requester ? g_strdup_printf("%s (by %s)", why_removed, requester)
							  : g_strdup(why_removed);
			if (!step_done(q, del, error) || !forget_secrets(q, &t->id, error) ||
			    !insert_event(q, &t->id, "removed", "", what, error))
				return FALSE;
			r.ok = TRUE;
			r.message = g_strdup_printf("job %s removed", name);
		}
		g_array_append_val(results, r);
	}
	return TRUE;
}

static gboolean edit_in_transaction(KiteQueue *q, GArray *targets, GArray *results, const char *attr,
				    KiteExpr *e, gboolean is_prio, gint64 prio, const char *requester,
				    gboolean is_admin, GError **error);

gboolean kite_queue_edit(KiteQueue *q, const KiteJobId *ids, guint n_ids, const char *attr,
			 const char *expr_text, const char *requester, gboolean is_admin,
			 GArray **out_results, GError **error)
{
	if (!kite_ad_name_is_valid(attr))
		return kite_throw(error, KITE_ERROR_INVALID, "`%s` is not a valid attribute name", attr);
	const char *canonical;
	if ((canonical = in_list(maintained_attrs, attr)))
		return kite_throw(error, KITE_ERROR_PERMISSION,
				  "`%s` is maintained by the schedd and cannot be edited", canonical);
	if ((canonical = in_list(fixed_attrs, attr)))
		return kite_throw(error, KITE_ERROR_PERMISSION,
				  "`%s` is fixed at submission; remove the job and submit it again",
				  canonical);
	if (strlen(expr_text) > q->limits.max_attribute_size)
		return kite_throw(error, KITE_ERROR_LIMIT, "value of `%s` is over the limit of %zu bytes",
				  attr, q->limits.max_attribute_size);
	guint col = 0;
	g_autoptr(GError) perr = NULL;
	g_autoptr(KiteExpr) e = kite_expr_parse(expr_text, &col, &perr);
	if (!e)
		return kite_throw(error, KITE_ERROR_INVALID, "value of `%s`, column %u: %s", attr, col,
				  perr->message);
	gboolean is_prio = g_ascii_strcasecmp(attr, "JobPrio") == 0;
	KiteValue pv = KITE_VALUE_INIT;
	if (is_prio) {
		kite_expr_eval(e, NULL, NULL, &pv);
		if (pv.type != KITE_VALUE_INT) {
			kite_value_clear(&pv);
			return kite_throw(error, KITE_ERROR_INVALID, "`JobPrio` must be a whole number");
		}
	}

	g_autoptr(GArray) results = new_results();
	g_autoptr(GArray) targets = g_array_new(FALSE, TRUE, sizeof(Target));
	g_array_set_clear_func(targets, target_clear);
	if (!exec(q, "BEGIN IMMEDIATE", error))
		return FALSE;
	if (!resolve(q, ids, n_ids, targets, results, error) ||
	    !edit_in_transaction(q, targets, results, attr, e, is_prio, is_prio ? pv.i : 0, requester,
				 is_admin, error) ||
	    !exec(q, "COMMIT", error)) {
		exec(q, "ROLLBACK", NULL);
		return FALSE;
	}
	*out_results = g_steal_pointer(&results);
	return TRUE;
}

/* The ad in the first column of @st's next row (bound and reset by the
 * caller), or an empty one. */
static KiteAd *stored_ad(sqlite3_stmt *st)
{
	KiteAd *ad = sqlite3_step(st) == SQLITE_ROW ? kite_ad_parse((const char *)sqlite3_column_text(st, 0), NULL) : NULL;
	return ad ? ad : kite_ad_new();
}

static gboolean edit_in_transaction(KiteQueue *q, GArray *targets, GArray *results, const char *attr,
				    KiteExpr *e, gboolean is_prio, gint64 prio, const char *requester,
				    gboolean is_admin, GError **error)
{
	g_autoptr(sqlite3_stmt) get = prepare(q, "SELECT ad FROM jobs WHERE cluster = ? AND proc = ?", error);
	g_autoptr(sqlite3_stmt) set = prepare(q,
					      "UPDATE jobs SET ad = ?, prio = CASE WHEN ? THEN ? ELSE prio END, "
					      "cmd = COALESCE(?, cmd) WHERE cluster = ? AND proc = ?",
					      error);
	g_autoptr(sqlite3_stmt) get_cluster = prepare(q, "SELECT ad FROM clusters WHERE cluster = ?", error);
	if (!get || !set || !get_cluster)
		return FALSE;
	/* `q`'s CMD column (executable and arguments) is stored with the job:
	 * editing the arguments stores it again (Cmd itself is fixed). */
	gboolean shows_in_cmd = g_ascii_strcasecmp(attr, "Arguments") == 0;
	for (guint i = 0; i < targets->len; i++) {
		Target *t = &g_array_index(targets, Target, i);
		KiteActResult r = {.id = t->id, .ok = FALSE};
		g_autofree char *name =
		    g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, t->id.cluster, t->id.proc);
		if ((r.message = refuse_other_owner(t, name, requester, is_admin))) {
			g_array_append_val(results, r);
			continue;
		}
		sqlite3_reset(get);
		sqlite3_bind_int64(get, 1, t->id.cluster);
		sqlite3_bind_int64(get, 2, t->id.proc);
		g_autoptr(KiteAd) pad = stored_ad(get);
		kite_ad_set(pad, attr, e);
		g_autofree char *text = kite_ad_to_text(pad);
		g_autofree char *cmd = NULL;
		if (shows_in_cmd) {
			sqlite3_reset(get_cluster);
			sqlite3_bind_int64(get_cluster, 1, t->id.cluster);
			g_autoptr(KiteAd) full = stored_ad(get_cluster);
			for (guint a = 0; a < kite_ad_size(pad); a++)
				kite_ad_set(full, kite_ad_name_at(pad, a), kite_ad_expr_at(pad, a));
			cmd = command_line(full);
		}
		sqlite3_bind_text(set, 1, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(set, 2, is_prio);
		sqlite3_bind_int64(set, 3, prio);
		sqlite3_bind_text(set, 4, cmd, -1, SQLITE_TRANSIENT); /* NULL: unchanged */
		sqlite3_bind_int64(set, 5, t->id.cluster);
		sqlite3_bind_int64(set, 6, t->id.proc);
		if (!step_done(q, set, error))
			return FALSE;
		r.ok = TRUE;
		r.message = g_strdup_printf("job %s: %s set", name, attr);
		g_array_append_val(results, r);
	}
	return TRUE;
}

gint64 kite_queue_purge_history(KiteQueue *q, gint64 max_age)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, "DELETE FROM history WHERE completion_date < ?", NULL);
	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, kite_now_wall() - max_age);
	if (sqlite3_step(st) != SQLITE_DONE)
		return 0;
	gint64 n = sqlite3_changes(q->db);
	/* Clusters with no job left anywhere go too. */
	exec(q,
	     "DELETE FROM clusters WHERE cluster NOT IN (SELECT cluster FROM jobs)"
	     " AND cluster NOT IN (SELECT cluster FROM history)",
	     NULL);
	/* and the events and event-log paths of jobs that are nowhere any more */
	exec(q,
	     "DELETE FROM job_logs WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.cluster = job_logs.cluster AND "
	     "j.proc = job_logs.proc) AND NOT EXISTS (SELECT 1 FROM history h WHERE h.cluster = job_logs.cluster AND "
	     "h.proc = job_logs.proc)",
	     NULL);
	exec(q,
	     "DELETE FROM events WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.cluster = events.cluster AND "
	     "j.proc = events.proc) AND NOT EXISTS (SELECT 1 FROM history h WHERE h.cluster = events.cluster AND "
	     "h.proc = events.proc)",
	     NULL);
	return n;
}

void kite_queue_counts(KiteQueue *q, gint64 out_counts[8])
{
	memset(out_counts, 0, 8 * sizeof(gint64));
	g_autoptr(sqlite3_stmt) st = prepare(q, "SELECT status, count(*) FROM jobs GROUP BY status", NULL);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		int s = sqlite3_column_int(st, 0);
		if (s >= 0 && s < 8)
			out_counts[s] = sqlite3_column_int64(st, 1);
	}
}

/* ---- running jobs (the shadow's outcomes) ---- */

/* Run @sql with (@a…) bound as text/int64 per @fmt ('s' or 'x') and
 * require that it changed exactly one job. */
static gboolean update_one(KiteQueue *q, const KiteJobId *id, const char *what, const char *sql, const char *fmt,
			   ...)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, sql, NULL);
	if (!st)
		return FALSE;
	va_list ap;
	va_start(ap, fmt);
	int n = 1;
	for (const char *f = fmt; *f; f++, n++) {
		if (*f == 's')
			sqlite3_bind_text(st, n, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, n, va_arg(ap, gint64));
	}
	va_end(ap);
	sqlite3_bind_int64(st, n, id->cluster);
	sqlite3_bind_int64(st, n + 1, id->proc);
	if (sqlite3_step(st) != SQLITE_DONE) {
		g_warning("queue database %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
		return FALSE;
	}
	return sqlite3_changes(q->db) == 1;
}

gboolean kite_queue_begin(KiteQueue *q, GError **error)
{
	return exec(q, "BEGIN IMMEDIATE", error);
}

gboolean kite_queue_commit(KiteQueue *q, GError **error)
{
	if (exec(q, "COMMIT", error))
		return TRUE;
	exec(q, "ROLLBACK", NULL);
	return FALSE;
}

/* Overlay @attrs on the proc ad of job @id (which must be in @status):
 * the job's own record of what happened to it, shown by `q -l`.  With
 * @count, the integer attribute @count is incremented too. */
/* The proc ad of job @id if it is in @status (an empty one if it is
 * damaged), else NULL. */
static KiteAd *proc_ad(KiteQueue *q, const KiteJobId *id, int status)
{
	g_autoptr(sqlite3_stmt) st =
	    prepare(q, "SELECT ad FROM jobs WHERE cluster = ? AND proc = ? AND status = ?", NULL);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id->cluster);
	sqlite3_bind_int64(st, 2, id->proc);
	sqlite3_bind_int(st, 3, status);
	if (sqlite3_step(st) != SQLITE_ROW)
		return NULL;
	const char *text = (const char *)sqlite3_column_text(st, 0);
	KiteAd *ad = kite_ad_parse(text ? text : "", NULL);
	return ad ? ad : kite_ad_new();
}

static gboolean note_in_proc_ad(KiteQueue *q, const KiteJobId *id, int status, KiteAd *attrs, const char *count)
{
	g_autoptr(KiteAd) ad = proc_ad(q, id, status);
	if (!ad)
		return FALSE;
	if (count) {
		gint64 n = 0;
		kite_ad_get_int(ad, count, &n);
		kite_ad_set_int(ad, count, n + 1);
	}
	for (guint i = 0; i < kite_ad_size(attrs); i++)
		kite_ad_set(ad, kite_ad_name_at(attrs, i), kite_ad_expr_at(attrs, i));
	g_autofree char *out = kite_ad_to_text(ad);
	return update_one(q, id, "note job event", "UPDATE jobs SET ad = ? WHERE cluster = ? AND proc = ?", "s",
			  out);
}

/* A change that is its own transaction, or — inside a kite_queue_begin()
 * batch, whose commit then covers it — a savepoint, so that it is all
 * or nothing either way.  @name names the savepoint. */
static gboolean change_begin(KiteQueue *q, const char *name, gboolean *out_own, GError **error)
{
	*out_own = sqlite3_get_autocommit(q->db);
	g_autofree char *sql = *out_own ? g_strdup("BEGIN IMMEDIATE") : g_strdup_printf("SAVEPOINT %s", name);
	return exec(q, sql, error);
}

static gboolean change_end(KiteQueue *q, const char *name, gboolean own, gboolean ok, GError **error)
{
	g_autofree char *done = own ? g_strdup("COMMIT") : g_strdup_printf("RELEASE %s", name);
	if (ok && exec(q, done, error))
		return TRUE;
	g_autofree char *undo =
	    own ? g_strdup("ROLLBACK") : g_strdup_printf("ROLLBACK TO %s; RELEASE %s", name, name);
	exec(q, undo, NULL);
	return FALSE;
}

gboolean kite_queue_job_event(KiteQueue *q, const KiteJobId *id, const char *event, const char *host,
			      const char *detail, const KiteAd *attrs, GError **error)
{
	gboolean own;
	if (!change_begin(q, "job_event", &own, error))
		return FALSE;
	gboolean ok = insert_event(q, id, event, host, detail, error);
	g_autofree char *caps = NULL;
	if (ok && attrs && kite_ad_get_string(attrs, "CheckpointCaps", &caps)) {
		g_autoptr(sqlite3_stmt) put =
		    prepare(q, *caps ? "INSERT OR REPLACE INTO job_secrets VALUES(?, ?, ?)"
				     : "DELETE FROM job_secrets WHERE cluster = ? AND proc = ?",
			    error);
		ok = put != NULL;
		if (ok) {
			sqlite3_bind_int64(put, 1, id->cluster);
			sqlite3_bind_int64(put, 2, id->proc);
			if (*caps)
				sqlite3_bind_text(put, 3, caps, -1, SQLITE_STATIC);
			ok = sqlite3_step(put) == SQLITE_DONE || db_error(q, error, "keep a job's checkpoint capabilities");
		}
	}
	if (ok && attrs && kite_ad_size(attrs) > 0) {
		g_autoptr(KiteAd) copy = kite_ad_copy(attrs);
		kite_ad_remove(copy, "CheckpointCaps");
		gboolean ckpt = g_str_equal(event, "checkpoint");
		ok = note_in_proc_ad(q, id, KITE_JOB_RUNNING, copy, ckpt ? "NumCheckpoints" : NULL);
		gint64 when = 0, size = 0;
		if (ok && ckpt && kite_ad_get_int(attrs, "LastCheckpointTime", &when) &&
		    kite_ad_get_int(attrs, "CheckpointSize", &size))
			ok = update_one(q, id, "record a checkpoint",
					"UPDATE jobs SET num_ckpts = num_ckpts + 1, last_ckpt = ?, image_size = ? "
					"WHERE cluster = ? AND proc = ?",
					"xx", when, (size + 1023) / 1024); /* KiB, as Condor's ImageSize */
		if (!ok)
			kite_throw(error, KITE_ERROR_STATE, "job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " is not running",
				   id->cluster, id->proc);
	}
	return change_end(q, "job_event", own, ok, error);
}

char *kite_queue_job_ckpt_caps(KiteQueue *q, const KiteJobId *id)
{
	g_autoptr(sqlite3_stmt) st =
	    prepare(q, "SELECT ckpt_caps FROM job_secrets WHERE cluster = ? AND proc = ?", NULL);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id->cluster);
	sqlite3_bind_int64(st, 2, id->proc);
	if (sqlite3_step(st) != SQLITE_ROW)
		return NULL;
	return g_strdup((const char *)sqlite3_column_text(st, 0));
}

gboolean kite_queue_job_events(KiteQueue *q, const KiteJobId *id, KiteQueueEventFunc func, gpointer data,
			       GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(
	    q, "SELECT time, event, host, detail FROM events WHERE cluster = ? AND proc = ? ORDER BY rowid", error);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, id->cluster);
	sqlite3_bind_int64(st, 2, id->proc);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		func(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
		     (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3), data);
	return rc == SQLITE_DONE || db_error(q, error, "read job events");
}

gboolean kite_queue_logged_events(KiteQueue *q, gint64 after, gint64 upto, guint limit, KiteQueueLoggedEventFunc func,
				  gpointer data, GError **error)
{
	g_autoptr(sqlite3_stmt) st =
	    prepare(q,
		    "SELECT e.rowid, e.cluster, e.proc, e.time, e.event, e.host, e.detail, l.owner, l.path "
		    "FROM events e JOIN job_logs l ON l.cluster = e.cluster AND l.proc = e.proc "
		    "WHERE e.rowid > ? AND e.rowid <= ? ORDER BY e.rowid LIMIT ?",
		    error);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, upto);
	sqlite3_bind_int64(st, 3, limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		KiteLoggedEvent ev = {
		    .row = sqlite3_column_int64(st, 0),
		    .id = {.cluster = sqlite3_column_int64(st, 1), .proc = sqlite3_column_int64(st, 2)},
		    .time = sqlite3_column_int64(st, 3),
		    .event = (const char *)sqlite3_column_text(st, 4),
		    .host = (const char *)sqlite3_column_text(st, 5),
		    .detail = (const char *)sqlite3_column_text(st, 6),
		    .owner = (const char *)sqlite3_column_text(st, 7),
		    .path = (const char *)sqlite3_column_text(st, 8),
		};
		func(&ev, data);
	}
	return rc == SQLITE_DONE || db_error(q, error, "read job events");
}

GArray *kite_queue_periodic_candidates(KiteQueue *q, GError **error)
{
	/* Text search, not ads: most queues have no such job, and building
	 * 100,000 full ads every minute to find out would stall the loop. */
	g_autoptr(sqlite3_stmt) st =
	    prepare(q,
		    "SELECT j.cluster, j.proc FROM jobs j JOIN clusters c ON c.cluster = j.cluster "
		    "WHERE instr(c.ad, 'Periodic') > 0 OR instr(j.ad, 'Periodic') > 0",
		    error);
	if (!st)
		return NULL;
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(KiteJobId));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		KiteJobId id = {.cluster = sqlite3_column_int64(st, 0), .proc = sqlite3_column_int64(st, 1)};
		g_array_append_val(ids, id);
	}
	if (rc != SQLITE_DONE) {
		db_error(q, error, "find jobs with periodic expressions");
		return NULL;
	}
	return g_steal_pointer(&ids);
}

gint64 kite_queue_last_event(KiteQueue *q)
{
	return scalar(q, "SELECT coalesce(max(rowid), 0) FROM events", NULL);
}

gint64 kite_queue_meta_get(KiteQueue *q, const char *key, gint64 fallback)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, "SELECT value FROM meta WHERE key = ?", NULL);
	if (!st)
		return fallback;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : fallback;
}

gboolean kite_queue_meta_set(KiteQueue *q, const char *key, gint64 value, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, "INSERT OR REPLACE INTO meta VALUES(?, ?)", error);
	if (!st)
		return FALSE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	return sqlite3_step(st) == SQLITE_DONE || db_error(q, error, "store a meta value");
}

static gboolean forget_claim(KiteQueue *q, const KiteJobId *id, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, "DELETE FROM job_claims WHERE cluster = ? AND proc = ?", error);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, id->cluster);
	sqlite3_bind_int64(st, 2, id->proc);
	return step_done(q, st, error);
}

gboolean kite_queue_forget_claim(KiteQueue *q, const char *claim, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, "DELETE FROM job_claims WHERE claim = ?", error);
	if (!st)
		return FALSE;
	sqlite3_bind_text(st, 1, claim, -1, SQLITE_STATIC);
	return step_done(q, st, error);
}

gboolean kite_queue_set_claim(KiteQueue *q, const KiteJobId *id, const char *claim, const char *slot_ad,
			      GError **error)
{
	/* one row per claim: its current job's */
	if (!kite_queue_forget_claim(q, claim, error))
		return FALSE;
	g_autoptr(sqlite3_stmt) st = prepare(q, "INSERT OR REPLACE INTO job_claims VALUES(?, ?, ?, ?)", error);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, id->cluster);
	sqlite3_bind_int64(st, 2, id->proc);
	sqlite3_bind_text(st, 3, claim, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, slot_ad, -1, SQLITE_STATIC);
	return step_done(q, st, error);
}

gboolean kite_queue_left_claims(KiteQueue *q, KiteQueueClaimFunc func, gpointer data, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(
	    q,
	    "SELECT c.cluster, c.proc, c.claim, c.slot_ad FROM job_claims c WHERE NOT EXISTS (SELECT 1 FROM jobs j "
	    "WHERE j.cluster = c.cluster AND j.proc = c.proc AND j.status = 2)",
	    error);
	if (!st)
		return FALSE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		KiteJobId id = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
		func(&id, (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3), data);
	}
	if (rc != SQLITE_DONE)
		return db_error(q, error, "read the claims left");
	return exec(q,
		    "DELETE FROM job_claims WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.cluster = job_claims.cluster "
		    "AND j.proc = job_claims.proc AND j.status = 2)",
		    error);
}

gboolean kite_queue_job_claim(KiteQueue *q, const KiteJobId *id, char **out_claim, char **out_slot_ad)
{
	g_autoptr(sqlite3_stmt) st = prepare(
	    q,
	    "SELECT c.claim, c.slot_ad FROM job_claims c JOIN jobs j ON j.cluster = c.cluster AND j.proc = c.proc "
	    "WHERE c.cluster = ? AND c.proc = ? AND j.status = 2",
	    NULL);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, id->cluster);
	sqlite3_bind_int64(st, 2, id->proc);
	if (sqlite3_step(st) != SQLITE_ROW)
		return FALSE;
	*out_claim = g_strdup((const char *)sqlite3_column_text(st, 0));
	*out_slot_ad = g_strdup((const char *)sqlite3_column_text(st, 1));
	return TRUE;
}

gboolean kite_queue_set_running(KiteQueue *q, const KiteJobId *id, const char *host)
{
	gint64 now = kite_now_wall();
	if (!update_one(q, id, "start job",
			"UPDATE jobs SET status = 2, host = ?, entered_status = ? "
			"WHERE status = 1 AND cluster = ? AND proc = ?",
			"sx", host, now))
		return FALSE;
	/* an earlier run's claim is not this run's */
	forget_claim(q, id, NULL);
	g_autoptr(KiteAd) attrs = kite_ad_new();
	kite_ad_set_int(attrs, "JobCurrentStartDate", now);
	note_in_proc_ad(q, id, KITE_JOB_RUNNING, attrs, "NumShadowStarts");
	return TRUE;
}

gboolean kite_queue_note_usage(KiteQueue *q, const KiteJobId *id, const KiteRunUsage *usage, GError **error)
{
	g_autoptr(KiteAd) ad = proc_ad(q, id, KITE_JOB_RUNNING);
	if (!ad)
		return kite_throw(error, KITE_ERROR_STATE, "job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " is not running",
				  id->cluster, id->proc);
	gint64 rss = 0, mib = 0;
	double user = 0, sys = 0;
	kite_ad_get_int(ad, "ResidentSetSize", &rss);
	kite_ad_get_int(ad, "MemoryUsage", &mib);
	kite_ad_get_real(ad, "RemoteUserCpu", &user);
	kite_ad_get_real(ad, "RemoteSysCpu", &sys);
	/* Peaks keep the highest run's (rounded up, as Condor's are);
	 * CPU adds up over every run the job had. */
	g_autoptr(KiteAd) attrs = kite_ad_new();
	kite_ad_set_int(attrs, "MemoryUsage", MAX(mib, (usage->memory_peak + 1048575) / 1048576));
	kite_ad_set_int(attrs, "ResidentSetSize", MAX(rss, (usage->memory_peak + 1023) / 1024));
	kite_ad_set_real(attrs, "RemoteUserCpu", user + usage->user_cpu);
	kite_ad_set_real(attrs, "RemoteSysCpu", sys + usage->sys_cpu);
	return note_in_proc_ad(q, id, KITE_JOB_RUNNING, attrs, NULL) ||
	       kite_throw(error, KITE_ERROR_IO, "cannot record the usage of job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
			  id->cluster, id->proc);
}

gboolean kite_queue_set_idle(KiteQueue *q, const KiteJobId *id, gint64 wall_seconds, const char *reason,
			     gboolean retry)
{
	g_autoptr(KiteAd) attrs = kite_ad_new();
	gint64 now = kite_now_wall();
	kite_ad_set_string(attrs, "LastRequeueReason", reason ? reason : "");
	kite_ad_set_int(attrs, "LastRequeueTime", now);
	{
		g_autoptr(sqlite3_stmt) st =
		    prepare(q, "SELECT host FROM jobs WHERE cluster = ? AND proc = ? AND status = 2", NULL);
		if (st) {
			sqlite3_bind_int64(st, 1, id->cluster);
			sqlite3_bind_int64(st, 2, id->proc);
			if (sqlite3_step(st) == SQLITE_ROW)
				kite_ad_set_string(attrs, "LastRemoteHost",
						   (const char *)sqlite3_column_text(st, 0));
		}
	}
	if (!note_in_proc_ad(q, id, KITE_JOB_RUNNING, attrs, retry ? "NumRetries" : NULL))
		return FALSE;
	return update_one(q, id, "requeue job",
			  "UPDATE jobs SET status = 1, host = '', entered_status = ?, run_time = run_time + ? "
			  "WHERE status = 2 AND cluster = ? AND proc = ?",
			  "xx", now, wall_seconds);
}

/* A job that left the queue needs no checkpoint space any more (its
 * lease lets the server reclaim it). */
static gboolean forget_secrets(KiteQueue *q, const KiteJobId *id, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, "DELETE FROM job_secrets WHERE cluster = ? AND proc = ?", error);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, id->cluster);
	sqlite3_bind_int64(st, 2, id->proc);
	return step_done(q, st, error);
}

gboolean kite_queue_complete(KiteQueue *q, const KiteJobId *id, const KiteJobExit *exit, GError **error)
{
	gint64 now = kite_now_wall();
	g_autofree char *extra =
	    exit->signal > 0
		? g_strdup_printf("\nExitBySignal = true\nExitSignal = %d\n", exit->signal)
		: g_strdup_printf("\nExitBySignal = false\nExitCode = %d\n", exit->code);
	gboolean own;
	if (!change_begin(q, "complete", &own, error))
		return FALSE;
	g_autoptr(sqlite3_stmt) ins =
	    prepare(q,
		    "INSERT OR REPLACE INTO history SELECT cluster, proc, owner, 4, prio, qdate, ?, "
		    "run_time + ?, image_size, num_ckpts, last_ckpt, host, cmd, hold_reason, hold_code, "
		    "ad || ?, ? FROM jobs WHERE cluster = ? AND proc = ? AND status = 2",
		    error);
	g_autoptr(sqlite3_stmt) del =
	    prepare(q, "DELETE FROM jobs WHERE cluster = ? AND proc = ? AND status = 2", error);
	gboolean ok = ins && del;
	if (ok) {
		sqlite3_bind_int64(ins, 1, now);
		sqlite3_bind_int64(ins, 2, exit->wall_seconds);
		sqlite3_bind_text(ins, 3, extra, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, now);
		sqlite3_bind_int64(ins, 5, id->cluster);
		sqlite3_bind_int64(ins, 6, id->proc);
		ok = step_done(q, ins, error);
	}
	if (ok && sqlite3_changes(q->db) != 1) {
		ok = kite_throw(error, KITE_ERROR_NOT_FOUND,
				"job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " is not running (removed?)",
				id->cluster, id->proc);
	}
	if (ok) {
		sqlite3_bind_int64(del, 1, id->cluster);
		sqlite3_bind_int64(del, 2, id->proc);
		ok = step_done(q, del, error);
	}
	if (ok)
		ok = forget_secrets(q, id, error);
	return change_end(q, "complete", own, ok, error);
}

gint64 kite_queue_requeue_running(KiteQueue *q)
{
	g_autoptr(sqlite3_stmt) st =
	    prepare(q,
		    "UPDATE jobs SET status = 1, host = '', entered_status = ? WHERE status = 2 AND NOT EXISTS "
		    "(SELECT 1 FROM job_claims c WHERE c.cluster = jobs.cluster AND c.proc = jobs.proc)",
		    NULL);
	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, kite_now_wall());
	if (sqlite3_step(st) != SQLITE_DONE)
		return 0;
	return sqlite3_changes(q->db);
}

gboolean kite_queue_hold_running(KiteQueue *q, const KiteJobId *id, const char *reason, int code,
				 gint64 wall_seconds)
{
	return update_one(q, id, "hold job",
			  "UPDATE jobs SET status = 5, host = '', hold_reason = ?, hold_code = ?, "
			  "entered_status = ?, run_time = run_time + ? WHERE status = 2 AND cluster = ? AND proc = ?",
			  "sxxx", reason, (gint64)code, kite_now_wall(), wall_seconds);
}

/* ---- accounting (accounting.c): fair-share usage, machines' runs ---- */

gboolean kite_queue_owner_counts(KiteQueue *q, KiteQueueOwnerCountFunc func, gpointer data, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(
	    q, "SELECT owner, status, count(*) FROM jobs GROUP BY owner, status ORDER BY owner", error);
	if (!st)
		return FALSE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		func((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
		     sqlite3_column_int64(st, 2), data);
	return rc == SQLITE_DONE || db_error(q, error, "count jobs per owner");
}

/* The accounting tables hold records of one shape: (name, real, integer). */
static gboolean store_record(KiteQueue *q, const char *sql, const char *name, double real, gint64 integer,
			     const char *what, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, sql, error);
	if (!st)
		return FALSE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, real);
	sqlite3_bind_int64(st, 3, integer);
	return sqlite3_step(st) == SQLITE_DONE || db_error(q, error, what);
}

static gboolean load_records(KiteQueue *q, const char *sql, KiteQueueRecordFunc func, gpointer data,
			     const char *what, GError **error)
{
	g_autoptr(sqlite3_stmt) st = prepare(q, sql, error);
	if (!st)
		return FALSE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		func((const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1),
		     sqlite3_column_int64(st, 2), data);
	return rc == SQLITE_DONE || db_error(q, error, what);
}

gboolean kite_queue_usage_store(KiteQueue *q, const char *owner, double usage, gint64 updated, GError **error)
{
	return store_record(q, "INSERT OR REPLACE INTO usage VALUES(?, ?, ?)", owner, usage, updated,
			    "store a user's usage", error);
}

gboolean kite_queue_usage_load(KiteQueue *q, KiteQueueRecordFunc func, gpointer data, GError **error)
{
	return load_records(q, "SELECT owner, usage, updated FROM usage ORDER BY owner", func, data,
			    "read the users' usage", error);
}

gboolean kite_queue_machine_runs_store(KiteQueue *q, const char *machine, double seconds, gint64 evictions,
				       GError **error)
{
	return store_record(q, "INSERT OR REPLACE INTO machine_runs VALUES(?, ?, ?)", machine, seconds,
			    evictions, "store a machine's runs", error);
}

gboolean kite_queue_machine_runs_load(KiteQueue *q, KiteQueueRecordFunc func, gpointer data, GError **error)
{
	return load_records(q, "SELECT machine, seconds, evictions FROM machine_runs ORDER BY machine", func,
			    data, "read the machines' runs", error);
}
