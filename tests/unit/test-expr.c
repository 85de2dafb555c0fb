/* test-expr.c — the expression language: ClassAd semantics, parse
 * errors and their columns, printing round trips, limits on hostile
 * input, MY/TARGET lookup and scoping, cycles. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ad.h"
#include "expr.h"
#include "util.h"

/* Parse @text (which must parse) and evaluate it; the value as printed
 * by kite_value_to_string. */
static char *eval_text(const char *text, const KiteAd *my, const KiteAd *target)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteExpr) e = kite_expr_parse(text, NULL, &error);
	if (e == NULL)
		fail_msg("`%s` did not parse: %s", text, error->message);
	KiteValue v = KITE_VALUE_INIT;
	kite_expr_eval(e, my, target, &v);
	char *s = kite_value_to_string(&v);
	kite_value_clear(&v);
	return s;
}

static void assert_eval(const char *text, const KiteAd *my, const KiteAd *target, const char *expected)
{
	g_autofree char *got = eval_text(text, my, target);
	if (strcmp(got, expected) != 0)
		fail_msg("`%s` gave %s, expected %s", text, got, expected);
}

/* Parse, print, parse the print, print again: the two prints agree and
 * both trees evaluate alike.  Returns the first print. */
static char *round_trip(const char *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteExpr) e = kite_expr_parse(text, NULL, &error);
	if (e == NULL)
		fail_msg("`%s` did not parse: %s", text, error->message);
	char *printed = kite_expr_to_string(e);
	g_autoptr(KiteExpr) again = kite_expr_parse(printed, NULL, &error);
	if (again == NULL)
		fail_msg("`%s` printed as `%s`, which did not parse: %s", text, printed, error->message);
	g_autofree char *reprinted = kite_expr_to_string(again);
	if (strcmp(printed, reprinted) != 0)
		fail_msg("`%s` printed as `%s`, which printed as `%s`", text, printed, reprinted);

	KiteValue a = KITE_VALUE_INIT, b = KITE_VALUE_INIT;
	kite_expr_eval(e, NULL, NULL, &a);
	kite_expr_eval(again, NULL, NULL, &b);
	g_autofree char *va = kite_value_to_string(&a);
	g_autofree char *vb = kite_value_to_string(&b);
	kite_value_clear(&a);
	kite_value_clear(&b);
	if (strcmp(va, vb) != 0)
		fail_msg("`%s` evaluated to %s but its print `%s` to %s", text, va, printed, vb);
	return printed;
}

typedef struct {
	const char *text;
	const char *value;
} EvalCase;

/* ClassAd semantics, with no ads: every value printed by
 * kite_value_to_string. */
