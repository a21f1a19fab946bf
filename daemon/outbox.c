/*  outbox: see outbox.h. The two DBIs are opened once, at start-up, and
    their handles are then valid in every transaction of the environment
    (LMDB's rule), so they are kept in file statics: one store per
    process. */

#include "daemon/outbox.h"

#include "events/wire.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static MDB_dbi alerts_dbi, state_dbi;
static bool opened;
static uint64_t epoch;

/* alert_state's one key that is not an alert's: the outbox's epoch. Alert
   keys never start with a NUL byte. */
static const char EPOCH_KEY[] = "\0epoch";
#define EPOCH_KEY_LEN (sizeof EPOCH_KEY - 1)

/* An LMDB failure as a store_rc_t, mapped as daemon/store.c maps its own:
   the outbox writes in the store's transaction, so its caller must be able
   to tell a full map (grow and retry) and a full disk (wait) from the rest. */
static int
fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
    if (rc == ENOSPC || rc == EDQUOT)
        return STORE_DISK_FULL;
    return rc == MDB_MAP_FULL ? STORE_MAP_FULL : STORE_ERROR;
}

void
outbox_batch_init(outbox_batch_t *b)
{
    memset(b, 0, sizeof *b);
    msgpack_sbuffer_init(&b->buf);
}

void
outbox_batch_clear(outbox_batch_t *b)
{
    msgpack_sbuffer_clear(&b->buf);
    b->nrecs = b->nstates = 0;
}

void
outbox_batch_destroy(outbox_batch_t *b)
{
    msgpack_sbuffer_destroy(&b->buf);
    free(b->recs);
    free(b->states);
    memset(b, 0, sizeof *b);
}

