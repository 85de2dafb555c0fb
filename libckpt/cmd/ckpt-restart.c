/* ckpt restart: validate an image, prepare what can be prepared from an
 * ordinary program (file contents, descriptors, working directory, umask),
 * then exec the freestanding restorer (bin/ckpt-restore) in this same
 * process.  Everything that can make a restart fail is checked here,
 * before the point of no return, so a bad image is refused with a reason
 * and this process is left alone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libckpt/cmd/ckpt-image.h"
#include "libckpt/cmd/ckpt-stream.h"
#include "libckpt/cmd/ckpt.h"
#include "libckpt/crc32c.h"
#include "libckpt/elf-build-id.h"

#define RESTORER_BASE 0x600000000000ull
#define RESTORER_SPAN (1ull << 30) /* restorer, its .bss and the vDSO parking spot */

static void cpuid(guint32 leaf, guint32 sub, guint32 *a, guint32 *b, guint32 *c, guint32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static void missing_bits(GString *out, const char *leaf, guint32 img, guint32 host, guint32 ignore,
			 const char *const names[32])
{
	guint32 miss = img & ~host & ~ignore;
	for (int b = 0; b < 32; b++)
		if (miss & (1u << b)) {
			if (names && names[b])
				g_string_append_printf(out, " %s", names[b]);
			else
				g_string_append_printf(out, " %s.bit%d", leaf, b);
		}
}

static gboolean check_cpu(const KiteImgHeader *h, GError **error)
{
	static const char *const n1c[32] = { [0] = "sse3", [1] = "pclmulqdq", [9] = "ssse3", [12] = "fma",
					     [13] = "cx16", [19] = "sse4.1", [20] = "sse4.2", [22] = "movbe",
					     [23] = "popcnt", [25] = "aes", [26] = "xsave", [28] = "avx",
					     [29] = "f16c", [30] = "rdrand" };
	static const char *const n7b[32] = { [3] = "bmi1", [5] = "avx2", [8] = "bmi2", [16] = "avx512f",
					     [17] = "avx512dq", [18] = "rdseed", [19] = "adx", [21] = "avx512ifma",
					     [28] = "avx512cd", [29] = "sha", [30] = "avx512bw", [31] = "avx512vl" };
	static const char *const n7c[32] = { [1] = "avx512vbmi", [8] = "gfni", [9] = "vaes", [10] = "vpclmulqdq",
					     [11] = "avx512vnni", [12] = "avx512bitalg", [14] = "avx512vpopcntdq" };
	guint32 a, b, c, d, maxleaf;
	cpuid(0, 0, &maxleaf, &b, &c, &d);
	cpuid(1, 0, &a, &b, &c, &d);
	guint32 h1c = c, h1d = d, h7b = 0, h7c = 0, h7d = 0, hx = 0;
	guint64 hxcr0 = 0;
	if (maxleaf >= 7)
		cpuid(7, 0, &a, &h7b, &h7c, &h7d);
	if (maxleaf >= 0xd && (h1c >> 27 & 1)) {
		cpuid(0xd, 0, &a, &hx, &c, &d);
		guint32 lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		hxcr0 = ((guint64)hi << 32) | lo;
	}
	g_autoptr(GString) miss = g_string_new(NULL);
	/* ignore: OSXSAVE, hypervisor, OSPKE, and model-specific bits of leaf 7 edx */
	missing_bits(miss, "cpuid1.ecx", h->cpuid1_ecx, h1c, (1u << 27) | (1u << 31), n1c);
	missing_bits(miss, "cpuid1.edx", h->cpuid1_edx, h1d, 0, NULL);
	missing_bits(miss, "cpuid7.ebx", h->cpuid7_ebx, h7b, 0, n7b);
	missing_bits(miss, "cpuid7.ecx", h->cpuid7_ecx, h7c, 1u << 4, n7c);
	if (h->xcr0 & ~hxcr0)
		g_string_append_printf(miss, " xsave-state(xcr0 %#" G_GINT64_MODIFIER "x, here %#" G_GINT64_MODIFIER "x)",
				       h->xcr0, hxcr0);
	if (miss->len) {
		g_set_error(error, KITE_CKPT_ERROR, 1,
			    "this CPU lacks features the checkpointed program may use:%s; restart it on a CPU like the "
			    "one it was checkpointed on",
			    miss->str);
		return FALSE;
	}
	if (h->xsave_size > hx && hx) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "the image's XSAVE area is %u bytes, this CPU's %u", h->xsave_size,
			    hx);
		return FALSE;
	}
	return TRUE;
}

