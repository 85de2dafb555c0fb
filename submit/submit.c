/* submit.c — `submit job.yaml`: parse and check a job file, send it to
 * the schedd, print the ids once the schedd says they are on disk. */
#include <stdio.h>
#include <stdlib.h>

#include "cli-common.h"
#include "jobfile.h"
#include "util.h"

static char *arg_schedd;
static gboolean arg_dry_run;
static char **arg_files;

static const GOptionEntry options[] = {
    {"schedd", 0, 0, G_OPTION_ARG_STRING, &arg_schedd,
     "Schedd address: a socket path or HOST:PORT (default $KITE_SCHEDD)", "ADDR"},
    {"dry-run", 'n', 0, G_OPTION_ARG_NONE, &arg_dry_run,
     "Check the file and print the jobs it would submit; submit nothing", NULL},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &arg_files, NULL, "JOB.yaml"},
    {NULL},
};

static gboolean read_input(const char *path, char **out_data, gsize *out_len, GError **error)
{
	if (g_str_equal(path, "-")) {
		g_autoptr(GString) s = g_string_new(NULL);
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
			g_string_append_len(s, buf, n);
			if (s->len > KITE_JOBFILE_MAX_SIZE)
				return kite_throw(error, KITE_ERROR_LIMIT,
						  "<stdin>: job file is larger than %d bytes",
						  KITE_JOBFILE_MAX_SIZE);
		}
		if (ferror(stdin))
			return kite_throw_errno(error, "read standard input");
		*out_len = s->len;
		*out_data = g_string_free(g_steal_pointer(&s), FALSE);
		return TRUE;
	}
	GError *e = NULL;
	if (!g_file_get_contents(path, out_data, out_len, &e)) {
		kite_throw(error, KITE_ERROR_IO, "%s", e->message);
		g_error_free(e);
		return FALSE;
	}
	return TRUE;
}

static void print_dry_run(const KiteJobFile *jf)
{
	printf("Would submit %u job(s); the cluster id is assigned at submission (shown as 0 here).\n",
	       jf->queue);
	for (guint p = 0; p < jf->queue; p++) {
		g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 0, p);
		g_autofree char *text = kite_ad_to_text(ad);
		printf("\n-- job 0.%u\n%s", p, text);
	}
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) ctx = g_option_context_new("JOB.yaml — submit jobs to the pool");
	g_option_context_set_summary(
	    ctx, "Reads a job file (or - for standard input) and adds its jobs to the queue.\n"
		 "Prints the job ids once they are stored durably. See docs/submit.md.");
	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "submit: %s (see submit --help)\n", error->message);
		return 2;
	}
	if (!arg_files || !arg_files[0] || arg_files[1]) {
		fprintf(
		    stderr,
		    "submit: expected exactly one job file (or - for standard input); see submit --help\n");
		return 2;
	}
	const char *path = arg_files[0];
	g_autofree char *data = NULL;
	gsize len = 0;
	if (!read_input(path, &data, &len, &error)) {
		kite_cli_error("submit", error);
		return 1;
	}
	g_autofree char *cwd = g_get_current_dir();
	const char *display = g_str_equal(path, "-") ? "<stdin>" : path;
	g_autoptr(KiteJobFile) jf = kite_jobfile_parse(display, data, len, cwd, &error);
	if (!jf) {
		fprintf(stderr, "%s\n", error->message);
		fprintf(stderr, "submit: nothing submitted\n");
		return 1;
	}
	if (arg_dry_run) {
		print_dry_run(jf);
		return 0;
	}
	g_autoptr(KiteConn) conn = kite_cli_connect(arg_schedd, &error);
	if (!conn) {
		kite_cli_error("submit", error);
		fprintf(stderr, "submit: nothing submitted\n");
		return 1;
	}
	g_autoptr(GVariant) reply = kite_conn_call(
	    conn, KITE_MSG_SUBMIT, g_variant_new("(@a(ss)u)", kite_ad_to_variant(jf->ad), jf->queue),
	    KITE_MSG_SUBMIT_REPLY, &error);
	if (!reply) {
		kite_cli_error("submit", error);
		/* An error reply means the schedd refused and stored nothing; a
		 * connection lost after sending leaves the outcome unknown. */
		if (error->code == KITE_ERROR_IO)
			fprintf(
			    stderr,
			    "submit: the schedd did not confirm; check with `q` whether the jobs arrived\n");
		else
			fprintf(stderr, "submit: nothing submitted\n");
		return 1;
	}
	gint64 cluster;
	guint32 count;
	g_variant_get(reply, "(xu)", &cluster, &count);
	printf("%u job(s) submitted to cluster %" G_GINT64_FORMAT ".\n", count, cluster);
	return 0;
}
