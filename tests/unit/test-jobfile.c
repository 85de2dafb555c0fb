/* test-jobfile.c — job.yaml parsing (common/jobfile.c, common/yaml-doc.c):
 * every error message as a user sees it, the attributes a good file
 * produces, the default requirements and per-proc expansion.
 *
 * Each test runs in a fresh temporary directory holding an executable
 * `prog`, a non-executable `data.txt`, and a directory `sub` with its own
 * `prog`; "@" in an expected message stands for that directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "jobfile.h"
#include "util.h"

static char *tmp_dir;

static void write_file(const char *rel, const char *text, int mode)
{
	g_autofree char *path = g_build_filename(tmp_dir, rel, NULL);
	assert_true(g_file_set_contents(path, text, -1, NULL));
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	tmp_dir = g_dir_make_tmp("kite-jobfile-XXXXXX", NULL);
	assert_non_null(tmp_dir);
	write_file("prog", "#!/bin/sh\nexit 0\n", 0755);
	write_file("data.txt", "data\n", 0644);
	g_autofree char *sub = g_build_filename(tmp_dir, "sub", NULL);
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file("sub/prog", "#!/bin/sh\nexit 0\n", 0755);
	return 0;
}

static int teardown(void **state)
{
	kite_test_remove_tree(&tmp_dir);
	return 0;
}

/* @text with every "@" replaced by the test's directory. */
static char *at_tmp(const char *text)
{
	GString *s = g_string_new(NULL);
	for (const char *p = text; *p; p++) {
		if (*p == '@')
			g_string_append(s, tmp_dir);
		else
			g_string_append_c(s, *p);
	}
	return g_string_free(s, FALSE);
}

static KiteJobFile *parse(const char *yaml)
{
	g_autoptr(GError) error = NULL;
	KiteJobFile *jf = kite_jobfile_parse("job.yaml", yaml, strlen(yaml), tmp_dir, &error);
	if (!jf)
		fail_msg("unexpected error: %s", error->message);
	return jf;
}

static void expect_error_len(const char *yaml, gsize len, const char *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteJobFile) jf = kite_jobfile_parse("job.yaml", yaml, len, tmp_dir, &error);
	assert_null(jf);
	assert_non_null(error);
	g_autofree char *want = at_tmp(expected);
	assert_string_equal(error->message, want);
}

static void expect_error(const char *yaml, const char *expected)
{
	expect_error_len(yaml, strlen(yaml), expected);
}

static void assert_attr_string(const KiteAd *ad, const char *name, const char *expected)
{
	g_autofree char *v = NULL;
	if (!kite_ad_get_string(ad, name, &v))
		fail_msg("attribute %s is not a string", name);
	g_autofree char *want = at_tmp(expected);
	assert_string_equal(v, want);
}

static void assert_attr_int(const KiteAd *ad, const char *name, gint64 expected)
{
	gint64 v = 0;
	if (!kite_ad_get_int(ad, name, &v))
		fail_msg("attribute %s is not an integer", name);
	assert_int_equal(v, expected);
}

/* Compare an attribute with an expression by canonical printed form, so
 * the test does not depend on how the printer spaces or brackets. */
static void assert_attr_expr(const KiteAd *ad, const char *name, const char *expected)
{
	KiteExpr *e = kite_ad_lookup(ad, name);
	if (!e)
		fail_msg("attribute %s is missing", name);
	g_autoptr(KiteExpr) want = kite_expr_parse(expected, NULL, NULL);
	assert_non_null(want);
	g_autofree char *got_text = kite_expr_to_string(e);
	g_autofree char *want_text = kite_expr_to_string(want);
	assert_string_equal(got_text, want_text);
}

/* The Arch the default requirements name on this host. */
static char *arch(void)
{
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	return g_ascii_strup(u.machine, -1);
}

static char *default_clauses(const char *user)
{
	g_autofree char *a = arch();
	return g_strdup_printf("%s%s(TARGET.Arch == \"%s\") && (TARGET.OpSys == \"LINUX\") && "
			       "(TARGET.Memory >= MY.RequestMemory) && (TARGET.Disk >= MY.RequestDisk)",
			       user ? user : "", user ? " && " : "", a);
}

/* ---- good files ------------------------------------------------------------ */

static void test_minimal(void **state)
{
	g_autoptr(KiteJobFile) jf = parse("executable: prog\n");
	assert_int_equal(jf->queue, 1);
	assert_attr_string(jf->ad, "Cmd", "@/prog");
	assert_attr_string(jf->ad, "Arguments", "");
	assert_attr_string(jf->ad, "Iwd", "@");
	assert_attr_int(jf->ad, "RequestCpus", 1);
	assert_attr_int(jf->ad, "RequestMemory", 128);
	assert_attr_int(jf->ad, "RequestDisk", 1024 * 1024);
	assert_attr_int(jf->ad, "JobPrio", 0);
	assert_attr_string(jf->ad, "CheckpointMode", "preload");
	assert_attr_int(jf->ad, "MaxRetries", 3);
	g_autofree char *req = default_clauses(NULL);
	assert_attr_expr(jf->ad, "Requirements", req);
	assert_null(kite_ad_lookup(jf->ad, "CheckpointInterval"));
	assert_null(kite_ad_lookup(jf->ad, "Environment"));
	assert_null(kite_ad_lookup(jf->ad, "In"));
	assert_null(kite_ad_lookup(jf->ad, "Out"));
	assert_null(kite_ad_lookup(jf->ad, "Err"));
	assert_null(kite_ad_lookup(jf->ad, "TransferInput"));
	assert_null(kite_ad_lookup(jf->ad, "Rank"));
	assert_null(kite_ad_lookup(jf->ad, "ClusterId"));
}

