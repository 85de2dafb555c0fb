/* test-collector.c — the schedd's collector role (schedd/collector.c):
 * slot ads stored and replaced, expiry by each ad's ClassAdLifetime or
 * the default, one daemon unable to overwrite or withdraw another's
 * slots, queries with a constraint, and the bounds on what a startd may
 * send. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include "ad.h"
#include "schedd/collector.h"

/* An aa(ss) of slot ads "slotN@machine" for N in 1..n. */
static GVariant *ads_for(const char *machine, guint n, const char *state, gint64 lifetime)
{
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("aa(ss)"));
	for (guint i = 1; i <= n; i++) {
		g_autoptr(KiteAd) ad = kite_ad_new();
		g_autofree char *name = g_strdup_printf("slot%u@%s", i, machine);
		kite_ad_set_string(ad, "Name", name);
		kite_ad_set_string(ad, "Machine", machine);
		kite_ad_set_string(ad, "State", state);
		kite_ad_set_int(ad, "SlotID", i);
		if (lifetime)
			kite_ad_set_int(ad, "ClassAdLifetime", lifetime);
		g_variant_builder_add_value(&b, kite_ad_to_variant(ad));
	}
	return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* The Names in a query result, space-separated. */
static char *names(GVariant *result)
{
	g_autoptr(GVariant) r = g_variant_ref_sink(result);
	g_autoptr(GString) s = g_string_new(NULL);
	for (gsize i = 0; i < g_variant_n_children(r); i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(r, i);
		g_autoptr(KiteAd) ad = kite_ad_from_variant(child, NULL);
		g_autofree char *name = NULL;
		assert_true(kite_ad_get_string(ad, "Name", &name));
		g_string_append_printf(s, "%s%s", s->len ? " " : "", name);
	}
	return g_strdup(s->str);
}

static void test_update_and_query(void **state)
{
	g_autoptr(KiteCollector) c = kite_collector_new(100, 15);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) b = ads_for("b", 2, "Owner", 0);
	g_autoptr(GVariant) a = ads_for("a", 1, "Unclaimed", 0);
	guint stored = 0;
	assert_true(kite_collector_update(c, b, "daemon:startd@b", 100, &stored, &error));
	assert_int_equal(stored, 2);
	assert_int_equal(kite_collector_last_freed(c), 0); /* Owner: nothing free */
	assert_true(kite_collector_update(c, a, "daemon:startd@a", 100, &stored, &error));
	assert_int_equal(kite_collector_last_freed(c), 1); /* a new Unclaimed slot */
	assert_true(kite_collector_update(c, a, "daemon:startd@a", 100, &stored, &error));
	assert_int_equal(kite_collector_last_freed(c), 0); /* still Unclaimed: not news */
	g_autofree char *all = names(kite_collector_query(c, NULL));
	assert_string_equal(all, "slot1@a slot1@b slot2@b"); /* sorted by name */

	g_autoptr(KiteExpr) owner = kite_expr_parse("State == \"Owner\"", NULL, NULL);
	g_autofree char *owned = names(kite_collector_query(c, owner));
	assert_string_equal(owned, "slot1@b slot2@b");

	/* A newer ad replaces the old one; the schedd says who sent it. */
	g_autoptr(GVariant) b2 = ads_for("b", 1, "Unclaimed", 0);
	assert_true(kite_collector_update(c, b2, "daemon:startd@b", 101, &stored, &error));
	assert_int_equal(kite_collector_last_freed(c), 1); /* slot1@b: Owner -> Unclaimed */
	assert_int_equal(kite_collector_size(c), 3);
	g_autofree char *owned2 = names(kite_collector_query(c, owner));
	assert_string_equal(owned2, "slot2@b");
	g_autoptr(KiteExpr) who =
	    kite_expr_parse("AuthenticatedIdentity == \"daemon:startd@b\" && LastHeardFrom > 0", NULL, NULL);
	g_autofree char *byb = names(kite_collector_query(c, who));
	assert_string_equal(byb, "slot1@b slot2@b");
}

