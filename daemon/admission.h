/*  admission: whether a prepared event may be appended, asked by the
    writer (daemon/writer) just before it gives the event a seq.

    An event prepared by the intake thread (daemon/group: decoded,
    validated, canonical, id hashed) is admitted when
      - its id is new: the duplicate index (daemon/dedup) names no event
        with its id. A hash hit is a candidate only: the stored event is
        compared byte for byte, so the same id with the same content is a
        duplicate (answered with the original seq, not an error) and with
        other content a conflict (EVE_CONFLICT);
      - the folds, the projection among them, and the alerter accept it
        (foldset_check, alerter_check: unknown scope, a refund above what
        remains, an unknown silence...).
    An atomic request (append with "atomic": true, or an allocation) is
    appended whole or not at all: admission_batch checks every event
    against the state before the request first.

    The events of the group being applied and of the one committing are
    not readable from the log yet: the writer lends their bytes through
    its admission_memory_fn. Everything older is read from the log, in one
    read transaction per group, which admission_end closes (before the
    writer waits for a commit: a map growth waits for every reader).

    Admission changes nothing but the results it refuses: the writer
    inserts the ids and folds the events it appends.

    Error contract: the verdict functions return an admission_t verdict;
    ADMIT_FAILED means the log could not be read (a store code's failure,
    its message in err), and the writer fails the group. A refusal is an
    ev_errcode_t (events/schema.h) in the event's result. */

#ifndef PACER_ADMISSION_H
#define PACER_ADMISSION_H

#include "daemon/alerter.h"
#include "daemon/dedup.h"
#include "daemon/group.h"
#include "daemon/projector.h"
#include "daemon/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _admission_t admission_t;

typedef enum {
    ADMIT_NEW,       /* append it */
    ADMIT_DUPLICATE, /* already in the log (r->seq, R_DUP), or earlier in its batch */
    ADMIT_REFUSED,   /* refused: the result (or the batch's results) say why */
    ADMIT_AGAIN,     /* an atomic batch clashes with an event appended just before it
                        (checked against the state before the batch, two refunds may each
                        fit but not both): apply the group again, with the request
                        refused whole (admission_batch then refuses it) */
    ADMIT_FAILED     /* the log could not be read; err says why */
} admission_verdict_t;

/* The canonical bytes of event seq if it is not in the log yet (the
   group being applied or committing appended it): true with *event and
   *len set; false: read it from the log. */
typedef bool(admission_memory_fn)(void *arg, uint64_t seq, const uint8_t **event, size_t *len);

/* The checks read dedup, the projector's live projection and folds, and
   the alerter; none is owned. NULL when out of memory. */
admission_t *admission_new(store_t *store, dedup_t *dedup, projector_t *projector,
                           alerter_t *alerter, admission_memory_fn *in_memory, void *arg);
void admission_destroy(admission_t **self_p);

/* Event i of a request: duplicate, conflict and the folds' checks.
   ADMIT_NEW, ADMIT_DUPLICATE (r->status R_DUP, r->seq the original),
   ADMIT_REFUSED (r refused) or ADMIT_FAILED. */
admission_verdict_t admission_event(admission_t *self, group_t *g, ev_result_t *r, uint32_t i,
                                    const event_t *ev, char *err, size_t errlen);

/* An atomic request, every event against the state before it (and an id
   used twice in it with different content is a conflict). ADMIT_NEW: each
   valid event is to be appended in turn, with admission_batch_event;
   ADMIT_REFUSED: one was refused and the others are answered EVE_ABORTED
   (also when an earlier try of the group found a clash: ADMIT_AGAIN);
   ADMIT_FAILED. */
admission_verdict_t admission_batch(admission_t *self, group_t *g, pending_t *p, char *err,
                                    size_t errlen);
/* Event i of an atomic request that admission_batch admitted, against the
   state with the events before it appended: ADMIT_NEW, ADMIT_DUPLICATE
   (a repeat of one of them), ADMIT_AGAIN (recorded in p) or ADMIT_FAILED. */
admission_verdict_t admission_batch_event(admission_t *self, group_t *g, pending_t *p, uint32_t i,
                                          const event_t *ev, char *err, size_t errlen);

/* Close the read transaction of the checks (after each apply). */
void admission_end(admission_t *self);

/* The id of a stored canonical event, copied NUL-terminated into id (cap
   bytes). False if it does not decode or does not fit. */
bool admission_event_id(admission_t *self, const uint8_t *event, size_t len, char *id, size_t cap);

#endif
