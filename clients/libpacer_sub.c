/*  libpacer_sub: every alert exactly once, in order, across gaps and restarts.

    The state is three numbers and a queue:

      considered  every aseq up to it has been queued for the application
                  or is known not to be one of its prefixes;
      delivered   the aseq of the last alert handed over (or the starting
                  cursor); delivered <= considered, and they are equal
                  whenever the queue is empty;
      horizon     the highest aseq known to exist (from heartbeats and
                  from alerts that arrived out of turn).

    A catch-up query is wanted while horizon > considered (a gap), while
    must_fetch is set (at start from a given cursor, and while a reply says
    there is more), and until a subscriber started "now" has learnt the
    newest aseq (resolved). At most one query is in flight; while it is,
    considered moves only when its reply comes, and published alerts only
    raise the horizon, so the reply and the live stream can never both
    queue the same aseq. The queue holds alerts in strictly increasing
    aseq order, all above `delivered`: that is the whole exactly-once
    argument, and the asserts in queue_push keep it honest.

    pacer_sub_recv is one poll loop over the SUB and, while a query is in
    flight, the DEALER. Every wait is bounded by the caller's deadline, the
    in-flight query's deadline and the time the next query is due, so the
    loop neither spins nor oversleeps. */

#include "clients/libpacer_sub.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <zmq.h>

#include "clients/libpacer_private.h"
#include "events/wire.h"

#define HEARTBEAT_TOPIC  "heartbeat/"
#define ALERT_TOPIC      "alert/"
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000
/* Published messages read per turn of the loop before looking at the
   DEALER and the clock again. */
#define DRAIN_MAX 4096
/* Published messages a SUB holds for an application busy elsewhere (notify
   retrying a web hook) before ZeroMQ drops them; what it drops is read back. */
#define SUB_RCVHWM 10000

struct _pacer_sub_t {
    void *ctx;
    void *sub;
    void *dealer;
    char *publish_endpoint;
    char *query_endpoint;
    char **prefixes;
    size_t prefix_count;
    bool started;

    bool resolved; /* false until a "now" subscriber knows the newest aseq */
    uint64_t considered;
    uint64_t delivered;
    uint64_t horizon;
    bool must_fetch;
    /* The outbox epoch the numbers above belong to; 0 until pacerd (or
       pacer_sub_set_epoch) names one. inflight_stale: the epoch changed
       while a query was in flight, so its answer counts from a cursor of
       the old epoch and is dropped. */
    uint64_t epoch;
    bool inflight_stale;

    pacer_alert_t **queue; /* alerts to hand over, queue[head..count) */
    size_t head, count, cap;

    bool inflight;
    bool inflight_resolve;
    uint64_t inflight_corr;
    uint64_t inflight_from;
    size_t inflight_limit;
    int64_t inflight_deadline;
    uint64_t next_corr;
    int query_timeout_ms;
    size_t page_size;
    int64_t query_due;
    int backoff_ms;
    int stall_rc; /* why the last query failed; PACER_OK once one succeeds */
    char stall_error[768];

    char error[1024];
    pacer_sub_stats_t stats;

    /* authentication (libpacer_curve.c) */
    bool secure;
    pacer_curve_t curve;
    pacer_watch_t sub_watch, dealer_watch;
    char setup_error[512]; /* keys from the environment that did not load */
};

static int fail(pacer_sub_t *self, int rc, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(pacer_sub_t *self, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->error, sizeof self->error, format, args);
    va_end(args);
    return rc;
}

/* ---- sockets ----------------------------------------------------------------- */

/* The SUB (with its queue bound and the heartbeats subscribed) or the
   DEALER. */
static void *
socket_new(pacer_sub_t *self, int type, const char *endpoint, pacer_watch_t *watch)
{
    int hwm = SUB_RCVHWM;
    const pacer_sockopt_t sub_options[] = {
        {ZMQ_RCVHWM, &hwm, sizeof hwm},
        {ZMQ_SUBSCRIBE, HEARTBEAT_TOPIC, strlen(HEARTBEAT_TOPIC)},
    };
    return pacer_socket_connect(self->ctx, type, endpoint, self->secure ? &self->curve : NULL,
                                watch, sub_options,
                                type == ZMQ_SUB ? sizeof sub_options / sizeof sub_options[0] : 0);
}

