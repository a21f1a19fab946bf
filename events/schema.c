/*  schema: the tables behind docs/EVENTS.md, and the rules that apply
    them. Keep this file and the document in step: a field added here without
    a line there is a field no client knows about.

    Each field has one spec (kind, range, allowed values) whatever the type
    it appears in; each type is an ordered list of fields, each required or
    optional. The static tables are finished once per process (names'
    lengths and machine words, masks, the layouts the codec walks) and never
    change after. Field and enum names are matched by length and two
    machine words rather than string compares (see name_words): the intake
    looks up every key of every event. Nothing is allocated. */

#include "events/schema.h"

#include "events/period.h"
#include "events/utf8.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    uint8_t name_len;
    ev_kind_t kind;
    int64_t min, max; /* EV_KIND_INT range; EV_KIND_TEXT max length; EV_KIND_NUMBER max magnitude */
    const char *const *values;
    const struct name_set *set; /* EV_KIND_ENUM: values as a name set */
} field_spec_t;

static const char *const node_kinds[] = {"company", "region", "team", "rep", NULL};
static const char *const activities[] = {"visit", "call", "quote", "demo", NULL};
static const char *const aggregations[] = {"sum", "count", "average", NULL};
static const char *const day_types[] = {"holiday", "workday", NULL};
static const char *const verdicts[] = {"confirmed", "dismissed", NULL};
static const char *const type_names[] = {
#define EV_TYPE_NAME(sym, name) name,
    EV_TYPE_LIST(EV_TYPE_NAME)
#undef EV_TYPE_NAME
        NULL};

#define ID(f)          [F_##f] = {#f, 0, EV_KIND_ID, 0, 0, NULL, NULL}
#define TEXT(f, n)     [F_##f] = {#f, 0, EV_KIND_TEXT, 0, n, NULL, NULL}
#define TIME(f)        [F_##f] = {#f, 0, EV_KIND_TIME, 0, EV_TIME_MAX, NULL, NULL}
#define INT(f, lo, hi) [F_##f] = {#f, 0, EV_KIND_INT, lo, hi, NULL, NULL}
#define ENUM(f, v)     [F_##f] = {#f, 0, EV_KIND_ENUM, 0, 0, v, NULL}
#define OTHER(f, k)    [F_##f] = {#f, 0, k, 0, 0, NULL, NULL}

/* Indexed by ev_field_t; names are filled in from EV_FIELD_LIST at first use
   (the #f above is only a placeholder spelling). */
static field_spec_t fields[F_COUNT] = {
    ENUM(TYPE, type_names),
    ID(ID),
    TIME(OCCURRED_AT),
    ID(SOURCE),
    ID(NODE),
    ENUM(KIND, node_kinds),
    TEXT(NAME, 256),
    ID(PARENT),
    ID(OWNER),
    TIME(EFFECTIVE_AT),
    ID(SCOPE),
    OTHER(METRIC, EV_KIND_METRIC),
    OTHER(PERIOD, EV_KIND_PERIOD),
    ID(PRODUCT_LINE),
    INT(TARGET, 0, EV_AMOUNT_MAX),
    INT(FLOOR, 0, EV_AMOUNT_MAX),
    INT(STRETCH, 0, EV_AMOUNT_MAX),
    OTHER(CURRENCY, EV_KIND_CURRENCY),
    ID(AUTHOR),
    TEXT(REASON, 1024),
    ID(ALLOCATION),
    ID(ORDER),
    ID(REP),
    INT(AMOUNT, 0, EV_AMOUNT_MAX),
    ID(CUSTOMER),
    INT(MARGIN, -EV_AMOUNT_MAX, EV_AMOUNT_MAX),
    INT(QUANTITY, 1, INT64_C(1) << 31),
    TIME(DUE_AT),
    ENUM(ACTIVITY, activities),
    ENUM(AGGREGATION, aggregations),
    TEXT(UNIT, 32),
    ID(KPI),
    /* KPI values are counted in thousandths, as int64 */
    [F_VALUE] = {"value", 0, EV_KIND_NUMBER, 0, EV_KPI_VALUE_MAX, NULL, NULL},
    OTHER(DATE, EV_KIND_DATE),
    ENUM(DAY_TYPE, day_types),
    TEXT(ALERT, 256),
    TIME(UNTIL),
    ID(RULE),
    ID(PARAM),
    ENUM(VERDICT, verdicts),
};

