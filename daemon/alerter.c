/*  alerter: see alerter.h.

    State by target index (kstate_t): which rules are active, silenced or
    done, since when, when last sent, the silence an alert used up, and
    when the key is next due. It mirrors the durable alert_state entries
    of the outbox, which are what alerter_load reads back; a key's entry
    there names its target by (scope, metric, period, product line), which
    the projection maps back to an index.

    Anomaly alerts are kept in a table by key (anomaly_t) indexed by the
    key's 64-bit hash. One raised while a silence covers it is held: its
    record's body is kept (in memory and in its durable state entry, so a
    restart keeps it) and published when no silence covers it any more,
    unless a review resolves it first; an aseq is given out only then, so
    the outbox's aseqs stay gap-free. */

#include "daemon/alerter.h"

#include "daemon/log.h"
#include "events/codec.h"
#include "events/money.h"
#include "events/wire.h"
#include "projections/rules.h"
#include "projections/symtab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t active, done, silenced; /* bit r: RULES[r] */
    int64_t since[RULES_MAX], last_sent[RULES_MAX];
    uint64_t spent[RULES_MAX]; /* seq of a silence without `until` this alert used up */
    uint64_t aseq[RULES_MAX];  /* its newest record (0: none, e.g. silenced from the start) */
    int64_t due;               /* INT64_MAX: nothing scheduled */
    uint64_t last_seq;         /* the newest event that changed the key */
    int64_t last_actual;       /* at the evaluation that scheduled `due` */
    int64_t progress_at;       /* monotonic ms its last progress row was packed */
    bool progress_pending;     /* changed since, row not packed yet */
} kstate_t;

typedef struct {
    int64_t due;
    uint32_t idx;
} timer_t_;

enum { A_FIRING, A_CONFIRMED, A_DISMISSED };

/* Kept for every anomaly ever raised (a dismissed key must never fire
   again), so small: the key and topic are allocated to their length. */
typedef struct {
    char *key;
    char *topic;
    uint8_t state;
    uint8_t severity; /* of a held one: SEVERITIES[severity] */
    int64_t since;
    uint64_t aseq;
    /* Held (raised while silenced, not published yet): the record's pairs
       after its head, as one msgpack map; NULL otherwise. */
    char *held;
    size_t held_len;
} anomaly_t;

/* A buffer records are packed into, with whether a write failed (out of
   memory): one check before the record goes into the batch, rather than
   one per pack call, and never a truncated record in the outbox. */
typedef struct {
    msgpack_sbuffer sb;
    bool failed;
} sink_t;

static int
sink_write(void *data, const char *buf, size_t len)
{
    sink_t *s = data;
    if (msgpack_sbuffer_write(&s->sb, buf, len) == 0)
        return 0;
    s->failed = true;
    return -1;
}

static void
sink_clear(sink_t *s)
{
    msgpack_sbuffer_clear(&s->sb);
    s->failed = false;
}

struct _alerter_t {
    uint64_t aseq; /* last given out */
    kstate_t *keys;
    uint32_t nkeys;
    timer_t_ *heap;
    size_t nheap, capheap;
    anomaly_t *anomalies;
    size_t nanomalies, capanomalies;
    u64map_t anomaly_index; /* hash of key -> index + 1 */
    size_t *held;           /* indices of the held anomalies */
    size_t nheld, capheld;
    det_flag_t *flags; /* queued while folding */
    size_t nflags, capflags;
    /* run rates, by target index */
    int64_t *sum_window, *sum_last;
    uint32_t rates_cap;
    int64_t rates_day; /* the day (period seq) they were computed for; 0: never */
    int rates_days;    /* working days found */
    /* The sweep of every key (alerter.h: a new day's, or a setting's or
       a silence's change): the next key it evaluates, while it runs; and
       whether a bounded tick left keys due in the heap. */
    bool sweeping, heap_left;
    uint32_t sweep_next;
    int window_days;
    uint64_t silence_gen;
    size_t active;
    sink_t rec, st, row;      /* an alert record, an alert state, a progress row or held body */
    outbox_batch_t *progress; /* alerter_progress_to */
    uint32_t *pending;        /* keys whose progress row waits for the next second */
    size_t npending, cappending;
};

static const char *const SEVERITIES[] = {"info", "warning", "critical"};

#define PROGRESS_EVERY_MS 1000

alerter_t *
alerter_new(void)
{
    alerter_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    u64map_init(&self->anomaly_index);
    msgpack_sbuffer_init(&self->rec.sb);
    msgpack_sbuffer_init(&self->st.sb);
    msgpack_sbuffer_init(&self->row.sb);
    self->window_days = (int)RULE_WINDOW_DAYS_DEFAULT;
    return self;
}

static void
forget_anomalies(alerter_t *self)
{
    for (size_t i = 0; i < self->nanomalies; i++) {
        free(self->anomalies[i].key);
        free(self->anomalies[i].topic);
        free(self->anomalies[i].held);
    }
    self->nanomalies = 0;
    self->nheld = 0;
}

void
alerter_destroy(alerter_t **self_p)
{
    alerter_t *self = *self_p;
    if (!self)
        return;
    free(self->keys);
    free(self->heap);
    forget_anomalies(self);
    free(self->anomalies);
    free(self->held);
    free(self->flags);
    free(self->sum_window);
    free(self->sum_last);
    free(self->pending);
    u64map_free(&self->anomaly_index);
    msgpack_sbuffer_destroy(&self->rec.sb);
    msgpack_sbuffer_destroy(&self->st.sb);
    msgpack_sbuffer_destroy(&self->row.sb);
    free(self);
    *self_p = NULL;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Make keys[] cover every target of proj (new keys are due at once). */
static int
cover_keys(alerter_t *self, projection_t *proj)
{
    uint32_t n = projection_target_count(proj);
    if (n <= self->nkeys)
        return 0;
    kstate_t *k = realloc(self->keys, (size_t)n * sizeof *k);
    if (!k)
        return -1;
    memset(k + self->nkeys, 0, (size_t)(n - self->nkeys) * sizeof *k);
    for (uint32_t i = self->nkeys; i < n; i++)
        k[i].due = INT64_MAX;
    self->keys = k;
    self->nkeys = n;
    return 0;
}

/* ---- the timer heap (lazy: an entry whose due differs from its key's is
   stale and skipped). A key whose due is set has an entry with that due in
   the heap; a key rescheduled leaves its old entry behind, stale, until
   its time comes. So that the stale entries cannot pile up (a day's sweep
   reschedules every key whose crossing moved), the heap is rebuilt from
   the keys' due times once it holds twice as many entries as there are
   keys: at most one entry a key is live, so then at least half are stale,
   and the rebuild's O(keys) is paid for by as many pushes. */

#define HEAP_SLACK 64

static void
sift_down(timer_t_ *h, size_t n, size_t i, timer_t_ t)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].due < h[c].due)
            c++;
        if (h[c].due >= t.due)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = t;
}

/* One entry for each key that has a due time, as a heap again. */
static void
heap_rebuild(alerter_t *self)
{
    size_t n = 0;
    for (uint32_t i = 0; i < self->nkeys; i++)
        if (self->keys[i].due != INT64_MAX)
            self->heap[n++] = (timer_t_){self->keys[i].due, i};
    self->nheap = n;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(self->heap, n, i, self->heap[i]);
}

