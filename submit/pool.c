/* pool.c — `pool`: the admin's and user's commands that change jobs or
 * look at the pool: rm, hold, release, edit, token create, and status
 * (the machines, as condor_status shows them); query lives in
 * pool-query.c, glidein in pool-glidein.c, `pool ckpt ls/rm` in
 * pool-ckpt.c; vacate and ckpt of jobs go to the schedd as actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ad.h"
#include "cli-common.h"
#include "pool-query.h"
#include "pool-glidein.h"
#include "pool-ckpt.h"
#include "pool-userprio.h"
#include "util.h"

static const char usage[] =
    "Usage: pool [--schedd ADDR] COMMAND [ARGS…]\n"
    "\n"
    "Commands:\n"
    "  rm ID…                       remove jobs (they move to the history)\n"
    "  hold [--reason TEXT] ID…     hold jobs so that they do not run\n"
    "  release ID…                  let held jobs run again\n"
    "  vacate ID…                   running jobs: checkpoint now and leave the machine\n"
    "                               (they go back to Idle with that checkpoint)\n"
    "  ckpt ID…                     running jobs: checkpoint now and go on\n"
    "  edit ID… ATTRIBUTE EXPR      set a job attribute (e.g. pool edit 12 JobPrio 5)\n"
    "  token create --user NAME [--lifetime DURATION]\n"
    "                               print a token for NAME to reach the schedd over TCP\n"
    "                               (admins: any user; others: themselves; default 30d)\n"
    "  status [-l] [--constraint EXPR] [--json] [--ckpt-servers] [NAME…]\n"
    "                               the pool's machines (slots): state, activity, load,\n"
    "                               memory; -l every attribute; NAME a slot or machine\n"
    "  query [--requirements EXPR] [--rank EXPR] [--work N] [--json]\n"
    "                               the slots that could run such a job, best first, with\n"
    "                               run times predicted for N Mips-seconds of work\n"
    "  userprio [--json]            the users' fair-share usage (hours of slot time,\n"
    "                               decayed) and jobs, in the order they are served\n"
    "  glidein [--stop|--status] [OPTIONS] USER@HOST[:PORT]…\n"
    "                               start startds on workstations over SSH (docs/glidein.md)\n"
    "  ckpt [--ckpt-server HOST:PORT] ls | rm ALLOC-ID…\n"
    "                               a checkpoint server's allocations (docs/ckpt-server.md)\n"
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

/* ---- status ---- */

/* The States whose totals `pool status` prints, in Condor's order. */
static const char *const total_states[] = {"Owner", "Claimed", "Unclaimed", "Matched", "Preempting"};

typedef struct {
	char *key; /* "X86_64/LINUX" */
	gint64 n[G_N_ELEMENTS(total_states) + 1]; /* per state, then total */
} Totals;

static void totals_free(Totals *t)
{
	g_free(t->key);
	g_free(t);
}

static char *ad_string(const KiteAd *ad, const char *name)
{
	char *v = NULL;
	return kite_ad_get_string(ad, name, &v) ? v : g_strdup("?");
}

/* Seconds the slot has spent in its activity, as of now: the startd's
 * ActivityTimer when it last reported, plus the time since then (both
 * on the schedd's clock, so skew between machines does not matter). */
static gint64 activity_time(const KiteAd *ad)
{
	gint64 timer = 0, heard = 0;
	kite_ad_get_int(ad, "ActivityTimer", &timer);
	if (kite_ad_get_int(ad, "LastHeardFrom", &heard))
		timer += MAX(kite_now_wall() - heard, 0);
	return timer;
}

static void count(GPtrArray *totals, const char *key, const char *state)
{
	Totals *t = NULL;
	for (guint i = 0; i < totals->len && !t; i++)
		if (g_str_equal(((Totals *)totals->pdata[i])->key, key))
			t = totals->pdata[i];
	if (!t) {
		t = g_new0(Totals, 1);
		t->key = g_strdup(key);
		g_ptr_array_add(totals, t);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(total_states); i++)
		if (g_ascii_strcasecmp(state, total_states[i]) == 0)
			t->n[i]++;
	t->n[G_N_ELEMENTS(total_states)]++;
}

