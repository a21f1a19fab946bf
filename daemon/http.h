/*  http: pacerd's small HTTP server, on libmicrohttpd.

    Serves GET (and HEAD) on fixed paths registered before it starts: the
    Prometheus metrics (daemon/metrics) and the live dashboard
    (daemon/dashboard). It knows nothing of what it serves: a handler gets
    the request and fills a reply (status, content type, headers, body);
    unknown paths get 404 and other methods 405. A reply may instead be a
    stream that stays open (server-sent events), fed from any thread
    through a hub (below).

    One thread, libmicrohttpd's own (MHD_USE_INTERNAL_POLLING_THREAD with
    the best poller the system has), so handlers run one at a time on it
    and must only read what other threads publish for them (atomics, LMDB
    read transactions), never the writer's structures. Connections are
    capped (HTTP_MAX_CONNECTIONS) and idle ones closed after
    HTTP_IDLE_TIMEOUT_S, so a stuck scraper cannot pile them up.

    Address: "HOST:PORT" or "[IPV6]:PORT"; HOST a numeric address or a
    name that resolves (the first address is bound); PORT 0 picks a free
    port (see http_port).

    Errors: http has no codes of its own. Set-up functions return 0 or -1
    (NULL for constructors), with a message where they take err; a
    handler that runs out of memory while writing its reply sets
    reply->failed (http_reply_write does) and the client gets a 500 "out
    of memory"; what a handler's body says on failure is the handler's
    (the dashboard's JSON carries the wire protocol's codes). */

#ifndef PACER_HTTP_H
#define PACER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_CONNECTIONS 32
#define HTTP_IDLE_TIMEOUT_S  10
#define HTTP_MAX_HEADERS     8

typedef struct _http_t http_t;

typedef struct {
    const char *method; /* "GET" or "HEAD" */
    const char *path;   /* without the query string */
    void *connection;   /* for http_request_arg */
} http_request_t;

/* A query string argument ("/metrics?name=value"), or NULL. */
const char *http_request_arg(const http_request_t *req, const char *name);
/* A request header ("Host"), or NULL. */
const char *http_request_header(const http_request_t *req, const char *name);

typedef struct _http_hub_t http_hub_t;

typedef struct {
    int status;               /* 200 unless the handler says otherwise */
    const char *content_type; /* a static string; default text/plain */
    char *body;
    size_t len, cap;
    bool failed; /* out of memory while writing: answered 500 */
    /* more headers, names and values static strings (http_reply_header) */
    const char *headers[HTTP_MAX_HEADERS][2];
    int nheaders;
    http_hub_t *stream; /* set by http_reply_stream */
} http_reply_t;

/* Append to the reply's body. Out of memory sets reply->failed (the
   reply becomes a 500) and later writes do nothing. */
void http_reply_write(http_reply_t *reply, const void *data, size_t len);
void http_reply_printf(http_reply_t *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Add a header (name and value static strings); past HTTP_MAX_HEADERS it
   is dropped (a fixed set of handlers stays far below it). */
void http_reply_header(http_reply_t *reply, const char *name, const char *value);

typedef void(http_handler_fn)(void *arg, const http_request_t *req, http_reply_t *reply);

/* NULL when out of memory. */
http_t *http_new(void);
/* Stops the server (waiting for a handler that runs) and frees it. */
void http_destroy(http_t **self_p);

/* Serve `path` (exact match) with fn; before http_start. 0; -1 when the
   server has started, the path is taken, HTTP_MAX_ROUTES are registered,
   or out of memory (no message: the caller names what it registered). */
int http_route(http_t *self, const char *path, http_handler_fn *fn, void *arg);

/* Check an address's form and resolve it, without binding (for settings
   checked at start-up before anything else happens). 0, or -1 with a
   message naming the address (its form, or getaddrinfo's reason). */
int http_check_address(const char *address, char *err, size_t errlen);

/* Bind the address and start serving. 0, or -1 with a message naming the
   address: as http_check_address, already started, or it cannot be bound
   (in use, not an address of this host). */
int http_start(http_t *self, const char *address, char *err, size_t errlen);

/* The port it listens on (useful after binding port 0); 0 before start. */
unsigned http_port(http_t *self);

/*  Streams. A hub is a set of open streamed replies that all receive the
    same bytes: the server-sent events every watching browser gets. A
    handler answers with a stream of a hub (http_reply_stream: what it
    wrote to the reply so far is sent first); any thread then queues bytes
    to every stream of the hub at once (http_hub_send). While a stream has
    nothing to send its connection is suspended (libmicrohttpd's suspend
    and resume), so an idle stream costs no polling and no thread; it does
    count against HTTP_MAX_CONNECTIONS, and the idle timeout does not apply
    to it. A stream whose queue would pass the hub's max_queued bytes (a
    client that stopped reading) is ended, and so are all of them when the
    server stops; an EventSource reconnects by itself. */

/* A hub of at most max_streams streams (more are answered 503) on server,
   before http_start. NULL when out of memory, after http_start, or past
   the server's hub limit. Destroy it after the server (http_destroy ends
   its streams). */
http_hub_t *http_hub_new(http_t *server, size_t max_streams, size_t max_queued);
void http_hub_destroy(http_hub_t **self_p);

/* Queue len bytes to every open stream of the hub; any thread. Cannot
   fail: a stream that cannot take them (over max_queued, or out of
   memory) is ended, and its EventSource reconnects. */
void http_hub_send(http_hub_t *self, const void *data, size_t len);

/* Streams open now; any thread. */
size_t http_hub_streams(http_hub_t *self);

/* In a handler: answer with a stream of hub, its first bytes what the
   reply's body holds. The server answers 503 instead when the hub is full. */
void http_reply_stream(http_reply_t *reply, http_hub_t *hub);

#endif
