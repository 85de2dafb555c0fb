/* expr-eval.c — evaluating expressions with ClassAd semantics, and the
 * KiteValue helpers.  Parsing and printing live in expr-parse.c.
 *
 * The rules, in short (expr.h has the overview):
 *   - arithmetic and comparisons: error if either side is error, else
 *     undefined if either is undefined, else error on mismatched types;
 *     int op real promotes to real; integer overflow, division or modulo
 *     by zero (integer or real) give error;
 *   - == != < <= > >= on strings ignore ASCII case; =?= =!= compare type
 *     and value exactly (case-sensitive) and are never undefined;
 *   - && || ! ?: treat numbers as booleans (non-zero is true) and
 *     strings as error; && and || are non-strict: false && x is false
 *     and true || x is true whatever x is (x is not even evaluated);
 *   - a bare Name is looked up in MY, then TARGET; an attribute found in
 *     TARGET is evaluated with MY and TARGET swapped, so its own bare
 *     names refer to its own ad first.
 *
 * An ad from a peer may be hostile (A = B, B = A; or A1 = A2 + A2, A2 =
 * A3 + A3, … which doubles the work per level), so every evaluation has a
 * bounded depth, a bounded attribute nesting and a bounded number of
 * steps; running out of any of them gives error, never a crash or hang. */
#include "expr-private.h"

#include <math.h>
#include <string.h>

/* Deepest recursion: parsed trees are at most a few thousand nodes deep,
 * and this bounds their nesting through attribute references. */
#define EVAL_MAX_DEPTH 4096
/* Attribute references followed within one evaluation; a cycle stops here. */
#define EVAL_MAX_ATTR_DEPTH 100
/* Nodes evaluated (plus one per 16 bytes of strings built) per call. */
#define EVAL_BUDGET (1u << 20)
/* Longest string a computation may build. */
#define EVAL_MAX_STRING (1024 * 1024)

typedef struct {
	guint depth;
	guint attr_depth;
	guint budget; /* steps left */
} EvalCtx;

void kite_value_clear(KiteValue *v)
{
	if (v == NULL)
		return;
	if (v->type == KITE_VALUE_STRING)
		g_free(v->s);
	v->type = KITE_VALUE_UNDEFINED;
	v->i = 0;
}

gboolean kite_value_is_true(const KiteValue *v)
{
	g_return_val_if_fail(v != NULL, FALSE);
	switch (v->type) {
	case KITE_VALUE_BOOL:
		return v->b;
	case KITE_VALUE_INT:
		return v->i != 0;
	case KITE_VALUE_REAL:
		return v->r != 0.0 && !isnan(v->r);
	case KITE_VALUE_UNDEFINED:
	case KITE_VALUE_ERROR:
	case KITE_VALUE_STRING:
		break;
	}
	return FALSE;
}

/* ---- value helpers ------------------------------------------------ */

/* Each of these writes to an @out that holds nothing (undefined). */
static void set_error(KiteValue *out)
{
	out->type = KITE_VALUE_ERROR;
}

static void set_bool(KiteValue *out, gboolean b)
{
	out->type = KITE_VALUE_BOOL;
	out->b = !!b;
}

static void set_int(KiteValue *out, gint64 i)
{
	out->type = KITE_VALUE_INT;
	out->i = i;
}

static void set_real(KiteValue *out, double r)
{
	out->type = KITE_VALUE_REAL;
	out->r = r;
}

/* Takes ownership of @s (@len bytes).  Building strings costs budget in
 * proportion to their size, so doubling a string per step cannot run
 * away with memory or time. */
static void set_string(EvalCtx *ctx, KiteValue *out, char *s, gsize len)
{
	if (len > EVAL_MAX_STRING) {
		g_free(s);
		set_error(out);
		return;
	}
	ctx->budget -= MIN(ctx->budget, (guint)(len / 16));
	out->type = KITE_VALUE_STRING;
	out->s = s;
}

static gboolean is_number(const KiteValue *v)
{
	return v->type == KITE_VALUE_INT || v->type == KITE_VALUE_REAL;
}

