/* glidein-host.c — what `pool glidein` does on one host, from one worker
 * thread: connect and authenticate (common/ssh-session.c), find the
 * glidein directory and whether a startd of ours runs there, copy the
 * programs, the startd config and the pool key, start the startd
 * detached and wait until the schedd sees it; or stop it and remove the
 * directory.
 *
 * The host side is a few POSIX sh scripts, run through `sh -c` so that
 * the user's login shell does not matter.  The directory is filled under
 * a temporary name and renamed into place only when complete, so a
 * failure leaves nothing half-written. */
#include <stdio.h>
#include <string.h>

#include "config-keys.h"
#include "glidein.h"
#include "ssh-session.h"
#include "util.h"

const KiteGlideinFile kite_glidein_files[KITE_GLIDEIN_N_FILES] = {
    {"bin/startd", 0755},
    {"bin/ckpt", 0755},
    {"bin/ckpt-restore", 0755},
    {"lib/libckpt.so", 0644},
};

gboolean kite_glidein_load_files(KiteGlideinPlan *plan, const char *prefix, GError **error)
{
	for (int i = 0; i < KITE_GLIDEIN_N_FILES; i++) {
		g_autofree char *path = g_build_filename(prefix, kite_glidein_files[i].path, NULL);
		char *data = NULL;
		gsize len = 0;
		if (!g_file_get_contents(path, &data, &len, error)) {
			g_prefix_error(error, "the programs to copy: ");
			return FALSE;
		}
		plan->files[i] = g_bytes_new_take(data, len);
	}
	return TRUE;
}

void kite_glidein_result_free(KiteGlideinResult *r)
{
	if (!r)
		return;
	g_free(r->message);
	g_free(r->machine);
	g_free(r->remote_dir);
	g_free(r);
}

static KiteGlideinResult *result(KiteGlideinOutcome outcome, char *message)
{
	KiteGlideinResult *r = g_new0(KiteGlideinResult, 1);
	r->outcome = outcome;
	r->message = message;
	return r;
}

static KiteGlideinResult *failed(const GError *error)
{
	return result(KITE_GLIDEIN_FAILED, g_strdup_printf("failed: %s", error->message));
}

/* Letters, digits, '.' and '-' stay; anything else becomes '_', so that
 * a name fits a file name and the startd's name rules. */
static char *sanitize(const char *text)
{
	char *s = g_strdup(text);
	for (char *p = s; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-')
			*p = '_';
	return s;
}

char *kite_glidein_machine_name(const char *host)
{
	g_autofree char *h = sanitize(host);
	return g_strconcat("glidein-", h, NULL);
}

/* ---- targets ---- */

static gboolean valid_chars(const char *s, const char *extra)
{
	if (!*s)
		return FALSE;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && !strchr(extra, *s))
			return FALSE;
	return TRUE;
}

gboolean kite_glidein_parse_target(const char *arg, const char *default_user, KiteGlideinTarget *out,
				   GError **error)
{
	const char *at = strrchr(arg, '@');
	g_autofree char *user = at ? g_strndup(arg, at - arg) : g_strdup(default_user);
	const char *hp = at ? at + 1 : arg;
	g_autofree char *host = NULL;
	const char *port_text = NULL;
	if (*hp == '[') {
		const char *close = strchr(hp, ']');
		if (!close || (close[1] && close[1] != ':'))
			goto bad;
		host = g_strndup(hp + 1, close - hp - 1);
		port_text = close[1] ? close + 2 : NULL;
		if (!valid_chars(host, ":."))
			goto bad;
	} else {
		const char *colon = strchr(hp, ':');
		host = colon ? g_strndup(hp, colon - hp) : g_strdup(hp);
		port_text = colon ? colon + 1 : NULL;
		if (!valid_chars(host, ".-"))
			goto bad;
	}
	if (!valid_chars(user, "._-"))
		goto bad;
	guint64 port = 22;
	if (port_text && (!g_ascii_string_to_unsigned(port_text, 10, 1, 65535, &port, NULL)))
		goto bad;
	out->arg = g_strdup(arg);
	out->user = g_steal_pointer(&user);
	out->host = g_steal_pointer(&host);
	out->port = port;
	return TRUE;
bad:
	return kite_throw(error, KITE_ERROR_INVALID,
			  "\"%s\" is not USER@HOST[:PORT] (e.g. root@ws1, alice@192.168.1.7:2222, bob@[fe80::1]:22)",
			  arg);
}

