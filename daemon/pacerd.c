/*  pacerd: the pacer daemon.

    Wires the pieces together and owns process concerns: options and the
    config file, the state directory lock, sockets, signals, start-up and an
    orderly stop. The main thread is the writer (daemon/writer); the query
    endpoint runs in its own actor (daemon/query).

    Settings come from, in increasing priority: built-in defaults, the config
    file (--config, ZPL format as czmq's zconfig reads it), then flags. */

#include "daemon/log.h"
#include "daemon/projector.h"
#include "daemon/query.h"
#include "daemon/store.h"
#include "daemon/outbox.h"
#include "daemon/writer.h"

#include <czmq.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PACER_VERSION "0.1.0"

typedef struct {
    char *state_dir;
    char *append;
    char *query;
    char *publish;
    size_t map_size, map_headroom;
    int log_level;
    char *time_zone;
    int fiscal_start_month;
    unsigned working_weekdays;
    uint64_t snapshot_every;
    long tick_s;
    bool manual_clock;
    bool alerts_off, detectors_off;
} settings_t;

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: pacerd [options]\n"
            "  --state-dir DIR     state directory (default ./pacer-data)\n"
            "  --append EP         append endpoint (default tcp://127.0.0.1:7700)\n"
            "  --query EP          query endpoint (default tcp://127.0.0.1:7701)\n"
            "  --publish EP        publish endpoint (default tcp://127.0.0.1:7702)\n"
            "  --map-size BYTES    initial LMDB map size (default 1 GiB; grows when full)\n"
            "  --map-headroom BYTES  free map space kept ahead of each group, besides twice\n"
            "                      the group's size (default 24M; 0: grow only when a\n"
            "                      transaction finds the map full, which redoes it)\n"
            "  --log-level LEVEL   debug, info, warn or error (default info)\n"
            "  --time-zone ZONE    IANA zone of periods and working days (default Asia/Shanghai)\n"
            "  --fiscal-start-month M  month (1-12) the fiscal year starts in (default 1)\n"
            "  --snapshot-every N  events between projection snapshots (default 1000000)\n"
            "  --working-weekdays D  working weekdays, e.g. mon,tue,wed,thu,fri (the default)\n"
            "  --tick SECONDS      evaluate time-driven alert rules this often (default 60;\n"
            "                      0: only on tick requests)\n"
            "  --manual-clock      alert rules run at the `now` of the last tick request\n"
            "                      instead of the wall clock (for tests and replays)\n"
            "  --alerts on|off     evaluate alert rules and raise alerts (default on)\n"
            "  --detectors on|off  fold the anomaly detectors (default on)\n"
            "  --config FILE       settings file, ZPL format:\n"
            "                        pacerd\n"
            "                            state_dir = /var/lib/pacer\n"
            "                            append = tcp://127.0.0.1:7700\n"
            "                            log_level = info\n"
            "  --version, --help\n");
}

static void
set(char **slot, const char *value)
{
    free(*slot);
    *slot = strdup(value);
}

static int
parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return -1;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    else if (*end == 'G' || *end == 'g')
        v <<= 30, end++;
    if (*end != 0 || v < 65536)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int
