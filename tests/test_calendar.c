/*  Unit tests for projections/calendar.

    Expected instants are written as UTC wall times and converted with
    glibc's timegm, which knows nothing of the calendar's zone; the offsets
    were worked out by hand from each zone's rules (Asia/Shanghai is UTC+8
    all year; zdump confirms the DST instants used below). The clock is
    never read. Each test creates its calendar into *state and the teardown
    destroys it, so a failing test cannot leave its zone holding the
    process-wide TZ for the tests after it.
*/

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1 //  timegm
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "projections/calendar.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)

static int64_t
s_utc_ms(int year, int month, int day, int hour, int minute, int second)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return (int64_t)timegm(&tm) * 1000;
}

static calendar_t *
s_calendar(void **state, const char *zone, int fiscal_start_month)
{
    char err[256] = "";
    calendar_t *calendar = calendar_new(zone, fiscal_start_month, err, sizeof err);
    if (!calendar)
        fail_msg("calendar_new(%s): %s", zone, err);
    *state = calendar;
    return calendar;
}

static int
s_teardown(void **state)
{
    calendar_t *calendar = *state;
    calendar_destroy(&calendar);
    *state = NULL;
    return 0;
}

static period_t
s_parse(calendar_t *calendar, const char *name)
{
    period_t period;
    char err[256] = "";
    if (calendar_period_parse(calendar, name, &period, err, sizeof err) != 0)
        fail_msg("parse %s: %s", name, err);
    return period;
}

static period_t
s_containing(calendar_t *calendar, period_kind_t kind, int64_t t_ms)
{
    period_t period;
    assert_int_equal(calendar_period_containing(calendar, kind, t_ms, &period), 0);
    assert_true(period.start_ms <= t_ms && t_ms < period.end_ms);
    return period;
}

static void
s_assert_period(period_t period, period_kind_t kind, const char *name, int64_t start_ms,
                int64_t end_ms)
{
    assert_int_equal(period.kind, kind);
    assert_string_equal(period.name, name);
    assert_int_equal(period.start_ms, start_ms);
    assert_int_equal(period.end_ms, end_ms);
}

static void
s_assert_double(double actual, double expected)
{
    if (actual < expected - 1e-9 || actual > expected + 1e-9)
        fail_msg("expected %.12f, got %.12f", expected, actual);
}

//  --------------------------------------------------------------------------

static void
test_new_rejects_bad_zone_and_month(void **state)
{
    (void)state;
    char err[256];
    const char *bad_zones[] = {"Mars/Olympus",           "",
                               "../../etc/passwd",       "/etc/localtime",
                               "EST5EDT,M3.2.0,M11.1.0", "right/UTC"};
    for (size_t i = 0; i < sizeof bad_zones / sizeof bad_zones[0]; i++) {
        err[0] = '\0';
        calendar_t *calendar = calendar_new(bad_zones[i], 1, err, sizeof err);
        assert_null(calendar);
        assert_true(strlen(err) > 0);
    }
    assert_null(calendar_new(NULL, 1, err, sizeof err));
    assert_null(calendar_new("Mars/Olympus", 1, err, sizeof err));
    assert_string_equal(err, "time zone Mars/Olympus: unknown (not in the tz database)");
    assert_null(calendar_new("Asia/Shanghai", 13, err, sizeof err));
    assert_string_equal(err, "fiscal start month 13: must be 1..12");
    assert_null(calendar_new("Asia/Shanghai", 0, err, sizeof err));
    assert_string_equal(err, "fiscal start month 0: must be 1..12");
}

static void
test_one_zone_per_process(void **state)
{
    calendar_t *first = s_calendar(state, "Asia/Shanghai", 1);
    char err[256] = "";
    calendar_t *other = calendar_new("Europe/Berlin", 1, err, sizeof err);
    assert_null(other);
    assert_string_equal(err,
                        "time zone Europe/Berlin: only one zone per process, and Asia/Shanghai is "
                        "in use");
    calendar_t *same = calendar_new("Asia/Shanghai", 4, err, sizeof err);
    assert_non_null(same);
    assert_string_equal(calendar_zone(same), "Asia/Shanghai");
    assert_int_equal(calendar_fiscal_start_month(same), 4);
    calendar_destroy(&same);
    assert_null(same);
    calendar_destroy(&same); //  harmless
    assert_string_equal(calendar_zone(first), "Asia/Shanghai");
}

