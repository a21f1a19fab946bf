/*  projection: see projection.h for the model. This file holds the state,
    the checks and the fold; projections/report.c holds the queries.

    Identity: nodes, metrics, periods, product lines, orders, KPIs and
    free-text values (names, authors, reasons) are interned in symtabs, so
    every reference inside the state is a small integer and the state
    serialises deterministically. */

#include "projections/projection_internal.h"
#include "projections/bigmem.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    uint32_t num, den;
    uint8_t kind;
} builtin_metrics[] = {
    {"revenue", B_REVENUE, 0, M_SUM},
    {"margin", B_MARGIN, 0, M_SUM},
    {"deals", B_DEALS, 0, M_SUM},
    {"new_customers", B_NEWCUST, 0, M_SUM},
    {"activities", B_ACT, 0, M_SUM},
    {"activities.visit", B_VISIT, 0, M_SUM},
    {"activities.call", B_CALL, 0, M_SUM},
    {"activities.quote", B_QUOTE, 0, M_SUM},
    {"activities.demo", B_DEMO, 0, M_SUM},
    {"collections", B_COLL, 0, M_SUM},
    {"collection_rate", B_COLL, B_REVENUE, M_RATIO},
    {"quote_conversion", B_DEALS, B_QUOTE, M_RATIO},
};

projection_t *
projection_new(calendar_t *calendar)
{
    projection_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cal = calendar;
    self->nodes_sym = symtab_new();
    self->metrics_sym = symtab_new();
    self->periods_sym = symtab_new();
    self->pl_sym = symtab_new();
    self->orders_sym = symtab_new();
    self->kpis_sym = symtab_new();
    self->text_sym = symtab_new();
    self->target_keys = symtab_new();
    self->cell_keys = symtab_new();
    msgpack_zone_init(&self->zone, 4096);
    if (!self->nodes_sym || !self->metrics_sym || !self->periods_sym || !self->pl_sym ||
        !self->orders_sym || !self->kpis_sym || !self->text_sym || !self->target_keys ||
        !self->cell_keys) {
        projection_destroy(&self);
        return NULL;
    }
    period_t p;
    if (calendar_period_containing(calendar, PERIOD_DAY, 43200000, &p) != 0) {
        projection_destroy(&self); /* 1970-01-01 is in every calendar's range */
        return NULL;
    }
    self->day_base = p.seq - 1;
    return self;
}

void
projection_destroy(projection_t **self_p)
{
    projection_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->nnodes; i++) {
        free(self->nodes[i].mem);
        free(self->nodes[i].targets);
        for (uint32_t k = 0; k < self->nodes[i].nseries; k++)
            free(self->nodes[i].series[k].blocks);
        free(self->nodes[i].series);
    }
    free(self->nodes);
    for (uint32_t i = 0; i < self->ntargets; i++)
        free(self->targets[i].hist);
    free(self->targets);
    bigmem_unmap(self->orders, (size_t)self->norders * sizeof(order_t));
    free(self->kpis);
    free(self->metrics);
    free(self->days);
    free(self->credited);
    free(self->load_sums);
    free(self->cell_vals);
    free(self->changed);
    free(self->changed_seq);
    free(self->changes);
    free(self->tperiods);
    free(self->pclocks);
    free(self->tperiod_ok);
    for (uint32_t i = 0; i < self->nchunks; i++)
        free(self->chunks[i]);
    free(self->chunks);
    msgpack_zone_destroy(&self->zone);
    symtab_destroy(&self->nodes_sym);
    symtab_destroy(&self->metrics_sym);
    symtab_destroy(&self->periods_sym);
    symtab_destroy(&self->pl_sym);
    symtab_destroy(&self->orders_sym);
    symtab_destroy(&self->kpis_sym);
    symtab_destroy(&self->text_sym);
    symtab_destroy(&self->target_keys);
    symtab_destroy(&self->cell_keys);
    free(self);
    *self_p = NULL;
}

uint64_t
projection_seq(projection_t *self)
{
    return self->seq;
}

uint32_t
projection_undefined_count(projection_t *self)
{
    return self->undefined_credited;
}

calendar_t *
projection_calendar(projection_t *self)
{
    return self->cal;
}

uint64_t
projection_skipped(projection_t *self)
{
    return self->skipped;
}

/* ---------------------------------------------------------------------
   Small helpers */

/* Events arrive in no particular day order, and the calendar builds a whole
   period (name included) per call: a direct-mapped cache by UTC hour of the
   local days seen. An entry is used only when t lies inside it, so a zone
   whose midnight is not on the hour just misses more often. */
int32_t
proj_day_of(projection_t *self, int64_t t)
{
    int64_t hour = t >= 0 ? t / 3600000 : (t - 3599999) / 3600000;
    day_cache_t *c = &self->day_cache[(uint64_t)hour & (DAY_CACHE - 1)];
    if (t >= c->start_ms && t < c->end_ms)
        return c->day;
    period_t p;
    if (calendar_period_containing(self->cal, PERIOD_DAY, t, &p) != 0)
        return 0;
    int64_t d = p.seq - self->day_base;
    int32_t day = d < 0 ? 0 : d > DAY_MAX ? DAY_MAX : (int32_t)d;
    c->start_ms = p.start_ms;
    c->end_ms = p.end_ms;
    c->day = day;
    return day;
}

/* A KPI record's value as the projection counts it: thousandths, which
   the schema's range (|value| <= 9e15) keeps within int64. */
static int64_t
kpi_thousandths(const event_t *ev)
{
    return (int64_t)llround(ev->v[F_VALUE].d * 1000.0);
}

static int
grow(void **ptr, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    uint32_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *p = bigmem_realloc(*ptr, (size_t)c * size);
    if (!p)
        return -1;
    memset((char *)p + (size_t)*cap * size, 0, (size_t)(c - *cap) * size);
    *ptr = p;
    *cap = c;
    return 0;
}

/* The order table grows with every sale: see bigmem_map. */
static int
grow_orders(projection_t *self, uint32_t need)
{
    if (need <= self->norders)
        return 0;
    uint32_t c = self->norders ? self->norders : 8;
    while (c < need)
        c *= 2;
    order_t *o =
        bigmem_remap(self->orders, (size_t)self->norders * sizeof *o, (size_t)c * sizeof *o);
    if (!o)
        return -1;
    self->orders = o;
    self->norders = c;
    return 0;
}

/* Names are resolved through the memo while a batch is folded (see
   projections/prefetch.c): the prefetch passes already hashed every rep
   and order name of the batch and found those that exist. An id found is
   final (ids are never reused); for a name not found only its hash is
   kept, since an earlier event of the batch may add it. The memo is keyed
   by the string's address, which is unique to one field of one event of
   the batch, and is emptied after every batch. */
