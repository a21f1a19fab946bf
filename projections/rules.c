/*  rules: the registry of lag rules and the helpers their sentences share.
    A rule is one file and one line in RULES below. */

#include "projections/rules.h"

#include "events/money.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern const rule_class_t rule_at_risk, rule_behind, rule_momentum, rule_forecast_floor,
    rule_achieved, rule_stretch_achieved;

const rule_class_t *const RULES[] = {
    &rule_behind,           &rule_at_risk, &rule_momentum, &rule_forecast_floor, &rule_achieved,
    &rule_stretch_achieved, NULL};

int
rule_subject(const tprog_t *p, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%s %s %s%s%s", p->path, p->metric, p->period,
                    p->has_pl ? " " : "", p->has_pl ? p->product_line : "");
}

void
rule_amount(const tprog_t *p, double v, char *out, size_t outlen)
{
    if (p->money)
        money_format_d(v, p->currency[0] ? p->currency : NULL, out, outlen);
    else
        snprintf(out, outlen, "%.1f", v);
}

int
rule_pace_phrase(const tprog_t *p, char *out, size_t outlen)
{
    char pace[32] = "no pace yet";
    if (p->has_pace)
        snprintf(pace, sizeof pace, "pace %.2f", p->pace_ratio);
    return snprintf(out, outlen, "%.0f%% of target with %.0f%% of working days gone (%s, %s)",
                    p->has_attainment ? p->attainment * 100 : 0.0, p->elapsed * 100, pace,
                    pace_status_name(p->status));
}

int64_t
rule_earliest(projection_t *proj, const tprog_t *p, const rule_params_t *rp)
{
    return projection_time_at_fraction(proj, p->idx, rp->min_elapsed > 0 ? rp->min_elapsed : 1e-9);
}

int64_t
rule_pace_below(projection_t *proj, const tprog_t *p, double ratio)
{
    if (p->target <= 0 || ratio <= 0)
        return INT64_MAX;
    /* pace = actual / (target x fraction) < ratio  <=>  fraction > actual / (ratio x target) */
    double f = (double)p->actual / (ratio * (double)p->target);
    if (f < 0)
        f = 0;
    if (f >= 1)
        return INT64_MAX;
    /* a second past the crossing, so that the evaluation then sees it */
    int64_t t = projection_time_at_fraction(proj, p->idx, f + 1e-9);
    return t == INT64_MAX ? t : t + 1000;
}
