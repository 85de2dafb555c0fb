/* Image reader and validator for the `ckpt` command (GLib side).
 * The async-signal-safe writer is libckpt/runtime/rt-dump.c; the
 * freestanding restorer has its own minimal reader. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libckpt/cmd/ckpt-image.h"
#include "libckpt/crc32c.h"

G_DEFINE_QUARK(kite-ckpt-error-quark, kite_ckpt_error)

const char *kite_image_rec_name(guint32 type)
{
	switch (type) {
	case KITE_REC_PROCESS:
		return "PROCESS";
	case KITE_REC_FD:
		return "FD";
	case KITE_REC_FILEDATA:
		return "FILEDATA";
	case KITE_REC_REGION:
		return "REGION";
	case KITE_REC_PAGES:
		return "PAGES";
	case KITE_REC_PARENT:
		return "PARENT";
	case KITE_REC_THREAD:
		return "THREAD";
	case KITE_REC_SANDBOX:
		return "SANDBOX";
	case KITE_REC_SBXFILE:
		return "SBXFILE";
	case KITE_REC_END:
		return "END";
	default:
		return "UNKNOWN";
	}
}

void kite_image_free(KiteImage *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	g_free(img->path);
	if (img->regions)
		g_ptr_array_unref(img->regions);
	if (img->fds)
		g_ptr_array_unref(img->fds);
	if (img->records)
		g_array_unref(img->records);
	if (img->sbx_files)
		g_ptr_array_unref(img->sbx_files);
	g_free(img->sandbox);
	g_free(img);
}

static void sbx_file_free(gpointer p)
{
	KiteImageSbxFile *f = p;
	g_free(f->name);
	if (f->chunks)
		g_array_unref(f->chunks);
	g_free(f);
}

static void region_free(gpointer p)
{
	KiteImageRegion *r = p;
	g_free(r->path);
	g_free(r);
}

static void fd_free(gpointer p)
{
	KiteImageFd *f = p;
	g_free(f->path);
	g_free(f);
}

static gboolean read_at(KiteImage *img, void *buf, gsize len, guint64 off, GError **error)
{
	if (off + len > img->size || off + len < off) {
		g_set_error(error, KITE_CKPT_ERROR, 1,
			    "%s: the image is truncated (needs %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
			    ", file has %" G_GUINT64_FORMAT ")",
			    img->path, (guint64)len, off, img->size);
		return FALSE;
	}
	char *p = buf;
	while (len > 0) {
		ssize_t r = pread(img->fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "%s: read at offset %" G_GUINT64_FORMAT ": %s", img->path, off,
				    r < 0 ? g_strerror(errno) : "unexpected end of file");
			return FALSE;
		}
		p += r;
		len -= (gsize)r;
		off += (guint64)r;
	}
	return TRUE;
}

static gboolean check_header(KiteImage *img, GError **error)
{
	KiteImgHeader *h = &img->header;
	if (!read_at(img, h, sizeof *h, 0, error))
		return FALSE;
	if (memcmp(h->magic, KITE_IMG_MAGIC, 8) != 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "%s: not a libckpt image (bad magic)", img->path);
		return FALSE;
	}
	guint32 crc = h->header_crc;
	h->header_crc = 0;
	guint32 got = kite_crc32c(0, h, sizeof *h);
	h->header_crc = crc;
	if (got != crc) {
		g_set_error(error, KITE_CKPT_ERROR, 1,
			    "%s: header checksum mismatch (stored %08x, computed %08x): the image is corrupt", img->path, crc,
			    got);
		return FALSE;
	}
	if (h->version != KITE_IMG_VERSION) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "%s: image format version %u; this ckpt reads version %u", img->path,
			    h->version, KITE_IMG_VERSION);
		return FALSE;
	}
	if (h->arch != KITE_IMG_ARCH_X86_64 || h->header_size != KITE_IMG_HEADER_SIZE) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "%s: image is for architecture %u; this is x86_64 (%u)", img->path,
			    h->arch, KITE_IMG_ARCH_X86_64);
		return FALSE;
	}
	return TRUE;
}

static gboolean verify_payload(KiteImage *img, const KiteImgRec *r, guint64 off, guchar *buf, gsize bufsize,
			       GError **error)
{
	guint32 crc = 0;
	guint64 done = 0;
	while (done < r->len) {
		gsize n = r->len - done > bufsize ? bufsize : (gsize)(r->len - done);
		if (!read_at(img, buf, n, off + done, error))
			return FALSE;
		crc = kite_crc32c(crc, buf, n);
		done += n;
	}
	if (crc != r->data_crc) {
		g_set_error(error, KITE_CKPT_ERROR, 1,
			    "%s: %s record at offset %" G_GUINT64_FORMAT ": data checksum mismatch (stored %08x, computed "
			    "%08x): the image is corrupt",
			    img->path, kite_image_rec_name(r->type), off - sizeof *r, r->data_crc, crc);
		return FALSE;
	}
	return TRUE;
}

/* The bulk payloads (PAGES, FILEDATA) of an image, checked after the walk
 * over its records by up to KITE_VERIFY_THREADS threads: reading a 1 GiB
 * image and computing its CRC32C takes ~0.12 s of CPU here, most of a
 * restart, and a second core halves the wait.  Small images are checked
 * by the calling thread alone (starting threads would cost more). */
