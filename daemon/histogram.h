/*  histogram: a fixed-bucket histogram that any thread may add to.

    For the Prometheus histograms of daemon/metrics: the thread that
    measures (the writer, the intake thread) adds an observation with two
    relaxed atomic increments and no lock; the HTTP thread reads the
    counters when scraped. Observations are integers in the histogram's
    own unit (microseconds, events); `unit` converts them to the unit the
    exposition uses (1e-6: microseconds shown as seconds).

    Buckets hold the observations v with bounds[i-1] < v <= bounds[i]
    (Prometheus' `le`), the last one those above every bound. A reader may
    see an observation's bucket before its sum or the other way round;
    Prometheus tolerates that, as it tolerates any scrape between two
    increments. A histogram left zeroed (never initialised) counts every
    observation in its last bucket. */

#ifndef PACER_HISTOGRAM_H
#define PACER_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_MAX_BOUNDS 24

typedef struct {
    const uint64_t *bounds; /* ascending upper bounds, in the observed unit */
    size_t nbounds;
    double unit; /* exposition value of one observed unit */
    _Atomic uint64_t counts[HISTOGRAM_MAX_BOUNDS + 1];
    _Atomic uint64_t sum;
} histogram_t;

static inline void
histogram_init(histogram_t *h, const uint64_t *bounds, size_t nbounds, double unit)
{
    h->bounds = bounds;
    h->nbounds = nbounds < HISTOGRAM_MAX_BOUNDS ? nbounds : HISTOGRAM_MAX_BOUNDS;
    h->unit = unit;
}

static inline void
histogram_observe(histogram_t *h, uint64_t v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

#endif
