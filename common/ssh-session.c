/* ssh-session.c — SSH client sessions over libssh2; see ssh-session.h.
 *
 * What lives here: the TCP connect with its timeout, the handshake and
 * the known_hosts check, public-key authentication, running one command,
 * and SFTP uploads.  What does not: anything about what `pool glidein`
 * does on the host (submit/glidein-host.c). */
#include "ssh-session.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

G_DEFINE_QUARK(kite-ssh-error-quark, kite_ssh_error)

/* Output kept from one remote command, per stream. */
#define MAX_OUTPUT (64 * 1024)

struct _KiteSsh {
	int fd;
	LIBSSH2_SESSION *session;
	LIBSSH2_SFTP *sftp;
	double timeout;
	char local[NI_MAXHOST];
	char peer[NI_MAXHOST];
};

gboolean kite_ssh_init(GError **error)
{
	int rc = libssh2_init(0);
	if (rc != 0) {
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_FAILED, "cannot initialise libssh2 (error %d)", rc);
		return FALSE;
	}
	return TRUE;
}

void kite_ssh_exit(void)
{
	libssh2_exit();
}

static gboolean throw_timeout(GError **error, double timeout, const char *what)
{
	g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_TIMEOUT, "timed out after %gs (%s)", timeout, what);
	return FALSE;
}

/* Turn libssh2's last error into @error, "WHAT: message". */
static gboolean throw_session(KiteSsh *ssh, const char *what, GError **error)
{
	char *msg = NULL;
	int rc = libssh2_session_last_error(ssh->session, &msg, NULL, 0);
	if (rc == LIBSSH2_ERROR_TIMEOUT)
		return throw_timeout(error, ssh->timeout, what);
	g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_FAILED, "%s: %s", what,
		    msg && *msg ? msg : "failed");
	return FALSE;
}

/* ---- TCP ---- */

static void numeric_address(const struct sockaddr *sa, socklen_t len, char *out)
{
	if (getnameinfo(sa, len, out, NI_MAXHOST, NULL, 0, NI_NUMERICHOST) != 0)
		g_strlcpy(out, "?", NI_MAXHOST);
}

/* Connect to @host:@port within @timeout seconds, trying each address
 * the name has until the time is up.  Returns the connected socket (in
 * blocking mode) or -1. */
static int tcp_connect(const char *host, guint16 port, double timeout, GError **error)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char service[8];
	snprintf(service, sizeof service, "%u", port);
	int rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_CONNECT, "cannot connect: %s: %s", host,
			    rc == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(rc));
		return -1;
	}
	double deadline = kite_now_monotonic() + timeout;
	int last_errno = 0, fd = -1;
	gboolean timed_out = FALSE;
	for (struct addrinfo *ai = res; ai && fd < 0 && !timed_out; ai = ai->ai_next) {
		int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(s, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last_errno = errno;
			close(s);
			continue;
		}
		int ready = 0;
		for (;;) {
			int ms = (int)MAX(0, (deadline - kite_now_monotonic()) * 1000);
			struct pollfd p = {.fd = s, .events = POLLOUT};
			ready = poll(&p, 1, ms);
			if (ready >= 0 || errno != EINTR)
				break;
		}
		int err = 0;
		socklen_t len = sizeof err;
		if (ready == 0)
			timed_out = TRUE;
		else if (ready < 0)
			err = errno;
		else if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (ready > 0 && err == 0) {
			fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
			fd = s;
		} else {
			last_errno = err;
			close(s);
		}
	}
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	if (timed_out)
		throw_timeout(error, timeout, "connecting");
	else
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_CONNECT, "cannot connect: %s",
			    g_strerror(last_errno ? last_errno : ECONNREFUSED));
	return -1;
}

/* ---- host keys ---- */

char *kite_ssh_fingerprint(const void *key, gsize len)
{
	guint8 digest[32];
	gsize dlen = sizeof digest;
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, key, len);
	g_checksum_get_digest(sum, digest, &dlen);
	g_autofree char *b64 = g_base64_encode(digest, dlen);
	/* OpenSSH prints the base64 without its '=' padding. */
	char *end = b64 + strlen(b64);
	while (end > b64 && end[-1] == '=')
		*--end = '\0';
	return g_strconcat("SHA256:", b64, NULL);
}

/* TRUE if the known_hosts pattern @pattern (one of a line's
 * comma-separated names) is @name: the same text, or a hashed entry
 * |1|base64(salt)|base64(HMAC-SHA1(salt, name)). */
