/* store.c — the checkpoint server's storage.
 *
 *   STATE/ckpt.db                 SQLite (WAL): owners, allocations (the
 *                                 digests of their capabilities, lease,
 *                                 state) and how much of each pack is
 *                                 known durable
 *   STATE/packs/OWNER/N.pack      chunks appended as they arrive, each a
 *                                 KiteCkptPackHeader and its data
 *   STATE/manifests/ID.manifest   the committed image of allocation ID
 *
 * The chunk index is kept in memory, one hash table per owner (dedup
 * stays within an owner), and rebuilt by scanning the packs at start:
 * the packs describe themselves, so the index can never disagree with
 * them.  Bytes past a pack's durable size are checked (length, CRC32C,
 * hash) during that scan and the pack is cut at the first bad chunk:
 * they were written by an upload that never committed, or are torn.
 *
 * Commit order: chunks (fdatasync'd) before the manifest that names
 * them; manifest through a temporary file, fsync, rename, fsync of the
 * directory.  Nothing here prints except the start-up scan's notes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "auth.h"
#include "ckpt-server.h"
#include "libckpt/crc32c.h"
#include "util.h"

static guint loc_hash(gconstpointer p)
{
	guint h;
	memcpy(&h, ((const KiteChunkLoc *)p)->hash, sizeof h);
	return h;
}

static gboolean loc_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(((const KiteChunkLoc *)a)->hash, ((const KiteChunkLoc *)b)->hash, KITE_CHUNK_HASH_BYTES) == 0;
}

static void pack_free(KitePack *p)
{
	if (p->map) {
		kite_readahead_quiesce(); /* a worker may be reading it */
		munmap(p->map, p->map_len);
	}
	if (p->fd >= 0)
		close(p->fd);
	g_free(p);
}

static void owner_free(KiteOwner *o)
{
	g_hash_table_unref(o->index);
	g_hash_table_unref(o->packs);
	g_free(o->name);
	g_free(o);
}

static void alloc_free(KiteAlloc *a)
{
	kite_manifest_free(a->manifest);
	g_free(a);
}

static gboolean db_exec(sqlite3 *db, const char *sql, GError **error)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		kite_throw(error, KITE_ERROR_IO, "ckpt.db: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return FALSE;
	}
	return TRUE;
}

static gboolean db_fail(sqlite3 *db, GError **error)
{
	return kite_throw(error, KITE_ERROR_IO, "ckpt.db: %s", sqlite3_errmsg(db));
}

static char *pack_path(KiteCkptServer *s, KiteOwner *o, guint32 id)
{
	g_autofree char *name = g_strdup_printf("%u.pack", id);
	g_autofree char *dir = g_strdup_printf("%" G_GINT64_FORMAT, o->id);
	return g_build_filename(s->state_dir, "packs", dir, name, NULL);
}

static char *manifest_path(KiteCkptServer *s, const char *id)
{
	g_autofree char *name = g_strdup_printf("%s.manifest", id);
	return g_build_filename(s->state_dir, "manifests", name, NULL);
}

static gboolean pack_map(KitePack *p, guint64 need, GError **error)
{
	if (p->map && p->map_len >= need)
		return TRUE;
	if (p->map) {
		kite_readahead_quiesce(); /* a worker may be reading it */
		munmap(p->map, p->map_len);
	}
	p->map = NULL;
	p->map_len = 0;
	if (p->size == 0)
		return TRUE;
	void *m = mmap(NULL, p->size, PROT_READ, MAP_SHARED, p->fd, 0);
	if (m == MAP_FAILED)
		return kite_throw_errno(error, "mmap pack %u", p->id);
	p->map = m;
	p->map_len = p->size;
	return TRUE;
}

static gboolean pack_durable_save(KiteCkptServer *s, KiteOwner *o, KitePack *p, GError **error)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO packs(owner, id, durable) VALUES (?, ?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		return db_fail(s->db, error);
	sqlite3_bind_int64(st, 1, o->id);
	sqlite3_bind_int64(st, 2, p->id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)p->durable);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || db_fail(s->db, error);
}

