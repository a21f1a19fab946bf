/*  pacer-replay-bench: how fast the projection folds a long log, how much
    memory it holds, and how fast progress queries answer.

    It generates a sales history (a company of R reps in teams and regions,
    target keys per rep, and N events: sales, activities, payments, refunds,
    new customers over one quarter), appends it to a fresh LMDB state
    directory through the store (as pacerd's writer does, without the
    network), then measures, in one run:

      - replay: folding the whole log from LMDB into a fresh projection, the
        path pacerd takes at start-up without a snapshot and on `rebuild`;
      - the projection's memory (resident set growth during the replay);
      - snapshot size and the time to save and to load it;
      - progress query latency (rep-level keys, random), and a leaderboard.

    The state directory is left behind so that `pacerd --state-dir DIR` can
    be started on it to time a real start-up. */

#include "clients/bench/bench_latency.h"
#include "daemon/projector.h"
#include "daemon/replay.h"
#include "daemon/store_log.h"
#include "daemon/store_snapshot.h"
#include "events/codec.h"
#include "projections/projection.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define OCT1 INT64_C(1790784000000) /* 2026-10-01T00:00:00+08:00 */
#define DAY  INT64_C(86400000)

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Anonymous resident memory (heap): the LMDB map's file pages, which the
   replay touches too, belong to the page cache, not to the projection. */
static long
rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct {
    store_t *store;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t in_txn, total;
    char err[512];
} gen_t;

static void
str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    str(pk, k);
    str(pk, v);
}

static void
kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
    str(pk, k);
    msgpack_pack_int64(pk, v);
}

/* Validate and canonically encode the event in g->sb, then append it. */
static int
emit(gen_t *g)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    event_t ev;
    ev_error_t e;
    int rc = -1;
    if (msgpack_unpack_next(&u, g->sb.data, g->sb.size, &off) == MSGPACK_UNPACK_SUCCESS &&
        event_decode(&u.data, &ev, &e) == EVE_OK) {
        msgpack_sbuffer canon;
        msgpack_sbuffer_init(&canon);
        msgpack_packer cp;
        msgpack_packer_init(&cp, &canon, msgpack_sbuffer_write);
        event_encode(&ev, &cp);
        if (g->in_txn == 0 && store_begin(g->store, g->err, sizeof g->err) != STORE_OK)
            goto out;
        uint64_t seq;
        rc = store_append(g->store, 1790000000000 + (int64_t)g->total, (uint8_t *)canon.data,
                          canon.size, event_id_hash(ev.v[F_ID].s.ptr, ev.v[F_ID].s.len), &seq,
                          g->err, sizeof g->err);
        msgpack_sbuffer_destroy(&canon);
        g->total++;
        if (rc == STORE_OK && ++g->in_txn == 100000) {
            rc = store_commit(g->store, g->err, sizeof g->err);
            g->in_txn = 0;
        }
    } else
        fprintf(stderr, "pacer-replay-bench: generated an invalid event: %s\n", e.message);
out:
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_clear(&g->sb);
    return rc;
}

static void
begin_event(gen_t *g, const char *type, size_t fields, int64_t at)
{
    char id[64];
    snprintf(id, sizeof id, "bench:%llu", (unsigned long long)g->total);
    msgpack_pack_map(&g->pk, fields + 3);
    kv_str(&g->pk, "type", type);
    kv_str(&g->pk, "id", id);
    kv_int(&g->pk, "occurred_at", at);
}

/* A node_defined for `node` under `parent`, named as its id. */
static int
node_defined(gen_t *g, const char *node, const char *kind, const char *parent)
{
    begin_event(g, "node_defined", 4, 1);
    kv_str(&g->pk, "node", node);
    kv_str(&g->pk, "kind", kind);
    kv_str(&g->pk, "name", node);
    kv_str(&g->pk, "parent", parent);
    return emit(g);
}

