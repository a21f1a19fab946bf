/*  test_kv: an event written in a test as alternating keys and typed
    values, packed as msgpack: "s:text" a str, "i:42" an int64, "d:1.5" or
    "f:1.5" a float64. Shared by the unit tests that fold hand-written
    events (test_admission, test_alerter, test_projection); header only. */

#ifndef PACER_TEST_KV_H
#define PACER_TEST_KV_H

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* Pack kv (NULL-terminated, key then value) as one map into sb, which the
   caller has initialised and destroys. */
static inline void
test_kv_pack(msgpack_sbuffer *sb, const char *const *kv)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    size_t n = 0;
    while (kv[n])
        n++;
    msgpack_pack_map(&pk, n / 2);
    for (size_t i = 0; i < n; i += 2) {
        msgpack_pack_str_with_body(&pk, kv[i], strlen(kv[i]));
        const char *v = kv[i + 1];
        if (v[0] == 's')
            msgpack_pack_str_with_body(&pk, v + 2, strlen(v + 2));
        else if (v[0] == 'i')
            msgpack_pack_int64(&pk, strtoll(v + 2, NULL, 10));
        else
            msgpack_pack_double(&pk, strtod(v + 2, NULL));
    }
}

#endif
