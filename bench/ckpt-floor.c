/* ckpt-floor: what this machine itself costs, measured beside libckpt's
 * figures in the same run of bench/ckpt.sh (so that load affects both).
 *
 *   ckpt-floor fork MIB RUNS [huge]
 *                              a bare fork() of a process that has just
 *                              written all of its MIB MiB of 4 KiB pages
 *                              (as a job has before a checkpoint), or of
 *                              2 MiB pages with `huge`: median ms
 *   ckpt-floor tmpfs DIR MIB   a process that filled MIB MiB of memory writes
 *                              it in 1 MiB writes into a new file in DIR,
 *                              then over the same file: ms each (what a
 *                              checkpoint child must at least do; on this
 *                              VM pages the host has not backed recently
 *                              cost several times more than warm ones)
 *   ckpt-floor cow MIB         after a fork, the parent writes every page
 *                              while the child lives (copy on write), and
 *                              after the child gave its pages back: us/page
 *   ckpt-floor tcp MIB         MIB MiB sent over loopback TCP (2 MiB writes
 *                              from one reused buffer) and received into
 *                              fresh memory in huge pages, a second thread
 *                              faulting them in ahead of the reader: ms
 *                              (what a restore from a checkpoint server
 *                              must at least do, bench/ckpt_server.sh)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int want_huge;

static char *touched(size_t mib)
{
	size_t len = mib << 20;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	madvise(m, len, want_huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (size_t i = 0; i < len; i += 4096)
		m[i] = (char)i | 1;
	return m;
}

static int bare_fork(size_t mib, int runs)
{
	char *m = touched(mib);
	double t[64];
	if (runs > 64)
		runs = 64;
	for (int r = 0; r < runs; r++) {
		for (size_t i = 0; i < mib << 20; i += 4096)
			m[i]++; /* the first fork of freshly written pages costs more */
		double s = now_ms();
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		t[r] = now_ms() - s;
		waitpid(p, NULL, 0);
	}
	qsort(t, (size_t)runs, sizeof t[0], cmp);
	printf("%.2f\n", t[(runs - 1) / 2]);
	return 0;
}

static double write_file(int fd, const char *mem, size_t mib)
{
	double s = now_ms();
	for (size_t i = 0; i < mib; i++)
		if (pwrite(fd, mem + (i << 20), 1 << 20, (off_t)(i << 20)) != 1 << 20) {
			perror("pwrite");
			exit(2);
		}
	fsync(fd);
	return now_ms() - s;
}

static int tmpfs(const char *dir, size_t mib)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/.ckpt-floor.tmp", dir);
	char *buf = touched(mib);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		return 2;
	}
	double fresh = write_file(fd, buf, mib);
	double over = write_file(fd, buf, mib);
	close(fd);
	unlink(path);
	printf("%.0f %.0f\n", fresh, over);
	return 0;
}

static int cow(size_t mib)
{
	char *m = touched(mib);
	size_t len = mib << 20, pages = len / 4096;
	double us[2];
	for (int drop = 0; drop < 2; drop++) {
		int go[2];
		if (pipe(go) < 0)
			return 2;
		pid_t p = fork();
		if (p == 0) {
			if (drop)
				madvise(m, len, MADV_DONTNEED);
			if (write(go[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		char c;
		if (read(go[0], &c, 1) != 1)
			return 2;
		double s = now_ms();
		for (size_t i = 0; i < len; i += 4096)
			m[i]++;
		us[drop] = (now_ms() - s) * 1000 / (double)pages;
		kill(p, 9);
		waitpid(p, NULL, 0);
		close(go[0]);
		close(go[1]);
	}
	printf("%.2f %.2f\n", us[0], us[1]);
	return 0;
}

static char *tcp_dst;
static size_t tcp_len;

static void *populate_ahead(void *arg)
{
	(void)arg;
	for (size_t o = 0; o < tcp_len; o += 2u << 20)
		madvise(tcp_dst + o, (2u << 20) < tcp_len - o ? (2u << 20) : tcp_len - o, 23 /* MADV_POPULATE_WRITE */);
	return NULL;
}

static int tcp(size_t mib)
{
	tcp_len = mib << 20;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		return 2;
	pid_t p = fork();
	if (p == 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		char *b = malloc(2u << 20);
		if (s < 0 || !b || connect(s, (struct sockaddr *)&a, sizeof a) < 0)
			_exit(1);
		memset(b, 0x5a, 2u << 20);
		for (size_t sent = 0; sent < tcp_len;) {
			ssize_t n = write(s, b, (2u << 20) < tcp_len - sent ? (2u << 20) : tcp_len - sent);
			if (n <= 0)
				_exit(1);
			sent += (size_t)n;
		}
		_exit(0);
	}
	int c = accept(ls, NULL, NULL);
	if (c < 0)
		return 2;
	double s = now_ms();
	tcp_dst = mmap(NULL, tcp_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tcp_dst == MAP_FAILED)
		return 2;
	madvise(tcp_dst, tcp_len, MADV_HUGEPAGE);
	pthread_t th;
	pthread_create(&th, NULL, populate_ahead, NULL);
	size_t got = 0;
	while (got < tcp_len) {
		ssize_t n = read(c, tcp_dst + got, (256u << 10) < tcp_len - got ? (256u << 10) : tcp_len - got);
		if (n <= 0)
			return 2;
		got += (size_t)n;
	}
	double ms = now_ms() - s;
	pthread_join(th, NULL);
	int st;
	waitpid(p, &st, 0);
	printf("%.0f\n", ms);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || (argc == 5 && strcmp(argv[4], "huge") == 0)) && strcmp(argv[1], "fork") == 0) {
		want_huge = argc == 5;
		return bare_fork(strtoul(argv[2], NULL, 10), atoi(argv[3]));
	}
	if (argc == 4 && strcmp(argv[1], "tmpfs") == 0)
		return tmpfs(argv[2], strtoul(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "cow") == 0)
		return cow(strtoul(argv[2], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "tcp") == 0)
		return tcp(strtoul(argv[2], NULL, 10));
	fprintf(stderr, "usage: ckpt-floor fork MIB RUNS [huge] | tmpfs DIR MIB | cow MIB | tcp MIB\n");
	return 2;
}
