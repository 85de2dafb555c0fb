/* The checkpoint child: writes the frozen address space as an image.
 *
 * ASYNC-SIGNAL-SAFE: this runs in a child created by a raw clone() from a
 * signal handler.  Raw system calls only — no malloc, no stdio, no locks.
 * Scratch memory is a fresh mapping that is left out of the image.  The
 * child must not write to the runtime's globals before they are dumped
 * (the restarted program would see the child's values), so everything it
 * computes lives on its stack or in the scratch mapping.
 *
 * Order: header, PROCESS, FD (+FILEDATA), SANDBOX (+FILEDATA, SBXFILE;
 * rt-sandbox.c), REGION…, PAGES…, END; then
 * fsync, rename into place, fsync the directory (atomic commit), point
 * `latest` at it and drop the image before the previous one.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

#include "libckpt/crc32c.h"
#include "libckpt/xxhash64.h"
#include "libckpt/elf-build-id.h"
#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"

#define PAGE 4096ul
#define SCRATCH_MAPS (4u << 20)
#define PM_BATCH 65536ul
#define HASHBUF (1u << 16) /* entries of 16 bytes */
#define PRESENT_VEC 4096 /* runs of present pages per PAGEMAP_SCAN */
#define SCRATCH_SIZE \
	(SCRATCH_MAPS + PM_BATCH * 8 + KITE_IMG_CHUNK + 65536 + HASHBUF * 16 + 4096 + PRESENT_VEC * sizeof(KitePageRegion))
/* Big runs of pages start page-aligned in the image so that a restart can
 * map them straight from the file instead of copying them. */
#define ALIGN_MIN (256u << 10)

#define PM_PRESENT (1ull << 63)
#define PM_SWAP (1ull << 62)
#define PM_FILE (1ull << 61)

typedef struct {
	uint64_t start, end; /* adjacent private mappings */
	uint64_t bit; /* index of the first page in the tracking bitmaps */
	int tracked;  /* registered and scanned whole */
} TrackMap;

typedef struct {
	int fd;
	uint64_t off, nrec;
	uint32_t digest;
	char *scratch;
	char *maps;
	size_t maps_len;
	uint64_t *pm;
	char *io;
	char *meta;
	char *zero; /* a page of zeros for padding */
	KitePageRegion *pvec; /* kite_rt_pages_present's answer */
	int pm_scan_fails;    /* the kernel has no PAGEMAP_SCAN: read pagemap */
	int pmfd;
	uint64_t created_ns;
	/* incremental: the parent's page hashes, and ours for the next one */
	const uint64_t *parent; /* addr, hash pairs */
	uint64_t parent_map;    /* where the parent's hash file is mapped */
	uint64_t nparent, pcur;
	uint32_t parent_seq, chain_len;
	uint64_t parent_created_ns;
	int hfd;
	uint64_t *hbuf;
	uint64_t nh, nh_total;
	uint64_t stored, referenced;
	long writes; /* records written, for KITE_FAULT */
	uint64_t tracked_pages; /* bits in the tracking bitmaps */
	uint64_t bid_dev, bid_ino; /* build-id cache */
	uint8_t bid[20];
	uint32_t bid_len;
	uint64_t zero_hash; /* XXH64 of a page of zeros */
	uint64_t read, hashed, trusted; /* pages read (of them hashed); pages known unchanged */
	/* dirty tracking (rt-track.c): the parent's private mappings, which
	 * pages it wrote since the last scan, and whether the parent image's
	 * page table can be trusted for the pages not written */
	int tracking, track_valid;
	TrackMap *tmaps;
	int ntmaps, tcur;
	KiteTrack track;
	int drop; /* give pages back once written (a background checkpoint) */
	uint64_t prev_file_end; /* end of the last file mapping seen (bss follows it) */
	int up_pid, up_res; /* the uploader (rt-upload.c), with a checkpoint server */
} W;

typedef struct {
	uint64_t start, end, off, dev, ino;
	uint32_t prot;
	int shared;
	const char *path;
	size_t path_len;
} MapLine;

static void err(const char *what, const char *obj, long e)
{
	RsStr s = { kite_rt.errmsg, 0, sizeof kite_rt.errmsg };
	rs_str_add(&s, what);
	if (obj) {
		rs_str_add(&s, " ");
		rs_str_add(&s, obj);
	}
	if (e < 0) {
		rs_str_add(&s, ": errno ");
		rs_str_num(&s, -e);
	}
}

void kite_rt_image_path(char *buf, size_t cap, uint32_t seq, int tmp)
{
	if (!tmp && kite_rt_upload_active()) {
		kite_rt_upload_name(buf, cap);
		return;
	}
	RsStr s = { buf, 0, cap };
	rs_str_add(&s, kite_rt.dir);
	rs_str_add(&s, tmp ? "/.ckpt-" : "/ckpt-");
	rs_str_num(&s, seq);
	rs_str_add(&s, tmp ? ".img.tmp" : ".img");
}

static int write_iov(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		long r = rs_writev(fd, iov, n);
		if (r == -4)
			continue;
		if (r < 0)
			return (int)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (long)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Write one record: header, a, zero padding (pad bytes), b. */
static int emit_pad(W *w, uint32_t type, const void *a, size_t alen, size_t pad, const void *b, size_t blen)
{
	if (kite_rt.fault_write && (!kite_rt.fault_seq || kite_rt.fault_seq == kite_rt.seq) &&
	    ++w->writes == kite_rt.fault_write) {
		err("cannot write the image (injected by KITE_FAULT)", NULL, -28);
		return -28;
	}
	KiteImgRec r = { .type = type, .len = alen + pad + blen };
	r.data_crc = kite_crc32c(kite_crc32c(kite_crc32c(0, a, alen), w->zero, pad), b, blen);
	r.hdr_crc = kite_crc32c(0, &r, sizeof r);
	struct iovec iov[4] = { { &r, sizeof r }, { (void *)a, alen }, { w->zero, pad }, { (void *)b, blen } };
	int rc = write_iov(w->fd, iov, 4);
	if (rc < 0) {
		err("cannot write the image", NULL, rc);
		return rc;
	}
	w->digest = kite_crc32c(w->digest, &r.data_crc, 4);
	w->nrec++;
	w->off += sizeof r + alen + pad + blen;
	return 0;
}

static int emit(W *w, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	return emit_pad(w, type, a, alen, 0, b, blen);
}

static long read_file(const char *path, char *buf, size_t cap)
{
	int fd = (int)rs_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	size_t n = 0;
	for (;;) {
		long r = rs_read(fd, buf + n, cap - n);
		if (r == -4)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap)
			break;
	}
	rs_close(fd);
	return (long)n;
}

