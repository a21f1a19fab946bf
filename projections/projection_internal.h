/*  projection_internal: the projection's state, shared by its own files
    (projection.c: checks and fold; report.c: queries; snapshot.c: save and
    load). Not part of the public surface: use projection.h.

    Identity: every name is interned as a 32-bit id (symtab), and the two
    maps over several ids, target keys (scope, metric, product line,
    period) and KPI cells (node, base, product line, day), intern their
    four ids as a 16-byte key (proj_key). No id is packed into a narrower
    field, so nodes, metrics, product lines and periods have no limit
    but memory. The one bound left is the day: DAY_MAX, see EVENTS.md
    ("Limits"); projection_check refuses what would fall beyond it.

    Day rows: the built-in base metrics (B_REVENUE .. B_COLL) credited to one
    node, product line and day share one row. A node keeps one series per
    product line it was credited with (0: events without one); "all product
    lines" is the sum over a node's series, taken when read, so that an
    event writes one row. A series keeps its rows in blocks of
    BLOCK_DAYS consecutive days, addressed directly by day. The fold is bound
    by memory latency: a sale reaches its row through the node (a small, hot
    table) with no hash probe, and one miss on the row itself; a range of
    days is a contiguous scan for queries. Blocks exist only where a node was
    credited, so a stray old date costs a block-table slot per 32 days, not
    a block. Memory grows with nodes x product lines x active days, not with
    events. Custom KPIs, unbounded in number, keep one hash cell per base in
    `cell_keys` / `cell_vals`.

    Totals never wrap: `volume` adds up the magnitude of every amount the
    log credits to each money base (and each KPI's sum), and
    projection_check refuses an event that would take it past INT64_MAX.
    Any total the projection reports (a day, a node, a roll-up to the
    company, over any days and product lines) adds up a subset of those
    amounts, net of refunds that never exceed what they reverse, so its
    magnitude is at most that volume: no sum of int64 can overflow. Counts
    are bound the same way by the number of events (seq). projection_load
    refuses a snapshot whose values break these bounds (snapshot.c, "Values
    against their bounds"). */

#ifndef PACER_PROJECTION_INTERNAL_H
#define PACER_PROJECTION_INTERNAL_H

#include "projections/projection.h"
#include "projections/symtab.h"

#include <stdarg.h>
#include <string.h>

#define CHAIN_MAX 64
/* Days are numbered from 1 = 1970-01-01 (local). The last day the
   projection counts is DAY_MAX - 1 (2687-09-20); proj_day_of clamps to
   DAY_MAX, which no accepted event reaches. It bounds the block table of
   a series that a stray date could stretch (8 bytes per 32 days). */
#define DAY_MAX ((1 << 18) - 1)

/* Base metrics: what cells hold. Metric definitions combine them. */
enum {
    B_NONE,
    B_REVENUE,
    B_MARGIN,
    B_DEALS,
    B_NEWCUST,
    B_ACT,
    B_VISIT, /* B_VISIT + ACTIVITY_x */
    B_CALL,
    B_QUOTE,
    B_DEMO,
    B_COLL,
    B_KPI0 = 16 /* kpi k: sum at B_KPI0 + 2(k-1), count at +1 */
};

enum { M_NONE, M_SUM, M_RATIO, M_AVG };

#define ROW_BASES  B_COLL /* bases 1 .. B_COLL live in day rows */
#define BLOCK_DAYS 32

typedef struct {
    int64_t v[ROW_BASES]; /* v[base - 1] */
} dayrow_t;

typedef struct {
    uint32_t pl;
    uint32_t b0;       /* block number (day / BLOCK_DAYS) of blocks[0] */
    uint32_t nblocks;  /* blocks[0 .. nblocks) */
    dayrow_t **blocks; /* BLOCK_DAYS rows each; NULL where nothing was credited */
} series_t;

typedef struct {
    uint32_t num, den; /* base metrics */
    uint8_t kind;
} metric_t;

typedef struct {
    int32_t day;
    uint32_t parent;
} member_t;

/* A node's own targets, with what crediting reads and writes inline: the
   fold walks a node's trefs (contiguous) and never touches a target_t,
   which would be a cache miss per target. The running actuals live here. */
typedef struct {
    int64_t num, den;                /* running actuals */
    uint32_t idx;                    /* into projection.targets */
    int32_t d0, d1;                  /* the target's days [d0, d1) */
    uint32_t pl, num_base, den_base; /* product line; the metric's base metrics */
} tref_t;

