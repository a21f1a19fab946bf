/*  Unit tests for clients/libpacer_sub and clients/libpacer_alert, against a
    fake daemon.

    The fake is what pacerd looks like to a subscriber (docs/PROTOCOL.md,
    "Alerts"): an XPUB that publishes alert records and heartbeats, and a
    ROUTER that answers the `alerts` query from the records it holds, with
    `from`, `to`, `prefix` and `limit` as the protocol says. The test drives
    both sides from one thread: pump() alternates serving the fake (without
    blocking) and pacer_sub_recv with a short wait, so every scenario is
    deterministic: which alerts are published, dropped, duplicated, held
    back, or only announced by a heartbeat, and when the fake "restarts"
    (closes both sockets and binds them again on the same ports).

    The XPUB lets the test wait until the subscriber's subscriptions have
    arrived before publishing, so "live" means live and not lost to the
    slow-joiner window. Each scenario ends by checking that the subscriber
    handed over exactly the expected aseqs, in order, each once. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <pthread.h>
#include <zmq.h>

#include "clients/libpacer.h"
#include "clients/libpacer_alert.h"
#include "clients/libpacer_sub.h"

#define MAX_ALERTS 2048

typedef struct {
    char *bytes;
    size_t size;
    char topic[128];
} record_t;

typedef struct {
    void *ctx;
    void *xpub;
    void *router;
    char pub_ep[128];
    char query_ep[128];
    record_t records[MAX_ALERTS + 1]; /* by aseq, from 1 */
    uint64_t last;
    int subscriptions; /* subscribe messages the XPUB has seen */
    bool mute;         /* drop queries instead of answering */
    bool refuse;       /* answer queries ok: false */
    int dropped;       /* queries dropped while mute */
    int queries;
    uint64_t last_from;
    int last_prefixes; /* prefixes in the last query, -1: none */
    char last_prefix[128];
    uint64_t epoch; /* the outbox epoch heartbeats and replies carry; 0: none (an old pacerd) */
} fake_t;

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
bind_socket(void *ctx, int type, const char *endpoint, char *out, size_t outlen)
{
    void *socket = zmq_socket(ctx, type);
    int linger = 0, verbose = 1, hwm = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (type == ZMQ_XPUB)
        zmq_setsockopt(socket, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose);
    /* After a restart the port may take a moment to be free again. */
    int64_t deadline = mono_ms() + 5000;
    while (zmq_bind(socket, endpoint) != 0) {
        assert_true(mono_ms() < deadline);
        usleep(10000);
    }
    if (out) {
        size_t len = outlen;
        assert_int_equal(zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, out, &len), 0);
    }
    return socket;
}

static int
fake_setup(void **state)
{
    fake_t *fake = calloc(1, sizeof *fake);
    fake->ctx = zmq_ctx_new();
    fake->xpub =
        bind_socket(fake->ctx, ZMQ_XPUB, "tcp://127.0.0.1:*", fake->pub_ep, sizeof fake->pub_ep);
    fake->router = bind_socket(fake->ctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", fake->query_ep,
                               sizeof fake->query_ep);
    fake->last_prefixes = -1;
    *state = fake;
    return 0;
}

static int
fake_teardown(void **state)
{
    fake_t *fake = *state;
    zmq_close(fake->xpub);
    zmq_close(fake->router);
    zmq_ctx_term(fake->ctx);
    for (uint64_t i = 1; i <= fake->last; i++)
        free(fake->records[i].bytes);
    free(fake);
    return 0;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Raise the next alert on `topic` ("alert/<rule>/<path>/"); not published. */
static uint64_t
fake_raise(fake_t *fake, const char *topic)
{
    assert_true(fake->last < MAX_ALERTS);
    uint64_t aseq = ++fake->last;
    record_t *r = &fake->records[aseq];
    snprintf(r->topic, sizeof r->topic, "%s", topic);
    char rule[64] = "", path[128] = "", key[256], summary[256];
    sscanf(topic, "alert/%63[^/]/%127s", rule, path);
    size_t plen = strlen(path);
    if (plen && path[plen - 1] == '/')
        path[plen - 1] = '\0';
    snprintf(key, sizeof key, "%s/%s/revenue/2026-11", rule, path);
    snprintf(summary, sizeof summary, "%s revenue 2026-11: alert %llu", path,
             (unsigned long long)aseq);

    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 14);
    pack_str(&pk, "aseq");
    msgpack_pack_uint64(&pk, aseq);
    pack_str(&pk, "key");
    pack_str(&pk, key);
    pack_str(&pk, "topic");
    pack_str(&pk, topic);
    pack_str(&pk, "rule");
    pack_str(&pk, rule);
    pack_str(&pk, "state");
    pack_str(&pk, aseq % 3 == 0 ? "resolved" : "firing");
    pack_str(&pk, "severity");
    pack_str(&pk, "critical");
    pack_str(&pk, "at");
    msgpack_pack_int64(&pk, 1795000000000 + (int64_t)aseq * 60000);
    pack_str(&pk, "since");
    msgpack_pack_int64(&pk, 1795000000000);
    pack_str(&pk, "path");
    pack_str(&pk, path);
    pack_str(&pk, "product_line");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "notify");
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, "rep-42");
    pack_str(&pk, "li.wei");
    pack_str(&pk, "summary");
    pack_str(&pk, summary);
    pack_str(&pk, "values");
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "pace_ratio");
    msgpack_pack_double(&pk, 0.65);
    pack_str(&pk, "log_seq");
    msgpack_pack_uint64(&pk, 1000 + aseq);
    r->size = buf.size;
    r->bytes = msgpack_sbuffer_release(&buf);
    return aseq;
}

