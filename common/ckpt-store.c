/* ckpt-store.c — the checkpoint server's client library; see
 * ckpt-store.h.  An upload reads the stream in batches of up to 2048
 * chunks: each batch's (hash, length) list goes out in one HAVE, which
 * also appends it to the upload's manifest on the server; the chunks the
 * server lacks follow in PUTs of up to 4 MiB whose replies are collected
 * later (the connection answers in order), so sending never waits for a
 * round trip.  A batch's HAVE goes out as soon as the batch is read, and
 * its answer is collected only once the next batch is read too: the
 * stream keeps flowing while the server stores the previous chunks.  A download asks for several batches ahead for the same
 * reason. */
#include "ckpt-store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "libckpt/crc32c.h"
#include "util.h"

#define BATCH_CHUNKS 2048
#define BATCH_BYTES (8u << 20)
#define REGION_BYTES (BATCH_BYTES + 2 * KITE_CHUNK_MAX) /* one batch and what was read past it */
#define PUT_BYTES (4u << 20)
/* Downloads ask for 2 MiB at a time, six requests ahead: the server
 * builds a small reply while the previous ones drain, and each stays in
 * its caches (8 MiB, three ahead: 15-30 % slower, more server CPU). */
#define GET_BYTES (2u << 20)
#define GETS_AHEAD 6

struct _KiteCkptClient {
	KiteConn *conn;
	char *address;
	double timeout;
};

void kite_ckpt_client_free(KiteCkptClient *c)
{
	if (!c)
		return;
	kite_conn_free(c->conn);
	g_free(c->address);
	g_free(c);
}

const char *kite_ckpt_client_address(const KiteCkptClient *c)
{
	return c->address;
}

int kite_ckpt_client_fd(const KiteCkptClient *c)
{
	return kite_conn_fd(c->conn);
}

KiteCkptClient *kite_ckpt_client_connect(const char *address, double timeout, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(KiteConn) conn = kite_conn_connect(address, timeout, &local);
	if (!conn) {
		kite_throw(error, local->code, "cannot reach the checkpoint server at %s: %s", address,
			   local->message);
		return NULL;
	}
	const char *keyfile = g_getenv("KITE_POOL_KEY_FILE");
	if (keyfile && *keyfile) {
		g_autoptr(GBytes) key = kite_auth_load_key(keyfile, FALSE, error);
		if (!key || !kite_conn_auth_daemon(conn, key, "ckpt-client", error))
			return NULL;
	} else {
		g_autofree char *where = NULL;
		g_autofree char *token = kite_auth_find_token(&where);
		if (!token) {
			kite_throw(error, KITE_ERROR_AUTH,
				   "the checkpoint server needs credentials: set KITE_POOL_KEY_FILE (daemons), or "
				   "KITE_TOKEN or KITE_TOKEN_FILE, or put a token in %s",
				   where);
			return NULL;
		}
		if (!kite_conn_auth_token(conn, token, error))
			return NULL;
	}
	KiteCkptClient *c = g_new0(KiteCkptClient, 1);
	c->conn = g_steal_pointer(&conn);
	c->address = g_strdup(address);
	c->timeout = timeout;
	return c;
}

/* ---- caps files ---- */

void kite_ckpt_caps_clear(KiteCkptCaps *caps)
{
	g_clear_pointer(&caps->server, g_free);
	g_clear_pointer(&caps->id, g_free);
	g_clear_pointer(&caps->read, g_free);
	g_clear_pointer(&caps->write, g_free);
	g_clear_pointer(&caps->manage, g_free);
}

gboolean kite_ckpt_caps_save(const char *path, const KiteCkptCaps *caps, GError **error)
{
	g_autoptr(GString) s = g_string_new(NULL);
	const char *names[] = {"server", "id", "read", "write", "manage"};
	const char *vals[] = {caps->server, caps->id, caps->read, caps->write, caps->manage};
	for (int i = 0; i < 5; i++)
		if (vals[i])
			g_string_append_printf(s, "%s %s\n", names[i], vals[i]);
	return kite_write_file_atomic(path, s->str, s->len, 0600, error);
}