static memo_t *
memo_of(projection_t *self, const symtab_t *t, ev_str_t s)
{
    if (!self->memo_on)
        return NULL;
    memo_t *m = &self->memo[proj_memo_slot(t, s.ptr)];
    return m->ptr == s.ptr && m->t == t && m->len == s.len ? m : NULL;
}

static uint32_t
intern(projection_t *self, symtab_t *t, ev_str_t s)
{
    memo_t *m = memo_of(self, t, s);
    if (m && m->id)
        return m->id;
    return m ? symtab_intern_hashed(t, s.ptr, s.len, m->h) : symtab_intern(t, s.ptr, s.len);
}

static uint32_t
find(projection_t *self, symtab_t *t, ev_str_t s)
{
    memo_t *m = memo_of(self, t, s);
    if (m && m->id)
        return m->id;
    return m ? symtab_find_hashed(t, s.ptr, s.len, m->h) : symtab_find(t, s.ptr, s.len);
}

node_t *
proj_node(projection_t *self, uint32_t id)
{
    return id && id < self->nnodes && self->nodes[id].defined ? &self->nodes[id] : NULL;
}

static node_t *
node_by_name(projection_t *self, ev_str_t s)
{
    return proj_node(self, find(self, self->nodes_sym, s));
}

/* The id of a node that is credited, interning it (undefined) if new. */
static uint32_t
node_ref(projection_t *self, ev_str_t s)
{
    uint32_t id = intern(self, self->nodes_sym, s);
    if (!id || grow((void **)&self->nodes, &self->nnodes, id + 1, sizeof(node_t)) != 0)
        return 0;
    return id;
}

uint32_t
proj_parent_at(projection_t *self, uint32_t id, int32_t day)
{
    node_t *n = &self->nodes[id];
    if (n->nmem == 0)
        return 0;
    uint32_t parent = n->mem[0].parent;
    for (uint32_t i = 0; i < n->nmem && n->mem[i].day <= day; i++)
        parent = n->mem[i].parent;
    return parent;
}

int
proj_chain(projection_t *self, uint32_t id, int32_t day, uint32_t *chain)
{
    int n = 0;
    while (id && n < CHAIN_MAX) {
        for (int i = 0; i < n; i++)
            if (chain[i] == id)
                return n; /* a cycle through back-dated moves: stop */
        chain[n++] = id;
        id = proj_parent_at(self, id, day);
    }
    return n;
}

bool
proj_is_under(projection_t *self, uint32_t id, uint32_t ancestor, int32_t day)
{
    uint32_t chain[CHAIN_MAX];
    int n = proj_chain(self, id, day, chain);
    for (int i = 0; i < n; i++)
        if (chain[i] == ancestor)
            return true;
    return false;
}

/* A metric name's definition; false and a message when the name is not a
   metric. */
static bool
metric_def(projection_t *self, const char *s, size_t len, metric_t *out, char *why, size_t whylen)
{
    metric_t m = {0};
    for (size_t i = 0; i < sizeof builtin_metrics / sizeof builtin_metrics[0]; i++)
        if (strlen(builtin_metrics[i].name) == len &&
            memcmp(builtin_metrics[i].name, s, len) == 0) {
            m.num = builtin_metrics[i].num;
            m.den = builtin_metrics[i].den;
            m.kind = builtin_metrics[i].kind;
        }
    if (!m.kind && len > 4 && memcmp(s, "kpi:", 4) == 0) {
        uint32_t k = symtab_find(self->kpis_sym, s + 4, len - 4);
        if (!k || k >= self->nkpis || !self->kpis[k].defined) {
            snprintf(why, whylen, "\"%.*s\": no kpi_defined for %.*s", (int)len, s, (int)len - 4,
                     s + 4);
            return false;
        }
        m.num = B_KPI0 + 2 * (k - 1);
        if (self->kpis[k].agg == AGG_COUNT)
            m.num++, m.kind = M_SUM;
        else if (self->kpis[k].agg == AGG_AVERAGE)
            m.den = m.num + 1, m.kind = M_AVG;
        else
            m.kind = M_SUM;
    }
    if (!m.kind) {
        snprintf(why, whylen,
                 "\"%.*s\" is not a metric (revenue, margin, deals, new_customers, "
                 "activities[.visit|.call|.quote|.demo], collections, collection_rate, "
                 "quote_conversion, kpi:<kpi>)",
                 (int)(len > 40 ? 40 : len), s);
        return false;
    }
    *out = m;
    return true;
}

/* Metric name -> definition; interned on first successful parse. 0 and a
   message when the name is not a metric. */
uint32_t
proj_metric(projection_t *self, const char *s, size_t len, char *why, size_t whylen)
{
    uint32_t id = symtab_find(self->metrics_sym, s, len);
    if (id && id < self->nmetrics && self->metrics[id].kind)
        return id;
    metric_t m;
    if (!metric_def(self, s, len, &m, why, whylen))
        return 0;
    id = symtab_intern(self->metrics_sym, s, len);
    if (!id || grow((void **)&self->metrics, &self->nmetrics, id + 1, sizeof(metric_t)) != 0)
        return 0;
    self->metrics[id] = m;
    return id;
}

/* The same without interning the name, for checks, which change nothing;
   a metric nothing has used yet has no id: 0. */
static bool
metric_known(projection_t *self, const char *s, size_t len, uint32_t *id, char *why, size_t whylen)
{
    *id = symtab_find(self->metrics_sym, s, len);
    if (*id && *id < self->nmetrics && self->metrics[*id].kind)
        return true;
    *id = 0;
    metric_t m;
    return metric_def(self, s, len, &m, why, whylen);
}

target_t *
proj_target(projection_t *self, uint32_t scope, uint32_t metric, uint32_t pl, uint32_t period)
{
    char key[PROJ_KEY_LEN];
    proj_key(key, scope, metric, pl, period);
    uint32_t id = symtab_find(self->target_keys, key, sizeof key);
    return id ? &self->targets[id - 1] : NULL;
}

series_t *
proj_series(projection_t *self, uint32_t node, uint32_t pl, bool create)
{
    if (node >= self->nnodes)
        return NULL;
    node_t *n = &self->nodes[node];
    for (uint32_t i = 0; i < n->nseries; i++)
        if (n->series[i].pl == pl)
            return &n->series[i];
    if (!create || grow((void **)&n->series, &n->capseries, n->nseries + 1, sizeof(series_t)) != 0)
        return NULL;
    series_t *s = &n->series[n->nseries++];
    s->pl = pl; /* grow() zeroed the rest */
    return s;
}

