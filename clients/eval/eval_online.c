/*  eval_online: see eval_online.h. */

#define _GNU_SOURCE /* mkdtemp */
#include "clients/eval/eval_online.h"

#include "clients/libpacer.h"
#include "clients/libpacer_alert.h"
#include "events/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A loopback port nobody listens on now. */
static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t
spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (log && !freopen(log, "w", stdout))
            _exit(127);
        if (log)
            dup2(fileno(stdout), 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Count the deals and find the newest occurred_at of a history. */
static int
scan_history(const char *path, eval_online_stats_t *st, char *err, size_t errlen)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(o)) {
            json_decref(o);
            continue;
        }
        st->events++;
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && strcmp(type, "sale_closed") == 0)
            st->deals++;
        json_int_t at = json_integer_value(json_object_get(o, "occurred_at"));
        if (at > st->last_at)
            st->last_at = at;
        json_decref(o);
    }
    free(line);
    fclose(in);
    return 0;
}

/* One firing anomaly record as a flag. */
static int
add_record(eval_t *eval, const pacer_alert_t *a)
{
    if (strcmp(a->state, "firing") != 0 || strncmp(a->rule, "anomaly/", 8) != 0)
        return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    char *ids[16];
    size_t nids = 0;
    if (msgpack_unpack_next(&u, (const char *)a->raw, a->raw_len, &off) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *ev = wire_map_get(&u.data, "evidence");
        for (uint32_t i = 0;
             ev && ev->type == MSGPACK_OBJECT_ARRAY && i < ev->via.array.size && nids < 16; i++) {
            const msgpack_object *id = wire_map_get(&ev->via.array.ptr[i], "id");
            if (id && id->type == MSGPACK_OBJECT_STR)
                ids[nids++] = strndup(id->via.str.ptr, id->via.str.size);
        }
    }
    msgpack_unpacked_destroy(&u);
    int rc = eval_add_flag(eval, a->rule + 8, a->key, (const char *const *)ids, nids, a->summary);
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    return rc;
}

int
eval_online(const char *bindir, const char *events, eval_t *eval, eval_online_stats_t *st,
            char *err, size_t errlen)
{
    double t0 = now_s();
    memset(st, 0, sizeof *st);
    if (scan_history(events, st, err, errlen) != 0)
        return -1;
    eval_set_deals(eval, st->deals);
    char dir[] = "/tmp/pacer-eval-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "cannot make a state directory: %s", strerror(errno));
        return -1;
    }
    char pacerd[4096], pacer[4096], state[64], log[96], ep[3][64];
    snprintf(pacerd, sizeof pacerd, "%s/pacerd", bindir);
    snprintf(pacer, sizeof pacer, "%s/pacer", bindir);
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(log, sizeof log, "%s/pacerd.log", dir);
    for (int i = 0; i < 3; i++)
        snprintf(ep[i], sizeof ep[i], "tcp://127.0.0.1:%d", free_port());
    char *dargv[] = {pacerd,    "--state-dir", state,         "--append", ep[0],
                     "--query", ep[1],         "--publish",   ep[2],      "--manual-clock",
                     "--tick",  "0",           "--log-level", "warn",     NULL};
    pid_t daemon = spawn(dargv, log);
    int rc = -1;
    pacer_client_t *c = daemon > 0 ? pacer_client_new(ep[0], ep[1]) : NULL;
    if (!c) {
        snprintf(err, errlen, "cannot start %s", pacerd);
        goto done;
    }
    pacer_client_set_timeout(c, 2000);
    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        pacer_status_t s;
        up = pacer_status(c, &s) == PACER_OK;
        if (!up)
            usleep(100000);
    }
    if (!up) {
        snprintf(err, errlen, "%s did not answer (see %s)", pacerd, log);
        goto done;
    }
    pacer_client_set_timeout(c, 600000);
    double ta = now_s();
    char *aargv[] = {pacer, "append", "--endpoint", ep[0], "--query", ep[1], (char *)events, NULL};
    pid_t ap = spawn(aargv, "/dev/null");
    int status = -1;
    if (ap <= 0 || waitpid(ap, &status, 0) != ap || !WIFEXITED(status) || WEXITSTATUS(status) > 1) {
        snprintf(err, errlen, "pacer append of %s failed (exit status %d)", events,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto done;
    }
    st->append_s = now_s() - ta;
    /* the alert clock to the history's end, a minute past its last event */
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)(st->last_at + 60000));
    char *targv[] = {pacer, "tick", "--endpoint", ep[0], "--now", now, NULL};
    pid_t tp = spawn(targv, "/dev/null");
    if (tp <= 0 || waitpid(tp, &status, 0) != tp || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "pacer tick --now %s failed", now);
        goto done;
    }
    const char *prefix[] = {"alert/anomaly/"};
    pacer_alerts_query_t q = {.from = 1, .prefixes = prefix, .prefix_count = 1, .limit = 10000};
    for (;;) {
        pacer_alert_page_t *page = NULL;
        if (pacer_alerts(c, &q, &page) != PACER_OK) {
            snprintf(err, errlen, "alerts: %s", pacer_client_error(c));
            goto done;
        }
        for (size_t i = 0; i < pacer_alert_page_count(page); i++) {
            const pacer_alert_t *a = pacer_alert_page_get(page, i);
            if (add_record(eval, a) != 0) {
                pacer_alert_page_destroy(&page);
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            st->flags += strcmp(a->state, "firing") == 0;
        }
        bool end = pacer_alert_page_at_end(page);
        q.from = pacer_alert_page_next(page);
        pacer_alert_page_destroy(&page);
        if (end)
            break;
    }
    rc = 0;
done:
    pacer_client_destroy(&c);
    if (daemon > 0) {
        kill(daemon, SIGTERM);
        waitpid(daemon, NULL, 0);
    }
    if (rc == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "pacer-eval: could not remove %s\n", dir);
    }
    st->total_s = now_s() - t0;
    return rc;
}
