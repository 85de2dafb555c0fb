/* pool-ckpt.h — `pool ckpt …` (pool-ckpt.c). */
#pragma once

/* @argv[0] is "ckpt"; returns the exit status. */
int kite_pool_ckpt(const char *program, int argc, char **argv);