pacer_sub_t *
pacer_sub_new(const char *publish_endpoint, const char *query_endpoint)
{
    pacer_curve_t curve;
    char why[512];
    int found = pacer_curve_from_env(&curve, why, sizeof why);
    pacer_sub_t *self =
        pacer_sub_new_curve(publish_endpoint, query_endpoint, found == 1 ? &curve : NULL);
    if (self && found < 0)
        snprintf(self->setup_error, sizeof self->setup_error, "%s", why);
    return self;
}

pacer_sub_t *
pacer_sub_new_curve(const char *publish_endpoint, const char *query_endpoint,
                    const pacer_curve_t *curve)
{
    pacer_sub_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->next_corr = 1;
    self->query_timeout_ms = PACER_SUB_DEFAULT_QUERY_TIMEOUT_MS;
    self->page_size = PACER_SUB_DEFAULT_PAGE_SIZE;
    self->backoff_ms = BACKOFF_FIRST_MS;
    self->delivered = self->considered = 0;
    self->resolved = false; /* PACER_SUB_NOW until set otherwise */
    if (curve) {
        self->secure = true;
        self->curve = *curve;
    }
    self->publish_endpoint =
        strdup(publish_endpoint ? publish_endpoint : PACER_DEFAULT_PUBLISH_ENDPOINT);
    self->query_endpoint = strdup(query_endpoint ? query_endpoint : PACER_DEFAULT_QUERY_ENDPOINT);
    self->ctx = zmq_ctx_new();
    if (!self->publish_endpoint || !self->query_endpoint || !self->ctx) {
        pacer_sub_destroy(&self);
        errno = ENOMEM;
        return NULL;
    }
    self->sub = socket_new(self, ZMQ_SUB, self->publish_endpoint, &self->sub_watch);
    if (self->sub)
        self->dealer = socket_new(self, ZMQ_DEALER, self->query_endpoint, &self->dealer_watch);
    if (!self->sub || !self->dealer) {
        int saved = errno;
        pacer_sub_destroy(&self);
        errno = saved;
        return NULL;
    }
    return self;
}

void
pacer_sub_destroy(pacer_sub_t **self_p)
{
    assert(self_p);
    pacer_sub_t *self = *self_p;
    if (!self)
        return;
    pacer_socket_close(&self->sub, &self->sub_watch);
    pacer_socket_close(&self->dealer, &self->dealer_watch);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    for (size_t i = self->head; i < self->count; i++)
        pacer_alert_destroy(&self->queue[i]);
    free(self->queue);
    for (size_t i = 0; i < self->prefix_count; i++)
        free(self->prefixes[i]);
    free(self->prefixes);
    free(self->publish_endpoint);
    free(self->query_endpoint);
    free(self);
    *self_p = NULL;
}

int
pacer_sub_subscribe(pacer_sub_t *self, const char *prefix)
{
    assert(self);
    if (self->started)
        return fail(self, PACER_EINVAL, "pacer_sub_subscribe after the first pacer_sub_recv");
    if (!prefix || strncmp(prefix, ALERT_TOPIC, strlen(ALERT_TOPIC)) != 0)
        return fail(self, PACER_EINVAL, "an alert prefix starts with \"alert/\"");
    if (strlen(prefix) > PACER_SUB_PREFIX_MAX_BYTES)
        return fail(self, PACER_EINVAL, "a prefix is at most %d bytes", PACER_SUB_PREFIX_MAX_BYTES);
    if (self->prefix_count == PACER_SUB_MAX_PREFIXES)
        return fail(self, PACER_EINVAL, "at most %d prefixes", PACER_SUB_MAX_PREFIXES);
    char **prefixes = realloc(self->prefixes, (self->prefix_count + 1) * sizeof *prefixes);
    if (!prefixes)
        return fail(self, PACER_ENOMEM, "out of memory");
    self->prefixes = prefixes;
    if (!(prefixes[self->prefix_count] = strdup(prefix)))
        return fail(self, PACER_ENOMEM, "out of memory");
    if (zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) == -1) {
        free(prefixes[self->prefix_count]);
        return fail(self, PACER_ETRANSPORT, "cannot subscribe to %s: %s", prefix,
                    zmq_strerror(zmq_errno()));
    }
    self->prefix_count++;
    return PACER_OK;
}

