/* The job's sandbox in every image: the closed regular files of one
 * directory (docs/ckpt.md, "The sandbox"), so that a job resumed on
 * another machine after its own died finds the files it wrote and closed
 * before its last checkpoint.
 *
 * Start-up (the constructor: ordinary code, libc allowed):
 * KITE_CKPT_SANDBOX=DIR opens DIR as a descriptor of libckpt's own, kept
 * high (fd 1000 or above where the limit allows).  It is saved in the
 * image like any directory the program holds, so `ckpt restart --move
 * OLD=NEW` reopens it at its new place: after a restart elsewhere it
 * names the new sandbox with no help from the restorer.
 *
 * The checkpoint child (everything else): ASYNC-SIGNAL-SAFE, raw system
 * calls only, scratch memory from a private mapping that is gone before
 * the memory is dumped, no global written.  It reads each file while the
 * job runs on, and accepts a copy only if the file's ctime shows no
 * change since the checkpoint's fork (and none during the read): any
 * write, truncation, rename or creation moves ctime forward, so a file
 * the job touched after the checkpoint — whose contents no longer match
 * the memory being saved — fails the image instead of being saved torn
 * or too new.  The next checkpoint tries again.  A checkpoint-and-exit
 * keeps the job frozen, so only a change during the read counts there.
 *
 * Skipped: subdirectories (top directory only, like the output transfer),
 * symbolic links, anything not a regular file, and files open for
 * writing (their contents are saved with their descriptor, FILEDATA).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"
#include "libckpt/xxhash64.h"

#define SBX_FD_MIN	1000
#define SBX_MAX_DEFAULT (1ull << 30)
#define SBX_MAX_LIMIT	(16ull << 30) /* an SBXFILE record's chunk list stays far below 1 MiB */
#define DENTS_BYTES	(64u << 10)
#define PARENT_MAX	(1u << 22) /* chunk entries believed in a parent's list */

static int sbx_fd = -1;
static int sbx_open_errno; /* KITE_CKPT_SANDBOX set but not usable */
static int sbx_bad_max;	   /* KITE_CKPT_SANDBOX_MAX set but not a size */
static uint64_t sbx_max = SBX_MAX_DEFAULT;
static char sbx_given[KITE_IMG_MAX_PATH];

/* "123", "64K", "512M", "2G" */
static int parse_size(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v)
		return -1;
	int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
	if (shift)
		end++;
	if (*end || n > (SBX_MAX_LIMIT >> shift))
		return -1;
	*out = (uint64_t)n << shift;
	return 0;
}

__attribute__((constructor)) static void kite_rt_sandbox_init(void)
{
	const char *dir = getenv("KITE_CKPT_SANDBOX");
	const char *pid = getenv("KITE_CKPT_PID");
	if (!dir || !*dir || (pid && *pid && atol(pid) != getpid()))
		return;
	rs_strlcpy(sbx_given, dir, sizeof sbx_given);
	const char *max = getenv("KITE_CKPT_SANDBOX_MAX");
	if (max && *max && parse_size(max, &sbx_max) < 0)
		sbx_bad_max = 1; /* refused at the first checkpoint, with the reason */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		sbx_open_errno = -(long)errno;
		return;
	}
	int high = fcntl(fd, F_DUPFD_CLOEXEC, SBX_FD_MIN);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	sbx_fd = fd;
}

typedef struct {
	uint64_t hash;
	uint32_t len, pad;
} Entry;

typedef struct {
	const KiteSbxOut *out;
	char *name;	  /* KITE_IMG_MAX_PATH: messages */
	int64_t limit_ns; /* a ctime after this: changed since the checkpoint */
	/* the parent's chunks, as an open-addressing table of indices + 1 */
	const Entry *parent;
	long parent_map;
	uint64_t parent_map_len;
	uint32_t *table;
	uint64_t tmask;
	/* this image's chunks, for the next one's list */
	Entry *mine;
	uint64_t nmine, maxmine;
	char *rec; /* an SBXFILE record being built */
	uint64_t total;
	int nfiles;
} S;

