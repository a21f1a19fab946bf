/*  Unit tests for events/schema and events/codec: every validation error
    path of EVENTS.md, the schema's lookups and check contracts, canonical
    encoding, UTF-8 and period syntax (dates and periods in depth:
    tests/test_civil.c). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "events/codec.h"
#include "events/utf8.h"

#include <string.h>

/* Build a msgpack map from alternating key, value specs. A value spec is a
   string with a one-letter type prefix: "s:text", "i:123", "f:1.5", "n:",
   "b:1", "x:<hex bytes>" (raw str body), "a:" (empty array). */
static msgpack_sbuffer sbuf;
static msgpack_unpacked unpacked;

static const msgpack_object *
build(const char *const *kv)
{
    msgpack_sbuffer_clear(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    size_t n = 0;
    while (kv[n])
        n++;
    msgpack_pack_map(&pk, n / 2);
    for (size_t i = 0; i < n; i += 2) {
        msgpack_pack_str_with_body(&pk, kv[i], strlen(kv[i]));
        const char *v = kv[i + 1];
        const char *body = v + 2;
        switch (v[0]) {
        case 's':
            msgpack_pack_str_with_body(&pk, body, strlen(body));
            break;
        case 'i':
            msgpack_pack_int64(&pk, strtoll(body, NULL, 10));
            break;
        case 'u':
            msgpack_pack_uint64(&pk, strtoull(body, NULL, 10));
            break;
        case 'f':
            msgpack_pack_double(&pk, strtod(body, NULL));
            break;
        case 'n':
            msgpack_pack_nil(&pk);
            break;
        case 'b':
            msgpack_pack_true(&pk);
            break;
        case 'a':
            msgpack_pack_array(&pk, 0);
            break;
        case 'x': {
            char raw[64];
            size_t len = strlen(body) / 2;
            for (size_t k = 0; k < len; k++) {
                unsigned int byte;
                sscanf(body + 2 * k, "%2x", &byte);
                raw[k] = (char)byte;
            }
            msgpack_pack_str_with_body(&pk, raw, len);
            break;
        }
        }
    }
    msgpack_unpacked_destroy(&unpacked);
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&unpacked, sbuf.data, sbuf.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    return &unpacked.data;
}

#define SALE                                                                                       \
    "type", "s:sale_closed", "id", "s:crm:1", "occurred_at", "i:1764590400000", "order", "s:1",    \
        "rep", "s:zhang", "amount", "i:1250000", "currency", "s:CNY"

static ev_errcode_t
check(const char *const *kv, ev_error_t *err)
{
    event_t ev;
    return event_decode(build(kv), &ev, err);
}

#define EXPECT(code, needle, ...)                                                                  \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        ev_error_t err_;                                                                           \
        assert_int_equal(check(kv_, &err_), code);                                                 \
        const char *needle_ = (needle);                                                            \
        if (needle_ && !strstr(err_.message, needle_))                                             \
            fail_msg("message \"%s\" lacks \"%s\"", err_.message, needle_);                        \
    } while (0)

static void
test_valid_sale(void **state)
{
    EXPECT(EVE_OK, "", SALE);
    EXPECT(EVE_OK, "", SALE, "margin", "i:-5", "quantity", "i:3", "product_line", "s:cloud",
           "customer", "s:c-1", "due_at", "i:1764590400000", "source", "s:crm");
    EXPECT(EVE_OK, "", SALE, "customer", "n:"); /* nil is absent */
}

