/* test-auth.c — the pool key file, the daemon challenge–response, user
 * tokens and peer credentials (common/auth.c), with the messages a user
 * or an administrator sees when something is wrong.
 *
 * Each test runs in a fresh temporary directory; "@" in an expected
 * message stands for the path of the key file under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "util.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-auth-XXXXXX")

static void write_key_file(const char *path, const char *text, int mode)
{
	assert_true(g_file_set_contents(path, text, -1, NULL));
	assert_int_equal(chmod(path, mode), 0);
}

/* @text with every "@" replaced by @path. */
static char *at_path(const char *text, const char *path)
{
	g_auto(GStrv) parts = g_strsplit(text, "@", -1);
	return g_strjoinv(path, parts);
}

static void assert_key_refused(const char *path, gboolean create, KiteErrorCode code, const char *message)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) key = kite_auth_load_key(path, create, &error);
	assert_null(key);
	g_autofree char *want = at_path(message, path);
	assert_kite_error(error, code, want);
}

static GBytes *fixed_key(guint8 fill)
{
	guint8 k[KITE_AUTH_KEY_BYTES];
	for (gsize i = 0; i < sizeof k; i++)
		k[i] = (guint8)(fill + i * 7);
	return g_bytes_new(k, sizeof k);
}

static guint count_dir_entries(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	assert_non_null(d);
	guint n = 0;
	while (g_dir_read_name(d))
		n++;
	return n;
}

/* ---- the key file ------------------------------------------------------- */

static void test_key_create(void **state)
{
	g_autofree char *path = tmp_path("pool.key");
	/* Even with a permissive umask the key is private. */
	mode_t old = umask(0);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) key = kite_auth_load_key(path, TRUE, &error);
	umask(old);
	assert_null(error);
	assert_non_null(key);
	assert_int_equal(g_bytes_get_size(key), KITE_AUTH_KEY_BYTES);

	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	/* Written atomically: nothing else left in the directory. */
	assert_int_equal(count_dir_entries(tmp_dir), 1);

	g_autofree char *text = NULL;
	gsize len;
	assert_true(g_file_get_contents(path, &text, &len, NULL));
	assert_int_equal(len, 2 * KITE_AUTH_KEY_BYTES + 1);
	assert_int_equal(text[len - 1], '\n');
	const guint8 *k = g_bytes_get_data(key, NULL);
	for (gsize i = 0; i < KITE_AUTH_KEY_BYTES; i++) {
		char want[3];
		g_snprintf(want, sizeof want, "%02x", k[i]);
		assert_memory_equal(text + 2 * i, want, 2);
	}

	/* Loading it again, with or without create, gives the same key. */
	g_autoptr(GBytes) again = kite_auth_load_key(path, FALSE, &error);
	assert_non_null(again);
	assert_true(g_bytes_equal(key, again));
	g_autoptr(GBytes) again2 = kite_auth_load_key(path, TRUE, &error);
	assert_non_null(again2);
	assert_true(g_bytes_equal(key, again2));
	g_autofree char *text2 = NULL;
	assert_true(g_file_get_contents(path, &text2, NULL, NULL));
	assert_string_equal(text, text2);

	/* Another new key is different (it is random). */
	g_autofree char *path2 = tmp_path("other.key");
	g_autoptr(GBytes) other = kite_auth_load_key(path2, TRUE, &error);
	assert_non_null(other);
	assert_false(g_bytes_equal(key, other));
}

static void test_key_load(void **state)
{
	g_autofree char *path = tmp_path("pool.key");
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	const char *forms[] = {
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n",
	    "  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \n\n",
	    "\t000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
	};
	assert_int_equal(strlen(hex), 64);
	for (gsize f = 0; f < G_N_ELEMENTS(forms); f++) {
		const int modes[] = {0600, 0400, 0700};
		for (gsize m = 0; m < G_N_ELEMENTS(modes); m++) {
			write_key_file(path, forms[f], modes[m]);
			g_autoptr(GError) error = NULL;
			g_autoptr(GBytes) key = kite_auth_load_key(path, FALSE, &error);
			if (!key)
				fail_msg("form %zu mode %o: %s", f, modes[m], error->message);
			gsize len;
			const guint8 *k = g_bytes_get_data(key, &len);
			assert_int_equal(len, 32);
			for (gsize i = 0; i < len; i++)
				assert_int_equal(k[i], i);
			assert_int_equal(chmod(path, 0600), 0);
		}
	}
}

