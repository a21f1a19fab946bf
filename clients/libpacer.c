/*  libpacer: the client side of docs/PROTOCOL.md.

    Each client owns a ZeroMQ context and one DEALER per endpoint. A request
    is two frames (empty delimiter, msgpack body) and carries `corr`, a
    per-client counter; the append socket remembers which corrs are in
    flight and how many events each batch held, so a reply is matched to
    its batch and its `results` can be checked for one entry per event.
    A reply whose corr is not in flight belongs to a request we gave up on
    after a timeout and is dropped.

    Replies are untrusted bytes. Before msgpack-c unpacks one, msgpack_check
    walks it once: it must be exactly one value, nested at most 32 deep, and
    no array or map may declare more elements than there are bytes left.
    msgpack-c allocates an array's slots from its declared size before it
    reads them, so without that check a five-byte reply could ask for tens
    of gigabytes. The same walk validates events given to a batch, so one bad
    event cannot turn a whole request into `malformed`.

    Nothing here calls exit or prints: every failure is a return code plus a
    sentence in self->error. */

#include "events/wire.h"
#include "clients/libpacer.h"
#include "clients/libpacer_private.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <zmq.h>

/* An event sits two levels down in an append request (body map, events
   array), so it may nest at most two less than a whole request. */
#define EVENT_MAX_DEPTH (PACER_MSGPACK_MAX_DEPTH - 2)
/* Generous bound on the append request's bytes besides the events. */
#define APPEND_HEADER_BYTES 64
/* While one request waits for its reply, how often the connection is
   checked (client_recv). */
#define RECV_CHECK_MS 100

typedef struct {
    uint64_t corr;
    size_t count; /* events in the batch: the reply must have as many results */
} pending_t;

struct _pacer_client_t {
    void *ctx;
    void *append; /* DEALER, or NULL when no append endpoint was given */
    void *query;  /* DEALER, or NULL */
    char *append_endpoint;
    char *query_endpoint;
    int timeout_ms;
    int connect_timeout_ms; /* 0: timeout_ms */
    uint64_t next_corr;
    pending_t *pending; /* append requests in flight, oldest first */
    size_t pending_count;
    size_t pending_max;
    char error[1024];
    char error_code[64];
    /* authentication (libpacer_curve.c) */
    bool secure;
    pacer_curve_t curve;
    pacer_watch_t append_watch, query_watch;
    char setup_error[512]; /* keys from the environment that did not load */
};

struct _pacer_batch_t {
    msgpack_sbuffer events; /* the events' msgpack maps, back to back */
    size_t count;
    bool atomic;
};

struct _pacer_append_result_t {
    pacer_event_result_t *events;
    size_t count;
    uint64_t appended, duplicates, rejected, last_seq;
};

struct _pacer_page_t {
    pacer_record_t *records;
    size_t count;
    uint8_t *data; /* every record's event bytes; records point into it */
    uint64_t next, last_seq;
};

/* A reply unpacked in place: its strings point into the ZeroMQ message,
   so both live until reply_done. */
typedef struct {
    zmq_msg_t msg;
    msgpack_unpacked unpacked;
    const msgpack_object *body; /* a map */
    bool has_corr;
    uint64_t corr;
    const char *endpoint;
} reply_t;

const char *
pacer_strerror(int rc)
{
    switch (rc) {
    case PACER_OK:
        return "success";
    case PACER_EINVAL:
        return "invalid argument";
    case PACER_ENOMEM:
        return "out of memory";
    case PACER_EFULL:
        return "batch full";
    case PACER_ETRANSPORT:
        return "transport failure";
    case PACER_ETIMEOUT:
        return "no reply within the timeout";
    case PACER_EPROTOCOL:
        return "malformed reply";
    case PACER_EREFUSED:
        return "request refused by pacerd";
    case PACER_EIDLE:
        return "no request in flight";
    case PACER_EBUSY:
        return "pipelined requests in flight";
    case PACER_EAUTH:
        return "authentication refused or mismatched";
    case PACER_EAGAIN:
        return "nothing arrived within the wait";
    default:
        return "unknown error";
    }
}

/* ---- errors ------------------------------------------------------------ */

static void
error_clear(pacer_client_t *self)
{
    self->error[0] = '\0';
    self->error_code[0] = '\0';
}

static int fail(pacer_client_t *self, int rc, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(pacer_client_t *self, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->error, sizeof self->error, format, args);
    va_end(args);
    return rc;
}

static int malformed(pacer_client_t *self, const char *endpoint, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* PACER_EPROTOCOL with "malformed reply from EP: <what>". */
static int
malformed(pacer_client_t *self, const char *endpoint, const char *format, ...)
{
    char what[768];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof what, format, args);
    va_end(args);
    return fail(self, PACER_EPROTOCOL, "malformed reply from %s: %s", endpoint, what);
}

int
pacer_client_malformed_query(pacer_client_t *self, const char *what)
{
    assert(self);
    return malformed(self, self->query_endpoint ? self->query_endpoint : "pacerd", "%s", what);
}

int
pacer_client_fail_with(pacer_client_t *self, int rc, const char *message)
{
    assert(self);
    return fail(self, rc, "%s", message);
}

static const char *
type_name(const msgpack_object *object)
{
    switch (object->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return "integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "negative integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "str";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_BIN:
        return "bin";
    case MSGPACK_OBJECT_EXT:
        return "ext";
    }
    return "unknown";
}

/* ---- msgpack structure check -------------------------------------------- */

/* True when p[0..len) is exactly one msgpack value, with containers nested at
   most max_depth deep, none declaring more elements than bytes remain. Else
   false and a reason in `why`. The walk is events/wire.c's mp_scan, the same
   one pacerd applies to requests. */
static bool
msgpack_check(const uint8_t *p, size_t len, int max_depth, char *why, size_t whylen)
{
    assert(max_depth <= PACER_MSGPACK_MAX_DEPTH);
    if (mp_scan(p, len, max_depth))
        return true;
    snprintf(why, whylen,
             "not exactly one well-formed msgpack value (truncated, trailing bytes, a count "
             "larger than the bytes that follow, or nested deeper than %d)",
             max_depth);
    return false;
}

/* True when a msgpack value starting with byte b is a map. */
static bool
is_map_byte(uint8_t b)
{
    return (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
}

/* ---- msgpack object access ------------------------------------------------ */

/* libpacer_private.h; the alert records and the subscriber read maps with it too. */
const msgpack_object *
pacer_map_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t key_len = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == key_len &&
            memcmp(kv->key.via.str.ptr, key, key_len) == 0)
            return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
    }
    return NULL;
}

/* Field readers for replies. `where` names the containing object in error
   messages ("results[3]"). Absent optional fields leave *out unchanged. */
