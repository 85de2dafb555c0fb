/* test-helpers.h — small assertions shared by the cmocka unit tests.
 * Include after <cmocka.h>.  Header-only: each test is its own program. */
#pragma once

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* @error is a KITE_ERROR with exactly @code and @message. */
static inline void assert_kite_error(const GError *error, KiteErrorCode code, const char *message)
{
	assert_non_null(error);
	if (error->domain != KITE_ERROR || error->code != (int)code || strcmp(error->message, message) != 0)
		fail_msg("expected KITE_ERROR %d \"%s\", got %s %d \"%s\"", code, message,
			 g_quark_to_string(error->domain), error->code, error->message);
}

/* Remove a test's temporary directory and everything in it. */
static inline void kite_test_remove_tree(char **dir)
{
	if (!*dir)
		return;
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", *dir);
	assert_int_equal(system(cmd), 0);
	g_clear_pointer(dir, g_free);
}