static void test_full(void **state)
{
	g_autoptr(KiteJobFile) jf = parse("# a comment\n"
					  "executable: prog\n"
					  "arguments: [-n, \"hello world\", \"it's\", \"\"]\n"
					  "environment:\n"
					  "  LANG: C\n"
					  "  MSG: hi there\n"
					  "  EMPTY:\n"
					  "input: data.txt\n"
					  "output: out.$(Process)\n"
					  "error: /tmp/err\n"
					  "transfer_input_files: [data.txt, sub/prog]\n"
					  "requirements: TARGET.Memory >= 4096\n"
					  "rank: TARGET.Cpus\n"
					  "request_cpus: 4\n"
					  "request_memory: 2G\n"
					  "request_disk: 512\n"
					  "priority: -5\n"
					  "checkpoint:\n"
					  "  mode: linked\n"
					  "  interval: 15m\n"
					  "max_retries: 0\n"
					  "job_lease_duration: 2h\n"
					  "queue: 10\n");
	assert_int_equal(jf->queue, 10);
	assert_attr_string(jf->ad, "Cmd", "@/prog");
	assert_attr_string(jf->ad, "Arguments", "-n 'hello world' 'it'\\''s' ''");
	assert_attr_string(jf->ad, "Environment", "LANG=C 'MSG=hi there' EMPTY=");
	assert_attr_string(jf->ad, "In", "@/data.txt");
	assert_attr_string(jf->ad, "Out", "@/out.$(Process)");
	assert_attr_string(jf->ad, "Err", "/tmp/err");
	assert_attr_string(jf->ad, "TransferInput", "@/data.txt,@/sub/prog");
	assert_attr_int(jf->ad, "RequestCpus", 4);
	assert_attr_int(jf->ad, "RequestMemory", 2048);
	assert_attr_int(jf->ad, "RequestDisk", 512);
	assert_attr_int(jf->ad, "JobPrio", -5);
	assert_attr_string(jf->ad, "CheckpointMode", "linked");
	assert_attr_int(jf->ad, "CheckpointInterval", 900);
	assert_attr_int(jf->ad, "MaxRetries", 0);
	assert_attr_int(jf->ad, "JobLeaseDuration", 7200);
	assert_attr_expr(jf->ad, "Rank", "TARGET.Cpus");
	g_autofree char *a = arch();
	g_autofree char *req =
	    g_strdup_printf("(TARGET.Memory >= 4096) && (TARGET.Arch == \"%s\") && "
			    "(TARGET.OpSys == \"LINUX\") && (TARGET.Disk >= MY.RequestDisk)",
			    a);
	assert_attr_expr(jf->ad, "Requirements", req);

	/* Attributes come in a fixed, readable order. */
	static const char *const order[] = {
	    "Cmd",
	    "Arguments",
	    "Environment",
	    "Iwd",
	    "In",
	    "Out",
	    "Err",
	    "TransferInput",
	    "RequestCpus",
	    "RequestMemory",
	    "RequestDisk",
	    "Requirements",
	    "Rank",
	    "JobPrio",
	    "CheckpointMode",
	    "CheckpointInterval",
	    "MaxRetries",
	    "JobLeaseDuration",
	};
	assert_int_equal(kite_ad_size(jf->ad), G_N_ELEMENTS(order));
	for (guint i = 0; i < G_N_ELEMENTS(order); i++)
		assert_string_equal(kite_ad_name_at(jf->ad, i), order[i]);
}

static void test_arguments_string(void **state)
{
	g_autoptr(KiteJobFile) jf = parse("executable: prog\n"
					  "arguments: -c 'echo \"a b\"' x\\ y $(Process) \"$$HOME\"\n");
	assert_attr_string(jf->ad, "Arguments", "-c 'echo \"a b\"' 'x y' $(Process) '$$HOME'");
	g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 7, 2);
	assert_attr_string(ad, "Arguments", "-c 'echo \"a b\"' 'x y' 2 '$HOME'");
	/* The result splits back into the words the user meant. */
	g_autofree char *args = NULL;
	assert_true(kite_ad_get_string(ad, "Arguments", &args));
	g_auto(GStrv) argv = NULL;
	assert_true(g_shell_parse_argv(args, NULL, &argv, NULL));
	assert_int_equal(g_strv_length(argv), 5);
	assert_string_equal(argv[1], "echo \"a b\"");
	assert_string_equal(argv[2], "x y");
	assert_string_equal(argv[3], "2");
	assert_string_equal(argv[4], "$HOME");
}

static void test_arguments_empty(void **state)
{
	g_autoptr(KiteJobFile) a = parse("executable: prog\narguments:\n");
	assert_attr_string(a->ad, "Arguments", "");
	g_autoptr(KiteJobFile) b = parse("executable: prog\narguments: \"  \"\n");
	assert_attr_string(b->ad, "Arguments", "");
	g_autoptr(KiteJobFile) c = parse("executable: prog\narguments: []\n");
	assert_attr_string(c->ad, "Arguments", "");
	g_autoptr(KiteJobFile) d = parse("executable: prog\narguments: [1, true, 2.5]\n");
	assert_attr_string(d->ad, "Arguments", "1 true 2.5");
}

static void test_sizes(void **state)
{
	g_autoptr(KiteJobFile) a = parse("executable: prog\nrequest_memory: 512\nrequest_disk: 10G\n");
	assert_attr_int(a->ad, "RequestMemory", 512);
	assert_attr_int(a->ad, "RequestDisk", 10 * 1024 * 1024);
	g_autoptr(KiteJobFile) b = parse("executable: prog\nrequest_memory: 1.5\nrequest_disk: 1M\n");
	assert_attr_int(b->ad, "RequestMemory", 2); /* rounded up */
	assert_attr_int(b->ad, "RequestDisk", 1024);
	g_autoptr(KiteJobFile) c = parse("executable: prog\nrequest_memory: 100KiB\n");
	assert_attr_int(c->ad, "RequestMemory", 1);
}

