/*  Unit tests for the duplicate index's journal (daemon/dedup), the part
    the writer's recovery from a failed commit stands on: inserts of two
    groups unsettled at once, the older settled when its commit returns,
    the rest rolled back on a failure; a rolled-back (hash, seq) inserted
    again at the same seq (a group redone where it was); and all of it while
    a growth is moving entries from the old table to the new one. After a
    rollback the index must name no seq of the undone groups, and every
    settled entry must still be found. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/dedup.h"

#include <stdint.h>
#include <stdlib.h>

/* A well-mixed hash for id i (splitmix64), as SipHash would give. */
static uint64_t
hash_of(uint64_t i)
{
    uint64_t z = i + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* How many times the index names seq for hash. */
static int
names(dedup_t *d, uint64_t hash, uint64_t seq)
{
    dedup_iter_t it;
    int n = 0;
    for (uint64_t s = dedup_first(d, hash, &it); s; s = dedup_next(d, &it))
        n += s == seq;
    return n;
}

/* Any seq at all for hash. */
static bool
any(dedup_t *d, uint64_t hash)
{
    dedup_iter_t it;
    return dedup_first(d, hash, &it) != 0;
}

/* ids [from, from + n) at seqs [seq, seq + n), as the writer inserts a group */
static void
insert_group(dedup_t *d, uint64_t from, size_t n, uint64_t seq)
{
    assert_int_equal(dedup_reserve(d, n), 0);
    for (size_t i = 0; i < n; i++)
        dedup_insert(d, hash_of(from + i), seq + i);
}

static void
check_group(dedup_t *d, uint64_t from, size_t n, uint64_t seq, int times)
{
    for (size_t i = 0; i < n; i++)
        if (names(d, hash_of(from + i), seq + i) != times)
            fail_msg("id %llu at seq %llu named %d times, not %d", (unsigned long long)(from + i),
                     (unsigned long long)(seq + i), names(d, hash_of(from + i), seq + i), times);
}

static void
check_gone(dedup_t *d, uint64_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (any(d, hash_of(from + i)))
            fail_msg("id %llu still named after its rollback", (unsigned long long)(from + i));
}

/* The writer's schedules: A in the commit's hands, B applied behind it. */
static void
run_schedules(dedup_t *d, uint64_t base_id, uint64_t log_end)
{
    const size_t n = 300;
    uint64_t a = base_id, b = base_id + n, c = base_id + 2 * n;
    /* A commits: settled; B behind it rolled back (its commit failed) */
    insert_group(d, a, n, log_end + 1);
    size_t mark = dedup_mark(d);
    assert_int_equal(mark, n);
    insert_group(d, b, n, log_end + n + 1);
    dedup_settle(d, mark);
    assert_int_equal(dedup_mark(d), n);
    dedup_rollback(d);
    assert_int_equal(dedup_mark(d), 0);
    check_group(d, a, n, log_end + 1, 1);
    check_gone(d, b, n);
    log_end += n;
    /* B at the seqs it had, C behind it; B's commit fails: both undone */
    insert_group(d, b, n, log_end + 1);
    insert_group(d, c, n, log_end + n + 1);
    dedup_rollback(d);
    check_gone(d, b, n);
    check_gone(d, c, n);
    /* C redone where B was, B's retry behind it; C commits, B fails */
    insert_group(d, c, n, log_end + 1);
    mark = dedup_mark(d);
    insert_group(d, b, n, log_end + n + 1);
    dedup_settle(d, mark);
    dedup_rollback(d);
    check_group(d, c, n, log_end + 1, 1);
    check_gone(d, b, n);
    /* B once more at the very seqs it was rolled back from: named once */
    insert_group(d, b, n, log_end + n + 1);
    dedup_settle(d, dedup_mark(d));
    check_group(d, b, n, log_end + n + 1, 1);
    check_group(d, a, n, log_end + 1 - n, 1);
}

static void
test_journal_settle_and_rollback(void **state)
{
    dedup_t *d = dedup_new(10000);
    assert_non_null(d);
    run_schedules(d, 1000000, 0);
    assert_false(dedup_growing(d));
    dedup_destroy(&d);
}

/* The same while a growth is under way: entries settled before it still
   found, the journal's entries rolled back wherever they moved. */
static void
test_journal_during_growth(void **state)
{
    /* 2^21 slots filled to 70%: a reservation starts a growth that moves
       65536 old slots at each, 32 reservations in all, so it is still
       under way after the few groups below */
    dedup_t *d = dedup_new(1000000);
    assert_non_null(d);
    const size_t filled = ((size_t)1 << 21) * 7 / 10 - 100;
    insert_group(d, 0, filled, 1);
    dedup_settle(d, dedup_mark(d));
    /* a group of B rolled back before the growth, so tombstones move too */
    insert_group(d, filled, 50, filled + 1);
    dedup_rollback(d);
    run_schedules(d, 10000000, filled);
    assert_true(dedup_growing(d));
    check_group(d, 0, filled, 1, 1);
    check_gone(d, filled, 50);
    /* the growth finishes; everything still as it was */
    while (dedup_growing(d))
        assert_int_equal(dedup_reserve(d, 1), 0);
    check_group(d, 0, filled, 1, 1);
    check_gone(d, filled, 50);
    run_schedules(d, 20000000, filled + 900);
    dedup_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_settle_and_rollback),
        cmocka_unit_test(test_journal_during_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
