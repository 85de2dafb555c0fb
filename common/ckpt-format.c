/* ckpt-format.c — capabilities, chunk names, manifests, the chunker,
 * leases and collector decisions; see ckpt-format.h. */
#include "ckpt-format.h"

#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "auth.h"
#include "libckpt/crc32c.h"
#include "libckpt/image-format.h"
#include "util.h"

/* ---- capabilities ---- */

const char *kite_cap_kind_name(KiteCapKind kind)
{
	switch (kind) {
	case KITE_CAP_READ:
		return "read";
	case KITE_CAP_WRITE:
		return "write";
	case KITE_CAP_MANAGE:
		return "manage";
	}
	return "?";
}

char *kite_cap_new(KiteCapKind kind, GError **error)
{
	guint8 raw[KITE_CAP_RANDOM_BYTES];
	if (!kite_auth_random(raw, sizeof raw, error))
		return NULL;
	GString *s = g_string_sized_new(KITE_CAP_TEXT_LEN + 1);
	g_string_append_printf(s, "kite-%c-", (char)kind);
	for (gsize i = 0; i < sizeof raw; i++)
		g_string_append_printf(s, "%02x", raw[i]);
	return g_string_free(s, FALSE);
}

gboolean kite_cap_parse(const char *text, KiteCapKind *out_kind, GError **error)
{
	gsize len = strlen(text);
	gboolean ok = len == KITE_CAP_TEXT_LEN && g_str_has_prefix(text, "kite-") && text[6] == '-' &&
		      (text[5] == 'r' || text[5] == 'w' || text[5] == 'm');
	for (gsize i = 7; ok && i < len; i++)
		ok = g_ascii_isxdigit(text[i]) && !g_ascii_isupper(text[i]);
	if (!ok)
		return kite_throw(error, KITE_ERROR_INVALID,
				  "not a capability: expected kite-r-, kite-w- or kite-m- and %d hex digits",
				  2 * KITE_CAP_RANDOM_BYTES);
	*out_kind = (KiteCapKind)text[5];
	return TRUE;
}

void kite_cap_digest(const char *text, guint8 out[KITE_CAP_DIGEST_BYTES])
{
	static const char ctx[] = "kite-cap-v1";
	g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(c, (const guchar *)ctx, sizeof ctx);
	g_checksum_update(c, (const guchar *)text, strlen(text));
	gsize n = KITE_CAP_DIGEST_BYTES;
	g_checksum_get_digest(c, out, &n);
}

gboolean kite_cap_check(const char *text, const guint8 stored[KITE_CAP_DIGEST_BYTES])
{
	guint8 d[KITE_CAP_DIGEST_BYTES];
	kite_cap_digest(text, d);
	return kite_auth_equal(d, stored, sizeof d);
}

/* ---- chunks ---- */

void kite_chunk_hash(const void *data, gsize len, guint8 out[KITE_CHUNK_HASH_BYTES])
{
	XXH128_hash_t h = XXH3_128bits(data, len);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, KITE_CHUNK_HASH_BYTES);
}

char *kite_chunk_hash_hex(const guint8 hash[KITE_CHUNK_HASH_BYTES], char buf[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < KITE_CHUNK_HASH_BYTES; i++) {
		buf[2 * i] = hex[hash[i] >> 4];
		buf[2 * i + 1] = hex[hash[i] & 15];
	}
	buf[32] = 0;
	return buf;
}

/* ---- manifests ---- */

KiteManifest *kite_manifest_new(const char *id)
{
	KiteManifest *m = g_new0(KiteManifest, 1);
	g_strlcpy(m->id, id ? id : "", sizeof m->id);
	m->chunks = g_array_new(FALSE, FALSE, sizeof(KiteChunkRef));
	return m;
}

void kite_manifest_free(KiteManifest *m)
{
	if (!m)
		return;
	g_array_unref(m->chunks);
	g_free(m);
}

static void put_u32(guint8 *p, guint32 v)
{
	v = GUINT32_TO_LE(v);
	memcpy(p, &v, 4);
}

static void put_u64(guint8 *p, guint64 v)
{
	v = GUINT64_TO_LE(v);
	memcpy(p, &v, 8);
}

static guint32 get_u32(const guint8 *p)
{
	guint32 v;
	memcpy(&v, p, 4);
	return GUINT32_FROM_LE(v);
}

