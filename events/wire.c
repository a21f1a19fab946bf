/*  wire: see wire.h. The scanner below follows the msgpack spec's format
    table byte for byte; it reads headers only and never allocates. */

#include "events/wire.h"

#include "events/schema.h"
#include "events/utf8.h"

#include <stdio.h>
#include <string.h>

static uint32_t
be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read the header of the value at *pos, leaving *pos after it: the value
   then has `skip` more bytes or `items` more values (map entries count
   twice). Each value needs at least one byte, so a container whose count
   exceeds the remaining bytes is refused before anything trusts that
   count. */
static inline bool
scan_header(const uint8_t *d, size_t len, size_t *pos, uint64_t *skip_out, uint64_t *items_out)
{
    if (*pos >= len)
        return false;
    uint8_t b = d[(*pos)++];
    size_t rest = len - *pos;
    uint64_t skip = 0, items = 0;
    if ((b & 0xe0) == 0xa0) /* fixstr, the commonest: keys and ids */
        skip = b & 0x1f;
    else if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        ;
    else if ((b & 0xf0) == 0x90)
        items = b & 0x0f;
    else if ((b & 0xf0) == 0x80)
        items = (uint64_t)(b & 0x0f) * 2;
    else {
        switch (b) {
        case 0xc4:
        case 0xd9:
            if (rest < 1)
                return false;
            skip = 1 + (uint64_t)d[*pos];
            break;
        case 0xc5:
        case 0xda:
            if (rest < 2)
                return false;
            skip = 2 + (uint64_t)be16(d + *pos);
            break;
        case 0xc6:
        case 0xdb:
            if (rest < 4)
                return false;
            skip = 4 + (uint64_t)be32(d + *pos);
            break;
        case 0xc7:
            if (rest < 1)
                return false;
            skip = 2 + (uint64_t)d[*pos];
            break;
        case 0xc8:
            if (rest < 2)
                return false;
            skip = 3 + (uint64_t)be16(d + *pos);
            break;
        case 0xc9:
            if (rest < 4)
                return false;
            skip = 5 + (uint64_t)be32(d + *pos);
            break;
        case 0xca:
            skip = 4;
            break;
        case 0xcb:
            skip = 8;
            break;
        case 0xcc:
            skip = 1;
            break;
        case 0xcd:
            skip = 2;
            break;
        case 0xce:
            skip = 4;
            break;
        case 0xcf:
            skip = 8;
            break;
        case 0xd0:
            skip = 1;
            break;
        case 0xd1:
            skip = 2;
            break;
        case 0xd2:
            skip = 4;
            break;
        case 0xd3:
            skip = 8;
            break;
        case 0xd4:
            skip = 2;
            break;
        case 0xd5:
            skip = 3;
            break;
        case 0xd6:
            skip = 5;
            break;
        case 0xd7:
            skip = 9;
            break;
        case 0xd8:
            skip = 17;
            break;
        case 0xdc:
            if (rest < 2)
                return false;
            items = be16(d + *pos);
            *pos += 2;
            break;
        case 0xdd:
            if (rest < 4)
                return false;
            items = be32(d + *pos);
            *pos += 4;
            break;
        case 0xde:
            if (rest < 2)
                return false;
            items = (uint64_t)be16(d + *pos) * 2;
            *pos += 2;
            break;
        case 0xdf:
            if (rest < 4)
                return false;
            items = (uint64_t)be32(d + *pos) * 2;
            *pos += 4;
            break;
        default:
            return false; /* 0xc1: never used */
        }
    }
    if (skip > len - *pos || items > len - *pos)
        return false;
    *pos += skip;
    *skip_out = skip;
    *items_out = items;
    return true;
}

/* Skip one value at *pos, at most `depth` levels of nesting below it. */
static bool
scan_value(const uint8_t *d, size_t len, size_t *pos, int depth)
{
    uint64_t skip, items;
    if (depth < 0 || !scan_header(d, len, pos, &skip, &items))
        return false;
    for (uint64_t i = 0; i < items; i++)
        if (!scan_value(d, len, pos, depth - 1))
            return false;
    return true;
}

/* Containers open at once that mp_scan tracks itself; anything nested
   deeper is finished by scan_value's recursion. */
