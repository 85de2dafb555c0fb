/* server.c — non-blocking server connections on the GLib main loop;
 * see server.h.  Every byte a peer sends passes through read_ready(),
 * which is where the size and protocol checks happen. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "util.h"

typedef struct {
	int fd;
	guint watch;
	gboolean is_unix;
} Listener;

struct _KiteServer {
	KiteServerOptions opt;
	char **admins;
	KiteServerHandler handler;
	gpointer user_data;
	GPtrArray *listeners; /* Listener* */
	GList *conns;	      /* KiteServerConn* */
	guint n_conns;
	guint sweep;
};

struct _KiteServerConn {
	KiteServer *srv;
	int fd;
	gboolean is_unix;
	char *peer;
	char *identity;
	KiteRole role;
	guint8 nonce[KITE_AUTH_NONCE_BYTES];
	GByteArray *in;
	GByteArray *out;
	gsize out_pos;
	guint read_watch;
	guint write_watch;
	gboolean close_after_write;
	gboolean replied;
	double last_activity;
};

static void conn_close(KiteServerConn *c);
static gboolean read_ready(gint fd, GIOCondition cond, gpointer data);
static gboolean write_ready(gint fd, GIOCondition cond, gpointer data);

guint kite_server_n_connections(const KiteServer *srv)
{
	return srv->n_conns;
}

const char *kite_server_conn_identity(const KiteServerConn *conn)
{
	return conn->identity;
}

KiteRole kite_server_conn_role(const KiteServerConn *conn)
{
	return conn->role;
}

const char *kite_server_conn_peer(const KiteServerConn *conn)
{
	return conn->peer;
}

static void update_watches(KiteServerConn *c)
{
	gboolean want_write = c->out->len > c->out_pos;
	/* One request at a time: stop reading while a reply is pending, and
	 * for good once the connection is to be closed. */
	gboolean want_read = !want_write && !c->close_after_write;
	if (want_write && !c->write_watch)
		c->write_watch = g_unix_fd_add(c->fd, G_IO_OUT, write_ready, c);
	if (!want_write && c->write_watch) {
		g_source_remove(c->write_watch);
		c->write_watch = 0;
	}
	if (want_read && !c->read_watch)
		c->read_watch = g_unix_fd_add(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, read_ready, c);
	if (!want_read && c->read_watch) {
		g_source_remove(c->read_watch);
		c->read_watch = 0;
	}
}

static void handle_frames(KiteServerConn *c);

/* Handle the requests already received and write what is queued, until
 * the socket would block or input runs out; returns FALSE if the
 * connection was closed (error, or done and close_after_write).  A
 * client may send several requests without waiting (pipelining): those
 * still buffered are handled as soon as the previous reply is out, not
 * when more bytes happen to arrive. */
static gboolean flush(KiteServerConn *c)
{
	for (;;) {
		if (c->out->len == 0 && !c->close_after_write)
			handle_frames(c);
		if (c->out->len == 0)
			break;
		while (c->out_pos < c->out->len) {
			ssize_t n = send(c->fd, c->out->data + c->out_pos, c->out->len - c->out_pos,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0) {
				conn_close(c);
				return FALSE;
			}
			c->out_pos += n;
		}
		if (c->out_pos < c->out->len)
			break;
		g_byte_array_set_size(c->out, 0);
		c->out_pos = 0;
		if (c->close_after_write) {
			conn_close(c);
			return FALSE;
		}
	}
	update_watches(c);
	return TRUE;
}

static void queue_message(KiteServerConn *c, KiteMsgType type, GVariant *body)
{
	g_autoptr(GVariant) owned = g_variant_ref_sink(body);
	kite_wire_debug("send", c->peer, type, owned);
	g_autoptr(GBytes) frame = kite_wire_encode(type, owned);
	gsize len;
	const guint8 *data = g_bytes_get_data(frame, &len);
	g_byte_array_append(c->out, data, len);
}

void kite_server_reply(KiteServerConn *conn, KiteMsgType type, GVariant *body)
{
	conn->replied = TRUE;
	queue_message(conn, type, body);
}

void kite_server_reply_error(KiteServerConn *conn, const GError *error, gboolean close)
{
	conn->replied = TRUE;
	queue_message(conn, KITE_MSG_ERROR, kite_wire_error_body(error));
	if (close)
		conn->close_after_write = TRUE;
}

/* Log "PEER: request refused: MESSAGE" (or "PEER: MESSAGE; closing
 * the connection") and reply ERROR. */
static void refuse_v(KiteServerConn *c, gboolean close, KiteErrorCode code, const char *fmt, va_list ap)
    G_GNUC_PRINTF(4, 0);
