/*  gen.h: pacer-gen's model of a sales organisation, shared by its modules.

    pacer-gen builds a world in four phases, each in its own file:

      gen_world.c   the organisation, customer books and product lines, then a
                    day-by-day simulation of the base history: deals with their
                    sales trail, follow-ups (payments, refunds, cancellations),
                    background activities and new customers; then the targets.
      gen_inject.c  the anomalies, each written as changes to that history and a
                    label naming the evidence.
      gen_output.c  events materialised from the records, sorted by occurred_at,
                    numbered (order, customer, payment and activity numbers follow
                    time), written as JSON Lines; then the labels.
      pacer_gen.c   options and main.

    Every random draw of the base history comes from one stream (`base`) and
    every draw of an injection from another (`inject`), and materialising draws
    nothing: so a run with anomalies is the clean run of the same seed plus the
    injections, not a different history.

    Times: occurred_at is milliseconds UTC. Days are local days (Asia/Shanghai,
    UTC+8, no daylight saving) numbered from 1970-01-01. Money is int64 fen. */

#ifndef PACER_GEN_H
#define PACER_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- random numbers (gen_rng.c) ------------------------------------------ */

/* xoshiro256** seeded through splitmix64; never rand(). */
typedef struct {
    uint64_t s[4];
} gen_rng_t;

/* Seeds one independent stream of a seed. */
void gen_rng_seed(gen_rng_t *self, uint64_t seed, uint64_t stream);
uint64_t gen_rng_next(gen_rng_t *self);
/* Uniform in [0, 1). */
double gen_rng_uniform(gen_rng_t *self);
/* Uniform in [lo, hi). */
double gen_rng_between(gen_rng_t *self, double lo, double hi);
/* Uniform integer in [lo, hi], both included. */
int64_t gen_rng_range(gen_rng_t *self, int64_t lo, int64_t hi);
bool gen_rng_chance(gen_rng_t *self, double p);
double gen_rng_normal(gen_rng_t *self);
/* exp(N(mu, sigma)) */
double gen_rng_lognormal(gen_rng_t *self, double mu, double sigma);
/* Gamma(shape, 1). */
double gen_rng_gamma(gen_rng_t *self, double shape);
int gen_rng_poisson(gen_rng_t *self, double lambda);
/* An index in [0, n) drawn with the given non-negative weights; n if all are 0. */
size_t gen_rng_weighted(gen_rng_t *self, const double *weights, size_t n);
/* Shuffles an array of n int32 in place (Fisher-Yates). */
void gen_rng_shuffle(gen_rng_t *self, int32_t *items, size_t n);

/* ---- calendar (gen_calendar.c) ---------------------------------------------- */

#define GEN_HOUR_MS      3600000LL
#define GEN_DAY_MS       86400000LL
#define GEN_TZ_OFFSET_MS (8 * GEN_HOUR_MS) /* Asia/Shanghai */

typedef enum {
    GEN_DAY_WORK,    /* Monday to Friday, not a holiday */
    GEN_DAY_WEEKEND, /* Saturday, Sunday */
    GEN_DAY_HOLIDAY, /* a public holiday (also when it falls on a weekend) */
    GEN_DAY_MAKEUP,  /* a weekend day that is worked */
} gen_day_kind_t;

int64_t gen_days_from_civil(int y, int m, int d);
void gen_civil_from_days(int64_t day, int *y, int *m, int *d);
/* 0 Monday .. 6 Sunday */
int gen_weekday(int64_t day);
/* UTC milliseconds of a local day's ms_of_day. */
int64_t gen_local_ms(int64_t day, int64_t ms_of_day);
/* The local day of a UTC time. */
int64_t gen_day_of(int64_t utc_ms);
/* Parses YYYY-MM-DD (a real date). Returns false if it is not one. */
bool gen_parse_date(const char *text, int64_t *day);
/* YYYY-MM-DD */
void gen_format_date(int64_t day, char out[11]);
/* The first day of the month holding day, and of the next one. */
int64_t gen_month_start(int64_t day);
int64_t gen_next_month(int64_t day);
int64_t gen_quarter_start(int64_t day);
/* The kind of a day; *name is the holiday's name, or NULL. */
gen_day_kind_t gen_day_kind(int64_t day, const char **name);
bool gen_is_working(int64_t day);
/* True when the built-in official calendar covers the year (2025, 2026). */
bool gen_calendar_covers(int year);

/* ---- the model ----------------------------------------------------------------- */

typedef enum {
    GEN_AMOUNT_OUTLIER,
    GEN_DUPLICATE_ORDER,
    GEN_CUSTOMER_BURST,
    GEN_PERIOD_END_STUFFING,
    GEN_PADDING,
    GEN_NO_SALES_TRAIL,
    GEN_BENFORD,
    GEN_OVERDUE_COLLECTION,
    GEN_KIND_COUNT
} gen_kind_t;

