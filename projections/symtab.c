/*  symtab: see symtab.h. Strings are copied into one growing arena; ids
    index an array of arena offsets; a u64map from a string hash to the
    candidate ids finds them (collisions are resolved by comparing bytes).

    A full index doubles, and its entries move to the new one a few slots
    per insert rather than all at once: with an id for every order, moving
    16 million entries at once held the writer for 0.75 s. While they move,
    a lookup probes the new index, then the old one above `migrated` (the
    slots below it have moved); new strings always go to the new one. */

#include "projections/symtab.h"
#include "projections/bigmem.h"

#include <stdlib.h>
#include <string.h>

struct _symtab_t {
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t *offs; /* offs[id] = offset of the string; offs[0] unused */
    uint32_t *lens;
    uint32_t count, cap;
    tagindex_t idx; /* hash high 32 bits << 32 | id; id 0 = empty */
};

/* Old slots moved per insert: the move is over after 1/32 of the old
   size in inserts, long before the new index is half full, and the old
   index is not kept alive for long by a table that has stopped growing
   (only inserts move it: lookups also run under a read lock). */
#define MIGRATE_STEP 32

/* Move up to k more slots of the old index into the new one. */
static void
tagindex_migrate(tagindex_t *x, size_t k)
{
    size_t end = x->old_mask + 1;
    if (end - x->migrated > k)
        end = x->migrated + k;
    for (size_t i = x->migrated; i < end; i++) {
        uint64_t e = x->old[i];
        if (!e)
            continue;
        size_t pos = (size_t)(e >> 32) & x->mask;
        while (x->slots[pos])
            pos = (pos + 1) & x->mask;
        x->slots[pos] = e;
    }
    x->migrated = end;
    if (end == x->old_mask + 1) {
        free(x->old);
        x->old = NULL;
    }
}

/* Start moving to a new index of cap slots, after finishing any move
   still under way (the first index has nothing to move). */
static int
tagindex_grow(tagindex_t *x, size_t cap)
{
    if (x->old)
        tagindex_migrate(x, SIZE_MAX);
    uint64_t *slots = bigmem_calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    x->old = x->slots;
    x->old_mask = x->mask;
    x->migrated = 0;
    x->slots = slots;
    x->mask = cap - 1;
    return 0;
}

static uint64_t
hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = mix64(h ^ w);
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, len - i);
    return mix64(h ^ tail ^ ((uint64_t)len << 56));
}

symtab_t *
symtab_new(void)
{
    symtab_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->idx.mask = 1023;
    self->idx.slots = calloc(1024, sizeof(uint64_t));
    if (!self->idx.slots) {
        free(self);
        return NULL;
    }
    return self;
}

void
symtab_destroy(symtab_t **self_p)
{
    symtab_t *self = *self_p;
    if (!self)
        return;
    free(self->arena);
    free(self->offs);
    free(self->lens);
    free(self->idx.slots);
    free(self->idx.old);
    free(self);
    *self_p = NULL;
}

static uint32_t
lookup(symtab_t *self, const char *s, size_t len, uint64_t h)
{
    /* Each index entry carries the high half of its string's hash, which
       also picks its slot: a probe only touches the string itself when
       that half matches, and growing the index never rehashes strings. */
    size_t pos = (size_t)(h >> 32) & self->idx.mask;
    uint64_t tag = h & 0xFFFFFFFF00000000ULL;
    while (self->idx.slots[pos]) {
        uint64_t e = self->idx.slots[pos];
        uint32_t id = (uint32_t)e;
        if ((e & 0xFFFFFFFF00000000ULL) == tag && self->lens[id] == len &&
            memcmp(self->arena + self->offs[id], s, len) == 0)
            return id;
        pos = (pos + 1) & self->idx.mask;
    }
    if (!self->idx.old)
        return 0;
    for (pos = (size_t)(h >> 32) & self->idx.old_mask; self->idx.old[pos];
         pos = (pos + 1) & self->idx.old_mask) {
        uint64_t e = self->idx.old[pos];
        uint32_t id = (uint32_t)e;
        if (pos >= self->idx.migrated && (e & 0xFFFFFFFF00000000ULL) == tag &&
            self->lens[id] == len && memcmp(self->arena + self->offs[id], s, len) == 0)
            return id;
    }
    return 0;
}

/* The first free slot for hash h in the new index. */
static size_t
free_slot(const symtab_t *self, uint64_t h)
{
    size_t slot = (size_t)(h >> 32) & self->idx.mask;
    while (self->idx.slots[slot])
        slot = (slot + 1) & self->idx.mask;
    return slot;
}

uint64_t
symtab_hash(const char *s, size_t len)
{
    return hash_bytes(s, len);
}

void
symtab_prefetch_slot(const symtab_t *self, uint64_t h)
{
    __builtin_prefetch(&self->idx.slots[(size_t)(h >> 32) & self->idx.mask]);
}

