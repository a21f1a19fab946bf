/*  writer: see writer.h for the shape of a group commit.

    Memory for a group: each request keeps its ZeroMQ frames alive until it
    is answered (decoded events point into them), an array of per-event
    results, and the canonical encodings of all its events in one arena
    (`canon`), reset at the start of every group. */

#include "daemon/writer.h"

#include "daemon/log.h"
#include "daemon/projector.h"
#include "events/schema.h"
#include "events/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

enum { R_VALID = 0, R_APPENDED, R_DUP }; /* status >= R_ERROR_BASE: an ev_errcode_t */
#define STORE_RETRY  (-100)              /* apply_group: abort and try the group again */
#define R_ERROR_BASE 100

typedef struct {
    int status;
    ev_type_t type;
    uint32_t canon_off, canon_len;
    uint64_t id_hash;
    uint64_t seq;
    const char *id;
    uint32_t id_len;
    char *message; /* on error; malloc'd */
} ev_result_t;

typedef struct {
    zmq_msg_t ident, body;
    wire_request_t req;
    wire_rc_t rc;
    char message[640];
    ev_result_t *results;
    uint32_t nresults;
    /* allocate requests */
    bool alloc_ready, preview;
    pq_rc_t alloc_rc;
    pq_result_t alloc;
    msgpack_sbuffer *alloc_events;
    msgpack_unpacked alloc_unpacked;
    /* an atomic request refused on a try of its group */
    bool atomic_refused;
    uint32_t refused_index;
    ev_errcode_t refused_code;
    char refused_message[320];
    /* rebuild requests */
    uint64_t rebuilt_events;
    double rebuild_ms;
} pending_t;

struct _writer_t {
    store_t *store;
    projector_t *projector;
    int64_t last_recorded_at; /* recorded_at never goes backwards */
    long subscriptions;       /* live subscriptions on the XPUB socket */
    dedup_t *dedup;
    void *router, *pub;
    writer_stats_t *stats;
    pending_t *pending;
    size_t npending;
    msgpack_sbuffer canon;
    msgpack_sbuffer out;
    msgpack_zone zone; /* for decoding stored events on a duplicate check */
};

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
    self->pending = calloc(WRITER_GROUP_MAX_REQS, sizeof(pending_t));
    self->dedup = *dedup_p;
    *dedup_p = NULL;
    if (!self->pending || !self->dedup) {
        snprintf(err, errlen, "out of memory");
        writer_destroy(&self);
        return NULL;
    }
    msgpack_sbuffer_init(&self->canon);
    msgpack_sbuffer_init(&self->out);
    msgpack_zone_init(&self->zone, 4096);
    atomic_store(&stats->map_size, store_map_size(store));
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
    dedup_destroy(&self->dedup);
    free(self->pending);
    msgpack_sbuffer_destroy(&self->canon);
    msgpack_sbuffer_destroy(&self->out);
    msgpack_zone_destroy(&self->zone);
    free(self);
    *self_p = NULL;
}

static void
set_error(ev_result_t *r, int code, uint32_t index, const char *id, uint32_t id_len,
          const char *what)
{
    char buf[640], quoted[4 * EV_ID_MAX + 1];
    if (id)
        snprintf(buf, sizeof buf, "event %u (id \"%s\"): %s", index,
                 ev_escape(id, id_len, quoted, sizeof quoted), what);
    else
        snprintf(buf, sizeof buf, "event %u: %s", index, what);
    free(r->message);
    r->message = strdup(buf);
    r->status = R_ERROR_BASE + code;
}

static const uint8_t *
canon_of(writer_t *self, const ev_result_t *r)
{
    return (const uint8_t *)self->canon.data + r->canon_off;
}

/* The id of a stored canonical event (decoded on the rare hash hit). */
static ev_str_t
stored_id(writer_t *self, const uint8_t *event, size_t len)
{
    msgpack_object obj;
    size_t off = 0;
    ev_str_t none = {NULL, 0};
    if (msgpack_unpack((const char *)event, len, &off, &self->zone, &obj) != MSGPACK_UNPACK_SUCCESS)
        return none;
    return event_peek_id(&obj);
}

