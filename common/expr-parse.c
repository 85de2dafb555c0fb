/* expr-parse.c — the text side of expressions: lexer, recursive-descent
 * parser, printer (kite_expr_to_string, kite_value_to_string), the
 * literal constructors, reference counting and kite_expr_references.
 * Evaluation lives in expr-eval.c; the tree itself in expr-private.h.
 *
 * Everything here treats the text as hostile: the length is capped at
 * KITE_EXPR_MAX_LEN and nesting at KITE_EXPR_MAX_DEPTH, which bounds the
 * parser's recursion and the depth of every tree it builds. */
#include "expr-private.h"

#include <math.h>
#include <string.h>

#include "ad.h"
#include "util.h"

/* ---- functions ---------------------------------------------------- */

static const struct {
	const char *name; /* canonical spelling, used by the printer */
	guint min_args, max_args;
} functions[] = {
    [KITE_FN_IF_THEN_ELSE] = {"ifThenElse", 3, 3},
    [KITE_FN_IS_UNDEFINED] = {"isUndefined", 1, 1},
    [KITE_FN_IS_ERROR] = {"isError", 1, 1},
    [KITE_FN_INT] = {"int", 1, 1},
    [KITE_FN_REAL] = {"real", 1, 1},
    [KITE_FN_STRING] = {"string", 1, 1},
    [KITE_FN_STRCAT] = {"strcat", 0, G_MAXUINT},
    [KITE_FN_TO_LOWER] = {"toLower", 1, 1},
    [KITE_FN_TO_UPPER] = {"toUpper", 1, 1},
    [KITE_FN_SIZE] = {"size", 1, 1},
    [KITE_FN_TIME] = {"time", 0, 0},
};

static const char *const function_names[] = {
    "ifThenElse", "isUndefined", "isError", "int",  "real", "string",
    "strcat",	  "toLower",	 "toUpper", "size", "time", NULL,
};
G_STATIC_ASSERT(G_N_ELEMENTS(function_names) == G_N_ELEMENTS(functions) + 1);

/* Binary operators: their text as printed and their precedence level,
 * 1 (||, loosest) to 6 (* / %, tightest).  0 means "not binary". */
#define LEVEL_MAX 6

static int op_level(KiteOp op)
{
	switch (op) {
	case KITE_OP_OR:
		return 1;
	case KITE_OP_AND:
		return 2;
	case KITE_OP_EQ:
	case KITE_OP_NE:
	case KITE_OP_IS:
	case KITE_OP_ISNT:
		return 3;
	case KITE_OP_LT:
	case KITE_OP_LE:
	case KITE_OP_GT:
	case KITE_OP_GE:
		return 4;
	case KITE_OP_ADD:
	case KITE_OP_SUB:
		return 5;
	case KITE_OP_MUL:
	case KITE_OP_DIV:
	case KITE_OP_MOD:
		return 6;
	case KITE_OP_NEG:
	case KITE_OP_PLUS:
	case KITE_OP_NOT:
		break;
	}
	return 0;
}

static const char *op_text(KiteOp op)
{
	switch (op) {
	case KITE_OP_NEG:
		return "-";
	case KITE_OP_PLUS:
		return "+";
	case KITE_OP_NOT:
		return "!";
	case KITE_OP_OR:
		return "||";
	case KITE_OP_AND:
		return "&&";
	case KITE_OP_EQ:
		return "==";
	case KITE_OP_NE:
		return "!=";
	case KITE_OP_IS:
		return "=?=";
	case KITE_OP_ISNT:
		return "=!=";
	case KITE_OP_LT:
		return "<";
	case KITE_OP_LE:
		return "<=";
	case KITE_OP_GT:
		return ">";
	case KITE_OP_GE:
		return ">=";
	case KITE_OP_ADD:
		return "+";
	case KITE_OP_SUB:
		return "-";
	case KITE_OP_MUL:
		return "*";
	case KITE_OP_DIV:
		return "/";
	case KITE_OP_MOD:
		return "%";
	}
	g_assert_not_reached();
}

/* ---- nodes -------------------------------------------------------- */

static KiteExpr *node_new(KiteNodeKind kind)
{
	KiteExpr *e = g_new0(KiteExpr, 1);
	g_atomic_ref_count_init(&e->ref);
	e->kind = kind;
	return e;
}

KiteExpr *kite_expr_ref(KiteExpr *e)
{
	g_return_val_if_fail(e != NULL, NULL);
	g_atomic_ref_count_inc(&e->ref);
	return e;
}

/* Inner nodes belong to their parent alone (nothing outside this file
 * can reach them), so they are freed without touching their counts.
 * Recursion is bounded: parsed trees are at most a small multiple of
 * KITE_EXPR_MAX_DEPTH deep and the constructors only make leaves. */
