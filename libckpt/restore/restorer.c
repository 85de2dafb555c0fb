/* ckpt-restore: maps an image back and jumps into it.
 *
 * FREESTANDING AND ASYNC-SIGNAL-SAFE: a static program with no libc
 * (-nostdlib, raw system calls), linked at a fixed address far from where
 * the kernel puts programs, libraries and stacks (0x600000000000), running
 * on a stack in its own .bss.  That way nothing it needs can collide with
 * the image's mappings, whatever ASLR did on either side.
 *
 * `ckpt restart` has already validated the image (header, every CRC, the
 * CPU, the vDSO layout, the files behind file mappings) and prepared
 * descriptors, working directory and umask; then it execs us with the
 * image's descriptor number as argv[1], in the same process.  We:
 *   1. read the metadata records,
 *   2. (point of no return) unmap everything but ourselves and the vDSO,
 *   3. move the host's [vvar]/[vvar_vclock]/[vdso] block to the image's
 *      addresses (same layout, checked),
 *   4. map every region at its address and read the stored pages in,
 *   5. restore mm fields (PR_SET_MM_MAP), signal actions and alternate
 *      stack, close-on-exec flags, rseq, the cached tid, FS base, comm,
 *   6. jump back into the runtime's kite_ctx_save() with return value 1.
 * The runtime then unmaps us (KiteRestartInfo says where we are).
 */
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/prctl.h>
#include <asm/prctl.h>

#include "libckpt/crc32c.h"
#include "libckpt/image-format.h"
#include "libckpt/raw-syscall.h"
#include "libckpt/restore/restore-stream.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#define MADV_NOHUGEPAGE 15
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#endif

#define PAGE 4096ul
#define STACK_SIZE (256u << 10)
#define META_SIZE (32u << 20)
#define MAPS_SIZE (4u << 20)
#define MAX_SPECIAL 8

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void restorer_main(long *sp) __attribute__((noreturn, used));
void kite_restorer_jump(const KiteJmp *j) __attribute__((noreturn));
long restorer_clone(unsigned long flags, void *stack, void *ctid, unsigned long tls, void (*fn)(void *), void *arg);

static char rstack[STACK_SIZE] __attribute__((aligned(64), used));
static char meta[META_SIZE] __attribute__((aligned(4096)));
static char maps[MAPS_SIZE];

extern char __ehdr_start[], _end[];

__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	"	mov %rsp,%rdi\n"
	"	lea rstack+262144(%rip),%rsp\n"
	"	and $-16,%rsp\n"
	"	call restorer_main\n"
	"	hlt\n"
	/* restorer_clone(flags, stack, ctid, tls, fn, arg): the new thread
	 * calls fn(arg) on stack and never returns */
	".globl restorer_clone\n"
	"restorer_clone:\n"
	"	sub $16,%rsi\n"
	"	mov %r8,0(%rsi)\n"
	"	mov %r9,8(%rsi)\n"
	"	mov %rdx,%r10\n"
	"	mov %rcx,%r8\n"
	"	xor %edx,%edx\n"
	"	mov $56,%eax\n"
	"	syscall\n"
	"	test %rax,%rax\n"
	"	jnz 1f\n"
	"	pop %rax\n"
	"	pop %rdi\n"
	"	call *%rax\n"
	"	hlt\n"
	"1:	ret\n"
	".globl kite_restorer_jump\n"
	"kite_restorer_jump:\n"
	"	mov 0(%rdi),%rbx\n"
	"	mov 8(%rdi),%rbp\n"
	"	mov 16(%rdi),%r12\n"
	"	mov 24(%rdi),%r13\n"
	"	mov 32(%rdi),%r14\n"
	"	mov 40(%rdi),%r15\n"
	"	ldmxcsr 64(%rdi)\n"
	"	fldcw 68(%rdi)\n"
	"	mov 48(%rdi),%rsp\n"
	"	mov $1,%eax\n"
	"	jmp *56(%rdi)\n");