apply_setting(settings_t *s, const char *key, const char *value)
{
    if (streq(key, "state_dir") || streq(key, "state-dir"))
        set(&s->state_dir, value);
    else if (streq(key, "append"))
        set(&s->append, value);
    else if (streq(key, "query"))
        set(&s->query, value);
    else if (streq(key, "publish"))
        set(&s->publish, value);
    else if (streq(key, "map_size") || streq(key, "map-size")) {
        if (parse_size(value, &s->map_size) != 0) {
            fprintf(stderr,
                    "pacerd: map size \"%s\": expected bytes (at least 65536), "
                    "optionally with K, M or G\n",
                    value);
            return -1;
        }
    } else if (streq(key, "map_headroom") || streq(key, "map-headroom")) {
        if (!streq(value, "0") && parse_size(value, &s->map_headroom) != 0) {
            fprintf(stderr,
                    "pacerd: map headroom \"%s\": expected 0 or bytes (at least 65536), "
                    "optionally with K, M or G\n",
                    value);
            return -1;
        }
        if (streq(value, "0"))
            s->map_headroom = 0;
    } else if (streq(key, "time_zone") || streq(key, "time-zone"))
        set(&s->time_zone, value);
    else if (streq(key, "fiscal_start_month") || streq(key, "fiscal-start-month")) {
        char *end;
        long m = strtol(value, &end, 10);
        if (*end || m < 1 || m > 12) {
            fprintf(stderr, "pacerd: fiscal start month \"%s\": expected 1 to 12\n", value);
            return -1;
        }
        s->fiscal_start_month = (int)m;
    } else if (streq(key, "tick")) {
        char *end;
        long t = strtol(value, &end, 10);
        if (*end || end == value || t < 0 || t > 86400) {
            fprintf(stderr, "pacerd: tick \"%s\": expected seconds, 0 to 86400\n", value);
            return -1;
        }
        s->tick_s = t;
    } else if (streq(key, "alerts") || streq(key, "detectors")) {
        if (!streq(value, "on") && !streq(value, "off")) {
            fprintf(stderr, "pacerd: %s \"%s\": expected on or off\n", key, value);
            return -1;
        }
        if (streq(key, "alerts"))
            s->alerts_off = streq(value, "off");
        else
            s->detectors_off = streq(value, "off");
    } else if (streq(key, "manual_clock") || streq(key, "manual-clock")) {
        if (!streq(value, "true") && !streq(value, "false")) {
            fprintf(stderr, "pacerd: manual clock \"%s\": expected true or false\n", value);
            return -1;
        }
        s->manual_clock = streq(value, "true");
    } else if (streq(key, "working_weekdays") || streq(key, "working-weekdays")) {
        /* a comma-separated list of mon, tue, wed, thu, fri, sat, sun */
        static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
        unsigned mask = 0;
        char *copy = strdup(value), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int d = 0;
            while (d < 7 && strcmp(tok, days[d]))
                d++;
            if (d == 7) {
                fprintf(stderr,
                        "pacerd: working weekday \"%s\": expected mon, tue, wed, thu, "
                        "fri, sat or sun\n",
                        tok);
                free(copy);
                return -1;
            }
            mask |= 1u << d;
        }
        free(copy);
        if (!mask) {
            fprintf(stderr, "pacerd: working weekdays: name at least one day\n");
            return -1;
        }
        s->working_weekdays = mask;
    } else if (streq(key, "snapshot_every") || streq(key, "snapshot-every")) {
        char *end;
        unsigned long long n = strtoull(value, &end, 10);
        if (*end || end == value) {
            fprintf(stderr, "pacerd: snapshot interval \"%s\": expected a number of events\n",
                    value);
            return -1;
        }
        s->snapshot_every = n;
    } else if (streq(key, "log_level") || streq(key, "log-level")) {
        if ((s->log_level = log_level_parse(value)) < 0) {
            fprintf(stderr, "pacerd: log level \"%s\": expected debug, info, warn or error\n",
                    value);
            return -1;
        }
    } else {
        fprintf(stderr, "pacerd: unknown setting \"%s\"\n", key);
        return -1;
    }
    return 0;
}

static int
load_config(settings_t *s, const char *path)
{
    if (!zsys_file_exists(path)) {
        fprintf(stderr, "pacerd: config file %s does not exist\n", path);
        return -1;
    }
    zconfig_t *root = zconfig_load(path);
    if (!root) {
        fprintf(stderr, "pacerd: config file %s is not valid ZPL\n", path);
        return -1;
    }
    zconfig_t *section = zconfig_locate(root, "pacerd");
    int rc = 0;
    for (zconfig_t *c = section ? zconfig_child(section) : NULL; c && rc == 0; c = zconfig_next(c))
        rc = apply_setting(s, zconfig_name(c), zconfig_value(c) ? zconfig_value(c) : "");
    zconfig_destroy(&root);
    return rc;
}

