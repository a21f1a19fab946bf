/*  http: see http.h.

    libmicrohttpd calls the access handler at least twice per request:
    once when the headers are in (con_cls still NULL: we only mark the
    connection) and once per piece of body, then with no body left. A GET
    has no body worth reading, so anything sent is dropped and the reply
    is queued on the second call.

    Streams: a stream's reply is libmicrohttpd's "response from callback"
    of unknown size (chunked). Its reader runs on the server's thread and
    copies what is queued; with nothing queued it suspends the connection
    and returns 0, and http_hub_send resumes it. Both happen under the
    hub's lock, with the stream's `suspended` flag, so a resume can neither
    be lost (bytes queued between the reader's look and its suspend) nor
    reach a connection that is not suspended. libmicrohttpd must not stop
    with a connection suspended: http_destroy closes the hubs first (no
    reader suspends again, every suspended stream is resumed and ends). */

#include "daemon/http.h"

#include "daemon/log.h"

#include <assert.h>

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HTTP_MAX_ROUTES 32
#define HTTP_MAX_HUBS   4
#define STREAM_BLOCK    4096 /* the most a stream's reader copies at a time */

typedef struct {
    char *path;
    http_handler_fn *fn;
    void *arg;
} route_t;

struct _http_t {
    struct MHD_Daemon *daemon;
    route_t routes[HTTP_MAX_ROUTES];
    size_t nroutes;
    http_hub_t *hubs[HTTP_MAX_HUBS];
    size_t nhubs;
};

/* One open streamed reply. Everything but `connection` is guarded by its
   hub's lock. */
typedef struct _stream_t {
    http_hub_t *hub;
    struct MHD_Connection *connection;
    char *buf; /* queued bytes: [off, len) still to send */
    size_t off, len, cap;
    bool suspended; /* its connection is (or is about to be) suspended */
    bool ended;     /* overflowed: ends once the reader sees it */
    struct _stream_t *prev, *next;
} stream_t;

struct _http_hub_t {
    http_t *server;
    pthread_mutex_t lock;
    stream_t *streams;
    size_t nstreams, max_streams, max_queued;
    bool closed; /* the server is stopping: streams end, none opens */
};

/* Marks a connection whose headers were seen (libmicrohttpd's con_cls). */
static int headers_seen;

void
http_reply_write(http_reply_t *reply, const void *data, size_t len)
{
    if (reply->failed)
        return;
    if (reply->len + len + 1 > reply->cap) {
        size_t cap = reply->cap ? reply->cap : 4096;
        while (cap < reply->len + len + 1)
            cap *= 2;
        char *body = realloc(reply->body, cap);
        if (!body) {
            reply->failed = true;
            return;
        }
        reply->body = body;
        reply->cap = cap;
    }
    memcpy(reply->body + reply->len, data, len);
    reply->len += len;
    reply->body[reply->len] = 0;
}

