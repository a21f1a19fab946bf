/*  Unit tests for events/wire's request-field readers: every message a
    request's bad key gets comes from them (a query's, a fold operation's,
    and wire_request_parse's v, op, events, atomic and now), so each way a
    key can be wrong (missing, nil, wrong type, out of range, too long) is
    checked here with the exact message. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "events/wire.h"

#include <string.h>

/* A body built by the test: a map of the pairs packed by fill. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_unpacked u;
} body_t;

static const msgpack_object *
body_of(body_t *b)
{
    msgpack_unpacked_init(&b->u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&b->u, b->sb.data, b->sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    return &b->u.data;
}

static void
body_free(body_t *b)
{
    msgpack_unpacked_destroy(&b->u);
    msgpack_sbuffer_destroy(&b->sb);
}

static msgpack_packer
body_begin(body_t *b, size_t pairs)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, pairs);
    return pk;
}

static const wire_field_t f_period = {
    .name = "period", .type = WIRE_FIELD_STR, .required = true, .max = 7};
static const wire_field_t f_scope = {.name = "scope", .type = WIRE_FIELD_STR};
static const wire_field_t f_limit = {
    .name = "limit", .type = WIRE_FIELD_U64, .min = 1, .def = 1000};
static const wire_field_t f_from = {.name = "from", .type = WIRE_FIELD_U64, .def = 1};
static const wire_field_t f_periods = {
    .name = "periods", .type = WIRE_FIELD_U64, .required = true, .min = 1, .max = 12};
static const wire_field_t f_now = {.name = "now", .type = WIRE_FIELD_I64, .def = -5};
static const wire_field_t f_small = {.name = "small", .type = WIRE_FIELD_I64, .min = -2, .max = 2};
static const wire_field_t f_raw = {.name = "raw", .type = WIRE_FIELD_BOOL};
static const wire_field_t f_weights = {.name = "weights", .type = WIRE_FIELD_MAP};
static const wire_field_t f_prefix = {.name = "prefix", .type = WIRE_FIELD_STRS, .max = 2};

static void
test_missing(void **state)
{
    (void)state;
    body_t b;
    body_begin(&b, 0);
    const msgpack_object *body = body_of(&b);
    char msg[128] = "", buf[8];
    const char *s;
    size_t len;
    uint64_t u;
    int64_t i;
    bool v = true;
    const msgpack_object *o = body;
    /* required: -1 with "<key>: required (<what>)" */
    assert_int_equal(wire_req_strcpy(body, &f_period, buf, sizeof buf, msg, sizeof msg), -1);
    assert_string_equal(msg, "period: required (a string of at most 7 bytes)");
    assert_int_equal(wire_req_u64(body, &f_periods, &u, msg, sizeof msg), -1);
    assert_string_equal(msg, "periods: required (an integer from 1 to 12)");
    /* optional: 0, the default given, the message untouched */
    msg[0] = 0;
    assert_int_equal(wire_req_str(body, &f_scope, &s, &len, msg, sizeof msg), 0);
    assert_null(s);
    assert_int_equal(wire_req_u64(body, &f_limit, &u, msg, sizeof msg), 0);
    assert_int_equal(u, 1000);
    assert_int_equal(wire_req_i64(body, &f_now, &i, msg, sizeof msg), 0);
    assert_int_equal(i, -5);
    assert_int_equal(wire_req_bool(body, &f_raw, &v, msg, sizeof msg), 0);
    assert_false(v);
    assert_int_equal(wire_req_obj(body, &f_weights, &o, msg, sizeof msg), 0);
    assert_null(o);
    assert_string_equal(msg, "");
    body_free(&b);
}