static void refuse_v(KiteServerConn *c, gboolean close, KiteErrorCode code, const char *fmt, va_list ap)
{
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	g_autoptr(GError) e = g_error_new_literal(KITE_ERROR, code, msg);
	if (close)
		g_message("%s: %s; closing the connection", c->peer, msg);
	else
		g_message("%s: request refused: %s", c->peer, msg);
	kite_server_reply_error(c, e, close);
}

void kite_server_refuse(KiteServerConn *conn, KiteErrorCode code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	refuse_v(conn, FALSE, code, fmt, ap);
	va_end(ap);
}

static void fail_conn(KiteServerConn *c, KiteErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void fail_conn(KiteServerConn *c, KiteErrorCode code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	refuse_v(c, TRUE, code, fmt, ap);
	va_end(ap);
}

static gboolean is_admin(KiteServer *srv, const char *user)
{
	return srv->admins && g_strv_contains((const char *const *)srv->admins, user);
}

/* Authentication messages on a TCP connection that has not proved who
 * it is yet. */
static void handle_auth(KiteServerConn *c, guint type, GVariant *body)
{
	KiteServer *srv = c->srv;
	g_autoptr(GError) error = NULL;
	if (type == KITE_MSG_AUTH_TOKEN) {
		const char *token;
		g_variant_get(body, "(&s)", &token);
		g_autofree char *user = NULL;
		if (!srv->opt.key ||
		    !kite_auth_token_verify(srv->opt.key, token, kite_now_wall(), &user, &error)) {
			fail_conn(c, KITE_ERROR_AUTH, "authentication failed: %s",
				  error ? error->message : "this daemon has no pool key");
			return;
		}
		c->identity = g_steal_pointer(&user);
		c->role = is_admin(srv, c->identity) ? KITE_ROLE_ADMIN : KITE_ROLE_USER;
	} else if (type == KITE_MSG_AUTH_DAEMON) {
		const char *name;
		g_autoptr(GVariant) pv = NULL;
		g_variant_get(body, "(&s@ay)", &name, &pv);
		g_autoptr(GBytes) proof = g_variant_get_data_as_bytes(pv);
		g_autoptr(GBytes) nonce = g_bytes_new(c->nonce, sizeof c->nonce);
		if (!*name || strlen(name) > KITE_SERVER_MAX_DAEMON_NAME) {
			fail_conn(c, KITE_ERROR_AUTH, "authentication failed: a daemon name must have 1 to %d bytes",
				  KITE_SERVER_MAX_DAEMON_NAME);
			return;
		}
		if (!srv->opt.key || !kite_auth_check_daemon_proof(srv->opt.key, nonce, name, proof)) {
			fail_conn(c, KITE_ERROR_AUTH,
				  "authentication failed: daemon \"%s\" does not hold this pool's key", name);
			return;
		}
		g_free(c->identity);
		c->identity = g_strdup_printf("daemon:%s", name);
		c->role = KITE_ROLE_DAEMON;
	} else {
		fail_conn(
		    c, KITE_ERROR_AUTH,
		    "%s before authentication: present a token (pool token create) or a daemon proof first",
		    kite_wire_type_name(type));
		return;
	}
	static const char *const roles[] = {"none", "user", "admin", "daemon"};
	kite_server_reply(c, KITE_MSG_AUTH_OK, g_variant_new("(ss)", c->identity, roles[c->role]));
}

static void dispatch(KiteServerConn *c, guint type, GVariant *body)
{
	if (type == KITE_MSG_HELLO || type == KITE_MSG_ERROR || type == KITE_MSG_AUTH_OK) {
		fail_conn(c, KITE_ERROR_PROTOCOL, "unexpected %s from a client", kite_wire_type_name(type));
		return;
	}
	if (type == KITE_MSG_AUTH_TOKEN || type == KITE_MSG_AUTH_DAEMON || c->role == KITE_ROLE_NONE) {
		/* A local peer is known by its uid, but a daemon on the same
		 * host (a startd) may still prove pool membership, once, to
		 * take the daemon role. */
		gboolean upgrade = type == KITE_MSG_AUTH_DAEMON && c->is_unix && c->role != KITE_ROLE_DAEMON;
		if (c->role != KITE_ROLE_NONE && !upgrade) {
			fail_conn(c, KITE_ERROR_PROTOCOL, "already authenticated as %s", c->identity);
			return;
		}
		handle_auth(c, type, body);
		return;
	}
	c->replied = FALSE;
	c->srv->handler(c, type, body, c->srv->user_data);
	if (!c->replied) {
		/* A handler that does not answer is a bug; keep the peer from
		 * waiting forever anyway. */
		fail_conn(c, KITE_ERROR_PROTOCOL, "%s is not a request this daemon answers",
			  kite_wire_type_name(type));
	}
}

/* Handle complete frames until one produces a reply (one request at a
 * time; flush() comes back here once the reply is written). */
static void handle_frames(KiteServerConn *c)
{
	while (c->in->len >= KITE_WIRE_HEADER_SIZE && c->out->len == 0 && !c->close_after_write) {
		KiteWireHeader h;
		g_autoptr(GError) error = NULL;
		if (!kite_wire_parse_header(c->in->data, c->srv->opt.max_body, &h, &error)) {
			fail_conn(c, error->code, "%s", error->message);
			break;
		}
		if (c->in->len < KITE_WIRE_HEADER_SIZE + (gsize)h.length)
			break;
		g_autoptr(GVariant) body =
		    kite_wire_decode_body(h.type, c->in->data + KITE_WIRE_HEADER_SIZE, h.length, &error);
		g_byte_array_remove_range(c->in, 0, KITE_WIRE_HEADER_SIZE + h.length);
		if (!body) {
			fail_conn(c, error->code, "%s", error->message);
			break;
		}
		kite_wire_debug("recv", c->peer, h.type, body);
		dispatch(c, h.type, body);
	}
}

static gboolean read_ready(gint fd, GIOCondition cond, gpointer data)
{
	KiteServerConn *c = data;
	/* Read straight into the input buffer, in large pieces: bulk
	 * transfers (checkpoint images) come through here. */
	enum { READ_SIZE = 256 * 1024 };
	guint old = c->in->len;
	g_byte_array_set_size(c->in, old + READ_SIZE);
	ssize_t n = recv(fd, c->in->data + old, READ_SIZE, MSG_DONTWAIT);
	g_byte_array_set_size(c->in, old + (n > 0 ? (guint)n : 0));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		c->read_watch = 0;
		conn_close(c);
		return G_SOURCE_REMOVE;
	}
	c->last_activity = kite_now_monotonic();

	/* The read watch is this source: let update_watches decide whether it
	 * stays, via flush(), which handles the frames received. */
	guint self = c->read_watch;
	c->read_watch = 0;
	g_source_remove(self);
	flush(c);
	return G_SOURCE_CONTINUE; /* already removed above */
}

