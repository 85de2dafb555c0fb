/* claim.c — claims and jobs on the startd; see claim.h.  The shadow
 * drives a claim with four requests — CLAIM, ACTIVATE, CLAIM_STATUS
 * (which is also its heartbeat) and RELEASE — and the startd answers
 * each at once: the job runs as a child process watched with
 * g_child_watch_add, and its outputs are read (bounded) only when the
 * shadow asks for them after the exit.  The sandbox, identity and exec
 * are in sandbox.c. */
#include "claim.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "address.h"
#include "auth.h"
#include "ckpt-store.h"
#include "exec-cache.h"
#include "job.h"
#include "libckpt/image-format.h"
#include "sandbox.h"
#include "startd.h"
#include "util.h"

/* Bounds on what a shadow sends. */
#define MAX_CLAIM_ID  128
#define MIN_CLAIM_ID  16
#define MAX_FILES     1000
#define MAX_FILE_NAME 255

/* A claim, and the run of its current job.  With claim reuse
 * (CLAIM_NEXT) one claim runs several jobs of its owner in turn: the
 * fields from @job on describe the current one and are cleared by
 * claim_clear_job() between them. */
typedef struct {
	char *id;
	double claimed_at; /* monotonic; claim_worklife counts from here */
	guint n_jobs;	   /* jobs activated on this claim */
	double last_heard;
	KiteAd *job;
	KiteJobUser user;
	char *sandbox;
	GHashTable *inputs; /* names the shadow sent */
	GPid pid;
	guint watch;
	KiteJobCgroup *cgroup; /* NULL: rlimits only */
	gboolean started, running, exited, vacated, released;
	gboolean over_memory; /* killed for using more than RequestMemory */
	int wait_status;
	gboolean measured;    /* usage holds what the job's cgroup counted */
	KiteJobUsage usage;   /* as the job exited: the shadow reports it */
	char *why; /* why it was vacated */
	gint64 start_time;
	/* checkpointing (docs/running-jobs.md, "Checkpoints") */
	char *ckpt_dir;	       /* this job's images; NULL: not checkpointed */
	gboolean restarted;    /* started from the job's LastCheckpointImage */
	gboolean checkpointed; /* exited after a committed checkpoint */
	char *restart_failed;  /* why `ckpt restart` refused the image */
	char *server;	       /* the checkpoint server the job's images go to, or NULL */
	gint64 ckpt_seq;       /* libckpt's number of the newest image reported */
	KiteAd *ckpt_attrs;    /* its attributes */
	/* job leases (docs/running-jobs.md, "Schedd restarts") */
	double job_lease;      /* seconds a disconnected claim waits for a new shadow */
	gboolean disconnected; /* its shadow lost its schedd (CLAIM_DISCONNECT) */
	gboolean expired;      /* nobody reconnected within the job lease */
} Claim;

/* stderr of `ckpt restart` in the sandbox: empty unless the restart failed */
#define RESTART_LOG ".kite_restart.log"

/* Forget the claim's current job — its sandbox, cgroup, checkpoint
 * state and ad — keeping the claim itself.  The job must not be
 * running. */
static void claim_clear_job(Claim *c)
{
	if (c->watch)
		g_source_remove(c->watch);
	kite_job_cgroup_free(c->cgroup);
	if (c->sandbox)
		kite_sandbox_remove(c->sandbox);
	g_free(c->sandbox);
	g_free(c->why);
	g_free(c->ckpt_dir);
	g_free(c->restart_failed);
	g_free(c->server);
	if (c->ckpt_attrs)
		kite_ad_free(c->ckpt_attrs);
	kite_ad_free(c->job);
	kite_job_user_clear(&c->user);
	if (c->inputs)
		g_hash_table_unref(c->inputs);
	Claim keep = {.id = c->id,
		      .claimed_at = c->claimed_at,
		      .n_jobs = c->n_jobs,
		      .last_heard = c->last_heard,
		      .released = c->released,
		      .disconnected = c->disconnected};
	*c = keep;
}

static void claim_free(Claim *c)
{
	if (!c)
		return;
	claim_clear_job(c);
	g_free(c->id);
	g_free(c);
}

static void signal_job(Claim *c, int sig)
{
	if (c->running && c->pid > 0 && kill(-c->pid, sig) < 0 && errno != ESRCH)
		g_warning("kill job process group %d: %s", c->pid, g_strerror(errno));
}

/* Stop or continue the job: its process group (SIGSTOP, SIGCONT), and
 * with a cgroup every process it started, wherever it moved — a process
 * that left the job's session would escape SIGSTOP and keep using the
 * owner's machine.  Continuing thaws first: a frozen process handles no
 * signal, libckpt's checkpoint-and-exit included. */
static void stop_job(Claim *c, gboolean stop)
{
	if (stop) {
		signal_job(c, SIGSTOP);
		if (c->cgroup)
			kite_job_cgroup_freeze(c->cgroup, TRUE);
	} else {
		if (c->cgroup)
			kite_job_cgroup_freeze(c->cgroup, FALSE);
		signal_job(c, SIGCONT);
	}
}

/* Kill the job: its process group, and with a cgroup every process it
 * started, wherever it moved (a new session, a double fork). */
static void kill_job(Claim *c)
{
	signal_job(c, SIGKILL);
	stop_job(c, FALSE);
	if (c->cgroup)
		kite_job_cgroup_kill(c->cgroup);
}

/* ---- slot updates ---- */

static GPtrArray *slot_ads(KiteStartd *d)
{
	GPtrArray *ads = g_ptr_array_new();
	for (guint i = 0; i < d->slots->len; i++)
		g_ptr_array_add(ads, ((KiteSlot *)d->slots->pdata[i])->ad);
	return ads;
}

void kite_startd_advertise(KiteStartd *d)
{
	g_autoptr(GPtrArray) ads = slot_ads(d);
	kite_advertiser_send(d->advertiser, ads);
}

static Claim *claim_of(KiteStartd *d, guint i)
{
	return d->claims && i < d->claims->len ? d->claims->pdata[i] : NULL;
}

gboolean kite_startd_update_slot(KiteStartd *d, guint i, const KitePolicyInput *events, gint64 now)
{
	KiteSlot *slot = d->slots->pdata[i];
	Claim *c = claim_of(d, i);
	KitePolicyInput in = {0};
	if (events)
		in = *events;
	in.job_running = c && c->running;
	double interval = kite_config_get_duration(d->config, "advertise_interval");
	KiteSlotContext ctx = {
	    .machine = d->machine,
	    .policy = d->policy,
	    .sample = &d->sample,
	    .n_slots = d->slots->len,
	    .disk_kib = d->disk_kib,
	    .lifetime = (gint64)ceil(3 * interval),
	    .daemon_start = d->started,
	};
	KiteSlotState old_state = slot->state;
	KiteSlotActivity old_activity = slot->activity;
	gboolean changed = kite_slot_update(slot, &ctx, &in, now);
	if (!changed || !c || !c->running)
		return changed;
	if (slot->state == KITE_SLOT_PREEMPTING && old_state != KITE_SLOT_PREEMPTING && c->ckpt_dir &&
	    (!c->released || c->expired) && slot->activity == KITE_SLOT_VACATING) {
		/* Checkpoint and leave (libckpt's SIGTSTP): the job exits with
		 * KITE_CKPT_EXIT_STATUS once its image is committed, or KILL
		 * ends it after MaxVacateTime.  SIGCONT first: a stopped job
		 * must run to checkpoint, and SIGCONT would discard a pending
		 * SIGTSTP. */
		g_message("%s: vacating job (pid %d) of claim %.8s…: checkpoint and exit", slot->name, c->pid,
			  c->id);
		c->vacated = TRUE;
		g_free(c->why);
		c->why = c->expired ? g_strdup_printf("vacated from %s: no shadow reconnected within its job "
						      "lease",
						      slot->name)
				    : g_strdup_printf("vacated from %s: the owner policy preempted it", slot->name);
		stop_job(c, FALSE);
		if (kill(c->pid, SIGTSTP) < 0 && errno != ESRCH)
			g_warning("kill job %d: %s", c->pid, g_strerror(errno));
	} else if (slot->state == KITE_SLOT_PREEMPTING && slot->activity == KITE_SLOT_KILLING &&
		   old_activity != KITE_SLOT_KILLING && c->ckpt_dir) {
		g_message("%s: killing job (pid %d): it did not checkpoint within MaxVacateTime", slot->name,
			  c->pid);
		kill_job(c);
	} else if (slot->state == KITE_SLOT_PREEMPTING && old_state != KITE_SLOT_PREEMPTING) {
		/* Not checkpointed: vacating is killing. */
		g_message("%s: killing job (pid %d) of claim %.8s…: %s", slot->name, c->pid, c->id,
			  c->released ? "claim released" : "preempted by the owner policy");
		if (!c->released) {
			c->vacated = TRUE;
			g_free(c->why);
			c->why =
			    g_strdup_printf("vacated from %s: the owner policy preempted it", slot->name);
		}
		kill_job(c);
	} else if (slot->activity == KITE_SLOT_SUSPENDED && old_activity != KITE_SLOT_SUSPENDED) {
		g_message("%s: suspending job (pid %d)", slot->name, c->pid);
		stop_job(c, TRUE);
	} else if (old_activity == KITE_SLOT_SUSPENDED && slot->activity == KITE_SLOT_BUSY) {
		g_message("%s: continuing job (pid %d)", slot->name, c->pid);
		stop_job(c, FALSE);
	}
	return changed;
}