static const char *const field_names[] = {
#define EV_FIELD_NAME(sym, name) name,
    EV_FIELD_LIST(EV_FIELD_NAME)
#undef EV_FIELD_NAME
};

/* An event type's fields in canonical order. R: required. Fields marked
   optional here may still be required by a cross-field rule (check_type). */
typedef struct {
    uint8_t field;
    bool required;
} type_field_t;

#define R(f)                                                                                       \
    {                                                                                              \
        F_##f, true                                                                                \
    }
#define O(f)                                                                                       \
    {                                                                                              \
        F_##f, false                                                                               \
    }
#define ENVELOPE R(TYPE), R(ID), R(OCCURRED_AT), O(SOURCE)

static const type_field_t type_fields[EV_TYPE_COUNT][EV_TYPE_FIELDS_MAX] = {
    [EV_NODE_DEFINED] = {ENVELOPE, R(NODE), R(KIND), R(NAME), O(PARENT), O(OWNER), O(EFFECTIVE_AT)},
    [EV_NODE_MOVED] = {ENVELOPE, R(NODE), R(PARENT), R(EFFECTIVE_AT), O(AUTHOR), O(REASON)},
    [EV_NODE_RETIRED] = {ENVELOPE, R(NODE), R(EFFECTIVE_AT), O(REASON)},
    [EV_TARGET_SET] = {ENVELOPE, R(SCOPE), R(METRIC), R(PERIOD), O(PRODUCT_LINE), R(TARGET),
                       O(FLOOR), O(STRETCH), O(CURRENCY), R(AUTHOR), O(REASON), O(ALLOCATION)},
    [EV_TARGET_ADJUSTED] = {ENVELOPE, R(SCOPE), R(METRIC), R(PERIOD), O(PRODUCT_LINE), O(FLOOR),
                            O(TARGET), O(STRETCH), R(AUTHOR), R(REASON)},
    [EV_SALE_CLOSED] = {ENVELOPE, R(ORDER), R(REP), R(AMOUNT), R(CURRENCY), O(CUSTOMER), O(MARGIN),
                        O(PRODUCT_LINE), O(QUANTITY), O(DUE_AT)},
    [EV_SALE_REFUNDED] = {ENVELOPE, R(ORDER), R(AMOUNT), R(CURRENCY), O(REASON)},
    [EV_SALE_CANCELLED] = {ENVELOPE, R(ORDER), O(REASON)},
    [EV_PAYMENT_RECEIVED] = {ENVELOPE, R(AMOUNT), R(CURRENCY), O(ORDER), O(CUSTOMER), O(REP)},
    [EV_ACTIVITY_LOGGED] = {ENVELOPE, R(REP), R(ACTIVITY), O(CUSTOMER), O(ORDER)},
    [EV_CUSTOMER_CREATED] = {ENVELOPE, R(CUSTOMER), R(REP), O(NAME)},
    [EV_KPI_DEFINED] = {ENVELOPE, R(KPI), R(AGGREGATION), O(NAME), O(UNIT)},
    [EV_KPI_RECORDED] = {ENVELOPE, R(KPI), R(SCOPE), R(VALUE), O(PRODUCT_LINE)},
    [EV_CALENDAR_DAY_SET] = {ENVELOPE, R(DATE), R(DAY_TYPE), O(NAME)},
    [EV_ALERT_SILENCED] = {ENVELOPE, R(ALERT), R(AUTHOR), R(REASON), O(UNTIL)},
    [EV_ALERT_UNSILENCED] = {ENVELOPE, R(ALERT), R(AUTHOR), O(REASON)},
    [EV_ALERT_RULE_SET] = {ENVELOPE, R(RULE), R(PARAM), R(VALUE), O(METRIC), O(KIND), R(AUTHOR),
                           O(REASON)},
    [EV_ANOMALY_REVIEWED] = {ENVELOPE, R(ALERT), R(VERDICT), R(AUTHOR), R(REASON)},
};