typedef enum { FOUND_NONE, FOUND_SAME, FOUND_CONFLICT, FOUND_ERROR } found_t;

/* Look an event up in the log (including this transaction's appends). */
static found_t
find_existing(writer_t *self, const ev_result_t *r, uint64_t *seq_out, char *err, size_t errlen)
{
    dedup_iter_t it;
    const uint8_t *canon = canon_of(self, r);
    for (uint64_t seq = dedup_first(self->dedup, r->id_hash, &it); seq;
         seq = dedup_next(self->dedup, &it)) {
        store_record_t rec;
        if (store_get_in_txn(self->store, seq, &rec, err, errlen) != STORE_OK)
            return FOUND_ERROR;
        *seq_out = seq;
        if (rec.event_len == r->canon_len && memcmp(rec.event, canon, r->canon_len) == 0)
            return FOUND_SAME;
        ev_str_t id = stored_id(self, rec.event, rec.event_len);
        msgpack_zone_clear(&self->zone);
        if (id.len == r->id_len && memcmp(id.ptr, r->id, r->id_len) == 0)
            return FOUND_CONFLICT;
    }
    return FOUND_NONE;
}

/* Decode, validate and canonically encode event i of request p into the
   group's arena; on failure the result carries the error. */
static bool
prepare_event(writer_t *self, pending_t *p, uint32_t i, event_t *ev)
{
    ev_result_t *r = &p->results[i];
    const msgpack_object *obj = &p->req.events[i];
    ev_error_t err;
    if (event_decode(obj, ev, &err) != EVE_OK) {
        ev_str_t id = event_peek_id(obj);
        set_error(r, err.code, i, id.ptr, id.len, err.message);
        return false;
    }
    r->type = ev->type;
    r->id = ev->v[F_ID].s.ptr;
    r->id_len = ev->v[F_ID].s.len;
    r->canon_off = (uint32_t)self->canon.size;
    /* encode straight into the arena; the slack keeps a bound that is a
       little above the true size from refusing an event that fits */
    size_t room = EV_MAX_BYTES + 4096;
    if (self->canon.alloc - self->canon.size < room) {
        size_t cap = self->canon.alloc ? self->canon.alloc * 2 : 1 << 20;
        while (cap - self->canon.size < room)
            cap *= 2;
        char *grown = realloc(self->canon.data, cap);
        if (!grown) {
            set_error(r, EVE_INTERNAL, i, r->id, r->id_len, "out of memory encoding the event");
            return false;
        }
        self->canon.data = grown;
        self->canon.alloc = cap;
    }
    size_t len = event_encode_buf(ev, (uint8_t *)self->canon.data + self->canon.size, room);
    r->canon_len = len ? (uint32_t)len : EV_MAX_BYTES + 1;
    if (len)
        self->canon.size += len;
    if (r->canon_len > EV_MAX_BYTES) {
        char what[96];
        snprintf(what, sizeof what, "encoded event is %u bytes, at most %d allowed", r->canon_len,
                 EV_MAX_BYTES);
        set_error(r, EVE_TOO_LONG, i, r->id, r->id_len, what);
        return false;
    }
    r->id_hash = event_id_hash(r->id, r->id_len);
    r->status = R_VALID;
    return true;
}

/* Duplicate, conflict and projection checks of a prepared event. Returns
   false with the result set when the event is not to be appended (a
   duplicate is not an error), or sets *failed on a store failure. */
static bool
admit_event(writer_t *self, pending_t *p, uint32_t i, const event_t *ev, bool *failed, char *err,
            size_t errlen)
{
    ev_result_t *r = &p->results[i];
    found_t f = find_existing(self, r, &r->seq, err, errlen);
    if (f == FOUND_ERROR) {
        *failed = true;
        return false;
    }
    if (f == FOUND_SAME) {
        r->status = R_DUP;
        return false;
    }
    if (f == FOUND_CONFLICT) {
        set_error(r, EVE_CONFLICT, i, r->id, r->id_len,
                  "id: already in the log with different content");
        return false;
    }
    ev_error_t perr;
    if (projection_check(projector_live(self->projector), ev, &perr) != EVE_OK) {
        set_error(r, perr.code, i, r->id, r->id_len, perr.message);
        return false;
    }
    return true;
}

