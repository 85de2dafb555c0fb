/* wire.c — frame encoding and decoding, message table lookups and the
 * KITE_DEBUG=wire printer.  Socket handling lives in conn.c (blocking
 * clients) and server.c (daemons). */
#include "wire.h"

#include <string.h>
#include <unistd.h>

#include "util.h"

typedef struct {
	guint num;
	const char *name;
	const char *type;
} MessageInfo;

static const MessageInfo messages[] = {
#define KITE_X(name, num, type, doc) {num, #name, type},
    KITE_WIRE_MESSAGES(KITE_X)
#undef KITE_X
};

static const MessageInfo *lookup(guint type)
{
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++)
		if (messages[i].num == type)
			return &messages[i];
	return NULL;
}

const char *kite_wire_type_name(guint type)
{
	const MessageInfo *m = lookup(type);
	return m ? m->name : NULL;
}

const GVariantType *kite_wire_body_type(guint type)
{
	const MessageInfo *m = lookup(type);
	return m ? G_VARIANT_TYPE(m->type) : NULL;
}

static void put_be16(guint8 *p, guint16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put_be32(guint8 *p, guint32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static guint32 get_be32(const guint8 *p)
{
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static guint16 get_be16(const guint8 *p)
{
	return (guint16)(p[0] << 8 | p[1]);
}

GBytes *kite_wire_encode(KiteMsgType type, GVariant *body)
{
	g_autoptr(GVariant) owned = g_variant_ref_sink(body);
	const GVariantType *want = kite_wire_body_type(type);
	g_assert(want != NULL);
	g_assert(g_variant_is_of_type(owned, want));

	gsize len = g_variant_get_size(owned);
	g_assert(len <= G_MAXUINT32);
	guint8 *buf = g_malloc(KITE_WIRE_HEADER_SIZE + len);
	put_be32(buf, KITE_WIRE_MAGIC);
	put_be16(buf + 4, KITE_WIRE_VERSION);
	put_be16(buf + 6, type);
	put_be32(buf + 8, (guint32)len);
	/* g_variant_store needs a destination aligned for the type (the body
	 * sits at offset 12), so copy the variant's own serialised data. */
	if (len)
		memcpy(buf + KITE_WIRE_HEADER_SIZE, g_variant_get_data(owned), len);
	return g_bytes_new_take(buf, KITE_WIRE_HEADER_SIZE + len);
}

gboolean kite_wire_parse_header(const guint8 *buf, gsize max_body, KiteWireHeader *out_header, GError **error)
{
	KiteWireHeader h = {
	    .magic = get_be32(buf),
	    .version = get_be16(buf + 4),
	    .type = get_be16(buf + 6),
	    .length = get_be32(buf + 8),
	};
	if (h.magic != KITE_WIRE_MAGIC)
		return kite_throw(error, KITE_ERROR_PROTOCOL,
				  "not a Kite peer: bad magic 0x%08x (expected 0x%08x, \"KITE\")", h.magic,
				  KITE_WIRE_MAGIC);
	if (h.version != KITE_WIRE_VERSION)
		return kite_throw(error, KITE_ERROR_PROTOCOL,
				  "protocol version %u is not supported (this side speaks version %u)",
				  h.version, KITE_WIRE_VERSION);
	if (!lookup(h.type))
		return kite_throw(error, KITE_ERROR_PROTOCOL, "unknown message type %u", h.type);
	if (h.length > max_body)
		return kite_throw(error, KITE_ERROR_LIMIT,
				  "%s message of %u bytes is over the limit of %zu bytes",
				  kite_wire_type_name(h.type), h.length, max_body);
	*out_header = h;
	return TRUE;
}

/* g_variant_is_normal_form(), without visiting every element of an
 * array of fixed-size numbers: GLib checks an `ay` byte by byte (about
 * 80 MB/s here), and checkpoint images travel as `ay`.  Such an array is
 * in normal form when its size is a multiple of the element's; a tuple
 * is when its children are and re-serialising them gives the very same
 * bytes (normal form is the one serialisation of a value).  Anything
 * else is left to GLib. */
static gboolean is_normal_form(GVariant *v)
{
	const GVariantType *t = g_variant_get_type(v);
	if (g_variant_type_is_array(t)) {
		gsize esz = 0;
		switch (g_variant_type_peek_string(t)[1]) {
		case 'y':
			esz = 1;
			break;
		case 'n':
		case 'q':
			esz = 2;
			break;
		case 'i':
		case 'u':
		case 'h':
			esz = 4;
			break;
		case 'x':
		case 't':
		case 'd':
			esz = 8;
			break;
		}
		return esz ? g_variant_get_size(v) % esz == 0 : g_variant_is_normal_form(v);
	}
	/* (an empty tuple body is GLib's special case: all defaults) */
	gsize n = g_variant_type_is_tuple(t) && g_variant_get_size(v) ? g_variant_n_children(v) : 0;
	if (n == 0)
		return g_variant_is_normal_form(v);
	GVariant **kids = g_new(GVariant *, n);
	gboolean ok = TRUE;
	for (gsize i = 0; i < n; i++) {
		kids[i] = g_variant_get_child_value(v, i);
		ok = ok && is_normal_form(kids[i]);
	}
	if (ok) {
		g_autoptr(GVariant) again = g_variant_ref_sink(g_variant_new_tuple(kids, n));
		gsize size = g_variant_get_size(v);
		ok = g_variant_get_size(again) == size &&
		     (size == 0 || memcmp(g_variant_get_data(again), g_variant_get_data(v), size) == 0);
	}
	for (gsize i = 0; i < n; i++)
		g_variant_unref(kids[i]);
	g_free(kids);
	return ok;
}

GVariant *kite_wire_decode_body(guint type, const guint8 *data, gsize len, GError **error)
{
	const GVariantType *want = kite_wire_body_type(type);
	if (!want) {
		kite_throw(error, KITE_ERROR_PROTOCOL, "unknown message type %u", type);
		return NULL;
	}
	/* GLib's normal-form check of tuple padding can read one byte past
	 * the end of the data (it tests offset > size before reading, not
	 * >=), so the copy keeps a zero byte of slack after the body. */
	guint8 *copy = g_malloc(len + 1);
	if (len)
		memcpy(copy, data, len);
	copy[len] = 0;
	g_autoptr(GBytes) whole = g_bytes_new_take(copy, len + 1);
	g_autoptr(GBytes) bytes = g_bytes_new_from_bytes(whole, 0, len);
	g_autoptr(GVariant) v = g_variant_ref_sink(g_variant_new_from_bytes(want, bytes, FALSE));
	/* GVariant accepts any bytes for any type (it reads garbage as
	 * defaults); normal form is what tells a well-formed body. */
	if (!is_normal_form(v)) {
		kite_throw(error, KITE_ERROR_PROTOCOL, "%s body is not a valid %s value in normal form",
			   kite_wire_type_name(type), (const char *)want);
		return NULL;
	}
	return g_steal_pointer(&v);
}

static gboolean debug_enabled(void)
{
	static int enabled = -1;
	if (enabled < 0) {
		const char *d = g_getenv("KITE_DEBUG");
		enabled = 0;
		if (d) {
			g_auto(GStrv) parts = g_strsplit_set(d, ", ", -1);
			for (char **p = parts; *p; p++)
				if (g_str_equal(*p, "wire") || g_str_equal(*p, "all"))
					enabled = 1;
		}
	}
	return enabled;
}

void kite_wire_debug(const char *direction, const char *peer, guint type, GVariant *body)
{
	if (!debug_enabled())
		return;
	g_autofree char *text = body ? g_variant_print(body, TRUE) : g_strdup("()");
	/* Keep huge replies readable: the head is what a person looks at. */
	if (strlen(text) > 4096)
		strcpy(text + 4000, " …(truncated)");
	g_printerr("kite-wire[%d] %s %s %s %s\n", (int)getpid(), direction, peer,
		   kite_wire_type_name(type) ?: "?", text);
}

GVariant *kite_wire_error_body(const GError *error)
{
	guint32 code = error->domain == KITE_ERROR ? (guint32)error->code : KITE_ERROR_FAILED;
	/* A message may quote a path or other bytes that are not UTF-8, and
	 * a GVariant string must be: replace them rather than lose it all. */
	g_autofree char *msg = g_utf8_make_valid(error->message, -1);
	return g_variant_new("(us)", code, msg);
}

void kite_wire_error_from_body(GVariant *body, GError **error)
{
	guint32 code;
	const char *msg;
	g_variant_get(body, "(u&s)", &code, &msg);
	if (code == 0 || code > KITE_ERROR_STATE)
		code = KITE_ERROR_FAILED;
	g_set_error_literal(error, KITE_ERROR, code, msg);
}

/* GVariant's framing offsets are as wide as the container needs: 1, 2, 4
 * or 8 bytes, chosen by the container's total size (gvariant-serialiser.c,
 * gvs_get_offset_size / gvs_calculate_total_size). */
static gsize offset_size_for(gsize total)
{
	if (total <= G_MAXUINT8)
		return 1;
	if (total <= G_MAXUINT16)
		return 2;
	if ((guint64)total <= G_MAXUINT32)
		return 4;
	return 8;
}

GVariant *kite_wire_strv_new(const char *const *strv, gsize n)
{
	gsize body = 0;
	for (gsize i = 0; i < n; i++)
		body += strlen(strv[i]) + 1;
	gsize osz = 1;
	if (n) {
		if (body + n * 1 <= G_MAXUINT8)
			osz = 1;
		else if (body + n * 2 <= G_MAXUINT16)
			osz = 2;
		else if ((guint64)body + n * 4 <= G_MAXUINT32)
			osz = 4;
		else
			osz = 8;
	}
	gsize total = n ? body + n * osz : 0;
	guint8 *buf = g_malloc(total ? total : 1);
	gsize pos = 0;
	for (gsize i = 0; i < n; i++) {
		gsize len = strlen(strv[i]) + 1;
		memcpy(buf + pos, strv[i], len);
		pos += len;
		/* Offsets are little-endian ends of each element. */
		guint64 end = pos;
		for (gsize b = 0; b < osz; b++)
			buf[body + i * osz + b] = (guint8)(end >> (8 * b));
	}
	g_autoptr(GBytes) bytes = g_bytes_new_take(buf, total);
	return g_variant_new_from_bytes(G_VARIANT_TYPE_STRING_ARRAY, bytes, TRUE);
}

const char **kite_wire_strv_view(GVariant *v, gsize *out_n)
{
	gsize size = g_variant_get_size(v);
	const guint8 *data = g_variant_get_data(v);
	if (size == 0 || !data) {
		*out_n = 0;
		return g_new0(const char *, 1);
	}
	gsize osz = offset_size_for(size);
	guint64 last = 0;
	for (gsize b = 0; b < osz; b++)
		last |= (guint64)data[size - osz + b] << (8 * b);
	gsize n = (size - last) / osz;
	const char **out = g_new(const char *, n + 1);
	gsize start = 0;
	for (gsize i = 0; i < n; i++) {
		out[i] = (const char *)data + start;
		guint64 end = 0;
		for (gsize b = 0; b < osz; b++)
			end |= (guint64)data[last + i * osz + b] << (8 * b);
		start = end;
	}
	out[n] = NULL;
	*out_n = n;
	return out;
}
