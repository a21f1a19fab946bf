/*  detect_kit: hashing, windowed tables, robust windows, snapshot buffers,
    parameters and flag helpers shared by the detectors. See detect_kit.h. */

#include "projections/detect_kit.h"

#include "events/money.h"
#include "projections/bigmem.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <time.h>

/* ---- hashing ---- */

static inline uint64_t
mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= UINT64_C(0xd6e8feb86659fd93);
    x ^= x >> 32;
    x *= UINT64_C(0xd6e8feb86659fd93);
    x ^= x >> 32;
    return x;
}

static inline uint64_t
load_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t
word_le(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

/* A multiply-xorshift per 8-byte word and one full mix at the end: ids are short, and each
   detector hashes the rep, customer, order and line of most events. */
uint64_t
dk_hash(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *s = p;
    const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t h = seed ^ (len * k);
    while (len >= 8) {
        h = (h ^ word_le(s)) * k;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    if (len) {
        h = (h ^ load_le(s, len) ^ UINT64_C(0xa0761d6478bd642f)) * k;
        h ^= h >> 29;
    }
    h = mix64(h);
    return h ? h : 1;
}

uint64_t
dk_hash2(uint64_t a, uint64_t b)
{
    uint64_t h = mix64(a * UINT64_C(0x9e3779b97f4a7c15) ^ mix64(b + UINT64_C(0x632be59bd9b4e019)));
    return h ? h : 1;
}

void
dk_copy(char *dst, size_t cap, ev_str_t s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = 0;
}

void
dk_copy_field(char *dst, size_t cap, const event_t *ev, ev_field_t f)
{
    if (event_has(ev, f))
        dk_copy(dst, cap, ev->v[f].s);
    else
        dst[0] = 0;
}

/* ---- tables ---- */

typedef struct {
    uint64_t key;
    int64_t t;
    uint32_t prev, next; /* slot + 1 */
} slot_hdr_t;

static uint32_t
pow2_at_least(uint32_t n)
{
    uint32_t p = 16;
    while (p < n && p < (UINT32_C(1) << 31))
        p <<= 1;
    return p;
}

static inline slot_hdr_t *
hdr_of(const dk_table_t *t, uint32_t s1)
{
    return (slot_hdr_t *)(t->slots + (size_t)(s1 - 1) * t->slotsize);
}

static inline uint32_t
slot1_of(const dk_table_t *t, const slot_hdr_t *h)
{
    return (uint32_t)(((const char *)h - t->slots) / t->slotsize) + 1;
}

static inline slot_hdr_t *
hdr_of_rec(const void *rec)
{
    return (slot_hdr_t *)((char *)(uintptr_t)rec - sizeof(slot_hdr_t));
}

static int
index_alloc(dk_table_t *t, uint32_t cap)
{
    size_t size = (size_t)cap * 2;
    uint32_t *idx = calloc(size, sizeof *idx);
    if (!idx)
        return -1;
    free(t->idx);
    t->idx = idx;
    t->mask = (uint32_t)(size - 1);
    return 0;
}

static inline size_t
home(const dk_table_t *t, uint64_t key)
{
    return dk_table_home(t, key);
}

/* An index entry is slot + 1 (smask), then, when there are 8 bits or more above it, 4 bits
   of the entry's distance from its home (dmask; 15 means 15 or more), then the key's top
   bits (a tag). Keys are hashes, so these bits are as random as any; home() uses bits 0-31
   and 29-60, so for the tables the detectors keep (at most 2^21 index entries) the tag is
   independent of where the entry sits. A probe past an entry of another key then reads that
   record (a cache miss) only when both match: the entry shares the key's home (about one
   entry in two, at the index's load of 0.5) and its tag (one in 2^7 at max_cap 2^20). A
   deletion's backward shift takes each following entry's home from its distance, reading
   no record unless the distance is 15 or more. */
static inline uint32_t
tag_of(const dk_table_t *t, uint64_t key)
{
    return (uint32_t)(key >> 32) & ~(t->smask | t->dmask);
}

/* One step of distance, in the entry's bits (0 when entries hold no distance). */
static inline uint32_t
dist_step(const dk_table_t *t)
{
    return t->dmask ? t->smask + 1 : 0;
}

/* The distance field of an entry d steps from its home. */
static inline uint32_t
dist_bits(const dk_table_t *t, size_t d)
{
    uint64_t b = (uint64_t)d * dist_step(t);
    return b < t->dmask ? (uint32_t)b : t->dmask;
}

static inline uint32_t
slot1_at(const dk_table_t *t, size_t i)
{
    return t->idx[i] & t->smask;
}

/* The home of entry e, found at position j. */
static inline size_t
entry_home(const dk_table_t *t, size_t j, uint32_t e)
{
    uint32_t d = e & t->dmask;
    if (d == t->dmask) /* as far as the field goes, or no field: the key says */
        return home(t, hdr_of(t, e & t->smask)->key);
    return (j - (d >> __builtin_ctz(t->smask + 1))) & t->mask;
}

static void
index_insert(dk_table_t *t, uint32_t s1)
{
    uint64_t key = hdr_of(t, s1)->key;
    size_t h = home(t, key), i = h;
    while (t->idx[i])
        i = (i + 1) & t->mask;
    t->idx[i] = tag_of(t, key) | dist_bits(t, (i - h) & t->mask) | s1;
}

/* Mapped, so page-aligned (a 64-byte slot is one cache line), and grown with mremap: a
   doubling then copies nothing and faults in no page twice (copying the old half, and the
   page faults of its new copy, were a tenth of pacerd's time while the tables filled). */
static size_t
slots_bytes(uint32_t cap, size_t slotsize)
{
    return (size_t)cap * slotsize;
}

int
dk_table_init(dk_table_t *t, size_t recsize, uint32_t init_cap, uint32_t max_cap)
{
    memset(t, 0, sizeof *t);
    t->recsize = (recsize + 7) & ~(size_t)7;
    t->slotsize = sizeof(slot_hdr_t) + t->recsize;
    t->max_cap = pow2_at_least(max_cap);
    /* slot + 1 goes up to max_cap, a power of two: one bit more than its exponent */
    t->smask = t->max_cap >= (UINT32_C(1) << 31) ? UINT32_MAX : t->max_cap * 2 - 1;
    t->dmask = t->smask <= (UINT32_MAX >> 8) ? (t->smask + 1) * 15 : 0;
    t->cap = pow2_at_least(init_cap);
    if (t->cap > t->max_cap)
        t->cap = t->max_cap;
    t->oldest_t = INT64_MAX;
    t->slots = bigmem_map(slots_bytes(t->cap, t->slotsize));
    if (!t->slots || index_alloc(t, t->cap) != 0) {
        dk_table_free(t);
        return -1;
    }
    return 0;
}

void
dk_table_free(dk_table_t *t)
{
    bigmem_unmap(t->slots, slots_bytes(t->cap, t->slotsize));
    free(t->idx);
    memset(t, 0, sizeof *t);
}

void
dk_table_clear(dk_table_t *t)
{
    memset(t->idx, 0, ((size_t)t->mask + 1) * sizeof *t->idx);
    t->count = t->used = t->oldest = t->newest = t->free_list = 0;
    t->oldest_t = INT64_MAX;
}

static size_t
find_pos(const dk_table_t *t, uint64_t key)
{
    size_t i = home(t, key);
    uint32_t want = tag_of(t, key), step = dist_step(t); /* the entry key's would be, here */
    for (;;) {
        uint32_t e = t->idx[i];
        if (!e || ((e & ~t->smask) == want && hdr_of(t, e & t->smask)->key == key))
            return i;
        i = (i + 1) & t->mask;
        if ((want & t->dmask) != t->dmask)
            want += step;
    }
}

void *
dk_get(dk_table_t *t, uint64_t key)
{
    uint32_t s1 = slot1_at(t, find_pos(t, key));
    return s1 ? (char *)hdr_of(t, s1) + sizeof(slot_hdr_t) : NULL;
}

static void
list_unlink(dk_table_t *t, slot_hdr_t *h)
{
    if (h->prev) {
        hdr_of(t, h->prev)->next = h->next;
    } else {
        t->oldest = h->next;
        t->oldest_t = h->next ? hdr_of(t, h->next)->t : INT64_MAX;
    }
    if (h->next)
        hdr_of(t, h->next)->prev = h->prev;
    else
        t->newest = h->prev;
    h->prev = h->next = 0;
}

static void
list_append(dk_table_t *t, slot_hdr_t *h, uint32_t s1)
{
    h->prev = t->newest;
    h->next = 0;
    if (t->newest) {
        hdr_of(t, t->newest)->next = s1;
    } else {
        t->oldest = s1;
        t->oldest_t = h->t;
    }
    t->newest = s1;
}

/* Backward-shift deletion keeps linear probing free of tombstones. */
static void
index_remove_at(dk_table_t *t, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        uint32_t e = t->idx[j];
        if (!e)
            break;
        size_t k = entry_home(t, j, e);
        /* move j's entry into the hole at i unless its home lies cyclically in (i, j] */
        int keep = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!keep) {
            t->idx[i] = (e & ~t->dmask) | dist_bits(t, (i - k) & t->mask);
            i = j;
        }
    }
    t->idx[i] = 0;
}

