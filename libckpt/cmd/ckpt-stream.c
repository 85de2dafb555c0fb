/* `ckpt restart` from a checkpoint server, streamed: the head of the image
 * (header and metadata records) is downloaded and checked here; the page
 * data then flows from the server into the restorer while it restores:
 * the restorer reads the replies from the connection itself, and a
 * downloader process forked here sends the GETs for them (and, once the
 * restorer has checked everything, restores the files' contents).  The
 * restorer checks every chunk where it lands (libckpt/restore/stream.h
 * says who does what).
 *
 * Why: downloading 1 GiB into a memfd and then restarting from it filled
 * 1 GiB of shmem pages and only began the restore after the last byte;
 * streamed, the download and the restore overlap, the bytes are copied
 * once on this side (socket -> the program's memory) and land in
 * anonymous memory, as the program had it.  (The downloader used to read
 * the replies and splice them into a pipe for the restorer: 0.07-0.1 s
 * of CPU per GiB and one more process on the data path.)  A small image
 * (all of it in the first replies) is restarted from the memfd as
 * before. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt-store.h"
#include "libckpt/cmd/ckpt-stream.h"
#include "libckpt/cmd/ckpt.h"
#include "libckpt/image-format.h"
#include "libckpt/restore/stream.h"
#include "util.h"
#include "wire.h"

G_STATIC_ASSERT(sizeof(KiteStreamChunk) == sizeof(KiteChunkRef));
G_STATIC_ASSERT(KITE_STREAM_WIRE_MAGIC == KITE_WIRE_MAGIC && KITE_STREAM_WIRE_VERSION == KITE_WIRE_VERSION &&
		KITE_STREAM_WIRE_HEADER == KITE_WIRE_HEADER_SIZE && KITE_STREAM_MSG_ERROR == KITE_MSG_ERROR &&
		KITE_STREAM_MSG_CHUNKS == KITE_MSG_CKPT_CHUNKS);
G_STATIC_ASSERT(offsetof(KiteStreamChunk, len) == offsetof(KiteChunkRef, len));

struct _KiteCkptStream {
	KiteCkptClient *client;
	KiteCkptDownload *download;
	char *name;
	int head_fd;
	guint64 head_bytes, head_chunks;
	/* the restorer's ends, once the downloader runs, and the caller's
	 * stderr (fd 2 becomes the program's before the exec) */
	int info_fd, data_fd, verdict_fd, err_fd;
	GPid downloader;
};

void kite_ckpt_stream_free(KiteCkptStream *s)
{
	if (!s)
		return;
	kite_ckpt_stream_abort(s);
	kite_ckpt_download_free(s->download);
	kite_ckpt_client_free(s->client);
	g_free(s->name);
	int fds[] = { s->head_fd, s->info_fd, s->data_fd, s->verdict_fd, s->err_fd };
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	g_free(s);
}

/* Whether the image bytes in @fd ([0, @have)) reach the first PAGES
 * record (or END) at a record boundary.  @walk: the offset of the next
 * record header, carried from one call to the next.  A record length
 * beyond the image ends the walk too: opening the head then says what
 * is wrong. */
static gboolean head_arrived(int fd, guint64 have, guint64 total, guint64 *walk)
{
	while (*walk + sizeof(KiteImgRec) <= have) {
		KiteImgRec r;
		if (pread(fd, &r, sizeof r, (off_t)*walk) != (ssize_t)sizeof r)
			return TRUE;
		if (r.type == KITE_REC_PAGES || r.type == KITE_REC_END || r.len > total - *walk - sizeof r)
			return TRUE;
		*walk += sizeof r + r.len;
	}
	return FALSE;
}

KiteCkptStream *kite_ckpt_stream_open(const char *server, const char *caps_file, const char *dir, char **out_name,
				      GError **error)
{
	g_autoptr(KiteCkptStream) s = g_new0(KiteCkptStream, 1);
	s->head_fd = s->info_fd = s->data_fd = s->verdict_fd = s->err_fd = -1;
	g_autofree char *cap = NULL;
	s->client = kite_ckpt_server_connect(server, caps_file, dir, out_name, &cap, error);
	if (!s->client)
		return NULL;
	s->name = g_strdup(*out_name);
	s->download = kite_ckpt_download_begin(s->client, cap, error);
	if (!s->download)
		return NULL;
	s->head_fd = memfd_create("kite-image", MFD_CLOEXEC);
	if (s->head_fd < 0)
		return kite_throw_errno(error, "memfd_create"), NULL;
	guint64 total = kite_ckpt_download_manifest(s->download)->total, walk = KITE_IMG_HEADER_SIZE;
	while (!kite_ckpt_download_finished(s->download)) {
		if (!kite_ckpt_download_next(s->download, s->head_fd, error))
			return NULL;
		if (head_arrived(s->head_fd, kite_ckpt_download_bytes_done(s->download), total, &walk))
			break;
	}
	s->head_bytes = kite_ckpt_download_bytes_done(s->download);
	s->head_chunks = kite_ckpt_download_chunks_done(s->download);
	lseek(s->head_fd, 0, SEEK_SET);
	return g_steal_pointer(&s);
}

int kite_ckpt_stream_head_fd(const KiteCkptStream *s)
{
	return s->head_fd;
}

gboolean kite_ckpt_stream_complete(const KiteCkptStream *s, gboolean *out_checked)
{
	if (out_checked)
		*out_checked = kite_ckpt_download_image_checked(s->download);
	return kite_ckpt_download_finished(s->download);
}