static const EvalCase semantics[] = {
    /* undefined and error propagate through == and arithmetic */
    {"undefined == 1", "undefined"},
    {"1 != undefined", "undefined"},
    {"undefined < 3", "undefined"},
    {"undefined + 1", "undefined"},
    {"1 + error", "error"},
    {"error + undefined", "error"},
    {"undefined * error", "error"},
    {"error == error", "error"},
    {"-undefined", "undefined"},
    {"-error", "error"},
    /* =?= and =!= are never undefined */
    {"undefined =?= undefined", "true"},
    {"undefined =!= undefined", "false"},
    {"10 =?= undefined", "false"},
    {"10 =!= undefined", "true"},
    {"error =?= error", "true"},
    {"error =?= undefined", "false"},
    {"1 =?= 1", "true"},
    {"1 =?= 1.0", "false"},
    {"1 == 1.0", "true"},
    {"true =?= true", "true"},
    {"true =?= 1", "false"},
    {"1 is 1", "true"},
    {"1 IS 2", "false"},
    {"1 isnt 2", "true"},
    {"undefined is undefined", "true"},
    /* && || ! are non-strict */
    {"false && undefined", "false"},
    {"undefined && false", "false"},
    {"undefined && true", "undefined"},
    {"true && undefined", "undefined"},
    {"undefined && undefined", "undefined"},
    {"false && error", "false"},
    {"error && false", "error"},
    {"true && error", "error"},
    {"undefined && error", "error"},
    {"true || error", "true"},
    {"error || true", "error"},
    {"false || error", "error"},
    {"undefined || true", "true"},
    {"true || undefined", "true"},
    {"undefined || false", "undefined"},
    {"false || undefined", "undefined"},
    {"false || false", "false"},
    {"true && true", "true"},
    {"!undefined", "undefined"},
    {"!error", "error"},
    {"!true", "false"},
    {"!false", "true"},
    {"!0", "true"},
    {"!2.5", "false"},
    {"!\"a\"", "error"},
    {"1 && 2.5", "true"},
    {"0 || 0.0", "false"},
    {"\"yes\" && true", "error"},
    {"false && \"yes\"", "false"},
    {"true && 1 / 0", "error"},
    {"false && 1 / 0", "false"},
    {"false || false || false || true", "true"},
    {"true && true && undefined && false", "false"},
    {"true && true && undefined && true", "undefined"},
    /* strings: == and < ignore case, =?= does not, + is not concatenation */
    {"\"ABC\" == \"abc\"", "true"},
    {"\"ABC\" != \"abc\"", "false"},
    {"\"ABC\" =?= \"abc\"", "false"},
    {"\"ABC\" =!= \"abc\"", "true"},
    {"\"abc\" =?= \"abc\"", "true"},
    {"\"abc\" is \"ABC\"", "false"},
    {"\"a\" < \"B\"", "true"},
    {"\"b\" >= \"A\"", "true"},
    {"\"abc\" == \"abd\"", "false"},
    {"\"a\" + \"b\"", "error"},
    {"1 + \"a\"", "error"},
    {"\"1\" == 1", "error"},
    {"\"a\" * 2", "error"},
    /* booleans only compare with booleans, and only for (in)equality */
    {"true == true", "true"},
    {"true != false", "true"},
    {"true == 1", "error"},
    {"true < false", "error"},
    {"1 + true", "error"},
    {"-true", "error"},
    {"+\"a\"", "error"},
    /* arithmetic */
    {"7 / 2", "3"},
    {"-7 / 2", "-3"},
    {"7 % 3", "1"},
    {"-7 % 3", "-1"},
    {"7.0 / 2", "3.5"},
    {"7 / 2.0", "3.5"},
    {"1 / 0", "error"},
    {"1 % 0", "error"},
    {"1.0 / 0", "error"},
    {"1 / 0.0", "error"},
    {"5.5 % 2", "1.5"},
    {"1 + 2.5", "3.5"},
    {"2 * 3.0", "6.0"},
    {"0.1 + 0.2", "0.30000000000000004"},
    {"1e3", "1000.0"},
    {"1.5e-3 * 2", "0.003"},
    {".5 + 1", "1.5"},
    {"2E2", "200.0"},
    {"9223372036854775807 + 1", "error"},
    {"-9223372036854775807 - 2", "error"},
    {"4611686018427387904 * 2", "error"},
    {"-9223372036854775808", "-9223372036854775808"},
    {"-9223372036854775808 / -1", "error"},
    {"-9223372036854775808 % -1", "0"},
    {"-(-9223372036854775808)", "error"},
    {"-(3)", "-3"},
    {"- -3", "3"},
    {"-(2 - 5)", "3"},
    {"+4", "4"},
    {"-2.5", "-2.5"},
    /* precedence and associativity */
    {"1 + 2 * 3", "7"},
    {"(1 + 2) * 3", "9"},
    {"10 - 4 - 3", "3"},
    {"10 - (4 - 3)", "9"},
    {"100 / 10 / 5", "2"},
    {"2 * 3 % 4", "2"},
    {"2 + 3 % 2", "3"},
    {"-2 * 3", "-6"},
    {"2 * 3 == 6", "true"},
    {"1 < 2 == true", "true"},
    {"1 < 2 == 2 < 1", "false"},
    {"3 > 2 > 1", "error"},
    {"1 + 1 == 2 && 2 + 2 == 4", "true"},
    {"true || false && false", "true"},
    {"(true || false) && false", "false"},
    {"false || true && false", "false"},
    {"!false && false", "false"},
    {"!(false && false)", "true"},
    {"1 == 1 =?= true", "true"},
    /* ?: */
    {"true ? 1 : 2", "1"},
    {"false ? 1 : 2", "2"},
    {"undefined ? 1 : 2", "undefined"},
    {"error ? 1 : 2", "error"},
    {"\"x\" ? 1 : 2", "error"},
    {"1 ? 2 : 3", "2"},
    {"0.0 ? 2 : 3", "3"},
    {"false ? 1 : true ? 2 : 3", "2"},
    {"true ? false ? 1 : 2 : 3", "2"},
    {"1 + 1 == 2 ? \"yes\" : \"no\"", "\"yes\""},
    {"true ? 1 : 1 / 0", "1"},
    {"false ? 1 / 0 : 7", "7"},
    /* functions */
    {"ifThenElse(true, 1, 2)", "1"},
    {"IFTHENELSE(false, 1, 2)", "2"},
    {"ifthenelse(undefined, 1, 2)", "undefined"},
    {"ifThenElse(error, 1, 2)", "error"},
    {"ifThenElse(true, 1, 1 / 0)", "1"},
    {"isUndefined(undefined)", "true"},
    {"isUndefined(Missing)", "true"},
    {"isUndefined(1)", "false"},
    {"isUndefined(error)", "false"},
    {"isError(1 / 0)", "true"},
    {"isError(undefined)", "false"},
    {"ISERROR(\"a\" + 1)", "true"},
    {"int(3.7)", "3"},
    {"int(-3.7)", "-3"},
    {"int(\"42\")", "42"},
    {"int(\"-3.7\")", "-3"},
    {"int(\"x\")", "error"},
    {"int(\" 4\")", "error"},
    {"int(true)", "1"},
    {"int(undefined)", "undefined"},
    {"int(error)", "error"},
    {"int(1e30)", "error"},
    {"int(5)", "5"},
    {"real(3)", "3.0"},
    {"real(\"2.5\")", "2.5"},
    {"real(\"7\")", "7.0"},
    {"real(\"\")", "error"},
    {"real(\"2.5x\")", "error"},
    {"real(false)", "0.0"},
    {"real(undefined)", "undefined"},
    {"real(\"inf\") > 1e308", "true"},
    {"string(42)", "\"42\""},
    {"string(-2.5)", "\"-2.5\""},
    {"string(2.0)", "\"2.0\""},
    {"string(true)", "\"true\""},
    {"string(\"a\")", "\"a\""},
    {"string(undefined)", "undefined"},
    {"string(1 / 0)", "error"},
    {"strcat(\"a\", 1, 2.5, true)", "\"a12.5true\""},
    {"strcat()", "\"\""},
    {"strcat(\"a\", undefined)", "undefined"},
    {"strcat(undefined, 1 / 0)", "error"},
    {"strcat(\"x\", strcat(\"y\", \"z\"))", "\"xyz\""},
    {"toLower(\"AbC\")", "\"abc\""},
    {"toUpper(\"AbC\")", "\"ABC\""},
    {"TOUPPER(\"caf\xc3\xa9\")", "\"CAF\xc3\xa9\""},
    {"toUpper(1)", "\"1\""},
    {"toLower(undefined)", "undefined"},
    {"size(\"hello\")", "5"},
    {"size(\"\")", "0"},
    {"size(\"caf\xc3\xa9\")", "5"},
    {"size(1)", "error"},
    {"size(undefined)", "undefined"},
    {"size(strcat(\"ab\", 12))", "4"},
    {"time() > 1700000000 && time() < 4102444800", "true"}, /* 2023 .. 2100 */
    {"TIME() - time() <= 1", "true"},
    {"size(string(time()))", "10"},
    /* literals and keywords */
    {"TRUE", "true"},
    {"False", "false"},
    {"UNDEFINED", "undefined"},
    {"Error", "error"},
    {"\"a\\\"b\\\\c\\n\\t\\x41\\101\"", "\"a\\\"b\\\\c\\n\\tAA\""},
    {"\"\\x01\"", "\"\\x01\""},
    {"  1  ", "1"},
    {"\t(\n2\n)\r\n", "2"},
};

