/* negotiator.c — matching idle jobs to free slots: two-sided match,
 * rank, fair share between users, autoclusters; see negotiator.h.
 * Finding the jobs and slots and starting shadows is in shadows.c. */
#include "negotiator.h"

#include "ckpt-place.h"

#include "autocluster.h"

#include <math.h>
#include <string.h>

/* ---- usage (fair share) ---- */

typedef struct {
	double value; /* seconds, as of @at */
	gint64 at;
	gboolean changed; /* charged since kite_usage_take_changed() */
} UsageEntry;

struct _KiteUsage {
	GHashTable *users; /* name -> UsageEntry* */
	double half_life;
};

KiteUsage *kite_usage_new(double half_life)
{
	KiteUsage *u = g_new0(KiteUsage, 1);
	u->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	u->half_life = half_life > 0 ? half_life : 86400;
	return u;
}

void kite_usage_free(KiteUsage *u)
{
	if (!u)
		return;
	g_hash_table_unref(u->users);
	g_free(u);
}

static double decayed(const KiteUsage *u, const UsageEntry *e, gint64 now)
{
	double age = MAX(0, (double)(now - e->at));
	return e->value * pow(0.5, age / u->half_life);
}

void kite_usage_charge(KiteUsage *u, const char *user, double seconds, gint64 now)
{
	UsageEntry *e = g_hash_table_lookup(u->users, user);
	if (!e) {
		e = g_new0(UsageEntry, 1);
		e->at = now;
		g_hash_table_insert(u->users, g_strdup(user), e);
	}
	e->value = decayed(u, e, now) + seconds;
	e->at = now;
	e->changed = TRUE;
}

void kite_usage_restore(KiteUsage *u, const char *user, double value, gint64 at)
{
	UsageEntry *e = g_new0(UsageEntry, 1);
	e->value = MAX(value, 0);
	e->at = at;
	g_hash_table_replace(u->users, g_strdup(user), e);
}

/* Calls @func for each entry (all of them, or only those charged since
 * the last call, which then count as saved). */
static guint usage_each(KiteUsage *u, gboolean changed_only, KiteUsageFunc func, gpointer data)
{
	GHashTableIter it;
	gpointer key, value;
	guint n = 0;
	g_hash_table_iter_init(&it, u->users);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		UsageEntry *e = value;
		if (changed_only && !e->changed)
			continue;
		if (changed_only)
			e->changed = FALSE;
		func(key, e->value, e->at, data);
		n++;
	}
	return n;
}

guint kite_usage_take_changed(KiteUsage *u, KiteUsageFunc func, gpointer data)
{
	return usage_each(u, TRUE, func, data);
}

void kite_usage_foreach(KiteUsage *u, KiteUsageFunc func, gpointer data)
{
	usage_each(u, FALSE, func, data);
}

int kite_usage_order(double usage_a, const char *user_a, double usage_b, const char *user_b)
{
	if (usage_a != usage_b)
		return usage_a < usage_b ? -1 : 1;
	return strcmp(user_a, user_b);
}

double kite_usage_get(const KiteUsage *u, const char *user, gint64 now)
{
	const UsageEntry *e = g_hash_table_lookup(u->users, user);
	return e ? decayed(u, e, now) : 0;
}

/* ---- one job against one slot ---- */

static gboolean holds(const KiteAd *my, const char *attr, const KiteAd *target)
{
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(my, attr, target, &v);
	gboolean t = kite_value_is_true(&v);
	kite_value_clear(&v);
	return t;
}

gboolean kite_negotiator_match(const KiteAd *job, const KiteAd *slot)
{
	return holds(job, "Requirements", slot) && holds(slot, "Start", job);
}

double kite_negotiator_rank(const KiteAd *job, const KiteAd *slot)
{
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(job, "Rank", slot, &v);
	double r = v.type == KITE_VALUE_INT    ? (double)v.i
		   : v.type == KITE_VALUE_REAL ? v.r
		   : v.type == KITE_VALUE_BOOL ? (v.b ? 1.0 : 0.0)
					       : 0.0;
	kite_value_clear(&v);
	return r;
}

/* ---- a cycle ---- */

typedef struct {
	KiteJobId id;
	gint64 prio;
	guint group;
	guint index; /* the caller's */
} Job;

typedef struct {
	const char *owner;
	GArray *jobs; /* Job, in turn order */
	guint next;
	double usage;
} Submitter;

static gint compare_jobs(gconstpointer a, gconstpointer b)
{
	const Job *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	if (x->id.cluster != y->id.cluster)
		return x->id.cluster < y->id.cluster ? -1 : 1;
	return x->id.proc < y->id.proc ? -1 : x->id.proc > y->id.proc;
}

