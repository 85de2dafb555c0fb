/* ad.c — KiteAd, an attribute set: names bound to expressions, in
 * insertion order, looked up without regard to case.  Also its two
 * serialized forms: text ("Name = expr" lines, for files and people)
 * and a(ss) GVariants (for the wire), each validated on the way in.
 * Expressions themselves are in expr-parse.c and expr-eval.c. */
#include "ad.h"

#include <math.h>
#include <string.h>

#include "expr-private.h"
#include "util.h"

/* One binding.  The name as first spelled and its lower-cased form share
 * the entry's allocation; the index is keyed by the lower-cased form. */
typedef struct {
	KiteExpr *expr;
	char *folded;
	char name[];
} AdEntry;

/* Ads are built by the hundred thousand (one per job in a queue scan),
 * so an ad is just the ordered entries plus an index over them. */
struct _KiteAd {
	GPtrArray *entries; /* AdEntry *, owned, insertion order */
	GHashTable *index;  /* folded name → AdEntry *, borrowed */
};

static void entry_free(AdEntry *entry)
{
	kite_expr_unref(entry->expr);
	g_free(entry);
}

static AdEntry *entry_new(const char *name, KiteExpr *expr)
{
	gsize len = strlen(name);
	AdEntry *entry = g_malloc(sizeof(AdEntry) + 2 * (len + 1));
	memcpy(entry->name, name, len + 1);
	entry->folded = entry->name + len + 1;
	for (gsize i = 0; i <= len; i++)
		entry->folded[i] = kite_fold_char(name[i]);
	entry->expr = expr;
	return entry;
}

KiteAd *kite_ad_new(void)
{
	KiteAd *ad = g_new(KiteAd, 1);
	ad->entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
	ad->index = g_hash_table_new(g_str_hash, g_str_equal);
	return ad;
}

void kite_ad_free(KiteAd *ad)
{
	if (ad == NULL)
		return;
	g_hash_table_unref(ad->index);
	g_ptr_array_unref(ad->entries);
	g_free(ad);
}

/* Expressions are immutable, so a copy shares them. */
KiteAd *kite_ad_copy(const KiteAd *ad)
{
	g_return_val_if_fail(ad != NULL, NULL);
	KiteAd *copy = kite_ad_new();
	for (guint i = 0; i < ad->entries->len; i++) {
		const AdEntry *entry = g_ptr_array_index(ad->entries, i);
		AdEntry *dup = entry_new(entry->name, kite_expr_ref(entry->expr));
		g_ptr_array_add(copy->entries, dup);
		g_hash_table_insert(copy->index, dup->folded, dup);
	}
	return copy;
}

gboolean kite_ad_name_is_valid(const char *name)
{
	if (name == NULL || !(g_ascii_isalpha(name[0]) || name[0] == '_'))
		return FALSE;
	gsize i = 1;
	for (; name[i]; i++) {
		if (!(g_ascii_isalnum(name[i]) || name[i] == '_') || i >= KITE_AD_MAX_NAME)
			return FALSE;
	}
	return TRUE;
}

/* Lower-case @name into @buf if it fits (valid names always do), else
 * into a new string stored in *@heap. */
static const char *fold_name(const char *name, char buf[KITE_AD_MAX_NAME + 1], char **heap)
{
	gsize len = strnlen(name, KITE_AD_MAX_NAME + 1);
	if (len > KITE_AD_MAX_NAME)
		return *heap = g_ascii_strdown(name, -1);
	for (gsize i = 0; i <= len; i++)
		buf[i] = kite_fold_char(name[i]);
	return buf;
}

static AdEntry *find(const KiteAd *ad, const char *name)
{
	char buf[KITE_AD_MAX_NAME + 1];
	g_autofree char *heap = NULL;
	return g_hash_table_lookup(ad->index, fold_name(name, buf, &heap));
}

KiteExpr *kite_ad_lookup_folded(const KiteAd *ad, const char *folded)
{
	const AdEntry *entry = g_hash_table_lookup(ad->index, folded);
	return entry ? entry->expr : NULL;
}

/* Takes ownership of @e. */
static void bind(KiteAd *ad, const char *name, KiteExpr *e)
{
	AdEntry *entry = find(ad, name);
	if (entry != NULL) {
		kite_expr_unref(entry->expr);
		entry->expr = e;
		return;
	}
	entry = entry_new(name, e);
	g_ptr_array_add(ad->entries, entry);
	g_hash_table_insert(ad->index, entry->folded, entry);
}

