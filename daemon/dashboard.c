/*  dashboard: see dashboard.h.

    Threads: the handlers run on the HTTP server's one thread, which owns
    the DEALER (made on first use, so it is used by that thread only; it
    is closed by dashboard_destroy after the server has stopped). The
    event thread owns the SUB socket and the batch being gathered; it
    hands bytes to the HTTP thread only through the hub (http_hub_send).
    They share nothing else. */

#include "daemon/dashboard.h"

#include "daemon/log.h"
#include "daemon/web_assets.h"
#include "daemon/webjson.h"
#include "events/wire.h"
#include "projections/projection.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define QUERY_TIMEOUT_MS 10000      /* a rebuild holds the projection for seconds */
#define FLUSH_MS         250        /* how often gathered events go out */
#define UNSUBSCRIBE_MS   10000      /* no stream this long: stop subscribing */
#define MAX_STREAMS      16         /* event streams open at once */
#define MAX_QUEUED       (4u << 20) /* bytes queued for one stream before it is dropped */
#define MAX_ROWS         5000       /* progress keys in one batch; more is a resync */
#define MAX_ALERTS       2000       /* alerts in one batch; more is a resync */
#define BURNUP_MAX_DAYS  400

/* A query string argument and the type of the request field it becomes. */
typedef enum { ARG_STR, ARG_INT, ARG_BOOL, ARG_LIST } arg_kind_t;

typedef struct {
    const char *name;
    arg_kind_t kind;
} arg_spec_t;

typedef struct {
    const char *path, *op;
    bool default_now; /* `now` defaults to the alert clock */
    arg_spec_t args[12];
} api_op_t;

static const api_op_t API_OPS[] = {
    {"/api/progress",
     "progress",
     true,
     {{"scope", ARG_STR},
      {"period", ARG_STR},
      {"metric", ARG_STR},
      {"product_line", ARG_STR},
      {"each_product_line", ARG_BOOL},
      {"now", ARG_INT},
      {"curve", ARG_STR},
      {"as_of", ARG_INT},
      {"as_of_seq", ARG_INT},
      {"limit", ARG_INT}}},
    {"/api/leaderboard",
     "leaderboard",
     true,
     {{"level", ARG_STR},
      {"period", ARG_STR},
      {"metric", ARG_STR},
      {"product_line", ARG_STR},
      {"now", ARG_INT},
      {"curve", ARG_STR},
      {"scope", ARG_STR},
      {"limit", ARG_INT}}},
    {"/api/alerts",
     "alerts",
     false,
     {{"from", ARG_INT}, {"to", ARG_INT}, {"prefix", ARG_LIST}, {"limit", ARG_INT}}},
    {"/api/alerts_active",
     "alerts_active",
     false,
     {{"prefix", ARG_LIST}, {"severity", ARG_STR}, {"limit", ARG_INT}, {"now", ARG_INT}}},
};
#define API_OP_COUNT (sizeof API_OPS / sizeof API_OPS[0])

typedef struct {
    dashboard_t *dashboard;
    const api_op_t *op;
} api_route_t;

typedef struct {
    dashboard_t *dashboard;
    const web_asset_t *asset;
} asset_route_t;

struct _dashboard_t {
    char *publish_endpoint, *query_endpoint;
    char *host; /* the host of the address it is served on */
    writer_stats_t *stats;
    http_hub_t *hub;
    zactor_t *feed;
    zsock_t *dealer; /* the HTTP thread's; made on first use */
    uint64_t corr;   /* the last request's */
    api_route_t routes[API_OP_COUNT];
    asset_route_t *assets; /* web_asset_count of them */
};

/* One reply of the query actor: the message, and its unpacked body
   (whose strings point into the message). */
typedef struct {
    zmq_msg_t msg;
    msgpack_unpacked u;
} answer_t;

static void
answer_free(answer_t *a)
{
    msgpack_unpacked_destroy(&a->u);
    zmq_msg_close(&a->msg);
}

static const msgpack_object *
get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
            !memcmp(kv->key.via.str.ptr, key, n))
            return &kv->val;
    }
    return NULL;
}

static bool
get_int(const msgpack_object *map, const char *key, int64_t *out)
{
    const msgpack_object *v = get(map, key);
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
        *out = (int64_t)v->via.u64;
    else if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = v->via.i64;
    else
        return false;
    return true;
}

