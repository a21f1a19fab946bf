/*  alert_query: see alert_query.h. Records are stored as the msgpack the
    subscribers receive, and spliced into the replies as they are. */

#include "daemon/alert_query.h"

#include "daemon/alerter.h"
#include "daemon/outbox.h"
#include "projections/alertcfg.h"
#include "projections/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERTS_DEFAULT 1000
#define ALERTS_MAX     10000
#define ACTIVE_MAX     100000
#define PREFIXES_MAX   64

typedef struct {
    const char *ptr[PREFIXES_MAX];
    size_t len[PREFIXES_MAX];
    size_t n;
} prefixes_t;

/* A stored record's value by key, nil taken as absent. */
static const msgpack_object *
get(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = wire_map_get(map, key);
    return v && v->type != MSGPACK_OBJECT_NIL ? v : NULL;
}

/* The request fields (events/wire.h's readers). alerts_active takes a
   limit of 0 as the default, as it always has. */
static const wire_field_t f_now = {.name = "now", .type = WIRE_FIELD_U64};
static const wire_field_t f_from = {.name = "from", .type = WIRE_FIELD_U64, .def = 1};
static const wire_field_t f_to = {.name = "to", .type = WIRE_FIELD_U64}; /* absent: no end */
static const wire_field_t f_limit = {
    .name = "limit", .type = WIRE_FIELD_U64, .min = 1, .def = ALERTS_DEFAULT};
static const wire_field_t f_active_limit = {
    .name = "limit", .type = WIRE_FIELD_U64, .def = ALERTS_DEFAULT};
static const wire_field_t f_prefix = {
    .name = "prefix", .type = WIRE_FIELD_STRS, .max = PREFIXES_MAX};
static const wire_field_t f_severity = {.name = "severity", .type = WIRE_FIELD_STR};

const wire_field_t *const alert_query_alerts_fields[] = {&f_now,   &f_from,   &f_to,
                                                         &f_limit, &f_prefix, NULL};
const wire_field_t *const alert_query_active_fields[] = {&f_now, &f_active_limit, &f_prefix,
                                                         &f_severity, NULL};
const wire_field_t *const alert_query_silences_fields[] = {&f_now, NULL};

static int
get_prefixes(const msgpack_object *body, prefixes_t *p, char *msg, size_t msglen)
{
    p->n = 0;
    const msgpack_object *o;
    int rc = wire_req_obj(body, &f_prefix, &o, msg, msglen);
    if (rc <= 0)
        return rc;
    if (o->type == MSGPACK_OBJECT_STR) {
        p->ptr[0] = o->via.str.ptr;
        p->len[0] = o->via.str.size;
        p->n = 1;
        return 1;
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) { /* strings, at most PREFIXES_MAX */
        p->ptr[p->n] = o->via.array.ptr[i].via.str.ptr;
        p->len[p->n++] = o->via.array.ptr[i].via.str.size;
    }
    return 1;
}

/* The request's `now`, else the daemon's alert clock; -1 with msg. */
static int
get_now(const wire_request_t *req, int64_t *now, char *msg, size_t msglen)
{
    uint64_t at;
    int rc = wire_req_u64(req->body, &f_now, &at, msg, msglen);
    if (rc > 0)
        *now = (int64_t)at;
    return rc;
}

static bool
matches(const prefixes_t *p, const char *topic, size_t len)
{
    if (!p->n)
        return true;
    for (size_t i = 0; i < p->n; i++)
        if (p->len[i] <= len && memcmp(topic, p->ptr[i], p->len[i]) == 0)
            return true;
    return false;
}

typedef struct {
    const prefixes_t *prefixes;
    const void **rec;
    size_t *len;
    size_t n, limit;
    uint64_t last_seen;
} collect_t;

static int
collect(void *arg, uint64_t aseq, const char *topic, size_t topic_len, const void *rec,
        size_t rec_len)
{
    collect_t *c = arg;
    if (c->n == c->limit)
        return 1;
    c->last_seen = aseq;
    if (matches(c->prefixes, topic, topic_len)) {
        c->rec[c->n] = rec;
        c->len[c->n++] = rec_len;
    }
    return 0;
}

