/*  cli_options: what every pacer command accepts, and argument parsing. */

#include "clients/cli_options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/libpacer.h"

void
cli_options_init(cli_options_t *self, const char *command)
{
    self->command = command;
    self->endpoint = PACER_DEFAULT_APPEND_ENDPOINT;
    self->query = PACER_DEFAULT_QUERY_ENDPOINT;
    self->timeout_ms = PACER_DEFAULT_TIMEOUT_MS;
    self->help = false;
}

void
cli_options_error(cli_options_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "pacer %s: ", self->command);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

bool
cli_options_uint(cli_options_t *self, const char *name, const char *arg, uint64_t min, uint64_t max,
                 uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(arg, &end, 10);
    /* strtoull accepts "-1" as a huge value; a leading sign is refused here. */
    if (arg[0] < '0' || arg[0] > '9' || errno != 0 || *end != '\0' || value < min || value > max) {
        cli_options_error(self,
                          "--%s: expected an integer from %" PRIu64 " to %" PRIu64 ", got \"%s\"",
                          name, min, max, arg);
        return false;
    }
    *out = value;
    return true;
}

int
cli_options_handle(cli_options_t *self, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_ENDPOINT:
        self->endpoint = arg;
        return 1;
    case CLI_OPT_QUERY:
        self->query = arg;
        return 1;
    case CLI_OPT_TIMEOUT: {
        char *end = NULL;
        double seconds = strtod(arg, &end);
        if (end == arg || *end != '\0' || !(seconds > 0) || seconds > 86400) {
            cli_options_error(self, "--timeout: expected seconds from 0.001 to 86400, got \"%s\"",
                              arg);
            return -1;
        }
        self->timeout_ms = (int)(seconds * 1000 + 0.5);
        if (self->timeout_ms < 1)
            self->timeout_ms = 1;
        return 1;
    }
    case CLI_OPT_HELP:
        self->help = true;
        return 1;
    /* libpacer takes the keys from the environment (pacer_curve_from_env),
       so every command and the subscriber use them alike; a bad one is
       reported by the first request. */
    case CLI_OPT_KEY:
    case CLI_OPT_SERVER_KEY:
        if (setenv(opt == CLI_OPT_KEY ? "PACER_KEY" : "PACER_SERVER_KEY", arg, 1) != 0) {
            cli_options_error(self, "%s: %s", opt == CLI_OPT_KEY ? "--key" : "--server-key",
                              strerror(errno));
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}
