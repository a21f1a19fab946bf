/*  query: the read-only request endpoint, served from its own thread.

    A czmq actor that owns the query ROUTER socket. Each request runs in an
    LMDB read transaction, a snapshot that never blocks the writer. It shares
    nothing mutable with the writer except the counters in writer_stats_t,
    which it only reads. */

#ifndef PACER_QUERY_H
#define PACER_QUERY_H

#include "daemon/auth.h"
#include "daemon/projector.h"
#include "daemon/store.h"
#include "daemon/writer.h"

#include <czmq.h>

typedef struct {
    store_t *store;
    projector_t *projector;
    const char *endpoint;
    writer_stats_t *stats;
    int64_t started_at;
    auth_t *auth; /* who may do what (daemon/auth); NULL: authentication off */
} query_args_t;

/* The query actor also binds this endpoint, so that other threads of
   pacerd (the dashboard) ask it questions whatever address args->endpoint
   has (a wildcard, an interface name). Nothing outside the process can
   reach it; with authentication on, what comes in on it is served as a
   reader's (inproc has no handshake, so no key). */
#define QUERY_INPROC_ENDPOINT "inproc://pacerd-query"

/* Start the query actor; it binds args->endpoint (a CURVE server with
   args->auth, which then judges every request by its sender's role) and
   QUERY_INPROC_ENDPOINT. NULL (with a message)
   if it cannot bind. The args must outlive the actor. zactor_destroy stops it. */
zactor_t *query_start(query_args_t *args, char *err, size_t errlen);

/* How many handlers the query endpoint has for op, its own table's and the
   projection's (projection_query_find): 1 for every op WIRE_OP_LIST puts
   on the query endpoint, 0 for every other (tests/test_query_table.c). */
int query_op_handlers(wire_op_t op);

#endif
