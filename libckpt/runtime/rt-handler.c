/* The checkpoint signal handler and what the job itself pays for.
 *
 * ASYNC-SIGNAL-SAFE: everything here runs inside a signal handler (or in
 * the checkpoint child right after a raw fork).  Raw system calls only —
 * no malloc, no stdio, no locks, no errno.
 *
 * A checkpoint here: snapshot what the child could not see consistently
 * (file offsets, contents of files open for writing, interval timers),
 * save the handler's callee-saved registers (kite_ctx_save), fork with no
 * exit signal so the program's SIGCHLD handler and wait() never see the
 * child, and return to the program.  The child writes the image
 * (rt-dump.c) and tells us with a queued signal that it is done.  When an
 * image is restarted, the restorer jumps back into kite_ctx_save with
 * return value 1 and we finish the restart here (post_restart), then the
 * handler returns and rt_sigreturn reloads every register, FPU/SSE/AVX
 * state included, from the signal frame on the restored stack.
 */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <asm/prctl.h>
#include <linux/kcmp.h>

#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"

#ifndef __WALL
#define __WALL 0x40000000
#endif

__asm__(".text\n"
	".globl kite_ctx_save\n"
	".hidden kite_ctx_save\n"
	".type kite_ctx_save,@function\n"
	"kite_ctx_save:\n"
	"	mov %rbx,0(%rdi)\n"
	"	mov %rbp,8(%rdi)\n"
	"	mov %r12,16(%rdi)\n"
	"	mov %r13,24(%rdi)\n"
	"	mov %r14,32(%rdi)\n"
	"	mov %r15,40(%rdi)\n"
	"	lea 8(%rsp),%rdx\n"
	"	mov %rdx,48(%rdi)\n"
	"	mov (%rsp),%rdx\n"
	"	mov %rdx,56(%rdi)\n"
	"	stmxcsr 64(%rdi)\n"
	"	fnstcw 68(%rdi)\n"
	"	xor %eax,%eax\n"
	"	ret\n"
	".size kite_ctx_save,.-kite_ctx_save\n");

/* kite_call_on_stack(fn, arg, top): run fn(arg) on another stack.  The
 * handler's owner path runs on libckpt's own stack: the program's stack
 * may be a small alternate signal stack, and the checkpoint child's dump
 * uses tens of KiB. */
__asm__(".text\n"
	".globl kite_call_on_stack\n"
	".hidden kite_call_on_stack\n"
	".type kite_call_on_stack,@function\n"
	"kite_call_on_stack:\n"
	"	push %rbp\n"
	"	mov %rsp,%rbp\n"
	"	mov %rdx,%rsp\n"
	"	and $-16,%rsp\n"
	"	push %rbp\n"
	"	push %rbp\n"
	"	mov %rdi,%rax\n"
	"	mov %rsi,%rdi\n"
	"	call *%rax\n"
	"	mov %rbp,%rsp\n"
	"	pop %rbp\n"
	"	ret\n"
	".size kite_call_on_stack,.-kite_call_on_stack\n");

void kite_call_on_stack(void (*fn)(void *), void *arg, void *top);

static void set_err(const char *a, long num, const char *b, const char *c)
{
	RsStr s = { kite_rt.errmsg, 0, sizeof kite_rt.errmsg };
	rs_str_add(&s, a);
	if (num >= 0)
		rs_str_num(&s, num);
	if (b)
		rs_str_add(&s, b);
	if (c)
		rs_str_add(&s, c);
}

static void add_errno(long err)
{
	RsStr s = { kite_rt.errmsg, rs_strlen(kite_rt.errmsg), sizeof kite_rt.errmsg };
	rs_str_add(&s, " (errno ");
	rs_str_num(&s, -err);
	rs_str_add(&s, ")");
}

void kite_rt_write_status(uint32_t seq, int ok, const char *image, const char *message)
{
	char buf[2048], tmp[KITE_IMG_MAX_PATH + 64], final[KITE_IMG_MAX_PATH + 64];
	RsStr s = { buf, 0, sizeof buf };
	rs_str_add(&s, "seq ");
	rs_str_num(&s, seq);
	rs_str_add(&s, ok ? "\nresult ok\n" : "\nresult error\n");
	rs_str_add(&s, "pid ");
	rs_str_num(&s, rs_getppid() == kite_rt.proc.pid ? kite_rt.proc.pid : rs_getpid());
	rs_str_add(&s, "\n");
	if (image) {
		rs_str_add(&s, "image ");
		rs_str_add(&s, image);
		rs_str_add(&s, "\n");
	}
	rs_str_add(&s, "nonces");
	for (int i = 0; i < kite_rt.ncur_nonces; i++) {
		rs_str_add(&s, " ");
		rs_str_num(&s, (long)kite_rt.cur_nonces[i]);
	}
	rs_str_add(&s, "\n");
	if (ok && image) {
		/* how the changed pages were found (tests and the bench read it) */
		rs_str_add(&s, kite_rt.stat_tracked == 2 ? "dirty tracking none (a full image)"
			       : kite_rt.stat_tracked ? "dirty tracking uffd-wp"
						      : "dirty tracking hashes");
		rs_str_add(&s, "\npages read ");
		rs_str_num(&s, (long)kite_rt.stat_read);
		rs_str_add(&s, " hashed ");
		rs_str_num(&s, (long)kite_rt.stat_hashed);
		rs_str_add(&s, " unread ");
		rs_str_num(&s, (long)kite_rt.stat_trusted);
		rs_str_add(&s, "\nchild_us scan ");
		rs_str_num(&s, (long)kite_rt.stat_us[0]);
		rs_str_add(&s, " write ");
		rs_str_num(&s, (long)kite_rt.stat_us[1]);
		rs_str_add(&s, " commit ");
		rs_str_num(&s, (long)kite_rt.stat_us[2]);
		rs_str_add(&s, " cpu ");
		rs_str_num(&s, (long)kite_rt.stat_us[3]);
		rs_str_add(&s, "\nparent_us prefork ");
		rs_str_num(&s, (long)(kite_rt.t_clone_us - kite_rt.t_request_us));
		rs_str_add(&s, " fork ");
		rs_str_num(&s, (long)(kite_rt.t_child_us - kite_rt.t_clone_us));
		rs_str_add(&s, "\n");
	}
	if (message && *message) {
		rs_str_add(&s, "message ");
		rs_str_add(&s, message);
		rs_str_add(&s, "\n");
	}
	RsStr t = { tmp, 0, sizeof tmp };
	rs_str_add(&t, kite_rt.dir);
	rs_str_add(&t, "/.status.tmp.");
	rs_str_num(&t, rs_getpid());
	RsStr f = { final, 0, sizeof final };
	rs_str_add(&f, kite_rt.dir);
	rs_str_add(&f, "/status");
	int fd = (int)rs_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	rs_write_all(fd, buf, s.len);
	rs_close(fd);
	rs_rename(tmp, final);
}

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

