/* shadows.c — the schedd's negotiator role in the main loop and the
 * shadows it starts: a cycle gathers the idle jobs and the Unclaimed
 * slots nobody is claiming, asks negotiator.c for matches, marks each
 * matched job Running and spawns one `shadow` process for it.  The
 * shadow gets its claim id and the job ad on stdin, prints events
 * (started, suspended, checkpoint…) as ads on stdout while the job runs
 * and its outcome after them; each is recorded in the queue as it
 * arrives (shadow/main.c describes the stream).
 *
 * Claim reuse: a shadow whose job completed keeps its claim and asks
 * for the owner's next job (NextJob in its outcome).  The outcome and
 * the next job's Running state are written in one transaction, and the
 * job goes to the shadow on its stdin once they are on disk; with no
 * suitable job (or the claim past its slot's ClaimWorklife) the shadow
 * is told "NONE" and releases the claim.  The schedd never talks to a
 * startd itself.
 *
 * Schedd restarts: every claim id is on disk (job_claims) with its job's
 * Running state before a shadow uses it.  A stopping schedd's shadows
 * (and a dead one's, by their parent-death signal) leave their claims to
 * the job lease, and a starting schedd gives each Running job a shadow
 * with --reconnect, or releases a claim whose job's outcome it has
 * recorded (reconnect_all). */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounting.h"
#include "auth.h"
#include "ckpt-interval.h"
#include "ckpt-place.h"
#include "schedd.h"
#include "util.h"

/* How long a requested negotiation cycle waits for more reasons to run
 * (a cycle with few free slots costs milliseconds: bench/negotiate). */
#define NEGOTIATE_DELAY_MS 10

/* How long an outcome waits for others to share its commit. */
#define OUTCOME_DELAY_MS 5

/* Largest outcome a shadow may print. */
#define MAX_SHADOW_OUTPUT (64 * 1024)

/* What is written to a shadow's stdin, one frame at a time (a frame
 * waits until the write before it has finished).  It outlives its
 * Shadow while a write is under way. */
typedef struct {
	GOutputStream *out;
	GQueue frames;	 /* char*, not yet written */
	char *writing;	 /* the frame being written, or NULL */
	gboolean orphan; /* its shadow is gone: free once the write ends */
} Feed;

typedef struct {
	KiteSchedd *s;
	KiteJobId id;
	char *slot;
	char *owner;
	char *claim; /* the claim id, recorded with each of its jobs (job_claims) */
	GSubprocess *proc;
	Feed *feed;		     /* its stdin */
	GDataInputStream *lines;     /* its stdout */
	GString *block;		     /* the ad being read */
	gboolean block_is_outcome;   /* it has an Outcome line */
	gint64 started;		     /* wall seconds */
	gint64 retries, max_retries; /* NumRetries and MaxRetries of the job */
	/* claim reuse */
	KiteAd *slot_ad;   /* the ad the slot was matched with */
	double claimed_at; /* monotonic */
	guint n_jobs;	   /* jobs started on this claim */
	gboolean reported; /* the current job's outcome has been heard */
	gboolean exited;   /* the process has ended */
} Shadow;

static void feed_free(Feed *f)
{
	g_output_stream_close(f->out, NULL, NULL);
	g_object_unref(f->out);
	g_queue_clear_full(&f->frames, g_free);
	g_free(f);
}

static void feed_next(Feed *f);

static void on_frame_written(GObject *source, GAsyncResult *res, gpointer data)
{
	Feed *f = data;
	g_autoptr(GError) error = NULL;
	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error) && !f->orphan)
		g_message("writing to a shadow: %s", error->message);
	g_clear_pointer(&f->writing, g_free);
	if (f->orphan)
		feed_free(f);
	else
		feed_next(f);
}

static void feed_next(Feed *f)
{
	if (f->writing || !(f->writing = g_queue_pop_head(&f->frames)))
		return;
	g_output_stream_write_all_async(f->out, f->writing, strlen(f->writing), G_PRIORITY_DEFAULT, NULL,
					on_frame_written, f);
}

/* Queue @frame (taken) for the shadow's stdin. */
static void feed_send(Feed *f, char *frame)
{
	g_queue_push_tail(&f->frames, frame);
	feed_next(f);
}

static void shadow_free(Shadow *sh)
{
	g_free(sh->slot);
	g_free(sh->owner);
	g_free(sh->claim);
	if (sh->feed) {
		sh->feed->orphan = TRUE;
		if (!sh->feed->writing)
			feed_free(sh->feed);
	}
	g_clear_object(&sh->lines);
	if (sh->block)
		g_string_free(sh->block, TRUE);
	g_clear_object(&sh->proc);
	if (sh->slot_ad)
		kite_ad_free(sh->slot_ad);
	g_free(sh);
}

static void reconnect_all(KiteSchedd *s);

void kite_schedd_shadows_init(KiteSchedd *s)
{
	s->usage = kite_usage_new(kite_config_get_duration(s->config, "usage_half_life"));
	s->shadows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	s->mtbf = kite_mtbf_new(kite_config_get_duration(s->config, "machine_mtbf_prior"));
	g_autoptr(GError) error = NULL;
	if (!kite_accounting_load(s->queue, s->usage, s->mtbf, &error))
		g_warning("%s; users' usage and machines' evictions start afresh", error->message);
	gint64 n = kite_queue_requeue_running(s->queue);
	if (n > 0)
		g_message("%" G_GINT64_FORMAT
			  " job(s) were Running with no claim recorded when the schedd stopped; they are Idle again",
			  n);
	reconnect_all(s);
}

static gboolean write_outcomes(gpointer data);

void kite_schedd_shadows_free(KiteSchedd *s)
{
	if (s->shadows) {
		GHashTableIter it;
		gpointer value;
		g_hash_table_iter_init(&it, s->shadows);
		/* The shadows release their claims; the Shadow records stay
		 * with their pending callbacks, which never run now. */
		/* SIGHUP, not SIGTERM: the shadows leave their claims to the
		 * job lease, and the schedd reconnects when it starts again. */
		while (g_hash_table_iter_next(&it, NULL, &value))
			g_subprocess_send_signal(((Shadow *)value)->proc, SIGHUP);
		g_clear_pointer(&s->shadows, g_hash_table_unref);
	}
	if (s->negotiate_source)
		g_source_remove(s->negotiate_source);
	if (s->outcomes_source) {
		/* Outcomes heard but not written yet: write them now. */
		g_source_remove(s->outcomes_source);
		write_outcomes(s);
	}
	g_clear_pointer(&s->autoclusters, kite_autoclusters_free);
	/* Usually nothing: every charge is written with its cycle or outcome. */
	g_autoptr(GError) error = NULL;
	if (!kite_accounting_save(s->queue, s->usage, s->mtbf, &error))
		g_warning("usage not saved: %s", error->message);
	kite_usage_free(s->usage);
	kite_mtbf_free(s->mtbf);
}

