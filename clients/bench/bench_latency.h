/*  bench_latency: the latency figures pacer-bench and lmdb-bench report.

    A benchmark times each operation on the monotonic clock, keeps the
    samples in an array of milliseconds, sorts it once at the end and
    reads percentiles off it. Both report the nearest-rank percentile:
    the smallest sample with at least p percent of the samples at or
    below it, so p99 of 100 samples is the 99th, and every figure is one
    that was measured (no interpolation). pacer-replay-bench sorts its
    query latencies here too but reads them its own way (the sample at
    n / 2 and at n * 0.99), as its figures in docs/PERFORMANCE.md were. */

#ifndef PACER_BENCH_LATENCY_H
#define PACER_BENCH_LATENCY_H

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds on the monotonic clock. */
int64_t bench_now_ns(void);

/* Sort `count` samples in place, smallest first. */
void bench_latency_sort(double *samples, size_t count);

/* The nearest-rank p-th percentile (0 < p <= 100) of `count` sorted
   samples; 0 when there are none. */
double bench_percentile(const double *sorted, size_t count, double p);

#endif
