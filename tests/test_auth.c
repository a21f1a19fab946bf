/*  Unit tests for daemon/auth: the keys file's parser, the role policy,
    and, over real CURVE connections on loopback, the ZAP handler, the
    per-request identification and a reload. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];

/* Three key pairs made once; the keys file texts use their public keys. */
static zcert_t *server, *alice, *bob;

static auth_keys_t *
parse(const char *text)
{
    return auth_keys_parse(text, strlen(text), err, sizeof err);
}

static void
test_keys_parse(void **state)
{
    char text[512];
    snprintf(text, sizeof text,
             "# pacer keys\n\n%s producer crm-east\r\n  %s\tadmin   # the boss\n",
             zcert_public_txt(alice), zcert_public_txt(bob));
    auth_keys_t *keys = parse(text);
    assert_non_null(keys);
    assert_int_equal(auth_keys_count(keys), 2);
    assert_int_equal(auth_keys_count_role(keys, AUTH_PRODUCER), 1);
    const auth_entry_t *e = auth_keys_find(keys, zcert_public_txt(alice));
    assert_non_null(e);
    assert_int_equal(e->role, AUTH_PRODUCER);
    assert_string_equal(e->name, "crm-east");
    e = auth_keys_find(keys, zcert_public_txt(bob));
    assert_int_equal(e->role, AUTH_ADMIN);
    assert_string_equal(e->name, zcert_public_txt(bob)); /* no name: the key */
    assert_null(auth_keys_find(keys, zcert_public_txt(server)));
    auth_keys_destroy(&keys);
    assert_null(keys);

    keys = parse(""); /* no keys: nobody is admitted, but no error */
    assert_non_null(keys);
    assert_int_equal(auth_keys_count(keys), 0);
    auth_keys_destroy(&keys);
}

static void
expect_error(const char *text, const char *words)
{
    assert_null(parse(text));
    if (!strstr(err, words))
        fail_msg("\"%s\" does not say \"%s\"", err, words);
}

static void
test_keys_errors(void **state)
{
    const char *a = zcert_public_txt(alice);
    char text[512];
    expect_error("abc reader\n", "line 1: \"abc\" is not a public key");
    snprintf(text, sizeof text, "\n%s writer\n", a);
    expect_error(text, "line 2: role \"writer\": expected producer, reader or admin");
    snprintf(text, sizeof text, "%s reader bad/name\n", a);
    expect_error(text, "line 1: name \"bad/name\"");
    snprintf(text, sizeof text, "%s reader a b\n", a);
    expect_error(text, "more than three fields");
    snprintf(text, sizeof text, "%s\n", a);
    expect_error(text, "one field");
    snprintf(text, sizeof text, "%s reader x\n%s admin y\n", a, a);
    expect_error(text, "listed twice");
    char name[100];
    memset(name, 'n', sizeof name);
    name[AUTH_NAME_MAX + 1] = 0;
    snprintf(text, sizeof text, "%s reader %s\n", a, name);
    expect_error(text, "1 to 64 characters");
    char nul[] = "x\0y reader\n";
    assert_null(auth_keys_parse(nul, sizeof nul - 1, err, sizeof err));
    assert_non_null(strstr(err, "NUL"));
}

