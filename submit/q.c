/* q.c — `q`: list jobs in the queue (or its history), one line per job,
 * in the long form, as JSON, or refreshed in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ad.h"
#include "cli-common.h"
#include "expr.h"
#include "util.h"

static char *arg_schedd;
static gboolean arg_all;
static char *arg_owner;
static char *arg_constraint;
static gboolean arg_held;
static char *arg_state;
static gboolean arg_long;
static gboolean arg_json;
static gboolean arg_history;
static gboolean arg_watch;
static int arg_interval = 2;
static char **arg_ids;
/* -af EXPR…: everything after it (taken out of argv before parsing) */
static GPtrArray *arg_af; /* KiteExpr* */

static const GOptionEntry options[] = {
    {"schedd", 0, 0, G_OPTION_ARG_STRING, &arg_schedd,
     "Schedd address: a socket path or HOST:PORT (default $KITE_SCHEDD)", "ADDR"},
    {"all", 'a', 0, G_OPTION_ARG_NONE, &arg_all, "Jobs of every user (default: yours)", NULL},
    {"owner", 'u', 0, G_OPTION_ARG_STRING, &arg_owner, "Jobs of USER", "USER"},
    {"constraint", 'c', 0, G_OPTION_ARG_STRING, &arg_constraint,
     "Only jobs for which EXPR is true, e.g. 'RequestMemory > 1024'", "EXPR"},
    {"held", 0, 0, G_OPTION_ARG_NONE, &arg_held, "Held jobs, with their hold reasons", NULL},
    {"state", 's', 0, G_OPTION_ARG_STRING, &arg_state,
     "Only jobs in STATE: idle, running, held, suspended (with --history: completed, removed)", "STATE"},
    {"long", 'l', 0, G_OPTION_ARG_NONE, &arg_long, "Every attribute of each job", NULL},
    {"json", 0, 0, G_OPTION_ARG_NONE, &arg_json, "JSON for scripts", NULL},
    {"history", 0, 0, G_OPTION_ARG_NONE, &arg_history, "Finished and removed jobs", NULL},
    {"watch", 'w', 0, G_OPTION_ARG_NONE, &arg_watch, "Refresh in place until interrupted", NULL},
    {"interval", 0, 0, G_OPTION_ARG_INT, &arg_interval, "Seconds between refreshes with --watch (default 2)",
     "SECONDS"},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &arg_ids, NULL, "[CLUSTER[.PROC]…]"},
    {NULL},
};

typedef struct {
	gint64 cluster, proc;
	const char *owner;
	gint64 qdate, run_time;
	gint32 status, prio;
	gint64 image_size;
	gint32 num_ckpts;
	gint64 last_ckpt;
	const char *host, *cmd, *hold_reason;
	gint64 entered;
	GVariant *ad;
} Row;

/* Row @i of @rows; r->ad is a new reference (or NULL without full ads). */
static void read_row(const KiteQueryRows *rows, gsize i, Row *r)
{
	*r = (Row){
	    .cluster = rows->cluster[i],
	    .proc = rows->proc[i],
	    .owner = rows->owner[i],
	    .qdate = rows->qdate[i],
	    .run_time = rows->run_time[i],
	    .status = rows->status[i],
	    .prio = rows->prio[i],
	    .image_size = rows->image_size[i],
	    .num_ckpts = rows->num_ckpts[i],
	    .last_ckpt = rows->last_ckpt[i],
	    .host = rows->host[i],
	    .cmd = rows->cmd[i],
	    .hold_reason = rows->hold_reason[i],
	    .entered = rows->entered[i],
	    .ad = g_variant_n_children(rows->ads) ? g_variant_get_child_value(rows->ads, i) : NULL,
	};
}

static void row_clear(Row *r)
{
	g_clear_pointer(&r->ad, g_variant_unref);
}

