/*  period: the `period` and `date` strings of events.

    A period name is read left to right: an optional "FY", four digits of
    year, then nothing or "-" and one of Qn, Mnn (fiscal only), Www and MM
    or MM-DD (calendar only). Month lengths and the number of ISO weeks in
    a year come from events/civil.h. The reasons given are the ones
    docs/EVENTS.md quotes in its examples; change them together. */

#include "events/period.h"

#include "events/civil.h"

/* The n bytes at s as a decimal number, if they are all digits. */
static bool
digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool
ev_date_valid(const char *s, size_t len, const char **why)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d)) {
        *why = "expected YYYY-MM-DD";
        return false;
    }
    if (y < 1970 || m < 1 || m > 12) {
        *why = y < 1970 ? "year before 1970" : "month must be 01..12";
        return false;
    }
    if (!civil_valid(y, m, d)) {
        *why = "no such day in that month";
        return false;
    }
    return true;
}

bool
ev_period_valid(const char *s, size_t len, const char **why)
{
    int y, n = 0;
    bool fiscal = len >= 2 && s[0] == 'F' && s[1] == 'Y';
    if (fiscal) {
        s += 2;
        len -= 2;
    }
    *why = "expected YYYY, YYYY-Qn, YYYY-MM, YYYY-Www, YYYY-MM-DD, FYYYYY, FYYYYY-Qn or FYYYYY-Mnn";
    if (len < 4 || !digits(s, 4, &y) || y < 1970)
        return false;
    if (len == 4)
        return true;
    if (s[4] != '-')
        return false;
    if (fiscal && len == 8 && s[5] == 'M') {
        if (!digits(s + 6, 2, &n) || n < 1 || n > 12) {
            *why = "fiscal month must be M01..M12";
            return false;
        }
        return true;
    }
    if (len == 7 && s[5] == 'Q') {
        if (!digits(s + 6, 1, &n) || n < 1 || n > 4) {
            *why = "quarter must be Q1..Q4";
            return false;
        }
        return true;
    }
    if (fiscal)
        return false;
    if (len == 8 && s[5] == 'W') {
        if (!digits(s + 6, 2, &n) || n < 1 || n > civil_iso_weeks(y)) {
            *why = n == 53 ? "that year has 52 ISO weeks" : "week must be W01..W53";
            return false;
        }
        return true;
    }
    if (len == 7) {
        if (!digits(s + 5, 2, &n) || n < 1 || n > 12) {
            *why = "month must be 01..12";
            return false;
        }
        return true;
    }
    if (len == 10)
        return ev_date_valid(s, len, why);
    return false;
}