static int
field_uint(pacer_client_t *self, const reply_t *reply, const msgpack_object *map, const char *where,
           const char *key, bool required, uint64_t *out)
{
    const msgpack_object *value = pacer_map_get(map, key);
    if (!value)
        return required ? malformed(self, reply->endpoint, "%s%s: missing", where, key) : PACER_OK;
    if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return malformed(self, reply->endpoint, "%s%s: expected a non-negative integer, got %s",
                         where, key, type_name(value));
    *out = value->via.u64;
    return PACER_OK;
}

static int
field_int(pacer_client_t *self, const reply_t *reply, const msgpack_object *map, const char *where,
          const char *key, bool required, int64_t *out)
{
    const msgpack_object *value = pacer_map_get(map, key);
    if (!value)
        return required ? malformed(self, reply->endpoint, "%s%s: missing", where, key) : PACER_OK;
    if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = value->via.i64;
    else if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER && value->via.u64 <= INT64_MAX)
        *out = (int64_t)value->via.u64;
    else
        return malformed(self, reply->endpoint, "%s%s: expected an int64, got %s", where, key,
                         type_name(value));
    return PACER_OK;
}

static int
field_bool(pacer_client_t *self, const reply_t *reply, const msgpack_object *map, const char *where,
           const char *key, bool required, bool *out)
{
    const msgpack_object *value = pacer_map_get(map, key);
    if (!value)
        return required ? malformed(self, reply->endpoint, "%s%s: missing", where, key) : PACER_OK;
    if (value->type != MSGPACK_OBJECT_BOOLEAN)
        return malformed(self, reply->endpoint, "%s%s: expected a bool, got %s", where, key,
                         type_name(value));
    *out = value->via.boolean;
    return PACER_OK;
}

/* A str field copied, truncated if need be, into a fixed buffer. */
static int
field_str(pacer_client_t *self, const reply_t *reply, const msgpack_object *map, const char *where,
          const char *key, bool required, char *out, size_t outlen)
{
    const msgpack_object *value = pacer_map_get(map, key);
    if (!value)
        return required ? malformed(self, reply->endpoint, "%s%s: missing", where, key) : PACER_OK;
    if (value->type != MSGPACK_OBJECT_STR)
        return malformed(self, reply->endpoint, "%s%s: expected a str, got %s", where, key,
                         type_name(value));
    size_t n = value->via.str.size < outlen - 1 ? value->via.str.size : outlen - 1;
    memcpy(out, value->via.str.ptr, n);
    out[n] = '\0';
    return PACER_OK;
}

static int
field_hash(pacer_client_t *self, const reply_t *reply, const msgpack_object *map, const char *where,
           const char *key, bool required, uint8_t out[PACER_HASH_BYTES])
{
    const msgpack_object *value = pacer_map_get(map, key);
    if (!value)
        return required ? malformed(self, reply->endpoint, "%s%s: missing", where, key) : PACER_OK;
    if (value->type != MSGPACK_OBJECT_BIN || value->via.bin.size != PACER_HASH_BYTES)
        return malformed(self, reply->endpoint, "%s%s: expected a bin of %d bytes, got %s", where,
                         key, PACER_HASH_BYTES, type_name(value));
    memcpy(out, value->via.bin.ptr, PACER_HASH_BYTES);
    return PACER_OK;
}

/* A heap copy of a str field, NULL-terminated; *out NULL when absent. */
static int
field_strdup(pacer_client_t *self, const reply_t *reply, const msgpack_object *map,
             const char *where, const char *key, bool required, char **out)
{
    *out = NULL;
    const msgpack_object *value = pacer_map_get(map, key);
    if (!value)
        return required ? malformed(self, reply->endpoint, "%s%s: missing", where, key) : PACER_OK;
    if (value->type != MSGPACK_OBJECT_STR)
        return malformed(self, reply->endpoint, "%s%s: expected a str, got %s", where, key,
                         type_name(value));
    *out = malloc(value->via.str.size + 1);
    if (!*out)
        return fail(self, PACER_ENOMEM, "out of memory reading a reply");
    memcpy(*out, value->via.str.ptr, value->via.str.size);
    (*out)[value->via.str.size] = '\0';
    return PACER_OK;
}

/* ---- time ---------------------------------------------------------------- */

/* libpacer_private.h; the subscriber keeps its deadlines with it too. */
int64_t
pacer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1 when the client waits forever. */
static int64_t
deadline_ms(pacer_client_t *self)
{
    return self->timeout_ms > 0 ? pacer_now_ms() + self->timeout_ms : -1;
}

static void
format_timeout(int timeout_ms, char *out, size_t outlen)
{
    if (timeout_ms % 1000 == 0)
        snprintf(out, outlen, "%d s", timeout_ms / 1000);
    else
        snprintf(out, outlen, "%.1f s", timeout_ms / 1000.0);
}

/* How long a request waits for a connection, and a lost connection may
   stay lost while a reply is awaited; -1: forever. */
static int
connect_wait_ms(pacer_client_t *self)
{
    if (self->connect_timeout_ms > 0 &&
        (self->timeout_ms <= 0 || self->connect_timeout_ms < self->timeout_ms))
        return self->connect_timeout_ms;
    return self->timeout_ms > 0 ? self->timeout_ms : -1;
}

/* ---- client --------------------------------------------------------------- */

/* A DEALER connected to `endpoint`. ZMQ_IMMEDIATE: a request is queued only
   on a completed connection, so the socket is writable exactly while it
   has one, which is how client_send tells a daemon that is not there from
   one that is slow to answer, and client_recv a connection that is lost. */
static void *
socket_connect(pacer_client_t *self, const char *endpoint, pacer_watch_t *watch)
{
    int immediate = 1;
    int sndtimeo = self->timeout_ms > 0 ? self->timeout_ms : -1;
    const pacer_sockopt_t options[] = {
        {ZMQ_IMMEDIATE, &immediate, sizeof immediate},
        {ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo},
    };
    return pacer_socket_connect(self->ctx, ZMQ_DEALER, endpoint, self->secure ? &self->curve : NULL,
                                watch, options, sizeof options / sizeof options[0]);
}

pacer_client_t *
pacer_client_new(const char *append_endpoint, const char *query_endpoint)
{
    pacer_curve_t curve;
    char why[512];
    int found = pacer_curve_from_env(&curve, why, sizeof why);
    pacer_client_t *self =
        pacer_client_new_curve(append_endpoint, query_endpoint, found == 1 ? &curve : NULL);
    if (self && found < 0)
        snprintf(self->setup_error, sizeof self->setup_error, "%s", why);
    return self;
}

