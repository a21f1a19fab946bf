/*  cli_alerts: `pacer alerts` (the outbox, or what fires now) and `pacer silences`.

    `pacer alerts` pages through the `alerts` query from --since (every
    alert pacerd has raised, in aseq order), one line each as tail prints
    them; with --active it asks `alerts_active` instead and shows a table of
    what is firing now, with silences. `pacer silences` lists the silences
    in force. --json prints JSON Lines: one alert record (or silence) per
    line. */

#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clients/cli_alert.h"
#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_table.h"
#include "clients/cli_time.h"
#include "clients/libpacer_alert.h"

static void
alerts_usage(FILE *out)
{
    fputs("usage: pacer alerts [--active] [--prefix P]... [--severity S] [--since ASEQ]\n"
          "                    [--limit N] [--json] [--now TIME]\n"
          "\n"
          "Without --active: the alerts pacerd has raised, oldest first, one line each:\n"
          "when (in the daemon's time zone), #aseq, state, severity, summary.\n"
          "With --active: the alerts firing now, one row each, with their silences.\n"
          "\n"
          "  --active         what fires now instead of the history\n"
          "  --prefix P       only alerts whose topic starts with P (repeatable)\n"
          "  --severity S     info, warning or critical: that severity and above\n"
          "  --since ASEQ     history from this aseq on (default 1)\n"
          "  --limit N        at most N alerts\n"
          "  --json           JSON Lines: one alert record per line\n"
          "  --now TIME       with --active: judge silences at TIME (default: pacerd's\n"
          "                   clock; give the alert clock of a --manual-clock pacerd)\n"
          "\n" CLI_ALERT_PREFIX_HELP "\n" CLI_TIME_HELP "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

static int
severity_rank(const char *severity)
{
    return strcmp(severity, "critical") == 0 ? 2 : strcmp(severity, "warning") == 0 ? 1 : 0;
}

static int
alerts_history(cli_options_t *common, pacer_client_t *client, const char *const *prefixes,
               size_t nprefixes, const char *severity, uint64_t since, uint64_t limit, bool json)
{
    bool colour = !json && cli_table_colour();
    pacer_alerts_query_t query = {.from = since, .prefixes = prefixes, .prefix_count = nprefixes};
    uint64_t printed = 0;
    for (;;) {
        query.limit = PACER_ALERTS_MAX_LIMIT;
        pacer_alert_page_t *page = NULL;
        if (pacer_alerts(client, &query, &page) != PACER_OK) {
            cli_options_error(common, "%s", pacer_client_error(client));
            return pacer_client_error_code(client)[0] ? CLI_EXIT_REJECTED : CLI_EXIT_FAILED;
        }
        size_t count = pacer_alert_page_count(page);
        for (size_t i = 0; i < count && (!limit || printed < limit); i++) {
            const pacer_alert_t *alert = pacer_alert_page_get(page, i);
            if (severity && severity_rank(alert->severity) < severity_rank(severity))
                continue;
            if (!cli_alert_print(common, alert, json, colour)) {
                pacer_alert_page_destroy(&page);
                return CLI_EXIT_FAILED;
            }
            printed++;
        }
        bool end = pacer_alert_page_at_end(page) || (limit && printed >= limit);
        uint64_t next = pacer_alert_page_next(page);
        pacer_alert_page_destroy(&page);
        if (end)
            return CLI_EXIT_OK;
        if (next <= query.from) {
            cli_options_error(common,
                              "pacerd answered alerts from %" PRIu64 " with next %" PRIu64
                              ", which does not move on; stopping",
                              query.from, next);
            return CLI_EXIT_FAILED;
        }
        query.from = next;
    }
}

static int
alerts_active(cli_options_t *common, pacer_client_t *client,
              const pacer_alerts_active_query_t *query, bool json)
{
    pacer_alert_page_t *page = NULL;
    if (pacer_alerts_active(client, query, &page) != PACER_OK) {
        cli_options_error(common, "%s", pacer_client_error(client));
        return pacer_client_error_code(client)[0] ? CLI_EXIT_REJECTED : CLI_EXIT_FAILED;
    }
    size_t count = pacer_alert_page_count(page);
    int status = CLI_EXIT_OK;
    if (json) {
        for (size_t i = 0; i < count && status == CLI_EXIT_OK; i++)
            if (!cli_alert_print(common, pacer_alert_page_get(page, i), true, false))
                status = CLI_EXIT_FAILED;
        pacer_alert_page_destroy(&page);
        return status;
    }
    cli_request_use_zone(common);
    static const char *const names[] = {"SEVERITY", "SINCE", "SILENCED", "KEY", "SUMMARY"};
    cli_table_t *table = cli_table_new(5, names, "lllll");
    bool colour = cli_table_colour();
    for (size_t i = 0; table && i < count; i++) {
        const pacer_alert_t *alert = pacer_alert_page_get(page, i);
        char since[64] = "", silenced[96] = "";
        cli_time_format(alert->since ? alert->since : alert->at, since, sizeof since);
        if (alert->silenced && alert->silenced_until) {
            char until[64];
            cli_time_format(alert->silenced_until, until, sizeof until);
            snprintf(silenced, sizeof silenced, "until %s", until);
        } else if (alert->silenced)
            snprintf(silenced, sizeof silenced, "until resolved");
        cli_table_cell(table, colour ? cli_alert_style(alert) : NULL, alert->severity);
        cli_table_cell(table, NULL, since);
        cli_table_cell(table, NULL, silenced);
        cli_table_cell(table, NULL, alert->key);
        cli_table_cell(table, NULL, alert->summary);
    }
    if (!table) {
        cli_options_error(common, "out of memory");
        pacer_alert_page_destroy(&page);
        return CLI_EXIT_FAILED;
    }
    cli_table_hide_if_empty(table, 2);
    if (count == 0)
        puts("no alert is firing");
    else
        cli_table_print(table, stdout);
    uint64_t total = pacer_alert_page_total(page);
    if (total > count)
        printf("... and %" PRIu64 " more (raise --limit)\n", total - count);
    cli_table_destroy(&table);
    pacer_alert_page_destroy(&page);
    return CLI_EXIT_OK;
}

int
cli_alerts_main(int argc, char **argv)
{
    enum {
        OPT_ACTIVE = CLI_OPT_FIRST_OWN,
        OPT_PREFIX,
        OPT_SEVERITY,
        OPT_SINCE,
        OPT_LIMIT,
        OPT_JSON,
        OPT_NOW
    };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"active", no_argument, NULL, OPT_ACTIVE},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"severity", required_argument, NULL, OPT_SEVERITY},
        {"since", required_argument, NULL, OPT_SINCE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"json", no_argument, NULL, OPT_JSON},
        {"now", required_argument, NULL, OPT_NOW},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "alerts");
    int64_t now = 0;
    bool active = false, json = false;
    const char *severity = NULL;
    uint64_t since = 1, limit = 0;
    static char prefix_text[PACER_ALERTS_MAX_PREFIXES][600];
    const char *prefixes[PACER_ALERTS_MAX_PREFIXES];
    size_t nprefixes = 0;
    bool since_given = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0) {
            ok = true;
            switch (opt) {
            case OPT_ACTIVE:
                active = true;
                break;
            case OPT_PREFIX:
                if (nprefixes == PACER_ALERTS_MAX_PREFIXES) {
                    cli_options_error(&common, "at most %d --prefix", PACER_ALERTS_MAX_PREFIXES);
                    ok = false;
                    break;
                }
                cli_alert_prefix(optarg, prefix_text[nprefixes], sizeof prefix_text[nprefixes]);
                prefixes[nprefixes] = prefix_text[nprefixes];
                nprefixes++;
                break;
            case OPT_SEVERITY:
                severity = optarg;
                if (strcmp(severity, "info") != 0 && strcmp(severity, "warning") != 0 &&
                    strcmp(severity, "critical") != 0) {
                    cli_options_error(&common,
                                      "--severity: expected info, warning or critical, got \"%s\"",
                                      optarg);
                    ok = false;
                }
                break;
            case OPT_SINCE:
                since_given = true;
                ok = cli_options_uint(&common, "since", optarg, 0, UINT64_MAX - 1, &since);
                break;
            case OPT_LIMIT:
                ok = cli_options_uint(&common, "limit", optarg, 1, 100000, &limit);
                break;
            case OPT_JSON:
                json = true;
                break;
            case OPT_NOW:
                ok = cli_options_time(&common, "now", optarg, &now);
                break;
            default:
                ok = false;
            }
        }
        if (!ok)
            return cli_options_try_help(&common);
    }
    if (common.help) {
        alerts_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (optind < argc) {
        cli_options_error(&common, "unexpected argument \"%s\" (prefixes go with --prefix)",
                          argv[optind]);
        return CLI_EXIT_FAILED;
    }
    if (active && since_given) {
        cli_options_error(&common, "--since goes with the history, not --active");
        return CLI_EXIT_FAILED;
    }
    if (!active && now) {
        cli_options_error(&common, "--now goes with --active");
        return CLI_EXIT_FAILED;
    }
    pacer_client_t *client = cli_options_client(&common, NULL, common.query);
    if (!client)
        return CLI_EXIT_FAILED;
    pacer_alerts_active_query_t query = {.prefixes = prefixes,
                                         .prefix_count = nprefixes,
                                         .severity = severity,
                                         .limit = (size_t)limit,
                                         .now = now};
    int status =
        active ? alerts_active(&common, client, &query, json)
               : alerts_history(&common, client, prefixes, nprefixes, severity, since, limit, json);
    pacer_client_destroy(&client);
    return status;
}

