/*  report: what the projection's queries share (projections/report.h),
    and the table of queries projection_query dispatches through.

    Every answer is computed from the running totals of target keys (O(1)
    each) or, for roll-ups without a target of their own, from the day cells
    of the nodes under them. Wall-clock quantities use the request's `now`. */

#include "projections/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

pq_rc_t
pq_fail(pq_result_t *out, pq_rc_t rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---------------------------------------------------------------------
   Request fields. The string lengths are those of the buffers they are
   copied to (selection_t, pq_find_key). */

const wire_field_t pq_f_now = {.name = "now", .type = WIRE_FIELD_I64};
const wire_field_t pq_f_limit = {
    .name = "limit", .type = WIRE_FIELD_U64, .min = 1, .def = ROWS_DEFAULT};
const wire_field_t pq_f_period = {
    .name = "period", .type = WIRE_FIELD_STR, .required = true, .max = 31};
const wire_field_t pq_f_metric = {.name = "metric", .type = WIRE_FIELD_STR, .max = 79};
const wire_field_t pq_f_metric_req = {
    .name = "metric", .type = WIRE_FIELD_STR, .required = true, .max = 79};
const wire_field_t pq_f_product_line = {.name = "product_line", .type = WIRE_FIELD_STR, .max = 79};
const wire_field_t pq_f_each_pl = {.name = "each_product_line", .type = WIRE_FIELD_BOOL};
const wire_field_t pq_f_curve = {.name = "curve", .type = WIRE_FIELD_STR, .max = 15};
const wire_field_t pq_f_scope = {.name = "scope", .type = WIRE_FIELD_STR, .max = 299};
const wire_field_t pq_f_scope_req = {
    .name = "scope", .type = WIRE_FIELD_STR, .required = true, .max = 299};
const wire_field_t pq_f_key_scope = {
    .name = "scope", .type = WIRE_FIELD_STR, .required = true, .max = 79};
const wire_field_t pq_f_key_metric = {
    .name = "metric", .type = WIRE_FIELD_STR, .required = true, .max = 79};
const wire_field_t pq_f_key_period = {
    .name = "period", .type = WIRE_FIELD_STR, .required = true, .max = 31};

/* ---------------------------------------------------------------------
   The selection */

pq_rc_t
pq_selection(projection_t *self, const msgpack_object *req, int64_t now,
             const wire_field_t *scope_f, const wire_field_t *metric_f, selection_t *s,
             pq_result_t *out)
{
    char *msg = out->message;
    size_t msglen = sizeof out->message;
    memset(s, 0, sizeof *s);
    int has_now = wire_req_i64(req, &pq_f_now, &s->now, msg, msglen);
    if (has_now < 0 || wire_req_u64(req, &pq_f_limit, &s->limit, msg, msglen) < 0 ||
        wire_req_strcpy(req, &pq_f_period, s->period_name, sizeof s->period_name, msg, msglen) < 0)
        return PQ_BAD_REQUEST;
    if (!has_now)
        s->now = now;
    if (s->limit > ROWS_MAX)
        s->limit = ROWS_MAX;
    char why[200];
    if (calendar_period_parse(self->cal, s->period_name, &s->period, why, sizeof why) != 0)
        return pq_fail(out, PQ_INVALID_VALUE, "period: %s", why);
    s->period_sym = symtab_find(self->periods_sym, s->period.name, strlen(s->period.name));

    int rc = wire_req_strcpy(req, metric_f, s->metric_name, sizeof s->metric_name, msg, msglen);
    if (rc < 0)
        return PQ_BAD_REQUEST;
    s->any_metric = rc == 0;
    if (rc > 0 &&
        !(s->metric = proj_metric(self, s->metric_name, strlen(s->metric_name), why, sizeof why)))
        return pq_fail(out, PQ_INVALID_VALUE, "metric: %s", why);

    rc = wire_req_strcpy(req, &pq_f_product_line, s->pl_name, sizeof s->pl_name, msg, msglen);
    if (rc < 0 || wire_req_bool(req, &pq_f_each_pl, &s->each_pl, msg, msglen) < 0)
        return PQ_BAD_REQUEST;
    s->has_pl = rc > 0;
    s->pl = s->has_pl ? symtab_find(self->pl_sym, s->pl_name, strlen(s->pl_name)) : 0;
    if (s->each_pl && s->has_pl)
        return pq_fail(out, PQ_BAD_REQUEST, "each_product_line: give it or product_line, not both");

    rc = wire_req_strcpy(req, &pq_f_curve, s->curve_name, sizeof s->curve_name, msg, msglen);
    s->curve = PACE_CURVE_WORKING;
    if (rc < 0)
        return PQ_BAD_REQUEST;
    if (rc > 0) {
        if (!strcmp(s->curve_name, "linear"))
            s->curve = PACE_CURVE_LINEAR;
        else if (!strcmp(s->curve_name, "profile"))
            s->curve = PACE_CURVE_PROFILE;
        else if (strcmp(s->curve_name, "working")) {
            wire_req_expected("curve", "linear, working or profile", msg, msglen);
            return PQ_INVALID_VALUE;
        }
    }
    int64_t ref = s->now;
    if (ref >= s->period.end_ms)
        ref = s->period.end_ms - 1;
    if (ref < s->period.start_ms)
        ref = s->period.start_ms;
    s->ref_day = proj_day_of(self, ref);

    rc = wire_req_strcpy(req, scope_f, s->scope_name, sizeof s->scope_name, msg, msglen);
    if (rc < 0)
        return PQ_BAD_REQUEST;
    if (rc > 0) {
        /* a path names its last node */
        char *last = strrchr(s->scope_name, '/');
        while (last && last[1] == 0) { /* trailing slash */
            *last = 0;
            last = strrchr(s->scope_name, '/');
        }
        const char *id = last ? last + 1 : s->scope_name;
        s->scope = symtab_find(self->nodes_sym, id, strlen(id));
        if (!proj_node(self, s->scope))
            return pq_fail(out, PQ_NOT_FOUND, "scope: \"%s\" is not a defined node", id);
    }
    return PQ_OK;
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
void
pq_curve_clock(projection_t *self, const selection_t *s, int64_t now, pace_clock_t *clock)
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
double *
pq_curve_profile(projection_t *self, const selection_t *s, uint32_t node, uint32_t base,
                 uint32_t pl, pace_clock_t *clock)
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

void
pq_pack_opt_int(msgpack_packer *pk, const char *key, bool has, int64_t v)
{
    pq_pack_str(pk, key);
    if (has)
        msgpack_pack_int64(pk, v);
    else
        msgpack_pack_nil(pk);
}

void
pq_pack_opt_double(msgpack_packer *pk, const char *key, bool has, double v)
{
    pq_pack_str(pk, key);
    if (has && isfinite(v))
        msgpack_pack_double(pk, v);
    else
        msgpack_pack_nil(pk);
}

/* Compute a row's numbers; pack it when pk is set. */
void
pq_row_eval(projection_t *self, const selection_t *s, row_t *r, msgpack_packer *pk, int rank)
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
    pq_curve_clock(self, s, s->now, &clock);
    double *profile = NULL;
    if (s->curve == PACE_CURVE_PROFILE)
        profile = pq_curve_profile(self, s, r->node, m->num, r->pl, &clock);
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
        pq_pack_str(pk, "rank");
        msgpack_pack_int(pk, rank);
    }
    pq_pack_str(pk, "scope");
    pq_pack_sym(pk, self->nodes_sym, r->node);
    pq_pack_str(pk, "path");
    pq_pack_str(pk, r->path);
    pq_pack_str(pk, "kind");
    pq_pack_str(pk, kinds[n->kind & 3]);
    pq_pack_str(pk, "name");
    pq_pack_sym(pk, self->text_sym, n->name);
    pq_pack_str(pk, "owner");
    pq_pack_sym(pk, self->text_sym, n->owner);
    pq_pack_str(pk, "metric");
    pq_pack_sym(pk, self->metrics_sym, r->metric);
    pq_pack_str(pk, "period");
    pq_pack_str(pk, p->name);
    pq_pack_str(pk, "product_line");
    pq_pack_sym(pk, self->pl_sym, r->pl);
    pq_pack_opt_int(pk, "period_start", true, p->start_ms);
    pq_pack_opt_int(pk, "period_end", true, p->end_ms);
    pq_pack_str(pk, "has_target");
    if (has_target)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pq_pack_opt_int(pk, "floor", has_target && (r->t->mask & 1), r->t ? r->t->tiers[0] : 0);
    pq_pack_opt_int(pk, "target", has_target, r->t ? r->t->tiers[1] : 0);
    pq_pack_opt_int(pk, "stretch", has_target && (r->t->mask & 4), r->t ? r->t->tiers[2] : 0);
    pq_pack_str(pk, "currency");
    if (r->t && r->t->currency[0])
        msgpack_pack_str_with_body(pk, r->t->currency, 3);
    else
        msgpack_pack_nil(pk);
    pq_pack_opt_int(pk, "actual", true, r->actual);
    pq_pack_opt_int(pk, "expected", has_target, expected);
    pq_pack_str(pk, "curve");
    pq_pack_str(pk, pace_curve_name(used));
    pq_pack_opt_double(pk, "elapsed", true, pace_round(fraction, PACE_RATIO_DECIMALS));
    pq_pack_opt_double(pk, "attainment", has_target && pr.has_attainment && defined, pr.attainment);
    pq_pack_opt_double(pk, "pace_ratio", has_target && pr.has_pace && defined, pr.pace_ratio);
    pq_pack_opt_int(pk, "gap", has_target, pr.gap);
    pq_pack_opt_int(pk, "remaining", has_target, pr.remaining);
    pq_pack_opt_double(pk, "required_rate", has_target && pr.has_required_rate, pr.required_rate);
    pq_pack_opt_int(pk, "forecast", has_target && pr.has_forecast, pr.forecast);
    pq_pack_str(pk, "tier");
    if (has_target)
        pq_pack_str(pk, pace_tier_name(pr.tier));
    else
        msgpack_pack_nil(pk);
    pq_pack_str(pk, "status");
    if (has_target)
        pq_pack_str(pk, pace_status_name(pr.status));
    else
        msgpack_pack_nil(pk);

    /* coverage: the children's targets for the same key against ours */
    pq_pack_str(pk, "coverage");
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
        pq_pack_opt_int(pk, "children", true, children);
        pq_pack_opt_int(pk, "with_target", true, with_target);
        pq_pack_opt_int(pk, "children_target", true, sum > INT64_MAX ? INT64_MAX : (int64_t)sum);
        pq_pack_opt_double(
            pk, "ratio", has_target && r->t->tiers[1] > 0,
            has_target && r->t->tiers[1]
                ? (sum <= INT64_MAX
                       ? pace_ratio((int64_t)sum, r->t->tiers[1])
                       : pace_round((double)sum / (double)r->t->tiers[1], PACE_RATIO_DECIMALS))
                : 0);
    }
}