static void
test_parse_shanghai(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    //  Shanghai is UTC+8: local midnight is 16:00 UTC the day before.
    s_assert_period(s_parse(cal, "2026"), PERIOD_YEAR, "2026", s_utc_ms(2025, 12, 31, 16, 0, 0),
                    s_utc_ms(2026, 12, 31, 16, 0, 0));
    s_assert_period(s_parse(cal, "2026-q4"), PERIOD_QUARTER, "2026-Q4",
                    s_utc_ms(2026, 9, 30, 16, 0, 0), s_utc_ms(2026, 12, 31, 16, 0, 0));
    s_assert_period(s_parse(cal, "2026-11"), PERIOD_MONTH, "2026-11",
                    s_utc_ms(2026, 10, 31, 16, 0, 0), s_utc_ms(2026, 11, 30, 16, 0, 0));
    //  2026-W01 starts Monday 2025-12-29; 46 weeks later is Monday 2026-11-16.
    s_assert_period(s_parse(cal, "2026-W47"), PERIOD_WEEK, "2026-W47",
                    s_utc_ms(2026, 11, 15, 16, 0, 0), s_utc_ms(2026, 11, 22, 16, 0, 0));
    s_assert_period(s_parse(cal, "2026-11-22"), PERIOD_DAY, "2026-11-22",
                    s_utc_ms(2026, 11, 21, 16, 0, 0), s_utc_ms(2026, 11, 22, 16, 0, 0));
    s_assert_period(s_parse(cal, "fy2026"), PERIOD_FISCAL_YEAR, "FY2026",
                    s_utc_ms(2025, 12, 31, 16, 0, 0), s_utc_ms(2026, 12, 31, 16, 0, 0));
    s_assert_period(s_parse(cal, "FY2026-Q2"), PERIOD_FISCAL_QUARTER, "FY2026-Q2",
                    s_utc_ms(2026, 3, 31, 16, 0, 0), s_utc_ms(2026, 6, 30, 16, 0, 0));
    s_assert_period(s_parse(cal, "FY2026-m11"), PERIOD_FISCAL_MONTH, "FY2026-M11",
                    s_utc_ms(2026, 10, 31, 16, 0, 0), s_utc_ms(2026, 11, 30, 16, 0, 0));
    s_assert_period(s_parse(cal, "2028-02-29"), PERIOD_DAY, "2028-02-29",
                    s_utc_ms(2028, 2, 28, 16, 0, 0), s_utc_ms(2028, 2, 29, 16, 0, 0));
    assert_string_equal(calendar_kind_name(PERIOD_FISCAL_QUARTER), "fiscal quarter");
    assert_string_equal(calendar_kind_name(PERIOD_KIND_COUNT), "unknown");
}

