/* ckpt-server.h — the checkpoint server's state (docs/ckpt-server.md).
 *
 * store.c     allocations (SQLite), pack files of chunks and their index
 *             (in memory, rebuilt from the packs at start), manifests
 * requests.c  the protocol: allocate, upload sessions, read, manage, list
 * gc.c        the collector: expired leases, abandoned uploads, packs
 * advertise.c the server's ad in the schedd's collector; status figures
 * main.c      options, config, start-up, --status, the main loop */
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include "ckpt-format.h"
#include "ckpt-store.h"
#include "config.h"
#include "server.h"

G_BEGIN_DECLS

/* Where a chunk lives: the chunk header (KiteCkptPackHeader) at @off in
 * pack @pack, the data right after it.  The index's key is @hash. */
typedef struct {
	guint8 hash[KITE_CHUNK_HASH_BYTES];
	guint32 pack;
	guint32 len;
	guint32 crc;
	guint64 off;
} KiteChunkLoc;

/* A chunk in a pack file: this header, then len bytes of data. */
#define KITE_PACK_MAGIC 0x3148434bu /* "KCH1" */
typedef struct {
	guint32 magic, len, crc, reserved;
	guint8 hash[KITE_CHUNK_HASH_BYTES];
} KiteCkptPackHeader;

typedef struct {
	guint32 id;
	int fd;
	guint64 size;    /* bytes written */
	guint64 durable; /* bytes known to be on disk (fdatasync'd) */
	guint64 live;    /* referenced bytes at the last collection */
	void *map;       /* read-only mapping for reads, or NULL */
	gsize map_len;
} KitePack;

typedef struct {
	gint64 id;
	char *name;
	GHashTable *index; /* KiteChunkLoc* (key and value) */
	GHashTable *packs; /* id -> KitePack* */
	KitePack *current; /* appended to; NULL: a new one on the next write */
	guint32 next_pack;
	guint64 used;      /* bytes of its packs */
	guint64 live;      /* referenced bytes at the last collection */
	guint uploads;     /* upload sessions open */
	guint epoch;       /* bumped when an upload starts: stops a collection in progress */
} KiteOwner;

typedef struct {
	char id[KITE_ALLOC_ID_LEN + 1];
	KiteOwner *owner;
	guint8 read_digest[KITE_CAP_DIGEST_BYTES], write_digest[KITE_CAP_DIGEST_BYTES],
	    manage_digest[KITE_CAP_DIGEST_BYTES];
	gint64 created, expires;
	guint64 expected;
	char state[12]; /* "active", "expired", "deleted" */
	guint64 generation, size, nchunks; /* of the committed manifest; generation 0: none */
	KiteManifest *manifest;            /* cached for readers, or NULL */
} KiteAlloc;

typedef struct {
	guint64 total_space, owner_quota, max_image_size, pack_size;
	gint64 default_lease, max_lease, retention;
	double upload_timeout, gc_interval, compact_below;
} KiteCkptLimits;

typedef struct _KiteCkptGc KiteCkptGc;
typedef struct _KiteCkptAdvert KiteCkptAdvert;

typedef struct {
	KiteConfig *config;
	char *state_dir;
	char *address;
	GBytes *key;
	KiteServer *server;
	KiteCkptLimits limits;
	sqlite3 *db;
	GHashTable *owners;  /* name -> KiteOwner* */
	GHashTable *allocs;  /* id -> KiteAlloc* */
	GHashTable *digests; /* GBytes digest -> KiteAlloc* (read, write and manage) */
	GHashTable *uploads; /* upload id -> upload session (requests.c) */
	guint64 used;        /* bytes of all packs */
	KiteCkptGc *gc;
	KiteCkptAdvert *advert; /* NULL: not advertising (no `schedd`) */
} KiteCkptServer;

/* store.c */
gboolean kite_store_open(KiteCkptServer *s, GError **error);
void kite_store_close(KiteCkptServer *s);
KiteOwner *kite_store_owner(KiteCkptServer *s, const char *name, GError **error);
KiteAlloc *kite_store_alloc_new(KiteCkptServer *s, KiteOwner *o, guint64 expected, gint64 expires,
				char *out_caps[3], GError **error);
gboolean kite_store_alloc_save(KiteCkptServer *s, KiteAlloc *a, GError **error);
/* Mark @a expired or deleted and drop its manifest. */
gboolean kite_store_alloc_retire(KiteCkptServer *s, KiteAlloc *a, const char *state, GError **error);
/* Forget a retired allocation for good (row and maps). */
void kite_store_alloc_forget(KiteCkptServer *s, KiteAlloc *a);
KiteChunkLoc *kite_store_lookup(KiteOwner *o, const guint8 hash[KITE_CHUNK_HASH_BYTES]);
/* Append chunks (hash, data, len; their hashes already verified) to
 * @o's current pack and index them. */
