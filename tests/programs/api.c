/* api: a test job for the C API in kite/ckpt.h (relinked with ckpt-cc).
 *
 * Usage: api STEPS
 * At step 10 it calls kite_ckpt_now(), at step 20 kite_ckpt_exit() (the
 * process ends with status 85 once the image is committed).  Restarted
 * from either image it learns so from the return value, its restart
 * callback has run, and a 1 MiB buffer it excluded from images reads as
 * zeros.  A checkpoint requested inside a critical section waits for the
 * end of the section.  stdout is deterministic; API results go to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kite/ckpt.h"

static volatile int restarted_cb;
static char *excluded;
#define EXCL (1 << 20)

static void on_restart(void *arg)
{
	restarted_cb += (int)(long)arg;
}

static int status_seq(void)
{
	const char *dir = getenv("KITE_CKPT_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/status", dir ? dir : "kite-ckpt");
	FILE *f = fopen(path, "r");
	int seq = 0;
	if (f) {
		if (fscanf(f, "seq %d", &seq) != 1)
			seq = 0;
		fclose(f);
	}
	return seq;
}

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : 30;
	if (!kite_ckpt_is_active()) {
		printf("FAIL: libckpt is not active\n");
		return 1;
	}
	excluded = mmap(NULL, EXCL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(excluded, 0xab, EXCL);
	if (kite_ckpt_exclude(excluded, EXCL) != 0 || kite_ckpt_on_restart(on_restart, (void *)1L) != 0) {
		printf("FAIL: exclude/on_restart\n");
		return 1;
	}
	int was_restarted = 0, fails = 0;
	for (long i = 0; i < steps; i++) {
		if (i == 5) {
			int before = status_seq();
			kite_ckpt_critical_enter();
			raise(SIGUSR2);
			usleep(100000);
			int inside = status_seq();
			kite_ckpt_critical_leave();
			/* the deferred checkpoint ran at leave (its child may still write) */
			for (int k = 0; k < 500 && status_seq() == inside; k++)
				usleep(10000);
			if (inside != before || status_seq() != before + 1) {
				printf("FAIL: critical section: seq %d before, %d inside, %d after\n", before, inside,
				       status_seq());
				fails++;
			}
		}
		int rc = 0;
		if (i == 10)
			rc = kite_ckpt_now();
		if (i == 20)
			rc = kite_ckpt_exit(); /* returns only when restarted (or on failure) */
		if (i == 10 || i == 20) {
			fprintf(stderr, "api step %ld: %s returned %d\n", i, i == 10 ? "kite_ckpt_now" : "kite_ckpt_exit", rc);
			if (rc == KITE_CKPT_RESTARTED)
				was_restarted = 1;
			else if (rc != KITE_CKPT_CONTINUED || i == 20) {
				printf("FAIL: step %ld: unexpected %d\n", i, rc);
				fails++;
			}
		}
		if (was_restarted) {
			if (restarted_cb < 1) {
				printf("FAIL: restart callback did not run\n");
				fails++;
			}
			for (size_t k = 0; k < EXCL; k += 4096)
				if (excluded[k]) {
					printf("FAIL: excluded memory came back\n");
					fails++;
					break;
				}
		}
		printf("step %ld\n", i);
		fflush(stdout);
		usleep(5000);
		if (fails)
			break;
	}
	printf("%s: %ld steps%s\n", fails ? "FAIL" : "ok", steps, "");
	return fails ? 1 : 0;
}
