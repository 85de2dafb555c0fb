/* libckpt runtime: state shared by the files that live inside the job.
 *
 * rt-init.c     start-up (environment, handlers, timer) and the C API;
 *               ordinary code, may use libc, never GLib.
 * rt-handler.c  the checkpoint signal handler: what the job pays for
 *               (fd scan, file snapshots, fork) and the post-restart path.
 *               Async-signal-safe: raw syscalls only.
 * rt-dump.c     the checkpoint child: writes the image.  Raw syscalls only.
 * rt-track.c    dirty-page tracking (userfaultfd write-protect + PAGEMAP_SCAN).
 * rt-sandbox.c  the closed files of the job's sandbox (KITE_CKPT_SANDBOX).
 * rt-hugepages.c the program's mmap/madvise: huge pages for its large memory.
 */
#ifndef KITE_RT_H
#define KITE_RT_H

#include <stddef.h>
#include <stdint.h>
#include "libckpt/image-format.h"

#define KITE_RT_MAX_EXCLUDE 64
#define KITE_RT_MAX_CALLBACKS 16
#define KITE_RT_MAX_NONCES 8
#define KITE_RT_MAX_ADVICE 32
/* private anonymous mappings at least this big get huge pages (rt-hugepages.c) */
#define KITE_HUGE_MIN (4ull << 20)

/* si_value markers for signals the runtime sends itself. */
#define KITE_SIGVAL_DONE 0x4b495445444f4e45ull    /* checkpoint child finished */
#define KITE_SIGVAL_PENDING 0x4b49544550454e44ull /* run a deferred request */
#define KITE_SIGVAL_API 0x4b49544541504900ull     /* | mode: from the C API */
#define KITE_SIGVAL_FREEZE 0x4b4954454652455aull  /* another thread: stop for a checkpoint */

enum { KITE_MODE_NONE = 0, KITE_MODE_CONTINUE = 1, KITE_MODE_EXIT = 2 };

typedef struct {
	KiteImgFd fd;
	char path[KITE_IMG_MAX_PATH];
	int side; /* contents snapshotted to a side file */
} KiteRtFd;

typedef struct {
	int active;
	int owner_pid; /* the process being checkpointed (a fork()ed child of it is not) */
	uint64_t stack_top; /* libckpt's own stack for the handler's owner path */
	int sig_ckpt, sig_exit; /* plain signals from outside (kill): SIGUSR2, SIGTSTP */
	int sig_rt;             /* queued real-time signal for everything else (SIGRTMAX-1) */
	long interval_s;
	int timer_id; /* kernel POSIX timer id, -1 none */
	char dir[KITE_IMG_MAX_PATH];
	char libc_version[33];
	uint32_t seq;
	int full_every; /* a full image after this many in a chain (1: always full) */
	int child_nice; /* nice value of a background checkpoint child (KITE_CKPT_CHILD_NICE, 0) */
	uint32_t last_ok_seq;   /* newest image known committed (0: none) */
	uint32_t last_chain_len;
	uint32_t busy_seq, busy_chain_len;
	uint32_t cur_parent_seq, cur_chain_len; /* for the child being forked */

	/* request bookkeeping (only touched with every signal blocked) */
	int busy_pid;    /* checkpoint child still writing, 0 none */
	int busy_mode;
	int pending;     /* coalesced/deferred request mode */
	uint64_t pending_nonces[KITE_RT_MAX_NONCES];
	int npending_nonces;
	uint64_t cur_nonces[KITE_RT_MAX_NONCES];
	int ncur_nonces;
	volatile int critical;
	int api_result; /* 0 continued, 1 restarted, -1 failed */
	char errmsg[600];

	/* other threads, frozen while the checkpointing thread forks */
	struct {
		KiteImgThread t;
		volatile uint32_t gen_seen;
	} threads[KITE_IMG_MAX_THREADS];
	int nthreads_frozen;       /* entries in threads[] */
	volatile int frozen;       /* how many of them reached the freeze point */
	volatile int threads_back; /* after a restart: how many are back */
	volatile uint32_t release_gen;
	volatile int ckpt_owner;   /* tid of the thread checkpointing, 0 none */
	volatile int done_flag;    /* a DONE arrived while another thread owned the handler */
	long fault_write;          /* KITE_FAULT=write:N[:SEQ]: the Nth image write fails (ENOSPC) */
	uint32_t fault_seq;        /* ... in checkpoint SEQ only (0: every one) */
	uint32_t fault_pmscan;     /* KITE_FAULT=pagemap-scan:SEQ: as if PAGEMAP_SCAN failed in checkpoint SEQ */
	long tid_off;              /* struct pthread tid - thread pointer */
	uint64_t main_tp;          /* thread pointer of the thread that ran the constructor */
	long rseq_off;             /* rseq area - thread pointer (glibc's __rseq_offset) */
	int rseq_off_set;

	/* POSIX timers of the program (timer_create), recreated with their
	 * ids after a restart (PR_TIMER_CREATE_RESTORE_IDS, Linux 6.10+) */
	struct {
		int id, signo, notify, tid, clockid;
		uint64_t sival;
		int64_t spec[4]; /* interval s/ns, value s/ns */
	} ptimers[32];
	int nptimers;

	/* captured in the job just before fork */
	KiteImgProcess proc;
	KiteRtFd fds[KITE_IMG_MAX_FDS];
	int nfds;

	struct {
		uint64_t start, end;
	} exclude[KITE_RT_MAX_EXCLUDE];
	int nexclude;

	/* huge pages (rt-hugepages.c) */
	int huge_pages; /* KITE_CKPT_HUGE_PAGES (1): advise the program's large anonymous mappings */
	struct {
		uint64_t start, end;
		int huge;
	} advice[KITE_RT_MAX_ADVICE]; /* the program's own MADV_(NO)HUGEPAGE, newest last */
	int nadvice;

	struct {
		void (*fn)(void *);
		void *arg;
	} callbacks[KITE_RT_MAX_CALLBACKS];
	int ncallbacks;

	KiteRestartInfo restart_info;

	/* dirty tracking (rt-track.c) */
	int track_on;              /* a working uffd (async write-protect) and pagemap fd */
	int track_uffd, track_pmfd;
	uint64_t track_uffd_dev, track_uffd_ino, track_pm_dev, track_pm_ino;
	uint32_t track_seq;        /* the last checkpoint whose child scanned (0: none since start/restart) */
	int track_disabled;        /* KITE_CKPT_NO_UFFD=1 */
	volatile uint64_t *forks;  /* shared page: the program's fork() count (pthread_atfork) */
	uint64_t self_lo, self_hi; /* libckpt's own writable data: never dropped by the child */
	uint64_t stat_read, stat_hashed, stat_trusted; /* set by the child once its image is committed */
	int stat_tracked; /* 0 hashes, 1 uffd-wp, 2 a full image */
	uint64_t stat_us[4]; /* child: tracking scan, writing, commit (wall), CPU time */
	uint64_t t_request_us, t_clone_us, t_child_us; /* the pause: request seen, clone called, child running */
} KiteRt;

