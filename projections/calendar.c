/*  =========================================================================
    calendar - periods and a working-day calendar in one local time zone

    How it works. All date arithmetic is done on local day numbers (days
    since 1970-01-01 in the proleptic Gregorian calendar) with the civil
    conversions of events/civil.h; the zone enters only where a day number
    meets the time line, in s_day_start (day -> first UTC second of that
    local day) and s_local_day_ms (instant -> the day whose start it last
    passed). Every period is a kind plus a seq, its ordinal among periods
    of that kind; s_period_days maps it to a range of day numbers and
    s_period_build to UTC instants and a name, so parsing, containment and
    stepping back all end in the same function and cannot disagree about
    where a period starts.

    Invariants:
    - overrides is sorted by day with no duplicates and no
      CALENDAR_DAY_DEFAULT entries, so counting working days in a range
      is the weekday arithmetic plus a binary search and a short scan.
    - cache[kind] is empty (start_ms == end_ms) or a period of that kind
      that s_period_build returned; the zone cannot change while a
      calendar lives, so a cached period never goes stale.
    - day_memo[i] is empty or holds s_day_start_compute of a day whose
      number is i modulo DAY_MEMO_SIZE.
    - s_zone_users counts live calendars, all of which use s_zone.
    =========================================================================
*/

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L //  localtime_r, tzset, setenv
#endif

#include "projections/calendar.h"

#include "events/civil.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define YEAR_MIN        1900
#define YEAR_MAX        9999
#define ZONE_MAX        128
#define SECONDS_PER_DAY 86400

//  No zone has ever been more than a day away from UTC; 30 hours brackets
//  every local midnight for the binary search in s_day_start.
#define OFFSET_BOUND (30 * 3600)

typedef struct {
    int64_t day;
    calendar_day_t kind;
} calendar_override_t;

//  Day starts are remembered in a direct-mapped table indexed by the low
//  bits of the day number: lookups out of time order (an import of old
//  orders, a report over last year) keep asking about the same few
//  thousand days, and a hit costs no call into glibc.
#define DAY_MEMO_SIZE 2048 //  a power of two; 5.6 years of days, 32 KiB

typedef struct {
    int64_t day; //  INT64_MIN: empty
    int64_t start;
} calendar_day_memo_t;

struct _calendar_t {
    char zone[ZONE_MAX];
    int fiscal_start_month;
    unsigned weekdays;
    calendar_override_t *overrides;
    size_t override_count;
    size_t override_alloc;
    int64_t offset_hint; //  UTC offset (s) at the last day start found
    period_t cache[PERIOD_KIND_COUNT];
    calendar_day_memo_t day_memo[DAY_MEMO_SIZE];
};

//  The process-wide zone: glibc's localtime_r reads TZ, which is global.
static char s_zone[ZONE_MAX];
static int s_zone_users;

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

//  --------------------------------------------------------------------------
//  Period arithmetic, zone-free (dates themselves: events/civil.h)

static int64_t
s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
s_floor_mod(int64_t a, int64_t b)
{
    return a - s_floor_div(a, b) * b;
}

//  Weeks are numbered by their Monday: week seq w starts on day 7w - 3.
static int64_t
s_week_seq(int64_t day)
{
    return s_floor_div(day + 3, 7);
}

//  Month seq: y * 12 + (m - 1).
static int64_t
s_month_first_day(int64_t month_seq)
{
    return civil_to_days(s_floor_div(month_seq, 12), (int)s_floor_mod(month_seq, 12) + 1, 1);
}

//  The month seq in which fiscal year fy starts. FY names the calendar year
//  in which the fiscal year ends, so a year not starting in January starts
//  in the calendar year before its name.
static int64_t
s_fiscal_first_month(const calendar_t *self, int64_t fy)
{
    const int64_t start_year = self->fiscal_start_month == 1 ? fy : fy - 1;
    return start_year * 12 + (self->fiscal_start_month - 1);
}

