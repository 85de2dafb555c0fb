/* test-activity.c — the startd's owner activity sources against fake
 * inputs (startd/activity*.c): the activity file, /proc/loadavg, utmp
 * with terminals and the /dev/pts fallback, input devices, logind (a
 * fake org.freedesktop.login1 on a private D-Bus), and how the
 * sources combine into KeyboardIdle and ConsoleIdle; also the machine's
 * Condor-style attributes (startd/machine.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include <fcntl.h>
#include <math.h>
#include <gio/gio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>
#include <utmp.h>

#include "startd/activity.h"
#include "config-keys.h"
#include "startd/machine.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-activity-XXXXXX")

/* Create @path with access and modification time @when. */
static void touch_at(const char *path, gint64 when)
{
	assert_true(g_file_set_contents(path, "", 0, NULL));
	struct utimbuf t = {.actime = when, .modtime = when};
	assert_int_equal(utime(path, &t), 0);
}

static gboolean poll_source(KiteActivitySource *src, gint64 now, gint64 *out_last, GError **error)
{
	return src->ops->poll(src, now, out_last, error);
}

static void test_file(void **state)
{
	g_autofree char *path = tmp_path("activity");
	gint64 now = kite_now_wall();
	touch_at(path, now - 100);
	g_autoptr(KiteActivitySource) src = kite_activity_file_new(path);
	assert_true(src->ops->console);
	gint64 last = 0;
	g_autoptr(GError) error = NULL;
	assert_true(poll_source(src, now, &last, &error));
	assert_int_equal(last, now - 100);
	/* A time in the future is "now", not negative idleness. */
	touch_at(path, now + 1000);
	assert_true(poll_source(src, now, &last, &error));
	assert_int_equal(last, now);
	unlink(path);
	assert_false(poll_source(src, now, &last, &error));
	g_autofree char *expected = g_strdup_printf("stat %s: No such file or directory", path);
	assert_kite_error(error, KITE_ERROR_IO, expected);
}

static void test_load(void **state)
{
	g_autofree char *path = tmp_path("loadavg");
	double load = -1;
	g_autoptr(GError) error = NULL;
	assert_true(g_file_set_contents(path, "0.78 0.87 1.01 3/95 28634\n", -1, NULL));
	assert_true(kite_activity_load_read(path, &load, &error));
	assert_true(load == 0.78);
	assert_true(g_file_set_contents(path, "12.50 1 1 1/1 1", -1, NULL));
	assert_true(kite_activity_load_read(path, &load, &error));
	assert_true(load == 12.5);

	const char *bad[] = {"", "load 1 2", "-1 0 0", "0.5x 1 1", "nan 1 1"};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_error(&error);
		assert_true(g_file_set_contents(path, bad[i], -1, NULL));
		load = 7;
		assert_false(kite_activity_load_read(path, &load, &error));
		assert_true(load == 7);
		assert_non_null(strstr(error->message, "no load average"));
	}
	g_clear_error(&error);
	g_autofree char *missing = tmp_path("nope");
	assert_false(kite_activity_load_read(missing, &load, &error));

	/* NonJobLoadAvg: the load less the jobs', never negative. */
	assert_true(kite_activity_nonjob_load(1.5, 1.0) == 0.5);
	assert_true(kite_activity_nonjob_load(0.9, 1.0) == 0.0);
	assert_true(kite_activity_nonjob_load(0.4, 0) == 0.4);
}

static void write_utmp(const char *path, const char *const *lines, const short *types, gsize n)
{
	g_autofree struct utmp *u = g_new0(struct utmp, n);
	for (gsize i = 0; i < n; i++) {
		u[i].ut_type = types[i];
		g_strlcpy(u[i].ut_line, lines[i], sizeof u[i].ut_line);
		g_strlcpy(u[i].ut_user, "alice", sizeof u[i].ut_user);
	}
	assert_true(g_file_set_contents(path, (const char *)u, n * sizeof *u, NULL));
}

