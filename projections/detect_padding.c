/*  detect_padding: reps padding each other's numbers.

    Two patterns, each flagged on its own key:

    - rebook: an order refunded or cancelled and booked again for the same
      customer at a similar amount (within tolerance, 10%) by another rep
      within window_days (14) after the reversal, or at most before_hours
      (24) before it (the rebooking may happen, and reach the log, first);
      an unrelated purchase a week before a refund is not a rebooking. Evidence: the original sale,
      the reversal, the rebooking. Score: the relative difference of the
      two amounts; threshold: tolerance.
    - bounce: a customer whose last four deals within bounce_days (90)
      alternate strictly between the same two reps (A, B, A, B: three
      switches). Evidence: those four deals. Score: the switches; threshold:
      3. A shared key account is the legitimate form of this; one handover
      (A, A, B, B) is one switch and never flagged.

    State: per customer active within the windows (at most 1M, the least
    recently active evicted) rings of the last four deals and the last two
    reversals (about 840 bytes); per order of the last 30 days (at most 1M) its
    rep, customer, amount and event id (about 130 bytes), so that a
    reversal can be traced to them; rep names (at most 65536). A reversal
    more than 30 days after its sale is not judged (refund-and-rebook
    happens within days). Keys: rebook/<reversal event id>/<rebooking event
    id>, bounce/<customer>/<latest event id>. */

#include "events/money.h"
#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME       "padding"
#define VERSION    1
#define NSALES     4
#define NREVS      2
#define MAX_ORDERS (1u << 20)
#define MAX_CUSTS  (1u << 20)
#define MAX_REPS   65536
#define HORIZON    (30 * DK_DAY)

