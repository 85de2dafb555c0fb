/* negotiator.h — the schedd's negotiator role: matching idle jobs to
 * unclaimed slots (DESIGN.md §6, reference/htcondor.md §5).
 *
 * A match is two-sided: the job's Requirements hold with MY = job and
 * TARGET = slot, and the slot's Start holds with MY = slot and TARGET =
 * job.  Users take turns by fair share — the user with the least recent
 * usage goes first, and every match charges its user — and within a
 * user jobs go by JobPrio (higher first), then by id.  Each job takes
 * the free matching slot its Rank likes best (ties by slot name).
 *
 * Jobs whose matching attributes are identical form an autocluster and
 * are evaluated against the slots once per cycle; when one job of an
 * autocluster finds no slot, the rest are skipped for the cycle.  The
 * grouping itself (which attributes count, and the schedd's cache of
 * groups between cycles) is in autocluster.c.
 *
 * Pure code: ads in, matches out, nothing spawned or printed here. */
#pragma once

#include <glib.h>

#include "ad.h"
#include "job.h"

G_BEGIN_DECLS

/* Recent usage per user (seconds of slot time, decaying with a
 * half-life), which orders users in a cycle. */
typedef struct _KiteUsage KiteUsage;

KiteUsage *kite_usage_new(double half_life);
void kite_usage_free(KiteUsage *u);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteUsage, kite_usage_free)
/* Charge @user @seconds of slot time at wall time @now. */
void kite_usage_charge(KiteUsage *u, const char *user, double seconds, gint64 now);
/* @user's usage decayed to @now (0 for an unknown user). */
double kite_usage_get(const KiteUsage *u, const char *user, gint64 now);
/* Usage as the queue database kept it (accounting.c): @value seconds as
 * of wall time @at, decaying from then on — across the time the schedd
 * was down too.  Replaces what @u knew of @user; not "changed". */
void kite_usage_restore(KiteUsage *u, const char *user, double value, gint64 at);
/* A user's record: @value seconds as of wall time @at (not decayed). */
typedef void (*KiteUsageFunc)(const char *user, double value, gint64 at, gpointer data);
/* Call @func for each user charged since the last call (what must be
 * saved), and count them saved; returns how many. */
guint kite_usage_take_changed(KiteUsage *u, KiteUsageFunc func, gpointer data);
/* Call @func for every user @u knows, in no particular order. */
void kite_usage_foreach(KiteUsage *u, KiteUsageFunc func, gpointer data);
/* The order in which a cycle serves users: less usage first, equal
 * usage by name (strcmp).  < 0 when user a goes before user b. */
int kite_usage_order(double usage_a, const char *user_a, double usage_b, const char *user_b);

typedef struct {
	KiteJobId id;
	guint job;	   /* index into the jobs given */
	guint slot;	   /* index into the slots given */
	guint autocluster; /* the job's autocluster, numbered from 0 */
} KiteMatch;

typedef struct {
	guint n_jobs;
	guint n_autoclusters;
	guint n_evaluations; /* job–slot pairs evaluated (per autocluster, not per job) */
	guint n_matches;
} KiteNegotiationStats;

/* One job of an autocluster. */
typedef struct {
	KiteJobId id;
	gint64 prio; /* JobPrio */
	guint index; /* the caller's, copied to KiteMatch.job */
} KiteGroupJob;

/* An autocluster: jobs of one owner whose matching attributes are
 * equal, so that one ad stands for all of them. */
typedef struct {
	const KiteAd *ad; /* any member's full ad */
	const char *owner;
	GArray *jobs; /* KiteGroupJob */
} KiteJobGroup;

/* The core of a cycle: match the jobs of @groups to @slots (KiteAd*,
 * all free) at wall time @now.  Each group is evaluated against the
 * slots at most once, and only against slots still free then; the
 * cycle ends when the slots or the jobs run out.  Returns a GArray of
 * KiteMatch (job = KiteGroupJob.index, autocluster = index into
 * @groups) in the order they were made.  @usage, @charge and
 * @out_stats as for kite_negotiate(). */
GArray *kite_negotiate_groups(const KiteJobGroup *groups, guint n_groups, GPtrArray *slots, KiteUsage *usage,
			      double charge, gint64 now, KiteNegotiationStats *out_stats);

/* Match @jobs (KiteAd*, each with ClusterId, ProcId and Owner) to
 * @slots (KiteAd*, all of them free) at wall time @now.  Returns a
 * GArray of KiteMatch in the order they were made; each slot is used at
 * most once.  @usage (may be NULL) orders users and is charged
 * @charge seconds per match so that users take turns within a cycle.
 * @out_stats may be NULL. */
GArray *kite_negotiate(GPtrArray *jobs, GPtrArray *slots, KiteUsage *usage, double charge, gint64 now,
		       KiteNegotiationStats *out_stats);

/* Claim reuse (HTCondor's): a claim whose job finished takes its
 * owner's next job.  For each kept claim i — @slots[i] (KiteAd*, the
 * ad the slot was matched with) held for user @owners[i] — the first of
 * that owner's jobs in turn order (JobPrio, then id) whose group
 * matches the slot two-sided.  Fair share does not apply: the claim is
 * the owner's until it is released.  Each job goes to one claim at
 * most.  Returns a GArray of KiteMatch (slot = claim index, in claim
 * order; a claim with no such job has none). */
GArray *kite_negotiate_claims(const KiteJobGroup *groups, guint n_groups, GPtrArray *slots,
			      const char *const *owners, KiteNegotiationStats *out_stats);

/* TRUE if @job and @slot match two-sided. */
gboolean kite_negotiator_match(const KiteAd *job, const KiteAd *slot);

/* The job's Rank of @slot (undefined or error count as 0.0). */
double kite_negotiator_rank(const KiteAd *job, const KiteAd *slot);

/* Why @job runs nowhere, in one line for `q -l` (MatchAnalysis): how
 * many of @slots (every slot ad, @n_free of them free) match, and when
 * none does, each clause of its Requirements that fails on some slot
 * ("requirement `TARGET.Memory >= MY.RequestMemory` holds on 0") and
 * how many slots' Start accept it.  Newly allocated. */
char *kite_negotiator_analyze(const KiteAd *job, GPtrArray *slots, guint n_free);

G_END_DECLS
