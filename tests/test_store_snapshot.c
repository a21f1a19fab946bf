/*  Unit tests for daemon/store_snapshot's manifest, on bytes: what
    store_manifest_decode accepts, refuses and calls no manifest, and how
    store_manifest_gather puts chunks together or refuses them. The
    snapshots' storage in LMDB is tested in tests/test_store.c. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/store_snapshot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static int
decode(uint64_t len, uint64_t first, uint64_t chunks, store_manifest_t *m)
{
    store_manifest_t in = {.len = len, .first = first, .chunks = chunks};
    uint8_t bytes[STORE_MANIFEST_BYTES];
    store_manifest_encode(&in, bytes);
    err[0] = '\0';
    return store_manifest_decode(bytes, sizeof bytes, m, err, sizeof err);
}

static void
test_manifest_bytes(void **state)
{
    /* The layout store.c has always written: magic, then native u64s. */
    store_manifest_t m = {.len = 5524282, .first = 1, .chunks = 2}, back;
    uint8_t bytes[STORE_MANIFEST_BYTES];
    store_manifest_encode(&m, bytes);
    assert_memory_equal(bytes, "PSNAPMF1", 8);
    uint64_t field;
    memcpy(&field, bytes + 8, 8);
    assert_int_equal(field, 5524282);
    memcpy(&field, bytes + 16, 8);
    assert_int_equal(field, 1);
    memcpy(&field, bytes + 24, 8);
    assert_int_equal(field, 2);
    assert_int_equal(store_manifest_decode(bytes, sizeof bytes, &back, err, sizeof err), STORE_OK);
    assert_memory_equal(&back, &m, sizeof m);
}

static void
test_manifest_edges_accepted(void **state)
{
    store_manifest_t m;
    assert_int_equal(decode(0, 7, 0, &m), STORE_OK); /* an empty snapshot */
    assert_int_equal(decode(1, 1, 1, &m), STORE_OK);
    assert_int_equal(decode(3, 9, 3, &m), STORE_OK); /* one byte a chunk */
    /* the last chunk number there is */
    assert_int_equal(decode(1, UINT64_MAX, 1, &m), STORE_OK);
    assert_int_equal(decode(10, UINT64_MAX - 1, 2, &m), STORE_OK);
}

static void
test_manifest_inconsistent_refused(void **state)
{
    store_manifest_t m;
    assert_int_equal(decode(2, 1, 3, &m), STORE_CORRUPT);
    assert_non_null(strstr(err, "more chunks than bytes"));
    /* the fields as stored, for the pruning that keeps a corrupt one's chunks */
    assert_int_equal(m.len, 2);
    assert_int_equal(m.first, 1);
    assert_int_equal(m.chunks, 3);
    assert_int_equal(decode(5, 1, 0, &m), STORE_CORRUPT);
    assert_non_null(strstr(err, "bytes but no chunk"));
    assert_int_equal(decode(10, UINT64_MAX, 2, &m), STORE_CORRUPT);
    assert_non_null(strstr(err, "chunk numbers past the largest key"));
    assert_int_equal(decode(UINT64_MAX, 2, UINT64_MAX, &m), STORE_CORRUPT);
    assert_non_null(strstr(err, "snapshot manifest ("));
}

static void
test_not_a_manifest(void **state)
{
    store_manifest_t m;
    uint8_t bytes[STORE_MANIFEST_BYTES + 1];
    store_manifest_encode(&(store_manifest_t){.len = 1, .first = 1, .chunks = 1}, bytes);
    bytes[STORE_MANIFEST_BYTES] = 0;
    /* a snapshot stored whole by earlier versions: any other size or magic */
    assert_int_equal(store_manifest_decode(bytes, STORE_MANIFEST_BYTES - 1, &m, err, sizeof err),
                     STORE_NOT_FOUND);
    assert_int_equal(store_manifest_decode(bytes, STORE_MANIFEST_BYTES + 1, &m, err, sizeof err),
                     STORE_NOT_FOUND);
    assert_int_equal(store_manifest_decode(bytes, 0, &m, err, sizeof err), STORE_NOT_FOUND);
    bytes[7] = '2';
    assert_int_equal(store_manifest_decode(bytes, STORE_MANIFEST_BYTES, &m, err, sizeof err),
                     STORE_NOT_FOUND);
}