int
pacer_sub_set_cursor(pacer_sub_t *self, uint64_t cursor)
{
    assert(self);
    if (self->started)
        return fail(self, PACER_EINVAL, "pacer_sub_set_cursor after the first pacer_sub_recv");
    self->resolved = cursor != PACER_SUB_NOW;
    self->considered = self->delivered = self->resolved ? cursor : 0;
    /* Whatever was raised after the cursor while the application was away
       is read at once, not at the next heartbeat. */
    self->must_fetch = self->resolved;
    return PACER_OK;
}

int
pacer_sub_set_epoch(pacer_sub_t *self, uint64_t epoch)
{
    assert(self);
    if (self->started)
        return fail(self, PACER_EINVAL, "pacer_sub_set_epoch after the first pacer_sub_recv");
    self->epoch = epoch;
    return PACER_OK;
}

uint64_t
pacer_sub_epoch(pacer_sub_t *self)
{
    assert(self);
    return self->epoch;
}

void
pacer_sub_set_query_timeout(pacer_sub_t *self, int timeout_ms)
{
    assert(self);
    self->query_timeout_ms = timeout_ms > 0 ? timeout_ms : PACER_SUB_DEFAULT_QUERY_TIMEOUT_MS;
}

void
pacer_sub_set_page_size(pacer_sub_t *self, size_t page_size)
{
    assert(self);
    self->page_size = page_size < 1                        ? 1
                      : page_size > PACER_ALERTS_MAX_LIMIT ? PACER_ALERTS_MAX_LIMIT
                                                           : page_size;
}

uint64_t
pacer_sub_cursor(pacer_sub_t *self)
{
    assert(self);
    if (!self->resolved)
        return PACER_SUB_NOW;
    return self->head == self->count ? self->considered : self->delivered;
}

const char *
pacer_sub_error(pacer_sub_t *self)
{
    assert(self);
    return self->error;
}

void
pacer_sub_stats(pacer_sub_t *self, pacer_sub_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
}

/* ---- the queue ----------------------------------------------------------------- */

static bool
matches(pacer_sub_t *self, const pacer_alert_t *alert)
{
    for (size_t i = 0; i < self->prefix_count; i++)
        if (pacer_alert_matches(alert, self->prefixes[i]))
            return true;
    return false;
}

/* Queue the alert with aseq considered + k (k >= 1) and move considered to
   it. Takes the alert. */
static int
queue_push(pacer_sub_t *self, pacer_alert_t *alert)
{
    assert(alert->aseq > self->considered);
    assert(self->considered >= self->delivered);
    if (self->head > 0 && self->head == self->count)
        self->head = self->count = 0;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        pacer_alert_t **queue = realloc(self->queue, cap * sizeof *queue);
        if (!queue) {
            pacer_alert_destroy(&alert);
            return fail(self, PACER_ENOMEM, "out of memory queueing alerts");
        }
        self->queue = queue;
        self->cap = cap;
    }
    self->queue[self->count++] = alert;
    self->considered = alert->aseq;
    return PACER_OK;
}

static pacer_alert_t *
queue_pop(pacer_sub_t *self)
{
    assert(self->head < self->count);
    pacer_alert_t *alert = self->queue[self->head++];
    assert(alert->aseq > self->delivered);
    self->delivered = alert->aseq;
    self->stats.delivered++;
    return alert;
}

/* ---- catch-up queries ---------------------------------------------------------- */

static bool
query_wanted(pacer_sub_t *self)
{
    return !self->resolved || self->must_fetch || self->horizon > self->considered;
}

/* The query's prefixes, or none when the subscriber takes every alert. */
static bool
prefixes_needed(pacer_sub_t *self)
{
    for (size_t i = 0; i < self->prefix_count; i++)
        if (strcmp(self->prefixes[i], ALERT_TOPIC) == 0)
            return false;
    return true;
}

