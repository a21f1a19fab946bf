/*  foldset: the folds pacerd runs beside the targets-and-progress
    projection.

    Every fold here is a pure function of the log, like the projection:
    the alert settings (projections/alertcfg) and each anomaly detector of
    the registry (projections/detectors.c, one line per detector). The
    daemon folds each appended event into the projection and then into the
    foldset; a replay does the same with no emit function, so nothing
    already raised is raised again.

    Snapshots by section: foldset_save writes one section per fold,
    [name, version, state]. foldset_load takes the sections of a snapshot
    at seq S: a fold whose section is there with its current version
    resumes from S + 1; a fold that is new or whose version changed starts
    empty and must be folded from the first event (foldset_from says from
    where each fold wants events; foldset_fold skips a fold for events
    before that). So changing one detector refolds that detector only.

    Errors: functions returning int give 0, or -1 when out of memory (or,
    for load, a damaged section, with a message); checks give an
    ev_errcode_t with a message naming the field. */

#ifndef PACER_FOLDSET_H
#define PACER_FOLDSET_H

#include "events/schema.h"
#include "projections/alertcfg.h"
#include "projections/calendar.h"
#include "projections/detector.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _foldset_t foldset_t;

/* The calendar is borrowed (the projection's). Without detectors, only
   the alert settings are folded (pacerd --detectors off: a snapshot then
   has no detector sections, so turning them on again refolds them from the
   log). NULL when out of memory. */
foldset_t *foldset_new(calendar_t *cal, bool detectors);
void foldset_destroy(foldset_t **self_p);

alertcfg_t *foldset_alertcfg(foldset_t *self);

/* Would folding ev be consistent with the folds (alert settings and
   detector settings)? */
ev_errcode_t foldset_check(foldset_t *self, const event_t *ev, ev_error_t *err);
/* Fold one event at seq into every fold that wants it (seq >= its from).
   emit (may be NULL) receives the anomaly flags it raises. */
int foldset_fold(foldset_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev,
                 det_emit_fn *emit, void *arg);
/* Time passes for the folds that watch the clock. */
int foldset_tick(foldset_t *self, int64_t now, det_emit_fn *emit, void *arg);

/* The first seq any fold still needs (1 after a load that reset one; the
   snapshot's seq + 1 otherwise). */
uint64_t foldset_from(const foldset_t *self);
/* Every fold wants events from `from` on (a fresh foldset: 1). */
void foldset_set_from(foldset_t *self, uint64_t from);

int foldset_save(foldset_t *self, msgpack_packer *pk);
/* sections: the array foldset_save wrote, in a snapshot at snap_seq. The
   names of folds that start again from the log are logged by the caller
   from foldset_rebuilt. */
int foldset_load(foldset_t *self, const msgpack_object *sections, uint64_t snap_seq, char *err,
                 size_t errlen);
/* How many folds foldset_load reset, and their names joined by ", ". */
size_t foldset_rebuilt(const foldset_t *self, char *names, size_t len);

/* Answer an operation named name[0..len) if a fold has one: 1 with the
   reply's pairs in pairs (cleared first) and their count in *npairs; 0 if
   no fold answers it; -1 with a message when the fold refuses the request. */
int foldset_query(foldset_t *self, const char *name, size_t len, const msgpack_object *request,
                  int64_t now, msgpack_sbuffer *pairs, size_t *npairs, char *err, size_t errlen);
/* ", name, name": the folds' operations, for an unknown_op message. */
char *foldset_ops(const foldset_t *self, char *out, size_t outlen);

/* Bytes the detectors hold. */
size_t foldset_memory(foldset_t *self);
size_t foldset_count(const foldset_t *self);
const char *foldset_name(const foldset_t *self, size_t i);

#endif
