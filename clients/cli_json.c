/*  cli_json: JSON <-> msgpack for the pacer command line.

    Both directions are a recursive walk over the value. Depth is bounded on
    the way in by CLI_JSON_MAX_DEPTH (jansson alone would allow 2048, deeper
    than any request may nest) and on the way out by msgpack-c, which does
    not unpack values nested deeper than 32. */

#include "events/wire.h"
#include "clients/cli_json.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int json_fail(int rc, char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static int
json_fail(int rc, char *err, size_t errlen, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
    return rc;
}

const char *
cli_json_rc_code(int rc)
{
    switch (rc) {
    case CLI_JSON_OK:
        return "ok";
    case CLI_JSON_INVALID:
        return "invalid_json";
    case CLI_JSON_NOT_OBJECT:
        return "not_a_map";
    case CLI_JSON_UNSUPPORTED:
        return "unsupported";
    case CLI_JSON_NOMEM:
        return "out_of_memory";
    default:
        return "error";
    }
}

static const char *
json_type_name(const json_t *json)
{
    switch (json_typeof(json)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* ---- JSON -> msgpack ------------------------------------------------------ */

static int
pack_json(const json_t *json, msgpack_packer *pk, int depth, char *err, size_t errlen)
{
    int packed = 0; /* msgpack-c's result: 0, or -1 when its buffer failed */
    switch (json_typeof(json)) {
    case JSON_NULL:
        packed = msgpack_pack_nil(pk);
        break;
    case JSON_TRUE:
        packed = msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        packed = msgpack_pack_false(pk);
        break;
    case JSON_INTEGER:
        /* json_int_t is long long: jansson refuses anything wider when parsing. */
        packed = msgpack_pack_int64(pk, (int64_t)json_integer_value(json));
        break;
    case JSON_REAL:
        packed = msgpack_pack_double(pk, json_real_value(json));
        break;
    case JSON_STRING: {
        size_t len = json_string_length(json);
        packed = msgpack_pack_str(pk, len);
        if (packed == 0)
            packed = msgpack_pack_str_body(pk, json_string_value(json), len);
        break;
    }
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (depth >= CLI_JSON_MAX_DEPTH)
            return json_fail(CLI_JSON_INVALID, err, errlen, "nested deeper than %d",
                             CLI_JSON_MAX_DEPTH);
        if (json_is_array(json)) {
            size_t size = json_array_size(json);
            if (msgpack_pack_array(pk, size) != 0)
                break;
            for (size_t i = 0; i < size; i++) {
                int rc = pack_json(json_array_get(json, i), pk, depth + 1, err, errlen);
                if (rc != CLI_JSON_OK)
                    return rc;
            }
            return CLI_JSON_OK;
        }
        if (msgpack_pack_map(pk, json_object_size(json)) != 0)
            break;
        /* jansson iterates in insertion order, so keys keep the line's order. */
        for (void *iter = json_object_iter((json_t *)json); iter;
             iter = json_object_iter_next((json_t *)json, iter)) {
            const char *key = json_object_iter_key(iter);
            size_t key_len = json_object_iter_key_len(iter);
            if (msgpack_pack_str(pk, key_len) != 0 ||
                msgpack_pack_str_body(pk, key, key_len) != 0) {
                packed = -1;
                break;
            }
            int rc = pack_json(json_object_iter_value(iter), pk, depth + 1, err, errlen);
            if (rc != CLI_JSON_OK)
                return rc;
        }
        break;
    }
    if (packed != 0)
        return json_fail(CLI_JSON_NOMEM, err, errlen, "out of memory encoding msgpack");
    return CLI_JSON_OK;
}

int
cli_json_to_msgpack(const json_t *json, msgpack_packer *pk, char *err, size_t errlen)
{
    assert(json);
    assert(pk);
    return pack_json(json, pk, 0, err, errlen);
}

int
cli_json_line_to_msgpack(const char *line, size_t len, msgpack_sbuffer *out, char *err,
                         size_t errlen)
{
    assert(line);
    assert(out);
    json_error_t error;
    json_t *json = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error);
    if (!json)
        return json_fail(CLI_JSON_INVALID, err, errlen, "%s at column %d", error.text,
                         error.column);
    if (!json_is_object(json)) {
        int rc = json_fail(CLI_JSON_NOT_OBJECT, err, errlen,
                           "an event must be a JSON object, got %s", json_type_name(json));
        json_decref(json);
        return rc;
    }
    /* Pack into the end of `out`, and cut it back if the value fails. */
    size_t mark = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = pack_json(json, &pk, 0, err, errlen);
    json_decref(json);
    if (rc != CLI_JSON_OK)
        out->size = mark;
    return rc;
}

/* ---- msgpack -> JSON ------------------------------------------------------ */

void
cli_json_hex(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *bytes = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static json_t *unsupported(int *rc_p, int rc, char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 5, 6)));

static json_t *
unsupported(int *rc_p, int rc, char *err, size_t errlen, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
    if (rc_p)
        *rc_p = rc;
    return NULL;
}

static json_t *
bin_to_hex(const msgpack_object *object, int *rc_p, char *err, size_t errlen)
{
    size_t len = object->via.bin.size;
    char *hex = malloc(2 * len + 1);
    if (!hex)
        return unsupported(rc_p, CLI_JSON_NOMEM, err, errlen, "out of memory");
    cli_json_hex(object->via.bin.ptr, len, hex);
    json_t *json = json_stringn(hex, 2 * len);
    free(hex);
    return json ? json : unsupported(rc_p, CLI_JSON_NOMEM, err, errlen, "out of memory");
}