static void
test_every_error_path(void **state)
{
    EXPECT(EVE_MISSING_FIELD, "type", "id", "s:x");
    EXPECT(EVE_WRONG_TYPE, "type: expected string", "type", "i:1");
    EXPECT(EVE_UNKNOWN_TYPE, "sale_won", "type", "s:sale_won", "id", "s:x");
    EXPECT(EVE_MISSING_FIELD, "amount: required", "type", "s:sale_closed", "id", "s:x",
           "occurred_at", "i:1", "order", "s:1", "rep", "s:z", "currency", "s:CNY");
    EXPECT(EVE_MISSING_FIELD, "currency: required", "type", "s:sale_closed", "id", "s:x",
           "occurred_at", "i:1", "order", "s:1", "rep", "s:z", "amount", "i:1", "currency", "n:");
    EXPECT(EVE_INVALID_VALUE, "currency: given twice", SALE, "currency", "n:");
    EXPECT(EVE_WRONG_TYPE, "amount: expected integer, got string", "type", "s:sale_closed", "id",
           "s:x", "occurred_at", "i:1", "order", "s:1", "rep", "s:z", "amount", "s:12", "currency",
           "s:CNY");
    EXPECT(EVE_WRONG_TYPE, "got float", "type", "s:sale_closed", "id", "s:x", "occurred_at", "i:1",
           "order", "s:1", "rep", "s:z", "amount", "f:1.5", "currency", "s:CNY");
    EXPECT(EVE_UNKNOWN_FIELD, "amout: unknown field", SALE, "amout", "i:1");
    EXPECT(EVE_UNKNOWN_FIELD, "kind: not a field of sale_closed", SALE, "kind", "s:rep");
    EXPECT(EVE_INVALID_UTF8, "rep: not valid UTF-8", "type", "s:sale_closed", "id", "s:x",
           "occurred_at", "i:1", "order", "s:1", "rep", "x:c328", "amount", "i:1", "currency",
           "s:CNY");
    EXPECT(EVE_TOO_LONG, "id: 65 bytes", "type", "s:sale_closed", "id",
           "s:12345678901234567890123456789012345678901234567890123456789012345", "occurred_at",
           "i:1", "order", "s:1", "rep", "s:z", "amount", "i:1", "currency", "s:CNY");
    EXPECT(EVE_INVALID_VALUE, "id: must not be empty", "type", "s:sale_closed", "id",
           "s:", "occurred_at", "i:1", "order", "s:1", "rep", "s:z", "amount", "i:1", "currency",
           "s:CNY");
    EXPECT(EVE_INVALID_VALUE, "control character", "type", "s:sale_closed", "id", "x:610a",
           "occurred_at", "i:1", "order", "s:1", "rep", "s:z", "amount", "i:1", "currency",
           "s:CNY");
    EXPECT(EVE_OUT_OF_RANGE, "amount: -1", "type", "s:sale_closed", "id", "s:x", "occurred_at",
           "i:1", "order", "s:1", "rep", "s:z", "amount", "i:-1", "currency", "s:CNY");
    EXPECT(EVE_OUT_OF_RANGE, "occurred_at", "type", "s:sale_closed", "id", "s:x", "occurred_at",
           "i:-5", "order", "s:1", "rep", "s:z", "amount", "i:1", "currency", "s:CNY");
    EXPECT(EVE_OUT_OF_RANGE, "beyond int64", "type", "s:sale_closed", "id", "s:x", "occurred_at",
           "u:18446744073709551615", "order", "s:1", "rep", "s:z", "amount", "i:1", "currency",
           "s:CNY");
    EXPECT(EVE_INVALID_VALUE, "ISO 4217", "type", "s:sale_closed", "id", "s:x", "occurred_at",
           "i:1", "order", "s:1", "rep", "s:z", "amount", "i:1", "currency", "s:cny");
    EXPECT(EVE_INVALID_VALUE, "given twice", SALE, "amount", "i:2");
}

static void
test_non_string_key(void **state)
{
    msgpack_object_kv kv[2];
    kv[0].key.type = MSGPACK_OBJECT_STR;
    kv[0].key.via.str.ptr = "type";
    kv[0].key.via.str.size = 4;
    kv[0].val.type = MSGPACK_OBJECT_STR;
    kv[0].val.via.str.ptr = "sale_closed";
    kv[0].val.via.str.size = 11;
    kv[1].key.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    kv[1].key.via.u64 = 7;
    kv[1].val.type = MSGPACK_OBJECT_NIL;
    msgpack_object o = {.type = MSGPACK_OBJECT_MAP};
    o.via.map.size = 2;
    o.via.map.ptr = kv;
    event_t ev;
    ev_error_t err;
    assert_int_equal(event_decode(&o, &ev, &err), EVE_UNKNOWN_FIELD);
    assert_non_null(strstr(err.message, "keys must be strings"));
}

