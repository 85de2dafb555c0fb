/* fuzz-config.c — daemon config files (common/config.c) against each
 * daemon's key table: any bytes are either a config or an error that
 * names the file. */
#include "fuzz.h"

#include "config-keys.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (const KiteConfigTable *t = kite_config_tables; t->keys; t++) {
		GError *error = NULL;
		g_autoptr(KiteConfig) cfg = kite_config_load_data("fuzz.yaml", (const char *)data, size, t->keys, &error);
		if (!cfg) {
			kite_fuzz_require(error && g_str_has_prefix(error->message, "fuzz.yaml"),
					  "a refused %s config's message names the file: %s", t->program,
					  error ? error->message : "(none)");
			g_error_free(error);
		}
	}
	return 0;
}