static void test_tty_utmp(void **state)
{
	gint64 now = kite_now_wall();
	g_autofree char *dev = tmp_path("dev");
	g_autofree char *pts = tmp_path("dev/pts");
	assert_int_equal(g_mkdir_with_parents(pts, 0755), 0);
	g_autofree char *tty1 = tmp_path("dev/tty1");
	g_autofree char *pts3 = tmp_path("dev/pts/3");
	g_autofree char *pts4 = tmp_path("dev/pts/4");
	touch_at(tty1, now - 500);
	touch_at(pts3, now - 60);
	touch_at(pts4, now - 5); /* nobody is logged in there: utmp wins */
	g_autofree char *utmp = tmp_path("utmp");
	write_utmp(utmp, (const char *const[]){"tty1", "pts/3", "pts/9", "~"},
		   (const short[]){USER_PROCESS, USER_PROCESS, DEAD_PROCESS, BOOT_TIME}, 4);
	g_autoptr(KiteActivitySource) src = kite_activity_tty_new(utmp, dev);
	assert_false(src->ops->console);
	gint64 last = 0;
	g_autoptr(GError) error = NULL;
	assert_true(poll_source(src, now, &last, &error));
	assert_int_equal(last, now - 60);

	/* A login line that tries to leave the device directory is ignored. */
	write_utmp(utmp, (const char *const[]){"../utmp"}, (const short[]){USER_PROCESS}, 1);
	assert_true(poll_source(src, now, &last, &error));
	assert_int_equal(last, -1);
}

static void test_tty_fallback(void **state)
{
	gint64 now = kite_now_wall();
	g_autofree char *dev = tmp_path("dev");
	g_autofree char *pts = tmp_path("dev/pts");
	g_autofree char *utmp = tmp_path("utmp"); /* missing */
	g_autoptr(KiteActivitySource) src = kite_activity_tty_new(utmp, dev);
	gint64 last = 0;
	g_autoptr(GError) error = NULL;

	/* Nothing at all, as on this build machine: one clear message. */
	assert_false(poll_source(src, now, &last, &error));
	assert_non_null(strstr(error->message, "no logins in "));
	g_autofree char *no_pts = g_strdup_printf("no terminals in %s", pts);
	assert_non_null(strstr(error->message, no_pts));
	g_clear_error(&error);

	/* No utmp, but terminals: the most recently used one counts
	 * (ptmx is not a terminal of anyone's). */
	assert_int_equal(g_mkdir_with_parents(pts, 0755), 0);
	g_autofree char *p0 = tmp_path("dev/pts/0");
	g_autofree char *p1 = tmp_path("dev/pts/1");
	g_autofree char *ptmx = tmp_path("dev/pts/ptmx");
	touch_at(p0, now - 30);
	touch_at(p1, now - 300);
	touch_at(ptmx, now);
	assert_true(poll_source(src, now, &last, &error));
	assert_int_equal(last, now - 30);

	/* A utmp with no logins falls back too. */
	write_utmp(utmp, (const char *const[]){"pts/1"}, (const short[]){DEAD_PROCESS}, 1);
	assert_true(poll_source(src, now, &last, &error));
	assert_int_equal(last, now - 30);
}

