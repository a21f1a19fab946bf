/*  pacer-gen: a realistic sales history as JSON Lines, with labelled anomalies.

    Writes the events of docs/EVENTS.md in occurred_at order, ready for
    `pacer append`, and, with --labels, one JSON line per injected anomaly:

      {"detector": NAME, "event_ids": [...], "rep": ID or null,
       "customer": ID or null, "at": MS, "note": TEXT}

    The same options and seed give byte-identical output. How the history is
    made is in gen_world.c, the anomalies in gen_inject.c, the ids in
    gen_output.c; docs/GENERATOR.md describes all of it for users. */

#include "clients/gen/gen.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
usage(FILE *out)
{
    fputs("usage: pacer-gen [OPTIONS]\n"
          "\n"
          "Write a realistic sales history (organisation, calendar, targets, customers,\n"
          "activities, sales, refunds, cancellations, payments) as JSON Lines in occurred_at\n"
          "order, ready for `pacer append`, with anomalies injected for the fraud detectors\n"
          "and their ground truth written to --labels. Same options and seed, same bytes.\n"
          "\n"
          "  --seed N          random seed (default 1)\n"
          "  --start DATE      first day, YYYY-MM-DD, Asia/Shanghai (default 2026-01-01)\n"
          "  --months N        history length in months (default 3)\n"
          "  --days N          history length in days, instead of --months\n"
          "  --regions N       regions under the company (default 3)\n"
          "  --teams N         teams per region (default 3)\n"
          "  --reps N          reps per team on average; each team has N-2..N+2 (default 8)\n"
          "  --rate R          injection rate of every kind (each kind's default below)\n"
          "  --rate-KIND R     injection rate of one kind, e.g. --rate-duplicate_order 0.01\n"
          "  --clean           inject nothing (all rates 0)\n"
          "  --labels FILE     write the labels of the injected anomalies to FILE\n"
          "  --out FILE        write the events to FILE (default: standard output)\n"
          "  --stats           print counts of events and labels on standard error\n"
          "  --help            this text\n"
          "\n"
          "Rates are per opportunity, and each kind counts its own opportunities; the number\n"
          "injected is rate x opportunities, rounded, at least 1 when the rate is above 0:\n"
          "\n",
          out);
    for (int k = 0; k < GEN_KIND_COUNT; k++)
        fprintf(out, "  %-20s %-6g per %s\n", gen_kind_names[k], gen_kind_default_rates[k],
                gen_kind_units[k]);
    fputs("\n"
          "What each injection writes, and its evidence (event_ids, in occurred_at order;\n"
          "`at` is the first one's occurred_at):\n"
          "\n"
          "  amount_outlier       a deal's unit price (services: its amount) set 6-9 sigma of its\n"
          "                       line's log-price spread above (80%) or below the line's median,\n"
          "                       at most 60x. Evidence: the sale_closed.\n"
          "  duplicate_order      a deal booked again 2 min-48 h later under a new order id, same\n"
          "                       rep, customer, line, quantity and amount; 45% of the copies\n"
          "                       cancelled later. Evidence: the original sale, then the copy.\n"
          "  customer_burst       7-14 customer_created by one rep in one session of a day (the\n"
          "                       usual rate is 0.1-0.4 a day, at most 4; 5 for a new hire).\n"
          "                       Evidence: those customer_created.\n"
          "  period_end_stuffing  4-7 deals (40-80% of the rep's monthly plan) in the last 3\n"
          "                       working days of a month, at least 3 of them (75-100%)\n"
          "                       cancelled or refunded in the next month's first 8 working\n"
          "                       days. Evidence: the sales and the reversals.\n"
          "  padding              rep A's order fully refunded or cancelled, then booked again\n"
          "                       for the same customer at 97-103% by teammate B within 3 days;\n"
          "                       in 30% the customer bounces on between them. Evidence: every\n"
          "                       sale and reversal of the chain; rep is the last booker.\n"
          "  no_sales_trail       a deal of 6-15x the line's typical amount for a customer with\n"
          "                       no activity in the 90 days before. Evidence: the sale.\n"
          "  benford              a rep types 75-100% of their deals as round figures (3\n"
          "                       significant digits, few leading 1s). Evidence: every typed\n"
          "                       sale_closed; rep.\n"
          "  overdue_collection   a deal due 30+ days before the end of the history is never paid\n"
          "                       (legitimate payments are at most 7 days late). Evidence: the\n"
          "                       sale_closed.\n"
          "\n"
          "Deal injections start after the first 21 days (a detector's warm-up), bursts after\n"
          "a rep's first 20. docs/GENERATOR.md has the details and the legitimate near misses.\n",
          out);
}

