/* test-ad.c — attribute sets: binding, order, case, typed access, the
 * text form and the wire form with its validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ad.h"
#include "util.h"

static char *expr_text(const KiteAd *ad, const char *name)
{
	KiteExpr *e = kite_ad_lookup(ad, name);
	assert_non_null(e);
	return kite_expr_to_string(e);
}

static void assert_names(const KiteAd *ad, const char *const *names, guint n)
{
	assert_int_equal(kite_ad_size(ad), n);
	for (guint i = 0; i < n; i++)
		assert_string_equal(kite_ad_name_at(ad, i), names[i]);
}

static void test_names(void **state)
{
	g_autofree char *max = g_strnfill(KITE_AD_MAX_NAME, 'x');
	g_autofree char *too_long = g_strnfill(KITE_AD_MAX_NAME + 1, 'x');
	const char *const valid[] = {"A", "_", "_x", "a1_B", "Requirements", max};
	const char *const invalid[] = {"", "1a", "a-b", "a.b", "a b", "MY.x", "caf\xc3\xa9", too_long, " a"};
	for (guint i = 0; i < G_N_ELEMENTS(valid); i++)
		assert_true(kite_ad_name_is_valid(valid[i]));
	for (guint i = 0; i < G_N_ELEMENTS(invalid); i++)
		assert_false(kite_ad_name_is_valid(invalid[i]));
	assert_false(kite_ad_name_is_valid(NULL));
}

static void test_set_lookup(void **state)
{
	g_autoptr(KiteAd) ad = kite_ad_new();
	assert_int_equal(kite_ad_size(ad), 0);
	assert_null(kite_ad_lookup(ad, "a"));

	kite_ad_set_int(ad, "Memory", 1024);
	kite_ad_set_real(ad, "LoadAvg", 0.25);
	kite_ad_set_bool(ad, "Idle", TRUE);
	kite_ad_set_string(ad, "Name", "m1");
	g_autoptr(KiteExpr) e = kite_expr_parse("Memory * 2", NULL, NULL);
	kite_ad_set(ad, "Double", e);
	const char *const names[] = {"Memory", "LoadAvg", "Idle", "Name", "Double"};
	assert_names(ad, names, 5);

	/* kite_ad_set takes its own reference. */
	assert_ptr_equal(kite_ad_lookup(ad, "double"), e);
	assert_ptr_equal(kite_ad_expr_at(ad, 4), e);

	/* Lookup ignores case. */
	g_autofree char *m = expr_text(ad, "MEMORY");
	assert_string_equal(m, "1024");
	g_autofree char *l = expr_text(ad, "loadavg");
	assert_string_equal(l, "0.25");
	g_autofree char *n = expr_text(ad, "name");
	assert_string_equal(n, "\"m1\"");

	/* Rebinding keeps the position and the first spelling. */
	kite_ad_set_string(ad, "MEMORY", "lots");
	assert_names(ad, names, 5);
	g_autofree char *m2 = expr_text(ad, "Memory");
	assert_string_equal(m2, "\"lots\"");

	/* Removing keeps the others in order and findable. */
	assert_true(kite_ad_remove(ad, "loadAVG"));
	assert_false(kite_ad_remove(ad, "LoadAvg"));
	assert_false(kite_ad_remove(ad, "Nothing"));
	assert_null(kite_ad_lookup(ad, "LoadAvg"));
	const char *const after_remove[] = {"Memory", "Idle", "Name", "Double"};
	assert_names(ad, after_remove, 4);
	g_autofree char *n2 = expr_text(ad, "Name");
	assert_string_equal(n2, "\"m1\"");

	/* A removed name comes back at the end. */
	kite_ad_set_int(ad, "loadavg", 2);
	const char *const readded[] = {"Memory", "Idle", "Name", "Double", "loadavg"};
	assert_names(ad, readded, 5);
	assert_non_null(kite_ad_lookup(ad, "LOADAVG"));
}

