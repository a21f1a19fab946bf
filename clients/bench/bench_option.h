/*  bench_option: a benchmark's numeric command-line option.

    The benchmarks (pacer-bench, lmdb-bench) take counts, sizes, rates and
    durations as plain decimal numbers within a range, and refuse anything
    else with one message that names the program, the option, the range
    and what was given. */

#ifndef PACER_BENCH_OPTION_H
#define PACER_BENCH_OPTION_H

#include <stdbool.h>

/* Parse `arg`, the value of --NAME, as a number from min to max into
   *out. False, after printing "PROGRAM: --NAME: expected a number from
   MIN to MAX, got "ARG"" to stderr, when it is not one. */
bool bench_option_number(const char *program, const char *name, const char *arg, double min,
                         double max, double *out);

#endif