static double as_real(const KiteValue *v)
{
	return v->type == KITE_VALUE_INT ? (double)v->i : v->r;
}

/* Three-valued logic plus error, for && || ! ?: and ifThenElse. */
typedef enum { TRI_FALSE, TRI_TRUE, TRI_UNDEFINED, TRI_ERROR } Tri;

static Tri to_tri(const KiteValue *v)
{
	switch (v->type) {
	case KITE_VALUE_BOOL:
		return v->b ? TRI_TRUE : TRI_FALSE;
	case KITE_VALUE_INT:
	case KITE_VALUE_REAL:
		return kite_value_is_true(v) ? TRI_TRUE : TRI_FALSE;
	case KITE_VALUE_UNDEFINED:
		return TRI_UNDEFINED;
	case KITE_VALUE_ERROR:
	case KITE_VALUE_STRING:
		break;
	}
	return TRI_ERROR;
}

static void set_tri(KiteValue *out, Tri t)
{
	if (t == TRI_FALSE || t == TRI_TRUE)
		set_bool(out, t == TRI_TRUE);
	else if (t == TRI_ERROR)
		set_error(out);
}

/* The text string() gives for a defined, non-error value. */
static void append_text(GString *s, const KiteValue *v)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE + 8];
	switch (v->type) {
	case KITE_VALUE_BOOL:
		g_string_append(s, v->b ? "true" : "false");
		break;
	case KITE_VALUE_INT:
		g_string_append_printf(s, "%" G_GINT64_FORMAT, v->i);
		break;
	case KITE_VALUE_REAL:
		kite_expr_format_real(buf, sizeof buf, v->r);
		g_string_append(s, buf);
		break;
	case KITE_VALUE_STRING:
		g_string_append(s, v->s);
		break;
	case KITE_VALUE_UNDEFINED:
	case KITE_VALUE_ERROR:
		g_assert_not_reached();
	}
}

/* ---- operators ---------------------------------------------------- */

static void int_arithmetic(KiteOp op, gint64 x, gint64 y, KiteValue *out)
{
	gint64 r;
	gboolean ok;
	switch (op) {
	case KITE_OP_ADD:
		ok = !__builtin_add_overflow(x, y, &r);
		break;
	case KITE_OP_SUB:
		ok = !__builtin_sub_overflow(x, y, &r);
		break;
	case KITE_OP_MUL:
		ok = !__builtin_mul_overflow(x, y, &r);
		break;
	case KITE_OP_DIV:
		/* G_MININT64 / -1 does not fit (and traps on x86). */
		ok = y != 0 && !(x == G_MININT64 && y == -1);
		r = ok ? x / y : 0;
		break;
	case KITE_OP_MOD:
		ok = y != 0;
		r = ok && y != -1 ? x % y : 0;
		break;
	default:
		g_assert_not_reached();
	}
	if (ok)
		set_int(out, r);
	else
		set_error(out);
}

static void real_arithmetic(KiteOp op, double x, double y, KiteValue *out)
{
	switch (op) {
	case KITE_OP_ADD:
		set_real(out, x + y);
		break;
	case KITE_OP_SUB:
		set_real(out, x - y);
		break;
	case KITE_OP_MUL:
		set_real(out, x * y);
		break;
	case KITE_OP_DIV:
	case KITE_OP_MOD:
		/* Division by zero is error for reals too, as in HTCondor,
		 * rather than an infinity that would then rank first. */
		if (y == 0.0)
			set_error(out);
		else
			set_real(out, op == KITE_OP_DIV ? x / y : fmod(x, y));
		break;
	default:
		g_assert_not_reached();
	}
}

static void arithmetic(KiteOp op, const KiteValue *a, const KiteValue *b, KiteValue *out)
{
	if (a->type == KITE_VALUE_ERROR || b->type == KITE_VALUE_ERROR)
		set_error(out);
	else if (a->type == KITE_VALUE_UNDEFINED || b->type == KITE_VALUE_UNDEFINED)
		; /* undefined, as @out already is */
	else if (!is_number(a) || !is_number(b))
		set_error(out);
	else if (a->type == KITE_VALUE_INT && b->type == KITE_VALUE_INT)
		int_arithmetic(op, a->i, b->i, out);
	else
		real_arithmetic(op, as_real(a), as_real(b), out);
}

