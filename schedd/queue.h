/* queue.h — the durable job queue: an SQLite database in WAL mode with
 * synchronous=FULL, so that a job acknowledged to a user is on disk and
 * a schedd killed at any instant loses none and duplicates none.
 *
 * Storage follows Condor's cluster/proc split: a submission stores its
 * template ad once (clusters table) and one row per proc (jobs table)
 * with the proc's own attributes (ProcId, strings that $(Process)
 * changed, edits) and the dynamic state in columns.  The full job ad is
 * the cluster ad, overlaid by the proc ad, overlaid by the columns.
 * Finished and removed jobs move to the history table.
 *
 * Permission checks live here too (owner or admin), so that every path
 * that changes a job goes through one place. */
#pragma once

#include <glib.h>

#include "ad.h"
#include "job.h"

G_BEGIN_DECLS

typedef struct {
	gint64 max_per_submit;
	gint64 max_per_owner;
	gint64 max_total;
	gsize max_attribute_size;
} KiteQueueLimits;

typedef struct _KiteQueue KiteQueue;

KiteQueue *kite_queue_open(const char *path, const KiteQueueLimits *limits, GError **error);
void kite_queue_close(KiteQueue *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteQueue, kite_queue_close)

/* Store a new cluster of @count procs from @tmpl for @owner in one
 * durable transaction; writes the new cluster id.  Over a limit, or
 * with a bad attribute, nothing is stored. */
gboolean kite_queue_submit(KiteQueue *q, const KiteAd *tmpl, guint count, const char *owner,
			   gint64 *out_cluster, GError **error);

typedef struct {
	const char *owner;    /* NULL or "" = everyone */
	const KiteJobId *ids; /* proc -1 = whole cluster */
	guint n_ids;
	int status;		    /* 0 = any */
	const KiteExpr *constraint; /* NULL = none */
	gboolean history;	    /* query the history instead of the queue */
	gboolean full_ad;	    /* fill KiteJobRow.ad */
} KiteQueueFilter;

/* What a query returns per job.  Strings and the ad are borrowed for
 * the duration of the callback. */
typedef struct {
	gint64 cluster, proc;
	const char *owner;
	gint64 qdate;
	gint64 run_time;
	int status;
	int prio;
	gint64 image_size;
	int num_ckpts;
	gint64 last_ckpt;
	const char *host;
	const char *cmd;
	const char *hold_reason;
	gint64 entered_status;
	const KiteAd *ad; /* NULL unless full_ad (or a constraint needed it) */
	const char *proc_ad; /* the proc's own attributes as stored (text); with the
			      * cluster id and the columns it decides the full ad */
} KiteJobRow;

typedef void (*KiteQueueRowFunc)(const KiteJobRow *row, gpointer user_data);

gboolean kite_queue_query(KiteQueue *q, const KiteQueueFilter *filter, KiteQueueRowFunc func,
			  gpointer user_data, GError **error);

/* Per-job outcome of an action or edit. */
typedef struct {
	KiteJobId id;
	gboolean ok;
	char *message; /* why not, or what happened */
} KiteActResult;

void kite_act_result_clear(KiteActResult *r);

/* Remove, hold or release the jobs @ids as @requester (@is_admin may
 * touch any job).  Every job is reported in @out_results (a GArray of
 * KiteActResult, caller frees).  One transaction for all. */
gboolean kite_queue_act(KiteQueue *q, KiteJobAction action, const KiteJobId *ids, guint n_ids,
			const char *requester, gboolean is_admin, const char *reason, GArray **out_results,
			GError **error);

/* The same for one job, by the schedd itself because the job's own
 * periodic expression said so (periodic.c): held with Condor's
 * HoldReasonCode 3, and @reason (which expression) without "by". */
gboolean kite_queue_act_periodic(KiteQueue *q, KiteJobAction action, const KiteJobId *id, const char *reason,
				 GArray **out_results, GError **error);

/* Set @attr to @expr_text on the jobs @ids.  Refuses attributes the
 * schedd owns (Owner, ClusterId, ProcId, JobStatus, QDate, …). */
gboolean kite_queue_edit(KiteQueue *q, const KiteJobId *ids, guint n_ids, const char *attr,
			 const char *expr_text, const char *requester, gboolean is_admin,
			 GArray **out_results, GError **error);

