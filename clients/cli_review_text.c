/*  cli_review_text: the review's tables, and the review as Markdown, CSV and JSON.

    Markdown: a heading, the headline figures and every table, each as a
    pipe table (a `|` in a cell is escaped, line breaks become spaces).
    CSV: every table in one file, each as a line holding its title, its
    header row, its rows and a blank line, quoted as RFC 4180 says, so a
    spreadsheet opens it as one sheet. JSON: one object with the raw
    values (minor units, ratios, ms UTC) under each table's id. */

#define _GNU_SOURCE /* vasprintf */
#include "clients/cli_review.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cli_json.h"

/* ---------------------------------------------------------------------
   The model */

review_table_t *
review_table_new(review_t *review, const char *id, const char *title, size_t ncols,
                 const char *const *names, const char *const *keys, const char *align)
{
    if (review->ntables == REVIEW_MAX_TABLES)
        return NULL;
    review_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->id = strdup(id);
    self->title = strdup(title);
    self->ncols = ncols;
    self->names = calloc(ncols, sizeof *self->names);
    self->keys = calloc(ncols, sizeof *self->keys);
    self->align = strdup(align);
    bool ok = self->id && self->title && self->names && self->keys && self->align;
    for (size_t i = 0; ok && i < ncols; i++) {
        self->names[i] = strdup(names[i]);
        self->keys[i] = strdup(keys[i]);
        ok = self->names[i] && self->keys[i];
    }
    review->tables[review->ntables++] = self;
    return ok ? self : NULL;
}

void
review_table_note(review_table_t *self, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    free(self->note);
    if (vasprintf(&self->note, format, ap) < 0)
        self->note = NULL;
    va_end(ap);
}

const char *
review_tone(const char *tone)
{
    static const char *const known[] = {
        "on_track", "at_risk", "behind", "achieved", "stretch_achieved",
        "critical", "warning", "info",   "none"};
    for (size_t i = 0; tone && i < sizeof known / sizeof *known; i++)
        if (!strcmp(tone, known[i]))
            return known[i];
    return NULL;
}

int
review_cell_bar(review_table_t *self, const char *text, json_t *value, double bar, double marker,
                const char *tone)
{
    tone = review_tone(tone);
    if (self->ncells == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        review_cell_t *grown = realloc(self->cells, cap * sizeof *grown);
        if (!grown) {
            json_decref(value);
            return -1;
        }
        self->cells = grown;
        self->cap = cap;
    }
    char *copy = strdup(text ? text : "");
    if (!copy) {
        json_decref(value);
        return -1;
    }
    self->cells[self->ncells++] = (review_cell_t){copy, value, bar, marker, tone};
    return 0;
}

int
review_cell(review_table_t *self, const char *text, json_t *value)
{
    return review_cell_bar(self, text, value, NAN, NAN, NULL);
}

int
review_cell_tone(review_table_t *self, const char *text, json_t *value, const char *tone)
{
    return review_cell_bar(self, text, value, NAN, NAN, tone);
}

size_t
review_table_rows(const review_table_t *self)
{
    return self->ncols ? self->ncells / self->ncols : 0;
}

static void
table_free(review_table_t *self)
{
    for (size_t i = 0; i < self->ncells; i++) {
        free(self->cells[i].text);
        json_decref(self->cells[i].value);
    }
    for (size_t i = 0; i < self->ncols; i++) {
        free(self->names ? self->names[i] : NULL);
        free(self->keys ? self->keys[i] : NULL);
    }
    free(self->cells);
    free(self->names);
    free(self->keys);
    free(self->align);
    free(self->id);
    free(self->title);
    free(self->note);
    free(self);
}

