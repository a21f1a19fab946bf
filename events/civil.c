/*  civil: dates of the proleptic Gregorian calendar as day numbers.

    Hinnant's algorithms shift the year to start on March 1, so that the
    leap day is the last day of its year and month lengths follow the
    153-day pattern (31, 30, 31, 30, 31 twice, then the short month). A
    400-year era has exactly 146097 days; the era of a year is taken with
    floor division, which is what makes the same formulas right for years
    before 0 (C's `/` truncates towards zero). Day 0 is 1970-01-01, which
    lies 719468 days after 0000-03-01.

    Three copies of this arithmetic used to exist (events/schema.c,
    projections/calendar.c, clients/cli_time.c). They agreed over the years
    each caller allowed; schema.c's weekday (Sakamoto's method with C
    division) was wrong for negative years, so the floor-division forms of
    calendar.c are the ones kept. tests/test_civil.c checks the whole range. */

#include "events/civil.h"

static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool
civil_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
civil_days_in_month(int64_t year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return month == 2 && civil_is_leap(year) ? 29 : days[month - 1];
}

bool
civil_valid(int64_t year, int month, int day)
{
    return day >= 1 && day <= civil_days_in_month(year, month);
}

int64_t
civil_to_days(int64_t year, int month, int day)
{
    year -= month <= 2;
    const int64_t era = floor_div(year, 400);
    const int64_t yoe = year - era * 400;                                              /* 0..399 */
    const int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1; /* 0..365 */
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void
civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    const int64_t z = days + 719468;
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;                                      /* 0..146096 */
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    const int64_t mp = (5 * doy + 2) / 153;                                    /* 0..11 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

int
civil_weekday(int64_t days)
{
    /* Day 0 was a Thursday (4); the remainder is taken towards minus
       infinity by hand so that INT64_MIN + 3 cannot be asked for. */
    int64_t r = days % 7;
    if (r < 0)
        r += 7;
    return (int)((r + 3) % 7) + 1;
}

int64_t
civil_iso_week1_monday(int64_t year)
{
    const int64_t jan4 = civil_to_days(year, 1, 4);
    return jan4 - (civil_weekday(jan4) - 1);
}

int
civil_iso_weeks(int64_t year)
{
    return (int)((civil_iso_week1_monday(year + 1) - civil_iso_week1_monday(year)) / 7);
}