static void
test_enum_date_period_metric(void **state)
{
    EXPECT(EVE_OK, "", "type", "s:node_defined", "id", "s:n1", "occurred_at", "i:1", "node",
           "s:acme", "kind", "s:company", "name", "s:ACME");
    EXPECT(EVE_INVALID_VALUE, "kind: \"galaxy\"", "type", "s:node_defined", "id", "s:n1",
           "occurred_at", "i:1", "node", "s:acme", "kind", "s:galaxy", "name", "s:ACME");
    EXPECT(EVE_MISSING_FIELD, "parent: required for a rep", "type", "s:node_defined", "id", "s:n1",
           "occurred_at", "i:1", "node", "s:z", "kind", "s:rep", "name", "s:Z");
    EXPECT(EVE_INVALID_VALUE, "own parent", "type", "s:node_moved", "id", "s:m", "occurred_at",
           "i:1", "node", "s:z", "parent", "s:z", "effective_at", "i:1");
    EXPECT(EVE_OK, "", "type", "s:calendar_day_set", "id", "s:c", "occurred_at", "i:1", "date",
           "s:2024-02-29", "day_type", "s:holiday");
    EXPECT(EVE_INVALID_VALUE, "no such day", "type", "s:calendar_day_set", "id", "s:c",
           "occurred_at", "i:1", "date", "s:2026-02-29", "day_type", "s:holiday");
    EXPECT(EVE_INVALID_VALUE, "YYYY-MM-DD", "type", "s:calendar_day_set", "id", "s:c",
           "occurred_at", "i:1", "date", "s:2026/02/01", "day_type", "s:workday");

#define TARGET(period, metric)                                                                     \
    "type", "s:target_set", "id", "s:t", "occurred_at", "i:1", "scope", "s:east", "metric",        \
        metric, "period", period, "target", "i:100", "author", "s:ceo"
    EXPECT(EVE_OK, "", TARGET("s:2026-Q4", "s:revenue"));
    EXPECT(EVE_OK, "", TARGET("s:2026-W53", "s:kpi:csat"));
    EXPECT(EVE_OK, "", TARGET("s:FY2026-Q1", "s:activities.visit"));
    EXPECT(EVE_OK, "", TARGET("s:2026-11-22", "s:deals"));
    EXPECT(EVE_OK, "", TARGET("s:FY2027-M12", "s:deals"));
    EXPECT(EVE_INVALID_VALUE, "fiscal month", TARGET("s:FY2027-M13", "s:deals"));
    EXPECT(EVE_INVALID_VALUE, "52 ISO weeks", TARGET("s:2025-W53", "s:revenue"));
    EXPECT(EVE_INVALID_VALUE, "month must be 01..12", TARGET("s:2026-13", "s:revenue"));
    EXPECT(EVE_INVALID_VALUE, "quarter", TARGET("s:2026-Q5", "s:revenue"));
    EXPECT(EVE_INVALID_VALUE, "period", TARGET("s:Q4-2026", "s:revenue"));
    EXPECT(EVE_INVALID_VALUE, "metric", TARGET("s:2026", "s:Revenue"));
    EXPECT(EVE_OUT_OF_RANGE, "floor: 200 is above target 100", TARGET("s:2026", "s:revenue"),
           "floor", "i:200");
    EXPECT(EVE_OUT_OF_RANGE, "target: 100 is above stretch 50", TARGET("s:2026", "s:revenue"),
           "stretch", "i:50");
    EXPECT(EVE_MISSING_FIELD, "reason", "type", "s:target_adjusted", "id", "s:a", "occurred_at",
           "i:1", "scope", "s:east", "metric", "s:revenue", "period", "s:2026", "target", "i:5",
           "author", "s:ceo");
    EXPECT(EVE_INVALID_VALUE, "reason: must not be empty", "type", "s:target_adjusted", "id", "s:a",
           "occurred_at", "i:1", "scope", "s:east", "metric", "s:revenue", "period", "s:2026",
           "target", "i:5", "author", "s:ceo", "reason", "s:");
    EXPECT(EVE_MISSING_FIELD, "at least one", "type", "s:target_adjusted", "id", "s:a",
           "occurred_at", "i:1", "scope", "s:east", "metric", "s:revenue", "period", "s:2026",
           "author", "s:ceo", "reason", "s:why");
    EXPECT(EVE_MISSING_FIELD, "one of order or customer", "type", "s:payment_received", "id", "s:p",
           "occurred_at", "i:1", "amount", "i:5", "currency", "s:CNY");
    EXPECT(EVE_OUT_OF_RANGE, "at least 1", "type", "s:sale_refunded", "id", "s:r", "occurred_at",
           "i:1", "order", "s:1", "amount", "i:0", "currency", "s:CNY");
    EXPECT(EVE_WRONG_TYPE, "value: expected number", "type", "s:kpi_recorded", "id", "s:k",
           "occurred_at", "i:1", "kpi", "s:csat", "scope", "s:z", "value", "s:4.5");
}