/* The host's [vvar]/[vvar_vclock]/[vdso] must have the image's layout and
 * the vDSO the same code: the program's libc caches vDSO entry points. */
static gboolean check_vdso(KiteImage *img, GError **error)
{
	g_autofree char *maps = NULL;
	if (!g_file_get_contents("/proc/self/maps", &maps, NULL, NULL))
		return TRUE;
	guint64 hlo = G_MAXUINT64, vdso_start = 0, vdso_end = 0;
	g_autoptr(GString) host = g_string_new(NULL), theirs = g_string_new(NULL);
	g_auto(GStrv) lines = g_strsplit(maps, "\n", -1);
	for (char **l = lines; *l; l++) {
		if (!strstr(*l, "[vvar") && !strstr(*l, "[vdso]"))
			continue;
		guint64 s = g_ascii_strtoull(*l, NULL, 16);
		guint64 e = g_ascii_strtoull(strchr(*l, '-') + 1, NULL, 16);
		if (hlo == G_MAXUINT64)
			hlo = s;
		g_string_append_printf(host, " %s+%#" G_GINT64_MODIFIER "x:%" G_GUINT64_FORMAT "K", strrchr(*l, ' ') + 1,
				       s - hlo, (e - s) >> 10);
		if (strstr(*l, "[vdso]")) {
			vdso_start = s;
			vdso_end = e;
		}
	}
	guint64 ilo = G_MAXUINT64;
	for (guint i = 0; i < img->regions->len; i++) {
		KiteImageRegion *r = img->regions->pdata[i];
		if (!(r->r.flags & (KITE_REG_VDSO | KITE_REG_VVAR)))
			continue;
		if (ilo == G_MAXUINT64)
			ilo = r->r.start;
		g_string_append_printf(theirs, " %s+%#" G_GINT64_MODIFIER "x:%" G_GUINT64_FORMAT "K", r->path,
				       r->r.start - ilo, (r->r.end - r->r.start) >> 10);
	}
	if (strcmp(host->str, theirs->str) != 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1,
			    "the vDSO layout differs: image [%s ] (kernel %s), this host [%s ] (a different kernel?); "
			    "restart on a host running the checkpointing kernel",
			    theirs->str, img->header.kernel_release, host->str);
		return FALSE;
	}
	if (vdso_end > vdso_start) {
		guint32 crc = kite_crc32c(0, (const void *)(uintptr_t)vdso_start, vdso_end - vdso_start);
		if (crc != img->process.vdso_crc) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "the vDSO code differs from the checkpointing host's (kernel %s); restart on a host "
				    "running the same kernel",
				    img->header.kernel_release);
			return FALSE;
		}
	}
	return TRUE;
}

/* `--move OLD=NEW`: the program's files under OLD are under NEW here
 * (the startd restarts a job in a fresh sandbox whose path differs from
 * the one it was checkpointed in). */
static const char *move_old, *move_new;
static const char *restart_interval; /* `--interval N`: the restarted program's new period */
static const char *restart_dir; /* `--ckpt-dir DIR`: the restarted program's image directory here */

static char *moved(const char *path)
{
	gsize n = move_old ? strlen(move_old) : 0;
	if (!n || strncmp(path, move_old, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	return g_strconcat(move_new, path + n, NULL);
}

static gboolean move_paths(GPtrArray *chain, GError **error)
{
	for (guint k = 0; k < chain->len; k++) {
		KiteImage *img = chain->pdata[k];
		for (guint i = 0; i < img->regions->len; i++) {
			KiteImageRegion *r = img->regions->pdata[i];
			char *m = moved(r->path);
			if (m) {
				g_free(r->path);
				r->path = m;
			}
		}
		for (guint i = 0; i < img->fds->len; i++) {
			KiteImageFd *f = img->fds->pdata[i];
			char *m = moved(f->path);
			if (m) {
				g_free(f->path);
				f->path = m;
			}
		}
		char *sbx = img->sandbox ? moved(img->sandbox) : NULL;
		if (sbx) {
			g_free(img->sandbox);
			img->sandbox = sbx;
		}
		g_autofree char *cwd = moved(img->process.cwd);
		if (cwd && g_strlcpy(img->process.cwd, cwd, sizeof img->process.cwd) >= sizeof img->process.cwd) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "--move: the working directory %s is too long", cwd);
			return FALSE;
		}
	}
	return TRUE;
}

