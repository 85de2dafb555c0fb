/* requests.c — the checkpoint server's protocol (docs/ckpt-server.md):
 * every request names its allocation by a capability (or, for an upload
 * in progress, by the upload id that CKPT_WRITE handed out), so no
 * per-connection state is needed and an upload is found again by id.
 * The capability's kind decides what may be done; the connection's
 * identity only decides who may allocate and list. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "ckpt-server.h"
#include "util.h"

#define MAX_HAVE_ENTRIES 65536
#define MAX_GET_CHUNKS 65536
#define MAX_GET_BYTES (16u << 20)
#define MAX_OWNER_NAME 256

typedef struct {
	char id[33];
	KiteAlloc *alloc;
	GByteArray *entries; /* HAVE entries, the manifest so far */
	KiteManifestDigest *digest;
	guint64 bytes;
	guint64 received; /* bytes of HAVE entries and PUT bodies: what the upload sent */
	double last;
} Upload;

static void upload_free(Upload *u)
{
	u->alloc->owner->uploads--;
	g_byte_array_unref(u->entries);
	if (u->digest) {
		guint8 d[16];
		kite_manifest_digest_finish(u->digest, d);
	}
	g_free(u);
}

void kite_ckpt_uploads_init(KiteCkptServer *s)
{
	s->uploads = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)upload_free);
}

void kite_ckpt_uploads_expire(KiteCkptServer *s, double now)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, s->uploads);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Upload *u = v;
		if (kite_gc_upload_abandoned(u->last, now, s->limits.upload_timeout)) {
			g_message("upload %.8s… to image %s abandoned (nothing for %.0f s)", u->id, u->alloc->id,
				  s->limits.upload_timeout);
			g_hash_table_iter_remove(&it);
		}
	}
}

static const char *alloc_state(const KiteAlloc *a)
{
	if (!g_str_equal(a->state, "active"))
		return a->state;
	if (a->generation == G_MAXUINT64)
		return "damaged";
	return a->generation ? "committed" : "empty";
}

static GVariant *info_variant(const KiteAlloc *a)
{
	return g_variant_new("(ssxtttxs)", a->id, a->owner->name, a->created, a->size, a->nchunks, a->expected,
			     a->expires, alloc_state(a));
}

static char *format_time(gint64 t)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_unix_utc(t);
	return d ? g_date_time_format(d, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");
}

/* Refuse requests on an allocation whose lease has ended or that was
 * deleted; each with its own message. */
static gboolean usable(KiteServerConn *conn, KiteAlloc *a)
{
	gint64 now = kite_now_wall();
	if (g_str_equal(a->state, "deleted")) {
		kite_server_refuse(conn, KITE_ERROR_STATE, "allocation %s was deleted", a->id);
		return FALSE;
	}
	if (g_str_equal(a->state, "expired") || kite_lease_expired(a->expires, now)) {
		g_autofree char *when = format_time(a->expires);
		kite_server_refuse(conn, KITE_ERROR_STATE,
				   "allocation %s: its lease expired at %s (%" G_GINT64_FORMAT
				   " s ago); renew leases before they end",
				   a->id, when, now - a->expires);
		return FALSE;
	}
	return TRUE;
}

static const char *kind_verb(KiteCapKind k)
{
	return k == KITE_CAP_READ ? "read an image" : k == KITE_CAP_WRITE ? "write an image" : "manage an allocation";
}

/* The allocation @cap names, if it is of kind @want. */
static KiteAlloc *by_cap(KiteCkptServer *s, KiteServerConn *conn, const char *cap, KiteCapKind want)
{
	KiteCapKind kind;
	g_autoptr(GError) error = NULL;
	if (!kite_cap_parse(cap, &kind, &error)) {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "%s", error->message);
		return NULL;
	}
	if (kind != want) {
		kite_server_refuse(conn, KITE_ERROR_PERMISSION, "a %s capability cannot %s: that takes the %s capability",
				   kite_cap_kind_name(kind), kind_verb(want), kite_cap_kind_name(want));
		return NULL;
	}
	guint8 d[KITE_CAP_DIGEST_BYTES];
	kite_cap_digest(cap, d);
	g_autoptr(GBytes) key = g_bytes_new_static(d, sizeof d);
	KiteAlloc *a = g_hash_table_lookup(s->digests, key);
	const guint8 *stored = !a ? NULL
			       : want == KITE_CAP_READ	? a->read_digest
			       : want == KITE_CAP_WRITE ? a->write_digest
							: a->manage_digest;
	if (!a || !kite_cap_check(cap, stored)) {
		kite_server_refuse(conn, KITE_ERROR_NOT_FOUND,
				   "no allocation has this %s capability (never issued by this server, mistyped, forged, "
				   "or forgotten long after its lease ended)",
				   kite_cap_kind_name(want));
		return NULL;
	}
	return a;
}

