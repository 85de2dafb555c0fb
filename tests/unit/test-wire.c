/* test-wire.c — the frame codec (common/wire.c) and the message table
 * (common/wire-messages.h): every message round trips through a frame,
 * the header is big-endian as documented, and everything a peer could
 * send that is not a well-formed frame is refused with the message a
 * user would see — never a crash.  Ends with a fixed-seed fuzz loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ad.h"
#include "util.h"
#include "wire.h"

typedef struct {
	guint num;
	const char *name;
	const char *type;
	KiteMsgType value; /* the enum constant, to check it against num */
} Message;

static const Message messages[] = {
#define KITE_X(name, num, type, doc) {num, #name, type, KITE_MSG_##name},
    KITE_WIRE_MESSAGES(KITE_X)
#undef KITE_X
};

/* ---- helpers ---------------------------------------------------------- */

/* A representative value of any type the protocol uses: non-zero
 * numbers with every byte significant (so byte-order mistakes show),
 * non-ASCII strings, arrays of three elements.  @seed varies it; with
 * @empty every array and string is empty and every number zero. */
static GVariant *sample_value(const GVariantType *t, guint seed, gboolean empty)
{
	const char *ts = g_variant_type_peek_string(t);
	switch (ts[0]) {
	case 'b':
		return g_variant_new_boolean(!empty && (seed & 1) == 0);
	case 'y':
		return g_variant_new_byte(empty ? 0 : (guint8)(0xa5 ^ seed));
	case 'i':
		return g_variant_new_int32(empty ? 0 : -123456 - (gint32)seed);
	case 'u':
		return g_variant_new_uint32(empty ? 0 : 0xdeadbeefu - seed);
	case 'x':
		return g_variant_new_int64(empty ? 0 : G_GINT64_CONSTANT(-0x0102030405060708) + seed);
	case 't':
		return g_variant_new_uint64(empty ? 0 : G_GUINT64_CONSTANT(0x0102030405060708) + seed);
	case 'd':
		return g_variant_new_double(empty ? 0 : -1234.5 - seed);
	case 's':
		return empty ? g_variant_new_string("")
			     : g_variant_new_take_string(g_strdup_printf("str-%u \xc3\xbc"
									 "n\xc3\xaf"
									 "c\xc3\xb8"
									 "d\xc3\xa9",
									 seed));
	case 'a': {
		const GVariantType *elem = g_variant_type_element(t);
		GVariantBuilder b;
		g_variant_builder_init(&b, t);
		guint n = empty ? 0 : (g_variant_type_equal(elem, G_VARIANT_TYPE_BYTE) ? 32 : 3);
		for (guint i = 0; i < n; i++)
			g_variant_builder_add_value(&b, sample_value(elem, seed * 7 + i + 1, FALSE));
		return g_variant_builder_end(&b);
	}
	case '(': {
		GVariantBuilder b;
		g_variant_builder_init(&b, t);
		guint i = 0;
		for (const GVariantType *m = g_variant_type_first(t); m; m = g_variant_type_next(m), i++)
			g_variant_builder_add_value(&b, sample_value(m, seed + i, empty));
		return g_variant_builder_end(&b);
	}
	default:
		fail_msg("sample_value: type %s is not used by the protocol; extend the test", ts);
		return NULL;
	}
}

static const Message *find_message(guint num)
{
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++)
		if (messages[i].num == num)
			return &messages[i];
	fail_msg("message %u is not in the table", num);
	return NULL;
}

static GVariant *sample_body(const Message *m, guint seed, gboolean empty)
{
	return g_variant_ref_sink(sample_value(G_VARIANT_TYPE(m->type), seed, empty));
}

static void put_header(guint8 *buf, guint32 magic, guint16 version, guint16 type, guint32 length)
{
	guint8 h[KITE_WIRE_HEADER_SIZE] = {magic >> 24,	 magic >> 16,  magic >> 8,  magic,
					   version >> 8, version,      type >> 8,   type,
					   length >> 24, length >> 16, length >> 8, length};
	memcpy(buf, h, sizeof h);
}

/* Parse a header that must be refused and check the refusal; the
 * output header must not be written. */
static void assert_header_refused(guint32 magic, guint16 version, guint16 type, guint32 length, gsize max,
				  KiteErrorCode code, const char *message)
{
	guint8 buf[KITE_WIRE_HEADER_SIZE];
	put_header(buf, magic, version, type, length);
	KiteWireHeader h = {0x11111111, 0x2222, 0x3333, 0x44444444};
	g_autoptr(GError) error = NULL;
	assert_false(kite_wire_parse_header(buf, max, &h, &error));
	assert_kite_error(error, code, message);
	assert_int_equal(h.magic, 0x11111111);
	assert_int_equal(h.version, 0x2222);
	assert_int_equal(h.type, 0x3333);
	assert_int_equal(h.length, 0x44444444);
}

static char *not_normal_message(guint type)
{
	return g_strdup_printf("%s body is not a valid %s value in normal form", kite_wire_type_name(type),
			       g_variant_type_peek_string(kite_wire_body_type(type)));
}

static void assert_body_refused(guint type, const void *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) v = kite_wire_decode_body(type, data, len, &error);
	if (v) {
		g_autofree char *text = g_variant_print(v, TRUE);
		fail_msg("%s body of %zu bytes was accepted as %s", kite_wire_type_name(type), len, text);
	}
	g_autofree char *want = not_normal_message(type);
	assert_kite_error(error, KITE_ERROR_PROTOCOL, want);
}

static GVariant *assert_body_accepted(guint type, const void *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	GVariant *v = kite_wire_decode_body(type, data, len, &error);
	if (!v)
		fail_msg("%s body refused: %s", kite_wire_type_name(type), error->message);
	return v;
}

/* The serialised bytes of @v, newly allocated. */
static guint8 *body_bytes(GVariant *v, gsize *out_len)
{
	*out_len = g_variant_get_size(v);
	return g_memdup2(g_variant_get_data(v), *out_len ? *out_len : 1);
}

/* ---- the message table ------------------------------------------------ */

