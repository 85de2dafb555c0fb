/* ckpt: run programs with checkpointing, checkpoint them, restart them
 * and inspect their images.  See docs/ckpt.md. */
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "libckpt/cmd/ckpt.h"

static void usage(FILE *f)
{
	fputs("usage: ckpt run [--dir DIR] [--interval SECONDS] -- PROG [ARGS...]\n"
	      "       ckpt now [--exit] [--dir DIR] [--timeout SECONDS] PID\n"
	      "       ckpt restart [--move OLD=NEW] [--interval SECONDS] [--ckpt-dir DIR] IMAGE|DIR\n"
	      "       ckpt inspect [--summary] [--no-verify] IMAGE|DIR\n"
	      "   with a checkpoint server (docs/ckpt-server.md; capabilities in a 0600 caps file):\n"
	      "       ckpt run --server HOST:PORT [--lease DURATION] [--dir DIR] -- PROG [ARGS...]\n"
	      "       ckpt restart|inspect [--server HOST:PORT] [--caps FILE] [DIR]\n"
	      "       ckpt alloc --server HOST:PORT [--owner USER] [--lease DURATION] [--size SIZE] CAPSFILE\n"
	      "       ckpt upload [--caps FILE] < IMAGE\n"
	      "       ckpt download [--server HOST:PORT] [--caps FILE] [-o FILE]\n"
	      "       ckpt lease [--caps FILE] stat|renew|delete [--lease DURATION]\n"
	      "   KITE_CKPT_SANDBOX=DIR ckpt run ...: every image also holds the closed files of DIR\n"
	      "       (restart writes them back, --move follows them; docs/ckpt.md \"The sandbox\")\n",
	      f);
}

char *kite_ckpt_find_sibling(const char *env, const char *relpath)
{
	const char *e = env ? g_getenv(env) : NULL;
	if (e && *e)
		return g_strdup(e);
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	if (!self)
		return g_strdup(relpath);
	g_autofree char *dir = g_path_get_dirname(self);
	return g_build_filename(dir, relpath, NULL);
}

int main(int argc, char **argv)
{
	/* Bulk buffers (messages of megabytes) come and go all the time: keep
	 * them in the heap instead of a fresh mmap (and page faults) each. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return kite_ckpt_cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "now") == 0)
		return kite_ckpt_cmd_now(argc - 1, argv + 1);
	if (strcmp(cmd, "restart") == 0)
		return kite_ckpt_cmd_restart(argc - 1, argv + 1);
	if (strcmp(cmd, "inspect") == 0)
		return kite_ckpt_cmd_inspect(argc - 1, argv + 1);
	if (strcmp(cmd, "alloc") == 0 || strcmp(cmd, "upload") == 0 || strcmp(cmd, "download") == 0 ||
	    strcmp(cmd, "lease") == 0)
		return kite_ckpt_cmd_server(argc - 1, argv + 1);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "ckpt: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