/* What a cycle knows about each slot, worked out once per cycle rather
 * than once per autocluster. */
typedef struct {
	char *name;
	gboolean taken;
} SlotInfo;

typedef struct {
	guint slot;
	double rank;
	int near; /* to the job's checkpoint server (ckpt-place.h) */
	const char *name;
} Candidate;

/* Best Rank first; rank being equal, nearest the job's checkpoint. */
static gint compare_candidates(gconstpointer a, gconstpointer b)
{
	const Candidate *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	if (x->near != y->near)
		return x->near > y->near ? -1 : 1;
	return g_strcmp0(x->name, y->name);
}

typedef struct {
	GArray *candidates; /* guint slot indices, best first; NULL until needed */
	guint next;	    /* candidates before this are taken or tried */
	gboolean exhausted;
} GroupState;

/* Evaluate group @ad against every slot still free: the matching
 * slots, best Rank first.  Taken slots cannot be had in this cycle, so
 * they are not evaluated. */
static GArray *find_candidates(const KiteAd *ad, GPtrArray *slots, const SlotInfo *info,
			       guint *inout_evaluations)
{
	g_autoptr(GArray) c = g_array_new(FALSE, FALSE, sizeof(Candidate));
	for (guint i = 0; i < slots->len; i++) {
		if (info[i].taken)
			continue;
		(*inout_evaluations)++;
		if (!kite_negotiator_match(ad, slots->pdata[i]))
			continue;
		Candidate cand = {.slot = i,
				  .rank = kite_negotiator_rank(ad, slots->pdata[i]),
				  .near = kite_ckpt_proximity(ad, slots->pdata[i]),
				  .name = info[i].name};
		g_array_append_val(c, cand);
	}
	g_array_sort(c, compare_candidates);
	GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(guint), c->len);
	for (guint i = 0; i < c->len; i++)
		g_array_append_val(out, g_array_index(c, Candidate, i).slot);
	return out;
}

static void submitter_free(gpointer p)
{
	Submitter *s = p;
	g_array_unref(s->jobs);
	g_free(s);
}

GArray *kite_negotiate_groups(const KiteJobGroup *groups, guint n_groups, GPtrArray *slots, KiteUsage *usage,
			      double charge, gint64 now, KiteNegotiationStats *out_stats)
{
	KiteNegotiationStats stats = {.n_autoclusters = n_groups};
	GArray *matches = g_array_new(FALSE, FALSE, sizeof(KiteMatch));
	g_autoptr(GHashTable) by_owner = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) submitters = g_ptr_array_new_with_free_func(submitter_free);
	for (guint k = 0; k < n_groups; k++) {
		const KiteJobGroup *g = &groups[k];
		const char *owner = g->owner ? g->owner : "";
		Submitter *s = g_hash_table_lookup(by_owner, owner);
		if (!s) {
			s = g_new0(Submitter, 1);
			s->owner = owner;
			s->jobs = g_array_new(FALSE, FALSE, sizeof(Job));
			s->usage = usage ? kite_usage_get(usage, owner, now) : 0;
			g_ptr_array_add(submitters, s);
			g_hash_table_insert(by_owner, (gpointer)owner, s);
		}
		for (guint i = 0; i < g->jobs->len; i++) {
			const KiteGroupJob *m = &g_array_index(g->jobs, KiteGroupJob, i);
			Job j = {.id = m->id, .prio = m->prio, .group = k, .index = m->index};
			g_array_append_val(s->jobs, j);
			stats.n_jobs++;
		}
	}
	g_autofree GroupState *state = g_new0(GroupState, n_groups + 1);
	g_autofree SlotInfo *info = g_new0(SlotInfo, slots->len + 1);
	guint free_slots = slots->len;
	if (free_slots > 0 && stats.n_jobs > 0) {
		for (guint i = 0; i < submitters->len; i++) {
			Submitter *s = submitters->pdata[i];
			g_array_sort(s->jobs, compare_jobs);
		}
		for (guint i = 0; i < slots->len; i++)
			kite_ad_get_string(slots->pdata[i], "Name", &info[i].name);
	}
	while (free_slots > 0) {
		/* The user with the least usage (ties: name) takes a turn. */
		Submitter *best = NULL;
		for (guint i = 0; i < submitters->len; i++) {
			Submitter *s = submitters->pdata[i];
			if (s->next >= s->jobs->len)
				continue;
			if (!best || kite_usage_order(s->usage, s->owner, best->usage, best->owner) < 0)
				best = s;
		}
		if (!best)
			break;
		Job *j = &g_array_index(best->jobs, Job, best->next++);
		GroupState *gs = &state[j->group];
		if (gs->exhausted)
			continue;
		if (!gs->candidates)
			gs->candidates =
			    find_candidates(groups[j->group].ad, slots, info, &stats.n_evaluations);
		while (gs->next < gs->candidates->len &&
		       info[g_array_index(gs->candidates, guint, gs->next)].taken)
			gs->next++;
		if (gs->next >= gs->candidates->len) {
			gs->exhausted = TRUE;
			continue;
		}
		KiteMatch m = {.id = j->id,
			       .job = j->index,
			       .slot = g_array_index(gs->candidates, guint, gs->next++),
			       .autocluster = j->group};
		info[m.slot].taken = TRUE;
		free_slots--;
		g_array_append_val(matches, m);
		best->usage += charge;
		if (usage)
			kite_usage_charge(usage, best->owner, charge, now);
	}
	for (guint k = 0; k < n_groups; k++)
		if (state[k].candidates)
			g_array_unref(state[k].candidates);
	for (guint i = 0; i < slots->len; i++)
		g_free(info[i].name);
	stats.n_matches = matches->len;
	if (out_stats)
		*out_stats = stats;
	return matches;
}

