/* main.c — the shadow: one per running job, started by the schedd
 * (schedd/shadows.c).  It reads the claim id and the job ad on stdin,
 * claims the slot from its startd (authenticated with the pool key),
 * sends the executable and inputs, polls the startd until the job has
 * exited (each poll is also the claim's heartbeat), writes the outputs
 * home, releases the claim and prints its outcome as an ad on stdout:
 *
 *   Outcome = "completed" | "requeue" | "hold"
 *   ExitCode / ExitSignal, WallSeconds, Reason, HoldReasonCode,
 *   SlotLost (the startd was unreachable or refused the claim, or was
 *   lost), JobStarted (the job's process was started)
 *
 * Before the outcome it prints events as they happen, each an ad with
 * an Event attribute ("started", "suspended", "running", "checkpoint")
 * followed by an empty line; the outcome ad is the last (schedd/shadows.c
 * records each in the queue as it comes).  A "checkpoint" event carries
 * LastCheckpointImage, LastCheckpointSandbox, LastCheckpointTime,
 * CheckpointSize and CheckpointSeconds.
 *
 * A lost startd means "requeue": the job goes back to Idle — but only
 * once the startd has certainly killed it: after --lease seconds
 * without an answer (a network cut or a dead host look alike from
 * here), or at once when the startd says the claim is gone.  Blocking
 * I/O is fine here: the shadow follows one job and nothing else.
 * SIGTERM (the job was removed, or the schedd stops) releases the claim;
 * SIGUSR1 asks the job to checkpoint and leave (`pool vacate`), SIGUSR2
 * to checkpoint and go on (`pool ckpt`). */
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

/* The lease assumed for a startd whose slot ad has no ClaimLease. */
#define DEFAULT_LEASE 120.0

static const GOptionEntry options[] = {
    {"job", 0, 0, G_OPTION_ARG_STRING, &arg_job, "The job's id, for the log", "CLUSTER.PROC"},
    {"startd", 0, 0, G_OPTION_ARG_STRING, &arg_startd, "The startd's address (StartdAddr)", "HOST:PORT"},
    {"slot", 0, 0, G_OPTION_ARG_STRING, &arg_slot, "The slot to claim", "NAME"},
    {"key-file", 0, 0, G_OPTION_ARG_FILENAME, &arg_key_file, "The pool key", "PATH"},
    {"poll-interval", 0, 0, G_OPTION_ARG_DOUBLE, &arg_poll, "Seconds between polls of the startd", "S"},
    {"max-transfer", 0, 0, G_OPTION_ARG_INT64, &arg_max_transfer, "Most bytes of input to send", "BYTES"},
    {"lease", 0, 0, G_OPTION_ARG_DOUBLE, &arg_lease,
     "The startd's ClaimLease: seconds without an answer after which it has killed the job "
     "(0: 120)", "S"},
    {NULL},
};

static volatile sig_atomic_t terminate, want_vacate, want_ckpt;

static void on_term(int sig)
{
	terminate = 1;
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
	gboolean slot_lost; /* the startd was unreachable or refused the claim */
	char *ckpt_unusable; /* why the job's checkpoint could not be restarted */
	KiteAd *ckpt;        /* the newest checkpoint's attributes, if one was taken */
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

static void print_outcome(const Outcome *o)
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
	g_autofree char *text = kite_ad_to_text(ad);
	fputs(text, stdout);
	fflush(stdout);
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
	g_autoptr(GVariant) r = kite_conn_call(conn, KITE_MSG_CLAIM_CHECKPOINT, g_variant_new("(sb)", claim, exit),
					       KITE_MSG_CLAIM_REPLY, &error);
	if (!r)
		g_message("asking %s to checkpoint the job: %s", arg_slot, error->message);
}

static char *read_stdin(GError **error)
{
	GString *s = g_string_new(NULL);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
		if (s->len + n > MAX_STDIN) {
			g_string_free(s, TRUE);
			kite_throw(error, KITE_ERROR_LIMIT, "the job ad on stdin is over %d bytes",
				   MAX_STDIN);
			return NULL;
		}
		g_string_append_len(s, buf, n);
	}
	return g_string_free(s, FALSE);
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

/* Get SIGTERM (release the claim, stop) when the schedd dies: a schedd
 * that starts again puts the job back to Idle, and it must not run
 * twice.  Set after become_owner(), which clears it. */