static void print_totals_row(GString *out, const char *key, const gint64 *n)
{
	g_string_append_printf(out, "%16s %5" G_GINT64_FORMAT, key, n[G_N_ELEMENTS(total_states)]);
	for (gsize i = 0; i < G_N_ELEMENTS(total_states); i++)
		g_string_append_printf(out, " %*" G_GINT64_FORMAT, (int)MAX(strlen(total_states[i]), 5), n[i]);
	g_string_append_c(out, '\n');
}

static void print_status_table(GPtrArray *ads)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_string_append_printf(out, "%-24s %-6s %-7s %-10s %-12s %-6s %-7s %s\n", "Name", "OpSys", "Arch",
			       "State", "Activity", "LoadAv", "Mem", "ActvtyTime");
	g_autoptr(GPtrArray) totals = g_ptr_array_new_with_free_func((GDestroyNotify)totals_free);
	for (guint i = 0; i < ads->len; i++) {
		const KiteAd *ad = ads->pdata[i];
		g_autofree char *name = ad_string(ad, "Name"), *opsys = ad_string(ad, "OpSys"),
				*arch = ad_string(ad, "Arch"), *state = ad_string(ad, "State"),
				*activity = ad_string(ad, "Activity");
		double load = 0;
		gint64 mem = 0;
		char load_text[32] = "-";
		if (kite_ad_get_real(ad, "LoadAvg", &load))
			snprintf(load_text, sizeof load_text, "%.3f", load);
		kite_ad_get_int(ad, "Memory", &mem);
		g_autofree char *since = kite_cli_format_duration(activity_time(ad));
		g_string_append_printf(out, "%-24s %-6s %-7s %-10s %-12s %-6s %-7" G_GINT64_FORMAT " %s\n", name,
				       opsys, arch, state, activity, load_text, mem, since);
		g_autofree char *key = g_strdup_printf("%s/%s", arch, opsys);
		count(totals, key, state);
	}
	g_string_append_printf(out, "\n%16s %5s", "", "Total");
	for (gsize i = 0; i < G_N_ELEMENTS(total_states); i++)
		g_string_append_printf(out, " %5s", total_states[i]);
	g_string_append_c(out, '\n');
	gint64 all[G_N_ELEMENTS(total_states) + 1] = {0};
	for (guint i = 0; i < totals->len; i++) {
		const Totals *t = totals->pdata[i];
		print_totals_row(out, t->key, t->n);
		for (gsize j = 0; j <= G_N_ELEMENTS(total_states); j++)
			all[j] += t->n[j];
	}
	print_totals_row(out, "Total", all);
	fwrite(out->str, 1, out->len, stdout);
}

static void print_status_json(GPtrArray *ads)
{
	g_autoptr(GString) out = g_string_new("[");
	for (guint i = 0; i < ads->len; i++) {
		g_string_append(out, i ? ",\n  " : "\n  ");
		kite_cli_json_ad(out, ads->pdata[i]);
	}
	g_string_append(out, ads->len ? "\n]\n" : "]\n");
	fwrite(out->str, 1, out->len, stdout);
}

/* TRUE if @ad is named by one of @names: its slot Name or its Machine
 * (case-insensitive), or there are no names. */
static gboolean named(const KiteAd *ad, char **names)
{
	if (!names || !*names)
		return TRUE;
	g_autofree char *name = ad_string(ad, "Name"), *machine = ad_string(ad, "Machine");
	for (char **n = names; *n; n++)
		if (g_ascii_strcasecmp(*n, name) == 0 || g_ascii_strcasecmp(*n, machine) == 0)
			return TRUE;
	return FALSE;
}