void
review_free(review_t *review)
{
    for (size_t i = 0; i < review->ntables; i++)
        table_free(review->tables[i]);
    review->ntables = 0;
    review_chart_t *c = &review->chart;
    free(c->dates);
    free(c->cumulative);
    free(c->expected);
    free(c->working);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------------
   Markdown */

static void
md_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n') /* the lines of a timeline */
            fputs("; ", out);
        else if (*s == '\r')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void
md_table(FILE *out, const review_table_t *t)
{
    fprintf(out, "\n## %s\n\n", t->title);
    if (t->note) {
        md_text(out, t->note);
        fputs("\n\n", out);
    }
    if (!review_table_rows(t))
        return;
    fputc('|', out);
    for (size_t c = 0; c < t->ncols; c++) {
        fputc(' ', out);
        md_text(out, t->names[c]);
        fputs(" |", out);
    }
    fputs("\n|", out);
    for (size_t c = 0; c < t->ncols; c++)
        fputs(t->align[c] == 'r' ? "---:|" : "---|", out);
    for (size_t i = 0; i < t->ncells; i++) {
        if (i % t->ncols == 0)
            fputs("\n|", out);
        fputc(' ', out);
        md_text(out, t->cells[i].text);
        fputs(" |", out);
    }
    fputc('\n', out);
}

int
review_render_md(const review_t *r, FILE *out)
{
    fprintf(out, "# Period review: %s", r->path);
    if (r->name[0] && strcmp(r->name, r->scope) != 0)
        fprintf(out, " (%s)", r->name);
    fprintf(out, ", %s %s\n\n", r->metric, r->period);
    fprintf(out, "%s; figures as of %s (log seq %lld); times in %s; made %s.\n\n", r->range,
            r->now_text, (long long)r->seq, r->zone, r->generated);
    fputs("| FIGURE | VALUE | DETAIL |\n|---|---:|---|\n", out);
    for (size_t i = 0; i < r->ncards; i++) {
        fputs("| ", out);
        md_text(out, r->cards[i].label);
        fputs(" | ", out);
        md_text(out, r->cards[i].value);
        fputs(" | ", out);
        md_text(out, r->cards[i].detail);
        fputs(" |\n", out);
    }
    for (size_t i = 0; i < r->ntables; i++)
        md_table(out, r->tables[i]);
    return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------------
   CSV */

static void
csv_field(FILE *out, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else
        fputs(s, out);
    fputs(last ? "\r\n" : ",", out);
}

int
review_render_csv(const review_t *r, FILE *out)
{
    char title[1200];
    snprintf(title, sizeof title, "Period review: %s, %s %s (%s; as of %s; times in %s)", r->path,
             r->metric, r->period, r->range, r->now_text, r->zone);
    csv_field(out, title, true);
    fputs("\r\nSummary\r\nFIGURE,VALUE,DETAIL\r\n", out);
    for (size_t i = 0; i < r->ncards; i++) {
        csv_field(out, r->cards[i].label, false);
        csv_field(out, r->cards[i].value, false);
        csv_field(out, r->cards[i].detail, true);
    }
    for (size_t i = 0; i < r->ntables; i++) {
        const review_table_t *t = r->tables[i];
        fputs("\r\n", out);
        csv_field(out, t->title, true);
        for (size_t c = 0; c < t->ncols; c++)
            csv_field(out, t->names[c], c + 1 == t->ncols);
        for (size_t k = 0; k < t->ncells; k++)
            csv_field(out, t->cells[k].text, (k + 1) % t->ncols == 0);
    }
    return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------------
   JSON */

static json_t *
table_json(const review_table_t *t)
{
    json_t *rows = json_array();
    for (size_t k = 0; rows && k < t->ncells; k += t->ncols) {
        json_t *row = json_object();
        for (size_t c = 0; row && c < t->ncols; c++) {
            json_t *v = t->cells[k + c].value;
            json_object_set_new(row, t->keys[c], v ? json_incref(v) : json_null());
        }
        json_array_append_new(rows, row);
    }
    return json_pack("{s:s, s:s?, s:o}", "title", t->title, "note", t->note, "rows",
                     rows ? rows : json_array());
}

static json_t *
chart_json(const review_t *r)
{
    const review_chart_t *c = &r->chart;
    json_t *days = json_array();
    for (size_t i = 0; days && i < c->ndays; i++)
        json_array_append_new(
            days,
            json_pack("{s:s, s:b, s:o, s:o}", "date", c->dates[i], "working", c->working[i],
                      "cumulative", i < c->shown ? json_integer(c->cumulative[i]) : json_null(),
                      "expected", c->has_target ? json_integer(c->expected[i]) : json_null()));
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "floor",
                     c->has_floor ? json_integer(c->floor) : json_null(), "target",
                     c->has_target ? json_integer(c->target) : json_null(), "stretch",
                     c->has_stretch ? json_integer(c->stretch) : json_null(), "forecast",
                     c->has_forecast ? json_integer(c->forecast) : json_null(), "days",
                     days ? days : json_array());
}

int
review_render_json(const review_t *r, FILE *out)
{
    json_t *cards = json_array(), *tables = json_object();
    for (size_t i = 0; cards && i < r->ncards; i++)
        json_array_append_new(cards,
                              json_pack("{s:s, s:s, s:s}", "figure", r->cards[i].label, "value",
                                        r->cards[i].value, "detail", r->cards[i].detail));
    for (size_t i = 0; tables && i < r->ntables; i++)
        json_object_set_new(tables, r->tables[i]->id, table_json(r->tables[i]));
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s?, s:s?, s:s?, s:o, s:o, s:o}",
        "scope", r->scope, "path", r->path, "name", r->name, "metric", r->metric, "period",
        r->period, "period_start", (json_int_t)r->period_start, "period_end",
        (json_int_t)r->period_end, "now", (json_int_t)r->now, "seq", (json_int_t)r->seq,
        "time_zone", r->zone, "currency", r->currency[0] ? r->currency : NULL, "previous_period",
        r->previous[0] ? r->previous : NULL, "year_ago_period", r->year_ago[0] ? r->year_ago : NULL,
        "summary", cards ? cards : json_array(), "burnup", chart_json(r), "tables",
        tables ? tables : json_object());
    char *text = doc ? cli_json_dumps(doc) : NULL;
    json_decref(doc);
    if (!text)
        return -1;
    fputs(text, out);
    fputc('\n', out);
    free(text);
    return ferror(out) ? -1 : 0;
}