static void
test_parse_errors_say_what_is_wrong(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    struct {
        const char *name;
        int rc;
        const char *message;
    } cases[] = {
        {"2026-13", EINVAL, "2026-13: month must be 01..12"},
        {"2026-00", EINVAL, "2026-00: month must be 01..12"},
        {"2026-1", EINVAL, "2026-1: month must be 01..12"},
        {"2026-", EINVAL, "2026-: month must be 01..12"},
        {"2026-W54", EINVAL, "2026-W54: 2026 has 53 ISO weeks"},
        {"2027-W53", EINVAL, "2027-W53: 2027 has 52 ISO weeks"},
        {"2021-W53", EINVAL, "2021-W53: 2021 has 52 ISO weeks"},
        {"2026-W00", EINVAL, "2026-W00: week must be W01..W53"},
        {"2026-W7", EINVAL, "2026-W7: week must be W01..W53"},
        {"2026-Q5", EINVAL, "2026-Q5: quarter must be Q1..Q4"},
        {"2026-Q0", EINVAL, "2026-Q0: quarter must be Q1..Q4"},
        {"2026-Q12", EINVAL, "2026-Q12: quarter must be Q1..Q4"},
        {"2026-02-29", EINVAL, "2026-02-29: day must be 01..28 (2026-02 has 28 days)"},
        {"2026-04-31", EINVAL, "2026-04-31: day must be 01..30 (2026-04 has 30 days)"},
        {"2026-11-22x", EINVAL, "2026-11-22x: day must be 01..30 (2026-11 has 30 days)"},
        {"FY2026-Q5", EINVAL, "FY2026-Q5: fiscal quarter must be Q1..Q4"},
        {"FY2026-M13", EINVAL, "FY2026-M13: fiscal month must be M01..M12"},
        {"FY2026-M1", EINVAL, "FY2026-M1: fiscal month must be M01..M12"},
        {"FY2026-11", EINVAL, "FY2026-11: a fiscal year is followed by -Q1..-Q4 or -M01..-M12"},
        {"1899", ERANGE, "1899: year must be 1900..9999"},
        {"0000-01", ERANGE, "0000-01: year must be 1900..9999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        period_t period;
        const int rc = calendar_period_parse(cal, cases[i].name, &period, err, sizeof err);
        if (rc != cases[i].rc || strcmp(err, cases[i].message) != 0)
            fail_msg("%s: expected %d \"%s\", got %d \"%s\"", cases[i].name, cases[i].rc,
                     cases[i].message, rc, err);
    }
    const char *not_names[] = {"", "26", "20260", "2026/11", "abc", "F2026", "FY", "W47", "-2026"};
    for (size_t i = 0; i < sizeof not_names / sizeof not_names[0]; i++) {
        char err[256] = "";
        period_t period;
        assert_int_equal(calendar_period_parse(cal, not_names[i], &period, err, sizeof err),
                         EINVAL);
        assert_non_null(strstr(err, "not a period name"));
    }
    period_t period;
    assert_int_equal(calendar_period_parse(cal, NULL, &period, NULL, 0), EINVAL);
}

static void
test_iso_weeks(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    //  53-week years: 2026 and 2015 start on a Thursday, 2020 is a leap
    //  year starting on a Wednesday.
    s_assert_period(s_parse(cal, "2026-W53"), PERIOD_WEEK, "2026-W53",
                    s_utc_ms(2026, 12, 27, 16, 0, 0), s_utc_ms(2027, 1, 3, 16, 0, 0));
    s_parse(cal, "2015-W53");
    s_parse(cal, "2020-W53");
    s_assert_period(s_parse(cal, "2026-W01"), PERIOD_WEEK, "2026-W01",
                    s_utc_ms(2025, 12, 28, 16, 0, 0), s_utc_ms(2026, 1, 4, 16, 0, 0));
    //  Dates whose week belongs to another year (times are noon local).
    struct {
        int y, m, d;
        const char *week;
    } cases[] = {
        {2021, 1, 3, "2020-W53"},   {2024, 12, 30, "2025-W01"}, {2027, 1, 1, "2026-W53"},
        {2027, 1, 3, "2026-W53"},   {2027, 1, 4, "2027-W01"},   {2026, 1, 1, "2026-W01"},
        {2025, 12, 29, "2026-W01"}, {2025, 12, 28, "2025-W52"}, {2026, 11, 22, "2026-W47"},
        {2008, 12, 29, "2009-W01"}, {2010, 1, 3, "2009-W53"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int64_t noon = s_utc_ms(cases[i].y, cases[i].m, cases[i].d, 4, 0, 0);
        period_t week = s_containing(cal, PERIOD_WEEK, noon);
        if (strcmp(week.name, cases[i].week) != 0)
            fail_msg("%04d-%02d-%02d: expected %s, got %s", cases[i].y, cases[i].m, cases[i].d,
                     cases[i].week, week.name);
    }
    //  The last millisecond of Sunday 2025-12-28 local is still 2025-W52.
    period_t week = s_containing(cal, PERIOD_WEEK, s_utc_ms(2025, 12, 28, 16, 0, 0) - 1);
    assert_string_equal(week.name, "2025-W52");
    week = s_containing(cal, PERIOD_WEEK, s_utc_ms(2025, 12, 28, 16, 0, 0));
    assert_string_equal(week.name, "2026-W01");
}

static void
test_fiscal_year_starting_in_april(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 4);
    //  FY2026 ends in calendar 2026: 2025-04-01 up to 2026-04-01.
    const int64_t fy_start = s_utc_ms(2025, 3, 31, 16, 0, 0);
    const int64_t fy_end = s_utc_ms(2026, 3, 31, 16, 0, 0);
    s_assert_period(s_parse(cal, "FY2026"), PERIOD_FISCAL_YEAR, "FY2026", fy_start, fy_end);
    s_assert_period(s_parse(cal, "FY2026-Q1"), PERIOD_FISCAL_QUARTER, "FY2026-Q1", fy_start,
                    s_utc_ms(2025, 6, 30, 16, 0, 0));
    s_assert_period(s_parse(cal, "FY2026-Q4"), PERIOD_FISCAL_QUARTER, "FY2026-Q4",
                    s_utc_ms(2025, 12, 31, 16, 0, 0), fy_end);
    s_assert_period(s_parse(cal, "FY2026-M01"), PERIOD_FISCAL_MONTH, "FY2026-M01", fy_start,
                    s_utc_ms(2025, 4, 30, 16, 0, 0));
    s_assert_period(s_parse(cal, "FY2026-M12"), PERIOD_FISCAL_MONTH, "FY2026-M12",
                    s_utc_ms(2026, 2, 28, 16, 0, 0), fy_end);

    assert_string_equal(s_containing(cal, PERIOD_FISCAL_YEAR, fy_end - 1).name, "FY2026");
    assert_string_equal(s_containing(cal, PERIOD_FISCAL_YEAR, fy_end).name, "FY2027");
    assert_string_equal(s_containing(cal, PERIOD_FISCAL_YEAR, fy_start).name, "FY2026");
    assert_string_equal(s_containing(cal, PERIOD_FISCAL_YEAR, fy_start - 1).name, "FY2025");
    const int64_t mid_november = s_utc_ms(2025, 11, 15, 4, 0, 0);
    assert_string_equal(s_containing(cal, PERIOD_FISCAL_QUARTER, mid_november).name, "FY2026-Q3");
    assert_string_equal(s_containing(cal, PERIOD_FISCAL_MONTH, mid_november).name, "FY2026-M08");
    assert_string_equal(s_containing(cal, PERIOD_YEAR, mid_november).name, "2025");

    period_t previous;
    period_t q1 = s_parse(cal, "FY2026-Q1");
    assert_int_equal(calendar_period_previous(cal, &q1, 1, &previous), 0);
    s_assert_period(previous, PERIOD_FISCAL_QUARTER, "FY2025-Q4", s_utc_ms(2024, 12, 31, 16, 0, 0),
                    fy_start);
    period_t m01 = s_parse(cal, "FY2026-M01");
    assert_int_equal(calendar_period_previous(cal, &m01, 1, &previous), 0);
    assert_string_equal(previous.name, "FY2025-M12");
    assert_int_equal(calendar_period_previous(cal, &m01, -11, &previous), 0);
    assert_string_equal(previous.name, "FY2026-M12");
}

static void
test_fiscal_year_starting_in_december(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 12);
    s_assert_period(s_parse(cal, "FY2026"), PERIOD_FISCAL_YEAR, "FY2026",
                    s_utc_ms(2025, 11, 30, 16, 0, 0), s_utc_ms(2026, 11, 30, 16, 0, 0));
    s_assert_period(s_parse(cal, "FY2026-Q1"), PERIOD_FISCAL_QUARTER, "FY2026-Q1",
                    s_utc_ms(2025, 11, 30, 16, 0, 0), s_utc_ms(2026, 2, 28, 16, 0, 0));
    const int64_t christmas = s_utc_ms(2026, 12, 25, 4, 0, 0);
    assert_string_equal(s_containing(cal, PERIOD_FISCAL_YEAR, christmas).name, "FY2027");
    assert_string_equal(s_containing(cal, PERIOD_FISCAL_MONTH, christmas).name, "FY2027-M01");
}

