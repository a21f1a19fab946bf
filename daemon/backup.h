/*  backup: a consistent, compacted copy of a state directory, taken while
    pacerd runs and appends.

    The copy is LMDB's compacting copy (mdb_env_copyfd2 with
    MDB_CP_COMPACT) of the whole environment, from one read transaction:
    the log, the id index, the projection snapshots and the alert outbox
    exactly as one commit left them, free pages left out. It runs in the
    calling process on a read-only open of the environment, so it needs no
    help from pacerd (nor pacerd at all), only read access to the state
    directory and write access to its lock.mdb, like any LMDB reader; it
    never blocks pacerd's writer. While it runs, pacerd cannot reuse the
    pages the copy still reads, so the data file may grow by what is
    appended meanwhile.

    The destination is a new directory holding one file, data.mdb: a state
    directory that `pacerd --state-dir` starts on as it is (restore: stop
    pacerd, then point it at the copy, or copy data.mdb back into an empty
    state directory). The file is written as data.mdb.partial, synced, and
    renamed, so a data.mdb is always a whole copy. */

#ifndef PACER_BACKUP_H
#define PACER_BACKUP_H

#include "daemon/store_log.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t last_seq;                   /* the log's newest event in the copy */
    uint8_t last_hash[STORE_HASH_BYTES]; /* its chained hash */
    uint64_t bytes;                      /* size of the copy */
    uint64_t source_bytes;               /* size of the source's data.mdb when the copy ended */
} backup_result_t;

/* Copy the state directory `state_dir` into `dest`, which must not exist
   or be an empty directory. STORE_OK with *out filled in; otherwise a
   STORE_ code with a message (nothing is left in dest but what was there,
   and dest itself if this created it). */
int backup_copy(const char *state_dir, const char *dest, backup_result_t *out, char *err,
                size_t errlen);

#endif