void
http_reply_printf(http_reply_t *reply, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        reply->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        http_reply_write(reply, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        reply->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    http_reply_write(reply, big, (size_t)n);
    free(big);
}

void
http_reply_header(http_reply_t *reply, const char *name, const char *value)
{
    if (reply->nheaders == HTTP_MAX_HEADERS)
        return;
    reply->headers[reply->nheaders][0] = name;
    reply->headers[reply->nheaders][1] = value;
    reply->nheaders++;
}

void
http_reply_stream(http_reply_t *reply, http_hub_t *hub)
{
    reply->stream = hub;
}

const char *
http_request_arg(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

const char *
http_request_header(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

http_t *
http_new(void)
{
    return calloc(1, sizeof(http_t));
}

void
http_destroy(http_t **self_p)
{
    http_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nhubs; i++) {
        http_hub_t *hub = self->hubs[i];
        pthread_mutex_lock(&hub->lock);
        hub->closed = true;
        for (stream_t *s = hub->streams; s; s = s->next)
            if (s->suspended) {
                s->suspended = false;
                MHD_resume_connection(s->connection);
            }
        pthread_mutex_unlock(&hub->lock);
    }
    if (self->daemon)
        MHD_stop_daemon(self->daemon); /* frees the streams (stream_free) */
    for (size_t i = 0; i < self->nroutes; i++)
        free(self->routes[i].path);
    free(self);
    *self_p = NULL;
}

int
http_route(http_t *self, const char *path, http_handler_fn *fn, void *arg)
{
    if (self->daemon || self->nroutes == HTTP_MAX_ROUTES)
        return -1;
    for (size_t i = 0; i < self->nroutes; i++)
        if (strcmp(self->routes[i].path, path) == 0)
            return -1;
    route_t *r = &self->routes[self->nroutes];
    if (!(r->path = strdup(path)))
        return -1;
    r->fn = fn;
    r->arg = arg;
    self->nroutes++;
    return 0;
}

/* ---------------------------------------------------------------------
   Streams */

http_hub_t *
http_hub_new(http_t *server, size_t max_streams, size_t max_queued)
{
    if (server->daemon || server->nhubs == HTTP_MAX_HUBS)
        return NULL;
    http_hub_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    self->server = server;
    self->max_streams = max_streams;
    self->max_queued = max_queued;
    server->hubs[server->nhubs++] = self;
    return self;
}

void
http_hub_destroy(http_hub_t **self_p)
{
    http_hub_t *self = *self_p;
    if (!self)
        return;
    /* the server is gone (or never started): no stream is left */
    assert(!self->streams);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

size_t
http_hub_streams(http_hub_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->nstreams;
    pthread_mutex_unlock(&self->lock);
    return n;
}

/* Queue bytes on one stream, hub locked; false when they do not fit. */
static bool
stream_queue(stream_t *s, const void *data, size_t len, size_t max_queued)
{
    if (s->off == s->len)
        s->off = s->len = 0;
    if (s->len - s->off + len > max_queued)
        return false;
    if (s->off && s->len + len > s->cap) { /* make room at the front first */
        memmove(s->buf, s->buf + s->off, s->len - s->off);
        s->len -= s->off;
        s->off = 0;
    }
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + len)
            cap *= 2;
        char *buf = realloc(s->buf, cap);
        if (!buf)
            return false;
        s->buf = buf;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return true;
}

void
http_hub_send(http_hub_t *self, const void *data, size_t len)
{
    pthread_mutex_lock(&self->lock);
    for (stream_t *s = self->streams; s && !self->closed; s = s->next) {
        if (s->ended)
            continue;
        if (!stream_queue(s, data, len, self->max_queued)) {
            s->ended = true; /* a client that does not read: let it reconnect */
            s->off = s->len = 0;
        }
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->connection);
        }
    }
    pthread_mutex_unlock(&self->lock);
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_t *s = cls;
    http_hub_t *hub = s->hub;
    ssize_t n;
    pthread_mutex_lock(&hub->lock);
    if (s->len > s->off) {
        size_t k = s->len - s->off < max ? s->len - s->off : max;
        memcpy(buf, s->buf + s->off, k);
        s->off += k;
        n = (ssize_t)k;
    } else if (hub->closed || s->ended)
        n = MHD_CONTENT_READER_END_OF_STREAM;
    else {
        s->suspended = true;
        MHD_suspend_connection(s->connection);
        n = 0;
    }
    pthread_mutex_unlock(&hub->lock);
    return n;
}

static void
stream_free(void *cls)
{
    stream_t *s = cls;
    http_hub_t *hub = s->hub;
    if (!hub) { /* never linked (stream_open gave up) */
        free(s->buf);
        free(s);
        return;
    }
    pthread_mutex_lock(&hub->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        hub->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    hub->nstreams--;
    pthread_mutex_unlock(&hub->lock);
    free(s->buf);
    free(s);
}

/* The stream reply for a handler's reply (its body first); NULL when the
   hub is full or closing, or out of memory. */
static struct MHD_Response *
stream_open(struct MHD_Connection *connection, http_hub_t *hub, http_reply_t *reply)
{
    stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hub = hub;
    s->connection = connection;
    s->buf = reply->body; /* what the handler wrote goes first */
    s->len = s->cap = reply->len;
    reply->body = NULL;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                  stream_read, s, stream_free);
    if (!resp) {
        free(s->buf);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&hub->lock);
    bool room = !hub->closed && hub->nstreams < hub->max_streams;
    if (room) {
        s->next = hub->streams;
        if (hub->streams)
            hub->streams->prev = s;
        hub->streams = s;
        hub->nstreams++;
    }
    pthread_mutex_unlock(&hub->lock);
    if (!room) {
        s->hub = NULL;
        MHD_destroy_response(resp); /* frees s through stream_free: not linked */
        return NULL;
    }
    return resp;
}

