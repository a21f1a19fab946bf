/*  dashboard: the live web dashboard, served by daemon/http.

    Read-only. The page itself (daemon/web/: plain HTML, CSS and a little
    JavaScript, compiled in by cmake/web_assets.cmake) asks for JSON and
    listens to server-sent events:

      GET /, /dashboard.css, /dashboard.js, /favicon.svg   the page
      GET /api/status            the `status` operation, plus `now`
      GET /api/progress?...      `progress` (period, scope, metric, ...)
      GET /api/leaderboard?...   `leaderboard` (level, period, metric, ...)
      GET /api/alerts?...        `alerts` (from, to, prefix, limit)
      GET /api/alerts_active?... `alerts_active` (prefix, severity, ...)
      GET /api/burnup?...        one key's burn-up: cumulative actual and
                                 pace line by day (scope, metric, period)
      GET /api/events            text/event-stream: progress, alert and
                                 heartbeat records as pacerd publishes them

    The /api/ operations are the query endpoint's, asked over a DEALER
    connected to the query actor's in-process endpoint
    (QUERY_INPROC_ENDPOINT): the same code answers the CLI and the page,
    one request at a time, so nothing here touches the projection. Query
    string arguments become the request's fields (integers for now, limit,
    from, to, as_of, as_of_seq; a comma-separated prefix becomes an array);
    `now` defaults to the alert clock of a --manual-clock pacerd. The
    reply is the operation's reply as JSON (daemon/webjson).

    Errors: a reply that is not ok is {"ok": false, "error", "message"}
    with the query's own code (docs/PROTOCOL.md: wire_rc_t and pq_rc_t
    names, passed through as the query endpoint gave them) and an HTTP
    status from it: 404 for not_found, 500 for internal, 400 for the
    rest; the dashboard's own argument checks answer bad_request (400).
    One code is the dashboard's: `unavailable` (503), when the query
    thread did not answer within its wait (a rebuild holds it), as a
    client's PACER_ETIMEOUT. Out of memory is a bare 500 (daemon/http).

    Events: a thread (a czmq actor) SUBscribes to pacerd's own publish
    socket over an in-process endpoint, only while a browser has the
    event stream open (so progress rows are not computed for nobody), and
    every 250 ms sends what arrived as one batch of server-sent events to
    every open stream: `progress` (the newest row of each key), `alert`
    (every record, in order), `heartbeat` (the newest). More than the
    batch can hold becomes `resync`: the page reads everything again.

    DNS rebinding: until the dashboard has authentication, a web page on
    another site could point its own host name at 127.0.0.1 and read the
    dashboard from the visitor's browser. So a request whose Host is a
    name is answered 421 unless the name is localhost or the host of the
    address pacerd serves on; IP literals cannot be rebound. */

#ifndef PACER_DASHBOARD_H
#define PACER_DASHBOARD_H

#include "daemon/http.h"
#include "daemon/writer.h"

#include <stddef.h>

/* The in-process endpoint pacerd binds its publish socket to as well, for
   the dashboard's subscriber. */
#define DASHBOARD_PUBLISH_INPROC "inproc://pacerd-publish"

typedef struct {
    const char *publish_endpoint; /* where the subscriber connects */
    const char *query_endpoint;   /* where the DEALER connects */
    writer_stats_t *stats;        /* the alert clock (default `now`) */
    const char *address;          /* HOST:PORT it is served on (the Host check) */
} dashboard_args_t;

typedef struct _dashboard_t dashboard_t;

/* Register the dashboard's paths on http (before http_start) and start
   its event thread. NULL with a message on failure. */
dashboard_t *dashboard_new(const dashboard_args_t *args, http_t *http, char *err, size_t errlen);
/* After http_destroy (its handlers use the dashboard). */
void dashboard_destroy(dashboard_t **self_p);

#endif
