/* jobfile.c — job.yaml to a template job ad, and the per-proc expansion
 * of that template; see jobfile.h and docs/job-file.md.
 *
 * Reading YAML, checking keys and converting scalars is yaml-doc.c's
 * job; this file knows what each job key means, which attribute it
 * becomes, the defaults, the checks that need the file system (the
 * executable, the directories and input files) and the $(Macro)
 * language.  No printing here. */
#include "jobfile.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "job.h"
#include "util.h"
#include "yaml-doc.h"

/* Nesting and node limits: a job file is a flat mapping with a few short
 * lists, so these are generous and still bound the work. */
static const KiteYamlLimits job_limits = {
    .max_size = KITE_JOBFILE_MAX_SIZE,
    .max_depth = 16,
    .max_nodes = 100000,
};

#define DEFAULT_REQUEST_CPUS	   1
#define DEFAULT_REQUEST_MEMORY_MIB 128
#define DEFAULT_REQUEST_DISK_KIB   (1024 * 1024)
#define DEFAULT_MAX_RETRIES	   3
#define MAX_REQUEST_CPUS	   4096
#define MAX_RETRIES		   1000
#define MAX_CHECKPOINT_INTERVAL	   (365 * 86400)

/* ---- $(Macro) ----------------------------------------------------------- */

/* Condor spells these both ways; names are case-insensitive as there. */
static const char *const macro_names[] = {"Cluster", "ClusterId", "Process", "ProcId", "Item", NULL};

/* The macro named by @name[0..len) as 'C' (cluster), 'P' (proc) or 'I'
 * (the proc's item of `queue: {items: …}`), or 0. */
static char macro_kind(const char *name, gsize len)
{
	for (guint i = 0; macro_names[i]; i++)
		if (strlen(macro_names[i]) == len && g_ascii_strncasecmp(name, macro_names[i], len) == 0)
			return macro_names[i][0];
	return 0;
}

/* Expand @text: "$$" becomes "$" and, when @substitute, $(Cluster) and
 * $(Process) become the numbers and $(Item) @item (when not NULL);
 * anything else, including unknown macros, is copied as written.  Newly
 * allocated. */
static char *macro_expand_item(const char *text, gboolean substitute, gint64 cluster, gint64 proc, const char *item)
{
	GString *out = g_string_sized_new(strlen(text) + 8);
	for (const char *p = text; *p;) {
		if (p[0] == '$' && p[1] == '$') {
			g_string_append_c(out, '$');
			p += 2;
			continue;
		}
		if (substitute && p[0] == '$' && p[1] == '(') {
			const char *close = strchr(p + 2, ')');
			char kind = close ? macro_kind(p + 2, close - p - 2) : 0;
			if (kind == 'I' && item) {
				g_string_append(out, item);
				p = close + 1;
				continue;
			}
			if (kind == 'C' || kind == 'P') {
				g_string_append_printf(out, "%" G_GINT64_FORMAT,
						       kind == 'C' ? cluster : proc);
				p = close + 1;
				continue;
			}
		}
		g_string_append_c(out, *p++);
	}
	return g_string_free(out, FALSE);
}

static char *macro_expand(const char *text, gboolean substitute, gint64 cluster, gint64 proc)
{
	return macro_expand_item(text, substitute, cluster, proc, NULL);
}

/* Whether @text holds $(Item) (in any case). */
static gboolean uses_item(const char *text)
{
	for (const char *p = strstr(text, "$("); p; p = strstr(p + 2, "$(")) {
		const char *close = strchr(p + 2, ')');
		if (close && macro_kind(p + 2, close - p - 2) == 'I' && (p == text || p[-1] != '$'))
			return TRUE;
	}
	return FALSE;
}

/* "$" doubled, so that a real path (say, the current directory) placed
 * in a template comes out of macro_expand unchanged. */
static char *macro_escape(const char *text)
{
	GString *out = g_string_new(NULL);
	for (const char *p = text; *p; p++) {
		if (*p == '$')
			g_string_append_c(out, '$');
		g_string_append_c(out, *p);
	}
	return g_string_free(out, FALSE);
}

/* Check the macros in scalar @node's text: every "$(" must close and
 * name a known macro, and when !@allowed there must be none at all.
 * Writes whether the text uses a macro to @out_uses (may be NULL). */
static gboolean macro_check(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			    gboolean allowed, gboolean *out_uses, GError **error)
{
	const char *text = node->value;
	gboolean uses = FALSE;
	for (const char *p = text; *p; p++) {
		if (p[0] == '$' && p[1] == '$') {
			p++;
			continue;
		}
		if (p[0] != '$' || p[1] != '(')
			continue;
		const char *close = strchr(p + 2, ')');
		if (!close)
			return kite_yaml_throw_inside(
			    error, doc, node, p - text,
			    "`$(` without a closing `)` (write `$$` for a literal `$`)");
		g_autofree char *name = g_strndup(p + 2, close - p - 2);
		if (!macro_kind(name, strlen(name))) {
			const char *guess = kite_suggest(name, macro_names);
			if (guess)
				return kite_yaml_throw_inside(error, doc, node, p - text,
							      "unknown macro `$(%s)` (did you mean `$(%s)`?)",
							      name, guess);
			return kite_yaml_throw_inside(error, doc, node, p - text,
						      "unknown macro `$(%s)` (the macros are $(Cluster) and "
						      "$(Process); write `$$` for a literal `$`)",
						      name);
		}
		if (!allowed)
			return kite_yaml_throw_inside(
			    error, doc, node, p - text,
			    "`%s` cannot use `$(%s)`: it is checked when the job is submitted, "
			    "so it must be the same for every proc",
			    what, name);
		uses = TRUE;
		p = close;
	}
	if (out_uses)
		*out_uses = uses;
	return TRUE;
}

/* ---- shell words ---------------------------------------------------------- */

/* Append @word to @out as one shell word: bare when it is made of
 * characters no shell treats specially (a known macro counts as such,
 * since it expands to digits), single-quoted otherwise. */
