/*  http: pacerd's small HTTP server, on libmicrohttpd.

    Serves GET (and HEAD) on fixed paths registered before it starts: the
    Prometheus metrics (daemon/metrics) today, the live dashboard later.
    It knows nothing of what it serves: a handler gets the request and
    fills a reply (status, content type, body); unknown paths get 404 and
    other methods 405.

    One thread, libmicrohttpd's own (MHD_USE_INTERNAL_POLLING_THREAD with
    the best poller the system has), so handlers run one at a time on it
    and must only read what other threads publish for them (atomics, LMDB
    read transactions), never the writer's structures. Connections are
    capped (HTTP_MAX_CONNECTIONS) and idle ones closed after
    HTTP_IDLE_TIMEOUT_S, so a stuck scraper cannot pile them up.

    Address: "HOST:PORT" or "[IPV6]:PORT"; HOST a numeric address or a
    name that resolves (the first address is bound); PORT 0 picks a free
    port (see http_port). */

#ifndef PACER_HTTP_H
#define PACER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_CONNECTIONS 32
#define HTTP_IDLE_TIMEOUT_S  10

typedef struct _http_t http_t;

typedef struct {
    const char *method; /* "GET" or "HEAD" */
    const char *path;   /* without the query string */
    void *connection;   /* for http_request_arg */
} http_request_t;

/* A query string argument ("/metrics?name=value"), or NULL. */
const char *http_request_arg(const http_request_t *req, const char *name);

typedef struct {
    int status;               /* 200 unless the handler says otherwise */
    const char *content_type; /* a static string; default text/plain */
    char *body;
    size_t len, cap;
    bool failed; /* out of memory while writing: answered 500 */
} http_reply_t;

/* Append to the reply's body. */
void http_reply_write(http_reply_t *reply, const void *data, size_t len);
void http_reply_printf(http_reply_t *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef void(http_handler_fn)(void *arg, const http_request_t *req, http_reply_t *reply);

http_t *http_new(void);
/* Stops the server (waiting for a handler that runs) and frees it. */
void http_destroy(http_t **self_p);

/* Serve `path` (exact match) with fn; before http_start. -1 when out of
   memory or the path is taken. */
int http_route(http_t *self, const char *path, http_handler_fn *fn, void *arg);

/* Check an address's form and resolve it, without binding (for settings
   checked at start-up before anything else happens). 0, or -1 with a
   message. */
int http_check_address(const char *address, char *err, size_t errlen);

/* Bind the address and start serving. 0, or -1 with a message (bad
   address, in use, ...). */
int http_start(http_t *self, const char *address, char *err, size_t errlen);

/* The port it listens on (useful after binding port 0); 0 before start. */
unsigned http_port(http_t *self);

#endif
