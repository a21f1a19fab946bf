/*  Unit tests for the anomaly detectors (projections/fold.h,
    projections/detect_*.c): per detector a crafted stream that must fire
    and a near miss that must not; the kit's robust statistics against brute
    force; determinism (fold all = fold half, save, load into a fresh state,
    fold the rest); the saved bytes, load's refusals and set_param's messages
    pinned to hashes recorded from the format's first code; and a long stream whose memory stays
   flat. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "events/schema.h"
#include "projections/calendar.h"
#include "projections/detect_kit.h"
#include "projections/fold.h"

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

static tev_t *
activity(tlog_t *log, const char *id, int64_t at, const char *rep, const char *customer, int kind)
{
    tev_t *t = tlog_add(log, EV_ACTIVITY_LOGGED, id, at);
    tev_str(t, F_REP, rep);
    tev_int(t, F_ACTIVITY, kind);
    if (customer)
        tev_str(t, F_CUSTOMER, customer);
    return t;
}

static tev_t *
new_customer(tlog_t *log, const char *id, int64_t at, const char *customer, const char *rep)
{
    tev_t *t = tlog_add(log, EV_CUSTOMER_CREATED, id, at);
    tev_str(t, F_CUSTOMER, customer);
    tev_str(t, F_REP, rep);
    return t;
}

static tev_t *
payment(tlog_t *log, const char *id, int64_t at, const char *order, const char *customer,
        int64_t amount)
{
    tev_t *t = tlog_add(log, EV_PAYMENT_RECEIVED, id, at);
    tev_int(t, F_AMOUNT, amount);
    tev_str(t, F_CURRENCY, "CNY");
    if (order)
        tev_str(t, F_ORDER, order);
    if (customer)
        tev_str(t, F_CUSTOMER, customer);
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
fold_range(const fold_class_t *dc, void *state, const tlog_t *log, size_t from, size_t to,
           flags_t *fl)
{
    event_t ev;
    for (size_t k = from; k < to; k++) {
        tev_to_event(&log->ev[k], &ev);
        assert_int_equal(dc->fold(state, k + 1, 0, &ev, fl ? collect : NULL, fl), 0);
    }
}

static void
run(const fold_class_t *dc, const tlog_t *log, flags_t *fl)
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

/* The window as it was first written: drop the oldest value (the first equal to it in sorted
   order), then insert the new one before the values not below it. */
static void
ref_win_push(dk_win_t *w, float *ring, float *sorted, uint32_t k, float v)
{
    if (w->n == k) {
        float old = ring[w->pos];
        uint32_t at = 0;
        while (at < w->n && sorted[at] < old)
            at++;
        memmove(sorted + at, sorted + at + 1, (w->n - at - 1) * sizeof *sorted);
        w->n--;
    }
    uint32_t at = 0;
    while (at < w->n && sorted[at] < v)
        at++;
    memmove(sorted + at + 1, sorted + at, (w->n - at) * sizeof *sorted);
    sorted[at] = v;
    w->n++;
    ring[w->pos] = v;
    w->pos = (w->pos + 1) % k;
}

/* dk_win_push leaves the same bytes as the removal and insertion it replaces (snapshots hold
   the sorted copy), with duplicates, -0 beside 0, and values entering and leaving at either
   end. */
static void
test_kit_win_push_bytes(void **unused)
{
    static const float vals[] = {0.0f, -0.0f, 1.0f, 1.0f, -1.0f, 2.5f, -1e30f, 1e30f, 3.0f};
    for (uint32_t k = 1; k <= 9; k++) {
        float ring[9], sorted[9], rring[9], rsorted[9];
        dk_win_t w = {0}, rw = {0};
        for (int round = 0; round < 2000; round++) {
            float v = round % 5 == 4 ? (float)(rnd() % 1000) / 7.0f
                                     : vals[rnd() % (sizeof vals / sizeof *vals)];
            dk_win_push(&w, ring, sorted, k, v);
            ref_win_push(&rw, rring, rsorted, k, v);
            assert_int_equal(w.n, rw.n);
            assert_int_equal(w.pos, rw.pos);
            assert_memory_equal(ring, rring, w.n * sizeof *ring);
            assert_memory_equal(sorted, rsorted, w.n * sizeof *sorted);
        }
    }
}

/* Keys that share their home and their index tag (the top bits) make every probe compare
   whole keys; others share only the home. Against a plain list in the order of last put:
   the same answers, evictions, expiry and iteration order. */
static void
test_kit_table_collisions(void **unused)
{
    enum { MAXC = 64, NKEYS = 300 };
    uint64_t keys[NKEYS];
    const uint64_t base = UINT64_C(0x5a5a000000000013);
    for (int j = 0; j < NKEYS; j++)
        /* bits 8-20 enter neither the home (bits 0-7 and 29-36 at most here) nor the tag (bits
           39-63); a third also differ in bit 45 (the tag) */
        keys[j] = base | ((uint64_t)(j + 1) << 8) | (j % 3 == 0 ? UINT64_C(1) << 45 : 0);
    dk_table_t t;
    assert_int_equal(dk_table_init(&t, sizeof(int64_t), 16, MAXC), 0);
    struct {
        uint64_t key;
        int64_t t, v;
    } model[MAXC];
    int n = 0;
    int64_t now = 0;
    for (int round = 0; round < 20000; round++) {
        uint64_t key = keys[rnd() % NKEYS];
        int m = 0;
        while (m < n && model[m].key != key)
            m++;
        int op = (int)(rnd() % 10);
        now += (int64_t)(rnd() % 3);
        if (op < 6) { /* put */
            int added = -1;
            int64_t *r = dk_put(&t, key, now, &added);
            assert_non_null(r);
            assert_int_equal(added, m == n);
            if (m < n) {
                assert_true(*r == model[m].v);
                if (now > model[m].t) {
                    int64_t v = model[m].v;
                    memmove(&model[m], &model[m + 1], (size_t)(n - m - 1) * sizeof *model);
                    model[n - 1].key = key;
                    model[n - 1].t = now;
                    model[n - 1].v = v;
                    m = n - 1;
                }
            } else {
                if (n == MAXC) {
                    memmove(&model[0], &model[1], (size_t)(n - 1) * sizeof *model);
                    n--;
                    m = n;
                }
                model[n].key = key;
                model[n].t = now;
                n++;
            }
            *r = round;
            model[m].v = round;
        } else if (op < 8) { /* get */
            int64_t *r = dk_get(&t, key);
            if (m < n)
                assert_true(r && *r == model[m].v);
            else
                assert_null(r);
        } else if (op < 9) { /* delete */
            int64_t *r = dk_get(&t, key);
            if (m < n) {
                dk_del(&t, r);
                memmove(&model[m], &model[m + 1], (size_t)(n - m - 1) * sizeof *model);
                n--;
            }
        } else { /* expire */
            int64_t cutoff = now - 40;
            dk_expire(&t, cutoff);
            int drop = 0;
            while (drop < n && model[drop].t < cutoff)
                drop++;
            memmove(&model[0], &model[drop], (size_t)(n - drop) * sizeof *model);
            n -= drop;
        }
        assert_int_equal(t.count, n);
        int j = 0;
        for (int64_t *r = dk_oldest(&t); r; r = dk_newer(&t, r), j++) {
            assert_true(j < n);
            assert_true(dk_rec_key(r) == model[j].key && *r == model[j].v);
        }
        assert_int_equal(j, n);
    }
    dk_table_free(&t);
}

