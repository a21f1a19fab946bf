/* rules: each lag rule's verdict at its thresholds, with and without an
   active alert (hysteresis), and its sentence. The rules are pure
   functions of a key's progress, so the progress is written here by hand. */
#include "projections/rules.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static const rule_class_t *
rule(const char *name)
{
    for (int i = 0; RULES[i]; i++)
        if (strcmp(RULES[i]->name, name) == 0)
            return RULES[i];
    fail_msg("no rule %s", name);
    return NULL;
}

static rule_params_t
params(const rule_class_t *r)
{
    rule_params_t rp = {.enabled = 1,
                        .min_elapsed = RULE_MIN_ELAPSED_DEFAULT,
                        .margin = RULE_MARGIN_DEFAULT,
                        .repeat_hours = RULE_REPEAT_HOURS_DEFAULT,
                        .threshold = r->threshold,
                        .behind = 0.80,
                        .factor = r->factor,
                        .window_days = RULE_WINDOW_DAYS_DEFAULT};
    return rp;
}

/* A revenue key, 1,000,000.00 CNY, half-way through a 20-working-day month,
   at a given pace ratio. */
static tprog_t
key_at(double pace)
{
    tprog_t p;
    memset(&p, 0, sizeof p);
    strcpy(p.scope, "rep-42");
    strcpy(p.path, "acme/east/t3/rep-42");
    strcpy(p.metric, "revenue");
    strcpy(p.period, "2026-11");
    strcpy(p.currency, "CNY");
    p.money = p.summable = true;
    p.started = true;
    p.mask = 7;
    p.floor = 70000000;
    p.target = 100000000;
    p.stretch = 120000000;
    p.elapsed = 0.5;
    p.working_total = 20;
    p.working_left = 10;
    p.expected = 50000000;
    p.actual = (int64_t)(pace * 50000000);
    p.has_pace = p.has_attainment = p.has_required_rate = p.has_forecast = true;
    p.pace_ratio = pace;
    p.attainment = (double)p.actual / 1e8;
    p.required_rate = (double)(p.target - p.actual) / 10;
    p.forecast = (int64_t)((double)p.actual / 0.5);
    p.status = pace < 0.8 ? PACE_BEHIND : pace < 0.95 ? PACE_AT_RISK : PACE_ON_TRACK;
    return p;
}

static void
test_behind_thresholds_and_hysteresis(void **state)
{
    const rule_class_t *r = rule("behind");
    rule_params_t rp = params(r);
    tprog_t p = key_at(0.799);
    assert_int_equal(r->eval(&p, &rp, false), RULE_FIRE);
    p = key_at(0.80);
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    /* active: stays until the ratio is back past 0.83 */
    p = key_at(0.82);
    assert_int_equal(r->eval(&p, &rp, true), RULE_KEEP);
    p = key_at(0.831);
    assert_int_equal(r->eval(&p, &rp, true), RULE_CLEAR);
    /* nothing before min_elapsed, nor after the period, nor once achieved */
    p = key_at(0.5);
    p.elapsed = 0.09;
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    p = key_at(0.5);
    p.ended = true;
    assert_int_equal(r->eval(&p, &rp, true), RULE_CLEAR);
    p = key_at(0.5);
    p.actual = p.target;
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
}

static void
test_at_risk_band(void **state)
{
    const rule_class_t *r = rule("at_risk");
    rule_params_t rp = params(r);
    tprog_t p = key_at(0.90);
    assert_int_equal(r->eval(&p, &rp, false), RULE_FIRE);
    p = key_at(0.95);
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    p = key_at(0.97);
    assert_int_equal(r->eval(&p, &rp, true), RULE_KEEP);
    p = key_at(0.98);
    assert_int_equal(r->eval(&p, &rp, true), RULE_CLEAR);
    /* behind is not at risk: the alert gives way to behind's */
    p = key_at(0.79);
    assert_int_equal(r->eval(&p, &rp, true), RULE_CLEAR);
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
}

