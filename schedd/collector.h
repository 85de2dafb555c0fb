/* collector.h — the schedd's collector role: the latest ad of every
 * slot that startds advertise, each kept until it expires, and the
 * machine queries of `pool status`.  Ads live in memory only: a
 * restarted schedd learns the pool again within one advertise interval. */
#pragma once

#include <glib.h>

#include "expr.h"
#include "server.h"

G_BEGIN_DECLS

/* Most slots one MACHINE_ADS message may carry. */
#define KITE_COLLECTOR_MAX_ADS_PER_UPDATE 1024
/* Longest slot Name accepted. */
#define KITE_COLLECTOR_MAX_NAME 256
/* Bounds on an ad's own ClassAdLifetime (seconds). */
#define KITE_COLLECTOR_MIN_LIFETIME 1
#define KITE_COLLECTOR_MAX_LIFETIME 3600

typedef struct _KiteCollector KiteCollector;

/* @max_ads bounds the slots held at once; @default_lifetime (seconds)
 * applies to ads without a ClassAdLifetime attribute. */
KiteCollector *kite_collector_new(guint max_ads, double default_lifetime);
void kite_collector_free(KiteCollector *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteCollector, kite_collector_free)

/* Store the slot ads in @ads (an aa(ss) value) sent by daemon
 * @identity at monotonic time @now.  Every ad needs a string Name; an
 * ad whose Name another daemon holds (and has not let expire) is
 * dropped, so one startd cannot overwrite another's slots.  The
 * schedd adds LastHeardFrom and AuthenticatedIdentity.  On success
 * writes how many ads were stored; refuses the whole message when it
 * carries too many ads or a malformed one. */
gboolean kite_collector_update(KiteCollector *c, GVariant *ads, const char *identity, double now,
			       guint *out_stored, GError **error);

/* Drop the slots named in @names if @identity advertised them.
 * Returns how many were dropped. */
guint kite_collector_invalidate(KiteCollector *c, const char *const *names, gsize n, const char *identity);

/* Drop the ad of slot @name, whoever advertised it (a shadow found its
 * startd gone or in another state; a live startd advertises it again).
 * Returns TRUE if there was one. */
gboolean kite_collector_forget(KiteCollector *c, const char *name);

/* Drop every ad whose lifetime has passed at @now; returns how many. */
guint kite_collector_expire(KiteCollector *c, double now);

/* The ads (aa(ss), sorted by Name) for which @constraint (NULL: all)
 * is true.  Floating. */
GVariant *kite_collector_query(KiteCollector *c, const KiteExpr *constraint);

/* The same as KiteAd copies (KiteAd*, sorted by Name; the array frees
 * them): a copy shares the stored expressions, so nothing is printed
 * or parsed — what a negotiation cycle reads every time. */
GPtrArray *kite_collector_ads(KiteCollector *c, const KiteExpr *constraint);

guint kite_collector_size(const KiteCollector *c);

/* How many slots the last kite_collector_update() stored as Unclaimed
 * that were not Unclaimed (or not known) before: slots that became free. */
guint kite_collector_last_freed(const KiteCollector *c);

G_END_DECLS