static gboolean pattern_is(const char *pattern, const char *name)
{
	if (!g_str_has_prefix(pattern, "|1|"))
		return g_ascii_strcasecmp(pattern, name) == 0;
	g_auto(GStrv) parts = g_strsplit(pattern + 3, "|", 3);
	if (g_strv_length(parts) != 2)
		return FALSE;
	gsize salt_len = 0, hash_len = 0;
	g_autofree guint8 *salt = g_base64_decode(parts[0], &salt_len);
	g_autofree guint8 *hash = g_base64_decode(parts[1], &hash_len);
	if (salt_len == 0 || hash_len != 20)
		return FALSE;
	g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA1, salt, salt_len);
	g_hmac_update(hmac, (const guchar *)name, strlen(name));
	guint8 digest[20];
	gsize dlen = sizeof digest;
	g_hmac_get_digest(hmac, digest, &dlen);
	return memcmp(digest, hash, sizeof digest) == 0;
}

char **kite_ssh_known_key_types(const char *text, const char *host, guint16 port)
{
	g_autofree char *lower = g_ascii_strdown(host, -1);
	g_autofree char *bracketed = g_strdup_printf("[%s]:%u", lower, port);
	g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) fields = g_strsplit_set(g_strstrip(*l), " \t", -1);
		/* Drop the empty fields of repeated blanks. */
		guint n = 0;
		for (guint i = 0; fields[i]; i++)
			if (*fields[i])
				fields[n++] = fields[i];
			else
				g_free(fields[i]);
		fields[n] = NULL;
		/* Comments, markers (@cert-authority, @revoked) and short lines. */
		if (n < 3 || fields[0][0] == '#' || fields[0][0] == '@')
			continue;
		gboolean match = FALSE;
		g_auto(GStrv) patterns = g_strsplit(fields[0], ",", -1);
		for (char **p = patterns; *p && !match; p++)
			match = pattern_is(*p, bracketed) || pattern_is(*p, lower);
		gboolean seen = FALSE;
		for (guint i = 0; i < types->len && !seen; i++)
			seen = g_str_equal(types->pdata[i], fields[1]);
		if (match && !seen)
			g_ptr_array_add(types, g_strdup(fields[1]));
	}
	g_ptr_array_add(types, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&types), FALSE);
}

/* The host key algorithms to ask for, given the key types known_hosts
 * has for the host: without this libssh2 would pick its own first
 * choice (ECDSA) and a host recorded with its Ed25519 key — what
 * OpenSSH's client records — would look unknown. */
static char *hostkey_preference(char **types)
{
	g_autoptr(GString) pref = g_string_new(NULL);
	for (char **t = types; *t; t++) {
		const char *algs = NULL;
		if (g_str_equal(*t, "ssh-rsa"))
			algs = "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
		else if (g_str_equal(*t, "ssh-ed25519") || g_str_has_prefix(*t, "ecdsa-sha2-nistp") ||
			 g_str_equal(*t, "ssh-dss"))
			algs = *t;
		if (algs)
			g_string_append_printf(pref, "%s%s", pref->len ? "," : "", algs);
	}
	return pref->len ? g_string_free(g_steal_pointer(&pref), FALSE) : NULL;
}

static const char *key_type_name(int type, int *out_knownhost_bit)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		*out_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_SSHRSA;
		return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		*out_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_SSHDSS;
		return "ssh-dss";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*out_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
		return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*out_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
		return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*out_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
		return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		*out_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ED25519;
		return "ssh-ed25519";
	default:
		*out_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
		return "unknown";
	}
}

/* Check the key the host presented against @known_hosts (with
 * libssh2's own matcher, which handles hashed names).  @have_file is
 * FALSE when the file does not exist. */
static gboolean check_host_key(KiteSsh *ssh, const char *host, guint16 port, const char *known_hosts,
			       gboolean have_file, GError **error)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(ssh->session, &len, &type);
	if (!key)
		return throw_session(ssh, "get the host key", error);
	int bit = 0;
	const char *type_name = key_type_name(type, &bit);
	g_autofree char *fingerprint = kite_ssh_fingerprint(key, len);
	LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(ssh->session);
	if (!kh)
		return throw_session(ssh, "read known hosts", error);
	if (have_file && libssh2_knownhost_readfile(kh, known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
		libssh2_knownhost_free(kh);
		g_autofree char *what = g_strdup_printf("cannot read known hosts %s", known_hosts);
		return throw_session(ssh, what, error);
	}
	g_autofree char *lower = g_ascii_strdown(host, -1);
	int check = libssh2_knownhost_checkp(kh, lower, port, key, len,
					     LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bit, NULL);
	libssh2_knownhost_free(kh);
	g_autofree char *entry = port == 22 ? g_strdup(lower) : g_strdup_printf("[%s]:%u", lower, port);
	switch (check) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return TRUE;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_HOSTKEY_CHANGED,
			    "host key CHANGED: %s has another %s key for %s than the one the host presents "
			    "(fingerprint %s); someone may be impersonating the host, or it was reinstalled "
			    "(then remove the old key: ssh-keygen -R '%s' -f %s)",
			    known_hosts, type_name, entry, fingerprint, entry, known_hosts);
		return FALSE;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_HOSTKEY_UNKNOWN,
			    "host key not in %s (fingerprint %s, %s)%s; check the fingerprint, then add the key "
			    "(for instance by connecting once with ssh)",
			    known_hosts, fingerprint, type_name, have_file ? "" : " — the file does not exist");
		return FALSE;
	default:
		return throw_session(ssh, "check the host key", error);
	}
}

