/* exec-cache.c — executables kept by content; see exec-cache.h.  The
 * files are DIR/<sha256>; which of them are kept, and how recently each
 * was used, is in memory. */
#include "exec-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct _KiteExecCache {
	char *dir;
	GHashTable *used; /* sha256 hex -> last use (a counter, as a pointer) */
	guint64 clock;
};

KiteExecCache *kite_exec_cache_new(const char *dir, GError **error)
{
	kite_sandbox_remove(dir);
	if (g_mkdir_with_parents(dir, 0755) < 0) {
		kite_throw_errno(error, "create %s", dir);
		return NULL;
	}
	KiteExecCache *cache = g_new0(KiteExecCache, 1);
	cache->dir = g_strdup(dir);
	cache->used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return cache;
}

void kite_exec_cache_free(KiteExecCache *cache)
{
	if (!cache)
		return;
	g_hash_table_unref(cache->used);
	g_free(cache->dir);
	g_free(cache);
}

static gboolean is_sha256(const char *s)
{
	if (strlen(s) != 64)
		return FALSE;
	for (const char *p = s; *p; p++)
		if (!g_ascii_isxdigit(*p) || g_ascii_isupper(*p))
			return FALSE;
	return TRUE;
}

/* Drop the least recently used entry. */
static void evict_one(KiteExecCache *cache)
{
	GHashTableIter it;
	gpointer key, value;
	const char *oldest = NULL;
	guint64 oldest_use = G_MAXUINT64;
	g_hash_table_iter_init(&it, cache->used);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		if ((guint64)GPOINTER_TO_SIZE(value) < oldest_use) {
			oldest_use = GPOINTER_TO_SIZE(value);
			oldest = key;
		}
	}
	if (!oldest)
		return;
	g_autofree char *path = g_build_filename(cache->dir, oldest, NULL);
	unlink(path);
	g_hash_table_remove(cache->used, oldest);
}

void kite_exec_cache_add(KiteExecCache *cache, const guint8 *data, gsize len)
{
	g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
	if (g_hash_table_contains(cache->used, sha)) {
		g_hash_table_insert(cache->used, g_steal_pointer(&sha), GSIZE_TO_POINTER(++cache->clock));
		return;
	}
	while (g_hash_table_size(cache->used) >= KITE_EXEC_CACHE_MAX)
		evict_one(cache);
	g_autofree char *path = g_build_filename(cache->dir, sha, NULL);
	g_autoptr(GError) error = NULL;
	/* written whole under a temporary name and renamed: a name in the
	 * cache always holds the bytes it names */
	if (!kite_write_file_atomic(path, (const char *)data, len, 0555, &error)) {
		g_message("executable cache: %s", error->message);
		return;
	}
	g_hash_table_insert(cache->used, g_steal_pointer(&sha), GSIZE_TO_POINTER(++cache->clock));
}

gboolean kite_exec_cache_has(KiteExecCache *cache, const char *sha256)
{
	return is_sha256(sha256) && g_hash_table_contains(cache->used, sha256);
}

/* Copy @from to a new file @to, mode 0755, owned by whoever we are. */
static gboolean copy_file(const char *from, const char *to, GError **error)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	if (!g_file_get_contents(from, &data, &len, error))
		return FALSE;
	int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
	if (fd < 0)
		return kite_throw_errno(error, "create %s", to);
	gboolean ok = kite_write_all(fd, (const guint8 *)data, len, to, error);
	close(fd);
	return ok;
}

gboolean kite_exec_cache_place(KiteExecCache *cache, const char *sha256, const char *sandbox,
			       const char *name, const KiteJobUser *user, GError **error)
{
	if (!kite_exec_cache_has(cache, sha256))
		return kite_throw(error, KITE_ERROR_NOT_FOUND,
				  "no executable with SHA-256 %.64s is cached here", sha256);
	g_autofree char *from = g_build_filename(cache->dir, sha256, NULL);
	g_autofree char *to = g_build_filename(sandbox, name, NULL);
	g_hash_table_insert(cache->used, g_strdup(sha256), GSIZE_TO_POINTER(++cache->clock));
	/* A job running as another user cannot change the startd's file,
	 * so it may share it; one running as ourselves could, so it gets
	 * its own copy. */
	if (!user->change)
		return copy_file(from, to, error);
	if (link(from, to) < 0)
		return kite_throw_errno(error, "link %s to %s", from, to);
	return TRUE;
}