static void
fake_publish_bytes(fake_t *fake, const char *topic, const void *bytes, size_t size)
{
    assert_int_equal(zmq_send(fake->xpub, topic, strlen(topic), ZMQ_SNDMORE), (int)strlen(topic));
    assert_int_equal(zmq_send(fake->xpub, bytes, size, 0), (int)size);
}

static void
fake_publish(fake_t *fake, uint64_t aseq)
{
    record_t *r = &fake->records[aseq];
    fake_publish_bytes(fake, r->topic, r->bytes, r->size);
}

/* Raise and publish. */
static uint64_t
fake_send(fake_t *fake, const char *topic)
{
    uint64_t aseq = fake_raise(fake, topic);
    fake_publish(fake, aseq);
    return aseq;
}

static void
fake_heartbeat(fake_t *fake)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, fake->epoch ? 4 : 3);
    if (fake->epoch) {
        pack_str(&pk, "epoch");
        msgpack_pack_uint64(&pk, fake->epoch);
    }
    pack_str(&pk, "aseq");
    msgpack_pack_uint64(&pk, fake->last);
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, 7);
    pack_str(&pk, "at");
    msgpack_pack_int64(&pk, 1795000000000);
    fake_publish_bytes(fake, "heartbeat/", buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
}

static const msgpack_object *
map_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
            return &kv->val;
    }
    return NULL;
}

static bool
topic_matches(const char *topic, const msgpack_object *prefix)
{
    if (!prefix)
        return true;
    if (prefix->type == MSGPACK_OBJECT_STR)
        return strncmp(topic, prefix->via.str.ptr, prefix->via.str.size) == 0;
    for (uint32_t i = 0; i < prefix->via.array.size; i++) {
        const msgpack_object *p = &prefix->via.array.ptr[i];
        if (strncmp(topic, p->via.str.ptr, p->via.str.size) == 0)
            return true;
    }
    return false;
}

/* Answer one `alerts` request as PROTOCOL.md says. */
static void
fake_answer(fake_t *fake, zmq_msg_t *identity, const msgpack_object *request)
{
    const msgpack_object *corr = map_get(request, "corr");
    const msgpack_object *op = map_get(request, "op");
    const msgpack_object *from_o = map_get(request, "from");
    const msgpack_object *to_o = map_get(request, "to");
    const msgpack_object *limit_o = map_get(request, "limit");
    const msgpack_object *prefix = map_get(request, "prefix");
    assert_non_null(corr);
    assert_non_null(op);
    assert_int_equal(map_get(request, "v")->via.u64, 1);
    fake->queries++;
    uint64_t from = from_o ? from_o->via.u64 : 1;
    if (from == 0)
        from = 1;
    uint64_t to = to_o && to_o->via.u64 < fake->last ? to_o->via.u64 : fake->last;
    uint64_t limit = limit_o ? limit_o->via.u64 : 1000;
    fake->last_from = from;
    fake->last_prefixes = prefix ? (int)prefix->via.array.size : -1;
    if (prefix && prefix->type == MSGPACK_OBJECT_ARRAY && prefix->via.array.size > 0)
        snprintf(fake->last_prefix, sizeof fake->last_prefix, "%.*s",
                 (int)prefix->via.array.ptr[0].via.str.size, prefix->via.array.ptr[0].via.str.ptr);

    msgpack_sbuffer records;
    msgpack_sbuffer_init(&records);
    uint32_t count = 0;
    uint64_t next = to + 1;
    for (uint64_t a = from; a <= to; a++) {
        if (!topic_matches(fake->records[a].topic, prefix))
            continue;
        msgpack_sbuffer_write(&records, fake->records[a].bytes, fake->records[a].size);
        if (++count == limit) {
            next = a + 1;
            break;
        }
    }
    msgpack_sbuffer reply;
    msgpack_sbuffer_init(&reply);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &reply, msgpack_sbuffer_write);
    bool ok = !fake->refuse && op->via.str.size == 6 && memcmp(op->via.str.ptr, "alerts", 6) == 0;
    msgpack_pack_map(&pk, ok ? 6 + (fake->epoch != 0) : 5);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "corr");
    msgpack_pack_object(&pk, *corr);
    pack_str(&pk, "ok");
    if (ok) {
        msgpack_pack_true(&pk);
        pack_str(&pk, "alerts");
        msgpack_pack_array(&pk, count);
        msgpack_sbuffer_write(&reply, records.data, records.size);
        pack_str(&pk, "next");
        msgpack_pack_uint64(&pk, next);
        pack_str(&pk, "last_aseq");
        msgpack_pack_uint64(&pk, fake->last);
        if (fake->epoch) {
            pack_str(&pk, "epoch");
            msgpack_pack_uint64(&pk, fake->epoch);
        }
    } else {
        msgpack_pack_false(&pk);
        pack_str(&pk, "error");
        pack_str(&pk, "unknown_op");
        pack_str(&pk, "message");
        pack_str(&pk, "no such operation");
    }
    zmq_msg_send(identity, fake->router, ZMQ_SNDMORE);
    zmq_send(fake->router, "", 0, ZMQ_SNDMORE);
    zmq_send(fake->router, reply.data, reply.size, 0);
    msgpack_sbuffer_destroy(&reply);
    msgpack_sbuffer_destroy(&records);
}

