/*  codec: events between msgpack and event_t, and their canonical bytes.

    event_decode turns a msgpack map into a checked event_t (every rule of
    events/schema.h applied); the encoders write an event's canonical form:
    its present fields in schema order, each value in msgpack's shortest
    form, so that two events with the same content have the same bytes.
    The log stores and hash-chains exactly these bytes, so they never
    change: a new encoding would be a new log format, not an edit here.

    A decoded event_t does not own its strings: they point into the msgpack
    object it was decoded from and live as long as that object's zone. */

#ifndef PACER_EVENTS_CODEC_H
#define PACER_EVENTS_CODEC_H

#include "events/schema.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* Validate a msgpack object as an event and fill *ev. Returns EVE_OK, or
   the first failure (docs/EVENTS.md, "Which error an event gets"), also
   stored in err with a message naming the field ("amount: expected
   integer, got string"):
       EVE_NOT_A_MAP      obj is not a map
       EVE_MISSING_FIELD  no `type`, or a required field absent or nil
       EVE_UNKNOWN_TYPE   `type` names no event type
       EVE_UNKNOWN_FIELD  a key that is not a string or not a field of the type
       EVE_INVALID_VALUE  a key given twice; see ev_field_check, event_check
       EVE_WRONG_TYPE, EVE_INVALID_UTF8, EVE_TOO_LONG, EVE_OUT_OF_RANGE
                          a value refused by ev_field_check or event_check
   On failure *ev is partly filled and must not be used. */
ev_errcode_t event_decode(const msgpack_object *obj, event_t *ev, ev_error_t *err);

/* The event's id if the object is a map with a string "id" (for error
   messages about events that failed validation); {NULL, 0} otherwise.
   Never fails. */
ev_str_t event_peek_id(const msgpack_object *obj);

/* Canonical msgpack encoding of a valid event (one event_decode accepted,
   or built to the same rules) through a msgpack-c packer. Returns 0; -1
   when out of memory; else what the packer's write callback returned
   when it failed. */
int event_encode(const event_t *ev, msgpack_packer *pk);

/* The same into buf; returns the length, or 0 if it might not fit in cap
   (give at least EV_MAX_BYTES + 1024 for an event that may be accepted).
   Nothing beyond the returned length is written. */
size_t event_encode_buf(const event_t *ev, uint8_t *buf, size_t cap);

/* Write v in msgpack's shortest unsigned form, as msgpack-c packs it (at
   most 9 bytes, which p must have room for); returns the end. Also for the
   daemon's replies. Never fails. */
uint8_t *ev_put_uint(uint8_t *p, uint64_t v);

/* 64-bit hash of an id, stable across processes and versions (SipHash-2-4
   with a fixed key); it is stored in the log's id index. Never fails. */
uint64_t event_id_hash(const char *id, size_t len);

#endif
