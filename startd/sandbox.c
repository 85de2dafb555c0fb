/* sandbox.c — a job's directory, identity and process; see sandbox.h.
 *
 * The job's process is started with vfork(): the child borrows the
 * startd's memory until it execs, so starting a job costs neither a copy
 * of the startd's page tables nor a wait for a forked child to be
 * scheduled while the startd's main loop (and every other slot's
 * shadow) waits on it — with 50 slots turning over, that wait was most
 * of the startd's time per job.  The price is that the child may only
 * make system calls: it runs on the startd's stack and heap, so it must
 * not allocate, take a lock, or change anything libc keeps in memory.
 * Everything is therefore worked out before the vfork (argv, envp,
 * descriptors, limits, identity), and the child drops its identity and
 * capabilities with raw syscall()s — glibc's setuid()/setgroups()
 * would broadcast the change to the startd's other threads, and
 * libcap-ng keeps its state in the shared memory.  It reports an exec
 * failure in a variable of the parent's, which the parent reads once
 * the child has exec'd or exited, so the startd learns of a missing or
 * unrunnable program at once. */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

void kite_job_user_clear(KiteJobUser *u)
{
	g_clear_pointer(&u->name, g_free);
}

void kite_sandbox_job_user(const char *owner, KiteJobUser *out_user)
{
	KiteJobUser u = {.uid = geteuid(), .gid = getegid(), .change = FALSE};
	if (geteuid() == 0) {
		/* Never root: a job of root's, or of a user unknown here,
		 * runs as nobody. */
		struct passwd *pw = owner && *owner ? getpwnam(owner) : NULL;
		if (!pw || pw->pw_uid == 0)
			pw = getpwnam("nobody");
		u.change = TRUE;
		u.uid = pw ? pw->pw_uid : 65534;
		u.gid = pw ? pw->pw_gid : 65534;
		u.name = g_strdup(pw ? pw->pw_name : "nobody");
	} else {
		u.name = kite_user_name(u.uid);
	}
	*out_user = u;
}

char *kite_sandbox_create(const char *parent, const KiteJobUser *user, GError **error)
{
	if (g_mkdir_with_parents(parent, 0755) < 0) {
		kite_throw_errno(error, "create %s", parent);
		return NULL;
	}
	g_autofree char *path = g_build_filename(parent, "dir_XXXXXX", NULL);
	if (!g_mkdtemp_full(path, 0700)) {
		kite_throw_errno(error, "create a sandbox in %s", parent);
		return NULL;
	}
	if (user->change && chown(path, user->uid, user->gid) < 0) {
		kite_throw_errno(error, "chown %s to %s", path, user->name);
		kite_sandbox_remove(path);
		return NULL;
	}
	return g_steal_pointer(&path);
}

static void remove_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		int dup_fd = dup(fd);
		DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
		if (dir) {
			struct dirent *de;
			while ((de = readdir(dir)))
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
					remove_at(fd, de->d_name);
			closedir(dir);
		} else if (dup_fd >= 0) {
			close(dup_fd);
		}
		close(fd);
	}
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		g_warning("cannot remove %s from a sandbox: %s", name, g_strerror(errno));
}

void kite_sandbox_remove(const char *path)
{
	remove_at(AT_FDCWD, path);
}

GBytes *kite_sandbox_read(const char *sandbox, const char *name, gsize max, GError **error)
{
	g_autofree char *path = g_build_filename(sandbox, name, NULL);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		kite_throw_errno(error, "open %s", path);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (guint64)st.st_size > max) {
		close(fd);
		kite_throw(error, KITE_ERROR_LIMIT, "%s is not a regular file of at most %zu bytes", name,
			   max);
		return NULL;
	}
	g_autofree char *buf = g_malloc(st.st_size + 1);
	gsize got = 0;
	while (got < (gsize)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	return g_bytes_new_take(g_steal_pointer(&buf), got);
}

/* Everything the child needs, worked out before vfork(). */
typedef struct {
	const char *sandbox, *exec_path;
	char **argv, **envp;
	int in_fd, out_fd, err_fd;
	const KiteJobUser *user;
	int cgroup_fd; /* -1: none */
	gint64 mem_mib, disk_kib;
} ChildPlan;

/* No capabilities at all: effective, permitted and inheritable (and
 * so ambient) cleared, by the raw system call. */
