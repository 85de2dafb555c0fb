/* config.c — YAML config files checked against a program's key table;
 * see config.h and docs/config.md.
 *
 * yaml-doc.c reads the YAML and converts scalars; this file applies a
 * KiteConfigKey table: defaults first (from the table's text form,
 * through the same conversions), then the file's values on top.  Which
 * keys exist is config-keys.c's business.  No printing here. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "yaml-doc.h"

/* Config files are written by admins, yet a limit costs nothing and
 * keeps a wrong --config (a disk image, say) from being read whole. */
static const KiteYamlLimits config_limits = {
    .max_size = 1024 * 1024,
    .max_depth = 16,
    .max_nodes = 100000,
};

typedef struct {
	char *text; /* STRING and EXPR; NULL = unset */
	char **strv;
	gint64 i;
	gboolean b;
	double seconds;
	guint64 bytes;
} ConfigValue;

struct _KiteConfig {
	const KiteConfigKey *keys; /* borrowed: tables are static */
	guint n_keys;
	ConfigValue *values; /* parallel to keys */
};

void kite_config_free(KiteConfig *cfg)
{
	if (!cfg)
		return;
	for (guint i = 0; i < cfg->n_keys; i++) {
		g_free(cfg->values[i].text);
		g_strfreev(cfg->values[i].strv);
	}
	g_free(cfg->values);
	g_free(cfg);
}

static char **items_to_strv(GArray *items)
{
	GStrvBuilder *b = g_strv_builder_new();
	for (guint i = 0; i < items->len; i++)
		g_strv_builder_add(b, g_array_index(items, KiteYamlItem, i).text);
	char **strv = g_strv_builder_end(b);
	g_strv_builder_unref(b);
	return strv;
}

/* Set @v from the table's default text.  A default that does not parse
 * is a bug in the table, reported rather than aborting so that a unit
 * test names it. */
static gboolean set_default(const KiteConfigKey *key, ConfigValue *v, GError **error)
{
	const char *text = key->default_value;
	gboolean ok = TRUE;
	g_autoptr(GError) local = NULL;

	if (!text && (key->type == KITE_CONFIG_STRING || key->type == KITE_CONFIG_EXPR ||
		      key->type == KITE_CONFIG_STRV)) {
		if (key->type == KITE_CONFIG_STRV)
			v->strv = g_new0(char *, 1);
		return TRUE;
	}
	if (!text)
		return TRUE; /* a number without default reads as 0 */
	switch (key->type) {
	case KITE_CONFIG_STRING:
		v->text = g_strdup(text);
		break;
	case KITE_CONFIG_INT:
		ok = kite_yaml_text_to_int(text, &v->i) && v->i >= 0;
		break;
	case KITE_CONFIG_BOOL:
		ok = kite_yaml_text_to_bool(text, &v->b);
		break;
	case KITE_CONFIG_DURATION:
		ok = kite_parse_duration(text, &v->seconds, NULL);
		break;
	case KITE_CONFIG_SIZE:
		ok = kite_parse_size(text, 1, &v->bytes, NULL);
		break;
	case KITE_CONFIG_STRV: {
		g_autoptr(GArray) items = kite_yaml_split_list(text, NULL);
		v->strv = items_to_strv(items);
		break;
	}
	case KITE_CONFIG_EXPR: {
		g_autoptr(KiteExpr) e = kite_expr_parse(text, NULL, &local);
		ok = e != NULL;
		v->text = g_strdup(text);
		break;
	}
	}
	if (!ok)
		return kite_throw(error, KITE_ERROR_FAILED, "built-in default of `%s` is invalid: `%s`%s%s",
				  key->key, text, local ? ": " : "", local ? local->message : "");
	return TRUE;
}

