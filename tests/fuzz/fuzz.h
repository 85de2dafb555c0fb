/* fuzz.h — shared by the fuzz targets in tests/fuzz/ (see README.md).
 *
 * Each target is a libFuzzer entry point over one parser that reads
 * bytes a peer or a user controls.  A target checks more than "does not
 * crash": where a parser has a printer, what it printed must parse back
 * to the same thing (kite_fuzz_require names the broken property). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property is a crash for libFuzzer: it saves the input. */
#define kite_fuzz_require(cond, ...)                                                                         \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "fuzz property broken: " __VA_ARGS__);                              \
			fputc('\n', stderr);                                                                 \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

/* The input as a NUL-terminated string (freed by the caller). */
static inline char *kite_fuzz_string(const uint8_t *data, size_t size)
{
	char *s = g_malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
