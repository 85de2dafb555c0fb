/* pool-query.c — `pool query [--requirements EXPR] [--rank EXPR]
 * [--work MIPS-SECONDS] [--json]`: the slots that could run such a job
 * (for you: a slot's Start sees you as the job's Owner), best first by
 * the rank, then by predicted run time, each with its state and the
 * run time predicted from its measured speed (Mips) and load.  The
 * schedd's agent answers (schedd/agent.c); docs/pool.md. */
#include "pool-query.h"

#include <stdio.h>
#include <string.h>

#include "cli-common.h"
#include "util.h"

typedef struct {
	const char *name, *state, *activity;
	gint64 mips;
	double load, rank, predicted;
} Row;

static void print_table(const Row *rows, gsize n)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_string_append_printf(out, "%-24s %-10s %-12s %6s %-6s %10s %s\n", "Name", "State", "Activity", "Mips",
			       "LoadAv", "Rank", "Predicted");
	guint unclaimed = 0;
	for (gsize i = 0; i < n; i++) {
		const Row *r = &rows[i];
		char mips[32] = "-", load[32] = "-";
		if (r->mips >= 0)
			snprintf(mips, sizeof mips, "%" G_GINT64_FORMAT, r->mips);
		if (r->load >= 0)
			snprintf(load, sizeof load, "%.3f", r->load);
		g_autofree char *predicted =
		    r->predicted >= 0 ? kite_cli_format_duration((gint64)(r->predicted + 0.5)) : g_strdup("-");
		g_string_append_printf(out, "%-24s %-10s %-12s %6s %-6s %10g %s\n", r->name, r->state, r->activity,
				       mips, load, r->rank, predicted);
		unclaimed += g_str_equal(r->state, "Unclaimed");
	}
	g_string_append_printf(out, "\n%zu slot(s) could run it; %u of them Unclaimed now\n", n, unclaimed);
	fwrite(out->str, 1, out->len, stdout);
}

static void json_number_or_null(GString *out, double v, gboolean known)
{
	if (!known) {
		g_string_append(out, "null");
		return;
	}
	char buf[G_ASCII_DTOSTR_BUF_SIZE];
	g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%.17g", v));
}

static void print_json(const Row *rows, gsize n)
{
	g_autoptr(GString) out = g_string_new("[");
	for (gsize i = 0; i < n; i++) {
		const Row *r = &rows[i];
		g_string_append(out, i ? ",\n  {" : "\n  {");
		g_string_append(out, "\"Name\": ");
		kite_cli_json_string(out, r->name);
		g_string_append(out, ", \"State\": ");
		kite_cli_json_string(out, r->state);
		g_string_append(out, ", \"Activity\": ");
		kite_cli_json_string(out, r->activity);
		g_string_append(out, ", \"Mips\": ");
		if (r->mips >= 0)
			g_string_append_printf(out, "%" G_GINT64_FORMAT, r->mips);
		else
			g_string_append(out, "null");
		g_string_append(out, ", \"LoadAvg\": ");
		json_number_or_null(out, r->load, r->load >= 0);
		g_string_append(out, ", \"Rank\": ");
		json_number_or_null(out, r->rank, TRUE);
		g_string_append(out, ", \"PredictedRunTime\": ");
		json_number_or_null(out, r->predicted, r->predicted >= 0);
		g_string_append_c(out, '}');
	}
	g_string_append(out, n ? "\n]\n" : "]\n");
	fwrite(out->str, 1, out->len, stdout);
}

int kite_pool_query(const char *schedd, int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *requirements = NULL, *rank = NULL;
	double work = 0;
	gboolean json = FALSE;
	GOptionEntry entries[] = {
	    {"requirements", 0, 0, G_OPTION_ARG_STRING, &requirements,
	     "What the job needs of a machine (default: anything)", "EXPR"},
	    {"rank", 0, 0, G_OPTION_ARG_STRING, &rank, "Which machines the job prefers (higher first)",
	     "EXPR"},
	    {"work", 0, 0, G_OPTION_ARG_DOUBLE, &work,
	     "The job's length in Mips-seconds (its run time alone on a machine of Mips 1), to predict run "
	     "times",
	     "N"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON for scripts", NULL},
	    {NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("— which machines could run a job like this, best first");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx, "The slots whose Start accepts you and that meet the requirements, by the\n"
					  "rank, then by the run time predicted from their speed and load.\n"
					  "See docs/pool.md.");
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		kite_cli_error("pool query", error);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "pool query: unexpected argument `%s` (give the job with --requirements and --rank)\n",
			argv[1]);
		return 2;
	}
	if (!(work >= 0)) {
		fprintf(stderr, "pool query: --work must be a number of Mips-seconds >= 0, not %g\n", work);
		return 2;
	}
	g_autoptr(KiteConn) conn = kite_cli_connect(schedd, &error);
	g_autoptr(GVariant) reply = NULL;
	if (conn)
		reply = kite_conn_call(conn, KITE_MSG_AGENT_QUERY,
				       g_variant_new("(ssd)", requirements ? requirements : "", rank ? rank : "", work),
				       KITE_MSG_AGENT_REPLY, &error);
	if (!reply) {
		kite_cli_error("pool", error);
		return 1;
	}
	g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
	gsize n = g_variant_n_children(list);
	g_autofree Row *rows = g_new0(Row, n + 1);
	for (gsize i = 0; i < n; i++) {
		Row *r = &rows[i];
		g_variant_get_child(list, i, "(&s&s&sxddd)", &r->name, &r->state, &r->activity, &r->mips, &r->load,
				    &r->rank, &r->predicted);
	}
	if (json)
		print_json(rows, n);
	else
		print_table(rows, n);
	return 0;
}
