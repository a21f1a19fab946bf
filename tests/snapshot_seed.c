/*  Writes the seeds of fuzz_snapshot (tests/corpus/fuzz_snapshot/): real
    snapshots, as pacerd writes them, of the fixture (tests/fuzz_fixture.h)
    folded into a projection and the folds (alert settings, detectors).

      snapshot_seed DIR

    writes DIR/full.snap (projection and every fold, after time passed),
    DIR/no_detectors.snap (pacerd --detectors off), DIR/projection_only.snap
    (a snapshot from before the folds existed) and DIR/empty.snap (nothing
    folded). Deterministic: running it again writes the same bytes. */

#include "projections/foldset.h"
/* the fixture header's checks are for the harnesses */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/fuzz_fixture.h"

#include <stdio.h>

/* folds false: the projection's section alone, as before the other folds */
static void
write_seed(const char *dir, const char *name, bool fold, bool folds, bool detectors)
{
    calendar_t *cal = fuzz_calendar();
    foldset_t *fs = foldset_new(cal, detectors ? FOLDSET_ALL : FOLDSET_NO_DETECTORS);
    FUZZ_CHECK(fs);
    if (fold) {
        const msgpack_object *evs = &fuzz_fixture()->u.data;
        uint64_t seq = 0;
        for (uint32_t i = 0; i < evs->via.array.size; i++) {
            event_t ev;
            ev_error_t err;
            if (event_decode(&evs->via.array.ptr[i], &ev, &err) != EVE_OK ||
                foldset_check(fs, &ev, &err) != EVE_OK)
                continue;
            seq++;
            FUZZ_CHECK(foldset_fold_checked(fs, seq, FUZZ_NOW - 1000, &ev, NULL, NULL) == 0);
        }
        FUZZ_CHECK(foldset_tick(fs, FUZZ_NOW, NULL, NULL) == 0);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    FUZZ_CHECK((folds ? foldset_save(fs, &sb) : projection_save(foldset_projection(fs), &sb)) == 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(sb.data, 1, sb.size, f) == sb.size && fclose(f) == 0);
    printf("%s: %zu bytes\n", path, sb.size);
    msgpack_sbuffer_destroy(&sb);
    foldset_destroy(&fs);
    calendar_destroy(&cal);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    write_seed(argv[1], "full.snap", true, true, true);
    write_seed(argv[1], "no_detectors.snap", true, true, false);
    write_seed(argv[1], "projection_only.snap", true, false, false);
    write_seed(argv[1], "empty.snap", false, true, true);
    return 0;
}