static void
test_containing_every_kind(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    const int64_t t = s_utc_ms(2026, 11, 22, 2, 0, 0); //  10:00 local
    const char *expected[PERIOD_KIND_COUNT] = {"2026",       "2026-Q4", "2026-11",   "2026-W47",
                                               "2026-11-22", "FY2026",  "FY2026-Q4", "FY2026-M11"};
    for (int kind = 0; kind < PERIOD_KIND_COUNT; kind++) {
        period_t period = s_containing(cal, (period_kind_t)kind, t);
        assert_string_equal(period.name, expected[kind]);
        period_t parsed = s_parse(cal, period.name);
        assert_int_equal(parsed.start_ms, period.start_ms);
        assert_int_equal(parsed.end_ms, period.end_ms);
        assert_int_equal(parsed.seq, period.seq);
    }
    period_t period;
    assert_int_equal(calendar_period_containing(cal, PERIOD_KIND_COUNT, t, &period), EINVAL);
    assert_int_equal(
        calendar_period_containing(cal, PERIOD_DAY, s_utc_ms(1899, 6, 1, 0, 0, 0), &period),
        ERANGE);
    //  The ends of the int64 range are refused without overflow.
    for (int kind = 0; kind < PERIOD_KIND_COUNT; kind++) {
        assert_int_equal(calendar_period_containing(cal, (period_kind_t)kind, INT64_MIN, &period),
                         ERANGE);
        assert_int_equal(calendar_period_containing(cal, (period_kind_t)kind, INT64_MAX, &period),
                         ERANGE);
    }
    assert_true(calendar_working_days(cal, INT64_MIN, INT64_MAX) > 0);
    assert_true(calendar_days(cal, INT64_MIN, INT64_MAX) > 0);
}

static void
test_containing_boundaries_and_cache(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    const int64_t november = s_utc_ms(2026, 10, 31, 16, 0, 0);
    //  Hop back and forth across the boundary so the cache is both hit and
    //  replaced.
    const int64_t instants[] = {november - 1, november,        november - 1, november + DAY_MS,
                                november,     november - 1000, november + 1};
    const char *months[] = {"2026-10", "2026-11", "2026-10", "2026-11",
                            "2026-11", "2026-10", "2026-11"};
    const char *days[] = {"2026-10-31", "2026-11-01", "2026-10-31", "2026-11-02",
                          "2026-11-01", "2026-10-31", "2026-11-01"};
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        assert_string_equal(s_containing(cal, PERIOD_MONTH, instants[i]).name, months[i]);
        assert_string_equal(s_containing(cal, PERIOD_DAY, instants[i]).name, days[i]);
    }
    //  Before 1970 (negative epoch milliseconds) works the same way.
    period_t day = s_containing(cal, PERIOD_DAY, s_utc_ms(1969, 12, 31, 15, 59, 59) + 999);
    s_assert_period(day, PERIOD_DAY, "1969-12-31", s_utc_ms(1969, 12, 30, 16, 0, 0),
                    s_utc_ms(1969, 12, 31, 16, 0, 0));
}

