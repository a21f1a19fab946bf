/*  store_verify: see store_verify.h. */

#include "daemon/store_verify.h"
#include "daemon/store_internal.h"
#include "daemon/store_log.h"

#include "events/wire.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>

int
store_verify(const char *dir, uint64_t *checked, uint64_t *bad_seq, char *err, size_t errlen)
{
    store_options_t opts = {.read_only = true};
    *checked = 0;
    *bad_seq = 0;
    store_t *self = store_open(dir, &opts, err, errlen);
    if (!self)
        return STORE_ERROR;
    store_reader_t *r = store_read_begin(self, err, errlen);
    if (!r) {
        store_destroy(&self);
        return STORE_ERROR;
    }
    uint8_t prev[STORE_HASH_BYTES] = {0}, h[STORE_HASH_BYTES];
    uint64_t expect = 1;
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(r->cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(r->cursor, &k, &v, MDB_NEXT), expect++) {
        uint64_t seq = store_key_u64(&k);
        store_record_t rec;
        if (seq != expect) {
            snprintf(err, errlen, "record %llu: expected sequence number %llu (gap or reorder)",
                     (unsigned long long)seq, (unsigned long long)expect);
            *bad_seq = expect;
            rc = STORE_CORRUPT;
            break;
        }
        if ((rc = store_record_decode(seq, v.mv_data, v.mv_size, &rec, err, errlen)) != 0) {
            *bad_seq = seq;
            break;
        }
        if (!mp_scan(rec.event, rec.event_len, WIRE_MAX_DEPTH)) {
            snprintf(err, errlen, "record %llu: the event is not well-formed msgpack",
                     (unsigned long long)seq);
            *bad_seq = seq;
            rc = STORE_CORRUPT;
            break;
        }
        store_chain_hash_principal(prev, seq, rec.recorded_at, rec.principal, rec.principal_len,
                                   rec.event, rec.event_len, h);
        if (memcmp(h, rec.hash, STORE_HASH_BYTES) != 0) {
            snprintf(err, errlen,
                     "record %llu: hash does not match its content and the previous record's "
                     "hash (altered, or its predecessor was)",
                     (unsigned long long)seq);
            *bad_seq = seq;
            rc = STORE_CORRUPT;
            break;
        }
        memcpy(prev, rec.hash, STORE_HASH_BYTES);
        (*checked)++;
    }
    if (rc == MDB_NOTFOUND)
        rc = STORE_OK;
    else if (rc > 0)
        rc = store_lmdb_fail(err, errlen, "walking the log", rc);
    store_read_end(&r);
    store_destroy(&self);
    return rc;
}