/* A query failed: note why, wait before the next one. */
static void query_failed(pacer_sub_t *self, int rc, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void
query_failed(pacer_sub_t *self, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->stall_error, sizeof self->stall_error, format, args);
    va_end(args);
    self->stall_rc = rc;
    self->inflight = false;
    self->inflight_stale = false;
    self->stats.query_failures++;
    self->query_due = pacer_now_ms() + self->backoff_ms;
    self->backoff_ms =
        self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff_ms * 2;
}

static void
free_body(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Send the next catch-up query: the newest aseq for an unresolved "now"
   subscriber, else the page after `considered`. */
static int
query_send(pacer_sub_t *self)
{
    bool resolve = !self->resolved;
    bool prefix = !resolve && prefixes_needed(self);
    uint64_t from = resolve ? 1 : self->considered + 1;
    size_t limit = resolve ? 1 : self->page_size;
    uint64_t corr = self->next_corr++;

    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    bool packed = msgpack_pack_map(&pk, prefix ? 6 : 5) == 0 && pacer_pack_str(&pk, "v") &&
                  msgpack_pack_int(&pk, 1) == 0 && pacer_pack_str(&pk, "op") &&
                  pacer_pack_str(&pk, "alerts") && pacer_pack_str(&pk, "corr") &&
                  msgpack_pack_uint64(&pk, corr) == 0 && pacer_pack_str(&pk, "from") &&
                  msgpack_pack_uint64(&pk, from) == 0 && pacer_pack_str(&pk, "limit") &&
                  msgpack_pack_uint64(&pk, limit) == 0;
    if (packed && prefix) {
        packed = pacer_pack_str(&pk, "prefix") && msgpack_pack_array(&pk, self->prefix_count) == 0;
        for (size_t i = 0; packed && i < self->prefix_count; i++)
            packed = pacer_pack_str(&pk, self->prefixes[i]);
    }
    if (!packed) {
        msgpack_sbuffer_destroy(&body);
        return fail(self, PACER_ENOMEM, "out of memory encoding a query");
    }
    size_t size = body.size;
    char *data = msgpack_sbuffer_release(&body);
    zmq_msg_t msg;
    if (zmq_msg_init_data(&msg, data, size, free_body, NULL) == -1) {
        free(data);
        return fail(self, PACER_ENOMEM, "out of memory encoding a query");
    }
    if (zmq_send(self->dealer, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
        zmq_msg_send(&msg, self->dealer, ZMQ_DONTWAIT) == -1) {
        int err = zmq_errno();
        zmq_msg_close(&msg);
        query_failed(self, err == EAGAIN ? PACER_ETIMEOUT : PACER_ETRANSPORT,
                     "cannot send the alerts query to %s: %s", self->query_endpoint,
                     zmq_strerror(err));
        return PACER_OK;
    }
    self->inflight = true;
    self->inflight_resolve = resolve;
    self->inflight_corr = corr;
    self->inflight_from = from;
    self->inflight_limit = limit;
    self->inflight_deadline = pacer_now_ms() + self->query_timeout_ms;
    return PACER_OK;
}

/* No answer in time: forget the DEALER (a late answer must not be read as
   the next one's, and its queue may hold a request for a daemon that is
   gone) and connect a new one. */
static int
query_timed_out(pacer_sub_t *self)
{
    query_failed(self, PACER_ETIMEOUT,
                 "no answer from %s to the alerts query within %d ms: is "
                 "pacerd running?",
                 self->query_endpoint, self->query_timeout_ms);
    pacer_socket_close(&self->dealer, &self->dealer_watch);
    self->dealer = socket_new(self, ZMQ_DEALER, self->query_endpoint, &self->dealer_watch);
    if (!self->dealer)
        return fail(self, PACER_ETRANSPORT, "cannot reconnect to %s: %s", self->query_endpoint,
                    zmq_strerror(zmq_errno()));
    return PACER_OK;
}

/* Read every frame of one message: the second is kept in *body. */
static int
recv_message(void *socket, zmq_msg_t *first, zmq_msg_t *second, size_t *frames)
{
    *frames = 0;
    for (bool more = true; more;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&frame);
            return -1;
        }
        more = zmq_msg_more(&frame);
        if (*frames == 0)
            zmq_msg_move(first, &frame);
        else if (*frames == 1)
            zmq_msg_move(second, &frame);
        zmq_msg_close(&frame);
        (*frames)++;
    }
    return 0;
}

