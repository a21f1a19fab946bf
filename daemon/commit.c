/*  commit: see commit.h.

    The job is handed over under a mutex (submit signals `work`, the thread
    signals `done`); the eventfd only wakes a writer that sleeps in
    zmq_poll. It is written once per finished job and read back in reap,
    so it is readable exactly while a finished job waits. */

#define _GNU_SOURCE /* pthread_setname_np */
#include "daemon/commit.h"

#include "daemon/log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct _committer_t {
    store_t *store;
    writer_stats_t *stats;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    commit_job_t *job; /* in hand: submitted, not reaped */
    bool running;      /* the thread works on it */
    bool finished;     /* ... and is done */
    bool stop;
    int efd;
#ifdef PACER_FAULT_INJECTION
    unsigned long fail_every, jobs; /* PACERD_TEST_FAIL_COMMIT, see commit.h */
    const char *disk_full_flag;     /* PACERD_TEST_DISK_FULL, see commit.h */
#endif
};

#ifdef PACER_FAULT_INJECTION
/* pacerd-test's hook (see commit.h): read PACERD_TEST_FAIL_COMMIT. */
static void
fault_init(committer_t *self)
{
    const char *full = getenv("PACERD_TEST_DISK_FULL");
    if (full && *full) {
        self->disk_full_flag = full;
        log_warn("PACERD_TEST_DISK_FULL=%s: transactions of appends fail as on a full disk "
                 "while it exists",
                 full);
    }
    const char *fail = getenv("PACERD_TEST_FAIL_COMMIT");
    if (!fail || !*fail)
        return;
    self->fail_every = strtoul(fail, NULL, 10);
    log_warn("PACERD_TEST_FAIL_COMMIT=%lu: every %lu%s transaction of appends will fail",
             self->fail_every, self->fail_every,
             self->fail_every == 1   ? "st"
             : self->fail_every == 2 ? "nd"
             : self->fail_every == 3 ? "rd"
                                     : "th");
}

/* True when this job is one to fail, with its error set as a failed
   transaction would. */
static bool
fault_injected(committer_t *self, commit_job_t *j)
{
    if (!self->fail_every || ++self->jobs % self->fail_every != 0)
        return false;
    snprintf(j->err, sizeof j->err, "injected failure (PACERD_TEST_FAIL_COMMIT=%lu)",
             self->fail_every);
    j->rc = STORE_ERROR;
    return true;
}
#else
static void
fault_init(committer_t *self)
{
}

static bool
fault_injected(committer_t *self, commit_job_t *j)
{
    return false;
}
#endif

static void
count_growth(store_t *store, writer_stats_t *stats, int grown)
{
    atomic_fetch_add_explicit(&stats->map_resizes, (uint64_t)grown, memory_order_relaxed);
    atomic_store(&stats->map_size, store_map_size(store));
}

typedef struct {
    store_t *store;
    commit_job_t *job;
} put_call_t;

/* The job's records, into the open transaction. */
static int
put_records(void *arg, char *err, size_t errlen)
{
    put_call_t *c = arg;
    commit_job_t *j = c->job;
    double t = log_clock_ms();
    int rc = STORE_OK;
    for (size_t i = 0; i < j->n && rc == STORE_OK; i++) {
        const chain_link_t *l = &j->links[i];
        uint64_t seq;
        rc = store_append_hashed(c->store, j->recorded_at, l->event, l->len, l->principal,
                                 l->principal_len, l->id_hash, l->hash, &seq, err, errlen);
        if (rc == STORE_OK && seq != j->first_seq + i) {
            snprintf(err, errlen, "the log's next seq is %llu, the group was folded as %llu",
                     (unsigned long long)seq, (unsigned long long)(j->first_seq + i));
            rc = STORE_ERROR;
        }
    }
    if (rc == STORE_OK && j->outbox && (j->outbox->nrecs || j->outbox->nstates))
        rc = outbox_put(c->store, j->outbox, err, errlen);
    j->ms_put += log_clock_ms() - t;
    return rc;
}

/* A failed commit on a filesystem with less room left than the job
   wanted is a full disk, whatever LMDB made of it (see commit.h). */
static void
classify_failure(store_t *store, commit_job_t *j)
{
    struct statvfs fs;
    if (j->rc != STORE_ERROR || statvfs(store_dir(store), &fs) != 0)
        return;
    uint64_t free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
    uint64_t wanted = j->room ? j->room : (uint64_t)1 << 20;
    if (free_bytes < wanted) {
        char was[160];
        snprintf(was, sizeof was, "%.*s", (int)sizeof was - 1, j->err);
        snprintf(j->err, sizeof j->err, "no space left on device: %llu KiB free (LMDB: %s)",
                 (unsigned long long)(free_bytes >> 10), was);
        j->rc = STORE_DISK_FULL;
    }
}

/* Put every record and commit (store_in_txn grows a full map and starts
   again), then run the job's `after`. With self (the commit thread's),
   the fault hooks first. */
