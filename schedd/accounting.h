/* accounting.h — what the schedd remembers of its users and machines
 * across restarts: each owner's fair-share usage (negotiator.c,
 * KiteUsage) and each machine's runs and evictions (ckpt-interval.c,
 * KiteMtbf), kept in the queue database; and `pool userprio`, the
 * users in the order the negotiator serves them (docs/pool.md).
 *
 * HTCondor's negotiator keeps this in its own Accountantnew.log; Kite
 * keeps it beside the jobs, written in the transactions the schedd
 * commits anyway (a negotiation cycle's, a batch of outcomes'), so it
 * costs no fsync of its own (docs/decisions.md). */
#pragma once

#include <glib.h>

#include "ckpt-interval.h"
#include "negotiator.h"
#include "queue.h"

G_BEGIN_DECLS

/* Fill @usage and @mtbf (both fresh) from the queue database.  Usage
 * decays from the time it was stored, so the time the schedd was down
 * counts as for any idle user.  Rows that make no sense (negative or
 * not finite) are skipped, each with a message. */
gboolean kite_accounting_load(KiteQueue *q, KiteUsage *usage, KiteMtbf *mtbf, GError **error);

/* Store what changed in @usage and @mtbf since the last save (either
 * may be NULL): in the caller's kite_queue_begin() batch, whose commit
 * makes it durable, or each row on its own outside one.  On failure the
 * entries not written are written with their next change (each row is
 * the whole record, not an increment). */
gboolean kite_accounting_save(KiteQueue *q, KiteUsage *usage, KiteMtbf *mtbf, GError **error);

/* One user of `pool userprio`. */
typedef struct {
	char *owner;
	double usage; /* seconds, decayed to the time asked about */
	gint64 last;  /* wall time of the last charge, 0 if none */
	gint64 running, idle, held;
} KiteUserprio;

/* Every user @usage or the queue knows, in the order a negotiation
 * cycle starting at wall time @now would serve them
 * (kite_usage_order()); a GArray of KiteUserprio that frees its
 * strings, or NULL when the queue cannot be read. */
GArray *kite_accounting_userprio(KiteQueue *q, KiteUsage *usage, gint64 now, GError **error);

G_END_DECLS
