/* config.h — YAML configuration for Kite's daemons and tools.
 *
 * Each program declares its keys in a table (name, type, default, one
 * line of documentation); kite_config_load reads a YAML mapping, checks
 * every key against the table and fills in defaults, so a program run
 * with no config file at all gets a working one-machine pool on
 * loopback.  docs/config.md documents every key of every table, and a
 * unit test keeps the two in step.
 *
 * Errors name the place: "schedd.yaml:3:1: unknown key `max_job`
 * (did you mean `max_jobs`?)".
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	KITE_CONFIG_STRING,
	KITE_CONFIG_INT,      /* a whole number >= 0 */
	KITE_CONFIG_BOOL,     /* true / false */
	KITE_CONFIG_DURATION, /* "90", "90s", "15m", "2h" -> seconds (double) */
	KITE_CONFIG_SIZE,     /* "512M", "2G" -> bytes */
	KITE_CONFIG_STRV,     /* a YAML sequence of strings (or one string) */
	KITE_CONFIG_EXPR,     /* an expression, checked with kite_expr_parse */
} KiteConfigType;

typedef struct {
	const char *key;
	KiteConfigType type;
	const char *default_value; /* in the YAML text form; NULL = unset; for STRV comma-separated */
	const char *doc;	   /* one line for docs/config.md and --help-config */
} KiteConfigKey;

typedef struct _KiteConfig KiteConfig;

/* Load @path (NULL = no file: defaults only) against @keys (terminated by
 * an entry with key NULL).  Unknown keys, wrong types and bad values are
 * errors naming file:line:column. */
KiteConfig *kite_config_load(const char *path, const KiteConfigKey *keys, GError **error);
/* Same, from text already in memory (@display_name is used in messages). */
KiteConfig *kite_config_load_data(const char *display_name, const char *data, gsize len,
				  const KiteConfigKey *keys, GError **error);
void kite_config_free(KiteConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteConfig, kite_config_free)

/* Getters.  Asking for a key that is not in the table, or with the wrong
 * type, is a programming error (g_error).  Strings are borrowed. */
const char *kite_config_get_string(const KiteConfig *cfg, const char *key);
gint64 kite_config_get_int(const KiteConfig *cfg, const char *key);
gboolean kite_config_get_bool(const KiteConfig *cfg, const char *key);
double kite_config_get_duration(const KiteConfig *cfg, const char *key);
guint64 kite_config_get_size(const KiteConfig *cfg, const char *key);
const char *const *kite_config_get_strv(const KiteConfig *cfg, const char *key);
/* For EXPR keys: the expression's text (borrowed). */
const char *kite_config_get_expr(const KiteConfig *cfg, const char *key);

/* Print @keys as a Markdown table (key, type, default, meaning) — used by
 * `--help-config` and to check docs/config.md. */
char *kite_config_describe(const char *program, const KiteConfigKey *keys);

G_END_DECLS
