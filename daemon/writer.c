/*  writer: see writer.h for the shape of a group commit.

    The requests of a group and their prepared events live in the group
    (daemon/group), which the intake thread filled and will answer. The
    writer adds, for the group it applies, the links of the events it
    appends (daemon/chain): their sequence numbers follow from first_seq,
    and the chain thread hashes them while the writer goes on.

    Two groups at a time at most: one being applied here, and the one
    before it in the commit thread's hands (daemon/commit). Invariants:
    - the projection and the duplicate index hold the durable log, plus
      the group in the commit thread's hands, plus the group being applied;
      their duplicate inserts are unsettled until each one's commit
      returns (dedup_settle up to the mark taken after each group);
    - a group is answered (sent back to the intake thread) only after its
      own commit returned, and so after every group before it;
    - the projector's write lock is held from the first fold of a group
      until no group is in the commit thread's hands: queries only ever see
      the projection of the durable log. A query waiting for the lock makes
      the writer wait for the commit in hand before it folds more, so it
      waits at most about one commit;
    - the writer writes to the store itself (snapshot chunks when idle,
      rebuilds, the projection reload after a failure) only while no job
      is in hand; a job may carry the next snapshot chunk, and then the
      writer leaves the snapshot state alone until it is reaped;
    - a duplicate lookup that lands on an event of either group compares
      against its bytes in memory, since its record is not readable yet.
    If a commit fails, its group is answered `internal`, every unsettled
    insert is rolled back and the projection is reloaded from the log; the
    group applied meanwhile is applied again. Since the writer waits for the
    job in hand before it submits the next, a group is always submitted
    with nothing in hand: it starts right after the durable log and holds
    the only unsettled inserts, which process_group checks before each
    submit (tests/test_writer.c drives failures behind redone groups).

    What is decided per event lives elsewhere: whether it may be appended
    (duplicates, conflicts, the folds' checks) in daemon/admission; what a
    request that is not an append does (allocate, rebuild, tick) in its
    command class (daemon/command), whose hooks this file calls at fixed
    points of a group's life without knowing the commands. The commit step
    is reached through committer_ops_t (daemon/commit), so that a test can
    put a fake in its place (tests/test_writer.c). */

#include "daemon/writer.h"

#include "daemon/admission.h"
#include "daemon/alerter.h"
#include "daemon/chain.h"
#include "daemon/command.h"
#include "daemon/commit.h"
#include "daemon/group.h"
#include "daemon/intake.h"
#include "daemon/log.h"
#include "daemon/projector.h"
#include "daemon/store_ids.h"
#include "events/codec.h"
#include "events/wire.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define SLOW_GROUP_MS 250 /* a group that took longer is logged, with where the time went */
/* Test hook: PACERD_SLOW_GROUP_MS=N in the environment logs groups over N
   ms instead (0: every group). */
#define SLOW_GROUP_ENV "PACERD_SLOW_GROUP_MS"

struct _writer_t {
    double slow_ms; /* SLOW_GROUP_MS, or the test hook's */
    store_t *store;
    projector_t *projector;
    int64_t last_recorded_at; /* recorded_at never goes backwards */
    dedup_t *dedup;
    void *router, *pub; /* handed to the intake thread */
    void *ctx;          /* private, inproc only: the pipe to the intake thread */
    void *pipe, *intake_pipe;
    writer_stats_t *stats;
    admission_t *admission; /* the checks before a seq (daemon/admission) */
    chain_t *chain;
    /* The commit step (daemon/commit): the commit thread, or a test's. */
    const committer_ops_t *commit_ops;
    void *committer;
    /* Two link arrays: the group being applied fills buf[cur]; the group
       in the commit thread's hands owns the other. */
    struct {
        chain_link_t *links;
        size_t cap;
    } buf[2];
    int cur;
    /* The group being applied: its links (buf[cur]), seq first_seq on
       (UINT64_MAX outside an apply). */
    size_t nlinks;
    uint64_t first_seq;
    int64_t recorded_at;
    /* Where the next group's chain starts: its first seq, and the hash of
       the record before it (applied, not necessarily committed yet). */
    uint64_t next_seq;
    uint8_t last_hash[STORE_HASH_BYTES];
    /* The group in the commit thread's hands, its job, the duplicate
       index's mark after its inserts, and when its processing began. */
    group_t *inflight;
    commit_job_t job;
    size_t inflight_mark;
    double inflight_t0, inflight_ms[3];
    uint64_t inflight_active; /* alerts firing with it (for the metrics) */
    bool locked;              /* the projector's write lock is held */
    int failures;             /* consecutive groups that failed */
    bool broken;              /* a group could not be handed back */
    size_t headroom;          /* see writer_set_map_headroom */
    /* Where the time of the group being applied went, for the log line
       about a slow one: snapshot store, index growth, apply. */
    double ms[3];
    /* Alerts: the alerter (its memory runs with the projection, ahead of
       the durable outbox by the groups in flight). What the commands
       (daemon/command) may use, with the alert clock (the wall clock, or
       with a manual clock the last tick's now) and --alerts off. */
    alerter_t *alerter;
    command_env_t env;
    int64_t tick_ms;
    auth_t *auth; /* for the intake thread; NULL: authentication off */
    /* The disk is full: groups of appends are refused without being
       applied, except one a second (a probe) while space may have come
       back; the first commit that succeeds ends it. */
    bool disk_full;
    double next_probe_ms;
    char disk_full_why[400];
};