void
dk_del(dk_table_t *t, void *rec)
{
    slot_hdr_t *h = hdr_of_rec(rec);
    uint32_t s1 = slot1_of(t, h);
    size_t i = home(t, h->key);
    while (slot1_at(t, i) != s1)
        i = (i + 1) & t->mask;
    index_remove_at(t, i);
    list_unlink(t, h);
    h->next = t->free_list;
    t->free_list = s1;
    t->count--;
}

static int
grow(dk_table_t *t)
{
    uint32_t cap = t->cap * 2;
    uint32_t *old = t->idx;
    uint32_t old_mask = t->mask;
    t->idx = NULL;
    if (index_alloc(t, cap) != 0) {
        t->idx = old;
        t->mask = old_mask;
        return -1;
    }
    char *slots =
        bigmem_remap(t->slots, slots_bytes(t->cap, t->slotsize), slots_bytes(cap, t->slotsize));
    if (!slots) {
        free(t->idx);
        t->idx = old;
        t->mask = old_mask;
        return -1;
    }
    free(old);
    t->slots = slots;
    t->cap = cap;
    for (uint32_t s1 = t->oldest; s1; s1 = hdr_of(t, s1)->next)
        index_insert(t, s1);
    return 0;
}

/* A record put again moves to the newest end, unless it moved there less than slack ago
   (or tm is not later): unlinking reads its two neighbours, a cache miss each, so a record
   put often moves once per slack. Its time is then up to slack behind its last put, which
   dk_expire allows for. */
