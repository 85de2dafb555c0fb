/* XXH64 of one buffer, freestanding (checkpoint child, restorer). */
#ifndef KITE_XXHASH64_H
#define KITE_XXHASH64_H
#include <stddef.h>
#include <stdint.h>
uint64_t kite_xxh64(const void *buf, size_t len, uint64_t seed);
#endif