#define DISK_FULL_PROBE_MS 1000

enum { T_SNAPSHOT, T_RESERVE, T_APPLY };

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define ID_LOAD_BATCH 64

typedef struct {
    dedup_t *dedup;
    uint64_t hashes[ID_LOAD_BATCH], seqs[ID_LOAD_BATCH];
    size_t n;
} id_loader_t;

static void
add_id(void *arg, uint64_t seq, uint64_t id_hash)
{
    id_loader_t *l = arg;
    l->hashes[l->n] = id_hash;
    l->seqs[l->n++] = seq;
    if (l->n == ID_LOAD_BATCH) {
        dedup_load(l->dedup, l->hashes, l->seqs, l->n);
        l->n = 0;
    }
}

dedup_t *
writer_load_ids(store_t *store, char *err, size_t errlen)
{
    uint64_t n = store_last_seq(store);
    /* room for the log and the next ~million events without a rehash */
    dedup_t *d = dedup_new((size_t)n + ((size_t)1 << 20));
    id_loader_t *l = calloc(1, sizeof *l);
    if (!d || !l) {
        snprintf(err, errlen, "out of memory building the id index for %llu events",
                 (unsigned long long)n);
        dedup_destroy(&d);
        free(l);
        return NULL;
    }
    l->dedup = d;
    if (store_scan_ids(store, add_id, l, err, errlen) != STORE_OK) {
        dedup_destroy(&d);
        free(l);
        return NULL;
    }
    dedup_load(d, l->hashes, l->seqs, l->n);
    free(l);
    return d;
}

/* The canonical bytes of event seq if the group being applied or the one
   being committed appended it (admission_memory_fn): their records are
   not readable from the log yet. */
static bool
in_memory(void *arg, uint64_t seq, const uint8_t **event, size_t *len)
{
    writer_t *self = arg;
    const chain_link_t *l = NULL;
    /* Only the links each group has filled: a seq past them is no event of
       either group (a duplicate index entry that should not be there), and
       is then looked for in the log, which names it as missing. */
    if (seq >= self->first_seq && seq - self->first_seq < self->nlinks)
        l = &self->buf[self->cur].links[seq - self->first_seq];
    else if (seq < self->first_seq && self->inflight && seq >= self->job.first_seq &&
             seq - self->job.first_seq < self->job.n)
        l = &self->job.links[seq - self->job.first_seq];
    if (!l)
        return false;
    *event = l->event;
    *len = l->len;
    return true;
}

