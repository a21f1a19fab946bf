/*  money: amounts in minor units, written as people read them.
    See money.h. The exception lists follow ISO 4217 (list one, 2024):
    every code not listed has two minor digits. */

#include "events/money.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const ZERO_DIGITS[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                          "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                          "VND", "VUV", "XAF", "XOF", "XPF"};
static const char *const THREE_DIGITS[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};

static int
listed(const char *const *list, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], code) == 0)
            return 1;
    return 0;
}

int
money_digits(const char *currency)
{
    if (!currency || strlen(currency) != 3)
        return 2;
    if (listed(ZERO_DIGITS, sizeof ZERO_DIGITS / sizeof *ZERO_DIGITS, currency))
        return 0;
    if (listed(THREE_DIGITS, sizeof THREE_DIGITS / sizeof *THREE_DIGITS, currency))
        return 3;
    return 2;
}

/* Group the decimal digits of v in threes: "18400" -> "18,400". */
static void
group_digits(unsigned long long v, char *out, size_t outlen)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", v);
    size_t o = 0;
    for (int i = 0; i < n && o + 1 < outlen; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 2 < outlen)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
}

char *
money_format(int64_t minor, const char *currency, char *out, size_t outlen)
{
    int digits = money_digits(currency);
    unsigned long long scale = digits == 0 ? 1 : digits == 3 ? 1000 : 100;
    /* The magnitude as unsigned, so INT64_MIN does not overflow. */
    unsigned long long mag =
        minor < 0 ? 0ULL - (unsigned long long)minor : (unsigned long long)minor;
    char whole[40];
    group_digits(mag / scale, whole, sizeof whole);
    char frac[24] = "";
    if (digits > 0)
        snprintf(frac, sizeof frac, digits == 3 ? ".%03llu" : ".%02llu", mag % scale);
    if (currency && *currency)
        snprintf(out, outlen, "%s%s%s %s", minor < 0 ? "-" : "", whole, frac, currency);
    else
        snprintf(out, outlen, "%s%s%s", minor < 0 ? "-" : "", whole, frac);
    return out;
}

char *
money_format_d(double minor, const char *currency, char *out, size_t outlen)
{
    double r = nearbyint(minor);
    if (!isfinite(r) || r > 9.2e18 || r < -9.2e18) {
        snprintf(out, outlen, "%s%s%s",
                 isnan(r) ? "n/a"
                 : r < 0  ? "-inf"
                          : "inf",
                 currency && *currency ? " " : "", currency ? currency : "");
        return out;
    }
    return money_format((int64_t)r, currency, out, outlen);
}
