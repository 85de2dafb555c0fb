/* activity-load.c — the load source: the 1-minute load average from
 * /proc/loadavg, and NonJobLoadAvg, the load the owner (not Kite's
 * jobs) puts on the machine — Condor's NonCondorLoadAvg. */
#include <stdlib.h>

#include "activity.h"
#include "util.h"

/* /proc/loadavg is one short line: "0.78 0.87 1.01 3/95 28634". */
#define LOADAVG_MAX 256

gboolean kite_activity_load_read(const char *path, double *out_load, GError **error)
{
	g_autofree char *text = NULL;
	gsize len = 0;
	g_autoptr(GError) local = NULL;
	if (!g_file_get_contents(path, &text, &len, &local))
		return kite_throw(error, KITE_ERROR_IO, "%s", local->message);
	if (len > LOADAVG_MAX)
		return kite_throw(error, KITE_ERROR_INVALID, "%s: longer than a load average line", path);
	char *end = NULL;
	double load = g_ascii_strtod(text, &end);
	if (end == text || !(load >= 0) || load > 1e6 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return kite_throw(error, KITE_ERROR_INVALID, "%s: no load average at the start of \"%.40s\"",
				  path, text);
	*out_load = load;
	return TRUE;
}

double kite_activity_nonjob_load(double load, double job_load)
{
	double d = load - job_load;
	return d > 0 ? d : 0;
}
