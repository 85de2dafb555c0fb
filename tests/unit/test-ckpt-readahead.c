/* Unit tests of ckpt_server/readahead.c against a real store
 * (ckpt_server/store.c: SQLite, pack files, manifests in a temporary
 * state directory): the reply to a reader's next CKPT_GET assembled on a
 * worker thread is exactly the bytes of the chunks it names, only the
 * request naming exactly that range of that image and generation takes
 * it, a chunk damaged in its pack is never handed out, and a pack
 * mapped again while workers read it leaves them reading what they
 * should (store.c quiesces them before it unmaps). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "ckpt_server/ckpt-server.h"
#include "ckpt-store.h"
#include "libckpt/crc32c.h"
#include "test-helpers.h"

KITE_TEST_TMP_DIR_FIXTURE("kite-readahead-XXXXXX")

/* Chunks as a client would upload them: their bytes and names. */
typedef struct {
	guint n;
	guint8 **data;
	guint32 *lens;
	guint8 (*hashes)[KITE_CHUNK_HASH_BYTES];
} Chunks;

static void chunks_free(Chunks *c)
{
	for (guint i = 0; i < c->n; i++)
		g_free(c->data[i]);
	g_free(c->data);
	g_free(c->lens);
	g_free(c->hashes);
	g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Chunks, chunks_free)

/* @n chunks of the given lengths, each of bytes no other chunk has:
 * random (xorshift from @seed), with runs of one byte here and there as
 * in real images. */
static Chunks *chunks_new(guint n, const guint32 *lens, guint64 seed)
{
	Chunks *c = g_new0(Chunks, 1);
	c->n = n;
	c->data = g_new(guint8 *, n);
	c->lens = g_memdup2(lens, n * sizeof *lens);
	c->hashes = g_malloc_n(n, KITE_CHUNK_HASH_BYTES);
	guint64 x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (guint i = 0; i < n; i++) {
		c->data[i] = g_malloc(lens[i]);
		for (guint32 j = 0; j < lens[i]; j++) {
			if (j % 4096 == 0) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			}
			if ((x & 7) == 0 && j % 4096 < 1024) {
				c->data[i][j] = (guint8)(x >> 8);
			} else {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				c->data[i][j] = (guint8)x;
			}
		}
		/* the chunk's number first: no two chunks alike */
		memcpy(c->data[i], &(guint32){i ^ (guint32)seed}, MIN(lens[i], 4u));
		kite_chunk_hash(c->data[i], lens[i], c->hashes[i]);
	}
	return c;
}

static guint64 chunks_total(const Chunks *c)
{
	guint64 t = 0;
	for (guint i = 0; i < c->n; i++)
		t += c->lens[i];
	return t;
}

static KiteCkptServer server;
static KiteOwner *owner;

/* Open a store in the test's directory whose packs are started anew once
 * they reach @pack_size bytes, owner "alice", and the readahead. */
static void open_store(guint64 pack_size)
{
	server = (KiteCkptServer){.state_dir = g_strdup(tmp_dir)};
	server.limits = (KiteCkptLimits){.pack_size = pack_size, .default_lease = 3600, .max_lease = 86400};
	g_autoptr(GError) error = NULL;
	assert_true(kite_store_open(&server, &error));
	owner = kite_store_owner(&server, "alice", &error);
	assert_non_null(owner);
	kite_readahead_init();
}

static int close_store(void **state)
{
	kite_readahead_shutdown();
	kite_store_close(&server);
	g_clear_pointer(&server.state_dir, g_free);
	return teardown(state);
}

/* Append chunks [@from, @to) of @c one by one, as PUTs would: a pack
 * that reached the pack size is followed by a new one. */
static void store_some(const Chunks *c, guint from, guint to)
{
	for (guint i = from; i < to; i++) {
		g_autoptr(GError) error = NULL;
		const guint8 *hash = c->hashes[i], *data = c->data[i];
		assert_true(kite_store_append(&server, owner, 1, &hash, &data, &c->lens[i], &error));
	}
}

static void store_chunks(const Chunks *c)
{
	store_some(c, 0, c->n);
}

