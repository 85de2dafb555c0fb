/* yaml-doc.h — the one place where Kite reads YAML (job files, config).
 *
 * kite_yaml_load turns a YAML text into a small tree of scalars,
 * sequences and mappings that remember where they came from (1-based
 * line and column), under limits on size, nesting and node count, and
 * refusing what Kite never needs (aliases, several documents).  The
 * helpers below check keys and convert values with messages of one
 * form, "NAME:LINE:COL: what is wrong", so that jobfile.c and config.c
 * say the same thing the same way.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

#include "expr.h"

G_BEGIN_DECLS

typedef enum {
	KITE_YAML_SCALAR,
	KITE_YAML_SEQUENCE,
	KITE_YAML_MAPPING,
} KiteYamlKind;

typedef struct _KiteYamlNode KiteYamlNode;
struct _KiteYamlNode {
	KiteYamlKind kind;
	guint line, column; /* 1-based start of the node in the source */
	/* SCALAR: the text (never contains NUL), and whether it was written
	 * plain (unquoted) — only a plain scalar can be null. */
	char *value;
	gboolean plain;
	/* SCALAR: 1-based column where the text of the value starts when the
	 * value is on one line and its bytes are exactly the source's (no
	 * escapes, no folding), so positions inside it can be reported;
	 * 0 otherwise. */
	guint text_column;
	/* SEQUENCE: the items; MAPPING: key, value, key, value, … */
	GPtrArray *children;
};

typedef struct {
	char *name;	    /* for messages: "job.yaml" */
	KiteYamlNode *root; /* NULL for an empty document */
} KiteYamlDoc;

typedef struct {
	gsize max_size;	 /* bytes of input */
	guint max_depth; /* nesting of sequences and mappings */
	guint max_nodes; /* scalars, sequences and mappings, keys included */
} KiteYamlLimits;

/* Parse @len bytes of UTF-8 YAML.  @name is used in messages.  Errors
 * (KITE_ERROR_INVALID, or KITE_ERROR_LIMIT over a limit) read
 * "NAME:LINE:COL: problem". */
KiteYamlDoc *kite_yaml_load(const char *name, const char *data, gsize len, const KiteYamlLimits *limits,
			    GError **error);
void kite_yaml_doc_free(KiteYamlDoc *doc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteYamlDoc, kite_yaml_doc_free)

/* Set @error to "NAME:LINE:COL: message" at @node (code
 * KITE_ERROR_INVALID) and return FALSE. */
gboolean kite_yaml_throw(GError **error, const KiteYamlDoc *doc, const KiteYamlNode *node, const char *fmt,
			 ...) G_GNUC_PRINTF(4, 5);
/* Same, at byte @offset inside scalar @node's text when its position is
 * known (text_column != 0), else at the node. */
gboolean kite_yaml_throw_inside(GError **error, const KiteYamlDoc *doc, const KiteYamlNode *node,
				gsize offset, const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* "a string", "a list", "a mapping" — for "must be X, not Y" messages. */
const char *kite_yaml_kind_name(const KiteYamlNode *node);
/* TRUE for a plain scalar that YAML reads as null: nothing, ~ or null. */
gboolean kite_yaml_is_null(const KiteYamlNode *node);

/* Mappings.  kite_yaml_check_keys checks that @map is a mapping (else
 * "`@what` must be a mapping…"; @what NULL means the document root and
 * @root_hint describes what it should look like), that every key is a
 * scalar and appears once, and, when @known is not NULL, that every key
 * is one of @known ("unknown key `x` (did you mean `y`?)"; @known_hint
 * is added when there is no close match). */
/* In @known of kite_yaml_check_keys: any key that starts with "+" is
 * known (a job file's custom attributes). */
#define KITE_YAML_ANY_PLUS_KEY "+*"
gboolean kite_yaml_check_keys(const KiteYamlDoc *doc, const KiteYamlNode *map, const char *what,
			      const char *root_hint, const char *const *known, const char *known_hint,
			      GError **error);
/* The number of key/value pairs of @map and the @i-th key and value. */
guint kite_yaml_mapping_size(const KiteYamlNode *map);
const KiteYamlNode *kite_yaml_mapping_key(const KiteYamlNode *map, guint i);
const KiteYamlNode *kite_yaml_mapping_value(const KiteYamlNode *map, guint i);

/* Scalar conversions of text, shared with defaults that come from code:
 * a whole number in decimal; true/false (also yes/no, on/off). */
gboolean kite_yaml_text_to_int(const char *text, gint64 *out_v);
gboolean kite_yaml_text_to_bool(const char *text, gboolean *out_v);

/* Value getters.  @what names the value in messages, e.g. "request_cpus"
 * gives "`request_cpus` must be a whole number, not `two`".  Each
 * writes its out parameter only on success; strings are borrowed from
 * the node. */
gboolean kite_yaml_get_string(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			      const char **out_v, GError **error);
gboolean kite_yaml_get_int(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what, gint64 min,
			   gint64 max, gint64 *out_v, GError **error);
gboolean kite_yaml_get_bool(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			    gboolean *out_v, GError **error);
gboolean kite_yaml_get_duration(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
				double *out_seconds, GError **error);
/* A size scaled to @unit bytes; @bare_hint says what a bare number
 * means ("a number of MiB"). */
gboolean kite_yaml_get_size(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what, guint64 unit,
			    const char *bare_hint, guint64 *out_size, GError **error);
/* An expression; a syntax error points at its column inside the value
 * when the value sits on one line as written. */
gboolean kite_yaml_get_expr(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			    KiteExpr **out_expr, GError **error);

/* One entry of a list value, with the node and byte offset it came from
 * so that a later check can point at it. */
typedef struct {
	char *text;
	const KiteYamlNode *node;
	gsize offset;
} KiteYamlItem;

/* A list of strings: a YAML sequence of scalars, or one scalar whose
 * comma-separated entries are the items (blanks trimmed, empty entries
 * dropped).  Returns a GArray of KiteYamlItem that frees its texts. */
GArray *kite_yaml_get_list(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			   GError **error);
/* Split @text at commas as kite_yaml_get_list does (for defaults). */
GArray *kite_yaml_split_list(const char *text, const KiteYamlNode *node);

G_END_DECLS
