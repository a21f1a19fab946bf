/*  commit: the thread that writes a group's records into the log.

    The writer (daemon/writer) checks a group, folds it into the projection
    and has its records hashed; then it hands the records here and goes on
    with the next group while this thread puts them into one LMDB write
    transaction and commits it. Most of a commit is the wait for the disk
    (fdatasync), so the next group's work overlaps it.

    One job at a time: the writer reaps a job before it submits the next,
    so at most one group is past the projection and not yet durable, and
    no group is answered before its own commit returned. While a job runs
    this thread is the only one that writes to the store (the writer opens
    its own write transactions, for snapshot chunks and rebuilds, only
    between jobs). A full map is grown here and the puts redone: the
    records do not change, so nothing else has to be undone.

    Test hooks, in pacerd-test only (built with -DPACER_FAULT_INJECTION;
    pacerd has no such code path): with PACERD_TEST_FAIL_COMMIT=N in the
    environment, every Nth job fails before its transaction as a broken
    disk would make it fail, so that tests can drive the writer's recovery
    (tests/it_commit_failure.py); with PACERD_TEST_DISK_FULL=PATH, every
    job fails with STORE_DISK_FULL while PATH exists (tests/it_disk_full.py
    creates it and removes it again as space would return).

    A full disk: LMDB reports ENOSPC, or, when the filesystem filled up in
    the middle of its write, a short write as EIO; a failed job whose
    filesystem has less free space than the job's room estimate counts as
    STORE_DISK_FULL too, so the writer can tell "wait for space" from a
    broken disk. */

#ifndef PACER_COMMIT_H
#define PACER_COMMIT_H

#include "daemon/chain.h"
#include "daemon/outbox.h"
#include "daemon/store.h"
#include "daemon/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    /* in: the group's records, hashed, to become seq first_seq on */
    const chain_link_t *links;
    size_t n;
    uint64_t first_seq;
    int64_t recorded_at;
    size_t room; /* grow the map first unless this much is free (0: don't) */
    /* the alerts the group raised, put in the same transaction (may be
       NULL or empty) */
    const outbox_batch_t *outbox;
    /* optional: run after a successful commit, in transactions of its own
       (a projection snapshot's next chunk); its result in after_rc */
    int (*after)(void *arg, char *err, size_t errlen);
    void *after_arg;
    int after_rc;
    char after_err[256];
    /* out */
    int rc; /* STORE_OK: committed and durable */
    char err[256];
    double ms_room, ms_put, ms_commit, ms_after; /* where the time went */
} commit_job_t;

/* The commit step as the writer sees it: submit a job, reap it, an fd to
   poll for its end. One job at a time (see above). The commit thread below
   is the one pacerd uses; tests/test_writer.c puts a fake in its place
   (writer_set_committer) to drive the writer through failures. */
typedef struct committer_ops {
    /* Start a job; none may be in hand (submitted and not reaped). The
       links and the events they point to must stay put until it is reaped.
       The job's rc says how it went once reaped: STORE_OK (committed and
       durable), STORE_DISK_FULL, or another store code (STORE_ERROR;
       STORE_MAP_FULL if growing the map did not make room): nothing of the
       job was committed. */
    void (*submit)(void *committer, commit_job_t *job);
    /* The job in hand once it is finished (with wait: once it finishes);
       NULL if none is in hand or, without wait, it is still running. */
    commit_job_t *(*reap)(void *committer, bool wait);
    /* A file descriptor that polls readable while a finished job waits to
       be reaped (for zmq_poll beside the writer's pipe). */
    int (*fd)(const void *committer);
    /* Reap the job in hand (waiting), stop and free. */
    void (*destroy)(void **committer_p);
} committer_ops_t;

typedef struct _committer_t committer_t;

/* The commit thread's operations, on a committer_t. */
extern const committer_ops_t committer_thread_ops;

/* Start the thread. Map growth is counted in stats. NULL with a message
   (out of memory, no eventfd, no thread). */
committer_t *committer_new(store_t *store, writer_stats_t *stats, char *err, size_t errlen);
/* Stop the thread (after the job in hand) and free it. */
void committer_destroy(committer_t **self_p);

/* As committer_thread_ops. */
void committer_submit(committer_t *self, commit_job_t *job);
commit_job_t *committer_reap(committer_t *self, bool wait);
/* True from submit to reap. */
bool committer_busy(const committer_t *self);
int committer_fd(const committer_t *self);

/* Run a job on the calling thread, as the commit thread runs each (without
   the fault hooks): grow the map for job->room, put and commit, run
   `after`. Sets job->rc as committer_ops_t's submit says, with job->err;
   a full map is grown and the transaction redone (STORE_MAP_FULL only
   when eight growths did not make room). No other write transaction may
   be open. */
void commit_job_run(store_t *store, writer_stats_t *stats, commit_job_t *job);

#endif
