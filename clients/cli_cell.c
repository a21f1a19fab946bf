/*  cli_cell: amounts, counts and times as spreadsheets write them.

    A number is read in two steps. decimal_scan takes the text apart into
    its digits (separators dropped), the position of the decimal point and
    an exponent, checking the form as it goes: separators only in the
    integer part, one kind of them, groups of three after the first.
    decimal_scale then places the point `scale` digits further right and
    reads the integer that leaves, refusing nonzero digits past it. Both
    work on the digit string, so no amount ever passes through a double. */

#include "clients/cli_cell.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/money.h"
#include "events/schema.h"
#include "events/utf8.h"

#define DIGITS_MAX 40 /* more digits than any int64 needs, with room for zeros */

/* White space a cell may be padded with: ASCII, U+00A0, U+202F, U+3000. */
static size_t
space_at(const char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n'))
        return 1;
    if (n >= 2 && !memcmp(s, "\xc2\xa0", 2))
        return 2;
    if (n >= 3 && (!memcmp(s, "\xe2\x80\xaf", 3) || !memcmp(s, "\xe3\x80\x80", 3)))
        return 3;
    return 0;
}

/* The length of the white space that ends s[0..n), 0 if none. */
static size_t
space_before(const char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (space_at(s + n - k, k) == k)
            return k;
    return 0;
}

void
cli_cell_trim(const char *text, const char **start, size_t *len)
{
    const char *s = text;
    size_t n = strlen(text), k;
    while (n && (k = space_at(s, n))) {
        s += k;
        n -= k;
    }
    while (n && (k = space_before(s, n)))
        n -= k;
    *start = s;
    *len = n;
}

/* The cell quoted for a message: at most 60 bytes, control bytes escaped. */
static const char *
quoted(const char *s, size_t n, char *buf, size_t buflen)
{
    char body[256];
    ev_escape(s, n > 60 ? 60 : n, body, sizeof body);
    snprintf(buf, buflen, "\"%s%s\"", body, n > 60 ? "..." : "");
    return buf;
}

/* ---------------------------------------------------------------------
   Decimal numbers */

typedef struct {
    char digits[DIGITS_MAX + 1]; /* significant part, leading zeros dropped */
    int ndigits;
    int point; /* digits before the decimal point (after the exponent) */
    bool negative;
} decimal_t;

static bool
decimal_scan(const char *s, size_t n, decimal_t *d, const char *cell, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    size_t i = 0;
    int int_digits = 0, group = 0, groups = 0, first_group = 0;
    char sep = 0; /* the thousands separator seen: ',', ' ' (any space) or '\'' */
    bool any = false, point = false;
    while (i < n) {
        char c = s[i];
        size_t space = space_at(s + i, n - i);
        if (c >= '0' && c <= '9') {
            any = true;
            if (d->ndigits == 0 && c == '0' && !point) {
                i++; /* a leading zero: no significance, no integer digit */
                group++;
                continue;
            }
            if (d->ndigits >= DIGITS_MAX) {
                snprintf(err, errlen, "%s has too many digits", cell);
                return false;
            }
            d->digits[d->ndigits++] = c;
            if (!point) {
                int_digits++;
                group++;
            }
            i++;
        } else if (!point && (c == ',' || c == '\'' || space)) {
            char kind = c == ',' ? ',' : c == '\'' ? '\'' : ' ';
            if (sep && sep != kind) {
                snprintf(err, errlen, "%s mixes thousands separators", cell);
                return false;
            }
            sep = kind;
            if (groups == 0)
                first_group = group;
            else if (group != 3)
                break; /* reported below */
            if (group == 0)
                break;
            groups++;
            group = 0;
            i += space ? space : 1;
        } else if (c == '.' && !point) {
            point = true;
            i++;
        } else
            break;
    }
    if (sep && (groups == 0 || first_group > 3 || group != 3 || (i < n && s[i] == sep))) {
        if (sep == ',' && groups == 1 && group != 3 && i == n) {
            char fixed[128];
            snprintf(fixed, sizeof fixed, "%.*s", (int)(n < sizeof fixed ? n : sizeof fixed - 1),
                     s);
            char *comma = strchr(fixed, ',');
            if (comma)
                *comma = '.';
            snprintf(err, errlen,
                     "%s: a comma separates thousands in groups of three here, and a decimal "
                     "comma is not read (write %s)",
                     cell, fixed);
        } else
            snprintf(err, errlen, "%s: thousands separators must group the digits by three", cell);
        return false;
    }
    if (!any) {
        snprintf(err, errlen, "%s is not a number", cell);
        return false;
    }
    int exponent = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool neg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            neg = s[i++] == '-';
        int e = 0, ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && ed < 4) {
            e = e * 10 + (s[i++] - '0');
            ed++;
        }
        if (!ed || e > 60) {
            snprintf(err, errlen, "%s has a bad exponent", cell);
            return false;
        }
        exponent = neg ? -e : e;
    }
    if (i != n) {
        snprintf(err, errlen, "%s is not a number", cell);
        return false;
    }
    d->point = int_digits + exponent;
    return true;
}