/* pacerd reports `epoch`. The first one named is taken; another one means
   its state directory was replaced (a restore, a new installation): the
   cursor counts alerts of an outbox that is gone, so start again from
   aseq 1 of the new one. What is queued belongs to the old outbox and is
   dropped: the application has its cursor in the old numbering and cannot
   tell those alerts from the new ones with the same aseqs. Returns true
   when the subscriber started again. */
static bool
epoch_seen(pacer_sub_t *self, uint64_t epoch)
{
    if (epoch == 0 || epoch == self->epoch)
        return false;
    bool known = self->epoch != 0;
    self->epoch = epoch;
    if (!known)
        return false;
    self->stats.epoch_changes++;
    for (size_t i = self->head; i < self->count; i++)
        pacer_alert_destroy(&self->queue[i]);
    self->head = self->count = 0;
    if (self->resolved) {
        /* A subscriber started "now" goes on from the start of the new
           outbox too: what it raised since the restore is new. */
        self->considered = self->delivered = 0;
        self->horizon = 0;
        self->must_fetch = true;
    }
    if (self->inflight)
        self->inflight_stale = true;
    return true;
}

/* An `alerts` reply of the cursor's epoch says the newest aseq is `last`,
   below what the subscriber has considered: the outbox went back in time
   (the state directory was restored from an older backup of itself, which
   keeps its epoch). The alerts after `last` that were handed over stay
   handed over; the daemon numbers its next alerts from last + 1 again, so
   the cursor moves back to `last`, and queued alerts past it, which the
   restored outbox does not have, are dropped. */
static void
rolled_back(pacer_sub_t *self, uint64_t last)
{
    self->stats.rollbacks++;
    while (self->count > self->head && self->queue[self->count - 1]->aseq > last)
        pacer_alert_destroy(&self->queue[--self->count]);
    if (self->delivered > last)
        self->delivered = last;
    self->considered = self->horizon = last;
    self->must_fetch = false;
}

/* Queue what a page brings and move considered past everything the daemon
   looked at. */
static int
query_apply(pacer_sub_t *self, pacer_alert_page_t *page)
{
    uint64_t before = self->considered;
    for (size_t i = 0; i < pacer_alert_page_count(page); i++) {
        pacer_alert_t *alert = pacer_alert_page_take(page, i);
        /* A record outside the asked range or prefixes is the daemon's
           mistake; dropping it keeps the application's stream right. */
        if (alert->aseq <= self->considered || !matches(self, alert)) {
            pacer_alert_destroy(&alert);
            continue;
        }
        int rc = queue_push(self, alert);
        if (rc != PACER_OK)
            return rc;
        self->stats.fetched++;
    }
    uint64_t next = pacer_alert_page_next(page);
    uint64_t last = pacer_alert_page_last_aseq(page);
    uint64_t looked = next == 0 ? 0 : next - 1 < last ? next - 1 : last;
    if (looked > self->considered)
        self->considered = looked;
    if (!pacer_alert_page_at_end(page)) {
        if (self->considered == before) {
            query_failed(self, PACER_EPROTOCOL,
                         "malformed reply from %s: alerts from %" PRIu64 " answered next %" PRIu64
                         ", which does not move on",
                         self->query_endpoint, before + 1, next);
            return PACER_OK;
        }
        self->must_fetch = true;
        return PACER_OK;
    }
    self->must_fetch = false;
    /* A heartbeat or an alert said more exists than the daemon now
       returns, and this read got nowhere: stop chasing it (a daemon whose
       state was reset). A horizon raised by messages that came after the
       query was sent is simply read by the next one. */
    if (self->horizon > self->considered && self->considered == before)
        self->horizon = self->considered;
    return PACER_OK;
}

