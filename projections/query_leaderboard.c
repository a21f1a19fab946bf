/*  leaderboard: the nodes of one level that have a target for one key,
    ranked by attainment (docs/PROTOCOL.md, "leaderboard"). */

#include "projections/report.h"

#include <stdlib.h>
#include <string.h>

static int
row_cmp_rank(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->has_att != y->has_att)
        return x->has_att ? -1 : 1;
    if (x->has_att && x->attainment != y->attainment)
        return x->attainment > y->attainment ? -1 : 1;
    if (x->actual != y->actual)
        return x->actual > y->actual ? -1 : 1;
    return strcmp(x->id, y->id);
}

static const wire_field_t f_level = {
    .name = "level", .type = WIRE_FIELD_STR, .required = true, .max = 15};

const wire_field_t *const pq_leaderboard_fields[] = {
    &pq_f_now,     &pq_f_limit, &pq_f_period, &pq_f_metric_req, &pq_f_product_line,
    &pq_f_each_pl, &pq_f_curve, &pq_f_scope,  &f_level,         NULL};

pq_rc_t
pq_leaderboard(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    selection_t s;
    pq_rc_t rc = pq_selection(self, req, now, &pq_f_scope, &pq_f_metric_req, &s, out);
    if (rc != PQ_OK)
        return rc;
    if (s.each_pl)
        return pq_fail(out, PQ_BAD_REQUEST,
                       "each_product_line: progress only; a leaderboard ranks "
                       "one key");
    char level[16];
    static const char *const kinds[] = {"company", "region", "team", "rep"};
    int kind = -1;
    if (wire_req_strcpy(req, &f_level, level, sizeof level, out->message, sizeof out->message) < 0)
        return PQ_BAD_REQUEST;
    for (int k = 0; k < 4; k++)
        if (!strcmp(level, kinds[k]))
            kind = k;
    if (kind < 0) {
        wire_req_expected("level", "rep, team, region or company", out->message,
                          sizeof out->message);
        return PQ_BAD_REQUEST;
    }
    size_t n = 0;
    row_t *rows = calloc(self->ntargets + 1, sizeof *rows);
    if (!rows)
        return pq_fail(out, PQ_BAD_REQUEST, "out of memory");
    for (uint32_t i = 0; s.period_sym && (!s.has_pl || s.pl) && i < self->ntargets; i++) {
        target_t *t = &self->targets[i];
        if (t->period_sym != s.period_sym || t->pl != s.pl || t->metric != s.metric ||
            self->nodes[t->scope].kind != kind || !pq_in_selection(self, &s, t->scope))
            continue;
        rows[n].node = t->scope;
        rows[n].metric = t->metric;
        rows[n].pl = t->pl;
        rows[n].t = t;
        proj_path(self, t->scope, s.ref_day, rows[n].path, sizeof rows[n].path);
        rows[n].id = symtab_str(self->nodes_sym, t->scope);
        rows[n].metric_name = symtab_str(self->metrics_sym, t->metric);
        pq_row_eval(self, &s, &rows[n], NULL, 0);
        n++;
    }
    qsort(rows, n, sizeof *rows, row_cmp_rank);
    pq_pack_rows(self, &s, rows, n, true, out);
    free(rows);
    return PQ_OK;
}
