/* test-config.c — config files (common/config.c over common/yaml-doc.c):
 * defaults, overrides of every type, every error message, the Markdown
 * description, and that docs/config.md documents every key of every
 * program's table (tests run from the top of the tree). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "config-keys.h"
#include "config.h"
#include "expr.h"
#include "util.h"

/* One key of every type, so that each conversion is exercised. */
static const KiteConfigKey test_keys[] = {
    {"name", KITE_CONFIG_STRING, "kite", "a string"},
    {"socket", KITE_CONFIG_STRING, NULL, "a string without default"},
    {"count", KITE_CONFIG_INT, "3", "a number"},
    {"verbose", KITE_CONFIG_BOOL, "false", "a flag"},
    {"timeout", KITE_CONFIG_DURATION, "90s", "a duration"},
    {"limit", KITE_CONFIG_SIZE, "1M", "a size"},
    {"users", KITE_CONFIG_STRV, "root, admin", "a list"},
    {"nobody", KITE_CONFIG_STRV, NULL, "an empty list"},
    {"start", KITE_CONFIG_EXPR, "KeyboardIdle > 15 * 60", "an expression"},
    {NULL},
};

static KiteConfig *load(const char *yaml)
{
	g_autoptr(GError) error = NULL;
	KiteConfig *cfg = kite_config_load_data("test.yaml", yaml, strlen(yaml), test_keys, &error);
	if (!cfg)
		fail_msg("unexpected error: %s", error->message);
	return cfg;
}

static void expect_error(const char *yaml, const char *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConfig) cfg = kite_config_load_data("test.yaml", yaml, strlen(yaml), test_keys, &error);
	assert_null(cfg);
	assert_non_null(error);
	assert_string_equal(error->message, expected);
	assert_true(g_error_matches(error, KITE_ERROR, KITE_ERROR_INVALID));
}