gboolean kite_ckpt_caps_load(const char *path, KiteCkptCaps *out_caps, GError **error)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return kite_throw_errno(error, "capabilities file %s", path);
	if (st.st_mode & 077)
		return kite_throw(error, KITE_ERROR_PERMISSION,
				  "capabilities file %s has mode %04o: others could read it; run `chmod 600 %s`", path,
				  (unsigned)(st.st_mode & 07777), path);
	g_autofree char *text = NULL;
	g_autoptr(GError) local = NULL;
	if (!g_file_get_contents(path, &text, NULL, &local))
		return kite_throw(error, KITE_ERROR_IO, "%s", local->message);
	g_auto(KiteCkptCaps) caps = {0};
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	int lineno = 0;
	for (char **l = lines; *l; l++) {
		lineno++;
		g_strstrip(*l);
		if (!**l || **l == '#')
			continue;
		char *sp = strchr(*l, ' ');
		if (!sp)
			return kite_throw(error, KITE_ERROR_INVALID, "%s:%d: expected `NAME VALUE`", path, lineno);
		*sp = 0;
		char *v = g_strstrip(sp + 1);
		char **slot = g_str_equal(*l, "server")	  ? &caps.server
			      : g_str_equal(*l, "id")	  ? &caps.id
			      : g_str_equal(*l, "read")	  ? &caps.read
			      : g_str_equal(*l, "write")  ? &caps.write
			      : g_str_equal(*l, "manage") ? &caps.manage
							  : NULL;
		if (!slot)
			return kite_throw(error, KITE_ERROR_INVALID,
					  "%s:%d: unknown entry `%s` (expected server, id, read, write or manage)", path,
					  lineno, *l);
		g_free(*slot);
		*slot = g_strdup(v);
	}
	*out_caps = caps;
	memset(&caps, 0, sizeof caps);
	return TRUE;
}

/* ---- infos ---- */

void kite_ckpt_info_clear(KiteCkptInfo *info)
{
	g_clear_pointer(&info->id, g_free);
	g_clear_pointer(&info->owner, g_free);
	g_clear_pointer(&info->state, g_free);
}

void kite_ckpt_info_free(KiteCkptInfo *info)
{
	if (!info)
		return;
	kite_ckpt_info_clear(info);
	g_free(info);
}

void kite_ckpt_info_from_variant(GVariant *v, KiteCkptInfo *out)
{
	const char *id, *owner, *state;
	g_variant_get(v, "(&s&sxtttx&s)", &id, &owner, &out->created, &out->size, &out->chunks, &out->expected,
		      &out->expires, &state);
	out->id = g_strdup(id);
	out->owner = g_strdup(owner);
	out->state = g_strdup(state);
}

gboolean kite_ckpt_client_allocate(KiteCkptClient *c, const char *owner, guint64 expected, gint64 lease,
				   KiteCkptCaps *out_caps, GError **error)
{
	g_autoptr(GVariant) r =
	    kite_conn_call(c->conn, KITE_MSG_CKPT_ALLOCATE, g_variant_new("(stx)", owner ? owner : "", expected, lease),
			   KITE_MSG_CKPT_ALLOCATED, error);
	if (!r)
		return FALSE;
	const char *id, *rc, *wc, *mc;
	g_variant_get(r, "(&s&s&s&s)", &id, &rc, &wc, &mc);
	out_caps->server = g_strdup(c->address);
	out_caps->id = g_strdup(id);
	out_caps->read = g_strdup(rc);
	out_caps->write = g_strdup(wc);
	out_caps->manage = g_strdup(mc);
	return TRUE;
}

/* ---- upload ---- */

/* A batch of chunks, all in one region of the stream buffer. */
typedef struct {
	guint8 *base;
	guint32 offs[BATCH_CHUNKS], lens[BATCH_CHUNKS]; /* from base */
	guint n;
	gsize bytes;
	guint8 *entries; /* BATCH_CHUNKS * KITE_HAVE_ENTRY */
} Batch;

typedef struct {
	KiteCkptClient *c;
	const char *upload_id;
	Batch batch[2]; /* the one being read, and the one whose HAVE is out */
	KiteManifestDigest *digest;
	guint outstanding; /* PUT replies not read yet */
	KiteCkptUploadStats stats;
} Upload;