/* <0, 0 or >0 as @a is less than, equal to or greater than @b; 0 with
 * *out_unordered set when either is NaN. */
static int compare_numbers(const KiteValue *a, const KiteValue *b, gboolean *out_unordered)
{
	*out_unordered = FALSE;
	if (a->type == KITE_VALUE_INT && b->type == KITE_VALUE_INT)
		return (a->i > b->i) - (a->i < b->i);
	double x = as_real(a), y = as_real(b);
	*out_unordered = isnan(x) || isnan(y);
	return (x > y) - (x < y);
}

/* == != < <= > >=. */
static void compare(KiteOp op, const KiteValue *a, const KiteValue *b, KiteValue *out)
{
	gboolean unordered = FALSE;
	int c;
	if (a->type == KITE_VALUE_ERROR || b->type == KITE_VALUE_ERROR) {
		set_error(out);
		return;
	}
	if (a->type == KITE_VALUE_UNDEFINED || b->type == KITE_VALUE_UNDEFINED)
		return;
	if (is_number(a) && is_number(b)) {
		c = compare_numbers(a, b, &unordered);
	} else if (a->type == KITE_VALUE_STRING && b->type == KITE_VALUE_STRING) {
		c = g_ascii_strcasecmp(a->s, b->s);
	} else if (a->type == KITE_VALUE_BOOL && b->type == KITE_VALUE_BOOL &&
		   (op == KITE_OP_EQ || op == KITE_OP_NE)) {
		c = a->b != b->b;
	} else {
		set_error(out);
		return;
	}

	switch (op) {
	case KITE_OP_EQ:
		set_bool(out, !unordered && c == 0);
		break;
	case KITE_OP_NE:
		set_bool(out, unordered || c != 0);
		break;
	case KITE_OP_LT:
		set_bool(out, !unordered && c < 0);
		break;
	case KITE_OP_LE:
		set_bool(out, !unordered && c <= 0);
		break;
	case KITE_OP_GT:
		set_bool(out, !unordered && c > 0);
		break;
	case KITE_OP_GE:
		set_bool(out, !unordered && c >= 0);
		break;
	default:
		g_assert_not_reached();
	}
}

/* =?= : same type and same value; 1 =?= 1.0 is false. */
static gboolean identical(const KiteValue *a, const KiteValue *b)
{
	if (a->type != b->type)
		return FALSE;
	switch (a->type) {
	case KITE_VALUE_UNDEFINED:
	case KITE_VALUE_ERROR:
		return TRUE;
	case KITE_VALUE_BOOL:
		return a->b == b->b;
	case KITE_VALUE_INT:
		return a->i == b->i;
	case KITE_VALUE_REAL:
		return a->r == b->r || (isnan(a->r) && isnan(b->r));
	case KITE_VALUE_STRING:
		return strcmp(a->s, b->s) == 0;
	}
	g_assert_not_reached();
}

static void binary(KiteOp op, const KiteValue *a, const KiteValue *b, KiteValue *out)
{
	switch (op) {
	case KITE_OP_IS:
		set_bool(out, identical(a, b));
		break;
	case KITE_OP_ISNT:
		set_bool(out, !identical(a, b));
		break;
	case KITE_OP_EQ:
	case KITE_OP_NE:
	case KITE_OP_LT:
	case KITE_OP_LE:
	case KITE_OP_GT:
	case KITE_OP_GE:
		compare(op, a, b, out);
		break;
	default:
		arithmetic(op, a, b, out);
	}
}

/* a && b once a is known not to decide the result (true or undefined),
 * and likewise a || b (false or undefined). */
