/*  Unit tests for projections/projection: a hand-checked month, a rep
    transfer, late events, reversals, and the equivalence of an incremental
    fold, a full replay and a snapshot plus tail on a long generated history
    (byte-identical snapshots). Fixed clocks throughout. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/replay.h"
#include "daemon/store_log.h"
#include "events/codec.h"
#include "projections/projection.h"
#include "tests/test_kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-10-01T00:00:00+08:00 */
#define OCT1 INT64_C(1790784000000)
#define DAY  INT64_C(86400000)
#define HOUR INT64_C(3600000)

typedef struct {
    msgpack_sbuffer *events; /* every event's canonical bytes, concatenated */
    size_t *offs;
    size_t n, cap;
} log_t;

static char last_refusal[400];

static calendar_t *
cal_new(void)
{
    char err[256];
    calendar_t *c = calendar_new("Asia/Shanghai", 1, err, sizeof err);
    assert_non_null(c);
    return c;
}

/* Encode a JSON-ish event given as alternating keys and typed values
   ("s:..", "i:..", "f:..") canonically, fold it, and keep it in the log. */
static int
fold_kv(projection_t *p, log_t *log, const char *const *kv)
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
        fail_msg("invalid test event: %s", err.message);
    int rc = projection_check(p, &ev, &err);
    if (rc != EVE_OK)
        snprintf(last_refusal, sizeof last_refusal, "%s", err.message);
    if (rc == EVE_OK) {
        msgpack_sbuffer canon;
        msgpack_sbuffer_init(&canon);
        msgpack_packer cp;
        msgpack_packer_init(&cp, &canon, msgpack_sbuffer_write);
        event_encode(&ev, &cp);
        if (log->n == log->cap) {
            log->cap = log->cap ? log->cap * 2 : 1024;
            log->offs = realloc(log->offs, (log->cap + 1) * sizeof *log->offs);
        }
        log->offs[log->n] = log->events->size;
        msgpack_sbuffer_write(log->events, canon.data, canon.size);
        log->n++;
        log->offs[log->n] = log->events->size;
        assert_int_equal(projection_fold(p, log->n, 1000 + (int64_t)log->n, &ev), 0);
        msgpack_sbuffer_destroy(&canon);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

#define FOLD(p, log, ...)                                                                          \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        if (fold_kv(p, log, kv_) != EVE_OK)                                                        \
            fail_msg("refused: %s", last_refusal);                                                 \
    } while (0)

static char idbuf[64], atbuf[64], numbuf[64], eff[64];

static const char *
S(char *buf, const char *fmt, long long v)
{
    snprintf(buf, 64, fmt, v);
    return buf;
}

/* Query progress and return the row for scope as a msgpack map. */
static msgpack_unpacked progress_u;
static msgpack_sbuffer progress_buf; /* progress_u's strings point into it */

static const msgpack_object *
row_field(const msgpack_object *row, const char *key)
{
    for (uint32_t i = 0; i < row->via.map.size; i++)
        if (row->via.map.ptr[i].key.via.str.size == strlen(key) &&
            !memcmp(row->via.map.ptr[i].key.via.str.ptr, key, strlen(key)))
            return &row->via.map.ptr[i].val;
    return NULL;
}

static const msgpack_object *
progress_row_pl(projection_t *p, const char *scope, const char *metric, const char *period,
                const char *pl, int64_t now)
{
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, pl ? 4 : 3);
    if (pl) {
        msgpack_pack_str_with_body(&pk, "product_line", 12);
        msgpack_pack_str_with_body(&pk, pl, strlen(pl));
    }
    msgpack_pack_str_with_body(&pk, "scope", 5);
    msgpack_pack_str_with_body(&pk, scope, strlen(scope));
    msgpack_pack_str_with_body(&pk, "metric", 6);
    msgpack_pack_str_with_body(&pk, metric, strlen(metric));
    msgpack_pack_str_with_body(&pk, "period", 6);
    msgpack_pack_str_with_body(&pk, period, strlen(period));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_next(&u, req.data, req.size, &off);
    pq_result_t res;
    msgpack_sbuffer_init(&res.body);
    assert_int_equal(projection_query(p, OP_PROGRESS, &u.data, now, &res), PQ_OK);
    /* the reply pairs as a map */
    msgpack_unpacked_destroy(&progress_u);
    msgpack_sbuffer_destroy(&progress_buf);
    msgpack_sbuffer_init(&progress_buf);
    msgpack_packer wp;
    msgpack_packer_init(&wp, &progress_buf, msgpack_sbuffer_write);
    msgpack_pack_map(&wp, res.pairs);
    msgpack_sbuffer_write(&progress_buf, res.body.data, res.body.size);
    msgpack_unpacked_init(&progress_u);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&progress_u, progress_buf.data, progress_buf.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer_destroy(&res.body);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&req);
    const msgpack_object *rows = row_field(&progress_u.data, "rows");
    for (uint32_t i = 0; i < rows->via.array.size; i++) {
        const msgpack_object *sc = row_field(&rows->via.array.ptr[i], "scope");
        if (sc->via.str.size == strlen(scope) && !memcmp(sc->via.str.ptr, scope, strlen(scope)))
            return &rows->via.array.ptr[i];
    }
    fail_msg("no row for %s", scope);
    return NULL;
}

