/* collector.c — the schedd's collector role (see collector.h): the
 * table of slot ads with their expiry, and the MACHINE_ADS,
 * MACHINE_INVALIDATE and MACHINES_QUERY requests.  Matching jobs to
 * these ads (the negotiator) is not here; a slot that becomes
 * Unclaimed only asks for a negotiation cycle. */
#include "collector.h"

#include <string.h>

#include "ad.h"
#include "schedd.h"
#include "util.h"

typedef struct {
	char *name;	/* as advertised */
	char *identity; /* the daemon that advertised it */
	KiteAd *ad;
	double expires; /* monotonic */
} Entry;

struct _KiteCollector {
	GHashTable *entries; /* folded name -> Entry* */
	guint max_ads;
	double default_lifetime;
	guint last_freed; /* slots the last update made Unclaimed */
};

static void entry_free(Entry *e)
{
	g_free(e->name);
	g_free(e->identity);
	kite_ad_free(e->ad);
	g_free(e);
}

KiteCollector *kite_collector_new(guint max_ads, double default_lifetime)
{
	KiteCollector *c = g_new0(KiteCollector, 1);
	c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)entry_free);
	c->max_ads = max_ads;
	c->default_lifetime = default_lifetime;
	return c;
}

void kite_collector_free(KiteCollector *c)
{
	if (!c)
		return;
	g_hash_table_unref(c->entries);
	g_free(c);
}

guint kite_collector_last_freed(const KiteCollector *c)
{
	return c->last_freed;
}

guint kite_collector_size(const KiteCollector *c)
{
	return g_hash_table_size(c->entries);
}

static double ad_lifetime(const KiteCollector *c, const KiteAd *ad)
{
	gint64 v;
	if (!kite_ad_get_int(ad, "ClassAdLifetime", &v))
		return c->default_lifetime;
	return CLAMP(v, KITE_COLLECTOR_MIN_LIFETIME, KITE_COLLECTOR_MAX_LIFETIME);
}

/* Parse every ad of @ads before storing any, so that a bad message
 * changes nothing. */
static GPtrArray *parse_ads(GVariant *ads, GError **error)
{
	gsize n = g_variant_n_children(ads);
	if (n > KITE_COLLECTOR_MAX_ADS_PER_UPDATE) {
		kite_throw(error, KITE_ERROR_LIMIT, "%zu slot ads in one update; at most %d are accepted", n,
			   KITE_COLLECTOR_MAX_ADS_PER_UPDATE);
		return NULL;
	}
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(ads, i);
		g_autoptr(GError) local = NULL;
		g_autoptr(KiteAd) ad = kite_ad_from_variant(child, &local);
		if (!ad) {
			kite_throw(error, KITE_ERROR_INVALID, "slot ad %zu: %s", i + 1, local->message);
			return NULL;
		}
		g_autofree char *name = NULL;
		if (!kite_ad_get_string(ad, "Name", &name) || !*name ||
		    strlen(name) > KITE_COLLECTOR_MAX_NAME) {
			kite_throw(error, KITE_ERROR_INVALID,
				   "slot ad %zu has no Name (a string of 1 to %d bytes)", i + 1,
				   KITE_COLLECTOR_MAX_NAME);
			return NULL;
		}
		g_ptr_array_add(out, g_steal_pointer(&ad));
	}
	return g_steal_pointer(&out);
}

