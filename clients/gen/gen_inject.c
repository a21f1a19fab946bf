/*  gen_inject: anomalies written into the base history, each with its label.

    A kind's rate is per opportunity, and each kind has its own unit:

      amount_outlier, duplicate_order, padding, no_sales_trail   per deal
      overdue_collection                  per deal with a due date
      customer_burst                      per rep and working day
      period_end_stuffing                 per rep and month
      benford                             per rep

    The number injected is the rate times the opportunities, rounded, and at
    least one when the rate is above zero and there is an opportunity. Only
    opportunities where a detector has something to compare with are counted:
    deals after the first three weeks, months whose next month is in the
    history, reps who were there from the start, and so on (see each kind).

    Each label lists its evidence in occurred_at order; `at` is the first
    one's occurred_at. What each kind writes, and its evidence:

      benford        a rep with at least 200 non-standing deals in the
                     history (not the new hire) types 75-100% of them as
                     round figures: three significant digits, the first
                     drawn as people invent them (few 1s, many 5-9), at the
                     magnitude nearest the real amount; quantity kept, and no
                     figure typed twice for a customer and line within a
                     week. Evidence: every typed sale_closed. rep: the rep.
      period_end_stuffing
                     4-7 extra deals for customers of the rep's book in the
                     last 3 working days of a month, worth 40-80% of the
                     rep's monthly plan together, each after a quote; then
                     75-100% of them (at least 3) cancelled (65%) or refunded
                     60-100% (35%) in the first 8 working days of the next
                     month; the rest are paid. Evidence: the stuffed
                     sale_closed events and the reversals, in time order.
                     rep: the rep.
      padding        a deal of rep A (with a due date, 25+ days before the end)
                     is cancelled or fully refunded 1-10 days after it was
                     booked, and 30 minutes to 3 days later rep B (a
                     teammate) books it again for the same customer, line and
                     quantity at 97-103% of the amount, after a call. In 30%
                     of cases the customer bounces on: B's order is reversed
                     1-3 working days later and A books it again (and in half
                     of those B once more). Only the last booking is paid.
                     Evidence: each sale_closed and reversal of the chain.
                     rep: the rep of the last booking; customer.
      duplicate_order
                     a deal booked again under a new order id by the same rep
                     for the same customer, line, quantity and amount, 2
                     minutes to 48 hours later (median 45 minutes, in office
                     hours); 45% of the copies are cancelled 1-8 days later,
                     the rest are paid.
                     Evidence: the original sale_closed, then the copy. rep,
                     customer.
      amount_outlier a deal's unit price (its amount for services, which have
                     no quantity) set 6-9 times the line's log-price spread
                     away from the line's median (at most 60 times it), above
                     it in 80% of cases, below in 20%; quantity kept.
                     Evidence: the sale_closed. rep, customer.
      no_sales_trail a deal of 6-15 times the line's typical amount (by
                     quantity, at a normal unit price) for a dormant customer
                     of the rep: nobody logged an activity for that customer
                     in the 90 days before, nor does anyone after. Evidence:
                     the sale_closed. rep, customer.
      overdue_collection
                     a deal whose due_at plus 30 days is before the end of
                     the history gets no payment at all (legitimate payments
                     are at most 7 days late). Evidence: the sale_closed.
                     rep, customer.
      customer_burst 7-14 customer_created in one session of a working day
                     (1-12 minutes apart), more than the 4 a day a rep
                     creates legitimately (5 for a new hire in their first
                     three weeks) and against a usual 0.1-0.4 a day; the
                     customers never buy. Only after the rep's first 20
                     days. Evidence: the burst's customer_created events. rep.

    Deals an injection made or changed are not picked by another, and a
    benford rep's deals are left to that kind alone. */

#include "clients/gen/gen.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const gen_kind_names[GEN_KIND_COUNT] = {
    "amount_outlier", "duplicate_order", "customer_burst", "period_end_stuffing",
    "padding",        "no_sales_trail",  "benford",        "overdue_collection",
};

const char *const gen_kind_units[GEN_KIND_COUNT] = {
    "deal", "deal", "rep working day", "rep month", "deal", "deal", "rep", "deal with a due date",
};

const double gen_kind_default_rates[GEN_KIND_COUNT] = {
    0.003,  /* amount_outlier */
    0.003,  /* duplicate_order */
    0.003,  /* customer_burst */
    0.05,   /* period_end_stuffing */
    0.0015, /* padding */
    0.002,  /* no_sales_trail */
    0.08,   /* benford */
    0.003,  /* overdue_collection */
};