static void
run_job(store_t *store, writer_stats_t *stats, committer_t *self, commit_job_t *j)
{
    double t = log_clock_ms();
    int grown = 0;
    if (j->room) {
        if (store_ensure_room(store, j->room, &grown, j->err, sizeof j->err) != STORE_OK)
            log_warn("growing the LMDB map ahead of a group: %s", j->err);
        if (grown) {
            count_growth(store, stats, grown);
            log_info("LMDB map nearly full: grew it to %zu MiB", store_map_size(store) >> 20);
        }
    }
    j->ms_room = log_clock_ms() - t;
    j->ms_put = j->ms_after = 0;
    j->after_rc = STORE_OK;
    if (self && fault_injected(self, j))
        return;
#ifdef PACER_FAULT_INJECTION
    if (self && self->disk_full_flag && access(self->disk_full_flag, F_OK) == 0) {
        snprintf(j->err, sizeof j->err,
                 "committing the log: No space left on device (injected: "
                 "PACERD_TEST_DISK_FULL exists)");
        j->rc = STORE_DISK_FULL;
        return;
    }
#endif
    t = log_clock_ms();
    grown = 0;
    put_call_t call = {store, j};
    j->rc = store_in_txn(store, put_records, &call, &grown, j->err, sizeof j->err);
    classify_failure(store, j);
    j->ms_commit = log_clock_ms() - t - j->ms_put;
    if (grown) {
        count_growth(store, stats, grown);
        log_info("LMDB map full: grew it to %zu MiB", store_map_size(store) >> 20);
    }
    if (j->rc == STORE_OK && j->after) {
        t = log_clock_ms();
        j->after_rc = j->after(j->after_arg, j->after_err, sizeof j->after_err);
        j->ms_after = log_clock_ms() - t;
    }
}

static void *
commit_run(void *arg)
{
    committer_t *self = arg;
    pthread_setname_np(pthread_self(), "pacerd-commit");
    pthread_mutex_lock(&self->lock);
    for (;;) {
        while (!self->stop && !self->running)
            pthread_cond_wait(&self->work, &self->lock);
        if (self->stop)
            break;
        commit_job_t *j = self->job;
        pthread_mutex_unlock(&self->lock);
        run_job(self->store, self->stats, self, j);
        pthread_mutex_lock(&self->lock);
        self->running = false;
        self->finished = true;
        pthread_cond_signal(&self->done);
        uint64_t one = 1;
        if (write(self->efd, &one, sizeof one) != (ssize_t)sizeof one)
            log_warn("waking the writer: %s", strerror(errno)); /* reap with wait still works */
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

committer_t *
committer_new(store_t *store, writer_stats_t *stats, char *err, size_t errlen)
{
    committer_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->store = store;
    self->stats = stats;
    fault_init(self);
    self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (self->efd < 0) {
        snprintf(err, errlen, "cannot create the commit thread's eventfd: %s", strerror(errno));
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->work, NULL);
    pthread_cond_init(&self->done, NULL);
    int rc = pthread_create(&self->thread, NULL, commit_run, self);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the commit thread: %s", strerror(rc));
        pthread_cond_destroy(&self->done);
        pthread_cond_destroy(&self->work);
        pthread_mutex_destroy(&self->lock);
        close(self->efd);
        free(self);
        return NULL;
    }
    return self;
}

void
committer_destroy(committer_t **self_p)
{
    committer_t *self = *self_p;
    if (!self)
        return;
    committer_reap(self, true);
    pthread_mutex_lock(&self->lock);
    self->stop = true;
    pthread_cond_signal(&self->work);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->done);
    pthread_cond_destroy(&self->work);
    pthread_mutex_destroy(&self->lock);
    close(self->efd);
    free(self);
    *self_p = NULL;
}

void
committer_submit(committer_t *self, commit_job_t *job)
{
    pthread_mutex_lock(&self->lock);
    assert(!self->job);
    self->job = job;
    self->running = true;
    self->finished = false;
    pthread_cond_signal(&self->work);
    pthread_mutex_unlock(&self->lock);
}

commit_job_t *
committer_reap(committer_t *self, bool wait)
{
    pthread_mutex_lock(&self->lock);
    while (wait && self->job && !self->finished)
        pthread_cond_wait(&self->done, &self->lock);
    commit_job_t *j = self->job && self->finished ? self->job : NULL;
    if (j) {
        self->job = NULL;
        self->finished = false;
        uint64_t n;
        while (read(self->efd, &n, sizeof n) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&self->lock);
    return j;
}

bool
committer_busy(const committer_t *self)
{
    return self->job != NULL; /* only the writer submits and reaps */
}

int
committer_fd(const committer_t *self)
{
    return self->efd;
}

void
commit_job_run(store_t *store, writer_stats_t *stats, commit_job_t *job)
{
    run_job(store, stats, NULL, job);
}

static void
ops_submit(void *self, commit_job_t *job)
{
    committer_submit(self, job);
}

static commit_job_t *
ops_reap(void *self, bool wait)
{
    return committer_reap(self, wait);
}

static int
ops_fd(const void *self)
{
    return committer_fd(self);
}

static void
ops_destroy(void **self_p)
{
    committer_t *self = *self_p;
    committer_destroy(&self);
    *self_p = NULL;
}

const committer_ops_t committer_thread_ops = {ops_submit, ops_reap, ops_fd, ops_destroy};