static void test_key_permissions(void **state)
{
	g_autofree char *path = tmp_path("pool.key");
	const char *text = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	const int modes[] = {0640, 0604, 0644, 0666, 0620, 0602, 0610, 0601, 0660, 0777, 0440, 0404};
	for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
		write_key_file(path, text, modes[i]);
		g_autofree char *want = g_strdup_printf(
		    "pool key @ has mode %04o: others could read it; run `chmod 600 @`", modes[i]);
		assert_key_refused(path, FALSE, KITE_ERROR_AUTH, want);
		/* create does not replace a key it refuses. */
		assert_key_refused(path, TRUE, KITE_ERROR_AUTH, want);
		g_autofree char *after = NULL;
		assert_true(g_file_get_contents(path, &after, NULL, NULL));
		assert_string_equal(after, text);
		assert_int_equal(chmod(path, 0600), 0);
	}
	/* Permissions are checked before the contents. */
	write_key_file(path, "not a key", 0644);
	assert_key_refused(path, FALSE, KITE_ERROR_AUTH,
			   "pool key @ has mode 0644: others could read it; run `chmod 600 @`");
}

static void test_key_malformed(void **state)
{
	g_autofree char *path = tmp_path("pool.key");
	g_autofree char *d63 = g_strnfill(63, 'a');
	g_autofree char *d65 = g_strnfill(65, 'a');
	g_autofree char *d128 = g_strnfill(128, 'b');
	g_autofree char *d300 = g_strnfill(300, 'c');
	g_autofree char *two_lines = g_strdup_printf("%s\n%s\n", d63, d63);
	const char *texts[] = {
	    "",
	    "\n",
	    "abc\n",
	    d63,
	    d65,
	    d128,
	    d300,
	    two_lines,
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n", /* g */
	    "0001020304050607 8090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", /* space */
	    "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\xc3\xa9\n",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
		write_key_file(path, texts[i], 0600);
		assert_key_refused(path, FALSE, KITE_ERROR_AUTH, "pool key @ is not 64 hex digits");
		assert_key_refused(path, TRUE, KITE_ERROR_AUTH, "pool key @ is not 64 hex digits");
	}
	/* A key with a NUL in it. */
	static const char nul[65] = "00010203040506070809\0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	assert_true(g_file_set_contents(path, nul, 64, NULL));
	assert_int_equal(chmod(path, 0600), 0);
	assert_key_refused(path, FALSE, KITE_ERROR_AUTH, "pool key @ is not 64 hex digits");
}

static void test_key_missing(void **state)
{
	g_autofree char *path = tmp_path("absent.key");
	assert_key_refused(path, FALSE, KITE_ERROR_IO, "open pool key @: No such file or directory");
	/* Nothing was created. */
	assert_int_equal(count_dir_entries(tmp_dir), 0);

	/* create cannot make a missing directory. */
	g_autofree char *deep = tmp_path("no/such/dir/pool.key");
	g_autoptr(GError) error = NULL;
	assert_null(kite_auth_load_key(deep, TRUE, &error));
	assert_int_equal(error->code, KITE_ERROR_IO);
	g_autofree char *prefix = g_strdup_printf("open %s.tmp.", deep);
	assert_true(g_str_has_prefix(error->message, prefix));
	assert_true(g_str_has_suffix(error->message, ": No such file or directory"));

	/* A symbolic link is not followed, even to a good key. */
	g_autofree char *real = tmp_path("real.key");
	write_key_file(real, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	g_autofree char *link = tmp_path("link.key");
	assert_int_equal(symlink(real, link), 0);
	assert_key_refused(link, FALSE, KITE_ERROR_IO, "open pool key @: Too many levels of symbolic links");
	assert_key_refused(link, TRUE, KITE_ERROR_IO, "open pool key @: Too many levels of symbolic links");

	/* A directory in its place. */
	g_autofree char *dir = tmp_path("dir.key");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_key_refused(dir, FALSE, KITE_ERROR_IO, "read pool key @: Is a directory");
}

/* ---- random bytes, comparison --------------------------------------------- */

static void test_random(void **state)
{
	guint8 a[64] = {0}, b[64] = {0};
	assert_true(kite_auth_random(a, sizeof a, NULL));
	assert_true(kite_auth_random(b, sizeof b, NULL));
	assert_memory_not_equal(a, b, sizeof a);
	guint8 zero[64] = {0};
	assert_memory_not_equal(a, zero, sizeof a);
	assert_true(kite_auth_random(a, 0, NULL));
	/* Larger than one getrandom() call may return. */
	gsize big_len = 1 << 20;
	g_autofree guint8 *big = g_malloc0(big_len);
	assert_true(kite_auth_random(big, big_len, NULL));
	gsize zeros = 0;
	for (gsize i = big_len - 4096; i < big_len; i++)
		zeros += big[i] == 0;
	assert_true(zeros < 100); /* about 16 expected */
}

static void test_equal(void **state)
{
	guint8 a[32], b[32];
	for (int i = 0; i < 32; i++)
		a[i] = b[i] = (guint8)(i * 37 + 1);
	assert_true(kite_auth_equal(a, b, 32));
	assert_true(kite_auth_equal(a, b, 0));
	for (int i = 0; i < 32; i++)
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= 1u << bit;
			assert_false(kite_auth_equal(a, b, 32));
			assert_true(kite_auth_equal(a, b, i)); /* the prefix before it */
			b[i] ^= 1u << bit;
		}
	assert_true(kite_auth_equal(a, b, 32));
}

