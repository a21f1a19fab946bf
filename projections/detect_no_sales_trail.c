/*  detect_no_sales_trail: a large deal with no recorded sales activity
    (visit, call, quote, demo) for its customer in the preceding
    lookback_days.

    "Large" is relative to the deal's product line: at least the
    large_quantile (0.8) of the line's last 256 deal amounts (per currency),
    once the line has min_line deals. Per customer, the times of their two
    most recent activities; a deal notes the customer's last activity
    before it when it is folded. A large deal is not judged at once but
    after grace_hours (24) of stream time, so that an activity which
    happened before the deal but reached the log after it (CRMs sync late)
    still counts.
    Nothing is judged before the log covers lookback_days: a trail older
    than the log is not a missing one.

    Repeat customers reorder without a visit: with repeat_exempt = 1 (the
    default), a purchase by the same customer within repeat_days (120)
    before the deal is a trail too, if it was at least repeat_share (10%)
    of this one (a small reorder does not vouch for one a hundred times
    its size) and was not itself flagged here. What
    is left is a large deal from a customer nobody has spoken to or sold to
    lately: the fabricated-order pattern.

    Score: days since the customer's last activity before the deal (the
    lookback when there is none on record); threshold: lookback_days;
    baseline: the line's large-deal amount.

    State: 2 KB per product line and currency (at most 4096), 64 bytes (a
    cache line) per customer seen within the last repeat_days (evicted
    after, at most 1M), and the large deals of the last grace_hours.
    Activities that name only an order, not a customer, are not used. Key:
    the sale's event id. */

#include "events/money.h"
#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME        "no_sales_trail"
#define VERSION     1
#define K_LINE      256
#define NACT        2
#define MAX_LINES   4096
#define MAX_CUSTS   (1u << 20)
#define MAX_PENDING (1u << 16)