static void test_set_parsed(void **state)
{
	g_autoptr(KiteAd) ad = kite_ad_new();
	g_autoptr(GError) error = NULL;
	assert_true(kite_ad_set_parsed(ad, "Requirements", "Memory  >=(1024)", &error));
	g_autofree char *r = expr_text(ad, "Requirements");
	assert_string_equal(r, "Memory >= 1024");

	/* A parse error names the attribute and column and changes nothing. */
	assert_false(kite_ad_set_parsed(ad, "Requirements", "(Memory > 1", &error));
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_INVALID));
	assert_string_equal(error->message,
			    "attribute `Requirements`, column 12: expected `)` but found end of expression");
	g_clear_error(&error);
	g_autofree char *r2 = expr_text(ad, "Requirements");
	assert_string_equal(r2, "Memory >= 1024");
	assert_int_equal(kite_ad_size(ad), 1);

	assert_false(kite_ad_set_parsed(ad, "1st", "1", &error));
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_INVALID));
	assert_string_equal(
	    error->message,
	    "`1st` is not a valid attribute name (use letters, digits and _, not starting with a digit)");
	assert_int_equal(kite_ad_size(ad), 1);
}

static void test_getters(void **state)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) ad = kite_ad_parse("I = 6 * 7\n"
					     "R = 2.5\n"
					     "Whole = 4.0\n"
					     "Huge = 1e300\n"
					     "B = 1 < 2\n"
					     "S = strcat(\"a\", I)\n"
					     "U = Missing\n"
					     "E = 1 / 0\n",
					     &error);
	assert_non_null(ad);

	gint64 i = -1;
	assert_true(kite_ad_get_int(ad, "i", &i));
	assert_int_equal(i, 42);
	assert_true(kite_ad_get_int(ad, "Whole", &i));
	assert_int_equal(i, 4);
	i = -1;
	assert_false(kite_ad_get_int(ad, "R", &i));
	assert_false(kite_ad_get_int(ad, "Huge", &i));
	assert_false(kite_ad_get_int(ad, "S", &i));
	assert_false(kite_ad_get_int(ad, "U", &i));
	assert_false(kite_ad_get_int(ad, "E", &i));
	assert_false(kite_ad_get_int(ad, "Absent", &i));
	assert_int_equal(i, -1);

	double r = -1;
	assert_true(kite_ad_get_real(ad, "R", &r));
	assert_true(r == 2.5);
	assert_true(kite_ad_get_real(ad, "I", &r));
	assert_true(r == 42.0);
	r = -1;
	assert_false(kite_ad_get_real(ad, "B", &r));
	assert_false(kite_ad_get_real(ad, "Absent", &r));
	assert_true(r == -1);

	gboolean b = FALSE;
	assert_true(kite_ad_get_bool(ad, "B", &b));
	assert_true(b);
	b = 7;
	assert_false(kite_ad_get_bool(ad, "I", &b));
	assert_false(kite_ad_get_bool(ad, "U", &b));
	assert_int_equal(b, 7);

	char *s = NULL;
	assert_true(kite_ad_get_string(ad, "S", &s));
	assert_string_equal(s, "a42");
	g_free(s);
	s = NULL;
	assert_false(kite_ad_get_string(ad, "I", &s));
	assert_false(kite_ad_get_string(ad, "Absent", &s));
	assert_null(s);

	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(ad, "absent", NULL, &v);
	assert_int_equal(v.type, KITE_VALUE_UNDEFINED);
	kite_ad_eval(ad, "E", NULL, &v);
	assert_int_equal(v.type, KITE_VALUE_ERROR);

	/* kite_ad_eval evaluates against a target. */
	g_autoptr(KiteAd) target = kite_ad_new();
	kite_ad_set_int(target, "Missing", 3);
	kite_ad_eval(ad, "U", target, &v);
	assert_int_equal(v.type, KITE_VALUE_INT);
	assert_int_equal(v.i, 3);
}