#define KITE_VERIFY_THREADS 2
#define KITE_VERIFY_PARALLEL_MIN (16u << 20)
#define KITE_VERIFY_BUF (1u << 20)

typedef struct {
	KiteImgRec r;
	guint64 off; /* of the payload */
} PendingPayload;

typedef struct {
	KiteImage *img;
	GArray *pending; /* PendingPayload, in file order */
	gint next;       /* next index to take (atomic) */
	gint first_bad;  /* lowest failing index, G_MAXINT if none (atomic) */
} VerifyJob;

static gpointer verify_worker(gpointer data)
{
	VerifyJob *job = data;
	g_autofree guchar *buf = g_malloc(KITE_VERIFY_BUF);
	for (;;) {
		gint i = g_atomic_int_add(&job->next, 1);
		if (i >= (gint)job->pending->len || i > g_atomic_int_get(&job->first_bad))
			return NULL;
		PendingPayload *p = &g_array_index(job->pending, PendingPayload, i);
		if (!verify_payload(job->img, &p->r, p->off, buf, KITE_VERIFY_BUF, NULL)) {
			gint bad = g_atomic_int_get(&job->first_bad);
			while (i < bad && !g_atomic_int_compare_and_exchange(&job->first_bad, bad, i))
				bad = g_atomic_int_get(&job->first_bad);
		}
	}
}

/* Check every pending payload; on a mismatch the error is the one of the
 * first bad record in the file, as a sequential check would report. */
static gboolean verify_pending(KiteImage *img, GArray *pending, guint64 bytes, GError **error)
{
	VerifyJob job = { img, pending, 0, G_MAXINT };
	GThread *helpers[KITE_VERIFY_THREADS - 1] = { NULL };
	guint nhelpers = 0;
	if (bytes >= KITE_VERIFY_PARALLEL_MIN && g_get_num_processors() > 1)
		for (; nhelpers < KITE_VERIFY_THREADS - 1; nhelpers++) {
			helpers[nhelpers] = g_thread_try_new("ckpt-verify", verify_worker, &job, NULL);
			if (!helpers[nhelpers])
				break; /* fewer threads: the same result, later */
		}
	verify_worker(&job);
	for (guint i = 0; i < nhelpers; i++)
		g_thread_join(helpers[i]);
	if (job.first_bad == G_MAXINT)
		return TRUE;
	PendingPayload *p = &g_array_index(pending, PendingPayload, job.first_bad);
	g_autofree guchar *buf = g_malloc(KITE_VERIFY_BUF);
	return verify_payload(img, &p->r, p->off, buf, KITE_VERIFY_BUF, error);
}

static char *dup_path(const char *p, guint32 len, guint64 avail)
{
	if (len > avail)
		len = (guint32)avail;
	return g_strndup(p, len);
}

/* A sandbox file's stored chunk, read before its SBXFILE record. */
typedef struct {
	KiteImgRec r;
	guint64 off;      /* of the payload */
	guint64 file_off; /* KiteImgFileData.offset */
} SbxData;

