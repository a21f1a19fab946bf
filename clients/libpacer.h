/*  libpacer: a small C client for pacerd.

    A pacer_client_t holds one ZeroMQ DEALER socket per endpoint of the wire
    protocol (docs/PROTOCOL.md): append and query. Events go in as msgpack
    maps that the caller has already encoded (field names and types as in
    docs/EVENTS.md); libpacer only frames them into requests, so it works
    with any encoder and never re-encodes an event.

    Appends are pipelined: pacer_append_send queues a batch and returns at
    once with its correlation number; pacer_append_recv waits for the next
    reply. A producer keeps several batches in flight that way and the
    daemon's group commit covers all of them. pacer_append does both for
    one batch. Every wait is bounded by the client's timeout (default 30 s),
    so a dead daemon gives PACER_ETIMEOUT, never a hang; a shorter connect
    timeout reports a daemon that is not there sooner.

    Errors. Every function that can fail returns PACER_OK (0) or one of the
    negative pacer_rc_t codes below: libpacer's one vocabulary, the same in
    libpacer_alert.h and libpacer_sub.h; pacer_strerror names a code.
    After a failure of a call on a client, pacer_client_error says in a
    sentence what failed, and after PACER_EREFUSED pacer_client_error_code
    holds the daemon's own code: a wire code of docs/PROTOCOL.md
    ("bad_request", "internal", ...) or an operation's ("not_found"),
    passed through as a string, never mapped to a pacer_rc_t. A call that
    talks to pacerd may return, besides the codes its comment lists:
      PACER_ETRANSPORT  ZeroMQ failed, or the client has no such endpoint;
      PACER_ETIMEOUT    no connection or no reply within the timeouts;
      PACER_EAUTH       pacerd refused the key (pacer_curve_t);
      PACER_EPROTOCOL   the reply does not follow docs/PROTOCOL.md;
      PACER_EREFUSED    pacerd answered ok:false;
      PACER_EINVAL      the keys in PACER_KEY / PACER_SERVER_KEY do not
                        load (pacer_client_new), or a NULL out-argument;
      PACER_ENOMEM.
    A client is used by one thread at a time; give each thread its own.

    Acknowledged means durable: a result with a seq is on disk. After a
    timeout or a lost connection a batch may or may not be in the log;
    resend it unchanged and the events already appended come back as
    duplicates (dup = true) with their original seq. */

#ifndef PACER_LIBPACER_H
#define PACER_LIBPACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PACER_DEFAULT_APPEND_ENDPOINT  "tcp://127.0.0.1:7700"
#define PACER_DEFAULT_QUERY_ENDPOINT   "tcp://127.0.0.1:7701"
#define PACER_DEFAULT_PUBLISH_ENDPOINT "tcp://127.0.0.1:7702"
#define PACER_DEFAULT_TIMEOUT_MS       30000
#define PACER_HASH_BYTES               32
/* Protocol limits: a batch holds at most this many events, a request body
   at most this many bytes; pacer_batch_add_msgpack enforces both. */
#define PACER_BATCH_MAX_EVENTS 100000
#define PACER_BODY_MAX_BYTES   (16u * 1024u * 1024u)
/* The most events one `events` request may ask for. */
#define PACER_EVENTS_MAX_LIMIT 10000

typedef enum {
    PACER_OK = 0,
    PACER_EINVAL = -1,     /* a bad argument: NULL, or bytes that are not one msgpack map */
    PACER_ENOMEM = -2,     /* out of memory */
    PACER_EFULL = -3,      /* the batch would exceed PACER_BATCH_MAX_EVENTS or 16 MiB */
    PACER_ETRANSPORT = -4, /* ZeroMQ could not send or receive (or no endpoint configured) */
    PACER_ETIMEOUT = -5,   /* no reply within the timeout: pacerd down, unreachable or stuck */
    PACER_EPROTOCOL = -6,  /* the reply does not follow docs/PROTOCOL.md */
    PACER_EREFUSED = -7,   /* the daemon answered ok:false; see pacer_client_error_code */
    PACER_EIDLE = -8,      /* pacer_append_recv with no batch in flight */
    PACER_EBUSY = -9,      /* pacer_append while pipelined batches are still in flight */
    PACER_EAGAIN = -10,    /* pacer_sub_recv: nothing to hand over within the wait */
    PACER_EAUTH = -11      /* pacerd refused this client's key, or the two sides' security
                              settings differ (a key on one side only, the wrong server key) */
} pacer_rc_t;

