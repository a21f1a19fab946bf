/*  Unit tests for the admission rules: projection_check, which the writer
    asks about every valid event before it gives it a seq (docs/EVENTS.md,
    "References are checked", and the booking of orders). Each rule is
    tried against a small organisation: the code, and the field the message
    names. Then: what the rules accept folds, and checking never changes
    the projection (its snapshot bytes are the same before and after).

    Then the writer's admission module (daemon/admission), on a store in a
    temporary directory: a new id, a duplicate (same id, same bytes: the
    original seq) and a conflict (other bytes), whether the earlier event
    is still in memory or in the log; a hash hit of another id is no
    duplicate; a duplicate index naming a seq the log lacks fails; atomic
    batches are refused whole. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/admission.h"
#include "daemon/outbox.h"
#include "daemon/store_log.h"
#include "events/codec.h"
#include "events/schema.h"
#include "projections/projection.h"
#include "tests/test_kv.h"

#include <dirent.h>
#include <unistd.h>

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
    test_kv_pack(&sb, kv);
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

/* ---- daemon/admission ---- */

typedef struct {
    char dir[64];
    store_t *store;
    projector_t *projector;
    alerter_t *alerter;
    dedup_t *dedup;
    admission_t *admission;
    group_t *group;
    msgpack_sbuffer bodies[4];
    int nbodies;
    /* the writer's memory: seq mem_seq holds mem_event */
    uint64_t mem_seq;
    const uint8_t *mem_event;
    size_t mem_len;
} adm_t;

static bool
adm_memory(void *arg, uint64_t seq, const uint8_t **event, size_t *len)
{
    adm_t *a = arg;
    if (!a->mem_event || seq != a->mem_seq)
        return false;
    *event = a->mem_event;
    *len = a->mem_len;
    return true;
}

static int
adm_setup(void **state)
{
    adm_t *a = calloc(1, sizeof *a);
    assert_non_null(a);
    snprintf(a->dir, sizeof a->dir, "/tmp/test_admission.XXXXXX");
    assert_non_null(mkdtemp(a->dir));
    char err[512];
    a->store = store_open(a->dir, NULL, err, sizeof err);
    if (!a->store)
        fail_msg("%s", err);
    uint64_t last_aseq;
    assert_int_equal(outbox_open(a->store, &last_aseq, err, sizeof err), STORE_OK);
    projector_options_t po = {.time_zone = "Asia/Shanghai", .fiscal_start_month = 1};
    a->projector = projector_open(a->store, &po, err, sizeof err);
    if (!a->projector)
        fail_msg("%s", err);
    a->alerter = alerter_new();
    assert_non_null(a->alerter);
    assert_int_equal(
        alerter_load(a->alerter, a->store, projector_live(a->projector), err, sizeof err), 0);
    a->dedup = dedup_new(1024);
    assert_non_null(a->dedup);
    assert_int_equal(dedup_reserve(a->dedup, 64), 0); /* the tests' inserts */
    a->admission = admission_new(a->store, a->dedup, a->projector, a->alerter, adm_memory, a);
    assert_non_null(a->admission);
    a->group = group_new();
    assert_non_null(a->group);
    *state = a;
    return 0;
}

static int
adm_teardown(void **state)
{
    adm_t *a = *state;
    group_destroy(&a->group);
    for (int i = 0; i < a->nbodies; i++)
        msgpack_sbuffer_destroy(&a->bodies[i]);
    admission_destroy(&a->admission);
    dedup_destroy(&a->dedup);
    alerter_destroy(&a->alerter);
    projector_destroy(&a->projector);
    store_destroy(&a->store);
    DIR *d = opendir(a->dir);
    assert_non_null(d);
    struct dirent *e;
    char path[320];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", a->dir, e->d_name);
            assert_int_equal(unlink(path), 0);
        }
    closedir(d);
    assert_int_equal(rmdir(a->dir), 0);
    free(a);
    return 0;
}

static void
pack_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* A sale (order = id) or, with refund, a refund of order `order`. */
static void
pack_event(msgpack_packer *pk, const char *id, int64_t amount, const char *refund_of)
{
    msgpack_pack_map(pk, refund_of ? 6 : 7);
    pack_s(pk, "type");
    pack_s(pk, refund_of ? "sale_refunded" : "sale_closed");
    pack_s(pk, "id");
    pack_s(pk, id);
    pack_s(pk, "occurred_at");
    msgpack_pack_int64(pk, 1791129600000);
    pack_s(pk, "order");
    pack_s(pk, refund_of ? refund_of : id);
    if (!refund_of) {
        pack_s(pk, "rep");
        pack_s(pk, "zhang");
    }
    pack_s(pk, "amount");
    msgpack_pack_int64(pk, amount);
    pack_s(pk, "currency");
    pack_s(pk, "CNY");
}