typedef struct {
    double window_days, before_hours, tolerance, bounce_days, bounce;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const dk_param_t PARAMS[] = {
    {"window_days", offsetof(params_t, window_days), 0, 120, 14},
    {"before_hours", offsetof(params_t, before_hours), 0, 24 * 30, 24},
    {"tolerance", offsetof(params_t, tolerance), 0, 1, 0.1},
    {"bounce_days", offsetof(params_t, bounce_days), 1, 120, 90},
    {"bounce", offsetof(params_t, bounce), 0, 1, 1},
    {"enabled", offsetof(params_t, enabled), 0, 1, 1},
    {NULL, 0, 0, 0, 0}};

/* keyed by the order */
typedef struct {
    uint64_t rep, cust;
    int64_t amount;
    uint64_t seq;
    char id[65];
} order_t;

typedef struct {
    uint64_t rep;
    int64_t amount, at;
    uint64_t seq;
} sale_t;

/* A reversal: of a sale (sale_seq) by rep, for amount. */
typedef struct {
    uint64_t rep;
    int64_t amount, at;
    uint64_t seq, sale_seq; /* seq 0: none */
    uint32_t used, pad;
} rev_t;

/* What a sale touches comes first (the ring of the last four, the last two reversals); the
   ids, read only to explain a flag, after: a sale writes one of them. */
typedef struct {
    uint32_t nsales, pos; /* a ring: pos is the next slot */
    uint64_t bounce_upto; /* deals up to this seq were in a flagged bounce */
    sale_t sales[NSALES];
    rev_t revs[NREVS]; /* a ring too: rev_pos is the next slot */
    uint32_t rev_pos;
    char currency[4]; /* of the last sale */
    char ids[NSALES][65];
    char rev_ids[NREVS][65], sale_ids[NREVS][65];
    char name[65];
} cust_t;

/* The slot of the k-th newest sale (k = 0: the newest). */
static inline uint32_t
nth(const cust_t *c, uint32_t k)
{
    return (c->pos + NSALES - 1 - k) % NSALES;
}

typedef struct {
    char name[65];
} rep_t;

typedef struct {
    const dk_kit_t *kit; /* first: see dk_kit_t */
    det_env_t env;
    params_t p;
    int64_t now;
    dk_table_t orders, custs, reps;
} state_t;

static const char *
rep_name(state_t *s, uint64_t rep)
{
    rep_t *r = dk_get(&s->reps, rep);
    return r ? r->name : "?";
}

static double
rel_diff(int64_t a, int64_t b)
{
    double hi = (double)(a > b ? a : b);
    return hi > 0 ? fabs((double)(a - b)) / hi : 0;
}

static void
explain_rebook(state_t *s, const cust_t *c, uint32_t ri, uint32_t slot, det_emit_fn *emit,
               void *arg)
{
    const char *customer = c->name, *currency = c->currency;
    const sale_t *rebook = &c->sales[slot];
    const char *rebook_id = c->ids[slot];
    const rev_t *rv = &c->revs[ri];
    const char *rev_id = c->rev_ids[ri], *sale_id = c->sale_ids[ri];
    det_flag_t f;
    dk_flag_begin(&f, NAME, rebook->at > rv->at ? rebook->at : rv->at);
    snprintf(f.rep, sizeof f.rep, "%s", rep_name(s, rebook->rep));
    snprintf(f.customer, sizeof f.customer, "%s", customer);
    snprintf(f.currency, sizeof f.currency, "%s", currency);
    dk_flag_key(&f, "rebook/%s/%s", rev_id, rebook_id);
    double diff = rel_diff(rebook->amount, rv->amount);
    double days = fabs((double)(rebook->at - rv->at)) / DK_DAY;
    f.score = diff;
    f.threshold = s->p.tolerance;
    f.baseline = days;
    f.severity = 2;
    dk_flag_evidence(&f, rv->sale_seq, sale_id);
    dk_flag_evidence(&f, rv->seq, rev_id);
    dk_flag_evidence(&f, rebook->seq, rebook_id);
    char a1[48], a2[48], t1[32], t2[32];
    money_format(rv->amount, f.currency, a1, sizeof a1);
    money_format(rebook->amount, f.currency, a2, sizeof a2);
    dk_fmt_time(rv->at, t1, sizeof t1);
    dk_fmt_time(rebook->at, t2, sizeof t2);
    dk_flag_summary(&f,
                    "padding: %s of %s's sale %s to %s was reversed on %s (event %s) and %s "
                    "booked %s for the same customer on %s (event %s), %.1f days apart; the "
                    "amounts differ by %.1f%% (tolerance %.0f%%)",
                    a1, rep_name(s, rv->rep), sale_id, customer, t1, rev_id, f.rep, a2, t2,
                    rebook_id, days, 100 * diff, 100 * s->p.tolerance);
    dk_flag_value(&f, "reversed", (double)rv->amount);
    dk_flag_value(&f, "rebooked", (double)rebook->amount);
    dk_flag_value(&f, "days_apart", days);
    dk_flag_value(&f, "difference", diff);
    emit(arg, &f);
}

/* A reversal against a sale sl of the same customer: another rep, similar amount, within the
   window. */
static int
is_rebook(const state_t *s, const rev_t *rv, const sale_t *sl)
{
    return !rv->used && rv->seq && sl->rep != rv->rep && sl->seq != rv->sale_seq &&
           sl->at - rv->at <= (int64_t)(s->p.window_days * DK_DAY) &&
           rv->at - sl->at <= (int64_t)(s->p.before_hours * DK_HOUR) &&
           rel_diff(sl->amount, rv->amount) <= s->p.tolerance;
}

static void
check_bounce(state_t *s, cust_t *c, det_emit_fn *emit, void *arg)
{
    const char *customer = c->name, *currency = c->currency;
    if (s->p.bounce < 0.5 || c->nsales < NSALES)
        return;
    uint32_t slot[NSALES]; /* newest first */
    const sale_t *sl[NSALES];
    for (uint32_t k = 0; k < NSALES; k++) {
        slot[k] = nth(c, k);
        sl[k] = &c->sales[slot[k]];
    }
    if (sl[NSALES - 1]->seq <= c->bounce_upto ||
        sl[0]->at - sl[NSALES - 1]->at > (int64_t)(s->p.bounce_days * DK_DAY))
        return;
    for (int k = 0; k < NSALES; k++)
        if (sl[k]->rep != sl[k % 2]->rep || sl[0]->rep == sl[1]->rep)
            return;
    c->bounce_upto = sl[0]->seq;
    if (!emit)
        return;
    det_flag_t f;
    dk_flag_begin(&f, NAME, sl[0]->at);
    snprintf(f.rep, sizeof f.rep, "%s", rep_name(s, sl[0]->rep));
    snprintf(f.customer, sizeof f.customer, "%s", customer);
    snprintf(f.currency, sizeof f.currency, "%s", currency);
    dk_flag_key(&f, "bounce/%s/%s", customer, c->ids[slot[0]]);
    f.score = NSALES - 1;
    f.threshold = NSALES - 1;
    f.baseline = 1;
    f.severity = 1;
    for (int k = NSALES - 1; k >= 0; k--)
        dk_flag_evidence(&f, sl[k]->seq, c->ids[slot[k]]);
    double days = (double)(sl[0]->at - sl[NSALES - 1]->at) / DK_DAY;
    char amts[NSALES][48];
    for (int k = 0; k < NSALES; k++)
        money_format(sl[k]->amount, currency, amts[k], sizeof amts[k]);
    dk_flag_summary(&f,
                    "padding: customer %s's last %d deals alternate between %s and %s within %.0f "
                    "days (%d switches; a handover is 1): %s by %s, %s by %s, %s by %s, %s by %s "
                    "(events %s, %s, %s, %s)",
                    customer, NSALES, rep_name(s, sl[1]->rep), rep_name(s, sl[0]->rep), days,
                    NSALES - 1, amts[3], rep_name(s, sl[3]->rep), amts[2], rep_name(s, sl[2]->rep),
                    amts[1], rep_name(s, sl[1]->rep), amts[0], rep_name(s, sl[0]->rep),
                    c->ids[slot[3]], c->ids[slot[2]], c->ids[slot[1]], c->ids[slot[0]]);
    dk_flag_value(&f, "switches", NSALES - 1);
    dk_flag_value(&f, "days", days);
    emit(arg, &f);
}

static int
fold_sale(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    if (!event_has(ev, F_CUSTOMER))
        return 0;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    uint64_t rep = dk_hash_str(ev->v[F_REP].s);
    uint64_t cust = dk_hash_str(ev->v[F_CUSTOMER].s);
    uint64_t order = dk_hash_str(ev->v[F_ORDER].s);
    dk_prefetch(&s->orders, order);
    dk_prefetch(&s->custs, cust);
    int added = 0;
    rep_t *rn = dk_put(&s->reps, rep, at, &added);
    if (!rn)
        return -1;
    if (added)
        dk_copy(rn->name, sizeof rn->name, ev->v[F_REP].s);
    order_t *o = dk_put(&s->orders, order, at, NULL);
    if (!o)
        return -1;
    o->rep = rep;
    o->cust = cust;
    o->amount = ev->v[F_AMOUNT].i;
    o->seq = seq;
    dk_copy(o->id, sizeof o->id, ev->v[F_ID].s);

    cust_t *c = dk_put(&s->custs, cust, at, &added);
    if (!c)
        return -1;
    if (added)
        dk_copy(c->name, sizeof c->name, ev->v[F_CUSTOMER].s);
    dk_copy(c->currency, sizeof c->currency, ev->v[F_CURRENCY].s);
    uint32_t slot = c->pos;
    c->sales[slot] = (sale_t){.rep = rep, .amount = ev->v[F_AMOUNT].i, .at = at, .seq = seq};
    dk_copy(c->ids[slot], sizeof c->ids[slot], ev->v[F_ID].s);
    c->pos = (c->pos + 1) % NSALES;
    if (c->nsales < NSALES)
        c->nsales++;
    for (uint32_t ri = 0; ri < NREVS; ri++)
        if (is_rebook(s, &c->revs[ri], &c->sales[slot])) {
            c->revs[ri].used = 1;
            if (emit)
                explain_rebook(s, c, ri, slot, emit, arg);
            break;
        }
    check_bounce(s, c, emit, arg);
    return 0;
}

static int
fold_reversal(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    uint64_t order = dk_hash_str(ev->v[F_ORDER].s);
    order_t *o = dk_get(&s->orders, order);
    if (!o)
        return 0;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    int added = 0;
    cust_t *c = dk_put(&s->custs, o->cust, at, &added);
    if (!c)
        return -1;
    if (added) /* the customer's record went with the window: its name with it */
        snprintf(c->name, sizeof c->name, "?");
    uint32_t ri = c->rev_pos;
    c->rev_pos = (c->rev_pos + 1) % NREVS;
    rev_t *rv = &c->revs[ri];
    *rv = (rev_t){.rep = o->rep,
                  .amount = ev->type == EV_SALE_REFUNDED ? ev->v[F_AMOUNT].i : o->amount,
                  .at = at,
                  .seq = seq,
                  .sale_seq = o->seq};
    dk_copy(c->rev_ids[ri], sizeof c->rev_ids[ri], ev->v[F_ID].s);
    snprintf(c->sale_ids[ri], sizeof c->sale_ids[ri], "%s", o->id);
    /* a rebooking that reached the log first: the newest matching sale after the original */
    for (uint32_t k = 0; k < c->nsales; k++) {
        uint32_t slot = nth(c, k);
        if (c->sales[slot].seq > rv->sale_seq && is_rebook(s, rv, &c->sales[slot])) {
            rv->used = 1;
            if (emit)
                explain_rebook(s, c, ri, slot, emit, arg);
            break;
        }
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
    switch (ev->type) {
    case EV_SALE_CLOSED:
        rc = fold_sale(s, seq, ev, emit, arg);
        break;
    case EV_SALE_REFUNDED:
    case EV_SALE_CANCELLED:
        rc = fold_reversal(s, seq, ev, emit, arg);
        break;
    default:
        break;
    }
    if (at > s->now) {
        s->now = at;
        dk_expire(&s->orders, at - HORIZON);
        double keep = s->p.window_days > s->p.bounce_days ? s->p.window_days : s->p.bounce_days;
        dk_expire(&s->custs, at - (int64_t)(keep * DK_DAY));
    }
    return rc;
}

static int
cust_ok(const void *rec)
{
    const cust_t *c = rec;
    if (c->nsales > NSALES || c->pos >= NSALES || c->rev_pos >= NREVS ||
        !dk_str_ok(c->name, sizeof c->name) || !dk_str_ok(c->currency, sizeof c->currency))
        return 0;
    for (int k = 0; k < NSALES; k++)
        if (!dk_str_ok(c->ids[k], sizeof c->ids[k]))
            return 0;
    for (int k = 0; k < NREVS; k++)
        if (!dk_str_ok(c->rev_ids[k], sizeof c->rev_ids[k]) ||
            !dk_str_ok(c->sale_ids[k], sizeof c->sale_ids[k]))
            return 0;
    return 1;
}

static int
rep_ok(const void *rec)
{
    const rep_t *r = rec;
    return dk_str_ok(r->name, sizeof r->name);
}

static int
order_ok(const void *rec)
{
    const order_t *o = rec;
    return dk_str_ok(o->id, sizeof o->id);
}

static const dk_field_t FIELDS[] = {{DK_F_I64, offsetof(state_t, now), 1, INT64_MIN},
                                    {DK_F_END, 0, 0, 0}};

static const dk_tab_t TABLES[] = {
    {offsetof(state_t, orders), sizeof(order_t), 256, MAX_ORDERS, 0, order_ok},
    {offsetof(state_t, custs), sizeof(cust_t), 256, MAX_CUSTS, DK_DAY, cust_ok},
    {offsetof(state_t, reps), sizeof(rep_t), 64, MAX_REPS, DK_DAY, rep_ok},
    {0, 0, 0, 0, 0, NULL}};

static const dk_kit_t KIT = {DK_KIT_HEAD(NAME, VERSION, state_t, PARAMS), .fields = FIELDS,
                             .tables = TABLES};

DK_CREATE_FN(create, KIT)

const fold_class_t detect_padding = {DK_CLASS_ENTRIES(NAME, VERSION, create), .fold = fold};
