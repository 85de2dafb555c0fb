/* test-ckpt-image.c — libckpt's checksums (CRC32C, XXH64) against known
 * values and a bitwise reference, and the image reader: a hand-built
 * image is accepted, and every kind of damage is refused with a message
 * that says what is wrong — for the sandbox's records, naming the file. */
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

/* A new image: its header, full, checkpoint 1. */
static GByteArray *new_image(void)
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
	return img;
}

/* An image: header, PROCESS, one REGION, @nchunks PAGES records of
 * @chunk bytes each (filled with 0x5a), END. */
static GByteArray *build_image_n(guint nchunks, gsize chunk)
{
	GByteArray *img = new_image();

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

/* ---- the sandbox's records (SANDBOX, FILEDATA of fd -2, SBXFILE) ---- */

static void add_rec(GByteArray *img, guint32 type, const void *a, gsize alen, const void *b, gsize blen,
		    guint32 *digest, guint64 *nrec)
{
	KiteImgRec rec = { .type = type, .len = alen + blen };
	rec.data_crc = kite_crc32c(kite_crc32c(0, a, alen), b, blen);
	rec.hdr_crc = kite_crc32c(0, &rec, sizeof rec);
	g_byte_array_append(img, (guint8 *)&rec, sizeof rec);
	g_byte_array_append(img, a, (guint)alen);
	if (blen)
		g_byte_array_append(img, b, (guint)blen);
	if (digest) {
		*digest = kite_crc32c(*digest, &rec.data_crc, 4);
		(*nrec)++;
	}
}

enum { SBX_OK, SBX_BAD_NAME, SBX_NO_SANDBOX, SBX_LEN_MISMATCH, SBX_DAMAGED_DATA, SBX_PARENT_IN_FULL, SBX_ORPHAN_DATA };

/* A full image with one sandbox file, note.txt ("hello\n", mode 0640),
 * made wrong in the way @how says. */
static GByteArray *build_sandbox_image(int how)
{
	GByteArray *img = new_image();
	guint32 digest = 0;
	guint64 nrec = 0;
	g_autofree KiteImgProcess *p = g_new0(KiteImgProcess, 1);
	strcpy(p->cwd, "/");
	add_rec(img, KITE_REC_PROCESS, p, sizeof *p, NULL, 0, &digest, &nrec);
	if (how != SBX_NO_SANDBOX)
		add_rec(img, KITE_REC_SANDBOX, "/sbx", 4, NULL, 0, &digest, &nrec);
	const char *content = "hello\n", *name = how == SBX_BAD_NAME ? "../x" : "note.txt";
	KiteImgFileData d = { KITE_FILEDATA_SANDBOX, 0, 0 };
	if (how == SBX_DAMAGED_DATA) {
		/* the record's checksum is of the right bytes; the bytes are not */
		KiteImgRec rec = { .type = KITE_REC_FILEDATA, .len = sizeof d + 6 };
		rec.data_crc = kite_crc32c(kite_crc32c(0, &d, sizeof d), content, 6);
		rec.hdr_crc = kite_crc32c(0, &rec, sizeof rec);
		g_byte_array_append(img, (guint8 *)&rec, sizeof rec);
		g_byte_array_append(img, (guint8 *)&d, sizeof d);
		g_byte_array_append(img, (guint8 *)"jello\n", 6);
		digest = kite_crc32c(digest, &rec.data_crc, 4);
		nrec++;
	} else {
		add_rec(img, KITE_REC_FILEDATA, &d, sizeof d, content, 6, &digest, &nrec);
	}
	if (how != SBX_ORPHAN_DATA) {
		struct {
			KiteImgSbxFile f;
			KiteImgSbxChunk c;
		} rec = { { .size = 6, .mode = 0640, .nchunks = 1, .name_len = (guint32)strlen(name) },
			  { kite_xxh64(content, 6, 0), how == SBX_LEN_MISMATCH ? 7 : 6, how != SBX_PARENT_IN_FULL } };
		if (how == SBX_LEN_MISMATCH)
			rec.f.size = 7;
		add_rec(img, KITE_REC_SBXFILE, &rec, sizeof rec, name, strlen(name), &digest, &nrec);
	}
	KiteImgEnd e = { .nrecords = nrec, .bytes = img->len, .digest = digest };
	add_rec(img, KITE_REC_END, &e, sizeof e, NULL, 0, NULL, NULL);
	return img;
}

static void test_sandbox_records(void **state)
{
	g_autoptr(GByteArray) ok = build_sandbox_image(SBX_OK);
	g_autofree char *path = write_tmp(ok->data, ok->len);
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteImage) img = kite_image_open(path, TRUE, &error);
	g_unlink(path);
	assert_non_null(img);
	assert_string_equal(img->sandbox, "/sbx");
	assert_int_equal(img->sbx_files->len, 1);
	const KiteImageSbxFile *f = img->sbx_files->pdata[0];
	assert_string_equal(f->name, "note.txt");
	assert_int_equal(f->f.mode, 0640);
	assert_int_equal(f->f.size, 6);
	assert_int_equal(img->sbx_stored_bytes, 6);
	assert_int_equal(img->sbx_parent_bytes, 0);
	assert_int_equal(img->file_bytes, 0); /* not counted as an open file's contents */

	struct {
		int how;
		const char *want;
	} bad[] = {
		{ SBX_BAD_NAME, "names '../x', not a plain file name" },
		{ SBX_NO_SANDBOX, "bad sandbox FILEDATA record at offset" },
		{ SBX_LEN_MISMATCH, "sandbox file note.txt: its data records do not match its list of chunks" },
		{ SBX_DAMAGED_DATA, "sandbox file note.txt: bytes 0-6 of its copy are damaged (FILEDATA record at offset" },
		{ SBX_PARENT_IN_FULL, "sandbox file note.txt: refers to a parent image, but the image is a full one" },
		{ SBX_ORPHAN_DATA, "belongs to no SBXFILE record" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GByteArray) b = build_sandbox_image(bad[i].how);
		g_autofree char *msg = open_msg(b->data, b->len);
		if (!msg || !strstr(msg, bad[i].want))
			fail_msg("case %u: got '%s', want '%s'", i, msg ? msg : "(accepted)", bad[i].want);
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
		cmocka_unit_test(test_sandbox_records),
	};
	return cmocka_run_group_tests_name("ckpt-image", tests, NULL, NULL);
}
