/* log.h — daemon logging: one line per message on stderr
 * ("2026-11-21 21:40:02 schedd[123] message"), which journald or a test
 * harness picks up.  g_debug lines appear with KITE_DEBUG=all. */
#pragma once

#include <glib.h>

void kite_log_init(const char *program);