static void futex_wait(volatile void *addr, int val, long ns)
{
	struct timespec ts = { 0, ns };
	rs_call6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, ns ? (long)&ts : 0, 0, 0);
}

static void futex_wake(volatile void *addr)
{
	rs_call6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0, 0, 0);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	rs_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait until *counter reaches want; 1 if it did within ms. */
static int wait_count(volatile int *counter, int want, int ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)ms;
	for (;;) {
		int cur = __atomic_load_n(counter, __ATOMIC_SEQ_CST);
		if (cur >= want)
			return 1;
		if (mono_ms() > deadline)
			return 0;
		futex_wait(counter, cur, 10000000);
	}
}

/* The numeric entries of the /proc directory @dir (thread ids,
 * descriptors) into @out, skipping the descriptor used to read it when
 * @skip_own_fd.  Returns the count, -1 if @dir cannot be opened, -2 if
 * there are more than @max.  Async-signal-safe. */
static int list_proc_numbers(const char *dir, int skip_own_fd, int *out, int max)
{
	char buf[2048];
	int n = 0;
	int dfd = (int)rs_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0)
		return -1;
	for (;;) {
		long r = rs_getdents64(dfd, buf, sizeof buf);
		if (r <= 0)
			break;
		for (long off = 0; off < r;) {
			unsigned short reclen = *(unsigned short *)(buf + off + 16);
			const char *name = buf + off + 19;
			off += reclen;
			if (name[0] < '0' || name[0] > '9')
				continue;
			const char *p = name;
			int v = (int)rs_parse_dec(&p);
			if (skip_own_fd && v == dfd)
				continue;
			if (n >= max) {
				rs_close(dfd);
				return -2;
			}
			out[n++] = v;
		}
	}
	rs_close(dfd);
	return n;
}

/* The thread ids of this process (self included); count, or -1 if more than max. */
static int list_threads(int *tids, int max)
{
	int n = list_proc_numbers("/proc/self/task", 0, tids, max);
	return n < 0 ? -1 : n;
}

static int live_threads(void)
{
	int n = 0;
	for (int i = 0; i < kite_rt.nthreads_frozen; i++)
		if (kite_rt.threads[i].t.tid)
			n++;
	return n;
}

static void release_others(void)
{
	if (!kite_rt.nthreads_frozen)
		return;
	__atomic_add_fetch(&kite_rt.release_gen, 1, __ATOMIC_SEQ_CST);
	futex_wake(&kite_rt.release_gen);
}

/* In a thread other than the checkpointing one: record what a restart
 * needs, and wait in the handler until the fork is done.  After a restart
 * this returns a second time, from kite_ctx_save. */
static void freeze_self(void)
{
	int tid = (int)rs_gettid();
	volatile int i; /* survives kite_ctx_save returning twice */
	for (i = 0; i < kite_rt.nthreads_frozen; i++)
		if ((int)kite_rt.threads[i].t.tid == tid)
			break;
	if (i == kite_rt.nthreads_frozen)
		return; /* a stale request */
	KiteImgThread *t = &kite_rt.threads[i].t;
	rs_arch_prctl(ARCH_GET_FS, &t->fs_base);
	t->tid_addr = kite_rt.tid_off ? t->fs_base + (uint64_t)kite_rt.tid_off : 0;
	if (kite_rt.proc.rseq_addr) {
		t->rseq_addr = t->fs_base + (uint64_t)kite_rt.rseq_off;
		t->rseq_len = kite_rt.proc.rseq_len;
		t->rseq_sig = kite_rt.proc.rseq_sig;
	}
	uint64_t head = 0, len = 0;
	rs_call3(SYS_get_robust_list, 0, &head, &len);
	t->robust_head = head;
	t->robust_len = len;
	stack_t ss;
	if (rs_sigaltstack(NULL, &ss) == 0) {
		t->altstack_sp = (uint64_t)(uintptr_t)ss.ss_sp;
		t->altstack_size = ss.ss_size;
		t->altstack_flags = ss.ss_flags;
	}
	kite_rt.threads[i].gen_seen = kite_rt.release_gen;
	if (kite_ctx_save(&t->jmp)) {
		/* restarted: tell the checkpointing thread, wait for its word */
		__atomic_add_fetch(&kite_rt.threads_back, 1, __ATOMIC_SEQ_CST);
		futex_wake(&kite_rt.threads_back);
	} else {
		__atomic_add_fetch(&kite_rt.frozen, 1, __ATOMIC_SEQ_CST);
		futex_wake(&kite_rt.frozen);
	}
	while (kite_rt.release_gen == kite_rt.threads[i].gen_seen)
		futex_wait(&kite_rt.release_gen, (int)kite_rt.threads[i].gen_seen, 0);
}

