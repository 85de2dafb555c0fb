/* activity-logind.c — the logind source: the idle hint that desktops
 * publish through systemd-logind (org.freedesktop.login1.Manager's
 * IdleHint and IdleSinceHint, over the system D-Bus).  When every
 * session is idle, IdleSinceHint says since when; otherwise someone is
 * active now.  Each poll asks asynchronously and uses the last answer,
 * so the main loop never waits for the bus. */
#include <gio/gio.h>

#include "activity.h"
#include "util.h"

typedef struct {
	GDBusConnection *bus; /* NULL: no system bus */
	GCancellable *cancel;
	char *failure; /* why there is nothing to ask, or the last call's error */
	gint64 last;   /* from the last answer, -1 none yet */
	gboolean pending;
} Logind;

static void on_reply(GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(obj), res, &error);
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* the source is gone */
	Logind *l = data;
	l->pending = FALSE;
	g_clear_pointer(&l->failure, g_free);
	if (!reply) {
		g_dbus_error_strip_remote_error(error);
		l->failure = g_strdup_printf("logind: %s", error->message);
		return;
	}
	g_autoptr(GVariant) props = g_variant_get_child_value(reply, 0);
	gboolean idle = FALSE;
	guint64 since_us = 0;
	if (!g_variant_lookup(props, "IdleHint", "b", &idle) ||
	    !g_variant_lookup(props, "IdleSinceHint", "t", &since_us)) {
		l->failure = g_strdup("logind does not publish IdleHint and IdleSinceHint");
		return;
	}
	l->last = idle ? (gint64)(since_us / G_USEC_PER_SEC) : kite_now_wall();
}

static gboolean logind_poll(KiteActivitySource *src, gint64 now, gint64 *out_last, GError **error)
{
	Logind *l = src->priv;
	if (!l->bus)
		return kite_throw(error, KITE_ERROR_NOT_FOUND, "%s", l->failure);
	if (!l->pending) {
		l->pending = TRUE;
		g_dbus_connection_call(l->bus, "org.freedesktop.login1", "/org/freedesktop/login1",
				       "org.freedesktop.DBus.Properties", "GetAll",
				       g_variant_new("(s)", "org.freedesktop.login1.Manager"),
				       G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 2000,
				       l->cancel, on_reply, l);
	}
	if (l->failure)
		return kite_throw(error, KITE_ERROR_NOT_FOUND, "%s", l->failure);
	*out_last = l->last;
	return TRUE;
}

static void logind_free(gpointer p)
{
	Logind *l = p;
	g_cancellable_cancel(l->cancel);
	g_clear_object(&l->cancel);
	g_clear_object(&l->bus);
	g_free(l->failure);
	g_free(l);
}

static const KiteActivityOps logind_ops = {
    .name = "logind",
    .console = TRUE,
    .poll = logind_poll,
    .free = logind_free,
};

/* Connecting to the system bus is a local socket: it succeeds or fails
 * at once, so it is done here, synchronously. */
KiteActivitySource *kite_activity_logind_new(void)
{
	Logind *l = g_new0(Logind, 1);
	l->last = -1;
	l->cancel = g_cancellable_new();
	g_autoptr(GError) error = NULL;
	l->bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
	if (!l->bus)
		l->failure = g_strdup_printf("no system D-Bus (%s)", error->message);
	return kite_activity_source_new(&logind_ops, l);
}