GArray *kite_negotiate(GPtrArray *jobs, GPtrArray *slots, KiteUsage *usage, double charge, gint64 now,
		       KiteNegotiationStats *out_stats)
{
	g_autoptr(GHashTable) refs = kite_autocluster_slot_refs(slots);
	g_autoptr(GHashTable) by_sig = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GArray) groups = g_array_new(FALSE, FALSE, sizeof(KiteJobGroup));
	g_autoptr(GPtrArray) owners = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < jobs->len; i++) {
		const KiteAd *ad = jobs->pdata[i];
		KiteGroupJob m = {.index = i};
		char *owner = NULL;
		if (!kite_ad_get_int(ad, "ClusterId", &m.id.cluster) ||
		    !kite_ad_get_int(ad, "ProcId", &m.id.proc) || !kite_ad_get_string(ad, "Owner", &owner))
			continue;
		kite_ad_get_int(ad, "JobPrio", &m.prio);
		char *sig = kite_autocluster_signature(ad, refs);
		gpointer idx;
		if (g_hash_table_lookup_extended(by_sig, sig, NULL, &idx)) {
			g_free(sig);
			g_free(owner);
		} else {
			g_ptr_array_add(owners, owner);
			KiteJobGroup g = {.ad = ad,
					  .owner = owner,
					  .jobs = g_array_new(FALSE, FALSE, sizeof(KiteGroupJob))};
			g_array_append_val(groups, g);
			idx = GUINT_TO_POINTER(groups->len - 1);
			g_hash_table_insert(by_sig, sig, idx);
		}
		g_array_append_val(g_array_index(groups, KiteJobGroup, GPOINTER_TO_UINT(idx)).jobs, m);
	}
	GArray *matches = kite_negotiate_groups((const KiteJobGroup *)groups->data, groups->len, slots, usage,
						charge, now, out_stats);
	for (guint k = 0; k < groups->len; k++)
		g_array_unref(g_array_index(groups, KiteJobGroup, k).jobs);
	return matches;
}

/* ---- claim reuse ---- */

GArray *kite_negotiate_claims(const KiteJobGroup *groups, guint n_groups, GPtrArray *slots,
			      const char *const *owners, KiteNegotiationStats *out_stats)
{
	KiteNegotiationStats stats = {.n_autoclusters = n_groups};
	GArray *matches = g_array_new(FALSE, FALSE, sizeof(KiteMatch));
	/* Each group's jobs in turn order, sorted when first needed, and
	 * how many of them are taken. */
	g_autofree GArray **sorted = g_new0(GArray *, n_groups + 1);
	g_autofree guint *next = g_new0(guint, n_groups + 1);
	for (guint i = 0; i < slots->len; i++) {
		const Job *best = NULL;
		for (guint k = 0; k < n_groups; k++) {
			const KiteJobGroup *g = &groups[k];
			if (g_strcmp0(g->owner, owners[i]) != 0)
				continue;
			if (!sorted[k]) {
				sorted[k] = g_array_sized_new(FALSE, FALSE, sizeof(Job), g->jobs->len);
				for (guint j = 0; j < g->jobs->len; j++) {
					const KiteGroupJob *m = &g_array_index(g->jobs, KiteGroupJob, j);
					Job job = {
					    .id = m->id, .prio = m->prio, .group = k, .index = m->index};
					g_array_append_val(sorted[k], job);
				}
				g_array_sort(sorted[k], compare_jobs);
				stats.n_jobs += g->jobs->len;
			}
			if (next[k] >= sorted[k]->len)
				continue;
			const Job *cand = &g_array_index(sorted[k], Job, next[k]);
			if (best && compare_jobs(cand, best) >= 0)
				continue;
			stats.n_evaluations++;
			if (kite_negotiator_match(g->ad, slots->pdata[i]))
				best = cand;
		}
		if (!best)
			continue;
		KiteMatch m = {.id = best->id, .job = best->index, .slot = i, .autocluster = best->group};
		next[best->group]++;
		g_array_append_val(matches, m);
	}
	for (guint k = 0; k < n_groups; k++)
		if (sorted[k])
			g_array_unref(sorted[k]);
	stats.n_matches = matches->len;
	if (out_stats)
		*out_stats = stats;
	return matches;
}

