/*  cli_import: `pacer import --csv FILE --map column=field,...`, spreadsheets into the log.

    For teams whose sales live in spreadsheets and CRM exports. The file is
    read whole (a spreadsheet fits in memory), converted to UTF-8 when it is
    GB18030 (iconv), and parsed as CSV (cli_csv). Each row becomes one event
    of --type (or of a column mapped to `type`): every mapped cell is
    converted by the kind of field it fills (cli_cell: amounts to minor
    units exactly, times in the daemon's zone unless they carry an offset,
    counts, numbers, dates), --set adds constant fields, and the event is
    validated here with the daemon's own schema code (events/codec.c).

    Nothing is appended until every row has been converted and validated:
    a bad row is reported with its line number and the column it came
    from, and then the import stops (or, with --skip-bad, appends the good
    rows). --dry-run stops there in any case. What only the log can tell
    (a refund of an unknown order, an order booked twice) is reported after
    the append, by line, as the daemon refused it.

    Ids. A column mapped to `id` gives each event its id (with --id-prefix
    in front). Otherwise the id is derived from the row's content: "csv:"
    and 24 hex digits of the BLAKE2b hash of the event's canonical
    encoding, so the same sale exported again, even formatted differently
    ("1234.5" or "¥1,234.50") or with its columns in another order, gets
    the same id, and a re-import is all duplicates. A row identical to an
    earlier row of the same file is a second event (two equal visits on
    one day are two visits): its id gets ":2", ":3"... */

#include "clients/cli_commands.h"

#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>

#include "clients/cli_cell.h"
#include "clients/cli_csv.h"
#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/cli_progress.h"
#include "clients/cli_request.h"
#include "clients/libpacer.h"
#include "events/codec.h"
#include "events/utf8.h"
#include "projections/calendar.h"

#define IMPORT_BATCH        1000
#define IMPORT_MAX_MAPS     64
#define IMPORT_ID_HEX       24
#define IMPORT_MAX_FILE     (1024u * 1024 * 1024)
#define IMPORT_PLACEHOLDER  "csv:pending"
#define IMPORT_CELL_ERR_MAX 512

enum {
    OPT_CSV = CLI_OPT_FIRST_OWN,
    OPT_MAP,
    OPT_SET,
    OPT_TYPE,
    OPT_ENCODING,
    OPT_DRY_RUN,
    OPT_SKIP_BAD,
    OPT_ID_PREFIX,
    OPT_DELIMITER,
    OPT_NO_HEADER,
    OPT_JSON
};

/* How a field's cells are read. */
typedef enum {
    KIND_TEXT,   /* as written, trimmed */
    KIND_MONEY,  /* minor units of the event's currency */
    KIND_TIER,   /* a target tier: money when the event has a currency, else a count */
    KIND_TIME,   /* ms UTC */
    KIND_INT,    /* a whole number */
    KIND_NUMBER, /* a float64 */
    KIND_DATE    /* YYYY-MM-DD */
} field_kind_t;

typedef struct {
    char column[256]; /* as given: a header name, or #N */
    int index;        /* 0-based column; -1 until resolved */
    ev_field_t field;
    field_kind_t kind;
} import_map_t;

typedef struct {
    ev_field_t field;
    const char *value;
} import_set_t;

/* A row that became an event. */
typedef struct {
    uint64_t line;
    char *event; /* canonical msgpack */
    size_t len;
} import_row_t;

typedef struct {
    cli_options_t common;
    const char *path, *encoding, *id_prefix, *zone;
    const char *type_name;
    ev_type_t type;
    char delimiter;
    bool dry_run, skip_bad, no_header, json;
    import_map_t maps[IMPORT_MAX_MAPS];
    size_t nmaps;
    import_set_t sets[IMPORT_MAX_MAPS];
    size_t nsets;
    int type_column, currency_column; /* index into maps, -1: none */

    char zone_name[128];
    calendar_t *calendar; /* holds TZ to the daemon's zone */
    char *text;           /* the file, UTF-8 */
    size_t text_len;

    import_row_t *rows;
    size_t nrows, rows_cap;
    uint64_t data_rows, bad_rows;
    json_t *problems; /* [{"line", "column", "field", "error", "message"}] */
    zhashx_t *seen;   /* content hash -> times seen, for ids */
    uint64_t appended, duplicates, rejected;
    char unfilled[64];        /* a required field no column or --set fills */
    cli_progress_t *progress; /* on a terminal: the rows read, then appended */
} import_t;

