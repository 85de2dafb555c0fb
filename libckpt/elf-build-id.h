/* The GNU build-id of an ELF file, freestanding (raw syscalls): used by
 * the checkpoint child to record the identity of mapped programs and
 * libraries, and by `ckpt restart` to check it. */
#ifndef KITE_ELF_BUILD_ID_H
#define KITE_ELF_BUILD_ID_H
#include <stdint.h>

/* Copy the build-id of @path into out (up to cap bytes); its length, or 0
 * if the file is not an ELF file with a build-id. */
uint32_t kite_elf_build_id(const char *path, uint8_t *out, uint32_t cap);

#endif
