/* gc.c — the collector.  Every gc_interval: forget abandoned uploads,
 * retire allocations whose lease ended (their manifests go at once),
 * forget retired ones after `retention`, and, for each owner with no
 * upload in progress, mark the chunks its committed manifests reference
 * and sweep its packs: a pack with nothing referenced is deleted, one
 * with less than compact_below of it referenced has its live chunks
 * copied to a new pack, a slice at a time from an idle callback so that
 * transfers never wait long, then is deleted.  An upload that starts for
 * that owner (its epoch changes) stops the work; copies already made are
 * harmless duplicates that a later collection removes. */
#include <string.h>

#include "ckpt-server.h"
#include "util.h"

#define STEP_BYTES (8u << 20)

typedef struct {
	KiteOwner *owner;
	guint epoch;
	GArray *packs; /* ids to compact */
	guint next;    /* index into packs */
	GPtrArray *todo; /* live KiteChunkLoc* of the pack being compacted */
	guint pos;
} Compaction;

struct _KiteCkptGc {
	KiteCkptServer *s;
	guint timer;
	guint soon;
	guint idle;
	GQueue jobs; /* Compaction* */
};

static void compaction_free(Compaction *c)
{
	g_array_unref(c->packs);
	if (c->todo)
		g_ptr_array_unref(c->todo);
	g_free(c);
}

/* Mark and sweep one owner; queue the packs to compact. */
static void collect_owner(KiteCkptServer *s, KiteOwner *o)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
	g_autoptr(GHashTable) live = g_hash_table_new(NULL, NULL); /* pack id -> bytes */
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, s->allocs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		KiteAlloc *a = v;
		if (a->owner != o || !g_str_equal(a->state, "active") || a->generation == 0)
			continue;
		gboolean cached = a->manifest != NULL;
		g_autoptr(GError) error = NULL;
		KiteManifest *m = kite_store_manifest(s, a, &error);
		if (!m) {
			/* Not knowing what an image needs, keep everything. */
			g_warning("collector: leaving %s's packs alone: %s", o->name, error->message);
			return;
		}
		for (guint i = 0; i < m->chunks->len; i++) {
			KiteChunkLoc *loc = kite_store_lookup(o, g_array_index(m->chunks, KiteChunkRef, i).hash);
			if (!loc || !g_hash_table_add(seen, loc))
				continue;
			gsize *bytes = g_hash_table_lookup(live, GUINT_TO_POINTER(loc->pack));
			gsize add = sizeof(KiteCkptPackHeader) + loc->len;
			g_hash_table_insert(live, GUINT_TO_POINTER(loc->pack),
					    GSIZE_TO_POINTER(GPOINTER_TO_SIZE(bytes) + add));
		}
		if (!cached)
			g_clear_pointer(&a->manifest, kite_manifest_free);
	}
	/* The pack appended to so far is swept too: new chunks go to a new one. */
	o->current = NULL;
	o->live = 0;
	Compaction *c = NULL;
	g_autoptr(GPtrArray) dead = g_ptr_array_new();
	g_hash_table_iter_init(&it, o->packs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		KitePack *p = v;
		p->live = GPOINTER_TO_SIZE(g_hash_table_lookup(live, GUINT_TO_POINTER(p->id)));
		o->live += p->live;
		switch (kite_gc_pack_action(p->size, p->live, FALSE, s->limits.compact_below)) {
		case KITE_GC_DELETE:
			g_ptr_array_add(dead, p);
			break;
		case KITE_GC_COMPACT:
			if (!c) {
				c = g_new0(Compaction, 1);
				c->owner = o;
				c->epoch = o->epoch;
				c->packs = g_array_new(FALSE, FALSE, sizeof(guint32));
			}
			g_array_append_val(c->packs, p->id);
			break;
		case KITE_GC_KEEP:
			break;
		}
	}
	for (guint i = 0; i < dead->len; i++) {
		KitePack *p = dead->pdata[i];
		g_message("collector: %s: pack %u (%" G_GUINT64_FORMAT " bytes) holds nothing referenced: deleted",
			  o->name, p->id, p->size);
		kite_store_pack_delete(s, o, p);
	}
	if (c)
		g_queue_push_tail(&s->gc->jobs, c);
}

