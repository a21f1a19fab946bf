/*  schema: the tables behind docs/EVENTS.md, and the validator that applies
    them. Keep this file and the document in step: a field added here without
    a line there is a field no client knows about.

    Validation is one pass over the map's keys: each key is compared first
    with the field that follows the last one in schema order (producers
    mostly keep that order), else looked up among all field names of its
    length, then checked against the type's field mask; its value is
    checked against the field's kind, and a bit set in `present`. Cross-field rules (tier order,
    "one of order or customer") run after. Nothing is allocated. */

#include "events/schema.h"

#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum {
    K_ID,       /* 1..64 bytes UTF-8, no control characters */
    K_TEXT,     /* UTF-8 up to max bytes */
    K_TIME,     /* int64 ms, 0..EV_TIME_MAX */
    K_INT,      /* int64 within [min, max] */
    K_NUMBER,   /* finite float64 (int accepted), magnitude at most max */
    K_CURRENCY, /* three ASCII capitals */
    K_ENUM,     /* one of values[] */
    K_DATE,     /* YYYY-MM-DD */
    K_PERIOD,   /* see ev_period_valid */
    K_METRIC    /* [a-z][a-z0-9_.:]{0,63} */
} ev_kind_t;

typedef struct {
    const char *name;
    uint8_t name_len;
    ev_kind_t kind;
    int64_t min, max; /* K_INT range; K_TEXT max length; K_NUMBER max magnitude */
    const char *const *values;
    const struct name_set *set; /* K_ENUM: values as a name set */
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

#define ID(f)          [F_##f] = {#f, 0, K_ID, 0, 0, NULL, NULL}
#define TEXT(f, n)     [F_##f] = {#f, 0, K_TEXT, 0, n, NULL, NULL}
#define TIME(f)        [F_##f] = {#f, 0, K_TIME, 0, EV_TIME_MAX, NULL, NULL}
#define INT(f, lo, hi) [F_##f] = {#f, 0, K_INT, lo, hi, NULL, NULL}
#define ENUM(f, v)     [F_##f] = {#f, 0, K_ENUM, 0, 0, v, NULL}
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
    OTHER(METRIC, K_METRIC),
    OTHER(PERIOD, K_PERIOD),
    ID(PRODUCT_LINE),
    INT(TARGET, 0, EV_AMOUNT_MAX),
    INT(FLOOR, 0, EV_AMOUNT_MAX),
    INT(STRETCH, 0, EV_AMOUNT_MAX),
    OTHER(CURRENCY, K_CURRENCY),
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
    [F_VALUE] = {"value", 0, K_NUMBER, 0, EV_KPI_VALUE_MAX, NULL, NULL},
    OTHER(DATE, K_DATE),
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
#define ENVELOPE        R(TYPE), R(ID), R(OCCURRED_AT), O(SOURCE)
#define TYPE_FIELDS_MAX 20

static const type_field_t type_fields[EV_TYPE_COUNT][TYPE_FIELDS_MAX] = {
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

static uint8_t type_nfields[EV_TYPE_COUNT];
static uint64_t type_mask[EV_TYPE_COUNT];     /* bit f: field f belongs to the type */
static uint64_t type_required[EV_TYPE_COUNT]; /* bit f: ... and is required */
static uint64_t type_req_text[EV_TYPE_COUNT]; /* bit f: ... and is a required text */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

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
static uint8_t type_pos[EV_TYPE_COUNT][F_COUNT];      /* a field's index in type_fields */
static uint8_t key_enc[F_COUNT][32];                  /* each field name as a msgpack fixstr */
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
        key_enc[f][0] = (uint8_t)(0xa0 | fields[f].name_len);
        memcpy(key_enc[f] + 1, field_names[f], fields[f].name_len);
    }
    int nsets = 0;
    const char *const *built[8];
    for (int f = 0; f < F_COUNT; f++) {
        if (fields[f].kind != K_ENUM)
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
        uint8_t n = 0;
        while (n < TYPE_FIELDS_MAX && (n == 0 || type_fields[t][n].field != F_TYPE))
            n++;
        type_nfields[t] = n;
        for (uint8_t j = 0; j < n; j++) {
            type_pos[t][type_fields[t][j].field] = j;
            type_mask[t] |= UINT64_C(1) << type_fields[t][j].field;
            if (type_fields[t][j].required)
                type_required[t] |= UINT64_C(1) << type_fields[t][j].field;
            if (type_fields[t][j].required && fields[type_fields[t][j].field].kind == K_TEXT)
                type_req_text[t] |= UINT64_C(1) << type_fields[t][j].field;
        }
    }
}