static void test_semantics(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(semantics); i++)
		assert_eval(semantics[i].text, NULL, NULL, semantics[i].value);
}

/* Every case of the semantics table also survives printing. */
static void test_semantics_round_trip(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(semantics); i++)
		g_free(round_trip(semantics[i].text));
}

typedef struct {
	const char *text;
	const char *canonical;
} PrintCase;

static const PrintCase prints[] = {
    {"1+2*3", "1 + 2 * 3"},
    {"(1+2)*3", "(1 + 2) * 3"},
    {"1-(2-3)", "1 - (2 - 3)"},
    {"1-2-3", "1 - 2 - 3"},
    {"(1-2)-3", "(1 - 2) - 3"},
    {"1 * (2 * 3)", "1 * (2 * 3)"},
    {"(a) + (b)", "a + b"},
    {"((((x))))", "x"},
    {"a && b || c", "a && b || c"},
    {"a && (b || c)", "a && (b || c)"},
    {"(a && b) || c", "a && b || c"},
    {"!(a && b)", "!(a && b)"},
    {"!a && b", "!a && b"},
    {"-x", "-x"},
    {"- - x", "--x"},
    {"-(a + b)", "-(a + b)"},
    {"-5", "-5"},
    {"-(5)", "-5"},
    {"- -5", "5"},
    {"+5", "5"},
    {"!-5", "!-5"},
    {"3 - -5", "3 - -5"},
    {"-2.5 * 2", "-2.5 * 2"},
    {"-9223372036854775808", "-9223372036854775808"},
    {"--9223372036854775808", "--9223372036854775808"},
    {"a ? b : c ? d : e", "a ? b : c ? d : e"},
    {"(a ? b : c) ? d : e", "(a ? b : c) ? d : e"},
    {"a ? (b ? c : d) : e", "a ? b ? c : d : e"},
    {"(a ? b : c) + 1", "(a ? b : c) + 1"},
    {"a || b ? c && d : e", "a || b ? c && d : e"},
    {"x is undefined", "x =?= undefined"},
    {"X ISNT Error", "X =!= error"},
    {"TRUE", "true"},
    {"1 < 2 == 2 > 1", "1 < 2 == 2 > 1"},
    {"(1 < 2) < 3", "(1 < 2) < 3"},
    {"1 < (2 < 3)", "1 < (2 < 3)"},
    {"my.Memory >= target.RequestMemory", "MY.Memory >= TARGET.RequestMemory"},
    {"My . Memory", "MY.Memory"},
    {"MY.true", "MY.true"},
    {"My", "My"},
    {"IFTHENELSE(a,b,c)", "ifThenElse(a, b, c)"},
    {"strcat( )", "strcat()"},
    {"tolower(strcat(a, (1 + 2)))", "toLower(strcat(a, 1 + 2))"},
    {"\"a\\\"b\\\\c\\n\\t\\r\\x01\\x7f\"", "\"a\\\"b\\\\c\\n\\t\\r\\x01\\x7f\""},
    {"\"\\a\\b\\f\\v\\'\"", "\"\\x07\\x08\\x0c\\x0b'\""},
    {"\"caf\xc3\xa9\"", "\"caf\xc3\xa9\""},
    {"\"\\xff\\xC3\"", "\"\\xff\\xc3\""},
    {"\"\\101\\60\"", "\"A0\""},
    {"1.50", "1.5"},
    {"1e3", "1000.0"},
    {"0.1", "0.1"},
    {"1e-7", "1e-07"},
    {"1.7976931348623157e308", "1.7976931348623157e+308"},
    {"123456789012", "123456789012"},
};

