/*  cli_alert: what the alert commands of the pacer command line share.

    `pacer tail`, `pacer alerts` and `pacer notify` print and forward alert
    records (docs/PROTOCOL.md, "Alerts"). For a person an alert is one line:
    when it was raised, in the daemon's time zone, its aseq, state,
    severity and summary:

      2026-11-11 18:00+08:00  #4    firing    critical  acme/east revenue 2026-11: 28% of ...

    and for a script one JSON object per line, the record as the daemon
    sent it. A PREFIX on the command line is a topic prefix; the leading
    "alert/" may be left out (`behind/acme/east/` is `alert/behind/acme/east/`). */

#ifndef PACER_CLI_ALERT_H
#define PACER_CLI_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "clients/cli_options.h"
#include "clients/libpacer_alert.h"

#define CLI_ALERT_PREFIX_HELP                                                                      \
    "PREFIX is a topic prefix: alert/<rule>/<path>/, e.g. alert/behind/acme/east/ for the\n"       \
    "behind alerts of east and everything under it, alert/ for all; the leading alert/\n"          \
    "may be left out.\n"

/* The topic prefix for a PREFIX argument: "alert/" in front unless it has it. */
void cli_alert_prefix(const char *arg, char *out, size_t outlen);

/* Show times in `zone` (an IANA name such as Asia/Shanghai) when given; else
   in the daemon's zone when its status says which (`time_zone`); else in
   this machine's. Asks the daemon at most once, waiting at most 3 s. */
void cli_alert_use_zone(cli_options_t *common, const char *zone);

/* The alert as one readable line (no newline), styled when `colour`. */
void cli_alert_format(const pacer_alert_t *alert, bool colour, char *out, size_t outlen);

/* The record as a JSON object (a new reference), with `text` = the summary
   added when `with_text`. NULL with err set when the record has no JSON
   form. */
json_t *cli_alert_json(const pacer_alert_t *alert, bool with_text, char *err, size_t errlen);

/* Print the alert to stdout as a line (readable, or JSON when `json`) and
   flush, so that a pipe sees each alert as it comes. False after saying
   why on stderr. */
bool cli_alert_print(cli_options_t *common, const pacer_alert_t *alert, bool json, bool colour);

/* The ANSI style of a severity or state (red critical, yellow warning,
   green resolved); NULL for others. */
const char *cli_alert_style(const pacer_alert_t *alert);

#endif
