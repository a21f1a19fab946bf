/*  Unit tests for the fold set (projections/foldset.c) and the registry of
    folds (projections/folds.c): the registry's order; a snapshot's sections
    load back to the same bytes; a fold whose section is of another
    version, or missing, is refolded alone from the first event while every
    other fold loads (folding it again from the log gives the snapshot's
    bytes back, which a fold folded twice would not); sections of folds a
    set does not run are ignored; a damaged lead section is refused, and
    so is a projection whose seq is past the snapshot's.

    The events are the fuzz fixture's (tests/corpus/fixture.mp): one valid
    event of each type, so every fold has something to fold. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "projections/foldset.h"
/* the fixture header's checks are for the harnesses */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/fuzz_fixture.h"

#define MAX_EVENTS 256

typedef struct {
    calendar_t *cal;
    foldset_t *fs;
} set_t;

/* The fixture's events every fold admits, as a replay hands them over. */
static fold_event_t events[MAX_EVENTS];
static size_t nevents;
/* The snapshot of every fold after them, and of the folds before the
   detectors after them. */
static msgpack_sbuffer full, core;

static set_t
set_new(foldset_mode_t mode)
{
    set_t s = {fuzz_calendar(), NULL};
    s.fs = foldset_new(s.cal, mode);
    assert_non_null(s.fs);
    return s;
}

static void
set_destroy(set_t *s)
{
    foldset_destroy(&s->fs);
    calendar_destroy(&s->cal);
}

/* Fold the fixture as the writer does; record what was folded. */
static void
fold_fixture(set_t *s, bool record)
{
    const msgpack_object *a = &fuzz_fixture()->u.data;
    uint64_t seq = 0;
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        event_t ev;
        ev_error_t err;
        assert_int_equal(event_decode(&a->via.array.ptr[i], &ev, &err), EVE_OK);
        if (foldset_check(s->fs, &ev, &err) != EVE_OK)
            continue;
        seq++;
        assert_int_equal(foldset_fold_checked(s->fs, seq, FUZZ_NOW - 1000, &ev, NULL, NULL), 0);
        if (record) {
            assert_true(seq <= MAX_EVENTS);
            events[seq - 1] = (fold_event_t){seq, FUZZ_NOW - 1000, true, ev};
        }
    }
    if (record)
        nevents = seq;
}

static int
setup(void **state)
{
    (void)state;
    set_t s = set_new(FOLDSET_ALL);
    fold_fixture(&s, true);
    msgpack_sbuffer_init(&full);
    assert_int_equal(foldset_save(s.fs, &full), 0);
    set_destroy(&s);
    s = set_new(FOLDSET_NO_DETECTORS);
    fold_fixture(&s, false);
    msgpack_sbuffer_init(&core);
    assert_int_equal(foldset_save(s.fs, &core), 0);
    set_destroy(&s);
    return nevents > 10 ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    msgpack_sbuffer_destroy(&full);
    msgpack_sbuffer_destroy(&core);
    return 0;
}

static void
assert_saves_as(foldset_t *fs, const msgpack_sbuffer *want)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(foldset_save(fs, &sb), 0);
    assert_int_equal(sb.size, want->size);
    assert_memory_equal(sb.data, want->data, want->size);
    msgpack_sbuffer_destroy(&sb);
}

static size_t
lead_len(const msgpack_sbuffer *snap)
{
    size_t n = 0;
    assert_true(mp_scan_first((const uint8_t *)snap->data, snap->size, 64, &n));
    return n;
}

static bool
named(const msgpack_object *section, const char *name)
{
    const msgpack_object_str *s = &section->via.array.ptr[0].via.str;
    return s->size == strlen(name) && memcmp(s->ptr, name, s->size) == 0;
}

/* The full snapshot with fold `name`'s section at its version + 1, or
   dropped (drop), or with a section of a fold no set runs added (name
   NULL). The projection's version is the lead section's 19th byte:
   [fixarray 3, fixstr "pacer-projection", positive fixint version, ...]. */
