/*  =========================================================================
    calendar - periods and a working-day calendar in one local time zone

    A calendar turns period names ("2026-Q4", "2026-W47", "FY2026-Q1") into
    half-open UTC ranges [start_ms, end_ms), finds the period of a kind that
    contains an instant, steps back n periods, and counts working days. It
    does no I/O beyond the zone check in calendar_new and never reads the
    clock: every instant is passed in as UTC epoch milliseconds.

    Period names (letters are accepted in either case, output is upper case):

        2026            calendar year
        2026-Q4         calendar quarter, Q1..Q4
        2026-11         calendar month, 01..12
        2026-W47        ISO 8601 week: Monday to Sunday, week 01 is the week
                        holding the year's first Thursday, so 2026-W01 starts
                        on Monday 2025-12-29 and a year has 52 or 53 weeks
        2026-11-22      day
        FY2026          fiscal year
        FY2026-Q1       fiscal quarter, Q1 is the first quarter of the year
        FY2026-M01      fiscal month, M01 is the first month of the year

    Fiscal years start on the first day of the configured month and are named
    after the calendar year in which they END (the Apple/Microsoft practice):
    with a fiscal year starting in April, FY2026 runs from 2025-04-01 up to
    2026-04-01 and FY2026-Q4 is 2026-01..2026-03. With January, FY2026 is
    calendar 2026. A fiscal month covers the same days as a calendar month;
    it exists so that reports can say "period 3 of the fiscal year".

    Days are local days in the configured zone. A day starts at the first
    instant the local clock shows that date: normally 00:00, but where a DST
    change skips midnight (America/Santiago, America/Havana) at the change,
    and where midnight happens twice, at the first. So a day lasts 23, 24 or
    25 hours, and every period starts where its first day starts and ends
    where the day after its last day starts: consecutive periods of a kind
    tile the time line with no gap or overlap. Period names label years
    1900..9999; anything outside is ERANGE.

    Working days: a weekday mask (bit 0 Monday .. bit 6 Sunday, default
    Monday to Friday) plus per-date overrides, a holiday (not worked) or a
    make-up working day (a weekend day that is worked, as China schedules
    around its public holidays). Fractions of a day: the day in progress
    counts by the share of its real length that has passed, so at 12:30 on
    a 25-hour DST day 13/25 of that day has elapsed.

    One zone per process. Local time comes from glibc (localtime_r over the
    system tz database) rather than a hand-written TZif reader; glibc takes
    the zone from the TZ environment variable, so calendar_new sets TZ and
    calls tzset(). Calendars for the same zone may coexist; a calendar for a
    different zone is refused while another calendar is alive. Everything
    else in the process that prints local time sees the same zone. Call
    calendar_new and calendar_destroy from one thread (setenv is not
    thread-safe); after that, calendars on different threads are fine, but
    one calendar must not be shared between threads without a lock, because
    lookups update its cache.

    Errors: functions that can fail return 0 or an errno value and, where
    they take an err buffer, write a message there that names the input:
        EINVAL  malformed input (bad name, date, month, mask, kind)
        ERANGE  a period outside the years 1900..9999
        ENOMEM  out of memory
    The counting functions (calendar_days, calendar_working_days, the
    _elapsed ones) cannot fail: an empty or reversed range counts 0.
    Callers above keep the errno: a query that gets EINVAL or ERANGE for
    a period a client named answers pq_rc_t's invalid_value with this
    message (projections/projection.h).
    =========================================================================
*/

#ifndef PACER_CALENDAR_H
#define PACER_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _calendar_t calendar_t;

typedef enum {
    PERIOD_YEAR,
    PERIOD_QUARTER,
    PERIOD_MONTH,
    PERIOD_WEEK,
    PERIOD_DAY,
    PERIOD_FISCAL_YEAR,
    PERIOD_FISCAL_QUARTER,
    PERIOD_FISCAL_MONTH,
    PERIOD_KIND_COUNT
} period_kind_t;

#define PERIOD_NAME_MAX 16 //  longest name is "FY2026-M01" or "2026-11-22"

//  A period: a value, safe to copy. seq numbers the periods of one kind so
//  that consecutive periods differ by 1 (the month 2026-11 is seq
//  2026 * 12 + 10); only its differences are meaningful.
typedef struct {
    period_kind_t kind;
    int64_t seq;
    int64_t start_ms; //  UTC epoch milliseconds, first instant inside
    int64_t end_ms;   //  UTC epoch milliseconds, first instant after
    char name[PERIOD_NAME_MAX];
} period_t;

