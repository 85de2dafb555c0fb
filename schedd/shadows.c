/* shadows.c — the schedd's negotiator role in the main loop and the
 * shadows it starts: a cycle gathers the idle jobs and the Unclaimed
 * slots nobody is claiming, asks negotiator.c for matches, marks each
 * matched job Running and spawns one `shadow` process for it.  The
 * shadow gets its claim id and the job ad on stdin, prints events
 * (started, suspended, checkpoint…) as ads on stdout while the job runs
 * and its outcome as the last ad; each is recorded in the queue as it
 * arrives (shadow/main.c describes the stream).  The schedd never talks
 * to a startd itself. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "schedd.h"
#include "util.h"

/* How long a requested negotiation cycle waits for more reasons to run. */
#define NEGOTIATE_DELAY_MS 50

/* Largest outcome a shadow may print. */
#define MAX_SHADOW_OUTPUT (64 * 1024)

typedef struct {
	KiteSchedd *s;
	KiteJobId id;
	char *slot;
	char *owner;
	GSubprocess *proc;
	char *input;		     /* claim id and job ad, being written to its stdin */
	GDataInputStream *lines;     /* its stdout */
	GString *block;		     /* the ad being read */
	gint64 started;		     /* wall seconds */
	gint64 retries, max_retries; /* NumRetries and MaxRetries of the job */
} Shadow;

static void shadow_free(Shadow *sh)
{
	g_free(sh->slot);
	g_free(sh->owner);
	g_free(sh->input);
	g_clear_object(&sh->lines);
	if (sh->block)
		g_string_free(sh->block, TRUE);
	g_clear_object(&sh->proc);
	g_free(sh);
}

void kite_schedd_shadows_init(KiteSchedd *s)
{
	s->usage = kite_usage_new(kite_config_get_duration(s->config, "usage_half_life"));
	s->shadows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gint64 n = kite_queue_requeue_running(s->queue);
	if (n > 0)
		g_message("%" G_GINT64_FORMAT
			  " job(s) were Running when the schedd stopped; they are Idle again",
			  n);
}

void kite_schedd_shadows_free(KiteSchedd *s)
{
	if (s->shadows) {
		GHashTableIter it;
		gpointer value;
		g_hash_table_iter_init(&it, s->shadows);
		/* The shadows release their claims; the Shadow records stay
		 * with their pending callbacks, which never run now. */
		while (g_hash_table_iter_next(&it, NULL, &value))
			g_subprocess_send_signal(((Shadow *)value)->proc, SIGTERM);
		g_clear_pointer(&s->shadows, g_hash_table_unref);
	}
	if (s->negotiate_source)
		g_source_remove(s->negotiate_source);
	kite_usage_free(s->usage);
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
		g_autofree char *reason = g_strdup_printf(
		    "its checkpoint could not be restarted (%s); starting over from scratch (%" G_GINT64_FORMAT
		    " s of run time lost, under ckpt_lost_work_limit)",
		    why, done);
		if (kite_queue_set_idle(s->queue, &sh->id, wall, reason, FALSE))
			g_message("job %s is Idle again: %s", name, reason);
		return;
	}
	g_autofree char *reason = g_strdup_printf(
	    "its checkpoint could not be restarted (%s); starting over would lose %" G_GINT64_FORMAT
	    " s of run time (ckpt_lost_work_limit is %" G_GINT64_FORMAT " s): release the job to start it from scratch",
	    why, done, limit);
	if (kite_queue_hold_running(s->queue, &sh->id, reason, 13, wall))
		g_message("job %s held: %s", name, reason);
}

/* Apply a shadow's outcome (@out, an ad; NULL or garbled if it died)
 * to the queue. */
static void apply_outcome(Shadow *sh, const char *out, int exit_status)
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
	gboolean lost = !ad, job_started = FALSE;
	g_autofree char *unusable = NULL;
	if (ad) {
		kite_ad_get_bool(ad, "SlotLost", &lost);
		kite_ad_get_bool(ad, "JobStarted", &job_started);
		kite_ad_get_string(ad, "CheckpointUnusable", &unusable);
	}
	kite_usage_charge(s->usage, sh->owner, wall, kite_now_wall());
	{
		const char *event = g_strcmp0(outcome, "completed") == 0 ? "exited"
				    : g_strcmp0(outcome, "hold") == 0   ? "held"
				    : unusable				 ? "restart-failed"
									 : "requeued";
		g_autofree char *detail =
		    g_strcmp0(outcome, "completed") == 0
			? g_strdup_printf("%s %" G_GINT64_FORMAT, sig ? "signal" : "exit code", sig ? sig : code)
			: g_strdup(reason ? reason : "");
		if (!kite_queue_job_event(s->queue, &sh->id, event, sh->slot, detail, NULL, &error)) {
			g_message("job %s: cannot record its %s event: %s", name, event, error->message);
			g_clear_error(&error);
		}
	}
	if (unusable) {
		checkpoint_unusable(sh, unusable, wall);
		return;
	}
	if (g_strcmp0(outcome, "completed") == 0 && sig > 0) {
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
	apply_outcome(sh, sh->block->str, status);
	g_autofree char *key = g_utf8_casefold(sh->slot, -1);
	g_hash_table_remove(s->shadows, key);
	shadow_free(sh);
	kite_schedd_negotiate_soon(s);
}

