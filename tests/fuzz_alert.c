/*  libFuzzer target: what libpacer does with an alert record or an `alerts`
    reply from the network (libpacer_alert.c): the structural scan, the
    record's checks and its one-allocation layout, and the page decoder.
    Every record that decodes must round-trip: decoding its raw bytes again
    gives the same aseq and strings.
    Build: cmake -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./fuzz_alert corpus/ */

#include "clients/libpacer_alert.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_same(const pacer_alert_t *a, const pacer_alert_t *b)
{
    if (a->aseq != b->aseq || strcmp(a->key, b->key) != 0 || strcmp(a->topic, b->topic) != 0 ||
        strcmp(a->summary, b->summary) != 0 || a->notify_count != b->notify_count)
        __builtin_trap();
    for (size_t i = 0; i < a->notify_count; i++)
        if (strcmp(a->notify[i], b->notify[i]) != 0)
            __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    pacer_alert_t *alert = NULL;
    if (pacer_alert_decode(data, size, &alert, err, sizeof err) == PACER_OK) {
        pacer_alert_t *again = pacer_alert_dup(alert);
        if (!again)
            __builtin_trap();
        check_same(alert, again);
        pacer_alert_destroy(&again);
        pacer_alert_destroy(&alert);
    } else if (alert || err[0] == '\0')
        __builtin_trap(); /* a refusal leaves nothing behind and says why */
    for (int ordered = 0; ordered < 2; ordered++) {
        pacer_alert_page_t *page = NULL;
        if (pacer_alert_page_decode(data, size, 3, ordered, &page, err, sizeof err) == PACER_OK) {
            for (size_t i = 0; i < pacer_alert_page_count(page); i++) {
                const pacer_alert_t *record = pacer_alert_page_get(page, i);
                pacer_alert_t *copy = pacer_alert_dup(record);
                if (!copy)
                    __builtin_trap();
                check_same(record, copy);
                pacer_alert_destroy(&copy);
            }
            pacer_alert_page_destroy(&page);
        } else if (page)
            __builtin_trap();
    }
    return 0;
}