static void handle_allocate(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *owner;
	guint64 expected;
	gint64 lease;
	g_variant_get(body, "(&stx)", &owner, &expected, &lease);
	KiteRole role = kite_server_conn_role(conn);
	const char *me = kite_server_conn_identity(conn);
	if (role == KITE_ROLE_DAEMON) {
		if (!*owner) {
			kite_server_refuse(conn, KITE_ERROR_INVALID, "a daemon must say whose allocation this is (owner)");
			return;
		}
	} else if (!*owner) {
		owner = me;
	} else if (!g_str_equal(owner, me) && role != KITE_ROLE_ADMIN) {
		kite_server_refuse(conn, KITE_ERROR_PERMISSION, "%s may allocate only for themselves, not for %s", me,
				   owner);
		return;
	}
	if (strlen(owner) > MAX_OWNER_NAME) {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "an owner name has at most %d bytes", MAX_OWNER_NAME);
		return;
	}
	if (expected > s->limits.max_image_size) {
		kite_server_refuse(conn, KITE_ERROR_LIMIT,
				   "an image of %" G_GUINT64_FORMAT " bytes is over this server's max_image_size (%" G_GUINT64_FORMAT
				   " bytes)",
				   expected, s->limits.max_image_size);
		return;
	}
	g_autoptr(GError) error = NULL;
	KiteOwner *o = kite_store_owner(s, owner, &error);
	char *caps[3] = {NULL, NULL, NULL};
	gint64 expires = kite_lease_expiry(kite_now_wall(), lease, s->limits.default_lease, s->limits.max_lease);
	KiteAlloc *a = o ? kite_store_alloc_new(s, o, expected, expires, caps, &error) : NULL;
	if (!a) {
		kite_server_reply_error(conn, error, FALSE);
		return;
	}
	g_message("%s: allocated %s for %s (lease until %" G_GINT64_FORMAT ")", kite_server_conn_peer(conn), a->id,
		  owner, expires);
	kite_server_reply(conn, KITE_MSG_CKPT_ALLOCATED, g_variant_new("(ssss)", a->id, caps[0], caps[1], caps[2]));
	for (int i = 0; i < 3; i++)
		g_free(caps[i]);
}

static void handle_write(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *cap;
	g_variant_get(body, "(&s)", &cap);
	KiteAlloc *a = by_cap(s, conn, cap, KITE_CAP_WRITE);
	if (!a || !usable(conn, a))
		return;
	guint8 raw[16];
	g_autoptr(GError) error = NULL;
	if (!kite_auth_random(raw, sizeof raw, &error)) {
		kite_server_reply_error(conn, error, FALSE);
		return;
	}
	Upload *u = g_new0(Upload, 1);
	for (int i = 0; i < 16; i++)
		sprintf(u->id + 2 * i, "%02x", raw[i]);
	u->alloc = a;
	u->entries = g_byte_array_new();
	u->digest = kite_manifest_digest_new();
	u->last = kite_now_monotonic();
	a->owner->uploads++;
	a->owner->epoch++; /* a collection of this owner in progress stops */
	g_hash_table_insert(s->uploads, u->id, u);
	kite_server_reply(conn, KITE_MSG_CKPT_INFO,
			  g_variant_new("(ssxtttxs)", u->id, a->owner->name, a->created, a->size, a->nchunks,
					a->expected, a->expires, "uploading"));
}

