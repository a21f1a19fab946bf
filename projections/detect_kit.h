/*  detect_kit: what the anomaly detectors share (projections/detect_*.c).

    - dk_hash: a fast 64-bit hash of ids. Detectors know reps, customers,
      product lines and orders by the hash of their id, never 0; it is part
      of the snapshot format, so it must not change without bumping every
      detector's version.
    - dk_table_t: fixed-size records under a 64-bit key, kept in the order
      they were last put (oldest first), with eviction from the oldest end
      by age (dk_expire) and by capacity: a table grows by doubling up to
      its max_cap, and a put into a full table at max_cap evicts the oldest
      record. That is the "window with eviction" every per-order and
      per-customer lookup uses, so memory follows the rate of events times
      the window, never the length of the log.
    - dk_win: a ring of the last K values with a sorted copy beside it, for
      robust statistics over a fixed window: median and quantiles in O(1),
      the median absolute deviation in O(log K) (a k-th element of two
      sorted sequences), a push in O(K) memmove of floats.
    - Snapshot buffers (field by field, little-endian) and flag helpers.
    - dk_kit_t: a detector's parameters (name, place, range, default), its
      state's scalar fields and tables, described once; the kit's create,
      destroy, save, load, set_param and memory walk that description, so
      the snapshot format and load's checks are written in one place. A
      detector keeps hooks only for what is its own (a heap, a consistency
      check across fields, a cache to drop).

    Pointers to table records stay valid until the next dk_put or dk_del on
    the same table (a put may grow the table or evict).

    Errors: the kit has no codes of its own. A function that can fail
    returns 0 or -1 (out of memory, or input it refuses) and, where it
    takes err, writes a message naming the detector; dk_put returns NULL
    only when out of memory. The snapshot buffers keep a sticky `failed`
    flag instead, so a detector reads or writes a whole snapshot and
    checks once: dk_w_finish and dk_r_close turn it into -1 and a
    message. */

#ifndef PACER_DETECT_KIT_H
#define PACER_DETECT_KIT_H

#include "events/schema.h"
#include "projections/fold.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define DK_DAY  INT64_C(86400000)
#define DK_HOUR INT64_C(3600000)

/* ---- hashing and strings ---- */

/* 64-bit hash of len bytes, never 0. Stable across processes and builds. */
uint64_t dk_hash(const void *p, size_t len, uint64_t seed);
/* Combine two hashes (order matters); never 0. */
uint64_t dk_hash2(uint64_t a, uint64_t b);

static inline uint64_t
dk_hash_str(ev_str_t s)
{
    return dk_hash(s.ptr, s.len, 0);
}

/* The field's string hash, or 0 when the event does not have it. */
static inline uint64_t
dk_hash_field(const event_t *ev, ev_field_t f)
{
    return event_has(ev, f) ? dk_hash_str(ev->v[f].s) : 0;
}

/* Copy a string value into dst (NUL-terminated, truncated to cap - 1). */
void dk_copy(char *dst, size_t cap, ev_str_t s);
/* The field's string, or "" when absent. */
void dk_copy_field(char *dst, size_t cap, const event_t *ev, ev_field_t f);

/* ---- tables ---- */

typedef struct {
    size_t recsize, slotsize;
    uint32_t cap, max_cap, count;
    uint32_t oldest, newest; /* slot + 1; 0 none */
    uint32_t smask;          /* the bits of slot + 1 in an index entry: enough for max_cap */
    int64_t oldest_t;        /* the oldest record's time (INT64_MAX when empty): dk_expire
                                looks here, not at the record */
    int64_t slack;           /* see dk_table_slack; 0 after init */
    uint32_t free_list;      /* slot + 1 of a free slot, chained through next */
    uint32_t used;           /* slots handed out at least once */
    char *slots;
    uint32_t *idx; /* linear probing; 0 empty, else slot + 1 (the bits of smask), the entry's
                      distance from its home (dmask; its largest value means that far or
                      farther) and the top bits of its key (a tag) above: a probe reads a
                      record only when distance and tag match, a deletion reads none to
                      find the entries' homes unless they are that far */
    uint32_t dmask;
    uint32_t mask; /* of the index's size, a power of two up to 2^32 */
} dk_table_t;