json_t *
cli_msgpack_to_json(const msgpack_object *object, int *rc_p, char *err, size_t errlen)
{
    assert(object);
    json_t *json = NULL;
    switch (object->type) {
    case MSGPACK_OBJECT_NIL:
        json = json_null();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        json = json_boolean(object->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (object->via.u64 > INT64_MAX)
            return unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen,
                               "integer %" PRIu64 " is beyond int64", object->via.u64);
        json = json_integer((json_int_t)object->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        json = json_integer((json_int_t)object->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* JSON has no NaN or infinity: null, as JavaScript writes them
           (an older pacerd's anomaly records hold NaN for a figure the
           detector could not compute) */
        json = isfinite(object->via.f64) ? json_real(object->via.f64) : json_null();
        break;
    case MSGPACK_OBJECT_STR:
        /* msgpack-c gives an empty string a NULL pointer; jansson wants one */
        json = json_stringn(object->via.str.size ? object->via.str.ptr : "", object->via.str.size);
        if (!json)
            return unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen,
                               "string is not valid UTF-8");
        return json;
    case MSGPACK_OBJECT_BIN:
        return bin_to_hex(object, rc_p, err, errlen);
    case MSGPACK_OBJECT_ARRAY:
        json = json_array();
        for (uint32_t i = 0; json && i < object->via.array.size; i++) {
            json_t *item = cli_msgpack_to_json(&object->via.array.ptr[i], rc_p, err, errlen);
            if (!item || json_array_append_new(json, item) != 0) {
                json_decref(json);
                return item ? unsupported(rc_p, CLI_JSON_NOMEM, err, errlen, "out of memory")
                            : NULL;
            }
        }
        break;
    case MSGPACK_OBJECT_MAP:
        json = json_object();
        for (uint32_t i = 0; json && i < object->via.map.size; i++) {
            const msgpack_object_kv *kv = &object->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                json_decref(json);
                return unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen,
                                   "map key is a %s, JSON keys are strings",
                                   kv->key.type == MSGPACK_OBJECT_BIN ? "bin" : "non-string");
            }
            json_t *value = cli_msgpack_to_json(&kv->val, rc_p, err, errlen);
            if (!value) {
                json_decref(json);
                return NULL;
            }
            /* setn_new checks the key is UTF-8 and consumes value either way. */
            const char *key = kv->key.via.str.size ? kv->key.via.str.ptr : "";
            if (json_object_setn_new(json, key, kv->key.via.str.size, value) != 0) {
                json_decref(json);
                return unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen,
                                   "map key is not valid UTF-8");
            }
        }
        break;
    case MSGPACK_OBJECT_EXT:
        return unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen,
                           "msgpack ext type %d has no JSON form", object->via.ext.type);
    default:
        return unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen, "unknown msgpack type %d",
                           (int)object->type);
    }
    if (!json)
        return unsupported(rc_p, CLI_JSON_NOMEM, err, errlen, "out of memory");
    if (rc_p)
        *rc_p = CLI_JSON_OK;
    return json;
}

/* Fewest significant digits (1 to 17) that print `value` so it reads back
   exactly; 17 always suffices for a double. */
static int
real_digits(double value)
{
    for (int digits = 1; digits < 17; digits++) {
        char text[40];
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtod(text, NULL) == value)
            return digits;
    }
    return 17;
}

/* jansson takes one precision for a whole dump: the most any real needs. */
static int
json_digits(const json_t *json)
{
    int digits = 1;
    if (json_is_real(json))
        digits = real_digits(json_real_value(json));
    else if (json_is_array(json))
        for (size_t i = 0; i < json_array_size(json); i++) {
            int d = json_digits(json_array_get(json, i));
            digits = d > digits ? d : digits;
        }
    else if (json_is_object(json))
        for (void *iter = json_object_iter((json_t *)json); iter;
             iter = json_object_iter_next((json_t *)json, iter)) {
            int d = json_digits(json_object_iter_value(iter));
            digits = d > digits ? d : digits;
        }
    return digits;
}

char *
cli_json_dumps(const json_t *json)
{
    assert(json);
    return json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(json_digits(json)));
}

json_t *
cli_msgpack_bytes_to_json(const void *data, size_t len, int *rc_p, char *err, size_t errlen)
{
    assert(data || len == 0);
    /* msgpack-c allocates a container's elements from its header before
       reading them: prove every count fits the bytes first (found by
       tests/fuzz_json.c: a 5-byte map header asked for gigabytes). */
    if (!mp_scan(data, len, WIRE_MAX_DEPTH)) {
        unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen,
                    "not exactly one well-formed msgpack value");
        return NULL;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&unpacked, data, len, &off);
    json_t *json = NULL;
    if (ret == MSGPACK_UNPACK_SUCCESS && off == len)
        json = cli_msgpack_to_json(&unpacked.data, rc_p, err, errlen);
    else if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        unsupported(rc_p, CLI_JSON_NOMEM, err, errlen,
                    "out of memory, or nested deeper than msgpack-c unpacks");
    else
        unsupported(rc_p, CLI_JSON_UNSUPPORTED, err, errlen,
                    "not exactly one msgpack value (msgpack-c result %d)", (int)ret);
    msgpack_unpacked_destroy(&unpacked);
    return json;
}