void kite_glidein_target_clear(KiteGlideinTarget *t)
{
	g_clear_pointer(&t->arg, g_free);
	g_clear_pointer(&t->user, g_free);
	g_clear_pointer(&t->host, g_free);
}

/* ---- the host ---- */

/* One host during a join or stop. */
typedef struct {
	const KiteGlideinPlan *plan;
	const KiteGlideinTarget *t;
	KiteSsh *ssh;
	char *schedd;  /* HOST:PORT the startd advertises to */
	char *machine; /* glidein-HOST */
	char *dir;     /* absolute glidein directory on the host */
	char *qdir;    /* the same, shell-quoted */
	char *arch;    /* uname -m there */
	char *running; /* pid of our startd there, or NULL */
} Host;

static void host_clear(Host *h)
{
	kite_ssh_free(h->ssh);
	g_free(h->schedd);
	g_free(h->machine);
	g_free(h->dir);
	g_free(h->qdir);
	g_free(h->arch);
	g_free(h->running);
}

static gboolean is_loopback(const char *host)
{
	return g_str_has_prefix(host, "127.") || g_str_equal(host, "::1") || g_ascii_strcasecmp(host, "localhost") == 0;
}

static char *host_port(const char *host, guint port)
{
	return strchr(host, ':') ? g_strdup_printf("[%s]:%u", host, port) : g_strdup_printf("%s:%u", host, port);
}

/* The schedd address as the host must use it: a wildcard listen address
 * becomes this machine's address as the host sees it (the far end of the
 * SSH connection — this command runs beside the schedd, which has the
 * pool key); a loopback one is refused unless the host is this machine. */
static char *schedd_for_host(const KiteGlideinPlan *plan, KiteSsh *ssh, GError **error)
{
	g_autofree char *host = NULL;
	guint16 port = 0;
	if (!kite_parse_host_port(plan->schedd_for_hosts, &host, &port, error))
		return NULL;
	if (!*host || g_str_equal(host, "0.0.0.0") || g_str_equal(host, "::"))
		return host_port(kite_ssh_local_address(ssh), port);
	if (is_loopback(host) && !is_loopback(kite_ssh_peer_address(ssh))) {
		kite_throw(error, KITE_ERROR_INVALID,
			   "the schedd is at %s, which the host cannot reach; make the schedd listen on an address "
			   "the workstations reach (`listen` in schedd.yaml) or give --schedd-address",
			   plan->schedd_for_hosts);
		return NULL;
	}
	return g_strdup(plan->schedd_for_hosts);
}

/* Run @script with sh on the host; its standard output is returned.  A
 * nonzero exit is an error quoting its standard error. */
static char *run(Host *h, const char *script, double timeout, GError **error)
{
	g_autofree char *quoted = g_shell_quote(script);
	g_autofree char *command = g_strconcat("sh -c ", quoted, NULL);
	g_autofree char *out = NULL, *err = NULL;
	int status = 0;
	if (!kite_ssh_exec(h->ssh, command, timeout, &out, &err, &status, error))
		return NULL;
	if (status != 0) {
		kite_throw(error, KITE_ERROR_FAILED, "a command on the host failed (status %d): %s", status,
			   g_strstrip(err));
		return NULL;
	}
	return g_steal_pointer(&out);
}

