/*  bigmem: see bigmem.h. */

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
