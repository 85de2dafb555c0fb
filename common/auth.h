/* auth.h — who is on the other end of a connection (DESIGN.md §7).
 *
 * - Unix-socket peers are identified by SO_PEERCRED (their uid).
 * - Daemons prove they hold the pool key: HMAC-SHA256 over the server's
 *   nonce and the daemon's name (challenge–response; the key never
 *   travels).
 * - Remote users present a token signed with the pool key:
 *   "kite1.USER.EXPIRY.MAC" where USER is base64url, EXPIRY Unix seconds
 *   and MAC hex HMAC-SHA256.  `pool token create --user NAME` makes one.
 *
 * The pool key file holds 32 random bytes in hex and must be mode 0600
 * (or stricter); a key readable by others is refused.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define KITE_AUTH_KEY_BYTES   32
#define KITE_AUTH_NONCE_BYTES 32
#define KITE_AUTH_MAX_TOKEN   1024

/* Load the pool key from @path.  If the file does not exist and @create
 * is TRUE, make a new random key there (mode 0600, written atomically).
 * Refuses a key file that group or others can read or write. */
GBytes *kite_auth_load_key(const char *path, gboolean create, GError **error);

/* Fill @buf with @len bytes from the kernel's random source. */
gboolean kite_auth_random(guint8 *buf, gsize len, GError **error);

/* The daemon proof for @nonce and @name (32 bytes). */
GBytes *kite_auth_daemon_proof(GBytes *key, GBytes *nonce, const char *name);
/* Check a daemon proof in constant time. */
gboolean kite_auth_check_daemon_proof(GBytes *key, GBytes *nonce, const char *name, GBytes *proof);

/* A token for @user valid until @expiry (Unix seconds). */
char *kite_auth_token_create(GBytes *key, const char *user, gint64 expiry);

/* The user's token for TCP connections: $KITE_TOKEN, else the contents of
 * the file $KITE_TOKEN_FILE, else of ~/.config/kite/token (stripped).
 * NULL if none; then *@out_path (if given) is the file looked at, for the
 * caller's message. */
char *kite_auth_find_token(char **out_path);
/* Verify @token at time @now; on success write the user name. */
gboolean kite_auth_token_verify(GBytes *key, const char *token, gint64 now, char **out_user, GError **error);

/* The uid of the peer of Unix socket @fd (SO_PEERCRED). */
gboolean kite_auth_peer_uid(int fd, uid_t *out_uid, GError **error);

/* Compare @len bytes in time independent of where they differ. */
gboolean kite_auth_equal(const guint8 *a, const guint8 *b, gsize len);

G_END_DECLS