/* Apply @events to slot @i and advertise that slot alone if it changed
 * (the schedd keeps each slot's ad by name, and one ad is much cheaper
 * to send and parse than all of a many-slot machine's). */
static void update_and_advertise(KiteStartd *d, guint i, const KitePolicyInput *events)
{
	if (!kite_startd_update_slot(d, i, events, kite_now_wall()))
		return;
	g_autoptr(GPtrArray) one = g_ptr_array_new();
	g_ptr_array_add(one, ((KiteSlot *)d->slots->pdata[i])->ad);
	kite_advertiser_send(d->advertiser, one);
}

/* Forget slot @i's claim (its job is not running any more). */
static void drop_claim(KiteStartd *d, guint i)
{
	Claim *c = claim_of(d, i);
	if (!c)
		return;
	g_assert(!c->running);
	d->claims->pdata[i] = NULL;
	claim_free(c);
}

/* Release slot @i's claim: kill a running job (the claim goes once it
 * has exited) or drop it at once. */
static void release_claim(KiteStartd *d, guint i, const char *why)
{
	Claim *c = claim_of(d, i);
	KiteSlot *slot = d->slots->pdata[i];
	if (!c || c->released)
		return;
	g_message("%s: claim %.8s… released: %s", slot->name, c->id, why);
	c->released = TRUE;
	KitePolicyInput ev = {.claim_released = TRUE};
	update_and_advertise(d, i, &ev);
	if (!c->running) {
		drop_claim(d, i);
		update_and_advertise(d, i, NULL);
	} else if (!c->expired || !c->vacated) {
		/* (a job whose lease ran out is vacating — checkpoint, then
		 * exit — unless the slot was preempting it already) */
		kill_job(c);
	}
}

/* The job ended on its own: its checkpoint space on the server is of no
 * use any more (a lease would reclaim it, later). */
static void delete_server_space(Claim *c)
{
	g_autofree char *caps_path = g_build_filename(c->ckpt_dir, "server.caps", NULL);
	g_auto(KiteCkptCaps) caps = {0};
	g_auto(KiteCkptInfo) info = {0};
	g_autoptr(KiteCkptClient) cc = NULL;
	g_autoptr(GError) error = NULL;
	if (!kite_ckpt_caps_load(caps_path, &caps, &error) || !caps.manage ||
	    !(cc = kite_ckpt_client_connect(c->server, 2, &error)) ||
	    !kite_ckpt_client_manage(cc, caps.manage, "delete", 0, &info, &error))
		g_message("deleting checkpoint space %s: %s", caps.id ? caps.id : "?",
			  error ? error->message : "no manage capability");
	else
		g_message("checkpoint space %s deleted: the job ended", caps.id);
}

typedef struct {
	KiteStartd *d;
	guint slot;
} ExitWatch;

static gint64 request_memory(const Claim *c)
{
	gint64 mib = 0;
	kite_ad_get_int(c->job, "RequestMemory", &mib);
	return mib;
}

/* After the job's process exited: kill what it left behind, keep (for
 * the shadow, CLAIM_STATUS_REPLY) and log what it used, and note
 * whether it went over its memory request. */
static void finish_cgroup(const KiteSlot *slot, Claim *c)
{
	kite_job_cgroup_kill(c->cgroup);
	kite_job_cgroup_usage(c->cgroup, &c->usage);
	c->measured = TRUE;
	const KiteJobUsage u = c->usage;
	g_message("%s: the job used at most %.1f MiB of memory and %.2f s of CPU (%.2f s user, %.2f s "
		  "system)",
		  slot->name, u.memory_peak / 1048576.0, (u.user_usec + u.system_usec) / 1e6,
		  u.user_usec / 1e6, u.system_usec / 1e6);
	if (!c->over_memory && !kite_job_cgroup_exceeded_memory(c->cgroup))
		return;
	c->over_memory = TRUE;
	g_free(c->why);
	c->why = g_strdup_printf("job exceeded request_memory of %" G_GINT64_FORMAT
				 " MiB on %s and was killed; raise request_memory in the job file",
				 request_memory(c), slot->name);
	g_message("%s: %s", slot->name, c->why);
}

static void on_job_exit(GPid pid, gint status, gpointer data)
{
	ExitWatch *w = data;
	KiteStartd *d = w->d;
	Claim *c = claim_of(d, w->slot);
	KiteSlot *slot = d->slots->pdata[w->slot];
	g_spawn_close_pid(pid);
	if (!c || c->pid != pid)
		return;
	c->watch = 0;
	c->running = FALSE;
	c->exited = TRUE;
	c->wait_status = status;
	if (WIFSIGNALED(status))
		g_message("%s: job (pid %d) killed by signal %d", slot->name, pid, WTERMSIG(status));
	else
		g_message("%s: job (pid %d) exited with status %d", slot->name, pid, WEXITSTATUS(status));
	if (c->cgroup)
		finish_cgroup(slot, c);
	if (c->ckpt_dir && c->vacated && WIFEXITED(status) && WEXITSTATUS(status) != KITE_CKPT_EXIT_STATUS) {
		/* It finished before it could checkpoint: its exit stands. */
		c->vacated = FALSE;
	}
	if (c->ckpt_dir && WIFEXITED(status) && WEXITSTATUS(status) == KITE_CKPT_EXIT_STATUS) {
		/* Checkpointed and left: asked to (vacate), or by the program
		 * itself (kite_ckpt_exit()). */
		c->checkpointed = c->vacated = TRUE;
		if (!c->why)
			c->why = g_strdup_printf("the job checkpointed and left %s", slot->name);
	} else if (c->restarted) {
		/* `ckpt restart` says why in its log; past the point of no
		 * return the restorer says it on the program's own stderr and
		 * exits 126 (docs/ckpt.md). */
		g_autoptr(GBytes) log = kite_sandbox_read(c->sandbox, RESTART_LOG, 4096, NULL);
		if (!(log && g_bytes_get_size(log) > 0) && WIFEXITED(status) && WEXITSTATUS(status) == 126) {
			g_autoptr(GBytes) err =
			    kite_sandbox_read(c->sandbox, KITE_SANDBOX_STDERR, 1 << 20, NULL);
			gsize n = err ? g_bytes_get_size(err) : 0;
			g_autofree char *text = n ? g_strndup(g_bytes_get_data(err, NULL), n) : NULL;
			char *line = text ? strstr(text, "ckpt-restore: ") : NULL;
			if (line)
				log = g_bytes_new(line, strcspn(line, "\n"));
		}
		if (log && g_bytes_get_size(log) > 0) {
			c->restart_failed =
			    g_strchomp(g_strndup(g_bytes_get_data(log, NULL), g_bytes_get_size(log)));
			g_message("%s: the restart from %s failed: %s", slot->name, c->ckpt_dir,
				  c->restart_failed);
		}
	}
	if (c->server && WIFEXITED(status) && WEXITSTATUS(status) != KITE_CKPT_EXIT_STATUS &&
	    !c->restart_failed) {
		delete_server_space(c);
		/* With a server the job's directory here is this machine's own
		 * (caps, token, libckpt's status): nothing in it is of use now.
		 * (Images in a checkpoint_dir stay: the directory may be shared
		 * with a run of the same job on another machine.) */
		kite_remove_flat_dir(c->ckpt_dir);
	}
	update_and_advertise(d, w->slot, NULL);
	if (c->released) {
		drop_claim(d, w->slot);
		update_and_advertise(d, w->slot, NULL);
	}
}

