/*  schema: event schema v1 (docs/EVENTS.md) as data, and its validation.

    Every field name in the schema has one global identity (ev_field_t) with
    one value kind and one range, whatever event type it appears in: `amount`
    is always non-negative money, `effective_at` always a time. An event type
    is an ordered list of fields, each required or optional; that order is
    also the canonical encoding order, so two events with the same content
    encode to the same bytes (that is what makes duplicate detection by
    content possible).

    A decoded event_t does not own its strings: they point into the msgpack
    buffer it was decoded from and live as long as that buffer.

    Nearby modules: events/codec.h turns msgpack into a checked event_t and
    back into canonical bytes with the checks declared here; events/utf8.h
    checks and quotes text; events/period.h reads period and date names;
    events/civil.h counts days. */

#ifndef PACER_EVENTS_SCHEMA_H
#define PACER_EVENTS_SCHEMA_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EV_ID_MAX     64
#define EV_MAX_BYTES  (16 * 1024)
#define EV_TIME_MAX   INT64_C(253402300799999)
#define EV_AMOUNT_MAX (INT64_C(1) << 62)
/* |kpi_recorded.value| at most: 9e15, so that thousandths fit int64 */
#define EV_KPI_VALUE_MAX INT64_C(9000000000000000)

#define EV_TYPE_LIST(X)                                                                            \
    X(NODE_DEFINED, "node_defined")                                                                \
    X(NODE_MOVED, "node_moved")                                                                    \
    X(NODE_RETIRED, "node_retired")                                                                \
    X(TARGET_SET, "target_set")                                                                    \
    X(TARGET_ADJUSTED, "target_adjusted")                                                          \
    X(SALE_CLOSED, "sale_closed")                                                                  \
    X(SALE_REFUNDED, "sale_refunded")                                                              \
    X(SALE_CANCELLED, "sale_cancelled")                                                            \
    X(PAYMENT_RECEIVED, "payment_received")                                                        \
    X(ACTIVITY_LOGGED, "activity_logged")                                                          \
    X(CUSTOMER_CREATED, "customer_created")                                                        \
    X(KPI_DEFINED, "kpi_defined")                                                                  \
    X(KPI_RECORDED, "kpi_recorded")                                                                \
    X(CALENDAR_DAY_SET, "calendar_day_set")                                                        \
    X(ALERT_SILENCED, "alert_silenced")                                                            \
    X(ALERT_UNSILENCED, "alert_unsilenced")                                                        \
    X(ALERT_RULE_SET, "alert_rule_set")                                                            \
    X(ANOMALY_REVIEWED, "anomaly_reviewed")

typedef enum {
#define EV_TYPE_ENUM(sym, name) EV_##sym,
    EV_TYPE_LIST(EV_TYPE_ENUM)
#undef EV_TYPE_ENUM
        EV_TYPE_COUNT
} ev_type_t;

#define EV_FIELD_LIST(X)                                                                           \
    X(TYPE, "type")                                                                                \
    X(ID, "id")                                                                                    \
    X(OCCURRED_AT, "occurred_at")                                                                  \
    X(SOURCE, "source")                                                                            \
    X(NODE, "node")                                                                                \
    X(KIND, "kind")                                                                                \
    X(NAME, "name")                                                                                \
    X(PARENT, "parent")                                                                            \
    X(OWNER, "owner")                                                                              \
    X(EFFECTIVE_AT, "effective_at")                                                                \
    X(SCOPE, "scope")                                                                              \
    X(METRIC, "metric")                                                                            \
    X(PERIOD, "period")                                                                            \
    X(PRODUCT_LINE, "product_line")                                                                \
    X(TARGET, "target")                                                                            \
    X(FLOOR, "floor")                                                                              \
    X(STRETCH, "stretch")                                                                          \
    X(CURRENCY, "currency")                                                                        \
    X(AUTHOR, "author")                                                                            \
    X(REASON, "reason")                                                                            \
    X(ALLOCATION, "allocation")                                                                    \
    X(ORDER, "order")                                                                              \
    X(REP, "rep")                                                                                  \
    X(AMOUNT, "amount")                                                                            \
    X(CUSTOMER, "customer")                                                                        \
    X(MARGIN, "margin")                                                                            \
    X(QUANTITY, "quantity")                                                                        \
    X(DUE_AT, "due_at")                                                                            \
    X(ACTIVITY, "activity")                                                                        \
    X(AGGREGATION, "aggregation")                                                                  \
    X(UNIT, "unit")                                                                                \
    X(KPI, "kpi")                                                                                  \
    X(VALUE, "value")                                                                              \
    X(DATE, "date")                                                                                \
    X(DAY_TYPE, "day_type")                                                                        \
    X(ALERT, "alert")                                                                              \
    X(UNTIL, "until")                                                                              \
    X(RULE, "rule")                                                                                \
    X(PARAM, "param")                                                                              \
    X(VERDICT, "verdict")