/* ---- silences ---------------------------------------------------------------------- */

static void
silences_usage(FILE *out)
{
    fputs("usage: pacer silences [--json] [--now TIME]\n"
          "\n"
          "The silences in force: what each covers (an alert key or a topic prefix), until\n"
          "when, who set it and why. 'pacer unsilence' lifts one.\n"
          "\n"
          "  --json           JSON Lines: one silence per line\n"
          "  --now TIME       the silences in force at TIME (default: pacerd's clock)\n"
          "\n" CLI_TIME_HELP "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

int
cli_silences_main(int argc, char **argv)
{
    enum { OPT_JSON = CLI_OPT_FIRST_OWN, OPT_NOW };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"json", no_argument, NULL, OPT_JSON},
        {"now", required_argument, NULL, OPT_NOW},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "silences");
    bool json = false;
    int64_t now = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0 && opt == OPT_JSON)
            ok = json = true;
        else if (handled == 0 && opt == OPT_NOW)
            ok = cli_options_time(&common, "now", optarg, &now);
        if (!ok)
            return cli_options_try_help(&common);
    }
    int status = cli_options_end(&common, argc, argv, silences_usage);
    if (status >= 0)
        return status;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "silences");
    if (now)
        cli_map_int(&request, "now", now);
    cli_reply_t reply;
    status = cli_request_run(&common, PACER_ENDPOINT_QUERY, &request, &reply);
    cli_map_destroy(&request);
    if (status != CLI_EXIT_OK)
        return status;
    const msgpack_object *silences = cli_reply_get(reply.body, "silences");
    uint32_t count =
        silences && silences->type == MSGPACK_OBJECT_ARRAY ? silences->via.array.size : 0;
    if (!json)
        cli_request_use_zone(&common);
    static const char *const names[] = {"ALERT", "UNTIL", "AUTHOR", "REASON", "SEQ"};
    cli_table_t *table = json ? NULL : cli_table_new(5, names, "llllr");
    for (uint32_t i = 0; i < count && status == CLI_EXIT_OK; i++) {
        const msgpack_object *silence = &silences->via.array.ptr[i];
        if (json) {
            char err[256];
            json_t *object = cli_msgpack_to_json(silence, NULL, err, sizeof err);
            char *text = object ? cli_json_dumps(object) : NULL;
            json_decref(object);
            if (!text) {
                cli_options_error(&common, "a silence has no JSON form: %s", err);
                status = CLI_EXIT_FAILED;
                break;
            }
            puts(text);
            free(text);
            continue;
        }
        char alert[300], author[80], reason[1100], until[64] = "resolved";
        int64_t until_ms = 0, seq = 0;
        cli_reply_str(silence, "alert", alert, sizeof alert);
        cli_reply_str(silence, "author", author, sizeof author);
        cli_reply_str(silence, "reason", reason, sizeof reason);
        if (cli_reply_int(silence, "until", &until_ms))
            cli_time_format(until_ms, until, sizeof until);
        cli_reply_int(silence, "seq", &seq);
        if (table) {
            cli_table_cell(table, NULL, alert);
            cli_table_cell(table, NULL, until);
            cli_table_cell(table, NULL, author);
            cli_table_cell(table, NULL, reason);
            cli_table_cellf(table, NULL, "%" PRId64, seq);
        }
    }
    if (!json && count == 0)
        puts("no silence is in force");
    else if (table)
        cli_table_print(table, stdout);
    cli_table_destroy(&table);
    cli_reply_done(&reply);
    return status;
}
