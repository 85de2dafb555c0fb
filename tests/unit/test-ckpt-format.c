/* Unit tests of common/ckpt-format.c: capabilities, chunk names,
 * manifests, the record-aware chunker, leases and collector decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ckpt-format.h"
#include "libckpt/crc32c.h"
#include "libckpt/image-format.h"
#include "test-helpers.h"

static void test_caps(void **state)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *r = kite_cap_new(KITE_CAP_READ, &error), *r2 = kite_cap_new(KITE_CAP_READ, &error);
	g_autofree char *w = kite_cap_new(KITE_CAP_WRITE, &error);
	assert_non_null(r);
	assert_int_equal(strlen(r), KITE_CAP_TEXT_LEN);
	assert_true(g_str_has_prefix(r, "kite-r-") && g_str_has_prefix(w, "kite-w-"));
	assert_string_not_equal(r, r2); /* 128 random bits each */
	KiteCapKind k;
	assert_true(kite_cap_parse(w, &k, NULL));
	assert_int_equal(k, KITE_CAP_WRITE);
	const char *bad[] = {"", "kite-r-", "kite-x-00000000000000000000000000000000", "kite-r-0000000000000000000000000000000g",
			     "kite-r-0000000000000000000000000000000A", "kite-r-000000000000000000000000000000000"};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) e = NULL;
		assert_false(kite_cap_parse(bad[i], &k, &e));
		assert_kite_error(e, KITE_ERROR_INVALID,
				  "not a capability: expected kite-r-, kite-w- or kite-m- and 32 hex digits");
	}
	guint8 d[KITE_CAP_DIGEST_BYTES], d2[KITE_CAP_DIGEST_BYTES];
	kite_cap_digest(r, d);
	kite_cap_digest(r2, d2);
	assert_memory_not_equal(d, d2, sizeof d);
	assert_true(kite_cap_check(r, d));
	assert_false(kite_cap_check(r2, d));
	/* one digit changed anywhere is another capability */
	for (gsize i = 7; i < KITE_CAP_TEXT_LEN; i++) {
		g_autofree char *f = g_strdup(r);
		f[i] = f[i] == '0' ? '1' : '0';
		assert_false(kite_cap_check(f, d));
	}
}

static void test_chunk_hash(void **state)
{
	guint8 h[16], h2[16];
	char hex[33];
	kite_chunk_hash("", 0, h);
	/* XXH3-128 of the empty input (xxHash's reference value) */
	assert_string_equal(kite_chunk_hash_hex(h, hex), "99aa06d3014798d86001c324468d497f");
	kite_chunk_hash("a", 1, h2);
	assert_memory_not_equal(h, h2, 16);
}

static void test_manifest(void **state)
{
	g_autoptr(KiteManifest) m = kite_manifest_new("0123456789abcdef");
	m->generation = 7;
	m->committed = 1700000000;
	for (guint i = 0; i < 5; i++) {
		KiteChunkRef r = {.len = 100 + i, .crc = 0xabcd0000u + i};
		memset(r.hash, (int)i + 1, sizeof r.hash);
		g_array_append_val(m->chunks, r);
		m->total += r.len;
	}
	g_autoptr(GBytes) b = kite_manifest_encode(m);
	gsize len;
	const guint8 *data = g_bytes_get_data(b, &len);
	assert_int_equal(len, KITE_MANIFEST_HEADER + 5 * 24 + 8);
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteManifest) back = kite_manifest_decode(data, len, "image X", &error);
	assert_non_null(back);
	assert_string_equal(back->id, "0123456789abcdef");
	assert_int_equal(back->generation, 7);
	assert_int_equal(back->total, 510);
	assert_int_equal(back->committed, 1700000000);
	assert_int_equal(back->chunks->len, 5);
	assert_memory_equal(back->chunks->data, m->chunks->data, 5 * sizeof(KiteChunkRef));
	/* every single flipped byte is refused */
	for (gsize i = 0; i < len; i++) {
		g_autofree guint8 *c = g_memdup2(data, len);
		c[i] ^= 0x40;
		g_autoptr(GError) e = NULL;
		assert_null(kite_manifest_decode(c, len, "image X", &e));
		assert_non_null(e);
		assert_true(g_str_has_prefix(e->message, "image X: "));
	}
	g_autoptr(GError) e2 = NULL;
	assert_null(kite_manifest_decode(data, len - 1, "image X", &e2));
	assert_kite_error(e2, KITE_ERROR_INVALID, "image X: the manifest is corrupt (5 chunks do not fit its 191 bytes)");
}