pacer_client_t *
pacer_client_new_curve(const char *append_endpoint, const char *query_endpoint,
                       const pacer_curve_t *curve)
{
    int saved_errno;
    pacer_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->timeout_ms = PACER_DEFAULT_TIMEOUT_MS;
    self->next_corr = 1;
    if (curve) {
        self->secure = true;
        self->curve = *curve;
    }
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto failed;
    if (append_endpoint) {
        self->append_endpoint = strdup(append_endpoint);
        if (!self->append_endpoint) {
            errno = ENOMEM;
            goto failed;
        }
        self->append = socket_connect(self, append_endpoint, &self->append_watch);
        if (!self->append)
            goto failed;
    }
    if (query_endpoint) {
        self->query_endpoint = strdup(query_endpoint);
        if (!self->query_endpoint) {
            errno = ENOMEM;
            goto failed;
        }
        self->query = socket_connect(self, query_endpoint, &self->query_watch);
        if (!self->query)
            goto failed;
    }
    return self;

failed:
    saved_errno = errno;
    pacer_client_destroy(&self);
    errno = saved_errno;
    return NULL;
}

void
pacer_client_destroy(pacer_client_t **self_p)
{
    assert(self_p);
    pacer_client_t *self = *self_p;
    if (!self)
        return;
    pacer_socket_close(&self->append, &self->append_watch);
    pacer_socket_close(&self->query, &self->query_watch);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self->append_endpoint);
    free(self->query_endpoint);
    free(self->pending);
    free(self);
    *self_p = NULL;
}

void
pacer_client_set_timeout(pacer_client_t *self, int timeout_ms)
{
    assert(self);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    int sndtimeo = timeout_ms > 0 ? timeout_ms : -1;
    /* Only fails on a closed socket or bad option, neither possible here. */
    if (self->append)
        zmq_setsockopt(self->append, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
    if (self->query)
        zmq_setsockopt(self->query, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
}

int
pacer_client_timeout(pacer_client_t *self)
{
    assert(self);
    return self->timeout_ms;
}

void
pacer_client_set_connect_timeout(pacer_client_t *self, int timeout_ms)
{
    assert(self);
    self->connect_timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

int
pacer_client_connect_timeout(pacer_client_t *self)
{
    assert(self);
    return self->connect_timeout_ms;
}

const char *
pacer_client_error(pacer_client_t *self)
{
    assert(self);
    return self->error;
}

const char *
pacer_client_error_code(pacer_client_t *self)
{
    assert(self);
    return self->error_code;
}

/* ---- transport ------------------------------------------------------------- */

static void
free_body(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Is the socket writable, that is (ZMQ_IMMEDIATE) connected? */
static bool
socket_connected(void *socket)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(socket, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLOUT);
}

/* Wait up to the connect timeout for the socket to be connected. Only
   asked when nothing else is queued on it, so that not writable means not
   connected rather than a full queue. */
static int
client_wait_connected(pacer_client_t *self, void *socket, const char *endpoint)
{
    int wait = connect_wait_ms(self);
    int64_t deadline = wait >= 0 ? pacer_now_ms() + wait : -1;
    /* and its monitor: a refused handshake never connects */
    pacer_watch_t *watch = socket == self->append ? &self->append_watch : &self->query_watch;
    zmq_pollitem_t items[2] = {{socket, 0, ZMQ_POLLOUT, 0}, {watch->pair, 0, ZMQ_POLLIN, 0}};
    for (;;) {
        long left = -1;
        if (deadline >= 0) {
            int64_t ms = deadline - pacer_now_ms();
            left = ms > 0 ? (long)ms : 0;
        }
        char why[512];
        if (pacer_watch_check(watch, endpoint, self->secure ? &self->curve : NULL, why,
                              sizeof why) != PACER_OK)
            return fail(self, PACER_EAUTH, "%s", why);
        int rc = zmq_poll(items, watch->pair ? 2 : 1, left);
        if (rc == -1 && zmq_errno() == EINTR)
            continue;
        if (rc == -1)
            return fail(self, PACER_ETRANSPORT, "cannot send to %s: %s", endpoint,
                        zmq_strerror(zmq_errno()));
        if (items[0].revents & ZMQ_POLLOUT)
            return PACER_OK;
        if (rc > 0)
            continue; /* the monitor spoke */
        char waited[32];
        format_timeout(wait, waited, sizeof waited);
        return fail(self, PACER_ETIMEOUT,
                    "pacerd is not answering at %s: is it running? (no connection within %s)",
                    endpoint, waited);
    }
}

/* Send the request in `body` (taken over and emptied) as delimiter + body.
   `alone`: nothing else is in flight on the socket, so a daemon that is
   not there is reported after the connect timeout. */
static int
client_send(pacer_client_t *self, void *socket, const char *endpoint, msgpack_sbuffer *body,
            bool alone)
{
    if (self->setup_error[0]) {
        msgpack_sbuffer_clear(body);
        return fail(self, PACER_EINVAL, "%s", self->setup_error);
    }
    if (alone) {
        int rc = client_wait_connected(self, socket, endpoint);
        if (rc != PACER_OK) {
            msgpack_sbuffer_clear(body);
            return rc;
        }
    }
    size_t size = body->size;
    char *data = msgpack_sbuffer_release(body);
    zmq_msg_t msg;
    if (zmq_msg_init_data(&msg, data, size, free_body, NULL) == -1) {
        free(data);
        return fail(self, PACER_ENOMEM, "out of memory queueing a request to %s", endpoint);
    }
    if (zmq_send(socket, "", 0, ZMQ_SNDMORE) == -1 || zmq_msg_send(&msg, socket, 0) == -1) {
        int err = zmq_errno();
        zmq_msg_close(&msg);
        if (err == EAGAIN) {
            char wait[32];
            format_timeout(self->timeout_ms, wait, sizeof wait);
            return fail(self, PACER_ETIMEOUT,
                        "could not queue a request to %s within %s: is pacerd running?", endpoint,
                        wait);
        }
        return fail(self, PACER_ETRANSPORT, "cannot send to %s: %s", endpoint, zmq_strerror(err));
    }
    return PACER_OK;
}

/* Wait until `deadline` (-1: forever) for one reply and unpack it into
   *reply. PACER_EPROTOCOL when it arrived but is not a delimiter + one
   msgpack map with v = 1 and ok (the message is consumed either way).
   `alone`: one request is in flight, so a connection lost for the connect
   timeout means its reply will not come (PACER_ETIMEOUT then, sooner than
   the deadline). On PACER_OK the caller calls reply_done. */
static int
client_recv(pacer_client_t *self, void *socket, const char *endpoint, int64_t deadline,
            reply_t *reply, bool alone)
{
    /* the socket, and its monitor: a refused handshake is never answered */
    pacer_watch_t *watch = socket == self->append ? &self->append_watch : &self->query_watch;
    zmq_pollitem_t items[2] = {{socket, 0, ZMQ_POLLIN, 0}, {watch->pair, 0, ZMQ_POLLIN, 0}};
    int lost_wait = connect_wait_ms(self);
    int64_t lost_since = -1;
    for (;;) {
        long wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - pacer_now_ms();
            wait = left > 0 ? (long)left : 0;
        }
        if (alone && lost_wait >= 0 && (wait < 0 || wait > RECV_CHECK_MS))
            wait = RECV_CHECK_MS;
        char why[512];
        if (pacer_watch_check(watch, endpoint, self->secure ? &self->curve : NULL, why,
                              sizeof why) != PACER_OK)
            return fail(self, PACER_EAUTH, "%s", why);
        int rc = zmq_poll(items, watch->pair ? 2 : 1, wait);
        if (rc == -1 && zmq_errno() == EINTR)
            continue;
        if (rc == -1)
            return fail(self, PACER_ETRANSPORT, "cannot receive from %s: %s", endpoint,
                        zmq_strerror(zmq_errno()));
        if (rc > 0 && !(items[0].revents & ZMQ_POLLIN))
            continue; /* the monitor spoke */
        if (rc == 0 && (deadline < 0 || pacer_now_ms() < deadline)) {
            if (!alone || lost_wait < 0)
                continue;
            if (socket_connected(socket))
                lost_since = -1;
            else if (lost_since < 0)
                lost_since = pacer_now_ms();
            else if (pacer_now_ms() - lost_since >= lost_wait) {
                char waited[32];
                format_timeout(lost_wait, waited, sizeof waited);
                return fail(self, PACER_ETIMEOUT,
                            "lost the connection to pacerd at %s for %s while waiting for a "
                            "reply: is it running? (the request may or may not have been "
                            "carried out)",
                            endpoint, waited);
            }
            continue;
        }
        if (rc == 0) {
            char waited[32];
            format_timeout(self->timeout_ms, waited, sizeof waited);
            return fail(self, PACER_ETIMEOUT, "no reply from %s within %s: is pacerd running?",
                        endpoint, waited);
        }
        break;
    }

    /* Read every frame of the message, keeping the second as the body. */
    memset(reply, 0, sizeof *reply);
    reply->endpoint = endpoint;
    zmq_msg_init(&reply->msg);
    size_t frames = 0;
    bool delimited = true;
    for (bool more = true; more;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, ZMQ_DONTWAIT) == -1) {
            int err = zmq_errno();
            zmq_msg_close(&frame);
            zmq_msg_close(&reply->msg);
            return fail(self, PACER_ETRANSPORT, "cannot receive from %s: %s", endpoint,
                        zmq_strerror(err));
        }
        more = zmq_msg_more(&frame);
        if (frames == 0 && zmq_msg_size(&frame) != 0)
            delimited = false;
        if (frames == 1)
            zmq_msg_move(&reply->msg, &frame);
        zmq_msg_close(&frame);
        frames++;
    }
    if (frames != 2 || !delimited) {
        zmq_msg_close(&reply->msg);
        return malformed(self, endpoint, "%zu frames%s, expected an empty frame and a body", frames,
                         delimited ? "" : " without the empty delimiter");
    }

    const uint8_t *data = zmq_msg_data(&reply->msg);
    size_t size = zmq_msg_size(&reply->msg);
    char why[160];
    if (!msgpack_check(data, size, PACER_MSGPACK_MAX_DEPTH, why, sizeof why)) {
        zmq_msg_close(&reply->msg);
        return malformed(self, endpoint, "body is not one msgpack value: %s", why);
    }
    msgpack_unpacked_init(&reply->unpacked);
    size_t off = 0;
    msgpack_unpack_return ret =
        msgpack_unpack_next(&reply->unpacked, (const char *)data, size, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != size) {
        msgpack_unpacked_destroy(&reply->unpacked);
        zmq_msg_close(&reply->msg);
        if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
            return fail(self, PACER_ENOMEM, "out of memory unpacking a reply from %s", endpoint);
        return malformed(self, endpoint, "body does not unpack (msgpack-c error %d)", (int)ret);
    }
    reply->body = &reply->unpacked.data;

    int rc = PACER_OK;
    int64_t version = 0;
    bool ok_value = false;
    if (reply->body->type != MSGPACK_OBJECT_MAP)
        rc = malformed(self, endpoint, "body is a %s, expected a map", type_name(reply->body));
    else if ((rc = field_int(self, reply, reply->body, "", "v", true, &version)) != PACER_OK)
        ;
    else if (version != 1)
        rc = malformed(self, endpoint, "protocol version %" PRId64 ", this client speaks 1",
                       version);
    else if ((rc = field_bool(self, reply, reply->body, "", "ok", true, &ok_value)) != PACER_OK)
        ;
    else {
        const msgpack_object *corr = pacer_map_get(reply->body, "corr");
        if (corr && corr->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            reply->has_corr = true;
            reply->corr = corr->via.u64;
        }
    }
    if (rc != PACER_OK) {
        msgpack_unpacked_destroy(&reply->unpacked);
        zmq_msg_close(&reply->msg);
    }
    return rc;
}

