/* log.c — the GLib log handler for Kite daemons; see log.h. */
#include "log.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static char *log_program;

static void handler(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	if ((level & G_LOG_LEVEL_DEBUG) && g_strcmp0(g_getenv("KITE_DEBUG"), "all") != 0)
		return;
	const char *tag = "";
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		tag = "error: ";
	else if (level & G_LOG_LEVEL_WARNING)
		tag = "warning: ";
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s %s[%d] %s%s\n", stamp, log_program, (int)getpid(), tag, message);
}

void kite_log_init(const char *program)
{
	log_program = g_strdup(program);
	g_log_set_default_handler(handler, NULL);
}
