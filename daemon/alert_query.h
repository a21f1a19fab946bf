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

/* Pack the whole reply (or an error reply) for req (op OP_ALERTS,
   OP_ALERTS_ACTIVE or OP_SILENCES) into pk, which writes to out. */
void alert_query(store_t *store, projector_t *projector, const wire_request_t *req,
                 msgpack_packer *pk, msgpack_sbuffer *out, int64_t now);

#endif
