/* The `ckpt` command: one file per subcommand. */
#ifndef KITE_CKPT_CMD_H
#define KITE_CKPT_CMD_H

#include <glib.h>
#include <stdio.h>

int kite_ckpt_cmd_run(int argc, char **argv);
int kite_ckpt_cmd_now(int argc, char **argv);
int kite_ckpt_cmd_restart(int argc, char **argv);
int kite_ckpt_cmd_inspect(int argc, char **argv);

/* Path of a file installed next to this program (bin/NAME) or in ../lib. */
char *kite_ckpt_find_sibling(const char *env, const char *relpath);

#endif
