/*  auth: who may connect to pacerd, and what each key may do.

    With authentication on (pacerd --keys FILE --server-key FILE), every
    endpoint is a ZeroMQ CURVE server: traffic is encrypted and a client
    must prove it holds the secret half of a public key listed in the keys
    file. The keys file has one key a line:

        # comments and blank lines are ignored
        <public key, 40 characters of Z85>  <role>  [name]

    The role is `producer` (appends), `reader` (queries and subscriptions)
    or `admin` (everything, and alone allocate, rebuild, tick and the
    events that record decisions about targets and alerts: auth_may and
    auth_may_append are the whole policy, docs/PROTOCOL.md says it in
    words). The name is the principal recorded in the log with every event
    the key appends (1 to AUTH_NAME_MAX characters of A-Z a-z 0-9 . _ - @
    +); without one, the key itself is the principal.

    The ZAP handler (RFC 27, an actor of its own in czmq's context, on
    inproc://zeromq.zap.01) checks each new connection's key against the
    keys file and answers with the key as the ZAP user id, which libzmq
    then attaches to every message of that connection as its "User-Id"
    property (a client cannot set it: ZAP properties take precedence over
    the ones a peer sends). The publish endpoint admits only reader and
    admin keys there, since a subscription gets no reply to refuse. The
    append and query endpoints admit every listed key and judge each
    request: auth_identify reads the User-Id of the request's body frame
    and looks it up in the keys as they are now, so a key removed or
    demoted by a reload loses its rights on its next request, not only on
    its next connection.

    Reload: the keys file is read again when its modification time, size
    or inode changes (the handler looks once a second) and on
    auth_reload (SIGHUP). A file that does not parse is reported and the
    keys in force are kept. A subscriber already connected keeps its
    subscriptions until it reconnects.

    Threads: auth_identify and auth_reload may be called from any thread;
    the keys are swapped under a read-write lock.

    Errors: auth has no codes of its own. Its functions that can fail
    return NULL or -1 with a message in err naming the file, line and
    field; what a client sees of a refusal is WIRE_FORBIDDEN
    (events/wire.h) with the sentence auth_forbidden writes, sent by the
    endpoint that asked auth_may. The policy functions cannot fail. */

#ifndef PACER_AUTH_H
#define PACER_AUTH_H

#include "events/schema.h"
#include "events/wire.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#define AUTH_NAME_MAX 64
#define AUTH_KEY_LEN  40 /* a public key in Z85 */

/* The ZAP domains of pacerd's three endpoints. */
#define AUTH_DOMAIN_APPEND  "pacer-append"
#define AUTH_DOMAIN_QUERY   "pacer-query"
#define AUTH_DOMAIN_PUBLISH "pacer-publish"

typedef enum { AUTH_NONE = 0, AUTH_PRODUCER, AUTH_READER, AUTH_ADMIN } auth_role_t;

/* "producer", "reader", "admin"; "none" for AUTH_NONE and any other value.
   The one place a role becomes a word (the keys file, messages, logs). */
const char *auth_role_name(auth_role_t role);

/* The role `op` needs on `endpoint` (WIRE_ON_APPEND or WIRE_ON_QUERY):
   AUTH_NONE when any listed key may (status, and an op the endpoint does
   not serve: the endpoint answers it with unknown_op). */
auth_role_t auth_op_needs(wire_op_t op, unsigned endpoint);
/* The role appending an event of `type` needs. */
auth_role_t auth_event_needs(ev_type_t type);
/* Whether `role` satisfies `needs`: admin does everything, producer and
   reader their own; AUTH_NONE (an unknown key) nothing. */
bool auth_role_has(auth_role_t role, auth_role_t needs);
/* Shorthands of the three above. */
bool auth_may(auth_role_t role, wire_op_t op, unsigned endpoint);
bool auth_may_append(auth_role_t role, ev_type_t type);
/* The role a ZAP domain requires of a connection (AUTH_NONE: any key, and
   an unknown domain, which no pacerd socket uses). */
