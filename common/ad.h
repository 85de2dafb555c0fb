/* ad.h — KiteAd, an attribute set (a ClassAd): case-insensitive names
 * bound to expressions, kept in insertion order.  Jobs, machines and
 * daemons are all described by ads, so the queue can be queried with
 * an expression and matched two-sided.
 *
 * Library code: nothing here prints. */
#pragma once

#include <glib.h>

#include "expr.h"

G_BEGIN_DECLS

/* Limits on an ad received from a peer. */
#define KITE_AD_MAX_ATTRS 1024
#define KITE_AD_MAX_NAME  128

KiteAd *kite_ad_new(void);
KiteAd *kite_ad_copy(const KiteAd *ad);
void kite_ad_free(KiteAd *ad);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteAd, kite_ad_free)

/* TRUE if @name is a valid attribute name: a letter or _ followed by
 * letters, digits and _, at most KITE_AD_MAX_NAME bytes. */
gboolean kite_ad_name_is_valid(const char *name);

/* Bind @name to @e (takes a new reference); replaces an existing
 * binding in place, keeping its position and the first spelling. */
void kite_ad_set(KiteAd *ad, const char *name, KiteExpr *e);
/* Parse @text and bind it; on a parse error nothing changes. */
gboolean kite_ad_set_parsed(KiteAd *ad, const char *name, const char *text, GError **error);
void kite_ad_set_int(KiteAd *ad, const char *name, gint64 v);
void kite_ad_set_real(KiteAd *ad, const char *name, double v);
void kite_ad_set_bool(KiteAd *ad, const char *name, gboolean v);
void kite_ad_set_string(KiteAd *ad, const char *name, const char *v);
gboolean kite_ad_remove(KiteAd *ad, const char *name);

/* The expression bound to @name, or NULL.  Borrowed. */
KiteExpr *kite_ad_lookup(const KiteAd *ad, const char *name);
guint kite_ad_size(const KiteAd *ad);
/* The name and expression at position @i (insertion order).  Borrowed. */
const char *kite_ad_name_at(const KiteAd *ad, guint i);
KiteExpr *kite_ad_expr_at(const KiteAd *ad, guint i);

/* Evaluate attribute @name of @ad (as MY) against @target.  An absent
 * attribute is undefined. */
void kite_ad_eval(const KiteAd *ad, const char *name, const KiteAd *target, KiteValue *out);
/* Convenience getters: evaluate and convert; return FALSE (and leave
 * the out parameter alone) when the value is absent or of another type.
 * get_int accepts an integral real; get_string returns a new string. */
gboolean kite_ad_get_int(const KiteAd *ad, const char *name, gint64 *out_v);
gboolean kite_ad_get_real(const KiteAd *ad, const char *name, double *out_v);
gboolean kite_ad_get_bool(const KiteAd *ad, const char *name, gboolean *out_v);
gboolean kite_ad_get_string(const KiteAd *ad, const char *name, char **out_v);

/* Text form: one "Name = expression" line per attribute, in order.
 * kite_ad_parse accepts that form (blank lines and # comments allowed);
 * errors say "line N, column M: …". */
char *kite_ad_to_text(const KiteAd *ad);
KiteAd *kite_ad_parse(const char *text, GError **error);

/* Wire form: a GVariant of type a(ss) — (name, expression text) pairs.
 * from_variant validates names, counts and every expression. */
#define KITE_AD_VARIANT_TYPE "a(ss)"
GVariant *kite_ad_to_variant(const KiteAd *ad);
KiteAd *kite_ad_from_variant(GVariant *v, GError **error);

G_END_DECLS
