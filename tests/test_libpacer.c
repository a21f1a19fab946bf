/*  Unit tests for clients/libpacer, against a fake daemon.

    The fake is a ROUTER socket on a loopback port in this process. For
    appends the test plays both sides in turn (a DEALER send does not wait
    for the reply), so each reply can be hand-made: good, late, out of
    order, refused, or malformed in every way we could think of. The
    blocking queries (status, events) get their reply from a thread that
    answers one request with a prepared body. No pacerd is involved. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <msgpack.h>
#include <pthread.h>
#include <zmq.h>

#include "clients/libpacer.h"

typedef struct {
    void *ctx;
    void *router;
    char endpoint[256];
} fake_t;

static int
fake_setup(void **state)
{
    fake_t *fake = calloc(1, sizeof *fake);
    fake->ctx = zmq_ctx_new();
    fake->router = zmq_socket(fake->ctx, ZMQ_ROUTER);
    int linger = 0, timeout = 10000;
    zmq_setsockopt(fake->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(fake->router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(zmq_bind(fake->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof fake->endpoint;
    assert_int_equal(zmq_getsockopt(fake->router, ZMQ_LAST_ENDPOINT, fake->endpoint, &len), 0);
    *state = fake;
    return 0;
}

static int
fake_teardown(void **state)
{
    fake_t *fake = *state;
    zmq_close(fake->router);
    zmq_ctx_term(fake->ctx);
    free(fake);
    return 0;
}

/* A request as the fake received it. */
typedef struct {
    zmq_msg_t identity;
    msgpack_unpacked unpacked;
    char *body;
    size_t size;
    uint64_t corr;
} request_t;

static const msgpack_object *
map_get(const msgpack_object *map, const char *key)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
            return &kv->val;
    }
    return NULL;
}

/* Receive one request; check its framing and envelope (v: 1, op, corr). */
static void
fake_recv(fake_t *fake, request_t *request, const char *op)
{
    zmq_msg_init(&request->identity);
    assert_true(zmq_msg_recv(&request->identity, fake->router, 0) > 0);
    assert_true(zmq_msg_more(&request->identity));
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    assert_int_equal(zmq_msg_recv(&frame, fake->router, 0), 0); /* empty delimiter */
    assert_true(zmq_msg_more(&frame));
    zmq_msg_close(&frame);
    zmq_msg_init(&frame);
    assert_true(zmq_msg_recv(&frame, fake->router, 0) > 0);
    assert_false(zmq_msg_more(&frame));
    request->size = zmq_msg_size(&frame);
    request->body = malloc(request->size);
    memcpy(request->body, zmq_msg_data(&frame), request->size);
    zmq_msg_close(&frame);

    msgpack_unpacked_init(&request->unpacked);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&request->unpacked, request->body, request->size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, request->size);
    const msgpack_object *body = &request->unpacked.data;
    assert_int_equal(map_get(body, "v")->via.u64, 1);
    const msgpack_object *op_value = map_get(body, "op");
    assert_int_equal(op_value->via.str.size, strlen(op));
    assert_memory_equal(op_value->via.str.ptr, op, strlen(op));
    const msgpack_object *corr = map_get(body, "corr");
    assert_non_null(corr);
    assert_int_equal(corr->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    request->corr = corr->via.u64;
}

static void
request_done(request_t *request)
{
    zmq_msg_close(&request->identity);
    msgpack_unpacked_destroy(&request->unpacked);
    free(request->body);
}

/* Send raw frames back to the requester: `frames` frames after the identity. */
static void
fake_send_frames(fake_t *fake, request_t *request, const void **data, const size_t *sizes,
                 size_t frames)
{
    zmq_msg_t identity;
    zmq_msg_init(&identity);
    zmq_msg_copy(&identity, &request->identity);
    assert_true(zmq_msg_send(&identity, fake->router, frames ? ZMQ_SNDMORE : 0) >= 0);
    for (size_t i = 0; i < frames; i++)
        assert_true(zmq_send(fake->router, data[i], sizes[i], i + 1 < frames ? ZMQ_SNDMORE : 0) >=
                    0);
}