/* d x 10^scale as an integer; false when a nonzero digit is left past the
   point or it does not fit int64. */
static bool
decimal_scale(const decimal_t *d, int scale, int64_t *out, const char *cell, const char *unit,
              char *err, size_t errlen)
{
    int end = d->point + scale; /* digits that make the integer */
    for (int k = end < 0 ? 0 : end; k < d->ndigits; k++)
        if (d->digits[k] != '0') {
            int decimals = d->ndigits - d->point;
            if (!unit[0])
                snprintf(err, errlen, "%s is not a whole number", cell);
            else
                snprintf(err, errlen, "%s has %d decimal%s; %s has %d (pacer does not round)", cell,
                         decimals, decimals == 1 ? "" : "s", unit, scale);
            return false;
        }
    uint64_t v = 0;
    for (int k = 0; k < end; k++) {
        int digit = k < d->ndigits ? d->digits[k] - '0' : 0;
        if (v > (UINT64_C(9223372036854775807) - (uint64_t)digit) / 10) {
            snprintf(err, errlen, "%s is too large", cell);
            return false;
        }
        v = v * 10 + (uint64_t)digit;
    }
    *out = d->negative ? -(int64_t)v : (int64_t)v;
    return true;
}

/* A leading sign: '-', '+' or U+2212; returns its length. */
static size_t
sign_at(const char *s, size_t n, bool *negative)
{
    if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
        *negative = s[0] == '-';
        return 1;
    }
    if (n >= 3 && !memcmp(s, "\xe2\x88\x92", 3)) {
        *negative = true;
        return 3;
    }
    return 0;
}

/* ---------------------------------------------------------------------
   Currency marks */

typedef struct {
    const char *text;
    const char *code;       /* what it means when the event names no currency */
    const char *compatible; /* codes it may stand for, space-separated */
} mark_t;

/* Longest first where one is a prefix of another ("US$" before "$"). */
static const mark_t PREFIXES[] = {
    {"US$", "USD", "USD"},
    {"HK$", "HKD", "HKD"},
    {"NT$", "TWD", "TWD"},
    {"RMB", "CNY", "CNY"},
    {"\xef\xbf\xa5", "CNY", "CNY JPY"}, /* ￥ fullwidth yen/yuan sign */
    {"\xc2\xa5", "CNY", "CNY JPY"},     /* ¥ */
    {"$", "USD", "USD HKD TWD SGD AUD CAD NZD MXN"},
    {"\xe2\x82\xac", "EUR", "EUR"}, /* € */
    {"\xc2\xa3", "GBP", "GBP"},     /* £ */
};

static const mark_t SUFFIXES[] = {
    {"\xe5\x85\x83", "CNY", "CNY"}, /* 元 */
    {"RMB", "CNY", "CNY"},
    {"\xe5\x86\x86", "JPY", "JPY"}, /* 円 */
    {"\xe2\x82\xac", "EUR", "EUR"},
};

/* Three capital ASCII letters: a currency code. */
static bool
is_code(const char *s)
{
    for (int k = 0; k < 3; k++)
        if (s[k] < 'A' || s[k] > 'Z')
            return false;
    return true;
}

/* Does mark (or the code `code` written in the cell) agree with currency? */
static bool
mark_agrees(const mark_t *mark, const char *code, const char *currency)
{
    if (!mark)
        return strcmp(code, currency) == 0;
    const char *c = mark->compatible;
    size_t len = strlen(currency);
    while ((c = strstr(c, currency)) != NULL) {
        if ((c == mark->compatible || c[-1] == ' ') && (c[len] == ' ' || c[len] == 0))
            return true;
        c += len;
    }
    return false;
}

