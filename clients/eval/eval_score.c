/*  eval_score: see eval_score.h. Labels' event ids are indexed as (detector,
    id hash) pairs sorted once, so matching a flag is a binary search per
    evidence id, whatever the number of labels. */

#include "clients/eval/eval_score.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int det; /* index into detectors, ndet for "other" */
    char **ids;
    size_t nids;
    int found;
} label_t;

typedef struct {
    int det;
    char *key, *summary;
    char **ids;
    size_t nids;
    int tp;
} flag_t;

typedef struct {
    int det;
    uint64_t hash;
    size_t label;
    const char *id;
} pair_t;

struct _eval_t {
    const char *const *detectors;
    int ndet;
    label_t *labels;
    size_t nlabels, caplabels;
    flag_t *flags;
    size_t nflags, capflags;
    uint64_t deals;
    int scored;
};

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

eval_t *
eval_new(const char *const *detectors)
{
    eval_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->detectors = detectors;
    while (detectors[self->ndet])
        self->ndet++;
    return self;
}

static void
free_ids(char **ids, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(ids[k]);
    free(ids);
}

void
eval_destroy(eval_t **self_p)
{
    eval_t *self = *self_p;
    if (!self)
        return;
    for (size_t k = 0; k < self->nlabels; k++)
        free_ids(self->labels[k].ids, self->labels[k].nids);
    for (size_t k = 0; k < self->nflags; k++) {
        free_ids(self->flags[k].ids, self->flags[k].nids);
        free(self->flags[k].key);
        free(self->flags[k].summary);
    }
    free(self->labels);
    free(self->flags);
    free(self);
    *self_p = NULL;
}

static int
det_index(const eval_t *self, const char *name)
{
    for (int k = 0; k < self->ndet; k++)
        if (strcmp(self->detectors[k], name) == 0)
            return k;
    return self->ndet;
}

static char **
copy_ids(const char *const *ids, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t k = 0; k < n; k++)
        if (!(out[k] = strdup(ids[k]))) {
            free_ids(out, k);
            return NULL;
        }
    return out;
}

static int
grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

int
eval_add_label(eval_t *self, const char *detector, const char *const *ids, size_t nids)
{
    if (grow((void **)&self->labels, &self->caplabels, self->nlabels, sizeof *self->labels))
        return -1;
    label_t *l = &self->labels[self->nlabels];
    l->det = det_index(self, detector);
    l->ids = copy_ids(ids, nids);
    l->nids = nids;
    l->found = 0;
    if (!l->ids)
        return -1;
    self->nlabels++;
    self->scored = 0;
    return 0;
}

int
eval_add_flag(eval_t *self, const char *detector, const char *key, const char *const *ids,
              size_t nids, const char *summary)
{
    if (grow((void **)&self->flags, &self->capflags, self->nflags, sizeof *self->flags))
        return -1;
    flag_t *f = &self->flags[self->nflags];
    f->det = det_index(self, detector);
    f->ids = copy_ids(ids, nids);
    f->nids = nids;
    f->key = strdup(key);
    f->summary = strdup(summary ? summary : "");
    f->tp = 0;
    if (!f->ids || !f->key || !f->summary)
        return -1;
    self->nflags++;
    self->scored = 0;
    return 0;
}

void
eval_set_deals(eval_t *self, uint64_t deals)
{
    self->deals = deals;
}

static int
pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->det != y->det)
        return x->det < y->det ? -1 : 1;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->label < y->label ? -1 : x->label > y->label;
}

