/* activity-tty.c — the tty source: the most recent access time of the
 * terminals of logged-in users, as Condor does on Linux
 * (idle_time.cpp).  Logins come from utmp (USER_PROCESS records); when
 * utmp is missing or lists none, every /dev/pts/N counts instead
 * (Condor's STARTD_HAS_BAD_UTMP).  Reading a terminal updates its
 * access time, so this sees typing in any login session, local or ssh. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <utmp.h>

#include "activity.h"
#include "util.h"

/* utmp is a few records per login; more than this is not a utmp file. */
#define UTMP_MAX_BYTES (4u << 20)

typedef struct {
	char *utmp_path;
	char *dev_dir;
} Tty;

static void tty_free(gpointer p)
{
	Tty *t = p;
	g_free(t->utmp_path);
	g_free(t->dev_dir);
	g_free(t);
}

/* Latest access time of @dev_dir/@line, or -1. */
static gint64 line_atime(const char *dev_dir, const char *line)
{
	if (!*line || strstr(line, "..") || line[0] == '/')
		return -1;
	g_autofree char *path = g_build_filename(dev_dir, line, NULL);
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return st.st_atime;
}

/* The logins' terminals from utmp: writes the latest access time (-1
 * if no login has a terminal here) and the number of logins seen. */
static gboolean from_utmp(const Tty *t, gint64 *out_last, guint *out_logins, GError **error)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	g_autoptr(GError) local = NULL;
	if (!g_file_get_contents(t->utmp_path, &data, &len, &local))
		return kite_throw(error, KITE_ERROR_IO, "%s", local->message);
	if (len > UTMP_MAX_BYTES)
		return kite_throw(error, KITE_ERROR_INVALID, "%s is larger than %u bytes", t->utmp_path,
				  UTMP_MAX_BYTES);
	gint64 last = -1;
	guint logins = 0;
	for (gsize off = 0; off + sizeof(struct utmp) <= len; off += sizeof(struct utmp)) {
		struct utmp u;
		memcpy(&u, data + off, sizeof u);
		if (u.ut_type != USER_PROCESS)
			continue;
		char line[sizeof u.ut_line + 1];
		memcpy(line, u.ut_line, sizeof u.ut_line);
		line[sizeof u.ut_line] = '\0';
		logins++;
		last = MAX(last, line_atime(t->dev_dir, line));
	}
	*out_last = last;
	*out_logins = logins;
	return TRUE;
}

/* Every /dev/pts/N: writes the latest access time, or fails when there
 * is no pseudo-terminal at all. */
static gboolean from_pts(const Tty *t, gint64 *out_last, GError **error)
{
	g_autofree char *dir = g_build_filename(t->dev_dir, "pts", NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	gint64 last = -1;
	guint n = 0;
	for (const char *e; d && (e = g_dir_read_name(d));) {
		if (!g_ascii_isdigit(e[0]))
			continue;
		g_autofree char *line = g_build_filename("pts", e, NULL);
		gint64 at = line_atime(t->dev_dir, line);
		if (at >= 0) {
			last = MAX(last, at);
			n++;
		}
	}
	if (n == 0)
		return kite_throw(error, KITE_ERROR_NOT_FOUND, "no terminals in %s", dir);
	*out_last = last;
	return TRUE;
}

static gboolean tty_poll(KiteActivitySource *src, gint64 now, gint64 *out_last, GError **error)
{
	const Tty *t = src->priv;
	g_autoptr(GError) uerr = NULL;
	gint64 last = -1;
	guint logins = 0;
	if (from_utmp(t, &last, &logins, &uerr) && logins > 0) {
		*out_last = last; /* -1 if no login has a terminal: nobody typing */
		return TRUE;
	}
	g_autoptr(GError) perr = NULL;
	if (from_pts(t, &last, &perr)) {
		*out_last = last;
		return TRUE;
	}
	return kite_throw(error, KITE_ERROR_NOT_FOUND, "no logins in %s (%s) and %s", t->utmp_path,
			  uerr ? uerr->message : "none listed", perr->message);
}

static const KiteActivityOps tty_ops = {
    .name = "tty",
    .console = FALSE, /* ssh logins are not the console */
    .poll = tty_poll,
    .free = tty_free,
};

KiteActivitySource *kite_activity_tty_new(const char *utmp_path, const char *dev_dir)
{
	Tty *t = g_new0(Tty, 1);
	t->utmp_path = g_strdup(utmp_path);
	t->dev_dir = g_strdup(dev_dir);
	return kite_activity_source_new(&tty_ops, t);
}
