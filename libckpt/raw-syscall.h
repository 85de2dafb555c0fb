/* Raw Linux x86_64 system calls and a few freestanding helpers.
 *
 * Used by the code that runs inside a checkpoint handler, in the
 * checkpoint child and in the restorer: there is no libc there we may
 * trust (no errno, no locks, no malloc).  Every function returns the
 * kernel's result: >= 0 on success, -errno on failure.
 */
#ifndef KITE_RAW_SYSCALL_H
#define KITE_RAW_SYSCALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

static inline long rs_call6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define rs_call0(n) rs_call6((n), 0, 0, 0, 0, 0, 0)
#define rs_call1(n, a) rs_call6((n), (long)(a), 0, 0, 0, 0, 0)
#define rs_call2(n, a, b) rs_call6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define rs_call3(n, a, b, c) rs_call6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define rs_call4(n, a, b, c, d) rs_call6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define rs_call5(n, a, b, c, d, e) \
	rs_call6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#define rs_read(fd, buf, n) rs_call3(SYS_read, (fd), (buf), (n))
#define rs_write(fd, buf, n) rs_call3(SYS_write, (fd), (buf), (n))
#define rs_pread(fd, buf, n, off) rs_call4(SYS_pread64, (fd), (buf), (n), (off))
#define rs_openat(dfd, path, fl, mode) rs_call4(SYS_openat, (dfd), (path), (fl), (mode))
#define rs_open(path, fl, mode) rs_call4(SYS_openat, -100 /* AT_FDCWD */, (path), (fl), (mode))
#define rs_close(fd) rs_call1(SYS_close, (fd))
#define rs_lseek(fd, off, wh) rs_call3(SYS_lseek, (fd), (off), (wh))
#define rs_mmap(a, l, p, f, fd, o) rs_call6(SYS_mmap, (long)(a), (long)(l), (p), (f), (fd), (o))
#define rs_munmap(a, l) rs_call2(SYS_munmap, (a), (l))
#define rs_mprotect(a, l, p) rs_call3(SYS_mprotect, (a), (l), (p))
#define rs_mremap(a, ol, nl, fl, na) rs_call5(SYS_mremap, (a), (ol), (nl), (fl), (na))
#define rs_getpid() rs_call0(SYS_getpid)
#define rs_gettid() rs_call0(SYS_gettid)
#define rs_getppid() rs_call0(SYS_getppid)
#define rs_exit_group(c) rs_call1(SYS_exit_group, (c))
#define rs_fsync(fd) rs_call1(SYS_fsync, (fd))
#define rs_rename(a, b) rs_call4(SYS_renameat, -100, (a), -100, (b))
#define rs_unlink(p) rs_call3(SYS_unlinkat, -100, (p), 0)
#define rs_readlink(p, b, n) rs_call4(SYS_readlinkat, -100, (p), (b), (n))
#define rs_symlink(t, p) rs_call3(SYS_symlinkat, (t), -100, (p))
#define rs_fstat(fd, st) rs_call2(SYS_fstat, (fd), (st))
#define rs_stat(p, st) rs_call4(SYS_newfstatat, -100, (p), (st), 0)
#define rs_fcntl(fd, c, a) rs_call3(SYS_fcntl, (fd), (c), (a))
#define rs_getdents64(fd, b, n) rs_call3(SYS_getdents64, (fd), (b), (n))
#define rs_kill(p, s) rs_call2(SYS_kill, (p), (s))
#define rs_wait4(p, st, o, ru) rs_call4(SYS_wait4, (p), (st), (o), (ru))
#define rs_rt_sigaction(s, a, o) rs_call4(SYS_rt_sigaction, (s), (a), (o), 8)
#define rs_rt_sigprocmask(h, s, o) rs_call4(SYS_rt_sigprocmask, (h), (s), (o), 8)
#define rs_sigaltstack(s, o) rs_call2(SYS_sigaltstack, (s), (o))
#define rs_arch_prctl(c, a) rs_call2(SYS_arch_prctl, (c), (a))
#define rs_prctl(o, a, b, c, d) rs_call5(SYS_prctl, (o), (a), (b), (c), (d))
#define rs_getitimer(w, v) rs_call2(SYS_getitimer, (w), (v))
#define rs_setitimer(w, v, o) rs_call3(SYS_setitimer, (w), (v), (o))
#define rs_umask(m) rs_call1(SYS_umask, (m))
#define rs_clock_gettime(c, t) rs_call2(SYS_clock_gettime, (c), (t))
#define rs_copy_file_range(i, oi, o, oo, n) rs_call6(SYS_copy_file_range, (i), (long)(oi), (o), (long)(oo), (n), 0)
#define rs_ftruncate(fd, n) rs_call2(SYS_ftruncate, (fd), (n))
#define rs_writev(fd, iov, n) rs_call3(SYS_writev, (fd), (iov), (n))
#define rs_uname(u) rs_call1(SYS_uname, (u))

