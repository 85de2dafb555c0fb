/* job.c — names of job states; see job.h. */
#include "job.h"

char kite_job_status_letter(int status)
{
	switch (status) {
	case KITE_JOB_IDLE:
		return 'I';
	case KITE_JOB_RUNNING:
		return 'R';
	case KITE_JOB_REMOVED:
		return 'X';
	case KITE_JOB_COMPLETED:
		return 'C';
	case KITE_JOB_HELD:
		return 'H';
	case KITE_JOB_SUSPENDED:
		return 'S';
	default:
		return '?';
	}
}

const char *kite_job_status_name(int status)
{
	switch (status) {
	case KITE_JOB_IDLE:
		return "idle";
	case KITE_JOB_RUNNING:
		return "running";
	case KITE_JOB_REMOVED:
		return "removed";
	case KITE_JOB_COMPLETED:
		return "completed";
	case KITE_JOB_HELD:
		return "held";
	case KITE_JOB_SUSPENDED:
		return "suspended";
	default:
		return "unknown";
	}
}

guint kite_job_id_hash(gconstpointer p)
{
	const KiteJobId *id = p;
	return (guint)(id->cluster * 1000003 + id->proc);
}

gboolean kite_job_id_equal(gconstpointer a, gconstpointer b)
{
	const KiteJobId *x = a, *y = b;
	return x->cluster == y->cluster && x->proc == y->proc;
}
