/* pool-userprio.h — `pool userprio`, the users' fair share
 * (pool-userprio.c). */
#pragma once

/* Run `pool userprio` with @argv[0] = "userprio"; returns the exit
 * status. */
int kite_pool_userprio(const char *schedd, int argc, char **argv);
