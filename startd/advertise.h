/* advertise.h — sending slot ads to the schedd (its collector role):
 * one connection, authenticated as a pool daemon with the pool key,
 * kept open between advertisements and made again when it breaks; the
 * main loop never waits for the schedd's reply (advertise.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KiteAdvertiser KiteAdvertiser;

/* @address is HOST:PORT or a Unix socket path; @key is borrowed for the
 * advertiser's life; @daemon_name is what the schedd knows us by;
 * @timeout bounds each exchange (seconds). */
KiteAdvertiser *kite_advertiser_new(const char *address, GBytes *key, const char *daemon_name,
				    double timeout);
void kite_advertiser_free(KiteAdvertiser *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteAdvertiser, kite_advertiser_free)

/* Queue the ads in @ads (KiteAd*, copied) and send them without
 * waiting for the schedd: at once when nothing is in flight, else with
 * the next message (a slot's newer ad replaces its queued one).  A
 * failure is logged (once while it lasts; its end too) and the ads are
 * sent again on the next attempt. */
void kite_advertiser_send(KiteAdvertiser *a, GPtrArray *ads);

/* Tell the schedd the slots in @names are gone (on shutdown). */
void kite_advertiser_withdraw(KiteAdvertiser *a, const char *const *names, gsize n);

G_END_DECLS