/* Mark true-positive flags and found labels. */
static int
match(eval_t *self)
{
    size_t n = 0;
    for (size_t k = 0; k < self->nlabels; k++)
        n += self->labels[k].nids;
    pair_t *pairs = malloc((n ? n : 1) * sizeof *pairs);
    if (!pairs)
        return -1;
    n = 0;
    for (size_t k = 0; k < self->nlabels; k++) {
        self->labels[k].found = 0;
        for (size_t j = 0; j < self->labels[k].nids; j++)
            pairs[n++] = (pair_t){self->labels[k].det, fnv1a(self->labels[k].ids[j]), k,
                                  self->labels[k].ids[j]};
    }
    qsort(pairs, n, sizeof *pairs, pair_cmp);
    for (size_t f = 0; f < self->nflags; f++) {
        flag_t *fl = &self->flags[f];
        fl->tp = 0;
        for (size_t j = 0; j < fl->nids; j++) {
            pair_t key = {fl->det, fnv1a(fl->ids[j]), 0, NULL};
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (pair_cmp(&pairs[mid], &key) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (; lo < n && pairs[lo].det == key.det && pairs[lo].hash == key.hash; lo++) {
                if (strcmp(pairs[lo].id, fl->ids[j]) != 0)
                    continue;
                fl->tp = 1;
                self->labels[pairs[lo].label].found = 1;
            }
        }
    }
    free(pairs);
    self->scored = 1;
    return 0;
}

size_t
eval_score(eval_t *self, eval_row_t *rows, size_t maxrows)
{
    if (!self->scored && match(self) != 0)
        return 0;
    size_t nrows = (size_t)self->ndet + 1;
    if (nrows > maxrows)
        nrows = maxrows;
    for (size_t r = 0; r < nrows; r++) {
        eval_row_t *row = &rows[r];
        memset(row, 0, sizeof *row);
        row->detector = (int)r < self->ndet ? self->detectors[r] : "other";
        for (size_t k = 0; k < self->nlabels; k++)
            if (self->labels[k].det == (int)r) {
                row->labels++;
                row->found += self->labels[k].found;
            }
        for (size_t k = 0; k < self->nflags; k++)
            if (self->flags[k].det == (int)r) {
                row->flags++;
                row->tp += self->flags[k].tp;
            }
        row->fp = row->flags - row->tp;
        row->fn = row->labels - row->found;
        row->precision = row->flags ? (double)row->tp / row->flags : (row->labels ? 0 : 1);
        row->recall = row->labels ? (double)row->found / row->labels : 1;
        row->f1 = row->precision + row->recall > 0
                      ? 2 * row->precision * row->recall / (row->precision + row->recall)
                      : 0;
        row->fa_per_10k = self->deals ? 10000.0 * row->fp / self->deals : 0;
    }
    return nrows;
}

void
eval_print(eval_t *self, FILE *out, int markdown, size_t nlist)
{
    eval_row_t rows[64];
    size_t n = eval_score(self, rows, 64);
    if (markdown)
        fprintf(out, "| detector | labels | found | flags | TP | FP | FN | precision | recall | F1 "
                     "| false alarms / 10k deals |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
                     "---:|---:|\n");
    else
        fprintf(out, "%-20s %6s %6s %6s %6s %6s %6s %9s %7s %6s %12s\n", "DETECTOR", "LABELS",
                "FOUND", "FLAGS", "TP", "FP", "FN", "PRECISION", "RECALL", "F1", "FA/10K DEALS");
    eval_row_t total = {.detector = "all"};
    for (size_t r = 0; r < n; r++) {
        const eval_row_t *w = &rows[r];
        if (r + 1 == n && w->labels == 0 && w->flags == 0)
            continue; /* no "other" */
        total.labels += w->labels;
        total.found += w->found;
        total.flags += w->flags;
        total.tp += w->tp;
        total.fp += w->fp;
        total.fn += w->fn;
        const char *fmt = markdown ? "| %s | %zu | %zu | %zu | %zu | %zu | %zu | %.3f | %.3f | "
                                     "%.3f | %.2f |\n"
                                   : "%-20s %6zu %6zu %6zu %6zu %6zu %6zu %9.3f %7.3f %6.3f "
                                     "%12.2f\n";
        fprintf(out, fmt, w->detector, w->labels, w->found, w->flags, w->tp, w->fp, w->fn,
                w->precision, w->recall, w->f1, w->fa_per_10k);
    }
    total.precision = total.flags ? (double)total.tp / total.flags : 1;
    total.recall = total.labels ? (double)total.found / total.labels : 1;
    total.f1 = total.precision + total.recall > 0
                   ? 2 * total.precision * total.recall / (total.precision + total.recall)
                   : 0;
    total.fa_per_10k = self->deals ? 10000.0 * total.fp / self->deals : 0;
    const char *fmt = markdown ? "| **all** | %zu | %zu | %zu | %zu | %zu | %zu | %.3f | %.3f | "
                                 "%.3f | %.2f |\n"
                               : "%-20s %6zu %6zu %6zu %6zu %6zu %6zu %9.3f %7.3f %6.3f %12.2f\n";
    if (markdown)
        fprintf(out, fmt, total.labels, total.found, total.flags, total.tp, total.fp, total.fn,
                total.precision, total.recall, total.f1, total.fa_per_10k);
    else
        fprintf(out, fmt, "all", total.labels, total.found, total.flags, total.tp, total.fp,
                total.fn, total.precision, total.recall, total.f1, total.fa_per_10k);
    if (!nlist)
        return;
    for (int d = 0; d <= self->ndet; d++) {
        size_t shown = 0;
        for (size_t k = 0; k < self->nflags && shown < nlist; k++)
            if (self->flags[k].det == d && !self->flags[k].tp) {
                fprintf(out, "FP %s: %s\n", self->flags[k].key, self->flags[k].summary);
                shown++;
            }
        shown = 0;
        for (size_t k = 0; k < self->nlabels && shown < nlist; k++)
            if (self->labels[k].det == d && !self->labels[k].found) {
                fprintf(out, "FN %s:", d < self->ndet ? self->detectors[d] : "other");
                for (size_t j = 0; j < self->labels[k].nids && j < 6; j++)
                    fprintf(out, " %s", self->labels[k].ids[j]);
                fprintf(out, "%s\n", self->labels[k].nids > 6 ? " ..." : "");
                shown++;
            }
    }
}