/* A string field copied into buf ("" when absent or not a string). */
static const char *
get_str(const msgpack_object *map, const char *key, char *buf, size_t len)
{
    const msgpack_object *v = get(map, key);
    buf[0] = 0;
    if (v && v->type == MSGPACK_OBJECT_STR && v->via.str.size < len) {
        memcpy(buf, v->via.str.ptr, v->via.str.size);
        buf[v->via.str.size] = 0;
    }
    return buf;
}

/* The `now` the page sees by default: a --manual-clock pacerd's alert
   clock, else the wall clock. */
static int64_t
default_now(dashboard_t *self, bool *manual)
{
    int64_t clock = atomic_load(&self->stats->alert_clock);
    if (manual)
        *manual = clock != 0;
    return clock ? clock : zclock_time();
}

/* ---------------------------------------------------------------------
   Asking the query actor */

/* Send n request bodies (their corrs corr0, corr0 + 1, ...) and read the
   n replies, in order, into out. Replies to requests that timed out
   earlier are skipped by their corr. 0, or -1 when the actor did not
   answer in time (the answers read so far are freed). */
static int
ask(dashboard_t *self, msgpack_sbuffer *reqs, size_t n, uint64_t corr0, answer_t *out)
{
    if (!self->dealer) {
        self->dealer = zsock_new(ZMQ_DEALER);
        if (!self->dealer)
            return -1;
        zsock_set_linger(self->dealer, 0);
        zsock_set_sndhwm(self->dealer, 0);
        zsock_set_rcvhwm(self->dealer, 0);
        if (zsock_connect(self->dealer, "%s", self->query_endpoint) < 0) {
            zsock_destroy(&self->dealer);
            return -1;
        }
    }
    void *s = zsock_resolve(self->dealer);
    for (size_t i = 0; i < n; i++)
        if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(s, reqs[i].data, reqs[i].size, 0) < 0)
            return -1;
    int64_t deadline = zclock_mono() + QUERY_TIMEOUT_MS;
    size_t got = 0;
    while (got < n) {
        int64_t left = deadline - zclock_mono();
        zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, (long)left) <= 0)
            break;
        answer_t *a = &out[got];
        zmq_msg_t delim;
        zmq_msg_init(&delim);
        zmq_msg_init(&a->msg);
        bool framed = zmq_msg_recv(&delim, s, 0) >= 0 && zmq_msg_more(&delim) &&
                      zmq_msg_recv(&a->msg, s, 0) >= 0 && !zmq_msg_more(&a->msg);
        zmq_msg_close(&delim);
        while (zmq_msg_more(&a->msg) && zmq_msg_recv(&a->msg, s, 0) >= 0)
            framed = false;
        msgpack_unpacked_init(&a->u);
        int64_t corr;
        if (framed &&
            msgpack_unpack_next(&a->u, zmq_msg_data(&a->msg), zmq_msg_size(&a->msg), NULL) ==
                MSGPACK_UNPACK_SUCCESS &&
            get_int(&a->u.data, "corr", &corr) && (uint64_t)corr == corr0 + got) {
            got++;
            continue;
        }
        answer_free(a); /* stale, or not a reply */
    }
    if (got == n)
        return 0;
    for (size_t i = 0; i < got; i++)
        answer_free(&out[i]);
    return -1;
}

/* Requests are packed into sbuffers, whose write fails only when out of
   memory; rather than check each of the many pack calls, the handlers
   (all on libmicrohttpd's one thread) pack through pack_write, which
   notes a failure here: a handler clears it first and checks it before
   it sends what it packed, and then answers 500 (reply->failed) instead
   of sending a truncated request that would come back as `malformed`. */
static _Thread_local bool pack_failed;

static int
pack_write(void *data, const char *buf, size_t len)
{
    if (msgpack_sbuffer_write(data, buf, len) == 0)
        return 0;
    pack_failed = true;
    return -1;
}

/* The next request's header: {v, op, corr, ...}, nfields more to come. */
static uint64_t
request_begin(dashboard_t *self, msgpack_packer *pk, const char *op, size_t nfields)
{
    msgpack_pack_map(pk, 3 + nfields);
    wire_pack_str(pk, "v");
    msgpack_pack_int(pk, WIRE_VERSION);
    wire_pack_str(pk, "op");
    wire_pack_str(pk, op);
    wire_pack_str(pk, "corr");
    msgpack_pack_uint64(pk, ++self->corr);
    return self->corr;
}

static void
pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    wire_pack_str(pk, key);
    wire_pack_str(pk, value);
}

static void
pack_kv_int(msgpack_packer *pk, const char *key, int64_t value)
{
    wire_pack_str(pk, key);
    msgpack_pack_int64(pk, value);
}