static guint64 get_u64(const guint8 *p)
{
	guint64 v;
	memcpy(&v, p, 8);
	return GUINT64_FROM_LE(v);
}

GBytes *kite_manifest_encode(const KiteManifest *m)
{
	gsize n = m->chunks->len;
	gsize size = KITE_MANIFEST_HEADER + n * sizeof(KiteChunkRef) + 8;
	guint8 *buf = g_malloc0(size);
	memcpy(buf, KITE_MANIFEST_MAGIC, 8);
	put_u32(buf + 8, KITE_MANIFEST_VERSION);
	put_u64(buf + 16, m->generation);
	put_u64(buf + 24, n);
	put_u64(buf + 32, m->total);
	put_u64(buf + 40, (guint64)m->committed);
	memcpy(buf + 48, m->id, strnlen(m->id, KITE_ALLOC_ID_LEN));
	guint8 *p = buf + KITE_MANIFEST_HEADER;
	for (gsize i = 0; i < n; i++, p += sizeof(KiteChunkRef)) {
		const KiteChunkRef *c = &g_array_index(m->chunks, KiteChunkRef, i);
		memcpy(p, c->hash, KITE_CHUNK_HASH_BYTES);
		put_u32(p + 16, c->len);
		put_u32(p + 20, c->crc);
	}
	put_u32(p, kite_crc32c(0, buf, (gsize)(p - buf)));
	return g_bytes_new_take(buf, size);
}

KiteManifest *kite_manifest_decode(const guint8 *data, gsize len, const char *what, GError **error)
{
	if (len < KITE_MANIFEST_HEADER + 8 || memcmp(data, KITE_MANIFEST_MAGIC, 8) != 0) {
		kite_throw(error, KITE_ERROR_INVALID, "%s: the manifest is corrupt (no manifest header)", what);
		return NULL;
	}
	guint64 n = get_u64(data + 24);
	if (n > (len - KITE_MANIFEST_HEADER - 8) / sizeof(KiteChunkRef) ||
	    KITE_MANIFEST_HEADER + n * sizeof(KiteChunkRef) + 8 != len) {
		kite_throw(error, KITE_ERROR_INVALID,
			   "%s: the manifest is corrupt (%" G_GUINT64_FORMAT " chunks do not fit its %zu bytes)", what,
			   n, len);
		return NULL;
	}
	if (kite_crc32c(0, data, len - 8) != get_u32(data + len - 8) || get_u32(data + len - 4) != 0) {
		kite_throw(error, KITE_ERROR_INVALID, "%s: the manifest is corrupt (checksum mismatch)", what);
		return NULL;
	}
	/* after the checksum: a flipped version byte is corruption, not a
	 * manifest from the future */
	if (get_u32(data + 8) != KITE_MANIFEST_VERSION) {
		kite_throw(error, KITE_ERROR_INVALID, "%s: manifest version %u is not supported (this side reads %u)",
			   what, get_u32(data + 8), KITE_MANIFEST_VERSION);
		return NULL;
	}
	g_autoptr(KiteManifest) m = kite_manifest_new(NULL);
	m->generation = get_u64(data + 16);
	m->total = get_u64(data + 32);
	m->committed = (gint64)get_u64(data + 40);
	memcpy(m->id, data + 48, KITE_ALLOC_ID_LEN);
	m->id[KITE_ALLOC_ID_LEN] = 0;
	g_array_set_size(m->chunks, n);
	const guint8 *p = data + KITE_MANIFEST_HEADER;
	guint64 sum = 0;
	for (guint64 i = 0; i < n; i++, p += sizeof(KiteChunkRef)) {
		KiteChunkRef *c = &g_array_index(m->chunks, KiteChunkRef, i);
		memcpy(c->hash, p, KITE_CHUNK_HASH_BYTES);
		c->len = get_u32(p + 16);
		c->crc = get_u32(p + 20);
		if (c->len == 0 || c->len > KITE_CHUNK_MAX) {
			kite_throw(error, KITE_ERROR_INVALID,
				   "%s: the manifest is corrupt (chunk %" G_GUINT64_FORMAT " has length %u)", what, i,
				   c->len);
			return NULL;
		}
		sum += c->len;
	}
	if (sum != m->total) {
		kite_throw(error, KITE_ERROR_INVALID,
			   "%s: the manifest is corrupt (chunks add up to %" G_GUINT64_FORMAT " bytes, not %" G_GUINT64_FORMAT
			   ")",
			   what, sum, m->total);
		return NULL;
	}
	return g_steal_pointer(&m);
}

