/* money: how amounts read, at the edges of the int64 range and of ISO 4217. */
#include "events/money.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void
test_format(void **state)
{
    char b[64];
    assert_string_equal(money_format(1840000, "CNY", b, sizeof b), "18,400.00 CNY");
    assert_string_equal(money_format(5, "USD", b, sizeof b), "0.05 USD");
    assert_string_equal(money_format(-910050, "USD", b, sizeof b), "-9,100.50 USD");
    assert_string_equal(money_format(5000, "JPY", b, sizeof b), "5,000 JPY");
    assert_string_equal(money_format(1500, "KWD", b, sizeof b), "1.500 KWD");
    assert_string_equal(money_format(123456789, NULL, b, sizeof b), "1,234,567.89");
    assert_string_equal(money_format(0, "EUR", b, sizeof b), "0.00 EUR");
    assert_string_equal(money_format(INT64_MIN, "CNY", b, sizeof b),
                        "-92,233,720,368,547,758.08 CNY");
    assert_string_equal(money_format(INT64_MAX, "CNY", b, sizeof b),
                        "92,233,720,368,547,758.07 CNY");
    assert_string_equal(money_format_d(1839999.6, "CNY", b, sizeof b), "18,400.00 CNY");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_format)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