/* A manifest naming chunks @c in order (not committed). */
static KiteManifest *manifest_of(const KiteAlloc *a, const Chunks *c)
{
	KiteManifest *m = kite_manifest_new(a->id);
	for (guint i = 0; i < c->n; i++) {
		KiteChunkRef r = {.len = c->lens[i], .crc = kite_crc32c(0, c->data[i], c->lens[i])};
		memcpy(r.hash, c->hashes[i], sizeof r.hash);
		g_array_append_val(m->chunks, r);
	}
	m->total = chunks_total(c);
	return m;
}

static KiteAlloc *alloc_new(void)
{
	g_autoptr(GError) error = NULL;
	char *caps[3] = {NULL, NULL, NULL};
	KiteAlloc *a = kite_store_alloc_new(&server, owner, 0, kite_now_wall() + 3600, caps, &error);
	assert_non_null(a);
	for (int i = 0; i < 3; i++)
		g_free(caps[i]);
	return a;
}

/* A new allocation with chunks @c (already stored) committed as its
 * image; its manifest as a reader gets it, read back from disk. */
static KiteAlloc *commit_image(const Chunks *c, KiteManifest **out_m)
{
	g_autoptr(GError) error = NULL;
	KiteAlloc *a = alloc_new();
	g_autoptr(KiteManifest) m = manifest_of(a, c);
	assert_true(kite_store_commit(&server, a, m, &error));
	*out_m = kite_store_manifest(&server, a, &error);
	assert_non_null(*out_m);
	assert_int_equal((*out_m)->chunks->len, c->n);
	return a;
}

/* Chunks [@first, @first + @count) of @c end to end. */
static guint8 *range_bytes(const Chunks *c, guint64 first, guint32 count, gsize *out_len)
{
	gsize len = 0;
	for (guint32 i = 0; i < count; i++)
		len += c->lens[first + i];
	guint8 *b = g_malloc(len), *p = b;
	for (guint32 i = 0; i < count; i++) {
		memcpy(p, c->data[first + i], c->lens[first + i]);
		p += c->lens[first + i];
	}
	*out_len = len;
	return b;
}

/* The reply taken for chunks [@first, +@count) of @a at @generation is
 * exactly those chunks of @c. */
static void assert_take(const KiteAlloc *a, guint64 generation, const Chunks *c, guint64 first, guint32 count)
{
	gsize want_len, got_len = 0;
	g_autofree guint8 *want = range_bytes(c, first, count, &want_len);
	g_autofree guint8 *got = kite_readahead_take(a, generation, first, count, &got_len);
	if (!got)
		fail_msg("chunks %" G_GUINT64_FORMAT "+%u: no reply assembled ahead", first, count);
	assert_int_equal(got_len, want_len);
	for (gsize i = 0; i < want_len; i++)
		if (got[i] != want[i])
			fail_msg("chunks %" G_GUINT64_FORMAT "+%u: byte %zu of %zu is %#x, stored %#x", first,
				 count, i, want_len, got[i], want[i]);
}

static void assert_no_take(const KiteAlloc *a, guint64 generation, guint64 first, guint32 count)
{
	gsize len = 12345;
	g_autofree guint8 *got = kite_readahead_take(a, generation, first, count, &len);
	if (got)
		fail_msg("chunks %" G_GUINT64_FORMAT "+%u of generation %" G_GUINT64_FORMAT
			 ": a reply was taken where none should be",
			 first, count, generation);
	assert_int_equal(len, 12345); /* untouched */
}

/* Lengths of every kind: one byte, odd, page-sized, around a GET's
 * 2 MiB and the largest chunk, so that GET ranges hold one chunk or
 * dozens. */
/* clang-format off */
static const guint32 varied_lens[] = {
    /* 0 */ 1, 4096, 4097, 700000, KITE_CHUNK_MAX, 333333, 12, 1 << 20, KITE_CHUNK_MAX - 1,
    /* 9 */ 65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536,
    /* 21 */ 4096, 4096, 4096, 4096,
    /* 25 */ 1500000, 900001, 77, 1048577, 524288, 3, 2000000, 123457, 1 << 20,
    /* 34 */ 999999, KITE_CHUNK_MAX, 40000, 40000, 40000, 40000, 40000, 5,
    /* 42 */ KITE_CHUNK_MAX, KITE_CHUNK_MAX, KITE_CHUNK_MAX, 1500001, 700001, 17,
};
/* clang-format on */

/* A store whose packs are started anew at @pack_size bytes, holding
 * chunks of every length above made from @seed. */
