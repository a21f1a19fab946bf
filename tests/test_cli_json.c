/*  Unit tests for clients/cli_json: JSON Lines -> msgpack (pacer append) and
    msgpack -> JSON (pacer events, pacer status --json).

    Every JSON type, the int64 bounds (jansson must refuse, never round, an
    integer beyond them), nesting limits, key order, and the ways a line or a
    msgpack value can be refused. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clients/cli_json.h"

/* Convert one line; on success unpack the result into *unpacked. */
static int
convert(const char *line, msgpack_sbuffer *sbuf, msgpack_unpacked *unpacked, char *err,
        size_t errlen)
{
    msgpack_sbuffer_init(sbuf);
    msgpack_unpacked_init(unpacked);
    int rc = cli_json_line_to_msgpack(line, strlen(line), sbuf, err, errlen);
    if (rc == CLI_JSON_OK) {
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(unpacked, sbuf->data, sbuf->size, &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(off, sbuf->size);
    }
    return rc;
}

static const msgpack_object *
get(const msgpack_object *map, const char *key)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
            return &kv->val;
    }
    fail_msg("key %s missing", key);
    return NULL;
}

static void
test_every_type(void **state)
{
    (void)state;
    msgpack_sbuffer sbuf;
    msgpack_unpacked u;
    char err[256];
    const char *line = "{\"nil\":null,\"t\":true,\"f\":false,\"i\":1250000,\"neg\":-7,"
                       "\"r\":4.5,\"whole\":2.0,\"s\":\"张三 ✓\",\"a\":[1,\"x\",[]],"
                       "\"o\":{\"k\":{}}}";
    assert_int_equal(convert(line, &sbuf, &u, err, sizeof err), CLI_JSON_OK);
    const msgpack_object *m = &u.data;
    assert_int_equal(m->via.map.size, 10);
    assert_int_equal(get(m, "nil")->type, MSGPACK_OBJECT_NIL);
    assert_int_equal(get(m, "t")->type, MSGPACK_OBJECT_BOOLEAN);
    assert_true(get(m, "t")->via.boolean);
    assert_false(get(m, "f")->via.boolean);
    assert_int_equal(get(m, "i")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_int_equal(get(m, "i")->via.u64, 1250000);
    assert_int_equal(get(m, "neg")->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    assert_int_equal(get(m, "neg")->via.i64, -7);
    assert_int_equal(get(m, "r")->type, MSGPACK_OBJECT_FLOAT64);
    assert_true(get(m, "r")->via.f64 == 4.5);
    /* A JSON real stays a float even when whole: money must not accept it. */
    assert_int_equal(get(m, "whole")->type, MSGPACK_OBJECT_FLOAT64);
    const msgpack_object *s = get(m, "s");
    assert_int_equal(s->type, MSGPACK_OBJECT_STR);
    assert_int_equal(s->via.str.size, strlen("张三 ✓"));
    assert_memory_equal(s->via.str.ptr, "张三 ✓", s->via.str.size);
    const msgpack_object *a = get(m, "a");
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(a->via.array.size, 3);
    assert_int_equal(a->via.array.ptr[2].type, MSGPACK_OBJECT_ARRAY);
    const msgpack_object *o = get(m, "o");
    assert_int_equal(get(o, "k")->type, MSGPACK_OBJECT_MAP);

    /* And back: the JSON that comes out equals the JSON that went in. */
    int rc = -99;
    json_t *back = cli_msgpack_to_json(&u.data, &rc, err, sizeof err);
    assert_non_null(back);
    assert_int_equal(rc, CLI_JSON_OK);
    json_t *original = json_loads(line, 0, NULL);
    assert_true(json_equal(back, original));
    json_decref(back);
    json_decref(original);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sbuf);
}

static void
test_shortest_integers_and_key_order(void **state)
{
    (void)state;
    msgpack_sbuffer sbuf;
    msgpack_unpacked u;
    char err[256];
    assert_int_equal(convert("{\"b\":1,\"a\":-1}", &sbuf, &u, err, sizeof err), CLI_JSON_OK);
    /* fixmap 2, "b", 1, "a", -1: integers in their one-byte forms, line order kept */
    const char expect[] = "\x82\xa1"
                          "b"
                          "\x01\xa1"
                          "a"
                          "\xff";
    assert_int_equal(sbuf.size, sizeof expect - 1);
    assert_memory_equal(sbuf.data, expect, sbuf.size);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sbuf);
}

