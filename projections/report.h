/*  report: what the projection's queries share, inside projections/ only.

    One file a query: query_progress.c, query_leaderboard.c, query_daily.c,
    query_target_history.c, query_undefined.c, and allocate_query.c beside
    allocate.c. report.c holds what several of them use (the selection of
    progress, leaderboard and daily; a progress row; the target key of
    target_history and allocate; packing helpers) and the table that
    registers each query once with its op and request fields, through which
    projection_query dispatches (projection.h).

    Every request key is read with the wire_req_* readers (events/wire.h)
    through a wire_field_t declared once below or in the query's file, so
    a bad key gets the same message from every query. A query's handler
    runs only on a request its table entry's fields have passed; it still
    checks what the readers return, since the fields it reads are the ones
    listed. Handlers return PQ_OK with out->body and out->pairs set, or a
    pq_rc_t with out->message set, and nothing packed. */

#ifndef PACER_REPORT_H
#define PACER_REPORT_H

#include "events/wire.h"
#include "projections/projection_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ROWS_DEFAULT 1000
#define ROWS_MAX     100000

/* Fields shared by several queries. */
extern const wire_field_t pq_f_now, pq_f_limit, pq_f_period, pq_f_metric, pq_f_metric_req,
    pq_f_product_line, pq_f_each_pl, pq_f_curve, pq_f_scope, pq_f_scope_req;
/* The target key of target_history and allocate: an id, not a path. */
extern const wire_field_t pq_f_key_scope, pq_f_key_metric, pq_f_key_period;

/* Write the message into out and return rc. */
pq_rc_t pq_fail(pq_result_t *out, pq_rc_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The handlers, one a query file. */
pq_rc_t pq_progress(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out);
pq_rc_t pq_leaderboard(projection_t *self, const msgpack_object *req, int64_t now,
                       pq_result_t *out);
pq_rc_t pq_daily(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out);
pq_rc_t pq_target_history(projection_t *self, const msgpack_object *req, int64_t now,
                          pq_result_t *out);
pq_rc_t pq_undefined_nodes(projection_t *self, const msgpack_object *req, int64_t now,
                           pq_result_t *out);
/* allocate on the query endpoint: projection_allocate's reply, the events
   dropped. */
pq_rc_t pq_allocate_preview(projection_t *self, const msgpack_object *req, int64_t now,
                            pq_result_t *out);
/* Their NULL-ended field lists, for the table. */
extern const wire_field_t *const pq_progress_fields[],
    *const pq_leaderboard_fields[], *const pq_daily_fields[], *const pq_target_history_fields[],
                                                                  *const pq_undefined_fields[],
                                                                      *const pq_allocate_fields[];

/* ---------------------------------------------------------------------
   The selection of progress, leaderboard and daily */

typedef struct {
    char period_name[32], metric_name[80], pl_name[80], scope_name[300], curve_name[16];
    period_t period;
    uint32_t period_sym, metric, pl, scope;
    bool any_metric, has_pl, each_pl;
    pace_curve_t curve;
    int64_t now;
    uint64_t limit;
    int32_t ref_day; /* membership day used for paths and children */
} selection_t;

/* Read the selection's keys; scope_f and metric_f are pq_f_scope or
   pq_f_scope_req, pq_f_metric or pq_f_metric_req, as the query requires
   them. PQ_BAD_REQUEST (a key missing or ill-typed), PQ_INVALID_VALUE (a
   period, metric or curve that is not one), PQ_NOT_FOUND (scope names no
   defined node). */
pq_rc_t pq_selection(projection_t *self, const msgpack_object *req, int64_t now,
                     const wire_field_t *scope_f, const wire_field_t *metric_f, selection_t *s,
                     pq_result_t *out);
bool pq_in_selection(projection_t *self, const selection_t *s, uint32_t node);

/* Where `now` stands in the selection's period, for pace_fraction. */
void pq_curve_clock(projection_t *self, const selection_t *s, int64_t now, pace_clock_t *clock);
/* The profile curve's weights: the node's daily actuals of `base` in the
   same period a year earlier, set into *clock. The caller frees the array;
   NULL (clock unchanged: the curve falls back to working) when there is no
   such period or memory is short. */
double *pq_curve_profile(projection_t *self, const selection_t *s, uint32_t node, uint32_t base,
                         uint32_t pl, pace_clock_t *clock);

/* ---------------------------------------------------------------------
   Progress rows (progress and leaderboard) */

typedef struct {
    uint32_t node, metric, pl;
    target_t *t; /* NULL: roll-up */
    const char *id, *metric_name, *pl_name;
    char path[512];
    bool has_att;
    double attainment;
    int64_t actual;
    bool summed; /* roll-up: num and den already computed (rollup_all) */
    int64_t num, den;
} row_t;

/* Compute a row's numbers; pack it when pk is set (rank 0: no rank key). */
void pq_row_eval(projection_t *self, const selection_t *s, row_t *r, msgpack_packer *pk, int rank);
/* The reply of progress and leaderboard: rows (at most s->limit of n),
   seq, now, total. */
void pq_pack_rows(projection_t *self, const selection_t *s, row_t *rows, size_t n, bool ranked,
                  pq_result_t *out);

/* ---------------------------------------------------------------------
   A target key (target_history and allocate) */

/* Resolve the request's scope, metric, period and product_line to a
   target. PQ_BAD_REQUEST, PQ_INVALID_VALUE (period or metric),
   PQ_NOT_FOUND (no such node, or no target for the key). */
pq_rc_t pq_find_key(projection_t *self, const msgpack_object *req, target_t **t, period_t *period,
                    pq_result_t *out);

/* ---------------------------------------------------------------------
   Packing */

static inline void
pq_pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* A symbol's string, nil for symbol 0. */
static inline void
pq_pack_sym(msgpack_packer *pk, symtab_t *t, uint32_t id)
{
    if (id)
        msgpack_pack_str_with_body(pk, symtab_str(t, id), symtab_len(t, id));
    else
        msgpack_pack_nil(pk);
}

/* key, then v, or nil when !has (or, for a double, not finite). */
void pq_pack_opt_int(msgpack_packer *pk, const char *key, bool has, int64_t v);
void pq_pack_opt_double(msgpack_packer *pk, const char *key, bool has, double v);

#endif
