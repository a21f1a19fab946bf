/*  gen_output: the world's records as events, in time order, as JSON Lines.

    Every record becomes its events (a deal: sale_closed, then its refund or
    cancellation and its payments), each with a creation number. Events are
    sorted by occurred_at, ties by creation number (a node before its targets,
    a sale before anything that names its order), and those outside the
    history [start, end) are dropped: the file is the log as it would stand at
    the end of the history. Then numbers that a real system hands out in time
    order are given in that order: order numbers (SO1000001...), customer
    numbers (the existing book first, C100001...), payment and activity
    numbers. Event ids are built from them:

      hr:node:<node>                   node_defined
      hr:move:<node>:<date>            node_moved
      admin:calendar:<date>            calendar_day_set
      plan:<scope>:<metric>:<period>   target_set (":adj:<n>" for target_adjusted)
      crm:customer:<customer>          customer_created
      crm:activity:<n>                 activity_logged
      crm:order:<order>:closed         sale_closed
      crm:order:<order>:refund         sale_refunded
      crm:order:<order>:cancel         sale_cancelled
      erp:payment:<n>                  payment_received

    Fields are written in the order docs/EVENTS.md lists them. Nothing here
    draws a random number. */

#include "clients/gen/gen.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum {
    EV_NODE,
    EV_MOVE,
    EV_CALENDAR,
    EV_TARGET,
    EV_CUSTOMER,
    EV_ACTIVITY,
    EV_SALE,
    EV_REFUND,
    EV_CANCEL,
    EV_PAYMENT,
    EV_TYPES
};

static const char *const type_names[EV_TYPES] = {
    "node_defined",    "node_moved",  "calendar_day_set", "target_set",     "customer_created",
    "activity_logged", "sale_closed", "sale_refunded",    "sale_cancelled", "payment_received"};

typedef struct {
    int64_t at;
    uint32_t seq;
    uint8_t type;
    int32_t ref;    /* the record: node, day offset, target, customer, activity, deal */
    int64_t amount; /* refund and payment amounts */
    uint32_t num;   /* payment and activity numbers */
} gen_event_t;

typedef struct {
    gen_event_t *items;
    size_t nitems, capitems;
} event_list_t;

static const char *const refund_reasons[] = {
    "partial return", "price adjustment",  "damaged in transit",    "short delivery",
    "service credit", "goodwill discount", "wrong model delivered", "returned unused",
};
static const char *const cancel_reasons[] = {
    "customer withdrew",         "credit check failed",
    "ordered in error",          "budget frozen",
    "lost to competitor",        "project postponed",
    "customer changed supplier", "specification changed",
};
static const char *const activity_names[4] = {"visit", "call", "quote", "demo"};
static const char *const kind_names[4] = {"company", "region", "team", "rep"};

static void
add(event_list_t *list, const gen_world_t *w, int64_t at, int type, int32_t ref, int64_t amount)
{
    if (at < w->t0 || at >= w->t_end)
        return;
    size_t i = gen_grow((void **)&list->items, &list->nitems, &list->capitems, sizeof *list->items);
    list->items[i] = (gen_event_t){at, (uint32_t)i, (uint8_t)type, ref, amount, 0};
}

static int64_t
refund_amount(const gen_deal_t *deal)
{
    if (deal->refund_permille >= 1000)
        return deal->amount;
    int64_t amount = deal->amount / 1000 * deal->refund_permille +
                     deal->amount % 1000 * deal->refund_permille / 1000;
    return amount < 1 ? 1 : amount > deal->amount ? deal->amount : amount;
}

/* What is left to pay of a deal at time t. */
static int64_t
due_at_time(const gen_deal_t *deal, int64_t t)
{
    int64_t left = deal->amount;
    if (deal->refund_at && deal->refund_at < t)
        left -= refund_amount(deal);
    return left;
}