typedef enum {
    CALENDAR_DAY_DEFAULT, //  worked or not as the weekday mask says
    CALENDAR_DAY_HOLIDAY, //  not worked, whatever the weekday
    CALENDAR_DAY_WORKING  //  worked, whatever the weekday (make-up day)
} calendar_day_t;

#define CALENDAR_WEEKDAYS_DEFAULT 0x1Fu //  Monday to Friday

//  Create a calendar for an IANA zone name ("Asia/Shanghai") whose fiscal
//  year starts in fiscal_start_month (1..12). Returns NULL and writes the
//  reason into err on: an empty or malformed zone name, a zone with no file
//  in the tz database ($TZDIR or /usr/share/zoneinfo), a "right/" zone
//  (those count leap seconds in time_t), a month outside 1..12, another
//  live calendar using a different zone, or out of memory.
calendar_t *calendar_new(const char *tz_name, int fiscal_start_month, char *err, size_t errlen);

//  Destroy the calendar and set *self_p to NULL; harmless on NULL.
void calendar_destroy(calendar_t **self_p);

//  The zone name the calendar was created with.
const char *calendar_zone(calendar_t *self);

//  The month (1..12) in which fiscal years start.
int calendar_fiscal_start_month(calendar_t *self);

//  A lower-case word for a kind ("year", "fiscal quarter"), for messages;
//  "unknown" for a value outside period_kind_t.
const char *calendar_kind_name(period_kind_t kind);

//  Parse a period name into *out. 0; EINVAL with a message that says what
//  is wrong ("2026-13: month must be 01..12", "2027-W53: 2027 has 52 ISO
//  weeks"); ERANGE, with a message, for a year outside 1900..9999.
int calendar_period_parse(calendar_t *self, const char *name, period_t *out, char *err,
                          size_t errlen);

//  The period of the given kind that contains the instant t_ms, so that
//  out->start_ms <= t_ms < out->end_ms. Meant to be called per event: the
//  last answer for each kind is cached and returned while instants stay
//  inside it. 0; EINVAL for an unknown kind, ERANGE outside 1900..9999
//  (no err: the instant is the caller's to name; *out is then unspecified).
int calendar_period_containing(calendar_t *self, period_kind_t kind, int64_t t_ms, period_t *out);

//  The period of the same kind n periods before p (n < 0: after), e.g.
//  n = 12 for the same month a year earlier. 0, or ERANGE outside
//  1900..9999 (no err; *out is then unspecified).
int calendar_period_previous(calendar_t *self, const period_t *p, int n, period_t *out);

//  Set which weekdays are worked: bit 0 Monday .. bit 6 Sunday. 0, or
//  EINVAL with a message if the mask has bits above bit 6.
int calendar_set_weekdays(calendar_t *self, unsigned mask, char *err, size_t errlen);

//  Override one local date: a holiday, a make-up working day, or
//  CALENDAR_DAY_DEFAULT to remove an override. 0; EINVAL (with a message
//  naming the date) for an invalid date, a year outside 1900..9999 or an
//  unknown kind; ENOMEM with a message.
int calendar_set_day(calendar_t *self, int year, int month, int day, calendar_day_t kind, char *err,
                     size_t errlen);

//  True if the local date is worked after overrides; an invalid date is
//  not a working day.
bool calendar_is_working_day(calendar_t *self, int year, int month, int day);

//  Number of local days that start in [start_ms, end_ms); for a period's
//  own range, the number of days in it.
int64_t calendar_days(calendar_t *self, int64_t start_ms, int64_t end_ms);

//  Number of working days that start in [start_ms, end_ms).
int64_t calendar_working_days(calendar_t *self, int64_t start_ms, int64_t end_ms);

//  Days of p elapsed at now_ms: whole days before today plus the elapsed
//  share of today. 0 before p starts, calendar_days of p after it ends.
double calendar_days_elapsed(calendar_t *self, const period_t *p, int64_t now_ms);

//  Working days of p elapsed at now_ms: whole working days before today
//  plus, if today is worked, the elapsed share of today. 0 before p
//  starts, calendar_working_days of p after it ends.
double calendar_working_elapsed(calendar_t *self, const period_t *p, int64_t now_ms);

#endif
