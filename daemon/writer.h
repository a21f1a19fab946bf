/*  writer: the one thread that appends to the log.

    It owns the append ROUTER, the PUB socket, the store's write side and the
    duplicate index. Each turn of its loop is one group commit:

      1. wait for requests, then drain every request already queued (up to
         WRITER_GROUP_MAX_EVENTS events), parse and validate them;
      2. open one write transaction, append every valid, new event, each
         checked against the duplicate index;
      3. commit (LMDB syncs to disk);
      4. only then reply to each producer, and publish the events.

    A failure in 2 or 3 aborts the transaction and undoes the duplicate
    index's inserts; a full map grows and the group is replayed; any other
    failure answers `internal` to every append in the group, so no producer
    ever gets an acknowledgement for an event that is not durable.

    Counters are the one piece of state shared with other threads: written
    here with relaxed atomics, read by the query thread for `status`. */

#ifndef PACER_WRITER_H
#define PACER_WRITER_H

#include "daemon/dedup.h"
#include "daemon/projector.h"
#include "daemon/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WRITER_GROUP_MAX_EVENTS 262144
#define WRITER_GROUP_MAX_REQS   4096

typedef struct {
    _Atomic uint64_t requests, appended, duplicates, rejected, bad_requests, commits, map_resizes;
    _Atomic uint64_t map_size;
} writer_stats_t;

typedef struct _writer_t writer_t;

/* Sockets are raw libzmq handles owned by the caller. NULL on failure with
   a message in err. */
/* Takes ownership of *dedup_p (built by writer_load_ids) and clears it. */
writer_t *writer_new(store_t *store, projector_t *projector, dedup_t **dedup_p, void *router,
                     void *pub, writer_stats_t *stats, char *err, size_t errlen);
void writer_destroy(writer_t **self_p);

/* Run until *stop becomes true (checked between groups and at least once a
   second). A group in flight is always finished: committed and answered.
   Returns 0, or -1 if the store failed in a way that needs an operator. */
int writer_run(writer_t *self, volatile int *stop);

/* Write a projection snapshot now (at a clean stop). */
int writer_snapshot(writer_t *self);

/* Build the duplicate index from the log (start-up). */
dedup_t *writer_load_ids(store_t *store, char *err, size_t errlen);

#endif
