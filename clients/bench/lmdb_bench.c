/*  lmdb-bench: the durable-append ceiling of this disk, with LMDB alone.

    pacerd acknowledges a batch only after its write transaction has been
    committed and synced, so no daemon can append faster than LMDB can
    commit. This measures that ceiling under the same conditions: a single
    thread, a fresh environment, integer keys appended in order with
    MDB_APPEND, values of about the size of an encoded sale_closed record,
    B records per write transaction and one commit (with its fsync) per
    batch. No msgpack, no hashing, no validation: the difference between
    this and pacer-bench in the same run is what pacerd itself costs.

    Each batch size runs in its own new environment (in a temporary
    directory under --dir, removed afterwards) for --seconds or --events. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "clients/bench/bench_latency.h"
#include "clients/bench/bench_option.h"

#define LMDB_BENCH_MAP_SIZE ((size_t)16 << 30) /* sparse; a run never gets near it */

typedef struct {
    const char *dir;
    size_t batches[16];
    size_t batch_count;
    size_t value_size;
    double seconds;  /* per batch size, when events == 0 */
    uint64_t events; /* per batch size; 0: run for seconds */
    bool json;
} lmdb_bench_config_t;

typedef struct {
    size_t batch;
    uint64_t events;
    uint64_t commits;
    double seconds;
    double p50_ms, p99_ms, max_ms;
} lmdb_bench_result_t;

/* An environment directory holds exactly LMDB's two files. */
static void
remove_env(const char *dir)
{
    const char *files[] = {"data.mdb", "lock.mdb"};
    char path[4200];
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    remove(dir);
}

/* One run at one batch size in a fresh environment. Returns 0, or -1 after
   printing what failed. */
static int
bench_one(const lmdb_bench_config_t *config, size_t batch, lmdb_bench_result_t *result)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lmdb-bench.XXXXXX", config->dir);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "lmdb-bench: cannot make a directory under %s: %s\n", config->dir,
                strerror(errno));
        return -1;
    }
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    double *latencies = NULL;
    size_t latency_count = 0, latency_max = 0;
    unsigned char *value = malloc(config->value_size);
    int rc = value ? 0 : ENOMEM;
    const char *step = "malloc";
    /* Bytes that do not compress or dedupe to nothing, like a real record. */
    for (size_t i = 0; value && i < config->value_size; i++)
        value[i] = (unsigned char)(i * 131 + 17);

    if (rc == 0 && (rc = mdb_env_create(&env)) != 0)
        step = "mdb_env_create";
    else if (rc == 0 && (rc = mdb_env_set_mapsize(env, LMDB_BENCH_MAP_SIZE)) != 0)
        step = "mdb_env_set_mapsize";
    else if (rc == 0 && (rc = mdb_env_set_maxdbs(env, 1)) != 0)
        step = "mdb_env_set_maxdbs";
    else if (rc == 0 && (rc = mdb_env_open(env, dir, 0, 0644)) != 0)
        step = "mdb_env_open";
    else if (rc == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        step = "mdb_txn_begin";
    else if (rc == 0 && (rc = mdb_dbi_open(txn, "log", MDB_CREATE | MDB_INTEGERKEY, &dbi)) != 0)
        step = "mdb_dbi_open";
    else if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
        step = "mdb_txn_commit";
    txn = NULL;

    size_t seq = 0; /* MDB_INTEGERKEY keys are native unsigned ints: size_t */
    int64_t started = bench_now_ns(), deadline = started + (int64_t)(config->seconds * 1e9);
    uint64_t commits = 0;
    while (rc == 0) {
        if (config->events ? seq >= config->events : bench_now_ns() >= deadline)
            break;
        int64_t begun = bench_now_ns();
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
            step = "mdb_txn_begin";
            break;
        }
        for (size_t i = 0; i < batch && rc == 0; i++) {
            seq++;
            MDB_val key = {sizeof seq, &seq};
            MDB_val data = {config->value_size, value};
            value[0] = (unsigned char)seq; /* each record differs */
            if ((rc = mdb_put(txn, dbi, &key, &data, MDB_APPEND)) != 0)
                step = "mdb_put";
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            break;
        }
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            step = "mdb_txn_commit";
            break;
        }
        commits++;
        if (latency_count == latency_max) {
            latency_max = latency_max ? latency_max * 2 : 4096;
            double *grown = realloc(latencies, latency_max * sizeof *grown);
            if (!grown) {
                rc = ENOMEM;
                step = "realloc";
                break;
            }
            latencies = grown;
        }
        latencies[latency_count++] = (bench_now_ns() - begun) / 1e6;
    }
    int64_t ended = bench_now_ns();
    if (rc != 0)
        fprintf(stderr, "lmdb-bench: batch %zu: %s: %s\n", batch, step, mdb_strerror(rc));
    else {
        bench_latency_sort(latencies, latency_count);
        result->batch = batch;
        result->events = seq;
        result->commits = commits;
        result->seconds = (ended - started) / 1e9;
        result->p50_ms = bench_percentile(latencies, latency_count, 50);
        result->p99_ms = bench_percentile(latencies, latency_count, 99);
        result->max_ms = latency_count ? latencies[latency_count - 1] : 0;
    }
    if (env)
        mdb_env_close(env);
    free(latencies);
    free(value);
    remove_env(dir);
    return rc == 0 ? 0 : -1;
}

