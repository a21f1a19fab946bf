/*  foldset: see foldset.h. Fold 0 is the alert settings; folds 1.. are
    the detectors of DETECTORS, in registry order. */

#include "projections/foldset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    uint32_t version;
    const detector_class_t *cls; /* NULL: the alert settings */
    void *state;
    uint64_t from; /* the first seq this fold wants */
    bool reset;    /* foldset_load started it afresh */
} fold_t;

struct _foldset_t {
    calendar_t *cal;
    alertcfg_t *cfg;
    fold_t *folds;
    size_t n;
};

foldset_t *
foldset_new(calendar_t *cal, bool detectors)
{
    foldset_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cal = cal;
    size_t n = 1;
    while (DETECTORS[n - 1])
        n++;
    self->folds = calloc(n, sizeof *self->folds);
    self->cfg = alertcfg_new();
    if (!self->folds || !self->cfg) {
        foldset_destroy(&self);
        return NULL;
    }
    self->folds[0] = (fold_t){"alert_settings", ALERTCFG_VERSION, NULL, self->cfg, 1, false};
    self->n = 1;
    det_env_t env = {cal};
    for (size_t i = 0; detectors && DETECTORS[i]; i++) {
        fold_t *f = &self->folds[self->n];
        f->name = DETECTORS[i]->name;
        f->version = DETECTORS[i]->version;
        f->cls = DETECTORS[i];
        f->from = 1;
        if (!(f->state = f->cls->create(&env))) {
            foldset_destroy(&self);
            return NULL;
        }
        self->n++;
    }
    return self;
}

void
foldset_destroy(foldset_t **self_p)
{
    foldset_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 1; i < self->n; i++)
        self->folds[i].cls->destroy(&self->folds[i].state);
    alertcfg_destroy(&self->cfg);
    free(self->folds);
    free(self);
    *self_p = NULL;
}

alertcfg_t *
foldset_alertcfg(foldset_t *self)
{
    return self->cfg;
}

static fold_t *
detector_named(foldset_t *self, ev_str_t rule)
{
    if (rule.len <= 8 || memcmp(rule.ptr, "anomaly/", 8) != 0)
        return NULL;
    for (size_t i = 1; i < self->n; i++)
        if (strlen(self->folds[i].name) == rule.len - 8 &&
            memcmp(self->folds[i].name, rule.ptr + 8, rule.len - 8) == 0)
            return &self->folds[i];
    return NULL;
}

static void
param_name(const event_t *ev, char *out, size_t cap)
{
    ev_str_t p = ev->v[F_PARAM].s;
    size_t n = p.len < cap - 1 ? p.len : cap - 1;
    memcpy(out, p.ptr, n);
    out[n] = 0;
}

ev_errcode_t
foldset_check(foldset_t *self, const event_t *ev, ev_error_t *err)
{
    if (alertcfg_check(self->cfg, ev, err) != EVE_OK)
        return err->code;
    if (ev->type != EV_ALERT_RULE_SET)
        return EVE_OK;
    ev_str_t rule = ev->v[F_RULE].s;
    if (rule.len <= 8 || memcmp(rule.ptr, "anomaly/", 8) != 0)
        return EVE_OK;
    fold_t *f = detector_named(self, rule);
    if (!f) {
        err->code = EVE_INVALID_VALUE;
        snprintf(err->message, sizeof err->message, "rule: no detector named \"%.*s\"",
                 (int)(rule.len - 8 > 64 ? 64 : rule.len - 8), rule.ptr + 8);
        return err->code;
    }
    /* try the setting on a scratch instance: set_param validates */
    det_env_t env = {self->cal};
    void *scratch = f->cls->create(&env);
    char param[65], why[200] = "";
    param_name(ev, param, sizeof param);
    int rc = scratch ? f->cls->set_param(scratch, param, ev->v[F_VALUE].d, why, sizeof why) : -1;
    if (scratch)
        f->cls->destroy(&scratch);
    if (rc != 0) {
        err->code = EVE_INVALID_VALUE;
        snprintf(err->message, sizeof err->message, "param: %s", why[0] ? why : "out of memory");
    }
    return err->code;
}

int
foldset_fold(foldset_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev,
             det_emit_fn *emit, void *arg)
{
    if (self->folds[0].from <= seq && alertcfg_fold(self->cfg, seq, ev) != 0)
        return -1;
    if (ev->type == EV_ALERT_RULE_SET) {
        fold_t *f = detector_named(self, ev->v[F_RULE].s);
        if (f && f->from <= seq) {
            char param[65], why[200];
            param_name(ev, param, sizeof param);
            (void)f->cls->set_param(f->state, param, ev->v[F_VALUE].d, why, sizeof why);
        }
    }
    for (size_t i = 1; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        if (f->from <= seq && f->cls->fold(f->state, seq, recorded_at, ev, emit, arg) != 0)
            return -1;
    }
    return 0;
}

