/* files.c — what travels with a job: its executable and inputs out,
 * its stdout, stderr and new files back; see shadow.h.  The shadow
 * runs as the job's owner when the schedd is root (main.c), so the
 * owner's own permissions decide what may be read and written here. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "shadow.h"
#include "util.h"

/* Names of stdout and stderr inside a sandbox (startd/sandbox.h). */
#define SANDBOX_STDOUT ".kite_stdout"
#define SANDBOX_STDERR ".kite_stderr"

/* Read @path for the startd, within *@budget, as a file named by its
 * base name (which must differ from those in @names).  Its contents,
 * and its name in @out_name if wanted; NULL with @error. */
static GBytes *read_file(GHashTable *names, const char *path, gsize *budget, char **out_name, GError **error)
{
	g_autofree char *name = g_path_get_basename(path);
	if (!g_hash_table_add(names, g_strdup(name))) {
		kite_throw(error, KITE_ERROR_INVALID,
			   "two input files are named %s; names must differ in their last component", name);
		return NULL;
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		kite_throw_errno(error, "%s", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		kite_throw(error, KITE_ERROR_INVALID, "%s is not a regular file", path);
		return NULL;
	}
	if ((guint64)st.st_size > *budget) {
		kite_throw(error, KITE_ERROR_LIMIT,
			   "%s (%lld bytes) does not fit in what is left of max_transfer_size", path,
			   (long long)st.st_size);
		return NULL;
	}
	g_autofree char *data = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &data, &len, error))
		return NULL;
	if (len > *budget) {
		kite_throw(error, KITE_ERROR_LIMIT, "%s grew beyond max_transfer_size", path);
		return NULL;
	}
	*budget -= len;
	if (out_name)
		*out_name = g_steal_pointer(&name);
	return g_bytes_new_take(g_steal_pointer(&data), len);
}

static void add_entry(GVariantBuilder *b, const char *name, guint32 mode, GBytes *bytes)
{
	g_variant_builder_add(b, "(su@ay)", name, mode,
			      g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, bytes, TRUE));
}

/* Add the input file @path to @b. */
static gboolean add_file(GVariantBuilder *b, GHashTable *names, const char *path, gsize *budget,
			 GError **error)
{
	g_autofree char *name = NULL;
	g_autoptr(GBytes) bytes = read_file(names, path, budget, &name, error);
	if (!bytes)
		return FALSE;
	add_entry(b, name, 0644, bytes);
	return TRUE;
}

void kite_job_files_clear(KiteJobFiles *f)
{
	g_clear_pointer(&f->exec_name, g_free);
	g_clear_pointer(&f->exec_sha256, g_free);
	g_clear_pointer(&f->exec, g_bytes_unref);
	g_clear_pointer(&f->inputs, g_variant_unref);
}

GVariant *kite_job_files_all(const KiteJobFiles *f)
{
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(suay)"));
	add_entry(&b, f->exec_name, 0755, f->exec);
	GVariantIter it;
	GVariant *entry;
	g_variant_iter_init(&it, f->inputs);
	while ((entry = g_variant_iter_next_value(&it)))
		g_variant_builder_add_value(&b, entry), g_variant_unref(entry);
	return g_variant_builder_end(&b);
}

static gboolean write_file(const char *path, const guint8 *data, gsize len, guint32 mode, GError **error);
static gboolean write_files(GVariant *files, const char *dir, const char *out, const char *err, GError **error);

/* A file name the startd may send back: one path component. */
static gboolean plain_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* SPOOL/CLUSTER.PROC, the job's own spool directory. */
static char *spool_dir(const char *spool, const KiteAd *job)
{
	gint64 cluster = 0, proc = 0;
	kite_ad_get_int(job, "ClusterId", &cluster);
	kite_ad_get_int(job, "ProcId", &proc);
	g_autofree char *leaf = g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, cluster, proc);
	return g_build_filename(spool, leaf, NULL);
}

void kite_shadow_spool_forget(const char *spool, const KiteAd *job)
{
	if (!spool)
		return;
	g_autofree char *dir = spool_dir(spool, job);
	kite_remove_flat_dir(dir);
}

gboolean kite_shadow_spool_outputs(const char *spool, const KiteAd *job, GVariant *files, GError **error)
{
	if (!spool || g_variant_n_children(files) == 0)
		return TRUE;
	g_autofree char *dir = spool_dir(spool, job);
	/* this vacate's files replace the last one's */
	kite_remove_flat_dir(dir);
	if (mkdir(dir, 0700) < 0)
		return kite_throw_errno(error, "mkdir %s", dir);
	return write_files(files, dir, NULL, NULL, error);
}