/* Files behind file mappings must be the ones the program had. */
static gboolean check_files(KiteImage *img, GError **error)
{
	for (guint i = 0; i < img->regions->len; i++) {
		KiteImageRegion *r = img->regions->pdata[i];
		if (r->r.start < RESTORER_BASE + RESTORER_SPAN && r->r.end > RESTORER_BASE &&
		    !(r->r.flags & (KITE_REG_VDSO | KITE_REG_VVAR | KITE_REG_VSYSCALL))) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "region %#" G_GINT64_MODIFIER "x-%#" G_GINT64_MODIFIER
				    "x lies where the restorer must run (0x600000000000-0x600040000000)",
				    r->r.start, r->r.end);
			return FALSE;
		}
		if (!(r->r.flags & KITE_REG_FILE))
			continue;
		struct stat st;
		if (stat(r->path, &st) < 0) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "%s (mapped by the program): %s", r->path, g_strerror(errno));
			return FALSE;
		}
		gboolean same_file = st.st_dev == r->r.dev && st.st_ino == r->r.ino;
		gboolean same_content = (guint64)st.st_size == r->r.size && st.st_mtim.tv_sec == r->r.mtime_sec &&
					(guint32)st.st_mtim.tv_nsec == r->r.mtime_nsec;
		/* A moved file was copied there (by the startd): its time is the
		 * copy's, so only its size (and build-id, above) can be compared. */
		if (move_new && g_str_has_prefix(r->path, move_new) && (guint64)st.st_size == r->r.size &&
		    !r->r.build_id_len)
			continue;
		if (r->r.build_id_len && r->r.build_id_len <= sizeof r->r.build_id) {
			/* an ELF file: its build-id decides (another machine may have
			 * the same build with other timestamps) */
			guint8 bid[20];
			guint32 n = kite_elf_build_id(r->path, bid, sizeof bid);
			if (n != r->r.build_id_len || memcmp(bid, r->r.build_id, n) != 0) {
				g_autofree char *want = g_malloc0(2 * r->r.build_id_len + 1);
				g_autofree char *have = g_malloc0(2 * n + 1);
				for (guint32 k = 0; k < r->r.build_id_len; k++)
					g_snprintf(want + 2 * k, 3, "%02x", r->r.build_id[k]);
				for (guint32 k = 0; k < n; k++)
					g_snprintf(have + 2 * k, 3, "%02x", bid[k]);
				g_set_error(error, KITE_CKPT_ERROR, 1,
					    "%s is not the build the program was running (build-id %s, checkpointed with "
					    "%s); the program would resume into different code",
					    r->path, n ? have : "none", want);
				return FALSE;
			}
			if ((guint64)st.st_size == r->r.size)
				continue; /* same build: timestamps may differ */
		}
		if (!same_content) {
			g_set_error(error, KITE_CKPT_ERROR, 1,
				    "%s changed since the checkpoint (size %" G_GUINT64_FORMAT " -> %" G_GINT64_FORMAT
				    ", mtime %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT
				    "%s); the program would resume into different code or data",
				    r->path, r->r.size, (gint64)st.st_size, r->r.mtime_sec, (gint64)st.st_mtim.tv_sec,
				    same_file ? "" : ", another inode");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean write_contents(KiteImage *img, const KiteImageFd *f, GError **error)
{
	int out = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, f->f.mode & 07777);
	if (out < 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "cannot restore the contents of %s: %s", f->path, g_strerror(errno));
		return FALSE;
	}
	gsize cap = KITE_IMG_CHUNK + sizeof(KiteImgFileData);
	g_autofree char *buf = g_malloc(cap);
	for (guint i = 0; i < img->records->len; i++) {
		const KiteImageRec *r = &g_array_index(img->records, KiteImageRec, i);
		if (r->type != KITE_REC_FILEDATA || r->len > cap)
			continue;
		if (pread(img->fd, buf, r->len, (off_t)(r->offset + sizeof(KiteImgRec))) != (ssize_t)r->len) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "%s: short read", img->path);
			close(out);
			return FALSE;
		}
		KiteImgFileData *d = (KiteImgFileData *)buf;
		if (d->fd != f->f.fd)
			continue;
		gsize n = r->len - sizeof *d;
		if (pwrite(out, buf + sizeof *d, n, (off_t)d->offset) != (ssize_t)n) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "write %s: %s", f->path, g_strerror(errno));
			close(out);
			return FALSE;
		}
	}
	if (ftruncate(out, (off_t)f->f.size) < 0 || fsync(out) < 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "truncate %s: %s", f->path, g_strerror(errno));
		close(out);
		return FALSE;
	}
	close(out);
	return TRUE;
}