static uint64_t dev_encode(unsigned long maj, unsigned long min)
{
	return ((maj & 0xfffff000ull) << 32) | ((maj & 0xfffull) << 8) | ((min & 0xffffff00ull) << 12) |
	       (min & 0xffull);
}

/* Parse one /proc/self/maps line at *p; 0 at the end. */
static int next_map(const char **p, const char *end, MapLine *m)
{
	const char *s = *p;
	if (s >= end)
		return 0;
	m->start = rs_parse_hex(&s);
	s++;
	m->end = rs_parse_hex(&s);
	s++;
	m->prot = (s[0] == 'r' ? PROT_READ : 0) | (s[1] == 'w' ? PROT_WRITE : 0) | (s[2] == 'x' ? PROT_EXEC : 0);
	m->shared = s[3] == 's';
	s += 5;
	m->off = rs_parse_hex(&s);
	s++;
	unsigned long maj = rs_parse_hex(&s);
	s++;
	unsigned long min = rs_parse_hex(&s);
	m->dev = dev_encode(maj, min);
	s++;
	m->ino = rs_parse_dec(&s);
	while (s < end && *s == ' ')
		s++;
	m->path = s;
	while (s < end && *s != '\n')
		s++;
	m->path_len = (size_t)(s - m->path);
	*p = s < end ? s + 1 : s;
	return 1;
}

static int path_is(const MapLine *m, const char *name)
{
	size_t n = rs_strlen(name);
	return m->path_len == n && rs_memeq(m->path, name, n);
}

enum { SEL_NONE, SEL_ANON, SEL_COW, SEL_ALL };

/* Is @path one of the image files in our directory (ckpt-N.img,
 * .ckpt-N.img.tmp, .recycle.img)? */
static int is_image_path(const char *path)
{
	size_t dl = rs_strlen(kite_rt.dir);
	if (!rs_memeq(path, kite_rt.dir, dl) || path[dl] != '/')
		return 0;
	const char *b = path + dl + 1;
	return rs_startswith(b, "ckpt-") || rs_startswith(b, ".ckpt-") || rs_startswith(b, ".recycle");
}

/* Decide how a mapping is recorded: its KITE_REG_* flags and which of its
 * pages are stored.  Returns -1 for mappings that are not recorded. */
static int classify(W *w, const MapLine *m, uint32_t *flags, KiteImgRegion *r)
{
	*flags = 0;
	if (m->start == (uint64_t)(uintptr_t)w->scratch || (w->parent_map && m->start == w->parent_map) ||
	    (kite_rt.forks && m->start == (uint64_t)(uintptr_t)kite_rt.forks))
		return -1; /* the child's own scratch and parent hash table, the fork counter */
	if (m->path_len && m->path[0] == '[') {
		if (path_is(m, "[vdso]")) {
			*flags = KITE_REG_VDSO;
			return SEL_NONE;
		}
		if (path_is(m, "[vvar]") || path_is(m, "[vvar_vclock]")) {
			*flags = KITE_REG_VVAR;
			return SEL_NONE;
		}
		if (path_is(m, "[vsyscall]")) {
			*flags = KITE_REG_VSYSCALL;
			return SEL_NONE;
		}
		if (path_is(m, "[heap]"))
			*flags = KITE_REG_HEAP;
		else if (path_is(m, "[stack]"))
			*flags = KITE_REG_STACK;
		else if (m->path_len < 6 || !rs_memeq(m->path, "[anon:", 6))
			return -1; /* [uprobes] and other kernel-owned areas */
		if (m->shared) {
			*flags |= KITE_REG_SHARED;
			return SEL_ALL;
		}
		return SEL_ANON;
	}
	if (m->path_len == 0)
		return m->shared ? (*flags = KITE_REG_SHARED, SEL_ALL) : SEL_ANON;
	/* file-backed */
	char path[KITE_IMG_MAX_PATH];
	size_t n = m->path_len < sizeof path - 1 ? m->path_len : sizeof path - 1;
	for (size_t i = 0; i < n; i++)
		path[i] = m->path[i];
	path[n] = 0;
	/* Pieces of a restarted program's anonymous memory that the restorer
	 * mapped from an image: anonymous memory, every page kept. */
	if (!m->shared && is_image_path(path))
		return SEL_ALL;
	struct stat st;
	int same = rs_stat(path, &st) == 0 && st.st_ino == m->ino && st.st_dev == m->dev;
	if (m->shared) {
		*flags = KITE_REG_SHARED;
		if (!same)
			return SEL_ALL; /* shared anonymous (/dev/zero (deleted), SYSV) or deleted file */
		*flags |= KITE_REG_FILE;
	} else {
		if (!same)
			return SEL_ALL; /* deleted or replaced file: keep a private copy of every page */
		*flags = KITE_REG_FILE;
	}
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->size = (uint64_t)st.st_size;
	r->mtime_sec = st.st_mtim.tv_sec;
	r->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
	/* consecutive mappings of one file share its build-id */
	if (w->bid_ino == st.st_ino && w->bid_dev == st.st_dev) {
		r->build_id_len = w->bid_len;
	} else {
		w->bid_len = kite_elf_build_id(path, w->bid, sizeof w->bid);
		w->bid_ino = st.st_ino;
		w->bid_dev = st.st_dev;
		r->build_id_len = w->bid_len;
	}
	for (uint32_t k = 0; k < r->build_id_len; k++)
		r->build_id[k] = w->bid[k];
	return m->shared ? SEL_NONE : SEL_COW;
}

static int excluded(uint64_t a)
{
	for (int i = 0; i < kite_rt.nexclude; i++)
		if (a >= kite_rt.exclude[i].start && a < kite_rt.exclude[i].end)
			return 1;
	return 0;
}

static int page_is_zero(const uint64_t *p)
{
	for (size_t i = 0; i < PAGE / 8; i += 4)
		if (p[i] | p[i + 1] | p[i + 2] | p[i + 3])
			return 0;
	return 1;
}

/* Memory the child itself is changing (its own stack) is copied first so
 * that the checksum and the bytes written agree. */
static int flush_run(W *w, uint64_t start, uint64_t len, int volatile_region)
{
	if (!len)
		return 0;
	KiteImgPages pg = { start, len };
	const void *src = (const void *)(uintptr_t)start;
	if (volatile_region) {
		__builtin_memcpy(w->io, src, len);
		src = w->io;
	}
	w->stored += len;
	size_t pad = 0;
	if (len >= ALIGN_MIN)
		pad = (PAGE - ((w->off + sizeof(KiteImgRec) + sizeof pg) % PAGE)) % PAGE;
	return emit_pad(w, KITE_REC_PAGES, &pg, sizeof pg, pad, src, len);
}

