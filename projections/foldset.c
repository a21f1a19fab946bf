/*  foldset: see foldset.h. folds[i] runs the class FOLDS[i] (the set is a
    prefix of the registry: the projection alone, the folds before the
    detectors, or all); folds[0] is the projection, whose snapshot section
    leads the snapshot. */

#include "projections/foldset.h"

#include "events/wire.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting a snapshot's values may have (the folds' states are nested a
   few levels deep). */
#define SNAPSHOT_MAX_DEPTH 64

typedef struct {
    const fold_class_t *cls;
    void *state;
    uint64_t from; /* the first seq this fold wants */
    bool reset;    /* foldset_load left it behind the snapshot: afresh, or behind */
    bool detector; /* takes settings anomaly/<name> */
} fold_t;

struct _foldset_t {
    calendar_t *cal;
    fold_t *folds;
    size_t n;
    uint64_t seq;
    alertcfg_t *cfg; /* the alert settings' state, a typed view of its fold's */
};

foldset_t *
foldset_new(calendar_t *cal, foldset_mode_t mode)
{
    assert(FOLDS[0] == &fold_projection && FOLDS[1] == &fold_alertcfg);
    foldset_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cal = cal;
    size_t n = 0;
    while (FOLDS[n])
        n++;
    if (mode == FOLDSET_NO_DETECTORS)
        n = (size_t)(DETECTORS - FOLDS);
    else if (mode == FOLDSET_PROJECTION)
        n = 1;
    if (!(self->folds = calloc(n, sizeof *self->folds))) {
        free(self);
        return NULL;
    }
    det_env_t env = {cal};
    for (; self->n < n; self->n++) {
        fold_t *f = &self->folds[self->n];
        f->cls = FOLDS[self->n];
        /* the lead section, and only it, is written whole by its fold */
        assert((self->n == 0) == (f->cls->save_section && f->cls->load_section));
        f->from = 1;
        f->detector = FOLDS + self->n >= DETECTORS && f->cls->set_param;
        if (!(f->state = f->cls->create(&env))) {
            foldset_destroy(&self);
            return NULL;
        }
    }
    self->cfg = n > 1 ? self->folds[1].state : NULL;
    return self;
}

void
foldset_destroy(foldset_t **self_p)
{
    foldset_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n; i++)
        if (self->folds[i].state)
            self->folds[i].cls->destroy(&self->folds[i].state);
    free(self->folds);
    free(self);
    *self_p = NULL;
}

projection_t *
foldset_projection(foldset_t *self)
{
    return self->folds[0].state;
}

alertcfg_t *
foldset_alertcfg(foldset_t *self)
{
    return self->cfg;
}

projection_t *
foldset_take_projection(foldset_t *self)
{
    projection_t *p = self->folds[0].state;
    self->folds[0].state = NULL;
    return p;
}

calendar_t *
foldset_calendar(foldset_t *self)
{
    return self->cal;
}

/* Whether rule is anomaly/<f's name>. */
static bool
names(const fold_t *f, ev_str_t rule)
{
    size_t len = strlen(f->cls->name);
    return f->detector && rule.len == len + 8 && memcmp(rule.ptr, "anomaly/", 8) == 0 &&
           memcmp(rule.ptr + 8, f->cls->name, len) == 0;
}

static fold_t *
detector_named(foldset_t *self, ev_str_t rule)
{
    for (size_t i = 0; i < self->n; i++)
        if (names(&self->folds[i], rule))
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
    for (size_t i = 0; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        if (f->cls->check && f->cls->check(f->state, ev, err) != EVE_OK)
            return err->code;
    }
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
        return err->code;
    }
    return EVE_OK;
}

/* A detector's setting, before it folds the event that sets it (checked
   at admission; from the log, one it refuses is ignored). */
static void
apply_setting(fold_t *f, const event_t *ev)
{
    char param[65], why[200];
    param_name(ev, param, sizeof param);
    (void)f->cls->set_param(f->state, param, ev->v[F_VALUE].d, why, sizeof why);
}