/* A short fixed description of a return code ("no reply within the timeout");
   "unknown error" for a value that is not a pacer_rc_t. Static storage;
   the one place a code becomes words (the sentence of the failure itself
   is pacer_client_error's). */
const char *pacer_strerror(int rc);

/* ---- authentication ------------------------------------------------------

   A pacerd started with --keys speaks only ZeroMQ CURVE and admits the
   keys its keys file lists, each with a role (docs/PROTOCOL.md,
   "Authentication"). A client then needs its own key pair and pacerd's
   public key, each 40 characters of Z85. */

#define PACER_KEY_LEN 40

typedef struct {
    char public_key[PACER_KEY_LEN + 1]; /* the client's */
    char secret_key[PACER_KEY_LEN + 1]; /* the client's */
    char server_key[PACER_KEY_LEN + 1]; /* pacerd's public key */
} pacer_curve_t;

/* Fill *curve from `key_file`, the client's key pair in czmq's certificate
   format as `pacer keygen --out FILE` writes it (FILE_secret, or FILE with
   FILE_secret beside it), and `server_key`, pacerd's public key as Z85
   text or the path of a key file holding it. PACER_OK, or PACER_EINVAL
   with a sentence in err (a file missing or unreadable, no secret key). */
int pacer_curve_load(pacer_curve_t *curve, const char *key_file, const char *server_key, char *err,
                     size_t errlen);

/* The same from the environment: PACER_KEY (the key file) and
   PACER_SERVER_KEY (pacerd's key). 1: *curve filled; 0: neither is set
   (no authentication); PACER_EINVAL with a sentence in err: only one is
   set, or they do not load. (The one function whose success is not 0:
   both 1 and 0 are successes.) */
int pacer_curve_from_env(pacer_curve_t *curve, char *err, size_t errlen);

/* ---- client ------------------------------------------------------------ */

typedef struct _pacer_client_t pacer_client_t;

/* Connect to pacerd. Either endpoint may be NULL when the client will not use
   it (operations on it then return PACER_ETRANSPORT). Connecting is
   asynchronous: an absent daemon shows up as PACER_ETIMEOUT on the first
   request, not here, and a refused key as PACER_EAUTH. Returns NULL when a
   socket cannot be created or an endpoint is malformed; errno says why
   (EINVAL, EPROTONOSUPPORT, ENOMEM).

   With keys from the environment (PACER_KEY and PACER_SERVER_KEY, see
   pacer_curve_from_env) the client authenticates with them, as libpq
   takes PGPASSWORD. If they are set but do not load, the client is still
   returned and every request fails with PACER_EINVAL and the reason. */
pacer_client_t *pacer_client_new(const char *append_endpoint, const char *query_endpoint);

/* The same with the keys given (curve NULL: no authentication, whatever
   the environment says). */
pacer_client_t *pacer_client_new_curve(const char *append_endpoint, const char *query_endpoint,
                                       const pacer_curve_t *curve);

/* Close the sockets (dropping unsent requests at once) and free the client.
   Sets *self_p to NULL; harmless on NULL. */
void pacer_client_destroy(pacer_client_t **self_p);

/* How long any one call waits for a reply, or for room to send; <= 0 means
   wait forever. Default PACER_DEFAULT_TIMEOUT_MS. */
void pacer_client_set_timeout(pacer_client_t *self, int timeout_ms);
int pacer_client_timeout(pacer_client_t *self);

/* How long a request waits for a connection to pacerd: an endpoint where
   nothing answers (pacerd stopped, a wrong port, a host that drops the
   packets) gives PACER_ETIMEOUT after this long, "pacerd is not answering
   at EP: is it running?", rather than after the whole timeout. It also
   bounds how long the connection may stay lost while the only request in
   flight waits for its reply (the reply cannot come; whether the request
   was carried out is unknown, as after any timeout). A slow answer on a
   live connection still gets the whole timeout. <= 0: the timeout (the
   default). A connection to a pacerd on the same machine takes well under
   a millisecond; the pacer command line waits 1 s. */
void pacer_client_set_connect_timeout(pacer_client_t *self, int timeout_ms);
int pacer_client_connect_timeout(pacer_client_t *self);

/* The last failure as a sentence ("no reply from tcp://127.0.0.1:7700 within
   30 s: is pacerd running?"); "" when the last call succeeded. Valid until
   the next call on this client. Never NULL. */
const char *pacer_client_error(pacer_client_t *self);

/* After PACER_EREFUSED: the daemon's request-level code ("too_large",
   "internal", ...). "" otherwise. Valid until the next call on this client. */
const char *pacer_client_error_code(pacer_client_t *self);

/* ---- batch of events --------------------------------------------------- */