static Tri logic(KiteOp op, Tri a, Tri b)
{
	if (b == TRI_ERROR)
		return TRI_ERROR;
	if (op == KITE_OP_AND) {
		if (a == TRI_TRUE || b == TRI_FALSE)
			return b;
		return TRI_UNDEFINED;
	}
	if (a == TRI_FALSE || b == TRI_TRUE)
		return b;
	return TRI_UNDEFINED;
}

/* ---- the evaluator ------------------------------------------------ */

static void eval(const KiteExpr *e, const KiteAd *my, const KiteAd *target, EvalCtx *ctx, KiteValue *out);

/* Evaluate the definition of an attribute found in @home. */
static void eval_definition(const KiteExpr *def, const KiteAd *home, const KiteAd *other, EvalCtx *ctx,
			    KiteValue *out)
{
	if (ctx->attr_depth >= EVAL_MAX_ATTR_DEPTH) {
		set_error(out);
		return;
	}
	ctx->attr_depth++;
	eval(def, home, other, ctx, out);
	ctx->attr_depth--;
}

static void eval_attr(const KiteExpr *e, const KiteAd *my, const KiteAd *target, EvalCtx *ctx, KiteValue *out)
{
	KiteExpr *def;
	if (e->op != KITE_SCOPE_TARGET && my != NULL &&
	    (def = kite_ad_lookup_folded(my, e->attr.folded)) != NULL) {
		eval_definition(def, my, target, ctx, out);
		return;
	}
	/* Found in TARGET: evaluate there with the roles swapped, so that its
	 * bare names (and MY.) mean the target ad. */
	if (e->op != KITE_SCOPE_MY && target != NULL &&
	    (def = kite_ad_lookup_folded(target, e->attr.folded)) != NULL) {
		eval_definition(def, target, my, ctx, out);
		return;
	}
	/* Absent: undefined, which @out already is. */
}

static void eval_unary(const KiteExpr *e, const KiteAd *my, const KiteAd *target, EvalCtx *ctx,
		       KiteValue *out)
{
	KiteValue v = KITE_VALUE_INIT;
	eval(e->operand, my, target, ctx, &v);
	switch (e->op) {
	case KITE_OP_NOT: {
		Tri t = to_tri(&v);
		set_tri(out, t == TRI_TRUE ? TRI_FALSE : t == TRI_FALSE ? TRI_TRUE : t);
		break;
	}
	case KITE_OP_NEG:
	case KITE_OP_PLUS:
		if (v.type == KITE_VALUE_UNDEFINED)
			break;
		if (v.type == KITE_VALUE_INT && !(e->op == KITE_OP_NEG && v.i == G_MININT64))
			set_int(out, e->op == KITE_OP_NEG ? -v.i : v.i);
		else if (v.type == KITE_VALUE_REAL)
			set_real(out, e->op == KITE_OP_NEG ? -v.r : v.r);
		else
			set_error(out);
		break;
	default:
		g_assert_not_reached();
	}
	kite_value_clear(&v);
}

/* A run of same-level binary operators, folded left to right.  && and ||
 * stop at the first operand that decides the result. */
static void eval_chain(const KiteExpr *e, const KiteAd *my, const KiteAd *target, EvalCtx *ctx,
		       KiteValue *out)
{
	KiteValue acc = KITE_VALUE_INIT;
	eval(e->chain.operands[0], my, target, ctx, &acc);
	for (guint i = 1; i < e->n; i++) {
		KiteOp op = e->chain.ops[i - 1];
		KiteValue rhs = KITE_VALUE_INIT;
		if (op == KITE_OP_AND || op == KITE_OP_OR) {
			Tri a = to_tri(&acc);
			kite_value_clear(&acc);
			if (a == TRI_ERROR || a == (op == KITE_OP_AND ? TRI_FALSE : TRI_TRUE)) {
				set_tri(&acc, a);
				break;
			}
			eval(e->chain.operands[i], my, target, ctx, &rhs);
			set_tri(&acc, logic(op, a, to_tri(&rhs)));
			kite_value_clear(&rhs);
			continue;
		}
		KiteValue result = KITE_VALUE_INIT;
		eval(e->chain.operands[i], my, target, ctx, &rhs);
		binary(op, &acc, &rhs, &result);
		kite_value_clear(&acc);
		kite_value_clear(&rhs);
		acc = result;
	}
	*out = acc;
}

