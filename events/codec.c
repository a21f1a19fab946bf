/*  codec: events between msgpack and event_t, and their canonical bytes.

    Decoding is one pass over the map's keys: each key is looked up
    (events/schema.h: the field after the last one matched first, since
    producers mostly keep schema order), checked against the type's field
    mask and for repeats; its value is checked against the field's kind and
    a bit set in `present`. event_check then applies the required fields
    and the rules across fields. Nothing is allocated.

    The canonical encoding is the event's present fields in the type's
    schema order, every value in msgpack's shortest form. The log stores
    every event in it and hashes its bytes into the chain, so a byte of
    difference here breaks every existing log: tests/test_schema.c compares
    it with msgpack-c's packer and the fuzz corpora replay old inputs. */

#include "events/codec.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Each field name as a msgpack fixstr, its length and its kind: what the
   encoder writes per field, built once from the schema's names. */
static uint8_t key_enc[F_COUNT][32];
static uint8_t key_len[F_COUNT];
static ev_kind_t key_kind[F_COUNT];
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static atomic_bool keys_ready;

static void
keys_build(void)
{
    for (int f = 0; f < F_COUNT; f++) {
        const char *name = ev_field_name((ev_field_t)f);
        size_t n = strlen(name);
        if (n > 31)
            abort(); /* not a fixstr: the schema's names are at most 16 bytes */
        key_len[f] = (uint8_t)n;
        key_kind[f] = ev_field_kind((ev_field_t)f);
        key_enc[f][0] = (uint8_t)(0xa0 | n);
        memcpy(key_enc[f] + 1, name, n);
    }
    atomic_store_explicit(&keys_ready, true, memory_order_release);
}

static inline void
keys_init(void)
{
    if (!atomic_load_explicit(&keys_ready, memory_order_acquire))
        pthread_once(&keys_once, keys_build);
}

ev_str_t
event_peek_id(const msgpack_object *obj)
{
    ev_str_t id = {NULL, 0};
    if (obj->type != MSGPACK_OBJECT_MAP)
        return id;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
            memcmp(kv->key.via.str.ptr, "id", 2) == 0 && kv->val.type == MSGPACK_OBJECT_STR) {
            id.ptr = kv->val.via.str.ptr;
            id.len = kv->val.via.str.size;
        }
    }
    return id;
}

static int
find_type(const msgpack_object *obj, ev_error_t *err)
{
    const msgpack_object *tv = NULL;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *k = &obj->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 4 &&
            memcmp(k->via.str.ptr, "type", 4) == 0)
            tv = &obj->via.map.ptr[i].val;
    }
    if (!tv || tv->type == MSGPACK_OBJECT_NIL)
        return -ev_error_set(err, EVE_MISSING_FIELD, "type: required");
    if (tv->type != MSGPACK_OBJECT_STR)
        return -ev_error_set(err, EVE_WRONG_TYPE, "type: expected string, got %s",
                             ev_value_type_name(tv));
    int t = ev_type_lookup(tv->via.str.ptr, tv->via.str.size);
    if (t >= 0)
        return t;
    return -ev_error_set(err, EVE_UNKNOWN_TYPE, "type: \"%.*s\" is not an event type",
                         (int)(tv->via.str.size > 40 ? 40 : tv->via.str.size), tv->via.str.ptr);
}