static void
test_momentum_needs_both_windows(void **state)
{
    const rule_class_t *r = rule("momentum");
    rule_params_t rp = params(r);
    tprog_t p = key_at(0.9); /* needs 5,500,000 a day */
    p.has_rates = true;
    p.window_days = 7;
    p.rate_window = 0.4 * p.required_rate;
    p.rate_1d = 0.4 * p.required_rate;
    assert_int_equal(r->eval(&p, &rp, false), RULE_FIRE);
    /* a good last day alone keeps it quiet (the short window) */
    p.rate_1d = 0.6 * p.required_rate;
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    /* and a good week alone too (the long window) */
    p.rate_1d = 0.4 * p.required_rate;
    p.rate_window = 0.6 * p.required_rate;
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    /* active, both just over the factor but under factor + margin: kept */
    p.rate_window = p.rate_1d = 0.52 * p.required_rate;
    assert_int_equal(r->eval(&p, &rp, true), RULE_KEEP);
    p.rate_1d = 0.54 * p.required_rate;
    assert_int_equal(r->eval(&p, &rp, true), RULE_CLEAR);
    /* no rates for a ratio metric */
    p.summable = false;
    p.rate_window = p.rate_1d = 0;
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    assert_string_equal(r->inhibited_by, "behind");
}

static void
test_forecast_floor(void **state)
{
    const rule_class_t *r = rule("forecast_floor");
    rule_params_t rp = params(r);
    tprog_t p = key_at(0.69); /* forecast 69,000,000 < floor 70,000,000 */
    assert_int_equal(r->eval(&p, &rp, false), RULE_FIRE);
    p = key_at(0.71);
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    assert_int_equal(r->eval(&p, &rp, true), RULE_KEEP); /* under 70M x 1.03 */
    p = key_at(0.73);
    assert_int_equal(r->eval(&p, &rp, true), RULE_CLEAR);
    p = key_at(0.5);
    p.mask = 2; /* no floor */
    assert_int_equal(r->eval(&p, &rp, false), RULE_CLEAR);
    assert_true(r->notify_parent);
}

static void
test_achieved_tiers(void **state)
{
    const rule_class_t *a = rule("achieved"), *s = rule("stretch_achieved");
    rule_params_t rp = params(a);
    tprog_t p = key_at(1.0);
    p.actual = 99999999;
    assert_int_equal(a->eval(&p, &rp, false), RULE_CLEAR);
    p.actual = 100000000;
    assert_int_equal(a->eval(&p, &rp, false), RULE_FIRE);
    assert_int_equal(s->eval(&p, &rp, false), RULE_CLEAR);
    p.actual = 120000000;
    assert_int_equal(s->eval(&p, &rp, false), RULE_FIRE);
    assert_true(a->once && s->once);
}

static void
test_sentences_have_the_numbers(void **state)
{
    const rule_class_t *r = rule("behind");
    rule_params_t rp = params(r);
    tprog_t p = key_at(0.65);
    p.has_rates = true;
    p.window_days = 7;
    p.rate_window = 910000;
    char out[1024];
    r->explain(&p, &rp, false, out, sizeof out);
    assert_string_equal(out, "acme/east/t3/rep-42 revenue 2026-11: 32% of target with 50% of "
                             "working days gone (pace 0.65, behind); needs 67,500.00 CNY a "
                             "working day, averaged 9,100.00 CNY over the last 7");
    r->explain(&p, &rp, true, out, sizeof out);
    assert_non_null(strstr(out, "back to"));
    r = rule("forecast_floor");
    r->explain(&p, &rp, false, out, sizeof out);
    assert_string_equal(out, "acme/east/t3/rep-42 revenue 2026-11: forecast 650,000.00 CNY is "
                             "under the floor of 700,000.00 CNY, with 50% of working days gone");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_behind_thresholds_and_hysteresis),
        cmocka_unit_test(test_at_risk_band),
        cmocka_unit_test(test_momentum_needs_both_windows),
        cmocka_unit_test(test_forecast_floor),
        cmocka_unit_test(test_achieved_tiers),
        cmocka_unit_test(test_sentences_have_the_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
