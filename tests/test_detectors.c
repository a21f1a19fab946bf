/*  Unit tests for the anomaly detectors (projections/detector.h,
    projections/detect_*.c): per detector a crafted stream that must fire
    and a near miss that must not; the kit's robust statistics against brute
    force; determinism (fold all = fold half, save, load into a fresh state,
    fold the rest); and a long stream whose memory stays flat. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "events/schema.h"
#include "projections/calendar.h"
#include "projections/detect_kit.h"
#include "projections/detector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 2026-10-01T00:00:00+08:00, a Thursday */
#define OCT1 INT64_C(1790784000000)
#define DAY  INT64_C(86400000)
#define HOUR INT64_C(3600000)
#define MIN  INT64_C(60000)

static calendar_t *cal;
static det_env_t env;

/* ---- events: a compact form kept in a log, turned into an event_t to fold ---- */

#define TEV_FIELDS 12

typedef struct {
    ev_type_t type;
    int nf;
    ev_field_t f[TEV_FIELDS];
    int64_t i[TEV_FIELDS];
    char *s[TEV_FIELDS];
} tev_t;

typedef struct {
    tev_t *ev;
    size_t n, cap;
} tlog_t;

static void
tev_free(tev_t *t)
{
    for (int k = 0; k < t->nf; k++)
        free(t->s[k]);
    t->nf = 0;
}

static void
tev_str(tev_t *t, ev_field_t f, const char *s)
{
    assert_true(t->nf < TEV_FIELDS);
    t->f[t->nf] = f;
    t->s[t->nf] = strdup(s);
    t->i[t->nf] = 0;
    t->nf++;
}

static void
tev_int(tev_t *t, ev_field_t f, int64_t v)
{
    assert_true(t->nf < TEV_FIELDS);
    t->f[t->nf] = f;
    t->s[t->nf] = NULL;
    t->i[t->nf] = v;
    t->nf++;
}

static void
tev_to_event(const tev_t *t, event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = t->type;
    for (int k = 0; k < t->nf; k++) {
        ev->present |= UINT64_C(1) << t->f[k];
        if (t->s[k])
            ev->v[t->f[k]].s = (ev_str_t){t->s[k], (uint32_t)strlen(t->s[k])};
        else
            ev->v[t->f[k]].i = t->i[k];
    }
}

static tev_t *
tlog_add(tlog_t *log, ev_type_t type, const char *id, int64_t at)
{
    if (log->n == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 1024;
        log->ev = realloc(log->ev, log->cap * sizeof *log->ev);
        assert_non_null(log->ev);
    }
    tev_t *t = &log->ev[log->n++];
    t->type = type;
    t->nf = 0;
    tev_str(t, F_ID, id);
    tev_int(t, F_OCCURRED_AT, at);
    return t;
}

static void
tlog_free(tlog_t *log)
{
    for (size_t k = 0; k < log->n; k++)
        tev_free(&log->ev[k]);
    free(log->ev);
    memset(log, 0, sizeof *log);
}

/* Builders for the event types the detectors read; NULL strings are left out. */
static tev_t *
sale(tlog_t *log, const char *id, int64_t at, const char *order, const char *rep,
     const char *customer, const char *line, int64_t amount)
{
    tev_t *t = tlog_add(log, EV_SALE_CLOSED, id, at);
    tev_str(t, F_ORDER, order);
    tev_str(t, F_REP, rep);
    tev_int(t, F_AMOUNT, amount);
    tev_str(t, F_CURRENCY, "CNY");
    if (customer)
        tev_str(t, F_CUSTOMER, customer);
    if (line)
        tev_str(t, F_PRODUCT_LINE, line);
    return t;
}

static tev_t *
refund(tlog_t *log, const char *id, int64_t at, const char *order, int64_t amount)
{
    tev_t *t = tlog_add(log, EV_SALE_REFUNDED, id, at);
    tev_str(t, F_ORDER, order);
    tev_int(t, F_AMOUNT, amount);
    tev_str(t, F_CURRENCY, "CNY");
    return t;
}