KiteSsh *kite_ssh_connect(const char *host, guint16 port, const char *known_hosts, double timeout,
			  GError **error)
{
	g_return_val_if_fail(host && known_hosts && timeout > 0, NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) local = NULL;
	gboolean have_file = g_file_get_contents(known_hosts, &text, NULL, &local);
	if (!have_file && !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_FAILED, "cannot read known hosts: %s",
			    local->message);
		return NULL;
	}
	int fd = tcp_connect(host, port, timeout, error);
	if (fd < 0)
		return NULL;
	g_autoptr(KiteSsh) ssh = g_new0(KiteSsh, 1);
	ssh->fd = fd;
	ssh->timeout = timeout;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		numeric_address((struct sockaddr *)&ss, len, ssh->local);
	len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		numeric_address((struct sockaddr *)&ss, len, ssh->peer);

	ssh->session = libssh2_session_init();
	if (!ssh->session) {
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_FAILED, "cannot create an SSH session");
		return NULL;
	}
	libssh2_session_set_blocking(ssh->session, 1);
	libssh2_session_set_timeout(ssh->session, (long)(timeout * 1000));
	g_auto(GStrv) types = kite_ssh_known_key_types(text ? text : "", host, port);
	g_autofree char *pref = hostkey_preference(types);
	if (pref)
		libssh2_session_method_pref(ssh->session, LIBSSH2_METHOD_HOSTKEY, pref);
	if (libssh2_session_handshake(ssh->session, fd) != 0) {
		g_autoptr(GError) failed = NULL;
		throw_session(ssh, "SSH handshake", &failed);
		if (pref && failed->code != KITE_SSH_ERROR_TIMEOUT)
			g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_HOSTKEY_CHANGED,
				    "%s (%s knows the host only by key types %s: if it offers none of them now, "
				    "its keys have CHANGED)",
				    failed->message, known_hosts, pref);
		else
			g_propagate_error(error, g_steal_pointer(&failed));
		return NULL;
	}
	if (!check_host_key(ssh, host, port, known_hosts, have_file, error))
		return NULL;
	return g_steal_pointer(&ssh);
}

void kite_ssh_free(KiteSsh *ssh)
{
	if (!ssh)
		return;
	if (ssh->sftp)
		libssh2_sftp_shutdown(ssh->sftp);
	if (ssh->session) {
		libssh2_session_disconnect(ssh->session, "done");
		libssh2_session_free(ssh->session);
	}
	if (ssh->fd >= 0)
		close(ssh->fd);
	g_free(ssh);
}

const char *kite_ssh_local_address(const KiteSsh *ssh)
{
	return ssh->local;
}

const char *kite_ssh_peer_address(const KiteSsh *ssh)
{
	return ssh->peer;
}

/* ---- authentication ---- */

/* Try @identity (a private key file); FALSE with @error set only for
 * a timeout or a key that cannot be used at all. */
static gboolean try_key_file(KiteSsh *ssh, const char *user, const char *identity, gboolean *out_ok,
			     GError **error)
{
	g_autofree char *pub = g_strconcat(identity, ".pub", NULL);
	int rc = libssh2_userauth_publickey_fromfile(ssh->session, user,
						     g_file_test(pub, G_FILE_TEST_EXISTS) ? pub : NULL, identity, NULL);
	*out_ok = rc == 0;
	if (rc == LIBSSH2_ERROR_TIMEOUT)
		return throw_timeout(error, ssh->timeout, "authenticating");
	if (rc == LIBSSH2_ERROR_FILE) {
		char *msg = NULL;
		libssh2_session_last_error(ssh->session, &msg, NULL, 0);
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_AUTH,
			    "cannot use key %s: %s (a key with a passphrase works only through ssh-agent)",
			    identity, msg ? msg : "unreadable");
		return FALSE;
	}
	return TRUE;
}