static void
test_nil_is_absent(void **state)
{
    (void)state;
    body_t b;
    msgpack_packer pk = body_begin(&b, 3);
    msgpack_pack_str_with_body(&pk, "limit", 5);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "prefix", 6);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "period", 6);
    msgpack_pack_nil(&pk);
    const msgpack_object *body = body_of(&b);
    char msg[128] = "", buf[8];
    uint64_t u;
    const msgpack_object *o;
    assert_int_equal(wire_req_u64(body, &f_limit, &u, msg, sizeof msg), 0);
    assert_int_equal(u, 1000);
    assert_int_equal(wire_req_obj(body, &f_prefix, &o, msg, sizeof msg), 0);
    assert_null(o);
    /* nil where a value is required is the key left out */
    assert_int_equal(wire_req_strcpy(body, &f_period, buf, sizeof buf, msg, sizeof msg), -1);
    assert_string_equal(msg, "period: required (a string of at most 7 bytes)");
    body_free(&b);
}

static void
test_wrong_type(void **state)
{
    (void)state;
    body_t b;
    msgpack_packer pk = body_begin(&b, 7);
    msgpack_pack_str_with_body(&pk, "period", 6);
    msgpack_pack_int(&pk, 5);
    msgpack_pack_str_with_body(&pk, "limit", 5);
    msgpack_pack_str_with_body(&pk, "10", 2);
    msgpack_pack_str_with_body(&pk, "from", 4);
    msgpack_pack_int(&pk, -1); /* negative: not a u64 */
    msgpack_pack_str_with_body(&pk, "now", 3);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_str_with_body(&pk, "raw", 3);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "weights", 7);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_str_with_body(&pk, "prefix", 6);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_int(&pk, 1);
    const msgpack_object *body = body_of(&b);
    char msg[128], buf[8];
    uint64_t u;
    int64_t i;
    bool v;
    const msgpack_object *o;
    assert_int_equal(wire_req_strcpy(body, &f_period, buf, sizeof buf, msg, sizeof msg), -1);
    assert_string_equal(msg, "period: expected a string of at most 7 bytes");
    assert_int_equal(wire_req_u64(body, &f_limit, &u, msg, sizeof msg), -1);
    assert_string_equal(msg, "limit: expected a positive integer");
    assert_int_equal(wire_req_u64(body, &f_from, &u, msg, sizeof msg), -1);
    assert_string_equal(msg, "from: expected a non-negative integer");
    assert_int_equal(wire_req_i64(body, &f_now, &i, msg, sizeof msg), -1);
    assert_string_equal(msg, "now: expected an integer");
    assert_int_equal(wire_req_bool(body, &f_raw, &v, msg, sizeof msg), -1);
    assert_string_equal(msg, "raw: expected a boolean");
    assert_int_equal(wire_req_obj(body, &f_weights, &o, msg, sizeof msg), -1);
    assert_string_equal(msg, "weights: expected a map");
    assert_int_equal(wire_req_obj(body, &f_prefix, &o, msg, sizeof msg), -1);
    assert_string_equal(msg, "prefix: expected a string or an array of at most 2 strings");
    /* the list check stops at the first bad key, in the list's order */
    const wire_field_t *const fields[] = {&f_scope, &f_raw, &f_limit, NULL};
    assert_int_equal(wire_req_check(body, fields, msg, sizeof msg), -1);
    assert_string_equal(msg, "raw: expected a boolean");
    body_free(&b);
}

static void
test_out_of_range(void **state)
{
    (void)state;
    body_t b;
    msgpack_packer pk = body_begin(&b, 5);
    msgpack_pack_str_with_body(&pk, "period", 6);
    msgpack_pack_str_with_body(&pk, "2026-Q4x", 8); /* one byte too long */
    msgpack_pack_str_with_body(&pk, "limit", 5);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_str_with_body(&pk, "periods", 7);
    msgpack_pack_uint64(&pk, 13);
    msgpack_pack_str_with_body(&pk, "small", 5);
    msgpack_pack_int64(&pk, -3);
    msgpack_pack_str_with_body(&pk, "now", 3);
    msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1); /* no int64 */
    const msgpack_object *body = body_of(&b);
    char msg[128], buf[16];
    uint64_t u;
    int64_t i;
    assert_int_equal(wire_req_strcpy(body, &f_period, buf, sizeof buf, msg, sizeof msg), -1);
    assert_string_equal(msg, "period: expected a string of at most 7 bytes");
    assert_int_equal(wire_req_u64(body, &f_limit, &u, msg, sizeof msg), -1);
    assert_string_equal(msg, "limit: expected a positive integer");
    assert_int_equal(wire_req_u64(body, &f_periods, &u, msg, sizeof msg), -1);
    assert_string_equal(msg, "periods: expected an integer from 1 to 12");
    assert_int_equal(wire_req_i64(body, &f_small, &i, msg, sizeof msg), -1);
    assert_string_equal(msg, "small: expected an integer from -2 to 2");
    assert_int_equal(wire_req_i64(body, &f_now, &i, msg, sizeof msg), -1);
    assert_string_equal(msg, "now: expected an integer");
    body_free(&b);
}

