/* Dirty-page tracking with userfaultfd write-protect (async mode) and the
 * PAGEMAP_SCAN ioctl (Linux 6.7+), so that an incremental image needs
 * neither to read nor to hash the pages that did not change.
 *
 * ASYNC-SIGNAL-SAFE: raw system calls only (runs at start-up, in the
 * checkpoint handler after a restart, and in the checkpoint child).
 *
 * How it works.  The job holds a userfaultfd opened with
 * UFFD_FEATURE_WP_ASYNC (the kernel resolves write faults itself by
 * clearing the page's write-protect bit: nothing ever waits) and a
 * descriptor on its own /proc/self/pagemap.  A uffd and a pagemap file act
 * on the memory of the process that opened them, so the checkpoint child,
 * which inherits both, does all the work on the *parent's* memory while
 * the parent runs on — the application's pause is the fork alone:
 *
 *   1. register every private mapping of its snapshot with the uffd
 *      (new mmaps, brk growth, thread stacks since the last checkpoint;
 *      already registered ones are unchanged);
 *   2. PAGEMAP_SCAN each of them with PM_SCAN_WP_MATCHING: the pages
 *      written since the previous scan come back (PAGE_IS_WRITTEN) and
 *      every page is write-protected again, in one step;
 *   3. the pages the parent wrote *after the fork* but before the scan are
 *      also reported, and after the scan look clean although the image
 *      (the fork's snapshot) holds their old contents: they are the
 *      written pages the parent no longer shares with the child (the write
 *      copied them: pagemap's "exclusively mapped" bit).  They are flagged
 *      in the image's page table so that the next checkpoint does not
 *      trust them.
 *
 * A page whose write-protect bit is still set was not written — by the
 * program or by the kernel on its behalf (read() into a buffer) — since
 * the scan that set it.  A mapping that was not fully registered or
 * scanned (it changed under us, another userfaultfd owns it, it is too
 * big) is simply not tracked: its pages are hashed and compared, as
 * without tracking.  No support (older kernel, no userfaultfd, or
 * KITE_CKPT_NO_UFFD=1) means hashing everything, as before.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/ioctl.h>

#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"

/* Debian 12's kernel headers predate these. */
struct kite_uffdio_api {
	uint64_t api, features, ioctls;
};
struct kite_uffdio_range {
	uint64_t start, len;
};
struct kite_uffdio_register {
	struct kite_uffdio_range range;
	uint64_t mode, ioctls;
};
struct kite_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define KITE_UFFD_API 0xAA
#define KITE_UFFDIO_API _IOWR(0xAA, 0x3F, struct kite_uffdio_api)
#define KITE_UFFDIO_REGISTER _IOWR(0xAA, 0x00, struct kite_uffdio_register)
#define KITE_UFFDIO_REGISTER_MODE_WP 2
#define KITE_UFFD_USER_MODE_ONLY 1
#define KITE_UFFD_FEATURE_WP_UNPOPULATED (1u << 13)
#define KITE_UFFD_FEATURE_WP_ASYNC (1u << 15)
#define KITE_PAGEMAP_SCAN _IOWR('f', 16, struct kite_pm_scan_arg)
#define KITE_PM_SCAN_WP_MATCHING 1
#define KITE_PM_SCAN_CHECK_WPASYNC 2
#define KITE_PAGE_IS_WPALLOWED 1
#define KITE_PAGE_IS_WRITTEN 2
#define KITE_PAGE_IS_PRESENT 8
#define KITE_PAGE_IS_SWAPPED 16

#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323
#endif

#define PAGE 4096ull
#define PM_PRESENT (1ull << 63)
#define PM_EXCLUSIVE (1ull << 56)

static int fd_is(int fd, uint64_t dev, uint64_t ino)
{
	struct stat st;
	return fd >= 0 && rs_fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static void remember_fd(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	if (rs_fstat(fd, &st) == 0) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
}

static long scan(int pmfd, uint64_t start, uint64_t end, KitePageRegion *vec, long cap, uint64_t *walk_end)
{
	struct kite_pm_scan_arg a = {
		.size = sizeof a,
		.flags = KITE_PM_SCAN_WP_MATCHING | KITE_PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)vec,
		.vec_len = (uint64_t)cap,
		.category_anyof_mask = KITE_PAGE_IS_WPALLOWED,
		.return_mask = KITE_PAGE_IS_WPALLOWED | KITE_PAGE_IS_WRITTEN,
	};
	long r = rs_call3(SYS_ioctl, pmfd, KITE_PAGEMAP_SCAN, &a);
	*walk_end = a.walk_end;
	return r;
}

