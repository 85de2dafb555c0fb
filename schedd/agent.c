/* agent.c — the agent role: `pool query` (AGENT_QUERY); see agent.h.
 * The choice and the prediction are pure functions of the ads; the
 * request handler builds the hypothetical job from the request and the
 * caller's identity. */
#include "agent.h"

#include <string.h>

#include "negotiator.h"
#include "schedd.h"
#include "util.h"

/* Most slots one reply lists (the collector holds at most max_machines). */
#define MAX_REPLY_SLOTS 100000

double kite_agent_predict(const KiteAd *slot, double work)
{
	gint64 mips = 0, cpus = 1;
	if (work <= 0 || !kite_ad_get_int(slot, "Mips", &mips) || mips <= 0)
		return -1;
	if (!kite_ad_get_int(slot, "TotalCpus", &cpus) || cpus < 1)
		cpus = 1;
	double load = 0;
	if (!kite_ad_get_real(slot, "LoadAvg", &load) || load < 0)
		load = 0;
	/* The job joins the run queue: with LoadAvg runnable processes
	 * already there, TotalCpus CPUs are shared by LoadAvg + 1. */
	double share = MIN(1.0, (double)cpus / (load + 1));
	return work / ((double)mips * share);
}

typedef struct {
	KiteAgentChoice c;
	char *name;
} Ranked;

static gint compare_ranked(gconstpointer a, gconstpointer b)
{
	const Ranked *x = a, *y = b;
	if (x->c.rank != y->c.rank)
		return x->c.rank > y->c.rank ? -1 : 1;
	gboolean xk = x->c.predicted >= 0, yk = y->c.predicted >= 0;
	if (xk != yk)
		return xk ? -1 : 1;
	if (xk && x->c.predicted != y->c.predicted)
		return x->c.predicted < y->c.predicted ? -1 : 1;
	return g_strcmp0(x->name, y->name);
}

GArray *kite_agent_choose(const KiteAd *job, GPtrArray *slots, double work)
{
	g_autoptr(GArray) ranked = g_array_new(FALSE, FALSE, sizeof(Ranked));
	for (guint i = 0; i < slots->len; i++) {
		const KiteAd *slot = slots->pdata[i];
		if (!kite_negotiator_match(job, slot))
			continue;
		Ranked r = {.c = {.slot = slot,
				  .rank = kite_negotiator_rank(job, slot),
				  .predicted = kite_agent_predict(slot, work)}};
		kite_ad_get_string(slot, "Name", &r.name);
		g_array_append_val(ranked, r);
	}
	g_array_sort(ranked, compare_ranked);
	GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(KiteAgentChoice), ranked->len);
	for (guint i = 0; i < ranked->len; i++) {
		Ranked *r = &g_array_index(ranked, Ranked, i);
		g_array_append_val(out, r->c);
		g_free(r->name);
	}
	return out;
}

/* Parse @text as the query's @what ("requirements", "rank") into @job. */
static gboolean set_expr(KiteAd *job, const char *attr, const char *what, const char *text, GError **error)
{
	guint col = 0;
	g_autoptr(GError) perr = NULL;
	g_autoptr(KiteExpr) e = kite_expr_parse(text, &col, &perr);
	if (!e)
		return kite_throw(error, KITE_ERROR_INVALID, "%s, column %u: %s", what, col, perr->message);
	kite_ad_set(job, attr, e);
	return TRUE;
}

static char *string_attr(const KiteAd *ad, const char *name)
{
	char *v = NULL;
	return kite_ad_get_string(ad, name, &v) ? v : g_strdup("?");
}

void kite_schedd_agent_query(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	const char *req, *rank;
	double work;
	g_variant_get(body, "(&s&sd)", &req, &rank, &work);
	g_autoptr(GError) error = NULL;
	if (!(work >= 0) || work > 1e18) {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "work must be a number of Mips-seconds >= 0");
		return;
	}
	/* The hypothetical job: its owner is the caller, so a slot's Start
	 * that looks at TARGET.Owner answers for them. */
	g_autoptr(KiteAd) job = kite_ad_new();
	const char *owner = kite_server_conn_identity(conn);
	kite_ad_set_string(job, "Owner", owner ? owner : "");
	kite_ad_set_string(job, "MyType", "Job");
	if (!set_expr(job, "Requirements", "requirements", *req ? req : "true", &error) ||
	    (*rank && !set_expr(job, "Rank", "rank", rank, &error))) {
		kite_server_refuse(conn, error->code, "%s", error->message);
		return;
	}
	g_autoptr(GPtrArray) slots = kite_schedd_slot_ads(s, FALSE);
	g_autoptr(GArray) choices = kite_agent_choose(job, slots, work);
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(sssxddd)"));
	for (guint i = 0; i < choices->len && i < MAX_REPLY_SLOTS; i++) {
		const KiteAgentChoice *c = &g_array_index(choices, KiteAgentChoice, i);
		g_autofree char *name = string_attr(c->slot, "Name"), *state = string_attr(c->slot, "State"),
				*activity = string_attr(c->slot, "Activity");
		gint64 mips = -1;
		double load = -1;
		kite_ad_get_int(c->slot, "Mips", &mips);
		kite_ad_get_real(c->slot, "LoadAvg", &load);
		g_variant_builder_add(&b, "(sssxddd)", name, state, activity, mips, load, c->rank, c->predicted);
	}
	g_message("%s: agent query: %u of %u slots could run it", kite_server_conn_peer(conn), choices->len,
		  slots->len);
	kite_server_reply(conn, KITE_MSG_AGENT_REPLY, g_variant_new("(@a(sssxddd))", g_variant_builder_end(&b)));
}