void kite_ad_set(KiteAd *ad, const char *name, KiteExpr *e)
{
	g_return_if_fail(ad != NULL && e != NULL);
	g_return_if_fail(kite_ad_name_is_valid(name));
	bind(ad, name, kite_expr_ref(e));
}

/* `name`, shortened and made printable for a message: the names we
 * report on can come from a peer and be anything. */
static char *quote_name(const char *name)
{
	enum { MAX_SHOWN = 40 };
	gsize len = strnlen(name, MAX_SHOWN + 1);
	g_autofree char *valid = g_utf8_make_valid(name, (gssize)MIN(len, MAX_SHOWN));
	for (char *c = valid; *c; c++)
		if ((guchar)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return g_strdup_printf("`%s%s`", valid, len > MAX_SHOWN ? "…" : "");
}

static gboolean throw_bad_name(GError **error, const char *prefix, const char *name)
{
	g_autofree char *quoted = quote_name(name);
	if (name[0] == '\0')
		return kite_throw(error, KITE_ERROR_INVALID, "%sthe attribute name is empty", prefix);
	if (strnlen(name, KITE_AD_MAX_NAME + 1) > KITE_AD_MAX_NAME)
		return kite_throw(error, KITE_ERROR_INVALID, "%sattribute name %s is longer than %d bytes",
				  prefix, quoted, KITE_AD_MAX_NAME);
	return kite_throw(
	    error, KITE_ERROR_INVALID,
	    "%s%s is not a valid attribute name (use letters, digits and _, not starting with a digit)",
	    prefix, quoted);
}

gboolean kite_ad_set_parsed(KiteAd *ad, const char *name, const char *text, GError **error)
{
	g_return_val_if_fail(ad != NULL && name != NULL && text != NULL, FALSE);
	if (!kite_ad_name_is_valid(name))
		return throw_bad_name(error, "", name);
	guint column = 0;
	g_autoptr(GError) local_error = NULL;
	KiteExpr *e = kite_expr_parse(text, &column, &local_error);
	if (e == NULL)
		return kite_throw(error, KITE_ERROR_INVALID, "attribute `%s`, column %u: %s", name, column,
				  local_error->message);
	bind(ad, name, e);
	return TRUE;
}

void kite_ad_set_int(KiteAd *ad, const char *name, gint64 v)
{
	g_return_if_fail(ad != NULL && kite_ad_name_is_valid(name));
	bind(ad, name, kite_expr_new_int(v));
}

void kite_ad_set_real(KiteAd *ad, const char *name, double v)
{
	g_return_if_fail(ad != NULL && kite_ad_name_is_valid(name));
	bind(ad, name, kite_expr_new_real(v));
}

void kite_ad_set_bool(KiteAd *ad, const char *name, gboolean v)
{
	g_return_if_fail(ad != NULL && kite_ad_name_is_valid(name));
	bind(ad, name, kite_expr_new_bool(v));
}

void kite_ad_set_string(KiteAd *ad, const char *name, const char *v)
{
	g_return_if_fail(ad != NULL && kite_ad_name_is_valid(name) && v != NULL);
	bind(ad, name, kite_expr_new_string(v));
}

gboolean kite_ad_remove(KiteAd *ad, const char *name)
{
	g_return_val_if_fail(ad != NULL && name != NULL, FALSE);
	AdEntry *entry = find(ad, name);
	if (entry == NULL)
		return FALSE;
	g_hash_table_remove(ad->index, entry->folded);
	g_ptr_array_remove(ad->entries, entry); /* frees it; keeps the order */
	return TRUE;
}

KiteExpr *kite_ad_lookup(const KiteAd *ad, const char *name)
{
	g_return_val_if_fail(ad != NULL && name != NULL, NULL);
	const AdEntry *entry = find(ad, name);
	return entry ? entry->expr : NULL;
}

guint kite_ad_size(const KiteAd *ad)
{
	g_return_val_if_fail(ad != NULL, 0);
	return ad->entries->len;
}

const char *kite_ad_name_at(const KiteAd *ad, guint i)
{
	g_return_val_if_fail(ad != NULL && i < ad->entries->len, NULL);
	const AdEntry *entry = g_ptr_array_index(ad->entries, i);
	return entry->name;
}

KiteExpr *kite_ad_expr_at(const KiteAd *ad, guint i)
{
	g_return_val_if_fail(ad != NULL && i < ad->entries->len, NULL);
	const AdEntry *entry = g_ptr_array_index(ad->entries, i);
	return entry->expr;
}

/* ---- evaluation --------------------------------------------------- */

void kite_ad_eval(const KiteAd *ad, const char *name, const KiteAd *target, KiteValue *out)
{
	g_return_if_fail(ad != NULL && name != NULL && out != NULL);
	KiteExpr *e = kite_ad_lookup(ad, name);
	if (e == NULL) {
		*out = (KiteValue)KITE_VALUE_INIT;
		return;
	}
	kite_expr_eval(e, ad, target, out);
}

gboolean kite_ad_get_int(const KiteAd *ad, const char *name, gint64 *out_v)
{
	g_return_val_if_fail(out_v != NULL, FALSE);
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(ad, name, NULL, &v);
	if (v.type == KITE_VALUE_INT) {
		*out_v = v.i;
		return TRUE;
	}
	/* An integral real that fits (2^63 itself does not). */
	if (v.type == KITE_VALUE_REAL && v.r == floor(v.r) && v.r >= -9223372036854775808.0 &&
	    v.r < 9223372036854775808.0) {
		*out_v = (gint64)v.r;
		return TRUE;
	}
	kite_value_clear(&v);
	return FALSE;
}

gboolean kite_ad_get_real(const KiteAd *ad, const char *name, double *out_v)
{
	g_return_val_if_fail(out_v != NULL, FALSE);
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(ad, name, NULL, &v);
	if (v.type == KITE_VALUE_REAL || v.type == KITE_VALUE_INT) {
		*out_v = v.type == KITE_VALUE_REAL ? v.r : (double)v.i;
		return TRUE;
	}
	kite_value_clear(&v);
	return FALSE;
}

gboolean kite_ad_get_bool(const KiteAd *ad, const char *name, gboolean *out_v)
{
	g_return_val_if_fail(out_v != NULL, FALSE);
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(ad, name, NULL, &v);
	if (v.type == KITE_VALUE_BOOL) {
		*out_v = v.b;
		return TRUE;
	}
	kite_value_clear(&v);
	return FALSE;
}

gboolean kite_ad_get_string(const KiteAd *ad, const char *name, char **out_v)
{
	g_return_val_if_fail(out_v != NULL, FALSE);
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(ad, name, NULL, &v);
	if (v.type == KITE_VALUE_STRING) {
		*out_v = v.s; /* hand over the value's string */
		return TRUE;
	}
	kite_value_clear(&v);
	return FALSE;
}

/* ---- text form ---------------------------------------------------- */

char *kite_ad_to_text(const KiteAd *ad)
{
	g_return_val_if_fail(ad != NULL, NULL);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < ad->entries->len; i++) {
		const AdEntry *entry = g_ptr_array_index(ad->entries, i);
		g_autofree char *text = kite_expr_to_string(entry->expr);
		g_string_append_printf(out, "%s = %s\n", entry->name, text);
	}
	return g_string_free(out, FALSE);
}