#define SCAN_LEVELS 40

bool
mp_scan_first(const uint8_t *data, size_t len, int max_depth, size_t *used)
{
    /* A loop rather than a call per value: the scan visits every value of
       every request. left[] holds the values still to come in each open
       container but the innermost, whose count is `pending`. */
    uint64_t left[SCAN_LEVELS];
    int open = 0;
    uint64_t pending = 1; /* the body itself */
    size_t pos = 0;
    for (;;) {
        while (pending == 0) {
            if (open == 0) {
                *used = pos;
                return true;
            }
            pending = left[--open];
        }
        pending--;
        uint64_t skip, items;
        if (open > max_depth || !scan_header(data, len, &pos, &skip, &items))
            return false;
        if (items == 0)
            continue;
        if (open == SCAN_LEVELS) {
            for (uint64_t i = 0; i < items; i++)
                if (!scan_value(data, len, &pos, max_depth - open - 1))
                    return false;
            continue;
        }
        left[open++] = pending;
        pending = items;
    }
}

bool
mp_scan(const uint8_t *data, size_t len, int max_depth)
{
    size_t used;
    return mp_scan_first(data, len, max_depth, &used) && used == len;
}

const char *
wire_rc_name(wire_rc_t rc)
{
    switch (rc) {
    case WIRE_OK:
        return "ok";
    case WIRE_MALFORMED:
        return "malformed";
    case WIRE_BAD_REQUEST:
        return "bad_request";
    case WIRE_UNSUPPORTED_VERSION:
        return "unsupported_version";
    case WIRE_UNKNOWN_OP:
        return "unknown_op";
    case WIRE_TOO_LARGE:
        return "too_large";
    case WIRE_INTERNAL:
        return "internal";
    case WIRE_FORBIDDEN:
        return "forbidden";
    }
    return "internal";
}

static bool
key_eq(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, s, n) == 0;
}

const msgpack_object *
wire_map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (key_eq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static const char *
type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_BIN:
        return "a bin";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    default:
        return "an ext";
    }
}

static wire_rc_t
bad(char *msg, size_t msglen, wire_rc_t rc, const char *text)
{
    snprintf(msg, msglen, "%s", text);
    return rc;
}

static const struct {
    const char *name;
    unsigned where;
} OPS[] = {
    [OP_NONE] = {NULL, 0},
#define WIRE_OP_ROW(sym, name, where) [OP_##sym] = {name, where},
    WIRE_OP_LIST(WIRE_OP_ROW)
#undef WIRE_OP_ROW
        [OP_OTHER] = {NULL, 0},
};

const char *
wire_op_name(wire_op_t op)
{
    return op > OP_NONE && op < OP_OTHER ? OPS[op].name : NULL;
}

unsigned
wire_op_endpoints(wire_op_t op)
{
    return op > OP_NONE && op < OP_OTHER ? OPS[op].where : 0;
}

char *
wire_ops_served(unsigned endpoint, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen)
        out[0] = 0;
    for (int i = OP_NONE + 1; i < OP_OTHER && o < outlen; i++)
        if (OPS[i].where & endpoint)
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", OPS[i].name);
    return out;
}

/* The keys wire_request_parse reads, in the order it reads them (the
   first fault decides the code: wire.h). v's range is not the field's: a
   version other than 1 is unsupported_version, not bad_request; nor is
   the batch's size: over WIRE_MAX_EVENTS is too_large. A tick's now is an
   event time's range (EV_TIME_MAX). */
static const wire_field_t f_v = {.name = "v", .type = WIRE_FIELD_U64, .required = true};
static const wire_field_t f_op = {.name = "op", .type = WIRE_FIELD_STR, .required = true};
static const wire_field_t f_events = {
    .name = "events", .type = WIRE_FIELD_ARRAY, .required = true, .min = 1};
static const wire_field_t f_atomic = {.name = "atomic", .type = WIRE_FIELD_BOOL};
static const wire_field_t f_now = {.name = "now", .type = WIRE_FIELD_U64, .max = EV_TIME_MAX};