/* Take what is waiting on both sockets, without blocking. */
static void
fake_service(fake_t *fake)
{
    for (;;) {
        char buf[600];
        int n = zmq_recv(fake->xpub, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
            break;
        if (n > 0 && buf[0] == 1)
            fake->subscriptions++;
    }
    for (;;) {
        zmq_msg_t identity, delimiter, body;
        zmq_msg_init(&identity);
        if (zmq_msg_recv(&identity, fake->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&identity);
            break;
        }
        zmq_msg_init(&delimiter);
        zmq_msg_init(&body);
        assert_int_equal(zmq_msg_recv(&delimiter, fake->router, 0), 0);
        assert_true(zmq_msg_recv(&body, fake->router, 0) > 0);
        if (fake->mute)
            fake->dropped++;
        else {
            msgpack_unpacked unpacked;
            msgpack_unpacked_init(&unpacked);
            size_t off = 0;
            assert_int_equal(
                msgpack_unpack_next(&unpacked, zmq_msg_data(&body), zmq_msg_size(&body), &off),
                MSGPACK_UNPACK_SUCCESS);
            fake_answer(fake, &identity, &unpacked.data);
            msgpack_unpacked_destroy(&unpacked);
        }
        zmq_msg_close(&identity);
        zmq_msg_close(&delimiter);
        zmq_msg_close(&body);
    }
}

/* Close both sockets (in-flight requests and unsent messages are lost) and
   bind new ones on the same endpoints, as a restarted pacerd would. */
static void
fake_restart_down(fake_t *fake)
{
    zmq_close(fake->xpub);
    zmq_close(fake->router);
    fake->xpub = fake->router = NULL;
    fake->subscriptions = 0;
}

static void
fake_restart_up(fake_t *fake)
{
    fake->xpub = bind_socket(fake->ctx, ZMQ_XPUB, fake->pub_ep, NULL, 0);
    fake->router = bind_socket(fake->ctx, ZMQ_ROUTER, fake->query_ep, NULL, 0);
}

/* The state directory replaced while down (a restore, a new installation):
   a new outbox with a new epoch and no alerts yet. */
static void
fake_replace(fake_t *fake, uint64_t epoch)
{
    for (uint64_t i = 1; i <= fake->last; i++) {
        free(fake->records[i].bytes);
        fake->records[i].bytes = NULL;
    }
    fake->last = 0;
    fake->epoch = epoch;
}

/* ---- the subscriber side ------------------------------------------------------------ */

typedef struct {
    uint64_t aseqs[MAX_ALERTS];
    size_t count;
    int timeouts; /* PACER_ETIMEOUT returns seen */
    int refused;
} got_t;

static pacer_sub_t *
sub_new(fake_t *fake, uint64_t cursor)
{
    pacer_sub_t *sub = pacer_sub_new(fake->pub_ep, fake->query_ep);
    assert_non_null(sub);
    if (cursor != PACER_SUB_NOW)
        assert_int_equal(pacer_sub_set_cursor(sub, cursor), PACER_OK);
    pacer_sub_set_query_timeout(sub, 300);
    return sub;
}

/* Serve the fake and receive until `want` more alerts arrived (or, with
   want 0, for `ms` milliseconds). Fails after 10 s. */
static void
pump_for(pacer_sub_t *sub, fake_t *fake, got_t *got, size_t want, int ms)
{
    size_t target = got->count + want;
    int64_t end = mono_ms() + (want ? 10000 : ms);
    while (mono_ms() < end && (want == 0 || got->count < target)) {
        if (fake->xpub)
            fake_service(fake);
        pacer_alert_t *alert = NULL;
        int rc = pacer_sub_recv(sub, &alert, 5);
        if (rc == PACER_OK) {
            assert_true(got->count < MAX_ALERTS);
            assert_int_equal(alert->aseq, alert->aseq); /* decoded */
            got->aseqs[got->count++] = alert->aseq;
            pacer_alert_destroy(&alert);
        } else if (rc == PACER_ETIMEOUT)
            got->timeouts++;
        else if (rc == PACER_EREFUSED)
            got->refused++;
        else if (rc != PACER_EAGAIN)
            fail_msg("pacer_sub_recv: %s: %s", pacer_strerror(rc), pacer_sub_error(sub));
    }
    if (want)
        assert_int_equal(got->count, target);
}

static void
pump(pacer_sub_t *sub, fake_t *fake, got_t *got, size_t want)
{
    pump_for(sub, fake, got, want, 0);
}

/* Pump until the fake has seen `n` subscriptions (heartbeat/ and each
   prefix), so that what it publishes next reaches the subscriber. */
static void
wait_subscribed(pacer_sub_t *sub, fake_t *fake, got_t *got, int n)
{
    int64_t end = mono_ms() + 10000;
    while (fake->subscriptions < n) {
        assert_true(mono_ms() < end);
        pump_for(sub, fake, got, 0, 5);
    }
}

/* Pump until the subscriber's cursor reaches `cursor` and it is idle. */
static void
wait_cursor(pacer_sub_t *sub, fake_t *fake, got_t *got, uint64_t cursor)
{
    int64_t end = mono_ms() + 10000;
    while (pacer_sub_cursor(sub) != cursor) {
        assert_true(mono_ms() < end);
        pump_for(sub, fake, got, 0, 5);
    }
}

static void
assert_exactly(const got_t *got, uint64_t first, uint64_t last)
{
    assert_int_equal(got->count, last - first + 1);
    for (size_t i = 0; i < got->count; i++)
        assert_int_equal(got->aseqs[i], first + i);
}

/* ---- scenarios -------------------------------------------------------------------------- */

static void
test_late_join_reads_history_then_live(void **state)
{
    fake_t *fake = *state;
    for (int i = 0; i < 5; i++)
        fake_raise(fake, "alert/behind/acme/east/");
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    pump(sub, fake, &got, 5);
    assert_int_equal(fake->last_from, 1);
    assert_int_equal(fake->last_prefixes, -1); /* "alert/": no prefix needed */
    wait_subscribed(sub, fake, &got, 2);
    for (int i = 0; i < 3; i++)
        fake_send(fake, "alert/behind/acme/east/");
    pump(sub, fake, &got, 3);
    pump_for(sub, fake, &got, 0, 50);
    assert_exactly(&got, 1, 8);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_int_equal(stats.fetched, 5);
    assert_int_equal(stats.live, 3);
    assert_int_equal(stats.delivered, 8);
    assert_int_equal(pacer_sub_cursor(sub), 8);
    pacer_sub_destroy(&sub);
    assert_null(sub);
}

static void
test_dropped_messages_are_fetched(void **state)
{
    fake_t *fake = *state;
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 0);
    fake_send(fake, "alert/behind/acme/east/");
    fake_send(fake, "alert/behind/acme/east/");
    fake_raise(fake, "alert/behind/acme/east/"); /* dropped */
    fake_raise(fake, "alert/behind/acme/east/"); /* dropped */
    fake_send(fake, "alert/behind/acme/east/");
    pump(sub, fake, &got, 5);
    fake_send(fake, "alert/behind/acme/east/");
    pump(sub, fake, &got, 1);
    pump_for(sub, fake, &got, 0, 50);
    assert_exactly(&got, 1, 6);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_true(stats.gaps >= 1);
    assert_int_equal(stats.live + stats.fetched, 6);
    assert_true(stats.fetched >= 3); /* 3, 4 and the 5 that revealed the gap */
    pacer_sub_destroy(&sub);
}