static ev_layout_t layouts[EV_TYPE_COUNT];
static uint64_t type_req_text[EV_TYPE_COUNT]; /* bit f: a required text of the type */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static atomic_bool tables_ready; /* set once tables_build has finished */

/* Name lookup without strcmp chains: a name of n <= 16 bytes is reduced to
   two words that, for a given n, are equal only for equal names (the first
   and last 8, 4 or 1..3 bytes, overlapping), and compared against the names
   of that length only. Keys are looked up once per field per event. */
#define NAME_SET_MAX 48
#define NAME_MAX_LEN 16

typedef struct {
    uint64_t a, b;
    uint8_t id;
} name_key_t;

typedef struct name_set {
    name_key_t keys[NAME_SET_MAX];
    uint8_t start[NAME_MAX_LEN + 2]; /* names of length n: keys[start[n] .. start[n + 1]) */
} name_set_t;

static inline void
name_words(const char *p, uint32_t n, uint64_t *a, uint64_t *b)
{
    if (n >= 8) {
        memcpy(a, p, 8);
        memcpy(b, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        *a = x;
        *b = y;
    } else if (n > 0) {
        const unsigned char *u = (const unsigned char *)p;
        *a = (uint64_t)u[0] | (uint64_t)u[n / 2] << 8 | (uint64_t)u[n - 1] << 16;
        *b = 0;
    } else
        *a = *b = 0;
}

/* The id of the name of n bytes with words a, b; -1 if none. */
static inline int
name_lookup(const name_set_t *set, uint32_t n, uint64_t a, uint64_t b)
{
    for (unsigned k = set->start[n]; k < set->start[n + 1]; k++)
        if (set->keys[k].a == a && set->keys[k].b == b)
            return set->keys[k].id;
    return -1;
}

/* -1 if p is none of the set's names. */
static inline int
name_find(const name_set_t *set, const char *p, uint32_t n)
{
    if (n > NAME_MAX_LEN)
        return -1;
    uint64_t a, b;
    name_words(p, n, &a, &b);
    return name_lookup(set, n, a, b);
}

/* Every name must be at most NAME_MAX_LEN bytes; there are at most
   NAME_SET_MAX of them. */
static void
name_set_build(name_set_t *set, const char *const *names, int count)
{
    unsigned k = 0;
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) > NAME_MAX_LEN)
            abort(); /* a schema name no key could ever match */
    for (uint32_t n = 0; n <= NAME_MAX_LEN; n++) {
        set->start[n] = (uint8_t)k;
        for (int i = 0; i < count; i++) {
            if (strlen(names[i]) != n)
                continue;
            name_words(names[i], n, &set->keys[k].a, &set->keys[k].b);
            set->keys[k++].id = (uint8_t)i;
        }
    }
    set->start[NAME_MAX_LEN + 1] = (uint8_t)k;
}

static name_set_t field_set;
static uint64_t field_wa[F_COUNT], field_wb[F_COUNT]; /* each field name's words */
/* The value lists of enum fields (`type` among them) as name sets;
   field_spec_t.set points into these. */
static name_set_t enum_sets[8];

static int
count_names(const char *const *names)
{
    int n = 0;
    while (names[n])
        n++;
    return n;
}

/* Finish the static tables once per process: name lengths, field counts
   (each list ends at its first zero entry after `type`, which is field 0),
   field masks and the name sets. */