/* ---- amount_outlier ---- */

static const fold_class_t *
cls(const char *name)
{
    const fold_class_t *dc = fold_find(name);
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
    assert_true(f->score > f->threshold && f->threshold == 4.5);
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

/* ---- helpers for the tests below ---- */

/* ms UTC of a local (Asia/Shanghai, UTC+8) date and time */
static int64_t
local_ms(int y, int m, int d, int hh, int mm)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = hh, .tm_min = mm};
    return (int64_t)timegm(&tm) * 1000 - 8 * HOUR;
}

static int
weekday_of(int64_t ms) /* 0 Monday .. 6 Sunday, local */
{
    time_t tt = (time_t)((ms + 8 * HOUR) / 1000);
    struct tm tm;
    gmtime_r(&tt, &tm);
    return (tm.tm_wday + 6) % 7;
}

static void
run_tick(const fold_class_t *dc, const tlog_t *log, int64_t now, flags_t *fl)
{
    void *st = dc->create(&env);
    assert_non_null(st);
    fold_range(dc, st, log, 0, log->n, fl);
    if (dc->tick)
        assert_int_equal(dc->tick(st, now, collect, fl), 0);
    dc->destroy(&st);
}

/* ---- customer_burst ---- */

/* 30 days of a customer every third day, then `burst` on day 30 (2026-10-31). */
static void
burst_history(tlog_t *log, const char *rep, int history_days, int burst)
{
    char id[64], cust[64];
    for (int d = 30 - history_days; d < 30; d++)
        if (d % 3 == 0) {
            snprintf(id, sizeof id, "cc:%s:%d", rep, d);
            snprintf(cust, sizeof cust, "c:%s:%d", rep, d);
            new_customer(log, id, OCT1 + d * DAY + 10 * HOUR, cust, rep);
        }
    for (int k = 0; k < burst; k++) {
        snprintf(id, sizeof id, "cc:%s:burst:%d", rep, k);
        snprintf(cust, sizeof cust, "c:%s:burst:%d", rep, k);
        new_customer(log, id, OCT1 + 30 * DAY + 14 * HOUR + k * 5 * MIN, cust, rep);
    }
}

