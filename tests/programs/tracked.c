/* tracked: a job for libckpt's dirty-page tracking (test-ckpt-tracking.sh).
 *
 * tracked steps DATAFILE
 *   Changes its memory in the ways write-protect tracking must see, one
 *   step per SIGUSR1, and after each prints "step N sums …" (a checksum of
 *   every region it owns).  SIGHUP prints "check sums …" for the current
 *   state (compare with the step line after a restart); SIGTERM exits.
 *     1  read() DATAFILE into the middle of region A (the kernel writes
 *        tracked pages) and pread() into a heap buffer
 *     2  mmap a new region B and fill it
 *     3  grow the heap with sbrk() and fill the new part
 *     4  munmap the middle of A, map a new region C there with MAP_FIXED
 *     5  MADV_DONTNEED half of B (zeros again); change one page of the heap
 *     6  read() DATAFILE into B's dropped half and into brk memory
 *     7  close every descriptor above 2 (libckpt's tracking ones too, as
 *        daemons do) and change a heap page
 *
 * tracked churn MIB US
 *   Rewrites MIB MiB page by page for ever (a generation number in every
 *   word), pausing about US microseconds after each page, so that
 *   checkpoints land while it writes.  SIGHUP checks that memory is what
 *   an uninterrupted run has at some instant — pages [0,k) of generation
 *   g, the rest of g-1 — and prints "churn ok" or "churn FAIL …".
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG 4096ul
static volatile sig_atomic_t want_step, want_check, want_exit;

static void on_sig(int s)
{
	if (s == SIGUSR1)
		want_step++;
	else if (s == SIGHUP)
		want_check = 1;
	else
		want_exit = 1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	return h;
}

static void fill(char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (char)(x >> 24);
	}
}

#define A_SIZE (4ul << 20)
#define B_SIZE (2ul << 20)
#define BRK_SIZE (1ul << 20)
#define HEAP_SIZE (1ul << 20)

static char *a, *b, *c, *brkmem, *heap;
static int step;

static void sums(const char *what)
{
	uint64_t h = 14695981039346656037ull;
	printf("%s", what);
	if (step < 4)
		printf(" A %016llx", (unsigned long long)fnv(h, a, A_SIZE));
	else
		printf(" A %016llx", (unsigned long long)fnv(fnv(h, a, A_SIZE / 4), a + 3 * A_SIZE / 4, A_SIZE / 4));
	printf(" heap %016llx", (unsigned long long)fnv(h, heap, HEAP_SIZE));
	if (step >= 2)
		printf(" B %016llx", (unsigned long long)fnv(h, b, B_SIZE));
	if (step >= 3)
		printf(" brk %016llx", (unsigned long long)fnv(h, brkmem, BRK_SIZE));
	if (step >= 4)
		printf(" C %016llx", (unsigned long long)fnv(h, c, A_SIZE / 2));
	printf("\n");
	fflush(stdout);
}

static void read_into(const char *path, char *dst, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, dst, n) != (ssize_t)n) {
		printf("read of %s into %p failed\n", path, (void *)dst);
		exit(3);
	}
	close(fd);
}

static int run_steps(const char *data)
{
	a = mmap(NULL, A_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	heap = malloc(HEAP_SIZE);
	if (a == MAP_FAILED || !heap)
		return 2;
	fill(a, A_SIZE, 1);
	fill(heap, HEAP_SIZE, 2);
	printf("ready\n");
	sums("step 0 sums");
	while (!want_exit) {
		if (want_check) {
			want_check = 0;
			sums("check sums");
		}
		if (!want_step) {
			usleep(1000);
			continue;
		}
		want_step--;
		step++;
		if (step == 1) {
			read_into(data, a + A_SIZE / 2 + 123, 100000);
			int fd = open(data, O_RDONLY);
			if (fd < 0 || pread(fd, heap + 5000, 30000, 7) != 30000)
				return 3;
			close(fd);
		} else if (step == 2) {
			b = mmap(NULL, B_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (b == MAP_FAILED)
				return 2;
			fill(b, B_SIZE, 3);
		} else if (step == 3) {
			brkmem = sbrk(BRK_SIZE);
			if (brkmem == (void *)-1)
				return 2;
			fill(brkmem, BRK_SIZE, 4);
		} else if (step == 4) {
			munmap(a + A_SIZE / 4, A_SIZE / 2);
			c = mmap(a + A_SIZE / 4, A_SIZE / 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				 -1, 0);
			if (c == MAP_FAILED)
				return 2;
			fill(c + PG, A_SIZE / 2 - 2 * PG, 5); /* first and last pages stay zero */
		} else if (step == 5) {
			madvise(b, B_SIZE / 2, MADV_DONTNEED);
			heap[HEAP_SIZE / 2] ^= 0x5a;
		} else if (step == 6) {
			read_into(data, b + 3 * PG + 17, 50000);
			read_into(data, brkmem + 10, 70000);
		} else if (step == 7) {
			closefrom(3);
			heap[HEAP_SIZE / 3] ^= 0x33;
		}
		char what[32];
		snprintf(what, sizeof what, "step %d sums", step);
		sums(what);
	}
	return 0;
}

static uint64_t word(uint64_t gen, size_t page, size_t j)
{
	return (gen << 40) ^ ((uint64_t)page << 12) ^ (j * 0x9e3779b97f4a7c15ull);
}

static int run_churn(size_t mib, long us)
{
	size_t npages = mib << 8;
	uint64_t *m = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 2;
	for (size_t p = 0; p < npages; p++)
		for (size_t j = 0; j < PG / 8; j++)
			m[p * PG / 8 + j] = word(0, p, j);
	printf("ready\n");
	fflush(stdout);
	struct timespec pause = { 0, us * 1000 };
	for (uint64_t gen = 1; !want_exit; gen++)
		for (size_t p = 0; p < npages && !want_exit; p++) {
			for (size_t j = 0; j < PG / 8; j++)
				m[p * PG / 8 + j] = word(gen, p, j);
			if (us)
				nanosleep(&pause, NULL);
			if (!want_check)
				continue;
			want_check = 0;
			/* pages [0, p] are of gen, the others of gen - 1 */
			size_t bad = 0, first = 0;
			for (size_t q = 0; q < npages; q++) {
				uint64_t g = q <= p ? gen : gen - 1;
				for (size_t j = 0; j < PG / 8; j++)
					if (m[q * PG / 8 + j] != word(g, q, j)) {
						if (!bad++)
							first = q;
						break;
					}
			}
			if (bad)
				printf("churn FAIL: %zu pages wrong, first %zu (gen %llu, at page %zu)\n", bad, first,
				       (unsigned long long)gen, p);
			else
				printf("churn ok gen %llu page %zu\n", (unsigned long long)gen, p);
			fflush(stdout);
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (argc == 3 && strcmp(argv[1], "steps") == 0)
		return run_steps(argv[2]);
	if (argc == 4 && strcmp(argv[1], "churn") == 0)
		return run_churn(strtoul(argv[2], NULL, 10), atol(argv[3]));
	fprintf(stderr, "usage: tracked steps DATAFILE | tracked churn MIB US\n");
	return 2;
}
