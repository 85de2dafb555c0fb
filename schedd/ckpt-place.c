/* ckpt-place.c — see ckpt-place.h. */
#include "ckpt-place.h"

static gboolean same(const KiteAd *a, const char *attr_a, const KiteAd *b, const char *attr_b)
{
	g_autofree char *x = NULL, *y = NULL;
	return kite_ad_get_string(a, attr_a, &x) && kite_ad_get_string(b, attr_b, &y) && *x &&
	       g_ascii_strcasecmp(x, y) == 0;
}

int kite_ckpt_proximity(const KiteAd *job, const KiteAd *slot)
{
	if (same(job, "CheckpointServerSubnet", slot, "Subnet"))
		return 2;
	if (same(job, "CheckpointServerSite", slot, "Site"))
		return 1;
	return 0;
}

static int server_proximity(const KiteAd *server, const KiteAd *slot)
{
	return same(server, "Subnet", slot, "Subnet") ? 2 : same(server, "Site", slot, "Site") ? 1 : 0;
}

static gint64 get_int(const KiteAd *ad, const char *name)
{
	gint64 v = 0;
	kite_ad_get_int(ad, name, &v);
	return v;
}

const KiteAd *kite_ckpt_choose_server(GPtrArray *servers, const KiteAd *slot, gint64 need, char **why)
{
	const KiteAd *best = NULL;
	int best_near = -1;
	gint64 best_busy = 0, best_free = 0;
	guint full = 0;
	for (guint i = 0; i < servers->len; i++) {
		const KiteAd *s = servers->pdata[i];
		g_autofree char *addr = NULL;
		if (!kite_ad_get_string(s, "CkptServerAddr", &addr))
			continue;
		gint64 free_bytes = get_int(s, "FreeSpace");
		if (free_bytes < need) {
			full++;
			continue;
		}
		int near = server_proximity(s, slot);
		gint64 busy = get_int(s, "Uploads") + get_int(s, "Connections");
		/* nearest, then least busy, then most room */
		if (!best || near > best_near || (near == best_near && busy < best_busy) ||
		    (near == best_near && busy == best_busy && free_bytes > best_free)) {
			best = s;
			best_near = near;
			best_busy = busy;
			best_free = free_bytes;
		}
	}
	if (!best) {
		*why = g_strdup_printf("no checkpoint server has room for %" G_GINT64_FORMAT " bytes (%u known, %u full)",
				       need, servers->len, full);
		return NULL;
	}
	g_autofree char *addr = NULL, *name = NULL;
	kite_ad_get_string(best, "CkptServerAddr", &addr);
	if (!kite_ad_get_string(best, "Name", &name))
		name = g_strdup(addr);
	static const char *const nearness[] = {"not near the machine", "on the machine's site",
					       "on the machine's subnet"};
	*why = g_strdup_printf("%s (%s): %s, %" G_GINT64_FORMAT " transfers, %" G_GINT64_FORMAT
			       " MiB free; %u server(s) known",
			       name, addr, nearness[best_near], best_busy, best_free >> 20, servers->len);
	return best;
}
