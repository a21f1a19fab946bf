/*  libFuzzer target: everything pacerd does with an untrusted request body
    before it touches the log: the structural scan, msgpack-c decoding,
    request parsing, event validation and canonical encoding.
    Build: cmake -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./fuzz_request corpus/ */

#include "events/schema.h"
#include "events/wire.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    wire_request_t req;
    if (wire_request_parse(&req, data, size, msg, sizeof msg) == WIRE_OK && req.op == OP_APPEND) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        for (uint32_t i = 0; i < req.nevents; i++) {
            event_t ev;
            ev_error_t err;
            if (event_decode(&req.events[i], &ev, &err) == EVE_OK) {
                size_t before = sb.size;
                event_encode(&ev, &pk);
                /* the canonical form must itself be valid and stable */
                if (!mp_scan((const uint8_t *)sb.data + before, sb.size - before, 32))
                    __builtin_trap();
            } else if (strlen(err.message) == 0)
                __builtin_trap(); /* every refusal names its problem */
        }
        msgpack_sbuffer_destroy(&sb);
    }
    wire_request_free(&req);
    return 0;
}
