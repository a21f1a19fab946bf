/*  gen_calendar: local days, and China's official working-day calendar.

    Days are numbered from 1970-01-01 (Howard Hinnant's civil-date algorithms).
    The history is local to Asia/Shanghai, a fixed UTC+8 with no daylight
    saving, so local time is UTC plus eight hours.

    The holidays and make-up working days are the State Council's arrangements
    for 2025 (国办发明电〔2024〕12号) and 2026 (published November 2025). Other
    years have weekends only; pacer-gen says so on stderr when a history
    reaches one. */

#include "clients/gen/gen.h"
#include "events/civil.h"

#include <stdio.h>
#include <string.h>

/* The date arithmetic is events/civil.c's, the one the daemon's calendar
   uses, so that a generated history and pacerd agree on every day. */
int64_t
gen_days_from_civil(int y, int m, int d)
{
    return civil_to_days(y, m, d);
}

void
gen_civil_from_days(int64_t day, int *y, int *m, int *d)
{
    int64_t year;
    civil_from_days(day, &year, m, d);
    *y = (int)year;
}

int
gen_weekday(int64_t day)
{
    return civil_weekday(day) - 1; /* 0 Monday .. 6 Sunday */
}

int64_t
gen_local_ms(int64_t day, int64_t ms_of_day)
{
    return day * GEN_DAY_MS + ms_of_day - GEN_TZ_OFFSET_MS;
}

int64_t
gen_day_of(int64_t utc_ms)
{
    int64_t local = utc_ms + GEN_TZ_OFFSET_MS;
    return local >= 0 ? local / GEN_DAY_MS : -((-local + GEN_DAY_MS - 1) / GEN_DAY_MS);
}

bool
gen_parse_date(const char *text, int64_t *day)
{
    int y, m, d;
    char tail;
    if (strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    if (text[4] != '-' || text[7] != '-' || y < 1971 || y > 9998 || m < 1 || m > 12 || d < 1)
        return false;
    int64_t z = gen_days_from_civil(y, m, d);
    int y2, m2, d2;
    gen_civil_from_days(z, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d)
        return false;
    *day = z;
    return true;
}

void
gen_format_date(int64_t day, char out[11])
{
    int y, m, d;
    gen_civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 13u, (unsigned)d % 32u);
}

int64_t
gen_month_start(int64_t day)
{
    int y, m, d;
    gen_civil_from_days(day, &y, &m, &d);
    return gen_days_from_civil(y, m, 1);
}

int64_t
gen_next_month(int64_t day)
{
    int y, m, d;
    gen_civil_from_days(day, &y, &m, &d);
    return m == 12 ? gen_days_from_civil(y + 1, 1, 1) : gen_days_from_civil(y, m + 1, 1);
}

int64_t
gen_quarter_start(int64_t day)
{
    int y, m, d;
    gen_civil_from_days(day, &y, &m, &d);
    return gen_days_from_civil(y, (m - 1) / 3 * 3 + 1, 1);
}

/* A run of days of one kind, first to last included. */
typedef struct {
    int y, m1, d1, m2, d2;
    gen_day_kind_t kind;
    const char *name;
} gen_day_run_t;