struct _KiteManifestDigest {
	XXH3_state_t *st;
};

KiteManifestDigest *kite_manifest_digest_new(void)
{
	KiteManifestDigest *d = g_new0(KiteManifestDigest, 1);
	d->st = XXH3_createState();
	XXH3_128bits_reset(d->st);
	return d;
}

void kite_manifest_digest_add(KiteManifestDigest *d, const guint8 *entries, gsize n)
{
	XXH3_128bits_update(d->st, entries, n * KITE_HAVE_ENTRY);
}

void kite_manifest_digest_finish(KiteManifestDigest *d, guint8 out[16])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(d->st));
	memcpy(out, c.digest, 16);
	XXH3_freeState(d->st);
	g_free(d);
}

/* ---- the chunker ---- */

enum { CH_START, CH_RECORD, CH_PAD, CH_PAGES, CH_LONG, CH_RAW };

void kite_chunker_init(KiteChunker *c)
{
	memset(c, 0, sizeof *c);
	c->state = CH_START;
}

/* @want bytes if available (or the rest at the end), else 0. */
static gsize take(gsize want, gsize avail, gboolean eof)
{
	if (avail >= want)
		return want;
	return eof ? avail : 0;
}

gsize kite_chunker_next(KiteChunker *c, const guint8 *data, gsize avail, gboolean eof)
{
	if (avail == 0)
		return 0;
	switch (c->state) {
	case CH_START:
		if (avail < KITE_IMG_HEADER_SIZE && !eof)
			return 0;
		if (avail >= KITE_IMG_HEADER_SIZE && memcmp(data, KITE_IMG_MAGIC, 8) == 0) {
			c->state = CH_RECORD;
			return KITE_IMG_HEADER_SIZE;
		}
		c->state = CH_RAW;
		return kite_chunker_next(c, data, avail, eof);
	case CH_RECORD: {
		KiteImgRec r;
		if (avail < sizeof r) {
			c->last_type = 0;
			return eof ? avail : 0;
		}
		memcpy(&r, data, sizeof r);
		c->last_type = r.type;
		if (avail < sizeof r + r.len && r.len <= KITE_CHUNK_MAX - sizeof r && eof)
			c->last_type = 0; /* cut short */
		if (r.type == KITE_REC_PAGES && r.len >= sizeof(KiteImgPages)) {
			if (avail < sizeof r + sizeof(KiteImgPages))
				return take(sizeof r + sizeof(KiteImgPages), avail, eof);
			KiteImgPages pg;
			memcpy(&pg, data + sizeof r, sizeof pg);
			guint64 rest = r.len - sizeof pg;
			if (pg.len <= rest && pg.len % 4096 == 0) {
				c->remaining = rest - pg.len; /* padding */
				c->pages = pg.len;
				c->state = c->remaining ? CH_PAD : (c->pages ? CH_PAGES : CH_RECORD);
				if (c->state == CH_PAGES)
					c->remaining = c->pages;
				return sizeof r + sizeof pg;
			}
		}
		if (r.len <= KITE_CHUNK_MAX - sizeof r)
			return take(sizeof r + r.len, avail, eof);
		/* A record longer than a chunk (not made by libckpt): in pieces. */
		c->state = CH_LONG;
		c->remaining = r.len;
		return sizeof r;
	}
	case CH_PAD: {
		gsize n = take(MIN(c->remaining, KITE_CHUNK_MAX), avail, eof);
		c->remaining -= n;
		if (c->remaining == 0) {
			c->remaining = c->pages;
			c->state = c->pages ? CH_PAGES : CH_RECORD;
		}
		return n;
	}
	case CH_PAGES: {
		gsize n = take(MIN(c->remaining, 4096), avail, eof);
		c->remaining -= n;
		if (c->remaining == 0)
			c->state = CH_RECORD;
		return n;
	}
	case CH_LONG: {
		gsize n = take(MIN(c->remaining, KITE_CHUNK_MAX), avail, eof);
		c->remaining -= n;
		if (c->remaining == 0)
			c->state = CH_RECORD;
		return n;
	}
	default:
		return take(KITE_CHUNK_RAW, avail, eof);
	}
}