static Upload *upload_get(KiteCkptServer *s, KiteServerConn *conn, const char *id)
{
	Upload *u = g_hash_table_lookup(s->uploads, id);
	if (!u) {
		kite_server_refuse(conn, KITE_ERROR_NOT_FOUND,
				   "no upload %s here (abandoned after %.0f s without news, or the server restarted); "
				   "start again with CKPT_WRITE",
				   id, s->limits.upload_timeout);
		return NULL;
	}
	if (!usable(conn, u->alloc)) {
		g_hash_table_remove(s->uploads, id);
		return NULL;
	}
	u->last = kite_now_monotonic();
	return u;
}

static void handle_have(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *id;
	g_autoptr(GVariant) ev = NULL;
	g_variant_get(body, "(&s@ay)", &id, &ev);
	Upload *u = upload_get(s, conn, id);
	if (!u)
		return;
	gsize len;
	const guint8 *e = g_variant_get_fixed_array(ev, &len, 1);
	if (len % KITE_HAVE_ENTRY || len / KITE_HAVE_ENTRY > MAX_HAVE_ENTRIES) {
		kite_server_refuse(conn, KITE_ERROR_PROTOCOL,
				   "CKPT_HAVE carries whole entries of %d bytes, at most %d of them", KITE_HAVE_ENTRY,
				   MAX_HAVE_ENTRIES);
		return;
	}
	gsize n = len / KITE_HAVE_ENTRY;
	GArray *missing = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (gsize i = 0; i < n; i++) {
		guint32 l;
		memcpy(&l, e + i * KITE_HAVE_ENTRY + 16, 4);
		l = GUINT32_FROM_LE(l);
		if (l == 0 || l > KITE_CHUNK_MAX) {
			g_array_unref(missing);
			kite_server_refuse(conn, KITE_ERROR_PROTOCOL, "chunk of %u bytes: chunks have 1 to %u bytes", l,
					   KITE_CHUNK_MAX);
			return;
		}
		u->bytes += l;
		if (!kite_store_lookup(u->alloc->owner, e + i * KITE_HAVE_ENTRY)) {
			guint32 idx = (guint32)i;
			g_array_append_val(missing, idx);
		}
	}
	if (u->bytes > s->limits.max_image_size) {
		g_array_unref(missing);
		kite_server_refuse(conn, KITE_ERROR_LIMIT,
				   "image %s: over %" G_GUINT64_FORMAT " bytes, this server's max_image_size; the upload is "
				   "abandoned and the image committed before is kept",
				   u->alloc->id, s->limits.max_image_size);
		g_hash_table_remove(s->uploads, id);
		return;
	}
	g_byte_array_append(u->entries, e, (guint)len);
	u->received += len;
	kite_manifest_digest_add(u->digest, e, n);
	gsize nm = missing->len;
	guint32 *idx = (guint32 *)g_array_free(missing, FALSE);
	kite_server_reply(conn, KITE_MSG_CKPT_HAVE_REPLY,
			  g_variant_new("(@au)", g_variant_new_from_data(G_VARIANT_TYPE("au"), idx, nm * 4, TRUE, g_free, idx)));
}

static gboolean over_limits(KiteCkptServer *s, KiteServerConn *conn, KiteAlloc *a, guint64 add)
{
	KiteOwner *o = a->owner;
	if (s->limits.owner_quota && o->used + add > s->limits.owner_quota) {
		kite_server_refuse(conn, KITE_ERROR_LIMIT,
				   "over quota: %s would use %" G_GUINT64_FORMAT " bytes of the %" G_GUINT64_FORMAT
				   " allowed per owner (config key owner_quota); image %s keeps what it had",
				   o->name, o->used + add, s->limits.owner_quota, a->id);
		return TRUE;
	}
	guint64 free_bytes = kite_store_free(s);
	if (add > free_bytes) {
		kite_server_refuse(conn, KITE_ERROR_LIMIT,
				   "the server is full: %" G_GUINT64_FORMAT " more bytes do not fit in the %" G_GUINT64_FORMAT
				   " free (config key total_space, or the disk); image %s keeps what it had",
				   add, free_bytes, a->id);
		return TRUE;
	}
	return FALSE;
}

/* Keys of a set of chunk hashes (16 bytes each, kept where they are). */
static guint chunk_hash_hash(gconstpointer p)
{
	guint h;
	memcpy(&h, p, sizeof h);
	return h;
}

static gboolean chunk_hash_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, KITE_CHUNK_HASH_BYTES) == 0;
}

