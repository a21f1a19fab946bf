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
/* cli_undefined.c */
int cli_undefined_main(int argc, char **argv);
/* Alerts: cli_tail.c, cli_alerts.c (alerts, silences), cli_alert_actions.c
   (silence, unsilence, review, rule), cli_tick.c, cli_notify.c. */
int cli_tail_main(int argc, char **argv);
int cli_alerts_main(int argc, char **argv);
int cli_silences_main(int argc, char **argv);
int cli_silence_main(int argc, char **argv);
int cli_unsilence_main(int argc, char **argv);
int cli_review_main(int argc, char **argv);
int cli_rule_main(int argc, char **argv);
int cli_tick_main(int argc, char **argv);
int cli_notify_main(int argc, char **argv);
/* cli_import.c: spreadsheets (CSV) into events */
int cli_import_main(int argc, char **argv);
/* cli_keygen.c: a CURVE key pair for pacerd or a client */
int cli_keygen_main(int argc, char **argv);

#endif
