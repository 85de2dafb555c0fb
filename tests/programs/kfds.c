/* kfds: a zdtm-style test job for libckpt's kernel-object descriptors:
 * an eventfd (and a dup of it), a second eventfd whose counter is never
 * read until the end, a signalfd for SIGUSR1, a periodic timerfd, and an
 * epoll instance watching the first three.
 *
 * Usage: kfds STEPS DELAY_MS [stale]
 * Each step writes 1 to the eventfd (through its dup) and to the
 * counting eventfd, raises SIGUSR1, and waits on the epoll instance until
 * it has seen the eventfd (which must hold exactly 1), the signalfd (which
 * must deliver SIGUSR1) and the timer (at least one expiration); then it
 * prints "step N ok".  At the end the counting eventfd must hold STEPS:
 * "total STEPS", "done".  Any mismatch prints "FAIL …" and exits 1.
 * With `stale`, the epoll instance also watches an eventfd whose number
 * was closed (a dup keeps it alive): libckpt must refuse to checkpoint. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 20;
	int delay = argc > 2 ? atoi(argv[2]) : 50;
	int stale = argc > 3 && strcmp(argv[3], "stale") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);

	int ev = eventfd(0, EFD_NONBLOCK);
	int ev_dup = dup(ev);
	int total = eventfd(0, EFD_NONBLOCK);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	int sfd = signalfd(-1, &usr1, SFD_NONBLOCK);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {{0, 20 * 1000000}, {0, 20 * 1000000}};
	int ep = epoll_create1(0);
	if (ev < 0 || ev_dup < 0 || total < 0 || sfd < 0 || tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
		die("setup");
	struct epoll_event e1 = {.events = EPOLLIN, .data.u64 = 1}, e2 = {.events = EPOLLIN, .data.u64 = 2},
			   e3 = {.events = EPOLLIN, .data.u64 = 3};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e1) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &e2) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e3) < 0)
		die("epoll_ctl");
	if (stale) {
		int gone = eventfd(0, 0);
		int keep = dup(gone);
		struct epoll_event e4 = {.events = EPOLLIN, .data.u64 = 4};
		if (keep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, gone, &e4) < 0)
			die("stale watch");
		close(gone);
	}

	for (int step = 1; step <= steps; step++) {
		uint64_t one = 1;
		if (write(ev_dup, &one, sizeof one) != sizeof one || write(total, &one, sizeof one) != sizeof one)
			die("eventfd write");
		raise(SIGUSR1);
		int seen_ev = 0, seen_sig = 0, seen_timer = 0;
		while (!(seen_ev && seen_sig && seen_timer)) {
			struct epoll_event out[4];
			int n = epoll_wait(ep, out, 4, 2000);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				printf("FAIL step %d: epoll_wait %s (eventfd %d, signal %d, timer %d)\n", step,
				       n < 0 ? strerror(errno) : "timed out", seen_ev, seen_sig, seen_timer);
				return 1;
			}
			for (int i = 0; i < n; i++) {
				uint64_t v;
				if (out[i].data.u64 == 1) {
					if (read(ev, &v, sizeof v) != sizeof v || v != 1) {
						printf("FAIL step %d: eventfd held %llu, not 1\n", step, (unsigned long long)v);
						return 1;
					}
					seen_ev = 1;
				} else if (out[i].data.u64 == 2) {
					if (read(tfd, &v, sizeof v) == sizeof v && v >= 1)
						seen_timer = 1;
				} else if (out[i].data.u64 == 3) {
					struct signalfd_siginfo si;
					if (read(sfd, &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR1) {
						printf("FAIL step %d: signalfd gave signal %u\n", step, si.ssi_signo);
						return 1;
					}
					seen_sig = 1;
				}
			}
		}
		printf("step %d ok\n", step);
		struct timespec d = {delay / 1000, (delay % 1000) * 1000000L};
		nanosleep(&d, NULL);
	}
	uint64_t sum = 0;
	if (read(total, &sum, sizeof sum) != sizeof sum || sum != (uint64_t)steps) {
		printf("FAIL total %llu, not %d\n", (unsigned long long)sum, steps);
		return 1;
	}
	printf("total %llu\ndone\n", (unsigned long long)sum);
	return 0;
}