/* Check a chunk in full: header, length, CRC32C and hash. */
static gboolean chunk_ok(const KiteCkptPackHeader *h, const guint8 *data, gsize avail)
{
	if (h->magic != KITE_PACK_MAGIC || h->len == 0 || h->len > KITE_CHUNK_MAX || h->len > avail)
		return FALSE;
	guint8 hash[KITE_CHUNK_HASH_BYTES];
	kite_chunk_hash(data, h->len, hash);
	return kite_crc32c(0, data, h->len) == h->crc && memcmp(hash, h->hash, sizeof hash) == 0;
}

/* Index the chunks of pack @p; cut it at the first bad chunk past its
 * durable size. */
static gboolean pack_scan(KiteCkptServer *s, KiteOwner *o, KitePack *p, GError **error)
{
	if (!pack_map(p, p->size, error))
		return FALSE;
	const guint8 *m = p->map;
	guint64 off = 0;
	while (off + sizeof(KiteCkptPackHeader) <= p->size) {
		KiteCkptPackHeader h;
		memcpy(&h, m + off, sizeof h);
		guint64 avail = p->size - off - sizeof h;
		gboolean ok = h.magic == KITE_PACK_MAGIC && h.len > 0 && h.len <= KITE_CHUNK_MAX && h.len <= avail;
		if (ok && off >= p->durable)
			ok = chunk_ok(&h, m + off + sizeof h, avail);
		if (!ok)
			break;
		KiteChunkLoc key;
		memcpy(key.hash, h.hash, sizeof key.hash);
		if (!g_hash_table_contains(o->index, &key)) {
			KiteChunkLoc *loc = g_new(KiteChunkLoc, 1);
			*loc = (KiteChunkLoc){.pack = p->id, .len = h.len, .crc = h.crc, .off = off};
			memcpy(loc->hash, h.hash, sizeof loc->hash);
			g_hash_table_add(o->index, loc);
		}
		off += sizeof h + h.len;
	}
	if (off < p->size) {
		if (off < p->durable)
			g_warning("pack %u of %s: damaged chunk at offset %" G_GUINT64_FORMAT
				  " inside its durable part; later chunks of this pack are unreachable",
				  p->id, o->name, off);
		else
			g_message("pack %u of %s: dropping %" G_GUINT64_FORMAT " bytes of an upload that never committed",
				  p->id, o->name, p->size - off);
		munmap(p->map, p->map_len);
		p->map = NULL;
		p->map_len = 0;
		if (ftruncate(p->fd, (off_t)off) < 0)
			return kite_throw_errno(error, "truncate pack %u", p->id);
		p->size = off;
	}
	if (p->durable > p->size)
		p->durable = p->size;
	return TRUE;
}

static KitePack *pack_open(KiteCkptServer *s, KiteOwner *o, guint32 id, gboolean create, GError **error)
{
	g_autofree char *path = pack_path(s, o, id);
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd < 0) {
		kite_throw_errno(error, "open %s", path);
		return NULL;
	}
	struct stat st;
	fstat(fd, &st);
	KitePack *p = g_new0(KitePack, 1);
	p->id = id;
	p->fd = fd;
	p->size = (guint64)st.st_size;
	g_hash_table_insert(o->packs, GUINT_TO_POINTER(id), p);
	if (id >= o->next_pack)
		o->next_pack = id + 1;
	return p;
}

static KiteOwner *owner_add(KiteCkptServer *s, gint64 id, const char *name)
{
	KiteOwner *o = g_new0(KiteOwner, 1);
	o->id = id;
	o->name = g_strdup(name);
	o->index = g_hash_table_new_full(loc_hash, loc_equal, g_free, NULL);
	o->packs = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)pack_free);
	o->next_pack = 1;
	g_hash_table_insert(s->owners, o->name, o);
	return o;
}

KiteOwner *kite_store_owner(KiteCkptServer *s, const char *name, GError **error)
{
	KiteOwner *o = g_hash_table_lookup(s->owners, name);
	if (o)
		return o;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO owners(name) VALUES (?)", -1, &st, NULL) != SQLITE_OK) {
		db_fail(s->db, error);
		return NULL;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_fail(s->db, error);
		return NULL;
	}
	o = owner_add(s, sqlite3_last_insert_rowid(s->db), name);
	g_autofree char *dir = g_strdup_printf("%s/packs/%" G_GINT64_FORMAT, s->state_dir, o->id);
	if (g_mkdir_with_parents(dir, 0700) < 0) {
		kite_throw_errno(error, "create %s", dir);
		return NULL;
	}
	return o;
}

