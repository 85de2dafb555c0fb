/* conn.h — the client side of a Kite connection: connect to a daemon
 * over a Unix socket or TCP, authenticate, and exchange messages with
 * blocking I/O and timeouts.  Used by the command-line tools (and later
 * by daemons talking to each other).  Daemons' server side is server.h.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

#include "wire.h"

G_BEGIN_DECLS

typedef struct _KiteConn KiteConn;

/* Connect to @address — a Unix socket path (anything with a '/', or no
 * ':') or HOST:PORT — and read the server's HELLO.  @timeout in seconds
 * bounds every later operation too. */
KiteConn *kite_conn_connect(const char *address, double timeout, GError **error);
void kite_conn_free(KiteConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteConn, kite_conn_free)

gboolean kite_conn_is_unix(const KiteConn *conn);
/* Bound every later operation by @timeout seconds instead. */
void kite_conn_set_timeout(KiteConn *conn, double timeout);

/* The connection's socket, to wait for a reply from a main loop
 * (g_unix_fd_add) instead of in kite_conn_recv. */
int kite_conn_fd(const KiteConn *conn);

/* Present a user token (TCP).  On success the server's idea of who we
 * are is available from kite_conn_identity(). */
gboolean kite_conn_auth_token(KiteConn *conn, const char *token, GError **error);
/* Prove pool membership as daemon @name with @key. */
gboolean kite_conn_auth_daemon(KiteConn *conn, GBytes *key, const char *name, GError **error);
const char *kite_conn_identity(const KiteConn *conn);

/* Send one message; @body is consumed (floating references sunk). */
gboolean kite_conn_send(KiteConn *conn, KiteMsgType type, GVariant *body, GError **error);
/* Receive one message.  An ERROR message from the peer becomes @error
 * (with its code and text) and NULL is returned. */
GVariant *kite_conn_recv(KiteConn *conn, guint *out_type, GError **error);
/* Send @type/@body and receive a reply that must be of @reply_type. */
GVariant *kite_conn_call(KiteConn *conn, KiteMsgType type, GVariant *body, KiteMsgType reply_type,
			 GError **error);


G_END_DECLS
