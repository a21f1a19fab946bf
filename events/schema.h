/*  schema: event schema v1 (docs/EVENTS.md) as data, and its validation.

    Every field name in the schema has one global identity (ev_field_t) with
    one value kind and one range, whatever event type it appears in: `amount`
    is always non-negative money, `effective_at` always a time. An event type
    is an ordered list of fields, each required or optional; that order is
    also the canonical encoding order, so two events with the same content
    encode to the same bytes (that is what makes duplicate detection by
    content possible).

    A decoded event_t does not own its strings: they point into the msgpack
    buffer it was decoded from and live as long as that buffer. */

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

/* Validation error codes; the wire names are in docs/EVENTS.md. */
typedef enum {
    EVE_OK = 0,
    EVE_NOT_A_MAP,
    EVE_UNKNOWN_TYPE,
    EVE_MISSING_FIELD,
    EVE_UNKNOWN_FIELD,
    EVE_WRONG_TYPE,
    EVE_INVALID_UTF8,
    EVE_TOO_LONG,
    EVE_OUT_OF_RANGE,
    EVE_INVALID_VALUE,
    EVE_CONFLICT,
    EVE_ABORTED,
    EVE_INTERNAL
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

const char *ev_type_name(ev_type_t type);
const char *ev_field_name(ev_field_t field);
/* Wire name of an error code ("wrong_type"). */
const char *ev_errcode_name(ev_errcode_t code);

/* Validate a msgpack object as an event and fill *ev. On failure returns the
   error code, also stored in err with a message naming the field
   ("amount: expected integer, got string"). */
ev_errcode_t event_decode(const msgpack_object *obj, event_t *ev, ev_error_t *err);

/* The event's id if the object is a map with a string "id" (for error
   messages about events that failed validation); {NULL, 0} otherwise. */
ev_str_t event_peek_id(const msgpack_object *obj);

/* Canonical msgpack encoding of a valid event: a map in schema order. */
int event_encode(const event_t *ev, msgpack_packer *pk);
/* The same into buf; returns the length, or 0 if it might not fit in cap
   (give at least EV_MAX_BYTES + 1024 for an event that may be accepted). */
size_t event_encode_buf(const event_t *ev, uint8_t *buf, size_t cap);
/* Write v in msgpack's shortest unsigned form, as msgpack-c packs it (at
   most 9 bytes); returns the end. Also for the daemon's replies. */
uint8_t *ev_put_uint(uint8_t *p, uint64_t v);

/* 64-bit hash of an id, stable across processes and versions (SipHash-2-4
   with a fixed key); it is stored in the log's id index. */
uint64_t event_id_hash(const char *id, size_t len);

/* UTF-8 validity (no overlongs, no surrogates, at most U+10FFFF). */
bool ev_utf8_valid(const char *s, size_t len);

/* Copy len bytes of producer text into out (NUL-terminated, at most outlen
   bytes) so that it is safe to quote in a message: valid UTF-8 is kept,
   control characters and invalid bytes become \xNN. Truncates on a
   character boundary. Returns out. */
char *ev_escape(const char *s, size_t len, char *out, size_t outlen);

/* Period name syntax check ("2026-Q4", "2026-W53", "FY2026-Q1", ...). Returns
   true if valid; otherwise false with a reason. Whether a week 53 exists is
   checked; time zones do not matter for syntax. */
bool ev_period_valid(const char *s, size_t len, const char **why);

#endif
