/* ckpt alloc | upload | download | lease: images on a checkpoint server
 * (docs/ckpt-server.md), and the server image support that `ckpt
 * restart` and `ckpt inspect` use.  Capabilities travel in a caps file
 * (mode 0600), never on a command line. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt-store.h"
#include "libckpt/cmd/ckpt.h"
#include "util.h"

static void print_info(const KiteCkptInfo *i)
{
	g_autoptr(GDateTime) e = g_date_time_new_from_unix_utc(i->expires);
	g_autofree char *exp = e ? g_date_time_format(e, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");
	printf("id %s\nowner %s\nstate %s\nsize %" G_GUINT64_FORMAT "\nchunks %" G_GUINT64_FORMAT
	       "\nexpected %" G_GUINT64_FORMAT "\nexpires %s\n",
	       i->id, i->owner, i->state, i->size, i->chunks, i->expected, exp);
}

static gboolean parse_lease(const char *text, gint64 *out, const char *cmd)
{
	double s;
	g_autoptr(GError) error = NULL;
	if (!kite_parse_duration(text, &s, &error)) {
		fprintf(stderr, "ckpt %s: --lease: %s\n", cmd, error->message);
		return FALSE;
	}
	*out = (gint64)s;
	return TRUE;
}

static gboolean kite_ckpt_server_caps(const char *caps_file, KiteCkptCaps *out, GError **error)
{
	const char *file = caps_file ? caps_file : g_getenv("KITE_CKPT_CAPS");
	if (file && *file) {
		/* A user token kept beside the caps file (the startd puts one
		 * there for a job's uploader) is the one to use: the job's
		 * environment may name the token of the machine it started on. */
		g_autofree char *dir = g_path_get_dirname(file);
		g_autofree char *token = g_build_filename(dir, "token", NULL);
		if (!g_getenv("KITE_POOL_KEY_FILE") && g_file_test(token, G_FILE_TEST_IS_REGULAR))
			g_setenv("KITE_TOKEN_FILE", token, TRUE);
		return kite_ckpt_caps_load(file, out, error);
	}
	const char *r = g_getenv("KITE_CKPT_READ_CAP");
	if (r && *r) {
		memset(out, 0, sizeof *out);
		out->read = g_strdup(r);
		return TRUE;
	}
	return kite_throw(error, KITE_ERROR_INVALID,
			  "no capabilities: give --caps FILE (or set KITE_CKPT_CAPS, or KITE_CKPT_READ_CAP)");
}

double kite_ckpt_server_timeout(void)
{
	static double timeout;
	if (timeout > 0)
		return timeout;
	timeout = 60;
	const char *e = g_getenv("KITE_CKPT_TIMEOUT");
	if (e) {
		char *end;
		double t = g_ascii_strtod(e, &end);
		if (end != e && *end == 0 && t >= 1 && t <= 86400)
			timeout = t;
		else
			g_printerr("ckpt: KITE_CKPT_TIMEOUT=%s is not a number of seconds from 1 to 86400; waiting 60 s\n", e);
	}
	return timeout;
}

KiteCkptClient *kite_ckpt_server_connect(const char *server, const char *caps_file, const char *dir, char **out_name,
					 char **out_read_cap, GError **error)
{
	g_auto(KiteCkptCaps) caps = {0};
	g_autofree char *dir_caps = dir ? g_build_filename(dir, "server.caps", NULL) : NULL;
	if (!kite_ckpt_server_caps(caps_file ? caps_file : dir_caps, &caps, error))
		return NULL;
	const char *addr = server ? server : caps.server;
	if (!addr)
		return kite_throw(error, KITE_ERROR_INVALID, "no server address: give --server HOST:PORT"), NULL;
	if (!caps.read)
		return kite_throw(error, KITE_ERROR_INVALID, "the capabilities hold no read capability"), NULL;
	*out_name = g_strdup_printf("server:%s/%s", addr, caps.id ? caps.id : "image");
	KiteCkptClient *c = kite_ckpt_client_connect(addr, kite_ckpt_server_timeout(), error);
	if (c)
		*out_read_cap = g_steal_pointer(&caps.read);
	return c;
}