static void test_input(void **state)
{
	g_autofree char *dir = tmp_path("input");
	g_autoptr(KiteActivitySource) src = kite_activity_input_new(dir);
	gint64 now = kite_now_wall(), last = 0;
	g_autoptr(GError) error = NULL;
	assert_false(poll_source(src, now, &last, &error));
	assert_non_null(strstr(error->message, "input"));
	g_clear_error(&error);

	/* A FIFO stands in for /dev/input/event0: opened and watched, and
	 * whatever arrives on it is an event. */
	assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
	g_autofree char *ev = tmp_path("input/event0");
	assert_int_equal(mkfifo(ev, 0600), 0);
	g_autofree char *other = tmp_path("input/mouse0");
	assert_true(g_file_set_contents(other, "", -1, NULL));
	now += 60; /* past the rescan interval */
	assert_true(poll_source(src, now, &last, &error));
	assert_int_equal(last, -1); /* nothing read yet */
	int w = open(ev, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(w >= 0);
	assert_int_equal(write(w, "24 bytes of input event.", 24), 24);
	while (g_main_context_iteration(NULL, FALSE))
		;
	assert_true(poll_source(src, now, &last, &error));
	assert_true(last >= now - 60);
	close(w);
}

/* ---- logind, against a fake org.freedesktop.login1 on a private bus ---- */

static gboolean fake_idle;
static guint64 fake_since_us;

static GVariant *fake_get_property(GDBusConnection *c, const char *sender, const char *path,
				   const char *iface, const char *prop, GError **error, gpointer data)
{
	if (g_str_equal(prop, "IdleHint"))
		return g_variant_new_boolean(fake_idle);
	return g_variant_new_uint64(fake_since_us);
}

/* Poll @src, running the main loop, until it reports something other
 * than "nothing yet" or fails; at most 5 s. */
static gboolean poll_settled(KiteActivitySource *src, gint64 *out_last, GError **error)
{
	for (int i = 0; i < 500; i++) {
		g_clear_error(error);
		gboolean ok = poll_source(src, kite_now_wall(), out_last, error);
		if (!ok || *out_last != -1)
			return ok;
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(10000);
	}
	return TRUE;
}

static void test_logind(void **state)
{
	g_autofree char *daemon = g_find_program_in_path("dbus-daemon");
	if (!daemon) {
		print_message("dbus-daemon is not installed: skipping the logind source test\n");
		skip();
	}
	gint64 last = 0;
	g_autoptr(GError) error = NULL;

	/* No system bus, as on this build machine. */
	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/kite-test-bus", TRUE);
	g_autoptr(KiteActivitySource) nobus = kite_activity_logind_new();
	assert_false(poll_source(nobus, kite_now_wall(), &last, &error));
	assert_true(g_str_has_prefix(error->message, "no system D-Bus ("));
	g_clear_error(&error);

	g_autoptr(GTestDBus) bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_test_dbus_up(bus);
	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address(bus), TRUE);

	/* A bus, but no logind on it. */
	{
		g_autoptr(KiteActivitySource) src = kite_activity_logind_new();
		assert_false(poll_settled(src, &last, &error));
		assert_true(g_str_has_prefix(error->message, "logind: "));
		g_clear_error(&error);
	}

	/* A logind that says every session has been idle for 300 s. */
	g_autoptr(GDBusConnection) service = g_dbus_connection_new_for_address_sync(
	    g_test_dbus_get_bus_address(bus),
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL, NULL, &error);
	assert_non_null(service);
	g_autoptr(GDBusNodeInfo) node =
	    g_dbus_node_info_new_for_xml("<node><interface name='org.freedesktop.login1.Manager'>"
					 "<property name='IdleHint' type='b' access='read'/>"
					 "<property name='IdleSinceHint' type='t' access='read'/>"
					 "</interface></node>",
					 &error);
	assert_non_null(node);
	static const GDBusInterfaceVTable vtable = {.get_property = fake_get_property};
	guint reg = g_dbus_connection_register_object(service, "/org/freedesktop/login1", node->interfaces[0],
						      &vtable, NULL, NULL, &error);
	assert_true(reg > 0);
	g_autoptr(GVariant) owned = g_dbus_connection_call_sync(
	    service, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
	    g_variant_new("(su)", "org.freedesktop.login1", 0u), G_VARIANT_TYPE("(u)"),
	    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
	assert_non_null(owned);

	gint64 now = kite_now_wall();
	fake_idle = TRUE;
	fake_since_us = (guint64)(now - 300) * G_USEC_PER_SEC + 123456;
	g_autoptr(KiteActivitySource) src = kite_activity_logind_new();
	assert_true(src->ops->console);
	assert_true(poll_settled(src, &last, &error));
	assert_int_equal(last, now - 300);

	/* Someone is active: now. */
	fake_idle = FALSE;
	for (int i = 0; i < 500 && last == now - 300; i++) {
		assert_true(poll_source(src, kite_now_wall(), &last, &error));
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(10000);
	}
	assert_true(last >= now);

	g_dbus_connection_unregister_object(service, reg);
	g_clear_object(&service);
	g_clear_pointer(&src, kite_activity_source_free); /* with a call in flight */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_test_dbus_down(bus);
	g_unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

/* Write a fake PROC/PID/stat: process @pid named @comm in @session with
 * @utime and @stime ticks (the other fields as the kernel prints them). */
static void write_stat(const char *proc, int pid, const char *comm, int session, guint64 utime, guint64 stime)
{
	g_autofree char *dir = g_strdup_printf("%s/%d", proc, pid);
	assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
	g_autofree char *path = g_strdup_printf("%s/stat", dir);
	g_autofree char *text = g_strdup_printf("%d (%s) R 1 %d %d 0 -1 4194560 100 0 0 0 %" G_GUINT64_FORMAT
						" %" G_GUINT64_FORMAT " 0 0 20 0 1 0 12345 1000000 100 "
						"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
						pid, comm, session, session, utime, stime);
	assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void test_job_load(void **state)
{
	g_autofree char *proc = tmp_path("proc");
	/* Job 100 leads its session and has a child, whose name has spaces
	 * and a parenthesis; 200 is the owner's own process. */
	write_stat(proc, 100, "sh", 100, 0, 0);
	write_stat(proc, 101, "my (odd) job", 100, 0, 0);
	write_stat(proc, 200, "make", 200, 0, 0);
	g_autofree char *junk_dir = g_strdup_printf("%s/300", proc);
	assert_int_equal(g_mkdir_with_parents(junk_dir, 0755), 0);
	g_autofree char *junk = g_strdup_printf("%s/stat", junk_dir);
	assert_true(g_file_set_contents(junk, "garbage without fields", -1, NULL));

	gint64 session;
	guint64 ticks;
	assert_true(kite_job_load_parse_stat("101 (my (odd) job) S 100 100 100 0 -1 0 0 0 0 0 7 5 0 0", &session,
					     &ticks));
	assert_int_equal(session, 100);
	assert_int_equal(ticks, 12);
	assert_false(kite_job_load_parse_stat("garbage", &session, &ticks));

	g_autoptr(KiteJobLoad) jl = kite_job_load_new(proc, 100);
	GPid jobs[] = {100};
	/* The first sample records. */
	assert_true(kite_job_load_sample(jl, jobs, 1, 0) == 0);
	/* For 60 one-second samples the job's two processes use a whole CPU
	 * between them (50 + 50 ticks a second at 100 Hz) while the owner's
	 * make uses another: only the job's counts, averaged like the 1-minute
	 * load average — 1 - e^-1 of the way after a minute. */
	double load = 0;
	for (int t = 1; t <= 60; t++) {
		write_stat(proc, 100, "sh", 100, 30 * t, 20 * t);
		write_stat(proc, 101, "my (odd) job", 100, 50 * t, 0);
		write_stat(proc, 200, "make", 200, 100 * t, 0);
		load = kite_job_load_sample(jl, jobs, 1, t);
	}
	assert_true(fabs(load - (1 - exp(-1))) < 1e-9);
	/* NonJobLoadAvg is the load average less that. */
	g_autofree char *loadavg = tmp_path("loadavg");
	assert_true(g_file_set_contents(loadavg, "2.00 1 1 1/1 1\n", -1, NULL));
	g_autofree char *uptime = tmp_path("uptime");
	assert_true(g_file_set_contents(uptime, "100 100\n", -1, NULL));
	g_autoptr(KiteActivity) a = kite_activity_new_from(NULL, 0, loadavg, uptime);
	KiteActivitySample s;
	kite_activity_sample(a, 1000, load, &s);
	assert_true(fabs(s.nonjob_load_avg - (2.0 - load)) < 1e-9);

	/* The job ends (its processes are gone): the average decays. */
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s/100' '%s/101'", proc, proc);
	assert_int_equal(system(cmd), 0);
	double after = kite_job_load_sample(jl, NULL, 0, 61);
	assert_true(fabs(after - load * exp(-1.0 / 60)) < 1e-9);
	/* A process of the job that starts between samples counts in full. */
	write_stat(proc, 150, "late", 150, 100, 0);
	GPid late[] = {150};
	double with_late = kite_job_load_sample(jl, late, 1, 62);
	double decay = exp(-1.0 / 60);
	assert_true(fabs(with_late - (after * decay + 1.0 * (1 - decay))) < 1e-9);
}

static void test_combined(void **state)
{
	gint64 now = kite_now_wall();
	g_autofree char *file = tmp_path("activity");
	touch_at(file, now - 40);
	g_autofree char *dev = tmp_path("dev");
	g_autofree char *pts = tmp_path("dev/pts");
	assert_int_equal(g_mkdir_with_parents(pts, 0755), 0);
	g_autofree char *p0 = tmp_path("dev/pts/0");
	touch_at(p0, now - 10);
	g_autofree char *loadavg = tmp_path("loadavg");
	assert_true(g_file_set_contents(loadavg, "1.25 1 1 1/1 1\n", -1, NULL));
	g_autofree char *uptime = tmp_path("uptime");
	assert_true(g_file_set_contents(uptime, "7200.5 100.0\n", -1, NULL));
	g_autofree char *utmp = tmp_path("utmp");
	g_autofree char *input = tmp_path("input");

	KiteActivitySource *srcs[] = {kite_activity_file_new(file), kite_activity_tty_new(utmp, dev),
				      kite_activity_input_new(input)};
	g_autoptr(KiteActivity) a = kite_activity_new_from(srcs, G_N_ELEMENTS(srcs), loadavg, uptime);
	KiteActivitySample s;
	kite_activity_sample(a, now, 1.0, &s);
	assert_int_equal(s.keyboard_idle, 10); /* the terminal was used last */
	assert_int_equal(s.console_idle, 40);  /* terminals are not the console */
	assert_true(s.have_load);
	assert_true(s.load_avg == 1.25);
	assert_true(s.nonjob_load_avg == 0.25);
	/* The input source found nothing and said so once. */
	assert_non_null(srcs[2]->failure);
	assert_null(srcs[0]->failure);

	/* Nobody anywhere: idle since boot. */
	unlink(file);
	unlink(p0);
	kite_activity_sample(a, now, 0, &s);
	assert_int_equal(s.keyboard_idle, 7200);
	assert_int_equal(s.console_idle, -1);
	assert_non_null(srcs[0]->failure);
	/* Back: the failure is forgotten. */
	touch_at(file, now - 3);
	kite_activity_sample(a, now, 0, &s);
	assert_int_equal(s.keyboard_idle, 3);
	assert_null(srcs[0]->failure);
}

static void test_from_config(void **state)
{
	const char *yaml = "activity_sources: [tty, lod]\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConfig) cfg =
	    kite_config_load_data("startd.yaml", yaml, strlen(yaml), kite_startd_config_keys, &error);
	assert_non_null(cfg);
	g_autoptr(KiteActivity) a = kite_activity_new(cfg, &error);
	assert_null(a);
	assert_kite_error(
	    error, KITE_ERROR_INVALID,
	    "unknown activity source `lod` (did you mean `load`?) (known: tty, input, logind, load, "
	    "file)");
	g_clear_error(&error);
	const char *yaml2 = "activity_sources: [file]\n";
	g_autoptr(KiteConfig) cfg2 =
	    kite_config_load_data("startd.yaml", yaml2, strlen(yaml2), kite_startd_config_keys, &error);
	assert_null(kite_activity_new(cfg2, &error));
	assert_kite_error(error, KITE_ERROR_INVALID,
			  "activity source `file` needs `activity_file` (the file to watch)");
}

static void test_machine(void **state)
{
	const char *arch[][2] = {
	    {"x86_64", "X86_64"}, {"i686", "INTEL"}, {"aarch64", "AARCH64"}, {"riscv64", "RISCV64"}};
	for (gsize i = 0; i < G_N_ELEMENTS(arch); i++) {
		g_autofree char *a = kite_machine_arch(arch[i][0]);
		assert_string_equal(a, arch[i][1]);
	}
	KiteMachineOptions opt = {
	    .name = "ws7", .cpus = 6, .memory_mib = 2048, .site = "lab", .benchmark = TRUE};
	double t0 = kite_now_monotonic();
	g_autoptr(KiteAd) ad = kite_machine_probe(&opt);
	assert_true(kite_now_monotonic() - t0 < 2.0); /* "a short benchmark" */
	g_autofree char *s = NULL;
	assert_true(kite_ad_get_string(ad, "OpSys", &s));
	assert_string_equal(s, "LINUX");
	g_clear_pointer(&s, g_free);
	assert_true(kite_ad_get_string(ad, "Site", &s));
	assert_string_equal(s, "lab");
	assert_null(kite_ad_lookup(ad, "Subnet"));
	g_clear_pointer(&s, g_free);
	assert_true(kite_ad_get_string(ad, "LibcVersion", &s));
	assert_true(g_ascii_isdigit(s[0]));
	gint64 v;
	assert_true(kite_ad_get_int(ad, "TotalCpus", &v));
	assert_int_equal(v, 6);
	assert_true(kite_ad_get_int(ad, "TotalMemory", &v));
	assert_int_equal(v, 2048);
	assert_true(kite_ad_get_int(ad, "KFlops", &v));
	assert_true(v > 1000);
	assert_true(kite_ad_get_int(ad, "Mips", &v));
	assert_true(v > 10);
	gint64 disk = -1;
	g_autoptr(GError) error = NULL;
	assert_true(kite_machine_disk_kib(tmp_dir, &disk, &error));
	assert_true(disk > 0);
	assert_false(kite_machine_disk_kib("/nonexistent/dir", &disk, &error));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tty_utmp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tty_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_input, setup, teardown),
	    cmocka_unit_test(test_logind),
	    cmocka_unit_test_setup_teardown(test_combined, setup, teardown),
	    cmocka_unit_test(test_from_config),
	    cmocka_unit_test_setup_teardown(test_machine, setup, teardown),
	};
	return cmocka_run_group_tests_name("activity", tests, NULL, NULL);
}