//  --------------------------------------------------------------------------
//  The zone: the only place local time meets UTC

//  Local wall-clock seconds since 1970-01-01T00:00 local at UTC second t.
static int64_t
s_local_seconds(int64_t t)
{
    const time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm))
        return t; //  beyond glibc's years; int64 ms never gets here
    return civil_to_days(tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday) * SECONDS_PER_DAY +
           tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

static int64_t
s_local_day(int64_t t)
{
    return s_floor_div(s_local_seconds(t), SECONDS_PER_DAY);
}

//  First UTC second at which the local clock shows day `day` or later.
//  Fast path: the offset of the last day start, then the offset in force at
//  that guess; the answer is accepted only if the second before it is still
//  on an earlier local time, which rejects the second of two midnights.
//  Otherwise (midnight skipped or repeated by a DST change) a binary search
//  for the first second at or past local midnight.
static int64_t
s_day_start_compute(calendar_t *self, int64_t day)
{
    const int64_t midnight = day * SECONDS_PER_DAY;
    int64_t t = midnight - self->offset_hint;
    for (int attempt = 0; attempt < 2; attempt++) {
        const int64_t local = s_local_seconds(t);
        if (local == midnight && s_local_seconds(t - 1) < midnight) {
            self->offset_hint = midnight - t;
            return t;
        }
        t = midnight - (local - t);
    }
    int64_t lo = midnight - OFFSET_BOUND; //  always before local midnight
    int64_t hi = midnight + OFFSET_BOUND; //  always at or after it
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (s_local_seconds(mid) >= midnight)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static int64_t
s_day_start(calendar_t *self, int64_t day)
{
    calendar_day_memo_t *memo = &self->day_memo[(uint64_t)day & (DAY_MEMO_SIZE - 1)];
    if (memo->day != day) {
        memo->start = s_day_start_compute(self, day);
        memo->day = day;
    }
    return memo->start;
}

static int64_t
s_day_start_ms(calendar_t *self, int64_t day)
{
    return s_day_start(self, day) * 1000;
}

//  The local day holding t_ms, defined by the day starts themselves (the
//  day d with start(d) <= t_ms < start(d + 1)) so that a period found for
//  an instant always contains it. The guess from the offset hint is right
//  unless an offset change lies between, and then a step fixes it.
static int64_t
s_local_day_ms(calendar_t *self, int64_t t_ms)
{
    const int64_t t = s_floor_div(t_ms, 1000);
    int64_t day = s_floor_div(t + self->offset_hint, SECONDS_PER_DAY);
    for (int step = 0; step < 4; step++) {
        if (t < s_day_start(self, day))
            day--;
        else if (t >= s_day_start(self, day + 1))
            day++;
        else
            return day;
    }
    return s_local_day(t); //  a zone whose clock went back across midnight
}

//  First local day that starts at or after t_ms.
static int64_t
s_first_day_from(calendar_t *self, int64_t t_ms)
{
    //  Compared in seconds: t_ms may be near the ends of int64, where a
    //  day start in milliseconds would overflow.
    const int64_t t_ceil = t_ms / 1000 + (t_ms % 1000 > 0);
    const int64_t day = s_local_day_ms(self, t_ms);
    return s_day_start(self, day) >= t_ceil ? day : day + 1;
}

//  --------------------------------------------------------------------------
//  Periods as (kind, seq)

//  Day range [*first, *end) and label year of a period; false for an
//  unknown kind.
static bool
s_period_days(const calendar_t *self, period_kind_t kind, int64_t seq, int64_t *first, int64_t *end,
              int64_t *label_year)
{
    int64_t month = 0, months = 0;
    switch (kind) {
    case PERIOD_YEAR:
        month = seq * 12, months = 12, *label_year = seq;
        break;
    case PERIOD_QUARTER:
        month = seq * 3, months = 3, *label_year = s_floor_div(seq, 4);
        break;
    case PERIOD_MONTH:
        month = seq, months = 1, *label_year = s_floor_div(seq, 12);
        break;
    case PERIOD_FISCAL_YEAR:
        month = s_fiscal_first_month(self, seq), months = 12, *label_year = seq;
        break;
    case PERIOD_FISCAL_QUARTER:
        *label_year = s_floor_div(seq, 4);
        month = s_fiscal_first_month(self, *label_year) + 3 * s_floor_mod(seq, 4), months = 3;
        break;
    case PERIOD_FISCAL_MONTH:
        *label_year = s_floor_div(seq, 12);
        month = s_fiscal_first_month(self, *label_year) + s_floor_mod(seq, 12), months = 1;
        break;
    case PERIOD_WEEK: {
        *first = 7 * seq - 3;
        *end = *first + 7;
        int64_t y;
        int m, d;
        civil_from_days(*first + 3, &y, &m, &d); //  the Thursday names the week-year
        *label_year = y;
        return true;
    }
    case PERIOD_DAY: {
        *first = seq;
        *end = seq + 1;
        int64_t y;
        int m, d;
        civil_from_days(seq, &y, &m, &d);
        *label_year = y;
        return true;
    }
    default:
        return false;
    }
    *first = s_month_first_day(month);
    *end = s_month_first_day(month + months);
    return true;
}

static void
s_period_name(period_kind_t kind, int64_t seq, int64_t first_day, char *name)
{
    int64_t y;
    int m, d;
    civil_from_days(first_day, &y, &m, &d);
    //  Years are 1900..9999 here, so every name fits PERIOD_NAME_MAX; the
    //  casts to unsigned short tell the compiler the fields are short.
    switch (kind) {
    case PERIOD_YEAR:
        snprintf(name, PERIOD_NAME_MAX, "%04hu", (unsigned short)seq);
        break;
    case PERIOD_QUARTER:
        snprintf(name, PERIOD_NAME_MAX, "%04hu-Q%hu", (unsigned short)y,
                 (unsigned short)(s_floor_mod(seq, 4) + 1));
        break;
    case PERIOD_MONTH:
        snprintf(name, PERIOD_NAME_MAX, "%04hu-%02hu", (unsigned short)y, (unsigned short)m);
        break;
    case PERIOD_WEEK: {
        int64_t wy;
        int wm, wd;
        civil_from_days(first_day + 3, &wy, &wm, &wd);
        const int64_t week = (first_day + 3 - civil_to_days(wy, 1, 1)) / 7 + 1;
        snprintf(name, PERIOD_NAME_MAX, "%04hu-W%02hu", (unsigned short)wy, (unsigned short)week);
        break;
    }
    case PERIOD_DAY:
        snprintf(name, PERIOD_NAME_MAX, "%04hu-%02hu-%02hu", (unsigned short)y, (unsigned short)m,
                 (unsigned short)d);
        break;
    case PERIOD_FISCAL_YEAR:
        snprintf(name, PERIOD_NAME_MAX, "FY%04hu", (unsigned short)seq);
        break;
    case PERIOD_FISCAL_QUARTER:
        snprintf(name, PERIOD_NAME_MAX, "FY%04hu-Q%hu", (unsigned short)s_floor_div(seq, 4),
                 (unsigned short)(s_floor_mod(seq, 4) + 1));
        break;
    case PERIOD_FISCAL_MONTH:
        snprintf(name, PERIOD_NAME_MAX, "FY%04hu-M%02hu", (unsigned short)s_floor_div(seq, 12),
                 (unsigned short)(s_floor_mod(seq, 12) + 1));
        break;
    default:
        name[0] = '\0';
    }
}

static int
s_period_build(calendar_t *self, period_kind_t kind, int64_t seq, period_t *out)
{
    int64_t first, end, label_year;
    if (!s_period_days(self, kind, seq, &first, &end, &label_year))
        return EINVAL;
    if (label_year < YEAR_MIN || label_year > YEAR_MAX)
        return ERANGE;
    out->kind = kind;
    out->seq = seq;
    out->start_ms = s_day_start_ms(self, first);
    out->end_ms = s_day_start_ms(self, end);
    s_period_name(kind, seq, first, out->name);
    return 0;
}

//  Seq of the period of a kind that holds local day `day`.
static int64_t
s_period_seq_of_day(const calendar_t *self, period_kind_t kind, int64_t day)
{
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    const int64_t month = y * 12 + (m - 1);
    //  Months since the start of a fiscal year beginning in year 0.
    const int64_t fiscal_month = month - (self->fiscal_start_month - 1);
    const int64_t fy = s_floor_div(fiscal_month, 12) + (self->fiscal_start_month == 1 ? 0 : 1);
    const int64_t month_of_fy = s_floor_mod(fiscal_month, 12);
    switch (kind) {
    case PERIOD_YEAR:
        return y;
    case PERIOD_QUARTER:
        return y * 4LL + (m - 1) / 3;
    case PERIOD_MONTH:
        return month;
    case PERIOD_WEEK:
        return s_week_seq(day);
    case PERIOD_DAY:
        return day;
    case PERIOD_FISCAL_YEAR:
        return fy;
    case PERIOD_FISCAL_QUARTER:
        return fy * 4 + month_of_fy / 3;
    case PERIOD_FISCAL_MONTH:
        return fy * 12 + month_of_fy;
    default:
        return 0;
    }
}

//  --------------------------------------------------------------------------
//  Construction

//  IANA names are ASCII letters, digits and "/_-+"; refusing anything else
//  (and "..") keeps the name from escaping the tz directory or being read
//  by glibc as a POSIX TZ rule string.
static bool
s_zone_name_valid(const char *name)
{
    if (!name[0] || name[0] == '/' || strstr(name, "..") || strlen(name) >= ZONE_MAX)
        return false;
    for (const char *c = name; *c; c++) {
        const bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                        (*c >= '0' && *c <= '9') || *c == '/' || *c == '_' || *c == '-' ||
                        *c == '+';
        if (!ok)
            return false;
    }
    return true;
}

//  True if the tz database holds a TZif file for the zone, where glibc
//  will look for it.
static bool
s_zone_file_exists(const char *name)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !dir[0])
        dir = "/usr/share/zoneinfo";
    char path[ZONE_MAX + 256];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return false;
    FILE *file = fopen(path, "rb");
    if (!file)
        return false;
    char magic[4];
    const bool tzif = fread(magic, 1, 4, file) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(file);
    return tzif;
}

