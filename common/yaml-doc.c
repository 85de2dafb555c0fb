/* yaml-doc.c — YAML text to a tree of positioned nodes, and the checks
 * and conversions that job files and config files share; see yaml-doc.h.
 *
 * libyaml's event parser does the YAML; this file only builds the tree,
 * enforces the limits and turns libyaml's problem marks into
 * "NAME:LINE:COL: …" messages.  What the keys mean lives in jobfile.c
 * and config.c.  No printing here. */
#include "yaml-doc.h"

#include <errno.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

/* ---- nodes ------------------------------------------------------------ */

static void node_free(KiteYamlNode *node)
{
	if (!node)
		return;
	g_free(node->value);
	if (node->children)
		g_ptr_array_unref(node->children);
	g_free(node);
}

void kite_yaml_doc_free(KiteYamlDoc *doc)
{
	if (!doc)
		return;
	node_free(doc->root);
	g_free(doc->name);
	g_free(doc);
}

/* ---- source positions ------------------------------------------------- */

/* libyaml's marks count characters, not bytes, so finding a mark in the
 * source needs the byte offset of each line's start. */
typedef struct {
	const char *data;
	gsize len;
	GArray *line_starts; /* gsize */
	/* the last position source_offset() found: marks come in order, so
	 * the next one on the same line starts from there (a 100,000-item
	 * flow list on one line is then read in linear time, not quadratic) */
	size_t last_line, last_column;
	gsize last_off; /* (gsize)-1: none */
} Source;

static void source_init(Source *src, const char *data, gsize len)
{
	src->data = data;
	src->len = len;
	src->last_off = (gsize)-1;
	src->line_starts = g_array_new(FALSE, FALSE, sizeof(gsize));
	gsize zero = 0;
	g_array_append_val(src->line_starts, zero);
	for (gsize i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			i++;
		else if (data[i] != '\n' && data[i] != '\r')
			continue;
		gsize next = i + 1;
		g_array_append_val(src->line_starts, next);
	}
}

static void source_clear(Source *src)
{
	g_clear_pointer(&src->line_starts, g_array_unref);
}

/* Byte offset of (0-based) @line / @column, or (gsize)-1 when the mark
 * does not fall inside the source as this file counts lines (YAML also
 * breaks lines at U+2028 and friends, which nobody uses in a job file). */
static gsize source_offset(const Source *csrc, size_t line, size_t column)
{
	Source *src = (Source *)csrc; /* the cache only */
	if (line >= src->line_starts->len)
		return (gsize)-1;
	gsize off = g_array_index(src->line_starts, gsize, line);
	size_t c = 0;
	if (src->last_off != (gsize)-1 && src->last_line == line && src->last_column <= column) {
		off = src->last_off;
		c = src->last_column;
	}
	for (; c < column; c++) {
		if (off >= src->len)
			return (gsize)-1;
		off = g_utf8_next_char(src->data + off) - src->data;
	}
	if (off > src->len)
		return (gsize)-1;
	src->last_line = line;
	src->last_column = column;
	src->last_off = off;
	return off;
}

/* 1-based line and column of byte @offset (for libyaml's reader errors,
 * which give a byte offset rather than a mark). */
static void source_position(const Source *src, gsize offset, guint *out_line, guint *out_column)
{
	guint line = 0;
	while (line + 1 < src->line_starts->len && g_array_index(src->line_starts, gsize, line + 1) <= offset)
		line++;
	gsize start = g_array_index(src->line_starts, gsize, line);
	gsize end = MIN(offset, src->len);
	/* The bytes may be invalid UTF-8 here (that is often the error), so
	 * count lead bytes rather than trusting g_utf8_next_char. */
	guint column = 1;
	for (gsize i = start; i < end; i++)
		if (((guchar)src->data[i] & 0xC0) != 0x80)
			column++;
	*out_line = line + 1;
	*out_column = column;
}

/* The column where a scalar's text starts, if the source holds exactly
 * that text on one line (plain, or quoted without escapes); else 0. */
