/*  detect_customer_burst: a rep creating far more customers in a day than
    their own baseline.

    Per rep, the number of customer_created events on each local day of the
    last 32 (a ring indexed by the day). The baseline is the rep's mean a
    day over the baseline_days (28) days before the day judged, counting
    days with none; a rep is judged once they have min_days of history,
    counted from their first sale or new customer, whichever came first. A
    day's count k is tested against a Poisson law with that mean (floored at
    lambda_floor, so a rep who rarely creates customers is not flagged for
    two): the score is -log10 P(X >= k), flagged when it exceeds threshold
    (6: a chance below one in a million) and k >= min_count. Real customer
    creation is burstier than Poisson (trade fairs, campaigns), which the
    high threshold and min_count absorb.

    One flag per rep and day, raised when the count first crosses; its
    evidence is that day's customer_created events so far (up to 16). A
    late event for an earlier day still inside the ring counts for that day
    and is judged there, with itself as the evidence.

    State: about 1.3 KB per rep (at most 65536 reps, the least recently
    active evicted). Key: <rep>/<local date>. */

#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME     "customer_burst"
#define VERSION  1
#define RING     32
#define MAX_REPS 65536

typedef struct {
    double threshold, min_count, baseline_days, min_days, lambda_floor;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const params_t DEFAULTS = {.threshold = 6,
                                  .min_count = 5,
                                  .baseline_days = 28,
                                  .min_days = 14,
                                  .lambda_floor = 0.1,
                                  .enabled = 1};

static const dk_param_t PARAMS[] = {
    {"threshold", offsetof(params_t, threshold), 1, 50},
    {"min_count", offsetof(params_t, min_count), 2, 10000},
    {"baseline_days", offsetof(params_t, baseline_days), 7, RING - 1},
    {"min_days", offsetof(params_t, min_days), 1, RING - 1},
    {"lambda_floor", offsetof(params_t, lambda_floor), 0.001, 100},
    {"enabled", offsetof(params_t, enabled), 0, 1},
    {NULL, 0, 0, 0}};

typedef struct {
    int64_t first_day; /* the first day seen */
    int64_t day;       /* the newest day seen */
    uint32_t count[RING];
    uint32_t flagged; /* bit day % RING: that day was flagged */
    uint32_t nev;     /* evidence of the newest day */
    uint64_t ev_seq[DET_EVIDENCE_MAX];
    char ev_id[DET_EVIDENCE_MAX][65];
} rep_t;

typedef struct {
    det_env_t env;
    params_t p;
    dk_table_t reps;
} state_t;

static int
state_init(state_t *s, const det_env_t *env, const params_t *p)
{
    memset(s, 0, sizeof *s);
    s->env = *env;
    s->p = *p;
    if (dk_table_init(&s->reps, sizeof(rep_t), 64, MAX_REPS) != 0)
        return -1;
    dk_table_slack(&s->reps, DK_DAY);
    return 0;
}

static void
state_fini(state_t *s)
{
    dk_table_free(&s->reps);
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

/* Days before 1970 (a zone west of UTC at the epoch) are negative. */
static inline uint32_t
ring_slot(int64_t day)
{
    return (uint32_t)(((day % RING) + RING) % RING);
}

static int64_t
local_day(state_t *s, int64_t at)
{
    period_t d;
    if (calendar_period_containing(s->env.cal, PERIOD_DAY, at, &d) != 0)
        return at / DK_DAY;
    return d.seq;
}

/* Move the rep's newest day forward to day, clearing the days that leave the ring. */
static void
advance(rep_t *r, int64_t day)
{
    int64_t gap = day - r->day;
    for (int64_t k = 1; k <= gap && k <= RING; k++) {
        uint32_t slot = ring_slot(r->day + k);
        r->count[slot] = 0;
        r->flagged &= ~(UINT32_C(1) << slot);
    }
    r->day = day;
    r->nev = 0;
}

static void
explain(state_t *s, const rep_t *r, int64_t day, uint32_t k, double lambda, double score,
        uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    det_flag_t f;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    dk_flag_begin(&f, NAME, at);
    char date[16], id[65], cust[65];
    dk_fmt_date(at, date, sizeof date);
    dk_copy(cust, sizeof cust, ev->v[F_CUSTOMER].s);
    dk_copy(id, sizeof id, ev->v[F_ID].s);
    dk_copy(f.rep, sizeof f.rep, ev->v[F_REP].s);
    dk_flag_key(&f, "%s/%s", f.rep, date);
    f.score = score;
    f.baseline = lambda;
    f.threshold = s->p.threshold;
    f.severity = score >= 2 * s->p.threshold ? 2 : 1;
    if (day == r->day)
        for (uint32_t j = 0; j < r->nev; j++)
            dk_flag_evidence(&f, r->ev_seq[j], r->ev_id[j]);
    dk_flag_evidence(&f, seq, id);
    double p = pow(10, -score);
    dk_flag_summary(&f,
                    "customer_burst: %s created %u customers on %s against their usual %.2f a day "
                    "over the last %.0f days: a Poisson chance of %.1e (score %.1f, threshold "
                    "%.1f); the latest is %s (event %s)",
                    f.rep, k, date, lambda, s->p.baseline_days, p, score, s->p.threshold, cust, id);
    dk_flag_value(&f, "count", k);
    dk_flag_value(&f, "baseline_per_day", lambda);
    dk_flag_value(&f, "p_value", p);
    emit(arg, &f);
}

static int
fold_customer(state_t *s, uint64_t seq, const event_t *ev, det_emit_fn *emit, void *arg)
{
    int64_t at = ev->v[F_OCCURRED_AT].i;
    int64_t day = local_day(s, at);
    int added = 0;
    rep_t *r = dk_put(&s->reps, dk_hash_str(ev->v[F_REP].s), at, &added);
    if (!r)
        return -1;
    if (added) {
        r->first_day = r->day = day;
    } else if (day > r->day) {
        advance(r, day);
    } else if (day <= r->day - RING) {
        return 0; /* too late to count */
    }
    if (day < r->first_day)
        r->first_day = day;
    uint32_t slot = ring_slot(day);
    uint32_t k = ++r->count[slot];
    if (day == r->day && r->nev < DET_EVIDENCE_MAX) {
        r->ev_seq[r->nev] = seq;
        dk_copy(r->ev_id[r->nev], sizeof r->ev_id[0], ev->v[F_ID].s);
        r->nev++;
    }
    if (k < s->p.min_count || (r->flagged >> slot & 1) || day - r->first_day < s->p.min_days)
        return 0;
    /* the baseline: the days before this one still in the ring */
    int nb = (int)s->p.baseline_days;
    int64_t oldest_kept = r->day - RING + 1;
    uint64_t sum = 0;
    int days = 0;
    for (int j = 1; j <= nb; j++) {
        int64_t d = day - j;
        if (d < oldest_kept || d < r->first_day)
            break;
        sum += r->count[ring_slot(d)];
        days++;
    }
    if (days == 0)
        return 0;
    double lambda = (double)sum / days;
    if (lambda < s->p.lambda_floor)
        lambda = s->p.lambda_floor;
    double score = dk_poisson_score(k, lambda);
    if (score <= s->p.threshold)
        return 0;
    r->flagged |= UINT32_C(1) << slot;
    if (emit)
        explain(s, r, day, k, lambda, score, seq, ev, emit, arg);
    return 0;
}

/* A rep's history starts when they are first seen, selling or creating: the days between
   with no new customer are part of their baseline. */
static int
fold_sale(state_t *s, const event_t *ev)
{
    int64_t at = ev->v[F_OCCURRED_AT].i;
    int added = 0;
    rep_t *r = dk_put(&s->reps, dk_hash_str(ev->v[F_REP].s), at, &added);
    if (!r)
        return -1;
    int64_t day = local_day(s, at);
    if (added)
        r->first_day = r->day = day;
    else if (day > r->day)
        advance(r, day);
    else if (day < r->first_day)
        r->first_day = day;
    return 0;
}

static int
fold(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
     void *arg)
{
    if (((state_t *)state)->p.enabled < 0.5)
        emit = NULL;
    if (ev->type == EV_CUSTOMER_CREATED)
        return fold_customer(state, seq, ev, emit, arg);
    if (ev->type == EV_SALE_CLOSED)
        return fold_sale(state, ev);
    return 0;
}

static int
rep_ok(const void *rec)
{
    const rep_t *r = rec;
    if (r->nev > DET_EVIDENCE_MAX || r->day < r->first_day)
        return 0;
    for (uint32_t j = 0; j < r->nev; j++)
        if (!dk_str_ok(r->ev_id[j], sizeof r->ev_id[j]))
            return 0;
    return 1;
}

static int
save(void *state, msgpack_packer *pk)
{
    state_t *s = state;
    dk_wbuf_t w = {0};
    dk_w_params(&w, &s->p, PARAMS);
    dk_w_table(&w, &s->reps);
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
    dk_r_table(&r, &fresh.reps, rep_ok);
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
    return sizeof *s + dk_table_memory(&s->reps);
}

const fold_class_t detect_customer_burst = {
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
