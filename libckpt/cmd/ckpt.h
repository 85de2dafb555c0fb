/* The `ckpt` command: one file per subcommand. */
#ifndef KITE_CKPT_CMD_H
#define KITE_CKPT_CMD_H

#include <glib.h>
#include <stdio.h>

#include "libckpt/cmd/ckpt-image.h"

int kite_ckpt_cmd_run(int argc, char **argv);
int kite_ckpt_cmd_now(int argc, char **argv);
int kite_ckpt_cmd_restart(int argc, char **argv);
int kite_ckpt_cmd_inspect(int argc, char **argv);
/* alloc, upload, download, lease (ckpt-server.c) */
int kite_ckpt_cmd_server(int argc, char **argv);

/* Download the image of a checkpoint server into a memfd (verifying
 * every chunk) and return it, positioned at 0, or -1 with @error.  The
 * capabilities come from @caps_file, or DIR/server.caps when @dir is
 * given, or KITE_CKPT_CAPS / KITE_CKPT_READ_CAP; @server overrides the
 * caps file's address.  @out_name: "server:HOST:PORT/ID" for messages.
 * @out_checked (may be NULL): whether the image's own checksums were
 * all checked during the download, so it need not be read again. */
int kite_ckpt_server_fetch(const char *server, const char *caps_file, const char *dir, char **out_name,
			   gboolean *out_checked, GError **error);

/* Seconds a `ckpt` command waits for a checkpoint server before it gives
 * up (connecting, each reply; a streamed restart's restorer too):
 * KITE_CKPT_TIMEOUT, default 60. */
double kite_ckpt_server_timeout(void);
/* Connect to the checkpoint server of an image and authenticate; the
 * capabilities and @out_name as for kite_ckpt_server_fetch().
 * @out_read_cap: the read capability (newly allocated). */
typedef struct _KiteCkptClient KiteCkptClient;
KiteCkptClient *kite_ckpt_server_connect(const char *server, const char *caps_file, const char *dir, char **out_name,
					 char **out_read_cap, GError **error);

/* The sandbox's closed files of an image (ckpt-sandbox.c).  print: the
 * list `ckpt inspect` shows.  restore: write them into the image's
 * sandbox directory (created if missing), taking unchanged chunks from
 * the parents in @chain; a file already there with the same content is
 * left alone, any other is replaced. */
typedef struct _KiteImage KiteImage;
void kite_ckpt_sandbox_print(const KiteImage *img);
gboolean kite_ckpt_sandbox_restore(GPtrArray *chain, GError **error);

/* An eventfd, timerfd, signalfd or epoll descriptor of the image made
 * again from its recorded state (ckpt-anonfd.c): the new descriptor, or
 * -1 with @error.  An epoll's watched descriptors must be in place. */
int kite_ckpt_anonfd_create(const KiteImageFd *f, GError **error);

/* Path of a file installed next to this program (bin/NAME) or in ../lib. */
char *kite_ckpt_find_sibling(const char *env, const char *relpath);

#endif