/* ---- daemons ---------------------------------------------------------------- */

/* The proof as documented: HMAC-SHA256 with the pool key over the
 * context "kite-daemon-v1" (with its NUL), the nonce and the name, each
 * preceded by its length as 8 big-endian bytes. */
static GBytes *reference_proof(GBytes *key, GBytes *nonce, const char *name)
{
	gsize klen;
	const guint8 *k = g_bytes_get_data(key, &klen);
	g_autoptr(GHmac) h = g_hmac_new(G_CHECKSUM_SHA256, k, klen);
	const char ctx[] = "kite-daemon-v1";
	gsize nlen;
	const guint8 *n = g_bytes_get_data(nonce, &nlen);
	const void *ps[] = {ctx, n, name};
	gsize ls[] = {sizeof ctx, nlen, strlen(name)};
	for (int i = 0; i < 3; i++) {
		guint8 lb[8];
		for (int j = 0; j < 8; j++)
			lb[j] = (guint8)((guint64)ls[i] >> (56 - 8 * j));
		g_hmac_update(h, lb, 8);
		g_hmac_update(h, ps[i], ls[i]);
	}
	guint8 out[32];
	gsize outlen = sizeof out;
	g_hmac_get_digest(h, out, &outlen);
	assert_int_equal(outlen, 32);
	return g_bytes_new(out, sizeof out);
}