static void assert_strv(const char *const *got, const char *const *want)
{
	assert_non_null(got);
	guint i = 0;
	for (; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void test_defaults(void **state)
{
	g_autoptr(KiteConfig) cfg = load("");
	assert_string_equal(kite_config_get_string(cfg, "name"), "kite");
	assert_null(kite_config_get_string(cfg, "socket"));
	assert_int_equal(kite_config_get_int(cfg, "count"), 3);
	assert_false(kite_config_get_bool(cfg, "verbose"));
	assert_true(kite_config_get_duration(cfg, "timeout") == 90.0);
	assert_int_equal(kite_config_get_size(cfg, "limit"), 1024 * 1024);
	assert_strv(kite_config_get_strv(cfg, "users"), (const char *const[]){"root", "admin", NULL});
	assert_strv(kite_config_get_strv(cfg, "nobody"), (const char *const[]){NULL});
	assert_string_equal(kite_config_get_expr(cfg, "start"), "KeyboardIdle > 15 * 60");
}

static void test_schedd_defaults(void **state)
{
	/* No file at all: a working one-machine pool on loopback. */
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConfig) cfg = kite_config_load(NULL, kite_schedd_config_keys, &error);
	assert_non_null(cfg);
	assert_string_equal(kite_config_get_string(cfg, "listen"), "127.0.0.1:9618");
	assert_null(kite_config_get_string(cfg, "socket"));
	assert_strv(kite_config_get_strv(cfg, "admins"), (const char *const[]){"root", NULL});
	assert_int_equal(kite_config_get_int(cfg, "max_jobs"), 1000000);
	assert_int_equal(kite_config_get_size(cfg, "max_attribute_size"), 64 * 1024);
	assert_true(kite_config_get_duration(cfg, "client_timeout") == 60.0);
	assert_true(kite_config_get_duration(cfg, "history_retention") == 30 * 86400.0);
}

static void test_every_table_default_is_valid(void **state)
{
	for (const KiteConfigTable *t = kite_config_tables; t->program; t++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(KiteConfig) cfg = kite_config_load(NULL, t->keys, &error);
		if (!cfg)
			fail_msg("%s: %s", t->program, error->message);
	}
}

static void test_overrides(void **state)
{
	g_autoptr(KiteConfig) cfg = load("# every key\n"
					 "name: pool-1\n"
					 "socket: /run/kite.sock\n"
					 "count: 0\n"
					 "verbose: yes\n"
					 "timeout: 2.5m\n"
					 "limit: 3\n"
					 "users: [alice, 'bob smith']\n"
					 "nobody: carol, dave\n"
					 "start: 'KeyboardIdle > 60 && LoadAvg < 0.3'\n");
	assert_string_equal(kite_config_get_string(cfg, "name"), "pool-1");
	assert_string_equal(kite_config_get_string(cfg, "socket"), "/run/kite.sock");
	assert_int_equal(kite_config_get_int(cfg, "count"), 0);
	assert_true(kite_config_get_bool(cfg, "verbose"));
	assert_true(kite_config_get_duration(cfg, "timeout") == 150.0);
	assert_int_equal(kite_config_get_size(cfg, "limit"), 3);
	assert_strv(kite_config_get_strv(cfg, "users"), (const char *const[]){"alice", "bob smith", NULL});
	assert_strv(kite_config_get_strv(cfg, "nobody"), (const char *const[]){"carol", "dave", NULL});
	assert_string_equal(kite_config_get_expr(cfg, "start"), "KeyboardIdle > 60 && LoadAvg < 0.3");
}

static void test_values(void **state)
{
	g_autoptr(KiteConfig) a =
	    load("verbose: FALSE\nlimit: 2G\ntimeout: 1d\ncount: 9223372036854775807\n");
	assert_false(kite_config_get_bool(a, "verbose"));
	assert_int_equal(kite_config_get_size(a, "limit"), 2ULL * 1024 * 1024 * 1024);
	assert_true(kite_config_get_duration(a, "timeout") == 86400.0);
	assert_int_equal(kite_config_get_int(a, "count"), G_MAXINT64);
	g_autoptr(KiteConfig) b = load("verbose: on\nlimit: 512KiB\ntimeout: 250ms\nusers: []\n");
	assert_true(kite_config_get_bool(b, "verbose"));
	assert_int_equal(kite_config_get_size(b, "limit"), 512 * 1024);
	assert_true(kite_config_get_duration(b, "timeout") == 0.25);
	assert_strv(kite_config_get_strv(b, "users"), (const char *const[]){NULL});
}

static void test_empty_and_null(void **state)
{
	/* "" is an empty string; nothing, ~ or null keeps the default. */
	g_autoptr(KiteConfig) a = load("name: \"\"\nusers: ''\n");
	assert_string_equal(kite_config_get_string(a, "name"), "");
	assert_strv(kite_config_get_strv(a, "users"), (const char *const[]){NULL});
	g_autoptr(KiteConfig) b = load("name:\ncount: ~\nusers: null\n");
	assert_string_equal(kite_config_get_string(b, "name"), "kite");
	assert_int_equal(kite_config_get_int(b, "count"), 3);
	assert_strv(kite_config_get_strv(b, "users"), (const char *const[]){"root", "admin", NULL});
	g_autoptr(KiteConfig) c = load("---\n# only comments\n");
	assert_string_equal(kite_config_get_string(c, "name"), "kite");

	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConfig) d =
	    kite_config_load_data("schedd.yaml", "listen: \"\"\n", 11, kite_schedd_config_keys, &error);
	assert_non_null(d);
	assert_string_equal(kite_config_get_string(d, "listen"), "");
}