static void print_json(const KiteQueryRows *rows)
{
	g_autoptr(GString) out = g_string_new("[");
	gboolean first = TRUE;
	for (gsize row = 0; row < rows->n; row++) {
		Row r;
		read_row(rows, row, &r);
		g_autoptr(KiteAd) ad = r.ad ? kite_ad_from_variant(r.ad, NULL) : NULL;
		g_string_append(out, first ? "\n  {" : ",\n  {");
		first = FALSE;
		g_string_append_printf(
		    out, "\"id\": \"%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "\", \"owner\": ", r.cluster,
		    r.proc);
		kite_cli_json_string(out, r.owner);
		g_string_append_printf(out, ", \"status\": \"%s\", \"attributes\": ",
				       kite_job_status_name(r.status));
		if (ad)
			kite_cli_json_ad(out, ad);
		else
			g_string_append(out, "{}");
		g_string_append_c(out, '}');
		row_clear(&r);
	}
	g_string_append(out, first ? "]\n" : "\n]\n");
	fwrite(out->str, 1, out->len, stdout);
}

/* Most events `q -l` shows of one job (the newest). */
#define MAX_EVENTS_SHOWN 50

/* After a job's ad, what happened to it: runs, suspensions,
 * checkpoints, evictions, each with its slot and reason. */
static void print_events(KiteConn *conn, gint64 cluster, gint64 proc)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = kite_conn_call(conn, KITE_MSG_JOB_EVENTS, g_variant_new("(xx)", cluster, proc),
						   KITE_MSG_JOB_EVENTS_REPLY, &error);
	if (!reply) {
		printf("# events: %s\n", error->message);
		return;
	}
	g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
	gsize n = g_variant_n_children(list);
	if (n == 0)
		return;
	printf("# events, oldest first%s\n", n > MAX_EVENTS_SHOWN ? " (the newest " G_STRINGIFY(MAX_EVENTS_SHOWN) ")" : "");
	for (gsize i = n > MAX_EVENTS_SHOWN ? n - MAX_EVENTS_SHOWN : 0; i < n; i++) {
		gint64 time;
		const char *event, *host, *detail;
		g_variant_get_child(list, i, "(x&s&s&s)", &time, &event, &host, &detail);
		g_autofree char *when = kite_cli_format_date(time);
		printf("#   %s  %-19s %-16s %s\n", when, event, host, detail);
	}
}

static void print_long(KiteConn *conn, const KiteQueryRows *rows)
{
	gboolean first = TRUE;
	for (gsize row = 0; row < rows->n; row++) {
		Row r;
		read_row(rows, row, &r);
		g_autoptr(KiteAd) ad = r.ad ? kite_ad_from_variant(r.ad, NULL) : NULL;
		if (!first)
			printf("\n");
		first = FALSE;
		g_autofree char *text = ad ? kite_ad_to_text(ad) : g_strdup("");
		fputs(text, stdout);
		print_events(conn, r.cluster, r.proc);
		row_clear(&r);
	}
}

/* -af: the value of each expression for each job, space-separated,
 * strings without quotes, one line per job (condor_q -af). */
static void print_autoformat(const KiteQueryRows *rows)
{
	g_autoptr(GString) out = g_string_new(NULL);
	for (gsize row = 0; row < rows->n; row++) {
		Row r;
		read_row(rows, row, &r);
		g_autoptr(KiteAd) ad = r.ad ? kite_ad_from_variant(r.ad, NULL) : kite_ad_new();
		for (guint i = 0; i < arg_af->len; i++) {
			KiteValue v = KITE_VALUE_INIT;
			kite_expr_eval(g_ptr_array_index(arg_af, i), ad, NULL, &v);
			g_autofree char *text = v.type == KITE_VALUE_STRING ? g_strdup(v.s) : kite_value_to_string(&v);
			g_string_append_printf(out, "%s%s", i ? " " : "", text);
			kite_value_clear(&v);
		}
		g_string_append_c(out, '\n');
		row_clear(&r);
	}
	fwrite(out->str, 1, out->len, stdout);
}

/* Take "-af EXPR…" (also --af, --autoformat) out of @argv: every
 * argument after it is an expression, as with condor_q.  Returns FALSE
 * with @error for one that does not parse. */