typedef struct {
    double lookback_days, large_quantile, min_line, grace_hours, repeat_exempt, repeat_days,
        repeat_share;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const dk_param_t PARAMS[] = {
    {"lookback_days", offsetof(params_t, lookback_days), 1, 365, 30},
    {"large_quantile", offsetof(params_t, large_quantile), 0.5, 1, 0.8},
    {"min_line", offsetof(params_t, min_line), 5, K_LINE, 50},
    {"grace_hours", offsetof(params_t, grace_hours), 0, 24 * 30, 24},
    {"repeat_exempt", offsetof(params_t, repeat_exempt), 0, 1, 1},
    {"repeat_days", offsetof(params_t, repeat_days), 1, 730, 120},
    {"repeat_share", offsetof(params_t, repeat_share), 0, 10, 0.1},
    {"enabled", offsetof(params_t, enabled), 0, 1, 1},
    {NULL, 0, 0, 0, 0}};

typedef struct {
    dk_win_t w;
    float ring[K_LINE], sorted[K_LINE];
} line_t;

typedef struct {
    int64_t act[NACT];            /* newest first; 0 none */
    int64_t big_deal, big_amount; /* the customer's largest deal of the last repeat_days */
    /* with the table's 24-byte header: 64 bytes, one cache line (activities come often) */
    int64_t flagged_deal; /* the time of the customer's last deal flagged here */
} cust_t;

typedef struct {
    int64_t at, amount, prior_deal, prior_amount;
    int64_t last_act; /* the customer's last activity before the deal, as folded by then */
    double large;
    uint64_t seq, cust;
    char id[65], rep[65], customer[65], line[65];
    char currency[4];
} pending_t;

typedef struct {
    const dk_kit_t *kit; /* first: see dk_kit_t */
    det_env_t env;
    params_t p;
    int64_t now, first; /* stream time; the first occurred_at folded */
    dk_table_t lines, custs, pending;
} state_t;

static int64_t
lookback_ms(const state_t *s)
{
    return (int64_t)(s->p.lookback_days * DK_DAY);
}

static void
explain(state_t *s, const pending_t *d, int64_t last_act, det_emit_fn *emit, void *arg)
{
    det_flag_t f;
    dk_flag_begin(&f, NAME, d->at);
    snprintf(f.rep, sizeof f.rep, "%s", d->rep);
    snprintf(f.customer, sizeof f.customer, "%s", d->customer);
    snprintf(f.currency, sizeof f.currency, "%s", d->currency);
    dk_flag_key(&f, "%s", d->id);
    double days = last_act ? (double)(d->at - last_act) / DK_DAY : s->p.lookback_days;
    f.score = days;
    f.threshold = s->p.lookback_days;
    f.baseline = d->large;
    f.severity = 1;
    dk_flag_evidence(&f, d->seq, d->id);
    char amt[48], large[48], when[32], last[64] = "";
    money_format(d->amount, f.currency, amt, sizeof amt);
    dk_fmt_money(d->large, f.currency, large, sizeof large);
    dk_fmt_time(d->at, when, sizeof when);
    if (last_act) {
        char t[32];
        snprintf(last, sizeof last, "; the last was on %s", dk_fmt_date(last_act, t, sizeof t));
    }
    dk_flag_summary(&f,
                    "no_sales_trail: deal %s by %s for %s on %s, %s (at least %s is large for "
                    "product line %s, its top %.0f%%), has no visit, call, quote or demo for "
                    "that customer in the %.0f days before it%s",
                    d->id, d->rep, d->customer, when, amt, large, d->line[0] ? d->line : "(none)",
                    100 * (1 - s->p.large_quantile), s->p.lookback_days, last);
    dk_flag_value(&f, "amount", (double)d->amount);
    dk_flag_value(&f, "large_amount", d->large);
    dk_flag_value(&f, "days_since_activity", last_act ? days : NAN);
    emit(arg, &f);
}

/* Judge the large deals whose grace has passed by now. */
static void
resolve(state_t *s, int64_t now, det_emit_fn *emit, void *arg)
{
    int64_t grace = (int64_t)(s->p.grace_hours * DK_HOUR);
    pending_t *d;
    while ((d = dk_oldest(&s->pending)) && d->at + grace <= now) {
        cust_t *c = dk_get(&s->custs, d->cust);
        /* as known at the deal, or from activities that occurred before it but came later
           (the customer's newest two, which later activities may have pushed out) */
        int64_t last_act = d->last_act;
        int trail = 0;
        for (int k = 0; c && k < NACT; k++) {
            int64_t a = c->act[k];
            if (a && a <= d->at && a > last_act)
                last_act = a;
        }
        if (last_act && last_act >= d->at - lookback_ms(s))
            trail = 1;
        /* a purchase is a trail, unless that purchase was flagged here itself */
        if (s->p.repeat_exempt >= 0.5 && d->prior_deal &&
            d->prior_amount >= s->p.repeat_share * d->amount &&
            !(c && c->flagged_deal == d->prior_deal))
            trail = 1;
        if (!trail) {
            if (emit)
                explain(s, d, last_act, emit, arg);
            /* c may be gone (expired): keep the mark with a record of its own */
            cust_t *m = dk_put(&s->custs, d->cust, d->at, NULL);
            if (m)
                m->flagged_deal = d->at;
        }
        dk_del(&s->pending, d);
    }
}

static int
fold_activity(state_t *s, const event_t *ev)
{
    if (!event_has(ev, F_CUSTOMER))
        return 0;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    cust_t *c = dk_put(&s->custs, dk_hash_str(ev->v[F_CUSTOMER].s), at, NULL);
    if (!c)
        return -1;
    /* keep the NACT newest, newest first */
    int k = NACT - 1;
    if (c->act[k] && c->act[k] >= at)
        return 0;
    while (k > 0 && (!c->act[k - 1] || c->act[k - 1] < at)) {
        c->act[k] = c->act[k - 1];
        k--;
    }
    c->act[k] = at;
    return 0;
}

static int
fold_sale(state_t *s, uint64_t seq, const event_t *ev)
{
    int64_t amount = ev->v[F_AMOUNT].i;
    if (amount <= 0)
        return 0;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    uint64_t lkey =
        dk_hash2(dk_hash_field(ev, F_PRODUCT_LINE) + 1, dk_hash_str(ev->v[F_CURRENCY].s));
    int has_cust = event_has(ev, F_CUSTOMER);
    uint64_t cust = has_cust ? dk_hash_str(ev->v[F_CUSTOMER].s) : 0;
    if (has_cust)
        dk_prefetch(&s->custs, cust);
    line_t *line = dk_put(&s->lines, lkey, at, NULL);
    if (!line)
        return -1;
    float y = (float)log((double)amount);
    double large = 0;
    int is_large = 0;
    /* judged only once the log covers the lookback: before, a missing trail may just be
       older than the log */
    if (line->w.n >= s->p.min_line && at - s->first >= lookback_ms(s)) {
        large = exp(dk_quantile(line->sorted, line->w.n, s->p.large_quantile));
        is_large = (double)amount >= large;
    }
    dk_win_push(&line->w, line->ring, line->sorted, K_LINE, y);
    if (!has_cust)
        return 0;
    int64_t prior = 0, prior_amount = 0, last_act = 0;
    int64_t window = (int64_t)(s->p.repeat_days * DK_DAY);
    /* one lookup: a new record is all zeroes, which reads as no deal and no activity */
    cust_t *c = dk_put(&s->custs, cust, at, NULL);
    if (!c)
        return -1;
    if (c->big_deal && c->big_deal <= at && c->big_deal >= at - window) {
        prior = c->big_deal;
        prior_amount = c->big_amount;
    }
    for (int k = 0; k < NACT; k++)
        if (c->act[k] && c->act[k] <= at && c->act[k] > last_act)
            last_act = c->act[k];
    if (is_large) {
        int added = 0;
        pending_t *d = dk_put(&s->pending, dk_hash(&seq, sizeof seq, 7), at, &added);
        if (!d)
            return -1;
        d->at = at;
        d->amount = amount;
        d->prior_deal = prior;
        d->prior_amount = prior_amount;
        d->last_act = last_act;
        d->large = large;
        d->seq = seq;
        d->cust = cust;
        dk_copy(d->id, sizeof d->id, ev->v[F_ID].s);
        dk_copy(d->rep, sizeof d->rep, ev->v[F_REP].s);
        dk_copy(d->customer, sizeof d->customer, ev->v[F_CUSTOMER].s);
        dk_copy_field(d->line, sizeof d->line, ev, F_PRODUCT_LINE);
        dk_copy(d->currency, sizeof d->currency, ev->v[F_CURRENCY].s);
    }
    if (c->big_deal < at - window || amount >= c->big_amount) {
        c->big_deal = at;
        c->big_amount = amount;
    }
    return 0;
}

static int
fold(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
     void *arg)
{
    if (((state_t *)state)->p.enabled < 0.5)
        emit = NULL;
    state_t *s = state;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    int rc = 0;
    if (at < s->first)
        s->first = at;
    if (ev->type == EV_ACTIVITY_LOGGED)
        rc = fold_activity(s, ev);
    else if (ev->type == EV_SALE_CLOSED)
        rc = fold_sale(s, seq, ev);
    if (at > s->now) {
        s->now = at;
        resolve(s, at, emit, arg);
        double keep = s->p.lookback_days > s->p.repeat_days ? s->p.lookback_days : s->p.repeat_days;
        dk_expire(&s->custs, at - (int64_t)(keep * DK_DAY) - (int64_t)(s->p.grace_hours * DK_HOUR));
    }
    return rc;
}

static int
tick(void *state, int64_t now, det_emit_fn *emit, void *arg)
{
    if (((state_t *)state)->p.enabled < 0.5)
        emit = NULL;
    resolve(state, now, emit, arg);
    return 0;
}

static int
line_ok(const void *rec)
{
    const line_t *l = rec;
    return dk_win_ok(&l->w, l->ring, l->sorted, K_LINE);
}

static int
pending_ok(const void *rec)
{
    const pending_t *d = rec;
    return dk_str_ok(d->id, sizeof d->id) && dk_str_ok(d->rep, sizeof d->rep) &&
           dk_str_ok(d->customer, sizeof d->customer) && dk_str_ok(d->line, sizeof d->line) &&
           dk_str_ok(d->currency, sizeof d->currency);
}

static const dk_field_t FIELDS[] = {{DK_F_I64, offsetof(state_t, now), 1, INT64_MIN},
                                    {DK_F_I64, offsetof(state_t, first), 1, INT64_MAX},
                                    {DK_F_END, 0, 0, 0}};

static const dk_tab_t TABLES[] = {
    {offsetof(state_t, lines), sizeof(line_t), 16, MAX_LINES, DK_DAY, line_ok},
    {offsetof(state_t, custs), sizeof(cust_t), 256, MAX_CUSTS, DK_DAY, NULL},
    {offsetof(state_t, pending), sizeof(pending_t), 64, MAX_PENDING, 0, pending_ok},
    {0, 0, 0, 0, 0, NULL}};

static const dk_kit_t KIT = {DK_KIT_HEAD(NAME, VERSION, state_t, PARAMS), .fields = FIELDS,
                             .tables = TABLES};

DK_CREATE_FN(create, KIT)

const fold_class_t detect_no_sales_trail = {DK_CLASS_ENTRIES(NAME, VERSION, create), .fold = fold,
                                            .tick = tick};
