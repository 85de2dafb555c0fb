/* activity.c — the set of owner activity sources and the combined
 * sample (KeyboardIdle, ConsoleIdle, load); see activity.h.  The
 * sources themselves are in activity-*.c. */
#include "activity.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

struct _KiteActivity {
	GPtrArray *sources; /* KiteActivitySource* */
	char *loadavg_path; /* NULL: the load source is off */
	char *uptime_path;
	char *load_failure; /* logged once, like a source's */
};

KiteActivitySource *kite_activity_source_new(const KiteActivityOps *ops, gpointer priv)
{
	KiteActivitySource *src = g_new0(KiteActivitySource, 1);
	src->ops = ops;
	src->priv = priv;
	return src;
}

void kite_activity_source_free(KiteActivitySource *src)
{
	if (!src)
		return;
	if (src->ops->free && src->priv)
		src->ops->free(src->priv);
	g_free(src->failure);
	g_free(src);
}

KiteActivity *kite_activity_new_from(KiteActivitySource **sources, guint n, const char *loadavg_path,
				     const char *uptime_path)
{
	KiteActivity *a = g_new0(KiteActivity, 1);
	a->sources = g_ptr_array_new_with_free_func((GDestroyNotify)kite_activity_source_free);
	for (guint i = 0; i < n; i++)
		g_ptr_array_add(a->sources, sources[i]);
	a->loadavg_path = g_strdup(loadavg_path);
	a->uptime_path = g_strdup(uptime_path ? uptime_path : "/proc/uptime");
	return a;
}

KiteActivity *kite_activity_new(const KiteConfig *cfg, GError **error)
{
	g_autoptr(GPtrArray) srcs = g_ptr_array_new_with_free_func((GDestroyNotify)kite_activity_source_free);
	const char *loadavg = NULL;
	static const char *const known[] = {"tty", "input", "logind", "load", "file", NULL};
	for (const char *const *n = kite_config_get_strv(cfg, "activity_sources"); n && *n; n++) {
		if (g_str_equal(*n, "tty"))
			g_ptr_array_add(
			    srcs, kite_activity_tty_new(kite_config_get_string(cfg, "utmp_file"), "/dev"));
		else if (g_str_equal(*n, "input"))
			g_ptr_array_add(srcs, kite_activity_input_new("/dev/input"));
		else if (g_str_equal(*n, "logind"))
			g_ptr_array_add(srcs, kite_activity_logind_new());
		else if (g_str_equal(*n, "load"))
			loadavg = "/proc/loadavg";
		else if (g_str_equal(*n, "file")) {
			if (!kite_config_get_string(cfg, "activity_file")) {
				kite_throw(
				    error, KITE_ERROR_INVALID,
				    "activity source `file` needs `activity_file` (the file to watch)");
				return NULL;
			}
		} else {
			const char *s = kite_suggest(*n, known);
			kite_throw(
			    error, KITE_ERROR_INVALID,
			    "unknown activity source `%s`%s%s%s (known: tty, input, logind, load, file)", *n,
			    s ? " (did you mean `" : "", s ? s : "", s ? "`?)" : "");
			return NULL;
		}
	}
	const char *file = kite_config_get_string(cfg, "activity_file");
	if (file && *file)
		g_ptr_array_add(srcs, kite_activity_file_new(file));
	guint n = srcs->len;
	g_ptr_array_set_free_func(srcs, NULL);
	return kite_activity_new_from((KiteActivitySource **)srcs->pdata, n, loadavg, NULL);
}

void kite_activity_free(KiteActivity *a)
{
	if (!a)
		return;
	g_ptr_array_unref(a->sources);
	g_free(a->loadavg_path);
	g_free(a->uptime_path);
	g_free(a->load_failure);
	g_free(a);
}

/* Seconds since boot, from /proc/uptime; 0 if unreadable. */
static gint64 uptime(const char *path)
{
	g_autofree char *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	return (gint64)g_ascii_strtod(text, NULL);
}

/* Log a source's failure the first time it happens (and again only if
 * it changes), and its recovery. */
static void note(KiteActivitySource *src, const GError *error)
{
	if (error) {
		if (g_strcmp0(src->failure, error->message) != 0) {
			g_message("activity source %s: %s; carrying on without it", src->ops->name,
				  error->message);
			g_free(src->failure);
			src->failure = g_strdup(error->message);
		}
	} else if (src->failure) {
		g_message("activity source %s: working again", src->ops->name);
		g_clear_pointer(&src->failure, g_free);
	}
}

void kite_activity_sample(KiteActivity *a, gint64 now, double job_load, KiteActivitySample *out)
{
	gint64 keyboard = -1, console = -1;
	for (guint i = 0; i < a->sources->len; i++) {
		KiteActivitySource *src = a->sources->pdata[i];
		g_autoptr(GError) error = NULL;
		gint64 last = -1;
		gboolean ok = src->ops->poll(src, now, &last, &error);
		note(src, ok ? NULL : error);
		if (!ok || last < 0)
			continue;
		gint64 idle = MAX(now - last, 0);
		if (keyboard < 0 || idle < keyboard)
			keyboard = idle;
		if (src->ops->console && (console < 0 || idle < console))
			console = idle;
	}
	out->keyboard_idle = keyboard >= 0 ? keyboard : uptime(a->uptime_path);
	out->console_idle = console;
	out->have_load = FALSE;
	out->load_avg = out->nonjob_load_avg = 0;
	if (a->loadavg_path) {
		g_autoptr(GError) error = NULL;
		double load;
		if (kite_activity_load_read(a->loadavg_path, &load, &error)) {
			out->have_load = TRUE;
			out->load_avg = load;
			out->nonjob_load_avg = kite_activity_nonjob_load(load, job_load);
			g_clear_pointer(&a->load_failure, g_free);
		} else if (g_strcmp0(a->load_failure, error->message) != 0) {
			g_message("activity source load: %s; LoadAvg is left out of the ads", error->message);
			g_free(a->load_failure);
			a->load_failure = g_strdup(error->message);
		}
	}
}