/* The contents of the files the program had open for writing, each once. */
static gboolean restore_contents(KiteImage *img, GError **error)
{
	g_autoptr(GHashTable) done = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < img->fds->len; i++) {
		const KiteImageFd *f = img->fds->pdata[i];
		if (f->f.kind == KITE_FD_REGULAR && f->f.has_contents && !g_hash_table_contains(done, f->path)) {
			if (!write_contents(img, f, error))
				return FALSE;
			g_hash_table_add(done, f->path);
		}
	}
	return TRUE;
}

static gboolean restore_contents_cb(gpointer img, GError **error)
{
	return restore_contents(img, error);
}

static gboolean place_fd(int target, int fd, GError **error, const char *path)
{
	if (fd < 0) {
		g_set_error(error, KITE_CKPT_ERROR, 1, "cannot reopen %s for fd %d: %s", path, target, g_strerror(errno));
		return FALSE;
	}
	if (fd != target) {
		if (dup2(fd, target) < 0) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "dup2 to fd %d: %s", target, g_strerror(errno));
			return FALSE;
		}
		close(fd);
	}
	return TRUE;
}

/* The parent an image on a server would need (0: a full image, as every
 * checkpoint to a server is; one uploaded by hand may not be). */
static guint32 server_image_parent(int fd)
{
	KiteImgHeader h;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		return 0;
	guint32 crc = h.header_crc;
	h.header_crc = 0;
	return kite_crc32c(0, &h, sizeof h) == crc ? h.parent_seq : 0;
}

/* A streamed image's head, as a chain of one. */
static GPtrArray *head_chain(const char *path, GError **error)
{
	KiteImage *img = kite_image_open_head(path, error);
	if (!img)
		return NULL;
	GPtrArray *chain = g_ptr_array_new_with_free_func((GDestroyNotify)kite_image_free);
	g_ptr_array_add(chain, img);
	return chain;
}

/* Recreate the image's descriptors at their numbers.  Returns the image's
 * own descriptor, moved above all of them.  @stream_fds (or NULL): a
 * streamed restart's descriptors (ckpt-stream.h), moved above
 * them too (and their new numbers written back). */
