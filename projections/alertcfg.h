/*  alertcfg: what people said about alerts, folded from the log.

    The events alert_silenced, alert_unsilenced, alert_rule_set and
    anomaly_reviewed (docs/EVENTS.md, "Alerts") are folded here into the
    silences in force, the rule settings, and the reviews of anomaly
    flags. It is a fold like the projection: a pure function of the log,
    snapshotted with it, rebuilt with it; the alerter (daemon/alerter)
    reads it when it evaluates rules.

    Silences: an `alert` ending in '/' is a topic prefix, anything else an
    alert key. A silence without `until` lasts until alert_unsilenced
    lifts it, or, for an alert key, until that alert resolves (the alerter
    calls alertcfg_resolved). A second silence with the same `alert`
    replaces the first. (Which silences an alert has used up is the
    alerter's to remember: it is not in the log.)

    Errors: alertcfg_check speaks the validation vocabulary, since its
    refusal is an event's result: EVE_OK, or EVE_INVALID_VALUE with err
    filled and a message naming the field. alertcfg_fold, alertcfg_save
    and alertcfg_load return 0 or -1: out of memory (fold, load), a write
    the packer could not make (save), a damaged section (load); only
    alertcfg_load takes err, "alert settings section: damaged" or ": out
    of memory". */

#ifndef PACER_ALERTCFG_H
#define PACER_ALERTCFG_H

#include "events/schema.h"
#include "projections/fold.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALERTCFG_VERSION 1

typedef struct {
    char alert[257];
    char author[65];
    char reason[1025];
    int64_t until; /* 0: until lifted or resolved */
    uint64_t seq;
} silence_t;

typedef struct {
    char alert[257];
    int verdict; /* VERDICT_CONFIRMED, VERDICT_DISMISSED */
    char author[65];
    char reason[1025];
    uint64_t seq;
    int64_t at; /* occurred_at */
} review_t;

typedef struct _alertcfg_t alertcfg_t;

/* The alert settings as a fold (projections/fold.h: create alertcfg_new,
   check alertcfg_check, fold alertcfg_fold, save and load alertcfg_save
   and alertcfg_load), run by every pacerd (projections/folds.c). */
extern const fold_class_t fold_alertcfg;

/* NULL when out of memory. */
alertcfg_t *alertcfg_new(void);
void alertcfg_destroy(alertcfg_t **self_p);

/* Would folding ev next be consistent (an existing silence to lift, a
   known rule and setting with a value in range)? EVE_OK, or
   EVE_INVALID_VALUE with err. Other event types: EVE_OK. */
ev_errcode_t alertcfg_check(alertcfg_t *self, const event_t *ev, ev_error_t *err);
/* Fold ev (other event types are ignored). 0, or -1 when out of memory
   (then nothing of ev is folded). */
int alertcfg_fold(alertcfg_t *self, uint64_t seq, const event_t *ev);

/* A setting of `rule` for a key of `metric` at level `kind` (NODE_x, or
   -1), most specific first; dflt if nothing was set. `rule` "lag" holds
   the settings shared by the lag rules and is consulted after the rule's
   own. */
double alertcfg_param(const alertcfg_t *self, const char *rule, const char *param,
                      const char *metric, int kind, double dflt);
/* Whether any rule setting was ever set (if not, every setting is its
   default: the alerter skips the lookups). */
bool alertcfg_has_settings(const alertcfg_t *self);
/* Whether `rule` has a setting named `param` (the lag rules, anomaly/<x>
   for any x: detectors check their own names). */
bool alertcfg_param_known(const char *rule, const char *param);

/* The silence covering an alert with this key and topic at `now`, or NULL. */
const silence_t *alertcfg_silenced(const alertcfg_t *self, const char *key, const char *topic,
                                   int64_t now);
/* Silences in force at now (for the `silences` query); *n set. */
const silence_t *alertcfg_silences(const alertcfg_t *self, size_t *n);
/* Bumped by every fold that changes the silences, so the alerter knows to
   look again at what they covered. */
uint64_t alertcfg_silence_gen(const alertcfg_t *self);

/* Reviews folded since the last call (the alerter resolves the flags). */
const review_t *alertcfg_take_reviews(alertcfg_t *self, size_t *n);
/* The settings changed since the last call (the alerter re-evaluates). */
bool alertcfg_take_changed(alertcfg_t *self);

/* The snapshot section. save: 0, or -1 when the packer's write failed.
   load, into a new alertcfg: 0, or -1 with a message (damaged, or out of
   memory). */
int alertcfg_save(const alertcfg_t *self, msgpack_packer *pk);
int alertcfg_load(alertcfg_t *self, const msgpack_object *obj, char *err, size_t errlen);

#endif
