/*  detect_period_end_stuffing: a rep booking an unusual share of a
    period's revenue in its last working days, and, stronger, those orders
    reversed early in the next period.

    Periods are months (period_months = 1) or quarters (3) in the daemon's
    calendar; the end window is the last end_days (3) working days, the
    reversal window the first reversal_days (10) working days of the next
    period (holidays and make-up days from the calendar). Per rep, the
    current period's gross revenue and the part booked in the end window
    (with the end window's eight largest sales), the previous period's the
    same, and the shares of the rep's last six closed periods.

    The baseline share is the median of those past shares once there are
    three, else the calendar's (end_days over the period's working days); a
    period flagged as reversed leaves the history, so that a rep who stuffs
    month after month does not make it their usual.
    A period closes for a rep when their first event of a later period
    arrives. Two flags:

    - reversed (critical): at least min_reversals (2) of the end window's
      orders refunded or cancelled in the reversal window, together at
      least reversed_share (10%) of the period's revenue and
      reversed_end_share (30%) of the end window's, while the end share was
      at least share_margin (0) above the baseline. Honest reversals run at
      a few per cent of revenue, spread over the month; most of what was
      booked at the end coming back at once is what stuffing leaves.
      Raised by the reversal that completes the case; evidence: the
      reversals and the end window's largest sales.
    - share (warning; off by default, share_only = 1 turns it on): at the
      close, an end share of at least share_only_min (0.5) and
      share_only_margin (0.35) above the baseline, with at least three deals
      in the end window, and as many deals there as a binomial law with the
      baseline share gives a chance of at most 10^-share_only_significance
      (10^-3). Off by default because period-end rushes are real: a month
      shortened by a holiday, a quarter's last week; on the test histories
      it raised more false alarms than finds. Evidence: the end window's
      largest sales. A later reversed flag for the same period escalates
      it (its own key).

    Score: the end share; baseline: the rep's usual share; threshold: the
    baseline plus the margin. Quarter-end pushes that stay sold are the
    legitimate form of this and are not reversed.

    State: about 2.3 KB per rep (at most 65536), and per order booked in an
    end window its rep (kept 60 days). Keys: <rep>/<period>/reversed and
    <rep>/<period>/share. */

#include "events/money.h"
#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME      "period_end_stuffing"
#define VERSION   1
#define NEND      8
#define NHIST     6
#define MAX_REPS  65536
#define MAX_ENDS  (1u << 20)
#define ENDS_KEEP (60 * DK_DAY)
#define NCACHE    4

