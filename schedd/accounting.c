/* accounting.c — see accounting.h.  The request handler for USERPRIO
 * is here too, beside the list it sends. */
#include "accounting.h"

#include <math.h>
#include <string.h>

#include "schedd.h"
#include "util.h"

static void restore_usage(const char *owner, double value, gint64 updated, gpointer data)
{
	if (!isfinite(value) || value < 0) {
		g_message("queue database: usage of %s is %g seconds; starting it from 0", owner, value);
		return;
	}
	kite_usage_restore(data, owner, value, updated);
}

static void restore_machine(const char *machine, double seconds, gint64 evictions, gpointer data)
{
	if (!isfinite(seconds) || seconds < 0 || evictions < 0 || evictions > G_MAXUINT) {
		g_message("queue database: %s has %g seconds of runs and %" G_GINT64_FORMAT
			  " evictions; starting it from the prior",
			  machine, seconds, evictions);
		return;
	}
	kite_mtbf_restore(data, machine, seconds, (guint)evictions);
}

gboolean kite_accounting_load(KiteQueue *q, KiteUsage *usage, KiteMtbf *mtbf, GError **error)
{
	return kite_queue_usage_load(q, restore_usage, usage, error) &&
	       kite_queue_machine_runs_load(q, restore_machine, mtbf, error);
}

typedef struct {
	KiteQueue *q;
	GError *error; /* the first failure */
} Save;

static void save_usage(const char *owner, double value, gint64 at, gpointer data)
{
	Save *sv = data;
	if (!sv->error)
		kite_queue_usage_store(sv->q, owner, value, at, &sv->error);
}

static void save_machine(const char *machine, double seconds, guint evictions, gpointer data)
{
	Save *sv = data;
	if (!sv->error)
		kite_queue_machine_runs_store(sv->q, machine, seconds, evictions, &sv->error);
}

gboolean kite_accounting_save(KiteQueue *q, KiteUsage *usage, KiteMtbf *mtbf, GError **error)
{
	Save sv = {.q = q};
	if (usage)
		kite_usage_take_changed(usage, save_usage, &sv);
	if (mtbf)
		kite_mtbf_take_changed(mtbf, save_machine, &sv);
	if (sv.error) {
		g_propagate_error(error, sv.error);
		return FALSE;
	}
	return TRUE;
}

/* ---- pool userprio ---- */

typedef struct {
	GArray *rows;	      /* KiteUserprio */
	GHashTable *by_owner; /* owner -> index + 1 into rows */
	const KiteUsage *usage;
	gint64 now;
} Listing;

static KiteUserprio *row_for(Listing *l, const char *owner)
{
	guint i = GPOINTER_TO_UINT(g_hash_table_lookup(l->by_owner, owner));
	if (i)
		return &g_array_index(l->rows, KiteUserprio, i - 1);
	KiteUserprio r = {.owner = g_strdup(owner), .usage = kite_usage_get(l->usage, owner, l->now)};
	g_array_append_val(l->rows, r);
	g_hash_table_insert(l->by_owner, r.owner, GUINT_TO_POINTER(l->rows->len));
	return &g_array_index(l->rows, KiteUserprio, l->rows->len - 1);
}

static void list_usage(const char *owner, double value, gint64 at, gpointer data)
{
	row_for(data, owner)->last = at;
}

static void list_counts(const char *owner, int status, gint64 count, gpointer data)
{
	KiteUserprio *r = row_for(data, owner);
	if (status == KITE_JOB_RUNNING)
		r->running += count;
	else if (status == KITE_JOB_IDLE)
		r->idle += count;
	else if (status == KITE_JOB_HELD)
		r->held += count;
}

static void userprio_clear(gpointer p)
{
	g_free(((KiteUserprio *)p)->owner);
}

static gint compare_userprio(gconstpointer a, gconstpointer b)
{
	const KiteUserprio *x = a, *y = b;
	return kite_usage_order(x->usage, x->owner, y->usage, y->owner);
}

GArray *kite_accounting_userprio(KiteQueue *q, KiteUsage *usage, gint64 now, GError **error)
{
	g_autoptr(GArray) rows = g_array_new(FALSE, TRUE, sizeof(KiteUserprio));
	g_array_set_clear_func(rows, userprio_clear);
	g_autoptr(GHashTable) by_owner = g_hash_table_new(g_str_hash, g_str_equal);
	Listing l = {.rows = rows, .by_owner = by_owner, .usage = usage, .now = now};
	kite_usage_foreach(usage, list_usage, &l);
	if (!kite_queue_owner_counts(q, list_counts, &l, error))
		return NULL;
	g_array_sort(rows, compare_userprio);
	return g_steal_pointer(&rows);
}

void kite_schedd_userprio(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	(void)body; /* (u): reserved, 0 */
	g_autoptr(GError) error = NULL;
	gint64 now = kite_now_wall();
	g_autoptr(GArray) rows = kite_accounting_userprio(s->queue, s->usage, now, &error);
	if (!rows) {
		kite_server_reply_error(conn, error, FALSE);
		return;
	}
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(sdxxxx)"));
	for (guint i = 0; i < rows->len; i++) {
		const KiteUserprio *r = &g_array_index(rows, KiteUserprio, i);
		g_variant_builder_add(&b, "(sdxxxx)", r->owner, r->usage, r->last, r->running, r->idle,
				      r->held);
	}
	double half_life = kite_config_get_duration(s->config, "usage_half_life");
	kite_server_reply(conn, KITE_MSG_USERPRIO_REPLY,
			  g_variant_new("(@a(sdxxxx)xd)", g_variant_builder_end(&b), now, half_life));
}
