/*  store_snapshot: see store_snapshot.h for the layout and the contract.

    Reading a chunked snapshot is two steps that work on bytes alone, so
    that tests/fuzz_manifest.c drives exactly what the reader runs:
    store_manifest_decode checks the manifest's fields against each other,
    and store_manifest_gather puts the chunks together, here fetched from
    the reader's transaction (chunk_get). */

#include "daemon/store_snapshot.h"
#include "daemon/store_internal.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAGIC "PSNAPMF1"
#define MAGIC_BYTES    8

int
store_manifest_decode(const void *val, size_t len, store_manifest_t *m, char *err, size_t errlen)
{
    const uint8_t *p = val;
    if (len != STORE_MANIFEST_BYTES || memcmp(p, MANIFEST_MAGIC, MAGIC_BYTES) != 0)
        return STORE_NOT_FOUND;
    memcpy(&m->len, p + MAGIC_BYTES, sizeof m->len);
    memcpy(&m->first, p + MAGIC_BYTES + 8, sizeof m->first);
    memcpy(&m->chunks, p + MAGIC_BYTES + 16, sizeof m->chunks);
    const char *why = NULL;
    if ((uint64_t)(size_t)m->len != m->len)
        why = "more bytes than memory holds";
    else if (m->chunks > m->len)
        why = "more chunks than bytes";
    else if (m->chunks == 0 && m->len > 0)
        why = "bytes but no chunk";
    else if (m->chunks > 0 &&
             (m->first > UINT64_MAX - (m->chunks - 1) ||
              (uint64_t)(size_t)(m->first + (m->chunks - 1)) != m->first + (m->chunks - 1)))
        why = "chunk numbers past the largest key";
    if (why) {
        snprintf(err, errlen, "snapshot manifest (%llu bytes, %llu chunks from chunk %llu): %s",
                 (unsigned long long)m->len, (unsigned long long)m->chunks,
                 (unsigned long long)m->first, why);
        return STORE_CORRUPT;
    }
    return STORE_OK;
}

void
store_manifest_encode(const store_manifest_t *m, uint8_t out[STORE_MANIFEST_BYTES])
{
    memcpy(out, MANIFEST_MAGIC, MAGIC_BYTES);
    memcpy(out + MAGIC_BYTES, &m->len, sizeof m->len);
    memcpy(out + MAGIC_BYTES + 8, &m->first, sizeof m->first);
    memcpy(out + MAGIC_BYTES + 16, &m->chunks, sizeof m->chunks);
}

/* Chunks [0, m->chunks) in order, each checked against what is left of
   m->len; with buf, copied into it. STORE_OK once they fill m->len
   exactly. */
static int
walk_chunks(const store_manifest_t *m, store_chunk_fn *get, void *arg, char *buf, char *err,
            size_t errlen)
{
    /* The chunks' own sizes place them, so a snapshot stays readable
       whatever chunk size wrote it. */
    uint64_t off = 0;
    for (uint64_t i = 0; i < m->chunks; i++) {
        uint64_t chunk = m->first + i;
        const void *data;
        size_t n = 0;
        int rc = get(arg, chunk, &data, &n, err, errlen);
        if (rc == STORE_NOT_FOUND || (rc == STORE_OK && (n == 0 || n > m->len - off))) {
            snprintf(err, errlen, "snapshot chunk %llu is %s", (unsigned long long)chunk,
                     rc  ? "missing"
                     : n ? "larger than the rest of the snapshot"
                         : "empty");
            rc = STORE_CORRUPT;
        }
        if (rc != STORE_OK)
            return rc;
        if (buf)
            memcpy(buf + off, data, n);
        off += n;
    }
    if (off != m->len) {
        snprintf(err, errlen, "snapshot chunks hold %llu of its %llu bytes",
                 (unsigned long long)off, (unsigned long long)m->len);
        return STORE_CORRUPT;
    }
    return STORE_OK;
}

/* Two walks: the first only adds the chunks' sizes up, so that a manifest
   whose length field was damaged (say to 10^19 bytes) is refused as
   corrupt instead of sizing an allocation (tests/fuzz_manifest found the
   one-walk version asking malloc for it); the second copies. */
