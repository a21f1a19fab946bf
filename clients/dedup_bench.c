/*  dedup-bench: how long the writer can wait on the duplicate index.

    pacerd's writer reserves room in the in-memory id index (daemon/dedup)
    before each group, and growing the index happens there. This loads
    --start ids the way start-up does, then appends ids up to --end in
    groups of --group as the writer does (a lookup, then an insert, for
    each), and prints the slowest reservation and the time spent in all of
    them: a growth that moved every entry at once shows as one slow group.
    Ids are distinct, so every lookup misses, as for new events. */

#include "daemon/dedup.h"

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
    fputs("usage: dedup-bench [--start N] [--end N] [--group N]\n"
          "\n"
          "Times the duplicate index's reservations as ids N+1.. are appended after a\n"
          "start-up load of N ids (default 22000000 to 25000000, across the growth at\n"
          "about 23.5 million), in groups of --group ids (default 4000).\n",
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

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"start", required_argument, 0, 's'},
                                         {"end", required_argument, 0, 'e'},
                                         {"group", required_argument, 0, 'g'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    uint64_t start = 22000000, end = 25000000, group = 4000;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        uint64_t *to = c == 's' ? &start : c == 'e' ? &end : c == 'g' ? &group : NULL;
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
        fprintf(stderr, "dedup-bench: need --group > 0 and --end >= --start\n");
        return 2;
    }
    /* As writer_load_ids sizes it: the log's ids and a million more. */
    dedup_t *d = dedup_new((size_t)start + ((size_t)1 << 20));
    if (!d) {
        fprintf(stderr, "dedup-bench: out of memory for %" PRIu64 " ids\n", start);
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
            fprintf(stderr, "dedup-bench: out of memory growing the index at %" PRIu64 " ids\n",
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
                fprintf(stderr, "dedup-bench: id %" PRIu64 " found before it was added\n", k);
                dedup_destroy(&d);
                return 1;
            }
            dedup_insert(d, id_hash(k), k);
        }
        dedup_settle(d);
    }
    printf("loaded %" PRIu64 " ids in %.0f ms; appended up to %" PRIu64 " in %" PRIu64
           " groups of %" PRIu64 " in %.0f ms\n"
           "slowest reservation %.1f ms (at %" PRIu64 " ids), all reservations %.0f ms\n",
           start, loaded, end, groups, group, now_ms() - t0, worst, worst_at, all);
    dedup_destroy(&d);
    return 0;
}
