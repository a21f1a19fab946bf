/*  money: amounts in minor units, written as people read them.

    Events carry money as int64 minor units with an ISO 4217 code beside
    it (EVENTS.md). People read major units: 1840000 CNY is "18,400.00
    CNY", 5000 JPY is "5,000 JPY" (the yen has no minor unit), 1500 KWD is
    "1.500 KWD". The number of minor digits comes from ISO 4217: most
    currencies have 2; the ones with 0 or 3 are listed in money.c. An
    unknown code gets 2, which is right for nearly every currency.

    Every alert and anomaly explanation formats money with money_format,
    so the CLI, the alerts and the reports agree on how an amount reads.

    Errors: none. Every function is total: an unknown currency gets 2
    digits, a short buffer a truncated (still NUL-terminated) string. */

#ifndef PACER_EVENTS_MONEY_H
#define PACER_EVENTS_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Minor-unit digits of an ISO 4217 code (0, 2 or 3); NULL or unknown: 2. */
int money_digits(const char *currency);

/* "18,400.00 CNY", "-9,100.50 USD", "5,000 JPY"; with currency NULL or
   empty, the number alone with 2 decimals ("18,400.00"). Always
   NUL-terminated when outlen > 0; truncated only when outlen is under 32.
   Returns out. */
char *money_format(int64_t minor, const char *currency, char *out, size_t outlen);

/* The same for a rate that need not be a whole number of minor units
   (an amount a working day): rounded to the nearest minor unit. */
char *money_format_d(double minor, const char *currency, char *out, size_t outlen);

#endif
