/* autocluster.c — autocluster signatures and the schedd's cache of
 * groups between negotiation cycles; see autocluster.h.  Matching the
 * groups to slots is negotiator.c's. */
#include "autocluster.h"

#include <string.h>

/* Most job ids one full-ad query names (the queue's own limit). */
#define MAX_IDS_PER_QUERY 10000

/* ---- significant attributes ---- */

/* Add to @names what the attributes of @ad named in @names mention,
 * until nothing new comes (attribute chains in one ad). */
static void close_over(const KiteAd *ad, GHashTable *names)
{
	g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, names);
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_ptr_array_add(todo, g_strdup(key));
	g_autoptr(GHashTable) found = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	while (todo->len > 0) {
		g_autofree char *name = g_ptr_array_steal_index_fast(todo, todo->len - 1);
		KiteExpr *e = kite_ad_lookup(ad, name);
		if (!e)
			continue;
		g_hash_table_remove_all(found);
		kite_expr_collect_references(e, found);
		g_hash_table_iter_init(&it, found);
		while (g_hash_table_iter_next(&it, &key, NULL))
			if (!g_hash_table_contains(names, key)) {
				g_hash_table_add(names, g_strdup(key));
				g_ptr_array_add(todo, g_strdup(key));
			}
	}
}

GHashTable *kite_autocluster_slot_refs(GPtrArray *slots)
{
	GHashTable *refs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	/* Most slots of a pool share their Start expression (one policy per
	 * startd, many slots per startd); each distinct text is walked once. */
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < slots->len; i++) {
		KiteExpr *start = kite_ad_lookup(slots->pdata[i], "Start");
		if (!start)
			continue;
		g_autofree char *text = kite_expr_to_string(start);
		if (g_hash_table_contains(seen, text))
			continue;
		g_hash_table_add(seen, g_steal_pointer(&text));
		g_autoptr(GHashTable) mine = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		g_hash_table_add(mine, g_strdup("start"));
		close_over(slots->pdata[i], mine);
		GHashTableIter it;
		gpointer key;
		g_hash_table_iter_init(&it, mine);
		while (g_hash_table_iter_next(&it, &key, NULL))
			if (!g_hash_table_contains(refs, key))
				g_hash_table_add(refs, g_strdup(key));
	}
	return refs;
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *kite_autocluster_signature(const KiteAd *job, GHashTable *slot_refs)
{
	g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_hash_table_add(names, g_strdup("requirements"));
	g_hash_table_add(names, g_strdup("rank"));
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, slot_refs);
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_hash_table_add(names, g_strdup(key));
	g_hash_table_remove(names, "owner"); /* always first, below */
	close_over(job, names);

	g_autofree char *owner = NULL;
	kite_ad_get_string(job, "Owner", &owner);
	GString *s = g_string_new("owner=");
	g_string_append(s, owner ? owner : "");
	g_string_append_c(s, '\n');
	guint n = 0;
	g_autofree gpointer *sorted = g_hash_table_get_keys_as_array(names, &n);
	qsort(sorted, n, sizeof(gpointer), compare_strings);
	for (guint i = 0; i < n; i++) {
		KiteExpr *e = kite_ad_lookup(job, sorted[i]);
		if (!e)
			continue;
		g_autofree char *text = kite_expr_to_string(e);
		g_string_append_printf(s, "%s=%s\n", (const char *)sorted[i], text);
	}
	return g_string_free(s, FALSE);
}

/* ---- the cache ---- */

typedef struct {
	char *signature;
	KiteAd *ad; /* the first member's full ad */
	char *owner;
	guint refs;   /* cached jobs in this group */
	GArray *jobs; /* KiteGroupJob, this cycle's members */
	gint index;   /* in this cycle's groups, -1 when it has none */
} Group;

typedef struct {
	KiteJobId id;
	char *row; /* the row as last seen: columns and proc ad */
	Group *group;
	guint seen; /* generation */
} CachedJob;

struct _KiteAutoclusters {
	GHashTable *jobs;   /* KiteJobId* (in the CachedJob) -> CachedJob* */
	GHashTable *groups; /* signature -> Group* */
	GHashTable *slot_refs;
	guint generation;
	GArray *current; /* KiteJobGroup, the last refresh's */
};

