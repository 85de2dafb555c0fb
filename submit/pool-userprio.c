/* pool-userprio.c — `pool userprio [--json]`, as condor_userprio: every
 * user the schedd knows (by their usage or their jobs), in the order its
 * negotiator serves them — least recent usage first, equal usage by
 * name — with the usage decayed to now in hours of slot time and their
 * jobs Running, Idle and Held.  The schedd sorts the list
 * (schedd/accounting.c); docs/pool.md. */
#include "pool-userprio.h"

#include <stdio.h>

#include "cli-common.h"
#include "util.h"

typedef struct {
	const char *owner;
	double usage; /* seconds */
	gint64 last, running, idle, held;
} Row;

static void print_table(const Row *rows, gsize n, double half_life)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_string_append_printf(out, "%5s %-24s %12s %7s %7s %7s\n", "Order", "User", "Usage (hrs)", "Running",
			       "Idle", "Held");
	gint64 running = 0, idle = 0, held = 0;
	double usage = 0;
	for (gsize i = 0; i < n; i++) {
		const Row *r = &rows[i];
		g_string_append_printf(out,
				       "%5zu %-24s %12.2f %7" G_GINT64_FORMAT " %7" G_GINT64_FORMAT
				       " %7" G_GINT64_FORMAT "\n",
				       i + 1, r->owner, r->usage / 3600, r->running, r->idle, r->held);
		running += r->running;
		idle += r->idle;
		held += r->held;
		usage += r->usage;
	}
	g_string_append_printf(
	    out, "%5s %-24s %12.2f %7" G_GINT64_FORMAT " %7" G_GINT64_FORMAT " %7" G_GINT64_FORMAT "\n", "",
	    "Total", usage / 3600, running, idle, held);
	g_autofree char *hl = kite_cli_format_duration((gint64)(half_life + 0.5));
	g_string_append_printf(out, "\n%zu user(s); usage is slot time, halving every %s (usage_half_life)\n",
			       n, hl);
	fwrite(out->str, 1, out->len, stdout);
}

static void print_json(const Row *rows, gsize n)
{
	g_autoptr(GString) out = g_string_new("[");
	for (gsize i = 0; i < n; i++) {
		const Row *r = &rows[i];
		char usage[G_ASCII_DTOSTR_BUF_SIZE];
		g_ascii_formatd(usage, sizeof usage, "%.3f", r->usage);
		g_string_append_printf(out, "%s{\"Order\": %zu, \"User\": ", i ? ",\n  " : "\n  ", i + 1);
		kite_cli_json_string(out, r->owner);
		g_string_append_printf(out, ", \"UsageSeconds\": %s, \"LastUsage\": ", usage);
		if (r->last > 0)
			g_string_append_printf(out, "%" G_GINT64_FORMAT, r->last);
		else
			g_string_append(out, "null");
		g_string_append_printf(out,
				       ", \"Running\": %" G_GINT64_FORMAT ", \"Idle\": %" G_GINT64_FORMAT
				       ", \"Held\": %" G_GINT64_FORMAT "}",
				       r->running, r->idle, r->held);
	}
	g_string_append(out, n ? "\n]\n" : "]\n");
	fwrite(out->str, 1, out->len, stdout);
}

int kite_pool_userprio(const char *schedd, int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	gboolean json = FALSE;
	GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json,
	     "JSON for scripts (usage in seconds, LastUsage in Unix time)", NULL},
	    {NULL},
	};
	g_autoptr(GOptionContext) ctx =
	    g_option_context_new("— the users' fair share, in the order they are served");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(
	    ctx, "Every user the schedd knows, in the order its negotiator offers them free slots:\n"
		 "least recent usage first, equal usage by name.  Usage is slot time in hours,\n"
		 "decayed to now (it halves every usage_half_life).  See docs/pool.md.");
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		kite_cli_error("pool userprio", error);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "pool userprio: unexpected argument `%s`\n", argv[1]);
		return 2;
	}
	g_autoptr(KiteConn) conn = kite_cli_connect(schedd, &error);
	g_autoptr(GVariant) reply = NULL;
	if (conn)
		reply = kite_conn_call(conn, KITE_MSG_USERPRIO, g_variant_new("(u)", 0),
				       KITE_MSG_USERPRIO_REPLY, &error);
	if (!reply) {
		kite_cli_error("pool", error);
		return 1;
	}
	gint64 now;
	double half_life;
	g_autoptr(GVariant) list = NULL;
	g_variant_get(reply, "(@a(sdxxxx)xd)", &list, &now, &half_life);
	gsize n = g_variant_n_children(list);
	g_autofree Row *rows = g_new0(Row, n + 1);
	for (gsize i = 0; i < n; i++) {
		Row *r = &rows[i];
		g_variant_get_child(list, i, "(&sdxxxx)", &r->owner, &r->usage, &r->last, &r->running,
				    &r->idle, &r->held);
	}
	if (json)
		print_json(rows, n);
	else
		print_table(rows, n, half_life);
	return 0;
}
