/* userlog.c — see userlog.h. */
#include "userlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include "util.h"

/* Where the writer has got to, in the queue's meta table. */
#define MARK_KEY "userlog_event"
/* Events written per flush at most; the rest wait for the next one. */
#define BATCH 1000

struct _KiteUserLog {
	KiteQueue *queue;
	char *submit_host;
	gint64 mark;	     /* the last event row handled */
	GHashTable *failing; /* paths whose last write failed (logged once) */
};

KiteUserLog *kite_userlog_new(KiteQueue *q, const char *submit_host)
{
	KiteUserLog *ul = g_new0(KiteUserLog, 1);
	ul->queue = q;
	ul->submit_host = g_strdup(submit_host);
	ul->failing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	/* A queue that never had a writer starts from now, not from events
	 * recorded before logs existed. */
	ul->mark = kite_queue_meta_get(q, MARK_KEY, -1);
	if (ul->mark < 0)
		ul->mark = kite_queue_last_event(q);
	return ul;
}

void kite_userlog_free(KiteUserLog *ul)
{
	if (!ul)
		return;
	g_hash_table_unref(ul->failing);
	g_free(ul->submit_host);
	g_free(ul);
}

/* Condor's event numbers (ULOG_*) and first lines. */
static int event_code(const char *event, const char **title)
{
	static const struct {
		const char *event;
		int code;
		const char *title;
	} table[] = {
	    {"submitted", 0, "Job submitted from host: "},
	    {"started", 1, "Job executing on host: "},
	    {"checkpoint", 3, "Job was checkpointed."},
	    {"requeued", 4, "Job was evicted."},
	    {"restart-failed", 4, "Job was evicted."},
	    {"exited", 5, "Job terminated."},
	    {"removed", 9, "Job was aborted."},
	    {"suspended", 10, "Job was suspended."},
	    {"running", 11, "Job was unsuspended."},
	    {"held", 12, "Job was held."},
	    {"released", 13, "Job was released."},
	    {"disconnected", 22, "Job disconnected, attempting to reconnect"},
	    {"reconnected", 24, "Job reconnected"},
	    {"reconnect-failed", 25, "Job reconnection failed"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(table); i++)
		if (g_str_equal(event, table[i].event)) {
			*title = table[i].title;
			return table[i].code;
		}
	*title = NULL;
	return 8; /* ULOG_GENERIC: anything else, by name */
}

char *kite_userlog_format(const KiteJobId *id, gint64 time, const char *event, const char *host,
			  const char *detail, const char *submit_host)
{
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(time);
	g_autofree char *stamp = g_date_time_format(when, "%Y-%m-%d %H:%M:%S");
	const char *title;
	int code = event_code(event, &title);
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, "%03d (%03" G_GINT64_FORMAT ".%03" G_GINT64_FORMAT ".000) %s ", code, id->cluster,
			       id->proc, stamp);
	if (code == 0 || code == 1)
		g_string_append_printf(out, "%s<%s>", title, code == 0 ? submit_host : host);
	else if (title)
		g_string_append(out, title);
	else
		g_string_append_printf(out, "%s%s%s", event, host && *host ? " on " : "", host ? host : "");
	g_string_append_c(out, '\n');

	gint64 n = 0;
	if (code == 5 && sscanf(detail, "exit code %" G_GINT64_FORMAT, &n) == 1)
		g_string_append_printf(out, "\t(1) Normal termination (return value %" G_GINT64_FORMAT ")\n", n);
	else if (code == 5 && sscanf(detail, "signal %" G_GINT64_FORMAT, &n) == 1)
		g_string_append_printf(out, "\t(0) Abnormal termination (signal %" G_GINT64_FORMAT ")\n", n);
	else if (code == 0 && detail && *detail)
		g_string_append_printf(out, "\tOwner: %s\n", detail);
	else if (detail && *detail) {
		/* one indented line per line of detail */
		g_auto(GStrv) lines = g_strsplit(detail, "\n", -1);
		for (guint i = 0; lines[i]; i++)
			g_string_append_printf(out, "\t%s\n", lines[i]);
	}
	/* where it happened, for the events of a run */
	if ((code == 3 || code == 4 || code == 10 || code == 11 || (code >= 22 && code <= 25)) && host && *host)
		g_string_append_printf(out, "\tOn host: %s\n", host);
	g_string_append(out, "...\n");
	return g_string_free(out, FALSE);
}

/* Append @text to @path as @owner (when we are root), never through a
 * symbolic link. */
static gboolean append_as(const char *path, const char *owner, const char *text, GError **error)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	gboolean switch_id = uid == 0;
	if (switch_id) {
		struct passwd *pw = getpwnam(owner);
		if (!pw)
			return kite_throw(error, KITE_ERROR_INVALID, "no such user %s", owner);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		/* The file-system identity alone: nothing else of ours
		 * changes, and it is this thread's only. */
		setfsgid(gid);
		setfsuid(uid);
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	int saved = errno;
	if (switch_id) {
		setfsuid(0);
		setfsgid(0);
	}
	if (fd < 0) {
		errno = saved;
		return kite_throw_errno(error, "open %s", path);
	}
	gboolean ok = kite_write_all(fd, text, strlen(text), path, error);
	if (close(fd) < 0 && ok)
		ok = kite_throw_errno(error, "close %s", path);
	return ok;
}

typedef struct {
	KiteUserLog *ul;
	guint written;
	guint seen;
	gint64 last_row;
} Flush;

static void write_event(const KiteLoggedEvent *ev, gpointer data)
{
	Flush *f = data;
	f->seen++;
	f->last_row = ev->row;
	if (!ev->path || !*ev->path)
		return;
	g_autofree char *text =
	    kite_userlog_format(&ev->id, ev->time, ev->event, ev->host, ev->detail, f->ul->submit_host);
	g_autoptr(GError) error = NULL;
	if (!append_as(ev->path, ev->owner, text, &error)) {
		/* say it once per file, not once per event */
		if (g_hash_table_add(f->ul->failing, g_strdup(ev->path)))
			g_message("job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ": cannot write its event log: %s",
				  ev->id.cluster, ev->id.proc, error->message);
		return;
	}
	g_hash_table_remove(f->ul->failing, ev->path);
	f->written++;
}

guint kite_userlog_flush(KiteUserLog *ul)
{
	gint64 last = kite_queue_last_event(ul->queue);
	if (last < ul->mark) /* the newest rows were purged and their numbers reused */
		ul->mark = last;
	if (last == ul->mark)
		return 0;
	Flush f = {.ul = ul};
	g_autoptr(GError) error = NULL;
	if (!kite_queue_logged_events(ul->queue, ul->mark, last, BATCH, write_event, &f, &error)) {
		g_message("event logs: %s", error->message);
		return 0;
	}
	/* A full batch stops at its last row; otherwise every row up to
	 * @last has been seen (most belong to jobs without a log). */
	ul->mark = f.seen == BATCH ? f.last_row : last;
	/* Remember the position only when something was written: an fsync
	 * per flush for jobs without logs would be waste, and re-reading
	 * their rows after a restart writes nothing. */
	if (f.written > 0 && !kite_queue_meta_set(ul->queue, MARK_KEY, ul->mark, &error))
		g_message("event logs: %s", error->message);
	return f.written;
}

gboolean kite_userlog_flush_source(gpointer ul)
{
	kite_userlog_flush(ul);
	return G_SOURCE_CONTINUE;
}