static void append_shell_word(GString *out, const char *word)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
	gboolean bare = word[0] != '\0';
	for (const char *p = word; *p && bare; p++) {
		if (p[0] == '$' && p[1] == '(') {
			const char *close = strchr(p + 2, ')');
			if (close && macro_kind(p + 2, close - p - 2)) {
				p = close;
				continue;
			}
		}
		bare = strchr(safe, *p) != NULL;
	}
	if (out->len > 0)
		g_string_append_c(out, ' ');
	if (bare) {
		g_string_append(out, word);
		return;
	}
	g_string_append_c(out, '\'');
	for (const char *p = word; *p; p++) {
		if (*p == '\'')
			g_string_append(out, "'\\''");
		else
			g_string_append_c(out, *p);
	}
	g_string_append_c(out, '\'');
}

/* ---- parse state ---------------------------------------------------------- */

typedef struct {
	const KiteYamlDoc *doc;
	/* Nodes whose values need the file system or initial_dir; checked
	 * after every key has been read. */
	const KiteYamlNode *executable, *initial_dir, *input, *output, *error_file, *log;
	const KiteYamlNode *transfer_node;
	GArray *transfer; /* KiteYamlItem */
	char *arguments;
	char *environment;
	GHashTable *env_names;	/* names in `environment` (they win over getenv) */
	GPtrArray *getenv;	/* `getenv`: name patterns of the submitter's environment */
	KiteExpr *requirements, *rank;
	KiteExpr *periodic_hold, *periodic_release, *periodic_remove;
	KiteExpr *on_exit_hold, *on_exit_remove;
	gint64 request_cpus, request_memory, request_disk, priority, max_retries, queue;
	const char *checkpoint_mode;
	gint64 checkpoint_interval; /* seconds; 0 = the agent decides */
	gint64 job_lease;	    /* seconds; 0 = the startd's job_lease_duration */
	GArray *custom;             /* CustomAttr: `+Name: value` keys, in file order */
	GPtrArray *items;           /* `queue: {items: …}` or `{matching: …}`: one proc each */
	const KiteYamlNode *queue_node;
	char *matching;             /* the pattern, resolved once initial_dir is known */
} JobParse;

/* A custom attribute (`+Name: value`, HTCondor's `+Name = value`). */
typedef struct {
	const char *name; /* the key without its "+" (the document's text) */
	const KiteYamlNode *key;
	KiteExpr *value;
} CustomAttr;

static void job_parse_clear(JobParse *jp)
{
	g_clear_pointer(&jp->transfer, g_array_unref);
	g_clear_pointer(&jp->arguments, g_free);
	g_clear_pointer(&jp->environment, g_free);
	g_clear_pointer(&jp->env_names, g_hash_table_unref);
	g_clear_pointer(&jp->getenv, g_ptr_array_unref);
	g_clear_pointer(&jp->requirements, kite_expr_unref);
	g_clear_pointer(&jp->rank, kite_expr_unref);
	g_clear_pointer(&jp->periodic_hold, kite_expr_unref);
	g_clear_pointer(&jp->periodic_release, kite_expr_unref);
	g_clear_pointer(&jp->periodic_remove, kite_expr_unref);
	g_clear_pointer(&jp->on_exit_hold, kite_expr_unref);
	g_clear_pointer(&jp->on_exit_remove, kite_expr_unref);
	for (guint i = 0; jp->custom && i < jp->custom->len; i++)
		kite_expr_unref(g_array_index(jp->custom, CustomAttr, i).value);
	g_clear_pointer(&jp->custom, g_array_unref);
	g_clear_pointer(&jp->items, g_ptr_array_unref);
	g_clear_pointer(&jp->matching, g_free);
}

typedef gboolean (*KeyHandler)(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error);

/* A path-like string: remembered for the checks after all keys. */
static gboolean key_path(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	const char *text;
	gboolean fixed = g_str_equal(key, "executable") || g_str_equal(key, "initial_dir");
	/* An empty `input:` means "none", as if the key were not there; an
	 * empty executable is a mistake that get_string reports. */
	if (!g_str_equal(key, "executable") && kite_yaml_is_null(value))
		return TRUE;
	if (!kite_yaml_get_string(jp->doc, value, key, &text, error))
		return FALSE;
	if (text[0] == '\0')
		return kite_yaml_throw(error, jp->doc, value, "`%s` must not be empty", key);
	if (!macro_check(jp->doc, value, key, !fixed, NULL, error))
		return FALSE;
	if (g_str_equal(key, "executable"))
		jp->executable = value;
	else if (g_str_equal(key, "initial_dir"))
		jp->initial_dir = value;
	else if (g_str_equal(key, "input"))
		jp->input = value;
	else if (g_str_equal(key, "output"))
		jp->output = value;
	else if (g_str_equal(key, "error"))
		jp->error_file = value;
	else
		jp->log = value;
	return TRUE;
}

/* arguments: a list (one item per argument) or a string split with
 * shell rules; either way stored as one shell-quoted string. */
static gboolean key_arguments(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);
	if (value->kind == KITE_YAML_MAPPING)
		return kite_yaml_throw(error, jp->doc, value,
				       "`arguments` must be a list or a string, not a mapping "
				       "(put an argument that contains `: ` in quotes)");
	if (value->kind == KITE_YAML_SCALAR) {
		if (!macro_check(jp->doc, value, key, TRUE, NULL, error))
			return FALSE;
		g_auto(GStrv) argv = NULL;
		g_autoptr(GError) local = NULL;
		const char *text = kite_yaml_is_null(value) ? "" : value->value;
		if (!g_shell_parse_argv(text, NULL, &argv, &local)) {
			if (!g_error_matches(local, G_SHELL_ERROR, G_SHELL_ERROR_EMPTY_STRING))
				return kite_yaml_throw(
				    error, jp->doc, value,
				    "`arguments` is not a valid list of shell words (an unclosed "
				    "quote?); give the arguments as a YAML list instead");
		}
		for (guint i = 0; argv && argv[i]; i++)
			append_shell_word(out, argv[i]);
	} else {
		for (guint i = 0; i < value->children->len; i++) {
			const KiteYamlNode *item = g_ptr_array_index(value->children, i);
			if (item->kind != KITE_YAML_SCALAR)
				return kite_yaml_throw(error, jp->doc, item,
						       "items of `arguments` must be strings, not %s%s",
						       kite_yaml_kind_name(item),
						       item->kind == KITE_YAML_MAPPING
							   ? " (put an argument that contains `: ` in quotes)"
							   : "");
			if (!macro_check(jp->doc, item, key, TRUE, NULL, error))
				return FALSE;
			append_shell_word(out, kite_yaml_is_null(item) ? "" : item->value);
		}
	}
	g_free(jp->arguments);
	jp->arguments = g_string_free(g_steal_pointer(&out), FALSE);
	return TRUE;
}

