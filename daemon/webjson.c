/*  webjson: see webjson.h. */

#include "daemon/webjson.h"

#include "events/money.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void
webjson_string(http_reply_t *reply, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    http_reply_write(reply, "\"", 1);
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t k = c >= 0x20 && c != '"' && c != '\\' ? utf8_len(s + i, len - i) : 0;
        /* U+2028 and U+2029 are valid JSON but not valid JavaScript before ES2019: escape */
        if (k == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))
            k = 0;
        if (k) {
            run += k;
            i += k;
            continue;
        }
        http_reply_write(reply, s + i - run, run);
        run = 0;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (c < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        else if (c == 0xE2 && i + 2 < len && s[i + 1] == 0x80 && (s[i + 2] & 0xFE) == 0xA8) {
            snprintf(esc, sizeof esc, "\\u%04x", 0x2028 + (s[i + 2] & 1));
            i += 2;
        } else
            snprintf(esc, sizeof esc, "\\ufffd"); /* not UTF-8 */
        http_reply_write(reply, esc, strlen(esc));
        i++;
    }
    http_reply_write(reply, s + len - run, run);
    http_reply_write(reply, "\"", 1);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as d. */
static void
write_double(http_reply_t *reply, double d)
{
    if (!isfinite(d)) {
        http_reply_write(reply, "null", 4);
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    http_reply_write(reply, buf, strlen(buf));
}

static bool
is_str(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && !memcmp(o->via.str.ptr, s, n);
}

static void
write_map(http_reply_t *reply, const msgpack_object_map *map)
{
    http_reply_write(reply, "{", 1);
    const msgpack_object *currency = NULL;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_kv *kv = &map->ptr[i];
        if (i)
            http_reply_write(reply, ",", 1);
        if (kv->key.type == MSGPACK_OBJECT_STR)
            webjson_string(reply, kv->key.via.str.ptr, kv->key.via.str.size);
        else {
            http_reply_t key = {0};
            webjson_write(&key, &kv->key);
            if (key.failed)
                reply->failed = true;
            webjson_string(reply, key.body ? key.body : "", key.len);
            free(key.body);
        }
        http_reply_write(reply, ":", 1);
        webjson_write(reply, &kv->val);
        if (is_str(&kv->key, "currency") && kv->val.type == MSGPACK_OBJECT_STR &&
            kv->val.via.str.size == 3)
            currency = &kv->val;
    }
    if (currency) {
        char code[4];
        memcpy(code, currency->via.str.ptr, 3);
        code[3] = 0;
        http_reply_printf(reply, "%s\"currency_digits\":%d", map->size ? "," : "",
                          money_digits(code));
    }
    http_reply_write(reply, "}", 1);
}

void
webjson_write(http_reply_t *reply, const msgpack_object *obj)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        http_reply_write(reply, "null", 4);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        if (obj->via.boolean)
            http_reply_write(reply, "true", 4);
        else
            http_reply_write(reply, "false", 5);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        http_reply_printf(reply, "%" PRIu64, obj->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        http_reply_printf(reply, "%" PRId64, obj->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        write_double(reply, obj->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        webjson_string(reply, obj->via.str.ptr, obj->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        http_reply_write(reply, "\"", 1);
        for (uint32_t i = 0; i < obj->via.bin.size; i++)
            http_reply_printf(reply, "%02x", (unsigned char)obj->via.bin.ptr[i]);
        http_reply_write(reply, "\"", 1);
        break;
    case MSGPACK_OBJECT_ARRAY:
        http_reply_write(reply, "[", 1);
        for (uint32_t i = 0; i < obj->via.array.size; i++) {
            if (i)
                http_reply_write(reply, ",", 1);
            webjson_write(reply, &obj->via.array.ptr[i]);
        }
        http_reply_write(reply, "]", 1);
        break;
    case MSGPACK_OBJECT_MAP:
        write_map(reply, &obj->via.map);
        break;
    default: /* ext */
        http_reply_write(reply, "null", 4);
        break;
    }
}
