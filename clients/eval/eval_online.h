/*  eval_online: pacer-eval's online mode, the detectors measured through
    a real pacerd.

    It starts a fresh pacerd (the binary next to pacer-eval, in a temporary
    state directory, with --manual-clock and no ticker, on free loopback
    ports), appends the history with `pacer append` (the same binary
    directory), moves the alert clock to the end of the history with one
    tick (so that what the detectors judge against time, overdue
    collections, is judged there as an offline fold judges it against stream
    time), reads every alert under alert/anomaly/ back with the `alerts`
    query, and adds each firing record to the evaluation as a flag: the
    detector from its rule, its key, and the ids of its evidence. pacerd is
    stopped and its directory removed at the end.

    Returns 0, or -1 with a message (pacerd would not start, the append
    was refused, a query failed). */

#ifndef PACER_EVAL_ONLINE_H
#define PACER_EVAL_ONLINE_H

#include "clients/eval/eval_score.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t events, deals, flags;
    int64_t last_at;          /* the history's newest occurred_at */
    double append_s, total_s; /* wall seconds of the append, and of everything */
} eval_online_stats_t;

int eval_online(const char *bindir, const char *events, eval_t *eval, eval_online_stats_t *st,
                char *err, size_t errlen);

#endif