void *memcpy(void *d, const void *s, size_t n)
{
	char *dd = d;
	const char *ss = s;
	while (n--)
		*dd++ = *ss++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	char *dd = d;
	const char *ss = s;
	if (dd < ss)
		while (n--)
			*dd++ = *ss++;
	else
		while (n--)
			dd[n] = ss[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	char *dd = d;
	while (n--)
		*dd++ = (char)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

static int past_no_return;

static void say(const char *a, const char *b, uint64_t hex, long err)
{
	char buf[600];
	RsStr s = { buf, 0, sizeof buf };
	rs_str_add(&s, "ckpt-restore: ");
	rs_str_add(&s, a);
	if (b)
		rs_str_add(&s, b);
	if (hex) {
		rs_str_add(&s, " 0x");
		rs_str_hex(&s, hex);
	}
	if (err < 0) {
		rs_str_add(&s, " (errno ");
		rs_str_num(&s, -err);
		rs_str_add(&s, ")");
	}
	rs_str_add(&s, "\n");
	rs_write_all(rstream_err_fd(), buf, s.len);
}

__attribute__((noreturn)) static void die(const char *a, const char *b, uint64_t hex, long err)
{
	say(a, b, hex, err);
	rstream_abort();
	if (past_no_return)
		say("the address space was already replaced; the restart is lost (the image is intact)", NULL, 0, 0);
	rs_exit_group(126);
	__builtin_unreachable();
}

typedef struct {
	KiteImgRegion *r;
	char path[KITE_IMG_MAX_PATH];
} Region;

static KiteImgProcess *proc;

/* Incremental images: a chain, newest first; PAGES and PARENT records of
 * each are indexed (address order, as written) so that a PARENT range of
 * one image is resolved in the next. */
typedef struct {
	uint64_t addr, len, off; /* off: file offset of the data (PAGES) */
	uint64_t parent;         /* 1: PARENT range */
} Ent;

#define INDEX_BASE 0x600020000000ull
#define INDEX_SIZE (256ull << 20)

static KiteImgThread *threads[KITE_IMG_MAX_THREADS];
static int nthreads;
static char tstacks[KITE_IMG_MAX_THREADS][16384] __attribute__((aligned(64)));

static int chain_fd[KITE_IMG_MAX_CHAIN];
static Ent *chain_ent[KITE_IMG_MAX_CHAIN];
static uint64_t chain_n[KITE_IMG_MAX_CHAIN];
static int nchain;
static KiteImgRegion *regions[KITE_IMG_MAX_REGIONS];
static int nregions;
static KiteImgFd *fds[KITE_IMG_MAX_FDS];
static int nfds;
static char pathbuf[KITE_IMG_MAX_PATH];

/* `ckpt restart --move OLD NEW`: files under OLD are under NEW here. */
static char move_old[KITE_IMG_MAX_PATH], move_new[KITE_IMG_MAX_PATH];
static uint32_t move_old_len, move_new_len;
static int64_t new_interval = -1; /* `--interval N` */
static char new_dir[KITE_IMG_MAX_PATH]; /* `--dir PATH` */
static uint32_t new_dir_len;

static uint32_t copy_arg(char *dst, const char *src)
{
	uint32_t n = 0;
	while (src[n] && n < KITE_IMG_MAX_PATH - 1) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = 0;
	return n;
}

static const char *region_path(const KiteImgRegion *r)
{
	const char *p = (const char *)(r + 1);
	uint32_t n = r->path_len < KITE_IMG_MAX_PATH - 1 ? r->path_len : KITE_IMG_MAX_PATH - 1;
	if (move_old_len && n >= move_old_len && rs_memeq(p, move_old, move_old_len) &&
	    (n == move_old_len || p[move_old_len] == '/') && n - move_old_len + move_new_len < KITE_IMG_MAX_PATH) {
		memcpy(pathbuf, move_new, move_new_len);
		memcpy(pathbuf + move_new_len, p + move_old_len, n - move_old_len);
		pathbuf[move_new_len + n - move_old_len] = 0;
		return pathbuf;
	}
	memcpy(pathbuf, p, n);
	pathbuf[n] = 0;
	return pathbuf;
}

/* A streamed image (`--stream`): its head ends at the first PAGES
 * record; the rest comes through restore-stream.c. */
static int streamed;
static uint64_t first_pages, head_nrec;
static uint32_t head_digest;

static void read_metadata(int fd)
{
	KiteImgHeader h;
	if (rs_pread_all(fd, &h, sizeof h, 0) < 0)
		die("cannot read the image header", NULL, 0, 0);
	uint32_t crc = h.header_crc;
	h.header_crc = 0;
	if (!rs_memeq(h.magic, KITE_IMG_MAGIC, 8) || h.version != KITE_IMG_VERSION || kite_crc32c(0, &h, sizeof h) != crc)
		die("not a valid libckpt image (bad magic, version or header checksum)", NULL, 0, 0);
	uint64_t off = KITE_IMG_HEADER_SIZE;
	size_t used = 0;
	for (;;) {
		KiteImgRec r;
		if (rs_pread_all(fd, &r, sizeof r, off) < 0)
			die("image truncated at offset", NULL, off, 0);
		uint32_t hc = r.hdr_crc;
		r.hdr_crc = 0;
		if (kite_crc32c(0, &r, sizeof r) != hc)
			die("corrupt record header at offset", NULL, off, 0);
		if (streamed && r.type == KITE_REC_PAGES) {
			first_pages = off;
			break;
		}
		off += sizeof r;
		if (r.type == KITE_REC_END)
			break;
		head_digest = kite_crc32c(head_digest, &r.data_crc, 4);
		head_nrec++;
		if (r.type == KITE_REC_PAGES || r.type == KITE_REC_FILEDATA) {
			off += r.len;
			continue;
		}
		if (r.len > KITE_IMG_MAX_META || used + r.len + 16 > META_SIZE)
			die("image metadata too large at offset", NULL, off, 0);
		char *p = meta + used;
		if (rs_pread_all(fd, p, r.len, off) < 0)
			die("image truncated at offset", NULL, off, 0);
		off += r.len;
		used += (r.len + 15) & ~15ul;
		if (r.type == KITE_REC_PROCESS && r.len >= sizeof(KiteImgProcess))
			proc = (KiteImgProcess *)p;
		else if (r.type == KITE_REC_REGION && r.len >= sizeof(KiteImgRegion) && nregions < KITE_IMG_MAX_REGIONS)
			regions[nregions++] = (KiteImgRegion *)p;
		else if (r.type == KITE_REC_FD && r.len >= sizeof(KiteImgFd) && nfds < KITE_IMG_MAX_FDS)
			fds[nfds++] = (KiteImgFd *)p;
		else if (r.type == KITE_REC_THREAD && r.len >= sizeof(KiteImgThread) && nthreads < KITE_IMG_MAX_THREADS)
			threads[nthreads++] = (KiteImgThread *)p;
	}
	if (!proc)
		die("image has no process record", NULL, 0, 0);
}

typedef struct {
	uint64_t start, end;
	int special; /* 1 vvar*, 2 vdso, 3 vsyscall */
} Cur;

static Cur cur[4096];
static int ncur;

static void read_own_maps(void)
{
	int fd = (int)rs_open("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		die("cannot open /proc/self/maps", NULL, 0, fd);
	size_t n = 0;
	for (;;) {
		long r = rs_read(fd, maps + n, MAPS_SIZE - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	rs_close(fd);
	maps[n] = 0;
	const char *s = maps;
	while (*s && ncur < 4096) {
		Cur *c = &cur[ncur++];
		c->start = rs_parse_hex(&s);
		s++;
		c->end = rs_parse_hex(&s);
		const char *eol = s;
		while (*eol && *eol != '\n')
			eol++;
		const char *name = eol;
		while (name > s && name[-1] != ' ')
			name--;
		c->special = 0;
		if (rs_startswith(name, "[vvar"))
			c->special = 1;
		else if (rs_startswith(name, "[vdso]"))
			c->special = 2;
		else if (rs_startswith(name, "[vsyscall]"))
			c->special = 3;
		s = *eol ? eol + 1 : eol;
	}
}

static int overlaps(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return a < d && c < b;
}

static void check_no_overlap(uint64_t lo, uint64_t hi, const char *what)
{
	for (int i = 0; i < nregions; i++) {
		KiteImgRegion *r = regions[i];
		if (r->flags & (KITE_REG_VDSO | KITE_REG_VVAR | KITE_REG_VSYSCALL))
			continue;
		if (overlaps(r->start, r->end, lo, hi))
			die(what, NULL, r->start, 0);
	}
}

/* Move the host's vvar/vdso block to where the image had its own. */
static void place_vdso(uint64_t tmp_base)
{
	uint64_t clo = ~0ull, chi = 0, ilo = ~0ull, ihi = 0;
	int ncs = 0, nis = 0;
	for (int i = 0; i < ncur; i++)
		if (cur[i].special == 1 || cur[i].special == 2) {
			clo = cur[i].start < clo ? cur[i].start : clo;
			chi = cur[i].end > chi ? cur[i].end : chi;
			ncs++;
		}
	for (int i = 0; i < nregions; i++)
		if (regions[i]->flags & (KITE_REG_VDSO | KITE_REG_VVAR)) {
			ilo = regions[i]->start < ilo ? regions[i]->start : ilo;
			ihi = regions[i]->end > ihi ? regions[i]->end : ihi;
			nis++;
		}
	if (!ncs || !nis)
		return; /* nothing to move (no vDSO on one side) */
	if (ncs != nis || chi - clo != ihi - ilo)
		die("the vDSO layout of this host differs from the image's; cannot restart here", NULL, 0, 0);
	if (clo == ilo)
		return;
	uint64_t dst = ilo;
	if (overlaps(clo, chi, ilo, ihi))
		dst = tmp_base;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < ncur; i++) {
			if (cur[i].special != 1 && cur[i].special != 2)
				continue;
			uint64_t len = cur[i].end - cur[i].start;
			uint64_t to = dst + (cur[i].start - clo);
			long r = rs_mremap(cur[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			if (r != (long)to)
				die("cannot move the vDSO to", NULL, to, r);
			cur[i].start = to;
			cur[i].end = to + len;
		}
		if (dst == ilo)
			break;
		clo = dst;
		dst = ilo;
	}
}

/* Build the index of image @k's PAGES and PARENT records. */
static void index_image(int k, Ent **space, uint64_t *left)
{
	uint64_t off = KITE_IMG_HEADER_SIZE;
	chain_ent[k] = *space;
	chain_n[k] = 0;
	for (;;) {
		KiteImgRec rec;
		if (rs_pread_all(chain_fd[k], &rec, sizeof rec, off) < 0)
			die("image truncated at offset", NULL, off, 0);
		off += sizeof rec;
		if (rec.type == KITE_REC_END)
			break;
		if (rec.type == KITE_REC_PAGES || rec.type == KITE_REC_PARENT) {
			KiteImgPages pg; /* same layout as KiteImgParent */
			if (rs_pread_all(chain_fd[k], &pg, sizeof pg, off) < 0)
				die("image truncated at offset", NULL, off, 0);
			if (!*left)
				die("too many records in the image chain", NULL, 0, 0);
			Ent *e = &chain_ent[k][chain_n[k]++];
			e->addr = pg.addr;
			e->len = pg.len;
			/* PAGES data may follow some zero padding (page alignment) */
			e->off = off + (rec.type == KITE_REC_PAGES ? rec.len - pg.len : sizeof pg);
			e->parent = rec.type == KITE_REC_PARENT;
			(*left)--;
		}
		off += rec.len;
	}
	*space += chain_n[k];
}

static KiteImgRegion *region_at(uint64_t a)
{
	int lo = 0, hi = nregions;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (regions[mid]->end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nregions && regions[lo]->start <= a ? regions[lo] : NULL;
}

/* Big page-aligned runs of private anonymous memory are mapped straight
 * from the image (copy-on-write) instead of being read: a restart then
 * costs what verifying the image costs. */
static int nmapped;

static int try_map(int fd, uint64_t a, uint64_t len, uint64_t off)
{
	/* each mapping is a VMA: stay far below vm.max_map_count (65530) */
	if (len < (64u << 10) || (off & (PAGE - 1)) || nmapped >= 16384)
		return 0;
	KiteImgRegion *r = region_at(a);
	if (!r || a + len > r->end || (r->flags & (KITE_REG_FILE | KITE_REG_SHARED | KITE_REG_STACK)))
		return 0;
	int prot = (int)r->prot | PROT_WRITE;
	long m = rs_mmap(a, len, prot, MAP_PRIVATE | MAP_FIXED, fd, (long)off);
	if (m != (long)a)
		return 0;
	nmapped++;
	return 1;
}

/* Fill [a, a+l) from image @k: its PAGES directly, its PARENT ranges
 * from image k+1.  Entries are in address order. */
static void resolve(int k, uint64_t a, uint64_t l)
{
	if (k >= nchain)
		die("a PARENT range has no parent image in the chain at", NULL, a, 0);
	Ent *ents = chain_ent[k];
	uint64_t n = chain_n[k], lo = 0, hi = n;
	uint64_t end = l == ~0ull ? ~0ull : a + l;
	while (lo < hi) { /* first entry ending after a */
		uint64_t mid = (lo + hi) / 2;
		if (ents[mid].addr + ents[mid].len <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint64_t i = lo; i < n && ents[i].addr < end; i++) {
		uint64_t s = ents[i].addr > a ? ents[i].addr : a;
		uint64_t e = ents[i].addr + ents[i].len < end ? ents[i].addr + ents[i].len : end;
		if (s >= e)
			continue;
		if (ents[i].parent) {
			resolve(k + 1, s, e - s);
		} else if (try_map(chain_fd[k], s, e - s, ents[i].off + (s - ents[i].addr))) {
			continue;
		} else {
			long r = rs_pread_all(chain_fd[k], (void *)(uintptr_t)s, e - s, ents[i].off + (s - ents[i].addr));
			if (r < 0)
				die("cannot read pages for", NULL, s, r);
		}
	}
}

/* Whether a streamed PAGES record's range lies in one stored region
 * (mapped writable by map_regions()). */
static int pages_ok(uint64_t a, uint64_t len)
{
	KiteImgRegion *r = region_at(a);
	return r && len <= r->end - a && (r->flags & KITE_REG_DATA) &&
	       !(r->flags & (KITE_REG_VDSO | KITE_REG_VVAR | KITE_REG_VSYSCALL));
}

static void map_regions(int imgfd)
{
	for (int i = 0; i < nregions; i++) {
		KiteImgRegion *r = regions[i];
		if (r->flags & (KITE_REG_VDSO | KITE_REG_VVAR | KITE_REG_VSYSCALL))
			continue;
		uint64_t len = r->end - r->start;
		int prot = (int)r->prot | ((r->flags & KITE_REG_DATA) ? PROT_WRITE : 0);
		long a;
		if (r->flags & KITE_REG_FILE) {
			const char *path = region_path(r);
			int shared = r->flags & KITE_REG_SHARED;
			int ffd = (int)rs_open(path, shared && (r->prot & PROT_WRITE) ? O_RDWR : O_RDONLY, 0);
			if (ffd < 0)
				die("cannot open ", path, 0, ffd);
			a = rs_mmap(r->start, len, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED_NOREPLACE, ffd,
				    (long)r->offset);
			rs_close(ffd);
		} else {
			int fl = MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
			fl |= (r->flags & KITE_REG_SHARED) ? MAP_SHARED : MAP_PRIVATE;
			if (r->flags & KITE_REG_STACK)
				fl |= MAP_GROWSDOWN;
			a = rs_mmap(r->start, len, prot, fl, -1, 0);
		}
		if (a != (long)r->start)
			die("cannot map the region at", NULL, r->start, a);
		/* huge pages again (libckpt/runtime/rt-hugepages.c), asked for
		 * before the pages are filled */
		if (r->flags & KITE_REG_HUGE)
			rs_call3(SYS_madvise, r->start, len, MADV_HUGEPAGE);
	}
	/* contents, newest image first, PARENT ranges from older ones */
	(void)imgfd;
	if (streamed)
		rstream_fill(first_pages, head_nrec, head_digest, pages_ok);
	else
		resolve(0, 0, ~0ull);
	for (int i = 0; i < nregions; i++) {
		KiteImgRegion *r = regions[i];
		if (r->flags & (KITE_REG_VDSO | KITE_REG_VVAR | KITE_REG_VSYSCALL))
			continue;
		if ((r->flags & KITE_REG_DATA) && !(r->prot & PROT_WRITE))
			rs_mprotect(r->start, r->end - r->start, r->prot);
		/* the advice again on whatever maps it now: pieces of it may be
		 * mapped from the image (their pages are the image's 4 KiB ones
		 * until the program writes them) */
		if (r->flags & (KITE_REG_HUGE | KITE_REG_NOHUGE))
			rs_call3(SYS_madvise, r->start, r->end - r->start,
				 (r->flags & KITE_REG_HUGE) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	}
}

static void register_rseq(uint64_t addr, uint32_t len, uint32_t sig)
{
	if (!addr)
		return;
	/* struct rseq: cpu_id_start, cpu_id, rseq_cs, flags */
	*(uint64_t *)(uintptr_t)(addr + 8) = 0;
	long r = rs_call4(SYS_rseq, addr, len, 0, sig);
	if (r < 0)
		*(int32_t *)(uintptr_t)(addr + 4) = -1; /* glibc falls back to getcpu */
}

/* A restored thread other than the first: runs on a restorer stack with
 * the thread's TLS, re-establishes its kernel-side state, and jumps. */
static void thread_entry(void *arg)
{
	KiteImgThread *t = arg;
	long tid = rs_gettid();
	if (t->tid_addr && *(int *)(uintptr_t)t->tid_addr == (int)t->tid)
		*(int *)(uintptr_t)t->tid_addr = (int)tid;
	register_rseq(t->rseq_addr, t->rseq_len, t->rseq_sig);
	if (t->robust_head)
		rs_call2(SYS_set_robust_list, t->robust_head, t->robust_len);
	if (!(t->altstack_flags & SS_DISABLE) && t->altstack_size) {
		stack_t ss = { (void *)(uintptr_t)t->altstack_sp, 0, t->altstack_size };
		rs_sigaltstack(&ss, NULL);
	}
	kite_restorer_jump(&t->jmp);
}

static void restore_mm(void)
{
	struct prctl_mm_map m = {
		.start_code = proc->start_code,
		.end_code = proc->end_code,
		.start_data = proc->start_data,
		.end_data = proc->end_data,
		.start_brk = proc->start_brk,
		.brk = proc->brk,
		.start_stack = proc->start_stack,
		.arg_start = proc->arg_start,
		.arg_end = proc->arg_end,
		.env_start = proc->env_start,
		.env_end = proc->env_end,
		.auxv = (__u64 *)proc->auxv,
		.auxv_size = proc->auxv_bytes,
		.exe_fd = (uint32_t)-1,
	};
	long r = rs_prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof m, 0);
	if (r < 0 && proc->auxv_bytes) {
		m.auxv = 0;
		m.auxv_size = 0;
		r = rs_prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof m, 0);
	}
	/* Failure is survivable: brk() then fails and malloc falls back to mmap. */
}

void restorer_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	if (argc < 2)
		die("usage: ckpt-restore FD (run by `ckpt restart`, not by hand)", NULL, 0, 0);
	const char *a = argv[1];
	int imgfd = (int)rs_parse_dec(&a);
	long stream_args[5];
	for (long i = 1; i < argc && nchain < KITE_IMG_MAX_CHAIN; i++) {
		a = argv[i];
		if (rs_memeq(a, "--stream", 9) && i + 5 < argc) { /* --stream INFO DATA VERDICT ERR PID */
			for (int k = 0; k < 5; k++) {
				a = argv[++i];
				stream_args[k] = (long)rs_parse_dec(&a);
			}
			streamed = 1;
			continue;
		}
		if (rs_memeq(a, "--move", 7) && i + 2 < argc) { /* --move OLD NEW */
			move_old_len = copy_arg(move_old, argv[i + 1]);
			move_new_len = copy_arg(move_new, argv[i + 2]);
			i += 2;
			continue;
		}
		if (rs_memeq(a, "--dir", 6) && i + 1 < argc) {
			new_dir_len = copy_arg(new_dir, argv[++i]);
			continue;
		}
		if (rs_memeq(a, "--interval", 11) && i + 1 < argc) {
			a = argv[++i];
			new_interval = rs_parse_dec(&a);
			continue;
		}
		chain_fd[nchain++] = (int)rs_parse_dec(&a);
	}
	if (streamed)
		rstream_init((int)stream_args[0], (int)stream_args[1], (int)stream_args[2], (int)stream_args[3],
			     stream_args[4], imgfd, INDEX_BASE, INDEX_SIZE);
	read_metadata(imgfd);

	uint64_t lo = (uint64_t)(uintptr_t)__ehdr_start & ~(PAGE - 1);
	uint64_t hi = ((uint64_t)(uintptr_t)_end + PAGE - 1) & ~(PAGE - 1);
	uint64_t tmp_vdso = hi + (256ul << 20);
	check_no_overlap(lo, lo + (1ul << 30), "an image region overlaps the restorer (0x600000000000): region");
	if (hi > INDEX_BASE || tmp_vdso + (64ul << 20) > INDEX_BASE)
		die("restorer too large", NULL, hi, 0);
	/* Shared, so that it does not count against RLIMIT_DATA: a job
	 * restarted under its memory request must not fail for our index.
	 * (A streamed image has no chain to index: the stream's manifest is
	 * mapped there.) */
	if (!streamed) {
		long ix = rs_mmap(INDEX_BASE, INDEX_SIZE, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (ix != (long)INDEX_BASE)
			die("cannot map the restorer's index at", NULL, INDEX_BASE, ix);
		Ent *space = (Ent *)INDEX_BASE;
		uint64_t left = INDEX_SIZE / sizeof(Ent);
		for (int k = 0; k < nchain; k++)
			index_image(k, &space, &left);
	}
	read_own_maps();

	uint64_t all = ~0ull;
	rs_rt_sigprocmask(SIG_SETMASK, &all, NULL);

	past_no_return = 1;
	for (int i = 0; i < ncur; i++) {
		if (cur[i].special || overlaps(cur[i].start, cur[i].end, lo, hi) ||
		    overlaps(cur[i].start, cur[i].end, INDEX_BASE, INDEX_BASE + INDEX_SIZE))
			continue;
		rs_munmap(cur[i].start, cur[i].end - cur[i].start);
	}
	place_vdso(tmp_vdso);
	map_regions(imgfd);
	if (streamed)
		rstream_finish();
	restore_mm();

	for (int s = 1; s <= KITE_NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		rs_rt_sigaction(s, &proc->sigactions[s - 1], NULL);
	}
	if (!(proc->altstack_flags & SS_DISABLE) && proc->altstack_size) {
		stack_t ss = { (void *)(uintptr_t)proc->altstack_sp, 0, proc->altstack_size };
		rs_sigaltstack(&ss, NULL);
	}
	for (int i = 0; i < nfds; i++)
		if (fds[i]->fd_flags & FD_CLOEXEC)
			rs_fcntl(fds[i]->fd, F_SETFD, FD_CLOEXEC);
	long pid = rs_getpid();
	if (proc->tid_addr && *(int *)(uintptr_t)proc->tid_addr == (int)proc->tid)
		*(int *)(uintptr_t)proc->tid_addr = (int)pid;
	register_rseq(proc->rseq_addr, proc->rseq_len, proc->rseq_sig);
	if (proc->robust_head)
		rs_call2(SYS_set_robust_list, proc->robust_head, proc->robust_len);
	if (proc->tid_addr)
		rs_call1(SYS_set_tid_address, proc->tid_addr);
	rs_arch_prctl(ARCH_SET_FS, proc->fs_base);
	if (proc->gs_base)
		rs_arch_prctl(ARCH_SET_GS, proc->gs_base);
	rs_prctl(PR_SET_NAME, proc->comm, 0, 0, 0);
	/* best effort: the CPUs may not exist here, a hard limit may not be
	 * raised without privilege */
	if (proc->affinity_bytes)
		rs_call3(SYS_sched_setaffinity, 0, proc->affinity_bytes, proc->cpu_affinity);
	for (uint32_t r = 0; r < proc->nrlimits && r < 16; r++) {
		uint64_t lim[2];
		if (rs_call4(SYS_prlimit64, 0, r, NULL, lim) < 0 ||
		    (lim[0] == proc->rlimits[r][0] && lim[1] == proc->rlimits[r][1]))
			continue;
		if (rs_call4(SYS_prlimit64, 0, r, proc->rlimits[r], NULL) < 0) {
			uint64_t soft[2] = { proc->rlimits[r][0] < lim[1] ? proc->rlimits[r][0] : lim[1], lim[1] };
			rs_call4(SYS_prlimit64, 0, r, soft, NULL);
		}
	}
	if (proc->restart_info_addr) {
		KiteRestartInfo *ri = (KiteRestartInfo *)(uintptr_t)proc->restart_info_addr;
		ri->magic = KITE_RESTART_MAGIC;
		ri->restorer_start = lo;
		ri->restorer_end = INDEX_BASE + INDEX_SIZE;
		ri->new_pid = (uint32_t)pid;
		ri->restarts++;
		ri->interval_s = new_interval;
		memcpy(ri->dir, new_dir, new_dir_len + 1);
	}
	rs_close(imgfd);
	for (int k = 0; k < nchain; k++)
		if (chain_fd[k] != imgfd)
			rs_close(chain_fd[k]);
	/* every signal is still blocked: the clones inherit that */
	for (int i = 0; i < nthreads; i++) {
		KiteImgThread *t = threads[i];
		unsigned long fl = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
				   CLONE_SETTLS | (t->tid_addr ? CLONE_CHILD_CLEARTID : 0);
		long r = restorer_clone(fl, tstacks[i] + sizeof tstacks[i], (void *)(uintptr_t)t->tid_addr, t->fs_base,
					thread_entry, t);
		if (r < 0)
			die("cannot recreate a thread", NULL, 0, r);
	}
	rs_rt_sigprocmask(SIG_SETMASK, &proc->sigmask, NULL);
	kite_restorer_jump(&proc->jmp);
}
