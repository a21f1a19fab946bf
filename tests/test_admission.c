/*  Unit tests for the admission rules: projection_check, which the writer
    asks about every valid event before it gives it a seq (docs/EVENTS.md,
    "References are checked", and the booking of orders). Each rule is
    tried against a small organisation: the code, and the field the message
    names. Then: what the rules accept folds, and checking never changes
    the projection (its snapshot bytes are the same before and after). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "events/codec.h"
#include "projections/projection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-10-01T00:00:00+08:00 */
#define OCT1 "i:1790784000000"
#define OCT5 "i:1791129600000"

typedef struct {
    calendar_t *cal;
    projection_t *p;
    uint64_t seq;
} world_t;

/* Check an event given as alternating keys and typed values ("s:..",
   "i:..", "f:.."), and fold it if fold is set and it is accepted. The
   message goes to msg. */
static ev_errcode_t
check_kv(world_t *w, bool fold, char *msg, size_t msglen, const char *const *kv)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t n = 0;
    while (kv[n])
        n++;
    msgpack_pack_map(&pk, n / 2);
    for (size_t i = 0; i < n; i += 2) {
        msgpack_pack_str_with_body(&pk, kv[i], strlen(kv[i]));
        const char *v = kv[i + 1];
        if (v[0] == 's')
            msgpack_pack_str_with_body(&pk, v + 2, strlen(v + 2));
        else if (v[0] == 'i')
            msgpack_pack_int64(&pk, strtoll(v + 2, NULL, 10));
        else
            msgpack_pack_double(&pk, strtod(v + 2, NULL));
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    event_t ev;
    ev_error_t err;
    if (event_decode(&u.data, &ev, &err) != EVE_OK)
        fail_msg("the test's event is not valid: %s", err.message);
    ev_errcode_t rc = projection_check(w->p, &ev, &err);
    if (rc != EVE_OK)
        assert_int_equal(err.code, rc);
    snprintf(msg, msglen, "%s", err.message);
    if (rc == EVE_OK && fold) {
        uint64_t seq = ++w->seq;
        assert_int_equal(projection_fold_checked(w->p, seq, 1000 + (int64_t)seq, &ev), 0);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Fold an event that must be accepted. */
#define FOLD(w, ...)                                                                               \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        char msg_[400];                                                                            \
        if (check_kv(w, true, msg_, sizeof msg_, kv_) != EVE_OK)                                   \
            fail_msg("refused: %s", msg_);                                                         \
    } while (0)

/* Check an event that must be refused with code, its message starting
   with prefix (the field it names). */
#define REFUSED(w, code, prefix, ...)                                                              \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        char msg_[400];                                                                            \
        ev_errcode_t rc_ = check_kv(w, false, msg_, sizeof msg_, kv_);                             \
        if (rc_ != (code))                                                                         \
            fail_msg("line %d: %s, not %s: \"%s\"", __LINE__, ev_errcode_name(rc_),                \
                     ev_errcode_name(code), msg_);                                                 \
        if (strncmp(msg_, prefix, strlen(prefix)) != 0)                                            \
            fail_msg("line %d: message \"%s\" does not start with \"%s\"", __LINE__, msg_,         \
                     prefix);                                                                      \
    } while (0)

#define ACCEPTED(w, ...)                                                                           \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        char msg_[400];                                                                            \
        if (check_kv(w, false, msg_, sizeof msg_, kv_) != EVE_OK)                                  \
            fail_msg("line %d: refused: %s", __LINE__, msg_);                                      \
    } while (0)

/* acme (company) > east (region) > t3 (team) > zhang, wang (reps); a
   revenue target for east in 2026-Q4; kpi csat; order 10023 of 1,000.00
   CNY and order 10024, cancelled. */
static int
setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    char err[256];
    w->cal = calendar_new("Asia/Shanghai", 1, err, sizeof err);
    assert_non_null(w->cal);
    w->p = projection_new(w->cal);
    assert_non_null(w->p);
    FOLD(w, "type", "s:node_defined", "id", "s:n1", "occurred_at", OCT1, "node", "s:acme", "kind",
         "s:company", "name", "s:ACME");
    FOLD(w, "type", "s:node_defined", "id", "s:n2", "occurred_at", OCT1, "node", "s:east", "kind",
         "s:region", "name", "s:East", "parent", "s:acme");
    FOLD(w, "type", "s:node_defined", "id", "s:n3", "occurred_at", OCT1, "node", "s:t3", "kind",
         "s:team", "name", "s:T3", "parent", "s:east");
    FOLD(w, "type", "s:node_defined", "id", "s:n4", "occurred_at", OCT1, "node", "s:zhang", "kind",
         "s:rep", "name", "s:Zhang", "parent", "s:t3");
    FOLD(w, "type", "s:node_defined", "id", "s:n5", "occurred_at", OCT1, "node", "s:wang", "kind",
         "s:rep", "name", "s:Wang", "parent", "s:t3");
    FOLD(w, "type", "s:target_set", "id", "s:t1", "occurred_at", OCT1, "scope", "s:east", "metric",
         "s:revenue", "period", "s:2026-Q4", "target", "i:100000000", "floor", "i:80000000",
         "stretch", "i:120000000", "currency", "s:CNY", "author", "s:ceo");
    FOLD(w, "type", "s:kpi_defined", "id", "s:k1", "occurred_at", OCT1, "kpi", "s:csat",
         "aggregation", "s:average");
    FOLD(w, "type", "s:sale_closed", "id", "s:s1", "occurred_at", OCT5, "order", "s:10023", "rep",
         "s:zhang", "amount", "i:100000", "currency", "s:CNY");
    FOLD(w, "type", "s:sale_closed", "id", "s:s2", "occurred_at", OCT5, "order", "s:10024", "rep",
         "s:wang", "amount", "i:50000", "currency", "s:CNY");
    FOLD(w, "type", "s:sale_cancelled", "id", "s:c2", "occurred_at", OCT5, "order", "s:10024");
    *state = w;
    return 0;
}