static void
import_usage(FILE *out)
{
    fputs("usage: pacer import --csv FILE --map COLUMN=FIELD[,COLUMN=FIELD...] [--type TYPE]\n"
          "       [--set FIELD=VALUE]... [--encoding utf-8|gb18030] [--dry-run] [--skip-bad]\n"
          "       [--id-prefix P] [--delimiter C] [--no-header] [--time-zone ZONE] [--json]\n"
          "\n"
          "Append the rows of a spreadsheet or CRM export (CSV) as events, one event a row.\n"
          "Every row is converted and checked first; if any is bad, each is reported with\n"
          "its line number and nothing is appended.\n"
          "\n"
          "  --csv FILE          the CSV file ('-': standard input); the first row names\n"
          "                      the columns\n"
          "  --map C=F,...       fill event field F from column C (a header name, or #N for\n"
          "                      the Nth column); repeatable. Unmapped columns are ignored\n"
          "  --type TYPE         the event type (default sale_closed); or map a column to\n"
          "                      `type`\n"
          "  --set F=VALUE       a field with the same value in every event, e.g.\n"
          "                      --set currency=CNY --set source=crm-export; repeatable\n"
          "  --encoding E        utf-8 (default) or gb18030 (also read for gbk, gb2312)\n"
          "  --dry-run           convert and check every row, report, append nothing\n"
          "  --skip-bad          append the good rows even when some are bad\n"
          "  --id-prefix P       put P in front of the ids of a column mapped to `id`\n"
          "  --delimiter C       the field separator: ',' (default), ';', or 'tab'\n"
          "  --no-header         the first row is data; map columns as #1, #2...\n"
          "  --time-zone ZONE    read times in ZONE instead of asking pacerd for its zone\n"
          "  --json              print the outcome as one JSON object\n"
          "\n"
          "Cells are read as people and spreadsheets write them:\n"
          "  amounts             \"1,234.50\", \"1234.5\", \"¥1,234.50\", \"1,234.50 元\", \"CNY "
          "1234.5\":\n"
          "                      converted to minor units exactly (123450 fen); more decimals\n"
          "                      than the currency has are refused, never rounded. A symbol\n"
          "                      or code must agree with the event's currency, or gives it\n"
          "  times               \"2026-11-05 14:30\", \"2026/11/5\", \"2026年11月5日\", with an\n"
          "                      optional seconds part and offset (Z, +08:00): without one,\n"
          "                      local time in pacerd's zone. The year comes first\n"
          "  target tiers        amounts when the event has a currency, else counts\n"
          "\n"
          "Ids: a column mapped to `id` gives them; otherwise each is \"csv:\" and a hash of\n"
          "the event's content, so importing the same rows again appends nothing twice.\n"
          "Exit status: 0 all appended (or duplicates), 1 some rows bad or refused, 2 usage\n"
          "or connection errors.\n"
          "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

/* ---------------------------------------------------------------------
   Fields */

static field_kind_t
kind_of(ev_field_t field)
{
    switch (field) {
    case F_AMOUNT:
    case F_MARGIN:
        return KIND_MONEY;
    case F_TARGET:
    case F_FLOOR:
    case F_STRETCH:
        return KIND_TIER;
    case F_OCCURRED_AT:
    case F_EFFECTIVE_AT:
    case F_DUE_AT:
    case F_UNTIL:
        return KIND_TIME;
    case F_QUANTITY:
        return KIND_INT;
    case F_VALUE:
        return KIND_NUMBER;
    case F_DATE:
        return KIND_DATE;
    default:
        return KIND_TEXT;
    }
}

static bool
field_by_name(const char *name, ev_field_t *out)
{
    for (int f = 0; f < F_COUNT; f++)
        if (strcmp(ev_field_name((ev_field_t)f), name) == 0) {
            *out = (ev_field_t)f;
            return true;
        }
    return false;
}

/* Does event type `type` have `field`? Asked of the schema itself: a map
   with only the type and that key is refused as unknown_field exactly
   when the type has no such field. */
static bool
type_has_field(ev_type_t type, ev_field_t field)
{
    if (field == F_TYPE || field == F_ID || field == F_OCCURRED_AT || field == F_SOURCE)
        return true;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    const char *t = ev_type_name(type), *f = ev_field_name(field);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, t, strlen(t));
    msgpack_pack_str_with_body(&pk, f, strlen(f));
    msgpack_pack_nil(&pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool has = false;
    if (msgpack_unpack_next(&u, buf.data, buf.size, NULL) == MSGPACK_UNPACK_SUCCESS) {
        event_t ev;
        ev_error_t err;
        has = event_decode(&u.data, &ev, &err) != EVE_UNKNOWN_FIELD;
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    return has;
}

/* "order, rep, amount, ..." : the fields of a type, for a message. */
static void
fields_of(ev_type_t type, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = 0;
    for (int f = F_ID + 1; f < F_COUNT && o < outlen; f++)
        if (type_has_field(type, (ev_field_t)f))
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? ", " : "",
                                  ev_field_name((ev_field_t)f));
}

static bool
type_by_name(const char *name, ev_type_t *out)
{
    for (int t = 0; t < EV_TYPE_COUNT; t++)
        if (strcmp(ev_type_name((ev_type_t)t), name) == 0) {
            *out = (ev_type_t)t;
            return true;
        }
    return false;
}

/* ---------------------------------------------------------------------
   Options */

/* "C=F,C=F": split on commas (a column name cannot hold one here). */
static bool
add_maps(import_t *self, const char *arg)
{
    char *copy = strdup(arg), *save = NULL;
    bool ok = copy != NULL;
    for (char *pair = copy ? strtok_r(copy, ",", &save) : NULL; ok && pair;
         pair = strtok_r(NULL, ",", &save)) {
        char *eq = strrchr(pair, '=');
        if (!eq || eq == pair || !eq[1]) {
            cli_options_error(&self->common, "--map: expected COLUMN=FIELD, got \"%s\"", pair);
            ok = false;
        } else if (self->nmaps == IMPORT_MAX_MAPS) {
            cli_options_error(&self->common, "--map: at most %d columns", IMPORT_MAX_MAPS);
            ok = false;
        } else {
            *eq = 0;
            import_map_t *m = &self->maps[self->nmaps];
            snprintf(m->column, sizeof m->column, "%s", pair);
            m->index = -1;
            if (strcmp(eq + 1, "type") == 0)
                m->field = F_TYPE;
            else if (!field_by_name(eq + 1, &m->field)) {
                cli_options_error(&self->common, "--map: \"%s\" is not an event field", eq + 1);
                ok = false;
            }
            m->kind = kind_of(m->field);
            self->nmaps += ok;
        }
    }
    free(copy);
    return ok;
}

static bool
add_set(import_t *self, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[64];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name) {
        cli_options_error(&self->common, "--set: expected FIELD=VALUE, got \"%s\"", arg);
        return false;
    }
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
    import_set_t *s = &self->sets[self->nsets];
    if (self->nsets == IMPORT_MAX_MAPS || !field_by_name(name, &s->field) || s->field == F_TYPE) {
        cli_options_error(&self->common, "--set: \"%s\" is not an event field%s", name,
                          strcmp(name, "type") ? "" : " (use --type)");
        return false;
    }
    s->value = eq + 1;
    self->nsets++;
    return true;
}

/* -1 to go on, else the exit status. */
static int
import_parse(import_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"csv", required_argument, NULL, OPT_CSV},
        {"map", required_argument, NULL, OPT_MAP},
        {"set", required_argument, NULL, OPT_SET},
        {"type", required_argument, NULL, OPT_TYPE},
        {"encoding", required_argument, NULL, OPT_ENCODING},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
        {"id-prefix", required_argument, NULL, OPT_ID_PREFIX},
        {"delimiter", required_argument, NULL, OPT_DELIMITER},
        {"no-header", no_argument, NULL, OPT_NO_HEADER},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_init(&self->common, "import");
    self->type_name = "sale_closed";
    self->encoding = "utf-8";
    self->delimiter = ',';
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&self->common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0) {
            ok = true;
            switch (opt) {
            case OPT_CSV:
                self->path = optarg;
                break;
            case OPT_MAP:
                ok = add_maps(self, optarg);
                break;
            case OPT_SET:
                ok = add_set(self, optarg);
                break;
            case OPT_TYPE:
                self->type_name = optarg;
                break;
            case OPT_ENCODING:
                self->encoding = optarg;
                break;
            case OPT_DRY_RUN:
                self->dry_run = true;
                break;
            case OPT_SKIP_BAD:
                self->skip_bad = true;
                break;
            case OPT_ID_PREFIX:
                self->id_prefix = optarg;
                break;
            case OPT_DELIMITER:
                if (strcmp(optarg, "tab") == 0 || strcmp(optarg, "\\t") == 0)
                    self->delimiter = '\t';
                else if (strlen(optarg) == 1 && optarg[0] != '"' && optarg[0] != '\n')
                    self->delimiter = optarg[0];
                else {
                    cli_options_error(&self->common,
                                      "--delimiter: expected one character or 'tab'");
                    ok = false;
                }
                break;
            case OPT_NO_HEADER:
                self->no_header = true;
                break;
            case OPT_JSON:
                self->json = true;
                break;
            default:
                ok = false;
            }
        }
        if (!ok)
            return cli_options_try_help(&self->common);
    }
    int status = cli_options_end(&self->common, argc, argv, import_usage);
    if (status >= 0)
        return status;
    if (!self->path || !self->nmaps) {
        cli_options_error(&self->common, "%s is required", !self->path ? "--csv" : "--map");
        return CLI_EXIT_FAILED;
    }
    if (strcasecmp(self->encoding, "utf-8") == 0 || strcasecmp(self->encoding, "utf8") == 0)
        self->encoding = "UTF-8";
    else if (strcasecmp(self->encoding, "gb18030") == 0 || strcasecmp(self->encoding, "gbk") == 0 ||
             strcasecmp(self->encoding, "gb2312") == 0)
        self->encoding = "GB18030";
    else {
        cli_options_error(&self->common, "--encoding: expected utf-8 or gb18030, got \"%s\"",
                          self->encoding);
        return CLI_EXIT_FAILED;
    }
    if (!type_by_name(self->type_name, &self->type)) {
        cli_options_error(&self->common, "--type: \"%s\" is not an event type", self->type_name);
        return CLI_EXIT_FAILED;
    }
    self->type_column = self->currency_column = -1;
    for (size_t i = 0; i < self->nmaps; i++) {
        ev_field_t f = self->maps[i].field;
        if (f == F_TYPE)
            self->type_column = (int)i;
        if (f == F_CURRENCY)
            self->currency_column = (int)i;
        for (size_t j = 0; j < i; j++)
            if (self->maps[j].field == f) {
                cli_options_error(&self->common, "--map: two columns fill %s",
                                  f == F_TYPE ? "type" : ev_field_name(f));
                return CLI_EXIT_FAILED;
            }
        if (self->type_column < 0 && f != F_TYPE && !type_has_field(self->type, f)) {
            char fields[512];
            fields_of(self->type, fields, sizeof fields);
            cli_options_error(&self->common, "--map: %s has no field %s (its fields: %s)",
                              self->type_name, ev_field_name(f), fields);
            return CLI_EXIT_FAILED;
        }
    }
    for (size_t i = 0; self->type_column < 0 && i < self->nsets; i++)
        if (!type_has_field(self->type, self->sets[i].field)) {
            char fields[512];
            fields_of(self->type, fields, sizeof fields);
            cli_options_error(&self->common, "--set: %s has no field %s (its fields: %s)",
                              self->type_name, ev_field_name(self->sets[i].field), fields);
            return CLI_EXIT_FAILED;
        }
    return -1;
}

