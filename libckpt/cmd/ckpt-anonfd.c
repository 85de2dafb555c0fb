/* eventfd, timerfd, signalfd and epoll descriptors created again at a
 * restart from the kernel's description of them at the checkpoint (the
 * /proc/self/fdinfo text libckpt/runtime/rt-anonfd.c kept):
 *   eventfd   the counter (and semaphore mode);
 *   timerfd   the clock, the time left and the interval; expirations not
 *             yet read make it expire again at once (one, not their count);
 *   signalfd  the signal mask;
 *   epoll     each watch (descriptor number, events, data), added once
 *             every other descriptor is back at its number.
 * Blocking mode and close-on-exec come from the image's flags. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "libckpt/cmd/ckpt-image.h"
#include "libckpt/cmd/ckpt.h"

/* The value after "@key:" on a line of @text. */
static const char *field(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ':')
			return p + n + 1;
	return NULL;
}

static int bad(GError **error, const KiteImageFd *f, const char *what)
{
	g_set_error(error, KITE_CKPT_ERROR, 1, "fd %d (%s): %s in the image", f->f.fd,
		    f->f.kind == KITE_FD_EVENTFD    ? "eventfd"
		    : f->f.kind == KITE_FD_TIMERFD  ? "timerfd"
		    : f->f.kind == KITE_FD_SIGNALFD ? "signalfd"
						    : "epoll",
		    what);
	return -1;
}

static int fail_errno(GError **error, const KiteImageFd *f, const char *call)
{
	g_set_error(error, KITE_CKPT_ERROR, 1, "fd %d: %s: %s", f->f.fd, call, g_strerror(errno));
	return -1;
}

static int make_eventfd(const KiteImageFd *f, gboolean nonblock, GError **error)
{
	const char *c = field(f->path, "eventfd-count");
	if (!c)
		return bad(error, f, "no eventfd-count");
	guint64 count = g_ascii_strtoull(c, NULL, 16);
	const char *sem = field(f->path, "eventfd-semaphore");
	int flags = (nonblock ? EFD_NONBLOCK : 0) | (sem && g_ascii_strtoull(sem, NULL, 10) ? EFD_SEMAPHORE : 0);
	int fd = eventfd(0, flags);
	if (fd < 0)
		return fail_errno(error, f, "eventfd");
	if (count && write(fd, &count, sizeof count) != sizeof count) {
		close(fd);
		return fail_errno(error, f, "write to eventfd");
	}
	return fd;
}

/* "(sec, nsec)" */
static gboolean parse_pair(const char *s, struct timespec *ts)
{
	long long a, b;
	if (!s || sscanf(s, " (%lld, %lld)", &a, &b) != 2 || a < 0 || b < 0 || b >= 1000000000)
		return FALSE;
	ts->tv_sec = (time_t)a;
	ts->tv_nsec = (long)b;
	return TRUE;
}

static int make_timerfd(const KiteImageFd *f, gboolean nonblock, GError **error)
{
	const char *clk = field(f->path, "clockid"), *ticks = field(f->path, "ticks");
	struct itimerspec its;
	if (!clk || !ticks || !parse_pair(field(f->path, "it_value"), &its.it_value) ||
	    !parse_pair(field(f->path, "it_interval"), &its.it_interval))
		return bad(error, f, "no clockid, ticks, it_value or it_interval");
	int fd = timerfd_create((int)g_ascii_strtoll(clk, NULL, 10), nonblock ? TFD_NONBLOCK : 0);
	if (fd < 0)
		return fail_errno(error, f, "timerfd_create");
	/* the time left runs on from the restart; unread expirations make
	 * it expire at once */
	if (g_ascii_strtoull(ticks, NULL, 10) > 0) {
		its.it_value.tv_sec = 0;
		its.it_value.tv_nsec = 1;
	}
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return fail_errno(error, f, "timerfd_settime");
	}
	return fd;
}

static int make_signalfd(const KiteImageFd *f, gboolean nonblock, GError **error)
{
	const char *m = field(f->path, "sigmask");
	if (!m)
		return bad(error, f, "no sigmask");
	guint64 mask = g_ascii_strtoull(m, NULL, 16);
	sigset_t set;
	sigemptyset(&set);
	for (int sig = 1; sig <= 64; sig++)
		if (mask & (1ull << (sig - 1)))
			sigaddset(&set, sig);
	int fd = signalfd(-1, &set, nonblock ? SFD_NONBLOCK : 0);
	return fd < 0 ? fail_errno(error, f, "signalfd") : fd;
}

static int make_epoll(const KiteImageFd *f, GError **error)
{
	int fd = epoll_create1(0);
	if (fd < 0)
		return fail_errno(error, f, "epoll_create1");
	for (const char *p = f->path; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		int tfd;
		unsigned int events;
		unsigned long long data;
		if (strncmp(p, "tfd:", 4) != 0)
			continue;
		if (sscanf(p, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3) {
			close(fd);
			return bad(error, f, "a watch that cannot be read");
		}
		struct epoll_event ev = {.events = events, .data.u64 = data};
		if (epoll_ctl(fd, EPOLL_CTL_ADD, tfd, &ev) < 0) {
			int e = errno;
			close(fd);
			g_set_error(error, KITE_CKPT_ERROR, 1, "fd %d: cannot watch fd %d again: %s", f->f.fd, tfd,
				    g_strerror(e));
			return -1;
		}
	}
	return fd;
}

int kite_ckpt_anonfd_create(const KiteImageFd *f, GError **error)
{
	gboolean nonblock = (f->f.open_flags & O_NONBLOCK) != 0;
	switch (f->f.kind) {
	case KITE_FD_EVENTFD:
		return make_eventfd(f, nonblock, error);
	case KITE_FD_TIMERFD:
		return make_timerfd(f, nonblock, error);
	case KITE_FD_SIGNALFD:
		return make_signalfd(f, nonblock, error);
	case KITE_FD_EPOLL:
		return make_epoll(f, error);
	default:
		g_set_error(error, KITE_CKPT_ERROR, 1, "fd %d: unknown kind %u", f->f.fd, f->f.kind);
		return -1;
	}
}