static int
append_event(writer_t *self, ev_result_t *r, const event_t *ev, int64_t recorded_at, char *err,
             size_t errlen)
{
    int rc = store_append(self->store, recorded_at, canon_of(self, r), r->canon_len, r->id_hash,
                          &r->seq, err, errlen);
    if (rc != STORE_OK)
        return rc;
    dedup_insert(self->dedup, r->id_hash, r->seq);
    r->status = R_APPENDED;
    if (projection_fold_checked(projector_live(self->projector), r->seq, recorded_at, ev) != 0) {
        snprintf(err, errlen, "out of memory folding event %llu into the projection",
                 (unsigned long long)r->seq);
        return STORE_ERROR;
    }
    return STORE_OK;
}

/* An atomic request is appended whole or not at all: every event is
   prepared and checked (against the state before the request) first. */
static int
apply_atomic(writer_t *self, pending_t *p, int64_t recorded_at, char *err, size_t errlen)
{
    event_t ev;
    bool ok = true, failed = false;
    if (p->atomic_refused) { /* found on an earlier try of this group */
        for (uint32_t i = 0; i < p->nresults; i++)
            prepare_event(self, p, i, &ev);
        ev_result_t *r = &p->results[p->refused_index];
        set_error(r, p->refused_code, p->refused_index, r->id, r->id_len, p->refused_message);
        for (uint32_t i = 0; i < p->nresults; i++)
            if (i != p->refused_index && p->results[i].status == R_VALID)
                set_error(&p->results[i], EVE_ABORTED, i, p->results[i].id, p->results[i].id_len,
                          "not appended: another event of this atomic batch was refused");
        return STORE_OK;
    }
    for (uint32_t i = 0; i < p->nresults; i++) {
        ev_result_t *r = &p->results[i];
        if (!prepare_event(self, p, i, &ev)) {
            ok = false;
            continue;
        }
        if (!admit_event(self, p, i, &ev, &failed, err, errlen) && r->status != R_DUP)
            ok = false;
        if (failed)
            return STORE_ERROR;
        for (uint32_t j = 0; j < i && r->status != R_ERROR_BASE + EVE_CONFLICT; j++) {
            ev_result_t *q = &p->results[j];
            if (q->id && q->id_len == r->id_len && memcmp(q->id, r->id, r->id_len) == 0 &&
                (q->canon_len != r->canon_len ||
                 memcmp(canon_of(self, q), canon_of(self, r), r->canon_len) != 0)) {
                set_error(r, EVE_CONFLICT, i, r->id, r->id_len,
                          "id: used earlier in this batch with different content");
                ok = false;
            }
        }
    }
    if (!ok) {
        for (uint32_t i = 0; i < p->nresults; i++)
            if (p->results[i].status == R_VALID || p->results[i].status == R_DUP)
                set_error(&p->results[i], EVE_ABORTED, i, p->results[i].id, p->results[i].id_len,
                          "not appended: another event of this atomic batch was refused");
        return STORE_OK;
    }
    for (uint32_t i = 0; i < p->nresults; i++) {
        ev_result_t *r = &p->results[i];
        if (r->status != R_VALID)
            continue;
        /* a repeat of an earlier event of this batch is a duplicate of it */
        uint64_t seq;
        if (find_existing(self, r, &seq, err, errlen) == FOUND_SAME) {
            r->seq = seq;
            r->status = R_DUP;
            continue;
        }
        ev_error_t e;
        if (event_decode(&p->req.events[i], &ev, &e) != EVE_OK)
            return STORE_ERROR;
        /* Checked against the state before the batch, an event may still
           clash with one appended just before it (two refunds that each
           fit, but not both). Then the whole group is redone without this
           request, which is refused whole. */
        if (projection_check(projector_live(self->projector), &ev, &e) != EVE_OK) {
            p->atomic_refused = true;
            p->refused_index = i;
            p->refused_code = e.code;
            snprintf(p->refused_message, sizeof p->refused_message, "%s", e.message);
            return STORE_RETRY;
        }
        int rc = append_event(self, r, &ev, recorded_at, err, errlen);
        if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

static int
apply_request(writer_t *self, pending_t *p, int64_t recorded_at, char *err, size_t errlen)
{
    p->nresults = p->req.nevents;
    p->results = calloc(p->nresults, sizeof(ev_result_t));
    if (!p->results) {
        snprintf(err, errlen, "out of memory for %u results", p->nresults);
        return STORE_ERROR;
    }
    if (p->req.atomic)
        return apply_atomic(self, p, recorded_at, err, errlen);
    event_t ev;
    for (uint32_t i = 0; i < p->nresults; i++) {
        bool failed = false;
        if (!prepare_event(self, p, i, &ev))
            continue;
        if (!admit_event(self, p, i, &ev, &failed, err, errlen)) {
            if (failed)
                return STORE_ERROR;
            continue;
        }
        int rc = append_event(self, &p->results[i], &ev, recorded_at, err, errlen);
        if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

/* An allocation becomes an atomic batch of target_set events computed from
   the projection; a preview only computes. */
static void
prepare_allocation(writer_t *self, pending_t *p)
{
    pq_result_t *q = &p->alloc;
    msgpack_sbuffer_init(&q->body);
    p->alloc_ready = true;
    const msgpack_object *preview = NULL;
    for (uint32_t i = 0; i < p->req.body->via.map.size; i++) {
        const msgpack_object_kv *kv = &p->req.body->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 7 &&
            !memcmp(kv->key.via.str.ptr, "preview", 7))
            preview = &kv->val;
    }
    p->preview = preview && preview->type == MSGPACK_OBJECT_BOOLEAN && preview->via.boolean;
    uint32_t n;
    p->alloc_rc =
        projection_allocate(projector_live(self->projector), p->req.body, q, &p->alloc_events, &n);
    if (p->alloc_rc != PQ_OK || p->preview)
        return;
    size_t off = 0;
    msgpack_unpacked_init(&p->alloc_unpacked);
    if (msgpack_unpack_next(&p->alloc_unpacked, p->alloc_events->data, p->alloc_events->size,
                            &off) != MSGPACK_UNPACK_SUCCESS) {
        p->alloc_rc = PQ_BAD_REQUEST;
        snprintf(q->message, sizeof q->message, "could not build the allocation's events");
        return;
    }
    p->req.events = p->alloc_unpacked.data.via.array.ptr;
    p->req.nevents = p->alloc_unpacked.data.via.array.size;
    p->req.atomic = true;
}

static bool
appends_events(const pending_t *p)
{
    return p->rc == WIRE_OK && (p->req.op == OP_APPEND ||
                                (p->req.op == OP_ALLOCATE && p->alloc_rc == PQ_OK && !p->preview));
}

/* Append every valid, new event of the group in one transaction. Returns
   STORE_OK (committed), STORE_MAP_FULL (aborted: grow and retry) or
   STORE_ERROR (aborted). */
static int
apply_group(writer_t *self, int64_t recorded_at, char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        if (p->rc == WIRE_OK && p->req.op == OP_ALLOCATE && !p->alloc_ready)
            prepare_allocation(self, p);
        if (appends_events(p))
            total += p->req.nevents;
    }
    if (dedup_reserve(self->dedup, total) != 0) {
        snprintf(err, errlen, "out of memory growing the id index");
        return STORE_ERROR;
    }
    int rc = store_begin(self->store, err, errlen);
    if (rc != STORE_OK)
        return rc;
    for (size_t k = 0; k < self->npending && rc == STORE_OK; k++)
        if (appends_events(&self->pending[k]))
            rc = apply_request(self, &self->pending[k], recorded_at, err, errlen);
    if (rc == STORE_OK)
        rc = projector_maybe_snapshot(self->projector, false, err, errlen);
    if (rc == STORE_OK)
        rc = store_commit(self->store, err, errlen);
    else
        store_abort(self->store);
    if (rc == STORE_OK)
        dedup_settle(self->dedup);
    else
        dedup_rollback(self->dedup);
    return rc;
}

/* Forget what apply_group did to the results, before a retry. */
static void
reset_results(writer_t *self)
{
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        for (uint32_t i = 0; i < p->nresults; i++)
            free(p->results[i].message);
        free(p->results);
        p->results = NULL;
        p->nresults = 0;
    }
    msgpack_sbuffer_clear(&self->canon);
}
static void
fail_group(writer_t *self, const char *why)
{
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        if (appends_events(p)) {
            p->rc = WIRE_INTERNAL;
            snprintf(p->message, sizeof p->message,
                     "nothing in this request was appended: %s; retry later", why);
        }
    }
}

