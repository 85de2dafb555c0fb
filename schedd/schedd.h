/* schedd.h — the schedd's shared state, and the entry point of its
 * request handlers (requests.c).  main.c owns start-up and the loop. */
#pragma once

#include "config.h"
#include "queue.h"
#include "server.h"

typedef struct {
	KiteConfig *config;
	KiteQueue *queue;
	KiteServer *server;
	GBytes *key;
	char *state_dir;
} KiteSchedd;

/* The KiteServerHandler for the schedd: answers every client request. */
void kite_schedd_handle(KiteServerConn *conn, guint type, GVariant *body, gpointer user_data);
