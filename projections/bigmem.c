/*  bigmem: see bigmem.h. */

#include "projections/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* Advise on the 2 MiB-aligned part of [p, p + size). A failed madvise only
   means small pages: nothing to report. */
static void
advise(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    if (!p || size < 2 * HUGE_PAGE)
        return;
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + size) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (end > start)
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