gboolean kite_store_append(KiteCkptServer *s, KiteOwner *o, guint n, const guint8 *const *hashes,
			   const guint8 *const *data, const guint32 *lens, GError **error);
/* fdatasync every pack of @o with bytes not yet durable. */
gboolean kite_store_sync(KiteCkptServer *s, KiteOwner *o, GError **error);
/* The chunk's data, checked against its header and CRC32C; NULL with
 * @error naming the image and the chunk (@index in its manifest) if it is
 * missing or corrupt. */
const guint8 *kite_store_read_chunk(KiteCkptServer *s, KiteOwner *o, const KiteChunkLoc *loc, const char *image_id,
				    guint64 index, GError **error);
/* The pack holding chunk @loc, mapped at least as far as the chunk (its
 * pack header at p->map + loc->off, the data after it); NULL with @error
 * (KITE_ERROR_NOT_FOUND: the pack does not hold it).  Mapping a pack
 * again (it grew) unmaps the old mapping: a pointer into it is good
 * until the loop next maps or drops that pack. */
KitePack *kite_store_chunk_pack(KiteOwner *o, const KiteChunkLoc *loc, GError **error);
/* Whether the chunk at @at (its pack header, then its data) is the one
 * named @hash of @len bytes and CRC32C @crc, and its data passes that
 * CRC.  Reads those bytes and nothing else: readahead workers call it. */
gboolean kite_store_chunk_intact(const guint8 *at, const guint8 hash[KITE_CHUNK_HASH_BYTES], guint32 len, guint32 crc);
gboolean kite_store_commit(KiteCkptServer *s, KiteAlloc *a, KiteManifest *m, GError **error);
/* The committed manifest of @a (cached), or NULL with @error. */
KiteManifest *kite_store_manifest(KiteCkptServer *s, KiteAlloc *a, GError **error);
/* Raw manifest file bytes (for CKPT_READ), verified. */
GBytes *kite_store_manifest_bytes(KiteCkptServer *s, KiteAlloc *a, GError **error);
void kite_store_pack_delete(KiteCkptServer *s, KiteOwner *o, KitePack *p);
gboolean kite_store_pack_copy_chunk(KiteCkptServer *s, KiteOwner *o, KiteChunkLoc *loc, GError **error);
guint64 kite_store_capacity(KiteCkptServer *s);
guint64 kite_store_free(KiteCkptServer *s);

/* requests.c */
void kite_ckpt_handle(KiteServerConn *conn, guint type, GVariant *body, gpointer user_data);
void kite_ckpt_uploads_init(KiteCkptServer *s);
/* Drop upload sessions idle for longer than the upload timeout. */
void kite_ckpt_uploads_expire(KiteCkptServer *s, double now);

/* readahead.c: the reply to a reader's next CKPT_GET assembled (its
 * chunks checked and copied) on a worker thread while the loop sends. */
void kite_readahead_init(void);
/* Wait for the workers and drop the replies kept ready. */
void kite_readahead_shutdown(void);
/* Wait until no worker holds a pointer into a pack mapping: before any
 * munmap of one. */
void kite_readahead_quiesce(void);
/* The reply to chunks [@first, @first + @count) of @a's image at
 * @generation if it was assembled ahead and every chunk held (waiting for
 * it if a worker is still at it; g_free() it), else NULL: answer on the
 * loop. */
guint8 *kite_readahead_take(const KiteAlloc *a, guint64 generation, guint64 first, guint32 count, gsize *out_len);
/* Assemble the reply to the GET a reader of @a's manifest @m will send
 * next, the one starting at chunk @first. */
void kite_readahead_start(KiteAlloc *a, const KiteManifest *m, guint64 first);

/* advertise.c */
/* Address, space and load now (@out->address is borrowed). */
void kite_ckpt_status(KiteCkptServer *s, KiteCkptServerStatus *out);
/* Advertise to the schedd named by config key `schedd` (nothing if
 * empty) now and every `advertise_interval`. */
gboolean kite_ckpt_advertise_start(KiteCkptServer *s, GError **error);
/* Withdraw the ad and stop. */
void kite_ckpt_advertise_stop(KiteCkptServer *s);

/* gc.c */
KiteCkptGc *kite_gc_start(KiteCkptServer *s);
void kite_gc_stop(KiteCkptGc *gc);
/* Run one whole collection now (start-up). */
void kite_gc_collect(KiteCkptServer *s);
/* Run one as soon as the loop is idle: an upload refused over a limit
 * leaves chunks that count against the quota until collected. */
void kite_gc_soon(KiteCkptServer *s);

G_END_DECLS
