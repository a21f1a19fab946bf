/*  admission: see admission.h. */

#include "daemon/admission.h"

#include "daemon/store_log.h"
#include "events/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _admission_t {
    store_t *store;
    dedup_t *dedup;
    projector_t *projector;
    alerter_t *alerter;
    admission_memory_fn *in_memory;
    void *arg;
    store_reader_t *reader; /* during one apply */
    msgpack_zone zone;      /* for decoding stored events on a hash hit */
};

admission_t *
admission_new(store_t *store, dedup_t *dedup, projector_t *projector, alerter_t *alerter,
              admission_memory_fn *in_memory, void *arg)
{
    admission_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->dedup = dedup;
    self->projector = projector;
    self->alerter = alerter;
    self->in_memory = in_memory;
    self->arg = arg;
    msgpack_zone_init(&self->zone, 4096);
    return self;
}

void
admission_destroy(admission_t **self_p)
{
    admission_t *self = *self_p;
    if (!self)
        return;
    store_read_end(&self->reader);
    msgpack_zone_destroy(&self->zone);
    free(self);
    *self_p = NULL;
}

void
admission_end(admission_t *self)
{
    store_read_end(&self->reader);
}

/* The id of a stored canonical event (decoded on the rare hash hit); it
   points into the zone until the next msgpack_zone_clear. */
static ev_str_t
stored_id(admission_t *self, const uint8_t *event, size_t len)
{
    msgpack_object obj;
    size_t off = 0;
    ev_str_t none = {NULL, 0};
    if (msgpack_unpack((const char *)event, len, &off, &self->zone, &obj) != MSGPACK_UNPACK_SUCCESS)
        return none;
    return event_peek_id(&obj);
}

bool
admission_event_id(admission_t *self, const uint8_t *event, size_t len, char *id, size_t cap)
{
    ev_str_t s = stored_id(self, event, len);
    bool ok = s.ptr && s.len < cap;
    if (ok) {
        memcpy(id, s.ptr, s.len);
        id[s.len] = 0;
    }
    msgpack_zone_clear(&self->zone);
    return ok;
}

/* The canonical bytes of event seq: in memory if the group being applied
   or the one committing appended it, else from the log. */
static int
event_bytes(admission_t *self, uint64_t seq, const uint8_t **event, size_t *len, char *err,
            size_t errlen)
{
    if (self->in_memory(self->arg, seq, event, len))
        return STORE_OK;
    /* Everything before the job in hand is committed; the reader is
       closed before the writer ever waits for that job (a map growth in
       the commit thread waits for every reader). */
    store_record_t rec;
    if (!self->reader && !(self->reader = store_read_begin(self->store, err, errlen)))
        return STORE_ERROR;
    int rc = store_reader_get(self->reader, seq, &rec, err, errlen);
    if (rc == STORE_NOT_FOUND)
        snprintf(err, errlen, "the duplicate index names seq %llu, which is not in the log",
                 (unsigned long long)seq);
    *event = rec.event;
    *len = rec.event_len;
    return rc;
}

typedef enum { FOUND_NONE, FOUND_SAME, FOUND_CONFLICT, FOUND_ERROR } found_t;

/* Look an event up in the log, including the appends not yet committed. */
static found_t
find_existing(admission_t *self, group_t *g, const ev_result_t *r, uint64_t *seq_out, char *err,
              size_t errlen)
{
    dedup_iter_t it;
    const uint8_t *canon = group_canon(g, r);
    for (uint64_t seq = dedup_first(self->dedup, r->id_hash, &it); seq;
         seq = dedup_next(self->dedup, &it)) {
        const uint8_t *event;
        size_t len;
        if (event_bytes(self, seq, &event, &len, err, errlen) != STORE_OK)
            return FOUND_ERROR;
        *seq_out = seq;
        if (len == r->canon_len && memcmp(event, canon, r->canon_len) == 0)
            return FOUND_SAME;
        ev_str_t id = stored_id(self, event, len);
        msgpack_zone_clear(&self->zone);
        if (id.len == r->id_len && memcmp(id.ptr, r->id, r->id_len) == 0)
            return FOUND_CONFLICT;
    }
    return FOUND_NONE;
}

