/* daemon.h — what every Kite daemon does before its main loop: parse
 * the options all daemons share (--config, --state-dir, --help-config)
 * beside its own, answer --help and --help-config, start logging, and
 * load the config against the daemon's key table.
 *
 * Like log.c, this is start-up code run on the program's behalf: it
 * reports a bad option or config on stderr itself, as "PROGRAM: …". */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

typedef struct {
	KiteConfig *config; /* loaded, defaults filled in */
	char *state_dir;    /* --state-dir, or KITE_DEFAULT_STATE_DIR */
} KiteDaemonSetup;

/* @program names the daemon ("schedd"); @parameter_string and @summary
 * are for --help; @extra (NULL-terminated, or NULL) are its own options.
 * Returns -1 to carry on, with @out filled in (the caller owns both
 * fields), or the status to exit with: 0 after
 * --help-config, 2 after a bad option or config. */
int kite_daemon_setup(const char *program, const char *parameter_string, const char *summary,
		      const GOptionEntry *extra, const KiteConfigKey *keys, int *argc, char ***argv,
		      KiteDaemonSetup *out);

G_END_DECLS