/* ---- job leases and reconnection (docs/running-jobs.md, "Schedd
 * restarts") ----
 *
 * A shadow whose schedd is gone says so (CLAIM_DISCONNECT) and exits
 * without releasing the claim: the job goes on — checkpointing, under
 * the owner policy — for its job lease (JobLeaseDuration in its ad,
 * else job_lease_duration) rather than claim_lease, and a new shadow of
 * the restarted schedd takes the claim over (CLAIM_RECONNECT) and
 * follows the job, or collects the outcome it reached meanwhile, as the
 * old one would have.  A claim nobody reconnects to in time ends as an
 * owner's preemption would: a checkpointed job checkpoints and leaves,
 * another is killed, and the slot is free again.  A shadow that simply
 * goes silent (a network cut, a crashed host) still gets claim_lease:
 * the cut-off host rule of "Several hosts" is unchanged. */

static gint lookup_claim(KiteStartd *d, KiteServerConn *conn, GVariant *body);

/* The job lease of the claim's current job. */
static void set_job_lease(KiteStartd *d, Claim *c)
{
	gint64 lease = 0;
	c->job_lease = kite_ad_get_int(c->job, "JobLeaseDuration", &lease) && lease > 0
			   ? (double)MIN(lease, KITE_JOB_LEASE_MAX)
			   : kite_config_get_duration(d->config, "job_lease_duration");
}

static void expire_job_lease(KiteStartd *d, guint i)
{
	Claim *c = claim_of(d, i);
	if (c->running && c->ckpt_dir) {
		/* Checkpoint and leave, as for a preemption: the slot's state
		 * machine sends SIGTSTP (then KILL after MaxVacateTime), and the
		 * claim goes once the job has exited. */
		c->expired = TRUE;
		release_claim(d, i, "no shadow reconnected within its job lease; vacating the job");
	} else {
		release_claim(d, i, "no shadow reconnected within its job lease");
	}
}

static void handle_disconnect(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	gint i = lookup_claim(d, conn, body);
	if (i < 0)
		return;
	Claim *c = claim_of(d, i);
	KiteSlot *slot = d->slots->pdata[i];
	c->last_heard = kite_now_monotonic();
	c->disconnected = TRUE;
	g_message("%s: the shadow of claim %.8s… lost its schedd; the claim and its job wait %.0f s (the "
		  "job lease) for a new shadow",
		  slot->name, c->id, c->job_lease);
	g_autofree char *msg = g_strdup_printf("%s keeps the claim for %.0f s", slot->name, c->job_lease);
	kite_server_reply(conn, KITE_MSG_CLAIM_REPLY, g_variant_new("(s)", msg));
}

/* A restarted schedd's shadow takes the claim over: only for the job the
 * claim holds (a claim that moved on to the owner's next job is not this
 * job's any more), and not once it is being given up. */
static void handle_reconnect(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	gint64 cluster, proc;
	g_variant_get(body, "(&sxx)", NULL, &cluster, &proc);
	gint i = lookup_claim(d, conn, body);
	if (i < 0)
		return;
	Claim *c = claim_of(d, i);
	KiteSlot *slot = d->slots->pdata[i];
	gint64 has_cluster = -1, has_proc = -1;
	kite_ad_get_int(c->job, "ClusterId", &has_cluster);
	kite_ad_get_int(c->job, "ProcId", &has_proc);
	if (c->released) {
		kite_server_refuse(conn, KITE_ERROR_STATE, "the claim on %s is being released", slot->name);
		return;
	}
	if (has_cluster != cluster || has_proc != proc) {
		kite_server_refuse(conn, KITE_ERROR_STATE,
				   "the claim on %s holds job %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT
				   ", not %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
				   slot->name, has_cluster, has_proc, cluster, proc);
		return;
	}
	double now = kite_now_monotonic(), gap = now - c->last_heard;
	c->last_heard = now;
	c->disconnected = FALSE;
	const char *state = !c->started			      ? "claimed"
			    : !c->running		      ? "exited"
			    : slot->state == KITE_SLOT_PREEMPTING ? "vacating"
			    : slot->activity == KITE_SLOT_SUSPENDED ? "suspended"
								    : "running";
	g_message("%s: claim %.8s… reconnected by a new shadow after %.1f s without one; job %" G_GINT64_FORMAT
		  ".%" G_GINT64_FORMAT " (pid %d) is %s",
		  slot->name, c->id, gap, cluster, proc, c->pid, state);
	kite_server_reply(conn, KITE_MSG_CLAIM_RECONNECT_REPLY,
			  g_variant_new("(sxxx)", state, (gint64)c->pid, c->start_time, (gint64)gap));
}

void kite_claims_check_leases(KiteStartd *d, double now)
{
	double lease = kite_config_get_duration(d->config, "claim_lease");
	for (guint i = 0; d->claims && i < d->claims->len; i++) {
		Claim *c = claim_of(d, i);
		if (c && !c->released && c->disconnected && now - c->last_heard > c->job_lease)
			expire_job_lease(d, i);
		else if (c && !c->released && !c->disconnected && now - c->last_heard > lease)
			release_claim(d, i, "its shadow was not heard from within claim_lease");
	}
}

void kite_claims_check_memory(KiteStartd *d)
{
	for (guint i = 0; d->claims && i < d->claims->len; i++) {
		Claim *c = claim_of(d, i);
		if (!c || !c->running || !c->cgroup || c->over_memory ||
		    !kite_job_cgroup_sample_memory(c->cgroup))
			continue;
		KiteJobUsage u;
		kite_job_cgroup_usage(c->cgroup, &u);
		g_message("%s: job (pid %d) uses %.1f MiB, over its request_memory of %" G_GINT64_FORMAT
			  " MiB: killing it",
			  ((KiteSlot *)d->slots->pdata[i])->name, c->pid, u.memory_peak / 1048576.0,
			  request_memory(c));
		c->over_memory = TRUE;
		kill_job(c);
	}
}

/* ---- requests ---- */

static gint find_slot(KiteStartd *d, const char *name)
{
	for (guint i = 0; i < d->slots->len; i++)
		if (g_ascii_strcasecmp(((KiteSlot *)d->slots->pdata[i])->name, name) == 0)
			return i;
	return -1;
}

static gint find_claim(KiteStartd *d, const char *id)
{
	for (guint i = 0; d->claims && i < d->claims->len; i++) {
		Claim *c = claim_of(d, i);
		if (c && strlen(c->id) == strlen(id) &&
		    kite_auth_equal((const guint8 *)c->id, (const guint8 *)id, strlen(id)))
			return i;
	}
	return -1;
}

/* The slot whose claim the request names (the first member of @body),
 * or -1 after refusing the request. */
static gint lookup_claim(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	const char *id;
	g_variant_get_child(body, 0, "&s", &id);
	gint i = find_claim(d, id);
	if (i < 0)
		kite_server_refuse(conn, KITE_ERROR_NOT_FOUND, "no such claim");
	return i;
}

/* The job ad @adv a shadow offers @slot, if it parses and the slot's
 * Start holds for it — the startd has the last word.  NULL after
 * refusing the request. */
