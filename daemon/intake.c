/*  intake: see intake.h for how it shares the work with the writer.

    Four groups circulate: up to two with the writer (one it applies while
    the one before it commits, see daemon/writer), the one being filled
    here, and the free ones. A group goes to the writer as soon as it holds
    fewer than two; a committed group comes back, the filled one goes out
    at once, and the committed one is answered, released and becomes a free
    one. */

#define _GNU_SOURCE /* pthread_setname_np */
#include "daemon/intake.h"

#include "daemon/command.h"
#include "daemon/group.h"
#include "daemon/log.h"
#include "events/utf8.h"
#include "events/wire.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define INTAKE_GROUPS 4
#define WRITER_HOLDS  2 /* groups the writer may hold at once */
/* A second group goes to the writer while it commits the first only if it
   has this many events: a small one would cost a commit (an fsync) of its
   own for a few events, where waiting lets it grow during that commit. */
#define PIPELINE_MIN_EVENTS 256

struct _intake_t {
    void *router, *pub, *pipe;
    auth_t *auth;
    writer_stats_t *stats;
    pthread_t thread;
    group_t *groups[INTAKE_GROUPS];
    group_t *filling;
    group_t *free[INTAKE_GROUPS];
    int nfree;
    int held;      /* groups the writer holds */
    bool stopping; /* the writer asked us to stop */
    long subscriptions;
    msgpack_sbuffer out;
    /* the alert timer (an internal tick request every tick_ms; 0: off)
       and the heartbeat, once a second */
    int64_t tick_ms, next_tick, next_heartbeat;
    bool tick_queued; /* an internal tick is in a group not answered yet */
    uint64_t last_aseq, last_seq;
    bool flush_queued; /* an internal progress flush is in a group not answered yet */
};

#define HEARTBEAT_MS 1000

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Give the writer the filled group, if it can take one and there is one. */
static bool
hand_off(intake_t *self)
{
    if (self->held >= WRITER_HOLDS || self->filling->npending == 0 || self->nfree == 0 ||
        (self->held > 0 && self->filling->nevents < PIPELINE_MIN_EVENTS))
        return false;
    if (!group_send(self->pipe, self->filling)) {
        log_error("handing a group to the writer: %s", zmq_strerror(errno));
        return false;
    }
    self->held++;
    self->filling = self->free[--self->nfree];
    return true;
}

static bool
filling_full(const intake_t *self)
{
    return self->filling->npending >= GROUP_MAX_REQS || self->filling->nevents >= GROUP_MAX_EVENTS;
}

static int
send_reply(intake_t *self, pending_t *p)
{
    zmq_msg_t delim, body;
    zmq_msg_init(&delim);
    if (zmq_msg_init_size(&body, self->out.size) != 0)
        return -1;
    memcpy(zmq_msg_data(&body), self->out.data, self->out.size);
    /* ROUTER drops a reply to a peer that has gone; that is fine. */
    if (zmq_msg_send(&p->ident, self->router, ZMQ_SNDMORE) < 0 ||
        zmq_msg_send(&delim, self->router, ZMQ_SNDMORE) < 0 ||
        zmq_msg_send(&body, self->router, 0) < 0) {
        zmq_msg_close(&delim);
        zmq_msg_close(&body);
        return -1;
    }
    return 0;
}

static void
reply_all(intake_t *self, group_t *g)
{
    for (size_t k = 0; k < g->npending; k++) {
        pending_t *p = &g->pending[k];
        uint64_t counts[3];
        bool ok = group_pack_reply(g, p, &self->out, counts);
        if (p->from != PENDING_CLIENT) { /* answered to nobody */
            if (p->from == PENDING_FLUSH)
                self->flush_queued = false;
            else
                self->tick_queued = false;
            if (!ok)
                log_warn("alert tick not committed: %s", p->message);
            continue;
        }
        /* counted before the reply goes out: a client that asks for the
           status after its reply must see its request counted */
        atomic_fetch_add_explicit(&self->stats->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->stats->appended, counts[0], memory_order_relaxed);
        atomic_fetch_add_explicit(&self->stats->duplicates, counts[1], memory_order_relaxed);
        atomic_fetch_add_explicit(&self->stats->rejected, counts[2], memory_order_relaxed);
        if (!ok)
            atomic_fetch_add_explicit(&self->stats->bad_requests, 1, memory_order_relaxed);
        /* observed before the reply goes out too, as the counters are: a
           client scraping the metrics after its reply sees its latency */
        histogram_observe(&self->stats->ack_latency, (uint64_t)(mono_us() - p->received_us));
        if (send_reply(self, p) != 0)
            log_debug("reply not sent: %s", zmq_strerror(errno));
    }
}

