/*  detector: what an anomaly detector raises, and what every fold is
    created with. The detector's class is a fold class (projections/fold.h)
    with set_param, listed in the registry (projections/folds.c) from
    DETECTORS on.

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

    Return codes: those of the fold class (projections/fold.h). */

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

/* What every fold is created with (fold_class_t.create). */
typedef struct {
    calendar_t *cal; /* working days and periods, in the daemon's zone; the daemon keeps its
                        holidays up to date (calendar_day_set) */
} det_env_t;

#endif
