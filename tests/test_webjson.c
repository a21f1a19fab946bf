/* webjson: msgpack as the dashboard's JSON. Strings escaped (and U+2028/9, and bytes that are
   not UTF-8), floats in their shortest exact form, bins as hex, currency_digits beside a
   currency, map keys that are not strings quoted. */
#include "daemon/webjson.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The JSON of the msgpack that fn packs. */
static char *
json_of(void (*fn)(msgpack_packer *))
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    fn(&pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    http_reply_t r = {0};
    webjson_write(&r, &u.data);
    assert_false(r.failed);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    return r.body;
}

static void
str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pack_row(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 7);
    str(pk, "name");
    str(pk, "艾克美 \"Acme\"\\\n\t");
    str(pk, "actual");
    msgpack_pack_int64(pk, -1234567890123LL);
    str(pk, "pace_ratio");
    msgpack_pack_double(pk, 0.65);
    str(pk, "currency");
    str(pk, "JPY");
    str(pk, "target");
    msgpack_pack_nil(pk);
    str(pk, "ok");
    msgpack_pack_true(pk);
    str(pk, "list");
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_double(pk, 1.0 / 3);
}

static void
test_row(void **state)
{
    char *j = json_of(pack_row);
    assert_string_equal(j,
                        "{\"name\":\"艾克美 \\\"Acme\\\"\\\\\\n\\u0009\",\"actual\":-1234567890123,"
                        "\"pace_ratio\":0.65,\"currency\":\"JPY\",\"target\":null,\"ok\":true,"
                        "\"list\":[18446744073709551615,0.3333333333333333],"
                        "\"currency_digits\":0}");
    free(j);
}

static void
pack_odd(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    msgpack_pack_int(pk, 7); /* a key that is not a string */
    msgpack_pack_bin_with_body(pk, "\x00\xab\xff", 3);
    str(pk, "bad");
    msgpack_pack_str_with_body(pk,
                               "a\xff"
                               "b\xe2\x80\xa8"
                               "c\xc3",
                               8); /* not UTF-8; U+2028 */
    str(pk, "inf");
    msgpack_pack_double(pk, 1.0 / 0.0);
}

static void
test_odd(void **state)
{
    char *j = json_of(pack_odd);
    assert_string_equal(j, "{\"7\":\"00abff\",\"bad\":\"a\\ufffdb\\u2028c\\ufffd\",\"inf\":null}");
    free(j);
}

static void
pack_empty(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    str(pk, "currency");
    str(pk, "KWD");
}

static void
test_currency_only(void **state)
{
    char *j = json_of(pack_empty);
    assert_string_equal(j, "{\"currency\":\"KWD\",\"currency_digits\":3}");
    free(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row),
        cmocka_unit_test(test_odd),
        cmocka_unit_test(test_currency_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
