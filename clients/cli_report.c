/*  cli_report: `pacer progress`, `pacer leaderboard` and `pacer rebuild`.

    progress and leaderboard are one query each (docs/PROTOCOL.md, "Targets
    and progress"); the reply's rows are printed as a table for people or,
    with --json, passed through as one JSON object for scripts. Figures are
    printed in each metric's unit as people read it (cli_table.h): money in
    major units with the target's currency, counts, ratio metrics in
    percent; --raw prints the integers pacerd sends (minor units, basis
    points). A target's money is in the target's currency, and without a
    code when the target has none (as pacerd's alert summaries write it). A
    roll-up row has no target and so no currency of its own: it takes the
    one the targets of its metric under it in the reply agree on, if they
    do. Times are in pacerd's time zone, with the offset.

    Attainment is drawn as a bar, status is coloured when stdout is a
    terminal (green on track or achieved, yellow at risk, red behind, bold
    for stretch achieved), and a parent's coverage says how much of its
    target its children's targets add up to.

    rebuild asks the writer to fold the whole log again and prints how many
    events that took and how long. */

#include "clients/cli_commands.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_table.h"
#include "clients/cli_time.h"
#include "clients/libpacer.h"

#define REPORT_BAR_CELLS 10

enum {
    OPT_PERIOD = CLI_OPT_FIRST_OWN,
    OPT_SCOPE,
    OPT_METRIC,
    OPT_PRODUCT_LINE,
    OPT_NOW,
    OPT_CURVE,
    OPT_AS_OF,
    OPT_AS_OF_SEQ,
    OPT_LEVEL,
    OPT_LIMIT,
    OPT_JSON
};

typedef struct {
    cli_options_t common;
    const char *period, *scope, *metric, *product_line, *curve, *level;
    bool has_now, has_as_of, has_as_of_seq, has_limit, json;
    int64_t now, as_of;
    uint64_t as_of_seq, limit;
} report_args_t;