#define EARLY_DAYS 21 /* a detector's warm-up: no deal injected before */

gen_label_t *
gen_label_new(gen_world_t *w, int kind, int32_t rep, int32_t customer)
{
    size_t i = GEN_PUSH(w, labels); /* may move the array: index it after */
    gen_label_t *l = &w->labels[i];
    l->kind = (uint8_t)kind;
    l->rep = rep;
    l->customer = customer;
    return l;
}

void
gen_label_add(gen_world_t *w, gen_label_t *label, int what, int32_t index)
{
    (void)w;
    size_t i = gen_grow((void **)&label->refs, &label->nrefs, &label->caprefs, sizeof *label->refs);
    label->refs[i] = (gen_ref_t){(uint8_t)what, index};
}

/* How many to inject of `opportunities`. */
static size_t
incidents(const gen_world_t *w, int kind, size_t opportunities)
{
    double rate = w->cfg.rate[kind];
    if (rate <= 0 || opportunities == 0)
        return 0;
    size_t n = (size_t)llround(rate * (double)opportunities);
    if (n == 0)
        n = 1;
    return n > opportunities ? opportunities : n;
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "pacer-gen: out of memory\n");
        exit(2);
    }
    return p;
}

/* A base deal an injection may take: made by the base history, untouched, in
   the history after the warm-up, by a rep not fabricating amounts. */
static bool
deal_open(const gen_world_t *w, int32_t d)
{
    const gen_deal_t *deal = &w->deals[d];
    return !(deal->flags &
             (GEN_DEAL_INJECTED | GEN_DEAL_TOUCHED | GEN_DEAL_SIBLING | GEN_DEAL_INBOUND)) &&
           deal->at >= w->t0 + EARLY_DAYS * GEN_DAY_MS && deal->at < w->t_end &&
           !w->nodes[deal->rep].benford;
}

static double
yuan(int64_t fen)
{
    return (double)fen / 100.0;
}

static int64_t
business_day_after(gen_rng_t *rng, int64_t day, int lo, int hi)
{
    int64_t d = day + gen_rng_range(rng, lo, hi);
    while (!gen_is_working(d))
        d++;
    return d;
}

/* t, or when t is at night or on a day off, the next working morning at the
   same minutes past nine. */
static int64_t
office_hours(int64_t t)
{
    int64_t day = gen_day_of(t);
    int64_t ms = t - gen_local_ms(day, 0);
    if (gen_is_working(day) && ms >= 8 * GEN_HOUR_MS && ms < 22 * GEN_HOUR_MS)
        return t;
    if (ms >= 8 * GEN_HOUR_MS)
        day++;
    while (!gen_is_working(day))
        day++;
    return gen_local_ms(day, 9 * GEN_HOUR_MS + ms % GEN_HOUR_MS);
}

/* ---- benford ------------------------------------------------------------------ */

/* A typed figure: two significant digits, the first uniform 1-9, at the
   magnitude nearest the real amount. */
static int64_t
typed_amount(gen_rng_t *rng, int64_t real)
{
    /* People inventing figures avoid 1 and spread over the middle digits
       (Nigrini: too few 1s, too many 5-9). */
    static const double lead_weights[9] = {0.06, 0.09, 0.11, 0.12, 0.14, 0.12, 0.13, 0.12, 0.11};
    int lead = 1 + (int)gen_rng_weighted(rng, lead_weights, 9);
    double digits = lead * 100 + (double)gen_rng_range(rng, 0, 99);
    int k = (int)floor(log10((double)real));
    int64_t best = 0;
    double best_gap = INFINITY;
    for (int e = k - 3; e <= k - 1; e++) {
        double f = digits * pow(10, e);
        double gap = fabs(log10(f / (double)real));
        if (f >= 1 && gap < best_gap) {
            best_gap = gap;
            best = (int64_t)f;
        }
    }
    return best;
}

/* True when an amount typed already is the same for deal's customer and line within 7 days. */
static bool
typed_before(const gen_world_t *w, const gen_label_t *label, const gen_deal_t *deal, int64_t amount)
{
    for (size_t i = 0; i < label->nrefs; i++) {
        const gen_deal_t *o = &w->deals[label->refs[i].index];
        if (o->customer == deal->customer && o->line == deal->line && o->amount == amount &&
            llabs(o->at - deal->at) < 7 * GEN_DAY_MS)
            return true;
    }
    return false;
}