/* An event ad from the shadow (see shadow/main.c): into the queue. */
static void record_event(Shadow *sh, const char *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) ad = kite_ad_parse(text, &error);
	g_autofree char *event = NULL, *slot = NULL;
	g_autofree char *name = job_name(&sh->id);
	if (!ad || !kite_ad_get_string(ad, "Event", &event)) {
		g_message("job %s: its shadow sent a bad event: %s", name, error ? error->message : "no Event");
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
	if (g_str_equal(event, "checkpoint") && kite_ad_get_int(ad, "CheckpointSize", &size)) {
		detail = kite_ad_get_real(ad, "CheckpointSeconds", &secs)
			     ? g_strdup_printf("%" G_GINT64_FORMAT " bytes, %.3f s", size, secs)
			     : g_strdup_printf("%" G_GINT64_FORMAT " bytes", size);
		g_message("job %s: checkpoint of %" G_GINT64_FORMAT " bytes committed on %s", name, size, slot);
	}
	if (!kite_queue_job_event(sh->s->queue, &sh->id, event, slot, detail, ad, &error))
		g_message("job %s: cannot record its %s event: %s", name, event, error->message);
}

static void on_shadow_line(GObject *source, GAsyncResult *res, gpointer data)
{
	Shadow *sh = data;
	gsize len = 0;
	g_autoptr(GError) error = NULL;
	g_autofree char *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source), res, &len, &error);
	if (!sh->s->shadows) /* shutting down */
		return;
	if (!line) {
		if (error)
			g_message("shadow of job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ": %s", sh->id.cluster,
				  sh->id.proc, error->message);
		g_subprocess_wait_async(sh->proc, NULL, on_shadow_exit, sh);
		return;
	}
	if (len == 0 && sh->block->len > 0) {
		record_event(sh, sh->block->str);
		g_string_truncate(sh->block, 0);
	} else if (sh->block->len + len < MAX_SHADOW_OUTPUT) {
		g_string_append_len(sh->block, line, len);
		g_string_append_c(sh->block, '\n');
	}
	g_data_input_stream_read_line_async(sh->lines, G_PRIORITY_DEFAULT, NULL, on_shadow_line, sh);
}

static void on_input_written(GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error))
		g_message("writing to a shadow: %s", error->message);
	g_output_stream_close(G_OUTPUT_STREAM(source), NULL, NULL);
}

/* Start the shadow of @job, already marked Running on @slot.  FALSE if
 * it could not start (the job is then Idle again). */
static gboolean start_shadow(KiteSchedd *s, const KiteAd *job, const KiteAd *slot, const KiteJobId *id)
{
	g_autofree char *slot_name = NULL, *addr = NULL, *owner = NULL;
	kite_ad_get_string(slot, "Name", &slot_name);
	kite_ad_get_string(slot, "StartdAddr", &addr);
	kite_ad_get_string(job, "Owner", &owner);
	guint8 raw[24];
	g_autoptr(GError) error = NULL;
	if (!kite_auth_random(raw, sizeof raw, &error)) {
		g_warning("cannot make a claim id: %s", error->message);
		kite_queue_set_idle(s->queue, id, 0, "the shadow could not start", FALSE);
		return FALSE;
	}
	g_autofree char *claim = g_compute_checksum_for_data(G_CHECKSUM_SHA256, raw, sizeof raw);

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
	const char *argv[] = {program,	"--job",	  jobid,	"--startd",  addr,
			      "--slot", slot_name,	  "--key-file", s->key_path, "--poll-interval",
			      poll,	"--max-transfer", max,		"--lease",   lease,
			      NULL};
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
	sh->proc = g_steal_pointer(&proc);
	sh->started = kite_now_wall();
	sh->max_retries = 3;
	kite_ad_get_int(job, "MaxRetries", &sh->max_retries);
	kite_ad_get_int(job, "NumRetries", &sh->retries);
	g_autofree char *caps = kite_queue_job_ckpt_caps(s->queue, id);
	g_autoptr(KiteAd) with_caps = kite_ad_copy(job);
	if (caps)
		kite_ad_set_string(with_caps, "CheckpointCaps", caps);
	g_autofree char *ad_text = kite_ad_to_text(with_caps);
	sh->input = g_strdup_printf("%s\n%s", claim, ad_text);
	sh->block = g_string_new(NULL);
	sh->lines = g_data_input_stream_new(g_subprocess_get_stdout_pipe(sh->proc));
	g_output_stream_write_all_async(g_subprocess_get_stdin_pipe(sh->proc), sh->input, strlen(sh->input),
					G_PRIORITY_DEFAULT, NULL, on_input_written, sh);
	g_data_input_stream_read_line_async(sh->lines, G_PRIORITY_DEFAULT, NULL, on_shadow_line, sh);
	g_hash_table_insert(s->shadows, g_utf8_casefold(slot_name, -1), sh);
	g_message("job %s matched to %s; shadow pid %s", jobid, slot_name,
		  g_subprocess_get_identifier(sh->proc));
	return TRUE;
}

