/*  report: the projection's queries (docs/PROTOCOL.md, "Targets and
    progress"): progress rows, leaderboards, target history and allocation.

    Every answer is computed from the running totals of target keys (O(1)
    each) or, for roll-ups without a target of their own, from the day cells
    of the nodes under them. Wall-clock quantities use the request's `now`. */

#include "events/codec.h"
#include "projections/allocate.h"
#include "projections/projection_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_DEFAULT 1000
#define ROWS_MAX     100000

const char *
pq_rc_name(pq_rc_t rc)
{
    switch (rc) {
    case PQ_OK:
        return "ok";
    case PQ_BAD_REQUEST:
        return "bad_request";
    case PQ_NOT_FOUND:
        return "not_found";
    case PQ_INVALID_VALUE:
        return "invalid_value";
    }
    return "internal";
}

static pq_rc_t fail(pq_result_t *out, pq_rc_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static pq_rc_t
fail(pq_result_t *out, pq_rc_t rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---------------------------------------------------------------------
   Request fields */

static const msgpack_object *
field(const msgpack_object *req, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; i < req->via.map.size; i++) {
        const msgpack_object *k = &req->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return req->via.map.ptr[i].val.type == MSGPACK_OBJECT_NIL ? NULL
                                                                      : &req->via.map.ptr[i].val;
    }
    return NULL;
}

/* 1: present and copied; 0: absent; -1: wrong type or too long. */
static int
str_field(const msgpack_object *req, const char *key, char *buf, size_t buflen)
{
    const msgpack_object *o = field(req, key);
    if (!o)
        return 0;
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= buflen)
        return -1;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = 0;
    return 1;
}

static int
int_field(const msgpack_object *req, const char *key, int64_t *v)
{
    const msgpack_object *o = field(req, key);
    if (!o)
        return 0;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = o->via.i64;
    else
        return -1;
    return 1;
}

/* The common selection of progress and leaderboard. */
typedef struct {
    char period_name[32], metric_name[80], pl_name[80], scope_name[300], curve_name[16];
    period_t period;
    uint32_t period_sym, metric, pl, scope;
    bool any_metric, has_pl, each_pl;
    pace_curve_t curve;
    int64_t now, limit;
    int32_t ref_day; /* membership day used for paths and children */
} selection_t;

static pq_rc_t
parse_selection(projection_t *self, const msgpack_object *req, int64_t now, selection_t *s,
                pq_result_t *out)
{
    memset(s, 0, sizeof *s);
    s->now = now;
    s->limit = ROWS_DEFAULT;
    if (int_field(req, "now", &s->now) < 0)
        return fail(out, PQ_BAD_REQUEST, "now: expected integer (ms UTC)");
    if (int_field(req, "limit", &s->limit) < 0 || s->limit < 1)
        return fail(out, PQ_BAD_REQUEST, "limit: expected a positive integer");
    if (s->limit > ROWS_MAX)
        s->limit = ROWS_MAX;
    int rc = str_field(req, "period", s->period_name, sizeof s->period_name);
    if (rc <= 0)
        return fail(out, PQ_BAD_REQUEST, "period: %s", rc ? "expected string" : "required");
    char why[200];
    if (calendar_period_parse(self->cal, s->period_name, &s->period, why, sizeof why) != 0)
        return fail(out, PQ_INVALID_VALUE, "period: %s", why);
    s->period_sym = symtab_find(self->periods_sym, s->period.name, strlen(s->period.name));

    rc = str_field(req, "metric", s->metric_name, sizeof s->metric_name);
    if (rc < 0)
        return fail(out, PQ_BAD_REQUEST, "metric: expected string");
    s->any_metric = rc == 0;
    if (rc > 0 &&
        !(s->metric = proj_metric(self, s->metric_name, strlen(s->metric_name), why, sizeof why)))
        return fail(out, PQ_INVALID_VALUE, "metric: %s", why);

    rc = str_field(req, "product_line", s->pl_name, sizeof s->pl_name);
    if (rc < 0)
        return fail(out, PQ_BAD_REQUEST, "product_line: expected string");
    s->has_pl = rc > 0;
    s->pl = s->has_pl ? symtab_find(self->pl_sym, s->pl_name, strlen(s->pl_name)) : 0;
    const msgpack_object *each = field(req, "each_product_line");
    if (each && each->type != MSGPACK_OBJECT_BOOLEAN)
        return fail(out, PQ_BAD_REQUEST, "each_product_line: expected boolean");
    s->each_pl = each && each->via.boolean;
    if (s->each_pl && s->has_pl)
        return fail(out, PQ_BAD_REQUEST, "each_product_line: give it or product_line, not both");

    rc = str_field(req, "curve", s->curve_name, sizeof s->curve_name);
    s->curve = PACE_CURVE_WORKING;
    if (rc < 0)
        return fail(out, PQ_BAD_REQUEST, "curve: expected string");
    if (rc > 0) {
        if (!strcmp(s->curve_name, "linear"))
            s->curve = PACE_CURVE_LINEAR;
        else if (!strcmp(s->curve_name, "profile"))
            s->curve = PACE_CURVE_PROFILE;
        else if (strcmp(s->curve_name, "working"))
            return fail(out, PQ_INVALID_VALUE, "curve: expected linear, working or profile");
    }
    int64_t ref = s->now;
    if (ref >= s->period.end_ms)
        ref = s->period.end_ms - 1;
    if (ref < s->period.start_ms)
        ref = s->period.start_ms;
    s->ref_day = proj_day_of(self, ref);

    rc = str_field(req, "scope", s->scope_name, sizeof s->scope_name);
    if (rc < 0)
        return fail(out, PQ_BAD_REQUEST, "scope: expected string");
    if (rc > 0) {
        /* a path names its last node; its ancestors must match the path */
        char *last = strrchr(s->scope_name, '/');
        while (last && last[1] == 0) { /* trailing slash */
            *last = 0;
            last = strrchr(s->scope_name, '/');
        }
        const char *id = last ? last + 1 : s->scope_name;
        s->scope = symtab_find(self->nodes_sym, id, strlen(id));
        if (!proj_node(self, s->scope))
            return fail(out, PQ_NOT_FOUND, "scope: \"%s\" is not a defined node", id);
    }
    return PQ_OK;
}

/* ---------------------------------------------------------------------
   Rows */

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pack_sym(msgpack_packer *pk, symtab_t *t, uint32_t id)
{
    if (id)
        msgpack_pack_str_with_body(pk, symtab_str(t, id), symtab_len(t, id));
    else
        msgpack_pack_nil(pk);
}

void
proj_path(projection_t *self, uint32_t node, int32_t day, char *buf, size_t len)
{
    uint32_t chain[CHAIN_MAX];
    int n = proj_chain(self, node, day, chain);
    size_t o = 0;
    buf[0] = 0;
    for (int i = n - 1; i >= 0 && o < len; i--)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", symtab_str(self->nodes_sym, chain[i]),
                              i ? "/" : "");
}