int
proj_series_cover(series_t *s, uint32_t b)
{
    if (s->nblocks && b >= s->b0 && b < s->b0 + s->nblocks)
        return 0;
    uint32_t lo = s->nblocks ? (b < s->b0 ? b : s->b0) : b;
    uint32_t hi = s->nblocks ? (b >= s->b0 + s->nblocks ? b + 1 : s->b0 + s->nblocks) : b + 1;
    dayrow_t **t = calloc(hi - lo, sizeof *t);
    if (!t)
        return -1;
    if (s->nblocks)
        memcpy(t + (s->b0 - lo), s->blocks, s->nblocks * sizeof *t);
    free(s->blocks);
    s->blocks = t;
    s->b0 = lo;
    s->nblocks = hi - lo;
    return 0;
}

/* Chunks double from 64 blocks (160 KiB) to 8,192 (20 MiB): a small
   projection stays small, and a large one gets chunks big enough for huge
   pages, without which every row on a large history is also a TLB miss. */
#define CHUNK_MIN 64
#define CHUNK_MAX 8192

dayrow_t *
proj_block_new(projection_t *self)
{
    const size_t bsize = BLOCK_DAYS * sizeof(dayrow_t);
    if (!self->nchunks || self->chunk_used == self->chunk_cap) {
        if (grow((void **)&self->chunks, &self->capchunks, self->nchunks + 1, sizeof(char *)) != 0)
            return NULL;
        size_t cap = self->nchunks ? self->chunk_cap * 2 : CHUNK_MIN;
        if (cap > CHUNK_MAX)
            cap = CHUNK_MAX;
        char *c = bigmem_calloc(cap, bsize);
        if (!c)
            return NULL;
        self->chunks[self->nchunks++] = c;
        self->chunk_cap = cap;
        self->chunk_used = 0;
    }
    self->nblocks++;
    return (dayrow_t *)(self->chunks[self->nchunks - 1] + bsize * self->chunk_used++);
}

/* The row of `day` in series s, or NULL where nothing was credited. */
static const dayrow_t *
row_in(const series_t *s, int32_t day)
{
    uint32_t b = (uint32_t)day / BLOCK_DAYS;
    if (!s || b < s->b0 || b >= s->b0 + s->nblocks || !s->blocks[b - s->b0])
        return NULL;
    return &s->blocks[b - s->b0][(uint32_t)day % BLOCK_DAYS];
}

int64_t
proj_cell(projection_t *self, uint32_t node, uint32_t base, uint32_t pl, int32_t day)
{
    if (!base)
        return 0;
    if (base <= ROW_BASES && !pl && node < self->nnodes) {
        int64_t sum = 0; /* all product lines: every series of the node */
        for (uint32_t i = 0; i < self->nodes[node].nseries; i++) {
            const dayrow_t *r = row_in(&self->nodes[node].series[i], day);
            sum += r ? r->v[base - 1] : 0;
        }
        return sum;
    }
    if (base <= ROW_BASES) {
        const dayrow_t *r = row_in(proj_series(self, node, pl, false), day);
        return r ? r->v[base - 1] : 0;
    }
    char key[PROJ_KEY_LEN];
    proj_key(key, node, base, pl, (uint32_t)day);
    uint32_t id = symtab_find(self->cell_keys, key, sizeof key);
    return id ? self->cell_vals[id - 1] : 0;
}

static int64_t
series_sum(const series_t *s, uint32_t base, int32_t d0, int32_t d1)
{
    int64_t sum = 0;
    if (!s || !s->nblocks)
        return 0;
    /* clip to the days the series covers, then walk block by block */
    int64_t lo = (int64_t)s->b0 * BLOCK_DAYS, hi = lo + (int64_t)s->nblocks * BLOCK_DAYS;
    int64_t a = d0 > lo ? d0 : lo, z = d1 < hi ? d1 : hi;
    for (int64_t d = a; d < z;) {
        uint32_t b = (uint32_t)(d / BLOCK_DAYS);
        int64_t end = (int64_t)(b + 1) * BLOCK_DAYS;
        if (end > z)
            end = z;
        const dayrow_t *blk = s->blocks[b - s->b0];
        if (blk)
            for (int64_t e = d; e < end; e++)
                sum += blk[e % BLOCK_DAYS].v[base - 1];
        d = end;
    }
    return sum;
}

int64_t
proj_cell_sum(projection_t *self, uint32_t node, uint32_t base, uint32_t pl, int32_t d0, int32_t d1)
{
    int64_t sum = 0;
    if (!base || d0 >= d1)
        return 0;
    if (base > ROW_BASES) {
        for (int32_t d = d0; d < d1; d++)
            sum += proj_cell(self, node, base, pl, d);
        return sum;
    }
    if (!pl && node < self->nnodes) { /* all product lines: every series */
        for (uint32_t i = 0; i < self->nodes[node].nseries; i++)
            sum += series_sum(&self->nodes[node].series[i], base, d0, d1);
        return sum;
    }
    return series_sum(proj_series(self, node, pl, false), base, d0, d1);
}

/* The day row of (node, pl, day), added (zero) if new; NULL when out of
   memory. */
static dayrow_t *
day_row(projection_t *self, uint32_t node, uint32_t pl, int32_t day)
{
    series_t *s = proj_series(self, node, pl, true);
    uint32_t b = (uint32_t)day / BLOCK_DAYS;
    if (!s || proj_series_cover(s, b) != 0)
        return NULL;
    dayrow_t **slot = &s->blocks[b - s->b0];
    if (!*slot && !(*slot = proj_block_new(self)))
        return NULL;
    return &(*slot)[(uint32_t)day % BLOCK_DAYS];
}

/* Sum of base over [d0, d1) credited to `node` or anything under it, each
   day by that day's membership. */
int64_t
proj_rollup(projection_t *self, uint32_t node, uint32_t base, uint32_t pl, int32_t d0, int32_t d1)
{
    int64_t sum = 0;
    if (!base)
        return 0;
    bool leaf = node < self->nnodes && !self->nodes[node].ever_parent;
    for (uint32_t i = 0; i < self->ncredited; i++) {
        uint32_t l = self->credited[i];
        if (leaf && l != node)
            continue;
        node_t *n = &self->nodes[l];
        int32_t a = d0 > n->first_day ? d0 : n->first_day;
        int32_t b = d1 < n->last_day + 1 ? d1 : n->last_day + 1;
        for (int32_t d = a; d < b; d++) {
            int64_t v = proj_cell(self, l, base, pl, d);
            if (v && (l == node || proj_is_under(self, l, node, d)))
                sum += v;
        }
    }
    return sum;
}

