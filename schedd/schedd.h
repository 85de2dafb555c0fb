/* schedd.h — the schedd's shared state, and the entry point of its
 * request handlers (requests.c).  main.c owns start-up and the loop;
 * negotiator.c matches jobs to slots and shadows.c runs the shadows. */
#pragma once

#include "autocluster.h"
#include "collector.h"
#include "config.h"
#include "cycle.h"
#include "negotiator.h"
#include "queue.h"
#include "server.h"

struct _KiteSchedd {
	KiteConfig *config;
	KiteQueue *queue;
	KiteServer *server;
	GBytes *key;
	char *state_dir;
	KiteCollector *collector;
	/* running jobs (shadows.c) */
	char *key_path;
	KiteUsage *usage;
	GHashTable *shadows; /* folded slot name -> Shadow*, one per running job */
	struct _KiteMtbf *mtbf; /* evictions seen per machine (ckpt-interval.c) */
	guint negotiate_source;
	KiteAutoclusters *autoclusters; /* idle jobs grouped between cycles (cycle.c) */
	GPtrArray *finished;		/* shadows ended, outcomes not yet written (shadows.c) */
	guint outcomes_source;
};

/* The KiteServerHandler for the schedd: answers every client request. */
void kite_schedd_handle(KiteServerConn *conn, guint type, GVariant *body, gpointer user_data);

/* The collector's requests (collector.c): MACHINE_ADS, MACHINE_INVALIDATE
 * MACHINES_QUERY, and the agent's AGENT_QUERY.  Returns FALSE for any
 * other message type. */
gboolean kite_schedd_collector_handle(KiteSchedd *s, KiteServerConn *conn, guint type, GVariant *body);

/* `pool userprio` (accounting.c): every user with their usage and jobs,
 * in the order the negotiator serves them. */
void kite_schedd_userprio(KiteSchedd *s, KiteServerConn *conn, GVariant *body);

/* The agent's AGENT_QUERY (agent.c): the slots that could run a job
 * like the one described, best first, with predicted run times. */
void kite_schedd_agent_query(KiteSchedd *s, KiteServerConn *conn, GVariant *body);

/* The negotiator role and the shadows (shadows.c). */
void kite_schedd_shadows_init(KiteSchedd *s);
/* Stop every shadow: each leaves its claim to the job lease, and the
 * next start reconnects to the jobs (docs/running-jobs.md, "Schedd
 * restarts"). */
void kite_schedd_shadows_free(KiteSchedd *s);
/* Run a negotiation cycle soon (from the main loop, once however often
 * it is asked for before it runs). */
void kite_schedd_negotiate_soon(KiteSchedd *s);
/* The slot ads the collector holds (KiteAd*; with @free_only, only the
 * Unclaimed ones with a StartdAddr that no shadow is claiming). */
GPtrArray *kite_schedd_slot_ads(KiteSchedd *s, gboolean free_only);
/* One negotiation cycle now; also the periodic timer's callback. */
gboolean kite_schedd_negotiate(gpointer schedd);
/* Tell the shadows of jobs that left the queue (removed, held) to
 * release their claims. */
void kite_schedd_shadows_jobs_left(KiteSchedd *s, GArray *results);
/* `pool vacate` / `pool ckpt`: ask the shadows of the jobs acted on in
 * @results to have their jobs checkpoint (and leave, with @vacate). */
void kite_schedd_shadows_checkpoint(KiteSchedd *s, GArray *results, gboolean vacate);

/* Drop what job @id left in the spool when it was vacated (it was
 * removed: no run will resume it). */
void kite_schedd_spool_forget(KiteSchedd *s, const KiteJobId *id);

/* What a job's on_exit_hold / on_exit_remove say about a run that ended
 * with exit code @code or signal @sig (exit-policy.c); @out_reason is
 * set (Condor's words) for HOLD and REQUEUE. */
typedef enum {
	KITE_EXIT_DEFAULT, /* neither is set: Kite's default */
	KITE_EXIT_REMOVE,  /* leaves the queue (completed) */
	KITE_EXIT_HOLD,
	KITE_EXIT_REQUEUE, /* back to Idle, to run again */
} KiteExitPolicy;
KiteExitPolicy kite_exit_policy(const KiteAd *job, gint64 code, gint64 sig, char **out_reason);

/* Evaluate jobs' periodic_hold/release/remove and act on them
 * (periodic.c); the periodic_expr_interval timer's callback. */
gboolean kite_schedd_periodic(gpointer schedd);

/* Parse a query's constraint; the error names the column ("constraint,
 * column 8: …"). */
KiteExpr *kite_schedd_parse_constraint(const char *text, GError **error);
