/*  alertcfg: see alertcfg.h. Small tables searched linearly: an
    organisation has a handful of silences and rule settings at a time,
    and the alerter looks settings up a few times per key evaluated. */

#include "projections/alertcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char rule[65], param[65], metric[65];
    int kind; /* -1: any */
    double value;
} setting_t;

struct _alertcfg_t {
    silence_t *silences;
    size_t nsilences, capsilences;
    setting_t *settings;
    size_t nsettings, capsettings;
    review_t *reviews; /* folded since the last take */
    size_t nreviews, capreviews;
    uint64_t silence_gen;
    bool changed;
};

static const char *const LAG_RULES[] = {
    "lag", "at_risk", "behind", "momentum", "forecast_floor", "achieved", "stretch_achieved", NULL};

typedef struct {
    const char *name;
    double lo, hi;
} param_spec_t;

static const param_spec_t LAG_PARAMS[] = {
    {"enabled", 0, 1},    {"min_elapsed", 0, 1}, {"margin", 0, 1},       {"repeat_hours", 0, 8760},
    {"threshold", 0, 10}, {"factor", 0, 10},     {"window_days", 1, 60}, {NULL, 0, 0}};

alertcfg_t *
alertcfg_new(void)
{
    return calloc(1, sizeof(alertcfg_t));
}

