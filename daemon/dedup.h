/*  dedup: the in-memory index of event ids already in the log.

    Maps the 64-bit hash of an event id to the sequence numbers of the events
    with that hash. A hash is not an id: a hit is only a candidate, and the
    writer confirms it against the stored event. Open addressing with linear
    probing; a slot with seq 0 is empty (sequence numbers start at 1), so
    every hash value is usable.

    Built at start-up from the log's id index (store_scan_ids) and kept up
    to date by the writer. The writer reserves room for a group before it
    applies it. Inserts are journalled until settled: the writer settles a
    group's once its transaction has committed (dedup_settle up to the mark
    taken after its last insert), while the next group's may already be
    going in. If a transaction fails, dedup_rollback turns every unsettled
    insert into a tombstone: its slot keeps the probe chains through it
    intact and never matches again (tombstones are dropped at the next
    growth; failures are rare).

    When the table is 70% full it grows to twice its size, and its entries
    move to the new table a slice at each dedup_reserve rather than all at
    once, so that no group waits for the whole index to be rehashed.

    16 bytes a slot, at most 70% full: about 23 bytes per event in the log
    (up to three times that while a growth is under way).

    Errors: only memory can fail, so the two functions that allocate say
    so by NULL or -1 and nothing else; every other function cannot fail
    (dedup_insert relies on the room reserved before). */

#ifndef PACER_DEDUP_H
#define PACER_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _dedup_t dedup_t;

typedef struct {
    size_t pos;
    uint64_t hash;
    bool in_old; /* searching the table being grown out of */
} dedup_iter_t;

/* NULL when out of memory. */
dedup_t *dedup_new(size_t expected);
void dedup_destroy(dedup_t **self_p);

/* Make room for n more inserts (and move a slice of a growing table);
   nothing moves from here to the next dedup_reserve. 0; -1 when out of
   memory (the table is as it was, and still usable). */
int dedup_reserve(dedup_t *self, size_t n);
/* Insert (hash, seq). Room must have been reserved. Remembered for rollback
   until dedup_settle. */
void dedup_insert(dedup_t *self, uint64_t hash, uint64_t seq);
/* Start-up: insert n (hash, seq) pairs already in the log, without the
   rollback journal, prefetching their slots first (the table is far larger
   than the caches, so the inserts are memory-bound). The table must have
   been created large enough (dedup_new with the final count). */
void dedup_load(dedup_t *self, const uint64_t *hashes, const uint64_t *seqs, size_t n);
/* Forget every unsettled insert (a transaction failed). */
void dedup_rollback(dedup_t *self);
/* The number of unsettled inserts so far, to settle up to later. */
size_t dedup_mark(const dedup_t *self);
/* Keep the oldest `mark` unsettled inserts (their transaction committed). */
void dedup_settle(dedup_t *self, size_t mark);

/* First candidate seq for hash, 0 if none; then dedup_next for more. */
uint64_t dedup_first(dedup_t *self, uint64_t hash, dedup_iter_t *it);
uint64_t dedup_next(dedup_t *self, dedup_iter_t *it);

/* Bring the slot where a lookup of hash starts into the cache (a lookup
   soon after then does not wait for memory). */
void dedup_prefetch(dedup_t *self, uint64_t hash);

size_t dedup_size(dedup_t *self);
/* True while the entries of a full table are being moved to a larger one. */
bool dedup_growing(const dedup_t *self);

#endif