static void test_errors(void **state)
{
	expect_error("nmae: x\n", "test.yaml:1:1: unknown key `nmae` (did you mean `name`?)");
	expect_error("name: x\ncolour: blue\n",
		     "test.yaml:2:1: unknown key `colour` (see docs/config.md for the keys)");
	expect_error("name: x\nname: y\n", "test.yaml:2:1: duplicate key `name` (first given at line 1)");
	expect_error(
	    "- name\n",
	    "test.yaml:1:1: a config file is a mapping of keys to values, like `key: value`, not a list");
	expect_error(
	    "name\n",
	    "test.yaml:1:1: a config file is a mapping of keys to values, like `key: value`, not a string");
	expect_error("name: [a]\n", "test.yaml:1:7: `name` must be a string, not a list");
	expect_error("count: many\n", "test.yaml:1:8: `count` must be a whole number, not `many`");
	expect_error("count: -1\n", "test.yaml:1:8: `count` must be a whole number of at least 0, not `-1`");
	expect_error("count: 1.5\n", "test.yaml:1:8: `count` must be a whole number, not `1.5`");
	expect_error("count: {a: 1}\n", "test.yaml:1:8: `count` must be a whole number, not a mapping");
	expect_error("verbose: maybe\n", "test.yaml:1:10: `verbose` must be true or false, not `maybe`");
	expect_error("timeout: soon\n", "test.yaml:1:10: `timeout` must be a duration (a number of seconds, "
					"or with a unit ms, s, m, h or "
					"d, e.g. 15m), not `soon`");
	expect_error("timeout: -5s\n", "test.yaml:1:10: `timeout` must be a duration (a number of seconds, "
				       "or with a unit ms, s, m, h or "
				       "d, e.g. 15m), not `-5s`");
	expect_error("limit: 12X\n", "test.yaml:1:8: `limit` must be a size (a number of bytes, or with a "
				     "unit K, M, G or T, e.g. 512M "
				     "or 2G), not `12X`");
	expect_error("users: {a: b}\n",
		     "test.yaml:1:8: `users` must be a list or a comma-separated string, not a mapping");
	expect_error("users:\n  - alice\n  - [bob]\n",
		     "test.yaml:3:5: items of `users` must be strings, not a list");
	expect_error("users:\n  - alice\n  -\n",
		     "test.yaml:3:4: items of `users` must be strings, not empty");
	expect_error("start: [x]\n", "test.yaml:1:8: `start` must be an expression, not a list");
	expect_error("name: 'a\n",
		     "test.yaml:2:1: found unexpected end of stream, while scanning a quoted scalar at 1:7");
	expect_error("name: a\n\tcount: 1\n", "test.yaml:2:1: found a tab character that violates "
					      "indentation, while scanning a plain scalar at "
					      "1:7 (YAML does not allow tabs for indentation; use spaces)");
}

static void test_error_expression(void **state)
{
	const char *bad = "KeyboardIdle >";
	guint col = 0;
	g_autoptr(GError) perr = NULL;
	g_autoptr(KiteExpr) e = kite_expr_parse(bad, &col, &perr);
	assert_null(e);
	g_autofree char *yaml = g_strdup_printf("start: %s\n", bad);
	g_autofree char *want =
	    g_strdup_printf("test.yaml:1:%u: bad expression in `start`: %s", 7 + col, perr->message);
	expect_error(yaml, want);
}

static void test_bad_default(void **state)
{
	static const KiteConfigKey bad[] = {
	    {"ok", KITE_CONFIG_INT, "1", "fine"},
	    {"broken", KITE_CONFIG_DURATION, "soon", "not a duration"},
	    {NULL},
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConfig) cfg = kite_config_load(NULL, bad, &error);
	assert_null(cfg);
	assert_string_equal(error->message, "built-in default of `broken` is invalid: `soon`");
}

