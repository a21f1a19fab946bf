/*  store: see store.h for the contract and store_internal.h for the state
    the store's modules share. This file holds the environment's life
    (open, the daemon lock, close), the writer's transactions and the map's
    growth, and the readers' transactions. */

#include "daemon/store.h"
#include "daemon/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define GROW_STEP_MAX    ((size_t)4 << 30)
#define GROW_TRIES       8 /* growths of a full map for one transaction */

const char *
store_rc_name(store_rc_t rc)
{
    switch (rc) {
    case STORE_OK:
        return "ok";
    case STORE_ERROR:
        return "error";
    case STORE_MAP_FULL:
        return "map_full";
    case STORE_LOCKED:
        return "locked";
    case STORE_CORRUPT:
        return "corrupt";
    case STORE_NOT_FOUND:
        return "not_found";
    case STORE_DISK_FULL:
        return "disk_full";
    }
    return "unknown";
}

int
store_lmdb_fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
    if (rc == ENOSPC || rc == EDQUOT)
        return STORE_DISK_FULL;
    return rc == MDB_MAP_FULL ? STORE_MAP_FULL : STORE_ERROR;
}

uint64_t
store_key_u64(const MDB_val *k)
{
    size_t v = 0;
    if (k->mv_size == sizeof v)
        memcpy(&v, k->mv_data, sizeof v);
    return v;
}

/* Take the daemon lock: a POSIX record lock on <dir>/pacerd.lock, released
   by the kernel when the process dies, so a kill -9 never leaves a stale
   lock. Not flock: a flock belongs to the open file, which the projector's
   snapshot child shares from fork() until it closes its copy, and a child
   not yet scheduled when pacerd was killed kept a restart out ("in use").
   A record lock belongs to the process and is never inherited. The one
   rule that comes with it: nothing else in pacerd may open and close
   pacerd.lock, since closing any descriptor of the file drops the lock. */
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
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &lk) != 0) {
        if (errno != EACCES && errno != EAGAIN) {
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return STORE_ERROR;
        }
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

/* Open (or create) the databases and, with load, read the log's newest
   record and the id index's last block (not on a read-only open). */
static int
open_dbis(store_t *self, bool load, char *err, size_t errlen)
{
    MDB_txn *txn;
    unsigned create = self->read_only ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(self->env, NULL, self->read_only ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "starting the open transaction", rc);
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
        return store_lmdb_fail(err, errlen, "opening the log databases", rc);
    }
    self->have_chunks = rc == 0;
    rc = 0;
    if (!self->read_only) {
        MDB_val k = {6, "format"}, v = {1, "1"};
        if ((rc = mdb_put(txn, self->meta, &k, &v, 0)) != 0) {
            mdb_txn_abort(txn);
            return store_lmdb_fail(err, errlen, "writing the format marker", rc);
        }
    }
    rc = load ? store_log_load(self, txn, err, errlen) : STORE_OK;
    if (rc == STORE_OK && load && !self->read_only)
        rc = store_ids_load(self, txn, err, errlen);
    if (rc != STORE_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return store_lmdb_fail(err, errlen, "committing the open transaction", rc);
    return STORE_OK;
}

static store_t *
open_store(const char *dir, const store_options_t *options, bool load, char *err, size_t errlen)
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
        store_lmdb_fail(err, errlen, "mdb_env_create", rc);
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(self->env, 8)) != 0 ||
        (rc = mdb_env_set_maxreaders(self->env, 256)) != 0 ||
        (!self->read_only && (rc = mdb_env_set_mapsize(self->env, self->map_size)) != 0)) {
        store_lmdb_fail(err, errlen, "setting up the environment", rc);
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
    if ((rc = mdb_env_info(self->env, &info)) != 0) {
        store_lmdb_fail(err, errlen, "reading the map size", rc);
        goto fail;
    }
    self->map_size = info.me_mapsize;
    if (open_dbis(self, load, err, errlen) != STORE_OK)
        goto fail;
    return self;
fail:
    store_destroy(&self);
    return NULL;
}

store_t *
store_open(const char *dir, const store_options_t *options, char *err, size_t errlen)
{
    return open_store(dir, options, true, err, errlen);
}

store_t *
store_open_unloaded(const char *dir, char *err, size_t errlen)
{
    store_options_t options = {.read_only = true};
    return open_store(dir, &options, false, err, errlen);
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
        close(self->lock_fd); /* releases the lock */
    pthread_rwlock_destroy(&self->resize_lock);
    free(self->dir);
    free(self);
    *self_p = NULL;
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
        return store_lmdb_fail(err, errlen, "starting a write transaction", rc);
    }
    self->w_seq = self->last_seq;
    memcpy(self->w_hash, self->last_hash, STORE_HASH_BYTES);
    memcpy(self->w_tail.hashes, self->tail.hashes, self->tail.count * sizeof(uint64_t));
    self->w_tail.count = self->tail.count;
    return STORE_OK;
}

int
store_commit(store_t *self, char *err, size_t errlen)
{
    int rc = store_ids_flush(self, err, errlen);
    if (rc != STORE_OK) {
        store_abort(self);
        return rc;
    }
    rc = mdb_txn_commit(self->txn);
    self->txn = NULL;
    if (rc != 0)
        return store_lmdb_fail(err, errlen, "committing the log", rc);
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
        return store_lmdb_fail(err, errlen, "growing the map", rc);
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
        return store_lmdb_fail(err, errlen, "reading the map's use", rc);
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
        store_lmdb_fail(err, errlen, "starting a read transaction", rc);
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