static void
touch(dk_table_t *t, slot_hdr_t *h, uint32_t s1, int64_t tm)
{
    if (tm - h->t <= t->slack || tm <= h->t)
        return;
    h->t = tm;
    if (t->newest != s1) {
        list_unlink(t, h);
        list_append(t, h, s1);
    } else if (t->oldest == s1) {
        t->oldest_t = tm;
    }
}

void *
dk_put(dk_table_t *t, uint64_t key, int64_t tm, int *added)
{
    size_t i = find_pos(t, key);
    uint32_t s1 = slot1_at(t, i);
    if (s1) {
        slot_hdr_t *h = hdr_of(t, s1);
        touch(t, h, s1, tm);
        if (added)
            *added = 0;
        return (char *)h + sizeof(slot_hdr_t);
    }
    if (t->count == t->cap) {
        if (t->cap < t->max_cap) {
            if (grow(t) != 0)
                return NULL;
        } else {
            dk_del(t, (char *)hdr_of(t, t->oldest) + sizeof(slot_hdr_t));
        }
        i = find_pos(t, key);
    }
    if (t->free_list) {
        s1 = t->free_list;
        t->free_list = hdr_of(t, s1)->next;
    } else {
        s1 = ++t->used;
    }
    slot_hdr_t *h = hdr_of(t, s1);
    memset(h, 0, t->slotsize);
    h->key = key;
    h->t = tm;
    t->idx[i] = tag_of(t, key) | dist_bits(t, (i - home(t, key)) & t->mask) | s1;
    list_append(t, h, s1);
    t->count++;
    if (added)
        *added = 1;
    return (char *)h + sizeof(slot_hdr_t);
}

void
dk_touch(dk_table_t *t, void *rec, int64_t tm)
{
    slot_hdr_t *h = hdr_of_rec(rec);
    touch(t, h, slot1_of(t, h), tm);
}

/* The list is in order of last put, so the records to delete are at its head (times are
   occurred_at, which may go back a little: a record put with an earlier time than its
   predecessors waits behind them). oldest_t spares a look at the head record. */