static void
test_previous(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    struct {
        const char *from;
        int n;
        const char *to;
    } cases[] = {
        {"2026-01", 1, "2025-12"},
        {"2026-01", 12, "2025-01"},
        {"2026-01", -1, "2026-02"},
        {"2026-11", 12, "2025-11"},
        {"2026-Q1", 1, "2025-Q4"},
        {"2026-Q4", 4, "2025-Q4"},
        {"2027-W01", 1, "2026-W53"},
        {"2026-W01", 1, "2025-W52"},
        {"2026-W53", -1, "2027-W01"},
        {"2026-03-01", 1, "2026-02-28"},
        {"2028-03-01", 1, "2028-02-29"},
        {"2026-01-01", 1, "2025-12-31"},
        {"2026", 3, "2023"},
        {"FY2026", 1, "FY2025"},
        {"FY2026-Q1", 5, "FY2024-Q4"},
        {"2026-11-22", 0, "2026-11-22"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        period_t from = s_parse(cal, cases[i].from), to;
        assert_int_equal(calendar_period_previous(cal, &from, cases[i].n, &to), 0);
        if (strcmp(to.name, cases[i].to) != 0)
            fail_msg("%s - %d: expected %s, got %s", cases[i].from, cases[i].n, cases[i].to,
                     to.name);
        period_t parsed = s_parse(cal, cases[i].to);
        assert_int_equal(to.start_ms, parsed.start_ms);
        assert_int_equal(to.end_ms, parsed.end_ms);
    }
    period_t first = s_parse(cal, "1900"), out;
    assert_int_equal(calendar_period_previous(cal, &first, 1, &out), ERANGE);
    period_t last = s_parse(cal, "9999-12-31");
    assert_int_equal(calendar_period_previous(cal, &last, -1, &out), ERANGE);
}

static void
test_dst_new_york(void **state)
{
    calendar_t *cal = s_calendar(state, "America/New_York", 1);
    //  Spring forward on Sunday 2026-03-08 at 02:00 EST: a 23-hour day
    //  from 05:00Z (EST, -5) to the next midnight at 04:00Z (EDT, -4).
    period_t spring = s_parse(cal, "2026-03-08");
    s_assert_period(spring, PERIOD_DAY, "2026-03-08", s_utc_ms(2026, 3, 8, 5, 0, 0),
                    s_utc_ms(2026, 3, 9, 4, 0, 0));
    assert_int_equal(spring.end_ms - spring.start_ms, 23 * HOUR_MS);
    //  Fall back on Sunday 2026-11-01 at 02:00 EDT: 25 hours.
    period_t fall = s_parse(cal, "2026-11-01");
    s_assert_period(fall, PERIOD_DAY, "2026-11-01", s_utc_ms(2026, 11, 1, 4, 0, 0),
                    s_utc_ms(2026, 11, 2, 5, 0, 0));
    assert_int_equal(fall.end_ms - fall.start_ms, 25 * HOUR_MS);
    s_assert_period(s_parse(cal, "2026-03"), PERIOD_MONTH, "2026-03", s_utc_ms(2026, 3, 1, 5, 0, 0),
                    s_utc_ms(2026, 4, 1, 4, 0, 0));
    s_assert_period(s_parse(cal, "2026"), PERIOD_YEAR, "2026", s_utc_ms(2026, 1, 1, 5, 0, 0),
                    s_utc_ms(2027, 1, 1, 5, 0, 0));

    assert_string_equal(s_containing(cal, PERIOD_DAY, spring.start_ms - 1).name, "2026-03-07");
    assert_string_equal(s_containing(cal, PERIOD_DAY, spring.start_ms).name, "2026-03-08");
    assert_string_equal(s_containing(cal, PERIOD_DAY, spring.end_ms - 1).name, "2026-03-08");
    assert_string_equal(s_containing(cal, PERIOD_DAY, spring.end_ms).name, "2026-03-09");
    //  01:30 happens twice on 2026-11-01; both are that day.
    assert_string_equal(s_containing(cal, PERIOD_DAY, s_utc_ms(2026, 11, 1, 5, 30, 0)).name,
                        "2026-11-01");
    assert_string_equal(s_containing(cal, PERIOD_DAY, s_utc_ms(2026, 11, 1, 6, 30, 0)).name,
                        "2026-11-01");

    //  Half of each DST day has passed 11.5 and 12.5 real hours in.
    s_assert_double(calendar_days_elapsed(cal, &spring, spring.start_ms + 23 * HOUR_MS / 2), 0.5);
    s_assert_double(calendar_days_elapsed(cal, &fall, fall.start_ms + 25 * HOUR_MS / 2), 0.5);
    period_t march = s_parse(cal, "2026-03");
    assert_int_equal(calendar_days(cal, march.start_ms, march.end_ms), 31);
    s_assert_double(calendar_days_elapsed(cal, &march, spring.start_ms + 23 * HOUR_MS / 2), 7.5);
    //  Sunday 2026-11-01 as a make-up working day in week 2026-W44
    //  (Monday 10-26 to Sunday 11-01): five weekdays, then half of it.
    assert_int_equal(calendar_set_day(cal, 2026, 11, 1, CALENDAR_DAY_WORKING, NULL, 0), 0);
    period_t week = s_parse(cal, "2026-W44");
    assert_int_equal(calendar_working_days(cal, week.start_ms, week.end_ms), 6);
    s_assert_double(calendar_working_elapsed(cal, &week, fall.start_ms + 25 * HOUR_MS / 2), 5.5);
    s_assert_double(calendar_days_elapsed(cal, &week, fall.start_ms + 25 * HOUR_MS / 2), 6.5);
}

static void
test_dst_berlin(void **state)
{
    calendar_t *cal = s_calendar(state, "Europe/Berlin", 1);
    //  CET is +1, CEST +2; clocks change at 01:00 UTC on the last Sundays
    //  of March and October.
    s_assert_period(s_parse(cal, "2026-03-29"), PERIOD_DAY, "2026-03-29",
                    s_utc_ms(2026, 3, 28, 23, 0, 0), s_utc_ms(2026, 3, 29, 22, 0, 0));
    s_assert_period(s_parse(cal, "2026-10-25"), PERIOD_DAY, "2026-10-25",
                    s_utc_ms(2026, 10, 24, 22, 0, 0), s_utc_ms(2026, 10, 25, 23, 0, 0));
    //  Week 13 (Monday 03-23 to Sunday 03-29) is an hour short of 7 days.
    period_t week = s_parse(cal, "2026-W13");
    s_assert_period(week, PERIOD_WEEK, "2026-W13", s_utc_ms(2026, 3, 22, 23, 0, 0),
                    s_utc_ms(2026, 3, 29, 22, 0, 0));
    assert_int_equal(week.end_ms - week.start_ms, 7 * DAY_MS - HOUR_MS);
    s_assert_period(s_parse(cal, "2026-Q2"), PERIOD_QUARTER, "2026-Q2",
                    s_utc_ms(2026, 3, 31, 22, 0, 0), s_utc_ms(2026, 6, 30, 22, 0, 0));
    s_assert_period(s_parse(cal, "2026-Q4"), PERIOD_QUARTER, "2026-Q4",
                    s_utc_ms(2026, 9, 30, 22, 0, 0), s_utc_ms(2026, 12, 31, 23, 0, 0));
    assert_string_equal(
        s_containing(cal, PERIOD_MONTH, s_utc_ms(2026, 10, 31, 22, 59, 59) + 999).name, "2026-10");
    assert_string_equal(s_containing(cal, PERIOD_MONTH, s_utc_ms(2026, 10, 31, 23, 0, 0)).name,
                        "2026-11");
}

static void
test_dst_at_midnight(void **state)
{
    //  Santiago moves its clocks at local midnight: on 2026-09-06 the clock
    //  jumps from 23:59:59 (-4) to 01:00 (-3), so that day starts at 01:00.
    calendar_t *cal = s_calendar(state, "America/Santiago", 1);
    s_assert_period(s_parse(cal, "2026-09-05"), PERIOD_DAY, "2026-09-05",
                    s_utc_ms(2026, 9, 5, 4, 0, 0), s_utc_ms(2026, 9, 6, 4, 0, 0));
    s_assert_period(s_parse(cal, "2026-09-06"), PERIOD_DAY, "2026-09-06",
                    s_utc_ms(2026, 9, 6, 4, 0, 0), s_utc_ms(2026, 9, 7, 3, 0, 0));
    assert_string_equal(s_containing(cal, PERIOD_DAY, s_utc_ms(2026, 9, 6, 3, 59, 59)).name,
                        "2026-09-05");
    //  On 2026-04-04 the clock goes back from 23:59:59 (-3) to 23:00 (-4):
    //  a 25-hour day.
    s_assert_period(s_parse(cal, "2026-04-04"), PERIOD_DAY, "2026-04-04",
                    s_utc_ms(2026, 4, 4, 3, 0, 0), s_utc_ms(2026, 4, 5, 4, 0, 0));
    calendar_destroy((calendar_t **)state);

    //  Havana skips midnight in March and repeats it in November (01:00
    //  CDT back to 00:00 CST); a day starts at the first midnight.
    cal = s_calendar(state, "America/Havana", 1);
    s_assert_period(s_parse(cal, "2026-03-08"), PERIOD_DAY, "2026-03-08",
                    s_utc_ms(2026, 3, 8, 5, 0, 0), s_utc_ms(2026, 3, 9, 4, 0, 0));
    s_assert_period(s_parse(cal, "2026-11-01"), PERIOD_DAY, "2026-11-01",
                    s_utc_ms(2026, 11, 1, 4, 0, 0), s_utc_ms(2026, 11, 2, 5, 0, 0));
    s_assert_period(s_parse(cal, "2026-10-31"), PERIOD_DAY, "2026-10-31",
                    s_utc_ms(2026, 10, 31, 4, 0, 0), s_utc_ms(2026, 11, 1, 4, 0, 0));
    assert_string_equal(s_containing(cal, PERIOD_DAY, s_utc_ms(2026, 11, 1, 4, 30, 0)).name,
                        "2026-11-01");
    assert_string_equal(s_containing(cal, PERIOD_MONTH, s_utc_ms(2026, 11, 1, 4, 0, 0) - 1).name,
                        "2026-10");
}

//  China, October 2026 (invented but plausible): National Day holiday
//  Thursday 10-01 to Wednesday 10-07, made up by working Sunday 09-20 and
//  Saturday 10-10; Mid-Autumn holiday Friday 09-25.
static void
s_china_2026(calendar_t *cal)
{
    for (int day = 1; day <= 7; day++)
        assert_int_equal(calendar_set_day(cal, 2026, 10, day, CALENDAR_DAY_HOLIDAY, NULL, 0), 0);
    assert_int_equal(calendar_set_day(cal, 2026, 9, 25, CALENDAR_DAY_HOLIDAY, NULL, 0), 0);
    assert_int_equal(calendar_set_day(cal, 2026, 9, 20, CALENDAR_DAY_WORKING, NULL, 0), 0);
    assert_int_equal(calendar_set_day(cal, 2026, 10, 10, CALENDAR_DAY_WORKING, NULL, 0), 0);
}

static void
test_working_days_china_october(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    s_china_2026(cal);
    //  October 2026 starts on a Thursday: 22 weekdays, 5 of them (1, 2, 5,
    //  6, 7) holidays, plus Saturday the 10th: 18 working days.
    period_t october = s_parse(cal, "2026-10");
    assert_int_equal(calendar_days(cal, october.start_ms, october.end_ms), 31);
    assert_int_equal(calendar_working_days(cal, october.start_ms, october.end_ms), 18);
    //  September: 22 weekdays, less Friday the 25th, plus Sunday the 20th.
    period_t september = s_parse(cal, "2026-09");
    assert_int_equal(calendar_working_days(cal, september.start_ms, september.end_ms), 22);
    //  Q4: October 18, November 21, December 23.
    period_t q4 = s_parse(cal, "2026-Q4");
    assert_int_equal(calendar_working_days(cal, q4.start_ms, q4.end_ms), 62);
    assert_int_equal(calendar_days(cal, q4.start_ms, q4.end_ms), 92);

    assert_false(calendar_is_working_day(cal, 2026, 10, 1));
    assert_false(calendar_is_working_day(cal, 2026, 10, 3));
    assert_true(calendar_is_working_day(cal, 2026, 10, 8));
    assert_true(calendar_is_working_day(cal, 2026, 10, 10));
    assert_false(calendar_is_working_day(cal, 2026, 10, 11));
    assert_true(calendar_is_working_day(cal, 2026, 9, 20));
    assert_true(calendar_is_working_day(cal, 2026, 9, 24));
    assert_false(calendar_is_working_day(cal, 2026, 9, 25));
    assert_false(calendar_is_working_day(cal, 2026, 2, 30));
    assert_false(calendar_is_working_day(cal, 2026, 13, 1));

    //  Elapsed, local times converted at UTC+8.
    s_assert_double(calendar_working_elapsed(cal, &october, october.start_ms - 1), 0.0);
    s_assert_double(calendar_working_elapsed(cal, &october, october.start_ms), 0.0);
    //  Sunday 10-04 noon: only holidays so far.
    s_assert_double(calendar_working_elapsed(cal, &october, s_utc_ms(2026, 10, 4, 4, 0, 0)), 0.0);
    //  Friday 10-09 noon: all of 10-08, half of 10-09.
    s_assert_double(calendar_working_elapsed(cal, &october, s_utc_ms(2026, 10, 9, 4, 0, 0)), 1.5);
    s_assert_double(calendar_days_elapsed(cal, &october, s_utc_ms(2026, 10, 9, 4, 0, 0)), 8.5);
    //  Saturday 10-10 06:00: 10-08, 10-09 and a quarter of the make-up day.
    s_assert_double(calendar_working_elapsed(cal, &october, s_utc_ms(2026, 10, 9, 22, 0, 0)), 2.25);
    //  Saturday 10-31 noon: every working day is behind us.
    s_assert_double(calendar_working_elapsed(cal, &october, s_utc_ms(2026, 10, 31, 4, 0, 0)), 18.0);
    s_assert_double(calendar_working_elapsed(cal, &october, october.end_ms), 18.0);
    s_assert_double(calendar_days_elapsed(cal, &october, october.end_ms + DAY_MS), 31.0);

    //  Ranges that do not start at midnight count the days starting inside.
    const int64_t oct8 = s_utc_ms(2026, 10, 7, 16, 0, 0);
    assert_int_equal(calendar_working_days(cal, oct8, oct8 + 4 * DAY_MS), 3);
    assert_int_equal(calendar_working_days(cal, oct8 + 1, oct8 + 4 * DAY_MS), 2);
    assert_int_equal(calendar_working_days(cal, oct8 + 4 * DAY_MS, oct8), 0);
    assert_int_equal(calendar_days(cal, oct8 + 1, oct8 + 4 * DAY_MS + 1), 4);

    //  Overrides can be replaced and removed.
    assert_int_equal(calendar_set_day(cal, 2026, 10, 10, CALENDAR_DAY_DEFAULT, NULL, 0), 0);
    assert_int_equal(calendar_working_days(cal, october.start_ms, october.end_ms), 17);
    assert_int_equal(calendar_set_day(cal, 2026, 10, 1, CALENDAR_DAY_WORKING, NULL, 0), 0);
    assert_int_equal(calendar_working_days(cal, october.start_ms, october.end_ms), 18);
    assert_int_equal(calendar_set_day(cal, 2026, 10, 1, CALENDAR_DAY_HOLIDAY, NULL, 0), 0);
    assert_int_equal(calendar_set_day(cal, 2026, 10, 10, CALENDAR_DAY_WORKING, NULL, 0), 0);

    //  A six-day week: the five Saturdays now count, and Saturday 10-03
    //  becomes a holiday that matters; the make-up Saturday changes nothing.
    assert_int_equal(calendar_set_weekdays(cal, 0x3F, NULL, 0), 0);
    assert_int_equal(calendar_working_days(cal, october.start_ms, october.end_ms), 21);
    char err[256] = "";
    assert_int_equal(calendar_set_weekdays(cal, 0x80, err, sizeof err), EINVAL);
    assert_string_equal(err, "weekday mask 0x80: only bits 0 (Monday) to 6 (Sunday) exist");
    assert_int_equal(calendar_set_day(cal, 2026, 2, 29, CALENDAR_DAY_HOLIDAY, err, sizeof err),
                     EINVAL);
    assert_string_equal(err, "2026-02-29: not a date in 1900..9999");
    assert_int_equal(calendar_set_day(cal, 2026, 2, 1, (calendar_day_t)7, err, sizeof err), EINVAL);
    assert_string_equal(err, "2026-02-01: unknown day kind 7");
}

static void
test_many_overrides(void **state)
{
    calendar_t *cal = s_calendar(state, "Asia/Shanghai", 1);
    //  Every Saturday of 2026 worked, inserted out of order; every Monday
    //  off. Net: the same number of working days as a plain year.
    period_t year = s_parse(cal, "2026");
    const int64_t plain = calendar_working_days(cal, year.start_ms, year.end_ms);
    assert_int_equal(plain, 261); //  2026: 365 days, Jan 1 Thursday: 52 weeks + Thu
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t t = year.end_ms - DAY_MS / 2; t > year.start_ms; t -= DAY_MS) {
            period_t day = s_containing(cal, PERIOD_DAY, t);
            int y = 0, m = 0, d = 0;
            assert_int_equal(sscanf(day.name, "%d-%d-%d", &y, &m, &d), 3);
            period_t week = s_containing(cal, PERIOD_WEEK, t);
            const int64_t weekday = (day.start_ms - week.start_ms) / DAY_MS; //  Shanghai: no DST
            if (weekday == 5)
                calendar_set_day(cal, y, m, d, CALENDAR_DAY_WORKING, NULL, 0);
            else if (weekday == 0)
                calendar_set_day(cal, y, m, d, CALENDAR_DAY_HOLIDAY, NULL, 0);
        }
    }
    assert_int_equal(calendar_working_days(cal, year.start_ms, year.end_ms), plain);
    assert_true(calendar_is_working_day(cal, 2026, 1, 3));  //  Saturday
    assert_false(calendar_is_working_day(cal, 2026, 1, 5)); //  Monday
    assert_false(calendar_is_working_day(cal, 2026, 1, 4)); //  Sunday
    assert_true(calendar_is_working_day(cal, 2026, 1, 6));  //  Tuesday
}

