/*  wire: request parsing and reply envelopes of protocol v1 (docs/PROTOCOL.md).

    Request bodies are untrusted bytes. wire_request_parse first walks them
    with a bounds-checking scanner (mp_scan) before handing them to
    msgpack-c: msgpack-c allocates an array's elements from the header's
    count before reading them, so a five-byte body claiming four billion
    elements would otherwise ask for ~100 GB. The scanner proves every
    count fits the bytes that follow, bounds nesting, and refuses trailing
    bytes; only then is the body unpacked, into a zone owned by the request. */

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

typedef enum {
    WIRE_OK = 0,
    WIRE_MALFORMED,
    WIRE_BAD_REQUEST,
    WIRE_UNSUPPORTED_VERSION,
    WIRE_UNKNOWN_OP,
    WIRE_TOO_LARGE,
    WIRE_INTERNAL
} wire_rc_t;

typedef enum {
    OP_NONE,
    OP_APPEND,
    OP_STATUS,
    OP_EVENTS,
    OP_PROGRESS,
    OP_LEADERBOARD,
    OP_TARGET_HISTORY,
    OP_ALLOCATE,
    OP_REBUILD,
    OP_TICK,
    OP_ALERTS,
    OP_ALERTS_ACTIVE,
    OP_SILENCES,
    OP_UNDEFINED_NODES,
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
    /* events */
    uint64_t from;
    uint64_t limit;
    bool raw;
} wire_request_t;

/* Structural check of untrusted msgpack: exactly one value filling len
   bytes, nesting at most max_depth, every count backed by bytes. */
bool mp_scan(const uint8_t *data, size_t len, int max_depth);

/* Parse a request body. On failure returns the code and writes a message;
   req->corr is still set if the body got far enough to have one. Always
   call wire_request_free afterwards. */
wire_rc_t wire_request_parse(wire_request_t *req, const void *data, size_t len, char *msg,
                             size_t msglen);
void wire_request_free(wire_request_t *req);

const char *wire_rc_name(wire_rc_t rc);

/* Start a reply map of 3 + extra entries: v, corr, ok. The caller packs the
   extra key/value pairs. */
int wire_reply_begin(msgpack_packer *pk, const msgpack_object *corr, bool ok, size_t extra);
/* A complete error reply: v, corr, ok=false, error, message. */
int wire_reply_error(msgpack_packer *pk, const msgpack_object *corr, wire_rc_t rc,
                     const char *message);
/* The same with an error code given by name (operation-specific codes). */
int wire_reply_error_named(msgpack_packer *pk, const msgpack_object *corr, const char *code,
                           const char *message);
int wire_pack_str(msgpack_packer *pk, const char *s);
/* Pack a human-readable message, escaping anything that is not printable
   UTF-8 (it may quote producer bytes), so every reply is valid msgpack str. */
int wire_pack_text(msgpack_packer *pk, const char *s);

#endif