void
alertcfg_destroy(alertcfg_t **self_p)
{
    alertcfg_t *self = *self_p;
    if (!self)
        return;
    free(self->silences);
    free(self->settings);
    free(self->reviews);
    free(self);
    *self_p = NULL;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static void
copy(char *dst, size_t cap, ev_str_t s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = 0;
}

static bool
is_lag_rule(const char *r, size_t n)
{
    for (int i = 0; LAG_RULES[i]; i++)
        if (strlen(LAG_RULES[i]) == n && memcmp(LAG_RULES[i], r, n) == 0)
            return true;
    return false;
}

bool
alertcfg_has_settings(const alertcfg_t *self)
{
    return self && self->nsettings > 0;
}

bool
alertcfg_param_known(const char *rule, const char *param)
{
    if (strncmp(rule, "anomaly/", 8) == 0 && rule[8])
        return true;
    if (!is_lag_rule(rule, strlen(rule)))
        return false;
    for (int i = 0; LAG_PARAMS[i].name; i++)
        if (strcmp(LAG_PARAMS[i].name, param) == 0)
            return true;
    return false;
}

static silence_t *
find_silence(alertcfg_t *self, const char *alert, size_t n)
{
    for (size_t i = 0; i < self->nsilences; i++)
        if (strlen(self->silences[i].alert) == n && memcmp(self->silences[i].alert, alert, n) == 0)
            return &self->silences[i];
    return NULL;
}

ev_errcode_t
alertcfg_check(alertcfg_t *self, const event_t *ev, ev_error_t *err)
{
    err->code = EVE_OK;
    if (ev->type == EV_ALERT_UNSILENCED) {
        ev_str_t a = ev->v[F_ALERT].s;
        if (!find_silence(self, a.ptr, a.len)) {
            err->code = EVE_INVALID_VALUE;
            snprintf(err->message, sizeof err->message, "alert: no silence of \"%.*s\" is in force",
                     (int)(a.len > 200 ? 200 : a.len), a.ptr);
        }
    } else if (ev->type == EV_ALERT_RULE_SET) {
        char rule[65], param[65];
        copy(rule, sizeof rule, ev->v[F_RULE].s);
        copy(param, sizeof param, ev->v[F_PARAM].s);
        double v = ev->v[F_VALUE].d;
        if (!is_lag_rule(rule, strlen(rule)) && !(strncmp(rule, "anomaly/", 8) == 0 && rule[8])) {
            err->code = EVE_INVALID_VALUE;
            snprintf(err->message, sizeof err->message,
                     "rule: \"%s\" is not a rule (at_risk, behind, momentum, forecast_floor, "
                     "achieved, stretch_achieved, lag, anomaly/<detector>)",
                     rule);
        } else if (strncmp(rule, "anomaly/", 8) != 0) {
            const param_spec_t *ps = NULL;
            for (int i = 0; LAG_PARAMS[i].name; i++)
                if (strcmp(LAG_PARAMS[i].name, param) == 0)
                    ps = &LAG_PARAMS[i];
            if (!ps) {
                err->code = EVE_INVALID_VALUE;
                snprintf(err->message, sizeof err->message,
                         "param: \"%s\" is not a setting of %s (enabled, min_elapsed, margin, "
                         "repeat_hours, threshold, factor, window_days)",
                         param, rule);
            } else if (!(v >= ps->lo && v <= ps->hi)) {
                err->code = EVE_INVALID_VALUE;
                snprintf(err->message, sizeof err->message, "value: %s %g is outside %g..%g", param,
                         v, ps->lo, ps->hi);
            }
        } else if (!(v == v)) {
            err->code = EVE_INVALID_VALUE;
            snprintf(err->message, sizeof err->message, "value: not a number");
        }
    }
    return err->code;
}

int
alertcfg_fold(alertcfg_t *self, uint64_t seq, const event_t *ev)
{
    switch (ev->type) {
    case EV_ALERT_SILENCED: {
        ev_str_t a = ev->v[F_ALERT].s;
        silence_t *s = find_silence(self, a.ptr, a.len);
        if (!s) {
            if (grow((void **)&self->silences, &self->capsilences, self->nsilences + 1,
                     sizeof *s) != 0)
                return -1;
            s = &self->silences[self->nsilences++];
        }
        memset(s, 0, sizeof *s);
        copy(s->alert, sizeof s->alert, a);
        copy(s->author, sizeof s->author, ev->v[F_AUTHOR].s);
        copy(s->reason, sizeof s->reason, ev->v[F_REASON].s);
        s->until = event_has(ev, F_UNTIL) ? ev->v[F_UNTIL].i : 0;
        s->seq = seq;
        self->silence_gen++;
        return 0;
    }
    case EV_ALERT_UNSILENCED: {
        ev_str_t a = ev->v[F_ALERT].s;
        silence_t *s = find_silence(self, a.ptr, a.len);
        if (s) {
            *s = self->silences[--self->nsilences];
            self->silence_gen++;
        }
        return 0;
    }
    case EV_ALERT_RULE_SET: {
        setting_t st = {0};
        copy(st.rule, sizeof st.rule, ev->v[F_RULE].s);
        copy(st.param, sizeof st.param, ev->v[F_PARAM].s);
        if (event_has(ev, F_METRIC))
            copy(st.metric, sizeof st.metric, ev->v[F_METRIC].s);
        st.kind = event_has(ev, F_KIND) ? (int)ev->v[F_KIND].i : -1;
        st.value = ev->v[F_VALUE].d;
        for (size_t i = 0; i < self->nsettings; i++) {
            setting_t *o = &self->settings[i];
            if (!strcmp(o->rule, st.rule) && !strcmp(o->param, st.param) &&
                !strcmp(o->metric, st.metric) && o->kind == st.kind) {
                o->value = st.value;
                self->changed = true;
                return 0;
            }
        }
        if (grow((void **)&self->settings, &self->capsettings, self->nsettings + 1, sizeof st) != 0)
            return -1;
        self->settings[self->nsettings++] = st;
        self->changed = true;
        return 0;
    }
    case EV_ANOMALY_REVIEWED: {
        if (grow((void **)&self->reviews, &self->capreviews, self->nreviews + 1,
                 sizeof(review_t)) != 0)
            return -1;
        review_t *r = &self->reviews[self->nreviews++];
        memset(r, 0, sizeof *r);
        copy(r->alert, sizeof r->alert, ev->v[F_ALERT].s);
        copy(r->author, sizeof r->author, ev->v[F_AUTHOR].s);
        copy(r->reason, sizeof r->reason, ev->v[F_REASON].s);
        r->verdict = (int)ev->v[F_VERDICT].i;
        r->seq = seq;
        r->at = ev->v[F_OCCURRED_AT].i;
        return 0;
    }
    default:
        return 0;
    }
}

/* How well a setting fits: -1 not at all, else more is more specific. */
static int
fit(const setting_t *s, const char *rule, const char *param, const char *metric, int kind)
{
    if (strcmp(s->rule, rule) || strcmp(s->param, param))
        return -1;
    if (s->metric[0] && (!metric || strcmp(s->metric, metric)))
        return -1;
    if (s->kind >= 0 && s->kind != kind)
        return -1;
    return (s->metric[0] ? 2 : 0) + (s->kind >= 0 ? 1 : 0);
}

static bool
lookup(const alertcfg_t *self, const char *rule, const char *param, const char *metric, int kind,
       double *v)
{
    int best = -1;
    for (size_t i = 0; i < self->nsettings; i++) {
        int f = fit(&self->settings[i], rule, param, metric, kind);
        if (f > best) {
            best = f;
            *v = self->settings[i].value;
        }
    }
    return best >= 0;
}

double
alertcfg_param(const alertcfg_t *self, const char *rule, const char *param, const char *metric,
               int kind, double dflt)
{
    double v;
    if (!self || !self->nsettings)
        return dflt;
    if (lookup(self, rule, param, metric, kind, &v))
        return v;
    if (strncmp(rule, "anomaly/", 8) != 0 && lookup(self, "lag", param, metric, kind, &v))
        return v;
    return dflt;
}

const silence_t *
alertcfg_silenced(const alertcfg_t *self, const char *key, const char *topic, int64_t now)
{
    for (size_t i = 0; self && i < self->nsilences; i++) {
        const silence_t *s = &self->silences[i];
        if (s->until && s->until <= now)
            continue;
        size_t n = strlen(s->alert);
        bool prefix = n && s->alert[n - 1] == '/';
        if (prefix ? strncmp(topic, s->alert, n) == 0 : strcmp(key, s->alert) == 0)
            return s;
    }
    return NULL;
}

const silence_t *
alertcfg_silences(const alertcfg_t *self, size_t *n)
{
    *n = self->nsilences;
    return self->silences;
}

uint64_t
alertcfg_silence_gen(const alertcfg_t *self)
{
    return self->silence_gen;
}

const review_t *
alertcfg_take_reviews(alertcfg_t *self, size_t *n)
{
    *n = self->nreviews;
    self->nreviews = 0;
    return self->reviews;
}

bool
alertcfg_take_changed(alertcfg_t *self)
{
    bool c = self->changed;
    self->changed = false;
    return c;
}

static int
pack_str(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* 0, or -1 when the packer's write failed (the snapshot is then not
   written: foldset_save reports it). */
int
alertcfg_save(const alertcfg_t *self, msgpack_packer *pk)
{
    int rc = msgpack_pack_array(pk, 2);
    rc |= msgpack_pack_array(pk, self->nsilences);
    for (size_t i = 0; i < self->nsilences && rc == 0; i++) {
        const silence_t *s = &self->silences[i];
        rc |= msgpack_pack_array(pk, 5);
        rc |= pack_str(pk, s->alert);
        rc |= pack_str(pk, s->author);
        rc |= pack_str(pk, s->reason);
        rc |= msgpack_pack_int64(pk, s->until);
        rc |= msgpack_pack_uint64(pk, s->seq);
    }
    rc |= msgpack_pack_array(pk, self->nsettings);
    for (size_t i = 0; i < self->nsettings && rc == 0; i++) {
        const setting_t *s = &self->settings[i];
        rc |= msgpack_pack_array(pk, 5);
        rc |= pack_str(pk, s->rule);
        rc |= pack_str(pk, s->param);
        rc |= pack_str(pk, s->metric);
        rc |= msgpack_pack_int(pk, s->kind);
        rc |= msgpack_pack_double(pk, s->value);
    }
    return rc == 0 ? 0 : -1;
}

static bool
get_str(const msgpack_object *o, char *out, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
        return false;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return true;
}

static bool
get_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = o->via.i64;
    else
        return false;
    return true;
}

