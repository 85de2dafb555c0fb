/* The restorer's side of a restart streamed from a checkpoint server
 * (the protocol: libckpt/restore/stream.h): the image's bytes from the
 * first PAGES record on, read from the head descriptor and then from the
 * server's replies on the connection, the page data straight into the
 * regions restorer.c has mapped.  Every chunk from the first one `ckpt restart` did not
 * check is checked against its name (XXH3-128) as soon as its last byte
 * landed, and every record against the image's own CRC32C, while the
 * bytes are still in the caches; END must match the records.  Only then
 * does the downloader get its verdict (and restore the files' contents),
 * and only after that does restorer.c jump into the program.
 *
 * FREESTANDING AND ASYNC-SIGNAL-SAFE, like restorer.c: raw system calls,
 * static buffers, no libc. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "libckpt/crc32c.h"
#include "libckpt/image-format.h"
#include "libckpt/raw-syscall.h"
#include "libckpt/restore/chunk-hash.h"
#include "libckpt/restore/restore-stream.h"
#include "libckpt/restore/stream.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Page data is read in pieces this size: each is hashed and CRC'd
 * while it is in the L2 cache, and faulted in ahead of the copy. */
#define PIECE (256u << 10)

static const KiteStreamInfo *info;
static const KiteStreamChunk *chunks;
static int head_fd = -1, data_fd = -1, verdict_fd = -1;
static int err_fd = 2; /* the caller's stderr (fd 2 is the program's now) */
static long downloader; /* pid, 0 once reaped */
static uint64_t pos;         /* image offset of the next byte to read */
static uint64_t chunk;       /* the chunk that holds pos */
static uint64_t chunk_start; /* its image offset */
static int populate = 1;     /* MADV_POPULATE_WRITE works here (Linux >= 5.14) */
static char scratch[KITE_IMG_MAX_META] __attribute__((aligned(64)));

int rstream_active(void)
{
	return info != NULL;
}

/* Reap the downloader; returns its wait status (-1: none to reap). */
static int reap(void)
{
	int status = -1;
	if (downloader > 0) {
		while (rs_wait4(downloader, &status, 0, 0) == -4 /* EINTR */)
			;
		downloader = 0;
	}
	return status;
}

void rstream_abort(void)
{
	if (downloader > 0)
		rs_kill(downloader, 9 /* SIGKILL */);
	reap();
}

static void add_hex_padded(RsStr *s, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		char c = "0123456789abcdef"[(v >> (4 * i)) & 15];
		rs_str_addn(s, &c, 1);
	}
}

static RsStr msg_begin(char *buf, size_t cap)
{
	RsStr s = { buf, 0, cap };
	rs_str_add(&s, "ckpt restart: refusing to restart ");
	rs_str_add(&s, info->name);
	rs_str_add(&s, ": ");
	return s;
}

/* Refuse the image: the message (as `ckpt restart` words its refusals),
 * the downloader stopped, exit status 1.  Nothing of the program ran. */
__attribute__((noreturn)) static void refuse(RsStr *s)
{
	rs_str_add(s, "\n");
	rs_write_all(err_fd, s->buf, s->len);
	rstream_abort();
	rs_exit_group(KITE_STREAM_REFUSED);
	__builtin_unreachable();
}

__attribute__((noreturn)) static void refuse_chunk(uint64_t i)
{
	char buf[700];
	RsStr s = msg_begin(buf, sizeof buf);
	rs_str_add(&s, "image ");
	rs_str_add(&s, info->id);
	rs_str_add(&s, ": chunk ");
	rs_str_num(&s, (long)i);
	rs_str_add(&s, " (");
	for (int k = 0; k < 16; k++)
		add_hex_padded(&s, chunks[i].hash[k], 2);
	rs_str_add(&s, ") failed its checksum on arrival");
	refuse(&s);
}

static void stream_read(void *dst, uint64_t len);