/* ---------------------------------------------------------------------
   Replies */

static void
api_headers(http_reply_t *reply)
{
    reply->content_type = "application/json; charset=utf-8";
    http_reply_header(reply, "Cache-Control", "no-store");
    http_reply_header(reply, "X-Content-Type-Options", "nosniff");
}

static void
api_error(http_reply_t *reply, int status, const char *code, const char *message)
{
    api_headers(reply);
    reply->status = status;
    http_reply_printf(reply, "{\"ok\":false,\"error\":\"%s\",\"message\":", code);
    webjson_string(reply, message, strlen(message));
    http_reply_write(reply, "}", 1);
}

static void
api_unavailable(http_reply_t *reply)
{
    api_error(reply, 503, "unavailable",
              "pacerd's query thread did not answer in time (a rebuild?); try again");
}

/* The HTTP status of a query reply. */
static int
reply_status(const msgpack_object *body)
{
    const msgpack_object *ok = get(body, "ok");
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean)
        return 200;
    char code[32];
    get_str(body, "error", code, sizeof code);
    if (!strcmp(code, pq_rc_name(PQ_NOT_FOUND)))
        return 404;
    if (!strcmp(code, wire_rc_name(WIRE_INTERNAL)))
        return 500;
    return 400;
}

/* The Host header's host is an IP literal, localhost, or the host pacerd
   was told to serve on (see dashboard.h, "DNS rebinding"). */
static bool
host_ok(dashboard_t *self, const http_request_t *req)
{
    const char *host = http_request_header(req, "Host");
    if (!host || host[0] == '[') /* HTTP/1.0 without one; an IPv6 literal */
        return true;
    size_t len = strcspn(host, ":");
    if (len == strspn(host, "0123456789.")) /* an IPv4 literal */
        return true;
    if (len == 9 && !strncasecmp(host, "localhost", 9))
        return true;
    return len == strlen(self->host) && !strncasecmp(host, self->host, len);
}

/* Refuse a request by a host name pacerd was not given; true if refused. */
static bool
misdirected(dashboard_t *self, const http_request_t *req, http_reply_t *reply)
{
    if (host_ok(self, req))
        return false;
    reply->status = 421;
    http_reply_printf(reply,
                      "this dashboard answers to its address (%s), localhost or an IP "
                      "address, not to the host name in this request\n",
                      self->host);
    return true;
}

/* ---------------------------------------------------------------------
   /api/<op>: a query operation with the query string as its fields */

/* Check an argument's value; NULL, or what is wrong with it. */
static const char *
arg_check(arg_kind_t kind, const char *value, int64_t *i)
{
    if (kind == ARG_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno)
            return "expected an integer";
        *i = v;
    } else if (kind == ARG_BOOL && strcmp(value, "true") && strcmp(value, "false") &&
               strcmp(value, "1") && strcmp(value, "0"))
        return "expected true or false";
    return NULL;
}

static void
pack_arg(msgpack_packer *pk, arg_kind_t kind, const char *value, int64_t i)
{
    if (kind == ARG_INT)
        msgpack_pack_int64(pk, i);
    else if (kind == ARG_BOOL) {
        if (!strcmp(value, "true") || !strcmp(value, "1"))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    } else if (kind == ARG_LIST) {
        size_t n = 1;
        for (const char *c = value; *c; c++)
            n += *c == ',';
        msgpack_pack_array(pk, n);
        for (const char *p = value;; p++) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            msgpack_pack_str_with_body(pk, p, len);
            if (!comma)
                break;
            p = comma;
        }
    } else
        wire_pack_str(pk, value);
}

