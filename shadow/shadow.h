/* shadow.h — the shadow's pieces: main.c follows one job through its
 * claim (claim, activate, poll, release); files.c gathers the files a
 * job takes along and writes the ones it brings back. */
#pragma once

#include <glib.h>

#include "ad.h"

G_BEGIN_DECLS

/* Files of the job @job to send: the executable (Cmd, mode 0755), the
 * stdin file (In) and TransferInput, each under its base name, at most
 * @max bytes together.  Returns an a(suay) value (floating) and writes
 * the executable's name there; on failure sets @error and, in
 * @out_hold_code, Condor's HoldReasonCode (6: executable, 13: input). */
GVariant *kite_shadow_gather_inputs(const KiteAd *job, gsize max, char **out_exec_name, int *out_hold_code,
				    GError **error);

/* Write the files of @files (a(suay) from the startd): the job's stdout
 * to Out, stderr to Err (dropped when unset) and any other file to Iwd
 * under its name.  Names that are not plain file names are refused. */
gboolean kite_shadow_write_outputs(const KiteAd *job, GVariant *files, GError **error);

G_END_DECLS