static void
test_policy(void **state)
{
    /* append endpoint */
    assert_true(auth_may(AUTH_PRODUCER, OP_APPEND, WIRE_ON_APPEND));
    assert_false(auth_may(AUTH_READER, OP_APPEND, WIRE_ON_APPEND));
    assert_true(auth_may(AUTH_ADMIN, OP_APPEND, WIRE_ON_APPEND));
    wire_op_t admin_ops[] = {OP_ALLOCATE, OP_REBUILD, OP_TICK};
    for (size_t i = 0; i < 3; i++) {
        assert_false(auth_may(AUTH_PRODUCER, admin_ops[i], WIRE_ON_APPEND));
        assert_false(auth_may(AUTH_READER, admin_ops[i], WIRE_ON_APPEND));
        assert_true(auth_may(AUTH_ADMIN, admin_ops[i], WIRE_ON_APPEND));
    }
    /* query endpoint: status for any key, the rest for readers */
    assert_true(auth_may(AUTH_PRODUCER, OP_STATUS, WIRE_ON_QUERY));
    assert_false(auth_may(AUTH_PRODUCER, OP_EVENTS, WIRE_ON_QUERY));
    assert_false(auth_may(AUTH_PRODUCER, OP_OTHER, WIRE_ON_QUERY));
    assert_true(auth_may(AUTH_READER, OP_EVENTS, WIRE_ON_QUERY));
    assert_true(auth_may(AUTH_READER, OP_ALLOCATE, WIRE_ON_QUERY)); /* a preview */
    assert_true(auth_may(AUTH_ADMIN, OP_ALERTS, WIRE_ON_QUERY));
    /* an unknown key may do nothing, not even status */
    assert_false(auth_may(AUTH_NONE, OP_STATUS, WIRE_ON_QUERY));
    /* event types */
    assert_true(auth_may_append(AUTH_PRODUCER, EV_SALE_CLOSED));
    assert_true(auth_may_append(AUTH_PRODUCER, EV_NODE_DEFINED));
    assert_false(auth_may_append(AUTH_PRODUCER, EV_TARGET_SET));
    assert_false(auth_may_append(AUTH_PRODUCER, EV_ALERT_SILENCED));
    assert_true(auth_may_append(AUTH_ADMIN, EV_ANOMALY_REVIEWED));
    assert_false(auth_may_append(AUTH_READER, EV_SALE_CLOSED));
    /* subscriptions */
    assert_int_equal(auth_domain_needs(AUTH_DOMAIN_PUBLISH), AUTH_READER);
    assert_int_equal(auth_domain_needs(AUTH_DOMAIN_APPEND), AUTH_NONE);

    char msg[300];
    auth_forbidden(AUTH_PRODUCER, "crm", "rebuild", AUTH_ADMIN, msg, sizeof msg);
    assert_string_equal(msg, "crm has the role producer, which may not rebuild: that needs an "
                             "admin key");
}

/* ---- over the wire ---------------------------------------------------------- */

static char dir[64];

static void
write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A DEALER with `cert` (NULL: no CURVE) that sends "hi" to port. */
static zsock_t *
client(zcert_t *cert, int port)
{
    zsock_t *c = zsock_new(ZMQ_DEALER);
    if (cert) {
        zcert_apply(cert, c);
        zsock_set_curve_serverkey(c, zcert_public_txt(server));
    }
    assert_int_equal(zsock_connect(c, "tcp://127.0.0.1:%d", port), 0);
    zstr_send(c, "hi");
    return c;
}

/* The next message on the ROUTER within `ms`: its sender's role; -1 none.
   A message that must come gets 10 s (a CURVE handshake on a loaded
   machine); one that must not, 1 s. */
static int
receive_within(zsock_t *router, auth_t *auth, char *principal, size_t len, int ms)
{
    zpoller_t *poller = zpoller_new(router, NULL);
    void *which = zpoller_wait(poller, ms);
    zpoller_destroy(&poller);
    if (which != router)
        return -1;
    zmq_msg_t ident, body;
    zmq_msg_init(&ident);
    zmq_msg_init(&body);
    void *raw = zsock_resolve(router);
    assert_true(zmq_msg_recv(&ident, raw, 0) >= 0);
    assert_true(zmq_msg_recv(&body, raw, 0) >= 0);
    int role = (int)auth_identify(auth, &body, principal, len);
    zmq_msg_close(&ident);
    zmq_msg_close(&body);
    return role;
}

