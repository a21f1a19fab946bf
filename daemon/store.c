/*  store: see store.h for the contract. Layout of the environment:

      log   key: seq (size_t, MDB_INTEGERKEY), value: the record, version 1
            0x94 0x01 0xcf <recorded_at u64be> 0xc4 0x20 <hash[32]> <event map>
            i.e. the msgpack array [1, recorded_at, bin(hash), event] with a
            fixed 45-byte head, so the writer can MDB_RESERVE the exact size
            and readers find the hash without a general decoder; or version 2
            0x95 0x02 0xcf <recorded_at u64be> 0xc4 0x20 <hash[32]>
                 0xd9 <n> <principal[n]> <event map>
            [2, recorded_at, bin(hash), str8(principal), event], where the
            principal is always a str8 (1 <= n <= 255), so its length sits
            at a fixed offset and the event is again the rest of the value.
            The principal comes before the event for that reason: a reader
            finds every field without walking the event.
      ids   key: block number b (size_t), value: uint64 id hashes of seqs
            b*STORE_ID_BLOCK+1 .. in order; only the last block is partial.
      meta  key "format" -> "1".
      snap  key: the seq a projection snapshot reflects, value: its manifest,
            "PSNAPMF1" <length u64> <first chunk u64> <chunks u64> (native
            order), or, written by earlier versions, the whole snapshot.
      snapchunk  key: chunk number (size_t), value: a piece of a snapshot
            (pacerd writes STORE_SNAPSHOT_CHUNK bytes a piece; readers go
            by each piece's size). A snapshot's chunks are consecutive
            numbers, written in transactions of their own before the one
            that writes its manifest; chunks no kept manifest names (a
            snapshot cut short) go when the next manifest is written.

    Invariant: after every commit, the ids index holds exactly last_seq
    hashes. Both are written in the same transaction, so a crash leaves them
    in step; store_open refuses a directory where they are not.

    The writer keeps the last ids block in memory (`tail`) and rewrites it
    once per commit. The committed copy is kept apart from the working copy
    so that an aborted transaction (map full) can be replayed exactly. */

#include "daemon/store.h"

#include "events/wire.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_HEAD      45
#define RECORD_HEAD_V2   47 /* and the principal's bytes */
#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define GROW_STEP_MAX    ((size_t)4 << 30)
#define GROW_TRIES       8 /* growths of a full map for one transaction */

typedef struct {
    uint64_t hashes[STORE_ID_BLOCK];
    uint32_t count; /* entries used in the block of the last seq */
} id_tail_t;

struct _store_t {
    char *dir;
    MDB_env *env;
    MDB_dbi log, ids, meta, snap, chunks;
    bool have_chunks; /* false: a read-only open of an older environment */
    size_t map_size;
    int lock_fd;
    bool read_only;
    /* Readers hold this shared; store_grow takes it exclusive because LMDB
       may only be resized while no transaction is open in the process. */
    pthread_rwlock_t resize_lock;
    /* committed state */
    uint64_t last_seq;
    uint8_t last_hash[STORE_HASH_BYTES];
    id_tail_t tail;
    /* writer's open transaction */
    MDB_txn *txn;
    uint64_t w_seq;
    uint8_t w_hash[STORE_HASH_BYTES];
    id_tail_t w_tail;
};

struct _store_reader_t {
    store_t *store;
    MDB_txn *txn;
    MDB_cursor *cursor;
    char *snapshot; /* a chunked snapshot, put together; freed at the end */
};

static int
lmdb_fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
    if (rc == ENOSPC || rc == EDQUOT)
        return STORE_DISK_FULL;
    return rc == MDB_MAP_FULL ? STORE_MAP_FULL : STORE_ERROR;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* LMDB keeps keys only 2-byte aligned: read integer keys with memcpy. */
static uint64_t
key_seq(const MDB_val *k)
{
    size_t v = 0;
    if (k->mv_size == sizeof v)
        memcpy(&v, k->mv_data, sizeof v);
    return v;
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

/* Take the daemon lock: an flock on <dir>/pacerd.lock, released by the
   kernel when the process dies, so a kill -9 never leaves a stale lock. */
static int
take_lock(store_t *self, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pacerd.lock", self->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return STORE_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        if (n > 0)
            pid[n] = 0;
        pid[strcspn(pid, "\n")] = 0;
        snprintf(err, errlen,
                 "state directory %s is in use by another pacerd (pid %s); stop it first or "
                 "use another --state-dir",
                 self->dir, pid[0] ? pid : "unknown");
        close(fd);
        return STORE_LOCKED;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return STORE_ERROR;
    }
    self->lock_fd = fd;
    return STORE_OK;
}