int
foldset_tick(foldset_t *self, int64_t now, det_emit_fn *emit, void *arg)
{
    for (size_t i = 1; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        if (f->cls->tick && f->cls->tick(f->state, now, emit, arg) != 0)
            return -1;
    }
    return 0;
}

uint64_t
foldset_from(const foldset_t *self)
{
    uint64_t from = UINT64_MAX;
    for (size_t i = 0; i < self->n; i++)
        if (self->folds[i].from < from)
            from = self->folds[i].from;
    return from;
}

void
foldset_set_from(foldset_t *self, uint64_t from)
{
    for (size_t i = 0; i < self->n; i++)
        self->folds[i].from = from;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

int
foldset_save(foldset_t *self, msgpack_packer *pk)
{
    msgpack_pack_array(pk, self->n);
    for (size_t i = 0; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        msgpack_pack_array(pk, 3);
        pack_str(pk, f->name);
        msgpack_pack_uint32(pk, f->version);
        int rc = f->cls ? f->cls->save(f->state, pk) : alertcfg_save(self->cfg, pk);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int
foldset_load(foldset_t *self, const msgpack_object *sections, uint64_t snap_seq, char *err,
             size_t errlen)
{
    if (sections->type != MSGPACK_OBJECT_ARRAY) {
        snprintf(err, errlen, "fold sections: not an array");
        return -1;
    }
    for (size_t i = 0; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        f->from = 1;
        f->reset = true;
        for (uint32_t k = 0; k < sections->via.array.size; k++) {
            const msgpack_object *s = &sections->via.array.ptr[k];
            if (s->type != MSGPACK_OBJECT_ARRAY || s->via.array.size != 3 ||
                s->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
                s->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                continue;
            const msgpack_object_str *name = &s->via.array.ptr[0].via.str;
            if (name->size != strlen(f->name) || memcmp(name->ptr, f->name, name->size) != 0 ||
                s->via.array.ptr[1].via.u64 != f->version)
                continue;
            char why[200] = "";
            int rc = f->cls ? f->cls->load(f->state, &s->via.array.ptr[2], why, sizeof why)
                            : alertcfg_load(self->cfg, &s->via.array.ptr[2], why, sizeof why);
            if (rc != 0) {
                snprintf(err, errlen, "fold %s: %s", f->name, why);
                return -1;
            }
            f->from = snap_seq + 1;
            f->reset = false;
            break;
        }
    }
    return 0;
}

size_t
foldset_rebuilt(const foldset_t *self, char *names, size_t len)
{
    size_t n = 0, o = 0;
    if (len)
        names[0] = 0;
    for (size_t i = 0; i < self->n; i++)
        if (self->folds[i].reset) {
            if (o < len)
                o += (size_t)snprintf(names + o, len - o, "%s%s", n ? ", " : "",
                                      self->folds[i].name);
            n++;
        }
    return n;
}

int
foldset_query(foldset_t *self, const char *name, size_t len, const msgpack_object *request,
              int64_t now, msgpack_sbuffer *pairs, size_t *npairs, char *err, size_t errlen)
{
    for (size_t i = 1; i < self->n; i++) {
        const fold_op_t *op = self->folds[i].cls->ops;
        for (; op && op->name; op++) {
            if (strlen(op->name) != len || memcmp(op->name, name, len) != 0)
                continue;
            msgpack_sbuffer_clear(pairs);
            msgpack_packer pk;
            msgpack_packer_init(&pk, pairs, msgpack_sbuffer_write);
            int n = op->answer(self->folds[i].state, request, now, &pk, err, errlen);
            if (n < 0)
                return -1;
            *npairs = (size_t)n;
            return 1;
        }
    }
    return 0;
}

char *
foldset_ops(const foldset_t *self, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen)
        out[0] = 0;
    for (size_t i = 1; i < self->n; i++)
        for (const fold_op_t *op = self->folds[i].cls->ops; op && op->name && o < outlen; op++)
            o += (size_t)snprintf(out + o, outlen - o, ", %s", op->name);
    return out;
}

size_t
foldset_memory(foldset_t *self)
{
    size_t m = 0;
    for (size_t i = 1; i < self->n; i++)
        if (self->folds[i].cls->memory)
            m += self->folds[i].cls->memory(self->folds[i].state);
    return m;
}

size_t
foldset_count(const foldset_t *self)
{
    return self->n;
}

const char *
foldset_name(const foldset_t *self, size_t i)
{
    return i < self->n ? self->folds[i].name : NULL;
}
