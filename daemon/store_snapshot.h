/*  store_snapshot: projection snapshots in the store's environment, stored
    in chunks so that a large one can be written over several short
    transactions instead of one long one.

    Two databases:
      snap       key: the seq a snapshot reflects (size_t, MDB_INTEGERKEY),
                 value: its manifest, STORE_MANIFEST_BYTES bytes,
                 "PSNAPMF1" <length u64> <first chunk u64> <chunks u64>
                 (native byte order), or, written by versions before
                 chunking, the whole snapshot.
      snapchunk  key: chunk number (size_t), value: a piece of a snapshot,
                 at least one byte (pacerd writes STORE_SNAPSHOT_CHUNK bytes
                 a piece; readers go by each piece's size). A snapshot's
                 chunks are consecutive numbers, written in transactions of
                 their own before the one that writes its manifest; chunks
                 no kept manifest names (a snapshot cut short) go when the
                 next manifest is written.
    So a manifest describes `len` bytes in `chunks` chunks numbered first ..
    first + chunks - 1: no chunk number wraps, chunks <= len (no chunk is
    empty), and chunks > 0 whenever len > 0. store_manifest_decode refuses
    any other as STORE_CORRUPT; store_manifest_gather refuses chunks that
    are missing, empty, or do not add up to len.

    The writing functions run inside the writer's open transaction
    (store_begin); the reading ones on a reader (store_read_begin). Codes
    are store_rc_t (store.h). */

#ifndef PACER_STORE_SNAPSHOT_H
#define PACER_STORE_SNAPSHOT_H

#include "daemon/store.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_SNAPSHOT_CHUNK ((size_t)4 << 20)

/* Write a whole snapshot (len bytes, any length) in the open transaction,
   in chunks of STORE_SNAPSHOT_CHUNK, then its manifest; the newest `keep`
   snapshots (1 to 8) are kept and older ones deleted. STORE_OK;
   STORE_MAP_FULL, STORE_DISK_FULL or STORE_ERROR from LMDB; STORE_ERROR
   for a `keep` outside 1 to 8. */
int store_put_snapshot(store_t *self, uint64_t seq, const void *data, size_t len, int keep,
                       char *err, size_t errlen);
/* Piece by piece: the first chunk number of a new snapshot; then each
   chunk (first, first + 1, ..., of any sizes from 1 byte:
   store_put_snapshot uses STORE_SNAPSHOT_CHUNK), in as many transactions
   as suits; then, in the last, the manifest that makes the `chunks` of
   them the snapshot at seq (`len` bytes in all) and prunes as above. A
   snapshot whose manifest is never written leaves chunks that the next
   manifest deletes. Each: STORE_OK; STORE_MAP_FULL, STORE_DISK_FULL or
   STORE_ERROR from LMDB; STORE_ERROR for an empty chunk. */
int store_snapshot_next_chunk(store_t *self, uint64_t *chunk, char *err, size_t errlen);
int store_put_snapshot_chunk(store_t *self, uint64_t chunk, const void *data, size_t len, char *err,
                             size_t errlen);
int store_put_snapshot_manifest(store_t *self, uint64_t seq, uint64_t first_chunk, uint64_t chunks,
                                uint64_t len, int keep, char *err, size_t errlen);
/* Delete every snapshot (rebuild), inside the writer's open transaction:
   STORE_OK, or STORE_MAP_FULL, STORE_DISK_FULL, STORE_ERROR from LMDB. */
int store_drop_snapshots(store_t *self, char *err, size_t errlen);

/* The newest snapshot with seq <= max_seq (UINT64_MAX: the newest of all):
   STORE_OK with *seq, *data, *len (valid until store_read_end or
   store_reader_snapshot_release); STORE_NOT_FOUND (none); STORE_CORRUPT if
   its manifest or chunks are not consistent (see above); STORE_ERROR (LMDB,
   or out of memory). A chunked snapshot is copied into memory the reader
   owns. */
int store_reader_snapshot(store_reader_t *reader, uint64_t max_seq, uint64_t *seq,
                          const void **data, size_t *len, char *err, size_t errlen);
/* Free the copy store_reader_snapshot made, once it is loaded. */
void store_reader_snapshot_release(store_reader_t *reader);

/* The manifest, as the functions above read and write it; public so that
   its decoding can be tested and fuzzed on bytes (tests/fuzz_manifest.c)
   exactly as the reader runs it. */
#define STORE_MANIFEST_BYTES 32
typedef struct {
    uint64_t len;    /* bytes of the snapshot */
    uint64_t first;  /* number of its first chunk */
    uint64_t chunks; /* how many: first .. first + chunks - 1 */
} store_manifest_t;

/* Decode a `snap` value of `len` bytes: STORE_OK with *m; STORE_NOT_FOUND
   when it is not a manifest (another size, or no magic: a whole snapshot
   as versions before chunking stored it); STORE_CORRUPT with a message for
   a manifest whose fields cannot describe a snapshot (see above), or whose
   length does not fit in memory (size_t); *m then holds the fields as
   stored. */
int store_manifest_decode(const void *val, size_t len, store_manifest_t *m, char *err,
                          size_t errlen);
/* The STORE_MANIFEST_BYTES of m, as store_put_snapshot_manifest stores
   them. */
void store_manifest_encode(const store_manifest_t *m, uint8_t out[STORE_MANIFEST_BYTES]);

/* Where store_manifest_gather finds chunk number `chunk`: STORE_OK with
   *data and *len (valid until the gather returns), STORE_NOT_FOUND, or
   another code with a message. */
typedef int(store_chunk_fn)(void *arg, uint64_t chunk, const void **data, size_t *len, char *err,
                            size_t errlen);
/* Put the snapshot a decoded manifest describes together from its chunks,
   fetched with get: STORE_OK with *out (m->len bytes, at least 1 allocated;
   the caller frees it); STORE_CORRUPT with a message if a chunk is
   missing, empty or larger than the rest, or the chunks hold fewer than
   m->len bytes; STORE_ERROR out of memory; or get's own code. Nothing
   is allocated unless the chunks add up to m->len; each chunk is fetched
   twice (sizes, then bytes), so get must answer the same both times. */
int store_manifest_gather(const store_manifest_t *m, store_chunk_fn *get, void *arg, char **out,
                          char *err, size_t errlen);

#endif