int
store_manifest_gather(const store_manifest_t *m, store_chunk_fn *get, void *arg, char **out,
                      char *err, size_t errlen)
{
    int rc = walk_chunks(m, get, arg, NULL, err, errlen);
    if (rc != STORE_OK)
        return rc;
    char *buf = malloc(m->len ? (size_t)m->len : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory for a %llu-byte snapshot", (unsigned long long)m->len);
        return STORE_ERROR;
    }
    if ((rc = walk_chunks(m, get, arg, buf, err, errlen)) != STORE_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return STORE_OK;
}

int
store_snapshot_next_chunk(store_t *self, uint64_t *chunk, char *err, size_t errlen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(self->txn, self->chunks, &cur);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "opening a snapshot chunk cursor", rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store_lmdb_fail(err, errlen, "reading snapshot chunks", rc);
    *chunk = rc == 0 ? store_key_u64(&k) + 1 : 1;
    return STORE_OK;
}

int
store_put_snapshot_chunk(store_t *self, uint64_t chunk, const void *data, size_t len, char *err,
                         size_t errlen)
{
    if (len == 0) { /* a reader refuses an empty chunk as corrupt */
        snprintf(err, errlen, "snapshot chunk %llu: a chunk holds at least one byte",
                 (unsigned long long)chunk);
        return STORE_ERROR;
    }
    size_t key = (size_t)chunk;
    MDB_val k = {sizeof key, &key}, v = {len, (void *)data};
    int rc = mdb_put(self->txn, self->chunks, &k, &v, 0);
    return rc == 0 ? STORE_OK
                   : store_lmdb_fail(err, errlen, "writing a projection snapshot chunk", rc);
}

/* Delete manifests (and whole snapshots) beyond the newest `keep`, then
   every chunk that no remaining manifest names. */
static int
prune_snapshots(store_t *self, int keep, char *err, size_t errlen)
{
    enum { KEEP_MAX = 8 };
    if (keep < 1 || keep > KEEP_MAX) {
        /* more would delete the chunks of kept snapshots past the eighth */
        snprintf(err, errlen, "keeping %d snapshots: 1 to %d can be kept", keep, KEEP_MAX);
        return STORE_ERROR;
    }
    uint64_t first[KEEP_MAX], count[KEEP_MAX];
    int kept = 0, seen = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(self->txn, self->snap, &cur);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "opening a snapshot cursor", rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        store_manifest_t m;
        char ignored[1];
        if (++seen > keep) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        } else if (store_manifest_decode(v.mv_data, v.mv_size, &m, ignored, sizeof ignored) !=
                       STORE_NOT_FOUND &&
                   kept < KEEP_MAX) {
            first[kept] = m.first; /* a corrupt manifest's chunks are kept too */
            count[kept++] = m.chunks;
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return store_lmdb_fail(err, errlen, "pruning snapshots", rc);
    if ((rc = mdb_cursor_open(self->txn, self->chunks, &cur)) != 0)
        return store_lmdb_fail(err, errlen, "opening a snapshot chunk cursor", rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t c = store_key_u64(&k);
        bool named = false;
        for (int i = 0; i < kept && !named; i++)
            named = c >= first[i] && c - first[i] < count[i];
        if (!named && (rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? STORE_OK
                              : store_lmdb_fail(err, errlen, "pruning snapshot chunks", rc);
}

int
store_put_snapshot_manifest(store_t *self, uint64_t seq, uint64_t first_chunk, uint64_t chunks,
                            uint64_t len, int keep, char *err, size_t errlen)
{
    store_manifest_t m = {.len = len, .first = first_chunk, .chunks = chunks};
    uint8_t bytes[STORE_MANIFEST_BYTES];
    store_manifest_encode(&m, bytes);
    size_t key = (size_t)seq;
    MDB_val k = {sizeof key, &key}, v = {sizeof bytes, bytes};
    int rc = mdb_put(self->txn, self->snap, &k, &v, 0);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "writing a projection snapshot", rc);
    return prune_snapshots(self, keep, err, errlen);
}

int
store_put_snapshot(store_t *self, uint64_t seq, const void *data, size_t len, int keep, char *err,
                   size_t errlen)
{
    uint64_t first;
    int rc = store_snapshot_next_chunk(self, &first, err, errlen);
    for (size_t off = 0, c = first; rc == STORE_OK && off < len; off += STORE_SNAPSHOT_CHUNK, c++)
        rc = store_put_snapshot_chunk(
            self, c, (const char *)data + off,
            len - off < STORE_SNAPSHOT_CHUNK ? len - off : STORE_SNAPSHOT_CHUNK, err, errlen);
    uint64_t chunks = (len + STORE_SNAPSHOT_CHUNK - 1) / STORE_SNAPSHOT_CHUNK;
    return rc == STORE_OK
               ? store_put_snapshot_manifest(self, seq, first, chunks, len, keep, err, errlen)
               : rc;
}

int
store_drop_snapshots(store_t *self, char *err, size_t errlen)
{
    int rc = mdb_drop(self->txn, self->snap, 0);
    if (rc == 0)
        rc = mdb_drop(self->txn, self->chunks, 0);
    return rc == 0 ? STORE_OK : store_lmdb_fail(err, errlen, "dropping snapshots", rc);
}

/* store_manifest_gather's chunks: from the reader's transaction. */
static int
chunk_get(void *arg, uint64_t chunk, const void **data, size_t *len, char *err, size_t errlen)
{
    store_reader_t *r = arg;
    size_t key = (size_t)chunk;
    MDB_val k = {sizeof key, &key}, v;
    int rc = mdb_get(r->txn, r->store->chunks, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "reading a snapshot chunk", rc);
    *data = v.mv_data;
    *len = v.mv_size;
    return STORE_OK;
}

int
store_reader_snapshot(store_reader_t *r, uint64_t max_seq, uint64_t *seq, const void **data,
                      size_t *len, char *err, size_t errlen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->store->snap, &cur);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "opening a snapshot cursor", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV))
        if (store_key_u64(&k) <= max_seq)
            break;
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "reading snapshots", rc);
    *seq = store_key_u64(&k);
    store_manifest_t m;
    rc = store_manifest_decode(v.mv_data, v.mv_size, &m, err, errlen);
    if (rc == STORE_NOT_FOUND) { /* a whole snapshot, as earlier versions wrote */
        *data = v.mv_data;
        *len = v.mv_size;
        return STORE_OK;
    }
    if (rc != STORE_OK)
        return rc;
    if (!r->store->have_chunks) {
        snprintf(err, errlen, "a snapshot manifest but no chunk database");
        return STORE_CORRUPT;
    }
    store_reader_snapshot_release(r);
    if ((rc = store_manifest_gather(&m, chunk_get, r, &r->snapshot, err, errlen)) != STORE_OK)
        return rc;
    *data = r->snapshot;
    *len = (size_t)m.len;
    return STORE_OK;
}

void
store_reader_snapshot_release(store_reader_t *r)
{
    free(r->snapshot);
    r->snapshot = NULL;
}