static int flush_ref(W *w, uint64_t start, uint64_t len)
{
	if (!len)
		return 0;
	KiteImgParent pr = { start, len };
	w->referenced += len;
	return emit(w, KITE_REC_PARENT, &pr, sizeof pr, NULL, 0);
}

static void add_hash(W *w, uint64_t addr, uint64_t h)
{
	if (w->hfd < 0)
		return;
	w->hbuf[2 * w->nh] = addr;
	w->hbuf[2 * w->nh + 1] = h;
	if (++w->nh == HASHBUF) {
		if (rs_write_all(w->hfd, w->hbuf, w->nh * 16) < 0) {
			rs_close(w->hfd); /* no hashes: the next image is a full one */
			w->hfd = -1;
		}
		w->nh_total += w->nh;
		w->nh = 0;
	}
}

/* Did the parent image hold exactly this page?  Addresses only grow
 * during a dump, so a cursor walks the parent's sorted table once. */
static const uint64_t *parent_entry(W *w, uint64_t addr)
{
	while (w->pcur < w->nparent && (w->parent[2 * w->pcur] & ~(PAGE - 1)) < addr)
		w->pcur++;
	if (w->pcur < w->nparent && (w->parent[2 * w->pcur] & ~(PAGE - 1)) == addr)
		return &w->parent[2 * w->pcur];
	return NULL;
}

static int in_parent(W *w, uint64_t addr, uint64_t h)
{
	const uint64_t *e = parent_entry(w, addr);
	return e && !(e[0] & KITE_HASH_NONE) && e[1] == h;
}

static int bit_set(const uint64_t *bits, uint64_t i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

/* The tracked range holding the mapping [start, end) (mappings are
 * visited in address order), or NULL if it is not tracked. */
static const TrackMap *tracked_map(W *w, uint64_t start, uint64_t end)
{
	while (w->tcur < w->ntmaps && w->tmaps[w->tcur].end <= start)
		w->tcur++;
	const TrackMap *t = w->tcur < w->ntmaps ? &w->tmaps[w->tcur] : NULL;
	return t && t->tracked && t->start <= start && end <= t->end ? t : NULL;
}

enum { KEEP_NONE, KEEP_STORE, KEEP_REF };

/* A background checkpoint gives the pages it is done with back at once:
 * the parent's next write to such a page then finds it no longer shared
 * and reuses it instead of copying it (a copy costs ~10 us here).  Only
 * plain anonymous memory the child will not read again: not its stack,
 * not libckpt's data, not a library's .bss (anonymous memory right after
 * a file mapping: libc's memcpy reads its tunables there). */
static int droppable(W *w, const MapLine *m, int sel, int vol)
{
	return w->drop && sel == SEL_ANON && !vol && !path_is(m, "[stack]") && m->start != w->prev_file_end &&
	       (m->end <= kite_rt.self_lo || m->start >= kite_rt.self_hi);
}

/* Whether to give a run back: only runs with a page the parent wrote since
 * the last scan (or of memory not tracked), the pages it is likely to
 * write again while we live.  The others stay until the child exits,
 * which is after the commit: zapping them here (~45 ms per GiB) would
 * only delay it. */
static int flush_any(W *w, int kind, uint64_t run, uint64_t len, int vol, int drop)
{
	int rc = kind == KEEP_REF ? flush_ref(w, run, len) : flush_run(w, run, len, vol);
	if (rc == 0 && kind != KEEP_NONE && len && drop)
		rs_call3(SYS_madvise, run, len, MADV_DONTNEED);
	return rc;
}

static int dump_pages(W *w, const MapLine *m, int sel)
{
	if (sel == SEL_NONE)
		return 0;
	if (!(m->prot & PROT_READ) && rs_mprotect(m->start, m->end - m->start, m->prot | PROT_READ) < 0)
		return 0; /* cannot read it: nothing stored, comes back as zeros */
	uint64_t run = 0, runlen = 0;
	int runkind = KEEP_NONE;
	int runw = 0; /* a page of the run was written since the last scan (or is not tracked) */
	uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	int vol = sp >= m->start && sp < m->end;
	const TrackMap *tm = w->tracking ? tracked_map(w, m->start, m->end) : NULL;
	int drop = droppable(w, m, sel, vol);
	for (uint64_t base = m->start; base < m->end; base += PM_BATCH * PAGE) {
		uint64_t npages = (m->end - base) / PAGE;
		if (npages > PM_BATCH)
			npages = PM_BATCH;
		/* anonymous memory needs only "present or swapped": asked as
		 * runs, cheaper than an entry per page */
		if (sel == SEL_ANON && !w->pm_scan_fails &&
		    kite_rt_pages_present(w->pmfd, base, npages, w->pm, w->pvec, PRESENT_VEC) < 0)
			w->pm_scan_fails = 1;
		if (sel == SEL_COW || (sel == SEL_ANON && w->pm_scan_fails)) {
			long r = rs_pread_all(w->pmfd, w->pm, npages * 8, base / PAGE * 8);
			if (r < 0) {
				err("cannot read /proc/self/pagemap", NULL, r);
				return (int)r;
			}
		}
		for (uint64_t i = 0; i < npages; i++) {
			uint64_t a = base + i * PAGE;
			int keep;
			if (sel == SEL_ALL)
				keep = 1;
			else if (sel == SEL_ANON)
				keep = (w->pm[i] & (PM_PRESENT | PM_SWAP)) != 0;
			else
				keep = ((w->pm[i] & PM_PRESENT) && !(w->pm[i] & PM_FILE)) || (w->pm[i] & PM_SWAP);
			if (keep && kite_rt.nexclude && excluded(a))
				keep = 0;
			/* the hardware prefetcher stops at page boundaries: start
			 * loading a page ahead, whose first line the zero check and
			 * then the checksum wait for */
			if (a + 2 * PAGE < m->end)
				__builtin_prefetch((const void *)(uintptr_t)(a + 2 * PAGE));
			int kind = KEEP_NONE;
			uint64_t tbit = tm ? tm->bit + (a - tm->start) / PAGE : 0;
			const uint64_t *pe;
			if (keep && tm && w->track_valid && !vol && !bit_set(w->track.written, tbit) &&
			    (pe = parent_entry(w, a)) && !(pe[0] & KITE_HASH_UNTRUSTED)) {
				/* not written since the parent image: neither read nor hashed */
				add_hash(w, a | (pe[0] & KITE_HASH_NONE), pe[1]);
				w->trusted++;
				kind = KEEP_REF;
			} else if (keep && tm && !vol && (!(pe = parent_entry(w, a)) || (pe[0] & KITE_HASH_NONE))) {
				/* A written page of a tracked mapping that the parent
				 * holds no hash of (a full image, a new page): nothing to
				 * compare with, and the next image trusts the
				 * write-protect bits, so the hash is not worth its time.
				 * Without it a page can only be referenced while it stays
				 * unwritten. */
				w->read++;
				if (page_is_zero((const uint64_t *)(uintptr_t)a))
					keep = 0;
				else {
					add_hash(w, a | KITE_HASH_NONE | (bit_set(w->track.carry, tbit) ? KITE_HASH_UNTRUSTED : 0),
						 0);
					kind = KEEP_STORE;
				}
			} else if (keep && w->hfd < 0 && !w->nparent) {
				/* no hashes file to write and no parent to compare with
				 * (an image for a checkpoint server, which names chunks by
				 * their own hash): a page's hash would go nowhere, and is
				 * most of this loop's time */
				w->read++;
				if (page_is_zero((const uint64_t *)(uintptr_t)a))
					keep = 0;
				else
					kind = KEEP_STORE;
			} else if (keep) {
				uint64_t h = kite_xxh64((const void *)(uintptr_t)a, PAGE, 0);
				w->read++;
				w->hashed++;
				if (h == w->zero_hash && page_is_zero((const uint64_t *)(uintptr_t)a)) {
					keep = 0;
				} else {
					/* a page this image holds older contents of than the
					 * scan protected, or one no scan covers: the next
					 * image compares its hash instead of trusting it */
					int untrusted = !tm || bit_set(w->track.carry, tbit);
					add_hash(w, a | (untrusted ? KITE_HASH_UNTRUSTED : 0), h);
					/* the child's own stack changes under us: always stored */
					kind = (!vol && w->nparent && in_parent(w, a, h)) ? KEEP_REF : KEEP_STORE;
				}
			}
			int written = !tm || bit_set(w->track.written, tbit);
			if (kind != KEEP_NONE && kind == runkind && run + runlen == a && runlen < KITE_IMG_CHUNK) {
				runlen += PAGE;
				runw |= written;
				continue;
			}
			int rc = flush_any(w, runkind, run, runlen, vol, drop && runw);
			if (rc < 0)
				return rc;
			run = a;
			runlen = kind != KEEP_NONE ? PAGE : 0;
			runkind = kind;
			runw = written;
		}
	}
	return flush_any(w, runkind, run, runlen, vol, drop && runw);
}

/* Fields 26.. of /proc/self/stat after the command name. */
static void read_mm_fields(W *w, KiteImgProcess *p)
{
	long n = read_file("/proc/self/stat", w->meta, 4095);
	if (n <= 0)
		return;
	w->meta[n] = 0;
	const char *s = w->meta + n;
	while (s > w->meta && *s != ')')
		s--;
	s += 2; /* now at field 3 */
	uint64_t v[64] = { 0 };
	for (int field = 3; field < 64 && *s; field++) {
		while (*s == ' ')
			s++;
		if (*s == '-')
			s++;
		v[field] = rs_parse_dec(&s);
		while (*s && *s != ' ')
			s++;
	}
	p->start_code = v[26];
	p->end_code = v[27];
	p->start_stack = v[28];
	p->start_data = v[45];
	p->end_data = v[46];
	p->start_brk = v[47];
	p->arg_start = v[48];
	p->arg_end = v[49];
	p->env_start = v[50];
	p->env_end = v[51];
	p->brk = (uint64_t)rs_call1(SYS_brk, 0);
}

static void cpu_identity(KiteImgHeader *h)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	uint32_t maxleaf = a;
	((uint32_t *)h->cpu_vendor)[0] = b;
	((uint32_t *)h->cpu_vendor)[1] = d;
	((uint32_t *)h->cpu_vendor)[2] = c;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	h->cpuid1_ecx = c;
	h->cpuid1_edx = d;
	int osxsave = (c >> 27) & 1;
	if (maxleaf >= 7) {
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
		h->cpuid7_ebx = b;
		h->cpuid7_ecx = c;
		h->cpuid7_edx = d;
	}
	if (maxleaf >= 0xd && osxsave) {
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xd), "c"(0));
		h->xsave_size = b;
		uint32_t lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		h->xcr0 = ((uint64_t)hi << 32) | lo;
	}
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

