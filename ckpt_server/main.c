/* main.c — ckpt_server: options, config, start-up (state directory, pool
 * key, store, listening socket, collector), --status and --make-token,
 * the main loop and shutdown.  The protocol is in requests.c, storage in
 * store.c, the collector in gc.c.  See docs/ckpt-server.md. */
#include <glib-unix.h>
#include <stdio.h>
#include <malloc.h>
#include <string.h>

#include "auth.h"
#include "ckpt-server.h"
#include "ckpt-store.h"
#include "config-keys.h"
#include "daemon.h"
#include "util.h"

static gboolean arg_status;
static char *arg_make_token;
static char *arg_token_lifetime;

static const GOptionEntry options[] = {
    {"status", 0, 0, G_OPTION_ARG_NONE, &arg_status,
     "Ask the server running on this state directory for its address, space and load, and exit", NULL},
    {"make-token", 0, 0, G_OPTION_ARG_STRING, &arg_make_token,
     "Print a token for USER signed with this server's pool key, and exit", "USER"},
    {"token-lifetime", 0, 0, G_OPTION_ARG_STRING, &arg_token_lifetime,
     "Lifetime of --make-token's token (default 30d)", "DURATION"},
    {NULL},
};

static gboolean on_signal(gpointer data)
{
	g_message("shutting down");
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE;
}

static char *key_path(KiteCkptServer *s)
{
	const char *kp = kite_config_get_string(s->config, "pool_key_file");
	return kp && *kp ? g_strdup(kp) : g_build_filename(s->state_dir, "pool.key", NULL);
}

static gboolean load_limits(KiteCkptServer *s, GError **error)
{
	KiteConfig *c = s->config;
	KiteCkptLimits *l = &s->limits;
	l->total_space = kite_config_get_size(c, "total_space");
	l->owner_quota = kite_config_get_size(c, "owner_quota");
	l->max_image_size = kite_config_get_size(c, "max_image_size");
	l->pack_size = kite_config_get_size(c, "pack_size");
	l->default_lease = (gint64)kite_config_get_duration(c, "default_lease");
	l->max_lease = (gint64)kite_config_get_duration(c, "max_lease");
	l->retention = (gint64)kite_config_get_duration(c, "retention");
	l->upload_timeout = kite_config_get_duration(c, "upload_timeout");
	l->gc_interval = kite_config_get_duration(c, "gc_interval");
	l->compact_below = (double)kite_config_get_int(c, "compact_below") / 100.0;
	if (l->pack_size < KITE_CHUNK_MAX)
		return kite_throw(error, KITE_ERROR_INVALID, "`pack_size` must be at least %u bytes", KITE_CHUNK_MAX);
	if (kite_config_get_int(c, "compact_below") > 100)
		return kite_throw(error, KITE_ERROR_INVALID, "`compact_below` is a percentage (0 to 100)");
	if (l->default_lease < 1 || l->max_lease < l->default_lease)
		return kite_throw(error, KITE_ERROR_INVALID,
				  "`default_lease` must be at least 1 s and at most `max_lease`");
	return TRUE;
}

static gboolean start(KiteCkptServer *s, GError **error)
{
	if (g_mkdir_with_parents(s->state_dir, 0700) < 0)
		return kite_throw_errno(error, "create state directory %s", s->state_dir);
	if (!load_limits(s, error))
		return FALSE;
	g_autofree char *kp = key_path(s);
	s->key = kite_auth_load_key(kp, TRUE, error);
	if (!s->key)
		return FALSE;
	kite_ckpt_uploads_init(s);
	if (!kite_store_open(s, error))
		return FALSE;
	kite_readahead_init();
	KiteServerOptions so = {
	    .name = "ckpt_server",
	    .max_body = kite_config_get_size(s->config, "max_message_size"),
	    .max_connections = kite_config_get_int(s->config, "max_connections"),
	    .idle_timeout = kite_config_get_duration(s->config, "idle_timeout"),
	    .key = s->key,
	    .admins = kite_config_get_strv(s->config, "admins"),
	};
	s->server = kite_server_new(&so, kite_ckpt_handle, s);
	const char *listen = kite_config_get_string(s->config, "listen");
	g_autofree char *host = NULL;
	guint16 port, bound;
	if (!kite_parse_host_port(listen, &host, &port, error)) {
		g_prefix_error(error, "`listen`: ");
		return FALSE;
	}
	if (!kite_server_listen_tcp(s->server, host, port, &bound, error))
		return FALSE;
	s->address = g_strdup_printf("%s:%u", host, bound);
	g_autofree char *line = g_strdup_printf("%s\n", s->address);
	g_autofree char *addr_path = g_build_filename(s->state_dir, "ckpt_server.addr", NULL);
	if (!kite_write_file_atomic(addr_path, line, strlen(line), 0644, error))
		return FALSE;
	kite_gc_start(s);
	kite_gc_collect(s); /* what a crash left behind goes at once */
	return kite_ckpt_advertise_start(s, error);
}

