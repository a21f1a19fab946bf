/*  query: see query.h. One request at a time: `events` reads at most
    10,000 records from a snapshot, so no request holds the thread long.

    Dispatch is by table: QUERY_OPS registers each operation the endpoint
    answers itself once, with its handler and the request fields it reads;
    the projection's queries are registered in its own table
    (projections/report.c), reached through projection_query_find, and an
    op neither knows is offered to the folds. The fields of an entry are
    checked (events/wire.h's readers) before its handler runs, so a bad
    key gets the same message whichever op it came with. */

#include "daemon/query.h"

#include "daemon/alert_query.h"

#include "daemon/log.h"
#include "daemon/store_log.h"
#include "events/wire.h"

#include <string.h>
#include <zmq.h>

#ifndef PACER_VERSION
#define PACER_VERSION "0.1.0"
#endif

typedef struct {
    query_args_t *args;
    void *router;
    /* the request being answered: its sender, with authentication on */
    auth_role_t role;
    char principal[AUTH_NAME_MAX + 1];
    msgpack_sbuffer out;
    uint32_t undefined; /* the projection's undefined_count, as last read */
    char zone[128];     /* its calendar's time zone (constant once read) */
} query_t;

/* A status must not wait for a rebuild: it reads the projection if it
   can within this long, else reports what it read last. */
#define STATUS_LOCK_MS 100

static void
pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
    wire_pack_str(pk, key);
    msgpack_pack_uint64(pk, v);
}

static void
op_status(query_t *self, wire_request_t *req, msgpack_packer *pk)
{
    (void)req->body; /* no fields */
    char err[256];
    writer_stats_t *st = self->args->stats;
    store_reader_t *r = store_read_begin(self->args->store, err, sizeof err);
    if (!r) {
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, err);
        return;
    }
    uint64_t last = store_reader_last_seq(r);
    uint8_t hash[STORE_HASH_BYTES] = {0};
    store_record_t rec;
    if (last && store_reader_get(r, last, &rec, err, sizeof err) == STORE_OK)
        memcpy(hash, rec.hash, STORE_HASH_BYTES);
    store_read_end(&r);

    if (projector_read_lock_within(self->args->projector, STATUS_LOCK_MS)) {
        self->undefined = projection_undefined_count(projector_live(self->args->projector));
        projector_unlock(self->args->projector);
    }
    /* the zone never changes: no lock needed */
    snprintf(self->zone, sizeof self->zone, "%s", projector_zone(self->args->projector));

    int64_t now = zclock_time();
    wire_reply_begin(pk, req->corr, true, self->args->auth ? 15 : 13);
    if (self->args->auth) { /* who the daemon takes the caller for */
        wire_pack_str(pk, "principal");
        wire_pack_str(pk, self->principal);
        wire_pack_str(pk, "role");
        wire_pack_str(pk, auth_role_name(self->role));
    }
    wire_pack_str(pk, "time_zone");
    wire_pack_str(pk, self->zone);
    wire_pack_str(pk, "version");
    wire_pack_str(pk, PACER_VERSION);
    pack_kv_uint(pk, "protocol", WIRE_VERSION);
    wire_pack_str(pk, "state_dir");
    wire_pack_str(pk, store_dir(self->args->store));
    pack_kv_uint(pk, "last_seq", last);
    wire_pack_str(pk, "last_hash");
    msgpack_pack_bin_with_body(pk, hash, STORE_HASH_BYTES);
    pack_kv_uint(pk, "log_events", last);
    pack_kv_uint(pk, "started_at", (uint64_t)self->args->started_at);
    pack_kv_uint(pk, "uptime_ms", (uint64_t)(now - self->args->started_at));
    pack_kv_uint(pk, "map_size", atomic_load(&st->map_size));
    pack_kv_uint(pk, "snapshot_seq", projector_snapshot_seq(self->args->projector));
    pack_kv_uint(pk, "undefined_nodes", self->undefined);
    wire_pack_str(pk, "counters");
    msgpack_pack_map(pk, 7);
    pack_kv_uint(pk, "requests", atomic_load(&st->requests));
    pack_kv_uint(pk, "appended", atomic_load(&st->appended));
    pack_kv_uint(pk, "duplicates", atomic_load(&st->duplicates));
    pack_kv_uint(pk, "rejected", atomic_load(&st->rejected));
    pack_kv_uint(pk, "bad_requests", atomic_load(&st->bad_requests));
    pack_kv_uint(pk, "commits", atomic_load(&st->commits));
    pack_kv_uint(pk, "map_resizes", atomic_load(&st->map_resizes));
}

