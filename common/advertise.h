/* advertise.h — sending ads to the schedd (its collector role): the
 * startd's slot ads, a checkpoint server's own ad.  One connection,
 * authenticated as a pool daemon with the pool key, kept open between
 * advertisements and made again when it breaks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* MyType of a checkpoint server's ad: the schedd keeps it apart from
 * slot ads. */
#define KITE_CKPT_SERVER_AD_TYPE "CkptServer"

typedef struct _KiteAdvertiser KiteAdvertiser;

/* @address is HOST:PORT or a Unix socket path; @key is borrowed for the
 * advertiser's life; @daemon_name is what the schedd knows us by;
 * @timeout bounds each exchange (seconds). */
KiteAdvertiser *kite_advertiser_new(const char *address, GBytes *key, const char *daemon_name,
				    double timeout);
void kite_advertiser_free(KiteAdvertiser *a);
/* What the ads are, for the log: "slot(s)" unless set otherwise. */
void kite_advertiser_set_what(KiteAdvertiser *a, const char *what);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteAdvertiser, kite_advertiser_free)

/* Send the ads in @ads (KiteAd*).  A failure is logged (once while it
 * lasts; its end too) and FALSE returned: the next advertisement tries
 * again. */
gboolean kite_advertiser_send(KiteAdvertiser *a, GPtrArray *ads);

/* Tell the schedd the ads named @names are gone (on shutdown). */
void kite_advertiser_withdraw(KiteAdvertiser *a, const char *const *names, gsize n);

G_END_DECLS