static int
fold_one(foldset_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev, det_emit_fn *emit,
         void *arg, bool checked)
{
    bool setting = ev->type == EV_ALERT_RULE_SET;
    for (size_t i = 0; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        if (f->from > seq)
            continue;
        if (setting && names(f, ev->v[F_RULE].s))
            apply_setting(f, ev);
        int rc = checked && f->cls->fold_checked
                     ? f->cls->fold_checked(f->state, seq, recorded_at, ev, emit, arg)
                     : f->cls->fold(f->state, seq, recorded_at, ev, emit, arg);
        if (rc != 0)
            return -1;
    }
    if (seq > self->seq)
        self->seq = seq;
    return 0;
}

int
foldset_fold(foldset_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev,
             det_emit_fn *emit, void *arg)
{
    return fold_one(self, seq, recorded_at, ev, emit, arg, false);
}

int
foldset_fold_checked(foldset_t *self, uint64_t seq, int64_t recorded_at, const event_t *ev,
                     det_emit_fn *emit, void *arg)
{
    return fold_one(self, seq, recorded_at, ev, emit, arg, true);
}

/* A batch fold by fold rather than event by event: each fold's code and
   tables stay warm over the batch, and the projection gets the batch
   whole to prefetch what it will touch. The folds are independent, so the
   order across folds does not matter. */
int
foldset_fold_batch(foldset_t *self, const fold_event_t *d, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        size_t k = 0;
        while (k < n && d[k].seq < f->from)
            k++;
        if (k == n)
            continue;
        if (f->cls->fold_batch) {
            if (f->cls->fold_batch(f->state, d + k, n - k) != 0)
                return -1;
            continue;
        }
        for (; k < n; k++) {
            if (!d[k].ok)
                continue;
            if (d[k].ev.type == EV_ALERT_RULE_SET && names(f, d[k].ev.v[F_RULE].s))
                apply_setting(f, &d[k].ev);
            if (f->cls->fold(f->state, d[k].seq, d[k].recorded_at, &d[k].ev, NULL, NULL) != 0)
                return -1;
        }
    }
    if (d[n - 1].seq > self->seq)
        self->seq = d[n - 1].seq;
    return 0;
}

int
foldset_tick(foldset_t *self, int64_t now, det_emit_fn *emit, void *arg)
{
    for (size_t i = 0; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        if (f->cls->tick && f->cls->tick(f->state, now, emit, arg) != 0)
            return -1;
    }
    return 0;
}

uint64_t
foldset_seq(const foldset_t *self)
{
    return self->seq;
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

static int
pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n) ? -1 : 0;
}

/* [name, version, state], state by the fold's save. */
static int
save_section(const fold_t *f, msgpack_packer *pk)
{
    if (msgpack_pack_array(pk, 3) != 0 || pack_str(pk, f->cls->name) != 0 ||
        msgpack_pack_uint32(pk, f->cls->version) != 0)
        return -1;
    return f->cls->save(f->state, pk);
}

int
foldset_save(foldset_t *self, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    const fold_t *lead = &self->folds[0];
    if (lead->cls->save_section(lead->state, out) != 0 ||
        msgpack_pack_array(&pk, (uint32_t)(self->n - 1)) != 0)
        return -1;
    for (size_t i = 1; i < self->n; i++)
        if (save_section(&self->folds[i], &pk) != 0)
            return -1;
    return 0;
}

