/* Unit tests for schedd/userlog.c: events in Condor's user-log format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>
#include <glib.h>

#include "schedd/userlog.h"

static char *format(const char *event, const char *host, const char *detail)
{
	KiteJobId id = {.cluster = 12, .proc = 3};
	g_autofree char *text = kite_userlog_format(&id, 0, event, host, detail, "schedd@sub");
	/* the time stamp depends on the time zone: check it, then drop it */
	g_assert_true(g_regex_match_simple("^\\d{3} \\(012\\.003\\.000\\) \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d ",
					   text, 0, 0));
	return g_strdup_printf("%.3s%s", text, text + strlen("000 (012.003.000) 1970-01-01 00:00:00"));
}

static void test_terminated(void **state)
{
	g_autofree char *a = format("exited", "slot1@ws", "exit code 0");
	assert_string_equal(a, "005 Job terminated.\n\t(1) Normal termination (return value 0)\n...\n");
	g_autofree char *b = format("exited", "slot1@ws", "signal 9");
	assert_string_equal(b, "005 Job terminated.\n\t(0) Abnormal termination (signal 9)\n...\n");
}

static void test_run_events(void **state)
{
	g_autofree char *a = format("submitted", "", "alice");
	assert_string_equal(a, "000 Job submitted from host: <schedd@sub>\n\tOwner: alice\n...\n");
	g_autofree char *b = format("started", "slot2@ws", "");
	assert_string_equal(b, "001 Job executing on host: <slot2@ws>\n...\n");
	g_autofree char *c = format("requeued", "slot2@ws", "the owner came back");
	assert_string_equal(c, "004 Job was evicted.\n\tthe owner came back\n\tOn host: slot2@ws\n...\n");
	g_autofree char *d = format("checkpoint", "slot2@ws", "1048576 bytes, 0.120 s");
	assert_string_equal(d, "003 Job was checkpointed.\n\t1048576 bytes, 0.120 s\n\tOn host: slot2@ws\n...\n");
	g_autofree char *e = format("suspended", "slot2@ws", "");
	assert_string_equal(e, "010 Job was suspended.\n\tOn host: slot2@ws\n...\n");
}

static void test_generic_and_multiline(void **state)
{
	g_autofree char *a = format("checkpoint-server", "slot2@ws", "ckpt_server@c1: on the machine's subnet");
	assert_string_equal(a, "008 checkpoint-server on slot2@ws\n\tckpt_server@c1: on the machine's subnet\n...\n");
	g_autofree char *b = format("held", "", "line one\nline two");
	assert_string_equal(b, "012 Job was held.\n\tline one\n\tline two\n...\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_terminated),
	    cmocka_unit_test(test_run_events),
	    cmocka_unit_test(test_generic_and_multiline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
