/*  libFuzzer target: a projection snapshot as read from disk, through the
    loader pacerd uses (foldset_load in projections/foldset.c): the
    projection's section (projection_load, projections/snapshot.c), then
    the other folds' sections (each detector's load and the alert settings'
    alertcfg_load).

    The input is a snapshot's bytes, as store_reader_snapshot returns them.
    A refusal must say why. What loads goes into a fresh calendar,
    projection and foldset, which must then be usable as the daemon uses
    them after a start from a snapshot: the fixture's events
    (tests/fuzz_fixture.h) that the loaded state admits are folded in after
    the snapshot's seq (SNAP_SEQ, the log's key: a projection section past
    it is refused), time passes for the detectors, a progress query and
    each target's evaluation are answered, and the state is saved; that
    snapshot must load into fresh states again and save to the same bytes.

    Seeds (tests/corpus/fuzz_snapshot/) are real snapshots written by
    tests/snapshot_seed.c.

    Build: cmake -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang; run:
    ./fuzz_snapshot -dict=tests/corpus/pacer.dict corpus/ tests/corpus/fuzz_snapshot */

#include "projections/foldset.h"
#include "tests/fuzz_fixture.h"

#include <stdint.h>
#include <string.h>

#define SNAP_SEQ 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    calendar_t *cal;
    foldset_t *folds;
    projection_t *p; /* the folds' */
} state_t;

static void
state_new(state_t *s)
{
    s->cal = fuzz_calendar();
    s->folds = foldset_new(s->cal, FOLDSET_ALL);
    FUZZ_CHECK(s->folds);
    s->p = foldset_projection(s->folds);
}

static void
state_destroy(state_t *s)
{
    foldset_destroy(&s->folds);
    calendar_destroy(&s->cal);
}

/* Fold the fixture's events that every fold admits, after seq. */
static void
fold_fixture(const fuzz_fixture_t *fx, state_t *s, uint64_t seq)
{
    const msgpack_object *evs = &fx->u.data;
    for (uint32_t i = 0; i < evs->via.array.size; i++) {
        event_t ev;
        ev_error_t err;
        FUZZ_CHECK(event_decode(&evs->via.array.ptr[i], &ev, &err) == EVE_OK);
        ev_errcode_t rc = foldset_check(s->folds, &ev, &err);
        if (rc != EVE_OK) {
            fuzz_check_refusal(rc, &err);
            continue;
        }
        seq++;
        if (foldset_fold_checked(s->folds, seq, FUZZ_NOW, &ev, NULL, NULL) != 0) {
            fprintf(stderr, "fixture event %u (%s) admitted, then not folded\n", i,
                    ev_type_name(ev.type));
            abort();
        }
    }
}

static void
read_back(state_t *s)
{
    static const char progress[] = "\x82\xa6period\xa7"
                                   "2026-Q4\xb1"
                                   "each_product_line\xc3";
    msgpack_unpacked u;
    FUZZ_CHECK(fuzz_unpack((const uint8_t *)progress, sizeof progress - 1, &u));
    pq_result_t res;
    msgpack_sbuffer_init(&res.body);
    FUZZ_CHECK(projection_query(s->p, OP_PROGRESS, &u.data, FUZZ_NOW, &res) == PQ_OK);
    msgpack_sbuffer_destroy(&res.body);
    msgpack_unpacked_destroy(&u);
    for (uint32_t i = 0; i < projection_target_count(s->p); i++) {
        tprog_t t;
        projection_target_eval(s->p, i, FUZZ_NOW, 7, &t);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    (void)fuzz_check_canonical; /* the fixture's events are canonical: fuzz_event checks */
    state_t s;
    state_new(&s);
    char why[256] = "";
    if (foldset_load(s.folds, data, size, SNAP_SEQ, why, sizeof why) != 0) {
        FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof why));
        state_destroy(&s);
        return 0;
    }
    /* a projection behind the snapshot's seq is given the events between
       by the log; this log has none but the fixture's, after it */
    FUZZ_CHECK(projection_seq(s.p) <= SNAP_SEQ && foldset_seq(s.folds) == SNAP_SEQ);
    fold_fixture(fx, &s, SNAP_SEQ);
    FUZZ_CHECK(foldset_tick(s.folds, FUZZ_NOW + 86400000, NULL, NULL) == 0);
    read_back(&s);

    msgpack_sbuffer saved, again;
    msgpack_sbuffer_init(&saved);
    msgpack_sbuffer_init(&again);
    FUZZ_CHECK(foldset_save(s.folds, &saved) == 0);
    state_t t;
    state_new(&t);
    /* taken at the set's seq, as pacerd stores it */
    if (foldset_load(t.folds, saved.data, saved.size, foldset_seq(s.folds), why, sizeof why) != 0) {
        fprintf(stderr, "the state's own snapshot does not load: %s\n", why);
        abort();
    }
    FUZZ_CHECK(foldset_save(t.folds, &again) == 0);
    FUZZ_CHECK(again.size == saved.size && memcmp(again.data, saved.data, saved.size) == 0);
    state_destroy(&t);
    state_destroy(&s);
    msgpack_sbuffer_destroy(&again);
    msgpack_sbuffer_destroy(&saved);
    return 0;
}
