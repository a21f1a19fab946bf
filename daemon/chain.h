/*  chain: the log's hash chain, computed on a thread of its own.

    Each record's BLAKE2b hash covers the previous record's hash (see
    docs/PROTOCOL.md, "The log"), so the hashes of a group are computed one
    after the other, but they depend on nothing else the writer decides: once
    the writer has admitted an event and given it its sequence number, its
    hash can be computed beside the writer's next duplicate lookups and
    projection folds. The writer pushes links (events, in sequence order)
    as it admits them; once all of a group's hashes are ready (chain_finish)
    it hands the links to the commit thread (daemon/commit), which puts the
    records into the log.

    One group at a time: chain_begin, then chain_push as links are added,
    and chain_finish for all of them before the links are handed on or
    dropped. The links array and the event bytes belong to the caller and
    must stay where they are until chain_finish has returned. */

#ifndef PACER_CHAIN_H
#define PACER_CHAIN_H

#include "daemon/store_log.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *event; /* canonical bytes */
    uint32_t len;
    const char *principal; /* who appended it (a version 2 record), or NULL */
    uint32_t principal_len;
    uint64_t id_hash;               /* for the log's id index (daemon/store) */
    uint8_t hash[STORE_HASH_BYTES]; /* written by the chain thread */
} chain_link_t;

typedef struct _chain_t chain_t;

/* Start the thread. NULL with a message on failure. */
chain_t *chain_new(char *err, size_t errlen);
/* Stop the thread and free it. */
void chain_destroy(chain_t **self_p);

/* Start a chain after `prev` (the hash of record first_seq - 1); every link
   gets recorded_at. The previous chain must be finished (chain_finish). */
void chain_begin(chain_t *self, const uint8_t prev[STORE_HASH_BYTES], uint64_t first_seq,
                 int64_t recorded_at, chain_link_t *links);
/* Links [0, n) are filled in and may be hashed; n never decreases. */
void chain_push(chain_t *self, size_t n);
/* Make sure links [0, n) have their hash (n at least the count pushed):
   waits for the chain thread's work in progress and hashes the rest on the
   caller's thread. Afterwards the chain thread does not touch the links. */
void chain_finish(chain_t *self, size_t n);

#endif