static int
heap_push(alerter_t *self, int64_t due, uint32_t idx)
{
    /* capheap >= nheap >= 2 * nkeys + HEAP_SLACK > nkeys: the live entries fit */
    if (self->nheap >= 2 * (size_t)self->nkeys + HEAP_SLACK)
        heap_rebuild(self);
    if (grow((void **)&self->heap, &self->capheap, self->nheap + 1, sizeof *self->heap) != 0)
        return -1;
    size_t i = self->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (self->heap[p].due <= due)
            break;
        self->heap[i] = self->heap[p];
        i = p;
    }
    self->heap[i] = (timer_t_){due, idx};
    return 0;
}

static timer_t_
heap_pop(alerter_t *self)
{
    timer_t_ top = self->heap[0], last = self->heap[--self->nheap];
    if (self->nheap)
        sift_down(self->heap, self->nheap, 0, last);
    return top;
}

static void
schedule(alerter_t *self, uint32_t idx, int64_t due)
{
    kstate_t *k = &self->keys[idx];
    if (due == k->due)
        return;         /* its entry is in the heap already */
    k->due = INT64_MAX; /* not in a rebuild of the heap_push below */
    if (due != INT64_MAX && heap_push(self, due, idx) != 0)
        return; /* out of memory: evaluated when next changed */
    k->due = due;
}

/* ---- packing */

static void
pstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pstr_or_nil(msgpack_packer *pk, const char *s)
{
    if (s && *s)
        pstr(pk, s);
    else
        msgpack_pack_nil(pk);
}

static double
round_to(double v, double unit)
{
    return nearbyint(v / unit) * unit;
}

/* A flag's number: nil when the detector could not compute it (NaN: a rep
   with too little history of their own), which JSON and most clients
   cannot carry as a float. */
static void
pack_figure(msgpack_packer *pk, double v)
{
    if (isfinite(v))
        msgpack_pack_double(pk, v);
    else
        msgpack_pack_nil(pk);
}

static void
pack_notify(msgpack_packer *pk, const char *owner, const char *parent_owner, bool parent)
{
    const char *who[2];
    int n = 0;
    if (owner && *owner)
        who[n++] = owner;
    if (parent && parent_owner && *parent_owner && (!n || strcmp(parent_owner, owner) != 0))
        who[n++] = parent_owner;
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++)
        pstr(pk, who[i]);
}

/* ---- lag alerts */

static void
lag_key(const rule_class_t *r, const tprog_t *p, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/%s/%s%s%s", r->name, p->scope, p->metric, p->period,
             p->has_pl ? "/" : "", p->has_pl ? p->product_line : "");
}

static void
lag_topic(const rule_class_t *r, const tprog_t *p, char *out, size_t len)
{
    snprintf(out, len, "alert/%s/%s/", r->name, p->path);
}

static void
fill_params(const rule_class_t *r, const tprog_t *p, const alertcfg_t *cfg, rule_params_t *rp)
{
    if (!alertcfg_has_settings(cfg)) {
        *rp = (rule_params_t){.enabled = 1,
                              .min_elapsed = RULE_MIN_ELAPSED_DEFAULT,
                              .margin = RULE_MARGIN_DEFAULT,
                              .repeat_hours = RULE_REPEAT_HOURS_DEFAULT,
                              .threshold = r->threshold,
                              .behind = 0.80,
                              .factor = r->factor,
                              .window_days = RULE_WINDOW_DAYS_DEFAULT};
        return;
    }
    const char *m = p->metric;
    rp->enabled = alertcfg_param(cfg, r->name, "enabled", m, p->kind, 1);
    rp->min_elapsed =
        alertcfg_param(cfg, r->name, "min_elapsed", m, p->kind, RULE_MIN_ELAPSED_DEFAULT);
    rp->margin = alertcfg_param(cfg, r->name, "margin", m, p->kind, RULE_MARGIN_DEFAULT);
    rp->repeat_hours =
        alertcfg_param(cfg, r->name, "repeat_hours", m, p->kind, RULE_REPEAT_HOURS_DEFAULT);
    rp->threshold = alertcfg_param(cfg, r->name, "threshold", m, p->kind, r->threshold);
    rp->behind = alertcfg_param(cfg, "behind", "threshold", m, p->kind, 0.80);
    rp->factor = alertcfg_param(cfg, r->name, "factor", m, p->kind, r->factor);
    rp->window_days =
        alertcfg_param(cfg, r->name, "window_days", m, p->kind, RULE_WINDOW_DAYS_DEFAULT);
}

/* The durable state of (rule, key): what alerter_load reads back. */
static int
put_lag_state(alerter_t *self, const rule_class_t *r, int ri, const tprog_t *p, const char *key,
              const char *held_summary, outbox_batch_t *out)
{
    kstate_t *k = &self->keys[p->idx];
    sink_clear(&self->st);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->st, sink_write);
    char topic[700];
    lag_topic(r, p, topic, sizeof topic);
    msgpack_pack_map(&pk, held_summary ? 13 : 12);
    if (held_summary) {
        /* fired under a silence, so no record: the sentence it would have
           had, for alerts_active (daemon/alert_query.c) */
        pstr(&pk, "summary");
        pstr(&pk, held_summary);
    }
    pstr(&pk, "topic");
    pstr(&pk, topic);
    pstr(&pk, "aseq");
    msgpack_pack_uint64(&pk, k->aseq[ri]);
    pstr(&pk, "rule");
    pstr(&pk, r->name);
    pstr(&pk, "scope");
    pstr(&pk, p->scope);
    pstr(&pk, "metric");
    pstr(&pk, p->metric);
    pstr(&pk, "period");
    pstr(&pk, p->period);
    pstr(&pk, "product_line");
    pstr_or_nil(&pk, p->has_pl ? p->product_line : NULL);
    pstr(&pk, "state");
    bool active = (k->active >> ri) & 1;
    pstr(&pk, active ? "firing" : ((k->done >> ri) & 1) ? "done" : "resolved");
    pstr(&pk, "since");
    msgpack_pack_int64(&pk, k->since[ri]);
    pstr(&pk, "last_sent");
    msgpack_pack_int64(&pk, k->last_sent[ri]);
    pstr(&pk, "silenced");
    if ((k->silenced >> ri) & 1)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    pstr(&pk, "spent");
    msgpack_pack_uint64(&pk, k->spent[ri]);
    if (self->st.failed)
        return -1;
    return outbox_batch_state(out, key, strlen(key), self->st.sb.data, self->st.sb.size);
}

static void
opt_int(msgpack_packer *pk, const char *k, bool has, int64_t v)
{
    pstr(pk, k);
    if (has)
        msgpack_pack_int64(pk, v);
    else
        msgpack_pack_nil(pk);
}

static void
opt_double(msgpack_packer *pk, const char *k, bool has, double v, double unit)
{
    pstr(pk, k);
    if (has)
        msgpack_pack_double(pk, round_to(v, unit));
    else
        msgpack_pack_nil(pk);
}