/* One "Name = expression" line (@line is NUL-terminated, without its
 * newline).  Blank and comment lines were skipped by the caller. */
static gboolean parse_line(KiteAd *ad, const char *line, guint lineno, GError **error)
{
	const char *p = line;
	while (g_ascii_isspace(*p))
		p++;
	const char *name = p;
	while (g_ascii_isalnum(*p) || *p == '_')
		p++;
	gsize name_len = p - name;
	g_autofree char *name_copy = g_strndup(name, name_len);
	guint name_col = name - line + 1;
	if (name_len == 0 || g_ascii_isdigit(*name)) {
		g_autofree char *found = quote_name(name);
		return kite_throw(error, KITE_ERROR_INVALID,
				  "line %u, column %u: expected an attribute name but found %s", lineno,
				  name_col, found);
	}
	if (name_len > KITE_AD_MAX_NAME) {
		g_autofree char *prefix = g_strdup_printf("line %u, column %u: ", lineno, name_col);
		return throw_bad_name(error, prefix, name_copy);
	}
	while (g_ascii_isspace(*p))
		p++;
	if (*p != '=' || p[1] == '=') {
		g_autofree char *found = *p ? quote_name(p) : g_strdup("end of line");
		return kite_throw(error, KITE_ERROR_INVALID,
				  "line %u, column %u: expected `=` after attribute name `%s` but found %s",
				  lineno, (guint)(p - line + 1), name_copy, found);
	}
	p++;

	guint column = 0;
	g_autoptr(GError) local_error = NULL;
	KiteExpr *e = kite_expr_parse(p, &column, &local_error);
	if (e == NULL)
		return kite_throw(error, KITE_ERROR_INVALID, "line %u, column %u: %s", lineno,
				  (guint)(p - line) + column, local_error->message);
	bind(ad, name_copy, e);
	return TRUE;
}