int64_t
proj_metric_value(const metric_t *m, int64_t num, int64_t den, bool *defined)
{
    *defined = true;
    if (m->kind == M_SUM)
        return num;
    if (den == 0) {
        *defined = false;
        return 0;
    }
    double v = m->kind == M_RATIO ? (double)num * 10000.0 / (double)den : (double)num / (double)den;
    /* a ratio's basis points can exceed int64 (collections against a
       revenue of 1); 2^63 is the first double past INT64_MAX */
    if (v >= 9223372036854775808.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)llround(v);
}

void
proj_tref(projection_t *self, tref_t *r, uint32_t idx)
{
    const target_t *t = &self->targets[idx];
    const metric_t *m = &self->metrics[t->metric];
    r->idx = idx;
    r->d0 = t->d0;
    r->d1 = t->d1;
    r->pl = t->pl;
    r->num_base = m->num;
    r->den_base = m->den;
}

void
proj_recompute(projection_t *self, target_t *t)
{
    metric_t *m = &self->metrics[t->metric];
    tref_t *r = proj_tref_of(self, t);
    r->num = proj_rollup(self, t->scope, m->num, t->pl, t->d0, t->d1);
    r->den = m->den ? proj_rollup(self, t->scope, m->den, t->pl, t->d0, t->d1) : 0;
    proj_touch(self, r->idx);
}

/* ---------------------------------------------------------------------
   Crediting: one leaf delta updates its cells and every running target
   whose scope is on the day's chain. */

typedef struct {
    uint32_t base;
    int64_t delta;
} delta_t;

/* n deltas of base metrics of one node, product line and day: all row
   bases, or all KPI bases. */