/* A message about a sandbox file: "IMAGE: sandbox file NAME: WHAT". */
static gboolean sbx_fail(GError **error, KiteImage *img, const char *name, const char *what)
{
	g_set_error(error, KITE_CKPT_ERROR, 1, "%s: sandbox file %s: %s", img->path, name, what);
	return FALSE;
}

/* The name an SBXFILE payload of @len bytes at @p claims, if it looks like
 * one (for the message about a damaged record), else NULL. */
static char *sbx_claimed_name(const guchar *p, guint64 len)
{
	KiteImgSbxFile f;
	if (len < sizeof f)
		return NULL;
	memcpy(&f, p, sizeof f);
	guint64 at = sizeof f + (guint64)f.nchunks * sizeof(KiteImgSbxChunk);
	if (f.name_len == 0 || f.name_len > KITE_IMG_SBX_NAME_MAX || at > len || len - at < f.name_len)
		return NULL;
	char *name = g_strndup((const char *)p + at, f.name_len);
	for (char *c = name; *c; c++)
		if (!g_ascii_isprint(*c))
			*c = '?';
	return name;
}

/* An SBXFILE record (payload @p, @len bytes, already checksummed): check
 * it against the FILEDATA records of @pending (its stored chunks, in
 * order), checksum those, and add the file to @img. */
static gboolean sbx_file(KiteImage *img, const guchar *p, guint64 len, guint64 rec_off, GArray *pending,
			 gboolean verify_data, GHashTable *names, GError **error)
{
	KiteImgSbxFile f;
	if (!img->sandbox || len < sizeof f) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "%s: bad SBXFILE record at offset %" G_GUINT64_FORMAT "%s",
			    img->path, rec_off, img->sandbox ? "" : " (no SANDBOX record before it)");
		return FALSE;
	}
	memcpy(&f, p, sizeof f);
	guint64 at = sizeof f + (guint64)f.nchunks * sizeof(KiteImgSbxChunk);
	if (at > len || len - at != f.name_len || f.name_len == 0 || f.name_len > KITE_IMG_SBX_NAME_MAX) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "%s: bad SBXFILE record at offset %" G_GUINT64_FORMAT, img->path,
			    rec_off);
		return FALSE;
	}
	g_autofree char *name = g_strndup((const char *)p + at, f.name_len);
	if (strlen(name) != f.name_len || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		g_autofree char *shown = g_strescape(name, NULL);
		g_set_error(error, KITE_CKPT_ERROR, 1,
			    "%s: SBXFILE record at offset %" G_GUINT64_FORMAT " names '%s', not a plain file name", img->path,
			    rec_off, shown);
		return FALSE;
	}
	if (g_hash_table_contains(names, name))
		return sbx_fail(error, img, name, "saved twice");
	if (img->sbx_files->len >= KITE_IMG_MAX_SBX_FILES)
		return sbx_fail(error, img, name, "more than 4096 sandbox files");
	g_autoptr(GArray) chunks = g_array_new(FALSE, FALSE, sizeof(KiteImageSbxChunk));
	guint64 total = 0, parent = 0;
	guint stored = 0;
	for (guint32 i = 0; i < f.nchunks; i++) {
		KiteImgSbxChunk c;
		memcpy(&c, p + sizeof f + i * sizeof c, sizeof c);
		if (c.len == 0 || c.len > KITE_IMG_CHUNK || (i + 1 < f.nchunks && c.len != KITE_IMG_CHUNK))
			return sbx_fail(error, img, name, "its list of chunks is malformed");
		KiteImageSbxChunk ic = { c.hash, c.len, c.stored != 0, 0 };
		if (ic.stored) {
			if (stored >= pending->len)
				return sbx_fail(error, img, name, "a stored chunk has no data record");
			SbxData *d = &g_array_index(pending, SbxData, stored++);
			if (d->file_off != total || d->r.len - sizeof(KiteImgFileData) != c.len)
				return sbx_fail(error, img, name, "its data records do not match its list of chunks");
			if (verify_data) {
				g_autoptr(GError) local = NULL;
				guchar *buf = g_malloc(KITE_IMG_CHUNK + sizeof(KiteImgFileData));
				gboolean ok = verify_payload(img, &d->r, d->off, buf, KITE_IMG_CHUNK + sizeof(KiteImgFileData),
							     &local);
				g_free(buf);
				if (!ok) {
					const char *m = local->message;
					if (g_str_has_prefix(m, img->path) && m[strlen(img->path)] == ':')
						m += strlen(img->path) + 2;
					g_autofree char *what = g_strdup_printf(
					    "bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT " of its copy are damaged (%s)",
					    total, total + c.len, m);
					return sbx_fail(error, img, name, what);
				}
			}
			ic.data_off = d->off + sizeof(KiteImgFileData);
		} else {
			if (!img->header.parent_seq)
				return sbx_fail(error, img, name, "refers to a parent image, but the image is a full one");
			parent += c.len;
		}
		total += c.len;
		g_array_append_val(chunks, ic);
	}
	if (stored != pending->len)
		return sbx_fail(error, img, name, "data records that its list of chunks does not hold");
	if (total != f.size)
		return sbx_fail(error, img, name, "its chunks do not add up to its size");
	KiteImageSbxFile *sf = g_new0(KiteImageSbxFile, 1);
	sf->f = f;
	sf->name = g_strdup(name);
	sf->chunks = g_steal_pointer(&chunks);
	g_ptr_array_add(img->sbx_files, sf);
	g_hash_table_add(names, sf->name);
	img->sbx_stored_bytes += total - parent;
	img->sbx_parent_bytes += parent;
	g_array_set_size(pending, 0);
	return TRUE;
}