static void test_print(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(prints); i++) {
		g_autofree char *printed = round_trip(prints[i].text);
		if (strcmp(printed, prints[i].canonical) != 0)
			fail_msg("`%s` printed as `%s`, expected `%s`", prints[i].text, printed,
				 prints[i].canonical);
	}
}

static void assert_prints(KiteExpr *e, const char *expected)
{
	g_autofree char *s = kite_expr_to_string(e);
	assert_string_equal(s, expected);
	kite_expr_unref(e);
}

static void test_constructors(void **state)
{
	assert_prints(kite_expr_new_int(42), "42");
	assert_prints(kite_expr_new_int(G_MININT64), "-9223372036854775808");
	assert_prints(kite_expr_new_real(2), "2.0");
	assert_prints(kite_expr_new_real(0.1), "0.1");
	assert_prints(kite_expr_new_real(-0.0), "-0.0");
	assert_prints(kite_expr_new_real(1e100), "1e+100");
	assert_prints(kite_expr_new_real(INFINITY), "real(\"inf\")");
	assert_prints(kite_expr_new_real(-INFINITY), "-real(\"inf\")");
	assert_prints(kite_expr_new_real(NAN), "real(\"nan\")");
	assert_prints(kite_expr_new_bool(TRUE), "true");
	assert_prints(kite_expr_new_bool(FALSE), "false");
	assert_prints(kite_expr_new_string("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
	assert_prints(kite_expr_new_string(""), "\"\"");

	/* What the printer writes for non-finite reals reads back. */
	assert_eval("-real(\"inf\") < -1e308", NULL, NULL, "true");
	assert_eval("real(\"nan\") == real(\"nan\")", NULL, NULL, "false");
	assert_eval("real(\"nan\") != 1", NULL, NULL, "true");
	assert_eval("real(\"nan\") =?= real(\"nan\")", NULL, NULL, "true");

	/* A literal expression evaluates to itself; strings are copies. */
	g_autoptr(KiteExpr) s = kite_expr_new_string("abc");
	KiteValue v = KITE_VALUE_INIT;
	kite_expr_eval(s, NULL, NULL, &v);
	assert_int_equal(v.type, KITE_VALUE_STRING);
	assert_string_equal(v.s, "abc");
	kite_value_clear(&v);
	assert_int_equal(v.type, KITE_VALUE_UNDEFINED);

	g_autoptr(KiteExpr) r = kite_expr_ref(s);
	assert_ptr_equal(r, s);
	kite_expr_unref(NULL);
}

static void test_values(void **state)
{
	KiteValue v = KITE_VALUE_INIT;
	assert_false(kite_value_is_true(&v));
	v.type = KITE_VALUE_ERROR;
	assert_false(kite_value_is_true(&v));
	v.type = KITE_VALUE_BOOL;
	v.b = TRUE;
	assert_true(kite_value_is_true(&v));
	v.b = FALSE;
	assert_false(kite_value_is_true(&v));
	v.type = KITE_VALUE_INT;
	v.i = -3;
	assert_true(kite_value_is_true(&v));
	v.i = 0;
	assert_false(kite_value_is_true(&v));
	v.type = KITE_VALUE_REAL;
	v.r = 0.5;
	assert_true(kite_value_is_true(&v));
	v.r = 0.0;
	assert_false(kite_value_is_true(&v));
	v.r = NAN;
	assert_false(kite_value_is_true(&v));
	v.type = KITE_VALUE_STRING;
	v.s = g_strdup("true");
	assert_false(kite_value_is_true(&v));
	g_autofree char *printed = kite_value_to_string(&v);
	assert_string_equal(printed, "\"true\"");
	kite_value_clear(&v);
	kite_value_clear(NULL);
}

typedef struct {
	const char *text;
	const char *message;
	guint column;
} ErrorCase;

static const ErrorCase errors[] = {
    {"(1 + 2", "expected `)` but found end of expression", 7},
    {"(1 + 2 3", "expected `)` but found `3`", 8},
    {"1 + @", "unexpected character `@`", 5},
    {"1 + \xc3\xa9", "unexpected character `\xc3\xa9`", 5},
    {"1 + \xff", "unexpected byte 0xff (not UTF-8 text)", 5},
    {"a\x01", "unexpected control character 0x01", 2},
    {"\"abc", "unterminated string", 1},
    {"x == \"abc\\", "unterminated string", 6},
    {"x = 3", "unexpected `=`; use `==` to compare", 3},
    {"a & b", "unexpected `&`; use `&&` for \"and\"", 3},
    {"a | b", "unexpected `|`; use `||` for \"or\"", 3},
    {"1 +", "expected an expression but found end of expression", 4},
    {"", "expected an expression but found end of expression", 1},
    {"   ", "expected an expression but found end of expression", 4},
    {"* 2", "expected an expression but found `*`", 1},
    {"()", "expected an expression but found `)`", 2},
    {"1 2", "expected an operator or end of expression but found `2`", 3},
    {"(1))", "expected an operator or end of expression but found `)`", 4},
    {"x.y", "expected an operator or end of expression but found `.`", 2},
    {"Memory >= 1024 Disk", "expected an operator or end of expression but found `Disk`", 16},
    {"true ? 1", "expected `:` but found end of expression", 9},
    {"true ? 1 , 2", "expected `:` but found `,`", 10},
    {"strcat(1 2)", "expected `,` or `)` but found `2`", 10},
    {"strcat(1,", "expected an expression but found end of expression", 10},
    {"foo(1)", "unknown function `foo`", 1},
    {"1 + tolowr(\"A\")", "unknown function `tolowr`; did you mean `toLower`?", 5},
    {"int(1, 2)", "function `int` takes 1 argument but was given 2", 1},
    {"ifThenElse(1)", "function `ifThenElse` takes 3 arguments but was given 1", 1},
    {"size()", "function `size` takes 1 argument but was given 0", 1},
    {"MY.", "expected an attribute name after `MY.` but found end of expression", 4},
    {"target.(x)", "expected an attribute name after `TARGET.` but found `(`", 8},
    {"MY.1", "expected an attribute name after `MY.` but found `1`", 4},
    {"12abc", "malformed number `12abc`", 1},
    {"1 + 1.", "malformed number `1.`", 5},
    {"1e", "malformed number `1e`", 1},
    {"1e999", "real number `1e999` is out of range", 1},
    {"99999999999999999999",
     "integer `99999999999999999999` is too large (the largest is 9223372036854775807)", 1},
    {"9223372036854775808", "integer `9223372036854775808` is too large (the largest is 9223372036854775807)",
     1},
    {"\"a\\qb\"", "invalid escape `\\q` in string", 3},
    {"\"a\\0\"", "a string cannot contain a NUL character", 3},
    {"\"\\x00\"", "a string cannot contain a NUL character", 2},
    {"\"\\x4\"", "invalid escape in string: `\\x` needs two hex digits", 2},
    {"\"\\777\"", "invalid escape in string: octal value is larger than \\377", 2},
};

static void test_parse_errors(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(errors); i++) {
		g_autoptr(GError) error = NULL;
		guint column = 0;
		g_autoptr(KiteExpr) e = kite_expr_parse(errors[i].text, &column, &error);
		if (e != NULL)
			fail_msg("`%s` parsed", errors[i].text);
		assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_INVALID));
		if (strcmp(error->message, errors[i].message) != 0 || column != errors[i].column)
			fail_msg("`%s`: got \"%s\" at column %u, expected \"%s\" at column %u",
				 errors[i].text, error->message, column, errors[i].message, errors[i].column);
	}

	/* The column pointer is optional. */
	g_autoptr(GError) error = NULL;
	assert_null(kite_expr_parse("(", NULL, &error));
	assert_string_equal(error->message, "expected an expression but found end of expression");
	assert_null(kite_expr_parse(")", NULL, NULL));
}