static void
test_identify_and_reload(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pacer-test-auth-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[128], keys_path[128], text[256];
    snprintf(path, sizeof path, "%s/server", dir);
    assert_int_equal(zcert_save(server, path), 0);
    snprintf(keys_path, sizeof keys_path, "%s/keys", dir);
    snprintf(text, sizeof text, "%s producer alice\n", zcert_public_txt(alice));
    write_file("keys", text);

    /* a public certificate alone is not enough for the server */
    char public_only[160];
    snprintf(public_only, sizeof public_only, "%s/public", dir);
    assert_int_equal(zcert_save_public(server, public_only), 0);
    assert_int_equal(auth_check(public_only, keys_path, err, sizeof err), -1);
    assert_non_null(strstr(err, "holds no secret key"));
    assert_int_equal(auth_check(path, keys_path, err, sizeof err), 0);

    auth_t *auth = auth_new(path, keys_path, err, sizeof err);
    assert_non_null(auth);
    assert_string_equal(auth_server_key(auth), zcert_public_txt(server));
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    auth_apply(auth, router, AUTH_DOMAIN_APPEND);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert_true(port > 0);

    char principal[AUTH_NAME_MAX + 1];
    zsock_t *a = client(alice, port);
    assert_int_equal(receive_within(router, auth, principal, sizeof principal, 10000),
                     AUTH_PRODUCER);
    assert_string_equal(principal, "alice");
    zsock_t *b = client(bob, port); /* not listed: never gets through */
    zsock_t *none = client(NULL, port);
    assert_int_equal(receive_within(router, auth, principal, sizeof principal, 1000), -1);

    /* alice becomes a reader, by name "alice.r"; bob is admitted */
    snprintf(text, sizeof text, "%s reader alice.r\n%s admin\n", zcert_public_txt(alice),
             zcert_public_txt(bob));
    write_file("keys", text);
    assert_int_equal(auth_reload(auth, err, sizeof err), 0);
    zstr_send(a, "again"); /* the same connection, the new role */
    assert_int_equal(receive_within(router, auth, principal, sizeof principal, 10000), AUTH_READER);
    assert_string_equal(principal, "alice.r");
    /* a refused connection stays refused (libzmq ends the session on a
       failed handshake); a new one gets through */
    assert_int_equal(receive_within(router, auth, principal, sizeof principal, 1000), -1);
    zsock_destroy(&b);
    b = client(bob, port);
    assert_int_equal(receive_within(router, auth, principal, sizeof principal, 10000), AUTH_ADMIN);
    assert_string_equal(principal, zcert_public_txt(bob));

    /* a file that does not parse leaves the keys in force */
    write_file("keys", "garbage\n");
    assert_int_equal(auth_reload(auth, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1"));
    zstr_send(a, "still");
    assert_int_equal(receive_within(router, auth, principal, sizeof principal, 10000), AUTH_READER);

    /* removed: its next request is nobody's */
    snprintf(text, sizeof text, "%s admin\n", zcert_public_txt(bob));
    write_file("keys", text);
    assert_int_equal(auth_reload(auth, err, sizeof err), 0);
    zstr_send(a, "gone");
    assert_int_equal(receive_within(router, auth, principal, sizeof principal, 10000), AUTH_NONE);
    assert_string_equal(principal, zcert_public_txt(alice));

    zsock_destroy(&a);
    zsock_destroy(&b);
    zsock_destroy(&none);
    zsock_destroy(&router);
    auth_destroy(&auth);
    assert_null(auth);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The publish domain admits readers and admins only. */
static void
test_publish_needs_reader(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pacer-test-auth-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[128], keys_path[128], text[256];
    snprintf(path, sizeof path, "%s/server", dir);
    assert_int_equal(zcert_save(server, path), 0);
    snprintf(keys_path, sizeof keys_path, "%s/keys", dir);
    snprintf(text, sizeof text, "%s producer alice\n%s reader bob\n", zcert_public_txt(alice),
             zcert_public_txt(bob));
    write_file("keys", text);
    auth_t *auth = auth_new(path, keys_path, err, sizeof err);
    assert_non_null(auth);
    zsock_t *pub = zsock_new(ZMQ_XPUB);
    auth_apply(auth, pub, AUTH_DOMAIN_PUBLISH);
    int port = zsock_bind(pub, "tcp://127.0.0.1:*");
    zsock_t *subs[2];
    zcert_t *certs[2] = {alice, bob};
    for (int i = 0; i < 2; i++) {
        subs[i] = zsock_new(ZMQ_SUB);
        zcert_apply(certs[i], subs[i]);
        zsock_set_curve_serverkey(subs[i], zcert_public_txt(server));
        zsock_set_subscribe(subs[i], "");
        zsock_connect(subs[i], "tcp://127.0.0.1:%d", port);
    }
    /* one subscription arrives: bob's */
    zframe_t *sub = zframe_recv(pub);
    assert_non_null(sub);
    assert_int_equal(zframe_data(sub)[0], 1);
    zframe_destroy(&sub);
    zsock_set_rcvtimeo(pub, 500);
    assert_null(zframe_recv(pub));
    zstr_send(pub, "news");
    zsock_set_rcvtimeo(subs[1], 10000);
    zsock_set_rcvtimeo(subs[0], 300);
    char *got = zstr_recv(subs[1]);
    assert_non_null(got);
    assert_string_equal(got, "news");
    zstr_free(&got);
    assert_null(zstr_recv(subs[0]));
    for (int i = 0; i < 2; i++)
        zsock_destroy(&subs[i]);
    zsock_destroy(&pub);
    auth_destroy(&auth);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    server = zcert_new();
    alice = zcert_new();
    bob = zcert_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_parse),
        cmocka_unit_test(test_keys_errors),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_identify_and_reload),
        cmocka_unit_test(test_publish_needs_reader),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    zcert_destroy(&server);
    zcert_destroy(&alice);
    zcert_destroy(&bob);
    return rc;
}