static void
fake_send(fake_t *fake, request_t *request, const void *body, size_t size)
{
    const void *data[] = {"", body};
    size_t sizes[] = {0, size};
    fake_send_frames(fake, request, data, sizes, 2);
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* The start of a reply: map of `keys` entries, with v, corr and ok. */
static void
pack_reply_head(msgpack_packer *pk, size_t keys, uint64_t corr, bool ok)
{
    msgpack_pack_map(pk, keys);
    pack_str(pk, "v");
    msgpack_pack_int(pk, 1);
    pack_str(pk, "corr");
    msgpack_pack_uint64(pk, corr);
    pack_str(pk, "ok");
    ok ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

/* {"v":1,"corr":corr,"ok":true,"results":[{"seq":1,"dup":false}...],...} for n events. */
static void
send_append_ok(fake_t *fake, request_t *request, size_t n, uint64_t first_seq)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_reply_head(&pk, 8, request->corr, true);
    pack_str(&pk, "results");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&pk, 2);
        pack_str(&pk, "seq");
        msgpack_pack_uint64(&pk, first_seq + i);
        pack_str(&pk, "dup");
        msgpack_pack_false(&pk);
    }
    pack_str(&pk, "appended");
    msgpack_pack_uint64(&pk, n);
    pack_str(&pk, "duplicates");
    msgpack_pack_uint64(&pk, 0);
    pack_str(&pk, "rejected");
    msgpack_pack_uint64(&pk, 0);
    pack_str(&pk, "last_seq");
    msgpack_pack_uint64(&pk, first_seq + n - 1);
    fake_send(fake, request, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* An event map {"type":"sale_closed","id":id}. */
static void
encode_event(msgpack_sbuffer *sb, const char *id)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "type");
    pack_str(&pk, "sale_closed");
    pack_str(&pk, "id");
    pack_str(&pk, id);
}

static pacer_batch_t *
make_batch(size_t n)
{
    pacer_batch_t *batch = pacer_batch_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "e-%zu", i);
        encode_event(&sb, id);
        assert_int_equal(pacer_batch_add_msgpack(batch, sb.data, sb.size), PACER_OK);
    }
    msgpack_sbuffer_destroy(&sb);
    return batch;
}

static pacer_client_t *
make_client(fake_t *fake, int timeout_ms)
{
    pacer_client_t *client = pacer_client_new(fake->endpoint, fake->endpoint);
    assert_non_null(client);
    pacer_client_set_timeout(client, timeout_ms);
    return client;
}

/* ---- batch ---------------------------------------------------------------- */

static void
test_batch_validates_events(void **state)
{
    (void)state;
    pacer_batch_t *batch = pacer_batch_new();
    assert_non_null(batch);
    assert_int_equal(pacer_batch_add_msgpack(batch, "\x80", 1), PACER_OK); /* {} */
    assert_int_equal(pacer_batch_add_msgpack(batch, "\x81\xa1k\x01", 4), PACER_OK);
    assert_int_equal(pacer_batch_count(batch), 2);
    assert_int_equal(pacer_batch_bytes(batch), 5);

    struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x90", 1},                 /* an array */
        {"\x01", 1},                 /* an int */
        {"\x81\xa1k", 3},            /* truncated */
        {"\x80\x80", 2},             /* trailing bytes */
        {"\x81\xa1k\xc1", 4},        /* never-used byte */
        {"\xdf\xff\xff\xff\xff", 5}, /* declares 4 billion entries */
        {"\x81\xa1k\xd9\x10"
         "ab",
         7}, /* str longer than the bytes */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pacer_batch_add_msgpack(batch, bad[i].bytes, bad[i].len) != PACER_EINVAL)
            fail_msg("bad event %zu was accepted", i);
    assert_int_equal(pacer_batch_count(batch), 2);

    /* Nested 30 deep is the most an event may be (the request adds two). */
    char deep[64];
    size_t n = 0;
    deep[n++] = (char)0x81;
    deep[n++] = (char)0xa1;
    deep[n++] = 'k';
    for (int i = 1; i < 30; i++)
        deep[n++] = (char)0x91; /* [ ... */
    deep[n++] = 0x01;
    assert_int_equal(pacer_batch_add_msgpack(batch, deep, n), PACER_OK);
    memmove(deep + 4, deep + 3, n - 3);
    deep[3] = (char)0x91;
    assert_int_equal(pacer_batch_add_msgpack(batch, deep, n + 1), PACER_EINVAL);

    pacer_batch_reset(batch);
    assert_int_equal(pacer_batch_count(batch), 0);
    assert_int_equal(pacer_batch_bytes(batch), 0);
    assert_false(pacer_batch_atomic(batch));
    pacer_batch_set_atomic(batch, true);
    assert_true(pacer_batch_atomic(batch));
    pacer_batch_destroy(&batch);
    assert_null(batch);
    pacer_batch_destroy(&batch); /* harmless */
}

