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
    slot_t *slots; /* the table inserts go to */
    size_t mask;   /* capacity - 1; capacity is a power of two */
    /* Growing moves the entries of the full table (`old`) into one twice
       its size a slice at a time, in dedup_reserve, instead of all at once:
       at 23 million ids moving them all stalled the writer for 3 s. Old
       slots below `migrated` have been moved; lookups search the new
       table, then the old one above `migrated`. */
    slot_t *old;
    size_t old_mask, migrated;
    size_t size;     /* entries in both tables, tombstones included */
    size_t tombs;    /* tombstones among them */
    slot_t *journal; /* inserts since the last settle, oldest first */
    size_t journal_len, journal_cap;
};

/* A rolled-back insert: its slot stays taken, so that the probe chains
   through it stay intact, but it never matches. Tombstones are dropped
   when the table they are in is grown out of. */
#define TOMBSTONE UINT64_MAX

/* Old slots moved per dedup_reserve: at least this many, and twice the
   reservation, so a migration is over before the new table fills. */
#define MIGRATE_MIN ((size_t)1 << 16)

/* The tables are mapped directly, and left out of forked children: a
   snapshot child (daemon/projector) never reads them, and were they shared
   with it, every insert while it runs would copy a page (copy-on-write),
   a random page per event. */
static slot_t *
table_new(size_t cap)
{
    slot_t *t = bigmem_map(cap * sizeof(slot_t));
    if (t)
        bigmem_dontfork(t, cap * sizeof(slot_t));
    return t;
}

static void
table_free(slot_t *t, size_t mask)
{
    bigmem_unmap(t, (mask + 1) * sizeof(slot_t));
}

static size_t
capacity_for(size_t n)
{
    size_t cap = 1024;
    while (cap * 7 / 10 < n)
        cap <<= 1;
    return cap;
}

static void
place(slot_t *slots, size_t mask, uint64_t hash, uint64_t seq)
{
    size_t pos = (size_t)hash & mask;
    while (slots[pos].seq != 0)
        pos = (pos + 1) & mask;
    slots[pos].hash = hash;
    slots[pos].seq = seq;
}

dedup_t *
dedup_new(size_t expected)
{
    dedup_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t cap = capacity_for(expected);
    self->slots = table_new(cap);
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
    table_free(self->slots, self->mask);
    if (self->old)
        table_free(self->old, self->old_mask);
    free(self->journal);
    free(self);
    *self_p = NULL;
}

/* Move up to k more old slots into the new table. */
static void
migrate(dedup_t *self, size_t k)
{
    size_t end = self->old_mask + 1;
    if (end - self->migrated > k)
        end = self->migrated + k;
    for (size_t i = self->migrated; i < end; i++) {
        if (self->old[i].seq == TOMBSTONE) {
            self->size--;
            self->tombs--;
        } else if (self->old[i].seq)
            place(self->slots, self->mask, self->old[i].hash, self->old[i].seq);
    }
    self->migrated = end;
    if (end == self->old_mask + 1) {
        table_free(self->old, self->old_mask);
        self->old = NULL;
    }
}

int
dedup_reserve(dedup_t *self, size_t n)
{
    assert(self);
    /* The journal holds (hash, seq), not slot positions, so entries may
       move (a slice of a growth) while inserts are still unsettled. */
    if (self->journal_len + n > self->journal_cap) {
        size_t jcap = self->journal_len + n < 4096 ? 4096 : self->journal_len + n;
        slot_t *j = realloc(self->journal, jcap * sizeof *j);
        if (!j)
            return -1;
        self->journal = j;
        self->journal_cap = jcap;
    }
    size_t need = self->size + n;
    if (self->old) {
        /* Finish at once if the new table would fill first (a huge batch). */
        migrate(self, need <= (self->mask + 1) * 7 / 10
                          ? (2 * n > MIGRATE_MIN ? 2 * n : MIGRATE_MIN)
                          : SIZE_MAX);
    }
    if (need <= (self->mask + 1) * 7 / 10)
        return 0;
    assert(!self->old);
    /* Twice the size, unless one reservation needs more: 35% full, and
       at most 60% when the move is over, since it moves two old slots for
       every slot reserved meanwhile. */
    size_t ncap = (self->mask + 1) * 2;
    while (ncap * 7 / 10 < need + (self->mask + 1) / 2)
        ncap *= 2;
    slot_t *ns = table_new(ncap);
    if (!ns)
        return -1;
    self->old = self->slots;
    self->old_mask = self->mask;
    self->migrated = 0;
    self->slots = ns;
    self->mask = ncap - 1;
    migrate(self, 2 * n > MIGRATE_MIN ? 2 * n : MIGRATE_MIN);
    return 0;
}

