/*  store_log: see store_log.h for the record format and the contract.

    Appends write the record with MDB_APPEND | MDB_RESERVE (the key is
    always the next seq, so LMDB appends to the last page without a
    search) and then fill in the reserved bytes. The writer's working
    state (w_seq, w_hash) moves with each append and becomes the committed
    state only when store_commit succeeds (store_internal.h). */

#include "daemon/store_log.h"
#include "daemon/store_internal.h"

#include <assert.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RECORD_HEAD    45
#define RECORD_HEAD_V2 47 /* and the principal's bytes */

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void
store_chain_hash(const uint8_t prev[STORE_HASH_BYTES], uint64_t seq, int64_t recorded_at,
                 const uint8_t *event, size_t len, uint8_t out[STORE_HASH_BYTES])
{
    crypto_generichash_state st;
    uint8_t nums[16];
    put_be64(nums, seq);
    put_be64(nums + 8, (uint64_t)recorded_at);
    crypto_generichash_init(&st, NULL, 0, STORE_HASH_BYTES);
    crypto_generichash_update(&st, prev, STORE_HASH_BYTES);
    crypto_generichash_update(&st, nums, sizeof nums);
    crypto_generichash_update(&st, event, len);
    crypto_generichash_final(&st, out, STORE_HASH_BYTES);
}

/* A version 2 record's hash input puts, after seq and recorded_at, the
   version byte (never the first byte of a version 1 record's event, a
   msgpack map) and the principal's length before the principal and the
   event: no two records of either version hash the same bytes. */
void
store_chain_hash_principal(const uint8_t prev[STORE_HASH_BYTES], uint64_t seq, int64_t recorded_at,
                           const char *principal, size_t principal_len, const uint8_t *event,
                           size_t len, uint8_t out[STORE_HASH_BYTES])
{
    if (!principal) {
        store_chain_hash(prev, seq, recorded_at, event, len, out);
        return;
    }
    assert(principal_len >= 1 && principal_len <= STORE_PRINCIPAL_MAX);
    crypto_generichash_state st;
    uint8_t head[18];
    put_be64(head, seq);
    put_be64(head + 8, (uint64_t)recorded_at);
    head[16] = 2;
    head[17] = (uint8_t)principal_len;
    crypto_generichash_init(&st, NULL, 0, STORE_HASH_BYTES);
    crypto_generichash_update(&st, prev, STORE_HASH_BYTES);
    crypto_generichash_update(&st, head, sizeof head);
    crypto_generichash_update(&st, (const uint8_t *)principal, principal_len);
    crypto_generichash_update(&st, event, len);
    crypto_generichash_final(&st, out, STORE_HASH_BYTES);
}

int
store_record_decode(uint64_t seq, const void *val, size_t len, store_record_t *rec, char *err,
                    size_t errlen)
{
    const uint8_t *p = val;
    bool v1 = len > RECORD_HEAD && p[0] == 0x94 && p[1] == 0x01;
    bool v2 = len > RECORD_HEAD_V2 && p[0] == 0x95 && p[1] == 0x02;
    if ((!v1 && !v2) || p[2] != 0xcf || p[11] != 0xc4 || p[12] != STORE_HASH_BYTES ||
        (v2 && (p[45] != 0xd9 || p[46] == 0 || len <= (size_t)RECORD_HEAD_V2 + p[46]))) {
        snprintf(err, errlen, "record %llu: not a version 1 or 2 record (bad header)",
                 (unsigned long long)seq);
        return STORE_CORRUPT;
    }
    uint64_t at = get_be64(p + 3);
    if (at > (uint64_t)INT64_MAX) {
        snprintf(err, errlen, "record %llu: recorded_at out of range", (unsigned long long)seq);
        return STORE_CORRUPT;
    }
    size_t head = v2 ? (size_t)RECORD_HEAD_V2 + p[46] : RECORD_HEAD;
    rec->seq = seq;
    rec->recorded_at = (int64_t)at;
    rec->hash = p + 13;
    rec->event = p + head;
    rec->event_len = len - head;
    rec->principal = v2 ? (const char *)p + RECORD_HEAD_V2 : NULL;
    rec->principal_len = v2 ? p[46] : 0;
    return STORE_OK;
}

int
store_log_load(store_t *self, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->log, &cur);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "opening a log cursor", rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    self->last_seq = 0;
    memset(self->last_hash, 0, STORE_HASH_BYTES);
    if (rc == 0) {
        store_record_t rec;
        uint64_t seq = store_key_u64(&k);
        rc = store_record_decode(seq, v.mv_data, v.mv_size, &rec, err, errlen);
        if (rc == STORE_OK) {
            self->last_seq = seq;
            memcpy(self->last_hash, rec.hash, STORE_HASH_BYTES);
        }
    } else if (rc == MDB_NOTFOUND)
        rc = STORE_OK;
    else
        rc = store_lmdb_fail(err, errlen, "reading the last record", rc);
    mdb_cursor_close(cur);
    return rc;
}