static void test_daemon_proof(void **state)
{
	g_autoptr(GBytes) key = fixed_key(1);
	g_autoptr(GBytes) other_key = fixed_key(2);
	guint8 nb[KITE_AUTH_NONCE_BYTES];
	assert_true(kite_auth_random(nb, sizeof nb, NULL));
	g_autoptr(GBytes) nonce = g_bytes_new(nb, sizeof nb);
	nb[17] ^= 0x01;
	g_autoptr(GBytes) other_nonce = g_bytes_new(nb, sizeof nb);
	nb[17] ^= 0x01;

	g_autoptr(GBytes) proof = kite_auth_daemon_proof(key, nonce, "startd@node1");
	assert_int_equal(g_bytes_get_size(proof), 32);
	g_autoptr(GBytes) ref = reference_proof(key, nonce, "startd@node1");
	assert_true(g_bytes_equal(proof, ref));
	g_autoptr(GBytes) again = kite_auth_daemon_proof(key, nonce, "startd@node1");
	assert_true(g_bytes_equal(proof, again));

	assert_true(kite_auth_check_daemon_proof(key, nonce, "startd@node1", proof));
	assert_false(kite_auth_check_daemon_proof(other_key, nonce, "startd@node1", proof));
	assert_false(kite_auth_check_daemon_proof(key, other_nonce, "startd@node1", proof));
	assert_false(kite_auth_check_daemon_proof(key, nonce, "startd@node2", proof));
	assert_false(kite_auth_check_daemon_proof(key, nonce, "startd@node1 ", proof));
	assert_false(kite_auth_check_daemon_proof(key, nonce, "", proof));

	/* Wrong lengths: cut, extended, empty; and every single flipped bit. */
	const guint8 *p = g_bytes_get_data(proof, NULL);
	g_autoptr(GBytes) cut = g_bytes_new(p, 31);
	assert_false(kite_auth_check_daemon_proof(key, nonce, "startd@node1", cut));
	guint8 longer[33];
	memcpy(longer, p, 32);
	longer[32] = 0;
	g_autoptr(GBytes) ext = g_bytes_new(longer, sizeof longer);
	assert_false(kite_auth_check_daemon_proof(key, nonce, "startd@node1", ext));
	g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
	assert_false(kite_auth_check_daemon_proof(key, nonce, "startd@node1", empty));
	for (int i = 0; i < 32; i++)
		for (int bit = 0; bit < 8; bit++) {
			guint8 bad[32];
			memcpy(bad, p, 32);
			bad[i] ^= 1u << bit;
			g_autoptr(GBytes) b = g_bytes_new(bad, 32);
			assert_false(kite_auth_check_daemon_proof(key, nonce, "startd@node1", b));
		}

	/* Where the nonce ends and the name begins is part of the proof. */
	g_autoptr(GBytes) n1 = g_bytes_new("ab", 2);
	g_autoptr(GBytes) n2 = g_bytes_new("a", 1);
	g_autoptr(GBytes) p1 = kite_auth_daemon_proof(key, n1, "c");
	g_autoptr(GBytes) p2 = kite_auth_daemon_proof(key, n2, "bc");
	assert_false(g_bytes_equal(p1, p2));
	assert_false(kite_auth_check_daemon_proof(key, n2, "bc", p1));
	/* An empty nonce still gives a proof that only fits itself. */
	g_autoptr(GBytes) p3 = kite_auth_daemon_proof(key, empty, "x");
	assert_true(kite_auth_check_daemon_proof(key, empty, "x", p3));
	assert_false(kite_auth_check_daemon_proof(key, n2, "x", p3));
}

/* ---- tokens --------------------------------------------------------------- */

#define EXPIRY G_GINT64_CONSTANT(1700000000)

static void assert_token_refused(GBytes *key, const char *token, gint64 now, const char *message)
{
	char *sentinel = (char *)"untouched";
	char *user = sentinel;
	g_autoptr(GError) error = NULL;
	assert_false(kite_auth_token_verify(key, token, now, &user, &error));
	assert_ptr_equal(user, sentinel);
	assert_kite_error(error, KITE_ERROR_AUTH, message);
}

static void assert_token_user(GBytes *key, const char *token, gint64 now, const char *want)
{
	g_autofree char *user = NULL;
	g_autoptr(GError) error = NULL;
	if (!kite_auth_token_verify(key, token, now, &user, &error))
		fail_msg("token %s refused: %s", token, error->message);
	assert_string_equal(user, want);
}

#define MALFORMED "malformed token: expected kite1.USER.EXPIRY.MAC (make one with `pool token create`)"
#define BAD_FIELD "malformed token: bad user or expiry field"
#define BAD_MAC	  "token signature does not match this pool's key (a token from another pool, or altered)"

static void test_token_format(void **state)
{
	g_autoptr(GBytes) key = fixed_key(9);
	g_autofree char *t = kite_auth_token_create(key, "alice", EXPIRY);
	g_auto(GStrv) parts = g_strsplit(t, ".", -1);
	assert_int_equal(g_strv_length(parts), 4);
	assert_string_equal(parts[0], "kite1");
	assert_string_equal(parts[1], "YWxpY2U"); /* base64url, no padding */
	assert_string_equal(parts[2], "1700000000");
	assert_int_equal(strlen(parts[3]), 64);
	for (const char *c = parts[3]; *c; c++)
		assert_true(g_ascii_isdigit(*c) || (*c >= 'a' && *c <= 'f'));
	/* Deterministic for the same inputs; different for another key,
	 * user or expiry. */
	g_autofree char *t2 = kite_auth_token_create(key, "alice", EXPIRY);
	assert_string_equal(t, t2);
	g_autoptr(GBytes) key2 = fixed_key(10);
	g_autofree char *t3 = kite_auth_token_create(key2, "alice", EXPIRY);
	assert_string_not_equal(t, t3);
	g_autofree char *t4 = kite_auth_token_create(key, "alice", EXPIRY + 1);
	g_auto(GStrv) parts4 = g_strsplit(t4, ".", -1);
	assert_string_not_equal(parts[3], parts4[3]);

	/* '+' and '/' of base64 become '-' and '_'. */
	g_autofree char *plus = kite_auth_token_create(key, "?\?>", EXPIRY);
	assert_true(g_str_has_prefix(plus, "kite1.Pz8-."));
	g_autofree char *slash = kite_auth_token_create(key, "?\?\?", EXPIRY);
	assert_true(g_str_has_prefix(slash, "kite1.Pz8_."));
	assert_token_user(key, plus, 0, "?\?>");
	assert_token_user(key, slash, 0, "?\?\?");
}

