/*  cli_tick: `pacer tick [--now TIME]`, evaluate the time-driven alert rules.

    Sends the admin operation `tick` (docs/PROTOCOL.md, "tick") to the
    append endpoint. pacerd ticks by itself on its own clock; a pacerd
    started with --manual-clock moves its alert clock only on a tick, which
    is how tests and demonstrations drive a month in seconds. */

#include "clients/cli_commands.h"

#include <inttypes.h>
#include <stdio.h>

#include "clients/cli_alert.h"
#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_time.h"

static void
tick_usage(FILE *out)
{
    fputs("usage: pacer tick [--now TIME] [--json]\n"
          "\n"
          "Have pacerd evaluate its time-driven alert rules now (or at TIME) and commit\n"
          "what they raise. With a pacerd started with --manual-clock, this is what moves\n"
          "its alert clock; TIME may not go back.\n"
          "\n"
          "  --now TIME       the instant to evaluate at (default: pacerd's clock)\n"
          "  --json           print the reply as one JSON object\n"
          "\n" CLI_TIME_HELP "\nExit status 1 when pacerd refuses the tick (a TIME before its "
          "clock).\n"
          "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

int
cli_tick_main(int argc, char **argv)
{
    enum { OPT_NOW = CLI_OPT_FIRST_OWN, OPT_JSON };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "tick");
    bool json = false, has_now = false;
    int64_t now = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0 && opt == OPT_JSON)
            ok = json = true;
        else if (handled == 0 && opt == OPT_NOW)
            ok = has_now = cli_options_time(&common, "now", optarg, &now);
        if (!ok)
            return cli_options_try_help(&common);
    }
    int status = cli_options_end(&common, argc, argv, tick_usage);
    if (status >= 0)
        return status;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "tick");
    if (has_now)
        cli_map_int(&request, "now", now);
    cli_reply_t reply;
    status = cli_request_run(&common, PACER_ENDPOINT_APPEND, &request, &reply);
    cli_map_destroy(&request);
    if (status != CLI_EXIT_OK)
        return status;
    if (json)
        status = cli_reply_print_json(&common, reply.body);
    else {
        int64_t raised = 0, last_aseq = 0, at = 0;
        char when[64] = "?";
        cli_reply_int(reply.body, "raised", &raised);
        cli_reply_int(reply.body, "last_aseq", &last_aseq);
        cli_request_use_zone(&common);
        if (cli_reply_int(reply.body, "now", &at))
            cli_time_format(at, when, sizeof when);
        printf("tick at %s: %" PRId64 " alert%s raised, last aseq %" PRId64 "\n", when, raised,
               raised == 1 ? "" : "s", last_aseq);
    }
    cli_reply_done(&reply);
    return status;
}
