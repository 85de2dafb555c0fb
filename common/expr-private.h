/* expr-private.h — the expression tree shared by expr-parse.c (lexer,
 * parser, printer), expr-eval.c (evaluation) and ad.c (the lookup the
 * evaluator uses).  Nothing outside those three files includes this;
 * everyone else sees KiteExpr as opaque through expr.h. */
#pragma once

#include "expr.h"

G_BEGIN_DECLS

typedef enum {
	KITE_NODE_LITERAL,
	KITE_NODE_ATTR,
	KITE_NODE_UNARY,
	KITE_NODE_CHAIN,
	KITE_NODE_COND,
	KITE_NODE_CALL,
} KiteNodeKind;

/* Operators.  Binary operators are grouped into precedence levels (see
 * kite_op_level()); a run of operators of one level, such as a + b - c,
 * is a single KITE_NODE_CHAIN folded left to right.  Keeping chains flat
 * means a long `Name == "a" || Name == "b" || …` list costs no stack
 * depth to print or evaluate. */
typedef enum {
	KITE_OP_NEG,
	KITE_OP_PLUS,
	KITE_OP_NOT,
	KITE_OP_OR,
	KITE_OP_AND,
	KITE_OP_EQ,
	KITE_OP_NE,
	KITE_OP_IS,
	KITE_OP_ISNT,
	KITE_OP_LT,
	KITE_OP_LE,
	KITE_OP_GT,
	KITE_OP_GE,
	KITE_OP_ADD,
	KITE_OP_SUB,
	KITE_OP_MUL,
	KITE_OP_DIV,
	KITE_OP_MOD,
} KiteOp;

typedef enum {
	KITE_SCOPE_ANY, /* bare Name: MY, then TARGET */
	KITE_SCOPE_MY,
	KITE_SCOPE_TARGET,
} KiteScope;

typedef enum {
	KITE_FN_IF_THEN_ELSE,
	KITE_FN_IS_UNDEFINED,
	KITE_FN_IS_ERROR,
	KITE_FN_INT,
	KITE_FN_REAL,
	KITE_FN_STRING,
	KITE_FN_STRCAT,
	KITE_FN_TO_LOWER,
	KITE_FN_TO_UPPER,
	KITE_FN_SIZE,
	KITE_FN_TIME,
} KiteFunc;

/* Nodes are immutable once built, so a whole tree is shared by
 * reference (ads are copied by taking references).  Only the root's
 * count matters to users; inner nodes are owned by their parent. */
struct _KiteExpr {
	gatomicrefcount ref;
	guint8 kind; /* KiteNodeKind */
	guint8 op;   /* KiteOp (unary), KiteScope (attr), KiteFunc (call) */
	guint n;     /* chain: operands; call: arguments */
	union {
		KiteValue lit;
		struct {
			char *name;   /* as written */
			char *folded; /* lower-cased, for ad lookup */
		} attr;
		KiteExpr *operand; /* unary */
		struct {
			KiteExpr **operands; /* n of them */
			guint8 *ops;	     /* n - 1 KiteOps; ops[i] joins operands i, i+1 */
		} chain;
		struct {
			KiteExpr *cond, *then, *otherwise;
		} cond;
		KiteExpr **args; /* call */
	};
};

/* Format a real so that g_ascii_strtod gives it back exactly, always
 * with a `.` or exponent so it reads back as a real ("inf", "-inf" and
 * "nan" for the non-finite ones).  @buf needs 32 bytes. */
void kite_expr_format_real(char *buf, gsize size, double r);

/* ASCII lower case, inline: names are folded on every ad lookup, and
 * g_ascii_tolower() is an out-of-line call. */
static inline char kite_fold_char(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* The expression bound to @folded, an already lower-cased name, or NULL.
 * Lets the evaluator skip lower-casing on every lookup. */
KiteExpr *kite_ad_lookup_folded(const KiteAd *ad, const char *folded);

G_END_DECLS
