/* libckpt runtime start-up and the public C API (include/kite/ckpt.h).
 *
 * Ordinary code: runs at program start (a constructor, in preloaded and
 * relinked programs alike) or when the program calls the API.  It may use
 * libc but never GLib.  The signal handler itself is in rt-handler.c.
 *
 * Environment (set by `ckpt run`):
 *   KITE_CKPT_DIR        where images go (default ./kite-ckpt)
 *   KITE_CKPT_INTERVAL   seconds between periodic checkpoints (0: none)
 *   KITE_CKPT_PID        only the process with this pid is checkpointed,
 *                        so that the job's own children stay untouched
 *   KITE_CKPT_SIGNAL, KITE_CKPT_EXIT_SIGNAL   signal numbers (12, 20)
 *   KITE_CKPT_NO_UFFD    1: no userfaultfd dirty tracking (hash every page)
 *   KITE_CKPT_CHILD_NICE nice value of background checkpoint children (0)
 *   KITE_CKPT_HUGE_PAGES 0: no huge pages for large anonymous memory (1)
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kite/ckpt.h"
#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"

#define KITE_EXPORT __attribute__((visibility("default")))

KiteRt kite_rt;

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	long n = strtol(v, &end, 10);
	return *end ? dflt : n;
}

static void find_thread_identity(void)
{
	char *tp = __builtin_thread_pointer();
	int tid = (int)rs_gettid();
	kite_rt.main_tp = (uint64_t)(uintptr_t)tp;
	if (&__rseq_size && &__rseq_offset && __rseq_size > 0) {
		kite_rt.proc.rseq_addr = (uint64_t)(uintptr_t)(tp + __rseq_offset);
		kite_rt.rseq_off = (long)__rseq_offset;
		kite_rt.rseq_off_set = 1;
		kite_rt.proc.rseq_len = 32; /* glibc 2.36 registers 32 bytes, reports 20 */
		kite_rt.proc.rseq_sig = 0x53053053;
	}
	/* glibc caches the tid in struct pthread, which starts at the thread
	 * pointer (x86_64); find it once so a restart can patch it.  Skip the
	 * tcbhead (random canaries live there). */
	for (size_t off = 0x100; off < 0x800; off += 4)
		if (*(int *)(tp + off) == tid) {
			kite_rt.proc.tid_addr = (uint64_t)(uintptr_t)(tp + off);
			kite_rt.tid_off = (long)off;
			break;
		}
}

/* libckpt's own writable data (kite_rt, the CRC tables …): the checkpoint
 * child reads it to the end, so it never gives those pages back early. */
static int find_self_data(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	uint64_t me = (uint64_t)(uintptr_t)&kite_rt, lo = ~0ull, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		uint64_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
		if (s < lo)
			lo = s;
		if (e > hi)
			hi = e;
	}
	if (me < lo || me >= hi)
		return 0;
	kite_rt.self_lo = lo & ~4095ull;
	kite_rt.self_hi = (hi + 4095) & ~4095ull;
	return 1;
}

/* The checkpoint child tells the pages the program wrote after the fork
 * by their no longer being shared with it; a fork() of the program's own
 * shares them again, so it counts forks (in a page the child sees). */
static void count_fork(void)
{
	if (kite_rt.forks)
		__atomic_add_fetch(kite_rt.forks, 1, __ATOMIC_SEQ_CST);
}

static int start_runtime(void);