static void
test_not_a_map(void **state)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_ARRAY};
    event_t ev;
    ev_error_t err;
    assert_int_equal(event_decode(&o, &ev, &err), EVE_NOT_A_MAP);
    assert_non_null(strstr(err.message, "got array"));
}

static void
encode(const char *const *kv, msgpack_sbuffer *out)
{
    event_t ev;
    ev_error_t err;
    assert_int_equal(event_decode(build(kv), &ev, &err), EVE_OK);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    assert_int_equal(event_encode(&ev, &pk), 0);
}

static void
test_canonical_encoding(void **state)
{
    /* Key order and int-versus-float for a number field do not matter. */
    const char *a[] = {"type",   "s:kpi_recorded", "id",  "s:k",   "occurred_at", "i:1", "kpi",
                       "s:csat", "scope",          "s:z", "value", "i:4",         NULL};
    const char *b[] = {"value",  "f:4.0",          "scope", "s:z", "kpi",
                       "s:csat", "occurred_at",    "i:1",   "id",  "s:k",
                       "type",   "s:kpi_recorded", NULL};
    const char *c[] = {"value",  "f:4.5",          "scope", "s:z", "kpi",
                       "s:csat", "occurred_at",    "i:1",   "id",  "s:k",
                       "type",   "s:kpi_recorded", NULL};
    msgpack_sbuffer ea, eb, ec;
    msgpack_sbuffer_init(&ea);
    msgpack_sbuffer_init(&eb);
    msgpack_sbuffer_init(&ec);
    encode(a, &ea);
    encode(b, &eb);
    encode(c, &ec);
    assert_int_equal(ea.size, eb.size);
    assert_memory_equal(ea.data, eb.data, ea.size);
    assert_true(ea.size != ec.size || memcmp(ea.data, ec.data, ea.size) != 0);
    /* The canonical form starts with type, then id. */
    assert_int_equal((unsigned char)ea.data[0], 0x86);
    assert_memory_equal(ea.data + 1, "\xa4type", 5);
    /* Re-decoding the canonical form gives the same bytes again. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, ea.data, ea.size, &off), MSGPACK_UNPACK_SUCCESS);
    event_t ev;
    ev_error_t err;
    assert_int_equal(event_decode(&u.data, &ev, &err), EVE_OK);
    msgpack_sbuffer again;
    msgpack_sbuffer_init(&again);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &again, msgpack_sbuffer_write);
    event_encode(&ev, &pk);
    assert_int_equal(again.size, ea.size);
    assert_memory_equal(again.data, ea.data, ea.size);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&again);
    msgpack_sbuffer_destroy(&ea);
    msgpack_sbuffer_destroy(&eb);
    msgpack_sbuffer_destroy(&ec);
}

/* The hand-written canonical encoder picks msgpack's shortest forms exactly
   as msgpack-c's packer does, at every width boundary. */
static void
test_encoder_matches_msgpack_c(void **state)
{
    static const long long vals[] = {0,
                                     1,
                                     127,
                                     128,
                                     255,
                                     256,
                                     65535,
                                     65536,
                                     4294967295LL,
                                     4294967296LL,
                                     -1,
                                     -32,
                                     -33,
                                     -128,
                                     -129,
                                     -32768,
                                     -32769,
                                     -2147483648LL,
                                     -2147483649LL,
                                     -4611686018427387904LL,
                                     4611686018427387904LL};
    char reason[300];
    memset(reason, 'r', sizeof reason);
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        for (size_t rlen = 1; rlen <= 50; rlen += 49) { /* fixstr and str8 */
            char margin[32], quoted[310];
            snprintf(margin, sizeof margin, "i:%lld", vals[k]);
            snprintf(quoted, sizeof quoted, "s:%.*s", (int)rlen, reason);
            const char *kv[] = {"type",        "s:sale_closed",   "id",     "s:crm:1",
                                "occurred_at", "i:1764590400000", "order",  "s:1",
                                "rep",         "s:zhang",         "amount", "i:1250000",
                                "currency",    "s:CNY",           "margin", margin,
                                "customer",    quoted + 0,        NULL};
            event_t ev;
            ev_error_t err;
            assert_int_equal(event_decode(build(kv), &ev, &err), EVE_OK);
            uint8_t buf[2048];
            size_t len = event_encode_buf(&ev, buf, sizeof buf);
            assert_true(len > 0);
            /* the same map in schema order through msgpack-c */
            msgpack_sbuffer ref;
            msgpack_sbuffer_init(&ref);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &ref, msgpack_sbuffer_write);
            msgpack_pack_map(&pk, 9);
            const char *order[] = {"type",   "id",       "occurred_at", "order", "rep",
                                   "amount", "currency", "customer",    "margin"};
            for (int f = 0; f < 9; f++) {
                msgpack_pack_str_with_body(&pk, order[f], strlen(order[f]));
                if (!strcmp(order[f], "occurred_at"))
                    msgpack_pack_int64(&pk, 1764590400000LL);
                else if (!strcmp(order[f], "amount"))
                    msgpack_pack_int64(&pk, 1250000);
                else if (!strcmp(order[f], "margin"))
                    msgpack_pack_int64(&pk, vals[k]);
                else {
                    const char *v = !strcmp(order[f], "type")       ? "sale_closed"
                                    : !strcmp(order[f], "id")       ? "crm:1"
                                    : !strcmp(order[f], "order")    ? "1"
                                    : !strcmp(order[f], "rep")      ? "zhang"
                                    : !strcmp(order[f], "currency") ? "CNY"
                                                                    : NULL;
                    if (v)
                        msgpack_pack_str_with_body(&pk, v, strlen(v));
                    else
                        msgpack_pack_str_with_body(&pk, reason, rlen);
                }
            }
            assert_int_equal(len, ref.size);
            assert_memory_equal(buf, ref.data, len);
            msgpack_sbuffer_destroy(&ref);
        }
    }
}

