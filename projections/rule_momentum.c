/*  rule_momentum: losing momentum, over two windows.

    What the key booked a working day over the last `window_days` working
    days, and over the last working day, both below `factor` (0.5) times
    the rate it still needs to reach its target. Requiring both windows is
    what multi-window burn-rate alerts do: the long window alone would keep
    firing days after a recovery, the short one alone on any quiet day.
    Only for sum metrics (a rate of a ratio means nothing), after
    min_elapsed and once the period has had `window_days` working days.
    A key that is behind is not told it is also losing momentum (the
    behind alert says what it needs a day). Run rates move only at day
    boundaries, which the alerter evaluates
    every key at; so this rule has no crossing time of its own. */

#include "projections/rules.h"

#include <stdio.h>

static rule_verdict_t
eval(const tprog_t *p, const rule_params_t *rp, bool active)
{
    if (!p->summable || !p->has_rates || !p->started || p->ended || !p->has_required_rate ||
        p->required_rate <= 0 || p->elapsed < rp->min_elapsed ||
        p->elapsed * p->working_total < rp->window_days || p->actual >= p->target)
        return RULE_CLEAR;
    double need = p->required_rate;
    if (p->rate_window < rp->factor * need && p->rate_1d < rp->factor * need)
        return RULE_FIRE;
    double back = (rp->factor + rp->margin) * need;
    if (active && p->rate_window < back && p->rate_1d < back)
        return RULE_KEEP;
    return RULE_CLEAR;
}

static int64_t
next_change(projection_t *proj, const tprog_t *p, const rule_params_t *rp, bool active, int64_t now)
{
    return INT64_MAX;
}

static void
explain(const tprog_t *p, const rule_params_t *rp, bool resolving, char *out, size_t outlen)
{
    char subject[700], need[48], win[48], last[48];
    rule_subject(p, subject, sizeof subject);
    rule_amount(p, p->required_rate, need, sizeof need);
    rule_amount(p, p->rate_window, win, sizeof win);
    rule_amount(p, p->rate_1d, last, sizeof last);
    if (resolving)
        snprintf(out, outlen,
                 "%s: momentum back: %s a working day over the last %d, %s on the last; needs %s",
                 subject, win, p->window_days, last, need);
    else
        snprintf(out, outlen,
                 "%s: losing momentum: %s a working day over the last %d and %s on the last, "
                 "under %.0f%% of the %s a working day it needs",
                 subject, win, p->window_days, last, rp->factor * 100, need);
}

const rule_class_t rule_momentum = {.name = "momentum",
                                    .severity = SEVERITY_WARNING,
                                    .factor = 0.5,
                                    .inhibited_by = "behind",
                                    .eval = eval,
                                    .next_change = next_change,
                                    .explain = explain};
