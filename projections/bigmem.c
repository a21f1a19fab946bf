/*  bigmem: see bigmem.h. */

#define _GNU_SOURCE /* mremap */

#include "projections/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* Advise on the pages of [p, p + size). All of them, not just the 2 MiB-
   aligned middle: advising part of a mapping splits it in several, and
   glibc's realloc can then no longer mremap it and copies instead (287 ms
   for 256 MiB here, against 1.3 ms; every doubling of an order table or a
   string arena paid it). A failed madvise only means small pages: nothing
   to report. */
static void
advise(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    if (!p || size < 2 * HUGE_PAGE)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + size + page - 1) & ~(page - 1);
    (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}

void *
bigmem_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p && n && size <= SIZE_MAX / n)
        advise(p, n * size);
    return p;
}

void *
bigmem_realloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    advise(q, size);
    return q;
}

void *
bigmem_map(size_t bytes)
{
    void *p =
        mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    advise(p, bytes);
    return p;
}

void *
bigmem_remap(void *p, size_t old_bytes, size_t new_bytes)
{
    if (!p)
        return bigmem_map(new_bytes);
    void *q = mremap(p, old_bytes ? old_bytes : 1, new_bytes ? new_bytes : 1, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return NULL;
    advise(q, new_bytes);
    return q;
}

void
bigmem_unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

void
bigmem_dontfork(void *p, size_t bytes)
{
#ifdef MADV_DONTFORK
    if (p && bytes)
        (void)madvise(p, bytes, MADV_DONTFORK);
#else
    (void)p;
    (void)bytes;
#endif
}
