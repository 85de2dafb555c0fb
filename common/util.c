/* util.c — small shared helpers; see util.h.  No printing here. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

G_DEFINE_QUARK(kite - error - quark, kite_error)

gboolean kite_throw_errno(GError **error, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *prefix = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, KITE_ERROR, KITE_ERROR_IO, "%s: %s", prefix, g_strerror(saved));
	errno = saved;
	return FALSE;
}

gboolean kite_throw(GError **error, KiteErrorCode code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, KITE_ERROR, code, msg);
	return FALSE;
}

static guint edit_distance(const char *a, const char *b)
{
	gsize la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return G_MAXUINT;
	guint prev[65], cur[65];
	for (gsize j = 0; j <= lb; j++)
		prev[j] = j;
	for (gsize i = 1; i <= la; i++) {
		cur[0] = i;
		for (gsize j = 1; j <= lb; j++) {
			guint cost = g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]) ? 0 : 1;
			guint v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			cur[j] = v;
		}
		memcpy(prev, cur, sizeof(guint) * (lb + 1));
	}
	return prev[lb];
}

const char *kite_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	guint best_d = G_MAXUINT;
	for (const char *const *c = candidates; c && *c; c++) {
		guint d = edit_distance(word, *c);
		if (d < best_d) {
			best_d = d;
			best = *c;
		}
	}
	/* Close enough: a third of the word's length, at least 2 edits. */
	guint limit = MAX(2, (guint)strlen(word) / 3);
	return best_d <= limit ? best : NULL;
}

gboolean kite_parse_host_port(const char *text, char **out_host, guint16 *out_port, GError **error)
{
	const char *colon;
	g_autofree char *host = NULL;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return kite_throw(error, KITE_ERROR_INVALID,
					  "bad address \"%s\": expected [IPv6]:PORT", text);
		host = g_strndup(text + 1, close - text - 1);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || colon == text)
			return kite_throw(error, KITE_ERROR_INVALID, "bad address \"%s\": expected HOST:PORT",
					  text);
		host = g_strndup(text, colon - text);
	}
	char *end = NULL;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port > 65535)
		return kite_throw(error, KITE_ERROR_INVALID,
				  "bad address \"%s\": port must be a number from 0 to 65535", text);
	*out_host = g_steal_pointer(&host);
	*out_port = (guint16)port;
	return TRUE;
}

gboolean kite_parse_duration(const char *text, double *out_seconds, GError **error)
{
	char *end = NULL;
	errno = 0;
	double v = g_ascii_strtod(text, &end);
	if (end == text || errno || !isfinite(v) || v < 0)
		goto bad;
	while (*end == ' ')
		end++;
	double mult = 1;
	if (*end == '\0' || g_str_equal(end, "s"))
		mult = 1;
	else if (g_str_equal(end, "ms"))
		mult = 0.001;
	else if (g_str_equal(end, "m") || g_str_equal(end, "min"))
		mult = 60;
	else if (g_str_equal(end, "h"))
		mult = 3600;
	else if (g_str_equal(end, "d"))
		mult = 86400;
	else
		goto bad;
	*out_seconds = v * mult;
	return TRUE;
bad:
	return kite_throw(
	    error, KITE_ERROR_INVALID,
	    "bad duration \"%s\": expected a number with an optional unit ms, s, m, h or d (e.g. 90s, 15m)",
	    text);
}

gboolean kite_parse_size(const char *text, guint64 unit, guint64 *out_size, GError **error)
{
	char *end = NULL;
	errno = 0;
	double v = g_ascii_strtod(text, &end);
	if (end == text || errno || !isfinite(v) || v < 0)
		goto bad;
	while (*end == ' ')
		end++;
	double bytes_per = unit;
	if (*end) {
		char u = g_ascii_toupper(*end);
		const char *rest = end + 1;
		if (u == 'B' && *rest == '\0')
			bytes_per = 1;
		else {
			if (u == 'K')
				bytes_per = 1024.0;
			else if (u == 'M')
				bytes_per = 1024.0 * 1024;
			else if (u == 'G')
				bytes_per = 1024.0 * 1024 * 1024;
			else if (u == 'T')
				bytes_per = 1024.0 * 1024 * 1024 * 1024;
			else
				goto bad;
			if (!(*rest == '\0' || g_ascii_strcasecmp(rest, "B") == 0 ||
			      g_ascii_strcasecmp(rest, "iB") == 0))
				goto bad;
		}
	}
	double r = ceil(v * bytes_per / unit);
	if (r > 9.0e18)
		goto bad;
	*out_size = (guint64)r;
	return TRUE;
bad:
	return kite_throw(
	    error, KITE_ERROR_INVALID,
	    "bad size \"%s\": expected a number with an optional unit K, M, G or T (e.g. 512M, 2G)", text);
}

gboolean kite_write_all(int fd, const void *data, gsize len, const char *what, GError **error)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kite_throw_errno(error, "write %s", what);
		p += n;
		len -= n;
	}
	return TRUE;
}

gboolean kite_write_file_atomic(const char *path, const void *data, gsize len, int mode, GError **error)
{
	g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
	g_autofree char *dir = g_path_get_dirname(path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return kite_throw_errno(error, "open %s", tmp);
	if (!kite_write_all(fd, data, len, tmp, error))
		goto fail;
	if (fchmod(fd, mode) < 0) {
		kite_throw_errno(error, "chmod %s", tmp);
		goto fail;
	}
	if (fsync(fd) < 0) {
		kite_throw_errno(error, "fsync %s", tmp);
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		kite_throw_errno(error, "rename %s to %s", tmp, path);
		goto fail;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return TRUE;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return FALSE;
}

char *kite_user_name(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
		return g_strdup(res->pw_name);
	return g_strdup_printf("uid%u", (unsigned)uid);
}

double kite_now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

gint64 kite_now_wall(void)
{
	return (gint64)time(NULL);
}

void kite_remove_flat_dir(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dfd, e->d_name, 0); /* a subdirectory stays: rmdir below then fails */
	closedir(d);
	rmdir(path);
}