static void
tables_build(void)
{
    _Static_assert(F_COUNT <= 64 && F_COUNT <= NAME_SET_MAX, "field masks are 64 bits");
    _Static_assert(EV_TYPE_COUNT <= NAME_SET_MAX, "type names fit a name set");
    for (int f = 0; f < F_COUNT; f++) {
        fields[f].name = field_names[f];
        fields[f].name_len = (uint8_t)strlen(field_names[f]);
    }
    name_set_build(&field_set, field_names, F_COUNT);
    for (int f = 0; f < F_COUNT; f++) {
        name_words(field_names[f], fields[f].name_len, &field_wa[f], &field_wb[f]);
    }
    int nsets = 0;
    const char *const *built[8];
    for (int f = 0; f < F_COUNT; f++) {
        if (fields[f].kind != EV_KIND_ENUM)
            continue;
        int k = 0;
        while (k < nsets && built[k] != fields[f].values)
            k++;
        if (k == nsets) {
            built[nsets] = fields[f].values;
            name_set_build(&enum_sets[nsets++], fields[f].values, count_names(fields[f].values));
        }
        fields[f].set = &enum_sets[k];
    }
    for (int t = 0; t < EV_TYPE_COUNT; t++) {
        ev_layout_t *lay = &layouts[t];
        uint8_t n = 0;
        while (n < EV_TYPE_FIELDS_MAX && (n == 0 || type_fields[t][n].field != F_TYPE))
            n++;
        lay->count = n;
        for (uint8_t j = 0; j < n; j++) {
            uint8_t f = type_fields[t][j].field;
            lay->field[j] = f;
            lay->pos[f] = j;
            lay->mask |= UINT64_C(1) << f;
            if (type_fields[t][j].required)
                lay->required |= UINT64_C(1) << f;
            if (type_fields[t][j].required && fields[f].kind == EV_KIND_TEXT)
                type_req_text[t] |= UINT64_C(1) << f;
        }
    }
    atomic_store_explicit(&tables_ready, true, memory_order_release);
}

/* Called by every entry point that reads a table; after the first time
   it costs one load, not a call. */
static inline void
tables_init(void)
{
    if (!atomic_load_explicit(&tables_ready, memory_order_acquire))
        pthread_once(&tables_once, tables_build);
}

const char *
ev_type_name(ev_type_t type)
{
    return type < EV_TYPE_COUNT ? type_names[type] : "?";
}

const char *
ev_field_name(ev_field_t field)
{
    return field < F_COUNT ? field_names[field] : "?";
}

const char *
ev_errcode_name(ev_errcode_t code)
{
    switch (code) {
    case EVE_OK:
        return "ok";
    case EVE_NOT_A_MAP:
        return "not_a_map";
    case EVE_UNKNOWN_TYPE:
        return "unknown_type";
    case EVE_MISSING_FIELD:
        return "missing_field";
    case EVE_UNKNOWN_FIELD:
        return "unknown_field";
    case EVE_WRONG_TYPE:
        return "wrong_type";
    case EVE_INVALID_UTF8:
        return "invalid_utf8";
    case EVE_TOO_LONG:
        return "too_long";
    case EVE_OUT_OF_RANGE:
        return "out_of_range";
    case EVE_INVALID_VALUE:
        return "invalid_value";
    case EVE_CONFLICT:
        return "conflict";
    case EVE_ABORTED:
        return "aborted";
    case EVE_INTERNAL:
        return "internal";
    }
    return "internal";
}

ev_errcode_t
ev_error_set(ev_error_t *err, ev_errcode_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

const char *
ev_value_type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "string";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_BIN:
        return "binary";
    case MSGPACK_OBJECT_EXT:
        return "extension";
    }
    return "unknown";
}

ev_kind_t
ev_field_kind(ev_field_t field)
{
    return field < F_COUNT ? fields[field].kind : EV_KIND_ID;
}

const ev_layout_t *
ev_type_layout(ev_type_t type)
{
    tables_init();
    return &layouts[type < EV_TYPE_COUNT ? type : 0];
}

int
ev_type_lookup(const char *name, size_t len)
{
    tables_init();
    return name_find(fields[F_TYPE].set, name, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len);
}

