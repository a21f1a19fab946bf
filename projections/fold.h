/*  fold: the class every fold of the log implements, and the registry of
    the folds pacerd runs (projections/folds.c).

    A fold is a pure, deterministic function of the validated log prefix it
    has seen: it folds every event once, in log order, with the event's log
    position; nothing in it reads the wall clock (`now` is given to tick and
    to the operations it answers). Folding a log in one go, or folding part
    of it, saving, loading the snapshot into a fresh state and folding the
    rest, gives the same state and raises the same flags.

    The folds pacerd runs, in registry order: the targets-and-progress
    projection (projections/projection.h, always first: its snapshot
    section leads every snapshot), the alert settings
    (projections/alertcfg.h), then the anomaly detectors
    (docs/DETECTORS.md), which raise flags (det_flag_t,
    projections/detector.h) and take settings from alert_rule_set events of
    the rule anomaly/<name>. Adding a fold is one file and one line in the
    registry; projections/foldset runs them side by side, writes their
    snapshot sections and reloads them.

    A version is bumped when the fold or its state layout changes: a
    snapshot section of another version is not loaded, and that fold alone
    is refolded from the first event while the others load theirs.

    Return codes of the class's functions that return int:
         0  done
        -1  out of memory (fold, fold_checked, fold_batch, tick, save); a
            damaged or foreign snapshot (load, load_section, with a message
            in err; the state is then unusable: destroy it); an unknown
            setting or a value out of its range (set_param, with a message)
    check returns EVE_OK, or an ev_errcode_t (EVE_INVALID_VALUE) with a
    message naming the field in err. A fold that returns -1 has left its
    state consistent but may have dropped what that event would have
    added; the daemon treats it as fatal and rebuilds. */

#ifndef PACER_FOLD_H
#define PACER_FOLD_H

#include "events/schema.h"
#include "events/wire.h"
#include "projections/detector.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One event of a batch being replayed, decoded (projection_decode_batch):
   ev's strings point into the log's pages, which outlive the batch. */
typedef struct {
    uint64_t seq;
    int64_t recorded_at;
    bool ok; /* decoded; if not, a fold skips it (the projection counts it) */
    event_t ev;
} fold_event_t;

/* An operation a fold answers on the query endpoint, by name (a request
   whose op is no core operation is offered to the folds). fields lists
   the request keys it reads (events/wire.h's wire_field_t, NULL-ended;
   NULL: none); the fold set checks a request against them before answer
   runs, as the query endpoint does for its own operations, and answer
   reads them with the wire_req_* readers, so a bad key gets the same
   message as anywhere else. answer packs the reply's fields (after v,
   corr and ok) as key/value pairs into pk and returns how many, or -1
   with a message (answered bad_request; a value the fields allow but the
   operation does not, in wire_req_expected's format). Runs on the query
   thread under the projector's read lock: it must only read. */
typedef struct {
    const char *name;
    int (*answer)(void *state, const msgpack_object *request, int64_t now, msgpack_packer *pk,
                  char *err, size_t errlen);
    const wire_field_t *const *fields;
} fold_op_t;

typedef struct fold_class {
    const char *name; /* its snapshot section's name and the name logs give it */
    uint32_t version; /* bumped when the fold or the state layout changes */
    /* A fresh state with the default settings; NULL when out of memory. The
       env (and its calendar) must outlive the state. */
    void *(*create)(const det_env_t *env);
    /* Free the state and set *state_p to NULL; harmless on NULL. */
    void (*destroy)(void **state_p);
    /* Admission, optional: would folding ev next be consistent with this
       fold (an event it refuses is not appended)? Never changes the state. */
    ev_errcode_t (*check)(void *state, const event_t *ev, ev_error_t *err);
    /* Fold one event of the log at seq. The log is authoritative: any event
       in it is taken, even one the check would refuse now (the projection
       skips and counts those). emit may be NULL (replay: fold the state,
       raise nothing). */
    int (*fold)(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev,
                det_emit_fn *emit, void *arg);
    /* Optional: the same for an event its check has just accepted, with
       nothing folded in between (the writer's path), skipping the check. */
    int (*fold_checked)(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev,
                        det_emit_fn *emit, void *arg);
    /* Optional: fold a batch of replayed events in order, raising nothing;
       the same as fold on each (the projection prefetches what a batch will
       touch, projections/prefetch.c). */
    int (*fold_batch)(void *state, const fold_event_t *d, size_t n);
    /* Time passes (the alert clock, ms UTC); NULL for folds that need no clock. */
    int (*tick)(void *state, int64_t now, det_emit_fn *emit, void *arg);
    /* Snapshot, as one msgpack object: save writes the whole state
       (settings included); load replaces a fresh state by what save wrote,
       -1 with a message for a damaged one or out of memory. */
    int (*save)(void *state, msgpack_packer *pk);
    int (*load)(void *state, const msgpack_object *obj, char *err, size_t errlen);
    /* The lead fold's alternative (the projection's, whose state is
       hundreds of MiB and is neither built nor read through msgpack-c
       objects): save_section appends the whole section, [tag, version,
       state], to out; load_section reads those bytes (data, len), after the
       fold set has read the version from them. */
    int (*save_section)(void *state, msgpack_sbuffer *out);
    int (*load_section)(void *state, const void *data, size_t len, char *err, size_t errlen);
    /* A detector's thresholds (docs/DETECTORS.md lists them): name -> value,
       from alert_rule_set events of rule anomaly/<name>; -1 with a message
       for an unknown name or a value out of range. Part of the state. NULL:
       the fold takes no settings. */
    int (*set_param)(void *state, const char *param, double value, char *err, size_t errlen);
    /* Bytes held now; NULL: not counted. */
    size_t (*memory)(void *state);
    /* The operations it answers, ended by an entry with a NULL name; NULL: none. */
    const fold_op_t *ops;
} fold_class_t;

/* projections/folds.c: the one registry, NULL-terminated. FOLDS[0] is the
   projection; the folds every pacerd runs come first, then the anomaly
   detectors, from DETECTORS on (pacerd --detectors off runs the folds
   before it; pacer-eval runs the detectors). */
extern const fold_class_t *const FOLDS[];
extern const fold_class_t *const *const DETECTORS;

/* The class called name, or NULL. */
const fold_class_t *fold_find(const char *name);

#endif
