/* Kernel objects behind descriptors that a restart can create again from
 * their state: eventfd, timerfd, signalfd and epoll (KITE_FD_EVENTFD …).
 *
 * Part of the checkpoint handler (the job's pause): ASYNC-SIGNAL-SAFE,
 * raw system calls only.  The state is the kernel's own description of
 * the descriptor, /proc/self/fdinfo/N, kept as the descriptor's "path" in
 * the image; `ckpt restart` parses it (libckpt/cmd/ckpt-anonfd.c).  An
 * epoll instance is saved only if every descriptor it watches is still
 * open under the number it was added with (the kernel lists watches by
 * that number and the inode): a restart adds the watches by number. */
#include <fcntl.h>
#include <sys/stat.h>

#include "libckpt/raw-syscall.h"
#include "libckpt/runtime/rt.h"

static const struct {
	const char *link;
	uint32_t kind;
} anon_kinds[] = {
    {"anon_inode:[eventfd]", KITE_FD_EVENTFD},
    {"anon_inode:[timerfd]", KITE_FD_TIMERFD},
    {"anon_inode:[signalfd]", KITE_FD_SIGNALFD},
    {"anon_inode:[eventpoll]", KITE_FD_EPOLL},
};

uint32_t kite_rt_anonfd_kind(const char *link)
{
	for (size_t i = 0; i < sizeof anon_kinds / sizeof anon_kinds[0]; i++)
		if (rs_streq(link, anon_kinds[i].link))
			return anon_kinds[i].kind;
	return 0;
}

/* The watches of an epoll instance's fdinfo text: each "tfd: N … ino:I"
 * must name descriptor N of the program with inode I.  Returns 0, or the
 * first watched number that does not in *bad_fd. */
static int check_watches(const char *text, int *bad_fd)
{
	for (const char *p = text; *p;) {
		if (rs_startswith(p, "tfd:")) {
			const char *q = p + 4;
			while (*q == ' ' || *q == '\t')
				q++;
			int tfd = (int)rs_parse_dec(&q);
			uint64_t ino = 0;
			for (const char *r = q; *r && *r != '\n'; r++)
				if (rs_startswith(r, "ino:")) {
					r += 4;
					ino = rs_parse_hex(&r);
					break;
				}
			struct stat st;
			if (rs_fstat(tfd, &st) < 0 || st.st_ino != ino) {
				*bad_fd = tfd;
				return -1;
			}
		}
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
	}
	return 0;
}

/* kite_rt.errmsg = "fd FD" + what + (errno) */
static void fail(int fd, const char *what, long err)
{
	RsStr s = {kite_rt.errmsg, 0, sizeof kite_rt.errmsg};
	rs_str_add(&s, "fd ");
	rs_str_num(&s, fd);
	rs_str_add(&s, what);
	if (err < 0) {
		rs_str_add(&s, " (errno ");
		rs_str_num(&s, -err);
		rs_str_add(&s, ")");
	}
}

int kite_rt_anonfd_save(int fd, uint32_t kind, char *text, size_t cap, uint32_t *out_len)
{
	char name[64];
	RsStr n = {name, 0, sizeof name};
	rs_str_add(&n, "/proc/self/fdinfo/");
	rs_str_num(&n, fd);
	int in = (int)rs_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (in < 0) {
		fail(fd, ": cannot read its /proc/self/fdinfo", in);
		return -1;
	}
	size_t len = 0;
	long r;
	while ((r = rs_read(in, text + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	rs_close(in);
	if (r < 0 || len >= cap - 1) {
		fail(fd, r < 0 ? ": cannot read its /proc/self/fdinfo"
			       : ": its state is too long to keep (an epoll instance watching too many descriptors)",
		     r < 0 ? r : 0);
		return -1;
	}
	text[len] = 0;
	int bad = -1;
	if (kind == KITE_FD_EPOLL && check_watches(text, &bad) < 0) {
		char what[200];
		RsStr w = {what, 0, sizeof what};
		rs_str_add(&w, " is an epoll instance that watches descriptor ");
		rs_str_num(&w, bad);
		rs_str_add(&w, ", which is closed or now another file: a restart could not watch it again");
		fail(fd, what, 0);
		return -1;
	}
	*out_len = (uint32_t)len;
	return 0;
}