static void
test_int64_bounds(void **state)
{
    (void)state;
    msgpack_sbuffer sbuf;
    msgpack_unpacked u;
    char err[256];
    assert_int_equal(convert("{\"x\":9223372036854775807}", &sbuf, &u, err, sizeof err),
                     CLI_JSON_OK);
    assert_int_equal(get(&u.data, "x")->via.u64, INT64_MAX);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sbuf);

    assert_int_equal(convert("{\"x\":-9223372036854775808}", &sbuf, &u, err, sizeof err),
                     CLI_JSON_OK);
    assert_true(get(&u.data, "x")->via.i64 == INT64_MIN);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sbuf);

    const char *too_big[] = {"{\"x\":9223372036854775808}", "{\"x\":-9223372036854775809}",
                             "{\"x\":18446744073709551616}", "{\"x\":1e400}"};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        err[0] = '\0';
        assert_int_equal(convert(too_big[i], &sbuf, &u, err, sizeof err), CLI_JSON_INVALID);
        assert_int_equal(sbuf.size, 0);
        assert_true(strlen(err) > 0);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sbuf);
    }
}

static void
test_invalid_lines(void **state)
{
    (void)state;
    struct {
        const char *line;
        int rc;
    } cases[] = {
        {"{", CLI_JSON_INVALID},
        {"not json", CLI_JSON_INVALID},
        {"{\"a\":1} trailing", CLI_JSON_INVALID},
        {"{\"a\":1,\"a\":2}", CLI_JSON_INVALID}, /* duplicate key */
        {"{\"a\":\"\\u0000\"}", CLI_JSON_INVALID},
        {"{\"a\":\"\xff\"}", CLI_JSON_INVALID}, /* not UTF-8 */
        {"{'a':1}", CLI_JSON_INVALID},
        {"", CLI_JSON_INVALID},
        {"[1,2]", CLI_JSON_NOT_OBJECT},
        {"42", CLI_JSON_NOT_OBJECT},
        {"\"s\"", CLI_JSON_NOT_OBJECT},
        {"null", CLI_JSON_NOT_OBJECT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_sbuffer sbuf;
        msgpack_unpacked u;
        char err[256] = "";
        int rc = convert(cases[i].line, &sbuf, &u, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("line %s: rc %d, expected %d (%s)", cases[i].line, rc, cases[i].rc, err);
        assert_int_equal(sbuf.size, 0);
        assert_true(strlen(err) > 0);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sbuf);
    }
    /* jansson's message carries the column of a syntax error. */
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    char err[256];
    const char *bad = "{\"a\":tru}";
    assert_int_equal(cli_json_line_to_msgpack(bad, strlen(bad), &sbuf, err, sizeof err),
                     CLI_JSON_INVALID);
    assert_non_null(strstr(err, "column"));
    assert_string_equal(cli_json_rc_code(CLI_JSON_INVALID), "invalid_json");
    assert_string_equal(cli_json_rc_code(CLI_JSON_NOT_OBJECT), "not_a_map");
    msgpack_sbuffer_destroy(&sbuf);
}

static void
test_failure_keeps_buffer(void **state)
{
    (void)state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    char err[256];
    assert_int_equal(cli_json_line_to_msgpack("{\"a\":1}", 7, &sbuf, err, sizeof err), CLI_JSON_OK);
    size_t size = sbuf.size;
    /* Fails deep inside, after part of it was packed: the part is cut off. */
    char deep[200] = "{\"a\":1,\"b\":";
    for (int i = 0; i < CLI_JSON_MAX_DEPTH; i++)
        strcat(deep, "[");
    for (int i = 0; i < CLI_JSON_MAX_DEPTH; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    assert_int_equal(cli_json_line_to_msgpack(deep, strlen(deep), &sbuf, err, sizeof err),
                     CLI_JSON_INVALID);
    assert_non_null(strstr(err, "nested deeper"));
    assert_int_equal(sbuf.size, size);
    msgpack_sbuffer_destroy(&sbuf);
}

static void
test_depth_limit(void **state)
{
    (void)state;
    /* The object itself is level 1; CLI_JSON_MAX_DEPTH levels in all pass. */
    char line[200] = "{\"a\":";
    for (int i = 1; i < CLI_JSON_MAX_DEPTH; i++)
        strcat(line, "[");
    for (int i = 1; i < CLI_JSON_MAX_DEPTH; i++)
        strcat(line, "]");
    strcat(line, "}");
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    char err[256];
    assert_int_equal(cli_json_line_to_msgpack(line, strlen(line), &sbuf, err, sizeof err),
                     CLI_JSON_OK);
    msgpack_sbuffer_destroy(&sbuf);
}

static json_t *
from_msgpack(const char *bytes, size_t len, int *rc, char *err, size_t errlen)
{
    return cli_msgpack_bytes_to_json(bytes, len, rc, err, errlen);
}

static void
test_msgpack_to_json(void **state)
{
    (void)state;
    char err[256];
    int rc;
    /* {"h": bin(2) 0xab01, "f": float32 1.5, "u": 255} */
    const char good[] = "\x83\xa1h\xc4\x02\xab\x01\xa1"
                        "f\xca\x3f\xc0\x00\x00\xa1u\xcc\xff";
    json_t *json = from_msgpack(good, sizeof good - 1, &rc, err, sizeof err);
    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "h")), "ab01");
    assert_true(json_real_value(json_object_get(json, "f")) == 1.5);
    assert_int_equal(json_integer_value(json_object_get(json, "u")), 255);
    json_decref(json);

    struct {
        const char *bytes;
        size_t len;
        int rc;
    } bad[] = {
        {"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, CLI_JSON_UNSUPPORTED}, /* u64 max */
        {"\x81\x01\x02", 3, CLI_JSON_UNSUPPORTED},                         /* int key */
        {"\xd4\x01\x00", 3, CLI_JSON_UNSUPPORTED},                         /* ext */
        {"\xa2\xc3\x28", 3, CLI_JSON_UNSUPPORTED},                         /* bad UTF-8 */
        {"\x81\xa2\xc3\x28\x01", 5, CLI_JSON_UNSUPPORTED},                 /* bad UTF-8 key */
        {"\x92\x01", 2, CLI_JSON_UNSUPPORTED},                             /* truncated */
        {"\x01\x02", 2, CLI_JSON_UNSUPPORTED},                             /* trailing */
        {"\xc1", 1, CLI_JSON_UNSUPPORTED},                                 /* never used */
        {"", 0, CLI_JSON_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = CLI_JSON_OK;
        err[0] = '\0';
        json = from_msgpack(bad[i].bytes, bad[i].len, &rc, err, sizeof err);
        if (json || rc != bad[i].rc)
            fail_msg("case %zu: json %p rc %d (%s)", i, (void *)json, rc, err);
        assert_true(strlen(err) > 0);
    }
}

/* JSON has no NaN or infinity: null, as JavaScript writes them. */
static void
test_non_finite_floats_become_null(void **state)
{
    (void)state;
    static const char *const floats[] = {
        "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", /* NaN */
        "\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", /* +inf */
        "\xca\xff\x80\x00\x00",                 /* float32 -inf */
    };
    static const size_t lens[] = {9, 9, 5};
    for (size_t i = 0; i < 3; i++) {
        int rc = CLI_JSON_UNSUPPORTED;
        char err[256] = "";
        json_t *json = from_msgpack(floats[i], lens[i], &rc, err, sizeof err);
        assert_non_null(json);
        assert_int_equal(rc, CLI_JSON_OK);
        assert_true(json_is_null(json));
        json_decref(json);
    }
}

static void
test_dumps_shortest_reals(void **state)
{
    (void)state;
    struct {
        double value;
        const char *text;
    } cases[] = {
        {4.6, "[4.6]"},
        {0.1, "[0.1]"},
        {2.0, "[2.0]"},
        {-1.5e300, "[-1.5e300]"},
        {0.1 + 0.2, "[0.30000000000000004]"}, /* needs all 17 digits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *json = json_pack("[f]", cases[i].value);
        char *text = cli_json_dumps(json);
        assert_string_equal(text, cases[i].text);
        json_t *back = json_loads(text, 0, NULL);
        assert_true(json_real_value(json_array_get(back, 0)) == cases[i].value);
        free(text);
        json_decref(back);
        json_decref(json);
    }
    /* One precision for the line: the widest real decides, and still reads back. */
    json_t *json = json_pack("{s:f, s:f, s:i}", "a", 4.6, "b", 1.0 / 3, "n", 7);
    char *text = cli_json_dumps(json);
    json_t *back = json_loads(text, 0, NULL);
    assert_true(json_equal(json, back));
    free(text);
    json_decref(back);
    json_decref(json);
}

static void
test_hex(void **state)
{
    (void)state;
    char out[9];
    cli_json_hex("\x00\x0f\xa0\xff", 4, out);
    assert_string_equal(out, "000fa0ff");
    cli_json_hex("", 0, out);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_shortest_integers_and_key_order),
        cmocka_unit_test(test_int64_bounds),
        cmocka_unit_test(test_invalid_lines),
        cmocka_unit_test(test_failure_keeps_buffer),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_msgpack_to_json),
        cmocka_unit_test(test_non_finite_floats_become_null),
        cmocka_unit_test(test_dumps_shortest_reals),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