static const wire_field_t f_from = {.name = "from", .type = WIRE_FIELD_U64, .def = 1};
static const wire_field_t f_limit = {
    .name = "limit", .type = WIRE_FIELD_U64, .min = 1, .def = WIRE_EVENTS_DEFAULT};
static const wire_field_t f_raw = {.name = "raw", .type = WIRE_FIELD_BOOL};
static const wire_field_t *const events_fields[] = {&f_from, &f_limit, &f_raw, NULL};
static const wire_field_t *const no_fields[] = {NULL};

static void
op_events(query_t *self, wire_request_t *req, msgpack_packer *pk)
{
    char err[256];
    uint64_t from, limit;
    bool raw;
    if (wire_req_u64(req->body, &f_from, &from, err, sizeof err) < 0 ||
        wire_req_u64(req->body, &f_limit, &limit, err, sizeof err) < 0 ||
        wire_req_bool(req->body, &f_raw, &raw, err, sizeof err) < 0) {
        wire_reply_error(pk, req->corr, WIRE_BAD_REQUEST, err);
        return;
    }
    if (from == 0)
        from = 1;
    if (limit > WIRE_EVENTS_MAX)
        limit = WIRE_EVENTS_MAX;
    store_reader_t *r = store_read_begin(self->args->store, err, sizeof err);
    if (!r) {
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, err);
        return;
    }
    uint64_t last = store_reader_last_seq(r);
    uint64_t n = 0;
    if (from <= last)
        n = last - from + 1 < limit ? last - from + 1 : limit;
    /* Decode all first so a corrupt record becomes an error reply, not a
       half-written one. */
    store_record_t *recs = n ? calloc(n, sizeof *recs) : NULL;
    if (n && !recs) {
        store_read_end(&r);
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, "out of memory");
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (store_reader_get(r, from + i, &recs[i], err, sizeof err) != STORE_OK) {
            log_error("events query: %s", err);
            wire_reply_error(pk, req->corr, WIRE_INTERNAL, err);
            free(recs);
            store_read_end(&r);
            return;
        }
    }
    wire_reply_begin(pk, req->corr, true, 3);
    wire_pack_str(pk, "events");
    msgpack_pack_array(pk, (size_t)n);
    for (uint64_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, recs[i].principal ? 5 : 4);
        if (recs[i].principal) {
            wire_pack_str(pk, "principal");
            msgpack_pack_str_with_body(pk, recs[i].principal, recs[i].principal_len);
        }
        pack_kv_uint(pk, "seq", recs[i].seq);
        wire_pack_str(pk, "recorded_at");
        msgpack_pack_int64(pk, recs[i].recorded_at);
        wire_pack_str(pk, "hash");
        msgpack_pack_bin_with_body(pk, recs[i].hash, STORE_HASH_BYTES);
        wire_pack_str(pk, "event");
        if (raw)
            msgpack_pack_bin_with_body(pk, recs[i].event, recs[i].event_len);
        else /* the stored bytes are a msgpack map: splice them in */
            msgpack_sbuffer_write(&self->out, (const char *)recs[i].event, recs[i].event_len);
    }
    pack_kv_uint(pk, "next", from + n);
    pack_kv_uint(pk, "last_seq", last);
    free(recs);
    store_read_end(&r);
}

static const wire_field_t f_as_of = {.name = "as_of", .type = WIRE_FIELD_U64};
static const wire_field_t f_as_of_seq = {.name = "as_of_seq", .type = WIRE_FIELD_U64};
/* what every projection query takes besides its own fields */
static const wire_field_t *const as_of_fields[] = {&f_as_of, &f_as_of_seq, NULL};