typedef struct _pacer_batch_t pacer_batch_t;

/* An empty, non-atomic batch. NULL when out of memory. A batch has no
   error sentence: its one failing call says all with its code. */
pacer_batch_t *pacer_batch_new(void);
void pacer_batch_destroy(pacer_batch_t **self_p);

/* Copy one event, `len` bytes holding exactly one msgpack map, into the batch.
   PACER_EINVAL: the bytes are not one complete msgpack map (truncated,
   trailing bytes, another type, or nested deeper than 32). PACER_EFULL: the
   batch already holds PACER_BATCH_MAX_EVENTS events or the request would pass
   16 MiB; send it and add the event to the next one. PACER_ENOMEM. On any
   failure the batch is as it was. */
int pacer_batch_add_msgpack(pacer_batch_t *self, const void *event, size_t len);

size_t pacer_batch_count(pacer_batch_t *self);
/* Encoded bytes of the events held. */
size_t pacer_batch_bytes(pacer_batch_t *self);
/* Atomic: if the daemon refuses any event, it appends none of the batch (the
   others get error "aborted"). Default false: each event stands alone. */
void pacer_batch_set_atomic(pacer_batch_t *self, bool atomic);
bool pacer_batch_atomic(pacer_batch_t *self);
/* Empty the batch for reuse (keeps its memory and its atomic flag). */
void pacer_batch_reset(pacer_batch_t *self);

/* ---- append results ---------------------------------------------------- */

/* The outcome of one event, in the order of the batch. */
typedef struct {
    uint64_t seq;        /* in the log as this seq (appended now or before); 0 if refused */
    bool dup;            /* true: was already in the log, not appended again */
    const char *error;   /* NULL when in the log; else the code, e.g. "wrong_type" */
    const char *message; /* NULL when in the log; else the daemon's sentence */
} pacer_event_result_t;

/* The reply to one append request. Owns its strings; pacer_append_result_destroy
   frees them together with the result. */
typedef struct _pacer_append_result_t pacer_append_result_t;

size_t pacer_append_result_count(pacer_append_result_t *self);
/* Result of event `index` (0-based, < count). Owned by self. */
const pacer_event_result_t *pacer_append_result_event(pacer_append_result_t *self, size_t index);
/* The reply's totals and the log's last seq after the request. */
uint64_t pacer_append_result_appended(pacer_append_result_t *self);
uint64_t pacer_append_result_duplicates(pacer_append_result_t *self);
uint64_t pacer_append_result_rejected(pacer_append_result_t *self);
uint64_t pacer_append_result_last_seq(pacer_append_result_t *self);
void pacer_append_result_destroy(pacer_append_result_t **self_p);

/* ---- append ------------------------------------------------------------ */

/* Send a batch (1 or more events) on the append socket without waiting;
   *corr_p (may be NULL) gets the request's correlation number. The batch may
   be reset and reused at once. PACER_OK; PACER_EINVAL (empty batch, or
   the environment's keys do not load), PACER_ETRANSPORT (no append
   endpoint, or ZeroMQ failed), PACER_ETIMEOUT (no connection, or no room
   to queue, within the timeouts), PACER_EAUTH, PACER_ENOMEM. Nothing is
   in flight after a failure. */
int pacer_append_send(pacer_client_t *self, pacer_batch_t *batch, uint64_t *corr_p);

/* Wait for the next append reply. PACER_OK: *result_p is the caller's to
   destroy. *corr_p (may be NULL) gets the correlation number of the batch the
   reply belongs to, also on PACER_EREFUSED (the whole batch was refused; see
   pacer_client_error_code), on PACER_EPROTOCOL and on PACER_ENOMEM (a reply
   that arrived but could not be read: that batch is in doubt). PACER_EIDLE:
   nothing in flight. PACER_ETIMEOUT or PACER_EAUTH: every batch in flight
   is then in doubt and forgotten (late replies to them are discarded):
   resend them. PACER_ETRANSPORT: ZeroMQ failed (or no append endpoint);
   the batches stay in flight. PACER_EINVAL: result_p NULL. */
int pacer_append_recv(pacer_client_t *self, pacer_append_result_t **result_p, uint64_t *corr_p);

/* Batches sent and not yet answered. */
size_t pacer_append_inflight(pacer_client_t *self);

/* Send one batch and wait for its reply: pacer_append_send + pacer_append_recv,
   with the codes of both. PACER_EBUSY when pipelined batches are in flight on
   this client (nothing is sent). */
int pacer_append(pacer_client_t *self, pacer_batch_t *batch, pacer_append_result_t **result_p);

