/*  eval_score: precision and recall of anomaly flags against labels.

    The scoring half of pacer-eval, apart from how flags were obtained
    (offline: the detectors folded in-process; online: anomaly alerts
    collected from a pacerd), so that both modes report the same way.

    Matching. A label is what pacer-gen injected: a detector name and the
    ids of the events that make the case. A flag matches a label when it
    names the same detector and at least one of its evidence event ids is
    among the label's event_ids.
        - a flag is a true positive when it matches at least one label, a
          false positive when it matches none;
        - a label is found when at least one flag matches it, and a false
          negative otherwise;
        - precision = true-positive flags / flags; recall = found labels /
          labels; F1 their harmonic mean;
        - false alarms per 10,000 deals = false-positive flags / sale_closed
          events x 10,000.
    Several flags may match one label (a chain of padding rebookings is one
    label and a flag per link); each counts as a true positive, and the
    label is found once. */

#ifndef PACER_EVAL_SCORE_H
#define PACER_EVAL_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _eval_t eval_t;

/* detectors: the names to report on, in order (NULL-terminated); labels and flags of other
   detectors are counted under "other". NULL when out of memory. */
eval_t *eval_new(const char *const *detectors);
void eval_destroy(eval_t **self_p);

/* One label: its detector and event ids. 0, or -1 when out of memory. */
int eval_add_label(eval_t *self, const char *detector, const char *const *ids, size_t nids);
/* One flag: its detector, key, evidence ids and a summary (kept for the listings). */
int eval_add_flag(eval_t *self, const char *detector, const char *key, const char *const *ids,
                  size_t nids, const char *summary);
/* The number of deals (sale_closed events) of the history. */
void eval_set_deals(eval_t *self, uint64_t deals);

typedef struct {
    const char *detector;
    size_t labels, found, flags, tp, fp, fn;
    double precision, recall, f1, fa_per_10k;
} eval_row_t;

/* Match everything added; fills rows (one per detector, in order) and returns their count. */
size_t eval_score(eval_t *self, eval_row_t *rows, size_t maxrows);

/* The table, as text (markdown when markdown is set), and optionally up to nlist false
   positives and false negatives per detector. */
void eval_print(eval_t *self, FILE *out, int markdown, size_t nlist);

#endif