static gboolean env_name_is_valid(const char *name)
{
	if (!g_ascii_isalpha(name[0]) && name[0] != '_')
		return FALSE;
	for (const char *p = name; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '_')
			return FALSE;
	return TRUE;
}

/* environment: NAME: value pairs, stored as shell-quoted NAME=VALUE words
 * in the order written. */
static gboolean key_environment(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);
	if (kite_yaml_is_null(value))
		return TRUE;
	if (!kite_yaml_check_keys(jp->doc, value, key, NULL, NULL, NULL, error))
		return FALSE;
	for (guint i = 0; i < kite_yaml_mapping_size(value); i++) {
		const KiteYamlNode *name = kite_yaml_mapping_key(value, i);
		const KiteYamlNode *v = kite_yaml_mapping_value(value, i);
		if (!env_name_is_valid(name->value))
			return kite_yaml_throw(
			    error, jp->doc, name,
			    "`%s` is not a valid environment variable name (use letters, digits "
			    "and _, not starting with a digit)",
			    name->value);
		const char *text = "";
		g_autofree char *what = g_strdup_printf("environment.%s", name->value);
		if (!kite_yaml_is_null(v) && !kite_yaml_get_string(jp->doc, v, what, &text, error))
			return FALSE;
		if (!kite_yaml_is_null(v) && !macro_check(jp->doc, v, what, TRUE, NULL, error))
			return FALSE;
		g_autofree char *word = g_strdup_printf("%s=%s", name->value, text);
		append_shell_word(out, word);
		if (!jp->env_names)
			jp->env_names = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_add(jp->env_names, name->value);
	}
	g_free(jp->environment);
	jp->environment = g_string_free(g_steal_pointer(&out), FALSE);
	return TRUE;
}

/* getenv: true (all of the submitter's environment), false, or a list
 * of names and shell patterns (`OMP_*`), as HTCondor's getenv. */
static gboolean key_getenv(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	g_clear_pointer(&jp->getenv, g_ptr_array_unref);
	if (kite_yaml_is_null(value))
		return TRUE;
	gboolean all;
	if (value->kind == KITE_YAML_SCALAR && kite_yaml_text_to_bool(value->value, &all)) {
		if (all) {
			jp->getenv = g_ptr_array_new_with_free_func(g_free);
			g_ptr_array_add(jp->getenv, g_strdup("*"));
		}
		return TRUE;
	}
	g_autoptr(GArray) items = kite_yaml_get_list(jp->doc, value, key, error);
	if (!items)
		return FALSE;
	jp->getenv = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < items->len; i++) {
		const KiteYamlItem *item = &g_array_index(items, KiteYamlItem, i);
		gboolean ok = item->text[0] != '\0';
		for (const char *c = item->text; ok && *c; c++)
			ok = g_ascii_isalnum(*c) || *c == '_' || *c == '*' || *c == '?';
		if (!ok)
			return kite_yaml_throw(error, jp->doc, item->node,
					       "`%s` in `getenv` is not a variable name or pattern (letters, digits, _, "
					       "and * or ?), or write `getenv: true` for all of them",
					       item->text);
		g_ptr_array_add(jp->getenv, g_strdup(item->text));
	}
	return TRUE;
}

/* g_ptr_array_sort's order for arrays of strings */
static gint compare_words(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The submitter's variables that `getenv` names and `environment` does
 * not, sorted, as shell words before the job file's own ("$" doubled: the
 * value is not a macro). */
static char *environment_with_getenv(const JobParse *jp)
{
	if (!jp->getenv)
		return g_strdup(jp->environment);
	g_auto(GStrv) env = g_get_environ();
	g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
	for (char **e = env; *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		g_autofree char *name = g_strndup(*e, eq - *e);
		if (!env_name_is_valid(name) || (jp->env_names && g_hash_table_contains(jp->env_names, name)))
			continue;
		gboolean wanted = FALSE;
		for (guint i = 0; !wanted && i < jp->getenv->len; i++)
			wanted = g_pattern_match_simple(jp->getenv->pdata[i], name);
		if (!wanted)
			continue;
		g_auto(GStrv) parts = g_strsplit(eq + 1, "$", -1);
		g_autofree char *value = g_strjoinv("$$", parts);
		g_ptr_array_add(words, g_strdup_printf("%s=%s", name, value));
	}
	g_ptr_array_sort(words, compare_words);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < words->len; i++)
		append_shell_word(out, words->pdata[i]);
	if (jp->environment && *jp->environment)
		g_string_append_printf(out, "%s%s", out->len ? " " : "", jp->environment);
	return g_string_free(out, FALSE);
}

static gboolean key_transfer(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	if (value->kind == KITE_YAML_SCALAR && !macro_check(jp->doc, value, key, TRUE, NULL, error))
		return FALSE;
	g_autoptr(GArray) items = kite_yaml_get_list(jp->doc, value, key, error);
	if (!items)
		return FALSE;
	for (guint i = 0; i < items->len; i++) {
		const KiteYamlItem *item = &g_array_index(items, KiteYamlItem, i);
		if (value->kind == KITE_YAML_SEQUENCE) {
			if (!macro_check(jp->doc, item->node, key, TRUE, NULL, error))
				return FALSE;
			/* TransferInput is comma-separated, so a comma in a name
			 * cannot be carried. */
			const char *comma = strchr(item->text, ',');
			if (comma)
				return kite_yaml_throw_inside(error, jp->doc, item->node, comma - item->text,
							      "file names in `%s` cannot contain a comma",
							      key);
		}
	}
	if (jp->transfer)
		g_array_unref(jp->transfer);
	jp->transfer = g_steal_pointer(&items);
	jp->transfer_node = value;
	return TRUE;
}

