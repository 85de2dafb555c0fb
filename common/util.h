/* util.h — small helpers shared by every Kite program: errno-prefixed
 * GErrors, "did you mean" suggestions, address parsing, durations and
 * sizes.  Library code: nothing here prints. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KITE_ERROR (kite_error_quark())
GQuark kite_error_quark(void);

/* Error codes for KITE_ERROR.  They travel on the wire in error replies,
 * so their values never change. */
typedef enum {
	KITE_ERROR_FAILED = 1,	   /* anything else */
	KITE_ERROR_INVALID = 2,	   /* malformed input from a user or file */
	KITE_ERROR_PROTOCOL = 3,   /* malformed or unexpected message */
	KITE_ERROR_AUTH = 4,	   /* no or bad credentials */
	KITE_ERROR_PERMISSION = 5, /* authenticated, but not allowed */
	KITE_ERROR_NOT_FOUND = 6,  /* no such job / object */
	KITE_ERROR_LIMIT = 7,	   /* over a configured limit */
	KITE_ERROR_IO = 8,	   /* a system call failed */
	KITE_ERROR_STATE = 9,	   /* not possible in the object's state */
} KiteErrorCode;

/* Set @error to "PREFIX: strerror(errno)" with code KITE_ERROR_IO and
 * return FALSE, so callers can write `return kite_throw_errno(error,
 * "open %s", path);`.  errno is preserved. */
gboolean kite_throw_errno(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Set @error (code @code) and return FALSE. */
gboolean kite_throw(GError **error, KiteErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* The candidate closest to @word (case-insensitive edit distance), or
 * NULL if none is close enough to be a useful "did you mean".
 * @candidates is NULL-terminated; the returned string is one of them. */
const char *kite_suggest(const char *word, const char *const *candidates);

/* Parse "host:port" (host may be a name, IPv4, or [IPv6]).  port 0 is
 * allowed.  On success writes a newly allocated host and the port. */
gboolean kite_parse_host_port(const char *text, char **out_host, guint16 *out_port, GError **error);

/* Parse a duration: a number with an optional unit s, m, h, d
 * ("90", "90s", "15m", "1.5h").  Writes seconds. */
gboolean kite_parse_duration(const char *text, double *out_seconds, GError **error);

/* Parse a size: a number with an optional unit K, M, G, T (powers of
 * 1024; "KB", "KiB", "MB"… accepted), scaled to @unit bytes
 * (e.g. unit = 1024*1024 gives MiB).  A bare number is already in @unit.
 * Writes the size in @unit, rounded up. */
gboolean kite_parse_size(const char *text, guint64 unit, guint64 *out_size, GError **error);

/* Write all @len bytes of @data to @fd (retrying short writes and
 * EINTR); @what names the file in the error. */
gboolean kite_write_all(int fd, const void *data, gsize len, const char *what, GError **error);

/* Remove directory @path and the files in it — one level only, never
 * following a symbolic link (the directory may be a user's: a link in it
 * is removed, not its target).  Quiet: a missing directory is no error. */
void kite_remove_flat_dir(const char *path);

/* Write @len bytes of @data to @path atomically (temporary file, fsync,
 * rename, fsync of the directory), with file mode @mode. */
gboolean kite_write_file_atomic(const char *path, const void *data, gsize len, int mode, GError **error);

/* The user name of @uid, or "uid<N>" if it has none.  Newly allocated. */
char *kite_user_name(uid_t uid);

/* Monotonic and wall-clock times in seconds. */
double kite_now_monotonic(void);
gint64 kite_now_wall(void);

G_END_DECLS