static void
api_query(void *arg, const http_request_t *req, http_reply_t *reply)
{
    api_route_t *route = arg;
    dashboard_t *self = route->dashboard;
    const api_op_t *op = route->op;
    if (misdirected(self, req, reply))
        return;
    const char *values[12] = {0};
    int64_t ints[12] = {0};
    size_t nfields = 0;
    bool has_now = false;
    for (size_t k = 0; k < 12 && op->args[k].name; k++) {
        if (!(values[k] = http_request_arg(req, op->args[k].name)))
            continue;
        const char *why = arg_check(op->args[k].kind, values[k], &ints[k]);
        if (why) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s: %s", op->args[k].name, why);
            api_error(reply, 400, wire_rc_name(WIRE_BAD_REQUEST), msg);
            return;
        }
        has_now |= !strcmp(op->args[k].name, "now");
        nfields++;
    }
    bool manual;
    int64_t now = default_now(self, &manual);
    bool add_now = op->default_now && !has_now && manual;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, pack_write);
    pack_failed = false;
    uint64_t corr = request_begin(self, &pk, op->op, nfields + add_now);
    for (size_t k = 0; k < 12 && op->args[k].name; k++)
        if (values[k]) {
            wire_pack_str(&pk, op->args[k].name);
            pack_arg(&pk, op->args[k].kind, values[k], ints[k]);
        }
    if (add_now)
        pack_kv_int(&pk, "now", now);
    if (pack_failed) {
        msgpack_sbuffer_destroy(&buf);
        reply->failed = true;
        return;
    }
    answer_t a;
    int rc = ask(self, &buf, 1, corr, &a);
    msgpack_sbuffer_destroy(&buf);
    if (rc != 0) {
        api_unavailable(reply);
        return;
    }
    api_headers(reply);
    reply->status = reply_status(&a.u.data);
    webjson_write(reply, &a.u.data);
    answer_free(&a);
}

/* /api/status: {"status": the status reply, "now": the page's default
   now, "manual_clock": bool} */
static void
api_status(void *arg, const http_request_t *req, http_reply_t *reply)
{
    dashboard_t *self = arg;
    if (misdirected(self, req, reply))
        return;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, pack_write);
    pack_failed = false;
    uint64_t corr = request_begin(self, &pk, "status", 0);
    if (pack_failed) {
        msgpack_sbuffer_destroy(&buf);
        reply->failed = true;
        return;
    }
    answer_t a;
    int rc = ask(self, &buf, 1, corr, &a);
    msgpack_sbuffer_destroy(&buf);
    if (rc != 0) {
        api_unavailable(reply);
        return;
    }
    bool manual;
    int64_t now = default_now(self, &manual);
    api_headers(reply);
    reply->status = reply_status(&a.u.data);
    http_reply_printf(reply, "{\"ok\":%s,\"now\":%" PRId64 ",\"manual_clock\":%s,\"status\":",
                      reply->status == 200 ? "true" : "false", now, manual ? "true" : "false");
    webjson_write(reply, &a.u.data);
    http_reply_write(reply, "}", 1);
    answer_free(&a);
}

/* ---------------------------------------------------------------------
   /api/burnup: one key's cumulative actual and pace line, by day */

/* Metrics whose day values add up to the period's (EVENTS.md, "Metrics"):
   the rest (ratios, averages, KPIs of unknown aggregation) get the pace
   line and tiers but no cumulative actual. */
static bool
summable(const char *metric)
{
    static const char *const sums[] = {"revenue",       "margin",      "deals",
                                       "new_customers", "collections", "activities"};
    for (size_t i = 0; i < sizeof sums / sizeof *sums; i++)
        if (!strcmp(metric, sums[i]))
            return true;
    return !strncmp(metric, "activities.", 11);
}

/* Local dates, in the process zone (the daemon's: the calendar set TZ). */
typedef struct {
    int y, m, d;
} date_t;

static date_t
local_date(int64_t ms)
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tm;
    localtime_r(&t, &tm);
    return (date_t){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
}

