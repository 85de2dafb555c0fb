/* ckpt-place.h — where a job's checkpoints go, and where a job with a
 * checkpoint had better restart (issue 6, docs/running-jobs.md "The
 * agent's choices").
 *
 * A job's first checkpointed run gets a checkpoint server chosen by the
 * agent: one with room for the job's image, on the same subnet as the
 * machine it starts on (failing that the same site), least busy.  The
 * machine that restarts a vacated job is most likely nearby, and NetSolve
 * found that moving the image dominates recovery.  Later runs keep that
 * server (the job's capabilities name it), and the negotiator, rank
 * being equal, prefers slots close to it. */
#pragma once

#include <glib.h>

#include "ad.h"

G_BEGIN_DECLS

/* How close @slot is to @job's checkpoint server (CheckpointServerSubnet,
 * CheckpointServerSite in the job): 2 same subnet, 1 same site, 0 not
 * known or elsewhere. */
int kite_ckpt_proximity(const KiteAd *job, const KiteAd *slot);

/* Among @servers (checkpoint server ads: CkptServerAddr, FreeSpace,
 * Uploads, Connections, Subnet, Site), the best for a job needing about
 * @need bytes that starts on @slot, or NULL if none has room.  Sets
 * *@why to how it was chosen (or why none was). */
const KiteAd *kite_ckpt_choose_server(GPtrArray *servers, const KiteAd *slot, gint64 need, char **why);

G_END_DECLS
