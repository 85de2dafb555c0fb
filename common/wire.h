/* wire.h — Kite's framed message protocol (over TCP and Unix sockets).
 *
 * A frame is a 12-byte header — magic "KITE" (4 bytes), protocol version
 * (u16), message type (u16), body length (u32), all big-endian — then a
 * GVariant body in normal form whose type is fixed per message type
 * (wire-messages.h).  Anything else — a bad magic or version, an unknown
 * type, an oversized frame, a body of the wrong type or not in normal
 * form — is a protocol error: the receiver replies ERROR and closes.
 *
 * KITE_DEBUG=wire (or all) prints every message sent and received to
 * stderr in GVariant's text form; that is the one place where common/
 * prints, because it is asked for explicitly.
 *
 * Library code: no printing otherwise. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "wire-messages.h"

G_BEGIN_DECLS

#define KITE_WIRE_MAGIC	      0x4B495445u /* "KITE" */
#define KITE_WIRE_VERSION     1
#define KITE_WIRE_HEADER_SIZE 12
/* Default limit on a body; daemons may configure less or more. */
#define KITE_WIRE_DEFAULT_MAX_BODY (64u * 1024 * 1024)

typedef enum {
#define KITE_X(name, num, type, doc) KITE_MSG_##name = num,
	KITE_WIRE_MESSAGES(KITE_X)
#undef KITE_X
} KiteMsgType;

typedef struct {
	guint32 magic;
	guint16 version;
	guint16 type;
	guint32 length;
} KiteWireHeader;

/* The name ("SUBMIT") and body type of a message type, or NULL if the
 * type is unknown. */
const char *kite_wire_type_name(guint type);
const GVariantType *kite_wire_body_type(guint type);

/* Frame @body (floating references are sunk and consumed) as message
 * @type.  The body must have the message's type (a programming error
 * otherwise).  Returns the whole frame. */
GBytes *kite_wire_encode(KiteMsgType type, GVariant *body);
/* The 12-byte header of a frame of @type with a body of @body_len bytes. */
void kite_wire_header(guint8 *buf, guint type, gsize body_len);
/* The serialised form of an "(say)" value is S, its NUL, the @ay_len
 * bytes of the array, then a trailer (the end offset of S, 1 to 8 bytes
 * long): for sending bulk data without building the value.  Writes the
 * trailer and returns its length. */
gsize kite_wire_s_ay_layout(const char *s, gsize ay_len, guint8 trailer[8]);

/* Check a received header (@buf holds KITE_WIRE_HEADER_SIZE bytes) and
 * write it to @out_header.  Refuses a bad magic, another version, an
 * unknown type or a length over @max_body. */
gboolean kite_wire_parse_header(const guint8 *buf, gsize max_body, KiteWireHeader *out_header,
				GError **error);

/* Make a body of message @type from @len bytes (copied).  Refuses a body
 * that is not a valid GVariant of the message's type in normal form. */
GVariant *kite_wire_decode_body(guint type, const guint8 *data, gsize len, GError **error);
/* The same without copying: the body is the @len bytes at @buf + @skip,
 * and @buf (from g_malloc, with at least @skip + @len + 1 bytes: one of
 * slack) is taken over, whatever the result. */
GVariant *kite_wire_decode_body_take(guint type, guint8 *buf, gsize len, gsize skip, GError **error);

/* Print a message for KITE_DEBUG=wire if enabled; @direction is "send"
 * or "recv", @peer a short description of the other end. */
void kite_wire_debug(const char *direction, const char *peer, guint type, GVariant *body);

/* An `as` value made from @n strings in one piece (the serialised form
 * written directly), for large columns. */
GVariant *kite_wire_strv_new(const char *const *strv, gsize n);
/* The strings of an `as` value without making a GVariant per element:
 * returns a newly allocated array of @out_n pointers into @v's data
 * (valid while @v lives; free the array with g_free).  @v must be in
 * normal form, as every received body is. */
const char **kite_wire_strv_view(GVariant *v, gsize *out_n);

/* Body of an ERROR message. */
GVariant *kite_wire_error_body(const GError *error);
/* Turn a received ERROR body into a GError (domain KITE_ERROR). */
void kite_wire_error_from_body(GVariant *body, GError **error);

G_END_DECLS