auth_role_t auth_domain_needs(const char *domain);

/* ---- the keys file --------------------------------------------------- */

typedef struct {
    char key[AUTH_KEY_LEN + 1];
    auth_role_t role;
    char name[AUTH_NAME_MAX + 1]; /* the principal: the name, or the key */
} auth_entry_t;

typedef struct _auth_keys_t auth_keys_t;

/* Parse a keys file's text (len bytes, not necessarily NUL-terminated).
   NULL with a message naming the line ("line 3: role \"writer\": expected
   producer, reader or admin"); a malformed key, an unknown role, a bad
   name, extra fields and a key listed twice are errors. An empty file is
   no error (no client is admitted). Out of memory: NULL with "out of
   memory". */
auth_keys_t *auth_keys_parse(const char *text, size_t len, char *err, size_t errlen);
/* Read and parse a keys file. NULL with a message naming the file: it
   cannot be read (strerror), or auth_keys_parse's message after its name. */
auth_keys_t *auth_keys_load(const char *path, char *err, size_t errlen);
void auth_keys_destroy(auth_keys_t **self_p);
size_t auth_keys_count(const auth_keys_t *self);
/* The entry of a public key (Z85, AUTH_KEY_LEN characters), or NULL. */
const auth_entry_t *auth_keys_find(const auth_keys_t *self, const char *key);
/* How many keys have `role`. */
size_t auth_keys_count_role(const auth_keys_t *self, auth_role_t role);

/* ---- the daemon's authenticator ----------------------------------------- */

typedef struct _auth_t auth_t;

/* What can be checked before anything is created on disk: that libzmq has
   CURVE, that server_cert (a secret certificate in zcert's format, as
   `pacer keygen --out FILE` writes FILE_secret; FILE is tried as
   FILE_secret first, as zcert_load does) holds a secret key, and that the
   keys file parses. 0, or -1 with a message naming what failed (the
   certificate file, its missing secret key, the keys file's line, or a
   libzmq without CURVE). */
int auth_check(const char *server_cert, const char *keys_path, char *err, size_t errlen);

/* Load the server's certificate and the keys file and start the ZAP
   handler. Call before any socket of czmq's context binds. NULL with a
   message on failure: the certificate's or the keys file's (as
   auth_check words them), out of memory, or the ZAP handler could not
   bind its endpoint. */
auth_t *auth_new(const char *server_cert, const char *keys_path, char *err, size_t errlen);
/* Stop the ZAP handler and free it; after every socket it served closed. */
void auth_destroy(auth_t **self_p);

/* Make `sock` a CURVE server with the server's keys, in ZAP domain
   `domain` (AUTH_DOMAIN_x). Before it binds. Cannot fail: czmq's setters
   assert on a failed zmq_setsockopt, which with a valid socket and
   auth_check passed (CURVE present) does not happen. */
void auth_apply(auth_t *self, zsock_t *sock, const char *domain);

/* Read the keys file again now (SIGHUP). 0 when the keys in force are the
   file's (reloaded or unchanged), -1 with a message when the file does not
   load: the keys in force stay. */
int auth_reload(auth_t *self, char *err, size_t errlen);

/* The server's public key, Z85. */
const char *auth_server_key(auth_t *self);

/* Who sent `msg` (a frame received on a socket auth_apply set up): its
   key's role as the keys file says now, with the principal (the key's
   name, or the key) in `principal`. AUTH_NONE, with the key (or "") in
   `principal`, when the message carries no User-Id or the key is no longer
   listed. */
auth_role_t auth_identify(auth_t *self, zmq_msg_t *msg, char *principal, size_t len);

/* The message of a `forbidden` reply: who, with what role, may not do
   what, and which role may. Returns out. */
char *auth_forbidden(auth_role_t role, const char *principal, const char *what, auth_role_t needs,
                     char *out, size_t outlen);

#endif
