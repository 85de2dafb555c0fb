/* phases: a test job that leaves closed files behind as it goes.
 *
 * Usage: phases [STEPS [DELAY_MS]]
 * Prints one line per step; every tenth step writes phase-STEP.txt in its
 * working directory and closes it.  At the end it reads every phase file
 * back and checks it: a job moved to another machine mid-run must find the
 * files it wrote (and closed) before, though no descriptor holds them and
 * so no checkpoint image does.  Exit 0 and "ok: …" when all are there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void phase_name(char *buf, size_t size, int step)
{
	snprintf(buf, size, "phase-%d.txt", step);
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 50;
	long delay = argc > 2 ? atol(argv[2]) : 100;
	for (int i = 0; i < steps; i++) {
		printf("step %d\n", i);
		fflush(stdout);
		if (i % 10 == 0) {
			char name[64];
			phase_name(name, sizeof name, i);
			FILE *f = fopen(name, "w");
			if (!f || fprintf(f, "phase %d of %d\n", i, steps) < 0 || fclose(f) != 0) {
				fprintf(stderr, "cannot write %s: %s\n", name, strerror(errno));
				return 2;
			}
		}
		nap(delay);
	}
	int found = 0;
	for (int i = 0; i < steps; i += 10) {
		char name[64], line[128], want[128];
		phase_name(name, sizeof name, i);
		snprintf(want, sizeof want, "phase %d of %d\n", i, steps);
		FILE *f = fopen(name, "r");
		if (!f || !fgets(line, sizeof line, f) || strcmp(line, want) != 0) {
			fprintf(stderr, "%s is missing or wrong\n", name);
			return 1;
		}
		fclose(f);
		found++;
	}
	printf("ok: %d steps, %d phase files\n", steps, found);
	return 0;
}