static void handle_put(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *id;
	g_autoptr(GVariant) dv = NULL;
	g_variant_get(body, "(&s@ay)", &id, &dv);
	Upload *u = upload_get(s, conn, id);
	if (!u)
		return;
	gsize len;
	const guint8 *d = g_variant_get_fixed_array(dv, &len, 1);
	g_autoptr(GPtrArray) hashes = g_ptr_array_new(), data = g_ptr_array_new();
	g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint64 add = 0;
	/* a chunk twice in one PUT is stored once; the keys are the hashes
	 * in the body itself, so no chunk costs an allocation here */
	g_autoptr(GHashTable) here = g_hash_table_new(chunk_hash_hash, chunk_hash_equal);
	for (gsize off = 0; off < len;) {
		guint32 l;
		if (len - off < KITE_PUT_HEADER)
			goto bad;
		memcpy(&l, d + off + 16, 4);
		l = GUINT32_FROM_LE(l);
		if (l == 0 || l > KITE_CHUNK_MAX || len - off - KITE_PUT_HEADER < l)
			goto bad;
		const guint8 *h = d + off;
		if (!kite_store_lookup(u->alloc->owner, h) && g_hash_table_add(here, (gpointer)h)) {
			g_ptr_array_add(hashes, (gpointer)h);
			g_ptr_array_add(data, (gpointer)(d + off + KITE_PUT_HEADER));
			g_array_append_val(lens, l);
			add += sizeof(KiteCkptPackHeader) + l;
		}
		off += KITE_PUT_HEADER + l;
	}
	if (add && over_limits(s, conn, u->alloc, add)) {
		g_hash_table_remove(s->uploads, id);
		kite_gc_soon(s);
		return;
	}
	/* Checksummed on the way in: a chunk must be what its name says. */
	for (guint i = 0; i < hashes->len; i++) {
		guint8 h[KITE_CHUNK_HASH_BYTES];
		kite_chunk_hash(data->pdata[i], g_array_index(lens, guint32, i), h);
		if (memcmp(h, hashes->pdata[i], sizeof h) != 0) {
			char hex[33];
			kite_server_refuse(conn, KITE_ERROR_INVALID, "chunk %s of this CKPT_PUT does not match its hash",
					   kite_chunk_hash_hex(hashes->pdata[i], hex));
			return;
		}
	}
	g_autoptr(GError) error = NULL;
	if (hashes->len && !kite_store_append(s, u->alloc->owner, hashes->len, (const guint8 *const *)hashes->pdata,
					      (const guint8 *const *)data->pdata, (const guint32 *)lens->data, &error)) {
		kite_server_reply_error(conn, error, FALSE);
		return;
	}
	u->received += len;
	kite_server_reply(conn, KITE_MSG_CKPT_PUT_REPLY, g_variant_new("(t)", add));
	return;
bad:
	kite_server_refuse(conn, KITE_ERROR_PROTOCOL,
			   "CKPT_PUT: malformed chunk list (hash, length u32 of 1 to %u, data, repeated)", KITE_CHUNK_MAX);
}