/* The publish socket is an XPUB: it hands us each new subscription (first
   byte 1) and each one that ends (0; also when a subscriber goes away).
   While nobody subscribes, publishing is skipped: it would only be
   encoded to be dropped. */
static void
track_subscriptions(intake_t *self)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, self->pub, ZMQ_DONTWAIT) >= 0) {
        const uint8_t *d = zmq_msg_data(&m);
        size_t n = zmq_msg_size(&m);
        /* would this subscription receive progress/ topics? */
        bool progress = n >= 1 && memcmp(d + 1, "progress/", n - 1 < 9 ? n - 1 : 9) == 0;
        if (n >= 1 && d[0] == 1) {
            self->subscriptions++;
            if (progress)
                atomic_fetch_add(&self->stats->progress_subscribers, 1);
        } else if (n >= 1 && d[0] == 0 && self->subscriptions > 0) {
            self->subscriptions--;
            if (progress && atomic_load(&self->stats->progress_subscribers) > 0)
                atomic_fetch_sub(&self->stats->progress_subscribers, 1);
        }
    }
    zmq_msg_close(&m);
    atomic_store_explicit(&self->stats->subscriptions, self->subscriptions, memory_order_relaxed);
}

/* The group's progress rows (the writer sends each key's at most once a
   second). */