static void
pack_values(msgpack_packer *pk, const tprog_t *p, const rule_params_t *rp)
{
    msgpack_pack_map(pk, 14);
    opt_int(pk, "actual", true, p->actual);
    opt_int(pk, "target", true, p->target);
    opt_int(pk, "floor", p->mask & 1, p->floor);
    opt_int(pk, "stretch", p->mask & 4, p->stretch);
    opt_int(pk, "expected", true, p->expected);
    pstr(pk, "currency");
    pstr_or_nil(pk, p->currency);
    opt_double(pk, "elapsed", true, p->elapsed, 1e-4);
    opt_double(pk, "attainment", p->has_attainment, p->attainment, 1e-4);
    opt_double(pk, "pace_ratio", p->has_pace, p->pace_ratio, 1e-4);
    opt_double(pk, "required_rate", p->has_required_rate, p->required_rate, 1);
    opt_int(pk, "forecast", p->has_forecast, p->forecast);
    opt_double(pk, "rate_7d", p->has_rates, p->rate_window, 1);
    opt_double(pk, "rate_1d", p->has_rates, p->rate_1d, 1);
    pstr(pk, "threshold");
    msgpack_pack_double(pk, rp->threshold ? rp->threshold : rp->factor);
}

typedef struct {
    const char *state; /* firing, repeat, resolved */
    int64_t now;
    uint64_t log_seq;
    alerter_id_fn *id_of;
    void *id_arg;
    outbox_batch_t *progress; /* a row per key evaluated, or NULL */
    bool lazy;                /* a group's evaluation: keep a due time already set (below) */
    int64_t mono;             /* monotonic ms, for one progress row per key per second */
} emit_ctx_t;

/* The key's progress row (PROTOCOL.md, "progress row"), for progress/;
   p's names filled. */
static int
pack_progress(alerter_t *self, const tprog_t *p, const emit_ctx_t *c)
{
    static const char *const kinds[] = {"company", "region", "team", "rep"};
    static const char *const tiers[] = {"none", "floor", "target", "stretch"};
    int tier = p->stretch && p->actual >= p->stretch    ? 3
               : p->actual >= p->target                 ? 2
               : (p->mask & 1) && p->actual >= p->floor ? 1
                                                        : 0;
    sink_clear(&self->row);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->row, sink_write);
    msgpack_pack_map(&pk, 28);
    pstr(&pk, "seq");
    msgpack_pack_uint64(&pk, c->log_seq);
    pstr(&pk, "now");
    msgpack_pack_int64(&pk, c->now);
    pstr(&pk, "scope");
    pstr(&pk, p->scope);
    pstr(&pk, "path");
    pstr(&pk, p->path);
    pstr(&pk, "kind");
    pstr(&pk, kinds[p->kind & 3]);
    pstr(&pk, "owner");
    pstr_or_nil(&pk, p->owner);
    pstr(&pk, "metric");
    pstr(&pk, p->metric);
    pstr(&pk, "period");
    pstr(&pk, p->period);
    pstr(&pk, "product_line");
    pstr_or_nil(&pk, p->has_pl ? p->product_line : NULL);
    opt_int(&pk, "period_start", true, p->start_ms);
    opt_int(&pk, "period_end", true, p->end_ms);
    pstr(&pk, "has_target");
    msgpack_pack_true(&pk);
    opt_int(&pk, "floor", p->mask & 1, p->floor);
    opt_int(&pk, "target", true, p->target);
    opt_int(&pk, "stretch", p->mask & 4, p->stretch);
    pstr(&pk, "currency");
    pstr_or_nil(&pk, p->currency);
    opt_int(&pk, "actual", true, p->actual);
    opt_int(&pk, "expected", true, p->expected);
    pstr(&pk, "curve");
    pstr(&pk, "working");
    opt_double(&pk, "elapsed", true, p->elapsed, 1e-4);
    opt_double(&pk, "attainment", p->has_attainment, p->attainment, 1e-4);
    opt_double(&pk, "pace_ratio", p->has_pace, p->pace_ratio, 1e-4);
    opt_int(&pk, "gap", true, p->expected - p->actual);
    opt_int(&pk, "remaining", true, p->target > p->actual ? p->target - p->actual : 0);
    opt_double(&pk, "required_rate", p->has_required_rate, p->required_rate, 1e-2);
    opt_int(&pk, "forecast", p->has_forecast, p->forecast);
    pstr(&pk, "tier");
    pstr(&pk, tiers[tier]);
    pstr(&pk, "status");
    pstr(&pk, pace_status_name(p->status));
    char topic[600];
    int n = snprintf(topic, sizeof topic, "progress/%s/", p->path);
    if (self->row.failed)
        return -1;
    return outbox_batch_add(c->progress, p->idx, topic, (size_t)n, self->row.sb.data,
                            self->row.sb.size);
}

/* The head every alert record starts with, into self->rec (cleared):
   a map of `pairs` entries, the first eight packed here. Returns the aseq
   the record gets (not yet taken: the caller sets self->aseq once the
   record is in the batch). */
static uint64_t
record_head(alerter_t *self, msgpack_packer *pk, size_t pairs, const char *key, const char *topic,
            const char *rule, size_t rule_len, const char *state, const char *severity, int64_t at,
            int64_t since)
{
    sink_clear(&self->rec);
    msgpack_packer_init(pk, &self->rec, sink_write);
    uint64_t aseq = self->aseq + 1;
    msgpack_pack_map(pk, pairs);
    pstr(pk, "aseq");
    msgpack_pack_uint64(pk, aseq);
    pstr(pk, "key");
    pstr(pk, key);
    pstr(pk, "topic");
    pstr(pk, topic);
    pstr(pk, "rule");
    msgpack_pack_str_with_body(pk, rule, rule_len);
    pstr(pk, "state");
    pstr(pk, state);
    pstr(pk, "severity");
    pstr(pk, severity);
    pstr(pk, "at");
    msgpack_pack_int64(pk, at);
    pstr(pk, "since");
    msgpack_pack_int64(pk, since);
    return aseq;
}

static int
emit_lag(alerter_t *self, const emit_ctx_t *c, const rule_class_t *r, int ri, const tprog_t *p,
         const rule_params_t *rp, const char *key, const char *summary, outbox_batch_t *out)
{
    kstate_t *k = &self->keys[p->idx];
    char topic[700];
    lag_topic(r, p, topic, sizeof topic);
    msgpack_packer pk;
    uint64_t aseq = record_head(self, &pk, 20, key, topic, r->name, strlen(r->name), c->state,
                                SEVERITIES[r->severity], c->now, k->since[ri]);
    pstr(&pk, "scope");
    pstr(&pk, p->scope);
    pstr(&pk, "path");
    pstr(&pk, p->path);
    pstr(&pk, "metric");
    pstr(&pk, p->metric);
    pstr(&pk, "period");
    pstr(&pk, p->period);
    pstr(&pk, "product_line");
    pstr_or_nil(&pk, p->has_pl ? p->product_line : NULL);
    pstr(&pk, "owner");
    pstr_or_nil(&pk, p->owner);
    pstr(&pk, "notify");
    pack_notify(&pk, p->owner, p->parent_owner, r->notify_parent);
    pstr(&pk, "summary");
    pstr(&pk, summary);
    pstr(&pk, "values");
    pack_values(&pk, p, rp);
    pstr(&pk, "evidence");
    char id[80];
    if (k->last_seq) {
        msgpack_pack_array(&pk, 1);
        bool has_id = c->id_of && c->id_of(c->id_arg, k->last_seq, id, sizeof id);
        msgpack_pack_map(&pk, has_id ? 2 : 1);
        pstr(&pk, "seq");
        msgpack_pack_uint64(&pk, k->last_seq);
        if (has_id) {
            pstr(&pk, "id");
            pstr(&pk, id);
        }
    } else
        msgpack_pack_array(&pk, 0);
    pstr(&pk, "log_seq");
    msgpack_pack_uint64(&pk, c->log_seq);
    pstr(&pk, "silenced");
    msgpack_pack_false(&pk);
    if (self->rec.failed || outbox_batch_add(out, aseq, topic, strlen(topic), self->rec.sb.data,
                                             self->rec.sb.size) != 0)
        return -1;
    self->aseq = aseq;
    k->aseq[ri] = aseq;
    return 0;
}