static void
test_heartbeat_alone_reveals_a_gap(void **state)
{
    fake_t *fake = *state;
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 0);
    fake_send(fake, "alert/at_risk/acme/");
    pump(sub, fake, &got, 1);
    fake_raise(fake, "alert/at_risk/acme/");
    fake_raise(fake, "alert/at_risk/acme/");
    pump_for(sub, fake, &got, 0, 50);
    assert_int_equal(got.count, 1); /* nothing says 2 and 3 exist yet */
    fake_heartbeat(fake);
    pump(sub, fake, &got, 2);
    fake_heartbeat(fake); /* nothing new: no query */
    int queries = fake->queries;
    pump_for(sub, fake, &got, 0, 50);
    assert_int_equal(fake->queries, queries);
    assert_exactly(&got, 1, 3);
    pacer_sub_destroy(&sub);
}

static void
test_duplicates_are_dropped(void **state)
{
    fake_t *fake = *state;
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 0);
    fake_send(fake, "alert/behind/acme/");
    fake_publish(fake, 1);
    fake_send(fake, "alert/behind/acme/");
    fake_publish(fake, 1);
    fake_publish(fake, 2);
    fake_send(fake, "alert/behind/acme/");
    pump(sub, fake, &got, 3);
    pump_for(sub, fake, &got, 0, 50);
    assert_exactly(&got, 1, 3);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_int_equal(stats.duplicates, 3);
    assert_int_equal(stats.live, 3);
    pacer_sub_destroy(&sub);
}