static void
test_customer_burst_fires(void **unused)
{
    tlog_t log = {0};
    burst_history(&log, "zhang", 30, 9);
    flags_t fl = {0};
    run(cls("customer_burst"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 1);
    const det_flag_t *f = find_flag(&fl, "zhang/2026-10-31");
    assert_non_null(f);
    assert_string_equal(f->rep, "zhang");
    assert_true(f->score > f->threshold && f->threshold == 6);
    assert_true(f->baseline > 0.25 && f->baseline < 0.45);
    /* raised by the 7th of the day (a chance under 1e-6 at 0.33 a day), with all 7 */
    assert_int_equal(f->nevidence, 7);
    for (int k = 0; k < 7; k++) {
        char id[64];
        snprintf(id, sizeof id, "cc:zhang:burst:%d", k);
        assert_true(has_evidence(f, log.n - 9 + k + 1, id));
    }
    assert_non_null(strstr(f->summary, "7 customers on 2026-10-31"));
    flags_free(&fl);
    tlog_free(&log);
}

static void
test_customer_burst_near_miss(void **unused)
{
    tlog_t log = {0};
    burst_history(&log, "wang", 30, 5); /* five in a day: within what happens */
    burst_history(&log, "li", 10, 9);   /* too little history to judge */
    flags_t fl = {0};
    run(cls("customer_burst"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    tlog_free(&log);
}

/* ---- period_end_stuffing ---- */

/* June to September 2026: two deals of about 10,000.00 CNY each working day. */
static void
steady_months(tlog_t *log, const char *rep)
{
    char id[64], order[64];
    int n = 0;
    for (int64_t t = local_ms(2026, 6, 1, 0, 0); t < local_ms(2026, 10, 1, 0, 0); t += DAY) {
        if (weekday_of(t) >= 5)
            continue;
        for (int k = 0; k < 2; k++, n++) {
            snprintf(id, sizeof id, "%s:s%d", rep, n);
            snprintf(order, sizeof order, "%s:o%d", rep, n);
            sale(log, id, t + (10 + 5 * k) * HOUR, order, rep, "c1", "cloud",
                 1000000 + (n % 7) * 1000);
        }
    }
}

static int
tev_cmp(const void *a, const void *b)
{
    const tev_t *x = a, *y = b;
    int64_t ta = x->i[1], tb = y->i[1]; /* occurred_at is the second field */
    return ta < tb ? -1 : ta > tb;
}

/* Four extra deals of 80,000.00 CNY on 28 and 31 August (the last working days), and
   `cancels` of them cancelled on the `day`th of September and after. */
static void
stuffing(tlog_t *log, const char *rep, int cancels, int day)
{
    char id[64], order[64];
    for (int k = 0; k < 4; k++) {
        snprintf(id, sizeof id, "%s:stuffed%d", rep, k);
        snprintf(order, sizeof order, "%s:so%d", rep, k);
        sale(log, id, local_ms(2026, 8, k < 2 ? 28 : 31, 16, 10 * k), order, rep, "c9", "cloud",
             8000000);
    }
    for (int k = 0; k < cancels; k++) {
        snprintf(id, sizeof id, "%s:cancel%d", rep, k);
        snprintf(order, sizeof order, "%s:so%d", rep, k);
        cancel(log, id, local_ms(2026, 9, day + k, 11, 0), order);
    }
}

static void
test_period_end_stuffing_fires(void **unused)
{
    tlog_t log = {0};
    steady_months(&log, "zhao");
    stuffing(&log, "zhao", 3, 2);
    qsort(log.ev, log.n, sizeof *log.ev, tev_cmp);
    flags_t fl = {0};
    run(cls("period_end_stuffing"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 1);
    const det_flag_t *f = find_flag(&fl, "zhao/2026-08/reversed");
    assert_non_null(f);
    assert_int_equal(f->severity, 2);
    assert_true(f->score > 0.4 && f->baseline < 0.2 && f->score >= f->threshold);
    /* raised by the second cancellation, with both and the stuffed sales */
    size_t c0 = 0, c1 = 0, s0 = 0;
    for (size_t k = 0; k < log.n; k++) {
        if (strcmp(log.ev[k].s[0], "zhao:cancel0") == 0)
            c0 = k + 1;
        if (strcmp(log.ev[k].s[0], "zhao:cancel1") == 0)
            c1 = k + 1;
        if (strcmp(log.ev[k].s[0], "zhao:stuffed0") == 0)
            s0 = k + 1;
    }
    assert_true(has_evidence(f, c0, "zhao:cancel0") && has_evidence(f, c1, "zhao:cancel1"));
    assert_true(has_evidence(f, s0, "zhao:stuffed0"));
    assert_int_equal(f->at, local_ms(2026, 9, 3, 11, 0));
    assert_non_null(strstr(f->summary, "160,000.00 CNY"));
    flags_free(&fl);
    tlog_free(&log);
}

static void
test_period_end_stuffing_near_miss(void **unused)
{
    tlog_t log = {0};
    steady_months(&log, "qian");
    stuffing(&log, "qian", 1, 2); /* one reversal: an order that fell through */
    steady_months(&log, "sun");
    stuffing(&log, "sun", 3, 17); /* reversed, but not early in the next month */
    steady_months(&log, "zhou");
    stuffing(&log, "zhou", 0, 2); /* a strong end of month that stayed sold */
    qsort(log.ev, log.n, sizeof *log.ev, tev_cmp);
    flags_t fl = {0};
    run(cls("period_end_stuffing"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    tlog_free(&log);
}

/* ---- padding ---- */

static void
test_padding_fires(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    /* rebook: a's order cancelled, b books it again a day later */
    sale(&log, "p1", t, "po1", "a", "c1", "hw", 10000000);
    cancel(&log, "p1:x", t + 3 * DAY, "po1");
    sale(&log, "p2", t + 4 * DAY, "po2", "b", "c1", "hw", 9850000);
    /* the rebooking reaches the log before the refund */
    sale(&log, "q1", t + 5 * DAY, "qo1", "a", "c3", "sw", 5000000);
    sale(&log, "q2", t + 9 * DAY, "qo2", "b", "c3", "sw", 4950000);
    refund(&log, "q1:r", t + 9 * DAY + HOUR, "qo1", 5000000);
    /* bounce: a, b, a, b */
    for (int k = 0; k < 4; k++) {
        char id[16], order[16];
        snprintf(id, sizeof id, "b%d", k);
        snprintf(order, sizeof order, "bo%d", k);
        sale(&log, id, t + (10 + 10 * k) * DAY, order, k % 2 ? "b" : "a", "c7", "cons",
             100000 + 1000 * k);
    }
    flags_t fl = {0};
    run(cls("padding"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 3);
    const det_flag_t *f = find_flag(&fl, "rebook/p1:x/p2");
    assert_non_null(f);
    assert_string_equal(f->rep, "b");
    assert_string_equal(f->customer, "c1");
    assert_int_equal(f->nevidence, 3);
    assert_true(has_evidence(f, 1, "p1") && has_evidence(f, 2, "p1:x") && has_evidence(f, 3, "p2"));
    assert_true(f->score <= f->threshold);
    assert_non_null(strstr(f->summary, "100,000.00 CNY"));
    assert_non_null(strstr(f->summary, "98,500.00 CNY"));
    f = find_flag(&fl, "rebook/q1:r/q2");
    assert_non_null(f);
    assert_true(has_evidence(f, 4, "q1") && has_evidence(f, 5, "q2") && has_evidence(f, 6, "q1:r"));
    f = find_flag(&fl, "bounce/c7/b3");
    assert_non_null(f);
    assert_int_equal(f->nevidence, 4);
    assert_true(has_evidence(f, 7, "b0") && has_evidence(f, 10, "b3"));
    assert_non_null(strstr(f->summary, "1,030.00 CNY"));
    flags_free(&fl);
    tlog_free(&log);
}

static void
test_padding_near_miss(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    /* the same rep books it again (a correction) */
    sale(&log, "p1", t, "po1", "a", "c1", "hw", 10000000);
    cancel(&log, "p1:x", t + DAY, "po1");
    sale(&log, "p2", t + 2 * DAY, "po2", "a", "c1", "hw", 10000000);
    /* another rep, but another amount */
    sale(&log, "r1", t, "ro1", "a", "c2", "hw", 10000000);
    cancel(&log, "r1:x", t + DAY, "ro1");
    sale(&log, "r2", t + 2 * DAY, "ro2", "b", "c2", "hw", 7000000);
    /* another rep, the same amount, weeks later */
    sale(&log, "s1", t, "so1", "a", "c3", "hw", 10000000);
    cancel(&log, "s1:x", t + DAY, "so1");
    sale(&log, "s2", t + 20 * DAY, "so2", "b", "c3", "hw", 10000000);
    /* a handover: a, a, b, b */
    for (int k = 0; k < 4; k++) {
        char id[16], order[16];
        snprintf(id, sizeof id, "h%d", k);
        snprintf(order, sizeof order, "ho%d", k);
        sale(&log, id, t + (10 + 10 * k) * DAY, order, k < 2 ? "a" : "b", "c7", "cons", 100000);
    }
    qsort(log.ev, log.n, sizeof *log.ev, tev_cmp);
    flags_t fl = {0};
    run(cls("padding"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    tlog_free(&log);
}

/* ---- no_sales_trail ---- */

/* Sixty days of hw deals around 50,000.00 CNY, each after a visit three days before. */
static void
trail_history(tlog_t *log, int64_t *t)
{
    char id[32], cust[32], order[32];
    for (int k = 0; k < 120; k++) {
        snprintf(cust, sizeof cust, "c%d", k % 40);
        snprintf(id, sizeof id, "v%d", k);
        activity(log, id, *t - 3 * DAY, "zhang", cust, ACTIVITY_VISIT);
        snprintf(id, sizeof id, "h%d", k);
        snprintf(order, sizeof order, "o%d", k);
        sale(log, id, *t, order, "zhang", cust, "hw", (int64_t)(5000000 * exp(0.4 * rnd_normal())));
        *t += DAY / 2;
    }
}

static void
test_no_sales_trail_fires(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    trail_history(&log, &t);
    qsort(log.ev, log.n, sizeof *log.ev, tev_cmp);
    sale(&log, "big", t, "o-big", "wang", "dormant", "hw", 60000000);
    size_t big = log.n;
    /* judged once a day of stream time has passed */
    activity(&log, "later", t + 25 * HOUR, "li", "c1", ACTIVITY_CALL);
    sale(&log, "big2", t + 26 * HOUR, "o-big2", "wang", "dormant2", "hw", 70000000);
    size_t big2 = log.n;
    flags_t fl = {0};
    run(cls("no_sales_trail"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 1);
    const det_flag_t *f = find_flag(&fl, "big");
    assert_non_null(f);
    assert_true(has_evidence(f, big, "big"));
    assert_string_equal(f->customer, "dormant");
    assert_true(f->score >= f->threshold && f->baseline < 60000000);
    assert_non_null(strstr(f->summary, "600,000.00 CNY"));
    flags_free(&fl);
    /* the second is judged by the ticker once its day has passed */
    run_tick(cls("no_sales_trail"), &log, t + 26 * HOUR + 25 * HOUR, &fl);
    assert_int_equal(fl.n, 2);
    f = find_flag(&fl, "big2");
    assert_non_null(f);
    assert_true(has_evidence(f, big2, "big2"));
    flags_free(&fl);
    tlog_free(&log);
}

static void
test_no_sales_trail_near_miss(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1;
    trail_history(&log, &t);
    activity(&log, "v-new", t - 10 * DAY, "wang", "new", ACTIVITY_VISIT);
    qsort(log.ev, log.n, sizeof *log.ev, tev_cmp);
    sale(&log, "big", t, "o-big", "wang", "new", "hw", 60000000);        /* visited 10 days ago */
    sale(&log, "small", t, "o-small", "wang", "dormant", "hw", 4000000); /* not large */
    sale(&log, "repeat", t, "o-repeat", "zhang", "c5", "hw", 60000000);  /* bought lately */
    sale(&log, "late", t + HOUR, "o-late", "wang", "late", "hw", 60000000);
    /* its trail reaches the log after it, but happened before */
    activity(&log, "v-late", t - 2 * DAY, "wang", "late", ACTIVITY_QUOTE);
    activity(&log, "end", t + 3 * DAY, "li", "c1", ACTIVITY_CALL);
    flags_t fl = {0};
    run(cls("no_sales_trail"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    tlog_free(&log);
}

/* ---- benford ---- */

/* A deal amount as a price times a quantity: Benford-like over several orders of magnitude. */
static int64_t
earned_amount(void)
{
    int64_t unit = (int64_t)(2000 * exp(1.1 * rnd_normal())) + 1;
    int64_t qty = 1 + (int64_t)(rnd() % 40);
    return unit * qty * 100 + (int64_t)(rnd() % 100);
}

/* Three significant digits, the first as people invent them: few 1s. */
static int64_t
typed_amount(void)
{
    static const int first[20] = {1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 7, 8, 8, 9, 9, 2, 6};
    int64_t v = first[rnd() % 20] * 100 + (int64_t)(rnd() % 100);
    return v * (rnd() % 2 ? 10000 : 100000);
}

static void
test_benford_fires(void **unused)
{
    tlog_t log = {0};
    char id[32], order[32], rep[16];
    int64_t t = OCT1;
    for (int k = 0; k < 3000; k++, t += 10 * MIN) {
        int liar = k % 15 == 0;
        snprintf(rep, sizeof rep, liar ? "liar" : "r%d", k % 14);
        snprintf(id, sizeof id, "d%d", k);
        snprintf(order, sizeof order, "o%d", k);
        sale(&log, id, t, order, rep, "c", "hw", liar ? typed_amount() : earned_amount());
    }
    flags_t fl = {0};
    run(cls("benford"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 1);
    const det_flag_t *f = &fl.f[0];
    assert_string_equal(f->rep, "liar");
    assert_true(f->score > f->threshold && f->threshold == 0.015 && f->baseline < 0.015);
    assert_true(f->nevidence >= 8);
    for (int k = 0; k < f->nevidence; k++)
        assert_true((f->evidence[k].seq - 1) % 15 == 0); /* the liar's deals */
    char key[96];
    snprintf(key, sizeof key, "liar/%s", f->evidence[0].id); /* the newest: the trigger */
    assert_string_equal(f->key, key);
    assert_non_null(strstr(f->summary, ",000.00 CNY"));
    flags_free(&fl);
    tlog_free(&log);
}

static void
test_benford_near_miss(void **unused)
{
    tlog_t log = {0};
    char id[32], order[32], rep[16];
    int64_t t = OCT1;
    /* a rep who sells one product at 30,000-45,000 a unit: no Benford, but not typed */
    for (int k = 0; k < 3000; k++, t += 10 * MIN) {
        int narrow = k % 15 == 0;
        snprintf(rep, sizeof rep, narrow ? "narrow" : "r%d", k % 14);
        snprintf(id, sizeof id, "d%d", k);
        snprintf(order, sizeof order, "o%d", k);
        int64_t amount = narrow ? (30000 + (int64_t)(rnd() % 15000)) * 100 + 37 : earned_amount();
        sale(&log, id, t, order, rep, "c", "hw", amount);
    }
    flags_t fl = {0};
    run(cls("benford"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    tlog_free(&log);
}

/* ---- overdue_collection ---- */

static void
test_overdue_collection(void **unused)
{
    tlog_t log = {0};
    int64_t t = OCT1, due = OCT1 + 30 * DAY;
    tev_int(sale(&log, "s1", t, "o1", "zhang", "c1", "hw", 5000000), F_DUE_AT, due); /* unpaid */
    tev_int(sale(&log, "s2", t, "o2", "zhang", "c2", "hw", 5000000), F_DUE_AT, due);
    tev_int(sale(&log, "s3", t, "o3", "zhang", "c3", "hw", 3000000), F_DUE_AT, due);
    tev_int(sale(&log, "s4", t, "o4", "zhang", "c4", "hw", 3000000), F_DUE_AT, due);
    tev_int(sale(&log, "s5", t, "o5", "zhang", "c5", "hw", 3000000), F_DUE_AT, due + 10 * DAY);
    payment(&log, "pay2", t + 20 * DAY, "o2", NULL, 5000000); /* by order */
    payment(&log, "pay3", t + 35 * DAY, NULL, "c3", 3000000); /* late, by customer */
    refund(&log, "ref4", t + 5 * DAY, "o4", 3000000);         /* returned in full: nothing due */
    activity(&log, "a1", due + 29 * DAY, "li", "c9", ACTIVITY_CALL); /* within grace: nothing */
    size_t n29 = log.n;
    activity(&log, "a2", due + 31 * DAY, "li", "c9", ACTIVITY_CALL);
    flags_t fl = {0};
    /* stream time reaches due + 31 days: o1 is overdue, o5 (due 10 days later) not yet */
    run(cls("overdue_collection"), &log, &fl);
    print_flags(&fl);
    assert_int_equal(fl.n, 1);
    const det_flag_t *f = find_flag(&fl, "s1");
    assert_non_null(f);
    assert_true(has_evidence(f, 1, "s1"));
    assert_int_equal(f->at, due + 31 * DAY);
    assert_true(f->score >= 31 && f->threshold == 30 && f->baseline == 30);
    assert_non_null(strstr(f->summary, "50,000.00 CNY outstanding"));
    flags_free(&fl);
    /* time passes with no event: the ticker finds o5 */
    run_tick(cls("overdue_collection"), &log, due + 41 * DAY, &fl);
    assert_int_equal(fl.n, 2);
    f = find_flag(&fl, "s5");
    assert_non_null(f);
    assert_int_equal(f->at, due + 41 * DAY);
    flags_free(&fl);
    /* before grace ends: nothing */
    log.n = n29;
    run(cls("overdue_collection"), &log, &fl);
    assert_int_equal(fl.n, 0);
    flags_free(&fl);
    log.n = n29 + 1;
    tlog_free(&log);
}

/* ---- a long synthetic history, for determinism and memory ---- */

/* A stationary sales organisation: 40 reps with books of 50 customers that churn, four
   product lines, activities, deals with due dates, payments, a few refunds and
   cancellations, and now and then an anomaly of each kind. Events come one at a time in
   occurred_at order; strings live in the synth until the next event. */
#define SYN_REPS    40
#define SYN_BOOK    50
#define SYN_RING    8192
#define SYN_PENDING 64

typedef struct {
    char order[24], customer[24];
    int64_t amount, due;
    int rep, state; /* 0 open, 1 settled, 2 never paid */
} syn_sale_t;

typedef struct {
    int64_t at;
    int kind; /* 1 copy of a sale, 2 cancel, 3 rebook by another rep */
    int rep;
    int64_t amount;
    char order[24], customer[24];
    char line[8];
} syn_action_t;

typedef struct {
    uint64_t rng;
    int64_t t;
    uint64_t n, orders, customers, ids;
    uint32_t book[SYN_REPS][SYN_BOOK];
    syn_sale_t ring[SYN_RING];
    uint64_t ring_head, ring_pay; /* next slot; oldest not yet looked at for payment */
    syn_action_t pending[SYN_PENDING];
    int npending;
    int64_t month_end, stuffed_month;
    int burst_left, burst_rep;
    /* the event being built */
    event_t ev;
    char s_id[40], s_order[24], s_rep[16], s_cust[24], s_line[8];
} synth_t;

static const char *const SYN_LINES[4] = {"hw", "sw", "cloud", "cons"};
static const double SYN_UNIT[4] = {3800000, 160000, 480000, 26000};
static const double SYN_SIGMA[4] = {0.3, 0.45, 0.25, 0.22};

static uint64_t
syn_rnd(synth_t *y)
{
    y->rng ^= y->rng >> 12;
    y->rng ^= y->rng << 25;
    y->rng ^= y->rng >> 27;
    return y->rng * UINT64_C(2685821657736338717);
}

static double
syn_unit(synth_t *y)
{
    return (double)(syn_rnd(y) >> 11) / 9007199254740992.0;
}

static double
syn_normal(synth_t *y)
{
    double u = syn_unit(y), v = syn_unit(y);
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static void
syn_init(synth_t *y, uint64_t seed)
{
    memset(y, 0, sizeof *y);
    y->rng = seed * 2654435761u + 88172645463325252ULL;
    y->t = local_ms(2024, 1, 1, 9, 0);
    for (int r = 0; r < SYN_REPS; r++)
        for (int b = 0; b < SYN_BOOK; b++)
            y->book[r][b] = (uint32_t)++y->customers;
}

static void
syn_str(synth_t *y, ev_field_t f, const char *s)
{
    y->ev.present |= UINT64_C(1) << f;
    y->ev.v[f].s = (ev_str_t){s, (uint32_t)strlen(s)};
}

static void
syn_int(synth_t *y, ev_field_t f, int64_t v)
{
    y->ev.present |= UINT64_C(1) << f;
    y->ev.v[f].i = v;
}

static void
syn_begin(synth_t *y, ev_type_t type)
{
    memset(&y->ev, 0, sizeof y->ev);
    y->ev.type = type;
    snprintf(y->s_id, sizeof y->s_id, "e%llu", (unsigned long long)++y->ids);
    syn_str(y, F_ID, y->s_id);
    syn_int(y, F_OCCURRED_AT, y->t);
}

static void
syn_schedule(synth_t *y, const syn_action_t *a)
{
    if (y->npending < SYN_PENDING)
        y->pending[y->npending++] = *a;
}

/* A sale; kind 0 ordinary, else an anomaly's. Returns its ring slot. */
static syn_sale_t *
syn_sale(synth_t *y, int rep, const char *customer, int line, int64_t amount, int with_due)
{
    syn_begin(y, EV_SALE_CLOSED);
    snprintf(y->s_order, sizeof y->s_order, "o%llu", (unsigned long long)++y->orders);
    snprintf(y->s_rep, sizeof y->s_rep, "rep%02d", rep);
    snprintf(y->s_cust, sizeof y->s_cust, "%s", customer);
    snprintf(y->s_line, sizeof y->s_line, "%s", SYN_LINES[line]);
    syn_str(y, F_ORDER, y->s_order);
    syn_str(y, F_REP, y->s_rep);
    syn_int(y, F_AMOUNT, amount);
    syn_str(y, F_CURRENCY, "CNY");
    syn_str(y, F_CUSTOMER, y->s_cust);
    syn_str(y, F_PRODUCT_LINE, y->s_line);
    syn_sale_t *sl = &y->ring[y->ring_head++ % SYN_RING];
    snprintf(sl->order, sizeof sl->order, "%s", y->s_order);
    snprintf(sl->customer, sizeof sl->customer, "%s", customer);
    sl->amount = amount;
    sl->rep = rep;
    sl->due = with_due ? y->t + 30 * DAY : 0;
    sl->state = with_due ? 0 : 1;
    if (with_due)
        syn_int(y, F_DUE_AT, sl->due);
    return sl;
}

static int64_t
syn_price(synth_t *y, int line, int64_t *qty)
{
    *qty = 1 + (int64_t)(3 * exp(0.7 * syn_normal(y)));
    return (int64_t)(SYN_UNIT[line] * exp(SYN_SIGMA[line] * syn_normal(y))) / 100 * 100;
}

/* The last working day of the month holding t, from the calendar. */
static int64_t
syn_last_working_day(int64_t t)
{
    period_t m, d;
    assert_int_equal(calendar_period_containing(cal, PERIOD_MONTH, t, &m), 0);
    assert_int_equal(calendar_period_containing(cal, PERIOD_DAY, m.end_ms - 1, &d), 0);
    while (calendar_working_days(cal, d.start_ms, d.end_ms) == 0) {
        period_t prev;
        assert_int_equal(calendar_period_previous(cal, &d, 1, &prev), 0);
        d = prev;
    }
    return d.start_ms;
}

static const event_t *
syn_next(synth_t *y)
{
    y->t += 2 * MIN + (int64_t)(syn_rnd(y) % (6 * MIN));
    y->n++;
    /* scheduled parts of anomalies first */
    for (int k = 0; k < y->npending; k++) {
        syn_action_t a = y->pending[k];
        if (a.at > y->t)
            continue;
        y->pending[k] = y->pending[--y->npending];
        if (a.kind == 2) {
            syn_begin(y, EV_SALE_CANCELLED);
            snprintf(y->s_order, sizeof y->s_order, "%s", a.order);
            syn_str(y, F_ORDER, y->s_order);
            for (int j = 0; j < SYN_RING; j++)
                if (strcmp(y->ring[j].order, a.order) == 0)
                    y->ring[j].state = 1;
            return &y->ev;
        }
        int line = 0;
        while (line < 3 && strcmp(SYN_LINES[line], a.line) != 0)
            line++;
        syn_sale(y, a.rep, a.customer, line, a.amount, 1);
        return &y->ev;
    }
    /* period-end stuffing by rep01, every fifth month: four large deals on the last working
       day, three of them cancelled two days into the next month */
    int64_t last = syn_last_working_day(y->t);
    if (y->t >= last + 10 * HOUR && y->t < last + 20 * HOUR && y->stuffed_month != last) {
        period_t m;
        calendar_period_containing(cal, PERIOD_MONTH, y->t, &m);
        if (m.seq % 5 == 0) {
            y->stuffed_month = last;
            for (int k = 0; k < 4; k++) {
                syn_action_t a = {
                    .at = y->t + (k + 1) * MIN, .kind = 3, .rep = 1, .amount = 30000000};
                snprintf(a.customer, sizeof a.customer, "c%u", y->book[1][k]);
                snprintf(a.line, sizeof a.line, "hw");
                snprintf(a.order, sizeof a.order, "o%llu", (unsigned long long)y->orders + k + 1);
                syn_schedule(y, &a);
                if (k < 3) {
                    syn_action_t c = {.at = m.end_ms + 2 * DAY + (k + 10) * HOUR, .kind = 2};
                    snprintf(c.order, sizeof c.order, "%s", a.order);
                    syn_schedule(y, &c);
                }
            }
        }
    }
    if (y->burst_left > 0) {
        y->burst_left--;
        syn_begin(y, EV_CUSTOMER_CREATED);
        int b = (int)(syn_rnd(y) % SYN_BOOK);
        y->book[y->burst_rep][b] = (uint32_t)++y->customers;
        snprintf(y->s_cust, sizeof y->s_cust, "c%u", y->book[y->burst_rep][b]);
        snprintf(y->s_rep, sizeof y->s_rep, "rep%02d", y->burst_rep);
        syn_str(y, F_CUSTOMER, y->s_cust);
        syn_str(y, F_REP, y->s_rep);
        return &y->ev;
    }
    int rep = (int)(syn_rnd(y) % SYN_REPS);
    char cust[24];
    snprintf(cust, sizeof cust, "c%u", y->book[rep][syn_rnd(y) % SYN_BOOK]);
    /* an anomaly every 5,000 events, each kind in turn */
    if (y->n % 5000 == 0) {
        int line = (int)(syn_rnd(y) % 4);
        int64_t qty, unit = syn_price(y, line, &qty);
        syn_action_t a = {.rep = rep};
        switch (y->n / 5000 % 6) {
        case 0: /* amount outlier */
            syn_sale(y, rep, cust, line, unit * 30 * qty, 1);
            syn_int(y, F_QUANTITY, qty);
            return &y->ev;
        case 1: /* duplicate, 40 minutes later */
            syn_sale(y, rep, cust, line, unit * qty, 1);
            a.at = y->t + 40 * MIN;
            a.kind = 3;
            a.amount = unit * qty;
            snprintf(a.customer, sizeof a.customer, "%s", cust);
            snprintf(a.line, sizeof a.line, "%s", SYN_LINES[line]);
            syn_schedule(y, &a);
            return &y->ev;
        case 2: /* a burst of new customers */
            y->burst_rep = rep;
            y->burst_left = 10;
            return syn_next(y);
        case 3: /* padding: cancelled a day later, booked again by the next rep */
            syn_sale(y, rep, cust, line, unit * qty, 1);
            a.at = y->t + DAY;
            a.kind = 2;
            snprintf(a.order, sizeof a.order, "%s", y->s_order);
            syn_schedule(y, &a);
            a.at = y->t + 2 * DAY;
            a.kind = 3;
            a.rep = (rep + 1) % SYN_REPS;
            a.amount = unit * qty / 100 * 99;
            snprintf(a.customer, sizeof a.customer, "%s", cust);
            snprintf(a.line, sizeof a.line, "%s", SYN_LINES[line]);
            syn_schedule(y, &a);
            return &y->ev;
        case 4: /* a large deal for a customer nobody knows */
            snprintf(cust, sizeof cust, "x%llu", (unsigned long long)y->n);
            syn_sale(y, rep, cust, line, unit * qty * 20, 1);
            return &y->ev;
        default: /* never paid */
            syn_sale(y, rep, cust, line, unit * qty, 1)->state = 2;
            return &y->ev;
        }
    }
    uint64_t roll = syn_rnd(y) % 1000;
    if (roll < 500) {
        syn_begin(y, EV_ACTIVITY_LOGGED);
        snprintf(y->s_rep, sizeof y->s_rep, "rep%02d", rep);
        snprintf(y->s_cust, sizeof y->s_cust, "%s", cust);
        syn_str(y, F_REP, y->s_rep);
        syn_str(y, F_CUSTOMER, y->s_cust);
        syn_int(y, F_ACTIVITY, (int64_t)(roll % 4));
        return &y->ev;
    }
    if (roll < 720) {
        int line = (int)(syn_rnd(y) % 4);
        int64_t qty, unit = syn_price(y, line, &qty);
        int64_t amount = unit * qty;
        if (rep == 0) /* rep00 types round figures, few of them starting with 1 */
            amount = ((int64_t)(2 + syn_rnd(y) % 8) * 100 + (int64_t)(syn_rnd(y) % 100)) *
                     (syn_rnd(y) % 2 ? 10000 : 1000);
        syn_sale(y, rep, cust, line, amount, syn_rnd(y) % 5 != 0);
        if (rep != 0)
            syn_int(y, F_QUANTITY, qty);
        return &y->ev;
    }
    if (roll < 920) {
        /* pay the oldest open sale, unless it is one that is never paid */
        while (y->ring_pay < y->ring_head && y->ring[y->ring_pay % SYN_RING].state != 0)
            y->ring_pay++;
        if (y->ring_pay < y->ring_head && y->ring_head - y->ring_pay < SYN_RING) {
            syn_sale_t *sl = &y->ring[y->ring_pay++ % SYN_RING];
            sl->state = 1;
            syn_begin(y, EV_PAYMENT_RECEIVED);
            snprintf(y->s_order, sizeof y->s_order, "%s", sl->order);
            syn_str(y, F_ORDER, y->s_order);
            syn_int(y, F_AMOUNT, sl->amount);
            syn_str(y, F_CURRENCY, "CNY");
            return &y->ev;
        }
    }
    if (roll < 935 && y->ring_head > 100) {
        syn_sale_t *sl = &y->ring[(y->ring_head - 1 - syn_rnd(y) % 100) % SYN_RING];
        if (sl->state == 0) {
            sl->state = 1;
            syn_begin(y, roll < 930 ? EV_SALE_REFUNDED : EV_SALE_CANCELLED);
            snprintf(y->s_order, sizeof y->s_order, "%s", sl->order);
            syn_str(y, F_ORDER, y->s_order);
            if (roll < 930) {
                syn_int(y, F_AMOUNT, sl->amount / 4 + 1);
                syn_str(y, F_CURRENCY, "CNY");
            }
            return &y->ev;
        }
    }
    if (roll < 945) {
        syn_begin(y, EV_CUSTOMER_CREATED);
        int b = (int)(syn_rnd(y) % SYN_BOOK);
        y->book[rep][b] = (uint32_t)++y->customers;
        snprintf(y->s_cust, sizeof y->s_cust, "c%u", y->book[rep][b]);
        snprintf(y->s_rep, sizeof y->s_rep, "rep%02d", rep);
        syn_str(y, F_CUSTOMER, y->s_cust);
        syn_str(y, F_REP, y->s_rep);
        return &y->ev;
    }
    syn_begin(y, EV_ACTIVITY_LOGGED);
    snprintf(y->s_rep, sizeof y->s_rep, "rep%02d", rep);
    snprintf(y->s_cust, sizeof y->s_cust, "%s", cust);
    syn_str(y, F_REP, y->s_rep);
    syn_str(y, F_CUSTOMER, y->s_cust);
    syn_int(y, F_ACTIVITY, ACTIVITY_CALL);
    return &y->ev;
}

/* Copy a built event into the compact log. */
static void
tlog_push_event(tlog_t *log, const event_t *ev)
{
    char id[80];
    snprintf(id, sizeof id, "%.*s", (int)ev->v[F_ID].s.len, ev->v[F_ID].s.ptr);
    tev_t *t = tlog_add(log, ev->type, id, ev->v[F_OCCURRED_AT].i);
    for (int f = 0; f < F_COUNT; f++) {
        if (f == F_ID || f == F_OCCURRED_AT || !event_has(ev, (ev_field_t)f))
            continue;
        if (ev->v[f].s.ptr) {
            char buf[80];
            snprintf(buf, sizeof buf, "%.*s", (int)ev->v[f].s.len, ev->v[f].s.ptr);
            tev_str(t, (ev_field_t)f, buf);
        } else {
            tev_int(t, (ev_field_t)f, ev->v[f].i);
        }
    }
}

static void
flags_equal(const flags_t *a, const flags_t *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t k = 0; k < a->n; k++) {
        const det_flag_t *x = &a->f[k], *y = &b->f[k];
        assert_string_equal(x->key, y->key);
        assert_string_equal(x->summary, y->summary);
        assert_true(x->score == y->score && x->baseline == y->baseline && x->at == y->at);
        assert_int_equal(x->nevidence, y->nevidence);
        for (int e = 0; e < x->nevidence; e++) {
            assert_int_equal(x->evidence[e].seq, y->evidence[e].seq);
            assert_string_equal(x->evidence[e].id, y->evidence[e].id);
        }
    }
}

static void
save_state(const fold_class_t *dc, void *st, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    assert_int_equal(dc->save(st, &pk), 0);
}

/* ---- snapshot bytes pinned to the format ---- */

/* FNV-1a, 64-bit: the test's own hash of what a detector wrote, independent of the kit. */
static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(1099511628211);
    return h;
}

#define FNV0 UINT64_C(14695981039346656037)

/* Every parameter name any detector has, and one none has. */
static const char *const PARAM_NAMES[] = {"baseline_days",
                                          "before_hours",
                                          "bounce",
                                          "bounce_days",
                                          "enabled",
                                          "end_days",
                                          "grace_days",
                                          "grace_hours",
                                          "lambda_floor",
                                          "large_quantile",
                                          "line_only_threshold",
                                          "lookback_days",
                                          "max_terms_days",
                                          "min_count",
                                          "min_days",
                                          "min_deals",
                                          "min_line",
                                          "min_rep",
                                          "min_reversals",
                                          "min_spread",
                                          "paid_share",
                                          "period_months",
                                          "repeat_days",
                                          "repeat_exempt",
                                          "repeat_share",
                                          "reversal_days",
                                          "reversed_end_share",
                                          "reversed_share",
                                          "round_share",
                                          "series_days",
                                          "series_window_hours",
                                          "share_margin",
                                          "share_only",
                                          "share_only_margin",
                                          "share_only_min",
                                          "share_only_significance",
                                          "significance",
                                          "threshold",
                                          "tolerance",
                                          "window_days",
                                          "window_hours",
                                          "no_such_setting",
                                          NULL};
static const double PARAM_VALUES[] = {-1e9, -1, 0, 0.0005, 0.5, 1, 2, 3, 7, 30, 200, 1e9, NAN};

/* What the detectors wrote and said before their save, load and set_param bodies became the
   kit's tables (recorded from that code; a change here is a change of the snapshot format or
   of the refusals and messages, which must not happen without a version bump):
   - saved: the bytes of the state after folding the 200,000-event history below;
   - damaged: every load's result and message over 300 seeded damages of those bytes;
   - params: every set_param result and message over PARAM_NAMES x PARAM_VALUES, then the
     bytes a fresh state saves after them. */
typedef struct {
    const char *name;
    uint64_t saved, damaged, params;
} pinned_t;

static const pinned_t PINNED[] = {{"amount_outlier", UINT64_C(0x40220f60cd59a245),
                                   UINT64_C(0x8a807abed5640e5d), UINT64_C(0xe5dbfaecac07a4e9)},
                                  {"duplicate_order", UINT64_C(0xa156e9e5e2860812),
                                   UINT64_C(0xe97a58b0de3b16af), UINT64_C(0x20e39ffc6b212c2e)},
                                  {"customer_burst", UINT64_C(0x04b7f04c5cc47349),
                                   UINT64_C(0xa0af8022165d1f1e), UINT64_C(0x8f64b3f64bec2427)},
                                  {"period_end_stuffing", UINT64_C(0x75e98ef27dad886d),
                                   UINT64_C(0x5b048c06630d4aa8), UINT64_C(0xaa1730e3db090f45)},
                                  {"padding", UINT64_C(0x60e45d7f54d2f6d1),
                                   UINT64_C(0x888bf878efc043ac), UINT64_C(0xf44206efd6440813)},
                                  {"no_sales_trail", UINT64_C(0x2392e495c827bbfd),
                                   UINT64_C(0x65c10be12267d10a), UINT64_C(0x519b33f77862ec93)},
                                  {"benford", UINT64_C(0x452c2c6d6ee55398),
                                   UINT64_C(0xf94943ac2f10a532), UINT64_C(0x7a7ca798ffa28778)},
                                  {"overdue_collection", UINT64_C(0xefa5c52222bd15e7),
                                   UINT64_C(0x5dd9494c4f496295), UINT64_C(0x4551f2fd47e97b62)},
                                  {NULL, 0, 0, 0}};

static uint64_t
hash_params(const fold_class_t *dc)
{
    uint64_t h = FNV0;
    void *st = dc->create(&env);
    assert_non_null(st);
    char err[256];
    for (const char *const *n = PARAM_NAMES; *n; n++)
        for (size_t k = 0; k < sizeof PARAM_VALUES / sizeof *PARAM_VALUES; k++) {
            err[0] = 0;
            int rc = dc->set_param(st, *n, PARAM_VALUES[k], err, sizeof err);
            h = fnv(h, &rc, sizeof rc);
            if (rc != 0)
                h = fnv(h, err, strlen(err));
        }
    msgpack_sbuffer sb;
    save_state(dc, st, &sb);
    h = fnv(h, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    dc->destroy(&st);
    return h;
}

static uint64_t
hash_damaged(const fold_class_t *dc, const msgpack_sbuffer *a)
{
    uint64_t h = FNV0, seed = UINT64_C(0x9e3779b97f4a7c15);
    char err[256];
    for (int k = 0; k < 300; k++) {
        char *copy = malloc(a->size);
        assert_non_null(copy);
        memcpy(copy, a->data, a->size);
        size_t len = a->size;
        seed = seed * UINT64_C(6364136223846793005) + 1442695040888963407u;
        uint64_t x = seed >> 17;
        if (k % 3 == 2)
            len = (size_t)(x % a->size);
        else if (k % 3 == 1) /* the head: parameters, scalars, the first table's sizes */
            copy[x % (a->size < 400 ? a->size : 400)] ^= (char)(1u << ((x >> 40) % 8));
        else
            copy[x % a->size] ^= (char)(1u << ((x >> 40) % 8));
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        void *scratch = dc->create(&env);
        int rc = 2;
        err[0] = 0;
        if (msgpack_unpack_next(&up, copy, len, NULL) == MSGPACK_UNPACK_SUCCESS)
            rc = dc->load(scratch, &up.data, err, sizeof err);
        h = fnv(h, &rc, sizeof rc);
        if (rc != 0)
            h = fnv(h, err, strlen(err));
        dc->destroy(&scratch);
        msgpack_unpacked_destroy(&up);
        free(copy);
    }
    return h;
}

static void
check_pinned(const fold_class_t *dc, const msgpack_sbuffer *a)
{
    uint64_t saved = fnv(FNV0, a->data, a->size);
    uint64_t damaged = hash_damaged(dc, a), params = hash_params(dc);
    const pinned_t *p = PINNED;
    while (p->name && strcmp(p->name, dc->name) != 0)
        p++;
    if (!p->name || saved != p->saved || damaged != p->damaged || params != p->params)
        fprintf(stderr,
                "    now {\"%s\", UINT64_C(0x%016llx), UINT64_C(0x%016llx), UINT64_C(0x%016llx)}\n",
                dc->name, (unsigned long long)saved, (unsigned long long)damaged,
                (unsigned long long)params);
    assert_non_null(p->name); /* every detector is pinned */
    assert_true(saved == p->saved);
    assert_true(damaged == p->damaged);
    assert_true(params == p->params);
}

/* Same log, same flags: folded in one go, or half, saved, loaded into a fresh state and the
   rest; and the two final states save to the same bytes. */
static void
test_determinism(void **unused)
{
    tlog_t log = {0};
    synth_t *y = malloc(sizeof *y);
    assert_non_null(y);
    syn_init(y, 7);
    for (int k = 0; k < 200000; k++)
        tlog_push_event(&log, syn_next(y));
    free(y);
    size_t half = log.n / 2;
    for (const fold_class_t *const *d = DETECTORS; *d; d++) {
        const fold_class_t *dc = *d;
        flags_t all = {0}, split = {0};
        void *one = dc->create(&env);
        fold_range(dc, one, &log, 0, log.n, &all);

        void *first = dc->create(&env);
        fold_range(dc, first, &log, 0, half, &split);
        msgpack_sbuffer sb;
        save_state(dc, first, &sb);
        dc->destroy(&first);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
        void *second = dc->create(&env);
        char err[256];
        assert_int_equal(dc->load(second, &up.data, err, sizeof err), 0);
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
        fold_range(dc, second, &log, half, log.n, &split);

        fprintf(stderr, "  %-20s %zu flags, %zu bytes held\n", dc->name, all.n, dc->memory(one));
        assert_true(all.n > 0); /* the stream has something for every detector */
        flags_equal(&all, &split);
        msgpack_sbuffer a, b;
        save_state(dc, one, &a);
        save_state(dc, second, &b);
        assert_int_equal(a.size, b.size);
        assert_memory_equal(a.data, b.data, a.size);
        check_pinned(dc, &a);
        /* damaged snapshots: a flipped byte or a cut is either refused or loads a state that
           folds on safely (the sanitizer build checks the latter) */
        for (int k = 0; k < 200; k++) {
            char *copy = malloc(a.size);
            memcpy(copy, a.data, a.size);
            size_t len = a.size;
            if (k % 3 == 2)
                len = (size_t)(rnd() % a.size);
            else
                copy[rnd() % a.size] ^= (char)(1u << (rnd() % 8));
            msgpack_unpacked_init(&up);
            void *scratch = dc->create(&env);
            if (msgpack_unpack_next(&up, copy, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
                dc->load(scratch, &up.data, err, sizeof err) == 0)
                fold_range(dc, scratch, &log, half, half + 2000, NULL);
            dc->destroy(&scratch);
            msgpack_unpacked_destroy(&up);
            free(copy);
        }
        msgpack_sbuffer_destroy(&a);
        msgpack_sbuffer_destroy(&b);
        msgpack_object wrong = {.type = MSGPACK_OBJECT_NIL};
        assert_int_equal(dc->load(second, &wrong, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        dc->destroy(&one);
        dc->destroy(&second);
        flags_free(&all);
        flags_free(&split);
    }
    tlog_free(&log);
}

/* Two million events: after warm-up, what the detectors hold does not grow with the log. */
static void
test_memory_flat(void **unused)
{
    void *st[16];
    int nd = 0;
    for (const fold_class_t *const *d = DETECTORS; *d; d++)
        st[nd++] = (*d)->create(&env);
    synth_t *y = malloc(sizeof *y);
    assert_non_null(y);
    syn_init(y, 11);
    size_t mem[5] = {0};
    uint64_t flags = 0;
    flags_t fl = {0};
    struct timespec t0, t1;
    double fold_s = 0;
    for (int k = 1; k <= 2000000; k++) {
        const event_t *ev = syn_next(y);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (int d = 0; d < nd; d++)
            assert_int_equal(DETECTORS[d]->fold(st[d], (uint64_t)k, 0, ev, collect, &fl), 0);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        fold_s += (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        flags += fl.n;
        fl.n = 0;
        if (k % 500000 == 0) {
            size_t m = 0;
            for (int d = 0; d < nd; d++)
                m += DETECTORS[d]->memory(st[d]);
            mem[k / 500000] = m;
            fprintf(stderr, "  %7d events: %zu bytes held, %llu flags\n", k, m,
                    (unsigned long long)flags);
        }
    }
    fprintf(stderr, "  fold, all %d detectors: %.0f ns/event (CPU time, with the clock reads)\n",
            nd, 1e9 * fold_s / 2000000);
    /* from 1M events on (years of history) nothing grows */
    assert_true(mem[3] == mem[2] && mem[4] == mem[2]);
    flags_free(&fl);
    free(y);
    for (int d = 0; d < nd; d++)
        DETECTORS[d]->destroy(&st[d]);
}

/* Settings: each detector refuses an unknown name and an out-of-range value with a message
   naming itself, and enabled = 0 folds without raising. */
static void
test_params(void **unused)
{
    char err[256];
    for (const fold_class_t *const *d = DETECTORS; *d; d++) {
        void *st = (*d)->create(&env);
        err[0] = 0;
        assert_int_equal((*d)->set_param(st, "no_such_setting", 1, err, sizeof err), -1);
        assert_non_null(strstr(err, (*d)->name));
        assert_int_equal((*d)->set_param(st, "enabled", 2, err, sizeof err), -1);
        assert_int_equal((*d)->set_param(st, "enabled", 0, err, sizeof err), 0);
        (*d)->destroy(&st);
    }
    tlog_t log = {0};
    sale(&log, "s1", OCT1, "o1", "zhang", "c1", "cloud", 1234500);
    sale(&log, "s3", OCT1 + HOUR, "o3", "wang", "c1", "cloud", 1234500);
    const fold_class_t *dc = cls("duplicate_order");
    flags_t fl = {0};
    void *st = dc->create(&env);
    assert_int_equal(dc->set_param(st, "enabled", 0, err, sizeof err), 0);
    fold_range(dc, st, &log, 0, log.n, &fl);
    assert_int_equal(fl.n, 0);
    assert_int_equal(dc->set_param(st, "window_hours", -1, err, sizeof err), -1);
    assert_non_null(strstr(err, "window_hours"));
    dc->destroy(&st);
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
        cmocka_unit_test(test_kit_win_push_bytes),
        cmocka_unit_test(test_kit_table_collisions),
        cmocka_unit_test(test_amount_outlier_fires),
        cmocka_unit_test(test_amount_outlier_near_miss),
        cmocka_unit_test(test_duplicate_order_fires),
        cmocka_unit_test(test_duplicate_order_near_miss),
        cmocka_unit_test(test_customer_burst_fires),
        cmocka_unit_test(test_customer_burst_near_miss),
        cmocka_unit_test(test_period_end_stuffing_fires),
        cmocka_unit_test(test_period_end_stuffing_near_miss),
        cmocka_unit_test(test_padding_fires),
        cmocka_unit_test(test_padding_near_miss),
        cmocka_unit_test(test_no_sales_trail_fires),
        cmocka_unit_test(test_no_sales_trail_near_miss),
        cmocka_unit_test(test_benford_fires),
        cmocka_unit_test(test_benford_near_miss),
        cmocka_unit_test(test_overdue_collection),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_memory_flat),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    calendar_destroy(&cal);
    return rc;
}