/* Detector names, as the detectors and the labels spell them. */
extern const char *const gen_kind_names[GEN_KIND_COUNT];
/* What one unit of each kind's rate is an opportunity of. */
extern const char *const gen_kind_units[GEN_KIND_COUNT];
extern const double gen_kind_default_rates[GEN_KIND_COUNT];

typedef struct {
    uint64_t seed;
    int64_t start_day; /* first local day of the history */
    int64_t days;      /* its length */
    int regions;       /* regions under the company */
    int teams;         /* teams per region */
    int reps;          /* reps per team, on average (each team N-2..N+2) */
    double rate[GEN_KIND_COUNT];
    const char *out_path;    /* NULL: stdout */
    const char *labels_path; /* NULL: no labels file */
    bool stats;              /* a summary on stderr */
} gen_config_t;

enum { GEN_COMPANY, GEN_REGION, GEN_TEAM, GEN_REP };

typedef struct {
    char id[48];
    char name[96];
    char owner[48];
    uint8_t kind;
    int32_t parent;     /* node index, -1 for the company */
    int32_t region;     /* for teams and reps: the region node */
    int64_t defined_at; /* node_defined's occurred_at */

    /* reps */
    double ability;      /* deals per day relative to the average rep */
    double plan_ability; /* what management believes it is (targets use it) */
    double price_factor; /* the rep's pricing against list (discounting habit) */
    double new_rate;     /* new customers per working day */
    double under;        /* 1, or below 1 in the under-performing region */
    int64_t hired_day;   /* first working day; the history's start unless hired during it */
    int64_t moved_day;   /* 0, or the day the rep moves to team moved_to */
    int32_t moved_to;
    int32_t moved_from;
    bool benford; /* fabricates amounts (injection) */
    double benford_share;
    int32_t *book; /* customers the rep sells to (indices) */
    size_t nbook, capbook;
} gen_node_t;

typedef struct {
    int32_t rep;        /* the rep who owns the customer now */
    int64_t created_at; /* customer_created time; 0: in the book before the history */
    int64_t active_day; /* it buys from this day (after its first deal) */
    double weight;      /* purchase propensity */
    double size;        /* quantity multiplier */
    uint8_t line;       /* preferred product line */
    bool dormant;       /* no contact and no legitimate orders during the history */
    bool slow_payer;    /* pays late, within grace */
    bool fake;          /* created in a burst (injection) */
    bool standing;      /* repeat orders on a cadence */
    int32_t standing_qty;
    int64_t standing_price;
    int standing_cadence; /* days */
    int64_t standing_next;
    int64_t standing_change; /* day its quantity changes, 0 none */
    char name[96];
    uint32_t number; /* its id number, assigned at output */
} gen_customer_t;

/* Deal flags. */
enum {
    GEN_DEAL_STANDING = 1 << 0, /* a standing (repeat) order */
    GEN_DEAL_INBOUND = 1 << 1,  /* an unsolicited reorder with no trail */
    GEN_DEAL_INJECTED = 1 << 2, /* made by an injection */
    GEN_DEAL_TOUCHED = 1 << 3,  /* changed by an injection: not eligible for another */
    GEN_DEAL_SIBLING = 1 << 4,  /* a legitimate second order of the same day */
    GEN_DEAL_BIG = 1 << 5,      /* a legitimate key-account volume deal */
};

typedef struct {
    int64_t at;
    int64_t due_at; /* 0: none (paid on the spot) */
    int32_t rep, customer;
    int32_t quantity; /* 0: absent */
    uint8_t line;
    uint8_t flags;
    int64_t unit_price; /* fen, when quantity */
    int64_t amount, margin;

    /* follow-ups, drawn when the deal is made and written at output */
    int64_t pay_at;  /* first payment, 0: none */
    int64_t pay2_at; /* second instalment, 0: none */
    uint16_t pay1_permille;
    int64_t refund_at; /* 0: none */
    uint16_t refund_permille;
    uint8_t refund_reason;
    int64_t cancel_at; /* 0: none */
    uint8_t cancel_reason;

    uint32_t order_no; /* assigned at output */
    bool written;      /* its sale_closed is inside the history */
} gen_deal_t;

enum { GEN_ACT_VISIT, GEN_ACT_CALL, GEN_ACT_QUOTE, GEN_ACT_DEMO };

typedef struct {
    int64_t at;
    int32_t rep, customer;
    int32_t deal; /* -1, or the order it follows up */
    uint8_t kind;
} gen_activity_t;

enum { GEN_METRIC_REVENUE, GEN_METRIC_NEW_CUSTOMERS };

typedef struct {
    int64_t at;
    int32_t scope;
    uint8_t metric;
    bool adjusted; /* target_adjusted instead of target_set */
    int adj_no;
    char period[12];
    int64_t floor, target, stretch;
    char author[48];
    char reason[320];
} gen_target_t;

/* A piece of evidence: which event of which record. */
enum { GEN_REF_SALE, GEN_REF_REVERSAL, GEN_REF_CUSTOMER };