static void
test_daemon_restart_mid_stream(void **state)
{
    fake_t *fake = *state;
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 0);
    fake_send(fake, "alert/behind/acme/");
    fake_send(fake, "alert/behind/acme/");
    pump(sub, fake, &got, 2);

    /* Down: what is raised meanwhile is never published to this subscriber. */
    fake_restart_down(fake);
    fake_raise(fake, "alert/behind/acme/");
    fake_raise(fake, "alert/behind/acme/");
    pump_for(sub, fake, &got, 0, 100);
    fake_restart_up(fake);
    wait_subscribed(sub, fake, &got, 2);
    fake_heartbeat(fake);
    pump(sub, fake, &got, 2);

    /* A query lost with the daemon: it gets no answer, the subscriber gives
       up on it after its timeout, reconnects, and asks again. */
    fake_raise(fake, "alert/behind/acme/");
    fake->mute = true;
    fake_heartbeat(fake);
    int64_t end = mono_ms() + 10000;
    while (fake->dropped == 0) {
        assert_true(mono_ms() < end);
        pump_for(sub, fake, &got, 0, 5);
    }
    fake_restart_down(fake);
    fake->mute = false;
    fake_raise(fake, "alert/behind/acme/");
    pump_for(sub, fake, &got, 0, 50);
    fake_restart_up(fake);
    pump(sub, fake, &got, 2);
    wait_subscribed(sub, fake, &got, 2);
    fake_send(fake, "alert/behind/acme/");
    pump(sub, fake, &got, 1);
    pump_for(sub, fake, &got, 0, 50);
    assert_exactly(&got, 1, 7);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_true(stats.query_failures >= 1);
    pacer_sub_destroy(&sub);
}

static void
test_resume_from_cursor(void **state)
{
    fake_t *fake = *state;
    for (int i = 0; i < 10; i++)
        fake_raise(fake, "alert/behind/acme/");
    pacer_sub_t *sub = sub_new(fake, 6);
    got_t got = {0};
    pump(sub, fake, &got, 4);
    pump_for(sub, fake, &got, 0, 50);
    assert_int_equal(fake->last_from, 7);
    assert_exactly(&got, 7, 10);
    assert_int_equal(pacer_sub_cursor(sub), 10);
    pacer_sub_destroy(&sub);

    /* Resuming at the end: nothing comes again. */
    sub = sub_new(fake, 10);
    got_t again = {0};
    pump_for(sub, fake, &again, 0, 100);
    assert_int_equal(again.count, 0);
    pacer_sub_destroy(&sub);
}

/* pacerd comes back with another outbox (a restore): the cursor counted
   the old one's alerts, so the subscriber starts again from aseq 1 of the
   new one, even though the new outbox's aseqs are below the cursor. */
static void
test_replaced_state_starts_again(void **state)
{
    fake_t *fake = *state;
    fake->epoch = 7;
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    fake_heartbeat(fake);
    wait_cursor(sub, fake, &got, 0);
    for (int i = 0; i < 5; i++)
        fake_send(fake, "alert/behind/acme/");
    pump(sub, fake, &got, 5);
    assert_int_equal(pacer_sub_epoch(sub), 7);

    fake_restart_down(fake);
    fake_replace(fake, 9);
    pump_for(sub, fake, &got, 0, 50);
    fake_restart_up(fake);
    for (int i = 0; i < 3; i++)
        fake_raise(fake, "alert/behind/acme/");
    wait_subscribed(sub, fake, &got, 2);
    fake_heartbeat(fake); /* aseq 3, below the cursor: only the epoch tells */
    pump(sub, fake, &got, 3);
    fake_send(fake, "alert/behind/acme/"); /* 4 of the new outbox, live */
    pump(sub, fake, &got, 1);
    pump_for(sub, fake, &got, 0, 50);
    assert_int_equal(got.count, 9);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(got.aseqs[i], i + 1);
    for (size_t i = 5; i < 9; i++)
        assert_int_equal(got.aseqs[i], i - 4);
    assert_int_equal(pacer_sub_epoch(sub), 9);
    assert_int_equal(pacer_sub_cursor(sub), 4);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_int_equal(stats.epoch_changes, 1);
    pacer_sub_destroy(&sub);
}

/* The state directory restored from an older backup of itself: the same
   epoch, fewer alerts than the cursor counts. The cursor moves back to the
   restored outbox's newest aseq, so the alerts it raises next (numbered
   from there) are handed over, not dropped as duplicates. */
static void
test_restored_older_backup_moves_the_cursor_back(void **state)
{
    fake_t *fake = *state;
    fake->epoch = 7;
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    fake_heartbeat(fake);
    wait_cursor(sub, fake, &got, 0);
    for (int i = 0; i < 6; i++)
        fake_send(fake, "alert/behind/acme/");
    pump(sub, fake, &got, 6);

    fake_restart_down(fake);
    for (uint64_t a = 4; a <= 6; a++) {
        free(fake->records[a].bytes);
        fake->records[a].bytes = NULL;
    }
    fake->last = 3; /* the backup was taken after alert 3 */
    pump_for(sub, fake, &got, 0, 50);
    fake_restart_up(fake);
    wait_subscribed(sub, fake, &got, 2);
    fake_heartbeat(fake);
    wait_cursor(sub, fake, &got, 3);
    fake_send(fake, "alert/behind/acme/"); /* the restored outbox's 4 */
    pump(sub, fake, &got, 1);
    pump_for(sub, fake, &got, 0, 50);
    assert_int_equal(got.count, 7);
    assert_int_equal(got.aseqs[6], 4);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_int_equal(stats.rollbacks, 1);
    assert_int_equal(stats.epoch_changes, 0);
    pacer_sub_destroy(&sub);
}

/* An application resumes with a cursor and epoch persisted against an
   outbox that has since been replaced: the first reply names another
   epoch, and every alert of the new outbox is handed over. With the right
   epoch, resuming is as before. */