static KiteAd *job_for_slot(KiteServerConn *conn, const KiteSlot *slot, GVariant *adv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteAd) job = kite_ad_from_variant(adv, &error);
	if (!job) {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "the job ad: %s", error->message);
		return NULL;
	}
	KiteValue v = KITE_VALUE_INIT;
	kite_ad_eval(slot->ad, "Start", job, &v);
	gboolean ok = kite_value_is_true(&v);
	kite_value_clear(&v);
	if (!ok) {
		kite_server_refuse(conn, KITE_ERROR_STATE, "%s: Start is not true for this job", slot->name);
		return NULL;
	}
	return g_steal_pointer(&job);
}

static void handle_claim(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	const char *name, *id;
	g_autoptr(GVariant) adv = NULL;
	g_variant_get(body, "(&s&s@a(ss))", &name, &id, &adv);
	size_t idlen = strlen(id);
	if (idlen < MIN_CLAIM_ID || idlen > MAX_CLAIM_ID) {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "a claim id has %d to %d bytes", MIN_CLAIM_ID,
				   MAX_CLAIM_ID);
		return;
	}
	gint i = find_slot(d, name);
	if (i < 0) {
		kite_server_refuse(conn, KITE_ERROR_NOT_FOUND, "no slot named %s here", name);
		return;
	}
	KiteSlot *slot = d->slots->pdata[i];
	if (claim_of(d, i) || slot->state != KITE_SLOT_UNCLAIMED || slot->activity != KITE_SLOT_IDLE) {
		kite_server_refuse(conn, KITE_ERROR_STATE, "%s is %s/%s, not Unclaimed", slot->name,
				   kite_slot_state_name(slot->state),
				   kite_slot_activity_name(slot->activity));
		return;
	}
	g_autoptr(KiteAd) job = job_for_slot(conn, slot, adv);
	if (!job)
		return;
	Claim *c = g_new0(Claim, 1);
	c->id = g_strdup(id);
	c->job = g_steal_pointer(&job);
	c->last_heard = c->claimed_at = kite_now_monotonic();
	set_job_lease(d, c);
	d->claims->pdata[i] = c;
	KitePolicyInput matched = {.matched = TRUE}, claimed = {.claimed = TRUE};
	update_and_advertise(d, i, &matched);
	update_and_advertise(d, i, &claimed);
	if (slot->state != KITE_SLOT_CLAIMED) {
		/* The owner came back between the match and the claim. */
		d->claims->pdata[i] = NULL;
		claim_free(c);
		kite_server_refuse(conn, KITE_ERROR_STATE, "%s is %s now", slot->name,
				   kite_slot_state_name(slot->state));
		return;
	}
	g_autofree char *msg = g_strdup_printf("claimed %s", slot->name);
	kite_server_reply(conn, KITE_MSG_CLAIM_REPLY, g_variant_new("(s)", msg));
}

/* CLAIM_NEXT (claim reuse): the shadow of a claim whose job has
 * exited, and whose outputs it has taken, offers the owner's next job.
 * The startd keeps the last word as for CLAIM — the slot must be
 * Claimed/Idle (not given back to its owner meanwhile), its Start must
 * hold for the new job, the job must be the same owner's — and a claim
 * older than claim_worklife (0: never reused) takes no more jobs.  On
 * success the finished job's sandbox goes and the claim waits for
 * ACTIVATE; on refusal the claim is unchanged and the shadow releases
 * it. */
static void handle_claim_next(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	g_autoptr(GVariant) adv = NULL;
	g_variant_get(body, "(&s@a(ss))", NULL, &adv);
	gint i = lookup_claim(d, conn, body);
	if (i < 0)
		return;
	Claim *c = claim_of(d, i);
	KiteSlot *slot = d->slots->pdata[i];
	c->last_heard = kite_now_monotonic();
	if (c->released || !c->exited || slot->state != KITE_SLOT_CLAIMED ||
	    slot->activity != KITE_SLOT_IDLE) {
		kite_server_refuse(conn, KITE_ERROR_STATE,
				   "the claim on %s cannot take another job now (%s/%s%s)", slot->name,
				   kite_slot_state_name(slot->state), kite_slot_activity_name(slot->activity),
				   c->exited ? "" : ", its job has not finished");
		return;
	}
	double worklife = kite_config_get_duration(d->config, "claim_worklife");
	if (c->last_heard - c->claimed_at >= worklife) {
		kite_server_refuse(
		    conn, KITE_ERROR_STATE,
		    "the claim on %s is %.0f s old, at or over claim_worklife (%g s): it takes no more jobs",
		    slot->name, c->last_heard - c->claimed_at, worklife);
		return;
	}
	g_autoptr(KiteAd) job = job_for_slot(conn, slot, adv);
	if (!job)
		return;
	g_autofree char *owner = NULL, *next_owner = NULL;
	kite_ad_get_string(c->job, "Owner", &owner);
	kite_ad_get_string(job, "Owner", &next_owner);
	if (g_strcmp0(owner, next_owner) != 0) {
		kite_server_refuse(conn, KITE_ERROR_PERMISSION,
				   "the claim on %s is %s's; a job of %s needs a claim of its own",
				   slot->name, owner ? owner : "?", next_owner ? next_owner : "nobody");
		return;
	}
	claim_clear_job(c);
	c->job = g_steal_pointer(&job);
	set_job_lease(d, c);
	g_autofree char *msg = g_strdup_printf("%s takes the next job", slot->name);
	kite_server_reply(conn, KITE_MSG_CLAIM_REPLY, g_variant_new("(s)", msg));
}

static gboolean plain_name(const char *name)
{
	return *name && strlen(name) <= MAX_FILE_NAME && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..") && strcmp(name, KITE_SANDBOX_STDOUT) && strcmp(name, KITE_SANDBOX_STDERR);
}

static gboolean write_input(const char *sandbox, const char *name, guint32 mode, GVariant *data,
			    const KiteJobUser *user, GError **error)
{
	g_autofree char *path = g_build_filename(sandbox, name, NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0755);
	if (fd < 0)
		return kite_throw_errno(error, "create %s", path);
	gsize len;
	const guint8 *p = g_variant_get_fixed_array(data, &len, 1);
	gboolean ok = kite_write_all(fd, p, len, path, error);
	if (ok && user->change && fchown(fd, user->uid, user->gid) < 0)
		ok = kite_throw_errno(error, "chown %s", path);
	close(fd);
	return ok;
}

/* ---- checkpointing ---- */

static char *ckpt_program(KiteStartd *d)
{
	const char *v = kite_config_get_string(d->config, "ckpt_program");
	if (v && *v)
		return g_strdup(v);
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *dir = self ? g_path_get_dirname(self) : g_strdup(".");
	return g_build_filename(dir, "ckpt", NULL);
}

/* The directory of @job's images, created for @user: checkpoint_dir
 * (default STATE_DIR/checkpoints) / CLUSTER.PROC.  NULL with @error if
 * it cannot be made. */
static char *job_ckpt_dir(KiteStartd *d, const KiteAd *job, const KiteJobUser *user, GError **error)
{
	const char *root = kite_config_get_string(d->config, "checkpoint_dir");
	g_autofree char *def = g_build_filename(d->state_dir, "checkpoints", NULL);
	if (!root || !*root)
		root = def;
	gint64 cluster = 0, proc = 0;
	kite_ad_get_int(job, "ClusterId", &cluster);
	kite_ad_get_int(job, "ProcId", &proc);
	g_autofree char *name = g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, cluster, proc);
	char *dir = g_build_filename(root, name, NULL);
	if (g_mkdir_with_parents(root, 0755) < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (user->change && chown(dir, user->uid, user->gid) < 0)) {
		kite_throw_errno(error, "checkpoint directory %s", dir);
		g_free(dir);
		return NULL;
	}
	return dir;
}