/* A key's progress row goes out at most once a second: a key changed
   again within the second waits for alerter_flush_progress. */
static int
offer_progress(alerter_t *self, projection_t *proj, tprog_t *p, const emit_ctx_t *c)
{
    kstate_t *k = &self->keys[p->idx];
    if (c->mono - k->progress_at >= PROGRESS_EVERY_MS) {
        k->progress_at = c->mono;
        k->progress_pending = false;
        projection_target_names(proj, p, c->now);
        return pack_progress(self, p, c);
    }
    if (!k->progress_pending) {
        if (grow((void **)&self->pending, &self->cappending, self->npending + 1,
                 sizeof *self->pending) != 0)
            return 0; /* out of memory: this update is skipped, the next one goes */
        self->pending[self->npending++] = p->idx;
        k->progress_pending = true;
    }
    return 0;
}

/* Evaluate every rule on key idx at now; record what changes. */
static int
eval_key(alerter_t *self, projection_t *proj, const alertcfg_t *cfg, uint32_t idx,
         const emit_ctx_t *base, outbox_batch_t *out)
{
    kstate_t *k = &self->keys[idx];
    int64_t now = base->now;
    tprog_t p;
    if (projection_target_eval(proj, idx, now, self->window_days, &p) != 0) {
        k->due = INT64_MAX;
        return 0;
    }
    if (p.summable && self->rates_days > 0 && idx < self->rates_cap) {
        p.has_rates = true;
        p.rate_window = (double)self->sum_window[idx] / self->rates_days;
        p.rate_1d = (double)self->sum_last[idx];
        p.window_days = self->rates_days;
    }
    /* Computing when each rule's verdict next changes costs a bisection
       of the calendar per rule. After a sale it need not be done: more
       actual only moves a crossing later, so a due time already set is
       early, and the tick then evaluates the key and sets a new one. Only
       a state change, a lower actual (a refund) or no due time at all
       make it worth computing now. */
    bool lazy = base->lazy && k->due != INT64_MAX && p.actual >= k->last_actual;
    bool any_changed = false;
    size_t nsil;
    alertcfg_silences(cfg, &nsil);
    bool has_silences = nsil > 0;
    int64_t due = INT64_MAX;
    for (int ri = 0; RULES[ri]; ri++) {
        const rule_class_t *r = RULES[ri];
        rule_params_t rp;
        fill_params(r, &p, cfg, &rp);
        bool active = (k->active >> ri) & 1;
        rule_verdict_t v = rp.enabled >= 0.5 ? r->eval(&p, &rp, active) : RULE_CLEAR;
        if (r->inhibited_by)
            for (int j = 0; RULES[j]; j++)
                if (((k->active >> j) & 1) && !strcmp(RULES[j]->name, r->inhibited_by))
                    v = RULE_CLEAR;
        /* the common case, nothing to do, costs no string */
        bool done = (k->done >> ri) & 1, silenced = (k->silenced >> ri) & 1;
        if (!has_silences && !silenced &&
            (r->once ? v != RULE_FIRE || done
                     : (v == RULE_FIRE) == active &&
                           !(active && rp.repeat_hours > 0 &&
                             now - k->last_sent[ri] >= (int64_t)(rp.repeat_hours * 3600000.0))))
            continue;
        char key[400], topic[700], summary[1024];
        const char *held_summary = NULL;
        projection_target_names(proj, &p, now);
        lag_key(r, &p, key, sizeof key);
        lag_topic(r, &p, topic, sizeof topic);
        const silence_t *sil = has_silences ? alertcfg_silenced(cfg, key, topic, now) : NULL;
        if (sil && !sil->until && sil->seq == k->spent[ri])
            sil = NULL; /* used up by an earlier resolution */
        emit_ctx_t c = *base;
        bool changed = false;
        if (r->once) {
            if (v == RULE_FIRE && !((k->done >> ri) & 1)) {
                k->done |= (uint8_t)(1u << ri);
                k->since[ri] = k->last_sent[ri] = now;
                changed = true;
                if (!sil) {
                    c.state = "firing";
                    r->explain(&p, &rp, false, summary, sizeof summary);
                    if (emit_lag(self, &c, r, ri, &p, &rp, key, summary, out) != 0)
                        return -1;
                }
            }
        } else if (v == RULE_FIRE && !active) {
            k->active |= (uint8_t)(1u << ri);
            k->since[ri] = k->last_sent[ri] = now;
            self->active++;
            changed = true;
            if (sil) {
                k->silenced |= (uint8_t)(1u << ri);
                r->explain(&p, &rp, false, summary, sizeof summary);
                held_summary = summary;
            } else {
                c.state = "firing";
                r->explain(&p, &rp, false, summary, sizeof summary);
                if (emit_lag(self, &c, r, ri, &p, &rp, key, summary, out) != 0)
                    return -1;
            }
        } else if (v == RULE_CLEAR && active) {
            bool was_silenced = (k->silenced >> ri) & 1;
            k->active &= (uint8_t) ~(1u << ri);
            k->silenced &= (uint8_t) ~(1u << ri);
            self->active--;
            changed = true;
            if (sil && !sil->until)
                k->spent[ri] = sil->seq;
            if (!was_silenced) {
                c.state = "resolved";
                if (p.ended) {
                    char subject[700], phrase[160];
                    rule_subject(&p, subject, sizeof subject);
                    rule_pace_phrase(&p, phrase, sizeof phrase);
                    snprintf(summary, sizeof summary, "%s: period ended at %s", subject, phrase);
                } else
                    r->explain(&p, &rp, true, summary, sizeof summary);
                if (emit_lag(self, &c, r, ri, &p, &rp, key, summary, out) != 0)
                    return -1;
            }
            k->last_sent[ri] = now;
        } else if (active) {
            bool was_silenced = (k->silenced >> ri) & 1;
            if (sil && !was_silenced) {
                k->silenced |= (uint8_t)(1u << ri);
                changed = true;
            } else if (!sil && was_silenced) {
                /* its silence ended while it holds: raise it now */
                k->silenced &= (uint8_t) ~(1u << ri);
                k->last_sent[ri] = now;
                changed = true;
                c.state = "firing";
                r->explain(&p, &rp, false, summary, sizeof summary);
                if (emit_lag(self, &c, r, ri, &p, &rp, key, summary, out) != 0)
                    return -1;
            } else if (!sil && rp.repeat_hours > 0 &&
                       now - k->last_sent[ri] >= (int64_t)(rp.repeat_hours * 3600000.0)) {
                k->last_sent[ri] = now;
                changed = true;
                c.state = "repeat";
                r->explain(&p, &rp, false, summary, sizeof summary);
                if (emit_lag(self, &c, r, ri, &p, &rp, key, summary, out) != 0)
                    return -1;
            }
        }
        if (changed && put_lag_state(self, r, ri, &p, key, held_summary, out) != 0)
            return -1;
        any_changed |= changed;
    }
    if (lazy && !any_changed) {
        if (base->progress && offer_progress(self, proj, &p, base) != 0)
            return -1;
        return 0;
    }
    /* when to look again */
    for (int ri = 0; RULES[ri]; ri++) {
        const rule_class_t *r = RULES[ri];
        rule_params_t rp;
        fill_params(r, &p, cfg, &rp);
        bool active = (k->active >> ri) & 1;
        if (rp.enabled >= 0.5) {
            int64_t t = r->next_change(proj, &p, &rp, active, now);
            if (t <= now)
                t = now + 60000;
            if (t < due)
                due = t;
            if (active && rp.repeat_hours > 0) {
                int64_t rep = k->last_sent[ri] + (int64_t)(rp.repeat_hours * 3600000.0);
                if (rep < due)
                    due = rep > now ? rep : now + 60000;
            }
            if (active && !p.ended && p.end_ms < due)
                due = p.end_ms;
        }
        if (active && has_silences) {
            char key[400], topic[700];
            projection_target_names(proj, &p, now);
            lag_key(r, &p, key, sizeof key);
            lag_topic(r, &p, topic, sizeof topic);
            const silence_t *sil = alertcfg_silenced(cfg, key, topic, now);
            if (sil && sil->until && sil->until < due)
                due = sil->until;
        }
    }
    if (!p.started && p.start_ms < due)
        due = p.start_ms + 60000;
    /* schedule() pushes only a change: a key whose due did not move keeps
       its entry (a day's sweep would otherwise add one for every key) */
    k->last_actual = p.actual;
    schedule(self, idx, due);
    if (base->progress && offer_progress(self, proj, &p, base) != 0)
        return -1;
    return 0;
}

