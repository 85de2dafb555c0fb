/* advertise.c — the startd's side of MACHINE_ADS and
 * MACHINE_INVALIDATE; see advertise.h.
 *
 * Advertising never waits for the schedd in the main loop: ads are
 * queued per slot (a newer ad of a slot replaces one not sent yet), at
 * most one MACHINE_ADS is in flight, and its reply is read when the
 * socket becomes readable (g_unix_fd_add).  Whatever was queued
 * meanwhile goes in the next message, so a burst of transitions —
 * Matched, Claimed, Busy, Idle, Unclaimed for each of many short jobs
 * — costs a few messages rather than one blocking exchange each, and a
 * schedd busy committing cannot stall the startd's claims.  Only
 * connecting and authenticating (once per connection, bounded by
 * schedd_timeout) block; after a failure the next attempt waits
 * RETRY_SECONDS.  Withdrawing at shutdown is a plain blocking call. */
#include "advertise.h"

#include <glib-unix.h>
#include <string.h>

#include "ad.h"
#include "conn.h"
#include "util.h"

/* Seconds between attempts while the schedd cannot be reached. */
#define RETRY_SECONDS 1

struct _KiteAdvertiser {
	char *address;
	GBytes *key;
	char *daemon_name;
	double timeout;
	KiteConn *conn;
	char *failure; /* the failure last logged */
	gboolean ever_sent;
	GHashTable *pending; /* folded slot Name -> KiteAd*, not sent yet */
	GPtrArray *in_flight; /* KiteAd*, sent, reply awaited */
	guint watch;	      /* the reply's fd watch */
	guint deadline;	      /* the reply's timeout */
	guint retry;	      /* the next attempt after a failure */
	gboolean reused;      /* the in-flight message went on a kept connection */
};

KiteAdvertiser *kite_advertiser_new(const char *address, GBytes *key, const char *daemon_name, double timeout)
{
	KiteAdvertiser *a = g_new0(KiteAdvertiser, 1);
	a->address = g_strdup(address);
	a->key = g_bytes_ref(key);
	a->daemon_name = g_strdup(daemon_name);
	a->timeout = timeout;
	a->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)kite_ad_free);
	return a;
}

static void stop_waiting(KiteAdvertiser *a)
{
	if (a->watch)
		g_source_remove(a->watch);
	if (a->deadline)
		g_source_remove(a->deadline);
	a->watch = a->deadline = 0;
}