static void digest_index(KiteCkptServer *s, KiteAlloc *a)
{
	const guint8 *d[] = {a->read_digest, a->write_digest, a->manage_digest};
	for (int i = 0; i < 3; i++)
		g_hash_table_insert(s->digests, g_bytes_new(d[i], KITE_CAP_DIGEST_BYTES), a);
}

static void digest_unindex(KiteCkptServer *s, KiteAlloc *a)
{
	const guint8 *d[] = {a->read_digest, a->write_digest, a->manage_digest};
	for (int i = 0; i < 3; i++) {
		g_autoptr(GBytes) k = g_bytes_new_static(d[i], KITE_CAP_DIGEST_BYTES);
		g_hash_table_remove(s->digests, k);
	}
}

/* Read generation, size and chunk count of @a's committed manifest. */
static void manifest_header(KiteCkptServer *s, KiteAlloc *a)
{
	g_autofree char *path = manifest_path(s, a->id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	guint8 h[KITE_MANIFEST_HEADER];
	if (pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h && memcmp(h, KITE_MANIFEST_MAGIC, 8) == 0) {
		memcpy(&a->generation, h + 16, 8);
		memcpy(&a->nchunks, h + 24, 8);
		memcpy(&a->size, h + 32, 8);
		a->generation = GUINT64_FROM_LE(a->generation);
		a->nchunks = GUINT64_FROM_LE(a->nchunks);
		a->size = GUINT64_FROM_LE(a->size);
	} else {
		/* A damaged header: readers are told so by kite_store_manifest. */
		a->generation = G_MAXUINT64;
	}
	close(fd);
}

static gint compare_u32(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
	return x < y ? -1 : x > y;
}

static gboolean load(KiteCkptServer *s, GError **error)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT id, name FROM owners", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s->db, error);
	while (sqlite3_step(st) == SQLITE_ROW)
		owner_add(s, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);

	/* packs: every file on disk, with its durable size from the database */
	g_autoptr(GHashTable) durable = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (sqlite3_prepare_v2(s->db, "SELECT owner, id, durable FROM packs", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s->db, error);
	while (sqlite3_step(st) == SQLITE_ROW)
		g_hash_table_insert(durable,
				    g_strdup_printf("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, (gint64)sqlite3_column_int64(st, 0),
						    (gint64)sqlite3_column_int64(st, 1)),
				    GSIZE_TO_POINTER((gsize)sqlite3_column_int64(st, 2)));
	sqlite3_finalize(st);
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, s->owners);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		KiteOwner *o = v;
		g_autofree char *dir = g_strdup_printf("%s/packs/%" G_GINT64_FORMAT, s->state_dir, o->id);
		g_mkdir_with_parents(dir, 0700);
		g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
		const char *name;
		g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint32));
		while (d && (name = g_dir_read_name(d))) {
			char *end;
			guint64 id = g_ascii_strtoull(name, &end, 10);
			if (g_str_equal(end, ".pack") && id > 0 && id < G_MAXUINT32) {
				guint32 id32 = (guint32)id;
				g_array_append_val(ids, id32);
			}
		}
		/* oldest first, so that a chunk copied by an interrupted
		 * compaction is found where it was first */
		g_array_sort(ids, compare_u32);
		for (guint i = 0; i < ids->len; i++) {
			guint32 id = g_array_index(ids, guint32, i);
			KitePack *p = pack_open(s, o, id, FALSE, error);
			if (!p)
				return FALSE;
			g_autofree char *k = g_strdup_printf("%" G_GINT64_FORMAT "/%u", o->id, id);
			p->durable = GPOINTER_TO_SIZE(g_hash_table_lookup(durable, k));
			if (!pack_scan(s, o, p, error))
				return FALSE;
			o->used += p->size;
			s->used += p->size;
		}
	}

	if (sqlite3_prepare_v2(s->db,
			       "SELECT a.id, o.name, read_digest, write_digest, manage_digest, created, expires, "
			       "expected, state FROM allocations a JOIN owners o ON o.id = a.owner",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(s->db, error);
	while (sqlite3_step(st) == SQLITE_ROW) {
		KiteAlloc *a = g_new0(KiteAlloc, 1);
		g_strlcpy(a->id, (const char *)sqlite3_column_text(st, 0), sizeof a->id);
		a->owner = g_hash_table_lookup(s->owners, sqlite3_column_text(st, 1));
		memcpy(a->read_digest, sqlite3_column_blob(st, 2), KITE_CAP_DIGEST_BYTES);
		memcpy(a->write_digest, sqlite3_column_blob(st, 3), KITE_CAP_DIGEST_BYTES);
		memcpy(a->manage_digest, sqlite3_column_blob(st, 4), KITE_CAP_DIGEST_BYTES);
		a->created = sqlite3_column_int64(st, 5);
		a->expires = sqlite3_column_int64(st, 6);
		a->expected = (guint64)sqlite3_column_int64(st, 7);
		g_strlcpy(a->state, (const char *)sqlite3_column_text(st, 8), sizeof a->state);
		if (g_str_equal(a->state, "active"))
			manifest_header(s, a);
		g_hash_table_insert(s->allocs, a->id, a);
		digest_index(s, a);
	}
	sqlite3_finalize(st);

	/* manifests of no allocation, and temporary files of a commit cut short */
	g_autofree char *mdir = g_build_filename(s->state_dir, "manifests", NULL);
	g_autoptr(GDir) d = g_dir_open(mdir, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *id = g_strndup(name, strcspn(name, "."));
		KiteAlloc *a = g_hash_table_lookup(s->allocs, id);
		if (name[0] == '.' || !g_str_has_suffix(name, ".manifest") || !a || !g_str_equal(a->state, "active")) {
			g_autofree char *p = g_build_filename(mdir, name, NULL);
			unlink(p);
		}
	}
	return TRUE;
}

gboolean kite_store_open(KiteCkptServer *s, GError **error)
{
	s->owners = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)owner_free);
	s->allocs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)alloc_free);
	s->digests = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
	g_autofree char *packs = g_build_filename(s->state_dir, "packs", NULL);
	g_autofree char *manifests = g_build_filename(s->state_dir, "manifests", NULL);
	if (g_mkdir_with_parents(packs, 0700) < 0 || g_mkdir_with_parents(manifests, 0700) < 0)
		return kite_throw_errno(error, "create %s/{packs,manifests}", s->state_dir);
	g_autofree char *db = g_build_filename(s->state_dir, "ckpt.db", NULL);
	if (sqlite3_open_v2(db, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK)
		return kite_throw(error, KITE_ERROR_IO, "open %s: %s", db, s->db ? sqlite3_errmsg(s->db) : "no memory");
	if (!db_exec(s->db,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "CREATE TABLE IF NOT EXISTS owners(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
		     "CREATE TABLE IF NOT EXISTS allocations(id TEXT PRIMARY KEY, owner INTEGER NOT NULL,"
		     " read_digest BLOB NOT NULL, write_digest BLOB NOT NULL, manage_digest BLOB NOT NULL,"
		     " created INTEGER NOT NULL, expires INTEGER NOT NULL, expected INTEGER NOT NULL,"
		     " state TEXT NOT NULL);"
		     "CREATE TABLE IF NOT EXISTS packs(owner INTEGER NOT NULL, id INTEGER NOT NULL,"
		     " durable INTEGER NOT NULL, PRIMARY KEY(owner, id));",
		     error))
		return FALSE;
	return load(s, error);
}

