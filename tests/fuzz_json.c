/*  libFuzzer target: the JSON Lines importer of `pacer append` (one line to
    msgpack), and the way back (msgpack to JSON) that `pacer events` uses.
    A line that converts must come back from msgpack as JSON again. */

#include "clients/cli_json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (cli_json_line_to_msgpack((const char *)data, size, &sb, err, sizeof err) == CLI_JSON_OK) {
        int rc;
        json_t *back = cli_msgpack_bytes_to_json(sb.data, sb.size, &rc, err, sizeof err);
        if (!back)
            __builtin_trap();
        char *text = cli_json_dumps(back);
        free(text);
        json_decref(back);
    }
    msgpack_sbuffer_destroy(&sb);
    /* arbitrary bytes as msgpack, the reverse direction */
    int rc;
    json_t *j = cli_msgpack_bytes_to_json(data, size, &rc, err, sizeof err);
    json_decref(j);
    return 0;
}