static void
test_present(void **state)
{
    (void)state;
    body_t b;
    msgpack_packer pk = body_begin(&b, 8);
    msgpack_pack_str_with_body(&pk, "period", 6);
    msgpack_pack_str_with_body(&pk, "2026-10", 7); /* exactly max */
    msgpack_pack_str_with_body(&pk, "limit", 5);
    msgpack_pack_uint64(&pk, UINT64_MAX); /* no upper bound */
    msgpack_pack_str_with_body(&pk, "periods", 7);
    msgpack_pack_uint64(&pk, 12);
    msgpack_pack_str_with_body(&pk, "small", 5);
    msgpack_pack_int64(&pk, -2);
    msgpack_pack_str_with_body(&pk, "now", 3);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_str_with_body(&pk, "raw", 3);
    msgpack_pack_true(&pk);
    msgpack_pack_str_with_body(&pk, "prefix", 6);
    msgpack_pack_str_with_body(&pk, "alert/", 6);
    msgpack_pack_str_with_body(&pk, "weights", 7);
    msgpack_pack_map(&pk, 0);
    const msgpack_object *body = body_of(&b);
    char msg[128] = "", buf[8];
    uint64_t u;
    int64_t i;
    bool v;
    const msgpack_object *o;
    assert_int_equal(wire_req_strcpy(body, &f_period, buf, sizeof buf, msg, sizeof msg), 1);
    assert_string_equal(buf, "2026-10");
    assert_int_equal(wire_req_u64(body, &f_limit, &u, msg, sizeof msg), 1);
    assert_true(u == UINT64_MAX);
    assert_int_equal(wire_req_u64(body, &f_periods, &u, msg, sizeof msg), 1);
    assert_int_equal(u, 12);
    assert_int_equal(wire_req_i64(body, &f_small, &i, msg, sizeof msg), 1);
    assert_int_equal(i, -2);
    assert_int_equal(wire_req_i64(body, &f_now, &i, msg, sizeof msg), 1);
    assert_true(i == INT64_MIN);
    assert_int_equal(wire_req_bool(body, &f_raw, &v, msg, sizeof msg), 1);
    assert_true(v);
    assert_int_equal(wire_req_obj(body, &f_prefix, &o, msg, sizeof msg), 1);
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_int_equal(wire_req_obj(body, &f_weights, &o, msg, sizeof msg), 1);
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    const wire_field_t *const fields[] = {&f_period, &f_limit,  &f_periods, &f_small, &f_now,
                                          &f_raw,    &f_prefix, &f_weights, &f_scope, NULL};
    assert_int_equal(wire_req_check(body, fields, msg, sizeof msg), 0);
    assert_string_equal(msg, "");
    /* a handler's own check of a value, in the same format */
    assert_int_equal(wire_req_expected("curve", "linear, working or profile", msg, sizeof msg), -1);
    assert_string_equal(msg, "curve: expected linear, working or profile");
    assert_int_equal(wire_req_required("weights", "with method weights", msg, sizeof msg), -1);
    assert_string_equal(msg, "weights: required (with method weights)");
    body_free(&b);
}

static const wire_field_t f_events = {
    .name = "events", .type = WIRE_FIELD_ARRAY, .required = true, .min = 1};
static const wire_field_t f_pair = {.name = "pair", .type = WIRE_FIELD_ARRAY, .min = 2, .max = 2};
static const wire_field_t f_any = {.name = "any", .type = WIRE_FIELD_ARRAY};