uint32_t
symtab_peek(const symtab_t *self, uint64_t h)
{
    uint64_t e = self->idx.slots[(size_t)(h >> 32) & self->idx.mask];
    uint32_t id = (uint32_t)e;
    if (!e || (e & 0xFFFFFFFF00000000ULL) != (h & 0xFFFFFFFF00000000ULL) || id > self->count)
        return 0;
    __builtin_prefetch(&self->offs[id]);
    __builtin_prefetch(&self->lens[id]);
    return id;
}

void
symtab_prefetch_str(const symtab_t *self, uint32_t id)
{
    if (id && id <= self->count)
        __builtin_prefetch(self->arena + self->offs[id]);
}

uint32_t
symtab_find_hashed(symtab_t *self, const char *s, size_t len, uint64_t h)
{
    return lookup(self, s, len, h);
}

uint32_t
symtab_find(symtab_t *self, const char *s, size_t len)
{
    return lookup(self, s, len, hash_bytes(s, len));
}

/* Positions come from the stored tags: no string is hashed again. */
static int
grow_index(symtab_t *self)
{
    return tagindex_grow(&self->idx, (self->idx.mask + 1) * 2);
}

static uint32_t
store_string(symtab_t *self, const char *s, size_t len, uint64_t h, size_t slot)
{
    uint32_t id;
    if (self->count + 2 > self->cap) {
        uint32_t cap = self->cap ? self->cap * 2 : 256;
        uint64_t *o = bigmem_realloc(self->offs, cap * sizeof *o);
        if (!o)
            return 0;
        self->offs = o;
        uint32_t *l = bigmem_realloc(self->lens, cap * sizeof *l);
        if (!l)
            return 0;
        self->lens = l;
        self->cap = cap;
    }
    if (self->arena_len + len + 1 > self->arena_cap) {
        size_t cap = self->arena_cap ? self->arena_cap * 2 : 4096;
        while (cap < self->arena_len + len + 1)
            cap *= 2;
        char *a = bigmem_realloc(self->arena, cap);
        if (!a)
            return 0;
        self->arena = a;
        self->arena_cap = cap;
    }
    id = ++self->count;
    self->offs[id] = self->arena_len;
    self->lens[id] = (uint32_t)len;
    memcpy(self->arena + self->arena_len, s, len);
    self->arena[self->arena_len + len] = 0;
    self->arena_len += len + 1;
    self->idx.slots[slot] = (h & 0xFFFFFFFF00000000ULL) | id;
    return id;
}

uint32_t
symtab_intern(symtab_t *self, const char *s, size_t len)
{
    return symtab_intern_hashed(self, s, len, hash_bytes(s, len));
}

/* Add s, known to be new: make room (at most half full), move a few old
   slots, then take the first free slot, which the move may have filled. */
static uint32_t
add_new_hashed(symtab_t *self, const char *s, size_t len, uint64_t h)
{
    if ((size_t)(self->count + 1) * 2 > self->idx.mask + 1 && grow_index(self) != 0)
        return 0;
    if (self->idx.old)
        tagindex_migrate(&self->idx, MIGRATE_STEP);
    return store_string(self, s, len, h, free_slot(self, h));
}

uint32_t
symtab_intern_hashed(symtab_t *self, const char *s, size_t len, uint64_t h)
{
    uint32_t id = lookup(self, s, len, h);
    return id ? id : add_new_hashed(self, s, len, h);
}

int
symtab_reserve(symtab_t *self, uint32_t n)
{
    /* Snapshot loading: not latency-bound, so no move is left under way. */
    while ((size_t)(self->count + n + 1) * 2 > self->idx.mask + 1)
        if (grow_index(self) != 0)
            return -1;
    if (self->idx.old)
        tagindex_migrate(&self->idx, SIZE_MAX);
    return 0;
}

uint32_t
symtab_add_new(symtab_t *self, const char *s, size_t len)
{
    return add_new_hashed(self, s, len, hash_bytes(s, len));
}

uint32_t
symtab_add_new_batch(symtab_t *self, const char *const *s, const uint32_t *len, size_t n)
{
    enum { BATCH = 32 };
    uint64_t h[BATCH];
    uint32_t id = 0;
    if (self->idx.old) /* symtab_reserve leaves none; this probes one index */
        tagindex_migrate(&self->idx, SIZE_MAX);
    for (size_t base = 0; base < n; base += BATCH) {
        size_t k = n - base < BATCH ? n - base : BATCH;
        for (size_t i = 0; i < k; i++) {
            h[i] = hash_bytes(s[base + i], len[base + i]);
            __builtin_prefetch(&self->idx.slots[(size_t)(h[i] >> 32) & self->idx.mask], 1);
        }
        for (size_t i = 0; i < k; i++) {
            size_t slot = (size_t)(h[i] >> 32) & self->idx.mask;
            while (self->idx.slots[slot])
                slot = (slot + 1) & self->idx.mask;
            if (!(id = store_string(self, s[base + i], len[base + i], h[i], slot)))
                return 0;
        }
    }
    return id;
}