void
alert_query_alerts(store_t *store, projector_t *projector, const wire_request_t *req,
                   msgpack_packer *pk, msgpack_sbuffer *out, int64_t now)
{
    (void)projector; /* the outbox alone */
    char msg[256];
    uint64_t from, to, limit;
    prefixes_t prefixes;
    int has_to;
    if (get_now(req, &now, msg, sizeof msg) < 0 ||
        wire_req_u64(req->body, &f_from, &from, msg, sizeof msg) < 0 ||
        (has_to = wire_req_u64(req->body, &f_to, &to, msg, sizeof msg)) < 0 ||
        wire_req_u64(req->body, &f_limit, &limit, msg, sizeof msg) < 0 ||
        get_prefixes(req->body, &prefixes, msg, sizeof msg) < 0) {
        wire_reply_error(pk, req->corr, WIRE_BAD_REQUEST, msg);
        return;
    }
    if (!has_to)
        to = UINT64_MAX;
    if (from == 0)
        from = 1;
    if (limit > ALERTS_MAX)
        limit = ALERTS_MAX;
    store_reader_t *r = store_read_begin(store, msg, sizeof msg);
    if (!r) {
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, msg);
        return;
    }
    uint64_t last;
    if (outbox_reader_last_aseq(r, &last, msg, sizeof msg) != STORE_OK) {
        store_read_end(&r);
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, msg);
        return;
    }
    uint64_t end = to < last ? to : last;
    collect_t c = {
        &prefixes, calloc(limit, sizeof(void *)), calloc(limit, sizeof(size_t)), 0, limit, 0};
    if (!c.rec || !c.len) {
        free(c.rec);
        free(c.len);
        store_read_end(&r);
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, "out of memory");
        return;
    }
    int rc = from <= end ? outbox_walk(r, from, end, collect, &c, msg, sizeof msg) : STORE_OK;
    if (rc != STORE_OK)
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, msg);
    else {
        /* next: past the last alert looked at when the page filled up,
           past the end otherwise */
        uint64_t next = c.n == limit ? c.last_seen + 1 : (end >= from ? end + 1 : from);
        wire_reply_begin(pk, req->corr, true, 4);
        wire_pack_str(pk, "epoch");
        msgpack_pack_uint64(pk, outbox_epoch());
        wire_pack_str(pk, "alerts");
        msgpack_pack_array(pk, c.n);
        for (size_t i = 0; i < c.n; i++)
            msgpack_sbuffer_write(out, c.rec[i], c.len[i]);
        wire_pack_str(pk, "next");
        msgpack_pack_uint64(pk, next);
        wire_pack_str(pk, "last_aseq");
        msgpack_pack_uint64(pk, last);
    }
    free(c.rec);
    free(c.len);
    store_read_end(&r);
}

static const char *const SEVERITY_NAMES[] = {"info", "warning", "critical"};

/* 0 info, 1 warning, 2 critical; -1 for anything else. */
static int
severity_rank_str(const char *s, size_t len)
{
    for (int i = 0; i < 3; i++)
        if (len == strlen(SEVERITY_NAMES[i]) && memcmp(s, SEVERITY_NAMES[i], len) == 0)
            return i;
    return -1;
}

/* A stored record's severity. */
static int
severity_rank(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_STR ? severity_rank_str(o->via.str.ptr, o->via.str.size)
                                              : -1;
}

/* The severity of lag rule `rule` (its class's), or -1. */
static int
lag_severity(const msgpack_object *rule)
{
    if (!rule || rule->type != MSGPACK_OBJECT_STR)
        return -1;
    for (int i = 0; RULES[i]; i++)
        if (rule->via.str.size == strlen(RULES[i]->name) &&
            memcmp(rule->via.str.ptr, RULES[i]->name, rule->via.str.size) == 0)
            return RULES[i]->severity >= 0 && RULES[i]->severity <= 2 ? RULES[i]->severity : -1;
    return -1;
}

typedef struct {
    store_reader_t *r;
    const prefixes_t *prefixes;
    int min_severity;
    const alertcfg_t *cfg;
    int64_t now;
    msgpack_sbuffer body; /* the packed entries */
    msgpack_packer pk;
    size_t n, total, limit;
    int rc;
    char err[256];
} active_t;