static void handle_commit(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *id;
	guint64 n, bytes;
	g_autoptr(GVariant) dv = NULL;
	g_variant_get(body, "(&stt@ay)", &id, &n, &bytes, &dv);
	Upload *u = upload_get(s, conn, id);
	if (!u)
		return;
	gsize dlen;
	const guint8 *want = g_variant_get_fixed_array(dv, &dlen, 1);
	guint8 have[16];
	kite_manifest_digest_finish(u->digest, have);
	u->digest = NULL;
	KiteAlloc *a = u->alloc;
	gsize count = u->entries->len / KITE_HAVE_ENTRY;
	if (n != count || bytes != u->bytes || dlen != 16 || memcmp(have, want, 16) != 0) {
		kite_server_refuse(conn, KITE_ERROR_PROTOCOL,
				   "image %s: the commit names %" G_GUINT64_FORMAT " chunks and %" G_GUINT64_FORMAT
				   " bytes, the upload listed %zu and %" G_GUINT64_FORMAT " (or another list); nothing committed",
				   a->id, n, bytes, count, u->bytes);
		g_hash_table_remove(s->uploads, id);
		return;
	}
	g_autoptr(KiteManifest) m = kite_manifest_new(a->id);
	g_array_set_size(m->chunks, count);
	for (gsize i = 0; i < count; i++) {
		const guint8 *e = u->entries->data + i * KITE_HAVE_ENTRY;
		KiteChunkLoc *loc = kite_store_lookup(a->owner, e);
		guint32 l;
		memcpy(&l, e + 16, 4);
		l = GUINT32_FROM_LE(l);
		char hex[33];
		if (!loc || loc->len != l) {
			kite_server_refuse(conn, KITE_ERROR_STATE,
					   "image %s: chunk %zu (%s) was never sent; nothing committed", a->id, i,
					   kite_chunk_hash_hex(e, hex));
			g_hash_table_remove(s->uploads, id);
			return;
		}
		KiteChunkRef *r = &g_array_index(m->chunks, KiteChunkRef, i);
		memcpy(r->hash, e, KITE_CHUNK_HASH_BYTES);
		r->len = l;
		r->crc = loc->crc;
		m->total += l;
	}
	g_autoptr(GError) error = NULL;
	if (!kite_store_commit(s, a, m, &error)) {
		g_hash_table_remove(s->uploads, id);
		kite_server_reply_error(conn, error, FALSE);
		return;
	}
	g_message("%s: committed image %s generation %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT
		  " bytes in %zu chunks; the upload sent %" G_GUINT64_FORMAT " bytes",
		  kite_server_conn_peer(conn), a->id, a->generation, a->size, count, u->received);
	g_hash_table_remove(s->uploads, id);
	kite_server_reply(conn, KITE_MSG_CKPT_INFO, info_variant(a));
}

static void handle_read(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *cap;
	g_variant_get(body, "(&s)", &cap);
	KiteAlloc *a = by_cap(s, conn, cap, KITE_CAP_READ);
	if (!a || !usable(conn, a))
		return;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) m = kite_store_manifest_bytes(s, a, &error);
	if (!m) {
		kite_server_refuse(conn, error->code, "%s", error->message);
		return;
	}
	kite_server_reply(conn, KITE_MSG_CKPT_MANIFEST,
			  g_variant_new("(@ay)", g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, m, TRUE)));
}

/* KITE_FAULT=get:N (tests): the server dies on its Nth CKPT_GET, as
 * if killed there, with earlier replies on their way: a reader sees its
 * download cut off in the middle of an image.  KITE_FAULT=stop:N: it
 * stops there instead (SIGSTOP to itself), its connections open: a
 * reader waits for replies that do not come. */
static void fault_get(void)
{
	static gint64 fault_at = -1, gets;
	static gboolean stop;
	if (fault_at < 0) {
		const char *f = g_getenv("KITE_FAULT");
		stop = f && g_str_has_prefix(f, "stop:");
		fault_at = f && (g_str_has_prefix(f, "get:") || stop) ? g_ascii_strtoll(strchr(f, ':') + 1, NULL, 10) : 0;
	}
	if (fault_at > 0 && ++gets == fault_at) {
		g_message("KITE_FAULT=%s:%" G_GINT64_FORMAT ": %s on this CKPT_GET", stop ? "stop" : "get", fault_at,
			  stop ? "stopping" : "dying");
		if (!stop)
			_exit(70);
		raise(SIGSTOP);
	}
}

/* KITE_FAULT=flip:N (tests): one byte of chunk N of an image is flipped
 * after its check, on its way out, as a bad link or bad memory would: a
 * reader must catch it by the chunk's name. */
static gint64 fault_flip(void)
{
	static gint64 chunk = -2;
	if (chunk == -2) {
		const char *f = g_getenv("KITE_FAULT");
		chunk = f && g_str_has_prefix(f, "flip:") ? g_ascii_strtoll(f + 5, NULL, 10) : -1;
	}
	return chunk;
}

