/*  detect_overdue_collection: a closed deal with (almost) nothing paid by
    its due_at plus a grace period.

    Every sale with a due_at opens a receivable: order -> amount (net of
    refunds), paid so far, due_at, the rep and customer. Payments naming the
    order reduce it; payments naming only the customer go to that
    customer's open receivables, earliest due first (a per-customer list).
    A refund lowers the amount (a credit note: the rest is still owed), a
    cancellation or a full refund closes the receivable, and so does
    payment of all but one per cent of it.

    A min-heap of deadlines (due_at + grace_days) is checked against stream
    time, the newest occurred_at folded, on every fold, and against `now`
    on tick. A receivable whose deadline has passed is closed, and flagged
    if less than paid_share of it was paid. Score: days past due;
    threshold: grace_days; baseline: the payment terms (due_at minus the
    sale's occurred_at), in days.

    Bound: a receivable lives until its deadline (or until paid), so the
    table holds the deals of the last (terms + grace) days; a sale due more
    than max_terms_days after it occurred is not tracked (a due date typed
    in the wrong century would otherwise be kept for ever), and beyond
    262144 open receivables the oldest is dropped unjudged. Heap entries of
    closed receivables are dropped lazily and the heap is rebuilt from the
    table when it holds twice as many. About 330 bytes an open receivable.
    Key: the sale's event id. */

#include "events/money.h"
#include "projections/detect_kit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME     "overdue_collection"
#define VERSION  1
#define MAX_OPEN (1u << 18)

typedef struct {
    double grace_days, paid_share, max_terms_days;
    double enabled; /* 0: fold, raise nothing */
} params_t;

static const params_t DEFAULTS = {
    .grace_days = 30, .paid_share = 0.01, .max_terms_days = 730, .enabled = 1};

static const dk_param_t PARAMS[] = {
    {"grace_days", offsetof(params_t, grace_days), 0, 3650},
    {"paid_share", offsetof(params_t, paid_share), 0, 1},
    {"max_terms_days", offsetof(params_t, max_terms_days), 1, 36500},
    {"enabled", offsetof(params_t, enabled), 0, 1},
    {NULL, 0, 0, 0}};

typedef struct {
    int64_t due, deadline, at;
    int64_t amount, paid;
    uint64_t seq;
    uint64_t cust; /* customer hash, 0 none */
    uint64_t next; /* the customer's next open order (by due), 0 none */
    char id[65], rep[65], customer[65], order[65];
    char currency[4];
} recv_t;

typedef struct {
    uint64_t first, last; /* the open orders due first and last */
} cust_t;

typedef struct {
    int64_t deadline;
    uint64_t order;
} slot_t;

typedef struct {
    det_env_t env;
    params_t p;
    int64_t now; /* stream time */
    dk_table_t open, custs;
    slot_t *heap;
    size_t nheap, capheap;
} state_t;

static int
state_init(state_t *s, const det_env_t *env, const params_t *p)
{
    memset(s, 0, sizeof *s);
    s->env = *env;
    s->p = *p;
    s->now = INT64_MIN;
    if (dk_table_init(&s->open, sizeof(recv_t), 256, MAX_OPEN) != 0)
        return -1;
    if (dk_table_init(&s->custs, sizeof(cust_t), 256, 2 * MAX_OPEN) != 0) {
        dk_table_free(&s->open);
        return -1;
    }
    dk_table_slack(&s->custs, DK_DAY);
    return 0;
}

static void
state_fini(state_t *s)
{
    dk_table_free(&s->open);
    dk_table_free(&s->custs);
    free(s->heap);
    s->heap = NULL;
}

