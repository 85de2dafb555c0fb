/* main.c — the shadow: one per claim, started by the schedd
 * (schedd/shadows.c), following one running job at a time.  It reads
 * the claim id and the first job ad on stdin, claims the slot from its
 * startd (authenticated with the pool key), sends the executable and
 * inputs, polls the startd until the job has exited (each poll is also
 * the claim's heartbeat), writes the outputs home and prints the job's
 * outcome as an ad on stdout:
 *
 *   Outcome = "completed" | "requeue" | "hold"
 *   ExitCode / ExitSignal, WallSeconds, Reason, HoldReasonCode,
 *   SlotLost (the startd was unreachable or refused the claim, or was
 *   lost), JobStarted (the job's process was started),
 *   NextJob (true: the claim is kept, and the shadow waits on stdin for
 *   the owner's next job — claim reuse),
 *   RunMemoryPeak (bytes), RunUserCpu, RunSysCpu (seconds): what the
 *   run used, when the startd measured it (the run ended there: exited,
 *   vacated, held over its memory, restart failed)
 *
 * stdin is "CLAIM-ID\n" and then frames "JOB <bytes>\n<job ad>" — the
 * first job, and after each outcome with NextJob the next one — or
 * "NONE\n" (or end of file): no next job, release the claim.  A next
 * job goes to the startd as CLAIM_NEXT (the startd may refuse: its
 * owner came back, Start, claim_worklife), then as the first one did.
 *
 * Before each outcome it prints events as they happen, each an ad with
 * an Event attribute ("started", "suspended", "running", "checkpoint");
 * every ad, outcome included, is followed by an empty line
 * (schedd/shadows.c records each in the queue as it comes).  A "checkpoint" event carries
 * LastCheckpointImage, LastCheckpointSandbox, LastCheckpointTime,
 * CheckpointSize and CheckpointSeconds.
 *
 * A lost startd means "requeue": the job goes back to Idle — but only
 * once the startd has certainly killed it: after --lease seconds
 * without an answer (a network cut or a dead host look alike from
 * here), or at once when the startd says the claim is gone.  Blocking
 * I/O is fine here: the shadow follows one job and nothing else.
 * SIGTERM (the job was removed or held) releases the claim; SIGHUP (the
 * schedd died or stops) leaves it to the job lease — CLAIM_DISCONNECT,
 * then exit, and the job goes on — for the restarted schedd's new shadow,
 * started with --reconnect, to take over with CLAIM_RECONNECT (and
 * record a "reconnected" event, or an outcome with ReconnectFailed);
 * --release-claim lets go a claim whose job's outcome the schedd has
 * recorded (docs/running-jobs.md, "Schedd restarts").  SIGUSR1 asks
 * the job to checkpoint and leave (`pool vacate`), SIGUSR2 to checkpoint
 * and go on (`pool ckpt`). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "job.h"
#include "log.h"
#include "shadow.h"
#include "util.h"

/* Seconds before the first poll of a started job (doubling up to
 * --poll-interval). */
#define FIRST_POLL 0.005

/* Largest job ad (with its claim id line) accepted on stdin. */
#define MAX_STDIN (4 * 1024 * 1024)

static char *arg_job;
static char *arg_startd;
static char *arg_slot;
static char *arg_key_file;
static double arg_poll = 1.0;
static gint64 arg_max_transfer = 32 * 1024 * 1024;
static double arg_lease;
static char *arg_spool;
static gboolean arg_reconnect;
static gboolean arg_release_claim;
static double arg_job_lease;

/* The lease assumed for a startd whose slot ad has no ClaimLease. */
#define DEFAULT_LEASE 120.0

