/*  cli_options: what every pacer command accepts, and argument parsing.

    The defaults a command starts from are kept in `defaults`: the built-in
    ones, overridden by the environment and then by the options before the
    command (cli_options_global); the command's own options override them
    in turn. */

#include "clients/cli_options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cli_time.h"

static cli_options_t defaults = {
    .endpoint = PACER_DEFAULT_APPEND_ENDPOINT,
    .query = PACER_DEFAULT_QUERY_ENDPOINT,
    .publish = PACER_DEFAULT_PUBLISH_ENDPOINT,
    .timeout_ms = PACER_DEFAULT_TIMEOUT_MS,
    .connect_timeout_ms = CLI_DEFAULT_CONNECT_TIMEOUT_MS,
};

void
cli_options_init(cli_options_t *self, const char *command)
{
    *self = defaults;
    self->command = command;
    self->help = false;
}

void
cli_options_error(cli_options_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "pacer%s%s: ", self->command ? " " : "", self->command ? self->command : "");
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

bool
cli_options_time(cli_options_t *self, const char *name, const char *arg, int64_t *out)
{
    char err[256];
    if (!cli_time_parse(arg, out, err, sizeof err)) {
        cli_options_error(self, "--%s: %s", name, err);
        return false;
    }
    return true;
}

int
cli_options_try_help(cli_options_t *self)
{
    fprintf(stderr, "Try 'pacer%s%s --help'.\n", self->command ? " " : "",
            self->command ? self->command : "");
    return CLI_EXIT_FAILED;
}

int
cli_options_end(cli_options_t *self, int argc, char **argv, void (*usage)(FILE *out))
{
    if (self->help) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (optind < argc) {
        cli_options_error(self, "unexpected argument \"%s\"", argv[optind]);
        return CLI_EXIT_FAILED;
    }
    return -1;
}

/* Seconds from 0.001 to 86400 as milliseconds; `name` is "--timeout" or
   "PACER_TIMEOUT", for the message. */
static bool
parse_seconds(cli_options_t *self, const char *name, const char *arg, int *out_ms)
{
    char *end = NULL;
    double seconds = strtod(arg, &end);
    if (end == arg || *end != '\0' || !(seconds > 0) || seconds > 86400) {
        cli_options_error(self, "%s: expected seconds from 0.001 to 86400, got \"%s\"", name, arg);
        return false;
    }
    *out_ms = (int)(seconds * 1000 + 0.5);
    if (*out_ms < 1)
        *out_ms = 1;
    return true;
}

static bool
parse_zone(cli_options_t *self, const char *name, const char *arg)
{
    if (strcmp(arg, "local") != 0 && !cli_time_zone_known(arg)) {
        cli_options_error(self,
                          "%s: \"%s\" is not a time zone this machine knows (an IANA name "
                          "such as Asia/Shanghai or UTC, or 'local')",
                          name, arg);
        return false;
    }
    self->time_zone = arg;
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
    case CLI_OPT_PUBLISH:
        self->publish = arg;
        return 1;
    case CLI_OPT_TIMEOUT:
        return parse_seconds(self, "--timeout", arg, &self->timeout_ms) ? 1 : -1;
    case CLI_OPT_CONNECT_TIMEOUT:
        return parse_seconds(self, "--connect-timeout", arg, &self->connect_timeout_ms) ? 1 : -1;
    case CLI_OPT_TIME_ZONE:
        return parse_zone(self, "--time-zone", arg) ? 1 : -1;
    case CLI_OPT_RAW:
        self->raw = true;
        return 1;
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

/* The environment's endpoints, timeouts and zone into `defaults`. */
static bool
read_environment(void)
{
    static const struct {
        const char *name;
        int opt;
    } variables[] = {
        {"PACER_APPEND", CLI_OPT_ENDPOINT},
        {"PACER_QUERY", CLI_OPT_QUERY},
        {"PACER_PUBLISH", CLI_OPT_PUBLISH},
        {"PACER_TIMEOUT", CLI_OPT_TIMEOUT},
        {"PACER_CONNECT_TIMEOUT", CLI_OPT_CONNECT_TIMEOUT},
        {"PACER_TIME_ZONE", CLI_OPT_TIME_ZONE},
    };
    for (size_t i = 0; i < sizeof variables / sizeof variables[0]; i++) {
        const char *value = getenv(variables[i].name);
        if (!value || !value[0])
            continue;
        bool ok = true;
        if (variables[i].opt == CLI_OPT_TIMEOUT)
            ok = parse_seconds(&defaults, variables[i].name, value, &defaults.timeout_ms);
        else if (variables[i].opt == CLI_OPT_CONNECT_TIMEOUT)
            ok = parse_seconds(&defaults, variables[i].name, value, &defaults.connect_timeout_ms);
        else if (variables[i].opt == CLI_OPT_TIME_ZONE)
            ok = parse_zone(&defaults, variables[i].name, value);
        else
            cli_options_handle(&defaults, variables[i].opt, value);
        if (!ok)
            return false;
    }
    return true;
}

int
cli_options_global(int argc, char **argv, bool *json, bool *version, bool *help)
{
    enum { OPT_JSON = CLI_OPT_FIRST_OWN, OPT_VERSION };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"json", no_argument, NULL, OPT_JSON},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    *json = *version = *help = false;
    if (!read_environment())
        return -1;
    /* "+": stop at the command's name, the first argument that is not an
       option; what follows is the command's. optind 0 makes glibc's getopt
       start afresh, reading the "+". */
    opterr = 1;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        int handled = cli_options_handle(&defaults, opt, optarg);
        if (handled < 0)
            return -1;
        if (handled > 0)
            continue;
        if (opt == OPT_JSON)
            *json = true;
        else if (opt == OPT_VERSION)
            *version = true;
        else if (opt == 'h')
            defaults.help = true;
        else
            return -1; /* getopt_long said what is wrong */
    }
    *help = defaults.help;
    defaults.help = false;
    int command = optind;
    /* Each command parses its arguments from the start again. */
    optind = 0;
    return command;
}

pacer_client_t *
cli_options_client(cli_options_t *self, const char *append, const char *query)
{
    pacer_client_t *client = pacer_client_new(append, query);
    if (!client) {
        cli_options_error(self, "cannot connect to %s: %s", append ? append : query,
                          strerror(errno));
        return NULL;
    }
    pacer_client_set_timeout(client, self->timeout_ms);
    pacer_client_set_connect_timeout(client, self->connect_timeout_ms);
    return client;
}