static Chunks *open_with_image(guint64 pack_size, guint64 seed)
{
	open_store(pack_size);
	Chunks *c = chunks_new(G_N_ELEMENTS(varied_lens), varied_lens, seed);
	store_chunks(c);
	return c;
}

/* A reader's whole walk: each GET range, started when the one before it
 * was answered, is taken exactly; the first was never started. */
static void test_take_each_range(void **state)
{
	/* the smallest packs allowed: ranges span packs */
	g_autoptr(Chunks) c = open_with_image(KITE_CHUNK_MAX, 1);
	assert_true(chunks_total(c) > 20u << 20);
	assert_true(g_hash_table_size(owner->packs) > 5);
	KiteManifest *m;
	KiteAlloc *a = commit_image(c, &m);
	assert_int_equal(m->generation, 1);

	guint64 first = 0;
	guint ranges = 0, multi = 0;
	assert_no_take(a, m->generation, 0, kite_ckpt_get_count(m, 0));
	while (first < m->chunks->len) {
		guint32 count = kite_ckpt_get_count(m, first);
		if (first > 0)
			assert_take(a, m->generation, c, first, count);
		kite_readahead_start(a, m, first + count);
		first += count;
		ranges++;
		multi += count > 1;
	}
	assert_true(ranges > 10 && multi > 3);
	/* past the last chunk nothing is started */
	assert_no_take(a, m->generation, m->chunks->len, 1);
}

/* Only the request naming exactly the range started, of that image and
 * generation, takes it; the others leave it for that request. */
static void test_take_only_that_range(void **state)
{
	g_autoptr(Chunks) c = open_with_image(64u << 20, 2);
	KiteManifest *m, *m2;
	KiteAlloc *a = commit_image(c, &m);
	KiteAlloc *b = commit_image(c, &m2); /* the same chunks, another image */
	guint64 first = 9;
	guint32 count = kite_ckpt_get_count(m, first);
	assert_true(count > 5);
	guint64 gen = m->generation;
	assert_int_equal(m2->generation, gen);
	kite_readahead_start(a, m, first);

	assert_no_take(a, gen, first + 1, count - 1);
	assert_no_take(a, gen, first, count - 1);
	assert_no_take(a, gen, first, count + 1);
	assert_no_take(a, gen + 1, first, count);
	assert_no_take(a, gen - 1, first, count);
	assert_no_take(b, gen, first, count);
	assert_take(a, gen, c, first, count);
	/* taken once */
	assert_no_take(a, gen, first, count);

	/* a new generation of the image: the reply started for the old one
	 * is not the new one's (the commit frees the old manifest @m) */
	kite_readahead_start(a, m, first);
	m = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteManifest) next = manifest_of(a, c);
	assert_true(kite_store_commit(&server, a, next, &error));
	KiteManifest *m3 = kite_store_manifest(&server, a, &error);
	assert_int_equal(m3->generation, 2);
	assert_no_take(a, m3->generation, first, count);
	kite_readahead_start(a, m3, first);
	assert_take(a, m3->generation, c, first, count);
	assert_take(a, gen, c, first, count); /* the old one stays until taken or stale */
}

/* Replies are kept for a handful of readers at once: past that, a start
 * is dropped (the loop answers that GET) and the others stay. */
static void test_slots_full(void **state)
{
	g_autoptr(Chunks) c = open_with_image(64u << 20, 3);
	KiteManifest *m;
	KiteAlloc *a = commit_image(c, &m);
	for (guint64 first = 0; first < 20; first++)
		kite_readahead_start(a, m, first);
	guint kept = 0;
	for (guint64 first = 0; first < 20; first++) {
		guint32 count = kite_ckpt_get_count(m, first);
		if (first < 8) {
			assert_take(a, m->generation, c, first, count);
			kept++;
		} else
			assert_no_take(a, m->generation, first, count);
	}
	assert_int_equal(kept, 8);
	/* taken, the slots are free again */
	kite_readahead_start(a, m, 15);
	assert_take(a, m->generation, c, 15, kite_ckpt_get_count(m, 15));
}

static char *pack_file(const KiteChunkLoc *loc)
{
	g_autofree char *name = g_strdup_printf("packs/%" G_GINT64_FORMAT "/%u.pack", owner->id, loc->pack);
	return tmp_path(name);
}

