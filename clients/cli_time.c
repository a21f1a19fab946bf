/*  cli_time: the TIME arguments of the pacer command line, and printing times.

    Parsing is by hand rather than strptime: strptime ignores the offset
    (%z fills tm_gmtoff, which mktime and timegm then disregard) and accepts
    loose input. Dates become day numbers with events/civil.h, pacer's one
    implementation of calendar arithmetic, which needs no time zone. */

#include "clients/cli_time.h"

#include "events/civil.h"
#include "events/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Read exactly n digits at *p into *out and advance. */
static bool
digits(const char **p, int n, int *out)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + (c - '0');
    }
    *p += n;
    *out = value;
    return true;
}

static bool
fail(char *err, size_t errlen, const char *text, const char *why)
{
    snprintf(err, errlen, "\"%s\": %s", text, why);
    return false;
}

/* The offset after a time: Z, +HH, +HHMM or +HH:MM (also -). */
static bool
parse_offset(const char *p, int64_t *offset_ms)
{
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *offset_ms = 0;
        return true;
    }
    if (p[0] != '+' && p[0] != '-')
        return false;
    int sign = p[0] == '-' ? -1 : 1;
    p++;
    int hh = 0, mm = 0;
    if (!digits(&p, 2, &hh))
        return false;
    if (*p == ':')
        p++;
    if (*p && !digits(&p, 2, &mm))
        return false;
    if (*p || hh > 23 || mm > 59)
        return false;
    *offset_ms = sign * ((int64_t)hh * 3600 + mm * 60) * 1000;
    return true;
}

bool
cli_time_parse(const char *text, int64_t *out_ms, char *err, size_t errlen)
{
    const char *p = text;
    size_t len = strlen(text);
    if (len == 0)
        return fail(err, errlen, text, "empty; expected a TIME");
    /* All digits: milliseconds, unless it has a date's dashes. */
    if (strspn(text, "0123456789") == len) {
        if (len > 15)
            return fail(err, errlen, text, "milliseconds past the year 9999");
        int64_t ms = 0;
        for (size_t i = 0; i < len; i++)
            ms = ms * 10 + (text[i] - '0');
        if (ms > EV_TIME_MAX)
            return fail(err, errlen, text, "milliseconds past the year 9999");
        *out_ms = ms;
        return true;
    }
    int year = 0, month = 0, day = 0;
    if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &month) || *p++ != '-' ||
        !digits(&p, 2, &day))
        return fail(err, errlen, text,
                    "expected milliseconds or ISO 8601 (2026-10-01, 2026-10-01T09:30Z, "
                    "2026-10-01T17:30+08:00)");
    if (year < 1970 || !civil_valid(year, month, day))
        return fail(err, errlen, text, "not a real date from 1970 on");
    int64_t ms = civil_to_days(year, month, day) * 86400000;
    if (*p == '\0') {
        *out_ms = ms;
        return true;
    }
    if (*p != 'T' && *p != 't' && *p != ' ')
        return fail(err, errlen, text, "expected T and a time after the date");
    p++;
    int hh = 0, mm = 0, ss = 0, frac = 0;
    if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mm))
        return fail(err, errlen, text, "expected HH:MM after the date");
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &ss))
            return fail(err, errlen, text, "expected two digits of seconds");
        if (*p == '.' || *p == ',') {
            p++;
            /* Milliseconds: 1 to 3 digits, read as a fraction of a second. */
            int n = 0;
            while (p[n] >= '0' && p[n] <= '9')
                n++;
            if (n < 1 || n > 3 || !digits(&p, n, &frac))
                return fail(err, errlen, text, "expected 1 to 3 digits of milliseconds");
            for (int i = n; i < 3; i++)
                frac *= 10;
        }
    }
    if (hh > 23 || mm > 59 || ss > 59)
        return fail(err, errlen, text, "hours, minutes or seconds out of range");
    if (*p == '\0')
        return fail(err, errlen, text,
                    "a time needs a zone: add Z for UTC or an offset such as +08:00");
    int64_t offset = 0;
    if (!parse_offset(p, &offset))
        return fail(err, errlen, text, "expected Z or an offset such as +08:00 after the time");
    ms += ((int64_t)hh * 3600 + mm * 60 + ss) * 1000 + frac - offset;
    if (ms < 0 || ms > EV_TIME_MAX)
        return fail(err, errlen, text, "before 1970 or after 9999 in UTC");
    *out_ms = ms;
    return true;
}

int64_t
cli_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
format_offset(long off, char *out, size_t outlen)
{
    if (off == 0)
        snprintf(out, outlen, "Z");
    else
        snprintf(out, outlen, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
                 labs(off) / 60 % 60);
}

void
cli_time_format(int64_t ms, char *out, size_t outlen)
{
    int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int millis = (int)(ms - seconds * 1000);
    time_t t = (time_t)seconds;
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        snprintf(out, outlen, "%lld ms", (long long)ms);
        return;
    }
    char date[32], zone[40];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
    format_offset(tm.tm_gmtoff, zone, sizeof zone);
    if (millis)
        snprintf(out, outlen, "%s:%02d.%03d%s", date, tm.tm_sec, millis, zone);
    else if (tm.tm_sec)
        snprintf(out, outlen, "%s:%02d%s", date, tm.tm_sec, zone);
    else
        snprintf(out, outlen, "%s%s", date, zone);
}

void
cli_time_offset(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        snprintf(out, outlen, "?");
        return;
    }
    format_offset(tm.tm_gmtoff, out, outlen);
}

bool
cli_time_zone_known(const char *zone)
{
    /* A name inside the database: no absolute path, no way out of it. */
    if (!zone || !zone[0] || zone[0] == '/' || zone[0] == '.' || strstr(zone, "..") ||
        strlen(zone) > 200)
        return false;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void
cli_time_use_zone(const char *zone)
{
    if (zone && strcmp(zone, "local") != 0)
        setenv("TZ", zone, 1);
    tzset();
}