/* Stop every other thread in freeze_self().  0, or -1 with errmsg set. */
static int freeze_others(void)
{
	int tids[KITE_IMG_MAX_THREADS + 1];
	int self = (int)rs_gettid();
	kite_rt.nthreads_frozen = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		int n = list_threads(tids, KITE_IMG_MAX_THREADS + 1);
		if (n < 0) {
			set_err("more than ", KITE_IMG_MAX_THREADS, " threads; libckpt cannot checkpoint this many", NULL);
			return -1;
		}
		if (n <= 1)
			return 0;
		kite_rt.nthreads_frozen = 0;
		kite_rt.frozen = 0;
		for (int k = 0; k < n; k++)
			if (tids[k] != self) {
				KiteImgThread *t = &kite_rt.threads[kite_rt.nthreads_frozen++].t;
				*t = (KiteImgThread){ .tid = (uint32_t)tids[k] };
			}
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		int expect = 0;
		for (int k = 0; k < kite_rt.nthreads_frozen; k++) {
			siginfo_t si = { 0 };
			si.si_signo = kite_rt.sig_rt;
			si.si_code = SI_QUEUE;
			si.si_pid = kite_rt.proc.pid;
			si.si_value.sival_ptr = (void *)(uintptr_t)KITE_SIGVAL_FREEZE;
			long r = rs_call4(SYS_rt_tgsigqueueinfo, kite_rt.proc.pid, kite_rt.threads[k].t.tid,
					  kite_rt.sig_rt, &si);
			if (r < 0)
				kite_rt.threads[k].t.tid = 0; /* gone */
			else
				expect++;
		}
		if (!wait_count(&kite_rt.frozen, expect, 2000)) {
			release_others();
			/* those that did not stop will not: forget them */
			set_err("a thread did not stop for the checkpoint within 2 s (does it block signal ", kite_rt.sig_rt,
				"?)", NULL);
			return -1;
		}
		/* a thread created meanwhile would be missing from the image */
		int again = list_threads(tids, KITE_IMG_MAX_THREADS + 1);
		if (again == expect + 1)
			return 0; /* slots of threads that exited keep tid 0 */
		release_others();
	}
	set_err("threads kept appearing or exiting during the checkpoint; try again", -1, NULL, NULL);
	return -1;
}

static int is_harmless_device(const char *path)
{
	return rs_streq(path, "/dev/null") || rs_streq(path, "/dev/zero") || rs_streq(path, "/dev/full") ||
	       rs_streq(path, "/dev/random") || rs_streq(path, "/dev/urandom");
}

static void side_path(char *buf, size_t cap, uint32_t seq, int fd)
{
	RsStr s = { buf, 0, cap };
	rs_str_add(&s, kite_rt.dir);
	rs_str_add(&s, "/.ckpt-");
	rs_str_num(&s, seq);
	rs_str_add(&s, ".fd");
	rs_str_num(&s, fd);
}

static char copy_buf[1 << 16];

/* Snapshot the whole contents of @fd (size bytes) into a side file the
 * child folds into the image.  copy_file_range with an explicit offset
 * leaves the descriptor's own offset alone. */
static int snapshot_file(int wfd, uint64_t size, uint32_t seq)
{
	char path[KITE_IMG_MAX_PATH + 64];
	char lnk[64];
	RsStr l = { lnk, 0, sizeof lnk };
	rs_str_add(&l, "/proc/self/fd/");
	rs_str_num(&l, wfd);
	/* A fresh read-only description: the job's may be write-only. */
	int fd = (int)rs_open(lnk, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		set_err("cannot read back the file open on fd ", wfd, NULL, NULL);
		add_errno(fd);
		return -1;
	}
	side_path(path, sizeof path, seq, wfd);
	int out = (int)rs_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		set_err("cannot create ", -1, path, NULL);
		add_errno(out);
		rs_close(fd);
		return -1;
	}
	long long off_in = 0;
	int use_copy = 1;
	while ((uint64_t)off_in < size) {
		long r;
		if (use_copy) {
			r = rs_copy_file_range(fd, &off_in, out, NULL, size - (uint64_t)off_in);
			if (r == -18 /* EXDEV */ || r == -38 /* ENOSYS */ || r == -22 /* EINVAL */) {
				use_copy = 0;
				continue;
			}
		} else {
			r = rs_pread(fd, copy_buf, sizeof copy_buf, off_in);
			if (r > 0) {
				long w = rs_write_all(out, copy_buf, (size_t)r);
				if (w < 0)
					r = w;
				else
					off_in += r;
			}
		}
		if (r == -4)
			continue;
		if (r < 0) {
			set_err("cannot snapshot fd ", fd, NULL, NULL);
			add_errno(r);
			rs_close(out);
			rs_close(fd);
			rs_unlink(path);
			return -1;
		}
		if (r == 0)
			break; /* file shrank meanwhile: keep what we have */
	}
	rs_close(out);
	rs_close(fd);
	return 0;
}