int
ev_field_lookup(const char *name, size_t len, int expect)
{
    tables_init();
    if (len > NAME_MAX_LEN)
        return -1;
    uint32_t n = (uint32_t)len;
    uint64_t a, b;
    name_words(name, n, &a, &b);
    if (expect >= 0 && expect < F_COUNT && fields[expect].name_len == n && field_wa[expect] == a &&
        field_wb[expect] == b)
        return expect;
    return name_lookup(&field_set, n, a, b);
}

static bool
metric_valid(const char *s, size_t len)
{
    if (len < 1 || len > 64 || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* Whether all n bytes are 0x20..0x7e. Per 8-byte word: a byte >= 0x80
   sets its top bit, 0x7f does once 1 is added, and one below 0x20 does
   once 0x20 is subtracted (the lowest such byte borrows nothing, so it
   always shows; carries and borrows only start at bytes already shown). */
static inline bool
printable_ascii(const char *p, uint32_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = ones << 7;
    uint64_t w, bad = 0;
    if (n < 4) {
        for (uint32_t i = 0; i < n; i++)
            bad |= (uint8_t)((unsigned char)p[i] - 0x20) >= 0x5f;
        return !bad;
    }
    if (n < 8) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        w = (uint64_t)y << 32 | x;
        return ((w | (w + ones) | (w - 0x20 * ones)) & high) == 0;
    }
    for (uint32_t i = 0; i + 8 < n; i += 8) {
        memcpy(&w, p + i, 8);
        bad |= w | (w + ones) | (w - 0x20 * ones);
    }
    memcpy(&w, p + n - 8, 8);
    bad |= w | (w + ones) | (w - 0x20 * ones);
    return (bad & high) == 0;
}

static ev_errcode_t
check_string(const field_spec_t *fs, const msgpack_object *o, ev_value_t *v, ev_error_t *err)
{
    const char *p = o->via.str.ptr;
    uint32_t n = o->via.str.size;
    const char *why = NULL;
    /* An id of printable ASCII (nearly all of them) is valid UTF-8 without
       control characters: one word-wise pass instead of two bytewise. */
    bool plain = fs->kind == EV_KIND_ID && printable_ascii(p, n);
    if (!plain && !ev_utf8_valid(p, n))
        return ev_error_set(err, EVE_INVALID_UTF8, "%s: not valid UTF-8", fs->name);
    v->s.ptr = p;
    v->s.len = n;
    switch (fs->kind) {
    case EV_KIND_ID:
        if (n == 0)
            return ev_error_set(err, EVE_INVALID_VALUE, "%s: must not be empty", fs->name);
        if (n > EV_ID_MAX)
            return ev_error_set(err, EVE_TOO_LONG, "%s: %u bytes, at most %d allowed", fs->name, n,
                                EV_ID_MAX);
        for (uint32_t i = 0; !plain && i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7F)
                return ev_error_set(err, EVE_INVALID_VALUE, "%s: control character at byte %u",
                                    fs->name, i);
        return EVE_OK;
    case EV_KIND_TEXT:
        if (n > fs->max)
            return ev_error_set(err, EVE_TOO_LONG, "%s: %u bytes, at most %lld allowed", fs->name,
                                n, (long long)fs->max);
        return EVE_OK;
    case EV_KIND_CURRENCY:
        if (n != 3 || p[0] < 'A' || p[0] > 'Z' || p[1] < 'A' || p[1] > 'Z' || p[2] < 'A' ||
            p[2] > 'Z')
            return ev_error_set(err, EVE_INVALID_VALUE,
                                "%s: \"%.*s\" is not three capital letters (an ISO 4217 code)",
                                fs->name, (int)(n > 16 ? 16 : n), p);
        return EVE_OK;
    case EV_KIND_ENUM: {
        int i = name_find(fs->set, p, n);
        if (i >= 0) {
            v->i = i;
            return EVE_OK;
        }
        return ev_error_set(err, EVE_INVALID_VALUE, "%s: \"%.*s\" is not one of the allowed values",
                            fs->name, (int)(n > 40 ? 40 : n), p);
    }
    case EV_KIND_DATE:
        if (!ev_date_valid(p, n, &why))
            return ev_error_set(err, EVE_INVALID_VALUE, "%s: \"%.*s\": %s", fs->name,
                                (int)(n > 40 ? 40 : n), p, why);
        return EVE_OK;
    case EV_KIND_PERIOD:
        if (!ev_period_valid(p, n, &why))
            return ev_error_set(err, EVE_INVALID_VALUE, "%s: \"%.*s\": %s", fs->name,
                                (int)(n > 40 ? 40 : n), p, why);
        return EVE_OK;
    case EV_KIND_METRIC:
        if (!metric_valid(p, n))
            return ev_error_set(
                err, EVE_INVALID_VALUE,
                "%s: \"%.*s\": expected 1 to 64 of a-z 0-9 _ . : starting with a letter", fs->name,
                (int)(n > 40 ? 40 : n), p);
        return EVE_OK;
    default:
        return ev_error_set(err, EVE_INTERNAL, "%s: schema kind mismatch", fs->name);
    }
}

ev_errcode_t
ev_field_check(ev_field_t field, const msgpack_object *o, ev_value_t *v, ev_error_t *err)
{
    tables_init();
    if (field >= F_COUNT)
        return ev_error_set(err, EVE_INTERNAL, "field %d: not in the schema", (int)field);
    const field_spec_t *fs = &fields[field];
    switch (fs->kind) {
    case EV_KIND_ID:
    case EV_KIND_TEXT:
    case EV_KIND_CURRENCY:
    case EV_KIND_ENUM:
    case EV_KIND_DATE:
    case EV_KIND_PERIOD:
    case EV_KIND_METRIC:
        if (o->type != MSGPACK_OBJECT_STR)
            return ev_error_set(err, EVE_WRONG_TYPE, "%s: expected string, got %s", fs->name,
                                ev_value_type_name(o));
        return check_string(fs, o, v, err);
    case EV_KIND_TIME:
    case EV_KIND_INT: {
        int64_t x;
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (o->via.u64 > (uint64_t)INT64_MAX)
                return ev_error_set(err, EVE_OUT_OF_RANGE, "%s: %llu is beyond int64", fs->name,
                                    (unsigned long long)o->via.u64);
            x = (int64_t)o->via.u64;
        } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            x = o->via.i64;
        else
            return ev_error_set(err, EVE_WRONG_TYPE, "%s: expected integer, got %s", fs->name,
                                ev_value_type_name(o));
        if (x < fs->min || x > fs->max)
            return ev_error_set(err, EVE_OUT_OF_RANGE, "%s: %lld is outside %lld..%lld", fs->name,
                                (long long)x, (long long)fs->min, (long long)fs->max);
        v->i = x;
        return EVE_OK;
    }
    case EV_KIND_NUMBER:
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            v->d = (double)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            v->d = (double)o->via.i64;
        else if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
            v->d = o->via.f64;
        else
            return ev_error_set(err, EVE_WRONG_TYPE, "%s: expected number, got %s", fs->name,
                                ev_value_type_name(o));
        if (!isfinite(v->d))
            return ev_error_set(err, EVE_OUT_OF_RANGE, "%s: must be a finite number", fs->name);
        if (fabs(v->d) > (double)fs->max)
            return ev_error_set(err, EVE_OUT_OF_RANGE, "%s: %g is outside -%lld..%lld", fs->name,
                                v->d, (long long)fs->max, (long long)fs->max);
        return EVE_OK;
    }
    return ev_error_set(err, EVE_INTERNAL, "%s: unknown kind", fs->name);
}