gboolean kite_collector_update(KiteCollector *c, GVariant *ads, const char *identity, double now,
			       guint *out_stored, GError **error)
{
	g_autoptr(GPtrArray) parsed = parse_ads(ads, error);
	if (!parsed)
		return FALSE;
	guint stored = 0;
	c->last_freed = 0;
	for (guint i = 0; i < parsed->len; i++) {
		KiteAd *ad = parsed->pdata[i];
		g_autofree char *name = NULL;
		kite_ad_get_string(ad, "Name", &name);
		g_autofree char *key = g_utf8_casefold(name, -1);
		Entry *old = g_hash_table_lookup(c->entries, key);
		if (old && g_strcmp0(old->identity, identity) != 0 && old->expires > now)
			continue;
		if (!old && g_hash_table_size(c->entries) >= c->max_ads)
			continue;
		g_autofree char *state = NULL, *old_state = NULL;
		if (kite_ad_get_string(ad, "State", &state) && g_str_equal(state, "Unclaimed") &&
		    (!old || !kite_ad_get_string(old->ad, "State", &old_state) || !g_str_equal(old_state, state)))
			c->last_freed++;
		Entry *e = g_new0(Entry, 1);
		e->name = g_strdup(name);
		e->identity = g_strdup(identity);
		e->ad = kite_ad_copy(ad);
		kite_ad_set_int(e->ad, "LastHeardFrom", kite_now_wall());
		kite_ad_set_string(e->ad, "AuthenticatedIdentity", identity);
		e->expires = now + ad_lifetime(c, ad);
		g_hash_table_replace(c->entries, g_steal_pointer(&key), e);
		stored++;
	}
	*out_stored = stored;
	return TRUE;
}

guint kite_collector_invalidate(KiteCollector *c, const char *const *names, gsize n, const char *identity)
{
	guint dropped = 0;
	for (gsize i = 0; i < n; i++) {
		g_autofree char *key = g_utf8_casefold(names[i], -1);
		Entry *e = g_hash_table_lookup(c->entries, key);
		if (e && g_strcmp0(e->identity, identity) == 0) {
			g_hash_table_remove(c->entries, key);
			dropped++;
		}
	}
	return dropped;
}

gboolean kite_collector_forget(KiteCollector *c, const char *name)
{
	g_autofree char *key = g_utf8_casefold(name, -1);
	return g_hash_table_remove(c->entries, key);
}

guint kite_collector_expire(KiteCollector *c, double now)
{
	guint dropped = 0;
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, c->entries);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		Entry *e = value;
		if (e->expires <= now) {
			g_message("machine %s (%s) expired: no update within its lifetime", e->name,
				  e->identity);
			g_hash_table_iter_remove(&it);
			dropped++;
		}
	}
	return dropped;
}

static gint compare_entries(gconstpointer a, gconstpointer b)
{
	const Entry *x = *(const Entry *const *)a, *y = *(const Entry *const *)b;
	return g_ascii_strcasecmp(x->name, y->name);
}

/* The entries for which @constraint (NULL: all) holds, sorted by
 * Name; the array borrows them. */
static GPtrArray *select_entries(KiteCollector *c, const KiteExpr *constraint)
{
	GPtrArray *sorted = g_ptr_array_sized_new(g_hash_table_size(c->entries));
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, c->entries);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		const Entry *e = value;
		if (constraint) {
			KiteValue v = KITE_VALUE_INIT;
			kite_expr_eval(constraint, e->ad, NULL, &v);
			gboolean keep = kite_value_is_true(&v);
			kite_value_clear(&v);
			if (!keep)
				continue;
		}
		g_ptr_array_add(sorted, value);
	}
	g_ptr_array_sort(sorted, compare_entries);
	return sorted;
}

GVariant *kite_collector_query(KiteCollector *c, const KiteExpr *constraint)
{
	g_autoptr(GPtrArray) sorted = select_entries(c, constraint);
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("aa(ss)"));
	for (guint i = 0; i < sorted->len; i++)
		g_variant_builder_add_value(&b, kite_ad_to_variant(((const Entry *)sorted->pdata[i])->ad));
	return g_variant_builder_end(&b);
}

GPtrArray *kite_collector_ads(KiteCollector *c, const KiteExpr *constraint)
{
	g_autoptr(GPtrArray) sorted = select_entries(c, constraint);
	GPtrArray *ads = g_ptr_array_new_full(sorted->len, (GDestroyNotify)kite_ad_free);
	for (guint i = 0; i < sorted->len; i++)
		g_ptr_array_add(ads, kite_ad_copy(((const Entry *)sorted->pdata[i])->ad));
	return ads;
}

