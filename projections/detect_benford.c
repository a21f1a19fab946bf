/*  detect_benford: a rep whose deal amounts do not look earned.

    Amounts that arise from many multiplicative factors (prices, quantities,
    discounts) follow Benford's law: first digit d with probability
    log10(1 + 1/d). Per rep, the first digits of the last 500 deals (a
    ring) and their counts; the organisation's last 8192 deals likewise.
    Once a rep has min_deals (100) in the window, each deal recomputes
    Nigrini's mean absolute deviation MAD = sum |p_d - B_d| / 9 against
    Benford; above threshold (0.015, Nigrini's first-digit nonconformity
    bound; 0.006 / 0.012 / 0.015 are his close / acceptable / marginal
    limits) the rep's first digits are nonconforming.

    That alone is not enough on real books: with a few hundred deals even a
    conforming rep shows a MAD near 0.01 (about 0.0235 / sqrt(n / 100)), and
    a rep whose customers buy a narrow range of products shows 0.03 to 0.045
    without inventing anything. What sets typed amounts apart is what
    Nigrini's last-digits test looks at: people type round figures. So a
    flag also needs the rep's share of round amounts (at most three
    significant digits in minor units: 73,400.00 but not 73,456.00) to be
    far above the organisation's: a binomial tail against the
    organisation's share (at least 1%) with -log10 p above significance
    (10), and at least round_share (0.3) of the window.

    After a flag the rep is not judged again until the window has turned
    over (500 more deals), so the same evidence is never flagged twice. The
    evidence is the round ones among the rep's last 16 deals. Score: the
    MAD; baseline: the organisation's MAD; threshold: 0.015.

    State: about 1.7 KB per rep (at most 65536), 8 KB for the organisation.
    Key: <rep>/<event id of the deal that triggered it>. */

#include "events/money.h"
#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME     "benford"
#define VERSION  1
#define WINDOW   500
#define ORG      8192
#define RECENT   16
#define MAX_REPS 65536