static guint scalar_text_column(const Source *src, const yaml_event_t *ev)
{
	const yaml_mark_t *s = &ev->start_mark, *e = &ev->end_mark;
	if (s->line != e->line)
		return 0;
	gsize bs = source_offset(src, s->line, s->column);
	gsize be = source_offset(src, e->line, e->column);
	if (bs == (gsize)-1 || be == (gsize)-1 || be < bs)
		return 0;
	const char *raw = src->data + bs;
	gsize raw_len = be - bs;
	const char *value = (const char *)ev->data.scalar.value;
	gsize len = ev->data.scalar.length;
	switch (ev->data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE:
		return raw_len == len && memcmp(raw, value, len) == 0 ? s->column + 1 : 0;
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		return raw_len == len + 2 && memcmp(raw + 1, value, len) == 0 ? s->column + 2 : 0;
	default:
		return 0;
	}
}

/* ---- loading ---------------------------------------------------------- */

static gboolean throw_at(GError **error, KiteErrorCode code, const char *name, guint line, guint column,
			 const char *fmt, ...) G_GNUC_PRINTF(6, 7);
static gboolean throw_at(GError **error, KiteErrorCode code, const char *name, guint line, guint column,
			 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return kite_throw(error, code, "%s:%u:%u: %s", name, line, column, msg);
}

/* Turn libyaml's error state into one message, with a hint for the
 * mistakes people actually make (tabs, an unquoted ": " in a value). */
static gboolean throw_parser_error(GError **error, const char *name, const yaml_parser_t *p,
				   const Source *src)
{
	guint line, column;

	if (p->error == YAML_MEMORY_ERROR)
		return kite_throw(error, KITE_ERROR_FAILED, "%s: out of memory while reading YAML", name);
	if (p->error == YAML_READER_ERROR) {
		source_position(src, p->problem_offset, &line, &column);
		if (p->problem_value != -1)
			return throw_at(error, KITE_ERROR_INVALID, name, line, column,
					"%s (0x%02X); the file must be UTF-8 text", p->problem,
					(unsigned)p->problem_value);
		return throw_at(error, KITE_ERROR_INVALID, name, line, column, "%s", p->problem);
	}

	const char *problem = p->problem ? p->problem : "malformed YAML";
	const char *hint = "";
	gsize off = source_offset(src, p->problem_mark.line, p->problem_mark.column);
	if (off != (gsize)-1 && off < src->len && src->data[off] == '\t')
		hint = " (YAML does not allow tabs for indentation; use spaces)";
	else if (strstr(problem, "mapping values are not allowed"))
		hint = " (put a value that contains `: ` in quotes)";
	else if (strstr(problem, "did not find expected key"))
		hint = " (check the indentation of this line)";
	else if (strstr(problem, "could not find expected ':'"))
		hint = " (each entry of a mapping is written `key: value`)";

	line = p->problem_mark.line + 1;
	column = p->problem_mark.column + 1;
	/* libyaml notices a missing ':' only on the next line; the line the
	 * user must fix is where the key started. */
	if (p->context && strstr(problem, "could not find expected ':'"))
		return throw_at(error, KITE_ERROR_INVALID, name, (guint)p->context_mark.line + 1,
				(guint)p->context_mark.column + 1, "%s%s", problem, hint);
	if (p->context)
		return throw_at(error, KITE_ERROR_INVALID, name, line, column, "%s, %s at %u:%u%s", problem,
				p->context, (guint)p->context_mark.line + 1,
				(guint)p->context_mark.column + 1, hint);
	return throw_at(error, KITE_ERROR_INVALID, name, line, column, "%s%s", problem, hint);
}

typedef struct {
	KiteYamlDoc *doc;
	const KiteYamlLimits *limits;
	Source src;
	GPtrArray *open; /* containers not yet ended, innermost last; borrowed */
	guint nodes;
	gboolean seen_document;
} Loader;

/* Create a node for @ev and hang it under the innermost open container
 * (or make it the root), so that the tree owns it from the start and an
 * error anywhere frees everything with the document. */
