/*  Unit tests for events/currency: the compiled-in ISO 4217 list, checked
    against the iso-codes data it was generated from when that is installed. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "events/currency.h"

#include <jansson.h>
#include <string.h>

static void
test_known_and_unknown(void **state)
{
    (void)state;
    const char *known[] = {"CNY", "USD", "EUR", "JPY", "KWD", "XTS", "AED", "ZMW"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_true(currency_is_iso4217(known[i], 3));
    /* a shape that passes the schema, but no code; and the shapes it refuses */
    const char *unknown[] = {"XYZ", "RMB", "AAA", "ZZZ", "cny", "CN", "CNYY", ""};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_false(currency_is_iso4217(unknown[i], strlen(unknown[i])));
    assert_true(currency_is_iso4217("CNYX", 3)); /* only len bytes count */
    assert_true(currency_count() > 150);
}

static void
test_matches_iso_codes(void **state)
{
    (void)state;
    json_error_t err;
    json_t *root = json_load_file("/usr/share/iso-codes/json/iso_4217.json", 0, &err);
    if (!root)
        skip(); /* built elsewhere: the list was compiled in then */
    json_t *list = json_object_get(root, "4217");
    assert_true(json_is_array(list));
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry)
    {
        const char *code = json_string_value(json_object_get(entry, "alpha_3"));
        assert_non_null(code);
        if (!currency_is_iso4217(code, strlen(code)))
            fail_msg("%s is in iso_4217.json but not in the compiled list", code);
    }
    assert_int_equal(currency_count(), json_array_size(list));
    json_decref(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_and_unknown),
        cmocka_unit_test(test_matches_iso_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
