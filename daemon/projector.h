/*  projector: the live folds inside pacerd, and the ways they are built.

    Owns the fold set (projections/foldset.h: the targets-and-progress
    projection, the alert settings, the detectors) the writer folds into
    and the query thread reads, guarded by a reader-writer lock (the writer
    holds it for writing for the span of one group; a query holds it for
    reading for one answer). Builds it at start-up from the newest snapshot
    plus the log's tail (a fold not in the snapshot, or of another version,
    is first folded alone from the first event), rebuilds it from the first
    event on demand, writes snapshots, and builds private projections of the
    log as it stood at an earlier seq for as-of queries.

    Calendars are created and destroyed only here, under one mutex, because
    the calendar module sets the process time zone when the first calendar
    of a zone is created.

    Errors: functions returning int give STORE_OK, or a code of
    daemon/store.h with a message in err: STORE_ERROR (an LMDB or I/O
    failure, or out of memory folding or serialising), STORE_MAP_FULL (a
    snapshot did not fit the map even after growing it), STORE_DISK_FULL
    (the filesystem is full). Functions returning a pointer give NULL with
    a message on failure. */

#ifndef PACER_PROJECTOR_H
#define PACER_PROJECTOR_H

#include "daemon/store.h"
#include "projections/foldset.h"
#include "projections/projection.h"

typedef struct _projector_t projector_t;

typedef struct {
    const char *time_zone;     /* IANA name, default Asia/Shanghai */
    int fiscal_start_month;    /* 1..12 */
    uint64_t snapshot_every;   /* events between snapshots; 0 = only at stop */
    unsigned working_weekdays; /* bit 0 Monday .. bit 6 Sunday; 0 = Monday to Friday */
    bool no_detectors;         /* fold no anomaly detectors (pacerd --detectors off) */
} projector_options_t;

/* Load or build the folds of the store's whole log. NULL with a message
   on failure (an unknown time zone, an unreadable log, out of memory). */
projector_t *projector_open(store_t *store, const projector_options_t *options, char *err,
                            size_t errlen);
void projector_destroy(projector_t **self_p);

/* The live projection (the fold set's, for what is the projection's own:
   queries, the alerter's evaluation) and the live fold set; both change
   on a reload or rebuild. Hold the matching lock while using them. */
projection_t *projector_live(projector_t *self);
foldset_t *projector_folds(projector_t *self);
/* The IANA zone of its calendars (set at open, never changed). Any thread. */
const char *projector_zone(projector_t *self);
/* Waiting queries go first (for up to 10 ms), so that a writer taking the
   lock back right after letting it go does not starve them. */
void projector_write_lock(projector_t *self);
void projector_read_lock(projector_t *self);
/* The same, giving up after `ms` milliseconds (a rebuild holds the lock
   for seconds): true when the read lock is held. */
bool projector_read_lock_within(projector_t *self, int ms);
void projector_unlock(projector_t *self);
/* True while a query waits for the read lock (the writer then lets it in
   at its next durable point rather than folding on). */
bool projector_readers_waiting(projector_t *self);

/* Writer thread, right after a commit, write lock held: if snapshot_every
   events passed since the last snapshot (or always, with force), fork a
   child that serialises the projection as it stands. At most one child at
   a time; if it cannot be forked, the snapshot is written here instead. */
void projector_snapshot_start(projector_t *self, bool force);
/* Whether projector_snapshot_start would fork now (without force). */
bool projector_snapshot_due(projector_t *self);

/* Writer thread, outside any transaction: once the child has finished
   (at once, or waiting for it with wait), store its snapshot, one chunk
   per call and per transaction of its own, so no group waits behind more
   than one chunk (with wait: all of it). A failed child is logged and
   forgotten; an error is returned only when storing fails. */
int projector_snapshot_collect(projector_t *self, bool wait, char *err, size_t errlen);
/* Store the next chunk of a finished snapshot (busy() == 2), in a
   transaction of its own; nothing to do otherwise. On the thread that
   writes to the store at the time (the writer, or the commit thread for
   a job the writer handed it, see daemon/writer.c); the writer does not
   touch the snapshot state meanwhile. On a failure the snapshot is
   dropped. */
int projector_snapshot_store_chunk(projector_t *self, char *err, size_t errlen);

/* 0: no snapshot in the making; 1: a child is serialising one; 2: the
   writer is storing one (each projector_snapshot_collect stores a chunk). */
int projector_snapshot_busy(projector_t *self);
/* Writer thread, store untouched: if the child has finished, take its
   output (busy goes from 1 to 2, or to 0 if it failed). */
void projector_snapshot_poll(projector_t *self);

/* Kill and forget the child, and any snapshot half stored (rebuild, stop). */
void projector_snapshot_cancel(projector_t *self);

/* The seq of the newest snapshot written or loaded (0: none). Any thread. */
uint64_t projector_snapshot_seq(projector_t *self);

/* Outside any transaction (stop), with the write lock held or no writer
   running: write a snapshot of the live folds now, in a transaction of its
   own, growing the map if it does not fit. */
int projector_write_snapshot(projector_t *self, char *err, size_t errlen);

/* After an aborted transaction: the live folds may hold events that were
   not committed; rebuild them from the committed log. Write lock held. */
int projector_reload(projector_t *self, char *err, size_t errlen);
/* Drop snapshots and fold the whole log again into every fold (inside the
   writer's open transaction, write lock held). *events = events folded. */
int projector_rebuild(projector_t *self, uint64_t *events, char *err, size_t errlen);

/* A private projection of the log up to and including seq `upto`, from the
   newest snapshot at or before it plus the log (NULL with a message: an
   unreadable log, out of memory). Caller destroys it with
   projector_release. Any thread. */
projection_t *projector_as_of(projector_t *self, uint64_t upto, char *err, size_t errlen);
void projector_release(projector_t *self, projection_t **proj_p);

#endif