static void test_copy(void **state)
{
	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_int(ad, "A", 1);
	kite_ad_set_string(ad, "B", "two");
	g_autoptr(KiteAd) copy = kite_ad_copy(ad);
	kite_ad_set_int(copy, "a", 10);
	kite_ad_set_int(copy, "C", 3);
	assert_true(kite_ad_remove(copy, "B"));

	const char *const original[] = {"A", "B"};
	assert_names(ad, original, 2);
	g_autofree char *a = expr_text(ad, "A");
	assert_string_equal(a, "1");
	const char *const copied[] = {"A", "C"};
	assert_names(copy, copied, 2);
	g_autofree char *a2 = expr_text(copy, "A");
	assert_string_equal(a2, "10");
	kite_ad_free(NULL);
}

static void test_text(void **state)
{
	g_autoptr(GError) error = NULL;
	const char *text = "# a machine\n"
			   "\n"
			   "Name = \"m1\"\r\n"
			   "   Memory=4096\n"
			   "\t# indented comment\n"
			   "Start = TARGET.Owner  != \"mallory\"  &&  (Memory > 1 || false)\n"
			   "Ratio = 1.0 / 3\n"
			   "Quote = \"say \\\"hi\\\"\\n\"\n"
			   "memory = 8192\n"
			   "  \n";
	g_autoptr(KiteAd) ad = kite_ad_parse(text, &error);
	assert_non_null(ad);
	g_autofree char *out = kite_ad_to_text(ad);
	const char *expected = "Name = \"m1\"\n"
			       "Memory = 8192\n"
			       "Start = TARGET.Owner != \"mallory\" && (Memory > 1 || false)\n"
			       "Ratio = 1.0 / 3\n"
			       "Quote = \"say \\\"hi\\\"\\n\"\n";
	assert_string_equal(out, expected);

	/* The printed form reads back to itself. */
	g_autoptr(KiteAd) again = kite_ad_parse(out, &error);
	assert_non_null(again);
	g_autofree char *out2 = kite_ad_to_text(again);
	assert_string_equal(out2, expected);

	/* Last line without a newline; empty input is an empty ad. */
	g_autoptr(KiteAd) one = kite_ad_parse("A = 1", &error);
	assert_int_equal(kite_ad_size(one), 1);
	g_autoptr(KiteAd) none = kite_ad_parse("", &error);
	assert_int_equal(kite_ad_size(none), 0);
	g_autofree char *empty = kite_ad_to_text(none);
	assert_string_equal(empty, "");
}

typedef struct {
	const char *text;
	const char *message;
} TextErrorCase;

static const TextErrorCase text_errors[] = {
    {"A = 1\n\nB = (2\n", "line 3, column 7: expected `)` but found end of expression"},
    {"  A = 1 +", "line 1, column 10: expected an expression but found end of expression"},
    {"A = 1 @ 2", "line 1, column 7: unexpected character `@`"},
    {"A = \"abc", "line 1, column 5: unterminated string"},
    {"A =", "line 1, column 4: expected an expression but found end of expression"},
    {"1x = 2", "line 1, column 1: expected an attribute name but found `1x = 2`"},
    {"# ok\n  = 2", "line 2, column 3: expected an attribute name but found `= 2`"},
    {"A 2", "line 1, column 3: expected `=` after attribute name `A` but found `2`"},
    {"A", "line 1, column 2: expected `=` after attribute name `A` but found end of line"},
    {"A == 2", "line 1, column 3: expected `=` after attribute name `A` but found `== 2`"},
    {"A.B = 2", "line 1, column 2: expected `=` after attribute name `A` but found `.B = 2`"},
    {"A = 1 # trailing comment", "line 1, column 7: unexpected character `#`"},
};

