/* cli_csv: RFC 4180 records, with the line each starts on. */
#include "clients/cli_csv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void
test_records(void **state)
{
    const char *text = "\xef\xbb\xbf"
                       "order,amount,note\r\n"
                       "A-1,\"1,234.50\",\"said \"\"hi\"\"\"\r\n"
                       "\r\n"
                       "A-2,12,\"two\nlines\"\n"
                       "A-3, \"x\" ,\n"
                       "A-4";
    cli_csv_t *csv = cli_csv_new(text, strlen(text), ',');
    assert_non_null(csv);
    char **f, err[256];
    size_t n;
    uint64_t line;
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_int_equal(n, 3);
    assert_string_equal(f[0], "order"); /* the byte-order mark is skipped */
    assert_int_equal(line, 1);
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_string_equal(f[1], "1,234.50");
    assert_string_equal(f[2], "said \"hi\"");
    assert_int_equal(line, 2);
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_int_equal(line, 4); /* the blank line 3 is skipped */
    assert_string_equal(f[2], "two\nlines");
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_int_equal(line, 6); /* the quoted field spanned lines 4 and 5 */
    assert_int_equal(n, 3);
    assert_string_equal(f[1], "x");
    assert_string_equal(f[2], "");
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_int_equal(n, 1);
    assert_string_equal(f[0], "A-4");
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 0);
    assert_int_equal(cli_csv_offset(csv), strlen(text));
    cli_csv_destroy(&csv);
    assert_null(csv);
}

static void
test_bad_quotes(void **state)
{
    const char *open = "a,b\n1,\"never closed\n2,3\n";
    cli_csv_t *csv = cli_csv_new(open, strlen(open), ',');
    char **f, err[256];
    size_t n;
    uint64_t line;
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2: a quoted field is not closed"));
    cli_csv_destroy(&csv);

    const char *after = "\"a\"b,c\n";
    csv = cli_csv_new(after, strlen(after), ',');
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1: text after the closing quote"));
    cli_csv_destroy(&csv);
}

static void
test_delimiter(void **state)
{
    const char *text = "a;b\t\n1,5;2\n";
    cli_csv_t *csv = cli_csv_new(text, strlen(text), ';');
    char **f, err[256];
    size_t n;
    uint64_t line;
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_int_equal(cli_csv_next(csv, &f, &n, &line, err, sizeof err), 1);
    assert_int_equal(n, 2);
    assert_string_equal(f[0], "1,5");
    cli_csv_destroy(&csv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_bad_quotes),
        cmocka_unit_test(test_delimiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