/* ---------------------------------------------------------------------
   The file */

/* The line of byte `at` (from 1). */
static uint64_t
line_of(const char *data, size_t at)
{
    uint64_t line = 1;
    for (size_t i = 0; i < at; i++)
        line += data[i] == '\n';
    return line;
}

static bool
read_all(import_t *self, char **data, size_t *len)
{
    FILE *in = strcmp(self->path, "-") == 0 ? stdin : fopen(self->path, "rb");
    if (!in) {
        cli_options_error(&self->common, "cannot open %s: %s", self->path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *grown = cap < IMPORT_MAX_FILE ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(in);
    if (in != stdin)
        fclose(in);
    if (!buf || failed) {
        cli_options_error(&self->common, "cannot read %s: %s", self->path,
                          buf ? strerror(errno) : "out of memory (or over 1 GiB)");
        free(buf);
        return false;
    }
    *data = buf;
    *len = n;
    return true;
}

/* Where the first byte that is not part of valid UTF-8 is; len if none. */
static size_t
utf8_bad_at(const char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)data[i];
        size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (i + n > len || !ev_utf8_valid(data + i, n))
            return i;
        i += n;
    }
    return len;
}

/* The file as UTF-8 in self->text. */
static bool
load_text(import_t *self)
{
    char *raw;
    size_t len;
    if (!read_all(self, &raw, &len))
        return false;
    if (strcmp(self->encoding, "UTF-8") == 0) {
        size_t bad = utf8_bad_at(raw, len);
        if (bad < len) {
            cli_options_error(&self->common,
                              "%s: line %" PRIu64 " is not valid UTF-8; if the file is from a "
                              "Chinese Excel or CRM, try --encoding gb18030",
                              self->path, line_of(raw, bad));
            free(raw);
            return false;
        }
        self->text = raw;
        self->text_len = len;
        return true;
    }
    iconv_t cd = iconv_open("UTF-8", self->encoding);
    if (cd == (iconv_t)-1) {
        cli_options_error(&self->common, "iconv cannot convert from %s: %s", self->encoding,
                          strerror(errno));
        free(raw);
        return false;
    }
    size_t cap = len * 2 + 16; /* a GB18030 character is at most 1.5x longer in UTF-8 */
    char *out = malloc(cap + 1), *in = raw, *o = out;
    size_t left = len, room = cap;
    bool ok = out != NULL;
    if (ok && iconv(cd, &in, &left, &o, &room) == (size_t)-1) {
        cli_options_error(&self->common, "%s: line %" PRIu64 " is not valid %s (%s)", self->path,
                          line_of(raw, (size_t)(in - raw)), self->encoding,
                          errno == EINVAL ? "a character is cut off at the end" : strerror(errno));
        ok = false;
    }
    iconv_close(cd);
    free(raw);
    if (!ok) {
        free(out);
        return false;
    }
    self->text = out;
    self->text_len = (size_t)(o - out);
    return true;
}