gboolean kite_shadow_gather_inputs(const KiteAd *job, gsize max, const char *spool, KiteJobFiles *out,
				   int *out_hold_code, GError **error)
{
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(suay)"));
	g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gsize budget = max;
	/* (every g_autofree here, before the first goto) */
	g_autofree char *cmd = NULL, *in = NULL, *transfer = NULL, *exec_name = NULL, *image = NULL;
	g_autoptr(GBytes) exec = NULL;
	if (!kite_ad_get_string(job, "Cmd", &cmd) || !*cmd) {
		kite_throw(error, KITE_ERROR_INVALID, "the job has no Cmd");
		*out_hold_code = 6;
		goto fail;
	}
	exec = read_file(names, cmd, &budget, &exec_name, error);
	if (!exec) {
		g_prefix_error(error, "executable: ");
		*out_hold_code = 6;
		goto fail;
	}
	*out_hold_code = 13;
	if (kite_ad_get_string(job, "In", &in) && *in && !add_file(&b, names, in, &budget, error))
		goto fail;
	if (kite_ad_get_string(job, "TransferInput", &transfer) && *transfer) {
		g_auto(GStrv) list = g_strsplit(transfer, ",", -1);
		for (char **p = list; *p; p++) {
			g_strstrip(*p);
			if (**p && !add_file(&b, names, *p, &budget, error))
				goto fail;
		}
	}
	/* A run that resumes from a checkpoint gets back what the vacated run
	 * had written and closed (kite_shadow_spool_outputs). */
	if (spool && kite_ad_get_string(job, "LastCheckpointImage", &image) && *image) {
		g_autofree char *dir = spool_dir(spool, job);
		g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
		const char *name;
		while (d && (name = g_dir_read_name(d))) {
			g_autofree char *path = g_build_filename(dir, name, NULL);
			struct stat st;
			if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			g_autofree char *base = NULL;
			g_autoptr(GBytes) bytes = read_file(names, path, &budget, &base, error);
			if (!bytes) {
				g_prefix_error(error, "a file the job left when it was vacated: ");
				goto fail;
			}
			add_entry(&b, base, KITE_FILE_SPOOLED | (st.st_mode & 0777), bytes);
		}
	}
	out->exec_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, exec);
	out->exec = g_steal_pointer(&exec);
	out->exec_name = g_steal_pointer(&exec_name);
	out->inputs = g_variant_ref_sink(g_variant_builder_end(&b));
	return TRUE;
fail:
	g_variant_builder_clear(&b);
	return FALSE;
}

static gboolean write_file(const char *path, const guint8 *data, gsize len, guint32 mode, GError **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode & 0777) | 0600);
	/* An existing file keeps its mode, as with a shell's > . */
	if (fd < 0)
		return kite_throw_errno(error, "open %s", path);
	if (!kite_write_all(fd, data, len, path, error)) {
		close(fd);
		return FALSE;
	}
	if (close(fd) < 0)
		return kite_throw_errno(error, "close %s", path);
	return TRUE;
}

/* Write @files (a(suay) from the startd) under @dir by name, stdout to
 * @out and stderr to @err (NULL or "": dropped). */
static gboolean write_files(GVariant *files, const char *dir, const char *out, const char *err, GError **error)
{
	GVariantIter it;
	const char *name;
	guint32 mode;
	GVariant *data;
	g_variant_iter_init(&it, files);
	while (g_variant_iter_next(&it, "(&su@ay)", &name, &mode, &data)) {
		g_autoptr(GVariant) owned = data;
		gsize len;
		const guint8 *bytes = g_variant_get_fixed_array(owned, &len, 1);
		g_autofree char *path = NULL;
		gboolean std = !strcmp(name, SANDBOX_STDOUT) || !strcmp(name, SANDBOX_STDERR);
		if (strcmp(name, SANDBOX_STDOUT) == 0)
			path = out && *out ? g_strdup(out) : NULL;
		else if (strcmp(name, SANDBOX_STDERR) == 0)
			path = err && *err ? g_strdup(err) : NULL;
		else if (!plain_name(name))
			return kite_throw(error, KITE_ERROR_PROTOCOL, "the startd sent an output named \"%s\"", name);
		else if (dir && *dir)
			path = g_build_filename(dir, name, NULL);
		/* stdout and stderr get the user's umask, like a shell's > */
		if (path && !write_file(path, bytes, len, std ? 0666 : mode, error))
			return FALSE;
	}
	return TRUE;
}

gboolean kite_shadow_write_outputs(const KiteAd *job, GVariant *files, GError **error)
{
	g_autofree char *out = NULL, *err = NULL, *iwd = NULL;
	kite_ad_get_string(job, "Out", &out);
	kite_ad_get_string(job, "Err", &err);
	kite_ad_get_string(job, "Iwd", &iwd);
	return write_files(files, iwd, out, err, error);
}