static void
inject_benford(gen_world_t *w)
{
    gen_rng_t *rng = &w->inject;
    size_t *deals_of = xcalloc(w->nnodes, sizeof *deals_of);
    for (size_t i = 0; i < w->ndeals; i++)
        if (w->deals[i].at < w->t_end && !(w->deals[i].flags & GEN_DEAL_STANDING))
            deals_of[w->deals[i].rep]++;
    int32_t *reps = xcalloc(w->nnodes, sizeof *reps);
    size_t nreps = 0;
    for (size_t n = 0; n < w->nnodes; n++)
        if (w->nodes[n].kind == GEN_REP && (int32_t)n != w->hire && deals_of[n] >= 200)
            reps[nreps++] = (int32_t)n;
    size_t want = incidents(w, GEN_BENFORD, nreps);
    gen_rng_shuffle(rng, reps, nreps);
    for (size_t i = 0; i < want; i++) {
        int32_t rep = reps[i];
        gen_node_t *r = &w->nodes[rep];
        r->benford = true;
        r->benford_share = gen_rng_between(rng, 0.75, 1.0);
        gen_label_t *label = gen_label_new(w, GEN_BENFORD, rep, -1);
        size_t typed = 0;
        for (size_t d = 0; d < w->ndeals; d++) {
            gen_deal_t *deal = &w->deals[d];
            if (deal->rep != rep || deal->at >= w->t_end || (deal->flags & GEN_DEAL_STANDING) ||
                !gen_rng_chance(rng, r->benford_share))
                continue;
            int64_t amount = typed_amount(rng, deal->amount);
            /* Typing the same figure twice for a customer within a week would look
               like a duplicate order, which is another detector's business. */
            int64_t step = 1;
            while (amount % (step * 10) == 0 && step < amount)
                step *= 10;
            while (typed_before(w, label, deal, amount))
                amount += step;
            deal->margin =
                (int64_t)round((double)deal->margin * (double)amount / (double)deal->amount);
            deal->amount = amount;
            if (deal->quantity > 0)
                deal->unit_price = amount / deal->quantity;
            deal->flags |= GEN_DEAL_TOUCHED;
            gen_label_add(w, label, GEN_REF_SALE, (int32_t)d);
            typed++;
        }
        snprintf(label->note, sizeof label->note,
                 "%zu of %zu deals typed as round figures, first digits uniform 1-9", typed,
                 deals_of[rep]);
    }
    free(reps);
    free(deals_of);
}

/* ---- period-end stuffing ---------------------------------------------------------- */