admission_verdict_t
admission_event(admission_t *self, group_t *g, ev_result_t *r, uint32_t i, const event_t *ev,
                char *err, size_t errlen)
{
    found_t f = find_existing(self, g, r, &r->seq, err, errlen);
    if (f == FOUND_ERROR)
        return ADMIT_FAILED;
    if (f == FOUND_SAME) {
        r->status = R_DUP;
        return ADMIT_DUPLICATE;
    }
    if (f == FOUND_CONFLICT) {
        group_refuse(r, EVE_CONFLICT, i, "id: already in the log with different content");
        return ADMIT_REFUSED;
    }
    ev_error_t perr;
    if (foldset_check(projector_folds(self->projector), ev, &perr) != EVE_OK ||
        alerter_check(self->alerter, ev, &perr) != EVE_OK) {
        group_refuse(r, perr.code, i, perr.message);
        return ADMIT_REFUSED;
    }
    return ADMIT_NEW;
}

/* Every event of an atomic request not refused itself is aborted. */
static void
abort_rest(pending_t *p, uint32_t except)
{
    for (uint32_t i = 0; i < p->nresults; i++)
        if (i != except && (p->results[i].status == R_VALID || p->results[i].status == R_DUP))
            group_refuse(&p->results[i], EVE_ABORTED, i,
                         "not appended: another event of this atomic batch was refused");
}

admission_verdict_t
admission_batch(admission_t *self, group_t *g, pending_t *p, char *err, size_t errlen)
{
    event_t ev;
    bool ok = true;
    if (p->atomic_refused) { /* found on an earlier try of this group */
        group_refuse(&p->results[p->refused_index], p->refused_code, p->refused_index,
                     p->refused_message);
        abort_rest(p, p->refused_index);
        return ADMIT_REFUSED;
    }
    for (uint32_t i = 0; i < p->nresults; i++) {
        ev_result_t *r = &p->results[i];
        if (r->status != R_VALID) {
            ok = false;
            continue;
        }
        group_event(g, r, &ev);
        admission_verdict_t v = admission_event(self, g, r, i, &ev, err, errlen);
        if (v == ADMIT_FAILED)
            return ADMIT_FAILED;
        if (v == ADMIT_REFUSED)
            ok = false;
        for (uint32_t j = 0; j < i && r->status != R_ERROR_BASE + EVE_CONFLICT; j++) {
            ev_result_t *q = &p->results[j];
            if (q->id && q->id_len == r->id_len && memcmp(q->id, r->id, r->id_len) == 0 &&
                (q->canon_len != r->canon_len ||
                 memcmp(group_canon(g, q), group_canon(g, r), r->canon_len) != 0)) {
                group_refuse(r, EVE_CONFLICT, i,
                             "id: used earlier in this batch with different content");
                ok = false;
            }
        }
    }
    if (!ok) {
        abort_rest(p, UINT32_MAX);
        return ADMIT_REFUSED;
    }
    return ADMIT_NEW;
}

admission_verdict_t
admission_batch_event(admission_t *self, group_t *g, pending_t *p, uint32_t i, const event_t *ev,
                      char *err, size_t errlen)
{
    ev_result_t *r = &p->results[i];
    /* a repeat of an earlier event of this batch is a duplicate of it */
    uint64_t seq;
    found_t f = find_existing(self, g, r, &seq, err, errlen);
    if (f == FOUND_ERROR)
        return ADMIT_FAILED;
    if (f == FOUND_SAME) {
        r->seq = seq;
        r->status = R_DUP;
        return ADMIT_DUPLICATE;
    }
    ev_error_t e;
    if (projection_check(projector_live(self->projector), ev, &e) != EVE_OK) {
        p->atomic_refused = true;
        p->refused_index = i;
        p->refused_code = e.code;
        snprintf(p->refused_message, sizeof p->refused_message, "%s", e.message);
        return ADMIT_AGAIN;
    }
    return ADMIT_NEW;
}