__attribute__((noreturn)) static void refuse_record(const char *what, const char *type, uint64_t off, uint32_t stored,
						    uint32_t computed)
{
	/* a chunk that failed its name says more (which chunk, and that it
	 * changed on its way): read the rest of the current one, checked */
	while (chunk < info->nchunks && pos != chunk_start) {
		uint64_t left = chunk_start + chunks[chunk].len - pos;
		stream_read(scratch, left < sizeof scratch ? left : sizeof scratch);
	}
	char buf[700];
	RsStr s = msg_begin(buf, sizeof buf);
	rs_str_add(&s, type);
	rs_str_add(&s, " record at offset ");
	rs_str_num(&s, (long)off);
	rs_str_add(&s, ": ");
	rs_str_add(&s, what);
	if (stored != computed) {
		rs_str_add(&s, " (stored ");
		add_hex_padded(&s, stored, 8);
		rs_str_add(&s, ", computed ");
		add_hex_padded(&s, computed, 8);
		rs_str_add(&s, ")");
	}
	rs_str_add(&s, ": the image is corrupt");
	refuse(&s);
}

/* Bytes from the connection can no longer come (@err: 0 for the server
 * closing it, else a negative errno): how far the image got, in whole
 * chunks checked, and why. */
__attribute__((noreturn)) static void connection_lost(long err)
{
	char buf[900];
	RsStr s = msg_begin(buf, sizeof buf);
	rs_str_add(&s, "image ");
	rs_str_add(&s, info->id);
	rs_str_add(&s, ": the download stopped after ");
	rs_str_num(&s, (long)chunk);
	rs_str_add(&s, " of ");
	rs_str_num(&s, (long)info->nchunks);
	rs_str_add(&s, " chunks (");
	rs_str_num(&s, (long)chunk_start);
	rs_str_add(&s, " of ");
	rs_str_num(&s, (long)info->total);
	rs_str_add(&s, " bytes): ");
	if (err == 0) {
		rs_str_add(&s, info->server);
		rs_str_add(&s, " closed the connection");
		refuse(&s);
	}
	rs_str_add(&s, "receive from ");
	rs_str_add(&s, info->server);
	rs_str_add(&s, ": ");
	if (err == -11 /* EAGAIN: SO_RCVTIMEO */) {
		rs_str_add(&s, "timed out after ");
		rs_str_num(&s, (long)info->timeout_s);
		rs_str_add(&s, " s");
	} else if (err == -104) {
		rs_str_add(&s, "Connection reset by peer");
	} else if (err == -110) {
		rs_str_add(&s, "Connection timed out");
	} else {
		rs_str_add(&s, "errno ");
		rs_str_num(&s, -err);
	}
	refuse(&s);
}

/* The server's refusal (an ERROR frame of @len bytes: "(us)", a code and
 * its message), passed on as `ckpt restart` words refusals. */