/* Receive until a message of @want arrives, consuming the replies of
 * earlier PUTs on the way. */
static GVariant *recv_after_puts(Upload *u, KiteMsgType want, GError **error)
{
	for (;;) {
		guint type;
		g_autoptr(GVariant) v = kite_conn_recv(u->c->conn, &type, error);
		if (!v)
			return NULL;
		if (type == KITE_MSG_CKPT_PUT_REPLY && u->outstanding > 0) {
			u->outstanding--;
			continue;
		}
		if (type != want) {
			kite_throw(error, KITE_ERROR_PROTOCOL, "%s answered %s (expected %s)", u->c->address,
				   kite_wire_type_name(type), kite_wire_type_name(want));
			return NULL;
		}
		return g_steal_pointer(&v);
	}
}

static gsize frame_size(GVariant *body)
{
	return KITE_WIRE_HEADER_SIZE + g_variant_get_size(body);
}

static gboolean send_counted(Upload *u, KiteMsgType type, GVariant *body, GError **error)
{
	g_variant_ref_sink(body);
	u->stats.bytes_sent += frame_size(body);
	gboolean ok = kite_conn_send(u->c->conn, type, g_variant_ref(body), error);
	g_variant_unref(body);
	return ok;
}

/* Send chunks @idx[0..n) of @b as one PUT, straight from the stream
 * buffer: the frame goes out in pieces (header, upload id, then each
 * chunk's hash and length and its data, the trailer), nothing is copied
 * into a message first. */
static gboolean send_put(Upload *u, const Batch *b, const guint32 *idx, guint n, gsize data_len, GError **error)
{
	gsize idlen = strlen(u->upload_id) + 1;
	guint8 trailer[8], hdr[KITE_WIRE_HEADER_SIZE];
	gsize tlen = kite_wire_s_ay_layout(u->upload_id, data_len, trailer);
	gsize body = idlen + data_len + tlen;
	kite_wire_header(hdr, KITE_MSG_CKPT_PUT, body);
	g_autofree struct iovec *iov = g_new(struct iovec, 2 * (gsize)n + 3);
	gsize k = 0;
	iov[k++] = (struct iovec){hdr, sizeof hdr};
	iov[k++] = (struct iovec){(void *)u->upload_id, idlen};
	for (guint j = 0; j < n; j++) {
		guint32 i = idx[j];
		iov[k++] = (struct iovec){b->entries + (gsize)i * KITE_HAVE_ENTRY, KITE_PUT_HEADER};
		iov[k++] = (struct iovec){b->base + b->offs[i], b->lens[i]};
	}
	iov[k++] = (struct iovec){trailer, tlen};
	u->stats.bytes_sent += KITE_WIRE_HEADER_SIZE + body;
	if (!kite_conn_send_iov(u->c->conn, iov, k, error))
		return FALSE;
	u->outstanding++;
	return TRUE;
}

/* Hash the chunks of @b and send their list (HAVE); put_batch() reads
 * the answer. */
static gboolean have_batch(Upload *u, Batch *b, GError **error)
{
	for (guint i = 0; i < b->n; i++) {
		guint8 *e = b->entries + (gsize)i * KITE_HAVE_ENTRY;
		kite_chunk_hash(b->base + b->offs[i], b->lens[i], e);
		guint32 le = GUINT32_TO_LE(b->lens[i]);
		memcpy(e + 16, &le, 4);
	}
	kite_manifest_digest_add(u->digest, b->entries, b->n);
	GVariant *ay = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, b->entries, (gsize)b->n * KITE_HAVE_ENTRY, 1);
	return send_counted(u, KITE_MSG_CKPT_HAVE, g_variant_new("(s@ay)", u->upload_id, ay), error);
}

/* Read the answer to @b's HAVE (the chunks the server lacks) and send
 * those; @b is empty afterwards and its region free. */