static int write_header(W *w)
{
	KiteImgHeader *h = (KiteImgHeader *)w->meta;
	for (size_t i = 0; i < sizeof *h; i++)
		((char *)h)[i] = 0;
	for (int i = 0; i < 8; i++)
		h->magic[i] = KITE_IMG_MAGIC[i];
	h->version = KITE_IMG_VERSION;
	h->header_size = KITE_IMG_HEADER_SIZE;
	h->arch = KITE_IMG_ARCH_X86_64;
	h->page_size = PAGE;
	struct timespec ts;
	rs_clock_gettime(CLOCK_REALTIME, &ts);
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	w->created_ns = h->created_ns;
	h->parent_seq = w->parent_seq;
	h->chain_len = w->chain_len;
	h->parent_created_ns = w->parent_created_ns;
	h->flags = (w->tracking ? KITE_IMG_FLAG_WP_SCANNED : 0) | (w->track_valid ? KITE_IMG_FLAG_WP_TRACKED : 0);
	h->pid = kite_rt.proc.pid;
	h->seq = kite_rt.seq;
	cpu_identity(h);
	struct utsname u;
	if (rs_uname(&u) == 0) {
		copy_str(h->kernel_release, sizeof h->kernel_release, u.release);
		copy_str(h->kernel_version, sizeof h->kernel_version, u.version);
		copy_str(h->hostname, sizeof h->hostname, u.nodename);
	}
	copy_str(h->libc_version, sizeof h->libc_version, kite_rt.libc_version);
	h->header_crc = kite_crc32c(0, h, sizeof *h);
	long rc = rs_write_all(w->fd, h, sizeof *h);
	if (rc < 0) {
		err("cannot write the image", NULL, rc);
		return (int)rc;
	}
	w->off = sizeof *h;
	return 0;
}

