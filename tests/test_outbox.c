/*  Unit tests for daemon/outbox: alerts and states put in the store's
    write transaction and read back, the newest aseq and the epoch kept
    across a reopen, a damaged epoch refused (STORE_CORRUPT) rather than
    replaced by a new one, and a damaged record refused when read. Real LMDB files in a temp dir. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/outbox.h"
#include "daemon/store.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];
static char err[512];

static int
setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pacer-test-outbox-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static store_t *
open_store(void)
{
    store_options_t opts = {.map_size = 16u << 20};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    return s;
}

static void
put_two(store_t *s)
{
    outbox_batch_t b;
    outbox_batch_init(&b);
    assert_int_equal(outbox_batch_add(&b, 1, "alert/a/", 8, "\x80", 1), 0);
    assert_int_equal(outbox_batch_add(&b, 2, "alert/b/", 8, "\x80", 1), 0);
    assert_int_equal(outbox_batch_state(&b, "k1", 2, "\x81\xa1s\x01", 4), 0);
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(outbox_put(s, &b, err, sizeof err), STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    outbox_batch_destroy(&b);
}

static void
test_put_and_reopen(void **state)
{
    store_t *s = open_store();
    uint64_t last = 99;
    assert_int_equal(outbox_open(s, &last, err, sizeof err), STORE_OK);
    assert_int_equal(last, 0);
    uint64_t epoch = outbox_epoch();
    put_two(s);

    store_reader_t *r = store_read_begin(s, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(outbox_reader_last_aseq(r, &last, err, sizeof err), STORE_OK);
    assert_int_equal(last, 2);
    const char *topic;
    size_t tl, rl;
    const void *rec;
    assert_int_equal(outbox_get(r, 2, &topic, &tl, &rec, &rl, err, sizeof err), STORE_OK);
    assert_int_equal(tl, 8);
    assert_memory_equal(topic, "alert/b/", 8);
    assert_int_equal(outbox_get(r, 3, &topic, &tl, &rec, &rl, err, sizeof err), STORE_NOT_FOUND);
    const void *val;
    size_t vl;
    assert_int_equal(outbox_get_state(r, "k1", 2, &val, &vl, err, sizeof err), STORE_OK);
    assert_int_equal(vl, 4);
    assert_int_equal(outbox_get_state(r, "k2", 2, &val, &vl, err, sizeof err), STORE_NOT_FOUND);
    store_read_end(&r);
    store_destroy(&s);

    s = open_store();
    assert_int_equal(outbox_open(s, &last, err, sizeof err), STORE_OK);
    assert_int_equal(last, 2);
    assert_true(outbox_epoch() == epoch);
    store_destroy(&s);
}

/* A damaged epoch must stop the start-up: replacing it would silently
   tell every subscriber its cursor belongs to another outbox. */
static void
test_damaged_epoch_refused(void **state)
{
    store_t *s = open_store();
    uint64_t last;
    assert_int_equal(outbox_open(s, &last, err, sizeof err), STORE_OK);
    MDB_env *env = store_env(s);
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "alert_state", 0, &dbi), 0);
    MDB_val k = {6, (void *)"\0epoch"}, v = {3, (void *)"abc"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);

    err[0] = 0;
    assert_int_equal(outbox_open(s, &last, err, sizeof err), STORE_CORRUPT);
    assert_non_null(strstr(err, "epoch is 3 bytes"));

    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, 3); /* left as it was */
    mdb_txn_abort(txn);
    store_destroy(&s);
}

/* A record that is not one well-formed msgpack value (a damaged page) is
   refused when read, not handed to msgpack-c, the publisher or a client:
   here an array header claiming 2^32 - 1 elements with none behind it. */
static void
test_damaged_record_refused(void **state)
{
    store_t *s = open_store();
    uint64_t last;
    assert_int_equal(outbox_open(s, &last, err, sizeof err), STORE_OK);
    outbox_batch_t b;
    outbox_batch_init(&b);
    assert_int_equal(outbox_batch_add(&b, 1, "alert/a/", 8, "\xdd\xff\xff\xff\xff", 5), 0);
    assert_int_equal(outbox_batch_add(&b, 2, "alert/b/", 8, "\x80\x80", 2), 0); /* two values */
    assert_int_equal(outbox_batch_add(&b, 3, "alert/c/", 8, "\x80", 1), 0);
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(outbox_put(s, &b, err, sizeof err), STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    outbox_batch_destroy(&b);
    store_reader_t *r = store_read_begin(s, err, sizeof err);
    assert_non_null(r);
    const char *topic;
    size_t tl, rl;
    const void *rec;
    for (uint64_t aseq = 1; aseq <= 2; aseq++) {
        err[0] = 0;
        assert_int_equal(outbox_get(r, aseq, &topic, &tl, &rec, &rl, err, sizeof err),
                         STORE_CORRUPT);
        assert_non_null(strstr(err, "damaged"));
    }
    assert_int_equal(outbox_get(r, 3, &topic, &tl, &rec, &rl, err, sizeof err), STORE_OK);
    store_read_end(&r);
    store_destroy(&s);
}

/* outbox_put outside a write transaction names what is wrong. */
static void
test_put_without_txn(void **state)
{
    store_t *s = open_store();
    uint64_t last;
    assert_int_equal(outbox_open(s, &last, err, sizeof err), STORE_OK);
    outbox_batch_t b;
    outbox_batch_init(&b);
    assert_int_equal(outbox_put(s, &b, err, sizeof err), STORE_ERROR);
    assert_non_null(strstr(err, "no open write transaction"));
    outbox_batch_destroy(&b);
    store_destroy(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_epoch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_without_txn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