/* Drop history older than @max_age seconds; returns how many rows. */
gint64 kite_queue_purge_history(KiteQueue *q, gint64 max_age);

/* Counts by status of the live queue (index = status code, 0..7). */
void kite_queue_counts(KiteQueue *q, gint64 out_counts[8]);

/* ---- running jobs ---- */

/* How a job's run ended (the shadow's report). */
typedef struct {
	int code;	     /* exit code, when not killed by a signal */
	int signal;	     /* > 0: killed by this signal */
	gint64 wall_seconds; /* how long it ran */
} KiteJobExit;

/* Group the single-job updates below into one transaction (one fsync
 * for a whole negotiation cycle, or for the outcomes of every shadow
 * that ended meanwhile).  kite_queue_complete() and
 * kite_queue_job_event() are their own transaction outside such a batch
 * and a savepoint inside one. */
gboolean kite_queue_begin(KiteQueue *q, GError **error);
gboolean kite_queue_commit(KiteQueue *q, GError **error);

/* Idle -> Running on @host (a slot name), counting NumShadowStarts and
 * setting JobCurrentStartDate.  FALSE if the job is not idle any more
 * (removed or held meanwhile) or the update failed. */
gboolean kite_queue_set_running(KiteQueue *q, const KiteJobId *id, const char *host);
/* What one run of a job used, as its startd measured it (the job's
 * cgroup). */
typedef struct {
	gint64 memory_peak; /* bytes */
	double user_cpu, sys_cpu; /* seconds */
} KiteRunUsage;

/* Record @usage in the ad of running job @id: MemoryUsage (MiB) and
 * ResidentSetSize (KiB) keep the highest peak of its runs, RemoteUserCpu
 * and RemoteSysCpu (seconds) add up over them.  FALSE if the job is not
 * running. */
gboolean kite_queue_note_usage(KiteQueue *q, const KiteJobId *id, const KiteRunUsage *usage, GError **error);
/* Running -> Idle (the run was lost or vacated), adding @wall_seconds
 * to RemoteWallClockTime and recording LastRequeueReason (@reason),
 * LastRequeueTime and LastRemoteHost; with @retry (the run failed and
 * counts against MaxRetries) NumRetries goes up by one.  FALSE if the
 * job was not running. */
gboolean kite_queue_set_idle(KiteQueue *q, const KiteJobId *id, gint64 wall_seconds, const char *reason,
			     gboolean retry);
/* Running -> Completed: the job moves to the history with status 4,
 * ExitCode (or ExitBySignal/ExitSignal), CompletionDate and
 * RemoteWallClockTime, in one durable transaction. */
gboolean kite_queue_complete(KiteQueue *q, const KiteJobId *id, const KiteJobExit *exit, GError **error);
/* Running -> Held by the system (a fault a person must fix): @reason
 * and Condor's HoldReasonCode @code. */
gboolean kite_queue_hold_running(KiteQueue *q, const KiteJobId *id, const char *reason, int code,
				 gint64 wall_seconds);
/* Every Running job without a recorded claim back to Idle (a schedd
 * starting has no shadows; those with a claim are reconnected to, see
 * kite_queue_job_claim()), and the claims of jobs not Running
 * forgotten; returns how many jobs were requeued. */
gint64 kite_queue_requeue_running(KiteQueue *q);

/* The claim running job @id runs on (its id, a secret like
 * CheckpointCaps that no query shows, and the text of the slot's ad
 * when it was matched), recorded before its shadow starts, so that a
 * restarted schedd can reconnect to the job (docs/running-jobs.md,
 * "Schedd restarts").  kite_queue_set_running() forgets an earlier
 * run's claim, and recording a claim's next job forgets its last. */
gboolean kite_queue_set_claim(KiteQueue *q, const KiteJobId *id, const char *claim, const char *slot_ad,
			      GError **error);
/* FALSE when @id is not Running or has no recorded claim; else both
 * strings, newly allocated. */
gboolean kite_queue_job_claim(KiteQueue *q, const KiteJobId *id, char **out_claim, char **out_slot_ad);
/* The claim @claim is gone (its shadow released it or lost it). */
gboolean kite_queue_forget_claim(KiteQueue *q, const char *claim, GError **error);
typedef void (*KiteQueueClaimFunc)(const KiteJobId *id, const char *claim, const char *slot_ad, gpointer data);
/* A starting schedd: each recorded claim whose job is not Running any
 * more (its shadow had reported the outcome and was waiting for the
 * owner's next job when the schedd went, and left the claim to the job
 * lease), for @func to release; then they are forgotten. */
