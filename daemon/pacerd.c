/*  pacerd: the pacer daemon.

    Wires the pieces together and owns process concerns: options and the
    config file, the state directory lock, sockets, signals, start-up and an
    orderly stop. The main thread is the writer (daemon/writer); the query
    endpoint runs in its own actor (daemon/query).

    Settings come from, in increasing priority: built-in defaults, the config
    file (--config, ZPL format as czmq's zconfig reads it), then flags. */

#include "daemon/auth.h"
#include "daemon/dashboard.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/projector.h"
#include "daemon/query.h"
#include "daemon/service.h"
#include "daemon/store.h"
#include "daemon/store_log.h"
#include "daemon/outbox.h"
#include "daemon/writer.h"
#include "projections/calendar.h"

#include <czmq.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PACER_VERSION "0.1.0"

typedef struct {
    char *state_dir;
    char *append;
    char *query;
    char *publish;
    char *metrics;    /* HOST:PORT of the HTTP metrics endpoint; NULL: off */
    char *dashboard;  /* HOST:PORT of the web dashboard; NULL: off */
    char *config;     /* --config FILE, read again on SIGHUP */
    char *keys;       /* --keys FILE: authentication on (daemon/auth); NULL: off */
    char *server_key; /* --server-key FILE: pacerd's CURVE certificate */
    bool insecure_bind_anywhere;
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
            "  --metrics HOST:PORT serve Prometheus metrics over HTTP at /metrics\n"
            "                      (default off; e.g. 127.0.0.1:7703)\n"
            "  --dashboard [HOST:]PORT  serve the live web dashboard over HTTP at /\n"
            "                      (default off; a bare port binds 127.0.0.1: it has no\n"
            "                      authentication yet); the same address as --metrics\n"
            "                      serves both\n"
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
            "  --keys FILE         authentication on: every endpoint speaks CURVE and admits\n"
            "                      the public keys FILE lists, one a line:\n"
            "                        <key> producer|reader|admin [name]\n"
            "                      read again when it changes and on SIGHUP\n"
            "  --server-key FILE   pacerd's own key pair, as `pacer keygen --out FILE` writes\n"
            "                      it (FILE_secret is read); needed with --keys\n"
            "  --insecure-bind-anywhere  allow a non-loopback endpoint without --keys, open\n"
            "                      to anyone who can reach it (refused by default)\n"
            "  --config FILE       settings file, ZPL format:\n"
            "                        pacerd\n"
            "                            state_dir = /var/lib/pacer\n"
            "                            append = tcp://127.0.0.1:7700\n"
            "                            log_level = info\n"
            "                      SIGHUP reads it again and applies log_level\n"
            "  --version, --help\n"
            "Exit status: 0 after a clean stop, 2 for a usage or settings error (found\n"
            "before anything is created on disk), 1 for any other failure.\n");
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
    else if (streq(key, "metrics")) {
        if (streq(value, "off"))
            free(s->metrics), s->metrics = NULL;
        else
            set(&s->metrics, value);
    } else if (streq(key, "dashboard")) {
        if (streq(value, "off"))
            free(s->dashboard), s->dashboard = NULL;
        else if (*value && strspn(value, "0123456789") == strlen(value)) {
            char addr[64]; /* a bare port: loopback only */
            snprintf(addr, sizeof addr, "127.0.0.1:%.10s", value);
            set(&s->dashboard, addr);
        } else
            set(&s->dashboard, value);
    } else if (streq(key, "map_size") || streq(key, "map-size")) {
        if (parse_size(value, &s->map_size) != 0) {
            log_usage_error("map size \"%s\": expected bytes (at least 65536), "
                            "optionally with K, M or G",
                            value);
            return -1;
        }
    } else if (streq(key, "map_headroom") || streq(key, "map-headroom")) {
        if (!streq(value, "0") && parse_size(value, &s->map_headroom) != 0) {
            log_usage_error("map headroom \"%s\": expected 0 or bytes (at least 65536), "
                            "optionally with K, M or G",
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
            log_usage_error("fiscal start month \"%s\": expected 1 to 12", value);
            return -1;
        }
        s->fiscal_start_month = (int)m;
    } else if (streq(key, "tick")) {
        char *end;
        long t = strtol(value, &end, 10);
        if (*end || end == value || t < 0 || t > 86400) {
            log_usage_error("tick \"%s\": expected seconds, 0 to 86400", value);
            return -1;
        }
        s->tick_s = t;
    } else if (streq(key, "alerts") || streq(key, "detectors")) {
        if (!streq(value, "on") && !streq(value, "off")) {
            log_usage_error("%s \"%s\": expected on or off", key, value);
            return -1;
        }
        if (streq(key, "alerts"))
            s->alerts_off = streq(value, "off");
        else
            s->detectors_off = streq(value, "off");
    } else if (streq(key, "manual_clock") || streq(key, "manual-clock")) {
        if (!streq(value, "true") && !streq(value, "false")) {
            log_usage_error("manual clock \"%s\": expected true or false", value);
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
                log_usage_error("working weekday \"%s\": expected mon, tue, wed, thu, "
                                "fri, sat or sun",
                                tok);
                free(copy);
                return -1;
            }
            mask |= 1u << d;
        }
        free(copy);
        if (!mask) {
            log_usage_error("working weekdays: name at least one day");
            return -1;
        }
        s->working_weekdays = mask;
    } else if (streq(key, "snapshot_every") || streq(key, "snapshot-every")) {
        char *end;
        unsigned long long n = strtoull(value, &end, 10);
        if (*end || end == value) {
            log_usage_error("snapshot interval \"%s\": expected a number of events", value);
            return -1;
        }
        s->snapshot_every = n;
    } else if (streq(key, "keys"))
        set(&s->keys, value);
    else if (streq(key, "server_key") || streq(key, "server-key"))
        set(&s->server_key, value);
    else if (streq(key, "insecure_bind_anywhere") || streq(key, "insecure-bind-anywhere")) {
        if (!streq(value, "true") && !streq(value, "false")) {
            log_usage_error("insecure bind anywhere \"%s\": expected true or false", value);
            return -1;
        }
        s->insecure_bind_anywhere = streq(value, "true");
    } else if (streq(key, "log_level") || streq(key, "log-level")) {
        if ((s->log_level = log_level_parse(value)) < 0) {
            log_usage_error("log level \"%s\": expected debug, info, warn or error", value);
            return -1;
        }
    } else {
        log_usage_error("unknown setting \"%s\"", key);
        return -1;
    }
    return 0;
}

