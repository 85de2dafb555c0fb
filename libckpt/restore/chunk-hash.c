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

#ifndef RS_HASH_AVX2
static XXH3_state_t state;
#endif

static void canonical(XXH128_hash_t h, uint8_t out[RS_CHUNK_HASH_BYTES])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	__builtin_memcpy(out, c.digest, RS_CHUNK_HASH_BYTES);
}

#ifdef RS_HASH_AVX2
/* This file built again with -mavx2 (libckpt.mk): xxhash.h picks its
 * AVX2 loop at compile time, twice as fast on a 4 KiB chunk here. */
void rs_chunk_hash_avx2(const void *data, size_t len, uint8_t out[RS_CHUNK_HASH_BYTES])
{
	canonical(XXH3_128bits(data, len), out);
}
#else

/* AVX2 in the CPU and its registers saved by the kernel (XCR0 bits 1, 2). */
static int detect_avx2(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	if (a < 7)
		return 0;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28))) /* OSXSAVE, AVX */
		return 0;
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6)
		return 0;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
	return (b >> 5) & 1;
}

static int use_avx2 = -1;

void rs_chunk_hash(const void *data, size_t len, uint8_t out[RS_CHUNK_HASH_BYTES])
{
	if (use_avx2 < 0)
		use_avx2 = detect_avx2();
	if (use_avx2)
		rs_chunk_hash_avx2(data, len, out);
	else
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
#endif
