/*  libpacer_alert: alert records, and the queries that read them.

    pacerd raises alerts into a durable outbox and numbers them with a
    gap-free alert sequence number, aseq (docs/PROTOCOL.md, "Alerts"). An
    alert record is a msgpack map; pacer_alert_t is its decoded form, with
    the whole record's msgpack bytes beside it for the fields this struct
    does not name (`values`, `evidence`, and anything a newer pacerd adds).

    pacer_alerts reads the outbox from an aseq on (the catch-up query) and
    pacer_alerts_active the alerts firing now; both answer with a page of
    records. libpacer_sub.h builds on them to hand every alert to an
    application exactly once, in order.

    Ownership: a pacer_alert_t is one allocation holding its strings and
    its raw bytes; whoever is handed one destroys it with
    pacer_alert_destroy. A page owns its records: pacer_alert_page_get
    lends one for as long as the page lives.

    Errors: pacer_rc_t, as libpacer.h says. The decoders have no client,
    so they write their sentence into the err they are given (may be
    NULL); the queries leave it in pacer_client_error. */

#ifndef PACER_LIBPACER_ALERT_H
#define PACER_LIBPACER_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libpacer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most records one `alerts` request may ask for, and the most prefixes
   libpacer sends in one. */
#define PACER_ALERTS_MAX_LIMIT    10000
#define PACER_ALERTS_MAX_PREFIXES 64

/* One alert record. Strings are NUL-terminated UTF-8 owned by the record.
   The first group is required by the protocol and never NULL; the others
   are NULL (or 0) when the record leaves them out or sends nil. */
typedef struct {
    uint64_t aseq;        /* alert sequence number, from 1 (see below for 0) */
    const char *key;      /* stable identity: "behind/rep-42/revenue/2026-11" */
    const char *topic;    /* "alert/behind/acme/east/t3/rep-42/" */
    const char *rule;     /* "behind", "anomaly/duplicate_order", ... */
    const char *state;    /* "firing", "repeat", "resolved" */
    const char *severity; /* "info", "warning", "critical" */
    int64_t at;           /* when this record was raised, ms UTC (the daemon's alert clock) */
    const char *summary;  /* one sentence for a person, with the numbers */

    int64_t since; /* when the alert started firing, ms UTC; 0 when absent */
    const char *scope, *path;
    const char *metric, *period, *product_line; /* the target key of a lag rule */
    const char *owner;
    const char *const *notify; /* who should be told; notify_count entries */
    size_t notify_count;
    uint64_t log_seq; /* the log's last seq when it was raised; 0 when absent */

    /* Only in alerts_active answers: whether a silence covers it, which one
       (its `alert` text), and until when (0: until the alert resolves). An
       alert silenced since it started has no record yet: aseq 0, `at` its
       start; a lag alert's summary then says so, an anomaly flag's is the
       one its record will have. */
    bool silenced;
    const char *silenced_by;
    int64_t silenced_until;

    const uint8_t *raw; /* the whole record, one msgpack map */
    size_t raw_len;
} pacer_alert_t;

/* Decode `len` bytes holding exactly one alert record (frame 1 of an
   alert message). PACER_OK: *alert_p is the caller's to destroy.
   PACER_EPROTOCOL: not one msgpack map nested at most 32 deep, or a
   required key missing or of the wrong type; `err` (may be NULL) says
   which. PACER_EINVAL: NULL arguments. PACER_ENOMEM. */
int pacer_alert_decode(const void *data, size_t len, pacer_alert_t **alert_p, char *err,
                       size_t errlen);

/* A copy of an alert (its own allocation). NULL when out of memory (the
   only failure: the original was decoded once already). */
pacer_alert_t *pacer_alert_dup(const pacer_alert_t *alert);

/* Free an alert; sets *self_p to NULL, harmless on NULL. */
void pacer_alert_destroy(pacer_alert_t **self_p);

/* True when the alert's topic starts with `prefix`. */
bool pacer_alert_matches(const pacer_alert_t *alert, const char *prefix);

/* ---- pages of alerts ------------------------------------------------------ */

typedef struct _pacer_alert_page_t pacer_alert_page_t;