static char *shadow_program(KiteSchedd *s)
{
	const char *v = kite_config_get_string(s->config, "shadow");
	if (v && *v)
		return g_strdup(v);
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *dir = self ? g_path_get_dirname(self) : g_strdup(".");
	return g_build_filename(dir, "shadow", NULL);
}

static char *job_name(const KiteJobId *id)
{
	return g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, id->cluster, id->proc);
}

/* A run failed (killed by a signal, or its machine lost while it ran):
 * back to Idle while the job has retries left (MaxRetries, default 3),
 * else Held. */
static void retry_or_hold(Shadow *sh, const char *what, gint64 wall)
{
	KiteSchedd *s = sh->s;
	g_autofree char *name = job_name(&sh->id);
	if (sh->retries < sh->max_retries) {
		g_autofree char *why =
		    g_strdup_printf("%s (retry %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT ")", what,
				    sh->retries + 1, sh->max_retries);
		if (kite_queue_set_idle(s->queue, &sh->id, wall, why, TRUE))
			g_message("job %s is Idle again: %s", name, why);
		return;
	}
	g_autofree char *why =
	    g_strdup_printf("%s; it failed %" G_GINT64_FORMAT " times (max_retries is %" G_GINT64_FORMAT ")",
			    what, sh->retries + 1, sh->max_retries);
	if (kite_queue_hold_running(s->queue, &sh->id, why, 3, wall))
		g_message("job %s held: %s", name, why);
}

static void sum_run_time(const KiteJobRow *row, gpointer data)
{
	*(gint64 *)data += row->run_time;
}

/* The job's checkpoint could not be restarted: Condor's rule — start
 * over from scratch when the work that loses is under
 * ckpt_lost_work_limit, else hold the job for a person (releasing it
 * then starts it from scratch). */
static void checkpoint_unusable(Shadow *sh, const char *why, gint64 wall)
{
	KiteSchedd *s = sh->s;
	g_autofree char *name = job_name(&sh->id);
	gint64 limit = (gint64)kite_config_get_duration(s->config, "ckpt_lost_work_limit");
	gint64 done = 0;
	KiteJobId ids[1] = {sh->id};
	KiteQueueFilter f = {.ids = ids, .n_ids = 1};
	kite_queue_query(s->queue, &f, sum_run_time, &done, NULL);
	g_autoptr(KiteAd) forget = kite_ad_new();
	kite_ad_set_string(forget, "LastCheckpointImage", "");
	kite_ad_set_string(forget, "CheckpointCaps", "");
	kite_ad_set_string(forget, "CheckpointUnusableReason", why);
	kite_queue_job_event(s->queue, &sh->id, "checkpoint-dropped", sh->slot, why, forget, NULL);
	if (done < limit) {
		g_autofree char *reason =
		    g_strdup_printf("its checkpoint could not be restarted (%s); starting over from scratch "
				    "(%" G_GINT64_FORMAT " s of run time lost, under ckpt_lost_work_limit)",
				    why, done);
		if (kite_queue_set_idle(s->queue, &sh->id, wall, reason, FALSE))
			g_message("job %s is Idle again: %s", name, reason);
		return;
	}
	g_autofree char *reason = g_strdup_printf(
	    "its checkpoint could not be restarted (%s); starting over would lose %" G_GINT64_FORMAT
	    " s of run time (ckpt_lost_work_limit is %" G_GINT64_FORMAT
	    " s): release the job to start it from scratch",
	    why, done, limit);
	if (kite_queue_hold_running(s->queue, &sh->id, reason, 13, wall))
		g_message("job %s held: %s", name, reason);
}

static void keep_ad(const KiteJobRow *row, gpointer data)
{
	*(KiteAd **)data = row->ad ? kite_ad_copy(row->ad) : NULL;
}

/* The job's on_exit_hold / on_exit_remove (exit-policy.c), read from the
 * queue: DEFAULT if it has neither or cannot be read. */
static KiteExitPolicy job_exit_policy(KiteSchedd *s, const KiteJobId *id, gint64 code, gint64 sig,
				      char **out_reason)
{
	*out_reason = NULL;
	KiteJobId ids[1] = {*id};
	KiteQueueFilter f = {.ids = ids, .n_ids = 1, .full_ad = TRUE};
	g_autoptr(KiteAd) job = NULL;
	if (!kite_queue_query(s->queue, &f, keep_ad, &job, NULL) || !job)
		return KITE_EXIT_DEFAULT;
	return kite_exit_policy(job, code, sig, out_reason);
}

/* What the run used, if its startd measured it (RunMemoryPeak, RunUserCpu,
 * RunSysCpu in the shadow's outcome), into the job's ad before anything
 * reads it (on_exit_hold may name MemoryUsage) or moves it to history.
 * A run that ended unseen (its startd lost, its shadow stopped) adds
 * nothing: there is no measure of it. */
static void note_run_usage(Shadow *sh, const KiteAd *outcome)
{
	KiteRunUsage u = {0};
	if (!outcome || !kite_ad_get_int(outcome, "RunMemoryPeak", &u.memory_peak))
		return;
	kite_ad_get_real(outcome, "RunUserCpu", &u.user_cpu);
	kite_ad_get_real(outcome, "RunSysCpu", &u.sys_cpu);
	g_autoptr(GError) error = NULL;
	if (!kite_queue_note_usage(sh->s->queue, &sh->id, &u, &error)) {
		g_autofree char *name = job_name(&sh->id);
		g_message("job %s: what its run used is not recorded: %s", name, error->message);
	}
}

/* Apply a shadow's outcome (@out, an ad; NULL or garbled if it died)
 * to the queue.  TRUE when the shadow keeps its claim and waits for the
 * owner's next job (NextJob). */