typedef struct {
    double period_months, end_days, reversal_days, min_reversals, reversed_share,
        reversed_end_share, share_margin, share_only, share_only_min, share_only_margin,
        share_only_significance;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const params_t DEFAULTS = {.period_months = 1,
                                  .end_days = 3,
                                  .reversal_days = 10,
                                  .min_reversals = 2,
                                  .reversed_share = 0.1,
                                  .reversed_end_share = 0.3,
                                  .share_margin = 0,
                                  .share_only = 0,
                                  .share_only_min = 0.5,
                                  .share_only_margin = 0.35,
                                  .share_only_significance = 3,
                                  .enabled = 1};

static const dk_param_t PARAMS[] = {
    {"period_months", offsetof(params_t, period_months), 1, 3},
    {"end_days", offsetof(params_t, end_days), 1, 20},
    {"reversal_days", offsetof(params_t, reversal_days), 1, 60},
    {"min_reversals", offsetof(params_t, min_reversals), 1, NEND},
    {"reversed_share", offsetof(params_t, reversed_share), 0, 1},
    {"reversed_end_share", offsetof(params_t, reversed_end_share), 0, 1},
    {"share_margin", offsetof(params_t, share_margin), 0, 1},
    {"share_only", offsetof(params_t, share_only), 0, 1},
    {"share_only_min", offsetof(params_t, share_only_min), 0, 1},
    {"share_only_margin", offsetof(params_t, share_only_margin), 0, 1},
    {"share_only_significance", offsetof(params_t, share_only_significance), 0, 50},
    {"enabled", offsetof(params_t, enabled), 0, 1},
    {NULL, 0, 0, 0}};

typedef struct {
    uint64_t order, seq;
    int64_t amount;
    char id[65];
} sale_ref_t;

typedef struct {
    int64_t pseq; /* 0: none */
    int64_t start, end, end_start;
    int64_t total, end_rev;
    uint32_t n, n_end, nends, pad;
    char name[PERIOD_NAME_MAX];
    sale_ref_t ends[NEND]; /* the end window's largest sales */
} per_t;

typedef struct {
    per_t cur, prev;
    double prev_baseline; /* the baseline share the previous period is judged against */
    int64_t rev_amount;
    uint32_t nrev, flagged_rev;
    struct {
        uint64_t seq;
        char id[65];
    } revs[NEND];
    float shares[NHIST]; /* NAN: a period flagged here, left out of the baseline */
    uint32_t nshares, shares_pos, prev_slot;
    char name[65];
    char currency[4];
} rep_t;

typedef struct {
    uint64_t rep;
    int64_t pseq, amount;
} end_order_t;

typedef struct {
    int64_t pseq, end_start, working;
} win_cache_t;

typedef struct {
    det_env_t env;
    params_t p;
    int64_t now;
    dk_table_t reps, ends;
    win_cache_t cache[NCACHE]; /* derived from the calendar: not saved */
    uint32_t cache_next;
} state_t;

static int
state_init(state_t *s, const det_env_t *env, const params_t *p)
{
    memset(s, 0, sizeof *s);
    s->env = *env;
    s->p = *p;
    s->now = INT64_MIN;
    if (dk_table_init(&s->reps, sizeof(rep_t), 64, MAX_REPS) != 0)
        return -1;
    if (dk_table_init(&s->ends, sizeof(end_order_t), 256, MAX_ENDS) != 0) {
        dk_table_free(&s->reps);
        return -1;
    }
    dk_table_slack(&s->reps, DK_DAY);
    return 0;
}

static void
state_fini(state_t *s)
{
    dk_table_free(&s->reps);
    dk_table_free(&s->ends);
}

static void *
create(const det_env_t *env)
{
    state_t *s = malloc(sizeof *s);
    if (s && state_init(s, env, &DEFAULTS) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static void
destroy(void **state_p)
{
    if (*state_p) {
        state_fini(*state_p);
        free(*state_p);
        *state_p = NULL;
    }
}

static period_kind_t
kind_of(const state_t *s)
{
    return s->p.period_months >= 2 ? PERIOD_QUARTER : PERIOD_MONTH;
}

/* The start of the period's end window (its last end_days working days) and its number of
   working days, cached per period. */
static void
end_window(state_t *s, const period_t *p, int64_t *end_start, int64_t *working)
{
    for (int k = 0; k < NCACHE; k++)
        if (s->cache[k].pseq == p->seq + 1) {
            *end_start = s->cache[k].end_start;
            *working = s->cache[k].working;
            return;
        }
    calendar_t *cal = s->env.cal;
    int64_t start = p->end_ms;
    int want = (int)s->p.end_days, found = 0;
    period_t d;
    if (calendar_period_containing(cal, PERIOD_DAY, p->end_ms - 1, &d) == 0) {
        while (found < want && d.start_ms >= p->start_ms) {
            if (calendar_working_days(cal, d.start_ms, d.end_ms) > 0) {
                found++;
                start = d.start_ms;
            }
            period_t prev;
            if (calendar_period_previous(cal, &d, 1, &prev) != 0)
                break;
            d = prev;
        }
    }
    *end_start = start;
    *working = calendar_working_days(cal, p->start_ms, p->end_ms);
    /* the cache holds pseq + 1 so that a zeroed slot matches nothing */
    s->cache[s->cache_next] = (win_cache_t){p->seq + 1, start, *working};
    s->cache_next = (s->cache_next + 1) % NCACHE;
}

static double
baseline_of(const state_t *s, const rep_t *r, const per_t *pe)
{
    float v[NHIST];
    uint32_t n = 0;
    for (uint32_t k = 0; k < r->nshares; k++)
        if (!isnan(r->shares[k]))
            v[n++] = r->shares[k];
    if (n >= 3) {
        for (uint32_t a = 1; a < n; a++)
            for (uint32_t b = a; b > 0 && v[b] < v[b - 1]; b--) {
                float t = v[b];
                v[b] = v[b - 1];
                v[b - 1] = t;
            }
        return dk_median(v, n);
    }
    int64_t end_start, working;
    period_t p = {
        .kind = kind_of(s), .seq = pe->pseq - 1, .start_ms = pe->start, .end_ms = pe->end};
    end_window((state_t *)s, &p, &end_start, &working);
    return working > 0 ? s->p.end_days / working : 0;
}

static double
share_of(const per_t *pe)
{
    return pe->total > 0 ? (double)pe->end_rev / pe->total : 0;
}

static void
add_evidence_ends(det_flag_t *f, const per_t *pe)
{
    for (uint32_t k = 0; k < pe->nends; k++)
        dk_flag_evidence(f, pe->ends[k].seq, pe->ends[k].id);
}

static void
explain_share(state_t *s, const rep_t *r, int64_t at, double share, double baseline,
              det_emit_fn *emit, void *arg)
{
    const per_t *pe = &r->prev;
    det_flag_t f;
    dk_flag_begin(&f, NAME, at);
    snprintf(f.rep, sizeof f.rep, "%s", r->name);
    snprintf(f.currency, sizeof f.currency, "%s", r->currency);
    dk_flag_key(&f, "%s/%s/share", r->name, pe->name);
    f.score = share;
    f.baseline = baseline;
    f.threshold = baseline + s->p.share_only_margin;
    f.severity = 1;
    add_evidence_ends(&f, pe);
    char end_rev[48], total[48];
    money_format(pe->end_rev, f.currency, end_rev, sizeof end_rev);
    money_format(pe->total, f.currency, total, sizeof total);
    dk_flag_summary(&f,
                    "period_end_stuffing: %s booked %.0f%% of their %s revenue (%s of %s, %u of %u "
                    "deals) in its last %.0f working days, against a usual %.0f%% (threshold "
                    "%.0f%%); the largest: %s",
                    r->name, 100 * share, pe->name, end_rev, total, pe->n_end, pe->n, s->p.end_days,
                    100 * baseline, 100 * f.threshold, pe->nends ? pe->ends[0].id : "");
    dk_flag_value(&f, "share", share);
    dk_flag_value(&f, "baseline", baseline);
    dk_flag_value(&f, "end_revenue", (double)pe->end_rev);
    dk_flag_value(&f, "revenue", (double)pe->total);
    dk_flag_value(&f, "end_deals", pe->n_end);
    emit(arg, &f);
}

static void
explain_reversed(state_t *s, const rep_t *r, int64_t at, double share, det_emit_fn *emit, void *arg)
{
    const per_t *pe = &r->prev;
    det_flag_t f;
    dk_flag_begin(&f, NAME, at);
    snprintf(f.rep, sizeof f.rep, "%s", r->name);
    snprintf(f.currency, sizeof f.currency, "%s", r->currency);
    dk_flag_key(&f, "%s/%s/reversed", r->name, pe->name);
    f.score = share;
    f.baseline = r->prev_baseline;
    f.threshold = r->prev_baseline + s->p.share_margin;
    f.severity = 2;
    for (uint32_t k = 0; k < r->nrev; k++)
        dk_flag_evidence(&f, r->revs[k].seq, r->revs[k].id);
    add_evidence_ends(&f, pe);
    char end_rev[48], total[48], rev[48];
    money_format(pe->end_rev, f.currency, end_rev, sizeof end_rev);
    money_format(pe->total, f.currency, total, sizeof total);
    money_format(r->rev_amount, f.currency, rev, sizeof rev);
    dk_flag_summary(&f,
                    "period_end_stuffing: %s booked %.0f%% of their %s revenue (%s of %s) in its "
                    "last %.0f working days, against a usual %.0f%% (threshold %.0f%%), and %u of "
                    "those orders, %s, were cancelled or refunded in the first %.0f working days "
                    "after it (the latest: %s)",
                    r->name, 100 * share, pe->name, end_rev, total, s->p.end_days,
                    100 * r->prev_baseline, 100 * f.threshold, r->nrev, rev, s->p.reversal_days,
                    r->nrev ? r->revs[r->nrev - 1].id : "");
    dk_flag_value(&f, "share", share);
    dk_flag_value(&f, "baseline", r->prev_baseline);
    dk_flag_value(&f, "end_revenue", (double)pe->end_rev);
    dk_flag_value(&f, "revenue", (double)pe->total);
    dk_flag_value(&f, "reversed", (double)r->rev_amount);
    dk_flag_value(&f, "reversals", r->nrev);
    emit(arg, &f);
}

static void
per_open(state_t *s, per_t *pe, const period_t *p)
{
    memset(pe, 0, sizeof *pe);
    int64_t working;
    end_window(s, p, &pe->end_start, &working);
    pe->pseq = p->seq + 1;
    pe->start = p->start_ms;
    pe->end = p->end_ms;
    snprintf(pe->name, sizeof pe->name, "%s", p->name);
}

/* Close the current period (judging its share) and open p as the current one. */
static void
roll(state_t *s, rep_t *r, const period_t *p, int64_t at, det_emit_fn *emit, void *arg)
{
    if (r->cur.pseq) {
        double share = share_of(&r->cur);
        double baseline = baseline_of(s, r, &r->cur);
        r->prev = r->cur;
        r->prev_baseline = baseline;
        r->rev_amount = 0;
        r->nrev = r->flagged_rev = 0;
        r->prev_slot = NHIST; /* none */
        if (r->cur.n > 0) {
            r->prev_slot = r->shares_pos;
            r->shares[r->shares_pos] = (float)share;
            r->shares_pos = (r->shares_pos + 1) % NHIST;
            if (r->nshares < NHIST)
                r->nshares++;
        }
        /* a few large deals make a revenue share jump: the count of deals must be unusual too */
        if (s->p.share_only >= 0.5 && r->prev.n_end >= 3 && share >= s->p.share_only_min &&
            share >= baseline + s->p.share_only_margin &&
            dk_binomial_score(r->prev.n_end, r->prev.n, baseline) >= s->p.share_only_significance &&
            emit)
            explain_share(s, r, at, share, baseline, emit, arg);
    }
    per_open(s, &r->cur, p);
}

static void
per_add(per_t *pe, uint64_t order, uint64_t seq, int64_t amount, int64_t at, const event_t *ev)
{
    pe->total += amount;
    pe->n++;
    if (at < pe->end_start)
        return;
    pe->end_rev += amount;
    pe->n_end++;
    uint32_t k = pe->nends;
    if (k == NEND) {
        /* keep the largest: replace the smallest if this one is larger */
        uint32_t min = 0;
        for (uint32_t j = 1; j < NEND; j++)
            if (pe->ends[j].amount < pe->ends[min].amount)
                min = j;
        if (pe->ends[min].amount >= amount)
            return;
        k = min;
    } else {
        pe->nends++;
    }
    pe->ends[k].order = order;
    pe->ends[k].seq = seq;
    pe->ends[k].amount = amount;
    dk_copy(pe->ends[k].id, sizeof pe->ends[k].id, ev->v[F_ID].s);
}

static int
fold_sale(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    int64_t amount = ev->v[F_AMOUNT].i, at = ev->v[F_OCCURRED_AT].i;
    if (amount <= 0)
        return 0;
    period_t p;
    if (calendar_period_containing(s->env.cal, kind_of(s), at, &p) != 0)
        return 0;
    int added = 0;
    uint64_t rkey = dk_hash_str(ev->v[F_REP].s);
    rep_t *r = dk_put(&s->reps, rkey, at, &added);
    if (!r)
        return -1;
    if (added)
        dk_copy(r->name, sizeof r->name, ev->v[F_REP].s);
    dk_copy(r->currency, sizeof r->currency, ev->v[F_CURRENCY].s);
    if (p.seq + 1 > r->cur.pseq)
        roll(s, r, &p, at, emit, arg);
    per_t *pe = p.seq + 1 == r->cur.pseq ? &r->cur : p.seq + 1 == r->prev.pseq ? &r->prev : NULL;
    if (!pe)
        return 0; /* older than the previous period */
    uint64_t order = dk_hash_str(ev->v[F_ORDER].s);
    per_add(pe, order, seq, amount, at, ev);
    if (at >= pe->end_start) {
        end_order_t *e = dk_put(&s->ends, order, at, NULL);
        if (!e)
            return -1;
        e->rep = rkey;
        e->pseq = pe->pseq;
        e->amount = amount;
    }
    return 0;
}

static int
fold_reversal(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    uint64_t order = dk_hash_str(ev->v[F_ORDER].s);
    end_order_t *e = dk_get(&s->ends, order);
    if (!e)
        return 0;
    rep_t *r = dk_get(&s->reps, e->rep);
    int64_t at = ev->v[F_OCCURRED_AT].i;
    if (!r)
        return 0;
    period_t p;
    if (calendar_period_containing(s->env.cal, kind_of(s), at, &p) != 0)
        return 0;
    if (r->cur.pseq == e->pseq && p.seq + 1 > r->cur.pseq)
        roll(s, r, &p, at, emit, arg); /* the rep's first event of the new period */
    if (r->prev.pseq != e->pseq || at < r->prev.end ||
        calendar_working_days(s->env.cal, r->prev.end, at) > s->p.reversal_days)
        return 0;
    /* the amount reversed: the refund, or what the order was booked for */
    int64_t amount = ev->type == EV_SALE_REFUNDED ? ev->v[F_AMOUNT].i : e->amount;
    r->rev_amount += amount;
    if (r->nrev < NEND) {
        r->revs[r->nrev].seq = seq;
        dk_copy(r->revs[r->nrev].id, sizeof r->revs[0].id, ev->v[F_ID].s);
    }
    r->nrev++;
    dk_del(&s->ends, e); /* an order counts once */
    double share = share_of(&r->prev);
    if (!r->flagged_rev && r->nrev >= s->p.min_reversals &&
        r->rev_amount >= s->p.reversed_share * r->prev.total &&
        r->rev_amount >= s->p.reversed_end_share * r->prev.end_rev &&
        share >= r->prev_baseline + s->p.share_margin) {
        r->flagged_rev = 1;
        /* a stuffed period is not what the rep usually books at the end */
        if (r->prev_slot < NHIST)
            r->shares[r->prev_slot] = NAN;
        if (r->nrev > NEND)
            r->nrev = NEND;
        if (emit)
            explain_reversed(s, r, at, share, emit, arg);
    }
    if (r->nrev > NEND)
        r->nrev = NEND;
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
    if (at > s->now) {
        s->now = at;
        dk_expire(&s->ends, at - ENDS_KEEP);
    }
    switch (ev->type) {
    case EV_SALE_CLOSED:
        return fold_sale(s, seq, ev, emit, arg);
    case EV_SALE_REFUNDED:
    case EV_SALE_CANCELLED:
        return fold_reversal(s, seq, ev, emit, arg);
    default:
        return 0;
    }
}

static int
per_ok(const per_t *pe)
{
    if (pe->nends > NEND || !dk_str_ok(pe->name, sizeof pe->name))
        return 0;
    for (uint32_t k = 0; k < NEND; k++)
        if (!dk_str_ok(pe->ends[k].id, sizeof pe->ends[k].id))
            return 0;
    return 1;
}

static int
rep_ok(const void *rec)
{
    const rep_t *r = rec;
    if (!per_ok(&r->cur) || !per_ok(&r->prev) || r->nrev > NEND || r->nshares > NHIST ||
        r->shares_pos >= NHIST || r->prev_slot > NHIST || !dk_str_ok(r->name, sizeof r->name) ||
        !dk_str_ok(r->currency, sizeof r->currency))
        return 0;
    for (uint32_t k = 0; k < NEND; k++)
        if (!dk_str_ok(r->revs[k].id, sizeof r->revs[k].id))
            return 0;
    return 1;
}

static int
save(void *state, msgpack_packer *pk)
{
    state_t *s = state;
    dk_wbuf_t w = {0};
    dk_w_params(&w, &s->p, PARAMS);
    dk_w_i64(&w, s->now);
    dk_w_table(&w, &s->reps);
    dk_w_table(&w, &s->ends);
    return dk_w_finish(&w, pk, NAME, VERSION);
}

static int
load(void *state, const msgpack_object *obj, char *err, size_t errlen)
{
    state_t *s = state;
    dk_rbuf_t r;
    if (dk_r_open(&r, obj, NAME, VERSION, err, errlen) != 0)
        return -1;
    params_t p = s->p;
    dk_r_params(&r, &p, PARAMS);
    state_t fresh;
    if (r.failed || state_init(&fresh, &s->env, &p) != 0) {
        snprintf(err, errlen, "detector %s: damaged snapshot or out of memory", NAME);
        return -1;
    }
    fresh.now = dk_r_i64(&r);
    dk_r_table(&r, &fresh.reps, rep_ok);
    dk_r_table(&r, &fresh.ends, NULL);
    if (dk_r_close(&r, NAME, err, errlen) != 0) {
        state_fini(&fresh);
        return -1;
    }
    state_fini(s);
    *s = fresh;
    return 0;
}

static int
set_param(void *state, const char *param, double value, char *err, size_t errlen)
{
    state_t *s = state;
    int rc = dk_set_param(&s->p, PARAMS, NAME, param, value, err, errlen);
    memset(s->cache, 0, sizeof s->cache); /* end_days may have changed */
    return rc;
}

static size_t
memory(void *state)
{
    state_t *s = state;
    return sizeof *s + dk_table_memory(&s->reps) + dk_table_memory(&s->ends);
}

const fold_class_t detect_period_end_stuffing = {
    .name = NAME,
    .version = VERSION,
    .create = create,
    .destroy = destroy,
    .fold = fold,
    .tick = NULL,
    .save = save,
    .load = load,
    .set_param = set_param,
    .memory = memory,
};
