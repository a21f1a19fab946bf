/*  Unit tests for the query endpoint's dispatch tables (daemon/query.c,
    projections/report.c): every operation WIRE_OP_LIST puts on the query
    endpoint has exactly one handler, and no other operation has one; the
    projection's table checks a request's fields before its handler runs. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/query.h"
#include "projections/projection.h"

#include <string.h>

static void
test_one_handler_per_query_op(void **state)
{
    (void)state;
    int served = 0;
    for (int op = OP_NONE + 1; op < OP_OTHER; op++) {
        int want = (wire_op_endpoints((wire_op_t)op) & WIRE_ON_QUERY) ? 1 : 0;
        if (query_op_handlers((wire_op_t)op) != want)
            fail_msg("op %s: %d handlers on the query endpoint, expected %d",
                     wire_op_name((wire_op_t)op), query_op_handlers((wire_op_t)op), want);
        served += want;
    }
    assert_true(served >= 10); /* status ... silences: the list was read */
    assert_int_equal(query_op_handlers(OP_NONE), 0);
    assert_int_equal(query_op_handlers(OP_OTHER), 0);
}

/* An empty request body: a map with no keys. */
static const msgpack_object *
empty_body(msgpack_unpacked *u)
{
    static const char map0 = (char)0x80;
    msgpack_unpacked_init(u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(u, &map0, 1, &off), MSGPACK_UNPACK_SUCCESS);
    return &u->data;
}

static void
test_projection_table(void **state)
{
    (void)state;
    char err[256];
    calendar_t *cal = calendar_new("Asia/Shanghai", 1, err, sizeof err);
    assert_non_null(cal);
    projection_t *p = projection_new(cal);
    assert_non_null(p);
    msgpack_unpacked u;
    const msgpack_object *body = empty_body(&u);
    int entries = 0;
    for (int op = OP_NONE + 1; op < OP_OTHER; op++) {
        const pq_query_t *q = projection_query_find((wire_op_t)op);
        pq_result_t res;
        msgpack_sbuffer_init(&res.body);
        pq_rc_t rc = projection_query(p, (wire_op_t)op, body, 0, &res);
        if (!q) { /* not the projection's: refused, nothing packed */
            assert_int_equal(rc, PQ_BAD_REQUEST);
            assert_non_null(strstr(res.message, "is not a query of the projection"));
            assert_int_equal(res.body.size, 0);
            msgpack_sbuffer_destroy(&res.body);
            continue;
        }
        entries++;
        assert_int_equal(q->op, op);
        assert_true(wire_op_endpoints(q->op) & WIRE_ON_QUERY);
        /* field names once each; the first required one is what an empty
           body is refused for, in the readers' format */
        const wire_field_t *first_required = NULL;
        for (size_t i = 0; q->fields[i]; i++) {
            for (size_t j = 0; j < i; j++)
                if (!strcmp(q->fields[i]->name, q->fields[j]->name))
                    fail_msg("%s lists %s twice", wire_op_name(q->op), q->fields[i]->name);
            if (q->fields[i]->required && !first_required)
                first_required = q->fields[i];
        }
        if (first_required) {
            char want[80];
            snprintf(want, sizeof want, "%s: required (", first_required->name);
            assert_int_equal(rc, PQ_BAD_REQUEST);
            if (strncmp(res.message, want, strlen(want)))
                fail_msg("%s: \"%s\", expected it to start \"%s\"", wire_op_name(q->op),
                         res.message, want);
        } else
            assert_int_equal(rc, PQ_OK); /* undefined_nodes: nothing required */
        msgpack_sbuffer_destroy(&res.body);
    }
    assert_int_equal(entries, 6);
    msgpack_unpacked_destroy(&u);
    projection_destroy(&p);
    calendar_destroy(&cal);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_handler_per_query_op),
        cmocka_unit_test(test_projection_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
