/*  cli_tail: `pacer tail [PREFIX...]`, alerts as they are raised.

    A libpacer subscriber (libpacer_sub.h) on the publish and query
    endpoints hands over every alert of the prefixes exactly once and in
    aseq order, across dropped messages and daemon restarts; tail prints
    each as a line for a person, or with --json as one JSON object per line
    for a pipe, and flushes after each. --since ASEQ first replays the
    alerts from that aseq on (read with the catch-up query), then goes on
    live; without it tail starts after the newest alert.

    SIGINT and SIGTERM end it with status 0; --count N ends it after N
    alerts. While pacerd does not answer, tail says so once on stderr and
    keeps retrying: nothing raised meanwhile is lost. */

#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cli_alert.h"
#include "clients/cli_options.h"
#include "clients/cli_table.h"
#include "clients/libpacer_sub.h"

static volatile sig_atomic_t tail_stop;

static void
on_signal(int sig)
{
    (void)sig;
    tail_stop = 1;
}

static void
tail_usage(FILE *out)
{
    fputs("usage: pacer tail [PREFIX...] [--since ASEQ] [--json] [--count N]\n"
          "\n"
          "Print alerts as pacerd raises them, each exactly once and in order, also across\n"
          "dropped messages and daemon restarts (missed alerts are read back). One line\n"
          "an alert: when (in the daemon's time zone), #aseq, state, severity, summary.\n"
          "\n"
          "  --since ASEQ     first replay the alerts from ASEQ on (1: every alert), then\n"
          "                   go on live (default: only alerts raised from now on)\n"
          "  --json           one JSON object per line: the alert record as pacerd sent it\n"
          "  --count N        exit after N alerts\n"
          "\n" CLI_ALERT_PREFIX_HELP "\n"
          "Ends with status 0 on SIGINT or SIGTERM, or after --count alerts.\n"
          "\n" CLI_OPTIONS_COMMON_HELP
          "  (--timeout is how long one catch-up query may take before it is retried)\n",
          out);
}

int
cli_tail_main(int argc, char **argv)
{
    enum { OPT_SINCE = CLI_OPT_FIRST_OWN, OPT_JSON, OPT_COUNT };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"since", required_argument, NULL, OPT_SINCE},
        {"json", no_argument, NULL, OPT_JSON},
        {"count", required_argument, NULL, OPT_COUNT},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "tail");
    uint64_t since = 0, count = 0;
    bool json = false, has_since = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0) {
            switch (opt) {
            case OPT_SINCE:
                ok = cli_options_uint(&common, "since", optarg, 0, UINT64_MAX - 1, &since);
                has_since = true;
                break;
            case OPT_JSON:
                ok = json = true;
                break;
            case OPT_COUNT:
                ok = cli_options_uint(&common, "count", optarg, 1, UINT64_MAX, &count);
                break;
            default:
                ok = false;
            }
        }
        if (!ok)
            return cli_options_try_help(&common);
    }
    if (common.help) {
        tail_usage(stdout);
        return CLI_EXIT_OK;
    }

    pacer_sub_t *sub = pacer_sub_new(common.publish, common.query);
    if (!sub) {
        cli_options_error(&common, "cannot connect to %s and %s: %s", common.publish, common.query,
                          strerror(errno));
        return CLI_EXIT_FAILED;
    }
    for (int i = optind; i < argc; i++) {
        char prefix[PACER_SUB_PREFIX_MAX_BYTES + 8];
        cli_alert_prefix(argv[i], prefix, sizeof prefix);
        if (pacer_sub_subscribe(sub, prefix) != PACER_OK) {
            cli_options_error(&common, "%s: %s", argv[i], pacer_sub_error(sub));
            pacer_sub_destroy(&sub);
            return CLI_EXIT_FAILED;
        }
    }
    /* --since is inclusive; the cursor is the last aseq already seen. */
    pacer_sub_set_cursor(sub, has_since ? (since ? since - 1 : 0) : PACER_SUB_NOW);
    if (common.timeout_ms != PACER_DEFAULT_TIMEOUT_MS)
        pacer_sub_set_query_timeout(sub, common.timeout_ms);
    bool colour = !json && cli_table_colour();

    struct sigaction action = {0};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    int status = CLI_EXIT_OK;
    uint64_t printed = 0;
    char warned[1024] = "";
    while (!tail_stop && (count == 0 || printed < count)) {
        pacer_alert_t *alert = NULL;
        /* A bounded wait, so a signal between two checks is seen soon. */
        int rc = pacer_sub_recv(sub, &alert, 1000);
        if (rc == PACER_OK) {
            bool ok = cli_alert_print(&common, alert, json, colour);
            pacer_alert_destroy(&alert);
            if (!ok) {
                status = CLI_EXIT_FAILED;
                break;
            }
            printed++;
            warned[0] = '\0';
        } else if (rc == PACER_EAGAIN)
            continue;
        else if (rc == PACER_ENOMEM || rc == PACER_ETRANSPORT || rc == PACER_EAUTH ||
                 rc == PACER_EINVAL) {
            cli_options_error(&common, "%s", pacer_sub_error(sub));
            status = CLI_EXIT_FAILED;
            break;
        } else if (strcmp(warned, pacer_sub_error(sub)) != 0) {
            snprintf(warned, sizeof warned, "%s", pacer_sub_error(sub));
            cli_options_error(&common, "%s; retrying", warned);
        }
    }
    pacer_sub_destroy(&sub);
    return status;
}