static int write_process(W *w)
{
	/* Copy, so that the child never writes the runtime's globals. */
	KiteImgProcess *p = (KiteImgProcess *)(w->meta + 4096);
	const char *src = (const char *)&kite_rt.proc;
	for (size_t i = 0; i < sizeof *p; i++)
		((char *)p)[i] = src[i];
	read_mm_fields(w, p);
	long n = read_file("/proc/self/auxv", (char *)p->auxv, sizeof p->auxv);
	p->auxv_bytes = n > 0 ? (uint32_t)n : 0;
	long um = rs_umask(022);
	rs_umask(um);
	p->umask = (uint32_t)um;
	rs_rt_sigprocmask(SIG_BLOCK, NULL, &p->sigmask);
	for (int s = 1; s <= KITE_NSIG; s++) {
		KiteSigaction *a = &p->sigactions[s - 1];
		a->handler = a->flags = a->restorer = a->mask = 0;
		rs_rt_sigaction(s, NULL, a);
	}
	stack_t ss;
	if (rs_sigaltstack(NULL, &ss) == 0) {
		p->altstack_sp = (uint64_t)(uintptr_t)ss.ss_sp;
		p->altstack_size = ss.ss_size;
		p->altstack_flags = ss.ss_flags;
	}
	p->nthreads = 1;
	for (int i = 0; i < kite_rt.nthreads_frozen; i++)
		if (kite_rt.threads[i].t.tid)
			p->nthreads++;
	p->personality = (uint32_t)rs_call1(SYS_personality, 0xffffffff);
	/* CPU affinity and resource limits: the child inherited both */
	long ab = rs_call3(SYS_sched_getaffinity, 0, sizeof p->cpu_affinity, p->cpu_affinity);
	p->affinity_bytes = ab > 0 ? (uint32_t)ab : 0;
	p->nrlimits = 16;
	for (int r = 0; r < 16; r++)
		if (rs_call4(SYS_prlimit64, 0, r, NULL, p->rlimits[r]) < 0)
			p->rlimits[r][0] = p->rlimits[r][1] = ~0ull;
	rs_prctl(16 /* PR_GET_NAME */, p->comm, 0, 0, 0);
	long l = rs_readlink("/proc/self/cwd", p->cwd, sizeof p->cwd - 1);
	p->cwd[l > 0 ? l : 0] = 0;
	l = rs_readlink("/proc/self/exe", p->exe, sizeof p->exe - 1);
	p->exe[l > 0 ? l : 0] = 0;
	const char *q = w->maps, *end = w->maps + w->maps_len;
	MapLine m;
	while (next_map(&q, end, &m))
		if (path_is(&m, "[vdso]"))
			p->vdso_crc = kite_crc32c(0, (const void *)(uintptr_t)m.start, m.end - m.start);
	int rc = emit(w, KITE_REC_PROCESS, p, sizeof *p, NULL, 0);
	for (int i = 0; rc == 0 && i < kite_rt.nthreads_frozen; i++)
		if (kite_rt.threads[i].t.tid)
			rc = emit(w, KITE_REC_THREAD, &kite_rt.threads[i].t, sizeof(KiteImgThread), NULL, 0);
	return rc;
}

static int write_fds(W *w)
{
	char side[KITE_IMG_MAX_PATH + 64];
	for (int i = 0; i < kite_rt.nfds; i++) {
		const KiteRtFd *e = &kite_rt.fds[i];
		int rc = emit(w, KITE_REC_FD, &e->fd, sizeof e->fd, e->path, e->fd.path_len);
		if (rc < 0)
			return rc;
		if (!e->side)
			continue;
		RsStr s = { side, 0, sizeof side };
		rs_str_add(&s, kite_rt.dir);
		rs_str_add(&s, "/.ckpt-");
		rs_str_num(&s, kite_rt.seq);
		rs_str_add(&s, ".fd");
		rs_str_num(&s, e->fd.fd);
		int sfd = (int)rs_open(side, O_RDONLY | O_CLOEXEC, 0);
		if (sfd < 0) {
			err("cannot open", side, sfd);
			return sfd;
		}
		uint64_t off = 0;
		while (off < e->fd.size) {
			uint64_t want = e->fd.size - off;
			if (want > KITE_IMG_CHUNK)
				want = KITE_IMG_CHUNK;
			long r = rs_pread(sfd, w->io, want, off);
			if (r == -4)
				continue;
			if (r <= 0) {
				err("short snapshot of fd", e->path, r);
				rs_close(sfd);
				return -5;
			}
			KiteImgFileData fdh = { e->fd.fd, 0, off };
			rc = emit(w, KITE_REC_FILEDATA, &fdh, sizeof fdh, w->io, (size_t)r);
			if (rc < 0) {
				rs_close(sfd);
				return rc;
			}
			off += (uint64_t)r;
		}
		rs_close(sfd);
		rs_unlink(side);
	}
	return 0;
}

static int emit_for_sandbox(void *w, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	return emit((W *)w, type, a, alen, b, blen);
}

/* The closed files of KITE_CKPT_SANDBOX (rt-sandbox.c); unchanged chunks
 * of an incremental image stay in the parent, like unchanged pages. */
static int write_sandbox(W *w, int mode, int upload)
{
	KiteSbxOut out = { .w = w,
			   .emit = emit_for_sandbox,
			   .io = w->io,
			   .mode = mode,
			   .upload = upload,
			   .parent_seq = w->parent_seq,
			   .parent_created_ns = w->parent_created_ns,
			   .created_ns = w->created_ns };
	return kite_rt_sandbox_dump(&out);
}

static int write_memory(W *w)
{
	const char *q = w->maps, *end = w->maps + w->maps_len;
	MapLine m;
	/* pass 1: region table */
	while (next_map(&q, end, &m)) {
		KiteImgRegion r = { .start = m.start, .end = m.end, .offset = m.off, .prot = m.prot };
		uint32_t flags;
		int sel = classify(w, &m, &flags, &r);
		if (sel < 0)
			continue;
		r.flags = flags | (sel != SEL_NONE ? KITE_REG_DATA : 0);
		/* private anonymous memory (or a restarted program's, mapped
		 * from its image): huge pages again after a restart if it had
		 * them (rt-hugepages.c) */
		int anon = sel != SEL_NONE && !m.shared && (m.prot & PROT_WRITE) &&
			   !(flags & (KITE_REG_FILE | KITE_REG_SHARED | KITE_REG_STACK));
		r.flags |= kite_rt_huge_flags(m.start, m.end, anon);
		size_t plen = m.path_len > KITE_IMG_MAX_PATH - 1 ? KITE_IMG_MAX_PATH - 1 : m.path_len;
		if (!(flags & KITE_REG_FILE) && m.path_len && m.path[0] == '/')
			plen = m.path_len; /* kept for people (deleted file), not used at restart */
		r.path_len = (uint32_t)plen;
		int rc = emit(w, KITE_REC_REGION, &r, sizeof r, m.path, plen);
		if (rc < 0)
			return rc;
	}
	/* pass 2: contents */
	q = w->maps;
	w->tcur = 0;
	w->prev_file_end = 0;
	while (next_map(&q, end, &m)) {
		KiteImgRegion r = { 0 };
		uint32_t flags;
		int sel = classify(w, &m, &flags, &r);
		int rc = sel < 0 ? 0 : dump_pages(w, &m, sel);
		if (rc < 0)
			return rc;
		if (m.path_len && m.path[0] == '/')
			w->prev_file_end = m.end;
	}
	return 0;
}

