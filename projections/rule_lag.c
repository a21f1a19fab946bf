/*  rule_lag: at_risk and behind, by the pace ratio.

    behind fires below its threshold (0.80) and resolves at threshold plus
    margin. at_risk covers the band between the behind threshold and its
    own (0.95): it resolves when the ratio recovers past its threshold
    plus margin, and also when the key turns behind, so a key is never
    both. Neither fires before min_elapsed of the period's working days
    (early ratios swing on a single deal), nor after the period ends, nor
    once the target is reached. */

#include "projections/rules.h"

#include <stdio.h>

static bool
judged(const tprog_t *p, const rule_params_t *rp)
{
    return p->started && !p->ended && p->has_pace && p->elapsed >= rp->min_elapsed &&
           p->actual < p->target;
}

static rule_verdict_t
behind_eval(const tprog_t *p, const rule_params_t *rp, bool active)
{
    if (!judged(p, rp))
        return RULE_CLEAR;
    if (p->pace_ratio < rp->threshold)
        return RULE_FIRE;
    if (active && p->pace_ratio < rp->threshold + rp->margin)
        return RULE_KEEP;
    return RULE_CLEAR;
}

static rule_verdict_t
at_risk_eval(const tprog_t *p, const rule_params_t *rp, bool active)
{
    if (!judged(p, rp) || p->pace_ratio < rp->behind)
        return RULE_CLEAR;
    if (p->pace_ratio < rp->threshold)
        return RULE_FIRE;
    if (active && p->pace_ratio < rp->threshold + rp->margin)
        return RULE_KEEP;
    return RULE_CLEAR;
}

static int64_t
later(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t
behind_next(projection_t *proj, const tprog_t *p, const rule_params_t *rp, bool active, int64_t now)
{
    if (active || p->ended || p->actual >= p->target)
        return INT64_MAX; /* recovering takes sales; the period's end is the alerter's */
    return later(rule_earliest(proj, p, rp), rule_pace_below(proj, p, rp->threshold));
}

static int64_t
at_risk_next(projection_t *proj, const tprog_t *p, const rule_params_t *rp, bool active,
             int64_t now)
{
    if (p->ended || p->actual >= p->target)
        return INT64_MAX;
    if (active) /* it ends by time when the key turns behind */
        return rule_pace_below(proj, p, rp->behind);
    if (p->has_pace && p->pace_ratio < rp->behind)
        return INT64_MAX; /* behind: a ratio falling with time never comes back up */
    return later(rule_earliest(proj, p, rp), rule_pace_below(proj, p, rp->threshold));
}

static void
explain(const tprog_t *p, const rule_params_t *rp, bool resolving, char *out, size_t outlen)
{
    char subject[700], phrase[160], need[48], had[48];
    rule_subject(p, subject, sizeof subject);
    rule_pace_phrase(p, phrase, sizeof phrase);
    if (resolving) {
        snprintf(out, outlen, "%s: back to %s", subject, phrase);
        return;
    }
    int n = snprintf(out, outlen, "%s: %s", subject, phrase);
    if (n < 0 || (size_t)n >= outlen || !p->has_required_rate)
        return;
    rule_amount(p, p->required_rate, need, sizeof need);
    if (p->has_rates && p->summable) {
        rule_amount(p, p->rate_window, had, sizeof had);
        snprintf(out + n, outlen - (size_t)n,
                 "; needs %s a working day, averaged %s over the last %d", need, had,
                 p->window_days);
    } else
        snprintf(out + n, outlen - (size_t)n, "; needs %s a working day", need);
}

const rule_class_t rule_behind = {.name = "behind",
                                  .severity = SEVERITY_CRITICAL,
                                  .notify_parent = true,
                                  .threshold = 0.80,
                                  .eval = behind_eval,
                                  .next_change = behind_next,
                                  .explain = explain};

const rule_class_t rule_at_risk = {.name = "at_risk",
                                   .severity = SEVERITY_WARNING,
                                   .threshold = 0.95,
                                   .eval = at_risk_eval,
                                   .next_change = at_risk_next,
                                   .explain = explain};
