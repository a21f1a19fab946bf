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
   or be an empty directory. Returns a store_rc_t (daemon/store.h), the
   vocabulary of the environment it copies, with a message in err naming
   the file or directory at fault:
     STORE_OK         *out filled in;
     STORE_NOT_FOUND  state_dir has no data.mdb;
     STORE_DISK_FULL  writing dest ran out of space or quota;
     STORE_CORRUPT    the copy does not open as a state directory;
     STORE_ERROR      anything else: state_dir does not open, dest is not
                      new or empty, an I/O or LMDB failure.
   On failure nothing is left in dest but what was there, and dest itself
   only if it was there before. */
int backup_copy(const char *state_dir, const char *dest, backup_result_t *out, char *err,
                size_t errlen);

#endif
