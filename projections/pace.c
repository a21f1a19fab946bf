/*  =========================================================================
    pace - the pace curve and progress arithmetic for one target

    Everything here is arithmetic on values the caller passes in, so the
    same inputs give the same progress on every replay. Int64 differences
    saturate instead of overflowing (an actual near INT64_MIN after a
    runaway refund must not turn a gap positive), and every division checks
    its divisor first; see pace.h for the conventions.
    =========================================================================
*/

#include "projections/pace.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static void s_error(char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_error(char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}

static int64_t
s_saturating_sub(int64_t a, int64_t b)
{
    int64_t difference;
    if (!__builtin_sub_overflow(a, b, &difference))
        return difference;
    return b < 0 ? INT64_MAX : INT64_MIN;
}

//  Round a double to int64, clamping where the int64 range ends (2^63 is
//  the first double past INT64_MAX).
static int64_t
s_round_saturating(double value)
{
    if (value >= 9223372036854775808.0)
        return INT64_MAX;
    if (value <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)llround(value);
}

static double
s_clamp_unit(double value)
{
    if (!(value > 0.0)) //  also NaN
        return 0.0;
    return value < 1.0 ? value : 1.0;
}

static double
s_profile_weight(double weight)
{
    return weight > 0.0 ? weight : 0.0; //  negative and NaN weigh nothing
}

//  Share of the profile's total weight on days [0, elapsed), the day in
//  progress counted by its elapsed part; -1 if the profile has no weight.
static double
s_profile_fraction(const pace_clock_t *clock)
{
    if (!clock->profile || clock->profile_days == 0)
        return -1.0;
    double total = 0.0;
    for (size_t day = 0; day < clock->profile_days; day++)
        total += s_profile_weight(clock->profile[day]);
    if (!(total > 0.0))
        return -1.0;
    const double elapsed = clock->days_elapsed > 0.0 ? clock->days_elapsed : 0.0;
    double done = 0.0;
    size_t day = 0;
    for (; day < clock->profile_days && (double)(day + 1) <= elapsed; day++)
        done += s_profile_weight(clock->profile[day]);
    if (day < clock->profile_days)
        done += s_profile_weight(clock->profile[day]) * (elapsed - (double)day);
    return s_clamp_unit(done / total);
}

double
pace_fraction(pace_curve_t curve, const pace_clock_t *clock, pace_curve_t *used)
{
    assert(clock);
    if (curve == PACE_CURVE_PROFILE) {
        const double fraction = s_profile_fraction(clock);
        if (fraction >= 0.0) {
            if (used)
                *used = PACE_CURVE_PROFILE;
            return fraction;
        }
        curve = PACE_CURVE_WORKING;
    }
    if (curve == PACE_CURVE_WORKING && clock->working_total > 0.0) {
        if (used)
            *used = PACE_CURVE_WORKING;
        return s_clamp_unit(clock->working_elapsed / clock->working_total);
    }
    if (used)
        *used = PACE_CURVE_LINEAR;
    if (!(clock->days_total > 0.0))
        return 1.0;
    return s_clamp_unit(clock->days_elapsed / clock->days_total);
}

int64_t
pace_expected(int64_t target, double fraction)
{
    if (!(fraction > 0.0))
        return 0;
    if (fraction >= 1.0)
        return target;
    const int64_t expected = s_round_saturating((double)target * fraction);
    //  Rounding through a double must not carry the figure past the target.
    if (target >= 0)
        return expected < 0 ? 0 : expected > target ? target : expected;
    return expected > 0 ? 0 : expected < target ? target : expected;
}

double
pace_round(double value, int decimals)
{
    assert(decimals >= 0 && decimals <= 9);
    double scale = 1.0;
    for (int i = 0; i < decimals; i++)
        scale *= 10.0;
    double scaled = value * scale;
    if (!isfinite(scaled) || fabs(scaled) >= 4503599627370496.0) //  2^52: no fraction left
        return value;
    return round(scaled) / scale;
}

double
pace_ratio(int64_t num, int64_t den)
{
    assert(den > 0);
    __extension__ typedef __int128 i128_t;
    i128_t scaled = (i128_t)num * 10000; //  10^PACE_RATIO_DECIMALS; |num| < 2^63: no overflow
    i128_t q = scaled / den, r = scaled % den;
    if (2 * (r < 0 ? -r : r) >= den)
        q += scaled < 0 ? -1 : 1;
    return (double)q / 10000.0;
}

void
pace_config_defaults(pace_config_t *config)
{
    assert(config);
    config->on_track = PACE_ON_TRACK_DEFAULT;
    config->at_risk = PACE_AT_RISK_DEFAULT;
}

