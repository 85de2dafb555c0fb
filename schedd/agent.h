/* agent.h — the schedd's agent role (DESIGN.md §6, NetSolve's agent):
 * "which machines could run a job like this, best first, and how long
 * would it take on each?" — `pool query`.
 *
 * A job's length is its *work* in Mips-seconds: the run time it would
 * have on a machine whose Mips (the startd's integer benchmark) is 1
 * and that it has to itself.  A job that took 600 s alone on a
 * machine advertising Mips = 5000 has 3,000,000 Mips-seconds of work.
 * On a slot, the prediction is work / (Mips × share), where share is
 * the part of a CPU the job would get there: 1 on an idle machine, and
 * TotalCpus / (LoadAvg + 1) when the machine's run queue (owner and
 * jobs together) would leave it less. */
#pragma once

#include <glib.h>

#include "ad.h"
#include "server.h"

G_BEGIN_DECLS

/* What the agent says about one slot. */
typedef struct {
	const KiteAd *slot; /* borrowed */
	double rank;	    /* the job's Rank of it */
	double predicted;   /* seconds; < 0 when unknown (no work given, or no Mips) */
} KiteAgentChoice;

/* Seconds @work (Mips-seconds) would take on @slot, or -1 when the slot
 * advertises no Mips or @work is not positive. */
double kite_agent_predict(const KiteAd *slot, double work);

/* The slots of @slots (KiteAd*) that @job matches two-sided, best first:
 * by @job's Rank (higher first), then by predicted run time (shorter
 * first; unknown last), then by name.  A GArray of KiteAgentChoice. */
GArray *kite_agent_choose(const KiteAd *job, GPtrArray *slots, double work);

G_END_DECLS