/* Set @v from the file's value @node (not null). */
static gboolean set_from_node(const KiteYamlDoc *doc, const KiteConfigKey *key, const KiteYamlNode *node,
			      ConfigValue *v, GError **error)
{
	const char *text;
	switch (key->type) {
	case KITE_CONFIG_STRING:
		if (!kite_yaml_get_string(doc, node, key->key, &text, error))
			return FALSE;
		g_free(v->text);
		v->text = g_strdup(text);
		return TRUE;
	case KITE_CONFIG_INT:
		return kite_yaml_get_int(doc, node, key->key, 0, G_MAXINT64, &v->i, error);
	case KITE_CONFIG_BOOL:
		return kite_yaml_get_bool(doc, node, key->key, &v->b, error);
	case KITE_CONFIG_DURATION:
		return kite_yaml_get_duration(doc, node, key->key, &v->seconds, error);
	case KITE_CONFIG_SIZE:
		return kite_yaml_get_size(doc, node, key->key, 1, "a number of bytes", &v->bytes, error);
	case KITE_CONFIG_STRV: {
		g_autoptr(GArray) items = kite_yaml_get_list(doc, node, key->key, error);
		if (!items)
			return FALSE;
		g_strfreev(v->strv);
		v->strv = items_to_strv(items);
		return TRUE;
	}
	case KITE_CONFIG_EXPR: {
		g_autoptr(KiteExpr) e = NULL;
		if (!kite_yaml_get_expr(doc, node, key->key, &e, error))
			return FALSE;
		g_free(v->text);
		v->text = g_strdup(node->value);
		return TRUE;
	}
	}
	g_assert_not_reached();
}

KiteConfig *kite_config_load_data(const char *display_name, const char *data, gsize len,
				  const KiteConfigKey *keys, GError **error)
{
	g_return_val_if_fail(display_name != NULL, NULL);
	g_return_val_if_fail(keys != NULL, NULL);

	g_autoptr(KiteConfig) cfg = g_new0(KiteConfig, 1);
	cfg->keys = keys;
	while (keys[cfg->n_keys].key)
		cfg->n_keys++;
	cfg->values = g_new0(ConfigValue, cfg->n_keys);
	for (guint i = 0; i < cfg->n_keys; i++)
		if (!set_default(&keys[i], &cfg->values[i], error))
			return NULL;

	g_autoptr(KiteYamlDoc) doc = kite_yaml_load(display_name, data, len, &config_limits, error);
	if (!doc)
		return NULL;
	if (!doc->root)
		return g_steal_pointer(&cfg); /* an empty file: all defaults */

	g_autofree const char **names = g_new0(const char *, cfg->n_keys + 1);
	for (guint i = 0; i < cfg->n_keys; i++)
		names[i] = keys[i].key;
	if (!kite_yaml_check_keys(doc, doc->root, NULL,
				  "a config file is a mapping of keys to values, like `key: value`", names,
				  "see docs/config.md for the keys", error))
		return NULL;
	for (guint i = 0; i < kite_yaml_mapping_size(doc->root); i++) {
		const char *name = kite_yaml_mapping_key(doc->root, i)->value;
		const KiteYamlNode *value = kite_yaml_mapping_value(doc->root, i);
		/* `key:` with nothing (or ~, null) keeps the default, as if
		 * the line were not there; `key: ""` is an empty string. */
		if (kite_yaml_is_null(value))
			continue;
		guint k = 0;
		while (!g_str_equal(keys[k].key, name))
			k++;
		if (!set_from_node(doc, &keys[k], value, &cfg->values[k], error))
			return NULL;
	}
	return g_steal_pointer(&cfg);
}

