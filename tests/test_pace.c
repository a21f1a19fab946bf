/*  Unit tests for projections/pace: curves, expected-to-date and the
    progress arithmetic, with hand-computed figures. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "projections/pace.h"

static void
s_assert_double(double actual, double expected)
{
    if (actual < expected - 1e-9 || actual > expected + 1e-9)
        fail_msg("expected %.12f, got %.12f", expected, actual);
}

static pace_progress_t
s_progress(pace_input_t input)
{
    pace_config_t config;
    pace_config_defaults(&config);
    pace_progress_t progress;
    char err[256] = "";
    if (pace_progress(&input, &config, &progress, err, sizeof err) != 0)
        fail_msg("pace_progress: %s", err);
    return progress;
}

static void
test_linear_and_working_curves(void **state)
{
    (void)state;
    pace_curve_t used = PACE_CURVE_PROFILE;
    pace_clock_t clock = {
        .days_elapsed = 10.0, .days_total = 30.0, .working_elapsed = 9.0, .working_total = 18.0};
    s_assert_double(pace_fraction(PACE_CURVE_LINEAR, &clock, &used), 1.0 / 3.0);
    assert_int_equal(used, PACE_CURVE_LINEAR);
    s_assert_double(pace_fraction(PACE_CURVE_WORKING, &clock, &used), 0.5);
    assert_int_equal(used, PACE_CURVE_WORKING);
    //  No profile: working days.
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &clock, &used), 0.5);
    assert_int_equal(used, PACE_CURVE_WORKING);

    //  A week of holidays has no working day: fall back to calendar days.
    pace_clock_t holiday = {.days_elapsed = 3.5, .days_total = 7.0};
    s_assert_double(pace_fraction(PACE_CURVE_WORKING, &holiday, &used), 0.5);
    assert_int_equal(used, PACE_CURVE_LINEAR);
    //  Out-of-range inputs are clamped into [0, 1].
    pace_clock_t late = {.days_elapsed = 40.0, .days_total = 30.0};
    s_assert_double(pace_fraction(PACE_CURVE_LINEAR, &late, NULL), 1.0);
    pace_clock_t early = {.days_elapsed = -1.0, .days_total = 30.0};
    s_assert_double(pace_fraction(PACE_CURVE_LINEAR, &early, NULL), 0.0);
    pace_clock_t empty = {0};
    s_assert_double(pace_fraction(PACE_CURVE_LINEAR, &empty, NULL), 1.0);
}

static void
test_profile_curve(void **state)
{
    (void)state;
    pace_curve_t used = PACE_CURVE_LINEAR;
    const double weights[] = {1, 2, 3, 4};
    pace_clock_t clock = {.days_elapsed = 2.5,
                          .days_total = 4,
                          .working_elapsed = 2.5,
                          .working_total = 4,
                          .profile = weights,
                          .profile_days = 4};
    //  (1 + 2 + 3 x 0.5) / 10
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &clock, &used), 0.45);
    assert_int_equal(used, PACE_CURVE_PROFILE);
    clock.days_elapsed = 0.0;
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &clock, NULL), 0.0);
    clock.days_elapsed = 3.0;
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &clock, NULL), 0.6);
    clock.days_elapsed = 4.0;
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &clock, NULL), 1.0);
    clock.days_elapsed = 9.0;
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &clock, NULL), 1.0);

    //  Refund days and NaN weigh nothing.
    const double refunds[] = {-5, 5, NAN, 5};
    pace_clock_t net = {
        .days_elapsed = 1.0, .days_total = 4, .profile = refunds, .profile_days = 4};
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &net, &used), 0.0);
    assert_int_equal(used, PACE_CURVE_PROFILE);
    net.days_elapsed = 2.0;
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &net, NULL), 0.5);
    net.days_elapsed = 3.0;
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &net, NULL), 0.5);

    //  A profile that sums to zero falls back to working days.
    const double zeros[] = {0, 0, -1};
    pace_clock_t flat = {.days_elapsed = 1.5,
                         .days_total = 3,
                         .working_elapsed = 1.0,
                         .working_total = 2.0,
                         .profile = zeros,
                         .profile_days = 3};
    s_assert_double(pace_fraction(PACE_CURVE_PROFILE, &flat, &used), 0.5);
    assert_int_equal(used, PACE_CURVE_WORKING);
}

static void
test_expected(void **state)
{
    (void)state;
    assert_int_equal(pace_expected(1000, 0.45), 450);
    assert_int_equal(pace_expected(1000, 1.0 / 3.0), 333);
    assert_int_equal(pace_expected(1000, 2.0 / 3.0), 667);
    assert_int_equal(pace_expected(1000, 0.0), 0);
    assert_int_equal(pace_expected(1000, -0.5), 0);
    assert_int_equal(pace_expected(1000, NAN), 0);
    assert_int_equal(pace_expected(1000, 1.5), 1000);
    assert_int_equal(pace_expected(0, 0.5), 0);
    assert_int_equal(pace_expected(INT64_MAX, 1.0), INT64_MAX);
    const int64_t near_max = pace_expected(INT64_MAX, 0.9999999999999999);
    assert_true(near_max > 0 && near_max <= INT64_MAX);
    assert_int_equal(pace_expected(INT64_MAX / 1000, 0.5), 4611686018427388);
}

static void
test_progress_hand_computed(void **state)
{
    (void)state;
    //  Half way through with 10 working days left, 400k of a 1M target.
    pace_input_t input = {.actual = 400000,
                          .floor = 800000,
                          .target = 1000000,
                          .stretch = 1200000,
                          .expected = 500000,
                          .fraction = 0.5,
                          .remaining_working_days = 10.0};
    pace_progress_t progress = s_progress(input);
    assert_true(progress.has_attainment);
    s_assert_double(progress.attainment, 0.4);
    assert_true(progress.has_pace);
    s_assert_double(progress.pace_ratio, 0.8);
    assert_int_equal(progress.gap, 100000);
    assert_int_equal(progress.remaining, 600000);
    assert_true(progress.has_required_rate);
    s_assert_double(progress.required_rate, 60000.0);
    assert_true(progress.has_forecast);
    assert_int_equal(progress.forecast, 800000);
    assert_int_equal(progress.tier, PACE_TIER_NONE);
    assert_int_equal(progress.status, PACE_AT_RISK); //  0.8 is at risk, not behind

    //  The status is decided on the pace ratio rounded to 4 decimals, half
    //  away from zero, exactly (399,975 / 500,000 is a binary 0.7999499...)
    input.actual = 399974; //  0.799948: 0.7999
    progress = s_progress(input);
    assert_int_equal(progress.status, PACE_BEHIND);
    assert_true(progress.pace_ratio == 0.7999);
    input.actual = 399975; //  0.79995: 0.8000
    progress = s_progress(input);
    assert_int_equal(progress.status, PACE_AT_RISK);
    assert_true(progress.pace_ratio == 0.8);
    input.actual = 474974; //  0.949948
    assert_int_equal(s_progress(input).status, PACE_AT_RISK);
    input.actual = 474975; //  0.94995: shown and decided as 0.95
    assert_int_equal(s_progress(input).status, PACE_ON_TRACK);
    //  negative actuals round away from zero too, and attainment likewise
    input.actual = -1;
    progress = s_progress(input);
    assert_true(progress.pace_ratio == 0.0 && progress.attainment == 0.0);
    input.actual = -50;
    assert_true(s_progress(input).attainment == -0.0001);
    input.actual = 324999; //  attainment 0.324999: 0.325
    assert_true(s_progress(input).attainment == 0.325);

    input.actual = 850000;
    progress = s_progress(input);
    assert_int_equal(progress.tier, PACE_TIER_FLOOR);
    assert_int_equal(progress.status, PACE_ON_TRACK);
    assert_int_equal(progress.gap, -350000);
    assert_int_equal(progress.forecast, 1700000);

    input.actual = 1000000;
    progress = s_progress(input);
    assert_int_equal(progress.tier, PACE_TIER_TARGET);
    assert_int_equal(progress.status, PACE_ACHIEVED);
    assert_int_equal(progress.remaining, 0);
    assert_true(progress.has_required_rate);
    s_assert_double(progress.required_rate, 0.0);

    input.actual = 1250000;
    progress = s_progress(input);
    assert_int_equal(progress.tier, PACE_TIER_STRETCH);
    assert_int_equal(progress.status, PACE_STRETCH_ACHIEVED);
    s_assert_double(progress.attainment, 1.25);

    //  Refunds can make the actual negative.
    input.actual = -20000;
    progress = s_progress(input);
    assert_int_equal(progress.status, PACE_BEHIND);
    assert_int_equal(progress.remaining, 1020000);
    assert_int_equal(progress.forecast, -40000);
}

static void
test_progress_without_tiers_or_time(void **state)
{
    (void)state;
    //  Start of the period: nothing expected, no rate to project.
    pace_input_t input = {
        .actual = 0, .target = 100, .fraction = 0.0, .remaining_working_days = 20};
    pace_progress_t progress = s_progress(input);
    assert_false(progress.has_pace);
    assert_false(progress.has_forecast);
    assert_int_equal(progress.forecast, 0);
    assert_int_equal(progress.status, PACE_ON_TRACK);
    assert_int_equal(progress.tier, PACE_TIER_NONE);
    s_assert_double(progress.required_rate, 5.0);
    input.actual = 30; //  an early sale: forecast stays the actual
    progress = s_progress(input);
    assert_false(progress.has_forecast);
    assert_int_equal(progress.forecast, 30);

    //  A target of 0 (a child allocated nothing) is met by any actual >= 0.
    pace_input_t zero = {.actual = 0, .target = 0, .expected = 0, .fraction = 0.5};
    progress = s_progress(zero);
    assert_false(progress.has_attainment);
    assert_false(progress.has_pace);
    assert_int_equal(progress.tier, PACE_TIER_TARGET);
    assert_int_equal(progress.status, PACE_ACHIEVED);
    assert_int_equal(progress.remaining, 0);
    zero.actual = -5;
    progress = s_progress(zero);
    assert_int_equal(progress.status, PACE_ON_TRACK);
    assert_int_equal(progress.tier, PACE_TIER_NONE);

    //  Period over, target missed: no working day left to catch up.
    pace_input_t over = {
        .actual = 90, .target = 100, .expected = 100, .fraction = 1.0, .remaining_working_days = 0};
    progress = s_progress(over);
    assert_false(progress.has_required_rate);
    assert_int_equal(progress.remaining, 10);
    assert_int_equal(progress.forecast, 90);
    assert_int_equal(progress.status, PACE_AT_RISK); //  90 of 100: 0.9
}

static void
test_progress_saturates(void **state)
{
    (void)state;
    pace_input_t input = {.actual = INT64_MIN,
                          .target = INT64_MAX,
                          .expected = INT64_MAX,
                          .fraction = 0.5,
                          .remaining_working_days = 1};
    pace_progress_t progress = s_progress(input);
    assert_int_equal(progress.gap, INT64_MAX);
    assert_int_equal(progress.remaining, INT64_MAX);
    assert_int_equal(progress.forecast, INT64_MIN);
    assert_int_equal(progress.status, PACE_BEHIND);
    input.actual = INT64_MAX - 1;
    input.fraction = 0.1;
    progress = s_progress(input);
    assert_int_equal(progress.forecast, INT64_MAX);
    assert_int_equal(progress.gap, 1);
    assert_int_equal(progress.remaining, 1);
}

static void
test_custom_thresholds(void **state)
{
    (void)state;
    pace_config_t config = {.on_track = 0.9, .at_risk = 0.5};
    pace_input_t input = {
        .actual = 60, .target = 200, .expected = 100, .fraction = 0.5, .remaining_working_days = 7};
    pace_progress_t progress;
    assert_int_equal(pace_progress(&input, &config, &progress, NULL, 0), 0);
    assert_int_equal(progress.status, PACE_AT_RISK);
    input.actual = 90;
    assert_int_equal(pace_progress(&input, &config, &progress, NULL, 0), 0);
    assert_int_equal(progress.status, PACE_ON_TRACK);
    input.actual = 49;
    assert_int_equal(pace_progress(&input, &config, &progress, NULL, 0), 0);
    assert_int_equal(progress.status, PACE_BEHIND);
}

static void
test_progress_rejects_bad_input(void **state)
{
    (void)state;
    pace_config_t defaults;
    pace_config_defaults(&defaults);
    s_assert_double(defaults.on_track, 0.95);
    s_assert_double(defaults.at_risk, 0.80);
    const pace_input_t good = {
        .actual = 1, .floor = 5, .target = 10, .stretch = 20, .expected = 5, .fraction = 0.5};
    struct {
        pace_input_t input;
        pace_config_t config;
        const char *message;
    } cases[] = {
        {good, {0.95, 0.80}, NULL},
        {good,
         {0.80, 0.95},
         "thresholds at_risk 0.95, on_track 0.8: need 0 <= at_risk <= on_track"},
        {good, {0.95, NAN}, "thresholds at_risk nan, on_track 0.95: need 0 <= at_risk <= on_track"},
    };
    char err[256];
    pace_progress_t progress;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        const int rc = pace_progress(&cases[i].input, &cases[i].config, &progress, err, sizeof err);
        if (!cases[i].message)
            assert_int_equal(rc, 0);
        else {
            assert_int_equal(rc, EINVAL);
            assert_string_equal(err, cases[i].message);
        }
    }
    pace_input_t bad = good;
    bad.target = -1;
    bad.floor = 0;
    bad.stretch = 0;
    assert_int_equal(pace_progress(&bad, &defaults, &progress, err, sizeof err), EINVAL);
    assert_string_equal(err, "target -1: must not be negative");
    bad = good;
    bad.floor = 11;
    assert_int_equal(pace_progress(&bad, &defaults, &progress, err, sizeof err), EINVAL);
    assert_string_equal(err, "floor 11: must be 0..target (10)");
    bad = good;
    bad.stretch = 9;
    assert_int_equal(pace_progress(&bad, &defaults, &progress, err, sizeof err), EINVAL);
    assert_string_equal(err, "stretch 9: must be 0 (none) or at least target (10)");
    bad = good;
    bad.expected = -1;
    assert_int_equal(pace_progress(&bad, &defaults, &progress, err, sizeof err), EINVAL);
    assert_string_equal(err, "expected -1: must not be negative");
    bad = good;
    bad.fraction = 1.5;
    assert_int_equal(pace_progress(&bad, &defaults, &progress, err, sizeof err), EINVAL);
    assert_string_equal(err, "fraction 1.5: must be 0..1");
    bad.fraction = NAN;
    assert_int_equal(pace_progress(&bad, &defaults, &progress, err, sizeof err), EINVAL);
    bad = good;
    bad.remaining_working_days = -1;
    assert_int_equal(pace_progress(&bad, &defaults, &progress, err, sizeof err), EINVAL);
    assert_string_equal(err, "remaining working days -1: must be 0 or more");
    assert_int_equal(pace_progress(&bad, &defaults, &progress, NULL, 0), EINVAL);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(pace_status_name(PACE_ON_TRACK), "on_track");
    assert_string_equal(pace_status_name(PACE_AT_RISK), "at_risk");
    assert_string_equal(pace_status_name(PACE_BEHIND), "behind");
    assert_string_equal(pace_status_name(PACE_ACHIEVED), "achieved");
    assert_string_equal(pace_status_name(PACE_STRETCH_ACHIEVED), "stretch_achieved");
    assert_string_equal(pace_tier_name(PACE_TIER_FLOOR), "floor");
    assert_string_equal(pace_tier_name(PACE_TIER_STRETCH), "stretch");
    assert_string_equal(pace_curve_name(PACE_CURVE_PROFILE), "profile");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_and_working_curves),
        cmocka_unit_test(test_profile_curve),
        cmocka_unit_test(test_expected),
        cmocka_unit_test(test_progress_hand_computed),
        cmocka_unit_test(test_progress_without_tiers_or_time),
        cmocka_unit_test(test_progress_saturates),
        cmocka_unit_test(test_custom_thresholds),
        cmocka_unit_test(test_progress_rejects_bad_input),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
