/* hugemem: a test job for libckpt's huge-page advice (docs/ckpt.md).
 *
 * Usage: hugemem
 * Makes four pieces of memory and fills them with a pattern:
 *   big     32 MiB mmap()ed by the program, no advice of its own
 *   heap    24 MiB from malloc() (glibc's own mmap inside)
 *   nohuge  16 MiB mmap()ed and madvise(MADV_NOHUGEPAGE)d by the program
 *   small   1 MiB mmap()ed
 * prints "NAME ADDRESS" for each and "ready", then waits for signals
 * (after a restart by libckpt it prints "restarted" first):
 *   SIGHUP   check every byte, print "verify ok" or "verify FAIL NAME"
 *   SIGTERM  exit 0
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t want_verify, want_exit;

int kite_ckpt_on_restart(void (*fn)(void *), void *arg) __attribute__((weak));

static void restarted(void *arg)
{
	(void)arg;
	if (write(1, "restarted\n", 10) != 10)
		_exit(3);
}

static void on_sig(int s)
{
	if (s == SIGHUP)
		want_verify = 1;
	else
		want_exit = 1;
}

static struct {
	const char *name;
	size_t len;
	unsigned char *p;
} piece[] = { { "big", 32u << 20, NULL }, { "heap", 24u << 20, NULL }, { "nohuge", 16u << 20, NULL },
	      { "small", 1u << 20, NULL } };

static unsigned char pattern(size_t k, size_t i)
{
	return (unsigned char)(i * 2654435761u >> 13) ^ (unsigned char)k;
}

static void *anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

int main(void)
{
	piece[0].p = anon(piece[0].len);
	piece[1].p = malloc(piece[1].len);
	piece[2].p = anon(piece[2].len);
	madvise(piece[2].p, piece[2].len, MADV_NOHUGEPAGE);
	piece[3].p = anon(piece[3].len);
	if (!piece[1].p)
		return 2;
	for (size_t k = 0; k < 4; k++) {
		for (size_t i = 0; i < piece[k].len; i++)
			piece[k].p[i] = pattern(k, i);
		printf("%s %p\n", piece[k].name, (void *)piece[k].p);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (kite_ckpt_on_restart)
		kite_ckpt_on_restart(restarted, NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (want_exit)
			return 0;
		if (want_verify) {
			want_verify = 0;
			const char *bad = NULL;
			for (size_t k = 0; k < 4 && !bad; k++)
				for (size_t i = 0; i < piece[k].len; i++)
					if (piece[k].p[i] != pattern(k, i)) {
						bad = piece[k].name;
						break;
					}
			if (bad)
				printf("verify FAIL %s\n", bad);
			else
				printf("verify ok\n");
			fflush(stdout);
		}
		usleep(2000);
	}
}