static gboolean take_autoformat(int *argc, char **argv, GError **error)
{
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return TRUE;
		if (strcmp(argv[i], "-af") && strcmp(argv[i], "--af") && strcmp(argv[i], "--autoformat"))
			continue;
		arg_af = g_ptr_array_new_with_free_func((GDestroyNotify)kite_expr_unref);
		for (int j = i + 1; j < *argc; j++) {
			guint col = 0;
			g_autoptr(GError) perr = NULL;
			KiteExpr *e = kite_expr_parse(argv[j], &col, &perr);
			if (!e)
				return kite_throw(error, KITE_ERROR_INVALID, "-af: \"%s\", column %u: %s", argv[j], col,
						  perr->message);
			g_ptr_array_add(arg_af, e);
		}
		if (arg_af->len == 0)
			return kite_throw(error, KITE_ERROR_INVALID, "-af needs attributes or expressions after it");
		*argc = i;
		argv[i] = NULL;
		return TRUE;
	}
	return TRUE;
}

/* The CKPT column: number of checkpoints and the time of the last. */
static char *format_ckpt(const Row *r)
{
	if (r->num_ckpts <= 0)
		return g_strdup("-");
	g_autofree char *when = kite_cli_format_date(r->last_ckpt);
	const char *time_part = strchr(when, ' ');
	return g_strdup_printf("%d@%s", r->num_ckpts, time_part ? time_part + 1 : when);
}

static void print_table(const KiteQueryRows *rows, gboolean history)
{
	g_autoptr(GString) out = g_string_sized_new(1 << 20);
	gint64 counts[8] = {0};
	gint64 total = 0;
	if (arg_held)
		g_string_append_printf(out, "%-10s %-10s %-11s %s\n", "ID", "OWNER", "HELD_SINCE",
				       "HOLD_REASON");
	else
		g_string_append_printf(out, "%-10s %-10s %-11s %-12s %-2s %-3s %-6s %-8s %-12s %s\n", "ID",
				       "OWNER", "SUBMITTED", "RUN_TIME", "ST", "PRI", "SIZE", "CKPT", "HOST",
				       "CMD");
	for (gsize row = 0; row < rows->n; row++) {
		Row r;
		read_row(rows, row, &r);
		char id[48];
		snprintf(id, sizeof id, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, r.cluster, r.proc);
		if (arg_held) {
			g_autofree char *since = kite_cli_format_date(r.entered);
			g_string_append_printf(out, "%-10s %-10s %-11s %s\n", id, r.owner, since,
					       r.hold_reason);
		} else {
			g_autofree char *sub = kite_cli_format_date(r.qdate);
			g_autofree char *run = kite_cli_format_duration(r.run_time);
			g_autofree char *ck = format_ckpt(&r);
			g_string_append_printf(out,
					       "%-10s %-10s %-11s %-12s %-2c %-3d %-6.1f %-8s %-12s %s\n", id,
					       r.owner, sub, run, kite_job_status_letter(r.status), r.prio,
					       r.image_size / 1024.0, ck, *r.host ? r.host : "-", r.cmd);
		}
		if (r.status >= 0 && r.status < 8)
			counts[r.status]++;
		total++;
		row_clear(&r);
	}
	if (history)
		g_string_append_printf(out,
				       "\nTotal: %" G_GINT64_FORMAT " jobs; %" G_GINT64_FORMAT
				       " completed, %" G_GINT64_FORMAT " removed\n",
				       total, counts[KITE_JOB_COMPLETED], counts[KITE_JOB_REMOVED]);
	else
		g_string_append_printf(out,
				       "\nTotal: %" G_GINT64_FORMAT " jobs; %" G_GINT64_FORMAT
				       " idle, %" G_GINT64_FORMAT " running, %" G_GINT64_FORMAT
				       " held, %" G_GINT64_FORMAT " suspended\n",
				       total, counts[KITE_JOB_IDLE], counts[KITE_JOB_RUNNING],
				       counts[KITE_JOB_HELD], counts[KITE_JOB_SUSPENDED]);
	fwrite(out->str, 1, out->len, stdout);
}

