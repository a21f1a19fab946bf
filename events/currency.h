/*  currency: ISO 4217 alphabetic codes.

    The schema checks only a currency's shape (three capital letters), since
    it also validates events read back from the log, and the list of codes
    changes over the years (HRK was withdrawn in 2023, VED added in 2021):
    an event accepted once must decode the same way forever. The list is
    applied where an event is admitted (daemon/group.c): a currency that is
    not a current code is refused with invalid_value, so "RMB" or "XYZ" never
    reaches the log.

    The codes are those of Debian's iso-codes package (iso_4217.json),
    compiled in at build time by cmake/iso4217.cmake: pacerd does not need
    the file at run time.

    Errors: none; both functions are total (code must point at len bytes;
    a length other than 3 is simply not a current code). */

#ifndef PACER_EVENTS_CURRENCY_H
#define PACER_EVENTS_CURRENCY_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the len bytes at code are a current ISO 4217 alphabetic code. */
bool currency_is_iso4217(const char *code, size_t len);

/* How many codes the list holds (for messages and tests). */
size_t currency_count(void);

#endif