static void test_paths(void **state)
{
	/* The executable is found relative to initial_dir, like Condor. */
	g_autoptr(KiteJobFile) a = parse("executable: prog\ninitial_dir: sub\noutput: out\n");
	assert_attr_string(a->ad, "Iwd", "@/sub");
	assert_attr_string(a->ad, "Cmd", "@/sub/prog");
	assert_attr_string(a->ad, "Out", "@/sub/out");
	g_autoptr(KiteJobFile) b = parse("executable: ../prog\ninitial_dir: ./sub/\n");
	assert_attr_string(b->ad, "Cmd", "@/prog");
	assert_attr_string(b->ad, "Iwd", "@/sub");
	g_autofree char *abs = at_tmp("executable: @/sub/prog\ninitial_dir: @\n");
	g_autoptr(KiteJobFile) c = parse(abs);
	assert_attr_string(c->ad, "Cmd", "@/sub/prog");
	g_autoptr(KiteJobFile) d = parse("executable: /bin/sh\n");
	assert_attr_string(d->ad, "Cmd", "/bin/sh");
	g_autoptr(KiteJobFile) e =
	    parse("executable: prog\ntransfer_input_files: \"data.txt, sub/prog,, \"\n");
	assert_attr_string(e->ad, "TransferInput", "@/data.txt,@/sub/prog");
	g_autoptr(KiteJobFile) f =
	    parse("executable: prog\ntransfer_input_files: in.$(Process)\ninput: in.$(Process)\n");
	assert_attr_string(f->ad, "TransferInput", "@/in.$(Process)");
}

static void test_dollar_in_cwd(void **state)
{
	/* A real "$" in the directory survives expansion. */
	g_autofree char *odd = g_build_filename(tmp_dir, "a$b$$c", NULL);
	assert_int_equal(mkdir(odd, 0755), 0);
	g_autofree char *prog = g_build_filename(odd, "prog", NULL);
	assert_true(g_file_set_contents(prog, "#!/bin/sh\n", -1, NULL));
	assert_int_equal(chmod(prog, 0755), 0);
	const char *yaml = "executable: prog\noutput: out$$1.$(Process)\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteJobFile) jf = kite_jobfile_parse("job.yaml", yaml, strlen(yaml), odd, &error);
	assert_null(error);
	g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 1, 4);
	assert_attr_string(ad, "Cmd", "@/a$b$$c/prog");
	assert_attr_string(ad, "Iwd", "@/a$b$$c");
	assert_attr_string(ad, "Out", "@/a$b$$c/out$1.4");
}

static void test_checkpoint_forms(void **state)
{
	g_autoptr(KiteJobFile) a = parse("executable: prog\ncheckpoint: none\n");
	assert_attr_string(a->ad, "CheckpointMode", "none");
	g_autoptr(KiteJobFile) b = parse("executable: prog\ncheckpoint: {interval: auto}\n");
	assert_attr_string(b->ad, "CheckpointMode", "preload");
	assert_null(kite_ad_lookup(b->ad, "CheckpointInterval"));
	g_autoptr(KiteJobFile) c = parse("executable: prog\ncheckpoint: {mode: Linked, interval: 90}\n");
	assert_attr_string(c->ad, "CheckpointMode", "linked");
	assert_attr_int(c->ad, "CheckpointInterval", 90);
	g_autoptr(KiteJobFile) d = parse("executable: prog\ncheckpoint: {interval: 1.5h}\n");
	assert_attr_int(d->ad, "CheckpointInterval", 5400);
}

static void test_requirements_omission(void **state)
{
	g_autofree char *a = arch();
	/* "@ARCH@" in an expected expression is this host's Arch. */
	struct {
		const char *user;
		const char *expected;
	} cases[] = {
	    {"TARGET.Memory > 100",
	     "(TARGET.Memory > 100) && (TARGET.Arch == \"@ARCH@\") && (TARGET.OpSys == \"LINUX\") && "
	     "(TARGET.Disk >= MY.RequestDisk)"},
	    {"Arch == \"AARCH64\" || true",
	     "(Arch == \"AARCH64\" || true) && (TARGET.OpSys == \"LINUX\") && "
	     "(TARGET.Memory >= MY.RequestMemory) && (TARGET.Disk >= MY.RequestDisk)"},
	    {"target.opsys == \"FREEBSD\" && TARGET.disk > 5",
	     "(target.opsys == \"FREEBSD\" && TARGET.disk > 5) && (TARGET.Arch == \"@ARCH@\") && "
	     "(TARGET.Memory >= MY.RequestMemory)"},
	    {"Arch == \"X\" && OpSys == \"Y\" && Memory > 1 && Disk > 2",
	     "Arch == \"X\" && OpSys == \"Y\" && Memory > 1 && Disk > 2"},
	    /* RequestMemory is not Memory. */
	    {"MY.RequestMemory > 1",
	     "(MY.RequestMemory > 1) && (TARGET.Arch == \"@ARCH@\") && (TARGET.OpSys == \"LINUX\") && "
	     "(TARGET.Memory >= MY.RequestMemory) && (TARGET.Disk >= MY.RequestDisk)"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *yaml =
		    g_strdup_printf("executable: prog\nrequirements: '%s'\n", cases[i].user);
		g_autoptr(KiteJobFile) jf = parse(yaml);
		g_auto(GStrv) parts = g_strsplit(cases[i].expected, "@ARCH@", -1);
		g_autofree char *want = g_strjoinv(a, parts);
		assert_attr_expr(jf->ad, "Requirements", want);
	}
}

static void test_expand(void **state)
{
	g_autoptr(KiteJobFile) jf =
	    parse("executable: prog\n"
		  "arguments: [--id, $(Cluster).$(Process), $(ClusterId)/$(procid), \"$$(Process)\"]\n"
		  "environment: {JOB: \"$(Cluster)_$(Process)\", PRICE: $$5}\n"
		  "output: out.$(Cluster).$(Process)\n"
		  "error: err.$(Process)\n"
		  "requirements: TARGET.Name =!= \"node$(Process)\"\n");
	g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 12, 3);
	assert_attr_string(ad, "Arguments", "--id 12.3 12/3 '$(Process)'");
	assert_attr_string(ad, "Environment", "JOB=12_3 'PRICE=$5'");
	assert_attr_string(ad, "Out", "@/out.12.3");
	assert_attr_string(ad, "Err", "@/err.3");
	assert_attr_int(ad, "ClusterId", 12);
	assert_attr_int(ad, "ProcId", 3);
	assert_attr_int(ad, "RequestMemory", 128);
	g_autofree char *req = default_clauses("(TARGET.Name =!= \"node3\")");
	assert_attr_expr(ad, "Requirements", req);
	/* The template is left as it was. */
	assert_attr_string(jf->ad, "Out", "@/out.$(Cluster).$(Process)");
	assert_null(kite_ad_lookup(jf->ad, "ProcId"));
	/* Another proc of the same template. */
	g_autoptr(KiteAd) ad0 = kite_jobfile_expand(jf->ad, 12, 0);
	assert_attr_string(ad0, "Out", "@/out.12.0");
	assert_attr_int(ad0, "ProcId", 0);
}