static void drop_side_files(uint32_t seq)
{
	char path[KITE_IMG_MAX_PATH + 64];
	for (int i = 0; i < kite_rt.nfds; i++)
		if (kite_rt.fds[i].side) {
			side_path(path, sizeof path, seq, kite_rt.fds[i].fd.fd);
			rs_unlink(path);
			kite_rt.fds[i].side = 0;
		}
}

/* /proc/<our pid>/x becomes /proc/self/x: the restarted process has
 * another pid.  Returns the new length. */
static long self_proc_path(char *path, long len)
{
	char pre[32];
	RsStr p = { pre, 0, sizeof pre };
	rs_str_add(&p, "/proc/");
	rs_str_num(&p, kite_rt.proc.pid);
	rs_str_add(&p, "/");
	if (!rs_startswith(path, pre))
		return len;
	const char *rest = path + p.len;
	char tmp[KITE_IMG_MAX_PATH];
	RsStr t = { tmp, 0, sizeof tmp };
	rs_str_add(&t, "/proc/self/");
	rs_str_add(&t, rest);
	for (size_t i = 0; i <= t.len; i++)
		path[i] = tmp[i];
	return (long)t.len;
}

/* Record every open descriptor; refuse the ones we cannot bring back. */
static int scan_fds(uint32_t seq)
{
	int list[KITE_IMG_MAX_FDS];
	int n = list_proc_numbers("/proc/self/fd", 1, list, KITE_IMG_MAX_FDS);
	if (n == -1) {
		set_err("cannot open /proc/self/fd", -1, NULL, NULL);
		return -1;
	}
	if (n == -2) {
		set_err("more than ", KITE_IMG_MAX_FDS, " open descriptors; libckpt cannot checkpoint this many", NULL);
		return -1;
	}
	for (int i = 1; i < n; i++) /* insertion sort */
		for (int j = i; j > 0 && list[j - 1] > list[j]; j--) {
			int t = list[j];
			list[j] = list[j - 1];
			list[j - 1] = t;
		}

	kite_rt.nfds = 0;
	for (int i = 0; i < n; i++) {
		int fd = list[i];
		KiteRtFd *e = &kite_rt.fds[kite_rt.nfds];
		struct stat st;
		char lnk[64];
		RsStr l = { lnk, 0, sizeof lnk };
		rs_str_add(&l, "/proc/self/fd/");
		rs_str_num(&l, fd);
		if (kite_rt_track_owns_fd(fd))
			continue; /* libckpt's own dirty tracking: not the program's */
		if (rs_fstat(fd, &st) < 0)
			continue; /* closed meanwhile */
		long pl = rs_readlink(lnk, e->path, sizeof e->path - 1);
		if (pl < 0)
			pl = 0;
		e->path[pl] = 0;
		pl = self_proc_path(e->path, pl);
		e->side = 0;
		KiteImgFd *f = &e->fd;
		*f = (KiteImgFd){ .fd = fd, .dup_of = -1 };
		f->open_flags = (uint32_t)rs_fcntl(fd, F_GETFL, 0);
		f->fd_flags = (uint32_t)rs_fcntl(fd, F_GETFD, 0);
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->size = (uint64_t)st.st_size;
		f->mtime_sec = st.st_mtim.tv_sec;
		f->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
		f->mode = st.st_mode;
		f->path_len = (uint32_t)pl;
		if (S_ISREG(st.st_mode)) {
			if (st.st_nlink == 0) {
				set_err("fd ", fd, " is a deleted file: ", e->path);
				return -1;
			}
			f->kind = KITE_FD_REGULAR;
			f->offset = rs_lseek(fd, 0, SEEK_CUR);
			for (int k = 0; k < kite_rt.nfds; k++) {
				KiteImgFd *o = &kite_rt.fds[k].fd;
				if (o->kind == KITE_FD_REGULAR && o->dev == f->dev && o->ino == f->ino &&
				    rs_call5(SYS_kcmp, kite_rt.proc.pid, kite_rt.proc.pid, KCMP_FILE, o->fd, fd) == 0) {
					f->kind = KITE_FD_DUP;
					f->dup_of = o->fd;
					break;
				}
			}
			if (f->kind == KITE_FD_REGULAR && (f->open_flags & O_ACCMODE) != O_RDONLY) {
				if (snapshot_file(fd, f->size, seq) < 0)
					return -1;
				e->side = 1;
				f->has_contents = 1;
			}
		} else if (S_ISDIR(st.st_mode)) {
			f->kind = KITE_FD_DIR;
			f->offset = 0;
		} else if (fd <= 2 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
			f->kind = KITE_FD_INHERIT;
		} else if (S_ISCHR(st.st_mode) && is_harmless_device(e->path)) {
			f->kind = KITE_FD_DEVICE;
		} else if ((f->kind = kite_rt_anonfd_kind(e->path)) != 0) {
			/* one kernel object under two numbers is a dup */
			for (int k = 0; k < kite_rt.nfds; k++) {
				KiteImgFd *o = &kite_rt.fds[k].fd;
				if (o->kind == f->kind &&
				    rs_call5(SYS_kcmp, kite_rt.proc.pid, kite_rt.proc.pid, KCMP_FILE, o->fd, fd) == 0) {
					f->kind = KITE_FD_DUP;
					f->dup_of = o->fd;
					break;
				}
			}
			if (f->kind != KITE_FD_DUP &&
			    kite_rt_anonfd_save(fd, f->kind, e->path, sizeof e->path, &f->path_len) < 0)
				return -1;
		} else {
			const char *what = S_ISFIFO(st.st_mode)	  ? " is a pipe ("
					   : S_ISSOCK(st.st_mode) ? " is a socket ("
					   : S_ISCHR(st.st_mode)  ? " is a character device ("
								  : " is not a regular file (";
			set_err("fd ", fd, what, e->path);
			RsStr s = { kite_rt.errmsg, rs_strlen(kite_rt.errmsg), sizeof kite_rt.errmsg };
			rs_str_add(&s, "); libckpt can checkpoint only regular files, directories, /dev/null-like "
				       "devices, and terminals or pipes on fds 0-2: close it before checkpointing");
			return -1;
		}
		kite_rt.nfds++;
	}
	return 0;
}

