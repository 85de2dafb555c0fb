/* requests.c — the schedd's answers to client requests: submit, query,
 * remove/hold/release, edit, token creation.  Machine ads and queries
 * go on to the collector (collector.c).  Each handler decodes the
 * (already type-checked) body, asks the queue, and replies once. */
#include <string.h>

#include "auth.h"
#include "schedd.h"
#include "util.h"

static gboolean is_admin(KiteServerConn *conn)
{
	KiteRole r = kite_server_conn_role(conn);
	return r == KITE_ROLE_ADMIN || r == KITE_ROLE_DAEMON;
}

static void reply_error(KiteServerConn *conn, GError *error)
{
	g_message("%s: request refused: %s", kite_server_conn_peer(conn), error->message);
	kite_server_reply_error(conn, error, FALSE);
}

static void handle_submit(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	g_autoptr(GVariant) adv = NULL;
	guint32 count;
	g_autoptr(GError) error = NULL;
	g_variant_get(body, "(@a(ss)u)", &adv, &count);
	g_autoptr(KiteAd) tmpl = kite_ad_from_variant(adv, &error);
	if (!tmpl) {
		reply_error(conn, error);
		return;
	}
	g_autofree char *cmd = NULL;
	if (!kite_ad_get_string(tmpl, "Cmd", &cmd) || !*cmd) {
		g_set_error(&error, KITE_ERROR, KITE_ERROR_INVALID, "the job has no `Cmd` (executable)");
		reply_error(conn, error);
		return;
	}
	/* Identity comes from the connection, never from the ad. */
	kite_ad_remove(tmpl, "Owner");
	const char *owner = kite_server_conn_identity(conn);
	gint64 cluster;
	if (!kite_queue_submit(s->queue, tmpl, count, owner, &cluster, &error)) {
		reply_error(conn, error);
		return;
	}
	g_message("%s: submitted cluster %" G_GINT64_FORMAT " (%u procs)", kite_server_conn_peer(conn),
		  cluster, count);
	kite_server_reply(conn, KITE_MSG_SUBMIT_REPLY, g_variant_new("(xu)", cluster, count));
	kite_schedd_negotiate_soon(s);
}

KiteExpr *kite_schedd_parse_constraint(const char *text, GError **error)
{
	guint col = 0;
	g_autoptr(GError) perr = NULL;
	KiteExpr *expr = kite_expr_parse(text, &col, &perr);
	if (!expr)
		kite_throw(error, KITE_ERROR_INVALID, "constraint, column %u: %s", col, perr->message);
	return expr;
}

static GArray *ids_from_variant(GVariant *v)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(KiteJobId));
	GVariantIter it;
	KiteJobId id;
	g_variant_iter_init(&it, v);
	while (g_variant_iter_next(&it, "(xx)", &id.cluster, &id.proc))
		g_array_append_val(ids, id);
	return ids;
}

/* The columns of a query reply, filled row by row. */
typedef struct {
	GArray *cluster, *proc, *qdate, *run_time, *image_size, *last_ckpt, *entered; /* gint64 */
	GArray *status, *prio, *num_ckpts;					      /* gint32 */
	GPtrArray *owner, *host, *cmd, *hold_reason;				      /* char*, owned */
	GPtrArray *ads; /* GVariant*, floating sunk */
	/* for `q -l` of idle jobs: every slot ad, to say why a job waits */
	GPtrArray *slots; /* KiteAd*, NULL when not wanted */
	guint n_free, analyzed;
} Columns;

/* Most jobs per query that get a MatchAnalysis (each costs a pass over
 * every slot ad). */
#define MAX_ANALYZED 100

static void columns_init(Columns *c)
{
	GArray **i64[] = {&c->cluster,	  &c->proc,	 &c->qdate,  &c->run_time,
			  &c->image_size, &c->last_ckpt, &c->entered};
	for (gsize i = 0; i < G_N_ELEMENTS(i64); i++)
		*i64[i] = g_array_new(FALSE, FALSE, sizeof(gint64));
	GArray **i32[] = {&c->status, &c->prio, &c->num_ckpts};
	for (gsize i = 0; i < G_N_ELEMENTS(i32); i++)
		*i32[i] = g_array_new(FALSE, FALSE, sizeof(gint32));
	GPtrArray **str[] = {&c->owner, &c->host, &c->cmd, &c->hold_reason};
	for (gsize i = 0; i < G_N_ELEMENTS(str); i++)
		*str[i] = g_ptr_array_new_with_free_func(g_free);
	c->ads = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
}

static void columns_clear(Columns *c)
{
	GArray *arrays[] = {c->cluster,	  c->proc,    c->qdate,	 c->run_time, c->image_size,
			    c->last_ckpt, c->entered, c->status, c->prio,     c->num_ckpts};
	for (gsize i = 0; i < G_N_ELEMENTS(arrays); i++)
		g_array_unref(arrays[i]);
	GPtrArray *ptrs[] = {c->owner, c->host, c->cmd, c->hold_reason, c->ads};
	for (gsize i = 0; i < G_N_ELEMENTS(ptrs); i++)
		g_ptr_array_unref(ptrs[i]);
	if (c->slots)
		g_ptr_array_unref(c->slots);
}