/* Resolve each mapped column against the header. */
static bool
resolve_columns(import_t *self, char **header, size_t count)
{
    for (size_t i = 0; i < self->nmaps; i++) {
        import_map_t *m = &self->maps[i];
        char *end = NULL;
        if (m->column[0] == '#') {
            long n = strtol(m->column + 1, &end, 10);
            if (*end == 0 && n >= 1 && (size_t)n <= count)
                m->index = (int)n - 1;
        }
        for (size_t c = 0; m->index < 0 && header && c < count; c++) {
            const char *name;
            size_t len;
            cli_cell_trim(header[c], &name, &len);
            if (len == strlen(m->column) && memcmp(name, m->column, len) == 0)
                m->index = (int)c;
        }
        if (m->index < 0 && !header) {
            cli_options_error(&self->common, "--map: no column %s: the first row has %zu",
                              m->column, count);
            return false;
        }
        if (m->index < 0) {
            char names[1024] = "";
            size_t o = 0;
            for (size_t c = 0; c < count && o < sizeof names; c++)
                o +=
                    (size_t)snprintf(names + o, sizeof names - o, "%s%s", c ? ", " : "", header[c]);
            cli_options_error(&self->common, "--map: no column \"%s\" in %s (its columns: %s)",
                              m->column, self->path, names);
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------------
   Rows */

/* Note a problem with a row: for the report, and counted once per row. */
static void
problem(import_t *self, uint64_t line, const char *column, const char *field, const char *code,
        const char *message)
{
    json_t *p = json_pack("{s:I, s:s?, s:s?, s:s, s:s}", "line", (json_int_t)line, "column", column,
                          "field", field, "error", code, "message", message);
    if (p)
        json_array_append_new(self->problems, p);
}

/* The cell of map m in this row; "" past the row's end. */
static const char *
cell_of(const import_map_t *m, char **fields, size_t count)
{
    return (size_t)m->index < count ? fields[m->index] : "";
}

static bool
blank(const char *text)
{
    const char *s;
    size_t n;
    cli_cell_trim(text, &s, &n);
    return n == 0;
}

/* Pack one field's value from its text; false with err set when the text
   does not convert. `currency` is the row's, updated when an amount names
   it. */
static bool
pack_value(msgpack_packer *pk, const import_map_t *m, const char *text, char currency[16],
           char *err, size_t errlen)
{
    const char *s;
    size_t n;
    cli_cell_trim(text, &s, &n);
    int64_t i;
    double d;
    char implied[4], date[16];
    field_kind_t kind = m->kind;
    if (kind == KIND_TIER)
        kind = currency[0] ? KIND_MONEY : KIND_INT;
    switch (kind) {
    case KIND_MONEY:
        if (!cli_cell_amount(text, currency, &i, implied, err, errlen))
            return false;
        if (implied[0])
            memcpy(currency, implied, 4);
        return msgpack_pack_int64(pk, i) == 0;
    case KIND_TIME:
        return cli_cell_time(text, &i, err, errlen) && msgpack_pack_int64(pk, i) == 0;
    case KIND_INT:
        return cli_cell_integer(text, &i, err, errlen) && msgpack_pack_int64(pk, i) == 0;
    case KIND_NUMBER:
        return cli_cell_number(text, &d, err, errlen) && msgpack_pack_double(pk, d) == 0;
    case KIND_DATE:
        return cli_cell_date(text, date, err, errlen) &&
               msgpack_pack_str_with_body(pk, date, strlen(date)) == 0;
    default:
        return msgpack_pack_str_with_body(pk, s, n) == 0;
    }
}

/* The row's currency, when a column or --set gives one: upper-cased, and
   RMB / 人民币 / 元 read as CNY; anything else as written, for the schema
   to judge. */
static void
row_currency(import_t *self, char **fields, size_t count, char out[16])
{
    const char *text = NULL;
    out[0] = 0;
    if (self->currency_column >= 0)
        text = cell_of(&self->maps[self->currency_column], fields, count);
    for (size_t i = 0; (!text || blank(text)) && i < self->nsets; i++)
        if (self->sets[i].field == F_CURRENCY)
            text = self->sets[i].value;
    if (!text)
        return;
    const char *s;
    size_t n;
    cli_cell_trim(text, &s, &n);
    if ((n == 3 && strncasecmp(s, "RMB", 3) == 0) || (n == 9 && !memcmp(s, "人民币", 9)) ||
        (n == 3 && !memcmp(s, "元", 3))) {
        memcpy(out, "CNY", 4);
        return;
    }
    snprintf(out, 16, "%.*s", (int)(n < 15 ? n : 15), s);
    for (int k = 0; n == 3 && k < 3; k++)
        out[k] = (char)(s[k] >= 'a' && s[k] <= 'z' ? s[k] - 32 : s[k]);
}

/* Where an event field came from, for a message: "column 金额 (amount)"
   or "--set currency". */
static void
origin_of(import_t *self, const char *field, char *column, size_t columnlen)
{
    column[0] = 0;
    for (size_t i = 0; i < self->nmaps; i++) {
        const char *name =
            self->maps[i].field == F_TYPE ? "type" : ev_field_name(self->maps[i].field);
        if (strcmp(name, field) == 0)
            snprintf(column, columnlen, "%s", self->maps[i].column);
    }
}

/* The event id from the content: "csv:" + hex of its hash, and ":n" for
   the nth identical row of the file. */
static void
content_id(import_t *self, const uint8_t *event, size_t len, char *out, size_t outlen)
{
    uint8_t hash[IMPORT_ID_HEX / 2];
    crypto_generichash(hash, sizeof hash, event, len, NULL, 0);
    char hex[IMPORT_ID_HEX + 1];
    cli_json_hex(hash, sizeof hash, hex);
    size_t seen = (size_t)zhashx_lookup(self->seen, hex) + 1;
    zhashx_update(self->seen, hex, (void *)seen);
    if (seen == 1)
        snprintf(out, outlen, "csv:%s", hex);
    else
        snprintf(out, outlen, "csv:%s:%zu", hex, seen);
}

/* Decode `packed` as an event. EVE_OK with *ev filled, or the error. */
static ev_errcode_t
decode(const msgpack_sbuffer *packed, msgpack_unpacked *u, event_t *ev, ev_error_t *err)
{
    if (msgpack_unpack_next(u, packed->data, packed->size, NULL) != MSGPACK_UNPACK_SUCCESS) {
        snprintf(err->message, sizeof err->message, "out of memory");
        return EVE_INTERNAL;
    }
    return event_decode(&u->data, ev, err);
}

/* Convert one data row into an event; a bad row is noted and skipped. */
static void
import_row(import_t *self, char **fields, size_t count, uint64_t line)
{
    char currency[16];
    row_currency(self, fields, count, currency);
    const char *type = self->type_name;
    if (self->type_column >= 0) {
        const char *s;
        size_t n;
        ev_type_t t;
        char name[64];
        cli_cell_trim(cell_of(&self->maps[self->type_column], fields, count), &s, &n);
        snprintf(name, sizeof name, "%.*s", (int)n, s);
        if (!type_by_name(name, &t)) {
            char message[200];
            snprintf(message, sizeof message, "type: \"%s\" is not an event type", name);
            problem(self, line, self->maps[self->type_column].column, "type",
                    ev_errcode_name(EVE_INVALID_VALUE), message);
            self->bad_rows++;
            return;
        }
        type = ev_type_name(t);
    }
    cli_map_t map;
    cli_map_init(&map);
    cli_map_str(&map, "type", type);
    bool has_id = false, bad = false;
    /* amounts first: one may name the currency the others need */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < self->nmaps; i++) {
            const import_map_t *m = &self->maps[i];
            if (m->field == F_TYPE || m->field == F_CURRENCY || (m->kind == KIND_MONEY) != !pass)
                continue;
            const char *text = cell_of(m, fields, count);
            if (blank(text))
                continue;
            char err[IMPORT_CELL_ERR_MAX];
            if (m->field == F_ID) {
                const char *s;
                size_t n;
                cli_cell_trim(text, &s, &n);
                char id[256];
                snprintf(id, sizeof id, "%s%.*s", self->id_prefix ? self->id_prefix : "", (int)n,
                         s);
                cli_map_str(&map, "id", id);
                has_id = true;
            } else if (!pack_value(cli_map_key(&map, ev_field_name(m->field)), m, text, currency,
                                   err, sizeof err)) {
                char message[IMPORT_CELL_ERR_MAX + 64];
                snprintf(message, sizeof message, "%s: %s", ev_field_name(m->field), err);
                problem(self, line, m->column, ev_field_name(m->field),
                        ev_errcode_name(EVE_INVALID_VALUE), message);
                bad = true;
            }
        }
    for (size_t i = 0; i < self->nsets; i++) {
        const import_set_t *s = &self->sets[i];
        bool mapped = false;
        for (size_t j = 0; j < self->nmaps; j++)
            mapped |=
                self->maps[j].field == s->field && !blank(cell_of(&self->maps[j], fields, count));
        if (mapped || s->field == F_CURRENCY)
            continue;
        import_map_t m = {.field = s->field, .kind = kind_of(s->field)};
        char err[IMPORT_CELL_ERR_MAX];
        if (s->field == F_ID) {
            cli_map_str(&map, "id", s->value);
            has_id = true;
        } else if (!pack_value(cli_map_key(&map, ev_field_name(s->field)), &m, s->value, currency,
                               err, sizeof err)) {
            char message[IMPORT_CELL_ERR_MAX + 64];
            snprintf(message, sizeof message, "--set %s: %s", ev_field_name(s->field), err);
            problem(self, line, NULL, ev_field_name(s->field), ev_errcode_name(EVE_INVALID_VALUE),
                    message);
            bad = true;
        }
    }
    if (currency[0])
        cli_map_str(&map, "currency", currency);
    if (!has_id)
        cli_map_str(&map, "id", IMPORT_PLACEHOLDER);
    if (bad) {
        self->bad_rows++;
        cli_map_destroy(&map);
        return;
    }

    msgpack_sbuffer packed;
    msgpack_sbuffer_init(&packed);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    event_t ev;
    ev_error_t err;
    ev_errcode_t rc = cli_map_finish(&map, &packed) ? decode(&packed, &u, &ev, &err) : EVE_INTERNAL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (rc == EVE_OK) {
        size_t cap = EV_MAX_BYTES + 1024;
        bytes = malloc(cap);
        len = bytes ? event_encode_buf(&ev, bytes, cap) : 0;
        if (len && !has_id) {
            char id[64];
            content_id(self, bytes, len, id, sizeof id);
            ev.v[F_ID].s.ptr = id;
            ev.v[F_ID].s.len = (uint32_t)strlen(id);
            len = event_encode_buf(&ev, bytes, cap);
        }
        if (!len) {
            rc = EVE_INTERNAL;
            snprintf(err.message, sizeof err.message, "out of memory");
        }
    }
    if (rc != EVE_OK) {
        /* the schema's message starts with the field: "amount: out of range" */
        char field[64] = "", column[256] = "";
        size_t flen = strcspn(err.message, ":");
        if (err.message[flen] == ':' && flen < sizeof field) {
            snprintf(field, sizeof field, "%.*s", (int)flen, err.message);
            origin_of(self, field, column, sizeof column);
            bool set = false;
            for (size_t i = 0; i < self->nsets; i++)
                set |= !strcmp(ev_field_name(self->sets[i].field), field);
            if (rc == EVE_MISSING_FIELD && !column[0] && !set && !self->unfilled[0])
                snprintf(self->unfilled, sizeof self->unfilled, "%s", field);
        }
        problem(self, line, column[0] ? column : NULL, field[0] ? field : NULL, ev_errcode_name(rc),
                err.message);
        self->bad_rows++;
        free(bytes);
    } else {
        if (self->nrows == self->rows_cap) {
            size_t cap = self->rows_cap ? self->rows_cap * 2 : 1024;
            import_row_t *grown = realloc(self->rows, cap * sizeof *grown);
            if (grown) {
                self->rows = grown;
                self->rows_cap = cap;
            }
        }
        if (self->nrows < self->rows_cap)
            self->rows[self->nrows++] = (import_row_t){line, (char *)bytes, len};
        else {
            problem(self, line, NULL, NULL, ev_errcode_name(EVE_INTERNAL), "out of memory");
            self->bad_rows++;
            free(bytes);
        }
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&packed);
    cli_map_destroy(&map);
}

/* Every row of the file into self->rows or self->problems. */
static bool
import_read(import_t *self)
{
    if (!self->json)
        self->progress = cli_progress_new(2 * (uint64_t)self->text_len);
    cli_csv_t *csv = cli_csv_new(self->text, self->text_len, self->delimiter);
    if (!csv) {
        cli_options_error(&self->common, "out of memory");
        return false;
    }
    char **fields, err[256];
    size_t count;
    uint64_t line;
    int rc = 1;
    bool resolved = false;
    if (!self->no_header) {
        rc = cli_csv_next(csv, &fields, &count, &line, err, sizeof err);
        if (rc == 0)
            count = 0;
        resolved = rc >= 0 && resolve_columns(self, rc > 0 ? fields : NULL, count);
        if (rc < 0)
            cli_options_error(&self->common, "%s: %s", self->path, err);
    }
    while ((self->no_header || resolved) &&
           (rc = cli_csv_next(csv, &fields, &count, &line, err, sizeof err)) > 0) {
        if (!resolved && !(resolved = resolve_columns(self, NULL, count)))
            break;
        self->data_rows++;
        import_row(self, fields, count, line);
        if (self->progress && self->data_rows % 1000 == 0) /* the first half: rows read */
            cli_progress_update(self->progress, cli_csv_offset(csv), self->data_rows);
        if (self->unfilled[0]) { /* every row would say so: say it once */
            cli_options_error(&self->common,
                              "%s needs %s: map a column to it (--map COLUMN=%s) or give it "
                              "(--set %s=VALUE)",
                              self->type_name, self->unfilled, self->unfilled, self->unfilled);
            resolved = false;
            break;
        }
    }
    if (rc < 0 && resolved)
        cli_options_error(&self->common, "%s: %s", self->path, err);
    cli_csv_destroy(&csv);
    return resolved && rc == 0;
}

/* ---------------------------------------------------------------------
   Appending */

static int
import_append(import_t *self)
{
    pacer_client_t *client = cli_options_client(&self->common, self->common.endpoint, NULL);
    pacer_batch_t *batch = pacer_batch_new();
    cli_progress_t *progress = self->progress;
    int status = CLI_EXIT_OK;
    if (!client)
        status = CLI_EXIT_FAILED;
    else if (!batch) {
        cli_options_error(&self->common, "out of memory");
        status = CLI_EXIT_FAILED;
    }
    for (size_t from = 0; status == CLI_EXIT_OK && from < self->nrows;) {
        size_t to = from;
        pacer_batch_reset(batch);
        while (to < self->nrows && to - from < IMPORT_BATCH &&
               pacer_batch_add_msgpack(batch, self->rows[to].event, self->rows[to].len) == PACER_OK)
            to++;
        pacer_append_result_t *result = NULL;
        int rc = to > from ? pacer_append(client, batch, &result) : PACER_ENOMEM;
        if (rc != PACER_OK) {
            cli_options_error(&self->common, "append of lines %" PRIu64 " to %" PRIu64 ": %s",
                              self->rows[from].line, self->rows[to > from ? to - 1 : from].line,
                              pacer_client_error(client)[0] ? pacer_client_error(client)
                                                            : pacer_strerror(rc));
            if (self->appended || self->duplicates)
                cli_options_error(&self->common,
                                  "the rows before line %" PRIu64
                                  " are in the log; run the same import again to append the "
                                  "rest (what is there comes back as duplicates)",
                                  self->rows[from].line);
            status = CLI_EXIT_FAILED;
            break;
        }
        for (size_t i = 0; i < pacer_append_result_count(result); i++) {
            const pacer_event_result_t *r = pacer_append_result_event(result, i);
            if (r->error) {
                self->rejected++;
                problem(self, self->rows[from + i].line, NULL, NULL, r->error, r->message);
            } else if (r->dup)
                self->duplicates++;
            else
                self->appended++;
        }
        pacer_append_result_destroy(&result);
        from = to;
        /* the second half of the bar: the rows appended */
        if (progress)
            cli_progress_update(progress, self->text_len + self->text_len * from / self->nrows,
                                from);
    }
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
    return status;
}

/* ---------------------------------------------------------------------
   Time zone and report */

/* Times are read in ZONE: --time-zone (a common option, or
   $PACER_TIME_ZONE), or pacerd's. */
static bool
import_zone(import_t *self)
{
    self->zone = self->common.time_zone;
    if (self->zone && strcmp(self->zone, "local") == 0)
        self->zone = getenv("TZ");
    if (self->zone && !self->zone[0])
        self->zone = NULL;
    if (self->zone)
        snprintf(self->zone_name, sizeof self->zone_name, "%s", self->zone);
    else {
        cli_map_t request;
        cli_map_init(&request);
        cli_map_str(&request, "op", "status");
        cli_reply_t reply;
        int rc = cli_request_run(&self->common, PACER_ENDPOINT_QUERY, &request, &reply);
        cli_map_destroy(&request);
        if (rc != CLI_EXIT_OK) {
            fputs("pacer import: times are read in pacerd's zone; give --time-zone to check a "
                  "file without it\n",
                  stderr);
            return false;
        }
        cli_reply_str(reply.body, "time_zone", self->zone_name, sizeof self->zone_name);
        cli_reply_done(&reply);
        if (!self->zone_name[0]) {
            cli_options_error(&self->common, "pacerd's status names no time_zone; give "
                                             "--time-zone");
            return false;
        }
    }
    char err[256];
    self->calendar = calendar_new(self->zone_name, 1, err, sizeof err); /* sets TZ */
    if (!self->calendar)
        cli_options_error(&self->common, "time zone: %s", err);
    return self->calendar != NULL;
}

static void
print_problems(import_t *self)
{
    size_t i;
    json_t *p;
    json_array_foreach(self->problems, i, p)
    {
        const char *column = json_string_value(json_object_get(p, "column"));
        const char *field = json_string_value(json_object_get(p, "field"));
        const char *message = json_string_value(json_object_get(p, "message"));
        printf("line %" PRId64 ": ", (int64_t)json_integer_value(json_object_get(p, "line")));
        const char *code = json_string_value(json_object_get(p, "error"));
        int id_len = 0;
        const char *id = NULL;
        if (!column && !field && strncmp(message, "event ", 6) == 0 && strstr(message, "): ")) {
            /* pacerd's "event 3 (id "x"): ...": the index is the batch's, the id is ours */
            const char *open = strstr(message, "(id \"");
            const char *rest = strstr(message, "): ");
            if (open && open < rest) {
                id = open + 5;
                id_len = (int)(rest - id - 1);
            }
            message = rest + 3;
        }
        if (!column && code)
            printf("%s: ", code);
        if (column)
            printf("column %s%s%s%s: ", column, field ? " (" : "", field ? field : "",
                   field ? ")" : "");
        /* the message names the field again: leave it out after the column */
        size_t skip = field && column && strncmp(message, field, strlen(field)) == 0 &&
                              message[strlen(field)] == ':'
                          ? strlen(field) + 2
                          : 0;
        printf("%s", message + (skip <= strlen(message) ? skip : 0));
        if (id)
            printf(" (id %.*s)", id_len > 0 ? id_len : 0, id);
        putchar('\n');
    }
}

static int
import_report(import_t *self, bool appended_any, int status)
{
    if (self->json) {
        json_t *out = json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:O}", "file", self->path,
            "encoding", self->encoding, "type", self->type_name, "time_zone", self->zone_name,
            "rows", (json_int_t)self->data_rows, "good_rows", (json_int_t)self->nrows, "bad_rows",
            (json_int_t)self->bad_rows, "dry_run", self->dry_run, "appended",
            (json_int_t)self->appended, "duplicates", (json_int_t)self->duplicates, "rejected",
            (json_int_t)self->rejected, "problems", self->problems);
        char *text = out ? cli_json_dumps(out) : NULL;
        json_decref(out);
        if (!text)
            return CLI_EXIT_FAILED;
        puts(text);
        free(text);
        return status;
    }
    printf("%s: %" PRIu64 " rows (%s), %s%s events, times in %s\n", self->path, self->data_rows,
           self->encoding, self->type_column >= 0 ? "type from a column, default " : "",
           self->type_name, self->zone_name);
    print_problems(self);
    if (self->dry_run)
        printf("dry run: %zu row%s would be appended, %" PRIu64 " bad; nothing was appended\n",
               self->nrows, self->nrows == 1 ? "" : "s", self->bad_rows);
    else if (!appended_any && self->nrows)
        printf("%" PRIu64 " bad row%s; nothing appended (fix %s, or --skip-bad to append the "
               "other %zu)\n",
               self->bad_rows, self->bad_rows == 1 ? "" : "s", self->bad_rows == 1 ? "it" : "them",
               self->nrows);
    else if (!appended_any)
        printf("%" PRIu64 " bad row%s; nothing appended\n", self->bad_rows,
               self->bad_rows == 1 ? "" : "s");
    else {
        printf("appended %" PRIu64 ", duplicate %" PRIu64 ", rejected %" PRIu64, self->appended,
               self->duplicates, self->rejected);
        if (self->bad_rows)
            printf(", bad rows skipped %" PRIu64, self->bad_rows);
        putchar('\n');
    }
    return status;
}