static void
inject_stuffing(gen_world_t *w)
{
    gen_rng_t *rng = &w->inject;
    /* Opportunities: (rep, month) for months wholly in the history whose next
       month's first two weeks are in it too. */
    int64_t months[64];
    size_t nmonths = 0;
    for (int64_t m = gen_month_start(w->cfg.start_day); m < w->end_day && nmonths < 64;
         m = gen_next_month(m))
        if (m >= w->cfg.start_day && gen_next_month(m) + 14 <= w->end_day)
            months[nmonths++] = m;
    size_t cap = w->nnodes * (nmonths ? nmonths : 1);
    int32_t *slots = xcalloc(cap, sizeof *slots); /* rep * 64 + month */
    size_t nslots = 0;
    for (size_t n = 0; n < w->nnodes; n++) {
        const gen_node_t *r = &w->nodes[n];
        if (r->kind != GEN_REP || (int32_t)n == w->hire)
            continue;
        for (size_t k = 0; k < nmonths; k++)
            slots[nslots++] = (int32_t)(n * 64 + k);
    }
    size_t want = incidents(w, GEN_PERIOD_END_STUFFING, nslots);
    gen_rng_shuffle(rng, slots, nslots);
    size_t done = 0;
    for (size_t s = 0; s < nslots && done < want; s++) {
        int32_t rep = slots[s] / 64;
        int64_t month = months[slots[s] % 64];
        if (w->nodes[rep].benford)
            continue;
        int64_t next = gen_next_month(month);
        int64_t last[3];
        int nlast = 0;
        for (int64_t d = next - 1; d >= month && nlast < 3; d--)
            if (gen_is_working(d))
                last[nlast++] = d;
        int64_t early[8];
        int nearly = 0;
        for (int64_t d = next; nearly < 8 && d < w->end_day; d++)
            if (gen_is_working(d))
                early[nearly++] = d;
        if (nlast < 3 || nearly < 4)
            continue;
        double plan = w->plan[(size_t)rep * w->plan_months + gen_plan_month(w, month)];
        double total = plan * gen_rng_between(rng, 0.4, 0.8);
        int k = (int)gen_rng_range(rng, 4, 7);
        int32_t stuffed[7];
        int nstuffed = 0;
        for (int i = 0; i < k; i++) {
            int64_t day = last[gen_rng_range(rng, 0, nlast - 1)];
            int32_t c = gen_pick_customer(w, rng, rep, day);
            if (c < 0)
                break;
            int line = w->customers[c].line;
            int32_t d = gen_deal_new(w, rng, rep, c, line, day);
            gen_deal_t *deal = &w->deals[d];
            deal->flags |= GEN_DEAL_INJECTED;
            double want_amount = total / k * gen_rng_between(rng, 0.7, 1.3);
            if (deal->quantity > 0) {
                int64_t q = llround(want_amount / (double)deal->unit_price);
                deal->quantity = (int32_t)(q < 1 ? 1 : q > 1000000 ? 1000000 : q);
                deal->amount = deal->unit_price * deal->quantity;
                deal->margin = (int64_t)round((double)deal->amount * gen_lines[line].margin_rate);
            } else
                gen_deal_reprice(w, d, llround(want_amount / 1000) * 1000);
            gen_deal_trail(w, rng, d, 1, 4);
            gen_deal_terms(w, rng, d);
            stuffed[nstuffed++] = d;
        }
        if (nstuffed < 4)
            continue;
        gen_label_t *label = gen_label_new(w, GEN_PERIOD_END_STUFFING, rep, -1);
        int reversed = (int)llround(nstuffed * gen_rng_between(rng, 0.75, 1.0));
        if (reversed < 3)
            reversed = 3;
        int64_t sum = 0;
        for (int i = 0; i < nstuffed; i++) {
            gen_deal_t *deal = &w->deals[stuffed[i]];
            sum += deal->amount;
            gen_label_add(w, label, GEN_REF_SALE, stuffed[i]);
            if (i >= reversed)
                continue;
            int64_t day = early[gen_rng_range(rng, 0, nearly - 1)];
            int64_t at = gen_business_time(rng, day);
            if (gen_rng_chance(rng, 0.65)) {
                deal->cancel_at = at;
                deal->cancel_reason = (uint8_t)gen_rng_range(rng, 0, 255);
                deal->pay_at = deal->pay2_at = 0;
            } else {
                deal->refund_at = at;
                deal->refund_permille = (uint16_t)gen_rng_range(rng, 600, 1000);
                deal->refund_reason = (uint8_t)gen_rng_range(rng, 0, 255);
                if (deal->refund_permille == 1000)
                    deal->pay_at = deal->pay2_at = 0;
            }
            gen_label_add(w, label, GEN_REF_REVERSAL, stuffed[i]);
        }
        char when[11];
        gen_format_date(month, when);
        snprintf(label->note, sizeof label->note,
                 "%d deals of %.0f yuan (%.0f%% of the month's plan) in the last 3 working days "
                 "of %.7s; %d reversed early next month",
                 nstuffed, yuan(sum), plan > 0 ? 100.0 * (double)sum / plan : 0.0, when, reversed);
        done++;
    }
    free(slots);
}

/* ---- padding ------------------------------------------------------------------- */

/* A teammate of rep on day who may book, or -1. */
static int32_t
teammate(gen_world_t *w, gen_rng_t *rng, int32_t rep, int64_t day)
{
    int32_t team = gen_rep_team(w, rep, day);
    int32_t found = -1;
    int seen = 0;
    for (size_t n = 0; n < w->nnodes; n++) {
        int32_t m = (int32_t)n;
        if (m == rep || w->nodes[n].kind != GEN_REP || w->nodes[n].benford ||
            !gen_rep_active(w, m, day) || gen_rep_team(w, m, day) != team)
            continue;
        if (gen_rng_chance(rng, 1.0 / ++seen))
            found = m;
    }
    return found;
}