static int clear_caps(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};
	return syscall(SYS_capset, &hdr, data);
}

/* Become @user for good, as libcap-ng's capng_change_id(...,
 * CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) did: bounding set
 * emptied, no supplementary groups, gid and uid changed.  Raw calls:
 * they change this process alone. */
static int change_identity(const KiteJobUser *user)
{
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	if (syscall(SYS_setgroups, 0, NULL) < 0 ||
	    syscall(SYS_setresgid, user->gid, user->gid, user->gid) < 0 ||
	    syscall(SYS_setresuid, user->uid, user->uid, user->uid) < 0)
		return -1;
	return 0;
}

/* In the vfork()ed child: give up everything (as the user, or as
 * ourselves) and exec.  Only system calls (see the top of the file).
 * Returns only on failure, with errno set. */
static void child_exec(const ChildPlan *p)
{
	/* Default dispositions before the signals the parent blocked
	 * around the vfork() are let in: no handler of the startd's may
	 * run on its borrowed stack. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigaction(sig, &dfl, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Into the job's cgroup first, while we may still write there:
	 * whatever the job starts stays in it. */
	if (p->cgroup_fd >= 0 && write(p->cgroup_fd, "0", 1) < 0)
		return;
	setsid();
	if (dup2(p->in_fd, 0) < 0 || dup2(p->out_fd, 1) < 0 || dup2(p->err_fd, 2) < 0)
		return;
	/* Nothing else of the startd's reaches the job (libckpt would also
	 * refuse to checkpoint a job holding a stray pipe): every other
	 * descriptor closes at the exec. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 1024; fd++) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0 && !(fl & FD_CLOEXEC))
				close(fd);
		}
	}
	if (chdir(p->sandbox) < 0)
		return;
	struct rlimit core = {0, 0};
	setrlimit(RLIMIT_CORE, &core);
	/* Memory is the cgroup's business when there is one (RLIMIT_DATA
	 * counts address space, not memory, and makes a job fail instead of
	 * being told it used too much). */
	if (p->mem_mib > 0 && p->cgroup_fd < 0) {
		struct rlimit data = {(rlim_t)p->mem_mib << 20, (rlim_t)p->mem_mib << 20};
		setrlimit(RLIMIT_DATA, &data);
	}
	if (p->disk_kib > 0) {
		struct rlimit fsize = {(rlim_t)p->disk_kib << 10, (rlim_t)p->disk_kib << 10};
		setrlimit(RLIMIT_FSIZE, &fsize);
	}
	if (p->user->change && change_identity(p->user) < 0)
		return;
	if (clear_caps() < 0)
		return;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return;
	/* Set after the identity change, which clears it: a job does not
	 * outlive a startd that was killed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	execve(p->exec_path, p->argv, p->envp);
}

/* Start the child of @p; its pid, or -1 with errno (the child's, if it
 * could not exec). */
static pid_t spawn_child(const ChildPlan *p)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	volatile int child_errno = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		child_exec(p);
		child_errno = errno ? errno : ENOEXEC;
		_exit(127);
	}
	int e = pid < 0 ? errno : child_errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0 && e) {
		/* The child ran until its _exit(): reap it. */
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	errno = e;
	return pid;
}

