/* config-keys.c — configuration tables of every program; see
 * config-keys.h.  docs/config.md must describe each key (a unit test
 * checks it). */
#include "config-keys.h"

const KiteConfigKey kite_schedd_config_keys[] = {
    {"listen", KITE_CONFIG_STRING, "127.0.0.1:9618",
     "TCP address to listen on (HOST:PORT); port 0 picks a free port and writes it to STATE_DIR/schedd.addr; "
     "an empty string disables TCP"},
    {"socket", KITE_CONFIG_STRING, NULL,
     "Unix socket path for local clients (default STATE_DIR/schedd.sock)"},
    {"pool_key_file", KITE_CONFIG_STRING, NULL,
     "pool key shared by the pool's daemons, mode 0600 (default STATE_DIR/pool.key, created if missing)"},
    {"admins", KITE_CONFIG_STRV, "root",
     "users who may change any job and create tokens (everyone else may change only their own jobs)"},
    {"max_jobs_per_submit", KITE_CONFIG_INT, "100000", "most procs one submission may create"},
    {"max_jobs_per_owner", KITE_CONFIG_INT, "500000", "most jobs one user may have in the queue"},
    {"max_jobs", KITE_CONFIG_INT, "1000000", "most jobs in the queue in all"},
    {"max_attribute_size", KITE_CONFIG_SIZE, "64K", "largest expression text of one job attribute"},
    {"max_connections", KITE_CONFIG_INT, "256", "most client connections at once; more are refused"},
    {"client_timeout", KITE_CONFIG_DURATION, "60s",
     "a connection that sends nothing for this long is closed"},
    {"max_message_size", KITE_CONFIG_SIZE, "64M", "largest message the schedd accepts"},
    {"history_retention", KITE_CONFIG_DURATION, "30d",
     "finished and removed jobs are kept in the history this long"},
    {"machine_ad_lifetime", KITE_CONFIG_DURATION, "15s",
     "a slot ad without its own ClassAdLifetime is dropped when not renewed for this long"},
    {"max_machines", KITE_CONFIG_INT, "100000", "most slot ads the collector holds at once"},
    {"negotiator_interval", KITE_CONFIG_DURATION, "20s",
     "how often idle jobs are matched to free slots (also at once when a job arrives or a slot becomes "
     "Unclaimed)"},
    {"periodic_expr_interval", KITE_CONFIG_DURATION, "60s",
     "how often jobs' periodic_hold, periodic_release and periodic_remove are evaluated"},
    {"usage_half_life", KITE_CONFIG_DURATION, "1d",
     "fair share: a user's recent usage (slot time) halves in this time; the user with least goes first"},
    {"shadow", KITE_CONFIG_STRING, NULL,
     "the shadow program run for each running job (default: `shadow` next to the schedd's executable)"},
    {"claim_poll_interval", KITE_CONFIG_DURATION, "1s",
     "how often a shadow asks its startd how the job is doing (also the claim's heartbeat)"},
    {"max_transfer_size", KITE_CONFIG_SIZE, "32M",
     "most bytes a shadow sends to a startd for one job (executable and input files together)"},
    {"ckpt_interval_min", KITE_CONFIG_DURATION, "1m",
     "shortest checkpoint interval the agent chooses (jobs whose file says `interval: auto`)"},
    {"ckpt_interval_max", KITE_CONFIG_DURATION, "6h", "longest checkpoint interval the agent chooses"},
    {"ckpt_cost_default", KITE_CONFIG_DURATION, "5s",
     "checkpoint cost assumed for a job none of whose checkpoints was measured yet"},
    {"machine_mtbf_prior", KITE_CONFIG_DURATION, "1h",
     "time between evictions assumed of a machine before any was seen (it counts as one more "
     "eviction-free stretch in the machine's mean)"},
    {"ckpt_lost_work_limit", KITE_CONFIG_DURATION, "1h",
     "a job whose checkpoint cannot be restarted starts over from scratch if it has run less than "
     "this in all, else it is held for a person (Condor's rule)"},
    {NULL},
};

/* Condor's desktop policy (POLICY:DESKTOP), over the thresholds below,
 * which the startd publishes in every slot ad. */
