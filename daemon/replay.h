/*  replay: fold a stretch of the log into a projection on two threads.

    Start-up, rebuilds and as-of queries fold the log from LMDB. One thread
    (the caller's) walks the log and decodes its events; a second folds them,
    PROJECTION_BATCH at a time, through a ring of batches. Decoding is about
    a third of a replay and folding the rest, and the two share nothing but
    the ring, so on two cores the replay takes about as long as the fold.
    The events' strings point into the reader's pages, which stay valid for
    the reader's transaction: the caller keeps the reader open until
    replay_fold returns. The result is the same as folding the records one by
    one with projection_fold_bytes, in order. */

#ifndef PACER_REPLAY_H
#define PACER_REPLAY_H

#include "daemon/store_log.h"
#include "projections/projection.h"

/* CPU seconds each side used: the larger bounds the replay. */
typedef struct {
    double walk_cpu_s, fold_cpu_s;
} replay_stats_t;

/* Fold records [from, to] of the reader's log with fold, called on the
   folding thread with each batch of up to PROJECTION_BATCH decoded events,
   in log order (pacerd's: foldset_fold_batch, every fold). A non-zero
   return from fold stops the replay. 0 on success; a STORE_ code with a
   message for a store failure; -1 with a message when the fold failed
   ("out of memory folding the log") or a thread could not start. stats
   may be NULL. */
typedef int(replay_fold_fn)(void *arg, const fold_event_t *d, size_t n);
int replay_run(store_reader_t *r, uint64_t from, uint64_t to, replay_fold_fn *fold, void *arg,
               replay_stats_t *stats, char *err, size_t errlen);

/* The same into the projection p alone (benchmarks, tests). */
int replay_fold(store_reader_t *r, projection_t *p, uint64_t from, uint64_t to,
                replay_stats_t *stats, char *err, size_t errlen);

#endif
