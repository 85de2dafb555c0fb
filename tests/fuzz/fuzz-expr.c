/* fuzz-expr.c — the expression parser (common/expr-parse.c) and
 * evaluator: any text either parses or is refused with a message; what
 * parses prints as text that parses back to the same print, and both
 * trees evaluate alike against the same ads. */
#include "fuzz.h"

#include <string.h>

#include "ad.h"
#include "expr.h"

static KiteAd *my_ad, *target_ad;

static void make_ads(void)
{
	GError *error = NULL;
	my_ad = kite_ad_parse("Memory = 2048\nName = \"slot1@host\"\nLoadAvg = 0.25\nKeyboardIdle = 900\n"
			      "Start = KeyboardIdle > 600 && LoadAvg < 0.3\nSelf = Self + 1\n",
			      &error);
	target_ad = kite_ad_parse("RequestMemory = 512\nOwner = \"alice\"\nRequirements = TARGET.Memory >= "
				  "MY.RequestMemory\nRank = TARGET.Memory\nLoop = MY.Loop\n",
				  &error);
	if (!my_ad || !target_ad)
		abort();
}

static char *eval_text(const KiteExpr *e)
{
	KiteValue v = KITE_VALUE_INIT;
	kite_expr_eval(e, my_ad, target_ad, &v);
	char *s = kite_value_to_string(&v);
	kite_value_clear(&v);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!my_ad)
		make_ads();
	g_autofree char *text = kite_fuzz_string(data, size);
	GError *error = NULL;
	guint column = 0;
	g_autoptr(KiteExpr) e = kite_expr_parse(text, &column, &error);
	if (!e) {
		kite_fuzz_require(error && error->message[0], "a refused expression has a message");
		g_error_free(error);
		return 0;
	}
	kite_fuzz_require(!error, "a parsed expression sets no error");
	g_autofree char *printed = kite_expr_to_string(e);
	g_autoptr(KiteExpr) again = kite_expr_parse(printed, &column, &error);
	kite_fuzz_require(again, "printed form parses back: <%s> from <%s>: %s", printed, text,
			  error ? error->message : "");
	g_autofree char *reprinted = kite_expr_to_string(again);
	kite_fuzz_require(strcmp(printed, reprinted) == 0, "print is stable: <%s> then <%s>", printed, reprinted);

	g_autofree char *v1 = eval_text(e);
	g_autofree char *v2 = eval_text(again);
	/* time() may tick between the two */
	kite_fuzz_require(strstr(printed, "time()") || strcmp(v1, v2) == 0, "<%s> and its print <%s> evaluate alike: %s vs %s", text, printed,
			  v1, v2);

	g_autoptr(GPtrArray) conj = kite_expr_conjuncts(e);
	g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	kite_expr_collect_references(e, names);
	return 0;
}