/* Reverse deal d (cancel or refund it all) at `at`; it is never paid. */
static void
reverse_fully(gen_world_t *w, gen_rng_t *rng, int32_t d, int64_t at)
{
    gen_deal_t *deal = &w->deals[d];
    deal->pay_at = deal->pay2_at = 0;
    deal->refund_at = deal->cancel_at = 0;
    if (gen_rng_chance(rng, 0.5)) {
        deal->cancel_at = at;
        deal->cancel_reason = (uint8_t)gen_rng_range(rng, 0, 255);
    } else {
        deal->refund_at = at;
        deal->refund_permille = 1000;
        deal->refund_reason = (uint8_t)gen_rng_range(rng, 0, 255);
    }
}

/* Book deal d again for rep at `at`: same customer, line, quantity; a similar amount. */
static int32_t
book_again(gen_world_t *w, gen_rng_t *rng, int32_t d, int32_t rep, int64_t at)
{
    gen_deal_t old = w->deals[d];
    int32_t again = gen_deal_new(w, rng, rep, old.customer, old.line, gen_day_of(at));
    gen_deal_t *a = &w->deals[again];
    a->flags |= GEN_DEAL_INJECTED;
    a->at = at;
    a->quantity = old.quantity;
    double f = gen_rng_between(rng, 0.97, 1.03);
    if (old.quantity > 0) {
        a->unit_price = llround((double)old.unit_price * f / 100) * 100;
        if (a->unit_price < 100)
            a->unit_price = 100;
        a->amount = a->unit_price * a->quantity;
    } else
        a->amount = llround((double)old.amount * f / 1000) * 1000;
    /* Similar, never the same: the same amount would be a duplicate order, another
       detector's business (and a duplicate's original is not reversed first). */
    if (a->amount == old.amount) {
        if (old.quantity > 0) {
            a->unit_price += 100;
            a->amount = a->unit_price * a->quantity;
        } else
            a->amount += 1000;
    }
    a->margin =
        old.amount ? llround((double)old.margin * (double)a->amount / (double)old.amount) : 0;
    gen_activity_new(w, at - gen_rng_range(rng, 30, 48 * 60) * 60000, rep, old.customer, -1,
                     GEN_ACT_CALL);
    gen_deal_terms(w, rng, again);
    return again;
}

static void
inject_padding(gen_world_t *w, int32_t *cands, size_t ncands, size_t want)
{
    gen_rng_t *rng = &w->inject;
    size_t done = 0;
    for (size_t i = 0; i < ncands && done < want; i++) {
        int32_t d = cands[i];
        if (!deal_open(w, d) || w->deals[d].at + 25 * GEN_DAY_MS >= w->t_end ||
            w->deals[d].due_at == 0)
            continue;
        int32_t a = w->deals[d].rep;
        int32_t b = teammate(w, rng, a, gen_day_of(w->deals[d].at));
        if (b < 0)
            continue;
        w->deals[d].flags |= GEN_DEAL_TOUCHED;
        int32_t customer = w->deals[d].customer;
        gen_label_t *label = gen_label_new(w, GEN_PADDING, b, customer);
        gen_label_add(w, label, GEN_REF_SALE, d);
        int hops = gen_rng_chance(rng, 0.3) ? (gen_rng_chance(rng, 0.5) ? 3 : 2) : 1;
        int32_t cur = d, who = b;
        int64_t first = w->deals[d].at;
        int done_hops = 0;
        for (int h = 0; h < hops; h++) {
            /* A bounce stops where the history would end before it does. */
            if (h > 0 && w->deals[cur].at + 10 * GEN_DAY_MS >= w->t_end)
                break;
            int64_t base = gen_day_of(w->deals[cur].at);
            int64_t rday = business_day_after(rng, base, 1, h == 0 ? 10 : 3);
            int64_t rat = gen_business_time(rng, rday);
            if (rat <= w->deals[cur].at)
                rat = w->deals[cur].at + GEN_HOUR_MS;
            reverse_fully(w, rng, cur, rat);
            gen_label_add(w, label, GEN_REF_REVERSAL, cur);
            int64_t at = office_hours(rat + gen_rng_range(rng, 30, 3 * 24 * 60) * 60000);
            if (at >= w->t_end)
                at = rat + gen_rng_range(rng, 30, 120) * 60000;
            cur = book_again(w, rng, cur, who, at);
            gen_label_add(w, label, GEN_REF_SALE, cur);
            label->rep = who;
            who = who == b ? a : b;
            done_hops++;
        }
        snprintf(label->note, sizeof label->note,
                 "order of %s reversed and booked again by %s for the same customer "
                 "(%.0f -> %.0f yuan)%s, within %.0f days",
                 w->nodes[a].id, w->nodes[b].id, yuan(w->deals[d].amount),
                 yuan(w->deals[cur].amount),
                 done_hops > 1 ? ", the customer bounced between them" : "",
                 ceil((double)(w->deals[cur].at - first) / GEN_DAY_MS));
        done++;
    }
}

