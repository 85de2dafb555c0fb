/* A checkpoint server's image streamed into the restorer, declared once
 * for both sides: `ckpt restart` (libckpt/cmd/ckpt-stream.c, GLib) and
 * the freestanding restorer (libckpt/restore/restore-stream.c).
 *
 * `ckpt restart --server`/`--caps` downloads the head of the image (its
 * header and metadata records, up to the first PAGES record: whole
 * chunks, each checked against its name) into a memfd, checks it as it
 * checks any image, forks a downloader that sends the GETs for the rest,
 * and execs the restorer with
 *
 *   ckpt-restore HEAD_FD --stream INFO_FD DATA_FD VERDICT_FD DOWNLOADER_PID …
 *
 * HEAD_FD    image bytes [0, head_bytes): chunks [0, head_chunks)
 * INFO_FD    a memfd: KiteStreamInfo, then KiteStreamChunk[nchunks]
 *            (the manifest's chunk list) at offset header_size
 * DATA_FD    the connection to the server (blocking, reads time out
 *            after timeout_s): the replies to the GETs for image bytes
 *            [head_bytes, total), in order, none of them read yet — each
 *            a wire frame (common/wire.h: "KITE", version, type, length,
 *            big-endian) of type CKPT_CHUNKS whose body is chunk data,
 *            or ERROR "(us)": the server's refusal (a chunk it found
 *            corrupt or missing), which the restorer passes on
 * VERDICT_FD a pipe to the downloader: one byte once every chunk and
 *            every checksum of the image held; the downloader then
 *            writes the contents of files the program had open for
 *            writing and exits 0.  Closed without it: the restart was
 *            refused, and the downloader leaves everything as it was.
 * ERR_FD     the caller's stderr, for the restorer's messages (fd 2 is
 *            the program's by then); closed before the program runs.
 *
 * The restorer maps the image's regions, reads the page data straight
 * from the socket into them and checks each chunk (XXH3-128, its name)
 * and each record (the image's own CRC32C) as it lands.  Nothing of the
 * program runs before the last byte is checked: a failure is a message,
 * exit status 1, and no program.
 *
 * Plain C, fixed-size types, <stdint.h> only. */
#ifndef KITE_STREAM_H
#define KITE_STREAM_H

#include <stdint.h>

#define KITE_STREAM_MAGIC "KITESTRM"
#define KITE_STREAM_VERSION 2
#define KITE_STREAM_NAME 256

typedef struct {
	char magic[8];
	uint32_t version;
	uint32_t header_size; /* sizeof(KiteStreamInfo): the chunk list follows */
	uint64_t nchunks;     /* of the image (its manifest) */
	uint64_t total;       /* image bytes */
	uint64_t head_bytes;  /* bytes in HEAD_FD, a whole number of chunks */
	uint64_t head_chunks; /* chunks in HEAD_FD, checked by `ckpt restart` */
	char name[KITE_STREAM_NAME]; /* "server:HOST:PORT/ID", as messages name the image */
	char id[32];                 /* allocation id: "image ID: chunk N (HASH)" */
	char server[KITE_STREAM_NAME]; /* "HOST:PORT": "receive from HOST:PORT: …" */
	uint32_t timeout_s;            /* DATA_FD's receive timeout */
	uint32_t reserved;
} KiteStreamInfo;

/* The wire frames on DATA_FD (common/wire.h, wire-messages.h). */
#define KITE_STREAM_WIRE_MAGIC 0x4B495445u /* "KITE" */
#define KITE_STREAM_WIRE_VERSION 1
#define KITE_STREAM_WIRE_HEADER 12
#define KITE_STREAM_MSG_ERROR 1
#define KITE_STREAM_MSG_CHUNKS 52

/* The layout of the manifest's KiteChunkRef (common/ckpt-format.h). */
typedef struct {
	uint8_t hash[16]; /* XXH3-128 of the chunk, canonical (big-endian) */
	uint32_t len;
	uint32_t crc; /* CRC32C, checked by the server on the way out */
} KiteStreamChunk;

/* The exit status of a refused streamed restart (as `ckpt restart`'s). */
#define KITE_STREAM_REFUSED 1

#endif