/* Whether s is a section [name, version, state] of f's current version. */
static bool
section_of(const fold_t *f, const msgpack_object *s)
{
    if (s->type != MSGPACK_OBJECT_ARRAY || s->via.array.size != 3 ||
        s->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
        s->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    const msgpack_object_str *name = &s->via.array.ptr[0].via.str;
    return name->size == strlen(f->cls->name) && memcmp(name->ptr, f->cls->name, name->size) == 0 &&
           s->via.array.ptr[1].via.u64 == f->cls->version;
}

/* The lead section, data[0..len): [tag, version, state]. Loaded when of
   the lead fold's version (its load_section checks the tag and the rest),
   started afresh when of another. */
static int
load_lead(foldset_t *self, const void *data, size_t len, const msgpack_object *sec,
          uint64_t snap_seq, char *err, size_t errlen)
{
    fold_t *f = &self->folds[0];
    if (sec->type != MSGPACK_OBJECT_ARRAY || sec->via.array.size != 3 ||
        sec->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
        sec->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf(err, errlen, "snapshot: not a projection snapshot");
        return -1;
    }
    if (sec->via.array.ptr[1].via.u64 != f->cls->version)
        return 0; /* stays reset: refolded from the first event */
    if (f->cls->load_section(f->state, data, len, err, errlen) != 0)
        return -1;
    /* The snapshot's seq is the log's key, bounded by the log; the seq
       inside the section is bytes from disk. A projection that has folded
       past its key would fold the log's next events a second time (and,
       past what any log holds, write snapshots no load accepts); one
       behind it folds the events between from the log, as a fold of
       another version does from the first. */
    uint64_t at = projection_seq(f->state);
    if (at > snap_seq) {
        snprintf(err, errlen,
                 "snapshot: the projection has folded to seq %" PRIu64
                 ", past the snapshot's seq %" PRIu64,
                 at, snap_seq);
        return -1;
    }
    f->from = at + 1;
    f->reset = at < snap_seq;
    return 0;
}

/* The other sections: the array sections (or none). */
static int
load_others(foldset_t *self, const msgpack_object *sections, uint64_t snap_seq, char *err,
            size_t errlen)
{
    for (size_t i = 1; i < self->n; i++) {
        fold_t *f = &self->folds[i];
        for (uint32_t k = 0; sections && k < sections->via.array.size; k++) {
            const msgpack_object *s = &sections->via.array.ptr[k];
            if (!section_of(f, s))
                continue;
            char why[200] = "";
            if (f->cls->load(f->state, &s->via.array.ptr[2], why, sizeof why) != 0) {
                snprintf(err, errlen, "fold %s: %s", f->cls->name, why);
                return -1;
            }
            f->from = snap_seq + 1;
            f->reset = false;
            break;
        }
    }
    return 0;
}

int
foldset_load(foldset_t *self, const void *data, size_t len, uint64_t snap_seq, char *err,
             size_t errlen)
{
    for (size_t i = 0; i < self->n; i++) {
        self->folds[i].from = 1;
        self->folds[i].reset = true;
    }
    self->seq = snap_seq;
    /* bytes from disk: each value is scanned before msgpack-c reads it,
       which would otherwise allocate for whatever count a damaged header
       claims (the lead section is [tag, version, bin]: its scan costs
       nothing, and its bin is not copied) */
    msgpack_unpacked lead, rest;
    msgpack_unpacked_init(&lead);
    msgpack_unpacked_init(&rest);
    size_t first = 0, second = 0, off = 0, at = 0;
    int rc = -1;
    if (!mp_scan_first(data, len, SNAPSHOT_MAX_DEPTH, &first) ||
        msgpack_unpack_next(&lead, data, first, &off) != MSGPACK_UNPACK_SUCCESS) {
        snprintf(err, errlen, "snapshot: not a projection snapshot");
        goto done;
    }
    if (load_lead(self, data, off, &lead.data, snap_seq, err, errlen) != 0)
        goto done;
    /* A snapshot from before the other folds has none of their sections;
       damaged ones are not loaded either: those folds start afresh. (The
       projection alone, for an as-of answer, need not read them.) */
    at = off;
    bool more =
        self->n > 1 && off < len &&
        mp_scan_first((const uint8_t *)data + off, len - off, SNAPSHOT_MAX_DEPTH, &second) &&
        msgpack_unpack_next(&rest, data, off + second, &at) == MSGPACK_UNPACK_SUCCESS &&
        rest.data.type == MSGPACK_OBJECT_ARRAY;
    rc = load_others(self, more ? &rest.data : NULL, snap_seq, err, errlen);
done:
    msgpack_unpacked_destroy(&rest);
    msgpack_unpacked_destroy(&lead);
    return rc;
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
                                      self->folds[i].cls->name);
            n++;
        }
    return n;
}

int
foldset_query(foldset_t *self, const char *name, size_t len, const msgpack_object *request,
              int64_t now, msgpack_sbuffer *pairs, size_t *npairs, char *err, size_t errlen)
{
    for (size_t i = 0; i < self->n; i++) {
        const fold_op_t *op = self->folds[i].cls->ops;
        for (; op && op->name; op++) {
            if (strlen(op->name) != len || memcmp(op->name, name, len) != 0)
                continue;
            if (op->fields && wire_req_check(request, op->fields, err, errlen) < 0)
                return -1;
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
    for (size_t i = 0; i < self->n; i++)
        for (const fold_op_t *op = self->folds[i].cls->ops; op && op->name && o < outlen; op++)
            o += (size_t)snprintf(out + o, outlen - o, ", %s", op->name);
    return out;
}