static void collect_job(const KiteJobRow *row, gpointer data)
{
	if (row->ad)
		g_ptr_array_add(data, kite_ad_copy(row->ad));
}

GPtrArray *kite_schedd_slot_ads(KiteSchedd *s, gboolean free_only)
{
	kite_collector_expire(s->collector, kite_now_monotonic());
	g_autoptr(KiteExpr) unclaimed =
	    kite_expr_parse("State == \"Unclaimed\" && StartdAddr =!= undefined", NULL, NULL);
	g_autoptr(GVariant) ads =
	    g_variant_ref_sink(kite_collector_query(s->collector, free_only ? unclaimed : NULL));
	GPtrArray *slots = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	for (gsize i = 0; i < g_variant_n_children(ads); i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(ads, i);
		g_autoptr(KiteAd) ad = kite_ad_from_variant(child, NULL);
		g_autofree char *name = NULL;
		if (!ad || !kite_ad_get_string(ad, "Name", &name))
			continue;
		g_autofree char *key = g_utf8_casefold(name, -1);
		if (!free_only || !g_hash_table_contains(s->shadows, key))
			g_ptr_array_add(slots, g_steal_pointer(&ad));
	}
	return slots;
}

gboolean kite_schedd_negotiate(gpointer data)
{
	KiteSchedd *s = data;
	g_autoptr(GPtrArray) slots = kite_schedd_slot_ads(s, TRUE);
	if (slots->len == 0)
		return G_SOURCE_CONTINUE;

	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)kite_ad_free);
	KiteQueueFilter f = {.status = KITE_JOB_IDLE, .full_ad = TRUE};
	g_autoptr(GError) error = NULL;
	if (!kite_queue_query(s->queue, &f, collect_job, jobs, &error)) {
		g_warning("negotiation: %s", error->message);
		return G_SOURCE_CONTINUE;
	}
	if (jobs->len == 0)
		return G_SOURCE_CONTINUE;

	KiteNegotiationStats stats;
	double t0 = kite_now_monotonic();
	g_autoptr(GArray) matches = kite_negotiate(jobs, slots, s->usage, 1.0, kite_now_wall(), &stats);
	/* Mark every matched job Running in one transaction, then start the
	 * shadows: a job is never claimed twice, and never claimed unless
	 * its Running state is on disk. */
	g_autoptr(GArray) marked = g_array_new(FALSE, FALSE, sizeof(KiteMatch));
	g_autoptr(GError) batch_error = NULL;
	if (!kite_queue_begin(s->queue, &batch_error)) {
		g_warning("negotiation: %s", batch_error->message);
		return G_SOURCE_CONTINUE;
	}
	for (guint i = 0; i < matches->len; i++) {
		const KiteMatch *m = &g_array_index(matches, KiteMatch, i);
		g_autofree char *slot_name = NULL;
		kite_ad_get_string(slots->pdata[m->slot], "Name", &slot_name);
		if (kite_queue_set_running(s->queue, &m->id, slot_name))
			g_array_append_val(marked, *m);
	}
	if (!kite_queue_commit(s->queue, &batch_error)) {
		g_warning("negotiation: %s", batch_error->message);
		return G_SOURCE_CONTINUE;
	}
	guint started = 0;
	for (guint i = 0; i < marked->len; i++) {
		const KiteMatch *m = &g_array_index(marked, KiteMatch, i);
		started += start_shadow(s, jobs->pdata[m->job], slots->pdata[m->slot], &m->id);
	}
	g_message("negotiation: %u idle job(s) in %u autocluster(s), %u free slot(s): %u matched, %u "
		  "evaluations, %.3f s",
		  stats.n_jobs, stats.n_autoclusters, slots->len, started, stats.n_evaluations,
		  kite_now_monotonic() - t0);
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