void kite_advertiser_free(KiteAdvertiser *a)
{
	if (!a)
		return;
	stop_waiting(a);
	if (a->retry)
		g_source_remove(a->retry);
	kite_conn_free(a->conn);
	g_bytes_unref(a->key);
	g_free(a->address);
	g_free(a->daemon_name);
	g_free(a->failure);
	g_hash_table_unref(a->pending);
	if (a->in_flight)
		g_ptr_array_unref(a->in_flight);
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

static void log_failure(KiteAdvertiser *a, const char *message)
{
	if (g_strcmp0(a->failure, message) != 0) {
		g_warning("cannot advertise to the schedd at %s: %s", a->address, message);
		g_free(a->failure);
		a->failure = g_strdup(message);
	}
}

static void flush(KiteAdvertiser *a);

static gboolean on_retry(gpointer data)
{
	KiteAdvertiser *a = data;
	a->retry = 0;
	flush(a);
	return G_SOURCE_REMOVE;
}

static char *ad_key(const KiteAd *ad)
{
	g_autofree char *name = NULL;
	kite_ad_get_string(ad, "Name", &name);
	return g_utf8_casefold(name ? name : "", -1);
}

/* The exchange failed: drop the connection, put back the ads that were
 * in flight (unless a newer one of the slot is queued) and try again
 * later. */
static void failed(KiteAdvertiser *a, const char *message)
{
	/* A kept connection the schedd closed meanwhile (it restarted, or
	 * dropped us as idle) is not a failure worth a log line: try again
	 * at once on a new one. */
	gboolean again_now = a->reused;
	a->reused = FALSE;
	if (!again_now)
		log_failure(a, message);
	stop_waiting(a);
	g_clear_pointer(&a->conn, kite_conn_free);
	if (a->in_flight) {
		for (guint i = 0; i < a->in_flight->len; i++) {
			KiteAd *ad = a->in_flight->pdata[i];
			char *key = ad_key(ad);
			if (g_hash_table_contains(a->pending, key)) {
				g_free(key);
				continue;
			}
			g_hash_table_insert(a->pending, key, kite_ad_copy(ad));
		}
		g_clear_pointer(&a->in_flight, g_ptr_array_unref);
	}
	if (!a->retry)
		a->retry = again_now ? g_idle_add(on_retry, a) : g_timeout_add_seconds(RETRY_SECONDS, on_retry, a);
}

static gboolean on_reply(gint fd, GIOCondition cond, gpointer data)
{
	KiteAdvertiser *a = data;
	a->watch = 0;
	g_autoptr(GError) error = NULL;
	guint type = 0;
	g_autoptr(GVariant) reply = kite_conn_recv(a->conn, &type, &error);
	if (reply && type != KITE_MSG_MACHINE_ADS_REPLY)
		g_set_error(&error, KITE_ERROR, KITE_ERROR_PROTOCOL, "the schedd answered %s to MACHINE_ADS",
			    kite_wire_type_name(type));
	if (!reply || error) {
		failed(a, error->message);
		return G_SOURCE_REMOVE;
	}
	stop_waiting(a);
	a->reused = FALSE;
	guint32 stored;
	g_variant_get(reply, "(u)", &stored);
	guint sent = a->in_flight->len;
	g_clear_pointer(&a->in_flight, g_ptr_array_unref);
	if (a->failure || !a->ever_sent)
		g_message("advertising %u slot(s) to the schedd at %s", sent, a->address);
	g_clear_pointer(&a->failure, g_free);
	a->ever_sent = TRUE;
	if (stored < sent)
		g_warning("the schedd kept %u of our %u slot ads (another startd advertises the same names?)",
			  stored, sent);
	flush(a);
	return G_SOURCE_REMOVE;
}

static gboolean on_deadline(gpointer data)
{
	KiteAdvertiser *a = data;
	a->deadline = 0;
	g_autofree char *msg = g_strdup_printf("no reply within %.0f s (schedd_timeout)", a->timeout);
	failed(a, msg);
	return G_SOURCE_REMOVE;
}

static gint compare_ads(gconstpointer x, gconstpointer y)
{
	g_autofree char *a = ad_key(*(KiteAd *const *)x), *b = ad_key(*(KiteAd *const *)y);
	return strcmp(a, b);
}

/* Send what is queued, if nothing is in flight. */
static void flush(KiteAdvertiser *a)
{
	if (a->in_flight || a->retry || g_hash_table_size(a->pending) == 0)
		return;
	g_autoptr(GError) error = NULL;
	a->reused = a->conn != NULL;
	if (!a->conn && !(a->conn = connect_schedd(a, &error))) {
		failed(a, error->message);
		return;
	}
	a->in_flight = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, a->pending);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		g_ptr_array_add(a->in_flight, value);
		g_hash_table_iter_steal(&it);
	}
	g_ptr_array_sort(a->in_flight, compare_ads);
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("aa(ss)"));
	for (guint i = 0; i < a->in_flight->len; i++)
		g_variant_builder_add_value(&b, kite_ad_to_variant(a->in_flight->pdata[i]));
	if (!kite_conn_send(a->conn, KITE_MSG_MACHINE_ADS, g_variant_new("(@aa(ss))", g_variant_builder_end(&b)),
			    &error)) {
		failed(a, error->message);
		return;
	}
	a->watch = g_unix_fd_add(kite_conn_fd(a->conn), G_IO_IN | G_IO_HUP | G_IO_ERR, on_reply, a);
	a->deadline = g_timeout_add((guint)(a->timeout * 1000), on_deadline, a);
}

void kite_advertiser_send(KiteAdvertiser *a, GPtrArray *ads)
{
	for (guint i = 0; i < ads->len; i++)
		g_hash_table_replace(a->pending, ad_key(ads->pdata[i]), kite_ad_copy(ads->pdata[i]));
	flush(a);
}

void kite_advertiser_withdraw(KiteAdvertiser *a, const char *const *names, gsize n)
{
	/* A reply still awaited would be taken for this one's: start over
	 * on a new connection. */
	stop_waiting(a);
	if (a->in_flight)
		g_clear_pointer(&a->conn, kite_conn_free);
	g_autoptr(GError) error = NULL;
	if (!a->conn)
		a->conn = connect_schedd(a, &error);
	g_autoptr(GVariant) reply =
	    a->conn ? kite_conn_call(a->conn, KITE_MSG_MACHINE_INVALIDATE,
				     g_variant_new("(@as)", g_variant_new_strv(names, n)), KITE_MSG_MACHINE_ADS_REPLY,
				     &error)
		    : NULL;
	if (!reply)
		g_message("could not withdraw our slots from the schedd (they expire on their own): %s",
			  error->message);
}