/* ---- requests ---- */

static gboolean require_daemon(KiteServerConn *conn, const char *what)
{
	if (kite_server_conn_role(conn) == KITE_ROLE_DAEMON)
		return TRUE;
	g_autofree char *msg = g_strdup_printf(
	    "permission denied: only pool daemons may %s (authenticate with the pool key); you are %s", what,
	    kite_server_conn_identity(conn) ? kite_server_conn_identity(conn) : "nobody");
	kite_server_refuse(conn, KITE_ERROR_PERMISSION, "%s", msg);
	return FALSE;
}

static void handle_ads(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	if (!require_daemon(conn, "advertise machines"))
		return;
	g_autoptr(GVariant) ads = g_variant_get_child_value(body, 0);
	g_autoptr(GError) error = NULL;
	guint before = kite_collector_size(s->collector);
	guint stored = 0;
	if (!kite_collector_update(s->collector, ads, kite_server_conn_identity(conn), kite_now_monotonic(),
				   &stored, &error)) {
		kite_server_refuse(conn, error->code, "%s", error->message);
		return;
	}
	if (kite_collector_size(s->collector) > before)
		g_message("%s: %u new slot(s) advertised", kite_server_conn_peer(conn),
			  kite_collector_size(s->collector) - before);
	if (stored < g_variant_n_children(ads))
		g_message("%s: kept %u of %zu slot ads (the others belong to another daemon, or the table is "
			  "full)",
			  kite_server_conn_peer(conn), stored, g_variant_n_children(ads));
	kite_server_reply(conn, KITE_MSG_MACHINE_ADS_REPLY, g_variant_new("(u)", stored));
	/* A slot became free: the negotiator should run. */
	if (kite_collector_last_freed(s->collector) > 0)
		kite_schedd_negotiate_soon(s);
}

static void handle_invalidate(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	if (!require_daemon(conn, "withdraw machines"))
		return;
	g_autoptr(GVariant) namesv = g_variant_get_child_value(body, 0);
	gsize n = 0;
	g_autofree const char **names = g_variant_get_strv(namesv, &n);
	if (n > KITE_COLLECTOR_MAX_ADS_PER_UPDATE) {
		kite_server_refuse(conn, KITE_ERROR_LIMIT, "too many slot names in one request");
		return;
	}
	guint dropped = kite_collector_invalidate(s->collector, names, n, kite_server_conn_identity(conn));
	g_message("%s: withdrew %u slot(s)", kite_server_conn_peer(conn), dropped);
	kite_server_reply(conn, KITE_MSG_MACHINE_ADS_REPLY, g_variant_new("(u)", dropped));
}

static void handle_query(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	const char *text;
	g_variant_get(body, "(&s)", &text);
	g_autoptr(KiteExpr) constraint = NULL;
	g_autoptr(GError) error = NULL;
	if (*text && !(constraint = kite_schedd_parse_constraint(text, &error))) {
		kite_server_refuse(conn, error->code, "%s", error->message);
		return;
	}
	kite_collector_expire(s->collector, kite_now_monotonic());
	kite_server_reply(conn, KITE_MSG_MACHINES_REPLY,
			  g_variant_new("(@aa(ss))", kite_collector_query(s->collector, constraint)));
}

gboolean kite_schedd_collector_handle(KiteSchedd *s, KiteServerConn *conn, guint type, GVariant *body)
{
	switch (type) {
	case KITE_MSG_MACHINE_ADS:
		handle_ads(s, conn, body);
		return TRUE;
	case KITE_MSG_MACHINE_INVALIDATE:
		handle_invalidate(s, conn, body);
		return TRUE;
	case KITE_MSG_MACHINES_QUERY:
		handle_query(s, conn, body);
		return TRUE;
	case KITE_MSG_AGENT_QUERY:
		kite_schedd_agent_query(s, conn, body);
		return TRUE;
	default:
		return FALSE;
	}
}