static void
test_batch_limits(void **state)
{
    (void)state;
    pacer_batch_t *batch = pacer_batch_new();
    for (int i = 0; i < PACER_BATCH_MAX_EVENTS; i++)
        assert_int_equal(pacer_batch_add_msgpack(batch, "\x80", 1), PACER_OK);
    assert_int_equal(pacer_batch_add_msgpack(batch, "\x80", 1), PACER_EFULL);
    pacer_batch_reset(batch);

    /* 16 MiB of body: 1 MiB events, the 16th does not fit. */
    size_t size = 1024 * 1024;
    char *big = malloc(size);
    big[0] = (char)0x81;
    big[1] = (char)0xa1;
    big[2] = 'k';
    big[3] = (char)0xdb; /* str 32 */
    uint32_t len = (uint32_t)(size - 8);
    big[4] = (char)(len >> 24);
    big[5] = (char)(len >> 16);
    big[6] = (char)(len >> 8);
    big[7] = (char)len;
    memset(big + 8, 'x', len);
    int added = 0;
    while (pacer_batch_add_msgpack(batch, big, size) == PACER_OK)
        added++;
    assert_int_equal(added, 15);
    free(big);
    pacer_batch_destroy(&batch);
}

/* ---- append --------------------------------------------------------------- */

static void
test_append_round_trip(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    pacer_batch_t *batch = make_batch(3);
    pacer_batch_set_atomic(batch, true);
    uint64_t corr = 0;
    assert_int_equal(pacer_append_send(client, batch, &corr), PACER_OK);
    assert_int_equal(pacer_append_inflight(client), 1);

    request_t request;
    fake_recv(fake, &request, "append");
    assert_int_equal(request.corr, corr);
    const msgpack_object *atomic = map_get(&request.unpacked.data, "atomic");
    assert_non_null(atomic);
    assert_true(atomic->via.boolean);
    const msgpack_object *events = map_get(&request.unpacked.data, "events");
    assert_int_equal(events->via.array.size, 3);
    assert_int_equal(events->via.array.ptr[2].type, MSGPACK_OBJECT_MAP);

    /* seq 9 appended, seq 4 a duplicate, the third refused */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_reply_head(&pk, 8, request.corr, true);
    pack_str(&pk, "results");
    msgpack_pack_array(&pk, 3);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, 9);
    pack_str(&pk, "dup");
    msgpack_pack_false(&pk);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, 4);
    pack_str(&pk, "dup");
    msgpack_pack_true(&pk);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "error");
    pack_str(&pk, "wrong_type");
    pack_str(&pk, "message");
    pack_str(&pk, "event 2 (id \"e-2\"): amount: expected integer, got string");
    pack_str(&pk, "appended");
    msgpack_pack_uint64(&pk, 1);
    pack_str(&pk, "duplicates");
    msgpack_pack_uint64(&pk, 1);
    pack_str(&pk, "rejected");
    msgpack_pack_uint64(&pk, 1);
    pack_str(&pk, "last_seq");
    msgpack_pack_uint64(&pk, 9);
    fake_send(fake, &request, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    request_done(&request);

    pacer_append_result_t *result = NULL;
    uint64_t got = 0;
    assert_int_equal(pacer_append_recv(client, &result, &got), PACER_OK);
    assert_int_equal(got, corr);
    assert_int_equal(pacer_append_inflight(client), 0);
    assert_int_equal(pacer_append_result_count(result), 3);
    assert_int_equal(pacer_append_result_appended(result), 1);
    assert_int_equal(pacer_append_result_duplicates(result), 1);
    assert_int_equal(pacer_append_result_rejected(result), 1);
    assert_int_equal(pacer_append_result_last_seq(result), 9);
    const pacer_event_result_t *e = pacer_append_result_event(result, 0);
    assert_int_equal(e->seq, 9);
    assert_false(e->dup);
    assert_null(e->error);
    e = pacer_append_result_event(result, 1);
    assert_int_equal(e->seq, 4);
    assert_true(e->dup);
    e = pacer_append_result_event(result, 2);
    assert_int_equal(e->seq, 0);
    assert_string_equal(e->error, "wrong_type");
    assert_string_equal(e->message, "event 2 (id \"e-2\"): amount: expected integer, got string");
    assert_null(pacer_append_result_event(result, 3));
    pacer_append_result_destroy(&result);
    assert_null(result);

    assert_int_equal(pacer_append_recv(client, &result, NULL), PACER_EIDLE);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
    assert_null(client);
}