/* Freestanding string helpers (the compiler may still emit memcpy/memset
 * calls; the restorer provides those, the runtime gets libc's, which are
 * async-signal-safe). */
static inline size_t rs_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static inline int rs_memeq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

static inline int rs_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Copy @src into @dst of @cap bytes, always terminated; returns 0, or -1
 * (and copies nothing) if it does not fit. */
static inline int rs_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = 0;
	while (src[n])
		n++;
	if (n >= cap)
		return -1;
	for (size_t i = 0; i <= n; i++)
		dst[i] = src[i];
	return 0;
}

static inline int rs_startswith(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

/* Bounded string builder: appends to buf (capacity cap), always NUL-terminates. */
typedef struct {
	char *buf;
	size_t len, cap;
} RsStr;

static inline void rs_str_add(RsStr *s, const char *t)
{
	while (*t && s->len + 1 < s->cap)
		s->buf[s->len++] = *t++;
	s->buf[s->len] = 0;
}

static inline void rs_str_addn(RsStr *s, const char *t, size_t n)
{
	for (size_t i = 0; i < n && s->len + 1 < s->cap; i++)
		s->buf[s->len++] = t[i];
	s->buf[s->len] = 0;
}

static inline void rs_str_num(RsStr *s, long v)
{
	char tmp[24];
	int i = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[i++] = '-';
	while (i > 0 && s->len + 1 < s->cap)
		s->buf[s->len++] = tmp[--i];
	s->buf[s->len] = 0;
}

static inline void rs_str_hex(RsStr *s, unsigned long u)
{
	char tmp[20];
	int i = 0;
	do {
		tmp[i++] = "0123456789abcdef"[u & 15];
		u >>= 4;
	} while (u);
	while (i > 0 && s->len + 1 < s->cap)
		s->buf[s->len++] = tmp[--i];
	s->buf[s->len] = 0;
}

/* Parse a hex number; *p advances past it. */
static inline unsigned long rs_parse_hex(const char **p)
{
	unsigned long v = 0;
	for (;;) {
		char c = **p;
		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (unsigned long)(c - 'A' + 10);
		else
			return v;
		(*p)++;
	}
}

static inline unsigned long rs_parse_dec(const char **p)
{
	unsigned long v = 0;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (unsigned long)(*(*p)++ - '0');
	return v;
}

static inline long rs_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		long r = rs_write(fd, p, n);
		if (r == -4 /* EINTR */)
			continue;
		if (r < 0)
			return r;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* CLOCK_MONOTONIC in microseconds (CLOCK_MONOTONIC is 1). */
static inline uint64_t rs_mono_us(void)
{
	struct {
		long sec, nsec;
	} ts;
	rs_call2(SYS_clock_gettime, 1, &ts);
	return (uint64_t)ts.sec * 1000000 + (uint64_t)ts.nsec / 1000;
}

static inline long rs_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	char *p = buf;
	while (n > 0) {
		long r = rs_pread(fd, p, n, (long)off);
		if (r == -4)
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			return -5; /* EIO: short file */
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

#endif
