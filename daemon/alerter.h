/*  alerter: turns rule verdicts and detector flags into alert records.

    The lag rules (projections/rules.h) are evaluated for every target key
    a group changed, right after the writer folded the group, and on ticks
    for the keys whose time has come; the detectors' flags (raised while
    the group was folded) are turned into anomaly alerts. What changes goes
    into the group's outbox batch (daemon/outbox): an alert record with the
    next aseq, and the alert's new state. The commit thread stores both in
    the group's transaction, so the alerter's memory runs at most one or
    two groups ahead of the durable outbox; after a failed commit the
    writer calls alerter_load to come back to what is durable.

    Semantics (docs/PROTOCOL.md, "Alerts"): one alert per (rule, key) while
    it holds, with a stable key; `repeat` records every repeat_hours while
    active; `resolved` records when it stops holding (hysteresis is the
    rule's); the achieved rules once per key; a period's end resolves its
    lag alerts. A silenced alert is tracked (active, silenced) but nothing
    is recorded for it; when its silence ends while it still holds, it is
    raised then. Anomaly alerts fire once per evidence key and resolve by
    review (anomaly_reviewed); a dismissed key is never raised again.

    Time without polling everything: each key keeps the time its verdicts
    could next change with no further sale (the rules' next_change, a
    repeat, the period's end) in a min-heap; a tick evaluates only the keys
    due. Run rates move at day boundaries: the first tick of a new day
    recomputes them for every key at once and starts the day's sweep, which
    evaluates every key once, in index order. A tick request does all of
    its time-driven work (the sweep's rest, every key due) before it is
    answered; the daemon's own ticks are bounded (ALERTER_STEP_KEYS keys,
    ALERTER_STEP_RECORDS records), so that a large organisation's day does
    not hold the appends behind it for seconds: the writer has the intake
    thread queue the next tick at once while work is left (alerter_behind),
    and the appends that arrive meanwhile commit between the slices. A key
    an event changes during the sweep is evaluated with the new day's rates
    already (they are computed for every key at the sweep's start); a
    restart or alerter_load forgets the sweep's place and the next tick
    starts the day's sweep again from the first key.

    A change of the alert settings or of the silences (alert_rule_set,
    alert_silenced, alert_unsilenced) needs every key evaluated again as
    well. alerter_group does it in the group when told it is not bounded
    (a --manual-clock pacerd, or one with no ticks of its own: tests expect
    what a setting raises by the time its append is answered); bounded, it
    evaluates the keys its group changed and starts the same sweep, which
    the ticks carry on. Another change, or a new day, while the sweep runs
    starts it over from the first key, since the keys it passed were
    evaluated under what came before; alerts are state changes, so a key
    evaluated twice raises nothing twice. After a restart the first tick's
    day's sweep covers the change too.

    The timer heap holds one live entry a scheduled key (a key whose due
    time did not move keeps its entry) and is rebuilt from the keys once
    stale entries could be half of it: at most 2 x keys + 64 entries.

    Threads: the writer's only, under the projector's write lock.

    Errors: the functions that change state return 0, or -1 with a message
    in err: out of memory, or (alerter_load) a store_rc_t failure of the
    outbox, whose message is the store's; the writer answers the group's
    requests with WIRE_INTERNAL and that message. alerter_check speaks
    the validation vocabulary (ev_errcode_t), since its refusal is an
    event's result. */

#ifndef PACER_ALERTER_H
#define PACER_ALERTER_H

#include "daemon/outbox.h"
#include "daemon/store.h"
#include "projections/detector.h"
#include "projections/foldset.h"
#include "projections/projection.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _alerter_t alerter_t;

/* NULL when out of memory. */
alerter_t *alerter_new(void);
void alerter_destroy(alerter_t **self_p);

/* Forget everything and take the state of the durable outbox: start-up,
   and after a failed commit (with the projection reloaded first). Every
   target key is then due at the next tick. 0; -1 with err: out of memory,
   or the outbox could not be read (the store's message). */
