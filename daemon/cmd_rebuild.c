/*  cmd_rebuild: the rebuild command (a class of daemon/command).

    Folds the whole log again into a fresh projection and fold set
    (projector_rebuild) and reloads the alerter from it. It runs after its
    group's commit, on the durable log alone (CMD_DRAINS: nothing commits
    meanwhile, nothing is applied past it), in a write transaction of its
    own for the snapshots it drops. A failure is answered WIRE_INTERNAL. */

#include "daemon/command.h"

#include "daemon/log.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    uint64_t events; /* folded */
    double ms;
} rebuild_t;

static void *
rebuild_create(const pending_t *p)
{
    return calloc(1, sizeof(rebuild_t));
}

static void
rebuild_destroy(void **state_p)
{
    free(*state_p);
    *state_p = NULL;
}

static void
rebuild_after_commit(void *state, command_env_t *env, pending_t *p)
{
    rebuild_t *b = state;
    char err[512];
    double t0 = log_clock_ms();
    int rc = store_begin(env->store, err, sizeof err);
    if (rc == STORE_OK)
        rc = projector_rebuild(env->projector, &b->events, err, sizeof err);
    if (rc == STORE_OK)
        rc = store_commit(env->store, err, sizeof err);
    else
        store_abort(env->store);
    b->ms = log_clock_ms() - t0;
    if (rc != STORE_OK) {
        p->rc = WIRE_INTERNAL;
        snprintf(p->message, sizeof p->message, "rebuild failed: %s", err);
        log_error("rebuild failed: %s", err);
    } else
        log_info("projection rebuilt: %llu events in %.0f ms", (unsigned long long)b->events,
                 b->ms);
    if (rc == STORE_OK && alerter_load(env->alerter, env->store, projector_live(env->projector),
                                       err, sizeof err) != 0)
        log_error("alert state reload failed: %s", err);
}

static bool
rebuild_pack(void *state, group_t *g, pending_t *p, msgpack_sbuffer *out, uint64_t counts[3])
{
    rebuild_t *b = state;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    wire_reply_begin(&pk, p->req.corr, true, 2);
    wire_pack_str(&pk, "events");
    msgpack_pack_uint64(&pk, b->events);
    wire_pack_str(&pk, "ms");
    msgpack_pack_uint64(&pk, (uint64_t)(b->ms + 0.5));
    return true;
}

const command_class_t command_rebuild = {
    .name = "rebuild",
    .op = OP_REBUILD,
    .flags = CMD_DRAINS,
    .create = rebuild_create,
    .destroy = rebuild_destroy,
    .after_commit = rebuild_after_commit,
    .pack = rebuild_pack,
};