static void
deal_events(event_list_t *list, const gen_world_t *w, int32_t d)
{
    const gen_deal_t *deal = &w->deals[d];
    if (deal->at < w->t0 || deal->at >= w->t_end)
        return;
    add(list, w, deal->at, EV_SALE, d, 0);
    if (deal->cancel_at) {
        add(list, w, deal->cancel_at, EV_CANCEL, d, 0);
        return;
    }
    if (deal->refund_at)
        add(list, w, deal->refund_at, EV_REFUND, d, refund_amount(deal));
    if (!deal->pay_at)
        return;
    int64_t left = due_at_time(deal, deal->pay_at);
    if (deal->pay2_at) {
        int64_t first = left / 1000 * deal->pay1_permille;
        if (first < 1)
            first = left;
        if (first > 0)
            add(list, w, deal->pay_at, EV_PAYMENT, d, first);
        int64_t second = due_at_time(deal, deal->pay2_at) - first;
        if (second > 0)
            add(list, w, deal->pay2_at, EV_PAYMENT, d, second);
    } else if (left > 0)
        add(list, w, deal->pay_at, EV_PAYMENT, d, left);
}

static int
event_cmp(const void *a, const void *b)
{
    const gen_event_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
materialise(gen_world_t *w, event_list_t *list)
{
    for (size_t n = 0; n < w->nnodes; n++)
        add(list, w, w->nodes[n].defined_at, EV_NODE, (int32_t)n, 0);
    if (w->mover >= 0) {
        int64_t at = gen_local_ms(w->nodes[w->mover].moved_day - 5, 15 * GEN_HOUR_MS);
        add(list, w, at > w->t0 ? at : w->t0 + 2 * GEN_HOUR_MS, EV_MOVE, w->mover, 0);
    }
    /* The calendar of every quarter the history touches: pace needs all of it. */
    for (int64_t day = w->plan_first; day < w->plan_last; day++) {
        const char *name;
        gen_day_kind_t kind = gen_day_kind(day, &name);
        if (kind == GEN_DAY_HOLIDAY || kind == GEN_DAY_MAKEUP)
            add(list, w, w->t0, EV_CALENDAR, (int32_t)(day - w->plan_first), 0);
    }
    for (size_t t = 0; t < w->ntargets; t++)
        add(list, w, w->targets[t].at, EV_TARGET, (int32_t)t, 0);
    for (size_t c = 0; c < w->ncustomers; c++)
        if (w->customers[c].created_at)
            add(list, w, w->customers[c].created_at, EV_CUSTOMER, (int32_t)c, 0);
    for (size_t a = 0; a < w->nacts; a++)
        add(list, w, w->acts[a].at, EV_ACTIVITY, (int32_t)a, 0);
    for (size_t d = 0; d < w->ndeals; d++)
        deal_events(list, w, (int32_t)d);
    qsort(list->items, list->nitems, sizeof *list->items, event_cmp);

    /* Numbers in time order. */
    uint32_t customer_no = 100001, order_no = 1000001, payment_no = 1, activity_no = 1;
    for (size_t c = 0; c < w->ncustomers; c++)
        if (!w->customers[c].created_at)
            w->customers[c].number = customer_no++;
    for (size_t i = 0; i < list->nitems; i++) {
        gen_event_t *e = &list->items[i];
        if (e->type == EV_CUSTOMER)
            w->customers[e->ref].number = customer_no++;
        else if (e->type == EV_SALE) {
            w->deals[e->ref].order_no = order_no++;
            w->deals[e->ref].written = true;
        } else if (e->type == EV_PAYMENT)
            e->num = payment_no++;
        else if (e->type == EV_ACTIVITY)
            e->num = activity_no++;
    }
}

/* ---- JSON --------------------------------------------------------------------------- */

static void
json_string(FILE *out, const char *s)
{
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            putc('\\', out);
            putc(*p, out);
        } else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            putc(*p, out);
    }
    putc('"', out);
}

static void
field_str(FILE *out, const char *name, const char *value)
{
    fprintf(out, ",\"%s\":", name);
    json_string(out, value);
}

static void
field_int(FILE *out, const char *name, int64_t value)
{
    fprintf(out, ",\"%s\":%" PRId64, name, value);
}

static void
order_id(const gen_deal_t *deal, char out[16])
{
    snprintf(out, 16, "SO%07" PRIu32, deal->order_no);
}

static void
customer_id(const gen_customer_t *c, char out[16])
{
    snprintf(out, 16, "C%06" PRIu32, c->number);
}