static int
year_back(period_kind_t kind)
{
    switch (kind) {
    case PERIOD_YEAR:
    case PERIOD_FISCAL_YEAR:
        return 1;
    case PERIOD_QUARTER:
    case PERIOD_FISCAL_QUARTER:
        return 4;
    case PERIOD_WEEK:
        return 52;
    case PERIOD_DAY:
        return 364;
    default:
        return 12;
    }
}

/* Where `now` stands in the selection's period, for pace_fraction. */
static void
curve_clock(projection_t *self, const selection_t *s, int64_t now, pace_clock_t *clock)
{
    const period_t *p = &s->period;
    clock->days_elapsed = calendar_days_elapsed(self->cal, p, now);
    clock->days_total = (double)calendar_days(self->cal, p->start_ms, p->end_ms);
    clock->working_elapsed = calendar_working_elapsed(self->cal, p, now);
    clock->working_total = (double)calendar_working_days(self->cal, p->start_ms, p->end_ms);
}

/* The profile curve's weights: the node's daily actuals of `base` in the
   same period a year earlier, set into *clock. The caller frees the array;
   NULL (clock unchanged: the curve falls back to working) when there is no
   such period or memory is short. */
static double *
curve_profile(projection_t *self, const selection_t *s, uint32_t node, uint32_t base, uint32_t pl,
              pace_clock_t *clock)
{
    period_t prev;
    double *profile = NULL;
    if (calendar_period_previous(self->cal, &s->period, year_back(s->period.kind), &prev) != 0)
        return NULL;
    int32_t d0 = proj_day_of(self, prev.start_ms), d1 = proj_day_of(self, prev.end_ms);
    if (d1 > d0 && (profile = calloc((size_t)(d1 - d0), sizeof(double)))) {
        for (int32_t d = d0; d < d1; d++)
            profile[d - d0] = (double)proj_rollup(self, node, base, pl, d, d + 1);
        clock->profile = profile;
        clock->profile_days = (size_t)(d1 - d0);
    }
    return profile;
}

typedef struct {
    uint32_t node, metric, pl;
    target_t *t; /* NULL: roll-up */
    const char *id, *metric_name, *pl_name;
    char path[512];
    bool has_att;
    double attainment;
    int64_t actual;
    bool summed; /* roll-up: num and den already computed (rollup_all) */
    int64_t num, den;
} row_t;

static void
pack_opt_int(msgpack_packer *pk, const char *key, bool has, int64_t v)
{
    pack_str(pk, key);
    if (has)
        msgpack_pack_int64(pk, v);
    else
        msgpack_pack_nil(pk);
}

static void
pack_opt_double(msgpack_packer *pk, const char *key, bool has, double v)
{
    pack_str(pk, key);
    if (has && isfinite(v))
        msgpack_pack_double(pk, v);
    else
        msgpack_pack_nil(pk);
}

/* Compute a row's numbers; pack it when pk is set. */
static void
row_eval(projection_t *self, const selection_t *s, row_t *r, msgpack_packer *pk, int rank)
{
    metric_t *m = &self->metrics[r->metric];
    int64_t num, den;
    if (r->t) {
        num = proj_tref_of(self, r->t)->num;
        den = proj_tref_of(self, r->t)->den;
    } else if (r->summed) {
        num = r->num;
        den = r->den;
    } else {
        int32_t d0 = proj_day_of(self, s->period.start_ms);
        int32_t d1 = proj_day_of(self, s->period.end_ms);
        num = proj_rollup(self, r->node, m->num, r->pl, d0, d1);
        den = m->den ? proj_rollup(self, r->node, m->den, r->pl, d0, d1) : 0;
    }
    bool defined;
    r->actual = proj_metric_value(m, num, den, &defined);
    r->has_att = false;

    const period_t *p = &s->period;
    pace_clock_t clock = {0};
    curve_clock(self, s, s->now, &clock);
    double *profile = NULL;
    if (s->curve == PACE_CURVE_PROFILE)
        profile = curve_profile(self, s, r->node, m->num, r->pl, &clock);
    pace_curve_t used = s->curve;
    double fraction = pace_fraction(s->curve, &clock, &used);
    free(profile);

    pace_progress_t pr = {0};
    bool has_target = r->t && (r->t->mask & 2);
    int64_t expected = 0;
    if (has_target) {
        pace_input_t in = {0};
        in.actual = r->actual;
        in.floor = (r->t->mask & 1) ? r->t->tiers[0] : 0;
        in.target = r->t->tiers[1];
        in.stretch = (r->t->mask & 4) ? r->t->tiers[2] : 0;
        expected = pace_expected(in.target, fraction);
        in.expected = expected;
        in.fraction = fraction;
        in.remaining_working_days = clock.working_total - clock.working_elapsed;
        if (in.remaining_working_days < 0)
            in.remaining_working_days = 0;
        char err[128];
        pace_config_t cfg;
        pace_config_defaults(&cfg);
        if (pace_progress(&in, &cfg, &pr, err, sizeof err) != 0)
            has_target = false;
        r->has_att = pr.has_attainment;
        r->attainment = pr.attainment;
    }
    if (!pk)
        return;

    node_t *n = &self->nodes[r->node];
    static const char *const kinds[] = {"company", "region", "team", "rep"};
    msgpack_pack_map(pk, rank ? 29 : 28);
    if (rank) {
        pack_str(pk, "rank");
        msgpack_pack_int(pk, rank);
    }
    pack_str(pk, "scope");
    pack_sym(pk, self->nodes_sym, r->node);
    pack_str(pk, "path");
    pack_str(pk, r->path);
    pack_str(pk, "kind");
    pack_str(pk, kinds[n->kind & 3]);
    pack_str(pk, "name");
    pack_sym(pk, self->text_sym, n->name);
    pack_str(pk, "owner");
    pack_sym(pk, self->text_sym, n->owner);
    pack_str(pk, "metric");
    pack_sym(pk, self->metrics_sym, r->metric);
    pack_str(pk, "period");
    pack_str(pk, p->name);
    pack_str(pk, "product_line");
    pack_sym(pk, self->pl_sym, r->pl);
    pack_opt_int(pk, "period_start", true, p->start_ms);
    pack_opt_int(pk, "period_end", true, p->end_ms);
    pack_str(pk, "has_target");
    if (has_target)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pack_opt_int(pk, "floor", has_target && (r->t->mask & 1), r->t ? r->t->tiers[0] : 0);
    pack_opt_int(pk, "target", has_target, r->t ? r->t->tiers[1] : 0);
    pack_opt_int(pk, "stretch", has_target && (r->t->mask & 4), r->t ? r->t->tiers[2] : 0);
    pack_str(pk, "currency");
    if (r->t && r->t->currency[0])
        msgpack_pack_str_with_body(pk, r->t->currency, 3);
    else
        msgpack_pack_nil(pk);
    pack_opt_int(pk, "actual", true, r->actual);
    pack_opt_int(pk, "expected", has_target, expected);
    pack_str(pk, "curve");
    pack_str(pk, pace_curve_name(used));
    pack_opt_double(pk, "elapsed", true, pace_round(fraction, PACE_RATIO_DECIMALS));
    pack_opt_double(pk, "attainment", has_target && pr.has_attainment && defined, pr.attainment);
    pack_opt_double(pk, "pace_ratio", has_target && pr.has_pace && defined, pr.pace_ratio);
    pack_opt_int(pk, "gap", has_target, pr.gap);
    pack_opt_int(pk, "remaining", has_target, pr.remaining);
    pack_opt_double(pk, "required_rate", has_target && pr.has_required_rate, pr.required_rate);
    pack_opt_int(pk, "forecast", has_target && pr.has_forecast, pr.forecast);
    pack_str(pk, "tier");
    if (has_target)
        pack_str(pk, pace_tier_name(pr.tier));
    else
        msgpack_pack_nil(pk);
    pack_str(pk, "status");
    if (has_target)
        pack_str(pk, pace_status_name(pr.status));
    else
        msgpack_pack_nil(pk);

    /* coverage: the children's targets for the same key against ours */
    pack_str(pk, "coverage");
    uint32_t children = 0, with_target = 0;
    __int128 sum = 0; /* of tiers up to 2^62 each: exact */
    if (n->ever_parent)
        for (uint32_t c = 1; c < self->nnodes; c++) {
            if (!self->nodes[c].defined || proj_parent_at(self, c, s->ref_day) != r->node)
                continue;
            children++;
            target_t *ct =
                s->period_sym ? proj_target(self, c, r->metric, r->pl, s->period_sym) : NULL;
            if (ct && (ct->mask & 2)) {
                with_target++;
                sum += ct->tiers[1];
            }
        }
    if (!children)
        msgpack_pack_nil(pk);
    else {
        msgpack_pack_map(pk, 4);
        pack_opt_int(pk, "children", true, children);
        pack_opt_int(pk, "with_target", true, with_target);
        pack_opt_int(pk, "children_target", true, sum > INT64_MAX ? INT64_MAX : (int64_t)sum);
        pack_opt_double(pk, "ratio", has_target && r->t->tiers[1] > 0,
                        has_target && r->t->tiers[1]
                            ? (sum <= INT64_MAX ? pace_ratio((int64_t)sum, r->t->tiers[1])
                                                : pace_round((double)sum / (double)r->t->tiers[1],
                                                             PACE_RATIO_DECIMALS))
                            : 0);
    }
}