__attribute__((constructor)) static void kite_rt_init(void)
{
	/* Preloaded into a program that was relinked with its own runtime:
	 * leave the job to that one. */
#ifdef KITE_RT_PRELOAD
	if (dlsym(RTLD_DEFAULT, "kite_ckpt_relinked"))
		return;
#endif
	long want_pid = env_long("KITE_CKPT_PID", 0);
	if (want_pid && want_pid != getpid())
		return; /* a child of the checkpointed job */
	const char *dir = getenv("KITE_CKPT_DIR");
	if (!dir || !*dir)
		dir = "kite-ckpt";
	if (dir[0] == '/') {
		if (strlen(dir) >= sizeof kite_rt.dir - 64)
			return;
		strcpy(kite_rt.dir, dir);
	} else {
		if (!getcwd(kite_rt.dir, sizeof kite_rt.dir - 64 - strlen(dir)))
			return;
		strcat(kite_rt.dir, "/");
		strcat(kite_rt.dir, dir);
	}
	mkdir(kite_rt.dir, 0755);
	strncpy(kite_rt.libc_version, gnu_get_libc_version(), sizeof kite_rt.libc_version - 1);
	kite_rt.sig_ckpt = (int)env_long("KITE_CKPT_SIGNAL", SIGUSR2);
	kite_rt.sig_exit = (int)env_long("KITE_CKPT_EXIT_SIGNAL", SIGTSTP);
	/* Plain signals do not queue: two SIGUSR2 in flight are one.  Requests
	 * that carry a nonce (`ckpt now`), the child's "done", thread freezes
	 * and the periodic timer use a queued real-time signal instead. */
	kite_rt.sig_rt = (int)env_long("KITE_CKPT_RT_SIGNAL", SIGRTMAX - 1);
	kite_rt.interval_s = env_long("KITE_CKPT_INTERVAL", 0);
	kite_rt.full_every = (int)env_long("KITE_CKPT_FULL_EVERY", 8);
	kite_rt.child_nice = (int)env_long("KITE_CKPT_CHILD_NICE", 0);
	const char *fault = getenv("KITE_FAULT"); /* tests walk failure points */
	if (fault && strncmp(fault, "write:", 6) == 0) {
		char *end;
		kite_rt.fault_write = strtol(fault + 6, &end, 10);
		if (*end == ':')
			kite_rt.fault_seq = (uint32_t)strtoul(end + 1, NULL, 10);
	}
	if (fault && strncmp(fault, "pagemap-scan:", 13) == 0)
		kite_rt.fault_pmscan = (uint32_t)strtoul(fault + 13, NULL, 10);
	if (kite_rt.full_every < 1 || kite_rt.full_every > KITE_IMG_MAX_CHAIN)
		kite_rt.full_every = 8;
	kite_rt.timer_id = -1;
	kite_rt.proc.restart_info_addr = (uint64_t)(uintptr_t)&kite_rt.restart_info;
	find_thread_identity();
	kite_rt.track_disabled = env_long("KITE_CKPT_NO_UFFD", 0) == 1;
	kite_rt.huge_pages = env_long("KITE_CKPT_HUGE_PAGES", 1) != 0;
	dl_iterate_phdr(find_self_data, NULL);
	pthread_atfork(count_fork, NULL, kite_rt_huge_after_fork);

	/* A request that arrives once the handler is installed but before
	 * the runtime is active would be dropped by the handler (`ckpt now`
	 * sends as soon as it sees the handler): held until the end. */
	sigset_t held, old_mask;
	sigemptyset(&held);
	sigaddset(&held, kite_rt.sig_ckpt);
	sigaddset(&held, kite_rt.sig_exit);
	sigaddset(&held, kite_rt.sig_rt);
	pthread_sigmask(SIG_BLOCK, &held, &old_mask);
	if (start_runtime() < 0)
		kite_rt.active = 0;
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
}

/* The handlers, libckpt's own stack, tracking, the timer: -1 if the
 * handlers cannot be installed (the runtime stays inactive). */
static int start_runtime(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))kite_rt_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(kite_rt.sig_ckpt, &sa, NULL) < 0 || sigaction(kite_rt.sig_exit, &sa, NULL) < 0 ||
	    sigaction(kite_rt.sig_rt, &sa, NULL) < 0)
		return -1;
	/* the handler's own stack (with a guard page below) */
	size_t ssz = 512 << 10;
	char *stk = mmap(NULL, ssz + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stk != MAP_FAILED) {
		mprotect(stk, 4096, PROT_NONE);
		kite_rt.stack_top = (uint64_t)(uintptr_t)(stk + ssz + 4096);
	}
	kite_rt.owner_pid = getpid();
	kite_rt_track_start();
	kite_rt.active = 1;
	kite_rt_start_timer();
	return 0;
}

