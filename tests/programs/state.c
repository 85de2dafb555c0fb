/* state: a zdtm-style test job for libckpt covering process state.
 *
 * Usage: state STEPS DELAY_MS WORKDIR
 * Sets up signal handlers, a blocked mask, an alternate signal stack, an
 * interval timer, umask, working directory, environment, __thread data,
 * files open for reading and writing at offsets, private and shared file
 * mappings, a dlopen'ed library, and AVX registers live across the wait;
 * then steps, printing one deterministic line per step, and verifies
 * everything at every step — so a restart that lost any of it fails —
 * including that rseq is registered again and sched_getcpu() tells the
 * truth, and that the vDSO's clock_gettime still works.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;

static volatile sig_atomic_t usr1_count, alarm_count, ptimer_count, ptimer_bad;
static __thread long tls_counter = 1000;
static char altstack[16384]; /* small: libckpt must not run its checkpoint on it */
static int failures;

#define CHECK(cond, ...)                                  \
	do {                                              \
		if (!(cond)) {                            \
			printf("FAIL: " __VA_ARGS__);     \
			printf("\n");                     \
			failures++;                       \
		}                                         \
	} while (0)

/* Runs on a small alternate stack and lingers there, so checkpoints often
 * arrive while the program is on it. */
static void on_usr1(int s)
{
	(void)s;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 2000000);
	usr1_count++;
}

static void on_alarm(int s)
{
	(void)s;
	alarm_count++;
}

static void on_ptimer(int s, siginfo_t *si, void *uc)
{
	(void)s;
	(void)uc;
	if (si->si_code != SI_TIMER || si->si_value.sival_int != 1234)
		ptimer_bad = 1;
	ptimer_count++;
}