static void
tables_init(void)
{
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

static ev_errcode_t fail(ev_error_t *err, ev_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ev_errcode_t
fail(ev_error_t *err, ev_errcode_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

static const char *
mp_type_name(const msgpack_object *o)
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

bool
ev_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs eight bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

char *
ev_escape(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = u[i] < 0x80 ? 1 : u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : 2;
        bool ok = i + n <= len && ev_utf8_valid(s + i, n) && u[i] >= 0x20 && u[i] != 0x7F;
        size_t need = ok ? n : 4;
        if (o + need + 1 > outlen)
            break;
        if (ok)
            memcpy(out + o, s + i, n);
        else
            snprintf(out + o, 5, "\\x%02X", u[i]);
        o += need;
        i += ok ? n : 1;
    }
    if (outlen)
        out[o] = 0;
    return out;
}

static bool
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* 0 = Monday .. 6 = Sunday, proleptic Gregorian (Sakamoto). */
static int
weekday(int y, int m, int d)
{
    static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    int w = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7; /* 0 = Sunday */
    return (w + 6) % 7;
}

static int
iso_weeks_in_year(int y)
{
    int jan1 = weekday(y, 1, 1);
    return (jan1 == 3 || (jan1 == 2 && is_leap(y))) ? 53 : 52;
}

static bool
digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool
date_valid(const char *s, size_t len, const char **why)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d)) {
        *why = "expected YYYY-MM-DD";
        return false;
    }
    if (y < 1970 || m < 1 || m > 12) {
        *why = y < 1970 ? "year before 1970" : "month must be 01..12";
        return false;
    }
    if (d < 1 || d > days_in_month(y, m)) {
        *why = "no such day in that month";
        return false;
    }
    return true;
}

bool
ev_period_valid(const char *s, size_t len, const char **why)
{
    int y, n = 0;
    bool fiscal = len >= 2 && s[0] == 'F' && s[1] == 'Y';
    if (fiscal) {
        s += 2;
        len -= 2;
    }
    *why = "expected YYYY, YYYY-Qn, YYYY-MM, YYYY-Www, YYYY-MM-DD, FYYYYY, FYYYYY-Qn or FYYYYY-Mnn";
    if (len < 4 || !digits(s, 4, &y) || y < 1970)
        return false;
    if (len == 4)
        return true;
    if (s[4] != '-')
        return false;
    if (fiscal && len == 8 && s[5] == 'M') {
        if (!digits(s + 6, 2, &n) || n < 1 || n > 12) {
            *why = "fiscal month must be M01..M12";
            return false;
        }
        return true;
    }
    if (len == 7 && s[5] == 'Q') {
        if (!digits(s + 6, 1, &n) || n < 1 || n > 4) {
            *why = "quarter must be Q1..Q4";
            return false;
        }
        return true;
    }
    if (fiscal)
        return false;
    if (len == 8 && s[5] == 'W') {
        if (!digits(s + 6, 2, &n) || n < 1 || n > iso_weeks_in_year(y)) {
            *why = n == 53 ? "that year has 52 ISO weeks" : "week must be W01..W53";
            return false;
        }
        return true;
    }
    if (len == 7) {
        if (!digits(s + 5, 2, &n) || n < 1 || n > 12) {
            *why = "month must be 01..12";
            return false;
        }
        return true;
    }
    if (len == 10)
        return date_valid(s, len, why);
    return false;
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
    bool plain = fs->kind == K_ID && printable_ascii(p, n);
    if (!plain && !ev_utf8_valid(p, n))
        return fail(err, EVE_INVALID_UTF8, "%s: not valid UTF-8", fs->name);
    v->s.ptr = p;
    v->s.len = n;
    switch (fs->kind) {
    case K_ID:
        if (n == 0)
            return fail(err, EVE_INVALID_VALUE, "%s: must not be empty", fs->name);
        if (n > EV_ID_MAX)
            return fail(err, EVE_TOO_LONG, "%s: %u bytes, at most %d allowed", fs->name, n,
                        EV_ID_MAX);
        for (uint32_t i = 0; !plain && i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7F)
                return fail(err, EVE_INVALID_VALUE, "%s: control character at byte %u", fs->name,
                            i);
        return EVE_OK;
    case K_TEXT:
        if (n > fs->max)
            return fail(err, EVE_TOO_LONG, "%s: %u bytes, at most %lld allowed", fs->name, n,
                        (long long)fs->max);
        return EVE_OK;
    case K_CURRENCY:
        if (n != 3 || p[0] < 'A' || p[0] > 'Z' || p[1] < 'A' || p[1] > 'Z' || p[2] < 'A' ||
            p[2] > 'Z')
            return fail(err, EVE_INVALID_VALUE,
                        "%s: \"%.*s\" is not three capital letters (an ISO 4217 code)", fs->name,
                        (int)(n > 16 ? 16 : n), p);
        return EVE_OK;
    case K_ENUM: {
        int i = name_find(fs->set, p, n);
        if (i >= 0) {
            v->i = i;
            return EVE_OK;
        }
        return fail(err, EVE_INVALID_VALUE, "%s: \"%.*s\" is not one of the allowed values",
                    fs->name, (int)(n > 40 ? 40 : n), p);
    }
    case K_DATE:
        if (!date_valid(p, n, &why))
            return fail(err, EVE_INVALID_VALUE, "%s: \"%.*s\": %s", fs->name,
                        (int)(n > 40 ? 40 : n), p, why);
        return EVE_OK;
    case K_PERIOD:
        if (!ev_period_valid(p, n, &why))
            return fail(err, EVE_INVALID_VALUE, "%s: \"%.*s\": %s", fs->name,
                        (int)(n > 40 ? 40 : n), p, why);
        return EVE_OK;
    case K_METRIC:
        if (!metric_valid(p, n))
            return fail(err, EVE_INVALID_VALUE,
                        "%s: \"%.*s\": expected 1 to 64 of a-z 0-9 _ . : starting with a letter",
                        fs->name, (int)(n > 40 ? 40 : n), p);
        return EVE_OK;
    default:
        return fail(err, EVE_INTERNAL, "%s: schema kind mismatch", fs->name);
    }
}

