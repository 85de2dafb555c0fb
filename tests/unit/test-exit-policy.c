/* test-exit-policy.c — a job's on_exit_hold / on_exit_remove
 * (schedd/exit-policy.c): Condor's order (hold first, then remove), the
 * exit attributes as the history will have them, a definite false needed
 * to run a job again, Kite's default when neither is set. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-helpers.h"

#include "ad.h"
#include "schedd/schedd.h"

static KiteAd *job(const char *hold, const char *remove)
{
	KiteAd *ad = kite_ad_new();
	kite_ad_set_int(ad, "ClusterId", 1);
	if (hold)
		assert_true(kite_ad_set_parsed(ad, "OnExitHold", hold, NULL));
	if (remove)
		assert_true(kite_ad_set_parsed(ad, "OnExitRemove", remove, NULL));
	return ad;
}

static void expect(const KiteAd *ad, gint64 code, gint64 sig, KiteExitPolicy want, const char *reason)
{
	g_autofree char *why = NULL;
	assert_int_equal(kite_exit_policy(ad, code, sig, &why), want);
	if (reason)
		assert_string_equal(why, reason);
	else
		assert_null(why);
}

static void test_neither(void **state)
{
	(void)state;
	g_autoptr(KiteAd) ad = job(NULL, NULL);
	expect(ad, 0, 0, KITE_EXIT_DEFAULT, NULL);
	expect(ad, 3, 0, KITE_EXIT_DEFAULT, NULL);
	expect(ad, 0, 9, KITE_EXIT_DEFAULT, NULL);
}

static void test_hold(void **state)
{
	(void)state;
	g_autoptr(KiteAd) ad = job("ExitBySignal == false && ExitCode != 0", NULL);
	expect(ad, 0, 0, KITE_EXIT_REMOVE, NULL);
	expect(ad, 2, 0, KITE_EXIT_HOLD,
	       "The job attribute OnExitHold expression 'ExitBySignal == false && ExitCode != 0' evaluated to "
	       "TRUE");
	/* killed by a signal: ExitCode is undefined, the clause is not true */
	expect(ad, 0, 9, KITE_EXIT_REMOVE, NULL);
}

static void test_remove(void **state)
{
	(void)state;
	/* retry until it succeeds, as Condor users write it */
	g_autoptr(KiteAd) ad = job(NULL, "ExitBySignal == false && ExitCode == 0");
	expect(ad, 0, 0, KITE_EXIT_REMOVE, NULL);
	expect(ad, 1, 0, KITE_EXIT_REQUEUE,
	       "The job attribute OnExitRemove expression 'ExitBySignal == false && ExitCode == 0' evaluated to "
	       "FALSE: it runs again");
	expect(ad, 0, 11, KITE_EXIT_REQUEUE,
	       "The job attribute OnExitRemove expression 'ExitBySignal == false && ExitCode == 0' evaluated to "
	       "FALSE: it runs again");
	/* undefined is not false: the job leaves instead of running for ever */
	g_autoptr(KiteAd) undef = job(NULL, "NoSuchAttribute == 3");
	expect(undef, 1, 0, KITE_EXIT_REMOVE, NULL);
}

static void test_hold_wins(void **state)
{
	(void)state;
	g_autoptr(KiteAd) ad = job("ExitCode == 42", "false");
	expect(ad, 42, 0, KITE_EXIT_HOLD, "The job attribute OnExitHold expression 'ExitCode == 42' evaluated to TRUE");
	expect(ad, 1, 0, KITE_EXIT_REQUEUE, "The job attribute OnExitRemove expression 'false' evaluated to FALSE: it runs again");
	/* ExitSignal is there for a signal */
	g_autoptr(KiteAd) sig = job("ExitSignal == 9", NULL);
	expect(sig, 0, 9, KITE_EXIT_HOLD, "The job attribute OnExitHold expression 'ExitSignal == 9' evaluated to TRUE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_neither),
	    cmocka_unit_test(test_hold),
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_hold_wins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
