/* test-glidein.c — the pieces of `pool glidein` that need no host: which
 * key types known_hosts records for a host (plain, bracketed, hashed
 * names) and the fingerprint format (common/ssh-session.c), parsing
 * USER@HOST[:PORT] and naming machines (submit/glidein-host.c), and the
 * local record of glided-in hosts (submit/glidein-record.c).  Joining and
 * stopping real hosts is tests/integration/test-glidein.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include <sys/stat.h>

#include "submit/glidein.h"
#include "ssh-session.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-glidein-XXXXXX")

/* ---- known_hosts ---- */

/* Hashed with salt 00 01 … 13 (base64 AAECAwQFBgcICQoLDA0ODxAREhM=). */
#define HASHED_LOCAL_2222 "|1|AAECAwQFBgcICQoLDA0ODxAREhM=|zKYaAqmSav3Qxr2sffNqWFIcbe4="
#define HASHED_WS2 "|1|AAECAwQFBgcICQoLDA0ODxAREhM=|VCijMvs/AAeD5MwGIRUCnqGcclI="

static const char known_hosts[] =
    "# a comment\n"
    "\n"
    "ws1,192.168.1.7 ecdsa-sha2-nistp256 AAAAE2VjZHNh\n"
    "WS1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n"
    "[ws1]:2222   ssh-rsa AAAAB3NzaC1yc2E comment words\n"
    "@cert-authority *.example.org ssh-ed25519 AAAAC3Nza\n"
    "@revoked ws1 ssh-dss AAAAB3NzaC1kc3M\n" HASHED_LOCAL_2222 " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n" HASHED_WS2
    " ecdsa-sha2-nistp384 AAAAE2VjZHNh\n"
    "ws1 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY\n"
    "broken-line-without-key\n";

static void assert_types(const char *host, guint16 port, const char *expected)
{
	g_auto(GStrv) types = kite_ssh_known_key_types(known_hosts, host, port);
	g_autofree char *joined = g_strjoinv(" ", types);
	assert_string_equal(joined, expected);
}

static void test_known_key_types(void **state)
{
	/* In file order, without repeats; names are case-insensitive. */
	assert_types("ws1", 22, "ecdsa-sha2-nistp256 ssh-ed25519");
	/* A port of its own: its [host]:port entries, then the plain ones
	 * (libssh2's matcher accepts both, so both are asked for). */
	assert_types("ws1", 2222, "ecdsa-sha2-nistp256 ssh-ed25519 ssh-rsa");
	assert_types("192.168.1.7", 22, "ecdsa-sha2-nistp256");
	/* Hashed names. */
	assert_types("127.0.0.1", 2222, "ssh-ed25519");
	assert_types("ws2", 22, "ecdsa-sha2-nistp384");
	assert_types("127.0.0.1", 22, "");
	/* Markers (@cert-authority, @revoked) are never a host's key. */
	assert_types("ca.example.org", 22, "");
	assert_types("nowhere", 22, "");
}

static void test_known_key_types_empty(void **state)
{
	g_auto(GStrv) types = kite_ssh_known_key_types("", "ws1", 22);
	assert_null(types[0]);
}

static void test_fingerprint(void **state)
{
	/* ssh-keygen -lf says SHA256:Mh0AEI/UvThUJNN0neFnxI7DLDWC/Zjc6zYkHcnoEW0 for this key. */
	const char *b64 = "AAAAC3NzaC1lZDI1NTE5AAAAIOkAZyA9fx71Q8REOQv2NB7EgsEzZL7xzUyL83jX0RcM";
	gsize len = 0;
	g_autofree guint8 *blob = g_base64_decode(b64, &len);
	g_autofree char *fp = kite_ssh_fingerprint(blob, len);
	assert_string_equal(fp, "SHA256:Mh0AEI/UvThUJNN0neFnxI7DLDWC/Zjc6zYkHcnoEW0");
}

/* ---- targets and names ---- */

static void assert_target(const char *arg, const char *user, const char *host, guint16 port)
{
	g_autoptr(GError) error = NULL;
	KiteGlideinTarget t = {0};
	assert_true(kite_glidein_parse_target(arg, "me", &t, &error));
	assert_string_equal(t.arg, arg);
	assert_string_equal(t.user, user);
	assert_string_equal(t.host, host);
	assert_int_equal(t.port, port);
	kite_glidein_target_clear(&t);
}

static void assert_bad_target(const char *arg)
{
	g_autoptr(GError) error = NULL;
	KiteGlideinTarget t = {0};
	assert_false(kite_glidein_parse_target(arg, "me", &t, &error));
	g_autofree char *msg = g_strdup_printf(
	    "\"%s\" is not USER@HOST[:PORT] (e.g. root@ws1, alice@192.168.1.7:2222, bob@[fe80::1]:22)", arg);
	assert_kite_error(error, KITE_ERROR_INVALID, msg);
	assert_null(t.arg);
}

