/* activity-load.c — the load source: the 1-minute load average from
 * /proc/loadavg, and NonJobLoadAvg, the load the owner (not Kite's
 * jobs) puts on the machine — Condor's NonCondorLoadAvg: the load
 * average less the jobs' own CPU use, measured from /proc/PID/stat of
 * every process in the jobs' sessions and averaged like the kernel's
 * 1-minute load average, so that the two can be subtracted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the jobs' own load ---- */

/* The kernel's 1-minute load average decays with a time constant of
 * 60 s; the jobs' CPU use is averaged the same way. */
#define LOAD_TIME_CONSTANT 60.0
/* Longest /proc/PID/stat read. */
#define STAT_MAX 4096

struct _KiteJobLoad {
	char *proc_dir;
	double ticks_per_second;
	GHashTable *ticks; /* pid -> guint64 utime + stime at the last sample */
	double last;	   /* monotonic seconds of the last sample, < 0 before the first */
	double average;	   /* CPUs */
};

KiteJobLoad *kite_job_load_new(const char *proc_dir, double ticks_per_second)
{
	KiteJobLoad *jl = g_new0(KiteJobLoad, 1);
	jl->proc_dir = g_strdup(proc_dir);
	jl->ticks_per_second = ticks_per_second > 0 ? ticks_per_second : 100;
	jl->ticks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	jl->last = -1;
	return jl;
}

void kite_job_load_free(KiteJobLoad *jl)
{
	if (!jl)
		return;
	g_free(jl->proc_dir);
	g_hash_table_unref(jl->ticks);
	g_free(jl);
}

gboolean kite_job_load_parse_stat(const char *text, gint64 *out_session, guint64 *out_ticks)
{
	/* "PID (COMM) STATE PPID PGRP SESSION … UTIME(14) STIME(15) …"; COMM
	 * may hold spaces and parentheses, so fields start after the last ')'. */
	const char *p = strrchr(text, ')');
	if (!p)
		return FALSE;
	g_auto(GStrv) f = g_strsplit(p + 1, " ", 16);
	/* f[0] is the empty string before the first space: field N is f[N - 2]. */
	if (g_strv_length(f) < 15)
		return FALSE;
	char *end;
	gint64 session = g_ascii_strtoll(f[4], &end, 10);
	if (*end)
		return FALSE;
	guint64 utime = g_ascii_strtoull(f[12], &end, 10);
	if (*end)
		return FALSE;
	guint64 stime = g_ascii_strtoull(f[13], &end, 10);
	if (*end && *end != ' ')
		return FALSE;
	*out_session = session;
	*out_ticks = utime + stime;
	return TRUE;
}

double kite_job_load_sample(KiteJobLoad *jl, const GPid *sessions, guint n, double now)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	guint64 delta = 0;
	g_autoptr(GDir) dir = n > 0 ? g_dir_open(jl->proc_dir, 0, NULL) : NULL;
	const char *name;
	while (dir && (name = g_dir_read_name(dir))) {
		char *end;
		gint64 pid = g_ascii_strtoll(name, &end, 10);
		if (*end || pid <= 0)
			continue;
		g_autofree char *path = g_build_filename(jl->proc_dir, name, "stat", NULL);
		g_autofree char *text = NULL;
		gsize len;
		/* A process may end between the listing and the read. */
		if (!g_file_get_contents(path, &text, &len, NULL) || len > STAT_MAX)
			continue;
		gint64 session;
		guint64 ticks;
		if (!kite_job_load_parse_stat(text, &session, &ticks))
			continue;
		gboolean ours = FALSE;
		for (guint i = 0; i < n && !ours; i++)
			ours = session == sessions[i];
		if (!ours)
			continue;
		const guint64 *before = g_hash_table_lookup(jl->ticks, GINT_TO_POINTER((gint)pid));
		/* A process not seen at the last sample started since then:
		 * all of its CPU time is new. */
		if (jl->last >= 0)
			delta += before && *before <= ticks ? ticks - *before : (before ? 0 : ticks);
		guint64 *keep = g_new(guint64, 1);
		*keep = ticks;
		g_hash_table_insert(seen, GINT_TO_POINTER((gint)pid), keep);
	}
	g_hash_table_unref(jl->ticks);
	jl->ticks = g_steal_pointer(&seen);
	if (jl->last >= 0 && now > jl->last) {
		double dt = now - jl->last;
		double rate = (double)delta / jl->ticks_per_second / dt;
		double decay = exp(-dt / LOAD_TIME_CONSTANT);
		jl->average = jl->average * decay + rate * (1 - decay);
	}
	if (jl->last < 0 || now > jl->last)
		jl->last = now;
	return jl->average;
}