static void
test_append_pipelined_and_stale(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    pacer_batch_t *batch = make_batch(2);
    uint64_t corrs[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pacer_append_send(client, batch, &corrs[i]), PACER_OK);
    assert_int_equal(pacer_append_inflight(client), 3);
    assert_true(corrs[0] < corrs[1] && corrs[1] < corrs[2]);
    /* The blocking call refuses to mix with pipelined batches. */
    pacer_append_result_t *result = NULL;
    assert_int_equal(pacer_append(client, batch, &result), PACER_EBUSY);

    request_t requests[3];
    for (int i = 0; i < 3; i++) {
        fake_recv(fake, &requests[i], "append");
        assert_int_equal(requests[i].corr, corrs[i]);
    }
    /* A reply to a corr nobody waits for is dropped; then the three answers. */
    request_t stale = requests[0];
    stale.corr = 999999;
    send_append_ok(fake, &stale, 2, 1);
    for (int i = 0; i < 3; i++)
        send_append_ok(fake, &requests[i], 2, 10 + 2 * (uint64_t)i);
    for (int i = 0; i < 3; i++) {
        uint64_t corr = 0;
        assert_int_equal(pacer_append_recv(client, &result, &corr), PACER_OK);
        assert_int_equal(corr, corrs[i]);
        assert_int_equal(pacer_append_result_event(result, 0)->seq, 10 + 2 * (uint64_t)i);
        pacer_append_result_destroy(&result);
        request_done(&requests[i]);
    }
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
}

static void
test_append_refused(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    pacer_batch_t *batch = make_batch(1);
    uint64_t corr = 0;
    assert_int_equal(pacer_append_send(client, batch, &corr), PACER_OK);
    request_t request;
    fake_recv(fake, &request, "append");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_reply_head(&pk, 5, request.corr, false);
    pack_str(&pk, "error");
    pack_str(&pk, "too_large");
    pack_str(&pk, "message");
    pack_str(&pk, "the batch has 100001 events");
    fake_send(fake, &request, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    request_done(&request);

    pacer_append_result_t *result = NULL;
    uint64_t got = 0;
    assert_int_equal(pacer_append_recv(client, &result, &got), PACER_EREFUSED);
    assert_null(result);
    assert_int_equal(got, corr);
    assert_string_equal(pacer_client_error_code(client), "too_large");
    assert_non_null(strstr(pacer_client_error(client), "the batch has 100001 events"));
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
}

static void
test_append_timeout_then_late_reply(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 200);
    pacer_batch_t *batch = make_batch(1);
    assert_int_equal(pacer_append_send(client, batch, NULL), PACER_OK);
    request_t late;
    fake_recv(fake, &late, "append");

    pacer_append_result_t *result = NULL;
    assert_int_equal(pacer_append_recv(client, &result, NULL), PACER_ETIMEOUT);
    assert_non_null(strstr(pacer_client_error(client), "no reply from"));
    assert_non_null(strstr(pacer_client_error(client), "is pacerd running?"));
    assert_int_equal(pacer_append_inflight(client), 0);

    /* The late answer arrives before the next one: it must not be taken for it. */
    send_append_ok(fake, &late, 1, 1);
    request_done(&late);
    uint64_t corr = 0;
    assert_int_equal(pacer_append_send(client, batch, &corr), PACER_OK);
    request_t request;
    fake_recv(fake, &request, "append");
    send_append_ok(fake, &request, 1, 2);
    request_done(&request);
    uint64_t got = 0;
    assert_int_equal(pacer_append_recv(client, &result, &got), PACER_OK);
    assert_int_equal(got, corr);
    assert_int_equal(pacer_append_result_event(result, 0)->seq, 2);
    pacer_append_result_destroy(&result);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
}