static void node_free(KiteExpr *e)
{
	switch ((KiteNodeKind)e->kind) {
	case KITE_NODE_LITERAL:
		kite_value_clear(&e->lit);
		break;
	case KITE_NODE_ATTR:
		g_free(e->attr.name); /* folded shares the allocation */
		break;
	case KITE_NODE_UNARY:
		node_free(e->operand);
		break;
	case KITE_NODE_CHAIN:
		for (guint i = 0; i < e->n; i++)
			node_free(e->chain.operands[i]);
		g_free(e->chain.operands);
		g_free(e->chain.ops);
		break;
	case KITE_NODE_COND:
		node_free(e->cond.cond);
		node_free(e->cond.then);
		node_free(e->cond.otherwise);
		break;
	case KITE_NODE_CALL:
		for (guint i = 0; i < e->n; i++)
			node_free(e->args[i]);
		g_free(e->args);
		break;
	}
	g_free(e);
}

void kite_expr_unref(KiteExpr *e)
{
	if (e != NULL && g_atomic_ref_count_dec(&e->ref))
		node_free(e);
}

KiteExpr *kite_expr_new_int(gint64 v)
{
	KiteExpr *e = node_new(KITE_NODE_LITERAL);
	e->lit.type = KITE_VALUE_INT;
	e->lit.i = v;
	return e;
}

KiteExpr *kite_expr_new_real(double v)
{
	KiteExpr *e = node_new(KITE_NODE_LITERAL);
	e->lit.type = KITE_VALUE_REAL;
	e->lit.r = v;
	return e;
}

KiteExpr *kite_expr_new_bool(gboolean v)
{
	KiteExpr *e = node_new(KITE_NODE_LITERAL);
	e->lit.type = KITE_VALUE_BOOL;
	e->lit.b = !!v;
	return e;
}

KiteExpr *kite_expr_new_string(const char *v)
{
	g_return_val_if_fail(v != NULL, NULL);
	KiteExpr *e = node_new(KITE_NODE_LITERAL);
	e->lit.type = KITE_VALUE_STRING;
	e->lit.s = g_strdup(v);
	return e;
}

static KiteExpr *new_undefined_or_error(KiteValueType type)
{
	KiteExpr *e = node_new(KITE_NODE_LITERAL);
	e->lit.type = type;
	return e;
}

/* Name and its lower-cased copy in one allocation; @len bytes of @name. */
static KiteExpr *new_attr(KiteScope scope, const char *name, gsize len)
{
	KiteExpr *e = node_new(KITE_NODE_ATTR);
	e->op = scope;
	e->attr.name = g_malloc(2 * (len + 1));
	memcpy(e->attr.name, name, len);
	e->attr.name[len] = '\0';
	e->attr.folded = e->attr.name + len + 1;
	for (gsize i = 0; i <= len; i++)
		e->attr.folded[i] = kite_fold_char(e->attr.name[i]);
	return e;
}

GPtrArray *kite_expr_conjuncts(const KiteExpr *e)
{
	g_return_val_if_fail(e != NULL, NULL);
	GPtrArray *out = g_ptr_array_new();
	gboolean all_and = e->kind == KITE_NODE_CHAIN && e->n > 1;
	for (guint i = 0; all_and && i + 1 < e->n; i++)
		all_and = e->chain.ops[i] == KITE_OP_AND;
	if (!all_and) {
		g_ptr_array_add(out, (gpointer)e);
		return out;
	}
	for (guint i = 0; i < e->n; i++)
		g_ptr_array_add(out, e->chain.operands[i]);
	return out;
}

gboolean kite_expr_references(const KiteExpr *e, const char *name)
{
	g_return_val_if_fail(e != NULL && name != NULL, FALSE);
	switch ((KiteNodeKind)e->kind) {
	case KITE_NODE_LITERAL:
		return FALSE;
	case KITE_NODE_ATTR:
		return g_ascii_strcasecmp(e->attr.name, name) == 0;
	case KITE_NODE_UNARY:
		return kite_expr_references(e->operand, name);
	case KITE_NODE_CHAIN:
		for (guint i = 0; i < e->n; i++)
			if (kite_expr_references(e->chain.operands[i], name))
				return TRUE;
		return FALSE;
	case KITE_NODE_COND:
		return kite_expr_references(e->cond.cond, name) || kite_expr_references(e->cond.then, name) ||
		       kite_expr_references(e->cond.otherwise, name);
	case KITE_NODE_CALL:
		for (guint i = 0; i < e->n; i++)
			if (kite_expr_references(e->args[i], name))
				return TRUE;
		return FALSE;
	}
	g_assert_not_reached();
}

void kite_expr_collect_references(const KiteExpr *e, GHashTable *names)
{
	g_return_if_fail(e != NULL && names != NULL);
	switch ((KiteNodeKind)e->kind) {
	case KITE_NODE_LITERAL:
		return;
	case KITE_NODE_ATTR:
		if (!g_hash_table_contains(names, e->attr.folded))
			g_hash_table_add(names, g_strdup(e->attr.folded));
		return;
	case KITE_NODE_UNARY:
		kite_expr_collect_references(e->operand, names);
		return;
	case KITE_NODE_CHAIN:
		for (guint i = 0; i < e->n; i++)
			kite_expr_collect_references(e->chain.operands[i], names);
		return;
	case KITE_NODE_COND:
		kite_expr_collect_references(e->cond.cond, names);
		kite_expr_collect_references(e->cond.then, names);
		kite_expr_collect_references(e->cond.otherwise, names);
		return;
	case KITE_NODE_CALL:
		for (guint i = 0; i < e->n; i++)
			kite_expr_collect_references(e->args[i], names);
		return;
	}
	g_assert_not_reached();
}