static void test_table(void **state)
{
	assert_true(G_N_ELEMENTS(messages) >= 45); /* every message up to CKPT_STATUS_REPLY */
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
		const Message *m = &messages[i];
		assert_int_equal(m->value, m->num);
		assert_true(m->num > 0 && m->num <= G_MAXUINT16);
		assert_string_equal(kite_wire_type_name(m->num), m->name);
		const GVariantType *t = kite_wire_body_type(m->num);
		assert_non_null(t);
		assert_true(g_variant_type_string_is_valid(m->type));
		assert_string_equal(g_variant_type_peek_string(t), m->type);
		/* Every body is a tuple, so it can grow by appending members. */
		assert_true(g_variant_type_is_tuple(t));
		for (gsize j = 0; j < i; j++) {
			assert_int_not_equal(messages[j].num, m->num);
			assert_string_not_equal(messages[j].name, m->name);
		}
	}
	/* Numbers the protocol documents, which never change. */
	assert_int_equal(KITE_MSG_ERROR, 1);
	assert_int_equal(KITE_MSG_HELLO, 2);
	assert_int_equal(KITE_MSG_AUTH_OK, 5);
	assert_int_equal(KITE_MSG_SUBMIT, 10);
	assert_int_equal(KITE_MSG_QUERY_REPLY, 13);
	assert_int_equal(KITE_MSG_TOKEN_REPLY, 18);
	assert_int_equal(KITE_MSG_MACHINE_ADS, 20);
	assert_int_equal(KITE_MSG_MACHINES_REPLY, 23);
	assert_int_equal(KITE_MSG_MACHINE_INVALIDATE, 24);
	assert_int_equal(KITE_MSG_AGENT_QUERY, 25);
	assert_int_equal(KITE_MSG_AGENT_REPLY, 26);
	assert_int_equal(KITE_MSG_CLAIM, 30);
	assert_int_equal(KITE_MSG_RELEASE, 36);
	assert_int_equal(KITE_MSG_USERPRIO, 60);
	assert_int_equal(KITE_MSG_USERPRIO_REPLY, 61);
	assert_string_equal(g_variant_type_peek_string(kite_wire_body_type(KITE_MSG_QUERY_REPLY)),
			    KITE_WIRE_QUERY_REPLY_TYPE);

	const guint unknown[] = {0, 6, 7, 8, 9, 19, 27, 255, 256, 2560, 65535, 65536, G_MAXUINT};
	for (gsize i = 0; i < G_N_ELEMENTS(unknown); i++) {
		assert_null(kite_wire_type_name(unknown[i]));
		assert_null(kite_wire_body_type(unknown[i]));
	}
}

/* kite_wire_strv_new writes the same bytes GLib would, at every framing
 * offset width, and kite_wire_strv_view reads them back. */
static void test_strv_columns(void **state)
{
	(void)state;
	/* Sizes chosen to cross the 1-, 2- and 4-byte offset boundaries. */
	const gsize counts[] = {0, 1, 2, 50, 84, 85, 86, 200, 16000, 70000};
	for (gsize c = 0; c < G_N_ELEMENTS(counts); c++) {
		gsize n = counts[c];
		g_autoptr(GPtrArray) strs = g_ptr_array_new_with_free_func(g_free);
		for (gsize i = 0; i < n; i++)
			g_ptr_array_add(strs, i % 7 == 0 ? g_strdup("") : g_strdup_printf("s%zu", i));
		g_ptr_array_add(strs, NULL);
		g_autoptr(GVariant) ours =
		    g_variant_ref_sink(kite_wire_strv_new((const char *const *)strs->pdata, n));
		g_autoptr(GVariant) glibs =
		    g_variant_ref_sink(g_variant_new_strv((const char *const *)strs->pdata, n));
		assert_int_equal(g_variant_get_size(ours), g_variant_get_size(glibs));
		if (n)
			assert_memory_equal(g_variant_get_data(ours), g_variant_get_data(glibs),
					    g_variant_get_size(ours));
		assert_true(g_variant_is_normal_form(ours));
		gsize got = 99;
		g_autofree const char **view = kite_wire_strv_view(ours, &got);
		assert_int_equal(got, n);
		for (gsize i = 0; i < n; i++)
			assert_string_equal(view[i], strs->pdata[i]);
		assert_null(view[n]);
	}
}

/* ---- round trips -------------------------------------------------------- */

/* Encode @body as @m, check the header bytes, parse the header and
 * decode the body straight out of the frame (at offset 12, as a
 * receiver does, so it is not 8-aligned). */
static void round_trip(const Message *m, GVariant *body)
{
	gsize body_len = g_variant_get_size(body);
	g_autoptr(GBytes) frame = kite_wire_encode(m->num, body);
	gsize frame_len;
	const guint8 *f = g_bytes_get_data(frame, &frame_len);
	assert_int_equal(frame_len, KITE_WIRE_HEADER_SIZE + body_len);

	assert_memory_equal(f, "KITE", 4);
	assert_int_equal(f[4], 0);
	assert_int_equal(f[5], 1);
	assert_int_equal(f[6], m->num >> 8);
	assert_int_equal(f[7], m->num & 0xff);
	assert_int_equal(f[8], (body_len >> 24) & 0xff);
	assert_int_equal(f[9], (body_len >> 16) & 0xff);
	assert_int_equal(f[10], (body_len >> 8) & 0xff);
	assert_int_equal(f[11], body_len & 0xff);
	if (body_len)
		assert_memory_equal(f + KITE_WIRE_HEADER_SIZE, g_variant_get_data(body), body_len);

	KiteWireHeader h;
	g_autoptr(GError) error = NULL;
	assert_true(kite_wire_parse_header(f, KITE_WIRE_DEFAULT_MAX_BODY, &h, &error));
	assert_null(error);
	assert_int_equal(h.magic, KITE_WIRE_MAGIC);
	assert_int_equal(h.version, KITE_WIRE_VERSION);
	assert_int_equal(h.type, m->num);
	assert_int_equal(h.length, body_len);

	g_autoptr(GVariant) got = kite_wire_decode_body(h.type, f + KITE_WIRE_HEADER_SIZE, h.length, &error);
	if (!got)
		fail_msg("%s: %s", m->name, error->message);
	assert_false(g_variant_is_floating(got));
	assert_true(g_variant_is_of_type(got, G_VARIANT_TYPE(m->type)));
	if (!g_variant_equal(got, body)) {
		g_autofree char *a = g_variant_print(body, TRUE);
		g_autofree char *b = g_variant_print(got, TRUE);
		fail_msg("%s: sent %s, received %s", m->name, a, b);
	}
	/* The decoded body does not point into the frame. */
	if (body_len)
		assert_ptr_not_equal(g_variant_get_data(got), f + KITE_WIRE_HEADER_SIZE);
}

static void test_round_trip_every_message(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
		for (guint seed = 0; seed < 4; seed++) {
			g_autoptr(GVariant) body = sample_body(&messages[i], seed, FALSE);
			assert_true(g_variant_get_size(body) > 0);
			round_trip(&messages[i], body);
		}
		g_autoptr(GVariant) empty = sample_body(&messages[i], 0, TRUE);
		round_trip(&messages[i], empty);
	}
}