static gboolean key_expr(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	KiteExpr *e = NULL;
	if (kite_yaml_is_null(value))
		return TRUE;
	if (value->kind == KITE_YAML_SCALAR && !macro_check(jp->doc, value, key, TRUE, NULL, error))
		return FALSE;
	if (!kite_yaml_get_expr(jp->doc, value, key, &e, error))
		return FALSE;
	KiteExpr **slot = g_str_equal(key, "requirements")	  ? &jp->requirements
			  : g_str_equal(key, "rank")		  ? &jp->rank
			  : g_str_equal(key, "periodic_hold")	  ? &jp->periodic_hold
			  : g_str_equal(key, "periodic_release") ? &jp->periodic_release
			  : g_str_equal(key, "periodic_remove")	  ? &jp->periodic_remove
			  : g_str_equal(key, "on_exit_hold")	  ? &jp->on_exit_hold
								  : &jp->on_exit_remove;
	g_clear_pointer(slot, kite_expr_unref);
	*slot = e;
	return TRUE;
}

static gboolean key_int(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	if (g_str_equal(key, "request_cpus"))
		return kite_yaml_get_int(jp->doc, value, key, 1, MAX_REQUEST_CPUS, &jp->request_cpus, error);
	if (g_str_equal(key, "priority"))
		return kite_yaml_get_int(jp->doc, value, key, G_MININT32, G_MAXINT32, &jp->priority, error);
	if (g_str_equal(key, "max_retries"))
		return kite_yaml_get_int(jp->doc, value, key, 0, MAX_RETRIES, &jp->max_retries, error);
	g_assert(g_str_equal(key, "queue"));
	return kite_yaml_get_int(jp->doc, value, key, 1, KITE_JOBFILE_MAX_QUEUE, &jp->queue, error);
}

/* An item is a word: it lands inside string values and argument lists,
 * where spaces, quotes, backslashes and "$" would change what they mean. */
static gboolean item_is_word(const char *item)
{
	if (!*item)
		return FALSE;
	for (const char *c = item; *c; c++)
		if (g_ascii_isspace(*c) || strchr("\"'\\$`", *c))
			return FALSE;
	return TRUE;
}

/* queue: N, or {items: [a, b, …]} (one proc per item, $(Item)), or
 * {matching: PATTERN} (one proc per file of initial_dir that matches,
 * in name order) — Condor's `queue N`, `queue from`, `queue matching`. */
static gboolean key_queue(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	jp->queue_node = value;
	if (value->kind != KITE_YAML_MAPPING)
		return key_int(jp, key, value, error);
	static const char *const known[] = {"items", "matching", NULL};
	if (!kite_yaml_check_keys(jp->doc, value, key, NULL, known, "the keys are items and matching", error))
		return FALSE;
	if (kite_yaml_mapping_size(value) != 1)
		return kite_yaml_throw(error, jp->doc, value, "`queue` takes items or matching, not both");
	const char *which = kite_yaml_mapping_key(value, 0)->value;
	const KiteYamlNode *v = kite_yaml_mapping_value(value, 0);
	if (g_str_equal(which, "matching")) {
		const char *pattern;
		if (!kite_yaml_get_string(jp->doc, v, "queue.matching", &pattern, error))
			return FALSE;
		if (!*pattern || strchr(pattern, '/'))
			return kite_yaml_throw(error, jp->doc, v,
					       "`queue.matching` is a file name pattern in initial_dir, like `*.dat`");
		g_free(jp->matching);
		jp->matching = g_strdup(pattern);
		return TRUE;
	}
	g_autoptr(GArray) items = kite_yaml_get_list(jp->doc, v, "queue.items", error);
	if (!items)
		return FALSE;
	if (items->len == 0 || items->len > KITE_JOBFILE_MAX_QUEUE)
		return kite_yaml_throw(error, jp->doc, v, "`queue.items` wants 1 to %d items, not %u",
				       KITE_JOBFILE_MAX_QUEUE, items->len);
	jp->items = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < items->len; i++) {
		const KiteYamlItem *it = &g_array_index(items, KiteYamlItem, i);
		if (!item_is_word(it->text))
			return kite_yaml_throw(error, jp->doc, it->node,
					       "item `%s` of `queue.items`: an item is a word (no spaces, quotes, "
					       "backslashes or $)",
					       it->text);
		g_ptr_array_add(jp->items, g_strdup(it->text));
	}
	return TRUE;
}

/* queue: {matching: …}: the regular files of @iwd whose names match, sorted. */
static gboolean match_files(JobParse *jp, const char *iwd, GError **error)
{
	g_autoptr(GDir) dir = g_dir_open(iwd, 0, NULL);
	g_autoptr(GPatternSpec) spec = g_pattern_spec_new(jp->matching);
	jp->items = g_ptr_array_new_with_free_func(g_free);
	for (const char *name; dir && (name = g_dir_read_name(dir));) {
		g_autofree char *path = g_build_filename(iwd, name, NULL);
		if (!g_pattern_spec_match_string(spec, name) || !g_file_test(path, G_FILE_TEST_IS_REGULAR))
			continue;
		if (!item_is_word(name))
			return kite_yaml_throw(error, jp->doc, jp->queue_node,
					       "file `%s` matches `%s` but is not a word (no spaces, quotes, "
					       "backslashes or $): rename it or list the items",
					       name, jp->matching);
		g_ptr_array_add(jp->items, g_strdup(name));
	}
	if (jp->items->len == 0)
		return kite_yaml_throw(error, jp->doc, jp->queue_node, "no file in %s matches `%s`", iwd,
				       jp->matching);
	if (jp->items->len > KITE_JOBFILE_MAX_QUEUE)
		return kite_yaml_throw(error, jp->doc, jp->queue_node, "%u files match `%s`: over %d procs",
				       jp->items->len, jp->matching, KITE_JOBFILE_MAX_QUEUE);
	g_ptr_array_sort(jp->items, compare_words);
	return TRUE;
}