/* The value of "KEY=value" in @output, or NULL. */
static char *field(const char *output, const char *key)
{
	g_auto(GStrv) lines = g_strsplit(output, "\n", -1);
	g_autofree char *prefix = g_strconcat(key, "=", NULL);
	for (char **l = lines; *l; l++)
		if (g_str_has_prefix(*l, prefix))
			return g_strdup(*l + strlen(prefix));
	return NULL;
}

/* The shell test "the pid in $pid is our startd" (the file is the same
 * inode as the startd of this directory: another process that got the
 * pid later, or another glidein's startd, is not). */
#define IS_OURS "[ -n \"$pid\" ] && [ /proc/\"$pid\"/exe -ef \"$d/bin/startd\" ]"

/* Connect, authenticate, and find the directory and what runs in it.
 * @known_dir is where the record says glidein put it, or NULL. */
static gboolean open_host(Host *h, const char *known_dir, GError **error)
{
	const KiteGlideinPlan *plan = h->plan;
	h->ssh = kite_ssh_connect(h->t->host, h->t->port, plan->known_hosts, plan->timeout, error);
	if (!h->ssh || !kite_ssh_auth(h->ssh, h->t->user, plan->identity, error))
		return FALSE;
	h->schedd = schedd_for_host(plan, h->ssh, error);
	if (!h->schedd)
		return FALSE;
	h->machine = kite_glidein_machine_name(h->t->host);
	/* The directory, as a shell expression the probe expands. */
	g_autofree char *dir_expr = NULL;
	const char *rd = known_dir ? known_dir : plan->remote_dir;
	if (rd && rd[0] == '/')
		dir_expr = g_shell_quote(rd);
	else {
		g_autofree char *id = sanitize(h->schedd);
		g_autofree char *rel = rd ? g_strdup(g_str_has_prefix(rd, "~/") ? rd + 2 : rd)
					  : g_build_filename(".kite-glidein", id, NULL);
		g_autofree char *q = g_shell_quote(rel);
		dir_expr = g_strconcat("\"$HOME\"/", q, NULL);
	}
	g_autofree char *script = g_strdup_printf("d=%s\n"
						  "printf 'dir=%%s\\narch=%%s\\n' \"$d\" \"$(uname -m)\"\n"
						  "pid=$(cat \"$d/startd.pid\" 2>/dev/null)\n"
						  "if " IS_OURS "; then printf 'running=%%s\\n' \"$pid\"; fi\n",
						  dir_expr);
	g_autofree char *out = run(h, script, 0, error);
	if (!out)
		return FALSE;
	h->dir = field(out, "dir");
	h->arch = field(out, "arch");
	h->running = field(out, "running");
	if (!h->dir || h->dir[0] != '/' || strchr(h->dir, '\t'))
		return kite_throw(error, KITE_ERROR_FAILED, "the host gave no usable directory (%s)",
				  h->dir ? h->dir : "none");
	h->qdir = g_shell_quote(h->dir);
	return TRUE;
}

/* ---- join ---- */

static void yaml_string(GString *out, const char *key, const char *value)
{
	g_string_append_printf(out, "%s: \"", key);
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	g_string_append(out, "\"\n");
}

/* The startd config for the host: its name, the schedd, the key, where
 * shadows reach it (the host's address as this machine sees it), then
 * the admin's own settings.  Checked here before it travels. */
static GBytes *startd_config(Host *h, GError **error)
{
	g_autoptr(GString) y = g_string_new("# Written by `pool glidein` (docs/glidein.md).\n");
	yaml_string(y, "name", h->machine);
	yaml_string(y, "schedd", h->schedd);
	g_autofree char *key = g_build_filename(h->dir, "pool.key", NULL);
	yaml_string(y, "pool_key_file", key);
	if (!h->plan->config_sets_listen) {
		g_autofree char *listen = host_port(kite_ssh_peer_address(h->ssh), 0);
		yaml_string(y, "listen", listen);
	}
	if (h->plan->startd_config) {
		g_string_append(y, "# From --config:\n");
		g_string_append(y, h->plan->startd_config);
		if (y->str[y->len - 1] != '\n')
			g_string_append_c(y, '\n');
	}
	g_autoptr(KiteConfig) cfg = kite_config_load_data("startd.yaml", y->str, y->len, kite_startd_config_keys, error);
	if (!cfg) {
		g_prefix_error(error, "the generated startd config: ");
		return NULL;
	}
	return g_bytes_new(y->str, y->len);
}