void kite_store_close(KiteCkptServer *s)
{
	g_clear_pointer(&s->digests, g_hash_table_unref);
	g_clear_pointer(&s->allocs, g_hash_table_unref);
	g_clear_pointer(&s->owners, g_hash_table_unref);
	if (s->db)
		sqlite3_close(s->db);
	s->db = NULL;
}

KiteAlloc *kite_store_alloc_new(KiteCkptServer *s, KiteOwner *o, guint64 expected, gint64 expires,
				char *out_caps[3], GError **error)
{
	guint8 raw[KITE_ALLOC_ID_LEN / 2];
	if (!kite_auth_random(raw, sizeof raw, error))
		return NULL;
	g_autofree char *caps[3] = {kite_cap_new(KITE_CAP_READ, error), NULL, NULL};
	if (!caps[0] || !(caps[1] = kite_cap_new(KITE_CAP_WRITE, error)) ||
	    !(caps[2] = kite_cap_new(KITE_CAP_MANAGE, error)))
		return NULL;
	KiteAlloc *a = g_new0(KiteAlloc, 1);
	for (gsize i = 0; i < sizeof raw; i++)
		sprintf(a->id + 2 * i, "%02x", raw[i]);
	a->owner = o;
	kite_cap_digest(caps[0], a->read_digest);
	kite_cap_digest(caps[1], a->write_digest);
	kite_cap_digest(caps[2], a->manage_digest);
	a->created = kite_now_wall();
	a->expires = expires;
	a->expected = expected;
	strcpy(a->state, "active");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO allocations(id, owner, read_digest, write_digest, manage_digest, created, "
			       "expires, expected, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(s->db, error);
		g_free(a);
		return NULL;
	}
	sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, o->id);
	sqlite3_bind_blob(st, 3, a->read_digest, KITE_CAP_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, a->write_digest, KITE_CAP_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, a->manage_digest, KITE_CAP_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, a->created);
	sqlite3_bind_int64(st, 7, a->expires);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)a->expected);
	sqlite3_bind_text(st, 9, a->state, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_fail(s->db, error);
		g_free(a);
		return NULL;
	}
	g_hash_table_insert(s->allocs, a->id, a);
	digest_index(s, a);
	for (int i = 0; i < 3; i++)
		out_caps[i] = g_steal_pointer(&caps[i]);
	return a;
}