__attribute__((noreturn)) static void server_refused(uint32_t len)
{
	static char body[1024];
	uint32_t want = len < sizeof body - 1 ? len : (uint32_t)sizeof body - 1, got = 0;
	while (got < want) {
		long r = rs_read(data_fd, body + got, want - got);
		if (r == -4 /* EINTR */)
			continue;
		if (r <= 0)
			connection_lost(r);
		got += (uint32_t)r;
	}
	body[got] = 0;
	char buf[1400];
	RsStr s = msg_begin(buf, sizeof buf);
	rs_str_add(&s, got > 4 ? body + 4 : "the server refused a CKPT_GET");
	refuse(&s);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t body_left; /* of the CKPT_CHUNKS reply being read */
static uint64_t sock_pos;  /* image offset of the socket's next data byte */

/* Up to @len bytes of chunk data from the connection into @dst, the next
 * reply's frame header read first when the last body is done.  Returns
 * what read(2) returned but for the connection failing, which refuses
 * the image here: > 0, EINTR, or EFAULT (no memory for the page). */
static long sock_read(uint8_t *dst, uint64_t len)
{
	while (body_left == 0) {
		uint8_t h[KITE_STREAM_WIRE_HEADER];
		for (uint64_t got = 0; got < sizeof h;) {
			long r = rs_read(data_fd, h + got, sizeof h - got);
			if (r == -4 /* EINTR */)
				continue;
			if (r <= 0)
				connection_lost(r);
			got += (uint64_t)r;
		}
		uint32_t type = (uint32_t)h[6] << 8 | h[7], length = be32(h + 8);
		if (be32(h) != KITE_STREAM_WIRE_MAGIC || ((uint32_t)h[4] << 8 | h[5]) != KITE_STREAM_WIRE_VERSION) {
			char buf[700];
			RsStr s = msg_begin(buf, sizeof buf);
			rs_str_add(&s, info->server);
			rs_str_add(&s, " sent something that is not a Kite message where a reply was due");
			refuse(&s);
		}
		if (type == KITE_STREAM_MSG_ERROR)
			server_refused(length);
		if (type != KITE_STREAM_MSG_CHUNKS || length > info->total - sock_pos) {
			char buf[700];
			RsStr s = msg_begin(buf, sizeof buf);
			rs_str_add(&s, info->server);
			if (type != KITE_STREAM_MSG_CHUNKS) {
				rs_str_add(&s, " answered message type ");
				rs_str_num(&s, (long)type);
				rs_str_add(&s, " to CKPT_GET");
			} else {
				rs_str_add(&s, " sent more than the image holds");
			}
			refuse(&s);
		}
		body_left = length;
	}
	long r = rs_read(data_fd, dst, len < body_left ? len : body_left);
	if (r > 0) {
		body_left -= (uint64_t)r;
		sock_pos += (uint64_t)r;
		return r;
	}
	if (r == -4 /* EINTR */ || r == -14 /* EFAULT */)
		return r;
	connection_lost(r);
}

void rstream_init(int info_fd, int data, int verdict, int err, long pid, int head, uint64_t map_at, uint64_t map_max)
{
	downloader = pid;
	err_fd = err;
	data_fd = data;
	verdict_fd = verdict;
	head_fd = head;
	KiteStreamInfo h;
	if (rs_pread_all(info_fd, &h, sizeof h, 0) < 0 || !rs_memeq(h.magic, KITE_STREAM_MAGIC, 8) ||
	    h.version != KITE_STREAM_VERSION || h.header_size != sizeof h || h.head_chunks > h.nchunks ||
	    h.nchunks > (map_max - sizeof h) / sizeof(KiteStreamChunk) || h.name[KITE_STREAM_NAME - 1] ||
	    h.id[sizeof h.id - 1] || h.server[KITE_STREAM_NAME - 1] || h.head_bytes > h.total) {
		rs_write_all(err_fd, "ckpt-restore: the stream's manifest is not one `ckpt restart` wrote\n", 69);
		rstream_abort();
		rs_exit_group(126);
	}
	uint64_t len = (sizeof h + h.nchunks * sizeof(KiteStreamChunk) + 4095) & ~4095ull;
	long m = rs_mmap(map_at, len, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, info_fd, 0);
	if (m != (long)map_at) {
		rs_write_all(err_fd, "ckpt-restore: cannot map the stream's manifest\n", 47);
		rstream_abort();
		rs_exit_group(126);
	}
	rs_close(info_fd);
	info = (const KiteStreamInfo *)map_at;
	chunks = (const KiteStreamChunk *)(map_at + sizeof h);
	sock_pos = info->head_bytes;
}

/* Bytes [pos, pos + len) now lie at @p: check every chunk that ends in
 * them (those `ckpt restart` checked already excepted). */
static void landed(const uint8_t *p, uint64_t len)
{
	while (len) {
		if (chunk >= info->nchunks)
			connection_lost(0); /* unreachable: reads stop at info->total */
		uint64_t clen = chunks[chunk].len, in = pos - chunk_start;
		uint64_t take = clen - in < len ? clen - in : len;
		if (chunk >= info->head_chunks) {
			uint8_t h[RS_CHUNK_HASH_BYTES];
			int whole = in == 0 && take == clen;
			if (whole) {
				rs_chunk_hash(p, take, h);
			} else {
				if (in == 0)
					rs_chunk_hash_begin();
				rs_chunk_hash_update(p, take);
				if (in + take == clen)
					rs_chunk_hash_end(h);
			}
			if (in + take == clen && !rs_memeq(h, chunks[chunk].hash, RS_CHUNK_HASH_BYTES))
				refuse_chunk(chunk);
		}
		pos += take;
		p += take;
		len -= take;
		if (pos - chunk_start == clen) {
			chunk_start = pos;
			chunk++;
		}
	}
}

/* The next @len image bytes into @dst, checked (chunks) as they land. */
static void stream_read(void *dst, uint64_t len)
{
	if (len > info->total - pos) {
		char buf[400];
		RsStr s = msg_begin(buf, sizeof buf);
		rs_str_add(&s, "the image's records run past its end (byte ");
		rs_str_num(&s, (long)info->total);
		rs_str_add(&s, ")");
		refuse(&s);
	}
	uint8_t *d = dst;
	uint64_t got = 0;
	while (got < len) {
		long r;
		if (pos + got < info->head_bytes) {
			uint64_t n = info->head_bytes - pos - got < len - got ? info->head_bytes - pos - got : len - got;
			r = rs_pread(head_fd, d + got, n, (long)(pos + got));
		} else {
			r = sock_read(d + got, len - got);
		}
		if (r == -4 /* EINTR */)
			continue;
		if (r == 0) /* (the head descriptor: shorter than `ckpt restart` said) */
			connection_lost(0);
		if (r < 0) { /* e.g. EFAULT: no memory for the page (a memory limit) */
			char buf[400];
			RsStr s = msg_begin(buf, sizeof buf);
			rs_str_add(&s, "cannot read the image into its memory at 0x");
			rs_str_hex(&s, (uint64_t)(uintptr_t)(d + got));
			rs_str_add(&s, " (errno ");
			rs_str_num(&s, -r);
			rs_str_add(&s, "; over a memory limit?)");
			refuse(&s);
		}
		got += (uint64_t)r;
	}
	landed(d, len);
}

/* Fresh pages are the dearest part of a restore (0.4 s per GiB in this
 * VM against 0.1 s for copying the bytes in): a helper thread faults in
 * each PAGES record's pages just ahead of this thread, which reads the
 * bytes into them (and faults in only what the helper has not reached).
 * The reader is the restore's critical path; when the helper worked from
 * the record's end instead, the reader faulted in half the record
 * itself (bench/restore-ab.sh: 461 against 502 ms, and 526 against 564,
 * per GiB).  Only pages of the record being read are touched: the memory
 * the program gets is what it had. */
extern long restorer_clone(unsigned long flags, void *stack, void *ctid, unsigned long tls, void (*fn)(void *),
			   void *arg);
#define HELPER_STEP (64u << 10)
static char helper_stack[64 << 10] __attribute__((aligned(64)));
static int helper_tid;             /* cleared by the kernel when it exits */
static uint32_t helper_gen;        /* bumped for each record (futex word) */
static uint64_t rec_lo, rec_hi;    /* the record's pages */
static uint64_t main_hi;           /* this thread has claimed [rec_lo, main_hi) */
static uint64_t helper_lo;         /* [rec_lo, helper_lo) is populated (by either) */
static int helper_stop;

static void futex_wait(void *addr, uint32_t val)
{
	rs_call4(SYS_futex, addr, 0 /* FUTEX_WAIT */, val, 0);
}

static void futex_wake(void *addr)
{
	rs_call3(SYS_futex, addr, 1 /* FUTEX_WAKE */, 1);
}

static void helper_main(void *arg)
{
	(void)arg;
	uint32_t seen = 0;
	for (;;) {
		uint32_t g = __atomic_load_n(&helper_gen, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&helper_stop, __ATOMIC_ACQUIRE))
			rs_call1(SYS_exit, 0);
		if (g == seen) {
			futex_wait(&helper_gen, g);
			continue;
		}
		seen = g;
		uint64_t hi = __atomic_load_n(&rec_hi, __ATOMIC_ACQUIRE);
		/* from the reader's claim up, just ahead of it, until the end
		 * or a new record */
		for (;;) {
			uint64_t lo = __atomic_load_n(&helper_lo, __ATOMIC_ACQUIRE), m = __atomic_load_n(&main_hi, __ATOMIC_ACQUIRE);
			if (m > lo)
				lo = m;
			if (lo >= hi || __atomic_load_n(&helper_gen, __ATOMIC_ACQUIRE) != g)
				break;
			uint64_t n = hi - lo < HELPER_STEP ? hi - lo : HELPER_STEP;
			rs_call3(SYS_madvise, lo, n, MADV_POPULATE_WRITE);
			if (__atomic_load_n(&helper_gen, __ATOMIC_ACQUIRE) != g)
				break;
			__atomic_store_n(&helper_lo, lo + n, __ATOMIC_RELEASE);
		}
	}
}