static const msgpack_object *
progress_row(projection_t *p, const char *scope, const char *metric, const char *period,
             int64_t now)
{
    return progress_row_pl(p, scope, metric, period, NULL, now);
}

static int64_t
row_int(const msgpack_object *row, const char *key)
{
    const msgpack_object *v = row_field(row, key);
    assert_non_null(v);
    return v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? v->via.i64 : (int64_t)v->via.u64;
}

static const char *
row_str(const msgpack_object *row, const char *key, char *buf)
{
    const msgpack_object *v = row_field(row, key);
    if (!v || v->type != MSGPACK_OBJECT_STR)
        return "nil";
    snprintf(buf, 64, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    return buf;
}

static void
org(projection_t *p, log_t *log)
{
    FOLD(p, log, "type", "s:node_defined", "id", "s:n1", "occurred_at", "i:1", "node", "s:acme",
         "kind", "s:company", "name", "s:ACME");
    FOLD(p, log, "type", "s:node_defined", "id", "s:n2", "occurred_at", "i:1", "node", "s:east",
         "kind", "s:region", "name", "s:East", "parent", "s:acme");
    FOLD(p, log, "type", "s:node_defined", "id", "s:n3", "occurred_at", "i:1", "node", "s:west",
         "kind", "s:region", "name", "s:West", "parent", "s:acme");
    FOLD(p, log, "type", "s:node_defined", "id", "s:n4", "occurred_at", "i:1", "node", "s:zhang",
         "kind", "s:rep", "name", "s:Zhang", "parent", "s:east");
    FOLD(p, log, "type", "s:node_defined", "id", "s:n5", "occurred_at", "i:1", "node", "s:li",
         "kind", "s:rep", "name", "s:Li", "parent", "s:west");
}

/* October 2026 in Shanghai: National Day holidays Oct 1-7 (declared), make-up
   working day Sat Oct 10. Weekdays of October 2026: 22 (Oct 1 is a Thursday).
   Minus the 5 holiday weekdays (Oct 1, 2, 5, 6, 7) plus Oct 10: 18 working days.
   At Fri Oct 16 12:00 local: working days Oct 8, 9, 10, 12, 13, 14, 15 = 7 whole,
   plus half of Oct 16 = 7.5 of 18. */
static void
test_month_by_hand(void **state)
{
    calendar_t *cal = cal_new();
    projection_t *p = projection_new(cal);
    msgpack_sbuffer evs;
    msgpack_sbuffer_init(&evs);
    log_t log = {&evs, NULL, 0, 0};
    org(p, &log);
    const char *hol[] = {"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"};
    for (int i = 0; i < 5; i++) {
        char id[16], date[16];
        snprintf(id, sizeof id, "s:h%d", i);
        snprintf(date, sizeof date, "s:%s", hol[i]);
        FOLD(p, &log, "type", "s:calendar_day_set", "id", id, "occurred_at", "i:1", "date", date,
             "day_type", "s:holiday");
    }
    FOLD(p, &log, "type", "s:calendar_day_set", "id", "s:w1", "occurred_at", "i:1", "date",
         "s:2026-10-10", "day_type", "s:workday");
    FOLD(p, &log, "type", "s:target_set", "id", "s:t1", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", "s:revenue", "period", "s:2026-10", "floor", "i:1500000", "target", "i:1800000",
         "stretch", "i:2400000", "author", "s:ceo");
    /* 600,000 on Oct 9, 300,000 on Oct 15 */
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s1", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 8 * DAY + 10 * HOUR), "order", "s:o1", "rep", "s:zhang",
         "amount", "i:600000", "currency", "s:CNY");
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s2", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 14 * DAY + 10 * HOUR), "order", "s:o2", "rep", "s:zhang",
         "amount", "i:300000", "currency", "s:CNY");
    int64_t now = OCT1 + 15 * DAY + 12 * HOUR;
    const msgpack_object *r = progress_row(p, "zhang", "revenue", "2026-10", now);
    char buf[64];
    assert_int_equal(row_int(r, "actual"), 900000);
    /* expected = 1,800,000 x 7.5 / 18 = 750,000 */
    assert_int_equal(row_int(r, "expected"), 750000);
    assert_int_equal(row_int(r, "gap"), -150000);
    assert_int_equal(row_int(r, "remaining"), 900000);
    /* forecast = 900,000 / (7.5/18) = 2,160,000: above target, under stretch */
    assert_int_equal(row_int(r, "forecast"), 2160000);
    assert_string_equal(row_str(r, "status", buf), "on_track");
    assert_string_equal(row_str(r, "tier", buf), "none");
    /* required rate: 900,000 over 10.5 remaining working days */
    const msgpack_object *rr = row_field(r, "required_rate");
    assert_true(rr->via.f64 == 85714.29); /* 85,714.2857..., to 2 decimals */
    /* the region rolls up without a target of its own */
    r = progress_row(p, "east", "revenue", "2026-10", now);
    assert_int_equal(row_int(r, "actual"), 900000);
    assert_int_equal(row_field(r, "target")->type, MSGPACK_OBJECT_NIL);

    /* a late sale on Oct 3 (a holiday) arrives now: it counts in October */
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s3", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 2 * DAY), "order", "s:o3", "rep", "s:zhang", "amount",
         "i:700000", "currency", "s:CNY");
    r = progress_row(p, "zhang", "revenue", "2026-10", now);
    assert_int_equal(row_int(r, "actual"), 1600000);
    assert_string_equal(row_str(r, "tier", buf), "floor");
    /* a refund in November of an October sale lowers October */
    FOLD(p, &log, "type", "s:sale_refunded", "id", "s:r1", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 40 * DAY), "order", "s:o3", "amount", "i:200000", "currency",
         "s:CNY");
    r = progress_row(p, "zhang", "revenue", "2026-10", now);
    assert_int_equal(row_int(r, "actual"), 1400000);
    r = progress_row(p, "zhang", "deals", "2026-10", now);
    assert_int_equal(row_int(r, "actual"), 3);
    FOLD(p, &log, "type", "s:sale_cancelled", "id", "s:c1", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 41 * DAY), "order", "s:o3");
    r = progress_row(p, "zhang", "deals", "2026-10", now);
    assert_int_equal(row_int(r, "actual"), 2);
    r = progress_row(p, "zhang", "revenue", "2026-10", now);
    assert_int_equal(row_int(r, "actual"), 900000);

    /* refunding more than remains is refused, nothing applied */
    const char *over[] = {"type",     "s:sale_refunded", "id",   "s:r2",   "occurred_at",
                          "i:1",      "order",           "s:o1", "amount", "i:600001",
                          "currency", "s:CNY",           NULL};
    assert_int_equal(fold_kv(p, &log, over), EVE_INVALID_VALUE);
    msgpack_unpacked_destroy(&progress_u);
    projection_destroy(&p);
    calendar_destroy(&cal);
    msgpack_sbuffer_destroy(&evs);
    free(log.offs);
}

