/*  cli_undefined: `pacer undefined`, the credited ids that are no node.

    A sale, payment, activity, new customer or KPI record may name a rep
    (or scope) that no node_defined has defined yet: it is accepted and
    credited to that id, so that the order in which the CRM and the HR
    system send their events loses nothing (docs/EVENTS.md). A typo in a rep
    then collects credit unseen; `pacer status` counts such ids and this
    command lists them, one `undefined_nodes` query, with what each holds. */

#include "clients/cli_commands.h"

#include <stdio.h>
#include <string.h>

#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_table.h"

static void
undefined_usage(FILE *out)
{
    fputs("usage: pacer undefined [--limit N] [--json]\n"
          "\n"
          "The ids that sales, payments, activities, new customers or KPI records were\n"
          "credited to but that no node_defined defines: a rep not defined yet, or a typo.\n"
          "Each with the first and last local day it was credited and its totals over all\n"
          "time and product lines. Money is in major units with 2 decimals and no code:\n"
          "pacerd adds amounts of every currency credited without converting them\n"
          "(--raw: minor units, as pacerd counts them). They roll up nowhere until a\n"
          "node_defined defines them; then their credit joins the chain, also for the days\n"
          "before it.\n"
          "\n"
          "  --limit N       at most N ids (default 1000, at most 100000)\n"
          "  --json          print the reply as one JSON object\n"
          "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

static void
figure_cell(cli_table_t *table, const msgpack_object *row, const char *key, bool raw)
{
    int64_t value = 0;
    char text[64] = "";
    if (cli_reply_int(row, key, &value))
        cli_format_figure(value, cli_metric_unit(key), NULL, raw, text, sizeof text);
    cli_table_cell(table, NULL, text);
}

static int
undefined_print(const msgpack_object *body, bool raw)
{
    static const char *const names[] = {"NODE",  "FIRST DAY",  "LAST DAY",      "REVENUE",
                                        "DEALS", "ACTIVITIES", "NEW CUSTOMERS", "COLLECTIONS"};
    static const char *const keys[] = {"revenue", "deals", "activities", "new_customers",
                                       "collections"};
    const msgpack_object *rows = cli_reply_get(body, "nodes");
    uint32_t count = rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
    int64_t total = count;
    cli_reply_int(body, "total", &total);
    if (count == 0) {
        puts("every credited id is a defined node");
        return CLI_EXIT_OK;
    }
    cli_table_t *table = cli_table_new(8, names, "lllrrrrr");
    if (!table)
        return CLI_EXIT_FAILED;
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        char node[300], first[16], last[16];
        cli_reply_str(row, "node", node, sizeof node);
        cli_reply_str(row, "first_day", first, sizeof first);
        cli_reply_str(row, "last_day", last, sizeof last);
        cli_table_cell(table, NULL, node);
        cli_table_cell(table, NULL, first);
        cli_table_cell(table, NULL, last);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            figure_cell(table, row, keys[k], raw);
    }
    cli_table_print(table, stdout);
    cli_table_destroy(&table);
    printf("%lld credited id%s not defined%s\n", (long long)total, total == 1 ? " is" : "s are",
           total > (int64_t)count ? "; --limit shows more" : "");
    return CLI_EXIT_OK;
}

int
cli_undefined_main(int argc, char **argv)
{
    enum { OPT_LIMIT = CLI_OPT_FIRST_OWN, OPT_JSON };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "undefined");
    bool json = false, has_limit = false;
    uint64_t limit = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0 && opt == OPT_LIMIT)
            ok = has_limit = cli_options_uint(&common, "limit", optarg, 1, 100000, &limit);
        else if (handled == 0 && opt == OPT_JSON)
            ok = json = true;
        if (!ok)
            return cli_options_try_help(&common);
    }
    int status = cli_options_end(&common, argc, argv, undefined_usage);
    if (status >= 0)
        return status;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "undefined_nodes");
    if (has_limit)
        cli_map_int(&request, "limit", (int64_t)limit);
    cli_reply_t reply;
    status = cli_request_run(&common, PACER_ENDPOINT_QUERY, &request, &reply);
    cli_map_destroy(&request);
    if (status != CLI_EXIT_OK)
        return status;
    status =
        json ? cli_reply_print_json(&common, reply.body) : undefined_print(reply.body, common.raw);
    cli_reply_done(&reply);
    return status;
}