/* request_memory (a bare number is MiB) and request_disk (KiB), as in
 * Condor. */
static gboolean key_size(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	gboolean memory = g_str_equal(key, "request_memory");
	guint64 v;
	if (!kite_yaml_get_size(jp->doc, value, key, memory ? 1024 * 1024 : 1024,
				memory ? "a number of MiB" : "a number of KiB", &v, error))
		return FALSE;
	*(memory ? &jp->request_memory : &jp->request_disk) = (gint64)v;
	return TRUE;
}

static const char *const checkpoint_modes[] = {"preload", "linked", "none", NULL};

static gboolean checkpoint_mode(JobParse *jp, const KiteYamlNode *value, GError **error)
{
	const char *text;
	if (!kite_yaml_get_string(jp->doc, value, "checkpoint.mode", &text, error))
		return FALSE;
	for (guint i = 0; checkpoint_modes[i]; i++) {
		if (g_ascii_strcasecmp(text, checkpoint_modes[i]) == 0) {
			jp->checkpoint_mode = checkpoint_modes[i];
			return TRUE;
		}
	}
	const char *guess = kite_suggest(text, checkpoint_modes);
	g_autofree char *did_you_mean = guess ? g_strdup_printf("did you mean `%s`? ", guess) : g_strdup("");
	return kite_yaml_throw(error, jp->doc, value,
			       "unknown checkpoint mode `%s` (%sthe modes are preload, linked and none)",
			       text, did_you_mean);
}

static gboolean checkpoint_interval(JobParse *jp, const KiteYamlNode *value, GError **error)
{
	double seconds;
	if (value->kind == KITE_YAML_SCALAR && g_ascii_strcasecmp(value->value, "auto") == 0) {
		jp->checkpoint_interval = 0;
		return TRUE;
	}
	if (!kite_yaml_get_duration(jp->doc, value, "checkpoint.interval", &seconds, error))
		return FALSE;
	if (seconds <= 0 || seconds > MAX_CHECKPOINT_INTERVAL)
		return kite_yaml_throw(
		    error, jp->doc, value,
		    "`checkpoint.interval` must be `auto` or a duration from 1s to 365d, not `%s`",
		    value->value);
	jp->checkpoint_interval = MAX(1, (gint64)ceil(seconds));
	return TRUE;
}

/* job_lease_duration: how long the job's startd keeps it running for a
 * restarted schedd to reconnect (JobLeaseDuration, HTCondor's submit
 * key of the same name). */
static gboolean key_job_lease(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	double seconds;
	if (!kite_yaml_get_duration(jp->doc, value, key, &seconds, error))
		return FALSE;
	if (seconds < 1 || seconds > KITE_JOB_LEASE_MAX)
		return kite_yaml_throw(error, jp->doc, value,
				       "`job_lease_duration` must be a duration from 1s to 30d, not `%s`", value->value);
	jp->job_lease = (gint64)ceil(seconds);
	return TRUE;
}

/* checkpoint: a mapping (mode, interval), or just the mode. */
static gboolean key_checkpoint(JobParse *jp, const char *key, const KiteYamlNode *value, GError **error)
{
	static const char *const known[] = {"mode", "interval", NULL};
	if (value->kind == KITE_YAML_SCALAR)
		return checkpoint_mode(jp, value, error);
	if (!kite_yaml_check_keys(jp->doc, value, key, NULL, known, "the keys are mode and interval", error))
		return FALSE;
	for (guint i = 0; i < kite_yaml_mapping_size(value); i++) {
		const char *name = kite_yaml_mapping_key(value, i)->value;
		const KiteYamlNode *v = kite_yaml_mapping_value(value, i);
		if (!(g_str_equal(name, "mode") ? checkpoint_mode(jp, v, error)
						: checkpoint_interval(jp, v, error)))
			return FALSE;
	}
	return TRUE;
}

/* Attributes the schedd, the shadow or the startd keep for the job:
 * a job file cannot set them with `+`. */
static const char *const kept_by_kite[] = {
    "Owner", "User", "AuthenticatedIdentity", "ClusterId", "ProcId", "JobStatus", "QDate", "EnteredCurrentStatus",
    "JobCurrentStartDate", "CompletionDate", "ExitCode", "ExitSignal", "ExitBySignal", "RemoteHost",
    "LastRemoteHost", "RemoteWallClockTime", "MemoryUsage", "ResidentSetSize", "RemoteUserCpu", "RemoteSysCpu",
    "NumRetries", "NumCheckpoints", "HoldReason", "HoldReasonCode",
    "LastRequeueReason", "LastRequeueTime", "LastCheckpointImage", "LastCheckpointSandbox", "LastCheckpointTime",
    "CheckpointCaps", "CheckpointServer", "CheckpointServerChoice", "CheckpointSeq", "CheckpointSize",
    "CheckpointSeconds", "CheckpointIntervalChoice", "CheckpointUnusable", "CheckpointUnusableReason",
    "MatchAnalysis", "ImageSize", "MyType", "Item", "QueueItems", NULL};

/* `+Name: value`: a quoted value is a string, a plain one an expression
 * (`+Project: "chemistry"`, `+Weight: 3`, `+Big: RequestMemory > 4096`). */
