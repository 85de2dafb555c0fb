/* activity.h — owner activity (DESIGN.md §3).  Each source is a small
 * module (activity-tty.c, activity-input.c, activity-logind.c,
 * activity-file.c) that says when the owner last did something;
 * activity.c combines them into KeyboardIdle and ConsoleIdle and adds
 * the load average (activity-load.c).
 *
 * A source that finds nothing to watch on this machine (no utmp, no
 * /dev/input, no logind) fails its poll with a GError saying so;
 * activity.c logs that once and carries on with the others. */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

typedef struct _KiteActivitySource KiteActivitySource;

typedef struct {
	const char *name;
	gboolean console; /* its idle time counts for ConsoleIdle as well */
	/* Write the wall time (seconds) of the owner's last activity, or -1
	 * when the source works but knows nothing yet.  FALSE with @error
	 * when the source has nothing to watch here. */
	gboolean (*poll)(KiteActivitySource *src, gint64 now, gint64 *out_last, GError **error);
	void (*free)(gpointer priv);
} KiteActivityOps;

struct _KiteActivitySource {
	const KiteActivityOps *ops;
	gpointer priv;
	char *failure; /* the last failure logged, so it is logged once */
};

/* Takes @priv; @ops is static. */
KiteActivitySource *kite_activity_source_new(const KiteActivityOps *ops, gpointer priv);
void kite_activity_source_free(KiteActivitySource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteActivitySource, kite_activity_source_free)

/* The sources.  Paths are parameters so that tests can point them at
 * fakes. */
KiteActivitySource *kite_activity_tty_new(const char *utmp_path, const char *dev_dir);
KiteActivitySource *kite_activity_input_new(const char *input_dir);
KiteActivitySource *kite_activity_logind_new(void);
KiteActivitySource *kite_activity_file_new(const char *path);

/* The 1-minute load average from @path (a /proc/loadavg). */
gboolean kite_activity_load_read(const char *path, double *out_load, GError **error);
/* NonJobLoadAvg: @load less what the slot's jobs use (never below 0). */
double kite_activity_nonjob_load(double load, double job_load);

/* The jobs' own load: the CPU time (utime + stime) of every process
 * in the jobs' sessions, read from PROC_DIR/PID/stat at each sample,
 * as a rate in CPUs averaged over the last minute the way the kernel
 * averages the load (time constant 60 s).  Processes that ended
 * between samples take their last interval's CPU with them, as in
 * Condor's process-family accounting. */
typedef struct _KiteJobLoad KiteJobLoad;
/* @proc_dir is "/proc" (tests give a fake); @ticks_per_second is
 * sysconf(_SC_CLK_TCK). */
KiteJobLoad *kite_job_load_new(const char *proc_dir, double ticks_per_second);
void kite_job_load_free(KiteJobLoad *jl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteJobLoad, kite_job_load_free)
/* Sample the processes of the sessions @sessions (each job leads its
 * own) at monotonic time @now (seconds); returns the jobs' load.  The
 * first sample only records. */
double kite_job_load_sample(KiteJobLoad *jl, const GPid *sessions, guint n, double now);
/* Parse a /proc/PID/stat line: its session and utime + stime (ticks). */
gboolean kite_job_load_parse_stat(const char *text, gint64 *out_session, guint64 *out_ticks);

/* One sample of everything. */
typedef struct {
	gint64 keyboard_idle; /* seconds */
	gint64 console_idle;  /* seconds, or -1 when no console source knows */
	gboolean have_load;
	double load_avg;
	double nonjob_load_avg;
} KiteActivitySample;

typedef struct _KiteActivity KiteActivity;

/* The sources named in the config's activity_sources (and the file
 * source when activity_file is set).  An unknown name is an error. */
KiteActivity *kite_activity_new(const KiteConfig *cfg, GError **error);
/* For tests: a set made of the given sources (taken) and load path. */
KiteActivity *kite_activity_new_from(KiteActivitySource **sources, guint n, const char *loadavg_path,
				     const char *uptime_path);
void kite_activity_free(KiteActivity *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteActivity, kite_activity_free)

/* Poll every source at wall time @now.  KeyboardIdle is the smallest
 * idle time of any source; when no source knows anything it is the
 * time since boot (nobody has touched the machine since it started,
 * as far as Kite can tell).  @job_load is the CPU load of the jobs. */
void kite_activity_sample(KiteActivity *a, gint64 now, double job_load, KiteActivitySample *out);

G_END_DECLS
