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

/* A fresh temporary directory for each test of a file: defines
 * `tmp_dir`, the cmocka fixtures `setup` and `teardown` that make and
 * remove it, and `tmp_path(name)` (newly allocated) for a file in it.
 * @template is g_dir_make_tmp's, e.g. "kite-auth-XXXXXX". */
#define KITE_TEST_TMP_DIR_FIXTURE(template)                                                                  \
	static char *tmp_dir;                                                                                \
	static int setup(void **state)                                                                       \
	{                                                                                                    \
		tmp_dir = g_dir_make_tmp(template, NULL);                                                    \
		assert_non_null(tmp_dir);                                                                    \
		return 0;                                                                                    \
	}                                                                                                    \
	static int teardown(void **state)                                                                    \
	{                                                                                                    \
		kite_test_remove_tree(&tmp_dir);                                                             \
		return 0;                                                                                    \
	}                                                                                                    \
	static G_GNUC_UNUSED char *tmp_path(const char *name)                                                \
	{                                                                                                    \
		return g_build_filename(tmp_dir, name, NULL);                                                \
	}