static void
test_utf8(void **state)
{
    assert_true(ev_utf8_valid("abc", 3));
    assert_true(ev_utf8_valid("\xe4\xb8\xad\xe6\x96\x87", 6)); /* 中文 */
    assert_true(ev_utf8_valid("\xf0\x9f\x98\x80", 4));         /* emoji */
    assert_false(ev_utf8_valid("\xc0\xaf", 2));                /* overlong */
    assert_false(ev_utf8_valid("\xe0\x80\xaf", 3));            /* overlong */
    assert_false(ev_utf8_valid("\xed\xa0\x80", 3));            /* surrogate */
    assert_false(ev_utf8_valid("\xf4\x90\x80\x80", 4));        /* > U+10FFFF */
    assert_false(ev_utf8_valid("\xe4\xb8", 2));                /* truncated */
    assert_false(ev_utf8_valid("\x80", 1));
}

static void
test_id_hash_stable(void **state)
{
    /* Persisted in the log's id index: must never change between builds. */
    assert_true(event_id_hash("crm:1", 5) == event_id_hash("crm:1", 5));
    assert_true(event_id_hash("crm:1", 5) != event_id_hash("crm:2", 5));
    /* The values the log's id index holds (computed before the codec left
       schema.c): a change here makes every stored index wrong. */
    assert_true(event_id_hash("crm:1", 5) == UINT64_C(12381346469516552526));
    assert_true(event_id_hash("", 0) == UINT64_C(16125105078662264082));
}