static ev_errcode_t
check_value(const field_spec_t *fs, const msgpack_object *o, ev_value_t *v, ev_error_t *err)
{
    switch (fs->kind) {
    case K_ID:
    case K_TEXT:
    case K_CURRENCY:
    case K_ENUM:
    case K_DATE:
    case K_PERIOD:
    case K_METRIC:
        if (o->type != MSGPACK_OBJECT_STR)
            return fail(err, EVE_WRONG_TYPE, "%s: expected string, got %s", fs->name,
                        mp_type_name(o));
        return check_string(fs, o, v, err);
    case K_TIME:
    case K_INT: {
        int64_t x;
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (o->via.u64 > (uint64_t)INT64_MAX)
                return fail(err, EVE_OUT_OF_RANGE, "%s: %llu is beyond int64", fs->name,
                            (unsigned long long)o->via.u64);
            x = (int64_t)o->via.u64;
        } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            x = o->via.i64;
        else
            return fail(err, EVE_WRONG_TYPE, "%s: expected integer, got %s", fs->name,
                        mp_type_name(o));
        if (x < fs->min || x > fs->max)
            return fail(err, EVE_OUT_OF_RANGE, "%s: %lld is outside %lld..%lld", fs->name,
                        (long long)x, (long long)fs->min, (long long)fs->max);
        v->i = x;
        return EVE_OK;
    }
    case K_NUMBER:
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            v->d = (double)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            v->d = (double)o->via.i64;
        else if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
            v->d = o->via.f64;
        else
            return fail(err, EVE_WRONG_TYPE, "%s: expected number, got %s", fs->name,
                        mp_type_name(o));
        if (!isfinite(v->d))
            return fail(err, EVE_OUT_OF_RANGE, "%s: must be a finite number", fs->name);
        if (fabs(v->d) > (double)fs->max)
            return fail(err, EVE_OUT_OF_RANGE, "%s: %g is outside -%lld..%lld", fs->name, v->d,
                        (long long)fs->max, (long long)fs->max);
        return EVE_OK;
    }
    return fail(err, EVE_INTERNAL, "%s: unknown kind", fs->name);
}