static void dir_file(char *buf, size_t cap, const char *prefix, uint32_t seq, const char *suffix)
{
	RsStr s = { buf, 0, cap };
	rs_str_add(&s, kite_rt.dir);
	rs_str_add(&s, "/");
	rs_str_add(&s, prefix);
	rs_str_num(&s, seq);
	rs_str_add(&s, suffix);
}

#define MAX_KEEP (2 * (KITE_IMG_MAX_CHAIN + 1))

/* Add image @seq and its ancestors to @keep. */
static void keep_chain(uint32_t seq, uint32_t *keep, int *nkeep)
{
	char path[KITE_IMG_MAX_PATH + 64];
	for (int depth = 0; seq && depth <= KITE_IMG_MAX_CHAIN && *nkeep < MAX_KEEP; depth++) {
		keep[(*nkeep)++] = seq;
		dir_file(path, sizeof path, "ckpt-", seq, ".img");
		int fd = (int)rs_open(path, O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0)
			return;
		KiteImgHeader h;
		long r = rs_pread_all(fd, &h, sizeof h, 0);
		rs_close(fd);
		if (r < 0 || !rs_memeq(h.magic, KITE_IMG_MAGIC, 8))
			return;
		seq = h.parent_seq;
	}
}

/* N of a name "<prefix>N<suffix>", or 0. */
static uint32_t name_seq(const char *name, const char *prefix, const char *suffix)
{
	if (!rs_startswith(name, prefix))
		return 0;
	const char *p = name + rs_strlen(prefix);
	if (*p < '0' || *p > '9')
		return 0;
	uint64_t n = rs_parse_dec(&p);
	return rs_streq(p, suffix) && n < 0xffffffffu ? (uint32_t)n : 0;
}

static int mapped_by_us(W *w, const char *path)
{
	size_t n = rs_strlen(path);
	for (size_t i = 0; i + n <= w->maps_len; i++)
		if (w->maps[i] == path[0] && rs_memeq(w->maps + i, path, n))
			return 1;
	return 0;
}

/* Delete images older than this one that neither this image's chain nor
 * the previous committed image's chain needs; the first one deleted is
 * kept as DIR/.recycle.img, whose pages the next image overwrites (cheaper
 * than allocating new ones, notably on tmpfs).  Images newer than this one
 * (another history, after a restart from an older image) are left alone. */
static void prune(W *w)
{
	uint32_t keep[MAX_KEEP];
	int nkeep = 0;
	keep_chain(kite_rt.seq, keep, &nkeep);
	keep_chain(kite_rt.last_ok_seq, keep, &nkeep);
	char path[KITE_IMG_MAX_PATH + 64], recycle[KITE_IMG_MAX_PATH + 64];
	RsStr r = { recycle, 0, sizeof recycle };
	rs_str_add(&r, kite_rt.dir);
	rs_str_add(&r, "/.recycle.img");
	int recycled = 0;
	int dfd = (int)rs_open(kite_rt.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0)
		return;
	char *buf = w->io; /* free by now */
	long n;
	while ((n = rs_getdents64(dfd, buf, KITE_IMG_CHUNK)) > 0)
		for (long off = 0; off < n;) {
			const char *name = buf + off + 19;
			off += *(unsigned short *)(buf + off + 16);
			int image = 1;
			const char *side = ".hashes";
			uint32_t k = name_seq(name, "ckpt-", ".img");
			if (!k) {
				k = name_seq(name, ".ckpt-", ".hashes");
				image = 0;
			}
			if (!k && (k = name_seq(name, ".ckpt-", ".files")))
				side = ".files"; /* rt-sandbox.c's chunk list */
			if (!k || k >= kite_rt.seq)
				continue; /* not ours, or newer (another history after a restart) */
			int kept = 0;
			for (int i = 0; i < nkeep; i++)
				kept |= keep[i] == k;
			if (kept)
				continue;
			dir_file(path, sizeof path, image ? "ckpt-" : ".ckpt-", k, image ? ".img" : side);
			/* An image this process maps (zero-copy restart) must not be
			 * overwritten: unlinking keeps its pages; recycling would not. */
			if (image && !recycled && !mapped_by_us(w, path) && rs_rename(path, recycle) == 0)
				recycled = 1;
			else
				rs_unlink(path);
		}
	rs_close(dfd);
}

static int commit(W *w)
{
	char tmp[KITE_IMG_MAX_PATH + 64], final[KITE_IMG_MAX_PATH + 64];
	kite_rt_image_path(tmp, sizeof tmp, kite_rt.seq, 1);
	kite_rt_image_path(final, sizeof final, kite_rt.seq, 0);
	long rc = rs_ftruncate(w->fd, w->off); /* a recycled file may be longer */
	if (rc == 0)
		rc = rs_fsync(w->fd);
	if (rc < 0) {
		err("fsync", tmp, rc);
		return (int)rc;
	}
	rs_close(w->fd);
	w->fd = -1;
	rc = rs_rename(tmp, final);
	if (rc < 0) {
		err("rename", final, rc);
		return (int)rc;
	}
	int dfd = (int)rs_open(kite_rt.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd >= 0) {
		rs_fsync(dfd);
		rs_close(dfd);
	}
	/* latest -> ckpt-N.img, replaced atomically */
	char target[64], link[KITE_IMG_MAX_PATH + 64], linktmp[KITE_IMG_MAX_PATH + 64];
	RsStr t = { target, 0, sizeof target };
	rs_str_add(&t, "ckpt-");
	rs_str_num(&t, kite_rt.seq);
	rs_str_add(&t, ".img");
	RsStr l = { link, 0, sizeof link };
	rs_str_add(&l, kite_rt.dir);
	rs_str_add(&l, "/latest");
	RsStr lt = { linktmp, 0, sizeof linktmp };
	rs_str_add(&lt, kite_rt.dir);
	rs_str_add(&lt, "/.latest.tmp.");
	rs_str_num(&lt, rs_getpid());
	rs_unlink(linktmp);
	if (rs_symlink(target, linktmp) == 0)
		rs_rename(linktmp, link);
	/* the page hashes, for the next incremental image */
	if (w->hfd >= 0) {
		char htmp[KITE_IMG_MAX_PATH + 64], hfinal[KITE_IMG_MAX_PATH + 64];
		if (w->nh && rs_write_all(w->hfd, w->hbuf, w->nh * 16) == 0)
			w->nh_total += w->nh;
		KiteHashesHeader hh = { KITE_HASHES_MAGIC, kite_rt.seq, 0, w->created_ns, w->nh_total };
		rs_call4(SYS_pwrite64, w->hfd, &hh, sizeof hh, 0);
		rs_close(w->hfd);
		w->hfd = -1;
		dir_file(htmp, sizeof htmp, ".ckpt-", kite_rt.seq, ".hashes.tmp");
		dir_file(hfinal, sizeof hfinal, ".ckpt-", kite_rt.seq, ".hashes");
		rs_rename(htmp, hfinal);
	}
	kite_rt_sandbox_finish(kite_rt.seq, 1);
	prune(w);
	return 0;
}