/* Bodies as the programs build them. */
static void test_round_trip_real_bodies(void **state)
{
	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_string(ad, "Cmd", "/bin/echo");
	kite_ad_set_string(ad, "Arguments", "h\xc3\xa9llo \"$(Process)\"");
	kite_ad_set_int(ad, "RequestMemory", 512);
	assert_true(kite_ad_set_parsed(ad, "Requirements", "Memory >= 512 && OpSys == \"LINUX\"", NULL));
	g_autoptr(GVariant) submit =
	    g_variant_ref_sink(g_variant_new("(@a(ss)u)", kite_ad_to_variant(ad), 25u));
	round_trip(find_message(KITE_MSG_SUBMIT), submit);

	g_autoptr(GBytes) frame = kite_wire_encode(KITE_MSG_SUBMIT, submit);
	const guint8 *f = g_bytes_get_data(frame, NULL);
	g_autoptr(GVariant) got = assert_body_accepted(KITE_MSG_SUBMIT, f + 12, g_bytes_get_size(frame) - 12);
	g_autoptr(GVariant) ad_v = NULL;
	guint32 count;
	g_variant_get(got, "(@a(ss)u)", &ad_v, &count);
	assert_int_equal(count, 25);
	g_autoptr(KiteAd) ad2 = kite_ad_from_variant(ad_v, NULL);
	assert_non_null(ad2);
	g_autofree char *t1 = kite_ad_to_text(ad);
	g_autofree char *t2 = kite_ad_to_text(ad2);
	assert_string_equal(t1, t2);

	/* A body the caller holds stays the caller's (valgrind checks that
	 * encode neither leaks nor drops a reference). */
	g_autoptr(GVariant) held = g_variant_ref_sink(g_variant_new("(s)", "still mine"));
	g_autoptr(GBytes) f1 = kite_wire_encode(KITE_MSG_AUTH_TOKEN, held);
	assert_false(g_variant_is_floating(held));
	const char *still;
	g_variant_get(held, "(&s)", &still);
	assert_string_equal(still, "still mine");
	assert_int_equal(g_bytes_get_size(f1), 12 + 11);

	/* A floating body is consumed by encode. */
	g_autoptr(GBytes) f2 = kite_wire_encode(KITE_MSG_SUBMIT_REPLY, g_variant_new("(xu)", (gint64)12, 3u));
	const guint8 want[] = {'K', 'I', 'T', 'E', 0, 1, 0, 11, 0, 0, 0, 16, 12, 0,
			       0,   0,	 0,   0,   0, 0, 3, 0,	0, 0, 0, 0,  0,	 0};
	assert_int_equal(g_bytes_get_size(f2), sizeof want);
	assert_memory_equal(g_bytes_get_data(f2, NULL), want, sizeof want);
}

/* Every header field is big-endian; the length uses all four bytes. */
static void test_header_bytes(void **state)
{
	g_autofree char *big = g_strnfill(70000, 'x');
	g_autoptr(GBytes) frame = kite_wire_encode(KITE_MSG_TOKEN_REPLY, g_variant_new("(s)", big));
	const guint8 *f = g_bytes_get_data(frame, NULL);
	const guint8 want[KITE_WIRE_HEADER_SIZE] = {0x4b, 0x49, 0x54, 0x45, 0x00, 0x01,
						    0x00, 0x12, 0x00, 0x01, 0x11, 0x71};
	assert_memory_equal(f, want, sizeof want); /* 70001 = 0x00011171 */
	assert_int_equal(g_bytes_get_size(frame), 12 + 70001);

	/* Parsing reads the same order back. */
	guint8 buf[KITE_WIRE_HEADER_SIZE];
	put_header(buf, KITE_WIRE_MAGIC, 1, 0x000d, 0x01020304);
	KiteWireHeader h;
	assert_true(kite_wire_parse_header(buf, G_MAXUINT32, &h, NULL));
	assert_int_equal(h.type, KITE_MSG_QUERY_REPLY);
	assert_int_equal(h.length, 0x01020304);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.magic, 0x4b495445);

	/* A length exactly at the limit passes; zero passes. */
	put_header(buf, KITE_WIRE_MAGIC, 1, KITE_MSG_SUBMIT, 100);
	assert_true(kite_wire_parse_header(buf, 100, &h, NULL));
	assert_int_equal(h.length, 100);
	put_header(buf, KITE_WIRE_MAGIC, 1, KITE_MSG_ACT_REPLY, 0);
	assert_true(kite_wire_parse_header(buf, 0, &h, NULL));
	assert_int_equal(h.length, 0);
	assert_int_equal(h.type, KITE_MSG_ACT_REPLY);
}

