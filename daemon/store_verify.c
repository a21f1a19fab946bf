/*  store_verify: see store_verify.h. */

#include "daemon/store_verify.h"
#include "daemon/store_internal.h"
#include "daemon/store_log.h"

#include "events/wire.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>

/* Record `expect` of the walk, under key k: STORE_OK with prev moved on to
   its hash, or STORE_CORRUPT with *bad_seq and a message. */
static int
check_record(const MDB_val *k, const MDB_val *v, uint64_t expect, uint8_t prev[STORE_HASH_BYTES],
             uint64_t *bad_seq, char *err, size_t errlen)
{
    uint64_t seq = store_key_u64(k);
    store_record_t rec;
    uint8_t h[STORE_HASH_BYTES];
    if (seq != expect) {
        snprintf(err, errlen, "record %llu: expected sequence number %llu (gap or reorder)",
                 (unsigned long long)seq, (unsigned long long)expect);
        *bad_seq = expect;
        return STORE_CORRUPT;
    }
    *bad_seq = seq;
    int rc = store_record_decode(seq, v->mv_data, v->mv_size, &rec, err, errlen);
    if (rc != STORE_OK)
        return rc;
    if (!mp_scan(rec.event, rec.event_len, WIRE_MAX_DEPTH)) {
        snprintf(err, errlen, "record %llu: the event is not well-formed msgpack",
                 (unsigned long long)seq);
        return STORE_CORRUPT;
    }
    store_chain_hash_principal(prev, seq, rec.recorded_at, rec.principal, rec.principal_len,
                               rec.event, rec.event_len, h);
    if (memcmp(h, rec.hash, STORE_HASH_BYTES) != 0) {
        snprintf(err, errlen,
                 "record %llu: hash does not match its content and the previous record's "
                 "hash (altered, or its predecessor was)",
                 (unsigned long long)seq);
        return STORE_CORRUPT;
    }
    memcpy(prev, rec.hash, STORE_HASH_BYTES);
    *bad_seq = 0;
    return STORE_OK;
}

/* The environment is opened without reading its newest record
   (store_open_unloaded), which the walk checks like any other. The
   cursor's LMDB codes are kept apart from the records' store codes so
   that only store_rc_t comes out. */
int
store_verify(const char *dir, uint64_t *checked, uint64_t *bad_seq, char *err, size_t errlen)
{
    *checked = 0;
    *bad_seq = 0;
    store_t *self = store_open_unloaded(dir, err, errlen);
    if (!self)
        return STORE_ERROR;
    store_reader_t *r = store_read_begin(self, err, errlen);
    if (!r) {
        store_destroy(&self);
        return STORE_ERROR;
    }
    uint8_t prev[STORE_HASH_BYTES] = {0};
    uint64_t expect = 1;
    MDB_val k, v;
    int rc = STORE_OK, mrc;
    for (mrc = mdb_cursor_get(r->cursor, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(r->cursor, &k, &v, MDB_NEXT), expect++) {
        if ((rc = check_record(&k, &v, expect, prev, bad_seq, err, errlen)) != STORE_OK)
            break;
        (*checked)++;
    }
    if (rc == STORE_OK && mrc != MDB_NOTFOUND)
        rc = store_lmdb_fail(err, errlen, "walking the log", mrc);
    store_read_end(&r);
    store_destroy(&self);
    return rc;
}