/* recsize: the payload's size; init_cap and max_cap are rounded up to powers of two.
   0; -1 when out of memory (t is then empty and needs no dk_table_free). */
int dk_table_init(dk_table_t *t, size_t recsize, uint32_t init_cap, uint32_t max_cap);
void dk_table_free(dk_table_t *t);
/* Let a record put again within slack ms of its time keep its place and time (a put then
   costs no list work): expiry and eviction order are then exact to within slack, and
   dk_expire keeps records up to slack longer. */
static inline void
dk_table_slack(dk_table_t *t, int64_t slack)
{
    t->slack = slack;
}
/* Where key's probe starts in the index (its home). */
static inline size_t
dk_table_home(const dk_table_t *t, uint64_t key)
{
    return (size_t)(key ^ (key >> 29)) & t->mask;
}
/* Start loading the index entry a lookup of key reads first. A lookup in a large table
   waits on that cache miss; a detector that will look up keys in several tables prefetches
   them all first, so that the misses overlap. No effect on the table. */
static inline void
dk_prefetch(const dk_table_t *t, uint64_t key)
{
    __builtin_prefetch(&t->idx[dk_table_home(t, key)]);
}
/* Drop every record, keep the memory. */
void dk_table_clear(dk_table_t *t);
/* The record under key, or NULL. */
void *dk_get(dk_table_t *t, uint64_t key);
/* The record under key, added with a zeroed payload if new (*added = 1), and made the newest
   with time tm if that is later (see dk_table_slack). A full table at max_cap evicts its
   oldest record first. NULL: out of memory. */
void *dk_put(dk_table_t *t, uint64_t key, int64_t tm, int *added);
/* Make rec the newest, with time tm if that is later (see dk_table_slack). */
void dk_touch(dk_table_t *t, void *rec, int64_t tm);
void dk_del(dk_table_t *t, void *rec);
/* Delete records from the oldest end while their time is before cutoff (minus slack). */
void dk_expire(dk_table_t *t, int64_t cutoff);
/* Iteration, oldest first: dk_oldest, then dk_newer until NULL. */
void *dk_oldest(const dk_table_t *t);
void *dk_newer(const dk_table_t *t, const void *rec);
uint64_t dk_rec_key(const void *rec);
int64_t dk_rec_time(const void *rec);
size_t dk_table_memory(const dk_table_t *t);

/* ---- robust windows ---- */

/* A window of the last k values: ring (arrival order) and sorted (ascending), both k long. */
typedef struct {
    uint32_t n, pos;
} dk_win_t;

void dk_win_push(dk_win_t *w, float *ring, float *sorted, uint32_t k, float v);
/* 1 if a window read from a snapshot is whole, else 0: n and pos in range, the sorted copy sorted,
   finite, and holding the same values as the ring (a push looks each old value up in it). */
int dk_win_ok(const dk_win_t *w, const float *ring, const float *sorted, uint32_t k);
/* Of a sorted array of n > 0 values. */
float dk_median(const float *sorted, uint32_t n);
/* Median absolute deviation from med (the median of the same array). */
float dk_mad(const float *sorted, uint32_t n, float med);
/* Linear interpolation between order statistics, q in [0, 1]. */
float dk_quantile(const float *sorted, uint32_t n, double q);

/* ---- tail probabilities, as scores: -log10 of the chance ---- */

/* -log10 P(X >= k), X ~ Poisson(lambda). */
double dk_poisson_score(uint32_t k, double lambda);
/* -log10 P(X >= k), X ~ Binomial(n, p), from above (conservative): the tail's first term
   times the geometric series of the ratio between successive terms. 0 when k <= n p. */
double dk_binomial_score(uint32_t k, uint32_t n, double p);

/* ---- snapshots ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed; /* sticky: a write ran out of memory */
} dk_wbuf_t;