static bool
in_selection(projection_t *self, const selection_t *s, uint32_t node)
{
    return !s->scope || proj_is_under(self, node, s->scope, s->ref_day);
}

static int
row_cmp_path(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (!c)
        c = strcmp(x->metric_name, y->metric_name);
    if (c || x->pl == y->pl)
        return c;
    if (!x->pl_name || !y->pl_name) /* all product lines first */
        return x->pl_name ? 1 : -1;
    return strcmp(x->pl_name, y->pl_name);
}

static int
row_cmp_rank(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->has_att != y->has_att)
        return x->has_att ? -1 : 1;
    if (x->has_att && x->attainment != y->attainment)
        return x->attainment > y->attainment ? -1 : 1;
    if (x->actual != y->actual)
        return x->actual > y->actual ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void
pack_rows(projection_t *self, const selection_t *s, row_t *rows, size_t n, bool ranked,
          pq_result_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    size_t shown = n < (size_t)s->limit ? n : (size_t)s->limit;
    pack_str(&pk, "rows");
    msgpack_pack_array(&pk, shown);
    for (size_t i = 0; i < shown; i++)
        row_eval(self, s, &rows[i], &pk, ranked ? (int)i + 1 : 0);
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    pack_str(&pk, "now");
    msgpack_pack_int64(&pk, s->now);
    pack_str(&pk, "total");
    msgpack_pack_uint64(&pk, n);
    out->pairs = 4;
}

/* Does any node of id's chain change parent on a day in (d0, d1)? */
static bool
chain_moves(projection_t *self, uint32_t id, int32_t d0, int32_t d1)
{
    uint32_t chain[CHAIN_MAX];
    int n = proj_chain(self, id, d0, chain);
    for (int i = 0; i < n; i++) {
        node_t *nd = &self->nodes[chain[i]];
        for (uint32_t k = 0; k < nd->nmem; k++)
            if (nd->mem[k].day > d0 && nd->mem[k].day < d1)
                return true;
    }
    return false;
}

/* Every roll-up row of one metric at once: each credited node's total over
   the period is read from its cells once and added to every node of its
   chain (day by day only where a membership changes inside the period).
   One pass instead of one pass per roll-up row. */