/* ---- printer ------------------------------------------------------ */

void kite_expr_format_real(char *buf, gsize size, double r)
{
	if (isnan(r)) {
		g_strlcpy(buf, "nan", size);
		return;
	}
	if (isinf(r)) {
		g_strlcpy(buf, r > 0 ? "inf" : "-inf", size);
		return;
	}
	/* The shortest of %.15g … %.17g that reads back exactly: 0.1 prints
	 * as 0.1, not 0.10000000000000001. */
	static const char *const formats[] = {"%.15g", "%.16g", "%.17g"};
	for (guint k = 0; k < G_N_ELEMENTS(formats); k++) {
		g_ascii_formatd(buf, size, formats[k], r);
		if (g_ascii_strtod(buf, NULL) == r)
			break;
	}
	if (strpbrk(buf, ".e") == NULL)
		g_strlcat(buf, ".0", size);
}

static void append_real(GString *out, double r)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE + 8];
	kite_expr_format_real(buf, sizeof buf, r);
	/* No literal spells a non-finite real, but real() reads one back. */
	if (isnan(r))
		g_string_append(out, "real(\"nan\")");
	else if (isinf(r))
		g_string_append(out, r > 0 ? "real(\"inf\")" : "-real(\"inf\")");
	else
		g_string_append(out, buf);
}

/* A string literal that the lexer reads back byte for byte.  Valid UTF-8
 * is kept as it is; a string that is not valid UTF-8 has its high bytes
 * escaped, so the printed form is always valid UTF-8 (which GVariant
 * strings, and so the wire form of ads, require). */
static void append_string_literal(GString *out, const char *s)
{
	gboolean utf8 = g_utf8_validate(s, -1, NULL);
	g_string_append_c(out, '"');
	for (const guchar *c = (const guchar *)s; *c; c++) {
		switch (*c) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		default:
			if (*c < 0x20 || *c == 0x7f || (*c >= 0x80 && !utf8))
				g_string_append_printf(out, "\\x%02x", *c);
			else
				g_string_append_c(out, (char)*c);
		}
	}
	g_string_append_c(out, '"');
}

static void append_value(GString *out, const KiteValue *v)
{
	switch (v->type) {
	case KITE_VALUE_UNDEFINED:
		g_string_append(out, "undefined");
		return;
	case KITE_VALUE_ERROR:
		g_string_append(out, "error");
		return;
	case KITE_VALUE_BOOL:
		g_string_append(out, v->b ? "true" : "false");
		return;
	case KITE_VALUE_INT:
		g_string_append_printf(out, "%" G_GINT64_FORMAT, v->i);
		return;
	case KITE_VALUE_REAL:
		append_real(out, v->r);
		return;
	case KITE_VALUE_STRING:
		append_string_literal(out, v->s);
		return;
	}
	g_assert_not_reached();
}

char *kite_value_to_string(const KiteValue *v)
{
	g_return_val_if_fail(v != NULL, NULL);
	GString *out = g_string_new(NULL);
	append_value(out, v);
	return g_string_free(out, FALSE);
}

/* How tightly @e binds when printed: 0 for ?:, a binary level 1…6, 7 for
 * a prefix operator (including a literal printed with a leading `-`),
 * 8 for atoms. */
#define PREC_UNARY 7
#define PREC_ATOM  8

static int print_prec(const KiteExpr *e)
{
	switch ((KiteNodeKind)e->kind) {
	case KITE_NODE_COND:
		return 0;
	case KITE_NODE_CHAIN:
		return op_level(e->chain.ops[0]);
	case KITE_NODE_UNARY:
		return PREC_UNARY;
	case KITE_NODE_LITERAL:
		if ((e->lit.type == KITE_VALUE_INT && e->lit.i < 0) ||
		    (e->lit.type == KITE_VALUE_REAL && signbit(e->lit.r) && !isnan(e->lit.r)))
			return PREC_UNARY;
		return PREC_ATOM;
	case KITE_NODE_ATTR:
	case KITE_NODE_CALL:
		return PREC_ATOM;
	}
	g_assert_not_reached();
}

static void print_node(GString *out, const KiteExpr *e);

/* Parenthesize @e when it binds no tighter than @min_prec allows. */
static void print_operand(GString *out, const KiteExpr *e, int min_prec)
{
	if (print_prec(e) < min_prec) {
		g_string_append_c(out, '(');
		print_node(out, e);
		g_string_append_c(out, ')');
	} else {
		print_node(out, e);
	}
}

/* Minimal parentheses, chosen so that parsing the output rebuilds the
 * same tree: an operand of a chain is parenthesized when it is itself a
 * chain of the same or a looser level, since the parser only ever nests
 * those because of parentheses. */
