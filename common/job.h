/* job.h — job vocabulary shared by the schedd and the tools: status
 * codes (Condor's JobStatus numbers, which pool users know), actions,
 * job ids. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Condor's JobStatus codes, which pool users know. */
typedef enum {
	KITE_JOB_IDLE = 1,
	KITE_JOB_RUNNING = 2,
	KITE_JOB_REMOVED = 3,
	KITE_JOB_COMPLETED = 4,
	KITE_JOB_HELD = 5,
	KITE_JOB_SUSPENDED = 7,
} KiteJobStatus;

/* In the mode of a file sent with ACTIVATE: an output an earlier run of
 * the job left when it was vacated (spooled by the shadow), going back
 * into the sandbox of the run that resumes from the checkpoint.  The
 * startd does not count it as an input, so it comes home at the end like
 * any output. */
#define KITE_FILE_SPOOLED 0x80000000u

/* The longest job lease (JobLeaseDuration, seconds) a job may have: the
 * job file refuses more, and a startd grants no more whatever the ad
 * says (docs/running-jobs.md, "Schedd restarts"). */
#define KITE_JOB_LEASE_MAX (30 * 86400)

/* One letter for `q`'s ST column. */
char kite_job_status_letter(int status);
const char *kite_job_status_name(int status);

typedef enum {
	KITE_ACTION_REMOVE = 1,
	KITE_ACTION_HOLD = 2,
	KITE_ACTION_RELEASE = 3,
	KITE_ACTION_VACATE = 4,	    /* a running job: checkpoint now and leave the machine */
	KITE_ACTION_CHECKPOINT = 5, /* a running job: checkpoint now and go on */
} KiteJobAction;

/* A job id CLUSTER.PROC; proc -1 stands for every proc of the cluster. */
typedef struct {
	gint64 cluster, proc;
} KiteJobId;

/* GHashTable functions for keys that point to a KiteJobId. */
guint kite_job_id_hash(gconstpointer id);
gboolean kite_job_id_equal(gconstpointer a, gconstpointer b);

G_END_DECLS