ev_errcode_t
event_decode(const msgpack_object *obj, event_t *ev, ev_error_t *err)
{
    err->code = EVE_OK;
    err->message[0] = 0;
    if (obj->type != MSGPACK_OBJECT_MAP)
        return ev_error_set(err, EVE_NOT_A_MAP, "event: expected a map, got %s",
                            ev_value_type_name(obj));
    int t = find_type(obj, err);
    if (t < 0)
        return err->code;
    ev->type = (ev_type_t)t;
    ev->present = 0;
    ev->v[F_TYPE].i = t;
    const ev_layout_t *lay = ev_type_layout((ev_type_t)t);
    uint64_t seen = 0;
    uint8_t hint = 0;

    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *k = &obj->via.map.ptr[i].key;
        const msgpack_object *val = &obj->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            return ev_error_set(err, EVE_UNKNOWN_FIELD, "event: keys must be strings, got %s",
                                ev_value_type_name(k));
        /* Producers mostly send fields in schema order: the one after the
           last match is tried first. */
        int f = ev_field_lookup(k->via.str.ptr, k->via.str.size,
                                hint < lay->count ? lay->field[hint] : -1);
        if (f < 0 || !((lay->mask >> f) & 1)) {
            int n = (int)(k->via.str.size > 40 ? 40 : k->via.str.size);
            if (f >= 0)
                return ev_error_set(err, EVE_UNKNOWN_FIELD, "%.*s: not a field of %s", n,
                                    k->via.str.ptr, ev_type_name((ev_type_t)t));
            return ev_error_set(err, EVE_UNKNOWN_FIELD, "%.*s: unknown field", n, k->via.str.ptr);
        }
        if (seen & (UINT64_C(1) << f))
            return ev_error_set(err, EVE_INVALID_VALUE, "%s: given twice",
                                ev_field_name((ev_field_t)f));
        seen |= UINT64_C(1) << f;
        hint = (uint8_t)(lay->pos[f] + 1);
        if (val->type == MSGPACK_OBJECT_NIL)
            continue; /* nil means absent */
        ev_errcode_t rc = ev_field_check((ev_field_t)f, val, &ev->v[f], err);
        if (rc != EVE_OK)
            return rc;
        ev->present |= UINT64_C(1) << f;
    }
    return event_check(ev, err);
}

/* The canonical encoding is written byte by byte rather than through
   msgpack-c's packer: on the ingest path one callback per token cost about
   a tenth of the writer's time. The forms are msgpack's shortest, exactly
   as msgpack-c chooses them (tests/test_schema.c compares the two). */
static uint8_t *
put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return p + bytes;
}

/* memcpy for the short strings an event is made of, without a call: two
   overlapping moves cover 4..16 bytes. */
