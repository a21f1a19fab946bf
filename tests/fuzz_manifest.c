/*  libFuzzer target: a projection snapshot's chunk manifest as read from
    disk, and the chunks it names, through what store_reader_snapshot runs
    (daemon/store_snapshot.c): store_manifest_decode on the `snap` value,
    then store_manifest_gather over the chunks.

    The input: one byte L, then L bytes (fewer if the input ends), the value
    of a `snap` entry; then the chunk table, one little-endian 3-byte size
    per chunk (chunk numbers first, first + 1, ... of the manifest); chunks
    past the table are missing, and so are those past TOTAL_MAX bytes in
    all: copying hundreds of MiB (a first run found inputs that add up to
    227 MiB and ran at a sixth of the speed) tests no more arithmetic than
    copying a few. The chunks' bytes come from here (a pattern that differs
    from chunk to chunk), since the loader never reads them, only their
    sizes.

    Checked: a value that is not 32 bytes with the manifest's magic is not a
    manifest (a whole snapshot, as older versions stored); a manifest
    decodes only if it can describe a snapshot (chunk numbers that do not
    wrap, no more chunks than bytes, a chunk if there is a byte) and then
    encodes back to the same bytes; a refusal says why. The gather succeeds
    exactly when the first `chunks` chunks are all there, none empty, and add
    up to the manifest's length, and then returns their bytes in order.

    Seeds (tests/corpus/fuzz_manifest/): the manifests of a pacerd run
    (pacerd --snapshot-every 20, events appended, `mdb_dump -s snap` of its
    state directory), each with its chunk's real size, and a value as
    versions before chunking stored it.

    Build: cmake -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang; run:
    ./fuzz_manifest corpus/ tests/corpus/fuzz_manifest */

#include "daemon/store_snapshot.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As tests/fuzz_fixture.h has it; this target needs nothing else of it. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define TOTAL_MAX ((size_t)8 << 20) /* a real two-chunk snapshot (5.3 MiB) fits */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *table; /* 3-byte LE sizes */
    size_t n;             /* chunks in the table */
    uint64_t first;       /* the manifest's first chunk */
} chunks_t;

/* Chunk i's bytes: the pattern from offset i % 251, so that chunks in the
   wrong order or place would show. */
static uint8_t pattern[TOTAL_MAX + 251];

static size_t
table_size(const chunks_t *c, uint64_t i)
{
    const uint8_t *p = c->table + 3 * i;
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16;
}

static int
chunk_get(void *arg, uint64_t chunk, const void **data, size_t *len, char *err, size_t errlen)
{
    chunks_t *c = arg;
    FUZZ_CHECK(chunk >= c->first); /* gather asks only for the manifest's chunks */
    uint64_t i = chunk - c->first;
    if (i >= c->n)
        return STORE_NOT_FOUND;
    *data = pattern + i % 251;
    *len = table_size(c, i);
    return STORE_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pattern[1])
        for (size_t i = 0; i < sizeof pattern; i++)
            pattern[i] = (uint8_t)(i * 131 + 7);
    if (size == 0)
        return 0;
    size_t vlen = data[0] < size - 1 ? data[0] : size - 1;
    const uint8_t *val = data + 1;
    /* the value in a buffer of its own size, so a read past it is caught */
    uint8_t *copy = malloc(vlen ? vlen : 1);
    FUZZ_CHECK(copy);
    memcpy(copy, val, vlen);
    chunks_t c = {.table = val + vlen, .n = (size - 1 - vlen) / 3};
    size_t total = 0;
    for (size_t i = 0; i < c.n; i++) {
        total += table_size(&c, i);
        if (total > TOTAL_MAX) {
            c.n = i;
            break;
        }
    }

    store_manifest_t m;
    char err[256] = "";
    int rc = store_manifest_decode(copy, vlen, &m, err, sizeof err);
    bool is_manifest = vlen == STORE_MANIFEST_BYTES && !memcmp(copy, "PSNAPMF1", 8);
    if (!is_manifest) {
        FUZZ_CHECK(rc == STORE_NOT_FOUND);
        free(copy);
        return 0;
    }
    /* fields as stored, whether they decode or not */
    uint8_t again[STORE_MANIFEST_BYTES];
    store_manifest_encode(&m, again);
    FUZZ_CHECK(memcmp(again, copy, STORE_MANIFEST_BYTES) == 0);
    free(copy);
    bool wraps = m.chunks > 0 && m.first + (m.chunks - 1) < m.first;
    bool consistent = !wraps && m.chunks <= m.len && (m.chunks > 0 || m.len == 0) &&
                      (uint64_t)(size_t)m.len == m.len;
    if (rc != STORE_OK) {
        FUZZ_CHECK(rc == STORE_CORRUPT && err[0] != '\0' && !consistent);
        return 0;
    }
    FUZZ_CHECK(consistent);

    /* what the chunk table must hold for the gather to succeed */
    bool adds_up = m.chunks <= c.n;
    uint64_t sum = 0;
    for (uint64_t i = 0; adds_up && i < m.chunks; i++) {
        size_t n = table_size(&c, i);
        adds_up = n > 0;
        sum += n;
    }
    adds_up = adds_up && sum == m.len;

    c.first = m.first;
    char *out = NULL;
    err[0] = '\0';
    rc = store_manifest_gather(&m, chunk_get, &c, &out, err, sizeof err);
    if (rc != STORE_OK) {
        FUZZ_CHECK(rc == STORE_CORRUPT && err[0] != '\0' && !adds_up && !out);
        return 0;
    }
    FUZZ_CHECK(adds_up && out);
    size_t off = 0;
    for (uint64_t i = 0; i < m.chunks; i++) {
        size_t n = table_size(&c, i);
        FUZZ_CHECK(memcmp(out + off, pattern + i % 251, n) == 0);
        off += n;
    }
    FUZZ_CHECK(off == m.len);
    free(out);
    return 0;
}