static const GOptionEntry options[] = {
    {"job", 0, 0, G_OPTION_ARG_STRING, &arg_job, "The job's id, for the log", "CLUSTER.PROC"},
    {"startd", 0, 0, G_OPTION_ARG_STRING, &arg_startd, "The startd's address (StartdAddr)", "HOST:PORT"},
    {"slot", 0, 0, G_OPTION_ARG_STRING, &arg_slot, "The slot to claim", "NAME"},
    {"key-file", 0, 0, G_OPTION_ARG_FILENAME, &arg_key_file, "The pool key", "PATH"},
    {"poll-interval", 0, 0, G_OPTION_ARG_DOUBLE, &arg_poll, "Seconds between polls of the startd", "S"},
    {"max-transfer", 0, 0, G_OPTION_ARG_INT64, &arg_max_transfer, "Most bytes of input to send", "BYTES"},
    {"spool", 0, 0, G_OPTION_ARG_FILENAME, &arg_spool,
     "Keep a vacated job's files here (SPOOL/CLUSTER.PROC) for the run that resumes it", "DIR"},
    {"lease", 0, 0, G_OPTION_ARG_DOUBLE, &arg_lease,
     "The startd's ClaimLease: seconds without an answer after which it has killed the job "
     "(0: 120)",
     "S"},
    {"reconnect", 0, 0, G_OPTION_ARG_NONE, &arg_reconnect,
     "Take over the claim (stdin's claim id) of a job that ran while the schedd restarted, rather than "
     "claiming the slot",
     NULL},
    {"release-claim", 0, 0, G_OPTION_ARG_NONE, &arg_release_claim,
     "Release the claim (stdin's claim id) if it still holds the job (stdin's job ad), whose outcome the "
     "schedd has recorded; print nothing",
     NULL},
    {"job-lease", 0, 0, G_OPTION_ARG_DOUBLE, &arg_job_lease,
     "The startd's job lease for jobs whose ad sets no JobLeaseDuration (its DefaultJobLease; 0: 2400)", "S"},
    {NULL},
};

/* HTCondor's default JOB_LEASE_DURATION, for a startd that says none. */
#define DEFAULT_JOB_LEASE 2400.0

static volatile sig_atomic_t terminate, disconnect, want_vacate, want_ckpt;

static void on_term(int sig)
{
	terminate = 1;
}

/* SIGHUP: the schedd is gone (or stops, and will start again). */
static void on_disconnect(int sig)
{
	disconnect = 1;
}

static void on_request(int sig)
{
	if (sig == SIGUSR1)
		want_vacate = 1;
	else
		want_ckpt = 1;
}

/* What the shadow reports. */
typedef struct {
	const char *outcome;
	gint64 code, signal, hold_code;
	char *reason;
	gint64 started;
	gboolean slot_lost;  /* the startd was unreachable or refused the claim */
	char *ckpt_unusable; /* why the job's checkpoint could not be restarted */
	gboolean reconnect_failed; /* --reconnect found no job to take over */
	KiteAd *ckpt;	     /* the newest checkpoint's attributes, if one was taken */
	gboolean measured;   /* the startd said what the run used: */
	guint64 memory_peak, user_usec, system_usec;
} Outcome;