static void
test_no_daemon_times_out(void **state)
{
    (void)state;
    /* Nothing listens on port 1: connecting never completes. */
    pacer_client_t *client = pacer_client_new("tcp://127.0.0.1:1", "tcp://127.0.0.1:1");
    pacer_client_set_timeout(client, 200);
    assert_int_equal(pacer_client_timeout(client), 200);
    pacer_batch_t *batch = make_batch(1);
    pacer_append_result_t *result = NULL;
    assert_int_equal(pacer_append(client, batch, &result), PACER_ETIMEOUT);
    assert_string_equal(pacer_client_error(client),
                        "pacerd is not answering at tcp://127.0.0.1:1: is it running? "
                        "(no connection within 0.2 s)");
    pacer_status_t status;
    assert_int_equal(pacer_status(client, &status), PACER_ETIMEOUT);
    pacer_page_t *page = NULL;
    assert_int_equal(pacer_events(client, 1, 10, &page), PACER_ETIMEOUT);
    assert_null(page);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);

    assert_null(pacer_client_new("nonsense://x", NULL));
    /* A client without an append endpoint says so rather than crashing. */
    client = pacer_client_new(NULL, "tcp://127.0.0.1:1");
    batch = make_batch(1);
    assert_int_equal(pacer_append_send(client, batch, NULL), PACER_ETRANSPORT);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
}

/* Each malformed reply gives PACER_EPROTOCOL (never a crash), answers the
   oldest batch in flight, and leaves the client usable. */
static void
test_append_malformed_replies(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    pacer_batch_t *batch = make_batch(2);

    enum { RAW, FRAMES_3, NO_DELIMITER, ONE_FRAME };
    struct {
        int shape;
        const char *bytes;
        size_t len;
    } cases[] = {
        {RAW, "\xc1", 1},                                    /* never-used byte */
        {RAW, "\x83\xa1v\x01", 4},                           /* truncated map */
        {RAW, "\x93\x01\x02\x03", 4},                        /* an array body */
        {RAW, "\xdd\xff\xff\xff\xff", 5},                    /* 4 billion elements, 0 bytes */
        {RAW, "\xdf\xff\xff\xff\xff\x01", 6},                /* same for a map */
        {RAW, "\x80\x80", 2},                                /* trailing bytes */
        {RAW, "\x81\xa1v\x02", 4},                           /* v: 2 */
        {RAW, "\x82\xa1v\x01\xa2ok\xc3", 8},                 /* ok but no results */
        {RAW, "\x82\xa1v\x01\xa2ok\x01", 8},                 /* ok not a bool */
        {RAW, "\x83\xa1v\x01\xa2ok\xc3\xa7results\x90", 17}, /* 0 results for 2 */
        {RAW, "\x83\xa1v\x01\xa2ok\xc3\xa7results\x92\x01\x02", 19}, /* not maps */
        {RAW, "\x83\xa1v\x01\xa2ok\xc3\xa7results\x92\x81\xa3seq\xa1x\x80", 25},
        {RAW, "\x83\xa1v\x01\xa2ok\xc3\xa7results\x92\x80\x80", 19}, /* no seq, no error */
        {RAW,
         "\x83\xa1v\x01\xa2ok\xc2\xa5"
         "error\x05",
         15}, /* error not a str */
        {RAW, "", 0},
        {FRAMES_3, "\x80", 1},
        {NO_DELIMITER, "\x80", 1},
        {ONE_FRAME, NULL, 0},
    };
    /* Deeper than 32 levels. */
    char deep[40];
    memset(deep, 0x91, 39);
    deep[39] = 0x01;

    for (size_t i = 0; i <= sizeof cases / sizeof cases[0]; i++) {
        uint64_t corr = 0;
        assert_int_equal(pacer_append_send(client, batch, &corr), PACER_OK);
        request_t request;
        fake_recv(fake, &request, "append");
        if (i == sizeof cases / sizeof cases[0])
            fake_send(fake, &request, deep, sizeof deep);
        else if (cases[i].shape == RAW)
            fake_send(fake, &request, cases[i].bytes, cases[i].len);
        else if (cases[i].shape == FRAMES_3) {
            const void *data[] = {"", cases[i].bytes, "x"};
            size_t sizes[] = {0, cases[i].len, 1};
            fake_send_frames(fake, &request, data, sizes, 3);
        } else if (cases[i].shape == NO_DELIMITER) {
            const void *data[] = {"z", cases[i].bytes};
            size_t sizes[] = {1, cases[i].len};
            fake_send_frames(fake, &request, data, sizes, 2);
        } else {
            const void *data[] = {""};
            size_t sizes[] = {0};
            fake_send_frames(fake, &request, data, sizes, 1);
        }
        request_done(&request);
        pacer_append_result_t *result = NULL;
        uint64_t got = 0;
        int rc = pacer_append_recv(client, &result, &got);
        if (rc != PACER_EPROTOCOL)
            fail_msg("case %zu: rc %d (%s)", i, rc, pacer_client_error(client));
        assert_null(result);
        assert_int_equal(got, corr);
        assert_int_equal(pacer_append_inflight(client), 0);
        assert_non_null(strstr(pacer_client_error(client), "malformed reply from"));
    }

    /* Still usable. */
    uint64_t corr = 0;
    assert_int_equal(pacer_append_send(client, batch, &corr), PACER_OK);
    request_t request;
    fake_recv(fake, &request, "append");
    send_append_ok(fake, &request, 2, 1);
    request_done(&request);
    pacer_append_result_t *result = NULL;
    assert_int_equal(pacer_append_recv(client, &result, NULL), PACER_OK);
    pacer_append_result_destroy(&result);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
}