/* The writers never fail on their own: out of memory sets w->failed and
   later writes do nothing. */

void dk_w_bytes(dk_wbuf_t *w, const void *p, size_t n);
void dk_w_u64(dk_wbuf_t *w, uint64_t v);
void dk_w_i64(dk_wbuf_t *w, int64_t v);
void dk_w_u32(dk_wbuf_t *w, uint32_t v);
void dk_w_f64(dk_wbuf_t *w, double v);
void dk_w_table(dk_wbuf_t *w, const dk_table_t *t);
/* Pack [name, version, bin] and free the buffer. 0; -1 if a write ran out
   of memory or packing failed (nothing is said: the caller names the
   detector). */
int dk_w_finish(dk_wbuf_t *w, msgpack_packer *pk, const char *name, uint32_t version);

/* Why a read failed: r->failed is 0, DK_R_DAMAGED or DK_R_NOMEM, and
   sticky (every later read gives zeroes). */
enum { DK_R_DAMAGED = 1, DK_R_NOMEM = 2 };

typedef struct {
    const char *p;
    size_t left;
    int failed;
} dk_rbuf_t;

/* Open [name, version, bin]. 0; -1 with a message if obj is not that or
   its version is not `version`. */
int dk_r_open(dk_rbuf_t *r, const msgpack_object *obj, const char *name, uint32_t version,
              char *err, size_t errlen);
void dk_r_bytes(dk_rbuf_t *r, void *p, size_t n);
uint64_t dk_r_u64(dk_rbuf_t *r);
int64_t dk_r_i64(dk_rbuf_t *r);
uint32_t dk_r_u32(dk_rbuf_t *r);
double dk_r_f64(dk_rbuf_t *r);
/* Read into a table initialised beforehand (empty). 0; -1 with r->failed
   set: DK_R_DAMAGED (a count or size out of range, a key 0 or twice, a
   record `valid` refuses) or DK_R_NOMEM. valid, if not NULL, checks each
   record's payload (a damaged snapshot must not be trusted). Callers may
   leave the result to dk_r_close. */
int dk_r_table(dk_rbuf_t *r, dk_table_t *t, int (*valid)(const void *rec));
/* 1 if the char array of size n holds a NUL, else 0. */
int dk_str_ok(const char *s, size_t n);
/* 0 if everything was read and nothing is left over; else -1 with a
   message naming the detector and saying which: out of memory, damaged
   (truncated or out of range), or bytes left over. */
int dk_r_close(dk_rbuf_t *r, const char *name, char *err, size_t errlen);

/* ---- a detector described once: parameters, state, snapshot ---- */

typedef struct {
    const char *name;
    size_t off; /* of a double in the detector's parameter struct */
    double min, max;
    double def; /* its value in a new state */
} dk_param_t;

/* A scalar field of the state, saved after the parameters in table order. */
enum { DK_F_END = 0, DK_F_I64, DK_F_U32, DK_F_BYTES };

typedef struct {
    int kind;
    size_t off;   /* in the state */
    uint32_t n;   /* DK_F_U32: how many in a row (an array); DK_F_BYTES: how many bytes */
    int64_t init; /* DK_F_I64: its value in a new state (others start at 0) */
} dk_field_t;

/* A table of the state (a dk_table_t at off), saved after the fields in table order. */
typedef struct {
    size_t off;
    size_t recsize;
    uint32_t init_cap, max_cap;    /* max_cap 0 ends the list */
    int64_t slack;                 /* see dk_table_slack */
    int (*valid)(const void *rec); /* checks a loaded record, or NULL: see dk_r_table */
} dk_tab_t;

/* What a detector is, for the kit's generic create, destroy, save, load, set_param and
   memory. The detector's state struct begins with `const dk_kit_t *kit;` (the generic
   functions find the description there), and holds a det_env_t at env_off and its
   parameter struct (doubles, one per dk_param_t) at params_off. A snapshot is
   [name, version, bin] with bin: the parameters (a u32 count, then each an f64,
   range-checked on load), the fields, the tables (dk_w_table), then whatever save_more
   writes. The hooks are for what is the detector's own. */
