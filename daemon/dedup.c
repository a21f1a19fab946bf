/*  dedup: see dedup.h. */

#include "daemon/dedup.h"
#include "projections/bigmem.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    uint64_t seq;
} slot_t;

struct _dedup_t {
    slot_t *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t size;
    size_t *journal; /* slots filled since the last settle */
    size_t journal_len, journal_cap;
};

static size_t
capacity_for(size_t n)
{
    size_t cap = 1024;
    while (cap * 7 / 10 < n)
        cap <<= 1;
    return cap;
}

static void
place(slot_t *slots, size_t mask, uint64_t hash, uint64_t seq, size_t *where)
{
    size_t pos = (size_t)hash & mask;
    while (slots[pos].seq != 0)
        pos = (pos + 1) & mask;
    slots[pos].hash = hash;
    slots[pos].seq = seq;
    if (where)
        *where = pos;
}

dedup_t *
dedup_new(size_t expected)
{
    dedup_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t cap = capacity_for(expected);
    self->slots = bigmem_calloc(cap, sizeof(slot_t));
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = cap - 1;
    return self;
}

void
dedup_destroy(dedup_t **self_p)
{
    dedup_t *self = *self_p;
    if (!self)
        return;
    free(self->slots);
    free(self->journal);
    free(self);
    *self_p = NULL;
}

int
dedup_reserve(dedup_t *self, size_t n)
{
    assert(self);
    /* Growing rehashes every slot, which would invalidate the journal. */
    assert(self->journal_len == 0);
    size_t need = self->size + n;
    if (n > self->journal_cap) {
        size_t jcap = n < 4096 ? 4096 : n;
        size_t *j = realloc(self->journal, jcap * sizeof *j);
        if (!j)
            return -1;
        self->journal = j;
        self->journal_cap = jcap;
    }
    size_t cap = self->mask + 1;
    if (need <= cap * 7 / 10)
        return 0;
    size_t ncap = capacity_for(need * 2);
    slot_t *ns = bigmem_calloc(ncap, sizeof(slot_t));
    if (!ns)
        return -1;
    for (size_t i = 0; i < cap; i++)
        if (self->slots[i].seq)
            place(ns, ncap - 1, self->slots[i].hash, self->slots[i].seq, NULL);
    free(self->slots);
    self->slots = ns;
    self->mask = ncap - 1;
    return 0;
}

void
dedup_insert(dedup_t *self, uint64_t hash, uint64_t seq)
{
    assert(self && seq != 0);
    assert(self->size + 1 <= (self->mask + 1) * 7 / 10);
    assert(self->journal_len < self->journal_cap);
    place(self->slots, self->mask, hash, seq, &self->journal[self->journal_len++]);
    self->size++;
}

void
dedup_load(dedup_t *self, const uint64_t *hashes, const uint64_t *seqs, size_t n)
{
    assert(self->size + n <= (self->mask + 1) * 7 / 10);
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch(&self->slots[(size_t)hashes[i] & self->mask], 1);
    for (size_t i = 0; i < n; i++)
        place(self->slots, self->mask, hashes[i], seqs[i], NULL);
    self->size += n;
}

void
dedup_rollback(dedup_t *self)
{
    while (self->journal_len > 0) {
        size_t pos = self->journal[--self->journal_len];
        self->slots[pos].seq = 0;
        self->slots[pos].hash = 0;
        self->size--;
    }
}

void
dedup_settle(dedup_t *self)
{
    self->journal_len = 0;
}

uint64_t
dedup_next(dedup_t *self, dedup_iter_t *it)
{
    while (self->slots[it->pos].seq != 0) {
        slot_t *s = &self->slots[it->pos];
        it->pos = (it->pos + 1) & self->mask;
        if (s->hash == it->hash)
            return s->seq;
    }
    return 0;
}

uint64_t
dedup_first(dedup_t *self, uint64_t hash, dedup_iter_t *it)
{
    it->hash = hash;
    it->pos = (size_t)hash & self->mask;
    return dedup_next(self, it);
}

void
dedup_prefetch(dedup_t *self, uint64_t hash)
{
    __builtin_prefetch(&self->slots[(size_t)hash & self->mask], 1);
}

size_t
dedup_size(dedup_t *self)
{
    return self->size;
}