static void test_header_refusals(void **state)
{
	/* Someone speaking HTTP, or little-endian "KITE". */
	assert_header_refused(0x47455420, 1, 10, 0, 100, KITE_ERROR_PROTOCOL,
			      "not a Kite peer: bad magic 0x47455420 (expected 0x4b495445, \"KITE\")");
	assert_header_refused(0x4554494b, 1, 10, 0, 100, KITE_ERROR_PROTOCOL,
			      "not a Kite peer: bad magic 0x4554494b (expected 0x4b495445, \"KITE\")");
	assert_header_refused(0x6b697465, 1, 10, 0, 100, KITE_ERROR_PROTOCOL,
			      "not a Kite peer: bad magic 0x6b697465 (expected 0x4b495445, \"KITE\")");
	assert_header_refused(0, 0, 0, 0, 100, KITE_ERROR_PROTOCOL,
			      "not a Kite peer: bad magic 0x00000000 (expected 0x4b495445, \"KITE\")");
	/* The magic is checked first. */
	assert_header_refused(0xffffffff, 7, 999, G_MAXUINT32, 100, KITE_ERROR_PROTOCOL,
			      "not a Kite peer: bad magic 0xffffffff (expected 0x4b495445, \"KITE\")");

	assert_header_refused(KITE_WIRE_MAGIC, 0, 10, 0, 100, KITE_ERROR_PROTOCOL,
			      "protocol version 0 is not supported (this side speaks version 1)");
	assert_header_refused(KITE_WIRE_MAGIC, 2, 10, 0, 100, KITE_ERROR_PROTOCOL,
			      "protocol version 2 is not supported (this side speaks version 1)");
	assert_header_refused(KITE_WIRE_MAGIC, 0x0100, 10, 0, 100, KITE_ERROR_PROTOCOL,
			      "protocol version 256 is not supported (this side speaks version 1)");
	assert_header_refused(KITE_WIRE_MAGIC, 0xffff, 0xffff, G_MAXUINT32, 100, KITE_ERROR_PROTOCOL,
			      "protocol version 65535 is not supported (this side speaks version 1)");

	const guint16 unknown[] = {0, 6, 7, 8, 9, 19, 0x0a00, 0x0100, 0xffff};
	for (gsize i = 0; i < G_N_ELEMENTS(unknown); i++) {
		g_autofree char *want = g_strdup_printf("unknown message type %u", unknown[i]);
		/* Type before length: an unknown type is reported even when huge. */
		assert_header_refused(KITE_WIRE_MAGIC, 1, unknown[i], G_MAXUINT32, 100, KITE_ERROR_PROTOCOL,
				      want);
	}

	assert_header_refused(KITE_WIRE_MAGIC, 1, KITE_MSG_SUBMIT, 101, 100, KITE_ERROR_LIMIT,
			      "SUBMIT message of 101 bytes is over the limit of 100 bytes");
	assert_header_refused(KITE_WIRE_MAGIC, 1, KITE_MSG_ERROR, 1, 0, KITE_ERROR_LIMIT,
			      "ERROR message of 1 bytes is over the limit of 0 bytes");
	assert_header_refused(KITE_WIRE_MAGIC, 1, KITE_MSG_QUERY_REPLY, G_MAXUINT32,
			      KITE_WIRE_DEFAULT_MAX_BODY, KITE_ERROR_LIMIT,
			      "QUERY_REPLY message of 4294967295 bytes is over the limit of 67108864 bytes");
	assert_header_refused(KITE_WIRE_MAGIC, 1, KITE_MSG_HELLO, KITE_WIRE_DEFAULT_MAX_BODY + 1,
			      KITE_WIRE_DEFAULT_MAX_BODY, KITE_ERROR_LIMIT,
			      "HELLO message of 67108865 bytes is over the limit of 67108864 bytes");

	/* Every known type passes with a good header; all bytes of the
	 * header are read (a flipped byte anywhere changes the outcome). */
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
		guint8 buf[KITE_WIRE_HEADER_SIZE];
		put_header(buf, KITE_WIRE_MAGIC, 1, messages[i].num, 64);
		KiteWireHeader h;
		assert_true(kite_wire_parse_header(buf, 64, &h, NULL));
		for (int b = 0; b < 8; b++) {
			guint8 bad[KITE_WIRE_HEADER_SIZE];
			memcpy(bad, buf, sizeof bad);
			bad[b] ^= 0x40;
			guint16 flipped = bad[6] << 8 | bad[7];
			if (b == 7 && kite_wire_type_name(flipped)) {
				/* another message's number (26 and 90, 28 and 92
				 * differ in that bit): a header of that message */
				assert_true(kite_wire_parse_header(bad, 64, &h, NULL));
				assert_int_equal(h.type, flipped);
				continue;
			}
			assert_false(kite_wire_parse_header(bad, 64, &h, NULL));
		}
		for (int b = 8; b < 12; b++) {
			guint8 bad[KITE_WIRE_HEADER_SIZE];
			memcpy(bad, buf, sizeof bad);
			bad[b] ^= 0x80;
			g_autoptr(GError) error = NULL;
			assert_false(kite_wire_parse_header(bad, 64, &h, &error));
			assert_int_equal(error->code, KITE_ERROR_LIMIT);
		}
	}
}

/* ---- malformed bodies --------------------------------------------------- */

static void test_body_unknown_type(void **state)
{
	const guint8 body[] = {'a', 0};
	const guint types[] = {0, 6, 19, 99, 65535, 70000};
	for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(GError) error = NULL;
		assert_null(kite_wire_decode_body(types[i], body, sizeof body, &error));
		g_autofree char *want = g_strdup_printf("unknown message type %u", types[i]);
		assert_kite_error(error, KITE_ERROR_PROTOCOL, want);
	}
	/* NULL error is allowed. */
	assert_null(kite_wire_decode_body(99, body, sizeof body, NULL));
}

/* The in-place normal-form check (wire.c) agrees with GLib's own on every
 * message's body with every single bit flipped, and on every truncation:
 * it accepts exactly what g_variant_is_normal_form() accepts. */
static void test_normal_form_agrees_with_glib(void **state)
{
	int accepted = 0, refused = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
		for (guint seed = 1; seed <= 2; seed++) {
			g_autoptr(GVariant) body = sample_body(&messages[i], seed, seed == 2);
			gsize len;
			g_autofree guint8 *data = body_bytes(body, &len);
			for (gsize pos = 0; pos <= len; pos++) {
				for (int bit = 0; bit < 9; bit++) {
					/* bit 8: the body cut short at pos instead */
					if ((pos == len) != (bit == 8))
						continue;
					gsize blen = bit == 8 ? len - 1 : len;
					if (bit == 8 && len == 0)
						continue;
					g_autofree guint8 *bad = g_malloc(len + 1);
					memcpy(bad, data, len);
					if (bit < 8)
						bad[pos] ^= 1u << bit;
					g_autoptr(GBytes) bytes = g_bytes_new(bad, blen);
					g_autoptr(GVariant) ref = g_variant_ref_sink(g_variant_new_from_bytes(
					    G_VARIANT_TYPE(messages[i].type), bytes, FALSE));
					gboolean glib_ok = g_variant_is_normal_form(ref);
					g_autoptr(GError) error = NULL;
					g_autoptr(GVariant) v = kite_wire_decode_body(messages[i].num, bad, blen, &error);
					if (glib_ok != (v != NULL))
						fail_msg("%s body (%s), byte %zu bit %d of %zu: GLib says %s, wire.c %s",
							 messages[i].name, messages[i].type, pos, bit, len,
							 glib_ok ? "normal" : "not normal", v ? "accepted" : "refused");
					if (v)
						accepted++;
					else
						refused++;
				}
			}
		}
	}
	assert_true(accepted > 100);
	assert_true(refused > 100);
}