#ifdef KITE_RT_PRELOAD
/* The checkpoint signals belong to libckpt (as in Condor's standard
 * universe): a preloaded program that installs its own action for them
 * is told it succeeded, and the action is remembered but never used, so
 * that the program cannot switch checkpointing off by accident. */
static struct sigaction app_action[3];

static int reserved(int sig)
{
	return kite_rt.active && (sig == kite_rt.sig_ckpt || sig == kite_rt.sig_exit || sig == kite_rt.sig_rt);
}

KITE_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*real)(int, const struct sigaction *, struct sigaction *);
	if (!real)
		real = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
	if (reserved(sig)) {
		struct sigaction *slot = &app_action[sig == kite_rt.sig_ckpt ? 0 : sig == kite_rt.sig_exit ? 1 : 2];
		if (old)
			*old = *slot;
		if (act)
			*slot = *act;
		return 0;
	}
	return real(sig, act, old);
}

KITE_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}
#endif

KITE_EXPORT int kite_ckpt_is_active(void)
{
	return kite_rt.active && kite_rt.owner_pid == getpid();
}

static int request(int mode)
{
	if (!kite_ckpt_is_active()) {
		errno = ENOTSUP;
		return -1;
	}
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = kite_rt.sig_rt;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)(uintptr_t)(KITE_SIGVAL_API | (uint64_t)mode);
	kite_rt.api_result = -1;
	/* To this thread, so the handler has run when the call returns. */
	if (rs_call4(SYS_rt_tgsigqueueinfo, getpid(), rs_gettid(), kite_rt.sig_rt, &si) < 0)
		return -1;
	return kite_rt.api_result;
}

KITE_EXPORT int kite_ckpt_now(void)
{
	return request(KITE_MODE_CONTINUE);
}

KITE_EXPORT int kite_ckpt_exit(void)
{
	return request(KITE_MODE_EXIT);
}

KITE_EXPORT int kite_ckpt_exclude(void *addr, size_t len)
{
	if (kite_rt.nexclude >= KITE_RT_MAX_EXCLUDE) {
		errno = ENOSPC;
		return -1;
	}
	uint64_t s = (uint64_t)(uintptr_t)addr & ~4095ull;
	uint64_t e = ((uint64_t)(uintptr_t)addr + len + 4095) & ~4095ull;
	kite_rt.exclude[kite_rt.nexclude].start = s;
	kite_rt.exclude[kite_rt.nexclude].end = e;
	kite_rt.nexclude++;
	return 0;
}

KITE_EXPORT int kite_ckpt_on_restart(void (*fn)(void *), void *arg)
{
	if (kite_rt.ncallbacks >= KITE_RT_MAX_CALLBACKS) {
		errno = ENOSPC;
		return -1;
	}
	kite_rt.callbacks[kite_rt.ncallbacks].fn = fn;
	kite_rt.callbacks[kite_rt.ncallbacks].arg = arg;
	kite_rt.ncallbacks++;
	return 0;
}

KITE_EXPORT void kite_ckpt_critical_enter(void)
{
	__atomic_add_fetch(&kite_rt.critical, 1, __ATOMIC_SEQ_CST);
}

KITE_EXPORT void kite_ckpt_critical_leave(void)
{
	if (__atomic_sub_fetch(&kite_rt.critical, 1, __ATOMIC_SEQ_CST) == 0 && kite_rt.pending && kite_rt.active) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		si.si_signo = kite_rt.sig_rt;
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_value.sival_ptr = (void *)(uintptr_t)KITE_SIGVAL_PENDING;
		rs_call4(SYS_rt_tgsigqueueinfo, getpid(), rs_gettid(), kite_rt.sig_rt, &si);
	}
}