static gboolean apply_outcome(Shadow *sh, const char *out, int exit_status)
{
	KiteSchedd *s = sh->s;
	g_autofree char *name = job_name(&sh->id);
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) ad = out && *out ? kite_ad_parse(out, &error) : NULL;
	g_autofree char *outcome = NULL, *reason = NULL;
	gint64 wall = kite_now_wall() - sh->started, code = 0, sig = 0, hold_code = 0;
	if (ad) {
		kite_ad_get_string(ad, "Outcome", &outcome);
		kite_ad_get_string(ad, "Reason", &reason);
		kite_ad_get_int(ad, "WallSeconds", &wall);
		kite_ad_get_int(ad, "ExitCode", &code);
		kite_ad_get_int(ad, "ExitSignal", &sig);
		kite_ad_get_int(ad, "HoldReasonCode", &hold_code);
	}
	gboolean lost = !ad, job_started = FALSE, next_job = FALSE, reconnect_failed = FALSE;
	g_autofree char *unusable = NULL;
	if (ad) {
		kite_ad_get_bool(ad, "NextJob", &next_job);
		kite_ad_get_bool(ad, "SlotLost", &lost);
		kite_ad_get_bool(ad, "JobStarted", &job_started);
		kite_ad_get_string(ad, "CheckpointUnusable", &unusable);
		kite_ad_get_bool(ad, "ReconnectFailed", &reconnect_failed);
	}
	kite_usage_charge(s->usage, sh->owner, wall, kite_now_wall());
	note_run_usage(sh, ad);
	if (job_started)
		kite_mtbf_note_run(s->mtbf, kite_slot_machine(sh->slot), wall,
				   g_strcmp0(outcome, "requeue") == 0 && !unusable);
	{
		const char *event = g_strcmp0(outcome, "completed") == 0 ? "exited"
				    : g_strcmp0(outcome, "hold") == 0	 ? "held"
				    : unusable				 ? "restart-failed"
				    : reconnect_failed			 ? "reconnect-failed"
									 : "requeued";
		g_autofree char *detail =
		    g_strcmp0(outcome, "completed") == 0
			? g_strdup_printf("%s %" G_GINT64_FORMAT, sig ? "signal" : "exit code",
					  sig ? sig : code)
			: g_strdup(reason ? reason : "");
		if (!kite_queue_job_event(s->queue, &sh->id, event, sh->slot, detail, NULL, &error)) {
			g_message("job %s: cannot record its %s event: %s", name, event, error->message);
			g_clear_error(&error);
		}
	}
	if (unusable) {
		checkpoint_unusable(sh, unusable, wall);
		return FALSE;
	}
	g_autofree char *policy_reason = NULL;
	KiteExitPolicy policy = g_strcmp0(outcome, "completed") == 0
					? job_exit_policy(s, &sh->id, code, sig, &policy_reason)
					: KITE_EXIT_DEFAULT;
	if (policy == KITE_EXIT_HOLD || policy == KITE_EXIT_REQUEUE) {
		gboolean held = policy == KITE_EXIT_HOLD;
		if (!kite_queue_job_event(s->queue, &sh->id, held ? "held" : "requeued", sh->slot, policy_reason, NULL,
					  &error)) {
			g_message("job %s: cannot record its event: %s", name, error->message);
			g_clear_error(&error);
		}
		if (held ? kite_queue_hold_running(s->queue, &sh->id, policy_reason, 3, wall)
			 : kite_queue_set_idle(s->queue, &sh->id, wall, policy_reason, FALSE))
			g_message("job %s %s: %s", name, held ? "held" : "is Idle again", policy_reason);
	} else if (g_strcmp0(outcome, "completed") == 0 && sig > 0 && policy == KITE_EXIT_DEFAULT) {
		g_autofree char *what =
		    g_strdup_printf("killed by signal %" G_GINT64_FORMAT " on %s", sig, sh->slot);
		retry_or_hold(sh, what, wall);
	} else if (g_strcmp0(outcome, "completed") == 0) {
		KiteJobExit exit = {.code = code, .signal = sig, .wall_seconds = wall};
		if (kite_queue_complete(s->queue, &sh->id, &exit, &error))
			g_message("job %s completed on %s (%s %" G_GINT64_FORMAT ")", name, sh->slot,
				  sig ? "signal" : "exit code", sig ? sig : code);
		else
			g_message("job %s finished on %s but cannot be completed: %s", name, sh->slot,
				  error->message);
	} else if (g_strcmp0(outcome, "hold") == 0) {
		if (kite_queue_hold_running(s->queue, &sh->id, reason ? reason : "held by its shadow",
					    hold_code ? hold_code : 12, wall))
			g_message("job %s held: %s", name, reason ? reason : "?");
	} else {
		g_autofree char *why =
		    reason ? g_strdup(reason)
			   : g_strdup_printf("the shadow ended without an outcome (exit status %d)%s%s",
					     exit_status, error ? ": " : "", error ? error->message : "");
		if (lost && job_started)
			retry_or_hold(sh, why, wall);
		else if (kite_queue_set_idle(s->queue, &sh->id, wall, why, FALSE))
			g_message("job %s is Idle again: %s", name, why);
		/* The slot's ad is stale (its startd is gone, or the slot is
		 * not what it said): forget it until it is advertised again,
		 * so the next cycle does not pick it at once. */
		if (lost && kite_collector_forget(s->collector, sh->slot))
			g_message("forgetting %s until it advertises again", sh->slot);
	}
	return next_job;
}

/* What a shadow said, waiting to be written: an event ad, a job's
 * outcome (@outcome; the shadow may wait for its next job), or (@ended)
 * what was left once it exited. */
typedef struct {
	Shadow *sh;
	char *out;
	int status;
	gboolean outcome;
	gboolean ended;
} Finished;

static void record_event(Shadow *sh, const char *text);

/* Queue @f; the queue is written within OUTCOME_DELAY_MS. */
static void queue_finished(KiteSchedd *s, Finished *f)
{
	if (!s->finished)
		s->finished = g_ptr_array_new();
	g_ptr_array_add(s->finished, f);
	if (!s->outcomes_source)
		s->outcomes_source = g_timeout_add(OUTCOME_DELAY_MS, write_outcomes, s);
}

static char *shadow_job_text(KiteSchedd *s, const KiteAd *job, const KiteAd *slot, const KiteJobId *id,
			     const char *slot_name);
static char *reconnect_job_text(KiteSchedd *s, const KiteAd *job, const KiteJobId *id);

