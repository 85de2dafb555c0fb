/* fuzz-chunker.c — the checkpoint server's record-aware chunker
 * (common/ckpt-format.c) over any stream: chunks are never empty and
 * never over KITE_CHUNK_MAX, they cover the stream exactly, and where
 * they fall does not depend on how the stream arrives (the first input
 * byte picks the arrival sizes). */
#include "fuzz.h"

#include <string.h>

#include "ckpt-format.h"

/* Cut @data (@size bytes) arriving @step bytes at a time (0: all at
 * once); writes the chunk lengths to @cuts and returns how many. */
static gsize cut(const guint8 *data, gsize size, gsize step, gsize *cuts, gsize max_cuts)
{
	KiteChunker c;
	kite_chunker_init(&c);
	gsize pos = 0, avail_end = step ? MIN(step, size) : size, n = 0;
	while (pos < size) {
		gboolean eof = avail_end == size;
		gsize len = kite_chunker_next(&c, data + pos, avail_end - pos, eof);
		if (len == 0) {
			kite_fuzz_require(!eof, "the chunker never asks for more at the end of the stream");
			avail_end = MIN(avail_end + step, size);
			continue;
		}
		kite_fuzz_require(len <= avail_end - pos && len <= KITE_CHUNK_MAX, "a chunk fits what arrived (%zu)",
				  len);
		kite_fuzz_require(n < max_cuts, "more chunks than bytes");
		cuts[n++] = len;
		pos += len;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	gsize step = 1 + data[0] % 61;
	data++, size--;
	g_autofree gsize *whole = g_new(gsize, size + 1);
	g_autofree gsize *pieces = g_new(gsize, size + 1);
	gsize n_whole = cut(data, size, 0, whole, size + 1);
	gsize n_pieces = cut(data, size, step, pieces, size + 1);
	kite_fuzz_require(n_whole == n_pieces && memcmp(whole, pieces, n_whole * sizeof(gsize)) == 0,
			  "chunks fall alike whether the stream comes whole or %zu bytes at a time", step);
	return 0;
}