/* The DEALER is readable: take the answer to the query in flight. */
static int
query_on_reply(pacer_sub_t *self)
{
    zmq_msg_t delimiter, body;
    zmq_msg_init(&delimiter);
    zmq_msg_init(&body);
    size_t frames = 0;
    int rc = PACER_OK;
    if (recv_message(self->dealer, &delimiter, &body, &frames) == -1) {
        int err = zmq_errno();
        zmq_msg_close(&delimiter);
        zmq_msg_close(&body);
        return err == EAGAIN ? PACER_OK
                             : fail(self, PACER_ETRANSPORT, "cannot receive from %s: %s",
                                    self->query_endpoint, zmq_strerror(err));
    }
    const uint8_t *data = zmq_msg_data(&body);
    size_t size = zmq_msg_size(&body);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    if (frames != 2 || zmq_msg_size(&delimiter) != 0 ||
        !mp_scan(data, size, PACER_MSGPACK_MAX_DEPTH) ||
        msgpack_unpack_next(&unpacked, (const char *)data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
        unpacked.data.type != MSGPACK_OBJECT_MAP) {
        query_failed(self, PACER_EPROTOCOL,
                     "malformed reply from %s: expected an empty frame and one msgpack map",
                     self->query_endpoint);
        goto done;
    }
    const msgpack_object *reply = &unpacked.data;
    const msgpack_object *corr = pacer_map_get(reply, "corr");
    const msgpack_object *ok = pacer_map_get(reply, "ok");
    const msgpack_object *v = pacer_map_get(reply, "v");
    /* Another corr answers a query given up on before the DEALER was
       replaced; it cannot happen on a fresh socket, but costs nothing. A
       nil corr is a request refused before its body could be read, and
       answers the oldest one unanswered on this socket: ours. */
    if (corr &&
        (corr->type != MSGPACK_OBJECT_POSITIVE_INTEGER || corr->via.u64 != self->inflight_corr))
        goto done;
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != 1 || !ok ||
        ok->type != MSGPACK_OBJECT_BOOLEAN) {
        query_failed(self, PACER_EPROTOCOL, "malformed reply from %s: no v: 1 and ok",
                     self->query_endpoint);
        goto done;
    }
    if (!ok->via.boolean) {
        const msgpack_object *code = pacer_map_get(reply, "error");
        const msgpack_object *message = pacer_map_get(reply, "message");
        bool code_str = code && code->type == MSGPACK_OBJECT_STR;
        bool message_str = message && message->type == MSGPACK_OBJECT_STR;
        query_failed(self, PACER_EREFUSED, "pacerd (%s) refused the alerts query: %.*s%s%.*s",
                     self->query_endpoint, code_str ? (int)code->via.str.size : 1,
                     code_str ? code->via.str.ptr : "?", message_str ? ": " : "",
                     message_str ? (int)message->via.str.size : 0,
                     message_str ? message->via.str.ptr : "");
        goto done;
    }
    pacer_alert_page_t *page = NULL;
    char err[768];
    int decoded =
        pacer_alert_page_decode(data, size, self->inflight_limit, true, &page, err, sizeof err);
    if (decoded == PACER_ENOMEM) {
        rc = fail(self, PACER_ENOMEM, "%s", err);
        self->inflight = false;
        goto done;
    }
    if (decoded != PACER_OK) {
        query_failed(self, PACER_EPROTOCOL, "malformed reply from %s: %s", self->query_endpoint,
                     err);
        goto done;
    }
    self->inflight = false;
    self->stats.queries++;
    bool stale = self->inflight_stale;
    self->inflight_stale = false;
    if (epoch_seen(self, pacer_alert_page_epoch(page)) || stale) {
        /* asked from a cursor of another epoch: ask again from 1 */
        pacer_alert_page_destroy(&page);
        goto done;
    }
    /* While a query is in flight considered stands still, and the daemon's
       newest aseq never goes down: a reply below it is a rollback. */
    if (!self->inflight_resolve && pacer_alert_page_last_aseq(page) < self->considered) {
        rolled_back(self, pacer_alert_page_last_aseq(page));
        pacer_alert_page_destroy(&page);
        goto done;
    }
    self->stall_rc = PACER_OK;
    self->stall_error[0] = '\0';
    self->backoff_ms = BACKOFF_FIRST_MS;
    self->query_due = 0;
    if (self->inflight_resolve) {
        self->resolved = true;
        self->considered = self->delivered = pacer_alert_page_last_aseq(page);
    } else
        rc = query_apply(self, page);
    pacer_alert_page_destroy(&page);
done:
    msgpack_unpacked_destroy(&unpacked);
    zmq_msg_close(&delimiter);
    zmq_msg_close(&body);
    return rc;
}

