/* `ckpt restart` from a checkpoint server, streamed into the restorer
 * (ckpt-stream.c; the protocol with the restorer is
 * libckpt/restore/stream.h). */
#ifndef KITE_CKPT_STREAM_H
#define KITE_CKPT_STREAM_H

#include <glib.h>

typedef struct _KiteCkptStream KiteCkptStream;

/* Connect (capabilities as for kite_ckpt_server_fetch()), read the
 * manifest and download the image's head — whole replies, every chunk
 * checked against its name — into a memfd, up to the first PAGES record.
 * @out_name: "server:HOST:PORT/ID" for messages (set even on failure
 * once known). */
KiteCkptStream *kite_ckpt_stream_open(const char *server, const char *caps_file, const char *dir, char **out_name,
				      GError **error);
/* Kills and reaps the downloader if it runs (a restart refused before
 * the exec), closes what is left. */
void kite_ckpt_stream_free(KiteCkptStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteCkptStream, kite_ckpt_stream_free)

/* The memfd with the bytes downloaded so far, at offset 0. */
int kite_ckpt_stream_head_fd(const KiteCkptStream *s);
/* Whether the whole image is in the memfd already (a small one): then
 * it is restarted from there like a file.  @out_checked: whether its
 * own checksums were checked on the way in. */
gboolean kite_ckpt_stream_complete(const KiteCkptStream *s, gboolean *out_checked);

/* Writes the contents of the files the program had open for writing,
 * once the restorer has checked the whole image (in the downloader). */
typedef gboolean (*KiteCkptStreamContents)(gpointer user_data, GError **error);

/* Fork the downloader, which takes the connection over (and keeps
 * @contents_fd open for @contents, closing the rest).  Afterwards
 * the restorer's descriptors are kite_ckpt_stream_restorer_fds():
 * INFO, DATA, VERDICT and ERR, a copy of this stderr for its messages
 * (all close-on-exec: dup them to keep them). */
#define KITE_CKPT_STREAM_FDS 4
gboolean kite_ckpt_stream_start(KiteCkptStream *s, KiteCkptStreamContents contents, gpointer user_data,
				int contents_fd, GError **error);
void kite_ckpt_stream_restorer_fds(const KiteCkptStream *s, int out_fds[KITE_CKPT_STREAM_FDS]);
GPid kite_ckpt_stream_downloader(const KiteCkptStream *s);
/* Stop the downloader (the exec of the restorer failed). */
void kite_ckpt_stream_abort(KiteCkptStream *s);

#endif