/* ---- duplicates, outliers, no trail, overdue ------------------------------------------ */

static void
inject_duplicates(gen_world_t *w, int32_t *cands, size_t ncands, size_t want)
{
    gen_rng_t *rng = &w->inject;
    size_t done = 0;
    for (size_t i = 0; i < ncands && done < want; i++) {
        int32_t d = cands[i];
        if (!deal_open(w, d) || w->deals[d].at + 2 * GEN_DAY_MS >= w->t_end)
            continue;
        w->deals[d].flags |= GEN_DEAL_TOUCHED;
        double minutes = exp(log(45) + 1.2 * gen_rng_normal(rng));
        if (minutes < 2)
            minutes = 2;
        if (minutes > 30 * 60)
            minutes = 30 * 60;
        int32_t copy = (int32_t)GEN_PUSH(w, deals);
        gen_deal_t *c = &w->deals[copy];
        *c = w->deals[d];
        c->flags = GEN_DEAL_INJECTED;
        /* Keyed in again in office hours, within two days (over a weekend: the same session). */
        c->at = office_hours(w->deals[d].at + (int64_t)(minutes * 60000));
        if (c->at - w->deals[d].at > 48 * GEN_HOUR_MS) {
            minutes = (double)gen_rng_range(rng, 2, 60);
            c->at = w->deals[d].at + (int64_t)(minutes * 60000);
        }
        c->refund_at = c->cancel_at = 0;
        gen_deal_terms(w, rng, copy);
        if (gen_rng_chance(rng, 0.45)) {
            c->cancel_at = c->at + gen_rng_range(rng, 1, 8) * GEN_DAY_MS;
            c->cancel_reason = (uint8_t)gen_rng_range(rng, 0, 255);
            c->pay_at = c->pay2_at = 0;
        }
        gen_label_t *label = gen_label_new(w, GEN_DUPLICATE_ORDER, c->rep, c->customer);
        gen_label_add(w, label, GEN_REF_SALE, d);
        gen_label_add(w, label, GEN_REF_SALE, copy);
        snprintf(label->note, sizeof label->note,
                 "the same %s order of %.0f yuan booked again %.0f minutes later under a new "
                 "order id",
                 gen_lines[c->line].id, yuan(c->amount),
                 (double)(c->at - w->deals[d].at) / 60000.0);
        done++;
    }
}

static void
inject_outliers(gen_world_t *w, int32_t *cands, size_t ncands, size_t want)
{
    gen_rng_t *rng = &w->inject;
    size_t done = 0;
    for (size_t i = 0; i < ncands && done < want; i++) {
        int32_t d = cands[i];
        if (!deal_open(w, d) || (w->deals[d].flags & (GEN_DEAL_STANDING | GEN_DEAL_BIG)))
            continue;
        gen_deal_t *deal = &w->deals[d];
        const gen_line_t *l = &gen_lines[deal->line];
        /* 6-9 of the line's log spread from its median price (its median amount for
           services, whose spread includes the customer's size), at most 60 times. */
        double sigma = l->qty_median > 0 ? l->unit_sigma : hypot(l->unit_sigma, 0.4 * 1.0);
        double f = exp(sigma * gen_rng_between(rng, 6, 9));
        f = f > 60 ? 60 : f;
        bool low = gen_rng_chance(rng, 0.2);
        if (low)
            f = 1 / f;
        double price = l->unit_median * w->nodes[deal->rep].price_factor * f * 100; /* fen */
        deal->flags |= GEN_DEAL_TOUCHED;
        if (deal->quantity > 0)
            gen_deal_reprice(w, d, llround(price / 100) * 100);
        else
            gen_deal_reprice(w, d, llround(price / 1000) * 1000);
        gen_label_t *label = gen_label_new(w, GEN_AMOUNT_OUTLIER, deal->rep, deal->customer);
        gen_label_add(w, label, GEN_REF_SALE, d);
        snprintf(label->note, sizeof label->note, "%s %s of %.0f yuan, %.3gx the line's median",
                 gen_lines[deal->line].id, deal->quantity > 0 ? "unit price" : "amount",
                 yuan(deal->quantity > 0 ? deal->unit_price : deal->amount), f);
        done++;
    }
}

