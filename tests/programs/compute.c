/* compute: a memory-bound job for bench/ckpt.sh — passes over MIB MiB,
 * updating every element; prints its own run time, its CPU time and that
 * of its (reaped) children — libckpt's checkpoint children, when run
 * under `ckpt run`.
 * Usage: compute MIB PASSES */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
	int passes = argc > 2 ? atoi(argv[2]) : 20;
	size_t n = mib << 17;
	uint64_t *a = mmap(NULL, n * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return 2;
	madvise(a, n * 8, MADV_NOHUGEPAGE);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t s = 1;
	for (int p = 0; p < passes; p++)
		for (size_t i = 0; i < n; i++) {
			a[i] = a[i] * 6364136223846793005ull + s;
			s += a[i] >> 60;
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct rusage self, children;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
#define CPU(r) ((double)(r).ru_utime.tv_sec + (double)(r).ru_stime.tv_sec + \
		((double)(r).ru_utime.tv_usec + (double)(r).ru_stime.tv_usec) / 1e6)
	printf("elapsed_s %.3f sum %llu cpu_s %.3f children_cpu_s %.3f\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, (unsigned long long)s, CPU(self),
	       CPU(children));
	return 0;
}
