/*  cli_request: msgpack maps out, replies in, for the target and report commands.

    A command collects the keys of a request (or of an event) in a cli_map_t
    as it reads its options, leaving out the ones the user did not give, and
    cli_map_finish packs them into one msgpack map: the builder counts the
    keys, so optional fields need no bookkeeping. cli_request_run sends a
    request map through libpacer's pacer_request and unpacks the reply;
    cli_reply_* read its fields, treating nil like absent as the protocol
    does. cli_reply_print_json prints a reply for --json. */

#ifndef PACER_CLI_REQUEST_H
#define PACER_CLI_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "clients/cli_options.h"
#include "clients/libpacer.h"

typedef struct {
    msgpack_sbuffer fields; /* the packed key/value pairs, without the map header */
    msgpack_packer pk;
    uint32_t keys;
    bool failed; /* out of memory while packing; cli_map_finish reports it */
} cli_map_t;

void cli_map_init(cli_map_t *self);
void cli_map_destroy(cli_map_t *self);

/* Add key = value. A NULL string is left out (an option not given). */
void cli_map_str(cli_map_t *self, const char *key, const char *value);
void cli_map_int(cli_map_t *self, const char *key, int64_t value);
void cli_map_bool(cli_map_t *self, const char *key, bool value);
/* Add a key whose value the caller packs next with the returned packer (one
   value: a nested map or array). */
msgpack_packer *cli_map_key(cli_map_t *self, const char *key);

/* The whole map (header and fields) into `out`, an initialised sbuffer.
   False when packing ran out of memory. */
bool cli_map_finish(cli_map_t *self, msgpack_sbuffer *out);

/* A reply unpacked: `body` is its map while the reply lives. */
typedef struct {
    pacer_reply_t *raw;
    msgpack_unpacked unpacked;
    const msgpack_object *body;
} cli_reply_t;

/* Send the request map built in `request` on `endpoint` with a client made
   from `common`'s endpoints and timeout. Returns CLI_EXIT_OK with *reply
   filled (release it with cli_reply_done), or, after printing why to
   stderr, CLI_EXIT_REJECTED when pacerd refused the request (ok: false) and
   CLI_EXIT_FAILED for anything else (unreachable, malformed reply). */
int cli_request_run(cli_options_t *common, pacer_endpoint_t endpoint, cli_map_t *request,
                    cli_reply_t *reply);

void cli_reply_done(cli_reply_t *reply);

/* The value under `key` in a map, NULL when absent or nil or when `map` is
   not a map. */
const msgpack_object *cli_reply_get(const msgpack_object *map, const char *key);

/* Typed reads; false when absent, nil or of another type. */
bool cli_reply_int(const msgpack_object *map, const char *key, int64_t *out);
bool cli_reply_double(const msgpack_object *map, const char *key, double *out);
bool cli_reply_bool(const msgpack_object *map, const char *key, bool *out);
/* A str as a NUL-terminated copy in out (truncated to fit); "" when absent. */
bool cli_reply_str(const msgpack_object *map, const char *key, char *out, size_t outlen);

/* Show times from now on in the zone --time-zone (or $PACER_TIME_ZONE)
   names, else in pacerd's, which its status says (asked once, quietly: a
   pacerd that does not answer leaves this machine's zone, and the offsets
   printed keep every time unambiguous). */
void cli_request_use_zone(cli_options_t *common);

/* Print `body` (a reply map) as one line of JSON without its v, corr and ok
   keys. CLI_EXIT_OK, or CLI_EXIT_FAILED after saying why. */
int cli_reply_print_json(cli_options_t *common, const msgpack_object *body);

/* ---- one event ------------------------------------------------------------

   The commands that record a person's decision (target set, silence,
   review, rule set...) append one event each. */

/* Append the event built in `event` (type and id among its keys) on the
   append endpoint and print the outcome: "TYPE ID appended as seq N", or
   that it was already in the log; with `json` one object {"type", "id",
   "seq", "dup"} (or "error", "message"). A refusal is printed to stderr.
   CLI_EXIT_OK, CLI_EXIT_REJECTED (refused) or CLI_EXIT_FAILED. */
int cli_event_append(cli_options_t *common, cli_map_t *event, const char *type, const char *id,
                     bool json);

/* A fresh event id: "<prefix>:<at>:<8 random hex digits>", unique per run
   and the same for every use within it (so a retry is a duplicate). */
void cli_event_id(const char *prefix, int64_t at, char *out, size_t outlen);

/* Who a person's event is by when --author is not given: $PACER_AUTHOR,
   else $USER, else $LOGNAME, else "cli". */
const char *cli_event_author(void);

#endif