//  Make `name` the process's zone, or check that it already is.
static int
s_zone_acquire(const char *name, char *err, size_t errlen)
{
    if (s_zone_users > 0) {
        if (strcmp(s_zone, name) != 0) {
            s_error(err, errlen, "time zone %s: only one zone per process, and %s is in use", name,
                    s_zone);
            return EINVAL;
        }
        s_zone_users++;
        return 0;
    }
    char tz[ZONE_MAX + 1];
    snprintf(tz, sizeof tz, ":%s", name);
    if (setenv("TZ", tz, 1) != 0) {
        s_error(err, errlen, "time zone %s: cannot set TZ: %s", name, strerror(errno));
        return ENOMEM;
    }
    tzset();
    snprintf(s_zone, sizeof s_zone, "%s", name);
    s_zone_users = 1;
    return 0;
}

calendar_t *
calendar_new(const char *tz_name, int fiscal_start_month, char *err, size_t errlen)
{
    if (!tz_name || !s_zone_name_valid(tz_name)) {
        s_error(err, errlen, "time zone \"%.64s\": not an IANA zone name like Asia/Shanghai",
                tz_name ? tz_name : "(null)");
        return NULL;
    }
    if (strncmp(tz_name, "right/", 6) == 0) {
        s_error(err, errlen, "time zone %s: leap-second zones are not supported", tz_name);
        return NULL;
    }
    if (!s_zone_file_exists(tz_name)) {
        s_error(err, errlen, "time zone %s: unknown (not in the tz database)", tz_name);
        return NULL;
    }
    if (fiscal_start_month < 1 || fiscal_start_month > 12) {
        s_error(err, errlen, "fiscal start month %d: must be 1..12", fiscal_start_month);
        return NULL;
    }
    calendar_t *self = calloc(1, sizeof *self);
    if (!self) {
        s_error(err, errlen, "calendar: out of memory");
        return NULL;
    }
    if (s_zone_acquire(tz_name, err, errlen) != 0) {
        free(self);
        return NULL;
    }
    snprintf(self->zone, sizeof self->zone, "%s", tz_name);
    self->fiscal_start_month = fiscal_start_month;
    self->weekdays = CALENDAR_WEEKDAYS_DEFAULT;
    self->offset_hint = s_local_seconds(0); //  any start will do; it adapts
    for (size_t i = 0; i < DAY_MEMO_SIZE; i++)
        self->day_memo[i].day = INT64_MIN;
    return self;
}