typedef struct dk_kit dk_kit_t;
struct dk_kit {
    const char *name;
    uint32_t version;
    size_t size; /* of the state struct */
    size_t env_off, params_off;
    const dk_param_t *params; /* NULL-name-terminated */
    const dk_field_t *fields; /* DK_F_END-terminated, or NULL */
    const dk_tab_t *tables;   /* max_cap-0-terminated */
    /* Optional. After the fields are read, before the tables: set r->failed when they do
       not hold together. */
    void (*load_check)(dk_rbuf_t *r, void *state);
    /* Optional, in pairs: more of the state after the tables, and its reading (into a new
       state; set r->failed on damage). */
    void (*save_more)(dk_wbuf_t *w, const void *state);
    void (*load_more)(dk_rbuf_t *r, void *state);
    /* Optional: free what load_more or folding allocated beyond the tables. */
    void (*fini_more)(void *state);
    /* Optional: the bytes held beyond the struct and the tables. */
    size_t (*memory_more)(const void *state);
    /* Optional: after every set_param, whether it succeeded or not (drop derived caches). */
    void (*param_changed)(void *state);
};

/* A new state with the default parameters, or NULL when out of memory. */
void *dk_create(const dk_kit_t *kit, const det_env_t *env);
/* The fold_class_t entries; state is one dk_create made. */
void dk_destroy(void **state_p);
/* 0; -1 if out of memory or packing failed. */
int dk_save(void *state, msgpack_packer *pk);
/* Replace the state by the snapshot obj (made by dk_save of the same kit and version), or
   leave it as it is and return -1 with a message: not this detector's, its version, damaged
   (a parameter, count, record or load_check refused), bytes left over, or out of memory. */
int dk_load(void *state, const msgpack_object *obj, char *err, size_t errlen);
/* 0; -1 with a message naming the detector for an unknown name or a value outside
   [min, max] (or NaN). */
int dk_set_param(void *state, const char *name, double v, char *err, size_t errlen);
size_t dk_memory(void *state);

/* In a dk_kit_t's initialiser: name, version, the layout of state_type (members env and p)
   and the parameter table. */
#define DK_KIT_HEAD(name_, version_, state_type, params_)                                          \
    .name = (name_), .version = (version_), .size = sizeof(state_type),                            \
    .env_off = offsetof(state_type, env), .params_off = offsetof(state_type, p),                   \
    .params = (params_)
/* Defines `static void *fn (const det_env_t *env)`, the fold_class_t's create: dk_create
   with kit (fold_class_t's create has no other way to know it). */
#define DK_CREATE_FN(fn, kit)                                                                      \
    static void *fn(const det_env_t *env)                                                          \
    {                                                                                              \
        return dk_create(&(kit), env);                                                             \
    }
/* In a fold_class_t's initialiser: name, version and the kit's entries, with the create
   DK_CREATE_FN made. */
#define DK_CLASS_ENTRIES(name_, version_, create_fn)                                               \
    .name = (name_), .version = (version_), .create = (create_fn), .destroy = dk_destroy,          \
    .save = dk_save, .load = dk_load, .set_param = dk_set_param, .memory = dk_memory

/* ---- flags ---- */

void dk_flag_begin(det_flag_t *f, const char *detector, int64_t at);
void dk_flag_evidence(det_flag_t *f, uint64_t seq, const char *id);
void dk_flag_value(det_flag_t *f, const char *name, double v);
/* printf into f->summary, truncated to fit (ids and names make its length vary). */
void dk_flag_summary(det_flag_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* printf into f->key, truncated to fit. */
void dk_flag_key(det_flag_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "2026-11-03 14:05" in the process's zone (TZ, as the daemon set it). */
char *dk_fmt_time(int64_t ms, char *out, size_t n);
/* "2026-11-03" */
char *dk_fmt_date(int64_t ms, char *out, size_t n);
/* money_format of a rounded double */
char *dk_fmt_money(double minor, const char *currency, char *out, size_t n);

#endif