static void *
create(const det_env_t *env)
{
    state_t *s = malloc(sizeof *s);
    if (s && state_init(s, env, &DEFAULTS) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static void
destroy(void **state_p)
{
    if (*state_p) {
        state_fini(*state_p);
        free(*state_p);
        *state_p = NULL;
    }
}

/* ---- the deadline heap ---- */

static int
slot_less(const slot_t *a, const slot_t *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->order < b->order);
}

static void
sift_down(slot_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && slot_less(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && slot_less(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        slot_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void
heap_pop(state_t *s)
{
    s->heap[0] = s->heap[--s->nheap];
    sift_down(s->heap, s->nheap, 0);
}

/* Rebuild from the open receivables, in table order, when stale entries are the majority. */
static void
heap_compact(state_t *s)
{
    size_t n = 0;
    for (recv_t *r = dk_oldest(&s->open); r; r = dk_newer(&s->open, r))
        s->heap[n++] = (slot_t){r->deadline, dk_rec_key(r)};
    s->nheap = n;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(s->heap, n, i);
}

static int
heap_push(state_t *s, int64_t deadline, uint64_t order)
{
    if (s->nheap > 2 * (size_t)s->open.count + 1024)
        heap_compact(s);
    if (s->nheap == s->capheap) {
        size_t cap = s->capheap ? s->capheap * 2 : 1024;
        slot_t *h = realloc(s->heap, cap * sizeof *h);
        if (!h)
            return -1;
        s->heap = h;
        s->capheap = cap;
    }
    size_t i = s->nheap++;
    s->heap[i] = (slot_t){deadline, order};
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!slot_less(&s->heap[i], &s->heap[up]))
            break;
        slot_t t = s->heap[i];
        s->heap[i] = s->heap[up];
        s->heap[up] = t;
        i = up;
    }
    return 0;
}

/* ---- receivables ---- */

static void
cust_unlink(state_t *s, recv_t *r, uint64_t order)
{
    if (!r->cust)
        return;
    cust_t *c = dk_get(&s->custs, r->cust);
    if (!c)
        return;
    if (c->first == order) {
        c->first = r->next;
        if (c->last == order)
            c->last = 0;
    } else {
        uint32_t guard = s->open.count + 1; /* a damaged snapshot may hold a cycle */
        for (uint64_t k = c->first; k && guard--;) {
            recv_t *q = dk_get(&s->open, k);
            if (!q)
                break;
            if (q->next == order) {
                q->next = r->next;
                if (c->last == order)
                    c->last = k;
                break;
            }
            k = q->next;
        }
    }
    if (!c->first)
        dk_del(&s->custs, c);
}

static void
close_recv(state_t *s, recv_t *r)
{
    cust_unlink(s, r, dk_rec_key(r));
    dk_del(&s->open, r);
}

static void
explain(state_t *s, const recv_t *r, int64_t now, det_emit_fn *emit, void *arg)
{
    det_flag_t f;
    dk_flag_begin(&f, NAME, now);
    snprintf(f.rep, sizeof f.rep, "%s", r->rep);
    snprintf(f.customer, sizeof f.customer, "%s", r->customer);
    snprintf(f.currency, sizeof f.currency, "%s", r->currency);
    dk_flag_key(&f, "%s", r->id);
    double late = (double)(now - r->due) / DK_DAY;
    f.score = late;
    f.threshold = s->p.grace_days;
    f.baseline = (double)(r->due - r->at) / DK_DAY;
    f.severity = late >= 2 * s->p.grace_days + 30 ? 2 : 1;
    dk_flag_evidence(&f, r->seq, r->id);
    char amt[48], paid[48], out[48], due[16], sold[16];
    money_format(r->amount, f.currency, amt, sizeof amt);
    money_format(r->paid, f.currency, paid, sizeof paid);
    money_format(r->amount - r->paid, f.currency, out, sizeof out);
    dk_fmt_date(r->due, due, sizeof due);
    dk_fmt_date(r->at, sold, sizeof sold);
    dk_flag_summary(&f,
                    "overdue_collection: order %s (event %s) sold by %s to %s on %s for %s was due "
                    "%s and is %.0f days past due (grace %.0f days) with %s paid: %s outstanding",
                    r->order, r->id, r->rep, r->customer[0] ? r->customer : "no named customer",
                    sold, amt, due, late, s->p.grace_days, paid, out);
    dk_flag_value(&f, "amount", (double)r->amount);
    dk_flag_value(&f, "paid", (double)r->paid);
    dk_flag_value(&f, "outstanding", (double)(r->amount - r->paid));
    dk_flag_value(&f, "days_past_due", late);
    dk_flag_value(&f, "terms_days", f.baseline);
    emit(arg, &f);
}

/* Close every receivable whose deadline is before now, flagging the unpaid. */
static void
check(state_t *s, int64_t now, det_emit_fn *emit, void *arg)
{
    while (s->nheap && s->heap[0].deadline < now) {
        slot_t top = s->heap[0];
        heap_pop(s);
        recv_t *r = dk_get(&s->open, top.order);
        if (!r || r->deadline != top.deadline)
            continue;
        if (r->paid < s->p.paid_share * r->amount && emit)
            explain(s, r, now, emit, arg);
        close_recv(s, r);
    }
}

static int
fold_sale(state_t *s, uint64_t seq, const event_t *ev)
{
    if (!event_has(ev, F_DUE_AT) || ev->v[F_AMOUNT].i <= 0)
        return 0;
    int64_t at = ev->v[F_OCCURRED_AT].i, due = ev->v[F_DUE_AT].i;
    if (due - at > (int64_t)(s->p.max_terms_days * DK_DAY))
        return 0;
    uint64_t order = dk_hash_str(ev->v[F_ORDER].s);
    recv_t *old = dk_get(&s->open, order);
    if (old) /* the same order booked again: the newer sale replaces it */
        close_recv(s, old);
    if (s->open.count == s->open.max_cap) /* full: the oldest goes unjudged */
        close_recv(s, dk_oldest(&s->open));
    recv_t *r = dk_put(&s->open, order, at, NULL);
    if (!r)
        return -1;
    r->due = due;
    r->deadline = due + (int64_t)(s->p.grace_days * DK_DAY);
    r->at = at;
    r->amount = ev->v[F_AMOUNT].i;
    r->seq = seq;
    dk_copy(r->id, sizeof r->id, ev->v[F_ID].s);
    dk_copy(r->rep, sizeof r->rep, ev->v[F_REP].s);
    dk_copy(r->order, sizeof r->order, ev->v[F_ORDER].s);
    dk_copy_field(r->customer, sizeof r->customer, ev, F_CUSTOMER);
    dk_copy(r->currency, sizeof r->currency, ev->v[F_CURRENCY].s);
    r->cust = dk_hash_field(ev, F_CUSTOMER);
    if (r->cust) {
        int added = 0;
        cust_t *c = dk_put(&s->custs, r->cust, at, &added);
        if (!c)
            return -1;
        /* insert in due order (after others due at the same time); new sales are usually
           due last, so the tail is tried first */
        recv_t *prev = c->last ? dk_get(&s->open, c->last) : NULL;
        if (!prev || prev->due > due) {
            prev = NULL;
            uint32_t guard = s->open.count + 1;
            for (uint64_t k = c->first; k && guard--;) {
                recv_t *q = dk_get(&s->open, k);
                if (!q || q->due > due)
                    break;
                prev = q;
                k = q->next;
            }
        }
        if (prev) {
            r->next = prev->next;
            prev->next = order;
        } else {
            r->next = c->first;
            c->first = order;
        }
        if (!r->next)
            c->last = order;
    }
    return heap_push(s, r->deadline, order);
}

/* All but a minor unit in a hundred paid: settled. */
static void
settle_if_paid(state_t *s, recv_t *r)
{
    if (r->amount - r->paid <= r->amount / 100)
        close_recv(s, r);
}

static void
fold_payment(state_t *s, const event_t *ev)
{
    int64_t left = ev->v[F_AMOUNT].i;
    if (event_has(ev, F_ORDER)) {
        recv_t *r = dk_get(&s->open, dk_hash_str(ev->v[F_ORDER].s));
        if (r) {
            r->paid += left;
            settle_if_paid(s, r);
        }
        return;
    }
    cust_t *c = dk_get(&s->custs, dk_hash_str(ev->v[F_CUSTOMER].s));
    uint64_t k = c ? c->first : 0;
    uint32_t guard = s->open.count + 1;
    while (k && left > 0 && guard--) {
        recv_t *r = dk_get(&s->open, k);
        if (!r)
            break;
        k = r->next;
        int64_t take = r->amount - r->paid < left ? r->amount - r->paid : left;
        if (take < 0)
            take = 0;
        r->paid += take;
        left -= take;
        settle_if_paid(s, r);
    }
}

static void
fold_reversal(state_t *s, const event_t *ev)
{
    recv_t *r = dk_get(&s->open, dk_hash_str(ev->v[F_ORDER].s));
    if (!r)
        return;
    if (ev->type == EV_SALE_CANCELLED) {
        close_recv(s, r);
        return;
    }
    /* a partial refund (a credit note) lowers what is owed; the rest is still due */
    r->amount -= ev->v[F_AMOUNT].i;
    if (r->amount <= 0)
        close_recv(s, r);
    else
        settle_if_paid(s, r);
}

static int
fold(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
     void *arg)
{
    if (((state_t *)state)->p.enabled < 0.5)
        emit = NULL;
    state_t *s = state;
    int64_t at = ev->v[F_OCCURRED_AT].i;
    /* payments first: one made at the same instant the stream reaches a deadline counts */
    int rc = 0;
    switch (ev->type) {
    case EV_SALE_CLOSED:
        rc = fold_sale(s, seq, ev);
        break;
    case EV_PAYMENT_RECEIVED:
        fold_payment(s, ev);
        break;
    case EV_SALE_REFUNDED:
    case EV_SALE_CANCELLED:
        fold_reversal(s, ev);
        break;
    default:
        break;
    }
    if (at > s->now) {
        s->now = at;
        check(s, at, emit, arg);
    }
    return rc;
}

static int
tick(void *state, int64_t now, det_emit_fn *emit, void *arg)
{
    if (((state_t *)state)->p.enabled < 0.5)
        emit = NULL;
    check(state, now, emit, arg);
    return 0;
}

static int
recv_ok(const void *rec)
{
    const recv_t *r = rec;
    return dk_str_ok(r->id, sizeof r->id) && dk_str_ok(r->rep, sizeof r->rep) &&
           dk_str_ok(r->customer, sizeof r->customer) && dk_str_ok(r->order, sizeof r->order) &&
           dk_str_ok(r->currency, sizeof r->currency);
}

static int
save(void *state, msgpack_packer *pk)
{
    state_t *s = state;
    dk_wbuf_t w = {0};
    dk_w_params(&w, &s->p, PARAMS);
    dk_w_i64(&w, s->now);
    dk_w_table(&w, &s->open);
    dk_w_table(&w, &s->custs);
    dk_w_u64(&w, s->nheap);
    for (size_t i = 0; i < s->nheap; i++) {
        dk_w_i64(&w, s->heap[i].deadline);
        dk_w_u64(&w, s->heap[i].order);
    }
    return dk_w_finish(&w, pk, NAME, VERSION);
}

static int
load(void *state, const msgpack_object *obj, char *err, size_t errlen)
{
    state_t *s = state;
    dk_rbuf_t r;
    if (dk_r_open(&r, obj, NAME, VERSION, err, errlen) != 0)
        return -1;
    params_t p = s->p;
    dk_r_params(&r, &p, PARAMS);
    state_t fresh;
    if (r.failed || state_init(&fresh, &s->env, &p) != 0) {
        snprintf(err, errlen, "detector %s: damaged snapshot or out of memory", NAME);
        return -1;
    }
    fresh.now = dk_r_i64(&r);
    dk_r_table(&r, &fresh.open, recv_ok);
    dk_r_table(&r, &fresh.custs, NULL);
    uint64_t n = dk_r_u64(&r);
    if (r.failed || n > r.left / 16) {
        r.failed = 1;
    } else if (n) {
        fresh.heap = malloc(n * sizeof *fresh.heap);
        if (!fresh.heap)
            r.failed = DK_R_NOMEM;
        for (uint64_t i = 0; fresh.heap && i < n; i++) {
            fresh.heap[i].deadline = dk_r_i64(&r);
            fresh.heap[i].order = dk_r_u64(&r);
        }
        fresh.nheap = fresh.capheap = fresh.heap ? n : 0;
    }
    if (dk_r_close(&r, NAME, err, errlen) != 0) {
        state_fini(&fresh);
        return -1;
    }
    state_fini(s);
    *s = fresh;
    return 0;
}

static int
set_param(void *state, const char *param, double value, char *err, size_t errlen)
{
    state_t *s = state;
    return dk_set_param(&s->p, PARAMS, NAME, param, value, err, errlen);
}

static size_t
memory(void *state)
{
    state_t *s = state;
    return sizeof *s + dk_table_memory(&s->open) + dk_table_memory(&s->custs) +
           s->capheap * sizeof *s->heap;
}

const fold_class_t detect_overdue_collection = {
    .name = NAME,
    .version = VERSION,
    .create = create,
    .destroy = destroy,
    .fold = fold,
    .tick = tick,
    .save = save,
    .load = load,
    .set_param = set_param,
    .memory = memory,
};