static void handle_get(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	fault_get();
	const char *cap;
	guint64 gen, first;
	guint32 count;
	g_variant_get(body, "(&sttu)", &cap, &gen, &first, &count);
	KiteAlloc *a = by_cap(s, conn, cap, KITE_CAP_READ);
	if (!a || !usable(conn, a))
		return;
	g_autoptr(GError) error = NULL;
	KiteManifest *m = kite_store_manifest(s, a, &error);
	if (!m) {
		kite_server_refuse(conn, error->code, "%s", error->message);
		return;
	}
	if (gen != m->generation) {
		kite_server_refuse(conn, KITE_ERROR_STATE,
				   "image %s was replaced while being read (generation %" G_GUINT64_FORMAT
				   ", now %" G_GUINT64_FORMAT "); read it again",
				   a->id, gen, m->generation);
		return;
	}
	if (count > MAX_GET_CHUNKS || first > m->chunks->len || count > m->chunks->len - first) {
		kite_server_refuse(conn, KITE_ERROR_INVALID,
				   "image %s has %u chunks; chunks %" G_GUINT64_FORMAT "+%u are not all there (at most %d at once)",
				   a->id, m->chunks->len, first, count, MAX_GET_CHUNKS);
		return;
	}
	guint64 total = 0;
	for (guint32 i = 0; i < count; i++)
		total += g_array_index(m->chunks, KiteChunkRef, first + i).len;
	if (total > MAX_GET_BYTES && count > 1) {
		kite_server_refuse(conn, KITE_ERROR_LIMIT, "at most %u bytes per CKPT_GET", MAX_GET_BYTES);
		return;
	}
	gsize got = 0;
	guint8 *out = kite_readahead_take(a, gen, first, count, &got);
	if (!out) {
		/* not assembled ahead, or a chunk failed there: here, which
		 * says which */
		out = g_malloc(total ? total : 1);
		gsize pos = 0;
		for (guint32 i = 0; i < count; i++) {
			const KiteChunkRef *r = &g_array_index(m->chunks, KiteChunkRef, first + i);
			KiteChunkLoc *loc = kite_store_lookup(a->owner, r->hash);
			char hex[33];
			const guint8 *data = NULL;
			if (!loc || loc->len != r->len || loc->crc != r->crc)
				kite_throw(&error, KITE_ERROR_NOT_FOUND,
					   "image %s: chunk %" G_GUINT64_FORMAT " (%s) is missing from the store", a->id,
					   first + i, kite_chunk_hash_hex(r->hash, hex));
			else
				data = kite_store_read_chunk(s, a->owner, loc, a->id, first + i, &error);
			if (!data) {
				g_free(out);
				g_warning("%s", error->message);
				kite_server_reply_error(conn, error, FALSE);
				return;
			}
			memcpy(out + pos, data, r->len);
			pos += r->len;
		}
	} else
		g_assert(got == total);
	gint64 flip = fault_flip();
	if (G_UNLIKELY(flip >= 0 && (guint64)flip >= first && (guint64)flip < first + count)) {
		gsize at = 0;
		for (guint64 i = first; i < (guint64)flip; i++)
			at += g_array_index(m->chunks, KiteChunkRef, i).len;
		guint32 len = g_array_index(m->chunks, KiteChunkRef, flip).len;
		if (len)
			out[at + len / 2] ^= 0x5a;
	}
	/* the reader's next GET, assembled while this reply goes out */
	kite_readahead_start(a, m, first + count);
	/* "(ay)" is serialised as the array's bytes alone: made from them
	 * directly, the reply is not copied into a new value first */
	kite_server_reply(conn, KITE_MSG_CKPT_CHUNKS,
			  g_variant_new_from_data(G_VARIANT_TYPE("(ay)"), out, total, TRUE, g_free, out));
}

