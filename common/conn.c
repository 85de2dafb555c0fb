/* conn.c — blocking client connections with timeouts; see conn.h. */
#include "conn.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "util.h"

struct _KiteConn {
	int fd;
	gboolean is_unix;
	double timeout;
	char *address;
	GBytes *nonce;
	char *identity;
};

void kite_conn_free(KiteConn *conn)
{
	if (!conn)
		return;
	if (conn->fd >= 0)
		close(conn->fd);
	g_free(conn->address);
	g_free(conn->identity);
	if (conn->nonce)
		g_bytes_unref(conn->nonce);
	g_free(conn);
}

gboolean kite_conn_is_unix(const KiteConn *conn)
{
	return conn->is_unix;
}

void kite_conn_set_timeout(KiteConn *conn, double timeout)
{
	conn->timeout = timeout > 0 ? timeout : 30;
}

int kite_conn_fd(const KiteConn *conn)
{
	return conn->fd;
}

const char *kite_conn_identity(const KiteConn *conn)
{
	return conn->identity;
}

/* Wait until @fd is ready for @events or @deadline (monotonic) passes. */
static gboolean wait_fd(KiteConn *conn, short events, double deadline, const char *what, GError **error)
{
	for (;;) {
		double left = deadline - kite_now_monotonic();
		if (left <= 0)
			return kite_throw(error, KITE_ERROR_IO, "%s %s: timed out after %.0f s", what,
					  conn->address, conn->timeout);
		struct pollfd p = {.fd = conn->fd, .events = events};
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kite_throw_errno(error, "poll %s", conn->address);
		if (r > 0)
			return TRUE;
	}
}

static gboolean connect_unix(KiteConn *conn, const char *path, GError **error)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return kite_throw(error, KITE_ERROR_INVALID, "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	conn->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn->fd < 0)
		return kite_throw_errno(error, "socket");
	if (connect(conn->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return kite_throw_errno(error, "connect to %s", path);
	conn->is_unix = TRUE;
	return TRUE;
}

static gboolean connect_tcp(KiteConn *conn, const char *address, GError **error)
{
	g_autofree char *host = NULL;
	guint16 port;
	if (!kite_parse_host_port(address, &host, &port, error))
		return FALSE;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", port);
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
		return kite_throw(error, KITE_ERROR_IO, "resolve %s: %s", host, gai_strerror(rc));
	gboolean ok = FALSE;
	int saved = 0;
	for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		conn->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			double deadline = kite_now_monotonic() + conn->timeout;
			if (wait_fd(conn, POLLOUT, deadline, "connect to", NULL)) {
				int err = 0;
				socklen_t len = sizeof err;
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err == 0)
					ok = TRUE;
				else
					saved = err;
			} else
				saved = ETIMEDOUT;
		} else
			saved = errno;
		if (!ok) {
			close(fd);
			conn->fd = -1;
		}
	}
	freeaddrinfo(res);
	if (!ok) {
		errno = saved;
		return kite_throw_errno(error, "connect to %s", address);
	}
	return TRUE;
}

static gboolean write_all(KiteConn *conn, const guint8 *p, gsize len, GError **error)
{
	double deadline = kite_now_monotonic() + conn->timeout;
	while (len > 0) {
		ssize_t n = send(conn->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!wait_fd(conn, POLLOUT, deadline, "send to", error))
				return FALSE;
			continue;
		}
		if (n < 0)
			return kite_throw_errno(error, "send to %s", conn->address);
		p += n;
		len -= n;
	}
	return TRUE;
}

static gboolean read_all(KiteConn *conn, guint8 *p, gsize len, double deadline, GError **error)
{
	while (len > 0) {
		ssize_t n = recv(conn->fd, p, len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!wait_fd(conn, POLLIN, deadline, "receive from", error))
				return FALSE;
			continue;
		}
		if (n < 0)
			return kite_throw_errno(error, "receive from %s", conn->address);
		if (n == 0)
			return kite_throw(error, KITE_ERROR_IO, "%s closed the connection", conn->address);
		p += n;
		len -= n;
	}
	return TRUE;
}

gboolean kite_conn_send(KiteConn *conn, KiteMsgType type, GVariant *body, GError **error)
{
	g_autoptr(GVariant) owned = g_variant_ref_sink(body);
	kite_wire_debug("send", conn->address, type, owned);
	g_autoptr(GBytes) frame = kite_wire_encode(type, owned);
	gsize len;
	const guint8 *data = g_bytes_get_data(frame, &len);
	return write_all(conn, data, len, error);
}