static void add_row(const KiteJobRow *r, gpointer data)
{
	Columns *c = data;
	gint32 status = r->status, prio = r->prio, num_ckpts = r->num_ckpts;
	g_array_append_val(c->cluster, r->cluster);
	g_array_append_val(c->proc, r->proc);
	g_array_append_val(c->qdate, r->qdate);
	g_array_append_val(c->run_time, r->run_time);
	g_array_append_val(c->image_size, r->image_size);
	g_array_append_val(c->last_ckpt, r->last_ckpt);
	g_array_append_val(c->entered, r->entered_status);
	g_array_append_val(c->status, status);
	g_array_append_val(c->prio, prio);
	g_array_append_val(c->num_ckpts, num_ckpts);
	g_ptr_array_add(c->owner, g_strdup(r->owner));
	g_ptr_array_add(c->host, g_strdup(r->host));
	g_ptr_array_add(c->cmd, g_strdup(r->cmd));
	g_ptr_array_add(c->hold_reason, g_strdup(r->hold_reason));
	if (r->ad && c->slots && r->status == KITE_JOB_IDLE && c->analyzed < MAX_ANALYZED) {
		g_autoptr(KiteAd) ad = kite_ad_copy(r->ad);
		g_autofree char *why = kite_negotiator_analyze(ad, c->slots, c->n_free);
		kite_ad_set_string(ad, "MatchAnalysis", why);
		c->analyzed++;
		g_ptr_array_add(c->ads, g_variant_ref_sink(kite_ad_to_variant(ad)));
	} else if (r->ad) {
		g_ptr_array_add(c->ads, g_variant_ref_sink(kite_ad_to_variant(r->ad)));
	}
}

static GVariant *fixed(GArray *a, const GVariantType *t, gsize size)
{
	return g_variant_new_fixed_array(t, a->data, a->len, size);
}

static GVariant *strings(GPtrArray *a)
{
	return kite_wire_strv_new((const char *const *)a->pdata, a->len);
}

static GVariant *columns_to_reply(Columns *c)
{
	const GVariantType *x = G_VARIANT_TYPE_INT64, *i = G_VARIANT_TYPE_INT32;
	GVariant *ads = g_variant_new_array(G_VARIANT_TYPE("a(ss)"), (GVariant **)c->ads->pdata, c->ads->len);
	return g_variant_new("(@ax@ax@as@ax@ax@ai@ai@ax@ai@ax@as@as@as@ax@aa(ss))", fixed(c->cluster, x, 8),
			     fixed(c->proc, x, 8), strings(c->owner), fixed(c->qdate, x, 8),
			     fixed(c->run_time, x, 8), fixed(c->status, i, 4), fixed(c->prio, i, 4),
			     fixed(c->image_size, x, 8), fixed(c->num_ckpts, i, 4), fixed(c->last_ckpt, x, 8),
			     strings(c->host), strings(c->cmd), strings(c->hold_reason),
			     fixed(c->entered, x, 8), ads);
}

static void handle_query(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	const char *owner, *constraint;
	g_autoptr(GVariant) idv = NULL;
	gint32 status;
	gboolean history, full;
	g_autoptr(GError) error = NULL;
	g_variant_get(body, "(&s@a(xx)i&sbb)", &owner, &idv, &status, &constraint, &history, &full);
	g_autoptr(GArray) ids = ids_from_variant(idv);
	g_autoptr(KiteExpr) expr = NULL;
	if (*constraint && !(expr = kite_schedd_parse_constraint(constraint, &error))) {
		reply_error(conn, error);
		return;
	}
	KiteQueueFilter f = {
	    .owner = owner,
	    .ids = (const KiteJobId *)ids->data,
	    .n_ids = ids->len,
	    .status = status,
	    .constraint = expr,
	    .history = history,
	    .full_ad = full,
	};
	Columns c = {0};
	columns_init(&c);
	if (full && !history) {
		g_autoptr(GPtrArray) free_slots = kite_schedd_slot_ads(s, TRUE);
		c.n_free = free_slots->len;
		c.slots = kite_schedd_slot_ads(s, FALSE);
	}
	if (!kite_queue_query(s->queue, &f, add_row, &c, &error)) {
		columns_clear(&c);
		reply_error(conn, error);
		return;
	}
	kite_server_reply(conn, KITE_MSG_QUERY_REPLY, columns_to_reply(&c));
	columns_clear(&c);
}

static void reply_results(KiteServerConn *conn, GArray *results)
{
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(xxbs)"));
	for (guint i = 0; i < results->len; i++) {
		KiteActResult *r = &g_array_index(results, KiteActResult, i);
		g_variant_builder_add(&b, "(xxbs)", r->id.cluster, r->id.proc, r->ok, r->message);
		g_message("%s: %s", kite_server_conn_peer(conn), r->message);
	}
	kite_server_reply(conn, KITE_MSG_ACT_REPLY, g_variant_new("(@a(xxbs))", g_variant_builder_end(&b)));
}

