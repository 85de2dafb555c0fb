/* cli-common.c — shared by submit, q and pool; see cli-common.h. */
#include "cli-common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config-keys.h"
#include "util.h"

const char *kite_cli_schedd_address(const char *option)
{
	if (option && *option)
		return option;
	const char *env = g_getenv("KITE_SCHEDD");
	if (env && *env)
		return env;
	return KITE_DEFAULT_STATE_DIR "/schedd.sock";
}

KiteConn *kite_cli_connect(const char *option, GError **error)
{
	const char *address = kite_cli_schedd_address(option);
	g_autoptr(GError) local = NULL;
	g_autoptr(KiteConn) conn = kite_conn_connect(address, 60, &local);
	if (!conn) {
		kite_throw(error, local->code, "cannot reach the schedd at %s: %s%s", address, local->message,
			   option || g_getenv("KITE_SCHEDD") ? "" : " (set KITE_SCHEDD or use --schedd)");
		return NULL;
	}
	if (!kite_conn_is_unix(conn)) {
		g_autofree char *where = NULL;
		g_autofree char *token = kite_auth_find_token(&where);
		if (!token) {
			kite_throw(error, KITE_ERROR_AUTH,
				   "a TCP connection needs a token: set KITE_TOKEN or KITE_TOKEN_FILE, or put one in "
				   "%s (an admin makes one with `pool token create --user NAME`)",
				   where);
			return NULL;
		}
		if (!kite_conn_auth_token(conn, token, error))
			return NULL;
	}
	return g_steal_pointer(&conn);
}

char *kite_cli_identity(KiteConn *conn)
{
	if (kite_conn_identity(conn))
		return g_strdup(kite_conn_identity(conn));
	return kite_user_name(getuid());
}

gboolean kite_cli_parse_job_id(const char *text, KiteJobId *out_id, GError **error)
{
	char *end = NULL;
	gint64 c = g_ascii_strtoll(text, &end, 10);
	gint64 p = -1;
	if (end == text || c < 0)
		goto bad;
	if (*end == '.') {
		const char *ps = end + 1;
		p = g_ascii_strtoll(ps, &end, 10);
		if (end == ps || p < 0)
			goto bad;
	}
	if (*end)
		goto bad;
	out_id->cluster = c;
	out_id->proc = p;
	return TRUE;
bad:
	return kite_throw(error, KITE_ERROR_INVALID,
			  "\"%s\" is not a job id (expected CLUSTER or CLUSTER.PROC, e.g. 12 or 12.0)", text);
}

char *kite_cli_format_date(gint64 when)
{
	time_t t = when;
	struct tm tm;
	localtime_r(&t, &tm);
	char buf[32];
	strftime(buf, sizeof buf, "%m/%d %H:%M", &tm);
	/* Condor prints 9/13, not 09/13. */
	return g_strdup(buf[0] == '0' ? buf + 1 : buf);
}

char *kite_cli_format_duration(gint64 s)
{
	if (s < 0)
		s = 0;
	return g_strdup_printf("%" G_GINT64_FORMAT "+%02d:%02d:%02d", s / 86400, (int)(s % 86400 / 3600),
			       (int)(s % 3600 / 60), (int)(s % 60));
}

void kite_cli_error(const char *program, const GError *error)
{
	fprintf(stderr, "%s: %s\n", program, error->message);
}

guint kite_cli_print_results(const char *program, GVariant *reply)
{
	g_autoptr(GVariant) arr = g_variant_get_child_value(reply, 0);
	GVariantIter it;
	gint64 c, p;
	gboolean ok;
	const char *msg;
	guint failed = 0;
	g_variant_iter_init(&it, arr);
	while (g_variant_iter_next(&it, "(xxb&s)", &c, &p, &ok, &msg)) {
		if (ok)
			printf("%s\n", msg);
		else {
			fprintf(stderr, "%s: %s\n", program, msg);
			failed++;
		}
	}
	return failed;
}

static const void *fixed_column(KiteQueryRows *r, int index, gsize elem, gsize *out_n)
{
	GVariant *child = g_variant_get_child_value(r->reply, index);
	g_ptr_array_add(r->keep, child);
	return g_variant_get_fixed_array(child, out_n, elem);
}