//  Deterministic PRNG (xorshift64*) so the sweep is the same on every run.
static uint64_t
s_random(uint64_t *seed)
{
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 2685821657736338717ULL;
}

//  Properties over many instants: the containing period holds the
//  instant, its name parses back to the same range, and stepping one
//  period either way lands on the neighbours, which tile the time line.
static void
s_sweep(calendar_t *cal, int64_t from_ms, int64_t to_ms, int samples)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < samples; i++) {
        const int64_t t = from_ms + (int64_t)(s_random(&seed) % (uint64_t)(to_ms - from_ms));
        for (int kind = 0; kind < PERIOD_KIND_COUNT; kind++) {
            period_t period = s_containing(cal, (period_kind_t)kind, t);
            period_t parsed = s_parse(cal, period.name);
            assert_int_equal(parsed.start_ms, period.start_ms);
            assert_int_equal(parsed.end_ms, period.end_ms);
            period_t before, after;
            assert_int_equal(calendar_period_previous(cal, &period, 1, &before), 0);
            assert_int_equal(calendar_period_previous(cal, &period, -1, &after), 0);
            assert_int_equal(before.end_ms, period.start_ms);
            assert_int_equal(after.start_ms, period.end_ms);
            assert_string_equal(s_containing(cal, (period_kind_t)kind, period.start_ms).name,
                                period.name);
            assert_string_equal(s_containing(cal, (period_kind_t)kind, period.start_ms - 1).name,
                                before.name);
            const int64_t days = calendar_days(cal, period.start_ms, period.end_ms);
            const double elapsed = calendar_days_elapsed(cal, &period, t);
            assert_true(elapsed >= 0.0 && elapsed < (double)days);
            const double worked = calendar_working_elapsed(cal, &period, t);
            assert_true(worked >= 0.0 && worked <= (double)calendar_working_days(
                                                       cal, period.start_ms, period.end_ms));
        }
    }
}