static int
teardown(void **state)
{
    world_t *w = *state;
    projection_destroy(&w->p);
    calendar_destroy(&w->cal);
    free(w);
    return 0;
}

static void
test_organisation(void **state)
{
    world_t *w = *state;
    REFUSED(w, EVE_INVALID_VALUE, "parent: \"nowhere\" is not a defined node", "type",
            "s:node_defined", "id", "s:x", "occurred_at", OCT1, "node", "s:li", "kind", "s:rep",
            "name", "s:Li", "parent", "s:nowhere");
    REFUSED(w, EVE_INVALID_VALUE, "kind: ", "type", "s:node_defined", "id", "s:x", "occurred_at",
            OCT1, "node", "s:east", "kind", "s:team", "name", "s:East", "parent", "s:acme");
    REFUSED(w, EVE_INVALID_VALUE, "node: \"li\" is not a defined node", "type", "s:node_moved",
            "id", "s:x", "occurred_at", OCT1, "node", "s:li", "parent", "s:east", "effective_at",
            OCT5);
    REFUSED(w, EVE_INVALID_VALUE, "parent: ", "type", "s:node_moved", "id", "s:x", "occurred_at",
            OCT1, "node", "s:east", "parent", "s:zhang", "effective_at", OCT5);
    REFUSED(w, EVE_INVALID_VALUE, "node: \"li\" is not a defined node", "type", "s:node_retired",
            "id", "s:x", "occurred_at", OCT1, "node", "s:li", "effective_at", OCT5);
    ACCEPTED(w, "type", "s:node_moved", "id", "s:x", "occurred_at", OCT1, "node", "s:wang",
             "parent", "s:east", "effective_at", OCT5);
}

static void
test_targets(void **state)
{
    world_t *w = *state;
    REFUSED(w, EVE_INVALID_VALUE, "scope: \"west\" is not a defined node", "type", "s:target_set",
            "id", "s:x", "occurred_at", OCT1, "scope", "s:west", "metric", "s:revenue", "period",
            "s:2026-Q4", "target", "i:1", "author", "s:ceo");
    REFUSED(w, EVE_INVALID_VALUE, "metric: ", "type", "s:target_set", "id", "s:x", "occurred_at",
            OCT1, "scope", "s:east", "metric", "s:kpi:nps", "period", "s:2026-Q4", "target", "i:1",
            "author", "s:ceo");
    REFUSED(w, EVE_INVALID_VALUE, "target: no target is set for east / deals / 2026-Q4", "type",
            "s:target_adjusted", "id", "s:x", "occurred_at", OCT1, "scope", "s:east", "metric",
            "s:deals", "period", "s:2026-Q4", "target", "i:5", "author", "s:ceo", "reason",
            "s:more");
    /* floor 80,000,000 stays: a target under it breaks the tier order */
    REFUSED(w, EVE_OUT_OF_RANGE, "target: after this adjustment", "type", "s:target_adjusted", "id",
            "s:x", "occurred_at", OCT1, "scope", "s:east", "metric", "s:revenue", "period",
            "s:2026-Q4", "target", "i:70000000", "author", "s:ceo", "reason", "s:less");
    ACCEPTED(w, "type", "s:target_adjusted", "id", "s:x", "occurred_at", OCT1, "scope", "s:east",
             "metric", "s:revenue", "period", "s:2026-Q4", "target", "i:90000000", "author",
             "s:ceo", "reason", "s:less");
    ACCEPTED(w, "type", "s:target_set", "id", "s:x", "occurred_at", OCT1, "scope", "s:zhang",
             "metric", "s:kpi:csat", "period", "s:2026-Q4", "target", "i:4", "author", "s:ceo");
}