static const char **string_column(KiteQueryRows *r, int index, gsize *out_n)
{
	GVariant *child = g_variant_get_child_value(r->reply, index);
	g_ptr_array_add(r->keep, child);
	const char **v = kite_wire_strv_view(child, out_n);
	g_ptr_array_add(r->keep, v);
	return v;
}

gboolean kite_cli_rows_init(KiteQueryRows *out, GVariant *reply, GError **error)
{
	KiteQueryRows r = {.reply = g_variant_ref(reply)};
	/* Child variants are unreffed, string views g_free'd: keep them apart. */
	r.keep = g_ptr_array_new();
	gsize n[15];
	r.cluster = fixed_column(&r, 0, 8, &n[0]);
	r.proc = fixed_column(&r, 1, 8, &n[1]);
	r.owner = string_column(&r, 2, &n[2]);
	r.qdate = fixed_column(&r, 3, 8, &n[3]);
	r.run_time = fixed_column(&r, 4, 8, &n[4]);
	r.status = fixed_column(&r, 5, 4, &n[5]);
	r.prio = fixed_column(&r, 6, 4, &n[6]);
	r.image_size = fixed_column(&r, 7, 8, &n[7]);
	r.num_ckpts = fixed_column(&r, 8, 4, &n[8]);
	r.last_ckpt = fixed_column(&r, 9, 8, &n[9]);
	r.host = string_column(&r, 10, &n[10]);
	r.cmd = string_column(&r, 11, &n[11]);
	r.hold_reason = string_column(&r, 12, &n[12]);
	r.entered = fixed_column(&r, 13, 8, &n[13]);
	r.ads = g_variant_get_child_value(reply, 14);
	n[14] = g_variant_n_children(r.ads);
	r.n = n[0];
	gboolean ok = TRUE;
	for (int i = 1; i < 14; i++)
		ok = ok && n[i] == r.n;
	ok = ok && (n[14] == 0 || n[14] == r.n);
	*out = r;
	if (!ok) {
		kite_cli_rows_clear(out);
		return kite_throw(error, KITE_ERROR_PROTOCOL,
				  "the schedd sent a query reply with columns of different lengths");
	}
	return TRUE;
}

void kite_cli_rows_clear(KiteQueryRows *r)
{
	if (!r->reply)
		return;
	/* keep holds the child variants, and for each string column the
	 * g_new'd view of it, which is recognised by its address. */
	for (guint i = 0; i < r->keep->len; i++) {
		gpointer p = g_ptr_array_index(r->keep, i);
		if (p == r->owner || p == r->host || p == r->cmd || p == r->hold_reason)
			g_free(p);
		else
			g_variant_unref(p);
	}
	g_ptr_array_unref(r->keep);
	g_variant_unref(r->ads);
	g_variant_unref(r->reply);
	*r = (KiteQueryRows){0};
}

void kite_cli_json_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(out, "\\u%04x", *p);
		else
			g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

void kite_cli_json_attr(GString *out, const KiteAd *ad, const char *name, KiteExpr *e)
{
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(ad, name, NULL, &v);
	switch (v.type) {
	case KITE_VALUE_BOOL:
		g_string_append(out, v.b ? "true" : "false");
		break;
	case KITE_VALUE_INT:
		g_string_append_printf(out, "%" G_GINT64_FORMAT, v.i);
		break;
	case KITE_VALUE_REAL: {
		char buf[G_ASCII_DTOSTR_BUF_SIZE];
		g_string_append(out, g_ascii_dtostr(buf, sizeof buf, v.r));
		break;
	}
	case KITE_VALUE_STRING:
		kite_cli_json_string(out, v.s);
		break;
	default: {
		g_autofree char *text = kite_expr_to_string(e);
		if (g_ascii_strcasecmp(text, "undefined") == 0)
			g_string_append(out, "null");
		else
			kite_cli_json_string(out, text);
	}
	}
	kite_value_clear(&v);
}

void kite_cli_json_ad(GString *out, const KiteAd *ad)
{
	g_string_append_c(out, '{');
	for (guint i = 0; i < kite_ad_size(ad); i++) {
		if (i)
			g_string_append(out, ", ");
		kite_cli_json_string(out, kite_ad_name_at(ad, i));
		g_string_append(out, ": ");
		kite_cli_json_attr(out, ad, kite_ad_name_at(ad, i), kite_ad_expr_at(ad, i));
	}
	g_string_append_c(out, '}');
}
