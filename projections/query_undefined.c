/*  undefined_nodes: the credited ids no node_defined defines, with what
    they hold (docs/PROTOCOL.md, "undefined_nodes"). */

#include "projections/report.h"

#include "events/civil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "YYYY-MM-DD" of a day index (day seqs count from 1970-01-01, see
   proj_day_of). */
static void
date_of_day(projection_t *self, int32_t day, char out[16])
{
    int64_t y;
    int m, d;
    civil_from_days(day + self->day_base, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", (int)y, m, d);
}

typedef struct {
    const char *name;
    uint32_t id;
} named_t;

static int
named_cmp(const void *a, const void *b)
{
    return strcmp(((const named_t *)a)->name, ((const named_t *)b)->name);
}

/* Credited ids that are not defined nodes, by id, with what they hold. */
const wire_field_t *const pq_undefined_fields[] = {&pq_f_limit, NULL};

pq_rc_t
pq_undefined_nodes(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    (void)now; /* the totals are over all time */
    uint64_t limit;
    if (wire_req_u64(req, &pq_f_limit, &limit, out->message, sizeof out->message) < 0)
        return PQ_BAD_REQUEST;
    if (limit > ROWS_MAX)
        limit = ROWS_MAX;
    uint32_t n = 0;
    named_t *ids = calloc(self->undefined_credited + 1, sizeof *ids);
    if (!ids)
        return pq_fail(out, PQ_BAD_REQUEST, "out of memory");
    for (uint32_t i = 0; i < self->ncredited && n < self->undefined_credited; i++)
        if (!self->nodes[self->credited[i]].defined) {
            ids[n].id = self->credited[i];
            ids[n++].name = symtab_str(self->nodes_sym, self->credited[i]);
        }
    qsort(ids, n, sizeof *ids, named_cmp);
    static const struct {
        const char *name;
        uint32_t base;
    } totals[] = {{"revenue", B_REVENUE},       {"margin", B_MARGIN},  {"deals", B_DEALS},
                  {"new_customers", B_NEWCUST}, {"activities", B_ACT}, {"collections", B_COLL}};
    const size_t ntotals = sizeof totals / sizeof totals[0];
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    uint32_t shown = n < (uint64_t)limit ? n : (uint32_t)limit;
    pq_pack_str(&pk, "nodes");
    msgpack_pack_array(&pk, shown);
    for (uint32_t i = 0; i < shown; i++) {
        const node_t *nd = &self->nodes[ids[i].id];
        char first[16], last[16];
        date_of_day(self, nd->first_day, first);
        date_of_day(self, nd->last_day, last);
        msgpack_pack_map(&pk, 3 + ntotals);
        pq_pack_str(&pk, "node");
        pq_pack_sym(&pk, self->nodes_sym, ids[i].id);
        pq_pack_str(&pk, "first_day");
        pq_pack_str(&pk, first);
        pq_pack_str(&pk, "last_day");
        pq_pack_str(&pk, last);
        for (size_t k = 0; k < ntotals; k++)
            pq_pack_opt_int(&pk, totals[k].name, true,
                            proj_cell_sum(self, ids[i].id, totals[k].base, 0, 0, DAY_MAX + 1));
    }
    pq_pack_str(&pk, "total");
    msgpack_pack_uint32(&pk, n);
    pq_pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    out->pairs = 3;
    free(ids);
    return PQ_OK;
}