static void fail(const char *a, const char *b, const char *c, long e)
{
	RsStr s = {kite_rt.errmsg, 0, sizeof kite_rt.errmsg};
	rs_str_add(&s, a);
	if (b)
		rs_str_add(&s, b);
	if (c)
		rs_str_add(&s, c);
	if (e < 0) {
		rs_str_add(&s, ": errno ");
		rs_str_num(&s, -e);
	}
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

static int in_parent(const S *s, uint64_t hash, uint32_t len)
{
	if (!s->table)
		return 0;
	for (uint64_t i = hash & s->tmask;; i = (i + 1) & s->tmask) {
		uint32_t k = s->table[i];
		if (!k)
			return 0;
		if (s->parent[k - 1].hash == hash && s->parent[k - 1].len == len)
			return 1;
	}
}

static void dir_name(char *buf, size_t cap, uint32_t seq, const char *suffix)
{
	RsStr s = {buf, 0, cap};
	rs_str_add(&s, kite_rt.dir);
	rs_str_add(&s, "/.ckpt-");
	rs_str_num(&s, seq);
	rs_str_add(&s, suffix);
}

/* Map the parent image's chunk list and index it; on any trouble there
 * is no parent list and every file is stored. */
static void load_parent(S *s, char *scratch_table, uint64_t table_slots)
{
	char path[KITE_IMG_MAX_PATH + 64];
	dir_name(path, sizeof path, s->out->parent_seq, ".files");
	int fd = (int)rs_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct stat st;
	KiteSbxFilesHeader h;
	int ok = rs_fstat(fd, &st) == 0 && rs_pread_all(fd, &h, sizeof h, 0) == 0 &&
		 h.magic == KITE_SBX_FILES_MAGIC && h.seq == s->out->parent_seq &&
		 h.created_ns == s->out->parent_created_ns && h.count && h.count <= PARENT_MAX &&
		 h.count * 2 <= table_slots && (uint64_t)st.st_size == sizeof h + h.count * sizeof(Entry);
	long m = ok ? rs_mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : -1;
	rs_close(fd);
	if (!ok || (m < 0 && m > -4096))
		return;
	s->parent_map = m;
	s->parent_map_len = (uint64_t)st.st_size;
	s->parent = (const Entry *)(m + sizeof h);
	uint64_t slots = 1;
	while (slots < h.count * 2)
		slots <<= 1;
	s->table = (uint32_t *)scratch_table;
	s->tmask = slots - 1;
	for (uint64_t k = 0; k < h.count; k++) {
		uint64_t i = s->parent[k].hash & s->tmask;
		while (s->table[i])
			i = (i + 1) & s->tmask;
		s->table[i] = (uint32_t)(k + 1);
	}
}

/* Save one file: its chunks (stored, or left in the parent), then its
 * SBXFILE record.  0, or -errno with kite_rt.errmsg set. */
static int save_file(S *s, int dfd, const char *name, size_t name_len, char *io)
{
	int fd = (int)rs_openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd == -40 /* ELOOP */ || fd == -2 /* ENOENT */ || fd == -6 /* ENXIO */)
		return 0; /* a symbolic link, gone (removed: see the directory's ctime), or a socket */
	if (fd < 0) {
		fail("cannot read sandbox file ", name, " (the job could not have it back)", fd);
		return fd;
	}
	struct stat before, after;
	int rc = 0;
	if (rs_fstat(fd, &before) < 0 || !S_ISREG(before.st_mode))
		goto out;
	for (int i = 0; i < kite_rt.nfds; i++) {
		const KiteImgFd *f = &kite_rt.fds[i].fd;
		if (f->has_contents && f->dev == before.st_dev && f->ino == before.st_ino)
			goto out; /* open for writing: saved with its descriptor */
	}
	if (++s->nfiles > KITE_IMG_MAX_SBX_FILES) {
		fail("the sandbox holds more than 4096 files (at ", name,
		     "); libckpt saves at most that many", 0);
		rc = -7;
		goto out;
	}
	KiteImgSbxFile *f = (KiteImgSbxFile *)s->rec;
	KiteImgSbxChunk *chunks = (KiteImgSbxChunk *)(f + 1);
	uint64_t off = 0;
	uint32_t n = 0;
	for (;;) {
		uint64_t got = 0;
		while (got < KITE_IMG_CHUNK) {
			long r = rs_pread(fd, io + got, KITE_IMG_CHUNK - got, off + got);
			if (r == -4)
				continue;
			if (r < 0) {
				fail("cannot read sandbox file ", name, NULL, r);
				rc = (int)r;
				goto out;
			}
			if (r == 0)
				break;
			got += (uint64_t)r;
		}
		if (!got)
			break;
		if (s->total + got > sbx_max) {
			RsStr m = {kite_rt.errmsg, 0, sizeof kite_rt.errmsg};
			rs_str_add(&m, "the sandbox's closed files are over KITE_CKPT_SANDBOX_MAX (");
			rs_str_num(&m, (long)sbx_max);
			rs_str_add(&m, " bytes) at ");
			rs_str_add(&m, name);
			rs_str_add(&m, " (");
			rs_str_num(&m, (long)before.st_size);
			rs_str_add(&m, " bytes); remove files the job no longer needs, or raise the limit");
			rc = -27;
			goto out;
		}
		s->total += got;
		uint64_t h = kite_xxh64(io, got, 0);
		KiteImgSbxChunk *c = &chunks[n++];
		*c = (KiteImgSbxChunk){
		    .hash = h, .len = (uint32_t)got, .stored = !in_parent(s, h, (uint32_t)got)};
		if (c->stored) {
			KiteImgFileData d = {KITE_FILEDATA_SANDBOX, 0, off};
			if ((rc = s->out->emit(s->out->w, KITE_REC_FILEDATA, &d, sizeof d, io, got)) < 0)
				goto out;
		}
		if (s->nmine < s->maxmine)
			s->mine[s->nmine++] = (Entry){h, (uint32_t)got, 0};
		off += got;
		if (got < KITE_IMG_CHUNK)
			break;
	}
	if (rs_fstat(fd, &after) < 0 || ns_of(&after.st_ctim) > s->limit_ns ||
	    ns_of(&after.st_ctim) != ns_of(&before.st_ctim) || (uint64_t)after.st_size != off) {
		fail("sandbox file ", name,
		     " changed after the checkpoint began; a copy of it would not match the memory being "
		     "saved, so the "
		     "image is refused and the next checkpoint tries again",
		     0);
		rc = -16;
		goto out;
	}
	*f = (KiteImgSbxFile){.size = off,
			      .mtime_sec = after.st_mtim.tv_sec,
			      .mtime_nsec = (uint32_t)after.st_mtim.tv_nsec,
			      .mode = after.st_mode & 07777,
			      .nchunks = n,
			      .name_len = (uint32_t)name_len};
	rc = s->out->emit(s->out->w, KITE_REC_SBXFILE, f, sizeof *f + n * sizeof *chunks, name, name_len);
out:
	rs_close(fd);
	return rc;
}