static void test_long_names(void **state)
{
	g_autofree char *ok = g_strnfill(128, 'a');
	g_autofree char *long_name = g_strnfill(129, 'a');
	g_autoptr(GError) error = NULL;
	guint column = 0;
	g_autoptr(KiteExpr) e = kite_expr_parse(ok, NULL, &error);
	assert_non_null(e);
	g_autofree char *text = g_strdup_printf("1 + %s", long_name);
	assert_null(kite_expr_parse(text, &column, &error));
	assert_string_equal(error->message,
			    "attribute name `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…` is longer than 128 bytes");
	assert_int_equal(column, 5);
}

static void test_limits(void **state)
{
	g_autoptr(GError) error = NULL;
	guint column = 0;

	/* 200 levels of parentheses are fine, 201 are not. */
	g_autofree char *open200 = g_strnfill(200, '(');
	g_autofree char *close200 = g_strnfill(200, ')');
	g_autofree char *deep200 = g_strconcat(open200, "1", close200, NULL);
	g_autoptr(KiteExpr) e = kite_expr_parse(deep200, NULL, &error);
	assert_non_null(e);
	g_autofree char *printed = kite_expr_to_string(e);
	assert_string_equal(printed, "1");

	g_autofree char *deep201 = g_strconcat("(", deep200, ")", NULL);
	assert_null(kite_expr_parse(deep201, &column, &error));
	assert_string_equal(error->message, "expression is nested more than 200 levels deep");
	assert_int_equal(column, 201);
	g_clear_error(&error);

	/* A hostile 100000 parentheses: refused, not a stack overflow. */
	g_autofree char *hostile = g_strnfill(50000, '(');
	assert_null(kite_expr_parse(hostile, &column, &error));
	assert_string_equal(error->message, "expression is nested more than 200 levels deep");
	assert_int_equal(column, 201);
	g_clear_error(&error);

	g_autofree char *hostile100k = g_strnfill(100000, '(');
	assert_null(kite_expr_parse(hostile100k, &column, &error));
	assert_string_equal(error->message, "expression is longer than 65536 bytes");
	assert_int_equal(column, 1);
	g_clear_error(&error);

	/* Prefix operators and ?: nest too. */
	g_autofree char *nots = g_strnfill(60000, '!');
	assert_null(kite_expr_parse(nots, &column, &error));
	assert_string_equal(error->message, "expression is nested more than 200 levels deep");
	assert_int_equal(column, 201);
	g_clear_error(&error);

	GString *ternary = g_string_new(NULL);
	for (int i = 0; i < 1000; i++)
		g_string_append(ternary, "a ? b : ");
	g_string_append(ternary, "c");
	g_autofree char *ternary_text = g_string_free(ternary, FALSE);
	assert_null(kite_expr_parse(ternary_text, &column, &error));
	assert_string_equal(error->message, "expression is nested more than 200 levels deep");
	/* the `b` of the 201st "a ? b : " */
	assert_int_equal(column, 200 * 8 + 5);
	g_clear_error(&error);

	/* A long flat list is not deep: 4000 alternatives parse, print and
	 * evaluate (the evaluator walks a chain without recursing). */
	GString *flat = g_string_new("x == 0");
	for (int i = 1; i < 4000; i++)
		g_string_append_printf(flat, " || x == %d", i);
	g_autofree char *flat_text = g_string_free(flat, FALSE);
	g_autoptr(KiteExpr) list = kite_expr_parse(flat_text, NULL, &error);
	assert_non_null(list);
	g_autofree char *list_printed = kite_expr_to_string(list);
	assert_string_equal(list_printed, flat_text);
	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_int(ad, "x", 3999);
	KiteValue v = KITE_VALUE_INIT;
	kite_expr_eval(list, ad, NULL, &v);
	assert_int_equal(v.type, KITE_VALUE_BOOL);
	assert_true(v.b);

	/* The maximum length is allowed, one byte more is not. */
	g_autofree char *spaces = g_strnfill(KITE_EXPR_MAX_LEN - 1, ' ');
	g_autofree char *max = g_strconcat(spaces, "1", NULL);
	g_autoptr(KiteExpr) longest = kite_expr_parse(max, NULL, &error);
	assert_non_null(longest);
	g_autofree char *too_long = g_strconcat(spaces, "12", NULL);
	assert_null(kite_expr_parse(too_long, &column, &error));
	assert_string_equal(error->message, "expression is longer than 65536 bytes");
}