static void set_outcome(Outcome *o, const char *outcome, gint64 hold_code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void set_outcome(Outcome *o, const char *outcome, gint64 hold_code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_free(o->reason);
	o->reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	o->outcome = outcome;
	o->hold_code = hold_code;
}

static void print_outcome(const Outcome *o, gboolean next_job)
{
	g_autoptr(KiteAd) ad = kite_ad_new();
	kite_ad_set_string(ad, "Outcome", o->outcome);
	if (o->signal > 0)
		kite_ad_set_int(ad, "ExitSignal", o->signal);
	else
		kite_ad_set_int(ad, "ExitCode", o->code);
	kite_ad_set_int(ad, "WallSeconds", o->started ? kite_now_wall() - o->started : 0);
	if (o->reason)
		kite_ad_set_string(ad, "Reason", o->reason);
	if (o->hold_code)
		kite_ad_set_int(ad, "HoldReasonCode", o->hold_code);
	if (o->slot_lost)
		kite_ad_set_bool(ad, "SlotLost", TRUE);
	if (o->started)
		kite_ad_set_bool(ad, "JobStarted", TRUE);
	if (o->ckpt_unusable)
		kite_ad_set_string(ad, "CheckpointUnusable", o->ckpt_unusable);
	if (o->reconnect_failed)
		kite_ad_set_bool(ad, "ReconnectFailed", TRUE);
	if (next_job)
		kite_ad_set_bool(ad, "NextJob", TRUE);
	if (o->measured) {
		kite_ad_set_int(ad, "RunMemoryPeak", (gint64)o->memory_peak);
		kite_ad_set_real(ad, "RunUserCpu", o->user_usec / 1e6);
		kite_ad_set_real(ad, "RunSysCpu", o->system_usec / 1e6);
	}
	g_autofree char *text = kite_ad_to_text(ad);
	fputs(text, stdout);
	fputs("\n", stdout);
	fflush(stdout);
}

static void outcome_clear(Outcome *o)
{
	g_free(o->reason);
	g_free(o->ckpt_unusable);
	if (o->ckpt)
		kite_ad_free(o->ckpt);
	*o = (Outcome){.outcome = "requeue"};
}

/* An event for the queue (see the top of this file). */
static void print_event(const char *event, const KiteAd *attrs)
{
	g_autoptr(KiteAd) ad = attrs ? kite_ad_copy(attrs) : kite_ad_new();
	kite_ad_set_string(ad, "Event", event);
	kite_ad_set_string(ad, "EventSlot", arg_slot);
	kite_ad_set_int(ad, "EventTime", kite_now_wall());
	g_autofree char *text = kite_ad_to_text(ad);
	fputs(text, stdout);
	fputs("\n", stdout);
	fflush(stdout);
}

/* A checkpoint newer than any the shadow knows of: print its event. */
static void note_checkpoint(GVariant *attrs, Outcome *o, const KiteAd *job)
{
	g_autoptr(KiteAd) ad = kite_ad_from_variant(attrs, NULL);
	g_autofree char *image = NULL, *known = NULL;
	gint64 seq = 0, known_seq = 0;
	if (!ad || !kite_ad_get_string(ad, "LastCheckpointImage", &image))
		return;
	kite_ad_get_int(ad, "CheckpointSeq", &seq);
	const KiteAd *last = o->ckpt ? o->ckpt : job;
	kite_ad_get_string(last, "LastCheckpointImage", &known);
	kite_ad_get_int(last, "CheckpointSeq", &known_seq);
	/* with a server the image keeps its name: libckpt's number tells */
	if (g_strcmp0(image, known) == 0 && seq == known_seq)
		return;
	print_event("checkpoint", ad);
	if (o->ckpt)
		kite_ad_free(o->ckpt);
	o->ckpt = g_steal_pointer(&ad);
}

/* Ask the startd to checkpoint the job (and make it leave, with @exit). */
static void request_checkpoint(KiteConn *conn, const char *claim, gboolean exit)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r =
	    kite_conn_call(conn, KITE_MSG_CLAIM_CHECKPOINT, g_variant_new("(sb)", claim, exit),
			   KITE_MSG_CLAIM_REPLY, &error);
	if (!r)
		g_message("asking %s to checkpoint the job: %s", arg_slot, error->message);
}

/* The next job from the schedd on stdin: a parsed ad, or NULL with
 * @error unset for "NONE" (no more jobs; *@out_none set) or end of file
 * (the schedd is gone), or with @error for a garbled frame. */
static KiteAd *read_job(gboolean *out_none, GError **error)
{
	char line[64];
	*out_none = FALSE;
	if (!fgets(line, sizeof line, stdin))
		return NULL;
	if (g_str_equal(line, "NONE\n")) {
		*out_none = TRUE;
		return NULL;
	}
	char *end = NULL;
	guint64 len = g_str_has_prefix(line, "JOB ") ? g_ascii_strtoull(line + 4, &end, 10) : 0;
	if (!end || *end != '\n' || len > MAX_STDIN) {
		kite_throw(error, KITE_ERROR_PROTOCOL,
			   "the schedd sent \"%.*s\", not a job frame of at most %d bytes",
			   (int)strcspn(line, "\n"), line, MAX_STDIN);
		return NULL;
	}
	g_autofree char *text = g_malloc(len + 1);
	if (fread(text, 1, len, stdin) != len) {
		kite_throw(error, KITE_ERROR_PROTOCOL,
			   "the job ad on stdin ends before its %" G_GUINT64_FORMAT " bytes", len);
		return NULL;
	}
	text[len] = '\0';
	KiteAd *ad = kite_ad_parse(text, error);
	if (!ad)
		g_prefix_error(error, "the job ad from the schedd: ");
	return ad;
}

/* When root, become the job's owner (if such a local user exists and is
 * not root), so that the owner's permissions decide which files are
 * read and written for the job. */
static gboolean become_owner(const KiteAd *job, GError **error)
{
	g_autofree char *owner = NULL;
	if (geteuid() != 0 || !kite_ad_get_string(job, "Owner", &owner))
		return TRUE;
	struct passwd *pw = getpwnam(owner);
	if (!pw || pw->pw_uid == 0)
		return TRUE;
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return kite_throw_errno(error, "become %s", owner);
	return TRUE;
}

