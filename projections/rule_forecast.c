/*  rule_forecast: the end-of-period forecast under the floor (保底).

    The forecast extrapolates the actual over the working days elapsed;
    when it lands under the floor tier, the floor (the minimum acceptable)
    is in danger, which is worth telling the parent's owner too. Resolves
    once the forecast is back over the floor by the margin. Only for keys
    with a floor, after min_elapsed. */

#include "projections/rules.h"

#include <stdio.h>

static rule_verdict_t
eval(const tprog_t *p, const rule_params_t *rp, bool active)
{
    if (!(p->mask & 1) || p->floor <= 0 || !p->started || p->ended || !p->has_forecast ||
        p->elapsed < rp->min_elapsed || p->actual >= p->floor)
        return RULE_CLEAR;
    if (p->forecast < p->floor)
        return RULE_FIRE;
    if (active && (double)p->forecast < (double)p->floor * (1 + rp->margin))
        return RULE_KEEP;
    return RULE_CLEAR;
}

static int64_t
next_change(projection_t *proj, const tprog_t *p, const rule_params_t *rp, bool active, int64_t now)
{
    if (active || !(p->mask & 1) || p->floor <= 0 || p->ended || p->actual >= p->floor)
        return INT64_MAX;
    /* forecast = actual / fraction < floor  <=>  fraction > actual / floor */
    double f = (double)p->actual / (double)p->floor;
    int64_t t = f < 1 ? projection_time_at_fraction(proj, p->idx, f + 1e-9) : INT64_MAX;
    if (t != INT64_MAX)
        t += 1000;
    int64_t e = rule_earliest(proj, p, rp);
    return t > e ? t : e;
}

static void
explain(const tprog_t *p, const rule_params_t *rp, bool resolving, char *out, size_t outlen)
{
    char subject[700], fc[48], fl[48];
    rule_subject(p, subject, sizeof subject);
    rule_amount(p, (double)p->forecast, fc, sizeof fc);
    rule_amount(p, (double)p->floor, fl, sizeof fl);
    if (resolving)
        snprintf(out, outlen, "%s: forecast back over the floor: %s against a floor of %s", subject,
                 fc, fl);
    else
        snprintf(out, outlen,
                 "%s: forecast %s is under the floor of %s, with %.0f%% of working days gone",
                 subject, fc, fl, p->elapsed * 100);
}

const rule_class_t rule_forecast_floor = {.name = "forecast_floor",
                                          .severity = SEVERITY_CRITICAL,
                                          .notify_parent = true,
                                          .eval = eval,
                                          .next_change = next_change,
                                          .explain = explain};