wire_rc_t
wire_request_parse(wire_request_t *req, const void *data, size_t len, char *msg, size_t msglen)
{
    memset(req, 0, sizeof *req);
    msgpack_unpacked_init(&req->unpacked);
    if (len > WIRE_MAX_BODY) {
        snprintf(msg, msglen, "request body is %zu bytes, at most %u allowed", len, WIRE_MAX_BODY);
        return WIRE_TOO_LARGE;
    }
    if (!mp_scan(data, len, WIRE_MAX_DEPTH))
        return bad(msg, msglen, WIRE_MALFORMED,
                   "request body is not one complete msgpack value (truncated, trailing "
                   "bytes, or nested deeper than 32)");
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&req->unpacked, data, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS)
        return bad(msg, msglen, WIRE_MALFORMED, "request body could not be decoded as msgpack");
    const msgpack_object *body = &req->unpacked.data;
    req->body = body;
    if (body->type != MSGPACK_OBJECT_MAP)
        return bad(msg, msglen, WIRE_BAD_REQUEST, "request body must be a map");
    req->corr = wire_map_get(body, "corr");
    /* every key a str: a bin "v" would otherwise read as no "v" at all */
    for (uint32_t i = 0; i < body->via.map.size; i++)
        if (body->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR) {
            snprintf(msg, msglen, "request body: key %u is %s; every key must be a string",
                     (unsigned)i, type_name(&body->via.map.ptr[i].key));
            return WIRE_BAD_REQUEST;
        }

    uint64_t version;
    if (wire_req_u64(body, &f_v, &version, msg, msglen) < 0)
        return WIRE_BAD_REQUEST;
    if (version != WIRE_VERSION) {
        snprintf(msg, msglen, "v: version %llu is not supported; this daemon speaks 1",
                 (unsigned long long)version);
        return WIRE_UNSUPPORTED_VERSION;
    }
    const char *op;
    size_t op_len;
    if (wire_req_str(body, &f_op, &op, &op_len, msg, msglen) < 0)
        return WIRE_BAD_REQUEST;
    req->op_name = op;
    req->op_len = (uint32_t)op_len;
    req->op = OP_OTHER;
    for (int i = OP_NONE + 1; i < OP_OTHER; i++)
        if (strlen(OPS[i].name) == op_len && memcmp(op, OPS[i].name, op_len) == 0) {
            req->op = (wire_op_t)i;
            break;
        }

    if (req->op == OP_TICK) {
        uint64_t now;
        int has = wire_req_u64(body, &f_now, &now, msg, msglen);
        if (has < 0)
            return WIRE_BAD_REQUEST;
        req->has_now = has > 0;
        req->now = (int64_t)now;
    }
    if (req->op == OP_APPEND) {
        const msgpack_object *evs;
        if (wire_req_obj(body, &f_events, &evs, msg, msglen) < 0)
            return WIRE_BAD_REQUEST;
        if (evs->via.array.size > WIRE_MAX_EVENTS) {
            snprintf(msg, msglen, "events: %u events in one batch, at most %d allowed",
                     evs->via.array.size, WIRE_MAX_EVENTS);
            return WIRE_TOO_LARGE;
        }
        req->events = evs->via.array.ptr;
        req->nevents = evs->via.array.size;
        if (wire_req_bool(body, &f_atomic, &req->atomic, msg, msglen) < 0)
            return WIRE_BAD_REQUEST;
    }
    return WIRE_OK;
}

void
wire_request_free(wire_request_t *req)
{
    msgpack_unpacked_destroy(&req->unpacked);
    memset(req, 0, sizeof *req);
}

