/*  group: see group.h. */

#include "daemon/group.h"

#include "daemon/command.h"
#include "events/codec.h"
#include "events/currency.h"
#include "events/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena bytes kept from one group to the next. */
#define GROUP_ARENA_KEEP ((size_t)16 << 20)

group_t *
group_new(void)
{
    group_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pending = calloc(GROUP_MAX_REQS, sizeof(pending_t));
    if (!self->pending) {
        free(self);
        return NULL;
    }
    msgpack_sbuffer_init(&self->canon);
    outbox_batch_init(&self->outbox);
    outbox_batch_init(&self->progress);
    return self;
}

void
group_destroy(group_t **self_p)
{
    group_t *self = *self_p;
    if (!self)
        return;
    group_release(self);
    free(self->pending);
    msgpack_sbuffer_destroy(&self->canon);
    free(self->values);
    outbox_batch_destroy(&self->outbox);
    outbox_batch_destroy(&self->progress);
    free(self);
    *self_p = NULL;
}

bool
group_appends_events(const pending_t *p)
{
    if (p->rc != WIRE_OK)
        return false;
    if (!p->cmd_class)
        return p->req.op == OP_APPEND;
    return p->cmd_class->appends && p->cmd_class->appends(p->cmd);
}

/* "event 3 (id "ord-17"): what", malloc'd into *message. */
static void
set_message(char **message, uint32_t index, const char *id, uint32_t id_len, const char *what)
{
    char buf[640], quoted[4 * EV_ID_MAX + 1];
    if (id)
        snprintf(buf, sizeof buf, "event %u (id \"%s\"): %s", index,
                 ev_escape(id, id_len, quoted, sizeof quoted), what);
    else
        snprintf(buf, sizeof buf, "event %u: %s", index, what);
    free(*message);
    *message = strdup(buf);
}

static bool
prep_refuse(ev_result_t *r, int code, uint32_t index, const char *id, uint32_t id_len,
            const char *what)
{
    set_message(&r->prep_message, index, id, id_len, what);
    r->prepared = r->status = R_ERROR_BASE + code;
    return false;
}

void
group_refuse(ev_result_t *r, int code, uint32_t index, const char *what)
{
    set_message(&r->message, index, r->id, r->id_len, what);
    r->status = R_ERROR_BASE + code;
}

/* Room for one more event's values; false when out of memory. */
static bool
values_reserve(group_t *self)
{
    if (self->values_cap - self->nvalues >= F_COUNT)
        return true;
    size_t cap = self->values_cap ? self->values_cap * 2 : 65536;
    ev_value_t *grown = realloc(self->values, cap * sizeof *grown);
    if (!grown)
        return false;
    self->values = grown;
    self->values_cap = cap;
    return true;
}

/* Room for one more canonical encoding; the slack keeps a bound that is a
   little above the true size from refusing an event that fits. */
#define CANON_ROOM (EV_MAX_BYTES + 4096)

static bool
canon_reserve(group_t *self)
{
    msgpack_sbuffer *c = &self->canon;
    if (c->alloc - c->size >= CANON_ROOM)
        return true;
    size_t cap = c->alloc ? c->alloc * 2 : 1 << 20;
    while (cap - c->size < CANON_ROOM)
        cap *= 2;
    char *grown = realloc(c->data, cap);
    if (!grown)
        return false;
    c->data = grown;
    c->alloc = cap;
    return true;
}

/* Decode, validate, encode canonically and hash event i of p; on failure
   its result carries the error. */