static void
usage(FILE *out)
{
    fputs("usage: lmdb-bench [OPTIONS]\n"
          "\n"
          "The raw durable-append ceiling: one thread, MDB_APPEND with integer keys, one\n"
          "synced commit per batch, in a fresh LMDB environment per batch size.\n"
          "\n"
          "  --dir DIR       where to make the temporary environments (default $TMPDIR or\n"
          "                  /var/tmp; use the disk pacerd's state directory is on)\n"
          "  --batch B       one batch size (repeatable; default 1, 16 and 256)\n"
          "  --value-size N  bytes per record (default 270: the log record of a 225-byte\n"
          "                  sale_closed, as pacer-bench sends)\n"
          "  --seconds S     run each batch size for S seconds (default 5)\n"
          "  --events N      instead, append N records per batch size\n"
          "  --json          one JSON object per batch size instead of text\n"
          "  --help          show this help\n",
          out);
}

static int
parse_args(lmdb_bench_config_t *config, int argc, char **argv)
{
    enum {
        OPT_DIR = 0x100,
        OPT_BATCH,
        OPT_VALUE_SIZE,
        OPT_SECONDS,
        OPT_EVENTS,
        OPT_JSON,
        OPT_HELP
    };
    static const struct option options[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"value-size", required_argument, NULL, OPT_VALUE_SIZE},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    double value;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_DIR:
            config->dir = optarg;
            break;
        case OPT_BATCH:
            if (config->batch_count == sizeof config->batches / sizeof config->batches[0]) {
                fputs("lmdb-bench: too many --batch options\n", stderr);
                return -1;
            }
            if (!bench_option_number("lmdb-bench", "batch", optarg, 1, 1000000, &value))
                return -1;
            config->batches[config->batch_count++] = (size_t)value;
            break;
        case OPT_VALUE_SIZE:
            if (!bench_option_number("lmdb-bench", "value-size", optarg, 1, 1 << 20, &value))
                return -1;
            config->value_size = (size_t)value;
            break;
        case OPT_SECONDS:
            if (!bench_option_number("lmdb-bench", "seconds", optarg, 0.01, 86400,
                                     &config->seconds))
                return -1;
            config->events = 0;
            break;
        case OPT_EVENTS:
            if (!bench_option_number("lmdb-bench", "events", optarg, 1, 1e10, &value))
                return -1;
            config->events = (uint64_t)value;
            break;
        case OPT_JSON:
            config->json = true;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lmdb-bench: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *tmpdir = getenv("TMPDIR");
    lmdb_bench_config_t config = {
        .dir = tmpdir && tmpdir[0] ? tmpdir : "/var/tmp",
        .value_size = 270,
        .seconds = 5,
    };
    if (parse_args(&config, argc, argv) != 0) {
        fputs("Try 'lmdb-bench --help'.\n", stderr);
        return 2;
    }
    if (config.batch_count == 0) {
        config.batches[0] = 1;
        config.batches[1] = 16;
        config.batches[2] = 256;
        config.batch_count = 3;
    }
    if (!config.json)
        printf("lmdb-bench: %zu-byte values, one synced commit per batch, in %s\n",
               config.value_size, config.dir);
    fflush(stdout);
    for (size_t i = 0; i < config.batch_count; i++) {
        lmdb_bench_result_t r;
        if (bench_one(&config, config.batches[i], &r) != 0)
            return 2;
        double events_per_s = r.seconds > 0 ? r.events / r.seconds : 0;
        double commits_per_s = r.seconds > 0 ? r.commits / r.seconds : 0;
        if (config.json)
            printf("{\"batch\":%zu,\"value_size\":%zu,\"seconds\":%.3f,\"events\":%" PRIu64
                   ",\"commits\":%" PRIu64 ",\"events_per_s\":%.1f,\"commits_per_s\":%.1f,"
                   "\"commit_p50_ms\":%.3f,\"commit_p99_ms\":%.3f,\"commit_max_ms\":%.3f}\n",
                   r.batch, config.value_size, r.seconds, r.events, r.commits, events_per_s,
                   commits_per_s, r.p50_ms, r.p99_ms, r.max_ms);
        else
            printf("  batch %5zu: %10.0f events/s, %7.0f commits/s, commit p50 %.2f ms, "
                   "p99 %.2f ms (%" PRIu64 " events in %.2f s)\n",
                   r.batch, events_per_s, commits_per_s, r.p50_ms, r.p99_ms, r.events, r.seconds);
        fflush(stdout);
    }
    return 0;
}