const char *
symtab_str(symtab_t *self, uint32_t id)
{
    return id >= 1 && id <= self->count ? self->arena + self->offs[id] : "";
}

uint32_t
symtab_len(symtab_t *self, uint32_t id)
{
    return id >= 1 && id <= self->count ? self->lens[id] : 0;
}

uint32_t
symtab_count(symtab_t *self)
{
    return self->count;
}

void
u64map_init(u64map_t *m)
{
    memset(m, 0, sizeof *m);
}

void
u64map_free(u64map_t *m)
{
    free(m->entries);
    free(m->idx.slots);
    free(m->idx.old);
    memset(m, 0, sizeof *m);
}

/* Index entries: the high half of the key's mix in the top 32 bits (it
   also picks the slot), the entry position + 1 in the low 32; 0 = empty.
   A probe reads the entry itself only when the tag matches. */
#define TAG(h) ((h)&0xFFFFFFFF00000000ULL)

static uint64_t *
u64map_find(const u64map_t *m, uint64_t key, uint64_t h)
{
    size_t pos = (size_t)(h >> 32) & m->idx.mask;
    for (uint64_t e; (e = m->idx.slots[pos]) != 0; pos = (pos + 1) & m->idx.mask)
        if (TAG(e) == TAG(h) && m->entries[(uint32_t)e - 1].key == key)
            return &m->entries[(uint32_t)e - 1].val;
    if (!m->idx.old)
        return NULL;
    for (pos = (size_t)(h >> 32) & m->idx.old_mask; m->idx.old[pos];
         pos = (pos + 1) & m->idx.old_mask) {
        uint64_t e = m->idx.old[pos];
        if (pos >= m->idx.migrated && TAG(e) == TAG(h) && m->entries[(uint32_t)e - 1].key == key)
            return &m->entries[(uint32_t)e - 1].val;
    }
    return NULL;
}

uint64_t *
u64map_get(const u64map_t *m, uint64_t key)
{
    return m->idx.slots ? u64map_find(m, key, mix64(key)) : NULL;
}

uint64_t *
u64map_upsert(u64map_t *m, uint64_t key, bool *added)
{
    *added = false;
    uint64_t h = mix64(key);
    uint64_t *found = m->idx.slots ? u64map_find(m, key, h) : NULL;
    if (found)
        return found;
    if (!m->idx.slots || (m->count + 1) * 2 > m->idx.mask + 1) /* at most half full */
        if (tagindex_grow(&m->idx, m->idx.slots ? (m->idx.mask + 1) * 2 : 1024) != 0)
            return NULL;
    if (m->idx.old)
        tagindex_migrate(&m->idx, MIGRATE_STEP);
    size_t pos = (size_t)(h >> 32) & m->idx.mask;
    while (m->idx.slots[pos])
        pos = (pos + 1) & m->idx.mask;
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        u64map_entry_t *e = bigmem_realloc(m->entries, cap * sizeof *e);
        if (!e)
            return NULL;
        m->entries = e;
        m->cap = cap;
    }
    m->entries[m->count].key = key;
    m->entries[m->count].val = 0;
    m->idx.slots[pos] = TAG(h) | (uint64_t)(++m->count);
    *added = true;
    return &m->entries[m->count - 1].val;
}

int
u64map_load(u64map_t *m, u64map_entry_t *entries, size_t count, size_t entries_cap)
{
    u64map_free(m); /* and with it any move under way */
    size_t cap = 1024;
    while (cap < (count + 1) * 2)
        cap *= 2;
    m->entries = entries;
    m->cap = entries_cap;
    m->idx.slots = bigmem_calloc(cap, sizeof *m->idx.slots);
    if (!m->idx.slots)
        return -1;
    m->idx.mask = cap - 1;
    m->count = count;
    /* in batches: prefetch the slots, then fill them (memory-bound) */
    enum { BATCH = 32 };
    uint64_t hs[BATCH];
    for (size_t base = 0; base < count; base += BATCH) {
        size_t n = count - base < BATCH ? count - base : BATCH;
        for (size_t k = 0; k < n; k++) {
            hs[k] = mix64(entries[base + k].key);
            __builtin_prefetch(&m->idx.slots[(size_t)(hs[k] >> 32) & m->idx.mask], 1);
        }
        for (size_t k = 0; k < n; k++) {
            size_t pos = (size_t)(hs[k] >> 32) & m->idx.mask;
            while (m->idx.slots[pos])
                pos = (pos + 1) & m->idx.mask;
            m->idx.slots[pos] = TAG(hs[k]) | (uint64_t)(base + k + 1);
        }
    }
    return 0;
}