static int setup_fds(KiteImage *img, GPtrArray *chain, int *stream_fds, GString *fdargs, GError **error)
{
	int maxfd = 2;
	for (guint i = 0; i < img->fds->len; i++) {
		const KiteImageFd *f = img->fds->pdata[i];
		maxfd = MAX(maxfd, f->f.fd);
	}
	g_autoptr(GHashTable) imgfds = g_hash_table_new(NULL, NULL);
	int imgfd = -1;
	for (guint i = 0; i < chain->len; i++) {
		KiteImage *ci = chain->pdata[i];
		int fd = fcntl(ci->fd, F_DUPFD, maxfd + 1);
		if (fd < 0) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "fcntl: %s", g_strerror(errno));
			return -1;
		}
		if (i == 0)
			imgfd = fd;
		g_hash_table_add(imgfds, GINT_TO_POINTER(fd + 1));
		g_string_append_printf(fdargs, "%s%d", i ? " " : "", fd);
	}
	for (int i = 0; stream_fds && i < KITE_CKPT_STREAM_FDS; i++) {
		stream_fds[i] = fcntl(stream_fds[i], F_DUPFD, maxfd + 1);
		if (stream_fds[i] < 0) {
			g_set_error(error, KITE_CKPT_ERROR, 1, "fcntl: %s", g_strerror(errno));
			return -1;
		}
		g_hash_table_add(imgfds, GINT_TO_POINTER(stream_fds[i] + 1));
	}
	/* contents first (or, streamed, once the whole image is checked: the
	 * file must exist to be opened now) */
	if (stream_fds) {
		for (guint i = 0; i < img->fds->len; i++) {
			const KiteImageFd *f = img->fds->pdata[i];
			int fd = f->f.kind == KITE_FD_REGULAR && f->f.has_contents
					 ? open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, f->f.mode & 07777)
					 : -2;
			if (fd == -1) {
				g_set_error(error, KITE_CKPT_ERROR, 1, "cannot restore the contents of %s: %s", f->path,
					    g_strerror(errno));
				return -1;
			}
			if (fd >= 0)
				close(fd);
		}
	} else if (!restore_contents(img, error))
		return -1;
	/* in passes: everything else, then duplicates of it, then epoll
	 * instances (what they watch is in place), then their duplicates */
	g_autoptr(GHashTable) kind_of = g_hash_table_new(NULL, NULL);
	for (guint i = 0; i < img->fds->len; i++) {
		const KiteImageFd *f = img->fds->pdata[i];
		g_hash_table_insert(kind_of, GINT_TO_POINTER(f->f.fd + 1), GUINT_TO_POINTER(f->f.kind));
	}
	gboolean keep[3] = { FALSE, FALSE, FALSE };
	for (int pass = 0; pass < 4; pass++)
		for (guint i = 0; i < img->fds->len; i++) {
			const KiteImageFd *f = img->fds->pdata[i];
			int fd = -1;
			gboolean of_epoll = f->f.kind == KITE_FD_DUP &&
					    GPOINTER_TO_UINT(g_hash_table_lookup(kind_of, GINT_TO_POINTER(f->f.dup_of + 1))) ==
						KITE_FD_EPOLL;
			int wanted_pass = f->f.kind == KITE_FD_EPOLL ? 2 : f->f.kind != KITE_FD_DUP ? 0 : of_epoll ? 3 : 1;
			if (pass != wanted_pass)
				continue;
			switch (f->f.kind) {
			case KITE_FD_INHERIT:
				if (f->f.fd <= 2)
					keep[f->f.fd] = TRUE;
				continue;
			case KITE_FD_REGULAR:
				fd = open(f->path, (int)(f->f.open_flags & ~(guint32)(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)));
				if (fd >= 0 && lseek(fd, f->f.offset, SEEK_SET) < 0) {
					g_set_error(error, KITE_CKPT_ERROR, 1, "lseek %s: %s", f->path, g_strerror(errno));
					return -1;
				}
				break;
			case KITE_FD_DEVICE:
				fd = open(f->path, (int)(f->f.open_flags & O_ACCMODE));
				break;
			case KITE_FD_DIR:
				fd = open(f->path, O_RDONLY | O_DIRECTORY);
				break;
			case KITE_FD_DUP:
				fd = dup(f->f.dup_of);
				break;
			case KITE_FD_EVENTFD:
			case KITE_FD_TIMERFD:
			case KITE_FD_SIGNALFD:
			case KITE_FD_EPOLL:
				if ((fd = kite_ckpt_anonfd_create(f, error)) < 0)
					return -1;
				break;
			default:
				g_set_error(error, KITE_CKPT_ERROR, 1, "fd %d: unknown kind %u", f->f.fd, f->f.kind);
				return -1;
			}
			if (!place_fd(f->f.fd, fd, error, f->path))
				return -1;
			if (f->f.fd <= 2)
				keep[f->f.fd] = TRUE;
		}
	/* close everything else we hold */
	g_autoptr(GHashTable) wanted = g_hash_table_new(NULL, NULL);
	for (guint i = 0; i < img->fds->len; i++) {
		const KiteImageFd *f = img->fds->pdata[i];
		g_hash_table_add(wanted, GINT_TO_POINTER(f->f.fd + 1));
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		GArray *close_list = g_array_new(FALSE, FALSE, sizeof(int));
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			int fd = atoi(de->d_name);
			if (fd == dirfd(d) || g_hash_table_contains(imgfds, GINT_TO_POINTER(fd + 1)) ||
			    g_hash_table_contains(wanted, GINT_TO_POINTER(fd + 1)))
				continue;
			if (fd <= 2 && keep[fd])
				continue;
			g_array_append_val(close_list, fd);
		}
		closedir(d);
		for (guint i = 0; i < close_list->len; i++)
			close(g_array_index(close_list, int, i));
		g_array_unref(close_list);
	}
	return imgfd;
}

