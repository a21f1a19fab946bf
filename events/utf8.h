/*  utf8: checking and quoting producer text.

    Every string in an event must be valid UTF-8 (docs/EVENTS.md): no
    overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
    Producer bytes quoted back in an error message pass through ev_escape
    first, so that a message is always valid UTF-8 and prints safely on a
    terminal whatever the producer sent. Nothing here allocates or fails. */

#ifndef PACER_EVENTS_UTF8_H
#define PACER_EVENTS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if the len bytes at s are valid UTF-8 (no overlongs, no surrogates,
   at most U+10FFFF). An empty string is valid. */
bool ev_utf8_valid(const char *s, size_t len);

/* Copy len bytes of producer text into out (NUL-terminated, at most outlen
   bytes) so that it is safe to quote in a message: valid UTF-8 is kept,
   control characters and invalid bytes become \xNN. Truncates on a
   character boundary; with outlen 0 writes nothing. Returns out. */
char *ev_escape(const char *s, size_t len, char *out, size_t outlen);

#endif