int alerter_load(alerter_t *self, store_t *store, projection_t *proj, char *err, size_t errlen);

/* The detectors' emit function (arg: the alerter): queue a flag raised
   while the writer folds a group. */
void alerter_flag(void *self, const det_flag_t *flag);

/* The id of the event at seq, if it is in the group being applied (for
   the evidence of a lag alert); false otherwise. */
typedef bool(alerter_id_fn)(void *arg, uint64_t seq, char *id, size_t cap);

/* After a group was folded: evaluate the keys it changed, resolve reviewed
   flags, raise queued flags. log_seq: the log's last seq with the group.
   When the group changed an alert setting or a silence, every key is
   evaluated again: here, or with bounded, by the sweep the next (bounded)
   ticks carry on (alerter_behind is then true); bounded needs the
   daemon's own ticks. 0; -1 with err when out of memory (what was added
   to out is then to be discarded with the group). */
int alerter_group(alerter_t *self, projection_t *proj, foldset_t *folds, int64_t now,
                  uint64_t log_seq, alerter_id_fn *id_of, void *id_arg, bool bounded,
                  outbox_batch_t *out, char *err, size_t errlen);
/* Where alerter_group also puts a progress row of every key it evaluated
   (topic progress/<path>/, entry aseq = the target index); NULL: none. */
void alerter_progress_to(alerter_t *self, outbox_batch_t *progress);
/* Progress rows go out at most once a second per key; a key changed again
   within its second waits here. Pack the rows of the waiting keys whose
   second is up (progress NULL: forget them, nobody listens). 0; -1 when
   out of memory, with no message (there is no err: the caller words it). */
int alerter_flush_progress(alerter_t *self, projection_t *proj, int64_t now, uint64_t log_seq,
                           outbox_batch_t *progress);
size_t alerter_progress_pending(const alerter_t *self);

/* Time passes: the keys due by now, a new day's run rates and sweep,
   silences that ended, the detectors' ticks. bounded: evaluate at most
   ALERTER_STEP_KEYS keys of the sweep and the timer queue, and stop once
   ALERTER_STEP_RECORDS alert records were added (one key's records stay
   together); false: all of it. 0; -1 with err when out of memory. */
#define ALERTER_STEP_KEYS    16384
#define ALERTER_STEP_RECORDS 2048
int alerter_tick(alerter_t *self, projection_t *proj, foldset_t *folds, int64_t now,
                 uint64_t log_seq, bool bounded, outbox_batch_t *out, char *err, size_t errlen);
/* Time-driven work is left (a sweep of every key, or keys already due
   that a bounded tick left): the next tick should come at once.
   alerter_load clears it. */
bool alerter_behind(const alerter_t *self);

/* anomaly_reviewed must name an anomaly alert that was raised: EVE_OK, or
   EVE_INVALID_VALUE with err filled (code and a message naming the key).
   Other event types: EVE_OK. */
ev_errcode_t alerter_check(alerter_t *self, const event_t *ev, ev_error_t *err);

/* The last aseq given out (committed or about to be). */
uint64_t alerter_last_aseq(const alerter_t *self);
/* Alerts firing now (lag and anomaly, silenced included). */
size_t alerter_active(const alerter_t *self);
/* Entries in the timer queue, stale ones included (for the figures):
   at most 2 x target keys + 64. */
size_t alerter_scheduled(const alerter_t *self);
/* Keys the running sweep has yet to evaluate (0: none runs). */
size_t alerter_sweep_left(const alerter_t *self);
/* Anomaly flags held by a silence: raised, not published yet. */
size_t alerter_held(const alerter_t *self);
/* A held flag's body as read from its alert state (bytes from disk) goes
   out as the pairs after a record's head, when published or listed by
   alerts_active: true if it can, a map of string keys, none of the head's
   or "silenced", with the str summary a record needs. */
bool alerter_held_body_ok(const msgpack_object *held);

#endif