static void
test_persisted_epoch_of_another_outbox(void **state)
{
    fake_t *fake = *state;
    fake->epoch = 9;
    for (int i = 0; i < 3; i++)
        fake_raise(fake, "alert/behind/acme/");
    pacer_sub_t *sub = sub_new(fake, 5);
    assert_int_equal(pacer_sub_set_epoch(sub, 7), PACER_OK);
    got_t got = {0};
    pump(sub, fake, &got, 3);
    pump_for(sub, fake, &got, 0, 50);
    assert_exactly(&got, 1, 3);
    assert_int_equal(pacer_sub_epoch(sub), 9);
    assert_int_equal(pacer_sub_set_epoch(sub, 7), PACER_EINVAL); /* started */
    pacer_sub_destroy(&sub);

    sub = sub_new(fake, 2);
    assert_int_equal(pacer_sub_set_epoch(sub, 9), PACER_OK);
    got_t again = {0};
    pump(sub, fake, &again, 1);
    pump_for(sub, fake, &again, 0, 50);
    assert_exactly(&again, 3, 3);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_int_equal(stats.epoch_changes, 0);
    pacer_sub_destroy(&sub);
}

static void
test_prefixes_and_jumps_over_other_alerts(void **state)
{
    fake_t *fake = *state;
    pacer_sub_t *sub = sub_new(fake, 0);
    assert_int_equal(pacer_sub_subscribe(sub, "alert/behind/acme/east/"), PACER_OK);
    assert_int_equal(pacer_sub_subscribe(sub, "behind/acme/"), PACER_EINVAL);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 0);
    assert_int_equal(fake->last_prefixes, 1);
    assert_string_equal(fake->last_prefix, "alert/behind/acme/east/");
    fake_send(fake, "alert/behind/acme/east/t3/rep-42/"); /* 1: ours */
    fake_send(fake, "alert/behind/acme/west/");           /* 2 */
    fake_send(fake, "alert/at_risk/acme/east/");          /* 3 */
    fake_send(fake, "alert/behind/acme/east/");           /* 4: ours, after a jump */
    pump(sub, fake, &got, 2);
    assert_int_equal(got.aseqs[0], 1);
    assert_int_equal(got.aseqs[1], 4);
    fake_send(fake, "alert/behind/acme/west/"); /* 5 */
    fake_heartbeat(fake);
    wait_cursor(sub, fake, &got, 5);            /* moves past what is not ours */
    fake_send(fake, "alert/behind/acme/east/"); /* 6: live again */
    pump(sub, fake, &got, 1);
    assert_int_equal(got.aseqs[2], 6);
    pump_for(sub, fake, &got, 0, 50);
    assert_int_equal(got.count, 3);
    pacer_sub_destroy(&sub);
}

static void
test_catch_up_pages(void **state)
{
    fake_t *fake = *state;
    for (int i = 0; i < 10; i++)
        fake_raise(fake, "alert/behind/acme/");
    pacer_sub_t *sub = sub_new(fake, 0);
    pacer_sub_set_page_size(sub, 3);
    got_t got = {0};
    pump(sub, fake, &got, 10);
    pump_for(sub, fake, &got, 0, 50);
    assert_exactly(&got, 1, 10);
    assert_int_equal(fake->queries, 4);
    pacer_sub_destroy(&sub);
}

static void
test_now_starts_after_the_newest(void **state)
{
    fake_t *fake = *state;
    for (int i = 0; i < 5; i++)
        fake_raise(fake, "alert/behind/acme/");
    pacer_sub_t *sub = sub_new(fake, PACER_SUB_NOW);
    assert_int_equal(pacer_sub_cursor(sub), PACER_SUB_NOW);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 5);
    fake_send(fake, "alert/behind/acme/");
    pump(sub, fake, &got, 1);
    pump_for(sub, fake, &got, 0, 50);
    assert_exactly(&got, 6, 6);
    pacer_sub_destroy(&sub);
}

static void
test_malformed_live_alert_is_read_again(void **state)
{
    fake_t *fake = *state;
    pacer_sub_t *sub = sub_new(fake, 0);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 0);
    fake_raise(fake, "alert/behind/acme/");
    fake_publish_bytes(fake, "alert/behind/acme/", "\xc1junk", 5);
    fake_publish_bytes(fake, "alert/behind/acme/",
                       "\x81\xa4"
                       "aseq",
                       6); /* truncated */
    fake_heartbeat(fake);
    pump(sub, fake, &got, 1);
    assert_exactly(&got, 1, 1);
    pacer_sub_stats_t stats;
    pacer_sub_stats(sub, &stats);
    assert_int_equal(stats.malformed, 2);
    pacer_sub_destroy(&sub);
}