/* ---- anomalies */

static anomaly_t *
anomaly_find(alerter_t *self, const char *key, size_t len)
{
    uint64_t *v = u64map_get(&self->anomaly_index, event_id_hash(key, len));
    if (!v || *v == 0 || *v > self->nanomalies)
        return NULL;
    anomaly_t *a = &self->anomalies[*v - 1];
    return strlen(a->key) == len && memcmp(a->key, key, len) == 0 ? a : NULL;
}

static anomaly_t *
anomaly_add(alerter_t *self, const char *key)
{
    if (grow((void **)&self->anomalies, &self->capanomalies, self->nanomalies + 1,
             sizeof(anomaly_t)) != 0)
        return NULL;
    bool added;
    uint64_t *v = u64map_upsert(&self->anomaly_index, event_id_hash(key, strlen(key)), &added);
    if (!v)
        return NULL;
    char *k = strdup(key);
    if (!k)
        return NULL;
    anomaly_t *a = &self->anomalies[self->nanomalies++];
    memset(a, 0, sizeof *a);
    a->key = k;
    *v = self->nanomalies;
    return a;
}

static int
put_anomaly_state(alerter_t *self, const anomaly_t *a, outbox_batch_t *out)
{
    static const char *const states[] = {"firing", "confirmed", "dismissed"};
    sink_clear(&self->st);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->st, sink_write);
    msgpack_pack_map(&pk, a->held ? 7 : 5);
    pstr(&pk, "aseq");
    msgpack_pack_uint64(&pk, a->aseq);
    pstr(&pk, "rule");
    pstr(&pk, "anomaly");
    pstr(&pk, "state");
    pstr(&pk, states[a->state]);
    pstr(&pk, "since");
    msgpack_pack_int64(&pk, a->since);
    pstr(&pk, "topic");
    pstr(&pk, a->topic);
    if (a->held) {
        pstr(&pk, "severity");
        pstr(&pk, SEVERITIES[a->severity]);
        pstr(&pk, "held");
        sink_write(&self->st, a->held, a->held_len); /* a whole map already */
    }
    if (self->st.failed)
        return -1;
    return outbox_batch_state(out, a->key, strlen(a->key), self->st.sb.data, self->st.sb.size);
}

/* The pairs of a flag's record after its head: the body a held flag keeps
   until it is published (20 pairs in all with the head and "silenced"). */
#define FLAG_BODY_PAIRS 11

static void
pack_flag_body(msgpack_packer *pk, const det_flag_t *f, const char *path, const char *owner,
               const char *powner, uint64_t log_seq)
{
    pstr(pk, "scope");
    pstr_or_nil(pk, f->rep);
    pstr(pk, "path");
    pstr_or_nil(pk, path);
    pstr(pk, "metric");
    msgpack_pack_nil(pk);
    pstr(pk, "period");
    msgpack_pack_nil(pk);
    pstr(pk, "product_line");
    msgpack_pack_nil(pk);
    pstr(pk, "owner");
    pstr_or_nil(pk, owner);
    pstr(pk, "notify");
    pack_notify(pk, owner, powner, true);
    pstr(pk, "summary");
    pstr(pk, f->summary);
    pstr(pk, "values");
    msgpack_pack_map(pk, 5 + (size_t)f->nvalues);
    pstr(pk, "score");
    pack_figure(pk, round_to(f->score, 1e-4));
    pstr(pk, "baseline");
    pack_figure(pk, round_to(f->baseline, 1e-4));
    pstr(pk, "threshold");
    pack_figure(pk, round_to(f->threshold, 1e-4));
    pstr(pk, "currency");
    pstr_or_nil(pk, f->currency);
    pstr(pk, "customer");
    pstr_or_nil(pk, f->customer);
    for (int i = 0; i < f->nvalues; i++) {
        pstr(pk, f->values[i].name ? f->values[i].name : "value");
        pack_figure(pk, f->values[i].v);
    }
    pstr(pk, "evidence");
    int ne = f->nevidence < 16 ? f->nevidence : 16;
    msgpack_pack_array(pk, (size_t)(ne > 0 ? ne : 0));
    for (int i = 0; i < ne; i++) {
        msgpack_pack_map(pk, 2);
        pstr(pk, "seq");
        msgpack_pack_uint64(pk, f->evidence[i].seq);
        pstr(pk, "id");
        pstr(pk, f->evidence[i].id);
    }
    pstr(pk, "log_seq");
    msgpack_pack_uint64(pk, log_seq);
}

/* The rule of an anomaly key "anomaly/<detector>/...": "anomaly/<detector>". */
static size_t
anomaly_rule_len(const char *key)
{
    const char *slash = strchr(key + 8, '/');
    return slash ? (size_t)(slash - key) : strlen(key);
}

/* a's firing record is start_flag (the head), body_pairs pairs packed by
   the caller, then finish_flag (the last pair; into the batch). */
static uint64_t
start_flag(alerter_t *self, msgpack_packer *pk, const anomaly_t *a, size_t body_pairs, int64_t now)
{
    return record_head(self, pk, 9 + body_pairs, a->key, a->topic, a->key, anomaly_rule_len(a->key),
                       "firing", SEVERITIES[a->severity], now, a->since);
}

/* The record packed into self->rec goes into the batch as a's newest,
   with a's new state. */
static int
put_anomaly_record(alerter_t *self, anomaly_t *a, uint64_t aseq, outbox_batch_t *out)
{
    if (self->rec.failed || outbox_batch_add(out, aseq, a->topic, strlen(a->topic),
                                             self->rec.sb.data, self->rec.sb.size) != 0)
        return -1;
    self->aseq = aseq;
    a->aseq = aseq;
    return put_anomaly_state(self, a, out);
}

