/*  Unit tests for clients/cli_table: display widths, aligned tables, and the
    figures of each metric's unit as people read them. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clients/cli_table.h"

static void
test_text_width(void **state)
{
    (void)state;
    assert_int_equal(cli_text_width(""), 0);
    assert_int_equal(cli_text_width("Wang Wu"), 7);
    assert_int_equal(cli_text_width("张三"), 4);            /* 6 bytes, 2 wide characters */
    assert_int_equal(cli_text_width("华东大区"), 8);        /* 12 bytes */
    assert_int_equal(cli_text_width("acme/华东/张三"), 14); /* mixed */
    assert_int_equal(cli_text_width("ＡＢ"), 4);            /* fullwidth forms */
    assert_int_equal(cli_text_width("김민준"), 6);          /* Hangul syllables */
    assert_int_equal(cli_text_width("\xe2\x96\x88\xe2\x96\x91"), 2); /* the bar's blocks: narrow */
    assert_int_equal(cli_text_width("e\xcc\x81"), 1);                /* e + combining acute */
    assert_int_equal(cli_text_width("caf\xc3\xa9"), 4);              /* é precomposed */
    assert_int_equal(cli_text_width("\xff\xfe"), 2);                 /* invalid bytes: one each */
    assert_int_equal(cli_text_width("\xe5\xbc"), 2);                 /* a truncated character */
}

/* Columns a line takes, for lines the table printed. */
static size_t
line_width(const char *line, size_t len)
{
    char *copy = strndup(line, len);
    size_t width = cli_text_width(copy);
    free(copy);
    return width;
}

static void
test_table_aligns_wide_names(void **state)
{
    (void)state;
    static const char *const names[] = {"RANK", "NAME", "ACTUAL"};
    cli_table_t *table = cli_table_new(3, names, "rlr");
    assert_non_null(table);
    const char *rows[][3] = {{"1", "张三", "22,000.00 CNY"},
                             {"2", "Wang Wu", "9,000.00 CNY"},
                             {"3", "华东大区", "120,000 JPY"}};
    for (size_t r = 0; r < 3; r++)
        for (size_t c = 0; c < 3; c++)
            assert_int_equal(cli_table_cell(table, NULL, rows[r][c]), 0);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cli_table_print(table, out);
    fclose(out);
    cli_table_destroy(&table);
    assert_null(table);

    /* Every line ends in the right-aligned ACTUAL column: the same width,
       the rule's, although the names' bytes differ. */
    const char *expected[] = {
        "RANK  NAME             ACTUAL", /* NAME is as wide as 华东大区: 8 */
        "-----------------------------", "   1  张三      22,000.00 CNY",
        "   2  Wang Wu    9,000.00 CNY", "   3  华东大区    120,000 JPY",
    };
    const char *line = text;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        assert_int_equal((size_t)(end - line), strlen(expected[i]));
        assert_memory_equal(line, expected[i], strlen(expected[i]));
        assert_int_equal(line_width(line, (size_t)(end - line)), 29);
        line = end + 1;
    }
    assert_string_equal(line, "");
    free(text);
}

static void
test_metric_units(void **state)
{
    (void)state;
    assert_int_equal(cli_metric_unit("revenue"), CLI_UNIT_MONEY);
    assert_int_equal(cli_metric_unit("margin"), CLI_UNIT_MONEY);
    assert_int_equal(cli_metric_unit("collections"), CLI_UNIT_MONEY);
    assert_int_equal(cli_metric_unit("deals"), CLI_UNIT_COUNT);
    assert_int_equal(cli_metric_unit("activities.visit"), CLI_UNIT_COUNT);
    assert_int_equal(cli_metric_unit("new_customers"), CLI_UNIT_COUNT);
    assert_int_equal(cli_metric_unit("collection_rate"), CLI_UNIT_RATIO);
    assert_int_equal(cli_metric_unit("quote_conversion"), CLI_UNIT_RATIO);
    assert_int_equal(cli_metric_unit("kpi:csat"), CLI_UNIT_KPI);
    assert_int_equal(cli_metric_unit("something_new"), CLI_UNIT_COUNT);
}

static void
expect_figure(int64_t value, cli_unit_t unit, const char *currency, bool raw, const char *want)
{
    char out[64];
    cli_format_figure(value, unit, currency, raw, out, sizeof out);
    assert_string_equal(out, want);
}

static void
expect_rate(double value, cli_unit_t unit, const char *currency, bool raw, const char *want)
{
    char out[64];
    cli_format_rate(value, unit, currency, raw, out, sizeof out);
    assert_string_equal(out, want);
}

static void
test_figures(void **state)
{
    (void)state;
    expect_figure(3100000, CLI_UNIT_MONEY, "CNY", false, "31,000.00 CNY");
    expect_figure(3100000, CLI_UNIT_MONEY, "CNY", true, "3100000");
    expect_figure(120000, CLI_UNIT_MONEY, "JPY", false, "120,000 JPY");
    expect_figure(1500, CLI_UNIT_MONEY, "KWD", false, "1.500 KWD");
    expect_figure(-910050, CLI_UNIT_MONEY, "USD", false, "-9,100.50 USD");
    expect_figure(3220000, CLI_UNIT_MONEY, NULL, false, "32,200.00"); /* no currency known */
    expect_figure(3220000, CLI_UNIT_MONEY, "", false, "32,200.00");
    expect_figure(INT64_MAX, CLI_UNIT_MONEY, "CNY", false, "92,233,720,368,547,758.07 CNY");
    expect_figure(1234567, CLI_UNIT_COUNT, NULL, false, "1,234,567");
    expect_figure(1234567, CLI_UNIT_COUNT, NULL, true, "1234567");
    expect_figure(9500, CLI_UNIT_RATIO, NULL, false, "95.00%");
    expect_figure(5, CLI_UNIT_RATIO, NULL, false, "0.05%");
    expect_figure(123456, CLI_UNIT_RATIO, NULL, false, "1,234.56%");
    expect_figure(9500, CLI_UNIT_RATIO, NULL, true, "9500");
    expect_figure(4250, CLI_UNIT_KPI, NULL, false, "4,250");

    expect_rate(202941.18, CLI_UNIT_MONEY, "CNY", false, "2,029.41 CNY");
    expect_rate(202941.18, CLI_UNIT_MONEY, "CNY", true, "202941.18");
    expect_rate(0.45, CLI_UNIT_COUNT, NULL, false, "0.5");
    expect_rate(12345.04, CLI_UNIT_COUNT, NULL, false, "12,345.0");
    expect_rate(35.4, CLI_UNIT_RATIO, NULL, false, "0.35%");
    expect_rate(1.0 / 0.0, CLI_UNIT_MONEY, "CNY", false, "inf");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_width),
        cmocka_unit_test(test_table_aligns_wide_names),
        cmocka_unit_test(test_metric_units),
        cmocka_unit_test(test_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