int
alertcfg_load(alertcfg_t *self, const msgpack_object *obj, char *err, size_t errlen)
{
    if (obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size != 2 ||
        obj->via.array.ptr[0].type != MSGPACK_OBJECT_ARRAY ||
        obj->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY)
        goto bad;
    const msgpack_object_array *sil = &obj->via.array.ptr[0].via.array;
    const msgpack_object_array *set = &obj->via.array.ptr[1].via.array;
    if (grow((void **)&self->silences, &self->capsilences, sil->size, sizeof(silence_t)) != 0 ||
        grow((void **)&self->settings, &self->capsettings, set->size, sizeof(setting_t)) != 0) {
        snprintf(err, errlen, "alert settings section: out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < sil->size; i++) {
        const msgpack_object *e = &sil->ptr[i];
        silence_t *s = &self->silences[i];
        int64_t seq;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 5 ||
            !get_str(&e->via.array.ptr[0], s->alert, sizeof s->alert) ||
            !get_str(&e->via.array.ptr[1], s->author, sizeof s->author) ||
            !get_str(&e->via.array.ptr[2], s->reason, sizeof s->reason) ||
            !get_int(&e->via.array.ptr[3], &s->until) || !get_int(&e->via.array.ptr[4], &seq))
            goto bad;
        s->seq = (uint64_t)seq;
    }
    self->nsilences = sil->size;
    for (uint32_t i = 0; i < set->size; i++) {
        const msgpack_object *e = &set->ptr[i];
        setting_t *s = &self->settings[i];
        int64_t kind;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 5 ||
            !get_str(&e->via.array.ptr[0], s->rule, sizeof s->rule) ||
            !get_str(&e->via.array.ptr[1], s->param, sizeof s->param) ||
            !get_str(&e->via.array.ptr[2], s->metric, sizeof s->metric) ||
            !get_int(&e->via.array.ptr[3], &kind) ||
            (e->via.array.ptr[4].type != MSGPACK_OBJECT_FLOAT64 &&
             e->via.array.ptr[4].type != MSGPACK_OBJECT_FLOAT32))
            goto bad;
        s->kind = (int)kind;
        s->value = e->via.array.ptr[4].via.f64;
    }
    self->nsettings = set->size;
    return 0;
