/*  prefetch: fold a batch of events with their memory warmed first.

    The fold is bound by memory latency, not by arithmetic: a sale reads
    its rep's name in the symbol table, the node, the node's series and
    targets, a block table, a day row and an order, and each of those is a
    cache miss on a large history. Taken one event at a time the misses
    queue behind one another (about 270 ns each on the project's build
    machine, against about 25 ns each when many are in flight). So a batch
    is walked in passes, each pass reading what the previous one prefetched
    and prefetching the next step for every event, and only then folded,
    event by event, by the ordinary code.

    Every pass before the fold only reads the projection, and what it
    computes is not trusted, with one exception: the names it found are
    left in the memo (projection_internal.h), since an id, once given, is
    final; a name not found leaves only its hash there, because an earlier
    event of the batch may add it. The fold itself is exactly
    projection_fold, so a batch folds to the same state as the events one
    by one, whatever the prefetching got wrong (a node an earlier event of
    the batch defines, say): tests/test_projection.c compares the bytes. */

#include "events/codec.h"
#include "events/wire.h"
#include "projections/projection_internal.h"

#include <string.h>

/* The last steps, to the rows and target refs the fold writes, are plain
   loads whose value is dropped: on the build machine (a VM on AMD EPYC)
   the fold kept stalling on those lines after prefetch instructions, and
   not after loads (fold CPU time about 20% lower). A load that misses
   holds up retirement, so these loops are kept to a few instructions an
   event: then all the batch's misses are in flight together. */
static inline void
warm(const void *p)
{
    (void)*(const volatile char *)p;
}

typedef struct {
    uint64_t h_node, h_order;
    uint32_t cand_node, cand_order;
    uint32_t node, order, pl;
    int32_t day;
    dayrow_t *const *slot; /* the row's block-table slot, then the row */
    const dayrow_t *row;
    bool has_node, has_order;
} stage_t;

/* The node (rep or scope) and the order an event credits through. */
static void
names_of(const event_t *ev, stage_t *st)
{
    ev_field_t nf = F_COUNT;
    switch (ev->type) {
    case EV_SALE_CLOSED:
    case EV_ACTIVITY_LOGGED:
    case EV_CUSTOMER_CREATED:
    case EV_PAYMENT_RECEIVED:
        nf = F_REP;
        break;
    case EV_KPI_RECORDED:
        nf = F_SCOPE;
        break;
    default:
        break;
    }
    st->has_node = nf != F_COUNT && event_has(ev, nf);
    if (st->has_node)
        st->h_node = symtab_hash(ev->v[nf].s.ptr, ev->v[nf].s.len);
    st->has_order = (ev->type == EV_SALE_CLOSED || ev->type == EV_SALE_REFUNDED ||
                     ev->type == EV_SALE_CANCELLED || ev->type == EV_PAYMENT_RECEIVED) &&
                    event_has(ev, F_ORDER);
    if (st->has_order)
        st->h_order = symtab_hash(ev->v[F_ORDER].s.ptr, ev->v[F_ORDER].s.len);
}

static const ev_str_t *
node_name(const event_t *ev)
{
    return &ev->v[ev->type == EV_KPI_RECORDED ? F_SCOPE : F_REP].s;
}

/* The block-table slot of the day row (node, pl, day), prefetched; NULL
   if the row's block does not exist yet. */
static dayrow_t *const *
row_slot(projection_t *self, uint32_t node, uint32_t pl, int32_t day)
{
    if (!node || node >= self->nnodes)
        return NULL;
    const node_t *n = &self->nodes[node];
    for (uint32_t i = 0; i < n->nseries; i++) {
        const series_t *s = &n->series[i];
        if (s->pl != pl)
            continue;
        uint32_t b = (uint32_t)day / BLOCK_DAYS;
        if (b < s->b0 || b >= s->b0 + s->nblocks)
            return NULL;
        __builtin_prefetch(&s->blocks[b - s->b0]);
        return &s->blocks[b - s->b0];
    }
    return NULL;
}

/* Warm the caches for checking and folding up to PROJECTION_BATCH events,
   and fill the name memo (memo_on is set). */