/* The schema's own surface, which the codec is written against. */
static void
test_lookup_and_layout(void **state)
{
    assert_int_equal(ev_type_lookup("sale_closed", 11), EV_SALE_CLOSED);
    assert_int_equal(ev_type_lookup("anomaly_reviewed", 16), EV_ANOMALY_REVIEWED);
    assert_int_equal(ev_type_lookup("sale_close", 10), -1);
    assert_int_equal(ev_type_lookup("sale_closed_", 12), -1);
    assert_int_equal(ev_type_lookup("a_name_longer_than_sixteen", 26), -1);
    assert_int_equal(ev_field_lookup("amount", 6, -1), F_AMOUNT);
    assert_int_equal(ev_field_lookup("amount", 6, F_AMOUNT), F_AMOUNT);
    assert_int_equal(ev_field_lookup("amount", 6, F_REP), F_AMOUNT); /* a wrong guess */
    assert_int_equal(ev_field_lookup("amount", 6, F_COUNT + 3), F_AMOUNT);
    assert_int_equal(ev_field_lookup("amoun", 5, F_AMOUNT), -1);
    assert_int_equal(ev_field_lookup("", 0, -1), -1);
    assert_int_equal(ev_field_lookup("product_line", 12, -1), F_PRODUCT_LINE);
    assert_int_equal(ev_field_lookup("product_line_and_more", 21, -1), -1);
    for (int f = 0; f < F_COUNT; f++)
        assert_int_equal(ev_field_lookup(ev_field_name(f), strlen(ev_field_name(f)), -1), f);
    for (int t = 0; t < EV_TYPE_COUNT; t++)
        assert_int_equal(ev_type_lookup(ev_type_name(t), strlen(ev_type_name(t))), t);

    /* sale_closed in EVENTS.md's order: the envelope, then its own fields */
    const ev_layout_t *lay = ev_type_layout(EV_SALE_CLOSED);
    static const ev_field_t order[] = {
        F_TYPE,     F_ID,       F_OCCURRED_AT, F_SOURCE,       F_ORDER,    F_REP,   F_AMOUNT,
        F_CURRENCY, F_CUSTOMER, F_MARGIN,      F_PRODUCT_LINE, F_QUANTITY, F_DUE_AT};
    assert_int_equal(lay->count, sizeof order / sizeof *order);
    for (uint8_t j = 0; j < lay->count; j++) {
        assert_int_equal(lay->field[j], order[j]);
        assert_int_equal(lay->pos[order[j]], j);
        assert_true((lay->mask >> order[j]) & 1);
    }
    assert_false((lay->mask >> F_TARGET) & 1);
    assert_true((lay->required >> F_AMOUNT) & 1);
    assert_false((lay->required >> F_CUSTOMER) & 1);
    assert_false((lay->required >> F_SOURCE) & 1);
    assert_int_equal(ev_field_kind(F_AMOUNT), EV_KIND_INT);
    assert_int_equal(ev_field_kind(F_PERIOD), EV_KIND_PERIOD);
    assert_int_equal(ev_field_kind(F_VALUE), EV_KIND_NUMBER);
}

