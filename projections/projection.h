/*  projection: targets and progress, folded from the log.

    A projection is a pure function of the log prefix it has folded: the
    organisation over time, per-day actuals of every credited node, the
    orders that refunds and cancellations refer to, and every target key
    with its audit trail and running actuals. Nothing in it reads a clock;
    queries take an explicit `now`.

    The rules it applies are the contract in docs/EVENTS.md, "Targets and
    progress: how events count". In short:

      - Actuals are stored once, at the credited node (a rep, usually), in
        per-local-day cells keyed (node, base metric, product line, day).
        Product line 0 holds all product lines.
      - Roll-ups walk the membership chain in force on that day. Every
        target key keeps a running numerator and denominator, updated as
        events fold; a key created late, or touched by a back-dated move,
        is recomputed from the cells.
      - Memory grows with nodes, target keys, orders and active
        (node, metric, day) cells, never with the number of events as such.

    Threading: a projection is not thread-safe; the daemon guards it with a
    reader-writer lock (daemon/projector). */

#ifndef PACER_PROJECTION_H
#define PACER_PROJECTION_H

#include "events/schema.h"
#include "events/wire.h"
#include "projections/calendar.h"
#include "projections/fold.h"
#include "projections/pace.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

/* Bump when the fold's rules or the snapshot layout change: snapshots of
   another version are ignored and the projection is rebuilt from the log. */
#define PROJECTION_VERSION 4

typedef struct _projection_t projection_t;

/* The projection as a fold (projections/fold.h), the registry's first:
   create is projection_new, check projection_check, fold projection_fold,
   fold_checked projection_fold_checked, fold_batch
   projection_fold_decoded, save_section projection_save and load_section
   projection_load. pacerd builds, snapshots and reloads it through the
   fold set (projections/foldset.h), as every fold. */
extern const fold_class_t fold_projection;

/* The calendar is borrowed (the caller keeps it alive and owns it); the
   projection adds calendar_day_set overrides to it as they fold. */
projection_t *projection_new(calendar_t *calendar);
void projection_destroy(projection_t **self_p);

/* Would folding ev next be consistent? EVE_OK, or EVE_INVALID_VALUE with a
   message naming the field (unknown node, order, target key, metric...).
   Never changes the projection. */
ev_errcode_t projection_check(projection_t *self, const event_t *ev, ev_error_t *err);

/* Fold one event that passed projection_check (or came from the log). The
   log is authoritative: an event that fails a check while replaying is
   skipped whole and counted (projection_skipped), never half-applied.
   Returns 0, or -1 when out of memory (the projection is then unusable). */
int projection_fold(projection_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev);

/* The same for an event that projection_check has just accepted, with
   nothing folded in between (the writer's path): skips checking it again. */
int projection_fold_checked(projection_t *self, uint64_t seq, int64_t recorded_at,
                            const event_t *ev);

/* Decode a canonical stored event and fold it. */
int projection_fold_bytes(projection_t *self, uint64_t seq, int64_t recorded_at,
                          const uint8_t *event, size_t len);

/* Replay in batches: the same as projection_fold_bytes on each item in
   order, with the memory the events will touch prefetched a batch at a time
   (projections/prefetch.c), which is several times faster on a large
   history. The event bytes must stay valid for the call. */
#define PROJECTION_BATCH 64
typedef struct {
    uint64_t seq;
    int64_t recorded_at;
    const uint8_t *event;
    size_t len;
} projection_item_t;
int projection_fold_batch(projection_t *self, const projection_item_t *items, size_t n);

/* The two halves of projection_fold_batch, for a replay that decodes on
   one thread and folds on another (daemon/replay.c). Decoding touches no
   projection: out[i].ev's strings point into the items' bytes, the rest
   into zone; both must outlive the fold. An event that does not decode
   has ok false and is counted as skipped by the fold. */
void projection_decode_batch(const projection_item_t *items, size_t n, msgpack_zone *zone,
                             fold_event_t *out);
int projection_fold_decoded(projection_t *self, const fold_event_t *d, size_t n);