/* Try every key of the agent; counts them into @out_n. */
static gboolean try_agent(KiteSsh *ssh, const char *user, guint *out_n, gboolean *out_ok, GError **error)
{
	*out_ok = FALSE;
	*out_n = 0;
	LIBSSH2_AGENT *agent = libssh2_agent_init(ssh->session);
	if (!agent)
		return TRUE;
	if (libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0) {
		struct libssh2_agent_publickey *id = NULL, *prev = NULL;
		while (!*out_ok && libssh2_agent_get_identity(agent, &id, prev) == 0) {
			(*out_n)++;
			int rc = libssh2_agent_userauth(agent, user, id);
			if (rc == LIBSSH2_ERROR_TIMEOUT) {
				libssh2_agent_disconnect(agent);
				libssh2_agent_free(agent);
				return throw_timeout(error, ssh->timeout, "authenticating");
			}
			*out_ok = rc == 0;
			prev = id;
		}
		libssh2_agent_disconnect(agent);
	}
	libssh2_agent_free(agent);
	return TRUE;
}

gboolean kite_ssh_auth(KiteSsh *ssh, const char *user, const char *identity, GError **error)
{
	g_return_val_if_fail(ssh && user, FALSE);
	char *methods = libssh2_userauth_list(ssh->session, user, strlen(user));
	if (!methods) {
		if (libssh2_userauth_authenticated(ssh->session))
			return TRUE;
		return throw_session(ssh, "ask how to authenticate", error);
	}
	if (!strstr(methods, "publickey")) {
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_AUTH,
			    "the host accepts no key for user %s (it offers: %s)", user, methods);
		return FALSE;
	}
	gboolean ok = FALSE;
	if (identity) {
		if (access(identity, R_OK) < 0) {
			g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_AUTH, "cannot read key %s: %s", identity,
				    g_strerror(errno));
			return FALSE;
		}
		if (!try_key_file(ssh, user, identity, &ok, error))
			return FALSE;
		if (!ok)
			g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_AUTH,
				    "authentication failed for user %s with key %s", user, identity);
		return ok;
	}
	g_autoptr(GPtrArray) tried = g_ptr_array_new_with_free_func(g_free);
	if (g_getenv("SSH_AUTH_SOCK")) {
		guint n = 0;
		if (!try_agent(ssh, user, &n, &ok, error))
			return FALSE;
		if (ok)
			return TRUE;
		g_ptr_array_add(tried, g_strdup_printf("the %u key(s) of ssh-agent", n));
	}
	static const char *const defaults[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
	for (gsize i = 0; i < G_N_ELEMENTS(defaults); i++) {
		g_autofree char *path = g_build_filename(g_get_home_dir(), ".ssh", defaults[i], NULL);
		if (access(path, R_OK) < 0)
			continue;
		g_autoptr(GError) unusable = NULL;
		if (!try_key_file(ssh, user, path, &ok, &unusable)) {
			if (unusable->code == KITE_SSH_ERROR_TIMEOUT) {
				g_propagate_error(error, g_steal_pointer(&unusable));
				return FALSE;
			}
		}
		if (ok)
			return TRUE;
		g_ptr_array_add(tried, g_strdup_printf("key %s", path));
	}
	if (tried->len == 0) {
		g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_AUTH,
			    "no key to authenticate user %s with: no ssh-agent and none of ~/.ssh/id_ed25519, "
			    "id_ecdsa, id_rsa (name a key file)",
			    user);
		return FALSE;
	}
	g_ptr_array_add(tried, NULL);
	g_autofree char *list = g_strjoinv(", ", (char **)tried->pdata);
	g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_AUTH, "authentication failed for user %s with %s", user,
		    list);
	return FALSE;
}

/* ---- commands ---- */

/* Read @stream of @ch to its end, keeping at most MAX_OUTPUT bytes. */
static gboolean read_stream(KiteSsh *ssh, LIBSSH2_CHANNEL *ch, int stream, GString *out, GError **error)
{
	char buf[16384];
	for (;;) {
		ssize_t n = libssh2_channel_read_ex(ch, stream, buf, sizeof buf);
		if (n == 0)
			return TRUE;
		if (n < 0)
			return throw_session(ssh, "read the command's output", error);
		if (out->len < MAX_OUTPUT)
			g_string_append_len(out, buf, MIN((gsize)n, MAX_OUTPUT - out->len));
	}
}