static int
load_tail(store_t *self, MDB_txn *txn, char *err, size_t errlen)
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
        return lmdb_fail(err, errlen, "reading the id index", rc);
    memcpy(self->tail.hashes, v.mv_data, v.mv_size);
    self->tail.count = expect;
    return STORE_OK;
}

static int
load_last(store_t *self, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->log, &cur);
    if (rc != 0)
        return lmdb_fail(err, errlen, "opening a log cursor", rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    self->last_seq = 0;
    memset(self->last_hash, 0, STORE_HASH_BYTES);
    if (rc == 0) {
        store_record_t rec;
        uint64_t seq = key_seq(&k);
        rc = store_record_decode(seq, v.mv_data, v.mv_size, &rec, err, errlen);
        if (rc == STORE_OK) {
            self->last_seq = seq;
            memcpy(self->last_hash, rec.hash, STORE_HASH_BYTES);
        }
    } else if (rc == MDB_NOTFOUND)
        rc = STORE_OK;
    else
        rc = lmdb_fail(err, errlen, "reading the last record", rc);
    mdb_cursor_close(cur);
    return rc;
}

static int
open_dbis(store_t *self, char *err, size_t errlen)
{
    MDB_txn *txn;
    unsigned create = self->read_only ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(self->env, NULL, self->read_only ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        return lmdb_fail(err, errlen, "starting the open transaction", rc);
    if ((rc = mdb_dbi_open(txn, "log", MDB_INTEGERKEY | create, &self->log)) != 0 ||
        (rc = mdb_dbi_open(txn, "ids", MDB_INTEGERKEY | create, &self->ids)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", create, &self->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "snap", MDB_INTEGERKEY | create, &self->snap)) != 0 ||
        ((rc = mdb_dbi_open(txn, "snapchunk", MDB_INTEGERKEY | create, &self->chunks)) != 0 &&
         !(rc == MDB_NOTFOUND && self->read_only))) {
        mdb_txn_abort(txn);
        if (rc == MDB_NOTFOUND) {
            snprintf(err, errlen, "%s holds no pacer log", self->dir);
            return STORE_NOT_FOUND;
        }
        return lmdb_fail(err, errlen, "opening the log databases", rc);
    }
    self->have_chunks = rc == 0;
    rc = 0;
    if (!self->read_only) {
        MDB_val k = {6, "format"}, v = {1, "1"};
        if ((rc = mdb_put(txn, self->meta, &k, &v, 0)) != 0) {
            mdb_txn_abort(txn);
            return lmdb_fail(err, errlen, "writing the format marker", rc);
        }
    }
    rc = load_last(self, txn, err, errlen);
    if (rc == STORE_OK && !self->read_only)
        rc = load_tail(self, txn, err, errlen);
    if (rc != STORE_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(err, errlen, "committing the open transaction", rc);
    return STORE_OK;
}

store_t *
store_open(const char *dir, const store_options_t *options, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    store_t *self = calloc(1, sizeof *self);
    if (!self || !(self->dir = strdup(dir))) {
        snprintf(err, errlen, "out of memory");
        free(self);
        return NULL;
    }
    self->lock_fd = -1;
    self->read_only = options && options->read_only;
    self->map_size = options && options->map_size ? options->map_size : DEFAULT_MAP_SIZE;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&self->resize_lock, &attr);
    pthread_rwlockattr_destroy(&attr);

    int rc;
    if (!self->read_only && mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create state directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (options && options->exclusive && take_lock(self, err, errlen) != STORE_OK)
        goto fail;
    if ((rc = mdb_env_create(&self->env)) != 0) {
        lmdb_fail(err, errlen, "mdb_env_create", rc);
        goto fail;
    }
    mdb_env_set_maxdbs(self->env, 8);
    mdb_env_set_maxreaders(self->env, 256);
    if (!self->read_only && (rc = mdb_env_set_mapsize(self->env, self->map_size)) != 0) {
        lmdb_fail(err, errlen, "setting the map size", rc);
        goto fail;
    }
    unsigned flags = MDB_NOTLS | (self->read_only ? MDB_RDONLY : 0);
    if ((rc = mdb_env_open(self->env, dir, flags, 0640)) != 0) {
        snprintf(err, errlen, "cannot open the LMDB environment in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    /* An existing environment may be larger than asked for; LMDB adopts
       the larger size. Record what is really mapped. */
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    self->map_size = info.me_mapsize;
    if (open_dbis(self, err, errlen) != STORE_OK)
        goto fail;
    return self;
fail:
    store_destroy(&self);
    return NULL;
}

void
store_destroy(store_t **self_p)
{
    store_t *self = *self_p;
    if (!self)
        return;
    if (self->txn)
        mdb_txn_abort(self->txn);
    if (self->env)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        close(self->lock_fd); /* releases the flock */
    pthread_rwlock_destroy(&self->resize_lock);
    free(self->dir);
    free(self);
    *self_p = NULL;
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

size_t
store_map_size(store_t *self)
{
    return self->map_size;
}

size_t
store_map_used(store_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(self->env, &info) != 0 || mdb_env_stat(self->env, &st) != 0)
        return 0;
    return ((size_t)info.me_last_pgno + 1) * st.ms_psize;
}

void *
store_env(store_t *self)
{
    return self->env;
}

void *
store_write_txn(store_t *self)
{
    return self->txn;
}

void *
store_reader_txn(store_reader_t *reader)
{
    return reader->txn;
}

const char *
store_dir(store_t *self)
{
    return self->dir;
}

int
store_begin(store_t *self, char *err, size_t errlen)
{
    if (self->txn || self->read_only) {
        snprintf(err, errlen, "store_begin: %s",
                 self->txn ? "transaction already open" : "store is read-only");
        return STORE_ERROR;
    }
    int rc = mdb_txn_begin(self->env, NULL, 0, &self->txn);
    if (rc != 0) {
        self->txn = NULL;
        return lmdb_fail(err, errlen, "starting a write transaction", rc);
    }
    self->w_seq = self->last_seq;
    memcpy(self->w_hash, self->last_hash, STORE_HASH_BYTES);
    memcpy(self->w_tail.hashes, self->tail.hashes, self->tail.count * sizeof(uint64_t));
    self->w_tail.count = self->tail.count;
    return STORE_OK;
}

static int
put_tail(store_t *self, uint64_t last_seq, char *err, size_t errlen)
{
    size_t block = (size_t)((last_seq - 1) / STORE_ID_BLOCK);
    MDB_val k = {sizeof block, &block};
    MDB_val v = {self->w_tail.count * sizeof(uint64_t), self->w_tail.hashes};
    int rc = mdb_put(self->txn, self->ids, &k, &v, 0);
    return rc == 0 ? STORE_OK : lmdb_fail(err, errlen, "writing the id index", rc);
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
        return lmdb_fail(err, errlen, "appending to the log", rc);
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

    if (self->w_tail.count == STORE_ID_BLOCK)
        self->w_tail.count = 0; /* previous block was written out full */
    self->w_tail.hashes[self->w_tail.count++] = id_hash;
    if (self->w_tail.count == STORE_ID_BLOCK && (rc = put_tail(self, seq, err, errlen)) != 0)
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

int
store_commit(store_t *self, char *err, size_t errlen)
{
    int rc;
    bool partial = self->w_seq > self->last_seq && self->w_tail.count < STORE_ID_BLOCK;
    if (partial && (rc = put_tail(self, self->w_seq, err, errlen)) != STORE_OK) {
        store_abort(self);
        return rc;
    }
    rc = mdb_txn_commit(self->txn);
    self->txn = NULL;
    if (rc != 0)
        return lmdb_fail(err, errlen, "committing the log", rc);
    self->last_seq = self->w_seq;
    memcpy(self->last_hash, self->w_hash, STORE_HASH_BYTES);
    memcpy(self->tail.hashes, self->w_tail.hashes, self->w_tail.count * sizeof(uint64_t));
    self->tail.count = self->w_tail.count;
    return STORE_OK;
}

void
store_abort(store_t *self)
{
    if (self->txn)
        mdb_txn_abort(self->txn);
    self->txn = NULL;
}

int
store_grow(store_t *self, char *err, size_t errlen)
{
    size_t step = self->map_size < GROW_STEP_MAX ? self->map_size : GROW_STEP_MAX;
    if (step < ((size_t)64 << 20))
        step = (size_t)64 << 20;
    size_t size = self->map_size + step;
    pthread_rwlock_wrlock(&self->resize_lock);
    int rc = mdb_env_set_mapsize(self->env, size);
    pthread_rwlock_unlock(&self->resize_lock);
    if (rc != 0)
        return lmdb_fail(err, errlen, "growing the map", rc);
    self->map_size = size;
    return STORE_OK;
}

int
store_ensure_room(store_t *self, size_t bytes, int *grown, char *err, size_t errlen)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(self->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(self->env, &st);
    if (rc != 0)
        return lmdb_fail(err, errlen, "reading the map's use", rc);
    /* Pages past the last one used; free pages inside the file are not
       counted, so this errs on the side of growing. */
    size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
    while (self->map_size < used || self->map_size - used < bytes) {
        if ((rc = store_grow(self, err, errlen)) != STORE_OK)
            return rc;
        (*grown)++;
    }
    return STORE_OK;
}

int
store_in_txn(store_t *self, store_txn_fn *step, void *arg, int *grown, char *err, size_t errlen)
{
    for (int tries = 0;; tries++) {
        int rc = store_begin(self, err, errlen);
        if (rc == STORE_OK)
            rc = step(arg, err, errlen);
        if (rc == STORE_OK)
            rc = store_commit(self, err, errlen);
        else
            store_abort(self);
        if (rc != STORE_MAP_FULL || tries == GROW_TRIES)
            return rc;
        if ((rc = store_grow(self, err, errlen)) != STORE_OK)
            return rc;
        (*grown)++;
    }
}

int
store_scan_ids(store_t *self, store_id_fn *fn, void *arg, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return lmdb_fail(err, errlen, "starting a read transaction", rc);
    if ((rc = mdb_cursor_open(txn, self->ids, &cur)) != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(err, errlen, "opening an id index cursor", rc);
    }
    MDB_val k, v;
    uint64_t seq = 1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t block = key_seq(&k);
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
    return rc == MDB_NOTFOUND ? STORE_OK : lmdb_fail(err, errlen, "scanning the id index", rc);
}

store_reader_t *
store_read_begin(store_t *self, char *err, size_t errlen)
{
    store_reader_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->store = self;
    pthread_rwlock_rdlock(&self->resize_lock);
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &r->txn);
    if (rc == MDB_MAP_RESIZED) { /* another process grew the map */
        mdb_env_set_mapsize(self->env, 0);
        rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &r->txn);
    }
    if (rc == 0 && (rc = mdb_cursor_open(r->txn, self->log, &r->cursor)) != 0)
        mdb_txn_abort(r->txn);
    if (rc != 0) {
        pthread_rwlock_unlock(&self->resize_lock);
        lmdb_fail(err, errlen, "starting a read transaction", rc);
        free(r);
        return NULL;
    }
    return r;
}

void
store_read_end(store_reader_t **reader_p)
{
    store_reader_t *r = *reader_p;
    if (!r)
        return;
    mdb_cursor_close(r->cursor);
    mdb_txn_abort(r->txn);
    pthread_rwlock_unlock(&r->store->resize_lock);
    free(r->snapshot);
    free(r);
    *reader_p = NULL;
}

uint64_t
store_reader_last_seq(store_reader_t *r)
{
    MDB_val k, v;
    if (mdb_cursor_get(r->cursor, &k, &v, MDB_LAST) != 0)
        return 0;
    return key_seq(&k);
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
        return lmdb_fail(err, errlen, "reading the log", rc);
    return store_record_decode(seq, v.mv_data, v.mv_size, rec, err, errlen);
}

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
        uint64_t seq = key_seq(&k);
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
        rc = lmdb_fail(err, errlen, "walking the log", rc);
    store_read_end(&r);
    store_destroy(&self);
    return rc;
}

#define MANIFEST_MAGIC "PSNAPMF1"

typedef struct {
    char magic[8];
    uint64_t len, first, count;
} manifest_t;

static bool
as_manifest(const MDB_val *v, manifest_t *m)
{
    if (v->mv_size != sizeof *m)
        return false;
    memcpy(m, v->mv_data, sizeof *m);
    return !memcmp(m->magic, MANIFEST_MAGIC, sizeof m->magic);
}

int
store_snapshot_next_chunk(store_t *self, uint64_t *chunk, char *err, size_t errlen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(self->txn, self->chunks, &cur);
    if (rc != 0)
        return lmdb_fail(err, errlen, "opening a snapshot chunk cursor", rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_fail(err, errlen, "reading snapshot chunks", rc);
    *chunk = rc == 0 ? key_seq(&k) + 1 : 1;
    return STORE_OK;
}

int
store_put_snapshot_chunk(store_t *self, uint64_t chunk, const void *data, size_t len, char *err,
                         size_t errlen)
{
    size_t key = (size_t)chunk;
    MDB_val k = {sizeof key, &key}, v = {len, (void *)data};
    int rc = mdb_put(self->txn, self->chunks, &k, &v, 0);
    return rc == 0 ? STORE_OK : lmdb_fail(err, errlen, "writing a projection snapshot chunk", rc);
}

/* Delete manifests (and whole snapshots) beyond the newest `keep`, then
   every chunk that no remaining manifest names. */
static int
prune_snapshots(store_t *self, int keep, char *err, size_t errlen)
{
    enum { KEEP_MAX = 8 };
    uint64_t first[KEEP_MAX], count[KEEP_MAX];
    int kept = 0, seen = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(self->txn, self->snap, &cur);
    if (rc != 0)
        return lmdb_fail(err, errlen, "opening a snapshot cursor", rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        manifest_t m;
        if (++seen > keep) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        } else if (as_manifest(&v, &m) && kept < KEEP_MAX) {
            first[kept] = m.first;
            count[kept++] = m.count;
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return lmdb_fail(err, errlen, "pruning snapshots", rc);
    if ((rc = mdb_cursor_open(self->txn, self->chunks, &cur)) != 0)
        return lmdb_fail(err, errlen, "opening a snapshot chunk cursor", rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t c = key_seq(&k);
        bool named = false;
        for (int i = 0; i < kept && !named; i++)
            named = c >= first[i] && c - first[i] < count[i];
        if (!named && (rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? STORE_OK : lmdb_fail(err, errlen, "pruning snapshot chunks", rc);
}

int
store_put_snapshot_manifest(store_t *self, uint64_t seq, uint64_t first_chunk, uint64_t chunks,
                            uint64_t len, int keep, char *err, size_t errlen)
{
    manifest_t m = {MANIFEST_MAGIC, len, first_chunk, chunks};
    size_t key = (size_t)seq;
    MDB_val k = {sizeof key, &key}, v = {sizeof m, &m};
    int rc = mdb_put(self->txn, self->snap, &k, &v, 0);
    if (rc != 0)
        return lmdb_fail(err, errlen, "writing a projection snapshot", rc);
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
    return rc == 0 ? STORE_OK : lmdb_fail(err, errlen, "dropping snapshots", rc);
}

/* Put a chunked snapshot together in the reader's buffer. */
static int
gather(store_reader_t *r, const manifest_t *m, char *err, size_t errlen)
{
    if (!r->store->have_chunks) {
        snprintf(err, errlen, "a snapshot manifest but no chunk database");
        return STORE_CORRUPT;
    }
    free(r->snapshot);
    if (!(r->snapshot = malloc(m->len ? m->len : 1))) {
        snprintf(err, errlen, "out of memory for a %llu-byte snapshot", (unsigned long long)m->len);
        return STORE_ERROR;
    }
    /* The chunks' own sizes place them, so a snapshot stays readable
       whatever chunk size wrote it. */
    uint64_t off = 0;
    for (uint64_t i = 0; i < m->count; i++) {
        size_t key = (size_t)(m->first + i);
        MDB_val k = {sizeof key, &key}, v;
        int rc = mdb_get(r->txn, r->store->chunks, &k, &v);
        if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size > m->len - off)) {
            snprintf(err, errlen, "snapshot chunk %llu is %s", (unsigned long long)key,
                     rc ? "missing" : "larger than the rest of the snapshot");
            return STORE_CORRUPT;
        }
        if (rc != 0)
            return lmdb_fail(err, errlen, "reading a snapshot chunk", rc);
        memcpy(r->snapshot + off, v.mv_data, v.mv_size);
        off += v.mv_size;
    }
    if (off != m->len) {
        snprintf(err, errlen, "snapshot chunks hold %llu of its %llu bytes",
                 (unsigned long long)off, (unsigned long long)m->len);
        return STORE_CORRUPT;
    }
    return STORE_OK;
}

int
store_reader_snapshot(store_reader_t *r, uint64_t max_seq, uint64_t *seq, const void **data,
                      size_t *len, char *err, size_t errlen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->store->snap, &cur);
    if (rc != 0)
        return lmdb_fail(err, errlen, "opening a snapshot cursor", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV))
        if (key_seq(&k) <= max_seq)
            break;
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    if (rc != 0)
        return lmdb_fail(err, errlen, "reading snapshots", rc);
    *seq = key_seq(&k);
    manifest_t m;
    if (!as_manifest(&v, &m)) { /* a whole snapshot, as earlier versions wrote */
        *data = v.mv_data;
        *len = v.mv_size;
        return STORE_OK;
    }
    if ((rc = gather(r, &m, err, errlen)) != STORE_OK)
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
        uint64_t seq = key_seq(&k);
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
        return lmdb_fail(err, errlen, "walking the log", rc);
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