/* cond ? then : otherwise, and ifThenElse(). */
static void eval_if(const KiteExpr *cond, const KiteExpr *then, const KiteExpr *otherwise, const KiteAd *my,
		    const KiteAd *target, EvalCtx *ctx, KiteValue *out)
{
	KiteValue c = KITE_VALUE_INIT;
	eval(cond, my, target, ctx, &c);
	Tri t = to_tri(&c);
	kite_value_clear(&c);
	if (t == TRI_TRUE)
		eval(then, my, target, ctx, out);
	else if (t == TRI_FALSE)
		eval(otherwise, my, target, ctx, out);
	else
		set_tri(out, t);
}

/* A whole string as a number: "12", "-3", "2.5", "1e3", "inf".  Leading
 * or trailing spaces, or anything else, make it not one. */
static gboolean parse_number(const char *s, KiteValue *out)
{
	gint64 i;
	if (g_ascii_string_to_signed(s, 10, G_MININT64, G_MAXINT64, &i, NULL)) {
		set_int(out, i);
		return TRUE;
	}
	char *end;
	if (*s == '\0' || g_ascii_isspace(*s))
		return FALSE;
	double r = g_ascii_strtod(s, &end);
	if (*end != '\0')
		return FALSE;
	set_real(out, r);
	return TRUE;
}

/* int(): truncates reals toward zero; "3.7" gives 3. */
static void convert_int(const KiteValue *v, KiteValue *out)
{
	KiteValue n = KITE_VALUE_INIT;
	switch (v->type) {
	case KITE_VALUE_UNDEFINED:
		break;
	case KITE_VALUE_BOOL:
		set_int(out, v->b);
		break;
	case KITE_VALUE_INT:
		set_int(out, v->i);
		break;
	case KITE_VALUE_REAL:
		/* 2^63 itself does not fit. */
		if (isnan(v->r) || v->r >= 9223372036854775808.0 || v->r < -9223372036854775808.0)
			set_error(out);
		else
			set_int(out, (gint64)v->r);
		break;
	case KITE_VALUE_STRING:
		if (parse_number(v->s, &n))
			convert_int(&n, out);
		else
			set_error(out);
		break;
	case KITE_VALUE_ERROR:
		set_error(out);
		break;
	}
}

/* real(): g_ascii_strtod takes "inf" and "nan", which is how
 * kite_expr_to_string spells the non-finite reals. */
static void convert_real(const KiteValue *v, KiteValue *out)
{
	KiteValue n = KITE_VALUE_INIT;
	switch (v->type) {
	case KITE_VALUE_UNDEFINED:
		break;
	case KITE_VALUE_BOOL:
		set_real(out, v->b ? 1.0 : 0.0);
		break;
	case KITE_VALUE_INT:
	case KITE_VALUE_REAL:
		set_real(out, as_real(v));
		break;
	case KITE_VALUE_STRING:
		if (parse_number(v->s, &n))
			set_real(out, as_real(&n));
		else
			set_error(out);
		break;
	case KITE_VALUE_ERROR:
		set_error(out);
		break;
	}
}