/* An append request of n events (ids[i], amounts[i], refunds[i] or NULL),
   parsed and prepared into the group. */
static pending_t *
adm_request(adm_t *a, bool atomic, int n, const char *const *ids, const int64_t *amounts,
            const char *const *refunds)
{
    msgpack_sbuffer *sb = &a->bodies[a->nbodies++];
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, atomic ? 4 : 3);
    pack_s(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_s(&pk, "op");
    pack_s(&pk, "append");
    if (atomic) {
        pack_s(&pk, "atomic");
        msgpack_pack_true(&pk);
    }
    pack_s(&pk, "events");
    msgpack_pack_array(&pk, (uint32_t)n);
    for (int i = 0; i < n; i++)
        pack_event(&pk, ids[i], amounts[i], refunds ? refunds[i] : NULL);
    group_t *g = a->group;
    pending_t *p = &g->pending[g->npending++];
    zmq_msg_init(&p->ident);
    zmq_msg_init(&p->body);
    p->rc = wire_request_parse(&p->req, sb->data, sb->size, p->message, sizeof p->message);
    assert_int_equal(p->rc, WIRE_OK);
    assert_int_equal(group_prepare(g, p), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(p->results[i].status, R_VALID);
    return p;
}

static admission_verdict_t
adm_event(adm_t *a, pending_t *p, uint32_t i, char *err, size_t errlen)
{
    event_t ev;
    group_event(a->group, &p->results[i], &ev);
    admission_verdict_t v =
        admission_event(a->admission, a->group, &p->results[i], i, &ev, err, errlen);
    admission_end(a->admission);
    return v;
}

static const char *
result_message(const ev_result_t *r)
{
    return r->message ? r->message : "";
}

static void
test_admission_duplicates(void **state)
{
    adm_t *a = *state;
    char err[256];
    const char *ids[] = {"crm:1", "crm:1", "crm:2"};
    const int64_t amounts[] = {100, 999, 100};
    pending_t *p = adm_request(a, false, 3, ids, amounts, NULL);
    ev_result_t *r = p->results;

    /* nothing in the index: new */
    assert_int_equal(adm_event(a, p, 0, err, sizeof err), ADMIT_NEW);

    /* crm:1 appended as seq 7, still in memory */
    dedup_insert(a->dedup, r[0].id_hash, 7);
    a->mem_seq = 7;
    a->mem_event = group_canon(a->group, &r[0]);
    a->mem_len = r[0].canon_len;
    assert_int_equal(adm_event(a, p, 0, err, sizeof err), ADMIT_DUPLICATE);
    assert_int_equal(r[0].status, R_DUP);
    assert_int_equal(r[0].seq, 7);
    assert_int_equal(adm_event(a, p, 1, err, sizeof err), ADMIT_REFUSED);
    assert_int_equal(r[1].status, R_ERROR_BASE + EVE_CONFLICT);
    assert_non_null(strstr(result_message(&r[1]), "already in the log with different content"));
    assert_non_null(strstr(result_message(&r[1]), "crm:1"));

    /* a hash hit on another id (as a 64-bit collision would be): no
       duplicate, no conflict */
    dedup_insert(a->dedup, r[2].id_hash, 7);
    assert_int_equal(adm_event(a, p, 2, err, sizeof err), ADMIT_NEW);
    group_reset(a->group);

    /* the same, read from the log: crm:1 committed as seq 1 */
    dedup_rollback(a->dedup);
    a->mem_event = NULL;
    uint64_t seq;
    assert_int_equal(store_begin(a->store, err, sizeof err), STORE_OK);
    assert_int_equal(store_append(a->store, 1000, group_canon(a->group, &r[0]), r[0].canon_len,
                                  r[0].id_hash, &seq, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_commit(a->store, err, sizeof err), STORE_OK);
    assert_int_equal(seq, 1);
    dedup_insert(a->dedup, r[0].id_hash, 1);
    assert_int_equal(adm_event(a, p, 0, err, sizeof err), ADMIT_DUPLICATE);
    assert_int_equal(r[0].seq, 1);
    assert_int_equal(adm_event(a, p, 1, err, sizeof err), ADMIT_REFUSED);
    assert_int_equal(r[1].status, R_ERROR_BASE + EVE_CONFLICT);
    group_reset(a->group);

    /* an index entry the log does not hold: the writer must fail the group */
    dedup_insert(a->dedup, r[2].id_hash, 42);
    assert_int_equal(adm_event(a, p, 2, err, sizeof err), ADMIT_FAILED);
    assert_non_null(strstr(err, "seq 42, which is not in the log"));

    /* the id of a stored event */
    char id[16];
    assert_true(admission_event_id(a->admission, group_canon(a->group, &r[2]), r[2].canon_len, id,
                                   sizeof id));
    assert_string_equal(id, "crm:2");
    assert_false(
        admission_event_id(a->admission, group_canon(a->group, &r[2]), r[2].canon_len, id, 3));
}

static void
test_admission_batches(void **state)
{
    adm_t *a = *state;
    char err[256];
    /* an id twice with different content: a conflict, the rest aborted */
    const char *ids[] = {"b:1", "b:2", "b:1"};
    const int64_t amounts[] = {100, 100, 200};
    pending_t *p = adm_request(a, true, 3, ids, amounts, NULL);
    assert_int_equal(admission_batch(a->admission, a->group, p, err, sizeof err), ADMIT_REFUSED);
    admission_end(a->admission);
    assert_int_equal(p->results[2].status, R_ERROR_BASE + EVE_CONFLICT);
    assert_non_null(strstr(result_message(&p->results[2]), "used earlier in this batch"));
    assert_int_equal(p->results[0].status, R_ERROR_BASE + EVE_ABORTED);
    assert_int_equal(p->results[1].status, R_ERROR_BASE + EVE_ABORTED);

    /* the same id twice with the same content: admitted, the second a
       duplicate of the first once that is appended (in memory, seq 5) */
    const char *ids2[] = {"c:1", "c:1"};
    const int64_t amounts2[] = {100, 100};
    pending_t *q = adm_request(a, true, 2, ids2, amounts2, NULL);
    assert_int_equal(admission_batch(a->admission, a->group, q, err, sizeof err), ADMIT_NEW);
    event_t ev;
    group_event(a->group, &q->results[0], &ev);
    assert_int_equal(admission_batch_event(a->admission, a->group, q, 0, &ev, err, sizeof err),
                     ADMIT_NEW);
    dedup_insert(a->dedup, q->results[0].id_hash, 5);
    a->mem_seq = 5;
    a->mem_event = group_canon(a->group, &q->results[0]);
    a->mem_len = q->results[0].canon_len;
    group_event(a->group, &q->results[1], &ev);
    assert_int_equal(admission_batch_event(a->admission, a->group, q, 1, &ev, err, sizeof err),
                     ADMIT_DUPLICATE);
    assert_int_equal(q->results[1].seq, 5);
    admission_end(a->admission);

    /* one event the projection refuses (a refund of an order never
       booked): that one refused, the others aborted */
    const char *ids3[] = {"d:1", "d:2"};
    const int64_t amounts3[] = {100, 50};
    const char *refunds3[] = {NULL, "nowhere"};
    pending_t *r = adm_request(a, true, 2, ids3, amounts3, refunds3);
    assert_int_equal(admission_batch(a->admission, a->group, r, err, sizeof err), ADMIT_REFUSED);
    admission_end(a->admission);
    assert_int_equal(r->results[0].status, R_ERROR_BASE + EVE_ABORTED);
    assert_true(r->results[1].status > R_ERROR_BASE + EVE_OK);
    assert_true(r->results[1].status != R_ERROR_BASE + EVE_ABORTED);

    /* a request that clashed on an earlier try of its group (ADMIT_AGAIN)
       is refused whole on the next, with the clash's message */
    group_reset(a->group);
    q->atomic_refused = true;
    q->refused_index = 1;
    q->refused_code = EVE_INVALID_VALUE;
    snprintf(q->refused_message, sizeof q->refused_message, "amount: more than remains");
    assert_int_equal(admission_batch(a->admission, a->group, q, err, sizeof err), ADMIT_REFUSED);
    assert_int_equal(q->results[1].status, R_ERROR_BASE + EVE_INVALID_VALUE);
    assert_non_null(strstr(result_message(&q->results[1]), "more than remains"));
    assert_int_equal(q->results[0].status, R_ERROR_BASE + EVE_ABORTED);
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
        cmocka_unit_test_setup_teardown(test_admission_duplicates, adm_setup, adm_teardown),
        cmocka_unit_test_setup_teardown(test_admission_batches, adm_setup, adm_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