static KiteYamlNode *loader_add(Loader *ld, KiteYamlKind kind, const yaml_event_t *ev, GError **error)
{
	if (++ld->nodes > ld->limits->max_nodes) {
		throw_at(error, KITE_ERROR_LIMIT, ld->doc->name, ev->start_mark.line + 1,
			 ev->start_mark.column + 1, "too many values (at most %u)", ld->limits->max_nodes);
		return NULL;
	}
	KiteYamlNode *node = g_new0(KiteYamlNode, 1);
	node->kind = kind;
	node->line = ev->start_mark.line + 1;
	node->column = ev->start_mark.column + 1;
	if (kind != KITE_YAML_SCALAR)
		node->children = g_ptr_array_new_with_free_func((GDestroyNotify)node_free);
	if (ld->open->len > 0) {
		KiteYamlNode *parent = g_ptr_array_index(ld->open, ld->open->len - 1);
		g_ptr_array_add(parent->children, node);
	} else {
		g_assert(ld->doc->root == NULL);
		ld->doc->root = node;
	}
	return node;
}

/* Handle one event; FALSE with @error set stops the load. */
static gboolean loader_event(Loader *ld, const yaml_event_t *ev, GError **error)
{
	const char *name = ld->doc->name;
	guint line = ev->start_mark.line + 1, column = ev->start_mark.column + 1;
	KiteYamlNode *node;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (ld->seen_document)
			return throw_at(error, KITE_ERROR_INVALID, name, line, column,
					"only one YAML document is allowed (remove the second `---`)");
		ld->seen_document = TRUE;
		return TRUE;
	case YAML_ALIAS_EVENT:
		/* Aliases would let a small file expand into a huge tree. */
		return throw_at(error, KITE_ERROR_INVALID, name, line, column,
				"YAML aliases (`*%s`) are not supported; write the value out",
				(const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
			return throw_at(error, KITE_ERROR_INVALID, name, line, column,
					"NUL characters are not allowed in values");
		node = loader_add(ld, KITE_YAML_SCALAR, ev, error);
		if (!node)
			return FALSE;
		node->value = g_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		node->text_column = scalar_text_column(&ld->src, ev);
		return TRUE;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ld->open->len >= ld->limits->max_depth)
			return throw_at(error, KITE_ERROR_LIMIT, name, line, column,
					"nested too deeply (at most %u levels)", ld->limits->max_depth);
		node = loader_add(
		    ld, ev->type == YAML_MAPPING_START_EVENT ? KITE_YAML_MAPPING : KITE_YAML_SEQUENCE, ev,
		    error);
		if (!node)
			return FALSE;
		g_ptr_array_add(ld->open, node);
		return TRUE;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		g_assert(ld->open->len > 0);
		g_ptr_array_set_size(ld->open, ld->open->len - 1);
		return TRUE;
	default:
		return TRUE;
	}
}

KiteYamlDoc *kite_yaml_load(const char *name, const char *data, gsize len, const KiteYamlLimits *limits,
			    GError **error)
{
	g_return_val_if_fail(name != NULL, NULL);
	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(limits != NULL, NULL);

	if (len > limits->max_size) {
		kite_throw(error, KITE_ERROR_LIMIT,
			   "%s: too large (%" G_GSIZE_FORMAT " bytes; at most %" G_GSIZE_FORMAT ")", name,
			   len, limits->max_size);
		return NULL;
	}

	g_autoptr(KiteYamlDoc) doc = g_new0(KiteYamlDoc, 1);
	doc->name = g_strdup(name);
	Loader ld = {.doc = doc, .limits = limits, .open = g_ptr_array_new()};
	source_init(&ld.src, data ? data : "", len);

	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		g_error("yaml_parser_initialize: out of memory");
	/* Fixed UTF-8: marks are then characters of the UTF-8 source. */
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, (const unsigned char *)(data ? data : ""), len);

	gboolean ok = TRUE, done = FALSE;
	while (ok && !done) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			ok = throw_parser_error(error, name, &parser, &ld.src);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		ok = loader_event(&ld, &ev, error);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	g_ptr_array_unref(ld.open);
	source_clear(&ld.src);
	if (!ok)
		return NULL;

	/* A document that is only `---` or `~` is as empty as no document. */
	if (doc->root && kite_yaml_is_null(doc->root))
		g_clear_pointer(&doc->root, node_free);
	return g_steal_pointer(&doc);
}

/* ---- messages --------------------------------------------------------- */

