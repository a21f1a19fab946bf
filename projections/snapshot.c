/*  snapshot: projection_save and projection_load.

    A snapshot is the msgpack array ["pacer-projection", version, bin] whose
    bin holds the whole state written field by field in little-endian order
    (no struct padding, no pointers), in the insertion order of every table.
    Field-by-field writing makes the bytes a function of the state alone,
    which is what lets tests compare an incremental fold, a full replay and
    a snapshot plus tail byte for byte. Loading checks every length against
    the bytes that remain, every index against its table, every day against
    DAY_MAX, and every value that a total adds up against the bound the fold
    keeps for its base (projection_internal.h, "Totals never wrap", and
    check_masses below), so a damaged snapshot is refused, never trusted,
    with a message naming what is wrong; the daemon then rebuilds from the
    log. */

#include "projections/bigmem.h"
#include "projections/projection_internal.h"

#include <endian.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_MAGIC "pacer-projection"
/* projection_save writes the version as a positive fixint, the magic as a fixstr */
_Static_assert(PROJECTION_VERSION > 0 && PROJECTION_VERSION < 128, "version: one byte");
_Static_assert(sizeof SNAPSHOT_MAGIC - 1 < 32, "magic: a fixstr");

typedef struct {
    msgpack_sbuffer *sb;
    int failed;
} wbuf_t;

/* The snapshot is written straight into the caller's buffer, which grows
   by doubling through bigmem (mremap for large blocks: no copying), and
   each field is a memcpy: through msgpack_sbuffer_write, a call per field
   and a final copy of the body made a 400 MiB snapshot take about 2 s. */
static int
reserve(wbuf_t *w, size_t n)
{
    msgpack_sbuffer *sb = w->sb;
    size_t cap = sb->alloc ? sb->alloc * 2 : (size_t)1 << 20;
    while (cap - sb->size < n)
        cap *= 2;
    char *d = bigmem_realloc(sb->data, cap);
    if (!d) {
        w->failed = 1;
        return -1;
    }
    sb->data = d;
    sb->alloc = cap;
    return 0;
}

static inline void
put(wbuf_t *w, const void *p, size_t n)
{
    msgpack_sbuffer *sb = w->sb;
    if (sb->alloc - sb->size < n && reserve(w, n) != 0)
        return;
    memcpy(sb->data + sb->size, p, n);
    sb->size += n;
}

static void
put_u64(wbuf_t *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void
put_u32(wbuf_t *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}

static void
put_u8(wbuf_t *w, uint8_t v)
{
    put(w, &v, 1);
}

typedef struct {
    const uint8_t *p;
    size_t left;
    int failed;
    char why[192]; /* what is wrong, when a check can say more than "damaged" */
} rbuf_t;

static void damaged(rbuf_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Refuse the snapshot, saying why (the first reason given is kept). */
static void
damaged(rbuf_t *r, const char *fmt, ...)
{
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof r->why, fmt, ap);
        va_end(ap);
    }
    r->failed = 1;
}

