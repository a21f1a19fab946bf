/*  store_ids: see store_ids.h for the layout and the contract.

    The writer keeps the last block in memory: w_tail while a transaction
    is open, tail once it committed (store_internal.h). A block is written
    out when it fills (store_ids_push) and, partial, once at the end of
    each transaction that added to it (store_ids_flush), so a group of
    many events rewrites the last block once. */

#include "daemon/store_ids.h"
#include "daemon/store_internal.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>

static int
put_tail(store_t *self, uint64_t last_seq, char *err, size_t errlen)
{
    size_t block = (size_t)((last_seq - 1) / STORE_ID_BLOCK);
    MDB_val k = {sizeof block, &block};
    MDB_val v = {self->w_tail.count * sizeof(uint64_t), self->w_tail.hashes};
    int rc = mdb_put(self->txn, self->ids, &k, &v, 0);
    return rc == 0 ? STORE_OK : store_lmdb_fail(err, errlen, "writing the id index", rc);
}

int
store_ids_load(store_t *self, MDB_txn *txn, char *err, size_t errlen)
{
    memset(&self->tail, 0, sizeof self->tail);
    if (self->last_seq == 0)
        return STORE_OK;
    size_t block = (size_t)((self->last_seq - 1) / STORE_ID_BLOCK);
    uint32_t expect = (uint32_t)((self->last_seq - 1) % STORE_ID_BLOCK) + 1;
    MDB_val k = {sizeof block, &block}, v;
    int rc = mdb_get(txn, self->ids, &k, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != expect * sizeof(uint64_t))) {
        snprintf(err, errlen,
                 "%s: the id index does not match the log (last seq %llu); the state "
                 "directory was modified outside pacerd",
                 self->dir, (unsigned long long)self->last_seq);
        return STORE_CORRUPT;
    }
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "reading the id index", rc);
    memcpy(self->tail.hashes, v.mv_data, v.mv_size);
    self->tail.count = expect;
    return STORE_OK;
}

int
store_ids_push(store_t *self, uint64_t seq, uint64_t id_hash, char *err, size_t errlen)
{
    if (self->w_tail.count == STORE_ID_BLOCK)
        self->w_tail.count = 0; /* previous block was written out full */
    self->w_tail.hashes[self->w_tail.count++] = id_hash;
    if (self->w_tail.count == STORE_ID_BLOCK)
        return put_tail(self, seq, err, errlen);
    return STORE_OK;
}

int
store_ids_flush(store_t *self, char *err, size_t errlen)
{
    bool partial = self->w_seq > self->last_seq && self->w_tail.count < STORE_ID_BLOCK;
    return partial ? put_tail(self, self->w_seq, err, errlen) : STORE_OK;
}

int
store_scan_ids(store_t *self, store_id_fn *fn, void *arg, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "starting a read transaction", rc);
    if ((rc = mdb_cursor_open(txn, self->ids, &cur)) != 0) {
        mdb_txn_abort(txn);
        return store_lmdb_fail(err, errlen, "opening an id index cursor", rc);
    }
    MDB_val k, v;
    uint64_t seq = 1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t block = store_key_u64(&k);
        size_t n = v.mv_size / sizeof(uint64_t);
        if ((uint64_t)block * STORE_ID_BLOCK + 1 != seq || v.mv_size % sizeof(uint64_t)) {
            snprintf(err, errlen, "id index block %zu is out of sequence", block);
            mdb_cursor_close(cur);
            mdb_txn_abort(txn);
            return STORE_CORRUPT;
        }
        const uint8_t *p = v.mv_data;
        for (size_t i = 0; i < n; i++, seq++) {
            uint64_t h;
            memcpy(&h, p + i * sizeof h, sizeof h); /* overflow pages: no alignment promise */
            fn(arg, seq, h);
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? STORE_OK
                              : store_lmdb_fail(err, errlen, "scanning the id index", rc);
}