/* Get SIGHUP when the schedd dies: the shadow hands the claim to its
 * job lease (CLAIM_DISCONNECT) and goes, and the schedd that starts
 * again reconnects to the job with a new shadow.  Set after
 * become_owner(), which clears it. */
static gboolean follow_parent(GError **error)
{
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGHUP, 0, 0, 0) < 0)
		return kite_throw_errno(error, "prctl PR_SET_PDEATHSIG");
	if (getppid() != parent)
		disconnect = 1; /* the schedd died already */
	return TRUE;
}

/* @timeout bounds each step (connect, HELLO, authentication) and every
 * later exchange on the connection. */
static KiteConn *connect_startd(GBytes *key, double timeout, GError **error)
{
	g_autoptr(KiteConn) conn = kite_conn_connect(arg_startd, timeout, error);
	if (!conn)
		return NULL;
	g_autofree char *name = g_strdup_printf("shadow@%s", g_get_host_name());
	if (!kite_conn_auth_daemon(conn, key, name, error))
		return NULL;
	return g_steal_pointer(&conn);
}

static void release(KiteConn *conn, const char *claim)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r =
	    kite_conn_call(conn, KITE_MSG_RELEASE, g_variant_new("(s)", claim), KITE_MSG_CLAIM_REPLY, &error);
	if (!r)
		g_message("releasing the claim on %s: %s", arg_slot, error->message);
}

/* The schedd is gone: leave the claim and its job to the job lease
 * (the startd keeps both for a new shadow to take over) and exit,
 * without an outcome — nobody reads it, and the restarted schedd learns
 * the job's fate from the startd. */
static void G_GNUC_NORETURN leave_to_lease(KiteConn *conn, const char *claim, GBytes *key)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConn) own = NULL;
	if (!conn)
		conn = own = connect_startd(key, 5, &error);
	g_autoptr(GVariant) r = conn ? kite_conn_call(conn, KITE_MSG_CLAIM_DISCONNECT, g_variant_new("(s)", claim),
						      KITE_MSG_CLAIM_REPLY, &error)
				     : NULL;
	if (r) {
		const char *msg;
		g_variant_get(r, "(&s)", &msg);
		g_message("job %s: the schedd is gone; the job goes on under its lease (%s)", arg_job, msg);
	} else {
		g_message("job %s: the schedd is gone, and the startd of %s could not be told so (%s): the job "
			  "goes on until its claim lease runs out",
			  arg_job, arg_slot, error->message);
	}
	exit(0);
}

/* The job lease the startd grants @job: its JobLeaseDuration, else the
 * startd's default. */
static double job_lease(const KiteAd *job)
{
	gint64 lease = 0;
	if (kite_ad_get_int(job, "JobLeaseDuration", &lease) && lease > 0)
		return (double)MIN(lease, KITE_JOB_LEASE_MAX);
	return arg_job_lease > 0 ? arg_job_lease : DEFAULT_JOB_LEASE;
}

/* "CLUSTER.PROC" of @job, for the log. */
static char *job_label(const KiteAd *job)
{
	gint64 cluster = 0, proc = 0;
	kite_ad_get_int(job, "ClusterId", &cluster);
	kite_ad_get_int(job, "ProcId", &proc);
	return g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, cluster, proc);
}

/* Sleep @seconds unless SIGTERM comes first. */
static void nap(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
	while (!terminate && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Send the job's executable and inputs and start it on the claimed
 * slot; fills @o and releases the claim when it did not start. */
static gboolean start_job(KiteConn *conn, const char *claim, const KiteAd *job, Outcome *o)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) r = NULL;
	g_auto(KiteJobFiles) files = {0};
	int hold_code = 0;
	if (!kite_shadow_gather_inputs(job, arg_max_transfer, arg_spool, &files, &hold_code, &error)) {
		release(conn, claim);
		set_outcome(o, "hold", hold_code, "%s", error->message);
		return FALSE;
	}
	/* The executable by its hash first: a startd that ran it before
	 * keeps it, and then it need not travel (nor be checked) again. */
	r = kite_conn_call(
	    conn, KITE_MSG_ACTIVATE_CACHED,
	    g_variant_new("(sss@a(suay))", claim, files.exec_name, files.exec_sha256, files.inputs),
	    KITE_MSG_ACTIVATE_REPLY, &error);
	if (!r && g_error_matches(error, KITE_ERROR, KITE_ERROR_NOT_FOUND)) {
		g_clear_error(&error);
		r = kite_conn_call(
		    conn, KITE_MSG_ACTIVATE,
		    g_variant_new("(ss@a(suay))", claim, files.exec_name, kite_job_files_all(&files)),
		    KITE_MSG_ACTIVATE_REPLY, &error);
	}
	if (!r) {
		if (g_error_matches(error, KITE_ERROR, KITE_ERROR_FAILED)) {
			release(conn, claim);
			set_outcome(o, "hold", 6, "the job could not start: %s", error->message);
		} else {
			release(conn, claim);
			set_outcome(o, "requeue", 0, "%s did not start the job: %s", arg_slot,
				    error->message);
		}
		return FALSE;
	}
	gint64 pid;
	g_variant_get(r, "(x)", &pid);
	g_message("job %s runs on %s (pid %" G_GINT64_FORMAT ")", arg_job, arg_slot, pid);
	o->started = kite_now_wall();
	print_event("started", NULL);
	return TRUE;
}