/* ev_field_check and event_check return what their header says. */
static void
test_check_contracts(void **state)
{
    const char *kv[] = {"a", "s:x", "b", "i:-1", "c", "f:1.5", "d", "n:", NULL};
    const msgpack_object *o = build(kv);
    const msgpack_object *str = &o->via.map.ptr[0].val, *neg = &o->via.map.ptr[1].val;
    const msgpack_object *flt = &o->via.map.ptr[2].val;
    ev_value_t v;
    ev_error_t err;
    assert_int_equal(ev_field_check(F_AMOUNT, str, &v, &err), EVE_WRONG_TYPE);
    assert_string_equal(err.message, "amount: expected integer, got string");
    assert_int_equal(err.code, EVE_WRONG_TYPE);
    assert_int_equal(ev_field_check(F_AMOUNT, neg, &v, &err), EVE_OUT_OF_RANGE);
    assert_int_equal(ev_field_check(F_MARGIN, neg, &v, &err), EVE_OK);
    assert_int_equal(v.i, -1);
    assert_int_equal(ev_field_check(F_VALUE, flt, &v, &err), EVE_OK);
    assert_true(v.d == 1.5);
    assert_int_equal(ev_field_check(F_REP, str, &v, &err), EVE_OK);
    assert_int_equal(v.s.len, 1);
    assert_int_equal(ev_field_check(F_KIND, str, &v, &err), EVE_INVALID_VALUE);
    assert_int_equal(ev_field_check(F_COUNT, str, &v, &err), EVE_INTERNAL);
    assert_string_equal(ev_value_type_name(str), "string");
    assert_string_equal(ev_value_type_name(flt), "float");
    assert_string_equal(ev_value_type_name(&o->via.map.ptr[3].val), "nil");
    assert_string_equal(ev_value_type_name(o), "map");

    /* an event built by hand, checked without the codec */
    event_t ev = {.type = EV_SALE_CANCELLED};
    ev.present = UINT64_C(1) << F_TYPE | UINT64_C(1) << F_ID | UINT64_C(1) << F_OCCURRED_AT;
    assert_int_equal(event_check(&ev, &err), EVE_MISSING_FIELD);
    assert_string_equal(err.message, "order: required for sale_cancelled");
    ev.present |= UINT64_C(1) << F_ORDER;
    assert_int_equal(event_check(&ev, &err), EVE_OK);
    ev.type = EV_TYPE_COUNT;
    assert_int_equal(event_check(&ev, &err), EVE_INTERNAL);
}

/* The one table of wire names: the codes docs/EVENTS.md lists. */
static void
test_errcode_names(void **state)
{
    static const char *const names[] = {
        "ok",         "not_a_map",    "unknown_type", "missing_field", "unknown_field",
        "wrong_type", "invalid_utf8", "too_long",     "out_of_range",  "invalid_value",
        "conflict",   "aborted",      "internal"};
    for (int c = EVE_OK; c <= EVE_INTERNAL; c++)
        assert_string_equal(ev_errcode_name((ev_errcode_t)c), names[c]);
    assert_string_equal(ev_errcode_name((ev_errcode_t)(EVE_INTERNAL + 1)), "internal");
    ev_error_t err;
    assert_int_equal(ev_error_set(&err, EVE_CONFLICT, "id: %s", "x"), EVE_CONFLICT);
    assert_int_equal(err.code, EVE_CONFLICT);
    assert_string_equal(err.message, "id: x");
}

static int
setup(void **state)
{
    msgpack_sbuffer_init(&sbuf);
    msgpack_unpacked_init(&unpacked);
    return 0;
}

static int
teardown(void **state)
{
    msgpack_sbuffer_destroy(&sbuf);
    msgpack_unpacked_destroy(&unpacked);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_sale),
        cmocka_unit_test(test_every_error_path),
        cmocka_unit_test(test_enum_date_period_metric),
        cmocka_unit_test(test_not_a_map),
        cmocka_unit_test(test_non_string_key),
        cmocka_unit_test(test_canonical_encoding),
        cmocka_unit_test(test_encoder_matches_msgpack_c),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_id_hash_stable),
        cmocka_unit_test(test_lookup_and_layout),
        cmocka_unit_test(test_check_contracts),
        cmocka_unit_test(test_errcode_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