static void
publish_progress(intake_t *self, group_t *g)
{
    if (!g->committed || !self->pub)
        return;
    for (size_t i = 0; i < g->progress.nrecs; i++) {
        const outbox_rec_t *r = &g->progress.recs[i];
        if (zmq_send(self->pub, outbox_batch_at(&g->progress, r->topic_off), r->topic_len,
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(self->pub, outbox_batch_at(&g->progress, r->rec_off), r->rec_len,
                     ZMQ_DONTWAIT) < 0)
            log_debug("progress update dropped: %s", zmq_strerror(errno));
    }
}

/* Publish each newly appended event: topic frame "event/<type>/", then
   {"seq", "recorded_at", "event"} with the stored bytes spliced in. */
static void
publish_all(intake_t *self, group_t *g)
{
    if (!self->pub || !g->committed)
        return;
    track_subscriptions(self);
    if (self->subscriptions == 0)
        return;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
    char topic[64];
    for (size_t k = 0; k < g->npending; k++) {
        pending_t *p = &g->pending[k];
        if (!group_appends_events(p))
            continue;
        for (uint32_t i = 0; i < p->nresults; i++) {
            ev_result_t *r = &p->results[i];
            if (r->status != R_APPENDED)
                continue;
            int tn = snprintf(topic, sizeof topic, "event/%s/", ev_type_name(r->type));
            msgpack_sbuffer_clear(&self->out);
            int rc = msgpack_pack_map(&pk, p->principal_len ? 4 : 3);
            if (p->principal_len) {
                rc |= wire_pack_str(&pk, "principal");
                rc |= msgpack_pack_str_with_body(&pk, p->principal, p->principal_len);
            }
            rc |= wire_pack_str(&pk, "seq");
            rc |= msgpack_pack_uint64(&pk, r->seq);
            rc |= wire_pack_str(&pk, "recorded_at");
            rc |= msgpack_pack_int64(&pk, g->recorded_at);
            rc |= wire_pack_str(&pk, "event");
            rc |= msgpack_sbuffer_write(&self->out, (const char *)group_canon(g, r), r->canon_len);
            if (rc != 0) /* a truncated record would reach subscribers as malformed */
                log_warn("publish of seq %llu dropped: out of memory", (unsigned long long)r->seq);
            else if (zmq_send(self->pub, topic, (size_t)tn, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                     zmq_send(self->pub, self->out.data, self->out.size, ZMQ_DONTWAIT) < 0)
                log_debug("publish of seq %llu dropped: %s", (unsigned long long)r->seq,
                          zmq_strerror(errno));
        }
    }
}

/* heartbeat/ {"aseq", "seq", "at"}: lets a subscriber notice alerts it
   missed (docs/PROTOCOL.md, "Receiving every alert exactly once"). */
static void
publish_heartbeat(intake_t *self)
{
    self->next_heartbeat = mono_ms() + HEARTBEAT_MS;
    if (!self->pub || self->subscriptions == 0)
        return;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&self->out);
    msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 4);
    rc |= wire_pack_str(&pk, "epoch");
    rc |= msgpack_pack_uint64(&pk, outbox_epoch());
    rc |= wire_pack_str(&pk, "aseq");
    rc |= msgpack_pack_uint64(&pk, self->last_aseq);
    rc |= wire_pack_str(&pk, "seq");
    rc |= msgpack_pack_uint64(&pk, self->last_seq);
    rc |= wire_pack_str(&pk, "at");
    rc |= msgpack_pack_int64(&pk, wall_ms());
    if (rc != 0)
        log_warn("heartbeat dropped: out of memory");
    else if (zmq_send(self->pub, "heartbeat/", 10, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
             zmq_send(self->pub, self->out.data, self->out.size, ZMQ_DONTWAIT) < 0)
        log_debug("heartbeat dropped: %s", zmq_strerror(errno));
}

/* Each alert the group raised, on its topic, after the commit. */
static void
publish_alerts(intake_t *self, group_t *g)
{
    if (!g->committed)
        return;
    if (g->last_aseq > self->last_aseq)
        self->last_aseq = g->last_aseq;
    if (g->last_seq > self->last_seq)
        self->last_seq = g->last_seq;
    if (!self->pub || !g->outbox.nrecs)
        return;
    track_subscriptions(self);
    if (self->subscriptions == 0)
        return;
    for (size_t i = 0; i < g->outbox.nrecs; i++) {
        const outbox_rec_t *r = &g->outbox.recs[i];
        if (zmq_send(self->pub, outbox_batch_at(&g->outbox, r->topic_off), r->topic_len,
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(self->pub, outbox_batch_at(&g->outbox, r->rec_off), r->rec_len, ZMQ_DONTWAIT) <
                0)
            log_debug("publish of alert %llu dropped: %s", (unsigned long long)r->aseq,
                      zmq_strerror(errno));
    }
    publish_heartbeat(self);
}

/* The intake thread's own tick request, into the group being filled. */
static void
queue_tick(intake_t *self)
{
    self->next_tick = mono_ms() + self->tick_ms;
    group_t *g = self->filling;
    if (self->tick_queued || self->stopping || g->npending >= GROUP_MAX_REQS)
        return;
    pending_t *p = &g->pending[g->npending++];
    zmq_msg_init(&p->ident);
    zmq_msg_init(&p->body);
    p->rc = WIRE_OK;
    p->req.op = OP_TICK;
    p->from = PENDING_TICK;
    command_attach(p);
    self->tick_queued = true;
    hand_off(self);
}

/* Once a second while someone listens to progress/: an internal request
   that has the writer send the progress rows that waited for their second
   (daemon/alerter). It commits nothing unless the group has more in it. */
static void
queue_flush(intake_t *self)
{
    group_t *g = self->filling;
    if (self->flush_queued || self->stopping || g->npending >= GROUP_MAX_REQS)
        return;
    pending_t *p = &g->pending[g->npending++];
    zmq_msg_init(&p->ident);
    zmq_msg_init(&p->body);
    p->rc = WIRE_OK;
    p->req.op = OP_TICK;
    p->from = PENDING_FLUSH;
    command_attach(p);
    self->flush_queued = true;
    hand_off(self);
}

/* A group came back from the writer: hand over the next one before
   answering this one, so the writer is not kept waiting. */
static void
take_back(intake_t *self, group_t *g)
{
    self->held--;
    hand_off(self);
    reply_all(self, g);
    publish_all(self, g);
    publish_alerts(self, g);
    publish_progress(self, g);
    group_release(g);
    self->free[self->nfree++] = g;
}

/* Read whatever the writer sent, without waiting. */
static void
read_pipe(intake_t *self)
{
    group_t *g;
    int n;
    while ((n = zmq_recv(self->pipe, &g, sizeof g, ZMQ_DONTWAIT)) >= 0 || errno == EINTR) {
        if (n != (int)sizeof g)
            continue;
        if (g)
            take_back(self, g);
        else
            self->stopping = true;
    }
}

/* Drop the rest of a multipart message that has the wrong shape. */
static void
drain_frames(void *socket, zmq_msg_t *msg)
{
    while (zmq_msg_more(msg)) {
        zmq_msg_close(msg);
        zmq_msg_init(msg);
        if (zmq_msg_recv(msg, socket, 0) < 0)
            break;
    }
    zmq_msg_close(msg);
}

/* With authentication on: who sent p, and whether their role may run its
   op (an append's event types are checked once it is prepared). */
static void
authorize(intake_t *self, pending_t *p)
{
    p->role = auth_identify(self->auth, &p->body, p->principal, sizeof p->principal);
    auth_role_t needs = auth_op_needs(p->req.op, WIRE_ON_APPEND);
    if (!auth_role_has(p->role, needs)) {
        char what[48];
        snprintf(what, sizeof what, "%.*s", (int)(p->req.op_len > 40 ? 40 : p->req.op_len),
                 p->req.op_name);
        p->rc = WIRE_FORBIDDEN;
        auth_forbidden(p->role, p->principal, what, needs, p->message, sizeof p->message);
        return;
    }
    p->principal_len = (uint8_t)strlen(p->principal);
}

/* A prepared append: refused whole if the role may not append the type of
   one of its events. */
static void
authorize_events(pending_t *p)
{
    for (uint32_t i = 0; i < p->nresults; i++) {
        const ev_result_t *r = &p->results[i];
        if (r->prepared != R_VALID || auth_may_append(p->role, r->type))
            continue;
        char what[160], quoted[4 * 48 + 1];
        snprintf(what, sizeof what, "append %s events (event %u, id \"%s\")", ev_type_name(r->type),
                 i, ev_escape(r->id, r->id_len > 48 ? 48 : r->id_len, quoted, sizeof quoted));
        p->rc = WIRE_FORBIDDEN;
        auth_forbidden(p->role, p->principal, what, auth_event_needs(r->type), p->message,
                       sizeof p->message);
        return;
    }
}

/* Receive one request without blocking. 1: got one into p; 0: none
   waiting; -1: a malformed frame sequence was dropped. */
static int
receive_request(intake_t *self, pending_t *p)
{
    zmq_msg_init(&p->ident);
    if (zmq_msg_recv(&p->ident, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&p->ident);
        return 0;
    }
    zmq_msg_t delim;
    zmq_msg_init(&delim);
    zmq_msg_init(&p->body);
    bool shaped = zmq_msg_more(&p->ident) && zmq_msg_recv(&delim, self->router, 0) >= 0 &&
                  zmq_msg_size(&delim) == 0 && zmq_msg_more(&delim) &&
                  zmq_msg_recv(&p->body, self->router, 0) >= 0 && !zmq_msg_more(&p->body);
    if (!shaped) {
        log_debug("dropped a request that is not [empty frame][body]");
        drain_frames(self->router, zmq_msg_more(&p->body) ? &p->body : &delim);
        zmq_msg_close(&delim);
        zmq_msg_close(&p->body);
        zmq_msg_close(&p->ident);
        atomic_fetch_add_explicit(&self->stats->bad_requests, 1, memory_order_relaxed);
        return -1;
    }
    zmq_msg_close(&delim);
    p->received_us = mono_us();
    p->rc = wire_request_parse(&p->req, zmq_msg_data(&p->body), zmq_msg_size(&p->body), p->message,
                               sizeof p->message);
    if (self->auth && p->rc == WIRE_OK)
        authorize(self, p);
    return 1;
}

/* Receive and prepare every request waiting, up to the group limits. The
   writer gets the group as soon as it is idle. */
static void
receive_all(intake_t *self)
{
    while (!filling_full(self) && !self->stopping) {
        group_t *g = self->filling;
        pending_t *p = &g->pending[g->npending];
        int got = receive_request(self, p);
        if (got == 0)
            break;
        if (got < 0)
            continue;
        if (p->rc == WIRE_OK && p->req.op == OP_APPEND) {
            group_prepare(g, p);
            if (self->auth && p->role != AUTH_ADMIN)
                authorize_events(p);
            g->nevents += p->req.nevents;
        } else if (p->rc == WIRE_OK)
            command_attach(p); /* allocate, rebuild, tick (daemon/command) */
        g->npending++;
        if (self->held)
            read_pipe(self);
        hand_off(self);
    }
}

static void *
intake_run(void *arg)
{
    intake_t *self = arg;
    pthread_setname_np(pthread_self(), "pacerd-intake");
    for (;;) {
        if (self->stopping && !self->held) {
            if (hand_off(self)) /* what was read before the stop */
                continue;
            if (!group_send(self->pipe, NULL))
                log_error("telling the writer to stop: %s", zmq_strerror(errno));
            break;
        }
        /* the ROUTER is left out while nothing more may be read */
        bool reading = !self->stopping && !filling_full(self);
        zmq_pollitem_t items[3] = {{self->pipe, 0, ZMQ_POLLIN, 0}};
        int n = 1, at_router = -1, at_pub = -1;
        if (reading)
            items[at_router = n++] = (zmq_pollitem_t){self->router, 0, ZMQ_POLLIN, 0};
        if (self->pub)
            items[at_pub = n++] = (zmq_pollitem_t){self->pub, 0, ZMQ_POLLIN, 0};
        int64_t t = mono_ms(), wake = self->next_heartbeat;
        if (self->tick_ms && self->next_tick < wake)
            wake = self->next_tick;

        long timeout = wake > t ? (long)(wake - t) : 0;
        if (zmq_poll(items, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_error("polling the append socket: %s", zmq_strerror(errno));
            group_send(self->pipe, NULL); /* the writer stops too */
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            read_pipe(self);
        if (at_pub >= 0 && (items[at_pub].revents & ZMQ_POLLIN))
            track_subscriptions(self);
        t = mono_ms();
        if (t >= self->next_heartbeat) {
            publish_heartbeat(self);
            if (atomic_load_explicit(&self->stats->progress_subscribers, memory_order_relaxed) > 0)
                queue_flush(self);
        }
        /* a new day's sweep goes on tick after tick (daemon/alerter.h) */
        if (self->tick_ms && (t >= self->next_tick || atomic_load(&self->stats->alerts_behind)))
            queue_tick(self);
        if (at_router >= 0 && (items[at_router].revents & ZMQ_POLLIN))
            receive_all(self);
    }
    return NULL;
}

intake_t *
intake_start(void *router, void *pub, void *pipe, writer_stats_t *stats,
             const intake_options_t *options, char *err, size_t errlen)
{
    intake_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->router = router;
    self->pub = pub;
    self->pipe = pipe;
    self->auth = options->auth;
    self->stats = stats;
    self->tick_ms = options->tick_ms;
    self->last_aseq = options->last_aseq;
    self->last_seq = options->last_seq;
    self->next_tick = mono_ms() + (self->tick_ms ? self->tick_ms : 0);
    self->next_heartbeat = mono_ms() + HEARTBEAT_MS;
    msgpack_sbuffer_init(&self->out);
    for (int i = 0; i < INTAKE_GROUPS; i++)
        if (!(self->groups[i] = group_new())) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    self->filling = self->groups[0];
    for (int i = 1; i < INTAKE_GROUPS; i++)
        self->free[self->nfree++] = self->groups[i];
    int rc = pthread_create(&self->thread, NULL, intake_run, self);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the intake thread: %s", strerror(rc));
        goto fail;
    }
    return self;
fail:
    for (int i = 0; i < INTAKE_GROUPS; i++)
        group_destroy(&self->groups[i]);
    msgpack_sbuffer_destroy(&self->out);
    free(self);
    return NULL;
}

void
intake_join(intake_t **self_p)
{
    intake_t *self = *self_p;
    if (!self)
        return;
    pthread_join(self->thread, NULL);
    for (int i = 0; i < INTAKE_GROUPS; i++)
        group_destroy(&self->groups[i]);
    msgpack_sbuffer_destroy(&self->out);
    free(self);
    *self_p = NULL;
}
