/*  =========================================================================
    allocate - split a parent's integer target across its children

    All three splits end in s_hamilton, which works on non-negative integer
    weights u[i] with a positive total U. Child i's exact quota is
    parent x u[i] / U; in 128-bit arithmetic its floor and its remainder
    (parent x u[i]) mod U are both exact, and all remainders share the
    denominator U, so comparing them compares the fractional parts exactly.
    The floors sum to parent minus L where L = (sum of remainders) / U is
    an integer smaller than the number of children with a nonzero
    remainder; so the L largest remainders are all nonzero, and a child
    with zero weight never receives a leftover unit.
    =========================================================================
*/

#include "projections/allocate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

__extension__ typedef unsigned __int128 allocate_u128_t;

//  Scale for explicit weights: the largest becomes an integer in
//  [2^61, 2^62), leaving headroom so that a sum of n of them fits easily
//  in 128 bits.
#define WEIGHT_BITS 62

typedef struct {
    allocate_u128_t remainder;
    size_t child;
} allocate_remainder_t;

static void s_error(char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_error(char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}

static int
s_check_split(int64_t parent, size_t n, char *err, size_t errlen)
{
    if (n == 0) {
        s_error(err, errlen, "allocate %lld: no children to allocate to", (long long)parent);
        return EINVAL;
    }
    if (parent < 0) {
        s_error(err, errlen, "allocate %lld: parent target must not be negative",
                (long long)parent);
        return EINVAL;
    }
    return 0;
}

//  Largest remainder first; equal remainders in child order.
static int
s_remainder_compare(const void *a, const void *b)
{
    const allocate_remainder_t *left = a, *right = b;
    if (left->remainder != right->remainder)
        return left->remainder > right->remainder ? -1 : 1;
    return left->child < right->child ? -1 : left->child > right->child;
}

static int
s_hamilton(int64_t parent, const uint64_t *weights, size_t n, int64_t *shares, char *err,
           size_t errlen)
{
    allocate_u128_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    assert(total > 0);

    allocate_remainder_t *remainders = malloc(n * sizeof *remainders);
    if (!remainders) {
        s_error(err, errlen, "allocate %lld over %zu children: out of memory", (long long)parent,
                n);
        return ENOMEM;
    }
    int64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        const allocate_u128_t product = (allocate_u128_t)parent * weights[i];
        shares[i] = (int64_t)(product / total);
        given += shares[i];
        remainders[i] = (allocate_remainder_t){product % total, i};
    }
    const int64_t leftover = parent - given;
    assert(leftover >= 0 && (uint64_t)leftover < n);
    if (leftover > 0) {
        qsort(remainders, n, sizeof *remainders, s_remainder_compare);
        for (int64_t k = 0; k < leftover; k++) {
            assert(remainders[k].remainder > 0);
            shares[remainders[k].child]++;
        }
    }
    free(remainders);
    return 0;
}

int
allocate_equal(int64_t parent, size_t n, int64_t *shares, char *err, size_t errlen)
{
    const int rc = s_check_split(parent, n, err, errlen);
    if (rc != 0)
        return rc;
    assert(shares);
    //  Equal weights leave equal remainders, so the tie rule alone decides:
    //  the first parent % n children get the extra unit.
    const uint64_t base = (uint64_t)parent / n;
    const uint64_t extra = (uint64_t)parent % n;
    for (size_t i = 0; i < n; i++)
        shares[i] = (int64_t)(base + (i < extra ? 1 : 0));
    return 0;
}

int
allocate_weights(int64_t parent, const double *weights, size_t n, int64_t *shares, char *err,
                 size_t errlen)
{
    int rc = s_check_split(parent, n, err, errlen);
    if (rc != 0)
        return rc;
    assert(weights);
    assert(shares);
    double largest = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(weights[i]) || isinf(weights[i])) {
            s_error(err, errlen, "weight %zu: %s, must be a finite number", i,
                    isnan(weights[i]) ? "not a number" : "infinite");
            return EINVAL;
        }
        if (weights[i] < 0.0) {
            s_error(err, errlen, "weight %zu: %g is negative", i, weights[i]);
            return EINVAL;
        }
        if (weights[i] > largest)
            largest = weights[i];
    }
    if (largest == 0.0) {
        s_error(err, errlen, "weights: all %zu are zero, nothing to split by", n);
        return EINVAL;
    }
    uint64_t *scaled = malloc(n * sizeof *scaled);
    if (!scaled) {
        s_error(err, errlen, "allocate %lld over %zu children: out of memory", (long long)parent,
                n);
        return ENOMEM;
    }
    int exponent;
    frexp(largest, &exponent); //  largest = f x 2^exponent, f in [0.5, 1)
    for (size_t i = 0; i < n; i++)
        scaled[i] = (uint64_t)llround(ldexp(weights[i], WEIGHT_BITS - exponent));
    rc = s_hamilton(parent, scaled, n, shares, err, errlen);
    free(scaled);
    return rc;
}

int
allocate_history(int64_t parent, const int64_t *history, size_t n, int64_t *shares, bool *fell_back,
                 char *err, size_t errlen)
{
    int rc = s_check_split(parent, n, err, errlen);
    if (rc != 0)
        return rc;
    assert(history);
    assert(shares);
    bool any_positive = false;
    for (size_t i = 0; i < n && !any_positive; i++)
        any_positive = history[i] > 0;
    if (fell_back)
        *fell_back = !any_positive;
    if (!any_positive)
        return allocate_equal(parent, n, shares, err, errlen);

    uint64_t *weights = malloc(n * sizeof *weights);
    if (!weights) {
        s_error(err, errlen, "allocate %lld over %zu children: out of memory", (long long)parent,
                n);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        weights[i] = history[i] > 0 ? (uint64_t)history[i] : 0;
    rc = s_hamilton(parent, weights, n, shares, err, errlen);
    free(weights);
    return rc;
}
