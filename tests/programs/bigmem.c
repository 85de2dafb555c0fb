/* bigmem: a large-memory job for libckpt tests and bench/ckpt.sh.
 *
 * Usage: [BIGMEM_ADVICE=huge|nohuge] bigmem MIB
 * Its memory is one mmap() and, like most programs, it gives no huge-page
 * advice of its own unless BIGMEM_ADVICE says so (under libckpt that
 * means libckpt's default: huge pages, docs/ckpt.md).
 * Fills MIB MiB with incompressible data, prints "ready", then spins
 * reading the clock and remembers the longest gap between two readings:
 * the pause a checkpoint costs the application.  Signals:
 *   SIGUSR1  print "gap_us N" (longest gap since the last report), reset
 *   SIGHUP   re-check the memory's checksum, print "verify ok" or "verify FAIL"
 *   SIGINT   dirty PCT percent of the pages (PCT from argv[2], default 1)
 *   SIGTERM  exit 0
 * In a restarted program, a libckpt restart callback (if libckpt is
 * present) prints "restarted_ns N" (CLOCK_REALTIME) on stderr.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int kite_ckpt_on_restart(void (*fn)(void *), void *arg) __attribute__((weak));

static volatile sig_atomic_t want_report, want_verify, want_dirty, want_exit;

static void on_sig(int s)
{
	if (s == SIGUSR1)
		want_report = 1;
	else if (s == SIGHUP)
		want_verify = 1;
	else if (s == SIGINT)
		want_dirty = 1;
	else
		want_exit = 1;
}

static void restarted(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char buf[64];
	int n = snprintf(buf, sizeof buf, "restarted_ns %lld\n", (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
	if (write(2, buf, (size_t)n) < 0)
		_exit(3);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t sum(const uint64_t *p, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
	int pct = argc > 2 ? atoi(argv[2]) : 1;
	size_t n = mib << 17;
	uint64_t *mem = mmap(NULL, n * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	const char *advice = getenv("BIGMEM_ADVICE");
	if (advice && strcmp(advice, "huge") == 0)
		madvise(mem, n * 8, MADV_HUGEPAGE);
	else if (advice && strcmp(advice, "nohuge") == 0)
		madvise(mem, n * 8, MADV_NOHUGEPAGE);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
	}
	uint64_t expect = sum(mem, n);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (kite_ckpt_on_restart)
		kite_ckpt_on_restart(restarted, NULL);
	printf("ready %zu MiB\n", mib);
	fflush(stdout);
	uint64_t last = now_ns(), maxgap = 0;
	while (!want_exit) {
		uint64_t t = now_ns();
		if (t - last > maxgap)
			maxgap = t - last;
		last = t;
		if (want_report) {
			want_report = 0;
			printf("gap_us %llu\n", (unsigned long long)(maxgap / 1000));
			fflush(stdout);
			maxgap = 0;
			last = now_ns();
		}
		if (want_verify) {
			want_verify = 0;
			printf("verify %s\n", sum(mem, n) == expect ? "ok" : "FAIL");
			fflush(stdout);
			last = now_ns();
		}
		if (want_dirty) {
			want_dirty = 0;
			size_t pages = n / 512, k = pages * (size_t)pct / 100;
			for (size_t i = 0; i < k; i++) {
				size_t pg = (i * 2654435761u) % pages;
				mem[pg * 512] += 1;
			}
			expect = sum(mem, n);
			printf("dirtied %zu pages\n", k);
			fflush(stdout);
			last = now_ns();
		}
	}
	return 0;
}
