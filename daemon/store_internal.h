/*  store_internal: what the store's modules share and nobody else sees.

    The store is one LMDB environment split over five files: store.c (the
    environment, transactions, map growth, readers), store_log.c (the log's
    records), store_ids.c (the id index), store_snapshot.c (projection
    snapshots) and store_verify.c (pacer verify's walk). They share the two
    structures below; every other module goes through the public headers
    (store.h, store_log.h, store_ids.h, store_snapshot.h, store_verify.h).

    Layout of the environment:

      log        see store_log.h: seq -> record
      ids        see store_ids.h: block number -> id hashes
      meta       key "format" -> "1"
      snap       see store_snapshot.h: seq -> manifest (or a whole snapshot)
      snapchunk  see store_snapshot.h: chunk number -> a piece of a snapshot

    Invariant: after every commit, the ids index holds exactly last_seq
    hashes. Both are written in the same transaction, so a crash leaves them
    in step; store_open refuses a directory where they are not.

    The writer keeps the last ids block in memory (`tail`) and rewrites it
    once per commit. The committed state (last_seq, last_hash, tail) is kept
    apart from the open transaction's working copy (w_seq, w_hash, w_tail)
    so that an aborted transaction (map full) can be replayed exactly:
    store_begin copies the committed state into the working copy and
    store_commit copies it back once LMDB has committed. */

#ifndef PACER_STORE_INTERNAL_H
#define PACER_STORE_INTERNAL_H

#include "daemon/store.h"
#include "daemon/store_ids.h"
#include "daemon/store_log.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t hashes[STORE_ID_BLOCK];
    uint32_t count; /* entries used in the block of the last seq */
} store_id_tail_t;

struct _store_t {
    char *dir;
    MDB_env *env;
    MDB_dbi log, ids, meta, snap, chunks;
    bool have_chunks; /* false: a read-only open of an older environment */
    size_t map_size;
    int lock_fd;
    bool read_only;
    /* Readers hold this shared; store_grow takes it exclusive because LMDB
       may only be resized while no transaction is open in the process. */
    pthread_rwlock_t resize_lock;
    /* committed state */
    uint64_t last_seq;
    uint8_t last_hash[STORE_HASH_BYTES];
    store_id_tail_t tail;
    /* writer's open transaction */
    MDB_txn *txn;
    uint64_t w_seq;
    uint8_t w_hash[STORE_HASH_BYTES];
    store_id_tail_t w_tail;
};

struct _store_reader_t {
    store_t *store;
    MDB_txn *txn;
    MDB_cursor *cursor; /* on the log */
    char *snapshot;     /* a chunked snapshot, put together; freed at the end */
};

/* Write "<what>: <LMDB's words for rc>" into err and map rc into the store's
   vocabulary: STORE_DISK_FULL (ENOSPC, EDQUOT), STORE_MAP_FULL
   (MDB_MAP_FULL), otherwise STORE_ERROR. */
int store_lmdb_fail(char *err, size_t errlen, const char *what, int rc);

/* An integer key (size_t, MDB_INTEGERKEY). LMDB keeps keys only 2-byte
   aligned, so it is read with memcpy; a key of another size reads as 0. */
uint64_t store_key_u64(const MDB_val *k);

/* A read-only store_open that reads neither the newest record nor the id
   index (store_last_seq is then 0): for store_verify, which has to name a
   damaged newest record as corrupt rather than fail to open. NULL with a
   message otherwise as store_open. */
store_t *store_open_unloaded(const char *dir, char *err, size_t errlen);

/* Set last_seq and last_hash from the newest record, in the open
   transaction txn: STORE_OK (an empty log: 0 and zero bytes),
   STORE_CORRUPT (the newest record does not decode) or STORE_ERROR. */
int store_log_load(store_t *self, MDB_txn *txn, char *err, size_t errlen);

/* Read the ids block of last_seq into tail: STORE_OK, STORE_CORRUPT (the
   index does not hold exactly last_seq hashes) or STORE_ERROR. */
int store_ids_load(store_t *self, MDB_txn *txn, char *err, size_t errlen);
/* Add the id hash of record seq (w_seq + 1) to w_tail, and write the block
   out once it is full: STORE_OK, STORE_MAP_FULL, STORE_DISK_FULL or
   STORE_ERROR. */
int store_ids_push(store_t *self, uint64_t seq, uint64_t id_hash, char *err, size_t errlen);
/* Before the commit: write w_tail's block if this transaction appended to
   it and left it partial. Codes as store_ids_push. */
int store_ids_flush(store_t *self, char *err, size_t errlen);

#endif