/* The private context and its PAIR pipe to the intake thread. */
static int
open_pipe(writer_t *self, char *err, size_t errlen)
{
    int linger = 0;
    self->ctx = zmq_ctx_new();
    if (!self->ctx || zmq_ctx_set(self->ctx, ZMQ_IO_THREADS, 0) != 0 ||
        !(self->pipe = zmq_socket(self->ctx, ZMQ_PAIR)) ||
        !(self->intake_pipe = zmq_socket(self->ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(self->pipe, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(self->intake_pipe, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(self->pipe, "inproc://writer") != 0 ||
        zmq_connect(self->intake_pipe, "inproc://writer") != 0) {
        snprintf(err, errlen, "cannot open the writer's pipe: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

writer_t *
writer_new(store_t *store, projector_t *projector, dedup_t **dedup_p, void *router, void *pub,
           writer_stats_t *stats, char *err, size_t errlen)
{
    writer_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->store = store;
    self->projector = projector;
    self->router = router;
    self->pub = pub;
    self->stats = stats;
    self->headroom = WRITER_MAP_HEADROOM;
    self->commit_ops = &committer_thread_ops;
    self->tick_ms = WRITER_TICK_MS;
    const char *slow = getenv(SLOW_GROUP_ENV);
    self->slow_ms = slow ? atof(slow) : SLOW_GROUP_MS;
    self->dedup = *dedup_p;
    *dedup_p = NULL;
    self->first_seq = UINT64_MAX;
    if (!self->dedup) {
        snprintf(err, errlen, "out of memory");
        writer_destroy(&self);
        return NULL;
    }
    if (open_pipe(self, err, errlen) != 0 || !(self->chain = chain_new(err, errlen)) ||
        !(self->committer = committer_new(store, stats, err, errlen))) {
        writer_destroy(&self);
        return NULL;
    }
    if (!(self->alerter = alerter_new()) ||
        !(self->admission =
              admission_new(store, self->dedup, projector, self->alerter, in_memory, self))) {
        snprintf(err, errlen, "out of memory");
        writer_destroy(&self);
        return NULL;
    }
    self->env = (command_env_t){
        .store = store, .projector = projector, .alerter = self->alerter, .stats = stats};
    if (alerter_load(self->alerter, store, projector_live(projector), err, errlen) != 0) {
        writer_destroy(&self);
        return NULL;
    }
    self->next_seq = store_last_seq(store) + 1;
    memcpy(self->last_hash, store_last_hash(store), STORE_HASH_BYTES);
    atomic_store(&stats->map_size, store_map_size(store));
    atomic_store(&stats->map_used, store_map_used(store));
    atomic_store(&stats->last_seq, store_last_seq(store));
    atomic_store(&stats->last_aseq, alerter_last_aseq(self->alerter));
    atomic_store(&stats->alerts_active, alerter_active(self->alerter));
    store_reader_t *r = store_read_begin(store, err, errlen);
    store_record_t rec;
    if (r && store_last_seq(store) &&
        store_reader_get(r, store_last_seq(store), &rec, err, errlen) == STORE_OK)
        self->last_recorded_at = rec.recorded_at;
    store_read_end(&r);
    return self;
}

void
writer_destroy(writer_t **self_p)
{
    writer_t *self = *self_p;
    if (!self)
        return;
    if (self->committer)
        self->commit_ops->destroy(&self->committer);
    admission_destroy(&self->admission);
    alerter_destroy(&self->alerter);
    dedup_destroy(&self->dedup);
    chain_destroy(&self->chain);
    free(self->buf[0].links);
    free(self->buf[1].links);
    if (self->pipe)
        zmq_close(self->pipe);
    if (self->intake_pipe)
        zmq_close(self->intake_pipe);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

/* Links pushed to the chain thread at a time. */
#define CHAIN_PUSH_EVERY 32

/* The event gets the next seq and is folded now; the chain thread hashes
   its record meanwhile, and the commit thread puts it into the log. */
static int
append_event(writer_t *self, group_t *g, const pending_t *p, ev_result_t *r, const event_t *ev,
             char *err, size_t errlen)
{
    size_t n = self->nlinks;
    assert(n < self->buf[self->cur].cap);
    chain_link_t *l = &self->buf[self->cur].links[n];
    l->event = group_canon(g, r);
    l->len = r->canon_len;
    l->id_hash = r->id_hash;
    l->principal = p->principal_len ? p->principal : NULL;
    l->principal_len = p->principal_len;
    self->nlinks = n + 1;
    r->seq = self->first_seq + n;
    r->status = R_APPENDED;
    dedup_insert(self->dedup, r->id_hash, r->seq);
    if (foldset_fold_checked(projector_folds(self->projector), r->seq, self->recorded_at, ev,
                             alerter_flag, self->alerter) != 0) {
        snprintf(err, errlen, "out of memory folding event %llu into the projection",
                 (unsigned long long)r->seq);
        return STORE_ERROR;
    }
    if (self->nlinks % CHAIN_PUSH_EVERY == 0)
        chain_push(self->chain, self->nlinks);
    return STORE_OK;
}

/* What applying a request or a group came to. */
typedef enum {
    APPLIED,
    APPLY_AGAIN, /* an atomic request clashed: apply the group again without it */
    APPLY_FAILED /* a store failure or out of memory: the message says which */
} apply_t;

/* An atomic request is appended whole or not at all: every event is
   checked (against the state before the request) first. */
static apply_t
apply_atomic(writer_t *self, group_t *g, pending_t *p, char *err, size_t errlen)
{
    event_t ev;
    admission_verdict_t v = admission_batch(self->admission, g, p, err, errlen);
    if (v == ADMIT_FAILED)
        return APPLY_FAILED;
    if (v != ADMIT_NEW)
        return APPLIED;
    for (uint32_t i = 0; i < p->nresults; i++) {
        ev_result_t *r = &p->results[i];
        if (r->status != R_VALID)
            continue;
        group_event(g, r, &ev);
        v = admission_batch_event(self->admission, g, p, i, &ev, err, errlen);
        if (v == ADMIT_FAILED)
            return APPLY_FAILED;
        if (v == ADMIT_AGAIN)
            return APPLY_AGAIN;
        if (v == ADMIT_DUPLICATE)
            continue;
        if (append_event(self, g, p, r, &ev, err, errlen) != STORE_OK)
            return APPLY_FAILED;
    }
    return APPLIED;
}

/* How far ahead of the event being checked its successors' duplicate
   index slots are prefetched. */
#define DEDUP_PREFETCH 8

static apply_t
apply_request(writer_t *self, group_t *g, pending_t *p, char *err, size_t errlen)
{
    if (p->req.atomic)
        return apply_atomic(self, g, p, err, errlen);
    event_t ev;
    for (uint32_t i = 0; i < p->nresults && i < DEDUP_PREFETCH; i++)
        dedup_prefetch(self->dedup, p->results[i].id_hash);
    for (uint32_t i = 0; i < p->nresults; i++) {
        ev_result_t *r = &p->results[i];
        if (i + DEDUP_PREFETCH < p->nresults)
            dedup_prefetch(self->dedup, p->results[i + DEDUP_PREFETCH].id_hash);
        if (r->status != R_VALID)
            continue;
        group_event(g, r, &ev);
        admission_verdict_t v = admission_event(self->admission, g, r, i, &ev, err, errlen);
        if (v == ADMIT_FAILED)
            return APPLY_FAILED;
        if (v != ADMIT_NEW)
            continue;
        if (append_event(self, g, p, r, &ev, err, errlen) != STORE_OK)
            return APPLY_FAILED;
    }
    return APPLIED;
}

static int
reserve_links(writer_t *self, size_t n)
{
    if (n <= self->buf[self->cur].cap)
        return 0;
    chain_link_t *links = realloc(self->buf[self->cur].links, n * sizeof *links);
    if (!links)
        return -1;
    self->buf[self->cur].links = links;
    self->buf[self->cur].cap = n;
    return 0;
}

/* The id of an event of the group being applied (a lag alert's evidence). */
static bool
id_in_group(void *arg, uint64_t seq, char *id, size_t cap)
{
    writer_t *self = arg;
    if (self->first_seq == UINT64_MAX || seq < self->first_seq ||
        seq >= self->first_seq + self->nlinks)
        return false;
    const chain_link_t *l = &self->buf[self->cur].links[seq - self->first_seq];
    return admission_event_id(self->admission, l->event, l->len, id, cap);
}

/* After the group's events are folded: its commands' before_alerts (a
   tick moves the alert clock), then the alerter evaluates what the events
   changed at the alert clock, then the commands' after_alerts (each tick
   what time made due). The records go into the group's outbox batch,
   committed with it. STORE_OK or STORE_ERROR (out of memory). */
static int
raise_alerts(writer_t *self, group_t *g, char *err, size_t errlen)
{
    command_env_t *env = &self->env;
    env->wall = self->recorded_at;
    env->log_seq = self->first_seq + self->nlinks - 1;
    for (size_t k = 0; k < g->npending; k++) {
        pending_t *p = &g->pending[k];
        if (command_of(p) && p->cmd_class->before_alerts)
            p->cmd_class->before_alerts(p->cmd, env, g, p);
    }
    int64_t now = env->manual_clock ? env->alert_clock : env->wall;
    if (env->alerts_off) {
        g->last_aseq = alerter_last_aseq(self->alerter);
        return STORE_OK;
    }
    bool progress =
        atomic_load_explicit(&self->stats->progress_subscribers, memory_order_relaxed) > 0;
    env->progress = progress ? &g->progress : NULL;
    alerter_progress_to(self->alerter, env->progress);
    /* A settings change's sweep of every key goes in bounded steps when
       the daemon's own ticks carry it on, with the live clock; with a
       manual clock it is done here (tests expect its alerts with it). */
    bool bounded = !env->manual_clock && self->tick_ms > 0;
    if (alerter_group(self->alerter, projector_live(self->projector),
                      projector_folds(self->projector), now, env->log_seq, id_in_group, self,
                      bounded, &g->outbox, err, errlen) != 0)
        return STORE_ERROR;
    for (size_t k = 0; k < g->npending; k++) {
        pending_t *p = &g->pending[k];
        if (command_of(p) && p->cmd_class->after_alerts &&
            p->cmd_class->after_alerts(p->cmd, env, g, p, err, errlen) != STORE_OK)
            return STORE_ERROR;
    }
    g->last_aseq = alerter_last_aseq(self->alerter);
    return STORE_OK;
}

/* Check every valid, new event of the group, give it its seq, fold it
   and have its record hashed; nothing is written to the store here.
   Returns APPLIED, APPLY_AGAIN or APPLY_FAILED. */
static apply_t
apply_group(writer_t *self, group_t *g, int64_t recorded_at, char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t k = 0; k < g->npending; k++) {
        pending_t *p = &g->pending[k];
        if (command_of(p) && p->cmd_class->prepare)
            p->cmd_class->prepare(p->cmd, &self->env, g, p);
        if (group_appends_events(p))
            total += p->req.nevents;
    }
    double t = log_clock_ms();
    if (dedup_reserve(self->dedup, total) != 0 || reserve_links(self, total) != 0) {
        snprintf(err, errlen, "out of memory for %zu events", total);
        return APPLY_FAILED;
    }
    self->ms[T_RESERVE] += log_clock_ms() - t;
    t = log_clock_ms();
    self->recorded_at = recorded_at;
    chain_link_t *links = self->buf[self->cur].links;
    self->first_seq = self->next_seq;
    self->nlinks = 0;
    chain_begin(self->chain, self->last_hash, self->first_seq, recorded_at, links);
    apply_t rc = APPLIED;
    outbox_batch_clear(&g->outbox);
    outbox_batch_clear(&g->progress);
    for (size_t k = 0; k < g->npending && rc == APPLIED; k++)
        if (group_appends_events(&g->pending[k]))
            rc = apply_request(self, g, &g->pending[k], err, errlen);
    if (rc == APPLIED && raise_alerts(self, g, err, errlen) != STORE_OK)
        rc = APPLY_FAILED;
    chain_finish(self->chain, self->nlinks); /* before the links are handed on or reused */
    admission_end(self->admission);
    self->first_seq = UINT64_MAX;
    if (rc == APPLIED) {
        self->next_seq += self->nlinks;
        if (self->nlinks)
            memcpy(self->last_hash, links[self->nlinks - 1].hash, STORE_HASH_BYTES);
    }
    self->ms[T_APPLY] += log_clock_ms() - t;
    return rc;
}

/* After the group's commit, with the projection still locked: the
   commands that run on the durable log (rebuild). */
static void
run_after_commit(writer_t *self, group_t *g)
{
    for (size_t k = 0; k < g->npending; k++) {
        pending_t *p = &g->pending[k];
        if (command_of(p) && p->cmd_class->after_commit)
            p->cmd_class->after_commit(p->cmd, &self->env, p);
    }
}

/* Whether the group holds a command that works on the durable log alone
   (CMD_DRAINS: a rebuild). */
static bool
drains(const group_t *g)
{
    for (size_t k = 0; k < g->npending; k++)
        if (command_flags(&g->pending[k]) & CMD_DRAINS)
            return true;
    return false;
}

/* Back to the durable log, no job in hand: forget the unsettled duplicate
   inserts and reload the projection from the committed log. */
static void
undo_to_durable(writer_t *self)
{
    char err[512];
    assert(!self->inflight);
    dedup_rollback(self->dedup);
    if (projector_reload(self->projector, err, sizeof err) != STORE_OK)
        log_error("projection reload failed: %s", err);
    else if (alerter_load(self->alerter, self->store, projector_live(self->projector), err,
                          sizeof err) != 0)
        log_error("alert state reload failed: %s", err);
    self->next_seq = store_last_seq(self->store) + 1;
    memcpy(self->last_hash, store_last_hash(self->store), STORE_HASH_BYTES);
}

/* Store the snapshot a child process finished, if any. No job in hand. */
static void
collect_snapshot(writer_t *self)
{
    char err[512];
    if (projector_snapshot_collect(self->projector, false, err, sizeof err) != STORE_OK)
        log_warn("projection snapshot not stored: %s", err);
    atomic_store(&self->stats->map_size, store_map_size(self->store));
}

void
writer_set_manual_clock(writer_t *self, bool manual)
{
    self->env.manual_clock = manual;
}

void
writer_set_alerts(writer_t *self, bool on)
{
    self->env.alerts_off = !on;
}

void
writer_set_tick(writer_t *self, int64_t ms)
{
    self->tick_ms = ms;
}

void
writer_set_auth(writer_t *self, auth_t *auth)
{
    self->auth = auth;
}

void
writer_set_committer(writer_t *self, const committer_ops_t *ops, void *committer)
{
    assert(!self->inflight);
    if (self->committer)
        self->commit_ops->destroy(&self->committer);
    self->commit_ops = ops;
    self->committer = committer;
}

void
writer_set_map_headroom(writer_t *self, size_t bytes)
{
    self->headroom = bytes;
}

/* Hand a group back to the intake thread, which answers it. */
static void
hand_back(writer_t *self, group_t *g)
{
    /* before the group is back: the intake thread reads it then */
    atomic_store(&self->stats->alerts_behind, alerter_behind(self->alerter));
    atomic_store_explicit(&self->stats->sweep_left, alerter_sweep_left(self->alerter),
                          memory_order_relaxed);
    atomic_store_explicit(&self->stats->alert_timers, alerter_scheduled(self->alerter),
                          memory_order_relaxed);
    atomic_store_explicit(&self->stats->alerts_held, alerter_held(self->alerter),
                          memory_order_relaxed);
    if (!group_send(self->pipe, g)) {
        log_error("handing a group back: %s", zmq_strerror(errno));
        self->broken = true;
    }
}

/* Nothing of the group was appended: every append in it is answered
   `internal`. The caller has undone what was applied. */
static void
fail_group(writer_t *self, group_t *g, const char *why)
{
    log_error("group of %zu requests not appended: %s", g->npending, why);
    self->failures++;
    group_fail(g, why);
    g->committed = false;
    g->last_seq = store_last_seq(self->store);
}

/* A group's commit returned: the metrics' gauges of the durable state,
   and its histograms (for groups that appended events). */
static void
published_durable(writer_t *self, const group_t *g, const commit_job_t *j)
{
    writer_stats_t *st = self->stats;
    atomic_store_explicit(&st->last_seq, j->first_seq + j->n - 1, memory_order_relaxed);
    atomic_store_explicit(&st->last_aseq, g->last_aseq, memory_order_relaxed);
    atomic_store_explicit(&st->alerts_active, self->inflight_active, memory_order_relaxed);
    atomic_store_explicit(&st->map_used, store_map_used(self->store), memory_order_relaxed);
    if (j->n) {
        histogram_observe(&st->group_events, j->n);
        histogram_observe(&st->commit_time, (uint64_t)((j->ms_put + j->ms_commit) * 1000));
    }
}

/* A commit failed for want of disk space: from now on appends are refused
   until a probe commits (see process_group). */
static void
disk_full_enter(writer_t *self, const char *err)
{
    self->next_probe_ms = log_clock_ms() + DISK_FULL_PROBE_MS;
    if (self->disk_full)
        return;
    self->disk_full = true;
    atomic_store(&self->stats->disk_full, 1);
    snprintf(self->disk_full_why, sizeof self->disk_full_why,
             "the disk holding %s is full (%s); appends resume once space is freed",
             store_dir(self->store), err);
    log_error("disk full: %s; appends are answered `internal` until space is freed (tried again "
              "every %d ms)",
              err, DISK_FULL_PROBE_MS);
}

static void
disk_full_leave(writer_t *self)
{
    self->disk_full = false;
    atomic_store(&self->stats->disk_full, 0);
    log_info("disk space is back: appends resume");
}

/* Whether a group can be refused whole without being applied: nothing in
   it but appends, commands that allow it (ticks: CMD_REFUSABLE) and
   requests already answered with an error. */
static bool
refusable(const group_t *g)
{
    for (size_t k = 0; k < g->npending; k++) {
        const pending_t *p = &g->pending[k];
        if (p->rc == WIRE_OK && p->req.op != OP_APPEND && !(command_flags(p) & CMD_REFUSABLE))
            return false;
    }
    return true;
}

/* While the disk is full: answer every append of g `internal`, with why. */
static void
refuse_for_disk(writer_t *self, group_t *g)
{
    group_fail(g, self->disk_full_why);
    g->committed = false;
    g->last_seq = store_last_seq(self->store);
    hand_back(self, g);
}

/* The commit of the group in hand has returned (or, with wait, once it
   returns): settle its duplicate inserts, or undo everything past the
   durable log on a failure; then answer it. Returns 1 (committed), -1
   (failed: a group applied meanwhile was undone too and must be applied
   again), or 0 if no job was in hand or it is still running. */
static int
finish_inflight(writer_t *self, bool wait)
{
    if (!self->inflight)
        return 0;
    commit_job_t *j = self->commit_ops->reap(self->committer, wait);
    if (!j)
        return 0;
    group_t *g = self->inflight;
    self->inflight = NULL;
    if (j->after) { /* it stored a snapshot chunk too */
        if (j->rc == STORE_OK && j->after_rc != STORE_OK)
            log_warn("projection snapshot not stored: %s", j->after_err);
        atomic_store(&self->stats->map_size, store_map_size(self->store));
    }
    if (j->rc == STORE_OK) {
        dedup_settle(self->dedup, self->inflight_mark);
        if (j->n) /* a group of errors and duplicates appends nothing */
            atomic_fetch_add_explicit(&self->stats->commits, 1, memory_order_relaxed);
        published_durable(self, g, j);
        self->failures = 0;
        if (self->disk_full)
            disk_full_leave(self);
        g->committed = true;
        g->recorded_at = j->recorded_at;
        g->last_seq = j->first_seq + j->n - 1;
        run_after_commit(self, g);
    } else {
        atomic_fetch_add_explicit(&self->stats->commit_failures, 1, memory_order_relaxed);
        undo_to_durable(self);
        if (j->rc == STORE_DISK_FULL) {
            disk_full_enter(self, j->err);
            fail_group(self, g, self->disk_full_why);
        } else
            fail_group(self, g, j->err);
    }
    double took = log_clock_ms() - self->inflight_t0;
    /* a rebuild is slow by nature and logs its own time */
    if (took > self->slow_ms && !drains(g))
        log_info("slow group: %zu events in %.0f ms (snapshot %.0f, index growth %.0f, apply "
                 "%.0f, map growth %.0f, put %.0f, commit %.0f, snapshot chunk %.0f; the rest "
                 "waiting for the group before)",
                 g->nevents, took, self->inflight_ms[T_SNAPSHOT], self->inflight_ms[T_RESERVE],
                 self->inflight_ms[T_APPLY], j->ms_room, j->ms_put, j->ms_commit, j->ms_after);
    hand_back(self, g);
    return j->rc == STORE_OK ? 1 : -1;
}

/* No job in hand, so the projection is the durable log's: fork a due
   snapshot child, store a chunk of a finished one, and let queries in. */
static void
at_durable_point(writer_t *self)
{
    assert(!self->inflight);
    if (!self->locked) {
        projector_write_lock(self->projector);
        self->locked = true;
    }
    projector_snapshot_start(self->projector, false);
    projector_unlock(self->projector); /* waiting queries go first */
    self->locked = false;
    collect_snapshot(self);
}

/* Whether to wait for the commit in hand before folding another group: a
   snapshot is forked only from the durable log. (A finished snapshot's
   chunks need no wait: they go with the commit jobs.) */
static bool
must_drain(writer_t *self, bool rebuild)
{
    if (rebuild || projector_readers_waiting(self->projector))
        return true;
    /* (while the job in hand stores a chunk, the commit thread has the
       snapshot state; and nothing is due while one is being stored) */
    return !self->job.after && projector_snapshot_due(self->projector);
}

/* A commit job's `after`: the next chunk of a finished snapshot. */
static int
store_chunk(void *arg, char *err, size_t errlen)
{
    writer_t *self = arg;
    return projector_snapshot_store_chunk(self->projector, err, errlen);
}

/* One group: apply it (while the group before it commits), then hand it
   to the commit thread. */
static void
process_group(writer_t *self, group_t *g)
{
    char err[512];
    memset(self->ms, 0, sizeof self->ms);
    double t0 = log_clock_ms();
    bool rebuild = drains(g);
    if (self->inflight && must_drain(self, rebuild))
        finish_inflight(self, true);
    if (!self->inflight)
        at_durable_point(self);
    if (self->disk_full && !self->inflight && log_clock_ms() < self->next_probe_ms &&
        refusable(g)) {
        refuse_for_disk(self, g);
        return;
    }
    self->ms[T_SNAPSHOT] = log_clock_ms() - t0;
    if (!self->locked) {
        projector_write_lock(self->projector);
        self->locked = true;
    }
    int64_t recorded_at = now_ms();
    if (recorded_at < self->last_recorded_at)
        recorded_at = self->last_recorded_at;
    for (;;) {
        apply_t rc = apply_group(self, g, recorded_at, err, sizeof err);
        if (rc == APPLIED && finish_inflight(self, true) < 0) {
            /* applied on top of a group that failed, and undone with it */
            if (self->disk_full && refusable(g)) {
                group_reset(g);
                refuse_for_disk(self, g);
                return;
            }
            log_info("applying a group of %zu events again: the commit before it failed",
                     g->nevents);
            group_reset(g);
            continue;
        }
        if (rc == APPLIED)
            break;
        /* Again or failure: back to the durable log first. */
        finish_inflight(self, true);
        undo_to_durable(self);
        group_reset(g);
        if (rc == APPLY_AGAIN)
            continue;
        fail_group(self, g, err);
        hand_back(self, g);
        return;
    }
    /* No job is in hand here (the loop above waited for it): the group
       must start right after the durable log, and its inserts be the only
       unsettled ones. The commit step would refuse records at other seqs,
       but the index would keep naming them: a broken invariant is answered
       `internal` and undone here, with the figures that tell what broke. */
    uint64_t durable = store_last_seq(self->store);
    if (self->next_seq - self->nlinks != durable + 1 || dedup_mark(self->dedup) != self->nlinks) {
        snprintf(err, sizeof err,
                 "the writer left the durable log: a group of %zu events applied from seq %llu "
                 "with %zu unsettled ids, and the log ends at seq %llu",
                 self->nlinks, (unsigned long long)(self->next_seq - self->nlinks),
                 dedup_mark(self->dedup), (unsigned long long)durable);
        undo_to_durable(self);
        group_reset(g);
        fail_group(self, g, err);
        hand_back(self, g);
        return;
    }
    self->last_recorded_at = recorded_at;
    commit_job_t *j = &self->job;
    *j = (commit_job_t){.links = self->buf[self->cur].links,
                        .n = self->nlinks,
                        .first_seq = self->next_seq - self->nlinks,
                        .recorded_at = recorded_at,
                        .outbox = &g->outbox};
    /* Room for twice the group's records and their ids, plus the headroom
       (a snapshot chunk, the id blocks, ...): growing the map is only
       possible between transactions. */
    if (self->headroom)
        j->room = 2 * (g->canon.size + 64 * g->nevents) + self->headroom;
    /* A finished snapshot is stored a chunk per job, after its commit, so
       the writer goes on applying groups meanwhile. */
    projector_snapshot_poll(self->projector);
    if (projector_snapshot_busy(self->projector) == 2) {
        j->after = store_chunk;
        j->after_arg = self;
    }
    self->inflight = g;
    self->inflight_active = alerter_active(self->alerter);
    self->inflight_mark = dedup_mark(self->dedup);
    self->inflight_t0 = t0;
    memcpy(self->inflight_ms, self->ms, sizeof self->ms);
    self->cur ^= 1;
    self->commit_ops->submit(self->committer, j);
    /* A rebuild folds the log again: nothing may be applied past it. */
    if (rebuild)
        finish_inflight(self, true);
}

int
writer_snapshot(writer_t *self)
{
    char err[512];
    projector_write_lock(self->projector);
    int rc = projector_write_snapshot(self->projector, err, sizeof err);
    if (rc == STORE_OK)
        atomic_store(&self->stats->map_size, store_map_size(self->store));
    projector_unlock(self->projector);
    if (rc != STORE_OK)
        log_warn("projection snapshot not written: %s", err);
    return rc;
}

int
writer_run(writer_t *self, volatile int *stop)
{
    char err[256];
    intake_options_t io = {self->auth, self->tick_ms, alerter_last_aseq(self->alerter),
                           store_last_seq(self->store)};
    intake_t *intake =
        intake_start(self->router, self->pub, self->intake_pipe, self->stats, &io, err, sizeof err);
    if (!intake) {
        log_error("%s", err);
        return -1;
    }
    int rc = 0;
    bool stop_sent = false;
    for (;;) {
        /* Once asked to stop, the intake thread hands over what it has
           read, waits for every group to come back, then sends NULL. */
        if (!stop_sent && (*stop || rc != 0)) {
            if (!group_send(self->pipe, NULL)) {
                log_error("stopping the intake thread: %s", zmq_strerror(errno));
                rc = -1;
                break;
            }
            stop_sent = true;
        }
        atomic_store_explicit(&self->stats->writer_alive_ms, (int64_t)log_clock_ms(),
                              memory_order_relaxed);
        if (!self->inflight && self->locked)
            at_durable_point(self);
        zmq_pollitem_t items[2] = {{self->pipe, 0, ZMQ_POLLIN, 0},
                                   {NULL, self->commit_ops->fd(self->committer), ZMQ_POLLIN, 0}};
        /* While a snapshot is being stored, idle time goes to its chunks. */
        static const long timeout[] = {1000, 50, 0};
        long wait = self->inflight ? 1000 : timeout[projector_snapshot_busy(self->projector)];
        int n = zmq_poll(items, self->inflight ? 2 : 1, wait);
        if (n < 0 && errno != EINTR) {
            log_error("polling the writer's pipe: %s", zmq_strerror(errno));
            rc = -1;
            break;
        }
        if (n <= 0) {
            if (!self->inflight)
                collect_snapshot(self); /* an idle daemon stores it too */
            continue;
        }
        if (self->inflight && (items[1].revents & ZMQ_POLLIN))
            finish_inflight(self, false);
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        group_t *g;
        if (zmq_recv(self->pipe, &g, sizeof g, ZMQ_DONTWAIT) != (int)sizeof g)
            continue;
        if (!g) {
            if (!stop_sent) { /* the intake thread failed */
                log_error("the intake thread stopped");
                rc = -1;
            }
            break;
        }
        process_group(self, g);
        /* A store failure is answered (nothing acknowledged); repeated ones
           mean the disk or the environment is broken: stop and say so. A
           full disk is waited out instead: it heals when space is freed. */
        if (self->failures >= 10 && rc == 0 && !self->disk_full) {
            log_error("10 consecutive groups failed; stopping");
            rc = -1;
        }
        if (self->broken) {
            rc = -1;
            break;
        }
    }
    finish_inflight(self, true);
    if (self->locked) {
        projector_unlock(self->projector);
        self->locked = false;
    }
    intake_join(&intake);
    return rc;
}
