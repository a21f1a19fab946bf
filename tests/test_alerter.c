/*  Unit tests for the alerter's day sweep (daemon/alerter.h): the first
    tick of a day evaluates every key, and the daemon's own ticks do it in
    bounded slices, tick after tick, so that appends commit in between.

    The world: a store in a temporary directory, its projector, and
    NREPS reps whose revenue target for 2026 (100.00 CNY, stretch 200.00)
    a sale of 100.00 has achieved, folded with no alert clock yet (as with
    --manual-clock before the first tick), so that only the sweep raises
    their `achieved` alerts. Each step's batch is committed to the outbox
    as the commit thread does. What is checked, at fixed clocks (nothing
    here depends on timing):
    - bounded ticks: each step adds at most ALERTER_STEP_RECORDS records
      (plus one key's), the steps are many, and in the end every rep's
      alert was raised exactly once, with aseqs 1, 2, ... without a gap;
    - a key an event changes mid-sweep, before and after the sweep passed
      it, raises its stretch alert once and its achieved alert once;
    - a restart mid-sweep (a new alerter loading the durable outbox), or
      a failed commit of a slice (the same alerter loading it again),
      starts the sweep over and raises only what was not raised, aseqs
      going on from the durable ones;
    - a tick request (unbounded) does the whole sweep in one step, with
      the same alerts. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/alerter.h"
#include "daemon/outbox.h"
#include "daemon/projector.h"
#include "daemon/store.h"
#include "events/codec.h"
#include "events/schema.h"
#include "events/wire.h"
#include "projections/projection.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NREPS   5000            /* 5,000 achieved alerts: three slices of 2,048 at most */
#define SALE_AT 1793584800000LL /* 2026-11-02T10:00+08:00 */
#define NOW     1796349600000LL /* 2026-12-04T10:00+08:00 */

typedef struct {
    char dir[64];
    store_t *store;
    projector_t *projector;
    alerter_t *alerter;
    uint64_t seq;
    outbox_batch_t batch;
    /* every record committed, in order: its aseq, rule and scope */
    struct rec {
        uint64_t aseq;
        char rule[32], scope[16];
    } * recs;
    size_t nrecs, caprecs;
} world_t;

/* Fold an event given as alternating keys and typed values ("s:..",
   "i:.."); it must be accepted. */
static void
fold(world_t *w, const char *const *kv)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t n = 0;
    while (kv[n])
        n++;
    msgpack_pack_map(&pk, n / 2);
    for (size_t i = 0; i < n; i += 2) {
        msgpack_pack_str_with_body(&pk, kv[i], strlen(kv[i]));
        const char *v = kv[i + 1];
        if (v[0] == 's')
            msgpack_pack_str_with_body(&pk, v + 2, strlen(v + 2));
        else
            msgpack_pack_int64(&pk, strtoll(v + 2, NULL, 10));
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    event_t ev;
    ev_error_t err;
    if (event_decode(&u.data, &ev, &err) != EVE_OK)
        fail_msg("the test's event is not valid: %s", err.message);
    projection_t *p = projector_live(w->projector);
    if (projection_check(p, &ev, &err) != EVE_OK)
        fail_msg("refused: %s", err.message);
    w->seq++;
    assert_int_equal(projection_fold_checked(p, w->seq, SALE_AT, &ev), 0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

#define FOLD(w, ...)                                                                               \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        fold(w, kv_);                                                                              \
    } while (0)

static void
sale(world_t *w, int rep, int k)
{
    char id[32], order[32], who[16];
    snprintf(id, sizeof id, "s:s%d-%d", rep, k);
    snprintf(order, sizeof order, "s:o%d-%d", rep, k);
    snprintf(who, sizeof who, "s:r%d", rep);
    FOLD(w, "type", "s:sale_closed", "id", id, "occurred_at", "i:1793584800000", "order", order,
         "rep", who, "amount", "i:10000", "currency", "s:CNY");
}

static int
setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    snprintf(w->dir, sizeof w->dir, "/tmp/test_alerter.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    char err[512];
    w->store = store_open(w->dir, NULL, err, sizeof err);
    if (!w->store)
        fail_msg("%s", err);
    uint64_t last_aseq;
    assert_int_equal(outbox_open(w->store, &last_aseq, err, sizeof err), STORE_OK);
    projector_options_t po = {.time_zone = "Asia/Shanghai", .fiscal_start_month = 1};
    w->projector = projector_open(w->store, &po, err, sizeof err);
    if (!w->projector)
        fail_msg("%s", err);
    outbox_batch_init(&w->batch);
    FOLD(w, "type", "s:node_defined", "id", "s:n-acme", "occurred_at", "i:1767578400000", "node",
         "s:acme", "kind", "s:company", "name", "s:ACME");
    FOLD(w, "type", "s:node_defined", "id", "s:n-t", "occurred_at", "i:1767578400000", "node",
         "s:t", "kind", "s:team", "name", "s:T", "parent", "s:acme");
    for (int i = 0; i < NREPS; i++) {
        char id[32], node[16], tid[32];
        snprintf(id, sizeof id, "s:n%d", i);
        snprintf(node, sizeof node, "s:r%d", i);
        snprintf(tid, sizeof tid, "s:t%d", i);
        FOLD(w, "type", "s:node_defined", "id", id, "occurred_at", "i:1767578400000", "node", node,
             "kind", "s:rep", "name", node, "parent", "s:t");
        FOLD(w, "type", "s:target_set", "id", tid, "occurred_at", "i:1767578400000", "scope", node,
             "metric", "s:revenue", "period", "s:2026", "target", "i:10000", "stretch", "i:20000",
             "currency", "s:CNY", "author", "s:ceo");
        sale(w, i, 0);
    }
    w->alerter = alerter_new();
    assert_non_null(w->alerter);
    assert_int_equal(
        alerter_load(w->alerter, w->store, projector_live(w->projector), err, sizeof err), 0);
    /* the folds' changes, taken with no alert clock yet: nothing raised */
    assert_int_equal(alerter_group(w->alerter, projector_live(w->projector),
                                   projector_folds(w->projector), 0, w->seq, NULL, NULL, &w->batch,
                                   err, sizeof err),
                     0);
    assert_int_equal(w->batch.nrecs, 0);
    *state = w;
    return 0;
}

static int
teardown(void **state)
{
    world_t *w = *state;
    alerter_destroy(&w->alerter);
    projector_destroy(&w->projector);
    store_destroy(&w->store);
    outbox_batch_destroy(&w->batch);
    free(w->recs);
    DIR *d = opendir(w->dir);
    assert_non_null(d);
    struct dirent *e;
    char path[320];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", w->dir, e->d_name);
            assert_int_equal(unlink(path), 0);
        }
    closedir(d);
    assert_int_equal(rmdir(w->dir), 0);
    free(w);
    return 0;
}