bool
cli_cell_amount(const char *text, const char *currency, int64_t *out, char implied[4], char *err,
                size_t errlen)
{
    const char *s;
    size_t n, k;
    char cell[300];
    cli_cell_trim(text, &s, &n);
    quoted(s, n, cell, sizeof cell);
    implied[0] = 0;
    bool negative = false, parens = false;
    if (n >= 2 && s[0] == '(' && s[n - 1] == ')') {
        parens = negative = true;
        s++;
        n -= 2;
    }
    s += k = sign_at(s, n, &negative);
    n -= k;
    const mark_t *mark = NULL;
    char code[4] = "";
    for (size_t m = 0; m < sizeof PREFIXES / sizeof *PREFIXES && !mark; m++) {
        size_t len = strlen(PREFIXES[m].text);
        if (n > len && !memcmp(s, PREFIXES[m].text, len)) {
            mark = &PREFIXES[m];
            s += len;
            n -= len;
        }
    }
    if (!mark && n > 3 && is_code(s) && (s[3] == ' ' || (s[3] >= '0' && s[3] <= '9'))) {
        memcpy(code, s, 3);
        s += 3;
        n -= 3;
    }
    while (n && (k = space_at(s, n))) {
        s += k;
        n -= k;
    }
    if (!parens && !negative && (k = sign_at(s, n, &negative))) {
        s += k;
        n -= k;
    }
    if (!mark && !code[0]) {
        for (size_t m = 0; m < sizeof SUFFIXES / sizeof *SUFFIXES && !mark; m++) {
            size_t len = strlen(SUFFIXES[m].text);
            if (n > len && !memcmp(s + n - len, SUFFIXES[m].text, len)) {
                mark = &SUFFIXES[m];
                n -= len;
            }
        }
        if (!mark && n > 4 && is_code(s + n - 3) && s[n - 4] == ' ') {
            memcpy(code, s + n - 3, 3);
            n -= 3;
        }
        while (n && (k = space_before(s, n)))
            n -= k;
    }
    const char *named = mark ? mark->code : code[0] ? code : NULL;
    const char *use = currency && currency[0] ? currency : named;
    if (!use) {
        snprintf(err, errlen,
                 "%s names no currency, and the event has none (map a currency column or "
                 "--set currency=CNY)",
                 cell);
        return false;
    }
    if (named && use == currency && !mark_agrees(mark, code, currency)) {
        snprintf(err, errlen, "%s is not in %s, the event's currency", cell, currency);
        return false;
    }
    decimal_t d;
    if (!decimal_scan(s, n, &d, cell, err, errlen))
        return false;
    d.negative = negative;
    if (!decimal_scale(&d, money_digits(use), out, cell, use, err, errlen))
        return false;
    if (named && use != currency)
        snprintf(implied, 4, "%s", named);
    return true;
}

/* A plain number cell (a sign, no currency, no parentheses) taken apart
   into *d; `cell` gets its quoted form, for messages. */
static bool
signed_decimal(const char *text, decimal_t *d, char *cell, size_t celllen, char *err, size_t errlen)
{
    const char *s;
    size_t n, k;
    cli_cell_trim(text, &s, &n);
    quoted(s, n, cell, celllen);
    bool negative = false;
    s += k = sign_at(s, n, &negative);
    n -= k;
    if (!decimal_scan(s, n, d, cell, err, errlen))
        return false;
    d->negative = negative;
    return true;
}

bool
cli_cell_integer(const char *text, int64_t *out, char *err, size_t errlen)
{
    char cell[300];
    decimal_t d;
    return signed_decimal(text, &d, cell, sizeof cell, err, errlen) &&
           decimal_scale(&d, 0, out, cell, "", err, errlen);
}

