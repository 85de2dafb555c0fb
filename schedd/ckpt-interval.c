/* ckpt-interval.c — see ckpt-interval.h. */
#include "ckpt-interval.h"

#include <math.h>
#include <string.h>

typedef struct {
	double seconds;
	guint evictions;
	gboolean changed; /* since kite_mtbf_take_changed() */
} MachineRuns;

struct _KiteMtbf {
	double prior;
	GHashTable *machines; /* folded name -> MachineRuns */
};

KiteMtbf *kite_mtbf_new(double prior)
{
	KiteMtbf *m = g_new0(KiteMtbf, 1);
	m->prior = prior > 0 ? prior : 3600;
	m->machines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return m;
}

void kite_mtbf_free(KiteMtbf *m)
{
	if (!m)
		return;
	g_hash_table_unref(m->machines);
	g_free(m);
}

void kite_mtbf_note_run(KiteMtbf *m, const char *machine, double seconds, gboolean evicted)
{
	g_autofree char *key = g_utf8_casefold(machine, -1);
	MachineRuns *r = g_hash_table_lookup(m->machines, key);
	if (!r) {
		r = g_new0(MachineRuns, 1);
		g_hash_table_insert(m->machines, g_steal_pointer(&key), r);
	}
	r->seconds += MAX(seconds, 0);
	r->evictions += evicted ? 1 : 0;
	r->changed = TRUE;
}

void kite_mtbf_restore(KiteMtbf *m, const char *machine, double seconds, guint evictions)
{
	MachineRuns *r = g_new0(MachineRuns, 1);
	r->seconds = MAX(seconds, 0);
	r->evictions = evictions;
	g_hash_table_replace(m->machines, g_utf8_casefold(machine, -1), r);
}

guint kite_mtbf_take_changed(KiteMtbf *m, KiteMtbfFunc func, gpointer data)
{
	GHashTableIter it;
	gpointer key, value;
	guint n = 0;
	g_hash_table_iter_init(&it, m->machines);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		MachineRuns *r = value;
		if (!r->changed)
			continue;
		r->changed = FALSE;
		func(key, r->seconds, r->evictions, data);
		n++;
	}
	return n;
}

double kite_mtbf_get(const KiteMtbf *m, const char *machine)
{
	g_autofree char *key = g_utf8_casefold(machine, -1);
	const MachineRuns *r = g_hash_table_lookup(m->machines, key);
	if (!r)
		return m->prior;
	return (r->seconds + m->prior) / (r->evictions + 1);
}

gint64 kite_ckpt_interval_young(double cost, double mtbf, gint64 min, gint64 max)
{
	double t = sqrt(2 * MAX(cost, 0.001) * MAX(mtbf, 1));
	gint64 s = (gint64)llround(t);
	return CLAMP(s, min, MAX(min, max));
}

const char *kite_slot_machine(const char *slot)
{
	const char *at = strrchr(slot, '@');
	return at ? at + 1 : slot;
}

void kite_ckpt_interval_choose(const KiteMtbf *m, KiteAd *job, const char *slot, double default_cost, gint64 min,
			       gint64 max)
{
	g_autofree char *mode = NULL;
	gint64 given = 0;
	if (kite_ad_get_int(job, "CheckpointInterval", &given) ||
	    (kite_ad_get_string(job, "CheckpointMode", &mode) && g_str_equal(mode, "none")))
		return;
	double cost = default_cost;
	gboolean measured = kite_ad_get_real(job, "CheckpointSeconds", &cost) && cost > 0;
	if (!measured)
		cost = default_cost;
	const char *machine = kite_slot_machine(slot);
	double mtbf = kite_mtbf_get(m, machine);
	gint64 interval = kite_ckpt_interval_young(cost, mtbf, min, max);
	g_autofree char *why = g_strdup_printf(
	    "Young: sqrt(2 x %.3g s %s checkpoint cost x %.0f s between evictions of %s) = %.0f s, within [%" G_GINT64_FORMAT
	    ", %" G_GINT64_FORMAT "]: %" G_GINT64_FORMAT " s",
	    cost, measured ? "measured" : "assumed", mtbf, machine, sqrt(2 * cost * mtbf), min, max, interval);
	kite_ad_set_int(job, "CheckpointInterval", interval);
	kite_ad_set_string(job, "CheckpointIntervalChoice", why);
}