static gboolean throw_vat(GError **error, const KiteYamlDoc *doc, guint line, guint column, const char *fmt,
			  va_list ap) G_GNUC_PRINTF(5, 0);
static gboolean throw_vat(GError **error, const KiteYamlDoc *doc, guint line, guint column, const char *fmt,
			  va_list ap)
{
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	return kite_throw(error, KITE_ERROR_INVALID, "%s:%u:%u: %s", doc->name, line, column, msg);
}

gboolean kite_yaml_throw(GError **error, const KiteYamlDoc *doc, const KiteYamlNode *node, const char *fmt,
			 ...)
{
	va_list ap;
	va_start(ap, fmt);
	throw_vat(error, doc, node ? node->line : 1, node ? node->column : 1, fmt, ap);
	va_end(ap);
	return FALSE;
}

gboolean kite_yaml_throw_inside(GError **error, const KiteYamlDoc *doc, const KiteYamlNode *node,
				gsize offset, const char *fmt, ...)
{
	guint column = node->column;
	if (node->kind == KITE_YAML_SCALAR && node->text_column) {
		gsize len = strlen(node->value);
		column = node->text_column + (guint)g_utf8_strlen(node->value, MIN(offset, len));
		if (offset > len)
			column += offset - len;
	}
	va_list ap;
	va_start(ap, fmt);
	throw_vat(error, doc, node->line, column, fmt, ap);
	va_end(ap);
	return FALSE;
}

const char *kite_yaml_kind_name(const KiteYamlNode *node)
{
	switch (node->kind) {
	case KITE_YAML_SEQUENCE:
		return "a list";
	case KITE_YAML_MAPPING:
		return "a mapping";
	default:
		return kite_yaml_is_null(node) ? "empty" : "a string";
	}
}

gboolean kite_yaml_is_null(const KiteYamlNode *node)
{
	if (!node || node->kind != KITE_YAML_SCALAR || !node->plain)
		return FALSE;
	const char *v = node->value;
	return v[0] == '\0' || g_str_equal(v, "~") || g_str_equal(v, "null") || g_str_equal(v, "Null") ||
	       g_str_equal(v, "NULL");
}

/* A value as it appears in a message: in backticks, one line, short. */
static char *show(const char *text)
{
	GString *s = g_string_new("`");
	glong n = 0;
	for (const char *p = text; *p; p = g_utf8_next_char(p), n++) {
		if (n == 40) {
			g_string_append(s, "…");
			break;
		}
		if (*p == '\n')
			g_string_append(s, "\\n");
		else if (*p == '\t')
			g_string_append(s, "\\t");
		else
			g_string_append_len(s, p, g_utf8_next_char(p) - p);
	}
	g_string_append_c(s, '`');
	return g_string_free(s, FALSE);
}

/* "`what` must be EXPECTED, not …" for a value of the wrong shape. */
static gboolean throw_wrong(GError **error, const KiteYamlDoc *doc, const KiteYamlNode *node,
			    const char *what, const char *expected)
{
	if (node->kind == KITE_YAML_SCALAR && !kite_yaml_is_null(node)) {
		g_autofree char *v = show(node->value);
		return kite_yaml_throw(error, doc, node, "`%s` must be %s, not %s", what, expected, v);
	}
	return kite_yaml_throw(error, doc, node, "`%s` must be %s, not %s", what, expected,
			       kite_yaml_kind_name(node));
}

/* ---- mappings --------------------------------------------------------- */

guint kite_yaml_mapping_size(const KiteYamlNode *map)
{
	g_return_val_if_fail(map && map->kind == KITE_YAML_MAPPING, 0);
	return map->children->len / 2;
}

const KiteYamlNode *kite_yaml_mapping_key(const KiteYamlNode *map, guint i)
{
	return g_ptr_array_index(map->children, 2 * i);
}

const KiteYamlNode *kite_yaml_mapping_value(const KiteYamlNode *map, guint i)
{
	return g_ptr_array_index(map->children, 2 * i + 1);
}