/* A body made for one message, sent as another of a different type. */
static void test_body_wrong_type(void **state)
{
	int refused = 0, accepted = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
		g_autoptr(GVariant) body = sample_body(&messages[i], 1, FALSE);
		gsize len;
		g_autofree guint8 *data = body_bytes(body, &len);
		for (gsize j = 0; j < G_N_ELEMENTS(messages); j++) {
			if (g_str_equal(messages[i].type, messages[j].type))
				continue;
			g_autoptr(GError) error = NULL;
			g_autoptr(GVariant) v = kite_wire_decode_body(messages[j].num, data, len, &error);
			if (v) {
				/* Only possible if the bytes really are a canonical
				 * value of the other type: then they must read back
				 * to the same bytes. */
				assert_int_equal(g_variant_get_size(v), len);
				assert_memory_equal(g_variant_get_data(v), data, len);
				accepted++;
				continue;
			}
			g_autofree char *want = not_normal_message(messages[j].num);
			assert_kite_error(error, KITE_ERROR_PROTOCOL, want);
			refused++;
		}
	}
	/* every pairing of messages with different body types was tried;
	 * all but a handful are refused */
	int pairings = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++)
		for (gsize j = 0; j < G_N_ELEMENTS(messages); j++)
			pairings += !g_str_equal(messages[i].type, messages[j].type);
	assert_int_equal(refused + accepted, pairings);
	assert_true(refused >= 300);

	/* Specific cases a user might hit. */
	g_autoptr(GVariant) ok = g_variant_ref_sink(g_variant_new("(ss)", "alice", "user"));
	assert_body_refused(KITE_MSG_SUBMIT_REPLY, g_variant_get_data(ok), g_variant_get_size(ok));
	g_autoptr(GVariant) reply = g_variant_ref_sink(g_variant_new("(xu)", (gint64)12, 3u));
	assert_body_refused(KITE_MSG_ERROR, g_variant_get_data(reply), g_variant_get_size(reply));
	assert_body_refused(KITE_MSG_AUTH_TOKEN, g_variant_get_data(reply), g_variant_get_size(reply));
	/* The same bytes under a message of the same type are fine. */
	g_autoptr(GVariant) tok = g_variant_ref_sink(g_variant_new("(s)", "kite1.x.1.y"));
	g_autoptr(GVariant) tok2 =
	    assert_body_accepted(KITE_MSG_TOKEN_REPLY, g_variant_get_data(tok), g_variant_get_size(tok));
	assert_true(g_variant_equal(tok, tok2));
}

static void test_body_strings(void **state)
{
	/* (s): the whole body is the string and its NUL. */
	g_autoptr(GVariant) v = assert_body_accepted(KITE_MSG_AUTH_TOKEN, "abc", 4);
	const char *s;
	g_variant_get(v, "(&s)", &s);
	assert_string_equal(s, "abc");
	assert_body_refused(KITE_MSG_AUTH_TOKEN, "abc", 3);	     /* no NUL */
	assert_body_refused(KITE_MSG_AUTH_TOKEN, "ab\0c", 4);	     /* NUL not last */
	assert_body_refused(KITE_MSG_AUTH_TOKEN, "a\0b", 4);	     /* embedded NUL */
	assert_body_refused(KITE_MSG_AUTH_TOKEN, "abc\0", 5);	     /* trailing bytes */
	assert_body_refused(KITE_MSG_AUTH_TOKEN, "\xff\xfe", 3);     /* not UTF-8 */
	assert_body_refused(KITE_MSG_AUTH_TOKEN, "\xc3", 2);	     /* cut UTF-8 */
	assert_body_refused(KITE_MSG_AUTH_TOKEN, "\xed\xa0\x80", 4); /* surrogate */
	g_autoptr(GVariant) e = assert_body_accepted(KITE_MSG_AUTH_TOKEN, "", 1);
	g_variant_get(e, "(&s)", &s);
	assert_string_equal(s, "");

	/* (us) with a string that does not end in NUL. */
	const guint8 err_ok[] = {7, 0, 0, 0, 'h', 'i', 0};
	g_autoptr(GVariant) ev = assert_body_accepted(KITE_MSG_ERROR, err_ok, sizeof err_ok);
	guint32 code;
	g_variant_get(ev, "(u&s)", &code, &s);
	assert_int_equal(code, 7);
	assert_string_equal(s, "hi");
	const guint8 err_bad[] = {7, 0, 0, 0, 'h', 'i', '!'};
	assert_body_refused(KITE_MSG_ERROR, err_bad, sizeof err_bad);
	assert_body_refused(KITE_MSG_ERROR, err_ok, 4); /* no string at all */
	assert_body_refused(KITE_MSG_ERROR, err_ok, 3); /* not even the u */
}

/* Framing offsets: (ss) is "a\0b\0" followed by the end of the first
 * string as one byte. */
static void test_body_framing_offsets(void **state)
{
	g_autoptr(GVariant) good = g_variant_ref_sink(g_variant_new("(ss)", "a", "b"));
	const guint8 want[] = {'a', 0, 'b', 0, 2};
	assert_int_equal(g_variant_get_size(good), sizeof want);
	assert_memory_equal(g_variant_get_data(good), want, sizeof want);
	g_autoptr(GVariant) v = assert_body_accepted(KITE_MSG_AUTH_OK, want, sizeof want);
	assert_true(g_variant_equal(v, good));

	const guint8 offsets[] = {0, 1, 3, 4, 5, 6, 0x80, 0xff};
	for (gsize i = 0; i < G_N_ELEMENTS(offsets); i++) {
		guint8 bad[sizeof want];
		memcpy(bad, want, sizeof want);
		bad[4] = offsets[i];
		assert_body_refused(KITE_MSG_AUTH_OK, bad, sizeof bad);
	}

	/* An array of variable-size elements, a(xx) is fixed but a(ss) is
	 * not: SUBMIT's ad with a broken offset table. */
	g_autoptr(GVariant) submit =
	    g_variant_ref_sink(g_variant_new_parsed("([('A', '1'), ('B', '\"x\"')], uint32 2)"));
	gsize len;
	g_autofree guint8 *data = body_bytes(submit, &len);
	g_autoptr(GVariant) sv = assert_body_accepted(KITE_MSG_SUBMIT, data, len);
	assert_true(g_variant_equal(sv, submit));
	int refused = 0;
	for (gsize i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			g_autofree guint8 *bad = g_memdup2(data, len);
			bad[i] ^= 1u << bit;
			g_autoptr(GError) error = NULL;
			g_autoptr(GVariant) bv = kite_wire_decode_body(KITE_MSG_SUBMIT, bad, len, &error);
			if (bv) {
				/* A flip inside a string or number can give another
				 * valid value, but never the original one. */
				assert_false(g_variant_equal(bv, submit));
				assert_memory_equal(g_variant_get_data(bv), bad, len);
			} else {
				g_autofree char *msg = not_normal_message(KITE_MSG_SUBMIT);
				assert_kite_error(error, KITE_ERROR_PROTOCOL, msg);
				refused++;
			}
		}
	}
	assert_true(refused > 0);
}