static void eval_call(const KiteExpr *e, const KiteAd *my, const KiteAd *target, EvalCtx *ctx, KiteValue *out)
{
	if (e->op == KITE_FN_IF_THEN_ELSE) {
		eval_if(e->args[0], e->args[1], e->args[2], my, target, ctx, out);
		return;
	}

	if (e->op == KITE_FN_STRCAT) {
		/* Every argument as text; error wins over undefined. */
		g_autoptr(GString) s = g_string_new(NULL);
		gboolean undefined = FALSE, error = FALSE;
		for (guint i = 0; i < e->n && !error; i++) {
			KiteValue v = KITE_VALUE_INIT;
			eval(e->args[i], my, target, ctx, &v);
			if (v.type == KITE_VALUE_ERROR)
				error = TRUE;
			else if (v.type == KITE_VALUE_UNDEFINED)
				undefined = TRUE;
			else if (!undefined)
				append_text(s, &v);
			kite_value_clear(&v);
			if (s->len > EVAL_MAX_STRING)
				error = TRUE;
		}
		if (error) {
			set_error(out);
			return;
		}
		if (undefined)
			return;
		gsize len = s->len;
		set_string(ctx, out, g_string_free(g_steal_pointer(&s), FALSE), len);
		return;
	}

	if (e->op == KITE_FN_TIME) { /* now, in Unix seconds, as ClassAds' time() */
		set_int(out, g_get_real_time() / G_USEC_PER_SEC);
		return;
	}

	KiteValue v = KITE_VALUE_INIT;
	eval(e->args[0], my, target, ctx, &v);
	switch (e->op) {
	case KITE_FN_IS_UNDEFINED:
		set_bool(out, v.type == KITE_VALUE_UNDEFINED);
		break;
	case KITE_FN_IS_ERROR:
		set_bool(out, v.type == KITE_VALUE_ERROR);
		break;
	case KITE_FN_INT:
		convert_int(&v, out);
		break;
	case KITE_FN_REAL:
		convert_real(&v, out);
		break;
	case KITE_FN_STRING:
	case KITE_FN_TO_LOWER:
	case KITE_FN_TO_UPPER: {
		if (v.type == KITE_VALUE_ERROR)
			set_error(out);
		if (v.type == KITE_VALUE_ERROR || v.type == KITE_VALUE_UNDEFINED)
			break;
		/* ASCII case only: never mangles bytes of other scripts or of
		 * invalid UTF-8. */
		GString *s = g_string_new(NULL);
		append_text(s, &v);
		for (char *c = s->str; *c && e->op != KITE_FN_STRING; c++)
			*c = e->op == KITE_FN_TO_LOWER ? g_ascii_tolower(*c) : g_ascii_toupper(*c);
		gsize len = s->len;
		set_string(ctx, out, g_string_free(s, FALSE), len);
		break;
	}
	case KITE_FN_SIZE:
		if (v.type == KITE_VALUE_STRING)
			set_int(out, (gint64)strlen(v.s));
		else if (v.type != KITE_VALUE_UNDEFINED)
			set_error(out);
		break;
	default:
		g_assert_not_reached();
	}
	kite_value_clear(&v);
}

static void eval(const KiteExpr *e, const KiteAd *my, const KiteAd *target, EvalCtx *ctx, KiteValue *out)
{
	if (ctx->budget == 0 || ctx->depth >= EVAL_MAX_DEPTH) {
		set_error(out);
		return;
	}
	ctx->budget--;
	ctx->depth++;
	switch ((KiteNodeKind)e->kind) {
	case KITE_NODE_LITERAL:
		if (e->lit.type == KITE_VALUE_STRING) {
			gsize len = strlen(e->lit.s);
			set_string(ctx, out, g_memdup2(e->lit.s, len + 1), len);
		} else {
			*out = e->lit;
		}
		break;
	case KITE_NODE_ATTR:
		eval_attr(e, my, target, ctx, out);
		break;
	case KITE_NODE_UNARY:
		eval_unary(e, my, target, ctx, out);
		break;
	case KITE_NODE_CHAIN:
		eval_chain(e, my, target, ctx, out);
		break;
	case KITE_NODE_COND:
		eval_if(e->cond.cond, e->cond.then, e->cond.otherwise, my, target, ctx, out);
		break;
	case KITE_NODE_CALL:
		eval_call(e, my, target, ctx, out);
		break;
	}
	ctx->depth--;
}

void kite_expr_eval(const KiteExpr *e, const KiteAd *my, const KiteAd *target, KiteValue *out)
{
	g_return_if_fail(e != NULL && out != NULL);
	EvalCtx ctx = {.budget = EVAL_BUDGET};
	KiteValue v = KITE_VALUE_INIT;
	eval(e, my, target, &ctx, &v);
	*out = v;
}
