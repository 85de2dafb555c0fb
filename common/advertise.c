/* advertise.c — the advertising side of MACHINE_ADS and
 * MACHINE_INVALIDATE (the startd, ckpt_server); see advertise.h.  The exchange is blocking with a
 * short timeout (schedd_timeout): the schedd answers an advertisement
 * without touching the disk, so the main loop waits at most that long
 * for a schedd that has hung. */
#include "advertise.h"

#include "ad.h"
#include "conn.h"
#include "util.h"

struct _KiteAdvertiser {
	char *address;
	GBytes *key;
	char *daemon_name;
	double timeout;
	KiteConn *conn;
	char *failure; /* the failure last logged */
	gboolean ever_sent;
	char *what;
};

KiteAdvertiser *kite_advertiser_new(const char *address, GBytes *key, const char *daemon_name, double timeout)
{
	KiteAdvertiser *a = g_new0(KiteAdvertiser, 1);
	a->address = g_strdup(address);
	a->key = g_bytes_ref(key);
	a->daemon_name = g_strdup(daemon_name);
	a->timeout = timeout;
	a->what = g_strdup("slot(s)");
	return a;
}

void kite_advertiser_set_what(KiteAdvertiser *a, const char *what)
{
	g_free(a->what);
	a->what = g_strdup(what);
}

void kite_advertiser_free(KiteAdvertiser *a)
{
	if (!a)
		return;
	kite_conn_free(a->conn);
	g_bytes_unref(a->key);
	g_free(a->address);
	g_free(a->daemon_name);
	g_free(a->failure);
	g_free(a->what);
	g_free(a);
}

static KiteConn *connect_schedd(KiteAdvertiser *a, GError **error)
{
	g_autoptr(KiteConn) conn = kite_conn_connect(a->address, a->timeout, error);
	if (!conn)
		return NULL;
	if (!kite_conn_auth_daemon(conn, a->key, a->daemon_name, error)) {
		if (g_error_matches(*error, KITE_ERROR, KITE_ERROR_AUTH))
			g_prefix_error(error,
				       "the schedd refused our pool key (pool_key_file must be a copy of "
				       "the schedd's): ");
		return NULL;
	}
	return g_steal_pointer(&conn);
}

/* One request and its reply over the kept connection; when a kept
 * connection turns out to be closed (the schedd restarted, or dropped
 * it as idle), try once more on a new one.  Takes @body; it is sunk
 * here so that kite_conn_call only borrows it and a retry can send it
 * again. */
static GVariant *call(KiteAdvertiser *a, guint type, GVariant *body, GError **error)
{
	g_variant_ref_sink(body);
	for (int attempt = 0; attempt < 2; attempt++) {
		gboolean fresh = a->conn == NULL;
		if (fresh && !(a->conn = connect_schedd(a, error))) {
			g_variant_unref(body);
			return NULL;
		}
		g_autoptr(GError) local = NULL;
		GVariant *reply = kite_conn_call(a->conn, type, body, KITE_MSG_MACHINE_ADS_REPLY, &local);
		if (reply) {
			g_variant_unref(body);
			return reply;
		}
		g_clear_pointer(&a->conn, kite_conn_free);
		if (fresh || local->domain != KITE_ERROR || local->code != KITE_ERROR_IO) {
			g_propagate_error(error, g_steal_pointer(&local));
			break;
		}
	}
	g_variant_unref(body);
	return NULL;
}

gboolean kite_advertiser_send(KiteAdvertiser *a, GPtrArray *ads)
{
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("aa(ss)"));
	for (guint i = 0; i < ads->len; i++)
		g_variant_builder_add_value(&b, kite_ad_to_variant(ads->pdata[i]));
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	    call(a, KITE_MSG_MACHINE_ADS, g_variant_new("(@aa(ss))", g_variant_builder_end(&b)), &error);
	if (!reply) {
		if (g_strcmp0(a->failure, error->message) != 0) {
			g_warning("cannot advertise to the schedd at %s: %s", a->address, error->message);
			g_free(a->failure);
			a->failure = g_strdup(error->message);
		}
		return FALSE;
	}
	guint32 stored;
	g_variant_get(reply, "(u)", &stored);
	if (a->failure || !a->ever_sent)
		g_message("advertising %u %s to the schedd at %s", ads->len, a->what, a->address);
	g_clear_pointer(&a->failure, g_free);
	a->ever_sent = TRUE;
	if (stored < ads->len)
		g_warning("the schedd kept %u of our %u %s (another daemon advertises the same names?)", stored,
			  ads->len, a->what);
	return TRUE;
}

void kite_advertiser_withdraw(KiteAdvertiser *a, const char *const *names, gsize n)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = call(a, KITE_MSG_MACHINE_INVALIDATE,
					 g_variant_new("(@as)", g_variant_new_strv(names, n)), &error);
	if (!reply)
		g_message("could not withdraw our %s from the schedd (they expire on their own): %s", a->what,
			  error->message);
}
