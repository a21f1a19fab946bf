/*  Unit tests for the alerter's sweeps (daemon/alerter.h): the first tick
    of a day, or a change of the alert settings or silences, evaluates
    every key, and the daemon's own ticks do it in bounded slices, tick
    after tick, so that appends commit in between; and its timer heap.

    The world: a store in a temporary directory, its projector, and
    NREPS reps whose revenue target for 2026 (100.00 CNY, stretch 200.00)
    a sale of 100.00 has achieved, folded with no alert clock yet (as with
    --manual-clock before the first tick), so that only the sweep raises
    their `achieved` alerts; or a sale of 50.00 (every rep behind) or of
    90.00 (ahead of pace, at_risk due in December), with momentum
    disabled. Each step's batch is committed to the outbox
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
      the same alerts;
    - a setting's or a silence's change, bounded (the live clock): the
      group raises nothing, the ticks' sweep resolves or raises each key's
      alert once; a second change or a new day mid-sweep starts it over; a
      restart mid-sweep raises only the rest; not bounded (a manual clock)
      the group does it all;
    - the timer heap: day turns push nothing for keys whose due did not
      move; settings that move every due keep it under 2 x keys + 64; a
      rebuild keeps the due order;
    - a held anomaly flag's body read from disk is checked before it can
      follow a record's head. */

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
#include "tests/test_kv.h"

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
        char rule[32], scope[16], state[16];
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
    test_kv_pack(&sb, kv);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    event_t ev;
    ev_error_t err;
    if (event_decode(&u.data, &ev, &err) != EVE_OK)
        fail_msg("the test's event is not valid: %s", err.message);
    /* every fold, as the writer does: the projection and the alert
       settings (the detectors' flags are not the subject here) */
    foldset_t *f = projector_folds(w->projector);
    assert_ptr_equal(foldset_projection(f), projector_live(w->projector));
    if (foldset_check(f, &ev, &err) != EVE_OK)
        fail_msg("refused: %s", err.message);
    w->seq++;
    assert_int_equal(foldset_fold_checked(f, w->seq, SALE_AT, &ev, NULL, NULL), 0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

#define FOLD(w, ...)                                                                               \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        fold(w, kv_);                                                                              \
    } while (0)

static void
sale_of(world_t *w, int rep, int k, const char *amount)
{
    char id[32], order[32], who[16];
    snprintf(id, sizeof id, "s:s%d-%d", rep, k);
    snprintf(order, sizeof order, "s:o%d-%d", rep, k);
    snprintf(who, sizeof who, "s:r%d", rep);
    FOLD(w, "type", "s:sale_closed", "id", id, "occurred_at", "i:1793584800000", "order", order,
         "rep", who, "amount", amount, "currency", "s:CNY");
}

static void
sale(world_t *w, int rep, int k)
{
    sale_of(w, rep, k, "i:10000");
}

/* An alert_rule_set for every key of a level ("s:rep", "s:team"). */
static void
set_rule_of(world_t *w, const char *kind, const char *rule, const char *param, const char *value)
{
    static int n;
    char id[32];
    snprintf(id, sizeof id, "s:rs%d", ++n);
    FOLD(w, "type", "s:alert_rule_set", "id", id, "occurred_at", "i:1793584800000", "rule", rule,
         "param", param, "value", value, "kind", kind, "author", "s:ops");
}

static void
set_rule(world_t *w, const char *rule, const char *param, const char *value)
{
    set_rule_of(w, "s:rep", rule, param, value);
}

/* The world, each rep's sale of amount (10000: the target achieved). */
static int
setup_world(void **state, const char *amount)
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
        sale_of(w, i, 0, amount);
    }
    if (strcmp(amount, "i:10000")) /* below target: only behind and at_risk */
        set_rule(w, "s:momentum", "s:enabled", "i:0");
    w->alerter = alerter_new();
    assert_non_null(w->alerter);
    assert_int_equal(
        alerter_load(w->alerter, w->store, projector_live(w->projector), err, sizeof err), 0);
    /* the folds' changes, taken with no alert clock yet: nothing raised */
    assert_int_equal(alerter_group(w->alerter, projector_live(w->projector),
                                   projector_folds(w->projector), 0, w->seq, NULL, NULL, true,
                                   &w->batch, err, sizeof err),
                     0);
    assert_int_equal(w->batch.nrecs, 0);
    *state = w;
    return 0;
}