static void print_node(GString *out, const KiteExpr *e)
{
	switch ((KiteNodeKind)e->kind) {
	case KITE_NODE_LITERAL:
		append_value(out, &e->lit);
		return;
	case KITE_NODE_ATTR:
		if (e->op == KITE_SCOPE_MY)
			g_string_append(out, "MY.");
		else if (e->op == KITE_SCOPE_TARGET)
			g_string_append(out, "TARGET.");
		g_string_append(out, e->attr.name);
		return;
	case KITE_NODE_UNARY:
		g_string_append(out, op_text(e->op));
		print_operand(out, e->operand, PREC_UNARY);
		return;
	case KITE_NODE_CHAIN: {
		int level = op_level(e->chain.ops[0]);
		print_operand(out, e->chain.operands[0], level + 1);
		for (guint i = 1; i < e->n; i++) {
			g_string_append_c(out, ' ');
			g_string_append(out, op_text(e->chain.ops[i - 1]));
			g_string_append_c(out, ' ');
			print_operand(out, e->chain.operands[i], level + 1);
		}
		return;
	}
	case KITE_NODE_COND:
		/* ?: groups to the right, so only a ?: condition needs parens. */
		print_operand(out, e->cond.cond, 1);
		g_string_append(out, " ? ");
		print_node(out, e->cond.then);
		g_string_append(out, " : ");
		print_node(out, e->cond.otherwise);
		return;
	case KITE_NODE_CALL:
		g_string_append(out, functions[e->op].name);
		g_string_append_c(out, '(');
		for (guint i = 0; i < e->n; i++) {
			if (i > 0)
				g_string_append(out, ", ");
			print_node(out, e->args[i]);
		}
		g_string_append_c(out, ')');
		return;
	}
	g_assert_not_reached();
}

char *kite_expr_to_string(const KiteExpr *e)
{
	g_return_val_if_fail(e != NULL, NULL);
	GString *out = g_string_new(NULL);
	print_node(out, e);
	return g_string_free(out, FALSE);
}

/* ---- lexer -------------------------------------------------------- */

typedef enum {
	T_END,
	T_INT,
	T_REAL,
	T_STRING,
	T_IDENT,
	T_LPAREN,
	T_RPAREN,
	T_COMMA,
	T_DOT,
	T_QUESTION,
	T_COLON,
	T_NOT,
	T_OP, /* a binary operator in tok.op; + and - are also prefixes */
} TokType;

typedef struct {
	TokType type;
	gsize start, end; /* byte offsets of the token's text */
	KiteOp op;	  /* T_OP */
	guint64 u;	  /* T_INT; may be 2^63, which only `-` can use */
	double r;	  /* T_REAL */
	char *s;	  /* T_STRING, decoded; owned */
} Token;

typedef struct {
	const char *text;
	gsize len;
	gsize pos; /* where the next token starts (after spaces) */
	Token tok; /* the current token */
	guint depth;
	GError *error; /* the first error only */
	gsize error_pos;
} Parser;

/* Record an error at byte @pos (the first one wins); returns NULL so
 * that parse functions can `return fail(…)`. */
