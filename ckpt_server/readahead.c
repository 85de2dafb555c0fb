/* readahead.c — CKPT_GET replies assembled one request ahead, on worker
 * threads.
 *
 * A reader asks for an image's chunks in order, several GETs in flight
 * (common/ckpt-store.c).  Assembling a reply reads every chunk from its
 * pack, for the first time, to check its CRC32C and copy it into the
 * reply; on the main loop that was about half of the server's CPU per
 * restored GiB, and the loop sent nothing while it did it.  So once a
 * GET is answered, the range the reader will ask for next (by its own
 * rule, kite_ckpt_get_count()) is assembled by a worker while the loop
 * sends, and the GET that names exactly that range takes it ready.
 * Anything else — another range, a chunk that failed its check, the
 * image replaced, no slot free — is answered on the loop as before,
 * which is also what says which chunk failed and why.
 *
 * What a worker touches: the pack mappings the loop resolved for it (and
 * the bytes it copies out), nothing else.  The loop unmaps a pack only
 * after kite_readahead_quiesce() (store.c), which waits for the jobs
 * queued or running (a 2 MiB job takes about half a millisecond).  The
 * index, the manifests and the allocations stay the loop's alone. */
#include <string.h>

#include "ckpt-server.h"
#include "libckpt/crc32c.h"

/* Replies kept ready at once (each at most one GET's bytes, 2 MiB for
 * the readers Kite ships): one per reader restoring at the same time;
 * past that, the GETs of the readers left over are answered on the loop
 * (a reply nobody took is dropped once it is stale). */
#define SLOTS 8
/* A reply nobody took for this long is dropped (its reader went away). */
#define STALE_US (10 * G_USEC_PER_SEC)

typedef struct {
	const guint8 *at; /* the chunk's pack header in a mapping, its data after it */
	const KitePack *pack; /* (while the job is resolved) */
	guint64 off;
	guint8 hash[KITE_CHUNK_HASH_BYTES];
	guint32 len, crc;
} Piece;

typedef struct {
	char image[KITE_ALLOC_ID_LEN + 1];
	guint64 generation, first;
	guint32 count;
	Piece *pieces;
	guint8 *out;
	gsize total;
	gint64 started;
	gboolean done, ok;
} Job;

static struct {
	GThreadPool *pool;
	GMutex lock;
	GCond cond;
	guint busy; /* jobs queued or running: they hold pointers into mappings */
	Job *slots[SLOTS];
} ra;

static void job_free(Job *j)
{
	g_free(j->pieces);
	g_free(j->out);
	g_free(j);
}

/* The worker: check each chunk and copy it into the reply. */
static void assemble(gpointer data, gpointer user_data)
{
	(void)user_data;
	Job *j = data;
	guint8 *out = g_malloc(j->total ? j->total : 1);
	gsize pos = 0;
	gboolean ok = TRUE;
	for (guint32 i = 0; i < j->count && ok; i++) {
		const Piece *p = &j->pieces[i];
		ok = kite_store_chunk_intact(p->at, p->hash, p->len, p->crc);
		if (ok)
			memcpy(out + pos, p->at + sizeof(KiteCkptPackHeader), p->len);
		pos += p->len;
	}
	g_mutex_lock(&ra.lock);
	j->out = out;
	j->ok = ok;
	j->done = TRUE;
	ra.busy--;
	g_cond_broadcast(&ra.cond);
	g_mutex_unlock(&ra.lock);
}

void kite_readahead_init(void)
{
	/* (ra.lock and ra.cond are static: GLib needs no init for those) */
	if (ra.pool)
		return;
	kite_crc32c(0, NULL, 0); /* its tables are set up on first use: here, before any worker */
	guint workers = CLAMP(g_get_num_processors(), 1, SLOTS);
	ra.pool = g_thread_pool_new(assemble, NULL, (gint)workers, FALSE, NULL);
}

void kite_readahead_shutdown(void)
{
	if (!ra.pool)
		return;
	g_thread_pool_free(ra.pool, FALSE, TRUE); /* waits for the jobs */
	ra.pool = NULL;
	for (guint i = 0; i < SLOTS; i++)
		g_clear_pointer(&ra.slots[i], job_free);
	ra.busy = 0;
}

