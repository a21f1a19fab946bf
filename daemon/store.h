/*  store: the state directory's LMDB environment, its transactions and its
    readers.

    A state directory holds one LMDB environment with the event log and
    what lives beside it. This module opens it (and takes the daemon lock),
    runs the writer's transactions, grows the map when it fills, and hands
    out readers. What is stored is the business of the other store modules,
    each with its own header:

      store_log.h       the log's records: append, decode, the hash chain,
                        reading by seq, walking, seq by time
      store_ids.h       the id index the duplicate check is rebuilt from
      store_snapshot.h  projection snapshots, stored in chunks
      store_verify.h    pacer verify's walk of the whole log

    One writer: store_begin .. (store_append, store_put_snapshot, ...) ..
    store_commit happen on one thread. Readers use store_read_begin on any
    thread; LMDB gives them a consistent snapshot and never blocks the
    writer. When the map fills, the writer's commit fails with
    STORE_MAP_FULL; the caller grows the map with store_grow (which waits for
    readers to leave, see store_read_begin) and replays its batch, or lets
    store_in_txn do both.

    Errors: every store function that can fail returns a store_rc_t code
    (below; its header comment lists which) and, when it takes err/errlen,
    writes a sentence there naming what failed. store_rc_name turns a code
    into its name. Modules that keep databases of their own in this
    environment (daemon/outbox) answer in the same codes. */

#ifndef PACER_STORE_H
#define PACER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _store_t store_t;
typedef struct _store_reader_t store_reader_t;

/* The store layer's return codes: the only ones its functions return. */
typedef enum {
    STORE_OK = 0,
    STORE_ERROR = -1,    /* I/O or LMDB failure, out of memory, misuse; the message says which */
    STORE_MAP_FULL = -2, /* the write transaction did not fit: grow, retry */
    STORE_LOCKED = -3,   /* another pacerd holds this state directory */
    STORE_CORRUPT = -4,  /* stored bytes fail to decode, to chain or to add up */
    STORE_NOT_FOUND = -5,
    STORE_DISK_FULL = -6 /* the filesystem is full (ENOSPC, EDQUOT): retry when space returns */
} store_rc_t;

/* The name of a code: "ok", "error", "map_full", "locked", "corrupt",
   "not_found", "disk_full"; "unknown" for any other value. */
const char *store_rc_name(store_rc_t rc);

typedef struct {
    size_t map_size; /* initial map size in bytes; 0 = default 1 GiB */
    bool exclusive;  /* take the state directory's daemon lock */
    bool read_only;  /* open for reading (pacer verify, pacer backup) */
} store_options_t;

/* Open (creating if needed, unless read_only) the state directory `dir` and
   its environment, and load the log's newest record and the id index's
   last block. NULL with a message when: the directory cannot be created or
   opened; with options->exclusive, another process holds it (the message
   names its pid); read-only, it holds no pacer log; the id index does not
   match the log, or the newest record does not decode (modified outside
   pacerd); LMDB fails. options may be NULL (all defaults). Caller
   destroys. */
store_t *store_open(const char *dir, const store_options_t *options, char *err, size_t errlen);
/* Abort any open write transaction, close the environment, release the
   lock. NULL-safe; sets *self_p to NULL. Readers must have ended. */
void store_destroy(store_t **self_p);

const char *store_dir(store_t *self);
size_t store_map_size(store_t *self);
/* Bytes of the map up to its last used page (free pages inside count as
   used); 0 if LMDB cannot say. On the thread that may grow the map, or
   while it cannot. */
size_t store_map_used(store_t *self);

/* Writer side: one write transaction at a time, on one thread.

   Start it: STORE_OK; STORE_ERROR if one is already open or the store is
   read-only; STORE_MAP_FULL, STORE_DISK_FULL or STORE_ERROR from LMDB. */
int store_begin(store_t *self, char *err, size_t errlen);
/* Commit it (the transaction is over either way): STORE_OK, and the log's
   committed state (store_last_seq ...) moves on; STORE_MAP_FULL (abort
   happened: grow and run the transaction again), STORE_DISK_FULL or
   STORE_ERROR. */
int store_commit(store_t *self, char *err, size_t errlen);
/* Drop the open transaction (if any) and everything it wrote. */
void store_abort(store_t *self);
/* Grow the map (doubling, at least by 64 MiB, at most by 4 GiB). No
   transaction may be open. STORE_OK, or STORE_ERROR, STORE_DISK_FULL from
   LMDB. */
int store_grow(store_t *self, char *err, size_t errlen);
/* Grow the map, as often as needed, until at least `bytes` lie past its
   last used page; *grown counts the growths. No transaction may be open.
   A transaction that fills the map has to be aborted and run again
   (store_in_txn), so the commit thread calls this before each group with
   room to spare. STORE_OK, or as store_grow. */
int store_ensure_room(store_t *self, size_t bytes, int *grown, char *err, size_t errlen);
/* Run `step` inside a write transaction of its own and commit it. If the
   map fills, the transaction is aborted, the map grown and `step` run
   again from the start (up to 8 growths); *grown counts them. Returns
   STORE_OK, what store_begin, store_commit or store_grow returned, or
   step's own non-zero return (the transaction aborted); STORE_MAP_FULL
   once 8 growths were not enough. step returns store codes. */
typedef int(store_txn_fn)(void *arg, char *err, size_t errlen);
int store_in_txn(store_t *self, store_txn_fn *step, void *arg, int *grown, char *err,
                 size_t errlen);

/* Reader side: a consistent snapshot of the whole environment, on any
   thread; the store must outlive the reader. While any reader is open the
   map cannot grow, so end readers promptly. NULL with a message (LMDB
   failure, out of memory). */
store_reader_t *store_read_begin(store_t *self, char *err, size_t errlen);
/* End the reader: NULL-safe, sets *reader_p to NULL. Pointers it handed
   out (records, snapshots) are invalid after. */
void store_read_end(store_reader_t **reader_p);

/* For modules that keep LMDB databases of their own in the store's
   environment (daemon/outbox, daemon/backup): the MDB_env, the writer's
   open MDB_txn (NULL when none is open), and a reader's MDB_txn. They map
   LMDB's codes into store_rc_t as this module does. */
void *store_env(store_t *self);
void *store_write_txn(store_t *self);
void *store_reader_txn(store_reader_t *reader);

#endif
