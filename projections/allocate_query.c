/*  allocate_query: the allocate operation on the projection
    (docs/PROTOCOL.md, "allocate"): find the parent's target and current
    children, split each tier with projections/allocate.c, and build the
    children's target_set events. The writer appends them (daemon/writer.c);
    on the query endpoint the same reply is a preview. */

#include "events/codec.h"
#include "projections/allocate.h"
#include "projections/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Children in id order, so an allocation reads the same every time. */
static void
sort_children(projection_t *self, uint32_t *kids, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t k = kids[i];
        size_t j = i;
        while (j > 0 && strcmp(symtab_str(self->nodes_sym, kids[j - 1]),
                               symtab_str(self->nodes_sym, k)) > 0) {
            kids[j] = kids[j - 1];
            j--;
        }
        kids[j] = k;
    }
}

/* The request's id, author and reason go into the generated events as they
   came: each event must be one the append path accepts (an author of
   invalid UTF-8, or an id too long once "/<child>" is added, would pass a
   preview and then be refused event by event at the commit). */
static pq_rc_t
check_allocation_events(const msgpack_sbuffer *events, pq_result_t *out)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    pq_rc_t rc = PQ_OK;
    if (msgpack_unpack_next(&u, events->data, events->size, &off) != MSGPACK_UNPACK_SUCCESS)
        rc = pq_fail(out, PQ_BAD_REQUEST, "could not build the allocation's events");
    for (uint32_t i = 0; rc == PQ_OK && i < u.data.via.array.size; i++) {
        event_t ev;
        ev_error_t err;
        if (event_decode(&u.data.via.array.ptr[i], &ev, &err) != EVE_OK)
            rc = pq_fail(out, PQ_BAD_REQUEST, "%s", err.message);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* The id, author and reason lengths are the buffers'; an id is checked
   again once "/<child>" is added. occurred_at as the event's (EV_TIME_MAX). */
static const wire_field_t f_id = {
    .name = "id", .type = WIRE_FIELD_STR, .required = true, .max = 79};
static const wire_field_t f_occurred_at = {
    .name = "occurred_at", .type = WIRE_FIELD_U64, .required = true, .max = EV_TIME_MAX};
static const wire_field_t f_author = {
    .name = "author", .type = WIRE_FIELD_STR, .required = true, .max = 79};
static const wire_field_t f_reason = {.name = "reason", .type = WIRE_FIELD_STR, .max = 1024};
static const wire_field_t f_method = {
    .name = "method", .type = WIRE_FIELD_STR, .required = true, .max = 15};
static const wire_field_t f_weights = {.name = "weights", .type = WIRE_FIELD_MAP};
static const wire_field_t f_history = {
    .name = "history_periods", .type = WIRE_FIELD_U64, .min = 1, .max = 12};
/* read by the append endpoint's command (daemon/cmd_allocate.c): on the
   query endpoint always a preview */
const wire_field_t pq_f_preview = {.name = "preview", .type = WIRE_FIELD_BOOL};

const wire_field_t *const pq_allocate_fields[] = {&pq_f_key_scope,
                                                  &pq_f_key_metric,
                                                  &pq_f_key_period,
                                                  &pq_f_product_line,
                                                  &f_id,
                                                  &f_occurred_at,
                                                  &f_author,
                                                  &f_reason,
                                                  &f_method,
                                                  &f_weights,
                                                  &f_history,
                                                  &pq_f_preview,
                                                  NULL};

pq_rc_t
projection_allocate(projection_t *self, const msgpack_object *req, pq_result_t *out,
                    msgpack_sbuffer **events_out, uint32_t *nevents)
{
    *events_out = NULL;
    *nevents = 0;
    out->pairs = 0;
    out->message[0] = 0;
    char *msg = out->message;
    size_t msglen = sizeof out->message;
    /* the writer calls this directly, not through projection_query */
    if (wire_req_check(req, pq_allocate_fields, msg, msglen) < 0)
        return PQ_BAD_REQUEST;
    target_t *parent;
    period_t period;
    pq_rc_t rc = pq_find_key(self, req, &parent, &period, out);
    if (rc != PQ_OK)
        return rc;
    char id[80], method[16], author[80], reason[1100], pl[80];
    uint64_t at, hist_n = 0;
    int has_reason, has_pl;
    if (wire_req_strcpy(req, &f_id, id, sizeof id, msg, msglen) < 0 ||
        wire_req_u64(req, &f_occurred_at, &at, msg, msglen) < 0 ||
        wire_req_strcpy(req, &f_author, author, sizeof author, msg, msglen) < 0 ||
        (has_reason = wire_req_strcpy(req, &f_reason, reason, sizeof reason, msg, msglen)) < 0 ||
        (has_pl = wire_req_strcpy(req, &pq_f_product_line, pl, sizeof pl, msg, msglen)) < 0 ||
        wire_req_strcpy(req, &f_method, method, sizeof method, msg, msglen) < 0)
        return PQ_BAD_REQUEST;
    if (!id[0]) {
        wire_req_required("id", "the allocation request id", msg, msglen);
        return PQ_BAD_REQUEST;
    }
    if (strcmp(method, "equal") && strcmp(method, "weights") && strcmp(method, "history")) {
        wire_req_expected("method", "equal, weights or history", msg, msglen);
        return PQ_BAD_REQUEST;
    }
    int64_t occurred_at = (int64_t)at;

    int32_t day = proj_day_of(self, occurred_at);
    uint32_t *kids = calloc(self->nnodes + 1, sizeof *kids);
    double *w = calloc(self->nnodes + 1, sizeof *w);
    size_t nk = 0;
    rc = PQ_OK;
    if (!kids || !w) {
        rc = pq_fail(out, PQ_BAD_REQUEST, "out of memory");
        goto done;
    }
    for (uint32_t c = 1; c < self->nnodes; c++)
        if (self->nodes[c].defined && proj_parent_at(self, c, day) == parent->scope &&
            !(self->nodes[c].retired_day && self->nodes[c].retired_day <= day))
            kids[nk++] = c;
    if (nk == 0) {
        rc = pq_fail(out, PQ_NOT_FOUND, "scope: \"%s\" has no children to allocate to",
                     symtab_str(self->nodes_sym, parent->scope));
        goto done;
    }
    sort_children(self, kids, nk);
    for (size_t i = 0; i < nk; i++)
        if (strlen(id) + 1 + symtab_len(self->nodes_sym, kids[i]) > EV_ID_MAX) {
            rc = pq_fail(out, PQ_BAD_REQUEST,
                         "id: \"%s/%s\" would be longer than %d bytes; use a shorter id", id,
                         symtab_str(self->nodes_sym, kids[i]), EV_ID_MAX);
            goto done;
        }

    bool fell_back = false;
    char err[256] = "";
    metric_t *m = &self->metrics[parent->metric];
    if (!strcmp(method, "weights")) {
        const msgpack_object *wm;
        int has_w = wire_req_obj(req, &f_weights, &wm, msg, msglen);
        if (has_w <= 0) {
            if (!has_w)
                wire_req_required("weights", "with method weights, a map of child id to weight",
                                  msg, msglen);
            rc = PQ_BAD_REQUEST;
            goto done;
        }
        for (size_t i = 0; i < nk; i++)
            w[i] = NAN;
        for (uint32_t j = 0; j < wm->via.map.size; j++) {
            const msgpack_object *k = &wm->via.map.ptr[j].key, *v = &wm->via.map.ptr[j].val;
            size_t i = 0;
            if (k->type == MSGPACK_OBJECT_STR)
                for (; i < nk; i++)
                    if (symtab_len(self->nodes_sym, kids[i]) == k->via.str.size &&
                        !memcmp(symtab_str(self->nodes_sym, kids[i]), k->via.str.ptr,
                                k->via.str.size))
                        break;
            if (k->type != MSGPACK_OBJECT_STR || i == nk) {
                rc = pq_fail(out, PQ_BAD_REQUEST, "weights: \"%.*s\" is not a child of %s",
                             k->type == MSGPACK_OBJECT_STR
                                 ? (int)(k->via.str.size > 64 ? 64 : k->via.str.size)
                                 : 1,
                             k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?",
                             symtab_str(self->nodes_sym, parent->scope));
                goto done;
            }
            if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                w[i] = (double)v->via.u64;
            else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                w[i] = (double)v->via.i64;
            else if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
                w[i] = v->via.f64;
            else {
                rc = pq_fail(out, PQ_BAD_REQUEST, "weights: %s: expected a number",
                             symtab_str(self->nodes_sym, kids[i]));
                goto done;
            }
            /* checked here to name the child (allocate_weights knows an index) */
            if (!isfinite(w[i]) || w[i] < 0) {
                rc = pq_fail(out, PQ_BAD_REQUEST, "weights: %s = %g %s",
                             symtab_str(self->nodes_sym, kids[i]), w[i],
                             isfinite(w[i]) ? "is negative" : "is not a finite number");
                goto done;
            }
        }
        for (size_t i = 0; i < nk; i++)
            if (isnan(w[i])) {
                rc = pq_fail(out, PQ_BAD_REQUEST, "weights: child \"%s\" has no weight",
                             symtab_str(self->nodes_sym, kids[i]));
                goto done;
            }
    } else if (!strcmp(method, "history")) {
        int has_h = wire_req_u64(req, &f_history, &hist_n, msg, msglen);
        if (has_h <= 0) {
            if (!has_h)
                wire_req_required("history_periods", "with method history, an integer from 1 to 12",
                                  msg, msglen);
            rc = PQ_BAD_REQUEST;
            goto done;
        }
    }

    static const char *const tier_names[3] = {"floor", "target", "stretch"};
    int64_t *tier_shares[3] = {NULL, NULL, NULL};
    int64_t *hist = NULL;
    if (!strcmp(method, "history")) {
        hist = calloc(nk, sizeof *hist);
        for (size_t i = 0; hist && i < nk; i++)
            for (uint64_t k = 1; k <= hist_n; k++) {
                period_t prev;
                if (calendar_period_previous(self->cal, &period, (int)k, &prev) != 0)
                    continue;
                int64_t v =
                    proj_rollup(self, kids[i], m->num, parent->pl, proj_day_of(self, prev.start_ms),
                                proj_day_of(self, prev.end_ms));
                hist[i] += v > 0 ? v : 0;
            }
        for (size_t i = 0; hist && i < nk; i++)
            w[i] = (double)hist[i];
    }
    for (int tier = 0; tier < 3 && rc == PQ_OK; tier++) {
        if (!(parent->mask & (1u << tier)))
            continue;
        tier_shares[tier] = calloc(nk, sizeof(int64_t));
        int e;
        if (!tier_shares[tier])
            e = ENOMEM;
        else if (!strcmp(method, "equal"))
            e = allocate_equal(parent->tiers[tier], nk, tier_shares[tier], err, sizeof err);
        else if (!strcmp(method, "weights"))
            e = allocate_weights(parent->tiers[tier], w, nk, tier_shares[tier], err, sizeof err);
        else
            e = hist ? allocate_history(parent->tiers[tier], hist, nk, tier_shares[tier],
                                        &fell_back, err, sizeof err)
                     : ENOMEM;
        if (e)
            rc = pq_fail(out, PQ_BAD_REQUEST, "%s", err[0] ? err : "allocation failed");
    }
    if (rc == PQ_OK && !(*events_out = malloc(sizeof(msgpack_sbuffer))))
        rc = pq_fail(out, PQ_BAD_REQUEST, "out of memory");
    if (rc == PQ_OK) {
        msgpack_sbuffer_init(*events_out);
        msgpack_packer ek, pk;
        msgpack_packer_init(&ek, *events_out, msgpack_sbuffer_write);
        msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
        msgpack_pack_array(&ek, nk);
        pq_pack_str(&pk, "allocation");
        msgpack_pack_array(&pk, nk);
        for (size_t i = 0; i < nk; i++) {
            const char *child = symtab_str(self->nodes_sym, kids[i]);
            char eid[160];
            snprintf(eid, sizeof eid, "%s/%s", id, child);
            size_t fields = 9 + (has_pl > 0) + (has_reason > 0) + (parent->currency[0] != 0) +
                            ((parent->mask & 1) != 0) + ((parent->mask & 4) != 0);
            msgpack_pack_map(&ek, fields);
            pq_pack_str(&ek, "type");
            pq_pack_str(&ek, "target_set");
            pq_pack_str(&ek, "id");
            pq_pack_str(&ek, eid);
            pq_pack_str(&ek, "occurred_at");
            msgpack_pack_int64(&ek, occurred_at);
            pq_pack_str(&ek, "scope");
            pq_pack_str(&ek, child);
            pq_pack_str(&ek, "metric");
            pq_pack_sym(&ek, self->metrics_sym, parent->metric);
            pq_pack_str(&ek, "period");
            pq_pack_str(&ek, period.name);
            if (has_pl > 0) {
                pq_pack_str(&ek, "product_line");
                pq_pack_str(&ek, pl);
            }
            for (int tier = 0; tier < 3; tier++)
                if (tier_shares[tier]) {
                    pq_pack_str(&ek, tier_names[tier]);
                    msgpack_pack_int64(&ek, tier_shares[tier][i]);
                }
            if (parent->currency[0]) {
                pq_pack_str(&ek, "currency");
                msgpack_pack_str_with_body(&ek, parent->currency, 3);
            }
            pq_pack_str(&ek, "author");
            pq_pack_str(&ek, author);
            if (has_reason > 0) {
                pq_pack_str(&ek, "reason");
                pq_pack_str(&ek, reason);
            }
            pq_pack_str(&ek, "allocation");
            pq_pack_str(&ek, id);

            msgpack_pack_map(&pk, 5);
            pq_pack_str(&pk, "child");
            pq_pack_str(&pk, child);
            pq_pack_str(&pk, "weight");
            msgpack_pack_double(&pk, !strcmp(method, "equal") ? 1.0 : w[i]);
            for (int tier = 0; tier < 3; tier++) {
                pq_pack_str(&pk, tier_names[tier]);
                if (tier_shares[tier])
                    msgpack_pack_int64(&pk, tier_shares[tier][i]);
                else
                    msgpack_pack_nil(&pk);
            }
        }
        pq_pack_str(&pk, "fell_back");
        if (fell_back)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        pq_pack_str(&pk, "currency");
        if (parent->currency[0])
            msgpack_pack_str_with_body(&pk, parent->currency, 3);
        else
            msgpack_pack_nil(&pk);
        out->pairs = 3;
        *nevents = (uint32_t)nk;
        rc = check_allocation_events(*events_out, out);
        if (rc != PQ_OK) {
            msgpack_sbuffer_free(*events_out);
            *events_out = NULL;
            *nevents = 0;
            msgpack_sbuffer_clear(&out->body);
            out->pairs = 0;
        }
    }
    for (int tier = 0; tier < 3; tier++)
        free(tier_shares[tier]);
    free(hist);
done:
    free(kids);
    free(w);
    return rc;
}

pq_rc_t
pq_allocate_preview(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    (void)now; /* an allocation is as of its occurred_at */
    msgpack_sbuffer *events = NULL;
    uint32_t n;
    pq_rc_t rc = projection_allocate(self, req, out, &events, &n);
    if (events)
        msgpack_sbuffer_free(events);
    return rc;
}