static date_t
next_date(date_t d)
{
    struct tm tm = {.tm_year = d.y - 1900, .tm_mon = d.m - 1, .tm_mday = d.d + 1, .tm_hour = 12};
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return (date_t){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
}

static bool
date_le(date_t a, date_t b)
{
    return a.y != b.y ? a.y < b.y : a.m != b.m ? a.m < b.m : a.d <= b.d;
}

/* progress {scope, metric, period, product_line, now?, limit 1}: the
   scope's own row comes first (rows are ordered by path). */
static uint64_t
pack_key_query(dashboard_t *self, msgpack_sbuffer *buf, const char *scope, const char *metric,
               const char *period, const char *pl, bool has_now, int64_t now)
{
    msgpack_sbuffer_init(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, pack_write);
    uint64_t corr = request_begin(self, &pk, "progress", 4 + (*pl != 0) + has_now);
    pack_kv_str(&pk, "scope", scope);
    pack_kv_str(&pk, "metric", metric);
    pack_kv_str(&pk, "period", period);
    pack_kv_int(&pk, "limit", 1);
    if (*pl)
        pack_kv_str(&pk, "product_line", pl);
    if (has_now)
        pack_kv_int(&pk, "now", now);
    return corr;
}

/* The first row of a progress answer, or NULL. */
static const msgpack_object *
first_row(const answer_t *a)
{
    const msgpack_object *rows = get(&a->u.data, "rows");
    if (!rows || rows->type != MSGPACK_OBJECT_ARRAY || rows->via.array.size == 0)
        return NULL;
    return &rows->via.array.ptr[0];
}

/* Ask the n queries of reqs (freed here) into out; -1 when unanswered. */
static int
ask_all(dashboard_t *self, msgpack_sbuffer *reqs, size_t n, uint64_t corr0, answer_t *out)
{
    int rc = ask(self, reqs, n, corr0, out);
    for (size_t i = 0; i < n; i++)
        msgpack_sbuffer_destroy(&reqs[i]);
    return rc;
}

typedef struct {
    char name[40];
    int64_t start, end;
    int64_t actual; /* that day's */
    bool has_actual, has_expected;
    int64_t expected; /* the key's at the day's end */
} day_t;

static void
burnup_write(http_reply_t *reply, const msgpack_object *key, const day_t *days, size_t n,
             int64_t now, bool cumulative)
{
    api_headers(reply);
    http_reply_printf(reply, "{\"ok\":true,\"now\":%" PRId64 ",\"cumulative\":%s,\"key\":", now,
                      cumulative ? "true" : "false");
    webjson_write(reply, key);
    http_reply_write(reply, ",\"days\":[", 9);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += days[i].actual;
        http_reply_printf(reply, "%s{\"day\":\"%s\",\"start\":%" PRId64 ",\"end\":%" PRId64,
                          i ? "," : "", days[i].name, days[i].start, days[i].end);
        if (cumulative && days[i].has_actual)
            http_reply_printf(reply, ",\"actual\":%" PRId64, sum);
        else
            http_reply_write(reply, ",\"actual\":null", 14);
        if (days[i].has_expected)
            http_reply_printf(reply, ",\"expected\":%" PRId64 "}", days[i].expected);
        else
            http_reply_write(reply, ",\"expected\":null}", 17);
    }
    http_reply_write(reply, "]}", 2);
}

static void
api_burnup(void *arg, const http_request_t *req, http_reply_t *reply)
{
    dashboard_t *self = arg;
    if (misdirected(self, req, reply))
        return;
    const char *scope = http_request_arg(req, "scope");
    const char *metric = http_request_arg(req, "metric");
    const char *period = http_request_arg(req, "period");
    const char *pl = http_request_arg(req, "product_line");
    const char *now_arg = http_request_arg(req, "now");
    if (!scope || !metric || !period) {
        api_error(reply, 400, wire_rc_name(WIRE_BAD_REQUEST),
                  "scope, metric and period are required");
        return;
    }
    pl = pl ? pl : "";
    int64_t now = default_now(self, NULL);
    if (now_arg && arg_check(ARG_INT, now_arg, &now)) {
        api_error(reply, 400, wire_rc_name(WIRE_BAD_REQUEST), "now: expected an integer");
        return;
    }
    /* the key itself */
    msgpack_sbuffer one;
    answer_t key;
    pack_failed = false;
    uint64_t corr = pack_key_query(self, &one, scope, metric, period, pl, true, now);
    if (pack_failed) {
        msgpack_sbuffer_destroy(&one);
        reply->failed = true;
        return;
    }
    if (ask_all(self, &one, 1, corr, &key) != 0) {
        api_unavailable(reply);
        return;
    }
    const msgpack_object *row = first_row(&key);
    int64_t start, end;
    char has_target[8] = "";
    if (reply_status(&key.u.data) != 200 || !row || !get_int(row, "period_start", &start) ||
        !get_int(row, "period_end", &end) || end <= start) {
        api_headers(reply);
        reply->status = row ? reply_status(&key.u.data) : 404;
        if (reply->status == 200)
            reply->status = 404;
        webjson_write(reply, &key.u.data);
        answer_free(&key);
        return;
    }
    const msgpack_object *ht = get(row, "has_target");
    snprintf(has_target, sizeof has_target, "%s",
             ht && ht->type == MSGPACK_OBJECT_BOOLEAN && ht->via.boolean ? "yes" : "");
    char row_scope[128];
    get_str(row, "scope", row_scope, sizeof row_scope);

    /* the period's local days */
    day_t *days = calloc(BURNUP_MAX_DAYS, sizeof *days);
    msgpack_sbuffer *reqs = calloc(BURNUP_MAX_DAYS, sizeof *reqs);
    answer_t *answers = calloc(BURNUP_MAX_DAYS, sizeof *answers);
    size_t n = 0;
    date_t last = local_date(end - 1), today = local_date(now < end ? now : end - 1);
    for (date_t d = local_date(start); date_le(d, last) && n < BURNUP_MAX_DAYS && days;
         d = next_date(d), n++)
        snprintf(days[n].name, sizeof days[n].name, "%04d-%02d-%02d", d.y, d.m, d.d);
    bool cumulative = summable(metric);
    int rc = days && reqs && answers ? 0 : -1;
    /* every day's bounds and actual (counted up to today), then the pace
       line at each day's end (keys with a target) */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        size_t m = 0;
        uint64_t corr0 = self->corr + 1;
        for (size_t i = 0; i < n; i++) {
            if (pass == 0)
                pack_key_query(self, &reqs[m++], row_scope, metric, days[i].name, pl, false, 0);
            else if (has_target[0])
                pack_key_query(self, &reqs[m++], row_scope, metric, period, pl, true, days[i].end);
        }
        if (m == 0)
            break;
        if (pack_failed) {
            for (size_t i = 0; i < m; i++)
                msgpack_sbuffer_destroy(&reqs[i]);
            rc = -1;
            break;
        }
        if (ask_all(self, reqs, m, corr0, answers) != 0) {
            rc = -2;
            break;
        }
        for (size_t i = 0; i < m; i++) {
            const msgpack_object *r = first_row(&answers[i]);
            if (pass == 0) {
                get_int(r, "period_start", &days[i].start);
                get_int(r, "period_end", &days[i].end);
                days[i].has_actual = cumulative && get_int(r, "actual", &days[i].actual) &&
                                     date_le(local_date(days[i].start), today) && now >= start;
                if (!days[i].has_actual)
                    days[i].actual = 0;
            } else
                days[i].has_expected = get_int(r, "expected", &days[i].expected);
            answer_free(&answers[i]);
        }
    }
    if (rc == 0)
        burnup_write(reply, row, days, n, now, cumulative);
    else if (rc == -2)
        api_unavailable(reply);
    else
        reply->failed = true;
    free(days);
    free(reqs);
    free(answers);
    answer_free(&key);
}

