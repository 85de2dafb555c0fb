/* cgroup.c — the startd's cgroup v2 subtree and one leaf per job; see
 * cgroup.h.  Everything here is plain file I/O on the cgroup file
 * system; which process goes where is decided by the job's own process
 * (sandbox.c writes into kite_job_cgroup_procs_fd() before exec). */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The controllers the startd asks for, in the order it enables them. */
static const char *const wanted[] = {"memory", "cpu"};

struct _KiteCgroups {
	char *path;		   /* PARENT/NAME.HASH */
	gboolean has[G_N_ELEMENTS(wanted)]; /* enabled for job leaves */
};

struct _KiteJobCgroup {
	KiteCgroups *cg;
	char *path;
	int procs_fd;
	guint64 memory_limit; /* bytes, 0: none */
	guint64 sampled_peak; /* bytes */
	gboolean over;	      /* a sample found it over the limit */
};

static gboolean has_controller(const KiteCgroups *cg, const char *controller)
{
	for (gsize i = 0; i < G_N_ELEMENTS(wanted); i++)
		if (g_str_equal(wanted[i], controller))
			return cg->has[i];
	return FALSE;
}

gboolean kite_cgroups_has(const KiteCgroups *cg, const char *controller)
{
	return cg && has_controller(cg, controller);
}

const char *kite_cgroups_path(const KiteCgroups *cg)
{
	return cg->path;
}

/* Write @text to @dir/@file (an existing interface file). */
static gboolean write_file(const char *dir, const char *file, const char *text, GError **error)
{
	g_autofree char *path = g_build_filename(dir, file, NULL);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kite_throw_errno(error, "open %s", path);
	ssize_t n = write(fd, text, strlen(text));
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return kite_throw_errno(error, "write \"%s\" to %s", text, path);
	}
	return TRUE;
}

static char *read_file(const char *dir, const char *file)
{
	g_autofree char *path = g_build_filename(dir, file, NULL);
	char *text = NULL;
	return g_file_get_contents(path, &text, NULL, NULL) ? text : NULL;
}

/* The number after "@key " in a flat-keyed file (cpu.stat,
 * memory.events, cgroup.events); 0 when absent. */
static guint64 keyed_value(const char *text, const char *key)
{
	gsize len = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, len) == 0 && line[len] == ' ')
			return g_ascii_strtoull(line + len + 1, NULL, 10);
	return 0;
}

static gboolean word_in(const char *list, const char *word)
{
	g_auto(GStrv) words = g_strsplit_set(list ? list : "", " \n", -1);
	return g_strv_contains((const char *const *)words, word);
}

char *kite_cgroup_find_mount(const char *mountinfo)
{
	g_auto(GStrv) lines = g_strsplit(mountinfo, "\n", -1);
	char *found = NULL;
	for (char **l = lines; *l; l++) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS…] - TYPE SOURCE SUPER */
		const char *sep = strstr(*l, " - ");
		if (!sep || !g_str_has_prefix(sep + 3, "cgroup2 "))
			continue;
		g_auto(GStrv) f = g_strsplit(*l, " ", 6);
		if (g_strv_length(f) < 6)
			continue;
		/* Spaces and the like are octal escapes (\040). */
		g_autofree char *point = g_strcompress(f[4]);
		if (!found || g_str_equal(point, "/sys/fs/cgroup")) {
			g_free(found);
			found = g_steal_pointer(&point);
		}
	}
	return found;
}

/* Kill and remove the leaf @path (a leftover or a finished job). */
static gboolean remove_leaf(const char *path)
{
	KiteJobCgroup tmp = {.path = (char *)path, .procs_fd = -1};
	kite_job_cgroup_kill(&tmp);
	/* rmdir fails with EBUSY until the last process is gone. */
	for (int i = 0; i < 200; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return TRUE;
		if (errno != EBUSY)
			break;
		g_usleep(10 * 1000);
	}
	g_warning("cannot remove the cgroup %s: %s", path, g_strerror(errno));
	return FALSE;
}

