/* pool-query.h — `pool query`, the agent's question (pool-query.c). */
#pragma once

/* Run `pool query` with @argv[0] = "query"; returns the exit status. */
int kite_pool_query(const char *schedd, int argc, char **argv);