static void
reply_done(reply_t *reply)
{
    msgpack_unpacked_destroy(&reply->unpacked);
    zmq_msg_close(&reply->msg);
}

/* PACER_OK when the reply says ok: true, else PACER_EREFUSED with the
   daemon's code and message recorded. */
static int
reply_refusal(pacer_client_t *self, const reply_t *reply)
{
    bool ok = false;
    field_bool(self, reply, reply->body, "", "ok", true, &ok); /* checked in client_recv */
    if (ok)
        return PACER_OK;
    char code[sizeof self->error_code] = "";
    char message[768] = "";
    int rc = field_str(self, reply, reply->body, "", "error", true, code, sizeof code);
    if (rc == PACER_OK)
        rc = field_str(self, reply, reply->body, "", "message", false, message, sizeof message);
    if (rc != PACER_OK)
        return rc;
    fail(self, PACER_EREFUSED, "pacerd (%s) refused the request: %s%s%s", reply->endpoint, code,
         message[0] ? ": " : "", message);
    memcpy(self->error_code, code, sizeof code);
    return PACER_EREFUSED;
}

/* ---- request encoding ------------------------------------------------------ */

/* libpacer_private.h; the alert queries and the subscriber pack with it too. */
bool
pacer_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) == 0 && msgpack_pack_str_body(pk, s, len) == 0;
}

/* The map header and the keys every request has: v, op, corr. */
static bool
pack_request_head(msgpack_packer *pk, size_t keys, const char *op, uint64_t corr)
{
    return msgpack_pack_map(pk, keys) == 0 && pacer_pack_str(pk, "v") &&
           msgpack_pack_int(pk, 1) == 0 && pacer_pack_str(pk, "op") && pacer_pack_str(pk, op) &&
           pacer_pack_str(pk, "corr") && msgpack_pack_uint64(pk, corr) == 0;
}

/* ---- batch ------------------------------------------------------------------ */

pacer_batch_t *
pacer_batch_new(void)
{
    pacer_batch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    msgpack_sbuffer_init(&self->events);
    return self;
}

void
pacer_batch_destroy(pacer_batch_t **self_p)
{
    assert(self_p);
    pacer_batch_t *self = *self_p;
    if (!self)
        return;
    msgpack_sbuffer_destroy(&self->events);
    free(self);
    *self_p = NULL;
}

