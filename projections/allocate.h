/*  =========================================================================
    allocate - split a parent's integer target across its children

    A parent target (money in minor units, or a count) is divided among n
    children equally, in proportion to explicit weights, or in proportion
    to each child's history (its past actuals). The shares are whole units
    and always sum exactly to the parent, by largest-remainder (Hamilton)
    rounding: every child first gets the floor of its exact quota
    parent x weight / total, and the units left over go one each to the
    children with the largest remainders, ties to the lower child index.
    So a child's share is its quota rounded down or up, never further off,
    and the same input always gives the same split.

    Weights. Explicit weights are doubles (people write 0.3, 1.5, 40): they
    must be finite and non-negative, and not all zero. They are scaled by
    a power of two so that the largest becomes a 62-bit integer, which is
    exact for every weight whose binary digits lie within 62 places of the
    largest weight's leading digit (all integers below 2^62, decimals with
    a ratio of up to a few hundred between them); smaller digits are
    rounded at that relative precision of 2^-62. History is int64, used
    exactly; a negative history (refunds above sales) counts as zero
    share, and if no child has a positive history the split falls back to
    equal and says so.

    Arithmetic is exact in 128-bit integers (parent x weight < 2^126), so
    any parent from 0 to INT64_MAX is split without overflow or rounding
    drift.

    The allocate operation built on these splits (a parent target's
    children, their events) is projections/allocate_query.c, reached
    through projection_allocate (projection.h).

    Errors: functions return 0 or an errno value, with a message in err:
        EINVAL  no children, a negative parent, a negative, NaN or
                infinite weight (the message gives its index), all
                weights zero
        ENOMEM  out of memory (for the remainders of a large split)
    =========================================================================
*/

#ifndef PACER_ALLOCATE_H
#define PACER_ALLOCATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Split parent into n equal shares; the first parent % n children get one
//  unit more. EINVAL: n == 0, parent < 0.
int allocate_equal(int64_t parent, size_t n, int64_t *shares, char *err, size_t errlen);

//  Split parent in proportion to weights[0..n). EINVAL: n == 0,
//  parent < 0, a weight negative, NaN or infinite, all weights zero.
//  ENOMEM.
int allocate_weights(int64_t parent, const double *weights, size_t n, int64_t *shares, char *err,
                     size_t errlen);

//  Split parent in proportion to history[0..n), negative entries counting
//  as zero. If no entry is positive, split equally and set *fell_back
//  (which may be NULL) to true; otherwise set it to false. EINVAL:
//  n == 0, parent < 0. ENOMEM.
int allocate_history(int64_t parent, const int64_t *history, size_t n, int64_t *shares,
                     bool *fell_back, char *err, size_t errlen);

#endif
