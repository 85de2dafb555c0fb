/* pool-glidein.c — `pool glidein`: the command line, finding the pool
 * (its schedd, the address workstations use, the pool key), one worker
 * thread per host, the lines it prints, the local record, and --status.
 * What happens on a host is glidein-host.c. */
#include "pool-glidein.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "auth.h"
#include "cli-common.h"
#include "config-keys.h"
#include "glidein.h"
#include "ssh-session.h"
#include "util.h"
#include "yaml-doc.h"

/* Hosts handled at once; more wait for a free worker. */
#define MAX_WORKERS 64

static const char description[] =
    "Starts a startd on each host over SSH (libssh2), so that the host joins this\n"
    "pool: checks the host key against known_hosts, authenticates with ssh-agent\n"
    "or a key file, copies the startd, ckpt and libckpt, a startd config and the\n"
    "pool key (mode 0600) into ~/.kite-glidein/SCHEDD/ with SFTP, starts the startd\n"
    "detached and waits until the schedd sees it.  Prints one line per host as it\n"
    "finishes: joined, already running, or failed and why.  Exit status 1 if any\n"
    "host failed.\n"
    "\n"
    "  --stop USER@HOST... stop the startd and remove its directory\n"
    "  --status            the hosts glided in to this pool, and whether the schedd\n"
    "                      has their machine ads now\n"
    "\n"
    "The hosts need the Debian libraries the startd uses (libglib2.0-0,\n"
    "libyaml-0-2, libcap-ng0).  See docs/glidein.md.";

typedef struct {
	const KiteGlideinPlan *plan;
	KiteGlideinTarget target;
	gboolean stop;
	char *known_dir; /* --stop: where the record says it is */
	KiteGlideinResult *result;
} Job;

static void run_job(gpointer data, gpointer queue)
{
	Job *j = data;
	j->result = j->stop ? kite_glidein_stop(j->plan, &j->target, j->known_dir)
			    : kite_glidein_join(j->plan, &j->target);
	g_async_queue_push(queue, j);
}

/* ---- finding the pool ---- */

static gboolean is_unix_address(const char *address)
{
	return strchr(address, '/') || !strchr(address, ':');
}

/* The schedd address the startds advertise to: --schedd-address, else
 * the address this command uses if it is TCP, else the TCP address the
 * schedd wrote beside its socket (STATE_DIR/schedd.addr). */
static char *schedd_for_hosts(const char *option, const char *schedd, GError **error)
{
	g_autofree char *addr = NULL;
	if (option)
		addr = g_strdup(option);
	else if (!is_unix_address(schedd))
		addr = g_strdup(schedd);
	else {
		g_autofree char *dir = g_path_get_dirname(schedd);
		g_autofree char *path = g_build_filename(dir, "schedd.addr", NULL);
		g_autoptr(GError) local = NULL;
		if (!g_file_get_contents(path, &addr, NULL, &local)) {
			kite_throw(error, KITE_ERROR_INVALID,
				   "the schedd at %s has no TCP address for the workstations (%s); set `listen` in its "
				   "config, or give --schedd-address HOST:PORT",
				   schedd, local->message);
			return NULL;
		}
		g_strstrip(addr);
	}
	g_autofree char *host = NULL;
	guint16 port;
	if (!kite_parse_host_port(addr, &host, &port, error)) {
		g_prefix_error(error, "schedd address for the workstations: ");
		return NULL;
	}
	return g_steal_pointer(&addr);
}

static char *default_pool_key(const char *schedd)
{
	if (is_unix_address(schedd)) {
		g_autofree char *dir = g_path_get_dirname(schedd);
		return g_build_filename(dir, "pool.key", NULL);
	}
	return g_build_filename(KITE_DEFAULT_STATE_DIR, "pool.key", NULL);
}

/* Load --config: a startd config that must be valid and must leave to
 * glidein what glidein sets per host. */