static gboolean follow_parent(GError **error)
{
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		return kite_throw_errno(error, "prctl PR_SET_PDEATHSIG");
	if (getppid() != parent)
		terminate = 1; /* the schedd died already */
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

/* Sleep @seconds unless SIGTERM comes first. */
static void nap(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
	while (!terminate && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Follow the job to its end; fills @o. */
static void run(const char *claim, const KiteAd *job, GBytes *key, Outcome *o)
{
	g_autoptr(GError) error = NULL;
	if (terminate) {
		set_outcome(o, "requeue", 0, "the shadow was stopped before it claimed %s", arg_slot);
		return;
	}
	g_autoptr(KiteConn) conn = connect_startd(key, MAX(30, 4 * arg_poll), &error);
	if (!conn) {
		set_outcome(o, "requeue", 0, "cannot reach the startd of %s at %s: %s", arg_slot, arg_startd,
			    error->message);
		o->slot_lost = TRUE;
		return;
	}
	g_autoptr(GVariant) r = kite_conn_call(
	    conn, KITE_MSG_CLAIM, g_variant_new("(ss@a(ss))", arg_slot, claim, kite_ad_to_variant(job)),
	    KITE_MSG_CLAIM_REPLY, &error);
	if (!r) {
		set_outcome(o, "requeue", 0, "%s refused the claim: %s", arg_slot, error->message);
		o->slot_lost = TRUE;
		return;
	}
	g_clear_pointer(&r, g_variant_unref);

	g_autofree char *exec_name = NULL;
	int hold_code = 0;
	GVariant *files = kite_shadow_gather_inputs(job, arg_max_transfer, &exec_name, &hold_code, &error);
	if (!files) {
		release(conn, claim);
		set_outcome(o, "hold", hold_code, "%s", error->message);
		return;
	}
	r = kite_conn_call(conn, KITE_MSG_ACTIVATE, g_variant_new("(ss@a(suay))", claim, exec_name, files),
			   KITE_MSG_ACTIVATE_REPLY, &error);
	if (!r) {
		if (g_error_matches(error, KITE_ERROR, KITE_ERROR_FAILED)) {
			release(conn, claim);
			set_outcome(o, "hold", 6, "the job could not start: %s", error->message);
		} else {
			release(conn, claim);
			set_outcome(o, "requeue", 0, "%s did not start the job: %s", arg_slot,
				    error->message);
		}
		return;
	}
	gint64 pid;
	g_variant_get(r, "(x)", &pid);
	g_message("job %s runs on %s (pid %" G_GINT64_FORMAT ")", arg_job, arg_slot, pid);
	o->started = kite_now_wall();
	print_event("started", NULL);
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
		if (terminate) {
			if (conn)
				release(conn, claim);
			set_outcome(o, "requeue", 0,
				    "the shadow was stopped (the job was removed or held, or "
				    "the schedd stopped)");
			return;
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
			set_outcome(o, "requeue", 0,
				    "lost the startd of %s: no answer for %.0f s, longer than its claim lease "
				    "(%s)",
				    arg_slot, silent, error->message);
			o->slot_lost = TRUE;
			return;
		}
		if (!st && g_error_matches(error, KITE_ERROR, KITE_ERROR_LIMIT)) {
			release(conn, claim);
			set_outcome(o, "hold", 12, "the job's outputs cannot be brought back: %s",
				    error->message);
			return;
		}
		if (!st) {
			set_outcome(o, "requeue", 0, "lost the startd of %s: %s", arg_slot, error->message);
			o->slot_lost = TRUE;
			return;
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
		g_variant_get(st, "(&sxx&s@a(suay)@a(ss))", &state, &code, &sig, &why, &out, &ckpt);
		note_checkpoint(ckpt, o, job);
		if ((!strcmp(state, "suspended") || !strcmp(state, "running")) && strcmp(state, last_state)) {
			print_event(state, NULL);
			last_state = !strcmp(state, "running") ? "running" : "suspended";
		}
		if (strcmp(state, "restart-failed") == 0) {
			release(conn, claim);
			o->ckpt_unusable = g_strdup(why);
			set_outcome(o, "requeue", 0, "the checkpoint could not be restarted on %s: %s", arg_slot, why);
			return;
		}
		if (strcmp(state, "held") == 0) {
			/* The startd killed the job for breaking a limit of its
			 * request (34: Condor's "memory usage exceeds a limit"). */
			release(conn, claim);
			set_outcome(o, "hold", 34, "%s", why);
			return;
		}
		if (strcmp(state, "vacated") == 0) {
			release(conn, claim);
			set_outcome(o, "requeue", 0, "%s", *why ? why : "vacated");
			return;
		}
		if (strcmp(state, "exited") != 0)
			continue;
		o->code = code;
		o->signal = sig;
		if (!kite_shadow_write_outputs(job, out, &error)) {
			release(conn, claim);
			set_outcome(o, "hold", 12, "the job's outputs could not be written: %s",
				    error->message);
			return;
		}
		release(conn, claim);
		o->outcome = "completed";
		return;
	}
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) ctx =
	    g_option_context_new("— follows one running job (started by the schedd)");
	g_option_context_add_main_entries(ctx, options, NULL);
	g_option_context_set_summary(ctx, "Reads the claim id and the job ad on stdin and prints the outcome "
					  "on stdout.\nSee docs/running-jobs.md.");
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
	struct sigaction sr = {.sa_handler = on_request};
	sigaction(SIGUSR1, &sr, NULL);
	sigaction(SIGUSR2, &sr, NULL);

	Outcome o = {.outcome = "requeue"};
	g_autofree char *input = read_stdin(&error);
	char *nl = input ? strchr(input, '\n') : NULL;
	g_autoptr(KiteAd) job = NULL;
	g_autoptr(GBytes) key = NULL;
	if (!nl) {
		set_outcome(&o, "requeue", 0, "the shadow got no claim id and job ad: %s",
			    error ? error->message : "no newline");
	} else {
		*nl = '\0';
		job = kite_ad_parse(nl + 1, &error);
		if (!job)
			set_outcome(&o, "requeue", 0, "the shadow got a bad job ad: %s", error->message);
		else if (!(key = kite_auth_load_key(arg_key_file, FALSE, &error)))
			set_outcome(&o, "requeue", 0, "pool key: %s", error->message);
		else if (!become_owner(job, &error) || !follow_parent(&error))
			set_outcome(&o, "hold", 0, "%s", error->message);
		else
			run(input, job, key, &o);
	}
	if (o.reason)
		g_message("job %s: %s: %s", arg_job ? arg_job : "?", o.outcome, o.reason);
	print_outcome(&o);
	g_free(o.reason);
	g_free(o.ckpt_unusable);
	if (o.ckpt)
		kite_ad_free(o.ckpt);
	return 0;
}