/* Mappings whose pages are tracked: private, accessible, at most 16 GiB
 * (write-protecting the unpopulated part of a mapping allocates page
 * tables, 2 MiB per GiB: a huge sparse reservation is better hashed). */
static int trackable(W *w, const MapLine *m)
{
	if (m->shared || !m->prot || m->end - m->start > (16ull << 30))
		return 0;
	if (m->start == (uint64_t)(uintptr_t)w->scratch || (w->parent_map && m->start == w->parent_map))
		return 0;
	/* [heap], [stack], [anon:…]; not [vdso], [vvar], [vsyscall], [uprobes] */
	return !(m->path_len && m->path[0] == '[') || path_is(m, "[heap]") || path_is(m, "[stack]") ||
	       (m->path_len >= 6 && rs_memeq(m->path, "[anon:", 6));
}

/* The next run of adjacent trackable mappings, [*start, *rend): one
 * register and one scan for all of them (a restarted job's memory is
 * hundreds of mappings of image files).  0 at the end of maps. */
static int next_range(W *w, const char **q, const char *end, uint64_t *start, uint64_t *rend)
{
	MapLine m;
	*start = *rend = 0;
	for (;;) {
		const char *before = *q;
		if (!next_map(q, end, &m))
			return *rend != 0;
		if (!trackable(w, &m)) {
			if (*rend)
				return 1;
			continue;
		}
		if (*rend && m.start != *rend) {
			*q = before; /* starts the next run */
			return 1;
		}
		if (!*rend)
			*start = m.start;
		*rend = m.end;
	}
}

/* After a restart, before the program resumes: register and
 * write-protect all of its memory, which is exactly the image it was
 * restarted from, so that the next checkpoint knows what changed since
 * without reading it.  0 if every trackable mapping is tracked. */
int kite_rt_track_protect_all(void)
{
	W w = { .fd = -1, .pmfd = -1, .hfd = -1 };
	uint64_t size = SCRATCH_MAPS + 4096 * sizeof(KitePageRegion);
	long mem = rs_mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem < 0 && mem > -4096)
		return -1;
	w.scratch = w.maps = (char *)(uintptr_t)mem;
	w.track.vec = (KitePageRegion *)(w.maps + SCRATCH_MAPS);
	w.track.veccap = 4096;
	int rc = -1;
	long n = read_file("/proc/self/maps", w.maps, SCRATCH_MAPS);
	if (n > 0 && n < (long)SCRATCH_MAPS) {
		const char *q = w.maps, *end = w.maps + n;
		uint64_t s, e;
		rc = 0;
		while (next_range(&w, &q, end, &s, &e))
			if (kite_rt_track_register(s, e) < 0 || kite_rt_track_scan(&w.track, s, e, 0) < 0)
				rc = -1;
	}
	rs_munmap(mem, size);
	return rc;
}

/* Register the parent's private mappings (those of the snapshot) with
 * its uffd, scan and re-protect them, and find what it wrote after the
 * fork.  Any failure leaves the mapping (or everything) untracked. */
static void track_collect(W *w)
{
	const char *q = w->maps, *end = w->maps + w->maps_len;
	uint64_t npages = 0, s, e;
	int n = 0;
	while (next_range(w, &q, end, &s, &e)) {
		n++;
		npages += (e - s) / PAGE;
	}
	uint64_t bitmap = (npages + 63) / 64 * 8;
	uint64_t vecbytes = 65536 * sizeof(KitePageRegion);
	uint64_t size = (uint64_t)n * sizeof(TrackMap) + 2 * bitmap + vecbytes + PM_BATCH * 8;
	size = (size + PAGE - 1) & ~(PAGE - 1);
	long mem = rs_mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem < 0 && mem > -4096)
		return;
	char *p = (char *)(uintptr_t)mem;
	w->track.vec = (KitePageRegion *)p;
	w->track.veccap = 65536;
	w->track.pm = (uint64_t *)(p + vecbytes);
	w->track.pmcap = PM_BATCH;
	w->track.written = (uint64_t *)(p + vecbytes + PM_BATCH * 8);
	w->track.carry = (uint64_t *)((char *)w->track.written + bitmap);
	w->tmaps = (TrackMap *)((char *)w->track.carry + bitmap);
	uint64_t forks = *kite_rt.forks;
	uint64_t bit = 0;
	q = w->maps;
	while (next_range(w, &q, end, &s, &e)) {
		TrackMap *t = &w->tmaps[w->ntmaps++];
		t->start = s;
		t->end = e;
		t->bit = bit;
		bit += (e - s) / PAGE;
		t->tracked = kite_rt_track_register(s, e) == 0 && kite_rt_track_scan(&w->track, s, e, t->bit) == 0;
	}
	for (int i = 0; i < w->ntmaps; i++)
		if (w->tmaps[i].tracked &&
		    kite_rt_track_after_fork_writes(&w->track, w->tmaps[i].start, w->tmaps[i].end, w->tmaps[i].bit) < 0)
			w->tmaps[i].tracked = 0;
	/* the program forked meanwhile: pages it wrote after our fork may be
	 * shared again (with its child), so trust none of the written ones */
	if (*kite_rt.forks != forks)
		for (uint64_t i = 0; i < bitmap / 8; i++)
			w->track.carry[i] |= w->track.written[i];
	w->tracking = 1;
	/* The parent image's table can be trusted for pages not written if
	 * its child scanned too, and nothing scanned since (a failed
	 * checkpoint's child would have). */
	w->track_valid = w->parent_seq && kite_rt.track_seq == w->parent_seq;
	w->tracked_pages = bit;
}

/* Most of memory was rewritten since the parent image (a compute job):
 * a full image costs as much to write, needs no parent, and lets the
 * older images go — whose files the next images then recycle, instead of
 * a chain of full-size images piling up. */
static void full_if_mostly_written(W *w)
{
	if (!w->track_valid || !w->nparent)
		return;
	uint64_t written = 0;
	for (uint64_t i = 0; i < (w->tracked_pages + 63) / 64; i++)
		written += (uint64_t)__builtin_popcountll(w->track.written[i]);
	if (written * 2 < w->nparent)
		return;
	w->parent = NULL;
	w->nparent = 0;
	w->parent_seq = 0;
	w->chain_len = 1;
	w->parent_created_ns = 0;
	w->track_valid = 0;
}