static bool
str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static int
active_one(void *arg, const char *key, size_t key_len, const void *val, size_t val_len)
{
    active_t *a = arg;
    msgpack_unpacked st, rec;
    msgpack_unpacked_init(&st);
    msgpack_unpacked_init(&rec);
    size_t off = 0;
    /* bytes from disk: scanned first (see alerter.c's load_one) */
    if (!mp_scan(val, val_len, 16) ||
        msgpack_unpack_next(&st, val, val_len, &off) != MSGPACK_UNPACK_SUCCESS ||
        !str_is(get(&st.data, "state"), "firing"))
        goto done;
    const msgpack_object *aseq = get(&st.data, "aseq");
    const char *topic = NULL;
    size_t topic_len = 0;
    const void *r;
    size_t rl;
    bool have = aseq && aseq->type == MSGPACK_OBJECT_POSITIVE_INTEGER && aseq->via.u64 &&
                outbox_get(a->r, aseq->via.u64, &topic, &topic_len, &r, &rl, a->err,
                           sizeof a->err) == STORE_OK;
    off = 0;
    if (have && msgpack_unpack_next(&rec, r, rl, &off) != MSGPACK_UNPACK_SUCCESS)
        have = false;
    const msgpack_object *st_topic = get(&st.data, "topic");
    if (!have && st_topic && st_topic->type == MSGPACK_OBJECT_STR) {
        topic = st_topic->via.str.ptr;
        topic_len = st_topic->via.str.size;
    }
    /* An alert silenced since it started has no record yet. An anomaly
       flag held so keeps its record's body and severity in its state
       (daemon/alerter.c); a lag alert's severity is its rule's. */
    const msgpack_object *held = get(&st.data, "held"), *held_sev = get(&st.data, "severity");
    if (held && (!alerter_held_body_ok(held) || severity_rank(held_sev) < 0))
        held = NULL;
    int unpublished_rank = held ? severity_rank(held_sev) : lag_severity(get(&st.data, "rule"));
    if (have && (!matches(a->prefixes, topic, topic_len) ||
                 severity_rank(get(&rec.data, "severity")) < a->min_severity))
        goto done;
    if (!have && (!matches(a->prefixes, topic ? topic : "", topic_len) ||
                  unpublished_rank < a->min_severity))
        goto done;
    a->total++;
    if (a->n == a->limit)
        goto done;
    a->n++;
    char k[512], t[704];
    snprintf(k, sizeof k, "%.*s", (int)key_len, key);
    snprintf(t, sizeof t, "%.*s", (int)topic_len, topic ? topic : "");
    const silence_t *sil = a->cfg ? alertcfg_silenced(a->cfg, k, t, a->now) : NULL;
    const msgpack_object *flag = get(&st.data, "silenced");
    bool silenced = (flag && flag->type == MSGPACK_OBJECT_BOOLEAN && flag->via.boolean) || sil;
    msgpack_packer *pk = &a->pk;
    uint32_t kept = 0;
    if (have)
        for (uint32_t i = 0; i < rec.data.via.map.size; i++)
            if (!str_is(&rec.data.via.map.ptr[i].key, "silenced"))
                kept++;
    msgpack_pack_map(pk, (have ? kept : 8 + (held ? held->via.map.size : 1)) + 3);
    if (have) {
        for (uint32_t i = 0; i < rec.data.via.map.size; i++)
            if (!str_is(&rec.data.via.map.ptr[i].key, "silenced")) {
                msgpack_pack_object(pk, rec.data.via.map.ptr[i].key);
                msgpack_pack_object(pk, rec.data.via.map.ptr[i].val);
            }
    } else {
        wire_pack_str(pk, "key");
        msgpack_pack_str_with_body(pk, key, key_len);
        wire_pack_str(pk, "rule");
        const msgpack_object *rule = get(&st.data, "rule");
        const char *slash = key_len > 8 ? memchr(key + 8, '/', key_len - 8) : NULL;
        if (held && slash) /* as its record will say: anomaly/<detector> */
            msgpack_pack_str_with_body(pk, key, (size_t)(slash - key));
        else if (rule)
            msgpack_pack_object(pk, *rule);
        else
            msgpack_pack_nil(pk);
        wire_pack_str(pk, "state");
        wire_pack_str(pk, "firing");
        wire_pack_str(pk, "topic");
        msgpack_pack_str_with_body(pk, topic ? topic : "", topic_len);
        /* aseq 0: no record published; at: when it started */
        const msgpack_object *since = get(&st.data, "since");
        int64_t since_ms = since && (since->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                                     since->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                               ? since->via.i64
                               : 0;
        wire_pack_str(pk, "since");
        msgpack_pack_int64(pk, since_ms);
        wire_pack_str(pk, "at");
        msgpack_pack_int64(pk, since_ms);
        wire_pack_str(pk, "aseq");
        msgpack_pack_uint64(pk, 0);
        wire_pack_str(pk, "severity");
        wire_pack_str(pk, SEVERITY_NAMES[unpublished_rank >= 0 ? unpublished_rank : 1]);
        if (held)
            for (uint32_t i = 0; i < held->via.map.size; i++) {
                msgpack_pack_object(pk, held->via.map.ptr[i].key);
                msgpack_pack_object(pk, held->via.map.ptr[i].val);
            }
        else {
            /* a lag alert's state keeps the sentence it had when it fired */
            const msgpack_object *said = get(&st.data, "summary");
            char summary[1200];
            if (said && said->type == MSGPACK_OBJECT_STR)
                snprintf(summary, sizeof summary,
                         "%.*s (fired while silenced: published if it still holds when the "
                         "silence ends)",
                         (int)(said->via.str.size < 1024 ? said->via.str.size : 1024),
                         said->via.str.ptr);
            else
                snprintf(summary, sizeof summary,
                         "fired while silenced: its record is published if it still holds when "
                         "the silence ends");
            wire_pack_str(pk, "summary");
            wire_pack_str(pk, summary);
        }
    }
    wire_pack_str(pk, "silenced");
    if (silenced)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    wire_pack_str(pk, "silenced_by");
    if (sil)
        wire_pack_str(pk, sil->alert);
    else
        msgpack_pack_nil(pk);
    wire_pack_str(pk, "silenced_until");
    if (sil && sil->until)
        msgpack_pack_int64(pk, sil->until);
    else
        msgpack_pack_nil(pk);
done:
    msgpack_unpacked_destroy(&st);
    msgpack_unpacked_destroy(&rec);
    return 0;
}

void
alert_query_active(store_t *store, projector_t *projector, const wire_request_t *req,
                   msgpack_packer *pk, msgpack_sbuffer *out, int64_t now)
{
    char msg[256];
    uint64_t limit;
    prefixes_t prefixes;
    const char *sev;
    size_t sev_len;
    int has_sev;
    if (get_now(req, &now, msg, sizeof msg) < 0 ||
        wire_req_u64(req->body, &f_active_limit, &limit, msg, sizeof msg) < 0 ||
        get_prefixes(req->body, &prefixes, msg, sizeof msg) < 0 ||
        (has_sev = wire_req_str(req->body, &f_severity, &sev, &sev_len, msg, sizeof msg)) < 0) {
        wire_reply_error(pk, req->corr, WIRE_BAD_REQUEST, msg);
        return;
    }
    int min_severity = 0;
    if (has_sev && (min_severity = severity_rank_str(sev, sev_len)) < 0) {
        wire_req_expected("severity", "info, warning or critical", msg, sizeof msg);
        wire_reply_error(pk, req->corr, WIRE_BAD_REQUEST, msg);
        return;
    }
    if (limit == 0 || limit > ACTIVE_MAX)
        limit = limit ? ACTIVE_MAX : ALERTS_DEFAULT;
    store_reader_t *r = store_read_begin(store, msg, sizeof msg);
    if (!r) {
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, msg);
        return;
    }
    active_t a = {
        .r = r, .prefixes = &prefixes, .min_severity = min_severity, .now = now, .limit = limit};
    msgpack_sbuffer_init(&a.body);
    msgpack_packer_init(&a.pk, &a.body, msgpack_sbuffer_write);
    projector_read_lock(projector);
    a.cfg = foldset_alertcfg(projector_folds(projector));
    int rc = outbox_scan_states(r, active_one, &a, msg, sizeof msg);
    projector_unlock(projector);
    uint64_t last = 0;
    if (rc == STORE_OK)
        rc = outbox_reader_last_aseq(r, &last, msg, sizeof msg);
    store_read_end(&r);
    if (rc != STORE_OK)
        wire_reply_error(pk, req->corr, WIRE_INTERNAL, msg);
    else {
        wire_reply_begin(pk, req->corr, true, 3);
        wire_pack_str(pk, "alerts");
        msgpack_pack_array(pk, a.n);
        msgpack_sbuffer_write(out, a.body.data, a.body.size);
        wire_pack_str(pk, "total");
        msgpack_pack_uint64(pk, a.total);
        wire_pack_str(pk, "last_aseq");
        msgpack_pack_uint64(pk, last);
    }
    msgpack_sbuffer_destroy(&a.body);
}