static gboolean put_batch(Upload *u, Batch *b, GError **error)
{
	g_autoptr(GVariant) reply = recv_after_puts(u, KITE_MSG_CKPT_HAVE_REPLY, error);
	if (!reply)
		return FALSE;
	g_autoptr(GVariant) idx = g_variant_get_child_value(reply, 0);
	gsize nmiss;
	const guint32 *miss = g_variant_get_fixed_array(idx, &nmiss, sizeof(guint32));
	gsize first = 0, put_len = 0;
	for (gsize k = 0; k < nmiss; k++) {
		guint32 i = miss[k];
		if (i >= b->n)
			return kite_throw(error, KITE_ERROR_PROTOCOL, "%s asked for chunk %u of a batch of %u",
					  u->c->address, i, b->n);
		if (k > first && put_len + KITE_PUT_HEADER + b->lens[i] > PUT_BYTES) {
			if (!send_put(u, b, miss + first, (guint)(k - first), put_len, error))
				return FALSE;
			first = k;
			put_len = 0;
		}
		put_len += KITE_PUT_HEADER + b->lens[i];
		u->stats.chunks_sent++;
	}
	if (nmiss > first && !send_put(u, b, miss + first, (guint)(nmiss - first), put_len, error))
		return FALSE;
	b->n = 0;
	b->bytes = 0;
	return TRUE;
}

/* The stream is read into two regions in turn.  When the batch in one
 * is complete, its HAVE goes out, the previous batch (in the other
 * region) is finished, and the bytes read past the batch move to the
 * other region, where the next batch starts.  A chunk that is new in two
 * neighbouring batches is sent twice; the server stores it once. */
static gboolean upload_stream(Upload *u, int fd, GError **error)
{
	KiteChunker ch;
	kite_chunker_init(&ch);
	Batch *cur = &u->batch[0], *prev = NULL;
	gsize pos = 0, len = 0;
	gboolean eof = FALSE;
	for (;;) {
		gboolean full = cur->n == BATCH_CHUNKS || cur->bytes >= BATCH_BYTES;
		/* Keep at least one whole chunk ahead, unless the stream ended. */
		while (!full && !eof && len - pos < KITE_CHUNK_MAX) {
			if (len == REGION_BYTES) { /* no room left: the batch ends here */
				full = TRUE;
				break;
			}
			ssize_t r = read(fd, cur->base + len, REGION_BYTES - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return kite_throw_errno(error, "read the image stream");
			if (r == 0)
				eof = TRUE;
			len += (gsize)r;
		}
		if (full) {
			if (!have_batch(u, cur, error) || (prev && !put_batch(u, prev, error)))
				return FALSE;
			Batch *next = cur == &u->batch[0] ? &u->batch[1] : &u->batch[0];
			memcpy(next->base, cur->base + pos, len - pos);
			len -= pos;
			pos = 0;
			prev = cur;
			cur = next;
			continue;
		}
		gsize n = kite_chunker_next(&ch, cur->base + pos, len - pos, eof);
		if (n == 0) {
			if (eof)
				break;
			continue;
		}
		cur->offs[cur->n] = (guint32)pos;
		cur->lens[cur->n] = (guint32)n;
		cur->n++;
		cur->bytes += n;
		u->stats.bytes += n;
		u->stats.chunks++;
		pos += n;
	}
	if (kite_chunker_is_image(&ch) && !kite_chunker_image_complete(&ch))
		return kite_throw(error, KITE_ERROR_INVALID,
				  "the image stream ended before its END record (the checkpoint was cut short); nothing "
				  "committed");
	if (cur->n && !have_batch(u, cur, error))
		return FALSE;
	if (prev && !put_batch(u, prev, error))
		return FALSE;
	return !cur->n || put_batch(u, cur, error);
}

gboolean kite_ckpt_client_upload(KiteCkptClient *c, const char *write_cap, int fd, KiteCkptUploadStats *out_stats,
				 KiteCkptInfo *out_info, GError **error)
{
	g_autoptr(GVariant) w =
	    kite_conn_call(c->conn, KITE_MSG_CKPT_WRITE, g_variant_new("(s)", write_cap), KITE_MSG_CKPT_INFO, error);
	if (!w)
		return FALSE;
	g_auto(KiteCkptInfo) session = {0};
	kite_ckpt_info_from_variant(w, &session);
	Upload u = {.c = c, .upload_id = session.id};
	g_autofree guint8 *buf = g_malloc(2 * (gsize)REGION_BYTES);
	g_autofree guint8 *entries = g_malloc(2 * (gsize)BATCH_CHUNKS * KITE_HAVE_ENTRY);
	for (int i = 0; i < 2; i++) {
		u.batch[i].base = buf + i * (gsize)REGION_BYTES;
		u.batch[i].entries = entries + i * (gsize)BATCH_CHUNKS * KITE_HAVE_ENTRY;
	}
	u.digest = kite_manifest_digest_new();
	gboolean ok = upload_stream(&u, fd, error);
	guint8 digest[16];
	kite_manifest_digest_finish(u.digest, digest);
	if (!ok)
		return FALSE;
	GVariant *dv = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, digest, sizeof digest, 1);
	if (!send_counted(&u, KITE_MSG_CKPT_COMMIT,
			  g_variant_new("(stt@ay)", u.upload_id, u.stats.chunks, u.stats.bytes, dv), error))
		return FALSE;
	g_autoptr(GVariant) info = recv_after_puts(&u, KITE_MSG_CKPT_INFO, error);
	if (!info)
		return FALSE;
	if (out_info)
		kite_ckpt_info_from_variant(info, out_info);
	if (out_stats)
		*out_stats = u.stats;
	return TRUE;
}

