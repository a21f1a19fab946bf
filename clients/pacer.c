/*  pacer: the command-line client of pacerd.

    `pacer COMMAND [OPTIONS]`. This file only finds the command; each one
    lives in its own cli_<command>.c (see cli_commands.h) and talks to the
    daemon through libpacer, except verify, which reads a state directory. */

#include <stdio.h>
#include <string.h>

#include "clients/cli_commands.h"
#include "clients/cli_options.h"

typedef struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} pacer_command_t;

static const pacer_command_t commands[] = {
    {"append", cli_append_main, "append events read as JSON Lines from a file or stdin"},
    {"import", cli_import_main, "append the rows of a CSV export, amounts and times converted"},
    {"status", cli_status_main, "show the daemon's status (--json for a script)"},
    {"events", cli_events_main, "print the log as JSON Lines"},
    {"verify", cli_verify_main, "check the hash chain of a state directory"},
    {"backup", cli_backup_main, "copy the state, consistent and compacted, while pacerd runs"},
    {"target", cli_target_main, "set, adjust, allocate targets; a target's history"},
    {"progress", cli_report_progress_main, "progress against targets, with pace and forecast"},
    {"leaderboard", cli_report_leaderboard_main, "nodes of one level ranked by attainment"},
    {"rebuild", cli_report_rebuild_main, "fold the whole log into the projection again"},
    {"undefined", cli_undefined_main, "credited ids that no node_defined defines, with totals"},
    {"tail", cli_tail_main, "print alerts as they are raised, each exactly once"},
    {"alerts", cli_alerts_main, "the alerts raised so far, or (--active) firing now"},
    {"silence", cli_silence_main, "silence an alert or a topic prefix, until a time"},
    {"unsilence", cli_unsilence_main, "lift a silence"},
    {"silences", cli_silences_main, "the silences in force"},
    {"review", cli_review_main, "confirm or dismiss an anomaly flag"},
    {"rule", cli_rule_main, "rule set: change a threshold or window of an alert rule"},
    {"tick", cli_tick_main, "evaluate the time-driven alert rules (now, or at --now)"},
    {"notify", cli_notify_main, "forward alerts to a webhook, exactly once, with a cursor"},
    {"keygen", cli_keygen_main, "make a key pair for pacerd or a client (authentication)"},
};

static void
usage(FILE *out)
{
    fputs("usage: pacer COMMAND [OPTIONS]\n\ncommands:\n", out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("\ncommon options:\n" CLI_OPTIONS_COMMON_HELP
          "\n'pacer COMMAND --help' describes a command.\n",
          out);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_FAILED;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            char help[] = "--help";
            char *args[] = {argv[2], help, NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].main(2, args);
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0) {
            /* getopt_long names argv[0] in its messages: "pacer append: ..." */
            char program[32];
            snprintf(program, sizeof program, "pacer %s", commands[i].name);
            argv[1] = program;
            return commands[i].main(argc - 1, argv + 1);
        }
    fprintf(stderr, "pacer: unknown command \"%s\"\n\n", name);
    usage(stderr);
    return CLI_EXIT_FAILED;
}
