/*  fuzz_fixture: what the fuzz targets share.

    The fixture is tests/corpus/fixture.mp (written by make_corpus.py): a
    msgpack array of one valid event of each type, in an order whose
    references resolve. A harness folds it into a projection so that the
    input meets an organisation, targets, orders and KPIs to refer to, as
    it would in pacerd; CMake compiles its path in (PACER_FUZZ_FIXTURE).

    Static functions in a header: each harness is one translation unit and
    links nothing else of the others. */

#ifndef PACER_TESTS_FUZZ_FIXTURE_H
#define PACER_TESTS_FUZZ_FIXTURE_H

#include "events/codec.h"
#include "events/wire.h"
#include "projections/projection.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-10-16T00:00:00+08:00: two weeks into the fixture's quarter */
#define FUZZ_NOW INT64_C(1792080000000)

/* Fail the run: libFuzzer saves the input, the standalone driver aborts. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct {
    uint8_t *bytes; /* the fixture file */
    size_t len;
    msgpack_unpacked u; /* its events, as one array */
    calendar_t *calendar;
    projection_t *projection; /* the fixture folded */
} fuzz_fixture_t;

/* Parse untrusted bytes as pacerd does: the structural scan first, then
   msgpack-c. Returns false if the scan refuses them; once the scan accepts
   them msgpack-c must read exactly one value filling them. */
static bool
fuzz_unpack(const uint8_t *data, size_t size, msgpack_unpacked *u)
{
    msgpack_unpacked_init(u);
    if (!mp_scan(data, size, WIRE_MAX_DEPTH))
        return false;
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(u, (const char *)data, size, &off);
    FUZZ_CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == size);
    return true;
}

/* Decode, check and fold every event of the fixture that pacerd would
   accept into p (seqs from 1). Returns how many folded. */
static uint64_t
fuzz_fold_fixture(const fuzz_fixture_t *fx, projection_t *p)
{
    const msgpack_object *evs = &fx->u.data;
    uint64_t seq = 0;
    for (uint32_t i = 0; i < evs->via.array.size; i++) {
        event_t ev;
        ev_error_t err;
        if (event_decode(&evs->via.array.ptr[i], &ev, &err) != EVE_OK ||
            projection_check(p, &ev, &err) != EVE_OK)
            continue;
        seq++;
        FUZZ_CHECK(projection_fold_checked(p, seq, FUZZ_NOW - 1000, &ev) == 0);
    }
    return seq;
}

/* A calendar as pacerd's defaults make it. */
static calendar_t *
fuzz_calendar(void)
{
    char err[256];
    calendar_t *c = calendar_new("Asia/Shanghai", 1, err, sizeof err);
    if (!c) {
        fprintf(stderr, "fuzz fixture: %s\n", err);
        abort();
    }
    return c;
}

/* The fixture, read and folded on first use; it lives as long as the
   process. */
static const fuzz_fixture_t *
fuzz_fixture(void)
{
    static fuzz_fixture_t fx;
    if (fx.projection)
        return &fx;
    FILE *f = fopen(PACER_FUZZ_FIXTURE, "rb");
    if (!f) {
        perror("fuzz fixture: " PACER_FUZZ_FIXTURE);
        abort();
    }
    fseek(f, 0, SEEK_END);
    fx.len = (size_t)ftell(f);
    rewind(f);
    fx.bytes = malloc(fx.len);
    FUZZ_CHECK(fx.bytes && fread(fx.bytes, 1, fx.len, f) == fx.len);
    fclose(f);
    FUZZ_CHECK(fuzz_unpack(fx.bytes, fx.len, &fx.u) && fx.u.data.type == MSGPACK_OBJECT_ARRAY);
    fx.calendar = fuzz_calendar();
    fx.projection = projection_new(fx.calendar);
    FUZZ_CHECK(fx.projection);
    FUZZ_CHECK(fuzz_fold_fixture(&fx, fx.projection) > 0);
    return &fx;
}

/* A valid event's canonical encoding decodes to the same event, which
   encodes to the same bytes; fails the run otherwise. */
static void
fuzz_check_canonical(const event_t *ev)
{
    static uint8_t a[EV_MAX_BYTES + 1024], b[EV_MAX_BYTES + 1024];
    size_t na = event_encode_buf(ev, a, sizeof a);
    FUZZ_CHECK(na > 0);
    msgpack_unpacked u;
    FUZZ_CHECK(fuzz_unpack(a, na, &u));
    event_t again;
    ev_error_t err;
    FUZZ_CHECK(event_decode(&u.data, &again, &err) == EVE_OK);
    FUZZ_CHECK(again.type == ev->type && again.present == ev->present);
    size_t nb = event_encode_buf(&again, b, sizeof b);
    FUZZ_CHECK(nb == na && memcmp(a, b, na) == 0);
    msgpack_unpacked_destroy(&u);
}

/* A refusal names its problem. */
static void
fuzz_check_refusal(ev_errcode_t rc, const ev_error_t *err)
{
    FUZZ_CHECK(rc != EVE_OK && err->code == rc);
    FUZZ_CHECK(ev_errcode_name(rc) != NULL && err->message[0] != '\0');
    FUZZ_CHECK(memchr(err->message, '\0', sizeof err->message) != NULL);
}

#endif
