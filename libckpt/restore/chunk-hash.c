/* XXH3-128 for the freestanding restorer: the names of a checkpoint
 * server's chunks (common/ckpt-format.c kite_chunk_hash(), canonical
 * big-endian bytes), so that the restorer checks each chunk of a
 * streamed image where it lands (libckpt/restore/restore-stream.c).
 *
 * FREESTANDING: xxhash.h is header-only; its memcpy and memset become the
 * compiler's built-ins here (the restorer is built with -fno-builtin, and
 * its own memcpy copies a byte at a time), so the fixed-size reads of the
 * hash loop compile to loads.  No malloc: the streaming state is static. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "libckpt/restore/chunk-hash.h"

static XXH3_state_t state;

static void canonical(XXH128_hash_t h, uint8_t out[RS_CHUNK_HASH_BYTES])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	__builtin_memcpy(out, c.digest, RS_CHUNK_HASH_BYTES);
}

void rs_chunk_hash(const void *data, size_t len, uint8_t out[RS_CHUNK_HASH_BYTES])
{
	canonical(XXH3_128bits(data, len), out);
}

void rs_chunk_hash_begin(void)
{
	XXH3_INITSTATE(&state);
	XXH3_128bits_reset(&state);
}

void rs_chunk_hash_update(const void *data, size_t len)
{
	XXH3_128bits_update(&state, data, len);
}

void rs_chunk_hash_end(uint8_t out[RS_CHUNK_HASH_BYTES])
{
	canonical(XXH3_128bits_digest(&state), out);
}