static void remove_leaves(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *sub = g_build_filename(dir, name, NULL);
		if (g_file_test(sub, G_FILE_TEST_IS_DIR))
			remove_leaf(sub);
	}
}

/* Enable the wanted controllers in @dir's cgroup.subtree_control where
 * @dir offers them and they are not on yet.  Appends what failed. */
static void enable_controllers(const char *dir, GString *notes)
{
	g_autofree char *offered = read_file(dir, "cgroup.controllers");
	g_autofree char *enabled = read_file(dir, "cgroup.subtree_control");
	for (gsize i = 0; i < G_N_ELEMENTS(wanted); i++) {
		if (!word_in(offered, wanted[i]) || word_in(enabled, wanted[i]))
			continue;
		g_autofree char *plus = g_strconcat("+", wanted[i], NULL);
		g_autoptr(GError) error = NULL;
		if (write_file(dir, "cgroup.subtree_control", plus, &error))
			continue;
		gboolean busy = errno == EBUSY;
		g_string_append_printf(notes, "%s%s%s", notes->len ? "; " : "", error->message,
				       busy ? " (that cgroup has processes of its own: cgroup v2 gives "
					      "controllers only below cgroups without processes)"
					    : "");
	}
}

KiteCgroups *kite_cgroups_open(const char *mount, const char *parent, const char *name,
			       const char *state_dir, char **out_notes, GError **error)
{
	g_autofree char *found = NULL;
	if (!mount) {
		g_autofree char *mountinfo = NULL;
		if (!g_file_get_contents("/proc/self/mountinfo", &mountinfo, NULL, error))
			return NULL;
		mount = found = kite_cgroup_find_mount(mountinfo);
		if (!mount) {
			kite_throw(error, KITE_ERROR_FAILED, "no cgroup v2 hierarchy is mounted");
			return NULL;
		}
	}
	g_autofree char *parent_path =
	    g_path_is_absolute(parent) ? g_strdup(parent) : g_build_filename(mount, parent, NULL);
	if (!g_str_has_prefix(parent_path, mount)) {
		kite_throw(error, KITE_ERROR_INVALID, "cgroup_parent %s is not below the cgroup v2 mount %s",
			   parent_path, mount);
		return NULL;
	}
	g_autofree char *real_state = realpath(state_dir, NULL);
	g_autofree char *hash =
	    g_compute_checksum_for_string(G_CHECKSUM_SHA256, real_state ? real_state : state_dir, -1);
	hash[8] = '\0';
	g_autofree char *leaf_name = g_strdup_printf("%s.%s", name, hash);
	g_autoptr(KiteCgroups) cg = g_new0(KiteCgroups, 1);
	cg->path = g_build_filename(parent_path, leaf_name, NULL);

	if (g_mkdir_with_parents(cg->path, 0755) < 0) {
		kite_throw_errno(error, "create the cgroup %s", cg->path);
		return NULL;
	}
	/* A cgroup file system refuses writes it does not allow, which is
	 * the test that counts: can we make a leaf and move a process? */
	g_autofree char *probe = read_file(cg->path, "cgroup.procs");
	if (!probe) {
		kite_throw(error, KITE_ERROR_FAILED, "%s is not a cgroup v2 directory (no cgroup.procs)",
			   cg->path);
		return NULL;
	}
	remove_leaves(cg->path);

	/* Controllers, from the mount down to our subtree. */
	g_autoptr(GString) notes = g_string_new(NULL);
	g_autofree char *walk = g_strdup(mount);
	g_auto(GStrv) parts = g_strsplit(cg->path + strlen(mount), "/", -1);
	enable_controllers(walk, notes);
	for (char **p = parts; *p; p++) {
		if (!**p)
			continue;
		char *next = g_build_filename(walk, *p, NULL);
		g_free(walk);
		walk = next;
		enable_controllers(walk, notes);
	}
	g_autofree char *enabled = read_file(cg->path, "cgroup.subtree_control");
	g_autofree char *at_root = read_file(mount, "cgroup.controllers");
	g_strstrip(at_root ? at_root : "");
	for (gsize i = 0; i < G_N_ELEMENTS(wanted); i++) {
		cg->has[i] = word_in(enabled, wanted[i]);
		if (cg->has[i] || strstr(notes->str, wanted[i]))
			continue;
		if (!word_in(at_root, wanted[i]))
			g_string_append_printf(notes,
					       "%sthe cgroup v2 hierarchy at %s has no %s controller (it offers: "
					       "%s; a cgroup v1 hierarchy may hold it)",
					       notes->len ? "; " : "", mount, wanted[i],
					       at_root && *at_root ? at_root : "none");
		else
			g_string_append_printf(notes, "%sthe %s controller is not offered to %s",
					       notes->len ? "; " : "", wanted[i], cg->path);
	}
	*out_notes = notes->len ? g_strdup(notes->str) : NULL;
	return g_steal_pointer(&cg);
}