/* Every sandbox FILEDATA read before @rec_off belongs to an SBXFILE. */
static gboolean sbx_all_claimed(KiteImage *img, GArray *sbx_pending, guint64 rec_off, GError **error)
{
	if (!sbx_pending->len)
		return TRUE;
	g_set_error(error, KITE_CKPT_ERROR, 1,
		    "%s: sandbox data before offset %" G_GUINT64_FORMAT
		    " belongs to no SBXFILE record: the image is truncated or corrupt",
		    img->path, rec_off);
	return FALSE;
}

/* @head_only: stop before the first PAGES record (what a streamed
 * restart has before the memory arrives); no END to check then. */
static KiteImage *image_open(const char *path, gboolean verify_data, gboolean head_only, GError **error)
{
	g_autoptr(KiteImage) img = g_new0(KiteImage, 1);
	img->fd = -1;
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		img->path = g_build_filename(path, "latest", NULL);
	else
		img->path = g_strdup(path);
	img->fd = open(img->path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0 || fstat(img->fd, &st) < 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "open %s: %s", img->path, g_strerror(errno));
		return NULL;
	}
	img->size = (guint64)st.st_size;
	posix_fadvise(img->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	img->regions = g_ptr_array_new_with_free_func(region_free);
	img->fds = g_ptr_array_new_with_free_func(fd_free);
	img->records = g_array_new(FALSE, FALSE, sizeof(KiteImageRec));
	img->sbx_files = g_ptr_array_new_with_free_func(sbx_file_free);
	g_autoptr(GArray) sbx_pending = g_array_new(FALSE, FALSE, sizeof(SbxData));
	g_autoptr(GHashTable) sbx_names = g_hash_table_new(g_str_hash, g_str_equal);
	if (!check_header(img, error))
		return NULL;

	gsize bufsize = 4u << 20;
	g_autofree guchar *buf = g_malloc(bufsize);
	guint64 off = KITE_IMG_HEADER_SIZE;
	guint32 digest = 0;
	guint64 n = 0;
	gboolean have_process = FALSE, have_end = FALSE;
	KiteImageRegion *last_region = NULL;
	g_autoptr(GArray) pending = g_array_new(FALSE, FALSE, sizeof(PendingPayload));
	guint64 pending_bytes = 0;
	while (!have_end) {
		KiteImgRec r;
		guint64 rec_off = off;
		if (off == img->size) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "%s: the image is truncated after %" G_GUINT64_FORMAT " records (no END record)", img->path,
				    n);
			return NULL;
		}
		if (!read_at(img, &r, sizeof r, off, error))
			return NULL;
		guint32 hc = r.hdr_crc;
		r.hdr_crc = 0;
		if (kite_crc32c(0, &r, sizeof r) != hc) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "%s: record %" G_GUINT64_FORMAT " at offset %" G_GUINT64_FORMAT
				    ": header checksum mismatch: the image is corrupt",
				    img->path, n, off);
			return NULL;
		}
		r.hdr_crc = hc;
		if (head_only && r.type == KITE_REC_PAGES) {
			if (!sbx_all_claimed(img, sbx_pending, rec_off, error))
				return NULL;
			break;
		}
		off += sizeof r;
		if (r.len > img->size - off) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "%s: record at offset %" G_GUINT64_FORMAT " claims %" G_GUINT64_FORMAT
				    " bytes; only %" G_GUINT64_FORMAT " remain: the image is truncated",
				    img->path, rec_off, r.len, img->size - off);
			return NULL;
		}
		KiteImageRec ir = { r.type, rec_off, r.len, r.data_crc };
		g_array_append_val(img->records, ir);
		gboolean bulk = r.type == KITE_REC_PAGES || r.type == KITE_REC_FILEDATA;
		if (r.type == KITE_REC_FILEDATA && r.len >= sizeof(KiteImgFileData)) {
			/* a sandbox file's chunk: checked with its SBXFILE record,
			 * whose name the message can then give */
			KiteImgFileData fd;
			if (!read_at(img, &fd, sizeof fd, off, error))
				return NULL;
			if (fd.fd == KITE_FILEDATA_SANDBOX) {
				if (!img->sandbox || r.len - sizeof fd > KITE_IMG_CHUNK) {
					g_set_error(error, KITE_CKPT_ERROR, 1,
						    "%s: bad sandbox FILEDATA record at offset %" G_GUINT64_FORMAT, img->path,
						    rec_off);
					return NULL;
				}
				SbxData sd = { r, off, fd.offset };
				g_array_append_val(sbx_pending, sd);
				bulk = FALSE;
				digest = kite_crc32c(digest, &r.data_crc, 4);
				n++;
				off += r.len;
				continue;
			}
		}
		if (!bulk && r.len > KITE_IMG_MAX_META) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "%s: %s record at offset %" G_GUINT64_FORMAT " is too large",
				    img->path, kite_image_rec_name(r.type), rec_off);
			return NULL;
		}
		if (bulk && !verify_data) {
			if (r.type == KITE_REC_PAGES && r.len >= sizeof(KiteImgPages)) {
				KiteImgPages pg;
				if (!read_at(img, &pg, sizeof pg, off, error))
					return NULL;
				img->stored_bytes += pg.len;
			} else {
				img->file_bytes += r.len - sizeof(KiteImgFileData);
			}
		} else if (bulk) {
			PendingPayload pp = { r, off };
			g_array_append_val(pending, pp);
			pending_bytes += r.len;
		} else {
			if (!verify_payload(img, &r, off, buf, bufsize, error)) {
				g_autofree char *claimed = r.type == KITE_REC_SBXFILE ? sbx_claimed_name(buf, r.len) : NULL;
				if (claimed)
					g_prefix_error(error, "sandbox file %s (as the damaged record says): ", claimed);
				return NULL;
			}
		}
		if (r.type != KITE_REC_END) {
			digest = kite_crc32c(digest, &r.data_crc, 4);
			n++;
		}
		switch (r.type) {
		case KITE_REC_PROCESS:
			if (r.len < sizeof img->process || !read_at(img, &img->process, sizeof img->process, off, error)) {
				if (error && !*error)
					g_set_error(error, KITE_CKPT_ERROR, 1, "%s: short PROCESS record", img->path);
				return NULL;
			}
			img->process.cwd[sizeof img->process.cwd - 1] = 0;
			img->process.exe[sizeof img->process.exe - 1] = 0;
			img->process.comm[sizeof img->process.comm - 1] = 0;
			have_process = TRUE;
			break;
		case KITE_REC_REGION: {
			if (r.len < sizeof(KiteImgRegion) || img->regions->len >= KITE_IMG_MAX_REGIONS) {
				g_set_error(error, KITE_CKPT_ERROR, 1, "%s: bad REGION record at offset %" G_GUINT64_FORMAT,
					    img->path, rec_off);
				return NULL;
			}
			KiteImageRegion *ir2 = g_new0(KiteImageRegion, 1);
			read_at(img, buf, r.len, off, NULL);
			memcpy(&ir2->r, buf, sizeof ir2->r);
			ir2->path = dup_path((char *)buf + sizeof ir2->r, ir2->r.path_len, r.len - sizeof ir2->r);
			g_ptr_array_add(img->regions, ir2);
			break;
		}
		case KITE_REC_FD: {
			if (r.len < sizeof(KiteImgFd) || img->fds->len >= KITE_IMG_MAX_FDS) {
				g_set_error(error, KITE_CKPT_ERROR, 1, "%s: bad FD record at offset %" G_GUINT64_FORMAT,
					    img->path, rec_off);
				return NULL;
			}
			KiteImageFd *f = g_new0(KiteImageFd, 1);
			read_at(img, buf, r.len, off, NULL);
			memcpy(&f->f, buf, sizeof f->f);
			f->path = dup_path((char *)buf + sizeof f->f, f->f.path_len, r.len - sizeof f->f);
			g_ptr_array_add(img->fds, f);
			break;
		}
		case KITE_REC_PAGES: {
			KiteImgPages pg;
			/* payload: prefix, up to a page of zero padding (aligns big runs), data */
			if (r.len < sizeof pg || !read_at(img, &pg, sizeof pg, off, error) || pg.len > r.len - sizeof pg ||
			    r.len - sizeof pg - pg.len >= 4096 || (pg.addr & 4095) || (pg.len & 4095)) {
				if (error && !*error)
					g_set_error(error, KITE_CKPT_ERROR, 1,
						    "%s: bad PAGES record at offset %" G_GUINT64_FORMAT, img->path, rec_off);
				return NULL;
			}
			if (verify_data)
				img->stored_bytes += pg.len;
			if (!last_region || pg.addr < last_region->r.start || pg.addr + pg.len > last_region->r.end) {
				last_region = NULL;
				for (guint i = 0; i < img->regions->len; i++) {
					KiteImageRegion *cand = img->regions->pdata[i];
					if (pg.addr >= cand->r.start && pg.addr + pg.len <= cand->r.end) {
						last_region = cand;
						break;
					}
				}
			}
			if (!last_region || !(last_region->r.flags & KITE_REG_DATA)) {
				g_set_error(error, KITE_CKPT_ERROR, 1,
					    "%s: PAGES record at offset %" G_GUINT64_FORMAT
					    " (0x%" G_GINT64_MODIFIER "x) is outside every stored region",
					    img->path, rec_off, pg.addr);
				return NULL;
			}
			last_region->stored_bytes += pg.len;
			last_region->nchunks++;
			break;
		}
		case KITE_REC_PARENT: {
			KiteImgParent pr;
			if (r.len != sizeof pr || !read_at(img, &pr, sizeof pr, off, error)) {
				if (error && !*error)
					g_set_error(error, KITE_CKPT_ERROR, 1,
						    "%s: bad PARENT record at offset %" G_GUINT64_FORMAT, img->path, rec_off);
				return NULL;
			}
			if (!img->header.parent_seq) {
				g_set_error(error, KITE_CKPT_ERROR, 1,
					    "%s: PARENT record at offset %" G_GUINT64_FORMAT " in a full image", img->path,
					    rec_off);
				return NULL;
			}
			KiteImageRegion *reg = NULL;
			for (guint i = 0; i < img->regions->len; i++) {
				KiteImageRegion *cand = img->regions->pdata[i];
				if (pr.addr >= cand->r.start && pr.addr + pr.len <= cand->r.end)
					reg = cand;
			}
			if (!reg || !(reg->r.flags & KITE_REG_DATA)) {
				g_set_error(error, KITE_CKPT_ERROR, 1,
					    "%s: PARENT record at offset %" G_GUINT64_FORMAT " is outside every stored region",
					    img->path, rec_off);
				return NULL;
			}
			reg->parent_bytes += pr.len;
			img->parent_bytes += pr.len;
			break;
		}
		case KITE_REC_THREAD:
			if (r.len < sizeof(KiteImgThread) || ++img->nthreads > KITE_IMG_MAX_THREADS) {
				g_set_error(error, KITE_CKPT_ERROR, 1, "%s: bad THREAD record at offset %" G_GUINT64_FORMAT,
					    img->path, rec_off);
				return NULL;
			}
			break;
		case KITE_REC_FILEDATA:
			if (r.len < sizeof(KiteImgFileData)) {
				g_set_error(error, KITE_CKPT_ERROR, 1, "%s: bad FILEDATA record", img->path);
				return NULL;
			}
			if (verify_data)
				img->file_bytes += r.len - sizeof(KiteImgFileData);
			break;
		case KITE_REC_SANDBOX:
			if (img->sandbox || r.len == 0 || r.len >= KITE_IMG_MAX_PATH || !read_at(img, buf, r.len, off, error) ||
			    buf[0] != '/' || memchr(buf, 0, r.len)) {
				if (error && !*error)
					g_set_error(error, KITE_CKPT_ERROR, 1, "%s: bad SANDBOX record at offset %" G_GUINT64_FORMAT,
						    img->path, rec_off);
				return NULL;
			}
			img->sandbox = g_strndup((char *)buf, r.len);
			break;
		case KITE_REC_SBXFILE:
			/* the payload is in buf: checksummed just above */
			if (!read_at(img, buf, r.len, off, error) ||
			    !sbx_file(img, buf, r.len, rec_off, sbx_pending, verify_data, sbx_names, error))
				return NULL;
			break;
		case KITE_REC_END:
			if (r.len < sizeof img->end || !read_at(img, &img->end, sizeof img->end, off, error))
				return NULL;
			if (!sbx_all_claimed(img, sbx_pending, rec_off, error))
				return NULL;
			have_end = TRUE;
			break;
		default:
			g_set_error(error, KITE_CKPT_ERROR, 1, "%s: unknown record type %u at offset %" G_GUINT64_FORMAT,
				    img->path, r.type, rec_off);
			return NULL;
		}
		off += r.len;
	}
	if (!verify_pending(img, pending, pending_bytes, error))
		return NULL;
	if (!head_only && (img->end.nrecords != n || img->end.digest != digest)) {
		g_set_error(error, KITE_CKPT_ERROR, 1,
			    "%s: END record does not match the records (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
			    ", digest %08x vs %08x): the image is corrupt",
			    img->path, n, img->end.nrecords, digest, img->end.digest);
		return NULL;
	}
	if (!have_process) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "%s: no PROCESS record", img->path);
		return NULL;
	}
	return g_steal_pointer(&img);
}

