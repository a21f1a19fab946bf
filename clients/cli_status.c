/*  cli_status: `pacer status [--json]`, what the daemon says about itself.

    One `status` query, printed for people by default (times in pacerd's
    zone, which the status names), or with --json as one JSON object for
    scripts: the reply as pacerd sent it, every key of docs/PROTOCOL.md's
    status and any it adds later, with last_hash as hex. */

#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_time.h"
#include "clients/libpacer.h"

static void
status_usage(FILE *out)
{
    fputs("usage: pacer status [OPTIONS]\n"
          "\n"
          "Show pacerd's status: log length, last seq and hash, state directory, time\n"
          "zone, uptime, the credited ids that are not defined nodes ('pacer undefined'\n"
          "lists them) and counters. Exit status 2 when pacerd cannot be reached.\n"
          "\n"
          "  --json          one JSON object instead of text: the reply, keys as in\n"
          "                  docs/PROTOCOL.md (last_hash in hex)\n"
          "\n" CLI_OPTIONS_COMMON_HELP,
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

static uint64_t
field_uint(const msgpack_object *map, const char *key)
{
    int64_t value = 0;
    return cli_reply_int(map, key, &value) && value > 0 ? (uint64_t)value : 0;
}

/* The status for people; times in pacerd's zone (or --time-zone's). */
static void
status_print_text(cli_options_t *common, const msgpack_object *body)
{
    char version[64] = "?", state_dir[4096] = "", zone[128] = "", hash[2 * PACER_HASH_BYTES + 1];
    cli_reply_str(body, "version", version, sizeof version);
    cli_reply_str(body, "state_dir", state_dir, sizeof state_dir);
    cli_reply_str(body, "time_zone", zone, sizeof zone);
    const msgpack_object *last_hash = cli_reply_get(body, "last_hash");
    if (last_hash && last_hash->type == MSGPACK_OBJECT_BIN &&
        last_hash->via.bin.size == PACER_HASH_BYTES)
        cli_json_hex(last_hash->via.bin.ptr, PACER_HASH_BYTES, hash);
    else
        snprintf(hash, sizeof hash, "?");
    int64_t protocol = 0, started_at = 0, uptime_ms = 0;
    cli_reply_int(body, "protocol", &protocol);
    cli_reply_int(body, "started_at", &started_at);
    cli_reply_int(body, "uptime_ms", &uptime_ms);
    uint64_t undefined = field_uint(body, "undefined_nodes");
    uint64_t snapshot = field_uint(body, "snapshot_seq");

    cli_time_use_zone(common->time_zone                      ? common->time_zone
                      : zone[0] && cli_time_zone_known(zone) ? zone
                                                             : "local");
    char started[64], uptime[48], map_size[32], offset[16];
    cli_time_format(started_at, started, sizeof started);
    cli_time_offset(started_at, offset, sizeof offset);
    format_duration(uptime_ms, uptime, sizeof uptime);
    format_bytes(field_uint(body, "map_size"), map_size, sizeof map_size);
    printf("pacerd %s, protocol %" PRId64 "\n", version, protocol);
    printf("state dir   %s\n", state_dir);
    if (zone[0])
        printf("time zone   %s (UTC%s now)\n", zone, strcmp(offset, "Z") == 0 ? "" : offset);
    printf("log         %" PRIu64 " events, last seq %" PRIu64 "\n", field_uint(body, "log_events"),
           field_uint(body, "last_seq"));
    printf("last hash   %s\n", hash);
    printf("started     %s, up %s\n", started, uptime);
    printf("map size    %s\n", map_size);
    if (snapshot)
        printf("snapshot    at seq %" PRIu64 "\n", snapshot);
    else
        printf("snapshot    none yet\n");
    if (undefined)
        printf("undefined   %" PRIu64 " credited id%s not defined nodes ('pacer undefined' "
               "lists them)\n",
               undefined, undefined == 1 ? " is" : "s are");
    else
        printf("undefined   none: every credited id is a defined node\n");
    const msgpack_object *counters = cli_reply_get(body, "counters");
    printf("counters    requests %" PRIu64 ", appended %" PRIu64 ", duplicates %" PRIu64
           ", rejected %" PRIu64 ",\n"
           "            bad requests %" PRIu64 ", commits %" PRIu64 ", map resizes %" PRIu64 "\n",
           field_uint(counters, "requests"), field_uint(counters, "appended"),
           field_uint(counters, "duplicates"), field_uint(counters, "rejected"),
           field_uint(counters, "bad_requests"), field_uint(counters, "commits"),
           field_uint(counters, "map_resizes"));
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
        if (handled < 0 || (handled == 0 && opt != OPT_JSON))
            return cli_options_try_help(&common);
        if (opt == OPT_JSON)
            as_json = true;
    }
    int status = cli_options_end(&common, argc, argv, status_usage);
    if (status >= 0)
        return status;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "status");
    cli_reply_t reply;
    status = cli_request_run(&common, PACER_ENDPOINT_QUERY, &request, &reply);
    cli_map_destroy(&request);
    if (status != CLI_EXIT_OK)
        return status;
    if (as_json)
        status = cli_reply_print_json(&common, reply.body);
    else
        status_print_text(&common, reply.body);
    cli_reply_done(&reply);
    return status;
}