static gboolean key_custom(JobParse *jp, const KiteYamlNode *keynode, const KiteYamlNode *value, GError **error)
{
	const char *key = keynode->value, *name = key + 1;
	gboolean word = g_ascii_isalpha(name[0]) || name[0] == '_';
	for (const char *c = name; word && *c; c++)
		word = g_ascii_isalnum(*c) || *c == '_';
	if (!word)
		return kite_yaml_throw(error, jp->doc, keynode,
				       "custom attribute `%s`: a name is a letter or _ followed by letters, digits "
				       "and _",
				       key);
	for (const char *const *k = kept_by_kite; *k; k++)
		if (g_ascii_strcasecmp(name, *k) == 0)
			return kite_yaml_throw(error, jp->doc, keynode,
					       "custom attribute `%s`: %s is kept by Kite, not set by a job file",
					       key, *k);
	if (value->kind != KITE_YAML_SCALAR || kite_yaml_is_null(value))
		return kite_yaml_throw(error, jp->doc, value,
				       "custom attribute `%s` wants a value: a quoted string or an expression", key);
	KiteExpr *e = NULL;
	if (value->plain) {
		if (!macro_check(jp->doc, value, key, TRUE, NULL, error) ||
		    !kite_yaml_get_expr(jp->doc, value, key, &e, error))
			return FALSE;
	} else {
		if (!macro_check(jp->doc, value, key, TRUE, NULL, error))
			return FALSE;
		e = kite_expr_new_string(value->value);
	}
	if (!jp->custom)
		jp->custom = g_array_new(FALSE, FALSE, sizeof(CustomAttr));
	CustomAttr a = {name, keynode, e};
	g_array_append_val(jp->custom, a);
	return TRUE;
}

/* Every key a job file may have, in the order docs/job-file.md lists them. */
static const struct {
	const char *key;
	KeyHandler handler;
} job_keys[] = {
    {"executable", key_path},
    {"arguments", key_arguments},
    {"environment", key_environment},
    {"getenv", key_getenv},
    {"input", key_path},
    {"output", key_path},
    {"error", key_path},
    {"log", key_path},
    {"transfer_input_files", key_transfer},
    {"initial_dir", key_path},
    {"requirements", key_expr},
    {"rank", key_expr},
    {"periodic_hold", key_expr},
    {"periodic_release", key_expr},
    {"periodic_remove", key_expr},
    {"on_exit_hold", key_expr},
    {"on_exit_remove", key_expr},
    {"request_cpus", key_int},
    {"request_memory", key_size},
    {"request_disk", key_size},
    {"priority", key_int},
    {"checkpoint", key_checkpoint},
    {"max_retries", key_int},
    {"job_lease_duration", key_job_lease},
    {"queue", key_queue},
};

/* ---- checks that need the file system ------------------------------------- */

/* The absolute template path for @raw (which may hold macros and $$),
 * relative to template directory @base. */
static char *template_path(const char *raw, const char *base)
{
	return g_canonicalize_filename(raw, base);
}

static gboolean check_directory(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *path,
				GError **error)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return kite_yaml_throw(error, doc, node, "initial directory `%s` %s", path,
				       errno == ENOENT ? "does not exist" : g_strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return kite_yaml_throw(error, doc, node, "initial directory `%s` is not a directory", path);
	return TRUE;
}

static gboolean check_executable(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *path,
				 GError **error)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return kite_yaml_throw(error, doc, node, "executable `%s`: %s", path,
					       g_strerror(errno));
		/* A bare name like `sleep` is looked up relative to the job's
		 * directory, as Condor does; say where the program really is. */
		g_autofree char *found =
		    strchr(node->value, '/') ? NULL : g_find_program_in_path(node->value);
		if (found)
			return kite_yaml_throw(error, doc, node,
					       "executable `%s` does not exist (did you mean `%s`?)", path,
					       found);
		return kite_yaml_throw(error, doc, node, "executable `%s` does not exist", path);
	}
	if (S_ISDIR(st.st_mode))
		return kite_yaml_throw(error, doc, node, "executable `%s` is a directory", path);
	if (!S_ISREG(st.st_mode))
		return kite_yaml_throw(error, doc, node, "executable `%s` is not a regular file", path);
	if (access(path, X_OK) < 0)
		return kite_yaml_throw(error, doc, node,
				       "executable `%s` is not executable (try `chmod +x %s`)", path, path);
	return TRUE;
}

/* An input file must exist when its name is fixed; a name with macros
 * differs per proc and is checked when the proc starts. */
static gboolean check_input(const KiteYamlDoc *doc, const KiteYamlNode *node, gsize offset, const char *what,
			    const char *tmpl, GError **error)
{
	if (strstr(tmpl, "$("))
		return TRUE;
	g_autofree char *path = macro_expand(tmpl, FALSE, 0, 0);
	if (access(path, F_OK) == 0)
		return TRUE;
	const char *why = errno == ENOENT ? "does not exist" : g_strerror(errno);
	/* Point at the entry of a comma-separated list; at the value (its
	 * quote, if quoted) otherwise, like every other message. */
	if (offset > 0)
		return kite_yaml_throw_inside(error, doc, node, offset, "%s `%s` %s", what, path, why);
	return kite_yaml_throw(error, doc, node, "%s `%s` %s", what, path, why);
}

/* The event log's directory must exist (checked for proc 0 when the
 * path has no other macros): the schedd appends to the file, as the
 * job's owner, from the first event on. */
static gboolean check_log_dir(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *tmpl, GError **error)
{
	g_autofree char *path = macro_expand(tmpl, FALSE, 0, 0);
	g_autofree char *dir = g_path_get_dirname(path);
	if (strstr(dir, "$(") || g_file_test(dir, G_FILE_TEST_IS_DIR))
		return TRUE;
	return kite_yaml_throw(error, doc, node, "the directory of log file `%s` does not exist", path);
}

/* ---- the template ad ------------------------------------------------------ */

/* Condor's names for this host's architecture, which the startd
 * advertises as Arch (uname's machine otherwise, upper-cased). */
static char *host_arch(void)
{
	struct utsname u;
	if (uname(&u) < 0)
		return g_strdup("X86_64");
	if (g_str_equal(u.machine, "i386") || g_str_equal(u.machine, "i686"))
		return g_strdup("INTEL");
	return g_ascii_strup(u.machine, -1);
}

/* The user's requirements (if any) and Condor's default clauses, each
 * left out when the user's expression already mentions its attribute:
 * someone who writes `TARGET.Memory >= 4000` has said what they need.
 * NULL only if the result does not parse, which would be a bug. */