/* Copy everything into @staging (fresh, mode 0700). */
static gboolean copy_files(Host *h, const char *staging, GError **error)
{
	g_autofree char *qs = g_shell_quote(staging);
	g_autofree char *prep = g_strdup_printf("umask 077; s=%s; rm -rf \"$s\" && mkdir -p \"$s/bin\" \"$s/lib\" \"$s/state\"", qs);
	g_autofree char *out = run(h, prep, 0, error);
	if (!out)
		return FALSE;
	for (int i = 0; i < KITE_GLIDEIN_N_FILES; i++) {
		g_autofree char *path = g_build_filename(staging, kite_glidein_files[i].path, NULL);
		if (!kite_ssh_put(h->ssh, h->plan->files[i], path, kite_glidein_files[i].mode, error))
			return FALSE;
	}
	g_autoptr(GBytes) config = startd_config(h, error);
	g_autofree char *config_path = g_build_filename(staging, "startd.yaml", NULL);
	if (!config || !kite_ssh_put(h->ssh, config, config_path, 0644, error))
		return FALSE;
	/* The pool key goes over this SSH channel only, into a new file of
	 * mode 0600. */
	g_autofree char *key_path = g_build_filename(staging, "pool.key", NULL);
	return kite_ssh_put(h->ssh, h->plan->pool_key_file, key_path, 0600, error);
}

/* Move @staging into place and start the startd in its own session,
 * detached from the SSH channel.  Writes the pid, or the libraries the
 * host lacks (then nothing is left there). */
static gboolean install_and_start(Host *h, const char *staging, char **out_pid, char **out_started,
				  char **out_missing, GError **error)
{
	g_autofree char *qs = g_shell_quote(staging);
	g_autofree char *script = g_strdup_printf(
	    "d=%s; s=%s; umask 077\n"
	    "missing=$(ldd \"$s/bin/startd\" \"$s/bin/ckpt\" 2>/dev/null | "
	    "sed -n 's/^[[:space:]]*\\([^[:space:]]*\\) => not found.*/\\1/p' | sort -u | tr '\\n' ' ')\n"
	    "if [ -n \"$missing\" ]; then rm -rf \"$s\"; printf 'missing=%%s\\n' \"$missing\"; exit 0; fi\n"
	    "rm -rf \"$d\" && mv \"$s\" \"$d\" && cd \"$d\" || exit 1\n"
	    "printf 'started=%%s\\n' \"$(date +%%s)\"\n"
	    "setsid sh -c 'echo $$ >startd.pid; exec \"$0\" --config \"$1\" --state-dir \"$2\"' "
	    "\"$d/bin/startd\" \"$d/startd.yaml\" \"$d/state\" </dev/null >>startd.log 2>&1 &\n"
	    "i=0; while [ ! -s startd.pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n"
	    "printf 'pid=%%s\\n' \"$(cat startd.pid 2>/dev/null)\"\n",
	    h->qdir, qs);
	g_autofree char *out = run(h, script, 0, error);
	if (!out)
		return FALSE;
	*out_missing = field(out, "missing");
	*out_pid = field(out, "pid");
	*out_started = field(out, "started");
	if (!*out_missing && (!*out_pid || !**out_pid || !*out_started))
		return kite_throw(error, KITE_ERROR_FAILED, "the startd did not start (no pid file in %s)", h->dir);
	return TRUE;
}