/* ---- download ---- */

/* A download in progress: the manifest, how far the requests and the
 * replies got, and the GETs in flight (the connection answers in order,
 * so reply k covers the chunks of request k). */
struct _KiteCkptDownload {
	KiteCkptClient *c; /* borrowed */
	char *cap;
	KiteManifest *m;
	guint64 next;             /* first chunk not yet asked for */
	guint64 done;             /* chunks received whole */
	guint64 off;              /* image bytes received */
	guint32 counts[GETS_AHEAD]; /* chunks of each GET in flight, oldest first */
	guint inflight;
	KiteImageCheck check;
	guint8 *buf; /* each reply lands here, reused (it stays in the caches) */
	gsize buf_len;
};

void kite_ckpt_download_free(KiteCkptDownload *d)
{
	if (!d)
		return;
	g_free(d->cap);
	kite_manifest_free(d->m);
	g_free(d->buf);
	g_free(d);
}

KiteCkptDownload *kite_ckpt_download_begin(KiteCkptClient *c, const char *read_cap, GError **error)
{
	g_autoptr(GVariant) r =
	    kite_conn_call(c->conn, KITE_MSG_CKPT_READ, g_variant_new("(s)", read_cap), KITE_MSG_CKPT_MANIFEST, error);
	if (!r)
		return NULL;
	g_autoptr(GVariant) mv = g_variant_get_child_value(r, 0);
	gsize mlen;
	const guint8 *mdata = g_variant_get_fixed_array(mv, &mlen, 1);
	KiteManifest *m = kite_manifest_decode(mdata, mlen, "the image's manifest", error);
	if (!m)
		return NULL;
	KiteCkptDownload *d = g_new0(KiteCkptDownload, 1);
	d->c = c;
	d->cap = g_strdup(read_cap);
	d->m = m;
	kite_image_check_init(&d->check);
	return d;
}

const KiteManifest *kite_ckpt_download_manifest(const KiteCkptDownload *d)
{
	return d->m;
}

guint64 kite_ckpt_download_chunks_done(const KiteCkptDownload *d)
{
	return d->done;
}

guint64 kite_ckpt_download_bytes_done(const KiteCkptDownload *d)
{
	return d->off;
}

gboolean kite_ckpt_download_image_checked(const KiteCkptDownload *d)
{
	return kite_image_check_passed(&d->check);
}

guint32 kite_ckpt_get_count(const KiteManifest *m, guint64 first)
{
	guint64 bytes = 0;
	guint32 count = 0;
	for (guint64 i = first; i < m->chunks->len; i++) {
		guint32 l = g_array_index(m->chunks, KiteChunkRef, i).len;
		if (count && bytes + l > GET_BYTES)
			break;
		bytes += l;
		count++;
	}
	return count;
}

