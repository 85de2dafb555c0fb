/* test-ckpt-image.c — libckpt's checksums (CRC32C, XXH64) against known
 * values and a bitwise reference, and the image reader: a hand-built
 * image is accepted, and every kind of damage is refused with a message
 * that says what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "libckpt/cmd/ckpt-image.h"
#include "libckpt/crc32c.h"
#include "libckpt/xxhash64.h"

static guint32 crc_ref(guint32 crc, const guchar *p, gsize len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void test_crc32c(void **state)
{
	assert_int_equal(kite_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(kite_crc32c(0, "", 0), 0);
	/* every length around the 3-stream block sizes, odd alignments, continuation */
	gsize n = 3 * 8192 * 2 + 100;
	g_autofree guchar *buf = g_malloc(n + 8);
	for (gsize i = 0; i < n + 8; i++)
		buf[i] = (guchar)(i * 131 + (i >> 7));
	gsize lens[] = { 1, 7, 8, 255, 256, 767, 768, 769, 3 * 256 * 3, 24575, 24576, 24577, 3 * 8192 * 2, n };
	for (guint i = 0; i < G_N_ELEMENTS(lens); i++)
		for (gsize off = 0; off < 3; off++) {
			assert_int_equal(kite_crc32c(0, buf + off, lens[i]), crc_ref(0, buf + off, lens[i]));
			gsize half = lens[i] / 2;
			assert_int_equal(kite_crc32c(kite_crc32c(0, buf + off, half), buf + off + half, lens[i] - half),
					 crc_ref(0, buf + off, lens[i]));
		}
}

static void test_xxh64(void **state)
{
	assert_true(kite_xxh64("", 0, 0) == 0xef46db3751d8e999ull);
	assert_true(kite_xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ull);
	guchar page[4096] = { 0 };
	guint64 h = kite_xxh64(page, sizeof page, 0);
	page[4095] = 1;
	assert_true(kite_xxh64(page, sizeof page, 0) != h);
}

/* An image: header, PROCESS, one REGION, @nchunks PAGES records of
 * @chunk bytes each (filled with 0x5a), END. */
static GByteArray *build_image_n(guint nchunks, gsize chunk)
{
	GByteArray *img = g_byte_array_new();
	KiteImgHeader h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, KITE_IMG_MAGIC, 8);
	h.version = KITE_IMG_VERSION;
	h.header_size = KITE_IMG_HEADER_SIZE;
	h.arch = KITE_IMG_ARCH_X86_64;
	h.page_size = 4096;
	h.seq = 1;
	h.header_crc = kite_crc32c(0, &h, sizeof h);
	g_byte_array_append(img, (guint8 *)&h, sizeof h);

	guint32 digest = 0;
	guint64 nrec = 0;
	g_autofree KiteImgProcess *p = g_new0(KiteImgProcess, 1);
	strcpy(p->cwd, "/");
	KiteImgRegion r = { .start = 0x10000, .end = 0x11000 + nchunks * chunk, .prot = 3, .flags = KITE_REG_DATA };
	g_autofree guchar *pages = g_malloc(16 + chunk);
	memset(pages + 16, 0x5a, chunk);
	struct {
		guint32 type;
		const void *data;
		gsize len;
	} recs[] = { { KITE_REC_PROCESS, p, sizeof *p }, { KITE_REC_REGION, &r, sizeof r }, { KITE_REC_PAGES, pages, 16 + chunk } };
	for (guint i = 0; i < G_N_ELEMENTS(recs) - 1 + nchunks; i++) {
		guint k = MIN(i, G_N_ELEMENTS(recs) - 1);
		if (recs[k].type == KITE_REC_PAGES) {
			KiteImgPages pg = { 0x11000 + (i - k) * chunk, chunk };
			memcpy(pages, &pg, 16);
		}
		KiteImgRec rec = { .type = recs[k].type, .len = recs[k].len };
		rec.data_crc = kite_crc32c(0, recs[k].data, recs[k].len);
		rec.hdr_crc = kite_crc32c(0, &rec, sizeof rec);
		g_byte_array_append(img, (guint8 *)&rec, sizeof rec);
		g_byte_array_append(img, recs[k].data, (guint)recs[k].len);
		digest = kite_crc32c(digest, &rec.data_crc, 4);
		nrec++;
	}
	KiteImgEnd e = { .nrecords = nrec, .bytes = img->len, .digest = digest };
	KiteImgRec rec = { .type = KITE_REC_END, .len = sizeof e };
	rec.data_crc = kite_crc32c(0, &e, sizeof e);
	rec.hdr_crc = kite_crc32c(0, &rec, sizeof rec);
	g_byte_array_append(img, (guint8 *)&rec, sizeof rec);
	g_byte_array_append(img, (guint8 *)&e, sizeof e);
	return img;
}

/* A minimal image: one PAGES record of one page. */
static GByteArray *build_image(void)
{
	return build_image_n(1, 4096);
}

static char *write_tmp(const guint8 *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	char *path = NULL;
	int fd = g_file_open_tmp("test-ckpt-XXXXXX.img", &path, &error);
	assert_true(fd >= 0);
	assert_true(write(fd, data, len) == (ssize_t)len);
	close(fd);
	return path;
}

