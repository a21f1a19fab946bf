/*  libFuzzer target: what `pacer import` does with the bytes of a file: the
    CSV reader (cli_csv), then every field through each cell conversion
    (cli_cell). Properties: a record's fields are NUL-terminated and the
    reader moves forward; an amount accepted without a currency names one;
    an accepted date reads back the same. */

#include "clients/cli_cell.h"
#include "clients/cli_csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cells(const char *field)
{
    char err[512], implied[4], date[16], again[16];
    int64_t v;
    double d;
    if (cli_cell_amount(field, NULL, &v, implied, err, sizeof err) && !implied[0])
        __builtin_trap();
    cli_cell_amount(field, "CNY", &v, implied, err, sizeof err);
    cli_cell_amount(field, "JPY", &v, implied, err, sizeof err);
    cli_cell_integer(field, &v, err, sizeof err);
    cli_cell_number(field, &d, err, sizeof err);
    cli_cell_time(field, &v, err, sizeof err);
    if (cli_cell_date(field, date, err, sizeof err) &&
        (!cli_cell_date(date, again, err, sizeof err) || strcmp(date, again) != 0))
        __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int zoned;
    if (!zoned) {
        setenv("TZ", "America/New_York", 1); /* a zone with gaps and overlaps */
        tzset();
        zoned = 1;
    }
    cli_csv_t *csv = cli_csv_new((const char *)data, size, size && data[0] == ';' ? ';' : ',');
    if (!csv)
        return 0;
    char **fields, err[256];
    size_t count, before = 0;
    uint64_t line;
    while (cli_csv_next(csv, &fields, &count, &line, err, sizeof err) > 0) {
        if (cli_csv_offset(csv) <= before && cli_csv_offset(csv) != size)
            __builtin_trap(); /* a record that consumed nothing would loop forever */
        before = cli_csv_offset(csv);
        for (size_t i = 0; i < count && i < 8; i++)
            cells(fields[i]);
    }
    cli_csv_destroy(&csv);
    return 0;
}
