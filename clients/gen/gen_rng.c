/*  gen_rng: the generator's random numbers.

    xoshiro256** (Blackman and Vigna), its state filled by splitmix64 from the
    seed and a stream number, so that streams of one seed are independent. The
    distributions use only uniform draws and libm, and draw a fixed number of
    values per call where they can, so the same seed gives the same history on
    the same build. */

#include "clients/gen/gen.h"

#include <assert.h>
#include <math.h>

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
gen_rng_seed(gen_rng_t *self, uint64_t seed, uint64_t stream)
{
    assert(self);
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++)
        self->s[i] = splitmix64(&x);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
gen_rng_next(gen_rng_t *self)
{
    uint64_t *s = self->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double
gen_rng_uniform(gen_rng_t *self)
{
    return (double)(gen_rng_next(self) >> 11) * 0x1.0p-53;
}

double
gen_rng_between(gen_rng_t *self, double lo, double hi)
{
    return lo + (hi - lo) * gen_rng_uniform(self);
}

int64_t
gen_rng_range(gen_rng_t *self, int64_t lo, int64_t hi)
{
    assert(hi >= lo);
    uint64_t span = (uint64_t)(hi - lo) + 1;
    if (span == 0)
        return (int64_t)gen_rng_next(self);
    /* Rejection of the top partial block keeps the draw unbiased. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t r;
    do
        r = gen_rng_next(self);
    while (r >= limit);
    return lo + (int64_t)(r % span);
}

bool
gen_rng_chance(gen_rng_t *self, double p)
{
    return gen_rng_uniform(self) < p;
}

double
gen_rng_normal(gen_rng_t *self)
{
    /* Box-Muller, one value per two uniforms (no cached second value, so a
       call always draws the same amount). */
    double u1 = 1.0 - gen_rng_uniform(self); /* (0, 1] */
    double u2 = gen_rng_uniform(self);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double
gen_rng_lognormal(gen_rng_t *self, double mu, double sigma)
{
    return exp(mu + sigma * gen_rng_normal(self));
}

double
gen_rng_gamma(gen_rng_t *self, double shape)
{
    assert(shape > 0);
    if (shape < 1.0) {
        double u = 1.0 - gen_rng_uniform(self);
        return gen_rng_gamma(self, shape + 1.0) * pow(u, 1.0 / shape);
    }
    /* Marsaglia and Tsang */
    double d = shape - 1.0 / 3.0;
    double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = gen_rng_normal(self);
        double v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = 1.0 - gen_rng_uniform(self);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

int
gen_rng_poisson(gen_rng_t *self, double lambda)
{
    if (lambda <= 0)
        return 0;
    if (lambda > 30) {
        double x = floor(lambda + sqrt(lambda) * gen_rng_normal(self) + 0.5);
        return x < 0 ? 0 : (int)x;
    }
    double limit = exp(-lambda), p = 1.0;
    int k = -1;
    do {
        k++;
        p *= gen_rng_uniform(self);
    } while (p > limit);
    return k;
}

size_t
gen_rng_weighted(gen_rng_t *self, const double *weights, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    if (total <= 0)
        return n;
    double x = gen_rng_uniform(self) * total;
    size_t last = n;
    for (size_t i = 0; i < n; i++) {
        if (weights[i] <= 0)
            continue;
        last = i;
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return last; /* rounding */
}

void
gen_rng_shuffle(gen_rng_t *self, int32_t *items, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)gen_rng_range(self, 0, (int64_t)i - 1);
        int32_t t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}
