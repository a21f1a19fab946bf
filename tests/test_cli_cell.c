/* cli_cell: spreadsheet cells into minor units, counts and instants, exactly or not at all. */
#include "clients/cli_cell.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

/* The amount of `text` in `currency`; fails the test when it is refused. */
static int64_t
amount(const char *text, const char *currency)
{
    int64_t v = -1;
    char implied[4], err[512] = "";
    if (!cli_cell_amount(text, currency, &v, implied, err, sizeof err))
        fail_msg("%s refused: %s", text, err);
    return v;
}

/* The reason `text` is refused (the test fails when it is accepted). */
static const char *
refused(const char *text, const char *currency)
{
    static char err[512];
    int64_t v;
    char implied[4];
    err[0] = 0;
    if (cli_cell_amount(text, currency, &v, implied, err, sizeof err))
        fail_msg("%s accepted as %lld", text, (long long)v);
    return err;
}

static void
test_amounts(void **state)
{
    assert_int_equal(amount("1,234.50", "CNY"), 123450);
    assert_int_equal(amount("1234.5", "CNY"), 123450);
    assert_int_equal(amount("\xc2\xa5"
                            "1,234.50",
                            "CNY"),
                     123450); /* ¥ */
    assert_int_equal(amount("\xef\xbf\xa5"
                            "1,234.50",
                            "CNY"),
                     123450);                                         /* ￥ */
    assert_int_equal(amount("1,234.50 \xe5\x85\x83", "CNY"), 123450); /* 元 */
    assert_int_equal(amount("CNY 1,234.50", "CNY"), 123450);
    assert_int_equal(amount("1234.50 CNY", NULL), 123450);
    assert_int_equal(amount("  1234.5\xc2\xa0", "CNY"), 123450);
    assert_int_equal(amount("1 234.50", "CNY"), 123450);
    assert_int_equal(amount("0.05", "USD"), 5);
    assert_int_equal(amount(".5", "USD"), 50);
    assert_int_equal(amount("12", "CNY"), 1200);
    assert_int_equal(amount("12.", "CNY"), 1200);
    assert_int_equal(amount("1234.500", "CNY"), 123450); /* trailing zeros are exact */
    assert_int_equal(amount("5000", "JPY"), 5000);
    assert_int_equal(amount("\xc2\xa5"
                            "5,000",
                            "JPY"),
                     5000);
    assert_int_equal(amount("1.5", "KWD"), 1500);
    assert_int_equal(amount("-12.30", "CNY"), -1230);
    assert_int_equal(amount("(12.30)", "CNY"), -1230);
    assert_int_equal(amount("\xc2\xa5-12.30", "CNY"), -1230);
    assert_int_equal(amount("1.2345E+05", "CNY"), 12345000);
    assert_int_equal(amount("1.5e-1", "CNY"), 15);
    assert_int_equal(amount("0", "CNY"), 0);
    assert_int_equal(amount("92,233,720,368,547,758.07", "CNY"), INT64_MAX);

    /* The currency a mark implies when the event has none. */
    int64_t v;
    char implied[4], err[256];
    assert_true(cli_cell_amount("\xc2\xa5"
                                "99.90",
                                NULL, &v, implied, err, sizeof err));
    assert_int_equal(v, 9990);
    assert_string_equal(implied, "CNY");
    assert_true(cli_cell_amount("$5", "", &v, implied, err, sizeof err));
    assert_string_equal(implied, "USD");
    assert_true(cli_cell_amount("RMB 8", NULL, &v, implied, err, sizeof err));
    assert_string_equal(implied, "CNY");
    assert_true(cli_cell_amount("7", "CNY", &v, implied, err, sizeof err));
    assert_string_equal(implied, "");

    assert_non_null(strstr(refused("1.005", "CNY"), "3 decimals; CNY has 2"));
    assert_non_null(strstr(refused("1.5", "JPY"), "JPY has 0"));
    assert_non_null(strstr(refused("1234,50", "CNY"), "write 1234.50"));
    assert_non_null(strstr(refused("12,34.5", "CNY"), "groups of three"));
    assert_non_null(strstr(refused("1,2345", "CNY"), "group"));
    assert_non_null(strstr(refused("1,234 567", "CNY"), "mixes"));
    assert_non_null(strstr(refused("$12", "CNY"), "not in CNY"));
    assert_non_null(strstr(refused("EUR 12", "CNY"), "not in CNY"));
    assert_non_null(strstr(refused("12", NULL), "no currency"));
    assert_non_null(strstr(refused("abc", "CNY"), "not a number"));
    assert_non_null(strstr(refused("", "CNY"), "not a number"));
    assert_non_null(strstr(refused("1.2.3", "CNY"), "not a number"));
    assert_non_null(strstr(refused("92,233,720,368,547,758.08", "CNY"), "too large"));
    assert_non_null(strstr(refused("1e99", "CNY"), "exponent"));
}