bool
cli_cell_number(const char *text, double *out, char *err, size_t errlen)
{
    char cell[300];
    decimal_t d;
    if (!signed_decimal(text, &d, cell, sizeof cell, err, errlen))
        return false;
    /* the digits in scientific form, which strtod reads correctly rounded */
    char plain[DIGITS_MAX + 32];
    snprintf(plain, sizeof plain, "%s0.%s0e%d", d.negative ? "-" : "", d.digits, d.point);
    errno = 0;
    *out = strtod(plain, NULL);
    if (errno == ERANGE) {
        snprintf(err, errlen, "%s is out of range", cell);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------
   Dates and times */

/* Up to `max` digits at s[*i]: their value, or -1 when there is none. */
static int
digits_at(const char *s, size_t n, size_t *i, int max)
{
    int v = 0, count = 0;
    while (*i < n && count < max && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (s[(*i)++] - '0');
        count++;
    }
    return count ? v : -1;
}

static bool
text_at(const char *s, size_t n, size_t *i, const char *word)
{
    size_t len = strlen(word);
    if (*i + len > n || memcmp(s + *i, word, len))
        return false;
    *i += len;
    return true;
}

typedef struct {
    struct tm tm;
    int ms;
    bool has_offset;
    int offset_min;
} when_t;

/* The date at the start of s: year first, then month and day, separated by
   -, / or ., or written 2026年11月5日. */
static bool
scan_date(const char *s, size_t n, size_t *i, when_t *w, const char *cell, char *err, size_t errlen)
{
    int year = digits_at(s, n, i, 4);
    if (year < 0 || *i != 4) {
        size_t j = 0;
        int lead = digits_at(s, n, &j, 2);
        char sep = j < n ? s[j] : 0;
        int second = -1, year4 = -1;
        if (lead >= 0 && (sep == '/' || sep == '-' || sep == '.')) {
            j++;
            second = digits_at(s, n, &j, 2);
            size_t y0 = ++j;
            if (second >= 0 && j - 1 < n && s[j - 1] == sep)
                year4 = digits_at(s, n, &j, 4);
            if (j - y0 != 4)
                year4 = -1;
        }
        if (year4 >= 0 && lead <= 12 && second <= 12 && lead != second)
            snprintf(err, errlen,
                     "%s: write the year first: %04d-%02d-%02d or %04d-%02d-%02d (a day and "
                     "month in either order are read differently in different countries)",
                     cell, year4, lead, second, year4, second, lead);
        else if (lead >= 0 && (sep == '/' || sep == '-' || sep == '.'))
            snprintf(err, errlen, "%s: write the year first (2026-11-05)", cell);
        else
            snprintf(err, errlen, "%s is not a date (2026-11-05, 2026/11/5, 2026年11月5日)", cell);
        return false;
    }
    bool cjk = text_at(s, n, i, "\xe5\xb9\xb4"); /* 年 */
    char sep = 0;
    if (!cjk && *i < n && (s[*i] == '-' || s[*i] == '/' || s[*i] == '.'))
        sep = s[(*i)++];
    int month = (cjk || sep) ? digits_at(s, n, i, 2) : -1;
    bool ok = month >= 1 && month <= 12;
    if (ok && cjk)
        ok = text_at(s, n, i, "\xe6\x9c\x88"); /* 月 */
    else if (ok)
        ok = *i < n && s[(*i)++] == sep;
    int day = ok ? digits_at(s, n, i, 2) : -1;
    ok = ok && day >= 1 && day <= 31;
    if (ok && cjk)
        text_at(s, n, i, "\xe6\x97\xa5"); /* 日, optional */
    if (!ok || year < 1970) {
        snprintf(err, errlen, "%s is not a date (2026-11-05, 2026/11/5, 2026年11月5日)", cell);
        return false;
    }
    w->tm.tm_year = year - 1900;
    w->tm.tm_mon = month - 1;
    w->tm.tm_mday = day;
    return true;
}

/* [T or spaces] H:MM[:SS[.fff]] [spaces] [Z | +HH[:MM] | UTC | GMT] */
static bool
scan_time(const char *s, size_t n, size_t *i, when_t *w, const char *cell, char *err, size_t errlen)
{
    size_t k;
    bool gap = false;
    if (*i < n && s[*i] == 'T') {
        (*i)++;
        gap = true;
    }
    while (*i < n && (k = space_at(s + *i, n - *i))) {
        *i += k;
        gap = true;
    }
    if (gap && *i < n && s[*i] >= '0' && s[*i] <= '9') {
        int h = digits_at(s, n, i, 2), m = -1, sec = 0;
        if (*i < n && s[*i] == ':') {
            (*i)++;
            m = digits_at(s, n, i, 2);
        }
        if (m >= 0 && *i < n && s[*i] == ':') {
            (*i)++;
            sec = digits_at(s, n, i, 2);
            if (sec >= 0 && *i < n && (s[*i] == '.' || s[*i] == ',')) {
                (*i)++;
                size_t from = *i;
                int frac = digits_at(s, n, i, 9);
                int places = (int)(*i - from);
                while (places > 3) {
                    frac /= 10;
                    places--;
                }
                while (places < 3 && frac >= 0) {
                    frac *= 10;
                    places++;
                }
                w->ms = frac < 0 ? 0 : frac;
            }
        }
        if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) {
            snprintf(err, errlen, "%s: the time of day is not HH:MM or HH:MM:SS", cell);
            return false;
        }
        w->tm.tm_hour = h;
        w->tm.tm_min = m;
        w->tm.tm_sec = sec;
        while (*i < n && (k = space_at(s + *i, n - *i)))
            *i += k;
    }
    if (*i < n && s[*i] == 'Z') {
        (*i)++;
        w->has_offset = true;
    } else if (text_at(s, n, i, "UTC") || text_at(s, n, i, "GMT"))
        w->has_offset = true; /* and an offset may follow: UTC+8 */
    if (*i < n && (s[*i] == '+' || s[*i] == '-')) {
        int sign = s[(*i)++] == '-' ? -1 : 1;
        size_t from = *i;
        int hh = digits_at(s, n, i, 2), mm = 0;
        if (hh >= 0 && *i - from == 2) {
            if (*i < n && s[*i] == ':')
                (*i)++;
            if (*i < n)
                mm = digits_at(s, n, i, 2);
        }
        if (hh < 0 || hh > 14 || mm < 0 || mm > 59) {
            snprintf(err, errlen, "%s: the offset is not +HH:MM", cell);
            return false;
        }
        w->has_offset = true;
        w->offset_min = sign * (hh * 60 + mm);
    }
    if (*i != n) {
        snprintf(err, errlen, "%s: unexpected \"%.*s\" after the date", cell,
                 (int)(n - *i > 20 ? 20 : n - *i), s + *i);
        return false;
    }
    return true;
}

bool
cli_cell_time(const char *text, int64_t *out, char *err, size_t errlen)
{
    const char *s;
    size_t n, i = 0;
    char cell[300];
    cli_cell_trim(text, &s, &n);
    quoted(s, n, cell, sizeof cell);
    if (n >= 11 && n <= 15 && strspn(s, "0123456789") == n) {
        *out = strtoll(s, NULL, 10);
        return true;
    }
    when_t w;
    memset(&w, 0, sizeof w);
    if (!scan_date(s, n, &i, &w, cell, err, errlen) || !scan_time(s, n, &i, &w, cell, err, errlen))
        return false;
    struct tm want = w.tm, got;
    time_t t;
    if (w.has_offset) {
        t = timegm(&w.tm);
        gmtime_r(&t, &got);
        t -= (time_t)w.offset_min * 60;
    } else {
        w.tm.tm_isdst = -1;
        t = mktime(&w.tm);
        localtime_r(&t, &got);
    }
    if (got.tm_mday != want.tm_mday || got.tm_mon != want.tm_mon) {
        snprintf(err, errlen, "%s is not a real date", cell);
        return false;
    }
    if (got.tm_hour != want.tm_hour || got.tm_min != want.tm_min) {
        snprintf(err, errlen, "%s does not exist in the zone %s (a daylight-saving gap)", cell,
                 getenv("TZ") ? getenv("TZ") : "of this machine");
        return false;
    }
    if (t < 0 || t > EV_TIME_MAX / 1000) {
        snprintf(err, errlen, "%s is out of range", cell);
        return false;
    }
    *out = (int64_t)t * 1000 + w.ms;
    return true;
}

bool
cli_cell_date(const char *text, char *out, char *err, size_t errlen)
{
    const char *s;
    size_t n, i = 0;
    char cell[300];
    cli_cell_trim(text, &s, &n);
    quoted(s, n, cell, sizeof cell);
    when_t w;
    memset(&w, 0, sizeof w);
    if (!scan_date(s, n, &i, &w, cell, err, errlen))
        return false;
    if (i != n) {
        snprintf(err, errlen, "%s: a date alone is expected (2026-11-05)", cell);
        return false;
    }
    struct tm check = w.tm;
    time_t t = timegm(&check);
    gmtime_r(&t, &check);
    if (check.tm_mday != w.tm.tm_mday) {
        snprintf(err, errlen, "%s is not a real date", cell);
        return false;
    }
    /* scan_date checked the ranges: 1970..9999, 1..12, 1..31 */
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(w.tm.tm_year + 1900) % 10000,
             (unsigned)(w.tm.tm_mon + 1) % 100, (unsigned)w.tm.tm_mday % 100);
    return true;
}