static int
parse_args(settings_t *s, int argc, char **argv)
{
    static const struct option opts[] = {{"state-dir", required_argument, 0, 'd'},
                                         {"append", required_argument, 0, 'a'},
                                         {"query", required_argument, 0, 'q'},
                                         {"publish", required_argument, 0, 'p'},
                                         {"map-size", required_argument, 0, 'm'},
                                         {"map-headroom", required_argument, 0, 'H'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"config", required_argument, 0, 'c'},
                                         {"time-zone", required_argument, 0, 'z'},
                                         {"fiscal-start-month", required_argument, 0, 'f'},
                                         {"snapshot-every", required_argument, 0, 's'},
                                         {"working-weekdays", required_argument, 0, 'w'},
                                         {"tick", required_argument, 0, 't'},
                                         {"manual-clock", no_argument, 0, 'M'},
                                         {"alerts", required_argument, 0, 'A'},
                                         {"detectors", required_argument, 0, 'D'},
                                         {"version", no_argument, 0, 'V'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    /* The config file applies first, so flags override it wherever it is. */
    for (int i = 1; i < argc - 1; i++)
        if (streq(argv[i], "--config") && load_config(s, argv[i + 1]) != 0)
            return 2;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'd':
            key = "state_dir";
            break;
        case 'a':
            key = "append";
            break;
        case 'q':
            key = "query";
            break;
        case 'p':
            key = "publish";
            break;
        case 'm':
            key = "map_size";
            break;
        case 'H':
            key = "map_headroom";
            break;
        case 'l':
            key = "log_level";
            break;
        case 'z':
            key = "time_zone";
            break;
        case 'f':
            key = "fiscal_start_month";
            break;
        case 's':
            key = "snapshot_every";
            break;
        case 'w':
            key = "working_weekdays";
            break;
        case 't':
            key = "tick";
            break;
        case 'M':
            s->manual_clock = true;
            break;
        case 'A':
            key = "alerts";
            break;
        case 'D':
            key = "detectors";
            break;
        case 'c':
            break;
        case 'V':
            printf("pacerd %s\n", PACER_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (key && apply_setting(s, key, optarg) != 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "pacerd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1; /* carry on */
}

typedef struct {
    store_t *store;
    dedup_t *dedup;
    char err[512];
} id_load_t;

static void *
load_ids(void *arg)
{
    id_load_t *l = arg;
    int64_t t0 = zclock_usecs();
    l->dedup = writer_load_ids(l->store, l->err, sizeof l->err);
    if (l->dedup)
        log_info("id index: %zu ids loaded in %.3f s", dedup_size(l->dedup),
                 (double)(zclock_usecs() - t0) / 1e6);
    return NULL;
}

static zsock_t *
bind_socket(int type, const char *endpoint)
{
    zsock_t *sock = zsock_new(type);
    if (!sock)
        return NULL;
    zsock_set_maxmsgsize(sock, 256 * 1024 * 1024);
    zsock_set_sndhwm(sock, type == ZMQ_XPUB ? 100000 : 0);
    zsock_set_rcvhwm(sock, 0);
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        log_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
    }
    return sock;
}

int
main(int argc, char **argv)
{
    settings_t s = {.state_dir = strdup("./pacer-data"),
                    .append = strdup("tcp://127.0.0.1:7700"),
                    .query = strdup("tcp://127.0.0.1:7701"),
                    .publish = strdup("tcp://127.0.0.1:7702"),
                    .log_level = PLOG_INFO,
                    .time_zone = strdup("Asia/Shanghai"),
                    .fiscal_start_month = 1,
                    .snapshot_every = 1000000,
                    .tick_s = WRITER_TICK_MS / 1000,
                    .map_headroom = WRITER_MAP_HEADROOM};
    int rc = parse_args(&s, argc, argv);
    if (rc >= 0)
        return rc;
    log_set_level((log_level_t)s.log_level);

    /* czmq's handler sets zsys_interrupted on SIGINT and SIGTERM; the writer
       checks it between groups, so a batch in flight is always finished. */
    zsys_init();
    zsys_set_logstream(stderr);
    int64_t started = zclock_time();
    int64_t t0 = zclock_usecs();
    char err[512];
    store_options_t opts = {.map_size = s.map_size, .exclusive = true};
    store_t *store = store_open(s.state_dir, &opts, err, sizeof err);
    if (!store) {
        log_error("%s", err);
        return 1;
    }
    uint64_t last_aseq;
    if (outbox_open(store, &last_aseq, err, sizeof err) != STORE_OK) {
        log_error("%s", err);
        store_destroy(&store);
        return 1;
    }
    /* The id index and the projection are independent reads of the log:
       build them side by side. */
    id_load_t ids = {store, NULL, ""};
    pthread_t ids_thread;
    bool threaded = pthread_create(&ids_thread, NULL, load_ids, &ids) == 0;
    if (!threaded)
        load_ids(&ids);
    projector_options_t popts = {s.time_zone, s.fiscal_start_month, s.snapshot_every,
                                 s.working_weekdays, s.detectors_off};
    projector_t *projector = projector_open(store, &popts, err, sizeof err);
    if (threaded)
        pthread_join(ids_thread, NULL);
    if (!projector || !ids.dedup) {
        log_error("%s", projector ? ids.err : err);
        projector_destroy(&projector);
        dedup_destroy(&ids.dedup);
        store_destroy(&store);
        return 1;
    }
    writer_stats_t stats = {0};
    zsock_t *router = bind_socket(ZMQ_ROUTER, s.append);
    zsock_t *pub = router ? bind_socket(ZMQ_XPUB, s.publish) : NULL;
    writer_t *writer = pub ? writer_new(store, projector, &ids.dedup, zsock_resolve(router),
                                        zsock_resolve(pub), &stats, err, sizeof err)
                           : NULL;
    if (pub && !writer)
        log_error("%s", err);
    if (writer) {
        writer_set_map_headroom(writer, s.map_headroom);
        writer_set_tick(writer, (int64_t)s.tick_s * 1000);
        writer_set_manual_clock(writer, s.manual_clock);
        writer_set_alerts(writer, !s.alerts_off);
    }
    query_args_t qargs = {store, projector, s.query, &stats, started};
    zactor_t *query = writer ? query_start(&qargs, err, sizeof err) : NULL;
    if (writer && !query)
        log_error("%s", err);
    if (!query) {
        dedup_destroy(&ids.dedup); /* when the writer never took it */
        writer_destroy(&writer);
        zsock_destroy(&pub);
        zsock_destroy(&router);
        projector_destroy(&projector);
        store_destroy(&store);
        return 1;
    }
    log_info("pacerd %s: state %s, %llu events, ready in %.3f s; append %s, query %s, "
             "publish %s",
             PACER_VERSION, s.state_dir, (unsigned long long)store_last_seq(store),
             (double)(zclock_usecs() - t0) / 1e6, s.append, s.query, s.publish);

    rc = writer_run(writer, &zsys_interrupted);
    log_info("stopping: last seq %llu", (unsigned long long)store_last_seq(store));
    zactor_destroy(&query);
    if (rc == 0)
        writer_snapshot(writer); /* so the next start folds only what follows */
    writer_destroy(&writer);
    projector_destroy(&projector);
    zsock_destroy(&pub);
    zsock_destroy(&router);
    store_destroy(&store);
    free(s.state_dir);
    free(s.append);
    free(s.query);
    free(s.publish);
    free(s.time_zone);
    return rc == 0 ? 0 : 1;
}
