/* libckpt image format, declared once.
 *
 * This header is shared by the three programs that touch images: the
 * in-job runtime that writes them (libckpt/runtime, async-signal-safe,
 * no libc), the restorer that maps them back (libckpt/restore,
 * freestanding) and the `ckpt` command that inspects and validates them
 * (libckpt/cmd, GLib).  It must therefore stay plain C with fixed-size
 * types and no includes beyond <stdint.h>.
 *
 * Layout of an image file:
 *
 *   KiteImgHeader                      (512 bytes, at offset 0, own CRC)
 *   record*                            (KiteImgRec + payload, back to back)
 *     PROCESS   one, first
 *     THREAD    one per thread other than the checkpointing one
 *     FD        one per open descriptor, each followed by its FILEDATA
 *     FILEDATA  contents of a file open for writing, in chunks
 *     SANDBOX   the job's sandbox directory (KITE_CKPT_SANDBOX), at most one,
 *               then for each closed regular file of its top directory the
 *               FILEDATA records of its content (fd KITE_FILEDATA_SANDBOX)
 *               and an SBXFILE record that names it and lists its chunks
 *     REGION    one per mapping, in address order
 *     PAGES     memory contents, chunks of at most KITE_IMG_CHUNK bytes
 *     PARENT    a run of pages unchanged since the parent image (incremental
 *               images only): take them from the parent, which lives in the
 *               same directory as ckpt-<parent_seq>.img
 *     END       last; counts the records and digests their CRCs
 *
 * Every record header carries a CRC32C of itself and one of its payload.
 * Pages that are zero or were never touched are not stored.
 * Little-endian, x86_64 only for now.
 */
#ifndef KITE_IMAGE_FORMAT_H
#define KITE_IMAGE_FORMAT_H

#include <stdint.h>

#define KITE_IMG_MAGIC "KITECKPT"
#define KITE_IMG_VERSION 1
#define KITE_IMG_HEADER_SIZE 512
#define KITE_IMG_CHUNK (1u << 20)
#define KITE_IMG_ARCH_X86_64 62 /* EM_X86_64 */

/* Bounds a reader enforces on what it will believe. */
#define KITE_IMG_MAX_META (1u << 20)   /* largest non-PAGES payload */
#define KITE_IMG_MAX_REGIONS 65536
#define KITE_IMG_MAX_FDS 1024
#define KITE_IMG_MAX_PATH 4096

typedef union {
	struct {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint32_t arch;
	uint32_t page_size;
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint32_t pid;        /* of the checkpointed process */
	uint32_t seq;        /* checkpoint number within its directory */
	/* CPU: what a restoring CPU must also have. */
	char cpu_vendor[16];
	uint32_t cpuid1_ecx, cpuid1_edx;
	uint32_t cpuid7_ebx, cpuid7_ecx, cpuid7_edx;
	uint32_t xsave_size; /* CPUID 0xD.0 EBX: bytes for the enabled XCR0 set */
	uint64_t xcr0;
	/* Software identity, for people and for refusing mismatches. */
	char kernel_release[65];
	char kernel_version[65];
	char hostname[65];
	char libc_version[33];
	/* Incremental images: the image this one's PARENT records refer to. */
	uint32_t parent_seq;        /* 0: a full image */
	uint32_t chain_len;         /* images needed to restart, this one included */
	uint64_t parent_created_ns; /* the parent's created_ns, to detect a replaced parent */
	uint32_t flags;      /* KITE_IMG_FLAG_* */
	uint32_t header_crc; /* CRC32C of the 512 bytes with this field 0 */
	};
	char bytes[KITE_IMG_HEADER_SIZE];
} KiteImgHeader;

/* How the checkpoint found the pages that changed (informational). */
#define KITE_IMG_FLAG_WP_TRACKED 1 /* write-protect tracking told which pages to read */
#define KITE_IMG_FLAG_WP_SCANNED 2 /* tracking is on: the next image can use it */

enum {
	KITE_REC_PROCESS = 1,
	KITE_REC_FD = 2,
	KITE_REC_FILEDATA = 3,
	KITE_REC_REGION = 4,
	KITE_REC_PAGES = 5,
	KITE_REC_PARENT = 6,
	KITE_REC_THREAD = 7,
	KITE_REC_SANDBOX = 8,
	KITE_REC_SBXFILE = 9,
	KITE_REC_END = 0x7e7e,
};

typedef struct {
	uint32_t type;
	uint32_t hdr_crc; /* CRC32C of this header with hdr_crc 0 */
	uint64_t len;     /* payload bytes that follow */
	uint32_t data_crc; /* CRC32C of the payload */
	uint32_t reserved;
} KiteImgRec;

/* Where the restored process resumes: the callee-saved registers of the
 * checkpoint handler's frame (the rest are in the signal frame on the
 * restored stack and come back with rt_sigreturn). */