static void test_files(void **state)
{
	g_autofree char *dir = g_dir_make_tmp("kite-config-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "schedd.yaml", NULL);
	assert_true(
	    g_file_set_contents(path, "listen: 0.0.0.0:0\nmax_jobs: 10\nadmins: [alice]\n", -1, NULL));

	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConfig) cfg = kite_config_load(path, kite_schedd_config_keys, &error);
	assert_non_null(cfg);
	assert_string_equal(kite_config_get_string(cfg, "listen"), "0.0.0.0:0");
	assert_int_equal(kite_config_get_int(cfg, "max_jobs"), 10);
	assert_strv(kite_config_get_strv(cfg, "admins"), (const char *const[]){"alice", NULL});

	/* Messages name the file as given. */
	assert_true(g_file_set_contents(path, "listen: x\nmax_job: 10\n", -1, NULL));
	g_autoptr(GError) e1 = NULL;
	g_autoptr(KiteConfig) c1 = kite_config_load(path, kite_schedd_config_keys, &e1);
	assert_null(c1);
	g_autofree char *want1 =
	    g_strdup_printf("%s:2:1: unknown key `max_job` (did you mean `max_jobs`?)", path);
	assert_string_equal(e1->message, want1);

	g_autofree char *missing = g_build_filename(dir, "nope.yaml", NULL);
	g_autoptr(GError) e2 = NULL;
	g_autoptr(KiteConfig) c2 = kite_config_load(missing, kite_schedd_config_keys, &e2);
	assert_null(c2);
	g_autofree char *want2 = g_strdup_printf("open %s: No such file or directory", missing);
	assert_string_equal(e2->message, want2);
	assert_true(g_error_matches(e2, KITE_ERROR, KITE_ERROR_IO));

	g_autoptr(GString) big = g_string_new(NULL);
	while (big->len <= 1024 * 1024)
		g_string_append(big, "# padding padding padding padding padding padding padding padding\n");
	assert_true(g_file_set_contents(path, big->str, big->len, NULL));
	g_autoptr(GError) e3 = NULL;
	g_autoptr(KiteConfig) c3 = kite_config_load(path, kite_schedd_config_keys, &e3);
	assert_null(c3);
	g_autofree char *want3 =
	    g_strdup_printf("%s: too large (%" G_GSIZE_FORMAT " bytes; at most 1048576)", path, big->len);
	assert_string_equal(e3->message, want3);
	assert_true(g_error_matches(e3, KITE_ERROR, KITE_ERROR_LIMIT));

	g_autoptr(GError) e4 = NULL;
	g_autoptr(KiteConfig) c4 = kite_config_load(dir, kite_schedd_config_keys, &e4);
	assert_null(c4);
	g_autofree char *want4 = g_strdup_printf("read %s: Is a directory", dir);
	assert_string_equal(e4->message, want4);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_describe(void **state)
{
	static const KiteConfigKey keys[] = {
	    {"listen", KITE_CONFIG_STRING, "127.0.0.1:9618", "where to listen"},
	    {"socket", KITE_CONFIG_STRING, NULL, "a | b"},
	    {"empty", KITE_CONFIG_STRING, "", "nothing"},
	    {"n", KITE_CONFIG_INT, "1", "one"},
	    {"b", KITE_CONFIG_BOOL, "true", "yes"},
	    {"d", KITE_CONFIG_DURATION, "5m", "time"},
	    {"s", KITE_CONFIG_SIZE, "1G", "space"},
	    {"l", KITE_CONFIG_STRV, "a,b", "list"},
	    {"e", KITE_CONFIG_EXPR, "x > 1", "expr"},
	    {NULL},
	};
	g_autofree char *md = kite_config_describe("demo", keys);
	assert_string_equal(md, "### demo\n"
				"\n"
				"| key | type | default | meaning |\n"
				"|---|---|---|---|\n"
				"| `listen` | string | `127.0.0.1:9618` | where to listen |\n"
				"| `socket` | string | (unset) | a \\| b |\n"
				"| `empty` | string | (empty) | nothing |\n"
				"| `n` | whole number | `1` | one |\n"
				"| `b` | true/false | `true` | yes |\n"
				"| `d` | duration | `5m` | time |\n"
				"| `s` | size | `1G` | space |\n"
				"| `l` | list of strings | `a,b` | list |\n"
				"| `e` | expression | `x > 1` | expr |\n");
}

/* docs/config.md must have a table row for every key of every program,
 * in that program's own section ("### PROGRAM" up to the next heading of
 * that level or above), so that a key two programs share (pool_key_file)
 * is documented for each. */
static void test_docs_mention_every_key(void **state)
{
	g_autofree char *docs = NULL;
	if (!g_file_get_contents("docs/config.md", &docs, NULL, NULL))
		fail_msg("cannot read docs/config.md (run the test from the top of the tree)");
	for (const KiteConfigTable *t = kite_config_tables; t->program; t++) {
		g_autofree char *heading = g_strdup_printf("\n### %s\n", t->program);
		const char *start = strstr(docs, heading);
		if (!start)
			fail_msg("docs/config.md has no section \"### %s\"", t->program);
		start += strlen(heading);
		const char *h3 = strstr(start, "\n### "), *h2 = strstr(start, "\n## ");
		const char *end = h3 && (!h2 || h3 < h2) ? h3 : h2;
		g_autofree char *section = end ? g_strndup(start, end - start) : g_strdup(start);
		for (const KiteConfigKey *k = t->keys; k->key; k++) {
			g_autofree char *row = g_strdup_printf("| `%s` |", k->key);
			if (!strstr(section, row))
				fail_msg(
				    "docs/config.md does not document `%s` of %s (no row starting \"%s\" in its section)",
				    k->key, t->program, row);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_schedd_defaults),
	    cmocka_unit_test(test_every_table_default_is_valid),
	    cmocka_unit_test(test_overrides),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_empty_and_null),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_error_expression),
	    cmocka_unit_test(test_bad_default),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_describe),
	    cmocka_unit_test(test_docs_mention_every_key),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
