/*  libFuzzer target: pacerd's keys file (daemon/auth.c, auth_keys_parse).
    The file is written by an administrator, but a parser of bytes from
    disk is fuzzed all the same. A file that parses must have every key
    findable, with a role and a non-empty principal. */

#include "daemon/auth.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    auth_keys_t *keys = auth_keys_parse((const char *)data, size, err, sizeof err);
    if (!keys) {
        if (!err[0])
            __builtin_trap(); /* a refusal always says why */
        return 0;
    }
    size_t n = auth_keys_count(keys);
    size_t by_role = auth_keys_count_role(keys, AUTH_PRODUCER) +
                     auth_keys_count_role(keys, AUTH_READER) +
                     auth_keys_count_role(keys, AUTH_ADMIN);
    if (by_role != n)
        __builtin_trap();
    /* every key line found again by its key */
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (eol - p >= AUTH_KEY_LEN && *p != '#') {
            const auth_entry_t *e = auth_keys_find(keys, p);
            if (!e || e->role == AUTH_NONE || !e->name[0])
                __builtin_trap();
        }
        p = eol + 1;
    }
    auth_keys_destroy(&keys);
    return 0;
}
