/* ckpt-store.h — the client side of the checkpoint server (ckpt_server/,
 * docs/ckpt-server.md): connect and authenticate, allocate, upload an
 * image from a byte stream (chunked record-aware, only the chunks the
 * server lacks are sent), download one to a descriptor (every chunk
 * verified), renew, delete, stat and list.  Blocking, with timeouts; for
 * the `ckpt` command, the uploader the checkpoint child starts, `pool
 * ckpt` and daemons.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

#include "ckpt-format.h"

G_BEGIN_DECLS

typedef struct _KiteCkptClient KiteCkptClient;

/* Connect to the server at HOST:PORT and authenticate: as a daemon when
 * $KITE_POOL_KEY_FILE names the pool key (name "ckpt-client"), else with
 * a user token ($KITE_TOKEN, the file $KITE_TOKEN_FILE, or
 * ~/.config/kite/token). */
KiteCkptClient *kite_ckpt_client_connect(const char *address, double timeout, GError **error);
void kite_ckpt_client_free(KiteCkptClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteCkptClient, kite_ckpt_client_free)
const char *kite_ckpt_client_address(const KiteCkptClient *c);
/* The connection's socket (a process that takes the connection over). */
int kite_ckpt_client_fd(const KiteCkptClient *c);

typedef struct {
	char *server; /* HOST:PORT */
	char *id;
	char *read, *write, *manage;
} KiteCkptCaps;
void kite_ckpt_caps_clear(KiteCkptCaps *caps);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KiteCkptCaps, kite_ckpt_caps_clear)

/* A caps file: lines "server HOST:PORT", "id ID", "read CAP", "write CAP",
 * "manage CAP" (any may be missing).  Saved with mode 0600, atomically;
 * loading refuses a file that others can read. */
gboolean kite_ckpt_caps_save(const char *path, const KiteCkptCaps *caps, GError **error);
gboolean kite_ckpt_caps_load(const char *path, KiteCkptCaps *out_caps, GError **error);

typedef struct {
	char *id;
	char *owner;
	gint64 created;
	guint64 size, chunks, expected;
	gint64 expires;
	char *state; /* "empty" (nothing committed yet), "committed", "expired", "deleted" */
} KiteCkptInfo;
void kite_ckpt_info_clear(KiteCkptInfo *info);
void kite_ckpt_info_free(KiteCkptInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KiteCkptInfo, kite_ckpt_info_clear)

/* Allocate space for @owner ("" = the authenticated user; daemons must
 * name one) of about @expected bytes for @lease seconds (0: the server's
 * default).  @out_caps->server is set to the client's address. */
gboolean kite_ckpt_client_allocate(KiteCkptClient *c, const char *owner, guint64 expected, gint64 lease,
				   KiteCkptCaps *out_caps, GError **error);

typedef struct {
	guint64 bytes;       /* of the image */
	guint64 chunks;
	guint64 bytes_sent;  /* on the wire: chunk data, manifest entries, framing */
	guint64 chunks_sent; /* chunks the server lacked */
} KiteCkptUploadStats;

/* Read an image stream from @fd to its end and store it under
 * @write_cap, replacing the image committed there once the new one is
 * committed (atomically).  Returns after the commit. */
gboolean kite_ckpt_client_upload(KiteCkptClient *c, const char *write_cap, int fd, KiteCkptUploadStats *out_stats,
				 KiteCkptInfo *out_info, GError **error);

/* Write the image committed under @read_cap to @fd from its current
 * offset, checking every chunk's hash.  A chunk the server reports
 * corrupt, or one that fails here, stops the download with an error
 * naming the chunk.  @out_image_checked: whether the bytes were a whole
 * libckpt image whose own checksums (header, records, payloads) all
 * held, checked on the way (kite_image_check_feed()). */
gboolean kite_ckpt_client_download(KiteCkptClient *c, const char *read_cap, int fd, guint64 *out_bytes,
				   gboolean *out_image_checked, GError **error);

/* How many chunks a reader asks for in the CKPT_GET that starts at chunk
 * @first of @m: whole chunks up to 2 MiB, at least one.  The server
 * assembles the reply to a reader's next GET ahead by the same rule
 * (ckpt_server/readahead.c). */
guint32 kite_ckpt_get_count(const KiteManifest *m, guint64 first);

/* A download taken step by step, for `ckpt restart` from a server
 * (libckpt/cmd/ckpt-stream.c): the first replies into a descriptor,
 * checked here, then the rest read from the socket by a reader that
 * checks every chunk where it lands (the restorer), while a fork()ed
 * child sends the GETs for it.  Up to six GETs of 2 MiB are in flight
 * while replies are read here; they carry over from one step to the
 * next, and to the child. */
typedef struct _KiteCkptDownload KiteCkptDownload;
/* READ: fetch and decode the manifest.  @c must outlive the download. */
KiteCkptDownload *kite_ckpt_download_begin(KiteCkptClient *c, const char *read_cap, GError **error);
void kite_ckpt_download_free(KiteCkptDownload *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteCkptDownload, kite_ckpt_download_free)
const KiteManifest *kite_ckpt_download_manifest(const KiteCkptDownload *d);
guint64 kite_ckpt_download_chunks_done(const KiteCkptDownload *d);
guint64 kite_ckpt_download_bytes_done(const KiteCkptDownload *d);
gboolean kite_ckpt_download_finished(const KiteCkptDownload *d);
/* The next reply: every chunk checked against its name, then written to
 * @fd.  Errors as kite_ckpt_client_download()'s. */
gboolean kite_ckpt_download_next(KiteCkptDownload *d, int fd, GError **error);
/* Whether the bytes so far were a whole image whose own checksums held. */
gboolean kite_ckpt_download_image_checked(const KiteCkptDownload *d);
/* Send the GETs for every chunk not yet asked for, at once, reading
 * nothing: another process (the restorer) reads the replies from the
 * same socket, in order, after those of the GETs already in flight (the
 * server answers one at a time; TCP holds the rest back). */
gboolean kite_ckpt_download_send_rest(KiteCkptDownload *d, GError **error);
/* The server's address and the connection's timeout in seconds, as
 * messages name them. */
const char *kite_ckpt_download_server(const KiteCkptDownload *d);
double kite_ckpt_download_timeout(const KiteCkptDownload *d);

/* @op: "stat", "renew" (for @lease seconds, 0: the default) or "delete".
 * @cap is a manage capability, or an allocation id (admins). */
gboolean kite_ckpt_client_manage(KiteCkptClient *c, const char *cap, const char *op, gint64 lease,
				 KiteCkptInfo *out_info, GError **error);

/* Allocations of @owner ("" = all the caller may see).  KiteCkptInfo*. */
GPtrArray *kite_ckpt_client_list(KiteCkptClient *c, const char *owner, GError **error);

typedef struct {
	char *address;
	guint64 capacity, used, live, free; /* live: referenced by committed images at the last collection */
	guint connections, uploads;
} KiteCkptServerStatus;
gboolean kite_ckpt_client_status(KiteCkptClient *c, KiteCkptServerStatus *out, GError **error);

/* Fill @out from a CKPT_INFO body or list entry "(ssxtttxs)". */
void kite_ckpt_info_from_variant(GVariant *v, KiteCkptInfo *out);

G_END_DECLS
