/*  pacer: the command-line client of pacerd.

    `pacer [COMMON OPTIONS] COMMAND [OPTIONS]`. This file reads the options
    before the command (cli_options_global: they and the environment become
    every command's defaults) and finds the command; each one lives in its
    own cli_<command>.c (see cli_commands.h) and talks to the daemon through
    libpacer, except verify, which reads a state directory. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cli_commands.h"
#include "clients/cli_options.h"

#ifndef PACER_VERSION
#define PACER_VERSION "0.0.0"
#endif
/* The wire protocol version this client speaks (docs/PROTOCOL.md). */
#define PACER_PROTOCOL 1

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
    {"report", cli_review_report_main, "the period review: HTML with charts, or md, csv, json"},
    {"top", cli_top_main, "a live view of a scope: children's progress bars, alerts below"},
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
    fputs("usage: pacer [COMMON OPTIONS] COMMAND [OPTIONS]\n"
          "       pacer --version [--json]\n\ncommands:\n",
          out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("\nEvery command takes --json (one JSON object, or JSON Lines, on stdout) and\n"
          "--help; errors go to stderr. Exit status: 0 done, 1 pacerd refused something,\n"
          "2 a usage error, or pacerd could not be reached.\n"
          "\n" CLI_OPTIONS_COMMON_HELP "\n'pacer COMMAND --help' describes a command.\n",
          out);
}

static int
print_version(bool json)
{
    if (json)
        printf("{\"version\":\"%s\",\"protocol\":%d}\n", PACER_VERSION, PACER_PROTOCOL);
    else
        printf("pacer %s (protocol %d)\n", PACER_VERSION, PACER_PROTOCOL);
    return CLI_EXIT_OK;
}

static const pacer_command_t *
find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

/* Run `command` with the arguments after its name, and the --json and
   --help given before it passed on (ahead of a "--", which ends options). */
static int
run(const pacer_command_t *command, int argc, char **argv, bool json, bool help)
{
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args) {
        fputs("pacer: out of memory\n", stderr);
        return CLI_EXIT_FAILED;
    }
    /* getopt_long names argv[0] in its messages: "pacer append: ..." */
    char program[32], json_flag[] = "--json", help_flag[] = "--help";
    snprintf(program, sizeof program, "pacer %s", command->name);
    int n = 0;
    args[n++] = program;
    bool passed = false;
    for (int i = 1; i <= argc; i++) {
        if (!passed && (i == argc || strcmp(argv[i], "--") == 0)) {
            if (json)
                args[n++] = json_flag;
            if (help)
                args[n++] = help_flag;
            passed = true;
        }
        if (i < argc)
            args[n++] = argv[i];
    }
    int status = command->main(n, args);
    free(args);
    return status;
}

int
main(int argc, char **argv)
{
    char name[] = "pacer";
    argv[0] = name;
    bool json = false, version = false, help = false;
    int first = cli_options_global(argc, argv, &json, &version, &help);
    if (first < 0) {
        fputs("Try 'pacer --help'.\n", stderr);
        return CLI_EXIT_FAILED;
    }
    if (version)
        return print_version(json);
    if (first >= argc) {
        usage(help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    }
    const char *command = argv[first];
    if (strcmp(command, "help") == 0) {
        const pacer_command_t *about = first + 1 < argc ? find_command(argv[first + 1]) : NULL;
        if (about)
            return run(about, 1, argv + first + 1, false, true);
        usage(stdout);
        return CLI_EXIT_OK;
    }
    const pacer_command_t *found = find_command(command);
    if (!found) {
        fprintf(stderr, "pacer: unknown command \"%s\"\n\n", command);
        usage(stderr);
        return CLI_EXIT_FAILED;
    }
    return run(found, argc - first, argv + first, json, help);
}