int
wire_pack_str(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

int
wire_pack_text(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    if (ev_utf8_valid(s, len))
        return msgpack_pack_str_with_body(pk, s, len);
    char buf[1024];
    ev_escape(s, len, buf, sizeof buf);
    return wire_pack_str(pk, buf);
}

int
wire_reply_begin(msgpack_packer *pk, const msgpack_object *corr, bool ok, size_t extra)
{
    int rc = msgpack_pack_map(pk, 3 + extra);
    rc |= wire_pack_str(pk, "v");
    rc |= msgpack_pack_int(pk, WIRE_VERSION);
    rc |= wire_pack_str(pk, "corr");
    rc |= corr ? msgpack_pack_object(pk, *corr) : msgpack_pack_nil(pk);
    rc |= wire_pack_str(pk, "ok");
    rc |= ok ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    return rc;
}

int
wire_reply_error(msgpack_packer *pk, const msgpack_object *corr, wire_rc_t code,
                 const char *message)
{
    return wire_reply_error_named(pk, corr, wire_rc_name(code), message);
}

int
wire_reply_error_named(msgpack_packer *pk, const msgpack_object *corr, const char *code,
                       const char *message)
{
    int rc = wire_reply_begin(pk, corr, false, 2);
    rc |= wire_pack_str(pk, "error");
    rc |= wire_pack_str(pk, code);
    rc |= wire_pack_str(pk, "message");
    rc |= wire_pack_text(pk, message);
    return rc;
}

/* ---------------------------------------------------------------------
   Request fields: every message is made here, from the field. */

/* What f takes, for "<key>: expected <what>" and "<key>: required (<what>)". */
static const char *
field_what(const wire_field_t *f, char *buf, size_t len)
{
    switch (f->type) {
    case WIRE_FIELD_STR:
        if (!f->max)
            return "a string";
        snprintf(buf, len, "a string of at most %lld bytes", (long long)f->max);
        return buf;
    case WIRE_FIELD_U64:
        if (f->max)
            snprintf(buf, len, "an integer from %lld to %lld", (long long)f->min,
                     (long long)f->max);
        else if (f->min > 1)
            snprintf(buf, len, "an integer of at least %lld", (long long)f->min);
        else
            return f->min ? "a positive integer" : "a non-negative integer";
        return buf;
    case WIRE_FIELD_I64:
        if (!f->min && !f->max)
            return "an integer";
        snprintf(buf, len, "an integer from %lld to %lld", (long long)f->min, (long long)f->max);
        return buf;
    case WIRE_FIELD_BOOL:
        return "a boolean";
    case WIRE_FIELD_MAP:
        return "a map";
    case WIRE_FIELD_STRS:
        if (!f->max)
            return "a string or an array of strings";
        snprintf(buf, len, "a string or an array of at most %lld strings", (long long)f->max);
        return buf;
    case WIRE_FIELD_ARRAY:
        if (f->max)
            snprintf(buf, len, "an array of %lld to %lld elements", (long long)f->min,
                     (long long)f->max);
        else if (f->min > 1)
            snprintf(buf, len, "an array of at least %lld elements", (long long)f->min);
        else
            return f->min ? "a non-empty array" : "an array";
        return buf;
    }
    return "a value";
}

int
wire_req_expected(const char *key, const char *what, char *msg, size_t msglen)
{
    snprintf(msg, msglen, "%s: expected %s", key, what);
    return -1;
}

int
wire_req_required(const char *key, const char *what, char *msg, size_t msglen)
{
    snprintf(msg, msglen, "%s: required (%s)", key, what);
    return -1;
}

/* f's value in body, NULL when absent or nil; -1 (with the message) when
   that is an error, 0 otherwise. */
static int
field_value(const msgpack_object *body, const wire_field_t *f, const msgpack_object **v, char *msg,
            size_t msglen)
{
    *v = wire_map_get(body, f->name);
    if (*v && (*v)->type == MSGPACK_OBJECT_NIL)
        *v = NULL;
    if (!*v && f->required) {
        char buf[80];
        return wire_req_required(f->name, field_what(f, buf, sizeof buf), msg, msglen);
    }
    return 0;
}

static int
field_wrong(const wire_field_t *f, char *msg, size_t msglen)
{
    char buf[80];
    return wire_req_expected(f->name, field_what(f, buf, sizeof buf), msg, msglen);
}

int
wire_req_str(const msgpack_object *body, const wire_field_t *f, const char **s, size_t *len,
             char *msg, size_t msglen)
{
    const msgpack_object *v;
    *s = NULL;
    *len = 0;
    if (field_value(body, f, &v, msg, msglen) < 0)
        return -1;
    if (!v)
        return 0;
    if (v->type != MSGPACK_OBJECT_STR || (f->max && v->via.str.size > (uint64_t)f->max))
        return field_wrong(f, msg, msglen);
    *s = v->via.str.ptr;
    *len = v->via.str.size;
    return 1;
}

int
wire_req_strcpy(const msgpack_object *body, const wire_field_t *f, char *buf, size_t buflen,
                char *msg, size_t msglen)
{
    const char *s;
    size_t len;
    int rc = wire_req_str(body, f, &s, &len, msg, msglen);
    buf[0] = 0;
    if (rc <= 0)
        return rc;
    if (len >= buflen) /* f->max too large for buf: the caller's mistake, still no overflow */
        return field_wrong(f, msg, msglen);
    memcpy(buf, s, len);
    buf[len] = 0;
    return 1;
}

int
wire_req_u64(const msgpack_object *body, const wire_field_t *f, uint64_t *out, char *msg,
             size_t msglen)
{
    const msgpack_object *v;
    *out = (uint64_t)f->def;
    if (field_value(body, f, &v, msg, msglen) < 0)
        return -1;
    if (!v)
        return 0;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 < (uint64_t)f->min ||
        (f->max && v->via.u64 > (uint64_t)f->max))
        return field_wrong(f, msg, msglen);
    *out = v->via.u64;
    return 1;
}

