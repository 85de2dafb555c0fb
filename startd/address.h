/* address.h — the address the startd gives shadows (StartdAddr in its
 * slot ads): the `listen` address, or, when that is a wildcard
 * (0.0.0.0, ::), the address of this machine that reaches the schedd —
 * the one the schedd's host can reach us at. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* HOST:PORT (or [HOST]:PORT) for shadows to connect to, given the
 * listen host @listen_host, the port actually bound @port and the
 * schedd's address @schedd (HOST:PORT or a Unix socket path, which means
 * the schedd is on this host: 127.0.0.1).  Sets @out_warning (newly
 * allocated, or NULL) when the address is loopback but the schedd is
 * not, so that no shadow on the schedd's host could reach it. */
char *kite_startd_contact_address(const char *listen_host, guint16 port, const char *schedd,
				  char **out_warning, GError **error);

G_END_DECLS
