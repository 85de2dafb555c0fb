/* auth.c — pool key, daemon challenge–response, user tokens, peer
 * credentials; see auth.h. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

gboolean kite_auth_random(guint8 *buf, gsize len, GError **error)
{
	gsize done = 0;
	while (done < len) {
		ssize_t n = getrandom(buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kite_throw_errno(error, "getrandom");
		done += n;
	}
	return TRUE;
}

gboolean kite_auth_equal(const guint8 *a, const guint8 *b, gsize len)
{
	guint8 diff = 0;
	for (gsize i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static gboolean parse_hex(const char *hex, guint8 *out, gsize len)
{
	if (strlen(hex) != len * 2)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return FALSE;
		out[i] = (guint8)(hi << 4 | lo);
	}
	return TRUE;
}

GBytes *kite_auth_load_key(const char *path, gboolean create, GError **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && create) {
		guint8 key[KITE_AUTH_KEY_BYTES];
		if (!kite_auth_random(key, sizeof key, error))
			return NULL;
		g_autofree char *hex = g_malloc(2 * sizeof key + 2);
		for (gsize i = 0; i < sizeof key; i++)
			sprintf(hex + 2 * i, "%02x", key[i]);
		strcat(hex, "\n");
		if (!kite_write_file_atomic(path, hex, strlen(hex), 0600, error))
			return NULL;
		return g_bytes_new(key, sizeof key);
	}
	if (fd < 0) {
		kite_throw_errno(error, "open pool key %s", path);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		kite_throw_errno(error, "stat pool key %s", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & 077) {
		close(fd);
		kite_throw(error, KITE_ERROR_AUTH,
			   "pool key %s has mode %04o: others could read it; run `chmod 600 %s`", path,
			   (unsigned)(st.st_mode & 07777), path);
		return NULL;
	}
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		kite_throw_errno(error, "read pool key %s", path);
		return NULL;
	}
	buf[n] = '\0';
	g_strstrip(buf);
	guint8 key[KITE_AUTH_KEY_BYTES];
	if (!parse_hex(buf, key, sizeof key)) {
		kite_throw(error, KITE_ERROR_AUTH, "pool key %s is not %d hex digits", path,
			   2 * KITE_AUTH_KEY_BYTES);
		return NULL;
	}
	return g_bytes_new(key, sizeof key);
}

/* HMAC-SHA256 of @parts (each a pointer and length, NULL-terminated
 * pairs) with @key; writes 32 bytes to @out.  Each part is preceded by
 * its length so that no two different lists hash the same. */
static void hmac(GBytes *key, guint8 out[32], const void *p1, gsize l1, const void *p2, gsize l2,
		 const void *p3, gsize l3)
{
	gsize klen;
	const guint8 *k = g_bytes_get_data(key, &klen);
	g_autoptr(GHmac) h = g_hmac_new(G_CHECKSUM_SHA256, k, klen);
	const void *ps[] = {p1, p2, p3};
	gsize ls[] = {l1, l2, l3};
	for (int i = 0; i < 3; i++) {
		guint8 lenbuf[8];
		for (int j = 0; j < 8; j++)
			lenbuf[j] = (guint8)((guint64)ls[i] >> (56 - 8 * j));
		g_hmac_update(h, lenbuf, sizeof lenbuf);
		g_hmac_update(h, ps[i], ls[i]);
	}
	gsize outlen = 32;
	g_hmac_get_digest(h, out, &outlen);
}

GBytes *kite_auth_daemon_proof(GBytes *key, GBytes *nonce, const char *name)
{
	static const char ctx[] = "kite-daemon-v1";
	gsize nlen;
	const guint8 *n = g_bytes_get_data(nonce, &nlen);
	guint8 out[32];
	hmac(key, out, ctx, sizeof ctx, n, nlen, name, strlen(name));
	return g_bytes_new(out, sizeof out);
}

gboolean kite_auth_check_daemon_proof(GBytes *key, GBytes *nonce, const char *name, GBytes *proof)
{
	g_autoptr(GBytes) want = kite_auth_daemon_proof(key, nonce, name);
	gsize plen;
	const guint8 *p = g_bytes_get_data(proof, &plen);
	if (plen != 32)
		return FALSE;
	return kite_auth_equal(g_bytes_get_data(want, NULL), p, 32);
}

static void token_mac_hex(GBytes *key, const char *user, gint64 expiry, char out_hex[65])
{
	static const char ctx[] = "kite-token-v1";
	g_autofree char *exp = g_strdup_printf("%" G_GINT64_FORMAT, expiry);
	guint8 mac[32];
	hmac(key, mac, ctx, sizeof ctx, user, strlen(user), exp, strlen(exp));
	for (int i = 0; i < 32; i++)
		sprintf(out_hex + 2 * i, "%02x", mac[i]);
}