KiteConfig *kite_config_load(const char *path, const KiteConfigKey *keys, GError **error)
{
	g_return_val_if_fail(keys != NULL, NULL);

	if (!path)
		return kite_config_load_data("(defaults)", "", 0, keys, error);

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kite_throw_errno(error, "open %s", path);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		kite_throw_errno(error, "stat %s", path);
		close(fd);
		return NULL;
	}
	if (S_ISREG(st.st_mode) && (guint64)st.st_size > config_limits.max_size) {
		kite_throw(error, KITE_ERROR_LIMIT,
			   "%s: too large (%" G_GUINT64_FORMAT " bytes; at most %" G_GSIZE_FORMAT ")", path,
			   (guint64)st.st_size, config_limits.max_size);
		close(fd);
		return NULL;
	}
	/* Read one byte past the limit so that a pipe or a file that grew
	 * is caught by kite_yaml_load's size check. */
	g_autofree char *buf = g_malloc(config_limits.max_size + 1);
	gsize len = 0;
	while (len < config_limits.max_size + 1) {
		ssize_t n = read(fd, buf + len, config_limits.max_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			kite_throw_errno(error, "read %s", path);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	return kite_config_load_data(path, buf, len, keys, error);
}

/* ---- getters -------------------------------------------------------------- */

static const ConfigValue *lookup(const KiteConfig *cfg, const char *key, KiteConfigType type)
{
	g_return_val_if_fail(cfg != NULL && key != NULL, NULL);
	for (guint i = 0; i < cfg->n_keys; i++) {
		if (!g_str_equal(cfg->keys[i].key, key))
			continue;
		if (cfg->keys[i].type != type)
			g_error("config key `%s` read with the wrong type (%d, declared %d)", key, type,
				cfg->keys[i].type);
		return &cfg->values[i];
	}
	g_error("config key `%s` is not in the program's table", key);
}

const char *kite_config_get_string(const KiteConfig *cfg, const char *key)
{
	return lookup(cfg, key, KITE_CONFIG_STRING)->text;
}

gint64 kite_config_get_int(const KiteConfig *cfg, const char *key)
{
	return lookup(cfg, key, KITE_CONFIG_INT)->i;
}

gboolean kite_config_get_bool(const KiteConfig *cfg, const char *key)
{
	return lookup(cfg, key, KITE_CONFIG_BOOL)->b;
}

double kite_config_get_duration(const KiteConfig *cfg, const char *key)
{
	return lookup(cfg, key, KITE_CONFIG_DURATION)->seconds;
}

guint64 kite_config_get_size(const KiteConfig *cfg, const char *key)
{
	return lookup(cfg, key, KITE_CONFIG_SIZE)->bytes;
}

const char *const *kite_config_get_strv(const KiteConfig *cfg, const char *key)
{
	return (const char *const *)lookup(cfg, key, KITE_CONFIG_STRV)->strv;
}

const char *kite_config_get_expr(const KiteConfig *cfg, const char *key)
{
	return lookup(cfg, key, KITE_CONFIG_EXPR)->text;
}

/* ---- documentation -------------------------------------------------------- */

static const char *type_name(KiteConfigType type)
{
	switch (type) {
	case KITE_CONFIG_STRING:
		return "string";
	case KITE_CONFIG_INT:
		return "whole number";
	case KITE_CONFIG_BOOL:
		return "true/false";
	case KITE_CONFIG_DURATION:
		return "duration";
	case KITE_CONFIG_SIZE:
		return "size";
	case KITE_CONFIG_STRV:
		return "list of strings";
	case KITE_CONFIG_EXPR:
		return "expression";
	}
	return "?";
}

/* Append @text with the characters that would break a table cell escaped. */
static void append_cell(GString *out, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '|')
			g_string_append(out, "\\|");
		else if (*p == '\n')
			g_string_append_c(out, ' ');
		else
			g_string_append_c(out, *p);
	}
}

char *kite_config_describe(const char *program, const KiteConfigKey *keys)
{
	g_return_val_if_fail(keys != NULL, NULL);

	GString *out = g_string_new(NULL);
	if (program)
		g_string_append_printf(out, "### %s\n\n", program);
	g_string_append(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
	for (const KiteConfigKey *k = keys; k->key; k++) {
		g_string_append_printf(out, "| `%s` | %s | ", k->key, type_name(k->type));
		if (k->default_value && k->default_value[0]) {
			g_string_append_c(out, '`');
			append_cell(out, k->default_value);
			g_string_append_c(out, '`');
		} else {
			g_string_append(out, k->default_value ? "(empty)" : "(unset)");
		}
		g_string_append(out, " | ");
		append_cell(out, k->doc ? k->doc : "");
		g_string_append(out, " |\n");
	}
	return g_string_free(out, FALSE);
}