/* Follow the claim's started job to its end; fills @o.  TRUE when the
 * job completed and the claim is still held (it may take the owner's
 * next job), FALSE when the claim was released or lost.  *@inout_conn
 * may be replaced (a reconnect) or cleared. */
static gboolean follow_job(KiteConn **inout_conn, const char *claim, const KiteAd *job, GBytes *key, Outcome *o)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConn) conn = g_steal_pointer(inout_conn);
	const char *last_state = "running";
	/* Following the job: each exchange may take a quarter of the lease
	 * before it counts as one missed heartbeat. */
	double lease = arg_lease > 0 ? arg_lease : DEFAULT_LEASE;
	double exchange_timeout = CLAMP(lease / 4, 1, 30);
	kite_conn_set_timeout(conn, exchange_timeout);
	double last_answer = kite_now_monotonic();
	g_autofree char *silence = NULL; /* why the startd is silent, while it is */
	/* Ask soon after the start, then back off to the poll interval: a
	 * short job is over before a whole interval has passed. */
	double wait = MIN(arg_poll, FIRST_POLL);
	for (;;) {
		nap(wait);
		wait = MIN(wait * 2, arg_poll);
		if ((want_vacate || want_ckpt) && conn) {
			request_checkpoint(conn, claim, want_vacate);
			want_vacate = want_ckpt = 0;
		}
		if (disconnect && !terminate)
			leave_to_lease(conn, claim, key);
		if (terminate) {
			if (conn)
				release(conn, claim);
			set_outcome(o, "requeue", 0,
				    "the shadow was stopped (the job was removed or held, or "
				    "the schedd stopped)");
			return FALSE;
		}
		g_clear_error(&error);
		if (!conn)
			conn = connect_startd(key, exchange_timeout, &error);
		g_autoptr(GVariant) st =
		    conn ? kite_conn_call(conn, KITE_MSG_CLAIM_STATUS, g_variant_new("(s)", claim),
					  KITE_MSG_CLAIM_STATUS_REPLY, &error)
			 : NULL;
		if (!st && g_error_matches(error, KITE_ERROR, KITE_ERROR_IO)) {
			/* No answer (connection lost, refused or timed out): the
			 * job may still run there, so it is not lost until the
			 * startd has killed it — ClaimLease after it last heard
			 * from us, which was before our last answer. */
			g_clear_pointer(&conn, kite_conn_free);
			double silent = kite_now_monotonic() - last_answer;
			if (silent <= lease + arg_poll) {
				if (!silence) {
					g_message("no answer from the startd of %s (%s); trying again for up "
						  "to %.0f s (its claim lease)",
						  arg_slot, error->message, lease);
					silence = g_strdup(error->message);
				}
				continue;
			}
			set_outcome(
			    o, "requeue", 0,
			    "lost the startd of %s: no answer for %.0f s, longer than its claim lease "
			    "(%s)",
			    arg_slot, silent, error->message);
			o->slot_lost = TRUE;
			return FALSE;
		}
		if (!st && g_error_matches(error, KITE_ERROR, KITE_ERROR_LIMIT)) {
			release(conn, claim);
			set_outcome(o, "hold", 12, "the job's outputs cannot be brought back: %s",
				    error->message);
			return FALSE;
		}
		if (!st) {
			set_outcome(o, "requeue", 0, "lost the startd of %s: %s", arg_slot, error->message);
			o->slot_lost = TRUE;
			return FALSE;
		}
		if (silence) {
			g_message("the startd of %s answers again after %.1f s", arg_slot,
				  kite_now_monotonic() - last_answer);
			g_clear_pointer(&silence, g_free);
		}
		last_answer = kite_now_monotonic();
		const char *state, *why;
		gint64 code, sig;
		g_autoptr(GVariant) out = NULL, ckpt = NULL;
		g_variant_get(st, "(&sxx&s@a(suay)@a(ss)(bttt))", &state, &code, &sig, &why, &out, &ckpt,
			      &o->measured, &o->memory_peak, &o->user_usec, &o->system_usec);
		note_checkpoint(ckpt, o, job);
		if ((!strcmp(state, "suspended") || !strcmp(state, "running")) && strcmp(state, last_state)) {
			print_event(state, NULL);
			last_state = !strcmp(state, "running") ? "running" : "suspended";
		}
		if (strcmp(state, "restart-failed") == 0) {
			release(conn, claim);
			o->ckpt_unusable = g_strdup(why);
			set_outcome(o, "requeue", 0, "the checkpoint could not be restarted on %s: %s",
				    arg_slot, why);
			return FALSE;
		}
		if (strcmp(state, "held") == 0) {
			/* The startd killed the job for breaking a limit of its
			 * request (34: Condor's "memory usage exceeds a limit"). */
			release(conn, claim);
			set_outcome(o, "hold", 34, "%s", why);
			return FALSE;
		}
		if (strcmp(state, "vacated") == 0) {
			release(conn, claim);
			if (!kite_shadow_spool_outputs(arg_spool, job, out, &error)) {
				g_message("job %s: the files it left on %s are lost: %s", arg_job, arg_slot,
					  error->message);
				g_clear_error(&error);
			}
			set_outcome(o, "requeue", 0, "%s", *why ? why : "vacated");
			return FALSE;
		}
		if (strcmp(state, "exited") != 0)
			continue;
		o->code = code;
		o->signal = sig;
		if (!kite_shadow_write_outputs(job, out, &error)) {
			release(conn, claim);
			set_outcome(o, "hold", 12, "the job's outputs could not be written: %s",
				    error->message);
			return FALSE;
		}
		kite_shadow_spool_forget(arg_spool, job);
		o->outcome = "completed";
		*inout_conn = g_steal_pointer(&conn);
		return TRUE;
	}
}