GVariant *kite_conn_recv(KiteConn *conn, guint *out_type, GError **error)
{
	double deadline = kite_now_monotonic() + conn->timeout;
	guint8 hdr[KITE_WIRE_HEADER_SIZE];
	KiteWireHeader h;
	if (!read_all(conn, hdr, sizeof hdr, deadline, error))
		return NULL;
	/* Replies can be large (a q over many jobs); the client accepts up
	 * to 1 GiB, the server decides what it sends. */
	if (!kite_wire_parse_header(hdr, 1024u * 1024 * 1024, &h, error))
		return NULL;
	g_autofree guint8 *body = g_malloc(h.length ? h.length : 1);
	if (!read_all(conn, body, h.length, deadline, error))
		return NULL;
	g_autoptr(GVariant) v = kite_wire_decode_body(h.type, body, h.length, error);
	if (!v)
		return NULL;
	kite_wire_debug("recv", conn->address, h.type, v);
	if (h.type == KITE_MSG_ERROR) {
		kite_wire_error_from_body(v, error);
		return NULL;
	}
	if (out_type)
		*out_type = h.type;
	return g_steal_pointer(&v);
}

GVariant *kite_conn_call(KiteConn *conn, KiteMsgType type, GVariant *body, KiteMsgType reply_type,
			 GError **error)
{
	if (!kite_conn_send(conn, type, body, error))
		return NULL;
	guint got;
	g_autoptr(GVariant) reply = kite_conn_recv(conn, &got, error);
	if (!reply)
		return NULL;
	if (got != reply_type) {
		kite_throw(error, KITE_ERROR_PROTOCOL, "%s answered %s to %s (expected %s)", conn->address,
			   kite_wire_type_name(got), kite_wire_type_name(type),
			   kite_wire_type_name(reply_type));
		return NULL;
	}
	return g_steal_pointer(&reply);
}

KiteConn *kite_conn_connect(const char *address, double timeout, GError **error)
{
	g_autoptr(KiteConn) conn = g_new0(KiteConn, 1);
	conn->fd = -1;
	conn->timeout = timeout > 0 ? timeout : 30;
	conn->address = g_strdup(address);
	gboolean is_unix = strchr(address, '/') != NULL || strchr(address, ':') == NULL;
	if (!(is_unix ? connect_unix(conn, address, error) : connect_tcp(conn, address, error)))
		return NULL;
	guint type;
	g_autoptr(GVariant) hello = kite_conn_recv(conn, &type, error);
	if (!hello)
		return NULL;
	if (type != KITE_MSG_HELLO) {
		kite_throw(error, KITE_ERROR_PROTOCOL, "%s sent %s instead of HELLO", address,
			   kite_wire_type_name(type));
		return NULL;
	}
	const char *name, *version;
	g_autoptr(GVariant) nonce = NULL;
	g_variant_get(hello, "(&s&s@ay)", &name, &version, &nonce);
	conn->nonce = g_variant_get_data_as_bytes(nonce);
	return g_steal_pointer(&conn);
}

static gboolean finish_auth(KiteConn *conn, KiteMsgType type, GVariant *body, GError **error)
{
	g_autoptr(GVariant) ok = kite_conn_call(conn, type, body, KITE_MSG_AUTH_OK, error);
	if (!ok)
		return FALSE;
	const char *ident, *role;
	g_variant_get(ok, "(&s&s)", &ident, &role);
	g_free(conn->identity);
	conn->identity = g_strdup(ident);
	return TRUE;
}

gboolean kite_conn_auth_token(KiteConn *conn, const char *token, GError **error)
{
	return finish_auth(conn, KITE_MSG_AUTH_TOKEN, g_variant_new("(s)", token), error);
}

gboolean kite_conn_auth_daemon(KiteConn *conn, GBytes *key, const char *name, GError **error)
{
	g_autoptr(GBytes) proof = kite_auth_daemon_proof(key, conn->nonce, name);
	GVariant *pv = g_variant_new_from_bytes(G_VARIANT_TYPE("ay"), proof, TRUE);
	return finish_auth(conn, KITE_MSG_AUTH_DAEMON, g_variant_new("(s@ay)", name, pv), error);
}
