/* pool-ckpt.c — `pool ckpt ls` and `pool ckpt rm ID…`: the allocations of
 * a checkpoint server (docs/ckpt-server.md).  The server comes from
 * --ckpt-server HOST:PORT or $KITE_CKPT_SERVER; credentials as for every
 * client of it (the pool key in $KITE_POOL_KEY_FILE, or a user token).
 * Admins see and remove every allocation; users see their own. */
#include <stdio.h>
#include <string.h>

#include "ckpt-store.h"
#include "pool-ckpt.h"
#include "util.h"

static const char usage[] = "Usage: pool ckpt [--ckpt-server HOST:PORT] ls [--owner USER]\n"
			    "       pool ckpt [--ckpt-server HOST:PORT] rm ID…\n"
			    "The server is --ckpt-server, else $KITE_CKPT_SERVER.  See docs/ckpt-server.md.\n";

static char *when(gint64 t)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_unix_utc(t);
	return d ? g_date_time_format(d, "%Y-%m-%d %H:%M") : g_strdup("?");
}

static int ls(KiteCkptClient *c, const char *owner)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = kite_ckpt_client_list(c, owner, &error);
	if (!list) {
		fprintf(stderr, "pool ckpt: %s\n", error->message);
		return 1;
	}
	printf("%-16s %-12s %-9s %14s %9s %-16s\n", "ID", "OWNER", "STATE", "SIZE", "CHUNKS", "LEASE UNTIL");
	for (guint i = 0; i < list->len; i++) {
		KiteCkptInfo *in = list->pdata[i];
		g_autofree char *e = when(in->expires);
		printf("%-16s %-12s %-9s %14" G_GUINT64_FORMAT " %9" G_GUINT64_FORMAT " %-16s\n", in->id, in->owner,
		       in->state, in->size, in->chunks, e);
	}
	return 0;
}

int kite_pool_ckpt(const char *program, int argc, char **argv)
{
	const char *server = g_getenv("KITE_CKPT_SERVER"), *owner = "";
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (g_str_equal(argv[i], "--ckpt-server") && i + 1 < argc)
			server = argv[++i];
		else if (g_str_has_prefix(argv[i], "--ckpt-server="))
			server = argv[i] + strlen("--ckpt-server=");
		else if (g_str_equal(argv[i], "--help") || g_str_equal(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "%s ckpt: unknown option %s\n%s", program, argv[i], usage);
			return 2;
		}
	}
	if (i >= argc || !server || !*server) {
		fprintf(stderr, "%s ckpt: %s\n%s", program, server ? "what to do?" : "which checkpoint server? (--ckpt-server)",
			usage);
		return 2;
	}
	const char *cmd = argv[i++];
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteCkptClient) c = kite_ckpt_client_connect(server, 30, &error);
	if (!c) {
		fprintf(stderr, "%s ckpt: %s\n", program, error->message);
		return 1;
	}
	if (g_str_equal(cmd, "ls")) {
		if (i + 1 < argc && g_str_equal(argv[i], "--owner"))
			owner = argv[i + 1];
		return ls(c, owner);
	}
	if (g_str_equal(cmd, "rm")) {
		if (i >= argc) {
			fprintf(stderr, "%s ckpt rm: which allocations? (IDs from `pool ckpt ls`)\n", program);
			return 2;
		}
		int rc = 0;
		for (; i < argc; i++) {
			g_autoptr(GError) e = NULL;
			if (kite_ckpt_client_manage(c, argv[i], "delete", 0, NULL, &e))
				printf("%s: deleted\n", argv[i]);
			else {
				fprintf(stderr, "%s ckpt rm: %s: %s\n", program, argv[i], e->message);
				rc = 1;
			}
		}
		return rc;
	}
	fprintf(stderr, "%s ckpt: unknown command `%s`\n%s", program, cmd, usage);
	return 2;
}