/* Stop our startd in the directory (TERM, then KILL after the grace
 * time) and remove the directory.  Writes how: "stopped PID", "killed
 * PID", "none" (nothing ran) or "absent" (no directory). */
static char *stop_and_remove(Host *h, GError **error)
{
	int ticks = (int)(h->plan->stop_grace * 10);
	g_autofree char *script = g_strdup_printf(
	    "d=%s\n"
	    "[ -d \"$d\" ] || { echo how=absent; exit 0; }\n"
	    "how=none; pid=$(cat \"$d/startd.pid\" 2>/dev/null)\n"
	    "if " IS_OURS "; then\n"
	    "  kill -TERM \"$pid\"; how=\"stopped $pid\"; i=0\n"
	    "  while " IS_OURS " && [ $i -lt %d ]; do sleep 0.1; i=$((i+1)); done\n"
	    "  if " IS_OURS "; then kill -KILL \"$pid\"; how=\"killed $pid\"; fi\n"
	    "fi\n"
	    "rm -rf \"$d\" || exit 1\n"
	    "echo \"how=$how\"\n",
	    h->qdir, ticks);
	g_autofree char *out = run(h, script, h->plan->timeout + h->plan->stop_grace, error);
	if (!out)
		return NULL;
	char *how = field(out, "how");
	if (!how)
		kite_throw(error, KITE_ERROR_FAILED, "stopping gave no answer (output: %s)", g_strstrip(out));
	return how;
}

/* The last line of the startd's log on the host (for a failure). */
static char *log_tail(Host *h)
{
	g_autofree char *script = g_strdup_printf("tail -n 1 %s/startd.log 2>/dev/null; true", h->qdir);
	g_autofree char *out = run(h, script, 0, NULL);
	return out && *g_strstrip(out) ? g_strdup_printf("; startd.log: %s", out) : g_strdup("");
}

static gboolean startd_alive(Host *h, const char *pid, gboolean *out_alive, GError **error)
{
	g_autofree char *qpid = g_shell_quote(pid);
	g_autofree char *script = g_strdup_printf("d=%s; pid=%s; if " IS_OURS "; then echo alive=1; fi", h->qdir, qpid);
	g_autofree char *out = run(h, script, 0, error);
	if (!out)
		return FALSE;
	*out_alive = strstr(out, "alive=1") != NULL;
	return TRUE;
}

/* Wait until the schedd has a slot ad of the machine from the startd
 * started at @started (the host's clock, as DaemonStartTime is: an ad of
 * an earlier startd of the same name does not count), while checking
 * that the startd still runs.  FALSE with @error on a timeout, a dead
 * startd or an unreachable schedd. */
static gboolean wait_for_machine(Host *h, const char *pid, const char *started, GError **error)
{
	g_autofree char *constraint =
	    g_strdup_printf("Machine == \"%s\" && DaemonStartTime >= %s", h->machine, started);
	double deadline = kite_now_monotonic() + h->plan->join_timeout;
	double next_alive_check = kite_now_monotonic() + 1;
	g_autoptr(KiteConn) conn = NULL;
	for (;;) {
		if (!conn && !(conn = kite_glidein_schedd_connect(h->plan, error)))
			return FALSE;
		g_autoptr(GHashTable) seen = kite_glidein_schedd_machines(conn, constraint, error);
		if (!seen)
			return FALSE;
		if (g_hash_table_size(seen) > 0)
			return TRUE;
		if (kite_now_monotonic() >= next_alive_check) {
			gboolean alive = FALSE;
			if (!startd_alive(h, pid, &alive, error))
				return FALSE;
			if (!alive) {
				g_autofree char *tail = log_tail(h);
				return kite_throw(error, KITE_ERROR_FAILED, "the startd (pid %s) exited%s", pid, tail);
			}
			next_alive_check = kite_now_monotonic() + 1;
		}
		if (kite_now_monotonic() >= deadline) {
			g_autofree char *tail = log_tail(h);
			return kite_throw(error, KITE_ERROR_FAILED, "the schedd did not see %s within %gs%s",
					  h->machine, h->plan->join_timeout, tail);
		}
		g_usleep(200 * 1000);
	}
}

