/*  test_civil: events/civil.c (day numbers of the proleptic Gregorian
    calendar) and events/period.c (the period and date names of events).

    The arithmetic is checked against things it does not share code with:
    glibc's timegm, gmtime_r and strftime (%G, %V) for every day of the
    years 1 to 9999, a day-by-day walk written here from the leap-year rule
    alone, and dates worked out by hand. Beyond glibc's years the round trip
    is checked over the whole domain the header promises. */

#include "events/civil.h"
#include "events/period.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* The leap-year rule on its own, for the walk below. */
static bool
leap(int64_t y)
{
    return y % 400 == 0 || (y % 4 == 0 && y % 100 != 0);
}

static void
test_known_dates(void **state)
{
    (void)state;
    assert_int_equal(civil_to_days(1970, 1, 1), 0);
    assert_int_equal(civil_to_days(1969, 12, 31), -1);
    assert_int_equal(civil_to_days(1970, 3, 1), 59);
    assert_int_equal(civil_to_days(2000, 1, 1), 10957);
    assert_int_equal(civil_to_days(2000, 2, 29), 11016);
    assert_int_equal(civil_to_days(2000, 3, 1), 11017);
    assert_int_equal(civil_to_days(1900, 3, 1) - civil_to_days(1900, 2, 28), 1);
    assert_int_equal(civil_to_days(2100, 3, 1) - civil_to_days(2100, 2, 28), 1);
    assert_int_equal(civil_to_days(2026, 12, 4), 20791);
    /* Hinnant's epoch: 0000-03-01 is 719468 days before 1970-01-01; year 0
       (1 BC) is a leap year, year -100 is not. */
    assert_int_equal(civil_to_days(0, 3, 1), -719468);
    assert_int_equal(civil_to_days(0, 3, 1) - civil_to_days(0, 2, 28), 2);
    assert_int_equal(civil_to_days(-100, 3, 1) - civil_to_days(-100, 2, 28), 1);
    assert_int_equal(civil_to_days(1, 1, 1), -719162);
    /* The last day the projection counts (projection_internal.h: DAY_MAX
       - 1, counting from 1 = 1970-01-01; docs/EVENTS.md "Limits"), and the
       first it refuses as out_of_range. */
    assert_int_equal(civil_to_days(2687, 9, 20), (1 << 18) - 3);
    assert_int_equal(civil_to_days(2687, 9, 21), (1 << 18) - 2);
    /* The end of year 9999, where an event's `time` ends (EV_TIME_MAX). */
    assert_int_equal((civil_to_days(9999, 12, 31) + 1) * INT64_C(86400000) - 1,
                     INT64_C(253402300799999));

    int64_t y;
    int m, d;
    civil_from_days(11016, &y, &m, &d);
    assert_true(y == 2000 && m == 2 && d == 29);
    civil_from_days((1 << 18) - 3, &y, &m, &d);
    assert_true(y == 2687 && m == 9 && d == 20);
    civil_from_days(-1, &y, &m, &d);
    assert_true(y == 1969 && m == 12 && d == 31);
    civil_from_days(-719469, &y, &m, &d);
    assert_true(y == 0 && m == 2 && d == 29);
}

static void
test_leap_and_month_lengths(void **state)
{
    (void)state;
    assert_true(civil_is_leap(2000));
    assert_true(civil_is_leap(2024));
    assert_true(civil_is_leap(2400));
    assert_true(civil_is_leap(0));
    assert_true(civil_is_leap(-4));
    assert_false(civil_is_leap(1900));
    assert_false(civil_is_leap(2100));
    assert_false(civil_is_leap(2026));
    assert_false(civil_is_leap(-100));
    assert_int_equal(civil_days_in_month(2000, 2), 29);
    assert_int_equal(civil_days_in_month(1900, 2), 28);
    assert_int_equal(civil_days_in_month(2100, 2), 28);
    assert_int_equal(civil_days_in_month(2026, 4), 30);
    assert_int_equal(civil_days_in_month(2026, 12), 31);
    assert_int_equal(civil_days_in_month(2026, 0), 0);
    assert_int_equal(civil_days_in_month(2026, 13), 0);
    assert_true(civil_valid(2000, 2, 29));
    assert_false(civil_valid(1900, 2, 29));
    assert_false(civil_valid(2100, 2, 29));
    assert_false(civil_valid(2026, 2, 30));
    assert_false(civil_valid(2026, 4, 31));
    assert_false(civil_valid(2026, 1, 0));
    assert_false(civil_valid(2026, 0, 1));
    assert_false(civil_valid(2026, 13, 1));
}