static void test_token_round_trip(void **state)
{
	g_autoptr(GBytes) key = fixed_key(3);
	g_autofree char *long_user = g_strnfill(384, 'u'); /* 512 base64 digits */
	const char *users[] = {
	    "alice",
	    "a",
	    "bob.smith",
	    "first.middle.last",
	    "...",
	    "J\xc3\xa9r\xc3\xb4me",
	    "\xe6\x97\xa5\xe6\x9c\xac",
	    "with space",
	    " lead",
	    "trail ",
	    "tab\there",
	    "quote\"back\\slash",
	    "=pad==",
	    long_user,
	    "\xf0\x9f\x98\x80",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(users); i++) {
		g_autofree char *t = kite_auth_token_create(key, users[i], EXPIRY);
		assert_true(strlen(t) <= KITE_AUTH_MAX_TOKEN);
		/* Only the three separating dots, whatever the user name. */
		g_auto(GStrv) parts = g_strsplit(t, ".", -1);
		assert_int_equal(g_strv_length(parts), 4);
		assert_null(strpbrk(parts[1], "+/= "));
		assert_token_user(key, t, EXPIRY - 1000, users[i]);
		assert_token_user(key, t, EXPIRY, users[i]); /* valid until the second itself */
		assert_token_user(key, t, 0, users[i]);
	}
	/* Expiry far in the future and negative "now" values work. */
	g_autofree char *far = kite_auth_token_create(key, "alice", G_MAXINT64);
	assert_token_user(key, far, EXPIRY, "alice");
	g_autofree char *neg = kite_auth_token_create(key, "alice", -5);
	assert_token_user(key, neg, -10, "alice");
	assert_token_refused(key, neg, 0, "token for alice expired 5 s ago");
}

static void test_token_expired(void **state)
{
	g_autoptr(GBytes) key = fixed_key(4);
	g_autofree char *t = kite_auth_token_create(key, "alice", EXPIRY);
	assert_token_refused(key, t, EXPIRY + 1, "token for alice expired 1 s ago");
	assert_token_refused(key, t, EXPIRY + 3600, "token for alice expired 3600 s ago");
	g_autofree char *u = kite_auth_token_create(key, "J\xc3\xa9r\xc3\xb4me", EXPIRY);
	assert_token_refused(key, u, EXPIRY + 100, "token for J\xc3\xa9r\xc3\xb4me expired 100 s ago");
	/* An expired token from another pool is reported as not ours: the
	 * signature is checked first, so a forged token says nothing. */
	g_autoptr(GBytes) other = fixed_key(5);
	assert_token_refused(other, t, EXPIRY + 1, BAD_MAC);
}

