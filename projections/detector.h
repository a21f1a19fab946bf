/*  detector: the interface of an anomaly detector, a fold over the log.

    (Placeholder with the agreed interface; the detectors' own header
    replaces it.) */

#ifndef PACER_DETECTOR_H
#define PACER_DETECTOR_H

#include "events/schema.h"
#include "projections/calendar.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *detector;
    char key[192];
    char rep[65];
    char customer[65];
    int severity;
    double score, baseline, threshold;
    char currency[4];
    char summary[768];
    int nevidence;
    struct {
        uint64_t seq;
        char id[65];
    } evidence[16];
    int64_t at;
    int nvalues;
    struct {
        const char *name;
        double v;
    } values[8];
} det_flag_t;

typedef void det_emit_fn(void *arg, const det_flag_t *flag);

typedef struct {
    calendar_t *cal;
} det_env_t;

typedef struct detector_class {
    const char *name;
    uint32_t version;
    void *(*create)(const det_env_t *env);
    void (*destroy)(void **state_p);
    int (*fold)(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev,
                det_emit_fn *emit, void *arg);
    int (*tick)(void *state, int64_t now, det_emit_fn *emit, void *arg);
    int (*save)(void *state, msgpack_packer *pk);
    int (*load)(void *state, const msgpack_object *obj, char *err, size_t errlen);
    int (*set_param)(void *state, const char *param, double value, char *err, size_t errlen);
    size_t (*memory)(void *state);
} detector_class_t;

extern const detector_class_t *const DETECTORS[];

#endif
