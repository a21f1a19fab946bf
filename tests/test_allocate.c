/*  Unit tests for projections/allocate: hand-computed splits, the errors,
    values near INT64_MAX, and thousands of random splits (fixed seed)
    checked against the definition of largest-remainder rounding, computed
    independently here in 128-bit integers. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "projections/allocate.h"

__extension__ typedef unsigned __int128 u128_t;

#define MAX_CHILDREN 64

static void
s_assert_shares(const int64_t *actual, const int64_t *expected, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (actual[i] != expected[i])
            fail_msg("child %zu: expected %lld, got %lld", i, (long long)expected[i],
                     (long long)actual[i]);
}

static void
test_equal(void **state)
{
    (void)state;
    int64_t shares[6];
    assert_int_equal(allocate_equal(100, 3, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){34, 33, 33}, 3);
    assert_int_equal(allocate_equal(2, 5, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){1, 1, 0, 0, 0}, 5);
    assert_int_equal(allocate_equal(0, 4, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){0, 0, 0, 0}, 4);
    assert_int_equal(allocate_equal(INT64_MAX, 2, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){4611686018427387904, 4611686018427387903}, 2);

    char err[256];
    assert_int_equal(allocate_equal(100, 0, shares, err, sizeof err), EINVAL);
    assert_string_equal(err, "allocate 100: no children to allocate to");
    assert_int_equal(allocate_equal(-1, 3, shares, err, sizeof err), EINVAL);
    assert_string_equal(err, "allocate -1: parent target must not be negative");
}

static void
test_weights_hand_computed(void **state)
{
    (void)state;
    int64_t shares[6];
    assert_int_equal(allocate_weights(1000, (double[]){1, 2, 3, 4}, 4, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){100, 200, 300, 400}, 4);
    //  Quotas 4 5/7, 4 5/7, 1 4/7: floors 4, 4, 1 leave 2 units for the two
    //  largest remainders.
    assert_int_equal(allocate_weights(11, (double[]){3, 3, 1}, 3, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){5, 5, 1}, 3);
    //  Quotas 2.5, 1.25, 1.25: the 0.5 remainder wins the one unit left.
    assert_int_equal(allocate_weights(5, (double[]){0.5, 0.25, 0.25}, 3, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){3, 1, 1}, 3);
    //  Six equal remainders of 2/3 and four units left: ties by index.
    assert_int_equal(allocate_weights(10, (double[]){1, 1, 1, 1, 1, 1}, 6, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){2, 2, 2, 2, 1, 1}, 6);
    //  0.3 and 0.4 are not exact in binary, but 0.3 + 0.3 + 0.4 sums to
    //  exactly 1 in doubles, and the split comes out as a person expects.
    assert_int_equal(allocate_weights(10, (double[]){0.3, 0.3, 0.4}, 3, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){3, 3, 4}, 3);
    //  A zero weight gets nothing, even when units are left over.
    assert_int_equal(allocate_weights(100, (double[]){1, 0, 1, 1}, 4, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){34, 0, 33, 33}, 4);
    assert_int_equal(allocate_weights(0, (double[]){1, 2}, 2, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){0, 0}, 2);
    //  Tiny and huge weights scale alike.
    assert_int_equal(allocate_weights(9, (double[]){1e-300, 2e-300}, 2, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){3, 6}, 2);
    assert_int_equal(allocate_weights(9, (double[]){1e300, 2e300}, 2, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){3, 6}, 2);
}

static void
test_weights_rejected(void **state)
{
    (void)state;
    int64_t shares[3];
    char err[256];
    assert_int_equal(allocate_weights(10, (double[]){1, -1.5, 2}, 3, shares, err, sizeof err),
                     EINVAL);
    assert_string_equal(err, "weight 1: -1.5 is negative");
    assert_int_equal(allocate_weights(10, (double[]){1, 2, NAN}, 3, shares, err, sizeof err),
                     EINVAL);
    assert_string_equal(err, "weight 2: not a number, must be a finite number");
    assert_int_equal(allocate_weights(10, (double[]){INFINITY, 1}, 2, shares, err, sizeof err),
                     EINVAL);
    assert_string_equal(err, "weight 0: infinite, must be a finite number");
    assert_int_equal(allocate_weights(10, (double[]){0, -0.0, 0}, 3, shares, err, sizeof err),
                     EINVAL);
    assert_string_equal(err, "weights: all 3 are zero, nothing to split by");
    assert_int_equal(allocate_weights(-10, (double[]){1}, 1, shares, err, sizeof err), EINVAL);
    assert_string_equal(err, "allocate -10: parent target must not be negative");
    assert_int_equal(allocate_weights(10, (double[]){1}, 0, shares, err, sizeof err), EINVAL);
}

static void
test_history(void **state)
{
    (void)state;
    int64_t shares[4];
    bool fell_back = true;
    assert_int_equal(
        allocate_history(1000, (int64_t[]){100, 300, 0, -50}, 4, shares, &fell_back, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){250, 750, 0, 0}, 4);
    assert_false(fell_back);
    //  No child sold anything: equal split, and the caller is told.
    assert_int_equal(allocate_history(1000, (int64_t[]){0, 0, -5}, 3, shares, &fell_back, NULL, 0),
                     0);
    s_assert_shares(shares, (int64_t[]){334, 333, 333}, 3);
    assert_true(fell_back);
    assert_int_equal(allocate_history(7, (int64_t[]){0, 0}, 2, shares, NULL, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){4, 3}, 2);
    char err[256];
    assert_int_equal(allocate_history(-7, (int64_t[]){1}, 1, shares, &fell_back, err, sizeof err),
                     EINVAL);
    assert_string_equal(err, "allocate -7: parent target must not be negative");
}

static void
test_huge_values(void **state)
{
    (void)state;
    int64_t shares[3];
    //  INT64_MAX / 1000 = 9223372036854775 = 3 x 3074457345618258 + 1.
    assert_int_equal(allocate_weights(INT64_MAX / 1000, (double[]){1, 1, 1}, 3, shares, NULL, 0),
                     0);
    s_assert_shares(shares, (int64_t[]){3074457345618259, 3074457345618258, 3074457345618258}, 3);
    //  INT64_MAX = 9223372036854775807 split 1:2: quotas ...602 1/3 and
    //  ...204 2/3; the larger remainder takes the unit left over.
    assert_int_equal(allocate_weights(INT64_MAX, (double[]){1, 2}, 2, shares, NULL, 0), 0);
    s_assert_shares(shares, (int64_t[]){3074457345618258602, 6148914691236517205}, 2);
    assert_int_equal(
        allocate_history(INT64_MAX, (int64_t[]){INT64_MAX, INT64_MAX, 1}, 3, shares, NULL, NULL, 0),
        0);
    //  Quotas: INT64_MAX^2 / (2 INT64_MAX + 1) each for the first two,
    //  just under INT64_MAX / 2; the third's quota is just under 1/2.
    s_assert_shares(shares, (int64_t[]){4611686018427387903, 4611686018427387903, 1}, 3);
    int64_t sum = shares[0] + shares[1] + shares[2];
    assert_int_equal(sum, INT64_MAX);
}

//  --------------------------------------------------------------------------
//  Random splits against the definition

static uint64_t
s_random(uint64_t *seed)
{
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 2685821657736338717ULL;
}

//  Shares must be floor(quota) or floor(quota) + 1, sum to the parent, and
//  the children rounded up must be exactly those first in order of
//  (remainder descending, index ascending).
static void
s_check_hamilton(int64_t parent, const uint64_t *weights, size_t n, const int64_t *shares)
{
    u128_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    int64_t sum = 0;
    u128_t remainder[MAX_CHILDREN];
    bool up[MAX_CHILDREN];
    for (size_t i = 0; i < n; i++) {
        const u128_t product = (u128_t)parent * weights[i];
        const int64_t floor_quota = (int64_t)(product / total);
        remainder[i] = product % total;
        assert_true(shares[i] == floor_quota || shares[i] == floor_quota + 1);
        up[i] = shares[i] == floor_quota + 1;
        if (up[i])
            assert_true(remainder[i] > 0);
        sum += shares[i];
    }
    assert_int_equal(sum, parent);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (up[i] && !up[j])
                assert_true(remainder[i] > remainder[j] || (remainder[i] == remainder[j] && i < j));
}

static int64_t
s_random_parent(uint64_t *seed)
{
    switch (s_random(seed) % 4) {
    case 0:
        return (int64_t)(s_random(seed) % 1000);
    case 1:
        return (int64_t)(s_random(seed) % (uint64_t)(INT64_MAX / 1000 + 1));
    case 2:
        return INT64_MAX - (int64_t)(s_random(seed) % 1000);
    default:
        return (int64_t)(s_random(seed) >> 1);
    }
}

static void
test_random_history_splits(void **state)
{
    (void)state;
    uint64_t seed = 0x243F6A8885A308D3ULL;
    for (int round = 0; round < 5000; round++) {
        const size_t n = 1 + s_random(&seed) % MAX_CHILDREN;
        const int64_t parent = s_random_parent(&seed);
        int64_t history[MAX_CHILDREN];
        uint64_t weights[MAX_CHILDREN];
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            const uint64_t r = s_random(&seed);
            switch (r % 5) {
            case 0:
                history[i] = 0;
                break;
            case 1:
                history[i] = -(int64_t)(r % 1000);
                break;
            case 2:
                history[i] = (int64_t)(r >> 1); //  up to INT64_MAX
                break;
            default:
                history[i] = (int64_t)(r % 10000);
            }
            weights[i] = history[i] > 0 ? (uint64_t)history[i] : 0;
            any = any || history[i] > 0;
        }
        int64_t shares[MAX_CHILDREN];
        bool fell_back = !any;
        assert_int_equal(allocate_history(parent, history, n, shares, &fell_back, NULL, 0), 0);
        assert_int_equal(fell_back, !any);
        if (!any)
            for (size_t i = 0; i < n; i++)
                weights[i] = 1;
        s_check_hamilton(parent, weights, n, shares);
    }
}

static void
test_random_weight_splits(void **state)
{
    (void)state;
    uint64_t seed = 0x13198A2E03707344ULL;
    for (int round = 0; round < 5000; round++) {
        const size_t n = 1 + s_random(&seed) % MAX_CHILDREN;
        const int64_t parent = s_random_parent(&seed);
        double weights[MAX_CHILDREN];
        uint64_t integers[MAX_CHILDREN];
        bool integral = s_random(&seed) % 2 == 0;
        double total = 0.0;
        for (size_t i = 0; i < n; i++) {
            const uint64_t r = s_random(&seed);
            if (integral) {
                //  Integer weights below 2^53 are exact doubles, and the
                //  split must equal the exact integer split.
                integers[i] = r % 3 == 0 ? 0 : (r >> 11) % (1ULL << (1 + r % 53));
                weights[i] = (double)integers[i];
            } else
                weights[i] = r % 3 == 0 ? 0.0 : (double)(r >> 11) / 9007199254740992.0 * 100;
            total += weights[i];
        }
        if (total == 0.0) {
            weights[0] = 1.0;
            integers[0] = 1;
            total = 1.0;
        }
        int64_t shares[MAX_CHILDREN];
        assert_int_equal(allocate_weights(parent, weights, n, shares, NULL, 0), 0);
        if (integral) {
            s_check_hamilton(parent, integers, n, shares);
            continue;
        }
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(shares[i] >= 0);
            assert_true(weights[i] > 0.0 || shares[i] == 0);
            sum += shares[i];
            //  Within one unit of the real quota (checked where long double
            //  resolves units).
            if (parent <= INT64_MAX / 1000) {
                const long double quota = (long double)parent * weights[i] / total;
                assert_true(fabsl((long double)shares[i] - quota) < 1.0L + 1e-6L * quota);
            }
        }
        assert_int_equal(sum, parent);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_weights_hand_computed),
        cmocka_unit_test(test_weights_rejected),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_huge_values),
        cmocka_unit_test(test_random_history_splits),
        cmocka_unit_test(test_random_weight_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