/* `+Name: value` (HTCondor's +Name = value): quoted strings, plain
 * expressions, macros in strings, anything a job file or Kite sets
 * refused with the key's position. */
static void test_custom_attributes(void **state)
{
	g_autoptr(KiteJobFile) jf = parse("executable: prog\n"
					  "+Project: \"chemistry\"\n"
					  "+Weight: 3\n"
					  "+IsBig: RequestMemory > 4096 && Project == \"chemistry\"\n"
					  "+Input: 'in.$(Process).dat'\n"
					  "+_x2: true\n"
					  "queue: 2\n");
	assert_attr_string(jf->ad, "Project", "chemistry");
	assert_attr_int(jf->ad, "Weight", 3);
	assert_attr_expr(jf->ad, "IsBig", "RequestMemory > 4096 && Project == \"chemistry\"");
	assert_attr_expr(jf->ad, "_x2", "true");
	g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 7, 1);
	assert_attr_string(ad, "Input", "in.1.dat");
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(ad, "IsBig", NULL, &v);
	assert_true(v.type == KITE_VALUE_BOOL && !v.b);
	kite_value_clear(&v);

	expect_error("executable: prog\n+my-attr: 1\n",
		     "job.yaml:2:1: custom attribute `+my-attr`: a name is a letter or _ followed by letters, digits "
		     "and _");
	expect_error("executable: prog\n+: 1\n",
		     "job.yaml:2:1: custom attribute `+`: a name is a letter or _ followed by letters, digits and _");
	expect_error("executable: prog\n+owner: \"eve\"\n",
		     "job.yaml:2:1: custom attribute `+owner`: Owner is kept by Kite, not set by a job file");
	expect_error("executable: prog\n+RequestMemory: 9\n",
		     "job.yaml:2:1: custom attribute `+RequestMemory`: RequestMemory comes from the job file's own "
		     "keys (docs/job-file.md)");
	expect_error("executable: prog\n+Project:\n",
		     "job.yaml:2:10: custom attribute `+Project` wants a value: a quoted string or an expression");
	expect_error("executable: prog\n+Project: [a, b]\n",
		     "job.yaml:2:11: custom attribute `+Project` wants a value: a quoted string or an expression");
	/* an ordinary misspelt key is still caught */
	expect_error("executable: prog\nqueu: 2\n", "job.yaml:2:1: unknown key `queu` (did you mean `queue`?)");
}

/* getenv: the submitter's variables by name or pattern, sorted, before
 * the job file's own (which win); "$" in them stays a "$". */
static void test_getenv(void **state)
{
	g_setenv("KITE_T_B", "two words", TRUE);
	g_setenv("KITE_T_A", "cost $5 and $(Process)", TRUE);
	g_setenv("KITE_T_C", "from the shell", TRUE);
	g_setenv("KITE_U", "other", TRUE);
	g_autoptr(KiteJobFile) jf = parse("executable: prog\n"
					  "getenv: [KITE_T_*, KITE_U]\n"
					  "environment: {KITE_T_C: from the file}\n");
	g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 3, 1);
	assert_attr_string(ad, "Environment",
			   "'KITE_T_A=cost $5 and $(Process)' 'KITE_T_B=two words' KITE_U=other 'KITE_T_C=from the file'");
	g_autoptr(KiteJobFile) all = parse("executable: prog\ngetenv: true\n");
	g_autofree char *env = NULL;
	assert_true(kite_ad_get_string(all->ad, "Environment", &env));
	assert_non_null(strstr(env, "KITE_U=other"));
	g_autoptr(KiteJobFile) none = parse("executable: prog\ngetenv: false\n");
	assert_null(kite_ad_lookup(none->ad, "Environment"));
	expect_error("executable: prog\ngetenv: [PATH, 'A-B']\n",
		     "job.yaml:2:16: `A-B` in `getenv` is not a variable name or pattern (letters, digits, _, and * or "
		     "?), or write `getenv: true` for all of them");
	g_unsetenv("KITE_T_A");
	g_unsetenv("KITE_T_B");
	g_unsetenv("KITE_T_C");
	g_unsetenv("KITE_U");
}

/* queue: {items: …} and {matching: …}: a proc per item, $(Item) and Item
 * per proc, the list kept out of the procs; refusals with positions. */
