/*  wire: request parsing and reply envelopes of protocol v1 (docs/PROTOCOL.md).

    Request bodies are untrusted bytes. wire_request_parse first walks them
    with a bounds-checking scanner (mp_scan) before handing them to
    msgpack-c: msgpack-c allocates an array's elements from the header's
    count before reading them, so a five-byte body claiming four billion
    elements would otherwise ask for ~100 GB. The scanner proves every
    count fits the bytes that follow, bounds nesting, and refuses trailing
    bytes; only then is the body unpacked, into a zone owned by the request.

    Errors: wire_rc_t is the protocol's request-level vocabulary, the
    codes a client reads in a reply's `error` (docs/PROTOCOL.md lists
    them), and wire_rc_name the one place a wire_rc_t becomes that name.
    Lower layers keep their own codes (store_rc_t, ev_errcode_t, pq_rc_t,
    errno values); the endpoint that answers maps them: a store failure
    is WIRE_INTERNAL with the store's message, an event's validation code
    is sent by ev_errcode_name in its result, a query's pq_rc_t by
    pq_rc_name through wire_reply_error_named (docs/DESIGN.md, "Errors").
    The pack functions return msgpack-c's code: 0, or non-zero when the
    packer's write failed (out of memory, for an sbuffer). */

#ifndef PACER_EVENTS_WIRE_H
#define PACER_EVENTS_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION        1
#define WIRE_MAX_BODY       (16u * 1024 * 1024)
#define WIRE_MAX_EVENTS     100000
#define WIRE_MAX_DEPTH      32
#define WIRE_EVENTS_DEFAULT 1000
#define WIRE_EVENTS_MAX     10000

/* The request-level error codes (docs/PROTOCOL.md, "Request-level error
   codes"); a new code is a line here, in wire_rc_name and in PROTOCOL.md. */
typedef enum {
    WIRE_OK = 0,
    WIRE_MALFORMED,
    WIRE_BAD_REQUEST,
    WIRE_UNSUPPORTED_VERSION,
    WIRE_UNKNOWN_OP,
    WIRE_TOO_LARGE,
    WIRE_INTERNAL,
    WIRE_FORBIDDEN /* the caller's role may not do this (daemon/auth) */
} wire_rc_t;
#define WIRE_RC_LAST WIRE_FORBIDDEN /* tests/test_errors.c walks the codes up to it */

/* Every operation of the protocol, once: its name and the endpoints that
   serve it (docs/PROTOCOL.md). wire_request_parse resolves a request's
   op through this list; an op not in it is OP_OTHER, which the query
   endpoint offers to the folds (projections/foldset: a fold may answer
   operations of its own). Adding an operation is a line here and its
   handler where its endpoint dispatches (daemon/query.c; daemon/command.c). */
#define WIRE_ON_APPEND 1u
#define WIRE_ON_QUERY  2u
#define WIRE_OP_LIST(X)                                                                            \
    X(APPEND, "append", WIRE_ON_APPEND)                                                            \
    X(STATUS, "status", WIRE_ON_QUERY)                                                             \
    X(EVENTS, "events", WIRE_ON_QUERY)                                                             \
    X(PROGRESS, "progress", WIRE_ON_QUERY)                                                         \
    X(LEADERBOARD, "leaderboard", WIRE_ON_QUERY)                                                   \
    X(TARGET_HISTORY, "target_history", WIRE_ON_QUERY)                                             \
    X(DAILY, "daily", WIRE_ON_QUERY)                                                               \
    X(UNDEFINED_NODES, "undefined_nodes", WIRE_ON_QUERY)                                           \
    X(ALLOCATE, "allocate", WIRE_ON_APPEND | WIRE_ON_QUERY)                                        \
    X(REBUILD, "rebuild", WIRE_ON_APPEND)                                                          \
    X(TICK, "tick", WIRE_ON_APPEND)                                                                \
    X(ALERTS, "alerts", WIRE_ON_QUERY)                                                             \
    X(ALERTS_ACTIVE, "alerts_active", WIRE_ON_QUERY)                                               \
    X(SILENCES, "silences", WIRE_ON_QUERY)

