/* main.c — the startd: options, config, start-up (machine attributes,
 * activity sources, policy, slots), the main loop with its two timers —
 * poll (sample activity, evaluate the policy) and advertise — and
 * shutdown, which kills running jobs and withdraws the slots from the
 * schedd.  Claims and jobs are in claim.c. */
#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config-keys.h"
#include "daemon.h"
#include "machine.h"
#include "startd.h"
#include "util.h"

static char *arg_schedd;

static const GOptionEntry options[] = {
    {"schedd", 0, 0, G_OPTION_ARG_STRING, &arg_schedd,
     "Advertise to the schedd at HOST:PORT or Unix socket PATH (overrides config `schedd`)", "ADDR"},
    {NULL},
};

/* Sample owner activity, rebuild every slot's ad and apply the policy;
 * a state change is advertised at once. */
static gboolean poll_slots(gpointer data)
{
	KiteStartd *d = data;
	gint64 now = kite_now_wall();
	g_autoptr(GArray) jobs = kite_claims_job_sessions(d);
	double job_load = kite_job_load_sample(d->job_load, (const GPid *)jobs->data, jobs->len,
					       kite_now_monotonic());
	kite_activity_sample(d->activity, now, job_load, &d->sample);
	g_autoptr(GError) error = NULL;
	if (!kite_machine_disk_kib(d->state_dir, &d->disk_kib, &error))
		g_debug("%s", error->message);
	kite_claims_check_leases(d, kite_now_monotonic());
	kite_claims_check_memory(d);
	g_autoptr(GPtrArray) changed = g_ptr_array_new();
	for (guint i = 0; i < d->slots->len; i++)
		if (kite_startd_update_slot(d, i, NULL, now))
			g_ptr_array_add(changed, ((KiteSlot *)d->slots->pdata[i])->ad);
	if (changed->len > 0)
		kite_advertiser_send(d->advertiser, changed);
	return G_SOURCE_CONTINUE;
}

static gboolean advertise_timer(gpointer data)
{
	kite_startd_advertise(data);
	return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer data)
{
	g_message("shutting down");
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE;
}

static guint interval_ms(const KiteConfig *cfg, const char *key)
{
	double s = kite_config_get_duration(cfg, key);
	return (guint)CLAMP(s * 1000, 100, 3600 * 1000);
}

