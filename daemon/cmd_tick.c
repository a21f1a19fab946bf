/*  cmd_tick: the tick command (a class of daemon/command).

    A tick evaluates the alert rules whose verdict time alone may have
    changed (daemon/alerter: the keys due). A client's tick may give `now`;
    the intake thread's own (every --tick seconds) uses the group's
    recorded_at. With --manual-clock the alert clock is the last tick's
    now and only moves forward: a tick before it is answered
    WIRE_BAD_REQUEST. The intake thread's flush (PENDING_FLUSH) only sends
    the progress rows that waited for their second.

    A tick request does all the time-driven work before it is answered
    (tests with a manual clock expect every alert due by then). The intake
    thread's own tick does one bounded step of it (daemon/alerter.h): a new
    day's sweep of every key goes on over the next ticks, which the intake
    thread queues at once while the writer says work is left, so that the
    appends waiting behind it commit between the slices.

    Its alerts are committed with its group (CMD_COMMITS), and a group of
    appends and ticks may be refused whole on a full disk (CMD_REFUSABLE). */

#include "daemon/command.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    bool flush_only;
    bool bounded;  /* the intake thread's own tick: one bounded step */
    int64_t clock; /* the tick's now; -1: refused (p->message says why) */
    uint64_t raised;
} tick_t;

static void *
tick_create(const pending_t *p)
{
    tick_t *k = calloc(1, sizeof *k);
    if (k) {
        k->flush_only = p->from == PENDING_FLUSH;
        k->bounded = p->from == PENDING_TICK;
    }
    return k;
}

static void
tick_destroy(void **state_p)
{
    free(*state_p);
    *state_p = NULL;
}

/* The tick's now, and with a manual clock the alert clock moves to it. */
static void
tick_before_alerts(void *state, command_env_t *env, group_t *g, pending_t *p)
{
    tick_t *k = state;
    if (k->flush_only)
        return;
    int64_t t = p->req.has_now ? p->req.now : env->wall;
    if (env->manual_clock && !p->req.has_now)
        t = env->alert_clock;
    if (env->manual_clock && t < env->alert_clock) {
        k->clock = -1;
        snprintf(p->message, sizeof p->message,
                 "now: %lld is earlier than the alert clock (%lld); time only moves forward",
                 (long long)t, (long long)env->alert_clock);
        return;
    }
    k->clock = t;
    if (env->manual_clock) {
        env->alert_clock = t;
        atomic_store(&env->stats->alert_clock, t);
    }
}

/* The keys time made due, evaluated at the tick's now into the group's
   outbox; or the progress rows that waited. */
static int
tick_after_alerts(void *state, command_env_t *env, group_t *g, pending_t *p, char *err,
                  size_t errlen)
{
    tick_t *k = state;
    if (k->clock < 0)
        return STORE_OK;
    projection_t *proj = projector_live(env->projector);
    if (k->flush_only) {
        int64_t now = env->manual_clock ? env->alert_clock : env->wall;
        if (alerter_flush_progress(env->alerter, proj, now, env->log_seq, env->progress) != 0) {
            snprintf(err, errlen, "packing the progress rows that waited failed (out of memory)");
            return STORE_ERROR;
        }
        return STORE_OK;
    }
    size_t before = g->outbox.nrecs;
    if (alerter_tick(env->alerter, proj, projector_folds(env->projector), k->clock, env->log_seq,
                     k->bounded, &g->outbox, err, errlen) != 0)
        return STORE_ERROR;
    k->raised = g->outbox.nrecs - before;
    return STORE_OK;
}

static bool
tick_pack(void *state, group_t *g, pending_t *p, msgpack_sbuffer *out, uint64_t counts[3])
{
    tick_t *k = state;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (k->clock < 0) {
        wire_reply_error(&pk, p->req.corr, WIRE_BAD_REQUEST, p->message);
        return false;
    }
    wire_reply_begin(&pk, p->req.corr, true, 3);
    wire_pack_str(&pk, "raised");
    msgpack_pack_uint64(&pk, k->raised);
    wire_pack_str(&pk, "last_aseq");
    msgpack_pack_uint64(&pk, g->last_aseq);
    wire_pack_str(&pk, "now");
    msgpack_pack_int64(&pk, k->clock);
    return true;
}

const command_class_t command_tick = {
    .name = "tick",
    .op = OP_TICK,
    .flags = CMD_COMMITS | CMD_REFUSABLE,
    .create = tick_create,
    .destroy = tick_destroy,
    .before_alerts = tick_before_alerts,
    .after_alerts = tick_after_alerts,
    .pack = tick_pack,
};