size_t pacer_alert_page_count(pacer_alert_page_t *self);
/* Record `index` (0-based, < count), in aseq order (alerts) or key order
   (alerts_active). Owned by the page. */
const pacer_alert_t *pacer_alert_page_get(pacer_alert_page_t *self, size_t index);
/* Take record `index` out of the page: the caller destroys it, the page
   keeps NULL in its place. NULL when index >= count or already taken. */
pacer_alert_t *pacer_alert_page_take(pacer_alert_page_t *self, size_t index);
/* alerts: the `from` to ask for next. alerts_active: 0. */
uint64_t pacer_alert_page_next(pacer_alert_page_t *self);
/* The newest aseq when the daemon began the read. */
uint64_t pacer_alert_page_last_aseq(pacer_alert_page_t *self);
/* alerts_active: how many alerts matched before the limit. alerts: count. */
uint64_t pacer_alert_page_total(pacer_alert_page_t *self);
/* The outbox's epoch the reply gave (docs/PROTOCOL.md, "Alerts": aseqs
   compare only within one epoch); 0 when the reply had none. */
uint64_t pacer_alert_page_epoch(pacer_alert_page_t *self);
/* alerts: true when nothing is left to read (fewer records than asked for
   and next past last_aseq, or past `to`). alerts_active: always true. */
bool pacer_alert_page_at_end(pacer_alert_page_t *self);
void pacer_alert_page_destroy(pacer_alert_page_t **self_p);

/* Decode the body of an ok `alerts` or `alerts_active` reply (`len` bytes,
   one msgpack map). `limit` is what the request asked for (0: the default,
   1000); it decides pacer_alert_page_at_end. The records must come in
   strictly increasing aseq order when `ordered` is true (alerts).
   PACER_OK: *page_p is the caller's. PACER_EPROTOCOL with `err` saying
   what is wrong; PACER_EINVAL; PACER_ENOMEM. */
int pacer_alert_page_decode(const void *data, size_t len, size_t limit, bool ordered,
                            pacer_alert_page_t **page_p, char *err, size_t errlen);

/* ---- queries (on a pacer_client_t's query endpoint) ------------------------ */

typedef struct {
    uint64_t from;               /* first aseq; 0 counts as 1 */
    uint64_t to;                 /* last aseq to consider; 0: the newest */
    const char *const *prefixes; /* topic prefixes ("alert/behind/acme/east/"); none: all */
    size_t prefix_count;         /* at most PACER_ALERTS_MAX_PREFIXES */
    size_t limit;                /* 0: the daemon's default (1000); capped at 10,000 */
} pacer_alerts_query_t;

/* The `alerts` query: records from `from` on, in aseq order. Page through
   with pacer_alert_page_next until pacer_alert_page_at_end. PACER_OK:
   *page_p is the caller's. PACER_EINVAL (NULL, too many prefixes, or
   the environment's keys), PACER_ETIMEOUT, PACER_ETRANSPORT, PACER_EAUTH,
   PACER_EREFUSED (see pacer_client_error_code; an older pacerd says
   unknown_op), PACER_EPROTOCOL, PACER_ENOMEM; pacer_client_error says
   why. *page_p is NULL after any of them. */
int pacer_alerts(pacer_client_t *client, const pacer_alerts_query_t *query,
                 pacer_alert_page_t **page_p);

typedef struct {
    const char *const *prefixes; /* topic prefixes; none: all */
    size_t prefix_count;         /* at most PACER_ALERTS_MAX_PREFIXES */
    const char *severity;        /* "info", "warning", "critical": that and above; NULL: any */
    size_t limit;                /* 0: the daemon's default (1000); at most 100,000 */
    int64_t now;                 /* when silences are judged, ms UTC; 0: the daemon's clock */
} pacer_alerts_active_query_t;

/* The `alerts_active` query: the newest record of every alert firing now,
   by key, with silenced / silenced_by / silenced_until. Errors as
   pacer_alerts. */
int pacer_alerts_active(pacer_client_t *client, const pacer_alerts_active_query_t *query,
                        pacer_alert_page_t **page_p);

#ifdef __cplusplus
}
#endif

#endif