static char *load_startd_config(const char *path, gboolean *out_sets_listen, GError **error)
{
	g_autoptr(KiteConfig) cfg = kite_config_load(path, kite_startd_config_keys, error);
	if (!cfg)
		return NULL;
	g_autofree char *text = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &text, &len, error))
		return NULL;
	static const KiteYamlLimits limits = {.max_size = 1024 * 1024, .max_depth = 16, .max_nodes = 100000};
	g_autoptr(KiteYamlDoc) doc = kite_yaml_load(path, text, len, &limits, error);
	if (!doc)
		return NULL;
	*out_sets_listen = FALSE;
	for (guint i = 0; doc->root && i + 1 < doc->root->children->len; i += 2) {
		const KiteYamlNode *key = doc->root->children->pdata[i];
		if (g_str_equal(key->value, "listen"))
			*out_sets_listen = TRUE;
		if (g_str_equal(key->value, "name") || g_str_equal(key->value, "schedd") ||
		    g_str_equal(key->value, "pool_key_file")) {
			kite_throw(error, KITE_ERROR_INVALID,
				   "%s:%u:%u: `%s` is set by pool glidein for each host (name glidein-HOST, this "
				   "pool's schedd and key); leave it out",
				   path, key->line, key->column, key->value);
			return NULL;
		}
	}
	return g_steal_pointer(&text);
}

/* The directory of the programs: the one above bin/pool. */
static char *install_prefix(GError **error)
{
	g_autofree char *self = g_file_read_link("/proc/self/exe", error);
	if (!self)
		return NULL;
	g_autofree char *bin = g_path_get_dirname(self);
	return g_path_get_dirname(bin);
}

/* ---- --status ---- */

static int status(const KiteGlideinPlan *plan, const char *record_path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) records = kite_glidein_record_load(record_path, &error);
	if (!records) {
		kite_cli_error("pool glidein", error);
		return 1;
	}
	g_autoptr(GPtrArray) ours = g_ptr_array_new();
	for (guint i = 0; i < records->len; i++)
		if (g_str_equal(((KiteGlideinRecord *)records->pdata[i])->pool, plan->schedd))
			g_ptr_array_add(ours, records->pdata[i]);
	if (ours->len == 0) {
		printf("no hosts glided in to the pool at %s\n", plan->schedd);
		return 0;
	}
	g_autoptr(KiteConn) conn = kite_glidein_schedd_connect(plan, &error);
	g_autoptr(GHashTable) machines = conn ? kite_glidein_schedd_machines(conn, "", &error) : NULL;
	printf("%-30s %-30s %-7s %s\n", "HOST", "MACHINE", "IN POOL", "DIRECTORY");
	for (guint i = 0; i < ours->len; i++) {
		const KiteGlideinRecord *r = ours->pdata[i];
		const char *in = !machines ? "?" : g_hash_table_contains(machines, r->machine) ? "yes" : "no";
		printf("%-30s %-30s %-7s %s\n", r->target, r->machine, in, r->remote_dir);
	}
	if (!machines) {
		kite_cli_error("pool glidein", error);
		return 1;
	}
	return 0;
}

/* ---- join and stop ---- */

static const char *const outcome_words[] = {"joined", "running", "stopped", "absent", "failed"};

