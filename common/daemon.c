/* daemon.c — start-up shared by the daemons; see daemon.h. */
#include "daemon.h"

#include <stdio.h>

#include "config-keys.h"
#include "log.h"

int kite_daemon_setup(const char *program, const char *parameter_string, const char *summary,
		      const GOptionEntry *extra, const KiteConfigKey *keys, int *argc, char ***argv,
		      KiteDaemonSetup *out)
{
	g_autofree char *config = NULL, *state_dir = NULL;
	gboolean help_config = FALSE;
	const GOptionEntry common[] = {
	    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
	     "Read configuration from FILE (default: none, built-in defaults)", "FILE"},
	    {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir,
	     "Keep state (pool key, sockets, data) in DIR (default " KITE_DEFAULT_STATE_DIR ")", "DIR"},
	    {"help-config", 0, 0, G_OPTION_ARG_NONE, &help_config,
	     "List every configuration key with its default", NULL},
	    {NULL},
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) ctx = g_option_context_new(parameter_string);
	g_option_context_set_summary(ctx, summary);
	g_option_context_add_main_entries(ctx, common, NULL);
	if (extra)
		g_option_context_add_main_entries(ctx, extra, NULL);
	if (!g_option_context_parse(ctx, argc, argv, &error)) {
		fprintf(stderr, "%s: %s (see %s --help)\n", program, error->message, program);
		return 2;
	}
	if (help_config) {
		g_autofree char *desc = kite_config_describe(program, keys);
		fputs(desc, stdout);
		return 0;
	}
	kite_log_init(program);
	KiteConfig *cfg = kite_config_load(config, keys, &error);
	if (!cfg) {
		fprintf(stderr, "%s: %s\n", program, error->message);
		return 2;
	}
	out->config = cfg;
	out->state_dir = state_dir ? g_steal_pointer(&state_dir) : g_strdup(KITE_DEFAULT_STATE_DIR);
	return -1;
}