/* A stream of a small image: header, PROCESS-like record, PAGES with
 * padding and 3 pages, END. */
static GByteArray *image_stream(gsize pad)
{
	GByteArray *s = g_byte_array_new();
	KiteImgHeader h = {0};
	memcpy(h.magic, KITE_IMG_MAGIC, 8);
	g_byte_array_append(s, (guint8 *)&h, sizeof h);
	KiteImgRec r = {.type = KITE_REC_PROCESS, .len = 1000};
	g_byte_array_append(s, (guint8 *)&r, sizeof r);
	guint8 junk[20000];
	memset(junk, 0x11, sizeof junk);
	g_byte_array_append(s, junk, 1000);
	KiteImgPages pg = {0x10000, 3 * 4096};
	r = (KiteImgRec){.type = KITE_REC_PAGES, .len = sizeof pg + pad + pg.len};
	g_byte_array_append(s, (guint8 *)&r, sizeof r);
	g_byte_array_append(s, (guint8 *)&pg, sizeof pg);
	memset(junk, 0, pad);
	g_byte_array_append(s, junk, pad);
	memset(junk, 0x22, sizeof junk);
	g_byte_array_append(s, junk, pg.len);
	r = (KiteImgRec){.type = KITE_REC_END, .len = sizeof(KiteImgEnd)};
	g_byte_array_append(s, (guint8 *)&r, sizeof r);
	g_byte_array_append(s, junk, sizeof(KiteImgEnd));
	return s;
}

static GArray *cut(const guint8 *d, gsize len, gsize feed, KiteChunker *c)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(gsize));
	kite_chunker_init(c);
	gsize pos = 0, have = MIN(feed, len);
	for (;;) {
		gboolean eof = have == len;
		gsize n = kite_chunker_next(c, d + pos, have - pos, eof);
		if (n == 0) {
			if (eof)
				break;
			have = MIN(have + feed, len);
			continue;
		}
		g_array_append_val(out, n);
		pos += n;
	}
	return out;
}

static void test_chunker(void **state)
{
	g_autoptr(GByteArray) s = image_stream(100);
	const gsize want[] = {512, 24 + 1000, 24 + 16, 100, 4096, 4096, 4096, 24 + sizeof(KiteImgEnd)};
	/* the same cuts whatever size the pieces arrive in */
	for (gsize feed = 1; feed < s->len + 10; feed = feed * 3 + 1) {
		KiteChunker c;
		g_autoptr(GArray) cuts = cut(s->data, s->len, feed, &c);
		assert_int_equal(cuts->len, G_N_ELEMENTS(want));
		for (guint i = 0; i < cuts->len; i++)
			assert_int_equal(g_array_index(cuts, gsize, i), want[i]);
		assert_true(kite_chunker_is_image(&c));
		assert_true(kite_chunker_image_complete(&c));
	}
	/* cut short: not complete */
	KiteChunker c;
	g_autoptr(GArray) part = cut(s->data, s->len - 10, 4096, &c);
	assert_false(kite_chunker_image_complete(&c));
	/* no padding: no empty chunk */
	g_autoptr(GByteArray) s0 = image_stream(0);
	g_autoptr(GArray) c0 = cut(s0->data, s0->len, 65536, &c);
	assert_int_equal(c0->len, G_N_ELEMENTS(want) - 1);
	/* not an image: 64 KiB pieces */
	g_autofree guint8 *raw = g_malloc0(200000);
	g_autoptr(GArray) cr = cut(raw, 200000, 7000, &c);
	assert_int_equal(cr->len, 4);
	assert_int_equal(g_array_index(cr, gsize, 3), 200000 - 3 * 65536);
	assert_false(kite_chunker_is_image(&c));
}