typedef struct {
    uint8_t what;
    int32_t index; /* deal or customer */
} gen_ref_t;

typedef struct {
    uint8_t kind;
    int32_t rep;      /* -1 none */
    int32_t customer; /* -1 none */
    gen_ref_t *refs;
    size_t nrefs, caprefs;
    char note[320];
} gen_label_t;

typedef struct {
    const char *id;
    const char *name;
    double popularity;
    double unit_median; /* yuan per unit; or per deal without quantity */
    double unit_sigma;  /* lognormal sigma of the unit price */
    double qty_median;  /* 0: sold without quantity */
    double qty_sigma;
    int terms_days;    /* payment terms */
    double cash_share; /* share sold for cash: no due_at */
    double margin_rate;
    double standing_share; /* share of its customers on repeat orders */
} gen_line_t;

#define GEN_LINE_COUNT 5
extern const gen_line_t gen_lines[GEN_LINE_COUNT];

typedef struct {
    gen_config_t cfg;
    gen_rng_t base, inject;
    int64_t end_day;    /* first day after the history */
    int64_t t0, t_end;  /* the history: [t0, t_end) UTC ms */
    int64_t plan_first; /* days covered by targets: the quarters of the history */
    int64_t plan_last;  /* exclusive */
    double *day_factor; /* deal intensity per day, from plan_first */

    gen_node_t *nodes;
    size_t nnodes, capnodes;
    gen_customer_t *customers;
    size_t ncustomers, capcustomers;
    gen_deal_t *deals;
    size_t ndeals, capdeals;
    gen_activity_t *acts;
    size_t nacts, capacts;
    gen_target_t *targets;
    size_t ntargets, captargets;
    gen_label_t *labels;
    size_t nlabels, caplabels;

    uint64_t *people; /* hashes of the people's ids taken (gen_world.c) */
    size_t npeople, cappeople;

    int32_t hire;            /* the rep hired during the history, -1 none */
    int32_t mover;           /* the rep moved to another team, -1 none */
    int32_t under_region;    /* the under-performing region node */
    double revenue_per_unit; /* fen per unit of expected deal intensity, for plans */
    double *plan;            /* per rep and planned month: expected revenue (fen) */
    size_t plan_months;
} gen_world_t;

/* Grows an array by one zeroed element and returns its index; exits on no memory. */
size_t gen_grow(void **items, size_t *count, size_t *cap, size_t size);
#define GEN_PUSH(w, arr)                                                                           \
    gen_grow((void **)&(w)->arr, &(w)->n##arr, &(w)->cap##arr, sizeof *(w)->arr)

/* gen_world.c */
void gen_world_init(gen_world_t *w, const gen_config_t *cfg);
void gen_world_destroy(gen_world_t *w);
void gen_world_build(gen_world_t *w);
void gen_world_simulate(gen_world_t *w);
void gen_world_plan(gen_world_t *w);

/* Record makers shared with the injections: each draws from rng. */
int32_t gen_customer_new(gen_world_t *w, gen_rng_t *rng, int32_t rep, int64_t at, bool existing);
/* A deal of rep for customer on day, priced as the world prices it; no trail, no follow-ups. */
int32_t gen_deal_new(gen_world_t *w, gen_rng_t *rng, int32_t rep, int32_t customer, int line,
                     int64_t day);
void gen_deal_reprice(gen_world_t *w, int32_t deal, int64_t unit_price);
/* Activities before a deal: count of them within the `span` days before it. */
void gen_deal_trail(gen_world_t *w, gen_rng_t *rng, int32_t deal, int count, int span);
/* Due date and payments (no refund, no cancellation). */
void gen_deal_terms(gen_world_t *w, gen_rng_t *rng, int32_t deal);
void gen_activity_new(gen_world_t *w, int64_t at, int32_t rep, int32_t customer, int32_t deal,
                      int kind);
int64_t gen_business_time(gen_rng_t *rng, int64_t day);
int gen_pick_line(gen_rng_t *rng);
/* A customer of rep's book that buys on day (weighted); -1 if none. */
int32_t gen_pick_customer(gen_world_t *w, gen_rng_t *rng, int32_t rep, int64_t day);
/* The typical deal amount of a line (median, fen). */
double gen_line_typical_amount(int line);
/* Index of the month of day in w->plan. */
size_t gen_plan_month(const gen_world_t *w, int64_t day);
/* The rep's team on a day. */
int32_t gen_rep_team(const gen_world_t *w, int32_t rep, int64_t day);
bool gen_rep_active(const gen_world_t *w, int32_t rep, int64_t day);

/* gen_inject.c */
void gen_inject(gen_world_t *w);
gen_label_t *gen_label_new(gen_world_t *w, int kind, int32_t rep, int32_t customer);
void gen_label_add(gen_world_t *w, gen_label_t *label, int what, int32_t index);

/* gen_output.c: writes the events, then the labels. Returns 0, or -1 with a
   message on stderr. */
int gen_output(gen_world_t *w, FILE *events, FILE *labels);

#endif