static void
test_unanswered_and_refused_queries_are_reported(void **state)
{
    fake_t *fake = *state;
    fake->mute = true;
    pacer_sub_t *sub = sub_new(fake, 0);
    pacer_alert_t *alert = NULL;
    int rc;
    int64_t end = mono_ms() + 10000;
    do {
        fake_service(fake);
        rc = pacer_sub_recv(sub, &alert, 100);
        assert_true(mono_ms() < end);
    } while (rc == PACER_EAGAIN);
    assert_int_equal(rc, PACER_ETIMEOUT);
    assert_null(alert);
    assert_non_null(strstr(pacer_sub_error(sub), fake->query_ep));

    fake->mute = false;
    fake->refuse = true;
    end = mono_ms() + 10000;
    do {
        fake_service(fake);
        rc = pacer_sub_recv(sub, &alert, 100);
        assert_true(mono_ms() < end);
    } while (rc != PACER_EREFUSED);
    assert_non_null(strstr(pacer_sub_error(sub), "unknown_op"));

    /* Once answered, it goes on as if nothing happened. */
    fake->refuse = false;
    fake_raise(fake, "alert/behind/acme/");
    got_t got = {0};
    pump(sub, fake, &got, 1);
    assert_exactly(&got, 1, 1);
    assert_int_equal(pacer_sub_set_cursor(sub, 3), PACER_EINVAL);
    assert_int_equal(pacer_sub_subscribe(sub, "alert/x/"), PACER_EINVAL);
    pacer_sub_destroy(&sub);
}

/* Random drops, duplicates, reorderings of old messages and heartbeats over
   600 alerts on two prefixes, one of them ours: still each of ours once, in
   order. */
static void
test_exactly_once_under_random_loss(void **state)
{
    fake_t *fake = *state;
    pacer_sub_t *sub = sub_new(fake, 0);
    assert_int_equal(pacer_sub_subscribe(sub, "alert/behind/"), PACER_OK);
    pacer_sub_set_page_size(sub, 7);
    got_t got = {0};
    wait_subscribed(sub, fake, &got, 2);
    wait_cursor(sub, fake, &got, 0);
    unsigned seed = 12345;
    uint64_t ours[MAX_ALERTS];
    size_t nours = 0;
    for (int i = 0; i < 600; i++) {
        bool mine = rand_r(&seed) % 3 != 0;
        uint64_t aseq = fake_raise(fake, mine ? "alert/behind/acme/" : "alert/at_risk/acme/");
        if (mine)
            ours[nours++] = aseq;
        int dice = rand_r(&seed) % 10;
        if (dice >= 3) /* 30% dropped */
            fake_publish(fake, aseq);
        if (dice == 9) /* a duplicate of an older one */
            fake_publish(fake, 1 + rand_r(&seed) % aseq);
        if (i % 50 == 49)
            fake_heartbeat(fake);
        if (i % 10 == 0)
            pump_for(sub, fake, &got, 0, 2);
    }
    fake_heartbeat(fake);
    pump(sub, fake, &got, nours - got.count);
    pump_for(sub, fake, &got, 0, 50);
    assert_int_equal(got.count, nours);
    for (size_t i = 0; i < nours; i++)
        assert_int_equal(got.aseqs[i], ours[i]);
    assert_int_equal(pacer_sub_cursor(sub), fake->last);
    pacer_sub_destroy(&sub);
}

/* ---- records and the plain queries ------------------------------------------------------- */

static void
test_alert_decode(void **state)
{
    fake_t *fake = *state;
    uint64_t aseq = fake_raise(fake, "alert/behind/acme/east/t3/rep-42/");
    record_t *r = &fake->records[aseq];
    pacer_alert_t *alert = NULL;
    char err[256];
    assert_int_equal(pacer_alert_decode(r->bytes, r->size, &alert, err, sizeof err), PACER_OK);
    assert_int_equal(alert->aseq, 1);
    assert_string_equal(alert->key, "behind/acme/east/t3/rep-42/revenue/2026-11");
    assert_string_equal(alert->topic, "alert/behind/acme/east/t3/rep-42/");
    assert_string_equal(alert->rule, "behind");
    assert_string_equal(alert->state, "firing");
    assert_string_equal(alert->severity, "critical");
    assert_string_equal(alert->path, "acme/east/t3/rep-42");
    assert_null(alert->product_line); /* nil */
    assert_null(alert->owner);        /* absent */
    assert_int_equal(alert->notify_count, 2);
    assert_string_equal(alert->notify[1], "li.wei");
    assert_int_equal(alert->at, 1795000060000);
    assert_int_equal(alert->log_seq, 1001);
    assert_int_equal(alert->raw_len, r->size);
    assert_memory_equal(alert->raw, r->bytes, r->size);
    assert_true(pacer_alert_matches(alert, "alert/behind/acme/"));
    assert_false(pacer_alert_matches(alert, "alert/behind/acme/west/"));
    pacer_alert_t *copy = pacer_alert_dup(alert);
    assert_string_equal(copy->summary, alert->summary);
    pacer_alert_destroy(&copy);
    pacer_alert_destroy(&alert);
    assert_null(alert);
    pacer_alert_destroy(&alert); /* harmless */

    /* Every strict prefix of the bytes is refused, never read past. */
    for (size_t len = 0; len < r->size; len++) {
        assert_int_equal(pacer_alert_decode(r->bytes, len, &alert, err, sizeof err),
                         PACER_EPROTOCOL);
        assert_null(alert);
    }
    /* A record without a summary, and one whose aseq is 0. */
    const char no_summary[] = "\x87\xa4"
                              "aseq\x01\xa3key\xa1k\xa5topic\xa6"
                              "alert/"
                              "\xa4rule\xa1r\xa5state\xa1s\xa8severity\xa1v\xa2"
                              "at\x00";
    assert_int_equal(pacer_alert_decode(no_summary, sizeof no_summary - 1, &alert, err, sizeof err),
                     PACER_EPROTOCOL);
    assert_non_null(strstr(err, "summary: missing"));
    const char zero[] = "\x81\xa4"
                        "aseq\x00";
    assert_int_equal(pacer_alert_decode(zero, sizeof zero - 1, &alert, err, sizeof err),
                     PACER_EPROTOCOL);
}

