/*  Unit tests for daemon/chain: the hashes it computes on its thread, in
    pushes of any size, with the rest finished on the caller's thread, are
    exactly store_chain_hash applied one record after the other (with the
    principal of the links that have one: version 2 records). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINKS 5000

static uint8_t events[LINKS][64];
static chain_link_t links[LINKS];

static void
expected_hashes(const uint8_t prev0[STORE_HASH_BYTES], uint64_t first_seq, int64_t at, size_t n,
                uint8_t (*out)[STORE_HASH_BYTES])
{
    const uint8_t *prev = prev0;
    for (size_t i = 0; i < n; i++) {
        store_chain_hash_principal(prev, first_seq + i, at, links[i].principal,
                                   links[i].principal_len, events[i], links[i].len, out[i]);
        prev = out[i];
    }
}

static void
fill_links(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        links[i].len = (uint32_t)snprintf((char *)events[i], sizeof events[i], "event %zu", i);
        links[i].event = events[i];
        links[i].principal = i % 3 ? "crm" : NULL; /* versions 1 and 2 mixed */
        links[i].principal_len = i % 3 ? 3 : 0;
        memset(links[i].hash, 0, STORE_HASH_BYTES);
    }
}

static void
test_chain_matches_sequential(void **state)
{
    static uint8_t want[LINKS][STORE_HASH_BYTES];
    char err[256];
    chain_t *c = chain_new(err, sizeof err);
    assert_non_null(c);
    uint8_t prev[STORE_HASH_BYTES];
    memset(prev, 0xab, sizeof prev);
    /* push sizes from 1 to a few hundred, and finishes at every stage
       (nothing pushed, part hashed, all hashed) */
    size_t sizes[] = {0, 1, 2, 31, 32, 33, 500, LINKS};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        fill_links(n);
        expected_hashes(prev, 1000 + t, 1790000000000 + (int64_t)t, n, want);
        chain_begin(c, prev, 1000 + t, 1790000000000 + (int64_t)t, links);
        size_t pushed = 0, step = 1;
        while (pushed + step < n * 3 / 4) {
            pushed += step;
            step = step * 2 + 1;
            chain_push(c, pushed);
        }
        chain_finish(c, n);
        for (size_t i = 0; i < n; i++)
            assert_memory_equal(links[i].hash, want[i], STORE_HASH_BYTES);
    }
    chain_destroy(&c);
    assert_null(c);
    chain_destroy(&c); /* harmless */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_matches_sequential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
