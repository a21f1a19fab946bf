/*  Unit tests for projections/symtab: ids in order of first sight, and the
    index growing while strings are added and looked up (its entries move
    to the larger index a few at a time, so lookups must search both). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "projections/symtab.h"

static size_t
name(char *buf, size_t size, uint32_t i)
{
    return (size_t)snprintf(buf, size, "order-%u-%x", i, i * 2654435761u);
}

static void
test_ids_survive_growth(void **state)
{
    (void)state;
    symtab_t *t = symtab_new();
    assert_non_null(t);
    char buf[64];
    /* 300,000 strings cross eight growths of the 1,024-slot index; after
       each step some earlier strings, spread over old and new index, must
       still give their ids, and interning them again must not add any. */
    const uint32_t n = 300000;
    for (uint32_t i = 1; i <= n; i++) {
        size_t len = name(buf, sizeof buf, i);
        assert_int_equal(symtab_intern(t, buf, len), i);
        uint32_t back = 1 + ((i * 2654435761u) ^ (i >> 3)) % i; /* 1..i, spread */
        len = name(buf, sizeof buf, back);
        assert_int_equal(symtab_find(t, buf, len), back);
        if (i % 1000 == 0)
            assert_int_equal(symtab_intern(t, buf, len), back);
    }
    assert_int_equal(symtab_count(t), n);
    for (uint32_t i = 1; i <= n; i++) {
        size_t len = name(buf, sizeof buf, i);
        assert_int_equal(symtab_find(t, buf, len), i);
        assert_int_equal(symtab_len(t, i), len);
        assert_memory_equal(symtab_str(t, i), buf, len);
    }
    assert_int_equal(symtab_find(t, "order-0-0", 9), 0);

    /* Snapshot loading adds known-new strings in bulk after a reserve,
       which may come while a move is under way. */
    const char *strs[3] = {"x", "yy", "zzz"};
    const uint32_t lens[3] = {1, 2, 3};
    assert_int_equal(symtab_reserve(t, 3), 0);
    assert_int_equal(symtab_add_new_batch(t, strs, lens, 3), n + 3);
    assert_int_equal(symtab_find(t, "yy", 2), n + 2);
    name(buf, sizeof buf, 12345);
    assert_int_equal(symtab_find(t, buf, strlen(buf)), 12345);
    symtab_destroy(&t);
    assert_null(t);
}

static void
test_u64map_survives_growth(void **state)
{
    (void)state;
    u64map_t m;
    u64map_init(&m);
    /* 200,000 keys across several index growths: each value is set once
       and bumped later, through old and new index alike. */
    const uint64_t n = 200000;
    for (uint64_t i = 1; i <= n; i++) {
        bool added;
        uint64_t key = i * 0x9E3779B97F4A7C15ull;
        uint64_t *v = u64map_upsert(&m, key, &added);
        assert_non_null(v);
        assert_true(added);
        *v = i;
        uint64_t back = 1 + ((i * 2654435761u) ^ (i >> 3)) % i; /* 1..i, spread */
        uint64_t *w = u64map_upsert(&m, back * 0x9E3779B97F4A7C15ull, &added);
        assert_false(added);
        (*w)++; /* each key is bumped about once on average */
        assert_non_null(u64map_get(&m, key));
    }
    assert_int_equal(m.count, n);
    uint64_t bumps = 0;
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t *v = u64map_get(&m, i * 0x9E3779B97F4A7C15ull);
        assert_non_null(v);
        assert_true(*v >= i);
        bumps += *v - i;
    }
    assert_int_equal(bumps, n);
    assert_null(u64map_get(&m, 12345));
    u64map_free(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_survive_growth),
        cmocka_unit_test(test_u64map_survives_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
