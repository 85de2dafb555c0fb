/* userlog.h — jobs' event logs (job file key `log`, Condor's user log).
 *
 * The schedd appends each event recorded for a job with a log — submitted,
 * executing, checkpointed, evicted, suspended, held, released, aborted,
 * terminated — to that file, in Condor's user-log format (a numbered
 * header line per event, indented detail lines, and "..." after each), so
 * that tools that read Condor's logs (DAGMan-style workflows, scripts that
 * wait for "005") read ours.  Events are taken from the queue's events
 * table after they are committed, so a log never shows what the queue
 * lost; the position reached is kept in the queue, so a restarted schedd
 * goes on where it stopped (an event written just before a crash may be
 * written again: at least once, never lost).  Files are opened as the
 * job's owner when the schedd runs as root. */
#pragma once

#include <glib.h>

#include "queue.h"

typedef struct _KiteUserLog KiteUserLog;

/* @submit_host names the schedd in "Job submitted from host" lines. */
KiteUserLog *kite_userlog_new(KiteQueue *q, const char *submit_host);
void kite_userlog_free(KiteUserLog *ul);
/* Append every event committed since the last call to its job's log;
 * returns how many were written.  Also a GSourceFunc (returns TRUE). */
guint kite_userlog_flush(KiteUserLog *ul);
gboolean kite_userlog_flush_source(gpointer ul);

/* One event in the log's format, "...\n" included (newly allocated). */
char *kite_userlog_format(const KiteJobId *id, gint64 time, const char *event, const char *host,
			  const char *detail, const char *submit_host);