static gboolean start(KiteStartd *d, GError **error)
{
	if (g_mkdir_with_parents(d->state_dir, 0755) < 0)
		return kite_throw_errno(error, "create state directory %s", d->state_dir);
	const char *name = kite_config_get_string(d->config, "name");
	d->name = g_strdup(name && *name ? name : g_get_host_name());
	/* "startd@NAME" and "slotN@NAME" must fit the schedd's limits. */
	if (strlen(d->name) > KITE_STARTD_MAX_NAME || strpbrk(d->name, " \t\n@\"\\"))
		return kite_throw(
		    error, KITE_ERROR_INVALID,
		    "machine name \"%s\" must be at most %d bytes without spaces, quotes, backslashes or @",
		    d->name, KITE_STARTD_MAX_NAME);

	const char *kp = kite_config_get_string(d->config, "pool_key_file");
	g_autofree char *key_path =
	    kp && *kp ? g_strdup(kp) : g_build_filename(d->state_dir, "pool.key", NULL);
	d->key = kite_auth_load_key(key_path, FALSE, error);
	/* The checkpoint server's client library authenticates daemons by
	 * this; jobs get an environment of their own (sandbox.c). */
	g_setenv("KITE_POOL_KEY_FILE", key_path, TRUE);
	if (!d->key) {
		g_prefix_error(
		    error, "pool key (copy the schedd's pool.key here, mode 0600, or set pool_key_file): ");
		return FALSE;
	}

	gint64 n = kite_config_get_int(d->config, "slots");
	if (n < 1 || n > KITE_STARTD_MAX_SLOTS)
		return kite_throw(error, KITE_ERROR_INVALID,
				  "`slots` must be between 1 and %d, not %" G_GINT64_FORMAT,
				  KITE_STARTD_MAX_SLOTS, n);
	d->policy = kite_policy_new(d->config, error);
	if (!d->policy)
		return FALSE;
	d->activity = kite_activity_new(d->config, error);
	if (!d->activity)
		return FALSE;
	d->job_load = kite_job_load_new("/proc", (double)sysconf(_SC_CLK_TCK));

	KiteMachineOptions mo = {
	    .name = d->name,
	    .cpus = kite_config_get_int(d->config, "cpus"),
	    .memory_mib = kite_config_get_size(d->config, "memory") / (1024 * 1024),
	    .site = kite_config_get_string(d->config, "site"),
	    .subnet = kite_config_get_string(d->config, "subnet"),
	    .benchmark = kite_config_get_bool(d->config, "benchmark"),
	};
	d->machine = kite_machine_probe(&mo);
	if (kite_config_get_int(d->config, "mips") > 0)
		kite_ad_set_int(d->machine, "Mips", kite_config_get_int(d->config, "mips"));
	gint64 kflops = 0, mips = 0;
	kite_ad_get_int(d->machine, "KFlops", &kflops);
	kite_ad_get_int(d->machine, "Mips", &mips);
	g_message("machine %s: %" G_GINT64_FORMAT " slot(s); KFlops %" G_GINT64_FORMAT
		  ", Mips %" G_GINT64_FORMAT,
		  d->name, n, kflops, mips);

	d->started = kite_now_wall();
	d->slots = g_ptr_array_new_with_free_func((GDestroyNotify)kite_slot_free);
	for (gint64 i = 1; i <= n; i++)
		g_ptr_array_add(d->slots, kite_slot_new(i, d->name, d->started));

	const char *schedd = arg_schedd ? arg_schedd : kite_config_get_string(d->config, "schedd");
	d->schedd_addr = schedd;
	g_autofree char *daemon_name = g_strdup_printf("startd@%s", d->name);
	d->advertiser = kite_advertiser_new(schedd, d->key, daemon_name,
					    kite_config_get_duration(d->config, "schedd_timeout"));
	return kite_claims_start(d, error);
}

static void stop(KiteStartd *d)
{
	kite_claims_stop(d);
	if (d->advertiser && d->slots) {
		g_autoptr(GPtrArray) names = g_ptr_array_new();
		for (guint i = 0; i < d->slots->len; i++)
			g_ptr_array_add(names, ((KiteSlot *)d->slots->pdata[i])->name);
		kite_advertiser_withdraw(d->advertiser, (const char *const *)names->pdata, names->len);
	}
	kite_advertiser_free(d->advertiser);
	if (d->slots)
		g_ptr_array_unref(d->slots);
	kite_activity_free(d->activity);
	kite_job_load_free(d->job_load);
	kite_policy_free(d->policy);
	kite_ad_free(d->machine);
	if (d->key)
		g_bytes_unref(d->key);
	kite_config_free(d->config);
	g_free(d->name);
	g_free(d->state_dir);
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	KiteDaemonSetup setup = {0};
	int rc = kite_daemon_setup("startd", "— Kite's execute-host daemon",
				   "Watches owner activity and load, evaluates the owner policy and\n"
				   "advertises this machine's slots to the schedd.\n"
				   "Runs in the foreground and logs to stderr. See docs/startd.md.",
				   options, kite_startd_config_keys, &argc, &argv, &setup);
	if (rc >= 0)
		return rc;
	KiteStartd d = {.config = setup.config, .state_dir = setup.state_dir};
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	if (!start(&d, &error)) {
		fprintf(stderr, "startd: %s\n", error->message);
		stop(&d);
		return 1;
	}
	g_unix_signal_add(SIGTERM, on_signal, loop);
	g_unix_signal_add(SIGINT, on_signal, loop);
	poll_slots(&d);
	kite_startd_advertise(&d);
	g_timeout_add(interval_ms(d.config, "poll_interval"), poll_slots, &d);
	g_timeout_add(interval_ms(d.config, "advertise_interval"), advertise_timer, &d);
	g_message("ready (state in %s, advertising to %s)", d.state_dir,
		  arg_schedd ? arg_schedd : kite_config_get_string(d.config, "schedd"));
	g_main_loop_run(loop);
	stop(&d);
	return 0;
}
