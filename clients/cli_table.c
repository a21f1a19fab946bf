/*  cli_table: text tables for the report commands of the pacer command line.

    Cells are kept as heap strings in one growing array, row after row, with
    their styles beside them; widths are computed once, when printing. The
    display width of a character follows Unicode's East Asian Width (wide
    and fullwidth ranges count two) closely enough for names and ids; a
    locale-dependent wcwidth would give 1 or -1 in the C locale that scripts
    and tests run in. */

#include "clients/cli_table.h"

#include "events/money.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE_GAP 2

struct _cli_table_t {
    size_t columns;
    char **names;
    char *align;
    bool *hidden;
    char **cells; /* row-major, columns per row */
    char **styles;
    size_t count, max;
};

static char *
dup_text(const char *text)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy)
        memcpy(copy, text, len + 1);
    return copy;
}

cli_table_t *
cli_table_new(size_t columns, const char *const *names, const char *align)
{
    assert(columns > 0 && names && align && strlen(align) == columns);
    cli_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->columns = columns;
    self->names = calloc(columns, sizeof *self->names);
    self->align = dup_text(align);
    self->hidden = calloc(columns, sizeof *self->hidden);
    bool ok = self->names && self->align && self->hidden;
    for (size_t i = 0; ok && i < columns; i++)
        ok = (self->names[i] = dup_text(names[i])) != NULL;
    if (!ok)
        cli_table_destroy(&self);
    return self;
}

void
cli_table_destroy(cli_table_t **self_p)
{
    assert(self_p);
    cli_table_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; self->names && i < self->columns; i++)
        free(self->names[i]);
    for (size_t i = 0; i < self->count; i++) {
        free(self->cells[i]);
        free(self->styles[i]);
    }
    free(self->names);
    free(self->align);
    free(self->hidden);
    free(self->cells);
    free(self->styles);
    free(self);
    *self_p = NULL;
}

int
cli_table_cell(cli_table_t *self, const char *style, const char *text)
{
    assert(self);
    if (self->count == self->max) {
        size_t max = self->max ? self->max * 2 : 64;
        char **cells = realloc(self->cells, max * sizeof *cells);
        if (!cells)
            return -1;
        self->cells = cells;
        char **styles = realloc(self->styles, max * sizeof *styles);
        if (!styles)
            return -1;
        self->styles = styles;
        self->max = max;
    }
    char *cell = dup_text(text ? text : "");
    char *cell_style = style ? dup_text(style) : NULL;
    if (!cell || (style && !cell_style)) {
        free(cell);
        free(cell_style);
        return -1;
    }
    self->cells[self->count] = cell;
    self->styles[self->count] = cell_style;
    self->count++;
    return 0;
}

int
cli_table_cellf(cli_table_t *self, const char *style, const char *format, ...)
{
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return cli_table_cell(self, style, text);
}

void
cli_table_hide_if_empty(cli_table_t *self, size_t column)
{
    assert(self);
    assert(column < self->columns);
    for (size_t i = column; i < self->count; i += self->columns)
        if (self->cells[i][0])
            return;
    self->hidden[column] = true;
}

/* Decode one UTF-8 character at *p; advances *p. Invalid bytes decode as
   themselves, one at a time. */
static uint32_t
utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int extra = c >= 0xf0 && c < 0xf8 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (c >= 0xf8)
        extra = 0;
    for (int i = 1; i <= extra; i++)
        if ((s[i] & 0xc0) != 0x80)
            extra = 0;
    if (extra == 0) {
        *p = s + 1;
        return c;
    }
    c &= 0x3f >> extra;
    for (int i = 1; i <= extra; i++)
        c = (c << 6) | (s[i] & 0x3f);
    *p = s + 1 + extra;
    return c;
}