/* Write @len bytes of @data to @dir/@name, mode 0600, owned by @user. */
static gboolean write_private(const char *dir, const char *name, const char *data, gsize len,
			      const KiteJobUser *user, GError **error)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	if (!kite_write_file_atomic(path, data, len, 0600, error))
		return FALSE;
	if (user->change && chown(path, user->uid, user->gid) < 0)
		return kite_throw_errno(error, "chown %s", path);
	return TRUE;
}

/* With a checkpoint server (startd key ckpt_server), the job's directory
 * holds what its checkpoints need there, each at the same path on every
 * machine (the restored program remembers these paths):
 *   server.caps  the job's allocation — made here as a pool daemon for
 *                the job's owner on its first run, else the caps the
 *                schedd kept (CheckpointCaps), lease renewed;
 *   token        a user token for the owner, for `ckpt upload`;
 *   ckpt         a link to this machine's `ckpt`, the uploader. */
static gboolean prepare_server_dir(KiteStartd *d, Claim *c, const char *server, const char *ckpt,
				   GError **error)
{
	g_autofree char *owner = NULL, *caps_text = NULL;
	if (!kite_ad_get_string(c->job, "Owner", &owner) || !*owner) {
		g_free(owner);
		owner = g_strdup(c->user.name);
	}
	gint64 lease = (gint64)kite_config_get_duration(d->config, "ckpt_lease");
	g_autoptr(KiteCkptClient) cc = kite_ckpt_client_connect(server, 5, error);
	if (!cc) {
		g_prefix_error(error, "checkpoint server: ");
		return FALSE;
	}
	g_auto(KiteCkptCaps) caps = {0};
	g_autofree char *caps_path = g_build_filename(c->ckpt_dir, "server.caps", NULL);
	if (kite_ad_get_string(c->job, "CheckpointCaps", &caps_text) && *caps_text) {
		if (!write_private(c->ckpt_dir, "server.caps", caps_text, strlen(caps_text), &c->user,
				   error) ||
		    !kite_ckpt_caps_load(caps_path, &caps, error))
			return FALSE;
		if (caps.server && g_strcmp0(caps.server, c->server) != 0) {
			/* the job's image is where its capabilities say */
			g_free(c->server);
			c->server = g_strdup(caps.server);
			g_clear_pointer(&cc, kite_ckpt_client_free);
			if (!(cc = kite_ckpt_client_connect(c->server, 5, error))) {
				g_prefix_error(error, "checkpoint server: ");
				return FALSE;
			}
		}
		g_auto(KiteCkptInfo) info = {0};
		g_autoptr(GError) renew_error = NULL;
		if (caps.manage &&
		    !kite_ckpt_client_manage(cc, caps.manage, "renew", lease, &info, &renew_error))
			g_message("renewing the lease of checkpoint %s: %s", caps.id, renew_error->message);
	} else {
		if (!kite_ckpt_client_allocate(cc, owner, 0, lease, &caps, error) ||
		    !kite_ckpt_caps_save(caps_path, &caps, error))
			return FALSE;
		if (c->user.change && chown(caps_path, c->user.uid, c->user.gid) < 0)
			return kite_throw_errno(error, "chown %s", caps_path);
		g_message("checkpoint space %s on %s for %s's job", caps.id, server, owner);
	}
	g_autofree char *token = kite_auth_token_create(d->key, owner, kite_now_wall() + lease);
	if (!write_private(c->ckpt_dir, "token", token, strlen(token), &c->user, error))
		return FALSE;
	g_autofree char *link = g_build_filename(c->ckpt_dir, "ckpt", NULL);
	unlink(link);
	if (symlink(ckpt, link) < 0)
		return kite_throw_errno(error, "symlink %s", link);
	return TRUE;
}

/* Start the claim's job: plainly, under `ckpt run`, or with `ckpt
 * restart` from the job's last checkpoint (in the new sandbox: the files
 * the image names under LastCheckpointSandbox are moved here).  Images go
 * to the job's directory, or with ckpt_server set to that server. */
static gboolean start_job(KiteStartd *d, Claim *c, const char *exec_name, GPid *pid, GError **error)
{
	g_autofree char *mode = NULL, *image = NULL, *old_sandbox = NULL, *caps_text = NULL;
	if (!kite_ad_get_string(c->job, "CheckpointMode", &mode))
		mode = g_strdup("none");
	if (g_str_equal(mode, "none"))
		return kite_sandbox_spawn(c->sandbox, exec_name, c->job, &c->user, c->cgroup, pid, error);
	if (!(c->ckpt_dir = job_ckpt_dir(d, c->job, &c->user, error)))
		return FALSE;
	g_autofree char *ckpt = ckpt_program(d);
	/* the server the agent chose for the job, else this machine's */
	g_autofree char *chosen = NULL;
	const char *server = kite_ad_get_string(c->job, "CheckpointServer", &chosen) && *chosen
				 ? chosen
				 : kite_config_get_string(d->config, "ckpt_server");
	c->server = server && *server ? g_strdup(server) : NULL;
	if (c->server && !prepare_server_dir(d, c, c->server, ckpt, error))
		return FALSE;
	g_autofree char *caps = g_build_filename(c->ckpt_dir, "server.caps", NULL);
	g_autofree char *env_token = g_strdup_printf("KITE_TOKEN_FILE=%s/token", c->ckpt_dir);
	g_autofree char *env_uploader = g_strdup_printf("KITE_CKPT_UPLOADER=%s/ckpt", c->ckpt_dir);
	/* every image holds the files the job wrote and closed in its
	 * sandbox, so a job whose machine dies resumes elsewhere with them
	 * (docs/running-jobs.md, "Files") */
	g_autofree char *env_sandbox = g_strdup_printf("KITE_CKPT_SANDBOX=%s", c->sandbox);
	const char *env[] = {env_sandbox, env_token, env_uploader, NULL};
	if (!c->server)
		env[1] = NULL;
	KiteLaunch launch = {.env = env};
	gboolean have_image = c->server
				  ? kite_ad_get_string(c->job, "CheckpointCaps", &caps_text) && *caps_text &&
					kite_ad_get_string(c->job, "LastCheckpointImage", &image) && *image
				  : kite_ad_get_string(c->job, "LastCheckpointImage", &image) && *image;
	if (have_image && kite_ad_get_string(c->job, "LastCheckpointSandbox", &old_sandbox) && *old_sandbox) {
		g_autofree char *move = g_strdup_printf("%s=%s", old_sandbox, c->sandbox);
		/* the agent's interval for this run replaces the one the
		 * restored program had */
		gint64 every = 0;
		kite_ad_get_int(c->job, "CheckpointInterval", &every);
		g_autofree char *interval = g_strdup_printf("%" G_GINT64_FORMAT, MAX(every, 0));
		/* and its images, status, caps and uploader are in this
		 * machine's directory for the job */
		const char *from_dir[] = {ckpt,	    "restart",	  "--move",    move,  "--interval",
					  interval, "--ckpt-dir", c->ckpt_dir, image, NULL};
		const char *from_server[] = {ckpt,	   "restart", "--move",	    move,
					     "--interval", interval,  "--ckpt-dir", c->ckpt_dir,
					     "--caps",	   caps,      NULL};
		launch.command = c->server ? from_server : from_dir;
		launch.stderr_name = RESTART_LOG;
		c->restarted = TRUE;
		g_message("restarting the job from %s", image);
		return kite_sandbox_spawn_launch(c->sandbox, exec_name, &launch, c->job, &c->user, c->cgroup,
						 pid, error);
	}
	gint64 interval = 0;
	kite_ad_get_int(c->job, "CheckpointInterval", &interval);
	g_autofree char *every = g_strdup_printf("%" G_GINT64_FORMAT, MAX(interval, 0));
	const char *to_dir[] = {ckpt, "run", "--dir", c->ckpt_dir, "--interval", every, "--", NULL};
	const char *to_server[] = {ckpt,     "run", "--dir",	  c->ckpt_dir, "--server", c->server,
				   "--caps", caps,  "--interval", every,       "--",	   NULL};
	launch.prefix = c->server ? to_server : to_dir;
	return kite_sandbox_spawn_launch(c->sandbox, exec_name, &launch, c->job, &c->user, c->cgroup, pid,
					 error);
}