static void
inject_no_trail(gen_world_t *w, int32_t *cands, size_t ncands, size_t want)
{
    gen_rng_t *rng = &w->inject;
    size_t done = 0;
    int32_t dormant[256];
    /* Each customer's last activity in the history (0: none). */
    int64_t *contact = xcalloc(w->ncustomers, sizeof *contact);
    for (size_t i = 0; i < w->nacts; i++)
        if (w->acts[i].at < w->t_end && w->acts[i].at > contact[w->acts[i].customer])
            contact[w->acts[i].customer] = w->acts[i].at;
    for (size_t i = 0; i < ncands && done < want; i++) {
        /* The candidate deal only lends its rep and day. */
        const gen_deal_t *slot = &w->deals[cands[i]];
        if (!deal_open(w, cands[i]) || slot->at < w->t0 + 30 * GEN_DAY_MS)
            continue;
        int32_t rep = slot->rep;
        int64_t day = gen_day_of(slot->at);
        gen_node_t *r = &w->nodes[rep];
        int n = 0;
        for (size_t k = 0; k < r->nbook && n < 256; k++)
            if (w->customers[r->book[k]].dormant)
                dormant[n++] = r->book[k];
        if (n == 0)
            continue;
        int32_t c = dormant[gen_rng_range(rng, 0, n - 1)];
        if (contact[c] >= gen_local_ms(day - 90, 0))
            continue;
        static const double weights[GEN_LINE_COUNT] = {0.35, 0.35, 0, 0.2, 0.1};
        int line = (int)gen_rng_weighted(rng, weights, GEN_LINE_COUNT);
        int32_t d = gen_deal_new(w, rng, rep, c, line, day);
        gen_deal_t *deal = &w->deals[d];
        deal->flags |= GEN_DEAL_INJECTED;
        double typical = gen_line_typical_amount(line);
        double want_amount = typical * gen_rng_between(rng, 6, 15);
        int64_t q = llround(want_amount / (double)deal->unit_price);
        deal->quantity = (int32_t)(q < 1 ? 1 : q > 1000000 ? 1000000 : q);
        deal->amount = deal->unit_price * deal->quantity;
        deal->margin = (int64_t)round((double)deal->amount * gen_lines[line].margin_rate);
        gen_deal_terms(w, rng, d);
        gen_label_t *label = gen_label_new(w, GEN_NO_SALES_TRAIL, rep, c);
        gen_label_add(w, label, GEN_REF_SALE, d);
        snprintf(label->note, sizeof label->note,
                 "%s deal of %.0f yuan (%.1fx the line's typical) for a customer nobody "
                 "contacted in 90 days",
                 gen_lines[line].id, yuan(deal->amount), (double)deal->amount / typical);
        contact[c] = INT64_MAX; /* one such deal per customer */
        done++;
    }
    free(contact);
}

static void
inject_overdue(gen_world_t *w, int32_t *cands, size_t ncands, size_t want)
{
    size_t done = 0;
    for (size_t i = 0; i < ncands && done < want; i++) {
        int32_t d = cands[i];
        gen_deal_t *deal = &w->deals[d];
        /* No warm-up needed: a due date is its own baseline. */
        if ((deal->flags & (GEN_DEAL_INJECTED | GEN_DEAL_TOUCHED | GEN_DEAL_SIBLING)) ||
            w->nodes[deal->rep].benford || deal->at < w->t0 || !deal->due_at ||
            deal->due_at + 30 * GEN_DAY_MS > w->t_end || deal->cancel_at ||
            (deal->refund_at && deal->refund_permille >= 1000))
            continue;
        deal->flags |= GEN_DEAL_TOUCHED;
        deal->pay_at = deal->pay2_at = 0;
        gen_label_t *label = gen_label_new(w, GEN_OVERDUE_COLLECTION, deal->rep, deal->customer);
        gen_label_add(w, label, GEN_REF_SALE, d);
        char due[11];
        gen_format_date(gen_day_of(deal->due_at), due);
        snprintf(label->note, sizeof label->note,
                 "%.0f yuan due %s, nothing paid by the end of the history (%lld days late)",
                 yuan(deal->amount), due, (long long)((w->t_end - deal->due_at) / GEN_DAY_MS));
        done++;
    }
}

/* ---- customer bursts ---------------------------------------------------------------- */