static void
progress_usage(FILE *out)
{
    fputs("usage: pacer progress --period P [--scope S] [--metric M] [--product-line L]\n"
          "       [--now TIME] [--curve working|linear|profile] [--as-of TIME | --as-of-seq N]\n"
          "       [--limit N] [--json]\n"
          "\n"
          "Progress against target of every target key under a node: actual, target,\n"
          "attainment, pace ratio (actual / expected by now), status, tier reached,\n"
          "end-of-period forecast, the rate per working day needed for the rest of the\n"
          "period, and for parents the coverage of their target by their children's.\n"
          "Nodes without a target of their own on the way show their rolled-up actual.\n"
          "\n"
          "  --period P          2026-10, 2026-Q4, 2026-W47, FY2026, ... (required)\n"
          "  --scope S           a node id or path prefix (acme/east): that subtree\n"
          "                      (default: everything)\n"
          "  --metric M          one metric (default: every metric with a target)\n"
          "  --product-line L    the keys of one product line (default: the keys without\n"
          "                      one, which count all product lines); '*': those and the\n"
          "                      keys of every product line, each row naming its line\n"
          "  --now TIME          evaluate pace as of TIME (default: the daemon's clock)\n"
          "  --curve C           working (default: working days), linear (calendar days),\n"
          "                      profile (last year's daily actuals)\n"
          "  --as-of TIME        answer from the log as it stood at TIME (an audit answer,\n"
          "                      replayed: slower)\n"
          "  --as-of-seq N       answer from the log up to and including seq N\n"
          "  --limit N           at most N rows (default 1000)\n"
          "  --json              print the reply as one JSON object\n"
          "\n"
          "Money is shown in major units with the target's currency (31,000.00 CNY),\n"
          "counts as counts, ratio metrics in percent (95.00%), KPI values as pacerd\n"
          "counts them (x 1000); --raw shows minor units and basis points. Times are in\n"
          "pacerd's time zone (--time-zone for another).\n"
          "\n" CLI_TIME_HELP "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

static void
leaderboard_usage(FILE *out)
{
    fputs("usage: pacer leaderboard --level rep|team|region|company --period P --metric M\n"
          "       [--scope S] [--product-line L] [--now TIME] [--curve C] [--limit N] [--json]\n"
          "\n"
          "The nodes of one level that have a target for the key, ranked by attainment\n"
          "(ties: by actual, then id).\n"
          "\n"
          "  --level L           rep, team, region or company (required)\n"
          "  --period P          the period (required)\n"
          "  --metric M          the metric (required)\n"
          "  --scope S           only nodes under this node or path prefix\n"
          "  --product-line L    the key of one product line (default: the key without\n"
          "                      one, which counts all product lines)\n"
          "  --now TIME          evaluate pace as of TIME (default: the daemon's clock)\n"
          "  --curve C           working (default), linear or profile\n"
          "  --limit N           the top N\n"
          "  --json              print the reply as one JSON object\n"
          "\n"
          "Money is shown in major units with the target's currency; --raw shows minor\n"
          "units.\n"
          "\n" CLI_TIME_HELP "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

static void
rebuild_usage(FILE *out)
{
    fputs("usage: pacer rebuild [--json]\n"
          "\n"
          "Discard pacerd's folds (the targets-and-progress projection, the alert settings,\n"
          "the detectors) and their snapshots and fold the whole log again; appends wait\n"
          "meanwhile. Prints the events folded and the time taken. Answers afterwards are\n"
          "the same as before: every fold is a pure fold of the log.\n"
          "\n"
          "  --json              print the reply as one JSON object\n"
          "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

/* Parse the options of `command`; `allowed` lists the letters of the
   options it takes. Returns -1 to go on, else the exit status. */
static int
report_parse(report_args_t *args, const char *command, int argc, char **argv, void (*usage)(FILE *),
             const int *allowed, size_t nallowed)
{
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"period", required_argument, NULL, OPT_PERIOD},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"product-line", required_argument, NULL, OPT_PRODUCT_LINE},
        {"now", required_argument, NULL, OPT_NOW},
        {"curve", required_argument, NULL, OPT_CURVE},
        {"as-of", required_argument, NULL, OPT_AS_OF},
        {"as-of-seq", required_argument, NULL, OPT_AS_OF_SEQ},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_init(&args->common, command);
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&args->common, opt, optarg);
        bool ok = handled > 0;
        bool known = false;
        for (size_t i = 0; i < nallowed; i++)
            known = known || allowed[i] == opt;
        if (handled == 0 && !known && opt != '?') {
            const char *name = "?";
            for (const struct option *o = options; o->name; o++)
                if (o->val == opt)
                    name = o->name;
            cli_options_error(&args->common, "--%s is not an option of pacer %s", name, command);
        } else if (handled == 0 && known) {
            ok = true;
            switch (opt) {
            case OPT_PERIOD:
                args->period = optarg;
                break;
            case OPT_SCOPE:
                args->scope = optarg;
                break;
            case OPT_METRIC:
                args->metric = optarg;
                break;
            case OPT_PRODUCT_LINE:
                args->product_line = optarg;
                break;
            case OPT_NOW:
                ok = cli_options_time(&args->common, "now", optarg, &args->now);
                args->has_now = true;
                break;
            case OPT_AS_OF:
                ok = cli_options_time(&args->common, "as-of", optarg, &args->as_of);
                args->has_as_of = true;
                break;
            case OPT_CURVE:
                args->curve = optarg;
                ok = strcmp(optarg, "working") == 0 || strcmp(optarg, "linear") == 0 ||
                     strcmp(optarg, "profile") == 0;
                if (!ok)
                    cli_options_error(&args->common,
                                      "--curve: expected working, linear or profile, got \"%s\"",
                                      optarg);
                break;
            case OPT_AS_OF_SEQ:
                ok = cli_options_uint(&args->common, "as-of-seq", optarg, 1, INT64_MAX,
                                      &args->as_of_seq);
                args->has_as_of_seq = true;
                break;
            case OPT_LEVEL:
                args->level = optarg;
                ok = strcmp(optarg, "rep") == 0 || strcmp(optarg, "team") == 0 ||
                     strcmp(optarg, "region") == 0 || strcmp(optarg, "company") == 0;
                if (!ok)
                    cli_options_error(&args->common,
                                      "--level: expected rep, team, region or company, got \"%s\"",
                                      optarg);
                break;
            case OPT_LIMIT:
                ok = cli_options_uint(&args->common, "limit", optarg, 1, 100000, &args->limit);
                args->has_limit = true;
                break;
            case OPT_JSON:
                args->json = true;
                break;
            }
        }
        if (!ok)
            return cli_options_try_help(&args->common);
    }
    return cli_options_end(&args->common, argc, argv, usage);
}

/* The options progress and leaderboard share, into the request. */
static void
report_pack_common(cli_map_t *request, const report_args_t *args)
{
    cli_map_str(request, "scope", args->scope);
    cli_map_str(request, "period", args->period);
    cli_map_str(request, "metric", args->metric);
    if (args->product_line && strcmp(args->product_line, "*") == 0)
        cli_map_bool(request, "each_product_line", true);
    else
        cli_map_str(request, "product_line", args->product_line);
    cli_map_str(request, "curve", args->curve);
    if (args->has_now)
        cli_map_int(request, "now", args->now);
    if (args->has_limit)
        cli_map_int(request, "limit", (int64_t)args->limit);
}

/* How a row's figures read: its metric's unit and currency. */
typedef struct {
    cli_unit_t unit;
    char currency[8];
    bool raw;
} figure_t;

/* The currency that the targets of `metric` at `path` and under it agree
   on, in the rows of the reply; "" when none has one or they differ (then
   no code is shown rather than a wrong one). */
static void
common_currency(const msgpack_object *rows, const char *metric, const char *path, char *out,
                size_t outlen)
{
    out[0] = '\0';
    bool found = false;
    size_t len = strlen(path);
    for (uint32_t i = 0; rows && rows->type == MSGPACK_OBJECT_ARRAY && i < rows->via.array.size;
         i++) {
        char row_metric[80], row_path[512], currency[8];
        const msgpack_object *row = &rows->via.array.ptr[i];
        cli_reply_str(row, "metric", row_metric, sizeof row_metric);
        cli_reply_str(row, "path", row_path, sizeof row_path);
        if (strcmp(row_metric, metric) != 0 || strncmp(row_path, path, len) != 0 ||
            (row_path[len] != '\0' && row_path[len] != '/') ||
            !cli_reply_str(row, "currency", currency, sizeof currency) || !currency[0])
            continue;
        if (found && strcmp(out, currency) != 0) {
            out[0] = '\0';
            return;
        }
        snprintf(out, outlen, "%s", currency);
        found = true;
    }
}

static figure_t
row_figure(const report_args_t *args, const msgpack_object *rows, const msgpack_object *row)
{
    figure_t figure = {.raw = args->common.raw};
    char metric[80], path[512];
    cli_reply_str(row, "metric", metric, sizeof metric);
    cli_reply_str(row, "path", path, sizeof path);
    figure.unit = cli_metric_unit(metric);
    bool has_target = true;
    cli_reply_bool(row, "has_target", &has_target);
    if (figure.unit != CLI_UNIT_MONEY)
        return figure;
    if (has_target)
        cli_reply_str(row, "currency", figure.currency, sizeof figure.currency);
    else
        common_currency(rows, metric, path, figure.currency, sizeof figure.currency);
    return figure;
}

/* A figure of the row's metric, or `none` when it is absent or nil. */
static void
figure_cell(cli_table_t *table, const figure_t *figure, const msgpack_object *row, const char *key,
            const char *none)
{
    int64_t value = 0;
    char text[64];
    if (!cli_reply_int(row, key, &value)) {
        cli_table_cell(table, NULL, none);
        return;
    }
    cli_format_figure(value, figure->unit, figure->currency, figure->raw, text, sizeof text);
    cli_table_cell(table, NULL, text);
}

/* A rate that is a float on the wire. */
static void
rate_cell(cli_table_t *table, const figure_t *figure, const msgpack_object *row, const char *key)
{
    double value = 0;
    char text[64] = "";
    if (cli_reply_double(row, key, &value))
        cli_format_rate(value, figure->unit, figure->currency, figure->raw, text, sizeof text);
    cli_table_cell(table, NULL, text);
}

/* Two cells: the bar, and the percentage right-aligned beside it. */
static void
attainment_cells(cli_table_t *table, const msgpack_object *row)
{
    double attainment = 0;
    char bar[128] = "", percent[64] = "";
    if (cli_reply_double(row, "attainment", &attainment)) {
        cli_format_bar(attainment, REPORT_BAR_CELLS, bar, sizeof bar);
        cli_format_percent(attainment, percent, sizeof percent);
    }
    cli_table_cell(table, NULL, bar);
    cli_table_cell(table, NULL, percent);
}

static void
pace_cell(cli_table_t *table, const msgpack_object *row)
{
    double pace = 0;
    char text[64] = "";
    if (cli_reply_double(row, "pace_ratio", &pace))
        cli_format_ratio(pace, text, sizeof text);
    cli_table_cell(table, NULL, text);
}

static void
status_cell(cli_table_t *table, const msgpack_object *row, bool colour)
{
    char status[32];
    bool has_target = true;
    cli_reply_bool(row, "has_target", &has_target);
    if (!has_target) {
        cli_table_cell(table, NULL, "(no target)");
        return;
    }
    cli_reply_str(row, "status", status, sizeof status);
    cli_table_cell(table, colour ? cli_status_style(status) : NULL, status);
}

/* "93% 2/3": children's targets against this node's, and how many children
   have one. Empty for a node without children. */
static void
coverage_cell(cli_table_t *table, const msgpack_object *row)
{
    const msgpack_object *coverage = cli_reply_get(row, "coverage");
    int64_t children = 0, with_target = 0;
    double ratio = 0;
    if (!coverage || !cli_reply_int(coverage, "children", &children)) {
        cli_table_cell(table, NULL, "");
        return;
    }
    cli_reply_int(coverage, "with_target", &with_target);
    char percent[64];
    if (cli_reply_double(coverage, "ratio", &ratio)) {
        cli_format_percent(ratio, percent, sizeof percent);
        cli_table_cellf(table, NULL, "%s %" PRId64 "/%" PRId64, percent, with_target, children);
    } else
        cli_table_cellf(table, NULL, "- %" PRId64 "/%" PRId64, with_target, children);
}

/* The line above a table: the period and the moment the answer is for. */
static void
print_heading(const msgpack_object *body, const msgpack_object *rows)
{
    char period[64] = "", from[64] = "", to[64] = "", now_text[64] = "", curve[16] = "";
    int64_t start = 0, end = 0, now = 0, seq = 0;
    if (rows && rows->type == MSGPACK_OBJECT_ARRAY && rows->via.array.size > 0) {
        const msgpack_object *first = &rows->via.array.ptr[0];
        cli_reply_str(first, "period", period, sizeof period);
        cli_reply_str(first, "curve", curve, sizeof curve);
        if (cli_reply_int(first, "period_start", &start) &&
            cli_reply_int(first, "period_end", &end)) {
            cli_time_format(start, from, sizeof from);
            cli_time_format(end, to, sizeof to);
        }
    }
    if (cli_reply_int(body, "now", &now))
        cli_time_format(now, now_text, sizeof now_text);
    cli_reply_int(body, "seq", &seq);
    if (period[0])
        printf("%s [%s, %s)  ", period, from, to);
    printf("now %s  log seq %" PRId64 "%s%s\n", now_text, seq, curve[0] ? "  curve " : "", curve);
}

static int
report_print_progress(report_args_t *args, const msgpack_object *body)
{
    static const char *const names[] = {"PATH",       "METRIC",  "LINE",    "ACTUAL", "TARGET",
                                        "ATTAINMENT", "",        "PACE",    "STATUS", "TIER",
                                        "FORECAST",   "REQ/DAY", "COVERAGE"};
    cli_table_t *table = cli_table_new(13, names, "lllrrlrrllrrr");
    if (!table)
        return CLI_EXIT_FAILED;
    bool colour = cli_table_colour();
    const msgpack_object *rows = cli_reply_get(body, "rows");
    uint32_t count = rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        figure_t figure = row_figure(args, rows, row);
        char path[512], metric[80], line[80], tier[16];
        cli_reply_str(row, "path", path, sizeof path);
        cli_reply_str(row, "metric", metric, sizeof metric);
        cli_reply_str(row, "product_line", line, sizeof line);
        cli_reply_str(row, "tier", tier, sizeof tier);
        cli_table_cell(table, NULL, path);
        cli_table_cell(table, NULL, metric);
        cli_table_cell(table, NULL, line);
        figure_cell(table, &figure, row, "actual", "");
        figure_cell(table, &figure, row, "target", "-");
        attainment_cells(table, row);
        pace_cell(table, row);
        status_cell(table, row, colour);
        cli_table_cell(table, NULL, strcmp(tier, "none") == 0 ? "" : tier);
        figure_cell(table, &figure, row, "forecast", "");
        rate_cell(table, &figure, row, "required_rate");
        coverage_cell(table, row);
    }
    cli_table_hide_if_empty(table, 2);
    cli_table_hide_if_empty(table, 12);
    cli_request_use_zone(&args->common);
    print_heading(body, rows);
    if (count == 0)
        puts("no targets in this selection");
    else
        cli_table_print(table, stdout);
    int64_t total = 0;
    if (cli_reply_int(body, "total", &total) && total > (int64_t)count)
        printf("%" PRIu32 " of %" PRId64 " rows; --limit shows more\n", count, total);
    cli_table_destroy(&table);
    return CLI_EXIT_OK;
}

static int
report_print_leaderboard(report_args_t *args, const msgpack_object *body)
{
    static const char *const names[] = {"RANK",       "PATH", "NAME", "ACTUAL", "TARGET",
                                        "ATTAINMENT", "",     "PACE", "STATUS", "FORECAST"};
    cli_table_t *table = cli_table_new(10, names, "rllrrlrrlr");
    if (!table)
        return CLI_EXIT_FAILED;
    bool colour = cli_table_colour();
    const msgpack_object *rows = cli_reply_get(body, "rows");
    uint32_t count = rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        figure_t figure = row_figure(args, rows, row);
        char path[512], name[300];
        int64_t rank = i + 1;
        cli_reply_int(row, "rank", &rank);
        cli_reply_str(row, "path", path, sizeof path);
        cli_reply_str(row, "name", name, sizeof name);
        cli_table_cellf(table, NULL, "%" PRId64, rank);
        cli_table_cell(table, NULL, path);
        cli_table_cell(table, NULL, name);
        figure_cell(table, &figure, row, "actual", "");
        figure_cell(table, &figure, row, "target", "-");
        attainment_cells(table, row);
        pace_cell(table, row);
        status_cell(table, row, colour);
        figure_cell(table, &figure, row, "forecast", "");
    }
    cli_request_use_zone(&args->common);
    print_heading(body, rows);
    if (count == 0)
        puts("no node of that level has a target for this key");
    else
        cli_table_print(table, stdout);
    cli_table_destroy(&table);
    return CLI_EXIT_OK;
}