static int
credit(projection_t *self, uint32_t node, uint32_t pl, int32_t day, const delta_t *d, int n)
{
    bool any = false;
    for (int k = 0; k < n; k++)
        any |= d[k].delta != 0;
    if (!any)
        return 0;
    if (d[0].base <= ROW_BASES) {
        /* one row: "all product lines" is summed over a node's series when
           read, which costs a query little and saves the fold a second row */
        dayrow_t *row = day_row(self, node, pl, day);
        if (!row)
            return -1;
        for (int k = 0; k < n; k++)
            row->v[d[k].base - 1] += d[k].delta;
    }
    for (int pass = 0; d[0].base > ROW_BASES && pass < (pl ? 2 : 1); pass++) {
        uint32_t cpl = pass ? 0 : pl;
        for (int k = 0; k < n; k++) {
            char key[PROJ_KEY_LEN];
            proj_key(key, node, d[k].base, cpl, (uint32_t)day);
            uint32_t id = symtab_intern(self->cell_keys, key, sizeof key);
            if (!id || grow((void **)&self->cell_vals, &self->capcell_vals, id, sizeof(int64_t)))
                return -1;
            self->cell_vals[id - 1] += d[k].delta;
        }
    }
    node_t *nd = &self->nodes[node];
    if (!nd->credited) {
        if (grow((void **)&self->credited, &self->capcredited, self->ncredited + 1,
                 sizeof(uint32_t)) != 0)
            return -1;
        self->credited[self->ncredited++] = node;
        nd->credited = true;
        nd->first_day = nd->last_day = day;
        self->undefined_credited += !nd->defined;
    }
    if (day < nd->first_day)
        nd->first_day = day;
    if (day > nd->last_day)
        nd->last_day = day;

    if (self->chain_node != node || self->chain_day != day ||
        self->chain_gen != self->membership_gen || !self->chain_len) {
        self->chain_len = proj_chain(self, node, day, self->chain);
        self->chain_node = node;
        self->chain_day = day;
        self->chain_gen = self->membership_gen;
    }
    for (int c = 0; c < self->chain_len; c++) {
        node_t *a = &self->nodes[self->chain[c]];
        for (uint32_t j = 0; j < a->ntargets; j++) {
            tref_t *r = &a->targets[j];
            if (day < r->d0 || day >= r->d1 || (r->pl && r->pl != pl))
                continue;
            bool hit = false;
            for (int k = 0; k < n; k++) {
                if (r->num_base == d[k].base) {
                    r->num += d[k].delta;
                    hit = true;
                }
                if (r->den_base == d[k].base) {
                    r->den += d[k].delta;
                    hit = true;
                }
            }
            if (hit)
                proj_touch(self, r->idx);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------
   Checks */

static ev_errcode_t bad(ev_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static ev_errcode_t
bad(ev_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->code = EVE_INVALID_VALUE;
    return EVE_INVALID_VALUE;
}

#define Q(s) (int)((s).len > 64 ? 64 : (s).len), (s).ptr

static ev_errcode_t out_of_range(ev_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static ev_errcode_t
out_of_range(ev_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->code = EVE_OUT_OF_RANGE;
    return EVE_OUT_OF_RANGE;
}

/* See DAY_MAX: a day the projection cannot count. */
#define LAST_DAY_NAME "2687-09-20"

static bool
beyond_last_day(projection_t *self, int64_t t)
{
    return proj_day_of(self, t) >= DAY_MAX;
}

static ev_errcode_t
check_day(projection_t *self, const event_t *ev, ev_field_t f, ev_error_t *err)
{
    if (!beyond_last_day(self, ev->v[f].i))
        return EVE_OK;
    return out_of_range(err, "%s: after " LAST_DAY_NAME ", the last day pacer counts",
                        ev_field_name(f));
}

/* Whether a volume (see projection_internal.h) can take `amount` more,
   an amount's magnitude being at most 2^62 (money) or 9e18 (a KPI value
   in thousandths). */
static bool
volume_fits(int64_t volume, int64_t amount)
{
    return amount <= INT64_MAX - volume;
}

static ev_errcode_t
check_effective_day(projection_t *self, const event_t *ev, ev_error_t *err)
{
    return check_day(self, ev, event_has(ev, F_EFFECTIVE_AT) ? F_EFFECTIVE_AT : F_OCCURRED_AT, err);
}

static ev_errcode_t
volume_full(ev_error_t *err, const char *field, const char *what)
{
    return out_of_range(err,
                        "%s: with it, the %s in the log would add up to more than "
                        "9223372036854775807, the largest total pacer can hold",
                        field, what);
}

static ev_errcode_t
check_node_ref(projection_t *self, const event_t *ev, ev_field_t f, ev_error_t *err)
{
    if (!event_has(ev, f) || node_by_name(self, ev->v[f].s))
        return EVE_OK;
    return bad(err, "%s: \"%.*s\" is not a defined node", ev_field_name(f), Q(ev->v[f].s));
}

static ev_errcode_t
check_parent(projection_t *self, const event_t *ev, ev_error_t *err)
{
    if (!event_has(ev, F_PARENT))
        return EVE_OK;
    ev_errcode_t rc = check_node_ref(self, ev, F_PARENT, err);
    if (rc != EVE_OK)
        return rc;
    uint32_t node = find(self, self->nodes_sym, ev->v[F_NODE].s);
    uint32_t parent = find(self, self->nodes_sym, ev->v[F_PARENT].s);
    if (!node)
        return EVE_OK;
    /* The new parent may not be the node or under it on any day from the
       move on; checking the latest membership and the move's own day
       covers every chain the fold can build. */
    int64_t at = event_has(ev, F_EFFECTIVE_AT) ? ev->v[F_EFFECTIVE_AT].i : ev->v[F_OCCURRED_AT].i;
    int32_t days[2] = {proj_day_of(self, at), DAY_MAX};
    for (int i = 0; i < 2; i++)
        if (proj_is_under(self, parent, node, days[i]))
            return bad(err, "parent: \"%.*s\" is under \"%.*s\"; the move would make a cycle",
                       Q(ev->v[F_PARENT].s), Q(ev->v[F_NODE].s));
    return EVE_OK;
}

/* Sales and activity may name a node the organisation does not define yet
   (the CRM and the HR system are different producers): they are credited
   to it, and roll up once it is defined. A retired node takes no credit. */
static ev_errcode_t
check_credit_rep(projection_t *self, const event_t *ev, ev_field_t f, ev_error_t *err)
{
    ev_errcode_t rc = check_day(self, ev, F_OCCURRED_AT, err);
    node_t *n = node_by_name(self, ev->v[f].s);
    if (rc != EVE_OK || !n)
        return rc;
    if (proj_day_of(self, ev->v[F_OCCURRED_AT].i) >= n->retired_day && n->retired_day)
        return bad(err, "%s: \"%.*s\" is retired at that time", ev_field_name(f), Q(ev->v[f].s));
    return EVE_OK;
}

static order_t *
order_by_name(projection_t *self, ev_str_t s)
{
    uint32_t id = find(self, self->orders_sym, s);
    return id && id < self->norders && self->orders[id].rep ? &self->orders[id] : NULL;
}

static ev_errcode_t
check_target_key(projection_t *self, const event_t *ev, bool intern, ev_error_t *err,
                 uint32_t *metric, period_t *period)
{
    ev_errcode_t rc = check_node_ref(self, ev, F_SCOPE, err);
    if (rc != EVE_OK)
        return rc;
    char why[200];
    const ev_str_t *m = &ev->v[F_METRIC].s;
    if (intern ? !(*metric = proj_metric(self, m->ptr, m->len, why, sizeof why))
               : !metric_known(self, m->ptr, m->len, metric, why, sizeof why))
        return bad(err, "metric: %s", why);
    char name[PERIOD_NAME_MAX + 8];
    snprintf(name, sizeof name, "%.*s", Q(ev->v[F_PERIOD].s));
    if (calendar_period_parse(self->cal, name, period, why, sizeof why) != 0)
        return bad(err, "period: %s", why);
    if (beyond_last_day(self, period->end_ms - 1))
        return out_of_range(err,
                            "period: %s ends after " LAST_DAY_NAME ", the last day pacer counts",
                            period->name);
    return EVE_OK;
}

static bool
tiers_after(const target_t *t, const event_t *ev, int64_t out[3], uint8_t *mask)
{
    static const ev_field_t f[3] = {F_FLOOR, F_TARGET, F_STRETCH};
    *mask = t ? t->mask : 0;
    for (int i = 0; i < 3; i++) {
        out[i] = t ? t->tiers[i] : 0;
        if (event_has(ev, f[i])) {
            out[i] = ev->v[f[i]].i;
            *mask |= (uint8_t)(1u << i);
        }
    }
    if ((*mask & 1) && out[0] > out[1])
        return false;
    if ((*mask & 4) && out[2] < out[1])
        return false;
    return true;
}

ev_errcode_t
projection_check(projection_t *self, const event_t *ev, ev_error_t *err)
{
    err->code = EVE_OK;
    err->message[0] = 0;
    ev_errcode_t rc = EVE_OK;
    switch (ev->type) {
    case EV_NODE_DEFINED: {
        if ((rc = check_effective_day(self, ev, err)) != EVE_OK)
            return rc;
        node_t *existing = node_by_name(self, ev->v[F_NODE].s);
        if (existing && existing->kind != ev->v[F_KIND].i)
            return bad(err, "kind: \"%.*s\" is already defined as another kind",
                       Q(ev->v[F_NODE].s));
        return check_parent(self, ev, err);
    }
    case EV_NODE_MOVED:
        if ((rc = check_effective_day(self, ev, err)) != EVE_OK ||
            (rc = check_node_ref(self, ev, F_NODE, err)) != EVE_OK)
            return rc;
        return check_parent(self, ev, err);
    case EV_NODE_RETIRED:
        if ((rc = check_effective_day(self, ev, err)) != EVE_OK)
            return rc;
        return check_node_ref(self, ev, F_NODE, err);
    case EV_TARGET_SET:
    case EV_TARGET_ADJUSTED: {
        uint32_t metric;
        period_t period;
        if ((rc = check_target_key(self, ev, false, err, &metric, &period)) != EVE_OK)
            return rc;
        uint32_t scope = find(self, self->nodes_sym, ev->v[F_SCOPE].s);
        uint32_t psym = symtab_find(self->periods_sym, period.name, strlen(period.name));
        uint32_t pl =
            event_has(ev, F_PRODUCT_LINE) ? find(self, self->pl_sym, ev->v[F_PRODUCT_LINE].s) : 0;
        bool known_pl = !event_has(ev, F_PRODUCT_LINE) || pl;
        target_t *t = psym && known_pl ? proj_target(self, scope, metric, pl, psym) : NULL;
        if (ev->type == EV_TARGET_ADJUSTED && !t)
            return bad(err, "target: no target is set for %.*s / %.*s / %s%s%.*s to adjust",
                       Q(ev->v[F_SCOPE].s), Q(ev->v[F_METRIC].s), period.name,
                       event_has(ev, F_PRODUCT_LINE) ? " / " : "",
                       event_has(ev, F_PRODUCT_LINE) ? (int)ev->v[F_PRODUCT_LINE].s.len : 0,
                       event_has(ev, F_PRODUCT_LINE) ? ev->v[F_PRODUCT_LINE].s.ptr : "");
        int64_t tiers[3];
        uint8_t mask;
        if (ev->type == EV_TARGET_ADJUSTED && !tiers_after(t, ev, tiers, &mask)) {
            /* the same code as a tier order broken within one event */
            bad(err, "target: after this adjustment floor <= target <= stretch would not hold");
            err->code = EVE_OUT_OF_RANGE;
            return EVE_OUT_OF_RANGE;
        }
        return EVE_OK;
    }
    case EV_SALE_CLOSED: {
        if ((rc = check_credit_rep(self, ev, F_REP, err)) != EVE_OK)
            return rc;
        if (order_by_name(self, ev->v[F_ORDER].s))
            return bad(err, "order: \"%.*s\" is already booked; refund or cancel it instead",
                       Q(ev->v[F_ORDER].s));
        int64_t margin = event_has(ev, F_MARGIN) ? ev->v[F_MARGIN].i : 0;
        if (!volume_fits(self->volume[B_REVENUE - 1], ev->v[F_AMOUNT].i))
            return volume_full(err, "amount", "amounts of every sale");
        if (!volume_fits(self->volume[B_MARGIN - 1], margin < 0 ? -margin : margin))
            return volume_full(err, "margin", "margins of every sale, as magnitudes,");
        return EVE_OK;
    }
    case EV_SALE_REFUNDED:
    case EV_SALE_CANCELLED: {
        order_t *o = order_by_name(self, ev->v[F_ORDER].s);
        if (!o)
            return bad(err, "order: \"%.*s\" is not a booked order", Q(ev->v[F_ORDER].s));
        if (o->cancelled)
            return bad(err, "order: \"%.*s\" is already cancelled", Q(ev->v[F_ORDER].s));
        if (ev->type == EV_SALE_CANCELLED)
            return EVE_OK;
        if (memcmp(o->currency, ev->v[F_CURRENCY].s.ptr, 3) != 0)
            return bad(err, "currency: the order is in %.3s", o->currency);
        if (ev->v[F_AMOUNT].i > o->remaining)
            return bad(err,
                       "amount: %" PRId64 " is more than the %" PRId64 " that remains of "
                       "order \"%.*s\"",
                       ev->v[F_AMOUNT].i, o->remaining, Q(ev->v[F_ORDER].s));
        return EVE_OK;
    }
    case EV_PAYMENT_RECEIVED:
        if (!volume_fits(self->volume[B_COLL - 1], ev->v[F_AMOUNT].i))
            return volume_full(err, "amount", "amounts of every payment");
        if (event_has(ev, F_REP))
            return check_credit_rep(self, ev, F_REP, err);
        if (event_has(ev, F_ORDER) && order_by_name(self, ev->v[F_ORDER].s))
            return check_day(self, ev, F_OCCURRED_AT, err);
        return bad(err, "rep: required when the payment's order is not a booked order");
    case EV_ACTIVITY_LOGGED:
    case EV_CUSTOMER_CREATED:
        return check_credit_rep(self, ev, F_REP, err);
    case EV_KPI_DEFINED: {
        uint32_t k = find(self, self->kpis_sym, ev->v[F_KPI].s);
        if (k && k < self->nkpis && self->kpis[k].defined &&
            self->kpis[k].agg != ev->v[F_AGGREGATION].i)
            return bad(err, "aggregation: kpi \"%.*s\" is already defined with another",
                       Q(ev->v[F_KPI].s));
        return EVE_OK;
    }
    case EV_KPI_RECORDED: {
        uint32_t k = find(self, self->kpis_sym, ev->v[F_KPI].s);
        if (!k || k >= self->nkpis || !self->kpis[k].defined)
            return bad(err, "kpi: \"%.*s\" has no kpi_defined", Q(ev->v[F_KPI].s));
        int64_t v = kpi_thousandths(ev);
        if (!volume_fits(self->kpis[k].volume, v < 0 ? -v : v))
            return volume_full(err, "value", "values of this KPI, as magnitudes in thousandths,");
        return check_credit_rep(self, ev, F_SCOPE, err);
    }
    default:
        return EVE_OK;
    }
}

/* ---------------------------------------------------------------------
   Fold */

static int
add_membership(projection_t *self, node_t *n, int32_t day, uint32_t parent)
{
    if (grow((void **)&n->mem, &n->capmem, n->nmem + 1, sizeof(member_t)) != 0)
        return -1;
    uint32_t i = n->nmem;
    while (i > 0 && n->mem[i - 1].day > day) {
        n->mem[i] = n->mem[i - 1];
        i--;
    }
    n->mem[i].day = day;
    n->mem[i].parent = parent;
    n->nmem++;
    self->membership_gen++;
    if (parent)
        self->nodes[parent].ever_parent = true;
    return 0;
}

/* A membership change from `day` on can move credit between chains: redo
   every running total of a parent node that the change can reach. */
static void
recompute_after(projection_t *self, int32_t day)
{
    for (uint32_t i = 0; i < self->ntargets; i++) {
        target_t *t = &self->targets[i];
        if (t->d1 > day && self->nodes[t->scope].ever_parent)
            proj_recompute(self, t);
    }
}

static int
fold_node(projection_t *self, const event_t *ev)
{
    uint32_t id = intern(self, self->nodes_sym, ev->v[F_NODE].s);
    if (!id || grow((void **)&self->nodes, &self->nnodes, id + 1, sizeof(node_t)) != 0)
        return -1;
    node_t *n = &self->nodes[id];
    int64_t at = event_has(ev, F_EFFECTIVE_AT) ? ev->v[F_EFFECTIVE_AT].i : ev->v[F_OCCURRED_AT].i;
    int32_t day = proj_day_of(self, at);
    if (ev->type == EV_NODE_RETIRED) {
        n->retired_day = day ? day : 1;
        return 0;
    }
    uint32_t parent = event_has(ev, F_PARENT) ? find(self, self->nodes_sym, ev->v[F_PARENT].s) : 0;
    if (ev->type == EV_NODE_DEFINED) {
        bool was = n->defined;
        n->defined = true;
        if (!was && n->credited)
            self->undefined_credited--;
        n->kind = (uint8_t)ev->v[F_KIND].i;
        n->name = intern(self, self->text_sym, ev->v[F_NAME].s);
        if (event_has(ev, F_OWNER))
            n->owner = intern(self, self->text_sym, ev->v[F_OWNER].s);
        if (was && (!event_has(ev, F_PARENT) || proj_parent_at(self, id, day) == parent))
            return 0; /* a rename or a new owner */
    }
    /* a node's first membership also applies before it (see EVENTS.md) */
    int32_t from = n->nmem == 0 ? 0 : day;
    if (add_membership(self, n, day, parent) != 0)
        return -1;
    if (n->credited || n->ever_parent)
        recompute_after(self, from);
    return 0;
}

static uint32_t
product_line(projection_t *self, const event_t *ev)
{
    return event_has(ev, F_PRODUCT_LINE) ? intern(self, self->pl_sym, ev->v[F_PRODUCT_LINE].s) : 0;
}

static int
add_history(projection_t *self, target_t *t, const event_t *ev, uint64_t seq, int64_t recorded_at,
            const int64_t before[3], uint8_t before_mask)
{
    if (grow((void **)&t->hist, &t->caphist, t->nhist + 1, sizeof(hist_t)) != 0)
        return -1;
    hist_t *h = &t->hist[t->nhist++];
    h->seq = seq;
    h->occurred_at = ev->v[F_OCCURRED_AT].i;
    h->recorded_at = recorded_at;
    h->kind = ev->type == EV_TARGET_SET ? 0 : 1;
    h->author = intern(self, self->text_sym, ev->v[F_AUTHOR].s);
    h->reason = event_has(ev, F_REASON) ? intern(self, self->text_sym, ev->v[F_REASON].s) : 0;
    h->allocation =
        event_has(ev, F_ALLOCATION) ? intern(self, self->text_sym, ev->v[F_ALLOCATION].s) : 0;
    memcpy(h->before, before, sizeof h->before);
    h->before_mask = before_mask;
    memcpy(h->after, t->tiers, sizeof h->after);
    h->after_mask = t->mask;
    return 0;
}

static int
fold_target(projection_t *self, const event_t *ev, uint64_t seq, int64_t recorded_at)
{
    uint32_t metric;
    period_t period;
    ev_error_t err;
    if (check_target_key(self, ev, true, &err, &metric, &period) != EVE_OK)
        return 1;
    uint32_t scope = find(self, self->nodes_sym, ev->v[F_SCOPE].s);
    uint32_t psym = symtab_intern(self->periods_sym, period.name, strlen(period.name));
    uint32_t pl = product_line(self, ev);
    if (!psym || (event_has(ev, F_PRODUCT_LINE) && !pl))
        return -1;
    char key[PROJ_KEY_LEN];
    proj_key(key, scope, metric, pl, psym);
    uint32_t id = symtab_intern(self->target_keys, key, sizeof key);
    if (!id)
        return -1;
    assert(id <= self->ntargets + 1); /* keys are interned in target order */
    if (id > self->ntargets) {
        if (grow((void **)&self->targets, &self->captargets, self->ntargets + 1,
                 sizeof(target_t)) != 0)
            return -1;
        target_t *t = &self->targets[self->ntargets];
        t->scope = scope;
        t->metric = metric;
        t->pl = pl;
        t->period_sym = psym;
        t->period_kind = (uint8_t)period.kind;
        t->start_ms = period.start_ms;
        t->end_ms = period.end_ms;
        t->d0 = proj_day_of(self, period.start_ms);
        t->d1 = proj_day_of(self, period.end_ms);
        node_t *n = &self->nodes[scope];
        if (grow((void **)&n->targets, &n->captargets, n->ntargets + 1, sizeof(tref_t)) != 0)
            return -1;
        t->tref = n->ntargets;
        proj_tref(self, &n->targets[n->ntargets++], self->ntargets);
        self->ntargets++;
        proj_recompute(self, t);
    }
    target_t *t = &self->targets[id - 1];
    int64_t before[3];
    memcpy(before, t->tiers, sizeof before);
    uint8_t before_mask = t->mask;
    if (ev->type == EV_TARGET_SET) {
        t->mask = 0;
        memset(t->tiers, 0, sizeof t->tiers);
        if (event_has(ev, F_CURRENCY))
            memcpy(t->currency, ev->v[F_CURRENCY].s.ptr, 3);
    }
    uint8_t mask;
    int64_t tiers[3];
    tiers_after(ev->type == EV_TARGET_SET ? NULL : t, ev, tiers, &mask);
    memcpy(t->tiers, tiers, sizeof tiers);
    t->mask = mask;
    proj_touch(self, (uint32_t)(t - self->targets));
    return add_history(self, t, ev, seq, recorded_at, before, before_mask);
}

static int
fold_sale(projection_t *self, const event_t *ev)
{
    uint32_t rep = node_ref(self, ev->v[F_REP].s);
    uint32_t pl = product_line(self, ev);
    int32_t day = proj_day_of(self, ev->v[F_OCCURRED_AT].i);
    uint32_t id = intern(self, self->orders_sym, ev->v[F_ORDER].s);
    if (!rep || (event_has(ev, F_PRODUCT_LINE) && !pl) || !id || grow_orders(self, id + 1) != 0)
        return -1;
    order_t *o = &self->orders[id];
    o->rep = rep;
    o->pl = pl;
    o->day = day;
    memcpy(o->currency, ev->v[F_CURRENCY].s.ptr, 3);
    o->remaining = ev->v[F_AMOUNT].i;
    o->margin = event_has(ev, F_MARGIN) ? ev->v[F_MARGIN].i : 0;
    self->volume[B_REVENUE - 1] += o->remaining;
    self->volume[B_MARGIN - 1] += o->margin < 0 ? -o->margin : o->margin;
    delta_t d[3] = {{B_REVENUE, o->remaining}, {B_MARGIN, o->margin}, {B_DEALS, 1}};
    return credit(self, rep, pl, day, d, 3);
}

static int
fold_reversal(projection_t *self, const event_t *ev)
{
    order_t *o = order_by_name(self, ev->v[F_ORDER].s);
    int64_t amount = ev->type == EV_SALE_CANCELLED ? o->remaining : ev->v[F_AMOUNT].i;
    /* margin shrinks in proportion to the amount taken back */
    int64_t margin = o->remaining ? (int64_t)((__int128)o->margin * amount / o->remaining) : 0;
    bool ends = ev->type == EV_SALE_CANCELLED || amount == o->remaining;
    delta_t d[3] = {{B_REVENUE, -amount}, {B_MARGIN, -margin}, {B_DEALS, -1}};
    if (credit(self, o->rep, o->pl, o->day, d, ends && o->remaining > 0 ? 3 : 2) != 0)
        return -1;
    o->remaining -= amount;
    o->margin -= margin;
    if (ev->type == EV_SALE_CANCELLED)
        o->cancelled = true;
    return 0;
}

static int
fold_payment(projection_t *self, const event_t *ev)
{
    order_t *o = event_has(ev, F_ORDER) ? order_by_name(self, ev->v[F_ORDER].s) : NULL;
    uint32_t rep = event_has(ev, F_REP) ? node_ref(self, ev->v[F_REP].s) : o->rep;
    if (!rep)
        return -1;
    delta_t d = {B_COLL, ev->v[F_AMOUNT].i};
    self->volume[B_COLL - 1] += d.delta;
    return credit(self, rep, o ? o->pl : 0, proj_day_of(self, ev->v[F_OCCURRED_AT].i), &d, 1);
}

static int
fold_kpi_defined(projection_t *self, const event_t *ev)
{
    uint32_t k = intern(self, self->kpis_sym, ev->v[F_KPI].s);
    if (!k || grow((void **)&self->kpis, &self->nkpis, k + 1, sizeof(kpi_t)) != 0)
        return -1;
    self->kpis[k].defined = true;
    self->kpis[k].agg = (uint8_t)ev->v[F_AGGREGATION].i;
    return 0;
}

static int
fold_kpi(projection_t *self, const event_t *ev)
{
    uint32_t k = find(self, self->kpis_sym, ev->v[F_KPI].s);
    uint32_t node = node_ref(self, ev->v[F_SCOPE].s);
    int32_t day = proj_day_of(self, ev->v[F_OCCURRED_AT].i);
    uint32_t pl = product_line(self, ev);
    if (!node || (event_has(ev, F_PRODUCT_LINE) && !pl))
        return -1;
    uint32_t base = B_KPI0 + 2 * (k - 1);
    delta_t d[2] = {{base, kpi_thousandths(ev)}, {base + 1, 1}};
    self->kpis[k].volume += d[0].delta < 0 ? -d[0].delta : d[0].delta;
    return credit(self, node, pl, day, d, 2);
}

static int
fold_day(projection_t *self, const event_t *ev)
{
    const char *s = ev->v[F_DATE].s.ptr;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    calendar_day_t kind =
        ev->v[F_DAY_TYPE].i == DAY_HOLIDAY ? CALENDAR_DAY_HOLIDAY : CALENDAR_DAY_WORKING;
    char err[128];
    if (calendar_set_day(self->cal, y, m, d, kind, err, sizeof err) != 0)
        return 1;
    if (grow((void **)&self->days, &self->capdays, self->ndays + 1, sizeof(day_override_t)) != 0)
        return -1;
    day_override_t *o = &self->days[self->ndays++];
    o->y = (int16_t)y;
    o->m = (int8_t)m;
    o->d = (int8_t)d;
    o->kind = (int8_t)kind;
    return 0;
}

int
projection_fold(projection_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev)
{
    ev_error_t err;
    if (projection_check(self, ev, &err) != EVE_OK) {
        self->seq = seq;
        self->skipped++;
        return 0;
    }
    return projection_fold_checked(self, seq, recorded_at, ev);
}

int
projection_fold_checked(projection_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev)
{
    self->seq = seq;
    int rc = 0;
    switch (ev->type) {
    case EV_NODE_DEFINED:
    case EV_NODE_MOVED:
    case EV_NODE_RETIRED:
        rc = fold_node(self, ev);
        break;
    case EV_TARGET_SET:
    case EV_TARGET_ADJUSTED:
        rc = fold_target(self, ev, seq, recorded_at);
        break;
    case EV_SALE_CLOSED:
        rc = fold_sale(self, ev);
        break;
    case EV_SALE_REFUNDED:
    case EV_SALE_CANCELLED:
        rc = fold_reversal(self, ev);
        break;
    case EV_PAYMENT_RECEIVED:
        rc = fold_payment(self, ev);
        break;
    case EV_ACTIVITY_LOGGED: {
        uint32_t rep = node_ref(self, ev->v[F_REP].s);
        int32_t day = proj_day_of(self, ev->v[F_OCCURRED_AT].i);
        delta_t d[2] = {{B_ACT, 1}, {(uint32_t)(B_VISIT + ev->v[F_ACTIVITY].i), 1}};
        rc = !rep || credit(self, rep, 0, day, d, 2) ? -1 : 0;
        break;
    }
    case EV_CUSTOMER_CREATED: {
        uint32_t rep = node_ref(self, ev->v[F_REP].s);
        delta_t d = {B_NEWCUST, 1};
        rc = rep ? credit(self, rep, 0, proj_day_of(self, ev->v[F_OCCURRED_AT].i), &d, 1) : -1;
        break;
    }
    case EV_KPI_DEFINED:
        rc = fold_kpi_defined(self, ev);
        break;
    case EV_KPI_RECORDED:
        rc = fold_kpi(self, ev);
        break;
    case EV_CALENDAR_DAY_SET:
        rc = fold_day(self, ev);
        break;
    default:
        break;
    }
    if (rc > 0) {
        self->skipped++;
        rc = 0;
    }
    return rc;
}

int
projection_fold_bytes(projection_t *self, uint64_t seq, int64_t recorded_at, const uint8_t *event,
                      size_t len)
{
    /* one event, decoded as a batch is, but folded without the prefetch
       passes: tests compare the two ways */
    projection_item_t item = {seq, recorded_at, event, len};
    fold_event_t d;
    projection_decode_batch(&item, 1, &self->zone, &d);
    int rc = 0;
    if (!d.ok) {
        self->skipped++;
        self->seq = seq;
    } else
        rc = projection_fold(self, seq, recorded_at, &d.ev);
    msgpack_zone_clear(&self->zone); /* kept: one allocation for the whole replay */
    return rc;
}

/* The projection as a fold (projection.h). */

static void *
fold_create(const det_env_t *env)
{
    return projection_new(env->cal);
}

static void
fold_destroy(void **state_p)
{
    projection_t *self = *state_p;
    projection_destroy(&self);
    *state_p = NULL;
}

static ev_errcode_t
fold_check(void *state, const event_t *ev, ev_error_t *err)
{
    return projection_check(state, ev, err);
}

static int
fold_one(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
         void *arg)
{
    (void)emit, (void)arg; /* the projection raises no flags */
    return projection_fold(state, seq, recorded_at, ev);
}

static int
fold_one_checked(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev,
                 det_emit_fn *emit, void *arg)
{
    (void)emit, (void)arg;
    return projection_fold_checked(state, seq, recorded_at, ev);
}

static int
fold_batch(void *state, const fold_event_t *d, size_t n)
{
    return projection_fold_decoded(state, d, n);
}

static int
save_section(void *state, msgpack_sbuffer *out)
{
    return projection_save(state, out);
}

static int
load_section(void *state, const void *data, size_t len, char *err, size_t errlen)
{
    return projection_load(state, data, len, err, errlen);
}

const fold_class_t fold_projection = {.name = "projection",
                                      .version = PROJECTION_VERSION,
                                      .create = fold_create,
                                      .destroy = fold_destroy,
                                      .check = fold_check,
                                      .fold = fold_one,
                                      .fold_checked = fold_one_checked,
                                      .fold_batch = fold_batch,
                                      .save_section = save_section,
                                      .load_section = load_section};