uint64_t projection_seq(projection_t *self);
/* How many credited ids no node_defined defines (yet): a sale for a typo
   of a rep collects credit nobody sees otherwise. O(1). The query
   `undefined_nodes` lists them. */
uint32_t projection_undefined_count(projection_t *self);
/* The calendar given to projection_new. */
calendar_t *projection_calendar(projection_t *self);
uint64_t projection_skipped(projection_t *self);

/* Snapshot: a self-describing msgpack blob of the whole state. Loading it
   into a fresh projection (same calendar settings) gives a projection that
   saves to the same bytes. */
int projection_save(projection_t *self, msgpack_sbuffer *out);
/* -1 with a message if the blob is of another version or damaged; the
   projection is then in an unspecified state and must be destroyed. */
int projection_load(projection_t *self, const void *data, size_t len, char *err, size_t errlen);

/* Queries (projections/report.c, one file a query: query_*.c,
   allocate_query.c). Each packs the operation's reply fields (see
   docs/PROTOCOL.md, "Targets and progress") as `pairs` key/value pairs into
   out->body, for the caller to put after its reply header; or returns an
   error code with out->message naming the problem and nothing packed.
   request is the request body map.

   pq_rc_t is this layer's one vocabulary of errors; pq_rc_name gives each
   its protocol error code:
       PQ_BAD_REQUEST    "bad_request": a key missing, of the wrong type or
                         out of range (the message from events/wire.h's
                         readers), or a combination not allowed; also
                         "out of memory", which the request may not repeat
       PQ_NOT_FOUND      "not_found": an unknown scope, target key or node
       PQ_INVALID_VALUE  "invalid_value": a period, metric or curve that
                         is not one, with the reason */
typedef enum { PQ_OK = 0, PQ_BAD_REQUEST, PQ_NOT_FOUND, PQ_INVALID_VALUE } pq_rc_t;

typedef struct {
    msgpack_sbuffer body; /* the packed reply pairs */
    size_t pairs;         /* how many key/value pairs body holds */
    char message[512];    /* when the result is not PQ_OK */
} pq_result_t;

/* A query of the projection, registered once in report.c's table with
   its op (events/wire.h's WIRE_OP_LIST), its handler and the request
   fields it reads (NULL-ended). */
typedef pq_rc_t (*pq_fn_t)(projection_t *self, const msgpack_object *request, int64_t now,
                           pq_result_t *out);
typedef struct {
    wire_op_t op;
    pq_fn_t run;
    const wire_field_t *const *fields;
} pq_query_t;

/* op's entry, or NULL if the projection does not answer op. */
const pq_query_t *projection_query_find(wire_op_t op);

/* Answer query op at `now` (ms UTC; the request's `now` overrides it):
   checks the request against op's fields, then runs its handler. Returns
   any pq_rc_t; PQ_BAD_REQUEST too for an op not in the table. out->body
   must be initialised; it is written only on PQ_OK. */
pq_rc_t projection_query(projection_t *self, wire_op_t op, const msgpack_object *request,
                         int64_t now, pq_result_t *out);

/* Allocation (projections/allocate_query.c): compute the children's
   target_set events for an allocate request. On PQ_OK, out->body holds
   the reply pairs for the split and *events (caller frees with
   msgpack_sbuffer_free) a msgpack array of the *nevents generated events,
   ready to append as an atomic batch. Otherwise *events is NULL and
   *nevents 0: PQ_BAD_REQUEST (a key, the weights, an id too long for a
   child's, out of memory), PQ_NOT_FOUND (unknown scope, no parent
   target, no children), PQ_INVALID_VALUE (period, metric). */
pq_rc_t projection_allocate(projection_t *self, const msgpack_object *request, pq_result_t *out,
                            msgpack_sbuffer **events, uint32_t *nevents);
/* The allocate request's `preview` (true: answer, append nothing), which
   only the append endpoint's command reads (daemon/cmd_allocate.c);
   projection_allocate checks it with the request's other keys. */
extern const wire_field_t pq_f_preview;

