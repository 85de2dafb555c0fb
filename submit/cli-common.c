/* cli-common.c — shared by submit, q and pool; see cli-common.h. */
#include "cli-common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static char *find_token(GError **error)
{
	const char *env = g_getenv("KITE_TOKEN");
	if (env && *env)
		return g_strstrip(g_strdup(env));
	const char *file = g_getenv("KITE_TOKEN_FILE");
	g_autofree char *def = g_build_filename(g_get_user_config_dir(), "kite", "token", NULL);
	const char *path = file && *file ? file : def;
	char *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL)) {
		kite_throw(error, KITE_ERROR_AUTH,
			   "a TCP connection needs a token: set KITE_TOKEN or KITE_TOKEN_FILE, or put one in %s "
			   "(an admin makes one with `pool token create --user NAME`)",
			   path);
		return NULL;
	}
	return g_strstrip(text);
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
		g_autofree char *token = find_token(error);
		if (!token)
			return NULL;
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
	return kite_throw(error, KITE_ERROR_INVALID, "\"%s\" is not a job id (expected CLUSTER or CLUSTER.PROC, e.g. 12 or 12.0)",
			  text);
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
