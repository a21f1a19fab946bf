/*  daily: one key's actual day by day, for burn-up charts
    (docs/PROTOCOL.md, "daily"). Actuals are credited to the day a sale
    occurred on (reversals to the original sale's day), so the cumulative
    figure at a day's end is what the key had earned by then as the log
    stands now; `progress` with an earlier `now` cannot give it, since its
    actual is the whole period's. */

#include "projections/report.h"

#include <stdlib.h>
#include <string.h>

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

/* limit is read (and checked) by the selection, though a day list has no
   limit */
const wire_field_t *const pq_daily_fields[] = {&pq_f_now,        &pq_f_limit,        &pq_f_period,
                                               &pq_f_metric_req, &pq_f_product_line, &pq_f_each_pl,
                                               &pq_f_curve,      &pq_f_scope_req,    NULL};

pq_rc_t
pq_daily(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    selection_t s;
    pq_rc_t rc = pq_selection(self, req, now, &pq_f_scope_req, &pq_f_metric_req, &s, out);
    if (rc != PQ_OK)
        return rc;
    if (s.each_pl)
        return pq_fail(out, PQ_BAD_REQUEST, "each_product_line: progress only; daily is one key");
    const metric_t *m = &self->metrics[s.metric];
    int32_t d0 = proj_day_of(self, s.period.start_ms), d1 = proj_day_of(self, s.period.end_ms);
    size_t ndays = d1 > d0 ? (size_t)(d1 - d0) : 0;
    int64_t *acc = calloc(2 * ndays + 2, sizeof *acc);
    if (!acc)
        return pq_fail(out, PQ_BAD_REQUEST, "out of memory");
    if (!s.has_pl || s.pl) /* a product line never credited has nothing */
        daily_rollup(self, s.scope, m, s.pl, d0, d1, acc);
    target_t *t = s.period_sym ? proj_target(self, s.scope, s.metric, s.pl, s.period_sym) : NULL;
    bool has_target = t && (t->mask & 2);
    pace_clock_t clock = {0};
    pq_curve_clock(self, &s, s.period.start_ms, &clock);
    double *profile = NULL;
    if (s.curve == PACE_CURVE_PROFILE)
        profile = pq_curve_profile(self, &s, s.scope, m->num, s.pl, &clock);
    pace_curve_t used = s.curve;
    pace_fraction(s.curve, &clock, &used);

    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    char path[512];
    proj_path(self, s.scope, s.ref_day, path, sizeof path);
    pq_pack_str(&pk, "scope");
    pq_pack_sym(&pk, self->nodes_sym, s.scope);
    pq_pack_str(&pk, "path");
    pq_pack_str(&pk, path);
    pq_pack_str(&pk, "metric");
    pq_pack_sym(&pk, self->metrics_sym, s.metric);
    pq_pack_str(&pk, "period");
    pq_pack_str(&pk, s.period.name);
    pq_pack_str(&pk, "product_line");
    if (s.has_pl)
        pq_pack_str(&pk, s.pl_name);
    else
        msgpack_pack_nil(&pk);
    pq_pack_opt_int(&pk, "period_start", true, s.period.start_ms);
    pq_pack_opt_int(&pk, "period_end", true, s.period.end_ms);
    pq_pack_str(&pk, "curve");
    pq_pack_str(&pk, pace_curve_name(used));
    pq_pack_opt_int(&pk, "floor", has_target && (t->mask & 1), t ? t->tiers[0] : 0);
    pq_pack_opt_int(&pk, "target", has_target, t ? t->tiers[1] : 0);
    pq_pack_opt_int(&pk, "stretch", has_target && (t->mask & 4), t ? t->tiers[2] : 0);
    pq_pack_str(&pk, "currency");
    if (t && t->currency[0])
        msgpack_pack_str_with_body(&pk, t->currency, 3);
    else
        msgpack_pack_nil(&pk);

    pq_pack_str(&pk, "days");
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
        pq_curve_clock(self, &s, day.end_ms, &clock);
        double fraction = pace_fraction(s.curve, &clock, NULL);
        msgpack_pack_map(&pk, has_target ? 7 : 6);
        pq_pack_str(&pk, "date");
        pq_pack_str(&pk, day.name);
        pq_pack_opt_int(&pk, "start", true, start);
        pq_pack_str(&pk, "working");
        if (calendar_working_days(self->cal, start, day.end_ms) > 0)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        pq_pack_opt_int(&pk, "actual", defined_day, value);
        pq_pack_opt_int(&pk, "cumulative", defined_cum, cumulative);
        pq_pack_opt_double(&pk, "elapsed", true, pace_round(fraction, PACE_RATIO_DECIMALS));
        if (has_target)
            pq_pack_opt_int(&pk, "expected", true, pace_expected(t->tiers[1], fraction));
        start = day.end_ms;
    }
    pq_pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    out->pairs = 14;
    free(profile);
    free(acc);
    return PQ_OK;
}
