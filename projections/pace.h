/*  =========================================================================
    pace - the pace curve and progress arithmetic for one target

    Pure functions over numbers: no calendar, no clock, no allocation. The
    caller measures how far into the period "now" is (calendar_days_elapsed,
    calendar_working_elapsed, and the totals for the whole period), pace
    turns that into the fraction of the target that should be done by now,
    and from the actual figure and the three tiers it derives everything a
    progress report shows.

    Curves. LINEAR: calendar days, each day worth the same. WORKING: only
    working days count, so the expected figure stands still over weekends
    and holidays. PROFILE: each calendar day of the period carries a weight
    (typically last year's daily actuals for the same period), and the
    expected figure follows their running sum. A curve that cannot be
    evaluated falls back, and says so: a profile with no positive weight
    falls back to WORKING, a period with no working day to LINEAR. A
    profile's negative or NaN weights count as zero, so a day of refunds
    last year never makes the expected figure go down.

    Units: money and counts are int64 (minor units); ratios, rates and
    fractions are double. A ratio that would divide by zero is not returned
    as NaN or infinity but flagged as absent (has_attainment, has_pace,
    has_required_rate, has_forecast).

    Rounding: attainment and pace ratio, quotients of two integers, are
    rounded in exact integer arithmetic to PACE_RATIO_DECIMALS decimal
    places (half away from zero: 399,975 / 500,000 is 0.8000), the
    required rate to PACE_RATE_DECIMALS, and the status is decided on the
    rounded pace ratio. What a report shows, what a client reads on the
    wire and what decided the status are then one number: 0.6499999685 is
    0.65, and a pace ratio shown as 0.95 is on track.

    Tiers. floor <= target <= stretch; a floor or stretch of 0 means the
    target has no such tier. A target of 0 is met by any actual >= 0.

    Status, first match wins:
        stretch_achieved  stretch set and actual >= stretch
        achieved          actual >= target
        on_track          nothing is expected yet (expected == 0), or
                          pace ratio >= config.on_track (default 0.95)
        at_risk           pace ratio >= config.at_risk (default 0.80)
        behind            otherwise
    The defaults allow a 5% wobble before warning, and call a gap of 20%
    of what was expected by now a real lag.

    Errors: errno values, as calendar's. pace_progress is the one function
    that can fail: 0, or EINVAL with a message in err naming the field
    that is out of range. Everything else is total (a curve that cannot be
    evaluated falls back and says so in *used); pace_ratio's den > 0 is
    the caller's promise (asserted), not a runtime check.
    =========================================================================
*/

#ifndef PACER_PACE_H
#define PACER_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { PACE_CURVE_LINEAR, PACE_CURVE_WORKING, PACE_CURVE_PROFILE } pace_curve_t;

//  Where "now" stands in the period, in the units each curve needs.
typedef struct {
    double days_elapsed;    //  calendar_days_elapsed
    double days_total;      //  calendar_days over the period
    double working_elapsed; //  calendar_working_elapsed
    double working_total;   //  calendar_working_days over the period
    const double *profile;  //  one weight per calendar day of the period, or NULL
    size_t profile_days;    //  entries in profile; days past the end weigh 0
} pace_clock_t;

typedef struct {
    double on_track; //  pace ratio at or above this is on track
    double at_risk;  //  pace ratio at or above this (and below on_track) is at risk
} pace_config_t;

#define PACE_RATIO_DECIMALS 4
#define PACE_RATE_DECIMALS  2

//  value rounded to `decimals` places, half away from zero: the double
//  nearest to that decimal (0.65, not 0.6499999685). Values too large to
//  carry that many decimals are returned as they are.
double pace_round(double value, int decimals);

//  num / den rounded exactly to PACE_RATIO_DECIMALS places, half away from
//  zero, as the double nearest to that decimal. den must be positive.
double pace_ratio(int64_t num, int64_t den);

#define PACE_ON_TRACK_DEFAULT 0.95
#define PACE_AT_RISK_DEFAULT  0.80

typedef enum { PACE_TIER_NONE, PACE_TIER_FLOOR, PACE_TIER_TARGET, PACE_TIER_STRETCH } pace_tier_t;

typedef enum {
    PACE_ON_TRACK,
    PACE_AT_RISK,
    PACE_BEHIND,
    PACE_ACHIEVED,
    PACE_STRETCH_ACHIEVED
} pace_status_t;

typedef struct {
    int64_t actual;                //  may be negative (refunds exceed sales)
    int64_t floor;                 //  0: no floor
    int64_t target;                //  >= 0
    int64_t stretch;               //  0: no stretch
    int64_t expected;              //  pace_expected (target, fraction)
    double fraction;               //  pace_fraction, 0..1
    double remaining_working_days; //  working days left in the period, >= 0
} pace_input_t;

typedef struct {
    bool has_attainment;    //  false when target == 0
    double attainment;      //  actual / target
    bool has_pace;          //  false when expected == 0
    double pace_ratio;      //  actual / expected
    int64_t gap;            //  expected - actual; positive means behind pace
    int64_t remaining;      //  target - actual, at least 0
    bool has_required_rate; //  false when something remains but no working day does
    double required_rate;   //  remaining per remaining working day
    bool has_forecast;      //  false before any of the curve has elapsed
    int64_t forecast;       //  actual / fraction; actual itself when !has_forecast
    pace_tier_t tier;       //  highest tier reached
    pace_status_t status;
} pace_progress_t;

//  Fraction of the period's target expected by now under `curve`, in
//  [0, 1]. *used (may be NULL) gets the curve actually evaluated after
//  fallbacks. An empty period (days_total <= 0) counts as complete.
double pace_fraction(pace_curve_t curve, const pace_clock_t *clock, pace_curve_t *used);

//  target x fraction, rounded to the nearest unit; 0 at fraction <= 0
//  (or NaN), target at fraction >= 1.
int64_t pace_expected(int64_t target, double fraction);

//  Fill *config with the default thresholds. Cannot fail.
void pace_config_defaults(pace_config_t *config);

//  Derive progress from *input. EINVAL if target or expected is negative,
//  floor is negative or above target, stretch is nonzero and below target,
//  fraction is outside [0, 1], remaining_working_days is negative or NaN,
//  or the config thresholds are not 0 <= at_risk <= on_track.
int pace_progress(const pace_input_t *input, const pace_config_t *config, pace_progress_t *out,
                  char *err, size_t errlen);

//  Lower-case names for messages and the wire: "on_track", "stretch"; the
//  one place each enum becomes a word; "unknown" for a value outside it.
const char *pace_status_name(pace_status_t status);
const char *pace_tier_name(pace_tier_t tier);
const char *pace_curve_name(pace_curve_t curve);

#endif