/* The id of an event; `adj` numbers target adjustments. */
static void
event_id(const gen_world_t *w, const gen_event_t *e, char out[96])
{
    char key[16];
    switch (e->type) {
    case EV_NODE:
        snprintf(out, 96, "hr:node:%s", w->nodes[e->ref].id);
        return;
    case EV_MOVE: {
        char date[11];
        gen_format_date(w->nodes[e->ref].moved_day, date);
        snprintf(out, 96, "hr:move:%s:%s", w->nodes[e->ref].id, date);
        return;
    }
    case EV_CALENDAR: {
        char date[11];
        gen_format_date(w->plan_first + e->ref, date);
        snprintf(out, 96, "admin:calendar:%s", date);
        return;
    }
    case EV_TARGET: {
        const gen_target_t *t = &w->targets[e->ref];
        snprintf(out, 96, "plan:%s:%s:%s", w->nodes[t->scope].id,
                 t->metric == GEN_METRIC_REVENUE ? "revenue" : "new_customers", t->period);
        if (t->adjusted) {
            size_t len = strlen(out);
            snprintf(out + len, 96 - len, ":adj:%d", e->ref);
        }
        return;
    }
    case EV_CUSTOMER:
        customer_id(&w->customers[e->ref], key);
        snprintf(out, 96, "crm:customer:%s", key);
        return;
    case EV_ACTIVITY:
        snprintf(out, 96, "crm:activity:%" PRIu32, e->num);
        return;
    case EV_PAYMENT:
        snprintf(out, 96, "erp:payment:%" PRIu32, e->num);
        return;
    default:
        order_id(&w->deals[e->ref], key);
        snprintf(out, 96, "crm:order:%s:%s", key,
                 e->type == EV_SALE     ? "closed"
                 : e->type == EV_REFUND ? "refund"
                                        : "cancel");
    }
}