static int
setup(void **state)
{
    return setup_world(state, "i:10000");
}

/* 50.00 of 100.00 by November: pace ratio about 0.54 at NOW, behind fires
   for every rep (at_risk does not: the ratio is under behind's threshold) */
static int
setup_behind(void **state)
{
    return setup_world(state, "i:5000");
}

/* 90.00 of 100.00: pace ratio about 0.98 at NOW, nothing fires; at_risk
   (0.95) is due when the ratio falls under it, in December */
static int
setup_ahead(void **state)
{
    return setup_world(state, "i:9000");
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
        copy_str(&u.data, "state", k->state, sizeof k->state);
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
group_as(world_t *w, int64_t now, bool bounded)
{
    char err[512];
    if (alerter_group(w->alerter, projector_live(w->projector), projector_folds(w->projector), now,
                      w->seq, NULL, NULL, bounded, &w->batch, err, sizeof err) != 0)
        fail_msg("alerter_group: %s", err);
    return commit(w);
}

/* as the writer of a pacerd with the live clock and its own ticks */
static size_t
group(world_t *w, int64_t now)
{
    return group_as(w, now, true);
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

/* ---- a settings change's or a silence's sweep (alerter_group bounded) */

static void
silence(world_t *w, bool lift)
{
    static int n;
    char id[32];
    snprintf(id, sizeof id, "s:si%d", ++n);
    if (lift)
        FOLD(w, "type", "s:alert_unsilenced", "id", id, "occurred_at", "i:1793584800000", "alert",
             "s:alert/behind/", "author", "s:ops");
    else
        FOLD(w, "type", "s:alert_silenced", "id", id, "occurred_at", "i:1793584800000", "alert",
             "s:alert/behind/", "author", "s:ops", "reason", "s:maintenance");
}

/* Bounded ticks at now until no work is left, as the intake thread queues
   them; each adds at most a step's records (and one key's). Returns the
   steps taken. */
static int
sweep(world_t *w, int64_t now)
{
    int steps = 0;
    while (alerter_behind(w->alerter)) {
        assert_true(tick(w, now, true) <= ALERTER_STEP_RECORDS + 6);
        assert_true(++steps < 100);
    }
    return steps;
}

/* Every record committed has aseq = its place + 1 (no gap, no reordering);
   counts[rep] = the records from recs[from] on of rule in state. Returns
   how many of them there are; another rule from `from` on fails. */
static size_t
count(world_t *w, size_t from, const char *rule, const char *state, int *counts)
{
    size_t n = 0;
    memset(counts, 0, NREPS * sizeof *counts);
    for (size_t i = 0; i < w->nrecs; i++) {
        const struct rec *k = &w->recs[i];
        if (k->aseq != i + 1)
            fail_msg("record %zu has aseq %llu: a gap or a reordering", i,
                     (unsigned long long)k->aseq);
        if (i < from)
            continue;
        if (strcmp(k->rule, rule))
            fail_msg("unexpected alert %s %s for %s", k->rule, k->state, k->scope);
        if (strcmp(k->state, state) || !strcmp(k->scope, "t")) /* reps only */
            continue;
        assert_true(k->scope[0] == 'r');
        int rep = atoi(k->scope + 1);
        assert_true(rep >= 0 && rep < NREPS);
        counts[rep]++;
        n++;
    }
    return n;
}

static void
expect_each(const int *counts, int want, const char *what)
{
    for (int i = 0; i < NREPS; i++)
        if (counts[i] != want)
            fail_msg("rep r%d: %s %d times, not %d", i, what, counts[i], want);
}

/* The day's sweep raises behind for every rep; disabling the rule resolves
   each once, enabling it again raises each once: the group raises nothing
   itself and leaves it to the bounded ticks, several steps each. */
static void
test_setting_in_slices(void **state)
{
    world_t *w = *state;
    int *c = calloc(NREPS, sizeof *c);
    assert_non_null(c);
    assert_int_equal(tick(w, NOW, false), NREPS);
    assert_int_equal(count(w, 0, "behind", "firing", c), NREPS);
    size_t base = w->nrecs;
    set_rule(w, "s:behind", "s:enabled", "i:0");
    assert_int_equal(group(w, NOW + 1000), 0);
    assert_true(alerter_behind(w->alerter));
    assert_true(sweep(w, NOW + 2000) >= 3);
    assert_int_equal(count(w, base, "behind", "resolved", c), NREPS);
    expect_each(c, 1, "behind resolved");
    assert_int_equal(alerter_active(w->alerter), 0);
    base = w->nrecs;
    set_rule(w, "s:behind", "s:enabled", "i:1");
    assert_int_equal(group(w, NOW + 3000), 0);
    assert_true(sweep(w, NOW + 4000) >= 3);
    assert_int_equal(count(w, base, "behind", "firing", c), NREPS);
    expect_each(c, 1, "behind fired");
    assert_int_equal(count(w, base, "behind", "resolved", c), 0);
    /* nothing left for a tick request */
    assert_int_equal(tick(w, NOW + 5000, false), 0);
    free(c);
}

/* Not bounded (a --manual-clock pacerd): the group does it all, and the
   day's sweep that was running has nothing left to do. */
static void
test_setting_unbounded(void **state)
{
    world_t *w = *state;
    int *c = calloc(NREPS, sizeof *c);
    assert_non_null(c);
    size_t fired = tick(w, NOW, true);
    assert_true(fired > 0 && fired < NREPS);
    assert_true(alerter_behind(w->alerter));
    set_rule(w, "s:behind", "s:enabled", "i:0");
    assert_int_equal(group_as(w, NOW + 1000, false), fired); /* resolved */
    assert_false(alerter_behind(w->alerter));
    assert_int_equal(count(w, 0, "behind", "resolved", c), fired);
    assert_int_equal(tick(w, NOW + 2000, false), 0);
    free(c);
}

/* A second change while the sweep runs starts it over: the reps it had
   passed resolved under the first and fire again under the second; the
   reps it had not reached see nothing. A day turning mid-sweep too. */
static void
test_setting_changed_mid_sweep(void **state)
{
    world_t *w = *state;
    int *c = calloc(NREPS, sizeof *c);
    assert_non_null(c);
    assert_int_equal(tick(w, NOW, false), NREPS);
    size_t base = w->nrecs;
    set_rule(w, "s:behind", "s:enabled", "i:0");
    assert_int_equal(group(w, NOW + 1000), 0);
    size_t passed = tick(w, NOW + 2000, true);
    assert_true(passed > 0 && passed < NREPS);
    assert_true(alerter_behind(w->alerter));
    set_rule(w, "s:behind", "s:enabled", "i:1");
    assert_int_equal(group(w, NOW + 3000), 0);
    sweep(w, NOW + 4000);
    /* the sweep goes in index order: r0, r1, ... */
    assert_int_equal(count(w, base, "behind", "resolved", c), passed);
    for (int i = 0; i < NREPS; i++)
        assert_int_equal(c[i], (size_t)i < passed);
    assert_int_equal(count(w, base, "behind", "firing", c), passed);
    for (int i = 0; i < NREPS; i++)
        assert_int_equal(c[i], (size_t)i < passed);
    assert_int_equal(alerter_active(w->alerter), NREPS);
    /* a new day in the middle of a setting's sweep: one sweep covers both */
    base = w->nrecs;
    set_rule(w, "s:behind", "s:enabled", "i:0");
    assert_int_equal(group(w, NOW + 5000), 0);
    assert_true(tick(w, NOW + 6000, true) > 0);
    sweep(w, NOW + 86400000);
    assert_int_equal(count(w, base, "behind", "resolved", c), NREPS);
    expect_each(c, 1, "behind resolved");
    assert_int_equal(tick(w, NOW + 86400000 + 1000, false), 0);
    free(c);
}

/* Silenced from the start, behind holds for every rep without a record;
   lifting the silence raises each once, in bounded steps, and a restart
   in the middle (a new alerter loading the durable outbox) raises only
   the rest, aseqs going on. */
static void
test_silence_lifted_in_slices(void **state)
{
    world_t *w = *state;
    char err[512];
    int *c = calloc(NREPS, sizeof *c);
    assert_non_null(c);
    silence(w, false);
    assert_int_equal(tick(w, NOW, false), 0);
    assert_int_equal(alerter_active(w->alerter), NREPS);
    silence(w, true);
    assert_int_equal(group(w, NOW + 1000), 0);
    assert_true(alerter_behind(w->alerter));
    size_t first = tick(w, NOW + 2000, true);
    assert_true(first > 0 && first < NREPS);
    assert_true(alerter_behind(w->alerter));
    alerter_destroy(&w->alerter);
    w->alerter = alerter_new();
    assert_non_null(w->alerter);
    assert_int_equal(
        alerter_load(w->alerter, w->store, projector_live(w->projector), err, sizeof err), 0);
    assert_int_equal(alerter_last_aseq(w->alerter), w->nrecs);
    assert_int_equal(alerter_active(w->alerter), NREPS);
    /* after a restart the first tick is a new day's: its sweep covers it */
    assert_true(tick(w, NOW + 3000, true) > 0);
    assert_true(sweep(w, NOW + 3000) >= 1);
    assert_int_equal(count(w, 0, "behind", "firing", c), NREPS);
    expect_each(c, 1, "behind raised");
    assert_int_equal(tick(w, NOW + 4000, false), 0);
    free(c);
}

/* ---- the timer heap stays bounded */

static void
test_heap_bounded(void **state)
{
    world_t *w = *state;
    int *c = calloc(NREPS, sizeof *c);
    assert_non_null(c);
    const size_t bound = 2 * NREPS + 64;
    assert_int_equal(tick(w, NOW, false), 0);
    size_t first = alerter_scheduled(w->alerter);
    assert_int_equal(first, NREPS); /* at_risk's crossing, for each */
    /* day after day, bounded sweeps: no key's due moved, none is pushed
       again (each day's sweep used to add an entry for every key) */
    for (int d = 1; d <= 5; d++) {
        assert_int_equal(tick(w, NOW + d * 86400000LL, true), 0);
        sweep(w, NOW + d * 86400000LL);
        assert_int_equal(alerter_scheduled(w->alerter), first);
    }
    /* settings that move every key's due, again and again: the stale
       entries go in a rebuild */
    const char *th[] = {"d:0.90", "d:0.91", "d:0.92", "d:0.90", "d:0.91", "d:0.92", "d:0.93"};
    int64_t at = NOW + 5 * 86400000LL + 1000;
    for (int i = 0; i < 7; i++) {
        set_rule(w, "s:at_risk", "s:threshold", th[i]);
        assert_int_equal(group_as(w, at + i, false), 0);
        assert_true(alerter_scheduled(w->alerter) <= bound);
    }
    /* the rebuilt heap brings every key back when it is due: at_risk fires
       for each, and repeats within the hour, the same day */
    set_rule(w, "s:lag", "s:repeat_hours", "i:1");
    set_rule(w, "s:at_risk", "s:threshold", "d:0.99");
    assert_int_equal(group_as(w, at + 100, false), NREPS);
    assert_true(alerter_scheduled(w->alerter) <= bound);
    assert_int_equal(tick(w, at + 100 + 3600000, false), NREPS);
    assert_int_equal(count(w, 0, "at_risk", "repeat", c), NREPS);
    expect_each(c, 1, "at_risk repeated");
    assert_int_equal(count(w, 0, "at_risk", "firing", c), NREPS);
    expect_each(c, 1, "at_risk fired");
    assert_true(alerter_scheduled(w->alerter) <= bound);
    free(c);
}

/* The rebuild leaves a heap: the keys come back in the order of their due
   times. The team's at_risk fires first and repeats within the hour; the
   reps' fire later, and their repeats are moved again and again (enough
   pushes for a rebuild) to two hours: a rebuild taking the keys in index
   order, team last, without restoring the order, would keep the team's
   early repeat under the reps' later ones. */
static void
test_heap_rebuilt_in_order(void **state)
{
    world_t *w = *state;
    int *c = calloc(NREPS, sizeof *c);
    assert_non_null(c);
    /* the team's target: its reps' sales, 90% of it (ratio about 0.98) */
    FOLD(w, "type", "s:target_set", "id", "s:tt", "occurred_at", "i:1767578400000", "scope", "s:t",
         "metric", "s:revenue", "period", "s:2026", "target", "i:50000000", "currency", "s:CNY",
         "author", "s:ceo");
    set_rule_of(w, "s:team", "s:lag", "s:repeat_hours", "i:1");
    set_rule_of(w, "s:team", "s:momentum", "s:enabled", "i:0");
    assert_int_equal(tick(w, NOW, false), 0);
    set_rule_of(w, "s:team", "s:at_risk", "s:threshold", "d:0.99");
    assert_int_equal(group_as(w, NOW + 1000, false), 1); /* the team's */
    set_rule(w, "s:lag", "s:repeat_hours", "i:1");
    set_rule(w, "s:at_risk", "s:threshold", "d:0.99");
    assert_int_equal(group_as(w, NOW + 600000, false), NREPS);
    const char *hours[] = {"d:1.1", "d:1.2", "d:1.3", "d:1.4", "i:2"};
    bool rebuilt = false;
    for (int i = 0; i < 5; i++) {
        size_t before = alerter_scheduled(w->alerter);
        set_rule(w, "s:lag", "s:repeat_hours", hours[i]);
        assert_int_equal(group_as(w, NOW + 601000 + i, false), 0);
        rebuilt |= alerter_scheduled(w->alerter) < before;
    }
    assert_true(rebuilt);
    /* 11:00:01 + 2 min: the team's repeat only; 12:10 + 2 min: the reps'
       (and the team's again) */
    size_t base = w->nrecs;
    assert_int_equal(tick(w, NOW + 1000 + 3600000 + 120000, false), 1);
    assert_string_equal(w->recs[base].scope, "t");
    assert_string_equal(w->recs[base].state, "repeat");
    assert_int_equal(tick(w, NOW + 600000 + 7200000 + 120000, false), NREPS + 1);
    assert_int_equal(count(w, base, "at_risk", "repeat", c), NREPS);
    expect_each(c, 1, "at_risk repeated");
    free(c);
}

/* A held flag's body read back from disk must be able to follow a
   record's head: string keys, none of the head's, a str summary. */
#define B(literal) literal, sizeof literal - 1

static void
test_held_body_checked(void **state)
{
    (void)state;
    struct {
        const char *bytes;
        size_t len;
        bool ok;
    } cases[] = {
        {B("\x82\xa5scope\xa1r\xa7summary\xa1s"), true},
        {B("\x81\xa5scope\xa1r"), false},  /* no summary */
        {B("\x81\xa7summary\x01"), false}, /* summary not a str */
        {"\x82\xa7summary\xa1s\xa4"
         "aseq\x07",
         17, false},                                        /* a head key */
        {B("\x82\xa7summary\xa1s\xa8silenced\xc3"), false}, /* "silenced" */
        {B("\x82\xa7summary\xa1s\x01\x02"), false},         /* an int key */
        {B("\x91\xa7summary"), false},                      /* not a map */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&u, cases[i].bytes, cases[i].len, &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(off, cases[i].len);
        if (alerter_held_body_ok(&u.data) != cases[i].ok)
            fail_msg("case %zu: expected %s", i, cases[i].ok ? "accepted" : "refused");
        msgpack_unpacked_destroy(&u);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_body_checked),
        cmocka_unit_test_setup_teardown(test_sweep_in_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_mid_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_mid_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_request_does_it_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setting_in_slices, setup_behind, teardown),
        cmocka_unit_test_setup_teardown(test_setting_unbounded, setup_behind, teardown),
        cmocka_unit_test_setup_teardown(test_setting_changed_mid_sweep, setup_behind, teardown),
        cmocka_unit_test_setup_teardown(test_silence_lifted_in_slices, setup_behind, teardown),
        cmocka_unit_test_setup_teardown(test_heap_bounded, setup_ahead, teardown),
        cmocka_unit_test_setup_teardown(test_heap_rebuilt_in_order, setup_ahead, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