KiteImage *kite_image_open(const char *path, gboolean verify_data, GError **error)
{
	return image_open(path, verify_data, FALSE, error);
}

KiteImage *kite_image_open_head(const char *path, GError **error)
{
	return image_open(path, TRUE, TRUE, error);
}

char *kite_image_parent_path(KiteImage *img)
{
	if (!img->header.parent_seq)
		return NULL;
	g_autofree char *dir = g_path_get_dirname(img->path);
	g_autofree char *name = g_strdup_printf("ckpt-%u.img", img->header.parent_seq);
	return g_build_filename(dir, name, NULL);
}

GPtrArray *kite_image_open_chain(const char *path, gboolean verify_data, GError **error)
{
	g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func((GDestroyNotify)kite_image_free);
	KiteImage *img = kite_image_open(path, verify_data, error);
	if (!img)
		return NULL;
	g_ptr_array_add(chain, img);
	while (img->header.parent_seq) {
		if (chain->len >= KITE_IMG_MAX_CHAIN) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "%s: chain of parent images longer than %d", path,
				    KITE_IMG_MAX_CHAIN);
			return NULL;
		}
		g_autofree char *ppath = kite_image_parent_path(img);
		g_autoptr(GError) perr = NULL;
		KiteImage *parent = kite_image_open(ppath, verify_data, &perr);
		if (!parent) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "%s is incremental and needs its parent image, which cannot be used: %s", img->path,
				    perr->message);
			return NULL;
		}
		if (parent->header.created_ns != img->header.parent_created_ns) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "%s is incremental, but its parent %s has been replaced by another image since (a restart "
				    "from an older image rewrote it); restart from %s or an older full image",
				    img->path, ppath, ppath);
			kite_image_free(parent);
			return NULL;
		}
		g_ptr_array_add(chain, parent);
		img = parent;
	}
	return g_steal_pointer(&chain);
}