static void
test_integers_and_numbers(void **state)
{
    int64_t v;
    double d;
    char err[256];
    assert_true(cli_cell_integer("1,200", &v, err, sizeof err));
    assert_int_equal(v, 1200);
    assert_true(cli_cell_integer(" 3.00 ", &v, err, sizeof err));
    assert_int_equal(v, 3);
    assert_false(cli_cell_integer("3.5", &v, err, sizeof err));
    assert_non_null(strstr(err, "not a whole number"));
    assert_true(cli_cell_number("4.25", &d, err, sizeof err));
    assert_true(d == 4.25);
    assert_true(cli_cell_number("-1,234.5", &d, err, sizeof err));
    assert_true(d == -1234.5);
    assert_true(cli_cell_number("0.1", &d, err, sizeof err));
    assert_true(d == 0.1);
    assert_false(cli_cell_number("4,25", &d, err, sizeof err));
}

static int64_t
when(const char *text)
{
    int64_t v = -1;
    char err[512] = "";
    if (!cli_cell_time(text, &v, err, sizeof err))
        fail_msg("%s refused: %s", text, err);
    return v;
}

static void
test_times(void **state)
{
    setenv("TZ", "Asia/Shanghai", 1);
    tzset();
    const int64_t nov5 = INT64_C(1793808000000); /* 2026-11-05 00:00 +08:00 */
    assert_int_equal(when("2026-11-05"), nov5);
    assert_int_equal(when("2026/11/5"), nov5);
    assert_int_equal(when("2026.11.05"), nov5);
    assert_int_equal(when("2026\xe5\xb9\xb4"
                          "11\xe6\x9c\x88"
                          "5\xe6\x97\xa5"),
                     nov5);
    assert_int_equal(when("2026-11-05 14:30"), nov5 + 14 * 3600000 + 30 * 60000);
    assert_int_equal(when("2026-11-05T14:30:15.25"), nov5 + 52215250);
    assert_int_equal(when("2026/11/5 14:30:00"), nov5 + 52200000);
    assert_int_equal(when("2026-11-05T06:30Z"), nov5 + 52200000);
    assert_int_equal(when("2026-11-05 14:30+08:00"), nov5 + 52200000);
    assert_int_equal(when("2026-11-05 01:30 -0500"), nov5 + 52200000);
    assert_int_equal(when("2026-11-05 06:30 UTC"), nov5 + 52200000);
    assert_int_equal(when("1793808000000"), nov5);

    int64_t v;
    char err[512];
    assert_false(cli_cell_time("11/05/2026", &v, err, sizeof err));
    assert_non_null(strstr(err, "year first"));
    assert_false(cli_cell_time("2026-02-30", &v, err, sizeof err));
    assert_non_null(strstr(err, "not a real date"));
    assert_false(cli_cell_time("2026-11-05 25:00", &v, err, sizeof err));
    assert_false(cli_cell_time("2026-11-05 14:30 tomorrow", &v, err, sizeof err));
    assert_non_null(strstr(err, "tomorrow"));
    assert_false(cli_cell_time("soon", &v, err, sizeof err));

    /* A local time a DST change skips does not exist. */
    setenv("TZ", "America/New_York", 1);
    tzset();
    assert_false(cli_cell_time("2026-03-08 02:30", &v, err, sizeof err));
    assert_non_null(strstr(err, "daylight-saving"));
    assert_int_equal(when("2026-03-08 03:30"), INT64_C(1772955000000));

    char date[16];
    assert_true(cli_cell_date(" 2026/1/5 ", date, err, sizeof err));
    assert_string_equal(date, "2026-01-05");
    assert_false(cli_cell_date("2026-01-05 10:00", date, err, sizeof err));
}

static void
test_trim(void **state)
{
    const char *s;
    size_t n;
    cli_cell_trim("\xe3\x80\x80 zhang\t\xe2\x80\xaf", &s, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "zhang", 5);
    cli_cell_trim("   ", &s, &n);
    assert_int_equal(n, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_integers_and_numbers),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
