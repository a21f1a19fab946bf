/*  command: the requests of the append endpoint that are not appends
    (allocate, rebuild, tick), as classes the writer runs without knowing
    what they do.

    The group-commit pipeline (daemon/intake, daemon/writer, daemon/commit)
    carries such a request as an opaque state and a class pointer in its
    pending_t (daemon/group). The class says when in a group's life it has
    work to do (hooks, all optional but create, destroy and pack), and
    flags say how the pipeline must treat it. In the order the writer
    calls them:

      prepare        before the group's events are applied, on every try
                     of the group (a class that computes once keeps its
                     result): an allocate computes its target_set events
                     from the projection and becomes an atomic batch;
      appends        whether the request now carries events to append
                     (the writer applies them as an append's);
      before_alerts  after the group's events are folded, before the
                     alerter evaluates what they changed: a tick moves
                     the alert clock;
      after_alerts   after that evaluation: a tick evaluates what time
                     made due, into the group's outbox;
      after_commit   after the group's commit returned STORE_OK, on the
                     durable log, the projection still locked: a rebuild;
      pack           the reply, once the group is back with the intake
                     thread (only while p->rc is WIRE_OK: an error is
                     packed by daemon/group).

    A group that is applied again (its commit or the one before it failed)
    runs prepare, before_alerts and after_alerts again: they must start
    from what the request holds, not from a previous try.

    Adding a command is a class in a file of its own (daemon/cmd_*.c), a
    line in the registry (daemon/command.c) and its op in WIRE_OP_LIST
    (events/wire.h).

    Error contract: command_attach returns 0 or -1 (out of memory, with
    the request answered WIRE_INTERNAL); hooks that can fail return
    STORE_OK or STORE_ERROR with a message (a store failure or out of
    memory: the writer fails the group, as for a failed fold); a command's
    own refusal goes into its reply (a wire code or, for allocate, a
    pq_rc_t name), never into the pipeline's return codes. */

#ifndef PACER_COMMAND_H
#define PACER_COMMAND_H

#include "daemon/alerter.h"
#include "daemon/group.h"
#include "daemon/projector.h"
#include "daemon/store.h"
#include "daemon/writer.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

/* What a command may use: the writer's, lent for the hook's call (the
   projector's write lock is held in every hook). */
typedef struct {
    store_t *store;
    projector_t *projector;
    alerter_t *alerter;
    writer_stats_t *stats;
    bool manual_clock; /* alert rules run at the last tick's now (--manual-clock) */
    bool alerts_off;   /* --alerts off: no rule is evaluated */
    /* With a manual clock: the alert clock, which ticks move forward. */
    int64_t alert_clock;
    /* The group being applied (before_alerts, after_alerts): its
       recorded_at, the log's last seq with it, and where progress rows
       go (NULL: nobody subscribes to progress/). */
    int64_t wall;
    uint64_t log_seq;
    outbox_batch_t *progress;
} command_env_t;

enum {
    /* Its effect is committed with its group: when the group is not
       committed, it is answered WIRE_INTERNAL with the group's appends. */
    CMD_COMMITS = 1u << 0,
    /* While the disk is full, a group of appends and of these may be
       refused whole without being applied. */
    CMD_REFUSABLE = 1u << 1,
    /* It works on the durable log alone: its group is applied only once
       nothing is committing, and nothing is applied after it until its
       after_commit ran. */
    CMD_DRAINS = 1u << 2,
};

typedef struct command_class {
    const char *name;
    wire_op_t op;
    unsigned flags; /* CMD_x */
    /* State for request p (parsed, op == the class's op); NULL when out
       of memory. */
    void *(*create)(const pending_t *p);
    void (*destroy)(void **state_p);
    void (*prepare)(void *state, command_env_t *env, group_t *g, pending_t *p);
    bool (*appends)(const void *state);
    void (*before_alerts)(void *state, command_env_t *env, group_t *g, pending_t *p);
    int (*after_alerts)(void *state, command_env_t *env, group_t *g, pending_t *p, char *err,
                        size_t errlen);
    void (*after_commit)(void *state, command_env_t *env, pending_t *p);
    /* The reply into out (cleared; counts zeroed): as group_pack_reply. */
    bool (*pack)(void *state, group_t *g, pending_t *p, msgpack_sbuffer *out, uint64_t counts[3]);
} command_class_t;

/* The class of op, or NULL (an append, or an op served elsewhere). */
const command_class_t *command_class_for(wire_op_t op);

/* Give a parsed request (p->rc == WIRE_OK) its class and state, if its op
   has a class. 0 (also for an op without one), or -1 when out of memory,
   with p answered WIRE_INTERNAL. */
int command_attach(pending_t *p);

/* p's class, NULL for an append or a request answered with an error. */
const command_class_t *command_of(const pending_t *p);
/* p's class flags, 0 for an append or a request answered with an error. */
unsigned command_flags(const pending_t *p);

/* The classes (daemon/cmd_*.c). */
extern const command_class_t command_allocate;
extern const command_class_t command_rebuild;
extern const command_class_t command_tick;

#endif