static void
test_sweep_new_york(void **state)
{
    calendar_t *cal = s_calendar(state, "America/New_York", 7);
    s_sweep(cal, s_utc_ms(1901, 1, 1, 0, 0, 0), s_utc_ms(2099, 1, 1, 0, 0, 0), 3000);
}

static void
test_sweep_berlin(void **state)
{
    calendar_t *cal = s_calendar(state, "Europe/Berlin", 4);
    s_sweep(cal, s_utc_ms(2020, 1, 1, 0, 0, 0), s_utc_ms(2030, 1, 1, 0, 0, 0), 3000);
}

static void
test_sequential_days_tile(void **state)
{
    //  A replay walks forward through time: every day of 2026 in Berlin,
    //  each hour, must be found in order with no gap between days.
    calendar_t *cal = s_calendar(state, "Europe/Berlin", 1);
    period_t year = s_parse(cal, "2026");
    period_t previous = s_containing(cal, PERIOD_DAY, year.start_ms);
    int days = 1, short_days = 0, long_days = 0;
    for (int64_t t = year.start_ms; t < year.end_ms; t += HOUR_MS / 4) {
        period_t day = s_containing(cal, PERIOD_DAY, t);
        if (day.start_ms != previous.start_ms) {
            assert_int_equal(day.start_ms, previous.end_ms);
            assert_int_equal(day.seq, previous.seq + 1);
            days++;
            previous = day;
        }
        const int64_t length = day.end_ms - day.start_ms;
        if (t == day.start_ms) {
            short_days += length == 23 * HOUR_MS;
            long_days += length == 25 * HOUR_MS;
        }
    }
    assert_int_equal(days, 365);
    assert_int_equal(short_days, 1);
    assert_int_equal(long_days, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_zone_and_month),
        cmocka_unit_test_teardown(test_one_zone_per_process, s_teardown),
        cmocka_unit_test_teardown(test_parse_shanghai, s_teardown),
        cmocka_unit_test_teardown(test_parse_errors_say_what_is_wrong, s_teardown),
        cmocka_unit_test_teardown(test_iso_weeks, s_teardown),
        cmocka_unit_test_teardown(test_fiscal_year_starting_in_april, s_teardown),
        cmocka_unit_test_teardown(test_fiscal_year_starting_in_december, s_teardown),
        cmocka_unit_test_teardown(test_containing_every_kind, s_teardown),
        cmocka_unit_test_teardown(test_containing_boundaries_and_cache, s_teardown),
        cmocka_unit_test_teardown(test_previous, s_teardown),
        cmocka_unit_test_teardown(test_dst_new_york, s_teardown),
        cmocka_unit_test_teardown(test_dst_berlin, s_teardown),
        cmocka_unit_test_teardown(test_dst_at_midnight, s_teardown),
        cmocka_unit_test_teardown(test_working_days_china_october, s_teardown),
        cmocka_unit_test_teardown(test_many_overrides, s_teardown),
        cmocka_unit_test_teardown(test_sweep_new_york, s_teardown),
        cmocka_unit_test_teardown(test_sweep_berlin, s_teardown),
        cmocka_unit_test_teardown(test_sequential_days_tile, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