/* Every day of the years 1 to 9999 against glibc, which keeps its own
   tables: timegm for date -> day, gmtime_r for day -> date and weekday,
   strftime for the ISO week; and a walk that steps the date by hand. */
static void
test_every_day_against_glibc(void **state)
{
    (void)state;
    int64_t first = civil_to_days(1, 1, 1), last = civil_to_days(9999, 12, 31);
    int64_t wy = 1, wm = 1, wd = 1; /* the walk */
    for (int64_t day = first; day <= last; day++) {
        int64_t y;
        int m, d;
        civil_from_days(day, &y, &m, &d);
        assert_true(y == wy && m == wm && d == wd);
        assert_true(civil_valid(y, m, d));
        assert_int_equal(civil_to_days(y, m, d), day);

        time_t t = (time_t)(day * 86400);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        assert_true(tm.tm_year + 1900 == y && tm.tm_mon + 1 == m && tm.tm_mday == d);
        assert_int_equal(civil_weekday(day), tm.tm_wday == 0 ? 7 : tm.tm_wday);
        if (d == 1 || d == 28) { /* timegm and strftime are slow: two days a month */
            struct tm in = {.tm_year = (int)y - 1900, .tm_mon = m - 1, .tm_mday = d};
            assert_int_equal((int64_t)timegm(&in), day * 86400);
        }
        if (m == 1 && d == 1) {
            /* December 28 is always in the year's last ISO week. */
            struct tm dec28 = {.tm_year = (int)y - 1900, .tm_mon = 11, .tm_mday = 28};
            time_t dt = timegm(&dec28);
            struct tm dtm;
            assert_non_null(gmtime_r(&dt, &dtm));
            char weeks[8];
            strftime(weeks, sizeof weeks, "%V", &dtm);
            assert_int_equal(civil_iso_weeks(y), atoi(weeks));
            /* Week 1's Monday: the ISO year of the days around it. */
            int64_t monday = civil_iso_week1_monday(y);
            assert_int_equal(civil_weekday(monday), 1);
            time_t mt = (time_t)(monday * 86400), st = (time_t)((monday - 1) * 86400);
            struct tm mtm, stm;
            assert_non_null(gmtime_r(&mt, &mtm));
            assert_non_null(gmtime_r(&st, &stm));
            char year[16], week[8], before[16];
            strftime(year, sizeof year, "%G", &mtm);
            strftime(week, sizeof week, "%V", &mtm);
            strftime(before, sizeof before, "%G", &stm);
            assert_int_equal(atoi(year), y);
            assert_int_equal(atoi(week), 1);
            assert_int_equal(atoi(before), y - 1);
        }
        static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (++wd > (wm == 2 && leap(wy) ? 29 : len[wm - 1])) {
            wd = 1;
            if (++wm > 12)
                wm = 1, wy++;
        }
    }
}

/* Beyond glibc: the round trip over the whole promised domain, in strides
   that land on every day of the month and every year of a 400-year era,
   consecutive days everywhere they are sampled, and the domain's ends. */