void
dedup_insert(dedup_t *self, uint64_t hash, uint64_t seq)
{
    assert(self && seq != 0);
    assert(self->size + 1 <= (self->mask + 1) * 7 / 10);
    assert(self->journal_len < self->journal_cap);
    place(self->slots, self->mask, hash, seq);
    self->journal[self->journal_len++] = (slot_t){hash, seq};
    self->size++;
}

void
dedup_load(dedup_t *self, const uint64_t *hashes, const uint64_t *seqs, size_t n)
{
    assert(!self->old && self->size + n <= (self->mask + 1) * 7 / 10);
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch(&self->slots[(size_t)hashes[i] & self->mask], 1);
    for (size_t i = 0; i < n; i++)
        place(self->slots, self->mask, hashes[i], seqs[i]);
    self->size += n;
}

/* The slot holding (hash, seq), in whichever table it is now: the one a
   lookup has just passed (dedup_next leaves it.pos one past it). */
static slot_t *
find_slot(dedup_t *self, uint64_t hash, uint64_t seq)
{
    dedup_iter_t it;
    for (uint64_t s = dedup_first(self, hash, &it); s; s = dedup_next(self, &it))
        if (s == seq)
            return it.in_old ? &self->old[(it.pos - 1) & self->old_mask]
                             : &self->slots[(it.pos - 1) & self->mask];
    return NULL;
}

void
dedup_rollback(dedup_t *self)
{
    while (self->journal_len > 0) {
        slot_t e = self->journal[--self->journal_len];
        slot_t *s = find_slot(self, e.hash, e.seq);
        assert(s);
        if (s) {
            s->seq = TOMBSTONE;
            self->tombs++;
        }
    }
}

size_t
dedup_mark(const dedup_t *self)
{
    return self->journal_len;
}

void
dedup_settle(dedup_t *self, size_t mark)
{
    assert(mark <= self->journal_len);
    if (mark == 0)
        return; /* journal may still be NULL, which memmove may not get */
    memmove(self->journal, self->journal + mark, (self->journal_len - mark) * sizeof(slot_t));
    self->journal_len -= mark;
}

uint64_t
dedup_next(dedup_t *self, dedup_iter_t *it)
{
    if (!it->in_old) {
        while (self->slots[it->pos].seq != 0) {
            slot_t *s = &self->slots[it->pos];
            it->pos = (it->pos + 1) & self->mask;
            if (s->hash == it->hash && s->seq != TOMBSTONE)
                return s->seq;
        }
        if (!self->old)
            return 0;
        it->in_old = true;
        it->pos = (size_t)it->hash & self->old_mask;
    }
    /* The old table: its probe chains are intact; what lies below
       `migrated` is in the new table already. */
    while (self->old[it->pos].seq != 0) {
        size_t pos = it->pos;
        it->pos = (it->pos + 1) & self->old_mask;
        if (pos >= self->migrated && self->old[pos].hash == it->hash &&
            self->old[pos].seq != TOMBSTONE)
            return self->old[pos].seq;
    }
    return 0;
}

uint64_t
dedup_first(dedup_t *self, uint64_t hash, dedup_iter_t *it)
{
    it->hash = hash;
    it->pos = (size_t)hash & self->mask;
    it->in_old = false;
    return dedup_next(self, it);
}

void
dedup_prefetch(dedup_t *self, uint64_t hash)
{
    __builtin_prefetch(&self->slots[(size_t)hash & self->mask], 1);
    if (self->old && ((size_t)hash & self->old_mask) >= self->migrated)
        __builtin_prefetch(&self->old[(size_t)hash & self->old_mask]);
}

bool
dedup_growing(const dedup_t *self)
{
    return self->old != NULL;
}

size_t
dedup_size(dedup_t *self)
{
    return self->size - self->tombs;
}
