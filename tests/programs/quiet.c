/* quiet: the checkpoint child must be invisible to the program.
 *
 * Usage: quiet STEPS DELAY_MS [threads]
 * Counts SIGCHLD and checks at every step that none arrived and that
 * wait() has nothing to reap, while checkpoints (periodic ones from
 * `ckpt run --interval`, or requested) fork children behind its back.
 * With "threads" it starts a second, idle thread first; with "blocking"
 * that thread blocks SIGUSR2 (libckpt must then refuse to checkpoint, with
 * a message, and the program must carry on); with "steal" the program
 * tries to take SIGUSR2 and SIGTSTP for itself.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t chld;

static void on_chld(int s)
{
	(void)s;
	chld++;
}

static void *idle(void *arg)
{
	if (arg) {
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGUSR2);
		sigaddset(&m, SIGRTMAX - 1); /* libckpt's queued signal */
		pthread_sigmask(SIG_BLOCK, &m, NULL);
	}
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : 50, delay = argc > 2 ? atol(argv[2]) : 20;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	if (argc > 3 && strcmp(argv[3], "steal") == 0) {
		signal(SIGUSR2, SIG_IGN);
		struct sigaction ign;
		memset(&ign, 0, sizeof ign);
		ign.sa_handler = SIG_IGN;
		sigaction(SIGTSTP, &ign, NULL);
	}
	if (argc > 3 && (strcmp(argv[3], "threads") == 0 || strcmp(argv[3], "blocking") == 0)) {
		pthread_t t;
		pthread_create(&t, NULL, idle, strcmp(argv[3], "blocking") == 0 ? (void *)1 : NULL);
	}
	int bad = 0;
	for (long i = 0; i < steps; i++) {
		int st;
		pid_t r = waitpid(-1, &st, WNOHANG);
		if (chld || r != -1 || errno != ECHILD) {
			printf("FAIL: step %ld: saw a child (SIGCHLD %d, waitpid %d)\n", i, (int)chld, (int)r);
			bad = 1;
			break;
		}
		printf("step %ld\n", i);
		fflush(stdout);
		struct timespec ts = { delay / 1000, (delay % 1000) * 1000000 };
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
	}
	printf("%s: %ld steps\n", bad ? "FAIL" : "ok", steps);
	return bad;
}
