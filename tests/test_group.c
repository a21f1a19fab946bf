/*  Unit tests for daemon/group: a prepared event rebuilds to what
    event_decode gives and encodes canonically as event_encode_buf does;
    refusals at preparation and by the writer, a reset before a retry, the
    reply, and release for reuse. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/group.h"
#include "events/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pack_sale(msgpack_packer *pk, const char *id, int64_t amount)
{
    msgpack_pack_map(pk, 7);
    pack_str(pk, "type");
    pack_str(pk, "sale_closed");
    pack_str(pk, "id");
    pack_str(pk, id);
    /* out of schema order on purpose: the canonical form reorders */
    pack_str(pk, "amount");
    msgpack_pack_int64(pk, amount);
    pack_str(pk, "occurred_at");
    msgpack_pack_int64(pk, 1764590400000);
    pack_str(pk, "order");
    pack_str(pk, "o-1");
    pack_str(pk, "rep");
    pack_str(pk, "zhang");
    pack_str(pk, "currency");
    pack_str(pk, "CNY");
}

/* An append request of three events: a sale, an event with a wrong type,
   another sale; parsed into the group's next slot. */
static pending_t *
add_request(group_t *g, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "op");
    pack_str(&pk, "append");
    pack_str(&pk, "corr");
    msgpack_pack_int(&pk, 7);
    pack_str(&pk, "events");
    msgpack_pack_array(&pk, 3);
    pack_sale(&pk, "crm:1", 1250000);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "type");
    pack_str(&pk, "sale_closed");
    pack_str(&pk, "id");
    msgpack_pack_int(&pk, 5);
    pack_sale(&pk, "crm:2", 99);

    pending_t *p = &g->pending[g->npending++];
    zmq_msg_init(&p->ident);
    zmq_msg_init_size(&p->body, sb->size);
    memcpy(zmq_msg_data(&p->body), sb->data, sb->size);
    p->rc = wire_request_parse(&p->req, zmq_msg_data(&p->body), zmq_msg_size(&p->body), p->message,
                               sizeof p->message);
    assert_int_equal(p->rc, WIRE_OK);
    assert_int_equal(group_prepare(g, p), 0);
    return p;
}

static void
test_prepare_rebuild_reset_reply(void **state)
{
    group_t *g = group_new();
    assert_non_null(g);
    msgpack_sbuffer sb, out;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&out);
    for (int round = 0; round < 2; round++) { /* the second after group_release */
        msgpack_sbuffer_clear(&sb);
        pending_t *p = add_request(g, &sb);
        assert_true(group_appends_events(p));
        assert_int_equal(p->nresults, 3);
        assert_int_equal(group_prepare(g, p), 0); /* once only */

        for (uint32_t i = 0; i < 3; i += 2) {
            ev_result_t *r = &p->results[i];
            assert_int_equal(r->status, R_VALID);
            assert_int_equal(r->type, EV_SALE_CLOSED);
            event_t want, got;
            ev_error_t e;
            assert_int_equal(event_decode(&p->req.events[i], &want, &e), EVE_OK);
            group_event(g, r, &got);
            assert_int_equal(got.type, want.type);
            assert_int_equal(got.present, want.present);
            /* fields are compared through their encoding: a value only
               sets the member of its kind (i, d or s) */
            static uint8_t canon[EV_MAX_BYTES + 4096], again[EV_MAX_BYTES + 4096];
            size_t len = event_encode_buf(&want, canon, sizeof canon);
            assert_int_equal(r->canon_len, len);
            assert_memory_equal(group_canon(g, r), canon, len);
            assert_int_equal(event_encode_buf(&got, again, sizeof again), len);
            assert_memory_equal(again, canon, len);
            assert_ptr_equal(got.v[F_ID].s.ptr, want.v[F_ID].s.ptr);
            assert_int_equal(r->id_hash, event_id_hash(r->id, r->id_len));
        }
        ev_result_t *bad = &p->results[1];
        assert_int_equal(bad->status, R_ERROR_BASE + EVE_WRONG_TYPE);
        assert_non_null(strstr(bad->prep_message, "event 1"));

        /* the writer appends one, refuses the other; a retry undoes that */
        p->results[0].status = R_APPENDED;
        p->results[0].seq = 41;
        group_refuse(&p->results[2], EVE_CONFLICT, 2, "id: already in the log");
        assert_non_null(strstr(p->results[2].message, "crm:2"));
        group_reset(g);
        assert_int_equal(p->results[0].status, R_VALID);
        assert_int_equal(p->results[2].status, R_VALID);
        assert_null(p->results[2].message);
        assert_int_equal(bad->status, R_ERROR_BASE + EVE_WRONG_TYPE);

        p->results[0].status = R_APPENDED;
        p->results[0].seq = 41;
        p->results[2].status = R_DUP;
        p->results[2].seq = 3;
        g->last_seq = 41;
        /* counts are this request's alone, whatever they held before (the
           caller sums them over a group) */
        uint64_t counts[3] = {5, 5, 5};
        for (int twice = 0; twice < 2; twice++) {
            assert_true(group_pack_reply(g, p, &out, counts));
            assert_int_equal(counts[0], 1);
            assert_int_equal(counts[1], 1);
            assert_int_equal(counts[2], 1);
        }
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&u, out.data, out.size, &off), MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
        /* v corr ok results appended duplicates rejected last_seq */
        assert_int_equal(u.data.via.map.size, 8);
        int checked = 0;
        for (uint32_t k = 0; k < u.data.via.map.size; k++) {
            const msgpack_object_kv *kv = &u.data.via.map.ptr[k];
            const char *names[] = {"appended", "duplicates", "rejected"};
            for (int c = 0; c < 3; c++)
                if (kv->key.via.str.size == strlen(names[c]) &&
                    !memcmp(kv->key.via.str.ptr, names[c], strlen(names[c]))) {
                    assert_int_equal(kv->val.via.u64, 1);
                    checked++;
                }
            if (kv->key.via.str.size == 8 && !memcmp(kv->key.via.str.ptr, "last_seq", 8))
                assert_int_equal(kv->val.via.u64, 41);
        }
        assert_int_equal(checked, 3);
        msgpack_unpacked_destroy(&u);

        group_fail(g, "disk full");
        assert_int_equal(p->rc, WIRE_INTERNAL);
        assert_false(group_pack_reply(g, p, &out, counts));

        group_release(g);
        assert_int_equal(g->npending, 0);
        assert_int_equal(g->nvalues, 0);
        assert_int_equal(g->canon.size, 0);
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&out);
    group_destroy(&g);
    assert_null(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_rebuild_reset_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
