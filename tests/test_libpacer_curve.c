/*  Unit tests for clients/libpacer_curve: key files and the environment
    into a pacer_curve_t, and a client whose keys do not load. (Refused
    and mismatched handshakes against a real pacerd: tests/it_auth.py.) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "clients/libpacer.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], pair[128], server[128], err[512];
static zcert_t *me, *them;

static int
setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pacer-test-curve-XXXXXX");
    assert_non_null(mkdtemp(dir));
    me = zcert_new();
    them = zcert_new();
    snprintf(pair, sizeof pair, "%s/me", dir);
    snprintf(server, sizeof server, "%s/server", dir);
    assert_int_equal(zcert_save(me, pair), 0); /* me and me_secret */
    assert_int_equal(zcert_save_public(them, server), 0);
    return 0;
}

static int
teardown(void **state)
{
    zcert_destroy(&me);
    zcert_destroy(&them);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void
test_load(void **state)
{
    pacer_curve_t c;
    /* FILE names the pair (FILE_secret is read), the server key as text */
    assert_int_equal(pacer_curve_load(&c, pair, zcert_public_txt(them), err, sizeof err), PACER_OK);
    assert_string_equal(c.public_key, zcert_public_txt(me));
    assert_string_equal(c.secret_key, zcert_secret_txt(me));
    assert_string_equal(c.server_key, zcert_public_txt(them));
    /* FILE_secret itself, the server key from a file */
    char secret[160];
    snprintf(secret, sizeof secret, "%s_secret", pair);
    memset(&c, 0, sizeof c);
    assert_int_equal(pacer_curve_load(&c, secret, server, err, sizeof err), PACER_OK);
    assert_string_equal(c.server_key, zcert_public_txt(them));
    /* a public certificate is no key pair */
    assert_int_equal(pacer_curve_load(&c, server, server, err, sizeof err), PACER_EINVAL);
    assert_non_null(strstr(err, "holds no secret key"));
    assert_int_equal(pacer_curve_load(&c, "/nonexistent", server, err, sizeof err), PACER_EINVAL);
    assert_non_null(strstr(err, "key file /nonexistent"));
    assert_int_equal(pacer_curve_load(&c, pair, "not-a-key", err, sizeof err), PACER_EINVAL);
    assert_non_null(strstr(err, "server key \"not-a-key\""));
}

static void
test_from_env(void **state)
{
    pacer_curve_t c;
    unsetenv("PACER_KEY");
    unsetenv("PACER_SERVER_KEY");
    assert_int_equal(pacer_curve_from_env(&c, err, sizeof err), 0);
    setenv("PACER_KEY", pair, 1);
    assert_int_equal(pacer_curve_from_env(&c, err, sizeof err), PACER_EINVAL);
    assert_non_null(strstr(err, "PACER_KEY is set but not PACER_SERVER_KEY"));
    setenv("PACER_SERVER_KEY", zcert_public_txt(them), 1);
    assert_int_equal(pacer_curve_from_env(&c, err, sizeof err), 1);
    assert_string_equal(c.public_key, zcert_public_txt(me));

    /* a client made while the keys do not load says so on every request */
    setenv("PACER_KEY", "/nonexistent", 1);
    pacer_client_t *client = pacer_client_new(NULL, "tcp://127.0.0.1:9");
    assert_non_null(client);
    pacer_status_t status;
    assert_int_equal(pacer_status(client, &status), PACER_EINVAL);
    assert_non_null(strstr(pacer_client_error(client), "key file /nonexistent"));
    pacer_client_destroy(&client);
    unsetenv("PACER_KEY");
    unsetenv("PACER_SERVER_KEY");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_from_env),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
