/*  cli_status: `pacer status [--json]`, what the daemon says about itself.

    One `status` query (libpacer decodes it into pacer_status_t), printed for
    people by default, or as one JSON object with --json for scripts; the
    JSON keys are the protocol's, with last_hash as hex. */

#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/libpacer.h"

static void
status_usage(FILE *out)
{
    fputs("usage: pacer status [OPTIONS]\n"
          "\n"
          "Show pacerd's status: log length, last seq and hash, state directory, uptime,\n"
          "the credited ids that are not defined nodes ('pacer undefined' lists them) and\n"
          "counters. Exit status 2 when pacerd cannot be reached.\n"
          "\n"
          "  --json          one JSON object instead of text\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

/* "1d 02h 03m 04s", leaving out leading zero units. */
static void
format_duration(int64_t ms, char *out, size_t outlen)
{
    int64_t s = ms / 1000;
    int64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
    if (d > 0)
        snprintf(out, outlen, "%" PRId64 "d %02" PRId64 "h %02" PRId64 "m", d, h, m);
    else if (h > 0)
        snprintf(out, outlen, "%" PRId64 "h %02" PRId64 "m %02" PRId64 "s", h, m, s % 60);
    else if (m > 0)
        snprintf(out, outlen, "%" PRId64 "m %02" PRId64 "s", m, s % 60);
    else
        snprintf(out, outlen, "%.1f s", ms / 1000.0);
}

static void
format_bytes(uint64_t bytes, char *out, size_t outlen)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024;
        unit++;
    }
    snprintf(out, outlen, unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
}

/* ISO 8601 UTC with milliseconds. */
static void
format_time(int64_t ms, char *out, size_t outlen)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&seconds, &tm)) {
        snprintf(out, outlen, "%" PRId64 " ms", ms);
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", date, (int)(ms % 1000));
}

static void
status_print_text(const pacer_status_t *status)
{
    char hash[2 * PACER_HASH_BYTES + 1], started[48], uptime[48], map_size[32];
    cli_json_hex(status->last_hash, PACER_HASH_BYTES, hash);
    format_time(status->started_at, started, sizeof started);
    format_duration(status->uptime_ms, uptime, sizeof uptime);
    format_bytes(status->map_size, map_size, sizeof map_size);
    printf("pacerd %s, protocol %" PRId64 "\n", status->version[0] ? status->version : "?",
           status->protocol);
    printf("state dir   %s\n", status->state_dir);
    printf("log         %" PRIu64 " events, last seq %" PRIu64 "\n", status->log_events,
           status->last_seq);
    printf("last hash   %s\n", hash);
    printf("started     %s, up %s\n", started, uptime);
    printf("map size    %s\n", map_size);
    if (status->snapshot_seq)
        printf("snapshot    at seq %" PRIu64 "\n", status->snapshot_seq);
    else
        printf("snapshot    none yet\n");
    if (status->undefined_nodes)
        printf("undefined   %" PRIu64 " credited id%s not defined nodes ('pacer undefined' "
               "lists them)\n",
               status->undefined_nodes, status->undefined_nodes == 1 ? " is" : "s are");
    else
        printf("undefined   none: every credited id is a defined node\n");
    printf("counters    requests %" PRIu64 ", appended %" PRIu64 ", duplicates %" PRIu64
           ", rejected %" PRIu64 ",\n"
           "            bad requests %" PRIu64 ", commits %" PRIu64 ", map resizes %" PRIu64 "\n",
           status->counters.requests, status->counters.appended, status->counters.duplicates,
           status->counters.rejected, status->counters.bad_requests, status->counters.commits,
           status->counters.map_resizes);
}

static int
status_print_json(const pacer_status_t *status)
{
    char hash[2 * PACER_HASH_BYTES + 1];
    cli_json_hex(status->last_hash, PACER_HASH_BYTES, hash);
    /* json_pack's "I" takes json_int_t; counters are far below 2^63. */
    json_t *json = json_pack(
        "{s:s, s:I, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I}}",
        "version", status->version, "protocol", (json_int_t)status->protocol, "state_dir",
        status->state_dir, "last_seq", (json_int_t)status->last_seq, "last_hash", hash,
        "log_events", (json_int_t)status->log_events, "started_at", (json_int_t)status->started_at,
        "uptime_ms", (json_int_t)status->uptime_ms, "map_size", (json_int_t)status->map_size,
        "snapshot_seq", (json_int_t)status->snapshot_seq, "undefined_nodes",
        (json_int_t)status->undefined_nodes, "counters", "requests",
        (json_int_t)status->counters.requests, "appended", (json_int_t)status->counters.appended,
        "duplicates", (json_int_t)status->counters.duplicates, "rejected",
        (json_int_t)status->counters.rejected, "bad_requests",
        (json_int_t)status->counters.bad_requests, "commits", (json_int_t)status->counters.commits,
        "map_resizes", (json_int_t)status->counters.map_resizes);
    char *text = json ? cli_json_dumps(json) : NULL;
    json_decref(json);
    if (!text) {
        fputs("pacer status: cannot build the JSON (out of memory, or a string that is not "
              "UTF-8)\n",
              stderr);
        return CLI_EXIT_FAILED;
    }
    puts(text);
    free(text);
    return CLI_EXIT_OK;
}

int
cli_status_main(int argc, char **argv)
{
    enum { OPT_JSON = CLI_OPT_FIRST_OWN };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "status");
    bool as_json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        if (handled < 0 || (handled == 0 && opt != OPT_JSON)) {
            fputs("Try 'pacer status --help'.\n", stderr);
            return CLI_EXIT_FAILED;
        }
        if (opt == OPT_JSON)
            as_json = true;
    }
    if (common.help) {
        status_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (optind < argc) {
        cli_options_error(&common, "unexpected argument \"%s\"", argv[optind]);
        return CLI_EXIT_FAILED;
    }

    pacer_client_t *client = pacer_client_new(NULL, common.query);
    if (!client) {
        cli_options_error(&common, "cannot connect to %s: %s", common.query, strerror(errno));
        return CLI_EXIT_FAILED;
    }
    pacer_client_set_timeout(client, common.timeout_ms);
    pacer_status_t status;
    int rc = pacer_status(client, &status);
    int exit_status = CLI_EXIT_FAILED;
    if (rc != PACER_OK)
        cli_options_error(&common, "%s", pacer_client_error(client));
    else if (as_json)
        exit_status = status_print_json(&status);
    else {
        status_print_text(&status);
        exit_status = CLI_EXIT_OK;
    }
    pacer_client_destroy(&client);
    return exit_status;
}
