/*  cli_review: `pacer report`, the period review (复盘), and what it is made of.

    cli_review.c asks pacerd for the period's numbers and lays them out as
    a review_t: a heading, a few headline figures, the burn-up chart's
    series, and tables (attainment by level, who fell behind and when, the
    alerts and anomaly flags with their resolution, the target changes, the
    comparison with the previous period and the same period a year
    earlier). The renderers turn that one model into a self-contained HTML
    page (cli_review_html.c) or Markdown, CSV and JSON (cli_review_text.c),
    so every format carries the same tables.

    A cell holds the text a person reads and the raw value a script wants
    (a json_t: minor units, a ratio, ms UTC), plus, for attainment cells, a
    bar and the pace marker the HTML draws. */

#ifndef PACER_CLI_REVIEW_H
#define PACER_CLI_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define REVIEW_MAX_TABLES 16
#define REVIEW_MAX_CARDS  8

typedef struct {
    char *text;       /* as shown */
    json_t *value;    /* raw value for --json, owned; NULL: null */
    double bar;       /* attainment drawn as a bar (1 = full), NAN: no bar */
    double marker;    /* where pace expects to be, as a share of target; NAN: none */
    const char *tone; /* a status or severity ("behind", "critical"), NULL: plain; static */
} review_cell_t;

typedef struct {
    char *id;    /* "reps": a JSON key and an HTML anchor */
    char *title; /* "Reps" */
    char *note;  /* a sentence under the title, or NULL */
    size_t ncols;
    char **names; /* column headings */
    char **keys;  /* JSON keys */
    char *align;  /* 'l' or 'r' per column */
    review_cell_t *cells;
    size_t ncells, cap;
} review_table_t;

typedef struct {
    char label[32];
    char value[96];
    char detail[256];
    const char *tone;
} review_card_t;

/* The burn-up chart of the scope's key: one point per local day. */
typedef struct {
    size_t ndays;
    char (*dates)[11];
    int64_t *cumulative; /* by the day's end */
    int64_t *expected;   /* the pace line, when the key has a target */
    bool *working;
    size_t shown; /* days of actuals to draw: those that have begun by `now` */
    bool has_target, has_floor, has_stretch, has_forecast;
    int64_t floor, target, stretch, forecast;
} review_chart_t;

typedef struct {
    char scope[128], path[512], name[300], metric[80], period[32], currency[4], zone[64];
    char range[160];    /* "2026-11-01 00:00+08:00 to 2026-12-01 00:00+08:00" */
    char now_text[64];  /* the moment the figures are for */
    char generated[64]; /* when the report was made */
    int64_t period_start, period_end, now, seq;
    char previous[32], year_ago[32]; /* the periods compared with */
    review_card_t cards[REVIEW_MAX_CARDS];
    size_t ncards;
    review_chart_t chart;
    review_table_t *tables[REVIEW_MAX_TABLES];
    size_t ntables;
} review_t;

/* A table added to the review, with `ncols` columns named `names`, keyed
   `keys` in JSON, aligned per `align` ("llr..."). NULL when out of memory
   or full. */
review_table_t *review_table_new(review_t *review, const char *id, const char *title, size_t ncols,
                                 const char *const *names, const char *const *keys,
                                 const char *align);

/* Set the sentence shown under the table's title. */
void review_table_note(review_table_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* The next cell, left to right, row after row. `value` is stolen (NULL:
   null). -1 when out of memory. */
int review_cell(review_table_t *self, const char *text, json_t *value);

/* The same with a bar (attainment), the pace marker and a tone. */
int review_cell_bar(review_table_t *self, const char *text, json_t *value, double bar,
                    double marker, const char *tone);

/* The same with a tone only. */
int review_cell_tone(review_table_t *self, const char *text, json_t *value, const char *tone);

/* The tone as one of the known static names (a status: "behind"; a
   severity: "critical"), or NULL for any other. A cell keeps this name,
   not the caller's string, which may not outlive it (an alert's
   severity); and the HTML uses it as a class name, so only these reach
   the page. */
const char *review_tone(const char *tone);

/* Rows of the table so far. */
size_t review_table_rows(const review_table_t *self);

/* Free everything the review holds (not the review itself). */
void review_free(review_t *review);

/* The renderers: 0, or -1 when writing failed. */
int review_render_html(const review_t *review, FILE *out);
int review_render_md(const review_t *review, FILE *out);
int review_render_csv(const review_t *review, FILE *out);
int review_render_json(const review_t *review, FILE *out);

#endif