gboolean kite_yaml_check_keys(const KiteYamlDoc *doc, const KiteYamlNode *map, const char *what,
			      const char *root_hint, const char *const *known, const char *known_hint,
			      GError **error)
{
	if (map->kind != KITE_YAML_MAPPING) {
		if (!what)
			return kite_yaml_throw(error, doc, map, "%s, not %s", root_hint,
					       kite_yaml_kind_name(map));
		return throw_wrong(error, doc, map, what, "a mapping");
	}
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree char *in = what ? g_strdup_printf(" in `%s`", what) : g_strdup("");
	for (guint i = 0; i < kite_yaml_mapping_size(map); i++) {
		const KiteYamlNode *key = kite_yaml_mapping_key(map, i);
		if (key->kind != KITE_YAML_SCALAR || kite_yaml_is_null(key) || key->value[0] == '\0')
			return kite_yaml_throw(
			    error, doc, key, "keys must be words, not %s%s",
			    key->kind == KITE_YAML_SCALAR ? "empty" : kite_yaml_kind_name(key), in);
		const KiteYamlNode *first = g_hash_table_lookup(seen, key->value);
		if (first)
			return kite_yaml_throw(error, doc, key,
					       "duplicate key `%s`%s (first given at line %u)", key->value,
					       in, first->line);
		g_hash_table_insert(seen, key->value, (gpointer)key);
		if (!known || g_strv_contains(known, key->value) ||
		    (key->value[0] == '+' && g_strv_contains(known, KITE_YAML_ANY_PLUS_KEY)))
			continue;
		const char *guess = kite_suggest(key->value, known);
		if (guess && guess[0] != '+')
			return kite_yaml_throw(error, doc, key, "unknown key `%s`%s (did you mean `%s`?)",
					       key->value, in, guess);
		if (known_hint)
			return kite_yaml_throw(error, doc, key, "unknown key `%s`%s (%s)", key->value, in,
					       known_hint);
		return kite_yaml_throw(error, doc, key, "unknown key `%s`%s", key->value, in);
	}
	return TRUE;
}

/* ---- scalar values ---------------------------------------------------- */

gboolean kite_yaml_text_to_int(const char *text, gint64 *out_v)
{
	/* Decimal only: "010" is ten, and "0x10" is a mistake worth
	 * reporting rather than sixteen. */
	const char *p = text;
	if (*p == '-' || *p == '+')
		p++;
	if (!g_ascii_isdigit(*p))
		return FALSE;
	for (const char *q = p; *q; q++)
		if (!g_ascii_isdigit(*q))
			return FALSE;
	errno = 0;
	gint64 v = g_ascii_strtoll(text, NULL, 10);
	if (errno == ERANGE)
		return FALSE;
	*out_v = v;
	return TRUE;
}

gboolean kite_yaml_text_to_bool(const char *text, gboolean *out_v)
{
	static const char *const yes[] = {"true", "yes", "on", NULL};
	static const char *const no[] = {"false", "no", "off", NULL};
	for (guint i = 0; yes[i]; i++) {
		if (g_ascii_strcasecmp(text, yes[i]) == 0) {
			*out_v = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(text, no[i]) == 0) {
			*out_v = FALSE;
			return TRUE;
		}
	}
	return FALSE;
}

/* The text of a non-null scalar, or a "`what` must be EXPECTED" error. */
static const char *scalar_text(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			       const char *expected, GError **error)
{
	if (node->kind != KITE_YAML_SCALAR || kite_yaml_is_null(node)) {
		throw_wrong(error, doc, node, what, expected);
		return NULL;
	}
	return node->value;
}

gboolean kite_yaml_get_string(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			      const char **out_v, GError **error)
{
	const char *text = scalar_text(doc, node, what, "a string", error);
	if (!text)
		return FALSE;
	*out_v = text;
	return TRUE;
}

gboolean kite_yaml_get_int(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what, gint64 min,
			   gint64 max, gint64 *out_v, GError **error)
{
	gint64 v;
	const char *text = scalar_text(doc, node, what, "a whole number", error);
	if (!text)
		return FALSE;
	if (!kite_yaml_text_to_int(text, &v))
		return throw_wrong(error, doc, node, what, "a whole number");
	if (v < min || v > max) {
		g_autofree char *expected =
		    max == G_MAXINT64
			? g_strdup_printf("a whole number of at least %" G_GINT64_FORMAT, min)
			: g_strdup_printf("a whole number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
					  min, max);
		return throw_wrong(error, doc, node, what, expected);
	}
	*out_v = v;
	return TRUE;
}

