/*  bigmem: allocation for the large tables (the id index, cells, symbol
    tables, orders).

    They are hundreds of megabytes and probed at random, so with 4 KiB pages
    every probe risks a TLB miss and filling them costs one page fault per
    4 KiB. bigmem asks the kernel for transparent huge pages on them
    (madvise MADV_HUGEPAGE: Debian's default THP mode honours it), which cut
    start-up on a 10M-event log by about half. Memory comes from calloc and
    realloc and is freed with free() (small blocks are left alone), except
    for the arrays of bigmem_map.

    Errors: as malloc's. Out of memory is NULL (errno ENOMEM), and the
    caller says what it was allocating; the huge-page advice is best
    effort (a kernel that refuses it costs speed, not correctness). */

#ifndef PACER_BIGMEM_H
#define PACER_BIGMEM_H

#include <stddef.h>

/* calloc, then huge pages for a large block. NULL when out of memory. */
void *bigmem_calloc(size_t n, size_t size);
/* realloc, then huge pages for a large block. NULL when out of memory (the
   old block is then untouched, as with realloc). */
void *bigmem_realloc(void *p, size_t size);

/* A zero-filled array that grows in place, for the one that grows with
   every sale (the orders): mapped directly, grown with mremap, so growing
   copies nothing and touches no page (the kernel zero-fills a page when it
   is first used), where realloc and then zeroing the new half took 0.8 s
   at 16 million orders. Not from malloc: free it with bigmem_unmap, with
   the size it was mapped or last remapped to. NULL when out of memory (the
   old mapping is then untouched). */
void *bigmem_map(size_t bytes);
void *bigmem_remap(void *p, size_t old_bytes, size_t new_bytes);
void bigmem_unmap(void *p, size_t bytes);
/* Leave a mapping of bigmem_map out of forked children (MADV_DONTFORK),
   for memory a child never reads: the parent's writes to it then copy
   nothing while a child lives. Best effort. */
void bigmem_dontfork(void *p, size_t bytes);

#endif
