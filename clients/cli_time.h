/*  cli_time: the TIME arguments of the pacer command line, and printing times.

    The wire carries instants as int64 milliseconds since 1970-01-01 UTC.
    People type dates, so a TIME argument may be either:

        1791093600000               milliseconds UTC, as on the wire
        2026-10-01                  a date: midnight UTC of that day
        2026-10-01T09:30Z           date and time in UTC
        2026-10-01T09:30:15.250Z    seconds and milliseconds are optional
        2026-10-01T17:30+08:00      an explicit offset (+08, +0800 also)

    A date and time without Z or an offset is refused rather than read in
    some zone the user did not name: the daemon counts days in its own zone
    (Asia/Shanghai by default), the CLI's machine may be in another, and a
    silent guess would move a sale into the wrong day. For the same reason a
    bare date means midnight UTC, not midnight in the daemon's zone; to mean
    the local start of a day, give the offset (2026-10-01T00:00+08:00).

    Printed times are in one zone per command, with the offset shown, so
    they are unambiguous wherever they are read: pacerd's, which is the
    zone its days and periods are counted in (a command asks its status),
    unless --time-zone names another (cli_time_use_zone). */

#ifndef PACER_CLI_TIME_H
#define PACER_CLI_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The help text lines that describe TIME, for a command's usage. */
#define CLI_TIME_HELP                                                                              \
    "TIME is milliseconds since 1970 UTC, or ISO 8601: 2026-10-01T09:30:00Z,\n"                    \
    "2026-10-01T17:30+08:00 (an offset or Z is required), or a date 2026-10-01 meaning\n"          \
    "midnight UTC.\n"

/* Parse a TIME argument into ms UTC (0 to year 9999, as EVENTS.md's `time`).
   False, with the reason in err quoting the text, when it is not one: not
   a number or ISO 8601 date, not a real date from 1970 on, a time without
   Z or an offset, or outside 0..EV_TIME_MAX once the offset is applied. */
bool cli_time_parse(const char *text, int64_t *out_ms, char *err, size_t errlen);

/* The clock, ms UTC. */
int64_t cli_time_now(void);

/* "2026-10-16 12:00+08:00" in the zone in use (cli_time_use_zone); seconds
   and milliseconds are shown only when they are not zero. Never fails: a
   time the C library cannot convert is shown as "<ms> ms". */
void cli_time_format(int64_t ms, char *out, size_t outlen);

/* True when `zone` names a zone of this machine's tz database
   (/usr/share/zoneinfo, or $TZDIR): "Asia/Shanghai", "UTC". */
bool cli_time_zone_known(const char *zone);

/* Show times in `zone` from now on; "local" (or NULL) keeps this machine's
   (the TZ environment variable, else /etc/localtime). */
void cli_time_use_zone(const char *zone);

/* The UTC offset of the zone in use at `ms`: "+08:00", or "Z"; "?" for a
   time the C library cannot convert. */
void cli_time_offset(int64_t ms, char *out, size_t outlen);

#endif