/* Join the opened host: copy, start, wait.  Returns the line to print
 * after the target, or NULL with @error. */
static char *join(Host *h, GError **error)
{
	if (h->running)
		return g_strdup_printf("already running as %s (pid %s)", h->machine, h->running);
	if (g_strcmp0(h->arch, h->plan->arch) != 0) {
		kite_throw(error, KITE_ERROR_INVALID, "the host is %s; the programs here are built for %s",
			   h->arch ? h->arch : "of an unknown architecture", h->plan->arch);
		return NULL;
	}
	g_autofree char *staging = g_strdup_printf("%s.new-%08x", h->dir, g_random_int());
	g_autofree char *pid = NULL, *started = NULL, *missing = NULL;
	if (!copy_files(h, staging, error) || !install_and_start(h, staging, &pid, &started, &missing, error)) {
		g_autofree char *qs = g_shell_quote(staging);
		g_autofree char *cleanup = g_strdup_printf("rm -rf %s", qs);
		g_free(run(h, cleanup, 0, NULL));
		return NULL;
	}
	if (missing) {
		kite_throw(error, KITE_ERROR_FAILED,
			   "the host lacks libraries the startd needs: %s(install them; see docs/glidein.md)", missing);
		return NULL;
	}
	if (!wait_for_machine(h, pid, started, error)) {
		/* Leave nothing running that did not join. */
		g_free(stop_and_remove(h, NULL));
		return NULL;
	}
	return g_strdup_printf("joined as %s (pid %s)", h->machine, pid);
}

KiteGlideinResult *kite_glidein_join(const KiteGlideinPlan *plan, const KiteGlideinTarget *t)
{
	g_autoptr(GError) error = NULL;
	Host h = {.plan = plan, .t = t};
	char *line = open_host(&h, NULL, &error) ? join(&h, &error) : NULL;
	KiteGlideinResult *r = !line ? failed(error)
		   : result(h.running ? KITE_GLIDEIN_RUNNING : KITE_GLIDEIN_JOINED, line);
	r->machine = g_strdup(h.machine);
	r->remote_dir = g_strdup(h.dir);
	host_clear(&h);
	return r;
}

KiteGlideinResult *kite_glidein_stop(const KiteGlideinPlan *plan, const KiteGlideinTarget *t,
				     const char *known_dir)
{
	g_autoptr(GError) error = NULL;
	Host h = {.plan = plan, .t = t};
	KiteGlideinResult *r = NULL;
	g_autofree char *how = NULL;
	if (open_host(&h, known_dir, &error) && (how = stop_and_remove(&h, &error))) {
		if (g_str_equal(how, "absent"))
			r = result(KITE_GLIDEIN_ABSENT, g_strdup_printf("nothing to stop: %s does not exist", h.dir));
		else if (g_str_equal(how, "none"))
			r = result(KITE_GLIDEIN_STOPPED,
				   g_strdup_printf("removed %s (no startd was running)", h.dir));
		else if (g_str_has_prefix(how, "killed "))
			r = result(KITE_GLIDEIN_STOPPED,
				   g_strdup_printf("killed %s (pid %s; it did not stop within %gs) and removed %s",
						   h.machine, how + 7, plan->stop_grace, h.dir));
		else
			r = result(KITE_GLIDEIN_STOPPED, g_strdup_printf("stopped %s (pid %s) and removed %s", h.machine,
									 how + strlen("stopped "), h.dir));
	}
	if (!r)
		r = failed(error);
	r->machine = g_strdup(h.machine);
	r->remote_dir = g_strdup(h.dir);
	host_clear(&h);
	return r;
}
