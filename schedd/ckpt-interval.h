/* ckpt-interval.h — the agent's choice of a job's checkpoint interval
 * (issue 6, docs/running-jobs.md "Checkpoint interval"): Young's
 * first-order optimum sqrt(2 × C × M), where C is the measured cost of
 * the job's checkpoints and M the measured mean time between evictions
 * of the machine it is about to run on, within configured bounds. */
#pragma once

#include <glib.h>

#include "ad.h"

G_BEGIN_DECLS

/* What the schedd has seen of each machine: seconds jobs ran there and
 * how many of those runs ended in an eviction (vacated, killed by the
 * owner policy, machine lost).  Kept in the queue database
 * (accounting.c), so a restarted schedd goes on from what it had seen. */
typedef struct _KiteMtbf KiteMtbf;

/* @prior: the MTBF assumed of a machine never seen evicting (seconds). */
KiteMtbf *kite_mtbf_new(double prior);
void kite_mtbf_free(KiteMtbf *m);

/* A run of @seconds on @machine ended, evicted or not. */
void kite_mtbf_note_run(KiteMtbf *m, const char *machine, double seconds, gboolean evicted);

/* A machine's record as the queue database kept it (accounting.c);
 * replaces what @m knew of @machine, not "changed". */
void kite_mtbf_restore(KiteMtbf *m, const char *machine, double seconds, guint evictions);
/* A machine's record (@machine case-folded). */
typedef void (*KiteMtbfFunc)(const char *machine, double seconds, guint evictions, gpointer data);
/* Call @func for each machine with runs noted since the last call (what
 * must be saved), and count them saved; returns how many. */
guint kite_mtbf_take_changed(KiteMtbf *m, KiteMtbfFunc func, gpointer data);

/* The machine's mean time between evictions: (seconds seen + prior) /
 * (evictions + 1), so one early eviction does not make it zero. */
double kite_mtbf_get(const KiteMtbf *m, const char *machine);

/* Young's interval for checkpoints costing @cost seconds on a machine
 * with @mtbf seconds between evictions, clamped to [@min, @max]. */
gint64 kite_ckpt_interval_young(double cost, double mtbf, gint64 min, gint64 max);

/* The machine part of a slot name ("slot1@ws1" -> "ws1"). */
const char *kite_slot_machine(const char *slot);

/* For @job (a copy about to go to a shadow) about to run on @slot: if
 * the job file left the interval to the agent (no CheckpointInterval)
 * and the job is checkpointed, set CheckpointInterval and
 * CheckpointIntervalChoice (how it was chosen).  The cost is the job's
 * CheckpointSeconds when a checkpoint of it was measured, else
 * @default_cost. */
void kite_ckpt_interval_choose(const KiteMtbf *m, KiteAd *job, const char *slot, double default_cost, gint64 min,
			       gint64 max);

G_END_DECLS