typedef struct {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
	uint32_t mxcsr;
	uint16_t fcw;
	uint16_t pad;
} KiteJmp;

typedef struct {
	uint64_t handler, flags, restorer, mask;
} KiteSigaction;

#define KITE_NSIG 64

typedef struct {
	KiteJmp jmp;
	uint64_t fs_base, gs_base;
	uint64_t rseq_addr; /* 0: none registered */
	uint32_t rseq_len, rseq_sig;
	uint64_t tid_addr;  /* glibc's cached tid in struct pthread, or 0 */
	uint64_t restart_info_addr; /* KiteRestartInfo in the runtime */
	uint64_t robust_head, robust_len; /* set_robust_list of this thread */
	uint32_t pid, tid;
	/* mm fields, for PR_SET_MM_MAP */
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv[2 * 48];
	uint32_t auxv_bytes;
	uint32_t umask;
	uint64_t sigmask; /* blocked signals while in the handler */
	KiteSigaction sigactions[KITE_NSIG]; /* index = signo - 1 */
	uint64_t altstack_sp, altstack_size;
	int32_t altstack_flags;
	uint32_t nthreads;
	int64_t itimers[3][4]; /* REAL, VIRTUAL, PROF: interval s/us, value s/us */
	uint64_t cpu_affinity[16]; /* sched_getaffinity, 1024 CPUs */
	uint32_t affinity_bytes;
	uint32_t nrlimits;
	uint64_t rlimits[16][2];   /* prlimit: soft, hard per RLIMIT_* */
	uint32_t vdso_crc;  /* CRC32C of the [vdso] bytes */
	uint32_t personality;
	char comm[16];
	char cwd[KITE_IMG_MAX_PATH];
	char exe[KITE_IMG_MAX_PATH];
} KiteImgProcess;

/* Another thread, frozen in the runtime's handler while the checkpointing
 * thread forked.  It comes back as a clone() of the restorer that jumps
 * to jmp with every signal blocked; its signal frame on its own stack
 * restores the rest. */
typedef struct {
	KiteJmp jmp;
	uint64_t fs_base;
	uint64_t tid_addr; /* glibc's struct pthread tid: patched, and CLONE_CHILD_CLEARTID */
	uint64_t rseq_addr;
	uint32_t rseq_len, rseq_sig;
	uint64_t robust_head, robust_len;
	uint64_t altstack_sp, altstack_size;
	int32_t altstack_flags;
	uint32_t tid;
} KiteImgThread;

#define KITE_IMG_MAX_THREADS 128

enum {
	KITE_FD_REGULAR = 1, /* reopened by path, offset restored */
	KITE_FD_INHERIT = 2, /* 0/1/2 on a tty or pipe: the restarting command's own */
	KITE_FD_DEVICE = 3,  /* harmless character device reopened by path (/dev/null…) */
	KITE_FD_DIR = 4,
	KITE_FD_DUP = 5,     /* shares the open file description of dup_of */
	/* Kernel objects recreated from their state: the "path" holds the
	 * kernel's /proc/self/fdinfo/N text of the descriptor at the
	 * checkpoint (libckpt/runtime/rt-anonfd.c). */
	KITE_FD_EVENTFD = 6,  /* eventfd-count (and eventfd-semaphore) */
	KITE_FD_TIMERFD = 7,  /* clockid, ticks, it_value, it_interval */
	KITE_FD_SIGNALFD = 8, /* sigmask */
	KITE_FD_EPOLL = 9,    /* tfd/events/data of each watched descriptor */
};

typedef struct {
	int32_t fd;
	uint32_t kind;
	uint32_t open_flags; /* F_GETFL */
	uint32_t fd_flags;   /* F_GETFD */
	int64_t offset;
	uint64_t dev, ino, size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode;
	int32_t dup_of;
	uint32_t has_contents; /* FILEDATA records follow with size bytes */
	uint32_t path_len;     /* bytes of path that follow, no NUL */
	uint32_t pad;
	/* char path[path_len] */
} KiteImgFd;

typedef struct {
	int32_t fd;
	uint32_t pad;
	uint64_t offset; /* in the file */
	/* data */
} KiteImgFileData;

/* The sandbox (libckpt/runtime/rt-sandbox.c, docs/ckpt.md "The sandbox"):
 * the closed regular files of one directory, as of the checkpoint.  The
 * SANDBOX payload is the directory's absolute path (no NUL).  A file's
 * content is cut into chunks of KITE_IMG_CHUNK bytes; a chunk is either
 * stored here, as a FILEDATA record with fd KITE_FILEDATA_SANDBOX and
 * offset its place in the file (identical content gives identical
 * records, which a checkpoint server stores once), or — in an
 * incremental image — left in the parent chain, found there by its hash.
 * The restorer skips all of this; `ckpt restart` writes the files. */
#define KITE_FILEDATA_SANDBOX (-2)
#define KITE_IMG_MAX_SBX_FILES 4096
#define KITE_IMG_SBX_NAME_MAX 255