/* The projection's queries (projection_query_find(op) is not NULL):
   progress, leaderboard, daily, target_history, undefined_nodes and
   allocation previews, on the live projection under its read lock, or,
   with as_of / as_of_seq, on a private projection of the log as it stood
   then. */
static void
op_projection(query_t *self, wire_request_t *req, msgpack_packer *pk)
{
    char err[256];
    uint64_t as_of, as_of_seq;
    int has_as_of, has_as_of_seq;
    if ((has_as_of = wire_req_u64(req->body, &f_as_of, &as_of, err, sizeof err)) < 0 ||
        (has_as_of_seq = wire_req_u64(req->body, &f_as_of_seq, &as_of_seq, err, sizeof err)) < 0) {
        wire_reply_error(pk, req->corr, WIRE_BAD_REQUEST, err);
        return;
    }
    projection_t *proj = NULL;
    if (has_as_of || has_as_of_seq) {
        uint64_t upto = has_as_of_seq ? as_of_seq : UINT64_MAX;
        if (has_as_of) {
            store_reader_t *r = store_read_begin(self->args->store, err, sizeof err);
            if (!r) {
                wire_reply_error(pk, req->corr, WIRE_INTERNAL, err);
                return;
            }
            uint64_t at = store_reader_seq_at(r, (int64_t)as_of);
            store_read_end(&r);
            if (at < upto)
                upto = at;
        }
        proj = projector_as_of(self->args->projector, upto, err, sizeof err);
        if (!proj) {
            wire_reply_error(pk, req->corr, WIRE_INTERNAL, err);
            return;
        }
    } else
        projector_read_lock(self->args->projector);
    projection_t *p = proj ? proj : projector_live(self->args->projector);

    pq_result_t res;
    msgpack_sbuffer_init(&res.body);
    pq_rc_t rc = projection_query(p, req->op, req->body, zclock_time(), &res);
    if (proj)
        projector_release(self->args->projector, &proj);
    else {
        self->undefined = projection_undefined_count(p); /* fresh for the next status */
        projector_unlock(self->args->projector);
    }
    if (rc != PQ_OK)
        wire_reply_error_named(pk, req->corr, pq_rc_name(rc), res.message);
    else {
        wire_reply_begin(pk, req->corr, true, res.pairs);
        msgpack_sbuffer_write(&self->out, res.body.data, res.body.size);
    }
    msgpack_sbuffer_destroy(&res.body);
}

/* An op no core handler serves, offered to the folds: true if one answered
   (or refused it). */
static bool
op_of_fold(query_t *self, wire_request_t *req, msgpack_packer *pk)
{
    char err[256] = "";
    msgpack_sbuffer pairs;
    msgpack_sbuffer_init(&pairs);
    size_t n = 0;
    projector_read_lock(self->args->projector);
    int rc = foldset_query(projector_folds(self->args->projector), req->op_name, req->op_len,
                           req->body, zclock_time(), &pairs, &n, err, sizeof err);
    projector_unlock(self->args->projector);
    if (rc < 0)
        wire_reply_error(pk, req->corr, WIRE_BAD_REQUEST, err);
    else if (rc > 0) {
        wire_reply_begin(pk, req->corr, true, n);
        msgpack_sbuffer_write(&self->out, pairs.data, pairs.size);
    }
    msgpack_sbuffer_destroy(&pairs);
    return rc != 0;
}

/* The alert queries run at the alert clock (the newest `tick`), or the
   daemon's when none has come. */
static int64_t
alert_now(query_t *self)
{
    int64_t clock = atomic_load(&self->args->stats->alert_clock);
    return clock ? clock : zclock_time();
}

static void
op_alerts(query_t *self, wire_request_t *req, msgpack_packer *pk)
{
    alert_query_alerts(self->args->store, self->args->projector, req, pk, &self->out,
                       alert_now(self));
}

static void
op_alerts_active(query_t *self, wire_request_t *req, msgpack_packer *pk)
{
    alert_query_active(self->args->store, self->args->projector, req, pk, &self->out,
                       alert_now(self));
}

