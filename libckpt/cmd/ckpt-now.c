/* ckpt now: ask a running job to checkpoint and wait for the commit.
 *
 * The request is a queued signal (SIGUSR2, or SIGTSTP for --exit) that
 * carries a random nonce; the job's runtime writes DIR/status listing the
 * nonces each checkpoint served, so we know when *our* image is committed
 * even when requests were coalesced. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libckpt/cmd/ckpt.h"

/* KITE_CKPT_* variables of a running process. */
static char *proc_env(int pid, const char *name)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/environ", pid);
	g_autofree char *data = NULL;
	gsize len;
	if (!g_file_get_contents(path, &data, &len, NULL))
		return NULL;
	size_t nl = strlen(name);
	for (gsize off = 0; off < len;) {
		const char *e = data + off;
		size_t el = strnlen(e, len - off);
		if (el > nl && strncmp(e, name, nl) == 0 && e[nl] == '=')
			return g_strndup(e + nl + 1, el - nl - 1);
		off += el + 1;
	}
	return NULL;
}

static char *proc_exe(int pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/exe", pid);
	return g_file_read_link(path, NULL);
}

/* Whether @pid is still `ckpt restart` (or its restorer) bringing a
 * program back — or not even that yet: a shell's `ckpt restart … &` is
 * the shell's own copy until it execs (the same executable as its
 * parent).  Either way its environment is not the program's yet. */
static gboolean restart_in_progress(int pid)
{
	g_autofree char *exe = proc_exe(pid);
	if (!exe)
		return FALSE;
	g_autofree char *base = g_path_get_basename(exe);
	if (strcmp(base, "ckpt") == 0 || strcmp(base, "ckpt-restore") == 0)
		return TRUE;
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
	g_autofree char *stat = NULL;
	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return FALSE;
	const char *p = strrchr(stat, ')');
	int ppid = p ? atoi(p + 4) : 0; /* ") S PPID" */
	g_autofree char *parent_exe = ppid > 0 ? proc_exe(ppid) : NULL;
	return parent_exe && strcmp(exe, parent_exe) == 0;
}

/* KITE_CKPT_DIR of @pid.  A program that `ckpt restart` is still bringing
 * back (or that a shell has not exec'd yet) is waited for, up to 5 s:
 * `ckpt now` at once after `ckpt restart &` works. */
static char *proc_ckpt_dir(int pid)
{
	for (int i = 0;; i++) {
		char *dir = proc_env(pid, "KITE_CKPT_DIR");
		if (dir || i == 500 || !restart_in_progress(pid))
			return dir;
		g_usleep(10000);
	}
}