static void
test_array(void **state)
{
    (void)state;
    body_t b;
    msgpack_packer pk = body_begin(&b, 3);
    msgpack_pack_str_with_body(&pk, "events", 6);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_str_with_body(&pk, "pair", 4);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1); /* elements of any type: the handler's */
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "any", 3);
    msgpack_pack_map(&pk, 0);
    const msgpack_object *body = body_of(&b);
    char msg[128];
    const msgpack_object *o;
    assert_int_equal(wire_req_obj(body, &f_events, &o, msg, sizeof msg), -1);
    assert_string_equal(msg, "events: expected a non-empty array");
    assert_int_equal(wire_req_obj(body, &f_pair, &o, msg, sizeof msg), -1);
    assert_string_equal(msg, "pair: expected an array of 2 to 2 elements");
    assert_int_equal(wire_req_obj(body, &f_any, &o, msg, sizeof msg), -1);
    assert_string_equal(msg, "any: expected an array");
    body_free(&b);

    pk = body_begin(&b, 2);
    msgpack_pack_str_with_body(&pk, "pair", 4);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_str_with_body(&pk, "any", 3);
    msgpack_pack_nil(&pk);
    body = body_of(&b);
    assert_int_equal(wire_req_obj(body, &f_events, &o, msg, sizeof msg), -1);
    assert_string_equal(msg, "events: required (a non-empty array)");
    assert_int_equal(wire_req_obj(body, &f_pair, &o, msg, sizeof msg), 1);
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o->via.array.size, 2);
    assert_int_equal(wire_req_obj(body, &f_any, &o, msg, sizeof msg), 0); /* nil: absent */
    assert_null(o);
    body_free(&b);
}

/* wire_request_parse reads v, op and the append endpoint's keys with the
   same readers: a body of n pairs packed by the test, parsed. */
static wire_rc_t
parse_body(body_t *b, wire_request_t *req, char *msg, size_t msglen)
{
    return wire_request_parse(req, b->sb.data, b->sb.size, msg, msglen);
}

static void
pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    wire_pack_str(pk, k);
    wire_pack_str(pk, v);
}