static inline uint8_t *
put_bytes(uint8_t *p, const void *src, uint32_t n)
{
    const uint8_t *s = src;
    if (n > 16)
        memcpy(p, s, n);
    else if (n >= 8) {
        memcpy(p, s, 8);
        memcpy(p + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(p, s, 4);
        memcpy(p + n - 4, s + n - 4, 4);
    } else if (n > 0) {
        p[0] = s[0];
        p[n / 2] = s[n / 2];
        p[n - 1] = s[n - 1];
    }
    return p + n;
}

static uint8_t *
put_str(uint8_t *p, const char *s, uint32_t n)
{
    if (n < 32)
        *p++ = (uint8_t)(0xa0 | n);
    else if (n < 256) {
        *p++ = 0xd9;
        *p++ = (uint8_t)n;
    } else if (n < 65536) {
        *p++ = 0xda;
        p = put_be(p, n, 2);
    } else {
        *p++ = 0xdb;
        p = put_be(p, n, 4);
    }
    return put_bytes(p, s, n);
}

uint8_t *
ev_put_uint(uint8_t *p, uint64_t v)
{
    if (v < 128)
        *p++ = (uint8_t)v;
    else if (v < 256) {
        *p++ = 0xcc;
        *p++ = (uint8_t)v;
    } else if (v < 65536) {
        *p++ = 0xcd;
        p = put_be(p, v, 2);
    } else if (v <= UINT32_MAX) {
        *p++ = 0xce;
        p = put_be(p, v, 4);
    } else {
        *p++ = 0xcf;
        p = put_be(p, v, 8);
    }
    return p;
}

static uint8_t *
put_int(uint8_t *p, int64_t d)
{
    if (d < 0) {
        if (d >= -32)
            *p++ = (uint8_t)(int8_t)d;
        else if (d >= -128) {
            *p++ = 0xd0;
            *p++ = (uint8_t)(int8_t)d;
        } else if (d >= -32768) {
            *p++ = 0xd1;
            p = put_be(p, (uint64_t)(uint16_t)(int16_t)d, 2);
        } else if (d >= INT32_MIN) {
            *p++ = 0xd2;
            p = put_be(p, (uint64_t)(uint32_t)(int32_t)d, 4);
        } else {
            *p++ = 0xd3;
            p = put_be(p, (uint64_t)d, 8);
        }
    } else
        p = ev_put_uint(p, (uint64_t)d);
    return p;
}

/* An upper bound of one present field's encoding. */
static inline size_t
field_bound(const event_t *ev, ev_field_t f)
{
    ev_kind_t k = key_kind[f];
    bool scalar = k == EV_KIND_TIME || k == EV_KIND_INT || k == EV_KIND_NUMBER;
    return 5 + key_len[f] + (scalar ? 9 : 5 + (size_t)ev->v[f].s.len);
}

/* An upper bound of the canonical encoding's length. */
static size_t
encode_bound(const event_t *ev)
{
    const ev_layout_t *lay = ev_type_layout(ev->type);
    size_t need = 3; /* map header */
    for (uint8_t j = 0; j < lay->count; j++)
        if (event_has(ev, (ev_field_t)lay->field[j]))
            need += field_bound(ev, (ev_field_t)lay->field[j]);
    return need;
}

size_t
event_encode_buf(const event_t *ev, uint8_t *buf, size_t cap)
{
    keys_init();
    /* encode_bound(ev) > cap, summed as the fields are written rather than
       in a pass of its own: nothing is written beyond the bound so far, and
       the event is refused as soon as the bound exceeds cap. */
    size_t need = 3;
    if (need > cap)
        return 0;
    const ev_layout_t *lay = ev_type_layout(ev->type);
    uint8_t *p = buf;
    unsigned n = (unsigned)__builtin_popcountll(ev->present);
    if (n < 16)
        *p++ = (uint8_t)(0x80 | n);
    else {
        *p++ = 0xde;
        p = put_be(p, n, 2);
    }
    for (uint8_t j = 0; j < lay->count; j++) {
        ev_field_t f = (ev_field_t)lay->field[j];
        if (!event_has(ev, f))
            continue;
        need += field_bound(ev, f);
        if (need > cap)
            return 0;
        p = put_bytes(p, key_enc[f], key_len[f] + 1u);
        switch (key_kind[f]) {
        case EV_KIND_TIME:
        case EV_KIND_INT:
            p = put_int(p, ev->v[f].i);
            break;
        case EV_KIND_NUMBER: {
            uint64_t bits;
            memcpy(&bits, &ev->v[f].d, sizeof bits);
            *p++ = 0xcb;
            p = put_be(p, bits, 8);
            break;
        }
        default: /* strings; an enum's string is its validated spelling */
            p = put_str(p, ev->v[f].s.ptr, ev->v[f].s.len);
            break;
        }
    }
    return (size_t)(p - buf);
}

int
event_encode(const event_t *ev, msgpack_packer *pk)
{
    keys_init();
    size_t cap = encode_bound(ev);
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -1;
    size_t len = event_encode_buf(ev, buf, cap);
    int rc = len ? pk->callback(pk->data, (const char *)buf, len) : -1;
    free(buf);
    return rc;
}

uint64_t
event_id_hash(const char *id, size_t len)
{
    /* Fixed key: the hashes are persisted in the log's id index, so the key
       must never change. Collisions are harmless (every hit is confirmed
       against the stored event); the key only spreads the ids. */
    static const unsigned char key[crypto_shorthash_KEYBYTES] = "pacer-event-ids";
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)id, len, key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}