typedef struct {
	uint64_t start, end, categories;
} KitePageRegion;

/* The checkpoint child's view of what the parent wrote (rt-track.c). */
typedef struct {
	uint64_t *written;  /* bit per page of the tracked mappings: written since the last scan */
	uint64_t *carry;    /* ... and written again after the fork: not to be trusted next time */
	KitePageRegion *vec;
	long veccap;
	uint64_t *pm;       /* pagemap entries */
	uint64_t pmcap;
} KiteTrack;

extern KiteRt kite_rt;

/* KITE_REG_HUGE, KITE_REG_NOHUGE or 0 for a mapping (rt-hugepages.c) */
uint32_t kite_rt_huge_flags(uint64_t start, uint64_t end, int private_anon_writable);
void kite_rt_huge_after_fork(void);

/* eventfd/timerfd/signalfd/epoll descriptors (rt-anonfd.c): the KITE_FD_*
 * kind of a descriptor whose /proc/self/fd link is @link (0: not one),
 * and its state into @text (0, or -1 with kite_rt.errmsg set). */
uint32_t kite_rt_anonfd_kind(const char *link);
int kite_rt_anonfd_save(int fd, uint32_t kind, char *text, size_t cap, uint32_t *out_len);

/* rt-handler.c */
void kite_rt_handler(int sig, void *si, void *uc);
int kite_rt_start_timer(void);
void kite_rt_write_status(uint32_t seq, int ok, const char *image, const char *message);

/* rt-dump.c: runs in the checkpoint child; returns 0 or -errno, and
 * leaves a message in kite_rt.errmsg (child's copy) on failure. */
int kite_rt_dump(int mode);
void kite_rt_image_path(char *buf, size_t cap, uint32_t seq, int tmp);

/* rt-track.c */
int kite_rt_track_init(int disabled);
void kite_rt_track_start(void);
int kite_rt_track_usable(void);
int kite_rt_track_owns_fd(int fd);
int kite_rt_track_register(uint64_t start, uint64_t end);
int kite_rt_track_scan(KiteTrack *t, uint64_t start, uint64_t end, uint64_t bit);
int kite_rt_track_after_fork_writes(KiteTrack *t, uint64_t start, uint64_t end, uint64_t bit);
/* Which of @npages pages from @start are present or swapped out in the
 * memory @pmfd (a /proc/PID/pagemap) describes: pm[i] = 1ull << 63 (as a
 * pagemap entry's "present") or 0.  -1 if the kernel lacks PAGEMAP_SCAN. */
int kite_rt_pages_present(int pmfd, uint64_t start, uint64_t npages, uint64_t *pm, KitePageRegion *vec, long veccap);
int kite_rt_track_protect_all(void); /* rt-dump.c: after a restart */
/* rt-upload.c: images to a checkpoint server instead of the directory.
 * start: the uploader runs; returns the fd to write the image to (or
 * -errno) and its pid and report fd.  finish: with @ok wait for its
 * commit (0, or -5 with kite_rt.errmsg set); without, kill it first. */
int kite_rt_upload_active(void);
void kite_rt_upload_move(const char *old, const char *new_dir);
void kite_rt_upload_name(char *buf, size_t cap);
int kite_rt_upload_start(int *out_pid, int *out_result);
int kite_rt_upload_finish(int *fd, int pid, int result, int ok);

/* rt-sandbox.c: the closed files of KITE_CKPT_SANDBOX, in the checkpoint
 * child.  dump: SANDBOX, FILEDATA and SBXFILE records through @emit
 * (after the descriptors, before memory); 0, or -errno with
 * kite_rt.errmsg set.  finish: after the commit (or a failure), the
 * image's chunk list for the next incremental image. */
typedef struct {
	void *w;
	int (*emit)(void *w, uint32_t type, const void *a, size_t alen, const void *b, size_t blen);
	char *io; /* KITE_IMG_CHUNK bytes of scratch */
	int mode, upload;
	uint32_t parent_seq; /* 0: a full image, every chunk stored */
	uint64_t parent_created_ns, created_ns;
} KiteSbxOut;
int kite_rt_sandbox_dump(const KiteSbxOut *out);
void kite_rt_sandbox_finish(uint32_t seq, int committed);

/* context switch (rt-handler.c, asm) */
int kite_ctx_save(KiteJmp *j) __attribute__((returns_twice));

#endif