int kite_ckpt_cmd_restart(int argc, char **argv)
{
	/* A checkpoint request that comes before the program is back (the
	 * startd vacating a job it just restarted) must not be lost: blocked,
	 * it stays pending across the exec of the restorer and reaches the
	 * program's own handler once its signal mask is restored. */
	sigset_t hold;
	sigemptyset(&hold);
	sigaddset(&hold, SIGTSTP);
	sigaddset(&hold, SIGUSR2);
	sigaddset(&hold, SIGRTMAX - 1);
	sigprocmask(SIG_BLOCK, &hold, NULL);
	const char *path = NULL, *server = NULL, *caps = NULL;
	for (int i = 1; i < argc; i++) {
		const char *mv = NULL;
		if (strcmp(argv[i], "--move") == 0 && i + 1 < argc)
			mv = argv[++i];
		else if (strncmp(argv[i], "--move=", 7) == 0)
			mv = argv[i] + 7;
		if (strcmp(argv[i], "--ckpt-dir") == 0 && i + 1 < argc) {
			if (argv[++i][0] != '/') {
				fprintf(stderr, "ckpt restart: --ckpt-dir wants an absolute path, not '%s'\n", argv[i]);
				return 2;
			}
			restart_dir = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 0) {
				fprintf(stderr, "ckpt restart: --interval wants a whole number of seconds, not '%s'\n",
					argv[i]);
				return 2;
			}
			restart_interval = argv[i];
			continue;
		}
		if (mv) {
			const char *eq = strchr(mv, '=');
			if (move_old || !eq || mv[0] != '/' || eq[1] != '/') {
				fprintf(stderr, "ckpt restart: --move wants one OLD=NEW pair of absolute paths, not '%s'\n",
					mv);
				return 2;
			}
			move_old = g_strndup(mv, eq - mv);
			move_new = eq + 1;
			continue;
		}
		if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			server = argv[++i];
		else if (strcmp(argv[i], "--caps") == 0 && i + 1 < argc)
			caps = argv[++i];
		else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "usage: ckpt restart [--move OLD=NEW] [--server HOST:PORT] [--caps FILE] [IMAGE|DIR]\n");
			return 2;
		} else
			path = argv[i];
	}
	/* An image on a checkpoint server: its head downloaded (every chunk
	 * verified) into memory and checked here; the rest streams into the
	 * restorer while it restores (ckpt-stream.c).  A small image arrives
	 * whole with the head and is restarted from memory like a file. */
	g_autofree char *server_dir = path ? g_build_filename(path, "server.caps", NULL) : NULL;
	gboolean from_server = server || caps || (server_dir && g_file_test(server_dir, G_FILE_TEST_EXISTS)) ||
			       (!path && (g_getenv("KITE_CKPT_CAPS") || g_getenv("KITE_CKPT_READ_CAP")));
	g_autofree char *shown = NULL, *memfd_path = NULL;
	gboolean checked = FALSE; /* the download checked the image's own checksums */
	g_autoptr(KiteCkptStream) stream = NULL;
	gboolean streamed = FALSE; /* the memory is still to come */
	if (from_server) {
		g_autoptr(GError) ferr = NULL;
		const char *dir = server_dir && g_file_test(server_dir, G_FILE_TEST_EXISTS) ? path : NULL;
		stream = kite_ckpt_stream_open(server, caps, dir, &shown, &ferr);
		if (!stream) {
			fprintf(stderr, "ckpt restart: refusing to restart %s: %s\n", shown ? shown : "the server image",
				ferr->message);
			return 1;
		}
		streamed = !kite_ckpt_stream_complete(stream, &checked);
		guint32 parent = server_image_parent(kite_ckpt_stream_head_fd(stream));
		if (parent) {
			fprintf(stderr,
				"ckpt restart: refusing to restart %s: an incremental image (its parent is image %u) needs "
				"its parent, which a checkpoint server does not hold; upload a full image\n",
				shown, parent);
			return 1;
		}
		memfd_path = g_strdup_printf("/proc/self/fd/%d", kite_ckpt_stream_head_fd(stream));
		path = memfd_path;
	}
	if (!path) {
		fprintf(stderr, "usage: ckpt restart [--move OLD=NEW] [--server HOST:PORT] [--caps FILE] [IMAGE|DIR]\n");
		return 2;
	}
	if (!shown)
		shown = g_strdup(path);
	g_autoptr(GError) error = NULL;
	/* A downloaded image whose payload checksums all held on the way in
	 * is not read again: only its headers are (and checked again). */
	g_autoptr(GPtrArray) chain = streamed ? head_chain(path, &error) : kite_image_open_chain(path, !checked, &error);
	KiteImage *img = chain ? chain->pdata[0] : NULL;
	/* the sandbox's closed files before check_files(): the program may
	 * have mapped one */
	if (!img || !move_paths(chain, &error) || !check_cpu(&img->header, &error) || !check_vdso(img, &error) ||
	    !kite_ckpt_sandbox_restore(chain, &error) || !check_files(img, &error)) {
		fprintf(stderr, "ckpt restart: refusing to restart %s: %s\n", shown, error->message);
		return 1;
	}
	if (img->header.page_size != (guint32)sysconf(_SC_PAGESIZE)) {
		fprintf(stderr, "ckpt restart: refusing to restart %s: page size %u, this host %ld\n", path,
			img->header.page_size, sysconf(_SC_PAGESIZE));
		return 1;
	}
	g_autofree char *restorer = kite_ckpt_find_sibling("KITE_CKPT_RESTORE", "ckpt-restore");
	if (access(restorer, X_OK) < 0) {
		fprintf(stderr, "ckpt restart: cannot find the restorer %s: %s; set KITE_CKPT_RESTORE\n", restorer,
			g_strerror(errno));
		return 1;
	}
	if (chdir(img->process.cwd) < 0) {
		fprintf(stderr, "ckpt restart: cannot enter the program's working directory %s: %s\n", img->process.cwd,
			g_strerror(errno));
		return 1;
	}
	fflush(stdout);
	fflush(stderr);
	int stream_fds[KITE_CKPT_STREAM_FDS];
	if (streamed) {
		if (!kite_ckpt_stream_start(stream, restore_contents_cb, img, img->fd, &error)) {
			fprintf(stderr, "ckpt restart: refusing to restart %s: %s\n", shown, error->message);
			return 1;
		}
		kite_ckpt_stream_restorer_fds(stream, stream_fds);
	}
	g_autoptr(GString) fdargs = g_string_new(NULL);
	int imgfd = setup_fds(img, chain, streamed ? stream_fds : NULL, fdargs, &error);
	if (imgfd < 0) {
		fprintf(stderr, "ckpt restart: %s\n", error->message);
		return 1;
	}
	umask((mode_t)img->process.umask);
	g_auto(GStrv) fdv = g_strsplit(fdargs->str, " ", -1);
	guint nfd = g_strv_length(fdv);
	char **args = g_new0(char *, nfd + 15);
	args[0] = "ckpt-restore";
	for (guint i = 0; i < nfd; i++)
		args[i + 1] = fdv[i];
	guint k = nfd + 1;
	if (streamed) {
		args[k++] = "--stream";
		for (int i = 0; i < KITE_CKPT_STREAM_FDS; i++)
			args[k++] = g_strdup_printf("%d", stream_fds[i]);
		args[k++] = g_strdup_printf("%d", (int)kite_ckpt_stream_downloader(stream));
	}
	if (move_old) {
		args[k++] = "--move";
		args[k++] = (char *)move_old;
		args[k++] = (char *)move_new;
	}
	if (restart_interval) {
		args[k++] = "--interval";
		args[k++] = (char *)restart_interval;
	}
	if (restart_dir) {
		args[k++] = "--dir";
		args[k++] = (char *)restart_dir;
	}
	char *env[] = { NULL };
	execve(restorer, args, env);
	int e = errno;
	dprintf(2, "ckpt restart: cannot exec %s: %s\n", restorer, g_strerror(e));
	return 1;
}
