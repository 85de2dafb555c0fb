/* ckpt-format.h — what the checkpoint server (ckpt_server/) and its
 * clients (common/ckpt-store.c) agree on, declared once: capabilities,
 * chunk names, manifests, the record-aware chunker for libckpt image
 * streams, leases and the collector's decisions.  Pure functions, no
 * I/O, so that unit tests can check each one (tests/unit/test-ckpt-format.c).
 * docs/ckpt-server.md describes the protocol built on them.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ---- capabilities ----
 * "kite-r-" + 32 hex digits (128 random bits from getrandom); r, w, m
 * for read, write, manage.  The server keeps only a digest of each. */
#define KITE_CAP_RANDOM_BYTES 16
#define KITE_CAP_TEXT_LEN (7 + 2 * KITE_CAP_RANDOM_BYTES)
#define KITE_CAP_DIGEST_BYTES 32

typedef enum {
	KITE_CAP_READ = 'r',
	KITE_CAP_WRITE = 'w',
	KITE_CAP_MANAGE = 'm',
} KiteCapKind;

const char *kite_cap_kind_name(KiteCapKind kind); /* "read", "write", "manage" */
/* A new capability of @kind (newly allocated text). */
char *kite_cap_new(KiteCapKind kind, GError **error);
/* Check the form of @text and write its kind. */
gboolean kite_cap_parse(const char *text, KiteCapKind *out_kind, GError **error);
/* The digest the server stores for @text: SHA-256("kite-cap-v1" || text). */
void kite_cap_digest(const char *text, guint8 out[KITE_CAP_DIGEST_BYTES]);
/* Whether @text's digest equals @stored, compared in constant time. */
gboolean kite_cap_check(const char *text, const guint8 stored[KITE_CAP_DIGEST_BYTES]);

/* ---- chunks ---- */
#define KITE_CHUNK_HASH_BYTES 16
/* Largest chunk: a non-PAGES image record (at most 1 MiB of payload)
 * with room to spare; longer records are cut into pieces this size. */
#define KITE_CHUNK_MAX (2u << 20)
#define KITE_CHUNK_RAW (64u << 10) /* chunks of a stream that is not an image */

typedef struct {
	guint8 hash[KITE_CHUNK_HASH_BYTES];
	guint32 len;
	guint32 crc; /* CRC32C of the data */
} KiteChunkRef;

/* XXH3-128 of @data, canonical (big-endian) bytes. */
void kite_chunk_hash(const void *data, gsize len, guint8 out[KITE_CHUNK_HASH_BYTES]);
/* "3f9a…" (32 hex digits) into @buf (33 bytes). */
char *kite_chunk_hash_hex(const guint8 hash[KITE_CHUNK_HASH_BYTES], char buf[33]);

/* ---- manifests ----
 * An image is the concatenation of its chunks, in manifest order.  On
 * disk and on the wire (little-endian):
 *   "KITEMANF" u32 version u32 reserved u64 generation u64 nchunks
 *   u64 total_bytes u64 committed (Unix s) char id[16] (NUL-padded)
 *   KiteChunkRef[nchunks]
 *   u32 CRC32C of everything before it, u32 0 */
#define KITE_MANIFEST_MAGIC "KITEMANF"
#define KITE_MANIFEST_VERSION 1
#define KITE_MANIFEST_HEADER 64
#define KITE_ALLOC_ID_LEN 16 /* hex digits of an allocation id */

typedef struct {
	guint64 generation; /* 1 for the first commit of an allocation */
	guint64 total;      /* bytes of the image */
	gint64 committed;   /* Unix seconds */
	char id[KITE_ALLOC_ID_LEN + 1];
	GArray *chunks; /* KiteChunkRef */
} KiteManifest;

KiteManifest *kite_manifest_new(const char *id);
void kite_manifest_free(KiteManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteManifest, kite_manifest_free)
GBytes *kite_manifest_encode(const KiteManifest *m);
/* Refuses anything but a well-formed, checksummed manifest; @what names
 * it in messages ("image 0123…"). */
KiteManifest *kite_manifest_decode(const guint8 *data, gsize len, const char *what, GError **error);

/* Digest of a list of (hash, length) entries as sent by HAVE: what
 * COMMIT carries so that server and client agree on the whole list. */