/* A reply of static text. */
static enum MHD_Result
answer_static(struct MHD_Connection *connection, unsigned status, const char *text,
              const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    /* MHD_NO (out of memory) closes the connection: the client sees an
       error rather than a reply without its headers */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8") !=
            MHD_YES ||
        (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_queue_response(connection, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    http_t *self = cls;
    if (!*con_cls) {
        *con_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a body on a GET: ignored */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer_static(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n",
                             "GET, HEAD");
    const route_t *route = NULL;
    for (size_t i = 0; i < self->nroutes && !route; i++)
        if (strcmp(self->routes[i].path, url) == 0)
            route = &self->routes[i];
    if (!route)
        return answer_static(connection, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
    http_request_t req = {method, url, connection};
    http_reply_t reply = {.status = MHD_HTTP_OK, .content_type = "text/plain; charset=utf-8"};
    route->fn(route->arg, &req, &reply);
    if (reply.failed) {
        free(reply.body);
        return answer_static(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    }
    struct MHD_Response *resp;
    if (reply.stream && strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
        if (!(resp = stream_open(connection, reply.stream, &reply)))
            return answer_static(connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "too many streams open, or stopping\n", NULL);
    } else if (!(resp = MHD_create_response_from_buffer(
                     reply.len, reply.body ? reply.body : (void *)"",
                     reply.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT))) {
        free(reply.body);
        return MHD_NO;
    }
    bool headed =
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type) == MHD_YES;
    for (int i = 0; i < reply.nheaders && headed; i++)
        headed = MHD_add_response_header(resp, reply.headers[i][0], reply.headers[i][1]) == MHD_YES;
    if (!headed) { /* out of memory: a reply without its headers could mislead */
        MHD_destroy_response(resp);
        return answer_static(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    }
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)reply.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    log_warn("http: %s", line);
}

/* Split "host:port" or "[v6]:port" and resolve it. */
static int
resolve(const char *address, struct addrinfo **out, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    const char *h = address;
    size_t hlen = colon ? (size_t)(colon - address) : 0;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']')
        h++, hlen -= 2;
    const char *port = colon ? colon + 1 : "";
    char *end;
    long p = strtol(port, &end, 10);
    if (!colon || hlen == 0 || hlen >= sizeof host || !*port || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "address \"%s\": expected HOST:PORT, e.g. 127.0.0.1:7703", address);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int rc = getaddrinfo(host, port, &hints, out);
    if (rc != 0) {
        snprintf(err, errlen, "address \"%s\": %s", address, gai_strerror(rc));
        return -1;
    }
    return 0;
}

int
http_check_address(const char *address, char *err, size_t errlen)
{
    struct addrinfo *ai;
    if (resolve(address, &ai, err, errlen) != 0)
        return -1;
    freeaddrinfo(ai);
    return 0;
}

int
http_start(http_t *self, const char *address, char *err, size_t errlen)
{
    struct addrinfo *ai;
    if (self->daemon) {
        snprintf(err, errlen, "cannot serve HTTP on %s: this server already serves", address);
        return -1;
    }
    if (resolve(address, &ai, err, errlen) != 0)
        return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, answer, self, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot serve HTTP on %s (in use, or not an address of this host)",
                 address);
        return -1;
    }
    return 0;
}

unsigned
http_port(http_t *self)
{
    if (!self->daemon)
        return 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
