/* The restorer's side of a streamed restart (restore-stream.c;
 * the protocol: stream.h).  FREESTANDING. */
#ifndef KITE_RESTORE_STREAM_H
#define KITE_RESTORE_STREAM_H

#include <stdint.h>

/* Map the stream's manifest (INFO, closed then) read-only at @map_at
 * (at most @map_max bytes); @head: the head descriptor; @err: where
 * messages go (the caller's stderr). */
void rstream_init(int info_fd, int data_fd, int verdict_fd, int err, long downloader, int head, uint64_t map_at,
		  uint64_t map_max);
/* Where the restorer's messages go: the caller's stderr, 2 if not streamed. */
int rstream_err_fd(void);
int rstream_active(void);
/* Read the image from its first PAGES record (at @first_record; @nrec
 * records before it, their data CRCs digested in @digest) to its END,
 * the page data into the mapped regions (@pages_ok says whether a PAGES
 * record's range lies in one), checking everything.  Refuses the image
 * (message, exit status 1) on any mismatch or a stream cut short. */
void rstream_fill(uint64_t first_record, uint64_t nrec, uint32_t digest, int (*pages_ok)(uint64_t addr, uint64_t len));
/* After rstream_fill(): the verdict to the downloader, which restores
 * the files' contents; returns once it has exited 0. */
void rstream_finish(void);
/* Kill and reap the downloader (the restart failed). */
void rstream_abort(void);

#endif