int
pacer_batch_add_msgpack(pacer_batch_t *self, const void *event, size_t len)
{
    assert(self);
    if (!event || len == 0)
        return PACER_EINVAL;
    const uint8_t *bytes = event;
    char why[160];
    if (!is_map_byte(bytes[0]) || !msgpack_check(bytes, len, EVENT_MAX_DEPTH, why, sizeof why))
        return PACER_EINVAL;
    if (self->count >= PACER_BATCH_MAX_EVENTS ||
        len > PACER_BODY_MAX_BYTES - APPEND_HEADER_BYTES - self->events.size)
        return PACER_EFULL;
    if (msgpack_sbuffer_write(&self->events, event, len) != 0)
        return PACER_ENOMEM;
    self->count++;
    return PACER_OK;
}

size_t
pacer_batch_count(pacer_batch_t *self)
{
    assert(self);
    return self->count;
}

size_t
pacer_batch_bytes(pacer_batch_t *self)
{
    assert(self);
    return self->events.size;
}

void
pacer_batch_set_atomic(pacer_batch_t *self, bool atomic)
{
    assert(self);
    self->atomic = atomic;
}

bool
pacer_batch_atomic(pacer_batch_t *self)
{
    assert(self);
    return self->atomic;
}

void
pacer_batch_reset(pacer_batch_t *self)
{
    assert(self);
    msgpack_sbuffer_clear(&self->events);
    self->count = 0;
}

/* ---- append results ------------------------------------------------------- */

size_t
pacer_append_result_count(pacer_append_result_t *self)
{
    assert(self);
    return self->count;
}

const pacer_event_result_t *
pacer_append_result_event(pacer_append_result_t *self, size_t index)
{
    assert(self);
    return index < self->count ? &self->events[index] : NULL;
}

uint64_t
pacer_append_result_appended(pacer_append_result_t *self)
{
    assert(self);
    return self->appended;
}

uint64_t
pacer_append_result_duplicates(pacer_append_result_t *self)
{
    assert(self);
    return self->duplicates;
}

uint64_t
pacer_append_result_rejected(pacer_append_result_t *self)
{
    assert(self);
    return self->rejected;
}

uint64_t
pacer_append_result_last_seq(pacer_append_result_t *self)
{
    assert(self);
    return self->last_seq;
}

void
pacer_append_result_destroy(pacer_append_result_t **self_p)
{
    assert(self_p);
    pacer_append_result_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free((char *)self->events[i].error);
        free((char *)self->events[i].message);
    }
    free(self->events);
    free(self);
    *self_p = NULL;
}

/* Decode an ok append reply that must hold `expected` results. */
static int
append_result_decode(pacer_client_t *self, const reply_t *reply, size_t expected,
                     pacer_append_result_t **result_p)
{
    const msgpack_object *results = pacer_map_get(reply->body, "results");
    if (!results || results->type != MSGPACK_OBJECT_ARRAY)
        return malformed(self, reply->endpoint, "results: expected an array, got %s",
                         results ? type_name(results) : "nothing");
    if (results->via.array.size != expected)
        return malformed(self, reply->endpoint, "%" PRIu32 " results for a batch of %zu events",
                         results->via.array.size, expected);

    pacer_append_result_t *result = calloc(1, sizeof *result);
    if (result)
        result->events = calloc(expected ? expected : 1, sizeof *result->events);
    if (!result || !result->events) {
        pacer_append_result_destroy(&result);
        return fail(self, PACER_ENOMEM, "out of memory decoding an append reply");
    }
    int rc = PACER_OK;
    uint64_t appended = 0, duplicates = 0, rejected = 0;
    for (size_t i = 0; i < expected && rc == PACER_OK; i++) {
        const msgpack_object *entry = &results->via.array.ptr[i];
        pacer_event_result_t *event = &result->events[i];
        result->count = i + 1; /* so destroy frees what this entry holds */
        char where[48];
        snprintf(where, sizeof where, "results[%zu].", i);
        if (entry->type != MSGPACK_OBJECT_MAP) {
            rc = malformed(self, reply->endpoint, "results[%zu]: expected a map, got %s", i,
                           type_name(entry));
            break;
        }
        if (pacer_map_get(entry, "seq")) {
            rc = field_uint(self, reply, entry, where, "seq", true, &event->seq);
            if (rc == PACER_OK)
                rc = field_bool(self, reply, entry, where, "dup", false, &event->dup);
            if (rc == PACER_OK && event->seq == 0)
                rc = malformed(self, reply->endpoint, "%sseq: 0 is not a sequence number", where);
            if (event->dup)
                duplicates++;
            else
                appended++;
        } else {
            char *code = NULL, *message = NULL;
            rc = field_strdup(self, reply, entry, where, "error", true, &code);
            if (rc == PACER_OK)
                rc = field_strdup(self, reply, entry, where, "message", false, &message);
            event->error = code;
            event->message = message;
            rejected++;
        }
    }
    /* The totals are in the reply; when a daemon leaves one out, count. */
    result->appended = appended;
    result->duplicates = duplicates;
    result->rejected = rejected;
    if (rc == PACER_OK)
        rc = field_uint(self, reply, reply->body, "", "appended", false, &result->appended);
    if (rc == PACER_OK)
        rc = field_uint(self, reply, reply->body, "", "duplicates", false, &result->duplicates);
    if (rc == PACER_OK)
        rc = field_uint(self, reply, reply->body, "", "rejected", false, &result->rejected);
    if (rc == PACER_OK)
        rc = field_uint(self, reply, reply->body, "", "last_seq", false, &result->last_seq);
    if (rc != PACER_OK) {
        pacer_append_result_destroy(&result);
        return rc;
    }
    *result_p = result;
    return PACER_OK;
}

/* ---- append ----------------------------------------------------------------- */

static int
pending_push(pacer_client_t *self, uint64_t corr, size_t count)
{
    if (self->pending_count == self->pending_max) {
        size_t max = self->pending_max ? self->pending_max * 2 : 16;
        pending_t *pending = realloc(self->pending, max * sizeof *pending);
        if (!pending)
            return PACER_ENOMEM;
        self->pending = pending;
        self->pending_max = max;
    }
    self->pending[self->pending_count++] = (pending_t){corr, count};
    return PACER_OK;
}

static pending_t
pending_take(pacer_client_t *self, size_t index)
{
    assert(index < self->pending_count);
    pending_t taken = self->pending[index];
    memmove(&self->pending[index], &self->pending[index + 1],
            (self->pending_count - index - 1) * sizeof *self->pending);
    self->pending_count--;
    return taken;
}

static bool
pending_find(pacer_client_t *self, uint64_t corr, size_t *index)
{
    for (size_t i = 0; i < self->pending_count; i++)
        if (self->pending[i].corr == corr) {
            *index = i;
            return true;
        }
    return false;
}