static void test_queue_items(void **state)
{
	g_autoptr(KiteJobFile) jf = parse("executable: prog\n"
					  "arguments: [--in, $(Item), $(Process)]\n"
					  "output: out.$(item)\n"
					  "queue: {items: [x1, y-2, z.3]}\n");
	assert_int_equal(jf->queue, 3);
	g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 5, 1);
	assert_attr_string(ad, "Arguments", "--in y-2 1");
	assert_attr_string(ad, "Out", "@/out.y-2");
	assert_attr_string(ad, "Item", "y-2");
	assert_null(kite_ad_lookup(ad, "QueueItems"));

	write_file("b.dat", "", 0644);
	write_file("a.dat", "", 0644);
	write_file("c.txt", "", 0644);
	g_autoptr(KiteJobFile) m = parse("executable: prog\narguments: $(Item)\nqueue: {matching: '*.dat'}\n");
	assert_int_equal(m->queue, 2);
	g_autoptr(KiteAd) m0 = kite_jobfile_expand(m->ad, 1, 0);
	assert_attr_string(m0, "Arguments", "a.dat");

	expect_error("executable: prog\narguments: $(Item)\n",
		     "job.yaml:1:1: `Arguments` uses $(Item), but `queue` has no items (write `queue: {items: […]}` or "
		     "`queue: {matching: PATTERN}`)");
	expect_error("executable: prog\nqueue: {items: [a, 'b c']}\n",
		     "job.yaml:2:20: item `b c` of `queue.items`: an item is a word (no spaces, quotes, backslashes or $)");
	expect_error("executable: prog\nqueue: {matching: '*.none'}\n",
		     "job.yaml:2:8: no file in @ matches `*.none`");
	expect_error("executable: prog\nqueue: {items: [a], matching: '*'}\n",
		     "job.yaml:2:8: `queue` takes items or matching, not both");
	expect_error("executable: prog\nqueue: {item: [a]}\n",
		     "job.yaml:2:9: unknown key `item` in `queue` (did you mean `items`?)");
}

static void test_empty_values_mean_unset(void **state)
{
	g_autoptr(KiteJobFile) jf = parse("executable: prog\ninput:\noutput: ~\nenvironment:\nrequirements:\n"
					  "transfer_input_files:\n");
	assert_null(kite_ad_lookup(jf->ad, "In"));
	assert_null(kite_ad_lookup(jf->ad, "Out"));
	assert_null(kite_ad_lookup(jf->ad, "Environment"));
	assert_null(kite_ad_lookup(jf->ad, "TransferInput"));
	g_autofree char *req = default_clauses(NULL);
	assert_attr_expr(jf->ad, "Requirements", req);
}

static void test_display_name_and_cwd_default(void **state)
{
	g_autoptr(GError) error = NULL;
	const char *yaml = "queue: 2\n";
	g_autoptr(KiteJobFile) jf = kite_jobfile_parse("<stdin>", yaml, strlen(yaml), NULL, &error);
	assert_null(jf);
	assert_string_equal(error->message, "<stdin>:1:1: `executable` is required (the program to run, e.g. "
					    "`executable: /bin/sleep`)");
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_INVALID));

	/* cwd NULL is the process's directory. */
	g_autofree char *old = g_get_current_dir();
	assert_int_equal(chdir(tmp_dir), 0);
	g_autoptr(GError) error2 = NULL;
	const char *yaml2 = "executable: prog\n";
	g_autoptr(KiteJobFile) jf2 = kite_jobfile_parse("job.yaml", yaml2, strlen(yaml2), NULL, &error2);
	assert_int_equal(chdir(old), 0);
	assert_non_null(jf2);
	assert_attr_string(jf2->ad, "Cmd", "@/prog");
}

/* ---- errors ----------------------------------------------------------------- */

static void test_error_yaml_syntax(void **state)
{
	expect_error(
	    "executable: prog\n\tqueue: 3\n",
	    "job.yaml:2:1: found a tab character that violates indentation, while scanning a plain scalar at "
	    "1:13 (YAML does not allow tabs for indentation; use spaces)");
	expect_error(
	    "executable: prog\narguments: -c echo a: b\n",
	    "job.yaml:2:21: mapping values are not allowed in this context (put a value that contains `: ` "
	    "in quotes)");
	expect_error("executable: \"prog\n",
		     "job.yaml:2:1: found unexpected end of stream, while scanning a quoted scalar at 1:13");
	expect_error(
	    "executable: prog\n  queue: 3\n",
	    "job.yaml:2:8: mapping values are not allowed in this context (put a value that contains `: ` "
	    "in quotes)");
	expect_error(
	    "environment:\n  A: 1\n B: 2\n",
	    "job.yaml:3:2: did not find expected key, while parsing a block mapping at 1:1 (check the "
	    "indentation of this line)");
	expect_error(
	    "executable: prog\nqueue\nrank: 1\n",
	    "job.yaml:2:1: could not find expected ':' (each entry of a mapping is written `key: value`)");
	expect_error("executable: [prog\n",
		     "job.yaml:2:1: did not find expected ',' or ']', while parsing a flow sequence at 1:13");
	expect_error_len("executable: pr\xffog\n", 17,
			 "job.yaml:1:15: invalid leading UTF-8 octet (0xFF); the file must be UTF-8 text");
	expect_error_len(
	    "executable: prog\nqueue: \x01\n", 26,
	    "job.yaml:2:8: control characters are not allowed (0x01); the file must be UTF-8 text");
}

static void test_error_yaml_refused(void **state)
{
	expect_error("executable: &p prog\noutput: *p\n",
		     "job.yaml:2:9: YAML aliases (`*p`) are not supported; write the value out");
	expect_error("executable: prog\n---\nqueue: 2\n",
		     "job.yaml:2:1: only one YAML document is allowed (remove the second `---`)");
	expect_error("executable: \"pr\\0og\"\n", "job.yaml:1:13: NUL characters are not allowed in values");
	expect_error("arguments: [[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]\n",
		     "job.yaml:1:27: nested too deeply (at most 16 levels)");

	g_autoptr(GString) big = g_string_new("executable: prog\narguments:\n");
	while (big->len <= KITE_JOBFILE_MAX_SIZE)
		g_string_append(big, "  - abcdefghijklmnopqrstuvwxyz\n");
	g_autofree char *want = g_strdup_printf("job.yaml: too large (%" G_GSIZE_FORMAT " bytes; at most %d)",
						big->len, KITE_JOBFILE_MAX_SIZE);
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteJobFile) jf = kite_jobfile_parse("job.yaml", big->str, big->len, tmp_dir, &error);
	assert_null(jf);
	assert_string_equal(error->message, want);
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_LIMIT));

	g_autoptr(GString) many = g_string_new("executable: prog\narguments: [");
	for (int i = 0; i < 100001; i++)
		g_string_append(many, "a,");
	g_string_append(many, "]\n");
	/* positions on one long line in linear time: this took 53 s of CPU
	 * when each value's column was counted from the line's start */
	gint64 t0 = g_get_monotonic_time();
	expect_error(many->str, "job.yaml:2:200003: too many values (at most 100000)");
	assert_true(g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC);
}