/* ---------------------------------------------------------------------
   The page and the event stream */

static const char *
asset_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    return "application/octet-stream";
}

static void
serve_asset(void *arg, const http_request_t *req, http_reply_t *reply)
{
    const asset_route_t *route = arg;
    const web_asset_t *asset = route->asset;
    if (misdirected(route->dashboard, req, reply))
        return;
    reply->content_type = asset_type(asset->name);
    http_reply_header(reply, "Cache-Control", "no-cache");
    http_reply_header(reply, "X-Content-Type-Options", "nosniff");
    http_reply_header(reply, "Referrer-Policy", "no-referrer");
    http_reply_header(reply, "X-Frame-Options", "DENY");
    http_reply_header(reply, "Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    http_reply_write(reply, asset->data, asset->len);
}

static void
api_events(void *arg, const http_request_t *req, http_reply_t *reply)
{
    dashboard_t *self = arg;
    if (misdirected(self, req, reply))
        return;
    reply->content_type = "text/event-stream; charset=utf-8";
    http_reply_header(reply, "Cache-Control", "no-store");
    http_reply_header(reply, "X-Accel-Buffering", "no");
    /* reconnect after 2 s; a comment so that the browser sees it open */
    http_reply_printf(reply, "retry: 2000\n: pacerd\n\n");
    http_reply_stream(reply, self->hub);
}

/* ---------------------------------------------------------------------
   The event thread */

typedef struct {
    dashboard_t *dashboard;
    zsock_t *sub;
    bool subscribed;
    int64_t idle_since;  /* mono ms since when no stream is open (0: one is) */
    zhashx_t *rows;      /* key -> JSON of its newest progress row */
    zlistx_t *keys;      /* the rows' keys, in arrival order */
    http_reply_t alerts; /* JSON records, comma-separated */
    size_t nalerts;
    char *heartbeat; /* JSON, or NULL */
    bool resync;
} feed_t;

static const char *const TOPICS[] = {"progress/", "alert/", "heartbeat/"};

static void
feed_subscribe(feed_t *f, bool on)
{
    for (size_t i = 0; i < sizeof TOPICS / sizeof *TOPICS; i++)
        if (on)
            zsock_set_subscribe(f->sub, TOPICS[i]);
        else
            zsock_set_unsubscribe(f->sub, TOPICS[i]);
    f->subscribed = on;
}

/* JSON of a msgpack body; NULL when it is not one value. */
static char *
body_json(const void *data, size_t len, msgpack_unpacked *u)
{
    if (msgpack_unpack_next(u, data, len, NULL) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    http_reply_t j = {0};
    webjson_write(&j, &u->data);
    if (j.failed) {
        free(j.body);
        return NULL;
    }
    return j.body;
}

static void
feed_take(feed_t *f, const char *topic, size_t tlen, const void *data, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    char *json = body_json(data, len, &u);
    if (!json) {
        msgpack_unpacked_destroy(&u);
        return;
    }
    if (tlen >= 9 && !memcmp(topic, "progress/", 9)) {
        char key[1024], metric[128], period[32], pl[128];
        snprintf(key, sizeof key, "%.*s|%s|%s|%s", (int)(tlen > 512 ? 512 : tlen), topic,
                 get_str(&u.data, "metric", metric, sizeof metric),
                 get_str(&u.data, "period", period, sizeof period),
                 get_str(&u.data, "product_line", pl, sizeof pl));
        if (zhashx_lookup(f->rows, key))
            zhashx_update(f->rows, key, json);
        else if (zhashx_size(f->rows) < MAX_ROWS) {
            zhashx_insert(f->rows, key, json);
            zlistx_add_end(f->keys, key);
        } else {
            f->resync = true;
            free(json);
        }
    } else if (tlen >= 6 && !memcmp(topic, "alert/", 6)) {
        if (f->nalerts < MAX_ALERTS) {
            if (f->nalerts++)
                http_reply_write(&f->alerts, ",", 1);
            http_reply_write(&f->alerts, json, strlen(json));
        } else
            f->resync = true;
        free(json);
    } else {
        free(f->heartbeat);
        f->heartbeat = json;
    }
    msgpack_unpacked_destroy(&u);
}

/* Send what was gathered as one batch of events, and start over. */
static void
feed_flush(feed_t *f)
{
    http_reply_t out = {0};
    if (f->resync || f->alerts.failed)
        http_reply_printf(&out, "event: resync\ndata: {}\n\n");
    else {
        if (zlistx_size(f->keys)) {
            http_reply_printf(&out, "event: progress\ndata: [");
            bool first = true;
            for (const char *k = zlistx_first(f->keys); k; k = zlistx_next(f->keys)) {
                const char *json = zhashx_lookup(f->rows, k);
                if (!first)
                    http_reply_write(&out, ",", 1);
                http_reply_write(&out, json, strlen(json));
                first = false;
            }
            http_reply_printf(&out, "]\n\n");
        }
        if (f->nalerts) {
            http_reply_printf(&out, "event: alert\ndata: [");
            http_reply_write(&out, f->alerts.body, f->alerts.len);
            http_reply_printf(&out, "]\n\n");
        }
        if (f->heartbeat)
            http_reply_printf(&out, "event: heartbeat\ndata: %s\n\n", f->heartbeat);
    }
    if (out.len && !out.failed)
        http_hub_send(f->dashboard->hub, out.body, out.len);
    free(out.body);
    zhashx_purge(f->rows);
    zlistx_purge(f->keys);
    free(f->alerts.body);
    f->alerts = (http_reply_t){0};
    f->nalerts = 0;
    free(f->heartbeat);
    f->heartbeat = NULL;
    f->resync = false;
}

/* Read what the SUB socket holds (a bounded number of messages). */
static void
feed_read(feed_t *f)
{
    void *s = zsock_resolve(f->sub);
    for (int i = 0; i < 10000; i++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&topic, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            break;
        }
        bool two = zmq_msg_more(&topic) && zmq_msg_recv(&body, s, 0) >= 0;
        while (zmq_msg_more(&body) && zmq_msg_recv(&body, s, 0) >= 0)
            two = false;
        if (two && f->subscribed)
            feed_take(f, zmq_msg_data(&topic), zmq_msg_size(&topic), zmq_msg_data(&body),
                      zmq_msg_size(&body));
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
}

/* Subscribe while someone watches; let go a while after the last one left. */
static void
feed_watchers(feed_t *f, int64_t mono)
{
    bool watched = http_hub_streams(f->dashboard->hub) > 0;
    if (watched) {
        f->idle_since = 0;
        if (!f->subscribed)
            feed_subscribe(f, true);
    } else if (f->subscribed) {
        if (!f->idle_since)
            f->idle_since = mono;
        else if (mono - f->idle_since >= UNSUBSCRIBE_MS) {
            feed_subscribe(f, false);
            f->idle_since = 0;
        }
    }
}

static void
feed_actor(zsock_t *pipe, void *arg)
{
    feed_t f = {.dashboard = arg};
    f.sub = zsock_new(ZMQ_SUB);
    f.rows = zhashx_new();
    f.keys = zlistx_new();
    if (!f.sub || !f.rows || !f.keys ||
        zsock_connect(f.sub, "%s", f.dashboard->publish_endpoint) < 0) {
        zsock_signal(pipe, 1);
        goto done;
    }
    zsock_set_rcvhwm(f.sub, 100000);
    zhashx_set_destructor(f.rows, (zhashx_destructor_fn *)zstr_free);
    zlistx_set_destructor(f.keys, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_duplicator(f.keys, (zlistx_duplicator_fn *)strdup);
    zsock_signal(pipe, 0);
    zmq_pollitem_t items[2] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                               {zsock_resolve(f.sub), 0, ZMQ_POLLIN, 0}};
    int64_t next_flush = zclock_mono() + FLUSH_MS;
    while (true) {
        int64_t mono = zclock_mono();
        long wait = next_flush > mono ? (long)(next_flush - mono) : 0;
        if (zmq_poll(items, 2, wait) < 0 && errno != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || streq(cmd, "$TERM");
            zstr_free(&cmd);
            if (term)
                break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            feed_read(&f);
        mono = zclock_mono();
        if (mono >= next_flush) {
            feed_flush(&f);
            feed_watchers(&f, mono);
            next_flush = mono + FLUSH_MS;
        }
    }
done:
    free(f.alerts.body);
    free(f.heartbeat);
    zlistx_destroy(&f.keys);
    zhashx_destroy(&f.rows);
    zsock_destroy(&f.sub);
}

/* ---------------------------------------------------------------------
   Set-up */

dashboard_t *
dashboard_new(const dashboard_args_t *args, http_t *http, char *err, size_t errlen)
{
    dashboard_t *self = calloc(1, sizeof *self);
    if (!self || !(self->publish_endpoint = strdup(args->publish_endpoint)) ||
        !(self->query_endpoint = strdup(args->query_endpoint)) ||
        !(self->host = strdup(args->address)) ||
        !(self->assets = calloc(web_asset_count, sizeof *self->assets)) ||
        !(self->hub = http_hub_new(http, MAX_STREAMS, MAX_QUEUED)))
        goto oom;
    self->stats = args->stats;
    /* "HOST:PORT" or "[V6]:PORT": keep HOST (an IPv6 literal passes anyway) */
    char *colon = strrchr(self->host, ':');
    if (colon)
        *colon = 0;
    int rc = 0;
    for (size_t i = 0; i < web_asset_count; i++) {
        char path[128];
        snprintf(path, sizeof path, "/%s", web_assets[i].name);
        self->assets[i] = (asset_route_t){self, &web_assets[i]};
        rc |= http_route(http, path, serve_asset, &self->assets[i]);
        if (!strcmp(web_assets[i].name, "index.html"))
            rc |= http_route(http, "/", serve_asset, &self->assets[i]);
    }
    for (size_t i = 0; i < API_OP_COUNT; i++) {
        self->routes[i] = (api_route_t){self, &API_OPS[i]};
        rc |= http_route(http, API_OPS[i].path, api_query, &self->routes[i]);
    }
    rc |= http_route(http, "/api/status", api_status, self);
    rc |= http_route(http, "/api/burnup", api_burnup, self);
    rc |= http_route(http, "/api/events", api_events, self);
    if (rc != 0) {
        snprintf(err, errlen, "dashboard: cannot register its paths (taken, or too many)");
        dashboard_destroy(&self);
        return NULL;
    }
    self->feed = zactor_new(feed_actor, self);
    if (!self->feed) {
        snprintf(err, errlen, "dashboard: cannot start its event thread (subscribing to %s)",
                 args->publish_endpoint);
        dashboard_destroy(&self);
        return NULL;
    }
    return self;
oom:
    snprintf(err, errlen, "dashboard: out of memory");
    dashboard_destroy(&self);
    return NULL;
}

void
dashboard_destroy(dashboard_t **self_p)
{
    dashboard_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->feed);
    zsock_destroy(&self->dealer);
    http_hub_destroy(&self->hub);
    free(self->publish_endpoint);
    free(self->query_endpoint);
    free(self->host);
    free(self->assets);
    free(self);
    *self_p = NULL;
}