static void
test_orders(void **state)
{
    world_t *w = *state;
    REFUSED(w, EVE_INVALID_VALUE, "order: \"10023\" is already booked", "type", "s:sale_closed",
            "id", "s:x", "occurred_at", OCT5, "order", "s:10023", "rep", "s:zhang", "amount", "i:5",
            "currency", "s:CNY");
    REFUSED(w, EVE_INVALID_VALUE, "order: \"10024\" is already booked", "type", "s:sale_closed",
            "id", "s:x", "occurred_at", OCT5, "order", "s:10024", "rep", "s:zhang", "amount", "i:5",
            "currency", "s:CNY");
    REFUSED(w, EVE_INVALID_VALUE, "order: \"9\" is not a booked order", "type", "s:sale_refunded",
            "id", "s:x", "occurred_at", OCT5, "order", "s:9", "amount", "i:1", "currency", "s:CNY");
    REFUSED(w, EVE_INVALID_VALUE, "order: \"9\" is not a booked order", "type", "s:sale_cancelled",
            "id", "s:x", "occurred_at", OCT5, "order", "s:9");
    REFUSED(w, EVE_INVALID_VALUE, "amount: 100001 is more than the 100000", "type",
            "s:sale_refunded", "id", "s:x", "occurred_at", OCT5, "order", "s:10023", "amount",
            "i:100001", "currency", "s:CNY");
    REFUSED(w, EVE_INVALID_VALUE, "currency: the order is in CNY", "type", "s:sale_refunded", "id",
            "s:x", "occurred_at", OCT5, "order", "s:10023", "amount", "i:1", "currency", "s:USD");
    REFUSED(w, EVE_INVALID_VALUE, "order: \"10024\" is already cancelled", "type",
            "s:sale_refunded", "id", "s:x", "occurred_at", OCT5, "order", "s:10024", "amount",
            "i:1", "currency", "s:CNY");
    REFUSED(w, EVE_INVALID_VALUE, "order: \"10024\" is already cancelled", "type",
            "s:sale_cancelled", "id", "s:x", "occurred_at", OCT5, "order", "s:10024");
    ACCEPTED(w, "type", "s:sale_refunded", "id", "s:x", "occurred_at", OCT5, "order", "s:10023",
             "amount", "i:100000", "currency", "s:CNY");
    /* what remains goes down as refunds fold */
    FOLD(w, "type", "s:sale_refunded", "id", "s:r1", "occurred_at", OCT5, "order", "s:10023",
         "amount", "i:60000", "currency", "s:CNY");
    REFUSED(w, EVE_INVALID_VALUE, "amount: 40001 is more than the 40000", "type", "s:sale_refunded",
            "id", "s:x", "occurred_at", OCT5, "order", "s:10023", "amount", "i:40001", "currency",
            "s:CNY");
}

static void
test_payments_and_kpis(void **state)
{
    world_t *w = *state;
    REFUSED(w, EVE_INVALID_VALUE, "rep: required when the payment's order is not a booked order",
            "type", "s:payment_received", "id", "s:x", "occurred_at", OCT5, "amount", "i:1",
            "currency", "s:CNY", "order", "s:9");
    REFUSED(w, EVE_INVALID_VALUE, "rep: required", "type", "s:payment_received", "id", "s:x",
            "occurred_at", OCT5, "amount", "i:1", "currency", "s:CNY", "customer", "s:c-88");
    ACCEPTED(w, "type", "s:payment_received", "id", "s:x", "occurred_at", OCT5, "amount", "i:1",
             "currency", "s:CNY", "order", "s:10023");
    ACCEPTED(w, "type", "s:payment_received", "id", "s:x", "occurred_at", OCT5, "amount", "i:1",
             "currency", "s:CNY", "customer", "s:c-88", "rep", "s:zhang");
    REFUSED(w, EVE_INVALID_VALUE, "kpi: \"nps\" has no kpi_defined", "type", "s:kpi_recorded", "id",
            "s:x", "occurred_at", OCT5, "kpi", "s:nps", "scope", "s:zhang", "value", "f:4");
    REFUSED(w, EVE_INVALID_VALUE, "aggregation: kpi \"csat\" is already defined", "type",
            "s:kpi_defined", "id", "s:x", "occurred_at", OCT1, "kpi", "s:csat", "aggregation",
            "s:sum");
    ACCEPTED(w, "type", "s:kpi_recorded", "id", "s:x", "occurred_at", OCT5, "kpi", "s:csat",
             "scope", "s:zhang", "value", "f:4.5");
}

/* Checks of accepted and refused events alike leave the projection as it
   was, byte for byte. */
static void
test_checking_changes_nothing(void **state)
{
    world_t *w = *state;
    msgpack_sbuffer before, after;
    msgpack_sbuffer_init(&before);
    msgpack_sbuffer_init(&after);
    assert_int_equal(projection_save(w->p, &before), 0);
    test_organisation(state);
    test_targets(state);
    REFUSED(w, EVE_INVALID_VALUE, "order: \"10023\" is already booked", "type", "s:sale_closed",
            "id", "s:x", "occurred_at", OCT5, "order", "s:10023", "rep", "s:zhang", "amount", "i:5",
            "currency", "s:CNY");
    ACCEPTED(w, "type", "s:sale_refunded", "id", "s:x", "occurred_at", OCT5, "order", "s:10023",
             "amount", "i:1", "currency", "s:CNY");
    assert_int_equal(projection_save(w->p, &after), 0);
    assert_int_equal(after.size, before.size);
    assert_memory_equal(after.data, before.data, before.size);
    msgpack_sbuffer_destroy(&after);
    msgpack_sbuffer_destroy(&before);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_organisation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payments_and_kpis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checking_changes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