/* Send the request and print its reply with `print` or as JSON. */
static int
report_run(report_args_t *args, pacer_endpoint_t endpoint, cli_map_t *request,
           int (*print)(report_args_t *, const msgpack_object *))
{
    cli_reply_t reply;
    int status = cli_request_run(&args->common, endpoint, request, &reply);
    if (status != CLI_EXIT_OK)
        return status;
    status = args->json ? cli_reply_print_json(&args->common, reply.body) : print(args, reply.body);
    cli_reply_done(&reply);
    return status;
}

int
cli_report_progress_main(int argc, char **argv)
{
    static const int allowed[] = {OPT_PERIOD, OPT_SCOPE, OPT_METRIC,    OPT_PRODUCT_LINE, OPT_NOW,
                                  OPT_CURVE,  OPT_AS_OF, OPT_AS_OF_SEQ, OPT_LIMIT,        OPT_JSON};
    report_args_t args = {0};
    int status = report_parse(&args, "progress", argc, argv, progress_usage, allowed,
                              sizeof allowed / sizeof allowed[0]);
    if (status >= 0)
        return status;
    if (!args.period) {
        cli_options_error(&args.common, "--period is required");
        return CLI_EXIT_FAILED;
    }
    if (args.has_as_of && args.has_as_of_seq) {
        cli_options_error(&args.common, "give --as-of or --as-of-seq, not both");
        return CLI_EXIT_FAILED;
    }
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "progress");
    report_pack_common(&request, &args);
    if (args.has_as_of)
        cli_map_int(&request, "as_of", args.as_of);
    if (args.has_as_of_seq)
        cli_map_int(&request, "as_of_seq", (int64_t)args.as_of_seq);
    status = report_run(&args, PACER_ENDPOINT_QUERY, &request, report_print_progress);
    cli_map_destroy(&request);
    return status;
}

