/* config-keys.h — the configuration keys of every Kite program, declared
 * in one place so that docs/config.md can be checked against them and
 * `PROGRAM --help-config` can print them.  Each program's table lives in
 * config-keys.c; add a table there when a program gains a config file. */
#pragma once

#include "config.h"

G_BEGIN_DECLS

/* The state directory a daemon uses when --state-dir is not given, and
 * where clients look for the local schedd's socket by default. */
#define KITE_DEFAULT_STATE_DIR "/var/lib/kite"

extern const KiteConfigKey kite_schedd_config_keys[];
extern const KiteConfigKey kite_startd_config_keys[];
extern const KiteConfigKey kite_ckpt_server_config_keys[];

/* Every program's table, for the documentation check. */
typedef struct {
	const char *program;
	const KiteConfigKey *keys;
} KiteConfigTable;
extern const KiteConfigTable kite_config_tables[];

G_END_DECLS
