/*  index-bench: how long the writer can wait on a growing in-memory index.

    Two indexes grow with every sale: the duplicate index of event ids
    (daemon/dedup), which the writer grows before a group, and the
    projection's table of order ids (a symtab, projections/symtab), which
    grows as orders are interned. A growth that moved every entry at once,
    or copied the table, shows here as one slow step.

    The duplicate index: load --start ids the way start-up does, then
    append ids up to --end in groups of --group as the writer does (a
    lookup, then an insert, for each); print the slowest reservation and
    the time spent in all of them. Ids are distinct, so every lookup misses,
    as for new events. The order ids: intern --orders ids shaped like
    pacer-bench's, one at a time, and print the slowest; then grow an
    array of 40-byte records (an order's size) one record at a time to
    --orders, as the projection's order table grows (bigmem_remap), and
    print the slowest growth. */

#include "daemon/dedup.h"
#include "projections/bigmem.h"
#include "projections/symtab.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The id hash of event k: spread like a real hash, distinct for each k. */
static uint64_t
id_hash(uint64_t k)
{
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static void
usage(FILE *out)
{
    fputs("usage: index-bench [--start N] [--end N] [--group N] [--orders N]\n"
          "\n"
          "Times the duplicate index's reservations as ids N+1.. are appended after a\n"
          "start-up load of N ids (default 22000000 to 25000000, across the growth at\n"
          "about 23.5 million), in groups of --group ids (default 4000); then the\n"
          "interning of --orders order ids into a symbol table (default 17000000,\n"
          "across the growth at 16.8 million; 0 skips it), and the growth of an\n"
          "order table to as many records.\n",
          out);
}

static int
parse(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* Intern n order ids shaped like pacer-bench's, timing each. */
static int
intern_orders(uint64_t n)
{
    symtab_t *t = symtab_new();
    if (!t) {
        fprintf(stderr, "index-bench: out of memory\n");
        return 1;
    }
    double worst = 0, t0 = now_ms();
    uint64_t worst_at = 0;
    for (uint64_t i = 1; i <= n; i++) {
        char id[64];
        int len = snprintf(id, sizeof id, "so-31c0c98599f54a68-%" PRIu64 "-%" PRIu64, i % 4, i);
        double a = now_ms();
        uint32_t got = symtab_intern(t, id, (size_t)len);
        double took = now_ms() - a;
        if (got != i) {
            fprintf(stderr, "index-bench: order %" PRIu64 " got id %u\n", i, got);
            symtab_destroy(&t);
            return 1;
        }
        if (took > worst) {
            worst = took;
            worst_at = i;
        }
    }
    printf("interned %" PRIu64 " order ids in %.0f ms; slowest %.1f ms (order %" PRIu64 ")\n", n,
           now_ms() - t0, worst, worst_at);
    symtab_destroy(&t);

    enum { RECORD = 40 };
    char *orders = NULL;
    size_t cap = 0;
    worst = 0;
    for (uint64_t i = 1; i <= n; i++) {
        if (i > cap) {
            size_t c = cap ? cap * 2 : 8;
            double a = now_ms();
            char *grown = bigmem_remap(orders, cap * RECORD, c * RECORD);
            double took = now_ms() - a;
            if (!grown) {
                fprintf(stderr, "index-bench: out of memory for %zu records\n", c);
                bigmem_unmap(orders, cap * RECORD);
                return 1;
            }
            if (took > worst) {
                worst = took;
                worst_at = c;
            }
            orders = grown;
            cap = c;
        }
        orders[(i - 1) * RECORD] = 1; /* the new record is written */
    }
    printf("grew a table of %d-byte order records to %" PRIu64
           "; slowest growth %.1f ms (to %" PRIu64 " records)\n",
           RECORD, n, worst, worst_at);
    bigmem_unmap(orders, cap * RECORD);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"start", required_argument, 0, 's'}, {"end", required_argument, 0, 'e'},
        {"group", required_argument, 0, 'g'}, {"orders", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    uint64_t start = 22000000, end = 25000000, group = 4000, orders = 17000000;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        uint64_t *to = c == 's'   ? &start
                       : c == 'e' ? &end
                       : c == 'g' ? &group
                       : c == 'o' ? &orders
                                  : NULL;
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (!to || parse(optarg, to) != 0) {
            usage(stderr);
            return 2;
        }
    }
    if (group == 0 || end < start) {
        fprintf(stderr, "index-bench: need --group > 0 and --end >= --start\n");
        return 2;
    }
    /* As writer_load_ids sizes it: the log's ids and a million more. */
    dedup_t *d = dedup_new((size_t)start + ((size_t)1 << 20));
    if (!d) {
        fprintf(stderr, "index-bench: out of memory for %" PRIu64 " ids\n", start);
        return 1;
    }
    uint64_t hashes[64], seqs[64], k = 1;
    double t0 = now_ms();
    while (k <= start) {
        size_t n = 0;
        for (; n < 64 && k <= start; n++, k++) {
            hashes[n] = id_hash(k);
            seqs[n] = k;
        }
        dedup_load(d, hashes, seqs, n);
    }
    double loaded = now_ms() - t0, worst = 0, all = 0;
    uint64_t groups = 0, worst_at = 0;
    t0 = now_ms();
    while (k <= end) {
        double a = now_ms();
        if (dedup_reserve(d, (size_t)group) != 0) {
            fprintf(stderr, "index-bench: out of memory growing the index at %" PRIu64 " ids\n",
                    k - 1);
            dedup_destroy(&d);
            return 1;
        }
        double took = now_ms() - a;
        all += took;
        if (took > worst) {
            worst = took;
            worst_at = k - 1;
        }
        groups++;
        for (uint64_t i = 0; i < group; i++, k++) {
            dedup_iter_t it;
            if (dedup_first(d, id_hash(k), &it) != 0) {
                fprintf(stderr, "index-bench: id %" PRIu64 " found before it was added\n", k);
                dedup_destroy(&d);
                return 1;
            }
            dedup_insert(d, id_hash(k), k);
        }
        dedup_settle(d, dedup_mark(d));
    }
    printf("loaded %" PRIu64 " ids in %.0f ms; appended up to %" PRIu64 " in %" PRIu64
           " groups of %" PRIu64 " in %.0f ms\n"
           "slowest reservation %.1f ms (at %" PRIu64 " ids), all reservations %.0f ms\n",
           start, loaded, end, groups, group, now_ms() - t0, worst, worst_at, all);
    dedup_destroy(&d);
    return orders ? intern_orders(orders) : 0;
}
