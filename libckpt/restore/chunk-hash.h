/* XXH3-128 chunk names inside the freestanding restorer (chunk-hash.c). */
#ifndef KITE_RS_CHUNK_HASH_H
#define KITE_RS_CHUNK_HASH_H

#include <stddef.h>
#include <stdint.h>

#define RS_CHUNK_HASH_BYTES 16

/* One chunk whose bytes lie together. */
void rs_chunk_hash(const void *data, size_t len, uint8_t out[RS_CHUNK_HASH_BYTES]);
/* The same with AVX2 (rs_chunk_hash() calls it when the CPU has it). */
void rs_chunk_hash_avx2(const void *data, size_t len, uint8_t out[RS_CHUNK_HASH_BYTES]);
/* One chunk in pieces (one at a time: the state is static). */
void rs_chunk_hash_begin(void);
void rs_chunk_hash_update(const void *data, size_t len);
void rs_chunk_hash_end(uint8_t out[RS_CHUNK_HASH_BYTES]);

#endif