static void
test_request_parse_fields(void **state)
{
    (void)state;
    char msg[256];
    wire_request_t req;
    body_t b;
    msgpack_packer pk;
    /* each: the request, its code and exact message */
    struct {
        int v;          /* 1, or: -1 absent, -2 nil, -3 a string, -4 negative */
        const char *op; /* NULL: absent */
        int events;     /* -1 absent, -2 nil, -3 a map, else that many nils */
        int atomic;     /* -1 absent, -2 nil, 0 false, 1 true, 2 an integer */
        int now;        /* -1 absent, -2 nil, -3 negative, -4 past year 9999, 5 */
        wire_rc_t rc;
        const char *message;
    } cases[] = {
        {-1, "append", 1, -1, -1, WIRE_BAD_REQUEST, "v: required (a non-negative integer)"},
        {-2, "append", 1, -1, -1, WIRE_BAD_REQUEST, "v: required (a non-negative integer)"},
        {-3, "append", 1, -1, -1, WIRE_BAD_REQUEST, "v: expected a non-negative integer"},
        {-4, "append", 1, -1, -1, WIRE_BAD_REQUEST, "v: expected a non-negative integer"},
        {2, "append", 1, -1, -1, WIRE_UNSUPPORTED_VERSION,
         "v: version 2 is not supported; this daemon speaks 1"},
        {1, NULL, 1, -1, -1, WIRE_BAD_REQUEST, "op: required (a string)"},
        {1, "append", -1, -1, -1, WIRE_BAD_REQUEST, "events: required (a non-empty array)"},
        {1, "append", -2, -1, -1, WIRE_BAD_REQUEST, "events: required (a non-empty array)"},
        {1, "append", -3, -1, -1, WIRE_BAD_REQUEST, "events: expected a non-empty array"},
        {1, "append", 0, -1, -1, WIRE_BAD_REQUEST, "events: expected a non-empty array"},
        {1, "append", WIRE_MAX_EVENTS + 1, 2, -1, WIRE_TOO_LARGE,
         "events: 100001 events in one batch, at most 100000 allowed"},
        {1, "append", 1, 2, -1, WIRE_BAD_REQUEST, "atomic: expected a boolean"},
        {1, "append", 0, 2, -1, WIRE_BAD_REQUEST, "events: expected a non-empty array"},
        {-3, NULL, 0, 2, -1, WIRE_BAD_REQUEST, "v: expected a non-negative integer"},
        {1, "tick", -1, -1, -3, WIRE_BAD_REQUEST,
         "now: expected an integer from 0 to 253402300799999"},
        {1, "tick", -1, -1, -4, WIRE_BAD_REQUEST,
         "now: expected an integer from 0 to 253402300799999"},
        /* the keys of another op are not read: append's now, tick's events */
        {1, "append", 1, 1, -3, WIRE_OK, ""},
        {1, "tick", 0, 2, 5, WIRE_OK, ""},
        {1, "tick", -1, -1, -2, WIRE_OK, ""},
        {1, "append", 2, -2, -1, WIRE_OK, ""},
        {1, "append", 3, 0, -1, WIRE_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t pairs = (cases[i].v != -1) + (cases[i].op != NULL) + (cases[i].events != -1) +
                       (cases[i].atomic != -1) + (cases[i].now != -1);
        pk = body_begin(&b, pairs);
        if (cases[i].v != -1) {
            wire_pack_str(&pk, "v");
            if (cases[i].v == -2)
                msgpack_pack_nil(&pk);
            else if (cases[i].v == -3)
                wire_pack_str(&pk, "1");
            else
                msgpack_pack_int(&pk, cases[i].v == -4 ? -1 : cases[i].v);
        }
        if (cases[i].op)
            pack_kv_str(&pk, "op", cases[i].op);
        if (cases[i].events != -1) {
            wire_pack_str(&pk, "events");
            if (cases[i].events == -2)
                msgpack_pack_nil(&pk);
            else if (cases[i].events == -3)
                msgpack_pack_map(&pk, 0);
            else {
                msgpack_pack_array(&pk, (size_t)cases[i].events);
                for (int e = 0; e < cases[i].events; e++)
                    msgpack_pack_nil(&pk);
            }
        }
        if (cases[i].atomic != -1) {
            wire_pack_str(&pk, "atomic");
            if (cases[i].atomic == -2)
                msgpack_pack_nil(&pk);
            else if (cases[i].atomic == 2)
                msgpack_pack_int(&pk, 1);
            else if (cases[i].atomic)
                msgpack_pack_true(&pk);
            else
                msgpack_pack_false(&pk);
        }
        if (cases[i].now != -1) {
            wire_pack_str(&pk, "now");
            if (cases[i].now == -2)
                msgpack_pack_nil(&pk);
            else if (cases[i].now == -3)
                msgpack_pack_int(&pk, -1);
            else if (cases[i].now == -4)
                msgpack_pack_uint64(&pk, 253402300800000ULL);
            else
                msgpack_pack_int(&pk, cases[i].now);
        }
        strcpy(msg, "");
        wire_rc_t rc = parse_body(&b, &req, msg, sizeof msg);
        if (rc != cases[i].rc || strcmp(msg, cases[i].message) != 0)
            fail_msg("case %zu: %s \"%s\", wanted %s \"%s\"", i, wire_rc_name(rc), msg,
                     wire_rc_name(cases[i].rc), cases[i].message);
        if (rc == WIRE_OK && req.op == OP_APPEND) {
            assert_int_equal(req.nevents, (uint32_t)cases[i].events);
            assert_non_null(req.events);
            assert_int_equal(req.atomic, cases[i].atomic == 1); /* nil: not atomic */
            assert_false(req.has_now);
        }
        if (rc == WIRE_OK && req.op == OP_TICK) {
            assert_int_equal(req.has_now, cases[i].now >= 0); /* nil: the daemon's clock */
            assert_int_equal(req.now, cases[i].now >= 0 ? cases[i].now : 0);
            assert_int_equal(req.nevents, 0);
        }
        wire_request_free(&req);
        msgpack_sbuffer_destroy(&b.sb);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_nil_is_absent),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_present),
        cmocka_unit_test(test_array),
        cmocka_unit_test(test_request_parse_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
