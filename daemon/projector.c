/*  projector: see projector.h.

    Periodic snapshots are serialised by a forked child, as Redis does its
    background saves: fork() gives the child a copy-on-write image of the
    projection exactly as it stood after a commit, so the writer goes on
    folding while the child writes the bytes into a memfd. The writer then
    stores them in a short transaction of its own. The child touches only
    its copy of the projection, the heap and the memfd; it inherits the
    LMDB and ZeroMQ handles but never uses them, and leaves with _exit. At
    10 million events serialising inside the writer's transaction stalled
    ingest for seconds. */

#define _GNU_SOURCE /* memfd_create */

#include "daemon/projector.h"

#include "daemon/log.h"
#include "daemon/replay.h"
#include "daemon/store_snapshot.h"
#include "projections/foldset.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#define SNAPSHOTS_KEPT 2

struct _projector_t {
    store_t *store;
    char *zone;
    int fiscal_start_month;
    unsigned weekdays;
    bool detectors;
    uint64_t snapshot_every;
    _Atomic uint64_t snapshot_seq; /* the newest snapshot written or loaded */
    /* The snapshot loaded at start lacked folds refolded from the log (new,
       of another version, or behind): one at the same seq is still worth
       writing, or every start would refold them again. */
    bool snapshot_stale;
    calendar_t *cal;
    foldset_t *folds;   /* every fold pacerd runs (projections/foldset.h) */
    projection_t *live; /* the projection of folds, a typed view */
    pthread_rwlock_t lock;
    _Atomic int readers_waiting; /* queries blocked on the lock */
    /* The snapshot a child process is serialising (child != 0), then the
       writer's to store, a chunk per transaction (pending != NULL). */
    pid_t child;
    int child_fd;
    uint64_t child_seq;
    uint64_t tried_seq; /* the last child's; a failed one is retried N events on */
    struct timespec child_t0;
    double serialised, child_cpu; /* the child's seconds, of wall time and CPU */
    char *pending;                /* the child's output, mapped */
    size_t pending_len, pending_map, pending_off;
    uint64_t pending_first; /* chunk number of its first chunk */
    struct timespec store_t0;
};

static pthread_mutex_t calendar_mutex = PTHREAD_MUTEX_INITIALIZER;

static calendar_t *
calendar_make(projector_t *self, char *err, size_t errlen)
{
    pthread_mutex_lock(&calendar_mutex);
    calendar_t *cal = calendar_new(self->zone, self->fiscal_start_month, err, errlen);
    if (cal && calendar_set_weekdays(cal, self->weekdays, err, errlen) != 0)
        calendar_destroy(&cal);
    pthread_mutex_unlock(&calendar_mutex);
    return cal;
}

static void
calendar_drop(calendar_t **cal)
{
    pthread_mutex_lock(&calendar_mutex);
    calendar_destroy(cal);
    pthread_mutex_unlock(&calendar_mutex);
}

/* The replay's fold: every fold of the set, on the replay's folding
   thread. */
