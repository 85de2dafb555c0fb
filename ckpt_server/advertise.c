/* advertise.c — the server's own ad in the schedd's collector: its
 * address, space and load, sent every `advertise_interval` with
 * MACHINE_ADS (common/advertise.c, as the startd sends its slots) and
 * withdrawn at shutdown.  The schedd keeps it apart from slot ads
 * (MyType "CkptServer"): `pool status --ckpt-servers` lists it, the
 * negotiator never sees it.  An ad not refreshed within three intervals
 * (its ClassAdLifetime) is dropped by the schedd. */
#include <stdlib.h>

#include "ad.h"
#include "advertise.h"
#include "ckpt-server.h"
#include "util.h"

struct _KiteCkptAdvert {
	KiteAdvertiser *advertiser;
	char *name;
	char *address; /* where clients reach us */
	double interval;
	guint timer;
	gint64 started;
};

void kite_ckpt_status(KiteCkptServer *s, KiteCkptServerStatus *out)
{
	guint64 live = 0;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, s->owners);
	while (g_hash_table_iter_next(&it, NULL, &v))
		live += ((KiteOwner *)v)->live;
	out->address = s->address;
	out->capacity = kite_store_capacity(s);
	out->used = s->used;
	out->live = live;
	out->free = kite_store_free(s);
	out->connections = kite_server_n_connections(s->server);
	out->uploads = g_hash_table_size(s->uploads);
}

static KiteAd *make_ad(KiteCkptServer *s)
{
	KiteCkptAdvert *a = s->advert;
	KiteCkptServerStatus st = {0};
	kite_ckpt_status(s, &st);
	double load[1] = {0};
	if (getloadavg(load, 1) < 1)
		load[0] = 0;
	KiteAd *ad = kite_ad_new();
	kite_ad_set_string(ad, "MyType", KITE_CKPT_SERVER_AD_TYPE);
	kite_ad_set_string(ad, "Name", a->name);
	kite_ad_set_string(ad, "Machine", g_get_host_name());
	kite_ad_set_string(ad, "CkptServerAddr", a->address);
	/* where it is, for the agent's choice (schedd/ckpt-place.c) */
	const char *site = kite_config_get_string(s->config, "site"), *subnet = kite_config_get_string(s->config, "subnet");
	if (site && *site)
		kite_ad_set_string(ad, "Site", site);
	if (subnet && *subnet)
		kite_ad_set_string(ad, "Subnet", subnet);
	kite_ad_set_int(ad, "TotalSpace", (gint64)st.capacity);
	kite_ad_set_int(ad, "UsedSpace", (gint64)st.used);
	kite_ad_set_int(ad, "ReferencedSpace", (gint64)st.live);
	kite_ad_set_int(ad, "FreeSpace", (gint64)st.free);
	kite_ad_set_int(ad, "Connections", st.connections);
	kite_ad_set_int(ad, "Uploads", st.uploads);
	kite_ad_set_int(ad, "Allocations", g_hash_table_size(s->allocs));
	kite_ad_set_real(ad, "LoadAvg", load[0]);
	kite_ad_set_int(ad, "DaemonStartTime", a->started);
	kite_ad_set_int(ad, "ClassAdLifetime", (gint64)MAX(3 * a->interval, 1));
	return ad;
}

static gboolean advertise(gpointer data)
{
	KiteCkptServer *s = data;
	g_autoptr(GPtrArray) ads = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	g_ptr_array_add(ads, make_ad(s));
	kite_advertiser_send(s->advert->advertiser, ads);
	return G_SOURCE_CONTINUE;
}

/* The address others should use: ours, with a wildcard host replaced by
 * this host's name. */
static char *public_address(const char *listen_addr)
{
	g_autofree char *host = NULL;
	guint16 port = 0;
	if (!kite_parse_host_port(listen_addr, &host, &port, NULL))
		return g_strdup(listen_addr);
	if (g_str_equal(host, "0.0.0.0") || g_str_equal(host, "::") || !*host)
		return g_strdup_printf("%s:%u", g_get_host_name(), port);
	return g_strdup(listen_addr);
}

gboolean kite_ckpt_advertise_start(KiteCkptServer *s, GError **error)
{
	const char *schedd = kite_config_get_string(s->config, "schedd");
	if (!schedd || !*schedd)
		return TRUE;
	double interval = kite_config_get_duration(s->config, "advertise_interval");
	if (interval < 1)
		return kite_throw(error, KITE_ERROR_INVALID, "`advertise_interval` must be at least 1s");
	KiteCkptAdvert *a = g_new0(KiteCkptAdvert, 1);
	a->address = public_address(s->address);
	a->name = g_strdup_printf("ckpt_server@%s", a->address);
	a->interval = interval;
	a->started = kite_now_wall();
	a->advertiser = kite_advertiser_new(schedd, s->key, "ckpt_server",
					    kite_config_get_duration(s->config, "schedd_timeout"));
	kite_advertiser_set_what(a->advertiser, "checkpoint server ad(s)");
	s->advert = a;
	advertise(s);
	a->timer = g_timeout_add((guint)(interval * 1000), advertise, s);
	return TRUE;
}

void kite_ckpt_advertise_stop(KiteCkptServer *s)
{
	KiteCkptAdvert *a = s->advert;
	if (!a)
		return;
	g_source_remove(a->timer);
	const char *names[] = {a->name};
	kite_advertiser_withdraw(a->advertiser, names, 1);
	kite_advertiser_free(a->advertiser);
	g_free(a->name);
	g_free(a->address);
	g_free(a);
	s->advert = NULL;
}