static int join_or_stop(const KiteGlideinPlan *plan, gboolean stop, char **args, int n, const char *record_path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) records = kite_glidein_record_load(record_path, &error);
	if (!records) {
		kite_cli_error("pool glidein", error);
		return 1;
	}
	g_autofree Job *jobs = g_new0(Job, n);
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		if (!kite_glidein_parse_target(args[i], g_get_user_name(), &jobs[i].target, &error)) {
			kite_cli_error("pool glidein", error);
			rc = 2;
		}
		for (int k = 0; k < i && rc == 0; k++)
			if (g_str_equal(jobs[k].target.user, jobs[i].target.user) &&
			    g_ascii_strcasecmp(jobs[k].target.host, jobs[i].target.host) == 0 &&
			    jobs[k].target.port == jobs[i].target.port) {
				fprintf(stderr, "pool glidein: %s is given twice (as %s and %s)\n", args[i], args[k],
					args[i]);
				rc = 2;
			}
		jobs[i].plan = plan;
		jobs[i].stop = stop;
		KiteGlideinRecord *known = kite_glidein_record_find(records, plan->schedd, args[i]);
		jobs[i].known_dir = stop && known ? g_strdup(known->remote_dir) : NULL;
	}
	if (rc == 0) {
		g_autoptr(GAsyncQueue) done = g_async_queue_new();
		GThreadPool *workers = g_thread_pool_new(run_job, done, MIN(n, MAX_WORKERS), FALSE, NULL);
		for (int i = 0; i < n; i++)
			g_thread_pool_push(workers, &jobs[i], NULL);
		/* Print each host's line as soon as it is done: a dead host
		 * must not hide the others behind its timeout. */
		for (int i = 0; i < n; i++) {
			Job *j = g_async_queue_pop(done);
			printf("%s: %s\n", j->target.arg, j->result->message);
			fflush(stdout);
			g_debug("%s: %s", j->target.arg, outcome_words[j->result->outcome]);
		}
		g_thread_pool_free(workers, FALSE, TRUE);
		for (int i = 0; i < n; i++) {
			const KiteGlideinResult *r = jobs[i].result;
			if (r->outcome == KITE_GLIDEIN_FAILED)
				rc = 1;
			else if (r->outcome == KITE_GLIDEIN_JOINED || r->outcome == KITE_GLIDEIN_RUNNING)
				kite_glidein_record_put(records, plan->schedd, jobs[i].target.arg, r->machine,
							r->remote_dir);
			else
				kite_glidein_record_remove(records, plan->schedd, jobs[i].target.arg);
		}
		if (!kite_glidein_record_save(record_path, records, &error)) {
			kite_cli_error("pool glidein: cannot record the hosts", error);
			rc = 1;
		}
	}
	for (int i = 0; i < n; i++) {
		kite_glidein_target_clear(&jobs[i].target);
		g_free(jobs[i].known_dir);
		kite_glidein_result_free(jobs[i].result);
	}
	return rc;
}

static GBytes *key_file_text(GBytes *key)
{
	gsize len = 0;
	const guint8 *k = g_bytes_get_data(key, &len);
	GString *hex = g_string_new(NULL);
	for (gsize i = 0; i < len; i++)
		g_string_append_printf(hex, "%02x", k[i]);
	g_string_append_c(hex, '\n');
	return g_string_free_to_bytes(hex);
}