/* Keep GETS_AHEAD requests of up to GET_BYTES in flight. */
static gboolean send_gets(KiteCkptDownload *d, GError **error)
{
	const KiteManifest *m = d->m;
	while (d->inflight < GETS_AHEAD && d->next < m->chunks->len) {
		guint64 first = d->next;
		guint32 count = kite_ckpt_get_count(m, first);
		d->next += count;
		if (!kite_conn_send(d->c->conn, KITE_MSG_CKPT_GET,
				    g_variant_new("(sttu)", d->cap, m->generation, first, count), error))
			return FALSE;
		d->counts[d->inflight++] = count;
	}
	return TRUE;
}

/* The header of the oldest GET's reply: its body is @out_len bytes of
 * chunk data, exactly the chunks asked for.  Anything else (an ERROR:
 * a chunk the server found corrupt or missing) becomes @error. */
static gboolean recv_reply_header(KiteCkptDownload *d, guint64 *out_len, GError **error)
{
	KiteCkptClient *c = d->c;
	KiteWireHeader h;
	if (!kite_conn_recv_header(c->conn, &h, error))
		return FALSE;
	if (h.type != KITE_MSG_CKPT_CHUNKS) {
		guint type;
		g_autoptr(GVariant) v = kite_conn_recv_body(c->conn, &h, &type, error);
		if (v)
			kite_throw(error, KITE_ERROR_PROTOCOL, "%s answered %s to CKPT_GET", c->address,
				   kite_wire_type_name(type));
		return FALSE;
	}
	guint64 want = 0;
	for (guint32 i = 0; i < d->counts[0]; i++)
		want += g_array_index(d->m->chunks, KiteChunkRef, d->done + i).len;
	/* the body of "(ay)" is the array's bytes alone */
	if (h.length != want)
		return kite_throw(error, KITE_ERROR_PROTOCOL,
				  "image %s: %s sent %" G_GUINT64_FORMAT " bytes for chunks %" G_GUINT64_FORMAT
				  "+%u, which hold %" G_GUINT64_FORMAT,
				  d->m->id, c->address, (guint64)h.length, d->done, d->counts[0], want);
	*out_len = want;
	return TRUE;
}

static void reply_done(KiteCkptDownload *d, guint64 len)
{
	d->done += d->counts[0];
	d->off += len;
	memmove(d->counts, d->counts + 1, --d->inflight * sizeof d->counts[0]);
}

/* A connection lost mid-image: say how far it got (a chunk the server
 * refused, or one that failed here, is named already). */
static gboolean stopped(KiteCkptDownload *d, GError **error)
{
	if (error && *error && (*error)->code == KITE_ERROR_IO)
		g_prefix_error(error,
			       "image %s: the download stopped after %" G_GUINT64_FORMAT " of %u chunks (%" G_GUINT64_FORMAT
			       " of %" G_GUINT64_FORMAT " bytes): ",
			       d->m->id, d->done, d->m->chunks->len, d->off, d->m->total);
	return FALSE;
}

/* Each reply is received into one buffer, reused (it stays in the
 * caches), checked there, and only then written to the descriptor.
 * Receiving straight into a mapping of the file (a memfd for `ckpt
 * restart`) saves that copy but costs a page fault per page: 0.69 s of
 * CPU per GiB into a fresh memfd against 0.38 s through write() on this
 * machine. */
gboolean kite_ckpt_download_next(KiteCkptDownload *d, int fd, GError **error)
{
	const KiteManifest *m = d->m;
	guint64 len = 0;
	if (!send_gets(d, error) || !recv_reply_header(d, &len, error))
		return stopped(d, error);
	if (d->buf_len < len) {
		g_free(d->buf);
		d->buf = g_malloc(len);
		d->buf_len = len;
	}
	guint8 *data = d->buf;
	if (!kite_conn_recv_raw(d->c->conn, data, len, error))
		return stopped(d, error);
	gsize pos = 0;
	for (guint64 i = d->done; pos < len; i++) {
		const KiteChunkRef *ref = &g_array_index(m->chunks, KiteChunkRef, i);
		char hex[33];
		/* XXH3-128 alone: the server checked the stored CRC32C already */
		guint8 hv[KITE_CHUNK_HASH_BYTES];
		kite_chunk_hash(data + pos, ref->len, hv);
		if (memcmp(hv, ref->hash, sizeof hv) != 0)
			return kite_throw(error, KITE_ERROR_INVALID,
					  "image %s: chunk %" G_GUINT64_FORMAT " (%s) failed its checksum on arrival", m->id,
					  i, kite_chunk_hash_hex(ref->hash, hex));
		pos += ref->len;
	}
	/* the image's own checksums, while the reply is in the caches */
	kite_image_check_feed(&d->check, data, len);
	reply_done(d, len);
	return kite_write_all(fd, data, len, "the downloaded image", error);
}