static int
char_width(uint32_t c)
{
    if (c == 0x200b || (c >= 0x0300 && c <= 0x036f) || (c >= 0xfe00 && c <= 0xfe0f))
        return 0; /* combining marks, variation selectors, zero width space */
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) ||
        (c >= 0x3041 && c <= 0x33ff) || (c >= 0x3400 && c <= 0x4dbf) ||
        (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
        (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
        (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
        (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
        (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

size_t
cli_text_width(const char *text)
{
    size_t width = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p)
        width += char_width(utf8_next(&p));
    return width;
}

static void
print_padded(FILE *out, const char *text, const char *style, size_t width, char align, bool last)
{
    size_t pad = width - cli_text_width(text);
    if (align == 'r')
        fprintf(out, "%*s", (int)pad, "");
    if (style)
        fprintf(out, "\033[%sm%s\033[0m", style, text);
    else
        fputs(text, out);
    if (align != 'r' && !last)
        fprintf(out, "%*s", (int)pad, "");
}

/* Print one line, without the spaces a trailing empty or left-aligned cell
   would leave at its end. */
static void
print_line(FILE *out, char *line, size_t len)
{
    while (len > 0 && line[len - 1] == ' ')
        len--;
    fwrite(line, 1, len, out);
    fputc('\n', out);
}

void
cli_table_print(cli_table_t *self, FILE *out)
{
    assert(self);
    size_t *width = calloc(self->columns, sizeof *width);
    char *line = NULL;
    size_t len = 0;
    FILE *buffer = open_memstream(&line, &len);
    if (!width || !buffer) {
        free(width);
        if (buffer)
            fclose(buffer);
        free(line);
        return;
    }
    size_t last = 0;
    for (size_t c = 0; c < self->columns; c++) {
        width[c] = cli_text_width(self->names[c]);
        if (!self->hidden[c])
            last = c;
    }
    for (size_t i = 0; i < self->count; i++) {
        size_t w = cli_text_width(self->cells[i]);
        if (w > width[i % self->columns])
            width[i % self->columns] = w;
    }
    size_t total = 0;
    for (size_t c = 0; c <= last; c++) {
        if (self->hidden[c])
            continue;
        print_padded(buffer, self->names[c], NULL, width[c], self->align[c], c == last);
        fprintf(buffer, "%*s", c == last ? 0 : TABLE_GAP, "");
        total += width[c] + (c == last ? 0 : TABLE_GAP);
    }
    fflush(buffer);
    print_line(out, line, len);
    for (size_t i = 0; i < total; i++)
        fputc('-', out);
    fputc('\n', out);
    rewind(buffer);
    for (size_t i = 0; i < self->count; i++) {
        size_t c = i % self->columns;
        if (c <= last && !self->hidden[c]) {
            print_padded(buffer, self->cells[i], self->styles[i], width[c], self->align[c],
                         c == last);
            fprintf(buffer, "%*s", c == last ? 0 : TABLE_GAP, "");
        }
        if (c == self->columns - 1 || i == self->count - 1) {
            fflush(buffer);
            print_line(out, line, (size_t)ftell(buffer));
            rewind(buffer);
        }
    }
    fclose(buffer);
    free(line);
    free(width);
}

bool
cli_table_colour(void)
{
    const char *no_colour = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(no_colour && no_colour[0]);
}

void
cli_format_grouped(int64_t value, char *out, size_t outlen)
{
    char digits[32];
    /* The magnitude as unsigned, so INT64_MIN has one too. */
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    snprintf(digits, sizeof digits, "%" PRIu64, magnitude);
    char grouped[40];
    size_t n = strlen(digits), j = 0;
    if (value < 0)
        grouped[j++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            grouped[j++] = ',';
        grouped[j++] = digits[i];
    }
    grouped[j] = '\0';
    snprintf(out, outlen, "%s", grouped);
}

cli_unit_t
cli_metric_unit(const char *metric)
{
    static const char *const money[] = {"revenue", "margin", "collections"};
    static const char *const ratios[] = {"collection_rate", "quote_conversion"};
    for (size_t i = 0; i < sizeof money / sizeof money[0]; i++)
        if (strcmp(metric, money[i]) == 0)
            return CLI_UNIT_MONEY;
    for (size_t i = 0; i < sizeof ratios / sizeof ratios[0]; i++)
        if (strcmp(metric, ratios[i]) == 0)
            return CLI_UNIT_RATIO;
    return strncmp(metric, "kpi:", 4) == 0 ? CLI_UNIT_KPI : CLI_UNIT_COUNT;
}

/* `scaled` / 10^digits with its integer part grouped: 12345, 2 -> "123.45". */
static void
format_scaled(int64_t scaled, int digits, char *out, size_t outlen)
{
    uint64_t magnitude = scaled < 0 ? (uint64_t)0 - (uint64_t)scaled : (uint64_t)scaled;
    uint64_t scale = 1;
    for (int i = 0; i < digits; i++)
        scale *= 10;
    char whole[40];
    cli_format_grouped((int64_t)(magnitude / scale), whole, sizeof whole);
    if (digits == 0)
        snprintf(out, outlen, "%s%s", scaled < 0 ? "-" : "", whole);
    else
        snprintf(out, outlen, "%s%s.%0*" PRIu64, scaled < 0 ? "-" : "", whole, digits,
                 magnitude % scale);
}

void
cli_format_figure(int64_t value, cli_unit_t unit, const char *currency, bool raw, char *out,
                  size_t outlen)
{
    if (raw) {
        snprintf(out, outlen, "%" PRId64, value);
        return;
    }
    switch (unit) {
    case CLI_UNIT_MONEY:
        money_format(value, currency && currency[0] ? currency : NULL, out, outlen);
        return;
    case CLI_UNIT_RATIO: {
        char number[48];
        format_scaled(value, 2, number, sizeof number);
        snprintf(out, outlen, "%s%%", number);
        return;
    }
    case CLI_UNIT_COUNT:
    case CLI_UNIT_KPI:
        cli_format_grouped(value, out, outlen);
        return;
    }
}

void
cli_format_rate(double value, cli_unit_t unit, const char *currency, bool raw, char *out,
                size_t outlen)
{
    if (!isfinite(value) || fabs(value) >= 9.0e15) {
        snprintf(out, outlen, "%.3g", value);
        return;
    }
    if (raw) {
        snprintf(out, outlen, "%.2f", value);
        return;
    }
    switch (unit) {
    case CLI_UNIT_MONEY:
        money_format_d(value, currency && currency[0] ? currency : NULL, out, outlen);
        return;
    case CLI_UNIT_RATIO: {
        char number[48];
        format_scaled(llround(value), 2, number, sizeof number);
        snprintf(out, outlen, "%s%%", number);
        return;
    }
    case CLI_UNIT_COUNT:
    case CLI_UNIT_KPI:
        format_scaled(llround(value * 10), 1, out, outlen);
        return;
    }
}

void
cli_format_bar(double attainment, int cells, char *out, size_t outlen)
{
    assert(cells > 0 && cells <= 40);
    double shown = isfinite(attainment) ? attainment : 0;
    int filled = (int)floor((shown < 0 ? 0 : shown > 1 ? 1 : shown) * cells);
    char bar[40 * 3 + 1];
    size_t j = 0;
    for (int i = 0; i < cells; i++) {
        const char *block = i < filled ? "\xe2\x96\x88" : "\xe2\x96\x91"; /* U+2588, U+2591 */
        memcpy(bar + j, block, 3);
        j += 3;
    }
    bar[j] = '\0';
    snprintf(out, outlen, "%s", bar);
}

/* ratio x 10^4 as an integer, exact for a ratio sent with 4 decimals;
   false when it is too large to carry them (or not finite). */
static bool
basis_points(double ratio, int64_t *bp)
{
    if (!isfinite(ratio) || fabs(ratio) >= 9.0e14)
        return false;
    *bp = (int64_t)llround(ratio * 10000.0);
    return true;
}

/* n / d rounded half away from zero (d > 0). */
static int64_t
div_round(int64_t n, int64_t d)
{
    return n >= 0 ? (n + d / 2) / d : -((-n + d / 2) / d);
}

void
cli_format_percent(double ratio, char *out, size_t outlen)
{
    int64_t bp;
    if (!basis_points(ratio, &bp)) {
        snprintf(out, outlen, "%.3g%%", ratio * 100);
        return;
    }
    char grouped[40];
    cli_format_grouped(div_round(bp, 100), grouped, sizeof grouped);
    snprintf(out, outlen, "%s%%", grouped);
}

void
cli_format_ratio(double ratio, char *out, size_t outlen)
{
    int64_t bp;
    if (!basis_points(ratio, &bp)) {
        snprintf(out, outlen, "%.3g", ratio);
        return;
    }
    int64_t hundredths = div_round(bp, 100);
    uint64_t mag = hundredths < 0 ? (uint64_t)0 - (uint64_t)hundredths : (uint64_t)hundredths;
    snprintf(out, outlen, "%s%" PRIu64 ".%02" PRIu64, hundredths < 0 ? "-" : "", mag / 100,
             mag % 100);
}

const char *
cli_status_style(const char *status)
{
    if (!status)
        return NULL;
    if (strcmp(status, "on_track") == 0 || strcmp(status, "achieved") == 0)
        return "32";
    if (strcmp(status, "stretch_achieved") == 0)
        return "1;32";
    if (strcmp(status, "at_risk") == 0)
        return "33";
    if (strcmp(status, "behind") == 0)
        return "31";
    return NULL;
}
