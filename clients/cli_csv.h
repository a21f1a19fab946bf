/*  cli_csv: records of a CSV file, as RFC 4180 and spreadsheets write them.

    A reader walks a buffer of UTF-8 text that the caller holds: fields are
    separated by the delimiter (',' by default), records by CRLF or LF; a
    field in double quotes may hold delimiters, line breaks and doubled
    quotes (""). A byte-order mark at the start is skipped, blank lines are
    skipped, and spaces around a quoted field are allowed. Each record
    remembers the line it starts on, so that a bad row can be named the way
    an editor shows it even when a quoted field spans lines. */

#ifndef PACER_CLI_CSV_H
#define PACER_CLI_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _cli_csv_t cli_csv_t;

/* A reader over data[0..len), which must outlive it. NULL when out of memory. */
cli_csv_t *cli_csv_new(const char *data, size_t len, char delimiter);

/* Free the reader. Sets *self_p to NULL; harmless on NULL. */
void cli_csv_destroy(cli_csv_t **self_p);

/* Read the next record. 1: *fields (count of them) holds NUL-terminated
   copies, valid until the next call; *line is where the record starts
   (from 1). 0: no more records. -1: a quoted field is not closed, or text
   follows a closing quote; err names the line. */
int cli_csv_next(cli_csv_t *self, char ***fields, size_t *count, uint64_t *line, char *err,
                 size_t errlen);

/* Bytes of the buffer read so far, for a progress bar. */
size_t cli_csv_offset(cli_csv_t *self);

#endif
