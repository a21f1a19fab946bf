/*  alert_query: the query endpoint's alert operations, `alerts`,
    `alerts_active` and `silences` (docs/PROTOCOL.md, "Alerts").

    They read the outbox (daemon/outbox) in an LMDB read transaction, so
    they never wait for the writer, and see exactly the alerts that are
    durable; `silences` and the silence details of `alerts_active` read
    the alert settings fold under the projector's read lock. */

#ifndef PACER_ALERT_QUERY_H
#define PACER_ALERT_QUERY_H

#include "daemon/projector.h"
#include "daemon/store.h"
#include "events/wire.h"

#include <msgpack.h>

/* Each packs the whole reply (or an error reply) for req into pk, which
   writes to out, at `now` (ms UTC; the request's `now` overrides it): the
   three operations' handlers, registered in daemon/query.c's table with
   the request fields they read (NULL-ended). Errors are replies, never
   returned: bad_request (a field, by events/wire.h's readers, or a
   severity that is not one), internal (the store could not be read, out
   of memory). */
void alert_query_alerts(store_t *store, projector_t *projector, const wire_request_t *req,
                        msgpack_packer *pk, msgpack_sbuffer *out, int64_t now);
void alert_query_active(store_t *store, projector_t *projector, const wire_request_t *req,
                        msgpack_packer *pk, msgpack_sbuffer *out, int64_t now);
void alert_query_silences(store_t *store, projector_t *projector, const wire_request_t *req,
                          msgpack_packer *pk, msgpack_sbuffer *out, int64_t now);
extern const wire_field_t *const alert_query_alerts_fields[],
    *const alert_query_active_fields[], *const alert_query_silences_fields[];

#endif
