/* test-cgroup.c — jobs in cgroup v2 (startd/cgroup.c): finding the
 * cgroup v2 mount in mountinfo text; refusing a parent that is not a
 * cgroup or not below the mount; and, where this machine has a writable
 * cgroup v2 hierarchy (root, as in CI), a real job leaf: a process moved
 * in through the procs fd, with a grandchild in a session of its own,
 * allocating more than the leaf's memory limit — found over the limit
 * (by the kernel's OOM killer or by a sample), killed with everything
 * it started, and removed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-helpers.h"

#include "startd/cgroup.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-cgroup-XXXXXX")

static void test_find_mount(void **state)
{
	/* Hybrid (systemd's legacy layout, as on this build machine). */
	const char *hybrid = "25 1 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
			     "26 25 0:23 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
			     "27 26 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw\n"
			     "28 26 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
	g_autofree char *m1 = kite_cgroup_find_mount(hybrid);
	assert_string_equal(m1, "/sys/fs/cgroup/unified");
	/* Unified, with another cgroup2 mount listed first. */
	const char *two = "30 1 0:26 / /mnt/cg\\040two rw - cgroup2 none rw\n"
			  "31 25 0:27 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
	g_autofree char *m2 = kite_cgroup_find_mount(two);
	assert_string_equal(m2, "/sys/fs/cgroup");
	/* Escapes in the mount point are undone. */
	g_autofree char *m3 = kite_cgroup_find_mount("30 1 0:26 / /mnt/cg\\040two rw - cgroup2 none rw\n");
	assert_string_equal(m3, "/mnt/cg two");
	/* cgroup v1 only: none. */
	assert_null(kite_cgroup_find_mount("28 26 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n"));
	assert_null(kite_cgroup_find_mount(""));
}

static void test_open_refuses(void **state)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *notes = NULL;
	/* A plain directory is not a cgroup file system. */
	g_autoptr(KiteCgroups) cg = kite_cgroups_open(tmp_dir, "kite", "ws1", tmp_dir, &notes, &error);
	assert_null(cg);
	assert_non_null(error);
	assert_true(g_str_has_suffix(error->message, "is not a cgroup v2 directory (no cgroup.procs)"));
	g_autofree char *parent = tmp_path("kite");
	/* Nothing half made is left. */
	g_autoptr(GDir) d = g_dir_open(parent, 0, NULL);
	assert_non_null(d);
	assert_null(g_dir_read_name(d));
	g_clear_error(&error);
	cg = kite_cgroups_open(tmp_dir, "/elsewhere/kite", "ws1", tmp_dir, &notes, &error);
	assert_null(cg);
	g_autofree char *want =
	    g_strdup_printf("cgroup_parent /elsewhere/kite is not below the cgroup v2 mount %s", tmp_dir);
	assert_kite_error(error, KITE_ERROR_INVALID, want);
}

/* The real thing, where this machine allows it. */
static void test_job_leaf(void **state)
{
	g_autofree char *mountinfo = NULL;
	assert_true(g_file_get_contents("/proc/self/mountinfo", &mountinfo, NULL, NULL));
	g_autofree char *mount = kite_cgroup_find_mount(mountinfo);
	if (!mount || geteuid() != 0)
		skip(); /* no cgroup v2 hierarchy, or not root: nothing to write to */
	g_autofree char *parent = g_strdup_printf("kite-unit-%d", (int)getpid());
	g_autofree char *notes = NULL;
	g_autoptr(GError) error = NULL;
	KiteCgroups *cg = kite_cgroups_open(mount, parent, "ws1", tmp_dir, &notes, &error);
	if (!cg)
		skip(); /* not writable here (error->message says why) */
	assert_true(g_str_has_prefix(kite_cgroups_path(cg), mount));

	KiteJobCgroup *job = kite_job_cgroup_new(cg, "slot1", 8, 1, &error);
	assert_non_null(job);
	g_autofree char *leaf = g_strdup(kite_job_cgroup_path(job));
	if (kite_cgroups_has(cg, "memory")) {
		g_autofree char *max = g_build_filename(leaf, "memory.max", NULL);
		g_autofree char *text = NULL;
		assert_true(g_file_get_contents(max, &text, NULL, NULL));
		assert_string_equal(text, "8388608\n");
	}
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* Whatever happens to the test, these do not outlive it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (write(kite_job_cgroup_procs_fd(job), "0", 1) != 1)
			_exit(10);
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			setsid();
			pause();
			_exit(0);
		}
		gsize n = 32 << 20;
		volatile char *p = g_malloc(n);
		for (gsize i = 0; i < n; i += 4096)
			p[i] = 1;
		if (write(ready[1], "r", 1) != 1)
			_exit(11);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char c;
	ssize_t got = read(ready[0], &c, 1); /* 0: the kernel killed it first */
	close(ready[0]);
	if (got == 1) {
		/* Measured by samples: over 8 MiB with 32 touched. */
		assert_true(kite_job_cgroup_sample_memory(job));
		KiteJobUsage u;
		kite_job_cgroup_usage(job, &u);
		assert_true(u.memory_peak > (32u << 20));
		kite_job_cgroup_kill(job);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(kite_job_cgroup_exceeded_memory(job));
	/* Freeing waits for the grandchild too: the leaf goes only empty. */
	kite_job_cgroup_free(job);
	assert_false(g_file_test(leaf, G_FILE_TEST_EXISTS));
	g_autofree char *instance = g_strdup(kite_cgroups_path(cg));
	kite_cgroups_free(cg);
	assert_false(g_file_test(instance, G_FILE_TEST_EXISTS));
	g_autofree char *parent_path = g_build_filename(mount, parent, NULL);
	assert_int_equal(rmdir(parent_path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_mount),
	    cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_leaf, setup, teardown),
	};
	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
