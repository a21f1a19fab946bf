/*  progress: every target key of a selection and the roll-ups above them
    (docs/PROTOCOL.md, "progress"). */

#include "projections/report.h"

#include <stdlib.h>
#include <string.h>

static int
row_cmp_path(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (!c)
        c = strcmp(x->metric_name, y->metric_name);
    if (c || x->pl == y->pl)
        return c;
    if (!x->pl_name || !y->pl_name) /* all product lines first */
        return x->pl_name ? 1 : -1;
    return strcmp(x->pl_name, y->pl_name);
}

/* Does any node of id's chain change parent on a day in (d0, d1)? */
static bool
chain_moves(projection_t *self, uint32_t id, int32_t d0, int32_t d1)
{
    uint32_t chain[CHAIN_MAX];
    int n = proj_chain(self, id, d0, chain);
    for (int i = 0; i < n; i++) {
        node_t *nd = &self->nodes[chain[i]];
        for (uint32_t k = 0; k < nd->nmem; k++)
            if (nd->mem[k].day > d0 && nd->mem[k].day < d1)
                return true;
    }
    return false;
}

/* Every roll-up row of one metric at once: each credited node's total over
   the period is read from its cells once and added to every node of its
   chain (day by day only where a membership changes inside the period).
   One pass instead of one pass per roll-up row. */
