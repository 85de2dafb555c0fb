/* counter: a zdtm-style test job for libckpt.
 *
 * Usage: counter [STEPS [DELAY_MS [--nofflush]]]
 * Keeps state in every kind of memory — heap (malloc, small and large),
 * an anonymous mmap, a deep stack of recursive frames, .data/.bss,
 * __thread variables, x87/SSE/AVX registers — updates it deterministically
 * one step at a time, prints one line per step, and at the end recomputes
 * everything from scratch and checks it.  Output is the same whether or
 * not the run was checkpointed, killed and restarted in between.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define HEAP_WORDS (1 << 17) /* 1 MiB */
#define MAP_WORDS (1 << 19)  /* 4 MiB */

static uint64_t data_var = 0x1234; /* .data */
static uint64_t bss_arr[512];      /* .bss */
static __thread uint64_t tls_var = 7;
static __thread uint64_t tls_bss;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* Recursion keeps part of the state on the stack across the whole run. */
struct ctx {
	long steps, delay;
	int flush;
	uint64_t *heap, *map;
	char **small;
	double fp;
};

static uint64_t step_state(struct ctx *c, long i)
{
	uint64_t h = mix((uint64_t)i + data_var);
	c->heap[(h >> 7) % HEAP_WORDS] += h;
	c->map[(h >> 17) % MAP_WORDS] ^= h;
	bss_arr[i % 512] += h;
	data_var = mix(data_var + (uint64_t)i);
	tls_var = mix(tls_var ^ h);
	tls_bss += (uint64_t)i;
	snprintf(c->small[i % 64], 32, "s%ld-%llx", i, (unsigned long long)(h & 0xffff));
	c->fp = c->fp * 1.0000001 + (double)(h & 0xff) / 7.0;
	uint64_t sum = data_var ^ tls_var ^ tls_bss;
	for (int k = 0; k < 64; k++)
		sum = mix(sum + (unsigned char)c->small[k][1]);
	return sum;
}

static int run(struct ctx *c, long i, uint64_t depth_token);

static int recurse(struct ctx *c, long i, int depth, uint64_t token)
{
	volatile uint64_t frame[32];
	for (int k = 0; k < 32; k++)
		frame[k] = token + (uint64_t)k * (uint64_t)depth;
	int rc;
	if (depth > 0)
		rc = recurse(c, i, depth - 1, mix(token));
	else
		rc = run(c, i, token);
	for (int k = 0; k < 32; k++)
		if (frame[k] != token + (uint64_t)k * (uint64_t)depth) {
			printf("FAIL: stack frame at depth %d corrupted\n", depth);
			return 1;
		}
	return rc;
}

static int run(struct ctx *c, long i0, uint64_t token)
{
	/* SSE/AVX register state across the sleep (and so across a checkpoint) */
	register double x0 = 1.5, x1 = 2.25;
	for (long i = i0; i < c->steps; i++) {
		uint64_t s = step_state(c, i);
		x0 = x0 * 1.0000003 + 0.5;
		x1 = x1 - x0 / 1024.0;
		printf("step %ld sum %016llx fp %.6f x %.6f tok %llx\n", i, (unsigned long long)s, c->fp, x0 + x1,
		       (unsigned long long)(token & 0xffff));
		if (c->flush)
			fflush(stdout);
		nap(c->delay);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { argc > 1 ? atol(argv[1]) : 100, argc > 2 ? atol(argv[2]) : 20, 1, 0, 0, 0, 1.0 };
	if (argc > 3 && strcmp(argv[3], "--nofflush") == 0)
		c.flush = 0;
	c.heap = calloc(HEAP_WORDS, sizeof(uint64_t));
	c.map = mmap(NULL, MAP_WORDS * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c.small = malloc(64 * sizeof(char *));
	for (int k = 0; k < 64; k++) {
		c.small[k] = malloc(32);
		snprintf(c.small[k], 32, "init%d", k);
	}
	if (!c.heap || c.map == MAP_FAILED) {
		perror("alloc");
		return 2;
	}
	int rc = recurse(&c, 0, 200, 0xabcdef);
	/* verify: recompute from scratch */
	uint64_t *heap2 = calloc(HEAP_WORDS, sizeof(uint64_t));
	uint64_t *map2 = calloc(MAP_WORDS, sizeof(uint64_t));
	uint64_t dv = 0x1234;
	for (long i = 0; i < c.steps; i++) {
		uint64_t h = mix((uint64_t)i + dv);
		heap2[(h >> 7) % HEAP_WORDS] += h;
		map2[(h >> 17) % MAP_WORDS] ^= h;
		dv = mix(dv + (uint64_t)i);
	}
	if (memcmp(heap2, c.heap, HEAP_WORDS * 8) || memcmp(map2, c.map, MAP_WORDS * 8) || dv != data_var) {
		printf("FAIL: memory state differs from a recomputation\n");
		rc = 1;
	}
	printf("%s: %ld steps\n", rc ? "FAIL" : "ok", c.steps);
	return rc;
}