static void test_text_errors(void **state)
{
	for (guint i = 0; i < G_N_ELEMENTS(text_errors); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KiteAd) ad = kite_ad_parse(text_errors[i].text, &error);
		if (ad != NULL)
			fail_msg("`%s` parsed", text_errors[i].text);
		assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_INVALID));
		if (strcmp(error->message, text_errors[i].message) != 0)
			fail_msg("`%s`: got \"%s\", expected \"%s\"", text_errors[i].text, error->message,
				 text_errors[i].message);
	}

	g_autoptr(GError) error = NULL;
	g_autofree char *long_name = g_strnfill(KITE_AD_MAX_NAME + 1, 'n');
	g_autofree char *long_text = g_strdup_printf("%s = 1", long_name);
	assert_null(kite_ad_parse(long_text, &error));
	assert_string_equal(error->message,
			    "line 1, column 1: attribute name "
			    "`nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…` is longer than 128 bytes");
	g_clear_error(&error);

	GString *many = g_string_new(NULL);
	for (int i = 0; i <= KITE_AD_MAX_ATTRS; i++)
		g_string_append_printf(many, "A%d = %d\n", i, i);
	g_autofree char *many_text = g_string_free(many, FALSE);
	assert_null(kite_ad_parse(many_text, &error));
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_LIMIT));
	assert_string_equal(error->message, "line 1025: an ad may have at most 1024 attributes");
}

static void test_variant(void **state)
{
	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_int(ad, "Memory", 4096);
	kite_ad_set_string(ad, "Name", "caf\xc3\xa9");
	kite_ad_set_string(ad, "Bytes", "\xff\xfe"); /* not UTF-8 */
	g_autoptr(GError) error = NULL;
	assert_true(kite_ad_set_parsed(ad, "Start", "TARGET.Owner =!= \"bob\"", &error));

	g_autoptr(GVariant) v = g_variant_ref_sink(kite_ad_to_variant(ad));
	assert_string_equal(g_variant_get_type_string(v), "a(ss)");
	g_autofree char *printed = g_variant_print(v, FALSE);
	assert_string_equal(
	    printed, "[('Memory', '4096'), ('Name', '\"caf\xc3\xa9\"'), ('Bytes', '\"\\\\xff\\\\xfe\"'), "
		     "('Start', 'TARGET.Owner =!= \"bob\"')]");

	/* Through bytes, as on the wire. */
	g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes(v);
	g_autoptr(GVariant) received =
	    g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(KITE_AD_VARIANT_TYPE), bytes, FALSE));
	g_autoptr(KiteAd) back = kite_ad_from_variant(received, &error);
	assert_non_null(back);
	g_autofree char *t1 = kite_ad_to_text(ad);
	g_autofree char *t2 = kite_ad_to_text(back);
	assert_string_equal(t1, t2);
	g_autofree char *raw = NULL;
	assert_true(kite_ad_get_string(back, "Bytes", &raw));
	assert_string_equal(raw, "\xff\xfe");

	g_autoptr(KiteAd) empty = kite_ad_new();
	g_autoptr(GVariant) ev = g_variant_ref_sink(kite_ad_to_variant(empty));
	g_autoptr(KiteAd) empty_back = kite_ad_from_variant(ev, &error);
	assert_int_equal(kite_ad_size(empty_back), 0);
}

static GVariant *pairs(const char *const *kv)
{
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(ss)"));
	for (; kv[0]; kv += 2)
		g_variant_builder_add(&b, "(ss)", kv[0], kv[1]);
	return g_variant_ref_sink(g_variant_builder_end(&b));
}

static void assert_rejected(GVariant *v, int code, const char *message)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) ad = kite_ad_from_variant(v, &error);
	assert_null(ad);
	assert_non_null(error);
	if (!g_error_matches(error, KITE_ERROR, code) || strcmp(error->message, message) != 0)
		fail_msg("got \"%s\" (code %d), expected \"%s\" (code %d)", error->message, error->code,
			 message, code);
	g_variant_unref(v);
}

