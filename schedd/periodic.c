/* periodic.c — jobs' own periodic expressions (job file keys
 * periodic_hold, periodic_release, periodic_remove; Condor's
 * PeriodicHold, PeriodicRelease, PeriodicRemove).
 *
 * Every periodic_expr_interval the schedd evaluates them over each job
 * that has one, with the job's ad as MY: PeriodicRemove for any job in
 * the queue, then PeriodicHold for idle and running jobs, PeriodicRelease
 * for held ones (Condor's order: a job both removable and holdable is
 * removed).  What an expression does is recorded like a user's action,
 * with the expression as the reason; a held or removed running job's
 * shadow is told to let go of its machine, as for `pool hold`. */
#include <string.h>

#include "schedd.h"
#include "util.h"

typedef struct {
	KiteJobId id;
	KiteJobAction action;
	char *reason;
} Due;

static void due_clear(gpointer p)
{
	g_free(((Due *)p)->reason);
}

/* The first of @attrs (a NULL-terminated list) that is true for @ad. */
static const char *first_true(const KiteAd *ad, const char *const *attrs, KiteExpr **out_expr)
{
	for (guint i = 0; attrs[i]; i++) {
		KiteExpr *e = kite_ad_lookup(ad, attrs[i]);
		if (!e)
			continue;
		KiteValue v = KITE_VALUE_INIT;
		kite_ad_eval(ad, attrs[i], NULL, &v);
		gboolean yes = kite_value_is_true(&v);
		kite_value_clear(&v);
		if (yes) {
			*out_expr = e;
			return attrs[i];
		}
	}
	return NULL;
}

static void check_job(const KiteJobRow *row, gpointer data)
{
	GArray *due = data;
	static const char *const when_held[] = {"PeriodicRemove", "PeriodicRelease", NULL};
	static const char *const otherwise[] = {"PeriodicRemove", "PeriodicHold", NULL};
	KiteExpr *e = NULL;
	const char *attr = first_true(row->ad, row->status == KITE_JOB_HELD ? when_held : otherwise, &e);
	if (!attr)
		return;
	g_autofree char *text = kite_expr_to_string(e);
	Due d = {
	    .id = {.cluster = row->cluster, .proc = row->proc},
	    .action = g_str_equal(attr, "PeriodicRemove") ? KITE_ACTION_REMOVE
		      : g_str_equal(attr, "PeriodicHold") ? KITE_ACTION_HOLD
							  : KITE_ACTION_RELEASE,
	    /* Condor's words, so that scripts that look for them find them */
	    .reason = g_strdup_printf("The job attribute %s expression '%s' evaluated to TRUE", attr, text),
	};
	g_array_append_val(due, d);
}

gboolean kite_schedd_periodic(gpointer schedd)
{
	KiteSchedd *s = schedd;
	static KiteExpr *has_one;
	if (!has_one)
		has_one = kite_expr_parse("PeriodicHold =!= undefined || PeriodicRelease =!= undefined || "
					  "PeriodicRemove =!= undefined",
					  NULL, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) candidates = kite_queue_periodic_candidates(s->queue, &error);
	if (!candidates || candidates->len == 0) {
		if (error)
			g_message("periodic expressions: %s", error->message);
		return G_SOURCE_CONTINUE;
	}
	g_autoptr(GArray) due = g_array_new(FALSE, TRUE, sizeof(Due));
	g_array_set_clear_func(due, due_clear);
	/* in slices: a query names at most 10,000 jobs */
	for (guint at = 0; at < candidates->len; at += 5000) {
		KiteQueueFilter filter = {.ids = &g_array_index(candidates, KiteJobId, at),
					  .n_ids = MIN(5000, candidates->len - at),
					  .constraint = has_one,
					  .full_ad = TRUE};
		if (!kite_queue_query(s->queue, &filter, check_job, due, &error)) {
			g_message("periodic expressions: %s", error->message);
			return G_SOURCE_CONTINUE;
		}
	}
	for (guint i = 0; i < due->len; i++) {
		const Due *d = &g_array_index(due, Due, i);
		g_autoptr(GArray) results = NULL;
		if (!kite_queue_act_periodic(s->queue, d->action, &d->id, d->reason, &results, &error)) {
			g_message("job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ": %s", d->id.cluster, d->id.proc,
				  error->message);
			g_clear_error(&error);
			continue;
		}
		const KiteActResult *r = &g_array_index(results, KiteActResult, 0);
		if (!r->ok)
			continue; /* changed meanwhile */
		g_message("%s: %s", r->message, d->reason);
		if (d->action == KITE_ACTION_RELEASE)
			kite_schedd_negotiate_soon(s);
		else
			kite_schedd_shadows_jobs_left(s, results);
		if (d->action == KITE_ACTION_REMOVE)
			kite_schedd_spool_forget(s, &d->id);
	}
	return G_SOURCE_CONTINUE;
}
