/* The registry of anomaly detectors (placeholder until they land). */
#include "projections/detector.h"

const detector_class_t *const DETECTORS[] = {NULL};