void
dk_expire(dk_table_t *t, int64_t cutoff)
{
    cutoff -= t->slack;
    while (t->oldest_t < cutoff)
        dk_del(t, (char *)hdr_of(t, t->oldest) + sizeof(slot_hdr_t));
}

void *
dk_oldest(const dk_table_t *t)
{
    return t->oldest ? (char *)hdr_of(t, t->oldest) + sizeof(slot_hdr_t) : NULL;
}

void *
dk_newer(const dk_table_t *t, const void *rec)
{
    uint32_t n = hdr_of_rec(rec)->next;
    return n ? (char *)hdr_of(t, n) + sizeof(slot_hdr_t) : NULL;
}

uint64_t
dk_rec_key(const void *rec)
{
    return hdr_of_rec(rec)->key;
}

int64_t
dk_rec_time(const void *rec)
{
    return hdr_of_rec(rec)->t;
}

size_t
dk_table_memory(const dk_table_t *t)
{
    return (size_t)t->cap * t->slotsize + ((size_t)t->mask + 1) * sizeof *t->idx;
}

/* ---- robust windows ---- */

static uint32_t
lower_bound(const float *s, uint32_t n, float v)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A full window drops its oldest value (the first one equal to it in sorted order) and takes
   v before the values not below it, as a removal and then an insertion would; but the values
   between the two places move once, by one, instead of everything after each place. */
void
dk_win_push(dk_win_t *w, float *ring, float *sorted, uint32_t k, float v)
{
    if (w->n == k) {
        float old = ring[w->pos];
        uint32_t out = lower_bound(sorted, w->n, old);
        assert(out < w->n && sorted[out] == old);
        /* where v goes once sorted[out] is gone: after the values below it */
        uint32_t in = lower_bound(sorted, w->n, v);
        if (sorted[out] < v)
            in--;
        if (in >= out)
            memmove(sorted + out, sorted + out + 1, (in - out) * sizeof *sorted);
        else
            memmove(sorted + in + 1, sorted + in, (out - in) * sizeof *sorted);
        sorted[in] = v;
    } else {
        uint32_t in = lower_bound(sorted, w->n, v);
        memmove(sorted + in + 1, sorted + in, (w->n - in) * sizeof *sorted);
        sorted[in] = v;
        w->n++;
    }
    ring[w->pos] = v;
    w->pos = (w->pos + 1) % k;
}

static int
float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

int
dk_win_ok(const dk_win_t *w, const float *ring, const float *sorted, uint32_t k)
{
    if (w->n > k || w->pos >= k || (w->n < k && w->pos != w->n))
        return 0;
    for (uint32_t j = 0; j < w->n; j++)
        if (!isfinite(sorted[j]) || (j && sorted[j] < sorted[j - 1]))
            return 0;
    float *copy = malloc((w->n ? w->n : 1) * sizeof *copy);
    if (!copy)
        return 0;
    memcpy(copy, ring, w->n * sizeof *copy);
    qsort(copy, w->n, sizeof *copy, float_cmp);
    int same = memcmp(copy, sorted, w->n * sizeof *copy) == 0;
    free(copy);
    return same;
}

