/*  foldset: the folds pacerd runs, side by side, and their snapshots.

    A fold set holds one state of each fold of the registry
    (projections/folds.c), in registry order: the targets-and-progress
    projection first, the alert settings, then the anomaly detectors. It
    goes through the fold class (projections/fold.h) alone; what is the
    projection's or the alert settings' own is reached through the typed
    accessors below. The daemon's writer checks each event against every
    fold and folds it into every fold; a replay feeds them batches of
    decoded events with no emit function, so nothing already raised is
    raised again. Settings of a detector (alert_rule_set events of the rule
    anomaly/<name>) are checked on a scratch state and applied to that
    detector before it folds the event.

    Snapshots by section. A snapshot is the projection's section, the
    bytes every snapshot has begun with ([magic "pacer-projection",
    version, body], written and read by the projection itself, found by
    its place), followed by one array of the other folds' sections, each
    [name, version, state]. foldset_load takes a snapshot at seq S: a fold
    whose section is there with its current version loads it and wants
    events from S + 1; a fold that is new or whose version changed (the
    projection's too) starts empty and wants them from the first event
    (foldset_from; the fold functions skip a fold for events before its
    own). So changing one fold refolds that fold only. Sections of folds
    this set does not run are ignored. The projection's section carries
    its own seq: past S it is refused (it would fold the log's next events
    twice); behind S, the projection wants events from its own seq + 1.

    Errors: functions returning int give 0 or -1: out of memory (fold,
    save, tick); a damaged snapshot or section (load, with a message);
    a fold's refusal of a request (query, -1 with a message). Checks give
    an ev_errcode_t with a message naming the field. */

#ifndef PACER_FOLDSET_H
#define PACER_FOLDSET_H

#include "events/schema.h"
#include "projections/alertcfg.h"
#include "projections/calendar.h"
#include "projections/fold.h"
#include "projections/projection.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _foldset_t foldset_t;

typedef enum {
    FOLDSET_ALL,          /* every fold of the registry */
    FOLDSET_NO_DETECTORS, /* the folds before DETECTORS (pacerd --detectors off: a snapshot
                             then has no detector sections, so turning them on again refolds
                             them from the log) */
    FOLDSET_PROJECTION,   /* the projection alone (as-of answers) */
} foldset_mode_t;

/* The calendar is borrowed: it must outlive the set. NULL when out of
   memory. */
foldset_t *foldset_new(calendar_t *cal, foldset_mode_t mode);
void foldset_destroy(foldset_t **self_p);

/* The projection's state (never NULL). */
projection_t *foldset_projection(foldset_t *self);
/* The alert settings' state; NULL in a FOLDSET_PROJECTION set. */
alertcfg_t *foldset_alertcfg(foldset_t *self);
/* The projection, handed to the caller (who destroys it); the set is left
   without one and may only be destroyed. */
projection_t *foldset_take_projection(foldset_t *self);
/* The calendar given to foldset_new. */
calendar_t *foldset_calendar(foldset_t *self);

/* Would folding ev next be consistent with every fold (the projection's
   check, the alert settings', a detector's settings)? EVE_OK, or the
   first refusal's code with a message naming the field. */
ev_errcode_t foldset_check(foldset_t *self, const event_t *ev, ev_error_t *err);
/* Fold one event of the log at seq into every fold that wants it (seq >=
   its from). emit (may be NULL) receives the anomaly flags it raises.
   0, or -1 when a fold ran out of memory. */
int foldset_fold(foldset_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev,
                 det_emit_fn *emit, void *arg);
/* The same for an event foldset_check has just accepted (the writer's
   path): the folds that can skip their check again do. */
int foldset_fold_checked(foldset_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev,
                         det_emit_fn *emit, void *arg);
/* A replayed batch, in log order, raising nothing: each fold takes the
   events it wants (its fold_batch if it has one, one by one otherwise).
   0, or -1 when a fold ran out of memory. */
int foldset_fold_batch(foldset_t *self, const fold_event_t *d, size_t n);
/* Time passes for the folds that watch the clock. 0, or -1 (out of
   memory). */
int foldset_tick(foldset_t *self, int64_t now, det_emit_fn *emit, void *arg);

/* The last seq folded, or the loaded snapshot's (0: none). */
uint64_t foldset_seq(const foldset_t *self);
/* The first seq any fold still needs: 1 after a load that started a fold
   afresh, the snapshot's seq + 1 otherwise; 1 for a fresh set. */
uint64_t foldset_from(const foldset_t *self);

/* Append a snapshot of every fold to out (sections as above). 0, or -1
   when out of memory. */
int foldset_save(foldset_t *self, msgpack_sbuffer *out);
/* Load a snapshot's bytes (as foldset_save wrote them, or an older
   pacerd: one with the projection's section alone loads it and starts
   the others afresh) taken at snap_seq, into a fresh set. 0, or -1 with a
   message when the bytes are damaged or a section does not load: the set
   must then be destroyed. */
int foldset_load(foldset_t *self, const void *data, size_t len, uint64_t snap_seq, char *err,
                 size_t errlen);
/* How many folds foldset_load left behind the snapshot's seq (started
   afresh, or a projection section behind it), and their names joined by
   ", " into names (cut to len). */
size_t foldset_rebuilt(const foldset_t *self, char *names, size_t len);

/* Answer an operation named name[0..len) if a fold has one: 1 with the
   reply's pairs in pairs (cleared first) and their count in *npairs; 0 if
   no fold answers it; -1 with a message when a key fails the operation's
   fields (fold_op_t) or the fold refuses the request. */
int foldset_query(foldset_t *self, const char *name, size_t len, const msgpack_object *request,
                  int64_t now, msgpack_sbuffer *pairs, size_t *npairs, char *err, size_t errlen);
/* ", name, name": the folds' operations, for an unknown_op message. */
char *foldset_ops(const foldset_t *self, char *out, size_t outlen);

#endif