static gboolean write_ready(gint fd, GIOCondition cond, gpointer data)
{
	KiteServerConn *c = data;
	guint self = c->write_watch;
	c->write_watch = 0;
	g_source_remove(self);
	flush(c);
	return G_SOURCE_CONTINUE; /* already removed above */
}

static void conn_close(KiteServerConn *c)
{
	KiteServer *srv = c->srv;
	if (c->read_watch)
		g_source_remove(c->read_watch);
	if (c->write_watch)
		g_source_remove(c->write_watch);
	close(c->fd);
	srv->conns = g_list_remove(srv->conns, c);
	srv->n_conns--;
	g_byte_array_unref(c->in);
	g_byte_array_unref(c->out);
	g_free(c->peer);
	g_free(c->identity);
	g_free(c);
}

static void accept_one(KiteServer *srv, int lfd, gboolean is_unix)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			g_warning("accept: %s", g_strerror(errno));
		return;
	}
	KiteServerConn *c = g_new0(KiteServerConn, 1);
	c->srv = srv;
	c->fd = fd;
	c->is_unix = is_unix;
	c->in = g_byte_array_new();
	c->out = g_byte_array_new();
	c->last_activity = kite_now_monotonic();
	srv->conns = g_list_prepend(srv->conns, c);
	srv->n_conns++;

	if (is_unix) {
		uid_t uid;
		g_autoptr(GError) error = NULL;
		if (!kite_auth_peer_uid(fd, &uid, &error)) {
			c->peer = g_strdup("unix:?");
			fail_conn(c, KITE_ERROR_AUTH, "%s", error->message);
			flush(c);
			return;
		}
		c->identity = kite_user_name(uid);
		c->role = is_admin(srv, c->identity) ? KITE_ROLE_ADMIN : KITE_ROLE_USER;
		c->peer = g_strdup_printf("unix:%s", c->identity);
	} else {
		char host[INET6_ADDRSTRLEN] = "?";
		guint port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
			port = ntohs(sin6->sin6_port);
		}
		c->peer = g_strdup_printf("tcp:%s:%u", host, port);
	}

	if (srv->n_conns > srv->opt.max_connections) {
		fail_conn(c, KITE_ERROR_LIMIT, "too many connections (limit %u); try again later",
			  srv->opt.max_connections);
		flush(c);
		return;
	}
	g_autoptr(GError) error = NULL;
	if (!kite_auth_random(c->nonce, sizeof c->nonce, &error)) {
		fail_conn(c, KITE_ERROR_FAILED, "%s", error->message);
		flush(c);
		return;
	}
	GVariant *nonce = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, c->nonce, sizeof c->nonce, 1);
	queue_message(c, KITE_MSG_HELLO,
		      g_variant_new("(ss@ay)", srv->opt.name, PACKAGE_VERSION_STRING, nonce));
	flush(c);
}

