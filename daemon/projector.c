/*  projector: see projector.h. */

#include "daemon/projector.h"

#include "daemon/log.h"
#include "daemon/replay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SNAPSHOTS_KEPT 2

struct _projector_t {
    store_t *store;
    char *zone;
    int fiscal_start_month;
    unsigned weekdays;
    uint64_t snapshot_every;
    uint64_t snapshot_seq; /* seq of the newest snapshot written or loaded */
    calendar_t *cal;
    projection_t *live;
    pthread_rwlock_t lock;
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

/* Build a projection of the log up to `upto` from the newest usable
   snapshot at or before it. *from_snapshot says where it started. */
static projection_t *
build(projector_t *self, uint64_t upto, bool use_snapshot, uint64_t *from_snapshot, char *err,
      size_t errlen)
{
    calendar_t *cal = calendar_make(self, err, errlen);
    if (!cal)
        return NULL;
    projection_t *p = projection_new(cal);
    store_reader_t *r = p ? store_read_begin(self->store, err, errlen) : NULL;
    if (!r) {
        if (!p)
            snprintf(err, errlen, "out of memory");
        projection_destroy(&p);
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
    if (use_snapshot &&
        store_reader_snapshot(r, upto, &snap_seq, &data, &len, why, sizeof why) == STORE_OK) {
        if (projection_load(p, data, len, why, sizeof why) != 0) {
            log_warn("ignoring the snapshot at seq %llu (%s): folding the log from the start",
                     (unsigned long long)snap_seq, why);
            projection_destroy(&p);
            calendar_drop(&cal);
            cal = calendar_make(self, err, errlen);
            p = cal ? projection_new(cal) : NULL;
            snap_seq = 0;
        }
    } else
        snap_seq = 0;
    int rc = -1;
    if (p)
        rc = replay_fold(r, p, snap_seq + 1, upto, NULL, err, errlen);
    else if (cal)
        snprintf(err, errlen, "out of memory");
    store_read_end(&r);
    if (rc != 0) {
        projection_destroy(&p);
        calendar_drop(&cal);
        return NULL;
    }
    if (from_snapshot)
        *from_snapshot = snap_seq;
    return p;
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
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
    pthread_rwlock_init(&self->lock, NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t from = 0;
    self->live = build(self, UINT64_MAX, true, &from, err, errlen);
    if (!self->live) {
        projector_destroy(&self);
        return NULL;
    }
    self->cal = projection_calendar(self->live);
    self->snapshot_seq = from;
    uint64_t seq = projection_seq(self->live);
    log_info("projection at seq %llu: snapshot %llu + %llu events folded in %.3f s",
             (unsigned long long)seq, (unsigned long long)from, (unsigned long long)(seq - from),
             seconds_since(&t0));
    if (projection_skipped(self->live))
        log_warn("projection: %llu logged events did not apply (see docs/EVENTS.md)",
                 (unsigned long long)projection_skipped(self->live));
    /* A long replay is worth keeping: snapshot now rather than at stop. */
    if (seq - from > 100000) {
        char why[256];
        if (projector_write_snapshot(self, why, sizeof why) != STORE_OK)
            log_warn("start-up snapshot not written: %s", why);
    }
    return self;
}

int
projector_write_snapshot(projector_t *self, char *err, size_t errlen)
{
    int rc = STORE_MAP_FULL;
    for (int tries = 0; rc == STORE_MAP_FULL && tries < 8; tries++) {
        rc = store_begin(self->store, err, errlen);
        if (rc == STORE_OK)
            rc = projector_maybe_snapshot(self, true, err, errlen);
        if (rc == STORE_OK)
            return store_commit(self->store, err, errlen);
        store_abort(self->store);
        if (rc == STORE_MAP_FULL) {
            int g = store_grow(self->store, err, errlen);
            if (g != STORE_OK)
                return g;
            log_info("LMDB map grew to %zu MiB for a projection snapshot",
                     store_map_size(self->store) >> 20);
        }
    }
    return rc;
}

void
projector_destroy(projector_t **self_p)
{
    projector_t *self = *self_p;
    if (!self)
        return;
    projection_destroy(&self->live);
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

void
projector_write_lock(projector_t *self)
{
    pthread_rwlock_wrlock(&self->lock);
}

void
projector_read_lock(projector_t *self)
{
    pthread_rwlock_rdlock(&self->lock);
}

void
projector_unlock(projector_t *self)
{
    pthread_rwlock_unlock(&self->lock);
}

int
projector_maybe_snapshot(projector_t *self, bool force, char *err, size_t errlen)
{
    uint64_t seq = projection_seq(self->live);
    if (seq == self->snapshot_seq)
        return STORE_OK;
    if (!force && (!self->snapshot_every || seq - self->snapshot_seq < self->snapshot_every))
        return STORE_OK;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = projection_save(self->live, &sb);
    if (rc != 0)
        snprintf(err, errlen, "out of memory serialising the projection");
    else
        rc = store_put_snapshot(self->store, seq, sb.data, sb.size, SNAPSHOTS_KEPT, err, errlen);
    if (rc == STORE_OK) {
        log_info("projection snapshot at seq %llu (%zu KiB)", (unsigned long long)seq,
                 sb.size >> 10);
        self->snapshot_seq = seq;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc == 0 ? STORE_OK : rc;
}

static int
replace_live(projector_t *self, bool use_snapshot, uint64_t *events, char *err, size_t errlen)
{
    uint64_t from = 0;
    projection_t *p = build(self, UINT64_MAX, use_snapshot, &from, err, errlen);
    if (!p)
        return STORE_ERROR;
    projection_destroy(&self->live);
    calendar_drop(&self->cal);
    self->live = p;
    self->cal = projection_calendar(p);
    if (events)
        *events = projection_seq(p) - from;
    if (!use_snapshot)
        self->snapshot_seq = 0;
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
    int rc = replace_live(self, false, events, err, errlen);
    if (rc != STORE_OK)
        return rc;
    if ((rc = store_drop_snapshots(self->store, err, errlen)) != STORE_OK)
        return rc;
    return projector_maybe_snapshot(self, true, err, errlen);
}

projection_t *
projector_as_of(projector_t *self, uint64_t upto, char *err, size_t errlen)
{
    return build(self, upto, true, NULL, err, errlen);
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