static void close_track(void)
{
	if (kite_rt.track_uffd >= 0)
		rs_close(kite_rt.track_uffd);
	if (kite_rt.track_pmfd >= 0)
		rs_close(kite_rt.track_pmfd);
	kite_rt.track_uffd = kite_rt.track_pmfd = -1;
	kite_rt.track_on = 0;
}

/* Does write-protect tracking work here?  Try it on a scratch page:
 * written, scanned (reported, re-protected), scanned again (clean),
 * written again (reported). */
static int self_test(void)
{
	KitePageRegion vec[4];
	uint64_t we;
	long m = rs_mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		return -1;
	int ok = kite_rt_track_register((uint64_t)m, (uint64_t)m + 2 * PAGE) == 0;
	volatile char *p = (volatile char *)(uintptr_t)m;
	p[0] = 1;
	ok = ok && scan(kite_rt.track_pmfd, (uint64_t)m, (uint64_t)m + 2 * PAGE, vec, 4, &we) >= 1 &&
	     (vec[0].categories & KITE_PAGE_IS_WRITTEN) && vec[0].start == (uint64_t)m;
	ok = ok && scan(kite_rt.track_pmfd, (uint64_t)m, (uint64_t)m + 2 * PAGE, vec, 4, &we) == 1 &&
	     !(vec[0].categories & KITE_PAGE_IS_WRITTEN) && vec[0].end == (uint64_t)m + 2 * PAGE;
	p[PAGE] = 1;
	ok = ok && scan(kite_rt.track_pmfd, (uint64_t)m, (uint64_t)m + 2 * PAGE, vec, 4, &we) == 2 &&
	     !(vec[0].categories & KITE_PAGE_IS_WRITTEN) && (vec[1].categories & KITE_PAGE_IS_WRITTEN) &&
	     vec[1].start == (uint64_t)m + PAGE;
	rs_munmap(m, 2 * PAGE);
	return ok ? 0 : -1;
}

