/*  cmd_allocate: the allocate command on the append endpoint (a class of
    daemon/command).

    An allocation splits a target over the nodes below it
    (projection_allocate) and becomes an atomic batch of target_set
    events, computed from the projection as it stands when the group is
    first applied (before the group's own events), and applied as an
    atomic append. The split is computed once: a group applied again keeps
    it. A preview only computes and appends nothing; an allocation the
    projection refuses is answered with its pq_rc_t name. */

#include "daemon/command.h"

#include "projections/projection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool ready; /* computed (on the group's first try) */
    bool preview;
    pq_rc_t rc;
    pq_result_t result;
    msgpack_sbuffer *events; /* the target_set events, packed */
    bool unpacked_init;
    msgpack_unpacked unpacked; /* ... and unpacked: the request's events */
} allocate_t;

static void *
allocate_create(const pending_t *p)
{
    return calloc(1, sizeof(allocate_t));
}

static void
allocate_destroy(void **state_p)
{
    allocate_t *a = *state_p;
    if (!a)
        return;
    if (a->ready)
        msgpack_sbuffer_destroy(&a->result.body);
    if (a->events) {
        msgpack_sbuffer_destroy(a->events);
        free(a->events);
    }
    if (a->unpacked_init)
        msgpack_unpacked_destroy(&a->unpacked);
    free(a);
    *state_p = NULL;
}

static void
allocate_prepare(void *state, command_env_t *env, group_t *g, pending_t *p)
{
    allocate_t *a = state;
    if (a->ready)
        return;
    pq_result_t *q = &a->result;
    msgpack_sbuffer_init(&q->body);
    a->ready = true;
    uint32_t n;
    a->rc = projection_allocate(projector_live(env->projector), p->req.body, q, &a->events, &n);
    if (a->rc != PQ_OK)
        return;
    /* checked by projection_allocate with the other keys, so this read
       cannot fail; an ill-typed preview was answered bad_request there */
    if (wire_req_bool(p->req.body, &pq_f_preview, &a->preview, q->message, sizeof q->message) < 0) {
        a->rc = PQ_BAD_REQUEST;
        return;
    }
    if (a->preview)
        return;
    size_t off = 0;
    msgpack_unpacked_init(&a->unpacked);
    a->unpacked_init = true;
    if (msgpack_unpack_next(&a->unpacked, a->events->data, a->events->size, &off) !=
        MSGPACK_UNPACK_SUCCESS) {
        a->rc = PQ_BAD_REQUEST;
        snprintf(q->message, sizeof q->message, "could not build the allocation's events");
        return;
    }
    p->req.events = a->unpacked.data.via.array.ptr;
    p->req.nevents = a->unpacked.data.via.array.size;
    p->req.atomic = true;
    group_prepare(g, p);
}

static bool
allocate_appends(const void *state)
{
    const allocate_t *a = state;
    return a->ready && a->rc == PQ_OK && !a->preview;
}

static bool
allocate_pack(void *state, group_t *g, pending_t *p, msgpack_sbuffer *out, uint64_t counts[3])
{
    allocate_t *a = state;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (!a->ready) { /* its group was never applied */
        wire_reply_error(&pk, p->req.corr, WIRE_INTERNAL, "the allocation was not computed");
        return false;
    }
    if (a->rc != PQ_OK) {
        wire_reply_error_named(&pk, p->req.corr, pq_rc_name(a->rc), a->result.message);
        return false;
    }
    if (a->preview) {
        wire_reply_begin(&pk, p->req.corr, true, a->result.pairs);
        msgpack_sbuffer_write(out, a->result.body.data, a->result.body.size);
        return true;
    }
    group_pack_results(g, p, &pk, counts, a->result.pairs);
    if (a->result.pairs)
        msgpack_sbuffer_write(out, a->result.body.data, a->result.body.size);
    return true;
}

const command_class_t command_allocate = {
    .name = "allocate",
    .op = OP_ALLOCATE,
    .create = allocate_create,
    .destroy = allocate_destroy,
    .prepare = allocate_prepare,
    .appends = allocate_appends,
    .pack = allocate_pack,
};
