/*  cli_commands: the commands of the pacer command line.

    Each takes the arguments after `pacer` (argv[0] is the command's name),
    prints its own output and errors, and returns the process exit status:
    CLI_EXIT_OK, CLI_EXIT_REJECTED or CLI_EXIT_FAILED (see cli_options.h).
    pacer.c dispatches to them by name; each lives in cli_<name>.c. */

#ifndef PACER_CLI_COMMANDS_H
#define PACER_CLI_COMMANDS_H

int cli_append_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);
int cli_events_main(int argc, char **argv);
int cli_verify_main(int argc, char **argv);
int cli_backup_main(int argc, char **argv);
/* cli_target.c: target set|adjust|allocate|history */
int cli_target_main(int argc, char **argv);
/* cli_report.c */
int cli_report_progress_main(int argc, char **argv);
int cli_report_leaderboard_main(int argc, char **argv);
int cli_report_rebuild_main(int argc, char **argv);

#endif