void kite_cgroups_free(KiteCgroups *cg)
{
	if (!cg)
		return;
	remove_leaves(cg->path);
	if (rmdir(cg->path) < 0 && errno != ENOENT)
		g_warning("cannot remove the cgroup %s: %s", cg->path, g_strerror(errno));
	g_free(cg->path);
	g_free(cg);
}

KiteJobCgroup *kite_job_cgroup_new(KiteCgroups *cg, const char *name, gint64 memory_mib, gint64 cpus,
				   GError **error)
{
	g_autofree char *path = g_build_filename(cg->path, name, NULL);
	if (g_file_test(path, G_FILE_TEST_IS_DIR))
		remove_leaf(path);
	if (mkdir(path, 0755) < 0) {
		kite_throw_errno(error, "create the cgroup %s", path);
		return NULL;
	}
	KiteJobCgroup *job = g_new0(KiteJobCgroup, 1);
	job->cg = cg;
	job->path = g_steal_pointer(&path);
	job->procs_fd = -1;
	job->memory_limit = memory_mib > 0 ? (guint64)memory_mib << 20 : 0;
	gboolean ok = TRUE;
	if (ok && job->memory_limit && has_controller(cg, "memory")) {
		g_autofree char *max = g_strdup_printf("%" G_GUINT64_FORMAT, job->memory_limit);
		ok = write_file(job->path, "memory.max", max, error) &&
		     write_file(job->path, "memory.oom.group", "1", error);
		/* No swap: a job over its request is killed, not swapped
		 * out on the owner's machine (absent without swap accounting). */
		if (ok)
			write_file(job->path, "memory.swap.max", "0", NULL);
	}
	if (ok && cpus > 0 && has_controller(cg, "cpu")) {
		g_autofree char *max = g_strdup_printf("%" G_GINT64_FORMAT " 100000", cpus * 100000);
		g_autofree char *weight = g_strdup_printf("%" G_GINT64_FORMAT, CLAMP(cpus * 100, 1, 10000));
		ok = write_file(job->path, "cpu.max", max, error) &&
		     write_file(job->path, "cpu.weight", weight, error);
	}
	if (ok) {
		g_autofree char *procs = g_build_filename(job->path, "cgroup.procs", NULL);
		job->procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (job->procs_fd < 0)
			ok = kite_throw_errno(error, "open %s", procs);
	}
	if (!ok) {
		kite_job_cgroup_free(job);
		return NULL;
	}
	return job;
}

void kite_job_cgroup_free(KiteJobCgroup *job)
{
	if (!job)
		return;
	if (job->procs_fd >= 0)
		close(job->procs_fd);
	remove_leaf(job->path);
	g_free(job->path);
	g_free(job);
}

int kite_job_cgroup_procs_fd(const KiteJobCgroup *job)
{
	return job->procs_fd;
}

const char *kite_job_cgroup_path(const KiteJobCgroup *job)
{
	return job->path;
}

