/* exec-cache.h — executables the startd was sent, kept by content so
 * that the next job running the same program gets it by its SHA-256
 * (ACTIVATE_CACHED) instead of its bytes (docs/running-jobs.md,
 * "Files").  A job can run a cached file but never change it: the
 * files belong to the startd, mode 0555, and go into a sandbox as a
 * hard link only when the job runs as another user; a job running as
 * the startd's own user gets a copy. */
#pragma once

#include <glib.h>

#include "sandbox.h"

G_BEGIN_DECLS

/* Most executables kept; the least recently used goes first. */
#define KITE_EXEC_CACHE_MAX 64

typedef struct _KiteExecCache KiteExecCache;

/* A cache in @dir, emptied (the startd's previous run left nothing
 * that is known to be right).  NULL with @error if @dir cannot be
 * made. */
KiteExecCache *kite_exec_cache_new(const char *dir, GError **error);
void kite_exec_cache_free(KiteExecCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteExecCache, kite_exec_cache_free)

/* Keep @len bytes of @data, an executable a shadow sent, under the
 * SHA-256 the startd computes itself (a shadow's word is never taken
 * for what a hash names).  Best effort: a failure is logged. */
void kite_exec_cache_add(KiteExecCache *cache, const guint8 *data, gsize len);

/* TRUE if the executable with SHA-256 @sha256 (64 hex digits) is kept. */
gboolean kite_exec_cache_has(KiteExecCache *cache, const char *sha256);

/* Put the executable with SHA-256 @sha256 into @sandbox as @name for a
 * job of @user.  KITE_ERROR_NOT_FOUND if it is not kept. */
gboolean kite_exec_cache_place(KiteExecCache *cache, const char *sha256, const char *sandbox,
			       const char *name, const KiteJobUser *user, GError **error);

G_END_DECLS