/* ---- queries ----------------------------------------------------------- */

typedef struct {
    char version[64]; /* pacerd's version */
    int64_t protocol; /* 1 */
    char state_dir[4096];
    uint64_t last_seq; /* newest event's seq; 0 when the log is empty */
    uint8_t last_hash[PACER_HASH_BYTES];
    uint64_t log_events;
    int64_t started_at; /* ms UTC */
    int64_t uptime_ms;
    uint64_t map_size; /* bytes */
    struct {
        uint64_t requests, appended, duplicates, rejected, bad_requests, commits, map_resizes;
    } counters;
    uint64_t snapshot_seq;    /* seq of the newest projection snapshot; 0: none */
    uint64_t undefined_nodes; /* credited ids that no node_defined defines */
} pacer_status_t;

/* Ask the query endpoint for the daemon's status. Fields the daemon does not
   send are left 0. PACER_OK; PACER_EINVAL (status NULL, or the
   environment's keys), PACER_ETIMEOUT, PACER_EREFUSED, PACER_EPROTOCOL (also
   a field of the wrong type), PACER_ETRANSPORT, PACER_EAUTH, PACER_ENOMEM.
   After PACER_EPROTOCOL *status may be partly filled. */
int pacer_status(pacer_client_t *self, pacer_status_t *status);

/* One record of the log. */
typedef struct {
    uint64_t seq;
    int64_t recorded_at; /* ms UTC, the daemon's clock when appended */
    uint8_t hash[PACER_HASH_BYTES];
    const uint8_t *event; /* the event as msgpack map bytes: the exact stored bytes */
    size_t event_len;
    const char *principal; /* who appended it, when pacerd authenticated them; else NULL */
} pacer_record_t;

/* A page of the log, as returned by one `events` request. */
typedef struct _pacer_page_t pacer_page_t;

/* Read up to `limit` records from seq `from` (0 counts as 1). limit 0 means the
   daemon's default (1000); above PACER_EVENTS_MAX_LIMIT it is clamped.
   PACER_OK: *page_p is the caller's to destroy. Errors as pacer_status
   (PACER_EINVAL: page_p NULL); *page_p is NULL after any of them. */
int pacer_events(pacer_client_t *self, uint64_t from, size_t limit, pacer_page_t **page_p);

size_t pacer_page_count(pacer_page_t *self);
/* Record `index` (0-based, < count), in sequence order. Owned by the page. */
const pacer_record_t *pacer_page_record(pacer_page_t *self, size_t index);
/* The `from` to ask for next. */
uint64_t pacer_page_next(pacer_page_t *self);
/* The log's last seq when the daemon began the read. */
uint64_t pacer_page_last_seq(pacer_page_t *self);
/* True when the page reaches the end of the log as it was when read. */
bool pacer_page_at_end(pacer_page_t *self);
void pacer_page_destroy(pacer_page_t **self_p);

/* ---- any request ---------------------------------------------------------

   The operations above have typed wrappers. pacer_request sends any other
   request of docs/PROTOCOL.md (progress, leaderboard, target_history,
   allocate, rebuild, ...) and hands back the reply body as msgpack bytes for
   the caller to decode, so a new operation needs no new libpacer code. */

typedef enum { PACER_ENDPOINT_APPEND, PACER_ENDPOINT_QUERY } pacer_endpoint_t;

/* The body of an ok:true reply, msgpack bytes holding one map. */
typedef struct _pacer_reply_t pacer_reply_t;

/* Send `len` bytes holding one msgpack map with string keys, "op" among them,
   on `endpoint` and wait for its reply. libpacer adds "v" and "corr", so the
   map must not have them. PACER_OK: *reply_p is the caller's to destroy.
   PACER_EINVAL: not one map, a non-string key, no "op", a "v" or "corr", or
   over 16 MiB. PACER_EBUSY: pipelined appends are in flight on the append
   socket. PACER_EREFUSED: the daemon answered ok:false (see
   pacer_client_error_code). PACER_ETIMEOUT, PACER_ETRANSPORT, PACER_EAUTH,
   PACER_EPROTOCOL, PACER_ENOMEM as for the other calls; *reply_p is NULL
   after any of them. */
int pacer_request(pacer_client_t *self, pacer_endpoint_t endpoint, const void *request, size_t len,
                  pacer_reply_t **reply_p);

/* The reply body's bytes and their number; owned by the reply. */
const uint8_t *pacer_reply_data(pacer_reply_t *self);
size_t pacer_reply_size(pacer_reply_t *self);
void pacer_reply_destroy(pacer_reply_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
