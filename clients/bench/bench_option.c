/*  bench_option: a benchmark's numeric command-line option (see
    bench_option.h). strtod takes what a person types: 100, 1e6, 0.5;
    the whole argument must be the number. */

#include "clients/bench/bench_option.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

bool
bench_option_number(const char *program, const char *name, const char *arg, double min, double max,
                    double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(arg, &end);
    if (end == arg || *end != '\0' || errno != 0 || !(value >= min && value <= max)) {
        fprintf(stderr, "%s: --%s: expected a number from %g to %g, got \"%s\"\n", program, name,
                min, max, arg);
        return false;
    }
    *out = value;
    return true;
}