static int
send_reply(writer_t *self, pending_t *p)
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
pack_append_reply(writer_t *self, pending_t *p, uint64_t counts[3], size_t extra)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&self->out);
    msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
    wire_reply_begin(&pk, p->req.corr, true, 5 + extra);
    wire_pack_str(&pk, "results");
    msgpack_pack_array(&pk, p->nresults);
    for (uint32_t i = 0; i < p->nresults; i++) {
        ev_result_t *r = &p->results[i];
        if (r->status == R_APPENDED || r->status == R_DUP) {
            msgpack_pack_map(&pk, 2);
            wire_pack_str(&pk, "seq");
            msgpack_pack_uint64(&pk, r->seq);
            wire_pack_str(&pk, "dup");
            if (r->status == R_DUP)
                msgpack_pack_true(&pk);
            else
                msgpack_pack_false(&pk);
            counts[r->status == R_DUP]++;
        } else {
            int code = r->status - R_ERROR_BASE;
            msgpack_pack_map(&pk, 2);
            wire_pack_str(&pk, "error");
            wire_pack_str(&pk, ev_errcode_name((ev_errcode_t)code));
            wire_pack_str(&pk, "message");
            wire_pack_text(&pk, r->message ? r->message : "refused");
            counts[2]++;
        }
    }
    wire_pack_str(&pk, "appended");
    msgpack_pack_uint64(&pk, counts[0]);
    wire_pack_str(&pk, "duplicates");
    msgpack_pack_uint64(&pk, counts[1]);
    wire_pack_str(&pk, "rejected");
    msgpack_pack_uint64(&pk, counts[2]);
    wire_pack_str(&pk, "last_seq");
    msgpack_pack_uint64(&pk, store_last_seq(self->store));
}