gboolean kite_store_alloc_save(KiteCkptServer *s, KiteAlloc *a, GError **error)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "UPDATE allocations SET expires = ?, state = ? WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(s->db, error);
	sqlite3_bind_int64(st, 1, a->expires);
	sqlite3_bind_text(st, 2, a->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || db_fail(s->db, error);
}

gboolean kite_store_alloc_retire(KiteCkptServer *s, KiteAlloc *a, const char *state, GError **error)
{
	g_strlcpy(a->state, state, sizeof a->state);
	if (!kite_store_alloc_save(s, a, error))
		return FALSE;
	g_autofree char *path = manifest_path(s, a->id);
	unlink(path);
	g_clear_pointer(&a->manifest, kite_manifest_free);
	a->generation = a->size = a->nchunks = 0;
	return TRUE;
}

void kite_store_alloc_forget(KiteCkptServer *s, KiteAlloc *a)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM allocations WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	digest_unindex(s, a);
	g_hash_table_remove(s->allocs, a->id);
}

KiteChunkLoc *kite_store_lookup(KiteOwner *o, const guint8 hash[KITE_CHUNK_HASH_BYTES])
{
	KiteChunkLoc key;
	memcpy(key.hash, hash, sizeof key.hash);
	return g_hash_table_lookup(o->index, &key);
}

static KitePack *current_pack(KiteCkptServer *s, KiteOwner *o, GError **error)
{
	if (o->current && o->current->size < s->limits.pack_size)
		return o->current;
	o->current = pack_open(s, o, o->next_pack, TRUE, error);
	return o->current;
}

gboolean kite_store_append(KiteCkptServer *s, KiteOwner *o, guint n, const guint8 *const *hashes,
			   const guint8 *const *data, const guint32 *lens, GError **error)
{
	guint i = 0;
	while (i < n) {
		KitePack *p = current_pack(s, o, error);
		if (!p)
			return FALSE;
		/* one pwritev per slice of up to 512 chunks */
		struct iovec iov[1024];
		KiteCkptPackHeader hdr[512];
		guint k = 0;
		guint64 off = p->size, len = 0;
		for (; i < n && k < 512; i++, k++) {
			hdr[k] = (KiteCkptPackHeader){.magic = KITE_PACK_MAGIC,
						      .len = lens[i],
						      .crc = kite_crc32c(0, data[i], lens[i])};
			memcpy(hdr[k].hash, hashes[i], KITE_CHUNK_HASH_BYTES);
			iov[2 * k] = (struct iovec){&hdr[k], sizeof hdr[k]};
			iov[2 * k + 1] = (struct iovec){(void *)data[i], lens[i]};
			len += sizeof hdr[k] + lens[i];
		}
		/* pwritev may write less than asked: finish with plain writes */
		guint64 done = 0;
		int first = 0, cnt = 2 * (int)k;
		while (done < len) {
			ssize_t w = pwritev(p->fd, iov + first, cnt - first, (off_t)(off + done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				int e = errno;
				if (ftruncate(p->fd, (off_t)off) < 0) { /* leave no half chunk */
				}
				errno = e;
				return kite_throw_errno(error, "write pack %u of %s", p->id, o->name);
			}
			done += (guint64)w;
			while (first < cnt && (gsize)w >= iov[first].iov_len) {
				w -= (ssize_t)iov[first].iov_len;
				first++;
			}
			if (first < cnt) {
				iov[first].iov_base = (char *)iov[first].iov_base + w;
				iov[first].iov_len -= (gsize)w;
			}
		}
		guint64 pos = off;
		for (guint j = 0; j < k; j++) {
			KiteChunkLoc *loc = g_new(KiteChunkLoc, 1);
			*loc = (KiteChunkLoc){.pack = p->id, .len = hdr[j].len, .crc = hdr[j].crc, .off = pos};
			memcpy(loc->hash, hdr[j].hash, sizeof loc->hash);
			g_hash_table_replace(o->index, loc, loc);
			pos += sizeof hdr[j] + hdr[j].len;
		}
		p->size += len;
		o->used += len;
		s->used += len;
	}
	return TRUE;
}

gboolean kite_store_sync(KiteCkptServer *s, KiteOwner *o, GError **error)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, o->packs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		KitePack *p = v;
		if (p->durable == p->size)
			continue;
		if (fdatasync(p->fd) < 0)
			return kite_throw_errno(error, "fdatasync pack %u of %s", p->id, o->name);
		p->durable = p->size;
		if (!pack_durable_save(s, o, p, error))
			return FALSE;
	}
	return TRUE;
}