/* image_stream() with every checksum filled in, as libckpt writes them. */
static GByteArray *valid_image_stream(void)
{
	GByteArray *s = image_stream(100);
	KiteImgHeader *h = (KiteImgHeader *)s->data;
	h->header_crc = 0;
	h->header_crc = kite_crc32c(0, h, sizeof *h);
	for (gsize off = sizeof *h; off < s->len;) {
		KiteImgRec *r = (KiteImgRec *)(s->data + off);
		r->data_crc = kite_crc32c(0, s->data + off + sizeof *r, r->len);
		r->hdr_crc = 0;
		r->hdr_crc = kite_crc32c(0, r, sizeof *r);
		off += sizeof *r + r->len;
	}
	return s;
}

static gboolean check_in_pieces(const guint8 *d, gsize len, gsize piece)
{
	KiteImageCheck c;
	kite_image_check_init(&c);
	for (gsize pos = 0; pos < len; pos += piece)
		kite_image_check_feed(&c, d + pos, MIN(piece, len - pos));
	return kite_image_check_passed(&c);
}

static void test_image_check(void **state)
{
	g_autoptr(GByteArray) s = valid_image_stream();
	/* whole, whatever size the pieces arrive in */
	for (gsize piece = 1; piece < s->len + 10; piece = piece * 3 + 1)
		assert_true(check_in_pieces(s->data, s->len, piece));
	/* every byte flipped, anywhere (header, record headers, payloads,
	 * padding, END), is a no */
	for (gsize off = 0; off < s->len; off++) {
		s->data[off] ^= 0x20;
		if (check_in_pieces(s->data, s->len, 4096))
			fail_msg("byte %zu flipped, and the image passed", off);
		s->data[off] ^= 0x20;
	}
	assert_true(check_in_pieces(s->data, s->len, 4096));
	/* cut short, or followed by anything: a no */
	assert_false(check_in_pieces(s->data, s->len - 1, 4096));
	g_byte_array_append(s, (const guint8 *)"x", 1);
	assert_false(check_in_pieces(s->data, s->len, 4096));
	/* not an image */
	g_autofree guint8 *raw = g_malloc0(10000);
	assert_false(check_in_pieces(raw, 10000, 4096));
	/* the checksums the writer leaves at zero: a no */
	g_autoptr(GByteArray) z = image_stream(100);
	assert_false(check_in_pieces(z->data, z->len, 4096));
}

static void test_leases(void **state)
{
	assert_int_equal(kite_lease_expiry(1000, 60, 3600, 86400), 1060);
	assert_int_equal(kite_lease_expiry(1000, 0, 3600, 86400), 4600);      /* default */
	assert_int_equal(kite_lease_expiry(1000, -5, 3600, 86400), 4600);
	assert_int_equal(kite_lease_expiry(1000, 999999, 3600, 86400), 87400); /* capped */
	assert_false(kite_lease_expired(1060, 1059));
	assert_true(kite_lease_expired(1060, 1060));
	assert_true(kite_lease_expired(1060, 2000));
}

static void test_gc_decisions(void **state)
{
	assert_int_equal(kite_gc_pack_action(1000, 0, FALSE, 0.5), KITE_GC_DELETE);
	assert_int_equal(kite_gc_pack_action(0, 0, FALSE, 0.5), KITE_GC_DELETE);
	assert_int_equal(kite_gc_pack_action(1000, 0, TRUE, 0.5), KITE_GC_KEEP); /* being appended to */
	assert_int_equal(kite_gc_pack_action(1000, 499, FALSE, 0.5), KITE_GC_COMPACT);
	assert_int_equal(kite_gc_pack_action(1000, 500, FALSE, 0.5), KITE_GC_KEEP);
	assert_int_equal(kite_gc_pack_action(1000, 999, FALSE, 1.0), KITE_GC_COMPACT);
	assert_int_equal(kite_gc_pack_action(1000, 1000, FALSE, 1.0), KITE_GC_KEEP);
	assert_false(kite_gc_upload_abandoned(100.0, 150.0, 60.0));
	assert_true(kite_gc_upload_abandoned(100.0, 160.5, 60.0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_caps),	 cmocka_unit_test(test_chunk_hash), cmocka_unit_test(test_manifest),
	    cmocka_unit_test(test_chunker), cmocka_unit_test(test_image_check),	 cmocka_unit_test(test_leases),	    cmocka_unit_test(test_gc_decisions),
	};
	return cmocka_run_group_tests_name("ckpt-format", tests, NULL, NULL);
}