/* The process ids in the leaf. */
static GArray *leaf_pids(const char *path)
{
	GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_autofree char *text = read_file(path, "cgroup.procs");
	g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
	for (char **l = lines; *l; l++) {
		pid_t pid = (pid_t)atoi(*l);
		if (pid > 0)
			g_array_append_val(pids, pid);
	}
	return pids;
}

void kite_job_cgroup_kill(KiteJobCgroup *job)
{
	g_autoptr(GError) error = NULL;
	if (write_file(job->path, "cgroup.kill", "1", &error) || errno != ENOENT)
		return;
	/* Before Linux 5.14: kill what is there until nothing is; a process
	 * forking meanwhile is caught in a later round. */
	for (int round = 0; round < 100; round++) {
		g_autoptr(GArray) pids = leaf_pids(job->path);
		if (pids->len == 0)
			return;
		for (guint i = 0; i < pids->len; i++)
			kill(g_array_index(pids, pid_t, i), SIGKILL);
		g_usleep(10 * 1000);
	}
}

gboolean kite_job_cgroup_freeze(KiteJobCgroup *job, gboolean frozen)
{
	g_autoptr(GError) error = NULL;
	if (write_file(job->path, "cgroup.freeze", frozen ? "1" : "0", &error))
		return TRUE;
	if (errno != ENOENT)
		g_warning("%s", error->message);
	return FALSE;
}

gboolean kite_job_cgroup_sample_memory(KiteJobCgroup *job)
{
	if (has_controller(job->cg, "memory"))
		return FALSE;
	g_autoptr(GArray) pids = leaf_pids(job->path);
	guint64 total = 0, page = (guint64)sysconf(_SC_PAGESIZE);
	for (guint i = 0; i < pids->len; i++) {
		/* Proportional set size: pages shared between the job's
		 * processes count once — libckpt's checkpoint child shares all
		 * of the job's memory until either writes, and must not make the
		 * job look twice its size.  Resident size where Pss is missing. */
		pid_t pid = g_array_index(pids, pid_t, i);
		g_autofree char *rollup = g_strdup_printf("/proc/%d/smaps_rollup", pid);
		g_autofree char *text = NULL;
		const char *pss = g_file_get_contents(rollup, &text, NULL, NULL) ? strstr(text, "\nPss:") : NULL;
		unsigned long long kib, size, resident;
		if (pss && sscanf(pss + 5, "%llu", &kib) == 1) {
			total += kib * 1024;
			continue;
		}
		g_autofree char *statm = g_strdup_printf("/proc/%d/statm", pid);
		g_clear_pointer(&text, g_free);
		if (g_file_get_contents(statm, &text, NULL, NULL) &&
		    sscanf(text, "%llu %llu", &size, &resident) == 2)
			total += resident * page;
	}
	job->sampled_peak = MAX(job->sampled_peak, total);
	if (job->memory_limit && total > job->memory_limit)
		job->over = TRUE;
	return job->over;
}

gboolean kite_job_cgroup_exceeded_memory(const KiteJobCgroup *job)
{
	if (job->over)
		return TRUE;
	if (!job->memory_limit || !has_controller(job->cg, "memory"))
		return FALSE;
	g_autofree char *events = read_file(job->path, "memory.events");
	return keyed_value(events, "oom_kill") > 0 || keyed_value(events, "oom_group_kill") > 0;
}

void kite_job_cgroup_usage(const KiteJobCgroup *job, KiteJobUsage *out_usage)
{
	g_autofree char *stat = read_file(job->path, "cpu.stat");
	g_autofree char *peak = has_controller(job->cg, "memory") ? read_file(job->path, "memory.peak") : NULL;
	KiteJobUsage u = {
	    .memory_peak = peak ? g_ascii_strtoull(peak, NULL, 10) : job->sampled_peak,
	    .user_usec = keyed_value(stat, "user_usec"),
	    .system_usec = keyed_value(stat, "system_usec"),
	};
	*out_usage = u;
}
