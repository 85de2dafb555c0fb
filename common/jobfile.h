/* jobfile.h — job.yaml, parsed with libyaml into a job ad (docs/job-file.md).
 *
 * A job file describes one cluster: a template ad whose strings may
 * contain $(Cluster) and $(Process), and a proc count (`queue`).  The
 * schedd expands the template once per proc when it knows the cluster
 * id.  Every error names the place: "job.yaml:7:3: unknown key
 * `request_memroy` (did you mean `request_memory`?)".
 *
 * Attributes produced (Condor's names, so pool users feel at home):
 *   Cmd (absolute path), Arguments (a shell-quoted string),
 *   Environment (shell-quoted NAME=VALUE words), In, Out, Err,
 *   TransferInput (comma-separated), Iwd (absolute), Requirements,
 *   Rank, RequestCpus, RequestMemory (MiB), RequestDisk (KiB), JobPrio,
 *   CheckpointMode ("preload" | "linked" | "none"), CheckpointInterval
 *   (seconds; absent = the agent decides), MaxRetries.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

#include "ad.h"

G_BEGIN_DECLS

/* Largest job file accepted and most procs in one file. */
#define KITE_JOBFILE_MAX_SIZE  (1024 * 1024)
#define KITE_JOBFILE_MAX_QUEUE 1000000

typedef struct {
	KiteAd *ad;  /* the template, owned */
	guint queue; /* number of procs, >= 1 */
} KiteJobFile;

/* Parse @len bytes of YAML.  @display_name is used in messages ("job.yaml"
 * or "<stdin>"); relative paths in the file (executable, initial_dir,
 * input files) are resolved against @cwd; the executable must exist and
 * be executable (checked relative to initial_dir, as Condor does).
 * The default requirements name this host's architecture in Condor's
 * spelling ("X86_64") and "LINUX". */
KiteJobFile *kite_jobfile_parse(const char *display_name, const char *data, gsize len, const char *cwd,
				GError **error);
void kite_jobfile_free(KiteJobFile *jf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteJobFile, kite_jobfile_free)

/* A copy of @tmpl with $(Cluster)/$(ClusterId) and $(Process)/$(ProcId)
 * replaced in every string attribute, and ClusterId and ProcId set.
 * "$$" stands for a literal "$". */
KiteAd *kite_jobfile_expand(const KiteAd *tmpl, gint64 cluster, gint64 proc);

G_END_DECLS