typedef struct {
    double threshold, significance, min_deals, round_share;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const dk_param_t PARAMS[] = {{"threshold", offsetof(params_t, threshold), 0.001, 1, 0.015},
                                    {"significance", offsetof(params_t, significance), 0, 100, 10},
                                    {"min_deals", offsetof(params_t, min_deals), 50, WINDOW, 100},
                                    {"round_share", offsetof(params_t, round_share), 0, 1, 0.3},
                                    {"enabled", offsetof(params_t, enabled), 0, 1, 1},
                                    {NULL, 0, 0, 0, 0}};

/* log10(1 + 1/d) */
static const double BENFORD[10] = {0,
                                   0.30102999566398120,
                                   0.17609125905568124,
                                   0.12493873660829995,
                                   0.09691001300805642,
                                   0.07918124604762482,
                                   0.06694678963061322,
                                   0.05799194697768673,
                                   0.05115252244738129,
                                   0.04575749056067513};

/* digit[] entries: the first digit, plus ROUND when the amount is a round figure */
#define ROUND 0x10

typedef struct {
    uint32_t n, pos, cooldown, recent_pos;
    uint32_t count[10];
    uint32_t rounds;
    uint8_t digit[WINDOW];
    uint8_t recent_digit[RECENT];
    uint64_t recent_seq[RECENT];
    char recent_id[RECENT][65];
    char currency[4];
} rep_t;

typedef struct {
    const dk_kit_t *kit; /* first: see dk_kit_t */
    det_env_t env;
    params_t p;
    uint32_t org_n, org_pos;
    uint32_t org_count[10];
    uint32_t org_rounds;
    uint8_t org_digit[ORG];
    dk_table_t reps;
} state_t;

static int
first_digit(int64_t a)
{
    while (a >= 10)
        a /= 10;
    return (int)a;
}

static double
mad_of(const uint32_t *count, uint32_t n, const double *expect)
{
    double sum = 0;
    for (int d = 1; d <= 9; d++)
        sum += fabs((double)count[d] / n - expect[d]);
    return sum / 9;
}

/* At most ROUND_DIGITS significant digits: 7340000 fen is, 7345600 is not. A price times a
   quantity rarely is; a figure someone made up usually is. */
#define ROUND_DIGITS 3
static int
is_round(int64_t a)
{
    const int64_t limit = 1000; /* 10^ROUND_DIGITS */
    while (a >= limit && a % 10 == 0)
        a /= 10;
    return a < limit;
}

static void
explain(state_t *s, const rep_t *r, double mad, double org_mad, double round_score, uint64_t seq,
        const event_t *ev, det_emit_fn *emit, void *arg)
{
    det_flag_t f;
    dk_flag_begin(&f, NAME, ev->v[F_OCCURRED_AT].i);
    char id[65];
    dk_copy(id, sizeof id, ev->v[F_ID].s);
    dk_copy(f.rep, sizeof f.rep, ev->v[F_REP].s);
    dk_flag_key(&f, "%s/%s", f.rep, id);
    f.score = mad;
    f.baseline = org_mad;
    f.threshold = s->p.threshold;
    f.severity = mad >= 2 * s->p.threshold ? 2 : 1;
    /* the digit furthest above its Benford share names the pattern */
    int worst = 1;
    double worst_excess = -1;
    for (int d = 1; d <= 9; d++) {
        double excess = (double)r->count[d] / r->n - BENFORD[d];
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = d;
        }
    }
    for (uint32_t k = 0; k < RECENT; k++) {
        uint32_t j = (r->recent_pos + RECENT - 1 - k) % RECENT;
        if (r->recent_seq[j] && (r->recent_digit[j] & ROUND))
            dk_flag_evidence(&f, r->recent_seq[j], r->recent_id[j]);
    }
    dk_flag_evidence(&f, seq, id);
    char amt[48];
    snprintf(f.currency, sizeof f.currency, "%s", r->currency);
    money_format(ev->v[F_AMOUNT].i, f.currency, amt, sizeof amt);
    double share = (double)r->rounds / r->n;
    double org_share = s->org_n ? (double)s->org_rounds / s->org_n : 0;
    dk_flag_summary(&f,
                    "benford: the first digits of %s's last %u deals do not follow Benford's law "
                    "(mean absolute deviation %.4f against Nigrini's nonconformity bound %.3f; "
                    "the organisation's %.4f; %.1f%% start with %d where Benford expects %.1f%%) "
                    "and %.0f%% of them are round figures against %.1f%% across the organisation "
                    "(a chance of 1e-%.0f): typed, not priced; the latest is %s for %s",
                    f.rep, r->n, mad, s->p.threshold, org_mad, 100.0 * r->count[worst] / r->n,
                    worst, 100 * BENFORD[worst], 100 * share, 100 * org_share, round_score, id,
                    amt);
    dk_flag_value(&f, "mad", mad);
    dk_flag_value(&f, "org_mad", org_mad);
    dk_flag_value(&f, "deals", r->n);
    dk_flag_value(&f, "round_share", share);
    dk_flag_value(&f, "org_round_share", org_share);
    dk_flag_value(&f, "round_score", round_score);
    dk_flag_value(&f, "top_digit", worst);
    dk_flag_value(&f, "top_digit_share", (double)r->count[worst] / r->n);
    emit(arg, &f);
}

static int
fold_sale(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    int64_t amount = ev->v[F_AMOUNT].i;
    if (amount <= 0)
        return 0;
    int d = first_digit(amount);
    uint8_t cell = (uint8_t)(d | (is_round(amount) ? ROUND : 0));
    /* the organisation */
    if (s->org_n == ORG) {
        uint8_t old = s->org_digit[s->org_pos];
        s->org_count[old & 0xf]--;
        s->org_rounds -= (old & ROUND) != 0;
    } else {
        s->org_n++;
    }
    s->org_digit[s->org_pos] = cell;
    s->org_count[d]++;
    s->org_rounds += (cell & ROUND) != 0;
    s->org_pos = (s->org_pos + 1) % ORG;

    rep_t *r = dk_put(&s->reps, dk_hash_str(ev->v[F_REP].s), ev->v[F_OCCURRED_AT].i, NULL);
    if (!r)
        return -1;
    if (r->n == WINDOW) {
        uint8_t old = r->digit[r->pos];
        r->count[old & 0xf]--;
        r->rounds -= (old & ROUND) != 0;
    } else {
        r->n++;
    }
    r->digit[r->pos] = cell;
    r->count[d]++;
    r->rounds += (cell & ROUND) != 0;
    r->pos = (r->pos + 1) % WINDOW;
    r->recent_digit[r->recent_pos] = cell;
    r->recent_seq[r->recent_pos] = seq;
    dk_copy(r->recent_id[r->recent_pos], sizeof r->recent_id[0], ev->v[F_ID].s);
    r->recent_pos = (r->recent_pos + 1) % RECENT;
    dk_copy(r->currency, sizeof r->currency, ev->v[F_CURRENCY].s);
    if (r->cooldown) {
        r->cooldown--;
        return 0;
    }
    if (r->n < s->p.min_deals || (double)r->rounds < s->p.round_share * r->n)
        return 0;
    double mad = mad_of(r->count, r->n, BENFORD);
    if (mad <= s->p.threshold)
        return 0;
    double p0 = s->org_n ? (double)s->org_rounds / s->org_n : 0;
    if (p0 < 0.01)
        p0 = 0.01;
    double round_score = dk_binomial_score(r->rounds, r->n, p0);
    if (round_score <= s->p.significance)
        return 0;
    r->cooldown = WINDOW;
    if (emit)
        explain(s, r, mad, mad_of(s->org_count, s->org_n, BENFORD), round_score, seq, ev, emit,
                arg);
    return 0;
}