/* Open @data as an image; returns NULL on success, else the error message. */
static char *open_msg(const guint8 *data, gsize len)
{
	g_autofree char *path = write_tmp(data, len);
	g_autoptr(GError) error = NULL;
	KiteImage *img = kite_image_open(path, TRUE, &error);
	g_unlink(path);
	if (img) {
		kite_image_free(img);
		return NULL;
	}
	return g_strdup(error->message);
}

static void expect_refused(GByteArray *img, const char *needle)
{
	g_autofree char *msg = open_msg(img->data, img->len);
	assert_non_null(msg);
	if (!strstr(msg, needle))
		fail_msg("message '%s' lacks '%s'", msg, needle);
}

static void test_valid_image(void **state)
{
	g_autoptr(GByteArray) img = build_image();
	g_autofree char *path = write_tmp(img->data, img->len);
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteImage) ki = kite_image_open(path, TRUE, &error);
	g_unlink(path);
	assert_non_null(ki);
	assert_int_equal(ki->regions->len, 1);
	assert_int_equal(ki->stored_bytes, 4096);
	assert_string_equal(ki->process.cwd, "/");
	assert_int_equal(ki->records->len, 4);
}

static void test_damage(void **state)
{
	g_autoptr(GByteArray) img = build_image();
	gsize pages_data = img->len - (sizeof(KiteImgRec) + sizeof(KiteImgEnd)) - 100;

	g_autoptr(GByteArray) a = g_byte_array_sized_new(img->len);
	g_byte_array_append(a, img->data, img->len);
	a->data[pages_data] ^= 1;
	expect_refused(a, "data checksum mismatch");

	g_byte_array_set_size(a, 0);
	g_byte_array_append(a, img->data, img->len);
	a->data[200] ^= 1;
	expect_refused(a, "header checksum mismatch");

	g_byte_array_set_size(a, 0);
	g_byte_array_append(a, img->data, img->len);
	a->data[KITE_IMG_HEADER_SIZE + 2] ^= 1; /* first record's type */
	expect_refused(a, "header checksum mismatch");

	g_byte_array_set_size(a, 0);
	g_byte_array_append(a, img->data, img->len - 10);
	expect_refused(a, "truncated");

	g_byte_array_set_size(a, 0);
	g_byte_array_append(a, img->data, img->len - sizeof(KiteImgRec) - sizeof(KiteImgEnd));
	expect_refused(a, "no END record");

	g_byte_array_set_size(a, 0);
	g_byte_array_append(a, img->data, img->len);
	memcpy(a->data, "NOTANIMG", 8);
	expect_refused(a, "not a libckpt image");

	/* a newer format version, correctly checksummed */
	g_byte_array_set_size(a, 0);
	g_byte_array_append(a, img->data, img->len);
	KiteImgHeader *h = (KiteImgHeader *)a->data;
	h->version = KITE_IMG_VERSION + 1;
	h->header_crc = 0;
	h->header_crc = kite_crc32c(0, h, sizeof *h);
	expect_refused(a, "version");
}

/* An image large enough to be checked by several threads: every record
 * is checked, and of two damaged ones the error names the first in the
 * file, as a check in file order would. */
static void test_damage_parallel(void **state)
{
	const gsize chunk = 1u << 20;
	const guint n = 24;
	g_autoptr(GByteArray) img = build_image_n(n, chunk);
	g_autofree char *path = write_tmp(img->data, img->len);
	g_autoptr(GError) error = NULL;
	KiteImage *ok = kite_image_open(path, TRUE, &error);
	g_unlink(path);
	assert_non_null(ok);
	assert_int_equal(ok->stored_bytes, (guint64)n * chunk);
	kite_image_free(ok);

	/* record k (0-based among the PAGES records) starts at first + k * step */
	gsize first = KITE_IMG_HEADER_SIZE + 2 * sizeof(KiteImgRec) + sizeof(KiteImgProcess) + sizeof(KiteImgRegion);
	gsize step = sizeof(KiteImgRec) + 16 + chunk;
	for (guint last = 0; last < 2; last++) {
		g_autoptr(GByteArray) a = g_byte_array_sized_new(img->len);
		g_byte_array_append(a, img->data, img->len);
		guint bad = last ? n - 1 : 5;
		a->data[first + bad * step + sizeof(KiteImgRec) + 16 + 1000] ^= 1;
		if (!last)
			a->data[first + 17 * step + sizeof(KiteImgRec) + 16 + 7] ^= 0x80;
		g_autofree char *msg = open_msg(a->data, a->len);
		g_autofree char *want = g_strdup_printf("PAGES record at offset %" G_GSIZE_FORMAT ": data checksum mismatch",
							first + bad * step);
		assert_non_null(msg);
		if (!strstr(msg, want))
			fail_msg("message '%s' lacks '%s'", msg, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_xxh64),
		cmocka_unit_test(test_valid_image),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_damage_parallel),
	};
	return cmocka_run_group_tests_name("ckpt-image", tests, NULL, NULL);
}
