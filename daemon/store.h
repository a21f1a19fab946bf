/*  store: the event log in one LMDB environment.

    The store owns the LMDB environment of a state directory and the `log`
    database in it: an append-only map from sequence number (1, 2, ...; gap
    free) to a record `[1, recorded_at, hash, event]`, or, for an event a
    client appended with authentication on, `[2, recorded_at, hash,
    principal, event]` (msgpack; see docs/PROTOCOL.md, "The log"). Each
    record's hash chains to the previous record's and covers the principal,
    so any edit on disk is detectable by store_verify.

    Beside the log it keeps `ids`: the 64-bit hash of every event id, packed by
    sequence number into blocks of STORE_ID_BLOCK entries. Those keys only ever
    grow, so the writer touches one or two pages per commit instead of one
    random B-tree page per event, and start-up reads them back sequentially to
    rebuild the in-memory duplicate index (daemon/dedup).

    One writer: store_begin .. store_append* .. store_commit happen on one
    thread. Readers use store_read_begin on any thread; LMDB gives them a
    consistent snapshot and never blocks the writer. When the map fills, the
    writer's commit fails with STORE_MAP_FULL; the caller grows the map with
    store_grow (which waits for readers to leave, see store_read_begin) and
    replays its batch. */

#ifndef PACER_STORE_H
#define PACER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_BYTES    32
#define STORE_ID_BLOCK      1024
#define STORE_PRINCIPAL_MAX 255 /* bytes of a version 2 record's principal */

typedef struct _store_t store_t;

/* Return codes. Every function that can fail returns one of these and, when
   it takes err/errlen, writes a sentence naming what failed. */
typedef enum {
    STORE_OK = 0,
    STORE_ERROR = -1,    /* I/O or LMDB failure; message says which */
    STORE_MAP_FULL = -2, /* the write transaction did not fit: grow, retry */
    STORE_LOCKED = -3,   /* another pacerd holds this state directory */
    STORE_CORRUPT = -4,  /* a record fails to decode or to chain */
    STORE_NOT_FOUND = -5,
    STORE_DISK_FULL = -6 /* the filesystem is full (ENOSPC, EDQUOT): retry when space returns */
} store_rc_t;

typedef struct {
    uint64_t seq;
    int64_t recorded_at;
    const uint8_t *hash;  /* STORE_HASH_BYTES, points into the map */
    const uint8_t *event; /* canonical msgpack map, points into the map */
    size_t event_len;
    const char *principal; /* version 2: who appended it (not NUL-terminated); */
    size_t principal_len;  /* version 1: NULL and 0 */
} store_record_t;

typedef struct {
    size_t map_size; /* initial map size in bytes; 0 = default 1 GiB */
    bool exclusive;  /* take the state directory's daemon lock */
    bool read_only;  /* open for reading (pacer verify) */
} store_options_t;

/* Open (creating if needed) the state directory `dir` and its environment.
   With options->exclusive, a second process opening the same directory gets
   NULL and a message naming the pid that holds it. Caller destroys. */
store_t *store_open(const char *dir, const store_options_t *options, char *err, size_t errlen);
void store_destroy(store_t **self_p);

uint64_t store_last_seq(store_t *self);
/* The hash of the newest record (32 zero bytes when the log is empty). */
const uint8_t *store_last_hash(store_t *self);
size_t store_map_size(store_t *self);
/* Bytes of the map up to its last used page (free pages inside count as
   used). On the thread that may grow the map, or while it cannot. */
size_t store_map_used(store_t *self);
const char *store_dir(store_t *self);

/* Writer side. */
int store_begin(store_t *self, char *err, size_t errlen);
/* Append one canonical event; fills *seq_out. id_hash goes to the ids index. */
int store_append(store_t *self, int64_t recorded_at, const uint8_t *event, size_t len,
                 uint64_t id_hash, uint64_t *seq_out, char *err, size_t errlen);
/* The same with its chained hash computed by the caller (daemon/chain):
   store_chain_hash of the previous record's hash, the next seq, recorded_at,
   the principal and the event. A principal (1 to STORE_PRINCIPAL_MAX bytes)
   makes a version 2 record; NULL a version 1 record. */
int store_append_hashed(store_t *self, int64_t recorded_at, const uint8_t *event, size_t len,
                        const char *principal, size_t principal_len, uint64_t id_hash,
                        const uint8_t hash[STORE_HASH_BYTES], uint64_t *seq_out, char *err,
                        size_t errlen);
int store_commit(store_t *self, char *err, size_t errlen);
void store_abort(store_t *self);
/* Grow the map (doubling, at least by 64 MiB). No transaction may be open. */
int store_grow(store_t *self, char *err, size_t errlen);
/* Grow the map, as often as needed, until at least `bytes` lie past its
   last used page; *grown counts the growths. No transaction may be open.
   A transaction that fills the map has to be aborted and run again
   (store_in_txn), so the commit thread calls this before each group with
   room to spare. */
int store_ensure_room(store_t *self, size_t bytes, int *grown, char *err, size_t errlen);
/* Run `step` inside a write transaction of its own and commit it. If the
   map fills, the transaction is aborted, the map grown and `step` run
   again from the start (up to 8 growths); *grown counts them. */
typedef int(store_txn_fn)(void *arg, char *err, size_t errlen);
int store_in_txn(store_t *self, store_txn_fn *step, void *arg, int *grown, char *err,
                 size_t errlen);