float
dk_median(const float *s, uint32_t n)
{
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The deviations from med form two ascending sequences: A, of the values at or above med
   (s[r0 + i] - med), and B, of those below it (med - s[r0 - 1 - j]). */
typedef struct {
    const float *s;
    uint32_t r0, na, nb;
    float med;
} devs_t;

static inline float
dev_a(const devs_t *d, uint32_t i)
{
    return d->s[d->r0 + i] - d->med;
}

static inline float
dev_b(const devs_t *d, uint32_t j)
{
    return d->med - d->s[d->r0 - 1 - j];
}

/* The k-th smallest (from 0) deviation: the smallest count i taken from A such that B's
   (k+1-i)-th is not above A's i-th; then the answer is the larger of the two last taken. */
static float
dev_kth(const devs_t *d, uint32_t k)
{
    uint32_t lo = k + 1 > d->nb ? k + 1 - d->nb : 0;
    uint32_t hi = k + 1 < d->na ? k + 1 : d->na;
    while (lo < hi) {
        uint32_t i = (lo + hi) / 2, j = k + 1 - i;
        if (j > 0 && i < d->na && dev_b(d, j - 1) > dev_a(d, i))
            lo = i + 1;
        else
            hi = i;
    }
    uint32_t i = lo, j = k + 1 - lo;
    float a = i > 0 ? dev_a(d, i - 1) : -1;
    float b = j > 0 ? dev_b(d, j - 1) : -1;
    return a > b ? a : b;
}

float
dk_mad(const float *s, uint32_t n, float med)
{
    devs_t d = {.s = s, .med = med};
    d.r0 = lower_bound(s, n, med);
    d.na = n - d.r0;
    d.nb = d.r0;
    if (n % 2)
        return dev_kth(&d, n / 2);
    return (dev_kth(&d, n / 2 - 1) + dev_kth(&d, n / 2)) / 2;
}

float
dk_quantile(const float *s, uint32_t n, double q)
{
    double x = q * (n - 1);
    uint32_t i = (uint32_t)x;
    if (i + 1 >= n)
        return s[n - 1];
    double f = x - i;
    return (float)(s[i] + f * (s[i + 1] - s[i]));
}

/* -log10 P(X >= k) for X ~ Poisson(lambda), summing the tail's terms in log space. */
double
dk_poisson_score(uint32_t k, double lambda)
{
    if (k == 0)
        return 0;
    double ll = log(lambda);
    double first = -lambda + k * ll - lgamma(k + 1.0);
    double sum = 1, term = 1;
    for (uint32_t j = k + 1; j < k + 200; j++) {
        term *= lambda / j;
        sum += term;
        if (term < sum * 1e-12)
            break;
    }
    double log_p = first + log(sum);
    return log_p >= 0 ? 0 : -log_p / log(10);
}

/* -log10 P(X >= k), X ~ Binomial(n, p), bounded from above by the first term of the tail
   times the geometric series of the ratio between successive terms (which only falls). */
double
dk_binomial_score(uint32_t k, uint32_t n, double p)
{
    if (k == 0 || (double)k <= n * p)
        return 0;
    double log_pmf =
        lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * log(p) + (n - k) * log1p(-p);
    double ratio = (double)(n - k) / (k + 1) * p / (1 - p);
    double log_tail = ratio < 1 ? log_pmf - log1p(-ratio) : 0;
    return log_tail >= 0 ? 0 : -log_tail / log(10);
}

/* ---- snapshots ---- */

void
dk_w_bytes(dk_wbuf_t *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < n)
            cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = 1;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void
dk_w_u64(dk_wbuf_t *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    dk_w_bytes(w, b, 8);
}

void
dk_w_i64(dk_wbuf_t *w, int64_t v)
{
    dk_w_u64(w, (uint64_t)v);
}

void
dk_w_u32(dk_wbuf_t *w, uint32_t v)
{
    dk_w_u64(w, v);
}

void
dk_w_f64(dk_wbuf_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    dk_w_u64(w, u);
}

/* Records in age order, each key, time and payload; the payload is written in its native
   layout (detector records hold only fixed-width fields and char arrays, zeroed when added,
   so the bytes are a function of the state). */
void
dk_w_table(dk_wbuf_t *w, const dk_table_t *t)
{
    dk_w_u32(w, t->count);
    dk_w_u64(w, t->recsize);
    for (const void *r = dk_oldest(t); r; r = dk_newer(t, r)) {
        dk_w_u64(w, dk_rec_key(r));
        dk_w_i64(w, dk_rec_time(r));
        dk_w_bytes(w, r, t->recsize);
    }
}

int
dk_w_finish(dk_wbuf_t *w, msgpack_packer *pk, const char *name, uint32_t version)
{
    int rc = -1;
    if (!w->failed && msgpack_pack_array(pk, 3) == 0 &&
        msgpack_pack_str_with_body(pk, name, strlen(name)) == 0 &&
        msgpack_pack_uint32(pk, version) == 0 &&
        msgpack_pack_bin_with_body(pk, w->buf, w->len) == 0)
        rc = 0;
    free(w->buf);
    memset(w, 0, sizeof *w);
    return rc;
}

int
dk_r_open(dk_rbuf_t *r, const msgpack_object *obj, const char *name, uint32_t version, char *err,
          size_t errlen)
{
    memset(r, 0, sizeof *r);
    size_t nl = strlen(name);
    if (obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size != 3 ||
        obj->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
        obj->via.array.ptr[0].via.str.size != nl ||
        memcmp(obj->via.array.ptr[0].via.str.ptr, name, nl) != 0 ||
        obj->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        obj->via.array.ptr[2].type != MSGPACK_OBJECT_BIN) {
        snprintf(err, errlen, "detector %s: snapshot is not [\"%s\", version, bin]", name, name);
        return -1;
    }
    if (obj->via.array.ptr[1].via.u64 != version) {
        snprintf(err, errlen, "detector %s: snapshot version %llu, this build is version %u", name,
                 (unsigned long long)obj->via.array.ptr[1].via.u64, version);
        return -1;
    }
    r->p = obj->via.array.ptr[2].via.bin.ptr;
    r->left = obj->via.array.ptr[2].via.bin.size;
    return 0;
}

/* The first failure is the one reported (dk_r_close). */
static void
r_damaged(dk_rbuf_t *r)
{
    if (!r->failed)
        r->failed = DK_R_DAMAGED;
}

void
dk_r_bytes(dk_rbuf_t *r, void *p, size_t n)
{
    if (r->failed || r->left < n) {
        r_damaged(r);
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->p, n);
    r->p += n;
    r->left -= n;
}

uint64_t
dk_r_u64(dk_rbuf_t *r)
{
    unsigned char b[8];
    dk_r_bytes(r, b, 8);
    return load_le(b, 8);
}

int64_t
dk_r_i64(dk_rbuf_t *r)
{
    return (int64_t)dk_r_u64(r);
}

uint32_t
dk_r_u32(dk_rbuf_t *r)
{
    uint64_t v = dk_r_u64(r);
    if (v > UINT32_MAX)
        r_damaged(r);
    return (uint32_t)v;
}

double
dk_r_f64(dk_rbuf_t *r)
{
    uint64_t u = dk_r_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

int
dk_str_ok(const char *s, size_t n)
{
    return memchr(s, 0, n) != NULL;
}

int
dk_r_table(dk_rbuf_t *r, dk_table_t *t, int (*valid)(const void *rec))
{
    uint32_t n = dk_r_u32(r);
    uint64_t recsize = dk_r_u64(r);
    if (r->failed || recsize != t->recsize || n > t->max_cap ||
        (uint64_t)n * (16 + recsize) > r->left) {
        r_damaged(r);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key = dk_r_u64(r);
        int64_t tm = dk_r_i64(r);
        int added = 0;
        if (r->failed || key == 0)
            return r_damaged(r), -1;
        void *rec = dk_put(t, key, tm, &added);
        if (!rec) /* dk_put fails only out of memory */
            return r->failed = r->failed ? r->failed : DK_R_NOMEM, -1;
        if (!added) /* a key twice */
            return r_damaged(r), -1;
        dk_r_bytes(r, rec, t->recsize);
        if (!r->failed && valid && !valid(rec))
            return r_damaged(r), -1;
    }
    return r->failed ? -1 : 0;
}

int
dk_r_close(dk_rbuf_t *r, const char *name, char *err, size_t errlen)
{
    if (r->failed == DK_R_NOMEM) {
        snprintf(err, errlen, "detector %s: out of memory loading its snapshot", name);
        return -1;
    }
    if (r->failed || r->left) {
        snprintf(err, errlen, "detector %s: damaged snapshot (%s)", name,
                 r->failed ? "truncated or out of range" : "bytes left over");
        return -1;
    }
    return 0;
}

/* ---- a detector described once ---- */

static int
param_set(void *params, const dk_param_t *table, const char *detector, const char *name, double v,
          char *err, size_t errlen)
{
    for (const dk_param_t *p = table; p->name; p++) {
        if (strcmp(p->name, name) != 0)
            continue;
        if (!(v >= p->min && v <= p->max)) {
            snprintf(err, errlen, "anomaly/%s: %s must be %g..%g, got %g", detector, name, p->min,
                     p->max, v);
            return -1;
        }
        memcpy((char *)params + p->off, &v, sizeof v);
        return 0;
    }
    snprintf(err, errlen, "anomaly/%s: unknown setting \"%s\"", detector, name);
    return -1;
}

static void
params_write(dk_wbuf_t *w, const void *params, const dk_param_t *table)
{
    uint32_t n = 0;
    for (const dk_param_t *p = table; p->name; p++)
        n++;
    dk_w_u32(w, n);
    for (const dk_param_t *p = table; p->name; p++) {
        double v;
        memcpy(&v, (const char *)params + p->off, sizeof v);
        dk_w_f64(w, v);
    }
}

/* Each value checked against its range: a count or value out of range sets r->failed. */
static void
params_read(dk_rbuf_t *r, void *params, const dk_param_t *table)
{
    uint32_t n = 0;
    for (const dk_param_t *p = table; p->name; p++)
        n++;
    if (dk_r_u32(r) != n) {
        r_damaged(r);
        return;
    }
    for (const dk_param_t *p = table; p->name; p++) {
        double v = dk_r_f64(r);
        if (!(v >= p->min && v <= p->max)) {
            r_damaged(r);
            return;
        }
        memcpy((char *)params + p->off, &v, sizeof v);
    }
}

#define AT(state, off) ((char *)(state) + (off))

static const dk_kit_t *
kit_of(const void *state)
{
    return *(const dk_kit_t *const *)state;
}

static void
kit_fini(const dk_kit_t *k, void *s)
{
    for (const dk_tab_t *t = k->tables; t->max_cap; t++)
        dk_table_free((dk_table_t *)AT(s, t->off));
    if (k->fini_more)
        k->fini_more(s);
}

/* A new state in s (size k->size) with the default parameters. 0; -1 when out of memory
   (s then holds nothing to free). */
static int
kit_init(const dk_kit_t *k, void *s, const det_env_t *env)
{
    memset(s, 0, k->size);
    memcpy(s, &k, sizeof k);
    memcpy(AT(s, k->env_off), env, sizeof *env);
    for (const dk_param_t *p = k->params; p->name; p++)
        memcpy(AT(s, k->params_off + p->off), &p->def, sizeof p->def);
    for (const dk_field_t *f = k->fields; f && f->kind != DK_F_END; f++)
        if (f->kind == DK_F_I64)
            memcpy(AT(s, f->off), &f->init, sizeof f->init);
    for (const dk_tab_t *t = k->tables; t->max_cap; t++) {
        dk_table_t *tab = (dk_table_t *)AT(s, t->off);
        if (dk_table_init(tab, t->recsize, t->init_cap, t->max_cap) != 0) {
            for (const dk_tab_t *u = k->tables; u != t; u++)
                dk_table_free((dk_table_t *)AT(s, u->off));
            return -1;
        }
        dk_table_slack(tab, t->slack);
    }
    return 0;
}

void *
dk_create(const dk_kit_t *k, const det_env_t *env)
{
    void *s = malloc(k->size);
    if (s && kit_init(k, s, env) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

void
dk_destroy(void **state_p)
{
    if (*state_p) {
        kit_fini(kit_of(*state_p), *state_p);
        free(*state_p);
        *state_p = NULL;
    }
}

int
dk_save(void *s, msgpack_packer *pk)
{
    const dk_kit_t *k = kit_of(s);
    dk_wbuf_t w = {0};
    params_write(&w, AT(s, k->params_off), k->params);
    for (const dk_field_t *f = k->fields; f && f->kind != DK_F_END; f++) {
        if (f->kind == DK_F_I64) {
            int64_t v;
            memcpy(&v, AT(s, f->off), sizeof v);
            dk_w_i64(&w, v);
        } else if (f->kind == DK_F_U32) {
            for (uint32_t j = 0; j < f->n; j++) {
                uint32_t v;
                memcpy(&v, AT(s, f->off + j * sizeof v), sizeof v);
                dk_w_u32(&w, v);
            }
        } else {
            dk_w_bytes(&w, AT(s, f->off), f->n);
        }
    }
    for (const dk_tab_t *t = k->tables; t->max_cap; t++)
        dk_w_table(&w, (const dk_table_t *)AT(s, t->off));
    if (k->save_more)
        k->save_more(&w, s);
    return dk_w_finish(&w, pk, k->name, k->version);
}

int
dk_load(void *s, const msgpack_object *obj, char *err, size_t errlen)
{
    const dk_kit_t *k = kit_of(s);
    dk_rbuf_t r;
    if (dk_r_open(&r, obj, k->name, k->version, err, errlen) != 0)
        return -1;
    /* read into a new state, so that a refused snapshot leaves this one as it was; on the
       heap, since some states are large */
    void *fresh = malloc(k->size);
    if (fresh && kit_init(k, fresh, (const det_env_t *)AT(s, k->env_off)) != 0) {
        free(fresh);
        fresh = NULL;
    }
    if (fresh)
        params_read(&r, AT(fresh, k->params_off), k->params);
    if (r.failed || !fresh) {
        if (fresh)
            kit_fini(k, fresh);
        free(fresh);
        snprintf(err, errlen, "detector %s: damaged snapshot or out of memory", k->name);
        return -1;
    }
    for (const dk_field_t *f = k->fields; f && f->kind != DK_F_END; f++) {
        if (f->kind == DK_F_I64) {
            int64_t v = dk_r_i64(&r);
            memcpy(AT(fresh, f->off), &v, sizeof v);
        } else if (f->kind == DK_F_U32) {
            for (uint32_t j = 0; j < f->n; j++) {
                uint32_t v = dk_r_u32(&r);
                memcpy(AT(fresh, f->off + j * sizeof v), &v, sizeof v);
            }
        } else {
            dk_r_bytes(&r, AT(fresh, f->off), f->n);
        }
    }
    if (k->load_check)
        k->load_check(&r, fresh);
    for (const dk_tab_t *t = k->tables; t->max_cap; t++)
        dk_r_table(&r, (dk_table_t *)AT(fresh, t->off), t->valid);
    if (k->load_more)
        k->load_more(&r, fresh);
    if (dk_r_close(&r, k->name, err, errlen) != 0) {
        kit_fini(k, fresh);
        free(fresh);
        return -1;
    }
    kit_fini(k, s);
    memcpy(s, fresh, k->size);
    free(fresh);
    return 0;
}

int
dk_set_param(void *s, const char *name, double v, char *err, size_t errlen)
{
    const dk_kit_t *k = kit_of(s);
    int rc = param_set(AT(s, k->params_off), k->params, k->name, name, v, err, errlen);
    if (k->param_changed)
        k->param_changed(s);
    return rc;
}

size_t
dk_memory(void *s)
{
    const dk_kit_t *k = kit_of(s);
    size_t n = k->size;
    for (const dk_tab_t *t = k->tables; t->max_cap; t++)
        n += dk_table_memory((const dk_table_t *)AT(s, t->off));
    return n + (k->memory_more ? k->memory_more(s) : 0);
}

/* ---- flags ---- */

void
dk_flag_begin(det_flag_t *f, const char *detector, int64_t at)
{
    f->detector = detector;
    f->key[0] = f->rep[0] = f->customer[0] = f->currency[0] = f->summary[0] = 0;
    f->severity = 1;
    f->score = f->baseline = f->threshold = 0;
    f->nevidence = f->nvalues = 0;
    f->at = at;
}

void
dk_flag_evidence(det_flag_t *f, uint64_t seq, const char *id)
{
    if (f->nevidence >= DET_EVIDENCE_MAX)
        return;
    for (int i = 0; i < f->nevidence; i++)
        if (f->evidence[i].seq == seq)
            return;
    f->evidence[f->nevidence].seq = seq;
    snprintf(f->evidence[f->nevidence].id, sizeof f->evidence[0].id, "%s", id);
    f->nevidence++;
}

void
dk_flag_value(det_flag_t *f, const char *name, double v)
{
    if (f->nvalues >= DET_VALUES_MAX)
        return;
    f->values[f->nvalues].name = name;
    f->values[f->nvalues].v = v;
    f->nvalues++;
}

void
dk_flag_summary(det_flag_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->summary, sizeof f->summary, fmt, ap);
    va_end(ap);
}

void
dk_flag_key(det_flag_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->key, sizeof f->key, fmt, ap);
    va_end(ap);
}

char *
dk_fmt_time(int64_t ms, char *out, size_t n)
{
    time_t tt = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!localtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(out, n, "%lld ms", (long long)ms);
    return out;
}

char *
dk_fmt_date(int64_t ms, char *out, size_t n)
{
    time_t tt = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!localtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d", &tm) == 0)
        snprintf(out, n, "%lld ms", (long long)ms);
    return out;
}

char *
dk_fmt_money(double minor, const char *currency, char *out, size_t n)
{
    return money_format_d(minor, currency, out, n);
}
