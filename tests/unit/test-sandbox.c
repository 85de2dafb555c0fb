/* test-sandbox.c — running a job without privileges (startd/sandbox.c):
 * whom a job runs as (never root), a fresh sandbox directory, the job's
 * arguments, environment and standard files, its exit status, an exec
 * failure reported at once, no capabilities and no_new_privs inside the
 * job, bounded reads of its outputs, and removing the sandbox. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-helpers.h"

#include "ad.h"
#include "startd/sandbox.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-sandbox-XXXXXX")

static void test_job_user(void **state)
{
	KiteJobUser u = {0};
	kite_sandbox_job_user("root", &u);
	if (geteuid() == 0) {
		assert_true(u.change);
		assert_int_not_equal(u.uid, 0);
		assert_string_equal(u.name, "nobody");
	} else {
		assert_false(u.change);
		assert_int_equal(u.uid, geteuid());
	}
	kite_job_user_clear(&u);
	kite_sandbox_job_user("no-such-user-kite", &u);
	assert_int_not_equal(u.uid, geteuid() == 0 ? 0 : (uid_t)-1);
	if (geteuid() == 0)
		assert_string_equal(u.name, "nobody");
	kite_job_user_clear(&u);
}

/* Run @args (Arguments) with @env (Environment) through a copy of
 * /bin/sh in a new sandbox; returns the sandbox and writes the wait
 * status. */
static char *run_sh(const char *args, const char *env, int *out_status)
{
	/* The job user (nobody, when root) must reach the sandbox. */
	assert_int_equal(chmod(tmp_dir, 0755), 0);
	KiteJobUser u = {0};
	kite_sandbox_job_user("root", &u);
	g_autoptr(GError) error = NULL;
	g_autofree char *parent = tmp_path("execute");
	char *box = kite_sandbox_create(parent, &u, &error);
	assert_non_null(box);
	struct stat st;
	assert_int_equal(stat(box, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(st.st_uid, u.uid);

	g_autofree char *sh = NULL;
	gsize len;
	assert_true(g_file_get_contents("/bin/sh", &sh, &len, NULL));
	g_autofree char *exe = g_build_filename(box, "sh", NULL);
	assert_true(g_file_set_contents(exe, sh, len, NULL));
	assert_int_equal(chmod(exe, 0755), 0);

	g_autoptr(KiteAd) job = kite_ad_new();
	kite_ad_set_string(job, "Arguments", args);
	if (env)
		kite_ad_set_string(job, "Environment", env);
	kite_ad_set_int(job, "RequestMemory", 256);
	GPid pid;
	assert_true(kite_sandbox_spawn(box, "sh", job, &u, NULL, &pid, &error));
	assert_int_equal(waitpid(pid, out_status, 0), pid);
	kite_job_user_clear(&u);
	return box;
}

static char *read_out(const char *box, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) b = kite_sandbox_read(box, name, 4096, &error);
	assert_non_null(b);
	return g_strndup(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
}

static void test_run(void **state)
{
	int status;
	g_autofree char *box =
	    run_sh("-c 'echo \"$GREETING\" \"$1\"; echo oops >&2; pwd; exit 3' -- 'two words'",
		   "GREETING='hello there' EMPTY=", &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	g_autofree char *out = read_out(box, KITE_SANDBOX_STDOUT);
	g_autofree char *want = g_strdup_printf("hello there two words\n%s\n", box);
	assert_string_equal(out, want);
	g_autofree char *err = read_out(box, KITE_SANDBOX_STDERR);
	assert_string_equal(err, "oops\n");
	kite_sandbox_remove(box);
	assert_false(g_file_test(box, G_FILE_TEST_EXISTS));
}

static void test_no_privileges(void **state)
{
	int status;
	g_autofree char *box =
	    run_sh("-c 'grep -E \"^(CapEff|CapPrm|NoNewPrivs):\" /proc/self/status; id -u'", NULL, &status);
	assert_int_equal(WEXITSTATUS(status), 0);
	g_autofree char *out = read_out(box, KITE_SANDBOX_STDOUT);
	assert_non_null(strstr(out, "CapPrm:\t0000000000000000\n"));
	assert_non_null(strstr(out, "CapEff:\t0000000000000000\n"));
	assert_non_null(strstr(out, "NoNewPrivs:\t1\n"));
	if (geteuid() == 0)
		assert_null(strstr(out, "\n0\n"));
	kite_sandbox_remove(box);
}

static void test_exec_failure(void **state)
{
	assert_int_equal(chmod(tmp_dir, 0755), 0);
	KiteJobUser u = {0};
	kite_sandbox_job_user(NULL, &u);
	g_autoptr(GError) error = NULL;
	g_autofree char *parent = tmp_path("execute");
	g_autofree char *box = kite_sandbox_create(parent, &u, &error);
	assert_non_null(box);
	g_autoptr(KiteAd) job = kite_ad_new();
	GPid pid;
	assert_false(kite_sandbox_spawn(box, "missing", job, &u, NULL, &pid, &error));
	g_autofree char *want = g_strdup_printf("start missing as %s: No such file or directory", u.name);
	assert_string_equal(error->message, want);
	g_clear_error(&error);
	kite_ad_set_string(job, "Arguments", "'unbalanced");
	assert_false(kite_sandbox_spawn(box, "missing", job, &u, NULL, &pid, &error));
	assert_non_null(strstr(error->message, "the job's Arguments: "));
	kite_sandbox_remove(box);
	kite_job_user_clear(&u);
}

static void test_bounded_read(void **state)
{
	g_autofree char *big = tmp_path("big");
	g_autofree char *link = tmp_path("link");
	assert_true(g_file_set_contents(big, "0123456789", 10, NULL));
	assert_int_equal(symlink(big, link), 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) ok = kite_sandbox_read(tmp_dir, "big", 10, &error);
	assert_non_null(ok);
	assert_null(kite_sandbox_read(tmp_dir, "big", 9, &error));
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_LIMIT));
	g_clear_error(&error);
	/* A job cannot make the startd read a file outside its sandbox. */
	assert_null(kite_sandbox_read(tmp_dir, "link", 100, &error));
	assert_non_null(error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_job_user),
	    cmocka_unit_test_setup_teardown(test_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_privileges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounded_read, setup, teardown),
	};
	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