/* A job and a machine, as in the matchmaking examples. */
static KiteAd *job_ad(void)
{
	g_autoptr(GError) error = NULL;
	KiteAd *job = kite_ad_parse("Owner = \"alice\"\n"
				    "Name = \"job.1\"\n"
				    "RequestMemory = 2048\n"
				    "Memory = 1\n"
				    "Requirements = TARGET.Memory >= RequestMemory && Arch == \"x86_64\"\n"
				    "Rank = TARGET.Memory / 1024\n"
				    "Needs = TARGET.FreeMemory\n"
				    "Free = FreeMemory\n"
				    "Who = TARGET.ClaimedBy\n",
				    &error);
	assert_non_null(job);
	return job;
}

static KiteAd *machine_ad(void)
{
	g_autoptr(GError) error = NULL;
	KiteAd *machine = kite_ad_parse("Name = \"m1\"\n"
					"Arch = \"X86_64\"\n"
					"Memory = 4096\n"
					"FreeMemory = Memory - 96\n"
					"ClaimedBy = TARGET.Owner\n"
					"Start = TARGET.Owner != \"mallory\" && MY.Memory >= RequestMemory\n",
					&error);
	assert_non_null(machine);
	return machine;
}

static void test_lookup(void **state)
{
	g_autoptr(KiteAd) job = job_ad();
	g_autoptr(KiteAd) machine = machine_ad();

	/* Two-sided match. */
	assert_eval("Requirements", job, machine, "true");
	assert_eval("Start", machine, job, "true");
	assert_eval("Rank", job, machine, "4");

	/* Bare names look in MY first, then TARGET; scopes are explicit. */
	assert_eval("Name", job, machine, "\"job.1\"");
	assert_eval("MY.Name", job, machine, "\"job.1\"");
	assert_eval("TARGET.Name", job, machine, "\"m1\"");
	assert_eval("Arch", job, machine, "\"X86_64\"");
	assert_eval("MY.Arch", job, machine, "undefined");
	assert_eval("TARGET.Owner", job, machine, "undefined");
	assert_eval("Nowhere", job, machine, "undefined");
	assert_eval("Nowhere == 1", job, machine, "undefined");
	assert_eval("Nowhere =?= undefined", job, machine, "true");

	/* Names are case-insensitive, in every scope. */
	assert_eval("memory", job, machine, "1");
	assert_eval("target.MEMORY", job, machine, "4096");
	assert_eval("my.requestmemory * 2", job, machine, "4096");

	/* An attribute found in TARGET is evaluated there: its bare Memory
	 * is the machine's 4096, not the job's 1. */
	assert_eval("Needs", job, machine, "4000");
	assert_eval("Free", job, machine, "4000");
	assert_eval("FreeMemory", job, machine, "4000");
	/* …and its TARGET is the job again. */
	assert_eval("Who", job, machine, "\"alice\"");
	assert_eval("TARGET.ClaimedBy", job, machine, "\"alice\"");

	/* Missing ads are simply empty. */
	assert_eval("Memory", NULL, NULL, "undefined");
	assert_eval("TARGET.Memory", job, NULL, "undefined");
	assert_eval("MY.Memory", NULL, machine, "undefined");
	assert_eval("Memory", NULL, machine, "4096");
	assert_eval("Requirements", job, NULL, "undefined");
	assert_eval("Start", machine, NULL, "undefined");

	/* A failing match. */
	kite_ad_set_int(job, "RequestMemory", 8192);
	assert_eval("Requirements", job, machine, "false");
	assert_eval("Start", machine, job, "false");
}

