/*  rule_achieved: target and stretch reached, once per key each.

    Good news is news: the owner hears it once, when the actual first
    reaches the tier. A later refund that takes it back under does not
    raise it again (these rules never resolve). */

#include "projections/rules.h"

#include <stdio.h>

static rule_verdict_t
achieved_eval(const tprog_t *p, const rule_params_t *rp, bool active)
{
    return p->target > 0 && p->actual >= p->target ? RULE_FIRE : RULE_CLEAR;
}

static rule_verdict_t
stretch_eval(const tprog_t *p, const rule_params_t *rp, bool active)
{
    return (p->mask & 4) && p->stretch > 0 && p->actual >= p->stretch ? RULE_FIRE : RULE_CLEAR;
}

static int64_t
never(projection_t *proj, const tprog_t *p, const rule_params_t *rp, bool active, int64_t now)
{
    return INT64_MAX;
}

static void
explain(const tprog_t *p, bool stretch, char *out, size_t outlen)
{
    char subject[700], act[48], tier[48];
    rule_subject(p, subject, sizeof subject);
    rule_amount(p, (double)p->actual, act, sizeof act);
    rule_amount(p, (double)(stretch ? p->stretch : p->target), tier, sizeof tier);
    snprintf(out, outlen, "%s: %s achieved: %s against %s, with %.0f%% of working days gone",
             subject, stretch ? "stretch" : "target", act, tier, p->elapsed * 100);
}

static void
achieved_explain(const tprog_t *p, const rule_params_t *rp, bool resolving, char *out,
                 size_t outlen)
{
    explain(p, false, out, outlen);
}

static void
stretch_explain(const tprog_t *p, const rule_params_t *rp, bool resolving, char *out, size_t outlen)
{
    explain(p, true, out, outlen);
}

const rule_class_t rule_achieved = {.name = "achieved",
                                    .severity = SEVERITY_INFO,
                                    .once = true,
                                    .eval = achieved_eval,
                                    .next_change = never,
                                    .explain = achieved_explain};

const rule_class_t rule_stretch_achieved = {.name = "stretch_achieved",
                                            .severity = SEVERITY_INFO,
                                            .once = true,
                                            .eval = stretch_eval,
                                            .next_change = never,
                                            .explain = stretch_explain};