int
cli_report_leaderboard_main(int argc, char **argv)
{
    static const int allowed[] = {OPT_LEVEL, OPT_PERIOD, OPT_METRIC, OPT_SCOPE, OPT_PRODUCT_LINE,
                                  OPT_NOW,   OPT_CURVE,  OPT_LIMIT,  OPT_JSON};
    report_args_t args = {0};
    int status = report_parse(&args, "leaderboard", argc, argv, leaderboard_usage, allowed,
                              sizeof allowed / sizeof allowed[0]);
    if (status >= 0)
        return status;
    const char *missing = !args.level    ? "--level"
                          : !args.period ? "--period"
                          : !args.metric ? "--metric"
                                         : NULL;
    if (missing) {
        cli_options_error(&args.common, "%s is required", missing);
        return CLI_EXIT_FAILED;
    }
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "leaderboard");
    cli_map_str(&request, "level", args.level);
    report_pack_common(&request, &args);
    status = report_run(&args, PACER_ENDPOINT_QUERY, &request, report_print_leaderboard);
    cli_map_destroy(&request);
    return status;
}

static int
report_print_rebuild(report_args_t *args, const msgpack_object *body)
{
    int64_t events = 0, ms = 0;
    cli_reply_int(body, "events", &events);
    cli_reply_int(body, "ms", &ms);
    printf("rebuilt: %" PRId64 " events folded in %" PRId64 " ms\n", events, ms);
    return CLI_EXIT_OK;
}

int
cli_report_rebuild_main(int argc, char **argv)
{
    static const int allowed[] = {OPT_JSON};
    report_args_t args = {0};
    int status = report_parse(&args, "rebuild", argc, argv, rebuild_usage, allowed, 1);
    if (status >= 0)
        return status;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "rebuild");
    status = report_run(&args, PACER_ENDPOINT_APPEND, &request, report_print_rebuild);
    cli_map_destroy(&request);
    return status;
}