static bool
parse_uint(const char *name, const char *text, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "pacer-gen: --%s: expected an integer from %lld to %lld, got \"%s\"\n",
                name, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_rate(const char *name, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0 && v <= 1)) {
        fprintf(stderr, "pacer-gen: --%s: expected a rate from 0 to 1, got \"%s\"\n", name, text);
        return false;
    }
    *out = v;
    return true;
}

enum {
    OPT_SEED = 256,
    OPT_START,
    OPT_MONTHS,
    OPT_DAYS,
    OPT_REGIONS,
    OPT_TEAMS,
    OPT_REPS,
    OPT_RATE,
    OPT_CLEAN,
    OPT_LABELS,
    OPT_OUT,
    OPT_STATS,
    OPT_HELP,
    OPT_RATE_KIND, /* + kind */
};

/* Returns 0 to run, 1 after --help, -1 on a usage error. */
static int
parse(int argc, char **argv, gen_config_t *cfg)
{
    static char rate_names[GEN_KIND_COUNT][40];
    struct option options[16 + GEN_KIND_COUNT] = {
        {"seed", required_argument, NULL, OPT_SEED},
        {"start", required_argument, NULL, OPT_START},
        {"months", required_argument, NULL, OPT_MONTHS},
        {"days", required_argument, NULL, OPT_DAYS},
        {"regions", required_argument, NULL, OPT_REGIONS},
        {"teams", required_argument, NULL, OPT_TEAMS},
        {"reps", required_argument, NULL, OPT_REPS},
        {"rate", required_argument, NULL, OPT_RATE},
        {"clean", no_argument, NULL, OPT_CLEAN},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"out", required_argument, NULL, OPT_OUT},
        {"stats", no_argument, NULL, OPT_STATS},
        {"help", no_argument, NULL, OPT_HELP},
    };
    size_t nopt = 13;
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        snprintf(rate_names[k], sizeof rate_names[k], "rate-%s", gen_kind_names[k]);
        options[nopt++] =
            (struct option){rate_names[k], required_argument, NULL, OPT_RATE_KIND + k};
    }
    options[nopt] = (struct option){NULL, 0, NULL, 0};

    long long months = 3, days = 0, v;
    bool clean = false;
    double rate_all = -1, rate_kind[GEN_KIND_COUNT];
    for (int k = 0; k < GEN_KIND_COUNT; k++)
        rate_kind[k] = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "pacer-gen: --seed: expected an unsigned integer, got \"%s\"\n",
                        optarg);
                return -1;
            }
            cfg->seed = seed;
            break;
        }
        case OPT_START:
            if (!gen_parse_date(optarg, &cfg->start_day)) {
                fprintf(stderr, "pacer-gen: --start: expected a date YYYY-MM-DD, got \"%s\"\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_MONTHS:
            if (!parse_uint("months", optarg, 1, 120, &months))
                return -1;
            days = 0;
            break;
        case OPT_DAYS:
            if (!parse_uint("days", optarg, 1, 3660, &days))
                return -1;
            break;
        case OPT_REGIONS:
            if (!parse_uint("regions", optarg, 1, 50, &v))
                return -1;
            cfg->regions = (int)v;
            break;
        case OPT_TEAMS:
            if (!parse_uint("teams", optarg, 1, 50, &v))
                return -1;
            cfg->teams = (int)v;
            break;
        case OPT_REPS:
            if (!parse_uint("reps", optarg, 1, 60, &v))
                return -1;
            cfg->reps = (int)v;
            break;
        case OPT_RATE:
            if (!parse_rate("rate", optarg, &rate_all))
                return -1;
            break;
        case OPT_CLEAN:
            clean = true;
            break;
        case OPT_LABELS:
            cfg->labels_path = optarg;
            break;
        case OPT_OUT:
            cfg->out_path = optarg;
            break;
        case OPT_STATS:
            cfg->stats = true;
            break;
        case OPT_HELP:
            return 1;
        default:
            if (opt >= OPT_RATE_KIND && opt < OPT_RATE_KIND + GEN_KIND_COUNT) {
                if (!parse_rate(rate_names[opt - OPT_RATE_KIND], optarg,
                                &rate_kind[opt - OPT_RATE_KIND]))
                    return -1;
                break;
            }
            return -1; /* getopt_long said what */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pacer-gen: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (cfg->regions * cfg->teams > 256) {
        fprintf(stderr, "pacer-gen: at most 256 teams in all (--regions x --teams)\n");
        return -1;
    }
    if (days == 0) {
        /* The same day of the month `months` later, or that month's last day. */
        int y, m, d;
        gen_civil_from_days(cfg->start_day, &y, &m, &d);
        int month = m - 1 + (int)months;
        int64_t first = gen_days_from_civil(y + month / 12, month % 12 + 1, 1);
        int64_t last = gen_next_month(first) - 1;
        int64_t end = first + d - 1;
        days = (end > last ? last : end) - cfg->start_day;
    }
    cfg->days = days;
    for (int k = 0; k < GEN_KIND_COUNT; k++)
        cfg->rate[k] = clean               ? 0
                       : rate_kind[k] >= 0 ? rate_kind[k]
                       : rate_all >= 0     ? rate_all
                                           : gen_kind_default_rates[k];
    return 0;
}

static FILE *
open_out(const char *path, const char *what)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "pacer-gen: cannot write %s %s: %s\n", what, path, strerror(errno));
    return f;
}

