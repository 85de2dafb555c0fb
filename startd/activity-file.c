/* activity-file.c — the activity file source: the modification time of
 * a file is the owner's last activity.  Tests touch it; anything else
 * (a screensaver hook, a kbdd-like helper) can too. */
#include <sys/stat.h>

#include "activity.h"
#include "util.h"

static gboolean file_poll(KiteActivitySource *src, gint64 now, gint64 *out_last, GError **error)
{
	const char *path = src->priv;
	struct stat st;
	if (stat(path, &st) < 0)
		return kite_throw_errno(error, "stat %s", path);
	*out_last = MIN((gint64)st.st_mtime, now);
	return TRUE;
}

static const KiteActivityOps file_ops = {
    .name = "file",
    .console = TRUE, /* it stands for whatever the owner touches */
    .poll = file_poll,
    .free = g_free,
};

KiteActivitySource *kite_activity_file_new(const char *path)
{
	return kite_activity_source_new(&file_ops, g_strdup(path));
}