/* Change one byte of a stored chunk where it lies in its pack file. */
static void flip_stored_byte(const KiteChunkLoc *loc, guint32 at)
{
	g_autofree char *path = pack_file(loc);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	off_t off = (off_t)(loc->off + sizeof(KiteCkptPackHeader) + at);
	guint8 b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* A chunk whose stored bytes changed is never in a reply assembled
 * ahead: that GET is answered on the loop, which names it. */
static void test_corrupt_chunk(void **state)
{
	g_autoptr(Chunks) c = open_with_image(4u << 20, 4);
	KiteManifest *m;
	KiteAlloc *a = commit_image(c, &m);
	/* chunk 13 (64 KiB) inside the range of chunks 9..; 35 (2 MiB) alone
	 * in its range */
	guint64 bad[] = {13, 35};
	guint64 ranges[][2] = {{9, 0}, {35, 0}, {0, 0}, {36, 0}};
	for (gsize i = 0; i < G_N_ELEMENTS(ranges); i++)
		ranges[i][1] = kite_ckpt_get_count(m, ranges[i][0]);
	assert_true(ranges[0][1] > 5 && 13 < 9 + ranges[0][1]);
	assert_int_equal(c->lens[35], KITE_CHUNK_MAX);
	assert_int_equal(ranges[1][1], 1);
	assert_true(ranges[2][1] < 9 && ranges[3][0] + ranges[3][1] <= c->n);

	/* a reply read before the damage is right; so are the ranges after */
	kite_readahead_start(a, m, 9);
	assert_take(a, m->generation, c, 9, ranges[0][1]);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		flip_stored_byte(kite_store_lookup(owner, c->hashes[bad[i]]),
				 c->lens[bad[i]] / 2 + (guint32)i);
	for (gsize i = 0; i < G_N_ELEMENTS(ranges); i++)
		kite_readahead_start(a, m, ranges[i][0]);
	assert_no_take(a, m->generation, ranges[0][0], (guint32)ranges[0][1]);
	assert_no_take(a, m->generation, ranges[1][0], (guint32)ranges[1][1]);
	assert_take(a, m->generation, c, ranges[2][0], (guint32)ranges[2][1]);
	assert_take(a, m->generation, c, ranges[3][0], (guint32)ranges[3][1]);

	/* what the loop says instead */
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		char hex[33];
		const KiteChunkLoc *loc = kite_store_lookup(owner, c->hashes[bad[i]]);
		assert_null(kite_store_read_chunk(&server, owner, loc, a->id, bad[i], &error));
		g_autofree char *msg =
		    g_strdup_printf("image %s: chunk %" G_GUINT64_FORMAT
				    " (%s) is corrupt: its stored bytes fail their checksum; it was not sent",
				    a->id, bad[i], kite_chunk_hash_hex(c->hashes[bad[i]], hex));
		assert_kite_error(error, KITE_ERROR_INVALID, msg);
	}
	/* and its neighbours read as stored */
	g_autoptr(GError) error = NULL;
	const guint8 *d =
	    kite_store_read_chunk(&server, owner, kite_store_lookup(owner, c->hashes[12]), a->id, 12, &error);
	assert_non_null(d);
	assert_memory_equal(d, c->data[12], c->lens[12]);
}

/* A pack that grows under the workers is mapped again only once they
 * are done with the old mapping, and replies started before and after
 * are both right, one whose chunks lie on both sides of the old
 * mapping's end too. */
