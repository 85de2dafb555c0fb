/* ckpt run: exec PROG with libckpt preloaded; PROG keeps our pid. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt-store.h"
#include "libckpt/cmd/ckpt.h"
#include "util.h"

/* --server: allocate (or take the allocation of --caps FILE), keep the
 * capabilities in DIR/server.caps (0600; the directory becomes 0700),
 * and tell the runtime to stream images to the uploader (rt-upload.c). */
static int setup_server(const char *server, const char *caps_file, const char *owner, const char *lease_text,
			const char *absdir)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(absdir, "server.caps", NULL);
	if (caps_file) {
		g_auto(KiteCkptCaps) caps = {0};
		if (!kite_ckpt_caps_load(caps_file, &caps, &error)) {
			fprintf(stderr, "ckpt run: %s\n", error->message);
			return 1;
		}
		if (!caps.server)
			caps.server = g_strdup(server);
		if (!kite_ckpt_caps_save(path, &caps, &error)) {
			fprintf(stderr, "ckpt run: %s\n", error->message);
			return 1;
		}
	} else {
		double lease = 0;
		if (lease_text && !kite_parse_duration(lease_text, &lease, &error)) {
			fprintf(stderr, "ckpt run: --lease: %s\n", error->message);
			return 2;
		}
		g_autofree char *me = kite_user_name(getuid());
		/* daemons (a pool key) must name the owner; users are who their token says */
		const char *o = owner ? owner : g_getenv("KITE_POOL_KEY_FILE") ? me : "";
		g_autoptr(KiteCkptClient) c = kite_ckpt_client_connect(server, kite_ckpt_server_timeout(), &error);
		g_auto(KiteCkptCaps) caps = {0};
		if (!c || !kite_ckpt_client_allocate(c, o, 0, (gint64)lease, &caps, &error) ||
		    !kite_ckpt_caps_save(path, &caps, &error)) {
			fprintf(stderr, "ckpt run: %s\n", error->message);
			return 1;
		}
	}
	chmod(absdir, 0700);
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_setenv("KITE_CKPT_CAPS", path, TRUE);
	g_setenv("KITE_CKPT_UPLOADER", self ? self : "ckpt", TRUE);
	g_setenv("KITE_CKPT_FULL_EVERY", "1", TRUE);
	return -1;
}

/* glibc's malloc advises huge pages for its own mappings and heap when
 * told to (its mmap is internal: libckpt's mmap never sees it); see
 * libckpt/runtime/rt-hugepages.c for why.  KITE_CKPT_HUGE_PAGES=0: not. */
static void set_malloc_huge_pages(void)
{
	const char *want = g_getenv("KITE_CKPT_HUGE_PAGES");
	if (want && g_strcmp0(want, "0") == 0)
		return;
	const char *old = g_getenv("GLIBC_TUNABLES");
	if (old && strstr(old, "glibc.malloc.hugetlb="))
		return; /* the user chose */
	g_autofree char *v = old && *old ? g_strdup_printf("%s:glibc.malloc.hugetlb=1", old) : g_strdup("glibc.malloc.hugetlb=1");
	g_setenv("GLIBC_TUNABLES", v, TRUE);
}

int kite_ckpt_cmd_run(int argc, char **argv)
{
	const char *dir = NULL;
	const char *interval = NULL;
	const char *server = NULL, *caps = NULL, *owner = NULL, *lease = NULL;
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
		} else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
			server = argv[++i];
		} else if (strcmp(argv[i], "--caps") == 0 && i + 1 < argc) {
			caps = argv[++i];
		} else if (strcmp(argv[i], "--owner") == 0 && i + 1 < argc) {
			owner = argv[++i];
		} else if (strcmp(argv[i], "--lease") == 0 && i + 1 < argc) {
			lease = argv[++i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "ckpt run: unknown option '%s'\n", argv[i]);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: ckpt run [--dir DIR] [--interval SECONDS] [--server HOST:PORT [--caps FILE] "
				"[--owner USER] [--lease DURATION]] -- PROG [ARGS...]\n");
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
	if (server || caps) {
		int rc = setup_server(server, caps, owner, lease, absdir);
		if (rc >= 0)
			return rc;
	}
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
	set_malloc_huge_pages();
	execvp(argv[i], argv + i);
	fprintf(stderr, "ckpt run: cannot run %s: %s\n", argv[i], g_strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
