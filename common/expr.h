/* expr.h — Kite's ClassAd-like expression language (DESIGN.md §6).
 *
 * Values: undefined, error, booleans, integers (64-bit), reals, strings.
 * Operators, high to low precedence: unary - + !; * / %; + -;
 * < <= > >=; == != =?= =!= (also `is`, `isnt`); &&; ||; and ?: .
 * Literals: 12, 1.5, 1e3, "text" (C escapes), true, false, undefined,
 * error (all keywords case-insensitive).  Attribute references: Name,
 * MY.Name, TARGET.Name (names case-insensitive).  A few functions:
 * ifThenElse, isUndefined, isError, int, real, string, strcat,
 * toLower, toUpper, size, time (now, Unix seconds).
 *
 * Semantics follow ClassAds: == and arithmetic on undefined give
 * undefined, on mismatched types give error; =?= / =!= never give
 * undefined (undefined =?= undefined is true); && and || are
 * non-strict (false && undefined is false, true || error is true);
 * string == is case-insensitive, =?= is case-sensitive.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KiteAd KiteAd;

typedef enum {
	KITE_VALUE_UNDEFINED = 0,
	KITE_VALUE_ERROR,
	KITE_VALUE_BOOL,
	KITE_VALUE_INT,
	KITE_VALUE_REAL,
	KITE_VALUE_STRING,
} KiteValueType;

typedef struct {
	KiteValueType type;
	union {
		gboolean b;
		gint64 i;
		double r;
		char *s; /* owned by the value */
	};
} KiteValue;

#define KITE_VALUE_INIT                                                                                      \
	{                                                                                                    \
		.type = KITE_VALUE_UNDEFINED                                                                 \
	}

/* Free what @v owns and reset it to undefined. */
void kite_value_clear(KiteValue *v);
/* The value as an expression literal: 3, 2.5, "a\"b", true, undefined. */
char *kite_value_to_string(const KiteValue *v);
/* TRUE only for a boolean true or a non-zero number (ClassAd truthiness
 * in Requirements: undefined and error count as false). */
gboolean kite_value_is_true(const KiteValue *v);

typedef struct _KiteExpr KiteExpr;

/* Longest expression text accepted and deepest nesting, so that nothing
 * a peer sends can exhaust memory or the stack. */
#define KITE_EXPR_MAX_LEN   (64 * 1024)
#define KITE_EXPR_MAX_DEPTH 200

/* Parse @text into an expression.  On failure returns NULL, sets @error
 * (KITE_ERROR_INVALID) to a message such as "expected `)` but found end
 * of expression" and, if @out_error_column is not NULL, writes the
 * 1-based column (in bytes) where the problem is.  The message does not
 * itself contain the column, so callers can place it in a file. */
KiteExpr *kite_expr_parse(const char *text, guint *out_error_column, GError **error);
KiteExpr *kite_expr_ref(KiteExpr *e);
void kite_expr_unref(KiteExpr *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteExpr, kite_expr_unref)

/* Expression literals. */
KiteExpr *kite_expr_new_int(gint64 v);
KiteExpr *kite_expr_new_real(double v);
KiteExpr *kite_expr_new_bool(gboolean v);
KiteExpr *kite_expr_new_string(const char *v);

/* Print @e back in canonical form; parsing the result gives an
 * equivalent expression.  Newly allocated. */
char *kite_expr_to_string(const KiteExpr *e);

/* TRUE if @e mentions attribute @name (in any scope, case-insensitive). */
gboolean kite_expr_references(const KiteExpr *e, const char *name);
/* Add to @names (a set of g_strdup'd strings, g_str_hash) the
 * lower-cased name of every attribute @e mentions, in any scope. */
void kite_expr_collect_references(const KiteExpr *e, GHashTable *names);

/* The operands of @e's top-level `&&` chain, or @e alone when its top
 * is something else: the clauses of a Requirements, for explaining
 * which one fails.  The array (free it) holds borrowed pointers, valid
 * while @e lives; they are not references (inner nodes have none). */
GPtrArray *kite_expr_conjuncts(const KiteExpr *e);

/* Evaluate @e with @my as MY and @target as TARGET (either may be NULL).
 * Writes the result to @out (which must be cleared by the caller). */
void kite_expr_eval(const KiteExpr *e, const KiteAd *my, const KiteAd *target, KiteValue *out);

G_END_DECLS
