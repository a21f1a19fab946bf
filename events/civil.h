/*  civil: dates of the proleptic Gregorian calendar as day numbers.

    The one implementation of date arithmetic in pacer: the schema's date and
    period checks (events/period.c), the working-day calendar
    (projections/calendar.c) and the CLI's TIME arguments (clients/cli_time.c)
    all count days here. A day number is the count of days since 1970-01-01
    (day 0, a Thursday), negative before it; there is no time zone in this
    module, a day number is a date and nothing more.

    The conversions are H. Hinnant's "chrono-compatible low-level date
    algorithms" with floor division, exact for every year from
    CIVIL_YEAR_MIN to CIVIL_YEAR_MAX (negative years included: year 0 is
    1 BC, and leap). Callers narrow that to their own documented ranges
    (a `date` in an event: 1970..9999; a calendar period: 1900..9999; the
    projection's last countable day: 2687-09-20). Nothing here fails and
    nothing allocates: outside the stated domain a result is unspecified,
    which is why each function says what it accepts. */

#ifndef PACER_EVENTS_CIVIL_H
#define PACER_EVENTS_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* The years every function here is exact for: a trillion either way, which
   covers every int year and every int64 millisecond instant (about 292
   million years), with no intermediate value near int64's limits. */
#define CIVIL_YEAR_MIN INT64_C(-1000000000000)
#define CIVIL_YEAR_MAX INT64_C(1000000000000)

/* True if year is a leap year: divisible by 4, and by 400 if by 100. */
bool civil_is_leap(int64_t year);

/* Days in month (1..12) of year: 28..31; 0 for a month outside 1..12. */
int civil_days_in_month(int64_t year, int month);

/* True if month is 1..12 and day is 1..civil_days_in_month. */
bool civil_valid(int64_t year, int month, int day);

/* The day number of a valid date (1970-01-01 is 0). The date must be
   civil_valid and its year within CIVIL_YEAR_MIN..CIVIL_YEAR_MAX. */
int64_t civil_to_days(int64_t year, int month, int day);

/* The date of a day number, the inverse of civil_to_days, for any day of
   the years CIVIL_YEAR_MIN..CIVIL_YEAR_MAX. */
void civil_from_days(int64_t days, int64_t *year, int *month, int *day);

/* ISO 8601 weekday of a day number: 1 Monday .. 7 Sunday. Any int64 day. */
int civil_weekday(int64_t days);

/* The day number of the Monday that starts ISO week 1 of year: the week
   that holds January 4 (so 2026-W01 starts on 2025-12-29). */
int64_t civil_iso_week1_monday(int64_t year);

/* Number of ISO weeks in year: 53 when it starts on a Thursday, or on a
   Wednesday in a leap year; 52 otherwise. */
int civil_iso_weeks(int64_t year);

#endif
