/*  cli_events: `pacer events [--from SEQ] [--limit N] [--json]`, the log as JSON Lines.

    Pages through the `events` query (at most 10,000 records a request)
    from --from until --limit records are printed or the end of the log as
    it was when each page was read. Each record becomes one line
    {"seq":..,"recorded_at":..,"hash":"hex","event":{...}}. The events are
    fetched raw (the exact stored bytes) and converted by cli_json. */

#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/libpacer.h"

static void
events_usage(FILE *out)
{
    fputs("usage: pacer events [OPTIONS]\n"
          "\n"
          "Print the log as JSON Lines, one record a line:\n"
          "  {\"seq\":1,\"recorded_at\":1764590400123,\"hash\":\"<64 hex>\",\"event\":{...}}\n"
          "Each event as stored, in docs/EVENTS.md's units (money in minor units, times\n"
          "in ms UTC): what 'pacer append' takes, so the output appends as it is.\n"
          "\n"
          "  --from SEQ      first sequence number (default 1)\n"
          "  --limit N       print at most N records (default: to the end of the log)\n"
          "  --json          accepted like every command's: the output is JSON Lines\n"
          "                  either way, one JSON object a record\n"
          "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

/* Print one record. Returns 0, or -1 after printing why it cannot be. */
static int
events_print(const pacer_record_t *record)
{
    char err[256];
    int rc = CLI_JSON_OK;
    json_t *event =
        cli_msgpack_bytes_to_json(record->event, record->event_len, &rc, err, sizeof err);
    if (!event) {
        fprintf(stderr, "pacer events: seq %" PRIu64 ": the event has no JSON form: %s\n",
                record->seq, err);
        return -1;
    }
    char hash[2 * PACER_HASH_BYTES + 1];
    cli_json_hex(record->hash, PACER_HASH_BYTES, hash);
    /* principal: who appended it, when pacerd authenticated them */
    json_t *line =
        record->principal
            ? json_pack("{s:I, s:I, s:s, s:s, s:o}", "seq", (json_int_t)record->seq, "recorded_at",
                        (json_int_t)record->recorded_at, "hash", hash, "principal",
                        record->principal, "event", event)
            : json_pack("{s:I, s:I, s:s, s:o}", "seq", (json_int_t)record->seq, "recorded_at",
                        (json_int_t)record->recorded_at, "hash", hash, "event", event);
    char *text = line ? cli_json_dumps(line) : NULL;
    json_decref(line);
    if (!text) {
        fprintf(stderr, "pacer events: seq %" PRIu64 ": out of memory\n", record->seq);
        return -1;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return 0;
}

/* Print records from `from`, at most `limit` (0: no limit). */
static int
events_run(pacer_client_t *client, cli_options_t *common, uint64_t from, uint64_t limit)
{
    uint64_t printed = 0;
    for (;;) {
        uint64_t want = PACER_EVENTS_MAX_LIMIT;
        if (limit && limit - printed < want)
            want = limit - printed;
        pacer_page_t *page = NULL;
        if (pacer_events(client, from, (size_t)want, &page) != PACER_OK) {
            cli_options_error(common, "%s", pacer_client_error(client));
            return CLI_EXIT_FAILED;
        }
        size_t count = pacer_page_count(page);
        for (size_t i = 0; i < count && printed < (limit ? limit : UINT64_MAX); i++) {
            if (events_print(pacer_page_record(page, i)) != 0) {
                pacer_page_destroy(&page);
                return CLI_EXIT_FAILED;
            }
            printed++;
        }
        bool at_end = pacer_page_at_end(page) || count == 0;
        uint64_t next = pacer_page_next(page);
        pacer_page_destroy(&page);
        if (at_end || (limit && printed >= limit))
            break;
        if (next <= from) {
            cli_options_error(common,
                              "pacerd answered events from %" PRIu64 " with next %" PRIu64
                              ", which does not move on; stopping",
                              from, next);
            return CLI_EXIT_FAILED;
        }
        from = next;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_options_error(common, "cannot write the output: %s", strerror(errno));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

int
cli_events_main(int argc, char **argv)
{
    enum { OPT_FROM = CLI_OPT_FIRST_OWN, OPT_LIMIT, OPT_JSON };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"from", required_argument, NULL, OPT_FROM},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "events");
    uint64_t from = 1, limit = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0 && opt == OPT_FROM)
            ok = cli_options_uint(&common, "from", optarg, 1, UINT64_MAX, &from);
        else if (handled == 0 && opt == OPT_LIMIT)
            ok = cli_options_uint(&common, "limit", optarg, 1, UINT64_MAX, &limit);
        else if (handled == 0 && opt == OPT_JSON)
            ok = true; /* JSON Lines already */
        if (!ok)
            return cli_options_try_help(&common);
    }
    int status = cli_options_end(&common, argc, argv, events_usage);
    if (status >= 0)
        return status;
    pacer_client_t *client = cli_options_client(&common, NULL, common.query);
    if (!client)
        return CLI_EXIT_FAILED;
    status = events_run(client, &common, from, limit);
    pacer_client_destroy(&client);
    return status;
}