static void stop(KiteCkptServer *s)
{
	kite_ckpt_advertise_stop(s);
	kite_gc_stop(s->gc);
	kite_server_free(s->server);
	kite_readahead_shutdown();
	if (s->uploads)
		g_hash_table_unref(s->uploads);
	kite_store_close(s);
	if (s->key)
		g_bytes_unref(s->key);
	kite_config_free(s->config);
	g_free(s->state_dir);
	g_free(s->address);
}

static char *human(guint64 b)
{
	return g_format_size_full(b, G_FORMAT_SIZE_IEC_UNITS);
}

/* --status: ask the running server (address from STATE/ckpt_server.addr)
 * as a daemon holding the pool key. */
static int status(KiteCkptServer *s)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *addr_path = g_build_filename(s->state_dir, "ckpt_server.addr", NULL);
	g_autofree char *addr = NULL;
	if (!g_file_get_contents(addr_path, &addr, NULL, NULL)) {
		fprintf(stderr, "ckpt_server: no server address in %s: is a ckpt_server running on this state directory?\n",
			addr_path);
		return 1;
	}
	g_strstrip(addr);
	g_autofree char *kp = key_path(s);
	g_setenv("KITE_POOL_KEY_FILE", kp, TRUE);
	g_autoptr(KiteCkptClient) c = kite_ckpt_client_connect(addr, 10, &error);
	KiteCkptServerStatus st = {0};
	if (!c || !kite_ckpt_client_status(c, &st, &error)) {
		fprintf(stderr, "ckpt_server: %s\n", error->message);
		return 1;
	}
	g_autofree char *cap = human(st.capacity), *used = human(st.used), *live = human(st.live),
			*free_ = human(st.free);
	printf("address:     %s\n", st.address);
	printf("capacity:    %" G_GUINT64_FORMAT " bytes (%s)\n", st.capacity, cap);
	printf("used:        %" G_GUINT64_FORMAT " bytes (%s)\n", st.used, used);
	printf("referenced:  %" G_GUINT64_FORMAT " bytes (%s) at the last collection\n", st.live, live);
	printf("free:        %" G_GUINT64_FORMAT " bytes (%s)\n", st.free, free_);
	printf("connections: %u\n", st.connections);
	printf("uploads:     %u\n", st.uploads);
	g_free(st.address);
	return 0;
}

static int make_token(KiteCkptServer *s)
{
	g_autoptr(GError) error = NULL;
	double life = 30 * 86400;
	if (arg_token_lifetime && !kite_parse_duration(arg_token_lifetime, &life, &error)) {
		fprintf(stderr, "ckpt_server: --token-lifetime: %s\n", error->message);
		return 2;
	}
	g_autofree char *kp = key_path(s);
	g_autoptr(GBytes) key = kite_auth_load_key(kp, FALSE, &error);
	if (!key) {
		fprintf(stderr, "ckpt_server: %s\n", error->message);
		return 1;
	}
	g_autofree char *t = kite_auth_token_create(key, arg_make_token, kite_now_wall() + (gint64)life);
	printf("%s\n", t);
	return 0;
}

int main(int argc, char **argv)
{
	/* Bulk buffers (messages of megabytes) come and go all the time: keep
	 * them in the heap instead of a fresh mmap (and page faults) each. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	g_autoptr(GError) error = NULL;
	KiteDaemonSetup setup = {0};
	int rc = kite_daemon_setup("ckpt_server", "— Kite's checkpoint server",
				   "Stores checkpoint images named by capabilities, with leases,\n"
				   "deduplicated chunks and atomic commits.  Runs in the foreground\n"
				   "and logs to stderr.  See docs/ckpt-server.md.",
				   options, kite_ckpt_server_config_keys, &argc, &argv, &setup);
	if (rc >= 0)
		return rc;
	KiteCkptServer s = {.config = setup.config, .state_dir = setup.state_dir};
	if (arg_status || arg_make_token) {
		rc = arg_status ? status(&s) : make_token(&s);
		stop(&s);
		return rc;
	}
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	if (!start(&s, &error)) {
		fprintf(stderr, "ckpt_server: %s\n", error->message);
		stop(&s);
		return 1;
	}
	g_unix_signal_add(SIGTERM, on_signal, loop);
	g_unix_signal_add(SIGINT, on_signal, loop);
	g_message("ready on %s (state in %s, %u allocations, %" G_GUINT64_FORMAT " bytes stored)", s.address,
		  s.state_dir, g_hash_table_size(s.allocs), s.used);
	g_main_loop_run(loop);
	stop(&s);
	return 0;
}
