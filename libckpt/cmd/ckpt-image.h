/* Reading libckpt images from ordinary programs (the `ckpt` command):
 * open, check every header and checksum, and hand back the metadata.
 * The format is libckpt/image-format.h. */
#ifndef KITE_CKPT_IMAGE_H
#define KITE_CKPT_IMAGE_H

#include <glib.h>
#include "libckpt/image-format.h"

#define KITE_CKPT_ERROR (kite_ckpt_error_quark())
GQuark kite_ckpt_error_quark(void);

typedef struct {
	KiteImgRegion r;
	char *path;
	guint64 stored_bytes; /* bytes of PAGES inside the region */
	guint64 parent_bytes; /* bytes of PARENT ranges inside the region */
	guint nchunks;
} KiteImageRegion;

typedef struct {
	KiteImgFd f;
	char *path;
} KiteImageFd;

/* A closed file of the sandbox (SBXFILE) and where its chunks are. */
typedef struct {
	guint64 hash;
	guint32 len;
	gboolean stored;  /* in this image; else in a parent (found by hash) */
	guint64 data_off; /* stored: file offset of the chunk's bytes in the image */
} KiteImageSbxChunk;

typedef struct {
	KiteImgSbxFile f;
	char *name;
	GArray *chunks; /* KiteImageSbxChunk */
} KiteImageSbxFile;

typedef struct {
	guint32 type;
	guint64 offset; /* of the record header in the file */
	guint64 len;
	guint32 data_crc;
} KiteImageRec;

typedef struct _KiteImage {
	char *path;
	int fd;
	guint64 size;
	KiteImgHeader header;
	KiteImgProcess process;
	GPtrArray *regions; /* KiteImageRegion */
	GPtrArray *fds;     /* KiteImageFd */
	GArray *records;    /* KiteImageRec, every record in order */
	KiteImgEnd end;
	guint64 stored_bytes; /* memory bytes in PAGES records */
	guint64 parent_bytes; /* memory bytes in PARENT records (taken from the parent image) */
	guint64 file_bytes;   /* FILEDATA bytes */
	guint nthreads;       /* THREAD records (threads besides the checkpointing one) */
	char *sandbox;          /* SANDBOX: the directory whose closed files the image holds, or NULL */
	GPtrArray *sbx_files;   /* KiteImageSbxFile, in image order */
	guint64 sbx_stored_bytes; /* of them, bytes stored in this image */
	guint64 sbx_parent_bytes; /* ... and left in the parent chain */
} KiteImage;

/* Open @path (an image, or a directory: its `latest`), check the header,
 * every record header and — when @verify_data — every payload checksum.
 * Returns NULL with @error set (the message names the file, the offset
 * and what is wrong). */
KiteImage *kite_image_open(const char *path, gboolean verify_data, GError **error);
/* The head of an image whose memory is still to come (a restart streamed
 * from a checkpoint server): header and records up to the first PAGES
 * record, every checksum of those checked; no END yet. */
KiteImage *kite_image_open_head(const char *path, GError **error);
void kite_image_free(KiteImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KiteImage, kite_image_free)

const char *kite_image_rec_name(guint32 type);

/* Path of @img's parent image (same directory), or NULL for a full image. */
char *kite_image_parent_path(KiteImage *img);

/* Open @path and every parent it needs, newest first, verifying each and
 * checking that each parent is the very image its child was made from. */
GPtrArray *kite_image_open_chain(const char *path, gboolean verify_data, GError **error);

#endif