/* What libckpt's DIR/status says of the newest checkpoint attempt. */
typedef struct {
	gint64 seq;
	gboolean ok;
	char *image;
	gint64 mtime;
} CkptStatus;

static gboolean read_ckpt_status(const char *dir, CkptStatus *st)
{
	g_autofree char *path = g_build_filename(dir, "status", NULL);
	g_autofree char *text = NULL;
	struct stat sb;
	if (stat(path, &sb) < 0 || !g_file_get_contents(path, &text, NULL, NULL))
		return FALSE;
	*st = (CkptStatus){.mtime = sb.st_mtim.tv_sec};
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		if (g_str_has_prefix(*l, "seq "))
			st->seq = g_ascii_strtoll(*l + 4, NULL, 10);
		else if (g_str_equal(*l, "result ok"))
			st->ok = TRUE;
		else if (g_str_has_prefix(*l, "image ") && !st->image)
			st->image = g_strdup(*l + 6);
	}
	return st->seq > 0 && st->ok && st->image;
}

/* The size and cost of a committed image: from its file, or (server) its
 * allocation's stat. */
static void image_size(Claim *c, const char *image, gint64 *size, double *secs)
{
	*size = -1;
	*secs = -1;
	if (c->server) {
		g_autofree char *caps_path = g_build_filename(c->ckpt_dir, "server.caps", NULL);
		g_auto(KiteCkptCaps) caps = {0};
		g_auto(KiteCkptInfo) info = {0};
		g_autoptr(KiteCkptClient) cc = NULL;
		if (kite_ckpt_caps_load(caps_path, &caps, NULL) && caps.manage &&
		    (cc = kite_ckpt_client_connect(c->server, 2, NULL)) &&
		    kite_ckpt_client_manage(cc, caps.manage, "stat", 0, &info, NULL))
			*size = info.size;
		return;
	}
	KiteImgHeader h;
	struct stat st;
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && pread(fd, &h, sizeof h, 0) == sizeof h &&
	    memcmp(h.magic, KITE_IMG_MAGIC, 8) == 0) {
		*size = st.st_size;
		*secs = MAX(st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 - h.created_ns / 1e9, 0);
	}
	if (fd >= 0)
		close(fd);
}

/* The newest committed checkpoint of the claim's job, as attributes for
 * the shadow (LastCheckpointImage, CheckpointSeq, LastCheckpointSandbox,
 * LastCheckpointTime, CheckpointSize, CheckpointSeconds and, with a
 * server, CheckpointCaps), or an empty array.  Read from libckpt's status
 * file; a new image is looked at once. */
static GVariant *checkpoint_attrs(Claim *c)
{
	CkptStatus st = {0};
	if (c->ckpt_dir && read_ckpt_status(c->ckpt_dir, &st) && st.seq != c->ckpt_seq) {
		g_autoptr(KiteAd) ad = kite_ad_new();
		/* The files an image names are in the sandbox of the run that
		 * wrote it: this run's, unless nothing was written since the
		 * restart. */
		g_autofree char *old = NULL;
		gboolean ours =
		    st.mtime >= c->start_time || !kite_ad_get_string(c->job, "LastCheckpointSandbox", &old);
		gint64 size;
		double secs;
		image_size(c, st.image, &size, &secs);
		kite_ad_set_string(ad, "LastCheckpointImage", st.image);
		kite_ad_set_int(ad, "CheckpointSeq", st.seq);
		kite_ad_set_string(ad, "LastCheckpointSandbox", ours ? c->sandbox : old);
		kite_ad_set_int(ad, "LastCheckpointTime", st.mtime);
		if (size >= 0)
			kite_ad_set_int(ad, "CheckpointSize", size);
		if (secs >= 0)
			kite_ad_set_real(ad, "CheckpointSeconds", secs);
		if (c->server) {
			g_autofree char *caps_path = g_build_filename(c->ckpt_dir, "server.caps", NULL);
			g_autofree char *caps = NULL;
			if (g_file_get_contents(caps_path, &caps, NULL, NULL))
				kite_ad_set_string(ad, "CheckpointCaps", caps);
		}
		if (c->ckpt_attrs)
			kite_ad_free(c->ckpt_attrs);
		c->ckpt_attrs = g_steal_pointer(&ad);
		c->ckpt_seq = st.seq;
	}
	g_free(st.image);
	if (!c->ckpt_attrs)
		return g_variant_new_array(G_VARIANT_TYPE("(ss)"), NULL, 0);
	return kite_ad_to_variant(c->ckpt_attrs);
}

/* ACTIVATE (the executable among @files) and ACTIVATE_CACHED (@sha256
 * names a cached executable, which is not among @files): write the
 * files into a fresh sandbox and start the job. */
static void activate(KiteStartd *d, KiteServerConn *conn, GVariant *body, const char *exec_name,
		     const char *sha256, GVariant *files)
{
	gint i = lookup_claim(d, conn, body);
	if (i < 0)
		return;
	Claim *c = claim_of(d, i);
	KiteSlot *slot = d->slots->pdata[i];
	if (c->started || c->released || slot->state != KITE_SLOT_CLAIMED) {
		kite_server_refuse(conn, KITE_ERROR_STATE, "the claim on %s cannot start a job now (%s/%s)",
				   slot->name, kite_slot_state_name(slot->state),
				   kite_slot_activity_name(slot->activity));
		return;
	}
	c->last_heard = kite_now_monotonic();
	gsize n = g_variant_n_children(files);
	if (n > MAX_FILES) {
		kite_server_refuse(conn, KITE_ERROR_LIMIT, "%zu files; at most %d are accepted", n,
				   MAX_FILES);
		return;
	}
	if (sha256 && !kite_exec_cache_has(d->exec_cache, sha256)) {
		/* the shadow sends it again, whole */
		kite_server_refuse(conn, KITE_ERROR_NOT_FOUND,
				   "no executable with SHA-256 %.64s is cached here", sha256);
		return;
	}
	g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (sha256 && (!plain_name(exec_name) || !g_hash_table_add(names, g_strdup(exec_name)))) {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "bad executable name \"%s\"", exec_name);
		return;
	}
	g_autoptr(GPtrArray) spooled = g_ptr_array_new_with_free_func(g_free);
	for (gsize k = 0; k < n; k++) {
		const char *name;
		guint32 mode;
		g_variant_get_child(files, k, "(&su@ay)", &name, &mode, NULL);
		if (!plain_name(name) || !g_hash_table_add(names, g_strdup(name))) {
			kite_server_refuse(conn, KITE_ERROR_INVALID, "bad or repeated file name \"%s\"",
					   name);
			return;
		}
		if (mode & KITE_FILE_SPOOLED)
			g_ptr_array_add(spooled, g_strdup(name));
	}
	/* An earlier run's outputs are outputs again, not inputs. */
	for (guint k = 0; k < spooled->len; k++)
		g_hash_table_remove(names, spooled->pdata[k]);
	if (!sha256 && !g_hash_table_contains(names, exec_name)) {
		kite_server_refuse(conn, KITE_ERROR_INVALID, "the executable %s is not among the files sent",
				   exec_name);
		return;
	}
	g_autoptr(GError) error = NULL;
	kite_sandbox_job_user(NULL, &c->user);
	g_autofree char *owner = NULL;
	if (kite_ad_get_string(c->job, "Owner", &owner)) {
		kite_job_user_clear(&c->user);
		kite_sandbox_job_user(owner, &c->user);
	}
	g_autofree char *parent = g_build_filename(d->state_dir, "execute", NULL);
	c->sandbox = kite_sandbox_create(parent, &c->user, &error);
	for (gsize k = 0; c->sandbox && !error && k < n; k++) {
		const char *name;
		guint32 mode;
		g_autoptr(GVariant) data = NULL;
		g_variant_get_child(files, k, "(&su@ay)", &name, &mode, &data);
		if (write_input(c->sandbox, name, mode, data, &c->user, &error) && !sha256 &&
		    g_str_equal(name, exec_name)) {
			gsize len;
			const guint8 *bytes = g_variant_get_fixed_array(data, &len, 1);
			kite_exec_cache_add(d->exec_cache, bytes, len);
		}
	}
	if (c->sandbox && !error && sha256)
		kite_exec_cache_place(d->exec_cache, sha256, c->sandbox, exec_name, &c->user, &error);
	if (!error && d->cgroups) {
		/* One claim per slot: the slot names the leaf. */
		g_autofree char *leaf = g_strdup_printf("slot%u", slot->id);
		gint64 cpus = 0;
		kite_ad_get_int(c->job, "RequestCpus", &cpus);
		c->cgroup = kite_job_cgroup_new(d->cgroups, leaf, request_memory(c), cpus, &error);
	}
	GPid pid = 0;
	if (!error)
		start_job(d, c, exec_name, &pid, &error);
	if (error) {
		kite_server_refuse(conn, KITE_ERROR_FAILED, "%s: %s", slot->name, error->message);
		return;
	}
	c->inputs = g_steal_pointer(&names);
	c->pid = pid;
	c->n_jobs++;
	c->started = c->running = TRUE;
	c->start_time = kite_now_wall();
	ExitWatch *w = g_new0(ExitWatch, 1);
	w->d = d;
	w->slot = i;
	c->watch = g_child_watch_add_full(G_PRIORITY_DEFAULT, pid, on_job_exit, w, g_free);
	g_message("%s: job of %s started as %s (pid %d) in %s, job %u of claim %.8s…", slot->name,
		  owner ? owner : "?", c->user.name, pid, c->sandbox, c->n_jobs, c->id);
	KitePolicyInput ev = {.job_started = TRUE};
	update_and_advertise(d, i, &ev);
	kite_server_reply(conn, KITE_MSG_ACTIVATE_REPLY, g_variant_new("(x)", (gint64)pid));
}