static void
test_transfer_moves_later_sales_only(void **state)
{
    calendar_t *cal = cal_new();
    projection_t *p = projection_new(cal);
    msgpack_sbuffer evs;
    msgpack_sbuffer_init(&evs);
    log_t log = {&evs, NULL, 0, 0};
    org(p, &log);
    FOLD(p, &log, "type", "s:target_set", "id", "s:te", "occurred_at", "i:1", "scope", "s:east",
         "metric", "s:revenue", "period", "s:2026-Q4", "target", "i:1000", "author", "s:ceo");
    FOLD(p, &log, "type", "s:target_set", "id", "s:tw", "occurred_at", "i:1", "scope", "s:west",
         "metric", "s:revenue", "period", "s:2026-Q4", "target", "i:1000", "author", "s:ceo");
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:a", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 5 * DAY), "order", "s:a", "rep", "s:zhang", "amount", "i:100",
         "currency", "s:CNY");
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:b", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 20 * DAY), "order", "s:b", "rep", "s:zhang", "amount", "i:40",
         "currency", "s:CNY");
    /* recorded late: zhang moved to west from Oct 15 */
    FOLD(p, &log, "type", "s:node_moved", "id", "s:mv", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 25 * DAY), "node", "s:zhang", "parent", "s:west", "effective_at",
         S(eff, "i:%lld", OCT1 + 14 * DAY));
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:c", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 30 * DAY), "order", "s:c", "rep", "s:zhang", "amount", "i:7",
         "currency", "s:CNY");
    int64_t now = OCT1 + 35 * DAY;
    assert_int_equal(row_int(progress_row(p, "east", "revenue", "2026-Q4", now), "actual"), 100);
    assert_int_equal(row_int(progress_row(p, "west", "revenue", "2026-Q4", now), "actual"), 47);
    assert_int_equal(row_int(progress_row(p, "acme", "revenue", "2026-Q4", now), "actual"), 147);
    /* a move that would make a cycle is refused */
    const char *cycle[] = {"type",         "s:node_moved", "id",     "s:cy",   "occurred_at",
                           "i:1",          "node",         "s:acme", "parent", "s:zhang",
                           "effective_at", "i:1",          NULL};
    assert_int_equal(fold_kv(p, &log, cycle), EVE_INVALID_VALUE);
    msgpack_unpacked_destroy(&progress_u);
    projection_destroy(&p);
    calendar_destroy(&cal);
    msgpack_sbuffer_destroy(&evs);
    free(log.offs);
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
save(projection_t *p, msgpack_sbuffer *out)
{
    msgpack_sbuffer_init(out);
    assert_int_equal(projection_save(p, out), 0);
}