static int run_once(GError **error)
{
	g_autoptr(KiteConn) conn = kite_cli_connect(arg_schedd, error);
	if (!conn)
		return 1;
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(KiteJobId));
	for (char **p = arg_ids; p && *p; p++) {
		KiteJobId id;
		if (!kite_cli_parse_job_id(*p, &id, error))
			return 2;
		g_array_append_val(ids, id);
	}
	/* Default: your own jobs — unless you named jobs, which you may look
	 * at whoever owns them (as condor_q does). */
	g_autofree char *me = kite_cli_identity(conn);
	const char *owner = arg_owner ? arg_owner : (arg_all || ids->len ? "" : me);
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(xx)"));
	for (guint i = 0; i < ids->len; i++)
		g_variant_builder_add(&b, "(xx)", g_array_index(ids, KiteJobId, i).cluster,
				      g_array_index(ids, KiteJobId, i).proc);
	int status = arg_held ? KITE_JOB_HELD : 0;
	if (arg_state) {
		static const int states[] = {KITE_JOB_IDLE,	 KITE_JOB_RUNNING, KITE_JOB_REMOVED,
					     KITE_JOB_COMPLETED, KITE_JOB_HELD,	   KITE_JOB_SUSPENDED};
		for (gsize i = 0; i < G_N_ELEMENTS(states); i++)
			if (g_ascii_strcasecmp(arg_state, kite_job_status_name(states[i])) == 0 ||
			    (strlen(arg_state) == 1 && g_ascii_toupper(arg_state[0]) == kite_job_status_letter(states[i])))
				status = states[i];
		if (!status) {
			kite_throw(error, KITE_ERROR_INVALID,
				   "unknown state \"%s\": use idle, running, held, suspended, completed or removed", arg_state);
			return 2;
		}
	}
	gboolean full = arg_long || arg_json || arg_af;
	g_autoptr(GVariant) reply = kite_conn_call(
	    conn, KITE_MSG_QUERY,
	    g_variant_new("(s@a(xx)isbb)", owner, g_variant_builder_end(&b), status,
			  arg_constraint ? arg_constraint : "", arg_history, full),
	    KITE_MSG_QUERY_REPLY, error);
	if (!reply)
		return 1;
	KiteQueryRows rows;
	if (!kite_cli_rows_init(&rows, reply, error))
		return 1;
	if (arg_json)
		print_json(&rows);
	else if (arg_af)
		print_autoformat(&rows);
	else if (arg_long)
		print_long(conn, &rows);
	else
		print_table(&rows, arg_history);
	gsize n = rows.n;
	kite_cli_rows_clear(&rows);
	if (ids->len && n == 0) {
		kite_throw(error, KITE_ERROR_NOT_FOUND, "no such job%s in the %s", ids->len > 1 ? "s" : "",
			   arg_history ? "history" : "queue");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) ctx = g_option_context_new("[CLUSTER[.PROC]…] — list jobs in the queue");
	g_option_context_set_summary(ctx,
				     "Lists your jobs (or everyone's with --all), one line each:\n"
				     "ID OWNER SUBMITTED RUN_TIME ST PRI SIZE CKPT HOST CMD\n"
				     "ST is I idle, R running, H held, S suspended, C completed, X removed.\n"
				     "See docs/q.md.");
	g_option_context_set_description(ctx, "  -af EXPR...               For each job, the value of each attribute or expression,\n"
					      "                            space-separated, one line per job (last on the line)\n");
	g_option_context_add_main_entries(ctx, options, NULL);
	if (!take_autoformat(&argc, argv, &error) || !g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "q: %s (see q --help)\n", error->message);
		return 2;
	}
	if (arg_af && (arg_json || arg_long || arg_held || arg_watch)) {
		fprintf(stderr, "q: -af goes with none of --json, --long, --held, --watch (see q --help)\n");
		return 2;
	}
	if (!arg_watch) {
		int rc = run_once(&error);
		if (rc)
			kite_cli_error("q", error);
		return rc;
	}
	if (arg_interval < 1)
		arg_interval = 1;
	for (;;) {
		/* Clear and home, then draw: refreshes in place. */
		printf("\033[H\033[2J");
		g_clear_error(&error);
		if (run_once(&error))
			kite_cli_error("q", error);
		printf("\n(refreshing every %d s; Ctrl-C to stop)\n", arg_interval);
		fflush(stdout);
		sleep(arg_interval);
	}
}
