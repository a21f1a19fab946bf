/*  metrics: pacerd's figures in the Prometheus text exposition format
    (version 0.0.4), served at /metrics by daemon/http.

    Everything shown is read from what other threads publish with atomics
    (writer_stats_t: counters, gauges of the durable state, histograms) or
    can read from any thread (the projector's snapshot seq, an LMDB read
    transaction for the snapshot's age); nothing here touches the writer's
    structures or takes its locks. The names, types and meanings are listed
    in docs/OPERATIONS.md ("Metrics"); each family has its # HELP and # TYPE
    lines.

    Errors: rendering cannot fail but for memory (the reply's failed flag:
    a 500); a figure that cannot be read (the snapshot's age, when the
    read transaction fails) is left out of the exposition rather than
    shown as 0. */

#ifndef PACER_METRICS_H
#define PACER_METRICS_H

#include "daemon/http.h"
#include "daemon/projector.h"
#include "daemon/store.h"
#include "daemon/writer.h"

#include <stdint.h>

/* Prometheus' content type for the text format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct {
    writer_stats_t *stats;
    store_t *store;
    projector_t *projector;
    int64_t started_at; /* ms UTC */
    const char *version;
} metrics_args_t;

typedef struct _metrics_t metrics_t;

/* Set the bucket bounds of the histograms in stats (before any thread
   observes into them). */
void metrics_init_stats(writer_stats_t *stats);

/* args are copied; what they point to must outlive the metrics. NULL when
   out of memory. */
metrics_t *metrics_new(const metrics_args_t *args);
void metrics_destroy(metrics_t **self_p);

/* Serve GET /metrics on http (before http_start). 0, or -1 as http_route
   (no message: the caller names the path). */
int metrics_route(metrics_t *self, http_t *http);

/* The exposition, appended to reply (the /metrics handler; tests). */
void metrics_render(metrics_t *self, http_reply_t *reply);

#endif
