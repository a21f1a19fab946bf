/*  libFuzzer target: a log record as read from disk (daemon/store_log.c
    store_record_decode), then its event as the replay and pacer verify
    read it.

    The input is the value of one `log` entry: a version 1 record
    [1, recorded_at, hash, event] or a version 2 record [2, recorded_at,
    hash, principal, event] (docs/PROTOCOL.md, "The log"), or anything else,
    which must be refused as STORE_CORRUPT with a message. What decodes
    must point inside the input; its event then goes where pacerd sends it:
    pacer verify's well-formedness scan and chain hash (store_verify), and
    the replay's decoder (projection_decode_batch, without a scan first),
    whose accepted event, if projection_check admits it as the writer did
    when it was appended, is folded into a fresh projection holding the
    fixture (tests/fuzz_fixture.h), as a replay folds it.

    Build: cmake -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang; run:
    ./fuzz_record -dict=tests/corpus/pacer.dict corpus/ tests/corpus/fuzz_record */

#include "daemon/store_log.h"
#include "tests/fuzz_fixture.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    store_record_t rec;
    char err[256] = "";
    int rc = store_record_decode(7, data, size, &rec, err, sizeof err);
    if (rc != STORE_OK) {
        FUZZ_CHECK(rc == STORE_CORRUPT && err[0] != '\0');
        return 0;
    }
    /* everything it returns lies inside the input */
    const uint8_t *end = data + size;
    FUZZ_CHECK(rec.seq == 7 && rec.recorded_at >= 0);
    FUZZ_CHECK(rec.hash > data && rec.hash + STORE_HASH_BYTES <= end);
    FUZZ_CHECK(rec.event > rec.hash && rec.event_len > 0 && rec.event + rec.event_len == end);
    if (rec.principal) {
        FUZZ_CHECK(rec.principal_len > 0 && rec.principal_len <= STORE_PRINCIPAL_MAX);
        FUZZ_CHECK((const uint8_t *)rec.principal > rec.hash &&
                   (const uint8_t *)rec.principal + rec.principal_len <= rec.event);
    } else
        FUZZ_CHECK(rec.principal_len == 0);

    /* pacer verify */
    if (mp_scan(rec.event, rec.event_len, WIRE_MAX_DEPTH)) {
        static const uint8_t prev[STORE_HASH_BYTES];
        uint8_t h[STORE_HASH_BYTES];
        store_chain_hash_principal(prev, rec.seq, rec.recorded_at, rec.principal, rec.principal_len,
                                   rec.event, rec.event_len, h);
    }

    /* the replay */
    projection_item_t item = {rec.seq, rec.recorded_at, rec.event, rec.event_len};
    fold_event_t d;
    msgpack_zone zone;
    FUZZ_CHECK(msgpack_zone_init(&zone, 4096));
    projection_decode_batch(&item, 1, &zone, &d);
    if (d.ok) {
        fuzz_check_canonical(&d.ev);
        calendar_t *cal = fuzz_calendar();
        projection_t *p = projection_new(cal);
        FUZZ_CHECK(p);
        uint64_t seq = fuzz_fold_fixture(fx, p);
        ev_error_t everr;
        ev_errcode_t erc = projection_check(p, &d.ev, &everr);
        if (erc != EVE_OK)
            fuzz_check_refusal(erc, &everr);
        else {
            d.seq = seq + 1;
            FUZZ_CHECK(projection_fold_decoded(p, &d, 1) == 0);
        }
        projection_destroy(&p);
        calendar_destroy(&cal);
    }
    msgpack_zone_destroy(&zone);
    return 0;
}
