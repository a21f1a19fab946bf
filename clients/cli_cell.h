/*  cli_cell: amounts, counts and times as spreadsheets write them.

    `pacer import` reads CSV exports whose cells were typed by people or
    formatted by a CRM: "¥1,234.50", "1234.5", "1,234.50 元", "2026/11/5
    14:30", "2026年11月5日". Events want minor units and ms UTC. These
    functions convert one cell, exactly or not at all:

    - Amounts are read as decimal text and scaled by string arithmetic,
      never through a float: "1,234.50", "1234.5" and "¥1,234.50" are all
      123450 fen. Digits beyond the currency's minor unit must be zeros
      ("1.005" CNY is an error, not a rounding). Thousands separators must
      group by three, so a decimal comma ("1234,50") is refused rather
      than read as 123,450. A currency symbol or code in the cell must
      agree with the event's currency, or names it when the event has none.
    - Times without an offset are local times in the process's zone (TZ;
      `pacer import` sets the daemon's), with Z or an offset they are
      exact. Dates come year first: "11/05/2026" is refused, since it is
      5 November in one country and 11 May in another.

    Every function returns false with a sentence in err that quotes the
    cell and says what to write instead. */

#ifndef PACER_CLI_CELL_H
#define PACER_CLI_CELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cell without leading and trailing white space (ASCII, U+00A0 no-break
   space, U+202F, U+3000 ideographic space): *start and *len. */
void cli_cell_trim(const char *text, const char **start, size_t *len);

/* An amount in minor units. `currency` is the event's ISO 4217 code, or
   NULL / "" when the event has none yet: then a symbol or code in the cell
   ("¥", "￥", "元", "RMB" for CNY; "$" USD; "€" EUR; "£" GBP; or the code
   itself, "CNY 1,234.50") decides it and is written to implied (4 bytes,
   "" when the cell names none). "-12.30" and "(12.30)" are negative;
   "1.2345E+05" is read exactly. */
bool cli_cell_amount(const char *text, const char *currency, int64_t *out, char implied[4],
                     char *err, size_t errlen);

/* A whole number with optional thousands separators ("12", "1,200"); a
   decimal part must be zeros ("3.00"). */
bool cli_cell_integer(const char *text, int64_t *out, char *err, size_t errlen);

/* A decimal number for a `number` field ("4.25", "1,234.5"); rounded to
   the nearest double, as JSON input would be. */
bool cli_cell_number(const char *text, double *out, char *err, size_t errlen);

/* An instant, ms UTC: "2026-11-05", "2026/11/5", "2026.11.05", "2026年11月5日",
   each optionally followed (after a space or T) by "14:30", "14:30:15" or
   "14:30:15.250", and then optionally by Z or an offset (+08:00, +0800,
   +08). A date alone is the local midnight that starts it. Without an
   offset the time is local to the process's zone; one that the zone skips
   (a DST gap) is refused. 13-digit integers are taken as ms UTC. */
bool cli_cell_time(const char *text, int64_t *out, char *err, size_t errlen);

/* A calendar date as EVENTS.md writes it ("2026-11-05") from any of the
   date forms cli_cell_time takes; out has at least 11 bytes. */
bool cli_cell_date(const char *text, char *out, char *err, size_t errlen);

#endif