void
calendar_destroy(calendar_t **self_p)
{
    assert(self_p);
    calendar_t *self = *self_p;
    if (!self)
        return;
    assert(s_zone_users > 0);
    s_zone_users--;
    free(self->overrides);
    free(self);
    *self_p = NULL;
}

const char *
calendar_zone(calendar_t *self)
{
    assert(self);
    return self->zone;
}

int
calendar_fiscal_start_month(calendar_t *self)
{
    assert(self);
    return self->fiscal_start_month;
}

const char *
calendar_kind_name(period_kind_t kind)
{
    static const char *names[PERIOD_KIND_COUNT] = {
        "year", "quarter", "month", "week", "day", "fiscal year", "fiscal quarter", "fiscal month"};
    return (unsigned)kind < PERIOD_KIND_COUNT ? names[kind] : "unknown";
}

//  --------------------------------------------------------------------------
//  Parsing

//  Read a run of decimal digits (at most 9); *width gets its length.
static int
s_read_number(const char **cursor, int *width)
{
    int value = 0;
    *width = 0;
    while (**cursor >= '0' && **cursor <= '9' && *width < 9) {
        value = value * 10 + (**cursor - '0');
        (*cursor)++;
        (*width)++;
    }
    return value;
}

static bool
s_letter(const char **cursor, char upper)
{
    if (**cursor == upper || **cursor == upper + ('a' - 'A')) {
        (*cursor)++;
        return true;
    }
    return false;
}