/* ---- published messages --------------------------------------------------------- */

static void
note_horizon(pacer_sub_t *self, uint64_t aseq)
{
    if (aseq <= self->horizon)
        return;
    if (self->resolved && self->horizon <= self->considered && aseq > self->considered)
        self->stats.gaps++;
    self->horizon = aseq;
}

static void
on_heartbeat(pacer_sub_t *self, const zmq_msg_t *body)
{
    const uint8_t *data = zmq_msg_data((zmq_msg_t *)body);
    size_t size = zmq_msg_size((zmq_msg_t *)body);
    if (!mp_scan(data, size, PACER_MSGPACK_MAX_DEPTH))
        return;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    if (msgpack_unpack_next(&unpacked, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *aseq = pacer_map_get(&unpacked.data, "aseq");
        const msgpack_object *epoch = pacer_map_get(&unpacked.data, "epoch");
        if (aseq && aseq->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            self->stats.heartbeats++;
            if (epoch && epoch->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                epoch_seen(self, epoch->via.u64);
            /* Below the cursor: a heartbeat sent before alerts that a query
               has read since (the two sockets are not ordered), or an
               outbox restored from an older backup. A query tells which
               (rolled_back). */
            if (self->resolved && aseq->via.u64 < self->considered)
                self->must_fetch = true;
            note_horizon(self, aseq->via.u64);
        }
    }
    msgpack_unpacked_destroy(&unpacked);
}

static int
on_alert(pacer_sub_t *self, const zmq_msg_t *body)
{
    pacer_alert_t *alert = NULL;
    int rc = pacer_alert_decode(zmq_msg_data((zmq_msg_t *)body), zmq_msg_size((zmq_msg_t *)body),
                                &alert, NULL, 0);
    if (rc == PACER_ENOMEM)
        return fail(self, rc, "out of memory decoding a published alert");
    if (rc != PACER_OK) {
        /* Without a readable aseq there is nothing to place; the next
           heartbeat shows the gap and the query reads the record. */
        self->stats.malformed++;
        return PACER_OK;
    }
    uint64_t aseq = alert->aseq;
    if (self->resolved && aseq <= self->considered) {
        self->stats.duplicates++;
        pacer_alert_destroy(&alert);
        return PACER_OK;
    }
    if (!self->resolved || self->inflight || self->must_fetch || self->horizon > self->considered ||
        aseq != self->considered + 1 || !matches(self, alert)) {
        /* Out of turn: the query reads it in its place. */
        note_horizon(self, aseq);
        pacer_alert_destroy(&alert);
        return PACER_OK;
    }
    self->stats.live++;
    return queue_push(self, alert);
}

/* Read what the SUB holds, up to DRAIN_MAX messages. */
static int
sub_drain(pacer_sub_t *self)
{
    for (int i = 0; i < DRAIN_MAX; i++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        size_t frames = 0;
        int rc = PACER_OK;
        if (recv_message(self->sub, &topic, &body, &frames) == -1) {
            int err = zmq_errno();
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            return err == EAGAIN || err == EINTR
                       ? PACER_OK
                       : fail(self, PACER_ETRANSPORT, "cannot receive from %s: %s",
                              self->publish_endpoint, zmq_strerror(err));
        }
        const char *name = zmq_msg_data(&topic);
        size_t len = zmq_msg_size(&topic);
        if (frames != 2)
            self->stats.malformed++;
        else if (len >= strlen(HEARTBEAT_TOPIC) &&
                 memcmp(name, HEARTBEAT_TOPIC, strlen(HEARTBEAT_TOPIC)) == 0)
            on_heartbeat(self, &body);
        else if (len >= strlen(ALERT_TOPIC) && memcmp(name, ALERT_TOPIC, strlen(ALERT_TOPIC)) == 0)
            rc = on_alert(self, &body);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        if (rc != PACER_OK)
            return rc;
    }
    return PACER_OK;
}

/* ---- receiving ---------------------------------------------------------------------- */

static int
sub_start(pacer_sub_t *self)
{
    self->started = true;
    if (self->prefix_count == 0) {
        self->started = false;
        int rc = pacer_sub_subscribe(self, ALERT_TOPIC);
        self->started = true;
        return rc;
    }
    return PACER_OK;
}

/* PACER_EAUTH when pacerd refused a socket's handshake or it keeps
   failing: waiting would never end. */
static int
handshakes_check(pacer_sub_t *self)
{
    char why[512];
    const pacer_curve_t *curve = self->secure ? &self->curve : NULL;
    if (pacer_watch_check(&self->sub_watch, self->publish_endpoint, curve, why, sizeof why) !=
            PACER_OK ||
        pacer_watch_check(&self->dealer_watch, self->query_endpoint, curve, why, sizeof why) !=
            PACER_OK)
        return fail(self, PACER_EAUTH, "%s", why);
    return PACER_OK;
}

static int64_t
earlier(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int
pacer_sub_recv(pacer_sub_t *self, pacer_alert_t **alert_p, int timeout_ms)
{
    assert(self);
    self->error[0] = '\0';
    if (!alert_p)
        return fail(self, PACER_EINVAL, "pacer_sub_recv needs somewhere to put the alert");
    *alert_p = NULL;
    if (self->setup_error[0])
        return fail(self, PACER_EINVAL, "%s", self->setup_error);
    if (!self->started) {
        int rc = sub_start(self);
        if (rc != PACER_OK)
            return rc;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : pacer_now_ms() + timeout_ms;
    for (;;) {
        if (self->head < self->count) {
            *alert_p = queue_pop(self);
            return PACER_OK;
        }
        int64_t now = pacer_now_ms();
        int rc = PACER_OK;
        if (self->inflight && now >= self->inflight_deadline)
            rc = query_timed_out(self);
        if (rc == PACER_OK && !self->inflight && query_wanted(self) && now >= self->query_due)
            rc = query_send(self);
        if (rc != PACER_OK)
            return rc;

        int64_t until = deadline;
        if (self->inflight)
            until = earlier(until, self->inflight_deadline);
        else if (query_wanted(self))
            until = earlier(until, self->query_due);
        long wait = until < 0 ? -1 : until > now ? (long)(until - now) : 0;
        rc = handshakes_check(self);
        if (rc != PACER_OK)
            return rc;
        /* the sockets' monitors too: a refused handshake is never answered */
        zmq_pollitem_t items[4] = {{self->sub, 0, ZMQ_POLLIN, 0},
                                   {self->dealer, 0, ZMQ_POLLIN, 0},
                                   {self->sub_watch.pair, 0, ZMQ_POLLIN, 0},
                                   {self->dealer_watch.pair, 0, ZMQ_POLLIN, 0}};
        if (!self->inflight)
            items[1] = items[3];
        int ready = zmq_poll(items, self->inflight ? 4 : 3, wait);
        if (ready == -1 && zmq_errno() == EINTR)
            return PACER_EAGAIN;
        if (ready == -1)
            return fail(self, PACER_ETRANSPORT, "cannot poll: %s", zmq_strerror(zmq_errno()));
        /* The answer first: live alerts that came meanwhile are then
           placed against the considered it sets. */
        if (self->inflight && (items[1].revents & ZMQ_POLLIN))
            rc = query_on_reply(self);
        if (rc == PACER_OK && (items[0].revents & ZMQ_POLLIN))
            rc = sub_drain(self);
        if (rc != PACER_OK)
            return rc;
        if (self->head < self->count)
            continue;
        if (deadline >= 0 && pacer_now_ms() >= deadline) {
            if (query_wanted(self) && self->stall_rc != PACER_OK)
                return fail(self, self->stall_rc, "%s", self->stall_error);
            return PACER_EAGAIN;
        }
    }
}
