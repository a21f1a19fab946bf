/*  replay: see replay.h. The ring holds RING batches; the walker fills the
    slot at `head`, the folder empties the one at `tail`. Each slot has its
    own msgpack zone, cleared by the walker when it takes the slot again, so
    decoded events stay valid until the folder is done with them. A failure
    on either side sets `stop`, and both sides drain out. */

#include "daemon/replay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Three batches: one being decoded, one being folded, one spare. A
   decoded batch is about 80 KiB (event_t is 1.2 KiB); with eight the ring
   outgrew the L2 cache and the fold read its events from memory (fold CPU
   about 25% higher). */
#define RING 3

typedef struct {
    projection_item_t items[PROJECTION_BATCH];
    fold_event_t decoded[PROJECTION_BATCH];
    size_t n;
    msgpack_zone zone;
} slot_t;

typedef struct {
    replay_fold_fn *fold;
    void *arg;
    slot_t *slots;
    size_t head, tail; /* batches filled and folded, counted from 0 */
    bool done;         /* the walker has filled its last batch */
    bool stop;         /* give up: a side failed */
    int fold_rc;
    double fold_cpu_s;
    pthread_mutex_t mu;
    pthread_cond_t filled, emptied;
} ring_t;

static double
thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *
folder(void *arg)
{
    ring_t *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        while (g->tail == g->head && !g->done && !g->stop)
            pthread_cond_wait(&g->filled, &g->mu);
        bool idle = g->tail == g->head || g->stop;
        pthread_mutex_unlock(&g->mu);
        if (idle) {
            g->fold_cpu_s = thread_cpu_s(); /* read after the join */
            return NULL;                    /* done and drained, or stopped */
        }
        slot_t *s = &g->slots[g->tail % RING];
        int rc = g->fold(g->arg, s->decoded, s->n);
        pthread_mutex_lock(&g->mu);
        g->tail++;
        if (rc != 0) {
            g->fold_rc = rc;
            g->stop = true;
        }
        pthread_cond_signal(&g->emptied);
        pthread_mutex_unlock(&g->mu);
    }
}

typedef struct {
    ring_t *g;
    slot_t *cur;
} walk_t;

/* Hand the current slot to the folder and wait for a free one. */
static int
publish(walk_t *w)
{
    ring_t *g = w->g;
    projection_decode_batch(w->cur->items, w->cur->n, &w->cur->zone, w->cur->decoded);
    pthread_mutex_lock(&g->mu);
    g->head++;
    pthread_cond_signal(&g->filled);
    while (g->head - g->tail == RING && !g->stop)
        pthread_cond_wait(&g->emptied, &g->mu);
    bool stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    w->cur = &g->slots[g->head % RING];
    w->cur->n = 0;
    msgpack_zone_clear(&w->cur->zone); /* the folder is done with this slot */
    return stop ? -1 : 0;
}

static int
on_record(void *arg, const store_record_t *rec)
{
    walk_t *w = arg;
    w->cur->items[w->cur->n++] =
        (projection_item_t){rec->seq, rec->recorded_at, rec->event, rec->event_len};
    return w->cur->n == PROJECTION_BATCH ? publish(w) : 0;
}

static int
fold_projection_only(void *arg, const fold_event_t *d, size_t n)
{
    return projection_fold_decoded(arg, d, n);
}

int
replay_fold(store_reader_t *r, projection_t *p, uint64_t from, uint64_t to, replay_stats_t *stats,
            char *err, size_t errlen)
{
    return replay_run(r, from, to, fold_projection_only, p, stats, err, errlen);
}

int
replay_run(store_reader_t *r, uint64_t from, uint64_t to, replay_fold_fn *fold, void *arg,
           replay_stats_t *stats, char *err, size_t errlen)
{
    double cpu0 = thread_cpu_s();
    ring_t g = {.fold = fold, .arg = arg};
    g.slots = calloc(RING, sizeof *g.slots);
    if (!g.slots) {
        snprintf(err, errlen, "out of memory for the replay");
        return -1;
    }
    size_t zones = 0;
    for (; zones < RING; zones++)
        if (!msgpack_zone_init(&g.slots[zones].zone, 64 * 1024))
            break;
    pthread_t t;
    int rc = -1;
    if (zones < RING) {
        snprintf(err, errlen, "out of memory for the replay");
        goto done;
    }
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.filled, NULL);
    pthread_cond_init(&g.emptied, NULL);
    if (pthread_create(&t, NULL, folder, &g) != 0) {
        snprintf(err, errlen, "cannot start the replay thread");
        goto destroy;
    }
    walk_t w = {&g, &g.slots[0]};
    rc = store_reader_walk(r, from, to, on_record, &w, err, errlen);
    if (rc == 0 && w.cur->n)
        rc = publish(&w);
    pthread_mutex_lock(&g.mu);
    g.done = true;
    if (rc != 0)
        g.stop = true; /* a failure: the folder need not finish */
    pthread_cond_signal(&g.filled);
    pthread_mutex_unlock(&g.mu);
    pthread_join(t, NULL);
    if (stats) {
        stats->walk_cpu_s = thread_cpu_s() - cpu0;
        stats->fold_cpu_s = g.fold_cpu_s;
    }
    if (g.fold_rc != 0) {
        rc = -1;
        snprintf(err, errlen, "out of memory folding the log");
    }
destroy:
    pthread_cond_destroy(&g.emptied);
    pthread_cond_destroy(&g.filled);
    pthread_mutex_destroy(&g.mu);
done:
    for (size_t i = 0; i < zones; i++)
        msgpack_zone_destroy(&g.slots[i].zone);
    free(g.slots);
    return rc;
}