static void
op_silences(query_t *self, wire_request_t *req, msgpack_packer *pk)
{
    alert_query_silences(self->args->store, self->args->projector, req, pk, &self->out,
                         alert_now(self));
}

typedef struct {
    wire_op_t op;
    void (*run)(query_t *self, wire_request_t *req, msgpack_packer *pk);
    const wire_field_t *const *fields;
} query_op_t;

static const query_op_t QUERY_OPS[] = {
    {OP_STATUS, op_status, no_fields},
    {OP_EVENTS, op_events, events_fields},
    {OP_ALERTS, op_alerts, alert_query_alerts_fields},
    {OP_ALERTS_ACTIVE, op_alerts_active, alert_query_active_fields},
    {OP_SILENCES, op_silences, alert_query_silences_fields},
};

static const query_op_t *
query_op_find(wire_op_t op)
{
    for (size_t i = 0; i < sizeof QUERY_OPS / sizeof QUERY_OPS[0]; i++)
        if (QUERY_OPS[i].op == op)
            return &QUERY_OPS[i];
    return NULL;
}

int
query_op_handlers(wire_op_t op)
{
    int n = projection_query_find(op) != NULL;
    for (size_t i = 0; i < sizeof QUERY_OPS / sizeof QUERY_OPS[0]; i++)
        n += QUERY_OPS[i].op == op;
    return n;
}

static void
handle(query_t *self, zmq_msg_t *body)
{
    char msg[640];
    wire_request_t req;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&self->out);
    msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
    const query_op_t *q;
    const pq_query_t *pq;
    wire_rc_t rc =
        wire_request_parse(&req, zmq_msg_data(body), zmq_msg_size(body), msg, sizeof msg);
    if (rc != WIRE_OK)
        wire_reply_error(&pk, req.corr, rc, msg);
    else if (self->args->auth && !auth_may(self->role, req.op, WIRE_ON_QUERY)) {
        char what[80], why[400];
        snprintf(what, sizeof what, "run the %.*s query", (int)(req.op_len > 40 ? 40 : req.op_len),
                 req.op_name);
        auth_forbidden(self->role, self->principal, what, auth_op_needs(req.op, WIRE_ON_QUERY), why,
                       sizeof why);
        wire_reply_error(&pk, req.corr, WIRE_FORBIDDEN, why);
    } else if ((q = query_op_find(req.op))) {
        if (wire_req_check(req.body, q->fields, msg, sizeof msg) < 0)
            wire_reply_error(&pk, req.corr, WIRE_BAD_REQUEST, msg);
        else
            q->run(self, &req, &pk);
    } else if ((pq = projection_query_find(req.op))) {
        /* before an as_of replay, which a bad key would waste */
        if (wire_req_check(req.body, as_of_fields, msg, sizeof msg) < 0 ||
            wire_req_check(req.body, pq->fields, msg, sizeof msg) < 0)
            wire_reply_error(&pk, req.corr, WIRE_BAD_REQUEST, msg);
        else
            op_projection(self, &req, &pk);
    } else if (req.op != OP_OTHER || !op_of_fold(self, &req, &pk)) {
        char served[300], elsewhere[100], folds[100] = "";
        projector_read_lock(self->args->projector);
        foldset_ops(projector_folds(self->args->projector), folds, sizeof folds);
        projector_unlock(self->args->projector);
        snprintf(msg, sizeof msg,
                 "op \"%.*s\" is not served on the query endpoint (%s%s; %s are on the append "
                 "endpoint)",
                 (int)(req.op_len > 40 ? 40 : req.op_len), req.op_name,
                 wire_ops_served(WIRE_ON_QUERY, served, sizeof served), folds,
                 wire_ops_served(WIRE_ON_APPEND, elsewhere, sizeof elsewhere));
        wire_reply_error(&pk, req.corr, WIRE_UNKNOWN_OP, msg);
    }
    wire_request_free(&req);
}

