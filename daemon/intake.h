/*  intake: the thread in front of the writer.

    It owns the append ROUTER and the XPUB socket. It receives requests,
    parses them and prepares every event of an append (decode, validation,
    canonical encoding, id hash: see daemon/group), filling a group; the
    writer works on the groups before meanwhile, on the other core, and
    spends its time in the duplicate index, the projection, the log and
    fsync. When the writer can take another group (it holds fewer than
    two), the intake thread gives it the group filled so far at once; when
    it hands a committed group back, the intake thread then replies to every request
    of the committed one, in the order received, and publishes its events.

    The two threads talk over an inproc PAIR pipe, one pointer a message:

      intake -> writer   a group to apply and commit; NULL: no more groups
      writer -> intake   the group, committed (or failed and marked so);
                         NULL: stop

    The writer holds at most two groups at a time (one it applies while
    the one before commits) and hands them back in the order it got them,
    so groups are committed and answered in the order their requests
    arrived; requests that wait meanwhile make up the next group. On stop,
    the intake thread stops reading the ROUTER, hands over what it has
    already received, then NULL, and ends once every group it handed over
    is answered: no request that was read goes unanswered. */

#ifndef PACER_INTAKE_H
#define PACER_INTAKE_H

#include "daemon/auth.h"
#include "daemon/writer.h"

#include <stddef.h>

typedef struct _intake_t intake_t;

typedef struct {
    auth_t *auth;       /* who may do what (daemon/auth); NULL: authentication off */
    int64_t tick_ms;    /* an alert tick request this often; 0: none */
    uint64_t last_aseq; /* the outbox's and the log's newest, for the */
    uint64_t last_seq;  /* heartbeats until the first group commits */
} intake_options_t;

/* Start the thread. router and pub are raw libzmq sockets that the caller
   no longer touches until intake_join; pipe is this thread's end of the
   pipe to the writer. Besides answering and publishing committed groups,
   it publishes a heartbeat every second and, every tick_ms, puts a tick
   request of its own into the group it fills (the alerts time raises are
   committed and published like any group's). NULL with a message in err
   when out of memory or the thread cannot start (strerror of
   pthread_create's code).

   Errors once running: the thread has no caller to return to. A request
   it cannot take is answered (wire_rc_t, daemon/group); a reply or a
   publication it cannot send is dropped with a log line (a reply's
   client retries; a subscriber notices the gap by the heartbeat). */
intake_t *intake_start(void *router, void *pub, void *pipe, writer_stats_t *stats,
                       const intake_options_t *options, char *err, size_t errlen);
/* Wait for the thread to end (after the writer sent NULL and received it
   back) and free it. Cannot fail; harmless on NULL. */
void intake_join(intake_t **self_p);

#endif
