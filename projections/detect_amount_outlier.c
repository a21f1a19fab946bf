/*  detect_amount_outlier: a deal far from both its product line's and its
    rep's own history.

    Sale amounts are heavy-tailed (a few large deals are normal), so the
    detector works on the logarithm of the unit price (amount / quantity
    when the sale has a quantity, else the amount) and scores it with
    Iglewicz and Hoaglin's modified z-score, M = 0.6745 (y - median) / MAD,
    over fixed windows:

    - per product line and currency, the last 256 log unit prices: z_line;
    - per rep, the last 64 of the rep's deals expressed relative to their
      line's median (u = y - median of the line at the time), so that a rep
      who sells several lines has one comparable history: z_rep.

    A deal is flagged when the line has min_line (50) deals of history and
    |z_line| > threshold (4.5), and either the rep has min_rep (20) deals
    and |z_rep| > threshold in the same direction, or the rep has too
    little history and |z_line| > line_only_threshold (6).

    Why 4.5 and not Iglewicz and Hoaglin's 3.5: that is a bound for one
    test, and here every deal is a test. Against a false-alarm budget of
    one per 10,000 deals even Gaussian log prices need 3.9 (two-sided
    1e-4), and real prices have heavier tails (premium configurations,
    volume discounts, services priced per customer): at 3.5 the clean
    default history raised 5.3 false alarms per 10,000 deals, at 4.5
    0.6, while the generator's outliers (6-9 of the line's spreads away)
    were still found. The score is the smaller of the two, the baseline
    the line's median unit price. A MAD below
    min_spread (log units) is taken as min_spread, so that a fixed price
    list does not make every discount an outlier. Every deal joins both
    windows after it is scored (the median and MAD shrug off the few
    outliers among them).

    State: 256 x 2 floats per product line and currency (at most 4096,
    least recently sold evicted), 64 x 2 floats per rep (at most 65536).
    Key: the sale's event id. */

#include "events/money.h"
#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME      "amount_outlier"
#define VERSION   1
#define K_LINE    256
#define K_REP     64
#define MAX_LINES 4096
#define MAX_REPS  65536
/* the least MAD of a rep's scores (in robust deviations): a rep who always sells at list
   price is not flagged for every small discount */
#define REP_MIN_SPREAD 0.25
#define REPEAT_DAYS    90
#define MAX_REPEATS    (1u << 18)