static void test_error_structure(void **state)
{
	expect_error(
	    "- executable: prog\n",
	    "job.yaml:1:1: a job file is a mapping of keys to values, like `executable: ./prog`, not a list");
	expect_error(
	    "prog\n",
	    "job.yaml:1:1: a job file is a mapping of keys to values, like `executable: ./prog`, not a "
	    "string");
	expect_error(
	    "", "job.yaml:1:1: `executable` is required (the program to run, e.g. `executable: /bin/sleep`)");
	expect_error(
	    "# nothing\n---\n",
	    "job.yaml:1:1: `executable` is required (the program to run, e.g. `executable: /bin/sleep`)");
	expect_error(
	    "\nqueue: 3\n",
	    "job.yaml:2:1: `executable` is required (the program to run, e.g. `executable: /bin/sleep`)");
	expect_error("executable: prog\nrequest_memroy: 2G\n",
		     "job.yaml:2:1: unknown key `request_memroy` (did you mean `request_memory`?)");
	expect_error("executable: prog\n  \nExecutable: prog\n",
		     "job.yaml:3:1: unknown key `Executable` (did you mean `executable`?)");
	expect_error(
	    "executable: prog\nuniverse: vanilla\n",
	    "job.yaml:2:1: unknown key `universe` (see docs/job-file.md for the keys a job file may have)");
	expect_error("executable: prog\nqueue: 2\nqueue: 3\n",
		     "job.yaml:3:1: duplicate key `queue` (first given at line 2)");
	expect_error("executable: prog\n? [a, b]\n: c\n", "job.yaml:2:3: keys must be words, not a list");
	expect_error("executable: prog\n\"\": c\n", "job.yaml:2:1: keys must be words, not empty");
	expect_error("executable: prog\nenvironment: {A: 1, '': 2}\n",
		     "job.yaml:2:21: keys must be words, not empty in `environment`");
}

static void test_error_types(void **state)
{
	expect_error("executable: prog\nrequest_cpus: two\n",
		     "job.yaml:2:15: `request_cpus` must be a whole number, not `two`");
	expect_error("executable: prog\nrequest_cpus: 2.0\n",
		     "job.yaml:2:15: `request_cpus` must be a whole number, not `2.0`");
	expect_error("executable: prog\nrequest_cpus: 0x10\n",
		     "job.yaml:2:15: `request_cpus` must be a whole number, not `0x10`");
	expect_error("executable: prog\nrequest_cpus: [1]\n",
		     "job.yaml:2:15: `request_cpus` must be a whole number, not a list");
	expect_error("executable: prog\nrequest_cpus:\n",
		     "job.yaml:2:14: `request_cpus` must be a whole number, not empty");
	expect_error("executable: prog\nrequest_cpus: 0\n",
		     "job.yaml:2:15: `request_cpus` must be a whole number from 1 to 4096, not `0`");
	expect_error("executable: prog\nrequest_cpus: 99999999999999999999\n",
		     "job.yaml:2:15: `request_cpus` must be a whole number, not `99999999999999999999`");
	expect_error("executable: prog\nqueue: 0\n",
		     "job.yaml:2:8: `queue` must be a whole number from 1 to 1000000, not `0`");
	expect_error("executable: prog\nqueue: 1000001\n",
		     "job.yaml:2:8: `queue` must be a whole number from 1 to 1000000, not `1000001`");
	expect_error("executable: prog\nmax_retries: -1\n",
		     "job.yaml:2:14: `max_retries` must be a whole number from 0 to 1000, not `-1`");
	expect_error("executable: prog\npriority: high\n",
		     "job.yaml:2:11: `priority` must be a whole number, not `high`");
	expect_error(
	    "executable: prog\nrequest_memory: lots\n",
	    "job.yaml:2:17: `request_memory` must be a size (a number of MiB, or with a unit K, M, G or T, "
	    "e.g. 512M or 2G), not `lots`");
	expect_error(
	    "executable: prog\nrequest_disk: -1G\n",
	    "job.yaml:2:15: `request_disk` must be a size (a number of KiB, or with a unit K, M, G or T, "
	    "e.g. 512M or 2G), not `-1G`");
	expect_error("executable: prog\ninput: {a: b}\n",
		     "job.yaml:2:8: `input` must be a string, not a mapping");
	expect_error("executable: [prog]\n", "job.yaml:1:13: `executable` must be a string, not a list");
	expect_error("executable:\n", "job.yaml:1:12: `executable` must be a string, not empty");
	expect_error("executable: ''\n", "job.yaml:1:13: `executable` must not be empty");
	expect_error("executable: prog\noutput: \"\"\n", "job.yaml:2:9: `output` must not be empty");
	expect_error("executable: prog\ntransfer_input_files: {a: 1}\n",
		     "job.yaml:2:23: `transfer_input_files` must be a list or a comma-separated string, not "
		     "a mapping");
	expect_error("executable: prog\ntransfer_input_files: [data.txt, [x]]\n",
		     "job.yaml:2:34: items of `transfer_input_files` must be strings, not a list");
	expect_error("executable: prog\ntransfer_input_files: [data.txt, '']\n",
		     "job.yaml:2:34: items of `transfer_input_files` must be strings, not empty");
	expect_error("executable: prog\ntransfer_input_files: ['a,b']\n",
		     "job.yaml:2:26: file names in `transfer_input_files` cannot contain a comma");
	expect_error("executable: prog\nrequirements: [a]\n",
		     "job.yaml:2:15: `requirements` must be an expression, not a list");
}

