/*  detectors: the registry of anomaly detectors (projections/detector.h).
    A detector is one file, projections/detect_<name>.c, and one line in
    each list below; the daemon and pacer-eval run every class listed. */

#include "projections/detector.h"

#include <string.h>

extern const detector_class_t detect_amount_outlier;
extern const detector_class_t detect_duplicate_order;
extern const detector_class_t detect_customer_burst;
extern const detector_class_t detect_period_end_stuffing;
extern const detector_class_t detect_padding;
extern const detector_class_t detect_no_sales_trail;
extern const detector_class_t detect_benford;
extern const detector_class_t detect_overdue_collection;
#ifdef PACER_TEST_FOLD /* pacerd-testfold (tests/it_folds.py): a fold added by one file */
extern const detector_class_t fold_test_counter;
#endif

// clang-format off: one line a detector
const detector_class_t *const DETECTORS[] = {
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

const detector_class_t *
detector_find(const char *name)
{
    for (const detector_class_t *const *d = DETECTORS; *d; d++)
        if (strcmp((*d)->name, name) == 0)
            return *d;
    return NULL;
}