static void handle_activate(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	const char *exec_name;
	g_autoptr(GVariant) files = NULL;
	g_variant_get(body, "(&s&s@a(suay))", NULL, &exec_name, &files);
	activate(d, conn, body, exec_name, NULL, files);
}

static void handle_activate_cached(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	const char *exec_name, *sha256;
	g_autoptr(GVariant) files = NULL;
	g_variant_get(body, "(&s&s&s@a(suay))", NULL, &exec_name, &sha256, &files);
	activate(d, conn, body, exec_name, sha256, files);
}

/* The job's outputs: stdout, stderr (unless @with_std is FALSE) and every
 * regular file it left in the sandbox's top directory that was not an
 * input, at most max_transfer_size in all.  Reading is local and
 * bounded; it happens once per job, when the shadow asks after the exit
 * (or the vacate: then without stdout and stderr, which the checkpoint
 * holds). */
static GVariant *collect_outputs(KiteStartd *d, Claim *c, gboolean with_std, GError **error)
{
	gsize budget = kite_config_get_size(d->config, "max_transfer_size");
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(suay)"));
	g_autoptr(GDir) dir = g_dir_open(c->sandbox, 0, error);
	if (!dir) {
		g_variant_builder_clear(&b);
		return NULL;
	}
	const char *name;
	guint count = 0;
	while ((name = g_dir_read_name(dir))) {
		gboolean std = !strcmp(name, KITE_SANDBOX_STDOUT) || !strcmp(name, KITE_SANDBOX_STDERR);
		if (std && !with_std)
			continue;
		if (!std && g_hash_table_contains(c->inputs, name))
			continue;
		g_autofree char *path = g_build_filename(c->sandbox, name, NULL);
		struct stat st;
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (++count > MAX_FILES || (gsize)st.st_size > budget) {
			g_variant_builder_clear(&b);
			kite_throw(error, KITE_ERROR_LIMIT,
				   "the job's outputs are over max_transfer_size (%zu bytes) or %d files",
				   kite_config_get_size(d->config, "max_transfer_size"), MAX_FILES);
			return NULL;
		}
		g_autoptr(GBytes) data = kite_sandbox_read(c->sandbox, name, budget, error);
		if (!data) {
			g_variant_builder_clear(&b);
			return NULL;
		}
		budget -= g_bytes_get_size(data);
		g_variant_builder_add(&b, "(su@ay)", name, (guint32)(st.st_mode & 0777),
				      g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, data, TRUE));
	}
	return g_variant_builder_end(&b);
}

static void handle_status(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	gint i = lookup_claim(d, conn, body);
	if (i < 0)
		return;
	Claim *c = claim_of(d, i);
	KiteSlot *slot = d->slots->pdata[i];
	c->last_heard = kite_now_monotonic();
	const char *state = "claimed";
	gint64 code = 0, sig = 0;
	const char *why = "";
	GVariant *files = NULL;
	if (c->running) {
		/* A job being vacated (checkpoint, then exit) is not running
		 * again, even though it was continued to take its checkpoint. */
		state = slot->state == KITE_SLOT_PREEMPTING	? "vacating"
			: slot->activity == KITE_SLOT_SUSPENDED ? "suspended"
								: "running";
	} else if (c->exited && c->restart_failed) {
		state = "restart-failed";
		why = c->restart_failed;
	} else if (c->exited && c->over_memory) {
		state = "held";
		why = c->why;
	} else if (c->exited && c->vacated) {
		state = "vacated";
		why = c->why;
		/* The files it wrote and closed are in no checkpoint: the shadow
		 * keeps them for the run that resumes from it. */
		g_autoptr(GError) error = NULL;
		files = collect_outputs(d, c, FALSE, &error);
		if (!files)
			g_message("%s: the vacated job's files cannot go back with it: %s", slot->name,
				  error->message);
	} else if (c->exited) {
		state = "exited";
		if (WIFSIGNALED(c->wait_status))
			sig = WTERMSIG(c->wait_status);
		else
			code = WEXITSTATUS(c->wait_status);
		g_autoptr(GError) error = NULL;
		files = collect_outputs(d, c, TRUE, &error);
		if (!files) {
			kite_server_refuse(conn, KITE_ERROR_LIMIT, "%s", error->message);
			return;
		}
	}
	if (!files)
		files = g_variant_new_array(G_VARIANT_TYPE("(suay)"), NULL, 0);
	/* What the run used, once it has exited and only if its cgroup
	 * counted it (rlimits alone measure nothing). */
	gboolean measured = c->exited && c->measured;
	kite_server_reply(conn, KITE_MSG_CLAIM_STATUS_REPLY,
			  g_variant_new("(sxxs@a(suay)@a(ss)(bttt))", state, code, sig, why, files,
					checkpoint_attrs(c), measured,
					measured ? (guint64)c->usage.memory_peak : 0,
					measured ? (guint64)c->usage.user_usec : 0,
					measured ? (guint64)c->usage.system_usec : 0));
}

/* `pool ckpt` / `pool vacate`: libckpt's SIGUSR2 (checkpoint and go
 * on) or SIGTSTP (checkpoint and exit; the exit is then a vacate). */
static void handle_checkpoint(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	gint i = lookup_claim(d, conn, body);
	if (i < 0)
		return;
	Claim *c = claim_of(d, i);
	KiteSlot *slot = d->slots->pdata[i];
	gboolean exit;
	g_variant_get_child(body, 1, "b", &exit);
	c->last_heard = kite_now_monotonic();
	if (!c->running || !c->ckpt_dir) {
		kite_server_refuse(conn, KITE_ERROR_STATE, "%s: %s", slot->name,
				   !c->running ? "the job is not running"
					       : "the job is not checkpointed (mode none)");
		return;
	}
	if (exit) {
		c->vacated = TRUE;
		g_free(c->why);
		c->why = g_strdup_printf("vacated from %s on request", slot->name);
	}
	g_message("%s: %s the job (pid %d) on request", slot->name, exit ? "vacating" : "checkpointing",
		  c->pid);
	stop_job(c, FALSE);
	if (kill(c->pid, exit ? SIGTSTP : SIGUSR2) < 0 && errno != ESRCH)
		g_warning("kill job %d: %s", c->pid, g_strerror(errno));
	g_autofree char *msg = g_strdup_printf("%s %s", exit ? "vacating" : "checkpointing", slot->name);
	kite_server_reply(conn, KITE_MSG_CLAIM_REPLY, g_variant_new("(s)", msg));
}