static int
load_config(settings_t *s, const char *path)
{
    if (!zsys_file_exists(path)) {
        log_usage_error("config file %s does not exist", path);
        return -1;
    }
    zconfig_t *root = zconfig_load(path);
    if (!root) {
        log_usage_error("config file %s is not valid ZPL", path);
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
                                         {"metrics", required_argument, 0, 'P'},
                                         {"dashboard", required_argument, 0, 'B'},
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
                                         {"keys", required_argument, 0, 'k'},
                                         {"server-key", required_argument, 0, 'K'},
                                         {"insecure-bind-anywhere", no_argument, 0, 'I'},
                                         {"version", no_argument, 0, 'V'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    /* The config file applies first, so flags override it wherever it is. */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (streq(argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        if (path) {
            set(&s->config, path);
            if (load_config(s, path) != 0)
                return 2;
        }
    }
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
        case 'P':
            key = "metrics";
            break;
        case 'B':
            key = "dashboard";
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
        case 'k':
            key = "keys";
            break;
        case 'K':
            key = "server_key";
            break;
        case 'I':
            s->insecure_bind_anywhere = true;
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
        log_usage_error("unexpected argument \"%s\"", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1; /* carry on */
}

/* A ZeroMQ endpoint's form: transport://address, and for tcp HOST:PORT
   with a numeric or wildcard port. What binding alone would find out
   (an address of another host, a port in use) is left to the bind. */
static bool
endpoint_ok(const char *ep)
{
    const char *sep = strstr(ep, "://");
    if (!sep || !sep[3])
        return false;
    size_t tlen = (size_t)(sep - ep);
    if (tlen == 3 && !strncmp(ep, "tcp", 3)) {
        const char *colon = strrchr(sep + 3, ':');
        if (!colon || colon == sep + 3 || !colon[1])
            return false;
        if (streq(colon + 1, "*"))
            return true;
        char *end;
        long port = strtol(colon + 1, &end, 10);
        return !*end && port > 0 && port <= 65535;
    }
    return (tlen == 3 && !strncmp(ep, "ipc", 3)) || (tlen == 6 && !strncmp(ep, "inproc", 6));
}

/* Whether only this machine can reach an endpoint: ipc, inproc, or tcp
   on a loopback address (127.0.0.0/8, ::1, localhost, the lo interface). */
static bool
endpoint_local(const char *ep)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return true;
    const char *host = ep + 6, *colon = strrchr(host, ':');
    size_t n = (size_t)(colon - host);
    const char *semi = memchr(host, ';', n); /* tcp://SOURCE;HOST:PORT */
    if (semi) {
        n -= (size_t)(semi + 1 - host);
        host = semi + 1;
    }
    return (n > 4 && !strncmp(host, "127.", 4)) || (n == 9 && !strncmp(host, "localhost", 9)) ||
           (n == 5 && !strncmp(host, "[::1]", 5)) || (n == 3 && !strncmp(host, "::1", 3)) ||
           (n == 2 && !strncmp(host, "lo", 2));
}

/* Authentication on, with what it needs; or off, and then only on
   endpoints this machine alone reaches, unless told otherwise. */
static int
check_auth(const settings_t *s, const char *names[3], const char *eps[3])
{
    char err[512];
    if (s->keys || s->server_key) {
        if (!s->keys || !s->server_key) {
            log_usage_error("%s: authentication needs both --keys FILE (the clients' public keys "
                            "and roles) and --server-key FILE (pacerd's key pair, from pacer "
                            "keygen --out FILE)",
                            s->keys ? "--keys without --server-key"
                                    : "--server-key without --keys");
            return -1;
        }
        if (auth_check(s->server_key, s->keys, err, sizeof err) != 0) {
            log_usage_error("%s", err);
            return -1;
        }
        return 0;
    }
    for (int i = 0; i < 3 && !s->insecure_bind_anywhere; i++)
        if (!endpoint_local(eps[i])) {
            log_usage_error("refusing to serve the %s endpoint %s without authentication: "
                            "anyone who can reach it could append, allocate or rebuild. Give "
                            "--keys FILE and --server-key FILE (README, \"Authentication\"), "
                            "bind a loopback address, or pass --insecure-bind-anywhere to "
                            "accept that",
                            names[i], eps[i]);
            return -1;
        }
    return 0;
}

/* What can be checked before anything is created on disk: the endpoints'
   form and who may reach them, the keys, the metrics address, the time
   zone. 0, or -1 with a message. */
static int
check_settings(const settings_t *s)
{
    const char *names[] = {"append", "query", "publish"};
    const char *eps[] = {s->append, s->query, s->publish};
    for (int i = 0; i < 3; i++)
        if (!endpoint_ok(eps[i])) {
            log_usage_error("%s endpoint \"%s\": expected tcp://HOST:PORT (or ipc://PATH)",
                            names[i], eps[i]);
            return -1;
        }
    if (check_auth(s, names, eps) != 0)
        return -1;
    char err[512];
    if (s->metrics && http_check_address(s->metrics, err, sizeof err) != 0) {
        log_usage_error("metrics %s", err);
        return -1;
    }
    if (s->dashboard && http_check_address(s->dashboard, err, sizeof err) != 0) {
        log_usage_error("dashboard %s", err);
        return -1;
    }
    calendar_t *cal = calendar_new(s->time_zone, s->fiscal_start_month, err, sizeof err);
    if (!cal) {
        log_usage_error("time zone: %s", err);
        return -1;
    }
    calendar_destroy(&cal);
    return 0;
}

static void
settings_free(settings_t *s)
{
    free(s->state_dir);
    free(s->append);
    free(s->query);
    free(s->publish);
    free(s->metrics);
    free(s->dashboard);
    free(s->config);
    free(s->keys);
    free(s->server_key);
    free(s->time_zone);
}

static settings_t
settings_default(void)
{
    return (settings_t){.state_dir = strdup("./pacer-data"),
                        .append = strdup("tcp://127.0.0.1:7700"),
                        .query = strdup("tcp://127.0.0.1:7701"),
                        .publish = strdup("tcp://127.0.0.1:7702"),
                        .log_level = PLOG_INFO,
                        .time_zone = strdup("Asia/Shanghai"),
                        .fiscal_start_month = 1,
                        .snapshot_every = 1000000,
                        .tick_s = WRITER_TICK_MS / 1000,
                        .map_headroom = WRITER_MAP_HEADROOM};
}

/* The state directory as an absolute path, so that `status` names it in
   a way any process can use (pacer backup). */
static void
absolute_state_dir(settings_t *s)
{
    if (s->state_dir[0] == '/')
        return;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return;
    const char *rel = s->state_dir;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    char *abs = malloc(strlen(cwd) + strlen(rel) + 2);
    if (!abs)
        return;
    sprintf(abs, "%s/%s", cwd, rel);
    free(s->state_dir);
    s->state_dir = abs;
}

/* SIGHUP (service thread): read the config file and the flags again, as
   at start-up (flags still win), and apply what can change while running:
   the log level. The rest is named if it changed, for the next start. */
typedef struct {
    int argc;
    char **argv;
    const settings_t *running;
    _Atomic(auth_t *) auth; /* set once serving, with authentication on */
} reload_args_t;

static void
reload_settings(void *arg)
{
    reload_args_t *r = arg;
    settings_t s = settings_default();
    optind = 0; /* getopt_long starts over */
    if (parse_args(&s, r->argc, r->argv) >= 0) {
        log_error("reload: settings not applied (see above); still running with the old ones");
        settings_free(&s);
        return;
    }
    absolute_state_dir(&s);
    const settings_t *o = r->running;
    const char *names[] = {"state_dir", "append",    "query", "publish",   "metrics",
                           "dashboard", "time_zone", "keys",  "server_key"};
    const char *was[] = {o->state_dir, o->append,    o->query, o->publish,   o->metrics,
                         o->dashboard, o->time_zone, o->keys,  o->server_key};
    const char *now[] = {s.state_dir, s.append,    s.query, s.publish,   s.metrics,
                         s.dashboard, s.time_zone, s.keys,  s.server_key};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!was[i] != !now[i] || (was[i] && strcmp(was[i], now[i]) != 0))
            log_warn("reload: %s changed; it takes effect at the next start", names[i]);
    log_set_level((log_level_t)s.log_level);
    log_info("reload: %s; log level %s", o->config ? o->config : "no config file",
             log_level_name((log_level_t)s.log_level));
    char err[512];
    auth_t *auth = atomic_load(&r->auth);
    if (auth && auth_reload(auth, err, sizeof err) != 0)
        log_error("reload: %s; the keys loaded before stay in force", err);
    settings_free(&s);
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
bind_socket(int type, const char *endpoint, auth_t *auth, const char *domain)
{
    zsock_t *sock = zsock_new(type);
    if (!sock)
        return NULL;
    if (auth)
        auth_apply(auth, sock, domain);
    zsock_set_maxmsgsize(sock, 256 * 1024 * 1024);
    zsock_set_sndhwm(sock, type == ZMQ_XPUB ? 100000 : 0);
    zsock_set_rcvhwm(sock, 0);
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        log_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
    }
    return sock;
}

/* Everything main builds, torn down in reverse by teardown. */
typedef struct {
    service_t *service;
    store_t *store;
    projector_t *projector;
    dedup_t *dedup;
    writer_t *writer;
    zsock_t *router, *pub;
    zactor_t *query;
    query_args_t qargs; /* the query actor keeps a pointer to it */
    metrics_t *metrics;
    http_t *http;           /* --metrics, and --dashboard when it is the same address */
    http_t *dashboard_http; /* --dashboard at an address of its own */
    dashboard_t *dashboard;
    auth_t *auth; /* NULL: authentication off */
} daemon_parts_t;

static void
teardown(daemon_parts_t *d)
{
    http_destroy(&d->http); /* first: they read the others */
    http_destroy(&d->dashboard_http);
    dashboard_destroy(&d->dashboard);
    metrics_destroy(&d->metrics);
    zactor_destroy(&d->query);
    dedup_destroy(&d->dedup); /* when the writer never took it */
    writer_destroy(&d->writer);
    projector_destroy(&d->projector);
    zsock_destroy(&d->pub);
    zsock_destroy(&d->router);
    auth_destroy(&d->auth); /* after every socket it served */
    store_destroy(&d->store);
    service_destroy(&d->service);
}

/* Open the state, load the id index and the projection (replaying the
   log after the newest snapshot). 0, or -1 after logging why. */
static int
load_state(daemon_parts_t *d, const settings_t *s)
{
    char err[512];
    service_starting(d->service, "opening the state directory %s", s->state_dir);
    store_options_t opts = {.map_size = s->map_size, .exclusive = true};
    if (!(d->store = store_open(s->state_dir, &opts, err, sizeof err))) {
        log_error("%s", err);
        return -1;
    }
    uint64_t last_aseq;
    if (outbox_open(d->store, &last_aseq, err, sizeof err) != STORE_OK) {
        log_error("%s", err);
        return -1;
    }
    service_starting(d->service, "loading the id index and replaying the log (%llu events)",
                     (unsigned long long)store_last_seq(d->store));
    /* The id index and the projection are independent reads of the log:
       build them side by side. */
    id_load_t ids = {d->store, NULL, ""};
    pthread_t ids_thread;
    bool threaded = pthread_create(&ids_thread, NULL, load_ids, &ids) == 0;
    if (!threaded)
        load_ids(&ids);
    projector_options_t popts = {s->time_zone, s->fiscal_start_month, s->snapshot_every,
                                 s->working_weekdays, s->detectors_off};
    d->projector = projector_open(d->store, &popts, err, sizeof err);
    if (threaded)
        pthread_join(ids_thread, NULL);
    d->dedup = ids.dedup;
    if (!d->projector || !d->dedup) {
        log_error("%s", d->projector ? ids.err : err);
        return -1;
    }
    return 0;
}

/* The HTTP endpoints: metrics, the dashboard, on one server when they
   share an address. 0, or -1 after logging why. */
static int
start_http(daemon_parts_t *d, const settings_t *s, writer_stats_t *stats, int64_t started)
{
    char err[512];
    if (s->metrics) {
        metrics_args_t margs = {stats, d->store, d->projector, started, PACER_VERSION};
        if (!(d->metrics = metrics_new(&margs)) || !(d->http = http_new()) ||
            metrics_route(d->metrics, d->http) != 0) {
            log_error("out of memory starting the metrics endpoint");
            return -1;
        }
    }
    http_t *dash = NULL;
    if (s->dashboard) {
        bool shared = s->metrics && streq(s->metrics, s->dashboard);
        if (!shared && !(d->dashboard_http = http_new())) {
            log_error("out of memory starting the dashboard");
            return -1;
        }
        dash = shared ? d->http : d->dashboard_http;
        dashboard_args_t dargs = {DASHBOARD_PUBLISH_INPROC, QUERY_INPROC_ENDPOINT, stats,
                                  s->dashboard};
        if (!(d->dashboard = dashboard_new(&dargs, dash, err, sizeof err))) {
            log_error("%s", err);
            return -1;
        }
    }
    if ((d->http && http_start(d->http, s->metrics, err, sizeof err) != 0) ||
        (d->dashboard_http && http_start(d->dashboard_http, s->dashboard, err, sizeof err) != 0)) {
        log_error("%s", err);
        return -1;
    }
    if (s->dashboard && strncmp(s->dashboard, "127.", 4) && strncmp(s->dashboard, "[::1]:", 6) &&
        strncmp(s->dashboard, "localhost:", 10))
        log_warn("the dashboard on %s is not on a loopback address and has no authentication "
                 "yet: whoever reaches it reads every target, figure and alert",
                 s->dashboard);
    return 0;
}

/* Bind the endpoints and start the writer, the query actor and the
   HTTP endpoints. 0, or -1 after logging why. */
static int
start_serving(daemon_parts_t *d, const settings_t *s, writer_stats_t *stats, int64_t started)
{
    char err[512];
    if (s->keys && !(d->auth = auth_new(s->server_key, s->keys, err, sizeof err))) {
        log_error("%s", err);
        return -1;
    }
    service_starting(d->service, "binding %s, %s, %s", s->append, s->query, s->publish);
    if (!(d->router = bind_socket(ZMQ_ROUTER, s->append, d->auth, AUTH_DOMAIN_APPEND)) ||
        !(d->pub = bind_socket(ZMQ_XPUB, s->publish, d->auth, AUTH_DOMAIN_PUBLISH)))
        return -1;
    /* the dashboard subscribes in-process, whatever the publish address */
    if (s->dashboard && zsock_bind(d->pub, "%s", DASHBOARD_PUBLISH_INPROC) < 0) {
        log_error("cannot bind %s: %s", DASHBOARD_PUBLISH_INPROC, zmq_strerror(zmq_errno()));
        return -1;
    }
    d->writer = writer_new(d->store, d->projector, &d->dedup, zsock_resolve(d->router),
                           zsock_resolve(d->pub), stats, err, sizeof err);
    if (!d->writer) {
        log_error("%s", err);
        return -1;
    }
    writer_set_map_headroom(d->writer, s->map_headroom);
    writer_set_tick(d->writer, (int64_t)s->tick_s * 1000);
    writer_set_manual_clock(d->writer, s->manual_clock);
    writer_set_alerts(d->writer, !s->alerts_off);
    writer_set_auth(d->writer, d->auth);
    d->qargs = (query_args_t){d->store, d->projector, s->query, stats, started, d->auth};
    if (!(d->query = query_start(&d->qargs, err, sizeof err))) {
        log_error("%s", err);
        return -1;
    }
    return start_http(d, s, stats, started);
}

int
main(int argc, char **argv)
{
    /* Before any thread exists: SIGHUP goes to the service thread only. */
    service_block_signals();
    settings_t s = settings_default();
    int rc = parse_args(&s, argc, argv);
    if (rc < 0 && check_settings(&s) != 0)
        rc = 2;
    if (rc >= 0) {
        settings_free(&s);
        return rc;
    }
    log_set_level((log_level_t)s.log_level);
    absolute_state_dir(&s);

    /* czmq's handler sets zsys_interrupted on SIGINT and SIGTERM; the writer
       checks it between groups, so a batch in flight is always finished.
       On the journal, czmq's own lines go to syslog, which journald also
       reads, with their priorities. */
    zsys_init();
    if (log_to_journal()) {
        zsys_set_logstream(NULL);
        zsys_set_logsystem(true);
    } else
        zsys_set_logstream(stderr);
    int64_t started = zclock_time();
    int64_t t0 = zclock_usecs();
    char err[512];
    daemon_parts_t d = {0};
    reload_args_t reload = {argc, argv, &s, NULL};
    if (!(d.service = service_start(reload_settings, &reload, err, sizeof err))) {
        log_error("%s", err);
        settings_free(&s);
        return 1;
    }
    writer_stats_t stats = {0};
    metrics_init_stats(&stats);
    if (load_state(&d, &s) != 0 || start_serving(&d, &s, &stats, started) != 0) {
        service_notify("STATUS=failed to start (see the log)");
        teardown(&d);
        settings_free(&s);
        return 1;
    }
    atomic_store(&reload.auth, d.auth);
    char metrics_note[600] = "";
    if (s.metrics)
        snprintf(metrics_note, sizeof metrics_note, ", metrics http://%s/metrics", s.metrics);
    if (s.dashboard)
        snprintf(metrics_note + strlen(metrics_note), sizeof metrics_note - strlen(metrics_note),
                 ", dashboard http://%s/", s.dashboard);
    if (d.auth)
        log_info("authentication: CURVE on every endpoint, keys from %s; server public key %s",
                 s.keys, auth_server_key(d.auth));
    else
        log_info("authentication: off (no --keys): whoever reaches the endpoints may do anything");
    log_info("pacerd %s: state %s, %llu events, ready in %.3f s; append %s, query %s, "
             "publish %s%s",
             PACER_VERSION, s.state_dir, (unsigned long long)store_last_seq(d.store),
             (double)(zclock_usecs() - t0) / 1e6, s.append, s.query, s.publish, metrics_note);
    atomic_store(&stats.writer_alive_ms, (int64_t)log_clock_ms());
    service_ready(d.service, &stats.writer_alive_ms, "serving: %llu events; append %s, query %s",
                  (unsigned long long)store_last_seq(d.store), s.append, s.query);

    rc = writer_run(d.writer, &zsys_interrupted);
    atomic_store(&reload.auth, NULL); /* a SIGHUP from now on leaves the keys alone */
    service_stopping(d.service, "stopping: committing and writing a snapshot at seq %llu",
                     (unsigned long long)store_last_seq(d.store));
    log_info("stopping: last seq %llu", (unsigned long long)store_last_seq(d.store));
    http_destroy(&d.http);
    http_destroy(&d.dashboard_http);
    zactor_destroy(&d.query);
    if (rc == 0)
        writer_snapshot(d.writer); /* so the next start folds only what follows */
    teardown(&d);
    settings_free(&s);
    return rc == 0 ? 0 : 1;
}