static bool
prepare_event(group_t *self, pending_t *p, uint32_t i)
{
    ev_result_t *r = &p->results[i];
    const msgpack_object *obj = &p->req.events[i];
    ev_error_t err;
    event_t ev;
    if (event_decode(obj, &ev, &err) != EVE_OK) {
        ev_str_t id = event_peek_id(obj);
        return prep_refuse(r, err.code, i, id.ptr, id.len, err.message);
    }
    r->type = ev.type;
    r->id = ev.v[F_ID].s.ptr;
    r->id_len = ev.v[F_ID].s.len;
    if (!values_reserve(self) || !canon_reserve(self))
        return prep_refuse(r, EVE_INTERNAL, i, r->id, r->id_len,
                           "out of memory encoding the event");
    r->present = ev.present;
    r->values_off = (uint32_t)self->nvalues;
    ev_value_t *v = self->values + self->nvalues;
    for (uint64_t m = ev.present; m; m &= m - 1)
        *v++ = ev.v[__builtin_ctzll(m)];
    self->nvalues = (size_t)(v - self->values);

    msgpack_sbuffer *c = &self->canon;
    r->canon_off = (uint32_t)c->size;
    size_t len = event_encode_buf(&ev, (uint8_t *)c->data + c->size, CANON_ROOM);
    r->canon_len = len ? (uint32_t)len : EV_MAX_BYTES + 1;
    if (len)
        c->size += len;
    if (r->canon_len > EV_MAX_BYTES) {
        char what[96];
        snprintf(what, sizeof what, "encoded event is %u bytes, at most %d allowed", r->canon_len,
                 EV_MAX_BYTES);
        return prep_refuse(r, EVE_TOO_LONG, i, r->id, r->id_len, what);
    }
    /* the list is applied here, at admission only: see events/currency.h */
    ev_str_t cur = ev.v[F_CURRENCY].s;
    if (event_has(&ev, F_CURRENCY) && !currency_is_iso4217(cur.ptr, cur.len)) {
        char what[96];
        snprintf(what, sizeof what, "currency: \"%.3s\" is not a current ISO 4217 code%s", cur.ptr,
                 memcmp(cur.ptr, "RMB", 3) == 0 ? " (the renminbi is CNY)" : "");
        return prep_refuse(r, EVE_INVALID_VALUE, i, r->id, r->id_len, what);
    }
    r->id_hash = event_id_hash(r->id, r->id_len);
    r->prepared = r->status = R_VALID;
    return true;
}

int
group_prepare(group_t *self, pending_t *p)
{
    if (p->prepared)
        return 0;
    p->nresults = p->req.nevents;
    p->results = calloc(p->nresults ? p->nresults : 1, sizeof(ev_result_t));
    if (!p->results) {
        p->nresults = 0;
        p->rc = WIRE_INTERNAL;
        snprintf(p->message, sizeof p->message, "out of memory for %u results; retry later",
                 p->req.nevents);
        return -1;
    }
    for (uint32_t i = 0; i < p->nresults; i++)
        prepare_event(self, p, i);
    p->prepared = true;
    return 0;
}

void
group_event(const group_t *self, const ev_result_t *r, event_t *ev)
{
    ev->type = r->type;
    ev->present = r->present;
    ev->v[F_TYPE].i = r->type;
    const ev_value_t *v = self->values + r->values_off;
    for (uint64_t m = r->present; m; m &= m - 1)
        ev->v[__builtin_ctzll(m)] = *v++;
}

const uint8_t *
group_canon(const group_t *self, const ev_result_t *r)
{
    return (const uint8_t *)self->canon.data + r->canon_off;
}

void
group_reset(group_t *self)
{
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        for (uint32_t i = 0; i < p->nresults; i++) {
            ev_result_t *r = &p->results[i];
            free(r->message);
            r->message = NULL;
            r->status = r->prepared;
            r->seq = 0;
        }
    }
}

void
group_fail(group_t *self, const char *why)
{
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        bool appends = group_appends_events(p);
        if (appends || (command_flags(p) & CMD_COMMITS)) {
            p->rc = WIRE_INTERNAL;
            snprintf(p->message, sizeof p->message,
                     "nothing in this request was %s: %s; retry later",
                     appends ? "appended" : "committed", why);
        }
    }
}

/* {"seq": seq, "dup": dup} byte for byte as msgpack-c packs it (the
   shortest integer form), at most SEQ_DUP_MAX bytes. These maps are most
   of a reply; packing them token by token cost a call per token. */
#define SEQ_DUP_MAX 19

static uint8_t *
put_seq_dup(uint8_t *p, uint64_t seq, bool dup)
{
    static const uint8_t head[5] = {0x82, 0xa3, 's', 'e', 'q'};
    static const uint8_t dup_key[4] = {0xa3, 'd', 'u', 'p'};
    memcpy(p, head, sizeof head);
    p = ev_put_uint(p + sizeof head, seq);
    memcpy(p, dup_key, sizeof dup_key);
    p += sizeof dup_key;
    *p++ = dup ? 0xc3 : 0xc2;
    return p;
}

