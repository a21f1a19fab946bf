/*  fold_test_counter: a fold that exists only in the test build
    (pacerd-testfold), to show that a fold and its operation are one file
    plus one registration line (projections/folds.c) and work end to
    end: it counts the events it folds and answers the operation
    `test_counter` with that count and the first seq it saw, or only the
    counters its request's `only` names (a key the fold set checks against
    the operation's fields before answer runs). A fold new to
    a snapshot is folded from the first event while the projection loads
    from the snapshot (tests/it_folds.py). */

#include "projections/fold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t events, sales, first_seq;
} counter_t;

static void *
create(const det_env_t *env)
{
    return calloc(1, sizeof(counter_t));
}

static void
destroy(void **state_p)
{
    free(*state_p);
    *state_p = NULL;
}

static int
fold(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
     void *arg)
{
    counter_t *c = state;
    if (!c->events)
        c->first_seq = seq;
    c->events++;
    c->sales += ev->type == EV_SALE_CLOSED;
    return 0;
}

static int
save(void *state, msgpack_packer *pk)
{
    counter_t *c = state;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, c->events);
    msgpack_pack_uint64(pk, c->sales);
    msgpack_pack_uint64(pk, c->first_seq);
    return 0;
}

static int
load(void *state, const msgpack_object *obj, char *err, size_t errlen)
{
    counter_t *c = state;
    if (obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size != 3) {
        snprintf(err, errlen, "test_counter: not its snapshot");
        return -1;
    }
    for (int i = 0; i < 3; i++)
        if (obj->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            snprintf(err, errlen, "test_counter: damaged snapshot");
            return -1;
        }
    c->events = obj->via.array.ptr[0].via.u64;
    c->sales = obj->via.array.ptr[1].via.u64;
    c->first_seq = obj->via.array.ptr[2].via.u64;
    return 0;
}

static int
set_param(void *state, const char *param, double value, char *err, size_t errlen)
{
    snprintf(err, errlen, "test_counter has no setting %s", param);
    return -1;
}

static size_t
memory(void *state)
{
    return sizeof(counter_t);
}

static void
pack_kv(msgpack_packer *pk, const char *k, uint64_t v)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    msgpack_pack_uint64(pk, v);
}

static const char *const COUNTERS[] = {"events", "sales", "first_seq"};
#define NCOUNTERS 3

/* `only`: a counter's name or a list of them; absent (or nil), all. */
static const wire_field_t f_only = {.name = "only", .type = WIRE_FIELD_STRS, .max = NCOUNTERS};
static const wire_field_t *const answer_fields[] = {&f_only, NULL};

static int
answer(void *state, const msgpack_object *request, int64_t now, msgpack_packer *pk, char *err,
       size_t errlen)
{
    counter_t *c = state;
    const uint64_t values[NCOUNTERS] = {c->events, c->sales, c->first_seq};
    bool want[NCOUNTERS] = {true, true, true};
    const msgpack_object *only;
    int has = wire_req_obj(request, &f_only, &only, err, errlen);
    if (has < 0)
        return -1;
    if (has) {
        /* a string is a list of one */
        const msgpack_object *names = only->type == MSGPACK_OBJECT_STR ? only : only->via.array.ptr;
        uint32_t n = only->type == MSGPACK_OBJECT_STR ? 1 : only->via.array.size;
        memset(want, 0, sizeof want);
        for (uint32_t i = 0; i < n; i++) {
            int k = 0;
            while (k < NCOUNTERS &&
                   (strlen(COUNTERS[k]) != names[i].via.str.size ||
                    memcmp(COUNTERS[k], names[i].via.str.ptr, names[i].via.str.size) != 0))
                k++;
            if (k == NCOUNTERS)
                return wire_req_expected("only", "events, sales or first_seq", err, errlen);
            want[k] = true;
        }
    }
    int pairs = 0;
    for (int k = 0; k < NCOUNTERS; k++)
        if (want[k]) {
            pack_kv(pk, COUNTERS[k], values[k]);
            pairs++;
        }
    return pairs;
}

static const fold_op_t ops[] = {{"test_counter", answer, answer_fields}, {NULL, NULL, NULL}};

const fold_class_t fold_test_counter = {.name = "test_counter",
                                        .version = 1,
                                        .create = create,
                                        .destroy = destroy,
                                        .fold = fold,
                                        .save = save,
                                        .load = load,
                                        .set_param = set_param,
                                        .memory = memory,
                                        .ops = ops};