static volatile bool serving;

static void *
serve(void *arg)
{
    fake_t *fake = arg;
    while (serving) {
        fake_service(fake);
        usleep(1000);
    }
    return NULL;
}

static void
test_alerts_query_wrapper(void **state)
{
    fake_t *fake = *state;
    for (int i = 0; i < 9; i++)
        fake_raise(fake, i % 2 ? "alert/behind/acme/west/" : "alert/behind/acme/east/");
    serving = true;
    pthread_t thread;
    pthread_create(&thread, NULL, serve, fake);
    pacer_client_t *client = pacer_client_new(NULL, fake->query_ep);
    pacer_client_set_timeout(client, 5000);

    const char *prefixes[] = {"alert/behind/acme/east/"};
    pacer_alerts_query_t query = {.from = 2, .prefixes = prefixes, .prefix_count = 1, .limit = 2};
    uint64_t seen[16];
    size_t nseen = 0;
    for (;;) {
        pacer_alert_page_t *page = NULL;
        assert_int_equal(pacer_alerts(client, &query, &page), PACER_OK);
        for (size_t i = 0; i < pacer_alert_page_count(page); i++)
            seen[nseen++] = pacer_alert_page_get(page, i)->aseq;
        assert_int_equal(pacer_alert_page_last_aseq(page), 9);
        bool end = pacer_alert_page_at_end(page);
        query.from = pacer_alert_page_next(page);
        pacer_alert_page_destroy(&page);
        if (end)
            break;
    }
    assert_int_equal(nseen, 4);
    assert_int_equal(seen[0], 3);
    assert_int_equal(seen[3], 9);
    assert_int_equal(fake->last_prefixes, 1);

    /* `to` ends the read early. */
    pacer_alerts_query_t bounded = {.from = 1, .to = 4};
    pacer_alert_page_t *page = NULL;
    assert_int_equal(pacer_alerts(client, &bounded, &page), PACER_OK);
    assert_int_equal(pacer_alert_page_count(page), 4);
    assert_true(pacer_alert_page_at_end(page));
    pacer_alert_t *taken = pacer_alert_page_take(page, 0);
    assert_int_equal(taken->aseq, 1);
    assert_null(pacer_alert_page_get(page, 0));
    pacer_alert_destroy(&taken);
    pacer_alert_page_destroy(&page);

    fake->refuse = true;
    assert_int_equal(pacer_alerts(client, &bounded, &page), PACER_EREFUSED);
    assert_string_equal(pacer_client_error_code(client), "unknown_op");
    assert_null(page);
    pacer_client_destroy(&client);
    serving = false;
    pthread_join(thread, NULL);
}

static void
test_page_decode_refuses_bad_replies(void **state)
{
    (void)state;
    pacer_alert_page_t *page = NULL;
    char err[256];
    /* {"alerts": [], "next": 1} without last_aseq */
    const char no_last[] = "\x82\xa6"
                           "alerts\x90\xa4next\x01";
    assert_int_equal(
        pacer_alert_page_decode(no_last, sizeof no_last - 1, 0, true, &page, err, sizeof err),
        PACER_EPROTOCOL);
    assert_non_null(strstr(err, "last_aseq"));
    assert_null(page);
    /* {"alerts": 5, ...} */
    const char not_array[] = "\x83\xa6"
                             "alerts\x05\xa4next\x01\xa9last_aseq\x00";
    assert_int_equal(
        pacer_alert_page_decode(not_array, sizeof not_array - 1, 0, true, &page, err, sizeof err),
        PACER_EPROTOCOL);
    /* An empty page at the end. */
    const char empty[] = "\x83\xa6"
                         "alerts\x90\xa4next\x06\xa9last_aseq\x05";
    assert_int_equal(
        pacer_alert_page_decode(empty, sizeof empty - 1, 0, true, &page, err, sizeof err),
        PACER_OK);
    assert_true(pacer_alert_page_at_end(page));
    pacer_alert_page_destroy(&page);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_late_join_reads_history_then_live, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_dropped_messages_are_fetched, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_alone_reveals_a_gap, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_are_dropped, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_restart_mid_stream, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_resume_from_cursor, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_prefixes_and_jumps_over_other_alerts, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_catch_up_pages, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_replaced_state_starts_again, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_persisted_epoch_of_another_outbox, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_restored_older_backup_moves_the_cursor_back,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_now_starts_after_the_newest, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_live_alert_is_read_again, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_unanswered_and_refused_queries_are_reported,
                                        fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_exactly_once_under_random_loss, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_alert_decode, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_alerts_query_wrapper, fake_setup, fake_teardown),
        cmocka_unit_test(test_page_decode_refuses_bad_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