static void test_token_tampered(void **state)
{
	g_autoptr(GBytes) key = fixed_key(6);
	g_autofree char *t = kite_auth_token_create(key, "alice", EXPIRY);
	g_auto(GStrv) parts = g_strsplit(t, ".", -1);

	/* The MAC: every hex digit changed, upper case, cut, extended. */
	for (gsize i = 0; i < 64; i++) {
		g_autofree char *mac = g_strdup(parts[3]);
		mac[i] = mac[i] == '0' ? '1' : '0';
		g_autofree char *bad = g_strdup_printf("kite1.%s.%s.%s", parts[1], parts[2], mac);
		assert_token_refused(key, bad, EXPIRY, BAD_MAC);
	}
	g_autofree char *upper = g_ascii_strup(parts[3], -1);
	if (!g_str_equal(upper, parts[3])) {
		g_autofree char *bad = g_strdup_printf("kite1.%s.%s.%s", parts[1], parts[2], upper);
		assert_token_refused(key, bad, EXPIRY, BAD_MAC);
	}
	g_autofree char *cut = g_strdup_printf("kite1.%s.%s.%.63s", parts[1], parts[2], parts[3]);
	assert_token_refused(key, cut, EXPIRY, BAD_MAC);
	g_autofree char *ext = g_strdup_printf("kite1.%s.%s.%s0", parts[1], parts[2], parts[3]);
	assert_token_refused(key, ext, EXPIRY, BAD_MAC);
	g_autofree char *nomac = g_strdup_printf("kite1.%s.%s.", parts[1], parts[2]);
	assert_token_refused(key, nomac, EXPIRY, BAD_MAC);

	/* The user: another name with alice's MAC. */
	const char *users[] = {"bWFsbG9yeQ" /* mallory */, "YWxpY2Ux" /* alice1 */, "YWxpYw" /* alic */,
			       "QWxpY2U" /* Alice */};
	for (gsize i = 0; i < G_N_ELEMENTS(users); i++) {
		g_autofree char *bad = g_strdup_printf("kite1.%s.%s.%s", users[i], parts[2], parts[3]);
		assert_token_refused(key, bad, EXPIRY, BAD_MAC);
	}

	/* The expiry: later, earlier, or the same number written another
	 * way (a token has one spelling). */
	const char *expiries[] = {"1700000001",	 "1699999999",	"2700000000",  "01700000000",
				  "+1700000000", " 1700000000", "1700000000 ", "-1700000000"};
	for (gsize i = 0; i < G_N_ELEMENTS(expiries); i++) {
		g_autofree char *bad = g_strdup_printf("kite1.%s.%s.%s", parts[1], expiries[i], parts[3]);
		char *user = NULL;
		g_autoptr(GError) error = NULL;
		if (kite_auth_token_verify(key, bad, 0, &user, &error)) {
			g_free(user);
			fail_msg("token with expiry \"%s\" accepted", expiries[i]);
		}
		assert_int_equal(error->code, KITE_ERROR_AUTH);
		assert_true(g_str_equal(error->message, BAD_MAC) || g_str_equal(error->message, BAD_FIELD));
	}
	/* The user written another way (bits base64 drops: "YWxpY2V" also
	 * decodes to "alice"). */
	g_autofree char *alt = g_strdup_printf("kite1.YWxpY2V.%s.%s", parts[2], parts[3]);
	assert_token_refused(key, alt, EXPIRY, BAD_FIELD);
	g_autofree char *cut_user = g_strdup_printf("kite1.YWxpY2.%s.%s", parts[2], parts[3]);
	assert_token_refused(key, cut_user, EXPIRY, BAD_FIELD);
	/* The prefix. */
	g_autofree char *v2 = g_strdup_printf("kite2.%s.%s.%s", parts[1], parts[2], parts[3]);
	assert_token_refused(key, v2, EXPIRY, MALFORMED);
	g_autofree char *upper_prefix = g_strdup_printf("KITE1.%s.%s.%s", parts[1], parts[2], parts[3]);
	assert_token_refused(key, upper_prefix, EXPIRY, MALFORMED);

	/* The right token with the wrong key. */
	g_autoptr(GBytes) other = fixed_key(7);
	assert_token_refused(other, t, EXPIRY, BAD_MAC);
	guint8 k[32];
	memcpy(k, g_bytes_get_data(key, NULL), 32);
	k[31] ^= 0x80;
	g_autoptr(GBytes) one_bit = g_bytes_new(k, 32);
	assert_token_refused(one_bit, t, EXPIRY, BAD_MAC);
	/* And the untouched token still works. */
	assert_token_user(key, t, EXPIRY, "alice");
}