typedef struct {
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode;     /* permission bits (07777) */
	uint32_t nchunks;  /* KiteImgSbxChunk entries that follow */
	uint32_t name_len; /* bytes of name after the chunks, no NUL, no '/' */
	/* KiteImgSbxChunk chunks[nchunks]; char name[name_len] */
} KiteImgSbxFile;

typedef struct {
	uint64_t hash;   /* XXH64 (seed 0) of the chunk's bytes */
	uint32_t len;    /* KITE_IMG_CHUNK, except the last chunk */
	uint32_t stored; /* 1: in a FILEDATA record of this image, before the SBXFILE; 0: in a parent image */
} KiteImgSbxChunk;

/* DIR/.ckpt-N.files: the chunks image N's sandbox files are made of, so
 * that image N+1 can leave unchanged ones in its parent.  Like .hashes,
 * not part of the image; losing it only makes the next image store every
 * file again. */
#define KITE_SBX_FILES_MAGIC 0x53454c4946584253ull
typedef struct {
	uint64_t magic;
	uint32_t seq;
	uint32_t pad;
	uint64_t created_ns; /* of image N */
	uint64_t count;
	/* struct { uint64_t hash; uint32_t len, pad; } entries[count] */
} KiteSbxFilesHeader;

/* Region flags */
#define KITE_REG_SHARED 0x1
#define KITE_REG_FILE 0x2   /* mapped from path at restart */
#define KITE_REG_HEAP 0x4
#define KITE_REG_STACK 0x8
#define KITE_REG_VDSO 0x10
#define KITE_REG_VVAR 0x20  /* [vvar] and [vvar_vclock] */
#define KITE_REG_VSYSCALL 0x40
#define KITE_REG_DATA 0x80  /* some pages stored in PAGES records */
#define KITE_REG_EXCLUDED 0x100 /* excluded by the program: restored as zeros */
#define KITE_REG_HUGE 0x200     /* restored with MADV_HUGEPAGE (libckpt/runtime/rt-hugepages.c) */
#define KITE_REG_NOHUGE 0x400   /* restored with MADV_NOHUGEPAGE: the program asked for it */

typedef struct {
	uint64_t start, end;
	uint64_t offset; /* file offset of a file mapping */
	uint64_t dev, ino, size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t prot;  /* PROT_* */
	uint32_t flags; /* KITE_REG_* */
	uint32_t path_len;
	uint32_t build_id_len; /* file mappings of ELF files: GNU build-id */
	uint8_t build_id[20];
	uint32_t pad;
	/* char path[path_len] */
} KiteImgRegion;

typedef struct {
	uint64_t addr;
	uint64_t len;
	/* data */
} KiteImgPages;

/* PARENT payload: pages [addr, addr+len) are those of the parent image. */
typedef struct {
	uint64_t addr;
	uint64_t len;
} KiteImgParent;

#define KITE_IMG_MAX_CHAIN 64

/* DIR/.ckpt-N.hashes: the page hashes of image N, for the next incremental
 * checkpoint.  Not part of the image; losing it only makes the next image
 * a full one. */
#define KITE_HASHES_MAGIC 0x5348534854494b4bull
typedef struct {
	uint64_t magic;
	uint32_t seq;
	uint32_t pad;
	uint64_t created_ns; /* of image N */
	uint64_t count;
	/* struct { uint64_t addr, hash; } entries[count], addr ascending; the
	 * low bits of addr are flags */
} KiteHashesHeader;
/* The page may have changed after image N was taken without its dirty
 * tracking knowing it: the next image compares the hash, never trusts the
 * write-protect bit alone (libckpt/runtime/rt-track.c). */
#define KITE_HASH_UNTRUSTED 1ull
/* No hash was computed (a full image of tracked memory): the page can be
 * referenced only while tracking says it is unwritten. */
#define KITE_HASH_NONE 2ull

typedef struct {
	uint64_t nrecords; /* before END */
	uint64_t bytes;    /* file offset of the END record */
	uint32_t digest;   /* CRC32C over every record's data_crc, in order */
	uint32_t pad;
} KiteImgEnd;

/* Written by the restorer into the restored runtime just before it jumps
 * back; read by the runtime's post-restart code. */
typedef struct {
	uint64_t magic;
	uint64_t restorer_start, restorer_end;
	uint32_t new_pid;
	uint32_t restarts;
	int64_t interval_s; /* `ckpt restart --interval`: the new periodic interval; < 0: keep */
	char dir[KITE_IMG_MAX_PATH]; /* `ckpt restart --dir`: the program's directory here; "": keep */
} KiteRestartInfo;

#define KITE_RESTART_MAGIC 0x4b49544552535452ull

/* Exit status of a job that ended after a checkpoint (checkpoint-and-exit). */
#define KITE_CKPT_EXIT_STATUS 85

#endif