typedef struct {
    double threshold, line_only_threshold, min_line, min_rep, min_spread;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const params_t DEFAULTS = {.threshold = 4.5,
                                  .line_only_threshold = 6.0,
                                  .min_line = 50,
                                  .min_rep = 20,
                                  .min_spread = 0.1,
                                  .enabled = 1};

static const dk_param_t PARAMS[] = {
    {"threshold", offsetof(params_t, threshold), 1, 100},
    {"line_only_threshold", offsetof(params_t, line_only_threshold), 1, 100},
    {"min_line", offsetof(params_t, min_line), 5, K_LINE},
    {"min_rep", offsetof(params_t, min_rep), 5, K_REP},
    {"min_spread", offsetof(params_t, min_spread), 0.001, 10},
    {"enabled", offsetof(params_t, enabled), 0, 1},
    {NULL, 0, 0, 0}};

typedef struct {
    dk_win_t w;
    float ring[K_LINE], sorted[K_LINE];
} line_t;

typedef struct {
    dk_win_t w;
    float ring[K_REP], sorted[K_REP];
} rep_t;

typedef struct {
    det_env_t env;
    params_t p;
    int64_t now;
    dk_table_t lines, reps;
    dk_table_t repeats; /* (customer, line, currency, unit price) seen within REPEAT_DAYS */
} state_t;

static int
state_init(state_t *s, const det_env_t *env, const params_t *p)
{
    memset(s, 0, sizeof *s);
    s->env = *env;
    s->p = *p;
    if (dk_table_init(&s->lines, sizeof(line_t), 16, MAX_LINES) != 0)
        return -1;
    if (dk_table_init(&s->reps, sizeof(rep_t), 64, MAX_REPS) != 0) {
        dk_table_free(&s->lines);
        return -1;
    }
    if (dk_table_init(&s->repeats, 0, 256, MAX_REPEATS) != 0) {
        dk_table_free(&s->lines);
        dk_table_free(&s->reps);
        return -1;
    }
    s->now = INT64_MIN;
    dk_table_slack(&s->lines, DK_DAY);
    dk_table_slack(&s->reps, DK_DAY);
    dk_table_slack(&s->repeats, DK_DAY);
    return 0;
}

static void
state_fini(state_t *s)
{
    dk_table_free(&s->lines);
    dk_table_free(&s->reps);
    dk_table_free(&s->repeats);
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

static double
mod_z(double y, double med, double mad, double floor)
{
    return 0.6745 * (y - med) / (mad > floor ? mad : floor);
}

static void
explain(state_t *s, uint64_t seq, const event_t *ev, double unit, double z_line, double z_rep,
        int rep_ready, double line_med, double rep_med, det_emit_fn *emit, void *arg)
{
    const params_t *p = &s->p;
    det_flag_t f;
    dk_flag_begin(&f, NAME, ev->v[F_OCCURRED_AT].i);
    char id[65], line[65], cust[65], amt[48], unit_s[48], base[48], repbase[48];
    dk_copy(id, sizeof id, ev->v[F_ID].s);
    dk_copy_field(line, sizeof line, ev, F_PRODUCT_LINE);
    dk_copy_field(f.rep, sizeof f.rep, ev, F_REP);
    dk_copy_field(f.customer, sizeof f.customer, ev, F_CUSTOMER);
    dk_copy(f.currency, sizeof f.currency, ev->v[F_CURRENCY].s);
    dk_flag_key(&f, "%s", id);
    double score = rep_ready && fabs(z_rep) < fabs(z_line) ? fabs(z_rep) : fabs(z_line);
    f.score = score;
    f.threshold = rep_ready ? p->threshold : p->line_only_threshold;
    f.baseline = line_med;
    f.severity = score >= 2 * f.threshold ? 2 : 1;
    dk_flag_evidence(&f, seq, id);
    money_format(ev->v[F_AMOUNT].i, f.currency, amt, sizeof amt);
    dk_fmt_money(unit, f.currency, unit_s, sizeof unit_s);
    dk_fmt_money(line_med, f.currency, base, sizeof base);
    snprintf(cust, sizeof cust, "%s", f.customer[0] ? f.customer : "no customer");
    const char *dir = z_line > 0 ? "above" : "below";
    char qty[96] = "";
    if (event_has(ev, F_QUANTITY))
        snprintf(qty, sizeof qty, " (%s a unit x %lld)", unit_s, (long long)ev->v[F_QUANTITY].i);
    if (rep_ready) {
        dk_fmt_money(rep_med, f.currency, repbase, sizeof repbase);
        dk_flag_summary(
            &f,
            "amount_outlier: deal %s by %s for %s, %s%s, is %.1f robust deviations %s the "
            "median unit price of product line %s (%s) and %.1f %s %s's own usual price "
            "there (%s); threshold %.1f",
            id, f.rep, cust, amt, qty, fabs(z_line), dir, line[0] ? line : "(none)", base,
            fabs(z_rep), dir, f.rep, repbase, p->threshold);
    } else {
        dk_flag_summary(
            &f,
            "amount_outlier: deal %s by %s for %s, %s%s, is %.1f robust deviations %s the "
            "median unit price of product line %s (%s); %s has too few deals for a baseline "
            "of their own, so the threshold is %.1f",
            id, f.rep, cust, amt, qty, fabs(z_line), dir, line[0] ? line : "(none)", base, f.rep,
            p->line_only_threshold);
    }
    dk_flag_value(&f, "amount", (double)ev->v[F_AMOUNT].i);
    dk_flag_value(&f, "unit_price", unit);
    dk_flag_value(&f, "z_line", z_line);
    dk_flag_value(&f, "z_rep", rep_ready ? z_rep : NAN);
    dk_flag_value(&f, "line_median", line_med);
    dk_flag_value(&f, "rep_median", rep_ready ? rep_med : NAN);
    emit(arg, &f);
}

static int
fold_sale(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    int64_t amount = ev->v[F_AMOUNT].i;
    if (amount <= 0)
        return 0;
    double unit = (double)amount;
    if (event_has(ev, F_QUANTITY) && ev->v[F_QUANTITY].i > 0)
        unit /= (double)ev->v[F_QUANTITY].i;
    float y = (float)log(unit);
    int64_t at = ev->v[F_OCCURRED_AT].i;
    uint64_t lkey =
        dk_hash2(dk_hash_field(ev, F_PRODUCT_LINE) + 1, dk_hash_str(ev->v[F_CURRENCY].s));
    /* the same customer at the same unit price again (a standing order): one observation of
       a price, not many, and judged the first time */
    if (event_has(ev, F_CUSTOMER)) {
        int added = 0;
        uint64_t rkey =
            dk_hash2(dk_hash2(lkey, dk_hash_str(ev->v[F_CUSTOMER].s)), (uint64_t)llround(unit));
        if (!dk_put(&s->repeats, rkey, at, &added))
            return -1;
        if (!added)
            return 0;
    }
    line_t *line = dk_put(&s->lines, lkey, at, NULL);
    if (!line)
        return -1;
    int line_ready = line->w.n >= s->p.min_line;
    float line_med = 0, line_mad = 0;
    if (line_ready) {
        line_med = dk_median(line->sorted, line->w.n);
        line_mad = dk_mad(line->sorted, line->w.n, line_med);
        if (line_mad < s->p.min_spread)
            line_mad = (float)s->p.min_spread;
    }
    dk_win_push(&line->w, line->ring, line->sorted, K_LINE, y);
    if (!line_ready)
        return 0;
    double z_line = mod_z(y, line_med, line_mad, 0);

    /* the rep's history holds their deals' scores within their lines */
    rep_t *rep = dk_put(&s->reps, dk_hash_str(ev->v[F_REP].s), at, NULL);
    if (!rep)
        return -1;
    int rep_ready = rep->w.n >= s->p.min_rep;
    double z_rep = 0;
    float rep_med = 0;
    if (rep_ready) {
        rep_med = dk_median(rep->sorted, rep->w.n);
        z_rep = mod_z(z_line, rep_med, dk_mad(rep->sorted, rep->w.n, rep_med), REP_MIN_SPREAD);
    }
    dk_win_push(&rep->w, rep->ring, rep->sorted, K_REP, (float)z_line);

    int fire;
    if (rep_ready)
        fire = fabs(z_line) > s->p.threshold && fabs(z_rep) > s->p.threshold &&
               (z_line > 0) == (z_rep > 0);
    else
        fire = fabs(z_line) > s->p.line_only_threshold;
    /* the rep's usual unit price in this line: their median score turned back into a price */
    double rep_price = exp(line_med + rep_med * line_mad / 0.6745);
    if (fire && emit)
        explain(s, seq, ev, unit, z_line, z_rep, rep_ready, exp(line_med), rep_price, emit, arg);
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
        dk_expire(&s->repeats, at - REPEAT_DAYS * DK_DAY);
    }
    if (ev->type == EV_SALE_CLOSED)
        return fold_sale(state, seq, ev, emit, arg);
    return 0;
}

static int
line_ok(const void *rec)
{
    const line_t *l = rec;
    return dk_win_ok(&l->w, l->ring, l->sorted, K_LINE);
}

static int
rep_ok(const void *rec)
{
    const rep_t *r = rec;
    return dk_win_ok(&r->w, r->ring, r->sorted, K_REP);
}

static int
save(void *state, msgpack_packer *pk)
{
    state_t *s = state;
    dk_wbuf_t w = {0};
    dk_w_params(&w, &s->p, PARAMS);
    dk_w_i64(&w, s->now);
    dk_w_table(&w, &s->lines);
    dk_w_table(&w, &s->reps);
    dk_w_table(&w, &s->repeats);
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
    dk_r_table(&r, &fresh.lines, line_ok);
    dk_r_table(&r, &fresh.reps, rep_ok);
    dk_r_table(&r, &fresh.repeats, NULL);
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
    return dk_set_param(&s->p, PARAMS, NAME, param, value, err, errlen);
}

static size_t
memory(void *state)
{
    state_t *s = state;
    return sizeof *s + dk_table_memory(&s->lines) + dk_table_memory(&s->reps) +
           dk_table_memory(&s->repeats);
}

const fold_class_t detect_amount_outlier = {
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
