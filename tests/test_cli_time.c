/*  Unit tests for clients/cli_time: TIME arguments, and times printed in a
    chosen zone with its offset. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clients/cli_time.h"

/* 2026-11-15T04:00:00Z */
#define NOV15 INT64_C(1794715200000)

static void
expect_parse(const char *text, int64_t want)
{
    int64_t got = -1;
    char err[256] = "";
    assert_true(cli_time_parse(text, &got, err, sizeof err));
    assert_int_equal(got, want);
}

static void
expect_refused(const char *text, const char *why)
{
    int64_t got = -1;
    char err[256] = "";
    assert_false(cli_time_parse(text, &got, err, sizeof err));
    assert_non_null(strstr(err, why));
}

static void
test_parse(void **state)
{
    (void)state;
    expect_parse("1794715200000", NOV15);
    expect_parse("2026-11-15T04:00Z", NOV15);
    expect_parse("2026-11-15T12:00+08:00", NOV15);
    expect_parse("2026-11-15T12:00:00.000+0800", NOV15);
    expect_parse("2026-11-14T23:00-05", NOV15);
    expect_parse("2026-11-15", NOV15 - 4 * 3600000);
    expect_refused("2026-11-15T12:00", "needs a zone");
    expect_refused("2026-02-30", "not a real date");
    expect_refused("yesterday", "expected milliseconds or ISO 8601");
    /* the edges, now counted by events/civil.c */
    expect_parse("1970-01-01", 0);
    expect_parse("2000-02-29", INT64_C(11016) * 86400000);
    expect_parse("2687-09-20", INT64_C(262141) * 86400000);
    expect_parse("9999-12-31T23:59:59.999Z", INT64_C(253402300799999));
    expect_parse("253402300799999", INT64_C(253402300799999));
    expect_refused("1900-02-29", "not a real date");
    expect_refused("2100-02-29", "not a real date");
    expect_refused("1969-12-31", "not a real date from 1970 on");
    expect_refused("1970-01-01T07:59+08:00", "before 1970 or after 9999");
    expect_refused("9999-12-31T23:59:59.999-00:01", "before 1970 or after 9999");
    expect_refused("253402300800000", "past the year 9999");
}

static void
expect_format(const char *zone, int64_t ms, const char *want)
{
    char out[64];
    cli_time_use_zone(zone);
    cli_time_format(ms, out, sizeof out);
    assert_string_equal(out, want);
}

static void
test_format_in_a_zone(void **state)
{
    (void)state;
    expect_format("Asia/Shanghai", NOV15, "2026-11-15 12:00+08:00");
    expect_format("UTC", NOV15, "2026-11-15 04:00Z");
    expect_format("America/New_York", NOV15, "2026-11-14 23:00-05:00");
    expect_format("America/New_York", NOV15 - 30 * 86400000LL, "2026-10-16 00:00-04:00");
    expect_format("Asia/Kolkata", NOV15 + 1500, "2026-11-15 09:30:01.500+05:30");
    expect_format("Asia/Shanghai", NOV15 + 7000, "2026-11-15 12:00:07+08:00");
    char offset[16];
    cli_time_use_zone("Europe/Berlin");
    cli_time_offset(NOV15, offset, sizeof offset);
    assert_string_equal(offset, "+01:00");
    cli_time_use_zone("UTC");
    cli_time_offset(NOV15, offset, sizeof offset);
    assert_string_equal(offset, "Z");
    /* "local" keeps the process's TZ. */
    setenv("TZ", "Asia/Tokyo", 1);
    expect_format("local", NOV15, "2026-11-15 13:00+09:00");
}

static void
test_zone_known(void **state)
{
    (void)state;
    assert_true(cli_time_zone_known("Asia/Shanghai"));
    assert_true(cli_time_zone_known("UTC"));
    assert_true(cli_time_zone_known("America/Argentina/Buenos_Aires"));
    assert_false(cli_time_zone_known("Mars/Olympus_Mons"));
    assert_false(cli_time_zone_known(""));
    assert_false(cli_time_zone_known(NULL));
    assert_false(cli_time_zone_known("/etc/passwd"));
    assert_false(cli_time_zone_known("../../../etc/passwd"));
    assert_false(cli_time_zone_known("Asia")); /* a directory, not a zone */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format_in_a_zone),
        cmocka_unit_test(test_zone_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