static int
rollup_all(projection_t *self, const selection_t *s, row_t *rows, size_t n, uint32_t metric,
           uint32_t pl)
{
    metric_t *m = &self->metrics[metric];
    int64_t *acc = calloc((size_t)self->nnodes * 2, sizeof *acc);
    if (!acc)
        return -1;
    int32_t d0 = proj_day_of(self, s->period.start_ms), d1 = proj_day_of(self, s->period.end_ms);
    uint32_t chain[CHAIN_MAX];
    for (uint32_t i = 0; i < self->ncredited; i++) {
        uint32_t l = self->credited[i];
        node_t *nd = &self->nodes[l];
        int32_t a = d0 > nd->first_day ? d0 : nd->first_day;
        int32_t b = d1 < nd->last_day + 1 ? d1 : nd->last_day + 1;
        if (a >= b)
            continue;
        bool moves = chain_moves(self, l, a, b);
        if (!moves && s->scope && !proj_is_under(self, l, s->scope, a))
            continue; /* outside the selection all period long */
        if (!moves) {
            int64_t num = 0, den = 0;
            num = proj_cell_sum(self, l, m->num, pl, a, b);
            den = m->den ? proj_cell_sum(self, l, m->den, pl, a, b) : 0;
            int len = proj_chain(self, l, a, chain);
            for (int c = 0; c < len; c++) {
                acc[2 * chain[c]] += num;
                acc[2 * chain[c] + 1] += den;
            }
            continue;
        }
        for (int32_t d = a; d < b; d++) {
            int64_t num = proj_cell(self, l, m->num, pl, d);
            int64_t den = m->den ? proj_cell(self, l, m->den, pl, d) : 0;
            if (!num && !den)
                continue;
            int len = proj_chain(self, l, d, chain);
            for (int c = 0; c < len; c++) {
                acc[2 * chain[c]] += num;
                acc[2 * chain[c] + 1] += den;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!rows[i].t && rows[i].metric == metric && rows[i].pl == pl) {
            rows[i].num = acc[2 * rows[i].node];
            rows[i].den = acc[2 * rows[i].node + 1];
            rows[i].summed = true;
        }
    free(acc);
    return 0;
}

/* A zeroed row at the end of *rows, growing it; NULL when out of memory. */
static row_t *
add_row(row_t **rows, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        row_t *g = realloc(*rows, c * sizeof *g);
        if (!g)
            return NULL;
        *rows = g;
        *cap = c;
    }
    row_t *r = &(*rows)[(*n)++];
    memset(r, 0, sizeof *r);
    return r;
}

static int
row_cmp_pl(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->pl != y->pl)
        return x->pl < y->pl ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Roll-up rows of product line pl, after target rows [a, b) of that line:
   every ancestor of one inside the selection that has no target of its own
   for the metric, and, for the selection's own product line, the scope
   itself when scope and metric are given. -1 when out of memory. */
static int
add_rollups(projection_t *self, const selection_t *s, row_t **rows, size_t *n, size_t *cap,
            size_t a, size_t b, uint32_t pl)
{
    u64map_t seen; /* (node, metric) of every row of this line so far */
    u64map_init(&seen);
    int rc = 0;
    for (size_t i = a; i < b; i++) {
        bool added;
        if (!u64map_upsert(&seen, (uint64_t)(*rows)[i].node << 32 | (*rows)[i].metric, &added))
            rc = -1;
    }
    bool self_row = pl == s->pl && s->scope && !s->any_metric;
    for (size_t i = a; rc == 0 && i < b + self_row; i++) {
        uint32_t chain[CHAIN_MAX], metric;
        int len;
        if (i < b) {
            len = proj_chain(self, (*rows)[i].node, s->ref_day, chain);
            metric = (*rows)[i].metric;
        } else {
            chain[0] = s->scope;
            len = 1;
            metric = s->metric;
        }
        for (int c = (i < b ? 1 : 0); rc == 0 && c < len; c++) {
            bool added;
            uint64_t *v = u64map_upsert(&seen, (uint64_t)chain[c] << 32 | metric, &added);
            if (!v)
                rc = -1;
            if (!v || !added || !pq_in_selection(self, s, chain[c]))
                continue;
            row_t *r = add_row(rows, n, cap);
            if (!r) {
                rc = -1;
                break;
            }
            r->node = chain[c];
            r->metric = metric;
            r->pl = pl;
        }
    }
    u64map_free(&seen);
    return rc;
}

const wire_field_t *const pq_progress_fields[] = {&pq_f_now,    &pq_f_limit,        &pq_f_period,
                                                  &pq_f_metric, &pq_f_product_line, &pq_f_each_pl,
                                                  &pq_f_curve,  &pq_f_scope,        NULL};

pq_rc_t
pq_progress(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    selection_t s;
    pq_rc_t rc = pq_selection(self, req, now, &pq_f_scope, &pq_f_metric, &s, out);
    if (rc != PQ_OK)
        return rc;
    size_t cap = 0, n = 0;
    row_t *rows = NULL;
    bool pl_known = !s.has_pl || s.pl;
    /* a scope with no children: only its own targets can match */
    node_t *leaf = s.scope && !self->nodes[s.scope].ever_parent ? &self->nodes[s.scope] : NULL;
    uint32_t candidates = leaf ? leaf->ntargets : self->ntargets;
    for (uint32_t k = 0; pl_known && s.period_sym && k < candidates; k++) {
        target_t *t = &self->targets[leaf ? leaf->targets[k].idx : k];
        if (t->period_sym != s.period_sym || (!s.each_pl && t->pl != s.pl) ||
            (!s.any_metric && t->metric != s.metric) || !pq_in_selection(self, &s, t->scope))
            continue;
        row_t *r = add_row(&rows, &n, &cap);
        if (!r) {
            free(rows);
            return pq_fail(out, PQ_BAD_REQUEST, "out of memory");
        }
        r->node = t->scope;
        r->metric = t->metric;
        r->pl = t->pl;
        r->t = t;
    }
    /* roll-ups, for each product line that has target rows (and the
       selection's own, for the scope row) */
    size_t targets_n = n;
    if (targets_n > 1) /* rows is NULL when there are none, and qsort's array may not be */
        qsort(rows, targets_n, sizeof *rows, row_cmp_pl);
    bool own_line = false;
    for (size_t a = 0, b; pl_known && a < targets_n; a = b) {
        for (b = a; b < targets_n && rows[b].pl == rows[a].pl; b++)
            ;
        own_line |= rows[a].pl == s.pl;
        if (add_rollups(self, &s, &rows, &n, &cap, a, b, rows[a].pl) != 0) {
            free(rows);
            return pq_fail(out, PQ_BAD_REQUEST, "out of memory");
        }
    }
    if (pl_known && !own_line &&
        add_rollups(self, &s, &rows, &n, &cap, targets_n, targets_n, s.pl) != 0) {
        free(rows);
        return pq_fail(out, PQ_BAD_REQUEST, "out of memory");
    }
    /* one pass over the cells per metric and line that has roll-up rows */
    for (size_t i = targets_n; i < n; i++) {
        if (rows[i].summed)
            continue;
        if (rollup_all(self, &s, rows, n, rows[i].metric, rows[i].pl) != 0) {
            free(rows);
            return pq_fail(out, PQ_BAD_REQUEST, "out of memory");
        }
    }
    for (size_t i = 0; i < n; i++) {
        proj_path(self, rows[i].node, s.ref_day, rows[i].path, sizeof rows[i].path);
        rows[i].id = symtab_str(self->nodes_sym, rows[i].node);
        rows[i].metric_name = symtab_str(self->metrics_sym, rows[i].metric);
        rows[i].pl_name = rows[i].pl ? symtab_str(self->pl_sym, rows[i].pl) : NULL;
    }
    if (n > 1)
        qsort(rows, n, sizeof *rows, row_cmp_path);
    pq_pack_rows(self, &s, rows, n, false, out);
    free(rows);
    return PQ_OK;
}