static int
s_input_check(const pace_input_t *in, const pace_config_t *config, char *err, size_t errlen)
{
    if (in->target < 0) {
        s_error(err, errlen, "target %lld: must not be negative", (long long)in->target);
        return EINVAL;
    }
    if (in->floor < 0 || in->floor > in->target) {
        s_error(err, errlen, "floor %lld: must be 0..target (%lld)", (long long)in->floor,
                (long long)in->target);
        return EINVAL;
    }
    if (in->stretch != 0 && in->stretch < in->target) {
        s_error(err, errlen, "stretch %lld: must be 0 (none) or at least target (%lld)",
                (long long)in->stretch, (long long)in->target);
        return EINVAL;
    }
    if (in->expected < 0) {
        s_error(err, errlen, "expected %lld: must not be negative", (long long)in->expected);
        return EINVAL;
    }
    if (!(in->fraction >= 0.0 && in->fraction <= 1.0)) {
        s_error(err, errlen, "fraction %g: must be 0..1", in->fraction);
        return EINVAL;
    }
    if (!(in->remaining_working_days >= 0.0)) {
        s_error(err, errlen, "remaining working days %g: must be 0 or more",
                in->remaining_working_days);
        return EINVAL;
    }
    if (!(config->at_risk >= 0.0 && config->at_risk <= config->on_track)) {
        s_error(err, errlen, "thresholds at_risk %g, on_track %g: need 0 <= at_risk <= on_track",
                config->at_risk, config->on_track);
        return EINVAL;
    }
    return 0;
}

static pace_tier_t
s_tier(const pace_input_t *in)
{
    if (in->stretch > 0 && in->actual >= in->stretch)
        return PACE_TIER_STRETCH;
    if (in->actual >= in->target)
        return PACE_TIER_TARGET;
    if (in->floor > 0 && in->actual >= in->floor)
        return PACE_TIER_FLOOR;
    return PACE_TIER_NONE;
}

static pace_status_t
s_status(const pace_progress_t *progress, const pace_config_t *config)
{
    if (progress->tier == PACE_TIER_STRETCH)
        return PACE_STRETCH_ACHIEVED;
    if (progress->tier == PACE_TIER_TARGET)
        return PACE_ACHIEVED;
    if (!progress->has_pace || progress->pace_ratio >= config->on_track)
        return PACE_ON_TRACK;
    if (progress->pace_ratio >= config->at_risk)
        return PACE_AT_RISK;
    return PACE_BEHIND;
}

int
pace_progress(const pace_input_t *input, const pace_config_t *config, pace_progress_t *out,
              char *err, size_t errlen)
{
    assert(input);
    assert(config);
    assert(out);
    const int rc = s_input_check(input, config, err, errlen);
    if (rc != 0)
        return rc;
    *out = (pace_progress_t){0};
    const double actual = (double)input->actual;

    out->has_attainment = input->target > 0;
    out->attainment = out->has_attainment ? pace_ratio(input->actual, input->target) : 0.0;
    out->has_pace = input->expected > 0;
    out->pace_ratio = out->has_pace ? pace_ratio(input->actual, input->expected) : 0.0;
    out->gap = s_saturating_sub(input->expected, input->actual);
    const int64_t remaining = s_saturating_sub(input->target, input->actual);
    out->remaining = remaining > 0 ? remaining : 0;

    if (out->remaining == 0) {
        out->has_required_rate = true;
        out->required_rate = 0.0;
    } else if (input->remaining_working_days > 0.0) {
        out->has_required_rate = true;
        out->required_rate =
            pace_round((double)out->remaining / input->remaining_working_days, PACE_RATE_DECIMALS);
    }

    //  Run rate: what the period ends at if the rest goes like the part
    //  elapsed. Before any of it has elapsed there is no rate to project;
    //  the actual is the best figure there is.
    out->has_forecast = input->fraction > 0.0;
    out->forecast =
        out->has_forecast ? s_round_saturating(actual / input->fraction) : input->actual;

    out->tier = s_tier(input);
    out->status = s_status(out, config);
    return 0;
}

const char *
pace_status_name(pace_status_t status)
{
    switch (status) {
    case PACE_ON_TRACK:
        return "on_track";
    case PACE_AT_RISK:
        return "at_risk";
    case PACE_BEHIND:
        return "behind";
    case PACE_ACHIEVED:
        return "achieved";
    case PACE_STRETCH_ACHIEVED:
        return "stretch_achieved";
    }
    return "unknown";
}

const char *
pace_tier_name(pace_tier_t tier)
{
    switch (tier) {
    case PACE_TIER_NONE:
        return "none";
    case PACE_TIER_FLOOR:
        return "floor";
    case PACE_TIER_TARGET:
        return "target";
    case PACE_TIER_STRETCH:
        return "stretch";
    }
    return "unknown";
}

const char *
pace_curve_name(pace_curve_t curve)
{
    switch (curve) {
    case PACE_CURVE_LINEAR:
        return "linear";
    case PACE_CURVE_WORKING:
        return "working";
    case PACE_CURVE_PROFILE:
        return "profile";
    }
    return "unknown";
}