static void group_free(Group *g)
{
	g_free(g->signature);
	kite_ad_free(g->ad);
	g_free(g->owner);
	g_array_unref(g->jobs);
	g_free(g);
}

static void cached_job_free(CachedJob *j)
{
	g_free(j->row);
	g_free(j);
}

KiteAutoclusters *kite_autoclusters_new(void)
{
	KiteAutoclusters *ac = g_new0(KiteAutoclusters, 1);
	ac->jobs =
	    g_hash_table_new_full(kite_job_id_hash, kite_job_id_equal, NULL, (GDestroyNotify)cached_job_free);
	ac->groups = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)group_free);
	ac->current = g_array_new(FALSE, FALSE, sizeof(KiteJobGroup));
	return ac;
}

void kite_autoclusters_free(KiteAutoclusters *ac)
{
	if (!ac)
		return;
	g_hash_table_unref(ac->jobs);
	g_hash_table_unref(ac->groups);
	if (ac->slot_refs)
		g_hash_table_unref(ac->slot_refs);
	g_array_unref(ac->current);
	g_free(ac);
}

static gboolean same_set(GHashTable *a, GHashTable *b)
{
	if (!a || !b || g_hash_table_size(a) != g_hash_table_size(b))
		return FALSE;
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, a);
	while (g_hash_table_iter_next(&it, &key, NULL))
		if (!g_hash_table_contains(b, key))
			return FALSE;
	return TRUE;
}

/* Everything of a row that goes into the job's full ad besides the
 * (immutable) cluster ad: when it is unchanged, so is the group. */
static char *row_text(const KiteJobRow *r)
{
	return g_strdup_printf("%s|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%d|%d|%" G_GINT64_FORMAT
			       "|%d|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%s|%s|%s",
			       r->owner, r->qdate, r->run_time, r->status, r->prio, r->image_size,
			       r->num_ckpts, r->last_ckpt, r->entered_status, r->host ? r->host : "",
			       r->hold_reason ? r->hold_reason : "", r->proc_ad ? r->proc_ad : "");
}

static void unlink_job(KiteAutoclusters *ac, CachedJob *j)
{
	Group *g = j->group;
	j->group = NULL;
	if (g && --g->refs == 0)
		g_hash_table_remove(ac->groups, g->signature);
}

/* A job to (re)group: its row seen now. */
typedef struct {
	KiteJobId id;
	char *row;
	gint64 prio;
	guint index;
} Pending;

typedef struct {
	KiteAutoclusters *ac;
	GArray *pending;    /* Pending, for the first pass */
	GHashTable *wanted; /* KiteJobId* -> Pending*, for the second */
	guint index;
	guint recomputed;
} Refresh;

static void add_member(Group *g, const KiteJobId *id, gint64 prio, guint index)
{
	KiteGroupJob m = {.id = *id, .prio = prio, .index = index};
	g_array_append_val(g->jobs, m);
}

/* First pass: every idle row, without its full ad. */
static void on_row(const KiteJobRow *r, gpointer data)
{
	Refresh *rf = data;
	KiteAutoclusters *ac = rf->ac;
	KiteJobId id = {r->cluster, r->proc};
	g_autofree char *row = row_text(r);
	guint index = rf->index++;
	CachedJob *j = g_hash_table_lookup(ac->jobs, &id);
	if (j && j->group && strcmp(j->row, row) == 0) {
		j->seen = ac->generation;
		add_member(j->group, &id, r->prio, index);
		return;
	}
	Pending p = {.id = id, .row = g_steal_pointer(&row), .prio = r->prio, .index = index};
	g_array_append_val(rf->pending, p);
}

