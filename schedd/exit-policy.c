/* exit-policy.c — a job's on_exit_hold and on_exit_remove (job file
 * keys; Condor's OnExitHold and OnExitRemove), evaluated when a run ends
 * with an exit code or a signal, with ExitCode or ExitBySignal and
 * ExitSignal set in the job's ad as they will be in its history.
 *
 * Condor's order: OnExitHold true holds the job (HoldReasonCode 3);
 * else OnExitRemove false puts it back to Idle to run again; else it
 * leaves the queue.  A job with neither keeps Kite's default: an exit
 * leaves the queue, a signal is retried up to MaxRetries. */
#include "schedd.h"

KiteExitPolicy kite_exit_policy(const KiteAd *job, gint64 code, gint64 sig, char **out_reason)
{
	*out_reason = NULL;
	KiteExpr *hold = kite_ad_lookup(job, "OnExitHold"), *remove = kite_ad_lookup(job, "OnExitRemove");
	if (!hold && !remove)
		return KITE_EXIT_DEFAULT;
	g_autoptr(KiteAd) ad = kite_ad_copy(job);
	kite_ad_set_bool(ad, "ExitBySignal", sig > 0);
	if (sig > 0)
		kite_ad_set_int(ad, "ExitSignal", sig);
	else
		kite_ad_set_int(ad, "ExitCode", code);
	KiteValue v = KITE_VALUE_INIT;
	if (hold) {
		kite_ad_eval(ad, "OnExitHold", NULL, &v);
		gboolean yes = kite_value_is_true(&v);
		kite_value_clear(&v);
		if (yes) {
			g_autofree char *text = kite_expr_to_string(hold);
			/* Condor's words, as for the periodic expressions */
			*out_reason = g_strdup_printf("The job attribute OnExitHold expression '%s' evaluated to TRUE",
						      text);
			return KITE_EXIT_HOLD;
		}
	}
	if (remove) {
		kite_ad_eval(ad, "OnExitRemove", NULL, &v);
		/* only a definite false keeps the job: undefined or an error
		 * must not make it run for ever */
		gboolean no = v.type == KITE_VALUE_BOOL ? !v.b
			      : v.type == KITE_VALUE_INT ? v.i == 0
			      : FALSE;
		kite_value_clear(&v);
		if (no) {
			g_autofree char *text = kite_expr_to_string(remove);
			*out_reason = g_strdup_printf(
			    "The job attribute OnExitRemove expression '%s' evaluated to FALSE: it runs again", text);
			return KITE_EXIT_REQUEUE;
		}
	}
	return KITE_EXIT_REMOVE;
}