/* A claim may take another job while its slot advertises a
 * ClaimWorklife (the startd's claim_worklife) it has not outlived — and
 * not while the schedd stops (its shadows are being told to go). */
static gboolean claim_reusable(const Shadow *sh)
{
	gint64 worklife = 0;
	return !sh->exited && sh->s->shadows && kite_ad_get_int(sh->slot_ad, "ClaimWorklife", &worklife) &&
	       kite_now_monotonic() - sh->claimed_at < worklife;
}

/* Claim reuse, inside write_outcomes()'s transaction: pick the next
 * job of each shadow in @waiting and mark it Running.  Returns the
 * picks (KiteCycleMatch*, slot_index into @waiting); NULL if the queue
 * failed. */
static GPtrArray *pick_next_jobs(KiteSchedd *s, GPtrArray *waiting)
{
	g_autoptr(GPtrArray) slots = g_ptr_array_new();
	g_autofree const char **owners = g_new0(const char *, waiting->len + 1);
	for (guint i = 0; i < waiting->len; i++) {
		Shadow *sh = waiting->pdata[i];
		g_ptr_array_add(slots, sh->slot_ad);
		owners[i] = sh->owner;
	}
	KiteCycleStats stats;
	g_autoptr(GError) error = NULL;
	GPtrArray *picked = kite_schedd_cycle_claims(s, slots, owners, &stats, &error);
	if (!picked)
		g_warning("claim reuse: %s; the claims are released", error->message);
	return picked;
}

/* Answer each shadow of @waiting: its next job from @picked, now on
 * disk as Running, or NONE (it releases the claim).  @picked may be
 * NULL (nothing is on disk). */
static void answer_waiting(KiteSchedd *s, GPtrArray *waiting, GPtrArray *picked)
{
	/* KITE_FAULT=schedd-silent: the outcomes are on disk but no shadow
	 * hears back, as when the schedd dies between its commit and the
	 * answers (tests/integration/test-schedd-restart.sh). */
	const char *fault = g_getenv("KITE_FAULT");
	if (fault && g_str_equal(fault, "schedd-silent"))
		return;
	g_autofree KiteCycleMatch **next = g_new0(KiteCycleMatch *, waiting->len + 1);
	for (guint i = 0; picked && i < picked->len; i++) {
		KiteCycleMatch *m = picked->pdata[i];
		next[m->slot_index] = m;
	}
	for (guint i = 0; i < waiting->len; i++) {
		Shadow *sh = waiting->pdata[i];
		KiteCycleMatch *m = next[i];
		if (!m || !m->job) {
			if (m)
				kite_queue_set_idle(s->queue, &m->id, 0, "its ad could not be read", FALSE);
			feed_send(sh->feed, g_strdup("NONE\n"));
			continue;
		}
		g_autofree char *text = shadow_job_text(s, m->job, sh->slot_ad, &m->id, sh->slot);
		feed_send(sh->feed, g_strdup_printf("JOB %zu\n%s", strlen(text), text));
		sh->id = m->id;
		sh->started = kite_now_wall();
		sh->reported = FALSE;
		sh->n_jobs++;
		sh->max_retries = 3;
		sh->retries = 0;
		kite_ad_get_int(m->job, "MaxRetries", &sh->max_retries);
		kite_ad_get_int(m->job, "NumRetries", &sh->retries);
		g_message("job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT
			  " reuses the claim on %s (job %u of the claim)",
			  m->id.cluster, m->id.proc, sh->slot, sh->n_jobs);
	}
}

/* Write the events and outcomes the shadows reported since the last
 * call, in order, in one transaction — one fsync for many jobs rather
 * than one or more each — and with them the Running state of the next
 * jobs of the claims kept (claim reuse).  Nothing was acknowledged to
 * anyone for them (a shadow does not wait for its events or outcomes
 * to be written, and gets its next job only after the commit), and a
 * schedd that dies before the commit finds those jobs Running and
 * makes them Idle, as for any job whose outcome it never heard. */
static gboolean write_outcomes(gpointer data)
{
	KiteSchedd *s = data;
	s->outcomes_source = 0;
	g_autoptr(GPtrArray) batch = g_steal_pointer(&s->finished);
	g_autoptr(GPtrArray) waiting = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gboolean batched = kite_queue_begin(s->queue, &error);
	if (!batched)
		g_warning("outcomes: %s; writing them one by one", error->message);
	for (guint i = 0; i < batch->len; i++) {
		Finished *f = batch->pdata[i];
		if (f->ended) {
			/* Its last outcome was heard already, unless it died
			 * with a job it had been given. */
			if (!f->sh->reported || *f->out)
				apply_outcome(f->sh, f->out, f->status);
			/* its claim is released or lost: nothing to reconnect to */
			if (f->sh->claim && !kite_queue_forget_claim(s->queue, f->sh->claim, &error)) {
				g_message("forgetting a claim: %s", error->message);
				g_clear_error(&error);
			}
		} else if (f->outcome) {
			if (apply_outcome(f->sh, f->out, 0))
				g_ptr_array_add(waiting, f->sh);
		} else {
			record_event(f->sh, f->out);
		}
	}
	/* Shadows that died meanwhile, or whose claim is too old, get no
	 * job (a dead one is freed below, after this loop's last use). */
	g_autoptr(GPtrArray) reusable = g_ptr_array_new();
	for (guint i = 0; i < waiting->len; i++) {
		Shadow *sh = waiting->pdata[i];
		if (claim_reusable(sh))
			g_ptr_array_add(reusable, sh);
		else if (!sh->exited)
			feed_send(sh->feed, g_strdup("NONE\n"));
	}
	g_autoptr(GPtrArray) picked = batched && reusable->len ? pick_next_jobs(s, reusable) : NULL;
	/* Each next job runs on its shadow's claim: recorded with its
	 * Running state, in the same transaction. */
	for (guint i = 0; picked && i < picked->len; i++) {
		KiteCycleMatch *m = picked->pdata[i];
		Shadow *sh = reusable->pdata[m->slot_index];
		g_autofree char *slot_text = kite_ad_to_text(sh->slot_ad);
		if (m->job && !kite_queue_set_claim(s->queue, &m->id, sh->claim, slot_text, &error)) {
			g_warning("claim reuse: %s; job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " is not given",
				  error->message, m->id.cluster, m->id.proc);
			g_clear_error(&error);
			g_clear_pointer(&m->job, kite_ad_free);
		}
	}
	/* The usage and machine runs charged for these outcomes, with them. */
	g_autoptr(GError) save_error = NULL;
	if (!kite_accounting_save(s->queue, s->usage, s->mtbf, &save_error))
		g_warning("usage not saved: %s", save_error->message);
	if (batched && !kite_queue_commit(s->queue, &error)) {
		g_warning("outcomes of %u job(s) not written: %s (they are Idle again after a restart)",
			  batch->len, error->message);
		g_clear_pointer(&picked, g_ptr_array_unref);
	}
	answer_waiting(s, reusable, picked);
	for (guint i = 0; i < batch->len; i++) {
		Finished *f = batch->pdata[i];
		if (f->ended)
			shadow_free(f->sh);
		g_free(f->out);
		g_free(f);
	}
	kite_schedd_negotiate_soon(s);
	return G_SOURCE_REMOVE;
}