static const uint8_t *
take(rbuf_t *r, size_t n)
{
    if (r->failed || n > r->left) {
        r->failed = 1;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint64_t
get_u64(rbuf_t *r)
{
    const uint8_t *b = take(r, 8);
    uint64_t v = 0;
    if (b)
        memcpy(&v, b, 8);
    return le64toh(v);
}

static uint32_t
get_u32(rbuf_t *r)
{
    const uint8_t *b = take(r, 4);
    uint32_t v = 0;
    if (b)
        memcpy(&v, b, 4);
    return le32toh(v);
}

static uint8_t
get_u8(rbuf_t *r)
{
    const uint8_t *b = take(r, 1);
    return b ? *b : 0;
}

/* A count of items of at least `min` bytes each must fit what remains. */
static uint32_t
get_count(rbuf_t *r, size_t min)
{
    uint32_t n = get_u32(r);
    if (min && (uint64_t)n * min > r->left)
        r->failed = 1;
    return r->failed ? 0 : n;
}

/* A day index: every one the projection holds is in [0, DAY_MAX]
   (proj_day_of clamps); a snapshot's out of that range is damaged, and
   folding after it would index series blocks the loader then refuses. */
static int32_t
get_day(rbuf_t *r)
{
    uint32_t d = get_u32(r);
    if (d > DAY_MAX)
        r->failed = 1;
    return r->failed ? 0 : (int32_t)d;
}

/* A volume (projection_internal.h): a sum of magnitudes, never negative;
   a negative one would make volume_fits overflow on the next event. */
static int64_t
get_volume(rbuf_t *r)
{
    uint64_t v = get_u64(r);
    if (v > (uint64_t)INT64_MAX)
        r->failed = 1;
    return r->failed ? 0 : (int64_t)v;
}

/* ---------------------------------------------------------------------
   Values against their bounds

   The fold never lets a total wrap (projection_internal.h, "Totals never
   wrap"): each money base's volume, each KPI's, and for a count base the
   number of events (at most seq: every event adds at most one to a count),
   bound what every total of that base can reach. A snapshot's values are
   checked against those bounds so that folding after it keeps them: a
   damaged row value near INT64_MAX would otherwise wrap the next credit
   (UBSan found one in credit(), projection.c).

   The check is on masses: for each base, the sum of the positive values
   and the sum of the magnitudes of the negative ones, over every day row
   (or KPI cell, or for a target's running actual, the one value). Any
   total is a sum of some of them, so lies between minus the negative mass
   and the positive mass. After the load, new events add to a mass only
   what they add to the base's volume (projection_check refuses more), and
   events on the orders the snapshot holds: a refund or cancellation takes
   back up to an order's remainder (revenue, to the negative side), one
   deal, and a share of its margin (the side opposite its sign). So the
   loaded mass plus what the open orders can still take back, on each
   side, must fit the bound; then every later mass does too, and no sum
   wraps. Every state the fold reaches passes: a node's revenue row holds
   the remainders of its orders, its margin row their margins, and what an
   order can take back is what its sale put in and no refund took yet.

   Count bases are bounded by seq, which is the log's gap-free sequence;
   a seq past 2^62 is refused as damaged (no log holds 2^62 events), so
   counts, which grow by one an event, cannot reach 2^63 either. */

#define SEQ_MAX ((uint64_t)1 << 62)

typedef unsigned __int128 u128;

/* The positive and the negative side of a base's values (magnitudes). */
typedef struct {
    u128 pos, neg;
} mass_t;

static void
mass_add(mass_t *m, int64_t v)
{
    if (v >= 0)
        m->pos += (uint64_t)v;
    else
        m->neg += 0 - (uint64_t)v;
}

static const char *const row_base_names[ROW_BASES] = {
    "revenue",         "margin",           "deals",           "new_customers",
    "activities",      "activities.visit", "activities.call", "activities.quote",
    "activities.demo", "collections"};

/* What bounds every total of a base (see above). */
typedef enum {
    BOUND_NONE,   /* no event credits it (B_NONE, the unused ids, a KPI not loaded): 0 */
    BOUND_VOLUME, /* a money base, a KPI's sum: its volume */
    BOUND_EVENTS  /* a count: seq */
} bound_t;

static bound_t
bound_kind(const projection_t *self, uint32_t base)
{
    if (base == B_REVENUE || base == B_MARGIN || base == B_COLL)
        return BOUND_VOLUME;
    if (base != B_NONE && base <= ROW_BASES)
        return BOUND_EVENTS;
    if (base < B_KPI0 || (base - B_KPI0) / 2 + 1 >= self->nkpis)
        return BOUND_NONE;
    return (base - B_KPI0) % 2 ? BOUND_EVENTS : BOUND_VOLUME;
}

static uint64_t
base_bound(const projection_t *self, uint32_t base)
{
    switch (bound_kind(self, base)) {
    case BOUND_VOLUME:
        return base <= ROW_BASES ? (uint64_t)self->volume[base - 1]
                                 : (uint64_t)self->kpis[(base - B_KPI0) / 2 + 1].volume;
    case BOUND_EVENTS:
        return self->seq;
    default:
        return 0;
    }
}

/* "revenue", "kpi \"calls\" sum": a base as a refusal names it. */
static void
base_name(const projection_t *self, uint32_t base, char *buf, size_t len)
{
    if (base != B_NONE && base <= ROW_BASES) {
        snprintf(buf, len, "%s", row_base_names[base - 1]);
        return;
    }
    uint32_t k = base >= B_KPI0 ? (base - B_KPI0) / 2 + 1 : 0;
    if (!k || k > symtab_count(self->kpis_sym)) {
        snprintf(buf, len, "base %" PRIu32, base);
        return;
    }
    uint32_t n = symtab_len(self->kpis_sym, k);
    snprintf(buf, len, "kpi \"%.*s\" %s", (int)(n > 32 ? 32 : n), symtab_str(self->kpis_sym, k),
             (base - B_KPI0) % 2 ? "count" : "sum");
}

/* Whether a loaded mass of `base`, with what open orders can still take
   back (`reversible`, for row bases; NULL otherwise), fits its bound; if not, the
   snapshot is refused naming `what` holds it. */
static void
check_mass(const projection_t *self, rbuf_t *r, uint32_t base, const mass_t *m,
           const mass_t *reversible, const char *what)
{
    u128 bound = base_bound(self, base);
    u128 pos = m->pos + (reversible ? reversible->pos : 0);
    u128 neg = m->neg + (reversible ? reversible->neg : 0);
    if (pos <= bound && neg <= bound)
        return;
    static const char *const bounded_by[] = {"no event credits it", "its volume",
                                             "seq, the most events it can count"};
    char name[64];
    base_name(self, base, name, sizeof name);
    u128 over = pos > bound ? pos : neg;
    damaged(r, "%s: the %s side of %s%s comes to %s%" PRIu64 ", past %" PRIu64 " (%s)", what,
            pos > bound ? "positive" : "negative", name,
            reversible ? ", with what open orders can take back," : "",
            over > UINT64_MAX ? "more than " : "", over > UINT64_MAX ? UINT64_MAX : (uint64_t)over,
            (uint64_t)bound, bounded_by[bound_kind(self, base)]);
}

/* A target's running actual, one total of its base. */
static void
check_actual(const projection_t *self, rbuf_t *r, uint32_t idx, uint32_t base, int64_t v,
             const mass_t *reversible, const char *which)
{
    mass_t m = {0, 0};
    mass_add(&m, v);
    char what[64];
    snprintf(what, sizeof what, "target %" PRIu32 "'s running %s", idx, which);
    check_mass(self, r, base, &m,
               base != B_NONE && base <= ROW_BASES ? &reversible[base - 1] : NULL, what);
}

static void
save_symtab(wbuf_t *w, symtab_t *t)
{
    uint32_t n = symtab_count(t);
    put_u32(w, n);
    for (uint32_t id = 1; id <= n; id++) {
        put_u32(w, symtab_len(t, id));
        put(w, symtab_str(t, id), symtab_len(t, id));
    }
}

static void
load_symtab(rbuf_t *r, symtab_t *t)
{
    uint32_t n = get_count(r, 4);
    if (n && symtab_reserve(t, n) != 0)
        r->failed = 1;
    /* the saved strings are distinct by construction: add without lookups,
       a batch at a time so that their index slots can be prefetched */
    enum { BATCH = 256 };
    const char *strs[BATCH];
    uint32_t lens[BATCH];
    for (uint32_t id = 1; id <= n && !r->failed;) {
        size_t k = 0;
        for (; k < BATCH && id + k <= n; k++) {
            lens[k] = get_u32(r);
            strs[k] = (const char *)take(r, lens[k]);
            if (!strs[k])
                return;
        }
        if (symtab_add_new_batch(t, strs, lens, k) != id + k - 1)
            r->failed = 1;
        id += (uint32_t)k;
    }
}

int
projection_save(projection_t *self, msgpack_sbuffer *out)
{
    /* ["pacer-projection", version, bin32 body]: the header is written
       first with the body's length filled in at the end */
    wbuf_t w = {out, 0};
    size_t head = out->size;
    uint8_t hdr[] = {0x93, 0xa0 | (uint8_t)strlen(SNAPSHOT_MAGIC)};
    put(&w, hdr, sizeof hdr);
    put(&w, SNAPSHOT_MAGIC, strlen(SNAPSHOT_MAGIC));
    uint8_t ver[] = {(uint8_t)PROJECTION_VERSION, 0xc6, 0, 0, 0, 0};
    put(&w, ver, sizeof ver);
    size_t body = out->size;
    put_u64(&w, self->seq);
    put_u64(&w, self->skipped);
    put_u64(&w, (uint64_t)self->day_base);
    for (int b = 0; b < ROW_BASES; b++)
        put_u64(&w, (uint64_t)self->volume[b]);
    symtab_t *tabs[] = {self->nodes_sym,  self->metrics_sym, self->periods_sym, self->pl_sym,
                        self->orders_sym, self->kpis_sym,    self->text_sym};
    for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++)
        save_symtab(&w, tabs[i]);

    put_u32(&w, self->nnodes);
    for (uint32_t i = 0; i < self->nnodes; i++) {
        node_t *n = &self->nodes[i];
        put_u8(&w, (uint8_t)(n->defined | n->ever_parent << 1 | n->credited << 2));
        put_u8(&w, n->kind);
        put_u32(&w, n->name);
        put_u32(&w, n->owner);
        put_u32(&w, (uint32_t)n->retired_day);
        put_u32(&w, (uint32_t)n->first_day);
        put_u32(&w, (uint32_t)n->last_day);
        put_u32(&w, n->nmem);
        for (uint32_t k = 0; k < n->nmem; k++) {
            put_u32(&w, (uint32_t)n->mem[k].day);
            put_u32(&w, n->mem[k].parent);
        }
        put_u32(&w, n->ntargets);
        for (uint32_t k = 0; k < n->ntargets; k++)
            put_u32(&w, n->targets[k].idx);
    }
    put_u32(&w, self->nmetrics);
    for (uint32_t i = 0; i < self->nmetrics; i++) {
        put_u32(&w, self->metrics[i].num);
        put_u32(&w, self->metrics[i].den);
        put_u8(&w, self->metrics[i].kind);
    }
    /* The order table's capacity runs up to twice its ids: a record is
       written for each order id and no more (a third of the snapshot at
       10M events was unused capacity), so that every way of building the
       same projection writes the same bytes. An id can lack a record (a
       sale refused after its order was interned): it is written as zeros,
       which is what the table holds for it. A loaded table has exactly
       these records and grows from there. */
    uint32_t count = symtab_count(self->orders_sym), norders = count ? count + 1 : 0;
    const order_t none = {0};
    put_u32(&w, norders);
    for (uint32_t i = 0; i < norders; i++) {
        const order_t *o = i < self->norders ? &self->orders[i] : &none;
        put_u32(&w, o->rep);
        put_u32(&w, o->pl);
        put_u32(&w, (uint32_t)o->day);
        put(&w, o->currency, 3);
        put_u64(&w, (uint64_t)o->remaining);
        put_u64(&w, (uint64_t)o->margin);
        put_u8(&w, o->cancelled);
    }
    put_u32(&w, self->nkpis);
    for (uint32_t i = 0; i < self->nkpis; i++) {
        put_u8(&w, self->kpis[i].defined);
        put_u8(&w, self->kpis[i].agg);
        put_u64(&w, (uint64_t)self->kpis[i].volume);
    }
    put_u32(&w, self->ntargets);
    for (uint32_t i = 0; i < self->ntargets; i++) {
        target_t *t = &self->targets[i];
        put_u32(&w, t->scope);
        put_u32(&w, t->metric);
        put_u32(&w, t->pl);
        put_u32(&w, t->period_sym);
        put_u8(&w, t->period_kind);
        put_u8(&w, t->mask);
        put(&w, t->currency, 3);
        put_u64(&w, (uint64_t)t->start_ms);
        put_u64(&w, (uint64_t)t->end_ms);
        put_u32(&w, (uint32_t)t->d0);
        put_u32(&w, (uint32_t)t->d1);
        for (int k = 0; k < 3; k++)
            put_u64(&w, (uint64_t)t->tiers[k]);
        put_u64(&w, (uint64_t)proj_tref_of(self, t)->num);
        put_u64(&w, (uint64_t)proj_tref_of(self, t)->den);
        put_u32(&w, t->nhist);
        for (uint32_t k = 0; k < t->nhist; k++) {
            hist_t *h = &t->hist[k];
            put_u64(&w, h->seq);
            put_u64(&w, (uint64_t)h->occurred_at);
            put_u64(&w, (uint64_t)h->recorded_at);
            put_u8(&w, h->kind);
            put_u8(&w, h->before_mask);
            put_u8(&w, h->after_mask);
            put_u32(&w, h->author);
            put_u32(&w, h->reason);
            put_u32(&w, h->allocation);
            for (int j = 0; j < 3; j++) {
                put_u64(&w, (uint64_t)h->before[j]);
                put_u64(&w, (uint64_t)h->after[j]);
            }
        }
    }
    for (uint32_t i = 0; i < self->nnodes; i++) {
        const node_t *n = &self->nodes[i];
        put_u32(&w, n->nseries);
        for (uint32_t k = 0; k < n->nseries; k++) {
            const series_t *s = &n->series[k];
            put_u32(&w, s->pl);
            put_u32(&w, s->b0);
            put_u32(&w, s->nblocks);
            for (uint32_t b = 0; b < s->nblocks; b++) {
                put_u8(&w, s->blocks[b] != NULL);
                if (!s->blocks[b])
                    continue;
                /* sparse: a mask of the days with a value, then for each
                   such day a mask of its non-zero bases and their values */
                uint8_t raw[4 + BLOCK_DAYS * (2 + 8 * ROW_BASES)];
                size_t len = 4;
                uint32_t days = 0;
                for (int d = 0; d < BLOCK_DAYS; d++) {
                    const dayrow_t *row = &s->blocks[b][d];
                    uint16_t mask = 0;
                    for (int m = 0; m < ROW_BASES; m++)
                        if (row->v[m])
                            mask |= (uint16_t)(1u << m);
                    if (!mask)
                        continue;
                    days |= 1u << d;
                    raw[len++] = (uint8_t)mask;
                    raw[len++] = (uint8_t)(mask >> 8);
                    for (int m = 0; m < ROW_BASES; m++)
                        if (mask >> m & 1) {
                            uint64_t v = htole64((uint64_t)row->v[m]);
                            memcpy(raw + len, &v, 8);
                            len += 8;
                        }
                }
                uint32_t le = htole32(days);
                memcpy(raw, &le, 4);
                put(&w, raw, len);
            }
        }
    }
    uint32_t ncells = symtab_count(self->cell_keys);
    put_u32(&w, ncells);
    for (uint32_t i = 1; i <= ncells; i++) {
        uint32_t key[4];
        memcpy(key, symtab_str(self->cell_keys, i), sizeof key);
        for (int k = 0; k < 4; k++)
            put_u32(&w, key[k]);
        put_u64(&w, (uint64_t)self->cell_vals[i - 1]);
    }
    put_u32(&w, self->ncredited);
    for (uint32_t i = 0; i < self->ncredited; i++)
        put_u32(&w, self->credited[i]);
    put_u32(&w, self->ndays);
    for (uint32_t i = 0; i < self->ndays; i++) {
        put_u32(&w, (uint32_t)(uint16_t)self->days[i].y);
        put_u8(&w, (uint8_t)self->days[i].m);
        put_u8(&w, (uint8_t)self->days[i].d);
        put_u8(&w, (uint8_t)self->days[i].kind);
    }

    if (w.failed || out->size - body > UINT32_MAX) {
        out->size = head;
        return -1;
    }
    uint32_t len = htobe32((uint32_t)(out->size - body));
    memcpy(out->data + body - 4, &len, 4);
    return 0;
}

static int
load_body(projection_t *self, rbuf_t *r)
{
    /* the masses of the day rows' values, and what open orders can still
       take back, by base - 1 (see "Values against their bounds") */
    mass_t rows[ROW_BASES] = {{0, 0}}, reversible[ROW_BASES] = {{0, 0}};
    self->seq = get_u64(r);
    self->skipped = get_u64(r);
    if (!r->failed && (self->seq > SEQ_MAX || self->skipped > self->seq))
        damaged(r, "seq %" PRIu64 " with %" PRIu64 " skipped: no log holds that", self->seq,
                self->skipped);
    if ((int64_t)get_u64(r) != self->day_base)
        r->failed = 1; /* taken in another time zone */
    for (int b = 0; b < ROW_BASES; b++)
        self->volume[b] = get_volume(r);
    symtab_t *tabs[] = {self->nodes_sym,  self->metrics_sym, self->periods_sym, self->pl_sym,
                        self->orders_sym, self->kpis_sym,    self->text_sym};
    for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++)
        load_symtab(r, tabs[i]);

    uint32_t n = get_count(r, 30);
    if (n && !(self->nodes = calloc(n, sizeof(node_t))))
        return -1;
    self->nnodes = n;
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        node_t *nd = &self->nodes[i];
        uint8_t flags = get_u8(r);
        nd->defined = flags & 1, nd->ever_parent = (flags >> 1) & 1,
        nd->credited = (flags >> 2) & 1;
        nd->kind = get_u8(r);
        nd->name = get_u32(r);
        nd->owner = get_u32(r);
        nd->retired_day = get_day(r);
        nd->first_day = get_day(r);
        nd->last_day = get_day(r);
        nd->nmem = nd->capmem = get_count(r, 8);
        if (nd->nmem && !(nd->mem = calloc(nd->nmem, sizeof(member_t))))
            return -1;
        for (uint32_t k = 0; k < nd->nmem; k++) {
            nd->mem[k].day = get_day(r);
            nd->mem[k].parent = get_u32(r);
            if (nd->mem[k].parent >= n)
                r->failed = 1;
        }
        nd->ntargets = nd->captargets = get_count(r, 4);
        if (nd->ntargets && !(nd->targets = calloc(nd->ntargets, sizeof(tref_t))))
            return -1;
        for (uint32_t k = 0; k < nd->ntargets; k++)
            nd->targets[k].idx = get_u32(r); /* the rest once targets are loaded */
    }
    n = get_count(r, 9);
    if (n && !(self->metrics = calloc(n, sizeof(metric_t))))
        return -1;
    self->nmetrics = n;
    for (uint32_t i = 0; i < n; i++) {
        self->metrics[i].num = get_u32(r);
        self->metrics[i].den = get_u32(r);
        self->metrics[i].kind = get_u8(r);
        /* an id without a definition (M_NONE) is defined when an event
           first names it (proj_metric): it holds nothing before, and no
           target uses it, or its running actuals would change base */
        const metric_t *m = &self->metrics[i];
        if (!r->failed && (m->kind > M_AVG || (m->kind == M_NONE && (m->num || m->den))))
            damaged(r, "metric %" PRIu32 ": kind %u with bases %" PRIu32 " and %" PRIu32, i,
                    m->kind, m->num, m->den);
    }
    n = get_count(r, 32);
    if (n && !(self->orders = bigmem_map((size_t)n * sizeof(order_t))))
        return -1;
    self->norders = n;
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        order_t *o = &self->orders[i];
        o->rep = get_u32(r);
        o->pl = get_u32(r);
        o->day = get_day(r);
        const uint8_t *c = take(r, 3);
        if (c)
            memcpy(o->currency, c, 3);
        o->remaining = (int64_t)get_u64(r);
        o->margin = (int64_t)get_u64(r);
        o->cancelled = get_u8(r);
        /* a reversal or payment credits the order's rep and product line
           (slot 0, and any id no sale used, is all zeros) */
        if (o->rep >= self->nnodes || o->pl > symtab_count(self->pl_sym))
            r->failed = 1;
        if (o->remaining < 0 && !r->failed)
            damaged(r, "order %" PRIu32 ": remaining %" PRId64 ", below zero", i, o->remaining);
        if (o->cancelled || r->failed)
            continue;
        /* what a refund or cancellation of it can still credit: minus its
           remainder, minus one deal, minus (a share of) its margin */
        reversible[B_REVENUE - 1].neg += (uint64_t)o->remaining;
        reversible[B_DEALS - 1].neg += o->remaining > 0;
        if (o->margin > 0)
            reversible[B_MARGIN - 1].neg += (uint64_t)o->margin;
        else
            reversible[B_MARGIN - 1].pos += 0 - (uint64_t)o->margin;
    }
    n = get_count(r, 10);
    if (n && !(self->kpis = calloc(n, sizeof(kpi_t))))
        return -1;
    self->nkpis = n;
    for (uint32_t i = 0; i < n; i++) {
        self->kpis[i].defined = get_u8(r);
        self->kpis[i].agg = get_u8(r);
        self->kpis[i].volume = get_volume(r);
    }
    n = get_count(r, 100);
    if (n && !(self->targets = calloc(n, sizeof(target_t))))
        return -1;
    self->ntargets = self->captargets = n;
    /* the running actuals belong in the trefs, set once targets are read */
    if (n && !(self->load_sums = calloc((size_t)n * 2, sizeof(int64_t))))
        return -1;
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        target_t *t = &self->targets[i];
        t->scope = get_u32(r);
        t->metric = get_u32(r);
        t->pl = get_u32(r);
        t->period_sym = get_u32(r);
        t->period_kind = get_u8(r);
        t->mask = get_u8(r);
        const uint8_t *c = take(r, 3);
        if (c)
            memcpy(t->currency, c, 3);
        t->start_ms = (int64_t)get_u64(r);
        t->end_ms = (int64_t)get_u64(r);
        t->d0 = get_day(r);
        t->d1 = get_day(r);
        for (int k = 0; k < 3; k++)
            t->tiers[k] = (int64_t)get_u64(r);
        t->tref = UINT32_MAX;
        self->load_sums[2 * i] = (int64_t)get_u64(r);
        self->load_sums[2 * i + 1] = (int64_t)get_u64(r);
        t->nhist = t->caphist = get_count(r, 87);
        if (t->nhist && !(t->hist = calloc(t->nhist, sizeof(hist_t))))
            return -1;
        for (uint32_t k = 0; k < t->nhist; k++) {
            hist_t *h = &t->hist[k];
            h->seq = get_u64(r);
            h->occurred_at = (int64_t)get_u64(r);
            h->recorded_at = (int64_t)get_u64(r);
            h->kind = get_u8(r);
            h->before_mask = get_u8(r);
            h->after_mask = get_u8(r);
            h->author = get_u32(r);
            h->reason = get_u32(r);
            h->allocation = get_u32(r);
            for (int j = 0; j < 3; j++) {
                h->before[j] = (int64_t)get_u64(r);
                h->after[j] = (int64_t)get_u64(r);
            }
        }
        if (t->scope >= self->nnodes || t->metric >= self->nmetrics)
            r->failed = 1;
        else if (self->metrics[t->metric].kind == M_NONE && !r->failed)
            damaged(r, "target %" PRIu32 ": of metric %" PRIu32 ", which is not defined", i,
                    t->metric);
        char key[PROJ_KEY_LEN];
        proj_key(key, t->scope, t->metric, t->pl, t->period_sym);
        uint32_t id = r->failed ? 0 : symtab_intern(self->target_keys, key, sizeof key);
        if (!r->failed && !id)
            return -1;
        if (id != i + 1)
            r->failed = 1; /* a key given twice */
    }
    for (uint32_t i = 0; i < self->nnodes && !r->failed; i++) {
        node_t *nd = &self->nodes[i];
        for (uint32_t k = 0; k < nd->ntargets; k++) {
            uint32_t idx = nd->targets[k].idx;
            if (idx >= self->ntargets || self->targets[idx].metric >= self->nmetrics ||
                self->targets[idx].scope != i || self->targets[idx].tref != UINT32_MAX) {
                r->failed = 1;
                break;
            }
            proj_tref(self, &nd->targets[k], idx);
            self->targets[idx].tref = k;
            nd->targets[k].num = self->load_sums[2 * idx];
            nd->targets[k].den = self->load_sums[2 * idx + 1];
            check_actual(self, r, idx, nd->targets[k].num_base, nd->targets[k].num, reversible,
                         "numerator");
            check_actual(self, r, idx, nd->targets[k].den_base, nd->targets[k].den, reversible,
                         "denominator");
        }
    }
    for (uint32_t i = 0; i < self->ntargets && !r->failed; i++)
        if (self->targets[i].tref == UINT32_MAX)
            r->failed = 1; /* no node lists it */
    free(self->load_sums);
    self->load_sums = NULL;
    for (uint32_t i = 0; i < self->nnodes && !r->failed; i++) {
        node_t *nd = &self->nodes[i];
        uint32_t ns = get_count(r, 12);
        if (ns && !(nd->series = calloc(ns, sizeof(series_t))))
            return -1;
        nd->capseries = ns;
        for (uint32_t k = 0; k < ns && !r->failed; k++) {
            series_t *s = &nd->series[nd->nseries++];
            s->pl = get_u32(r);
            uint32_t b0 = get_u32(r);
            uint32_t nb = get_count(r, 1);
            if (r->failed || nb == 0 || b0 > DAY_MAX / BLOCK_DAYS ||
                nb > DAY_MAX / BLOCK_DAYS + 1 - b0) {
                r->failed = 1;
                break;
            }
            if (proj_series_cover(s, b0) != 0 || proj_series_cover(s, b0 + nb - 1) != 0)
                return -1;
            for (uint32_t b = 0; b < nb && !r->failed; b++) {
                if (!get_u8(r))
                    continue;
                dayrow_t *blk = proj_block_new(self);
                if (!blk)
                    return -1;
                s->blocks[b] = blk;
                uint32_t days = get_u32(r);
                for (int d = 0; d < BLOCK_DAYS && !r->failed; d++) {
                    if (!(days >> d & 1))
                        continue;
                    const uint8_t *mb = take(r, 2);
                    uint16_t mask = mb ? (uint16_t)(mb[0] | mb[1] << 8) : 0;
                    if (!mask || mask >> ROW_BASES) {
                        r->failed = 1;
                        break;
                    }
                    for (int m = 0; m < ROW_BASES; m++)
                        if (mask >> m & 1) {
                            blk[d].v[m] = (int64_t)get_u64(r);
                            mass_add(&rows[m], blk[d].v[m]);
                        }
                }
            }
        }
    }
    for (uint32_t b = 1; b <= ROW_BASES && !r->failed; b++)
        check_mass(self, r, b, &rows[b - 1], &reversible[b - 1], "day rows");
    n = get_count(r, 24);
    if (n && !(self->cell_vals = bigmem_realloc(NULL, (size_t)n * sizeof(int64_t))))
        return -1;
    /* by kpi, its sum's then its count's masses: over the cells of all
       product lines (pl 0), then over those of one */
    mass_t *cells = self->nkpis ? calloc((size_t)self->nkpis * 4, sizeof(mass_t)) : NULL;
    if (self->nkpis && !cells)
        return -1;
    self->capcell_vals = n;
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        uint32_t k[4];
        for (int j = 0; j < 4; j++)
            k[j] = get_u32(r);
        self->cell_vals[i] = (int64_t)get_u64(r);
        char key[PROJ_KEY_LEN];
        proj_key(key, k[0], k[1], k[2], k[3]);
        uint32_t id = r->failed ? 0 : symtab_intern(self->cell_keys, key, sizeof key);
        if (!r->failed && !id) {
            free(cells);
            return -1;
        }
        if (id != i + 1 || k[0] >= self->nnodes)
            r->failed = 1; /* a key given twice, or of no node */
        /* a KPI's cells: of a loaded KPI's two bases; a record credits the
           cell of its product line and, if it has one, the cell of all (0) */
        uint32_t kpi = k[1] >= B_KPI0 ? (k[1] - B_KPI0) / 2 + 1 : 0;
        if (!r->failed && (!kpi || kpi >= self->nkpis))
            damaged(r, "kpi cell %" PRIu32 ": of base %" PRIu32 ", no loaded kpi's", i + 1, k[1]);
        if (!r->failed)
            mass_add(&cells[4 * (size_t)kpi + 2 * ((k[1] - B_KPI0) % 2) + (k[2] != 0)],
                     self->cell_vals[i]);
    }
    for (uint32_t kpi = 1; kpi < self->nkpis && !r->failed; kpi++)
        for (int c = 0; c < 4; c++)
            check_mass(self, r, B_KPI0 + 2 * (kpi - 1) + (uint32_t)(c / 2), &cells[4 * kpi + c],
                       NULL, c % 2 ? "kpi cells by product line" : "kpi cells");
    free(cells);
    n = get_count(r, 4);
    if (n && !(self->credited = calloc(n, sizeof(uint32_t))))
        return -1;
    self->ncredited = self->capcredited = n;
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        self->credited[i] = get_u32(r);
        if (self->credited[i] >= self->nnodes)
            r->failed = 1;
        else
            self->undefined_credited += !self->nodes[self->credited[i]].defined;
    }
    n = get_count(r, 7);
    if (n && !(self->days = calloc(n, sizeof(day_override_t))))
        return -1;
    self->ndays = self->capdays = n;
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        day_override_t *d = &self->days[i];
        d->y = (int16_t)get_u32(r);
        d->m = (int8_t)get_u8(r);
        d->d = (int8_t)get_u8(r);
        d->kind = (int8_t)get_u8(r);
        char err[128];
        if (calendar_set_day(self->cal, d->y, d->m, d->d, (calendar_day_t)d->kind, err,
                             sizeof err) != 0)
            r->failed = 1;
    }
    if (r->left != 0)
        r->failed = 1;
    return r->failed ? -2 : 0;
}