gboolean kite_ckpt_download_finished(const KiteCkptDownload *d)
{
	return d->done == d->m->chunks->len;
}

gboolean kite_ckpt_download_send_rest(KiteCkptDownload *d, GError **error)
{
	const KiteManifest *m = d->m;
	while (d->next < m->chunks->len) {
		guint64 first = d->next;
		guint32 count = kite_ckpt_get_count(m, first);
		if (!kite_conn_send(d->c->conn, KITE_MSG_CKPT_GET,
				    g_variant_new("(sttu)", d->cap, m->generation, first, count), error))
			return FALSE;
		d->next += count;
	}
	return TRUE;
}

const char *kite_ckpt_download_server(const KiteCkptDownload *d)
{
	return d->c->address;
}

double kite_ckpt_download_timeout(const KiteCkptDownload *d)
{
	return d->c->timeout;
}

gboolean kite_ckpt_client_download(KiteCkptClient *c, const char *read_cap, int fd, guint64 *out_bytes,
				   gboolean *out_image_checked, GError **error)
{
	g_autoptr(KiteCkptDownload) d = kite_ckpt_download_begin(c, read_cap, error);
	if (!d)
		return FALSE;
	while (!kite_ckpt_download_finished(d))
		if (!kite_ckpt_download_next(d, fd, error))
			return FALSE;
	if (out_bytes)
		*out_bytes = d->off;
	if (out_image_checked)
		*out_image_checked = kite_ckpt_download_image_checked(d);
	return TRUE;
}

/* ---- manage, list, status ---- */

gboolean kite_ckpt_client_manage(KiteCkptClient *c, const char *cap, const char *op, gint64 lease,
				 KiteCkptInfo *out_info, GError **error)
{
	g_autoptr(GVariant) r = kite_conn_call(c->conn, KITE_MSG_CKPT_MANAGE, g_variant_new("(ssx)", cap, op, lease),
					       KITE_MSG_CKPT_INFO, error);
	if (!r)
		return FALSE;
	if (out_info)
		kite_ckpt_info_from_variant(r, out_info);
	return TRUE;
}

GPtrArray *kite_ckpt_client_list(KiteCkptClient *c, const char *owner, GError **error)
{
	g_autoptr(GVariant) r = kite_conn_call(c->conn, KITE_MSG_CKPT_LIST, g_variant_new("(s)", owner ? owner : ""),
					       KITE_MSG_CKPT_LIST_REPLY, error);
	if (!r)
		return NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ckpt_info_free);
	g_autoptr(GVariant) arr = g_variant_get_child_value(r, 0);
	gsize n = g_variant_n_children(arr);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) e = g_variant_get_child_value(arr, i);
		KiteCkptInfo *info = g_new0(KiteCkptInfo, 1);
		kite_ckpt_info_from_variant(e, info);
		g_ptr_array_add(out, info);
	}
	return out;
}

gboolean kite_ckpt_client_status(KiteCkptClient *c, KiteCkptServerStatus *out, GError **error)
{
	g_autoptr(GVariant) r = kite_conn_call(c->conn, KITE_MSG_CKPT_STATUS, g_variant_new("(u)", 0u),
					       KITE_MSG_CKPT_STATUS_REPLY, error);
	if (!r)
		return FALSE;
	const char *addr;
	g_variant_get(r, "(&sttttuu)", &addr, &out->capacity, &out->used, &out->live, &out->free, &out->connections,
		      &out->uploads);
	out->address = g_strdup(addr);
	return TRUE;
}