KiteAd *kite_ad_parse(const char *text, GError **error)
{
	g_return_val_if_fail(text != NULL, NULL);
	g_autoptr(KiteAd) ad = kite_ad_new();
	guint lineno = 0;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		gsize len = nl ? (gsize)(nl - line) : strlen(line);
		lineno++;
		if (len > 0 && line[len - 1] == '\r') /* tolerate CRLF files */
			len--;
		g_autofree char *copy = g_strndup(line, len);
		line = nl ? nl + 1 : line + strlen(line);

		const char *p = copy;
		while (g_ascii_isspace(*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (!parse_line(ad, copy, lineno, error))
			return NULL;
		if (ad->entries->len > KITE_AD_MAX_ATTRS) {
			kite_throw(error, KITE_ERROR_LIMIT, "line %u: an ad may have at most %d attributes",
				   lineno, KITE_AD_MAX_ATTRS);
			return NULL;
		}
	}
	return g_steal_pointer(&ad);
}

/* ---- wire form ---------------------------------------------------- */

GVariant *kite_ad_to_variant(const KiteAd *ad)
{
	g_return_val_if_fail(ad != NULL, NULL);
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE(KITE_AD_VARIANT_TYPE));
	for (guint i = 0; i < ad->entries->len; i++) {
		const AdEntry *entry = g_ptr_array_index(ad->entries, i);
		/* Valid UTF-8 always: the printer escapes strings that are not. */
		g_autofree char *text = kite_expr_to_string(entry->expr);
		g_variant_builder_add(&builder, "(ss)", entry->name, text);
	}
	return g_variant_builder_end(&builder);
}

/* Everything in @v comes from a peer: check the type, the count, every
 * name (valid, not repeated) and every expression before building. */
KiteAd *kite_ad_from_variant(GVariant *v, GError **error)
{
	g_return_val_if_fail(v != NULL, NULL);
	if (!g_variant_is_of_type(v, G_VARIANT_TYPE(KITE_AD_VARIANT_TYPE))) {
		kite_throw(error, KITE_ERROR_PROTOCOL, "an ad must have type %s, not %s",
			   KITE_AD_VARIANT_TYPE, g_variant_get_type_string(v));
		return NULL;
	}
	gsize n = g_variant_n_children(v);
	if (n > KITE_AD_MAX_ATTRS) {
		kite_throw(error, KITE_ERROR_LIMIT,
			   "the ad has %" G_GSIZE_FORMAT " attributes; at most %d are allowed", n,
			   KITE_AD_MAX_ATTRS);
		return NULL;
	}

	g_autoptr(KiteAd) ad = kite_ad_new();
	for (gsize i = 0; i < n; i++) {
		/* Not g_variant_get_child(): parsing its format string for
		 * every attribute doubles the cost of receiving an ad. */
		g_autoptr(GVariant) pair = g_variant_get_child_value(v, i);
		g_autoptr(GVariant) name_v = g_variant_get_child_value(pair, 0);
		g_autoptr(GVariant) text_v = g_variant_get_child_value(pair, 1);
		const char *name = g_variant_get_string(name_v, NULL);
		const char *text = g_variant_get_string(text_v, NULL);
		if (!kite_ad_name_is_valid(name)) {
			g_autofree char *prefix = g_strdup_printf("attribute %" G_GSIZE_FORMAT ": ", i + 1);
			throw_bad_name(error, prefix, name);
			return NULL;
		}
		if (find(ad, name) != NULL) {
			kite_throw(error, KITE_ERROR_INVALID, "attribute `%s` appears more than once", name);
			return NULL;
		}
		guint column = 0;
		g_autoptr(GError) local_error = NULL;
		KiteExpr *e = kite_expr_parse(text, &column, &local_error);
		if (e == NULL) {
			kite_throw(error, KITE_ERROR_INVALID, "attribute `%s`, column %u: %s", name, column,
				   local_error->message);
			return NULL;
		}
		bind(ad, name, e);
	}
	return g_steal_pointer(&ad);
}