void
group_pack_results(group_t *self, pending_t *p, msgpack_packer *pk, uint64_t counts[3],
                   size_t extra)
{
    wire_reply_begin(pk, p->req.corr, true, 5 + extra);
    wire_pack_str(pk, "results");
    msgpack_pack_array(pk, p->nresults);
    uint8_t buf[4096], *end = buf;
    for (uint32_t i = 0; i < p->nresults; i++) {
        ev_result_t *r = &p->results[i];
        if (r->status == R_APPENDED || r->status == R_DUP) {
            if (end - buf > (ptrdiff_t)(sizeof buf - SEQ_DUP_MAX)) {
                pk->callback(pk->data, (const char *)buf, (size_t)(end - buf));
                end = buf;
            }
            end = put_seq_dup(end, r->seq, r->status == R_DUP);
            counts[r->status == R_DUP]++;
        } else {
            if (end > buf) {
                pk->callback(pk->data, (const char *)buf, (size_t)(end - buf));
                end = buf;
            }
            int code = r->status - R_ERROR_BASE;
            const char *message = r->message ? r->message : r->prep_message;
            msgpack_pack_map(pk, 2);
            wire_pack_str(pk, "error");
            wire_pack_str(pk, ev_errcode_name((ev_errcode_t)code));
            wire_pack_str(pk, "message");
            wire_pack_text(pk, message ? message : "refused");
            counts[2]++;
        }
    }
    if (end > buf)
        pk->callback(pk->data, (const char *)buf, (size_t)(end - buf));
    wire_pack_str(pk, "appended");
    msgpack_pack_uint64(pk, counts[0]);
    wire_pack_str(pk, "duplicates");
    msgpack_pack_uint64(pk, counts[1]);
    wire_pack_str(pk, "rejected");
    msgpack_pack_uint64(pk, counts[2]);
    wire_pack_str(pk, "last_seq");
    msgpack_pack_uint64(pk, self->last_seq);
}

bool
group_pack_reply(group_t *self, pending_t *p, msgpack_sbuffer *out, uint64_t counts[3])
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    counts[0] = counts[1] = counts[2] = 0;
    if (p->rc == WIRE_OK && p->cmd_class)
        return p->cmd_class->pack(p->cmd, self, p, out, counts);
    if (p->rc == WIRE_OK && p->req.op == OP_APPEND) {
        group_pack_results(self, p, &pk, counts, 0);
        return true;
    }
    if (p->rc == WIRE_OK) {
        p->rc = WIRE_UNKNOWN_OP;
        char served[200];
        snprintf(p->message, sizeof p->message,
                 "op \"%.*s\" is not served on the append endpoint (%s; the others are on "
                 "the query endpoint)",
                 (int)(p->req.op_len > 40 ? 40 : p->req.op_len), p->req.op_name,
                 wire_ops_served(WIRE_ON_APPEND, served, sizeof served));
    }
    wire_reply_error(&pk, p->req.corr, p->rc, p->message);
    return false;
}

void
group_release(group_t *self)
{
    for (size_t k = 0; k < self->npending; k++) {
        pending_t *p = &self->pending[k];
        for (uint32_t i = 0; i < p->nresults; i++) {
            free(p->results[i].message);
            free(p->results[i].prep_message);
        }
        free(p->results);
        if (p->cmd)
            p->cmd_class->destroy(&p->cmd);
        wire_request_free(&p->req);
        zmq_msg_close(&p->ident);
        zmq_msg_close(&p->body);
        memset(p, 0, sizeof *p);
    }
    self->npending = 0;
    self->nevents = 0;
    self->nvalues = 0;
    self->committed = false;
    self->recorded_at = 0;
    self->last_seq = 0;
    self->last_aseq = 0;
    outbox_batch_clear(&self->outbox);
    outbox_batch_clear(&self->progress);
    msgpack_sbuffer_clear(&self->canon);
    /* Three groups circulate; after a burst of huge requests, give their
       arenas back rather than hold the peak three times over. */
    if (self->canon.alloc > GROUP_ARENA_KEEP) {
        msgpack_sbuffer_destroy(&self->canon);
        msgpack_sbuffer_init(&self->canon);
    }
    if (self->values_cap * sizeof(ev_value_t) > GROUP_ARENA_KEEP) {
        free(self->values);
        self->values = NULL;
        self->values_cap = 0;
    }
}

bool
group_send(void *socket, group_t *g)
{
    while (zmq_send(socket, &g, sizeof g, 0) < 0)
        if (errno != EINTR)
            return false;
    return true;
}