const KiteConfigKey kite_startd_config_keys[] = {
    {"schedd", KITE_CONFIG_STRING, "127.0.0.1:9618",
     "the schedd to advertise to: HOST:PORT, or the path of its Unix socket on this host"},
    {"name", KITE_CONFIG_STRING, NULL,
     "machine name in ads and slot names (slot1@NAME); default the host name"},
    {"pool_key_file", KITE_CONFIG_STRING, NULL,
     "the pool key, a copy of the schedd's, mode 0600 (default STATE_DIR/pool.key)"},
    {"slots", KITE_CONFIG_INT, "1",
     "number of slots (static, like Condor's): CPUs and memory are divided evenly between them"},
    {"cpus", KITE_CONFIG_INT, "0", "CPUs to offer (0: as many as the machine has online)"},
    {"memory", KITE_CONFIG_SIZE, "0", "memory to offer (0: the machine's physical memory)"},
    {"site", KITE_CONFIG_STRING, NULL, "the Site attribute of the ads (where the machine is)"},
    {"subnet", KITE_CONFIG_STRING, NULL, "the Subnet attribute of the ads, e.g. 192.168.1"},
    {"benchmark", KITE_CONFIG_BOOL, "true",
     "measure KFlops and Mips at start (a fraction of a second); false publishes neither"},
    {"mips", KITE_CONFIG_INT, "0",
     "Mips to advertise instead of the measured figure (0: measure, as `benchmark` says); for a "
     "machine whose speed is known, and for tests"},
    {"advertise_interval", KITE_CONFIG_DURATION, "5s",
     "how often slot ads are sent to the schedd (also at once on every state change); the schedd "
     "drops them after 3 intervals without news"},
    {"poll_interval", KITE_CONFIG_DURATION, "1s",
     "how often owner activity and load are sampled and the policy evaluated"},
    {"schedd_timeout", KITE_CONFIG_DURATION, "5s", "longest wait for the schedd when advertising"},
    {"activity_sources", KITE_CONFIG_STRV, "tty, input, logind, load",
     "owner activity sources to use: tty, input, logind, load (file is added by activity_file)"},
    {"activity_file", KITE_CONFIG_STRING, NULL,
     "a file whose modification time is the owner's last activity (enables the file source)"},
    {"utmp_file", KITE_CONFIG_STRING, "/var/run/utmp", "where the tty source finds logins"},
    {"start_idle_time", KITE_CONFIG_DURATION, "15m",
     "StartIdleTime: keyboard idle time before jobs may start"},
    {"continue_idle_time", KITE_CONFIG_DURATION, "5m",
     "ContinueIdleTime: keyboard idle time before a suspended job continues"},
    {"max_suspend_time", KITE_CONFIG_DURATION, "10m",
     "MaxSuspendTime: a job suspended this long is vacated"},
    {"max_vacate_time", KITE_CONFIG_DURATION, "10m",
     "MaxVacateTime: a vacating job that takes longer is killed"},
    {"keyboard_busy_time", KITE_CONFIG_DURATION, "1m",
     "KeyboardBusy is true while KeyboardIdle is below this"},
    {"cpu_busy_time", KITE_CONFIG_DURATION, "2m",
     "MaxCpuBusyTime: owner CPU load above HighLoad for this long suspends a job"},
    {"activation_grace_time", KITE_CONFIG_DURATION, "90s",
     "ActivationGraceTime: a job that started less than this ago is not suspended for CPU load"},
    {"background_load", KITE_CONFIG_EXPR, "0.3",
     "BackgroundLoad: CPUIdle is NonJobLoadAvg <= this"},
    {"high_load", KITE_CONFIG_EXPR, "0.5", "HighLoad: CPUBusy is NonJobLoadAvg >= this"},
    {"start", KITE_CONFIG_EXPR,
     "KeyboardIdle > StartIdleTime && (CPUIdle || (State != \"Unclaimed\" && State != \"Owner\"))",
     "START: when the slot may run a job; exactly false means the owner has it (state Owner)"},
    {"suspend", KITE_CONFIG_EXPR,
     "KeyboardBusy || (CpuBusyTime > MaxCpuBusyTime && ActivationTimer > ActivationGraceTime)",
     "SUSPEND: when a running job is stopped"},
    {"continue", KITE_CONFIG_EXPR, "CPUIdle && ActivityTimer > 10 && KeyboardIdle > ContinueIdleTime",
     "CONTINUE: when a suspended job resumes"},
    {"preempt", KITE_CONFIG_EXPR, "Activity == \"Suspended\" && ActivityTimer > MaxSuspendTime",
     "PREEMPT: when a job is vacated (told to checkpoint and leave)"},
    {"kill", KITE_CONFIG_EXPR, "Activity == \"Vacating\" && ActivityTimer > MaxVacateTime",
     "KILL: when a job is killed at once"},
    {"listen", KITE_CONFIG_STRING, "127.0.0.1:0",
     "TCP address shadows claim slots on (HOST:PORT); port 0 picks a free port and writes it to "
     "STATE_DIR/startd.addr; advertised as StartdAddr, so HOST must be reachable from the schedd"},
    {"max_message_size", KITE_CONFIG_SIZE, "64M",
     "largest message the startd accepts (bounds the executable and input files of one job)"},
    {"max_transfer_size", KITE_CONFIG_SIZE, "32M",
     "most bytes of output (stdout, stderr and files) sent back for one job; more holds the job"},
    {"claim_lease", KITE_CONFIG_DURATION, "60s",
     "a claim whose shadow is not heard from for this long is released and its job killed; slot ads carry "
     "ClaimLease (this + poll_interval + 4 × schedd_timeout), after which a silent startd's shadow gives the "
     "job up (a shadow that said its schedd is gone gets job_lease_duration instead)"},
    {"claim_worklife", KITE_CONFIG_DURATION, "20m",
     "claim reuse: a claim runs its owner's next jobs, one after another, until it is this old (counted "
     "from the CLAIM); 0 runs one job per claim (HTCondor's CLAIM_WORKLIFE); slot ads carry it as "
     "ClaimWorklife"},
    {"job_lease_duration", KITE_CONFIG_DURATION, "40m",
     "a claim whose shadow lost its schedd keeps its job running this long for a restarted schedd's shadow "
     "to reconnect, unless the job's ad sets JobLeaseDuration (seconds); then the job is vacated (checkpointed "
     "and stopped) or killed (HTCondor's JOB_LEASE_DURATION); slot ads carry it as DefaultJobLease"},
    {"ckpt_program", KITE_CONFIG_STRING, NULL,
     "the `ckpt` command that runs and restarts checkpointed jobs (default: `ckpt` beside the "
     "startd's own executable)"},
    {"checkpoint_dir", KITE_CONFIG_STRING, NULL,
     "one directory per checkpointed job (default STATE_DIR/checkpoints): its images, or with "
     "ckpt_server only its caps, token and status; without ckpt_server, jobs resume on another "
     "machine only from a directory both share"},
    {"ckpt_server", KITE_CONFIG_STRING, NULL,
     "HOST:PORT of the checkpoint server jobs' images go to (default: none, images stay in "
     "checkpoint_dir)"},
    {"ckpt_lease", KITE_CONFIG_DURATION, "7d",
     "lease of a job's checkpoint space on the server, renewed at each of its runs"},
    {"cgroups", KITE_CONFIG_BOOL, "true",
     "run each job in a cgroup v2 of its own (memory.max, cpu.max, kill of all its processes) where the "
     "hierarchy is writable; false, or no writable hierarchy: rlimits only"},
    {"cgroup_parent", KITE_CONFIG_STRING, "kite",
     "the cgroup under which the startd makes its jobs' cgroups: absolute, or relative to the cgroup v2 "
     "mount (kite: /sys/fs/cgroup/kite)"},
    {NULL},
};

