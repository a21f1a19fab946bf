/*  libpacer_sub: every alert exactly once, in order, across gaps and restarts.

    pacerd publishes each alert record once, on a PUB socket that drops
    messages for a subscriber that is slow, not yet connected, or
    reconnecting. A pacer_sub_t turns that into a reliable stream, the
    zguide's Clone pattern as docs/PROTOCOL.md ("Receiving every alert
    exactly once") describes it:

      - a SUB socket on the publish endpoint, subscribed to the
        application's topic prefixes and to `heartbeat/`;
      - a cursor: the last aseq handed over (or known not to match);
      - an alert with aseq = cursor + 1 is handed over as it arrives; one
        with a larger aseq, or a heartbeat whose aseq is past the cursor,
        means something was missed, and the subscriber reads the missing
        range with the `alerts` query (from = cursor + 1, its prefixes),
        page by page, on a DEALER to the query endpoint, before going on;
      - anything with aseq <= cursor is a duplicate and is dropped.

    So the application sees each alert of its prefixes exactly once and in
    aseq order, whether the subscriber joined late, messages were dropped,
    pacerd restarted (ZeroMQ reconnects both sockets; the next heartbeat
    shows what was missed), or the application restarted and resumed from
    the cursor it had persisted (pacer_sub_set_cursor).

    Queries are asynchronous: pacer_sub_recv waits on both sockets, so it
    never blocks longer than asked. A query that gets no answer within the
    query timeout is given up: the DEALER is closed and a new one connected
    (a late answer cannot be mistaken for a new one), and the query is sent
    again after a backoff that doubles from 100 ms up to 5 s. A refused or
    malformed answer is retried the same way.

    Exactly once across the application's own restarts is the
    application's part: persist pacer_sub_cursor (or the aseq of the last
    alert handled) after handling each alert and give it back to
    pacer_sub_set_cursor on start. A crash between handling and persisting
    makes that one alert come again; hand it to something idempotent
    (pacer notify sends an Idempotency-Key for that reason).

    Threading: a subscriber is used by one thread at a time. It owns its
    ZeroMQ context and sockets; give each thread its own subscriber.

    Ownership: pacer_sub_new returns a subscriber the caller destroys with
    pacer_sub_destroy(&sub), which sets the pointer to NULL. Each alert that
    pacer_sub_recv hands over is the caller's to free with
    pacer_alert_destroy.

    Errors: pacer_rc_t, libpacer's one vocabulary (libpacer.h), with the
    sentence in pacer_sub_error; the set-up calls fail only on their
    arguments (PACER_EINVAL), memory (PACER_ENOMEM) or, subscribing, a
    SUB socket that refuses the subscription (PACER_ETRANSPORT). */

#ifndef PACER_LIBPACER_SUB_H
#define PACER_LIBPACER_SUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libpacer.h"
#include "libpacer_alert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pacer_sub_set_cursor(sub, PACER_SUB_NOW): start after the newest alert
   when the subscriber starts (the default). */
#define PACER_SUB_NOW                      UINT64_MAX
#define PACER_SUB_DEFAULT_QUERY_TIMEOUT_MS 5000
#define PACER_SUB_DEFAULT_PAGE_SIZE        1000
#define PACER_SUB_MAX_PREFIXES             PACER_ALERTS_MAX_PREFIXES
#define PACER_SUB_PREFIX_MAX_BYTES         512

typedef struct _pacer_sub_t pacer_sub_t;

/* A subscriber to pacerd's alerts: connects a SUB to `publish_endpoint` and
   a DEALER to `query_endpoint` (NULL: the defaults, tcp://127.0.0.1:7702
   and 7701). Connecting is asynchronous; an absent daemon shows up in
   pacer_sub_recv, not here. NULL when a socket cannot be created or an
   endpoint is malformed; errno says why (EINVAL, EPROTONOSUPPORT, ENOMEM). */
pacer_sub_t *pacer_sub_new(const char *publish_endpoint, const char *query_endpoint);

/* Keys: pacer_sub_new authenticates with PACER_KEY and PACER_SERVER_KEY
   when they are set, as pacer_client_new does (if they do not load,
   pacer_sub_recv fails with PACER_EINVAL and the reason);
   pacer_sub_new_curve with the keys given (NULL: none). With
   authentication on, only reader and admin keys may subscribe. */
pacer_sub_t *pacer_sub_new_curve(const char *publish_endpoint, const char *query_endpoint,
                                 const pacer_curve_t *curve);

/* Close the sockets and free the subscriber and the alerts it still holds.
   Sets *self_p to NULL; harmless on NULL. */
void pacer_sub_destroy(pacer_sub_t **self_p);

/* Receive the alerts whose topic starts with `prefix` ("alert/" for all,
   "alert/behind/acme/east/" for the behind alerts of east and below). Call
   before the first pacer_sub_recv, once per prefix; with none, the
   subscriber takes "alert/". PACER_EINVAL: NULL, not starting with
   "alert/", longer than PACER_SUB_PREFIX_MAX_BYTES, more than
   PACER_SUB_MAX_PREFIXES, or called after pacer_sub_recv. PACER_ENOMEM.
   PACER_ETRANSPORT: ZeroMQ refused the subscription. PACER_OK otherwise. */
int pacer_sub_subscribe(pacer_sub_t *self, const char *prefix);

