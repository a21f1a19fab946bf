/*  cli_options: what every pacer command accepts, and argument parsing.

    Every command takes --endpoint EP (the append endpoint), --query EP,
    --timeout SEC, --key FILE, --server-key KEY and --help, in any order
    with its own options (getopt_long permutes). A command lists
    CLI_OPTIONS_COMMON in its option table and hands each option it does
    not know to cli_options_handle. */

#ifndef PACER_CLI_OPTIONS_H
#define PACER_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses shared by the commands. */
#define CLI_EXIT_OK       0
#define CLI_EXIT_REJECTED 1 /* the command ran, and some input was refused or found bad */
#define CLI_EXIT_FAILED   2 /* usage error, or the daemon could not be reached or misbehaved */

/* getopt_long values for the common options (outside the ASCII range, so a
   command's own short options cannot collide). */
enum {
    CLI_OPT_ENDPOINT = 0x100,
    CLI_OPT_QUERY,
    CLI_OPT_TIMEOUT,
    CLI_OPT_HELP,
    CLI_OPT_KEY,
    CLI_OPT_SERVER_KEY,
    CLI_OPT_FIRST_OWN /* commands number their own options from here */
};

#define CLI_OPTIONS_COMMON                                                                         \
    {"endpoint", required_argument, NULL, CLI_OPT_ENDPOINT},                                       \
        {"query", required_argument, NULL, CLI_OPT_QUERY},                                         \
        {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},                                     \
        {"key", required_argument, NULL, CLI_OPT_KEY},                                             \
        {"server-key", required_argument, NULL, CLI_OPT_SERVER_KEY},                               \
    {                                                                                              \
        "help", no_argument, NULL, CLI_OPT_HELP                                                    \
    }

#define CLI_OPTIONS_COMMON_HELP                                                                    \
    "  --endpoint EP   pacerd's append endpoint (default tcp://127.0.0.1:7700)\n"                  \
    "  --query EP      pacerd's query endpoint (default tcp://127.0.0.1:7701)\n"                   \
    "  --timeout SEC   give up when pacerd does not answer within SEC seconds (default 30)\n"      \
    "  --key FILE      this client's key pair, from pacer keygen (default $PACER_KEY),\n"          \
    "                  for a pacerd that requires authentication\n"                                \
    "  --server-key KEY  pacerd's public key, or a file holding it ($PACER_SERVER_KEY)\n"          \
    "  --help          show this help\n"

typedef struct {
    const char *command; /* "append", for messages */
    const char *endpoint;
    const char *query;
    int timeout_ms;
    bool help;
} cli_options_t;

void cli_options_init(cli_options_t *self, const char *command);

/* Handle option `opt` with argument `arg` if it is a common one. Returns 1 when
   handled, 0 when it is not a common option, -1 after printing why its value
   is bad. Anything else getopt_long returns ('?') is a usage error. */
int cli_options_handle(cli_options_t *self, int opt, const char *arg);

/* Parse a decimal unsigned integer in [min, max]; false (after printing
   "pacer CMD: --NAME: expected ...") when it is not one. */
bool cli_options_uint(cli_options_t *self, const char *name, const char *arg, uint64_t min,
                      uint64_t max, uint64_t *out);

/* Print "pacer CMD: <message>" to stderr. */
void cli_options_error(cli_options_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
