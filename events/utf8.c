/*  utf8: checking and quoting producer text.

    ev_utf8_valid is on the intake's path for every string of every event,
    so runs of ASCII are skipped eight bytes at a time; a multi-byte
    sequence is decoded to its code point to refuse overlongs, surrogates
    and values past U+10FFFF. ev_escape is for error messages only and
    favours plainness over speed. */

#include "events/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool
ev_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs eight bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

char *
ev_escape(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = u[i] < 0x80 ? 1 : u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : 2;
        bool ok = i + n <= len && ev_utf8_valid(s + i, n) && u[i] >= 0x20 && u[i] != 0x7F;
        size_t need = ok ? n : 4;
        if (o + need + 1 > outlen)
            break;
        if (ok)
            memcpy(out + o, s + i, n);
        else
            snprintf(out + o, 5, "\\x%02X", u[i]);
        o += need;
        i += ok ? n : 1;
    }
    if (outlen)
        out[o] = 0;
    return out;
}