/* Map the parent image's page hashes; on any trouble the image is a full one. */
static void load_parent(W *w)
{
	char path[KITE_IMG_MAX_PATH + 64];
	w->parent_seq = 0;
	w->chain_len = 1;
	if (!kite_rt.cur_parent_seq)
		return;
	dir_file(path, sizeof path, ".ckpt-", kite_rt.cur_parent_seq, ".hashes");
	int fd = (int)rs_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct stat st;
	KiteHashesHeader hh;
	if (rs_fstat(fd, &st) < 0 || rs_pread_all(fd, &hh, sizeof hh, 0) < 0 || hh.magic != KITE_HASHES_MAGIC ||
	    hh.seq != kite_rt.cur_parent_seq || (uint64_t)st.st_size != sizeof hh + hh.count * 16) {
		rs_close(fd);
		return;
	}
	long m = rs_mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	rs_close(fd);
	if (m < 0 && m > -4096)
		return;
	w->parent_map = (uint64_t)m;
	/* the parent image itself must still be there */
	dir_file(path, sizeof path, "ckpt-", kite_rt.cur_parent_seq, ".img");
	struct stat ist;
	if (rs_stat(path, &ist) < 0)
		return;
	w->parent = (const uint64_t *)(m + sizeof hh);
	w->nparent = hh.count;
	w->parent_seq = kite_rt.cur_parent_seq;
	w->chain_len = kite_rt.cur_chain_len;
	w->parent_created_ns = hh.created_ns;
}

int kite_rt_dump(int mode)
{
	W w = { .fd = -1, .pmfd = -1, .hfd = -1 };
	char tmp[KITE_IMG_MAX_PATH + 64], htmp[KITE_IMG_MAX_PATH + 64], recycle[KITE_IMG_MAX_PATH + 64];
	long rc;
	void *sc = (void *)rs_mmap(0, SCRATCH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((long)sc < 0 && (long)sc > -4096) {
		err("cannot map scratch memory", NULL, (long)sc);
		return (int)(long)sc;
	}
	w.scratch = sc;
	w.maps = sc;
	w.pm = (uint64_t *)(w.scratch + SCRATCH_MAPS);
	w.io = (char *)(w.pm + PM_BATCH);
	w.meta = w.io + KITE_IMG_CHUNK;
	w.hbuf = (uint64_t *)(w.meta + 65536);
	w.zero = (char *)(w.hbuf + 2 * HASHBUF);
	w.pvec = (KitePageRegion *)(w.zero + 4096);
	w.pm_scan_fails = kite_rt.fault_pmscan && kite_rt.fault_pmscan == kite_rt.seq;

	/* before reading maps: the parent's hash table is mapped too, and
	 * must be left out of the image like the scratch area.  Images for a
	 * checkpoint server are full ones (it deduplicates). */
	int upload = kite_rt_upload_active();
	if (upload)
		w.chain_len = 1;
	else
		load_parent(&w);
	rc = read_file("/proc/self/maps", w.maps, SCRATCH_MAPS);
	if (rc < 0 || rc >= (long)SCRATCH_MAPS) {
		err("cannot read /proc/self/maps (or it is larger than 4 MiB)", NULL, rc);
		return -7;
	}
	w.maps_len = (size_t)rc;
	w.pmfd = (int)rs_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	if (w.pmfd < 0) {
		err("cannot open /proc/self/pagemap", NULL, w.pmfd);
		return w.pmfd;
	}
	w.zero_hash = kite_xxh64(w.zero, PAGE, 0);
	w.drop = mode == KITE_MODE_CONTINUE;
	/* first: the sooner the parent's memory is protected again, the fewer
	 * pages it writes between the fork and the scan (images for a server
	 * are always full: nothing to track for) */
	uint64_t t0 = rs_mono_us();
	if (!upload && kite_rt.track_on && kite_rt.forks && kite_rt_track_usable()) {
		track_collect(&w);
		full_if_mostly_written(&w);
	}
	uint64_t t1 = rs_mono_us();
	kite_rt_image_path(tmp, sizeof tmp, kite_rt.seq, 1);
	dir_file(htmp, sizeof htmp, ".ckpt-", kite_rt.seq, ".hashes.tmp");
	if (upload) {
		w.fd = kite_rt_upload_start(&w.up_pid, &w.up_res);
		if (w.fd < 0) {
			err("cannot start the uploader", NULL, w.fd);
			return w.fd;
		}
		goto write;
	}
	RsStr r = { recycle, 0, sizeof recycle };
	rs_str_add(&r, kite_rt.dir);
	rs_str_add(&r, "/.recycle.img");
	if (rs_rename(recycle, tmp) == 0)
		w.fd = (int)rs_open(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (w.fd < 0)
		w.fd = (int)rs_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w.fd < 0) {
		err("cannot create", tmp, w.fd);
		return w.fd;
	}
	w.hfd = (int)rs_open(htmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w.hfd >= 0 && rs_lseek(w.hfd, sizeof(KiteHashesHeader), SEEK_SET) < 0) {
		rs_close(w.hfd);
		w.hfd = -1;
	}
write:
	if ((rc = write_header(&w)) < 0 || (rc = write_process(&w)) < 0 || (rc = write_fds(&w)) < 0 ||
	    (rc = write_sandbox(&w, mode, upload)) < 0 || (rc = write_memory(&w)) < 0)
		goto fail;
	KiteImgEnd e = { .nrecords = w.nrec, .bytes = w.off, .digest = w.digest };
	if ((rc = emit(&w, KITE_REC_END, &e, sizeof e, NULL, 0)) < 0)
		goto fail;
	uint64_t t2 = rs_mono_us();
	if ((rc = upload ? kite_rt_upload_finish(&w.fd, w.up_pid, w.up_res, 1) : commit(&w)) < 0)
		goto fail;
	/* the image is written: the child's copy of the globals is its own now */
	kite_rt.stat_read = w.read;
	kite_rt.stat_hashed = w.hashed;
	kite_rt.stat_trusted = w.trusted;
	kite_rt.stat_tracked = !w.parent_seq ? 2 : w.track_valid;
	kite_rt.stat_us[0] = t1 - t0;
	kite_rt.stat_us[1] = t2 - t1;
	kite_rt.stat_us[2] = rs_mono_us() - t2;
	struct timespec cpu;
	rs_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	kite_rt.stat_us[3] = (uint64_t)cpu.tv_sec * 1000000 + (uint64_t)cpu.tv_nsec / 1000;
	return 0;
fail:
	if (upload) {
		if (w.fd >= 0)
			kite_rt_upload_finish(&w.fd, w.up_pid, w.up_res, 0);
		return (int)rc;
	}
	if (w.fd >= 0)
		rs_close(w.fd);
	if (w.hfd >= 0)
		rs_close(w.hfd);
	rs_unlink(tmp);
	rs_unlink(htmp);
	kite_rt_sandbox_finish(kite_rt.seq, 0);
	return (int)rc;
}
