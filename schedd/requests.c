/* requests.c — the schedd's answers to client requests: submit, query,
 * remove/hold/release, edit, token creation.  Each handler decodes the
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
	g_message("%s: submitted cluster %" G_GINT64_FORMAT " (%u procs)", kite_server_conn_peer(conn), cluster,
		  count);
	kite_server_reply(conn, KITE_MSG_SUBMIT_REPLY, g_variant_new("(xu)", cluster, count));
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

static void add_row(const KiteJobRow *r, gpointer data)
{
	GVariantBuilder *b = data;
	GVariant *ad = r->ad ? kite_ad_to_variant(r->ad) : g_variant_new_array(G_VARIANT_TYPE("(ss)"), NULL, 0);
	g_variant_builder_add(b, "(xxsxxiixixsssx@a(ss))", r->cluster, r->proc, r->owner, r->qdate, r->run_time,
			      (gint32)r->status, (gint32)r->prio, r->image_size, (gint32)r->num_ckpts, r->last_ckpt,
			      r->host, r->cmd, r->hold_reason, r->entered_status, ad);
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
	if (*constraint) {
		guint col = 0;
		g_autoptr(GError) perr = NULL;
		expr = kite_expr_parse(constraint, &col, &perr);
		if (!expr) {
			g_set_error(&error, KITE_ERROR, KITE_ERROR_INVALID, "constraint, column %u: %s", col,
				    perr->message);
			reply_error(conn, error);
			return;
		}
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
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a" KITE_WIRE_ROW_TYPE));
	if (!kite_queue_query(s->queue, &f, add_row, &b, &error)) {
		g_variant_builder_clear(&b);
		reply_error(conn, error);
		return;
	}
	kite_server_reply(conn, KITE_MSG_QUERY_REPLY, g_variant_new("(@a" KITE_WIRE_ROW_TYPE ")", g_variant_builder_end(&b)));
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
	if (!kite_queue_act(s->queue, action, (const KiteJobId *)ids->data, ids->len, kite_server_conn_identity(conn),
			    is_admin(conn), reason, &results, &error)) {
		reply_error(conn, error);
		return;
	}
	reply_results(conn, results);
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
			    "permission denied: only an admin may create a token for another user (%s)", user);
		reply_error(conn, error);
		return;
	}
	if (lifetime <= 0 || lifetime > 10 * 365 * 86400LL) {
		g_set_error(&error, KITE_ERROR, KITE_ERROR_INVALID, "token lifetime must be between 1 s and 10 years");
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
	default:
		break; /* the server answers requests nobody handled */
	}
}
