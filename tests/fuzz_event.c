/*  libFuzzer target: the event decoder and validator (events/codec.c
    event_decode) on arbitrary msgpack, the canonical codec, and the fold
    of what they accept.

    The input is one msgpack value: an event (a map), or an array of
    events. Each element is decoded; a refusal must name its problem, and an
    accepted event's canonical form must decode to the same event and encode
    to the same bytes. Then, in a fresh projection holding the fixture
    (tests/fuzz_fixture.h), every accepted event that projection_check
    admits is folded, as pacerd's writer does, and the projection is read
    the ways pacerd reads it: a progress query, each target key as the
    alert rules evaluate it, and a snapshot, which must load into another
    fresh projection that saves to the same bytes.

    Build: cmake -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang; run:
    ./fuzz_event -dict=tests/corpus/pacer.dict corpus/ tests/corpus/fuzz_event */

#include "tests/fuzz_fixture.h"

#include <stdint.h>
#include <string.h>

#define MAX_EVENTS 64 /* per input: enough for any fold sequence worth finding */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
read_back(projection_t *p)
{
    static const char progress[] = "\x82\xa6period\xa7"
                                   "2026-Q4\xb1"
                                   "each_product_line\xc3";
    msgpack_unpacked u;
    FUZZ_CHECK(fuzz_unpack((const uint8_t *)progress, sizeof progress - 1, &u));
    pq_result_t res;
    msgpack_sbuffer_init(&res.body);
    FUZZ_CHECK(projection_query(p, OP_PROGRESS, &u.data, FUZZ_NOW, &res) == PQ_OK);
    msgpack_sbuffer_destroy(&res.body);
    msgpack_unpacked_destroy(&u);

    for (uint32_t i = 0; i < projection_target_count(p); i++) {
        tprog_t t;
        projection_target_eval(p, i, FUZZ_NOW, 7, &t);
    }

    msgpack_sbuffer saved, again;
    msgpack_sbuffer_init(&saved);
    msgpack_sbuffer_init(&again);
    FUZZ_CHECK(projection_save(p, &saved) == 0);
    calendar_t *cal = fuzz_calendar();
    projection_t *loaded = projection_new(cal);
    char err[256];
    FUZZ_CHECK(projection_load(loaded, saved.data, saved.size, err, sizeof err) == 0);
    FUZZ_CHECK(projection_save(loaded, &again) == 0);
    FUZZ_CHECK(again.size == saved.size && memcmp(again.data, saved.data, saved.size) == 0);
    projection_destroy(&loaded);
    calendar_destroy(&cal);
    msgpack_sbuffer_destroy(&again);
    msgpack_sbuffer_destroy(&saved);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    msgpack_unpacked u;
    if (!fuzz_unpack(data, size, &u)) {
        msgpack_unpacked_destroy(&u);
        return 0;
    }
    const msgpack_object *items = &u.data;
    uint32_t n = 1;
    if (u.data.type == MSGPACK_OBJECT_ARRAY) {
        items = u.data.via.array.ptr;
        n = u.data.via.array.size < MAX_EVENTS ? u.data.via.array.size : MAX_EVENTS;
    }
    static event_t evs[MAX_EVENTS];
    uint32_t nok = 0;
    for (uint32_t i = 0; i < n; i++) {
        ev_error_t err;
        ev_errcode_t rc = event_decode(&items[i], &evs[nok], &err);
        event_peek_id(&items[i]);
        if (rc != EVE_OK) {
            fuzz_check_refusal(rc, &err);
            continue;
        }
        fuzz_check_canonical(&evs[nok]);
        nok++;
    }
    if (nok) {
        /* the calendar too is per input: calendar_day_set changes it */
        calendar_t *cal = fuzz_calendar();
        projection_t *p = projection_new(cal);
        FUZZ_CHECK(p);
        uint64_t seq = fuzz_fold_fixture(fx, p);
        for (uint32_t i = 0; i < nok; i++) {
            ev_error_t err;
            ev_errcode_t rc = projection_check(p, &evs[i], &err);
            if (rc != EVE_OK)
                fuzz_check_refusal(rc, &err);
            else
                FUZZ_CHECK(projection_fold_checked(p, ++seq, FUZZ_NOW, &evs[i]) == 0);
        }
        read_back(p);
        projection_destroy(&p);
        calendar_destroy(&cal);
    }
    msgpack_unpacked_destroy(&u);
    return 0;
}