/* Incremental fold, full replay and snapshot + tail give byte-identical
   snapshots on a long generated history with every kind of event. */
static void
test_rebuild_equivalence(void **state)
{
    calendar_t *cal = cal_new();
    projection_t *p = projection_new(cal);
    msgpack_sbuffer evs;
    msgpack_sbuffer_init(&evs);
    log_t log = {&evs, NULL, 0, 0};
    org(p, &log);
    FOLD(p, &log, "type", "s:kpi_defined", "id", "s:k", "occurred_at", "i:1", "kpi", "s:csat",
         "aggregation", "s:average");
    char rep[32], node[32], order[32], parent[32];
    int orders = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(node, sizeof node, "s:r%d", i);
        snprintf(parent, sizeof parent, "s:%s", i % 2 ? "east" : "west");
        FOLD(p, &log, "type", "s:node_defined", "id", S(idbuf, "s:nd%lld", i), "occurred_at", "i:1",
             "node", node, "kind", "s:rep", "name", "s:R", "parent", parent);
        FOLD(p, &log, "type", "s:target_set", "id", S(idbuf, "s:tg%lld", i), "occurred_at", "i:1",
             "scope", node, "metric", i % 3 ? "s:revenue" : "s:collection_rate", "period",
             "s:2026-Q4", "target", "i:5000", "author", "s:ceo");
    }
    size_t snap_at = 0;
    msgpack_sbuffer mid;
    for (int i = 0; i < 20000; i++) {
        uint64_t r = next_rand();
        snprintf(rep, sizeof rep, "s:r%d", (int)(r % 40));
        int64_t at = OCT1 + (int64_t)((r >> 8) % (120 * DAY));
        switch ((r >> 40) % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
            snprintf(order, sizeof order, "s:o%d", ++orders);
            FOLD(p, &log, "type", "s:sale_closed", "id", S(idbuf, "s:e%lld", i), "occurred_at",
                 S(atbuf, "i:%lld", at), "order", order, "rep", rep, "amount",
                 S(numbuf, "i:%lld", (long long)(r % 100000)), "currency", "s:CNY", "product_line",
                 (r >> 50) % 2 ? "s:cloud" : "s:box");
            break;
        case 4:
            if (orders) {
                snprintf(order, sizeof order, "s:o%d", (int)(r % (uint64_t)orders) + 1);
                const char *kv[] = {"type",        "s:sale_cancelled",
                                    "id",          S(idbuf, "s:x%lld", i),
                                    "occurred_at", "i:5",
                                    "order",       order,
                                    NULL};
                fold_kv(p, &log, kv); /* may be refused: already cancelled */
            }
            break;
        case 5:
            FOLD(p, &log, "type", "s:payment_received", "id", S(idbuf, "s:e%lld", i), "occurred_at",
                 S(atbuf, "i:%lld", at), "amount", "i:700", "currency", "s:CNY", "rep", rep,
                 "customer", "s:c");
            break;
        case 6:
            FOLD(p, &log, "type", "s:kpi_recorded", "id", S(idbuf, "s:e%lld", i), "occurred_at",
                 S(atbuf, "i:%lld", at), "kpi", "s:csat", "scope", rep, "value", "f:4.25");
            break;
        case 7:
            FOLD(p, &log, "type", "s:node_moved", "id", S(idbuf, "s:e%lld", i), "occurred_at",
                 S(atbuf, "i:%lld", at), "node", rep, "parent", (r >> 52) % 2 ? "s:east" : "s:west",
                 "effective_at", S(eff, "i:%lld", at - DAY));
            break;
        case 8:
            FOLD(p, &log, "type", "s:target_adjusted", "id", S(idbuf, "s:e%lld", i), "occurred_at",
                 S(atbuf, "i:%lld", at), "scope", "s:r1", "metric", "s:revenue", "period",
                 "s:2026-Q4", "target", S(numbuf, "i:%lld", (long long)(r % 9000)), "author",
                 "s:ceo", "reason", "s:why");
            break;
        default:
            FOLD(p, &log, "type", "s:activity_logged", "id", S(idbuf, "s:e%lld", i), "occurred_at",
                 S(atbuf, "i:%lld", at), "rep", rep, "activity", "s:quote");
        }
        if (i == 12000) {
            save(p, &mid);
            snap_at = log.n;
        }
    }
    msgpack_sbuffer incremental;
    save(p, &incremental);
    projection_destroy(&p);
    calendar_destroy(&cal);

    /* full replay from the log bytes */
    cal = cal_new();
    p = projection_new(cal);
    for (size_t i = 0; i < log.n; i++)
        assert_int_equal(projection_fold_bytes(p, i + 1, 1000 + (int64_t)(i + 1),
                                               (const uint8_t *)evs.data + log.offs[i],
                                               log.offs[i + 1] - log.offs[i]),
                         0);
    msgpack_sbuffer replay;
    save(p, &replay);
    projection_destroy(&p);
    calendar_destroy(&cal);

    /* snapshot + tail */
    cal = cal_new();
    p = projection_new(cal);
    char err[256];
    assert_int_equal(projection_load(p, mid.data, mid.size, err, sizeof err), 0);
    /* the tail in batches (projection_fold_batch, as replays do), of odd
       sizes so that batches both fill and fall short of PROJECTION_BATCH */
    projection_item_t items[3 * PROJECTION_BATCH];
    for (size_t i = snap_at, k = 0; i < log.n; k++) {
        size_t n = (k % 3 + 1) * 37 + k % 5;
        if (n > log.n - i)
            n = log.n - i;
        for (size_t j = 0; j < n; j++, i++)
            items[j] = (projection_item_t){i + 1, 1000 + (int64_t)(i + 1),
                                           (const uint8_t *)evs.data + log.offs[i],
                                           log.offs[i + 1] - log.offs[i]};
        assert_int_equal(projection_fold_batch(p, items, n), 0);
    }
    msgpack_sbuffer tail;
    save(p, &tail);

    assert_int_equal(incremental.size, replay.size);
    assert_memory_equal(incremental.data, replay.data, replay.size);
    assert_int_equal(incremental.size, tail.size);
    assert_memory_equal(incremental.data, tail.data, tail.size);
    assert_int_equal(projection_skipped(p), 0);

    /* the log in a real store, replayed on two threads (daemon/replay.c) */
    char dir[] = "/tmp/pacer-test-replay-XXXXXX";
    assert_non_null(mkdtemp(dir));
    store_options_t so = {.map_size = (size_t)64 << 20, .exclusive = true};
    store_t *st = store_open(dir, &so, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(store_begin(st, err, sizeof err), STORE_OK);
    for (size_t i = 0; i < log.n; i++) {
        uint64_t seq;
        assert_int_equal(store_append(st, 1000 + (int64_t)(i + 1),
                                      (const uint8_t *)evs.data + log.offs[i],
                                      log.offs[i + 1] - log.offs[i], i, &seq, err, sizeof err),
                         STORE_OK);
        assert_int_equal(seq, i + 1);
    }
    assert_int_equal(store_commit(st, err, sizeof err), STORE_OK);
    store_reader_t *rd = store_read_begin(st, err, sizeof err);
    assert_non_null(rd);
    calendar_t *cal2 = cal_new();
    projection_t *two = projection_new(cal2);
    replay_stats_t stats;
    assert_int_equal(replay_fold(rd, two, 1, UINT64_MAX, &stats, err, sizeof err), 0);
    store_read_end(&rd);
    msgpack_sbuffer threaded;
    save(two, &threaded);
    assert_int_equal(incremental.size, threaded.size);
    assert_memory_equal(incremental.data, threaded.data, threaded.size);
    projection_destroy(&two);
    calendar_destroy(&cal2);
    msgpack_sbuffer_destroy(&threaded);
    store_destroy(&st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);

    /* a damaged snapshot is refused */
    projection_t *q = projection_new(cal);
    mid.data[mid.size / 2] ^= 0x55;
    mid.size -= 3;
    assert_int_equal(projection_load(q, mid.data, mid.size, err, sizeof err), -1);
    projection_destroy(&q);

    projection_destroy(&p);
    calendar_destroy(&cal);
    msgpack_sbuffer_destroy(&incremental);
    msgpack_sbuffer_destroy(&replay);
    msgpack_sbuffer_destroy(&tail);
    msgpack_sbuffer_destroy(&mid);
    msgpack_sbuffer_destroy(&evs);
    free(log.offs);
}

