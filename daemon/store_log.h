/*  store_log: the event log's records, in the store's environment.

    The `log` database is an append-only map from sequence number (1, 2,
    ...; gap free) to a record `[1, recorded_at, hash, event]`, or, for an
    event a client appended with authentication on, `[2, recorded_at, hash,
    principal, event]` (msgpack; see docs/PROTOCOL.md, "The log"). Each
    record's hash chains to the previous record's and covers the principal,
    so any edit on disk is detectable (store_verify.h).

    The bytes of a record, version 1:
        0x94 0x01 0xcf <recorded_at u64be> 0xc4 0x20 <hash[32]> <event map>
    i.e. the msgpack array [1, recorded_at, bin(hash), event] with a fixed
    45-byte head, so the writer can MDB_RESERVE the exact size and readers
    find the hash without a general decoder; or version 2:
        0x95 0x02 0xcf <recorded_at u64be> 0xc4 0x20 <hash[32]>
             0xd9 <n> <principal[n]> <event map>
    [2, recorded_at, bin(hash), str8(principal), event], where the principal
    is always a str8 (1 <= n <= 255), so its length sits at a fixed offset
    and the event is again the rest of the value. The principal comes
    before the event for that reason: a reader finds every field without
    walking the event. Keys are size_t (MDB_INTEGERKEY).

    Appending happens in the writer's open transaction (store.h,
    store_begin); every append also adds the event's id hash to the id
    index (store_ids.h), in the same transaction. Reading goes through a
    reader (store_read_begin); records point into the map and stay valid
    until the reader ends. Codes are store_rc_t (store.h). */

#ifndef PACER_STORE_LOG_H
#define PACER_STORE_LOG_H

#include "daemon/store.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_BYTES    32
#define STORE_PRINCIPAL_MAX 255 /* bytes of a version 2 record's principal */

typedef struct {
    uint64_t seq;
    int64_t recorded_at;
    const uint8_t *hash;  /* STORE_HASH_BYTES, points into the map */
    const uint8_t *event; /* canonical msgpack map, points into the map */
    size_t event_len;
    const char *principal; /* version 2: who appended it (not NUL-terminated); */
    size_t principal_len;  /* version 1: NULL and 0 */
} store_record_t;

/* The committed log: its last seq (0 when empty) and the hash of that
   record (32 zero bytes when the log is empty). Writer's thread, or any
   thread while no transaction can commit. */
uint64_t store_last_seq(store_t *self);
const uint8_t *store_last_hash(store_t *self);

/* Append one canonical event (a version 1 record) in the open write
   transaction, its hash chained here; fills *seq_out. id_hash goes to the
   id index. STORE_OK; STORE_MAP_FULL (abort, grow, run the transaction
   again), STORE_DISK_FULL or STORE_ERROR from LMDB. */
int store_append(store_t *self, int64_t recorded_at, const uint8_t *event, size_t len,
                 uint64_t id_hash, uint64_t *seq_out, char *err, size_t errlen);
/* The same with its chained hash computed by the caller (daemon/chain):
   store_chain_hash_principal of the previous record's hash, the next seq,
   recorded_at, the principal and the event. A principal (1 to
   STORE_PRINCIPAL_MAX bytes) makes a version 2 record; NULL a version 1
   record. Codes as store_append; STORE_ERROR for a principal of another
   length. */
int store_append_hashed(store_t *self, int64_t recorded_at, const uint8_t *event, size_t len,
                        const char *principal, size_t principal_len, uint64_t id_hash,
                        const uint8_t hash[STORE_HASH_BYTES], uint64_t *seq_out, char *err,
                        size_t errlen);

/* Decode a raw record value (key seq), of either version, into rec, whose
   pointers then lie inside val: STORE_OK, or STORE_CORRUPT with a message
   (bad header, recorded_at out of range, no event). */
int store_record_decode(uint64_t seq, const void *val, size_t len, store_record_t *rec, char *err,
                        size_t errlen);
/* The chained hash of a version 1 record given its predecessor's hash
   (BLAKE2b-256 of prev, seq and recorded_at big-endian, the event). */
void store_chain_hash(const uint8_t prev[STORE_HASH_BYTES], uint64_t seq, int64_t recorded_at,
                      const uint8_t *event, size_t len, uint8_t out[STORE_HASH_BYTES]);
/* The same for a version 2 record, which also covers its principal
   (principal_len 1 to STORE_PRINCIPAL_MAX); with principal NULL, exactly
   store_chain_hash. */
void store_chain_hash_principal(const uint8_t prev[STORE_HASH_BYTES], uint64_t seq,
                                int64_t recorded_at, const char *principal, size_t principal_len,
                                const uint8_t *event, size_t len, uint8_t out[STORE_HASH_BYTES]);

/* Readers (store_read_begin). The reader's last seq (0 if the log is
   empty or cannot be read). */
uint64_t store_reader_last_seq(store_reader_t *reader);
/* Record at seq: STORE_OK, STORE_NOT_FOUND, STORE_CORRUPT (it does not
   decode) or STORE_ERROR. Pointers stay valid until store_read_end. */
int store_reader_get(store_reader_t *reader, uint64_t seq, store_record_t *rec, char *err,
                     size_t errlen);
/* Walk records from seq `from` to `to` inclusive in order (those that
   exist). STORE_OK; STORE_CORRUPT for a record that does not decode;
   STORE_ERROR from LMDB; or, when fn returns non-zero, the walk stops and
   returns that value as it is (fn's own codes). */
typedef int(store_record_fn)(void *arg, const store_record_t *rec);
int store_reader_walk(store_reader_t *reader, uint64_t from, uint64_t to, store_record_fn *fn,
                      void *arg, char *err, size_t errlen);
/* The last seq whose recorded_at <= t (0 if none); recorded_at never
   decreases along the log, so this is a binary search. A record that
   cannot be read ends the search at the answer so far. */
uint64_t store_reader_seq_at(store_reader_t *reader, int64_t t);

#endif