/* Spin with known values in ymm8..ymm15; return 0 if they survived. */
static int avx_spin(long i, long iters)
{
	uint64_t in[4] = { 0x1111111111111111ull * (uint64_t)(i % 15 + 1), (uint64_t)i, ~(uint64_t)i, 0xdeadbeefcafef00dull };
	uint64_t out[8][4];
	__asm__ volatile("vmovdqu %[in], %%ymm8\n"
			 "vpaddq %%ymm8, %%ymm8, %%ymm9\n"
			 "vpaddq %%ymm9, %%ymm8, %%ymm10\n"
			 "vpxor %%ymm8, %%ymm10, %%ymm11\n"
			 "vmovdqa %%ymm8, %%ymm12\n"
			 "vmovdqa %%ymm9, %%ymm13\n"
			 "vmovdqa %%ymm10, %%ymm14\n"
			 "vmovdqa %%ymm11, %%ymm15\n"
			 "mov %[n], %%rcx\n"
			 "1: dec %%rcx\n"
			 "jnz 1b\n"
			 "vmovdqu %%ymm8, 0(%[o])\n"
			 "vmovdqu %%ymm9, 32(%[o])\n"
			 "vmovdqu %%ymm10, 64(%[o])\n"
			 "vmovdqu %%ymm11, 96(%[o])\n"
			 "vmovdqu %%ymm12, 128(%[o])\n"
			 "vmovdqu %%ymm13, 160(%[o])\n"
			 "vmovdqu %%ymm14, 192(%[o])\n"
			 "vmovdqu %%ymm15, 224(%[o])\n"
			 "vzeroupper\n"
			 :
			 : [in] "m"(in), [n] "r"(iters), [o] "r"(out)
			 : "rcx", "memory", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	for (int k = 0; k < 4; k++) {
		uint64_t a = in[k], b = 2 * a, c = 3 * a, d = c ^ a;
		if (out[0][k] != a || out[1][k] != b || out[2][k] != c || out[3][k] != d || out[4][k] != a ||
		    out[5][k] != b || out[6][k] != c || out[7][k] != d)
			return -1;
	}
	return 0;
}

static int rseq_registered(void)
{
	if (__rseq_size == 0)
		return 1; /* glibc did not register: nothing to check */
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;
	long r = syscall(SYS_rseq, area, 32, 0, 0x53053053);
	if (r == 0) {
		syscall(SYS_rseq, area, 32, 1 /* unregister */, 0x53053053);
		return 0;
	}
	return errno == EBUSY;
}

static int cpu_truthful(void)
{
	for (int k = 0; k < 50; k++) {
		unsigned cpu = 0;
		int a = sched_getcpu();
		syscall(SYS_getcpu, &cpu, NULL, NULL);
		int b = sched_getcpu();
		if (a == (int)cpu && b == (int)cpu)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: state STEPS DELAY_MS WORKDIR\n");
		return 2;
	}
	long steps = atol(argv[1]), delay = atol(argv[2]);
	const char *work = argv[3];
	if (chdir(work) < 0 || mkdir("sub", 0755) < 0 || chdir("sub") < 0) {
		perror("workdir");
		return 2;
	}
	char cwd0[4096];
	if (!getcwd(cwd0, sizeof cwd0))
		return 2;
	umask(027);
	setenv("STATE_TEST", "value-42", 1);
	/* CPU affinity (the last CPU) and a resource limit, as a job might set them */
	cpu_set_t aff0;
	CPU_ZERO(&aff0);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) - 1, &aff0);
	sched_setaffinity(0, sizeof aff0, &aff0);
	struct rlimit nofile = { 200, 4096 };
	getrlimit(RLIMIT_NOFILE, &nofile);
	nofile.rlim_cur = 200;
	setrlimit(RLIMIT_NOFILE, &nofile);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigaddset(&sa.sa_mask, SIGURG);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, NULL);
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
	sigaltstack(&ss, NULL);
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	/* a POSIX timer: must come back with its id, signal and value */
	sa.sa_sigaction = on_ptimer;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 1;
	sev.sigev_value.sival_int = 1234;
	timer_t ptimer;
	if (timer_create(CLOCK_MONOTONIC, &sev, &ptimer) < 0)
		return 2;
	struct itimerspec pit = { { 0, 15000000 }, { 0, 15000000 } };
	timer_settime(ptimer, 0, &pit, NULL);
	char cmdline0[4096];
	int cfd = open("/proc/self/cmdline", O_RDONLY);
	ssize_t clen0 = read(cfd, cmdline0, sizeof cmdline0);
	close(cfd);

	/* files */
	int ro_src = open("input.dat", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (int k = 0; k < 4096; k++) {
		unsigned char c = (unsigned char)(k * 7);
		if (write(ro_src, &c, 1) != 1)
			return 2;
	}
	close(ro_src);
	int ro = open("input.dat", O_RDONLY);
	int rw = open("records.dat", O_RDWR | O_CREAT | O_TRUNC, 0640);
	int lg = open("log.txt", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nul = open("/dev/null", O_WRONLY);
	if (ro < 0 || rw < 0 || lg < 0 || nul < 0)
		return 2;
	/* mappings */
	int mf = open("mapped.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (ftruncate(mf, 3 * 4096) < 0)
		return 2;
	unsigned char *priv = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, mf, 0);
	unsigned char *shared = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0);
	close(mf);
	if (priv == MAP_FAILED || shared == MAP_FAILED)
		return 2;
	memset(shared + 4096, 0x5a, 4096); /* in the file */
	memset(priv + 8192, 0xa5, 4096);   /* only in our private copy */
	void *libm = dlopen("libm.so.6", RTLD_NOW);
	double (*my_cos)(double) = libm ? (double (*)(double))dlsym(libm, "cos") : NULL;
	if (!my_cos)
		return 2;

	for (long i = 0; i < steps; i++) {
		/* state that must have survived */
		CHECK(tls_counter == 1000 + i, "tls %ld at step %ld", tls_counter, i);
		char cwd[4096];
		CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, cwd0) == 0, "cwd at step %ld", i);
		mode_t um = umask(027);
		CHECK(um == 027, "umask %o at step %ld", um, i);
		CHECK(getenv("STATE_TEST") && strcmp(getenv("STATE_TEST"), "value-42") == 0, "environment at step %ld", i);
		cpu_set_t aff;
		CHECK(sched_getaffinity(0, sizeof aff, &aff) == 0 && CPU_EQUAL(&aff, &aff0), "CPU affinity at step %ld", i);
		struct rlimit rl;
		CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 200 && rl.rlim_max == nofile.rlim_max,
		      "RLIMIT_NOFILE at step %ld", i);
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		CHECK(sigismember(&cur, SIGWINCH) && !sigismember(&cur, SIGUSR1), "signal mask at step %ld", i);
		struct sigaction q;
		sigaction(SIGUSR1, NULL, &q);
		CHECK(q.sa_handler == on_usr1 && (q.sa_flags & SA_ONSTACK) && sigismember(&q.sa_mask, SIGURG),
		      "SIGUSR1 action at step %ld", i);
		stack_t qs;
		sigaltstack(NULL, &qs);
		CHECK(qs.ss_sp == altstack && qs.ss_size == sizeof altstack, "altstack at step %ld", i);
		long before = usr1_count;
		raise(SIGUSR1);
		CHECK(usr1_count == before + 1, "raise(SIGUSR1) at step %ld", i);
		CHECK(getpid() == syscall(SYS_getpid), "getpid at step %ld", i);
		CHECK(rseq_registered(), "rseq not registered at step %ld", i);
		CHECK(cpu_truthful(), "sched_getcpu() disagrees with getcpu at step %ld", i);
		struct timespec t1, t2;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		clock_gettime(CLOCK_MONOTONIC, &t2);
		CHECK(t2.tv_sec > t1.tv_sec || (t2.tv_sec == t1.tv_sec && t2.tv_nsec >= t1.tv_nsec), "vdso clock");
		CHECK(time(NULL) > 1600000000, "time() at step %ld", i);
		unsigned char c;
		CHECK(read(ro, &c, 1) == 1 && c == (unsigned char)(i * 7), "read offset at step %ld", i);
		CHECK(lseek(ro, 0, SEEK_CUR) == i + 1, "ro offset at step %ld", i);
		CHECK(lseek(rw, 0, SEEK_CUR) == i * 16, "rw offset %ld at step %ld", (long)lseek(rw, 0, SEEK_CUR), i);
		CHECK(fcntl(lg, F_GETFD) == FD_CLOEXEC && (fcntl(lg, F_GETFL) & O_APPEND), "log fd flags at step %ld", i);
		CHECK(fcntl(nul, F_GETFL) >= 0, "/dev/null fd at step %ld", i);
		CHECK(shared[4096] == 0x5a && shared[8192] == 0 && priv[8192] == 0xa5 && priv[4096 + 17] == 0x5a,
		      "file mappings at step %ld", i);
		for (long k = 0; k < i; k++) {
			char rec[32];
			CHECK(pread(rw, rec, 16, k * 16) == 16, "records.dat short at step %ld", i);
			rec[16] = 0;
			char want[32];
			snprintf(want, sizeof want, "rec%012ld", k);
			CHECK(memcmp(rec, want, 16) == 0, "record %ld at step %ld", k, i);
		}
		CHECK(avx_spin(i, 20000000) == 0, "AVX registers at step %ld", i);
		struct itimerspec cur_pit;
		CHECK(timer_gettime(ptimer, &cur_pit) == 0 && cur_pit.it_interval.tv_nsec == 15000000,
		      "POSIX timer gone at step %ld", i);
		CHECK(!ptimer_bad, "POSIX timer signal without its value at step %ld", i);
		{
			char cl[4096];
			int fd = open("/proc/self/cmdline", O_RDONLY);
			ssize_t n = read(fd, cl, sizeof cl);
			close(fd);
			CHECK(n == clen0 && memcmp(cl, cmdline0, (size_t)n) == 0, "/proc/self/cmdline at step %ld", i);
		}
		void *grow = malloc(100000); /* brk still works */
		CHECK(grow != NULL, "malloc at step %ld", i);
		free(grow);
		if (failures)
			break;
		/* advance */
		char rec[32];
		snprintf(rec, sizeof rec, "rec%012ld", i);
		CHECK(write(rw, rec, 16) == 16, "write");
		dprintf(lg, "step %ld\n", i);
		tls_counter++;
		printf("step %ld cos %.9f\n", i, my_cos((double)i / 10.0));
		fflush(stdout);
		struct timespec ts = { delay / 1000, (delay % 1000) * 1000000 };
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
	}
	CHECK(alarm_count > 0, "interval timer never fired");
	{
		long before = ptimer_count;
		struct timespec ts = { 0, 100000000 };
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
		CHECK(ptimer_count > before, "POSIX timer no longer fires");
	}
	printf("%s: %ld steps\n", failures ? "FAIL" : "ok", steps);
	return failures ? 1 : 0;
}
