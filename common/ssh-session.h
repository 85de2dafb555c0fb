/* ssh-session.h — a small client of SSH over libssh2, for `pool glidein`:
 * connect with a timeout, check the host key against an OpenSSH
 * known_hosts file, authenticate with ssh-agent or a key file, run a
 * command and collect its output and status, and copy a file with SFTP
 * with a given mode.
 *
 * Every call is blocking and bounded by the session's timeout; a session
 * belongs to one thread at a time (libssh2 sessions are not shared), but
 * several threads may each run their own.  Call kite_ssh_init() once from
 * the main thread before any thread starts a session.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KITE_SSH_ERROR (kite_ssh_error_quark())
GQuark kite_ssh_error_quark(void);

typedef enum {
	KITE_SSH_ERROR_FAILED,		/* anything else */
	KITE_SSH_ERROR_CONNECT,		/* no TCP connection (refused, unreachable, no such host) */
	KITE_SSH_ERROR_TIMEOUT,		/* an operation took longer than the timeout */
	KITE_SSH_ERROR_HOSTKEY_UNKNOWN, /* the host's key is not in known_hosts */
	KITE_SSH_ERROR_HOSTKEY_CHANGED, /* known_hosts has another key for the host */
	KITE_SSH_ERROR_AUTH,		/* no key was accepted */
} KiteSshError;

typedef struct _KiteSsh KiteSsh;

/* Initialise libssh2 (once, before threads use it). */
gboolean kite_ssh_init(GError **error);
/* Release what kite_ssh_init took, once every session is freed. */
void kite_ssh_exit(void);

/* Connect to @host:@port, do the SSH handshake and check the host key
 * against @known_hosts (an OpenSSH file, plain or hashed entries; a
 * missing file knows no host).  @timeout (seconds) bounds the TCP
 * connect and, later, every single operation of the session.  An unknown
 * or changed host key is an error (HOSTKEY_UNKNOWN / HOSTKEY_CHANGED)
 * whose message gives the key's SHA256 fingerprint as ssh-keygen -l
 * prints it. */
KiteSsh *kite_ssh_connect(const char *host, guint16 port, const char *known_hosts, double timeout,
			  GError **error);
void kite_ssh_free(KiteSsh *ssh);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteSsh, kite_ssh_free)

/* Authenticate as @user: with the private key file @identity when given
 * (its public half from IDENTITY.pub when that exists), otherwise with
 * the keys of ssh-agent ($SSH_AUTH_SOCK) and then ~/.ssh/id_ed25519,
 * id_ecdsa and id_rsa.  Keys protected by a passphrase work only through
 * the agent. */
gboolean kite_ssh_auth(KiteSsh *ssh, const char *user, const char *identity, GError **error);

/* Run @command on the host (through the user's login shell, as ssh
 * does) and wait until it exits.  Writes its standard output and error
 * (each kept up to 64 KiB) and its exit status (-1 if it died of a
 * signal).  @timeout (seconds, 0 = the session's) bounds each wait for
 * output, so a command that is silent for longer fails with TIMEOUT. */
gboolean kite_ssh_exec(KiteSsh *ssh, const char *command, double timeout, char **out_stdout,
		       char **out_stderr, int *out_status, GError **error);

/* Create @remote_path (which must not exist) with SFTP, with file mode
 * @mode from the start, and write @data into it. */
gboolean kite_ssh_put(KiteSsh *ssh, GBytes *data, const char *remote_path, int mode, GError **error);

/* The numeric addresses of the two ends of the connection: this
 * machine's as the host sees it, and the host's. */
const char *kite_ssh_local_address(const KiteSsh *ssh);
const char *kite_ssh_peer_address(const KiteSsh *ssh);

/* The key types (e.g. "ssh-ed25519") that @known_hosts_text records for
 * @host:@port, in file order without repeats: "[host]:port" entries, or
 * "host" ones for port 22, plain or hashed (|1|salt|hash).  Used to ask
 * the host for a key of a type we can check.  NULL-terminated, newly
 * allocated. */
char **kite_ssh_known_key_types(const char *known_hosts_text, const char *host, guint16 port);

/* "SHA256:…" — the OpenSSH fingerprint of a raw host key blob. */
char *kite_ssh_fingerprint(const void *key, gsize len);

G_END_DECLS
