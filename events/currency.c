/*  currency: see currency.h. A binary search over the sorted generated
    list (about 180 codes). */

#include "events/currency.h"

#include "iso4217_codes.h"

#include <stdlib.h>
#include <string.h>

static int
compare(const void *key, const void *entry)
{
    return memcmp(key, entry, 3);
}

bool
currency_is_iso4217(const char *code, size_t len)
{
    return len == 3 &&
           bsearch(code, iso4217_codes, ISO4217_COUNT, sizeof iso4217_codes[0], compare) != NULL;
}

size_t
currency_count(void)
{
    return ISO4217_COUNT;
}
