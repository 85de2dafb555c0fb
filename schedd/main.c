/* main.c — the schedd: start-up (options, config, state directory, pool
 * key, queue database, sockets), the main loop, and shutdown.  Requests
 * are answered in requests.c; the queue lives in queue.c, machine ads in
 * collector.c, matching in negotiator.c and running jobs in shadows.c. */
#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "config-keys.h"
#include "daemon.h"
#include "schedd.h"
#include "userlog.h"
#include "util.h"

static gboolean on_signal(gpointer data)
{
	g_message("shutting down");
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE;
}

static gboolean purge_history(gpointer data)
{
	KiteSchedd *s = data;
	gint64 n = kite_queue_purge_history(s->queue,
					    (gint64)kite_config_get_duration(s->config, "history_retention"));
	if (n > 0)
		g_message("dropped %" G_GINT64_FORMAT " jobs from the history", n);
	return G_SOURCE_CONTINUE;
}

static gboolean expire_machines(gpointer data)
{
	KiteSchedd *s = data;
	kite_collector_expire(s->collector, kite_now_monotonic());
	return G_SOURCE_CONTINUE;
}

static char *state_path(KiteSchedd *s, const char *key, const char *file)
{
	const char *v = key ? kite_config_get_string(s->config, key) : NULL;
	return v && *v ? g_strdup(v) : g_build_filename(s->state_dir, file, NULL);
}

static gboolean start(KiteSchedd *s, GError **error)
{
	if (g_mkdir_with_parents(s->state_dir, 0755) < 0)
		return kite_throw_errno(error, "create state directory %s", s->state_dir);

	s->key_path = state_path(s, "pool_key_file", "pool.key");
	s->key = kite_auth_load_key(s->key_path, TRUE, error);
	if (!s->key)
		return FALSE;

	KiteQueueLimits limits = {
	    .max_per_submit = kite_config_get_int(s->config, "max_jobs_per_submit"),
	    .max_per_owner = kite_config_get_int(s->config, "max_jobs_per_owner"),
	    .max_total = kite_config_get_int(s->config, "max_jobs"),
	    .max_attribute_size = kite_config_get_size(s->config, "max_attribute_size"),
	};
	g_autofree char *db = g_build_filename(s->state_dir, "queue.db", NULL);
	s->queue = kite_queue_open(db, &limits, error);
	if (!s->queue)
		return FALSE;

	KiteServerOptions so = {
	    .name = "schedd",
	    .max_body = kite_config_get_size(s->config, "max_message_size"),
	    .max_connections = kite_config_get_int(s->config, "max_connections"),
	    .idle_timeout = kite_config_get_duration(s->config, "client_timeout"),
	    .key = s->key,
	    .admins = kite_config_get_strv(s->config, "admins"),
	};
	s->server = kite_server_new(&so, kite_schedd_handle, s);
	kite_schedd_shadows_init(s);
	s->collector = kite_collector_new(kite_config_get_int(s->config, "max_machines"),
					  kite_config_get_duration(s->config, "machine_ad_lifetime"));

	g_autofree char *sock = state_path(s, "socket", "schedd.sock");
	if (!kite_server_listen_unix(s->server, sock, error))
		return FALSE;
	g_message("listening on %s", sock);

	const char *listen = kite_config_get_string(s->config, "listen");
	if (listen && *listen) {
		g_autofree char *host = NULL;
		guint16 port, bound;
		if (!kite_parse_host_port(listen, &host, &port, error))
			return FALSE;
		if (!kite_server_listen_tcp(s->server, host, port, &bound, error))
			return FALSE;
		g_autofree char *addr = g_strdup_printf("%s:%u\n", host, bound);
		g_autofree char *addr_path = g_build_filename(s->state_dir, "schedd.addr", NULL);
		if (!kite_write_file_atomic(addr_path, addr, strlen(addr), 0644, error))
			return FALSE;
		g_message("listening on %s:%u", host, bound);
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	KiteDaemonSetup setup = {0};
	int rc = kite_daemon_setup("schedd", "— Kite's job queue daemon",
				   "Keeps the durable job queue and answers submit, q and pool.\n"
				   "Runs in the foreground and logs to stderr. See docs/schedd.md.",
				   NULL, kite_schedd_config_keys, &argc, &argv, &setup);
	if (rc >= 0)
		return rc;
	KiteSchedd s = {.config = setup.config, .state_dir = setup.state_dir};
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	if (!start(&s, &error)) {
		fprintf(stderr, "schedd: %s\n", error->message);
		return 1;
	}
	g_unix_signal_add(SIGTERM, on_signal, loop);
	g_unix_signal_add(SIGINT, on_signal, loop);
	purge_history(&s);
	g_timeout_add_seconds(3600, purge_history, &s);
	g_timeout_add(500, expire_machines, &s);
	/* jobs' event logs (job file key `log`), a quarter second behind */
	g_autofree char *submit_host = g_strdup_printf("schedd@%s", g_get_host_name());
	KiteUserLog *userlog = kite_userlog_new(s.queue, submit_host);
	g_timeout_add(250, kite_userlog_flush_source, userlog);
	double pi = kite_config_get_duration(s.config, "periodic_expr_interval");
	g_timeout_add((guint)CLAMP(pi * 1000, 100, 3600 * 1000), kite_schedd_periodic, &s);
	double ni = kite_config_get_duration(s.config, "negotiator_interval");
	g_timeout_add((guint)CLAMP(ni * 1000, 100, 3600 * 1000), kite_schedd_negotiate, &s);
	g_message("ready (state in %s)", s.state_dir);
	g_main_loop_run(loop);

	kite_schedd_shadows_free(&s);
	kite_userlog_flush(userlog); /* what the last shadows reported */
	kite_userlog_free(userlog);
	kite_server_free(s.server);
	kite_collector_free(s.collector);
	kite_queue_close(s.queue);
	kite_config_free(s.config);
	g_bytes_unref(s.key);
	g_free(s.state_dir);
	g_free(s.key_path);
	return 0;
}