static tev_t *
cancel(tlog_t *log, const char *id, int64_t at, const char *order)
{
    tev_t *t = tlog_add(log, EV_SALE_CANCELLED, id, at);
    tev_str(t, F_ORDER, order);
    return t;
}

/* ---- flags ---- */

typedef struct {
    det_flag_t *f;
    size_t n, cap;
} flags_t;

static void
collect(void *arg, const det_flag_t *flag)
{
    flags_t *fl = arg;
    if (fl->n == fl->cap) {
        fl->cap = fl->cap ? fl->cap * 2 : 16;
        fl->f = realloc(fl->f, fl->cap * sizeof *fl->f);
        assert_non_null(fl->f);
    }
    fl->f[fl->n++] = *flag;
}

static void
flags_free(flags_t *fl)
{
    free(fl->f);
    memset(fl, 0, sizeof *fl);
}

/* Fold log[from, to) into state (seq = index + 1). */
static void
fold_range(const detector_class_t *dc, void *state, const tlog_t *log, size_t from, size_t to,
           flags_t *fl)
{
    event_t ev;
    for (size_t k = from; k < to; k++) {
        tev_to_event(&log->ev[k], &ev);
        assert_int_equal(dc->fold(state, k + 1, 0, &ev, fl ? collect : NULL, fl), 0);
    }
}

static void
run(const detector_class_t *dc, const tlog_t *log, flags_t *fl)
{
    void *st = dc->create(&env);
    assert_non_null(st);
    fold_range(dc, st, log, 0, log->n, fl);
    dc->destroy(&st);
    assert_null(st);
}

static const det_flag_t *
find_flag(const flags_t *fl, const char *key)
{
    for (size_t k = 0; k < fl->n; k++)
        if (strcmp(fl->f[k].key, key) == 0)
            return &fl->f[k];
    return NULL;
}

static int
has_evidence(const det_flag_t *f, uint64_t seq, const char *id)
{
    for (int k = 0; k < f->nevidence; k++)
        if (f->evidence[k].seq == seq && strcmp(f->evidence[k].id, id) == 0)
            return 1;
    return 0;
}

static void
print_flags(const flags_t *fl)
{
    for (size_t k = 0; k < fl->n; k++)
        fprintf(stderr, "  [%s] %s: %s\n", fl->f[k].detector, fl->f[k].key, fl->f[k].summary);
}

