/* autocluster.h — grouping idle jobs into autoclusters, so that a
 * negotiation cycle costs per group, not per job (reference/htcondor.md
 * §5, Condor's "significant attributes").
 *
 * Two jobs are in one autocluster when they have the same Owner (fair
 * share orders users) and the same text for every *significant*
 * attribute: Requirements and Rank, every attribute they mention, every
 * attribute a slot's Start mentions (directly or through the slot's
 * own attributes), and, transitively, every job attribute those
 * mention.  Anything else — ProcId, Out, Arguments, QDate… — cannot
 * change how a job matches, so one member's ad stands for the group.
 *
 * KiteAutoclusters is the schedd's cache of groups between cycles.
 * Each cycle it reads the idle jobs' rows (columns and stored proc ad,
 * no full ads) and recomputes the group of a job only when its row
 * differs from what the cache saw: a submitted job (new row), an
 * edited one (its proc ad changed) or one back from Running (its
 * EnteredCurrentStatus changed).  A job that left the idle set (held,
 * removed, running) leaves its group.  Validating by content rather
 * than by notifications means no path that changes a job can forget to
 * invalidate the cache.  When the set of attributes the slots' Start
 * expressions mention changes, every group is recomputed. */
#pragma once

#include <glib.h>

#include "ad.h"
#include "negotiator.h"
#include "queue.h"

G_BEGIN_DECLS

/* The folded names that the Start expressions of @slots (KiteAd*)
 * mention, with what the slots' own attributes they mention mention in
 * turn.  A set of strings (g_str_hash); free with g_hash_table_unref. */
GHashTable *kite_autocluster_slot_refs(GPtrArray *slots);

/* @job's autocluster signature given @slot_refs: its Owner and the text
 * of each significant attribute it has, in name order.  Newly
 * allocated. */
char *kite_autocluster_signature(const KiteAd *job, GHashTable *slot_refs);

typedef struct _KiteAutoclusters KiteAutoclusters;

KiteAutoclusters *kite_autoclusters_new(void);
void kite_autoclusters_free(KiteAutoclusters *ac);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteAutoclusters, kite_autoclusters_free)

typedef struct {
	guint n_jobs;	    /* idle jobs */
	guint n_groups;	    /* autoclusters they form */
	guint n_recomputed; /* jobs whose full ad was built and signature made this time */
} KiteAutoclusterStats;

/* Bring the groups up to date with the idle jobs of @q and the slots
 * @slots (for their Start's references).  On success @out_groups (may
 * be NULL) points to the current groups (KiteJobGroup, owned by @ac,
 * valid until the next refresh); every group has at least one job, and
 * KiteGroupJob.index numbers the idle jobs from 0 in id order. */
gboolean kite_autoclusters_refresh(KiteAutoclusters *ac, KiteQueue *q, GPtrArray *slots, GArray **out_groups,
				   KiteAutoclusterStats *out_stats, GError **error);

/* The group (index into the last refresh's groups) of job @id, or -1
 * when the job was not idle then. */
gint kite_autoclusters_group_of(const KiteAutoclusters *ac, const KiteJobId *id);

G_END_DECLS
