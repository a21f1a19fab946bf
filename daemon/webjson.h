/*  webjson: msgpack values written as JSON, for the dashboard's HTTP API
    (daemon/dashboard).

    The query endpoint's replies and the publish stream's records are
    msgpack; a browser reads JSON. The mapping is the one docs/PROTOCOL.md
    implies: maps and arrays as objects and arrays, strings as strings
    (escaped; bytes that are not UTF-8 become U+FFFD), integers exactly,
    floats in the shortest form that reads back the same (0.65, not
    0.65000000000000002), nil as null, a bin as a string of hex digits
    (status's last_hash), NaN, infinities and ext as null. A map key that
    is not a string is written as the JSON of its value, quoted.

    One addition: a map with a string "currency" also gets
    "currency_digits", the currency's minor-unit digits (events/money), so
    that the page shows money in major units exactly as the alerts'
    summaries and the CLI do, from one table.

    Errors: none returned. Every msgpack value has a JSON form (above);
    out of memory is the reply's (http_reply_write sets reply->failed and
    the client gets a 500). */

#ifndef PACER_WEBJSON_H
#define PACER_WEBJSON_H

#include "daemon/http.h"

#include <msgpack.h>

/* Append obj as JSON to reply's body. */
void webjson_write(http_reply_t *reply, const msgpack_object *obj);

/* Append s (len bytes) as a JSON string, quotes included. */
void webjson_string(http_reply_t *reply, const char *s, size_t len);

#endif
