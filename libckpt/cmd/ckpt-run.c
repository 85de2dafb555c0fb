/* ckpt run: exec PROG with libckpt preloaded; PROG keeps our pid. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libckpt/cmd/ckpt.h"

int kite_ckpt_cmd_run(int argc, char **argv)
{
	const char *dir = NULL;
	const char *interval = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strncmp(argv[i], "--dir=", 6) == 0) {
			dir = argv[i] + 6;
		} else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			interval = argv[++i];
		} else if (strncmp(argv[i], "--interval=", 11) == 0) {
			interval = argv[i] + 11;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "ckpt run: unknown option '%s'\n", argv[i]);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: ckpt run [--dir DIR] [--interval SECONDS] -- PROG [ARGS...]\n");
		return 2;
	}
	if (interval) {
		char *end;
		long s = strtol(interval, &end, 10);
		if (*end || s < 0) {
			fprintf(stderr, "ckpt run: --interval wants a whole number of seconds, not '%s'\n", interval);
			return 2;
		}
		g_setenv("KITE_CKPT_INTERVAL", interval, TRUE);
	}
	if (!dir)
		dir = "kite-ckpt";
	if (g_mkdir_with_parents(dir, 0755) < 0) {
		fprintf(stderr, "ckpt run: cannot create %s: %s\n", dir, g_strerror(errno));
		return 1;
	}
	g_autofree char *absdir = g_canonicalize_filename(dir, NULL);
	g_autofree char *lib = kite_ckpt_find_sibling("KITE_LIBCKPT", "../lib/libckpt.so");
	if (access(lib, R_OK) < 0) {
		fprintf(stderr, "ckpt run: cannot find libckpt.so (%s): %s; set KITE_LIBCKPT\n", lib, g_strerror(errno));
		return 1;
	}
	g_autofree char *abslib = g_canonicalize_filename(lib, NULL);
	const char *old = g_getenv("LD_PRELOAD");
	g_autofree char *preload = old && *old ? g_strdup_printf("%s:%s", abslib, old) : g_strdup(abslib);
	g_autofree char *pid = g_strdup_printf("%d", (int)getpid());
	g_setenv("LD_PRELOAD", preload, TRUE);
	g_setenv("KITE_CKPT_DIR", absdir, TRUE);
	g_setenv("KITE_CKPT_PID", pid, TRUE);
	execvp(argv[i], argv + i);
	fprintf(stderr, "ckpt run: cannot run %s: %s\n", argv[i], g_strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
