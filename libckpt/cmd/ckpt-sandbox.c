/* The sandbox's closed files in an image (docs/ckpt.md, "The sandbox"):
 * listed for people (`ckpt inspect`) and written back by `ckpt restart`
 * before the program resumes.  The runtime side that saves them is
 * libckpt/runtime/rt-sandbox.c; the records are read and checked by
 * ckpt-image.c. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libckpt/cmd/ckpt-image.h"
#include "libckpt/cmd/ckpt.h"
#include "libckpt/xxhash64.h"

void kite_ckpt_sandbox_print(const KiteImage *img)
{
	if (!img->sandbox)
		return;
	printf("\nsandbox:    %s: %u closed file(s), %" G_GUINT64_FORMAT " bytes stored, %" G_GUINT64_FORMAT
	       " bytes in the parent images\n",
	       img->sandbox, img->sbx_files->len, img->sbx_stored_bytes, img->sbx_parent_bytes);
	for (guint i = 0; i < img->sbx_files->len; i++) {
		const KiteImageSbxFile *f = img->sbx_files->pdata[i];
		guint64 parent = 0;
		for (guint k = 0; k < f->chunks->len; k++) {
			const KiteImageSbxChunk *c = &g_array_index(f->chunks, KiteImageSbxChunk, k);
			if (!c->stored)
				parent += c->len;
		}
		g_autofree char *where =
		    parent == 0 ? g_strdup("stored")
		    : parent == f->f.size
			? g_strdup("from the parent")
			: g_strdup_printf("%" G_GUINT64_FORMAT " bytes from the parent", parent);
		printf("  %04o %12" G_GUINT64_FORMAT " %-16s %s\n", f->f.mode, f->f.size, where, f->name);
	}
}

typedef struct {
	guint64 hash; /* first: the key */
	guint32 len;
	KiteImage *img;
	guint64 off;
} Source;

/* The stored chunks of every image of @chain, by hash. */
static GHashTable *index_chunks(GPtrArray *chain)
{
	GHashTable *t = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	for (guint i = chain->len; i-- > 0;) {
		KiteImage *img = chain->pdata[i];
		for (guint k = 0; k < img->sbx_files->len; k++) {
			const KiteImageSbxFile *f = img->sbx_files->pdata[k];
			for (guint j = 0; j < f->chunks->len; j++) {
				const KiteImageSbxChunk *c = &g_array_index(f->chunks, KiteImageSbxChunk, j);
				if (!c->stored)
					continue;
				Source *s = g_new(Source, 1);
				*s = (Source){c->hash, c->len, img, c->data_off};
				g_hash_table_replace(t, &s->hash, s);
			}
		}
	}
	return t;
}

static gboolean pread_all(int fd, void *buf, gsize len, guint64 off)
{
	char *p = buf;
	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return FALSE;
		p += r;
		len -= (gsize)r;
		off += (guint64)r;
	}
	return TRUE;
}

/* Whether @path already holds exactly @f's content (then it is not
 * rewritten: a restart on the same machine leaves the file, and its
 * inode and times, alone). */
static gboolean same_content(const char *path, const KiteImageSbxFile *f, const struct stat *st, guchar *buf)
{
	if (!S_ISREG(st->st_mode) || (guint64)st->st_size != f->f.size)
		return FALSE;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return FALSE;
	guint64 off = 0;
	gboolean same = TRUE;
	for (guint k = 0; same && k < f->chunks->len; k++) {
		const KiteImageSbxChunk *c = &g_array_index(f->chunks, KiteImageSbxChunk, k);
		same = pread_all(fd, buf, c->len, off) && kite_xxh64(buf, c->len, 0) == c->hash;
		off += c->len;
	}
	close(fd);
	return same;
}

/* Write @f into @dir under a temporary name and rename it into place:
 * a failure leaves the old file (or none), never half of the new one. */
