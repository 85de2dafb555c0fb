/* pool.c — `pool`: the admin's and user's commands that change jobs or
 * the pool: rm, hold, release, edit, token create.  Later issues add
 * status, vacate, ckpt and glidein here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-common.h"
#include "util.h"

static const char usage[] =
    "Usage: pool [--schedd ADDR] COMMAND [ARGS…]\n"
    "\n"
    "Commands:\n"
    "  rm ID…                       remove jobs (they move to the history)\n"
    "  hold [--reason TEXT] ID…     hold jobs so that they do not run\n"
    "  release ID…                  let held jobs run again\n"
    "  edit ID… ATTRIBUTE EXPR      set a job attribute (e.g. pool edit 12 JobPrio 5)\n"
    "  token create --user NAME [--lifetime DURATION]\n"
    "                               print a token for NAME to reach the schedd over TCP\n"
    "                               (admins: any user; others: themselves; default 30d)\n"
    "\n"
    "ID is CLUSTER or CLUSTER.PROC.  The schedd is found through --schedd, then\n"
    "$KITE_SCHEDD, then the local default socket.  See docs/pool.md.\n";

static gboolean parse_ids(char **args, int n, GVariant **out_ids, GError **error)
{
	if (n == 0)
		return kite_throw(error, KITE_ERROR_INVALID, "no job ids given");
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(xx)"));
	for (int i = 0; i < n; i++) {
		KiteJobId id;
		if (!kite_cli_parse_job_id(args[i], &id, error)) {
			g_variant_builder_clear(&b);
			return FALSE;
		}
		g_variant_builder_add(&b, "(xx)", id.cluster, id.proc);
	}
	*out_ids = g_variant_builder_end(&b);
	return TRUE;
}

static int act(const char *schedd, KiteJobAction action, const char *reason, char **args, int n)
{
	g_autoptr(GError) error = NULL;
	GVariant *ids = NULL;
	if (!parse_ids(args, n, &ids, &error)) {
		kite_cli_error("pool", error);
		return 2;
	}
	g_autoptr(KiteConn) conn = kite_cli_connect(schedd, &error);
	if (!conn) {
		g_variant_unref(g_variant_ref_sink(ids));
		kite_cli_error("pool", error);
		return 1;
	}
	g_autoptr(GVariant) reply = kite_conn_call(
	    conn, KITE_MSG_ACT, g_variant_new("(u@a(xx)s)", (guint32)action, ids, reason ? reason : ""),
	    KITE_MSG_ACT_REPLY, &error);
	if (!reply) {
		kite_cli_error("pool", error);
		return 1;
	}
	return kite_cli_print_results("pool", reply) ? 1 : 0;
}

static int edit(const char *schedd, char **args, int n)
{
	g_autoptr(GError) error = NULL;
	if (n < 3) {
		fprintf(stderr, "pool: edit needs ID… ATTRIBUTE EXPRESSION\n");
		return 2;
	}
	GVariant *ids = NULL;
	if (!parse_ids(args, n - 2, &ids, &error)) {
		kite_cli_error("pool", error);
		return 2;
	}
	g_autoptr(KiteConn) conn = kite_cli_connect(schedd, &error);
	if (!conn) {
		g_variant_unref(g_variant_ref_sink(ids));
		kite_cli_error("pool", error);
		return 1;
	}
	g_autoptr(GVariant) reply =
	    kite_conn_call(conn, KITE_MSG_EDIT, g_variant_new("(@a(xx)ss)", ids, args[n - 2], args[n - 1]),
			   KITE_MSG_ACT_REPLY, &error);
	if (!reply) {
		kite_cli_error("pool", error);
		return 1;
	}
	return kite_cli_print_results("pool", reply) ? 1 : 0;
}

static int token(const char *schedd, int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	char *user = NULL;
	char *lifetime = NULL;
	GOptionEntry entries[] = {
	    {"user", 'u', 0, G_OPTION_ARG_STRING, &user, "The user the token speaks for", "NAME"},
	    {"lifetime", 0, 0, G_OPTION_ARG_STRING, &lifetime, "How long it is valid (default 30d)",
	     "DURATION"},
	    {NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("create --user NAME — make a token");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		kite_cli_error("pool token", error);
		return 2;
	}
	if (argc != 2 || !g_str_equal(argv[1], "create") || !user) {
		fprintf(stderr, "pool: usage: pool token create --user NAME [--lifetime DURATION]\n");
		g_free(user);
		g_free(lifetime);
		return 2;
	}
	double secs = 30 * 86400;
	if (lifetime && !kite_parse_duration(lifetime, &secs, &error)) {
		kite_cli_error("pool", error);
		return 2;
	}
	g_autoptr(KiteConn) conn = kite_cli_connect(schedd, &error);
	g_autoptr(GVariant) reply = NULL;
	if (conn)
		reply = kite_conn_call(conn, KITE_MSG_TOKEN_CREATE, g_variant_new("(sx)", user, (gint64)secs),
				       KITE_MSG_TOKEN_REPLY, &error);
	g_free(user);
	g_free(lifetime);
	if (!reply) {
		kite_cli_error("pool", error);
		return 1;
	}
	const char *tok;
	g_variant_get(reply, "(&s)", &tok);
	printf("%s\n", tok);
	return 0;
}

int main(int argc, char **argv)
{
	const char *schedd = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (g_str_equal(argv[i], "--help") || g_str_equal(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (g_str_equal(argv[i], "--schedd") && i + 1 < argc)
			schedd = argv[++i];
		else if (g_str_has_prefix(argv[i], "--schedd="))
			schedd = argv[i] + strlen("--schedd=");
		else {
			fprintf(stderr, "pool: unknown option %s\n%s", argv[i], usage);
			return 2;
		}
	}
	if (i >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	char **rest = argv + i;
	int n = argc - i;
	if (g_str_equal(cmd, "rm"))
		return act(schedd, KITE_ACTION_REMOVE, NULL, rest, n);
	if (g_str_equal(cmd, "release"))
		return act(schedd, KITE_ACTION_RELEASE, NULL, rest, n);
	if (g_str_equal(cmd, "hold")) {
		const char *reason = NULL;
		if (n >= 2 && g_str_equal(rest[0], "--reason")) {
			reason = rest[1];
			rest += 2;
			n -= 2;
		} else if (n >= 1 && g_str_has_prefix(rest[0], "--reason=")) {
			reason = rest[0] + strlen("--reason=");
			rest++;
			n--;
		}
		return act(schedd, KITE_ACTION_HOLD, reason, rest, n);
	}
	if (g_str_equal(cmd, "edit"))
		return edit(schedd, rest, n);
	if (g_str_equal(cmd, "token"))
		return token(schedd, n + 1, argv + i - 1);
	fprintf(stderr, "pool: unknown command `%s`\n%s", cmd, usage);
	return 2;
}