/* ---- why a job does not match ---- */

/* Each slot's Start, clause by clause (as condor_q -better-analyze does):
 * slots with the same Start text are taken together, and every clause
 * that rejects the job on some of them is named with how many it holds
 * on ("Start clause `KeyboardIdle > 900` holds on 0 of 3 slots"). */
static void explain_start(GString *s, const KiteAd *job, GPtrArray *slots)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < slots->len; i++) {
		KiteExpr *start = kite_ad_lookup(slots->pdata[i], "Start");
		g_autofree char *text = start ? kite_expr_to_string(start) : g_strdup("");
		if (!start || g_hash_table_contains(seen, text))
			continue;
		g_autoptr(GPtrArray) same = g_ptr_array_new();
		for (guint j = i; j < slots->len; j++) {
			KiteExpr *other = kite_ad_lookup(slots->pdata[j], "Start");
			g_autofree char *other_text = other ? kite_expr_to_string(other) : NULL;
			if (other_text && g_str_equal(other_text, text))
				g_ptr_array_add(same, slots->pdata[j]);
		}
		g_autoptr(GPtrArray) clauses = kite_expr_conjuncts(start);
		for (guint c = 0; c < clauses->len; c++) {
			guint ok = 0;
			for (guint j = 0; j < same->len; j++) {
				KiteValue v = KITE_VALUE_INIT;
				kite_expr_eval(clauses->pdata[c], same->pdata[j], job, &v);
				ok += kite_value_is_true(&v);
				kite_value_clear(&v);
			}
			if (ok == same->len)
				continue;
			g_autofree char *clause = kite_expr_to_string(clauses->pdata[c]);
			g_string_append_printf(s, "; Start clause `%s` holds on %u of %u slot%s", clause, ok, same->len,
					       same->len == 1 ? "" : "s");
		}
		g_hash_table_add(seen, g_steal_pointer(&text));
	}
}

char *kite_negotiator_analyze(const KiteAd *job, GPtrArray *slots, guint n_free)
{
	GString *s = g_string_new(NULL);
	guint n = slots->len, matching = 0, start_ok = 0;
	for (guint i = 0; i < n; i++) {
		if (kite_negotiator_match(job, slots->pdata[i]))
			matching++;
		if (holds(slots->pdata[i], "Start", job))
			start_ok++;
	}
	if (n == 0)
		return g_strdup("no machine in the pool (no slot ads)");
	if (matching > 0) {
		g_string_printf(s, "%u of %u slots match; %u of the slots are free now", matching, n, n_free);
		return g_string_free(s, FALSE);
	}
	g_string_printf(s, "no slot matches (%u slots)", n);
	KiteExpr *req = kite_ad_lookup(job, "Requirements");
	if (req) {
		g_autoptr(GPtrArray) clauses = kite_expr_conjuncts(req);
		for (guint c = 0; c < clauses->len; c++) {
			guint ok = 0;
			for (guint i = 0; i < n; i++) {
				KiteValue v = KITE_VALUE_INIT;
				kite_expr_eval(clauses->pdata[c], job, slots->pdata[i], &v);
				ok += kite_value_is_true(&v);
				kite_value_clear(&v);
			}
			if (ok == n)
				continue;
			g_autofree char *text = kite_expr_to_string(clauses->pdata[c]);
			g_string_append_printf(s, "; requirement `%s` holds on %u", text, ok);
		}
	}
	if (start_ok < n) {
		g_string_append_printf(s, "; the slot's Start accepts this job on %u", start_ok);
		explain_start(s, job, slots);
	}
	return g_string_free(s, FALSE);
}