static int
append(outbox_batch_t *b, const void *p, size_t n, uint32_t *off)
{
    if (b->buf.size + n > UINT32_MAX)
        return -1;
    *off = (uint32_t)b->buf.size;
    return n ? msgpack_sbuffer_write(&b->buf, p, n) : 0;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

int
outbox_batch_add(outbox_batch_t *b, uint64_t aseq, const char *topic, size_t topic_len,
                 const void *rec, size_t rec_len)
{
    if (topic_len > UINT16_MAX ||
        grow((void **)&b->recs, &b->caprecs, b->nrecs + 1, sizeof *b->recs) != 0)
        return -1;
    outbox_rec_t *r = &b->recs[b->nrecs];
    r->aseq = aseq;
    r->topic_len = (uint32_t)topic_len;
    r->rec_len = (uint32_t)rec_len;
    if (append(b, topic, topic_len, &r->topic_off) != 0 ||
        append(b, rec, rec_len, &r->rec_off) != 0)
        return -1;
    b->nrecs++;
    return 0;
}

int
outbox_batch_state(outbox_batch_t *b, const char *key, size_t key_len, const void *val,
                   size_t val_len)
{
    if (key_len == 0 || key_len > 511 ||
        grow((void **)&b->states, &b->capstates, b->nstates + 1, sizeof *b->states) != 0)
        return -1;
    outbox_state_t *s = &b->states[b->nstates];
    s->key_len = (uint32_t)key_len;
    s->val_len = (uint32_t)val_len;
    if (append(b, key, key_len, &s->key_off) != 0 || append(b, val, val_len, &s->val_off) != 0)
        return -1;
    b->nstates++;
    return 0;
}

/* The newest aseq in the alerts database of txn (0: none). */
static int
last_key(MDB_txn *txn, uint64_t *last_aseq, char *err, size_t errlen)
{
    *last_aseq = 0;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, alerts_dbi, &c);
    if (rc != 0)
        return fail(err, errlen, "reading the alert outbox", rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return STORE_OK;
    if (rc != 0)
        return fail(err, errlen, "reading the alert outbox's newest alert", rc);
    if (k.mv_size != sizeof *last_aseq) {
        snprintf(err, errlen, "the alert outbox's newest key is %zu bytes, expected %zu: damaged",
                 k.mv_size, sizeof *last_aseq);
        return STORE_CORRUPT;
    }
    memcpy(last_aseq, k.mv_data, sizeof *last_aseq);
    return STORE_OK;
}

int
outbox_open(store_t *store, uint64_t *last_aseq, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store_env(store), NULL, 0, &txn);
    if (rc != 0)
        return fail(err, errlen, "opening the alert outbox", rc);
    if ((rc = mdb_dbi_open(txn, "alerts", MDB_INTEGERKEY | MDB_CREATE, &alerts_dbi)) != 0 ||
        (rc = mdb_dbi_open(txn, "alert_state", MDB_CREATE, &state_dbi)) != 0) {
        mdb_txn_abort(txn);
        return fail(err, errlen, "opening the alert outbox", rc);
    }
    if ((rc = last_key(txn, last_aseq, err, errlen)) != STORE_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_val ek = {EPOCH_KEY_LEN, (void *)EPOCH_KEY}, ev;
    rc = mdb_get(txn, state_dbi, &ek, &ev);
    if (rc == 0 && ev.mv_size == sizeof epoch)
        memcpy(&epoch, ev.mv_data, sizeof epoch);
    else if (rc == 0) {
        /* never replaced: a new epoch would make every subscriber's cursor
           look like one of another outbox */
        mdb_txn_abort(txn);
        snprintf(err, errlen, "the alert outbox's epoch is %zu bytes, expected %zu: damaged",
                 ev.mv_size, sizeof epoch);
        return STORE_CORRUPT;
    } else if (rc == MDB_NOTFOUND) {
        /* a new outbox: a random epoch, so that a subscriber's cursor from
           another outbox (a state directory replaced) is not taken for
           one of this */
        if (getrandom(&epoch, sizeof epoch, 0) != (ssize_t)sizeof epoch)
            epoch = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
        epoch &= (UINT64_C(1) << 53) - 1; /* exact in a double, for JSON clients */
        if (epoch == 0)
            epoch = 1; /* clients take 0 for "no epoch known" */
        ev = (MDB_val){sizeof epoch, &epoch};
        if ((rc = mdb_put(txn, state_dbi, &ek, &ev, 0)) != 0) {
            mdb_txn_abort(txn);
            return fail(err, errlen, "writing the alert outbox's epoch", rc);
        }
    } else {
        mdb_txn_abort(txn);
        return fail(err, errlen, "reading the alert outbox's epoch", rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return fail(err, errlen, "opening the alert outbox", rc);
    opened = true;
    return STORE_OK;
}

uint64_t
outbox_epoch(void)
{
    return epoch;
}

int
outbox_put(store_t *store, const outbox_batch_t *b, char *err, size_t errlen)
{
    MDB_txn *txn = store_write_txn(store);
    if (!txn || !opened) {
        snprintf(err, errlen, "outbox_put: no open write transaction");
        return STORE_ERROR;
    }
    for (size_t i = 0; i < b->nrecs; i++) {
        const outbox_rec_t *r = &b->recs[i];
        size_t len = 2 + r->topic_len + r->rec_len;
        MDB_val k = {sizeof r->aseq, (void *)&r->aseq}, v = {len, NULL};
        /* MDB_RESERVE: written in place, no copy through a buffer */
        int rc = mdb_put(txn, alerts_dbi, &k, &v, MDB_RESERVE | MDB_APPEND);
        if (rc != 0)
            return fail(err, errlen, "writing an alert to the outbox", rc);
        uint8_t *p = v.mv_data;
        p[0] = (uint8_t)(r->topic_len >> 8);
        p[1] = (uint8_t)r->topic_len;
        memcpy(p + 2, outbox_batch_at(b, r->topic_off), r->topic_len);
        memcpy(p + 2 + r->topic_len, outbox_batch_at(b, r->rec_off), r->rec_len);
    }
    for (size_t i = 0; i < b->nstates; i++) {
        const outbox_state_t *s = &b->states[i];
        MDB_val k = {s->key_len, (void *)outbox_batch_at(b, s->key_off)};
        MDB_val v = {s->val_len, (void *)outbox_batch_at(b, s->val_off)};
        int rc =
            s->val_len ? mdb_put(txn, state_dbi, &k, &v, 0) : mdb_del(txn, state_dbi, &k, NULL);
        if (rc != 0 && !(rc == MDB_NOTFOUND && !s->val_len))
            return fail(err, errlen, "writing an alert's state", rc);
    }
    return STORE_OK;
}

int
outbox_scan_states(store_reader_t *r, outbox_state_fn *fn, void *arg, char *err, size_t errlen)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_reader_txn(r), state_dbi, &c);
    if (rc != 0)
        return fail(err, errlen, "reading alert states", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (!(k.mv_size && ((const char *)k.mv_data)[0] == 0) &&
            fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
            break;
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : fail(err, errlen, "reading alert states", rc);
}

int
outbox_get_state(store_reader_t *r, const char *key, size_t key_len, const void **val,
                 size_t *val_len, char *err, size_t errlen)
{
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(store_reader_txn(r), state_dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    if (rc != 0)
        return fail(err, errlen, "reading an alert's state", rc);
    *val = v.mv_data;
    *val_len = v.mv_size;
    return STORE_OK;
}

static int
split(const MDB_val *v, const char **topic, size_t *topic_len, const void **rec, size_t *rec_len)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 2)
        return STORE_CORRUPT;
    size_t tl = (size_t)p[0] << 8 | p[1];
    if (2 + tl > v->mv_size)
        return STORE_CORRUPT;
    /* the record is handed on to msgpack-c, the publisher and clients:
       one well-formed value, or the entry is damaged */
    if (!mp_scan(p + 2 + tl, v->mv_size - 2 - tl, 16))
        return STORE_CORRUPT;
    *topic = (const char *)p + 2;
    *topic_len = tl;
    *rec = p + 2 + tl;
    *rec_len = v->mv_size - 2 - tl;
    return STORE_OK;
}

int
outbox_walk(store_reader_t *r, uint64_t from, uint64_t to, outbox_rec_fn *fn, void *arg, char *err,
            size_t errlen)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_reader_txn(r), alerts_dbi, &c);
    if (rc != 0)
        return fail(err, errlen, "reading the alert outbox", rc);
    uint64_t key = from ? from : 1;
    MDB_val k = {sizeof key, &key}, v;
    int out = STORE_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t aseq;
        memcpy(&aseq, k.mv_data, sizeof aseq);
        if (aseq > to)
            break;
        const char *topic;
        size_t tl, rl;
        const void *rec;
        if (split(&v, &topic, &tl, &rec, &rl) != STORE_OK) {
            snprintf(err, errlen, "alert %llu in the outbox is damaged", (unsigned long long)aseq);
            out = STORE_CORRUPT;
            break;
        }
        if (fn(arg, aseq, topic, tl, rec, rl) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (out == STORE_OK && rc != 0 && rc != MDB_NOTFOUND)
        out = fail(err, errlen, "reading the alert outbox", rc);
    return out;
}

int
outbox_get(store_reader_t *r, uint64_t aseq, const char **topic, size_t *topic_len,
           const void **rec, size_t *rec_len, char *err, size_t errlen)
{
    MDB_val k = {sizeof aseq, &aseq}, v;
    int rc = mdb_get(store_reader_txn(r), alerts_dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    if (rc != 0)
        return fail(err, errlen, "reading the alert outbox", rc);
    if (split(&v, topic, topic_len, rec, rec_len) != STORE_OK) {
        snprintf(err, errlen, "alert %llu in the outbox is damaged", (unsigned long long)aseq);
        return STORE_CORRUPT;
    }
    return STORE_OK;
}

int
outbox_reader_last_aseq(store_reader_t *r, uint64_t *last_aseq, char *err, size_t errlen)
{
    return last_key(store_reader_txn(r), last_aseq, err, errlen);
}