KitePack *kite_store_chunk_pack(KiteOwner *o, const KiteChunkLoc *loc, GError **error)
{
	KitePack *p = g_hash_table_lookup(o->packs, GUINT_TO_POINTER(loc->pack));
	if (!p || loc->off + sizeof(KiteCkptPackHeader) + loc->len > p->size) {
		kite_throw(error, KITE_ERROR_NOT_FOUND, "its pack does not hold it");
		return NULL;
	}
	return pack_map(p, loc->off + sizeof(KiteCkptPackHeader) + loc->len, error) ? p : NULL;
}

gboolean kite_store_chunk_intact(const guint8 *at, const guint8 hash[KITE_CHUNK_HASH_BYTES], guint32 len, guint32 crc)
{
	KiteCkptPackHeader h;
	memcpy(&h, at, sizeof h);
	/* The CRC32C alone on the way out: it catches any change to the
	 * stored bytes at a fraction of the hash's cost, and the reader
	 * checks the chunk's hash (its name) on arrival anyway.  The hash
	 * was checked when the chunk arrived. */
	return h.magic == KITE_PACK_MAGIC && h.reserved == 0 && h.len == len && h.crc == crc &&
	       memcmp(h.hash, hash, sizeof h.hash) == 0 && kite_crc32c(0, at + sizeof h, len) == h.crc;
}

const guint8 *kite_store_read_chunk(KiteCkptServer *s, KiteOwner *o, const KiteChunkLoc *loc, const char *image_id,
				    guint64 index, GError **error)
{
	char hex[33];
	g_autoptr(GError) local = NULL;
	KitePack *p = kite_store_chunk_pack(o, loc, &local);
	if (!p) {
		if (local->code != KITE_ERROR_NOT_FOUND) {
			g_propagate_error(error, g_steal_pointer(&local));
			return NULL;
		}
		kite_throw(error, KITE_ERROR_NOT_FOUND, "image %s: chunk %" G_GUINT64_FORMAT " (%s) is missing from the store",
			   image_id, index, kite_chunk_hash_hex(loc->hash, hex));
		return NULL;
	}
	const guint8 *at = (const guint8 *)p->map + loc->off;
	if (!kite_store_chunk_intact(at, loc->hash, loc->len, loc->crc)) {
		kite_throw(error, KITE_ERROR_INVALID,
			   "image %s: chunk %" G_GUINT64_FORMAT " (%s) is corrupt: its stored bytes fail their checksum; it "
			   "was not sent",
			   image_id, index, kite_chunk_hash_hex(loc->hash, hex));
		return NULL;
	}
	return at + sizeof(KiteCkptPackHeader);
}

gboolean kite_store_commit(KiteCkptServer *s, KiteAlloc *a, KiteManifest *m, GError **error)
{
	if (!kite_store_sync(s, a->owner, error))
		return FALSE;
	m->generation = (a->generation == G_MAXUINT64 ? 0 : a->generation) + 1;
	m->committed = kite_now_wall();
	g_strlcpy(m->id, a->id, sizeof m->id);
	g_autoptr(GBytes) bytes = kite_manifest_encode(m);
	g_autofree char *path = manifest_path(s, a->id);
	gsize len;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	if (!kite_write_file_atomic(path, data, len, 0600, error))
		return FALSE;
	g_clear_pointer(&a->manifest, kite_manifest_free);
	a->generation = m->generation;
	a->size = m->total;
	a->nchunks = m->chunks->len;
	return TRUE;
}