/* Product lines, KPIs, nodes and periods are interned as 32-bit ids with
   no narrower packing: the 4,097th product line (refused, and then fatal
   to the daemon, when keys packed 12 bits of it) and the 2,001st KPI (the
   old limit) fold like the first, and their state survives a snapshot. */
static void
test_many_product_lines_and_kpis(void **state)
{
    calendar_t *cal = cal_new();
    projection_t *p = projection_new(cal);
    msgpack_sbuffer evs;
    msgpack_sbuffer_init(&evs);
    log_t log = {&evs, NULL, 0, 0};
    org(p, &log);
    char pl[32], kpi[32], metric[40];
    for (int i = 1; i <= 4200; i++) {
        snprintf(pl, sizeof pl, "s:sku-%d", i);
        FOLD(p, &log, "type", "s:sale_closed", "id", S(idbuf, "s:s%lld", i), "occurred_at",
             S(atbuf, "i:%lld", OCT1 + (i % 80) * DAY), "order", S(numbuf, "s:o%lld", i), "rep",
             i % 2 ? "s:zhang" : "s:li", "amount", "i:100", "currency", "s:CNY", "product_line",
             pl);
    }
    FOLD(p, &log, "type", "s:target_set", "id", "s:t4101", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", "s:revenue", "period", "s:2026-Q4", "product_line", "s:sku-4101", "target",
         "i:1000", "author", "s:ceo");
    for (int i = 1; i <= 2100; i++) {
        snprintf(kpi, sizeof kpi, "s:k%d", i);
        FOLD(p, &log, "type", "s:kpi_defined", "id", S(idbuf, "s:kd%lld", i), "occurred_at", "i:1",
             "kpi", kpi, "aggregation", "s:sum");
    }
    for (int i = 4090; i <= 4110; i++)
        FOLD(p, &log, "type", "s:kpi_recorded", "id", S(idbuf, "s:kr%lld", i), "occurred_at",
             S(atbuf, "i:%lld", OCT1 + DAY), "kpi", "s:k2100", "scope", "s:zhang", "value", "f:1.5",
             "product_line", S(numbuf, "s:sku-%lld", i));
    snprintf(metric, sizeof metric, "s:kpi:k2100");
    FOLD(p, &log, "type", "s:target_set", "id", "s:tk", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", metric, "period", "s:2026-Q4", "product_line", "s:sku-4101", "target", "i:10",
         "author", "s:ceo");
    FOLD(p, &log, "type", "s:target_set", "id", "s:tk0", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", metric, "period", "s:2026-Q4", "target", "i:10", "author", "s:ceo");
    int64_t now = OCT1 + 85 * DAY;
    /* one product line's keys, and the all-lines roll-up */
    assert_int_equal(
        row_int(progress_row_pl(p, "zhang", "revenue", "2026-Q4", "sku-4101", now), "actual"), 100);
    assert_int_equal(row_int(progress_row(p, "acme", "revenue", "2026-Q4", now), "actual"), 420000);
    assert_int_equal(
        row_int(progress_row_pl(p, "zhang", "kpi:k2100", "2026-Q4", "sku-4101", now), "actual"),
        1500);
    assert_int_equal(row_int(progress_row(p, "zhang", "kpi:k2100", "2026-Q4", now), "actual"),
                     21 * 1500);
    assert_int_equal(projection_skipped(p), 0);

    msgpack_sbuffer a, b;
    save(p, &a);
    calendar_t *cal2 = cal_new();
    projection_t *q = projection_new(cal2);
    char err[256];
    assert_int_equal(projection_load(q, a.data, a.size, err, sizeof err), 0);
    save(q, &b);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    assert_int_equal(
        row_int(progress_row_pl(q, "zhang", "kpi:k2100", "2026-Q4", "sku-4101", now), "actual"),
        1500);
    projection_destroy(&q);
    calendar_destroy(&cal2);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    msgpack_unpacked_destroy(&progress_u);
    projection_destroy(&p);
    calendar_destroy(&cal);
    msgpack_sbuffer_destroy(&evs);
    free(log.offs);
}

static int
fold_expect(projection_t *p, log_t *log, ev_errcode_t want, const char *const *kv)
{
    int rc = fold_kv(p, log, kv);
    if (rc != (int)want)
        fail_msg("code %d, expected %d (%s)", rc, want, last_refusal);
    return rc;
}

#define EXPECT(code, p, log, ...)                                                                  \
    do {                                                                                           \
        const char *kv_[] = {__VA_ARGS__, NULL};                                                   \
        fold_expect(p, log, code, kv_);                                                            \
    } while (0)

/* No total wraps around int64: the sum of every sale amount (and of
   margins, payments, a KPI's values) may reach INT64_MAX and no further,
   so the company's roll-up of two reps' 2^62 sales is exact, and
   forecasts, ratios and coverage saturate instead of wrapping. */
static void
test_totals_never_wrap(void **state)
{
    calendar_t *cal = cal_new();
    projection_t *p = projection_new(cal);
    msgpack_sbuffer evs;
    msgpack_sbuffer_init(&evs);
    log_t log = {&evs, NULL, 0, 0};
    org(p, &log);
    const char *huge = "i:4611686018427387904"; /* 2^62 */
    FOLD(p, &log, "type", "s:target_set", "id", "s:ta", "occurred_at", "i:1", "scope", "s:acme",
         "metric", "s:revenue", "period", "s:2026-Q4", "target", huge, "author", "s:ceo");
    FOLD(p, &log, "type", "s:target_set", "id", "s:te", "occurred_at", "i:1", "scope", "s:east",
         "metric", "s:revenue", "period", "s:2026-Q4", "target", huge, "author", "s:ceo");
    FOLD(p, &log, "type", "s:target_set", "id", "s:tw", "occurred_at", "i:1", "scope", "s:west",
         "metric", "s:revenue", "period", "s:2026-Q4", "target", huge, "author", "s:ceo");
    FOLD(p, &log, "type", "s:target_set", "id", "s:tz", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", "s:revenue", "period", "s:2026-Q4", "target", "i:1000", "author", "s:ceo");
    FOLD(p, &log, "type", "s:target_set", "id", "s:tl", "occurred_at", "i:1", "scope", "s:li",
         "metric", "s:revenue", "period", "s:2026-Q4", "target", "i:1000", "author", "s:ceo");
    FOLD(p, &log, "type", "s:target_set", "id", "s:tc", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", "s:collection_rate", "period", "s:2026-Q4", "target", "i:9500", "author",
         "s:ceo");
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s1", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + DAY), "order", "s:o1", "rep", "s:zhang", "amount", huge,
         "currency", "s:CNY", "margin", "i:-4611686018427387904");
    /* 2^62 + (2^62 - 1) = INT64_MAX: the most the log's sales may add up to */
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s2", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + DAY), "order", "s:o2", "rep", "s:li", "amount",
         "i:4611686018427387903", "currency", "s:CNY", "margin", "i:4611686018427387903");
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:sale_closed", "id", "s:s3", "occurred_at",
           S(atbuf, "i:%lld", OCT1 + DAY), "order", "s:o3", "rep", "s:li", "amount", "i:1",
           "currency", "s:CNY");
    assert_non_null(strstr(last_refusal, "amount: "));
    /* a refund does not make room: the bound is on every amount ever sold */
    FOLD(p, &log, "type", "s:sale_refunded", "id", "s:r1", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + 2 * DAY), "order", "s:o1", "amount", "i:1", "currency", "s:CNY");
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:sale_closed", "id", "s:s4", "occurred_at",
           S(atbuf, "i:%lld", OCT1 + DAY), "order", "s:o4", "rep", "s:li", "amount", "i:1",
           "currency", "s:CNY");
    /* a margin alone can fill its own volume: zero amount, margin 1 */
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:sale_closed", "id", "s:s5", "occurred_at",
           S(atbuf, "i:%lld", OCT1 + DAY), "order", "s:o5", "rep", "s:li", "amount", "i:0",
           "margin", "i:-1", "currency", "s:CNY");
    assert_non_null(strstr(last_refusal, "margin: "));

    int64_t now = OCT1 + 10 * HOUR; /* a sliver of the quarter: a huge forecast */
    const msgpack_object *r = progress_row(p, "acme", "revenue", "2026-Q4", now);
    assert_int_equal(row_int(r, "actual"), INT64_MAX - 1); /* after the refund of 1 */
    assert_int_equal(row_int(r, "forecast"), INT64_MAX);
    const msgpack_object *att = row_field(r, "attainment");
    assert_true(att->type == MSGPACK_OBJECT_FLOAT64 && att->via.f64 > 1.99);
    const msgpack_object *cov = row_field(r, "coverage");
    assert_int_equal(row_int(cov, "children_target"), INT64_MAX); /* 2^63, saturated */
    assert_true(row_field(cov, "ratio")->via.f64 == 2.0);
    char buf[64];
    assert_string_equal(row_str(r, "status", buf), "achieved");
    assert_int_equal(row_int(progress_row(p, "acme", "margin", "2026-Q4", now), "actual"),
                     0); /* -2^62 + (2^62 - 1), and the refund took 1 of the -2^62 */

    /* payments: the same bound, and a ratio beyond int64 saturates */
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s6", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + DAY), "order", "s:o6", "rep", "s:zhang", "amount", "i:0",
         "currency", "s:CNY");
    FOLD(p, &log, "type", "s:payment_received", "id", "s:p0", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + DAY), "rep", "s:zhang", "customer", "s:c", "amount", huge,
         "currency", "s:CNY");
    FOLD(p, &log, "type", "s:payment_received", "id", "s:p1", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + DAY), "rep", "s:zhang", "customer", "s:c", "amount",
         "i:4611686018427387903", "currency", "s:CNY");
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:payment_received", "id", "s:p2", "occurred_at",
           S(atbuf, "i:%lld", OCT1 + DAY), "rep", "s:zhang", "customer", "s:c", "amount", "i:1",
           "currency", "s:CNY");
    r = progress_row(p, "zhang", "collection_rate", "2026-Q4", now);
    assert_int_equal(row_int(r, "actual"), 20000); /* (2^63 - 1) / (2^62 - 1) in basis points */

    /* KPI sums: three values of 4.6e15 are 1.38e19 thousandths; two fit */
    FOLD(p, &log, "type", "s:kpi_defined", "id", "s:kd", "occurred_at", "i:1", "kpi", "s:csat",
         "aggregation", "s:sum");
    for (int i = 0; i < 3; i++) {
        const char *kv[] = {"type",        "s:kpi_recorded",
                            "id",          S(idbuf, "s:kv%lld", i),
                            "occurred_at", S(atbuf, "i:%lld", OCT1 + DAY),
                            "kpi",         "s:csat",
                            "scope",       "s:zhang",
                            "value",       "f:4.6e15",
                            NULL};
        fold_expect(p, &log, i < 2 ? EVE_OK : EVE_OUT_OF_RANGE, kv);
    }
    FOLD(p, &log, "type", "s:target_set", "id", "s:tk", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", "s:kpi:csat", "period", "s:2026-Q4", "target", "i:1", "author", "s:ceo");
    r = progress_row(p, "acme", "kpi:csat", "2026-Q4", now);
    assert_int_equal(row_int(r, "actual"), INT64_C(9200000000000000000));

    projection_destroy(&p);

    /* a ratio whose basis points pass int64 saturates: 2^62 collected on
       a revenue of 1 */
    p = projection_new(cal);
    org(p, &log);
    FOLD(p, &log, "type", "s:target_set", "id", "s:tc", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", "s:collection_rate", "period", "s:2026-Q4", "target", "i:9500", "author",
         "s:ceo");
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s1", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + DAY), "order", "s:o1", "rep", "s:zhang", "amount", "i:1",
         "currency", "s:CNY");
    FOLD(p, &log, "type", "s:payment_received", "id", "s:p0", "occurred_at",
         S(atbuf, "i:%lld", OCT1 + DAY), "rep", "s:zhang", "customer", "s:c", "amount", huge,
         "currency", "s:CNY");
    r = progress_row(p, "zhang", "collection_rate", "2026-Q4", now);
    assert_int_equal(row_int(r, "actual"), INT64_MAX);
    assert_string_equal(row_str(r, "status", buf), "achieved");
    msgpack_unpacked_destroy(&progress_u);
    projection_destroy(&p);
    calendar_destroy(&cal);
    msgpack_sbuffer_destroy(&evs);
    free(log.offs);
}