static void on_shadow_exit(GObject *source, GAsyncResult *res, gpointer data)
{
	Shadow *sh = data;
	KiteSchedd *s = sh->s;
	g_autoptr(GError) error = NULL;
	if (!g_subprocess_wait_finish(G_SUBPROCESS(source), res, &error))
		g_message("shadow of job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ": %s", sh->id.cluster,
			  sh->id.proc, error->message);
	int status = g_subprocess_get_if_exited(sh->proc) ? g_subprocess_get_exit_status(sh->proc) : -1;
	if (!s->shadows) /* shutting down */
		return;
	sh->exited = TRUE;
	g_autofree char *key = g_utf8_casefold(sh->slot, -1);
	g_hash_table_remove(s->shadows, key);
	Finished *f = g_new0(Finished, 1);
	f->sh = sh;
	f->out = g_strdup(sh->block->str);
	f->status = status;
	f->ended = TRUE;
	queue_finished(s, f);
}

/* An event ad from the shadow (see shadow/main.c): into the queue. */
static void record_event(Shadow *sh, const char *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) ad = kite_ad_parse(text, &error);
	g_autofree char *event = NULL, *slot = NULL;
	g_autofree char *name = job_name(&sh->id);
	if (!ad || !kite_ad_get_string(ad, "Event", &event)) {
		g_message("job %s: its shadow sent a bad event: %s", name,
			  error ? error->message : "no Event");
		return;
	}
	if (!kite_ad_get_string(ad, "EventSlot", &slot))
		slot = g_strdup(sh->slot);
	kite_ad_remove(ad, "Event");
	kite_ad_remove(ad, "EventSlot");
	kite_ad_remove(ad, "EventTime");
	g_autofree char *detail = NULL;
	gint64 size = 0;
	double secs = 0;
	if (kite_ad_get_string(ad, "EventDetail", &detail))
		kite_ad_remove(ad, "EventDetail");
	else if (g_str_equal(event, "checkpoint") && kite_ad_get_int(ad, "CheckpointSize", &size)) {
		detail = kite_ad_get_real(ad, "CheckpointSeconds", &secs)
			     ? g_strdup_printf("%" G_GINT64_FORMAT " bytes, %.3f s", size, secs)
			     : g_strdup_printf("%" G_GINT64_FORMAT " bytes", size);
		g_message("job %s: checkpoint of %" G_GINT64_FORMAT " bytes committed on %s", name, size,
			  slot);
	}
	if (!kite_queue_job_event(sh->s->queue, &sh->id, event, slot, detail, ad, &error))
		g_message("job %s: cannot record its %s event: %s", name, event, error->message);
}

static void on_shadow_line(GObject *source, GAsyncResult *res, gpointer data)
{
	Shadow *sh = data;
	gsize len = 0;
	g_autoptr(GError) error = NULL;
	g_autofree char *line =
	    g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source), res, &len, &error);
	if (!sh->s->shadows) /* shutting down */
		return;
	if (!line) {
		if (error)
			g_message("shadow of job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ": %s",
				  sh->id.cluster, sh->id.proc, error->message);
		g_subprocess_wait_async(sh->proc, NULL, on_shadow_exit, sh);
		return;
	}
	if (len == 0 && sh->block->len > 0) {
		Finished *f = g_new0(Finished, 1);
		f->sh = sh;
		f->out = g_strdup(sh->block->str);
		f->outcome = sh->block_is_outcome;
		if (f->outcome)
			sh->reported = TRUE;
		queue_finished(sh->s, f);
		g_string_truncate(sh->block, 0);
		sh->block_is_outcome = FALSE;
	} else if (sh->block->len + len < MAX_SHADOW_OUTPUT) {
		g_string_append_len(sh->block, line, len);
		g_string_append_c(sh->block, '\n');
		if (g_str_has_prefix(line, "Outcome = "))
			sh->block_is_outcome = TRUE;
	}
	g_data_input_stream_read_line_async(sh->lines, G_PRIORITY_DEFAULT, NULL, on_shadow_line, sh);
}

/* A checkpointed job's first run: the agent picks its checkpoint server
 * among those that advertise to this schedd (ckpt-place.h), sets
 * CheckpointServer in @job (the copy for the shadow) and records the
 * choice in the queue.  No server known: the startd's own ckpt_server, or
 * its checkpoint directory. */
static void choose_ckpt_server(KiteSchedd *s, KiteAd *job, const KiteAd *slot, const KiteJobId *id,
			       const char *slot_name)
{
	g_autofree char *mode = NULL;
	if (kite_ad_get_string(job, "CheckpointMode", &mode) && g_str_equal(mode, "none"))
		return;
	kite_collector_expire(s->collector, kite_now_monotonic());
	g_autoptr(GVariant) list = g_variant_ref_sink(kite_collector_query_kind(s->collector, NULL, FALSE));
	g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	for (gsize i = 0; i < g_variant_n_children(list); i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(list, i);
		KiteAd *ad = kite_ad_from_variant(child, NULL);
		if (ad)
			g_ptr_array_add(servers, ad);
	}
	if (servers->len == 0)
		return;
	/* room for an image as big as the job's memory request (MiB) */
	gint64 need = 0;
	kite_ad_get_int(job, "RequestMemory", &need);
	g_autofree char *why = NULL;
	const KiteAd *best = kite_ckpt_choose_server(servers, slot, need << 20, &why);
	g_autoptr(KiteAd) note = kite_ad_new();
	kite_ad_set_string(note, "CheckpointServerChoice", why);
	if (best) {
		g_autofree char *addr = NULL, *site = NULL, *subnet = NULL;
		kite_ad_get_string(best, "CkptServerAddr", &addr);
		kite_ad_set_string(job, "CheckpointServer", addr);
		kite_ad_set_string(note, "CheckpointServer", addr);
		if (kite_ad_get_string(best, "Site", &site))
			kite_ad_set_string(note, "CheckpointServerSite", site);
		if (kite_ad_get_string(best, "Subnet", &subnet))
			kite_ad_set_string(note, "CheckpointServerSubnet", subnet);
	}
	kite_queue_job_event(s->queue, id, "checkpoint-server", slot_name, why, note, NULL);
}

