/* test-restore-hash.c — the freestanding restorer names chunks exactly
 * as the checkpoint server and its clients do (common/ckpt-format.c
 * kite_chunk_hash()): XXH3-128 in one piece, with the AVX2 loop when the
 * CPU has it, and in pieces of any size, for every length around the
 * hash's internal block sizes.  A restorer that named a chunk otherwise
 * would refuse every streamed restart (or, worse, accept a wrong chunk). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "common/ckpt-format.h"
#include "libckpt/restore/chunk-hash.h"

static gboolean cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

static void test_same_names(void **state)
{
	(void)state;
	gsize n = 3 * 4096 + 100;
	g_autofree guint8 *buf = g_malloc(n);
	for (gsize i = 0; i < n; i++)
		buf[i] = (guint8)(i * 131 + (i >> 7) + 17);
	gsize lens[] = { 0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 255, 256, 1023, 1024, 1025, 4095, 4096, 4097, 8192, n };
	gboolean avx2 = cpu_has_avx2();
	for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
		guint8 want[KITE_CHUNK_HASH_BYTES], got[RS_CHUNK_HASH_BYTES];
		kite_chunk_hash(buf + 1, lens[i] - (lens[i] == n), want); /* an odd address too */
		gsize len = lens[i] - (lens[i] == n);
		rs_chunk_hash(buf + 1, len, got);
		if (memcmp(want, got, sizeof want) != 0)
			fail_msg("rs_chunk_hash differs from kite_chunk_hash at length %zu", len);
		if (avx2) {
			rs_chunk_hash_avx2(buf + 1, len, got);
			if (memcmp(want, got, sizeof want) != 0)
				fail_msg("rs_chunk_hash_avx2 differs at length %zu", len);
		}
		/* in pieces of every size from 1 to 600 bytes */
		for (gsize piece = 1; piece <= 600; piece += 37) {
			rs_chunk_hash_begin();
			for (gsize pos = 0; pos < len; pos += piece)
				rs_chunk_hash_update(buf + 1 + pos, MIN(piece, len - pos));
			rs_chunk_hash_end(got);
			if (memcmp(want, got, sizeof want) != 0)
				fail_msg("the pieced hash differs at length %zu, pieces of %zu", len, piece);
		}
	}
	/* and one flipped byte changes the name */
	guint8 a[RS_CHUNK_HASH_BYTES], b[RS_CHUNK_HASH_BYTES];
	rs_chunk_hash(buf, 4096, a);
	buf[2048] ^= 0x5a;
	rs_chunk_hash(buf, 4096, b);
	assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_names),
	};
	return cmocka_run_group_tests_name("restore-hash", tests, NULL, NULL);
}
