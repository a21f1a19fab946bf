/*  store_ids: the id index beside the log, from which the duplicate check
    is rebuilt at start-up.

    The `ids` database holds the 64-bit hash of every event id (SipHash,
    computed by the intake; see daemon/dedup), packed by sequence number
    into blocks of STORE_ID_BLOCK entries: key block number b (size_t,
    MDB_INTEGERKEY), value the native uint64 hashes of seqs
    b*STORE_ID_BLOCK+1 .. in order; only the last block is partial. Those
    keys only ever grow, so the writer touches one or two pages per commit
    instead of one random B-tree page per event, and start-up reads them
    back sequentially to rebuild the in-memory duplicate index.

    The index is written by store_append (store_log.h) in the same
    transaction as the record, so it always holds exactly one hash per
    record; store_open refuses a state directory where it does not. Codes
    are store_rc_t (store.h). */

#ifndef PACER_STORE_IDS_H
#define PACER_STORE_IDS_H

#include "daemon/store.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_ID_BLOCK 1024

/* Calls fn for every stored id hash in sequence order, from seq 1, in a
   read transaction of its own: STORE_OK, STORE_CORRUPT (a block out of
   sequence or of a size that is not whole hashes) or STORE_ERROR. */
typedef void(store_id_fn)(void *arg, uint64_t seq, uint64_t id_hash);
int store_scan_ids(store_t *self, store_id_fn *fn, void *arg, char *err, size_t errlen);

#endif