/* "ok", "bad_request", "not_found", "invalid_value"; "internal" for a
   value that is none of them. Never NULL. */
const char *pq_rc_name(pq_rc_t rc);

/* Change tracking and per-key evaluation, for the alert rules
   (projections/target_eval.c). */

/* Track which targets each fold changes (off by default; the daemon turns
   it on for the live projection only). */
void projection_track_changes(projection_t *self, bool on);
/* The targets changed since the last call, each once, in the order first
   changed, with the newest seq that changed each; valid until the next
   fold. Resets the list. Returns how many. */
size_t projection_take_changes(projection_t *self, const uint32_t **idx, uint64_t *seqs,
                               size_t cap);
uint32_t projection_target_count(projection_t *self);
/* The newest seq that changed target idx while changes were tracked (0:
   none seen). */
uint64_t projection_changed_seq(projection_t *self, uint32_t idx);

/* One target key's progress at `now` on the working-day curve, as the
   alert rules see it. Strings are copies. */
typedef struct {
    uint32_t idx;
    char scope[65], path[512], owner[65], parent_owner[65];
    char metric[65], period[PERIOD_NAME_MAX], product_line[65];
    bool has_pl;
    int kind;         /* the scope's node kind (NODE_COMPANY ...) */
    bool money;       /* the metric counts money (revenue, margin, collections) */
    bool summable;    /* a sum metric: run rates make sense */
    char currency[4]; /* the target's, "" if none */
    int64_t start_ms, end_ms;
    bool started, ended; /* now is past the start / at or past the end */
    int64_t actual, floor, target, stretch;
    uint8_t mask;         /* bit 0 floor, 1 target, 2 stretch */
    double elapsed;       /* working days elapsed / working days in the period, 0..1 */
    double working_total; /* working days in the period */
    double working_left;
    int64_t expected;
    bool has_pace;
    double pace_ratio;
    bool has_attainment;
    double attainment;
    bool has_required_rate;
    double required_rate; /* what remains of the target, a working day */
    bool has_forecast;
    int64_t forecast;
    bool has_rates;
    double rate_window, rate_1d; /* actual a working day: last window_days, last one */
    int window_days;
    pace_status_t status;
    bool named; /* path, owner and parent_owner are filled (projection_target_names) */
} tprog_t;

/* 0, or -1 if idx is not a target with a `target` tier. window_days: the
   longer run-rate window (the momentum rule's). The numbers and the key's
   own names only: path, owner and parent_owner are left empty until
   projection_target_names fills them (a chain walk the common evaluation,
   which changes nothing, does not need). */
int projection_target_eval(projection_t *self, uint32_t idx, int64_t now, int window_days,
                           tprog_t *out);
void projection_target_names(projection_t *self, tprog_t *out, int64_t now);
/* The first instant (ms UTC) at which target idx's working-day fraction
   reaches `fraction`, within its period; INT64_MAX if it never does
   (fraction > 1). */
int64_t projection_time_at_fraction(projection_t *self, uint32_t idx, double fraction);
/* The target idx of (scope, metric, period, product_line or NULL); -1 if
   none. */
int64_t projection_target_find(projection_t *self, const char *scope, const char *metric,
                               const char *period, const char *product_line);
/* What every target key booked over the last window_days working days
   before the day of `now`, and over the last of them, into arrays of n >=
   projection_target_count entries (by target index; sum metrics only,
   others 0). Returns the number of working days found (window_days unless
   the calendar has fewer in the last year), or -1. */
int projection_window_sums(projection_t *self, int64_t now, int window_days, int64_t *sum_window,
                           int64_t *sum_last, uint32_t n);
/* A node id's path as of `now` ("acme/east/zhang"; the id alone if it is
   not known), its owner and its parent's owner ("" when none); false if
   the id is unknown. Any of the outputs may be NULL. */
bool projection_node_info(projection_t *self, const char *node, int64_t now, char *path,
                          size_t pathlen, char *owner, size_t ownerlen, char *parent_owner,
                          size_t parent_ownerlen);

#endif
