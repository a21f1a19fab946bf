/*  Unit tests for events/wire: the structural scanner that guards msgpack-c
    from untrusted counts, and request parsing. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "events/wire.h"

#include <string.h>

static void
test_scan_accepts_wellformed(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int64(&pk, -5);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_bin_with_body(&pk, "xyz", 3);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_str_with_body(&pk, "c", 1);
    msgpack_pack_ext_with_body(&pk, "abcd", 4, 7);
    assert_true(mp_scan((const uint8_t *)sb.data, sb.size, 32));
    /* every strict prefix is truncated */
    for (size_t n = 0; n < sb.size; n++)
        assert_false(mp_scan((const uint8_t *)sb.data, n, 32));
    msgpack_sbuffer_destroy(&sb);
}

static void
test_scan_refuses_lies_and_depth(void **state)
{
    const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t huge_map[] = {0xdf, 0x0f, 0xff, 0xff, 0xff, 0x01};
    const uint8_t huge_str[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
    const uint8_t trailing[] = {0x01, 0x02};
    const uint8_t never_used[] = {0xc1};
    assert_false(mp_scan(huge_array, sizeof huge_array, 32));
    assert_false(mp_scan(huge_map, sizeof huge_map, 32));
    assert_false(mp_scan(huge_str, sizeof huge_str, 32));
    assert_false(mp_scan(trailing, sizeof trailing, 32));
    assert_false(mp_scan(never_used, 1, 32));
    uint8_t deep[40];
    memset(deep, 0x91, sizeof deep); /* [[[[...]]]] */
    deep[39] = 0x01;
    assert_true(mp_scan(deep + 20, 20, 32)); /* 19 levels */
    assert_false(mp_scan(deep, 40, 32));     /* 39 levels */
}

static wire_rc_t
parse(const char *json_like_op, int version, bool with_events, char *msg)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, with_events ? 4 : 3);
    wire_pack_str(&pk, "v");
    msgpack_pack_int(&pk, version);
    wire_pack_str(&pk, "op");
    wire_pack_str(&pk, json_like_op);
    wire_pack_str(&pk, "corr");
    msgpack_pack_int(&pk, 42);
    if (with_events) {
        wire_pack_str(&pk, "events");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_map(&pk, 0);
    }
    wire_request_t req;
    wire_rc_t rc = wire_request_parse(&req, sb.data, sb.size, msg, 256);
    if (rc == WIRE_OK || rc == WIRE_UNSUPPORTED_VERSION) {
        assert_non_null(req.corr);
        assert_int_equal(req.corr->via.u64, 42);
    }
    wire_request_free(&req);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void
test_parse(void **state)
{
    char msg[256];
    assert_int_equal(parse("append", 1, true, msg), WIRE_OK);
    assert_int_equal(parse("append", 1, false, msg), WIRE_BAD_REQUEST);
    assert_non_null(strstr(msg, "events: required"));
    assert_int_equal(parse("append", 2, true, msg), WIRE_UNSUPPORTED_VERSION);
    assert_non_null(strstr(msg, "version 2"));
    assert_int_equal(parse("status", 1, false, msg), WIRE_OK);
    wire_request_t req;
    assert_int_equal(wire_request_parse(&req, "\x91\x01", 2, msg, sizeof msg), WIRE_BAD_REQUEST);
    assert_non_null(strstr(msg, "must be a map"));
    wire_request_free(&req);
    assert_int_equal(wire_request_parse(&req, "\x81\xa1v", 3, msg, sizeof msg), WIRE_MALFORMED);
    wire_request_free(&req);
    /* {"v": 1, "op": "status", 7: 1}: an integer key */
    static const char int_key[] = "\x83\xa1v\x01\xa2op\xa6status\x07\x01";
    assert_int_equal(wire_request_parse(&req, int_key, sizeof int_key - 1, msg, sizeof msg),
                     WIRE_BAD_REQUEST);
    assert_string_equal(msg, "request body: key 2 is an integer; every key must be a string");
    wire_request_free(&req);
    /* {bin "v": 1, "op": "status", "corr": 5}: refused as such, corr echoed */
    static const char bin_key[] = "\x83\xc4\x01v\x01\xa2op\xa6status\xa4"
                                  "corr\x05";
    assert_int_equal(wire_request_parse(&req, bin_key, sizeof bin_key - 1, msg, sizeof msg),
                     WIRE_BAD_REQUEST);
    assert_string_equal(msg, "request body: key 0 is a bin; every key must be a string");
    assert_non_null(req.corr);
    assert_int_equal(req.corr->via.u64, 5);
    wire_request_free(&req);
    static char big[WIRE_MAX_BODY + 1];
    assert_int_equal(wire_request_parse(&req, big, sizeof big, msg, sizeof msg), WIRE_TOO_LARGE);
    wire_request_free(&req);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_accepts_wellformed),
        cmocka_unit_test(test_scan_refuses_lies_and_depth),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