static ev_errcode_t
check_tier_order(const event_t *ev, ev_error_t *err)
{
    static const ev_field_t tier[3] = {F_FLOOR, F_TARGET, F_STRETCH};
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            if (event_has(ev, tier[a]) && event_has(ev, tier[b]) &&
                ev->v[tier[a]].i > ev->v[tier[b]].i)
                return fail(err, EVE_OUT_OF_RANGE, "%s: %lld is above %s %lld",
                            field_names[tier[a]], (long long)ev->v[tier[a]].i, field_names[tier[b]],
                            (long long)ev->v[tier[b]].i);
    return EVE_OK;
}

/* Rules that involve more than one field, or a type-specific range. */
static ev_errcode_t
check_type(const event_t *ev, ev_error_t *err)
{
    switch (ev->type) {
    case EV_NODE_DEFINED:
        if (ev->v[F_KIND].i != NODE_COMPANY && !event_has(ev, F_PARENT))
            return fail(err, EVE_MISSING_FIELD, "parent: required for a %s",
                        node_kinds[ev->v[F_KIND].i]);
        if (event_has(ev, F_PARENT) && ev->v[F_PARENT].s.len == ev->v[F_NODE].s.len &&
            memcmp(ev->v[F_PARENT].s.ptr, ev->v[F_NODE].s.ptr, ev->v[F_NODE].s.len) == 0)
            return fail(err, EVE_INVALID_VALUE, "parent: a node cannot be its own parent");
        return EVE_OK;
    case EV_NODE_MOVED:
        if (ev->v[F_PARENT].s.len == ev->v[F_NODE].s.len &&
            memcmp(ev->v[F_PARENT].s.ptr, ev->v[F_NODE].s.ptr, ev->v[F_NODE].s.len) == 0)
            return fail(err, EVE_INVALID_VALUE, "parent: a node cannot be its own parent");
        return EVE_OK;
    case EV_TARGET_SET:
        return check_tier_order(ev, err);
    case EV_TARGET_ADJUSTED:
        if (!event_has(ev, F_FLOOR) && !event_has(ev, F_TARGET) && !event_has(ev, F_STRETCH))
            return fail(err, EVE_MISSING_FIELD,
                        "target: an adjustment needs at least one of floor, target, stretch");
        return check_tier_order(ev, err);
    case EV_SALE_REFUNDED:
    case EV_PAYMENT_RECEIVED:
        if (ev->v[F_AMOUNT].i < 1)
            return fail(err, EVE_OUT_OF_RANGE, "amount: must be at least 1");
        if (ev->type == EV_PAYMENT_RECEIVED && !event_has(ev, F_ORDER) &&
            !event_has(ev, F_CUSTOMER))
            return fail(err, EVE_MISSING_FIELD, "order: one of order or customer is required");
        return EVE_OK;
    default:
        return EVE_OK;
    }
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
        return -fail(err, EVE_MISSING_FIELD, "type: required");
    if (tv->type != MSGPACK_OBJECT_STR)
        return -fail(err, EVE_WRONG_TYPE, "type: expected string, got %s", mp_type_name(tv));
    int t = name_find(fields[F_TYPE].set, tv->via.str.ptr, tv->via.str.size);
    if (t >= 0)
        return t;
    return -fail(err, EVE_UNKNOWN_TYPE, "type: \"%.*s\" is not an event type",
                 (int)(tv->via.str.size > 40 ? 40 : tv->via.str.size), tv->via.str.ptr);
}