static void handle_act(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	guint32 action;
	g_autoptr(GVariant) idv = NULL;
	const char *reason;
	g_autoptr(GError) error = NULL;
	g_variant_get(body, "(u@a(xx)&s)", &action, &idv, &reason);
	g_autoptr(GArray) ids = ids_from_variant(idv);
	g_autoptr(GArray) results = NULL;
	if (!kite_queue_act(s->queue, action, (const KiteJobId *)ids->data, ids->len,
			    kite_server_conn_identity(conn), is_admin(conn), reason, &results, &error)) {
		reply_error(conn, error);
		return;
	}
	reply_results(conn, results);
	if (action == KITE_ACTION_REMOVE)
		for (guint i = 0; i < results->len; i++)
			if (g_array_index(results, KiteActResult, i).ok)
				kite_schedd_spool_forget(s, &g_array_index(results, KiteActResult, i).id);
	if (action == KITE_ACTION_REMOVE || action == KITE_ACTION_HOLD)
		kite_schedd_shadows_jobs_left(s, results);
	else if (action == KITE_ACTION_RELEASE)
		kite_schedd_negotiate_soon(s);
	else
		kite_schedd_shadows_checkpoint(s, results, action == KITE_ACTION_VACATE);
}

static void handle_edit(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	g_autoptr(GVariant) idv = NULL;
	const char *attr, *value;
	g_autoptr(GError) error = NULL;
	g_variant_get(body, "(@a(xx)&s&s)", &idv, &attr, &value);
	g_autoptr(GArray) ids = ids_from_variant(idv);
	g_autoptr(GArray) results = NULL;
	if (!kite_queue_edit(s->queue, (const KiteJobId *)ids->data, ids->len, attr, value,
			     kite_server_conn_identity(conn), is_admin(conn), &results, &error)) {
		reply_error(conn, error);
		return;
	}
	reply_results(conn, results);
}

static void add_event(gint64 time, const char *event, const char *host, const char *detail, gpointer data)
{
	g_variant_builder_add(data, "(xsss)", time, event, host, detail);
}

/* `q -l`: what happened to a job (its queue record of events), for
 * anyone who may look at the job, as a query may. */
static void handle_job_events(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	KiteJobId id;
	g_variant_get(body, "(xx)", &id.cluster, &id.proc);
	g_autoptr(GError) error = NULL;
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(xsss)"));
	if (!kite_queue_job_events(s->queue, &id, add_event, &b, &error)) {
		g_variant_builder_clear(&b);
		reply_error(conn, error);
		return;
	}
	kite_server_reply(conn, KITE_MSG_JOB_EVENTS_REPLY, g_variant_new("(@a(xsss))", g_variant_builder_end(&b)));
}

static void handle_token_create(KiteSchedd *s, KiteServerConn *conn, GVariant *body)
{
	const char *user;
	gint64 lifetime;
	g_autoptr(GError) error = NULL;
	g_variant_get(body, "(&sx)", &user, &lifetime);
	if (!*user || strlen(user) > 256 || strchr(user, '.') != NULL) {
		g_set_error(&error, KITE_ERROR, KITE_ERROR_INVALID, "bad user name \"%s\"", user);
		reply_error(conn, error);
		return;
	}
	/* Users may make tokens for themselves (to reach the schedd over TCP
	 * from elsewhere); only admins for others. */
	if (!is_admin(conn) && g_strcmp0(user, kite_server_conn_identity(conn)) != 0) {
		g_set_error(&error, KITE_ERROR, KITE_ERROR_PERMISSION,
			    "permission denied: only an admin may create a token for another user (%s)",
			    user);
		reply_error(conn, error);
		return;
	}
	if (lifetime <= 0 || lifetime > 10 * 365 * 86400LL) {
		g_set_error(&error, KITE_ERROR, KITE_ERROR_INVALID,
			    "token lifetime must be between 1 s and 10 years");
		reply_error(conn, error);
		return;
	}
	g_autofree char *token = kite_auth_token_create(s->key, user, kite_now_wall() + lifetime);
	g_message("%s: created a token for %s", kite_server_conn_peer(conn), user);
	kite_server_reply(conn, KITE_MSG_TOKEN_REPLY, g_variant_new("(s)", token));
}

void kite_schedd_handle(KiteServerConn *conn, guint type, GVariant *body, gpointer user_data)
{
	KiteSchedd *s = user_data;
	switch (type) {
	case KITE_MSG_SUBMIT:
		handle_submit(s, conn, body);
		break;
	case KITE_MSG_QUERY:
		handle_query(s, conn, body);
		break;
	case KITE_MSG_ACT:
		handle_act(s, conn, body);
		break;
	case KITE_MSG_EDIT:
		handle_edit(s, conn, body);
		break;
	case KITE_MSG_TOKEN_CREATE:
		handle_token_create(s, conn, body);
		break;
	case KITE_MSG_JOB_EVENTS:
		handle_job_events(s, conn, body);
		break;
	case KITE_MSG_USERPRIO:
		kite_schedd_userprio(s, conn, body);
		break;
	default:
		/* The server answers requests nobody handled. */
		kite_schedd_collector_handle(s, conn, type, body);
		break;
	}
}