static void test_cycles(void **state)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) ad = kite_ad_parse("A = B\n"
					     "B = A\n"
					     "Self = Self + 1\n"
					     "Safe = isError(A) ? 1 : 2\n"
					     "Guarded = false && A\n",
					     &error);
	assert_non_null(ad);
	assert_eval("A", ad, NULL, "error");
	assert_eval("Self", ad, NULL, "error");
	assert_eval("Safe", ad, NULL, "1");
	assert_eval("Guarded", ad, NULL, "false");
	assert_eval("A =?= error", ad, NULL, "true");

	/* A cycle through the other ad. */
	g_autoptr(KiteAd) other = kite_ad_parse("Y = TARGET.X\n", &error);
	g_autoptr(KiteAd) mine = kite_ad_parse("X = TARGET.Y\n", &error);
	assert_eval("X", mine, other, "error");

	/* A chain of 100 references is fine; one more is too deep. */
	g_autoptr(KiteAd) chain = kite_ad_new();
	kite_ad_set_int(chain, "A0", 0);
	for (int i = 1; i <= 100; i++) {
		g_autofree char *name = g_strdup_printf("A%d", i);
		g_autofree char *def = g_strdup_printf("A%d + 1", i - 1);
		assert_true(kite_ad_set_parsed(chain, name, def, &error));
	}
	assert_eval("A99", chain, NULL, "99");
	assert_eval("A100", chain, NULL, "error");

	/* Doubling at every level would take 2^60 steps (and strings of
	 * 2^63 bytes); the step budget stops it quickly with error. */
	g_autoptr(KiteAd) bomb = kite_ad_new();
	kite_ad_set_string(bomb, "S0", "0123456789abcdef");
	kite_ad_set_int(bomb, "N0", 1);
	for (int i = 1; i <= 60; i++) {
		g_autofree char *s = g_strdup_printf("S%d", i);
		g_autofree char *sdef = g_strdup_printf("strcat(S%d, S%d)", i - 1, i - 1);
		g_autofree char *n = g_strdup_printf("N%d", i);
		g_autofree char *ndef = g_strdup_printf("real(N%d) + N%d", i - 1, i - 1);
		assert_true(kite_ad_set_parsed(bomb, s, sdef, &error));
		assert_true(kite_ad_set_parsed(bomb, n, ndef, &error));
	}
	assert_eval("size(S10)", bomb, NULL, "16384");
	assert_eval("N10", bomb, NULL, "1024.0");
	double start = kite_now_monotonic();
	assert_eval("S60", bomb, NULL, "error");
	assert_eval("N60", bomb, NULL, "error");
	assert_true(kite_now_monotonic() - start < 10.0);
}