static KiteExpr *build_requirements(const KiteExpr *user, GError **error)
{
	g_autofree char *arch = host_arch();
	g_autofree char *arch_clause = g_strdup_printf("(TARGET.Arch == \"%s\")", arch);
	const struct {
		const char *attr;
		const char *clause;
	} defaults[] = {
	    {"Arch", arch_clause},
	    {"OpSys", "(TARGET.OpSys == \"LINUX\")"},
	    {"Memory", "(TARGET.Memory >= MY.RequestMemory)"},
	    {"Disk", "(TARGET.Disk >= MY.RequestDisk)"},
	};
	g_autoptr(GString) text = g_string_new(NULL);
	if (user) {
		g_autofree char *u = kite_expr_to_string(user);
		g_string_append_printf(text, "(%s)", u);
	}
	for (guint i = 0; i < G_N_ELEMENTS(defaults); i++) {
		if (user && kite_expr_references(user, defaults[i].attr))
			continue;
		if (text->len)
			g_string_append(text, " && ");
		g_string_append(text, defaults[i].clause);
	}
	g_autoptr(GError) local = NULL;
	KiteExpr *e = kite_expr_parse(text->str, NULL, &local);
	if (!e)
		kite_throw(error, KITE_ERROR_FAILED, "internal error: requirements `%s` do not parse: %s",
			   text->str, local->message);
	return e;
}

/* Resolve paths, run the checks that need the file system, and build
 * the template ad in a fixed, readable attribute order. */
static KiteAd *build_ad(JobParse *jp, const char *cwd, GError **error)
{
	const KiteYamlDoc *doc = jp->doc;

	if (!jp->executable) {
		kite_yaml_throw(
		    error, doc, doc->root,
		    "`executable` is required (the program to run, e.g. `executable: /bin/sleep`)");
		return NULL;
	}

	/* Templates hold "$$" for "$"; real paths are what the checks use. */
	g_autofree char *cwd_tmpl = macro_escape(cwd);
	g_autofree char *iwd =
	    jp->initial_dir ? template_path(jp->initial_dir->value, cwd_tmpl) : g_strdup(cwd_tmpl);
	g_autofree char *iwd_real = macro_expand(iwd, FALSE, 0, 0);
	if (jp->initial_dir && !check_directory(doc, jp->initial_dir, iwd_real, error))
		return NULL;
	if (jp->matching && !match_files(jp, iwd_real, error))
		return NULL;

	g_autofree char *cmd = template_path(jp->executable->value, iwd);
	g_autofree char *cmd_real = macro_expand(cmd, FALSE, 0, 0);
	if (!check_executable(doc, jp->executable, cmd_real, error))
		return NULL;

	g_autofree char *in = jp->input ? template_path(jp->input->value, iwd) : NULL;
	if (in && !check_input(doc, jp->input, 0, "input file", in, error))
		return NULL;
	g_autofree char *out = jp->output ? template_path(jp->output->value, iwd) : NULL;
	g_autofree char *err = jp->error_file ? template_path(jp->error_file->value, iwd) : NULL;
	g_autofree char *log = jp->log ? template_path(jp->log->value, iwd) : NULL;
	if (log && !check_log_dir(doc, jp->log, log, error))
		return NULL;

	g_autoptr(GString) transfer = NULL;
	if (jp->transfer && jp->transfer->len > 0) {
		transfer = g_string_new(NULL);
		for (guint i = 0; i < jp->transfer->len; i++) {
			const KiteYamlItem *item = &g_array_index(jp->transfer, KiteYamlItem, i);
			g_autofree char *p = template_path(item->text, iwd);
			if (!check_input(doc, item->node, item->offset, "input file", p, error))
				return NULL;
			g_string_append_printf(transfer, "%s%s", i ? "," : "", p);
		}
	}

	g_autoptr(KiteExpr) requirements = build_requirements(jp->requirements, error);
	if (!requirements)
		return NULL;

	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_string(ad, "Cmd", cmd);
	kite_ad_set_string(ad, "Arguments", jp->arguments ? jp->arguments : "");
	g_autofree char *environment = environment_with_getenv(jp);
	if (environment && (*environment || jp->environment))
		kite_ad_set_string(ad, "Environment", environment);
	kite_ad_set_string(ad, "Iwd", iwd);
	if (in)
		kite_ad_set_string(ad, "In", in);
	if (out)
		kite_ad_set_string(ad, "Out", out);
	if (err)
		kite_ad_set_string(ad, "Err", err);
	if (log)
		kite_ad_set_string(ad, "UserLog", log);
	if (transfer)
		kite_ad_set_string(ad, "TransferInput", transfer->str);
	kite_ad_set_int(ad, "RequestCpus", jp->request_cpus);
	kite_ad_set_int(ad, "RequestMemory", jp->request_memory);
	kite_ad_set_int(ad, "RequestDisk", jp->request_disk);
	kite_ad_set(ad, "Requirements", requirements);
	if (jp->rank)
		kite_ad_set(ad, "Rank", jp->rank);
	if (jp->periodic_hold)
		kite_ad_set(ad, "PeriodicHold", jp->periodic_hold);
	if (jp->periodic_release)
		kite_ad_set(ad, "PeriodicRelease", jp->periodic_release);
	if (jp->periodic_remove)
		kite_ad_set(ad, "PeriodicRemove", jp->periodic_remove);
	if (jp->on_exit_hold)
		kite_ad_set(ad, "OnExitHold", jp->on_exit_hold);
	if (jp->on_exit_remove)
		kite_ad_set(ad, "OnExitRemove", jp->on_exit_remove);
	kite_ad_set_int(ad, "JobPrio", jp->priority);
	kite_ad_set_string(ad, "CheckpointMode", jp->checkpoint_mode);
	if (jp->checkpoint_interval > 0)
		kite_ad_set_int(ad, "CheckpointInterval", jp->checkpoint_interval);
	kite_ad_set_int(ad, "MaxRetries", jp->max_retries);
	if (jp->job_lease > 0)
		kite_ad_set_int(ad, "JobLeaseDuration", jp->job_lease);
	for (guint i = 0; jp->custom && i < jp->custom->len; i++) {
		const CustomAttr *a = &g_array_index(jp->custom, CustomAttr, i);
		if (kite_ad_lookup(ad, a->name)) {
			kite_yaml_throw(error, doc, a->key,
					"custom attribute `+%s`: %s comes from the job file's own keys (docs/job-file.md)",
					a->name, a->name);
			return NULL;
		}
		kite_ad_set(ad, a->name, a->value);
	}
	if (jp->items) {
		/* each proc's $(Item), kept in the template only (expand takes it out) */
		g_autoptr(GString) joined = g_string_new(NULL);
		for (guint i = 0; i < jp->items->len; i++)
			g_string_append_printf(joined, "%s%s", i ? "\n" : "", (const char *)jp->items->pdata[i]);
		kite_ad_set_string(ad, "QueueItems", joined->str);
	} else {
		for (guint i = 0; i < kite_ad_size(ad); i++) {
			g_autofree char *text = kite_expr_to_string(kite_ad_expr_at(ad, i));
			if (uses_item(text)) {
				kite_yaml_throw(error, doc, jp->queue_node ? jp->queue_node : doc->root,
						"`%s` uses $(Item), but `queue` has no items (write `queue: {items: "
						"[…]}` or `queue: {matching: PATTERN}`)",
						kite_ad_name_at(ad, i));
				return NULL;
			}
		}
	}
	return g_steal_pointer(&ad);
}