/* --reconnect: take over the claim of @job, which the schedd found
 * Running when it started again.  Returns the connection, with
 * *@out_started TRUE when the job was started there (the shadow follows
 * it, or collects the outcome it reached meanwhile) or FALSE when the
 * claim holds it unstarted (the shadow starts it).  NULL with @o filled
 * when there is nothing to take over: the startd says the claim is gone
 * or holds another job, or it does not answer for longer than it could
 * keep the job (the job lease plus ClaimLease: after that it has
 * certainly given the job up, so the job may run elsewhere). */
static KiteConn *reconnect(const char *claim, const KiteAd *job, GBytes *key, Outcome *o, gboolean *out_started)
{
	gint64 cluster = 0, proc = 0;
	kite_ad_get_int(job, "ClusterId", &cluster);
	kite_ad_get_int(job, "ProcId", &proc);
	double lease = arg_lease > 0 ? arg_lease : DEFAULT_LEASE;
	double limit = job_lease(job) + lease, since = kite_now_monotonic();
	gboolean told = FALSE;
	for (;;) {
		g_autoptr(GError) error = NULL;
		if (terminate || disconnect) {
			set_outcome(o, "requeue", 0, "the shadow was stopped before it reconnected to %s", arg_slot);
			return NULL;
		}
		g_autoptr(KiteConn) conn = connect_startd(key, CLAMP(lease / 4, 1, 30), &error);
		g_autoptr(GVariant) r =
		    conn ? kite_conn_call(conn, KITE_MSG_CLAIM_RECONNECT, g_variant_new("(sxx)", claim, cluster, proc),
					  KITE_MSG_CLAIM_RECONNECT_REPLY, &error)
			 : NULL;
		if (r) {
			const char *state;
			gint64 pid, start, gap;
			g_variant_get(r, "(&sxxx)", &state, &pid, &start, &gap);
			*out_started = strcmp(state, "claimed") != 0;
			g_autofree char *detail =
			    *out_started ? g_strdup_printf("job pid %" G_GINT64_FORMAT " on %s is %s; %" G_GINT64_FORMAT
							   " s without a shadow",
							   pid, arg_slot, state, gap)
					 : g_strdup_printf("the claim on %s had not started the job; starting it",
							   arg_slot);
			g_message("job %s: reconnected: %s", arg_job, detail);
			g_autoptr(KiteAd) attrs = kite_ad_new();
			kite_ad_set_string(attrs, "EventDetail", detail);
			print_event("reconnected", attrs);
			if (*out_started)
				o->started = start;
			return g_steal_pointer(&conn);
		}
		if (!g_error_matches(error, KITE_ERROR, KITE_ERROR_IO)) {
			/* A claim on another job: that job's outcome is on disk
			 * (the schedd gives a claim its next job only then), and
			 * nobody else will take the claim over. */
			if (g_error_matches(error, KITE_ERROR, KITE_ERROR_STATE))
				release(conn, claim);
			set_outcome(o, "requeue", 0, "reconnecting to %s failed: %s%s", arg_slot, error->message,
				    g_error_matches(error, KITE_ERROR, KITE_ERROR_NOT_FOUND)
					? " (its job lease ran out, or the startd restarted)"
					: "");
			o->reconnect_failed = TRUE;
			return NULL;
		}
		double silent = kite_now_monotonic() - since;
		if (silent > limit) {
			set_outcome(o, "requeue", 0,
				    "reconnecting to %s failed: no answer for %.0f s, longer than the job lease and "
				    "claim lease (%s)",
				    arg_slot, silent, error->message);
			o->reconnect_failed = o->slot_lost = TRUE;
			return NULL;
		}
		if (!told)
			g_message("job %s: no answer from the startd of %s (%s); trying to reconnect for up to %.0f s",
				  arg_job, arg_slot, error->message, limit);
		told = TRUE;
		nap(MIN(arg_poll * 4, 2.0));
	}
}