/* Padding between members must be zero; booleans must be 0 or 1. */
static void test_body_padding_and_booleans(void **state)
{
	/* (xu) is 16 bytes: x, u, then 4 bytes of padding. */
	guint8 reply[16] = {12, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
	g_autoptr(GVariant) v = assert_body_accepted(KITE_MSG_SUBMIT_REPLY, reply, sizeof reply);
	gint64 cluster;
	guint32 count;
	g_variant_get(v, "(xu)", &cluster, &count);
	assert_int_equal(cluster, 12);
	assert_int_equal(count, 3);
	for (int i = 12; i < 16; i++) {
		guint8 bad[16];
		memcpy(bad, reply, sizeof bad);
		bad[i] = 1;
		assert_body_refused(KITE_MSG_SUBMIT_REPLY, bad, sizeof bad);
	}
	assert_body_refused(KITE_MSG_SUBMIT_REPLY, reply, 12); /* padding missing */
	assert_body_refused(KITE_MSG_SUBMIT_REPLY, reply, 15);
	guint8 longer[17] = {0};
	memcpy(longer, reply, sizeof reply);
	assert_body_refused(KITE_MSG_SUBMIT_REPLY, longer, sizeof longer);

	/* (ua(xx)s): u, 4 bytes of padding before the 8-aligned array. */
	g_autoptr(GVariant) act =
	    g_variant_ref_sink(g_variant_new_parsed("(uint32 2, [(int64 7, int64 0)], 'why')"));
	gsize len;
	g_autofree guint8 *data = body_bytes(act, &len);
	assert_int_equal(len, 4 + 4 + 16 + 4 + 1);
	for (int i = 4; i < 8; i++) {
		assert_int_equal(data[i], 0);
		g_autofree guint8 *bad = g_memdup2(data, len);
		bad[i] = 0x80;
		assert_body_refused(KITE_MSG_ACT, bad, len);
	}

	/* Only the u, cut before the padding: refused, and GLib's padding
	 * check must not read past the body (valgrind would say). */
	assert_body_refused(KITE_MSG_ACT, data, 4);
	assert_body_refused(KITE_MSG_ACT, data, 5);

	/* QUERY ends in two booleans: find each by building the body with
	 * it false and true, then try every other byte value. */
	for (int which = 0; which < 2; which++) {
		g_autoptr(GVariant) f = g_variant_ref_sink(g_variant_new_parsed(
		    "('alice', [(int64 3, int64 -1)], 5, 'Owner == \"alice\"', false, false)"));
		g_autoptr(GVariant) t = g_variant_ref_sink(g_variant_new_parsed(
		    which ? "('alice', [(int64 3, int64 -1)], 5, 'Owner == \"alice\"', false, true)"
			  : "('alice', [(int64 3, int64 -1)], 5, 'Owner == \"alice\"', true, false)"));
		gsize flen;
		g_autofree guint8 *fd = body_bytes(f, &flen);
		assert_int_equal(g_variant_get_size(t), flen);
		gssize pos = -1;
		for (gsize i = 0; i < flen; i++)
			if (fd[i] != ((const guint8 *)g_variant_get_data(t))[i]) {
				assert_int_equal(pos, -1);
				pos = i;
			}
		assert_true(pos >= 0);
		g_autoptr(GVariant) tv = assert_body_accepted(KITE_MSG_QUERY, g_variant_get_data(t), flen);
		assert_true(g_variant_equal(tv, t));
		const guint8 values[] = {2, 3, 0x80, 0xff};
		for (gsize k = 0; k < G_N_ELEMENTS(values); k++) {
			g_autofree guint8 *bad = g_memdup2(fd, flen);
			bad[pos] = values[k];
			assert_body_refused(KITE_MSG_QUERY, bad, flen);
		}
	}
}

/* TRUE if @type is a tuple of arrays only: then its value with every
 * array empty is serialised as zero bytes (no framing offsets). */
static gboolean only_arrays(const char *type)
{
	const GVariantType *t = G_VARIANT_TYPE(type);
	for (const GVariantType *item = g_variant_type_first(t); item; item = g_variant_type_next(item))
		if (!g_variant_type_is_array(item))
			return FALSE;
	return TRUE;
}

/* An empty body is a valid value only for a message whose body is all
 * arrays (every list empty); every other message refuses it. */
static void test_body_empty(void **state)
{
	int accepted = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
		const Message *m = &messages[i];
		if (only_arrays(m->type)) {
			g_autoptr(GVariant) v = assert_body_accepted(m->num, "", 0);
			g_autoptr(GVariant) child = g_variant_get_child_value(v, 0);
			assert_int_equal(g_variant_n_children(child), 0);
			accepted++;
		} else {
			assert_body_refused(m->num, "", 0);
			assert_body_refused(m->num, NULL, 0);
		}
	}
	/* QUERY_REPLY and ACT_REPLY: "no jobs"; MACHINE_ADS, MACHINES_REPLY,
	 * MACHINE_INVALIDATE and AGENT_REPLY: "no slots"; CKPT_HAVE_REPLY,
	 * CKPT_MANIFEST, CKPT_CHUNKS, CKPT_LIST_REPLY: nothing missing, no
	 * bytes, no allocations; JOB_EVENTS_REPLY: nothing happened yet. */
	assert_int_equal(accepted, 11);
}

/* A frame cut short: every shorter body is refused — except for a body
 * that is one array of fixed-size numbers ((ay), (au)), where any whole
 * number of elements is a valid, shorter, list. */
static void test_truncated_bodies(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(messages); i++) {
		const Message *m = &messages[i];
		if (g_str_equal(m->type, "(ay)") || g_str_equal(m->type, "(au)"))
			continue;
		g_autoptr(GVariant) body = sample_body(m, 5, FALSE);
		g_autoptr(GBytes) frame = kite_wire_encode(m->num, body);
		gsize flen;
		const guint8 *f = g_bytes_get_data(frame, &flen);
		KiteWireHeader h;
		assert_true(kite_wire_parse_header(f, KITE_WIRE_DEFAULT_MAX_BODY, &h, NULL));
		assert_int_equal(h.length, flen - 12);
		/* (Zero bytes is the empty list for QUERY_REPLY and ACT_REPLY.) */
		gsize shortest = only_arrays(m->type) ? 1 : 0;
		for (gsize len = shortest; len < h.length; len++)
			assert_body_refused(m->num, f + 12, len);
		/* So is one with a byte too many. */
		g_autofree guint8 *longer = g_malloc0(h.length + 1);
		memcpy(longer, f + 12, h.length);
		assert_body_refused(m->num, longer, h.length + 1);
	}
}

/* ---- error bodies ------------------------------------------------------- */