//  Parse the part after "YYYY-" of a calendar name into kind and seq.
static int
s_parse_calendar_part(const char *name, int year, const char *c, period_kind_t *kind, int64_t *seq,
                      char *err, size_t errlen)
{
    int value, width;
    if (s_letter(&c, 'Q')) {
        value = s_read_number(&c, &width);
        if (width != 1 || value < 1 || value > 4 || *c) {
            s_error(err, errlen, "%.40s: quarter must be Q1..Q4", name);
            return EINVAL;
        }
        *kind = PERIOD_QUARTER, *seq = year * 4LL + value - 1;
        return 0;
    }
    if (s_letter(&c, 'W')) {
        value = s_read_number(&c, &width);
        if (width != 2 || value < 1 || *c) {
            s_error(err, errlen, "%.40s: week must be W01..W53", name);
            return EINVAL;
        }
        const int weeks = civil_iso_weeks(year);
        if (value > weeks) {
            s_error(err, errlen, "%.40s: %d has %d ISO weeks", name, year, weeks);
            return EINVAL;
        }
        *kind = PERIOD_WEEK, *seq = s_week_seq(civil_iso_week1_monday(year) + 7LL * (value - 1));
        return 0;
    }
    const int month = s_read_number(&c, &width);
    if (width != 2 || month < 1 || month > 12 || (*c && *c != '-')) {
        s_error(err, errlen, "%.40s: month must be 01..12", name);
        return EINVAL;
    }
    if (!*c) {
        *kind = PERIOD_MONTH, *seq = year * 12LL + month - 1;
        return 0;
    }
    c++;
    const int day = s_read_number(&c, &width);
    const int days = civil_days_in_month(year, month);
    if (width != 2 || day < 1 || day > days || *c) {
        s_error(err, errlen, "%.40s: day must be 01..%02d (%04d-%02d has %d days)", name, days,
                year, month, days);
        return EINVAL;
    }
    *kind = PERIOD_DAY, *seq = civil_to_days(year, month, day);
    return 0;
}