/* --release-claim: a shadow left the claim to its job lease when the
 * schedd went, though the schedd had recorded its job's outcome; let
 * the slot go now rather than after the lease.  Only if the claim still
 * holds that job: a claim taken over meanwhile is someone else's. */
static void release_left_claim(const char *claim, const KiteAd *job, GBytes *key)
{
	gint64 cluster = 0, proc = 0;
	kite_ad_get_int(job, "ClusterId", &cluster);
	kite_ad_get_int(job, "ProcId", &proc);
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteConn) conn = connect_startd(key, 10, &error);
	g_autoptr(GVariant) r =
	    conn ? kite_conn_call(conn, KITE_MSG_CLAIM_RECONNECT, g_variant_new("(sxx)", claim, cluster, proc),
				  KITE_MSG_CLAIM_RECONNECT_REPLY, &error)
		 : NULL;
	if (r) {
		release(conn, claim);
		g_message("job %s: released the claim on %s it had left (its outcome is recorded)", arg_job,
			  arg_slot);
	} else if (!g_error_matches(error, KITE_ERROR, KITE_ERROR_NOT_FOUND)) {
		g_message("job %s: cannot release the claim on %s it had left: %s", arg_job, arg_slot,
			  error->message);
	}
}

/* Claim the slot for @job and run it, then — while the schedd offers
 * the owner's next job (claim reuse) and the startd takes it — the
 * next, printing each job's outcome; finally release the claim. */