/* ---- entry points --------------------------------------------------------- */

KiteJobFile *kite_jobfile_parse(const char *display_name, const char *data, gsize len, const char *cwd,
				GError **error)
{
	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(cwd == NULL || g_path_is_absolute(cwd), NULL);

	g_autofree char *here = cwd ? g_strdup(cwd) : g_get_current_dir();
	g_autoptr(KiteYamlDoc) doc =
	    kite_yaml_load(display_name ? display_name : "job.yaml", data, len, &job_limits, error);
	if (!doc)
		return NULL;

	const char *names[G_N_ELEMENTS(job_keys) + 2];
	for (guint i = 0; i < G_N_ELEMENTS(job_keys); i++)
		names[i] = job_keys[i].key;
	names[G_N_ELEMENTS(job_keys)] = KITE_YAML_ANY_PLUS_KEY; /* custom attributes */
	names[G_N_ELEMENTS(job_keys) + 1] = NULL;

	JobParse jp = {
	    .doc = doc,
	    .request_cpus = DEFAULT_REQUEST_CPUS,
	    .request_memory = DEFAULT_REQUEST_MEMORY_MIB,
	    .request_disk = DEFAULT_REQUEST_DISK_KIB,
	    .priority = 0,
	    .max_retries = DEFAULT_MAX_RETRIES,
	    .queue = 1,
	    .checkpoint_mode = "preload",
	};
	KiteAd *ad = NULL;
	if (doc->root &&
	    !kite_yaml_check_keys(doc, doc->root, NULL,
				  "a job file is a mapping of keys to values, like `executable: ./prog`",
				  names, "see docs/job-file.md for the keys a job file may have", error))
		goto out;
	/* Values are read in file order, so the first error reported is the
	 * first one in the file. */
	for (guint i = 0; doc->root && i < kite_yaml_mapping_size(doc->root); i++) {
		const char *key = kite_yaml_mapping_key(doc->root, i)->value;
		const KiteYamlNode *value = kite_yaml_mapping_value(doc->root, i);
		if (key[0] == '+' && !key_custom(&jp, kite_yaml_mapping_key(doc->root, i), value, error))
			goto out;
		for (guint k = 0; k < G_N_ELEMENTS(job_keys); k++)
			if (g_str_equal(key, job_keys[k].key) && !job_keys[k].handler(&jp, key, value, error))
				goto out;
	}
	ad = build_ad(&jp, here, error);
out:
	job_parse_clear(&jp);
	if (!ad)
		return NULL;
	KiteJobFile *jf = g_new0(KiteJobFile, 1);
	jf->ad = ad;
	jf->queue = (guint)jp.queue;
	g_autofree char *items = NULL;
	if (kite_ad_get_string(ad, "QueueItems", &items)) {
		g_auto(GStrv) each = g_strsplit(items, "\n", -1);
		jf->queue = g_strv_length(each);
	}
	return jf;
}

void kite_jobfile_free(KiteJobFile *jf)
{
	if (!jf)
		return;
	kite_ad_free(jf->ad);
	g_free(jf);
}

/* Macros can only sit in string literals, so expanding the printed form
 * of each attribute and parsing it back covers plain strings and
 * strings inside expressions alike; attributes without a "$" are left
 * as they are. */
KiteAd *kite_jobfile_expand(const KiteAd *tmpl, gint64 cluster, gint64 proc)
{
	g_return_val_if_fail(tmpl != NULL, NULL);

	KiteAd *ad = kite_ad_copy(tmpl);
	/* queue: {items: …}: this proc's item, and the list stays in the template */
	g_autofree char *items_text = NULL;
	g_auto(GStrv) items = kite_ad_get_string(tmpl, "QueueItems", &items_text) ? g_strsplit(items_text, "\n", -1) : NULL;
	const char *item = items && proc >= 0 && proc < (gint64)g_strv_length(items) ? items[proc] : NULL;
	if (items) {
		kite_ad_remove(ad, "QueueItems");
		if (item)
			kite_ad_set_string(ad, "Item", item);
	}
	for (guint i = 0; i < kite_ad_size(tmpl); i++) {
		g_autofree char *text = kite_expr_to_string(kite_ad_expr_at(tmpl, i));
		if (!strchr(text, '$') || g_str_equal(kite_ad_name_at(tmpl, i), "QueueItems"))
			continue;
		g_autofree char *expanded = macro_expand_item(text, TRUE, cluster, proc, item);
		/* Cannot fail: only the inside of string literals changed. */
		if (!kite_ad_set_parsed(ad, kite_ad_name_at(tmpl, i), expanded, NULL))
			g_warn_if_reached();
	}
	kite_ad_set_int(ad, "ClusterId", cluster);
	kite_ad_set_int(ad, "ProcId", proc);
	return ad;
}