/* Projection snapshots, keyed by the seq they reflect, are stored in
   chunks of STORE_SNAPSHOT_CHUNK bytes, so that a large one can be written
   over several short transactions instead of one long one. All of these
   run inside the writer's open transaction.
   store_put_snapshot writes a whole snapshot in the open transaction; the
   newest `keep` snapshots are kept and older ones deleted. */
#define STORE_SNAPSHOT_CHUNK ((size_t)4 << 20)
int store_put_snapshot(store_t *self, uint64_t seq, const void *data, size_t len, int keep,
                       char *err, size_t errlen);
/* Piece by piece: the first chunk number of a new snapshot; then each
   chunk (first, first + 1, ..., of any sizes: store_put_snapshot uses
   STORE_SNAPSHOT_CHUNK), in as many transactions as suits; then, in the
   last, the manifest that makes the `chunks` of them the snapshot at seq
   (`len` bytes in all) and prunes as above. A snapshot whose manifest is
   never written leaves chunks that the next manifest deletes. */
int store_snapshot_next_chunk(store_t *self, uint64_t *chunk, char *err, size_t errlen);
int store_put_snapshot_chunk(store_t *self, uint64_t chunk, const void *data, size_t len, char *err,
                             size_t errlen);
int store_put_snapshot_manifest(store_t *self, uint64_t seq, uint64_t first_chunk, uint64_t chunks,
                                uint64_t len, int keep, char *err, size_t errlen);
/* Delete every snapshot (rebuild), inside the writer's open transaction. */
int store_drop_snapshots(store_t *self, char *err, size_t errlen);

/* Calls fn for every stored id hash in sequence order, from seq 1; used at
   start-up to rebuild the duplicate index. */
typedef void(store_id_fn)(void *arg, uint64_t seq, uint64_t id_hash);
int store_scan_ids(store_t *self, store_id_fn *fn, void *arg, char *err, size_t errlen);

/* Reader side: a snapshot. Any thread; the store must outlive the reader. */
typedef struct _store_reader_t store_reader_t;
store_reader_t *store_read_begin(store_t *self, char *err, size_t errlen);
void store_read_end(store_reader_t **reader_p);
uint64_t store_reader_last_seq(store_reader_t *reader);
/* Record at seq: STORE_OK, STORE_NOT_FOUND, or STORE_CORRUPT. Pointers stay
   valid until store_read_end. */
int store_reader_get(store_reader_t *reader, uint64_t seq, store_record_t *rec, char *err,
                     size_t errlen);

/* The newest snapshot with seq <= max_seq (UINT64_MAX: the newest of all):
   STORE_OK with *seq, *data, *len (valid until store_read_end or
   store_reader_snapshot_release), STORE_NOT_FOUND, or STORE_CORRUPT if its
   chunks do not match its manifest. A chunked snapshot is copied into
   memory the reader owns. */
int store_reader_snapshot(store_reader_t *reader, uint64_t max_seq, uint64_t *seq,
                          const void **data, size_t *len, char *err, size_t errlen);
/* Free the copy store_reader_snapshot made, once it is loaded. */
void store_reader_snapshot_release(store_reader_t *reader);
/* Walk records from seq `from` to `to` inclusive in order; stops early if
   fn returns non-zero (and returns that). */
typedef int(store_record_fn)(void *arg, const store_record_t *rec);
int store_reader_walk(store_reader_t *reader, uint64_t from, uint64_t to, store_record_fn *fn,
                      void *arg, char *err, size_t errlen);
/* The last seq whose recorded_at <= t (0 if none); recorded_at never
   decreases along the log, so this is a binary search. */
uint64_t store_reader_seq_at(store_reader_t *reader, int64_t t);

/* For modules that keep LMDB databases of their own in the store's
   environment (daemon/outbox): the MDB_env, the writer's open MDB_txn
   (NULL when none is open), and a reader's MDB_txn. */
void *store_env(store_t *self);
void *store_write_txn(store_t *self);
void *store_reader_txn(store_reader_t *reader);

/* Decode a raw record value (key seq), of either version, into rec:
   STORE_OK, or STORE_CORRUPT with a message. */
int store_record_decode(uint64_t seq, const void *val, size_t len, store_record_t *rec, char *err,
                        size_t errlen);
/* The chained hash of a version 1 record given its predecessor's hash. */
void store_chain_hash(const uint8_t prev[STORE_HASH_BYTES], uint64_t seq, int64_t recorded_at,
                      const uint8_t *event, size_t len, uint8_t out[STORE_HASH_BYTES]);
/* The same for a version 2 record, which also covers its principal
   (principal_len 1 to STORE_PRINCIPAL_MAX); with principal NULL, exactly
   store_chain_hash. */
void store_chain_hash_principal(const uint8_t prev[STORE_HASH_BYTES], uint64_t seq,
                                int64_t recorded_at, const char *principal, size_t principal_len,
                                const uint8_t *event, size_t len, uint8_t out[STORE_HASH_BYTES]);

/* Walk the whole log of the state directory `dir` (read-only; a running
   daemon may keep appending) and check every record decodes and chains.
   STORE_OK with *checked = records checked, or STORE_CORRUPT with *bad_seq =
   the first record that fails and a message saying how. */
int store_verify(const char *dir, uint64_t *checked, uint64_t *bad_seq, char *err, size_t errlen);

#endif