static void
write_event(FILE *out, const gen_world_t *w, const gen_event_t *e)
{
    static const char *const sources[EV_TYPES] = {"hr",  "hr",  "admin", "plan", "crm",
                                                  "crm", "crm", "crm",   "crm",  "erp"};
    char id[96], key[16];
    event_id(w, e, id);
    const char *type = type_names[e->type];
    if (e->type == EV_TARGET && w->targets[e->ref].adjusted)
        type = "target_adjusted";
    fprintf(out, "{\"type\":\"%s\"", type);
    field_str(out, "id", id);
    field_int(out, "occurred_at", e->at);
    field_str(out, "source", sources[e->type]);
    switch (e->type) {
    case EV_NODE: {
        const gen_node_t *n = &w->nodes[e->ref];
        field_str(out, "node", n->id);
        field_str(out, "kind", kind_names[n->kind]);
        field_str(out, "name", n->name);
        if (n->parent >= 0)
            field_str(out, "parent", w->nodes[n->parent].id);
        field_str(out, "owner", n->owner);
        break;
    }
    case EV_MOVE: {
        const gen_node_t *n = &w->nodes[e->ref];
        char reason[256];
        field_str(out, "node", n->id);
        field_str(out, "parent", w->nodes[n->moved_to].id);
        field_int(out, "effective_at", gen_local_ms(n->moved_day, 0));
        field_str(out, "author", w->nodes[n->region].owner);
        snprintf(reason, sizeof reason, "transfer from %s to %s", w->nodes[n->moved_from].name,
                 w->nodes[n->moved_to].name);
        field_str(out, "reason", reason);
        break;
    }
    case EV_CALENDAR: {
        char date[11];
        const char *name;
        int64_t day = w->plan_first + e->ref;
        gen_day_kind_t kind = gen_day_kind(day, &name);
        gen_format_date(day, date);
        field_str(out, "date", date);
        field_str(out, "day_type", kind == GEN_DAY_HOLIDAY ? "holiday" : "workday");
        field_str(out, "name", name);
        break;
    }
    case EV_TARGET: {
        const gen_target_t *t = &w->targets[e->ref];
        field_str(out, "scope", w->nodes[t->scope].id);
        field_str(out, "metric", t->metric == GEN_METRIC_REVENUE ? "revenue" : "new_customers");
        field_str(out, "period", t->period);
        if (t->adjusted) {
            field_int(out, "floor", t->floor);
            field_int(out, "target", t->target);
            field_int(out, "stretch", t->stretch);
        } else {
            field_int(out, "target", t->target);
            field_int(out, "floor", t->floor);
            field_int(out, "stretch", t->stretch);
            if (t->metric == GEN_METRIC_REVENUE)
                field_str(out, "currency", "CNY");
        }
        field_str(out, "author", t->author);
        field_str(out, "reason", t->reason);
        break;
    }
    case EV_CUSTOMER: {
        const gen_customer_t *c = &w->customers[e->ref];
        customer_id(c, key);
        field_str(out, "customer", key);
        field_str(out, "rep", w->nodes[c->rep].id);
        field_str(out, "name", c->name);
        break;
    }
    case EV_ACTIVITY: {
        const gen_activity_t *a = &w->acts[e->ref];
        field_str(out, "rep", w->nodes[a->rep].id);
        field_str(out, "activity", activity_names[a->kind]);
        customer_id(&w->customers[a->customer], key);
        field_str(out, "customer", key);
        if (a->deal >= 0 && w->deals[a->deal].written) {
            order_id(&w->deals[a->deal], key);
            field_str(out, "order", key);
        }
        break;
    }
    case EV_SALE: {
        const gen_deal_t *d = &w->deals[e->ref];
        order_id(d, key);
        field_str(out, "order", key);
        field_str(out, "rep", w->nodes[d->rep].id);
        field_int(out, "amount", d->amount);
        field_str(out, "currency", "CNY");
        customer_id(&w->customers[d->customer], key);
        field_str(out, "customer", key);
        field_int(out, "margin", d->margin);
        field_str(out, "product_line", gen_lines[d->line].id);
        if (d->quantity > 0)
            field_int(out, "quantity", d->quantity);
        if (d->due_at)
            field_int(out, "due_at", d->due_at);
        break;
    }
    case EV_REFUND: {
        const gen_deal_t *d = &w->deals[e->ref];
        order_id(d, key);
        field_str(out, "order", key);
        field_int(out, "amount", e->amount);
        field_str(out, "currency", "CNY");
        field_str(
            out, "reason",
            refund_reasons[d->refund_reason % (sizeof refund_reasons / sizeof *refund_reasons)]);
        break;
    }
    case EV_CANCEL: {
        const gen_deal_t *d = &w->deals[e->ref];
        order_id(d, key);
        field_str(out, "order", key);
        field_str(
            out, "reason",
            cancel_reasons[d->cancel_reason % (sizeof cancel_reasons / sizeof *cancel_reasons)]);
        break;
    }
    case EV_PAYMENT: {
        const gen_deal_t *d = &w->deals[e->ref];
        field_int(out, "amount", e->amount);
        field_str(out, "currency", "CNY");
        order_id(d, key);
        field_str(out, "order", key);
        customer_id(&w->customers[d->customer], key);
        field_str(out, "customer", key);
        field_str(out, "rep", w->nodes[d->rep].id);
        break;
    }
    }
    fputs("}\n", out);
}

/* ---- labels ------------------------------------------------------------------------- */

typedef struct {
    int64_t at;
    char id[96];
} resolved_ref_t;

/* The event a reference names, if it is in the history. */
static bool
resolve(const gen_world_t *w, const gen_ref_t *ref, resolved_ref_t *out)
{
    gen_event_t e = {0};
    e.ref = ref->index;
    switch (ref->what) {
    case GEN_REF_SALE:
        e.type = EV_SALE;
        e.at = w->deals[ref->index].at;
        if (!w->deals[ref->index].written)
            return false;
        break;
    case GEN_REF_REVERSAL: {
        const gen_deal_t *d = &w->deals[ref->index];
        e.type = d->cancel_at ? EV_CANCEL : EV_REFUND;
        e.at = d->cancel_at ? d->cancel_at : d->refund_at;
        if (!d->written || !e.at || e.at >= w->t_end)
            return false;
        break;
    }
    default:
        e.type = EV_CUSTOMER;
        e.at = w->customers[ref->index].created_at;
        if (!e.at || e.at >= w->t_end)
            return false;
    }
    out->at = e.at;
    event_id(w, &e, out->id);
    return true;
}