static void test_pack_grows(void **state)
{
	g_autoptr(Chunks) c = open_with_image(256u << 20, 5);
	KiteManifest *m;
	KiteAlloc *a = commit_image(c, &m);
	assert_int_equal(g_hash_table_size(owner->packs), 1);
	KitePack *p = owner->current;
	guint last = c->n - 1;
	guint32 more_lens[] = {c->lens[last], 70000, KITE_CHUNK_MAX, 1, 300000, 300001};
	for (int round = 0; round < 10; round++) {
		/* the image's last chunk (stored, mapped), then new ones */
		g_autoptr(Chunks) more = chunks_new(G_N_ELEMENTS(more_lens), more_lens, 100 + (guint64)round);
		memcpy(more->data[0], c->data[last], c->lens[last]);
		memcpy(more->hashes[0], c->hashes[last], KITE_CHUNK_HASH_BYTES);
		KiteAlloc *b = alloc_new();
		g_autoptr(KiteManifest) mb = manifest_of(b, more);
		mb->generation = 1;
		guint32 b0 = kite_ckpt_get_count(mb, 0), b2 = kite_ckpt_get_count(mb, 2);
		assert_int_equal(b0, 2);
		assert_int_equal(b2, 1);

		/* six ranges of the image queued for the workers (slots left
		 * for two more): they read the pack as mapped now, for a
		 * millisecond or two */
		guint64 firsts[6];
		guint n = 0;
		for (guint64 first = 0; first < m->chunks->len && n < G_N_ELEMENTS(firsts);
		     first += kite_ckpt_get_count(m, first)) {
			firsts[n++] = first;
			kite_readahead_start(a, m, first);
		}
		assert_int_equal(n, G_N_ELEMENTS(firsts));
		assert_int_equal(p->map_len, p->size);
		guint64 before = p->size;
		/* a page mapped right after the pack's mapping: mapped again,
		 * larger, the pack cannot start where it did, so a pointer
		 * kept into the old mapping cannot read the right bytes by
		 * luck */
		gsize page = (gsize)sysconf(_SC_PAGESIZE);
		guint8 *end = (guint8 *)p->map + (p->map_len + page - 1) / page * page;
		void *guard =
		    mmap(end, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		assert_true(guard == end || guard == MAP_FAILED);
		const void *was = p->map;

		/* meanwhile the pack grows, and a reader of the new chunks
		 * maps it again, twice */
		store_some(more, 1, b0);
		assert_true(p->size > before && p->map_len == before);
		kite_readahead_start(b, mb, 0);
		assert_int_equal(p->map_len, p->size);
		assert_ptr_not_equal(p->map, was);
		store_some(more, b0, more->n);
		kite_readahead_start(b, mb, b0);
		assert_int_equal(p->map_len, p->size);

		for (guint i = 0; i < n; i++)
			assert_take(a, m->generation, c, firsts[i], kite_ckpt_get_count(m, firsts[i]));
		assert_take(b, 1, more, 0, b0);
		assert_take(b, 1, more, b0, b2);
		for (guint i = 0; i < more->n; i++) {
			g_autoptr(GError) error = NULL;
			const guint8 *d = kite_store_read_chunk(
			    &server, owner, kite_store_lookup(owner, more->hashes[i]), b->id, i, &error);
			assert_non_null(d);
			assert_memory_equal(d, more->data[i], more->lens[i]);
		}
		if (guard != MAP_FAILED)
			munmap(guard, page);
	}
}

/* Shutting down waits for the workers and drops the replies kept; the
 * readahead then starts again as new. */
static void test_shutdown_and_init(void **state)
{
	g_autoptr(Chunks) c = open_with_image(8u << 20, 6);
	KiteManifest *m;
	KiteAlloc *a = commit_image(c, &m);
	guint32 count0 = kite_ckpt_get_count(m, 0), count9 = kite_ckpt_get_count(m, 9);
	kite_readahead_start(a, m, 0);
	kite_readahead_start(a, m, 9);
	kite_readahead_shutdown();
	/* off: nothing is taken or started, and quiescing waits for nothing */
	assert_no_take(a, m->generation, 0, count0);
	kite_readahead_start(a, m, 0);
	kite_readahead_quiesce();
	assert_no_take(a, m->generation, 0, count0);

	kite_readahead_init();
	assert_no_take(a, m->generation, 9, count9); /* dropped at the shutdown */
	kite_readahead_start(a, m, 9);
	kite_readahead_start(a, m, 0);
	assert_take(a, m->generation, c, 0, count0);
	assert_take(a, m->generation, c, 9, count9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_take_each_range, setup, close_store),
	    cmocka_unit_test_setup_teardown(test_take_only_that_range, setup, close_store),
	    cmocka_unit_test_setup_teardown(test_slots_full, setup, close_store),
	    cmocka_unit_test_setup_teardown(test_corrupt_chunk, setup, close_store),
	    cmocka_unit_test_setup_teardown(test_pack_grows, setup, close_store),
	    cmocka_unit_test_setup_teardown(test_shutdown_and_init, setup, close_store),
	};
	return cmocka_run_group_tests_name("ckpt-readahead", tests, NULL, NULL);
}