static ev_errcode_t
check_tier_order(const event_t *ev, ev_error_t *err)
{
    static const ev_field_t tier[3] = {F_FLOOR, F_TARGET, F_STRETCH};
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            if (event_has(ev, tier[a]) && event_has(ev, tier[b]) &&
                ev->v[tier[a]].i > ev->v[tier[b]].i)
                return ev_error_set(err, EVE_OUT_OF_RANGE, "%s: %lld is above %s %lld",
                                    field_names[tier[a]], (long long)ev->v[tier[a]].i,
                                    field_names[tier[b]], (long long)ev->v[tier[b]].i);
    return EVE_OK;
}

/* Rules that involve more than one field, or a type-specific range. */
static ev_errcode_t
check_type(const event_t *ev, ev_error_t *err)
{
    switch (ev->type) {
    case EV_NODE_DEFINED:
        if (ev->v[F_KIND].i != NODE_COMPANY && !event_has(ev, F_PARENT))
            return ev_error_set(err, EVE_MISSING_FIELD, "parent: required for a %s",
                                node_kinds[ev->v[F_KIND].i]);
        if (event_has(ev, F_PARENT) && ev->v[F_PARENT].s.len == ev->v[F_NODE].s.len &&
            memcmp(ev->v[F_PARENT].s.ptr, ev->v[F_NODE].s.ptr, ev->v[F_NODE].s.len) == 0)
            return ev_error_set(err, EVE_INVALID_VALUE, "parent: a node cannot be its own parent");
        return EVE_OK;
    case EV_NODE_MOVED:
        if (ev->v[F_PARENT].s.len == ev->v[F_NODE].s.len &&
            memcmp(ev->v[F_PARENT].s.ptr, ev->v[F_NODE].s.ptr, ev->v[F_NODE].s.len) == 0)
            return ev_error_set(err, EVE_INVALID_VALUE, "parent: a node cannot be its own parent");
        return EVE_OK;
    case EV_TARGET_SET:
        return check_tier_order(ev, err);
    case EV_TARGET_ADJUSTED:
        if (!event_has(ev, F_FLOOR) && !event_has(ev, F_TARGET) && !event_has(ev, F_STRETCH))
            return ev_error_set(
                err, EVE_MISSING_FIELD,
                "target: an adjustment needs at least one of floor, target, stretch");
        return check_tier_order(ev, err);
    case EV_SALE_REFUNDED:
    case EV_PAYMENT_RECEIVED:
        if (ev->v[F_AMOUNT].i < 1)
            return ev_error_set(err, EVE_OUT_OF_RANGE, "amount: must be at least 1");
        if (ev->type == EV_PAYMENT_RECEIVED && !event_has(ev, F_ORDER) &&
            !event_has(ev, F_CUSTOMER))
            return ev_error_set(err, EVE_MISSING_FIELD,
                                "order: one of order or customer is required");
        return EVE_OK;
    default:
        return EVE_OK;
    }
}