static void handle_release(KiteStartd *d, KiteServerConn *conn, GVariant *body)
{
	gint i = lookup_claim(d, conn, body);
	if (i < 0)
		return;
	g_autofree char *msg = g_strdup_printf("released %s", ((KiteSlot *)d->slots->pdata[i])->name);
	release_claim(d, i, "by its shadow");
	kite_server_reply(conn, KITE_MSG_CLAIM_REPLY, g_variant_new("(s)", msg));
}

static void handle(KiteServerConn *conn, guint type, GVariant *body, gpointer data)
{
	KiteStartd *d = data;
	if (kite_server_conn_role(conn) != KITE_ROLE_DAEMON) {
		kite_server_refuse(
		    conn, KITE_ERROR_PERMISSION,
		    "permission denied: only pool daemons (shadows) may claim slots; authenticate with "
		    "the pool key");
		return;
	}
	switch (type) {
	case KITE_MSG_CLAIM:
		handle_claim(d, conn, body);
		break;
	case KITE_MSG_ACTIVATE:
		handle_activate(d, conn, body);
		break;
	case KITE_MSG_CLAIM_STATUS:
		handle_status(d, conn, body);
		break;
	case KITE_MSG_RELEASE:
		handle_release(d, conn, body);
		break;
	case KITE_MSG_CLAIM_CHECKPOINT:
		handle_checkpoint(d, conn, body);
		break;
	case KITE_MSG_CLAIM_NEXT:
		handle_claim_next(d, conn, body);
		break;
	case KITE_MSG_ACTIVATE_CACHED:
		handle_activate_cached(d, conn, body);
		break;
	case KITE_MSG_CLAIM_DISCONNECT:
		handle_disconnect(d, conn, body);
		break;
	case KITE_MSG_CLAIM_RECONNECT:
		handle_reconnect(d, conn, body);
		break;
	default:
		kite_server_refuse(conn, KITE_ERROR_PROTOCOL, "the startd does not answer %s",
				   kite_wire_type_name(type));
	}
}

/* Jobs in cgroups where the hierarchy lets us, else rlimits: said once. */
static void open_cgroups(KiteStartd *d)
{
	if (!kite_config_get_bool(d->config, "cgroups")) {
		g_message("jobs get rlimits, not cgroups: `cgroups` is false");
		return;
	}
	g_autofree char *notes = NULL;
	g_autoptr(GError) error = NULL;
	d->cgroups = kite_cgroups_open(NULL, kite_config_get_string(d->config, "cgroup_parent"), d->name,
				       d->state_dir, &notes, &error);
	if (!d->cgroups) {
		g_message("jobs get rlimits, not cgroups: %s", error->message);
		return;
	}
	/* Where they are, for admins and for tests that clean up after a
	 * startd they killed: written before the log says so (a test reads
	 * it as soon as the line appears). */
	g_autofree char *line = g_strdup_printf("%s\n", kite_cgroups_path(d->cgroups));
	g_autofree char *path = g_build_filename(d->state_dir, "startd.cgroup", NULL);
	if (!kite_write_file_atomic(path, line, strlen(line), 0644, &error))
		g_warning("%s", error->message);
	g_message("jobs run in cgroups under %s; memory: %s; cpu: %s", kite_cgroups_path(d->cgroups),
		  kite_cgroups_has(d->cgroups, "memory") ? "memory.max"
							 : "measured by the startd at every poll",
		  kite_cgroups_has(d->cgroups, "cpu") ? "cpu.max and cpu.weight" : "not limited");
	if (notes)
		g_message("cgroups: %s", notes);
}

gboolean kite_claims_start(KiteStartd *d, GError **error)
{
	open_cgroups(d);
	g_autofree char *cache_dir = g_build_filename(d->state_dir, "exec-cache", NULL);
	if (!(d->exec_cache = kite_exec_cache_new(cache_dir, error)))
		return FALSE;
	d->claims = g_ptr_array_new();
	g_ptr_array_set_size(d->claims, d->slots->len);
	KiteServerOptions so = {
	    .name = "startd",
	    .max_body = kite_config_get_size(d->config, "max_message_size"),
	    .max_connections = 256,
	    .idle_timeout = MAX(60, 2 * kite_config_get_duration(d->config, "claim_lease")),
	    .key = d->key,
	};
	d->server = kite_server_new(&so, handle, d);
	const char *listen = kite_config_get_string(d->config, "listen");
	g_autofree char *host = NULL;
	guint16 port, bound;
	if (!kite_parse_host_port(listen, &host, &port, error)) {
		g_prefix_error(error, "`listen`: ");
		return FALSE;
	}
	if (!kite_server_listen_tcp(d->server, host, port, &bound, error))
		return FALSE;
	g_autofree char *warning = NULL;
	g_autofree char *addr = kite_startd_contact_address(host, bound, d->schedd_addr, &warning, error);
	if (!addr)
		return FALSE;
	if (warning)
		g_warning("%s", warning);
	g_autofree char *line = g_strdup_printf("%s\n", addr);
	g_autofree char *addr_path = g_build_filename(d->state_dir, "startd.addr", NULL);
	if (!kite_write_file_atomic(addr_path, line, strlen(line), 0644, error))
		return FALSE;
	kite_ad_set_string(d->machine, "StartdAddr", addr);
	/* ClaimLease: the longest a job outlives silence from its shadow —
	 * the lease, plus one poll until it is checked, plus the longest the
	 * main loop can wait on a silent schedd (an advertisement from the
	 * poll and one from the timer, each a connect and a call).  A shadow
	 * that has not heard from us for that long knows the job is dead. */
	double lease = kite_config_get_duration(d->config, "claim_lease") +
		       kite_config_get_duration(d->config, "poll_interval") +
		       4 * kite_config_get_duration(d->config, "schedd_timeout");
	kite_ad_set_int(d->machine, "ClaimLease", (gint64)ceil(lease));
	/* The schedd offers a claim's shadow the owner's next job only
	 * while the claim is younger than this (0: never). */
	kite_ad_set_int(d->machine, "ClaimWorklife",
			(gint64)kite_config_get_duration(d->config, "claim_worklife"));
	/* The job lease of jobs whose ad sets none: how long a restarted
	 * schedd's shadow may have to wait for this startd to answer. */
	kite_ad_set_int(d->machine, "DefaultJobLease",
			(gint64)ceil(kite_config_get_duration(d->config, "job_lease_duration")));
	g_message("listening for shadows on %s:%u; shadows connect to %s", host, bound, addr);
	return TRUE;
}

void kite_claims_stop(KiteStartd *d)
{
	for (guint i = 0; d->claims && i < d->claims->len; i++) {
		Claim *c = claim_of(d, i);
		if (!c)
			continue;
		kill_job(c);
		if (c->running)
			waitpid(c->pid, NULL, 0);
		c->running = FALSE;
		claim_free(c);
		d->claims->pdata[i] = NULL;
	}
	g_clear_pointer(&d->claims, g_ptr_array_unref);
	g_clear_pointer(&d->server, kite_server_free);
	g_clear_pointer(&d->exec_cache, kite_exec_cache_free);
	if (d->cgroups) {
		g_clear_pointer(&d->cgroups, kite_cgroups_free);
		g_autofree char *path = g_build_filename(d->state_dir, "startd.cgroup", NULL);
		unlink(path);
	}
}

GArray *kite_claims_job_sessions(KiteStartd *d)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(GPid));
	for (guint i = 0; d->claims && i < d->claims->len; i++) {
		Claim *c = claim_of(d, i);
		if (c && c->running && c->pid > 0)
			g_array_append_val(out, c->pid);
	}
	return out;
}