static void test_variant_rejects(void **state)
{
	assert_rejected(g_variant_ref_sink(g_variant_new("(ss)", "a", "1")), KITE_ERROR_PROTOCOL,
			"an ad must have type a(ss), not (ss)");
	assert_rejected(g_variant_ref_sink(g_variant_new_strv(NULL, 0)), KITE_ERROR_PROTOCOL,
			"an ad must have type a(ss), not as");

	const char *const bad_name[] = {"Ok", "1", "1abc", "2", NULL};
	assert_rejected(
	    pairs(bad_name), KITE_ERROR_INVALID,
	    "attribute 2: `1abc` is not a valid attribute name (use letters, digits and _, not starting "
	    "with a digit)");
	const char *const control[] = {"a\nb", "1", NULL};
	assert_rejected(
	    pairs(control), KITE_ERROR_INVALID,
	    "attribute 1: `a?b` is not a valid attribute name (use letters, digits and _, not starting "
	    "with a digit)");
	const char *const empty[] = {"", "1", NULL};
	assert_rejected(pairs(empty), KITE_ERROR_INVALID, "attribute 1: the attribute name is empty");
	g_autofree char *long_name = g_strnfill(1000, 'q');
	const char *const too_long[] = {long_name, "1", NULL};
	assert_rejected(
	    pairs(too_long), KITE_ERROR_INVALID,
	    "attribute 1: attribute name `qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq…` is longer than 128 "
	    "bytes");

	const char *const bad_expr[] = {"A", "1", "Req", "(Memory > 1", NULL};
	assert_rejected(pairs(bad_expr), KITE_ERROR_INVALID,
			"attribute `Req`, column 12: expected `)` but found end of expression");
	const char *const unknown_fn[] = {"Req", "system(\"rm\")", NULL};
	assert_rejected(pairs(unknown_fn), KITE_ERROR_INVALID,
			"attribute `Req`, column 1: unknown function `system`");
	const char *const duplicate[] = {"a", "1", "B", "2", "A", "3", NULL};
	assert_rejected(pairs(duplicate), KITE_ERROR_INVALID, "attribute `A` appears more than once");

	/* Exactly the limit is accepted, one more is not. */
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(ss)"));
	for (int i = 0; i < KITE_AD_MAX_ATTRS; i++) {
		g_autofree char *name = g_strdup_printf("A%d", i);
		g_variant_builder_add(&b, "(ss)", name, "1");
	}
	g_autoptr(GVariant) full = g_variant_ref_sink(g_variant_builder_end(&b));
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) ad = kite_ad_from_variant(full, &error);
	assert_non_null(ad);
	assert_int_equal(kite_ad_size(ad), KITE_AD_MAX_ATTRS);

	g_variant_builder_init(&b, G_VARIANT_TYPE("a(ss)"));
	for (int i = 0; i <= KITE_AD_MAX_ATTRS; i++) {
		g_autofree char *name = g_strdup_printf("A%d", i);
		g_variant_builder_add(&b, "(ss)", name, "1");
	}
	assert_rejected(g_variant_ref_sink(g_variant_builder_end(&b)), KITE_ERROR_LIMIT,
			"the ad has 1025 attributes; at most 1024 are allowed");

	/* Bytes from a peer that are not valid: GVariant reads the
	 * non-UTF-8 name as "", which is refused. */
	const char *const good[] = {"Ab", "1", NULL};
	g_autoptr(GVariant) template = pairs(good);
	g_autoptr(GBytes) good_bytes = g_variant_get_data_as_bytes(template);
	gsize size = 0;
	g_autofree guint8 *raw = g_memdup2(g_bytes_get_data(good_bytes, &size), g_bytes_get_size(good_bytes));
	guint8 *a = memchr(raw, 'A', size);
	assert_non_null(a);
	*a = 0xff;
	g_autoptr(GBytes) bad_bytes = g_bytes_new(raw, size);
	assert_rejected(
	    g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE("a(ss)"), bad_bytes, FALSE)),
	    KITE_ERROR_INVALID, "attribute 1: the attribute name is empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_set_lookup),
	    cmocka_unit_test(test_set_parsed),
	    cmocka_unit_test(test_getters),
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_text_errors),
	    cmocka_unit_test(test_variant),
	    cmocka_unit_test(test_variant_rejects),
	};
	return cmocka_run_group_tests_name("ad", tests, NULL, NULL);
}
