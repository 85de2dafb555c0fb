/* claim.h — the startd's side of running jobs (docs/running-jobs.md):
 * it listens for shadows (TCP, authenticated with the pool key), takes
 * claims on slots, starts the claim's job in a sandbox, follows it
 * (suspend, continue and kill as the owner policy says), hands its
 * outputs back and releases the slot.  Every state change of a slot
 * goes through kite_startd_update_slot(), so claims and the owner drive
 * the one state machine of policy.c. */
#pragma once

#include <glib.h>

#include "policy.h"

G_BEGIN_DECLS

typedef struct _KiteStartd KiteStartd;

/* Listen on the config's `listen` address (port 0: any, written to
 * STATE_DIR/startd.addr) and publish it as StartdAddr in the machine
 * ad. */
gboolean kite_claims_start(KiteStartd *d, GError **error);
/* Kill every job, remove the sandboxes, stop listening. */
void kite_claims_stop(KiteStartd *d);

/* Rebuild slot @i's ad from the startd's latest sample and apply the
 * policy with @events (NULL: none; whether a job runs is added here),
 * then act on the transition: SIGSTOP the job's process group on
 * suspend, SIGCONT on continue, kill it on preempt.  Returns TRUE if
 * the state or activity changed. */
gboolean kite_startd_update_slot(KiteStartd *d, guint i, const KitePolicyInput *events, gint64 now);

/* Send every slot's ad to the schedd now. */
void kite_startd_advertise(KiteStartd *d);

/* Drop claims whose shadow has not been heard from for `claim_lease`. */
void kite_claims_check_leases(KiteStartd *d, double now);

/* Where the kernel does not enforce memory.max (no memory controller),
 * measure each job's cgroup and kill a job over its RequestMemory. */
void kite_claims_check_memory(KiteStartd *d);

/* The process ids of the running jobs (each leads its own session),
 * for measuring their load.  A GArray of GPid. */
GArray *kite_claims_job_sessions(KiteStartd *d);

G_END_DECLS