static void handle_manage(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *cap, *op;
	gint64 lease;
	g_variant_get(body, "(&s&sx)", &cap, &op, &lease);
	KiteAlloc *a;
	if (g_str_has_prefix(cap, "kite-")) {
		a = by_cap(s, conn, cap, KITE_CAP_MANAGE);
	} else {
		KiteRole role = kite_server_conn_role(conn);
		if (role != KITE_ROLE_ADMIN && role != KITE_ROLE_DAEMON) {
			kite_server_refuse(conn, KITE_ERROR_PERMISSION,
					   "only admins name allocations by id; others need the manage capability");
			return;
		}
		a = g_hash_table_lookup(s->allocs, cap);
		if (!a)
			kite_server_refuse(conn, KITE_ERROR_NOT_FOUND, "no allocation %s", cap);
	}
	if (!a)
		return;
	g_autoptr(GError) error = NULL;
	if (g_str_equal(op, "stat")) {
		kite_server_reply(conn, KITE_MSG_CKPT_INFO, info_variant(a));
		return;
	}
	if (g_str_equal(op, "renew")) {
		if (!usable(conn, a))
			return;
		a->expires = kite_lease_expiry(kite_now_wall(), lease, s->limits.default_lease, s->limits.max_lease);
		if (!kite_store_alloc_save(s, a, &error)) {
			kite_server_reply_error(conn, error, FALSE);
			return;
		}
	} else if (g_str_equal(op, "delete")) {
		if (g_str_equal(a->state, "deleted")) {
			kite_server_refuse(conn, KITE_ERROR_STATE, "allocation %s was deleted already", a->id);
			return;
		}
		if (!kite_store_alloc_retire(s, a, "deleted", &error)) {
			kite_server_reply_error(conn, error, FALSE);
			return;
		}
		g_message("%s: deleted allocation %s of %s", kite_server_conn_peer(conn), a->id, a->owner->name);
	} else {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "unknown operation `%s` (stat, renew or delete)", op);
		return;
	}
	kite_server_reply(conn, KITE_MSG_CKPT_INFO, info_variant(a));
}

static gint by_created(gconstpointer a, gconstpointer b)
{
	const KiteAlloc *x = *(KiteAlloc *const *)a, *y = *(KiteAlloc *const *)b;
	return x->created != y->created ? (x->created < y->created ? -1 : 1) : strcmp(x->id, y->id);
}

static void handle_list(KiteCkptServer *s, KiteServerConn *conn, GVariant *body)
{
	const char *owner;
	g_variant_get(body, "(&s)", &owner);
	KiteRole role = kite_server_conn_role(conn);
	const char *me = kite_server_conn_identity(conn);
	if (role == KITE_ROLE_USER) {
		if (*owner && !g_str_equal(owner, me)) {
			kite_server_refuse(conn, KITE_ERROR_PERMISSION, "%s may list only their own allocations", me);
			return;
		}
		owner = me;
	}
	g_autoptr(GPtrArray) list = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, s->allocs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		KiteAlloc *a = v;
		if (!*owner || g_str_equal(a->owner->name, owner))
			g_ptr_array_add(list, a);
	}
	g_ptr_array_sort(list, by_created);
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(ssxtttxs)"));
	for (guint i = 0; i < list->len; i++)
		g_variant_builder_add_value(&b, info_variant(list->pdata[i]));
	kite_server_reply(conn, KITE_MSG_CKPT_LIST_REPLY, g_variant_new("(a(ssxtttxs))", &b));
}

static void handle_status(KiteCkptServer *s, KiteServerConn *conn)
{
	KiteCkptServerStatus st = {0};
	kite_ckpt_status(s, &st);
	kite_server_reply(conn, KITE_MSG_CKPT_STATUS_REPLY,
			  g_variant_new("(sttttuu)", st.address, st.capacity, st.used, st.live, st.free, st.connections,
					st.uploads));
}

void kite_ckpt_handle(KiteServerConn *conn, guint type, GVariant *body, gpointer user_data)
{
	KiteCkptServer *s = user_data;
	switch (type) {
	case KITE_MSG_CKPT_ALLOCATE:
		handle_allocate(s, conn, body);
		break;
	case KITE_MSG_CKPT_WRITE:
		handle_write(s, conn, body);
		break;
	case KITE_MSG_CKPT_HAVE:
		handle_have(s, conn, body);
		break;
	case KITE_MSG_CKPT_PUT:
		handle_put(s, conn, body);
		break;
	case KITE_MSG_CKPT_COMMIT:
		handle_commit(s, conn, body);
		break;
	case KITE_MSG_CKPT_READ:
		handle_read(s, conn, body);
		break;
	case KITE_MSG_CKPT_GET:
		handle_get(s, conn, body);
		break;
	case KITE_MSG_CKPT_MANAGE:
		handle_manage(s, conn, body);
		break;
	case KITE_MSG_CKPT_LIST:
		handle_list(s, conn, body);
		break;
	case KITE_MSG_CKPT_STATUS:
		handle_status(s, conn);
		break;
	default:
		kite_server_refuse(conn, KITE_ERROR_PROTOCOL, "%s is not a request the checkpoint server answers",
				   kite_wire_type_name(type));
	}
}