bool
pq_in_selection(projection_t *self, const selection_t *s, uint32_t node)
{
    return !s->scope || proj_is_under(self, node, s->scope, s->ref_day);
}

void
pq_pack_rows(projection_t *self, const selection_t *s, row_t *rows, size_t n, bool ranked,
             pq_result_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    size_t shown = n < (size_t)s->limit ? n : (size_t)s->limit;
    pq_pack_str(&pk, "rows");
    msgpack_pack_array(&pk, shown);
    for (size_t i = 0; i < shown; i++)
        pq_row_eval(self, s, &rows[i], &pk, ranked ? (int)i + 1 : 0);
    pq_pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    pq_pack_str(&pk, "now");
    msgpack_pack_int64(&pk, s->now);
    pq_pack_str(&pk, "total");
    msgpack_pack_uint64(&pk, n);
    out->pairs = 4;
}

/* Resolve scope/metric/period/product_line of a request to a target. */
pq_rc_t
pq_find_key(projection_t *self, const msgpack_object *req, target_t **t, period_t *period,
            pq_result_t *out)
{
    char scope[80], metric[80], pname[32], pl[80];
    char *msg = out->message;
    size_t msglen = sizeof out->message;
    int has_pl;
    if (wire_req_strcpy(req, &pq_f_key_scope, scope, sizeof scope, msg, msglen) < 0 ||
        wire_req_strcpy(req, &pq_f_key_metric, metric, sizeof metric, msg, msglen) < 0 ||
        wire_req_strcpy(req, &pq_f_key_period, pname, sizeof pname, msg, msglen) < 0 ||
        (has_pl = wire_req_strcpy(req, &pq_f_product_line, pl, sizeof pl, msg, msglen)) < 0)
        return PQ_BAD_REQUEST;
    char why[200];
    if (calendar_period_parse(self->cal, pname, period, why, sizeof why) != 0)
        return pq_fail(out, PQ_INVALID_VALUE, "period: %s", why);
    uint32_t m = proj_metric(self, metric, strlen(metric), why, sizeof why);
    if (!m)
        return pq_fail(out, PQ_INVALID_VALUE, "metric: %s", why);
    uint32_t node = symtab_find(self->nodes_sym, scope, strlen(scope));
    if (!proj_node(self, node))
        return pq_fail(out, PQ_NOT_FOUND, "scope: \"%s\" is not a defined node", scope);
    uint32_t psym = symtab_find(self->periods_sym, period->name, strlen(period->name));
    uint32_t plid = has_pl > 0 ? symtab_find(self->pl_sym, pl, strlen(pl)) : 0;
    *t = psym && (has_pl <= 0 || plid) ? proj_target(self, node, m, plid, psym) : NULL;
    if (!*t)
        return pq_fail(out, PQ_NOT_FOUND, "no target is set for %s / %s / %s%s%s", scope, metric,
                       period->name, has_pl > 0 ? " / " : "", has_pl > 0 ? pl : "");
    return PQ_OK;
}

