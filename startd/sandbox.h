/* sandbox.h — running a job in a fresh directory without privileges
 * (DESIGN.md §7): the sandbox directory, the identity the job runs as,
 * and the process itself — its own process group and session, stdin,
 * stdout and stderr as files in the sandbox, the job's environment,
 * its cgroup (cgroup.c) or else rlimits from its request, an empty
 * capability set and no_new_privs
 * (libcap-ng).  The claim protocol that decides when is in claim.c. */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "ad.h"
#include "cgroup.h"

G_BEGIN_DECLS

/* Names of the job's stdout and stderr inside the sandbox. */
#define KITE_SANDBOX_STDOUT ".kite_stdout"
#define KITE_SANDBOX_STDERR ".kite_stderr"

/* Whom a job runs as. */
typedef struct {
	uid_t uid;
	gid_t gid;
	char *name;
	gboolean change; /* FALSE: the startd's own user (the startd is not root) */
} KiteJobUser;

void kite_job_user_clear(KiteJobUser *u);

/* The user a job of @owner runs as: with the startd running as root,
 * @owner if such a local user exists and is not root, else `nobody`;
 * otherwise the startd's own user. */
void kite_sandbox_job_user(const char *owner, KiteJobUser *out_user);

/* Make a fresh sandbox directory under @parent (created if missing),
 * owned by @user, mode 0700.  Newly allocated path. */
char *kite_sandbox_create(const char *parent, const KiteJobUser *user, GError **error);

/* Remove @path and everything in it (not following symlinks). */
void kite_sandbox_remove(const char *path);

/* Start @job (its Arguments, Environment, In, RequestMemory,
 * RequestDisk) from executable @exec_name in @sandbox as @user, in
 * @cgroup (NULL: none; RequestMemory becomes RLIMIT_DATA).  The
 * process leads its own session and process group (signals go to
 * -pid).  Fails — with the reason the exec failed — before returning
 * if the program could not be started. */
gboolean kite_sandbox_spawn(const char *sandbox, const char *exec_name, const KiteAd *job,
			    const KiteJobUser *user, const KiteJobCgroup *cgroup, GPid *out_pid,
			    GError **error);

/* How a checkpointing job is started (claim.c decides). */
typedef struct {
	/* argv words put before the executable (`ckpt run --dir D --`), or NULL */
	const char *const *prefix;
	/* a whole command instead of the executable and the job's Arguments
	 * (`ckpt restart …`): its stdin and stdout are /dev/null and its
	 * stderr the sandbox file @stderr_name, since the restarted program
	 * gets its own descriptors back from the image */
	const char *const *command;
	const char *stderr_name;
	/* NAME=VALUE words added to the job's environment, or NULL */
	const char *const *env;
} KiteLaunch;

gboolean kite_sandbox_spawn_launch(const char *sandbox, const char *exec_name, const KiteLaunch *launch,
				   const KiteAd *job, const KiteJobUser *user, const KiteJobCgroup *cgroup,
				   GPid *out_pid, GError **error);

/* Bounded read of a sandbox's regular file @name (no symlinks):
 * contents up to @max bytes, else an error. */
GBytes *kite_sandbox_read(const char *sandbox, const char *name, gsize max, GError **error);

G_END_DECLS
