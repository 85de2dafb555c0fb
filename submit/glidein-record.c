/* glidein-record.c — the admin's local list of glided-in hosts, which
 * `pool glidein --status` shows and `--stop` uses to find a host's
 * directory: one line per host, tab-separated
 *
 *     POOL <TAB> USER@HOST[:PORT] <TAB> MACHINE <TAB> DIRECTORY
 *
 * in $XDG_CONFIG_HOME/kite/glidein-hosts, replaced atomically.  The
 * fields never hold tabs or newlines (targets and machine names are
 * checked; the directory comes from the host and is refused with a tab
 * in it). */
#include <errno.h>
#include <string.h>

#include "glidein.h"
#include "util.h"

static void record_free(KiteGlideinRecord *r)
{
	g_free(r->pool);
	g_free(r->target);
	g_free(r->machine);
	g_free(r->remote_dir);
	g_free(r);
}

char *kite_glidein_record_path(void)
{
	return g_build_filename(g_get_user_config_dir(), "kite", "glidein-hosts", NULL);
}

GPtrArray *kite_glidein_record_load(const char *path, GError **error)
{
	g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func((GDestroyNotify)record_free);
	g_autofree char *text = NULL;
	g_autoptr(GError) local = NULL;
	if (!g_file_get_contents(path, &text, NULL, &local)) {
		if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&records);
		g_propagate_error(error, g_steal_pointer(&local));
		return NULL;
	}
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		if (!*lines[i] || lines[i][0] == '#')
			continue;
		g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
		if (g_strv_length(f) != 4) {
			kite_throw(error, KITE_ERROR_INVALID,
				   "%s:%u: expected POOL, HOST, MACHINE and DIRECTORY separated by tabs", path, i + 1);
			return NULL;
		}
		kite_glidein_record_put(records, f[0], f[1], f[2], f[3]);
	}
	return g_steal_pointer(&records);
}

gboolean kite_glidein_record_save(const char *path, GPtrArray *records, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0700) < 0)
		return kite_throw_errno(error, "create %s", dir);
	g_autoptr(GString) text = g_string_new("# Hosts glided in by `pool glidein` (POOL, HOST, MACHINE, DIRECTORY)\n");
	for (guint i = 0; i < records->len; i++) {
		const KiteGlideinRecord *r = records->pdata[i];
		g_string_append_printf(text, "%s\t%s\t%s\t%s\n", r->pool, r->target, r->machine, r->remote_dir);
	}
	return kite_write_file_atomic(path, text->str, text->len, 0600, error);
}

KiteGlideinRecord *kite_glidein_record_find(GPtrArray *records, const char *pool, const char *target)
{
	for (guint i = 0; i < records->len; i++) {
		KiteGlideinRecord *r = records->pdata[i];
		if (g_str_equal(r->pool, pool) && g_str_equal(r->target, target))
			return r;
	}
	return NULL;
}

void kite_glidein_record_put(GPtrArray *records, const char *pool, const char *target, const char *machine,
			     const char *remote_dir)
{
	KiteGlideinRecord *r = kite_glidein_record_find(records, pool, target);
	if (!r) {
		r = g_new0(KiteGlideinRecord, 1);
		r->pool = g_strdup(pool);
		r->target = g_strdup(target);
		g_ptr_array_add(records, r);
	}
	g_free(r->machine);
	g_free(r->remote_dir);
	r->machine = g_strdup(machine);
	r->remote_dir = g_strdup(remote_dir);
}

void kite_glidein_record_remove(GPtrArray *records, const char *pool, const char *target)
{
	KiteGlideinRecord *r = kite_glidein_record_find(records, pool, target);
	if (r)
		g_ptr_array_remove(records, r);
}