/* Who sent the request. Over tcp or ipc every message carries the
   properties of its connection's handshake (Socket-Type always, User-Id
   from the ZAP handler); one from QUERY_INPROC_ENDPOINT has none, since
   inproc has no handshake: that is another thread of pacerd (the
   dashboard), served as a reader. */
static void
identify(query_t *self, zmq_msg_t *body)
{
    if (!zmq_msg_gets(body, "Socket-Type")) {
        self->role = AUTH_READER;
        snprintf(self->principal, sizeof self->principal, "pacerd");
        return;
    }
    self->role = auth_identify(self->args->auth, body, self->principal, sizeof self->principal);
}

static void
serve_one(query_t *self)
{
    zmq_msg_t ident, delim, body;
    zmq_msg_init(&ident);
    zmq_msg_init(&delim);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&ident, self->router, ZMQ_DONTWAIT) < 0)
        goto done;
    bool shaped = zmq_msg_more(&ident) && zmq_msg_recv(&delim, self->router, 0) >= 0 &&
                  zmq_msg_size(&delim) == 0 && zmq_msg_more(&delim) &&
                  zmq_msg_recv(&body, self->router, 0) >= 0 && !zmq_msg_more(&body);
    if (!shaped) {
        zmq_msg_t *last = zmq_msg_more(&body) ? &body : &delim;
        while (zmq_msg_more(last) && zmq_msg_recv(last, self->router, 0) >= 0)
            ;
        goto done;
    }
    if (self->args->auth)
        identify(self, &body);
    handle(self, &body);
    zmq_msg_t delim_out;
    zmq_msg_init(&delim_out);
    if (zmq_msg_send(&ident, self->router, ZMQ_SNDMORE) < 0 ||
        zmq_msg_send(&delim_out, self->router, ZMQ_SNDMORE) < 0 ||
        zmq_send(self->router, self->out.data, self->out.size, 0) < 0)
        log_debug("query reply not sent: %s", zmq_strerror(errno));
    zmq_msg_close(&delim_out);
done:
    zmq_msg_close(&ident);
    zmq_msg_close(&delim);
    zmq_msg_close(&body);
}

static void
query_actor(zsock_t *pipe, void *arg)
{
    query_t self = {.args = arg};
    zsock_signal(pipe, 0); /* zactor_new waits for this */
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    if (router && self.args->auth)
        auth_apply(self.args->auth, router, AUTH_DOMAIN_QUERY);
    if (!router || zsock_bind(router, "%s", self.args->endpoint) < 0 ||
        zsock_bind(router, "%s", QUERY_INPROC_ENDPOINT) < 0) {
        zstr_sendf(pipe, "cannot bind the query endpoint %s: %s", self.args->endpoint,
                   zmq_strerror(zmq_errno()));
        zsock_destroy(&router);
        return;
    }
    zsock_set_maxmsgsize(router, 256 * 1024 * 1024);
    zsock_set_sndhwm(router, 0);
    self.router = zsock_resolve(router);
    msgpack_sbuffer_init(&self.out);
    zstr_send(pipe, ""); /* bound: an empty error */

    zmq_pollitem_t items[2] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                               {self.router, 0, ZMQ_POLLIN, 0}};
    while (true) {
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || streq(cmd, "$TERM");
            zstr_free(&cmd);
            if (term)
                break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            for (int i = 0; i < 64; i++) {
                int ev = zsock_events(router);
                if (!(ev & ZMQ_POLLIN))
                    break;
                serve_one(&self);
            }
    }
    msgpack_sbuffer_destroy(&self.out);
    zsock_destroy(&router);
}

zactor_t *
query_start(query_args_t *args, char *err, size_t errlen)
{
    zactor_t *actor = zactor_new(query_actor, args);
    if (!actor) {
        snprintf(err, errlen, "cannot start the query thread");
        return NULL;
    }
    char *bind_error = zstr_recv(actor);
    if (!bind_error || *bind_error) {
        snprintf(err, errlen, "%s", bind_error ? bind_error : "query thread did not start");
        zstr_free(&bind_error);
        zactor_destroy(&actor);
        return NULL;
    }
    zstr_free(&bind_error);
    return actor;
}
