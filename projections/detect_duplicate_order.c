/*  detect_duplicate_order: the same customer, product line, amount and
    currency booked again within window_hours (occurred_at) under another
    order id.

    A table keyed by (customer, product line, amount, currency) holds the
    latest deal of each such combination seen within the window, with its
    order, seq and event id; a sale that finds a live entry for another
    order is flagged with both events as evidence, then replaces the entry
    (a third copy pairs with the second). The same order id sent again is
    an amendment, not a duplicate. A deal cancelled or fully refunded
    before its twin arrives is a rebooking (a correction), not a duplicate:
    a second table, order -> combination, lets reversals mark the entry
    void. Sales without a customer are not judged: nothing says two of them
    are the same buyer.

    Standing orders repeat the same customer, line and amount on a cadence;
    when a holiday moves one, two of them can come a day apart. So an entry
    lives for series_days (35) after its last occurrence and counts them,
    and once a combination has occurred twice (a series) a new occurrence
    is a duplicate only within series_window_hours (12) of the last. The
    price: a standing order duplicated more than 12 hours later is missed.

    Score: the hours between the two deals; flagged when at most the
    threshold (window_hours, or series_window_hours in a series). Entries older than series_days, by
   stream time (the newest occurred_at folded), are evicted; each table also has a hard cap (1M
   entries) beyond which the oldest goes first. Key: the two event ids, older seq first. */

#include "events/money.h"
#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME     "duplicate_order"
#define VERSION  1
#define MAX_DEAL (1u << 20)

