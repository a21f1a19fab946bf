/*  cli_options: what every pacer command accepts, and argument parsing.

    Every command takes the common options (CLI_OPTIONS_COMMON_HELP lists
    them: the endpoints, the timeouts, the keys, the time zone, --raw,
    --help) in any
    order with its own options (getopt_long permutes). A command lists
    CLI_OPTIONS_COMMON in its option table and hands each option it does
    not know to cli_options_handle.

    The same options may also come before the command, for every command
    at once (`pacer --query EP status`), and the endpoints, timeouts and
    zone from the environment (PACER_APPEND, PACER_QUERY, PACER_PUBLISH,
    PACER_TIMEOUT, PACER_CONNECT_TIMEOUT, PACER_TIME_ZONE). pacer.c reads
    both with cli_options_global before it runs the command; the nearest
    wins: an option after the command, then one before it, then the
    environment, then the default. */

#ifndef PACER_CLI_OPTIONS_H
#define PACER_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clients/libpacer.h"

/* Exit statuses shared by the commands. */
#define CLI_EXIT_OK       0
#define CLI_EXIT_REJECTED 1 /* the command ran, and some input was refused or found bad */
#define CLI_EXIT_FAILED   2 /* usage error, or the daemon could not be reached or misbehaved */

/* How long the command line waits for a connection to pacerd before it
   says that pacerd is not answering (libpacer's connect timeout). */
#define CLI_DEFAULT_CONNECT_TIMEOUT_MS 1000

/* getopt_long values for the common options (outside the ASCII range, so a
   command's own short options cannot collide). */
enum {
    CLI_OPT_ENDPOINT = 0x100,
    CLI_OPT_QUERY,
    CLI_OPT_PUBLISH,
    CLI_OPT_TIMEOUT,
    CLI_OPT_CONNECT_TIMEOUT,
    CLI_OPT_TIME_ZONE,
    CLI_OPT_RAW,
    CLI_OPT_HELP,
    CLI_OPT_KEY,
    CLI_OPT_SERVER_KEY,
    CLI_OPT_FIRST_OWN = 0x140 /* commands number their own options from here */
};

#define CLI_OPTIONS_COMMON                                                                         \
    {"endpoint", required_argument, NULL, CLI_OPT_ENDPOINT},                                       \
        {"query", required_argument, NULL, CLI_OPT_QUERY},                                         \
        {"publish", required_argument, NULL, CLI_OPT_PUBLISH},                                     \
        {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},                                     \
        {"key", required_argument, NULL, CLI_OPT_KEY},                                             \
        {"server-key", required_argument, NULL, CLI_OPT_SERVER_KEY},                               \
        {"connect-timeout", required_argument, NULL, CLI_OPT_CONNECT_TIMEOUT},                     \
        {"time-zone", required_argument, NULL, CLI_OPT_TIME_ZONE},                                 \
        {"raw", no_argument, NULL, CLI_OPT_RAW},                                                   \
    {                                                                                              \
        "help", no_argument, NULL, CLI_OPT_HELP                                                    \
    }

#define CLI_OPTIONS_COMMON_HELP                                                                    \
    "common options (also before the command: pacer --query EP status):\n"                         \
    "  --endpoint EP   pacerd's append endpoint ($PACER_APPEND, default tcp://127.0.0.1:7700)\n"   \
    "  --query EP      pacerd's query endpoint ($PACER_QUERY, default tcp://127.0.0.1:7701)\n"     \
    "  --publish EP    pacerd's publish endpoint ($PACER_PUBLISH, default tcp://127.0.0.1:7702)\n" \
    "  --timeout SEC   give up when pacerd does not answer within SEC seconds\n"                   \
    "                  ($PACER_TIMEOUT, default 30)\n"                                             \
    "  --connect-timeout SEC\n"                                                                    \
    "                  say pacerd is not answering when no connection is made within\n"            \
    "                  SEC seconds ($PACER_CONNECT_TIMEOUT, default 1)\n"                          \
    "  --time-zone Z   show times in zone Z, an IANA name such as Asia/Shanghai, or\n"             \
    "                  'local' for this machine's ($PACER_TIME_ZONE; default: pacerd's)\n"         \
    "  --raw           figures as pacerd counts them: money in minor units (fen, cents),\n"        \
    "                  ratios in basis points (default: 31,000.00 CNY, 95.00 percent)\n"           \
    "  --key FILE      this client's key pair, from pacer keygen (default $PACER_KEY),\n"          \
    "                  for a pacerd that requires authentication\n"                                \
    "  --server-key KEY  pacerd's public key, or a file holding it ($PACER_SERVER_KEY)\n"          \
    "  --help          show this help\n"

typedef struct {
    const char *command; /* "append", for messages */
    const char *endpoint;
    const char *query;
    const char *publish;
    int timeout_ms;
    int connect_timeout_ms;
    const char *time_zone; /* NULL: pacerd's; "local": this machine's */
    bool raw;
    bool help;
} cli_options_t;

/* Read the environment and the options before the command (argv[1] on)
   into the defaults every command's cli_options_init starts from. Returns
   the index in argv of the command's name (argc when there is none), or
   -1 after printing why not (a bad value: exit status 2). *json, *version
   and *help say whether --json, --version and --help were among them
   (--json belongs to the command: pacer.c passes it on). */
int cli_options_global(int argc, char **argv, bool *json, bool *version, bool *help);

void cli_options_init(cli_options_t *self, const char *command);

/* Handle option `opt` with argument `arg` if it is a common one. Returns 1 when
   handled, 0 when it is not a common option, -1 after printing why its value
   is bad. Anything else getopt_long returns ('?') is a usage error. */
int cli_options_handle(cli_options_t *self, int opt, const char *arg);

/* Parse a decimal unsigned integer in [min, max]; false (after printing
   "pacer CMD: --NAME: expected ...") when it is not one. */
bool cli_options_uint(cli_options_t *self, const char *name, const char *arg, uint64_t min,
                      uint64_t max, uint64_t *out);

/* Parse a TIME argument (CLI_TIME_HELP; cli_time_parse) into *out, ms
   UTC; false (after printing "pacer CMD: --NAME: why") when it is not
   one. */
bool cli_options_time(cli_options_t *self, const char *name, const char *arg, int64_t *out);

/* After a usage error: print "Try 'pacer CMD --help'." to stderr and
   return CLI_EXIT_FAILED, the status such an error ends with. */
int cli_options_try_help(cli_options_t *self);

/* What every command checks once its option loop is over, in this order:
   with --help, print `usage` to stdout and return CLI_EXIT_OK; with an
   argument left in argv[optind..argc) (for a command that takes none),
   say "unexpected argument" and return CLI_EXIT_FAILED. Otherwise -1:
   the command goes on. */
int cli_options_end(cli_options_t *self, int argc, char **argv, void (*usage)(FILE *out));

/* Print "pacer CMD: <message>" to stderr. */
void cli_options_error(cli_options_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* A libpacer client on the given endpoints (either may be NULL) with the
   options' timeouts. NULL after printing why. */
pacer_client_t *cli_options_client(cli_options_t *self, const char *append, const char *query);

#endif