static bool
close_out(FILE *f, const char *path)
{
    bool ok = fflush(f) == 0 && !ferror(f);
    if (f != stdout)
        ok = fclose(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "pacer-gen: cannot write %s: %s\n", path ? path : "standard output",
                strerror(errno));
    return ok;
}

int
main(int argc, char **argv)
{
    gen_config_t cfg = {
        .seed = 1,
        .regions = 3,
        .teams = 3,
        .reps = 8,
    };
    gen_parse_date("2026-01-01", &cfg.start_day);
    int rc = parse(argc, argv, &cfg);
    if (rc > 0) {
        usage(stdout);
        return 0;
    }
    if (rc < 0) {
        fputs("Try 'pacer-gen --help'.\n", stderr);
        return 2;
    }
    for (int64_t d = cfg.start_day; d < cfg.start_day + cfg.days; d += 28) {
        int y, m, dd;
        gen_civil_from_days(d, &y, &m, &dd);
        if (!gen_calendar_covers(y)) {
            fprintf(stderr, "pacer-gen: note: no official holiday calendar for %d; weekends only\n",
                    y);
            break;
        }
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    gen_world_t w;
    gen_world_init(&w, &cfg);
    gen_world_build(&w);
    gen_world_simulate(&w);
    gen_world_plan(&w);
    gen_inject(&w);

    FILE *events = cfg.out_path ? open_out(cfg.out_path, "events to") : stdout;
    FILE *labels = cfg.labels_path ? open_out(cfg.labels_path, "labels to") : NULL;
    int status = 0;
    if (!events || (cfg.labels_path && !labels))
        status = 2;
    else {
        static char buffer[1 << 20];
        setvbuf(events, buffer, _IOFBF, sizeof buffer);
        if (gen_output(&w, events, labels) != 0)
            status = 1;
    }
    if (events && !close_out(events, cfg.out_path))
        status = 2;
    if (labels && !close_out(labels, cfg.labels_path))
        status = 2;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (cfg.stats)
        fprintf(stderr, "pacer-gen: %lld days, %zu nodes, %zu customers, generated in %.2f s\n",
                (long long)cfg.days, w.nnodes, w.ncustomers,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    gen_world_destroy(&w);
    return status;
}
