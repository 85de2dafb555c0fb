/* cgroup.h — jobs in cgroup v2 (docs/startd.md, "Limits and cgroups").
 *
 * The startd keeps one subtree, PARENT/NAME.HASH (PARENT from
 * `cgroup_parent`, HASH from the state directory, so two startds on a
 * machine never share one), and puts each job into a leaf of its own
 * below it.  The startd itself stays where it was started: the subtree
 * holds only job leaves, as cgroup v2's "no internal processes" rule
 * wants of any cgroup whose children get controllers.
 *
 * What a job leaf gives, with each controller the hierarchy delegates:
 *   memory  memory.max = request_memory, no swap, the whole leaf killed
 *           on OOM; without it the startd measures the leaf's resident
 *           memory at every poll and kills the leaf when it is over;
 *   cpu     cpu.max = request_cpus CPUs, cpu.weight 100 per CPU;
 * and always: every process the job starts stays in the leaf, so a
 * kill (cgroup.kill) reaches them all, and cpu.stat gives its CPU time.
 *
 * Where no cgroup v2 hierarchy is writable, the startd falls back to
 * rlimits (sandbox.c) and says why once. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KiteCgroups KiteCgroups;
typedef struct _KiteJobCgroup KiteJobCgroup;

/* The startd's subtree under @parent (absolute, or relative to the
 * cgroup v2 mount; see cgroup_parent), named @name.HASH(@state_dir):
 * created with the memory and cpu controllers enabled as far as the
 * hierarchy allows; job leaves left by an earlier startd of the same
 * state directory are killed and removed.  @mount overrides the cgroup
 * v2 mount point (tests; NULL: found in /proc/self/mountinfo).  NULL,
 * with the reason in @error, when jobs cannot have cgroups here.
 * @out_notes says what is missing (a controller that is not
 * delegated, …), or NULL when nothing is. */
KiteCgroups *kite_cgroups_open(const char *mount, const char *parent, const char *name,
			       const char *state_dir, char **out_notes, GError **error);
/* Kill what is left in the subtree and remove it.  Accepts NULL. */
void kite_cgroups_free(KiteCgroups *cg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteCgroups, kite_cgroups_free)
const char *kite_cgroups_path(const KiteCgroups *cg);
/* Whether job leaves get @controller ("memory", "cpu"). */
gboolean kite_cgroups_has(const KiteCgroups *cg, const char *controller);

/* A leaf @name for a job asking for @memory_mib MiB (0: no limit) and
 * @cpus CPUs (0: no limit). */
KiteJobCgroup *kite_job_cgroup_new(KiteCgroups *cg, const char *name, gint64 memory_mib, gint64 cpus,
				   GError **error);
/* Kill every process in the leaf and remove it (waiting a moment for
 * them to go).  Accepts NULL. */
void kite_job_cgroup_free(KiteJobCgroup *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteJobCgroup, kite_job_cgroup_free)
/* The leaf's cgroup.procs, open for writing: the job's process writes
 * "0" there between fork and exec, so that it and all it starts are
 * in the leaf from the first instruction.  Owned by @job. */
int kite_job_cgroup_procs_fd(const KiteJobCgroup *job);
const char *kite_job_cgroup_path(const KiteJobCgroup *job);

/* SIGKILL every process in the leaf (cgroup.kill; on kernels before 5.14
 * each process of cgroup.procs in turn). */
void kite_job_cgroup_kill(KiteJobCgroup *job);
/* Freeze (TRUE) or thaw the job's cgroup (cgroup.freeze): every process
 * in it, including any that left the job's process group or session.
 * FALSE where the kernel has no cgroup.freeze (before 5.2). */
gboolean kite_job_cgroup_freeze(KiteJobCgroup *job, gboolean frozen);

/* Without the memory controller: measure the leaf's resident memory now
 * (sum of the processes' RSS) and keep its peak.  Returns TRUE when it
 * is over the request (the caller kills the job).  With the controller
 * the kernel enforces the limit and this returns FALSE. */
gboolean kite_job_cgroup_sample_memory(KiteJobCgroup *job);

/* Whether the job went over its memory request: the kernel's OOM killer
 * acted in the leaf (memory.events), or a sample found it over. */
gboolean kite_job_cgroup_exceeded_memory(const KiteJobCgroup *job);

typedef struct {
	guint64 memory_peak; /* bytes: memory.peak, or the highest sample */
	guint64 user_usec, system_usec;
} KiteJobUsage;

/* What the job used so far (cpu.stat, memory.peak). */
void kite_job_cgroup_usage(const KiteJobCgroup *job, KiteJobUsage *out_usage);

/* The mount point of the cgroup v2 hierarchy in @mountinfo (the text of
 * /proc/self/mountinfo), preferring /sys/fs/cgroup; NULL if none.
 * Newly allocated. */
char *kite_cgroup_find_mount(const char *mountinfo);

G_END_DECLS