static char *b64url_encode(const char *s)
{
	char *b = g_base64_encode((const guchar *)s, strlen(s));
	for (char *p = b; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=') {
			*p = '\0';
			break;
		}
	}
	return b;
}

static char *b64url_decode(const char *s)
{
	gsize len = strlen(s);
	if (len > 512)
		return NULL;
	g_autofree char *b = g_malloc(len + 4);
	for (gsize i = 0; i < len; i++) {
		char c = s[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!g_ascii_isalnum(c))
			return NULL;
		b[i] = c;
	}
	while (len % 4)
		b[len++] = '=';
	b[len] = '\0';
	gsize outlen;
	guchar *raw = g_base64_decode(b, &outlen);
	char *out = g_strndup((const char *)raw, outlen);
	g_free(raw);
	if (strlen(out) != outlen) { /* embedded NUL */
		g_free(out);
		return NULL;
	}
	return out;
}

char *kite_auth_token_create(GBytes *key, const char *user, gint64 expiry)
{
	char mac[65];
	token_mac_hex(key, user, expiry, mac);
	g_autofree char *u = b64url_encode(user);
	return g_strdup_printf("kite1.%s.%" G_GINT64_FORMAT ".%s", u, expiry, mac);
}

gboolean kite_auth_token_verify(GBytes *key, const char *token, gint64 now, char **out_user, GError **error)
{
	if (strlen(token) > KITE_AUTH_MAX_TOKEN)
		return kite_throw(error, KITE_ERROR_AUTH, "token is longer than %d bytes",
				  KITE_AUTH_MAX_TOKEN);
	g_auto(GStrv) parts = g_strsplit(token, ".", -1);
	if (g_strv_length(parts) != 4 || !g_str_equal(parts[0], "kite1"))
		return kite_throw(
		    error, KITE_ERROR_AUTH,
		    "malformed token: expected kite1.USER.EXPIRY.MAC (make one with `pool token create`)");
	g_autofree char *user = b64url_decode(parts[1]);
	char *end = NULL;
	gint64 expiry = g_ascii_strtoll(parts[2], &end, 10);
	if (!user || !*user || !end || *end || end == parts[2])
		return kite_throw(error, KITE_ERROR_AUTH, "malformed token: bad user or expiry field");
	/* One spelling per token: base64 and strtoll also accept variants
	 * ("+5", "05", stray low bits) that verify with the same MAC.  The
	 * user must be UTF-8 to travel in replies and ads. */
	g_autofree char *user_form = b64url_encode(user);
	g_autofree char *expiry_form = g_strdup_printf("%" G_GINT64_FORMAT, expiry);
	if (!g_str_equal(user_form, parts[1]) || !g_str_equal(expiry_form, parts[2]) ||
	    !g_utf8_validate(user, -1, NULL))
		return kite_throw(error, KITE_ERROR_AUTH, "malformed token: bad user or expiry field");
	char want[65];
	token_mac_hex(key, user, expiry, want);
	if (strlen(parts[3]) != 64 || !kite_auth_equal((const guint8 *)want, (const guint8 *)parts[3], 64))
		return kite_throw(
		    error, KITE_ERROR_AUTH,
		    "token signature does not match this pool's key (a token from another pool, or altered)");
	if (expiry < now)
		return kite_throw(error, KITE_ERROR_AUTH, "token for %s expired %" G_GINT64_FORMAT " s ago",
				  user, now - expiry);
	*out_user = g_steal_pointer(&user);
	return TRUE;
}

gboolean kite_auth_peer_uid(int fd, uid_t *out_uid, GError **error)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return kite_throw_errno(error, "getsockopt SO_PEERCRED");
	*out_uid = cred.uid;
	return TRUE;
}

char *kite_auth_find_token(char **out_path)
{
	const char *env = g_getenv("KITE_TOKEN");
	if (env && *env)
		return g_strstrip(g_strdup(env));
	const char *file = g_getenv("KITE_TOKEN_FILE");
	g_autofree char *path = file && *file ? g_strdup(file)
					      : g_build_filename(g_get_user_config_dir(), "kite", "token", NULL);
	char *text = NULL;
	if (g_file_get_contents(path, &text, NULL, NULL))
		return g_strstrip(text);
	if (out_path)
		*out_path = g_steal_pointer(&path);
	return NULL;
}