typedef struct {
    bool defined, ever_parent, credited;
    uint8_t kind;
    uint32_t name, owner; /* text_sym */
    int32_t retired_day;  /* 0: not retired */
    int32_t first_day, last_day;
    member_t *mem; /* by day; the last entry with day <= d is in force on d */
    uint32_t nmem, capmem;
    tref_t *targets;
    uint32_t ntargets, captargets;
    series_t *series; /* in order of first credit */
    uint32_t nseries, capseries;
} node_t;

typedef struct {
    uint32_t rep, pl;
    int32_t day;
    char currency[4];
    int64_t remaining, margin;
    bool cancelled;
} order_t;

typedef struct {
    uint64_t seq;
    int64_t occurred_at, recorded_at;
    uint8_t kind; /* 0 set, 1 adjust */
    uint8_t before_mask, after_mask;
    uint32_t author, reason, allocation; /* text_sym, 0 = none */
    int64_t before[3], after[3];
} hist_t;

typedef struct {
    uint32_t scope, metric, pl, period_sym;
    uint8_t period_kind;
    uint8_t mask; /* bit 0 floor, 1 target, 2 stretch */
    char currency[4];
    int64_t start_ms, end_ms;
    int32_t d0, d1; /* days [d0, d1) */
    int64_t tiers[3];
    uint32_t tref; /* its tref: nodes[scope].targets[tref] */
    hist_t *hist;
    uint32_t nhist, caphist;
} target_t;

typedef struct {
    bool defined;
    uint8_t agg;
    int64_t volume; /* sum of |value x 1000| of its records, see above */
} kpi_t;

#define DAY_CACHE 4096 /* hours; a power of two */
#define MEMO_SIZE 512  /* a power of two */

typedef struct {
    const char *ptr; /* the name's bytes in the event; NULL: empty slot */
    const symtab_t *t;
    uint32_t len, id; /* id 0: not found when the batch was prefetched */
    uint64_t h;       /* symtab_hash of the name */
} memo_t;

static inline size_t
proj_memo_slot(const symtab_t *t, const char *ptr)
{
    return (size_t)(((uintptr_t)ptr * 0x9E3779B97F4A7C15ULL ^ (uintptr_t)t) >> 40) &
           (MEMO_SIZE - 1);
}

typedef struct {
    int64_t start_ms, end_ms; /* empty: start_ms == end_ms */
    int32_t day;
} day_cache_t;

typedef struct {
    int16_t y;
    int8_t m, d, kind;
} day_override_t;

typedef struct pclock {
    bool valid;
    uint32_t gen;
    int64_t now;
    double days_elapsed, days_total, working_elapsed, working_total;
} pclock_t;

struct _projection_t {
    calendar_t *cal;
    int64_t day_base;
    uint64_t seq, skipped;
    symtab_t *nodes_sym, *metrics_sym, *periods_sym, *pl_sym, *orders_sym, *kpis_sym, *text_sym;
    node_t *nodes; /* by nodes_sym id */
    uint32_t nnodes;
    metric_t *metrics; /* by metrics_sym id */
    uint32_t nmetrics;
    order_t *orders; /* by orders_sym id */
    uint32_t norders;
    kpi_t *kpis; /* by kpis_sym id */
    uint32_t nkpis;
    target_t *targets;
    uint32_t ntargets, captargets;
    symtab_t *target_keys; /* proj_key(scope, metric, pl, period): id = index + 1 */
    symtab_t *cell_keys;   /* proj_key(node, KPI base, pl, day): id - 1 indexes cell_vals */
    int64_t *cell_vals;
    uint32_t capcell_vals;
    int64_t volume[ROW_BASES]; /* by base - 1: sum of |amount| credited, see above */
    char **chunks;             /* blocks are carved from these (bigmem, zeroed) */
    uint32_t nchunks, capchunks;
    size_t chunk_used, chunk_cap;
    uint64_t nblocks;   /* blocks handed out */
    uint32_t *credited; /* nodes that have cells, in first-credit order */
    uint32_t ncredited, capcredited;
    uint32_t undefined_credited; /* credited nodes not defined; derived, not saved */
    day_override_t *days;
    uint32_t ndays, capdays;
    /* The last chain credit() walked: an event credits several base
       metrics to one node on one day. Not state: never saved. */
    uint32_t chain[CHAIN_MAX];
    int chain_len;
    uint32_t chain_node;
    int32_t chain_day;
    uint64_t membership_gen, chain_gen;
    msgpack_zone zone;                /* projection_fold_bytes' decoding scratch */
    day_cache_t day_cache[DAY_CACHE]; /* proj_day_of's; not state */
    memo_t memo[MEMO_SIZE];           /* names resolved for the batch being folded */
    int64_t *load_sums;               /* snapshot loading's scratch */
    bool memo_on;
    /* Targets changed since the last projection_take_changes, for the
       alert rules (daemon/alerter); tracked only when asked for (the live
       projection), never while replaying. Not state: never saved. */
    bool track;
    uint8_t *changed;      /* by target index: listed in changes[] */
    uint64_t *changed_seq; /* by target index: the newest seq that changed it */
    uint32_t capchanged;
    uint32_t *changes;
    uint32_t nchanges, capchanges;
    /* Each period's clock at the last now asked (by period symbol), valid
       while no calendar_day_set folded since (gen = ndays); not state. */
    struct pclock *pclocks;
    uint32_t cappclocks;
    /* Each target's period, parsed once for the alert rules (not state). */
    period_t *tperiods;
    uint8_t *tperiod_ok;
    uint32_t captperiods;
};