/* Second pass: the full ads of the jobs that changed. */
static void on_full_row(const KiteJobRow *r, gpointer data)
{
	Refresh *rf = data;
	KiteAutoclusters *ac = rf->ac;
	KiteJobId id = {r->cluster, r->proc};
	Pending *p = g_hash_table_lookup(rf->wanted, &id);
	if (!p || !r->ad)
		return;
	g_hash_table_remove(rf->wanted, &id); /* once */
	char *sig = kite_autocluster_signature(r->ad, ac->slot_refs);
	Group *g = g_hash_table_lookup(ac->groups, sig);
	if (g) {
		g_free(sig);
	} else {
		g = g_new0(Group, 1);
		g->signature = sig;
		g->ad = kite_ad_copy(r->ad);
		g->owner = g_strdup(r->owner);
		g->jobs = g_array_new(FALSE, FALSE, sizeof(KiteGroupJob));
		g->index = -1;
		g_hash_table_insert(ac->groups, g->signature, g);
	}
	CachedJob *j = g_hash_table_lookup(ac->jobs, &id);
	if (!j) {
		j = g_new0(CachedJob, 1);
		j->id = id;
		g_hash_table_insert(ac->jobs, &j->id, j);
	}
	/* Join the new group before leaving the old, which may be the same. */
	g->refs++;
	unlink_job(ac, j);
	j->group = g;
	g_free(j->row);
	j->row = g_steal_pointer(&p->row);
	j->seen = ac->generation;
	add_member(g, &id, p->prio, p->index);
	rf->recomputed++;
}

static gint compare_ids(gconstpointer a, gconstpointer b)
{
	const KiteJobId *x = a, *y = b;
	if (x->cluster != y->cluster)
		return x->cluster < y->cluster ? -1 : 1;
	return x->proc < y->proc ? -1 : x->proc > y->proc;
}

static gint compare_groups(gconstpointer a, gconstpointer b)
{
	const Group *x = *(Group *const *)a, *y = *(Group *const *)b;
	return compare_ids(x->jobs->data, y->jobs->data);
}

/* Load the full ads of the pending jobs, naming whole clusters where
 * every idle proc of the cluster is pending (a fresh submission) and
 * single procs otherwise, at most MAX_IDS_PER_QUERY ids per query. */
static gboolean load_pending(Refresh *rf, KiteQueue *q, GHashTable *idle_per_cluster, GError **error)
{
	g_autoptr(GHashTable) pending_per_cluster = g_hash_table_new(g_int64_hash, g_int64_equal);
	for (guint i = 0; i < rf->pending->len; i++) {
		Pending *p = &g_array_index(rf->pending, Pending, i);
		g_hash_table_insert(rf->wanted, &p->id, p);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(pending_per_cluster, &p->id.cluster));
		g_hash_table_insert(pending_per_cluster, &p->id.cluster, GUINT_TO_POINTER(n + 1));
	}
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(KiteJobId));
	for (guint i = 0; i <= rf->pending->len; i++) {
		if (i < rf->pending->len) {
			Pending *p = &g_array_index(rf->pending, Pending, i);
			guint pending =
			    GPOINTER_TO_UINT(g_hash_table_lookup(pending_per_cluster, &p->id.cluster));
			guint idle = GPOINTER_TO_UINT(g_hash_table_lookup(idle_per_cluster, &p->id.cluster));
			if (pending == idle) {
				/* Pending rows come in id order: name the cluster once. */
				if (ids->len == 0 ||
				    g_array_index(ids, KiteJobId, ids->len - 1).cluster != p->id.cluster ||
				    g_array_index(ids, KiteJobId, ids->len - 1).proc != -1) {
					KiteJobId whole = {p->id.cluster, -1};
					g_array_append_val(ids, whole);
				}
			} else {
				g_array_append_val(ids, p->id);
			}
		}
		if (ids->len > 0 && (ids->len == MAX_IDS_PER_QUERY || i == rf->pending->len)) {
			KiteQueueFilter f = {.status = KITE_JOB_IDLE,
					     .ids = (const KiteJobId *)ids->data,
					     .n_ids = ids->len,
					     .full_ad = TRUE};
			if (!kite_queue_query(q, &f, on_full_row, rf, error))
				return FALSE;
			g_array_set_size(ids, 0);
		}
	}
	return TRUE;
}

static void count_idle(const KiteJobRow *r, gpointer data)
{
	GHashTable *per_cluster = data;
	gint64 *key = g_new(gint64, 1);
	*key = r->cluster;
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(per_cluster, key));
	g_hash_table_replace(per_cluster, key, GUINT_TO_POINTER(n + 1));
}