static void helper_start(void)
{
	unsigned long fl = 0x100 /* CLONE_VM */ | 0x200 /* CLONE_FS */ | 0x400 /* CLONE_FILES */ |
			   0x800 /* CLONE_SIGHAND */ | 0x10000 /* CLONE_THREAD */ | 0x40000 /* CLONE_SYSVSEM */ |
			   0x200000 /* CLONE_CHILD_CLEARTID */;
	long r = restorer_clone(fl, helper_stack + sizeof helper_stack, &helper_tid, 0, helper_main, 0);
	/* (the helper waits for its first record: it cannot have exited) */
	helper_tid = r > 0 ? (int)r : 0; /* no helper: one thread does it all */
}

static void helper_record(uint64_t lo, uint64_t hi)
{
	if (!helper_tid)
		return;
	__atomic_store_n(&rec_lo, lo, __ATOMIC_RELEASE);
	__atomic_store_n(&rec_hi, hi, __ATOMIC_RELEASE);
	__atomic_store_n(&main_hi, lo, __ATOMIC_RELEASE);
	__atomic_store_n(&helper_lo, lo, __ATOMIC_RELEASE);
	__atomic_add_fetch(&helper_gen, 1, __ATOMIC_ACQ_REL);
	futex_wake(&helper_gen);
}

