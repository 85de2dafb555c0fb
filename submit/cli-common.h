/* cli-common.h — what submit, q and pool share: finding and reaching the
 * schedd (--schedd, KITE_SCHEDD, the local default socket; a token for
 * TCP), job id arguments, and formatting. */
#pragma once

#include <glib.h>

#include "ad.h"
#include "conn.h"
#include "job.h"

/* The schedd address to use: @option if given, else $KITE_SCHEDD, else
 * the local default socket. */
const char *kite_cli_schedd_address(const char *option);

/* Connect to the schedd.  Over TCP a token is needed: $KITE_TOKEN, or
 * the file named by $KITE_TOKEN_FILE, or ~/.config/kite/token. */
KiteConn *kite_cli_connect(const char *option, GError **error);

/* The user the schedd knows us as (for the default `q` filter). */
char *kite_cli_identity(KiteConn *conn);

/* Parse "12" (whole cluster) or "12.3". */
gboolean kite_cli_parse_job_id(const char *text, KiteJobId *out_id, GError **error);

/* "11/21 21:40", "0+00:00:07", "12.5" (MiB from KiB). */
char *kite_cli_format_date(gint64 when);
char *kite_cli_format_duration(gint64 seconds);

/* Print "PROGRAM: message" to stderr. */
void kite_cli_error(const char *program, const GError *error);

/* Print the action results from an ACT_REPLY body; returns the number
 * that failed. */
guint kite_cli_print_results(const char *program, GVariant *reply);

/* A QUERY_REPLY read column by column; pointers borrow from @reply. */
typedef struct {
	gsize n;
	const gint64 *cluster, *proc, *qdate, *run_time, *image_size, *last_ckpt, *entered;
	const gint32 *status, *prio, *num_ckpts;
	const char **owner, **host, **cmd, **hold_reason;
	GVariant *ads; /* aa(ss): one per row, or empty when full ads were not asked for */
	GVariant *reply;
	GPtrArray *keep; /* child variants and arrays to free */
} KiteQueryRows;

/* Check that every column has the same length and set up @out_rows. */
gboolean kite_cli_rows_init(KiteQueryRows *out_rows, GVariant *reply, GError **error);
void kite_cli_rows_clear(KiteQueryRows *rows);

/* JSON output: a string literal with escapes; an attribute's value
 * when it is a constant, otherwise its expression text as a string
 * (Requirements and the like), null for undefined; a whole ad as an
 * object of its attributes. */
void kite_cli_json_string(GString *out, const char *s);
void kite_cli_json_attr(GString *out, const KiteAd *ad, const char *name, KiteExpr *e);
void kite_cli_json_ad(GString *out, const KiteAd *ad);