uint64_t
store_last_seq(store_t *self)
{
    return self->last_seq;
}

const uint8_t *
store_last_hash(store_t *self)
{
    return self->last_hash;
}

int
store_append_hashed(store_t *self, int64_t recorded_at, const uint8_t *event, size_t len,
                    const char *principal, size_t principal_len, uint64_t id_hash,
                    const uint8_t hash[STORE_HASH_BYTES], uint64_t *seq_out, char *err,
                    size_t errlen)
{
    if (principal && (principal_len == 0 || principal_len > STORE_PRINCIPAL_MAX)) {
        snprintf(err, errlen, "a record's principal is 1 to %d bytes, not %zu", STORE_PRINCIPAL_MAX,
                 principal_len);
        return STORE_ERROR;
    }
    uint64_t seq = self->w_seq + 1;
    size_t key = (size_t)seq;
    size_t head = principal ? RECORD_HEAD_V2 + principal_len : RECORD_HEAD;
    MDB_val k = {sizeof key, &key}, v = {head + len, NULL};
    int rc = mdb_put(self->txn, self->log, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "appending to the log", rc);
    uint8_t *p = v.mv_data;
    p[0] = principal ? 0x95 : 0x94;
    p[1] = principal ? 0x02 : 0x01;
    p[2] = 0xcf;
    put_be64(p + 3, (uint64_t)recorded_at);
    p[11] = 0xc4;
    p[12] = STORE_HASH_BYTES;
    memcpy(p + 13, hash, STORE_HASH_BYTES);
    if (principal) {
        p[45] = 0xd9;
        p[46] = (uint8_t)principal_len;
        memcpy(p + RECORD_HEAD_V2, principal, principal_len);
    }
    memcpy(p + head, event, len);
    memcpy(self->w_hash, hash, STORE_HASH_BYTES);

    if ((rc = store_ids_push(self, seq, id_hash, err, errlen)) != STORE_OK)
        return rc;
    self->w_seq = seq;
    *seq_out = seq;
    return STORE_OK;
}

int
store_append(store_t *self, int64_t recorded_at, const uint8_t *event, size_t len, uint64_t id_hash,
             uint64_t *seq_out, char *err, size_t errlen)
{
    uint8_t hash[STORE_HASH_BYTES];
    store_chain_hash(self->w_hash, self->w_seq + 1, recorded_at, event, len, hash);
    return store_append_hashed(self, recorded_at, event, len, NULL, 0, id_hash, hash, seq_out, err,
                               errlen);
}

uint64_t
store_reader_last_seq(store_reader_t *r)
{
    MDB_val k, v;
    if (mdb_cursor_get(r->cursor, &k, &v, MDB_LAST) != 0)
        return 0;
    return store_key_u64(&k);
}

int
store_reader_get(store_reader_t *r, uint64_t seq, store_record_t *rec, char *err, size_t errlen)
{
    size_t key = (size_t)seq;
    MDB_val k = {sizeof key, &key}, v;
    int rc = mdb_cursor_get(r->cursor, &k, &v, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "reading the log", rc);
    return store_record_decode(seq, v.mv_data, v.mv_size, rec, err, errlen);
}

int
store_reader_walk(store_reader_t *r, uint64_t from, uint64_t to, store_record_fn *fn, void *arg,
                  char *err, size_t errlen)
{
    if (from > to)
        return STORE_OK;
    size_t key = (size_t)from;
    MDB_val k = {sizeof key, &key}, v;
    int rc;
    for (rc = mdb_cursor_get(r->cursor, &k, &v, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get(r->cursor, &k, &v, MDB_NEXT)) {
        uint64_t seq = store_key_u64(&k);
        if (seq > to)
            break;
        store_record_t rec;
        int d = store_record_decode(seq, v.mv_data, v.mv_size, &rec, err, errlen);
        if (d != STORE_OK)
            return d;
        if ((d = fn(arg, &rec)) != 0)
            return d;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store_lmdb_fail(err, errlen, "walking the log", rc);
    return STORE_OK;
}

uint64_t
store_reader_seq_at(store_reader_t *r, int64_t t)
{
    uint64_t lo = 0, hi = store_reader_last_seq(r);
    char err[128];
    while (lo < hi) { /* invariant: answer in [lo, hi] */
        uint64_t mid = lo + (hi - lo + 1) / 2;
        store_record_t rec;
        if (store_reader_get(r, mid, &rec, err, sizeof err) != STORE_OK)
            return lo;
        if (rec.recorded_at <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}