int kite_pool_glidein(const char *schedd_option, int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *identity = NULL, *known_hosts = NULL, *config = NULL, *remote_dir = NULL,
			*pool_key = NULL, *schedd_address = NULL;
	gboolean stop = FALSE, show_status = FALSE;
	double timeout = 10, join_timeout = 60;
	GOptionEntry entries[] = {
	    {"identity", 'i', 0, G_OPTION_ARG_FILENAME, &identity,
	     "Private key to log in with (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)", "KEY"},
	    {"known-hosts", 0, 0, G_OPTION_ARG_FILENAME, &known_hosts,
	     "Host keys to check against (default ~/.ssh/known_hosts)", "FILE"},
	    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
	     "Startd settings for the hosts (slots, activity sources, policy...)", "STARTD.yaml"},
	    {"stop", 0, 0, G_OPTION_ARG_NONE, &stop, "Stop the glided-in startds and remove their files", NULL},
	    {"status", 0, 0, G_OPTION_ARG_NONE, &show_status, "List the hosts glided in to this pool", NULL},
	    {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds for each network operation (default 10)",
	     "SECONDS"},
	    {"join-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &join_timeout,
	     "Seconds until the schedd must see a new machine (default 60)", "SECONDS"},
	    {"remote-dir", 0, 0, G_OPTION_ARG_FILENAME, &remote_dir,
	     "Directory on the hosts (default ~/.kite-glidein/SCHEDD)", "DIR"},
	    {"pool-key", 0, 0, G_OPTION_ARG_FILENAME, &pool_key,
	     "The schedd's pool key (default beside its socket, or " KITE_DEFAULT_STATE_DIR "/pool.key)", "FILE"},
	    {"schedd-address", 0, 0, G_OPTION_ARG_STRING, &schedd_address,
	     "HOST:PORT the startds advertise to (default: the schedd's TCP address)", "ADDR"},
	    {NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("USER@HOST[:PORT]... - add workstations to the pool");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, description);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		kite_cli_error("pool glidein", error);
		return 2;
	}
	int n = argc - 1; /* argv[0] is "glidein" */
	if (stop && show_status) {
		fprintf(stderr, "pool glidein: --stop and --status do not go together\n");
		return 2;
	}
	if (show_status ? n != 0 : n == 0) {
		fprintf(stderr, "pool glidein: %s (see pool glidein --help)\n",
			show_status ? "--status takes no hosts" : "no hosts given: USER@HOST[:PORT]...");
		return 2;
	}
	if (!(timeout > 0) || !(join_timeout > 0)) {
		fprintf(stderr, "pool glidein: --timeout and --join-timeout must be positive\n");
		return 2;
	}

	KiteGlideinPlan plan = {
	    .identity = identity,
	    .timeout = timeout,
	    .join_timeout = join_timeout,
	    .stop_grace = 10,
	    .remote_dir = remote_dir,
	};
	g_autofree char *default_known = g_build_filename(g_get_home_dir(), ".ssh", "known_hosts", NULL);
	plan.known_hosts = known_hosts ? known_hosts : default_known;
	plan.schedd = kite_cli_schedd_address(schedd_option);
	g_autofree char *record_path = kite_glidein_record_path();
	int rc = 1;
	g_autofree char *for_hosts = NULL, *key_path = NULL, *startd_text = NULL, *prefix = NULL;
	struct utsname un;
	uname(&un);
	plan.arch = un.machine;

	if (strpbrk(plan.schedd, "\t\n")) {
		fprintf(stderr, "pool glidein: the schedd address must not contain tabs or newlines\n");
		return 2;
	}
	/* The key: needed to copy (join) and to query a schedd over TCP. */
	key_path = pool_key ? g_strdup(pool_key) : default_pool_key(plan.schedd);
	if ((!stop && !show_status) || !is_unix_address(plan.schedd)) {
		plan.pool_key = kite_auth_load_key(key_path, FALSE, &error);
		if (!plan.pool_key) {
			g_prefix_error(&error, "the pool key (--pool-key): ");
			goto out;
		}
	}
	if (show_status) {
		rc = status(&plan, record_path);
		goto out;
	}
	for_hosts = schedd_for_hosts(schedd_address, plan.schedd, &error);
	if (!for_hosts)
		goto out;
	plan.schedd_for_hosts = for_hosts;
	if (!stop) {
		plan.pool_key_file = key_file_text(plan.pool_key);
		if (config && !(startd_text = load_startd_config(config, &plan.config_sets_listen, &error)))
			goto out;
		plan.startd_config = startd_text;
		if (!(prefix = install_prefix(&error)) || !kite_glidein_load_files(&plan, prefix, &error))
			goto out;
	}
	if (!kite_ssh_init(&error))
		goto out;
	rc = join_or_stop(&plan, stop, argv + 1, n, record_path);
	kite_ssh_exit();
out:
	if (error) {
		kite_cli_error("pool glidein", error);
		rc = rc == 0 ? 1 : rc;
	}
	if (plan.pool_key)
		g_bytes_unref(plan.pool_key);
	if (plan.pool_key_file)
		g_bytes_unref(plan.pool_key_file);
	for (int i = 0; i < KITE_GLIDEIN_N_FILES; i++)
		if (plan.files[i])
			g_bytes_unref(plan.files[i]);
	return rc;
}