gboolean kite_yaml_get_bool(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			    gboolean *out_v, GError **error)
{
	gboolean v;
	const char *text = scalar_text(doc, node, what, "true or false", error);
	if (!text)
		return FALSE;
	if (!kite_yaml_text_to_bool(text, &v))
		return throw_wrong(error, doc, node, what, "true or false");
	*out_v = v;
	return TRUE;
}

gboolean kite_yaml_get_duration(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
				double *out_seconds, GError **error)
{
	static const char expected[] =
	    "a duration (a number of seconds, or with a unit ms, s, m, h or d, e.g. 15m)";
	double v;
	const char *text = scalar_text(doc, node, what, expected, error);
	if (!text)
		return FALSE;
	if (!kite_parse_duration(text, &v, NULL))
		return throw_wrong(error, doc, node, what, expected);
	*out_seconds = v;
	return TRUE;
}

gboolean kite_yaml_get_size(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what, guint64 unit,
			    const char *bare_hint, guint64 *out_size, GError **error)
{
	g_autofree char *expected =
	    g_strdup_printf("a size (%s, or with a unit K, M, G or T, e.g. 512M or 2G)", bare_hint);
	guint64 v;
	const char *text = scalar_text(doc, node, what, expected, error);
	if (!text)
		return FALSE;
	if (!kite_parse_size(text, unit, &v, NULL))
		return throw_wrong(error, doc, node, what, expected);
	*out_size = v;
	return TRUE;
}

gboolean kite_yaml_get_expr(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what,
			    KiteExpr **out_expr, GError **error)
{
	const char *text = scalar_text(doc, node, what, "an expression", error);
	if (!text)
		return FALSE;
	guint column = 0;
	g_autoptr(GError) local = NULL;
	KiteExpr *e = kite_expr_parse(text, &column, &local);
	if (!e)
		return kite_yaml_throw_inside(error, doc, node, column ? column - 1 : 0,
					      "bad expression in `%s`: %s", what, local->message);
	*out_expr = e;
	return TRUE;
}

/* ---- lists ------------------------------------------------------------ */

static void item_clear(gpointer p)
{
	KiteYamlItem *item = p;
	g_free(item->text);
}

static GArray *items_new(void)
{
	GArray *items = g_array_new(FALSE, FALSE, sizeof(KiteYamlItem));
	g_array_set_clear_func(items, item_clear);
	return items;
}

GArray *kite_yaml_split_list(const char *text, const KiteYamlNode *node)
{
	GArray *items = items_new();
	const char *p = text;
	for (;;) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		const char *s = p, *e = end;
		while (s < e && g_ascii_isspace(*s))
			s++;
		while (e > s && g_ascii_isspace(e[-1]))
			e--;
		if (e > s) {
			KiteYamlItem item = {g_strndup(s, e - s), node, (gsize)(s - text)};
			g_array_append_val(items, item);
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return items;
}

GArray *kite_yaml_get_list(const KiteYamlDoc *doc, const KiteYamlNode *node, const char *what, GError **error)
{
	if (node->kind == KITE_YAML_SCALAR)
		return kite_yaml_split_list(kite_yaml_is_null(node) ? "" : node->value, node);
	if (node->kind != KITE_YAML_SEQUENCE) {
		throw_wrong(error, doc, node, what, "a list or a comma-separated string");
		return NULL;
	}
	g_autoptr(GArray) items = items_new();
	for (guint i = 0; i < node->children->len; i++) {
		const KiteYamlNode *child = g_ptr_array_index(node->children, i);
		if (child->kind != KITE_YAML_SCALAR || kite_yaml_is_null(child) || child->value[0] == '\0') {
			kite_yaml_throw(error, doc, child, "items of `%s` must be strings, not %s", what,
					child->kind == KITE_YAML_SCALAR ? "empty"
									: kite_yaml_kind_name(child));
			return NULL;
		}
		KiteYamlItem item = {g_strdup(child->value), child, 0};
		g_array_append_val(items, item);
	}
	return g_steal_pointer(&items);
}
