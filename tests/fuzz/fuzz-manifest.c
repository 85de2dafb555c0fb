/* fuzz-manifest.c — checkpoint-server manifests (common/ckpt-format.c),
 * read from the server's disk and sent to clients.  The input's trailing
 * checksum is fixed up first (otherwise nearly every input would stop
 * there); an accepted manifest encodes to a form that decodes to the
 * same manifest. */
#include "fuzz.h"

#include <string.h>

#include "ckpt-format.h"
#include "libckpt/crc32c.h"

static void require_same(const KiteManifest *a, const KiteManifest *b)
{
	kite_fuzz_require(a->generation == b->generation && a->total == b->total && a->committed == b->committed &&
			      strcmp(a->id, b->id) == 0 && a->chunks->len == b->chunks->len,
			  "manifest header survives encoding");
	kite_fuzz_require(a->chunks->len == 0 ||
			      memcmp(a->chunks->data, b->chunks->data, a->chunks->len * sizeof(KiteChunkRef)) == 0,
			  "manifest chunks survive encoding");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree guint8 *copy = g_memdup2(data, size);
	if (size >= 8 && (data[0] & 1)) { /* half the inputs keep their checksum as it is */
		guint32 crc = kite_crc32c(0, copy, size - 8);
		for (int i = 0; i < 4; i++) {
			copy[size - 8 + i] = (guint8)(crc >> (8 * i));
			copy[size - 4 + i] = 0;
		}
	}
	GError *error = NULL;
	g_autoptr(KiteManifest) m = kite_manifest_decode(copy, size, "fuzz", &error);
	if (!m) {
		kite_fuzz_require(error && strstr(error->message, "fuzz"), "a refused manifest's message names it: %s",
				  error ? error->message : "(none)");
		g_error_free(error);
		return 0;
	}
	g_autoptr(GBytes) encoded = kite_manifest_encode(m);
	gsize len = 0;
	const guint8 *bytes = g_bytes_get_data(encoded, &len);
	g_autoptr(KiteManifest) again = kite_manifest_decode(bytes, len, "fuzz again", &error);
	kite_fuzz_require(again, "an encoded manifest decodes: %s", error ? error->message : "");
	require_same(m, again);
	return 0;
}