static void
prefetch(projection_t *self, const event_t *const *evp, size_t n)
{
    stage_t st[PROJECTION_BATCH];
    if (n > PROJECTION_BATCH)
        n = PROJECTION_BATCH;
    memset(st, 0, n * sizeof *st);
    /* the symbol-table slots of the names */
    for (size_t i = 0; i < n; i++) {
        names_of(evp[i], &st[i]);
        if (st[i].has_node)
            symtab_prefetch_slot(self->nodes_sym, st[i].h_node);
        if (st[i].has_order)
            symtab_prefetch_slot(self->orders_sym, st[i].h_order);
    }
    /* the candidates' offsets, then their bytes */
    for (size_t i = 0; i < n; i++) {
        if (st[i].has_node)
            st[i].cand_node = symtab_peek(self->nodes_sym, st[i].h_node);
        if (st[i].has_order)
            st[i].cand_order = symtab_peek(self->orders_sym, st[i].h_order);
    }
    for (size_t i = 0; i < n; i++) {
        symtab_prefetch_str(self->nodes_sym, st[i].cand_node);
        symtab_prefetch_str(self->orders_sym, st[i].cand_order);
    }
    /* the ids; the node and the order records */
    for (size_t i = 0; i < n; i++) {
        const event_t *ev = evp[i];
        if (st[i].has_node) {
            const ev_str_t *s = node_name(ev);
            st[i].node = symtab_find_hashed(self->nodes_sym, s->ptr, s->len, st[i].h_node);
        }
        if (st[i].has_order) {
            st[i].order = symtab_find_hashed(self->orders_sym, ev->v[F_ORDER].s.ptr,
                                             ev->v[F_ORDER].s.len, st[i].h_order);
            if (st[i].order < self->norders)
                __builtin_prefetch(&self->orders[st[i].order]);
            else
                st[i].order = 0;
        }
        if (st[i].node < self->nnodes)
            __builtin_prefetch(&self->nodes[st[i].node]);
        else
            st[i].node = 0;
        st[i].day = proj_day_of(self, ev->v[F_OCCURRED_AT].i);
        if (event_has(ev, F_PRODUCT_LINE))
            st[i].pl =
                symtab_find(self->pl_sym, ev->v[F_PRODUCT_LINE].s.ptr, ev->v[F_PRODUCT_LINE].s.len);
    }
    for (size_t i = 0; i < n; i++) {
        const event_t *ev = evp[i];
        if (st[i].has_node) {
            const ev_str_t *s = node_name(ev);
            memo_t *m = &self->memo[proj_memo_slot(self->nodes_sym, s->ptr)];
            *m = (memo_t){s->ptr, self->nodes_sym, s->len, st[i].node, st[i].h_node};
        }
        if (st[i].has_order) {
            const ev_str_t *s = &ev->v[F_ORDER].s;
            memo_t *m = &self->memo[proj_memo_slot(self->orders_sym, s->ptr)];
            *m = (memo_t){s->ptr, self->orders_sym, s->len, st[i].order, st[i].h_order};
        }
    }
    /* a reversal credits the order's rep, product line and day */
    for (size_t i = 0; i < n; i++) {
        if (st[i].order && !st[i].node && evp[i]->type != EV_SALE_CLOSED) {
            const order_t *o = &self->orders[st[i].order];
            if (o->rep < self->nnodes) {
                st[i].node = o->rep;
                __builtin_prefetch(&self->nodes[o->rep]);
            }
            if (evp[i]->type != EV_PAYMENT_RECEIVED)
                st[i].day = o->day;
            st[i].pl = o->pl;
        }
    }
    /* the node's series, targets and memberships */
    for (size_t i = 0; i < n; i++) {
        if (!st[i].node)
            continue;
        const node_t *nd = &self->nodes[st[i].node];
        if (nd->series)
            __builtin_prefetch(nd->series);
        if (nd->targets)
            __builtin_prefetch(nd->targets);
        if (nd->mem)
            __builtin_prefetch(nd->mem);
    }
    /* block-table slots, then the rows' addresses, then the rows: that
       last loop is a few instructions an event, so that all its loads are
       in flight at once (a load that misses holds up retirement, and a
       longer loop body let only a handful overlap) */
    for (size_t i = 0; i < n; i++)
        st[i].slot = row_slot(self, st[i].node, st[i].pl, st[i].day);
    for (size_t i = 0; i < n; i++)
        st[i].row =
            st[i].slot && *st[i].slot ? &(*st[i].slot)[(uint32_t)st[i].day % BLOCK_DAYS] : NULL;
    for (size_t i = 0; i < n; i++)
        if (st[i].row)
            warm(st[i].row);
    for (size_t i = 0; i < n; i++) {
        if (!st[i].node)
            continue;
        const node_t *nd = &self->nodes[st[i].node];
        /* the trefs, every line of them: crediting walks them all */
        for (size_t off = 64; off < nd->ntargets * sizeof(tref_t); off += 64)
            warm((const char *)nd->targets + off);
    }
}

void
projection_decode_batch(const projection_item_t *items, size_t n, msgpack_zone *zone,
                        fold_event_t *out)
{
    for (size_t i = 0; i < n; i++) {
        msgpack_object obj;
        size_t off = 0;
        ev_error_t err;
        out[i].seq = items[i].seq;
        out[i].recorded_at = items[i].recorded_at;
        /* the bytes come from disk: scanned first, as pacerd scans what
           arrives on the wire, so a damaged length cannot make msgpack-c
           allocate for elements the record does not hold */
        out[i].ok = mp_scan(items[i].event, items[i].len, WIRE_MAX_DEPTH) &&
                    msgpack_unpack((const char *)items[i].event, items[i].len, &off, zone, &obj) ==
                        MSGPACK_UNPACK_SUCCESS &&
                    event_decode(&obj, &out[i].ev, &err) == EVE_OK;
    }
}

int
projection_fold_decoded(projection_t *self, const fold_event_t *d, size_t n)
{
    int rc = 0;
    while (n > 0 && rc == 0) {
        size_t k = n < PROJECTION_BATCH ? n : PROJECTION_BATCH, m = 0;
        const event_t *evp[PROJECTION_BATCH];
        for (size_t i = 0; i < k; i++)
            if (d[i].ok)
                evp[m++] = &d[i].ev;
        self->memo_on = true;
        prefetch(self, evp, m);
        for (size_t i = 0; i < k && rc == 0; i++) {
            if (!d[i].ok) {
                self->skipped++;
                self->seq = d[i].seq;
                continue;
            }
            rc = projection_fold(self, d[i].seq, d[i].recorded_at, &d[i].ev);
        }
        self->memo_on = false;
        memset(self->memo, 0, sizeof self->memo);
        d += k;
        n -= k;
    }
    return rc;
}

int
projection_fold_batch(projection_t *self, const projection_item_t *items, size_t n)
{
    fold_event_t d[PROJECTION_BATCH];
    int rc = 0;
    while (n > 0 && rc == 0) {
        size_t k = n < PROJECTION_BATCH ? n : PROJECTION_BATCH;
        projection_decode_batch(items, k, &self->zone, d);
        rc = projection_fold_decoded(self, d, k);
        msgpack_zone_clear(&self->zone);
        items += k;
        n -= k;
    }
    return rc;
}