static void
test_round_trip_whole_domain(void **state)
{
    (void)state;
    const int64_t lo = civil_to_days(CIVIL_YEAR_MIN, 1, 1);
    const int64_t hi = civil_to_days(CIVIL_YEAR_MAX, 12, 31);
    const int64_t stride = INT64_C(1000000007); /* prime: every residue mod 146097 */
    int64_t samples = 0;
    for (int64_t day = lo; day <= hi - 1; day += stride) {
        int64_t y, y2;
        int m, d, m2, d2;
        civil_from_days(day, &y, &m, &d);
        assert_true(y >= CIVIL_YEAR_MIN && y <= CIVIL_YEAR_MAX);
        assert_true(civil_valid(y, m, d));
        assert_int_equal(civil_to_days(y, m, d), day);
        /* the next day is the next date */
        civil_from_days(day + 1, &y2, &m2, &d2);
        if (d < civil_days_in_month(y, m))
            assert_true(y2 == y && m2 == m && d2 == d + 1);
        else if (m < 12)
            assert_true(y2 == y && m2 == m + 1 && d2 == 1);
        else
            assert_true(y2 == y + 1 && m2 == 1 && d2 == 1);
        assert_int_equal(civil_weekday(day + 1), civil_weekday(day) % 7 + 1);
        samples++;
    }
    assert_true(samples > 700000);

    int64_t y;
    int m, d;
    civil_from_days(lo, &y, &m, &d);
    assert_true(y == CIVIL_YEAR_MIN && m == 1 && d == 1);
    civil_from_days(hi, &y, &m, &d);
    assert_true(y == CIVIL_YEAR_MAX && m == 12 && d == 31);
    /* 400 years are always 146097 days, far from 1970 too */
    assert_int_equal(civil_to_days(CIVIL_YEAR_MAX - 399, 5, 17) -
                         civil_to_days(CIVIL_YEAR_MAX - 799, 5, 17),
                     146097);
    assert_int_equal(
        civil_to_days(CIVIL_YEAR_MIN + 400, 5, 17) - civil_to_days(CIVIL_YEAR_MIN, 5, 17), 146097);
}

static void
test_weekdays(void **state)
{
    (void)state;
    assert_int_equal(civil_weekday(0), 4);                           /* 1970-01-01 Thursday */
    assert_int_equal(civil_weekday(-1), 3);                          /* Wednesday */
    assert_int_equal(civil_weekday(civil_to_days(2000, 2, 29)), 2);  /* Tuesday */
    assert_int_equal(civil_weekday(civil_to_days(1900, 1, 1)), 1);   /* Monday */
    assert_int_equal(civil_weekday(civil_to_days(2026, 12, 4)), 5);  /* Friday */
    assert_int_equal(civil_weekday(civil_to_days(2025, 12, 29)), 1); /* 2026-W01 */
    assert_int_equal(civil_weekday(civil_to_days(2687, 9, 20)), 2);  /* Tuesday */
    assert_int_equal(civil_weekday(civil_to_days(1582, 10, 15)), 5); /* Gregorian start */
    /* Year 0 and before: Sakamoto's method with C division, which
       events/schema.c used, makes 0000-01-01 a Sunday; it is a Saturday
       (0001-01-01 is a Monday and year 0 is leap). */
    assert_int_equal(civil_weekday(civil_to_days(0, 1, 1)), 6);
    assert_int_equal(civil_weekday(civil_to_days(-1, 12, 31)), 5);
    /* any int64 day, without overflow */
    assert_int_equal(civil_weekday(INT64_MAX), 4);
    assert_int_equal(civil_weekday(INT64_MIN), 3);
    assert_int_equal(civil_weekday(INT64_MIN + 7), 3);
}

static void
test_iso_weeks(void **state)
{
    (void)state;
    static const int long_years[] = {2004, 2009, 2015, 2020, 2026, 2032, 2037, 1976, 1981};
    for (size_t i = 0; i < sizeof long_years / sizeof *long_years; i++)
        assert_int_equal(civil_iso_weeks(long_years[i]), 53);
    static const int short_years[] = {2021, 2022, 2025, 2027, 2000, 1900, 2100};
    for (size_t i = 0; i < sizeof short_years / sizeof *short_years; i++)
        assert_int_equal(civil_iso_weeks(short_years[i]), 52);
    assert_int_equal(civil_iso_week1_monday(2026), civil_to_days(2025, 12, 29));
    assert_int_equal(civil_iso_week1_monday(2021), civil_to_days(2021, 1, 4));
    assert_int_equal(civil_iso_week1_monday(2027), civil_to_days(2027, 1, 4));
    assert_int_equal(civil_iso_week1_monday(2015), civil_to_days(2014, 12, 29));
}