/* The restorer's view of the manifest: KiteStreamInfo and the chunk list. */
static int write_info(KiteCkptStream *s, GError **error)
{
	const KiteManifest *m = kite_ckpt_download_manifest(s->download);
	KiteStreamInfo info = {
		.version = KITE_STREAM_VERSION,
		.header_size = sizeof info,
		.nchunks = m->chunks->len,
		.total = m->total,
		.head_bytes = s->head_bytes,
		.head_chunks = s->head_chunks,
	};
	memcpy(info.magic, KITE_STREAM_MAGIC, sizeof info.magic);
	g_strlcpy(info.name, s->name, sizeof info.name);
	g_strlcpy(info.server, kite_ckpt_download_server(s->download), sizeof info.server);
	info.timeout_s = (guint32)MAX(1.0, kite_ckpt_download_timeout(s->download));
	g_strlcpy(info.id, m->id, sizeof info.id);
	int fd = memfd_create("kite-stream", MFD_CLOEXEC);
	if (fd < 0) {
		kite_throw_errno(error, "memfd_create");
		return -1;
	}
	if (!kite_write_all(fd, &info, sizeof info, "the stream's manifest", error) ||
	    !kite_write_all(fd, m->chunks->data, (gsize)m->chunks->len * sizeof(KiteChunkRef), "the stream's manifest",
			    error)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Close every descriptor but those the downloader needs. */
static void keep_only(const int *keep, int n)
{
	g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
	g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
	const char *e;
	while (d && (e = g_dir_read_name(d))) {
		int fd = atoi(e);
		gboolean wanted = fd == 2;
		for (int i = 0; i < n; i++)
			wanted |= fd == keep[i];
		if (!wanted)
			g_array_append_val(fds, fd);
	}
	g_clear_pointer(&d, g_dir_close); /* its own descriptor is in the list */
	for (guint i = 0; i < fds->len; i++)
		close(g_array_index(fds, int, i));
}

/* The downloader: send the GETs for the rest of the image (the restorer
 * reads the replies), then wait for the restorer's verdict and, on a
 * yes, restore the files' contents.  Never returns.  A connection lost
 * is the restorer's to tell: it reads the socket. */
static void downloader(KiteCkptStream *s, int verdict, KiteCkptStreamContents contents, gpointer user_data,
		       int contents_fd)
{
	/* the restorer gone (killed, or refused the image), nothing to do */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	int keep[] = { kite_ckpt_client_fd(s->client), verdict, contents_fd };
	keep_only(keep, G_N_ELEMENTS(keep));
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1); /* a caller waiting for the end of our stdout waits for the restorer alone */
	}
	g_autoptr(GError) error = NULL;
	if (!kite_ckpt_download_send_rest(s->download, &error))
		_exit(KITE_STREAM_REFUSED);
	char v;
	ssize_t n;
	do
		n = read(verdict, &v, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(KITE_STREAM_REFUSED); /* refused: the files stay as they are */
	if (contents && !contents(user_data, &error)) {
		fprintf(stderr, "ckpt restart: %s\n", error->message);
		_exit(KITE_STREAM_REFUSED);
	}
	_exit(0);
}

/* The restorer's end of the connection: blocking, reads time out as the
 * client's do (its messages say so), at the first unread reply. */
static int data_socket(KiteCkptStream *s, GError **error)
{
	int fd = fcntl(kite_ckpt_client_fd(s->client), F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		kite_throw_errno(error, "dup the connection");
		return -1;
	}
	/* (O_NONBLOCK belongs to the connection, shared with the
	 * downloader: its sends say MSG_DONTWAIT and wait in poll) */
	int fl = fcntl(fd, F_GETFL);
	struct timeval tv = {.tv_sec = (time_t)MAX(1.0, kite_ckpt_download_timeout(s->download))};
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
		kite_throw_errno(error, "set up the connection for the restorer");
		close(fd);
		return -1;
	}
	return fd;
}

gboolean kite_ckpt_stream_start(KiteCkptStream *s, KiteCkptStreamContents contents, gpointer user_data,
				int contents_fd, GError **error)
{
	g_return_val_if_fail(s->downloader == 0, FALSE);
	int verdict[2] = { -1, -1 };
	s->info_fd = write_info(s, error);
	if (s->info_fd < 0)
		return FALSE;
	s->data_fd = data_socket(s, error);
	if (s->data_fd < 0)
		return FALSE;
	if (pipe2(verdict, O_CLOEXEC) < 0) {
		kite_throw_errno(error, "pipe");
		return FALSE;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		kite_throw_errno(error, "fork the downloader");
		close(verdict[0]), close(verdict[1]);
		return FALSE;
	}
	if (pid == 0)
		downloader(s, verdict[0], contents, user_data, contents_fd);
	close(verdict[0]);
	s->verdict_fd = verdict[1];
	s->err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (s->err_fd < 0) /* no stderr to say anything on */
		s->err_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (s->err_fd < 0) {
		kite_throw_errno(error, "open /dev/null");
		return FALSE;
	}
	s->downloader = pid;
	/* the connection is the downloader's (requests) and the restorer's
	 * (replies) now */
	g_clear_pointer(&s->client, kite_ckpt_client_free);
	return TRUE;
}

void kite_ckpt_stream_abort(KiteCkptStream *s)
{
	if (s->downloader <= 0)
		return;
	kill(s->downloader, SIGKILL);
	while (waitpid(s->downloader, NULL, 0) < 0 && errno == EINTR)
		;
	s->downloader = 0;
}

void kite_ckpt_stream_restorer_fds(const KiteCkptStream *s, int out_fds[KITE_CKPT_STREAM_FDS])
{
	out_fds[0] = s->info_fd;
	out_fds[1] = s->data_fd;
	out_fds[2] = s->verdict_fd;
	out_fds[3] = s->err_fd;
}

GPid kite_ckpt_stream_downloader(const KiteCkptStream *s)
{
	return s->downloader;
}