GBytes *kite_store_manifest_bytes(KiteCkptServer *s, KiteAlloc *a, GError **error)
{
	if (a->generation == 0) {
		kite_throw(error, KITE_ERROR_NOT_FOUND, "image %s: nothing has been committed to this allocation yet",
			   a->id);
		return NULL;
	}
	g_autofree char *path = manifest_path(s, a->id);
	g_autofree char *data = NULL;
	gsize len;
	g_autoptr(GError) local = NULL;
	if (!g_file_get_contents(path, &data, &len, &local)) {
		kite_throw(error, KITE_ERROR_IO, "image %s: cannot read its manifest: %s", a->id, local->message);
		return NULL;
	}
	g_autofree char *what = g_strdup_printf("image %s", a->id);
	g_autoptr(KiteManifest) m = kite_manifest_decode((const guint8 *)data, len, what, error);
	if (!m)
		return NULL;
	if (!a->manifest)
		a->manifest = g_steal_pointer(&m);
	return g_bytes_new_take(g_steal_pointer(&data), len);
}

KiteManifest *kite_store_manifest(KiteCkptServer *s, KiteAlloc *a, GError **error)
{
	if (a->manifest)
		return a->manifest;
	g_autoptr(GBytes) b = kite_store_manifest_bytes(s, a, error);
	return b ? a->manifest : NULL;
}

void kite_store_pack_delete(KiteCkptServer *s, KiteOwner *o, KitePack *p)
{
	GHashTableIter it;
	gpointer k;
	g_hash_table_iter_init(&it, o->index);
	while (g_hash_table_iter_next(&it, &k, NULL))
		if (((KiteChunkLoc *)k)->pack == p->id)
			g_hash_table_iter_remove(&it);
	g_autofree char *path = pack_path(s, o, p->id);
	unlink(path);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM packs WHERE owner = ? AND id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, o->id);
		sqlite3_bind_int64(st, 2, p->id);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	o->used -= p->size;
	s->used -= p->size;
	if (o->current == p)
		o->current = NULL;
	g_hash_table_remove(o->packs, GUINT_TO_POINTER(p->id));
}

/* Copy one chunk, as it is stored (a damaged one stays damaged and is
 * reported when read), to @o's current pack and point the index at it. */
gboolean kite_store_pack_copy_chunk(KiteCkptServer *s, KiteOwner *o, KiteChunkLoc *loc, GError **error)
{
	KitePack *from = g_hash_table_lookup(o->packs, GUINT_TO_POINTER(loc->pack));
	if (!from || !pack_map(from, loc->off + sizeof(KiteCkptPackHeader) + loc->len, error))
		return from ? FALSE : TRUE;
	KitePack *to = current_pack(s, o, error);
	if (!to)
		return FALSE;
	gsize n = sizeof(KiteCkptPackHeader) + loc->len;
	const guint8 *src = (const guint8 *)from->map + loc->off;
	for (gsize done = 0; done < n;) {
		ssize_t w = pwrite(to->fd, src + done, n - done, (off_t)(to->size + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return kite_throw_errno(error, "write pack %u of %s", to->id, o->name);
		done += (gsize)w;
	}
	loc->pack = to->id;
	loc->off = to->size;
	to->size += n;
	o->used += n;
	s->used += n;
	return TRUE;
}

guint64 kite_store_capacity(KiteCkptServer *s)
{
	if (s->limits.total_space)
		return s->limits.total_space;
	struct statvfs sv;
	if (statvfs(s->state_dir, &sv) < 0)
		return s->used;
	return s->used + (guint64)sv.f_bavail * sv.f_frsize;
}

guint64 kite_store_free(KiteCkptServer *s)
{
	guint64 cap = kite_store_capacity(s);
	guint64 avail = cap > s->used ? cap - s->used : 0;
	struct statvfs sv;
	if (statvfs(s->state_dir, &sv) == 0)
		avail = MIN(avail, (guint64)sv.f_bavail * sv.f_frsize);
	return avail;
}
