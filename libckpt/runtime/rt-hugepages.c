/* Transparent huge pages for a checkpointed job's large memory.
 *
 * Why: the pause of a checkpoint is fork()'s copy of the page tables.
 * With 4 KiB pages that is ~28 ms per GiB on this kind of machine; with
 * 2 MiB pages (one entry for 512 pages) ~0.6 ms, and after the checkpoint
 * child has gone a page the job writes costs one fault per 2 MiB instead
 * of one per 4 KiB.  Debian's default (transparent_hugepage=madvise) gives
 * huge pages only to memory a program asks for, so libckpt asks for the
 * job, where it can:
 *   - mmap() of private anonymous writable memory of at least
 *     KITE_HUGE_MIN bytes made by the program itself gets MADV_HUGEPAGE;
 *   - glibc's malloc does it for its own mappings and heap when `ckpt run`
 *     sets GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (malloc calls glibc's
 *     internal mmap, which no interposer sees);
 *   - a program's own madvise(MADV_HUGEPAGE / MADV_NOHUGEPAGE) is
 *     remembered, so that its choice survives a restart: the image marks
 *     each region KITE_REG_HUGE or KITE_REG_NOHUGE and the restorer gives
 *     the advice again before filling it.
 * KITE_CKPT_HUGE_PAGES=0 turns the default off (a program's own advice is
 * still carried across restarts).
 *
 * These wrappers are the program's mmap/mmap64/madvise: exported from the
 * preloaded libckpt.so, linked (strong over libc.a's weak aliases) into a
 * relinked program.  They call the kernel directly, as libc would.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"

#define KITE_EXPORT __attribute__((visibility("default")))

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#define MADV_NOHUGEPAGE 15
#endif

/* The program's own advice, newest last.  Written by whichever thread
 * calls madvise() (a spin lock between them); read by the checkpoint child,
 * which sees the table as it was at the fork: an entry being written then
 * costs at worst one region's advice after a restart, never its data. */
static volatile int advice_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&advice_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void unlock(void)
{
	__atomic_store_n(&advice_lock, 0, __ATOMIC_RELEASE);
}

/* In the child of the program's own fork(): a thread that held the lock
 * at the fork does not exist there. */
void kite_rt_huge_after_fork(void)
{
	unlock();
}

/* Forget what the program said about [s, e): a new mapping or new advice
 * replaces it.  Entries sticking out on one side are cut; one sticking out
 * on both is split in two (its right part is lost if the table is full). */
static void forget(uint64_t s, uint64_t e)
{
	int n = kite_rt.nadvice;
	for (int i = 0; i < n; i++) {
		uint64_t as = kite_rt.advice[i].start, ae = kite_rt.advice[i].end;
		if (ae <= s || as >= e)
			continue;
		if (as < s && ae > e && kite_rt.nadvice < KITE_RT_MAX_ADVICE) {
			kite_rt.advice[kite_rt.nadvice] = kite_rt.advice[i];
			kite_rt.advice[kite_rt.nadvice++].start = e;
		}
		if (as < s)
			kite_rt.advice[i].end = s;
		else if (ae > e)
			kite_rt.advice[i].start = e;
		else
			kite_rt.advice[i].end = kite_rt.advice[i].start; /* empty: dropped below */
	}
	int k = 0;
	for (int i = 0; i < kite_rt.nadvice; i++)
		if (kite_rt.advice[i].end > kite_rt.advice[i].start)
			kite_rt.advice[k++] = kite_rt.advice[i];
	kite_rt.nadvice = k;
}

static void remember(uint64_t s, uint64_t e, int huge)
{
	lock();
	forget(s, e);
	if (kite_rt.nadvice == KITE_RT_MAX_ADVICE) { /* forget the oldest */
		for (int i = 1; i < kite_rt.nadvice; i++)
			kite_rt.advice[i - 1] = kite_rt.advice[i];
		kite_rt.nadvice--;
	}
	kite_rt.advice[kite_rt.nadvice].start = s;
	kite_rt.advice[kite_rt.nadvice].end = e;
	kite_rt.advice[kite_rt.nadvice].huge = huge;
	kite_rt.nadvice++;
	unlock();
}

uint32_t kite_rt_huge_flags(uint64_t start, uint64_t end, int private_anon_writable)
{
	if (!private_anon_writable)
		return 0;
	for (int i = kite_rt.nadvice - 1; i >= 0; i--)
		if (kite_rt.advice[i].start < end && kite_rt.advice[i].end > start)
			return kite_rt.advice[i].huge ? KITE_REG_HUGE : KITE_REG_NOHUGE;
	if (kite_rt.huge_pages && end - start >= KITE_HUGE_MIN)
		return KITE_REG_HUGE;
	return 0;
}

static long sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = rs_mmap(addr, len, prot, flags, fd, off);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return (long)MAP_FAILED;
	}
	if (kite_rt.nadvice) {
		lock();
		forget((uint64_t)r, ((uint64_t)r + len + 4095) & ~4095ull);
		unlock();
	}
	if (kite_rt.huge_pages && kite_rt.owner_pid && (flags & (MAP_ANONYMOUS | MAP_SHARED)) == MAP_ANONYMOUS &&
	    (prot & PROT_WRITE) && len >= KITE_HUGE_MIN)
		rs_call3(SYS_madvise, r, (long)len, MADV_HUGEPAGE);
	return r;
}

KITE_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)sys_mmap(addr, len, prot, flags, fd, off);
}

KITE_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)sys_mmap(addr, len, prot, flags, fd, off);
}

KITE_EXPORT int madvise(void *addr, size_t len, int advice)
{
	long r = rs_call3(SYS_madvise, (long)addr, (long)len, advice);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	if (advice == MADV_HUGEPAGE || advice == MADV_NOHUGEPAGE) {
		uint64_t s = (uint64_t)(uintptr_t)addr, e = (s + len + 4095) & ~4095ull;
		remember(s, e, advice == MADV_HUGEPAGE);
	}
	return 0;
}