static void test_expiry(void **state)
{
	g_autoptr(KiteCollector) c = kite_collector_new(100, 15);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) a = ads_for("a", 1, "Owner", 3); /* its own lifetime */
	g_autoptr(GVariant) b = ads_for("b", 1, "Owner", 0); /* the default, 15 s */
	guint stored;
	assert_true(kite_collector_update(c, a, "daemon:startd@a", 100, &stored, &error));
	assert_true(kite_collector_update(c, b, "daemon:startd@b", 100, &stored, &error));
	assert_int_equal(kite_collector_expire(c, 102.9), 0);
	assert_int_equal(kite_collector_expire(c, 103.0), 1);
	g_autofree char *left = names(kite_collector_query(c, NULL));
	assert_string_equal(left, "slot1@b");
	/* Renewal pushes expiry forward. */
	assert_true(kite_collector_update(c, b, "daemon:startd@b", 110, &stored, &error));
	assert_int_equal(kite_collector_expire(c, 116), 0);
	assert_int_equal(kite_collector_expire(c, 125), 1);
	assert_int_equal(kite_collector_size(c), 0);

	/* Lifetimes are clamped: 0 s would never be seen, a year too long. */
	g_autoptr(GVariant) y = ads_for("y", 1, "Owner", 365 * 86400);
	assert_true(kite_collector_update(c, y, "daemon:startd@y", 0, &stored, &error));
	assert_int_equal(kite_collector_expire(c, 3600), 1);
}

static void test_identity(void **state)
{
	g_autoptr(KiteCollector) c = kite_collector_new(100, 15);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) a = ads_for("a", 2, "Owner", 0);
	g_autoptr(GVariant) fake = ads_for("a", 1, "Unclaimed", 0);
	guint stored;
	assert_true(kite_collector_update(c, a, "daemon:startd@a", 100, &stored, &error));
	/* Another daemon cannot take over a live slot... */
	assert_true(kite_collector_update(c, fake, "daemon:startd@evil", 101, &stored, &error));
	assert_int_equal(stored, 0);
	g_autoptr(KiteExpr) owner = kite_expr_parse("State == \"Owner\"", NULL, NULL);
	g_autofree char *still = names(kite_collector_query(c, owner));
	assert_string_equal(still, "slot1@a slot2@a");
	/* ...nor withdraw it. */
	const char *const slot1[] = {"SLOT1@A"};
	assert_int_equal(kite_collector_invalidate(c, slot1, 1, "daemon:startd@evil"), 0);
	assert_int_equal(kite_collector_invalidate(c, slot1, 1, "daemon:startd@a"), 1);
	assert_int_equal(kite_collector_size(c), 1);
	/* Once the owner's ad has expired, the name is free again. */
	assert_true(kite_collector_update(c, fake, "daemon:startd@evil", 200, &stored, &error));
	assert_int_equal(stored, 1);
}

static void test_limits(void **state)
{
	g_autoptr(KiteCollector) c = kite_collector_new(3, 15);
	guint stored = 99;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) four = ads_for("a", 4, "Owner", 0);
	assert_true(kite_collector_update(c, four, "daemon:startd@a", 1, &stored, &error));
	assert_int_equal(stored, 3); /* the table is full */
	assert_int_equal(kite_collector_size(c), 3);

	g_autoptr(GVariant) many = ads_for("m", KITE_COLLECTOR_MAX_ADS_PER_UPDATE + 1, "Owner", 0);
	stored = 99;
	assert_false(kite_collector_update(c, many, "daemon:startd@m", 1, &stored, &error));
	assert_int_equal(stored, 99);
	assert_kite_error(error, KITE_ERROR_LIMIT, "1025 slot ads in one update; at most 1024 are accepted");
	g_clear_error(&error);

	/* An ad without a Name refuses the whole message. */
	g_autoptr(GVariant) bad =
	    g_variant_ref_sink(g_variant_new_parsed("[[('Name', '\"slot1@z\"')], [('State', '\"Owner\"')]]"));
	g_autoptr(KiteCollector) c2 = kite_collector_new(100, 15);
	assert_false(kite_collector_update(c2, bad, "daemon:startd@z", 1, &stored, &error));
	assert_kite_error(error, KITE_ERROR_INVALID, "slot ad 2 has no Name (a string of 1 to 256 bytes)");
	assert_int_equal(kite_collector_size(c2), 0);
	g_clear_error(&error);
	g_autoptr(GVariant) syntax = g_variant_ref_sink(g_variant_new_parsed("[[('Name', '\"x\" +')]]"));
	assert_false(kite_collector_update(c2, syntax, "daemon:startd@z", 1, &stored, &error));
	assert_non_null(strstr(error->message, "slot ad 1: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_update_and_query),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests_name("collector", tests, NULL, NULL);
}