static void
reply_all(writer_t *self)
{
    for (size_t k = 0; k < self->npending; k++) {
        uint64_t totals[3] = {0, 0, 0}, bad = 0;
        pending_t *p = &self->pending[k];
        msgpack_packer pk;
        msgpack_sbuffer_clear(&self->out);
        msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
        if (p->rc == WIRE_OK && p->req.op == OP_ALLOCATE && p->alloc_rc != PQ_OK) {
            wire_reply_error_named(&pk, p->req.corr, pq_rc_name(p->alloc_rc), p->alloc.message);
            bad++;
        } else if (p->rc == WIRE_OK && p->req.op == OP_ALLOCATE && p->preview) {
            wire_reply_begin(&pk, p->req.corr, true, p->alloc.pairs);
            msgpack_sbuffer_write(&self->out, p->alloc.body.data, p->alloc.body.size);
        } else if (appends_events(p)) {
            uint64_t counts[3] = {0, 0, 0};
            size_t extra = p->req.op == OP_ALLOCATE ? p->alloc.pairs : 0;
            pack_append_reply(self, p, counts, extra);
            if (extra)
                msgpack_sbuffer_write(&self->out, p->alloc.body.data, p->alloc.body.size);
            for (int c = 0; c < 3; c++)
                totals[c] += counts[c];
        } else if (p->rc == WIRE_OK && p->req.op == OP_REBUILD) {
            wire_reply_begin(&pk, p->req.corr, true, 2);
            wire_pack_str(&pk, "events");
            msgpack_pack_uint64(&pk, p->rebuilt_events);
            wire_pack_str(&pk, "ms");
            msgpack_pack_uint64(&pk, (uint64_t)(p->rebuild_ms + 0.5));
        } else {
            if (p->rc == WIRE_OK) {
                p->rc = WIRE_UNKNOWN_OP;
                snprintf(p->message, sizeof p->message,
                         "op \"%.*s\" is not served on the append endpoint (append, allocate, "
                         "rebuild; the others are on the query endpoint)",
                         (int)(p->req.op_len > 40 ? 40 : p->req.op_len), p->req.op_name);
            }
            wire_reply_error(&pk, p->req.corr, p->rc, p->message);
            bad++;
        }
        /* counted before the reply goes out: a client that asks for the
           status after its reply must see its request counted */
        atomic_fetch_add_explicit(&self->stats->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->stats->appended, totals[0], memory_order_relaxed);
        atomic_fetch_add_explicit(&self->stats->duplicates, totals[1], memory_order_relaxed);
        atomic_fetch_add_explicit(&self->stats->rejected, totals[2], memory_order_relaxed);
        atomic_fetch_add_explicit(&self->stats->bad_requests, bad, memory_order_relaxed);
        if (send_reply(self, p) != 0)
            log_debug("reply not sent: %s", zmq_strerror(errno));
    }
}