/* The checkpoint server (docs/ckpt-server.md). */
const KiteConfigKey kite_ckpt_server_config_keys[] = {
    {"listen", KITE_CONFIG_STRING, "127.0.0.1:9620",
     "TCP address to listen on (HOST:PORT); port 0 picks a free port and writes it to "
     "STATE_DIR/ckpt_server.addr"},
    {"pool_key_file", KITE_CONFIG_STRING, NULL,
     "the pool key, a copy of the schedd's, mode 0600 (default STATE_DIR/pool.key, created if missing)"},
    {"admins", KITE_CONFIG_STRV, "root", "users who may list every allocation and delete any (pool ckpt)"},
    {"total_space", KITE_CONFIG_SIZE, "0",
     "most bytes of chunks stored in all (0: as much as the disk holds); uploads beyond are refused"},
    {"owner_quota", KITE_CONFIG_SIZE, "0", "most bytes of chunks stored for one owner (0: no limit)"},
    {"max_image_size", KITE_CONFIG_SIZE, "64G", "largest image one allocation may hold"},
    {"max_connections", KITE_CONFIG_INT, "256", "most client connections at once; more are refused"},
    {"idle_timeout", KITE_CONFIG_DURATION, "60s", "a connection that sends nothing for this long is closed"},
    {"upload_timeout", KITE_CONFIG_DURATION, "10m",
     "an upload not heard from for this long is abandoned; its chunks are reclaimed"},
    {"default_lease", KITE_CONFIG_DURATION, "7d", "lease of an allocation that asks for none"},
    {"max_lease", KITE_CONFIG_DURATION, "30d", "longest lease granted by an allocation or a renewal"},
    {"retention", KITE_CONFIG_DURATION, "7d",
     "an expired or deleted allocation is remembered this long, so that its capabilities get "
     "\"expired\" or \"deleted\" rather than \"unknown\""},
    {"gc_interval", KITE_CONFIG_DURATION, "60s", "how often the collector runs (also once at start)"},
    {"compact_below", KITE_CONFIG_INT, "50",
     "a pack file with less than this percentage of referenced bytes is compacted"},
    {"pack_size", KITE_CONFIG_SIZE, "256M", "size at which a new pack file is started"},
    {"max_message_size", KITE_CONFIG_SIZE, "32M", "largest message the server accepts"},
    {"schedd", KITE_CONFIG_STRING, "",
     "the schedd to advertise this server to (HOST:PORT or a Unix socket path); empty: do not advertise"},
    {"site", KITE_CONFIG_STRING, NULL,
     "the Site attribute of the server's ad: the agent prefers servers on a job's machine's site"},
    {"subnet", KITE_CONFIG_STRING, NULL,
     "the Subnet attribute of the server's ad, e.g. 192.168.1: preferred over the site"},
    {"advertise_interval", KITE_CONFIG_DURATION, "5s",
     "how often the server's ad (space, load, address) is sent to the schedd; the schedd drops it "
     "after three intervals without one"},
    {"schedd_timeout", KITE_CONFIG_DURATION, "5s", "longest wait for the schedd when advertising"},
    {NULL},
};

const KiteConfigTable kite_config_tables[] = {
    {"schedd", kite_schedd_config_keys},
    {"startd", kite_startd_config_keys},
    {"ckpt_server", kite_ckpt_server_config_keys},
    {NULL, NULL},
};