static gboolean write_file(KiteImage *img, GHashTable *sources, const char *dir, const KiteImageSbxFile *f,
			   const char *path, guchar *buf, GError **error)
{
	g_autofree char *tmp = g_strdup_printf("%s/.kite-restore-%d", dir, (int)getpid());
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "cannot recreate sandbox file %s: %s", path,
			    g_strerror(errno));
		return FALSE;
	}
	guint64 off = 0;
	for (guint k = 0; k < f->chunks->len; k++) {
		const KiteImageSbxChunk *c = &g_array_index(f->chunks, KiteImageSbxChunk, k);
		KiteImage *from = img;
		guint64 at = c->data_off;
		if (!c->stored) {
			const Source *s = g_hash_table_lookup(sources, &c->hash);
			if (!s || s->len != c->len) {
				g_set_error(error, KITE_CKPT_ERROR, 1,
					    "%s: sandbox file %s: bytes %" G_GUINT64_FORMAT
					    "-%" G_GUINT64_FORMAT
					    " are in none of its parent images (the chain is incomplete)",
					    img->path, f->name, off, off + c->len);
				goto fail;
			}
			from = s->img;
			at = s->off;
		}
		if (!pread_all(from->fd, buf, c->len, at) || kite_xxh64(buf, c->len, 0) != c->hash) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "%s: sandbox file %s: bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
				    " read from %s are not the ones the image lists (hash mismatch): the "
				    "image is corrupt",
				    img->path, f->name, off, off + c->len, from->path);
			goto fail;
		}
		if (write(out, buf, c->len) != (ssize_t)c->len) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "write %s: %s", tmp,
				    g_strerror(errno ? errno : ENOSPC));
			goto fail;
		}
		off += c->len;
	}
	struct timespec times[2] = {{0, UTIME_OMIT}, {f->f.mtime_sec, f->f.mtime_nsec}};
	if (fchmod(out, f->f.mode & 07777) < 0 || futimens(out, times) < 0 || close(out) < 0) {
		out = -1;
		g_set_error(error, KITE_CKPT_ERROR, 1, "cannot set the mode and time of %s: %s", tmp,
			    g_strerror(errno));
		goto fail;
	}
	out = -1;
	if (rename(tmp, path) < 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "cannot recreate sandbox file %s: rename: %s", path,
			    g_strerror(errno));
		goto fail;
	}
	return TRUE;
fail:
	if (out >= 0)
		close(out);
	unlink(tmp);
	return FALSE;
}

gboolean kite_ckpt_sandbox_restore(GPtrArray *chain, GError **error)
{
	KiteImage *img = chain->pdata[0];
	if (!img->sandbox)
		return TRUE;
	const char *dir = img->sandbox; /* moved already (--move) */
	if (g_mkdir_with_parents(dir, 0755) < 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "cannot create the sandbox directory %s: %s", dir,
			    g_strerror(errno));
		return FALSE;
	}
	g_autoptr(GHashTable) sources = index_chunks(chain);
	g_autofree guchar *buf = g_malloc(KITE_IMG_CHUNK);
	for (guint i = 0; i < img->sbx_files->len; i++) {
		const KiteImageSbxFile *f = img->sbx_files->pdata[i];
		g_autofree char *path = g_build_filename(dir, f->name, NULL);
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				g_set_error(
				    error, KITE_CKPT_ERROR, 1,
				    "cannot recreate sandbox file %s: a directory of that name is in the way",
				    path);
				return FALSE;
			}
			if (same_content(path, f, &st, buf)) {
				/* (a file of someone else's with the right content — the
				 * startd's cached executable, linked in — stays as it is) */
				if ((st.st_mode & 07777) != f->f.mode && chmod(path, f->f.mode & 07777) < 0 &&
				    errno != EPERM) {
					g_set_error(error, KITE_CKPT_ERROR, 1, "chmod %s: %s", path,
						    g_strerror(errno));
					return FALSE;
				}
				continue;
			}
		}
		if (!write_file(img, sources, dir, f, path, buf, error))
			return FALSE;
	}
	return TRUE;
}