static void assert_error_round_trip(const GError *in, guint32 want_wire_code, KiteErrorCode want_code,
				    const char *want_message)
{
	g_autoptr(GVariant) body = g_variant_ref_sink(kite_wire_error_body(in));
	assert_true(g_variant_is_of_type(body, G_VARIANT_TYPE("(us)")));
	guint32 code;
	const char *msg;
	g_variant_get(body, "(u&s)", &code, &msg);
	assert_int_equal(code, want_wire_code);
	assert_string_equal(msg, want_message);

	/* Through a whole frame. */
	g_autoptr(GBytes) frame = kite_wire_encode(KITE_MSG_ERROR, body);
	const guint8 *f = g_bytes_get_data(frame, NULL);
	KiteWireHeader h;
	assert_true(kite_wire_parse_header(f, KITE_WIRE_DEFAULT_MAX_BODY, &h, NULL));
	assert_int_equal(h.type, KITE_MSG_ERROR);
	g_autoptr(GVariant) got = assert_body_accepted(h.type, f + 12, h.length);
	g_autoptr(GError) out = NULL;
	kite_wire_error_from_body(got, &out);
	assert_kite_error(out, want_code, want_message);
}

static void test_error_body(void **state)
{
	for (int code = KITE_ERROR_FAILED; code <= KITE_ERROR_STATE; code++) {
		g_autoptr(GError) e =
		    g_error_new(KITE_ERROR, code, "code %d: caf\xc3\xa9 \"quoted\"\nline", code);
		assert_error_round_trip(e, code, code, e->message);
	}
	/* Errors from other domains travel as FAILED. */
	g_autoptr(GError) io = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such thing");
	assert_error_round_trip(io, KITE_ERROR_FAILED, KITE_ERROR_FAILED, "no such thing");
	g_autoptr(GError) empty = g_error_new_literal(KITE_ERROR, KITE_ERROR_LIMIT, "");
	assert_error_round_trip(empty, KITE_ERROR_LIMIT, KITE_ERROR_LIMIT, "");

	/* Codes a newer or broken peer might send map to FAILED. */
	const guint32 unknown[] = {0, KITE_ERROR_STATE + 1, 100, 0x80000000u, G_MAXUINT32};
	for (gsize i = 0; i < G_N_ELEMENTS(unknown); i++) {
		g_autoptr(GVariant) body =
		    g_variant_ref_sink(g_variant_new("(us)", unknown[i], "from the future"));
		g_autoptr(GError) out = NULL;
		kite_wire_error_from_body(body, &out);
		assert_kite_error(out, KITE_ERROR_FAILED, "from the future");
	}
	/* A NULL error is allowed. */
	g_autoptr(GVariant) body = g_variant_ref_sink(g_variant_new("(us)", 5u, "x"));
	kite_wire_error_from_body(body, NULL);
}

/* Error messages can quote paths, which need not be UTF-8; a GVariant
 * string must be.  The body replaces the bad bytes instead of failing
 * (an invalid string used to give a broken variant that aborted the
 * daemon when encoded). */
static void test_error_body_not_utf8(void **state)
{
	g_autoptr(GError) e = g_error_new_literal(KITE_ERROR, KITE_ERROR_IO,
						  "open /tmp/\xff\xfe/queue.db: No such file or directory");
	assert_error_round_trip(e, KITE_ERROR_IO, KITE_ERROR_IO,
				"open /tmp/\xef\xbf\xbd\xef\xbf\xbd/queue.db: No such file or directory");
}

/* ---- KITE_DEBUG=wire ---------------------------------------------------- */

/* Run kite_wire_debug with stderr sent to a file; return what it wrote. */
static char *capture_debug(const char *direction, const char *peer, guint type, GVariant *body)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("kite-wire-debug-XXXXXX", &path, NULL);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	kite_wire_debug(direction, peer, type, body);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	char *text = NULL;
	assert_true(g_file_get_contents(path, &text, NULL, NULL));
	unlink(path);
	return text;
}

static void test_debug_print(void **state)
{
	/* main() sets KITE_DEBUG=wire,other before anything reads it. */
	g_autoptr(GVariant) body = g_variant_ref_sink(g_variant_new("(xu)", (gint64)12, 3u));
	g_autofree char *line = capture_debug("send", "unix:/tmp/s", KITE_MSG_SUBMIT_REPLY, body);
	g_autofree char *want = g_strdup_printf(
	    "kite-wire[%d] send unix:/tmp/s SUBMIT_REPLY (int64 12, uint32 3)\n", (int)getpid());
	assert_string_equal(line, want);

	g_autofree char *unknown = capture_debug("recv", "peer", 99, NULL);
	g_autofree char *want2 = g_strdup_printf("kite-wire[%d] recv peer ? ()\n", (int)getpid());
	assert_string_equal(unknown, want2);

	/* A huge body is cut to its head. */
	g_autofree char *big = g_strnfill(10000, 'y');
	g_autoptr(GVariant) bb = g_variant_ref_sink(g_variant_new("(s)", big));
	g_autofree char *cut = capture_debug("recv", "p", KITE_MSG_TOKEN_REPLY, bb);
	g_autofree char *prefix = g_strdup_printf("kite-wire[%d] recv p TOKEN_REPLY ('", (int)getpid());
	assert_true(g_str_has_prefix(cut, prefix));
	/* 4000 bytes of the text ("('" and 3998 y), then the marker; the
	 * ellipsis may be transliterated to the locale's charset. */
	const char *after = cut + strlen(prefix);
	assert_int_equal(strspn(after, "y"), 3998);
	assert_true(g_str_has_prefix(after + 3998, " "));
	assert_true(g_str_has_suffix(cut, "(truncated)\n"));
	assert_true(strlen(after + 3998) <= strlen(" \xe2\x80\xa6(truncated)\n"));
}

/* ---- fuzz ----------------------------------------------------------------- */

typedef struct {
	int short_frame, header_refused, incomplete, body_refused, accepted;
} FuzzStats;

/* Treat @f as what arrived on a socket, as server.c does: header,
 * then the body once it is all there.  Checks that every outcome is a
 * clean refusal or a canonical value of the header's type. */