static int
put_batch(void *arg, char *err, size_t errlen)
{
    world_t *w = arg;
    return outbox_put(w->store, &w->batch, err, errlen);
}

static void
copy_str(const msgpack_object *m, const char *k, char *out, size_t cap)
{
    const msgpack_object *v = wire_map_get(m, k);
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_STR);
    assert_true(v->via.str.size < cap);
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = 0;
}

/* Commit the step's batch, as the commit thread does, and keep what it
   raised; returns the number of records. */
static size_t
commit(world_t *w)
{
    char err[512];
    int grown = 0;
    if (w->batch.nrecs || w->batch.nstates)
        assert_int_equal(store_in_txn(w->store, put_batch, w, &grown, err, sizeof err), STORE_OK);
    size_t n = w->batch.nrecs;
    for (size_t i = 0; i < n; i++) {
        const outbox_rec_t *r = &w->batch.recs[i];
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        assert_int_equal(
            msgpack_unpack_next(&u, outbox_batch_at(&w->batch, r->rec_off), r->rec_len, &off),
            MSGPACK_UNPACK_SUCCESS);
        if (w->nrecs == w->caprecs) {
            w->caprecs = w->caprecs ? 2 * w->caprecs : 1024;
            w->recs = realloc(w->recs, w->caprecs * sizeof *w->recs);
            assert_non_null(w->recs);
        }
        struct rec *k = &w->recs[w->nrecs++];
        k->aseq = r->aseq;
        copy_str(&u.data, "rule", k->rule, sizeof k->rule);
        copy_str(&u.data, "scope", k->scope, sizeof k->scope);
        msgpack_unpacked_destroy(&u);
    }
    outbox_batch_clear(&w->batch);
    return n;
}

static size_t
tick(world_t *w, int64_t now, bool bounded)
{
    char err[512];
    if (alerter_tick(w->alerter, projector_live(w->projector), projector_folds(w->projector), now,
                     w->seq, bounded, &w->batch, err, sizeof err) != 0)
        fail_msg("alerter_tick: %s", err);
    return commit(w);
}

/* The events folded since the last step, evaluated as the writer does
   after a group. */
static size_t
group(world_t *w, int64_t now)
{
    char err[512];
    if (alerter_group(w->alerter, projector_live(w->projector), projector_folds(w->projector), now,
                      w->seq, NULL, NULL, &w->batch, err, sizeof err) != 0)
        fail_msg("alerter_group: %s", err);
    return commit(w);
}

/* Every rep's achieved alert exactly once, stretch_achieved exactly for
   the reps in stretch[], no other alert, aseqs 1.. without a gap. */