/* One slice of the first queued compaction; FALSE when none is left. */
static gboolean compact_step(KiteCkptServer *s)
{
	Compaction *c = g_queue_peek_head(&s->gc->jobs);
	if (!c)
		return FALSE;
	KiteOwner *o = c->owner;
	if (o->epoch != c->epoch || o->uploads) {
		g_queue_pop_head(&s->gc->jobs);
		compaction_free(c);
		return TRUE;
	}
	if (c->next >= c->packs->len) {
		g_queue_pop_head(&s->gc->jobs);
		compaction_free(c);
		return TRUE;
	}
	guint32 id = g_array_index(c->packs, guint32, c->next);
	KitePack *p = g_hash_table_lookup(o->packs, GUINT_TO_POINTER(id));
	if (!p) {
		c->next++;
		return TRUE;
	}
	if (!c->todo) {
		/* the live chunks of this pack: referenced ones only */
		c->todo = g_ptr_array_new();
		c->pos = 0;
		g_autoptr(GHashTable) refs = g_hash_table_new(NULL, NULL);
		GHashTableIter it;
		gpointer v;
		g_hash_table_iter_init(&it, s->allocs);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			KiteAlloc *a = v;
			if (a->owner != o || !g_str_equal(a->state, "active") || a->generation == 0)
				continue;
			gboolean cached = a->manifest != NULL;
			KiteManifest *m = kite_store_manifest(s, a, NULL);
			if (!m) {
				g_queue_pop_head(&s->gc->jobs);
				compaction_free(c);
				return TRUE;
			}
			for (guint i = 0; i < m->chunks->len; i++) {
				KiteChunkLoc *loc = kite_store_lookup(o, g_array_index(m->chunks, KiteChunkRef, i).hash);
				if (loc && loc->pack == id && g_hash_table_add(refs, loc))
					g_ptr_array_add(c->todo, loc);
			}
			if (!cached)
				g_clear_pointer(&a->manifest, kite_manifest_free);
		}
	}
	g_autoptr(GError) error = NULL;
	gsize copied = 0;
	while (c->pos < c->todo->len && copied < STEP_BYTES) {
		KiteChunkLoc *loc = c->todo->pdata[c->pos++];
		if (!kite_store_pack_copy_chunk(s, o, loc, &error)) {
			g_warning("collector: %s: compaction of pack %u stopped: %s", o->name, id, error->message);
			g_queue_pop_head(&s->gc->jobs);
			compaction_free(c);
			return TRUE;
		}
		copied += sizeof(KiteCkptPackHeader) + loc->len;
	}
	if (c->pos < c->todo->len)
		return TRUE;
	/* Every live chunk has a durable copy: the old pack can go. */
	if (!kite_store_sync(s, o, &error)) {
		g_warning("collector: %s: %s", o->name, error->message);
		g_queue_pop_head(&s->gc->jobs);
		compaction_free(c);
		return TRUE;
	}
	g_message("collector: %s: pack %u compacted (%u live chunks of %" G_GUINT64_FORMAT " bytes moved)", o->name,
		  id, c->todo->len, p->size);
	kite_store_pack_delete(s, o, p);
	g_clear_pointer(&c->todo, g_ptr_array_unref);
	c->next++;
	return TRUE;
}

static gboolean idle_step(gpointer data)
{
	KiteCkptGc *gc = data;
	if (compact_step(gc->s))
		return G_SOURCE_CONTINUE;
	gc->idle = 0;
	return G_SOURCE_REMOVE;
}

void kite_gc_collect(KiteCkptServer *s)
{
	kite_ckpt_uploads_expire(s, kite_now_monotonic());
	gint64 now = kite_now_wall();
	g_autoptr(GPtrArray) forget = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, s->allocs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		KiteAlloc *a = v;
		g_autoptr(GError) error = NULL;
		if (g_str_equal(a->state, "active") && kite_lease_expired(a->expires, now)) {
			g_message("collector: lease of %s (%s) ended: its image is dropped", a->id, a->owner->name);
			if (!kite_store_alloc_retire(s, a, "expired", &error))
				g_warning("collector: %s", error->message);
		} else if (!g_str_equal(a->state, "active") && now - a->expires > s->limits.retention) {
			g_ptr_array_add(forget, a);
		}
	}
	for (guint i = 0; i < forget->len; i++)
		kite_store_alloc_forget(s, forget->pdata[i]);
	/* One compaction queue at a time: a new collection starts afresh. */
	g_queue_clear_full(&s->gc->jobs, (GDestroyNotify)compaction_free);
	g_hash_table_iter_init(&it, s->owners);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		KiteOwner *o = v;
		if (!o->uploads)
			collect_owner(s, o);
	}
	if (!g_queue_is_empty(&s->gc->jobs) && !s->gc->idle)
		s->gc->idle = g_idle_add_full(G_PRIORITY_LOW, idle_step, s->gc, NULL);
}

static gboolean on_timer(gpointer data)
{
	KiteCkptGc *gc = data;
	kite_gc_collect(gc->s);
	return G_SOURCE_CONTINUE;
}

static gboolean on_soon(gpointer data)
{
	KiteCkptGc *gc = data;
	gc->soon = 0;
	kite_gc_collect(gc->s);
	return G_SOURCE_REMOVE;
}

void kite_gc_soon(KiteCkptServer *s)
{
	if (s->gc && !s->gc->soon)
		s->gc->soon = g_idle_add_full(G_PRIORITY_LOW, on_soon, s->gc, NULL);
}

KiteCkptGc *kite_gc_start(KiteCkptServer *s)
{
	KiteCkptGc *gc = g_new0(KiteCkptGc, 1);
	gc->s = s;
	g_queue_init(&gc->jobs);
	s->gc = gc;
	guint ms = (guint)CLAMP(s->limits.gc_interval * 1000, 100, 24 * 3600 * 1000);
	gc->timer = g_timeout_add(ms, on_timer, gc);
	return gc;
}

void kite_gc_stop(KiteCkptGc *gc)
{
	if (!gc)
		return;
	if (gc->timer)
		g_source_remove(gc->timer);
	if (gc->soon)
		g_source_remove(gc->soon);
	if (gc->idle)
		g_source_remove(gc->idle);
	g_queue_clear_full(&gc->jobs, (GDestroyNotify)compaction_free);
	g_free(gc);
}
