/*  Unit tests for projections/symtab: ids in order of first sight, and the
    index growing while strings are added and looked up (its entries move
    to the larger index a few at a time, so lookups must search both). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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
        uint32_t back = i > 7 ? i - (i * 7919u) % i : 1; /* an earlier one */
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_survive_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