/* The publish socket is an XPUB: it hands us each new subscription (first
   byte 1) and each one that ends (0; also when a subscriber goes away).
   While nobody subscribes, publishing is skipped: it would only be
   encoded to be dropped. */
static void
track_subscriptions(writer_t *self)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, self->pub, ZMQ_DONTWAIT) >= 0) {
        const uint8_t *d = zmq_msg_data(&m);
        if (zmq_msg_size(&m) >= 1 && d[0] == 1)
            self->subscriptions++;
        else if (zmq_msg_size(&m) >= 1 && d[0] == 0 && self->subscriptions > 0)
            self->subscriptions--;
    }
    zmq_msg_close(&m);
}

/* Publish each newly appended event: topic frame "event/<type>/", then
   {"seq", "recorded_at", "event"} with the stored bytes spliced in. */
static void
publish_all(writer_t *self, int64_t recorded_at)
{
    if (!self->pub)
        return;
    track_subscriptions(self);
    if (self->subscriptions == 0)
        return;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
    char topic[64];
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        if (!appends_events(p))
            continue;
        for (uint32_t i = 0; i < p->nresults; i++) {
            ev_result_t *r = &p->results[i];
            if (r->status != R_APPENDED)
                continue;
            int tn = snprintf(topic, sizeof topic, "event/%s/", ev_type_name(r->type));
            msgpack_sbuffer_clear(&self->out);
            msgpack_pack_map(&pk, 3);
            wire_pack_str(&pk, "seq");
            msgpack_pack_uint64(&pk, r->seq);
            wire_pack_str(&pk, "recorded_at");
            msgpack_pack_int64(&pk, recorded_at);
            wire_pack_str(&pk, "event");
            msgpack_sbuffer_write(&self->out, (const char *)canon_of(self, r), r->canon_len);
            if (zmq_send(self->pub, topic, (size_t)tn, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                zmq_send(self->pub, self->out.data, self->out.size, ZMQ_DONTWAIT) < 0)
                log_debug("publish of seq %llu dropped: %s", (unsigned long long)r->seq,
                          zmq_strerror(errno));
        }
    }
}

static void
release_group(writer_t *self)
{
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        for (uint32_t i = 0; i < p->nresults; i++)
            free(p->results[i].message);
        free(p->results);
        if (p->alloc_ready) {
            msgpack_sbuffer_destroy(&p->alloc.body);
            if (p->alloc_events) {
                msgpack_sbuffer_destroy(p->alloc_events);
                free(p->alloc_events);
            }
            if (p->alloc_rc == PQ_OK && !p->preview)
                msgpack_unpacked_destroy(&p->alloc_unpacked);
        }
        wire_request_free(&p->req);
        zmq_msg_close(&p->ident);
        zmq_msg_close(&p->body);
        memset(p, 0, sizeof *p);
    }
    self->npending = 0;
    msgpack_sbuffer_clear(&self->canon);
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

/* Receive one request without blocking. 1: got one into p; 0: none
   waiting; -1: a malformed frame sequence was dropped. */
static int
receive_request(writer_t *self, pending_t *p)
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
    p->rc = wire_request_parse(&p->req, zmq_msg_data(&p->body), zmq_msg_size(&p->body), p->message,
                               sizeof p->message);
    return 1;
}

