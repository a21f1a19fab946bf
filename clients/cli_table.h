/*  cli_table: text tables for the report commands of the pacer command line.

    A table is a header and rows of cells, all strings, printed with each
    column as wide as its widest cell. Widths count what a terminal shows,
    not bytes: a CJK character takes two columns, a block character of an
    attainment bar one, so Chinese names and bars line up. A cell may carry
    an ANSI style, printed around the cell's text and left out of its width;
    styles are only used when cli_table_colour says so.

    The helpers format the figures the reports show, each in its metric's
    unit as people read it: money in major units with its currency
    ("31,000.00 CNY", the currency's ISO 4217 minor digits, as pacerd's own
    alert summaries write it), counts grouped by thousands ("1,234"), ratio
    metrics in percent ("95.00%"); or, when the user asks for --raw, the
    integers pacerd counts in (minor units, basis points). Also an
    attainment bar, and the colour of a status. */

#ifndef PACER_CLI_TABLE_H
#define PACER_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _cli_table_t cli_table_t;

/* A table with the given column names; `align` has one letter per column, 'l'
   or 'r'. NULL when out of memory. */
cli_table_t *cli_table_new(size_t columns, const char *const *names, const char *align);

/* Free the table. Sets *self_p to NULL; harmless on NULL. */
void cli_table_destroy(cli_table_t **self_p);

/* Add the next cell, left to right, wrapping to a new row after the last
   column. `style` is an ANSI SGR code ("32", "1;32") or NULL. -1 when out
   of memory (the table is then incomplete; the caller gives up). */
int cli_table_cell(cli_table_t *self, const char *style, const char *text);
int cli_table_cellf(cli_table_t *self, const char *style, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Hide a column that has no non-empty cell (an optional column such as the
   product line when no row has one). */
void cli_table_hide_if_empty(cli_table_t *self, size_t column);

/* Print the header, a rule, and the rows. Columns are two spaces apart; the
   last column is not padded. */
void cli_table_print(cli_table_t *self, FILE *out);

/* Columns a terminal uses to show UTF-8 `text` (invalid bytes count one). */
size_t cli_text_width(const char *text);

/* True when styled output is wanted: stdout is a terminal and NO_COLOR is not
   set (https://no-color.org). */
bool cli_table_colour(void);

/* 1234567 as "1,234,567" (negative numbers keep their sign). */
void cli_format_grouped(int64_t value, char *out, size_t outlen);

/* What the figures of a metric count (docs/EVENTS.md, "Metrics"). */
typedef enum {
    CLI_UNIT_COUNT, /* deals, new_customers, activities[.<kind>]; any metric not known here */
    CLI_UNIT_MONEY, /* revenue, margin, collections: minor units of the target's currency */
    CLI_UNIT_RATIO, /* collection_rate, quote_conversion: basis points (9500 = 95.00%) */
    CLI_UNIT_KPI    /* kpi:<kpi>: thousandths of the KPI's unit, or a count: shown as sent */
} cli_unit_t;

cli_unit_t cli_metric_unit(const char *metric);

/* A figure of a metric for people: money "31,000.00 CNY" (without a code
   when `currency` is NULL or "": 2 decimals then), a count or a KPI value
   "1,234", a ratio "95.00%". `raw`: the integer as pacerd sends it,
   "3100000", "9500". */
void cli_format_figure(int64_t value, cli_unit_t unit, const char *currency, bool raw, char *out,
                       size_t outlen);

/* A rate of the same unit a working day, a float on the wire: money to the
   minor unit ("2,029.41 CNY"), counts and KPI values to one decimal
   ("2.5"), ratios in percent ("0.35%"); `raw`: to 2 decimals as sent. */
void cli_format_rate(double value, cli_unit_t unit, const char *currency, bool raw, char *out,
                     size_t outlen);

/* An attainment bar of `cells` block characters: "████████░░". Attainment
   above 1 fills the bar; cli_format_percent says how far above, in a
   column of its own so that wide percentages stay right-aligned. */
void cli_format_bar(double attainment, int cells, char *out, size_t outlen);

/* A ratio as the wire sends it (4 decimals, docs/PROTOCOL.md) shown as a
   whole percentage, rounded half away from zero in decimal: 0.3125 is
   "31%", 0.3150 "32%", 12696.03 "1,269,603%". */
void cli_format_percent(double ratio, char *out, size_t outlen);

/* The same ratio to 2 decimals, rounded the same way: 0.9450 is "0.95". */
void cli_format_ratio(double ratio, char *out, size_t outlen);

/* The ANSI style of a progress status: green for on_track and achieved,
   bold green for stretch_achieved, yellow for at_risk, red for behind; NULL
   for anything else. */
const char *cli_status_style(const char *status);

#endif