gboolean kite_chunker_image_complete(const KiteChunker *c)
{
	return c->state == CH_RECORD && c->last_type == KITE_REC_END;
}

gboolean kite_chunker_is_image(const KiteChunker *c)
{
	return c->state != CH_START && c->state != CH_RAW;
}

/* ---- checking an image as it streams past ---- */

G_STATIC_ASSERT(KITE_IMAGE_CHECK_PART == KITE_IMG_HEADER_SIZE && sizeof(KiteImgHeader) == KITE_IMG_HEADER_SIZE);

enum { IC_HEADER, IC_RECORD, IC_PAYLOAD, IC_DONE, IC_FAILED };

void kite_image_check_init(KiteImageCheck *c)
{
	memset(c, 0, sizeof *c);
	c->state = IC_HEADER;
}

/* A record's payload is complete: right, and was it the END record? */
static void payload_done(KiteImageCheck *c)
{
	if (c->crc != c->want)
		c->state = IC_FAILED;
	else
		c->state = c->type == KITE_REC_END ? IC_DONE : IC_RECORD;
}

void kite_image_check_feed(KiteImageCheck *c, const guint8 *data, gsize len)
{
	while (len > 0 && c->state != IC_FAILED) {
		if (c->state == IC_DONE) { /* bytes after END: not an image as written */
			c->state = IC_FAILED;
			return;
		}
		if (c->state == IC_PAYLOAD) {
			gsize n = (gsize)MIN((guint64)len, c->remaining);
			c->crc = kite_crc32c(c->crc, data, n);
			c->remaining -= n;
			data += n;
			len -= n;
			if (c->remaining == 0)
				payload_done(c);
			continue;
		}
		gsize need = c->state == IC_HEADER ? sizeof(KiteImgHeader) : sizeof(KiteImgRec);
		gsize n = MIN(len, need - c->have);
		memcpy(c->part + c->have, data, n);
		c->have += n;
		data += n;
		len -= n;
		if (c->have < need)
			continue;
		c->have = 0;
		if (c->state == IC_HEADER) {
			KiteImgHeader h;
			memcpy(&h, c->part, sizeof h);
			guint32 crc = h.header_crc;
			h.header_crc = 0;
			c->state = memcmp(h.magic, KITE_IMG_MAGIC, 8) == 0 && kite_crc32c(0, &h, sizeof h) == crc ? IC_RECORD
														  : IC_FAILED;
			continue;
		}
		KiteImgRec r;
		memcpy(&r, c->part, sizeof r);
		guint32 hc = r.hdr_crc;
		r.hdr_crc = 0;
		if (kite_crc32c(0, &r, sizeof r) != hc) {
			c->state = IC_FAILED;
			continue;
		}
		c->type = r.type;
		c->remaining = r.len;
		c->want = r.data_crc;
		c->crc = 0;
		c->state = IC_PAYLOAD;
		if (r.len == 0)
			payload_done(c);
	}
}

gboolean kite_image_check_passed(const KiteImageCheck *c)
{
	return c->state == IC_DONE;
}

/* ---- leases and the collector ---- */

gint64 kite_lease_expiry(gint64 now, gint64 requested, gint64 default_lease, gint64 max_lease)
{
	gint64 lease = requested > 0 ? requested : default_lease;
	if (lease > max_lease)
		lease = max_lease;
	if (lease < 1)
		lease = 1;
	return now + lease;
}

gboolean kite_lease_expired(gint64 expires, gint64 now)
{
	return now >= expires;
}

KiteGcAction kite_gc_pack_action(guint64 size, guint64 live, gboolean is_current, double compact_ratio)
{
	if (is_current)
		return KITE_GC_KEEP;
	if (live == 0)
		return KITE_GC_DELETE;
	if ((double)live < compact_ratio * (double)size)
		return KITE_GC_COMPACT;
	return KITE_GC_KEEP;
}

gboolean kite_gc_upload_abandoned(double last_activity, double now, double upload_timeout)
{
	return now - last_activity > upload_timeout;
}
