/*  target_eval: which target keys a fold changed, and one key's progress
    as the alert rules see it.

    The alert rules (projections/rules.h) run after every group on the keys
    that group changed, and on a timer as pace moves on. Both need cheap
    answers: the changed keys come from a list the fold appends to as it
    updates a key's running actuals (no scan), and a key's progress is
    computed from those running actuals, its tiers and the working-day
    calendar, as `progress` computes it (report.c), without packing a row.

    Run rates (what a key booked a working day over the last N working days
    and over the last one) are computed for every key at once, once a day
    (projection_window_sums): one pass over the day cells of the credited
    nodes in the window, crediting each key on the node's chain, like the
    fold. A sale booked late into an earlier day of the window counts from
    the next pass on. */

#include "projections/projection_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
projection_track_changes(projection_t *self, bool on)
{
    self->track = on;
}

void
proj_touch_slow(projection_t *self, uint32_t idx)
{
    if (idx < self->capchanged && self->changed[idx]) { /* listed already */
        self->changed_seq[idx] = self->seq;
        return;
    }
    if (idx >= self->capchanged) {
        uint32_t cap = self->capchanged ? self->capchanged : 1024;
        while (cap <= idx)
            cap *= 2;
        uint8_t *c = realloc(self->changed, cap);
        uint64_t *s = realloc(self->changed_seq, cap * sizeof *s);
        if (c)
            self->changed = c;
        if (s)
            self->changed_seq = s;
        if (!c || !s)
            return; /* out of memory: the key is evaluated at its next tick */
        memset(c + self->capchanged, 0, cap - self->capchanged);
        self->capchanged = cap;
    }
    self->changed_seq[idx] = self->seq;
    if (self->changed[idx])
        return;
    if (self->nchanges == self->capchanges) {
        uint32_t cap = self->capchanges ? self->capchanges * 2 : 1024;
        uint32_t *l = realloc(self->changes, cap * sizeof *l);
        if (!l)
            return;
        self->changes = l;
        self->capchanges = cap;
    }
    self->changed[idx] = 1;
    self->changes[self->nchanges++] = idx;
}

size_t
projection_take_changes(projection_t *self, const uint32_t **idx, uint64_t *seqs, size_t cap)
{
    size_t n = self->nchanges;
    for (size_t i = 0; i < n; i++) {
        uint32_t t = self->changes[i];
        self->changed[t] = 0;
        if (seqs && i < cap)
            seqs[i] = self->changed_seq[t];
    }
    *idx = self->changes;
    self->nchanges = 0;
    return n;
}

uint64_t
projection_changed_seq(projection_t *self, uint32_t idx)
{
    return idx < self->capchanged ? self->changed_seq[idx] : 0;
}

uint32_t
projection_target_count(projection_t *self)
{
    return self->ntargets;
}

static void
copy_sym(symtab_t *t, uint32_t id, char *out, size_t outlen)
{
    const char *s = id ? symtab_str(t, id) : NULL;
    size_t n = s ? strnlen(s, outlen - 1) : 0;
    memcpy(out, s ? s : "", n);
    out[n] = 0;
}

/* A target's period, parsed once and kept by target index. */
static int
period_of(projection_t *self, const target_t *t, period_t *p)
{
    uint32_t idx = (uint32_t)(t - self->targets);
    if (idx >= self->captperiods) {
        uint32_t cap = self->captperiods ? self->captperiods : 1024;
        while (cap <= idx)
            cap *= 2;
        period_t *ps = realloc(self->tperiods, cap * sizeof *ps);
        if (ps)
            self->tperiods = ps;
        uint8_t *ok = realloc(self->tperiod_ok, cap);
        if (ok) {
            memset(ok + self->captperiods, 0, cap - self->captperiods);
            self->tperiod_ok = ok;
        }
        if (ps && ok)
            self->captperiods = cap;
    }
    if (idx < self->captperiods && self->tperiod_ok[idx]) {
        *p = self->tperiods[idx];
        return 0;
    }
    char err[128];
    int rc = calendar_period_parse(self->cal, symtab_str(self->periods_sym, t->period_sym), p, err,
                                   sizeof err);
    if (rc == 0 && idx < self->captperiods) {
        self->tperiods[idx] = *p;
        self->tperiod_ok[idx] = 1;
    }
    return rc;
}