int kite_rt_start_timer(void)
{
	if (kite_rt.interval_s <= 0)
		return 0;
	struct sigevent sev = { 0 };
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = kite_rt.sig_rt;
	int id = -1;
	long r = rs_call3(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id);
	if (r < 0)
		return (int)r;
	struct itimerspec its = { { kite_rt.interval_s, 0 }, { kite_rt.interval_s, 0 } };
	r = rs_call4(SYS_timer_settime, id, 0, &its, NULL);
	if (r < 0)
		return (int)r;
	kite_rt.timer_id = id;
	return 0;
}

#define PR_TIMER_CREATE_RESTORE_IDS 77
enum { PT_NONE = 0, PT_SIGNAL = 1, PT_THREAD = 2 };

/* Record the program's POSIX timers (they are not inherited by the
 * checkpoint child, and not by a restart).  0, or -1 with errmsg set. */
static int save_posix_timers(void)
{
	char buf[8192];
	kite_rt.nptimers = 0;
	int fd = (int)rs_open("/proc/self/timers", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	long n = 0, r;
	while ((r = rs_read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
		n += r;
	rs_close(fd);
	buf[n] = 0;
	const char *p = buf;
	int cur = -1;
	while (*p) {
		if (rs_startswith(p, "ID: ")) {
			p += 4;
			int id = (int)rs_parse_dec(&p);
			if (id == kite_rt.timer_id) {
				cur = -1;
			} else if (kite_rt.nptimers >= 32) {
				set_err("more than 32 POSIX timers; libckpt cannot checkpoint this many", -1, NULL, NULL);
				return -1;
			} else {
				cur = kite_rt.nptimers++;
				kite_rt.ptimers[cur].id = id;
				kite_rt.ptimers[cur].notify = PT_SIGNAL;
				kite_rt.ptimers[cur].tid = 0;
			}
		} else if (cur >= 0 && rs_startswith(p, "signal: ")) {
			p += 8;
			kite_rt.ptimers[cur].signo = (int)rs_parse_dec(&p);
			if (*p == '/')
				p++;
			kite_rt.ptimers[cur].sival = rs_parse_hex(&p);
		} else if (cur >= 0 && rs_startswith(p, "notify: ")) {
			p += 8;
			if (rs_startswith(p, "none"))
				kite_rt.ptimers[cur].notify = PT_NONE;
			else if (rs_startswith(p, "thread")) {
				kite_rt.ptimers[cur].notify = PT_THREAD;
				while (*p && *p != '.' && *p != '\n')
					p++;
				if (*p == '.')
					p++;
				kite_rt.ptimers[cur].tid = (int)rs_parse_dec(&p);
			}
		} else if (cur >= 0 && rs_startswith(p, "ClockID: ")) {
			p += 9;
			kite_rt.ptimers[cur].clockid = (int)rs_parse_dec(&p);
		}
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
	}
	for (int i = 0; i < kite_rt.nptimers; i++) {
		struct itimerspec its = { 0 };
		rs_call2(SYS_timer_gettime, kite_rt.ptimers[i].id, &its);
		kite_rt.ptimers[i].spec[0] = its.it_interval.tv_sec;
		kite_rt.ptimers[i].spec[1] = its.it_interval.tv_nsec;
		kite_rt.ptimers[i].spec[2] = its.it_value.tv_sec;
		kite_rt.ptimers[i].spec[3] = its.it_value.tv_nsec;
	}
	return 0;
}

/* The tid a thread of the checkpointed process has now. */
static int new_tid(int old)
{
	if (old == (int)kite_rt.proc.tid)
		return (int)rs_gettid();
	for (int i = 0; i < kite_rt.nthreads_frozen; i++)
		if ((int)kite_rt.threads[i].t.tid == old && kite_rt.threads[i].t.tid_addr)
			return *(int *)(uintptr_t)kite_rt.threads[i].t.tid_addr;
	return (int)rs_getpid();
}

static void restore_posix_timers(void)
{
	if (!kite_rt.nptimers)
		return;
	rs_prctl(PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0);
	for (int i = 0; i < kite_rt.nptimers; i++) {
		struct sigevent sev = { 0 };
		sev.sigev_signo = kite_rt.ptimers[i].signo;
		sev.sigev_value.sival_ptr = (void *)(uintptr_t)kite_rt.ptimers[i].sival;
		sev.sigev_notify = kite_rt.ptimers[i].notify == PT_NONE	    ? SIGEV_NONE
				   : kite_rt.ptimers[i].notify == PT_THREAD ? SIGEV_THREAD_ID
									    : SIGEV_SIGNAL;
		if (kite_rt.ptimers[i].notify == PT_THREAD)
			sev._sigev_un._tid = new_tid(kite_rt.ptimers[i].tid);
		int id = kite_rt.ptimers[i].id;
		if (rs_call3(SYS_timer_create, kite_rt.ptimers[i].clockid, &sev, &id) < 0)
			continue;
		struct itimerspec its = { { kite_rt.ptimers[i].spec[0], kite_rt.ptimers[i].spec[1] },
					  { kite_rt.ptimers[i].spec[2], kite_rt.ptimers[i].spec[3] } };
		if (its.it_value.tv_sec || its.it_value.tv_nsec)
			rs_call4(SYS_timer_settime, id, 0, &its, NULL);
	}
	rs_prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
}

/* Back from the restorer: we are the restarted program now. */
static void post_restart(void)
{
	KiteRestartInfo *ri = &kite_rt.restart_info;
	int relocated = 0;
	/* the other threads run restorer code until they are back here */
	int back = wait_count(&kite_rt.threads_back, live_threads(), 5000);
	if (back && ri->magic == KITE_RESTART_MAGIC && ri->restorer_end > ri->restorer_start)
		rs_munmap(ri->restorer_start, ri->restorer_end - ri->restorer_start);
	/* Dirty tracking starts afresh: the uffd and the fork counter's page
	 * were not in the image (their old descriptor numbers may be the
	 * program's now: not closed).  Memory is exactly the image we came
	 * from: protected now, before any thread runs on, the next checkpoint
	 * (whose parent that image is) can trust what stays unwritten. */
	kite_rt.track_on = 0;
	kite_rt.forks = NULL;
	kite_rt_track_start();
	if (kite_rt.track_on && back && kite_rt_track_protect_all() == 0)
		kite_rt.track_seq = kite_rt.seq;
	release_others();
	kite_rt.proc.pid = ri->new_pid;
	kite_rt.owner_pid = (int)ri->new_pid;
	kite_rt.busy_pid = 0;
	kite_rt.pending = 0;
	kite_rt.npending_nonces = 0;
	for (int w = 0; w < 3; w++) {
		struct itimerval v = { { kite_rt.proc.itimers[w][0], kite_rt.proc.itimers[w][1] },
				       { kite_rt.proc.itimers[w][2], kite_rt.proc.itimers[w][3] } };
		if (v.it_value.tv_sec || v.it_value.tv_usec)
			rs_setitimer(w, &v, NULL);
	}
	kite_rt.timer_id = -1;
	restore_posix_timers(); /* first: they take back their own ids */
	if (ri->magic == KITE_RESTART_MAGIC && ri->interval_s >= 0)
		kite_rt.interval_s = ri->interval_s; /* `ckpt restart --interval` */
	if (ri->magic == KITE_RESTART_MAGIC && ri->dir[0] && !rs_streq(ri->dir, kite_rt.dir)) {
		/* `ckpt restart --dir`: this machine's directory for the
		 * program's images (and status, caps, uploader); its earlier
		 * images are elsewhere, so the next one is a full one */
		kite_rt_upload_move(kite_rt.dir, ri->dir);
		rs_strlcpy(kite_rt.dir, ri->dir, sizeof kite_rt.dir);
		relocated = 1;
	}
	kite_rt_start_timer();
	/* we are the image just written: the parent of the next one —
	 * unless our images stayed in another directory */
	kite_rt.last_ok_seq = relocated ? 0 : kite_rt.seq;
	kite_rt.last_chain_len = kite_rt.cur_chain_len;
	kite_rt.api_result = 1;
	for (int i = 0; i < kite_rt.ncallbacks; i++)
		kite_rt.callbacks[i].fn(kite_rt.callbacks[i].arg);
}

static void notify_parent_done(void)
{
	siginfo_t si = { 0 };
	si.si_signo = kite_rt.sig_rt;
	si.si_code = SI_QUEUE;
	si.si_pid = (int)rs_getpid();
	si.si_value.sival_ptr = (void *)(uintptr_t)KITE_SIGVAL_DONE;
	rs_call3(SYS_rt_sigqueueinfo, kite_rt.proc.pid, kite_rt.sig_rt, &si);
}

static void do_checkpoint(int mode)
{
	uint32_t seq = ++kite_rt.seq;
	kite_rt.t_request_us = rs_mono_us();
	kite_rt.errmsg[0] = 0;
	kite_rt.proc.pid = (uint32_t)rs_getpid();
	kite_rt.proc.tid = (uint32_t)rs_gettid();

	kite_rt.threads_back = 0;
	if (freeze_others() < 0)
		goto fail_nofreeze;
	if (scan_fds(seq) < 0 || save_posix_timers() < 0)
		goto fail;
	for (int w = 0; w < 3; w++) {
		struct itimerval v = { 0 };
		rs_getitimer(w, &v);
		kite_rt.proc.itimers[w][0] = v.it_interval.tv_sec;
		kite_rt.proc.itimers[w][1] = v.it_interval.tv_usec;
		kite_rt.proc.itimers[w][2] = v.it_value.tv_sec;
		kite_rt.proc.itimers[w][3] = v.it_value.tv_usec;
	}
	rs_arch_prctl(ARCH_GET_FS, &kite_rt.proc.fs_base);
	rs_arch_prctl(ARCH_GET_GS, &kite_rt.proc.gs_base);
	/* The checkpointing thread may be any thread: its own glibc tid field
	 * and rseq area, at the same offsets from its thread pointer as the
	 * main thread's. */
	if (kite_rt.tid_off)
		kite_rt.proc.tid_addr = kite_rt.proc.fs_base + (uint64_t)kite_rt.tid_off;
	if (kite_rt.rseq_off_set)
		kite_rt.proc.rseq_addr = kite_rt.proc.fs_base + (uint64_t)kite_rt.rseq_off;
	if (kite_rt.full_every > 1 && kite_rt.last_ok_seq && kite_rt.last_chain_len < (uint32_t)kite_rt.full_every) {
		kite_rt.cur_parent_seq = kite_rt.last_ok_seq;
		kite_rt.cur_chain_len = kite_rt.last_chain_len + 1;
	} else {
		kite_rt.cur_parent_seq = 0;
		kite_rt.cur_chain_len = 1;
	}

	/* The program closed or replaced libckpt's tracking descriptors: start
	 * tracking again (the next image is then found by hashing). */
	if (kite_rt.track_on && !kite_rt_track_usable()) {
		kite_rt.track_on = 0;
		kite_rt_track_start();
	}

	if (kite_ctx_save(&kite_rt.proc.jmp)) {
		post_restart();
		return;
	}
	{
		uint64_t head = 0, len = 0;
		rs_call3(SYS_get_robust_list, 0, &head, &len);
		kite_rt.proc.robust_head = head;
		kite_rt.proc.robust_len = len;
	}
	kite_rt.t_clone_us = rs_mono_us();
	long pid = rs_call5(SYS_clone, 0 /* no exit signal: invisible to wait() */, 0, 0, 0, 0);
	if (pid == 0) {
		kite_rt.t_child_us = rs_mono_us(); /* the child's own copy */
		char image[KITE_IMG_MAX_PATH + 64];
		/* A background checkpoint may yield the CPU to the job
		 * (KITE_CKPT_CHILD_NICE); by default it does not: while the child
		 * lives, every page the job writes is copied (~10 us each here),
		 * so a starved child costs the job more than it spares it. */
		if (mode == KITE_MODE_CONTINUE && kite_rt.child_nice)
			rs_call3(SYS_setpriority, 0 /* PRIO_PROCESS */, 0, kite_rt.child_nice);
		int rc = kite_rt_dump(mode);
		kite_rt_image_path(image, sizeof image, seq, 0);
		kite_rt_write_status(seq, rc == 0, rc == 0 ? image : NULL, kite_rt.errmsg);
		if (mode == KITE_MODE_CONTINUE)
			notify_parent_done();
		rs_exit_group(rc == 0 ? 0 : 1);
	}
	if (pid < 0) {
		set_err("fork of the checkpoint child failed", -1, NULL, NULL);
		add_errno(pid);
		drop_side_files(seq);
		goto fail;
	}
	if (mode != KITE_MODE_EXIT)
		release_others();
	if (kite_rt.track_on)
		kite_rt.track_seq = seq; /* its child scans (and so re-protects) our memory */
	kite_rt.busy_pid = (int)pid;
	kite_rt.busy_mode = mode;
	kite_rt.busy_seq = seq;
	kite_rt.busy_chain_len = kite_rt.cur_chain_len;
	kite_rt.api_result = 0;
	if (mode == KITE_MODE_EXIT) {
		int st = 0;
		long r;
		do
			r = rs_wait4(pid, &st, __WALL, NULL);
		while (r == -4);
		kite_rt.busy_pid = 0;
		if (r == pid && (st & 0x7f) == 0 && ((st >> 8) & 0xff) == 0)
			rs_exit_group(KITE_CKPT_EXIT_STATUS); /* no stdio flush: the image holds the buffers */
		release_others();
		kite_rt.api_result = -1;
	}
	return;
fail:
	release_others();
fail_nofreeze:
	drop_side_files(seq);
	kite_rt_write_status(seq, 0, NULL, kite_rt.errmsg);
	kite_rt.api_result = -1;
}

static void add_nonce(uint64_t nonce)
{
	if (!nonce)
		return;
	if (kite_rt.npending_nonces < KITE_RT_MAX_NONCES)
		kite_rt.pending_nonces[kite_rt.npending_nonces++] = nonce;
	else
		kite_rt.pending_nonces[KITE_RT_MAX_NONCES - 1] = nonce;
}

static int reap_busy(int block)
{
	if (!kite_rt.busy_pid)
		return 1;
	int st = 0;
	long r;
	do
		r = rs_wait4(kite_rt.busy_pid, &st, __WALL | (block ? 0 : 1 /* WNOHANG */), NULL);
	while (r == -4);
	if (r == 0)
		return 0;
	if (r == kite_rt.busy_pid && (st & 0x7f) == 0 && ((st >> 8) & 0xff) == 0) {
		kite_rt.last_ok_seq = kite_rt.busy_seq;
		kite_rt.last_chain_len = kite_rt.busy_chain_len;
	}
	kite_rt.busy_pid = 0; /* reaped, or gone (ECHILD) */
	return 1;
}

static void handle_request(int sig, siginfo_t *si);
static void do_checkpoint(int mode);

static void run_pending(void)
{
	int mode = kite_rt.pending;
	kite_rt.pending = 0;
	for (int i = 0; i < kite_rt.npending_nonces; i++)
		kite_rt.cur_nonces[i] = kite_rt.pending_nonces[i];
	kite_rt.ncur_nonces = kite_rt.npending_nonces;
	kite_rt.npending_nonces = 0;
	do_checkpoint(mode);
}

struct owner_args {
	int sig;
	siginfo_t *si;
	int self;
};

static int follow_up_needed(void);

/* The thread that owns the handler: serve the request, then whatever
 * other threads handed over meanwhile. */
static void owner_work(void *arg)
{
	struct owner_args *oa = arg;
	int none;
	handle_request(oa->sig, oa->si);
	for (;;) {
		if (__atomic_exchange_n(&kite_rt.done_flag, 0, __ATOMIC_SEQ_CST))
			reap_busy(1);
		if (kite_rt.pending && !kite_rt.busy_pid && !kite_rt.critical) {
			run_pending();
			continue;
		}
		__atomic_store_n(&kite_rt.ckpt_owner, 0, __ATOMIC_SEQ_CST);
		if (!follow_up_needed())
			break;
		none = 0;
		if (!__atomic_compare_exchange_n(&kite_rt.ckpt_owner, &none, oa->self, 0, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
			break; /* the new owner takes it over */
	}
}

static int follow_up_needed(void)
{
	return __atomic_load_n(&kite_rt.done_flag, __ATOMIC_SEQ_CST) ||
	       (kite_rt.pending && !kite_rt.busy_pid && !kite_rt.critical);
}

void kite_rt_handler(int sig, void *siv, void *uc)
{
	siginfo_t *si = siv;
	uint64_t val = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
	(void)uc;
	if (!kite_rt.active || rs_getpid() != kite_rt.owner_pid)
		return; /* inactive, or a fork()ed child of the job */
	if (si->si_code == SI_QUEUE && val == KITE_SIGVAL_FREEZE) {
		freeze_self();
		return;
	}
	int self = (int)rs_gettid();
	int none = 0;
	if (!__atomic_compare_exchange_n(&kite_rt.ckpt_owner, &none, self, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		/* Another thread is checkpointing: leave this to it (it looks at
		 * done_flag and pending before it lets go). */
		if (si->si_code == SI_QUEUE && val == KITE_SIGVAL_DONE) {
			__atomic_store_n(&kite_rt.done_flag, 1, __ATOMIC_SEQ_CST);
			return;
		}
		int m = sig == kite_rt.sig_exit ? KITE_MODE_EXIT : KITE_MODE_CONTINUE;
		if (si->si_code == SI_QUEUE && (val & ~0xffull) == KITE_SIGVAL_API) {
			m = (int)(val & 0xff);
		} else if (si->si_code == SI_QUEUE && sig == kite_rt.sig_rt && val != KITE_SIGVAL_PENDING) {
			m = (val >> 32) == KITE_MODE_EXIT ? KITE_MODE_EXIT : KITE_MODE_CONTINUE;
			add_nonce(val & 0xffffffffull);
		} else if (si->si_code == SI_QUEUE && val != KITE_SIGVAL_PENDING) {
			add_nonce(val);
		}
		if (si->si_code == SI_TIMER)
			m = KITE_MODE_CONTINUE;
		if (m > kite_rt.pending)
			kite_rt.pending = m;
		return;
	}
	struct owner_args oa = { sig, si, self };
	if (kite_rt.stack_top)
		kite_call_on_stack(owner_work, &oa, (void *)(uintptr_t)kite_rt.stack_top);
	else
		owner_work(&oa);
}

static void handle_request(int sig, siginfo_t *si)
{
	int mode;
	uint64_t val = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
	if (si->si_code == SI_QUEUE && val == KITE_SIGVAL_DONE) {
		/* the child sends this as its last act: wait for it to exit */
		if (kite_rt.busy_pid && si->si_pid == kite_rt.busy_pid)
			reap_busy(1);
		if (kite_rt.busy_pid || !kite_rt.pending || kite_rt.critical)
			return;
		mode = KITE_MODE_NONE;
	} else if (si->si_code == SI_QUEUE && val == KITE_SIGVAL_PENDING) {
		mode = KITE_MODE_NONE;
	} else if (si->si_code == SI_QUEUE && (val & ~0xffull) == KITE_SIGVAL_API) {
		mode = (int)(val & 0xff);
	} else if (si->si_code == SI_TIMER) {
		mode = KITE_MODE_CONTINUE;
	} else if (si->si_code == SI_QUEUE && sig == kite_rt.sig_rt) {
		/* `ckpt now`: mode in the upper half, nonce in the lower */
		mode = (val >> 32) == KITE_MODE_EXIT ? KITE_MODE_EXIT : KITE_MODE_CONTINUE;
		add_nonce(val & 0xffffffffull);
	} else {
		mode = sig == kite_rt.sig_exit ? KITE_MODE_EXIT : KITE_MODE_CONTINUE;
		if (si->si_code == SI_QUEUE)
			add_nonce(val);
	}
	if (mode > kite_rt.pending)
		kite_rt.pending = mode;
	if (!kite_rt.pending)
		return;
	if (kite_rt.critical) {
		kite_rt.api_result = 0;
		return; /* kite_ckpt_critical_leave() runs it */
	}
	if (!reap_busy(kite_rt.pending == KITE_MODE_EXIT)) {
		kite_rt.api_result = 0;
		return; /* coalesced: runs when the current child reports done */
	}
	run_pending();
}
