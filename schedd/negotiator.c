/* negotiator.c — matching idle jobs to free slots: two-sided match,
 * rank, fair share between users, autoclusters; see negotiator.h.
 * Finding the jobs and slots and starting shadows is in shadows.c. */
#include "negotiator.h"

#include <math.h>
#include <string.h>

/* ---- usage (fair share) ---- */

typedef struct {
	double value; /* seconds, as of @at */
	gint64 at;
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

/* ---- autoclusters ---- */

/* Attributes that differ from proc to proc without (usually) changing
 * what a job matches; they enter the signature only when a slot's
 * Start or the job's Requirements or Rank mention them. */
static const char *const per_proc_attrs[] = {
    "ClusterId",
    "ProcId",
    "QDate",
    "EnteredCurrentStatus",
    "JobStatus",
    "Out",
    "Err",
    "In",
    "Arguments",
    "Environment",
    "Cmd",
    "TransferInput",
    "Iwd",
    "JobPrio",
    "RemoteHost",
    "RemoteWallClockTime",
    "ImageSize",
    "NumCheckpoints",
    "LastCheckpointTime",
    "HoldReason",
    "HoldReasonCode",
    NULL,
};

static gboolean mentioned(const char *name, const KiteAd *job, GPtrArray *slots)
{
	KiteExpr *e;
	if ((e = kite_ad_lookup(job, "Requirements")) && kite_expr_references(e, name))
		return TRUE;
	if ((e = kite_ad_lookup(job, "Rank")) && kite_expr_references(e, name))
		return TRUE;
	for (guint i = 0; i < slots->len; i++)
		if ((e = kite_ad_lookup(slots->pdata[i], "Start")) && kite_expr_references(e, name))
			return TRUE;
	return FALSE;
}

static gboolean is_per_proc(const char *name)
{
	for (const char *const *p = per_proc_attrs; *p; p++)
		if (g_ascii_strcasecmp(*p, name) == 0)
			return TRUE;
	return FALSE;
}

/* The text that jobs of one autocluster share: every attribute but the
 * per-proc ones nobody's expressions look at.  @excluded caches, per
 * folded attribute name, whether it is left out. */
static char *signature(const KiteAd *job, GPtrArray *slots, GHashTable *excluded)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < kite_ad_size(job); i++) {
		const char *name = kite_ad_name_at(job, i);
		g_autofree char *key = g_ascii_strdown(name, -1);
		gpointer cached;
		gboolean skip;
		if (g_hash_table_lookup_extended(excluded, key, NULL, &cached)) {
			skip = GPOINTER_TO_INT(cached);
		} else {
			skip = is_per_proc(name) && !mentioned(name, job, slots);
			/* Requirements differ per job only through the job's own
			 * text, which is part of the signature, so the answer for
			 * one job holds for all. */
			g_hash_table_insert(excluded, g_strdup(key), GINT_TO_POINTER(skip));
		}
		if (skip)
			continue;
		g_autofree char *text = kite_expr_to_string(kite_ad_expr_at(job, i));
		g_string_append_printf(s, "%s=%s\n", key, text);
	}
	return g_string_free(s, FALSE);
}

typedef struct {
	const KiteAd *ad;   /* the first job seen: stands for all */
	GArray *candidates; /* guint slot indices, best first; NULL until needed */
	guint next;	    /* candidates before this are taken or tried */
	gboolean exhausted;
} AutoCluster;

typedef struct {
	const KiteAd *ad;
	KiteJobId id;
	gint64 prio;
	guint ac;
	guint index; /* in the caller's array */
} Job;