bool
projection_node_info(projection_t *self, const char *node, int64_t now, char *path, size_t pathlen,
                     char *owner, size_t ownerlen, char *parent_owner, size_t parent_ownerlen)
{
    uint32_t id = symtab_find(self->nodes_sym, node, strlen(node));
    if (owner && ownerlen)
        owner[0] = 0;
    if (parent_owner && parent_ownerlen)
        parent_owner[0] = 0;
    if (!id || id >= self->nnodes) {
        if (path)
            snprintf(path, pathlen, "%s", node);
        return false;
    }
    int32_t day = proj_day_of(self, now);
    if (path)
        proj_path(self, id, day, path, pathlen);
    if (owner)
        copy_sym(self->text_sym, self->nodes[id].owner, owner, ownerlen);
    uint32_t parent = proj_parent_at(self, id, day);
    if (parent_owner && parent && parent < self->nnodes)
        copy_sym(self->text_sym, self->nodes[parent].owner, parent_owner, parent_ownerlen);
    return true;
}

static int
grow_pclocks(projection_t *self, uint32_t sym)
{
    uint32_t cap = self->cappclocks ? self->cappclocks : 64;
    while (cap <= sym)
        cap *= 2;
    pclock_t *pc = realloc(self->pclocks, cap * sizeof *pc);
    if (!pc)
        return -1;
    memset(pc + self->cappclocks, 0, (cap - self->cappclocks) * sizeof *pc);
    self->pclocks = pc;
    self->cappclocks = cap;
    return 0;
}

void
projection_target_names(projection_t *self, tprog_t *out, int64_t now)
{
    if (out->named || out->idx >= self->ntargets)
        return;
    const target_t *t = &self->targets[out->idx];
    node_t *n = &self->nodes[t->scope];
    /* the chain as of the reference day: now, clamped into the period */
    int64_t ref = now < t->start_ms ? t->start_ms : now >= t->end_ms ? t->end_ms - 1 : now;
    int32_t day = proj_day_of(self, ref);
    proj_path(self, t->scope, day, out->path, sizeof out->path);
    copy_sym(self->text_sym, n->owner, out->owner, sizeof out->owner);
    uint32_t parent = proj_parent_at(self, t->scope, day);
    if (parent && parent < self->nnodes)
        copy_sym(self->text_sym, self->nodes[parent].owner, out->parent_owner,
                 sizeof out->parent_owner);
    out->named = true;
}