static int
rollup_all(projection_t *self, const selection_t *s, row_t *rows, size_t n, uint32_t metric,
           uint32_t pl)
{
    metric_t *m = &self->metrics[metric];
    int64_t *acc = calloc((size_t)self->nnodes * 2, sizeof *acc);
    if (!acc)
        return -1;
    int32_t d0 = proj_day_of(self, s->period.start_ms), d1 = proj_day_of(self, s->period.end_ms);
    uint32_t chain[CHAIN_MAX];
    for (uint32_t i = 0; i < self->ncredited; i++) {
        uint32_t l = self->credited[i];
        node_t *nd = &self->nodes[l];
        int32_t a = d0 > nd->first_day ? d0 : nd->first_day;
        int32_t b = d1 < nd->last_day + 1 ? d1 : nd->last_day + 1;
        if (a >= b)
            continue;
        bool moves = chain_moves(self, l, a, b);
        if (!moves && s->scope && !proj_is_under(self, l, s->scope, a))
            continue; /* outside the selection all period long */
        if (!moves) {
            int64_t num = 0, den = 0;
            num = proj_cell_sum(self, l, m->num, pl, a, b);
            den = m->den ? proj_cell_sum(self, l, m->den, pl, a, b) : 0;
            int len = proj_chain(self, l, a, chain);
            for (int c = 0; c < len; c++) {
                acc[2 * chain[c]] += num;
                acc[2 * chain[c] + 1] += den;
            }
            continue;
        }
        for (int32_t d = a; d < b; d++) {
            int64_t num = proj_cell(self, l, m->num, pl, d);
            int64_t den = m->den ? proj_cell(self, l, m->den, pl, d) : 0;
            if (!num && !den)
                continue;
            int len = proj_chain(self, l, d, chain);
            for (int c = 0; c < len; c++) {
                acc[2 * chain[c]] += num;
                acc[2 * chain[c] + 1] += den;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!rows[i].t && rows[i].metric == metric && rows[i].pl == pl) {
            rows[i].num = acc[2 * rows[i].node];
            rows[i].den = acc[2 * rows[i].node + 1];
            rows[i].summed = true;
        }
    free(acc);
    return 0;
}

/* A zeroed row at the end of *rows, growing it; NULL when out of memory. */
static row_t *
add_row(row_t **rows, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        row_t *g = realloc(*rows, c * sizeof *g);
        if (!g)
            return NULL;
        *rows = g;
        *cap = c;
    }
    row_t *r = &(*rows)[(*n)++];
    memset(r, 0, sizeof *r);
    return r;
}

static int
row_cmp_pl(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->pl != y->pl)
        return x->pl < y->pl ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Roll-up rows of product line pl, after target rows [a, b) of that line:
   every ancestor of one inside the selection that has no target of its own
   for the metric, and, for the selection's own product line, the scope
   itself when scope and metric are given. -1 when out of memory. */
static int
add_rollups(projection_t *self, const selection_t *s, row_t **rows, size_t *n, size_t *cap,
            size_t a, size_t b, uint32_t pl)
{
    u64map_t seen; /* (node, metric) of every row of this line so far */
    u64map_init(&seen);
    int rc = 0;
    for (size_t i = a; i < b; i++) {
        bool added;
        if (!u64map_upsert(&seen, (uint64_t)(*rows)[i].node << 32 | (*rows)[i].metric, &added))
            rc = -1;
    }
    bool self_row = pl == s->pl && s->scope && !s->any_metric;
    for (size_t i = a; rc == 0 && i < b + self_row; i++) {
        uint32_t chain[CHAIN_MAX], metric;
        int len;
        if (i < b) {
            len = proj_chain(self, (*rows)[i].node, s->ref_day, chain);
            metric = (*rows)[i].metric;
        } else {
            chain[0] = s->scope;
            len = 1;
            metric = s->metric;
        }
        for (int c = (i < b ? 1 : 0); rc == 0 && c < len; c++) {
            bool added;
            uint64_t *v = u64map_upsert(&seen, (uint64_t)chain[c] << 32 | metric, &added);
            if (!v)
                rc = -1;
            if (!v || !added || !in_selection(self, s, chain[c]))
                continue;
            row_t *r = add_row(rows, n, cap);
            if (!r) {
                rc = -1;
                break;
            }
            r->node = chain[c];
            r->metric = metric;
            r->pl = pl;
        }
    }
    u64map_free(&seen);
    return rc;
}

static pq_rc_t
op_progress(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    selection_t s;
    pq_rc_t rc = parse_selection(self, req, now, &s, out);
    if (rc != PQ_OK)
        return rc;
    size_t cap = 0, n = 0;
    row_t *rows = NULL;
    bool pl_known = !s.has_pl || s.pl;
    /* a scope with no children: only its own targets can match */
    node_t *leaf = s.scope && !self->nodes[s.scope].ever_parent ? &self->nodes[s.scope] : NULL;
    uint32_t candidates = leaf ? leaf->ntargets : self->ntargets;
    for (uint32_t k = 0; pl_known && s.period_sym && k < candidates; k++) {
        target_t *t = &self->targets[leaf ? leaf->targets[k].idx : k];
        if (t->period_sym != s.period_sym || (!s.each_pl && t->pl != s.pl) ||
            (!s.any_metric && t->metric != s.metric) || !in_selection(self, &s, t->scope))
            continue;
        row_t *r = add_row(&rows, &n, &cap);
        if (!r) {
            free(rows);
            return fail(out, PQ_BAD_REQUEST, "out of memory");
        }
        r->node = t->scope;
        r->metric = t->metric;
        r->pl = t->pl;
        r->t = t;
    }
    /* roll-ups, for each product line that has target rows (and the
       selection's own, for the scope row) */
    size_t targets_n = n;
    if (targets_n > 1) /* rows is NULL when there are none, and qsort's array may not be */
        qsort(rows, targets_n, sizeof *rows, row_cmp_pl);
    bool own_line = false;
    for (size_t a = 0, b; pl_known && a < targets_n; a = b) {
        for (b = a; b < targets_n && rows[b].pl == rows[a].pl; b++)
            ;
        own_line |= rows[a].pl == s.pl;
        if (add_rollups(self, &s, &rows, &n, &cap, a, b, rows[a].pl) != 0) {
            free(rows);
            return fail(out, PQ_BAD_REQUEST, "out of memory");
        }
    }
    if (pl_known && !own_line &&
        add_rollups(self, &s, &rows, &n, &cap, targets_n, targets_n, s.pl) != 0) {
        free(rows);
        return fail(out, PQ_BAD_REQUEST, "out of memory");
    }
    /* one pass over the cells per metric and line that has roll-up rows */
    for (size_t i = targets_n; i < n; i++) {
        if (rows[i].summed)
            continue;
        if (rollup_all(self, &s, rows, n, rows[i].metric, rows[i].pl) != 0) {
            free(rows);
            return fail(out, PQ_BAD_REQUEST, "out of memory");
        }
    }
    for (size_t i = 0; i < n; i++) {
        proj_path(self, rows[i].node, s.ref_day, rows[i].path, sizeof rows[i].path);
        rows[i].id = symtab_str(self->nodes_sym, rows[i].node);
        rows[i].metric_name = symtab_str(self->metrics_sym, rows[i].metric);
        rows[i].pl_name = rows[i].pl ? symtab_str(self->pl_sym, rows[i].pl) : NULL;
    }
    if (n > 1)
        qsort(rows, n, sizeof *rows, row_cmp_path);
    pack_rows(self, &s, rows, n, false, out);
    free(rows);
    return PQ_OK;
}

static pq_rc_t
op_leaderboard(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    selection_t s;
    pq_rc_t rc = parse_selection(self, req, now, &s, out);
    if (rc != PQ_OK)
        return rc;
    if (s.any_metric)
        return fail(out, PQ_BAD_REQUEST, "metric: required");
    if (s.each_pl)
        return fail(out, PQ_BAD_REQUEST,
                    "each_product_line: progress only; a leaderboard ranks "
                    "one key");
    char level[16];
    static const char *const kinds[] = {"company", "region", "team", "rep"};
    int kind = -1;
    if (str_field(req, "level", level, sizeof level) > 0)
        for (int k = 0; k < 4; k++)
            if (!strcmp(level, kinds[k]))
                kind = k;
    if (kind < 0)
        return fail(out, PQ_BAD_REQUEST, "level: required, one of rep, team, region, company");
    size_t n = 0;
    row_t *rows = calloc(self->ntargets + 1, sizeof *rows);
    if (!rows)
        return fail(out, PQ_BAD_REQUEST, "out of memory");
    for (uint32_t i = 0; s.period_sym && (!s.has_pl || s.pl) && i < self->ntargets; i++) {
        target_t *t = &self->targets[i];
        if (t->period_sym != s.period_sym || t->pl != s.pl || t->metric != s.metric ||
            self->nodes[t->scope].kind != kind || !in_selection(self, &s, t->scope))
            continue;
        rows[n].node = t->scope;
        rows[n].metric = t->metric;
        rows[n].pl = t->pl;
        rows[n].t = t;
        proj_path(self, t->scope, s.ref_day, rows[n].path, sizeof rows[n].path);
        rows[n].id = symtab_str(self->nodes_sym, t->scope);
        rows[n].metric_name = symtab_str(self->metrics_sym, t->metric);
        row_eval(self, &s, &rows[n], NULL, 0);
        n++;
    }
    qsort(rows, n, sizeof *rows, row_cmp_rank);
    pack_rows(self, &s, rows, n, true, out);
    free(rows);
    return PQ_OK;
}

/* ---------------------------------------------------------------------
   daily: one key's actual day by day, for burn-up charts. Actuals are
   credited to the day a sale occurred on (reversals to the original
   sale's day), so the cumulative figure at a day's end is what the key
   had earned by then as the log stands now; `progress` with an earlier
   `now` cannot give it, since its actual is the whole period's. */

/* num and den of `m` credited to `node` or under it, per day of [d0, d1)
   (each day by that day's membership), added into acc[2 * (d - d0)] and
   acc[2 * (d - d0) + 1]. One pass over the credited nodes, as
   proj_rollup. */
static void
daily_rollup(projection_t *self, uint32_t node, const metric_t *m, uint32_t pl, int32_t d0,
             int32_t d1, int64_t *acc)
{
    bool leaf = !self->nodes[node].ever_parent;
    for (uint32_t i = 0; i < self->ncredited; i++) {
        uint32_t l = self->credited[i];
        if (leaf && l != node)
            continue;
        node_t *n = &self->nodes[l];
        int32_t a = d0 > n->first_day ? d0 : n->first_day;
        int32_t b = d1 < n->last_day + 1 ? d1 : n->last_day + 1;
        for (int32_t d = a; d < b; d++) {
            int64_t num = proj_cell(self, l, m->num, pl, d);
            int64_t den = m->den ? proj_cell(self, l, m->den, pl, d) : 0;
            if ((num || den) && (l == node || proj_is_under(self, l, node, d))) {
                acc[2 * (d - d0)] += num;
                acc[2 * (d - d0) + 1] += den;
            }
        }
    }
}

static pq_rc_t
op_daily(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    selection_t s;
    pq_rc_t rc = parse_selection(self, req, now, &s, out);
    if (rc != PQ_OK)
        return rc;
    if (!s.scope)
        return fail(out, PQ_BAD_REQUEST, "scope: required");
    if (s.any_metric)
        return fail(out, PQ_BAD_REQUEST, "metric: required");
    if (s.each_pl)
        return fail(out, PQ_BAD_REQUEST, "each_product_line: progress only; daily is one key");
    const metric_t *m = &self->metrics[s.metric];
    int32_t d0 = proj_day_of(self, s.period.start_ms), d1 = proj_day_of(self, s.period.end_ms);
    size_t ndays = d1 > d0 ? (size_t)(d1 - d0) : 0;
    int64_t *acc = calloc(2 * ndays + 2, sizeof *acc);
    if (!acc)
        return fail(out, PQ_BAD_REQUEST, "out of memory");
    if (!s.has_pl || s.pl) /* a product line never credited has nothing */
        daily_rollup(self, s.scope, m, s.pl, d0, d1, acc);
    target_t *t = s.period_sym ? proj_target(self, s.scope, s.metric, s.pl, s.period_sym) : NULL;
    bool has_target = t && (t->mask & 2);
    pace_clock_t clock = {0};
    curve_clock(self, &s, s.period.start_ms, &clock);
    double *profile = NULL;
    if (s.curve == PACE_CURVE_PROFILE)
        profile = curve_profile(self, &s, s.scope, m->num, s.pl, &clock);
    pace_curve_t used = s.curve;
    pace_fraction(s.curve, &clock, &used);

    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    char path[512];
    proj_path(self, s.scope, s.ref_day, path, sizeof path);
    pack_str(&pk, "scope");
    pack_sym(&pk, self->nodes_sym, s.scope);
    pack_str(&pk, "path");
    pack_str(&pk, path);
    pack_str(&pk, "metric");
    pack_sym(&pk, self->metrics_sym, s.metric);
    pack_str(&pk, "period");
    pack_str(&pk, s.period.name);
    pack_str(&pk, "product_line");
    if (s.has_pl)
        pack_str(&pk, s.pl_name);
    else
        msgpack_pack_nil(&pk);
    pack_opt_int(&pk, "period_start", true, s.period.start_ms);
    pack_opt_int(&pk, "period_end", true, s.period.end_ms);
    pack_str(&pk, "curve");
    pack_str(&pk, pace_curve_name(used));
    pack_opt_int(&pk, "floor", has_target && (t->mask & 1), t ? t->tiers[0] : 0);
    pack_opt_int(&pk, "target", has_target, t ? t->tiers[1] : 0);
    pack_opt_int(&pk, "stretch", has_target && (t->mask & 4), t ? t->tiers[2] : 0);
    pack_str(&pk, "currency");
    if (t && t->currency[0])
        msgpack_pack_str_with_body(&pk, t->currency, 3);
    else
        msgpack_pack_nil(&pk);

    pack_str(&pk, "days");
    msgpack_pack_array(&pk, ndays);
    int64_t num = 0, den = 0, start = s.period.start_ms;
    for (size_t i = 0; i < ndays; i++) {
        period_t day = {.end_ms = start + 86400000}; /* a period's days are in range */
        calendar_period_containing(self->cal, PERIOD_DAY, start, &day);
        num += acc[2 * i];
        den += acc[2 * i + 1];
        bool defined_day, defined_cum;
        int64_t value = proj_metric_value(m, acc[2 * i], acc[2 * i + 1], &defined_day);
        int64_t cumulative = proj_metric_value(m, num, den, &defined_cum);
        curve_clock(self, &s, day.end_ms, &clock);
        double fraction = pace_fraction(s.curve, &clock, NULL);
        msgpack_pack_map(&pk, has_target ? 7 : 6);
        pack_str(&pk, "date");
        pack_str(&pk, day.name);
        pack_opt_int(&pk, "start", true, start);
        pack_str(&pk, "working");
        if (calendar_working_days(self->cal, start, day.end_ms) > 0)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        pack_opt_int(&pk, "actual", defined_day, value);
        pack_opt_int(&pk, "cumulative", defined_cum, cumulative);
        pack_opt_double(&pk, "elapsed", true, pace_round(fraction, PACE_RATIO_DECIMALS));
        if (has_target)
            pack_opt_int(&pk, "expected", true, pace_expected(t->tiers[1], fraction));
        start = day.end_ms;
    }
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    out->pairs = 14;
    free(profile);
    free(acc);
    return PQ_OK;
}

static void
pack_tiers(msgpack_packer *pk, uint8_t mask, const int64_t t[3])
{
    static const char *const names[3] = {"floor", "target", "stretch"};
    msgpack_pack_map(pk, 3);
    for (int i = 0; i < 3; i++) {
        pack_str(pk, names[i]);
        if (mask & (1u << i))
            msgpack_pack_int64(pk, t[i]);
        else
            msgpack_pack_nil(pk);
    }
}

/* Resolve scope/metric/period/product_line of a request to a target. */
static pq_rc_t
find_key(projection_t *self, const msgpack_object *req, target_t **t, period_t *period,
         pq_result_t *out)
{
    char scope[80], metric[80], pname[32], pl[80];
    if (str_field(req, "scope", scope, sizeof scope) <= 0)
        return fail(out, PQ_BAD_REQUEST, "scope: required (string)");
    if (str_field(req, "metric", metric, sizeof metric) <= 0)
        return fail(out, PQ_BAD_REQUEST, "metric: required (string)");
    if (str_field(req, "period", pname, sizeof pname) <= 0)
        return fail(out, PQ_BAD_REQUEST, "period: required (string)");
    int has_pl = str_field(req, "product_line", pl, sizeof pl);
    if (has_pl < 0)
        return fail(out, PQ_BAD_REQUEST, "product_line: expected string");
    char why[200];
    if (calendar_period_parse(self->cal, pname, period, why, sizeof why) != 0)
        return fail(out, PQ_INVALID_VALUE, "period: %s", why);
    uint32_t m = proj_metric(self, metric, strlen(metric), why, sizeof why);
    if (!m)
        return fail(out, PQ_INVALID_VALUE, "metric: %s", why);
    uint32_t node = symtab_find(self->nodes_sym, scope, strlen(scope));
    if (!proj_node(self, node))
        return fail(out, PQ_NOT_FOUND, "scope: \"%s\" is not a defined node", scope);
    uint32_t psym = symtab_find(self->periods_sym, period->name, strlen(period->name));
    uint32_t plid = has_pl > 0 ? symtab_find(self->pl_sym, pl, strlen(pl)) : 0;
    *t = psym && (has_pl <= 0 || plid) ? proj_target(self, node, m, plid, psym) : NULL;
    if (!*t)
        return fail(out, PQ_NOT_FOUND, "no target is set for %s / %s / %s%s%s", scope, metric,
                    period->name, has_pl > 0 ? " / " : "", has_pl > 0 ? pl : "");
    return PQ_OK;
}

static pq_rc_t
op_history(projection_t *self, const msgpack_object *req, pq_result_t *out)
{
    target_t *t;
    period_t period;
    pq_rc_t rc = find_key(self, req, &t, &period, out);
    if (rc != PQ_OK)
        return rc;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    pack_str(&pk, "history");
    msgpack_pack_array(&pk, t->nhist);
    for (uint32_t i = 0; i < t->nhist; i++) {
        hist_t *h = &t->hist[i];
        msgpack_pack_map(&pk, 9);
        pack_str(&pk, "seq");
        msgpack_pack_uint64(&pk, h->seq);
        pack_opt_int(&pk, "occurred_at", true, h->occurred_at);
        pack_opt_int(&pk, "recorded_at", true, h->recorded_at);
        pack_str(&pk, "kind");
        pack_str(&pk, h->kind ? "adjust" : "set");
        pack_str(&pk, "author");
        pack_sym(&pk, self->text_sym, h->author);
        pack_str(&pk, "reason");
        pack_sym(&pk, self->text_sym, h->reason);
        pack_str(&pk, "allocation");
        pack_sym(&pk, self->text_sym, h->allocation);
        pack_str(&pk, "before");
        if (h->before_mask)
            pack_tiers(&pk, h->before_mask, h->before);
        else
            msgpack_pack_nil(&pk);
        pack_str(&pk, "after");
        pack_tiers(&pk, h->after_mask, h->after);
    }
    pack_str(&pk, "currency");
    if (t->currency[0])
        msgpack_pack_str_with_body(&pk, t->currency, 3);
    else
        msgpack_pack_nil(&pk);
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    out->pairs = 3;
    return PQ_OK;
}

/* ---------------------------------------------------------------------
   Allocation */

/* Children in id order, so an allocation reads the same every time. */
static void
sort_children(projection_t *self, uint32_t *kids, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t k = kids[i];
        size_t j = i;
        while (j > 0 && strcmp(symtab_str(self->nodes_sym, kids[j - 1]),
                               symtab_str(self->nodes_sym, k)) > 0) {
            kids[j] = kids[j - 1];
            j--;
        }
        kids[j] = k;
    }
}

