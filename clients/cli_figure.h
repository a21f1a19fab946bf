/*  cli_figure: a metric's figure as a sales manager reads it.

    The wire carries every figure in its metric's unit (EVENTS.md,
    "Metrics"): minor currency units for money, counts, basis points for
    the ratio metrics, thousandths for KPIs. `pacer report` and `pacer top`
    show them in the reader's units: money in major units with its
    currency (events/money.h), "95.00%" for basis points, "4.25" for a KPI,
    counts grouped by thousands. */

#ifndef PACER_CLI_FIGURE_H
#define PACER_CLI_FIGURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    FIGURE_MONEY, /* revenue, margin, collections: minor units */
    FIGURE_COUNT, /* deals, new_customers, activities... */
    FIGURE_BASIS_POINTS /* collection_rate, quote_conversion */,
    FIGURE_THOUSANDTHS /* kpi:<kpi> */
} figure_unit_t;

/* The unit of a metric's figures. */
figure_unit_t cli_figure_unit(const char *metric);

/* `value` of `metric` for a person: "12,500.00 CNY" (or "12,500.00" when
   `with_code` is false or the currency is unknown), "1,204", "95.00%",
   "4.25". Returns out. */
char *cli_figure_format(int64_t value, const char *metric, const char *currency, bool with_code,
                        char *out, size_t outlen);

/* The same for a figure sent as a float (a required rate): rounded to the
   figure's smallest unit first. */
char *cli_figure_format_d(double value, const char *metric, const char *currency, bool with_code,
                          char *out, size_t outlen);

/* A short form for chart axes: "1.2M", "350k", "95%". */
char *cli_figure_short(double value, const char *metric, const char *currency, char *out,
                       size_t outlen);

/* The value in the figure's own units as a double (major units of money,
   percent points, KPI units): what a chart scales. */
double cli_figure_scaled(double value, const char *metric, const char *currency);

#endif