/* ---- queries -------------------------------------------------------------- */

/* A thread that answers one query with a prepared body (corr filled in). */
typedef struct {
    fake_t *fake;
    const char *op;
    void (*pack)(msgpack_packer *pk, uint64_t corr, const msgpack_object *request);
    msgpack_object *seen_from, *seen_limit;
    uint64_t from, limit;
    bool raw;
    int delay_ms; /* before answering */
} answer_t;

static void *
answer_run(void *arg)
{
    answer_t *answer = arg;
    request_t request;
    fake_recv(answer->fake, &request, answer->op);
    const msgpack_object *from = map_get(&request.unpacked.data, "from");
    const msgpack_object *limit = map_get(&request.unpacked.data, "limit");
    const msgpack_object *raw = map_get(&request.unpacked.data, "raw");
    answer->from = from ? from->via.u64 : 0;
    answer->limit = limit ? limit->via.u64 : 0;
    answer->raw = raw && raw->via.boolean;
    if (answer->delay_ms > 0)
        nanosleep(&(struct timespec){answer->delay_ms / 1000, answer->delay_ms % 1000 * 1000000},
                  NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    answer->pack(&pk, request.corr, &request.unpacked.data);
    fake_send(answer->fake, &request, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    request_done(&request);
    return NULL;
}

static void
pack_status(msgpack_packer *pk, uint64_t corr, const msgpack_object *request)
{
    (void)request;
    pack_reply_head(pk, 13, corr, true);
    pack_str(pk, "version");
    pack_str(pk, "0.1.0");
    pack_str(pk, "protocol");
    msgpack_pack_int(pk, 1);
    pack_str(pk, "state_dir");
    pack_str(pk, "/var/lib/pacer");
    pack_str(pk, "last_seq");
    msgpack_pack_uint64(pk, 42);
    pack_str(pk, "last_hash");
    msgpack_pack_bin(pk, 32);
    msgpack_pack_bin_body(pk, "0123456789abcdef0123456789abcdef", 32);
    pack_str(pk, "log_events");
    msgpack_pack_uint64(pk, 42);
    pack_str(pk, "started_at");
    msgpack_pack_int64(pk, 1764547200000);
    pack_str(pk, "uptime_ms");
    msgpack_pack_int64(pk, 5000);
    pack_str(pk, "map_size");
    msgpack_pack_uint64(pk, 1 << 30);
    pack_str(pk, "counters");
    msgpack_pack_map(pk, 3);
    pack_str(pk, "appended");
    msgpack_pack_uint64(pk, 42);
    pack_str(pk, "commits");
    msgpack_pack_uint64(pk, 7);
    pack_str(pk, "a_future_counter"); /* unknown keys are ignored */
    msgpack_pack_uint64(pk, 1);
}

static void
test_status(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    answer_t answer = {.fake = fake, .op = "status", .pack = pack_status};
    pthread_t thread;
    pthread_create(&thread, NULL, answer_run, &answer);
    pacer_status_t status;
    assert_int_equal(pacer_status(client, &status), PACER_OK);
    pthread_join(thread, NULL);
    assert_string_equal(status.version, "0.1.0");
    assert_int_equal(status.protocol, 1);
    assert_string_equal(status.state_dir, "/var/lib/pacer");
    assert_int_equal(status.last_seq, 42);
    assert_memory_equal(status.last_hash, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(status.started_at, 1764547200000);
    assert_int_equal(status.uptime_ms, 5000);
    assert_int_equal(status.map_size, 1 << 30);
    assert_int_equal(status.counters.appended, 42);
    assert_int_equal(status.counters.commits, 7);
    assert_int_equal(status.counters.requests, 0);
    pacer_client_destroy(&client);
}

static int64_t
monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With a connect timeout, a daemon that is not there is reported after it,
   not after the whole timeout; a daemon that is there but slow to answer
   still gets the whole timeout. */
static void
test_connect_timeout(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = pacer_client_new("tcp://127.0.0.1:1", "tcp://127.0.0.1:1");
    pacer_client_set_timeout(client, 30000);
    pacer_client_set_connect_timeout(client, 300);
    assert_int_equal(pacer_client_connect_timeout(client), 300);
    int64_t started = monotonic_ms();
    pacer_status_t status;
    assert_int_equal(pacer_status(client, &status), PACER_ETIMEOUT);
    assert_string_equal(pacer_client_error(client),
                        "pacerd is not answering at tcp://127.0.0.1:1: is it running? "
                        "(no connection within 0.3 s)");
    pacer_batch_t *batch = make_batch(1);
    pacer_append_result_t *result = NULL;
    assert_int_equal(pacer_append(client, batch, &result), PACER_ETIMEOUT);
    assert_int_equal(pacer_append_inflight(client), 0);
    /* Two waits of 0.3 s; far below the 30 s timeout even on a loaded machine. */
    assert_true(monotonic_ms() - started < 10000);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);

    client = make_client(fake, 10000);
    pacer_client_set_connect_timeout(client, 200);
    answer_t answer = {.fake = fake, .op = "status", .pack = pack_status, .delay_ms = 1000};
    pthread_t thread;
    pthread_create(&thread, NULL, answer_run, &answer);
    assert_int_equal(pacer_status(client, &status), PACER_OK);
    pthread_join(thread, NULL);
    assert_int_equal(status.last_seq, 42);
    pacer_client_destroy(&client);
}

/* The daemon goes away while the only request in flight waits: reported
   after the connect timeout, and the batch is in doubt (not in flight). */
static void
test_connection_lost_while_waiting(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 30000);
    pacer_client_set_connect_timeout(client, 300);
    pacer_batch_t *batch = make_batch(1);
    assert_int_equal(pacer_append_send(client, batch, NULL), PACER_OK);
    request_t request;
    fake_recv(fake, &request, "append");
    request_done(&request);
    zmq_close(fake->router); /* the daemon dies before it answers */
    fake->router = zmq_socket(fake->ctx, ZMQ_ROUTER);
    int64_t started = monotonic_ms();
    pacer_append_result_t *result = NULL;
    assert_int_equal(pacer_append_recv(client, &result, NULL), PACER_ETIMEOUT);
    assert_true(monotonic_ms() - started < 10000);
    assert_non_null(strstr(pacer_client_error(client), "lost the connection to pacerd at tcp://"));
    assert_int_equal(pacer_append_inflight(client), 0);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
}

static void
pack_status_bad_hash(msgpack_packer *pk, uint64_t corr, const msgpack_object *request)
{
    (void)request;
    pack_reply_head(pk, 5, corr, true);
    pack_str(pk, "last_seq");
    msgpack_pack_uint64(pk, 1);
    pack_str(pk, "last_hash");
    msgpack_pack_bin(pk, 3);
    msgpack_pack_bin_body(pk, "abc", 3);
}

static void
test_status_malformed(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    answer_t answer = {.fake = fake, .op = "status", .pack = pack_status_bad_hash};
    pthread_t thread;
    pthread_create(&thread, NULL, answer_run, &answer);
    pacer_status_t status;
    assert_int_equal(pacer_status(client, &status), PACER_EPROTOCOL);
    pthread_join(thread, NULL);
    assert_non_null(strstr(pacer_client_error(client), "last_hash"));
    pacer_client_destroy(&client);
}

/* Two records: seq 5 as raw bin bytes, seq 6 as a map (a daemon ignoring raw). */
static void
pack_events(msgpack_packer *pk, uint64_t corr, const msgpack_object *request)
{
    (void)request;
    pack_reply_head(pk, 6, corr, true);
    pack_str(pk, "events");
    msgpack_pack_array(pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_map(pk, 4);
        pack_str(pk, "seq");
        msgpack_pack_uint64(pk, 5 + (uint64_t)i);
        pack_str(pk, "recorded_at");
        msgpack_pack_int64(pk, 1764547200000 + i);
        pack_str(pk, "hash");
        msgpack_pack_bin(pk, 32);
        char hash[32];
        memset(hash, 'a' + i, sizeof hash);
        msgpack_pack_bin_body(pk, hash, 32);
        pack_str(pk, "event");
        if (i == 0) {
            msgpack_pack_bin(pk, 4);
            msgpack_pack_bin_body(pk, "\x81\xa1k\x07", 4);
        } else {
            msgpack_pack_map(pk, 1);
            pack_str(pk, "k");
            msgpack_pack_int(pk, 8);
        }
    }
    pack_str(pk, "next");
    msgpack_pack_uint64(pk, 7);
    pack_str(pk, "last_seq");
    msgpack_pack_uint64(pk, 6);
}

static void
test_events(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    answer_t answer = {.fake = fake, .op = "events", .pack = pack_events};
    pthread_t thread;
    pthread_create(&thread, NULL, answer_run, &answer);
    pacer_page_t *page = NULL;
    assert_int_equal(pacer_events(client, 5, 50000, &page), PACER_OK);
    pthread_join(thread, NULL);
    assert_int_equal(answer.from, 5);
    assert_int_equal(answer.limit, PACER_EVENTS_MAX_LIMIT); /* clamped */
    assert_true(answer.raw);
    assert_int_equal(pacer_page_count(page), 2);
    assert_int_equal(pacer_page_next(page), 7);
    assert_int_equal(pacer_page_last_seq(page), 6);
    assert_true(pacer_page_at_end(page));
    const pacer_record_t *r = pacer_page_record(page, 0);
    assert_int_equal(r->seq, 5);
    assert_int_equal(r->recorded_at, 1764547200000);
    assert_int_equal(r->hash[31], 'a');
    assert_int_equal(r->event_len, 4);
    assert_memory_equal(r->event, "\x81\xa1k\x07", 4);
    r = pacer_page_record(page, 1);
    assert_int_equal(r->seq, 6);
    assert_int_equal(r->event_len, 4);
    assert_memory_equal(r->event, "\x81\xa1k\x08", 4);
    assert_null(pacer_page_record(page, 2));
    pacer_page_destroy(&page);
    assert_null(page);
    pacer_client_destroy(&client);
}

static void
pack_events_bad_event(msgpack_packer *pk, uint64_t corr, const msgpack_object *request)
{
    (void)request;
    pack_reply_head(pk, 6, corr, true);
    pack_str(pk, "events");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 4);
    pack_str(pk, "seq");
    msgpack_pack_uint64(pk, 1);
    pack_str(pk, "recorded_at");
    msgpack_pack_int64(pk, 1);
    pack_str(pk, "hash");
    msgpack_pack_bin(pk, 32);
    msgpack_pack_bin_body(pk, "0123456789abcdef0123456789abcdef", 32);
    pack_str(pk, "event");
    msgpack_pack_bin(pk, 3); /* a truncated map inside the bin */
    msgpack_pack_bin_body(pk, "\x82\xa1k", 3);
    pack_str(pk, "next");
    msgpack_pack_uint64(pk, 2);
    pack_str(pk, "last_seq");
    msgpack_pack_uint64(pk, 1);
}