int kite_ckpt_server_fetch(const char *server, const char *caps_file, const char *dir, char **out_name,
			   gboolean *out_checked, GError **error)
{
	g_autofree char *cap = NULL;
	g_autoptr(KiteCkptClient) c = kite_ckpt_server_connect(server, caps_file, dir, out_name, &cap, error);
	if (!c)
		return -1;
	int fd = memfd_create("kite-image", MFD_CLOEXEC);
	if (fd < 0)
		return kite_throw_errno(error, "memfd_create"), -1;
	if (!kite_ckpt_client_download(c, cap, fd, NULL, out_checked, error)) {
		close(fd);
		return -1;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static int cmd_alloc(int argc, char **argv)
{
	const char *server = g_getenv("KITE_CKPT_SERVER"), *owner = "", *file = NULL;
	gint64 lease = 0;
	guint64 size = 0;
	for (int i = 1; i < argc; i++) {
		if (g_str_equal(argv[i], "--server") && i + 1 < argc)
			server = argv[++i];
		else if (g_str_equal(argv[i], "--owner") && i + 1 < argc)
			owner = argv[++i];
		else if (g_str_equal(argv[i], "--lease") && i + 1 < argc) {
			if (!parse_lease(argv[++i], &lease, "alloc"))
				return 2;
		} else if (g_str_equal(argv[i], "--size") && i + 1 < argc) {
			g_autoptr(GError) e = NULL;
			if (!kite_parse_size(argv[++i], 1, &size, &e)) {
				fprintf(stderr, "ckpt alloc: --size: %s\n", e->message);
				return 2;
			}
		} else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else {
			fprintf(stderr, "usage: ckpt alloc --server HOST:PORT [--owner USER] [--lease DURATION] [--size SIZE] CAPSFILE\n");
			return 2;
		}
	}
	if (!server || !file) {
		fprintf(stderr, "usage: ckpt alloc --server HOST:PORT [--owner USER] [--lease DURATION] [--size SIZE] CAPSFILE\n");
		return 2;
	}
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteCkptClient) c = kite_ckpt_client_connect(server, kite_ckpt_server_timeout(), &error);
	g_auto(KiteCkptCaps) caps = {0};
	if (!c || !kite_ckpt_client_allocate(c, owner, size, lease, &caps, &error) ||
	    !kite_ckpt_caps_save(file, &caps, &error)) {
		fprintf(stderr, "ckpt alloc: %s\n", error->message);
		return 1;
	}
	printf("%s\n", caps.id);
	return 0;
}

static int cmd_upload(int argc, char **argv)
{
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (g_str_equal(argv[i], "--caps") && i + 1 < argc)
			file = argv[++i];
		else {
			fprintf(stderr, "usage: ckpt upload [--caps FILE] < IMAGE\n");
			return 2;
		}
	}
	g_autoptr(GError) error = NULL;
	g_auto(KiteCkptCaps) caps = {0};
	if (!kite_ckpt_server_caps(file, &caps, &error)) {
		fprintf(stdout, "ckpt upload: %s\n", error->message);
		return 1;
	}
	const char *server = caps.server ? caps.server : g_getenv("KITE_CKPT_SERVER");
	if (!server || !caps.write) {
		printf("ckpt upload: the capabilities file names no server or no write capability\n");
		return 1;
	}
	g_autoptr(KiteCkptClient) c = kite_ckpt_client_connect(server, kite_ckpt_server_timeout(), &error);
	KiteCkptUploadStats st = {0};
	g_auto(KiteCkptInfo) info = {0};
	if (!c || !kite_ckpt_client_upload(c, caps.write, 0, &st, &info, &error)) {
		/* stdout: the checkpoint child reads it as the reason */
		printf("upload to %s failed: %s\n", server, error->message);
		return 1;
	}
	printf("server:%s/%s: %" G_GUINT64_FORMAT " bytes in %" G_GUINT64_FORMAT
	       " chunks, sent %" G_GUINT64_FORMAT " bytes (%.2f%%) and %" G_GUINT64_FORMAT " chunks\n",
	       server, info.id, st.bytes, st.chunks, st.bytes_sent,
	       st.bytes ? 100.0 * (double)st.bytes_sent / (double)st.bytes : 0.0, st.chunks_sent);
	return 0;
}