ev_errcode_t
event_decode(const msgpack_object *obj, event_t *ev, ev_error_t *err)
{
    tables_init();
    err->code = EVE_OK;
    err->message[0] = 0;
    if (obj->type != MSGPACK_OBJECT_MAP)
        return fail(err, EVE_NOT_A_MAP, "event: expected a map, got %s", mp_type_name(obj));
    int t = find_type(obj, err);
    if (t < 0)
        return err->code;
    ev->type = (ev_type_t)t;
    ev->present = 0;
    ev->v[F_TYPE].i = t;
    const type_field_t *tf = type_fields[t];
    uint8_t nf = type_nfields[t];
    uint64_t seen = 0;
    uint8_t hint = 0;

    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *k = &obj->via.map.ptr[i].key;
        const msgpack_object *val = &obj->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            return fail(err, EVE_UNKNOWN_FIELD, "event: keys must be strings, got %s",
                        mp_type_name(k));
        uint32_t kn = k->via.str.size;
        int f = -1;
        if (kn <= NAME_MAX_LEN) {
            uint64_t a, b;
            name_words(k->via.str.ptr, kn, &a, &b);
            /* Producers mostly send fields in schema order: try the one
               after the last match first. */
            if (hint < nf) {
                int h = tf[hint].field;
                if (fields[h].name_len == kn && field_wa[h] == a && field_wb[h] == b)
                    f = h;
            }
            if (f < 0)
                f = name_lookup(&field_set, kn, a, b);
        }
        if (f < 0 || !((type_mask[t] >> f) & 1)) {
            int n = (int)(k->via.str.size > 40 ? 40 : k->via.str.size);
            if (f >= 0)
                return fail(err, EVE_UNKNOWN_FIELD, "%.*s: not a field of %s", n, k->via.str.ptr,
                            type_names[t]);
            return fail(err, EVE_UNKNOWN_FIELD, "%.*s: unknown field", n, k->via.str.ptr);
        }
        if (seen & (UINT64_C(1) << f))
            return fail(err, EVE_INVALID_VALUE, "%s: given twice", field_names[f]);
        seen |= UINT64_C(1) << f;
        hint = (uint8_t)(type_pos[t][f] + 1);
        if (val->type == MSGPACK_OBJECT_NIL)
            continue; /* nil means absent */
        ev_errcode_t rc = check_value(&fields[f], val, &ev->v[f], err);
        if (rc != EVE_OK)
            return rc;
        ev->present |= UINT64_C(1) << f;
    }
    /* The masks only say whether something is wrong; which error comes
       first is decided in schema order, as always. */
    bool complete = (type_required[t] & ~ev->present) == 0;
    for (uint64_t m = type_req_text[t]; complete && m; m &= m - 1)
        complete = ev->v[__builtin_ctzll(m)].s.len != 0;
    for (uint8_t j = 0; !complete && j < nf; j++) {
        ev_field_t f = (ev_field_t)tf[j].field;
        if (tf[j].required && !event_has(ev, f))
            return fail(err, EVE_MISSING_FIELD, "%s: required for %s", field_names[f],
                        type_names[t]);
        /* a required text (a reason, a name) says something */
        if (tf[j].required && fields[f].kind == K_TEXT && ev->v[f].s.len == 0)
            return fail(err, EVE_INVALID_VALUE, "%s: must not be empty", field_names[f]);
    }
    return check_type(ev, err);
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
    ev_kind_t k = fields[f].kind;
    bool scalar = k == K_TIME || k == K_INT || k == K_NUMBER;
    return 5 + fields[f].name_len + (scalar ? 9 : 5 + (size_t)ev->v[f].s.len);
}

/* An upper bound of the canonical encoding's length. */
static size_t
encode_bound(const event_t *ev)
{
    const type_field_t *tf = type_fields[ev->type];
    uint8_t nf = type_nfields[ev->type];
    size_t need = 3; /* map header */
    for (uint8_t j = 0; j < nf; j++)
        if (event_has(ev, (ev_field_t)tf[j].field))
            need += field_bound(ev, (ev_field_t)tf[j].field);
    return need;
}

size_t
event_encode_buf(const event_t *ev, uint8_t *buf, size_t cap)
{
    tables_init();
    /* encode_bound(ev) > cap, summed as the fields are written rather than
       in a pass of its own: nothing is written beyond the bound so far, and
       the event is refused as soon as the bound exceeds cap. */
    size_t need = 3;
    if (need > cap)
        return 0;
    const type_field_t *tf = type_fields[ev->type];
    uint8_t nf = type_nfields[ev->type];
    uint8_t *p = buf;
    unsigned n = (unsigned)__builtin_popcountll(ev->present);
    if (n < 16)
        *p++ = (uint8_t)(0x80 | n);
    else {
        *p++ = 0xde;
        p = put_be(p, n, 2);
    }
    for (uint8_t j = 0; j < nf; j++) {
        ev_field_t f = (ev_field_t)tf[j].field;
        if (!event_has(ev, f))
            continue;
        need += field_bound(ev, f);
        if (need > cap)
            return 0;
        const field_spec_t *fs = &fields[f];
        p = put_bytes(p, key_enc[f], fs->name_len + 1u);
        switch (fs->kind) {
        case K_TIME:
        case K_INT:
            p = put_int(p, ev->v[f].i);
            break;
        case K_NUMBER: {
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
    tables_init();
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
