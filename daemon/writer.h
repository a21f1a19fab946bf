/*  writer: the one thread that appends to the log.

    It owns the store's write side, the duplicate index, and (under the
    projector's write lock) the live projection. In front of it, the intake
    thread (daemon/intake) owns the append ROUTER and the XPUB socket: it
    receives requests and prepares their events while the writer commits,
    and answers them afterwards. Each group of requests that the intake
    thread hands over is one group commit:

      1. (intake) wait for requests, receive every request already queued
         (up to GROUP_MAX_EVENTS events, see daemon/group.h), parse them,
         and decode, validate, encode canonically and hash the id of every
         event;
      2. for each event in order: look it up in the duplicate index, check
         it against the projection (daemon/admission), give it the next
         seq and fold it into the projection (its chained hash computed
         beside the writer by daemon/chain); the group's other requests
         run as commands (daemon/command): an allocate becomes an atomic
         batch of target_set events here, computed from the projection as
         it stood before the group, a tick evaluates the alerts time made
         due, a rebuild runs after the group's commit;
      3. (commit thread, daemon/commit) put the group's records into one
         write transaction and commit it (LMDB syncs to disk), while the
         writer goes on with step 2 of the next group;
      4. (intake) only then reply to each producer, and publish the events.
         Between groups, every N events, the writer forks the child that
         serialises a projection snapshot (daemon/projector), from the
         durable log only; its bytes are then stored a 4 MiB chunk per
         transaction, by the commit thread after later groups' commits.

    The writer holds at most two groups: the one it applies and the one
    before it, committing. Queries see the projection only while no group
    is past it and not yet durable (see writer.c).

    If a commit fails, the duplicate index's unsettled inserts are undone,
    the projection is reloaded from the committed log and the group is
    answered `internal` for every append, so no producer ever gets an
    acknowledgement for an event that is not durable; the group applied
    meanwhile is applied again. A full map is grown and the transaction
    redone by the commit thread. A full disk (STORE_DISK_FULL) is answered
    the same way, and then groups of appends are refused without being
    applied, all but one a second, until one commits again: the daemon
    keeps serving queries and resumes appends by itself once space is
    freed. Other failures, ten groups in a row, stop the daemon.

    Counters are the one piece of state shared with other threads without
    a lock: written here and by the intake thread with relaxed atomics, read
    by the query thread and the metrics (daemon/metrics). */

#ifndef PACER_WRITER_H
#define PACER_WRITER_H

#include "daemon/auth.h"
#include "daemon/dedup.h"
#include "daemon/histogram.h"
#include "daemon/projector.h"
#include "daemon/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    _Atomic uint64_t requests, appended, duplicates, rejected, bad_requests, commits, map_resizes;
    _Atomic uint64_t map_size;
    /* subscriptions that progress/ topics would reach (the intake thread
       counts them, the writer packs progress updates only when there are) */
    _Atomic long progress_subscribers;
    /* For the metrics: gauges of the durable state, set after each commit
       (the alerter's figures as they stood with the group committed, not
       with the one applied behind it); subscriptions on the publish socket
       (intake thread); the writer loop's last turn (monotonic ms, for the
       systemd watchdog); whether appends fail for want of disk space. */
    _Atomic uint64_t last_seq, last_aseq, alerts_active, map_used, commit_failures;
    _Atomic long subscriptions;
    _Atomic int64_t writer_alive_ms;
    _Atomic int disk_full;
    /* ack latency (intake: request read to reply sent, microseconds),
       events per group and commit time (writer, microseconds), for groups
       that appended events; metrics_init_stats sets their buckets */
    histogram_t ack_latency, group_events, commit_time;
    /* the alert clock of a --manual-clock pacerd (0: the wall clock), the
       default `now` of the alert queries */
    _Atomic int64_t alert_clock;
    /* The alerter has time-driven work left (a sweep of every key: a new
       day's, or a changed alert setting's or silence's, daemon/alerter.h;
       or keys due that a bounded tick left): the intake thread queues its next
       tick at once instead of in --tick seconds. Set by the writer as it
       hands each group back. */
    _Atomic bool alerts_behind;
    /* For the metrics, set with alerts_behind: the keys the running sweep
       has left, entries in the alerter's timer queue, anomaly flags held by
       a silence. */
    _Atomic uint64_t sweep_left, alert_timers, alerts_held;
} writer_stats_t;

typedef struct _writer_t writer_t;
struct committer_ops; /* daemon/commit.h */

/* Error contract: writer_new and writer_load_ids return NULL with a
   message (out of memory, a socket or thread that could not be made, an
   unreadable log or outbox); writer_run returns 0 or -1; writer_snapshot
   a store code (daemon/store.h: STORE_OK, STORE_ERROR, STORE_MAP_FULL...).
   What a request is answered is a wire code (events/wire.h) or an event's
   ev_errcode_t (events/schema.h), never a return value of these. */

/* Sockets are raw libzmq handles owned by the caller; from writer_run on,
   only the intake thread uses them (pub may be NULL: nothing published).
   NULL on failure with a message in err. Takes ownership of *dedup_p
   (built by writer_load_ids) and clears it. */
writer_t *writer_new(store_t *store, projector_t *projector, dedup_t **dedup_p, void *router,
                     void *pub, writer_stats_t *stats, char *err, size_t errlen);
void writer_destroy(writer_t **self_p);

/* Start the intake thread and run until *stop becomes true (checked
   between groups and at least once a second). A group in flight is always
   finished: committed and answered, and so is every request already read.
   Returns 0, or -1 if the store failed in a way that needs an operator
   (ten groups failed in a row, not for a full disk), the intake thread
   could not start or stopped, or a socket failed. */
int writer_run(writer_t *self, volatile int *stop);

/* Free map space to keep ahead of each group besides twice the group's
   size (default WRITER_MAP_HEADROOM); 0: none, the map grows only when a
   transaction finds it full, and that transaction is aborted and redone. */
#define WRITER_MAP_HEADROOM ((size_t)24 << 20)
void writer_set_map_headroom(writer_t *self, size_t bytes);

/* With a manual clock, alert rules are evaluated at the `now` of the last
   tick request instead of the wall clock (--manual-clock, for tests). */
void writer_set_manual_clock(writer_t *self, bool manual);
/* How often time-driven alert rules are evaluated (default 60 s); 0: only
   on tick requests. */
#define WRITER_TICK_MS 60000
void writer_set_tick(writer_t *self, int64_t ms);
/* Who may do what on the append endpoint (daemon/auth); NULL (the
   default): authentication off. Before writer_run. */
void writer_set_auth(writer_t *self, auth_t *auth);
/* Off: no rule is evaluated and no flag raised (pacerd --alerts off, for
   operators who only want the log and progress, and for benchmarks). */
void writer_set_alerts(writer_t *self, bool on);

/* The commit step: ops on committer, which the writer owns from now on
   (ops->destroy frees it), in place of the commit thread writer_new
   started. Before writer_run. For tests (tests/test_writer.c). */
void writer_set_committer(writer_t *self, const struct committer_ops *ops, void *committer);

/* Write a projection snapshot now (at a clean stop). A store code
   (STORE_OK; else logged). */
int writer_snapshot(writer_t *self);

/* Build the duplicate index from the log (start-up). NULL with a message:
   out of memory, or the log's ids could not be read. */
dedup_t *writer_load_ids(store_t *store, char *err, size_t errlen);

#endif