static int
finish_flag(alerter_t *self, msgpack_packer *pk, anomaly_t *a, uint64_t aseq, outbox_batch_t *out)
{
    pstr(pk, "silenced");
    msgpack_pack_false(pk);
    return put_anomaly_record(self, a, aseq, out);
}

static int
emit_anomaly(alerter_t *self, projection_t *proj, const alertcfg_t *cfg, const det_flag_t *f,
             int64_t now, uint64_t log_seq, outbox_batch_t *out)
{
    char key[256], path[512] = "", owner[65] = "", powner[65] = "", topic[700];
    snprintf(key, sizeof key, "anomaly/%s/%s", f->detector, f->key);
    if (anomaly_find(self, key, strlen(key)))
        return 0; /* the same evidence again (or dismissed): never twice */
    if (f->rep[0])
        projection_node_info(proj, f->rep, f->at, path, sizeof path, owner, sizeof owner, powner,
                             sizeof powner);
    if (path[0])
        snprintf(topic, sizeof topic, "alert/anomaly/%s/%s/", f->detector, path);
    else
        snprintf(topic, sizeof topic, "alert/anomaly/%s/", f->detector);
    if (grow((void **)&self->held, &self->capheld, self->nheld + 1, sizeof *self->held) != 0)
        return -1;
    anomaly_t *a = anomaly_add(self, key);
    if (!a)
        return -1;
    if (!(a->topic = strdup(topic)))
        return -1;
    a->since = now;
    a->state = A_FIRING;
    a->severity = (uint8_t)(f->severity >= 0 && f->severity <= 2 ? f->severity : 1);
    self->active++;
    msgpack_packer pk;
    if (alertcfg_silenced(cfg, key, topic, now)) {
        /* held: the body now, while the flag and the org are at hand */
        sink_clear(&self->row);
        msgpack_packer_init(&pk, &self->row, sink_write);
        msgpack_pack_map(&pk, FLAG_BODY_PAIRS);
        pack_flag_body(&pk, f, path, owner, powner, log_seq);
        if (self->row.failed || !(a->held = malloc(self->row.sb.size)))
            return -1;
        memcpy(a->held, self->row.sb.data, self->row.sb.size);
        a->held_len = self->row.sb.size;
        self->held[self->nheld++] = (size_t)(a - self->anomalies);
        return put_anomaly_state(self, a, out);
    }
    uint64_t aseq = start_flag(self, &pk, a, FLAG_BODY_PAIRS, now);
    pack_flag_body(&pk, f, path, owner, powner, log_seq);
    return finish_flag(self, &pk, a, aseq, out);
}

/* Drop a's held body (published, or resolved first). */
static void
unhold(alerter_t *self, anomaly_t *a)
{
    size_t idx = (size_t)(a - self->anomalies);
    for (size_t i = 0; i < self->nheld; i++)
        if (self->held[i] == idx) {
            self->held[i] = self->held[--self->nheld];
            break;
        }
    free(a->held);
    a->held = NULL;
    a->held_len = 0;
}

/* Publish every held flag no silence covers at now (its silence expired
   or was lifted): the record it would have had when raised, `at` now and
   `since` when it was raised. */
static int
release_held(alerter_t *self, const alertcfg_t *cfg, int64_t now, outbox_batch_t *out)
{
    for (size_t i = 0; i < self->nheld;) {
        anomaly_t *a = &self->anomalies[self->held[i]];
        if (alertcfg_silenced(cfg, a->key, a->topic, now)) {
            i++;
            continue;
        }
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        if (msgpack_unpack_next(&u, a->held, a->held_len, &off) != MSGPACK_UNPACK_SUCCESS ||
            u.data.type != MSGPACK_OBJECT_MAP) {
            /* made by pack_flag_body or checked by load_one: out of memory */
            msgpack_unpacked_destroy(&u);
            return -1;
        }
        msgpack_packer pk;
        const msgpack_object_map *m = &u.data.via.map;
        uint64_t aseq = start_flag(self, &pk, a, m->size, now);
        for (uint32_t k = 0; k < m->size; k++) {
            msgpack_pack_object(&pk, m->ptr[k].key);
            msgpack_pack_object(&pk, m->ptr[k].val);
        }
        msgpack_unpacked_destroy(&u);
        unhold(self, a); /* before its state is written: published */
        if (finish_flag(self, &pk, a, aseq, out) != 0)
            return -1;
    }
    return 0;
}

static int
review(alerter_t *self, const review_t *rv, int64_t now, uint64_t log_seq, outbox_batch_t *out)
{
    anomaly_t *a = anomaly_find(self, rv->alert, strlen(rv->alert));
    if (!a || a->state != A_FIRING)
        return 0;
    a->state = rv->verdict == VERDICT_DISMISSED ? A_DISMISSED : A_CONFIRMED;
    self->active--;
    if (a->held) {
        /* never published: like a lag alert silenced from its start, it
           ends without a record (the review is in the log) */
        unhold(self, a);
        return put_anomaly_state(self, a, out);
    }
    char summary[1400];
    snprintf(summary, sizeof summary, "%s %s by %s: %s", a->key,
             a->state == A_DISMISSED ? "dismissed" : "confirmed", rv->author, rv->reason);
    msgpack_packer pk;
    uint64_t aseq = record_head(self, &pk, 12, a->key, a->topic, a->key, anomaly_rule_len(a->key),
                                "resolved", "info", now, a->since);
    pstr(&pk, "summary");
    pstr(&pk, summary);
    pstr(&pk, "verdict");
    pstr(&pk, a->state == A_DISMISSED ? "dismissed" : "confirmed");
    pstr(&pk, "evidence");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1);
    pstr(&pk, "seq");
    msgpack_pack_uint64(&pk, rv->seq);
    pstr(&pk, "log_seq");
    msgpack_pack_uint64(&pk, log_seq);
    return put_anomaly_record(self, a, aseq, out);
}

/* ---- loading */

typedef struct {
    alerter_t *self;
    projection_t *proj;
    int rc;
} load_t;

static bool
fstr(const msgpack_object *m, const char *k, char *out, size_t cap)
{
    const msgpack_object *v = wire_map_get(m, k);
    out[0] = 0;
    if (!v || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
        return false;
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = 0;
    return true;
}

static int64_t
fint(const msgpack_object *m, const char *k)
{
    const msgpack_object *v = wire_map_get(m, k);
    if (!v)
        return 0;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)v->via.u64;
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return v->via.i64;
    return 0;
}

bool
alerter_held_body_ok(const msgpack_object *held)
{
    static const char *const head[] = {"aseq",     "key", "topic", "rule",    "state",
                                       "severity", "at",  "since", "silenced"};
    if (held->type != MSGPACK_OBJECT_MAP)
        return false;
    bool summary = false;
    for (uint32_t i = 0; i < held->via.map.size; i++) {
        const msgpack_object *k = &held->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return false;
        for (size_t h = 0; h < sizeof head / sizeof head[0]; h++)
            if (k->via.str.size == strlen(head[h]) &&
                memcmp(k->via.str.ptr, head[h], k->via.str.size) == 0)
                return false;
        if (k->via.str.size == 7 && memcmp(k->via.str.ptr, "summary", 7) == 0)
            summary = held->via.map.ptr[i].val.type == MSGPACK_OBJECT_STR;
    }
    return summary;
}

