/*  libFuzzer target: what pacerd does with an untrusted request body
    before it touches the log: the structural scan, msgpack-c decoding and
    request parsing (events/wire.c); for an append, each event's validation,
    canonical encoding and admission against the projection; for a query
    of the projection (progress, leaderboard, target_history,
    undefined_nodes, allocate), the query itself, on the fixture
    (tests/fuzz_fixture.h), which queries only read.

    Build: cmake -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang; run:
    ./fuzz_request -dict=tests/corpus/pacer.dict corpus/ tests/corpus/fuzz_request */

#include "tests/fuzz_fixture.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
append(const fuzz_fixture_t *fx, const wire_request_t *req)
{
    for (uint32_t i = 0; i < req->nevents; i++) {
        event_t ev;
        ev_error_t err;
        ev_errcode_t rc = event_decode(&req->events[i], &ev, &err);
        if (rc != EVE_OK) {
            fuzz_check_refusal(rc, &err);
            continue;
        }
        fuzz_check_canonical(&ev);
        rc = projection_check(fx->projection, &ev, &err);
        if (rc != EVE_OK)
            fuzz_check_refusal(rc, &err);
    }
}

/* The reply pairs a query packed: 2 * pairs msgpack values, nothing else. */
static void
check_pairs(const pq_result_t *res)
{
    size_t off = 0, n = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    while (off < res->body.size) {
        FUZZ_CHECK(msgpack_unpack_next(&u, res->body.data, res->body.size, &off) ==
                   MSGPACK_UNPACK_SUCCESS);
        n++;
    }
    FUZZ_CHECK(n == 2 * res->pairs);
    msgpack_unpacked_destroy(&u);
}

/* An allocation's generated events are an array of valid events. */
static void
check_allocation(const msgpack_sbuffer *events, uint32_t nevents)
{
    msgpack_unpacked u;
    FUZZ_CHECK(fuzz_unpack((const uint8_t *)events->data, events->size, &u));
    FUZZ_CHECK(u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == nevents);
    for (uint32_t i = 0; i < nevents; i++) {
        event_t ev;
        ev_error_t err;
        FUZZ_CHECK(event_decode(&u.data.via.array.ptr[i], &ev, &err) == EVE_OK);
        FUZZ_CHECK(ev.type == EV_TARGET_SET);
    }
    msgpack_unpacked_destroy(&u);
}

static void
query(const fuzz_fixture_t *fx, const wire_request_t *req)
{
    pq_result_t res;
    msgpack_sbuffer_init(&res.body);
    res.pairs = 0;
    pq_rc_t rc;
    if (req->op == OP_ALLOCATE) {
        msgpack_sbuffer *events = NULL;
        uint32_t n = 0;
        rc = projection_allocate(fx->projection, req->body, &res, &events, &n);
        if (events) {
            FUZZ_CHECK(rc == PQ_OK);
            check_allocation(events, n);
            msgpack_sbuffer_free(events);
        }
    } else {
        rc = projection_query(fx->projection, req->op, req->body, FUZZ_NOW, &res);
    }
    if (rc == PQ_OK)
        check_pairs(&res);
    else
        FUZZ_CHECK(pq_rc_name(rc) != NULL && res.message[0] != '\0');
    msgpack_sbuffer_destroy(&res.body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    char msg[256];
    wire_request_t req;
    wire_rc_t rc = wire_request_parse(&req, data, size, msg, sizeof msg);
    if (rc != WIRE_OK)
        FUZZ_CHECK(wire_rc_name(rc) != NULL && msg[0] != '\0');
    else if (req.op == OP_APPEND)
        append(fx, &req);
    else if (req.op == OP_PROGRESS || req.op == OP_LEADERBOARD || req.op == OP_TARGET_HISTORY ||
             req.op == OP_UNDEFINED_NODES || req.op == OP_ALLOCATE)
        query(fx, &req);
    wire_request_free(&req);
    return 0;
}