static void pending_clear(gpointer p)
{
	g_free(((Pending *)p)->row);
}

gboolean kite_autoclusters_refresh(KiteAutoclusters *ac, KiteQueue *q, GPtrArray *slots, GArray **out_groups,
				   KiteAutoclusterStats *out_stats, GError **error)
{
	g_autoptr(GHashTable) refs = kite_autocluster_slot_refs(slots);
	if (!same_set(refs, ac->slot_refs)) {
		/* Other attributes matter now: every signature is stale. */
		g_hash_table_remove_all(ac->jobs);
		g_hash_table_remove_all(ac->groups);
		if (ac->slot_refs)
			g_hash_table_unref(ac->slot_refs);
		ac->slot_refs = g_steal_pointer(&refs);
	}
	ac->generation++;
	g_array_set_size(ac->current, 0);
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, ac->groups);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		g_array_set_size(((Group *)value)->jobs, 0);
		((Group *)value)->index = -1;
	}

	Refresh rf = {.ac = ac};
	rf.pending = g_array_new(FALSE, FALSE, sizeof(Pending));
	g_array_set_clear_func(rf.pending, pending_clear);
	rf.wanted = g_hash_table_new(kite_job_id_hash, kite_job_id_equal);
	KiteQueueFilter f = {.status = KITE_JOB_IDLE};
	gboolean ok = kite_queue_query(q, &f, on_row, &rf, error);
	if (ok && rf.pending->len > 0) {
		g_autoptr(GHashTable) idle_per_cluster =
		    g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
		/* Only needed to tell fresh clusters from single changes;
		 * counted from the cache's view plus the pending rows. */
		for (guint i = 0; i < rf.pending->len; i++) {
			KiteJobRow r = {.cluster = g_array_index(rf.pending, Pending, i).id.cluster};
			count_idle(&r, idle_per_cluster);
		}
		g_hash_table_iter_init(&it, ac->jobs);
		while (g_hash_table_iter_next(&it, NULL, &value)) {
			CachedJob *j = value;
			if (j->seen == ac->generation) {
				KiteJobRow r = {.cluster = j->id.cluster};
				count_idle(&r, idle_per_cluster);
			}
		}
		ok = load_pending(&rf, q, idle_per_cluster, error);
	}
	guint n_jobs = rf.index, recomputed = rf.recomputed;
	g_array_unref(rf.pending);
	g_hash_table_unref(rf.wanted);
	if (!ok)
		return FALSE;

	/* Jobs that are not idle any more leave their groups. */
	g_hash_table_iter_init(&it, ac->jobs);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		CachedJob *j = value;
		if (j->seen != ac->generation) {
			unlink_job(ac, j);
			g_hash_table_iter_remove(&it);
		}
	}
	/* The groups in a stable order: by their first member's id. */
	g_autoptr(GPtrArray) live = g_ptr_array_new();
	g_hash_table_iter_init(&it, ac->groups);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		Group *g = value;
		if (g->jobs->len == 0)
			continue;
		g_array_sort(g->jobs, compare_ids); /* KiteGroupJob starts with its id */
		g_ptr_array_add(live, g);
	}
	g_ptr_array_sort(live, compare_groups);
	for (guint i = 0; i < live->len; i++) {
		Group *g = live->pdata[i];
		g->index = (gint)i;
		KiteJobGroup jg = {.ad = g->ad, .owner = g->owner, .jobs = g->jobs};
		g_array_append_val(ac->current, jg);
	}
	if (out_stats)
		*out_stats = (KiteAutoclusterStats){
		    .n_jobs = n_jobs, .n_groups = ac->current->len, .n_recomputed = recomputed};
	if (out_groups)
		*out_groups = ac->current;
	return TRUE;
}

gint kite_autoclusters_group_of(const KiteAutoclusters *ac, const KiteJobId *id)
{
	const CachedJob *j = g_hash_table_lookup(ac->jobs, id);
	return j && j->group && j->seen == ac->generation ? j->group->index : -1;
}