typedef struct {
	char *owner;
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

typedef struct {
	guint slot;
	double rank;
	const char *name;
} Candidate;

static gint compare_candidates(gconstpointer a, gconstpointer b)
{
	const Candidate *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return g_strcmp0(x->name, y->name);
}

/* Evaluate an autocluster against every slot once: the matching slots,
 * best Rank first. */
static void fill_candidates(AutoCluster *ac, GPtrArray *slots, guint *inout_evaluations)
{
	g_autoptr(GArray) c = g_array_new(FALSE, FALSE, sizeof(Candidate));
	g_autofree char **names = g_new0(char *, slots->len + 1);
	for (guint i = 0; i < slots->len; i++) {
		(*inout_evaluations)++;
		if (!kite_negotiator_match(ac->ad, slots->pdata[i]))
			continue;
		kite_ad_get_string(slots->pdata[i], "Name", &names[i]);
		Candidate cand = {
		    .slot = i, .rank = kite_negotiator_rank(ac->ad, slots->pdata[i]), .name = names[i]};
		g_array_append_val(c, cand);
	}
	g_array_sort(c, compare_candidates);
	ac->candidates = g_array_sized_new(FALSE, FALSE, sizeof(guint), c->len);
	for (guint i = 0; i < c->len; i++)
		g_array_append_val(ac->candidates, g_array_index(c, Candidate, i).slot);
	for (guint i = 0; i < slots->len; i++)
		g_free(names[i]);
}

static void submitter_free(gpointer p)
{
	Submitter *s = p;
	g_free(s->owner);
	g_array_unref(s->jobs);
	g_free(s);
}

GArray *kite_negotiate(GPtrArray *jobs, GPtrArray *slots, KiteUsage *usage, double charge, gint64 now,
		       KiteNegotiationStats *out_stats)
{
	KiteNegotiationStats stats = {.n_jobs = jobs->len};
	GArray *matches = g_array_new(FALSE, FALSE, sizeof(KiteMatch));
	g_autoptr(GHashTable) excluded = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) by_sig = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GArray) acs = g_array_new(FALSE, TRUE, sizeof(AutoCluster));
	g_autoptr(GHashTable) by_owner = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) submitters = g_ptr_array_new_with_free_func(submitter_free);

	for (guint i = 0; i < jobs->len; i++) {
		const KiteAd *ad = jobs->pdata[i];
		Job j = {.ad = ad, .index = i};
		g_autofree char *owner = NULL;
		if (!kite_ad_get_int(ad, "ClusterId", &j.id.cluster) ||
		    !kite_ad_get_int(ad, "ProcId", &j.id.proc) || !kite_ad_get_string(ad, "Owner", &owner))
			continue;
		kite_ad_get_int(ad, "JobPrio", &j.prio);
		char *sig = signature(ad, slots, excluded);
		gpointer idx;
		if (g_hash_table_lookup_extended(by_sig, sig, NULL, &idx)) {
			j.ac = GPOINTER_TO_UINT(idx);
			g_free(sig);
		} else {
			AutoCluster ac = {.ad = ad};
			g_array_append_val(acs, ac);
			j.ac = acs->len - 1;
			g_hash_table_insert(by_sig, sig, GUINT_TO_POINTER(j.ac));
		}
		Submitter *s = g_hash_table_lookup(by_owner, owner);
		if (!s) {
			s = g_new0(Submitter, 1);
			s->owner = g_strdup(owner);
			s->jobs = g_array_new(FALSE, FALSE, sizeof(Job));
			s->usage = usage ? kite_usage_get(usage, owner, now) : 0;
			g_ptr_array_add(submitters, s);
			g_hash_table_insert(by_owner, s->owner, s);
		}
		g_array_append_val(s->jobs, j);
	}
	stats.n_autoclusters = acs->len;
	for (guint i = 0; i < submitters->len; i++) {
		Submitter *s = submitters->pdata[i];
		g_array_sort(s->jobs, compare_jobs);
	}

	g_autofree gboolean *taken = g_new0(gboolean, slots->len + 1);
	guint free_slots = slots->len;
	while (free_slots > 0) {
		/* The user with the least usage (ties: name) takes a turn. */
		Submitter *best = NULL;
		for (guint i = 0; i < submitters->len; i++) {
			Submitter *s = submitters->pdata[i];
			if (s->next >= s->jobs->len)
				continue;
			if (!best || s->usage < best->usage ||
			    (s->usage == best->usage && strcmp(s->owner, best->owner) < 0))
				best = s;
		}
		if (!best)
			break;
		Job *j = &g_array_index(best->jobs, Job, best->next++);
		AutoCluster *ac = &g_array_index(acs, AutoCluster, j->ac);
		if (ac->exhausted)
			continue;
		if (!ac->candidates)
			fill_candidates(ac, slots, &stats.n_evaluations);
		while (ac->next < ac->candidates->len &&
		       taken[g_array_index(ac->candidates, guint, ac->next)])
			ac->next++;
		if (ac->next >= ac->candidates->len) {
			ac->exhausted = TRUE;
			continue;
		}
		KiteMatch m = {.id = j->id,
			       .job = j->index,
			       .slot = g_array_index(ac->candidates, guint, ac->next++),
			       .autocluster = j->ac};
		taken[m.slot] = TRUE;
		free_slots--;
		g_array_append_val(matches, m);
		best->usage += charge;
		if (usage)
			kite_usage_charge(usage, best->owner, charge, now);
	}
	for (guint i = 0; i < acs->len; i++) {
		AutoCluster *ac = &g_array_index(acs, AutoCluster, i);
		if (ac->candidates)
			g_array_unref(ac->candidates);
	}
	stats.n_matches = matches->len;
	if (out_stats)
		*out_stats = stats;
	return matches;
}

/* ---- why a job does not match ---- */

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
	if (start_ok < n)
		g_string_append_printf(s, "; the slot's Start accepts this job on %u", start_ok);
	return g_string_free(s, FALSE);
}
