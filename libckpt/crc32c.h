/* CRC32C (Castagnoli), freestanding: usable in the checkpoint child and
 * the restorer as well as in ordinary programs.  Uses the SSE4.2 crc32
 * instruction when the CPU has it. */
#ifndef KITE_CRC32C_H
#define KITE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0. */
uint32_t kite_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
