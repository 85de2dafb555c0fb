/* fuzz-ad.c — attribute sets in text (kite_ad_parse, used for ads in
 * files and on the command line) and on the wire (kite_ad_from_variant):
 * what is accepted prints and parses back to the same text, and survives
 * the wire form unchanged. */
#include "fuzz.h"

#include <string.h>

#include "ad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = kite_fuzz_string(data, size);
	if (strlen(text) != size)
		return 0; /* text with a NUL inside is not an ad file */
	GError *error = NULL;
	g_autoptr(KiteAd) ad = kite_ad_parse(text, &error);
	if (!ad) {
		kite_fuzz_require(error && error->message[0], "a refused ad has a message");
		g_error_free(error);
		return 0;
	}
	g_autofree char *printed = kite_ad_to_text(ad);
	g_autoptr(KiteAd) again = kite_ad_parse(printed, &error);
	kite_fuzz_require(again, "printed ad parses back: %s", error ? error->message : "");
	g_autofree char *reprinted = kite_ad_to_text(again);
	kite_fuzz_require(strcmp(printed, reprinted) == 0, "ad print is stable");

	g_autoptr(GVariant) wire = g_variant_ref_sink(kite_ad_to_variant(ad));
	g_autoptr(KiteAd) received = kite_ad_from_variant(wire, &error);
	kite_fuzz_require(received, "an ad's wire form is accepted: %s", error ? error->message : "");
	g_autofree char *received_text = kite_ad_to_text(received);
	kite_fuzz_require(strcmp(printed, received_text) == 0, "the wire form keeps the ad");
	return 0;
}