static void
inject_bursts(gen_world_t *w)
{
    gen_rng_t *rng = &w->inject;
    /* Opportunities: (rep, working day) after the rep's first 20 days. */
    int32_t *slots = NULL;
    size_t nslots = 0, capslots = 0;
    int64_t ndays = w->end_day - w->cfg.start_day;
    for (size_t n = 0; n < w->nnodes; n++) {
        const gen_node_t *r = &w->nodes[n];
        if (r->kind != GEN_REP)
            continue;
        for (int64_t day = w->cfg.start_day; day < w->end_day; day++) {
            if (day < r->hired_day + 20 || day < w->cfg.start_day + 20 || !gen_is_working(day))
                continue;
            size_t i = gen_grow((void **)&slots, &nslots, &capslots, sizeof *slots);
            slots[i] = (int32_t)(n * (size_t)ndays + (size_t)(day - w->cfg.start_day));
        }
    }
    size_t want = incidents(w, GEN_CUSTOMER_BURST, nslots);
    gen_rng_shuffle(rng, slots, nslots);
    size_t done = 0;
    for (size_t s = 0; s < nslots && done < want; s++) {
        int32_t rep = (int32_t)(slots[s] / ndays);
        int64_t day = w->cfg.start_day + slots[s] % ndays;
        if (w->nodes[rep].benford)
            continue;
        int k = (int)gen_rng_range(rng, 7, 14);
        int64_t at = gen_business_time(rng, day);
        if (at > gen_local_ms(day, 20 * GEN_HOUR_MS))
            at = gen_local_ms(day, 15 * GEN_HOUR_MS);
        gen_label_t *label = gen_label_new(w, GEN_CUSTOMER_BURST, rep, -1);
        for (int i = 0; i < k; i++) {
            int32_t c = gen_customer_new(w, rng, rep, at, false);
            w->customers[c].fake = true;
            gen_label_add(w, label, GEN_REF_CUSTOMER, c);
            at += gen_rng_range(rng, 60, 12 * 60) * 1000;
        }
        snprintf(label->note, sizeof label->note,
                 "%d new customers in one session, against a usual %.2f a working day", k,
                 w->nodes[rep].new_rate);
        done++;
    }
    free(slots);
}

/* ---- all of them ---------------------------------------------------------------------- */

void
gen_inject(gen_world_t *w)
{
    gen_rng_t *rng = &w->inject;
    inject_benford(w);
    inject_stuffing(w);

    /* The per-deal kinds share one candidate list: the base deals in the
       history after the warm-up, counted before any is taken. */
    size_t nbase = w->ndeals;
    int32_t *cands = xcalloc(nbase, sizeof *cands);
    int32_t *dues = xcalloc(nbase, sizeof *dues);
    size_t ncands = 0, ndues = 0;
    for (size_t d = 0; d < nbase; d++) {
        const gen_deal_t *deal = &w->deals[d];
        if (deal->flags & GEN_DEAL_INJECTED || deal->at >= w->t_end)
            continue;
        if (deal->due_at)
            dues[ndues++] = (int32_t)d;
        if (deal->at >= w->t0 + EARLY_DAYS * GEN_DAY_MS)
            cands[ncands++] = (int32_t)d;
    }
    static const int per_deal[] = {GEN_PADDING, GEN_DUPLICATE_ORDER, GEN_AMOUNT_OUTLIER,
                                   GEN_NO_SALES_TRAIL, GEN_OVERDUE_COLLECTION};
    for (size_t k = 0; k < sizeof per_deal / sizeof per_deal[0]; k++) {
        int kind = per_deal[k];
        size_t want = incidents(w, kind, kind == GEN_OVERDUE_COLLECTION ? ndues : ncands);
        if (want == 0)
            continue;
        gen_rng_shuffle(rng, cands, ncands);
        if (kind == GEN_OVERDUE_COLLECTION)
            gen_rng_shuffle(rng, dues, ndues);
        switch (kind) {
        case GEN_PADDING:
            inject_padding(w, cands, ncands, want);
            break;
        case GEN_DUPLICATE_ORDER:
            inject_duplicates(w, cands, ncands, want);
            break;
        case GEN_AMOUNT_OUTLIER:
            inject_outliers(w, cands, ncands, want);
            break;
        case GEN_NO_SALES_TRAIL:
            inject_no_trail(w, cands, ncands, want);
            break;
        default:
            inject_overdue(w, dues, ndues, want);
        }
    }
    free(cands);
    free(dues);
    inject_bursts(w);
}