/* The request's id, author and reason go into the generated events as they
   came: each event must be one the append path accepts (an author of
   invalid UTF-8, or an id too long once "/<child>" is added, would pass a
   preview and then be refused event by event at the commit). */
static pq_rc_t
check_allocation_events(const msgpack_sbuffer *events, pq_result_t *out)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    pq_rc_t rc = PQ_OK;
    if (msgpack_unpack_next(&u, events->data, events->size, &off) != MSGPACK_UNPACK_SUCCESS)
        rc = fail(out, PQ_BAD_REQUEST, "could not build the allocation's events");
    for (uint32_t i = 0; rc == PQ_OK && i < u.data.via.array.size; i++) {
        event_t ev;
        ev_error_t err;
        if (event_decode(&u.data.via.array.ptr[i], &ev, &err) != EVE_OK)
            rc = fail(out, PQ_BAD_REQUEST, "%s", err.message);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

pq_rc_t
projection_allocate(projection_t *self, const msgpack_object *req, pq_result_t *out,
                    msgpack_sbuffer **events_out, uint32_t *nevents)
{
    *events_out = NULL;
    *nevents = 0;
    target_t *parent;
    period_t period;
    pq_rc_t rc = find_key(self, req, &parent, &period, out);
    if (rc != PQ_OK)
        return rc;
    char id[80], method[16], author[80], reason[1100], pl[80];
    int64_t occurred_at, hist_n = 0;
    if (str_field(req, "id", id, sizeof id) <= 0 || !id[0])
        return fail(out, PQ_BAD_REQUEST, "id: required (the allocation request id)");
    if (int_field(req, "occurred_at", &occurred_at) <= 0 || occurred_at < 0)
        return fail(out, PQ_BAD_REQUEST, "occurred_at: required (ms UTC)");
    if (str_field(req, "author", author, sizeof author) <= 0)
        return fail(out, PQ_BAD_REQUEST, "author: required");
    int has_reason = str_field(req, "reason", reason, sizeof reason);
    if (has_reason < 0)
        return fail(out, PQ_BAD_REQUEST, "reason: expected string of at most 1024 bytes");
    int has_pl = str_field(req, "product_line", pl, sizeof pl);
    if (str_field(req, "method", method, sizeof method) <= 0 ||
        (strcmp(method, "equal") && strcmp(method, "weights") && strcmp(method, "history")))
        return fail(out, PQ_BAD_REQUEST, "method: required, one of equal, weights, history");

    int32_t day = proj_day_of(self, occurred_at);
    uint32_t *kids = calloc(self->nnodes + 1, sizeof *kids);
    double *w = calloc(self->nnodes + 1, sizeof *w);
    size_t nk = 0;
    rc = PQ_OK;
    if (!kids || !w) {
        rc = fail(out, PQ_BAD_REQUEST, "out of memory");
        goto done;
    }
    for (uint32_t c = 1; c < self->nnodes; c++)
        if (self->nodes[c].defined && proj_parent_at(self, c, day) == parent->scope &&
            !(self->nodes[c].retired_day && self->nodes[c].retired_day <= day))
            kids[nk++] = c;
    if (nk == 0) {
        rc = fail(out, PQ_NOT_FOUND, "scope: \"%s\" has no children to allocate to",
                  symtab_str(self->nodes_sym, parent->scope));
        goto done;
    }
    sort_children(self, kids, nk);
    for (size_t i = 0; i < nk; i++)
        if (strlen(id) + 1 + symtab_len(self->nodes_sym, kids[i]) > EV_ID_MAX) {
            rc = fail(out, PQ_BAD_REQUEST,
                      "id: \"%s/%s\" would be longer than %d bytes; use a shorter id", id,
                      symtab_str(self->nodes_sym, kids[i]), EV_ID_MAX);
            goto done;
        }

    bool fell_back = false;
    char err[256] = "";
    metric_t *m = &self->metrics[parent->metric];
    if (!strcmp(method, "weights")) {
        const msgpack_object *wm = field(req, "weights");
        if (!wm || wm->type != MSGPACK_OBJECT_MAP) {
            rc = fail(out, PQ_BAD_REQUEST, "weights: required, a map of child id to weight");
            goto done;
        }
        for (size_t i = 0; i < nk; i++)
            w[i] = NAN;
        for (uint32_t j = 0; j < wm->via.map.size; j++) {
            const msgpack_object *k = &wm->via.map.ptr[j].key, *v = &wm->via.map.ptr[j].val;
            size_t i = 0;
            if (k->type == MSGPACK_OBJECT_STR)
                for (; i < nk; i++)
                    if (symtab_len(self->nodes_sym, kids[i]) == k->via.str.size &&
                        !memcmp(symtab_str(self->nodes_sym, kids[i]), k->via.str.ptr,
                                k->via.str.size))
                        break;
            if (k->type != MSGPACK_OBJECT_STR || i == nk) {
                rc = fail(out, PQ_BAD_REQUEST, "weights: \"%.*s\" is not a child of %s",
                          k->type == MSGPACK_OBJECT_STR
                              ? (int)(k->via.str.size > 64 ? 64 : k->via.str.size)
                              : 1,
                          k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?",
                          symtab_str(self->nodes_sym, parent->scope));
                goto done;
            }
            if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                w[i] = (double)v->via.u64;
            else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                w[i] = (double)v->via.i64;
            else if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
                w[i] = v->via.f64;
            else {
                rc = fail(out, PQ_BAD_REQUEST, "weights: %s: expected a number",
                          symtab_str(self->nodes_sym, kids[i]));
                goto done;
            }
            /* checked here to name the child (allocate_weights knows an index) */
            if (!isfinite(w[i]) || w[i] < 0) {
                rc = fail(out, PQ_BAD_REQUEST, "weights: %s = %g %s",
                          symtab_str(self->nodes_sym, kids[i]), w[i],
                          isfinite(w[i]) ? "is negative" : "is not a finite number");
                goto done;
            }
        }
        for (size_t i = 0; i < nk; i++)
            if (isnan(w[i])) {
                rc = fail(out, PQ_BAD_REQUEST, "weights: child \"%s\" has no weight",
                          symtab_str(self->nodes_sym, kids[i]));
                goto done;
            }
    } else if (!strcmp(method, "history")) {
        if (int_field(req, "history_periods", &hist_n) <= 0 || hist_n < 1 || hist_n > 12) {
            rc = fail(out, PQ_BAD_REQUEST, "history_periods: required, 1 to 12");
            goto done;
        }
    }

    static const char *const tier_names[3] = {"floor", "target", "stretch"};
    int64_t *tier_shares[3] = {NULL, NULL, NULL};
    int64_t *hist = NULL;
    if (!strcmp(method, "history")) {
        hist = calloc(nk, sizeof *hist);
        for (size_t i = 0; hist && i < nk; i++)
            for (int64_t k = 1; k <= hist_n; k++) {
                period_t prev;
                if (calendar_period_previous(self->cal, &period, (int)k, &prev) != 0)
                    continue;
                int64_t v =
                    proj_rollup(self, kids[i], m->num, parent->pl, proj_day_of(self, prev.start_ms),
                                proj_day_of(self, prev.end_ms));
                hist[i] += v > 0 ? v : 0;
            }
        for (size_t i = 0; hist && i < nk; i++)
            w[i] = (double)hist[i];
    }
    for (int tier = 0; tier < 3 && rc == PQ_OK; tier++) {
        if (!(parent->mask & (1u << tier)))
            continue;
        tier_shares[tier] = calloc(nk, sizeof(int64_t));
        int e;
        if (!tier_shares[tier])
            e = ENOMEM;
        else if (!strcmp(method, "equal"))
            e = allocate_equal(parent->tiers[tier], nk, tier_shares[tier], err, sizeof err);
        else if (!strcmp(method, "weights"))
            e = allocate_weights(parent->tiers[tier], w, nk, tier_shares[tier], err, sizeof err);
        else
            e = hist ? allocate_history(parent->tiers[tier], hist, nk, tier_shares[tier],
                                        &fell_back, err, sizeof err)
                     : ENOMEM;
        if (e)
            rc = fail(out, PQ_BAD_REQUEST, "%s", err[0] ? err : "allocation failed");
    }
    if (rc == PQ_OK && !(*events_out = malloc(sizeof(msgpack_sbuffer))))
        rc = fail(out, PQ_BAD_REQUEST, "out of memory");
    if (rc == PQ_OK) {
        msgpack_sbuffer_init(*events_out);
        msgpack_packer ek, pk;
        msgpack_packer_init(&ek, *events_out, msgpack_sbuffer_write);
        msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
        msgpack_pack_array(&ek, nk);
        pack_str(&pk, "allocation");
        msgpack_pack_array(&pk, nk);
        for (size_t i = 0; i < nk; i++) {
            const char *child = symtab_str(self->nodes_sym, kids[i]);
            char eid[160];
            snprintf(eid, sizeof eid, "%s/%s", id, child);
            size_t fields = 9 + (has_pl > 0) + (has_reason > 0) + (parent->currency[0] != 0) +
                            ((parent->mask & 1) != 0) + ((parent->mask & 4) != 0);
            msgpack_pack_map(&ek, fields);
            pack_str(&ek, "type");
            pack_str(&ek, "target_set");
            pack_str(&ek, "id");
            pack_str(&ek, eid);
            pack_str(&ek, "occurred_at");
            msgpack_pack_int64(&ek, occurred_at);
            pack_str(&ek, "scope");
            pack_str(&ek, child);
            pack_str(&ek, "metric");
            pack_sym(&ek, self->metrics_sym, parent->metric);
            pack_str(&ek, "period");
            pack_str(&ek, period.name);
            if (has_pl > 0) {
                pack_str(&ek, "product_line");
                pack_str(&ek, pl);
            }
            for (int tier = 0; tier < 3; tier++)
                if (tier_shares[tier]) {
                    pack_str(&ek, tier_names[tier]);
                    msgpack_pack_int64(&ek, tier_shares[tier][i]);
                }
            if (parent->currency[0]) {
                pack_str(&ek, "currency");
                msgpack_pack_str_with_body(&ek, parent->currency, 3);
            }
            pack_str(&ek, "author");
            pack_str(&ek, author);
            if (has_reason > 0) {
                pack_str(&ek, "reason");
                pack_str(&ek, reason);
            }
            pack_str(&ek, "allocation");
            pack_str(&ek, id);

            msgpack_pack_map(&pk, 5);
            pack_str(&pk, "child");
            pack_str(&pk, child);
            pack_str(&pk, "weight");
            msgpack_pack_double(&pk, !strcmp(method, "equal") ? 1.0 : w[i]);
            for (int tier = 0; tier < 3; tier++) {
                pack_str(&pk, tier_names[tier]);
                if (tier_shares[tier])
                    msgpack_pack_int64(&pk, tier_shares[tier][i]);
                else
                    msgpack_pack_nil(&pk);
            }
        }
        pack_str(&pk, "fell_back");
        if (fell_back)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        pack_str(&pk, "currency");
        if (parent->currency[0])
            msgpack_pack_str_with_body(&pk, parent->currency, 3);
        else
            msgpack_pack_nil(&pk);
        out->pairs = 3;
        *nevents = (uint32_t)nk;
        rc = check_allocation_events(*events_out, out);
        if (rc != PQ_OK) {
            msgpack_sbuffer_free(*events_out);
            *events_out = NULL;
            *nevents = 0;
            msgpack_sbuffer_clear(&out->body);
            out->pairs = 0;
        }
    }
    for (int tier = 0; tier < 3; tier++)
        free(tier_shares[tier]);
    free(hist);
done:
    free(kids);
    free(w);
    return rc;
}

/* "YYYY-MM-DD" of a day index (day seqs count from 1970-01-01, see
   proj_day_of; Hinnant's civil_from_days). */
static void
date_of_day(projection_t *self, int32_t day, char out[16])
{
    int64_t z = day + self->day_base + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(out, 16, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

typedef struct {
    const char *name;
    uint32_t id;
} named_t;

static int
named_cmp(const void *a, const void *b)
{
    return strcmp(((const named_t *)a)->name, ((const named_t *)b)->name);
}

/* Credited ids that are not defined nodes, by id, with what they hold. */
static pq_rc_t
op_undefined(projection_t *self, const msgpack_object *req, pq_result_t *out)
{
    int64_t limit = ROWS_DEFAULT;
    if (int_field(req, "limit", &limit) < 0 || limit < 1)
        return fail(out, PQ_BAD_REQUEST, "limit: expected a positive integer");
    if (limit > ROWS_MAX)
        limit = ROWS_MAX;
    uint32_t n = 0;
    named_t *ids = calloc(self->undefined_credited + 1, sizeof *ids);
    if (!ids)
        return fail(out, PQ_BAD_REQUEST, "out of memory");
    for (uint32_t i = 0; i < self->ncredited && n < self->undefined_credited; i++)
        if (!self->nodes[self->credited[i]].defined) {
            ids[n].id = self->credited[i];
            ids[n++].name = symtab_str(self->nodes_sym, self->credited[i]);
        }
    qsort(ids, n, sizeof *ids, named_cmp);
    static const struct {
        const char *name;
        uint32_t base;
    } totals[] = {{"revenue", B_REVENUE},       {"margin", B_MARGIN},  {"deals", B_DEALS},
                  {"new_customers", B_NEWCUST}, {"activities", B_ACT}, {"collections", B_COLL}};
    const size_t ntotals = sizeof totals / sizeof totals[0];
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    uint32_t shown = n < (uint64_t)limit ? n : (uint32_t)limit;
    pack_str(&pk, "nodes");
    msgpack_pack_array(&pk, shown);
    for (uint32_t i = 0; i < shown; i++) {
        const node_t *nd = &self->nodes[ids[i].id];
        char first[16], last[16];
        date_of_day(self, nd->first_day, first);
        date_of_day(self, nd->last_day, last);
        msgpack_pack_map(&pk, 3 + ntotals);
        pack_str(&pk, "node");
        pack_sym(&pk, self->nodes_sym, ids[i].id);
        pack_str(&pk, "first_day");
        pack_str(&pk, first);
        pack_str(&pk, "last_day");
        pack_str(&pk, last);
        for (size_t k = 0; k < ntotals; k++)
            pack_opt_int(&pk, totals[k].name, true,
                         proj_cell_sum(self, ids[i].id, totals[k].base, 0, 0, DAY_MAX + 1));
    }
    pack_str(&pk, "total");
    msgpack_pack_uint32(&pk, n);
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    out->pairs = 3;
    free(ids);
    return PQ_OK;
}

pq_rc_t
projection_query(projection_t *self, const char *op, const msgpack_object *request, int64_t now,
                 pq_result_t *out)
{
    out->pairs = 0;
    out->message[0] = 0;
    if (!strcmp(op, "progress"))
        return op_progress(self, request, now, out);
    if (!strcmp(op, "leaderboard"))
        return op_leaderboard(self, request, now, out);
    if (!strcmp(op, "target_history"))
        return op_history(self, request, out);
    if (!strcmp(op, "daily"))
        return op_daily(self, request, now, out);
    if (!strcmp(op, "undefined_nodes"))
        return op_undefined(self, request, out);
    return fail(out, PQ_BAD_REQUEST, "unknown query \"%s\"", op);
}