static int cmd_download(int argc, char **argv)
{
	const char *file = NULL, *out = NULL, *server = NULL;
	for (int i = 1; i < argc; i++) {
		if (g_str_equal(argv[i], "--caps") && i + 1 < argc)
			file = argv[++i];
		else if (g_str_equal(argv[i], "--server") && i + 1 < argc)
			server = argv[++i];
		else if (g_str_equal(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else {
			fprintf(stderr, "usage: ckpt download [--server HOST:PORT] [--caps FILE] [-o FILE]\n");
			return 2;
		}
	}
	g_autoptr(GError) error = NULL;
	g_auto(KiteCkptCaps) caps = {0};
	if (!kite_ckpt_server_caps(file, &caps, &error)) {
		fprintf(stderr, "ckpt download: %s\n", error->message);
		return 1;
	}
	const char *addr = server ? server : caps.server ? caps.server : g_getenv("KITE_CKPT_SERVER");
	if (!addr || !caps.read) {
		fprintf(stderr, "ckpt download: no server address or no read capability\n");
		return 1;
	}
	/* -o FILE: a regular file (or a new one) is written under a
	 * temporary name beside it and renamed over it once the whole image
	 * arrived, so a failed download leaves FILE as it was; anything else
	 * (a device such as /dev/null, a FIFO) is written to directly and
	 * never removed. */
	int fd = 1;
	g_autofree char *tmp = NULL;
	struct stat st;
	if (out && (stat(out, &st) < 0 || S_ISREG(st.st_mode))) {
		tmp = g_strdup_printf("%s.XXXXXX", out);
		fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	} else if (out)
		fd = open(out, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ckpt download: %s: %s\n", tmp ? tmp : out, g_strerror(errno));
		return 1;
	}
	g_autoptr(KiteCkptClient) c = kite_ckpt_client_connect(addr, kite_ckpt_server_timeout(), &error);
	gboolean ok = c && kite_ckpt_client_download(c, caps.read, fd, NULL, NULL, &error);
	if (ok && tmp && (fsync(fd) < 0 || rename(tmp, out) < 0)) {
		kite_throw_errno(&error, "write %s", out);
		ok = FALSE;
	}
	if (!ok) {
		fprintf(stderr, "ckpt download: %s\n", error->message);
		if (tmp)
			unlink(tmp);
	}
	if (fd != 1)
		close(fd);
	return ok ? 0 : 1;
}

static int cmd_lease(int argc, char **argv)
{
	const char *file = NULL, *op = NULL;
	gint64 lease = 0;
	for (int i = 1; i < argc; i++) {
		if (g_str_equal(argv[i], "--caps") && i + 1 < argc)
			file = argv[++i];
		else if (g_str_equal(argv[i], "--lease") && i + 1 < argc) {
			if (!parse_lease(argv[++i], &lease, "lease"))
				return 2;
		} else if (!op && (g_str_equal(argv[i], "stat") || g_str_equal(argv[i], "renew") ||
				   g_str_equal(argv[i], "delete")))
			op = argv[i];
		else {
			fprintf(stderr, "usage: ckpt lease [--caps FILE] stat|renew|delete [--lease DURATION]\n");
			return 2;
		}
	}
	if (!op) {
		fprintf(stderr, "usage: ckpt lease [--caps FILE] stat|renew|delete [--lease DURATION]\n");
		return 2;
	}
	g_autoptr(GError) error = NULL;
	g_auto(KiteCkptCaps) caps = {0};
	if (!kite_ckpt_server_caps(file, &caps, &error)) {
		fprintf(stderr, "ckpt lease: %s\n", error->message);
		return 1;
	}
	const char *addr = caps.server ? caps.server : g_getenv("KITE_CKPT_SERVER");
	if (!addr || !caps.manage) {
		fprintf(stderr, "ckpt lease: the capabilities name no server or no manage capability\n");
		return 1;
	}
	g_autoptr(KiteCkptClient) c = kite_ckpt_client_connect(addr, kite_ckpt_server_timeout(), &error);
	g_auto(KiteCkptInfo) info = {0};
	if (!c || !kite_ckpt_client_manage(c, caps.manage, op, lease, &info, &error)) {
		fprintf(stderr, "ckpt lease: %s\n", error->message);
		return 1;
	}
	print_info(&info);
	return 0;
}

int kite_ckpt_cmd_server(int argc, char **argv)
{
	const char *cmd = argv[0];
	if (g_str_equal(cmd, "alloc"))
		return cmd_alloc(argc, argv);
	if (g_str_equal(cmd, "upload"))
		return cmd_upload(argc, argv);
	if (g_str_equal(cmd, "download"))
		return cmd_download(argc, argv);
	return cmd_lease(argc, argv);
}
