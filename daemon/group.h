/*  group: the requests of one group commit, on their way from the intake
    thread to the writer and back.

    The intake thread (daemon/intake) receives requests, parses them and
    prepares every event of an append: decoded, validated, encoded
    canonically, its id hashed. Nothing of that depends on the log or the
    projection, so it runs while the writer works on the groups before. The
    writer (daemon/writer) then only looks each prepared event up in the
    duplicate index, checks it against the projection, sequences and folds
    it; the commit thread (daemon/commit) appends the records and commits;
    the group goes back to the intake thread for the replies and the
    publication.

    A group belongs to the intake thread or to the writer: it changes hands
    as a pointer on the inproc pipe between the two (a full memory
    barrier). While the commit thread puts a group's records it only reads
    their canonical bytes (the writer may read them too, for duplicate
    checks), and nothing writes them until the group is handed back.

    Memory: each request keeps its ZeroMQ frames alive until it is answered
    (decoded events point into them), and an array of per-event results. The
    group keeps the canonical encodings of all its events in one arena
    (`canon`) and their decoded field values in another (`values`), from
    which group_event rebuilds an event_t without decoding again. All of it
    is kept for the next group by group_release. */

#ifndef PACER_GROUP_H
#define PACER_GROUP_H

#include "daemon/auth.h"
#include "daemon/outbox.h"
#include "events/schema.h"
#include "events/wire.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#define GROUP_MAX_EVENTS 262144
#define GROUP_MAX_REQS   4096

/* An event's status; >= R_ERROR_BASE: refused, R_ERROR_BASE + an
   ev_errcode_t. */
enum { R_VALID = 0, R_APPENDED, R_DUP };
#define R_ERROR_BASE 100

typedef struct {
    /* Set once, by group_prepare_event. */
    int prepared; /* R_VALID, or refused with prep_message */
    ev_type_t type;
    uint64_t present; /* the event_t's present bits; values in the arena */
    uint32_t values_off;
    uint32_t canon_off, canon_len;
    uint64_t id_hash;
    const char *id;
    uint32_t id_len;
    char *prep_message;
    /* Set by the writer; group_reset puts status back to `prepared`. */
    int status;
    uint64_t seq;
    char *message; /* a refusal by the writer; malloc'd */
} ev_result_t;

/* Who sent a request: a client, or the intake thread itself (an alert
   tick every --tick seconds; a flush of the progress rows that waited). */
typedef enum { PENDING_CLIENT = 0, PENDING_TICK, PENDING_FLUSH } pending_from_t;

typedef struct {
    zmq_msg_t ident, body;
    int64_t received_us; /* monotonic, when the intake thread read it */
    /* With authentication on: who sent it (daemon/auth), recorded with
       every event it appends; principal_len 0: authentication is off. */
    auth_role_t role;
    uint8_t principal_len;
    char principal[AUTH_NAME_MAX + 1];
    wire_request_t req;
    wire_rc_t rc;
    char message[640];
    ev_result_t *results; /* req.nevents of them once prepared */
    uint32_t nresults;
    bool prepared;
    /* an atomic request refused on a try of its group */
    bool atomic_refused;
    uint32_t refused_index;
    ev_errcode_t refused_code;
    char refused_message[320];
    /* Not an append: the command class of its op (daemon/command) and
       its state, which only the class reads; NULL for an append. */
    const struct command_class *cmd_class;
    void *cmd;
    /* The intake thread's own requests, answered to nobody. */
    pending_from_t from;
} pending_t;

typedef struct {
    pending_t *pending; /* GROUP_MAX_REQS slots */
    size_t npending;
    size_t nevents; /* events of the append requests */
    msgpack_sbuffer canon;
    ev_value_t *values;
    size_t nvalues, values_cap;
    /* Set by the writer. */
    bool committed;      /* false: nothing of the group was appended */
    int64_t recorded_at; /* of every event appended */
    uint64_t last_seq;   /* the log's last seq after the commit */
    /* The alerts the group raised (daemon/alerter), committed with it and
       published after it; last_aseq: the newest aseq with them. */
    outbox_batch_t outbox;
    uint64_t last_aseq;
    /* Progress rows of the keys it changed, for progress/<path>/ (not
       stored; the intake thread coalesces them per key); each entry's
       aseq field holds the target index. */
    outbox_batch_t progress;
} group_t;

/* Error contract: functions that can fail return 0 or -1 (out of
   memory, or a socket's failure with errno), and answer the request
   concerned with a wire code (events/wire.h: WIRE_INTERNAL) where there
   is one; an event's refusal is an ev_errcode_t (events/schema.h) in its
   status, R_ERROR_BASE + code. */

/* NULL when out of memory. */
group_t *group_new(void);
void group_destroy(group_t **self_p);

/* Whether p appends events: an append, or a command whose class says so
   (an allocate that is not a preview and has its events). */
bool group_appends_events(const pending_t *p);

/* Decode, validate, encode and hash every event of p (once; later calls
   do nothing). 0, or -1 when out of memory, with p answered
   WIRE_INTERNAL. */
int group_prepare(group_t *self, pending_t *p);

/* The event of a prepared, valid result, as event_decode gave it. */
void group_event(const group_t *self, const ev_result_t *r, event_t *ev);
/* Its canonical encoding, r->canon_len bytes. */
const uint8_t *group_canon(const group_t *self, const ev_result_t *r);

/* The writer refuses event `index` (of a request) with code (an
   ev_errcode_t) and what. */
void group_refuse(ev_result_t *r, int code, uint32_t index, const char *what);

/* Before a retry of the group: every result back to its prepared state. */
void group_reset(group_t *self);
/* Nothing was appended: every request that appends events or whose
   command commits with the group (daemon/command: CMD_COMMITS) is
   answered WIRE_INTERNAL, saying why. */
void group_fail(group_t *self, const char *why);

/* The reply body of p into out (cleared first); counts[3] is set to p's
   appended, duplicate and refused events; returns false for a request
   answered with an error (its wire code, or a command's own named code). */
bool group_pack_reply(group_t *self, pending_t *p, msgpack_sbuffer *out, uint64_t counts[3]);
/* The reply of an append into pk: the results of p's events, the counts
   (added to counts[3]) and last_seq, in a map with `extra` more pairs that
   the caller packs after (a command that appends events). */
void group_pack_results(group_t *self, pending_t *p, msgpack_packer *pk, uint64_t counts[3],
                        size_t extra);

/* Close every request's frames and free what it holds (commands' state
   too); the group is empty and ready to be filled again. */
void group_release(group_t *self);

/* Hand a group (or NULL, meaning stop) to the other thread over their
   inproc PAIR socket: the pointer travels, the group stays put. False if
   the socket failed (errno says why). */
bool group_send(void *socket, group_t *g);

#endif
