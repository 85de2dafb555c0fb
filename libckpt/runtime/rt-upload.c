/* Images to a checkpoint server (docs/ckpt-server.md).
 *
 * The checkpoint child cannot speak the wire protocol (no libc, no GLib),
 * so with a server configured — KITE_CKPT_CAPS names a caps file (mode
 * 0600) and KITE_CKPT_UPLOADER the `ckpt` program, both set by `ckpt run
 * --server` — it starts `ckpt upload --caps FILE` with its stdin on a
 * pipe and writes the image stream into the pipe instead of a file.  The
 * uploader chunks, hashes and sends as the bytes arrive (no local copy)
 * and commits at the end; its exit status and its one line of output
 * (the reason, on failure) come back to the child.  Images are always
 * full ones: deduplication on the server makes the next one cheap.
 *
 * The constructor is ordinary code; everything else runs in the
 * checkpoint child: ASYNC-SIGNAL-SAFE, raw system calls only.  Nothing
 * here writes a global after start-up (the child's writes would be
 * dumped into the image).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"

extern char **environ;

static char up_prog[KITE_IMG_MAX_PATH]; /* the `ckpt` program */
static char up_caps[KITE_IMG_MAX_PATH]; /* the caps file */
static char up_name[600];               /* "server:HOST:PORT/ID", for status and `ckpt now` */

__attribute__((constructor)) static void kite_rt_upload_init(void)
{
	const char *prog = getenv("KITE_CKPT_UPLOADER"), *caps = getenv("KITE_CKPT_CAPS");
	if (!prog || !caps || !*prog || !*caps || strlen(prog) >= sizeof up_prog || strlen(caps) >= sizeof up_caps)
		return;
	/* the public part of the caps file: server address and id */
	char server[256] = "", id[64] = "", line[512];
	FILE *f = fopen(caps, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "server ", 7) == 0)
			snprintf(server, sizeof server, "%.255s", line + 7);
		else if (strncmp(line, "id ", 3) == 0)
			snprintf(id, sizeof id, "%.63s", line + 3);
	}
	fclose(f);
	snprintf(up_name, sizeof up_name, "server:%s/%s", server, id);
	strcpy(up_prog, prog);
	strcpy(up_caps, caps);
}

/* After a restart elsewhere (`ckpt restart --dir`): the caps file and
 * the uploader link that were under @old are under @new_dir now.  Runs in
 * the restored program (no libc). */
static void move_path(char *path, size_t cap, const char *old, const char *new_dir)
{
	if (!path[0] || !rs_startswith(path, old))
		return;
	size_t n = 0;
	while (old[n])
		n++;
	if (path[n] != '/')
		return;
	char buf[KITE_IMG_MAX_PATH];
	RsStr s = { buf, 0, sizeof buf };
	rs_str_add(&s, new_dir);
	rs_str_add(&s, path + n);
	if (s.len < sizeof buf - 1)
		rs_strlcpy(path, buf, cap);
}

void kite_rt_upload_move(const char *old, const char *new_dir)
{
	move_path(up_caps, sizeof up_caps, old, new_dir);
	move_path(up_prog, sizeof up_prog, old, new_dir);
}

int kite_rt_upload_active(void)
{
	return up_prog[0] != 0;
}

void kite_rt_upload_name(char *buf, size_t cap)
{
	RsStr s = { buf, 0, cap };
	rs_str_add(&s, up_name);
}

int kite_rt_upload_start(int *out_pid, int *out_result)
{
	int data[2], res[2];
	long rc = rs_call2(SYS_pipe2, data, O_CLOEXEC);
	if (rc < 0)
		return (int)rc;
	rc = rs_call2(SYS_pipe2, res, O_CLOEXEC);
	if (rc < 0) {
		rs_close(data[0]);
		rs_close(data[1]);
		return (int)rc;
	}
	long pid = rs_call5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		/* the uploader: stdin the image, stdout its report */
		rs_call3(SYS_dup3, data[0], 0, 0);
		rs_call3(SYS_dup3, res[1], 1, 0);
		uint64_t none = 0;
		rs_call4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
		char *argv[] = { "ckpt", "upload", "--caps", up_caps, 0 };
		rs_call3(SYS_execve, up_prog, argv, environ);
		static const char msg[] = "cannot run the uploader (KITE_CKPT_UPLOADER)\n";
		rs_write(1, msg, sizeof msg - 1);
		rs_exit_group(127);
	}
	rs_close(data[0]);
	rs_close(res[1]);
	if (pid < 0) {
		rs_close(data[1]);
		rs_close(res[0]);
		return (int)pid;
	}
	/* big pipe: fewer wake-ups while memory streams through */
	rs_call3(SYS_fcntl, data[1], 1031 /* F_SETPIPE_SZ */, 1 << 20);
	*out_pid = (int)pid;
	*out_result = res[0];
	return data[1];
}

int kite_rt_upload_finish(int *fd, int pid, int result, int ok)
{
	if (!ok)
		rs_call2(SYS_kill, pid, SIGKILL); /* never commit a stream cut short */
	if (*fd >= 0)
		rs_close(*fd);
	*fd = -1;
	char msg[sizeof kite_rt.errmsg];
	size_t n = 0;
	for (;;) {
		long r = rs_read(result, msg + n, sizeof msg - 1 - n);
		if (r == -4)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof msg - 1)
			break;
	}
	rs_close(result);
	while (n && msg[n - 1] == '\n')
		n--;
	msg[n] = 0;
	int st = 0;
	long r;
	do
		r = rs_wait4(pid, &st, __WALL, 0);
	while (r == -4);
	if (!ok)
		return -5;
	if (r == pid && (st & 0x7f) == 0 && ((st >> 8) & 0xff) == 0)
		return 0;
	RsStr s = { kite_rt.errmsg, 0, sizeof kite_rt.errmsg };
	rs_str_add(&s, n ? msg : "the uploader failed without saying why");
	return -5;
}
