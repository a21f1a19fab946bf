/*  cli_json: JSON <-> msgpack for the pacer command line.

    `pacer append` reads events as JSON Lines and sends msgpack; `pacer
    events` and `pacer status --json` turn msgpack back into JSON. The
    mapping is the one docs/EVENTS.md gives: objects <-> maps with string
    keys, integers <-> msgpack ints (int64 only: JSON has no wider integer
    jansson can hold, so a larger one is an error, never a rounded float),
    reals <-> float64, strings, booleans, null <-> nil. msgpack values JSON
    cannot hold are errors, except bin, which becomes a lowercase hex string
    (hashes are bins), and a NaN or infinite float, which becomes null as
    JavaScript writes it (an older pacerd's anomaly records hold NaN for a
    figure the detector could not compute). jansson does the JSON parsing and printing. */

#ifndef PACER_CLI_JSON_H
#define PACER_CLI_JSON_H

#include <stddef.h>

#include <jansson.h>
#include <msgpack.h>

/* Deepest nesting of objects and arrays an event line may have: the depth a
   batch accepts for one event (two levels go to the request around it). */
#define CLI_JSON_MAX_DEPTH 30

typedef enum {
    CLI_JSON_OK = 0,
    CLI_JSON_INVALID = -1,     /* not valid JSON, or nested too deep; err has jansson's reason */
    CLI_JSON_NOT_OBJECT = -2,  /* valid JSON, but an event must be an object */
    CLI_JSON_UNSUPPORTED = -3, /* a msgpack value JSON cannot hold (ext, non-str key, ...) */
    CLI_JSON_NOMEM = -4
} cli_json_rc_t;

/* The error code `pacer append` prints for a line refused locally
   ("invalid_json", "not_a_map", ...). */
const char *cli_json_rc_code(int rc);

/* Parse one line of JSON Lines (`len` bytes, no newline needed) holding one
   JSON object, and append its msgpack encoding to `out`. Duplicate keys are
   an error rather than silently keeping the last. On failure nothing is
   appended and err says why, with the column for a syntax error. */
int cli_json_line_to_msgpack(const char *line, size_t len, msgpack_sbuffer *out, char *err,
                             size_t errlen);

/* Pack a JSON value with pk. Fails (CLI_JSON_INVALID) when nested deeper than
   CLI_JSON_MAX_DEPTH; CLI_JSON_NOMEM when the packer's buffer fails. */
int cli_json_to_msgpack(const json_t *json, msgpack_packer *pk, char *err, size_t errlen);

/* A new JSON value for a msgpack object; NULL with err set (and *rc_p, if
   given) when the object holds something JSON cannot. */
json_t *cli_msgpack_to_json(const msgpack_object *object, int *rc_p, char *err, size_t errlen);

/* The same for `len` bytes holding exactly one msgpack value. */
json_t *cli_msgpack_bytes_to_json(const void *data, size_t len, int *rc_p, char *err,
                                  size_t errlen);

/* Compact JSON text of `json` (caller frees), reals printed with the fewest
   digits that read back as the same double: 4.6, not 4.5999999999999996.
   NULL when out of memory. */
char *cli_json_dumps(const json_t *json);

/* Lowercase hex of `len` bytes into out (2 * len + 1 bytes). */
void cli_json_hex(const void *data, size_t len, char *out);

#endif
