/* glidein.h — `pool glidein`: adding workstations to the pool over SSH
 * (docs/glidein.md).  The command (pool-glidein.c) reads its options and
 * runs one worker thread per host; each worker joins or stops one host
 * (glidein-host.c) and talks to the schedd (glidein-schedd.c); the local
 * list of glided-in hosts is glidein-record.c. */
#pragma once

#include <glib.h>

#include "conn.h"

G_BEGIN_DECLS

/* USER@HOST[:PORT] as given on the command line. */
typedef struct {
	char *arg; /* as given, for messages */
	char *user;
	char *host; /* without brackets for IPv6 */
	guint16 port;
} KiteGlideinTarget;

/* Parse @arg; USER defaults to @default_user, PORT to 22. */
gboolean kite_glidein_parse_target(const char *arg, const char *default_user, KiteGlideinTarget *out_target,
				   GError **error);
void kite_glidein_target_clear(KiteGlideinTarget *t);

/* The programs glidein copies, relative to the installation prefix
 * (the directory above bin/pool) and to the host's glidein directory. */
#define KITE_GLIDEIN_N_FILES 4
typedef struct {
	const char *path; /* "bin/startd" */
	int mode;
} KiteGlideinFile;
extern const KiteGlideinFile kite_glidein_files[KITE_GLIDEIN_N_FILES];

/* What every worker needs; read-only while they run. */
typedef struct {
	const char *known_hosts; /* OpenSSH known_hosts file */
	const char *identity;	 /* private key file, or NULL: agent, then ~/.ssh/id_* */
	double timeout;		 /* seconds for each network operation */
	double join_timeout;	 /* seconds until the schedd must see the machine */
	double stop_grace;	 /* seconds between TERM and KILL */
	const char *schedd;	 /* how this command reaches the schedd (socket or HOST:PORT) */
	/* HOST:PORT the startds advertise to; a wildcard HOST (0.0.0.0, ::)
	 * becomes this machine's address as each host sees it. */
	const char *schedd_for_hosts;
	GBytes *pool_key;      /* for TCP connections to the schedd; NULL if not loaded */
	GBytes *pool_key_file; /* the key file's text, copied to each host; NULL for --stop */
	const char *remote_dir;	   /* NULL: ~/.kite-glidein/SCHEDD */
	const char *startd_config; /* the admin's startd settings (checked YAML), or NULL */
	gboolean config_sets_listen;
	const char *arch;			   /* `uname -m` here */
	GBytes *files[KITE_GLIDEIN_N_FILES];	   /* contents of kite_glidein_files */
} KiteGlideinPlan;

/* Read kite_glidein_files under @prefix into @plan->files. */
gboolean kite_glidein_load_files(KiteGlideinPlan *plan, const char *prefix, GError **error);

typedef enum {
	KITE_GLIDEIN_JOINED,
	KITE_GLIDEIN_RUNNING, /* a startd of this pool was already running there */
	KITE_GLIDEIN_STOPPED,
	KITE_GLIDEIN_ABSENT, /* --stop: nothing there */
	KITE_GLIDEIN_FAILED,
} KiteGlideinOutcome;

typedef struct {
	KiteGlideinOutcome outcome;
	char *message;	  /* what to print after "USER@HOST: " */
	char *machine;	  /* the startd's name in the pool */
	char *remote_dir; /* absolute, on the host */
} KiteGlideinResult;

void kite_glidein_result_free(KiteGlideinResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteGlideinResult, kite_glidein_result_free)

/* Join @t to the pool, or stop and remove what glidein put there (in
 * @known_dir when the record knows it, else where join would put it).
 * Never NULL; failures are results too. */
KiteGlideinResult *kite_glidein_join(const KiteGlideinPlan *plan, const KiteGlideinTarget *t);
KiteGlideinResult *kite_glidein_stop(const KiteGlideinPlan *plan, const KiteGlideinTarget *t,
				     const char *known_dir);

/* The machine name a glided-in startd gets on @host: glidein-HOST. */
char *kite_glidein_machine_name(const char *host);

/* ---- the schedd (glidein-schedd.c) ---- */

/* Connect to @plan->schedd: a Unix socket as is, TCP with the pool key. */
KiteConn *kite_glidein_schedd_connect(const KiteGlideinPlan *plan, GError **error);
/* The Machine names of the slot ads the schedd holds that satisfy
 * @constraint ("" for all), as a set. */
GHashTable *kite_glidein_schedd_machines(KiteConn *conn, const char *constraint, GError **error);

/* ---- the local record (glidein-record.c) ---- */

/* One glided-in host, as recorded on this machine. */
typedef struct {
	char *pool;   /* the schedd address as this command reaches it */
	char *target; /* USER@HOST[:PORT] as given */
	char *machine;
	char *remote_dir;
} KiteGlideinRecord;

/* $XDG_CONFIG_HOME/kite/glidein-hosts (~/.config/kite/glidein-hosts). */
char *kite_glidein_record_path(void);
/* The records in @path (none if it does not exist). */
GPtrArray *kite_glidein_record_load(const char *path, GError **error);
/* Replace @path atomically with @records. */
gboolean kite_glidein_record_save(const char *path, GPtrArray *records, GError **error);
KiteGlideinRecord *kite_glidein_record_find(GPtrArray *records, const char *pool, const char *target);
/* Add or update the record of (@pool, @target). */
void kite_glidein_record_put(GPtrArray *records, const char *pool, const char *target, const char *machine,
			     const char *remote_dir);
void kite_glidein_record_remove(GPtrArray *records, const char *pool, const char *target);

G_END_DECLS
