/*  outbox: the durable record of every alert raised, and of each alert's
    state, in the store's LMDB environment.

    Two databases beside the log:
      alerts       aseq (native u64) -> u16 topic length, topic, the alert
                   record (msgpack map, docs/PROTOCOL.md "Alert records")
      alert_state  alert key (bytes) -> the alert's state (msgpack map:
                   see daemon/alerter.c), one entry per alert ever raised
    The writer builds an outbox_batch_t beside each group (the alerts its
    events caused and the states they change); the commit thread puts it
    with outbox_put in the same write transaction as the group's events, so
    an alert is durable exactly when its cause is, and a failed commit
    loses both. Alert sequence numbers are gap-free: the writer numbers
    them from outbox_last_aseq and a failed commit makes it number them
    again from there.

    Threads: outbox_put runs inside the store's open write transaction
    (commit thread); the readers take any store_reader_t.

    Errors: the outbox lives in the store's environment and speaks its
    vocabulary. Every function taking err returns a store_rc_t
    (daemon/store.h), with an LMDB failure mapped as the store maps its
    own (MDB_MAP_FULL is STORE_MAP_FULL, ENOSPC and EDQUOT are
    STORE_DISK_FULL, the rest STORE_ERROR) and a message in err naming
    what was being read or written. The batch functions, which touch no
    LMDB, return 0 or -1 (out of memory, or a value past its limit). */

#ifndef PACER_OUTBOX_H
#define PACER_OUTBOX_H

#include "daemon/store.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t aseq;
    uint32_t topic_off, topic_len, rec_off, rec_len;
} outbox_rec_t;

typedef struct {
    uint32_t key_off, key_len, val_off, val_len;
} outbox_state_t;

/* What one transaction adds. Owned by whoever embeds it (a group, the
   writer's tick); outbox_batch_clear keeps the memory for the next. */
typedef struct {
    msgpack_sbuffer buf; /* topics, records, keys and states */
    outbox_rec_t *recs;
    size_t nrecs, caprecs;
    outbox_state_t *states;
    size_t nstates, capstates;
} outbox_batch_t;

void outbox_batch_init(outbox_batch_t *b);
void outbox_batch_clear(outbox_batch_t *b);
void outbox_batch_destroy(outbox_batch_t *b);
/* Add an alert record under aseq. 0; -1 when out of memory or topic_len
   is over 65535 (nrecs is then unchanged). */
int outbox_batch_add(outbox_batch_t *b, uint64_t aseq, const char *topic, size_t topic_len,
                     const void *rec, size_t rec_len);
/* Add an alert's new state (val_len 0: delete it). 0; -1 when out of
   memory or key_len is not 1 to 511 (LMDB's key limit). */
int outbox_batch_state(outbox_batch_t *b, const char *key, size_t key_len, const void *val,
                       size_t val_len);
static inline const char *
outbox_batch_at(const outbox_batch_t *b, uint32_t off)
{
    return b->buf.data + off;
}

/* Open (creating) the two databases; call once at start-up, before any
   other transaction of the store. STORE_OK with *last_aseq the newest
   aseq (0: none); STORE_CORRUPT when the newest key or the epoch is not
   8 bytes (a damaged epoch is never replaced: a new one would disown
   every subscriber's cursor); STORE_ERROR, STORE_MAP_FULL or
   STORE_DISK_FULL from LMDB. Writes err on failure. */
int outbox_open(store_t *store, uint64_t *last_aseq, char *err, size_t errlen);

/* The outbox's epoch: a random number (below 2^53) drawn when the outbox
   was created and kept with it; valid after outbox_open succeeded. Alert sequence numbers are only
   comparable within one epoch. */
uint64_t outbox_epoch(void);

/* Put the batch, inside the store's open write transaction. STORE_OK;
   STORE_MAP_FULL (the caller's store_in_txn grows the map and runs the
   transaction again), STORE_DISK_FULL, or STORE_ERROR (no transaction
   open, an aseq not above the newest, an LMDB failure), with err. On
   failure the transaction holds part of the batch: abort it. */
int outbox_put(store_t *store, const outbox_batch_t *b, char *err, size_t errlen);

/* Every alert_state entry, in key order (start-up). fn returns non-zero to
   stop (still STORE_OK: fn keeps its own reason). STORE_OK, or STORE_ERROR
   with err. */
typedef int(outbox_state_fn)(void *arg, const char *key, size_t key_len, const void *val,
                             size_t val_len);
int outbox_scan_states(store_reader_t *r, outbox_state_fn *fn, void *arg, char *err, size_t errlen);
/* One alert's state, valid until the read ends: STORE_OK, STORE_NOT_FOUND
   (err untouched), or STORE_ERROR with err. States are handed over as
   stored: their readers scan them before decoding (bytes from disk). */
int outbox_get_state(store_reader_t *r, const char *key, size_t key_len, const void **val,
                     size_t *val_len, char *err, size_t errlen);

/* Alerts [from, to] in aseq order; fn returns non-zero to stop (still
   STORE_OK). STORE_OK; STORE_CORRUPT for a record too short for its
   topic or whose bytes are not one well-formed msgpack value (mp_scan),
   STORE_ERROR from LMDB, with err. */
typedef int(outbox_rec_fn)(void *arg, uint64_t aseq, const char *topic, size_t topic_len,
                           const void *rec, size_t rec_len);
int outbox_walk(store_reader_t *r, uint64_t from, uint64_t to, outbox_rec_fn *fn, void *arg,
                char *err, size_t errlen);
/* One alert by aseq: STORE_OK; STORE_NOT_FOUND (err untouched);
   STORE_CORRUPT (damaged, as for outbox_walk) or STORE_ERROR with err. */
int outbox_get(store_reader_t *r, uint64_t aseq, const char **topic, size_t *topic_len,
               const void **rec, size_t *rec_len, char *err, size_t errlen);
/* The newest aseq this reader sees: STORE_OK with *last_aseq (0: none);
   STORE_CORRUPT (a key not 8 bytes) or STORE_ERROR with err. */
int outbox_reader_last_aseq(store_reader_t *r, uint64_t *last_aseq, char *err, size_t errlen);

#endif