static int
load_one(void *arg, const char *key, size_t key_len, const void *val, size_t val_len)
{
    load_t *l = arg;
    alerter_t *self = l->self;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    /* bytes from disk: scanned before msgpack-c reads them, which would
       otherwise allocate for whatever count a damaged header claims */
    if (!mp_scan(val, val_len, 16) ||
        msgpack_unpack_next(&u, val, val_len, &off) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy(&u);
        log_warn("alert state of \"%.*s\" does not decode: ignored", (int)key_len, key);
        return 0;
    }
    const msgpack_object *m = &u.data;
    char rule[96], state[16];
    fstr(m, "rule", rule, sizeof rule);
    fstr(m, "state", state, sizeof state);
    if (strcmp(rule, "anomaly") == 0) {
        char k[256];
        snprintf(k, sizeof k, "%.*s", (int)key_len, key);
        anomaly_t *a = anomaly_add(self, k);
        if (!a) {
            l->rc = -1;
            msgpack_unpacked_destroy(&u);
            return 1;
        }
        char topic[704];
        fstr(m, "topic", topic, sizeof topic);
        if (!(a->topic = strdup(topic))) {
            l->rc = -1;
            msgpack_unpacked_destroy(&u);
            return 1;
        }
        a->since = fint(m, "since");
        a->aseq = (uint64_t)fint(m, "aseq");
        a->state = !strcmp(state, "dismissed")   ? A_DISMISSED
                   : !strcmp(state, "confirmed") ? A_CONFIRMED
                                                 : A_FIRING;
        if (a->state == A_FIRING)
            self->active++;
        char severity[16];
        const msgpack_object *held = wire_map_get(m, "held");
        if (held && !alerter_held_body_ok(held)) {
            log_warn("alert state of \"%.*s\": its held record is damaged; the flag stays "
                     "listed but will not be published",
                     (int)key_len, key);
            held = NULL;
        }
        if (a->state == A_FIRING && held && fstr(m, "severity", severity, sizeof severity)) {
            for (uint8_t i = 0; i < 3; i++)
                if (!strcmp(severity, SEVERITIES[i]))
                    a->severity = i;
            /* packed again from the object: its bytes are those written */
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            if (msgpack_pack_object(&pk, *held) != 0 ||
                grow((void **)&self->held, &self->capheld, self->nheld + 1, sizeof *self->held) !=
                    0) {
                msgpack_sbuffer_destroy(&sb);
                l->rc = -1;
                msgpack_unpacked_destroy(&u);
                return 1;
            }
            a->held_len = sb.size;
            a->held = msgpack_sbuffer_release(&sb);
            self->held[self->nheld++] = (size_t)(a - self->anomalies);
        }
    } else {
        char scope[65], metric[65], period[32], pl[65];
        fstr(m, "scope", scope, sizeof scope);
        fstr(m, "metric", metric, sizeof metric);
        fstr(m, "period", period, sizeof period);
        bool has_pl = fstr(m, "product_line", pl, sizeof pl);
        int64_t idx = projection_target_find(l->proj, scope, metric, period, has_pl ? pl : NULL);
        int ri = -1;
        for (int i = 0; RULES[i]; i++)
            if (!strcmp(RULES[i]->name, rule))
                ri = i;
        if (idx >= 0 && ri >= 0 && (uint32_t)idx < self->nkeys) {
            kstate_t *k = &self->keys[idx];
            uint8_t bit = (uint8_t)(1u << ri);
            if (!strcmp(state, "firing")) {
                k->active |= bit;
                self->active++;
                const msgpack_object *s = wire_map_get(m, "silenced");
                if (s && s->type == MSGPACK_OBJECT_BOOLEAN && s->via.boolean)
                    k->silenced |= bit;
            } else if (!strcmp(state, "done"))
                k->done |= bit;
            k->since[ri] = fint(m, "since");
            k->last_sent[ri] = fint(m, "last_sent");
            k->spent[ri] = (uint64_t)fint(m, "spent");
            k->aseq[ri] = (uint64_t)fint(m, "aseq");
        }
    }
    msgpack_unpacked_destroy(&u);
    return 0;
}

int
alerter_load(alerter_t *self, store_t *store, projection_t *proj, char *err, size_t errlen)
{
    free(self->keys);
    self->keys = NULL;
    self->nkeys = 0;
    self->nheap = 0;
    forget_anomalies(self);
    u64map_free(&self->anomaly_index);
    u64map_init(&self->anomaly_index);
    self->nflags = 0;
    self->active = 0;
    self->rates_day = 0;
    self->rates_days = 0;
    self->sweeping = self->heap_left = false;
    self->sweep_next = 0;
    if (cover_keys(self, proj) != 0) {
        snprintf(err, errlen, "out of memory loading alert state");
        return -1;
    }
    store_reader_t *r = store_read_begin(store, err, errlen);
    if (!r)
        return -1;
    load_t l = {self, proj, 0};
    int rc = outbox_reader_last_aseq(r, &self->aseq, err, errlen);
    if (rc == STORE_OK)
        rc = outbox_scan_states(r, load_one, &l, err, errlen);
    store_read_end(&r);
    if (rc != STORE_OK)
        return -1;
    if (l.rc != 0) {
        snprintf(err, errlen, "out of memory loading alert state");
        return -1;
    }
    /* No key needs scheduling here: with rates_day reset, the first tick
       is a new day's, which evaluates (and schedules) every key. */
    return 0;
}

/* ---- the entry points */

void
alerter_flag(void *arg, const det_flag_t *flag)
{
    alerter_t *self = arg;
    if (grow((void **)&self->flags, &self->capflags, self->nflags + 1, sizeof *flag) != 0) {
        log_error("out of memory queueing an anomaly flag of %s", flag->detector);
        return;
    }
    self->flags[self->nflags++] = *flag;
}

static int
raise_flags(alerter_t *self, projection_t *proj, const alertcfg_t *cfg, int64_t now,
            uint64_t log_seq, outbox_batch_t *out)
{
    for (size_t i = 0; i < self->nflags; i++)
        if (emit_anomaly(self, proj, cfg, &self->flags[i], now, log_seq, out) != 0)
            return -1;
    self->nflags = 0;
    return 0;
}

static int
eval_all(alerter_t *self, projection_t *proj, const alertcfg_t *cfg, const emit_ctx_t *c,
         outbox_batch_t *out)
{
    for (uint32_t i = 0; i < self->nkeys; i++)
        if (eval_key(self, proj, cfg, i, c, out) != 0)
            return -1;
    return 0;
}