static void
test_events_malformed(void **state)
{
    fake_t *fake = *state;
    pacer_client_t *client = make_client(fake, 5000);
    answer_t answer = {.fake = fake, .op = "events", .pack = pack_events_bad_event};
    pthread_t thread;
    pthread_create(&thread, NULL, answer_run, &answer);
    pacer_page_t *page = NULL;
    assert_int_equal(pacer_events(client, 0, 0, &page), PACER_EPROTOCOL);
    pthread_join(thread, NULL);
    assert_null(page);
    assert_int_equal(answer.from, 1);
    assert_int_equal(answer.limit, 0); /* 0: left to the daemon */
    assert_non_null(strstr(pacer_client_error(client), "events[0].event"));
    pacer_client_destroy(&client);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_validates_events),
        cmocka_unit_test(test_batch_limits),
        cmocka_unit_test_setup_teardown(test_append_round_trip, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_append_pipelined_and_stale, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_append_refused, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_append_timeout_then_late_reply, fake_setup,
                                        fake_teardown),
        cmocka_unit_test(test_no_daemon_times_out),
        cmocka_unit_test_setup_teardown(test_connect_timeout, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_connection_lost_while_waiting, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_append_malformed_replies, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_status, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_status_malformed, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_events, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_events_malformed, fake_setup, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