static bool
period_ok(const char *s)
{
    const char *why = NULL;
    return ev_period_valid(s, strlen(s), &why);
}

static const char *
period_why(const char *s)
{
    const char *why = NULL;
    assert_false(ev_period_valid(s, strlen(s), &why));
    return why;
}

/* The names docs/EVENTS.md gives for `period`, and their edges. */
static void
test_period_grammar(void **state)
{
    (void)state;
    static const char *const accepted[] = {
        "2026",       "2026-Q4",    "2026-11",    "2026-W47",  "2026-11-22", "FY2026",
        "FY2026-Q1",  "FY2026-M01", "2026-Q1",    "2026-01",   "2026-12",    "2026-W01",
        "2026-W53",   "2020-W53",   "2024-02-29", "1970",      "9999",       "9999-12-31",
        "FY9999-M12", "FY1970-Q4",  "2687-09-20", "2000-02-29"};
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++)
        if (!period_ok(accepted[i]))
            fail_msg("refused %s", accepted[i]);
    static const char *const refused[] = {
        "",           "26",          "202",        "20265",        "2026-",      "2026-Q",
        "2026-Q0",    "2026-Q5",     "2026-q4",    "2026-00",      "2026-13",    "2026-1",
        "2026-W00",   "2026-W54",    "2026-W5",    "2027-W53",     "2026-02-29", "2026-02-30",
        "2026-04-31", "2100-02-29",  "1900-02-29", "1969",         "1969-12",    "1969-12-31",
        "FY2026-11",  "FY2026-W01",  "FY2026-M13", "FY2026-M00",   "fy2026",     "FY26",
        "2026-M01",   "2026-11-22x", "2026/11",    "FY2026-11-22", "+2026",      "2026-11-2"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (period_ok(refused[i]))
            fail_msg("accepted %s", refused[i]);
    assert_string_equal(period_why("2027-W53"), "that year has 52 ISO weeks");
    assert_string_equal(period_why("2026-W54"), "week must be W01..W53");
    assert_string_equal(period_why("2026-Q5"), "quarter must be Q1..Q4");
    assert_string_equal(period_why("2026-13"), "month must be 01..12");
    assert_string_equal(period_why("FY2026-M13"), "fiscal month must be M01..M12");
    assert_string_equal(period_why("2026-02-30"), "no such day in that month");
    /* a length is a length: bytes after it are not read */
    const char *why;
    assert_true(ev_period_valid("2026-Q4garbage", 7, &why));
    assert_false(ev_period_valid("2026-Q4", 6, &why));
}

static void
test_date_names(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_true(ev_date_valid("2024-02-29", 10, &why));
    assert_true(ev_date_valid("1970-01-01", 10, &why));
    assert_true(ev_date_valid("9999-12-31", 10, &why));
    assert_false(ev_date_valid("2026-02-29", 10, &why));
    assert_string_equal(why, "no such day in that month");
    assert_false(ev_date_valid("1969-12-31", 10, &why));
    assert_string_equal(why, "year before 1970");
    assert_false(ev_date_valid("2026-13-01", 10, &why));
    assert_string_equal(why, "month must be 01..12");
    assert_false(ev_date_valid("2026-1-01", 9, &why));
    assert_string_equal(why, "expected YYYY-MM-DD");
    assert_false(ev_date_valid("2026/01/01", 10, &why));
    assert_string_equal(why, "expected YYYY-MM-DD");
    assert_false(ev_date_valid("2026-11", 7, &why));
    assert_string_equal(why, "expected YYYY-MM-DD");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_dates),
        cmocka_unit_test(test_leap_and_month_lengths),
        cmocka_unit_test(test_every_day_against_glibc),
        cmocka_unit_test(test_round_trip_whole_domain),
        cmocka_unit_test(test_weekdays),
        cmocka_unit_test(test_iso_weeks),
        cmocka_unit_test(test_period_grammar),
        cmocka_unit_test(test_date_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
