/*  folds: the registry of the folds pacerd runs (projections/fold.h).

    A fold is one file and one line in the list below (and its extern
    above). The order matters twice: the projection comes first, because
    its section leads every snapshot (the bytes snapshots have always begun
    with); the folds every pacerd runs come before the detectors, which
    pacerd --detectors off leaves out. pacer-eval runs the detectors. */

#include "projections/alertcfg.h"
#include "projections/fold.h"
#include "projections/projection.h"

#include <string.h>

extern const fold_class_t detect_amount_outlier;
extern const fold_class_t detect_duplicate_order;
extern const fold_class_t detect_customer_burst;
extern const fold_class_t detect_period_end_stuffing;
extern const fold_class_t detect_padding;
extern const fold_class_t detect_no_sales_trail;
extern const fold_class_t detect_benford;
extern const fold_class_t detect_overdue_collection;
#ifdef PACER_TEST_FOLD /* pacerd-testfold (tests/it_folds.py): a fold added by one file */
extern const fold_class_t fold_test_counter;
#endif

/* Where the detectors start in FOLDS. */
#define FIRST_DETECTOR 2

// clang-format off: one line a fold
const fold_class_t *const FOLDS[] = {
    &fold_projection,
    &fold_alertcfg,
    /* FIRST_DETECTOR */
    &detect_amount_outlier,
    &detect_duplicate_order,
    &detect_customer_burst,
    &detect_period_end_stuffing,
    &detect_padding,
    &detect_no_sales_trail,
    &detect_benford,
    &detect_overdue_collection,
#ifdef PACER_TEST_FOLD
    &fold_test_counter,
#endif
    NULL,
};
// clang-format on

const fold_class_t *const *const DETECTORS = FOLDS + FIRST_DETECTOR;

const fold_class_t *
fold_find(const char *name)
{
    for (const fold_class_t *const *f = FOLDS; *f; f++)
        if (strcmp((*f)->name, name) == 0)
            return *f;
    return NULL;
}