int
pacer_append_send(pacer_client_t *self, pacer_batch_t *batch, uint64_t *corr_p)
{
    assert(self);
    error_clear(self);
    if (!batch || batch->count == 0)
        return fail(self, PACER_EINVAL, "an append needs a batch of at least one event");
    if (!self->append)
        return fail(self, PACER_ETRANSPORT, "this client has no append endpoint");
    if (pending_push(self, self->next_corr, batch->count) != PACER_OK)
        return fail(self, PACER_ENOMEM, "out of memory");

    uint64_t corr = self->next_corr;
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    bool packed =
        pack_request_head(&pk, batch->atomic ? 5 : 4, "append", corr) &&
        (!batch->atomic || (pacer_pack_str(&pk, "atomic") && msgpack_pack_true(&pk) == 0)) &&
        pacer_pack_str(&pk, "events") && msgpack_pack_array(&pk, batch->count) == 0 &&
        msgpack_sbuffer_write(&body, batch->events.data, batch->events.size) == 0;
    int rc = packed ? client_send(self, self->append, self->append_endpoint, &body,
                                  self->pending_count == 1)
                    : fail(self, PACER_ENOMEM, "out of memory encoding an append");
    msgpack_sbuffer_destroy(&body);
    if (rc != PACER_OK) {
        self->pending_count--; /* the entry just pushed */
        return rc;
    }
    self->next_corr++;
    if (corr_p)
        *corr_p = corr;
    return PACER_OK;
}

int
pacer_append_recv(pacer_client_t *self, pacer_append_result_t **result_p, uint64_t *corr_p)
{
    assert(self);
    error_clear(self);
    if (!result_p)
        return fail(self, PACER_EINVAL, "pacer_append_recv needs somewhere to put the result");
    *result_p = NULL;
    if (!self->append)
        return fail(self, PACER_ETRANSPORT, "this client has no append endpoint");
    if (self->pending_count == 0)
        return fail(self, PACER_EIDLE, "no append is in flight");

    int64_t deadline = deadline_ms(self);
    for (;;) {
        reply_t reply;
        int rc = client_recv(self, self->append, self->append_endpoint, deadline, &reply,
                             self->pending_count == 1);
        if (rc == PACER_ETIMEOUT || rc == PACER_EAUTH) {
            self->pending_count = 0; /* in doubt: late replies will be dropped */
            return rc;
        }
        if (rc != PACER_OK) {
            /* A reply we could not read: replies come back in order, so it
               answers the oldest batch in flight. */
            if (rc != PACER_ETRANSPORT) {
                pending_t lost = pending_take(self, 0);
                if (corr_p)
                    *corr_p = lost.corr;
            }
            return rc;
        }
        size_t index = 0;
        if (reply.has_corr && !pending_find(self, reply.corr, &index)) {
            reply_done(&reply); /* answers a batch we gave up on */
            continue;
        }
        pending_t answered = pending_take(self, index);
        if (corr_p)
            *corr_p = answered.corr;
        rc = reply_refusal(self, &reply);
        if (rc == PACER_OK)
            rc = append_result_decode(self, &reply, answered.count, result_p);
        reply_done(&reply);
        return rc;
    }
}

size_t
pacer_append_inflight(pacer_client_t *self)
{
    assert(self);
    return self->pending_count;
}

int
pacer_append(pacer_client_t *self, pacer_batch_t *batch, pacer_append_result_t **result_p)
{
    assert(self);
    if (self->pending_count > 0) {
        error_clear(self);
        return fail(self, PACER_EBUSY,
                    "pacer_append with %zu pipelined batches in flight; receive them first",
                    self->pending_count);
    }
    int rc = pacer_append_send(self, batch, NULL);
    if (rc == PACER_OK)
        rc = pacer_append_recv(self, result_p, NULL);
    return rc;
}

/* ---- queries -------------------------------------------------------------- */

/* Send a query and wait for the reply that carries its corr. On PACER_OK
   the reply is ok: true and the caller calls reply_done. */
static int
client_query(pacer_client_t *self, msgpack_sbuffer *request, uint64_t corr, reply_t *reply)
{
    int rc = client_send(self, self->query, self->query_endpoint, request, true);
    if (rc != PACER_OK)
        return rc;
    int64_t deadline = deadline_ms(self);
    for (;;) {
        rc = client_recv(self, self->query, self->query_endpoint, deadline, reply, true);
        if (rc != PACER_OK)
            return rc;
        /* A query is answered before the next is sent, so any other corr is
           the late reply to one that timed out. */
        if (reply->has_corr && reply->corr != corr) {
            reply_done(reply);
            continue;
        }
        rc = reply_refusal(self, reply);
        if (rc != PACER_OK)
            reply_done(reply);
        return rc;
    }
}

int
pacer_status(pacer_client_t *self, pacer_status_t *status)
{
    assert(self);
    error_clear(self);
    if (!status)
        return fail(self, PACER_EINVAL, "pacer_status needs a status to fill");
    if (!self->query)
        return fail(self, PACER_ETRANSPORT, "this client has no query endpoint");

    uint64_t corr = self->next_corr++;
    msgpack_sbuffer request;
    msgpack_sbuffer_init(&request);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &request, msgpack_sbuffer_write);
    if (!pack_request_head(&pk, 3, "status", corr)) {
        msgpack_sbuffer_destroy(&request);
        return fail(self, PACER_ENOMEM, "out of memory encoding a request");
    }
    reply_t reply;
    int rc = client_query(self, &request, corr, &reply);
    msgpack_sbuffer_destroy(&request);
    if (rc != PACER_OK)
        return rc;

    memset(status, 0, sizeof *status);
    const msgpack_object *body = reply.body;
    rc = field_str(self, &reply, body, "", "version", false, status->version,
                   sizeof status->version);
    if (rc == PACER_OK)
        rc = field_int(self, &reply, body, "", "protocol", false, &status->protocol);
    if (rc == PACER_OK)
        rc = field_str(self, &reply, body, "", "state_dir", false, status->state_dir,
                       sizeof status->state_dir);
    if (rc == PACER_OK)
        rc = field_uint(self, &reply, body, "", "last_seq", true, &status->last_seq);
    if (rc == PACER_OK)
        rc = field_hash(self, &reply, body, "", "last_hash", false, status->last_hash);
    if (rc == PACER_OK)
        rc = field_uint(self, &reply, body, "", "log_events", false, &status->log_events);
    if (rc == PACER_OK)
        rc = field_int(self, &reply, body, "", "started_at", false, &status->started_at);
    if (rc == PACER_OK)
        rc = field_int(self, &reply, body, "", "uptime_ms", false, &status->uptime_ms);
    if (rc == PACER_OK)
        rc = field_uint(self, &reply, body, "", "map_size", false, &status->map_size);
    if (rc == PACER_OK)
        rc = field_uint(self, &reply, body, "", "snapshot_seq", false, &status->snapshot_seq);
    if (rc == PACER_OK)
        rc = field_uint(self, &reply, body, "", "undefined_nodes", false, &status->undefined_nodes);
    const msgpack_object *counters = pacer_map_get(body, "counters");
    if (rc == PACER_OK && counters && counters->type != MSGPACK_OBJECT_MAP)
        rc = malformed(self, reply.endpoint, "counters: expected a map, got %s",
                       type_name(counters));
    if (rc == PACER_OK && counters) {
        struct {
            const char *key;
            uint64_t *value;
        } fields[] = {
            {"requests", &status->counters.requests},
            {"appended", &status->counters.appended},
            {"duplicates", &status->counters.duplicates},
            {"rejected", &status->counters.rejected},
            {"bad_requests", &status->counters.bad_requests},
            {"commits", &status->counters.commits},
            {"map_resizes", &status->counters.map_resizes},
        };
        for (size_t i = 0; i < sizeof fields / sizeof fields[0] && rc == PACER_OK; i++)
            rc = field_uint(self, &reply, counters, "counters.", fields[i].key, false,
                            fields[i].value);
    }
    reply_done(&reply);
    return rc;
}

