/* glidein-schedd.c — what `pool glidein` asks the schedd: which machines
 * it has ads of (MACHINES_QUERY, as `pool status` does).  Over TCP the
 * command proves itself with the pool key it is about to copy, so it
 * needs no user token. */
#include "glidein.h"

#include "ad.h"
#include "util.h"

KiteConn *kite_glidein_schedd_connect(const KiteGlideinPlan *plan, GError **error)
{
	g_autoptr(KiteConn) conn = kite_conn_connect(plan->schedd, plan->timeout, error);
	if (!conn) {
		g_prefix_error(error, "cannot reach the schedd at %s: ", plan->schedd);
		return NULL;
	}
	if (kite_conn_is_unix(conn))
		return g_steal_pointer(&conn);
	if (!plan->pool_key) {
		kite_throw(error, KITE_ERROR_AUTH, "the schedd at %s is reached over TCP and needs the pool key",
			   plan->schedd);
		return NULL;
	}
	if (!kite_conn_auth_daemon(conn, plan->pool_key, "glidein", error)) {
		g_prefix_error(error, "the schedd at %s refused the pool key: ", plan->schedd);
		return NULL;
	}
	return g_steal_pointer(&conn);
}

GHashTable *kite_glidein_schedd_machines(KiteConn *conn, const char *constraint, GError **error)
{
	g_autoptr(GVariant) reply = kite_conn_call(conn, KITE_MSG_MACHINES_QUERY, g_variant_new("(s)", constraint),
						   KITE_MSG_MACHINES_REPLY, error);
	if (!reply) {
		g_prefix_error(error, "asking the schedd for machines: ");
		return NULL;
	}
	g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
	for (gsize i = 0; i < g_variant_n_children(list); i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(list, i);
		g_autoptr(KiteAd) ad = kite_ad_from_variant(child, error);
		if (!ad) {
			g_prefix_error(error, "the schedd sent a bad machine ad: ");
			return NULL;
		}
		char *machine = NULL;
		if (kite_ad_get_string(ad, "Machine", &machine))
			g_hash_table_add(names, machine);
	}
	return g_steal_pointer(&names);
}