typedef enum {
#define EV_FIELD_ENUM(sym, name) F_##sym,
    EV_FIELD_LIST(EV_FIELD_ENUM)
#undef EV_FIELD_ENUM
        F_COUNT
} ev_field_t;

/* The error vocabulary of events, one code per refusal a producer can get;
   ev_errcode_name gives the wire names, which docs/EVENTS.md ("Validation
   errors") explains. The schema and codec return the codes up to
   EVE_INVALID_VALUE (EVE_INTERNAL only when misused); the projection's
   admission adds out_of_range refusals (EVENTS.md "Limits"), and the
   daemon (daemon/group.c, daemon/writer.c) an event over EV_MAX_BYTES,
   EVE_CONFLICT, EVE_ABORTED and EVE_INTERNAL, all in this vocabulary. */
typedef enum {
    EVE_OK = 0,
    EVE_NOT_A_MAP,     /* the event is not a msgpack map */
    EVE_UNKNOWN_TYPE,  /* `type` names no event type */
    EVE_MISSING_FIELD, /* a required field absent or nil */
    EVE_UNKNOWN_FIELD, /* a key the type does not have, or not a string */
    EVE_WRONG_TYPE,    /* a value of the wrong msgpack type */
    EVE_INVALID_UTF8,  /* a string that is not valid UTF-8 */
    EVE_TOO_LONG,      /* a string over its limit, an event over EV_MAX_BYTES */
    EVE_OUT_OF_RANGE,  /* a number outside its range, tiers out of order */
    EVE_INVALID_VALUE, /* right type, value not allowed (enum, date, period, ...) */
    EVE_CONFLICT,      /* the id is in the log with different content */
    EVE_ABORTED,       /* not appended because another event of its batch failed */
    EVE_INTERNAL       /* the daemon failed (storage, memory), not the event */
} ev_errcode_t;

typedef struct {
    ev_errcode_t code;
    char message[320];
} ev_error_t;

typedef struct {
    const char *ptr;
    uint32_t len;
} ev_str_t;

/* One field's value. Strings set s; times, money, ints and enums set i (an
   enum's i is its index in the field's value list); numbers set d. */
typedef struct {
    int64_t i;
    double d;
    ev_str_t s;
} ev_value_t;

typedef struct {
    ev_type_t type;
    uint64_t present; /* bit f set: field f is present */
    ev_value_t v[F_COUNT];
} event_t;

/* Enum values, in the index order of ev_value_t.i. */
enum { NODE_COMPANY, NODE_REGION, NODE_TEAM, NODE_REP };
enum { ACTIVITY_VISIT, ACTIVITY_CALL, ACTIVITY_QUOTE, ACTIVITY_DEMO };
enum { AGG_SUM, AGG_COUNT, AGG_AVERAGE };
enum { DAY_HOLIDAY, DAY_WORKDAY };
enum { VERDICT_CONFIRMED, VERDICT_DISMISSED };

static inline bool
event_has(const event_t *ev, ev_field_t f)
{
    return (ev->present >> f) & 1;
}

/* Names, for messages and the wire: "sale_closed", "amount"; "?" for a
   value outside the enum. */
const char *ev_type_name(ev_type_t type);
const char *ev_field_name(ev_field_t field);

/* The wire name of an error code ("wrong_type", docs/EVENTS.md); the one
   table of them, which every caller that reports an ev_errcode_t uses.
   "internal" for a value outside the enum. */
