/* shadow.h — the shadow's pieces: main.c follows one job through its
 * claim (claim, activate, poll, release); files.c gathers the files a
 * job takes along and writes the ones it brings back. */
#pragma once

#include <glib.h>

#include "ad.h"

G_BEGIN_DECLS

/* What a job takes along: its executable apart (sent by content, or by
 * its SHA-256 to a startd that keeps it) and the other input files. */
typedef struct {
	char *exec_name;   /* its base name in the sandbox */
	char *exec_sha256; /* of its contents, hex */
	GBytes *exec;	   /* its contents */
	GVariant *inputs;  /* a(suay): the stdin file and TransferInput, mode 0644 */
} KiteJobFiles;

void kite_job_files_clear(KiteJobFiles *f);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KiteJobFiles, kite_job_files_clear)

/* Every file as ACTIVATE sends them, the executable first (mode 0755);
 * a floating a(suay). */
GVariant *kite_job_files_all(const KiteJobFiles *f);

/* Files of the job @job to send: the executable (Cmd), the stdin file
 * (In) and TransferInput, each under its base name, at most @max bytes
 * together (and, resuming from a checkpoint, what the job left in
 * @spool when it was vacated), into @out; on failure sets @error and, in @out_hold_code,
 * Condor's HoldReasonCode (6: executable, 13: input). */
gboolean kite_shadow_gather_inputs(const KiteAd *job, gsize max, const char *spool, KiteJobFiles *out,
				   int *out_hold_code, GError **error);

/* The spool (shadow option --spool, a directory of the job's owner
 * beside the queue): a vacated job's files that no checkpoint holds
 * (those it wrote and closed) wait in SPOOL/CLUSTER.PROC for the run
 * that resumes from its checkpoint, which gets them with
 * KITE_FILE_SPOOLED among its inputs (kite_shadow_gather_inputs with
 * @spool).  Write @files (a(suay) from the startd) there, replacing what
 * an earlier vacate left; forget them when the job is done.  @spool NULL:
 * nothing is kept. */
gboolean kite_shadow_spool_outputs(const char *spool, const KiteAd *job, GVariant *files, GError **error);
void kite_shadow_spool_forget(const char *spool, const KiteAd *job);

/* Write the files of @files (a(suay) from the startd): the job's stdout
 * to Out, stderr to Err (dropped when unset) and any other file to Iwd
 * under its name.  Names that are not plain file names are refused. */
gboolean kite_shadow_write_outputs(const KiteAd *job, GVariant *files, GError **error);

G_END_DECLS