void
alert_query_silences(store_t *store, projector_t *projector, const wire_request_t *req,
                     msgpack_packer *pk, msgpack_sbuffer *out, int64_t now)
{
    (void)store; /* the alert settings fold alone */
    (void)out;
    char msg[128];
    if (get_now(req, &now, msg, sizeof msg) < 0) {
        wire_reply_error(pk, req->corr, WIRE_BAD_REQUEST, msg);
        return;
    }
    projector_read_lock(projector);
    size_t n;
    const silence_t *s = alertcfg_silences(foldset_alertcfg(projector_folds(projector)), &n);
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += !s[i].until || s[i].until > now;
    wire_reply_begin(pk, req->corr, true, 1);
    wire_pack_str(pk, "silences");
    msgpack_pack_array(pk, live);
    for (size_t i = 0; i < n; i++) {
        if (s[i].until && s[i].until <= now)
            continue;
        msgpack_pack_map(pk, 5);
        wire_pack_str(pk, "alert");
        wire_pack_str(pk, s[i].alert);
        wire_pack_str(pk, "author");
        wire_pack_str(pk, s[i].author);
        wire_pack_str(pk, "reason");
        wire_pack_str(pk, s[i].reason);
        wire_pack_str(pk, "until");
        if (s[i].until)
            msgpack_pack_int64(pk, s[i].until);
        else
            msgpack_pack_nil(pk);
        wire_pack_str(pk, "seq");
        msgpack_pack_uint64(pk, s[i].seq);
    }
    projector_unlock(projector);
}
