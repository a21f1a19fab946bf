/*  bigmem: allocation for the large tables (the id index, cells, symbol
    tables, orders).

    They are hundreds of megabytes and probed at random, so with 4 KiB pages
    every probe risks a TLB miss and filling them costs one page fault per
    4 KiB. bigmem asks the kernel for transparent huge pages on them
    (madvise MADV_HUGEPAGE: Debian's default THP mode honours it), which cut
    start-up on a 10M-event log by about half. Memory comes from calloc and
    realloc and is freed with free(); small blocks are left alone. */

#ifndef PACER_BIGMEM_H
#define PACER_BIGMEM_H

#include <stddef.h>

/* calloc, then huge pages for a large block. NULL when out of memory. */
void *bigmem_calloc(size_t n, size_t size);
/* realloc, then huge pages for a large block. NULL when out of memory (the
   old block is then untouched, as with realloc). */
void *bigmem_realloc(void *p, size_t size);

#endif