static void test_references(void **state)
{
	g_autoptr(KiteExpr) e = kite_expr_parse(
	    "MY.Memory + TARGET.Disk > x && ifThenElse(y, -z, strcat(w)) ? !v : u", NULL, NULL);
	assert_non_null(e);
	const char *const present[] = {"memory", "DISK", "Disk", "X", "y", "z", "w", "v", "u"};
	for (guint i = 0; i < G_N_ELEMENTS(present); i++)
		assert_true(kite_expr_references(e, present[i]));
	assert_false(kite_expr_references(e, "Mem"));
	assert_false(kite_expr_references(e, "MY"));
	assert_false(kite_expr_references(e, "strcat"));
	assert_false(kite_expr_references(e, "ifThenElse"));

	g_autoptr(KiteExpr) literal = kite_expr_parse("\"Memory\"", NULL, NULL);
	assert_false(kite_expr_references(literal, "Memory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_semantics),  cmocka_unit_test(test_semantics_round_trip),
	    cmocka_unit_test(test_print),      cmocka_unit_test(test_constructors),
	    cmocka_unit_test(test_values),     cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_long_names), cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_lookup),     cmocka_unit_test(test_cycles),
	    cmocka_unit_test(test_references),
	};
	return cmocka_run_group_tests_name("expr", tests, NULL, NULL);
}