static void helper_end(void)
{
	if (!helper_tid)
		return;
	__atomic_store_n(&helper_stop, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&helper_gen, 1, __ATOMIC_ACQ_REL);
	futex_wake(&helper_gen);
	for (int t; (t = __atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE)) != 0;)
		futex_wait(&helper_tid, (uint32_t)t);
}

/* A record's payload into @dst (in pieces into memory the program will
 * own, or whole into scratch), its CRC32C carried in @crc. */
static void read_payload(uint8_t *dst, uint64_t len, uint32_t *crc, int program_memory)
{
	while (len) {
		uint64_t n = len < PIECE ? len : PIECE;
		/* fault the piece in before the copy (a fault per page inside
		 * the socket's copy costs more than populating in one call),
		 * unless the helper did */
		if (program_memory && populate) {
			uint64_t a = (uint64_t)(uintptr_t)dst, end = a + n;
			/* the helper has done [rec_lo, helper_lo): the rest of
			 * the piece is this thread's (claimed first, so that the
			 * helper moves on past it) */
			uint64_t done = helper_tid ? __atomic_load_n(&helper_lo, __ATOMIC_ACQUIRE) : a;
			__atomic_store_n(&main_hi, end, __ATOMIC_RELEASE);
			uint64_t from = done > a ? done : a;
			if (from < end && rs_call3(SYS_madvise, from, end - from, MADV_POPULATE_WRITE) == -22 /* EINVAL */)
				populate = 0;
		}
		stream_read(dst, n);
		*crc = kite_crc32c(*crc, dst, n);
		dst += n;
		len -= n;
	}
}