static gboolean listener_ready(gint fd, GIOCondition cond, gpointer data)
{
	KiteServer *srv = data;
	gboolean is_unix = FALSE;
	for (guint i = 0; i < srv->listeners->len; i++) {
		Listener *l = g_ptr_array_index(srv->listeners, i);
		if (l->fd == fd)
			is_unix = l->is_unix;
	}
	accept_one(srv, fd, is_unix);
	return G_SOURCE_CONTINUE;
}

/* Close connections that have been silent for longer than the idle
 * timeout (a peer that connects and sends nothing, or half a frame). */
static gboolean sweep_idle(gpointer data)
{
	KiteServer *srv = data;
	double now = kite_now_monotonic();
	GList *l = srv->conns;
	while (l) {
		GList *next = l->next;
		KiteServerConn *c = l->data;
		if (!c->close_after_write && now - c->last_activity > srv->opt.idle_timeout) {
			fail_conn(c, KITE_ERROR_IO, "idle for more than %.0f s", srv->opt.idle_timeout);
			flush(c);
		} else if (c->close_after_write && now - c->last_activity > srv->opt.idle_timeout + 10) {
			/* A peer that does not read its error reply either. */
			conn_close(c);
		}
		l = next;
	}
	return G_SOURCE_CONTINUE;
}

KiteServer *kite_server_new(const KiteServerOptions *options, KiteServerHandler handler, gpointer user_data)
{
	KiteServer *srv = g_new0(KiteServer, 1);
	srv->opt = *options;
	if (!srv->opt.max_body)
		srv->opt.max_body = KITE_WIRE_DEFAULT_MAX_BODY;
	if (!srv->opt.max_connections)
		srv->opt.max_connections = 256;
	if (srv->opt.idle_timeout <= 0)
		srv->opt.idle_timeout = 60;
	srv->admins = g_strdupv((char **)options->admins);
	srv->opt.admins = NULL;
	srv->handler = handler;
	srv->user_data = user_data;
	srv->listeners = g_ptr_array_new();
	double period = MIN(1.0, srv->opt.idle_timeout / 4);
	srv->sweep = g_timeout_add((guint)(period * 1000), sweep_idle, srv);
	return srv;
}

void kite_server_free(KiteServer *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns->data);
	for (guint i = 0; i < srv->listeners->len; i++) {
		Listener *l = g_ptr_array_index(srv->listeners, i);
		g_source_remove(l->watch);
		close(l->fd);
		g_free(l);
	}
	g_ptr_array_unref(srv->listeners);
	g_source_remove(srv->sweep);
	g_strfreev(srv->admins);
	g_free(srv);
}

static void add_listener(KiteServer *srv, int fd, gboolean is_unix)
{
	Listener *l = g_new0(Listener, 1);
	l->fd = fd;
	l->is_unix = is_unix;
	l->watch = g_unix_fd_add(fd, G_IO_IN, listener_ready, srv);
	g_ptr_array_add(srv->listeners, l);
}

gboolean kite_server_listen_unix(KiteServer *srv, const char *path, GError **error)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return kite_throw(error, KITE_ERROR_INVALID, "socket path %s is longer than %zu bytes", path,
				  sizeof sa.sun_path - 1);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kite_throw_errno(error, "socket");
	/* A socket file left by a killed daemon would make bind fail. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		kite_throw_errno(error, "bind %s", path);
		close(fd);
		return FALSE;
	}
	chmod(path, 0666);
	if (listen(fd, 128) < 0) {
		kite_throw_errno(error, "listen %s", path);
		close(fd);
		return FALSE;
	}
	add_listener(srv, fd, TRUE);
	return TRUE;
}

gboolean kite_server_listen_tcp(KiteServer *srv, const char *host, guint16 port, guint16 *out_port,
				GError **error)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const char *h = g_str_equal(host, "*") || !*host ? "0.0.0.0" : host;
	if (g_str_equal(h, "localhost"))
		h = "127.0.0.1";
	if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sl = sizeof *sin;
	} else if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sl = sizeof *sin6;
	} else
		return kite_throw(error, KITE_ERROR_INVALID,
				  "listen address \"%s\" is not a numeric IPv4 or IPv6 address", host);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kite_throw_errno(error, "socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		kite_throw_errno(error, "bind %s:%u", host, port);
		close(fd);
		return FALSE;
	}
	if (listen(fd, 128) < 0) {
		kite_throw_errno(error, "listen %s:%u", host, port);
		close(fd);
		return FALSE;
	}
	sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*out_port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
	add_listener(srv, fd, FALSE);
	return TRUE;
}
