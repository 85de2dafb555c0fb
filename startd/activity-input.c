/* activity-input.c — the input source: keyboards, mice and touchpads
 * as evdev devices (/dev/input/event*), read as events.  USB input does
 * not update any access time (Condor needs its kbdd for that), so the
 * startd reads the devices itself: any event is owner activity.  Each
 * device is watched from the main loop; reading needs the right to
 * open the device (root, or the `input` group). */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <unistd.h>

#include "activity.h"
#include "util.h"

/* Look for new devices at most this often (seconds). */
#define RESCAN_INTERVAL 30
/* Watch at most this many devices. */
#define MAX_DEVICES 64

typedef struct {
	char *dir;
	GHashTable *open; /* path -> Watch* (owned by its GSource) */
	gint64 last;	  /* wall time of the last event, -1 none */
	gint64 scanned;	  /* wall time of the last scan, 0 never */
	char *failure;	  /* why the last scan found nothing */
} Input;

typedef struct {
	Input *in;
	char *path;
	int fd;
	guint id;
} Watch;

static void watch_free(gpointer p)
{
	Watch *w = p;
	close(w->fd);
	g_free(w->path);
	g_free(w);
}

static gboolean on_event(gint fd, GIOCondition cond, gpointer data)
{
	Watch *w = data;
	guint8 buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0) {
		w->in->last = kite_now_wall();
		return G_SOURCE_CONTINUE;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	/* Unplugged: forget it, a later scan may find it again. */
	g_hash_table_remove(w->in->open, w->path);
	return G_SOURCE_REMOVE;
}

static void scan(Input *in, gint64 now, GError **error)
{
	in->scanned = now;
	g_autoptr(GError) local = NULL;
	g_autoptr(GDir) d = g_dir_open(in->dir, 0, &local);
	if (!d) {
		kite_throw(error, KITE_ERROR_NOT_FOUND, "%s", local->message);
		return;
	}
	guint seen = 0, denied = 0;
	for (const char *e; (e = g_dir_read_name(d));) {
		if (!g_str_has_prefix(e, "event"))
			continue;
		seen++;
		g_autofree char *path = g_build_filename(in->dir, e, NULL);
		if (g_hash_table_contains(in->open, path) || g_hash_table_size(in->open) >= MAX_DEVICES)
			continue;
		int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			denied++;
			continue;
		}
		Watch *w = g_new0(Watch, 1);
		w->in = in;
		w->path = g_strdup(path);
		w->fd = fd;
		w->id = g_unix_fd_add_full(G_PRIORITY_DEFAULT, fd, G_IO_IN | G_IO_ERR | G_IO_HUP, on_event, w,
					   watch_free);
		g_hash_table_insert(in->open, g_steal_pointer(&path), w);
	}
	if (g_hash_table_size(in->open) > 0)
		return;
	if (seen)
		kite_throw(error, KITE_ERROR_NOT_FOUND,
			   "none of the %u event devices in %s can be opened (%u refused; run as root or in "
			   "the input group)",
			   seen, in->dir, denied);
	else
		kite_throw(error, KITE_ERROR_NOT_FOUND, "no event devices in %s", in->dir);
}

static gboolean input_poll(KiteActivitySource *src, gint64 now, gint64 *out_last, GError **error)
{
	Input *in = src->priv;
	if (in->scanned == 0 || now - in->scanned >= RESCAN_INTERVAL) {
		g_autoptr(GError) local = NULL;
		scan(in, now, &local);
		g_free(in->failure);
		in->failure = local ? g_strdup(local->message) : NULL;
	}
	if (g_hash_table_size(in->open) == 0)
		return kite_throw(error, KITE_ERROR_NOT_FOUND, "%s",
				  in->failure ? in->failure : "no event devices open");
	*out_last = in->last;
	return TRUE;
}

static void input_free(gpointer p)
{
	Input *in = p;
	g_autoptr(GList) watches = g_hash_table_get_values(in->open);
	g_hash_table_remove_all(in->open);
	for (GList *l = watches; l; l = l->next)
		g_source_remove(((Watch *)l->data)->id);
	g_hash_table_unref(in->open);
	g_free(in->dir);
	g_free(in->failure);
	g_free(in);
}

static const KiteActivityOps input_ops = {
    .name = "input",
    .console = TRUE,
    .poll = input_poll,
    .free = input_free,
};

KiteActivitySource *kite_activity_input_new(const char *input_dir)
{
	Input *in = g_new0(Input, 1);
	in->dir = g_strdup(input_dir);
	in->open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	in->last = -1;
	return kite_activity_source_new(&input_ops, in);
}