int kite_rt_track_init(int disabled)
{
	kite_rt.track_uffd = kite_rt.track_pmfd = -1;
	kite_rt.track_on = 0;
	kite_rt.track_seq = 0;
	if (disabled)
		return -1;
	/* User-mode-only: allowed without privilege (vm.unprivileged_userfaultfd=0);
	 * kernel writes are resolved all the same in async mode. */
	long fd = rs_call1(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | KITE_UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return -1;
	kite_rt.track_uffd = (int)fd;
	struct kite_uffdio_api api = { .api = KITE_UFFD_API,
				       .features = KITE_UFFD_FEATURE_WP_ASYNC | KITE_UFFD_FEATURE_WP_UNPOPULATED };
	fd = rs_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	if (rs_call3(SYS_ioctl, kite_rt.track_uffd, KITE_UFFDIO_API, &api) < 0 || fd < 0) {
		if (fd >= 0)
			rs_close(fd);
		close_track();
		return -1;
	}
	kite_rt.track_pmfd = (int)fd;
	if (self_test() < 0) {
		close_track();
		return -1;
	}
	remember_fd(kite_rt.track_uffd, &kite_rt.track_uffd_dev, &kite_rt.track_uffd_ino);
	remember_fd(kite_rt.track_pmfd, &kite_rt.track_pm_dev, &kite_rt.track_pm_ino);
	kite_rt.track_on = 1;
	return 0;
}

int kite_rt_track_usable(void)
{
	return kite_rt.track_on && fd_is(kite_rt.track_uffd, kite_rt.track_uffd_dev, kite_rt.track_uffd_ino) &&
	       fd_is(kite_rt.track_pmfd, kite_rt.track_pm_dev, kite_rt.track_pm_ino);
}

/* One of libckpt's tracking descriptors (still: the program may have
 * closed it and opened one of its own under the same number). */
int kite_rt_track_owns_fd(int fd)
{
	return kite_rt.track_on &&
	       ((fd == kite_rt.track_uffd && fd_is(fd, kite_rt.track_uffd_dev, kite_rt.track_uffd_ino)) ||
		(fd == kite_rt.track_pmfd && fd_is(fd, kite_rt.track_pm_dev, kite_rt.track_pm_ino)));
}

int kite_rt_track_register(uint64_t start, uint64_t end)
{
	struct kite_uffdio_register reg = { { start, end - start }, KITE_UFFDIO_REGISTER_MODE_WP, 0 };
	long r = rs_call3(SYS_ioctl, kite_rt.track_uffd, KITE_UFFDIO_REGISTER, &reg);
	return r < 0 ? (int)r : 0;
}

static void set_bits(uint64_t *bits, uint64_t from, uint64_t n)
{
	for (uint64_t i = from; i < from + n; i++)
		bits[i / 64] |= 1ull << (i % 64);
}

/* Scan [start, end) of the parent and write-protect it again: set the
 * written pages' bits (page index from @bit) in t->written.  0 when every
 * page of the range was covered (registered, mapped), -1 if not (then the
 * range is not to be trusted). */
int kite_rt_track_scan(KiteTrack *t, uint64_t start, uint64_t end, uint64_t bit)
{
	uint64_t cur = start;
	while (cur < end) {
		uint64_t we = 0;
		long n = scan(kite_rt.track_pmfd, cur, end, t->vec, t->veccap, &we);
		if (n < 0)
			return -1; /* EPERM: part of it is not registered (anymore) */
		for (long i = 0; i < n; i++) {
			if (t->vec[i].start != cur)
				return -1; /* a hole: unmapped or not write-protectable */
			if (t->written && (t->vec[i].categories & KITE_PAGE_IS_WRITTEN))
				set_bits(t->written, bit + (cur - start) / PAGE, (t->vec[i].end - cur) / PAGE);
			cur = t->vec[i].end;
		}
		if (n < t->veccap && cur < end)
			return -1; /* stopped short of the end: a hole at the end */
	}
	return 0;
}

/* Of the written pages in [start, end) (bits from @bit), flag in t->carry
 * those the parent no longer shares with the child: written again since
 * the fork (the write copied them), or not present.  Their contents in
 * this image are older than what the scan just protected. */
int kite_rt_track_after_fork_writes(KiteTrack *t, uint64_t start, uint64_t end, uint64_t bit)
{
	uint64_t npages = (end - start) / PAGE;
	for (uint64_t i = 0; i < npages;) {
		uint64_t b = bit + i;
		if (!(t->written[b / 64] & (1ull << (b % 64)))) {
			i++;
			continue;
		}
		uint64_t n = 0;
		while (i + n < npages && n < t->pmcap && (t->written[(b + n) / 64] & (1ull << ((b + n) % 64))))
			n++;
		long r = rs_pread_all(kite_rt.track_pmfd, t->pm, n * 8, (start / PAGE + i) * 8);
		if (r < 0)
			return -1;
		for (uint64_t k = 0; k < n; k++)
			if (!(t->pm[k] & PM_PRESENT) || (t->pm[k] & PM_EXCLUSIVE))
				t->carry[(b + k) / 64] |= 1ull << ((b + k) % 64);
		i += n;
	}
	return 0;
}

/* One PAGEMAP_SCAN answers with runs of pages instead of an entry per
 * page, and without looking at each page's struct page as a pagemap read
 * does (for its "exclusively mapped" bit): 1 GiB in ~4 ms instead of ~10
 * here, in every checkpoint child. */
int kite_rt_pages_present(int pmfd, uint64_t start, uint64_t npages, uint64_t *pm, KitePageRegion *vec, long veccap)
{
	uint64_t end = start + npages * PAGE, cur = start;
	for (uint64_t i = 0; i < npages; i++)
		pm[i] = 0;
	while (cur < end) {
		struct kite_pm_scan_arg a = {
			.size = sizeof a,
			.start = cur,
			.end = end,
			.vec = (uint64_t)(uintptr_t)vec,
			.vec_len = (uint64_t)veccap,
			.category_anyof_mask = KITE_PAGE_IS_PRESENT | KITE_PAGE_IS_SWAPPED,
			.return_mask = KITE_PAGE_IS_PRESENT | KITE_PAGE_IS_SWAPPED,
		};
		long n = rs_call3(SYS_ioctl, pmfd, KITE_PAGEMAP_SCAN, &a);
		if (n < 0 || a.walk_end <= cur || a.walk_end > end)
			return -1;
		for (long k = 0; k < n; k++)
			for (uint64_t p = vec[k].start; p < vec[k].end && p < end; p += PAGE)
				if (p >= start)
					pm[(p - start) / PAGE] = PM_PRESENT;
		cur = a.walk_end;
	}
	return 0;
}

/* At start-up and after a restart: the fork counter's shared page, then
 * the uffd.  Nothing of it is in an image (a restart starts afresh). */
void kite_rt_track_start(void)
{
	if (!kite_rt.forks) {
		long p = rs_mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		kite_rt.forks = p < 0 && p > -4096 ? NULL : (volatile uint64_t *)(uintptr_t)p;
	}
	if (kite_rt_track_init(kite_rt.track_disabled || !kite_rt.forks) < 0 && kite_rt.forks) {
		rs_munmap((uint64_t)(uintptr_t)kite_rt.forks, PAGE);
		kite_rt.forks = NULL;
	}
}