typedef enum {
    OP_NONE,
#define WIRE_OP_ENUM(sym, name, where) OP_##sym,
    WIRE_OP_LIST(WIRE_OP_ENUM)
#undef WIRE_OP_ENUM
        OP_OTHER
} wire_op_t;

typedef struct {
    msgpack_unpacked unpacked; /* owns the zone all pointers below live in */
    const msgpack_object *body;
    const msgpack_object *corr; /* NULL when absent */
    wire_op_t op;
    const char *op_name;
    uint32_t op_len;
    /* append */
    const msgpack_object *events; /* array elements */
    uint32_t nevents;
    bool atomic;
    /* tick: the `now` given (has_now false: the daemon's clock) */
    bool has_now;
    int64_t now;
} wire_request_t;

/* Structural check of untrusted msgpack: exactly one value filling len
   bytes, nesting at most max_depth, every count backed by bytes. True if
   so; false says nothing more (wire_request_parse words it). */
bool mp_scan(const uint8_t *data, size_t len, int max_depth);
/* The same for the first of several values: true with *used, the bytes
   it takes, if one well-formed value starts the len bytes; false (*used
   unspecified) otherwise. */
bool mp_scan_first(const uint8_t *data, size_t len, int max_depth, size_t *used);

/* Parse a request body. WIRE_OK; or, with a message in msg naming the key
   at fault: WIRE_TOO_LARGE (body over WIRE_MAX_BODY, a batch over
   WIRE_MAX_EVENTS), WIRE_MALFORMED (not one complete msgpack value),
   WIRE_BAD_REQUEST (not a map, a key not a string, v or op missing or
   ill-typed, append's events or atomic or tick's now missing, ill-typed
   or out of range; a query's own keys are its handler's, below),
   WIRE_UNSUPPORTED_VERSION. Its keys are read with the request-field
   readers below, in this order, so the first fault found decides the
   code: v, op, then append's events (WIRE_TOO_LARGE once it is an array
   of over WIRE_MAX_EVENTS) and atomic, or tick's now. An op not in WIRE_OP_LIST is not an error
   here (req->op is OP_OTHER: the endpoint decides). req->corr is still
   set if the body got far enough to have one. Always call
   wire_request_free afterwards. */
wire_rc_t wire_request_parse(wire_request_t *req, const void *data, size_t len, char *msg,
                             size_t msglen);
void wire_request_free(wire_request_t *req);

/* The code's name on the wire ("bad_request"); "internal" for a value
   outside the enum. Static storage. */
const char *wire_rc_name(wire_rc_t rc);

/* An op's name ("append") and the endpoints serving it (WIRE_ON_x); NULL
   and 0 for OP_NONE and OP_OTHER. */
const char *wire_op_name(wire_op_t op);
unsigned wire_op_endpoints(wire_op_t op);
/* "append, allocate, rebuild, tick": the ops an endpoint serves, for the
   message of an unknown_op. Returns out. */
char *wire_ops_served(unsigned endpoint, char *out, size_t outlen);

/* Start a reply map of 3 + extra entries: v, corr, ok. The caller packs the
   extra key/value pairs. 0, or non-zero when the packer's write failed. */
int wire_reply_begin(msgpack_packer *pk, const msgpack_object *corr, bool ok, size_t extra);
/* A complete error reply: v, corr, ok=false, error (wire_rc_name (rc)),
   message. 0, or non-zero when the packer's write failed. */
int wire_reply_error(msgpack_packer *pk, const msgpack_object *corr, wire_rc_t rc,
                     const char *message);
/* The same with the code given by name: the name function of the layer
   that refused (pq_rc_name for a query's not_found or invalid_value),
   never a string literal. 0, or non-zero as above. */
int wire_reply_error_named(msgpack_packer *pk, const msgpack_object *corr, const char *code,
                           const char *message);
/* Pack s as a msgpack str. 0, or non-zero when the write failed. */
int wire_pack_str(msgpack_packer *pk, const char *s);
/* The value of a msgpack map's string key, or NULL (no such key, or not a
   map): how records are read by key. A request body's keys are read with
   the wire_req_* readers below (which use it), but for corr: any value,
   echoed as it came. */