static int status(const char *schedd, int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	gboolean lng = FALSE, json = FALSE, servers = FALSE;
	g_autofree char *constraint = NULL;
	GOptionEntry entries[] = {
	    {"long", 'l', 0, G_OPTION_ARG_NONE, &lng, "Every attribute of each slot", NULL},
	    {"constraint", 0, 0, G_OPTION_ARG_STRING, &constraint, "Only slots for which EXPR is true",
	     "EXPR"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON for scripts", NULL},
	    {"ckpt-servers", 0, 0, G_OPTION_ARG_NONE, &servers,
	     "The checkpoint servers (space, load, address) instead of the slots", NULL},
	    {NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("[NAME…] — the pool's machines");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		kite_cli_error("pool status", error);
		return 2;
	}
	g_auto(GStrv) names = g_new0(char *, MAX(argc, 1)); /* argv[0] is "status" */
	for (int k = 1; k < argc; k++)
		names[k - 1] = g_strdup(argv[k]);
	g_autoptr(KiteConn) conn = kite_cli_connect(schedd, &error);
	g_autoptr(GVariant) reply = NULL;
	if (conn)
		reply = kite_conn_call(conn, servers ? KITE_MSG_CKPT_SERVERS_QUERY : KITE_MSG_MACHINES_QUERY,
				       g_variant_new("(s)", constraint ? constraint : ""),
				       KITE_MSG_MACHINES_REPLY, &error);
	if (!reply) {
		kite_cli_error("pool", error);
		return 1;
	}
	g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
	g_autoptr(GPtrArray) ads = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	for (gsize i = 0; i < g_variant_n_children(list); i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(list, i);
		g_autoptr(KiteAd) ad = kite_ad_from_variant(child, &error);
		if (!ad) {
			g_prefix_error(&error, "the schedd sent a bad machine ad: ");
			kite_cli_error("pool", error);
			return 1;
		}
		if (named(ad, names))
			g_ptr_array_add(ads, g_steal_pointer(&ad));
	}
	if (names[0] && ads->len == 0) {
		fprintf(stderr, "pool: no machine or slot named %s%s in the pool\n", names[0],
			names[1] ? " (or the other names)" : "");
		return 1;
	}
	if (json)
		print_status_json(ads);
	else if (lng) {
		for (guint i = 0; i < ads->len; i++) {
			g_autofree char *text = kite_ad_to_text(ads->pdata[i]);
			printf("%s%s", i ? "\n" : "", text);
		}
	} else if (servers)
		kite_pool_ckpt_servers_table(ads);
	else
		print_status_table(ads);
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
	if (g_str_equal(cmd, "vacate"))
		return act(schedd, KITE_ACTION_VACATE, NULL, rest, n);
	/* `pool ckpt ls|rm …` is the checkpoint server's (pool-ckpt.c);
	 * `pool ckpt ID…` checkpoints jobs (job ids are numbers) */
	if (g_str_equal(cmd, "ckpt") && n >= 1 &&
	    (g_str_equal(rest[0], "ls") || g_str_equal(rest[0], "rm") || rest[0][0] == '-'))
		return kite_pool_ckpt("pool", n + 1, argv + i - 1);
	if (g_str_equal(cmd, "ckpt"))
		return act(schedd, KITE_ACTION_CHECKPOINT, NULL, rest, n);
	if (g_str_equal(cmd, "edit"))
		return edit(schedd, rest, n);
	if (g_str_equal(cmd, "token"))
		return token(schedd, n + 1, argv + i - 1);
	if (g_str_equal(cmd, "status"))
		return status(schedd, n + 1, argv + i - 1);
	if (g_str_equal(cmd, "query"))
		return kite_pool_query(schedd, n + 1, argv + i - 1);
	if (g_str_equal(cmd, "userprio"))
		return kite_pool_userprio(schedd, n + 1, argv + i - 1);
	if (g_str_equal(cmd, "glidein"))
		return kite_pool_glidein(schedd, n + 1, argv + i - 1);
	fprintf(stderr, "pool: unknown command `%s`\n%s", cmd, usage);
	return 2;
}
