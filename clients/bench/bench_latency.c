/*  bench_latency: the latency figures pacer-bench and lmdb-bench report
    (see bench_latency.h). The figures in docs/PERFORMANCE.md were taken
    with this rank: p / 100 * count, rounded up. */

#include "clients/bench/bench_latency.h"

#include <stdlib.h>
#include <time.h>

int64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void
bench_latency_sort(double *samples, size_t count)
{
    qsort(samples, count, sizeof *samples, compare_double);
}

double
bench_percentile(const double *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t)(p / 100.0 * count + 0.999999);
    rank = rank < 1 ? 1 : rank > count ? count : rank;
    return sorted[rank - 1];
}