static void
check_raised(world_t *w, const int *stretch, int nstretch)
{
    int *achieved = calloc(NREPS, sizeof *achieved), *stretched = calloc(NREPS, sizeof *achieved);
    assert_non_null(achieved);
    assert_non_null(stretched);
    for (size_t i = 0; i < w->nrecs; i++) {
        const struct rec *k = &w->recs[i];
        if (k->aseq != i + 1)
            fail_msg("record %zu has aseq %llu: a gap or a reordering", i,
                     (unsigned long long)k->aseq);
        assert_true(k->scope[0] == 'r');
        int rep = atoi(k->scope + 1);
        assert_true(rep >= 0 && rep < NREPS);
        if (!strcmp(k->rule, "achieved"))
            achieved[rep]++;
        else if (!strcmp(k->rule, "stretch_achieved"))
            stretched[rep]++;
        else
            fail_msg("unexpected alert %s for %s", k->rule, k->scope);
    }
    for (int i = 0; i < NREPS; i++) {
        if (achieved[i] != 1)
            fail_msg("rep r%d: achieved raised %d times", i, achieved[i]);
        int want = 0;
        for (int j = 0; j < nstretch; j++)
            want += stretch[j] == i;
        if (stretched[i] != want)
            fail_msg("rep r%d: stretch_achieved raised %d times, not %d", i, stretched[i], want);
    }
    assert_int_equal(w->nrecs, NREPS + nstretch);
    free(achieved);
    free(stretched);
}

static void
test_sweep_in_slices(void **state)
{
    world_t *w = *state;
    int steps = 0;
    size_t n;
    /* the first slices */
    for (int i = 0; i < 2; i++) {
        n = tick(w, NOW, true);
        steps++;
        assert_true(n > 0);
        assert_true(n <= ALERTER_STEP_RECORDS + 2);
        assert_true(alerter_behind(w->alerter));
    }
    assert_true(w->nrecs < NREPS);
    /* mid-sweep: a sale for a key the sweep passed and one it has not
       reached; the group evaluates both now (stretch for both, achieved
       for neither: r0 has it, r4999 gets it from this group), and the
       sweep must not raise them again */
    sale(w, 0, 1);
    sale(w, NREPS - 1, 1);
    sale(w, NREPS - 1, 2);
    n = group(w, NOW + 1000);
    assert_int_equal(n, 3); /* r0 stretch, r4999 achieved and stretch */
    while (alerter_behind(w->alerter)) {
        n = tick(w, NOW + 2000, true);
        steps++;
        assert_true(n <= ALERTER_STEP_RECORDS + 2);
        assert_true(steps < 100);
    }
    assert_true(steps >= 3);
    int stretch[] = {0, NREPS - 1};
    check_raised(w, stretch, 2);
    /* nothing left: a tick request and a next day's tick raise nothing */
    assert_int_equal(tick(w, NOW + 3000, false), 0);
    assert_int_equal(tick(w, NOW + 86400000, false), 0);
    check_raised(w, stretch, 2);
}

static void
test_restart_mid_sweep(void **state)
{
    world_t *w = *state;
    char err[512];
    assert_true(tick(w, NOW, true) > 0);
    assert_true(alerter_behind(w->alerter));
    /* a restart: what is durable comes back, and the day's sweep with it */
    alerter_destroy(&w->alerter);
    w->alerter = alerter_new();
    assert_non_null(w->alerter);
    assert_int_equal(
        alerter_load(w->alerter, w->store, projector_live(w->projector), err, sizeof err), 0);
    assert_false(alerter_behind(w->alerter));
    assert_int_equal(alerter_last_aseq(w->alerter), w->nrecs);
    int steps = 0;
    do {
        assert_true(tick(w, NOW + 1000, true) <= ALERTER_STEP_RECORDS + 2);
        assert_true(++steps < 100);
    } while (alerter_behind(w->alerter));
    check_raised(w, NULL, 0);
}

static void
test_failed_commit_mid_sweep(void **state)
{
    world_t *w = *state;
    char err[512];
    assert_true(tick(w, NOW, true) > 0);
    /* the next slice's commit fails: the writer drops the batch and has
       the same alerter load what is durable, aseqs included */
    assert_int_equal(alerter_tick(w->alerter, projector_live(w->projector),
                                  projector_folds(w->projector), NOW + 1000, w->seq, true,
                                  &w->batch, err, sizeof err),
                     0);
    assert_true(w->batch.nrecs > 0);
    outbox_batch_clear(&w->batch);
    assert_int_equal(
        alerter_load(w->alerter, w->store, projector_live(w->projector), err, sizeof err), 0);
    assert_false(alerter_behind(w->alerter));
    assert_int_equal(alerter_last_aseq(w->alerter), w->nrecs);
    int steps = 0;
    do {
        assert_true(tick(w, NOW + 2000, true) <= ALERTER_STEP_RECORDS + 2);
        assert_true(++steps < 100);
    } while (alerter_behind(w->alerter));
    check_raised(w, NULL, 0);
}

static void
test_tick_request_does_it_all(void **state)
{
    world_t *w = *state;
    assert_int_equal(tick(w, NOW, false), NREPS);
    assert_false(alerter_behind(w->alerter));
    check_raised(w, NULL, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_in_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_mid_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_mid_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_request_does_it_all, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
