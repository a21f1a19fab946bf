/*  detector: the interface every anomaly detector implements.

    A detector is a pure, deterministic fold over the validated event log
    (docs/DETECTORS.md describes each one). It sees every event once, in log
    order, with the event's log position; what it raises depends only on the
    events folded (their occurred_at, ids and seq) and, for tick, on the
    `now` it is given: never on the wall clock or on recorded_at. Folding a
    log in one go, or folding part of it, saving, loading the snapshot into
    a fresh state and folding the rest, gives the same flags.

    A flag names its evidence by a key that is stable (the same evidence
    gives the same key on replay) and unique (a detector never raises the
    same key twice from one fold of the log): the daemon turns a flag into
    the alert `anomaly/<detector>/<key>` on the topic
    `alert/anomaly/<detector>/<path>/`, where <path> is the org path of the
    flag's rep (docs/PROTOCOL.md, "Alerts").

    State is bounded: per rep, customer and product line, with windows that
    evict by stream time and a cap on each table (docs/DETECTORS.md gives
    each bound); it never grows with the number of events.

    Return codes (every function that returns int):
         0  done
        -1  out of memory (fold, tick), a damaged or foreign snapshot (load,
            with a message in err), an unknown parameter or a value out of
            its range (set_param, with a message in err)
    A fold or tick that returns -1 has left the state consistent but may
    have dropped what that event would have added; the daemon treats it as
    fatal for the projection and rebuilds. */

#ifndef PACER_DETECTOR_H
#define PACER_DETECTOR_H

#include "events/schema.h"
#include "projections/calendar.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define DET_EVIDENCE_MAX 16
#define DET_VALUES_MAX   8

/* one flag a detector raises */
typedef struct {
    const char *detector; /* class name, e.g. "duplicate_order" */
    char key[192];        /* names the evidence, stable and unique for the same evidence (alert
                             key = "anomaly/<detector>/<key>"); the same evidence gives the same
                             key on replay */
    char rep[65];         /* the rep the flag is about (its org path is looked up by the daemon);
                             "" if none */
    char customer[65];    /* "" if none */
    int severity;         /* 0 info, 1 warning, 2 critical */
    double score, baseline, threshold;
    char currency[4];  /* of any money in values/summary, "" if none */
    char summary[768]; /* one sentence a sales manager reads: detector, score vs baseline and
                          threshold, the evidence; money in major units with its currency, times
                          in the daemon's zone (localtime_r) */
    int nevidence;
    struct {
        uint64_t seq;
        char id[65];
    } evidence[DET_EVIDENCE_MAX]; /* log seq + event id of the events that make the case */
    int64_t at;                   /* occurred_at of the event that triggered it (stream time);
                                     for a flag raised by tick, the tick's now */
    int nvalues;
    struct {
        const char *name;
        double v;
    } values[DET_VALUES_MAX]; /* what it measured */
} det_flag_t;

/* Called once per flag; the flag is only valid during the call. */
typedef void det_emit_fn(void *arg, const det_flag_t *flag);

typedef struct {
    calendar_t *cal; /* working days and periods, in the daemon's zone; the daemon keeps its
                        holidays up to date (calendar_day_set) */
} det_env_t;

/* An operation a fold answers on the query endpoint, by name (a request
   whose op is no core operation is offered to the folds). answer packs the
   reply's fields (after v, corr and ok) as key/value pairs into pk and
   returns how many, or -1 with a message (answered bad_request). Runs on
   the query thread under the projector's read lock: it must only read. */
typedef struct {
    const char *name;
    int (*answer)(void *state, const msgpack_object *request, int64_t now, msgpack_packer *pk,
                  char *err, size_t errlen);
} fold_op_t;

typedef struct detector_class {
    const char *name;
    uint32_t version; /* bumped when the fold or the state layout changes: a snapshot of
                         another version is refused by load and the detector refolded */
    /* A fresh state with the default parameters; NULL when out of memory. The
       env (and its calendar) must outlive the state. */
    void *(*create)(const det_env_t *env);
    /* Free the state and set *state_p to NULL; harmless on NULL. */
    void (*destroy)(void **state_p);
    /* Fold one validated event at log position seq. emit may be NULL (replay: fold the state,
       raise nothing). recorded_at is given for completeness; no detector reads it. */
    int (*fold)(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev,
                det_emit_fn *emit, void *arg);
    /* Time passes (the alert clock, ms UTC); NULL for detectors that need no clock. */
    int (*tick)(void *state, int64_t now, det_emit_fn *emit, void *arg);
    /* Write the whole state (parameters included) as one msgpack object. */
    int (*save)(void *state, msgpack_packer *pk);
    /* Replace the state by a snapshot written by save; -1 with a message for a snapshot of
       another detector or version, a damaged one, or out of memory (the state is then left as
       it was). */
    int (*load)(void *state, const msgpack_object *obj, char *err, size_t errlen);
    /* Configurable thresholds (docs/DETECTORS.md lists them): name -> value; -1 with a message
       for an unknown name or a value out of range. Parameters are part of the state. */
    int (*set_param)(void *state, const char *param, double value, char *err, size_t errlen);
    /* Bytes held now. */
    size_t (*memory)(void *state);
    /* The operations it answers, ended by an entry with a NULL name; NULL: none. */
    const fold_op_t *ops;
} detector_class_t;

/* projections/detectors.c: the one registry; a detector is one file + one line there */
extern const detector_class_t *const DETECTORS[]; /* NULL-terminated */

/* The class called name, or NULL. */
const detector_class_t *detector_find(const char *name);

#endif