/* STATE/spool/OWNER, where @owner's shadows keep what vacated jobs leave
 * (shadow --spool): made on first use, mode 0700, the owner's when we
 * are root (shadows become the owner).  NULL if it cannot be made. */
static char *owner_spool(KiteSchedd *s, const char *owner)
{
	if (!owner || !*owner || strchr(owner, '/') || !strcmp(owner, ".") || !strcmp(owner, ".."))
		return NULL;
	g_autofree char *root = g_build_filename(s->state_dir, "spool", NULL);
	g_autofree char *dir = g_build_filename(root, owner, NULL);
	if ((mkdir(root, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		g_message("no spool for %s's vacated jobs: %s: %s", owner, dir, g_strerror(errno));
		return NULL;
	}
	struct passwd *pw = geteuid() == 0 ? getpwnam(owner) : NULL;
	if (pw && lchown(dir, pw->pw_uid, pw->pw_gid) < 0)
		g_message("cannot give %s to %s: %s", dir, owner, g_strerror(errno));
	return g_steal_pointer(&dir);
}

void kite_schedd_spool_forget(KiteSchedd *s, const KiteJobId *id)
{
	g_autofree char *root = g_build_filename(s->state_dir, "spool", NULL);
	g_autoptr(GDir) owners = g_dir_open(root, 0, NULL);
	g_autofree char *leaf = job_name(id);
	const char *owner;
	while (owners && (owner = g_dir_read_name(owners))) {
		g_autofree char *dir = g_build_filename(root, owner, leaf, NULL);
		kite_remove_flat_dir(dir);
	}
}

/* A fresh claim id (hex), or NULL with @error. */
static char *new_claim_id(GError **error)
{
	guint8 raw[24];
	if (!kite_auth_random(raw, sizeof raw, error))
		return NULL;
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, raw, sizeof raw);
}

/* Start the shadow of @job, already marked Running on @slot with
 * @claim recorded: to claim the slot, or with @reconnect to take over
 * the claim it already runs on.  FALSE if it could not start (the job is
 * then Idle again). */
static gboolean start_shadow(KiteSchedd *s, const KiteAd *job, const KiteAd *slot, const KiteJobId *id,
			     const char *claim, gboolean reconnect)
{
	g_autofree char *slot_name = NULL, *addr = NULL, *owner = NULL;
	kite_ad_get_string(slot, "Name", &slot_name);
	kite_ad_get_string(slot, "StartdAddr", &addr);
	kite_ad_get_string(job, "Owner", &owner);
	g_autoptr(GError) error = NULL;
	g_autofree char *program = shadow_program(s);
	g_autofree char *jobid = job_name(id);
	g_autofree char *poll =
	    g_strdup_printf("%g", kite_config_get_duration(s->config, "claim_poll_interval"));
	g_autofree char *max =
	    g_strdup_printf("%" G_GUINT64_FORMAT, kite_config_get_size(s->config, "max_transfer_size"));
	/* How long the shadow may go without an answer before it knows the
	 * startd has killed the job (docs/running-jobs.md, "Several hosts"). */
	gint64 claim_lease = 0;
	kite_ad_get_int(slot, "ClaimLease", &claim_lease);
	g_autofree char *lease = g_strdup_printf("%" G_GINT64_FORMAT, claim_lease);
	gint64 default_job_lease = 0;
	kite_ad_get_int(slot, "DefaultJobLease", &default_job_lease);
	g_autofree char *job_lease = g_strdup_printf("%" G_GINT64_FORMAT, default_job_lease);
	g_autofree char *spool = owner_spool(s, owner);
	/* the optional arguments go into the NULLs at the end */
	const char *argv[] = {program,	   "--job",	     jobid,	"--startd",	  addr,
			      "--slot",	   slot_name,	     "--key-file", s->key_path,	  "--poll-interval",
			      poll,	   "--max-transfer", max,	"--lease",	  lease,
			      "--job-lease", job_lease,	     NULL,	NULL,		  NULL,
			      NULL};
	guint n = G_N_ELEMENTS(argv) - 4;
	if (spool) {
		argv[n++] = "--spool";
		argv[n++] = spool;
	}
	if (reconnect)
		argv[n++] = "--reconnect";
	g_autoptr(GSubprocessLauncher) launcher =
	    g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_autoptr(GSubprocess) proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	if (!proc) {
		g_warning("cannot start the shadow of job %s (%s): %s", jobid, program, error->message);
		kite_queue_set_idle(s->queue, id, 0, "the shadow could not start", FALSE);
		return FALSE;
	}
	Shadow *sh = g_new0(Shadow, 1);
	sh->s = s;
	sh->id = *id;
	sh->slot = g_strdup(slot_name);
	sh->owner = g_strdup(owner ? owner : "");
	sh->claim = g_strdup(claim);
	sh->proc = g_steal_pointer(&proc);
	sh->started = kite_now_wall();
	if (reconnect)
		kite_ad_get_int(job, "JobCurrentStartDate", &sh->started);
	sh->max_retries = 3;
	kite_ad_get_int(job, "MaxRetries", &sh->max_retries);
	kite_ad_get_int(job, "NumRetries", &sh->retries);
	sh->slot_ad = kite_ad_copy(slot);
	sh->claimed_at = kite_now_monotonic();
	sh->n_jobs = 1;
	g_autofree char *ad_text =
	    reconnect ? reconnect_job_text(s, job, id) : shadow_job_text(s, job, slot, id, slot_name);
	sh->feed = g_new0(Feed, 1);
	sh->feed->out = g_object_ref(g_subprocess_get_stdin_pipe(sh->proc));
	feed_send(sh->feed, g_strdup_printf("%s\nJOB %zu\n%s", claim, strlen(ad_text), ad_text));
	sh->block = g_string_new(NULL);
	sh->lines = g_data_input_stream_new(g_subprocess_get_stdout_pipe(sh->proc));
	g_data_input_stream_read_line_async(sh->lines, G_PRIORITY_DEFAULT, NULL, on_shadow_line, sh);
	g_hash_table_insert(s->shadows, g_utf8_casefold(slot_name, -1), sh);
	g_message(reconnect ? "job %s: reconnecting to its claim on %s; shadow pid %s"
			    : "job %s matched to %s; shadow pid %s",
		  jobid, slot_name, g_subprocess_get_identifier(sh->proc));
	return TRUE;
}

/* The text of @job's ad for its shadow, as the job starts on @slot: with
 * its checkpoint capabilities (kept apart from the queue's ads), or a
 * checkpoint server chosen for its first run, and the checkpoint
 * interval the agent chose (each choice recorded as an event). */
static char *shadow_job_text(KiteSchedd *s, const KiteAd *job, const KiteAd *slot, const KiteJobId *id,
			     const char *slot_name)
{
	g_autofree char *caps = kite_queue_job_ckpt_caps(s->queue, id);
	g_autoptr(KiteAd) with_caps = kite_ad_copy(job);
	if (caps)
		kite_ad_set_string(with_caps, "CheckpointCaps", caps);
	if (!caps)
		choose_ckpt_server(s, with_caps, slot, id, slot_name);
	kite_ckpt_interval_choose(s->mtbf, with_caps, slot_name,
				  kite_config_get_duration(s->config, "ckpt_cost_default"),
				  (gint64)kite_config_get_duration(s->config, "ckpt_interval_min"),
				  (gint64)kite_config_get_duration(s->config, "ckpt_interval_max"));
	g_autofree char *choice = NULL;
	if (kite_ad_get_string(with_caps, "CheckpointIntervalChoice", &choice)) {
		g_autoptr(KiteAd) note = kite_ad_new();
		kite_ad_set_string(note, "CheckpointIntervalChoice", choice);
		kite_queue_job_event(s->queue, id, "checkpoint-interval", slot_name, choice, note, NULL);
	}
	return kite_ad_to_text(with_caps);
}

/* The text of @job's ad for a shadow that reconnects to its run: as it
 * is, with its checkpoint capabilities; nothing is chosen again. */
static char *reconnect_job_text(KiteSchedd *s, const KiteAd *job, const KiteJobId *id)
{
	g_autofree char *caps = kite_queue_job_ckpt_caps(s->queue, id);
	g_autoptr(KiteAd) with_caps = kite_ad_copy(job);
	if (caps)
		kite_ad_set_string(with_caps, "CheckpointCaps", caps);
	return kite_ad_to_text(with_caps);
}

static void collect_running(const KiteJobRow *row, gpointer data)
{
	if (row->ad)
		g_ptr_array_add(data, kite_ad_copy(row->ad));
}

static void on_releaser_exit(GObject *source, GAsyncResult *res, gpointer data)
{
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	g_object_unref(source);
}

/* A claim whose job's outcome is recorded, left to its job lease by a
 * shadow that was waiting for the owner's next job when the schedd went:
 * a shadow (--release-claim) lets it go now rather than after the lease
 * (and only if it still holds that job). */
static void release_left_claim(const KiteJobId *id, const char *claim, const char *slot_text, gpointer data)
{
	KiteSchedd *s = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) slot = kite_ad_parse(slot_text, &error);
	g_autofree char *slot_name = NULL, *addr = NULL;
	if (!slot || !kite_ad_get_string(slot, "Name", &slot_name) || !kite_ad_get_string(slot, "StartdAddr", &addr))
		return;
	g_autofree char *program = shadow_program(s);
	g_autofree char *jobid = job_name(id);
	const char *argv[] = {program, "--job",	     jobid,	     "--startd",	addr, "--slot",
			      slot_name, "--key-file", s->key_path, "--release-claim", NULL};
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE);
	GSubprocess *proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	if (!proc) {
		g_warning("cannot start a shadow to release the claim on %s: %s", slot_name, error->message);
		return;
	}
	g_autofree char *ad = g_strdup_printf("ClusterId = %" G_GINT64_FORMAT "\nProcId = %" G_GINT64_FORMAT "\n",
					      id->cluster, id->proc);
	g_autofree char *frame = g_strdup_printf("%s\nJOB %zu\n%s", claim, strlen(ad), ad);
	GOutputStream *in = g_subprocess_get_stdin_pipe(proc);
	if (!g_output_stream_write_all(in, frame, strlen(frame), NULL, NULL, &error))
		g_message("writing to a shadow: %s", error->message);
	g_output_stream_close(in, NULL, NULL);
	g_message("job %s: its outcome is recorded; releasing the claim on %s its shadow left", jobid,
		  slot_name);
	g_subprocess_wait_async(proc, NULL, on_releaser_exit, NULL);
}