/* ---- events --------------------------------------------------------------- */

size_t
pacer_page_count(pacer_page_t *self)
{
    assert(self);
    return self->count;
}

const pacer_record_t *
pacer_page_record(pacer_page_t *self, size_t index)
{
    assert(self);
    return index < self->count ? &self->records[index] : NULL;
}

uint64_t
pacer_page_next(pacer_page_t *self)
{
    assert(self);
    return self->next;
}

uint64_t
pacer_page_last_seq(pacer_page_t *self)
{
    assert(self);
    return self->last_seq;
}

bool
pacer_page_at_end(pacer_page_t *self)
{
    assert(self);
    return self->next > self->last_seq;
}

void
pacer_page_destroy(pacer_page_t **self_p)
{
    assert(self_p);
    pacer_page_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; self->records && i < self->count; i++)
        free((char *)self->records[i].principal);
    free(self->records);
    free(self->data);
    free(self);
    *self_p = NULL;
}

/* Decode an ok `events` reply. The event bytes of all records are gathered
   into one buffer: a bin (raw: true) is copied as is, a map (a daemon that
   ignores raw) is packed again by msgpack-c. */
static int
page_decode(pacer_client_t *self, const reply_t *reply, pacer_page_t **page_p)
{
    const msgpack_object *events = pacer_map_get(reply->body, "events");
    if (!events || events->type != MSGPACK_OBJECT_ARRAY)
        return malformed(self, reply->endpoint, "events: expected an array, got %s",
                         events ? type_name(events) : "nothing");
    size_t count = events->via.array.size;
    pacer_page_t *page = calloc(1, sizeof *page);
    size_t *offsets = calloc(count ? count : 1, sizeof *offsets);
    if (page)
        page->records = calloc(count ? count : 1, sizeof *page->records);
    if (!page || !page->records || !offsets) {
        free(offsets);
        pacer_page_destroy(&page);
        return fail(self, PACER_ENOMEM, "out of memory decoding %zu records", count);
    }
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &data, msgpack_sbuffer_write);

    int rc = field_uint(self, reply, reply->body, "", "next", true, &page->next);
    if (rc == PACER_OK)
        rc = field_uint(self, reply, reply->body, "", "last_seq", true, &page->last_seq);
    for (size_t i = 0; i < count && rc == PACER_OK; i++) {
        const msgpack_object *entry = &events->via.array.ptr[i];
        pacer_record_t *record = &page->records[i];
        char where[48];
        snprintf(where, sizeof where, "events[%zu].", i);
        if (entry->type != MSGPACK_OBJECT_MAP) {
            rc = malformed(self, reply->endpoint, "events[%zu]: expected a map, got %s", i,
                           type_name(entry));
            break;
        }
        rc = field_uint(self, reply, entry, where, "seq", true, &record->seq);
        if (rc == PACER_OK)
            rc = field_int(self, reply, entry, where, "recorded_at", true, &record->recorded_at);
        if (rc == PACER_OK)
            rc = field_hash(self, reply, entry, where, "hash", true, record->hash);
        char *principal = NULL;
        if (rc == PACER_OK)
            rc = field_strdup(self, reply, entry, where, "principal", false, &principal);
        record->principal = principal;
        page->count = i + 1; /* so that pacer_page_destroy frees it */
        if (rc != PACER_OK)
            break;
        const msgpack_object *event = pacer_map_get(entry, "event");
        offsets[i] = data.size;
        bool stored;
        if (event && event->type == MSGPACK_OBJECT_BIN) {
            const uint8_t *bytes = (const uint8_t *)event->via.bin.ptr;
            size_t size = event->via.bin.size;
            char why[160] = "it is another type";
            if (size == 0 || !is_map_byte(bytes[0]) ||
                !msgpack_check(bytes, size, PACER_MSGPACK_MAX_DEPTH, why, sizeof why)) {
                rc = malformed(self, reply->endpoint, "%sevent: not one msgpack map: %s", where,
                               why);
                break;
            }
            stored = msgpack_sbuffer_write(&data, event->via.bin.ptr, event->via.bin.size) == 0;
        } else if (event && event->type == MSGPACK_OBJECT_MAP)
            stored = msgpack_pack_object(&pk, *event) == 0;
        else {
            rc = malformed(self, reply->endpoint, "%sevent: expected a map or bin, got %s", where,
                           event ? type_name(event) : "nothing");
            break;
        }
        if (!stored) {
            rc = fail(self, PACER_ENOMEM, "out of memory decoding %zu records", count);
            break;
        }
        record->event_len = data.size - offsets[i];
        page->count = i + 1;
    }
    if (rc != PACER_OK) {
        msgpack_sbuffer_destroy(&data);
        free(offsets);
        pacer_page_destroy(&page);
        return rc;
    }
    page->data = (uint8_t *)msgpack_sbuffer_release(&data);
    for (size_t i = 0; i < page->count; i++)
        page->records[i].event = page->data + offsets[i];
    free(offsets);
    *page_p = page;
    return PACER_OK;
}

int
pacer_events(pacer_client_t *self, uint64_t from, size_t limit, pacer_page_t **page_p)
{
    assert(self);
    error_clear(self);
    if (!page_p)
        return fail(self, PACER_EINVAL, "pacer_events needs somewhere to put the page");
    *page_p = NULL;
    if (!self->query)
        return fail(self, PACER_ETRANSPORT, "this client has no query endpoint");
    if (from == 0)
        from = 1;
    if (limit > PACER_EVENTS_MAX_LIMIT)
        limit = PACER_EVENTS_MAX_LIMIT;

    uint64_t corr = self->next_corr++;
    msgpack_sbuffer request;
    msgpack_sbuffer_init(&request);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &request, msgpack_sbuffer_write);
    /* raw: the exact stored bytes, which are what the hash covers. */
    bool packed =
        pack_request_head(&pk, limit ? 6 : 5, "events", corr) && pacer_pack_str(&pk, "from") &&
        msgpack_pack_uint64(&pk, from) == 0 &&
        (!limit || (pacer_pack_str(&pk, "limit") && msgpack_pack_uint64(&pk, limit) == 0)) &&
        pacer_pack_str(&pk, "raw") && msgpack_pack_true(&pk) == 0;
    if (!packed) {
        msgpack_sbuffer_destroy(&request);
        return fail(self, PACER_ENOMEM, "out of memory encoding a request");
    }
    reply_t reply;
    int rc = client_query(self, &request, corr, &reply);
    msgpack_sbuffer_destroy(&request);
    if (rc != PACER_OK)
        return rc;
    rc = page_decode(self, &reply, page_p);
    reply_done(&reply);
    return rc;
}