static int
resolved_cmp(const void *a, const void *b)
{
    const resolved_ref_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return strcmp(x->id, y->id);
}

typedef struct {
    int64_t at;
    size_t index;
    resolved_ref_t *refs;
    size_t nrefs;
} label_out_t;

static int
label_cmp(const void *a, const void *b)
{
    const label_out_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int
write_labels(gen_world_t *w, FILE *out, size_t counts[GEN_KIND_COUNT])
{
    label_out_t *labels = calloc(w->nlabels ? w->nlabels : 1, sizeof *labels);
    if (!labels)
        return -1;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < w->nlabels; i++) {
        gen_label_t *l = &w->labels[i];
        resolved_ref_t *refs = calloc(l->nrefs ? l->nrefs : 1, sizeof *refs);
        if (!refs) {
            rc = -1;
            break;
        }
        size_t k = 0;
        for (; k < l->nrefs; k++)
            if (!resolve(w, &l->refs[k], &refs[k]))
                break;
        if (k < l->nrefs || l->nrefs == 0) {
            /* An injection left evidence outside the history: a generator bug. */
            fprintf(stderr, "pacer-gen: %s label %zu: evidence %zu is outside the history\n",
                    gen_kind_names[l->kind], i, k);
            free(refs);
            rc = -1;
            continue;
        }
        qsort(refs, l->nrefs, sizeof *refs, resolved_cmp);
        labels[n++] = (label_out_t){refs[0].at, i, refs, l->nrefs};
    }
    qsort(labels, n, sizeof *labels, label_cmp);
    for (size_t i = 0; i < n; i++) {
        const gen_label_t *l = &w->labels[labels[i].index];
        counts[l->kind]++;
        if (out) {
            fprintf(out, "{\"detector\":\"%s\",\"event_ids\":[", gen_kind_names[l->kind]);
            for (size_t k = 0; k < labels[i].nrefs; k++) {
                if (k)
                    putc(',', out);
                json_string(out, labels[i].refs[k].id);
            }
            fputs("],\"rep\":", out);
            if (l->rep >= 0)
                json_string(out, w->nodes[l->rep].id);
            else
                fputs("null", out);
            fputs(",\"customer\":", out);
            if (l->customer >= 0) {
                char key[16];
                customer_id(&w->customers[l->customer], key);
                json_string(out, key);
            } else
                fputs("null", out);
            fprintf(out, ",\"at\":%" PRId64 ",\"note\":", labels[i].at);
            json_string(out, l->note);
            fputs("}\n", out);
        }
        free(labels[i].refs);
    }
    free(labels);
    return rc;
}

int
gen_output(gen_world_t *w, FILE *events, FILE *labels)
{
    event_list_t list = {0};
    materialise(w, &list);
    size_t by_type[EV_TYPES] = {0}, adjusted = 0;
    for (size_t i = 0; i < list.nitems; i++) {
        const gen_event_t *e = &list.items[i];
        write_event(events, w, e);
        by_type[e->type]++;
        adjusted += e->type == EV_TARGET && w->targets[e->ref].adjusted;
    }
    by_type[EV_TARGET] -= adjusted;
    size_t counts[GEN_KIND_COUNT] = {0};
    int rc = write_labels(w, labels, counts);
    if (w->cfg.stats) {
        fprintf(stderr, "pacer-gen: %zu events:", list.nitems);
        for (int t = 0; t < EV_TYPES; t++) {
            fprintf(stderr, " %s %zu", type_names[t], by_type[t]);
            if (t == EV_TARGET)
                fprintf(stderr, " target_adjusted %zu", adjusted);
        }
        size_t total = 0;
        for (int k = 0; k < GEN_KIND_COUNT; k++)
            total += counts[k];
        fprintf(stderr, "\npacer-gen: %zu labels:", total);
        for (int k = 0; k < GEN_KIND_COUNT; k++)
            fprintf(stderr, " %s %zu", gen_kind_names[k], counts[k]);
        fputc('\n', stderr);
    }
    free(list.items);
    return rc;
}