//  Parse the part after "FYYYYY-" of a fiscal name into kind and seq.
static int
s_parse_fiscal_part(const char *name, int year, const char *c, period_kind_t *kind, int64_t *seq,
                    char *err, size_t errlen)
{
    int value, width;
    if (s_letter(&c, 'Q')) {
        value = s_read_number(&c, &width);
        if (width != 1 || value < 1 || value > 4 || *c) {
            s_error(err, errlen, "%.40s: fiscal quarter must be Q1..Q4", name);
            return EINVAL;
        }
        *kind = PERIOD_FISCAL_QUARTER, *seq = year * 4LL + value - 1;
        return 0;
    }
    if (s_letter(&c, 'M')) {
        value = s_read_number(&c, &width);
        if (width != 2 || value < 1 || value > 12 || *c) {
            s_error(err, errlen, "%.40s: fiscal month must be M01..M12", name);
            return EINVAL;
        }
        *kind = PERIOD_FISCAL_MONTH, *seq = year * 12LL + value - 1;
        return 0;
    }
    s_error(err, errlen, "%.40s: a fiscal year is followed by -Q1..-Q4 or -M01..-M12", name);
    return EINVAL;
}

int
calendar_period_parse(calendar_t *self, const char *name, period_t *out, char *err, size_t errlen)
{
    assert(self);
    assert(out);
    if (!name) {
        s_error(err, errlen, "period name missing");
        return EINVAL;
    }
    const char *c = name;
    const bool fiscal = s_letter(&c, 'F') && s_letter(&c, 'Y');
    if (!fiscal)
        c = name;
    int width;
    const int year = s_read_number(&c, &width);
    if (width != 4 || (*c && *c != '-')) {
        s_error(err, errlen,
                "%.40s: not a period name (expected e.g. 2026, 2026-Q4, 2026-11, 2026-W47, "
                "2026-11-22, FY2026, FY2026-Q1, FY2026-M01)",
                name);
        return EINVAL;
    }
    if (year < YEAR_MIN) {
        s_error(err, errlen, "%.40s: year must be %d..%d", name, YEAR_MIN, YEAR_MAX);
        return ERANGE;
    }
    period_kind_t kind;
    int64_t seq;
    int rc = 0;
    if (!*c) {
        kind = fiscal ? PERIOD_FISCAL_YEAR : PERIOD_YEAR;
        seq = year;
    } else if (fiscal)
        rc = s_parse_fiscal_part(name, year, c + 1, &kind, &seq, err, errlen);
    else
        rc = s_parse_calendar_part(name, year, c + 1, &kind, &seq, err, errlen);
    if (rc != 0)
        return rc;
    rc = s_period_build(self, kind, seq, out);
    if (rc == ERANGE)
        s_error(err, errlen, "%.40s: outside the years %d..%d", name, YEAR_MIN, YEAR_MAX);
    return rc;
}

//  --------------------------------------------------------------------------
//  Lookups