static void fuzz_one(const guint8 *f, gsize flen, FuzzStats *st)
{
	if (flen < KITE_WIRE_HEADER_SIZE) {
		st->short_frame++;
		return;
	}
	KiteWireHeader h;
	g_autoptr(GError) error = NULL;
	if (!kite_wire_parse_header(f, 4096, &h, &error)) {
		assert_non_null(error);
		assert_true(error->domain == KITE_ERROR);
		if (error->code == KITE_ERROR_LIMIT)
			assert_true(strstr(error->message, "is over the limit of 4096 bytes") != NULL);
		else if (error->code == KITE_ERROR_PROTOCOL)
			assert_true(g_str_has_prefix(error->message, "not a Kite peer: bad magic") ||
				    g_str_has_prefix(error->message, "protocol version ") ||
				    g_str_has_prefix(error->message, "unknown message type "));
		else
			fail_msg("header refused with code %d: %s", error->code, error->message);
		st->header_refused++;
		return;
	}
	if (flen - KITE_WIRE_HEADER_SIZE < h.length) {
		st->incomplete++; /* a server would wait for more */
		return;
	}
	g_autoptr(GVariant) v = kite_wire_decode_body(h.type, f + KITE_WIRE_HEADER_SIZE, h.length, &error);
	if (!v) {
		g_autofree char *want = not_normal_message(h.type);
		assert_kite_error(error, KITE_ERROR_PROTOCOL, want);
		st->body_refused++;
		return;
	}
	assert_null(error);
	assert_true(g_variant_is_of_type(v, kite_wire_body_type(h.type)));
	assert_true(g_variant_is_normal_form(v));
	/* Accepted bytes are exactly the canonical encoding. */
	assert_int_equal(g_variant_get_size(v), h.length);
	if (h.length)
		assert_memory_equal(g_variant_get_data(v), f + KITE_WIRE_HEADER_SIZE, h.length);
	g_autoptr(GBytes) again = kite_wire_encode(h.type, v);
	assert_int_equal(g_bytes_get_size(again), KITE_WIRE_HEADER_SIZE + h.length);
	assert_memory_equal(g_bytes_get_data(again, NULL), f, KITE_WIRE_HEADER_SIZE + h.length);
	/* What a daemon then does with it must not crash either. */
	g_autofree char *text = g_variant_print(v, TRUE);
	assert_non_null(text);
	if (h.type == KITE_MSG_ERROR) {
		g_autoptr(GError) out = NULL;
		kite_wire_error_from_body(v, &out);
		assert_true(out->code >= KITE_ERROR_FAILED && out->code <= KITE_ERROR_STATE);
	}
	st->accepted++;
}

static void test_fuzz(void **state)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(20240611);
	FuzzStats st = {0};
	const int iterations = 20000;
	for (int it = 0; it < iterations; it++) {
		const Message *m = &messages[g_rand_int_range(rand, 0, G_N_ELEMENTS(messages))];
		g_autoptr(GVariant) body =
		    sample_body(m, g_rand_int_range(rand, 0, 50), g_rand_int_range(rand, 0, 8) == 0);
		g_autoptr(GBytes) frame = kite_wire_encode(m->num, body);
		GByteArray *a = g_byte_array_new();
		g_byte_array_append(a, g_bytes_get_data(frame, NULL), g_bytes_get_size(frame));
		int kind = g_rand_int_range(rand, 0, 8);
		switch (kind) {
		case 0: /* flip a few bytes anywhere past the magic */
		case 1: {
			int n = g_rand_int_range(rand, 1, 5);
			for (int k = 0; k < n; k++) {
				guint pos = g_rand_int_range(rand, kind == 0 ? 4 : 12, MAX(a->len, 13));
				if (pos < a->len)
					a->data[pos] ^= (guint8)g_rand_int_range(rand, 1, 256);
			}
			break;
		}
		case 2: { /* cut the body and fix up the length */
			guint cut = g_rand_int_range(rand, 12, a->len + 1);
			g_byte_array_set_size(a, cut);
			guint32 len = cut - 12;
			a->data[8] = len >> 24, a->data[9] = len >> 16, a->data[10] = len >> 8,
			a->data[11] = len;
			break;
		}
		case 3: { /* cut the frame, header length unchanged */
			g_byte_array_set_size(a, g_rand_int_range(rand, 0, a->len + 1));
			break;
		}
		case 4: { /* extend with random bytes and fix up the length */
			guint extra = g_rand_int_range(rand, 1, 16);
			for (guint k = 0; k < extra; k++) {
				guint8 b = g_rand_int_range(rand, 0, 4) ? 0 : (guint8)g_rand_int(rand);
				g_byte_array_append(a, &b, 1);
			}
			guint32 len = a->len - 12;
			a->data[8] = len >> 24, a->data[9] = len >> 16, a->data[10] = len >> 8,
			a->data[11] = len;
			break;
		}
		case 5: { /* the body of one message under another's header */
			const Message *o = &messages[g_rand_int_range(rand, 0, G_N_ELEMENTS(messages))];
			a->data[6] = o->num >> 8, a->data[7] = o->num;
			break;
		}
		case 6: { /* a random body of random length under a good header */
			guint len = g_rand_int_range(rand, 0, 48);
			g_byte_array_set_size(a, 12 + len);
			for (guint k = 0; k < len; k++)
				a->data[12 + k] = g_rand_int_range(rand, 0, 3)
						      ? (guint8)g_rand_int_range(rand, 0, 4)
						      : (guint8)g_rand_int(rand);
			a->data[8] = 0, a->data[9] = 0, a->data[10] = 0, a->data[11] = len;
			break;
		}
		default: { /* random header fields */
			for (int k = 4; k < 12; k++)
				if (g_rand_boolean(rand))
					a->data[k] = (guint8)g_rand_int(rand);
			break;
		}
		}
		fuzz_one(a->data, a->len, &st);
		g_byte_array_unref(a);
	}
	print_message(
	    "fuzz: %d frames: %d accepted, %d body refused, %d header refused, %d incomplete, %d short\n",
	    iterations, st.accepted, st.body_refused, st.header_refused, st.incomplete, st.short_frame);
	assert_int_equal(st.accepted + st.body_refused + st.header_refused + st.incomplete + st.short_frame,
			 iterations);
	/* The loop reached every outcome, so it tested something. */
	assert_true(st.accepted > 1000);
	assert_true(st.body_refused > 1000);
	assert_true(st.header_refused > 500);
	assert_true(st.incomplete > 100);
	assert_true(st.short_frame > 10);
}

int main(void)
{
	/* Read once by wire.c, so set before any test runs. */
	g_setenv("KITE_DEBUG", "other,wire", TRUE);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_strv_columns),
	    cmocka_unit_test(test_round_trip_every_message),
	    cmocka_unit_test(test_round_trip_real_bodies),
	    cmocka_unit_test(test_header_bytes),
	    cmocka_unit_test(test_header_refusals),
	    cmocka_unit_test(test_body_unknown_type),
	    cmocka_unit_test(test_body_wrong_type),
	    cmocka_unit_test(test_normal_form_agrees_with_glib),
	    cmocka_unit_test(test_body_strings),
	    cmocka_unit_test(test_body_framing_offsets),
	    cmocka_unit_test(test_body_padding_and_booleans),
	    cmocka_unit_test(test_body_empty),
	    cmocka_unit_test(test_truncated_bodies),
	    cmocka_unit_test(test_error_body),
	    cmocka_unit_test(test_error_body_not_utf8),
	    cmocka_unit_test(test_debug_print),
	    cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