int
projection_load(projection_t *self, const void *data, size_t len, char *err, size_t errlen)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3) {
        snprintf(err, errlen, "snapshot: not a projection snapshot");
        goto done;
    }
    msgpack_object *a = u.data.via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_STR || a[0].via.str.size != strlen(SNAPSHOT_MAGIC) ||
        memcmp(a[0].via.str.ptr, SNAPSHOT_MAGIC, a[0].via.str.size) != 0 ||
        a[2].type != MSGPACK_OBJECT_BIN) {
        snprintf(err, errlen, "snapshot: not a projection snapshot");
        goto done;
    }
    if (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[1].via.u64 != PROJECTION_VERSION) {
        snprintf(err, errlen, "snapshot: version %llu, this pacerd folds version %d",
                 a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (unsigned long long)a[1].via.u64
                                                              : 0ULL,
                 PROJECTION_VERSION);
        goto done;
    }
    if (self->nnodes || self->ntargets || symtab_count(self->cell_keys) || self->nblocks) {
        snprintf(err, errlen, "snapshot: can only be loaded into an empty projection");
        goto done;
    }
    rbuf_t r = {(const uint8_t *)a[2].via.bin.ptr, a[2].via.bin.size, 0, ""};
    rc = load_body(self, &r);
    if (rc == -1)
        snprintf(err, errlen, "snapshot: out of memory");
    else if (rc != 0 && r.why[0])
        snprintf(err, errlen, "snapshot: damaged: %s", r.why);
    else if (rc != 0)
        snprintf(err, errlen, "snapshot: damaged, or taken with another time zone");
done:
    msgpack_unpacked_destroy(&u);
    return rc == 0 ? 0 : -1;
}
