/* test-exec-cache.c — executables the startd keeps by content
 * (startd/exec-cache.c): kept under the SHA-256 of their bytes, put into
 * a sandbox as a read-only hard link for a job of another user or as a
 * copy for one of the startd's own, an unknown hash refused with
 * NOT_FOUND, and the least recently used dropped past the limit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "test-helpers.h"

#include "startd/exec-cache.h"
#include "util.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-exec-cache-XXXXXX")

static const char program[] = "#!/bin/sh\necho cached\n";

static char *sha_of(const char *data, gsize len)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

static void test_add_and_place(void **state)
{
	g_autofree char *dir = tmp_path("cache");
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteExecCache) cache = kite_exec_cache_new(dir, &error);
	assert_non_null(cache);
	g_autofree char *sha = sha_of(program, strlen(program));
	assert_false(kite_exec_cache_has(cache, sha));
	kite_exec_cache_add(cache, (const guint8 *)program, strlen(program));
	assert_true(kite_exec_cache_has(cache, sha));
	assert_false(kite_exec_cache_has(cache, "ABC"));

	/* the same bytes under the same name in two sandboxes */
	KiteJobUser u = {0};
	kite_sandbox_job_user("root", &u);
	for (int k = 0; k < 2; k++) {
		g_autofree char *box = g_strdup_printf("%s/box%d", tmp_dir, k);
		assert_int_equal(mkdir(box, 0755), 0);
		assert_true(kite_exec_cache_place(cache, sha, box, "prog", &u, &error));
		g_autofree char *path = g_build_filename(box, "prog", NULL);
		g_autofree char *text = NULL;
		assert_true(g_file_get_contents(path, &text, NULL, NULL));
		assert_string_equal(text, program);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		if (u.change) {
			/* shared, and the job's user can run it but not change it */
			assert_int_equal(st.st_mode & 07777, 0555);
			assert_int_equal(st.st_uid, geteuid());
			assert_int_equal(st.st_nlink, 2 + k);
		} else {
			/* the job runs as we do: its own copy */
			assert_int_equal(st.st_nlink, 1);
			assert_int_equal(st.st_mode & 0777, 0755);
		}
	}
	kite_job_user_clear(&u);
}

static void test_unknown_hash(void **state)
{
	g_autofree char *dir = tmp_path("cache2");
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteExecCache) cache = kite_exec_cache_new(dir, &error);
	KiteJobUser u = {0};
	kite_sandbox_job_user(NULL, &u);
	g_autofree char *sha = sha_of("other", 5);
	assert_false(kite_exec_cache_place(cache, sha, tmp_dir, "prog", &u, &error));
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_NOT_FOUND));
	g_autofree char *want = g_strdup_printf("no executable with SHA-256 %s is cached here", sha);
	assert_string_equal(error->message, want);
	g_autofree char *path = g_build_filename(tmp_dir, "prog", NULL);
	assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	kite_job_user_clear(&u);
}

static void test_least_recently_used_goes(void **state)
{
	g_autofree char *dir = tmp_path("cache3");
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteExecCache) cache = kite_exec_cache_new(dir, &error);
	g_autofree char *first = sha_of("prog 0", 6);
	g_autofree char *second = sha_of("prog 1", 6);
	for (int i = 0; i < KITE_EXEC_CACHE_MAX; i++) {
		g_autofree char *text = g_strdup_printf("prog %d", i);
		kite_exec_cache_add(cache, (const guint8 *)text, strlen(text));
	}
	/* the first is used again, so the second is now the oldest */
	kite_exec_cache_add(cache, (const guint8 *)"prog 0", 6);
	kite_exec_cache_add(cache, (const guint8 *)"one more", 8);
	assert_true(kite_exec_cache_has(cache, first));
	assert_false(kite_exec_cache_has(cache, second));
	g_autofree char *gone = g_build_filename(dir, second, NULL);
	assert_false(g_file_test(gone, G_FILE_TEST_EXISTS));
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	int n = 0;
	while (g_dir_read_name(d))
		n++;
	assert_int_equal(n, KITE_EXEC_CACHE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_and_place),
	    cmocka_unit_test(test_unknown_hash),
	    cmocka_unit_test(test_least_recently_used_goes),
	};
	return cmocka_run_group_tests_name("exec-cache", tests, setup, teardown);
}
