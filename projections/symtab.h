/*  symtab: string interning, and a u64 -> u64 map, both insertion-ordered.

    Projections refer to node ids, metric names, period names and order ids
    by small integers. A symtab hands out ids 1, 2, 3 ... in the order
    strings are first seen; 0 means "none". Because the order of first
    sight is a pure function of the log, two projections folded from the
    same log (incrementally, from scratch, or from a snapshot plus the tail)
    hold identical tables, and serialise to identical bytes.

    u64map is the same idea for integer keys: entries live in an array in
    insertion order, with an open-addressing index over it. Entries are
    never removed (a projection only grows).

    Errors: only memory can fail, and nothing here writes a message (the
    fold that called names what it was interning): the id 0 and a NULL
    pointer mean out of memory where an id or a pointer is returned, -1
    where an int is. The table is then as it was and still usable.
    Lookups cannot fail. */

#ifndef PACER_SYMTAB_H
#define PACER_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _symtab_t symtab_t;

/* NULL when out of memory. */
symtab_t *symtab_new(void);
void symtab_destroy(symtab_t **self_p);
/* The id of s, adding it if new; 0 only when out of memory. */
uint32_t symtab_intern(symtab_t *self, const char *s, size_t len);
/* Snapshot loading: make room for n more strings, then add strings known
   to be new (no comparison is made; a repeat would get a second id).
   symtab_reserve: 0, or -1 when out of memory. symtab_add_new returns the
   id, or 0 when out of memory. */
int symtab_reserve(symtab_t *self, uint32_t n);
uint32_t symtab_add_new(symtab_t *self, const char *s, size_t len);
/* The same for n strings at once (their slots are prefetched first); returns
   the id of the last, or 0 when out of memory. Room must be reserved. */
uint32_t symtab_add_new_batch(symtab_t *self, const char *const *s, const uint32_t *len, size_t n);
/* The id of s, or 0 if it was never interned. */
uint32_t symtab_find(symtab_t *self, const char *s, size_t len);
/* Batched lookups (see projections/prefetch.c): hash once, then warm the
   memory a lookup will touch one step per pass over the batch, so that the
   cache misses of many lookups overlap instead of queueing. The prefetch
   calls are hints: they change nothing and cannot fail. */
uint64_t symtab_hash(const char *s, size_t len);
/* Step 1: the index slot the probe starts at. */
void symtab_prefetch_slot(const symtab_t *self, uint64_t h);
/* Step 2: the first candidate id in that slot (0 if none), with its offset
   and length prefetched. */
uint32_t symtab_peek(const symtab_t *self, uint64_t h);
/* Step 3: the candidate's bytes. */
void symtab_prefetch_str(const symtab_t *self, uint32_t id);
/* symtab_find and symtab_intern with the hash already computed (the same
   returns: 0 is never seen, or out of memory for the intern). */
uint32_t symtab_find_hashed(symtab_t *self, const char *s, size_t len, uint64_t h);
uint32_t symtab_intern_hashed(symtab_t *self, const char *s, size_t len, uint64_t h);
/* The string of id (NUL-terminated; valid until the symtab is destroyed).
   An id outside 1..count gives "" (and symtab_len 0). */
const char *symtab_str(symtab_t *self, uint32_t id);
uint32_t symtab_len(symtab_t *self, uint32_t id);
/* Number of strings; valid ids are 1..count. */
uint32_t symtab_count(symtab_t *self);

typedef struct {
    uint64_t key;
    uint64_t val;
} u64map_entry_t;

/* The open-addressing index of a symtab and of a u64map: 64-bit entries,
   the top 32 bits a hash tag that also picks the slot, 0 = empty. A full
   index moves into one twice its size a few slots per insert; meanwhile
   `old` is the index being moved out of, its slots below `migrated` done. */
typedef struct {
    uint64_t *slots;
    size_t mask;
    uint64_t *old;
    size_t old_mask, migrated;
} tagindex_t;

typedef struct {
    u64map_entry_t *entries; /* insertion order */
    size_t count, cap;
    tagindex_t idx; /* tag | entry position + 1 */
} u64map_t;

void u64map_init(u64map_t *m);
void u64map_free(u64map_t *m);
/* Pointer to the value of key, inserting it with value 0 if new (*added
   says which). NULL when out of memory. Valid until the next insert. */
uint64_t *u64map_upsert(u64map_t *m, uint64_t key, bool *added);
/* Pointer to the value of key, or NULL. */
uint64_t *u64map_get(const u64map_t *m, uint64_t key);
/* Rebuild from an entry array (snapshot load), taking it over: it must come
   from malloc or bigmem and hold entries_cap entries. -1 on out of memory
   (the map owns the array either way). */
int u64map_load(u64map_t *m, u64map_entry_t *entries, size_t count, size_t entries_cap);

/* A well-mixed 64-bit hash (splitmix64 finaliser). */
static inline uint64_t
mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

#endif