static int
fold_batch(void *arg, const fold_event_t *d, size_t n)
{
    return foldset_fold_batch(arg, d, n);
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Build the folds of mode over the log up to `upto` from the newest
   usable snapshot at or before it (use_snapshot), the folds that are not
   in it folded from the first event first. *from_snapshot says where the
   others started; *refolded (may be NULL) how many events the folds
   started afresh took alone. */
static foldset_t *
build(projector_t *self, uint64_t upto, bool use_snapshot, foldset_mode_t mode,
      uint64_t *from_snapshot, uint64_t *refolded, char *err, size_t errlen)
{
    bool live = mode != FOLDSET_PROJECTION;
    calendar_t *cal = calendar_make(self, err, errlen);
    if (!cal)
        return NULL;
    foldset_t *folds = foldset_new(cal, mode);
    store_reader_t *r = folds ? store_read_begin(self->store, err, errlen) : NULL;
    if (!r) {
        if (!folds)
            snprintf(err, errlen, "out of memory");
        foldset_destroy(&folds);
        calendar_drop(&cal);
        return NULL;
    }
    uint64_t last = store_reader_last_seq(r);
    if (upto > last)
        upto = last;
    uint64_t snap_seq = 0;
    const void *data;
    size_t len;
    char why[256];
    int found = use_snapshot
                    ? store_reader_snapshot(r, upto, &snap_seq, &data, &len, why, sizeof why)
                    : STORE_NOT_FOUND;
    if (found != STORE_OK && found != STORE_NOT_FOUND)
        log_warn("ignoring the snapshot (%s): folding the log from the start", why);
    if (found == STORE_OK) {
        int loaded = foldset_load(folds, data, len, snap_seq, why, sizeof why);
        store_reader_snapshot_release(r);
        if (loaded != 0) {
            log_warn("ignoring the snapshot at seq %llu (%s): folding the log from the start",
                     (unsigned long long)snap_seq, why);
            /* loading may have added day overrides to the calendar */
            foldset_destroy(&folds);
            calendar_drop(&cal);
            cal = calendar_make(self, err, errlen);
            folds = cal ? foldset_new(cal, mode) : NULL;
            snap_seq = 0;
        }
    } else
        snap_seq = 0;
    int rc = -1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (folds) {
        rc = 0;
        /* folds that start before the snapshot catch up alone first */
        uint64_t from = foldset_from(folds);
        if (from <= snap_seq) {
            char names[256];
            foldset_rebuilt(folds, names, sizeof names);
            rc = replay_run(r, from, snap_seq, fold_batch, folds, NULL, err, errlen);
            if (live && rc == 0)
                log_info("folds not in the snapshot at seq %llu, of another version, or "
                         "behind it, folded from seq %llu: %s (%llu events in %.3f s)",
                         (unsigned long long)snap_seq, (unsigned long long)from, names,
                         (unsigned long long)(snap_seq - from + 1), seconds_since(&t0));
        }
        if (refolded)
            *refolded = from <= snap_seq ? snap_seq - from + 1 : 0;
        if (rc == 0)
            rc = replay_run(r, snap_seq + 1, upto, fold_batch, folds, NULL, err, errlen);
    } else if (cal)
        snprintf(err, errlen, "out of memory");
    store_read_end(&r);
    if (rc != 0) {
        foldset_destroy(&folds);
        calendar_drop(&cal);
        return NULL;
    }
    if (from_snapshot)
        *from_snapshot = snap_seq;
    return folds;
}

projector_t *
projector_open(store_t *store, const projector_options_t *options, char *err, size_t errlen)
{
    projector_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->store = store;
    self->zone = strdup(options->time_zone ? options->time_zone : "Asia/Shanghai");
    self->fiscal_start_month = options->fiscal_start_month ? options->fiscal_start_month : 1;
    self->weekdays =
        options->working_weekdays ? options->working_weekdays : CALENDAR_WEEKDAYS_DEFAULT;
    self->snapshot_every = options->snapshot_every;
    self->detectors = !options->no_detectors;
    pthread_rwlock_init(&self->lock, NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t from = 0, refolded = 0;
    self->folds =
        build(self, UINT64_MAX, true, self->detectors ? FOLDSET_ALL : FOLDSET_NO_DETECTORS, &from,
              &refolded, err, errlen);
    if (!self->folds) {
        projector_destroy(&self);
        return NULL;
    }
    self->cal = foldset_calendar(self->folds);
    self->live = foldset_projection(self->folds);
    projection_track_changes(self->live, true);
    atomic_store(&self->snapshot_seq, from);
    self->snapshot_stale = refolded > 0;
    uint64_t seq = foldset_seq(self->folds);
    log_info("projection at seq %llu: snapshot %llu + %llu events folded in %.3f s",
             (unsigned long long)seq, (unsigned long long)from, (unsigned long long)(seq - from),
             seconds_since(&t0));
    if (projection_skipped(self->live))
        log_warn("projection: %llu logged events did not apply (see docs/EVENTS.md)",
                 (unsigned long long)projection_skipped(self->live));
    /* A long replay is worth keeping: snapshot now rather than at stop. */
    if (seq - from > 100000 || refolded > 100000)
        projector_snapshot_start(self, true);
    return self;
}

typedef int(txn_step_fn)(projector_t *self, const void *arg, char *err, size_t errlen);

typedef struct {
    projector_t *self;
    txn_step_fn *step;
    const void *arg;
} txn_call_t;

static int
call_step(void *arg, char *err, size_t errlen)
{
    txn_call_t *c = arg;
    return c->step(c->self, c->arg, err, errlen);
}

/* Run step in a write transaction of its own (store_in_txn). */
static int
in_txn(projector_t *self, txn_step_fn *step, const void *arg, char *err, size_t errlen)
{
    txn_call_t c = {self, step, arg};
    int grown = 0;
    int rc = store_in_txn(self->store, call_step, &c, &grown, err, errlen);
    if (grown)
        log_info("LMDB map grew to %zu MiB for a projection snapshot",
                 store_map_size(self->store) >> 20);
    return rc;
}

static int
put_whole(projector_t *self, const void *arg, char *err, size_t errlen)
{
    const msgpack_sbuffer *sb = arg;
    return store_put_snapshot(self->store, foldset_seq(self->folds), sb->data, sb->size,
                              SNAPSHOTS_KEPT, err, errlen);
}

int
projector_write_snapshot(projector_t *self, char *err, size_t errlen)
{
    projector_snapshot_cancel(self); /* it would be older than this one */
    uint64_t seq = foldset_seq(self->folds);
    if (seq == atomic_load(&self->snapshot_seq) && !self->snapshot_stale)
        return STORE_OK;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc;
    if (foldset_save(self->folds, &sb) != 0) {
        snprintf(err, errlen, "out of memory serialising the projection");
        rc = STORE_ERROR;
    } else
        rc = in_txn(self, put_whole, &sb, err, errlen);
    if (rc == STORE_OK) {
        atomic_store(&self->snapshot_seq, seq);
        self->snapshot_stale = false;
        log_info("projection snapshot at seq %llu (%zu KiB)", (unsigned long long)seq,
                 sb.size >> 10);
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The child's side: serialise and write the bytes, then their length as
   eight bytes, so that the parent can tell a complete file from a cut
   one even if it cannot learn the child's exit status. */
static void
snapshot_child(foldset_t *folds, int fd, pid_t parent)
{
    /* Keep only the memfd (as fd 3). A child that outlived a killed
       pacerd must not hold its listening ports or the state directory's
       lock, or the restart would be refused until the child finished. */
    if (fd != 3 && dup2(fd, 3) != 3)
        _exit(4);
    fd = 3;
    if (close_range(4, ~0U, 0) != 0) {
        struct rlimit rl;
        int max =
            getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
        for (int i = 4; i < max; i++)
            close(i);
    }
    /* A snapshot for a pacerd that is gone is of no use: die with it. The
       parent may have died before this line ran; then getppid says so. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(5);
    /* Best effort: the daemon's own threads come first. */
    (void)setpriority(PRIO_PROCESS, 0, 10);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (foldset_save(folds, &sb) != 0)
        _exit(2);
    uint64_t len = sb.size;
    if (msgpack_sbuffer_write(&sb, (const char *)&len, sizeof len) != 0)
        _exit(2);
    for (size_t off = 0; off < sb.size;) {
        ssize_t n = write(fd, sb.data + off, sb.size - off);
        if (n < 0 && errno != EINTR)
            _exit(3);
        if (n > 0)
            off += (size_t)n;
    }
    _exit(0);
}

static bool
snapshot_due(projector_t *self, bool force)
{
    uint64_t seq = foldset_seq(self->folds), last = atomic_load(&self->snapshot_seq);
    if (self->tried_seq > last)
        last = self->tried_seq;
    return !self->child && !self->pending && (seq != last || self->snapshot_stale) &&
           (force || (self->snapshot_every && seq - last >= self->snapshot_every));
}

bool
projector_snapshot_due(projector_t *self)
{
    return snapshot_due(self, false);
}

void
projector_snapshot_start(projector_t *self, bool force)
{
    if (!snapshot_due(self, force))
        return;
    uint64_t seq = foldset_seq(self->folds);
    char err[256];
    int fd = memfd_create("pacer-snapshot", MFD_CLOEXEC);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t parent = getpid();
    pid_t pid = fd >= 0 ? fork() : -1;
    if (pid == 0)
        snapshot_child(self->folds, fd, parent);
    if (pid < 0) {
        /* Without a child (memory or process limits), write it here. */
        log_warn("cannot serialise the snapshot in a child process (%s): writing it inline",
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        if (projector_write_snapshot(self, err, sizeof err) != STORE_OK)
            log_warn("projection snapshot not written: %s", err);
        return;
    }
    self->child = pid;
    self->child_fd = fd;
    self->child_seq = self->tried_seq = seq;
    clock_gettime(CLOCK_MONOTONIC, &self->child_t0);
    log_info("projection snapshot at seq %llu: serialising in child process %d (forked in "
             "%.3f s)",
             (unsigned long long)seq, (int)pid, seconds_since(&t0));
}

/* Reap the child; true if it exited (*status set, or -1 if unknown). */
static bool
reap(projector_t *self, bool wait, int *status)
{
    pid_t r;
    struct rusage ru = {0};
    do
        r = wait4(self->child, status, wait ? 0 : WNOHANG, &ru);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    self->child_cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    if (r < 0) /* ECHILD: someone reaped it; the length footer decides */
        *status = -1;
    self->child = 0;
    return true;
}

/* Map the finished child's output; false (logged) if it is not whole. */
static bool
take_output(projector_t *self, int status)
{
    self->serialised = seconds_since(&self->child_t0);
    int fd = self->child_fd;
    struct stat st = {0};
    void *map = MAP_FAILED;
    uint64_t len = 0;
    bool whole = status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (whole && fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof len &&
        (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) != MAP_FAILED)
        memcpy(&len, (char *)map + st.st_size - sizeof len, sizeof len);
    close(fd); /* the mapping keeps the memfd's pages */
    if (map == MAP_FAILED || len != (uint64_t)st.st_size - sizeof len) {
        log_warn("projection snapshot at seq %llu not written: its child process %s",
                 (unsigned long long)self->child_seq,
                 status != -1 && WIFSIGNALED(status) ? "was killed" : "failed");
        if (map != MAP_FAILED)
            munmap(map, (size_t)st.st_size);
        return false;
    }
    self->pending = map;
    self->pending_map = (size_t)st.st_size;
    self->pending_len = (size_t)len;
    self->pending_off = 0;
    clock_gettime(CLOCK_MONOTONIC, &self->store_t0);
    return true;
}

static void
drop_pending(projector_t *self)
{
    if (self->pending)
        munmap(self->pending, self->pending_map);
    self->pending = NULL;
}

/* One transaction's worth: the next chunk, and after the last the
   manifest. Changes nothing in self, so that it can be run again. */
static int
put_next_chunk(projector_t *self, const void *arg, char *err, size_t errlen)
{
    (void)arg;
    size_t off = self->pending_off, left = self->pending_len - off;
    size_t n = left < STORE_SNAPSHOT_CHUNK ? left : STORE_SNAPSHOT_CHUNK;
    int rc = STORE_OK;
    uint64_t first = self->pending_first;
    if (off == 0 && (rc = store_snapshot_next_chunk(self->store, &first, err, errlen)) == STORE_OK)
        self->pending_first = first;
    if (rc == STORE_OK && n)
        rc = store_put_snapshot_chunk(self->store, first + off / STORE_SNAPSHOT_CHUNK,
                                      self->pending + off, n, err, errlen);
    if (rc == STORE_OK && off + n == self->pending_len)
        rc = store_put_snapshot_manifest(self->store, self->child_seq, first,
                                         off / STORE_SNAPSHOT_CHUNK + (n > 0), self->pending_len,
                                         SNAPSHOTS_KEPT, err, errlen);
    return rc;
}

int
projector_snapshot_store_chunk(projector_t *self, char *err, size_t errlen)
{
    if (!self->pending)
        return STORE_OK;
    int rc = in_txn(self, put_next_chunk, NULL, err, errlen);
    if (rc != STORE_OK) {
        drop_pending(self); /* its chunks go with the next snapshot's manifest */
        return rc;
    }
    size_t left = self->pending_len - self->pending_off;
    self->pending_off += left < STORE_SNAPSHOT_CHUNK ? left : STORE_SNAPSHOT_CHUNK;
    if (self->pending_off == self->pending_len) {
        size_t txns = (self->pending_len + STORE_SNAPSHOT_CHUNK - 1) / STORE_SNAPSHOT_CHUNK;
        txns += !txns; /* an empty one still takes one, for its manifest */
        atomic_store(&self->snapshot_seq, self->child_seq);
        self->snapshot_stale = false;
        log_info("projection snapshot at seq %llu (%zu KiB): serialised in %.2f s (%.2f s "
                 "CPU) beside the writer, stored in %zu transaction%s over %.2f s",
                 (unsigned long long)self->child_seq, self->pending_len >> 10, self->serialised,
                 self->child_cpu, txns, txns == 1 ? "" : "s", seconds_since(&self->store_t0));
        drop_pending(self);
    }
    return STORE_OK;
}

/* If the child has finished (with wait: once it finishes), take its
   output: it becomes pending, or is dropped if it is not whole. */
static void
reap_child(projector_t *self, bool wait)
{
    int status;
    if (self->child && reap(self, wait, &status))
        take_output(self, status);
}

int
projector_snapshot_collect(projector_t *self, bool wait, char *err, size_t errlen)
{
    reap_child(self, wait);
    int rc = STORE_OK;
    do
        rc = projector_snapshot_store_chunk(self, err, errlen);
    while (wait && rc == STORE_OK && self->pending);
    return rc;
}

void
projector_snapshot_poll(projector_t *self)
{
    reap_child(self, false);
}

int
projector_snapshot_busy(projector_t *self)
{
    return self->pending ? 2 : self->child ? 1 : 0;
}

void
projector_snapshot_cancel(projector_t *self)
{
    drop_pending(self);
    if (!self->child)
        return;
    int status;
    kill(self->child, SIGKILL);
    reap(self, true, &status);
    close(self->child_fd);
    log_info("projection snapshot at seq %llu abandoned", (unsigned long long)self->child_seq);
}

uint64_t
projector_snapshot_seq(projector_t *self)
{
    return atomic_load(&self->snapshot_seq);
}

void
projector_destroy(projector_t **self_p)
{
    projector_t *self = *self_p;
    if (!self)
        return;
    projector_snapshot_cancel(self);
    foldset_destroy(&self->folds);
    calendar_drop(&self->cal);
    pthread_rwlock_destroy(&self->lock);
    free(self->zone);
    free(self);
    *self_p = NULL;
}

projection_t *
projector_live(projector_t *self)
{
    return self->live;
}

foldset_t *
projector_folds(projector_t *self)
{
    return self->folds;
}

const char *
projector_zone(projector_t *self)
{
    return self->zone;
}

void
projector_write_lock(projector_t *self)
{
    /* The writer takes the lock back right after letting it go, before a
       query it woke has run: give waiting queries a moment (at most 10 ms)
       to get in first (they count as waiting until they hold it). */
    double t0 = log_clock_ms();
    while (projector_readers_waiting(self) && log_clock_ms() - t0 < 10)
        sched_yield();
    pthread_rwlock_wrlock(&self->lock);
}

void
projector_read_lock(projector_t *self)
{
    atomic_fetch_add(&self->readers_waiting, 1);
    pthread_rwlock_rdlock(&self->lock);
    atomic_fetch_sub(&self->readers_waiting, 1);
}

bool
projector_read_lock_within(projector_t *self, int ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    deadline.tv_sec += ms / 1000 + deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    atomic_fetch_add(&self->readers_waiting, 1);
    int rc = pthread_rwlock_timedrdlock(&self->lock, &deadline);
    atomic_fetch_sub(&self->readers_waiting, 1);
    return rc == 0;
}

bool
projector_readers_waiting(projector_t *self)
{
    return atomic_load_explicit(&self->readers_waiting, memory_order_relaxed) > 0;
}

void
projector_unlock(projector_t *self)
{
    pthread_rwlock_unlock(&self->lock);
}

/* Inside the writer's open transaction (a rebuild). */
static int
snapshot_in_txn(projector_t *self, char *err, size_t errlen)
{
    uint64_t seq = foldset_seq(self->folds);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = foldset_save(self->folds, &sb);
    if (rc != 0)
        snprintf(err, errlen, "out of memory serialising the projection");
    else
        rc = store_put_snapshot(self->store, seq, sb.data, sb.size, SNAPSHOTS_KEPT, err, errlen);
    if (rc == STORE_OK) {
        log_info("projection snapshot at seq %llu (%zu KiB)", (unsigned long long)seq,
                 sb.size >> 10);
        atomic_store(&self->snapshot_seq, seq);
        self->snapshot_stale = false;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc == 0 ? STORE_OK : rc;
}

static int
replace_live(projector_t *self, bool use_snapshot, uint64_t *events, char *err, size_t errlen)
{
    uint64_t from = 0;
    foldset_t *folds =
        build(self, UINT64_MAX, use_snapshot, self->detectors ? FOLDSET_ALL : FOLDSET_NO_DETECTORS,
              &from, NULL, err, errlen);
    if (!folds)
        return STORE_ERROR;
    foldset_destroy(&self->folds);
    calendar_drop(&self->cal);
    self->folds = folds;
    self->cal = foldset_calendar(folds);
    self->live = foldset_projection(folds);
    projection_track_changes(self->live, true);
    if (events)
        *events = foldset_seq(folds) - from;
    if (!use_snapshot)
        atomic_store(&self->snapshot_seq, 0);
    return STORE_OK;
}

int
projector_reload(projector_t *self, char *err, size_t errlen)
{
    return replace_live(self, true, NULL, err, errlen);
}

int
projector_rebuild(projector_t *self, uint64_t *events, char *err, size_t errlen)
{
    projector_snapshot_cancel(self); /* of the projection being replaced */
    int rc = replace_live(self, false, events, err, errlen);
    if (rc != STORE_OK)
        return rc;
    if ((rc = store_drop_snapshots(self->store, err, errlen)) != STORE_OK)
        return rc;
    return snapshot_in_txn(self, err, errlen);
}

projection_t *
projector_as_of(projector_t *self, uint64_t upto, char *err, size_t errlen)
{
    foldset_t *folds = build(self, upto, true, FOLDSET_PROJECTION, NULL, NULL, err, errlen);
    if (!folds)
        return NULL;
    projection_t *p = foldset_take_projection(folds);
    foldset_destroy(&folds); /* the calendar goes with p: projector_release */
    return p;
}

void
projector_release(projector_t *self, projection_t **proj_p)
{
    if (!*proj_p)
        return;
    calendar_t *cal = projection_calendar(*proj_p);
    projection_destroy(proj_p);
    calendar_drop(&cal);
}
