/* cycle.c — one negotiation cycle in the schedd, up to the shadows:
 * the free slots from the collector, the idle jobs through the
 * autocluster cache (autocluster.c), the matches (negotiator.c), every
 * matched job marked Running in one transaction, and the full ads of
 * just those jobs for their shadows.  Starting the shadows is
 * shadows.c's.
 *
 * The cost of a cycle is per autocluster and per free slot, not per
 * idle job: the idle jobs are read as rows (no ads built), a job's ad
 * is built only when its row changed since the last cycle, and the
 * only other full ads built are those of the matched jobs. */
#include "cycle.h"

#include "accounting.h"
#include "schedd.h"
#include "util.h"

/* Most job ids one query names (the queue's own limit). */
#define MAX_IDS_PER_QUERY 10000

static void cycle_match_free(KiteCycleMatch *m)
{
	kite_ad_free(m->job);
	kite_ad_free(m->slot);
	g_free(m);
}

typedef struct {
	GHashTable *by_id; /* KiteJobId* -> KiteCycleMatch* */
} Loading;

static void on_matched_row(const KiteJobRow *r, gpointer data)
{
	Loading *l = data;
	KiteJobId id = {r->cluster, r->proc};
	KiteCycleMatch *m = g_hash_table_lookup(l->by_id, &id);
	if (m && r->ad && !m->job)
		m->job = kite_ad_copy(r->ad);
}

/* Fill in the full ads of @matches (now Running). */
static gboolean load_jobs(KiteQueue *q, GPtrArray *matches, GError **error)
{
	Loading l = {.by_id = g_hash_table_new(kite_job_id_hash, kite_job_id_equal)};
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(KiteJobId));
	gboolean ok = TRUE;
	for (guint i = 0; ok && i < matches->len; i++) {
		KiteCycleMatch *m = matches->pdata[i];
		g_hash_table_insert(l.by_id, &m->id, m);
		g_array_append_val(ids, m->id);
		if (ids->len == MAX_IDS_PER_QUERY || i + 1 == matches->len) {
			KiteQueueFilter f = {.status = KITE_JOB_RUNNING,
					     .ids = (const KiteJobId *)ids->data,
					     .n_ids = ids->len,
					     .full_ad = TRUE};
			ok = kite_queue_query(q, &f, on_matched_row, &l, error);
			g_array_set_size(ids, 0);
		}
	}
	g_hash_table_unref(l.by_id);
	return ok;
}

/* Mark each of @matches (KiteMatch, into @slots) Running on its slot,
 * in the caller's transaction, adding a KiteCycleMatch to @out for
 * each job still Idle. */
static void mark_running(KiteQueue *q, GArray *matches, GPtrArray *slots, GPtrArray *out)
{
	for (guint i = 0; i < matches->len; i++) {
		const KiteMatch *m = &g_array_index(matches, KiteMatch, i);
		g_autofree char *slot_name = NULL;
		kite_ad_get_string(slots->pdata[m->slot], "Name", &slot_name);
		if (!kite_queue_set_running(q, &m->id, slot_name))
			continue;
		KiteCycleMatch *cm = g_new0(KiteCycleMatch, 1);
		cm->id = m->id;
		cm->slot = kite_ad_copy(slots->pdata[m->slot]);
		cm->slot_index = m->slot;
		g_ptr_array_add(out, cm);
	}
}

GPtrArray *kite_schedd_cycle(KiteSchedd *s, KiteCycleStats *out_stats, GError **error)
{
	double t0 = kite_now_monotonic();
	KiteCycleStats stats = {0};
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)cycle_match_free);
	g_autoptr(GPtrArray) slots = kite_schedd_slot_ads(s, TRUE);
	stats.n_free_slots = slots->len;
	if (slots->len == 0) {
		/* Nothing can match: the jobs are not even read. */
		stats.seconds = kite_now_monotonic() - t0;
		if (out_stats)
			*out_stats = stats;
		return g_steal_pointer(&out);
	}
	if (!s->autoclusters)
		s->autoclusters = kite_autoclusters_new();
	GArray *groups = NULL;
	if (!kite_autoclusters_refresh(s->autoclusters, s->queue, slots, &groups, &stats.groups, error))
		return NULL;
	g_autoptr(GArray) matches =
	    kite_negotiate_groups((const KiteJobGroup *)groups->data, groups->len, slots, s->usage, 1.0,
				  kite_now_wall(), &stats.negotiation);

	/* Mark every matched job Running in one transaction before any
	 * shadow starts: a job is never claimed twice, and never claimed
	 * unless its Running state is on disk. */
	if (matches->len > 0) {
		if (!kite_queue_begin(s->queue, error))
			return NULL;
		mark_running(s->queue, matches, slots, out);
		/* The cycle's charges share its commit: no fsync of their own. */
		g_autoptr(GError) save_error = NULL;
		if (!kite_accounting_save(s->queue, s->usage, NULL, &save_error))
			g_warning("usage not saved: %s", save_error->message);
		if (!kite_queue_commit(s->queue, error))
			return NULL;
		if (!load_jobs(s->queue, out, error))
			return NULL;
	}
	stats.n_marked = out->len;
	stats.seconds = kite_now_monotonic() - t0;
	if (out_stats)
		*out_stats = stats;
	return g_steal_pointer(&out);
}

GPtrArray *kite_schedd_cycle_claims(KiteSchedd *s, GPtrArray *slots, const char *const *owners,
				    KiteCycleStats *out_stats, GError **error)
{
	double t0 = kite_now_monotonic();
	KiteCycleStats stats = {.n_free_slots = slots->len};
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)cycle_match_free);
	if (!s->autoclusters)
		s->autoclusters = kite_autoclusters_new();
	GArray *groups = NULL;
	if (!kite_autoclusters_refresh(s->autoclusters, s->queue, slots, &groups, &stats.groups, error))
		return NULL;
	g_autoptr(GArray) matches = kite_negotiate_claims((const KiteJobGroup *)groups->data, groups->len,
							  slots, owners, &stats.negotiation);
	mark_running(s->queue, matches, slots, out);
	if (out->len > 0 && !load_jobs(s->queue, out, error))
		return NULL;
	stats.n_marked = out->len;
	stats.seconds = kite_now_monotonic() - t0;
	if (out_stats)
		*out_stats = stats;
	return g_steal_pointer(&out);
}

char *kite_cycle_stats_describe(const KiteCycleStats *st)
{
	return g_strdup_printf("%u idle job(s) in %u autocluster(s) (%u regrouped), %u free slot(s): %u "
			       "matched, %u evaluations, %.3f s",
			       st->groups.n_jobs, st->groups.n_groups, st->groups.n_recomputed,
			       st->n_free_slots, st->n_marked, st->negotiation.n_evaluations, st->seconds);
}
