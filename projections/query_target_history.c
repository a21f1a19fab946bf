/*  target_history: one target key's audit trail, oldest first
    (docs/PROTOCOL.md, "target_history"). */

#include "projections/report.h"

static void
pack_tiers(msgpack_packer *pk, uint8_t mask, const int64_t t[3])
{
    static const char *const names[3] = {"floor", "target", "stretch"};
    msgpack_pack_map(pk, 3);
    for (int i = 0; i < 3; i++) {
        pq_pack_str(pk, names[i]);
        if (mask & (1u << i))
            msgpack_pack_int64(pk, t[i]);
        else
            msgpack_pack_nil(pk);
    }
}

const wire_field_t *const pq_target_history_fields[] = {&pq_f_key_scope, &pq_f_key_metric,
                                                        &pq_f_key_period, &pq_f_product_line, NULL};

pq_rc_t
pq_target_history(projection_t *self, const msgpack_object *req, int64_t now, pq_result_t *out)
{
    (void)now; /* an audit trail does not depend on the time */
    target_t *t;
    period_t period;
    pq_rc_t rc = pq_find_key(self, req, &t, &period, out);
    if (rc != PQ_OK)
        return rc;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out->body, msgpack_sbuffer_write);
    pq_pack_str(&pk, "history");
    msgpack_pack_array(&pk, t->nhist);
    for (uint32_t i = 0; i < t->nhist; i++) {
        hist_t *h = &t->hist[i];
        msgpack_pack_map(&pk, 9);
        pq_pack_str(&pk, "seq");
        msgpack_pack_uint64(&pk, h->seq);
        pq_pack_opt_int(&pk, "occurred_at", true, h->occurred_at);
        pq_pack_opt_int(&pk, "recorded_at", true, h->recorded_at);
        pq_pack_str(&pk, "kind");
        pq_pack_str(&pk, h->kind ? "adjust" : "set");
        pq_pack_str(&pk, "author");
        pq_pack_sym(&pk, self->text_sym, h->author);
        pq_pack_str(&pk, "reason");
        pq_pack_sym(&pk, self->text_sym, h->reason);
        pq_pack_str(&pk, "allocation");
        pq_pack_sym(&pk, self->text_sym, h->allocation);
        pq_pack_str(&pk, "before");
        if (h->before_mask)
            pack_tiers(&pk, h->before_mask, h->before);
        else
            msgpack_pack_nil(&pk);
        pq_pack_str(&pk, "after");
        pack_tiers(&pk, h->after_mask, h->after);
    }
    pq_pack_str(&pk, "currency");
    if (t->currency[0])
        msgpack_pack_str_with_body(&pk, t->currency, 3);
    else
        msgpack_pack_nil(&pk);
    pq_pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, self->seq);
    out->pairs = 3;
    return PQ_OK;
}