int
alerter_group(alerter_t *self, projection_t *proj, foldset_t *folds, int64_t now, uint64_t log_seq,
              alerter_id_fn *id_of, void *id_arg, bool bounded, outbox_batch_t *out, char *err,
              size_t errlen)
{
    alertcfg_t *cfg = foldset_alertcfg(folds);
    const uint32_t *changed;
    size_t n = projection_take_changes(proj, &changed, NULL, 0);
    if (cover_keys(self, proj) != 0)
        goto oom;
    emit_ctx_t c = {"firing", now, log_seq, id_of, id_arg, NULL, false, 0};
    size_t nrev;
    const review_t *rv = alertcfg_take_reviews(cfg, &nrev);
    for (size_t i = 0; i < nrev; i++)
        if (review(self, &rv[i], now, log_seq, out) != 0)
            goto oom;
    if (raise_flags(self, proj, cfg, now, log_seq, out) != 0)
        goto oom;
    if (now <= 0)
        return 0; /* no alert clock yet (--manual-clock before the first tick) */
    if (release_held(self, cfg, now, out) != 0)
        goto oom;
    bool all = alertcfg_take_changed(cfg) || alertcfg_silence_gen(cfg) != self->silence_gen;
    self->silence_gen = alertcfg_silence_gen(cfg);
    for (size_t i = 0; i < n; i++)
        if (changed[i] < self->nkeys)
            self->keys[changed[i]].last_seq = projection_changed_seq(proj, changed[i]);
    if (all && !bounded) {
        /* every key now, with the new settings (and the day's rates: a
           day's sweep still running has nothing left to do) */
        self->sweeping = false;
        if (eval_all(self, proj, cfg, &c, out) != 0)
            goto oom;
        return 0;
    }
    if (all) {
        /* The ticks evaluate every key, a bounded step at a time. A sweep
           already running starts over: the keys it passed were evaluated
           with the settings before this change. */
        self->sweeping = true;
        self->sweep_next = 0;
    }
    c.progress = self->progress;
    c.lazy = true;
    c.mono = (int64_t)(log_clock_ms());
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = changed[i];
        if (idx >= self->nkeys)
            continue;
        if (eval_key(self, proj, cfg, idx, &c, out) != 0)
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory evaluating alert rules");
    return -1;
}

static int
compute_rates(alerter_t *self, projection_t *proj, int64_t now)
{
    uint32_t n = projection_target_count(proj);
    if (n > self->rates_cap) {
        int64_t *a = realloc(self->sum_window, (size_t)n * sizeof *a);
        if (a)
            self->sum_window = a;
        int64_t *b = realloc(self->sum_last, (size_t)n * sizeof *b);
        if (b)
            self->sum_last = b;
        if (!a || !b)
            return -1;
        self->rates_cap = n;
    }
    int d = projection_window_sums(proj, now, self->window_days, self->sum_window, self->sum_last,
                                   self->rates_cap);
    self->rates_days = d > 0 ? d : 0;
    return 0;
}

/* The tick's time-driven work: the rest of the day's sweep, then the
   keys due by now. Bounded, it stops between keys once the step's share
   is spent (see alerter.h); the sweep's place and the heap keep what is
   left for the next tick. While the sweep runs, the heap waits: every key
   it holds is evaluated by the sweep anyway, before the sweep ends. */
static int
time_work(alerter_t *self, projection_t *proj, const alertcfg_t *cfg, const emit_ctx_t *c,
          bool bounded, outbox_batch_t *out)
{
    size_t recs = out->nrecs;
    uint32_t keys = 0;
#define SPENT (bounded && (keys >= ALERTER_STEP_KEYS || out->nrecs - recs >= ALERTER_STEP_RECORDS))
    while (self->sweeping) {
        if (self->sweep_next >= self->nkeys) {
            self->sweeping = false;
            break;
        }
        if (SPENT)
            return 0;
        keys++;
        if (eval_key(self, proj, cfg, self->sweep_next++, c, out) != 0)
            return -1;
    }
    self->heap_left = false;
    while (self->nheap && self->heap[0].due <= c->now) {
        if (SPENT) {
            self->heap_left = true;
            return 0;
        }
        timer_t_ t = heap_pop(self);
        if (t.idx >= self->nkeys || self->keys[t.idx].due != t.due)
            continue; /* stale */
        keys++;
        self->keys[t.idx].due = INT64_MAX;
        if (eval_key(self, proj, cfg, t.idx, c, out) != 0)
            return -1;
    }
#undef SPENT
    return 0;
}

bool
alerter_behind(const alerter_t *self)
{
    return self->sweeping || self->heap_left;
}

int
alerter_tick(alerter_t *self, projection_t *proj, foldset_t *folds, int64_t now, uint64_t log_seq,
             bool bounded, outbox_batch_t *out, char *err, size_t errlen)
{
    alertcfg_t *cfg = foldset_alertcfg(folds);
    if (cover_keys(self, proj) != 0)
        goto oom;
    emit_ctx_t c = {"firing", now, log_seq, NULL, NULL, NULL, false, 0};
    if (foldset_tick(folds, now, alerter_flag, self) != 0 ||
        raise_flags(self, proj, cfg, now, log_seq, out) != 0)
        goto oom;
    if (now <= 0)
        return 0;
    if (release_held(self, cfg, now, out) != 0)
        goto oom;
    period_t day;
    if (calendar_period_containing(projection_calendar(proj), PERIOD_DAY, now, &day) == 0 &&
        day.seq != self->rates_day) {
        /* a new day: run rates move for every key; the sweep evaluates
           each once (a sweep of the day before that had not finished
           starts over: its keys need the new rates too) */
        if (compute_rates(self, proj, now) != 0)
            goto oom;
        self->rates_day = day.seq;
        self->silence_gen = alertcfg_silence_gen(cfg);
        self->sweeping = true;
        self->sweep_next = 0;
    }
    if (time_work(self, proj, cfg, &c, bounded, out) != 0)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory evaluating alert rules");
    return -1;
}

ev_errcode_t
alerter_check(alerter_t *self, const event_t *ev, ev_error_t *err)
{
    if (ev->type != EV_ANOMALY_REVIEWED)
        return EVE_OK;
    ev_str_t a = ev->v[F_ALERT].s;
    if (!anomaly_find(self, a.ptr, a.len)) {
        err->code = EVE_INVALID_VALUE;
        snprintf(err->message, sizeof err->message,
                 "alert: \"%.*s\" is not the key of an anomaly alert that was raised",
                 (int)(a.len > 200 ? 200 : a.len), a.ptr);
        return err->code;
    }
    return EVE_OK;
}

int
alerter_flush_progress(alerter_t *self, projection_t *proj, int64_t now, uint64_t log_seq,
                       outbox_batch_t *progress)
{
    emit_ctx_t c = {"firing", now, log_seq, NULL, NULL, progress, false, (int64_t)log_clock_ms()};
    size_t kept = 0;
    for (size_t i = 0; i < self->npending; i++) {
        uint32_t idx = self->pending[i];
        kstate_t *k = idx < self->nkeys ? &self->keys[idx] : NULL;
        if (!k || !k->progress_pending)
            continue;
        if (c.mono - k->progress_at < PROGRESS_EVERY_MS) {
            self->pending[kept++] = idx; /* its second is not up yet */
            continue;
        }
        tprog_t p;
        k->progress_pending = false;
        k->progress_at = c.mono;
        if (!progress || projection_target_eval(proj, idx, now, self->window_days, &p) != 0)
            continue;
        projection_target_names(proj, &p, now);
        if (pack_progress(self, &p, &c) != 0)
            return -1;
    }
    self->npending = kept;
    return 0;
}

size_t
alerter_progress_pending(const alerter_t *self)
{
    return self->npending;
}

void
alerter_progress_to(alerter_t *self, outbox_batch_t *progress)
{
    self->progress = progress;
}

uint64_t
alerter_last_aseq(const alerter_t *self)
{
    return self->aseq;
}

size_t
alerter_active(const alerter_t *self)
{
    return self->active;
}

size_t
alerter_scheduled(const alerter_t *self)
{
    return self->nheap;
}

size_t
alerter_sweep_left(const alerter_t *self)
{
    return self->sweeping && self->sweep_next < self->nkeys ? self->nkeys - self->sweep_next : 0;
}

size_t
alerter_held(const alerter_t *self)
{
    return self->nheld;
}