const char *ev_errcode_name(ev_errcode_t code);

/* Set err to code with a printf-style message and return code, so that a
   check can end with `return ev_error_set (err, ...)`. */
ev_errcode_t ev_error_set(ev_error_t *err, ev_errcode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a field's value is; each field has one kind whatever the type it
   appears in (docs/EVENTS.md, "Field kinds"). */
typedef enum {
    EV_KIND_ID,       /* 1..64 bytes UTF-8, no control characters */
    EV_KIND_TEXT,     /* UTF-8 up to the field's length */
    EV_KIND_TIME,     /* int64 ms, 0..EV_TIME_MAX */
    EV_KIND_INT,      /* int64 within the field's range (money too) */
    EV_KIND_NUMBER,   /* finite float64 (int accepted), magnitude at most the field's */
    EV_KIND_CURRENCY, /* three ASCII capitals */
    EV_KIND_ENUM,     /* one of the field's values */
    EV_KIND_DATE,     /* YYYY-MM-DD (events/period.h) */
    EV_KIND_PERIOD,   /* a period name (events/period.h) */
    EV_KIND_METRIC    /* [a-z][a-z0-9_.:]{0,63} */
} ev_kind_t;

/* The kind of a field; EV_KIND_ID for a value outside the enum. */
ev_kind_t ev_field_kind(ev_field_t field);

#define EV_TYPE_FIELDS_MAX 20

/* An event type's fields. Their order is the canonical encoding order, so
   that two events with the same content encode to the same bytes. */
typedef struct {
    uint8_t count;                     /* fields of the type */
    uint8_t field[EV_TYPE_FIELDS_MAX]; /* their ev_field_t, in canonical order */
    uint8_t pos[F_COUNT];              /* index in field[] of each field of the type */
    uint64_t mask;                     /* bit f: field f belongs to the type */
    uint64_t required;                 /* bit f: ... and is always required */
} ev_layout_t;

/* The layout of a type (type < EV_TYPE_COUNT); static, never NULL. */
const ev_layout_t *ev_type_layout(ev_type_t type);

/* The type named by the len bytes at name ("sale_closed"), or -1. */
int ev_type_lookup(const char *name, size_t len);

/* The field named by the len bytes at name ("amount"), or -1. `expect` is
   compared first (decoders pass the field that follows the last one
   found, as producers mostly keep schema order); -1 for none. */
int ev_field_lookup(const char *name, size_t len, int expect);

/* The word for a msgpack value's type in messages: "string", "integer",
   "float", "map", ... */
const char *ev_value_type_name(const msgpack_object *obj);

/* Check one value against its field's kind and range and fill *v (a
   string's v->s points into obj). Not for nil, which means absent and is
   the caller's to skip. Returns EVE_OK or, with a message naming the
   field in err:
       EVE_WRONG_TYPE     not the msgpack type of the kind
       EVE_INVALID_UTF8   a string that is not valid UTF-8
       EVE_TOO_LONG       an id over EV_ID_MAX bytes, a text over its length
       EVE_OUT_OF_RANGE   an integer outside the field's range or beyond
                          int64, a number not finite or too large
       EVE_INVALID_VALUE  empty id, control character in an id, a currency
                          that is not three capitals, an enum value, date,
                          period or metric that is not one
       EVE_INTERNAL       field outside the enum */
ev_errcode_t ev_field_check(ev_field_t field, const msgpack_object *obj, ev_value_t *v,
                            ev_error_t *err);

/* Check an event whose present fields each passed ev_field_check: every
   required field is there, a required text is not empty, and the rules
   across fields hold (tier order, a parent for all but a company, one of
   order or customer for a payment). The first failure in schema order is
   reported, with a message in err:
       EVE_MISSING_FIELD  a required field absent ("amount: required for
                          sale_closed")
       EVE_INVALID_VALUE  a required text empty, a node its own parent
       EVE_OUT_OF_RANGE   tiers out of order, a refund or payment of 0
   EVE_OK otherwise. */
ev_errcode_t event_check(const event_t *ev, ev_error_t *err);

#endif