static void test_parse_target(void **state)
{
	assert_target("root@ws1", "root", "ws1", 22);
	assert_target("alice@192.168.1.7:2222", "alice", "192.168.1.7", 2222);
	assert_target("ws1.example.org", "me", "ws1.example.org", 22);
	assert_target("bob@[fe80::1]:22", "bob", "fe80::1", 22);
	assert_target("bob@[::1]", "bob", "::1", 22);
	assert_target("svc_kite-1@h-2:65535", "svc_kite-1", "h-2", 65535);

	assert_bad_target("root@");
	assert_bad_target("@ws1");
	assert_bad_target("root@ws1:");
	assert_bad_target("root@ws1:0");
	assert_bad_target("root@ws1:65536");
	assert_bad_target("root@ws1:22x");
	assert_bad_target("root@ws 1");
	assert_bad_target("ro'ot@ws1");
	assert_bad_target("root@ws1;reboot");
	assert_bad_target("root@[::1");
	assert_bad_target("root@[::1]x");
	assert_bad_target("");
}

static void test_machine_name(void **state)
{
	g_autofree char *a = kite_glidein_machine_name("ws1.example.org");
	g_autofree char *b = kite_glidein_machine_name("fe80::1");
	assert_string_equal(a, "glidein-ws1.example.org");
	assert_string_equal(b, "glidein-fe80__1");
}

/* ---- the record ---- */

static void test_record_round_trip(void **state)
{
	g_autofree char *path = tmp_path("config/kite/glidein-hosts");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) none = kite_glidein_record_load(path, &error);
	assert_non_null(none);
	assert_int_equal(none->len, 0);

	kite_glidein_record_put(none, "/var/lib/kite/schedd.sock", "root@ws1", "glidein-ws1", "/root/.kite-glidein/a");
	kite_glidein_record_put(none, "/var/lib/kite/schedd.sock", "root@ws2:2222", "glidein-ws2", "/d2");
	kite_glidein_record_put(none, "central:9618", "root@ws1", "glidein-ws1", "/root/.kite-glidein/b");
	/* Putting again updates, never duplicates. */
	kite_glidein_record_put(none, "/var/lib/kite/schedd.sock", "root@ws1", "glidein-ws1", "/root/.kite-glidein/c");
	assert_int_equal(none->len, 3);
	assert_true(kite_glidein_record_save(path, none, &error));

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	g_autofree char *text = NULL;
	assert_true(g_file_get_contents(path, &text, NULL, NULL));
	assert_string_equal(text, "# Hosts glided in by `pool glidein` (POOL, HOST, MACHINE, DIRECTORY)\n"
				  "/var/lib/kite/schedd.sock\troot@ws1\tglidein-ws1\t/root/.kite-glidein/c\n"
				  "/var/lib/kite/schedd.sock\troot@ws2:2222\tglidein-ws2\t/d2\n"
				  "central:9618\troot@ws1\tglidein-ws1\t/root/.kite-glidein/b\n");

	g_autoptr(GPtrArray) back = kite_glidein_record_load(path, &error);
	assert_non_null(back);
	assert_int_equal(back->len, 3);
	KiteGlideinRecord *r = kite_glidein_record_find(back, "central:9618", "root@ws1");
	assert_non_null(r);
	assert_string_equal(r->remote_dir, "/root/.kite-glidein/b");
	kite_glidein_record_remove(back, "/var/lib/kite/schedd.sock", "root@ws1");
	kite_glidein_record_remove(back, "/var/lib/kite/schedd.sock", "root@nowhere");
	assert_int_equal(back->len, 2);
	assert_null(kite_glidein_record_find(back, "/var/lib/kite/schedd.sock", "root@ws1"));
	assert_non_null(kite_glidein_record_find(back, "central:9618", "root@ws1"));
}

static void test_record_malformed(void **state)
{
	g_autofree char *path = tmp_path("glidein-hosts");
	assert_true(g_file_set_contents(path, "# comment\npool\troot@ws1\tglidein-ws1\t/d\npool root@ws2\n", -1, NULL));
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) records = kite_glidein_record_load(path, &error);
	assert_null(records);
	g_autofree char *msg =
	    g_strdup_printf("%s:3: expected POOL, HOST, MACHINE and DIRECTORY separated by tabs", path);
	assert_kite_error(error, KITE_ERROR_INVALID, msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_key_types),
	    cmocka_unit_test(test_known_key_types_empty),
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_parse_target),
	    cmocka_unit_test(test_machine_name),
	    cmocka_unit_test_setup_teardown(test_record_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_malformed, setup, teardown),
	};
	return cmocka_run_group_tests_name("glidein", tests, NULL, NULL);
}