static const gen_day_run_t official_days[] = {
    {2025, 1, 1, 1, 1, GEN_DAY_HOLIDAY, "元旦 New Year's Day"},
    {2025, 1, 26, 1, 26, GEN_DAY_MAKEUP, "春节调休上班 Spring Festival make-up workday"},
    {2025, 1, 28, 2, 4, GEN_DAY_HOLIDAY, "春节 Spring Festival"},
    {2025, 2, 8, 2, 8, GEN_DAY_MAKEUP, "春节调休上班 Spring Festival make-up workday"},
    {2025, 4, 4, 4, 6, GEN_DAY_HOLIDAY, "清明节 Qingming Festival"},
    {2025, 4, 27, 4, 27, GEN_DAY_MAKEUP, "劳动节调休上班 Labour Day make-up workday"},
    {2025, 5, 1, 5, 5, GEN_DAY_HOLIDAY, "劳动节 Labour Day"},
    {2025, 5, 31, 6, 2, GEN_DAY_HOLIDAY, "端午节 Dragon Boat Festival"},
    {2025, 9, 28, 9, 28, GEN_DAY_MAKEUP, "国庆节调休上班 National Day make-up workday"},
    {2025, 10, 1, 10, 8, GEN_DAY_HOLIDAY, "国庆节、中秋节 National Day and Mid-Autumn Festival"},
    {2025, 10, 11, 10, 11, GEN_DAY_MAKEUP, "国庆节调休上班 National Day make-up workday"},
    {2026, 1, 1, 1, 3, GEN_DAY_HOLIDAY, "元旦 New Year's Day"},
    {2026, 1, 4, 1, 4, GEN_DAY_MAKEUP, "元旦调休上班 New Year make-up workday"},
    {2026, 2, 14, 2, 14, GEN_DAY_MAKEUP, "春节调休上班 Spring Festival make-up workday"},
    {2026, 2, 15, 2, 23, GEN_DAY_HOLIDAY, "春节 Spring Festival"},
    {2026, 2, 28, 2, 28, GEN_DAY_MAKEUP, "春节调休上班 Spring Festival make-up workday"},
    {2026, 4, 4, 4, 6, GEN_DAY_HOLIDAY, "清明节 Qingming Festival"},
    {2026, 5, 1, 5, 5, GEN_DAY_HOLIDAY, "劳动节 Labour Day"},
    {2026, 5, 9, 5, 9, GEN_DAY_MAKEUP, "劳动节调休上班 Labour Day make-up workday"},
    {2026, 6, 19, 6, 21, GEN_DAY_HOLIDAY, "端午节 Dragon Boat Festival"},
    {2026, 9, 20, 9, 20, GEN_DAY_MAKEUP, "国庆节调休上班 National Day make-up workday"},
    {2026, 9, 25, 9, 27, GEN_DAY_HOLIDAY, "中秋节 Mid-Autumn Festival"},
    {2026, 10, 1, 10, 7, GEN_DAY_HOLIDAY, "国庆节 National Day"},
    {2026, 10, 10, 10, 10, GEN_DAY_MAKEUP, "国庆节调休上班 National Day make-up workday"},
};

bool
gen_calendar_covers(int year)
{
    return year == 2025 || year == 2026;
}

/* The covered years' days, looked up once: the simulation asks about each
   day many times. */
#define COVERED_FIRST 20089 /* 2025-01-01 */
#define COVERED_DAYS  730   /* 2025 and 2026 */

static int8_t covered_kind[COVERED_DAYS]; /* kind + 1; 0: not looked up yet */
static int8_t covered_run[COVERED_DAYS];  /* index in official_days, -1: none */

static gen_day_kind_t
day_kind_lookup(int64_t day, const char **name)
{
    *name = NULL;
    int y, m, d;
    gen_civil_from_days(day, &y, &m, &d);
    for (size_t i = 0; i < sizeof official_days / sizeof official_days[0]; i++) {
        const gen_day_run_t *r = &official_days[i];
        if (r->y != y)
            continue;
        if (day >= gen_days_from_civil(y, r->m1, r->d1) &&
            day <= gen_days_from_civil(y, r->m2, r->d2)) {
            *name = r->name;
            return r->kind;
        }
    }
    return gen_weekday(day) >= 5 ? GEN_DAY_WEEKEND : GEN_DAY_WORK;
}

gen_day_kind_t
gen_day_kind(int64_t day, const char **name)
{
    int64_t i = day - COVERED_FIRST;
    if (i < 0 || i >= COVERED_DAYS) {
        *name = NULL;
        return gen_weekday(day) >= 5 ? GEN_DAY_WEEKEND : GEN_DAY_WORK;
    }
    if (!covered_kind[i]) {
        gen_day_kind_t kind = day_kind_lookup(day, name);
        covered_kind[i] = (int8_t)(kind + 1);
        covered_run[i] = -1;
        for (size_t r = 0; *name && r < sizeof official_days / sizeof official_days[0]; r++)
            if (official_days[r].name == *name)
                covered_run[i] = (int8_t)r;
    }
    *name = covered_run[i] >= 0 ? official_days[covered_run[i]].name : NULL;
    return (gen_day_kind_t)(covered_kind[i] - 1);
}

bool
gen_is_working(int64_t day)
{
    const char *name;
    gen_day_kind_t kind = gen_day_kind(day, &name);
    return kind == GEN_DAY_WORK || kind == GEN_DAY_MAKEUP;
}