static int
fold(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
     void *arg)
{
    if (((state_t *)state)->p.enabled < 0.5)
        emit = NULL;
    if (ev->type == EV_SALE_CLOSED)
        return fold_sale(state, seq, ev, emit, arg);
    return 0;
}

static int
rep_ok(const void *rec)
{
    const rep_t *r = rec;
    /* Until the window is full its entries are [0, n) and the next goes at
       n: a window with pos elsewhere would take its next entry outside
       what the counts add up (fuzz_snapshot, crash-c87f6897). */
    if (r->n > WINDOW || r->pos >= WINDOW || (r->n < WINDOW && r->pos != r->n) ||
        r->recent_pos >= RECENT || r->cooldown > WINDOW ||
        !dk_str_ok(r->currency, sizeof r->currency))
        return 0;
    uint32_t count[10] = {0}, rounds = 0;
    for (uint32_t j = 0; j < r->n; j++) {
        int d = r->digit[j] & 0xf;
        if (d < 1 || d > 9 || (r->digit[j] & ~(ROUND | 0xf)))
            return 0;
        count[d]++;
        rounds += (r->digit[j] & ROUND) != 0;
    }
    for (uint32_t j = 0; j < RECENT; j++)
        if ((r->recent_digit[j] & 0xf) > 9 || !dk_str_ok(r->recent_id[j], sizeof r->recent_id[j]))
            return 0;
    return memcmp(count, r->count, sizeof count) == 0 && rounds == r->rounds;
}

/* The organisation's window read from a snapshot holds together: position and size in
   range (the position at the size until the window is full), every entry a digit 1-9 (and
   the round mark), and counts and rounds that are its sums. */
static void
org_check(dk_rbuf_t *r, void *state)
{
    const state_t *fresh = state;
    if (fresh->org_n > ORG || fresh->org_pos >= ORG ||
        (fresh->org_n < ORG && fresh->org_pos != fresh->org_n))
        r->failed = 1;
    uint32_t count[10] = {0}, rounds = 0;
    for (uint32_t j = 0; !r->failed && j < fresh->org_n; j++) {
        int d = fresh->org_digit[j] & 0xf;
        if (d < 1 || d > 9 || (fresh->org_digit[j] & ~(ROUND | 0xf)))
            r->failed = 1;
        else
            count[d]++;
        rounds += (fresh->org_digit[j] & ROUND) != 0;
    }
    if (memcmp(count, fresh->org_count, sizeof count) != 0 || rounds != fresh->org_rounds)
        r->failed = 1;
}

static const dk_field_t FIELDS[] = {{DK_F_U32, offsetof(state_t, org_n), 1, 0},
                                    {DK_F_U32, offsetof(state_t, org_pos), 1, 0},
                                    {DK_F_U32, offsetof(state_t, org_count), 10, 0},
                                    {DK_F_U32, offsetof(state_t, org_rounds), 1, 0},
                                    {DK_F_BYTES, offsetof(state_t, org_digit), ORG, 0},
                                    {DK_F_END, 0, 0, 0}};

static const dk_tab_t TABLES[] = {
    {offsetof(state_t, reps), sizeof(rep_t), 64, MAX_REPS, DK_DAY, rep_ok}, {0, 0, 0, 0, 0, NULL}};

static const dk_kit_t KIT = {DK_KIT_HEAD(NAME, VERSION, state_t, PARAMS), .fields = FIELDS,
                             .tables = TABLES, .load_check = org_check};

DK_CREATE_FN(create, KIT)

const fold_class_t detect_benford = {DK_CLASS_ENTRIES(NAME, VERSION, create), .fold = fold};