gboolean kite_queue_left_claims(KiteQueue *q, KiteQueueClaimFunc func, gpointer data, GError **error);

/* Record @event ("started", "suspended", "running", "checkpoint",
 * "vacated", "exited", …) of running job @id on @host, in its own
 * transaction, and overlay @attrs (may be NULL) on its ad; a
 * "checkpoint" event also counts the checkpoint and sets the queue's
 * last checkpoint time and image size (LastCheckpointTime,
 * CheckpointSize in @attrs). */
gboolean kite_queue_job_event(KiteQueue *q, const KiteJobId *id, const char *event, const char *host,
			      const char *detail, const KiteAd *attrs, GError **error);

/* The capabilities of job @id's checkpoint space (a caps file's text,
 * recorded from a "checkpoint" event's CheckpointCaps, which never goes
 * into the job's ad), or NULL. */
char *kite_queue_job_ckpt_caps(KiteQueue *q, const KiteJobId *id);

typedef void (*KiteQueueEventFunc)(gint64 time, const char *event, const char *host, const char *detail,
				   gpointer data);

/* An event of a job that has an event log (job file key `log`). */
typedef struct {
	gint64 row; /* the event's position in the table, increasing */
	KiteJobId id;
	gint64 time;
	const char *event, *host, *detail;
	const char *owner, *path; /* the job's owner and its event log */
} KiteLoggedEvent;
typedef void (*KiteQueueLoggedEventFunc)(const KiteLoggedEvent *ev, gpointer data);
/* The events recorded at rows (@after, @upto] of jobs with an event log,
 * oldest first, at most @limit (for the event-log writer, userlog.c). */
gboolean kite_queue_logged_events(KiteQueue *q, gint64 after, gint64 upto, guint limit, KiteQueueLoggedEventFunc func,
				  gpointer data, GError **error);
/* The jobs in the queue that may have periodic expressions (their ads
 * mention one; the caller evaluates), for periodic.c. */
GArray *kite_queue_periodic_candidates(KiteQueue *q, GError **error);
/* The position of the newest event (0: none). */
gint64 kite_queue_last_event(KiteQueue *q);
/* A number kept in the queue's meta table under @key (not one of the
 * queue's own keys), or @fallback. */
gint64 kite_queue_meta_get(KiteQueue *q, const char *key, gint64 fallback);
gboolean kite_queue_meta_set(KiteQueue *q, const char *key, gint64 value, GError **error);

/* Every recorded event of job @id, oldest first. */
gboolean kite_queue_job_events(KiteQueue *q, const KiteJobId *id, KiteQueueEventFunc func, gpointer data,
			       GError **error);

/* ---- accounting (schedd/accounting.c) ---- */

/* How many jobs of each owner are in the live queue in each status, by
 * owner. */
typedef void (*KiteQueueOwnerCountFunc)(const char *owner, int status, gint64 count, gpointer data);
gboolean kite_queue_owner_counts(KiteQueue *q, KiteQueueOwnerCountFunc func, gpointer data, GError **error);

/* A record of the accounting tables: (owner, usage, updated) or
 * (machine, seconds, evictions). */
typedef void (*KiteQueueRecordFunc)(const char *name, double real, gint64 integer, gpointer data);

/* @owner's fair-share usage: @usage seconds as of wall time @updated
 * (it decays from then on).  Inside a kite_queue_begin() batch it
 * shares the batch's commit; outside one it is its own transaction. */
gboolean kite_queue_usage_store(KiteQueue *q, const char *owner, double usage, gint64 updated,
				GError **error);
/* Every owner's stored usage, by owner. */
gboolean kite_queue_usage_load(KiteQueue *q, KiteQueueRecordFunc func, gpointer data, GError **error);

/* What the schedd has seen of @machine (case-folded): @seconds of runs,
 * @evictions of them evicted.  Transactions as kite_queue_usage_store(). */
gboolean kite_queue_machine_runs_store(KiteQueue *q, const char *machine, double seconds, gint64 evictions,
				       GError **error);
/* Every machine's stored runs, by machine. */
gboolean kite_queue_machine_runs_load(KiteQueue *q, KiteQueueRecordFunc func, gpointer data, GError **error);

G_END_DECLS