static int
generate(gen_t *g, uint64_t events, int reps)
{
    char node[32], parent[32], order[48];
    int regions = reps >= 1000 ? 10 : 2, teams = reps >= 100 ? reps / 100 : 1;
    begin_event(g, "node_defined", 3, 1);
    kv_str(&g->pk, "node", "acme");
    kv_str(&g->pk, "kind", "company");
    kv_str(&g->pk, "name", "ACME");
    if (emit(g))
        return -1;
    for (int i = 0; i < regions; i++) {
        snprintf(node, sizeof node, "region%d", i);
        if (node_defined(g, node, "region", "acme"))
            return -1;
    }
    for (int i = 0; i < teams; i++) {
        snprintf(node, sizeof node, "team%d", i);
        snprintf(parent, sizeof parent, "region%d", i % regions);
        if (node_defined(g, node, "team", parent))
            return -1;
    }
    static const char *const metrics[] = {"revenue", "margin", "deals", "activities",
                                          "collections"};
    static const char *const periods[] = {"2026-Q4", "2026-11"};
    for (int i = 0; i < reps; i++) {
        snprintf(node, sizeof node, "rep%d", i);
        snprintf(parent, sizeof parent, "team%d", i % teams);
        if (node_defined(g, node, "rep", parent))
            return -1;
        for (int m = 0; m < 5; m++)
            for (int p = 0; p < 2; p++) {
                begin_event(g, "target_set", 5, 1);
                kv_str(&g->pk, "scope", node);
                kv_str(&g->pk, "metric", metrics[m]);
                kv_str(&g->pk, "period", periods[p]);
                kv_int(&g->pk, "target", m < 2 ? 50000000 : 300);
                kv_str(&g->pk, "author", "plan");
                if (emit(g))
                    return -1;
            }
    }
    uint64_t sales = 0;
    while (g->total < events) {
        uint64_t r = next_rand();
        snprintf(node, sizeof node, "rep%d", (int)(r % (uint64_t)reps));
        int64_t at = OCT1 + (int64_t)((r >> 20) % (uint64_t)(92 * DAY));
        int kind = (int)((r >> 8) % 20);
        if (kind < 10 || sales == 0) {
            snprintf(order, sizeof order, "o%llu", (unsigned long long)++sales);
            begin_event(g, "sale_closed", 6, at);
            kv_str(&g->pk, "order", order);
            kv_str(&g->pk, "rep", node);
            kv_int(&g->pk, "amount", (int64_t)(r % 5000000) + 100);
            kv_str(&g->pk, "currency", "CNY");
            kv_int(&g->pk, "margin", (int64_t)(r % 1000000));
            kv_str(&g->pk, "product_line", (r >> 50) % 3 ? "cloud" : "hardware");
        } else if (kind < 15) {
            begin_event(g, "activity_logged", 3, at);
            kv_str(&g->pk, "rep", node);
            static const char *const acts[] = {"visit", "call", "quote", "demo"};
            kv_str(&g->pk, "activity", acts[(r >> 40) % 4]);
            kv_str(&g->pk, "customer", "c1");
        } else if (kind < 18) {
            begin_event(g, "payment_received", 4, at);
            kv_int(&g->pk, "amount", (int64_t)(r % 3000000) + 1);
            kv_str(&g->pk, "currency", "CNY");
            kv_str(&g->pk, "customer", "c1");
            kv_str(&g->pk, "rep", node);
        } else if (kind < 19) {
            /* a small refund of the latest order: always within what remains */
            snprintf(order, sizeof order, "o%llu", (unsigned long long)sales);
            begin_event(g, "sale_refunded", 3, at);
            kv_str(&g->pk, "order", order);
            kv_int(&g->pk, "amount", 1);
            kv_str(&g->pk, "currency", "CNY");
        } else {
            begin_event(g, "customer_created", 2, at);
            snprintf(order, sizeof order, "cust%llu", (unsigned long long)g->total);
            kv_str(&g->pk, "customer", order);
            kv_str(&g->pk, "rep", node);
        }
        if (emit(g))
            return -1;
    }
    if (g->in_txn && store_commit(g->store, g->err, sizeof g->err) != STORE_OK)
        return -1;
    g->in_txn = 0;
    return 0;
}

