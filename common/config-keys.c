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
    {NULL},
};

const KiteConfigTable kite_config_tables[] = {
    {"schedd", kite_schedd_config_keys},
    {NULL, NULL},
};