int
calendar_period_containing(calendar_t *self, period_kind_t kind, int64_t t_ms, period_t *out)
{
    assert(self);
    assert(out);
    if ((unsigned)kind >= PERIOD_KIND_COUNT)
        return EINVAL;
    period_t *cached = &self->cache[kind];
    if (t_ms >= cached->start_ms && t_ms < cached->end_ms) {
        *out = *cached;
        return 0;
    }
    const int64_t day = s_local_day_ms(self, t_ms);
    int64_t seq = s_period_seq_of_day(self, kind, day);
    int rc = s_period_build(self, kind, seq, out);
    //  The day was found by its start, so the period holds t; the steps
    //  matter only where s_local_day_ms fell back on the local date, in a
    //  zone whose clock once went back across midnight.
    for (int step = 0; rc == 0 && step < 2; step++) {
        if (t_ms < out->start_ms)
            rc = s_period_build(self, kind, --seq, out);
        else if (t_ms >= out->end_ms)
            rc = s_period_build(self, kind, ++seq, out);
        else
            break;
    }
    if (rc == 0)
        *cached = *out;
    return rc;
}

int
calendar_period_previous(calendar_t *self, const period_t *p, int n, period_t *out)
{
    assert(self);
    assert(p);
    assert(out);
    return s_period_build(self, p->kind, p->seq - n, out);
}

//  --------------------------------------------------------------------------
//  Working days