typedef struct {
    double window_hours, series_days, series_window_hours;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const dk_param_t PARAMS[] = {
    {"window_hours", offsetof(params_t, window_hours), 0, 24 * 30, 72},
    {"series_days", offsetof(params_t, series_days), 1, 365, 35},
    {"series_window_hours", offsetof(params_t, series_window_hours), 0, 24 * 30, 12},
    {"enabled", offsetof(params_t, enabled), 0, 1, 1},
    {NULL, 0, 0, 0, 0}};

/* keyed by the combination */
typedef struct {
    uint64_t order; /* hash of the order id */
    uint64_t seq;
    int64_t at;
    uint32_t voided;
    uint32_t count; /* occurrences of the combination, each within series_days of the last */
    char id[65];
    char order_id[65];
    char rep[65];
} deal_t;

/* keyed by the order hash */
typedef struct {
    uint64_t combo;
    int64_t amount;
} order_t;

typedef struct {
    const dk_kit_t *kit; /* first: see dk_kit_t */
    det_env_t env;
    params_t p;
    int64_t now; /* stream time */
    dk_table_t deals, orders;
} state_t;

static void
explain(state_t *s, const deal_t *first, uint64_t seq, const event_t *ev, det_emit_fn *emit,
        void *arg)
{
    det_flag_t f;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    dk_flag_begin(&f, NAME, at);
    char id[65], order[65], line[65], amt[48], t1[32], t2[32];
    dk_copy(id, sizeof id, ev->v[F_ID].s);
    dk_copy(order, sizeof order, ev->v[F_ORDER].s);
    dk_copy_field(line, sizeof line, ev, F_PRODUCT_LINE);
    dk_copy_field(f.rep, sizeof f.rep, ev, F_REP);
    dk_copy(f.customer, sizeof f.customer, ev->v[F_CUSTOMER].s);
    dk_copy(f.currency, sizeof f.currency, ev->v[F_CURRENCY].s);
    int first_older = first->seq < seq;
    dk_flag_key(&f, "%s/%s", first_older ? first->id : id, first_older ? id : first->id);
    double hours = fabs((double)(at - first->at)) / DK_HOUR;
    f.score = hours;
    f.baseline = 0;
    f.threshold = first->count > 1 ? s->p.series_window_hours : s->p.window_hours;
    f.severity = 1;
    dk_flag_evidence(&f, first->seq, first->id);
    dk_flag_evidence(&f, seq, id);
    money_format(ev->v[F_AMOUNT].i, f.currency, amt, sizeof amt);
    dk_fmt_time(first->at, t1, sizeof t1);
    dk_fmt_time(at, t2, sizeof t2);
    dk_flag_summary(
        &f,
        "duplicate_order: customer %s was booked %s of product line %s twice, %.1f hours "
        "apart (window %.0f hours): order %s by %s at %s (event %s) and order %s by %s at %s "
        "(event %s)",
        f.customer, amt, line[0] ? line : "(none)", hours, f.threshold, first->order_id, first->rep,
        t1, first->id, order, f.rep, t2, id);
    dk_flag_value(&f, "amount", (double)ev->v[F_AMOUNT].i);
    dk_flag_value(&f, "hours_apart", hours);
    dk_flag_value(&f, "first_seq", (double)first->seq);
    emit(arg, &f);
}

static int
fold_sale(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    if (!event_has(ev, F_CUSTOMER) || ev->v[F_AMOUNT].i <= 0)
        return 0;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    int64_t window = (int64_t)(s->p.window_hours * DK_HOUR);
    uint64_t order = dk_hash_str(ev->v[F_ORDER].s);
    uint64_t combo =
        dk_hash2(dk_hash2(dk_hash_str(ev->v[F_CUSTOMER].s), dk_hash_field(ev, F_PRODUCT_LINE) + 1),
                 dk_hash2((uint64_t)ev->v[F_AMOUNT].i, dk_hash_str(ev->v[F_CURRENCY].s)));
    dk_prefetch(&s->orders, order);
    /* one lookup: the entry, as it was (prev) or new; it is rewritten once judged */
    int added = 0;
    deal_t *d = dk_put(&s->deals, combo, at, &added);
    if (!d)
        return -1;
    const deal_t *prev = added ? NULL : d;
    uint32_t count = prev ? prev->count : 0;
    /* a second occurrence close to the first; within a series (standing orders), only one
       much closer than a holiday could move it */
    if (count > 1)
        window = (int64_t)(s->p.series_window_hours * DK_HOUR);
    if (prev && !prev->voided && prev->order != order && llabs(at - prev->at) <= window && emit)
        explain(s, prev, seq, ev, emit, arg);
    d->count = prev && prev->order == order ? count : count + 1;
    d->order = order;
    d->seq = seq;
    d->at = at;
    d->voided = 0;
    dk_copy(d->id, sizeof d->id, ev->v[F_ID].s);
    dk_copy(d->order_id, sizeof d->order_id, ev->v[F_ORDER].s);
    dk_copy(d->rep, sizeof d->rep, ev->v[F_REP].s);
    order_t *o = dk_put(&s->orders, order, at, NULL);
    if (!o)
        return -1;
    o->combo = combo;
    o->amount = ev->v[F_AMOUNT].i;
    return 0;
}

/* A cancelled or fully refunded deal no longer makes a later twin a duplicate. */
static void
fold_reversal(state_t *s, const event_t *ev)
{
    uint64_t order = dk_hash_str(ev->v[F_ORDER].s);
    order_t *o = dk_get(&s->orders, order);
    if (!o)
        return;
    if (ev->type == EV_SALE_REFUNDED) {
        o->amount -= ev->v[F_AMOUNT].i;
        if (o->amount > 0)
            return;
    }
    deal_t *d = dk_get(&s->deals, o->combo);
    if (d && d->order == order)
        d->voided = 1;
    dk_del(&s->orders, o);
}

static int
fold(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
     void *arg)
{
    if (((state_t *)state)->p.enabled < 0.5)
        emit = NULL;
    state_t *s = state;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    if (at > s->now) {
        s->now = at;
        int64_t horizon = (int64_t)(s->p.series_days * DK_DAY);
        int64_t window = (int64_t)(s->p.window_hours * DK_HOUR);
        dk_expire(&s->deals, at - (horizon > window ? horizon : window));
        dk_expire(&s->orders, at - window);
    }
    switch (ev->type) {
    case EV_SALE_CLOSED:
        return fold_sale(s, seq, ev, emit, arg);
    case EV_SALE_REFUNDED:
    case EV_SALE_CANCELLED:
        fold_reversal(s, ev);
        return 0;
    default:
        return 0;
    }
}

static int
deal_ok(const void *rec)
{
    const deal_t *d = rec;
    return dk_str_ok(d->id, sizeof d->id) && dk_str_ok(d->order_id, sizeof d->order_id) &&
           dk_str_ok(d->rep, sizeof d->rep);
}

static const dk_field_t FIELDS[] = {{DK_F_I64, offsetof(state_t, now), 1, INT64_MIN},
                                    {DK_F_END, 0, 0, 0}};

static const dk_tab_t TABLES[] = {
    {offsetof(state_t, deals), sizeof(deal_t), 256, MAX_DEAL, 0, deal_ok},
    {offsetof(state_t, orders), sizeof(order_t), 256, MAX_DEAL, 0, NULL},
    {0, 0, 0, 0, 0, NULL}};

static const dk_kit_t KIT = {DK_KIT_HEAD(NAME, VERSION, state_t, PARAMS), .fields = FIELDS,
                             .tables = TABLES};

DK_CREATE_FN(create, KIT)

const fold_class_t detect_duplicate_order = {DK_CLASS_ENTRIES(NAME, VERSION, create), .fold = fold};