int
projection_target_eval(projection_t *self, uint32_t idx, int64_t now, int window_days, tprog_t *out)
{
    if (idx >= self->ntargets || !(self->targets[idx].mask & 2))
        return -1;
    const target_t *t = &self->targets[idx];
    const metric_t *m = &self->metrics[t->metric];
    period_t p;
    if (period_of(self, t, &p) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->idx = idx;
    node_t *n = &self->nodes[t->scope];
    copy_sym(self->nodes_sym, t->scope, out->scope, sizeof out->scope);
    copy_sym(self->metrics_sym, t->metric, out->metric, sizeof out->metric);
    snprintf(out->period, sizeof out->period, "%s", p.name);
    out->has_pl = t->pl != 0;
    if (t->pl)
        copy_sym(self->pl_sym, t->pl, out->product_line, sizeof out->product_line);
    out->kind = n->kind;
    out->summable = m->kind == M_SUM;
    out->money =
        m->kind == M_SUM && (m->num == B_REVENUE || m->num == B_MARGIN || m->num == B_COLL);
    memcpy(out->currency, t->currency, 3);
    out->currency[3] = 0;
    out->start_ms = t->start_ms;
    out->end_ms = t->end_ms;
    out->started = now >= t->start_ms;
    out->ended = now >= t->end_ms;
    out->mask = t->mask;
    out->floor = (t->mask & 1) ? t->tiers[0] : 0;
    out->target = t->tiers[1];
    out->stretch = (t->mask & 4) ? t->tiers[2] : 0;
    const tref_t *r = proj_tref_of(self, t);
    bool defined;
    out->actual = proj_metric_value(m, r->num, r->den, &defined);

    /* Every key of one period shares its clock at one now: an evaluation of
       the keys a group changed computes it once per period, not per key. */
    pace_clock_t clock = {0};
    pclock_t *pc = t->period_sym < self->cappclocks ? &self->pclocks[t->period_sym] : NULL;
    if (!pc && grow_pclocks(self, t->period_sym) == 0)
        pc = &self->pclocks[t->period_sym];
    if (pc && pc->valid && pc->now == now && pc->gen == self->ndays) {
        clock.days_elapsed = pc->days_elapsed;
        clock.days_total = pc->days_total;
        clock.working_elapsed = pc->working_elapsed;
        clock.working_total = pc->working_total;
    } else {
        clock.working_total = (double)calendar_working_days(self->cal, p.start_ms, p.end_ms);
        clock.working_elapsed = calendar_working_elapsed(self->cal, &p, now);
        clock.days_elapsed = calendar_days_elapsed(self->cal, &p, now);
        clock.days_total = (double)calendar_days(self->cal, p.start_ms, p.end_ms);
        if (pc)
            *pc = (pclock_t){true,
                             self->ndays,
                             now,
                             clock.days_elapsed,
                             clock.days_total,
                             clock.working_elapsed,
                             clock.working_total};
    }
    double total = clock.working_total, done = clock.working_elapsed;
    pace_curve_t used;
    double fraction = pace_fraction(PACE_CURVE_WORKING, &clock, &used);
    out->elapsed = fraction;
    out->working_total = total;
    out->working_left = total - done > 0 ? total - done : 0;
    pace_input_t in = {.actual = out->actual,
                       .floor = out->floor,
                       .target = out->target,
                       .stretch = out->stretch,
                       .fraction = fraction,
                       .remaining_working_days = out->working_left};
    in.expected = pace_expected(in.target, fraction);
    pace_config_t cfg;
    pace_config_defaults(&cfg);
    pace_progress_t pr;
    char err[128];
    if (pace_progress(&in, &cfg, &pr, err, sizeof err) != 0)
        return -1;
    out->expected = in.expected;
    out->has_pace = pr.has_pace && defined;
    out->pace_ratio = pr.pace_ratio;
    out->has_attainment = pr.has_attainment && defined;
    out->attainment = pr.attainment;
    out->has_required_rate = pr.has_required_rate;
    out->required_rate = pr.required_rate;
    out->has_forecast = pr.has_forecast && defined;
    out->forecast = pr.forecast;
    out->status = pr.status;
    out->window_days = window_days;
    return 0;
}

int64_t
projection_time_at_fraction(projection_t *self, uint32_t idx, double fraction)
{
    if (idx >= self->ntargets || !(fraction <= 1.0))
        return INT64_MAX;
    const target_t *t = &self->targets[idx];
    period_t p;
    if (period_of(self, t, &p) != 0)
        return INT64_MAX;
    double total = (double)calendar_working_days(self->cal, p.start_ms, p.end_ms);
    if (total <= 0)
        return t->end_ms;
    if (fraction <= 0)
        return t->start_ms;
    /* the working fraction never decreases with time: bisect to the
       second, so a crossing is alerted at the first tick after it */
    int64_t lo = t->start_ms, hi = t->end_ms;
    while (hi - lo > 1000) {
        int64_t mid = lo + (hi - lo) / 2;
        if (calendar_working_elapsed(self->cal, &p, mid) / total >= fraction)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

int64_t
projection_target_find(projection_t *self, const char *scope, const char *metric,
                       const char *period, const char *product_line)
{
    uint32_t s = symtab_find(self->nodes_sym, scope, strlen(scope));
    uint32_t m = symtab_find(self->metrics_sym, metric, strlen(metric));
    uint32_t p = symtab_find(self->periods_sym, period, strlen(period));
    uint32_t pl = product_line ? symtab_find(self->pl_sym, product_line, strlen(product_line)) : 0;
    if (!s || !m || !p || (product_line && !pl))
        return -1;
    target_t *t = proj_target(self, s, m, pl, p);
    return t ? (int64_t)(t - self->targets) : -1;
}

int
projection_window_sums(projection_t *self, int64_t now, int window_days, int64_t *sum_window,
                       int64_t *sum_last, uint32_t n)
{
    if (n < self->ntargets)
        return -1;
    if (n) { /* the arrays are NULL while there is no target */
        memset(sum_window, 0, (size_t)n * sizeof *sum_window);
        memset(sum_last, 0, (size_t)n * sizeof *sum_last);
    }
    /* the last window_days working days before today (today is not over) */
    int32_t days[64];
    int nd = 0;
    period_t d;
    if (calendar_period_containing(self->cal, PERIOD_DAY, now, &d) != 0)
        return -1;
    for (int back = 0; back < 366 && nd < window_days && nd < 64; back++) {
        if (calendar_period_containing(self->cal, PERIOD_DAY, d.start_ms - 1, &d) != 0)
            return -1;
        if (calendar_working_days(self->cal, d.start_ms, d.end_ms) == 1)
            days[nd++] = proj_day_of(self, d.start_ms);
    }
    uint32_t chain[CHAIN_MAX];
    for (uint32_t i = 0; i < self->ncredited; i++) {
        uint32_t l = self->credited[i];
        node_t *ln = &self->nodes[l];
        for (int k = 0; k < nd; k++) {
            int32_t day = days[k];
            if (day < ln->first_day || day > ln->last_day)
                continue;
            int len = proj_chain(self, l, day, chain);
            for (int c = 0; c < len; c++) {
                node_t *a = &self->nodes[chain[c]];
                for (uint32_t j = 0; j < a->ntargets; j++) {
                    tref_t *r = &a->targets[j];
                    if (day < r->d0 || day >= r->d1 || r->den_base)
                        continue;
                    int64_t v = proj_cell(self, l, r->num_base, r->pl, day);
                    sum_window[r->idx] += v;
                    if (k == 0)
                        sum_last[r->idx] += v;
                }
            }
        }
    }
    return nd;
}