int
wire_req_i64(const msgpack_object *body, const wire_field_t *f, int64_t *out, char *msg,
             size_t msglen)
{
    const msgpack_object *v;
    *out = f->def;
    if (field_value(body, f, &v, msg, msglen) < 0)
        return -1;
    if (!v)
        return 0;
    int64_t x;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
        x = (int64_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        x = v->via.i64;
    else
        return field_wrong(f, msg, msglen);
    if ((f->min || f->max) && (x < f->min || x > f->max))
        return field_wrong(f, msg, msglen);
    *out = x;
    return 1;
}

int
wire_req_bool(const msgpack_object *body, const wire_field_t *f, bool *out, char *msg,
              size_t msglen)
{
    const msgpack_object *v;
    *out = f->def != 0;
    if (field_value(body, f, &v, msg, msglen) < 0)
        return -1;
    if (!v)
        return 0;
    if (v->type != MSGPACK_OBJECT_BOOLEAN)
        return field_wrong(f, msg, msglen);
    *out = v->via.boolean;
    return 1;
}

int
wire_req_obj(const msgpack_object *body, const wire_field_t *f, const msgpack_object **out,
             char *msg, size_t msglen)
{
    const msgpack_object *v;
    *out = NULL;
    if (field_value(body, f, &v, msg, msglen) < 0)
        return -1;
    if (!v)
        return 0;
    bool ok = false;
    if (f->type == WIRE_FIELD_MAP)
        ok = v->type == MSGPACK_OBJECT_MAP;
    else if (f->type == WIRE_FIELD_ARRAY)
        ok = v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size >= (uint64_t)f->min &&
             (!f->max || v->via.array.size <= (uint64_t)f->max);
    else if (f->type == WIRE_FIELD_STRS && v->type == MSGPACK_OBJECT_STR)
        ok = true;
    else if (f->type == WIRE_FIELD_STRS && v->type == MSGPACK_OBJECT_ARRAY &&
             (!f->max || v->via.array.size <= (uint64_t)f->max)) {
        ok = true;
        for (uint32_t i = 0; i < v->via.array.size; i++)
            ok &= v->via.array.ptr[i].type == MSGPACK_OBJECT_STR;
    }
    if (!ok)
        return field_wrong(f, msg, msglen);
    *out = v;
    return 1;
}

int
wire_req_check(const msgpack_object *body, const wire_field_t *const *fields, char *msg,
               size_t msglen)
{
    for (size_t i = 0; fields[i]; i++) {
        const wire_field_t *f = fields[i];
        const char *s;
        size_t len;
        uint64_t u;
        int64_t x;
        bool b;
        const msgpack_object *o;
        int rc;
        switch (f->type) {
        case WIRE_FIELD_STR:
            rc = wire_req_str(body, f, &s, &len, msg, msglen);
            break;
        case WIRE_FIELD_U64:
            rc = wire_req_u64(body, f, &u, msg, msglen);
            break;
        case WIRE_FIELD_I64:
            rc = wire_req_i64(body, f, &x, msg, msglen);
            break;
        case WIRE_FIELD_BOOL:
            rc = wire_req_bool(body, f, &b, msg, msglen);
            break;
        default:
            rc = wire_req_obj(body, f, &o, msg, msglen);
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}