/* Collect every request already waiting, up to the group limits. */
static size_t
gather(writer_t *self)
{
    size_t events = 0;
    while (self->npending < WRITER_GROUP_MAX_REQS && events < WRITER_GROUP_MAX_EVENTS) {
        pending_t *p = &self->pending[self->npending];
        int got = receive_request(self, p);
        if (got == 0)
            break;
        if (got < 0)
            continue;
        if (p->rc == WIRE_OK && p->req.op == OP_APPEND)
            events += p->req.nevents;
        self->npending++;
    }
    return events;
}

static double
ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* rebuild requests run after the group's commit, with the projection
   still locked, each in a transaction of its own (for the snapshots). */
static void
run_rebuilds(writer_t *self)
{
    char err[512];
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        if (p->rc != WIRE_OK || p->req.op != OP_REBUILD)
            continue;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = store_begin(self->store, err, sizeof err);
        if (rc == STORE_OK)
            rc = projector_rebuild(self->projector, &p->rebuilt_events, err, sizeof err);
        if (rc == STORE_OK)
            rc = store_commit(self->store, err, sizeof err);
        else
            store_abort(self->store);
        p->rebuild_ms = ms_since(&t0);
        if (rc != STORE_OK) {
            p->rc = WIRE_INTERNAL;
            snprintf(p->message, sizeof p->message, "rebuild failed: %s", err);
            log_error("rebuild failed: %s", err);
        } else
            log_info("projection rebuilt: %llu events in %.0f ms",
                     (unsigned long long)p->rebuilt_events, p->rebuild_ms);
    }
}

/* The live projection may hold events of an aborted transaction. */
static void
restore_projection(writer_t *self)
{
    char err[512];
    if (projector_reload(self->projector, err, sizeof err) != STORE_OK)
        log_error("projection reload failed: %s", err);
}

/* One group: apply, commit (growing the map as often as needed), answer. */
static int
process_group(writer_t *self)
{
    char err[512];
    int64_t recorded_at = now_ms();
    if (recorded_at < self->last_recorded_at)
        recorded_at = self->last_recorded_at;
    int rc;
    projector_write_lock(self->projector);
    while ((rc = apply_group(self, recorded_at, err, sizeof err)) == STORE_MAP_FULL ||
           rc == STORE_RETRY) {
        reset_results(self);
        restore_projection(self);
        if (rc == STORE_RETRY)
            continue;
        if (store_grow(self->store, err, sizeof err) != STORE_OK) {
            rc = STORE_ERROR;
            break;
        }
        atomic_fetch_add_explicit(&self->stats->map_resizes, 1, memory_order_relaxed);
        atomic_store(&self->stats->map_size, store_map_size(self->store));
        log_info("LMDB map full: grew it to %zu MiB", store_map_size(self->store) >> 20);
    }
    if (rc == STORE_OK) {
        atomic_fetch_add_explicit(&self->stats->commits, 1, memory_order_relaxed);
        self->last_recorded_at = recorded_at;
        run_rebuilds(self);
    } else {
        log_error("group of %zu requests not appended: %s", self->npending, err);
        restore_projection(self);
        fail_group(self, err);
    }
    projector_unlock(self->projector);
    reply_all(self);
    if (rc == STORE_OK)
        publish_all(self, recorded_at);
    release_group(self);
    return rc == STORE_OK ? 0 : -1;
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
    zmq_pollitem_t items[2] = {{self->router, 0, ZMQ_POLLIN, 0}, {self->pub, 0, ZMQ_POLLIN, 0}};
    int failures = 0;
    while (!*stop) {
        int n = zmq_poll(items, self->pub ? 2 : 1, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("polling the append socket: %s", zmq_strerror(errno));
            return -1;
        }
        if (n == 0)
            continue;
        if (self->pub && (items[1].revents & ZMQ_POLLIN))
            track_subscriptions(self);
        gather(self);
        if (self->npending == 0)
            continue;
        /* A store failure is answered (nothing acknowledged); repeated ones
           mean the disk or the environment is broken: stop and say so. */
        failures = process_group(self) == 0 ? 0 : failures + 1;
        if (failures >= 10) {
            log_error("10 consecutive groups failed; stopping");
            return -1;
        }
    }
    return 0;
}
