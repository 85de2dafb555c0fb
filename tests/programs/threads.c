/* threads: a multi-threaded test job for libckpt.
 *
 * Usage: threads STEPS NTHREADS DELAY_MS
 * Workers and the main thread meet at a barrier twice per step; each
 * worker updates its slice of a shared array, its __thread state and a
 * mutex-protected total.  Every step the main thread pthread_kill()s each
 * worker (glibc uses its cached tid: it must be the new one after a
 * restart) and each worker checks sched_getcpu() against getcpu (its rseq
 * registration).  Output is deterministic; at the end all threads are
 * joined (CLONE_CHILD_CLEARTID must have been re-established) and the
 * state is recomputed and checked.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXT 16
#define SLICE 4096

static pthread_barrier_t b1, b2;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t total;
static uint64_t arr[MAXT * SLICE];
static volatile sig_atomic_t kicks[MAXT];
static __thread int my_index = -1;
static __thread uint64_t my_state;
static long steps;
static int nthreads;
static volatile int fails;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	return x;
}

static void on_usr1(int s)
{
	(void)s;
	if (my_index >= 0)
		kicks[my_index]++;
}

static int cpu_truthful(void)
{
	for (int k = 0; k < 50; k++) {
		unsigned cpu = 0;
		int a = sched_getcpu();
		syscall(SYS_getcpu, &cpu, NULL, NULL);
		if (a == (int)cpu)
			return 1;
	}
	return 0;
}

static void *worker(void *arg)
{
	my_index = (int)(long)arg;
	my_state = (uint64_t)my_index * 1000;
	for (long i = 0; i < steps; i++) {
		pthread_barrier_wait(&b1);
		for (int k = 0; k < SLICE; k++)
			arr[my_index * SLICE + k] = mix(arr[my_index * SLICE + k] + (uint64_t)i);
		my_state = mix(my_state + (uint64_t)i);
		pthread_mutex_lock(&mu);
		total += my_state & 0xffff;
		pthread_mutex_unlock(&mu);
		if (!cpu_truthful()) {
			printf("FAIL: thread %d: sched_getcpu() lies at step %ld\n", my_index, i);
			fails = 1;
		}
		pthread_barrier_wait(&b2);
	}
	return (void *)(uintptr_t)my_state;
}

int main(int argc, char **argv)
{
	steps = argc > 1 ? atol(argv[1]) : 50;
	nthreads = argc > 2 ? atoi(argv[2]) : 4;
	long delay = argc > 3 ? atol(argv[3]) : 10;
	if (nthreads < 1 || nthreads > MAXT)
		return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_barrier_init(&b1, NULL, (unsigned)nthreads + 1);
	pthread_barrier_init(&b2, NULL, (unsigned)nthreads + 1);
	pthread_t th[MAXT];
	for (int t = 0; t < nthreads; t++)
		pthread_create(&th[t], NULL, worker, (void *)(long)t);
	for (long i = 0; i < steps; i++) {
		pthread_barrier_wait(&b1);
		/* workers are busy with this step and alive: kick each one */
		for (int t = 0; t < nthreads; t++) {
			sig_atomic_t before = kicks[t];
			if (pthread_kill(th[t], SIGUSR1) != 0) {
				printf("FAIL: pthread_kill of thread %d at step %ld\n", t, i);
				fails = 1;
			}
			/* (10 s: a loaded machine may take a while to run it, more so in
			 * the middle of a checkpoint, which holds signals) */
			for (int w = 0; w < 20000 && kicks[t] == before; w++)
				usleep(500);
			if (kicks[t] == before) {
				printf("FAIL: thread %d never got its signal at step %ld\n", t, i);
				fails = 1;
			}
		}
		pthread_barrier_wait(&b2);
		uint64_t sum = 0;
		for (int k = 0; k < nthreads * SLICE; k++)
			sum = mix(sum + arr[k]);
		printf("step %ld sum %016llx total %llu\n", i, (unsigned long long)sum, (unsigned long long)total);
		fflush(stdout);
		if (fails)
			break;
		struct timespec ts = { delay / 1000, (delay % 1000) * 1000000 };
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
	}
	if (fails)
		_exit(1);
	for (int t = 0; t < nthreads; t++) {
		void *ret;
		pthread_join(th[t], &ret);
		uint64_t st = (uint64_t)t * 1000;
		for (long i = 0; i < steps; i++)
			st = mix(st + (uint64_t)i);
		if ((uint64_t)(uintptr_t)ret != st) {
			printf("FAIL: thread %d state differs\n", t);
			fails = 1;
		}
	}
	printf("%s: %ld steps, %d threads\n", fails ? "FAIL" : "ok", steps, nthreads);
	return fails;
}
