/*  period: the `period` and `date` strings of events (docs/EVENTS.md).

    An event names a period by a string: "2026" (year), "2026-Q4", "2026-11"
    (month), "2026-W47" (ISO week), "2026-11-22" (day), "FY2026",
    "FY2026-Q1", "FY2026-M01" (fiscal year, quarter, month; a fiscal year is
    named after the calendar year it ends in). A `date` is "YYYY-MM-DD".
    These checks are syntax and calendar facts only: the year is 1970 or
    later (four digits, so at most 9999), the month, day, quarter or week
    exists (2027-W53 does not, 2026-02-29 does not); letters are upper case.
    Where a period falls on the time line depends on the daemon's zone and
    fiscal year and is the calendar's business (projections/calendar.h,
    whose parser also takes lower case and the years 1900..1969 for
    queries). Nothing here allocates. */

#ifndef PACER_EVENTS_PERIOD_H
#define PACER_EVENTS_PERIOD_H

#include <stdbool.h>
#include <stddef.h>

/* True if the len bytes at s are a period name as above. Otherwise false,
   with *why set to a static reason for a message ("quarter must be
   Q1..Q4", "that year has 52 ISO weeks"). */
bool ev_period_valid(const char *s, size_t len, const char **why);

/* True if the len bytes at s are a real date YYYY-MM-DD from 1970 on.
   Otherwise false, with *why set to a static reason ("expected
   YYYY-MM-DD", "year before 1970", "month must be 01..12", "no such day in
   that month"). */
bool ev_date_valid(const char *s, size_t len, const char **why);

#endif