void kite_readahead_quiesce(void)
{
	if (!ra.pool)
		return;
	g_mutex_lock(&ra.lock);
	while (ra.busy)
		g_cond_wait(&ra.cond, &ra.lock);
	g_mutex_unlock(&ra.lock);
}

guint8 *kite_readahead_take(const KiteAlloc *a, guint64 generation, guint64 first, guint32 count, gsize *out_len)
{
	if (!ra.pool)
		return NULL;
	Job *j = NULL;
	g_mutex_lock(&ra.lock);
	for (guint i = 0; i < SLOTS && !j; i++) {
		Job *s = ra.slots[i];
		if (s && s->first == first && s->count == count && s->generation == generation &&
		    strcmp(s->image, a->id) == 0) {
			j = s;
			ra.slots[i] = NULL;
		}
	}
	while (j && !j->done)
		g_cond_wait(&ra.cond, &ra.lock);
	g_mutex_unlock(&ra.lock);
	if (!j)
		return NULL;
	guint8 *out = NULL;
	if (j->ok) {
		out = g_steal_pointer(&j->out);
		*out_len = j->total;
	}
	job_free(j);
	return out;
}

/* A free slot, emptying one whose reply went stale; -1 if none.  Called
 * with the lock held. */
static int free_slot(void)
{
	gint64 now = g_get_monotonic_time();
	int oldest = -1;
	for (int i = 0; i < SLOTS; i++) {
		Job *s = ra.slots[i];
		if (!s)
			return i;
		if (s->done && (oldest < 0 || s->started < ra.slots[oldest]->started))
			oldest = i;
	}
	if (oldest >= 0 && now - ra.slots[oldest]->started > STALE_US) {
		g_clear_pointer(&ra.slots[oldest], job_free);
		return oldest;
	}
	/* all busy or fresh: the newest reader waits its turn (the loop
	 * answers it as before) */
	return -1;
}

void kite_readahead_start(KiteAlloc *a, const KiteManifest *m, guint64 first)
{
	if (!ra.pool || first >= m->chunks->len)
		return;
	guint32 count = kite_ckpt_get_count(m, first);
	g_mutex_lock(&ra.lock);
	int slot = free_slot();
	g_mutex_unlock(&ra.lock);
	if (slot < 0)
		return;
	Job *j = g_new0(Job, 1);
	g_strlcpy(j->image, a->id, sizeof j->image);
	j->generation = m->generation;
	j->first = first;
	j->count = count;
	j->pieces = g_new(Piece, count);
	/* Resolved here, on the loop, in two passes: mapping a pack that grew
	 * (after waiting for the workers) unmaps its older mapping, which an
	 * earlier chunk of this reply may lie in; so first every pack is
	 * mapped as far as this reply needs, then the pointers are taken.  A
	 * chunk that is not where the index says is left to the loop to
	 * report. */
	for (guint32 i = 0; i < count; i++) {
		const KiteChunkRef *r = &g_array_index(m->chunks, KiteChunkRef, first + i);
		const KiteChunkLoc *loc = kite_store_lookup(a->owner, r->hash);
		const KitePack *p = loc && loc->len == r->len && loc->crc == r->crc
					? kite_store_chunk_pack(a->owner, loc, NULL)
					: NULL;
		if (!p) {
			job_free(j);
			return;
		}
		j->pieces[i] = (Piece){.pack = p, .off = loc->off, .len = r->len, .crc = r->crc};
		memcpy(j->pieces[i].hash, r->hash, sizeof j->pieces[i].hash);
		j->total += r->len;
	}
	for (guint32 i = 0; i < count; i++)
		j->pieces[i].at = (const guint8 *)j->pieces[i].pack->map + j->pieces[i].off;
	j->started = g_get_monotonic_time();
	g_mutex_lock(&ra.lock);
	/* (the slot is still free: only the loop fills slots) */
	ra.slots[slot] = j;
	ra.busy++;
	g_mutex_unlock(&ra.lock);
	g_thread_pool_push(ra.pool, j, NULL);
}
