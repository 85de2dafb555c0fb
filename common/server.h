/* server.h — the server side of Kite's wire protocol, shared by every
 * daemon: listen on a Unix socket and/or TCP, greet each peer with
 * HELLO, establish who it is (SO_PEERCRED, token or daemon proof), read
 * framed messages without blocking the main loop, and hand each
 * complete, validated message to the daemon's handler.
 *
 * Anything malformed gets an ERROR reply and the connection is closed;
 * limits (connections, message size, idle time) are enforced here so
 * that no daemon has to remember them.  One request is handled at a time
 * per connection: reading pauses while a reply is being written. */
#pragma once

#include <glib.h>

#include "util.h"
#include "wire.h"

G_BEGIN_DECLS

typedef enum {
	KITE_ROLE_NONE = 0, /* not authenticated yet (TCP) */
	KITE_ROLE_USER,
	KITE_ROLE_ADMIN,
	KITE_ROLE_DAEMON,
} KiteRole;

/* Longest daemon name accepted in AUTH_DAEMON. */
#define KITE_SERVER_MAX_DAEMON_NAME 256

typedef struct _KiteServer KiteServer;
typedef struct _KiteServerConn KiteServerConn;

/* Called for every authenticated request.  The handler must answer with
 * kite_server_reply() or kite_server_reply_error() before returning.
 * @body is borrowed. */
typedef void (*KiteServerHandler)(KiteServerConn *conn, guint type, GVariant *body, gpointer user_data);

typedef struct {
	const char *name;	   /* daemon name for HELLO, e.g. "schedd" */
	gsize max_body;		   /* largest message accepted */
	guint max_connections;	   /* more are refused with an error */
	double idle_timeout;	   /* seconds without a message before closing */
	GBytes *key;		   /* pool key (borrowed for the server's life) */
	const char *const *admins; /* user names with the admin role */
} KiteServerOptions;

KiteServer *kite_server_new(const KiteServerOptions *options, KiteServerHandler handler, gpointer user_data);
void kite_server_free(KiteServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteServer, kite_server_free)

/* Listen on Unix socket @path (an old socket file there is replaced);
 * the socket is mode 0666 so that every local user can reach it —
 * identity comes from SO_PEERCRED, not from file permissions. */
gboolean kite_server_listen_unix(KiteServer *srv, const char *path, GError **error);
/* Listen on TCP @host:@port; writes the port actually bound. */
gboolean kite_server_listen_tcp(KiteServer *srv, const char *host, guint16 port, guint16 *out_port,
				GError **error);

void kite_server_reply(KiteServerConn *conn, KiteMsgType type, GVariant *body);
/* Reply ERROR with @error's code and message; with @close the
 * connection is closed once the reply is written. */
void kite_server_reply_error(KiteServerConn *conn, const GError *error, gboolean close);
/* Refuse the current request: log "PEER: request refused: MESSAGE" and
 * reply ERROR (@code, MESSAGE), keeping the connection open. */
void kite_server_refuse(KiteServerConn *conn, KiteErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Connections open now (for status reports). */
guint kite_server_n_connections(const KiteServer *srv);

const char *kite_server_conn_identity(const KiteServerConn *conn);
KiteRole kite_server_conn_role(const KiteServerConn *conn);
/* "unix:USER" or "tcp:HOST:PORT" for logs. */
const char *kite_server_conn_peer(const KiteServerConn *conn);

G_END_DECLS
