/*  cli_csv: records of a CSV file, as RFC 4180 and spreadsheets write them.

    The reader keeps one growing text buffer for the fields of the current
    record (each NUL-terminated) and an array of offsets into it, turned
    into pointers once the record is complete, so reading a record
    allocates only when it is larger than every record before it. */

#include "clients/cli_csv.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _cli_csv_t {
    const char *data;
    size_t len, pos;
    char delimiter;
    uint64_t line; /* line of data[pos] */
    char *text;    /* the current record's fields, each NUL-terminated */
    size_t text_len, text_cap;
    size_t *starts; /* offset in text of each field */
    char **fields;
    size_t count, cap;
};

cli_csv_t *
cli_csv_new(const char *data, size_t len, char delimiter)
{
    cli_csv_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->data = data;
    self->len = len;
    self->delimiter = delimiter;
    self->line = 1;
    if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
        self->pos = 3;
    return self;
}

void
cli_csv_destroy(cli_csv_t **self_p)
{
    assert(self_p);
    cli_csv_t *self = *self_p;
    if (!self)
        return;
    free(self->text);
    free(self->starts);
    free(self->fields);
    free(self);
    *self_p = NULL;
}

size_t
cli_csv_offset(cli_csv_t *self)
{
    assert(self);
    return self->pos;
}

static int
put_char(cli_csv_t *self, char c)
{
    if (self->text_len == self->text_cap) {
        size_t cap = self->text_cap ? self->text_cap * 2 : 256;
        char *grown = realloc(self->text, cap);
        if (!grown)
            return -1;
        self->text = grown;
        self->text_cap = cap;
    }
    self->text[self->text_len++] = c;
    return 0;
}

static int
start_field(cli_csv_t *self)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        size_t *starts = realloc(self->starts, cap * sizeof *starts);
        if (!starts)
            return -1;
        self->starts = starts;
        char **fields = realloc(self->fields, cap * sizeof *fields);
        if (!fields)
            return -1;
        self->fields = fields;
        self->cap = cap;
    }
    self->starts[self->count++] = self->text_len;
    return 0;
}

/* At a line break (CRLF, LF or a lone CR)? Its length, else 0. */
static size_t
line_break(const cli_csv_t *self, size_t at)
{
    if (at >= self->len)
        return 0;
    if (self->data[at] == '\n')
        return 1;
    if (self->data[at] == '\r')
        return at + 1 < self->len && self->data[at + 1] == '\n' ? 2 : 1;
    return 0;
}

/* One field from pos up to its delimiter or line break (not consumed). */
static int
read_field(cli_csv_t *self, uint64_t record_line, char *err, size_t errlen)
{
    const char *d = self->data;
    size_t p = self->pos, brk;
    while (p < self->len && d[p] == ' ')
        p++;
    if (p < self->len && d[p] == '"') {
        p++;
        for (;;) {
            if (p >= self->len) {
                snprintf(err, errlen,
                         "line %llu: a quoted field is not closed before the end of the file",
                         (unsigned long long)record_line);
                return -1;
            }
            if (d[p] == '"') {
                if (p + 1 < self->len && d[p + 1] == '"') {
                    if (put_char(self, '"') != 0)
                        return -2;
                    p += 2;
                    continue;
                }
                p++;
                break;
            }
            if ((brk = line_break(self, p)) != 0)
                self->line++;
            else
                brk = 1;
            for (size_t k = 0; k < brk; k++)
                if (put_char(self, d[p + k]) != 0)
                    return -2;
            p += brk;
        }
        while (p < self->len && d[p] == ' ')
            p++;
        if (p < self->len && d[p] != self->delimiter && !line_break(self, p)) {
            snprintf(err, errlen, "line %llu: text after the closing quote of a field",
                     (unsigned long long)self->line);
            return -1;
        }
    } else {
        p = self->pos;
        while (p < self->len && d[p] != self->delimiter && !line_break(self, p))
            if (put_char(self, d[p++]) != 0)
                return -2;
    }
    self->pos = p;
    return put_char(self, 0) != 0 ? -2 : 0;
}

int
cli_csv_next(cli_csv_t *self, char ***fields, size_t *count, uint64_t *line, char *err,
             size_t errlen)
{
    assert(self);
    size_t brk;
    while ((brk = line_break(self, self->pos)) != 0) { /* blank lines */
        self->pos += brk;
        self->line++;
    }
    if (self->pos >= self->len)
        return 0;
    self->text_len = 0;
    self->count = 0;
    *line = self->line;
    for (;;) {
        int rc = start_field(self) != 0 ? -2 : read_field(self, *line, err, errlen);
        if (rc == -2)
            snprintf(err, errlen, "line %llu: out of memory", (unsigned long long)*line);
        if (rc != 0)
            return -1;
        if (self->pos < self->len && self->data[self->pos] == self->delimiter) {
            self->pos++;
            continue;
        }
        if ((brk = line_break(self, self->pos)) != 0) {
            self->pos += brk;
            self->line++;
        }
        break;
    }
    for (size_t i = 0; i < self->count; i++)
        self->fields[i] = self->text + self->starts[i];
    *fields = self->fields;
    *count = self->count;
    return 1;
}
