/* pool-glidein.h — `pool glidein` (pool-glidein.c), called from pool.c. */
#pragma once

/* Run `pool glidein`; @argv[0] is "glidein".  @schedd_option is pool's
 * --schedd (or NULL).  Returns the exit status. */
int kite_pool_glidein(const char *schedd_option, int argc, char **argv);