bad:
    snprintf(err, errlen, "alert settings section: damaged");
    return -1;
}

/* The alert settings as a fold (alertcfg.h). */

static void *
fold_create(const det_env_t *env)
{
    (void)env; /* no calendar: silences and settings are by instant */
    return alertcfg_new();
}

static void
fold_destroy(void **state_p)
{
    alertcfg_t *self = *state_p;
    alertcfg_destroy(&self);
    *state_p = NULL;
}

static ev_errcode_t
fold_check(void *state, const event_t *ev, ev_error_t *err)
{
    return alertcfg_check(state, ev, err);
}

static int
fold_one(void *state, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
         void *arg)
{
    (void)recorded_at, (void)emit, (void)arg; /* it raises nothing */
    return alertcfg_fold(state, seq, ev);
}

static int
fold_save(void *state, msgpack_packer *pk)
{
    return alertcfg_save(state, pk);
}

static int
fold_load(void *state, const msgpack_object *obj, char *err, size_t errlen)
{
    return alertcfg_load(state, obj, err, errlen);
}

const fold_class_t fold_alertcfg = {.name = "alert_settings",
                                    .version = ALERTCFG_VERSION,
                                    .create = fold_create,
                                    .destroy = fold_destroy,
                                    .check = fold_check,
                                    .fold = fold_one,
                                    .save = fold_save,
                                    .load = fold_load};