static void test_error_long_value_shortened(void **state)
{
	expect_error(
	    "executable: prog\nrequest_cpus: \"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\"\n",
	    "job.yaml:2:15: `request_cpus` must be a whole number, not "
	    "`abcdefghijklmnopqrstuvwxyzabcdefghijklmn…`");
	expect_error("executable: prog\nrequest_cpus: \"a\\nb\"\n",
		     "job.yaml:2:15: `request_cpus` must be a whole number, not `a\\nb`");
}

static void test_error_arguments_environment(void **state)
{
	expect_error(
	    "executable: prog\narguments: {-c: x}\n",
	    "job.yaml:2:12: `arguments` must be a list or a string, not a mapping (put an argument that "
	    "contains `: ` in quotes)");
	expect_error(
	    "executable: prog\narguments:\n  - -c\n  - echo: hi\n",
	    "job.yaml:4:5: items of `arguments` must be strings, not a mapping (put an argument that "
	    "contains `: ` in quotes)");
	expect_error("executable: prog\narguments: [a, [b]]\n",
		     "job.yaml:2:16: items of `arguments` must be strings, not a list");
	expect_error(
	    "executable: prog\narguments: echo 'unclosed\n",
	    "job.yaml:2:12: `arguments` is not a valid list of shell words (an unclosed quote?); give the "
	    "arguments as a YAML list instead");
	expect_error("executable: prog\nenvironment: [A=1]\n",
		     "job.yaml:2:14: `environment` must be a mapping, not a list");
	expect_error(
	    "executable: prog\nenvironment:\n  MY-VAR: 1\n",
	    "job.yaml:3:3: `MY-VAR` is not a valid environment variable name (use letters, digits and _, "
	    "not starting with a digit)");
	expect_error(
	    "executable: prog\nenvironment:\n  1X: 1\n",
	    "job.yaml:3:3: `1X` is not a valid environment variable name (use letters, digits and _, not "
	    "starting with a digit)");
	expect_error("executable: prog\nenvironment:\n  A: [1]\n",
		     "job.yaml:3:6: `environment.A` must be a string, not a list");
	expect_error("executable: prog\nenvironment:\n  A: 1\n  A: 2\n",
		     "job.yaml:4:3: duplicate key `A` in `environment` (first given at line 3)");
}

static void test_error_checkpoint(void **state)
{
	expect_error("executable: prog\ncheckpoint:\n  mode: prelaod\n",
		     "job.yaml:3:9: unknown checkpoint mode `prelaod` (did you mean `preload`? the modes are "
		     "preload, linked and none)");
	expect_error(
	    "executable: prog\ncheckpoint: always\n",
	    "job.yaml:2:13: unknown checkpoint mode `always` (the modes are preload, linked and none)");
	expect_error("executable: prog\ncheckpoint:\n  intervall: 5m\n",
		     "job.yaml:3:3: unknown key `intervall` in `checkpoint` (did you mean `interval`?)");
	expect_error("executable: prog\ncheckpoint:\n  every: 5m\n",
		     "job.yaml:3:3: unknown key `every` in `checkpoint` (the keys are mode and interval)");
	expect_error("executable: prog\ncheckpoint: [preload]\n",
		     "job.yaml:2:13: `checkpoint` must be a mapping, not a list");
	expect_error(
	    "executable: prog\ncheckpoint: {interval: soon}\n",
	    "job.yaml:2:24: `checkpoint.interval` must be a duration (a number of seconds, or with a unit "
	    "ms, s, m, h or d, e.g. 15m), not `soon`");
	expect_error(
	    "executable: prog\ncheckpoint: {interval: 0s}\n",
	    "job.yaml:2:24: `checkpoint.interval` must be `auto` or a duration from 1s to 365d, not `0s`");
	expect_error(
	    "executable: prog\ncheckpoint: {interval: 400d}\n",
	    "job.yaml:2:24: `checkpoint.interval` must be `auto` or a duration from 1s to 365d, not `400d`");
	expect_error("executable: prog\njob_lease_duration: 0s\n",
		     "job.yaml:2:21: `job_lease_duration` must be a duration from 1s to 30d, not `0s`");
	expect_error("executable: prog\njob_lease_duration: forever\n",
		     "job.yaml:2:21: `job_lease_duration` must be a duration (a number of seconds, or with a unit "
		     "ms, s, m, h or d, e.g. 15m), not `forever`");
	expect_error("executable: prog\ncheckpoint: {mode: [a]}\n",
		     "job.yaml:2:20: `checkpoint.mode` must be a string, not a list");
}

static void test_error_files(void **state)
{
	expect_error("executable: nothere\n", "job.yaml:1:13: executable `@/nothere` does not exist");
	g_autofree char *sh = g_find_program_in_path("sh");
	g_autofree char *want =
	    g_strdup_printf("job.yaml:2:13: executable `@/sh` does not exist (did you mean `%s`?)", sh);
	expect_error("queue: 1\nexecutable: sh\n", want);
	expect_error("executable: data.txt\n",
		     "job.yaml:1:13: executable `@/data.txt` is not executable (try `chmod +x @/data.txt`)");
	expect_error("executable: sub\n", "job.yaml:1:13: executable `@/sub` is a directory");
	expect_error("executable: /dev/null\n",
		     "job.yaml:1:13: executable `/dev/null` is not a regular file");
	expect_error("executable: prog\ninitial_dir: nowhere\n",
		     "job.yaml:2:14: initial directory `@/nowhere` does not exist");
	expect_error("executable: prog\ninitial_dir: data.txt\n",
		     "job.yaml:2:14: initial directory `@/data.txt` is not a directory");
	/* The executable is looked for in initial_dir. */
	expect_error("executable: data.txt\ninitial_dir: sub\n",
		     "job.yaml:1:13: executable `@/sub/data.txt` does not exist");
	expect_error("executable: prog\ninput: missing.txt\n",
		     "job.yaml:2:8: input file `@/missing.txt` does not exist");
	expect_error("executable: prog\ntransfer_input_files: data.txt, missing.txt\n",
		     "job.yaml:2:33: input file `@/missing.txt` does not exist");
	expect_error("executable: prog\ntransfer_input_files:\n  - data.txt\n  - \"missing.txt\"\n",
		     "job.yaml:4:5: input file `@/missing.txt` does not exist");
}