const msgpack_object *wire_map_get(const msgpack_object *map, const char *key);
/* Pack a human-readable message, escaping anything that is not printable
   UTF-8 (it may quote producer bytes), so every reply is valid msgpack str.
   0, or non-zero when the write failed. */
int wire_pack_text(msgpack_packer *pk, const char *s);

/* Request fields: the one way a handler reads a key of a request body, so
   that a key missing, of the wrong type or out of its range gets the same
   bad_request message wherever it is read, in one format naming the key
   and what it takes:

       "<key>: required (<what>)"      required and absent (or nil)
       "<key>: expected <what>"        present, but not what it takes

   where <what> comes from the field's type and range ("a string of at
   most 64 bytes", "a positive integer", "an integer from 1 to 12").
   A nil value counts as absent: it is how a client leaves an optional key
   out. A handler declares each key it reads once, as a wire_field_t, and
   lists them for its operation's table entry (daemon/query.c,
   projections/report.c), which checks a request against the list before
   the handler runs. Keys no field names are ignored (docs/PROTOCOL.md).
   wire_request_parse reads only what every request has (v, op, corr) and
   the append endpoint's keys; a query's keys are its handler's, and a
   fold's operation's are listed by its fold_op_t (projections/fold.h). */
typedef enum {
    WIRE_FIELD_STR,  /* a string */
    WIRE_FIELD_U64,  /* a non-negative integer */
    WIRE_FIELD_I64,  /* an integer */
    WIRE_FIELD_BOOL, /* true or false */
    WIRE_FIELD_MAP,  /* a map (the handler reads its entries) */
    WIRE_FIELD_STRS, /* a string or an array of strings */
    WIRE_FIELD_ARRAY /* an array (the handler reads its elements) */
} wire_field_type_t;

typedef struct {
    const char *name;
    wire_field_type_t type;
    bool required;
    /* I64: the range, both 0 for any int64. U64: the range, max 0 for no
       bound (up to UINT64_MAX). STR, STRS: max, the most bytes or strings
       (0: any). ARRAY: the fewest and most elements (max 0: any). */
    int64_t min, max;
    int64_t def; /* U64, I64, BOOL: the value when absent */
} wire_field_t;

/* A wire_field_t list ends with a NULL. */
typedef const wire_field_t *const wire_fields_t[];

/* The readers. Each returns 1 (present: the value written to its out
   arguments), 0 (absent or nil, and not required: a number or boolean
   gets f->def, a string or map NULL) or -1 (required and absent, wrong
   type or out of range: msg holds the message above). f's type must be the
   reader's. A string's bytes are not copied: they live in body's zone. */
int wire_req_str(const msgpack_object *body, const wire_field_t *f, const char **s, size_t *len,
                 char *msg, size_t msglen);
/* The same, copied into buf with a NUL; f->max must be < buflen. */
int wire_req_strcpy(const msgpack_object *body, const wire_field_t *f, char *buf, size_t buflen,
                    char *msg, size_t msglen);
int wire_req_u64(const msgpack_object *body, const wire_field_t *f, uint64_t *v, char *msg,
                 size_t msglen);
int wire_req_i64(const msgpack_object *body, const wire_field_t *f, int64_t *v, char *msg,
                 size_t msglen);
int wire_req_bool(const msgpack_object *body, const wire_field_t *f, bool *v, char *msg,
                  size_t msglen);
/* MAP, STRS and ARRAY fields: *v is the value (a STRS string or array,
   checked; an ARRAY's elements are not). */
int wire_req_obj(const msgpack_object *body, const wire_field_t *f, const msgpack_object **v,
                 char *msg, size_t msglen);
/* Check every field of a NULL-ended list, in order: 0, or -1 with the
   first one's message. */
int wire_req_check(const msgpack_object *body, const wire_field_t *const *fields, char *msg,
                   size_t msglen);
/* A handler's own check of a value the type allows ("curve: expected
   linear, working or profile"), in the same format: writes
   "<key>: expected <what>" and returns -1. */
int wire_req_expected(const char *key, const char *what, char *msg, size_t msglen);
/* "<key>: required (<what>)", -1: a key required only with another's
   value (weights with method weights). */
int wire_req_required(const char *key, const char *what, char *msg, size_t msglen);

#endif