/* A schedd starting finds jobs Running with the claims they ran on:
 * their shadows left the claims to the job lease when the schedd went,
 * so each gets a new shadow that takes its claim over (and follows the
 * job, or collects the outcome it reached meanwhile, or finds it gone
 * and requeues it).  The jobs stay Running meanwhile. */
static void reconnect_all(KiteSchedd *s)
{
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	KiteQueueFilter f = {.status = KITE_JOB_RUNNING, .full_ad = TRUE};
	g_autoptr(GError) error = NULL;
	if (!kite_queue_left_claims(s->queue, release_left_claim, s, &error)) {
		g_warning("claims left by the last run: %s", error->message);
		g_clear_error(&error);
	}
	if (!kite_queue_query(s->queue, &f, collect_running, jobs, &error)) {
		g_warning("cannot read the running jobs to reconnect to them: %s", error->message);
		return;
	}
	for (guint i = 0; i < jobs->len; i++) {
		const KiteAd *job = jobs->pdata[i];
		KiteJobId id = {0};
		kite_ad_get_int(job, "ClusterId", &id.cluster);
		kite_ad_get_int(job, "ProcId", &id.proc);
		g_autofree char *claim = NULL, *slot_text = NULL, *slot_name = NULL;
		g_autoptr(KiteAd) slot = NULL;
		g_autofree char *name = job_name(&id);
		if (!kite_queue_job_claim(s->queue, &id, &claim, &slot_text) ||
		    !(slot = kite_ad_parse(slot_text, &error)) || !kite_ad_get_string(slot, "Name", &slot_name)) {
			g_clear_error(&error);
			if (kite_queue_set_idle(s->queue, &id, 0, "the schedd restarted and its claim is unreadable",
						FALSE))
				g_message("job %s is Idle again: its claim is unreadable", name);
			continue;
		}
		g_autofree char *key = g_utf8_casefold(slot_name, -1);
		if (g_hash_table_contains(s->shadows, key)) {
			/* two Running jobs on one slot cannot both hold its claim */
			kite_queue_set_idle(s->queue, &id, 0, "the schedd restarted; another job holds the claim",
					    FALSE);
			continue;
		}
		g_autofree char *detail =
		    g_strdup_printf("the schedd restarted; reconnecting to the job on %s", slot_name);
		kite_queue_job_event(s->queue, &id, "disconnected", slot_name, detail, NULL, NULL);
		start_shadow(s, job, slot, &id, claim, TRUE);
	}
}