/* Chunks for the gather: sizes[i] bytes for chunk first + i (-1: missing),
   each filled with 'a' + i; fail_at answers STORE_ERROR. */
typedef struct {
    uint64_t first;
    const int *sizes;
    size_t n;
    uint64_t fail_at;
    int calls;
} chunks_t;

static int
chunk_get(void *arg, uint64_t chunk, const void **data, size_t *len, char *e, size_t elen)
{
    static char fill[26][64];
    chunks_t *c = arg;
    c->calls++;
    if (chunk == c->fail_at) {
        snprintf(e, elen, "reading a snapshot chunk: disk on fire");
        return STORE_ERROR;
    }
    uint64_t i = chunk - c->first;
    if (chunk < c->first || i >= c->n || c->sizes[i] < 0)
        return STORE_NOT_FOUND;
    memset(fill[i], 'a' + (int)i, sizeof fill[i]);
    *data = fill[i];
    *len = (size_t)c->sizes[i];
    return STORE_OK;
}

static int
gather(uint64_t len, uint64_t first, uint64_t chunks, chunks_t *c, char **out)
{
    store_manifest_t m = {.len = len, .first = first, .chunks = chunks};
    err[0] = '\0';
    *out = NULL;
    return store_manifest_gather(&m, chunk_get, c, out, err, sizeof err);
}

static void
test_gather(void **state)
{
    char *out;
    /* chunks of any sizes, in order */
    chunks_t c = {.first = 40, .sizes = (const int[]){3, 1, 2}, .n = 3};
    assert_int_equal(gather(6, 40, 3, &c, &out), STORE_OK);
    assert_memory_equal(out, "aaabcc", 6);
    free(out);
    /* an empty snapshot asks for no chunk and still returns a buffer */
    c.calls = 0;
    assert_int_equal(gather(0, 40, 0, &c, &out), STORE_OK);
    assert_non_null(out);
    assert_int_equal(c.calls, 0);
    free(out);
}

static void
test_gather_refusals(void **state)
{
    char *out;
    chunks_t c = {.first = 40, .sizes = (const int[]){3, -1, 2}, .n = 3};
    assert_int_equal(gather(6, 40, 3, &c, &out), STORE_CORRUPT);
    assert_non_null(strstr(err, "snapshot chunk 41 is missing"));
    assert_null(out);
    c.sizes = (const int[]){3, 0, 2};
    assert_int_equal(gather(5, 40, 3, &c, &out), STORE_CORRUPT);
    assert_non_null(strstr(err, "snapshot chunk 41 is empty"));
    c.sizes = (const int[]){3, 1, 2};
    assert_int_equal(gather(5, 40, 3, &c, &out), STORE_CORRUPT);
    assert_non_null(strstr(err, "snapshot chunk 42 is larger than the rest of the snapshot"));
    assert_int_equal(gather(7, 40, 3, &c, &out), STORE_CORRUPT);
    assert_non_null(strstr(err, "snapshot chunks hold 6 of its 7 bytes"));
    /* A damaged length is found corrupt, not sized into an allocation
       (tests/corpus/fuzz_manifest/crash-8994800c...). */
    assert_int_equal(gather((uint64_t)1 << 62, 40, 1, &c, &out), STORE_CORRUPT);
    assert_non_null(strstr(err, "hold 3 of its"));
    assert_null(out);
    /* the chunk source's own failure comes back as it is */
    c.fail_at = 41;
    assert_int_equal(gather(6, 40, 3, &c, &out), STORE_ERROR);
    assert_non_null(strstr(err, "disk on fire"));
    assert_null(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_bytes),
        cmocka_unit_test(test_manifest_edges_accepted),
        cmocka_unit_test(test_manifest_inconsistent_refused),
        cmocka_unit_test(test_not_a_manifest),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_gather_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
