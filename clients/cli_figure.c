/*  cli_figure: a metric's figure as a sales manager reads it. */

#include "clients/cli_figure.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clients/cli_table.h"
#include "events/money.h"

figure_unit_t
cli_figure_unit(const char *metric)
{
    if (!metric)
        return FIGURE_COUNT;
    if (!strcmp(metric, "revenue") || !strcmp(metric, "margin") || !strcmp(metric, "collections"))
        return FIGURE_MONEY;
    if (!strcmp(metric, "collection_rate") || !strcmp(metric, "quote_conversion"))
        return FIGURE_BASIS_POINTS;
    if (!strncmp(metric, "kpi:", 4))
        return FIGURE_THOUSANDTHS;
    return FIGURE_COUNT;
}

/* v / 10^places with `places` decimals, grouped: exact in integers. */
static void
scaled_decimal(int64_t v, int places, char *out, size_t outlen)
{
    int64_t scale = places == 3 ? 1000 : places == 2 ? 100 : 1;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char whole[40];
    cli_format_grouped((int64_t)(mag / (uint64_t)scale), whole, sizeof whole);
    if (places)
        snprintf(out, outlen, "%s%s.%0*" PRIu64, v < 0 ? "-" : "", whole, places,
                 mag % (uint64_t)scale);
    else
        snprintf(out, outlen, "%s%s", v < 0 ? "-" : "", whole);
}

char *
cli_figure_format(int64_t value, const char *metric, const char *currency, bool with_code,
                  char *out, size_t outlen)
{
    const char *code = currency && currency[0] ? currency : NULL;
    switch (cli_figure_unit(metric)) {
    case FIGURE_MONEY:
        money_format(value, with_code ? code : NULL, out, outlen);
        if (!with_code && code && money_digits(code) != 2) /* money_format used 2 without it */
            scaled_decimal(value, money_digits(code), out, outlen);
        break;
    case FIGURE_BASIS_POINTS: {
        char number[48];
        scaled_decimal(value, 2, number, sizeof number);
        snprintf(out, outlen, "%s%%", number);
        break;
    }
    case FIGURE_THOUSANDTHS: {
        scaled_decimal(value, 3, out, outlen);
        char *dot = strchr(out, '.'); /* 4.250 reads 4.25; 4.000 reads 4 */
        if (dot) {
            size_t n = strlen(out);
            while (n > 0 && out[n - 1] == '0')
                out[--n] = 0;
            if (out[n - 1] == '.')
                out[n - 1] = 0;
        }
        break;
    }
    default:
        cli_format_grouped(value, out, outlen);
    }
    return out;
}

char *
cli_figure_format_d(double value, const char *metric, const char *currency, bool with_code,
                    char *out, size_t outlen)
{
    if (!isfinite(value) || fabs(value) > 9.2e18) {
        snprintf(out, outlen, "-");
        return out;
    }
    return cli_figure_format((int64_t)llround(value), metric, currency, with_code, out, outlen);
}

double
cli_figure_scaled(double value, const char *metric, const char *currency)
{
    switch (cli_figure_unit(metric)) {
    case FIGURE_MONEY:
        return value / pow(10, money_digits(currency));
    case FIGURE_BASIS_POINTS:
        return value / 100;
    case FIGURE_THOUSANDTHS:
        return value / 1000;
    default:
        return value;
    }
}

char *
cli_figure_short(double value, const char *metric, const char *currency, char *out, size_t outlen)
{
    double v = cli_figure_scaled(value, metric, currency);
    const char *suffix = cli_figure_unit(metric) == FIGURE_BASIS_POINTS ? "%" : "";
    double mag = fabs(v);
    if (mag >= 1e9)
        snprintf(out, outlen, "%.4gB%s", v / 1e9, suffix);
    else if (mag >= 1e6)
        snprintf(out, outlen, "%.4gM%s", v / 1e6, suffix);
    else if (mag >= 1e4)
        snprintf(out, outlen, "%.4gk%s", v / 1e3, suffix);
    else
        snprintf(out, outlen, "%.4g%s", v, suffix);
    return out;
}