typedef struct _KiteManifestDigest KiteManifestDigest;
KiteManifestDigest *kite_manifest_digest_new(void);
void kite_manifest_digest_add(KiteManifestDigest *d, const guint8 *entries, gsize n);
void kite_manifest_digest_finish(KiteManifestDigest *d, guint8 out[16]); /* and frees @d */

/* HAVE entries: hash (16 bytes) then length (u32 LE), 20 bytes each. */
#define KITE_HAVE_ENTRY 20
/* PUT entries: hash, length (u32 LE), then the data. */
#define KITE_PUT_HEADER 20

#define KITE_IMAGE_CHECK_PART 512 /* KITE_IMG_HEADER_SIZE, checked in ckpt-format.c */

/* ---- the record-aware chunker ----
 * Cuts a libckpt image stream (libckpt/image-format.h) so that equal
 * content gives equal chunks from one checkpoint to the next: the
 * 512-byte header, each non-PAGES record whole, and for a PAGES record
 * its headers, its alignment padding and then every 4 KiB page apart.
 * Any other stream is cut every KITE_CHUNK_RAW bytes. */
typedef struct {
	int state;
	guint64 remaining; /* bytes left in the current padding, pages or long record */
	guint64 pages;     /* page bytes that follow the padding */
	guint32 last_type; /* type of the last record begun (KITE_REC_*), 0: none */
} KiteChunker;

void kite_chunker_init(KiteChunker *c);
/* The length of the next chunk of a stream whose next @avail bytes are
 * at @data, or 0 when more bytes are needed to decide (never 0 with
 * @eof unless @avail is 0).  The caller consumes exactly that many. */
gsize kite_chunker_next(KiteChunker *c, const guint8 *data, gsize avail, gboolean eof);
/* After the whole stream: whether it was a libckpt image that ended
 * right after its END record (a stream cut short does not). */
gboolean kite_chunker_image_complete(const KiteChunker *c);
/* Whether the stream began as a libckpt image. */
gboolean kite_chunker_is_image(const KiteChunker *c);

/* ---- checking an image as it streams past ----
 * The checksums of a libckpt image (its header's, every record header's
 * and every payload's CRC32C), checked on the bytes as they arrive, in
 * pieces of any size: `ckpt restart` checks a downloaded image while it
 * is still in the caches instead of reading it all again afterwards.
 * Only a yes: anything wrong (or not an image) is a no, and the reader
 * then checks the image the ordinary way, which says what and where. */
typedef struct {
	int state;
	guint8 part[KITE_IMAGE_CHECK_PART]; /* the header or a record header, as it arrives */
	gsize have;
	guint32 type;      /* of the current record */
	guint64 remaining; /* payload bytes still to come */
	guint32 crc, want; /* of the payload so far, and what its header says */
} KiteImageCheck;

void kite_image_check_init(KiteImageCheck *c);
void kite_image_check_feed(KiteImageCheck *c, const guint8 *data, gsize len);
/* Whether everything fed was one whole image, up to and including its
 * END record and nothing after it, every checksum right. */
gboolean kite_image_check_passed(const KiteImageCheck *c);

/* ---- leases and the collector ---- */
/* When a lease of @requested seconds (<= 0: @default_lease) granted at
 * @now ends; never more than @max_lease from now. */
gint64 kite_lease_expiry(gint64 now, gint64 requested, gint64 default_lease, gint64 max_lease);
gboolean kite_lease_expired(gint64 expires, gint64 now);

typedef enum {
	KITE_GC_KEEP,
	KITE_GC_DELETE,  /* nothing in it is referenced: remove the file */
	KITE_GC_COMPACT, /* copy what is referenced elsewhere, then remove */
} KiteGcAction;

/* What to do with a pack file of @size bytes of which @live are still
 * referenced by a committed manifest.  The pack being appended to is
 * never touched; one is compacted when less than @compact_ratio of it is
 * live. */
KiteGcAction kite_gc_pack_action(guint64 size, guint64 live, gboolean is_current, double compact_ratio);
/* Whether an upload last heard from at @last_activity (monotonic s) is
 * abandoned at @now. */
gboolean kite_gc_upload_abandoned(double last_activity, double now, double upload_timeout);

G_END_DECLS