/* ---------------------------------------------------------------------
   The table: each query of the projection once, with its op and the
   fields it reads. */

static const pq_query_t QUERIES[] = {
    {OP_PROGRESS, pq_progress, pq_progress_fields},
    {OP_LEADERBOARD, pq_leaderboard, pq_leaderboard_fields},
    {OP_TARGET_HISTORY, pq_target_history, pq_target_history_fields},
    {OP_DAILY, pq_daily, pq_daily_fields},
    {OP_UNDEFINED_NODES, pq_undefined_nodes, pq_undefined_fields},
    {OP_ALLOCATE, pq_allocate_preview, pq_allocate_fields},
};

const pq_query_t *
projection_query_find(wire_op_t op)
{
    for (size_t i = 0; i < sizeof QUERIES / sizeof QUERIES[0]; i++)
        if (QUERIES[i].op == op)
            return &QUERIES[i];
    return NULL;
}

pq_rc_t
projection_query(projection_t *self, wire_op_t op, const msgpack_object *request, int64_t now,
                 pq_result_t *out)
{
    out->pairs = 0;
    out->message[0] = 0;
    const pq_query_t *q = projection_query_find(op);
    if (!q)
        return pq_fail(out, PQ_BAD_REQUEST, "op \"%s\" is not a query of the projection",
                       wire_op_name(op) ? wire_op_name(op) : "?");
    if (wire_req_check(request, q->fields, out->message, sizeof out->message) < 0)
        return PQ_BAD_REQUEST;
    return q->run(self, request, now, out);
}
