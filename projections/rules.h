/*  rules: the lag alert rules, evaluated on one target key's progress.

    A rule is a pure function of a key's progress at the alert clock
    (tprog_t, projections/projection.h) and of its settings: it says
    whether the alert should fire, resolve, or stay as it is (the band of
    hysteresis between its threshold and the threshold plus the margin,
    where an active alert stays active and an inactive one stays quiet, so
    that a ratio wobbling around a threshold does not flap). It also says
    when, with no further sale, its verdict could next change, which is
    what lets the alerter's timer wake a key only when it is due instead
    of scanning every key on every tick. And it explains itself in a
    sentence with the numbers.

    Each rule is one file (rule_lag.c, rule_momentum.c, rule_forecast.c,
    rule_achieved.c) and one line in rules.c. Settings and defaults are in
    docs/PROTOCOL.md, "Alert rules"; events alert_rule_set change them per
    metric and level (projections/alertcfg).

    Errors: none. Rules are total functions of numbers (a ratio that is
    absent, has_pace false, is a verdict of its own), and the sentence
    helpers truncate as snprintf does. Settings are checked where they
    enter, by alertcfg_check, not here. */

#ifndef PACER_RULES_H
#define PACER_RULES_H

#include "projections/projection.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The settings of one rule for one key, resolved by the caller. */
typedef struct {
    double enabled;      /* 0 or 1 */
    double min_elapsed;  /* share of working days before any lag rule fires */
    double margin;       /* hysteresis */
    double repeat_hours; /* 0: no repeats */
    double threshold;    /* at_risk, behind: pace ratio */
    double behind;       /* at_risk: the behind threshold (at_risk stops there) */
    double factor;       /* momentum */
    double window_days;  /* momentum */
} rule_params_t;

typedef enum {
    RULE_CLEAR, /* does not hold (an active alert resolves) */
    RULE_FIRE,  /* holds (an inactive alert fires) */
    RULE_KEEP   /* in the hysteresis band: stay as it is */
} rule_verdict_t;

enum { SEVERITY_INFO, SEVERITY_WARNING, SEVERITY_CRITICAL };

typedef struct rule_class {
    const char *name;
    int severity;
    bool notify_parent;       /* the parent node's owner is told too */
    bool once;                /* fires once per key and never resolves */
    double threshold, factor; /* defaults of the per-rule settings (0: none) */
    /* While this rule holds for the key, this one stays quiet (resolves if
       active), as Alertmanager's inhibit rules do; NULL: never. */
    const char *inhibited_by;
    rule_verdict_t (*eval)(const tprog_t *p, const rule_params_t *rp, bool active);
    /* With actual frozen from now on, the first time (ms UTC) the verdict
       could change; INT64_MAX: not by time alone. proj answers
       projection_time_at_fraction. */
    int64_t (*next_change)(projection_t *proj, const tprog_t *p, const rule_params_t *rp,
                           bool active, int64_t now);
    /* One sentence for a person: firing (resolving false) or resolved. */
    void (*explain)(const tprog_t *p, const rule_params_t *rp, bool resolving, char *out,
                    size_t outlen);
} rule_class_t;

/* The rules, in evaluation order; NULL-terminated. */
extern const rule_class_t *const RULES[];
#define RULES_MAX 8

/* The defaults shared by the lag rules. */
#define RULE_MIN_ELAPSED_DEFAULT  0.10
#define RULE_MARGIN_DEFAULT       0.03
#define RULE_REPEAT_HOURS_DEFAULT 24.0
#define RULE_WINDOW_DAYS_DEFAULT  7.0

/* Helpers for the rule files. */

/* "acme/east/zhang revenue 2026-11" (and " cloud" for a product line).
   Returns what snprintf returns: the length it needed (out truncated to
   fit when that is outlen or more). */
int rule_subject(const tprog_t *p, char *out, size_t outlen);
/* An amount of the key's metric: money in major units with the target's
   currency ("18,400.00 CNY"), counts as numbers ("3.5"). */
void rule_amount(const tprog_t *p, double v, char *out, size_t outlen);
/* "41% of target with 63% of working days gone (pace 0.65, behind)".
   Returns the length needed, as rule_subject. */
int rule_pace_phrase(const tprog_t *p, char *out, size_t outlen);
/* The first instant lag rules may fire: min_elapsed of the working days. */
int64_t rule_earliest(projection_t *proj, const tprog_t *p, const rule_params_t *rp);
/* The first instant the pace ratio falls below `ratio` with actual frozen. */
int64_t rule_pace_below(projection_t *proj, const tprog_t *p, double ratio);

#endif