static void test_token_malformed(void **state)
{
	g_autoptr(GBytes) key = fixed_key(8);
	const char *malformed[] = {
	    "",
	    "kite1",
	    "kite1.",
	    "kite1..",
	    "kite1.YWxpY2U.1700000000",
	    "kite1.YWxpY2U.1700000000.aa.bb",
	    "YWxpY2U.1700000000.aa",
	    "kite1 YWxpY2U 1700000000 aa",
	    "Bearer kite1.YWxpY2U.1700000000.aa",
	    ".kite1.YWxpY2U.1700000000",
	    "kite1.a.b.c.",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(malformed); i++)
		assert_token_refused(key, malformed[i], 0, MALFORMED);

	g_autofree char *mac = g_strnfill(64, 'a');
	const char *bad_fields[][2] = {
	    {"", "1700000000"},					   /* no user */
	    {"YWxpY2U", ""},					   /* no expiry */
	    {"YWxpY2U", "17x"},					   /* not a number */
	    {"YWxpY2U", "0x10"},				   /* not decimal */
	    {"YWxp!2U", "1700000000"},				   /* not base64url */
	    {"YWxp+2U", "1700000000"},				   /* plain base64 */
	    {"YWxp/2U", "1700000000"}, {"YWxpY2U=", "1700000000"}, /* padding */
	    {"YQBi", "1700000000"},				   /* "a\0b" */
	    {"AA", "1700000000"},				   /* "\0" */
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad_fields); i++) {
		g_autofree char *t =
		    g_strdup_printf("kite1.%s.%s.%s", bad_fields[i][0], bad_fields[i][1], mac);
		assert_token_refused(key, t, 0, BAD_FIELD);
	}

	/* Too long, even if otherwise fine; exactly the limit is parsed. */
	g_autofree char *filler = g_strnfill(KITE_AUTH_MAX_TOKEN - 5, 'x');
	g_autofree char *at_limit = g_strdup_printf("kite1%s", filler);
	assert_int_equal(strlen(at_limit), KITE_AUTH_MAX_TOKEN);
	assert_token_refused(key, at_limit, 0, MALFORMED);
	g_autofree char *over = g_strdup_printf("kite1%sy", filler);
	assert_token_refused(key, over, 0, "token is longer than 1024 bytes");
	g_autofree char *huge = g_strnfill(1 << 20, '.');
	assert_token_refused(key, huge, 0, "token is longer than 1024 bytes");
	/* A user name longer than a token may carry is refused as a field. */
	g_autofree char *b64 = g_strnfill(516, 'Q');
	g_autofree char *long_user = g_strdup_printf("kite1.%s.1700000000.%s", b64, mac);
	assert_true(strlen(long_user) <= KITE_AUTH_MAX_TOKEN);
	assert_token_refused(key, long_user, 0, BAD_FIELD);
}

/* A user name that is not UTF-8 cannot travel in a reply (GVariant
 * strings are UTF-8), so even a correctly signed token for one is
 * refused. */
static void test_token_not_utf8(void **state)
{
	g_autoptr(GBytes) key = fixed_key(11);
	g_autofree char *t = kite_auth_token_create(key, "caf\xe9", EXPIRY);
	assert_token_refused(key, t, 0, BAD_FIELD);
}

/* ---- peer credentials -------------------------------------------------------- */

static void test_peer_uid(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	uid_t uid = (uid_t)-2;
	g_autoptr(GError) error = NULL;
	assert_true(kite_auth_peer_uid(sv[0], &uid, &error));
	assert_null(error);
	assert_int_equal(uid, getuid());
	uid = (uid_t)-2;
	assert_true(kite_auth_peer_uid(sv[1], &uid, &error));
	assert_int_equal(uid, getuid());
	close(sv[0]);
	close(sv[1]);

	/* Not a socket: an error naming the call, and no uid. */
	int p[2];
	assert_int_equal(pipe(p), 0);
	uid = (uid_t)-2;
	assert_false(kite_auth_peer_uid(p[0], &uid, &error));
	assert_kite_error(error, KITE_ERROR_IO, "getsockopt SO_PEERCRED: Socket operation on non-socket");
	assert_int_equal(uid, (uid_t)-2);
	close(p[0]);
	close(p[1]);
	g_clear_error(&error);
	assert_false(kite_auth_peer_uid(-1, &uid, &error));
	assert_kite_error(error, KITE_ERROR_IO, "getsockopt SO_PEERCRED: Bad file descriptor");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_key_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_permissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_missing, setup, teardown),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_daemon_proof),
	    cmocka_unit_test(test_token_format),
	    cmocka_unit_test(test_token_round_trip),
	    cmocka_unit_test(test_token_expired),
	    cmocka_unit_test(test_token_tampered),
	    cmocka_unit_test(test_token_malformed),
	    cmocka_unit_test(test_token_not_utf8),
	    cmocka_unit_test(test_peer_uid),
	};
	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