static int open_in(const char *sandbox, const char *name, int flags)
{
	g_autofree char *path = g_build_filename(sandbox, name, NULL);
	return open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

gboolean kite_sandbox_spawn(const char *sandbox, const char *exec_name, const KiteAd *job,
			    const KiteJobUser *user, const KiteJobCgroup *cgroup, GPid *out_pid,
			    GError **error)
{
	KiteLaunch plain = {0};
	return kite_sandbox_spawn_launch(sandbox, exec_name, &plain, job, user, cgroup, out_pid, error);
}

gboolean kite_sandbox_spawn_launch(const char *sandbox, const char *exec_name, const KiteLaunch *launch,
				   const KiteAd *job, const KiteJobUser *user, const KiteJobCgroup *cgroup,
				   GPid *out_pid, GError **error)
{
	g_autofree char *args = NULL, *env_text = NULL, *in = NULL;
	g_auto(GStrv) argv_tail = NULL, env_words = NULL;
	if (kite_ad_get_string(job, "Arguments", &args) && *args &&
	    !g_shell_parse_argv(args, NULL, &argv_tail, error)) {
		g_prefix_error(error, "the job's Arguments: ");
		return FALSE;
	}
	if (kite_ad_get_string(job, "Environment", &env_text) && *env_text &&
	    !g_shell_parse_argv(env_text, NULL, &env_words, error)) {
		g_prefix_error(error, "the job's Environment: ");
		return FALSE;
	}
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	for (const char *const *a = launch->prefix; a && *a; a++)
		g_ptr_array_add(argv, g_strdup(*a));
	if (launch->command) {
		for (const char *const *a = launch->command; *a; a++)
			g_ptr_array_add(argv, g_strdup(*a));
	} else {
		/* ./NAME: found in the sandbox, also through `ckpt run`'s execvp */
		g_ptr_array_add(argv,
				launch->prefix ? g_strdup_printf("./%s", exec_name) : g_strdup(exec_name));
		for (char **a = argv_tail; a && *a; a++)
			g_ptr_array_add(argv, g_strdup(*a));
	}
	g_ptr_array_add(argv, NULL);
	g_auto(GStrv) envp = g_environ_setenv(NULL, "PATH", "/usr/local/bin:/usr/bin:/bin", TRUE);
	envp = g_environ_setenv(envp, "HOME", sandbox, TRUE);
	envp = g_environ_setenv(envp, "KITE_SANDBOX", sandbox, TRUE);
	for (char **w = env_words; w && *w; w++) {
		char *eq = strchr(*w, '=');
		if (!eq || eq == *w)
			continue;
		g_autofree char *name = g_strndup(*w, eq - *w);
		envp = g_environ_setenv(envp, name, eq + 1, TRUE);
	}
	for (const char *const *w = launch->env; w && *w; w++) {
		const char *eq = strchr(*w, '=');
		g_autofree char *name = g_strndup(*w, eq - *w);
		envp = g_environ_setenv(envp, name, eq + 1, TRUE);
	}
	gint64 mem = 0, disk = 0;
	kite_ad_get_int(job, "RequestMemory", &mem);
	kite_ad_get_int(job, "RequestDisk", &disk);

	g_autofree char *exec_path = launch->prefix || launch->command
					 ? g_strdup(((char **)argv->pdata)[0])
					 : g_build_filename(sandbox, exec_name, NULL);
	int in_fd = -1;
	if (launch->command) {
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	} else if (kite_ad_get_string(job, "In", &in) && *in) {
		g_autofree char *base = g_path_get_basename(in);
		in_fd = open_in(sandbox, base, O_RDONLY);
	} else {
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	int out_fd = launch->command ? open("/dev/null", O_WRONLY | O_CLOEXEC)
				     : open_in(sandbox, KITE_SANDBOX_STDOUT, O_WRONLY | O_CREAT | O_TRUNC);
	int err_fd = open_in(sandbox, launch->command ? launch->stderr_name : KITE_SANDBOX_STDERR,
			     O_WRONLY | O_CREAT | O_TRUNC);
	gboolean ok = in_fd >= 0 && out_fd >= 0 && err_fd >= 0;
	if (!ok)
		kite_throw_errno(error, "open the job's standard files in %s", sandbox);
	if (ok && user->change &&
	    ((!launch->command && fchown(out_fd, user->uid, user->gid) < 0) ||
	     fchown(err_fd, user->uid, user->gid) < 0))
		ok = kite_throw_errno(error, "chown the job's output files to %s", user->name);
	ChildPlan plan = {.sandbox = sandbox,
			  .exec_path = exec_path,
			  .argv = (char **)argv->pdata,
			  .envp = envp,
			  .in_fd = in_fd,
			  .out_fd = out_fd,
			  .err_fd = err_fd,
			  .user = user,
			  .cgroup_fd = cgroup ? kite_job_cgroup_procs_fd(cgroup) : -1,
			  .mem_mib = mem,
			  .disk_kib = disk};
	pid_t pid = -1;
	if (ok && (pid = spawn_child(&plan)) < 0)
		ok = kite_throw_errno(error, "start %s as %s", exec_name, user->name);
	int fds[] = {in_fd, out_fd, err_fd};
	for (gsize i = 0; i < G_N_ELEMENTS(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (ok)
		*out_pid = pid;
	return ok;
}