int
cli_import_main(int argc, char **argv)
{
    import_t self;
    memset(&self, 0, sizeof self);
    int status = import_parse(&self, argc, argv);
    if (status >= 0)
        return status;
    self.problems = json_array();
    self.seen = zhashx_new();
    if (!self.problems || !self.seen || sodium_init() < 0) {
        cli_options_error(&self.common, "out of memory");
        status = CLI_EXIT_FAILED;
    } else if (!import_zone(&self) || !load_text(&self) || !import_read(&self))
        status = CLI_EXIT_FAILED;
    else {
        bool append = !self.dry_run && (self.bad_rows == 0 || self.skip_bad) && self.nrows > 0;
        status = append ? import_append(&self) : CLI_EXIT_OK;
        if (status == CLI_EXIT_OK && (self.bad_rows || self.rejected))
            status = CLI_EXIT_REJECTED;
        cli_progress_destroy(&self.progress); /* erased before the report */
        status = import_report(&self, append, status);
    }
    cli_progress_destroy(&self.progress);
    for (size_t i = 0; i < self.nrows; i++)
        free(self.rows[i].event);
    free(self.rows);
    free(self.text);
    json_decref(self.problems);
    zhashx_destroy(&self.seen);
    calendar_destroy(&self.calendar);
    return status;
}