/* Hand over the alerts after `cursor`: 0 for every alert from aseq 1, the
   value pacer_sub_cursor gave before a restart to resume, or PACER_SUB_NOW
   (the default) for the alerts raised after the subscriber starts (the
   newest aseq is asked for on the first pacer_sub_recv). PACER_OK, or
   PACER_EINVAL after the first pacer_sub_recv. */
int pacer_sub_set_cursor(pacer_sub_t *self, uint64_t cursor);

/* The outbox epoch the cursor given to pacer_sub_set_cursor belongs to:
   persist pacer_sub_epoch with the cursor and give both back. 0 (the
   default): unknown; the first epoch pacerd reports is taken as the
   cursor's. PACER_OK, or PACER_EINVAL after the first pacer_sub_recv. */
int pacer_sub_set_epoch(pacer_sub_t *self, uint64_t epoch);

/* How long one catch-up query may take before it is given up and sent
   again (<= 0: the default, PACER_SUB_DEFAULT_QUERY_TIMEOUT_MS). */
void pacer_sub_set_query_timeout(pacer_sub_t *self, int timeout_ms);

/* Records asked for per catch-up query, 1 to 10,000 (default 1000). */
void pacer_sub_set_page_size(pacer_sub_t *self, size_t page_size);

/* Wait up to `timeout_ms` (0: do not wait; < 0: forever) for the next alert.
   Returns
     PACER_OK          *alert_p is the next alert in aseq order, the
                       caller's to destroy; the cursor has moved to it;
     PACER_EAGAIN      nothing to hand over within the wait (also when a
                       signal interrupted it: the caller can check its
                       flags and call again);
     PACER_ETIMEOUT    nothing to hand over, and the subscriber knows it
                       is behind but the query endpoint did not answer
                       (pacerd down or restarting); it keeps retrying,
                       call again. pacer_sub_error says which endpoint;
     PACER_EREFUSED    the same, but pacerd refused the catch-up query (an
                       older pacerd without alerts says unknown_op);
     PACER_EPROTOCOL   either the same, with a malformed answer, or (when
                       pacer_sub_error names an aseq) the next alert in
                       order was malformed and has been skipped: the cursor
                       is past it and the next call goes on after it;
     PACER_ETRANSPORT  ZeroMQ failed on a socket (not a disconnection:
                       those are retried);
     PACER_EAUTH       pacerd refused the key (on the publish endpoint:
                       it is not a reader or admin key) or the
                       handshake keeps failing (see pacer_curve_t);
                       calling again does not help;
     PACER_EINVAL      the keys in the environment do not load;
     PACER_ENOMEM.
   After any error the subscriber is still usable and loses nothing by
   being called again. */
int pacer_sub_recv(pacer_sub_t *self, pacer_alert_t **alert_p, int timeout_ms);

/* The cursor to persist: every alert of the subscriber's prefixes up to it
   has been handed over. PACER_SUB_NOW until a subscriber started "now"
   has learnt the newest aseq. */
uint64_t pacer_sub_cursor(pacer_sub_t *self);

/* The outbox epoch pacer_sub_cursor counts in; 0 until pacerd has
   reported one (heartbeats and alerts replies carry it). When pacerd
   reports another epoch than the one known, its state directory was
   replaced (a restore of an older backup, a new installation) and the
   cursor means nothing there (docs/PROTOCOL.md, "Alerts"): the
   subscriber starts again from aseq 1 of the new epoch (a subscriber
   started "now" too), drops the alerts of the old epoch it had not handed
   over yet, and counts it in pacer_sub_stats_t.epoch_changes. Persist the
   epoch with the cursor.

   A restore of an older backup of the same state directory keeps its
   epoch but has fewer alerts than the cursor counts: when an `alerts`
   reply shows the newest aseq below the cursor, the cursor moves back to
   it (the daemon numbers its next alerts from there), alerts queued past
   it are dropped, and pacer_sub_stats_t.rollbacks counts it. A heartbeat
   below the cursor makes the subscriber ask. */
uint64_t pacer_sub_epoch(pacer_sub_t *self);

/* Why the last failed call failed, as a sentence: pacer_sub_recv clears
   it, so it is "" after a pacer_sub_recv that returned PACER_OK or
   PACER_EAGAIN. Never NULL. Valid until the next call. */
const char *pacer_sub_error(pacer_sub_t *self);

/* What the subscriber did since it was created, for logs and tests. */
typedef struct {
    uint64_t delivered;      /* alerts handed to the application */
    uint64_t live;           /* of those, taken from the publish socket */
    uint64_t fetched;        /* of those, read with the catch-up query */
    uint64_t duplicates;     /* published alerts dropped as aseq <= cursor */
    uint64_t gaps;           /* times a gap was seen (an aseq jump or a heartbeat ahead) */
    uint64_t queries;        /* catch-up queries answered */
    uint64_t query_failures; /* queries timed out, refused or malformed */
    uint64_t heartbeats;     /* heartbeats received */
    uint64_t malformed;      /* alert messages or records that could not be decoded */
    uint64_t epoch_changes;  /* times pacerd reported a new outbox epoch (pacer_sub_epoch) */
    uint64_t rollbacks;      /* times the outbox was found behind the cursor (restored from an
                                older backup of itself) and the cursor moved back */
} pacer_sub_stats_t;

void pacer_sub_stats(pacer_sub_t *self, pacer_sub_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif
