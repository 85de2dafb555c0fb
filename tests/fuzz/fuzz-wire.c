/* fuzz-wire.c — what a daemon does with bytes from a socket
 * (common/wire.c): the 12-byte header is checked, then the body is
 * decoded as the message type says.  The first two input bytes pick the
 * message type among the known ones, so that most inputs reach a body
 * decoder.  An accepted body is in normal form, so encoding it again
 * gives back exactly the bytes received; the ads and string arrays
 * inside are then read as the daemons read them. */
#include "fuzz.h"

#include <string.h>

#include "ad.h"
#include "wire.h"

static guint types[256];
static guint n_types;

static void read_parts(GVariant *v, guint depth)
{
	GError *error = NULL;
	if (g_variant_is_of_type(v, G_VARIANT_TYPE(KITE_AD_VARIANT_TYPE))) {
		g_autoptr(KiteAd) ad = kite_ad_from_variant(v, &error);
		if (ad) {
			g_autofree char *text = kite_ad_to_text(ad);
		} else {
			kite_fuzz_require(error && error->message[0], "a refused ad has a message");
			g_clear_error(&error);
		}
		return;
	}
	if (g_variant_is_of_type(v, G_VARIANT_TYPE_STRING_ARRAY)) {
		gsize n = 0;
		g_autofree const char **view = kite_wire_strv_view(v, &n);
		kite_fuzz_require(n == g_variant_n_children(v), "strv view sees every string");
		for (gsize i = 0; i < n; i++)
			kite_fuzz_require(view[i] != NULL, "strv view string %zu", i);
		return;
	}
	if (depth < 3 && g_variant_is_container(v) && !g_variant_is_of_type(v, G_VARIANT_TYPE_BYTESTRING)) {
		gsize n = g_variant_n_children(v);
		for (gsize i = 0; i < n && i < 64; i++) {
			g_autoptr(GVariant) child = g_variant_get_child_value(v, i);
			read_parts(child, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!n_types)
		for (guint t = 0; t < G_N_ELEMENTS(types) && n_types < G_N_ELEMENTS(types); t++)
			if (kite_wire_type_name(t))
				types[n_types++] = t;

	GError *error = NULL;
	if (size >= KITE_WIRE_HEADER_SIZE) {
		KiteWireHeader h;
		if (!kite_wire_parse_header(data, 1u << 20, &h, &error)) {
			kite_fuzz_require(error && error->message[0], "a refused header has a message");
			g_clear_error(&error);
		} else {
			kite_fuzz_require(kite_wire_type_name(h.type) && h.length <= (1u << 20),
					  "an accepted header has a known type and a bounded length");
		}
	}
	if (size < 2)
		return 0;
	guint type = types[(data[0] << 8 | data[1]) % n_types];
	const guint8 *body = data + 2;
	gsize len = size - 2;

	g_autoptr(GVariant) v = kite_wire_decode_body(type, body, len, &error);
	if (!v) {
		kite_fuzz_require(error && error->message[0], "a refused body has a message");
		g_error_free(error);
		return 0;
	}
	kite_fuzz_require(g_variant_is_of_type(v, kite_wire_body_type(type)), "the body has its message's type");
	g_autoptr(GBytes) frame = kite_wire_encode(type, g_variant_ref(v));
	gsize frame_len = 0;
	const guint8 *frame_data = g_bytes_get_data(frame, &frame_len);
	kite_fuzz_require(frame_len == KITE_WIRE_HEADER_SIZE + len &&
			      memcmp(frame_data + KITE_WIRE_HEADER_SIZE, body, len) == 0,
			  "an accepted %s body encodes back to the bytes received", kite_wire_type_name(type));
	KiteWireHeader h;
	kite_fuzz_require(kite_wire_parse_header(frame_data, 1u << 20, &h, NULL) && h.type == type && h.length == len,
			  "our own header parses");

	if (type == KITE_MSG_ERROR) {
		kite_wire_error_from_body(v, &error);
		kite_fuzz_require(error != NULL, "an ERROR body becomes an error");
		g_clear_error(&error);
	}
	read_parts(v, 0);
	return 0;
}