ev_errcode_t
event_check(const event_t *ev, ev_error_t *err)
{
    tables_init();
    if (ev->type >= EV_TYPE_COUNT)
        return ev_error_set(err, EVE_INTERNAL, "type %d: not in the schema", (int)ev->type);
    const ev_layout_t *lay = &layouts[ev->type];
    const type_field_t *tf = type_fields[ev->type];
    /* The masks only say whether something is wrong; which error comes
       first is decided in schema order, as always. */
    bool complete = (lay->required & ~ev->present) == 0;
    for (uint64_t m = type_req_text[ev->type]; complete && m; m &= m - 1)
        complete = ev->v[__builtin_ctzll(m)].s.len != 0;
    for (uint8_t j = 0; !complete && j < lay->count; j++) {
        ev_field_t f = (ev_field_t)tf[j].field;
        if (tf[j].required && !event_has(ev, f))
            return ev_error_set(err, EVE_MISSING_FIELD, "%s: required for %s", field_names[f],
                                type_names[ev->type]);
        /* a required text (a reason, a name) says something */
        if (tf[j].required && fields[f].kind == EV_KIND_TEXT && ev->v[f].s.len == 0)
            return ev_error_set(err, EVE_INVALID_VALUE, "%s: must not be empty", field_names[f]);
    }
    return check_type(ev, err);
}
