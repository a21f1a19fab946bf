/*  Unit tests for clients/cli_options: the defaults a command starts from,
    from the environment and the options before the command, and which wins. */

#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clients/cli_options.h"

static const char *const variables[] = {"PACER_APPEND",          "PACER_QUERY",
                                        "PACER_PUBLISH",         "PACER_TIMEOUT",
                                        "PACER_CONNECT_TIMEOUT", "PACER_TIME_ZONE"};

static int
clear_environment(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof variables / sizeof variables[0]; i++)
        unsetenv(variables[i]);
    return 0;
}

/* cli_options_global on a copy of `args` (NULL-terminated, "pacer" first). */
static int
global(const char **args, bool *json, bool *version, bool *help)
{
    static char *argv[32];
    int argc = 0;
    while (args[argc]) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    return cli_options_global(argc, argv, json, version, help);
}

/* A command's parse of its own options, as every command does it. */
static void
command(cli_options_t *common, int argc, char **argv)
{
    static const struct option options[] = {CLI_OPTIONS_COMMON, {NULL, 0, NULL, 0}};
    cli_options_init(common, "status");
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        assert_int_equal(cli_options_handle(common, opt, optarg), 1);
}

static void
test_built_in_defaults(void **state)
{
    (void)state;
    bool json, version, help;
    const char *args[] = {"pacer", "status", NULL};
    assert_int_equal(global(args, &json, &version, &help), 1);
    assert_false(json || version || help);
    cli_options_t common;
    char *argv[] = {"pacer status", NULL};
    command(&common, 1, argv);
    assert_string_equal(common.endpoint, PACER_DEFAULT_APPEND_ENDPOINT);
    assert_string_equal(common.query, PACER_DEFAULT_QUERY_ENDPOINT);
    assert_string_equal(common.publish, PACER_DEFAULT_PUBLISH_ENDPOINT);
    assert_int_equal(common.timeout_ms, PACER_DEFAULT_TIMEOUT_MS);
    assert_int_equal(common.connect_timeout_ms, CLI_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_null(common.time_zone);
    assert_false(common.raw);
}

/* The nearest wins: the command's option, then one before the command,
   then the environment. */
static void
test_precedence(void **state)
{
    (void)state;
    setenv("PACER_APPEND", "tcp://env:1", 1);
    setenv("PACER_QUERY", "tcp://env:2", 1);
    setenv("PACER_PUBLISH", "tcp://env:3", 1);
    setenv("PACER_TIMEOUT", "2.5", 1);
    setenv("PACER_CONNECT_TIMEOUT", "0.25", 1);
    setenv("PACER_TIME_ZONE", "Europe/Berlin", 1);
    bool json, version, help;
    const char *args[] = {"pacer",       "--query", "tcp://global:2", "--json",  "--raw",
                          "--time-zone", "UTC",     "status",         "--query", "ignored-here",
                          NULL};
    assert_int_equal(global(args, &json, &version, &help), 7);
    assert_true(json);
    assert_false(version || help);

    cli_options_t common;
    char *argv[] = {"pacer status", "--endpoint", "tcp://command:1", NULL};
    command(&common, 3, argv);
    assert_string_equal(common.endpoint, "tcp://command:1");
    assert_string_equal(common.query, "tcp://global:2");
    assert_string_equal(common.publish, "tcp://env:3");
    assert_int_equal(common.timeout_ms, 2500);
    assert_int_equal(common.connect_timeout_ms, 250);
    assert_string_equal(common.time_zone, "UTC");
    assert_true(common.raw);
}

static void
test_bad_values(void **state)
{
    (void)state;
    bool json, version, help;
    setenv("PACER_TIMEOUT", "soon", 1);
    const char *args[] = {"pacer", "status", NULL};
    assert_int_equal(global(args, &json, &version, &help), -1);
    unsetenv("PACER_TIMEOUT");
    setenv("PACER_TIME_ZONE", "Nowhere/Land", 1);
    assert_int_equal(global(args, &json, &version, &help), -1);
    unsetenv("PACER_TIME_ZONE");
    const char *bad_option[] = {"pacer", "--timeout", "0", "status", NULL};
    assert_int_equal(global(bad_option, &json, &version, &help), -1);
    const char *unknown[] = {"pacer", "--frobnicate", "status", NULL};
    assert_int_equal(global(unknown, &json, &version, &help), -1);
    const char *version_only[] = {"pacer", "--version", NULL};
    assert_int_equal(global(version_only, &json, &version, &help), 2);
    assert_true(version);
}

static int usage_calls;
static FILE *usage_out;

static void
usage(FILE *out)
{
    usage_calls++;
    usage_out = out;
}

/* The end of a command's option loop: --help wins over a stray argument,
   a stray argument is an error, and otherwise the command goes on. */
static void
test_end(void **state)
{
    (void)state;
    char *plain[] = {"status", "--raw", NULL};
    cli_options_t common;
    optind = 0;
    command(&common, 2, plain);
    usage_calls = 0;
    assert_int_equal(cli_options_end(&common, 2, plain, usage), -1);
    assert_int_equal(usage_calls, 0);

    char *stray[] = {"status", "--raw", "extra", NULL};
    optind = 0;
    command(&common, 3, stray);
    assert_int_equal(cli_options_end(&common, 3, stray, usage), CLI_EXIT_FAILED);
    assert_int_equal(usage_calls, 0);

    char *help[] = {"status", "extra", "--help", NULL};
    optind = 0;
    command(&common, 3, help);
    assert_int_equal(cli_options_end(&common, 3, help, usage), CLI_EXIT_OK);
    assert_int_equal(usage_calls, 1);
    assert_ptr_equal(usage_out, stdout);

    assert_int_equal(cli_options_try_help(&common), CLI_EXIT_FAILED);
}

static void
test_time(void **state)
{
    (void)state;
    cli_options_t common;
    cli_options_init(&common, "tick");
    int64_t at = 7;
    assert_true(cli_options_time(&common, "now", "1970-01-02T00:00:00Z", &at));
    assert_int_equal(at, 86400000);
    assert_false(cli_options_time(&common, "now", "soon", &at));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_built_in_defaults, clear_environment),
        cmocka_unit_test_setup(test_precedence, clear_environment),
        cmocka_unit_test_setup(test_bad_values, clear_environment),
        cmocka_unit_test_setup(test_end, clear_environment),
        cmocka_unit_test_setup(test_time, clear_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