/* The 16 bytes a map of several ids interns (native byte order: the
   key never leaves the process; snapshots write the ids). */
#define PROJ_KEY_LEN 16
static inline void
proj_key(char key[PROJ_KEY_LEN], uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    const uint32_t v[4] = {a, b, c, d};
    memcpy(key, v, PROJ_KEY_LEN);
}

int32_t proj_day_of(projection_t *self, int64_t t);
node_t *proj_node(projection_t *self, uint32_t id);
uint32_t proj_parent_at(projection_t *self, uint32_t id, int32_t day);
int proj_chain(projection_t *self, uint32_t id, int32_t day, uint32_t *chain);
bool proj_is_under(projection_t *self, uint32_t id, uint32_t ancestor, int32_t day);
uint32_t proj_metric(projection_t *self, const char *s, size_t len, char *why, size_t whylen);
target_t *proj_target(projection_t *self, uint32_t scope, uint32_t metric, uint32_t pl,
                      uint32_t period);
int64_t proj_cell(projection_t *self, uint32_t node, uint32_t base, uint32_t pl, int32_t day);
/* Sum of proj_cell over days [d0, d1). */
int64_t proj_cell_sum(projection_t *self, uint32_t node, uint32_t base, uint32_t pl, int32_t d0,
                      int32_t d1);
/* The series of (node, pl), NULL if none; with create, added if new (NULL
   then only when out of memory). */
series_t *proj_series(projection_t *self, uint32_t node, uint32_t pl, bool create);
/* A zeroed block of BLOCK_DAYS rows from the chunks; NULL when out of memory. */
dayrow_t *proj_block_new(projection_t *self);
/* Make s's block table cover block b (new slots NULL); -1 when out of memory. */
int proj_series_cover(series_t *s, uint32_t b);
int64_t proj_rollup(projection_t *self, uint32_t node, uint32_t base, uint32_t pl, int32_t d0,
                    int32_t d1);
void proj_recompute(projection_t *self, target_t *t);
/* "acme/east/zhang": node's ids from the company down, by the chain in
   force on `day` (report.c; also the alert rules'). */
void proj_path(projection_t *self, uint32_t node, int32_t day, char *buf, size_t len);
/* A metric's value from its running numerator and denominator: the sum,
   the average, or a ratio in basis points (saturated at the int64 ends);
   *defined is false for a ratio or average over a zero denominator. */
int64_t proj_metric_value(const metric_t *m, int64_t num, int64_t den, bool *defined);
/* Note that target idx changed at the event being folded (self->seq). */
void proj_touch_slow(projection_t *self, uint32_t idx);
static inline void
proj_touch(projection_t *self, uint32_t idx)
{
    if (self->track)
        proj_touch_slow(self, idx);
}
/* Fill r from target idx (its key, period and metric must be set); the
   running actuals are left as they are. */
void proj_tref(projection_t *self, tref_t *r, uint32_t idx);

static inline tref_t *
proj_tref_of(projection_t *self, const target_t *t)
{
    return &self->nodes[t->scope].targets[t->tref];
}

#endif
