/* fuzz-jobfile.c — job files (common/jobfile.c, libyaml underneath): any
 * bytes are either a job or an error that names the file; an accepted
 * job expands for its first and last proc. */
#include "fuzz.h"

#include <string.h>

#include "ad.h"
#include "jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GError *error = NULL;
	g_autoptr(KiteJobFile) jf = kite_jobfile_parse("fuzz.yaml", (const char *)data, size, "/", &error);
	if (!jf) {
		kite_fuzz_require(error && g_str_has_prefix(error->message, "fuzz.yaml"),
				  "a refused job file's message names it: %s", error ? error->message : "(none)");
		g_error_free(error);
		return 0;
	}
	kite_fuzz_require(jf->queue >= 1, "a job file queues at least one proc");
	g_autoptr(KiteAd) first = kite_jobfile_expand(jf->ad, 1, 0);
	g_autoptr(KiteAd) last = kite_jobfile_expand(jf->ad, 1, jf->queue - 1);
	g_autofree char *text = kite_ad_to_text(last);
	g_autoptr(KiteAd) again = kite_ad_parse(text, &error);
	kite_fuzz_require(again, "an expanded job prints as a valid ad: %s", error ? error->message : "");
	return 0;
}