GPtrArray *kite_schedd_slot_ads(KiteSchedd *s, gboolean free_only)
{
	kite_collector_expire(s->collector, kite_now_monotonic());
	g_autoptr(KiteExpr) unclaimed =
	    kite_expr_parse("State == \"Unclaimed\" && StartdAddr =!= undefined", NULL, NULL);
	g_autoptr(GPtrArray) ads = kite_collector_ads(s->collector, free_only ? unclaimed : NULL);
	GPtrArray *slots = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	for (guint i = 0; i < ads->len; i++) {
		g_autoptr(KiteAd) ad = g_steal_pointer(&ads->pdata[i]);
		g_autofree char *name = NULL;
		if (!kite_ad_get_string(ad, "Name", &name))
			continue;
		g_autofree char *key = g_utf8_casefold(name, -1);
		if (!free_only || !g_hash_table_contains(s->shadows, key))
			g_ptr_array_add(slots, g_steal_pointer(&ad));
	}
	return slots;
}

/* A claim id for each of @marked (KiteCycleMatch*, Running on disk),
 * recorded with the job in one transaction before any shadow uses it:
 * a shadow that outlives its schedd leaves its job running under the
 * job lease, and a restarted schedd that did not know the claim would
 * start the job a second time.  NULL (nothing recorded) on failure. */
static GPtrArray *record_claims(KiteSchedd *s, GPtrArray *marked)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) claims = g_ptr_array_new_with_free_func(g_free);
	if (!kite_queue_begin(s->queue, &error)) {
		g_warning("claims of %u matched job(s) not recorded: %s", marked->len, error->message);
		return NULL;
	}
	gboolean ok = TRUE;
	for (guint i = 0; ok && i < marked->len; i++) {
		const KiteCycleMatch *m = marked->pdata[i];
		char *claim = new_claim_id(&error);
		g_ptr_array_add(claims, claim);
		g_autofree char *slot_text = kite_ad_to_text(m->slot);
		ok = claim && (!m->job || kite_queue_set_claim(s->queue, &m->id, claim, slot_text, &error));
	}
	/* Claims recorded before a failure belong to jobs that go back to
	 * Idle now; their next run replaces them. */
	if (!kite_queue_commit(s->queue, ok ? &error : NULL))
		ok = FALSE;
	if (!ok) {
		g_warning("claims of %u matched job(s) not recorded: %s", marked->len, error->message);
		return NULL;
	}
	return g_steal_pointer(&claims);
}

gboolean kite_schedd_negotiate(gpointer data)
{
	KiteSchedd *s = data;
	KiteCycleStats stats;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) marked = kite_schedd_cycle(s, &stats, &error);
	if (!marked) {
		g_warning("negotiation: %s", error->message);
		return G_SOURCE_CONTINUE;
	}
	if (stats.groups.n_jobs == 0)
		return G_SOURCE_CONTINUE;
	g_autoptr(GPtrArray) claims = record_claims(s, marked);
	for (guint i = 0; i < marked->len; i++) {
		const KiteCycleMatch *m = marked->pdata[i];
		if (!m->job)
			kite_queue_set_idle(s->queue, &m->id, 0, "its ad could not be read", FALSE);
		else if (!claims)
			kite_queue_set_idle(s->queue, &m->id, 0, "its claim could not be recorded", FALSE);
		else
			start_shadow(s, m->job, m->slot, &m->id, claims->pdata[i], FALSE);
	}
	g_autofree char *what = kite_cycle_stats_describe(&stats);
	g_message("negotiation: %s", what);
	return G_SOURCE_CONTINUE;
}

static gboolean negotiate_idle(gpointer data)
{
	KiteSchedd *s = data;
	s->negotiate_source = 0;
	kite_schedd_negotiate(s);
	return G_SOURCE_REMOVE;
}

void kite_schedd_negotiate_soon(KiteSchedd *s)
{
	if (!s->negotiate_source && s->shadows)
		/* A short delay gathers the slots that free up together (many
		 * jobs ending at once) into one cycle. */
		s->negotiate_source = g_timeout_add(NEGOTIATE_DELAY_MS, negotiate_idle, s);
}

void kite_schedd_shadows_jobs_left(KiteSchedd *s, GArray *results)
{
	for (guint i = 0; i < results->len; i++) {
		const KiteActResult *r = &g_array_index(results, KiteActResult, i);
		if (!r->ok)
			continue;
		GHashTableIter it;
		gpointer value;
		g_hash_table_iter_init(&it, s->shadows);
		while (g_hash_table_iter_next(&it, NULL, &value)) {
			Shadow *sh = value;
			if (sh->id.cluster == r->id.cluster && sh->id.proc == r->id.proc) {
				g_message("job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT
					  " left the queue while running: stopping its shadow",
					  sh->id.cluster, sh->id.proc);
				g_subprocess_send_signal(sh->proc, SIGTERM);
			}
		}
	}
}

void kite_schedd_shadows_checkpoint(KiteSchedd *s, GArray *results, gboolean vacate)
{
	for (guint i = 0; i < results->len; i++) {
		const KiteActResult *r = &g_array_index(results, KiteActResult, i);
		GHashTableIter it;
		gpointer value;
		g_hash_table_iter_init(&it, s->shadows);
		while (r->ok && g_hash_table_iter_next(&it, NULL, &value)) {
			Shadow *sh = value;
			if (sh->id.cluster == r->id.cluster && sh->id.proc == r->id.proc)
				g_subprocess_send_signal(sh->proc, vacate ? SIGUSR1 : SIGUSR2);
		}
	}
}
