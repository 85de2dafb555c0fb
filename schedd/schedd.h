/* schedd.h — the schedd's shared state, and the entry point of its
 * request handlers (requests.c).  main.c owns start-up and the loop. */
#pragma once

#include "collector.h"
#include "config.h"
#include "queue.h"
#include "server.h"

typedef struct {
	KiteConfig *config;
	KiteQueue *queue;
	KiteServer *server;
	GBytes *key;
	char *state_dir;
	KiteCollector *collector;
} KiteSchedd;

/* The KiteServerHandler for the schedd: answers every client request. */
void kite_schedd_handle(KiteServerConn *conn, guint type, GVariant *body, gpointer user_data);

/* The collector's requests (collector.c): MACHINE_ADS, MACHINE_INVALIDATE
 * and MACHINES_QUERY.  Returns FALSE for any other message type. */
gboolean kite_schedd_collector_handle(KiteSchedd *s, KiteServerConn *conn, guint type, GVariant *body);

/* Parse a query's constraint; the error names the column ("constraint,
 * column 8: …"). */
KiteExpr *kite_schedd_parse_constraint(const char *text, GError **error);