//  Index of the first override with day >= `day`.
static size_t
s_override_lower_bound(const calendar_t *self, int64_t day)
{
    size_t lo = 0, hi = self->override_count;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (self->overrides[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool
s_weekday_worked(const calendar_t *self, int64_t day)
{
    return (self->weekdays >> (civil_weekday(day) - 1)) & 1u;
}

static bool
s_day_worked(const calendar_t *self, int64_t day)
{
    const size_t i = s_override_lower_bound(self, day);
    if (i < self->override_count && self->overrides[i].day == day)
        return self->overrides[i].kind == CALENDAR_DAY_WORKING;
    return s_weekday_worked(self, day);
}

//  Working days among local days [first, end): whole weeks by the mask's
//  population count, the leftover days one by one, then the overrides in
//  range, each of which changes the count only if it disagrees with its
//  weekday.
static int64_t
s_working_count(const calendar_t *self, int64_t first, int64_t end)
{
    if (end <= first)
        return 0;
    int per_week = 0;
    for (int bit = 0; bit < 7; bit++)
        per_week += (self->weekdays >> bit) & 1u;
    const int64_t days = end - first;
    int64_t count = days / 7 * per_week;
    for (int64_t day = first + days / 7 * 7; day < end; day++)
        count += s_weekday_worked(self, day);
    for (size_t i = s_override_lower_bound(self, first);
         i < self->override_count && self->overrides[i].day < end; i++) {
        const bool weekday = s_weekday_worked(self, self->overrides[i].day);
        if (self->overrides[i].kind == CALENDAR_DAY_HOLIDAY && weekday)
            count--;
        else if (self->overrides[i].kind == CALENDAR_DAY_WORKING && !weekday)
            count++;
    }
    return count;
}

int
calendar_set_weekdays(calendar_t *self, unsigned mask, char *err, size_t errlen)
{
    assert(self);
    if (mask > 0x7Fu) {
        s_error(err, errlen, "weekday mask 0x%x: only bits 0 (Monday) to 6 (Sunday) exist", mask);
        return EINVAL;
    }
    self->weekdays = mask;
    return 0;
}

static int
s_override_insert(calendar_t *self, size_t at, int64_t day, calendar_day_t kind)
{
    if (self->override_count == self->override_alloc) {
        const size_t alloc = self->override_alloc ? self->override_alloc * 2 : 32;
        calendar_override_t *grown = realloc(self->overrides, alloc * sizeof *grown);
        if (!grown)
            return ENOMEM;
        self->overrides = grown;
        self->override_alloc = alloc;
    }
    memmove(self->overrides + at + 1, self->overrides + at,
            (self->override_count - at) * sizeof *self->overrides);
    self->overrides[at] = (calendar_override_t){day, kind};
    self->override_count++;
    return 0;
}

int
calendar_set_day(calendar_t *self, int year, int month, int day, calendar_day_t kind, char *err,
                 size_t errlen)
{
    assert(self);
    if (year < YEAR_MIN || year > YEAR_MAX || !civil_valid(year, month, day)) {
        s_error(err, errlen, "%04d-%02d-%02d: not a date in %d..%d", year, month, day, YEAR_MIN,
                YEAR_MAX);
        return EINVAL;
    }
    if (kind != CALENDAR_DAY_DEFAULT && kind != CALENDAR_DAY_HOLIDAY &&
        kind != CALENDAR_DAY_WORKING) {
        s_error(err, errlen, "%04d-%02d-%02d: unknown day kind %d", year, month, day, (int)kind);
        return EINVAL;
    }
    const int64_t number = civil_to_days(year, month, day);
    const size_t at = s_override_lower_bound(self, number);
    const bool present = at < self->override_count && self->overrides[at].day == number;
    if (kind == CALENDAR_DAY_DEFAULT) {
        if (present) {
            memmove(self->overrides + at, self->overrides + at + 1,
                    (self->override_count - at - 1) * sizeof *self->overrides);
            self->override_count--;
        }
        return 0;
    }
    if (present) {
        self->overrides[at].kind = kind;
        return 0;
    }
    if (s_override_insert(self, at, number, kind) != 0) {
        s_error(err, errlen, "%04d-%02d-%02d: out of memory", year, month, day);
        return ENOMEM;
    }
    return 0;
}

bool
calendar_is_working_day(calendar_t *self, int year, int month, int day)
{
    assert(self);
    if (!civil_valid(year, month, day))
        return false;
    return s_day_worked(self, civil_to_days(year, month, day));
}

int64_t
calendar_days(calendar_t *self, int64_t start_ms, int64_t end_ms)
{
    assert(self);
    if (end_ms <= start_ms)
        return 0;
    const int64_t days = s_first_day_from(self, end_ms) - s_first_day_from(self, start_ms);
    return days > 0 ? days : 0;
}

int64_t
calendar_working_days(calendar_t *self, int64_t start_ms, int64_t end_ms)
{
    assert(self);
    if (end_ms <= start_ms)
        return 0;
    return s_working_count(self, s_first_day_from(self, start_ms), s_first_day_from(self, end_ms));
}

//  Shared by the two elapsed functions: the period's day range, and for an
//  instant inside it, today's day number and the elapsed share of today.
//  Returns -1 before the period, 1 after it, 0 inside.
static int
s_elapsed_position(calendar_t *self, const period_t *p, int64_t now_ms, int64_t *first,
                   int64_t *end, int64_t *today, double *today_share)
{
    int64_t label_year;
    const bool known = s_period_days(self, p->kind, p->seq, first, end, &label_year);
    assert(known);
    (void)known;
    if (now_ms <= p->start_ms)
        return -1;
    if (now_ms >= p->end_ms)
        return 1;
    *today = s_local_day_ms(self, now_ms);
    const int64_t today_start = s_day_start_ms(self, *today);
    const int64_t today_end = s_day_start_ms(self, *today + 1);
    *today_share = today_end > today_start
                       ? (double)(now_ms - today_start) / (double)(today_end - today_start)
                       : 0.0;
    return 0;
}

double
calendar_days_elapsed(calendar_t *self, const period_t *p, int64_t now_ms)
{
    assert(self);
    assert(p);
    int64_t first, end, today = 0;
    double share = 0.0;
    const int position = s_elapsed_position(self, p, now_ms, &first, &end, &today, &share);
    if (position < 0)
        return 0.0;
    if (position > 0)
        return (double)(end - first);
    return (double)(today - first) + share;
}

double
calendar_working_elapsed(calendar_t *self, const period_t *p, int64_t now_ms)
{
    assert(self);
    assert(p);
    int64_t first, end, today = 0;
    double share = 0.0;
    const int position = s_elapsed_position(self, p, now_ms, &first, &end, &today, &share);
    if (position < 0)
        return 0.0;
    if (position > 0)
        return (double)s_working_count(self, first, end);
    return (double)s_working_count(self, first, today) + (s_day_worked(self, today) ? share : 0.0);
}
