/* kite/ckpt.h — the C API of libckpt, Kite's checkpoint/restart library.
 *
 * A program needs none of this to be checkpointed: preloaded with
 * `ckpt run` or relinked with `ckpt-cc`, it is checkpointed on a signal
 * (SIGUSR2: checkpoint and continue, SIGTSTP: checkpoint and exit), on a
 * timer (`ckpt run --interval`) or by `ckpt now PID`.  This API lets a
 * program take part: ask for a checkpoint, keep memory out of images,
 * learn that it was restarted, and hold checkpoints off for a while.
 *
 * Link with -lckpt (relinked programs get it from ckpt-cc).  Programs
 * that want to run with and without libckpt can declare these functions
 * weak and test them for NULL.
 */
#ifndef KITE_CKPT_H
#define KITE_CKPT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return values of kite_ckpt_now() and kite_ckpt_exit(). */
#define KITE_CKPT_CONTINUED 0 /* checkpoint started; the image is written in the background */
#define KITE_CKPT_RESTARTED 1 /* we are a restarted program resuming after this call */

/* 1 if checkpointing is active in this process, 0 if not (for example a
 * child process of a checkpointed job, or KITE_CKPT_DIR unusable). */
int kite_ckpt_is_active(void);

/* Checkpoint now and continue.  Returns KITE_CKPT_CONTINUED once the
 * checkpoint child is writing the image (the caller's pause is a fork),
 * KITE_CKPT_RESTARTED when the program resumes from this image later, or
 * -1 if the checkpoint was refused (the reason is in DIR/status). */
int kite_ckpt_now(void);

/* Checkpoint, wait until the image is committed, then exit the process
 * with status 85.  Returns only on failure (-1) or, in a restarted
 * program, KITE_CKPT_RESTARTED. */
int kite_ckpt_exit(void);

/* Leave [addr, addr+len) out of every later image: after a restart the
 * range reads as zeros (anonymous memory) or as the file's contents (file
 * mappings).  Page granularity; returns 0, or -1 if the table is full. */
int kite_ckpt_exclude(void *addr, size_t len);

/* Call fn(arg) in a restarted program, just before it resumes.  Runs in
 * signal-handler context: use async-signal-safe functions only.  At most
 * 16 callbacks; returns 0, or -1 if full. */
int kite_ckpt_on_restart(void (*fn)(void *arg), void *arg);

/* Checkpoints requested between enter and leave wait until the outermost
 * leave (they are not lost).  Nests. */
void kite_ckpt_critical_enter(void);
void kite_ckpt_critical_leave(void);

#ifdef __cplusplus
}
#endif

#endif