/* The last day the projection counts is 2687-09-20 (local): later events
   and periods are refused with out_of_range, never clamped onto it. */
static void
test_last_day(void **state)
{
    calendar_t *cal = cal_new();
    projection_t *p = projection_new(cal);
    msgpack_sbuffer evs;
    msgpack_sbuffer_init(&evs);
    log_t log = {&evs, NULL, 0, 0};
    org(p, &log);
    /* 2687-09-20T23:59:59.999+08:00 and the millisecond after */
    FOLD(p, &log, "type", "s:sale_closed", "id", "s:s1", "occurred_at", "i:22649039999999", "order",
         "s:o1", "rep", "s:zhang", "amount", "i:5", "currency", "s:CNY");
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:sale_closed", "id", "s:s2", "occurred_at",
           "i:22649040000000", "order", "s:o2", "rep", "s:zhang", "amount", "i:5", "currency",
           "s:CNY");
    assert_string_equal(last_refusal, "occurred_at: after 2687-09-20, the last day pacer counts");
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:activity_logged", "id", "s:a2", "occurred_at",
           "i:22649040000000", "rep", "s:nobody", "activity", "s:call");
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:node_moved", "id", "s:m", "occurred_at", "i:1",
           "node", "s:zhang", "parent", "s:west", "effective_at", "i:22649040000000");
    FOLD(p, &log, "type", "s:target_set", "id", "s:t1", "occurred_at", "i:1", "scope", "s:zhang",
         "metric", "s:revenue", "period", "s:2687-09-20", "target", "i:5", "author", "s:ceo");
    EXPECT(EVE_OUT_OF_RANGE, p, &log, "type", "s:target_set", "id", "s:t2", "occurred_at", "i:1",
           "scope", "s:zhang", "metric", "s:revenue", "period", "s:2687-09", "target", "i:5",
           "author", "s:ceo");
    assert_int_equal(
        row_int(progress_row(p, "zhang", "revenue", "2687-09-20", 22649039999999), "actual"), 5);
    msgpack_unpacked_destroy(&progress_u);
    projection_destroy(&p);
    calendar_destroy(&cal);
    msgpack_sbuffer_destroy(&evs);
    free(log.offs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_month_by_hand),
        cmocka_unit_test(test_transfer_moves_later_sales_only),
        cmocka_unit_test(test_rebuild_equivalence),
        cmocka_unit_test(test_many_product_lines_and_kpis),
        cmocka_unit_test(test_totals_never_wrap),
        cmocka_unit_test(test_last_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