static void *fail(Parser *p, gsize pos, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void *fail(Parser *p, gsize pos, const char *fmt, ...)
{
	if (p->error != NULL)
		return NULL;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	p->error = g_error_new_literal(KITE_ERROR, KITE_ERROR_INVALID, msg);
	p->error_pos = pos;
	return NULL;
}

/* `text`, cut to a readable length and made safe to show. */
static char *quote_snippet(const char *s, gsize len)
{
	enum { MAX_SNIPPET = 32 };
	gboolean cut = len > MAX_SNIPPET;
	if (cut)
		len = MAX_SNIPPET;
	g_autofree char *valid = g_utf8_make_valid(s, (gssize)len);
	for (char *c = valid; *c; c++)
		if ((guchar)*c < 0x20)
			*c = ' ';
	return g_strdup_printf("`%s%s`", valid, cut ? "…" : "");
}

static char *describe_token(const Parser *p)
{
	if (p->tok.type == T_END)
		return g_strdup("end of expression");
	return quote_snippet(p->text + p->tok.start, p->tok.end - p->tok.start);
}

static void *fail_expected(Parser *p, const char *what)
{
	g_autofree char *found = describe_token(p);
	return fail(p, p->tok.start, "expected %s but found %s", what, found);
}

static gboolean is_ident_char(char c)
{
	return g_ascii_isalnum(c) || c == '_';
}

static gboolean lex_number(Parser *p, gsize i)
{
	const char *t = p->text;
	gsize j = i;
	gboolean real = FALSE;
	while (g_ascii_isdigit(t[j]))
		j++;
	if (t[j] == '.' && g_ascii_isdigit(t[j + 1])) {
		real = TRUE;
		j++;
		while (g_ascii_isdigit(t[j]))
			j++;
	}
	if (t[j] == 'e' || t[j] == 'E') {
		gsize k = j + 1;
		if (t[k] == '+' || t[k] == '-')
			k++;
		if (g_ascii_isdigit(t[k])) {
			real = TRUE;
			j = k;
			while (g_ascii_isdigit(t[j]))
				j++;
		}
	}
	/* "12abc", "1.", "1e" — not a number followed by something else. */
	if (is_ident_char(t[j]) || t[j] == '.') {
		gsize k = j;
		while (is_ident_char(t[k]) || t[k] == '.')
			k++;
		g_autofree char *snippet = quote_snippet(t + i, k - i);
		fail(p, i, "malformed number %s", snippet);
		return FALSE;
	}
	p->tok.end = j;
	if (real) {
		p->tok.type = T_REAL;
		/* The text is NUL-terminated and the syntax was checked above,
		 * so strtod stops exactly at j. */
		p->tok.r = g_ascii_strtod(t + i, NULL);
		if (isinf(p->tok.r)) {
			g_autofree char *snippet = quote_snippet(t + i, j - i);
			fail(p, i, "real number %s is out of range", snippet);
			return FALSE;
		}
	} else {
		p->tok.type = T_INT;
		guint64 u = 0;
		for (gsize k = i; k < j; k++) {
			guint d = t[k] - '0';
			if (u > (G_MAXUINT64 - d) / 10) {
				u = G_MAXUINT64;
				break;
			}
			u = u * 10 + d;
		}
		p->tok.u = u;
	}
	return TRUE;
}

static int hex_value(char c)
{
	if (g_ascii_isdigit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "…" with C escapes: \n \t \r \a \b \f \v \\ \" \' \ooo (octal, up to
 * three digits) and \xHH (exactly two hex digits).  A NUL cannot be
 * stored in a value, so \0 is refused. */
static gboolean lex_string(Parser *p, gsize i)
{
	const char *t = p->text;
	g_autoptr(GString) s = g_string_new(NULL);
	gsize j = i + 1;
	for (;;) {
		if (j >= p->len) {
			fail(p, i, "unterminated string");
			return FALSE;
		}
		char c = t[j];
		if (c == '"') {
			j++;
			break;
		}
		if (c != '\\') {
			g_string_append_c(s, c);
			j++;
			continue;
		}
		gsize esc = j++;
		if (j >= p->len) {
			fail(p, i, "unterminated string");
			return FALSE;
		}
		int v;
		switch (t[j]) {
		case 'n':
			v = '\n';
			break;
		case 't':
			v = '\t';
			break;
		case 'r':
			v = '\r';
			break;
		case 'a':
			v = '\a';
			break;
		case 'b':
			v = '\b';
			break;
		case 'f':
			v = '\f';
			break;
		case 'v':
			v = '\v';
			break;
		case '\\':
		case '"':
		case '\'':
			v = t[j];
			break;
		case 'x': {
			int hi = hex_value(t[j + 1]), lo = hi < 0 ? -1 : hex_value(t[j + 2]);
			if (hi < 0 || lo < 0) {
				fail(p, esc, "invalid escape in string: `\\x` needs two hex digits");
				return FALSE;
			}
			v = hi * 16 + lo;
			j += 2;
			break;
		}
		default:
			if (t[j] >= '0' && t[j] <= '7') {
				v = 0;
				for (int k = 0; k < 3 && t[j] >= '0' && t[j] <= '7'; k++)
					v = v * 8 + (t[j++] - '0');
				j--;
				if (v > 0xff) {
					fail(p, esc,
					     "invalid escape in string: octal value is larger than \\377");
					return FALSE;
				}
				break;
			}
			gsize n = MIN((gsize)g_utf8_skip[(guchar)t[j]], p->len - j);
			g_autofree char *snippet = quote_snippet(t + esc, j + n - esc);
			fail(p, esc, "invalid escape %s in string", snippet);
			return FALSE;
		}
		if (v == 0) {
			fail(p, esc, "a string cannot contain a NUL character");
			return FALSE;
		}
		g_string_append_c(s, (char)v);
		j++;
	}
	p->tok.type = T_STRING;
	p->tok.end = j;
	p->tok.s = g_string_free(g_steal_pointer(&s), FALSE);
	return TRUE;
}

static gboolean lex_unexpected(Parser *p, gsize i)
{
	const char *c = p->text + i;
	if ((guchar)*c < 0x20 || (guchar)*c == 0x7f) {
		fail(p, i, "unexpected control character 0x%02x", (guchar)*c);
		return FALSE;
	}
	gunichar u = g_utf8_get_char_validated(c, (gssize)(p->len - i));
	if ((guchar)*c >= 0x80 && (u == (gunichar)-1 || u == (gunichar)-2)) {
		fail(p, i, "unexpected byte 0x%02x (not UTF-8 text)", (guchar)*c);
		return FALSE;
	}
	int n = (guchar)*c >= 0x80 ? g_utf8_skip[(guchar)*c] : 1;
	fail(p, i, "unexpected character `%.*s`", n, c);
	return FALSE;
}

/* Read the next token into p->tok.  FALSE (with p->error set) on a
 * lexical error. */
static gboolean advance(Parser *p)
{
	const char *t = p->text;
	g_clear_pointer(&p->tok.s, g_free);
	gsize i = p->pos;
	while (i < p->len && g_ascii_isspace(t[i]))
		i++;
	p->tok.start = i;
	p->tok.end = i + 1;
	if (i >= p->len) {
		p->tok.type = T_END;
		p->tok.end = p->pos = i;
		return TRUE;
	}
	char c = t[i], c1 = t[i + 1], c2 = c1 ? t[i + 2] : '\0';
	gboolean ok = TRUE;
	p->tok.type = T_OP;
	switch (c) {
	case '(':
		p->tok.type = T_LPAREN;
		break;
	case ')':
		p->tok.type = T_RPAREN;
		break;
	case ',':
		p->tok.type = T_COMMA;
		break;
	case '?':
		p->tok.type = T_QUESTION;
		break;
	case ':':
		p->tok.type = T_COLON;
		break;
	case '+':
		p->tok.op = KITE_OP_ADD;
		break;
	case '-':
		p->tok.op = KITE_OP_SUB;
		break;
	case '*':
		p->tok.op = KITE_OP_MUL;
		break;
	case '/':
		p->tok.op = KITE_OP_DIV;
		break;
	case '%':
		p->tok.op = KITE_OP_MOD;
		break;
	case '<':
		p->tok.op = c1 == '=' ? KITE_OP_LE : KITE_OP_LT;
		p->tok.end += c1 == '=';
		break;
	case '>':
		p->tok.op = c1 == '=' ? KITE_OP_GE : KITE_OP_GT;
		p->tok.end += c1 == '=';
		break;
	case '!':
		if (c1 == '=') {
			p->tok.op = KITE_OP_NE;
			p->tok.end++;
		} else {
			p->tok.type = T_NOT;
		}
		break;
	case '=':
		if (c1 == '=') {
			p->tok.op = KITE_OP_EQ;
			p->tok.end++;
		} else if (c1 == '?' && c2 == '=') {
			p->tok.op = KITE_OP_IS;
			p->tok.end += 2;
		} else if (c1 == '!' && c2 == '=') {
			p->tok.op = KITE_OP_ISNT;
			p->tok.end += 2;
		} else {
			fail(p, i, "unexpected `=`; use `==` to compare");
			ok = FALSE;
		}
		break;
	case '&':
		if (c1 == '&') {
			p->tok.op = KITE_OP_AND;
			p->tok.end++;
		} else {
			fail(p, i, "unexpected `&`; use `&&` for \"and\"");
			ok = FALSE;
		}
		break;
	case '|':
		if (c1 == '|') {
			p->tok.op = KITE_OP_OR;
			p->tok.end++;
		} else {
			fail(p, i, "unexpected `|`; use `||` for \"or\"");
			ok = FALSE;
		}
		break;
	case '"':
		ok = lex_string(p, i);
		break;
	case '.':
		if (g_ascii_isdigit(c1))
			ok = lex_number(p, i);
		else
			p->tok.type = T_DOT;
		break;
	default:
		if (g_ascii_isdigit(c)) {
			ok = lex_number(p, i);
		} else if (g_ascii_isalpha(c) || c == '_') {
			gsize j = i + 1;
			while (is_ident_char(t[j]))
				j++;
			p->tok.type = T_IDENT;
			p->tok.end = j;
			/* `is` and `isnt` are the spelled-out =?= and =!=. */
			if (j - i == 2 && g_ascii_strncasecmp(t + i, "is", 2) == 0) {
				p->tok.type = T_OP;
				p->tok.op = KITE_OP_IS;
			} else if (j - i == 4 && g_ascii_strncasecmp(t + i, "isnt", 4) == 0) {
				p->tok.type = T_OP;
				p->tok.op = KITE_OP_ISNT;
			}
		} else {
			ok = lex_unexpected(p, i);
		}
	}
	if (ok)
		p->pos = p->tok.end;
	return ok;
}

/* ---- parser ------------------------------------------------------- */

static KiteExpr *parse_expr(Parser *p);

static gboolean tok_is_word(const Parser *p, const char *word)
{
	gsize n = strlen(word);
	return p->tok.type == T_IDENT && p->tok.end - p->tok.start == n &&
	       g_ascii_strncasecmp(p->text + p->tok.start, word, n) == 0;
}

/* The first non-space character after the current token. */
static char peek_char(const Parser *p)
{
	gsize i = p->pos;
	while (i < p->len && g_ascii_isspace(p->text[i]))
		i++;
	return p->text[i];
}

/* Everything that nests — parentheses, function arguments, ?: branches,
 * prefix operators — goes through here, so the recursion (and the tree)
 * can never be deeper than KITE_EXPR_MAX_DEPTH levels of it. */
static gboolean enter(Parser *p, gsize at)
{
	if (p->depth >= KITE_EXPR_MAX_DEPTH) {
		fail(p, at, "expression is nested more than %d levels deep", KITE_EXPR_MAX_DEPTH);
		return FALSE;
	}
	p->depth++;
	return TRUE;
}

/* A nested expression starting at the current token; an error for
 * nesting too deep points at @at, the byte that opened this level. */
static KiteExpr *parse_nested(Parser *p, gsize at)
{
	if (!enter(p, at))
		return NULL;
	KiteExpr *e = parse_expr(p);
	p->depth--;
	return e;
}

static gboolean expect(Parser *p, TokType type, const char *what)
{
	if (p->tok.type != type) {
		fail_expected(p, what);
		return FALSE;
	}
	return advance(p);
}

static KiteExpr *parse_call(Parser *p)
{
	gsize name_start = p->tok.start, name_len = p->tok.end - p->tok.start;
	const char *name = p->text + name_start;
	int fn = -1;
	for (guint k = 0; k < G_N_ELEMENTS(functions); k++) {
		if (strlen(functions[k].name) == name_len &&
		    g_ascii_strncasecmp(functions[k].name, name, name_len) == 0)
			fn = k;
	}
	if (fn < 0) {
		g_autofree char *word = g_strndup(name, name_len);
		const char *suggestion = kite_suggest(word, function_names);
		if (suggestion)
			return fail(p, name_start, "unknown function `%s`; did you mean `%s`?", word,
				    suggestion);
		return fail(p, name_start, "unknown function `%s`", word);
	}
	if (!advance(p) || !advance(p)) /* the name, then `(` */
		return NULL;

	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func((GDestroyNotify)kite_expr_unref);
	if (p->tok.type != T_RPAREN) {
		for (;;) {
			KiteExpr *arg = parse_nested(p, p->tok.start);
			if (arg == NULL)
				return NULL;
			g_ptr_array_add(args, arg);
			if (p->tok.type == T_RPAREN)
				break;
			if (!expect(p, T_COMMA, "`,` or `)`"))
				return NULL;
		}
	}
	if (!advance(p))
		return NULL;
	if (args->len < functions[fn].min_args || args->len > functions[fn].max_args) {
		guint want = functions[fn].min_args;
		return fail(p, name_start, "function `%s` takes %u argument%s but was given %u",
			    functions[fn].name, want, want == 1 ? "" : "s", args->len);
	}

	KiteExpr *e = node_new(KITE_NODE_CALL);
	e->op = fn;
	e->n = args->len;
	g_ptr_array_set_free_func(args, NULL);
	e->args = (KiteExpr **)g_ptr_array_free(g_steal_pointer(&args), FALSE);
	return e;
}

static KiteExpr *parse_identifier(Parser *p)
{
	static const struct {
		const char *word;
		KiteValueType type;
		gboolean b;
	} keywords[] = {
	    {"true", KITE_VALUE_BOOL, TRUE},
	    {"false", KITE_VALUE_BOOL, FALSE},
	    {"undefined", KITE_VALUE_UNDEFINED, FALSE},
	    {"error", KITE_VALUE_ERROR, FALSE},
	};
	for (guint k = 0; k < G_N_ELEMENTS(keywords); k++) {
		if (tok_is_word(p, keywords[k].word)) {
			if (!advance(p))
				return NULL;
			if (keywords[k].type == KITE_VALUE_BOOL)
				return kite_expr_new_bool(keywords[k].b);
			return new_undefined_or_error(keywords[k].type);
		}
	}

	char next = peek_char(p);
	if (next == '(')
		return parse_call(p);

	KiteScope scope = KITE_SCOPE_ANY;
	if (next == '.' && (tok_is_word(p, "my") || tok_is_word(p, "target"))) {
		scope = tok_is_word(p, "my") ? KITE_SCOPE_MY : KITE_SCOPE_TARGET;
		/* Step over the `.` by hand: the lexer would read "MY.5" as
		 * MY followed by the number .5. */
		while (p->text[p->pos] != '.')
			p->pos++;
		p->pos++;
		if (!advance(p))
			return NULL;
		if (p->tok.type != T_IDENT)
			return fail_expected(p, scope == KITE_SCOPE_MY ? "an attribute name after `MY.`"
								       : "an attribute name after `TARGET.`");
	}
	gsize len = p->tok.end - p->tok.start;
	if (len > KITE_AD_MAX_NAME) {
		g_autofree char *snippet = quote_snippet(p->text + p->tok.start, len);
		return fail(p, p->tok.start, "attribute name %s is longer than %d bytes", snippet,
			    KITE_AD_MAX_NAME);
	}
	KiteExpr *e = new_attr(scope, p->text + p->tok.start, len);
	if (!advance(p)) {
		kite_expr_unref(e);
		return NULL;
	}
	return e;
}

static KiteExpr *parse_primary(Parser *p)
{
	KiteExpr *e;
	switch (p->tok.type) {
	case T_INT:
		if (p->tok.u > G_MAXINT64) {
			g_autofree char *snippet =
			    quote_snippet(p->text + p->tok.start, p->tok.end - p->tok.start);
			return fail(p, p->tok.start,
				    "integer %s is too large (the largest is %" G_GINT64_FORMAT ")", snippet,
				    G_MAXINT64);
		}
		e = kite_expr_new_int((gint64)p->tok.u);
		break;
	case T_REAL:
		e = kite_expr_new_real(p->tok.r);
		break;
	case T_STRING:
		e = node_new(KITE_NODE_LITERAL);
		e->lit.type = KITE_VALUE_STRING;
		e->lit.s = g_steal_pointer(&p->tok.s);
		break;
	case T_IDENT:
		return parse_identifier(p);
	case T_LPAREN: {
		gsize open = p->tok.start;
		if (!advance(p))
			return NULL;
		e = parse_nested(p, open);
		if (e == NULL)
			return NULL;
		if (!expect(p, T_RPAREN, "`)`")) {
			kite_expr_unref(e);
			return NULL;
		}
		return e;
	}
	default:
		return fail_expected(p, "an expression");
	}
	if (!advance(p)) {
		kite_expr_unref(e);
		return NULL;
	}
	return e;
}

/* Prefix - + !.  A sign applied to a number literal is folded into the
 * literal, so that "-5" reads back as the literal that prints as "-5"
 * (and -9223372036854775808 can be written at all). */
static KiteExpr *parse_unary(Parser *p)
{
	KiteOp op;
	if (p->tok.type == T_NOT)
		op = KITE_OP_NOT;
	else if (p->tok.type == T_OP && p->tok.op == KITE_OP_SUB)
		op = KITE_OP_NEG;
	else if (p->tok.type == T_OP && p->tok.op == KITE_OP_ADD)
		op = KITE_OP_PLUS;
	else
		return parse_primary(p);

	if (!enter(p, p->tok.start))
		return NULL;
	KiteExpr *operand = NULL;
	if (!advance(p))
		goto out;
	if (op == KITE_OP_NEG && p->tok.type == T_INT && p->tok.u == (guint64)G_MAXINT64 + 1) {
		operand = kite_expr_new_int(G_MININT64);
		if (!advance(p))
			g_clear_pointer(&operand, kite_expr_unref);
		goto out;
	}
	operand = parse_unary(p);
	if (operand == NULL)
		goto out;

	if (op != KITE_OP_NOT && operand->kind == KITE_NODE_LITERAL) {
		if (operand->lit.type == KITE_VALUE_REAL) {
			if (op == KITE_OP_NEG)
				operand->lit.r = -operand->lit.r;
			goto out;
		}
		if (operand->lit.type == KITE_VALUE_INT &&
		    (op == KITE_OP_PLUS || operand->lit.i != G_MININT64)) {
			if (op == KITE_OP_NEG)
				operand->lit.i = -operand->lit.i;
			goto out;
		}
	}
	KiteExpr *e = node_new(KITE_NODE_UNARY);
	e->op = op;
	e->operand = operand;
	operand = e;
out:
	p->depth--;
	return operand;
}

/* A left-to-right run of binary operators of precedence @level, with
 * operands of the tighter levels. */
static KiteExpr *parse_chain(Parser *p, int level)
{
	if (level > LEVEL_MAX)
		return parse_unary(p);
	g_autoptr(KiteExpr) first = parse_chain(p, level + 1);
	if (first == NULL)
		return NULL;
	if (p->tok.type != T_OP || op_level(p->tok.op) != level)
		return g_steal_pointer(&first);

	/* Grown in place: chains are built for every expression of every ad,
	 * so no temporary arrays. */
	KiteExpr *e = node_new(KITE_NODE_CHAIN);
	guint capacity = 2;
	e->chain.operands = g_new(KiteExpr *, capacity);
	e->chain.ops = g_new(guint8, capacity);
	e->chain.operands[e->n++] = g_steal_pointer(&first);
	while (p->tok.type == T_OP && op_level(p->tok.op) == level) {
		guint8 op = p->tok.op;
		KiteExpr *next = advance(p) ? parse_chain(p, level + 1) : NULL;
		if (next == NULL) {
			kite_expr_unref(e);
			return NULL;
		}
		if (e->n == capacity) {
			capacity *= 2;
			e->chain.operands = g_renew(KiteExpr *, e->chain.operands, capacity);
			e->chain.ops = g_renew(guint8, e->chain.ops, capacity);
		}
		e->chain.ops[e->n - 1] = op;
		e->chain.operands[e->n++] = next;
	}
	return e;
}

/* cond ? a : b, grouping to the right, below every binary operator. */
static KiteExpr *parse_expr(Parser *p)
{
	g_autoptr(KiteExpr) cond = parse_chain(p, 1);
	if (cond == NULL)
		return NULL;
	if (p->tok.type != T_QUESTION)
		return g_steal_pointer(&cond);
	if (!advance(p))
		return NULL;
	g_autoptr(KiteExpr) then = parse_nested(p, p->tok.start);
	if (then == NULL || !expect(p, T_COLON, "`:`"))
		return NULL;
	g_autoptr(KiteExpr) otherwise = parse_nested(p, p->tok.start);
	if (otherwise == NULL)
		return NULL;
	KiteExpr *e = node_new(KITE_NODE_COND);
	e->cond.cond = g_steal_pointer(&cond);
	e->cond.then = g_steal_pointer(&then);
	e->cond.otherwise = g_steal_pointer(&otherwise);
	return e;
}

KiteExpr *kite_expr_parse(const char *text, guint *out_error_column, GError **error)
{
	g_return_val_if_fail(text != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	Parser p = {.text = text, .len = strnlen(text, KITE_EXPR_MAX_LEN + 1)};
	g_autoptr(KiteExpr) e = NULL;
	if (p.len > KITE_EXPR_MAX_LEN) {
		fail(&p, 0, "expression is longer than %d bytes", KITE_EXPR_MAX_LEN);
	} else if (advance(&p)) {
		e = parse_expr(&p);
		if (e != NULL && p.tok.type != T_END) {
			fail_expected(&p, "an operator or end of expression");
			g_clear_pointer(&e, kite_expr_unref);
		}
	}
	g_free(p.tok.s);

	if (e == NULL) {
		g_assert(p.error != NULL);
		if (out_error_column)
			*out_error_column = (guint)p.error_pos + 1;
		g_propagate_error(error, p.error);
		return NULL;
	}
	g_assert(p.error == NULL);
	return g_steal_pointer(&e);
}