/* The floor under the fold: read every record and decode its event. */
static int
decode_record(void *arg, const store_record_t *rec)
{
    msgpack_zone *zone = arg;
    projection_item_t item = {rec->seq, rec->recorded_at, rec->event, rec->event_len};
    fold_event_t d;
    projection_decode_batch(&item, 1, zone, &d);
    msgpack_zone_clear(zone);
    return d.ok ? 0 : -1;
}

/* Time n progress queries for random rep-level keys. */
static void
query_latency(projection_t *p, int reps, int n, double *p50, double *p99)
{
    double *lat = calloc((size_t)n, sizeof *lat);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (int i = 0; i < n; i++) {
        char node[32];
        snprintf(node, sizeof node, "rep%d", (int)(next_rand() % (uint64_t)reps));
        msgpack_sbuffer_clear(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        kv_str(&pk, "scope", node);
        kv_str(&pk, "metric", "revenue");
        kv_str(&pk, "period", "2026-Q4");
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        msgpack_unpack_next(&u, sb.data, sb.size, &off);
        pq_result_t res;
        msgpack_sbuffer_init(&res.body);
        double t0 = now_s();
        pq_rc_t rc = projection_query(p, OP_PROGRESS, &u.data, OCT1 + 45 * DAY, &res);
        lat[i] = (now_s() - t0) * 1e3;
        if (rc != PQ_OK)
            fprintf(stderr, "query failed: %s\n", res.message);
        msgpack_sbuffer_destroy(&res.body);
        msgpack_unpacked_destroy(&u);
    }
    bench_latency_sort(lat, (size_t)n);
    *p50 = lat[n / 2];
    *p99 = lat[(size_t)((double)n * 0.99)];
    free(lat);
    msgpack_sbuffer_destroy(&sb);
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t events = 1000000;
    int reps = 10000, queries = 10000;
    const char *dir = NULL;
    bool existing = false;
    static const struct option opts[] = {{"events", required_argument, 0, 'n'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"queries", required_argument, 0, 'q'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {"existing", no_argument, 0, 'x'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n')
            events = strtoull(optarg, NULL, 10);
        else if (c == 'r')
            reps = atoi(optarg);
        else if (c == 'q')
            queries = atoi(optarg);
        else if (c == 'd')
            dir = optarg;
        else if (c == 'x')
            existing = true;
        else {
            printf("usage: pacer-replay-bench --dir NEW_DIR [--events N (1000000)] "
                   "[--reps R (10000)] [--queries Q (10000)] [--existing]\n"
                   "Generates a history of N events for R reps with 10 target keys each into "
                   "a new state directory, then times the replay (the fold of the whole log), "
                   "snapshot save/load and progress queries. --existing replays a directory an "
                   "earlier "
                   "run generated instead (give the same --reps), and writes nothing to it.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!dir || reps < 1 || queries < 1) {
        fprintf(stderr, "pacer-replay-bench: --dir is required (a new directory)\n");
        return 2;
    }
    char err[512];
    store_options_t so = {.map_size = (size_t)8 << 30, .exclusive = true};
    gen_t g = {0};
    g.store = store_open(dir, &so, err, sizeof err);
    if (!g.store) {
        fprintf(stderr, "pacer-replay-bench: %s\n", err);
        return 1;
    }
    if (existing) {
        g.total = store_last_seq(g.store);
        if (g.total == 0) {
            fprintf(stderr, "pacer-replay-bench: %s holds no log to replay\n", dir);
            return 2;
        }
    } else if (store_last_seq(g.store) != 0) {
        fprintf(stderr, "pacer-replay-bench: %s already holds a log; give a new directory\n", dir);
        return 2;
    }
    msgpack_sbuffer_init(&g.sb);
    msgpack_packer_init(&g.pk, &g.sb, msgpack_sbuffer_write);
    double t0 = now_s();
    if (!existing && generate(&g, events, reps) != 0) {
        fprintf(stderr, "pacer-replay-bench: generating: %s\n", g.err);
        return 1;
    }
    if (!existing)
        printf("generated %llu events (%d reps, %d target keys) in %.1f s\n",
               (unsigned long long)g.total, reps, reps * 10, now_s() - t0);

    char zerr[256];
    calendar_t *cal = calendar_new("Asia/Shanghai", 1, zerr, sizeof zerr);
    projection_t *p = cal ? projection_new(cal) : NULL;
    if (!p) {
        fprintf(stderr, "pacer-replay-bench: %s\n", zerr);
        return 1;
    }
    {
        /* read and decode only, first: it also warms the page cache for the replay */
        msgpack_zone zone;
        msgpack_zone_init(&zone, 4096);
        store_reader_t *r = store_read_begin(g.store, err, sizeof err);
        t0 = now_s();
        int rc =
            r ? store_reader_walk(r, 1, UINT64_MAX, decode_record, &zone, err, sizeof err) : -1;
        double s = now_s() - t0;
        store_read_end(&r);
        msgpack_zone_destroy(&zone);
        if (rc != 0) {
            fprintf(stderr, "pacer-replay-bench: reading the log failed: %s\n", err);
            return 1;
        }
        printf("read and decode only: %llu events in %.2f s = %.0f events/s\n",
               (unsigned long long)g.total, s, (double)g.total / s);
    }
    long rss0 = rss_kib();
    store_reader_t *r = store_read_begin(g.store, err, sizeof err);
    t0 = now_s();
    replay_stats_t st;
    int rc = replay_fold(r, p, 1, UINT64_MAX, &st, err, sizeof err);
    double replay = now_s() - t0;
    store_read_end(&r);
    long rss1 = rss_kib();
    if (rc != 0) {
        fprintf(stderr, "pacer-replay-bench: replay failed: %s\n", err);
        return 1;
    }
    printf("replay: %llu events in %.2f s = %.0f events/s (skipped %llu)\n",
           (unsigned long long)g.total, replay, (double)g.total / replay,
           (unsigned long long)projection_skipped(p));
    printf("  CPU: reading and decoding %.2f s, prefetching and folding %.2f s (on two threads)\n",
           st.walk_cpu_s, st.fold_cpu_s);
    printf("projection memory: %.0f MiB of anonymous (heap) memory added by the replay\n",
           (double)(rss1 - rss0) / 1024.0);

    msgpack_sbuffer snap;
    msgpack_sbuffer_init(&snap);
    t0 = now_s();
    projection_save(p, &snap);
    double save_s = now_s() - t0;
    projection_t *q = projection_new(cal);
    t0 = now_s();
    if (projection_load(q, snap.data, snap.size, err, sizeof err) != 0)
        fprintf(stderr, "snapshot load failed: %s\n", err);
    double load_s = now_s() - t0;
    printf("snapshot: %.1f MiB, saved in %.2f s, loaded in %.2f s\n", (double)snap.size / 1048576.0,
           save_s, load_s);
    projection_destroy(&q);

    double p50, p99;
    query_latency(p, reps, queries, &p50, &p99);
    printf("progress query (one rep, revenue, 2026-Q4): p50 %.3f ms, p99 %.3f ms over %d\n", p50,
           p99, queries);

    /* write the snapshot so that pacerd starts from it */
    if (!existing && store_begin(g.store, err, sizeof err) == STORE_OK &&
        store_put_snapshot(g.store, projection_seq(p), snap.data, snap.size, 2, err, sizeof err) ==
            STORE_OK)
        store_commit(g.store, err, sizeof err);
    msgpack_sbuffer_destroy(&snap);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak resident set of this process: %ld MiB\n", ru.ru_maxrss / 1024);
    projection_destroy(&p);
    calendar_destroy(&cal);
    store_destroy(&g.store);
    msgpack_sbuffer_destroy(&g.sb);
    printf("state directory %s kept: pacerd --state-dir %s starts from its snapshot\n", dir, dir);
    return 0;
}