void rstream_fill(uint64_t first_record, uint64_t nrec, uint32_t digest, int (*pages_ok)(uint64_t addr, uint64_t len))
{
	pos = chunk_start = 0;
	chunk = 0;
	helper_start();
	/* the chunks before the one that holds the first PAGES record: the
	 * head restorer.c has read */
	while (chunk < info->nchunks && chunk_start + chunks[chunk].len <= first_record)
		chunk_start += chunks[chunk++].len;
	pos = chunk_start;
	/* from the start of that chunk up to the record: bytes restorer.c
	 * read already, read again here to check their chunk */
	while (pos < first_record) {
		uint64_t n = first_record - pos < sizeof scratch ? first_record - pos : sizeof scratch;
		stream_read(scratch, n);
	}
	for (;;) {
		uint64_t off = pos;
		KiteImgRec r;
		stream_read(&r, sizeof r);
		uint32_t hc = r.hdr_crc;
		r.hdr_crc = 0;
		uint32_t got = kite_crc32c(0, &r, sizeof r);
		if (got != hc)
			refuse_record("header checksum mismatch", "a", off, hc, got);
		uint32_t crc = 0;
		if (r.type == KITE_REC_PAGES) {
			KiteImgPages pg;
			if (r.len < sizeof pg)
				refuse_record("too short", "PAGES", off, 0, 0);
			stream_read(&pg, sizeof pg);
			crc = kite_crc32c(0, &pg, sizeof pg);
			uint64_t pad = r.len - sizeof pg - pg.len;
			if (pg.len > r.len - sizeof pg || pad >= 4096 || (pg.addr & 4095) || (pg.len & 4095) ||
			    !pages_ok(pg.addr, pg.len))
				refuse_record("outside every stored region", "PAGES", off, 0, 0);
			read_payload((uint8_t *)scratch, pad, &crc, 0);
			if (populate)
				helper_record(pg.addr, pg.addr + pg.len);
			read_payload((uint8_t *)(uintptr_t)pg.addr, pg.len, &crc, 1);
			if (crc != r.data_crc)
				refuse_record("data checksum mismatch", "PAGES", off, r.data_crc, crc);
		} else if (r.type == KITE_REC_END) {
			KiteImgEnd e;
			if (r.len != sizeof e)
				refuse_record("wrong size", "END", off, 0, 0);
			stream_read(&e, sizeof e);
			crc = kite_crc32c(0, &e, sizeof e);
			if (crc != r.data_crc)
				refuse_record("data checksum mismatch", "END", off, r.data_crc, crc);
			if (e.nrecords != nrec || e.digest != digest || e.bytes != off)
				refuse_record("does not match the records", "END", off, 0, 0);
			break;
		} else if (r.type == KITE_REC_PARENT) {
			/* `ckpt restart` refuses incremental images before this */
			refuse_record("needs a parent image", "PARENT", off, 0, 0);
		} else {
			/* anything else after the memory: checked, not used */
			if (r.len > sizeof scratch)
				refuse_record("too large", "a", off, 0, 0);
			read_payload((uint8_t *)scratch, r.len, &crc, 0);
			if (crc != r.data_crc)
				refuse_record("data checksum mismatch", "a", off, r.data_crc, crc);
		}
		digest = kite_crc32c(digest, &r.data_crc, 4);
		nrec++;
	}
	helper_end();
	if (pos != info->total || chunk != info->nchunks) {
		char buf[300];
		RsStr s = msg_begin(buf, sizeof buf);
		rs_str_add(&s, "bytes follow the image's END record");
		refuse(&s);
	}
}

void rstream_finish(void)
{
	/* everything held: the downloader restores the files' contents */
	rs_write_all(verdict_fd, "V", 1);
	rs_close(verdict_fd);
	rs_close(data_fd);
	int status = reap();
	if (status != 0)
		rs_exit_group(KITE_STREAM_REFUSED); /* it said why */
	rs_close(err_fd);
	err_fd = 2;
	/* its SIGCHLD, pending while every signal is blocked, is not the
	 * program's: it has no children */
	uint64_t chld = 1ull << (17 /* SIGCHLD */ - 1);
	struct {
		long sec, nsec;
	} zero = { 0, 0 };
	rs_call4(SYS_rt_sigtimedwait, &chld, 0, &zero, 8);
}

int rstream_err_fd(void)
{
	return err_fd;
}