static void serve(const char *claim, KiteAd *job, GBytes *key)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) current = job;
	Outcome o = {.outcome = "requeue"};
	g_autoptr(KiteConn) conn = NULL;
	gboolean started = FALSE; /* the job runs already (--reconnect) */
	if (terminate) {
		set_outcome(&o, "requeue", 0, "the shadow was stopped before it claimed %s", arg_slot);
	} else if (arg_reconnect) {
		conn = reconnect(claim, job, key, &o, &started);
	} else if (!(conn = connect_startd(key, MAX(30, 4 * arg_poll), &error))) {
		set_outcome(&o, "requeue", 0, "cannot reach the startd of %s at %s: %s", arg_slot, arg_startd,
			    error->message);
		o.slot_lost = TRUE;
	} else {
		g_autoptr(GVariant) r =
		    kite_conn_call(conn, KITE_MSG_CLAIM,
				   g_variant_new("(ss@a(ss))", arg_slot, claim, kite_ad_to_variant(job)),
				   KITE_MSG_CLAIM_REPLY, &error);
		if (!r) {
			set_outcome(&o, "requeue", 0, "%s refused the claim: %s", arg_slot, error->message);
			o.slot_lost = TRUE;
			g_clear_pointer(&conn, kite_conn_free);
		}
	}
	while (conn && (started || start_job(conn, claim, current, &o)) &&
	       follow_job(&conn, claim, current, key, &o)) {
		started = FALSE;
		/* The claim is kept: ask the schedd for the owner's next job. */
		print_outcome(&o, TRUE);
		outcome_clear(&o);
		g_clear_error(&error);
		gboolean none = FALSE;
		g_autoptr(KiteAd) next = terminate ? NULL : read_job(&none, &error);
		if (!next && !none && !error && !terminate) {
			/* The schedd went before it answered, perhaps before it
			 * wrote the outcome down: the claim keeps the finished job
			 * and its outputs for the restarted schedd, which records
			 * the outcome (again, if it had: the same bytes, once in
			 * the queue) or releases the claim. */
			leave_to_lease(conn, claim, key);
		}
		if (!next) {
			if (error)
				g_message("job %s: %s", arg_job ? arg_job : "?", error->message);
			release(conn, claim);
			return;
		}
		g_clear_pointer(&current, kite_ad_free);
		current = g_steal_pointer(&next);
		g_free(arg_job);
		arg_job = job_label(current);
		kite_conn_set_timeout(conn, MAX(30, 4 * arg_poll));
		g_autoptr(GVariant) r = kite_conn_call(
		    conn, KITE_MSG_CLAIM_NEXT, g_variant_new("(s@a(ss))", claim, kite_ad_to_variant(current)),
		    KITE_MSG_CLAIM_REPLY, &error);
		if (!r) {
			/* Not started: the job goes back to Idle, as a match
			 * that did not take. */
			set_outcome(&o, "requeue", 0, "%s did not take the claim's next job: %s", arg_slot,
				    error->message);
			if (!g_error_matches(error, KITE_ERROR, KITE_ERROR_IO))
				release(conn, claim);
			break;
		}
	}
	if (o.reason)
		g_message("job %s: %s: %s", arg_job ? arg_job : "?", o.outcome, o.reason);
	print_outcome(&o, FALSE);
	outcome_clear(&o);
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) ctx =
	    g_option_context_new("— holds one claim and follows its running jobs (started by the schedd)");
	g_option_context_add_main_entries(ctx, options, NULL);
	g_option_context_set_summary(ctx,
				     "Reads the claim id and the job ad on stdin and prints the outcome "
				     "on stdout; with claim reuse, the owner's next jobs follow on stdin.\n"
				     "See docs/running-jobs.md.");
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "shadow: %s\n", error->message);
		return 2;
	}
	if (!arg_startd || !arg_slot || !arg_key_file) {
		fprintf(stderr, "shadow: --startd, --slot and --key-file are required\n");
		return 2;
	}
	kite_log_init("shadow");
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct sigaction sh = {.sa_handler = on_disconnect};
	sigaction(SIGHUP, &sh, NULL);
	struct sigaction sr = {.sa_handler = on_request};
	sigaction(SIGUSR1, &sr, NULL);
	sigaction(SIGUSR2, &sr, NULL);

	Outcome o = {.outcome = "requeue"};
	char claim[256];
	g_autoptr(KiteAd) job = NULL;
	g_autoptr(GBytes) key = NULL;
	if (!fgets(claim, sizeof claim, stdin) || !strchr(claim, '\n')) {
		set_outcome(&o, "requeue", 0, "the shadow got no claim id on stdin");
	} else {
		*strchr(claim, '\n') = '\0';
		gboolean none;
		job = read_job(&none, &error);
		if (!job)
			set_outcome(&o, "requeue", 0, "the shadow got no job: %s",
				    error ? error->message : "end of input");
		else if (!(key = kite_auth_load_key(arg_key_file, FALSE, &error)))
			set_outcome(&o, "requeue", 0, "pool key: %s", error->message);
		else if (!become_owner(job, &error) || !follow_parent(&error))
			set_outcome(&o, "hold", 0, "%s", error->message);
		else if (arg_release_claim) {
			release_left_claim(claim, job, key);
			return 0;
		} else {
			serve(claim, g_steal_pointer(&job), key);
			return 0;
		}
	}
	if (o.reason)
		g_message("job %s: %s: %s", arg_job ? arg_job : "?", o.outcome, o.reason);
	print_outcome(&o, FALSE);
	outcome_clear(&o);
	return 0;
}