/* Write the chunk list of this image for the next one; losing it only
 * makes the next image store everything. */
static void write_list(const S *s)
{
	char path[KITE_IMG_MAX_PATH + 64];
	dir_name(path, sizeof path, kite_rt.seq, ".files.tmp");
	int fd = (int)rs_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	KiteSbxFilesHeader h = {KITE_SBX_FILES_MAGIC, kite_rt.seq, 0, s->out->created_ns, s->nmine};
	if (s->nmine >= s->maxmine || rs_write_all(fd, &h, sizeof h) < 0 ||
	    rs_write_all(fd, s->mine, s->nmine * sizeof(Entry)) < 0) {
		rs_close(fd);
		rs_unlink(path);
		return;
	}
	rs_close(fd);
}

int kite_rt_sandbox_dump(const KiteSbxOut *out)
{
	if (sbx_bad_max) {
		fail("KITE_CKPT_SANDBOX_MAX is not a size such as 512M (at most 16G)", NULL, NULL, 0);
		return -22;
	}
	if (sbx_open_errno) {
		fail("KITE_CKPT_SANDBOX: cannot open the directory ", sbx_given, NULL, sbx_open_errno);
		return sbx_open_errno;
	}
	if (sbx_fd < 0)
		return 0;
	struct stat dst, ist;
	if (rs_fstat(sbx_fd, &dst) < 0 || !S_ISDIR(dst.st_mode)) {
		fail("libckpt's descriptor on the sandbox (KITE_CKPT_SANDBOX) is no longer a directory: the "
		     "program closed or replaced it",
		     NULL, NULL, 0);
		return -9;
	}
	if (rs_stat(kite_rt.dir, &ist) == 0 && ist.st_dev == dst.st_dev && ist.st_ino == dst.st_ino) {
		fail("KITE_CKPT_SANDBOX is the image directory ", kite_rt.dir,
		     "; give the images a directory of their own (a subdirectory of the sandbox is fine)", 0);
		return -22;
	}
	/* When the checkpoint began: a ctime after it (less the coarse
	 * clock's tick, which file times are taken from) is a change the
	 * memory being saved does not know of. */
	S s = {.out = out, .limit_ns = INT64_MAX};
	if (out->mode != KITE_MODE_EXIT) {
		struct timespec now, tick = {0, 10000000};
		rs_clock_gettime(CLOCK_REALTIME, &now);
		rs_call2(SYS_clock_getres, CLOCK_REALTIME_COARSE, &tick);
		uint64_t since_fork_us = rs_mono_us() - kite_rt.t_clone_us;
		s.limit_ns = ns_of(&now) - (int64_t)since_fork_us * 1000 - ns_of(&tick);
	}
	uint64_t maxchunks = sbx_max / KITE_IMG_CHUNK + KITE_IMG_MAX_SBX_FILES + 1;
	uint64_t table_slots = 2 * (uint64_t)PARENT_MAX;
	uint64_t size = DENTS_BYTES + KITE_IMG_MAX_PATH + maxchunks * sizeof(Entry) + sizeof(KiteImgSbxFile) +
			(sbx_max / KITE_IMG_CHUNK + 1) * sizeof(KiteImgSbxChunk) +
			table_slots * sizeof(uint32_t);
	size = (size + 4095) & ~4095ull;
	long mem =
	    rs_mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem < 0 && mem > -4096) {
		fail("cannot map scratch memory for the sandbox", NULL, NULL, mem);
		return (int)mem;
	}
	char *p = (char *)(uintptr_t)mem;
	char *dents = p;
	s.name = p + DENTS_BYTES;
	s.mine = (Entry *)(s.name + KITE_IMG_MAX_PATH);
	s.maxmine = maxchunks;
	s.rec = (char *)(s.mine + maxchunks);
	char *table =
	    s.rec + sizeof(KiteImgSbxFile) + (sbx_max / KITE_IMG_CHUNK + 1) * sizeof(KiteImgSbxChunk);
	int rc = 0, dfd = -1;
	if (out->parent_seq && !out->upload)
		load_parent(&s, table, table_slots);

	/* SANDBOX: where the files are (the descriptor follows a --move) */
	char lnk[64];
	RsStr l = {lnk, 0, sizeof lnk};
	rs_str_add(&l, "/proc/self/fd/");
	rs_str_num(&l, sbx_fd);
	long plen = rs_readlink(lnk, s.name, KITE_IMG_MAX_PATH - 1);
	if (plen <= 0 || s.name[0] != '/') {
		fail("cannot tell where the sandbox directory is (", lnk, ")", plen);
		rc = plen < 0 ? (int)plen : -2;
		goto done;
	}
	if (dst.st_nlink == 0) {
		s.name[plen] = 0;
		fail("the sandbox directory was removed: ", s.name, NULL, 0);
		rc = -2;
		goto done;
	}
	if ((rc = out->emit(out->w, KITE_REC_SANDBOX, s.name, (size_t)plen, NULL, 0)) < 0)
		goto done;
	/* a description of our own: the directory offset of sbx_fd is shared
	 * with the job */
	dfd = (int)rs_openat(sbx_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0) {
		fail("cannot list the sandbox directory", NULL, NULL, dfd);
		rc = dfd;
		goto done;
	}
	long n;
	while ((n = rs_getdents64(dfd, dents, DENTS_BYTES)) > 0)
		for (long off = 0; off < n;) {
			const char *name = dents + off + 19;
			unsigned char type = (unsigned char)dents[off + 18];
			off += *(unsigned short *)(dents + off + 16);
			if (rs_streq(name, ".") || rs_streq(name, "..") ||
			    (type != DT_REG && type != DT_UNKNOWN))
				continue;
			if ((rc = save_file(&s, dfd, name, rs_strlen(name), out->io)) < 0)
				goto done;
		}
	if (n < 0) {
		fail("cannot list the sandbox directory", NULL, NULL, n);
		rc = (int)n;
		goto done;
	}
	/* a file created, renamed or deleted after the checkpoint */
	if (rs_fstat(dfd, &dst) < 0 || ns_of(&dst.st_ctim) > s.limit_ns) {
		fail("files were created, renamed or removed in the sandbox after the checkpoint began; the "
		     "image is refused and the next checkpoint tries again",
		     NULL, NULL, 0);
		rc = -16;
		goto done;
	}
	if (!out->upload)
		write_list(&s);
done:
	if (dfd >= 0)
		rs_close(dfd);
	if (s.parent)
		rs_munmap(s.parent_map, s.parent_map_len);
	rs_munmap(mem, size);
	return rc;
}

/* After the image is committed: its chunk list becomes the one the next
 * image reads.  On failure it goes. */
void kite_rt_sandbox_finish(uint32_t seq, int committed)
{
	char tmp[KITE_IMG_MAX_PATH + 64], final[KITE_IMG_MAX_PATH + 64];
	dir_name(tmp, sizeof tmp, seq, ".files.tmp");
	if (!committed) {
		rs_unlink(tmp);
		return;
	}
	dir_name(final, sizeof final, seq, ".files");
	rs_rename(tmp, final);
}