static void
snapshot_with(const char *name, bool drop, msgpack_sbuffer *out)
{
    size_t lead = lead_len(&full);
    msgpack_sbuffer_init(out);
    assert_int_equal(msgpack_sbuffer_write(out, full.data, lead), 0);
    if (name && strcmp(name, "projection") == 0) {
        assert_int_equal((uint8_t)out->data[18], PROJECTION_VERSION);
        out->data[18]++;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = lead;
    assert_int_equal(msgpack_unpack_next(&u, full.data, full.size, &off), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object_array *a = &u.data.via.array;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    uint32_t n = a->size;
    for (uint32_t i = 0; drop && i < a->size; i++)
        n -= named(&a->ptr[i], name);
    assert_int_equal(msgpack_pack_array(&pk, n + !name), 0);
    for (uint32_t i = 0; i < a->size; i++) {
        if (!name || !named(&a->ptr[i], name)) {
            assert_int_equal(msgpack_pack_object(&pk, a->ptr[i]), 0);
            continue;
        }
        if (drop)
            continue;
        assert_int_equal(msgpack_pack_array(&pk, 3), 0);
        assert_int_equal(msgpack_pack_object(&pk, a->ptr[i].via.array.ptr[0]), 0);
        assert_int_equal(msgpack_pack_uint64(&pk, a->ptr[i].via.array.ptr[1].via.u64 + 1), 0);
        assert_int_equal(msgpack_pack_object(&pk, a->ptr[i].via.array.ptr[2]), 0);
    }
    if (!name) {
        assert_int_equal(msgpack_pack_array(&pk, 3), 0);
        assert_int_equal(msgpack_pack_str_with_body(&pk, "nonesuch", 8), 0);
        assert_int_equal(msgpack_pack_uint32(&pk, 1), 0);
        assert_int_equal(msgpack_pack_nil(&pk), 0);
    }
    msgpack_unpacked_destroy(&u);
}

static void
test_registry(void **state)
{
    (void)state;
    assert_ptr_equal(FOLDS[0], &fold_projection);
    assert_ptr_equal(FOLDS[1], &fold_alertcfg);
    assert_ptr_equal(DETECTORS, FOLDS + 2);
    size_t n = 0;
    for (const fold_class_t *const *f = FOLDS; *f; f++, n++) {
        bool detector = f >= DETECTORS;
        assert_true(detector == ((*f)->set_param != NULL));
        /* the lead section alone is written whole by its fold */
        assert_true((f == FOLDS) == ((*f)->save_section != NULL));
        assert_true((f == FOLDS) == ((*f)->load_section != NULL));
        assert_true((*f)->load_section || ((*f)->save && (*f)->load));
        assert_non_null((*f)->fold);
        assert_ptr_equal(fold_find((*f)->name), *f); /* names are unique */
    }
    assert_true(n >= 10);
    assert_null(fold_find("nonesuch"));
}

static void
test_round_trip_loads_every_fold(void **state)
{
    (void)state;
    set_t s = set_new(FOLDSET_ALL);
    char err[256] = "", names[512];
    assert_int_equal(foldset_load(s.fs, full.data, full.size, nevents, err, sizeof err), 0);
    assert_int_equal(foldset_rebuilt(s.fs, names, sizeof names), 0);
    assert_int_equal(foldset_from(s.fs), nevents + 1);
    assert_int_equal(foldset_seq(s.fs), nevents);
    /* a replay of what the snapshot holds changes nothing: no fold wants it */
    assert_int_equal(foldset_fold_batch(s.fs, events, nevents), 0);
    assert_saves_as(s.fs, &full);
    set_destroy(&s);
}

/* Load snap; exactly `name` starts afresh; replaying the log up to the
   snapshot refolds it alone and gives the full snapshot back. */
static void
refolds_alone(const msgpack_sbuffer *snap, const char *name)
{
    set_t s = set_new(FOLDSET_ALL);
    char err[256] = "", names[512];
    assert_int_equal(foldset_load(s.fs, snap->data, snap->size, nevents, err, sizeof err), 0);
    assert_int_equal(foldset_rebuilt(s.fs, names, sizeof names), 1);
    assert_string_equal(names, name);
    assert_int_equal(foldset_from(s.fs), 1);
    for (size_t k = 0; k < nevents; k += 7) /* batches of several sizes */
        assert_int_equal(foldset_fold_batch(s.fs, events + k, nevents - k < 7 ? nevents - k : 7),
                         0);
    assert_saves_as(s.fs, &full);
    set_destroy(&s);
}

static void
test_a_changed_version_refolds_that_fold_alone(void **state)
{
    (void)state;
    for (const fold_class_t *const *f = FOLDS; *f; f++) {
        msgpack_sbuffer snap;
        snapshot_with((*f)->name, false, &snap);
        refolds_alone(&snap, (*f)->name);
        msgpack_sbuffer_destroy(&snap);
    }
}

static void
test_a_new_fold_refolds_alone(void **state)
{
    (void)state;
    for (const fold_class_t *const *f = FOLDS + 1; *f; f++) {
        msgpack_sbuffer snap;
        snapshot_with((*f)->name, true, &snap);
        refolds_alone(&snap, (*f)->name);
        msgpack_sbuffer_destroy(&snap);
    }
    /* a snapshot from before the other folds: the projection's section alone */
    set_t s = set_new(FOLDSET_ALL);
    char err[256] = "", names[512];
    size_t lead = lead_len(&full);
    assert_int_equal(foldset_load(s.fs, full.data, lead, nevents, err, sizeof err), 0);
    size_t n = 0;
    while (FOLDS[n])
        n++;
    assert_int_equal(foldset_rebuilt(s.fs, names, sizeof names), n - 1);
    assert_int_equal(foldset_fold_batch(s.fs, events, nevents), 0);
    assert_saves_as(s.fs, &full);
    set_destroy(&s);
}

static void
test_sections_of_folds_not_run_are_ignored(void **state)
{
    (void)state;
    char err[256] = "", names[512];
    msgpack_sbuffer snap;
    snapshot_with(NULL, false, &snap); /* plus ["nonesuch", 1, nil] */
    set_t s = set_new(FOLDSET_ALL);
    assert_int_equal(foldset_load(s.fs, snap.data, snap.size, nevents, err, sizeof err), 0);
    assert_int_equal(foldset_rebuilt(s.fs, names, sizeof names), 0);
    assert_saves_as(s.fs, &full);
    set_destroy(&s);
    msgpack_sbuffer_destroy(&snap);
    /* pacerd --detectors off loads the full snapshot but its detectors' */
    s = set_new(FOLDSET_NO_DETECTORS);
    assert_int_equal(foldset_load(s.fs, full.data, full.size, nevents, err, sizeof err), 0);
    assert_int_equal(foldset_rebuilt(s.fs, names, sizeof names), 0);
    assert_saves_as(s.fs, &core);
    set_destroy(&s);
    /* an as-of set, the projection alone */
    s = set_new(FOLDSET_PROJECTION);
    assert_int_equal(foldset_load(s.fs, full.data, full.size, nevents, err, sizeof err), 0);
    assert_null(foldset_alertcfg(s.fs));
    projection_t *p = foldset_take_projection(s.fs);
    assert_int_equal(projection_seq(p), nevents);
    projection_destroy(&p);
    set_destroy(&s);
}

static void
test_a_damaged_lead_section_is_refused(void **state)
{
    (void)state;
    char err[256];
    set_t s = set_new(FOLDSET_ALL);
    static const uint8_t not_array[] = {0x92, 0x01, 0x02};
    err[0] = 0;
    assert_int_equal(foldset_load(s.fs, not_array, sizeof not_array, 1, err, sizeof err), -1);
    assert_string_not_equal(err, "");
    set_destroy(&s);
    /* cut inside the projection's body */
    s = set_new(FOLDSET_ALL);
    err[0] = 0;
    assert_int_equal(foldset_load(s.fs, full.data, lead_len(&full) - 1, 1, err, sizeof err), -1);
    assert_string_not_equal(err, "");
    set_destroy(&s);
    /* a fold's section of its version that its load refuses */
    msgpack_sbuffer bad;
    msgpack_sbuffer_init(&bad);
    assert_int_equal(msgpack_sbuffer_write(&bad, full.data, lead_len(&full)), 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &bad, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_array(&pk, 1), 0);
    assert_int_equal(msgpack_pack_array(&pk, 3), 0);
    assert_int_equal(msgpack_pack_str_with_body(&pk, "alert_settings", 14), 0);
    assert_int_equal(msgpack_pack_uint32(&pk, fold_alertcfg.version), 0);
    assert_int_equal(msgpack_pack_nil(&pk), 0);
    s = set_new(FOLDSET_ALL);
    err[0] = 0;
    assert_int_equal(foldset_load(s.fs, bad.data, bad.size, nevents, err, sizeof err), -1);
    assert_non_null(strstr(err, "alert_settings"));
    set_destroy(&s);
    msgpack_sbuffer_destroy(&bad);
}

/* The projection's section carries its own seq; the snapshot's seq is the
   log's key. Past the key is refused: the projection would fold the log's
   next events twice. Behind it, the projection alone wants the events
   between. */
static void
test_the_projection_seq_against_the_snapshot_seq(void **state)
{
    (void)state;
    char err[256] = "", names[512];
    set_t s = set_new(FOLDSET_ALL);
    assert_int_equal(foldset_load(s.fs, full.data, full.size, nevents - 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "past the snapshot's seq"));
    set_destroy(&s);

    s = set_new(FOLDSET_ALL);
    err[0] = 0;
    assert_int_equal(foldset_load(s.fs, full.data, full.size, nevents + 5, err, sizeof err), 0);
    assert_int_equal(foldset_rebuilt(s.fs, names, sizeof names), 1);
    assert_string_equal(names, "projection");
    assert_int_equal(foldset_from(s.fs), nevents + 1);
    assert_int_equal(foldset_seq(s.fs), nevents + 5);
    /* the events between reach the projection alone: the others loaded
       them (a detector folding the sale again would count it twice) */
    fold_event_t again[5];
    for (size_t i = 0; i < 5; i++) {
        again[i] = events[nevents - 5 + i];
        again[i].seq = nevents + 1 + i;
    }
    assert_int_equal(foldset_fold_batch(s.fs, again, 5), 0);
    assert_int_equal(projection_seq(foldset_projection(s.fs)), nevents + 5);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(foldset_save(s.fs, &sb), 0);
    size_t lead = lead_len(&sb), full_lead = lead_len(&full);
    assert_int_equal(sb.size - lead, full.size - full_lead);
    assert_memory_equal(sb.data + lead, full.data + full_lead, sb.size - lead);
    msgpack_sbuffer_destroy(&sb);
    set_destroy(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_round_trip_loads_every_fold),
        cmocka_unit_test(test_a_changed_version_refolds_that_fold_alone),
        cmocka_unit_test(test_a_new_fold_refolds_alone),
        cmocka_unit_test(test_sections_of_folds_not_run_are_ignored),
        cmocka_unit_test(test_a_damaged_lead_section_is_refused),
        cmocka_unit_test(test_the_projection_seq_against_the_snapshot_seq),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