/* A deterministic pseudo-random stream (xorshift64*). */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static double
rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double
rnd_normal(void)
{
    double u = rnd_unit(), v = rnd_unit();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* ---- the kit ---- */

static void
test_kit_robust_stats(void **unused)
{
    enum { K = 37 };
    float ring[K], sorted[K];
    dk_win_t w = {0};
    for (int round = 0; round < 500; round++) {
        float v = (float)(rnd() % 50) + (round % 7 == 0 ? 1000.0f : 0.0f);
        dk_win_push(&w, ring, sorted, K, v);
        uint32_t n = w.n;
        float copy[K];
        memcpy(copy, ring, n * sizeof *copy);
        /* brute force: sort the ring, take the median and the median of |x - med| */
        for (uint32_t a = 0; a < n; a++)
            for (uint32_t b = a + 1; b < n; b++)
                if (copy[b] < copy[a]) {
                    float t = copy[a];
                    copy[a] = copy[b];
                    copy[b] = t;
                }
        assert_memory_equal(copy, sorted, n * sizeof *copy);
        float med = n % 2 ? copy[n / 2] : (copy[n / 2 - 1] + copy[n / 2]) / 2;
        float dev[K];
        for (uint32_t a = 0; a < n; a++)
            dev[a] = fabsf(copy[a] - med);
        for (uint32_t a = 0; a < n; a++)
            for (uint32_t b = a + 1; b < n; b++)
                if (dev[b] < dev[a]) {
                    float t = dev[a];
                    dev[a] = dev[b];
                    dev[b] = t;
                }
        float mad = n % 2 ? dev[n / 2] : (dev[n / 2 - 1] + dev[n / 2]) / 2;
        assert_true(dk_median(sorted, n) == med);
        assert_true(fabsf(dk_mad(sorted, n, med) - mad) < 1e-4f);
    }
}

static void
test_kit_table(void **unused)
{
    dk_table_t t;
    assert_int_equal(dk_table_init(&t, sizeof(int64_t), 16, 64), 0);
    /* put 1000 keys: the table grows to 64, then evicts the oldest */
    for (int64_t k = 1; k <= 1000; k++) {
        int added = 0;
        int64_t *r = dk_put(&t, dk_hash(&k, sizeof k, 0), k, &added);
        assert_non_null(r);
        assert_int_equal(added, 1);
        *r = k;
    }
    assert_int_equal(t.count, 64);
    for (int64_t k = 1; k <= 1000; k++) {
        int64_t *r = dk_get(&t, dk_hash(&k, sizeof k, 0));
        if (k <= 1000 - 64)
            assert_null(r);
        else
            assert_true(r && *r == k);
    }
    /* expire by time; delete from the middle; iteration stays in age order */
    dk_expire(&t, 990);
    assert_int_equal(t.count, 11);
    int64_t k995 = 995;
    dk_del(&t, dk_get(&t, dk_hash(&k995, sizeof k995, 0)));
    int64_t last = 0;
    int n = 0;
    for (int64_t *r = dk_oldest(&t); r; r = dk_newer(&t, r), n++) {
        assert_true(*r > last && *r != 995);
        last = *r;
    }
    assert_int_equal(n, 10);
    dk_table_free(&t);
}

/* ---- amount_outlier ---- */

static const detector_class_t *
cls(const char *name)
{
    const detector_class_t *dc = detector_find(name);
    assert_non_null(dc);
    return dc;
}

/* 320 deals of product line "cloud" around 10,000.00 CNY by 8 reps, zhang among them. */
static void
cloud_history(tlog_t *log, int64_t *t)
{
    static const char *reps[] = {"zhang", "wang", "li", "zhao", "sun", "zhou", "wu", "zheng"};
    char id[32], order[32], cust[32];
    for (int k = 0; k < 320; k++) {
        snprintf(id, sizeof id, "h%d", k);
        snprintf(order, sizeof order, "o%d", k);
        snprintf(cust, sizeof cust, "c%d", k % 50);
        int64_t amount = (int64_t)(1000000 * exp(0.3 * rnd_normal()));
        sale(log, id, *t, order, reps[k % 8], cust, "cloud", amount);
        *t += 2 * HOUR;
    }
}

static void
test_amount_outlier_fires(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    cloud_history(&log, &t);
    sale(&log, "big-1", t, "o-big", "zhang", "c-88", "cloud", 20000000); /* 200,000.00 CNY */
    size_t big_seq = log.n;
    /* with a quantity, the unit price is what counts: 10 x 10,500.00 is not an outlier */
    tev_int(sale(&log, "bulk-1", t + HOUR, "o-bulk", "zhang", "c-89", "cloud", 10500000),
            F_QUANTITY, 10);
    flags_t fl = {0};
    run(cls("amount_outlier"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 1);
    const det_flag_t *f = find_flag(&fl, "big-1");
    assert_non_null(f);
    assert_string_equal(f->detector, "amount_outlier");
    assert_string_equal(f->rep, "zhang");
    assert_string_equal(f->customer, "c-88");
    assert_string_equal(f->currency, "CNY");
    assert_int_equal(f->nevidence, 1);
    assert_true(has_evidence(f, big_seq, "big-1"));
    assert_true(f->score > f->threshold && f->threshold == 3.5);
    assert_true(f->baseline > 800000 && f->baseline < 1200000);
    assert_non_null(strstr(f->summary, "200,000.00 CNY"));
    assert_int_equal(f->at, t);
    flags_free(&fl);
    tlog_free(&log);
}

static void
test_amount_outlier_near_miss(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    cloud_history(&log, &t);
    /* 2.5x the median: large, but within the line's and zhang's spread (sigma 0.3 in log) */
    sale(&log, "large-1", t, "o-large", "zhang", "c-88", "cloud", 2500000);
    /* a new line with too little history is not judged */
    sale(&log, "new-1", t, "o-new1", "zhang", "c-88", "hardware", 100);
    sale(&log, "new-2", t, "o-new2", "zhang", "c-88", "hardware", 900000000);
    flags_t fl = {0};
    run(cls("amount_outlier"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    tlog_free(&log);
}

/* ---- duplicate_order ---- */

static void
test_duplicate_order_fires(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    sale(&log, "s1", t, "o1", "zhang", "c1", "cloud", 1234500);
    sale(&log, "s2", t + HOUR, "o2", "zhang", "c2", "cloud", 1234500); /* another customer */
    sale(&log, "s3", t + 5 * HOUR, "o3", "wang", "c1", "cloud", 1234500);
    flags_t fl = {0};
    run(cls("duplicate_order"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 1);
    const det_flag_t *f = find_flag(&fl, "s1/s3");
    assert_non_null(f);
    assert_int_equal(f->nevidence, 2);
    assert_true(has_evidence(f, 1, "s1") && has_evidence(f, 3, "s3"));
    assert_true(f->score <= f->threshold && f->score == 5.0);
    assert_string_equal(f->customer, "c1");
    assert_non_null(strstr(f->summary, "12,345.00 CNY"));
    flags_free(&fl);
    tlog_free(&log);
}

static void
test_duplicate_order_near_miss(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    sale(&log, "s1", t, "o1", "zhang", "c1", "cloud", 1234500);
    sale(&log, "s2", t + 73 * HOUR, "o2", "zhang", "c1", "cloud", 1234500);   /* after the window */
    sale(&log, "s3", t + 74 * HOUR, "o3", "zhang", "c1", "cloud", 1234501);   /* another amount */
    sale(&log, "s4", t + 74 * HOUR, "o4", "zhang", "c1", "support", 1234500); /* another line */
    sale(&log, "s5", t + 75 * HOUR, "o2", "zhang", "c1", "cloud", 1234500);   /* same order */
    cancel(&log, "x5", t + 76 * HOUR, "o2");
    sale(&log, "s6", t + 77 * HOUR, "o6", "zhang", "c1", "cloud", 1234500); /* rebooked */
    refund(&log, "r6", t + 78 * HOUR, "o6", 1234500);
    sale(&log, "s7", t + 79 * HOUR, "o7", "zhang", "c1", "cloud", 1234500); /* rebooked */
    sale(&log, "s8", t + 80 * HOUR, "o8", "zhang", NULL, "cloud", 1234500); /* no customer */
    sale(&log, "s9", t + 81 * HOUR, "o9", "zhang", NULL, "cloud", 1234500);
    flags_t fl = {0};
    run(cls("duplicate_order"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    tlog_free(&log);
}

int
main(void)
{
    char err[256];
    cal = calendar_new("Asia/Shanghai", 1, err, sizeof err);
    if (!cal) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    env.cal = cal;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kit_robust_stats),
        cmocka_unit_test(test_kit_table),
        cmocka_unit_test(test_amount_outlier_fires),
        cmocka_unit_test(test_amount_outlier_near_miss),
        cmocka_unit_test(test_duplicate_order_fires),
        cmocka_unit_test(test_duplicate_order_near_miss),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    calendar_destroy(&cal);
    return rc;
}