static gboolean process_gone(int pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
	g_autofree char *data = NULL;
	if (!g_file_get_contents(path, &data, NULL, NULL))
		return TRUE;
	const char *p = strrchr(data, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Whether @pid catches @sig (SigCgt in /proc/PID/status). */
static gboolean catches(int pid, int sig)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", pid);
	g_autofree char *data = NULL;
	if (!g_file_get_contents(path, &data, NULL, NULL))
		return FALSE;
	const char *p = strstr(data, "SigCgt:");
	if (!p)
		return FALSE;
	guint64 mask = g_ascii_strtoull(p + 7, NULL, 16);
	return (mask >> (sig - 1)) & 1;
}

/* 1: our checkpoint committed (image set), -1: it failed (message set), 0: not yet. */
static int read_status(const char *dir, long nonce, char **image, char **message)
{
	g_autofree char *path = g_build_filename(dir, "status", NULL);
	g_autofree char *data = NULL;
	if (!g_file_get_contents(path, &data, NULL, NULL))
		return 0;
	g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
	gboolean ours = FALSE, ok = FALSE;
	const char *img = NULL, *msg = NULL;
	for (char **l = lines; *l; l++) {
		if (g_str_has_prefix(*l, "nonces")) {
			g_auto(GStrv) w = g_strsplit(*l + 6, " ", -1);
			for (char **x = w; *x; x++)
				if (**x && strtol(*x, NULL, 10) == nonce)
					ours = TRUE;
		} else if (strcmp(*l, "result ok") == 0) {
			ok = TRUE;
		} else if (g_str_has_prefix(*l, "image ")) {
			img = *l + 6;
		} else if (g_str_has_prefix(*l, "message ")) {
			msg = *l + 8;
		}
	}
	if (!ours)
		return 0;
	*image = g_strdup(img);
	*message = g_strdup(msg ? msg : "unknown error");
	return ok ? 1 : -1;
}

int kite_ckpt_cmd_now(int argc, char **argv)
{
	gboolean do_exit = FALSE;
	const char *dir_opt = NULL;
	double timeout = 300;
	int pid = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--exit") == 0)
			do_exit = TRUE;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir_opt = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout = g_ascii_strtod(argv[++i], NULL);
		else if (argv[i][0] != '-' && !pid)
			pid = atoi(argv[i]);
		else {
			fprintf(stderr, "usage: ckpt now [--exit] [--dir DIR] [--timeout SECONDS] PID\n");
			return 2;
		}
	}
	if (pid <= 0) {
		fprintf(stderr, "usage: ckpt now [--exit] [--dir DIR] [--timeout SECONDS] PID\n");
		return 2;
	}
	g_autofree char *dir = dir_opt ? g_canonicalize_filename(dir_opt, NULL) : proc_ckpt_dir(pid);
	if (!dir) {
		if (kill(pid, 0) < 0)
			fprintf(stderr, "ckpt now: no process %d: %s\n", pid, g_strerror(errno));
		else
			fprintf(stderr,
				"ckpt now: process %d has no KITE_CKPT_DIR in its environment (not started by `ckpt "
				"run`?); pass --dir DIR\n",
				pid);
		return 1;
	}
	/* a queued real-time signal: concurrent requests are not merged */
	g_autofree char *srt = proc_env(pid, "KITE_CKPT_RT_SIGNAL");
	int sig = srt ? atoi(srt) : SIGRTMAX - 1;
	/* A job that has not yet initialised libckpt would die of the signal. */
	for (int i = 0; !catches(pid, sig); i++) {
		if (i == 500) {
			fprintf(stderr,
				"ckpt now: process %d does not handle signal %d: it is not running with libckpt (or "
				"libckpt is inactive in it)\n",
				pid, sig);
			return 1;
		}
		g_usleep(2000);
	}
	long nonce = g_random_int_range(1, G_MAXINT32);
	union sigval v = { .sival_ptr = (void *)(uintptr_t)(((guint64)(do_exit ? 2 : 1) << 32) | (guint64)nonce) };
	if (sigqueue(pid, sig, v) < 0) {
		fprintf(stderr, "ckpt now: cannot signal process %d: %s\n", pid, g_strerror(errno));
		return 1;
	}
	gint64 start = g_get_monotonic_time();
	gint64 deadline = start + (gint64)(timeout * G_USEC_PER_SEC);
	int gone_checks = 0;
	for (;;) {
		g_autofree char *image = NULL, *message = NULL;
		int st = read_status(dir, nonce, &image, &message);
		if (st > 0) {
			printf("%s\n", image);
			fflush(stdout);
			if (do_exit)
				while (!process_gone(pid) && g_get_monotonic_time() < deadline)
					g_usleep(2000);
			return 0;
		}
		if (st < 0) {
			fprintf(stderr, "ckpt now: checkpoint of process %d failed: %s\n", pid, message);
			return 1;
		}
		if (process_gone(pid) && ++gone_checks > 50) {
			fprintf(stderr, "ckpt now: process %d ended before its checkpoint was committed\n", pid);
			return 1;
		}
		if (g_get_monotonic_time() > deadline) {
			fprintf(stderr, "ckpt now: no checkpoint of process %d committed within %.0f s (see %s/status)\n",
				pid, timeout, dir);
			return 1;
		}
		/* small jobs commit in a few ms: look often at first */
		g_usleep(g_get_monotonic_time() - start < 100000 ? 200 : 2000);
	}
}