gboolean kite_ssh_exec(KiteSsh *ssh, const char *command, double timeout, char **out_stdout,
		       char **out_stderr, int *out_status, GError **error)
{
	g_return_val_if_fail(ssh && command, FALSE);
	double saved = ssh->timeout;
	if (timeout > 0) {
		ssh->timeout = timeout;
		libssh2_session_set_timeout(ssh->session, (long)(timeout * 1000));
	}
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GString) err = g_string_new(NULL);
	gboolean ok = FALSE;
	int status = -1;
	LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(ssh->session);
	if (!ch)
		throw_session(ssh, "open a session channel", error);
	else if (libssh2_channel_exec(ch, command) != 0)
		throw_session(ssh, "run a command", error);
	else if (read_stream(ssh, ch, 0, out, error) &&
		 read_stream(ssh, ch, SSH_EXTENDED_DATA_STDERR, err, error)) {
		libssh2_channel_close(ch);
		libssh2_channel_wait_closed(ch);
		char *signal_name = NULL;
		libssh2_channel_get_exit_signal(ch, &signal_name, NULL, NULL, NULL, NULL, NULL);
		status = signal_name ? -1 : libssh2_channel_get_exit_status(ch);
		libssh2_free(ssh->session, signal_name);
		ok = TRUE;
	}
	if (ch)
		libssh2_channel_free(ch);
	if (ssh->timeout != saved) {
		ssh->timeout = saved;
		libssh2_session_set_timeout(ssh->session, (long)(saved * 1000));
	}
	if (!ok)
		return FALSE;
	if (out_stdout)
		*out_stdout = g_string_free(g_steal_pointer(&out), FALSE);
	if (out_stderr)
		*out_stderr = g_string_free(g_steal_pointer(&err), FALSE);
	*out_status = status;
	return TRUE;
}

/* ---- SFTP ---- */

static const char *sftp_status_text(unsigned long code)
{
	switch (code) {
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		return "No such file or directory";
	case LIBSSH2_FX_PERMISSION_DENIED:
		return "Permission denied";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:
		return "File exists";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
		return "No space left on device";
	case LIBSSH2_FX_QUOTA_EXCEEDED:
		return "Disk quota exceeded";
	case LIBSSH2_FX_WRITE_PROTECT:
		return "Read-only file system";
	default:
		return NULL;
	}
}

static gboolean throw_sftp(KiteSsh *ssh, const char *what, GError **error)
{
	const char *text = NULL;
	if (libssh2_session_last_errno(ssh->session) == LIBSSH2_ERROR_SFTP_PROTOCOL && ssh->sftp)
		text = sftp_status_text(libssh2_sftp_last_error(ssh->sftp));
	if (!text)
		return throw_session(ssh, what, error);
	g_set_error(error, KITE_SSH_ERROR, KITE_SSH_ERROR_FAILED, "%s: %s", what, text);
	return FALSE;
}

gboolean kite_ssh_put(KiteSsh *ssh, GBytes *data, const char *remote_path, int mode, GError **error)
{
	g_return_val_if_fail(ssh && data && remote_path, FALSE);
	if (!ssh->sftp) {
		ssh->sftp = libssh2_sftp_init(ssh->session);
		if (!ssh->sftp)
			return throw_session(ssh, "start SFTP (does the host's sshd offer the sftp subsystem?)",
					     error);
	}
	g_autofree char *what = g_strdup_printf("create %s", remote_path);
	/* EXCL: the file is new, so it has @mode from its first byte on (a
	 * secret never sits in a file that others could read). */
	LIBSSH2_SFTP_HANDLE *h =
	    libssh2_sftp_open_ex(ssh->sftp, remote_path, strlen(remote_path),
				 LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, mode, LIBSSH2_SFTP_OPENFILE);
	if (!h)
		return throw_sftp(ssh, what, error);
	gsize len = 0;
	const char *p = g_bytes_get_data(data, &len);
	gboolean ok = TRUE;
	while (ok && len > 0) {
		ssize_t n = libssh2_sftp_write(h, p, len);
		if (n <= 0) {
			g_free(what);
			what = g_strdup_printf("write %s", remote_path);
			ok = throw_sftp(ssh, what, error);
			break;
		}
		p += n;
		len -= n;
	}
	/* The server's umask may have taken bits off @mode. */
	LIBSSH2_SFTP_ATTRIBUTES attrs = {.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS, .permissions = mode};
	if (ok && libssh2_sftp_fsetstat(h, &attrs) != 0) {
		g_free(what);
		what = g_strdup_printf("chmod %s", remote_path);
		ok = throw_sftp(ssh, what, error);
	}
	if (libssh2_sftp_close(h) != 0 && ok) {
		g_free(what);
		what = g_strdup_printf("close %s", remote_path);
		ok = throw_sftp(ssh, what, error);
	}
	return ok;
}