static void test_error_expressions(void **state)
{
	/* The message and column inside the expression are the expression
	 * parser's; the file position adds the value's column. */
	const char *bad = "TARGET.Memory >= (4 +";
	guint col = 0;
	g_autoptr(GError) perr = NULL;
	g_autoptr(KiteExpr) e = kite_expr_parse(bad, &col, &perr);
	assert_null(e);
	assert_true(col >= 1);

	g_autofree char *plain = g_strdup_printf("executable: prog\nrequirements: %s\n", bad);
	g_autofree char *want1 =
	    g_strdup_printf("job.yaml:2:%u: bad expression in `requirements`: %s", 14 + col, perr->message);
	expect_error(plain, want1);

	g_autofree char *quoted = g_strdup_printf("executable: prog\nrank:   '%s'\n", bad);
	g_autofree char *want2 =
	    g_strdup_printf("job.yaml:2:%u: bad expression in `rank`: %s", 9 + col, perr->message);
	expect_error(quoted, want2);

	/* Written over several lines: the position of the value. */
	g_autofree char *folded =
	    g_strdup_printf("executable: prog\nrequirements: >-\n  TARGET.Memory >=\n  (4 +\n");
	g_autofree char *want3 =
	    g_strdup_printf("job.yaml:2:15: bad expression in `requirements`: %s", perr->message);
	expect_error(folded, want3);

	/* Characters before the error count as characters, not bytes. */
	const char *utf = "Name == \"é\" &&";
	guint col2 = 0;
	g_autoptr(GError) perr2 = NULL;
	g_autoptr(KiteExpr) e2 = kite_expr_parse(utf, &col2, &perr2);
	assert_null(e2);
	g_autofree char *yaml4 = g_strdup_printf("executable: prog\nrequirements: %s\n", utf);
	g_autofree char *want4 = g_strdup_printf("job.yaml:2:%u: bad expression in `requirements`: %s",
						 14 + col2 - 1, perr2->message);
	expect_error(yaml4, want4);
}

static void test_error_macros(void **state)
{
	expect_error("executable: prog\noutput: out.$(Proces)\n",
		     "job.yaml:2:13: unknown macro `$(Proces)` (did you mean `$(Process)`?)");
	expect_error(
	    "executable: prog\noutput: \"out.$(Cluster).$(Node)\"\n",
	    "job.yaml:2:25: unknown macro `$(Node)` (the macros are $(Cluster) and $(Process); write `$$` "
	    "for a literal `$`)");
	expect_error("executable: prog\narguments: [a, \"x$(Process\"]\n",
		     "job.yaml:2:18: `$(` without a closing `)` (write `$$` for a literal `$`)");
	expect_error("executable: prog\narguments: echo $(proces)\n",
		     "job.yaml:2:17: unknown macro `$(proces)` (did you mean `$(Process)`?)");
	expect_error("executable: prog\nenvironment: {A: $(Clustr)}\n",
		     "job.yaml:2:18: unknown macro `$(Clustr)` (did you mean `$(Cluster)`?)");
	expect_error("executable: prog\nrequirements: Name == \"n$(Proc)\"\n",
		     "job.yaml:2:25: unknown macro `$(Proc)` (did you mean `$(ProcId)`?)");
	expect_error(
	    "executable: prog\ntransfer_input_files: a, $(x)\n",
	    "job.yaml:2:26: unknown macro `$(x)` (the macros are $(Cluster) and $(Process); write `$$` for a "
	    "literal `$`)");
	expect_error("executable: prog.$(Process)\n", "job.yaml:1:18: `executable` cannot use `$(Process)`: "
						      "it is checked when the job is submitted, so "
						      "it must be the same for every proc");
	expect_error(
	    "executable: prog\ninitial_dir: run$(Cluster)\n",
	    "job.yaml:2:17: `initial_dir` cannot use `$(Cluster)`: it is checked when the job is submitted, "
	    "so it must be the same for every proc");
	/* $$ escapes and a lone $ are fine. */
	g_autoptr(KiteJobFile) jf = parse("executable: prog\noutput: a$$(Nope)$b\n");
	g_autoptr(KiteAd) ad = kite_jobfile_expand(jf->ad, 1, 0);
	assert_attr_string(ad, "Out", "@/a$(Nope)$b");
}

static void test_example_files(void **state)
{
	/* The examples that `make demo` submits must parse (tests run from
	 * the top of the tree). */
	static const char *const files[] = {"examples/job.yaml", "examples/sleep.yaml"};
	g_autofree char *top = g_get_current_dir();
	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *text = NULL;
		gsize len;
		if (!g_file_get_contents(files[i], &text, &len, NULL))
			fail_msg("cannot read %s (run the test from the top of the tree)", files[i]);
		g_autofree char *dir = g_build_filename(top, "examples", NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(KiteJobFile) jf = kite_jobfile_parse(files[i], text, len, dir, &error);
		if (!jf)
			fail_msg("%s", error->message);
		assert_true(jf->queue >= 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_arguments_string, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_arguments_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dollar_in_cwd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint_forms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_requirements_omission, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_custom_attributes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_items, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_getenv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_values_mean_unset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_display_name_and_cwd_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_yaml_syntax, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_yaml_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_structure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_long_value_shortened, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_arguments_environment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_checkpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_expressions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_macros, setup, teardown),
	    cmocka_unit_test(test_example_files),
	};
	return cmocka_run_group_tests_name("jobfile", tests, NULL, NULL);
}