/* ---- any request ------------------------------------------------------------

   pacer_request splices "v" and "corr" in front of the caller's keys: the
   map header is rewritten with two more entries and the caller's entries
   follow byte for byte, so whatever the caller encoded reaches the daemon
   unchanged. The caller's map is checked (msgpack_check, then its keys)
   first, so a mistake is PACER_EINVAL here rather than a bad_request
   after a round trip. */

struct _pacer_reply_t {
    uint8_t *data;
    size_t size;
};

/* Bytes taken by a map header whose first byte is b. */
static size_t
map_header_bytes(uint8_t b)
{
    return b == 0xde ? 3 : b == 0xdf ? 5 : 1;
}

/* PACER_OK when `request` is a map fit to be a request body. */
static int
request_check(pacer_client_t *self, const uint8_t *p, size_t len)
{
    char why[160];
    if (len == 0 || !is_map_byte(p[0]))
        return fail(self, PACER_EINVAL, "a request must be one msgpack map");
    if (len > PACER_BODY_MAX_BYTES - APPEND_HEADER_BYTES)
        return fail(self, PACER_EINVAL, "a request of %zu bytes is over the 16 MiB limit", len);
    if (!msgpack_check(p, len, PACER_MSGPACK_MAX_DEPTH, why, sizeof why))
        return fail(self, PACER_EINVAL, "the request is not one msgpack map: %s", why);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    if (msgpack_unpack_next(&unpacked, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy(&unpacked);
        return fail(self, PACER_ENOMEM, "out of memory checking a request");
    }
    const msgpack_object *map = &unpacked.data;
    int rc = PACER_OK;
    for (uint32_t i = 0; i < map->via.map.size && rc == PACER_OK; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            rc = fail(self, PACER_EINVAL, "request key %u is a %s, expected a str", i,
                      type_name(key));
        else if ((key->via.str.size == 1 && key->via.str.ptr[0] == 'v') ||
                 (key->via.str.size == 4 && memcmp(key->via.str.ptr, "corr", 4) == 0))
            rc = fail(self, PACER_EINVAL, "request key \"%.*s\": libpacer sets it",
                      (int)key->via.str.size, key->via.str.ptr);
    }
    const msgpack_object *op = rc == PACER_OK ? pacer_map_get(map, "op") : NULL;
    if (rc == PACER_OK && (!op || op->type != MSGPACK_OBJECT_STR))
        rc = fail(self, PACER_EINVAL, "a request needs an \"op\" str");
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

int
pacer_request(pacer_client_t *self, pacer_endpoint_t endpoint, const void *request, size_t len,
              pacer_reply_t **reply_p)
{
    assert(self);
    error_clear(self);
    if (!reply_p)
        return fail(self, PACER_EINVAL, "pacer_request needs somewhere to put the reply");
    *reply_p = NULL;
    if (!request)
        return fail(self, PACER_EINVAL, "pacer_request needs a request");
    if (endpoint != PACER_ENDPOINT_APPEND && endpoint != PACER_ENDPOINT_QUERY)
        return fail(self, PACER_EINVAL, "unknown endpoint %d", (int)endpoint);
    bool append = endpoint == PACER_ENDPOINT_APPEND;
    void *socket = append ? self->append : self->query;
    const char *name = append ? self->append_endpoint : self->query_endpoint;
    if (!socket)
        return fail(self, PACER_ETRANSPORT, "this client has no %s endpoint",
                    append ? "append" : "query");
    /* Replies on one socket come back in order; a request slipped between
       pipelined appends would take a reply pacer_append_recv is owed. */
    if (append && self->pending_count > 0)
        return fail(self, PACER_EBUSY,
                    "pacer_request with %zu pipelined appends in flight; receive them first",
                    self->pending_count);
    const uint8_t *p = request;
    int rc = request_check(self, p, len);
    if (rc != PACER_OK)
        return rc;

    uint64_t corr = self->next_corr++;
    size_t header = map_header_bytes(p[0]);
    uint32_t keys = p[0] == 0xde ? (uint32_t)(p[1] << 8 | p[2])
                    : p[0] == 0xdf
                        ? (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4]
                        : (uint32_t)(p[0] & 0x0f);
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    bool packed = msgpack_pack_map(&pk, (size_t)keys + 2) == 0 && pacer_pack_str(&pk, "v") &&
                  msgpack_pack_int(&pk, 1) == 0 && pacer_pack_str(&pk, "corr") &&
                  msgpack_pack_uint64(&pk, corr) == 0 &&
                  msgpack_sbuffer_write(&body, (const char *)p + header, len - header) == 0;
    rc = packed ? client_send(self, socket, name, &body, true)
                : fail(self, PACER_ENOMEM, "out of memory encoding a request");
    msgpack_sbuffer_destroy(&body);
    if (rc != PACER_OK)
        return rc;

    int64_t deadline = deadline_ms(self);
    for (;;) {
        reply_t reply;
        rc = client_recv(self, socket, name, deadline, &reply, true);
        if (rc != PACER_OK)
            return rc;
        /* Any other corr answers a request we gave up on after a timeout. */
        if (reply.has_corr && reply.corr != corr) {
            reply_done(&reply);
            continue;
        }
        rc = reply_refusal(self, &reply);
        if (rc == PACER_OK) {
            pacer_reply_t *out = calloc(1, sizeof *out);
            size_t size = zmq_msg_size(&reply.msg);
            if (out)
                out->data = malloc(size ? size : 1);
            if (!out || !out->data) {
                free(out);
                rc = fail(self, PACER_ENOMEM, "out of memory keeping a reply from %s", name);
            } else {
                memcpy(out->data, zmq_msg_data(&reply.msg), size);
                out->size = size;
                *reply_p = out;
            }
        }
        reply_done(&reply);
        return rc;
    }
}

const uint8_t *
pacer_reply_data(pacer_reply_t *self)
{
    assert(self);
    return self->data;
}

size_t
pacer_reply_size(pacer_reply_t *self)
{
    assert(self);
    return self->size;
}

void
pacer_reply_destroy(pacer_reply_t **self_p)
{
    assert(self_p);
    pacer_reply_t *self = *self_p;
    if (!self)
        return;
    free(self->data);
    free(self);
    *self_p = NULL;
}
