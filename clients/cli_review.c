/*  cli_review: `pacer report --period P --scope S`, the period review (复盘).

    One pass of queries on the query endpoint, over one connection:

      status           the daemon's zone: every time is shown in it
      progress         the scope and everything under it, for the metric:
                       the headline figures and attainment by level
      daily            the scope's key day by day: the burn-up chart
                       (PROTOCOL.md, "daily")
      alerts           the lag rules' alerts under the scope's path (one
                       topic prefix per rule) and the anomaly flags (all,
                       kept when their topic names a path under the scope),
                       kept when their key's period lies in this one (lag)
                       or they were raised in it (anomalies)
      alerts_active    which of those still fire, and their silences
      progress         every metric of the period under the scope, and
      target_history   per target key: the changes made to targets
      progress x 2     the scope and its children in the previous period
                       and the same period a year earlier

    and the answers laid out as a review_t (cli_review.h) for a renderer.
    The whole review reflects the log as it stood at the first query;
    appends meanwhile may show in later sections (seq is printed). */

#include "clients/cli_commands.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "clients/cli_figure.h"
#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_review.h"
#include "clients/cli_table.h"
#include "clients/cli_time.h"
#include "clients/libpacer.h"
#include "clients/libpacer_alert.h"
#include "projections/calendar.h"

enum {
    OPT_PERIOD = CLI_OPT_FIRST_OWN,
    OPT_SCOPE,
    OPT_METRIC,
    OPT_PRODUCT_LINE,
    OPT_FORMAT,
    OPT_OUT,
    OPT_NOW,
    OPT_JSON
};

static const char *const LAG_RULES[] = {"at_risk",        "behind",   "momentum",
                                        "forecast_floor", "achieved", "stretch_achieved"};
#define NLAG (sizeof LAG_RULES / sizeof *LAG_RULES)

static const char *const KINDS[] = {"company", "region", "team", "rep"};
static const char *const KIND_TITLES[] = {"Company", "Regions", "Teams", "Reps"};
static const char *const KIND_IDS[] = {"companies", "regions", "teams", "reps"};

typedef struct {
    cli_options_t common;
    const char *period, *scope, *metric, *product_line, *format, *out_path;
    bool has_now;
    int64_t now;
    pacer_client_t *client;
    calendar_t *calendar;
    zhashx_t *ranges; /* period name -> int64_t[2], for alert keys' periods */
    review_t review;
    cli_reply_t progress; /* the scope's rows, kept for the comparison */
    const msgpack_object *scope_row;
} report_t;

/* An alert key's records, oldest first. */
typedef struct {
    const pacer_alert_t *first, *last;
    const pacer_alert_t *resolved; /* the last resolved record, if any */
    size_t records;
} alert_group_t;

static void
report_usage(FILE *out)
{
    fputs("usage: pacer report --period P [--scope S] [--metric M] [--product-line L]\n"
          "       [--format html|md|csv|json] [--out FILE] [--now TIME] [--json]\n"
          "\n"
          "The period review (复盘) of a scope: headline figures, the burn-up chart of its\n"
          "key, attainment by level (company, regions, teams, reps), who fell behind and\n"
          "when, the alerts and anomaly flags of the period with their resolution, every\n"
          "change to a target with its author and reason, and the comparison with the\n"
          "previous period and the same period a year earlier. Money in major units with\n"
          "its currency, times in pacerd's zone.\n"
          "\n"
          "  --period P          2026-11, 2026-Q4, FY2026, ... (required)\n"
          "  --scope S           a node id or path (default: the company)\n"
          "  --metric M          the metric reviewed (default revenue)\n"
          "  --product-line L    the keys of one product line\n"
          "  --format F          html (default): one self-contained page, inline CSS and SVG,\n"
          "                      no script, prints to PDF; md, csv: the same tables; json:\n"
          "                      the raw figures. Default from --out's extension\n"
          "  --out FILE          write to FILE instead of standard output\n"
          "  --now TIME          figures as of TIME (default: pacerd's clock)\n"
          "  --json              the same as --format json\n"
          "\n" CLI_TIME_HELP "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

/* ---------------------------------------------------------------------
   Queries */

/* Send `request` on the query endpoint. CLI_EXIT_OK with *reply filled,
   else the exit status after printing why (unless quiet: a refusal is
   then only returned, as CLI_EXIT_REJECTED). */
static int
query(report_t *self, cli_map_t *request, cli_reply_t *reply, bool quiet)
{
    memset(reply, 0, sizeof *reply);
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    bool packed = cli_map_finish(request, &body);
    cli_map_destroy(request);
    int rc = packed ? pacer_request(self->client, PACER_ENDPOINT_QUERY, body.data, body.size,
                                    &reply->raw)
                    : PACER_ENOMEM;
    msgpack_sbuffer_destroy(&body);
    if (rc != PACER_OK) {
        if (!quiet || rc != PACER_EREFUSED)
            cli_options_error(&self->common, "%s", pacer_client_error(self->client));
        return rc == PACER_EREFUSED ? CLI_EXIT_REJECTED : CLI_EXIT_FAILED;
    }
    msgpack_unpacked_init(&reply->unpacked);
    if (msgpack_unpack_next(&reply->unpacked, (const char *)pacer_reply_data(reply->raw),
                            pacer_reply_size(reply->raw), NULL) != MSGPACK_UNPACK_SUCCESS) {
        cli_reply_done(reply);
        cli_options_error(&self->common, "out of memory reading a reply");
        return CLI_EXIT_FAILED;
    }
    reply->body = &reply->unpacked.data;
    return CLI_EXIT_OK;
}

/* A progress request for the scope, in `period`, of the report's metric
   (or every metric when `metric` is NULL). */
static int
query_progress(report_t *self, const char *scope, const char *period, const char *metric,
               cli_reply_t *reply, bool quiet)
{
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "progress");
    cli_map_str(&request, "scope", scope);
    cli_map_str(&request, "period", period);
    cli_map_str(&request, "metric", metric);
    cli_map_str(&request, "product_line", self->product_line);
    cli_map_int(&request, "limit", 100000);
    if (self->has_now)
        cli_map_int(&request, "now", self->now);
    return query(self, &request, reply, quiet);
}

static uint32_t
array_size(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : 0;
}

static const msgpack_object *
array_at(const msgpack_object *o, uint32_t i)
{
    return &o->via.array.ptr[i];
}

static bool
str_is(const msgpack_object *map, const char *key, const char *want)
{
    char buf[600];
    return cli_reply_str(map, key, buf, sizeof buf) && strcmp(buf, want) == 0;
}

/* The [start, end) of a period, as pacerd counts it; cached. */
static bool
period_range(report_t *self, const char *name, int64_t range[2])
{
    int64_t *known = zhashx_lookup(self->ranges, name);
    if (!known) {
        known = calloc(2, sizeof *known);
        if (!known)
            return false;
        known[0] = INT64_MAX; /* unknown: contains nothing */
        known[1] = INT64_MIN;
        cli_map_t request;
        cli_map_init(&request);
        cli_map_str(&request, "op", "daily");
        cli_map_str(&request, "scope", self->review.scope);
        cli_map_str(&request, "metric", self->review.metric);
        cli_map_str(&request, "period", name);
        cli_reply_t reply;
        if (query(self, &request, &reply, true) == CLI_EXIT_OK) {
            cli_reply_int(reply.body, "period_start", &known[0]);
            cli_reply_int(reply.body, "period_end", &known[1]);
            cli_reply_done(&reply);
        }
        zhashx_insert(self->ranges, name, known);
    }
    range[0] = known[0];
    range[1] = known[1];
    return range[0] < range[1];
}

/* ---------------------------------------------------------------------
   Formatting */

static const char *
row_currency(report_t *self, const msgpack_object *row, char out[8])
{
    if (!cli_reply_str(row, "currency", out, 8) || !out[0])
        snprintf(out, 8, "%s", self->review.currency);
    return out;
}

/* A figure of a row in its metric's unit; "" when absent. */
static void
figure_of(report_t *self, const msgpack_object *row, const char *key, bool with_code, char *out,
          size_t outlen, json_t **value)
{
    char metric[80], currency[8];
    int64_t v;
    double d;
    out[0] = 0;
    if (value)
        *value = NULL;
    cli_reply_str(row, "metric", metric, sizeof metric);
    row_currency(self, row, currency);
    if (cli_reply_int(row, key, &v)) {
        cli_figure_format(v, metric, currency, with_code, out, outlen);
        if (value)
            *value = json_integer(v);
    } else if (cli_reply_double(row, key, &d)) {
        cli_figure_format_d(d, metric, currency, with_code, out, outlen);
        if (value)
            *value = json_real(d);
    }
}

static void
percent_of(const msgpack_object *row, const char *key, char *out, size_t outlen, json_t **value)
{
    double d;
    out[0] = 0;
    *value = NULL;
    if (cli_reply_double(row, key, &d)) {
        cli_format_percent(d, out, outlen);
        *value = json_real(d);
    }
}

/* "2026-11-04 18:00": in the daemon's zone, which the heading names, so
   the offset is left out of the tables. */
static void
time_text(int64_t ms, char *out, size_t outlen)
{
    if (!ms) {
        snprintf(out, outlen, "-");
        return;
    }
    cli_time_format(ms, out, outlen);
    char *offset = strlen(out) > 16 ? strpbrk(out + 16, "+-Z") : NULL;
    if (offset)
        *offset = 0;
}

/* A summary without its subject ("acme/east revenue 2026-11: ", or the
   detector's name): the table's other columns say it. */
static const char *
summary_body(const char *summary)
{
    const char *colon = strstr(summary, ": ");
    return colon ? colon + 2 : summary;
}

static json_t *
json_str_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : NULL;
}

/* ---------------------------------------------------------------------
   The headline and the levels */

static void
card(review_t *r, const char *label, const char *value, const char *detail, const char *tone)
{
    if (r->ncards == REVIEW_MAX_CARDS)
        return;
    review_card_t *c = &r->cards[r->ncards++];
    snprintf(c->label, sizeof c->label, "%s", label);
    snprintf(c->value, sizeof c->value, "%s", value);
    snprintf(c->detail, sizeof c->detail, "%s", detail ? detail : "");
    c->tone = tone;
}

static const char *
status_tone(const msgpack_object *row, char *buf, size_t buflen)
{
    if (!cli_reply_str(row, "status", buf, buflen) || !buf[0])
        return NULL;
    static const char *const known[] = {"on_track", "at_risk", "behind", "achieved",
                                        "stretch_achieved"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(buf, known[i]))
            return known[i];
    return NULL;
}

static void
headline(report_t *self, const msgpack_object *row)
{
    review_t *r = &self->review;
    char actual[96], target[96], floor_[96], stretch[96], forecast[96], pct[32], pace[32],
        status[32] = "", tier[16] = "", detail[256];
    figure_of(self, row, "actual", true, actual, sizeof actual, NULL);
    figure_of(self, row, "target", true, target, sizeof target, NULL);
    figure_of(self, row, "floor", true, floor_, sizeof floor_, NULL);
    figure_of(self, row, "stretch", true, stretch, sizeof stretch, NULL);
    figure_of(self, row, "forecast", true, forecast, sizeof forecast, NULL);
    const char *tone = status_tone(row, status, sizeof status);
    cli_reply_str(row, "tier", tier, sizeof tier);
    double d;
    bool has_target = false;
    cli_reply_bool(row, "has_target", &has_target);
    snprintf(detail, sizeof detail, has_target ? "target %s" : "no target of its own", target);
    card(r, "Actual", actual, detail, NULL);
    if (!has_target)
        return;
    json_t *ignored;
    percent_of(row, "attainment", pct, sizeof pct, &ignored);
    json_decref(ignored);
    snprintf(detail, sizeof detail, "tier reached: %s", tier[0] ? tier : "none");
    card(r, "Attainment", pct[0] ? pct : "-", detail, tone);
    pace[0] = 0;
    if (cli_reply_double(row, "pace_ratio", &d))
        cli_format_ratio(d, pace, sizeof pace);
    for (char *c = status; *c; c++)
        *c = *c == '_' ? ' ' : *c;
    snprintf(detail, sizeof detail, "pace ratio %s (actual / expected by now)",
             pace[0] ? pace : "-");
    card(r, "Status", status[0] ? status : "-", detail, tone);
    snprintf(detail, sizeof detail, "floor %s, stretch %s", floor_[0] ? floor_ : "-",
             stretch[0] ? stretch : "-");
    card(r, "Forecast", forecast[0] ? forecast : "-", detail, NULL);
}

/* One table per level under the scope, best attainment first. */
typedef struct {
    const msgpack_object *row;
    double attainment;
    bool has;
} ranked_t;

static int
ranked_cmp(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->has != y->has)
        return x->has ? -1 : 1;
    if (x->has && x->attainment != y->attainment)
        return x->attainment > y->attainment ? -1 : 1;
    return 0;
}

static void
level_tables(report_t *self, const msgpack_object *rows)
{
    static const char *const names[] = {"NAME",       "PATH", "ACTUAL", "TARGET",
                                        "ATTAINMENT", "PACE", "STATUS", "FORECAST"};
    static const char *const keys[] = {"name",       "path",       "actual", "target",
                                       "attainment", "pace_ratio", "status", "forecast"};
    uint32_t n = array_size(rows);
    ranked_t *ranked = calloc(n + 1, sizeof *ranked);
    if (!ranked)
        return;
    for (int k = 0; k < 4; k++) {
        size_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object *row = array_at(rows, i);
            if (!str_is(row, "kind", KINDS[k]))
                continue;
            ranked[m].row = row;
            ranked[m].has = cli_reply_double(row, "attainment", &ranked[m].attainment);
            m++;
        }
        if (!m)
            continue;
        qsort(ranked, m, sizeof *ranked, ranked_cmp);
        char title[160];
        bool money = cli_figure_unit(self->review.metric) == FIGURE_MONEY;
        if (money && self->review.currency[0])
            snprintf(title, sizeof title, "%s (%s, %s)", KIND_TITLES[k], self->review.metric,
                     self->review.currency);
        else
            snprintf(title, sizeof title, "%s (%s)", KIND_TITLES[k], self->review.metric);
        review_table_t *t =
            review_table_new(&self->review, KIND_IDS[k], title, 8, names, keys, "llrrlrlr");
        if (!t)
            break;
        for (size_t i = 0; i < m; i++) {
            const msgpack_object *row = ranked[i].row;
            char name[300], path[512], text[96], status[32];
            json_t *v;
            cli_reply_str(row, "name", name, sizeof name);
            cli_reply_str(row, "path", path, sizeof path);
            review_cell(t, name, json_str_or_null(name));
            review_cell(t, path, json_string(path));
            figure_of(self, row, "actual", false, text, sizeof text, &v);
            review_cell(t, text, v);
            figure_of(self, row, "target", false, text, sizeof text, &v);
            review_cell(t, text[0] ? text : "-", v);
            const char *tone = status_tone(row, status, sizeof status);
            percent_of(row, "attainment", text, sizeof text, &v);
            int64_t expected = 0, target = 0;
            double marker = NAN;
            if (cli_reply_int(row, "expected", &expected) &&
                cli_reply_int(row, "target", &target) && target > 0)
                marker = (double)expected / (double)target;
            if (ranked[i].has)
                review_cell_bar(t, text, v, ranked[i].attainment, marker, tone);
            else
                review_cell(t, "", v);
            double pace;
            text[0] = 0;
            if (cli_reply_double(row, "pace_ratio", &pace))
                cli_format_ratio(pace, text, sizeof text);
            review_cell(t, text, text[0] ? json_real(pace) : NULL);
            bool has_target = false;
            cli_reply_bool(row, "has_target", &has_target);
            review_cell_tone(t, has_target ? status : "(no target)", json_str_or_null(status),
                             tone);
            figure_of(self, row, "forecast", false, text, sizeof text, &v);
            review_cell(t, text, v);
        }
    }
    free(ranked);
}

/* ---------------------------------------------------------------------
   The burn-up */

static int
burnup(report_t *self)
{
    review_t *r = &self->review;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "daily");
    cli_map_str(&request, "scope", r->scope);
    cli_map_str(&request, "metric", r->metric);
    cli_map_str(&request, "period", r->period);
    cli_map_str(&request, "product_line", self->product_line);
    cli_reply_t reply;
    int status = query(self, &request, &reply, false);
    if (status != CLI_EXIT_OK)
        return status;
    const msgpack_object *days = cli_reply_get(reply.body, "days");
    review_chart_t *c = &r->chart;
    size_t n = array_size(days);
    c->dates = calloc(n + 1, sizeof *c->dates);
    c->cumulative = calloc(n + 1, sizeof *c->cumulative);
    c->expected = calloc(n + 1, sizeof *c->expected);
    c->working = calloc(n + 1, sizeof *c->working);
    static const char *const names[] = {"DATE", "DAY", "CUMULATIVE", "PACE (EXPECTED)", "NOTE"};
    static const char *const keys[] = {"date", "actual", "cumulative", "expected", "note"};
    review_table_t *t = review_table_new(r, "burnup", "Burn-up", 5, names, keys, "lrrrl");
    if (!c->dates || !c->cumulative || !c->expected || !c->working || !t) {
        cli_reply_done(&reply);
        cli_options_error(&self->common, "out of memory");
        return CLI_EXIT_FAILED;
    }
    c->has_target = cli_reply_int(reply.body, "target", &c->target);
    c->has_floor = cli_reply_int(reply.body, "floor", &c->floor);
    c->has_stretch = cli_reply_int(reply.body, "stretch", &c->stretch);
    c->has_forecast = cli_reply_int(self->scope_row, "forecast", &c->forecast);
    c->ndays = n;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *day = array_at(days, (uint32_t)i);
        int64_t start = 0, actual = 0;
        cli_reply_str(day, "date", c->dates[i], sizeof c->dates[i]);
        cli_reply_int(day, "start", &start);
        cli_reply_int(day, "cumulative", &c->cumulative[i]);
        cli_reply_int(day, "expected", &c->expected[i]);
        cli_reply_bool(day, "working", &c->working[i]);
        if (start <= r->now)
            c->shown = i + 1;
        char text[96];
        json_t *v;
        review_cell(t, c->dates[i], json_string(c->dates[i]));
        bool has_day = cli_reply_int(day, "actual", &actual);
        cli_figure_format(actual, r->metric, r->currency, false, text, sizeof text);
        review_cell(t, has_day ? text : "", has_day ? json_integer(actual) : NULL);
        v = start <= r->now ? json_integer(c->cumulative[i]) : NULL;
        cli_figure_format(c->cumulative[i], r->metric, r->currency, false, text, sizeof text);
        review_cell(t, v ? text : "", v);
        cli_figure_format(c->expected[i], r->metric, r->currency, false, text, sizeof text);
        review_cell(t, c->has_target ? text : "",
                    c->has_target ? json_integer(c->expected[i]) : NULL);
        review_cell(t, c->working[i] ? "" : "day off",
                    json_str_or_null(c->working[i] ? "" : "day off"));
    }
    review_table_note(t,
                      "Cumulative %s by the end of each day (each sale on the day it occurred, "
                      "refunds on the sale's day) against the pace line%s.",
                      r->metric,
                      c->has_target ? ": the target spread over the working days" : " (no target)");
    cli_reply_done(&reply);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------------
   Alerts */

/* When the first event of an anomaly's evidence occurred (0: unknown):
   the day the suspicious sale was made, also when the flag was raised
   later (a history imported after the fact). */
static int64_t
evidence_time(report_t *self, const pacer_alert_t *a)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int64_t seq = 0, at = 0;
    if (msgpack_unpack_next(&u, (const char *)a->raw, a->raw_len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *evidence = cli_reply_get(&u.data, "evidence");
        if (array_size(evidence))
            cli_reply_int(array_at(evidence, 0), "seq", &seq);
    }
    msgpack_unpacked_destroy(&u);
    if (seq <= 0)
        return 0;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "events");
    cli_map_int(&request, "from", seq);
    cli_map_int(&request, "limit", 1);
    cli_reply_t reply;
    if (query(self, &request, &reply, true) != CLI_EXIT_OK)
        return 0;
    const msgpack_object *events = cli_reply_get(reply.body, "events");
    if (array_size(events))
        cli_reply_int(cli_reply_get(array_at(events, 0), "event"), "occurred_at", &at);
    cli_reply_done(&reply);
    return at;
}

/* Does the alert belong to the review: under the scope's path, and of
   this period (lag rules: the key's period lies in it; anomalies: the
   sale that makes the case happened in it, or, without one, the flag was
   raised in it)? */
static bool
alert_in_review(report_t *self, const pacer_alert_t *a, int64_t since)
{
    review_t *r = &self->review;
    const char *path = a->path;
    char from_topic[600];
    if (!path) { /* a review's record: the path is in the topic */
        const char *t = a->topic + strlen("alert/");
        if (!strncmp(t, "anomaly/", 8))
            t = strchr(t + 8, '/');
        else
            t = strchr(t, '/');
        snprintf(from_topic, sizeof from_topic, "%s", t ? t + 1 : "");
        size_t n = strlen(from_topic);
        if (n && from_topic[n - 1] == '/')
            from_topic[n - 1] = 0;
        path = from_topic;
    }
    size_t n = strlen(r->path);
    if (strncmp(path, r->path, n) != 0 || (path[n] != 0 && path[n] != '/'))
        return false;
    if (strncmp(a->rule, "anomaly/", 8) == 0) {
        int64_t when = evidence_time(self, a);
        if (!when)
            when = since;
        return when >= r->period_start && when < r->period_end;
    }
    int64_t range[2];
    return a->period && period_range(self, a->period, range) && range[0] >= r->period_start &&
           range[1] <= r->period_end;
}

/* Every alert record of the scope's prefixes, in aseq order. */
static int
fetch_alerts(report_t *self, zlistx_t *records)
{
    char prefixes[NLAG + 1][600];
    const char *list[NLAG + 1];
    for (size_t i = 0; i < NLAG; i++) {
        snprintf(prefixes[i], sizeof prefixes[i], "alert/%s/%s/", LAG_RULES[i], self->review.path);
        list[i] = prefixes[i];
    }
    snprintf(prefixes[NLAG], sizeof prefixes[NLAG], "alert/anomaly/");
    list[NLAG] = prefixes[NLAG];
    pacer_alerts_query_t q = {
        .from = 1, .prefixes = list, .prefix_count = NLAG + 1, .limit = PACER_ALERTS_MAX_LIMIT};
    for (;;) {
        pacer_alert_page_t *page = NULL;
        int rc = pacer_alerts(self->client, &q, &page);
        if (rc != PACER_OK) {
            cli_options_error(&self->common, "alerts: %s", pacer_client_error(self->client));
            return CLI_EXIT_FAILED;
        }
        for (size_t i = 0; i < pacer_alert_page_count(page); i++)
            zlistx_add_end(records, pacer_alert_page_take(page, i));
        bool end = pacer_alert_page_at_end(page);
        q.from = pacer_alert_page_next(page);
        pacer_alert_page_destroy(&page);
        if (end)
            return CLI_EXIT_OK;
    }
}

static void
alert_destructor(void **item)
{
    pacer_alert_destroy((pacer_alert_t **)item);
}

/* "behind/rep-42/revenue/2026-11" -> "rep-42/revenue/2026-11": the key of
   the target, shared by its rules. */
static const char *
target_part(const char *key)
{
    const char *slash = strchr(key, '/');
    return slash ? slash + 1 : key;
}

/* A target key's pace over the period, from its at_risk and behind
   records: the states it went through and when. */
#define CHANGES_MAX 24
typedef struct {
    char key[400];
    const pacer_alert_t *any; /* for the path, metric and period */
    bool at_risk, behind;     /* which of the two fire */
    const char *state;        /* "on track", "at risk", "behind" */
    int64_t fell_behind;      /* the first time it turned behind; 0: never */
    const char *closed;       /* the state the period ended in, or NULL */
    size_t nsteps;
    struct {
        const char *state;
        int64_t at;
    } steps[CHANGES_MAX];
} change_t;

static void
change_step(change_t *c, const pacer_alert_t *a, int64_t period_end)
{
    bool behind = !strcmp(a->rule, "behind");
    bool firing = !strcmp(a->state, "firing");
    if (!firing && strcmp(a->state, "resolved"))
        return;                           /* a repeat changes nothing */
    if (!firing && a->at >= period_end) { /* the period's end resolves what fires */
        if (!c->closed)
            c->closed = c->state;
        *(behind ? &c->behind : &c->at_risk) = false;
        return;
    }
    *(behind ? &c->behind : &c->at_risk) = firing;
    const char *state = c->behind ? "behind" : c->at_risk ? "at risk" : "on track";
    if (state == c->state)
        return;
    c->state = state;
    /* One evaluation may resolve one rule and fire the other (behind ->
       at risk): records of the same instant make one step. */
    if (c->nsteps && c->steps[c->nsteps - 1].at == a->at) {
        c->steps[c->nsteps - 1].state = state;
        const char *before = c->nsteps >= 2 ? c->steps[c->nsteps - 2].state : "on track";
        if (before == state)
            c->nsteps--;
    } else if (c->nsteps < CHANGES_MAX) {
        c->steps[c->nsteps].state = state;
        c->steps[c->nsteps++].at = a->at;
    }
    c->fell_behind = 0;
    for (size_t i = 0; i < c->nsteps && !c->fell_behind; i++)
        if (!strcmp(c->steps[i].state, "behind"))
            c->fell_behind = c->steps[i].at;
}

static int
change_cmp(const void *a, const void *b)
{
    const change_t *x = *(change_t *const *)a, *y = *(change_t *const *)b;
    int64_t fx = x->fell_behind ? x->fell_behind : INT64_MAX;
    int64_t fy = y->fell_behind ? y->fell_behind : INT64_MAX;
    if (fx != fy)
        return fx < fy ? -1 : 1;
    if (x->steps[0].at != y->steps[0].at)
        return x->steps[0].at < y->steps[0].at ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void
status_changes(report_t *self, zlistx_t *records)
{
    review_t *r = &self->review;
    zhashx_t *changes = zhashx_new();
    if (!changes)
        return;
    zhashx_set_destructor(changes, (zhashx_destructor_fn *)zstr_free);
    for (const pacer_alert_t *a = zlistx_first(records); a; a = zlistx_next(records)) {
        if (strcmp(a->rule, "behind") && strcmp(a->rule, "at_risk"))
            continue;
        const char *k = target_part(a->key);
        change_t *c = zhashx_lookup(changes, k);
        if (!c) {
            if (!(c = calloc(1, sizeof *c)))
                break;
            snprintf(c->key, sizeof c->key, "%s", k);
            c->any = a;
            c->state = "on track";
            zhashx_insert(changes, k, c);
        }
        int64_t range[2] = {0, INT64_MAX};
        if (a->period)
            period_range(self, a->period, range);
        change_step(c, a, range[1]);
    }
    size_t n = zhashx_size(changes), m = 0;
    change_t **sorted = calloc(n + 1, sizeof *sorted);
    for (change_t *c = zhashx_first(changes); sorted && c; c = zhashx_next(changes))
        if (c->nsteps)
            sorted[m++] = c;
    if (m)
        qsort(sorted, m, sizeof *sorted, change_cmp);
    static const char *const names[] = {"WHO",         "METRIC",   "PERIOD",
                                        "FELL BEHIND", "TIMELINE", "AT THE END / NOW"};
    static const char *const keys[] = {"path",        "metric",   "period",
                                       "fell_behind", "timeline", "state"};
    review_table_t *t = sorted ? review_table_new(r, "status_changes", "Who fell behind, and when",
                                                  6, names, keys, "llllll")
                               : NULL;
    for (size_t i = 0; t && i < m; i++) {
        change_t *c = sorted[i];
        const pacer_alert_t *a = c->any;
        const char *path = a->path ? a->path : a->scope ? a->scope : "";
        review_cell(t, path, json_string(path));
        review_cell(t, a->metric ? a->metric : "", json_str_or_null(a->metric));
        review_cell(t, a->period ? a->period : "", json_str_or_null(a->period));
        char when[64], timeline[1200] = "";
        time_text(c->fell_behind, when, sizeof when);
        review_cell_tone(t, c->fell_behind ? when : "never",
                         c->fell_behind ? json_integer(c->fell_behind) : NULL,
                         c->fell_behind ? "behind" : NULL);
        json_t *steps = json_array();
        size_t o = 0;
        for (size_t s = 0; s < c->nsteps && o < sizeof timeline; s++) {
            char at[64];
            cli_time_format(c->steps[s].at, at, sizeof at);
            /* within one period the date and time are enough: "11-04 18:00" */
            o += (size_t)snprintf(timeline + o, sizeof timeline - o, "%s%s %.11s", s ? "\n" : "",
                                  c->steps[s].state, at + 5);
            json_array_append_new(steps, json_pack("{s:s, s:I}", "state", c->steps[s].state, "at",
                                                   (json_int_t)c->steps[s].at));
        }
        review_cell(t, timeline, steps);
        char end[32];
        const char *tone;
        if (c->closed) {
            snprintf(end, sizeof end, "ended %s", c->closed);
            tone = !strcmp(c->closed, "behind")    ? "behind"
                   : !strcmp(c->closed, "at risk") ? "at_risk"
                                                   : "on_track";
        } else {
            snprintf(end, sizeof end, "%s", c->state);
            tone = !strcmp(c->state, "behind")    ? "behind"
                   : !strcmp(c->state, "at risk") ? "at_risk"
                                                  : "on_track";
        }
        review_cell_tone(t, end, json_string(end), tone);
    }
    if (t)
        review_table_note(t,
                          "Every target key under %s that fell under a pace threshold (at_risk "
                          "below 0.95 of the pace, behind below 0.80), from its alerts: when it "
                          "first fell behind, each change of state, and how it stands or how "
                          "the period ended for it.",
                          r->path);
    free(sorted);
    zhashx_destroy(&changes);
}

static void
alerts_table(report_t *self, zlistx_t *records, zhashx_t *silenced)
{
    review_t *r = &self->review;
    zhashx_t *groups = zhashx_new();
    zlistx_t *order = zlistx_new();
    if (!groups || !order) {
        zhashx_destroy(&groups);
        zlistx_destroy(&order);
        return;
    }
    zhashx_set_destructor(groups, (zhashx_destructor_fn *)zstr_free);
    for (const pacer_alert_t *a = zlistx_first(records); a; a = zlistx_next(records)) {
        alert_group_t *g = zhashx_lookup(groups, a->key);
        if (!g) {
            if (!(g = calloc(1, sizeof *g)))
                break;
            g->first = a;
            zhashx_insert(groups, a->key, g);
            zlistx_add_end(order, g);
        }
        g->last = a;
        g->records++;
        if (!strcmp(a->state, "resolved"))
            g->resolved = a;
    }
    static const char *const names[] = {"RAISED", "SEVERITY", "ALERT",     "WHO",
                                        "WHAT",   "RECORDS",  "RESOLUTION"};
    static const char *const keys[] = {"since",   "severity", "rule",      "path",
                                       "summary", "records",  "resolution"};
    review_table_t *t =
        review_table_new(r, "alerts", "Alerts and anomaly flags", 7, names, keys, "llwwwrw");
    size_t lag = 0, anomalies = 0;
    for (alert_group_t *g = zlistx_first(order); t && g; g = zlistx_next(order)) {
        const pacer_alert_t *a = g->first;
        int64_t since = a->since ? a->since : a->at;
        bool anomaly = !strncmp(a->rule, "anomaly/", 8);
        anomalies += anomaly;
        lag += !anomaly;
        char when[64], count[32], resolution[1600];
        time_text(since, when, sizeof when);
        review_cell(t, when, json_integer(since));
        review_cell_tone(t, a->severity, json_string(a->severity), a->severity);
        char rule[200];
        snprintf(rule, sizeof rule, "%s%s%s", anomaly ? a->rule + 8 : a->rule, a->metric ? " " : "",
                 a->metric ? a->metric : "");
        review_cell(t, rule, json_string(a->rule));
        review_cell(t, a->path ? a->path : "", json_str_or_null(a->path));
        review_cell(t, summary_body(a->summary), json_string(a->summary));
        snprintf(count, sizeof count, "%zu", g->records);
        review_cell(t, count, json_integer((json_int_t)g->records));
        const char *tone = NULL;
        if (g->last == g->resolved && g->resolved) {
            time_text(g->resolved->at, when, sizeof when);
            const char *how = g->resolved->summary;
            size_t klen = strlen(a->key);
            if (anomaly && !strncmp(how, a->key, klen) && how[klen] == ' ')
                how += klen + 1; /* a review: "dismissed by li.wei: re-keyed by the CRM" */
            else
                how = summary_body(how);
            snprintf(resolution, sizeof resolution, "%s %s: %s",
                     anomaly && how != g->resolved->summary ? "reviewed" : "resolved", when, how);
            tone = "on_track";
        } else {
            const char *by = silenced ? zhashx_lookup(silenced, a->key) : NULL;
            snprintf(resolution, sizeof resolution, "still firing%s%s", by ? ", silenced by " : "",
                     by ? by : "");
            tone = a->severity;
        }
        review_cell_tone(t, resolution, json_string(resolution), tone);
    }
    if (t)
        review_table_note(t,
                          "%zu alert%s of the targets under %s in %s and %zu anomaly flag%s "
                          "on its sales, one row each (its first record; RECORDS counts the "
                          "repeats), with how it ended.",
                          lag, lag == 1 ? "" : "s", r->path, r->period, anomalies,
                          anomalies == 1 ? "" : "s");
    zlistx_destroy(&order);
    zhashx_destroy(&groups);
}

/* The silences of the alerts firing now: key -> who silenced it. */
static zhashx_t *
silences_now(report_t *self)
{
    zhashx_t *silenced = zhashx_new();
    if (!silenced)
        return NULL;
    zhashx_set_destructor(silenced, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator(silenced, (zhashx_duplicator_fn *)strdup);
    pacer_alerts_active_query_t q = {.limit = 100000, .now = self->has_now ? self->now : 0};
    pacer_alert_page_t *page = NULL;
    if (pacer_alerts_active(self->client, &q, &page) != PACER_OK)
        return silenced;
    for (size_t i = 0; i < pacer_alert_page_count(page); i++) {
        const pacer_alert_t *a = pacer_alert_page_get(page, i);
        if (a->silenced)
            zhashx_insert(silenced, a->key, (void *)(a->silenced_by ? a->silenced_by : "?"));
    }
    pacer_alert_page_destroy(&page);
    return silenced;
}

static int
alerts(report_t *self)
{
    zlistx_t *records = zlistx_new();
    if (!records)
        return CLI_EXIT_FAILED;
    zlistx_set_destructor(records, alert_destructor);
    int status = fetch_alerts(self, records);
    zhashx_t *silenced = status == CLI_EXIT_OK ? silences_now(self) : NULL;
    if (status == CLI_EXIT_OK) {
        /* keep the records of the review's alerts only */
        zlistx_t *kept = zlistx_new();
        zhashx_t *in = zhashx_new();
        if (kept && in) {
            zlistx_set_destructor(kept, alert_destructor);
            for (pacer_alert_t *a = zlistx_first(records); a; a = zlistx_next(records)) {
                intptr_t verdict = (intptr_t)zhashx_lookup(in, a->key);
                if (!verdict) {
                    verdict = alert_in_review(self, a, a->since ? a->since : a->at) ? 1 : 2;
                    zhashx_insert(in, a->key, (void *)verdict);
                }
                if (verdict == 1)
                    zlistx_add_end(kept, pacer_alert_dup(a));
            }
            status_changes(self, kept);
            alerts_table(self, kept, silenced);
        }
        zlistx_destroy(&kept);
        zhashx_destroy(&in);
    }
    zhashx_destroy(&silenced);
    zlistx_destroy(&records);
    return status;
}

/* ---------------------------------------------------------------------
   Target changes */

static void
tiers_text(report_t *self, const msgpack_object *tiers, const char *metric, const char *currency,
           char *out, size_t outlen)
{
    static const char *const names[] = {"floor", "target", "stretch"};
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < 3 && o < outlen; i++) {
        int64_t v;
        char text[96];
        if (!cli_reply_int(tiers, names[i], &v))
            continue;
        cli_figure_format(v, metric, currency, false, text, sizeof text);
        o += (size_t)snprintf(out + o, outlen - o, "%s%s %s", o ? ", " : "", names[i], text);
    }
    (void)self;
}

static int
target_changes(report_t *self)
{
    review_t *r = &self->review;
    cli_reply_t all;
    int status = query_progress(self, r->scope, r->period, NULL, &all, false);
    if (status != CLI_EXIT_OK)
        return status;
    static const char *const names[] = {"WHEN",   "WHO",    "METRIC", "CHANGE",
                                        "AUTHOR", "REASON", "SEQ"};
    static const char *const keys[] = {"occurred_at", "path",   "metric", "change",
                                       "author",      "reason", "seq"};
    review_table_t *t =
        review_table_new(r, "target_changes", "Target changes", 7, names, keys, "lwlwlwr");
    const msgpack_object *rows = cli_reply_get(all.body, "rows");
    size_t keys_n = 0, sets = 0, changes = 0;
    for (uint32_t i = 0; t && i < array_size(rows); i++) {
        const msgpack_object *row = array_at(rows, i);
        bool has_target = false;
        cli_reply_bool(row, "has_target", &has_target);
        if (!has_target)
            continue;
        keys_n++;
        char scope[128], metric[80], line[80], path[512], currency[8];
        cli_reply_str(row, "scope", scope, sizeof scope);
        cli_reply_str(row, "metric", metric, sizeof metric);
        cli_reply_str(row, "product_line", line, sizeof line);
        cli_reply_str(row, "path", path, sizeof path);
        row_currency(self, row, currency);
        cli_map_t request;
        cli_map_init(&request);
        cli_map_str(&request, "op", "target_history");
        cli_map_str(&request, "scope", scope);
        cli_map_str(&request, "metric", metric);
        cli_map_str(&request, "period", r->period);
        cli_map_str(&request, "product_line", line[0] ? line : NULL);
        cli_reply_t reply;
        if (query(self, &request, &reply, true) != CLI_EXIT_OK)
            continue;
        const msgpack_object *history = cli_reply_get(reply.body, "history");
        for (uint32_t h = 0; h < array_size(history); h++) {
            const msgpack_object *e = array_at(history, h);
            const msgpack_object *before = cli_reply_get(e, "before");
            if (str_is(e, "kind", "set") && !before) {
                sets++;
                continue;
            }
            changes++;
            int64_t at = 0, seq = 0;
            char when[64], change[600], was[280], now_[280], author[128], reason[1100];
            cli_reply_int(e, "occurred_at", &at);
            cli_reply_int(e, "seq", &seq);
            cli_reply_str(e, "author", author, sizeof author);
            cli_reply_str(e, "reason", reason, sizeof reason);
            tiers_text(self, before, metric, currency, was, sizeof was);
            tiers_text(self, cli_reply_get(e, "after"), metric, currency, now_, sizeof now_);
            snprintf(change, sizeof change, "%s%s -> %s",
                     str_is(e, "kind", "set") ? "set again: " : "", was, now_);
            time_text(at, when, sizeof when);
            char who[600];
            snprintf(who, sizeof who, "%s%s%s", path, line[0] ? " / " : "", line);
            review_cell(t, when, json_integer(at));
            review_cell(t, who, json_string(path));
            review_cell(t, metric, json_string(metric));
            review_cell(t, change, json_string(change));
            review_cell(t, author, json_str_or_null(author));
            review_cell(t, reason, json_str_or_null(reason));
            char seq_text[32];
            snprintf(seq_text, sizeof seq_text, "%" PRId64, seq);
            review_cell(t, seq_text, json_integer(seq));
        }
        cli_reply_done(&reply);
    }
    if (t)
        review_table_note(t,
                          "%zu target key%s of %s under %s: %zu set once (the plan, or an "
                          "allocation), %zu change%s since, each with who made it and why (the "
                          "audit trail: pacer target history).",
                          keys_n, keys_n == 1 ? "" : "s", r->period, r->path, sets, changes,
                          changes == 1 ? "" : "s");
    cli_reply_done(&all);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------------
   Comparison */

static const msgpack_object *
row_of(const cli_reply_t *reply, const char *scope)
{
    const msgpack_object *rows = reply && reply->body ? cli_reply_get(reply->body, "rows") : NULL;
    for (uint32_t i = 0; i < array_size(rows); i++)
        if (str_is(array_at(rows, i), "scope", scope))
            return array_at(rows, i);
    return NULL;
}

/* Cells of one period for a node: actual, attainment, change against now. */
static void
compare_cells(report_t *self, review_table_t *t, const msgpack_object *row, int64_t current)
{
    int64_t actual = 0;
    bool has_target = false;
    if (row) {
        cli_reply_int(row, "actual", &actual);
        cli_reply_bool(row, "has_target", &has_target);
    }
    if (!row || (!has_target && actual == 0)) {
        review_cell_tone(t, "no data", NULL, "none");
        review_cell(t, "", NULL);
        review_cell(t, "", NULL);
        return;
    }
    char text[96];
    json_t *v;
    figure_of(self, row, "actual", false, text, sizeof text, &v);
    review_cell(t, text, v);
    percent_of(row, "attainment", text, sizeof text, &v);
    review_cell(t, text, v);
    if (actual > 0 && cli_figure_unit(self->review.metric) != FIGURE_BASIS_POINTS) {
        double change = ((double)current - (double)actual) / (double)actual;
        snprintf(text, sizeof text, "%+.0f%%", change * 100);
        review_cell_tone(t, text, json_real(round(change * 10000) / 10000),
                         change >= 0 ? "on_track" : "behind");
    } else
        review_cell(t, "", NULL);
}

/* The scope's cumulative figure by the end of day `day` (from 0) of
   `period`, or of its last day when it is shorter. */
static bool
cumulative_at(report_t *self, const char *period, size_t day, int64_t *out)
{
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "daily");
    cli_map_str(&request, "scope", self->review.scope);
    cli_map_str(&request, "metric", self->review.metric);
    cli_map_str(&request, "period", period);
    cli_map_str(&request, "product_line", self->product_line);
    cli_reply_t reply;
    if (query(self, &request, &reply, true) != CLI_EXIT_OK)
        return false;
    const msgpack_object *days = cli_reply_get(reply.body, "days");
    uint32_t n = array_size(days);
    bool ok =
        n > 0 && cli_reply_int(array_at(days, day < n ? (uint32_t)day : n - 1), "cumulative", out);
    cli_reply_done(&reply);
    return ok;
}

/* A headline card: the scope in another period, and the change since. */
static void
comparison_card(report_t *self, const msgpack_object *row, const char *period, bool previous)
{
    if (!period[0])
        return;
    int64_t then = 0, current = 0;
    bool has_target = false;
    if (row) {
        cli_reply_int(row, "actual", &then);
        cli_reply_bool(row, "has_target", &has_target);
    }
    cli_reply_int(self->scope_row, "actual", &current);
    char label[32], value[96] = "no data", detail[256] = "nothing recorded for it";
    snprintf(label, sizeof label, "%s (%s)", period, previous ? "previous" : "a year ago");
    if (row && (has_target || then != 0)) {
        figure_of(self, row, "actual", true, value, sizeof value, NULL);
        char pct[32] = "", text[96];
        json_t *v;
        percent_of(row, "attainment", pct, sizeof pct, &v);
        json_decref(v);
        int o = snprintf(detail, sizeof detail, "%s%s", pct, pct[0] ? " of target" : "");
        /* while this period runs, set it against that one at the same day */
        const review_chart_t *c = &self->review.chart;
        size_t day = c->shown;
        bool running = self->review.now < self->review.period_end && day > 0;
        if (running && cumulative_at(self, period, day - 1, &then)) {
            cli_figure_format(then, self->review.metric, self->review.currency, true, text,
                              sizeof text);
            o += snprintf(detail + o, sizeof detail - (size_t)o, "%sby its day %zu: %s",
                          o ? "; " : "", day, text);
        }
        if (then > 0 && cli_figure_unit(self->review.metric) != FIGURE_BASIS_POINTS)
            snprintf(detail + o, sizeof detail - (size_t)o, "%s%s %+.0f%%", o ? "; " : "",
                     self->review.period, ((double)current - (double)then) / (double)then * 100);
    }
    card(&self->review, label, value, detail, NULL);
}

static int
comparison(report_t *self)
{
    review_t *r = &self->review;
    period_t p, prev, ago;
    char err[256];
    cli_reply_t before = {0}, year = {0};
    bool has_prev = false, has_ago = false;
    if (calendar_period_parse(self->calendar, r->period, &p, err, sizeof err) == 0) {
        int back = p.kind == PERIOD_YEAR || p.kind == PERIOD_FISCAL_YEAR         ? 1
                   : p.kind == PERIOD_QUARTER || p.kind == PERIOD_FISCAL_QUARTER ? 4
                   : p.kind == PERIOD_WEEK                                       ? 52
                   : p.kind == PERIOD_DAY                                        ? 364
                                                                                 : 12;
        if (calendar_period_previous(self->calendar, &p, 1, &prev) == 0) {
            snprintf(r->previous, sizeof r->previous, "%s", prev.name);
            has_prev =
                query_progress(self, r->scope, prev.name, r->metric, &before, true) == CLI_EXIT_OK;
        }
        if (back > 1 && calendar_period_previous(self->calendar, &p, back, &ago) == 0) {
            snprintf(r->year_ago, sizeof r->year_ago, "%s", ago.name);
            has_ago =
                query_progress(self, r->scope, ago.name, r->metric, &year, true) == CLI_EXIT_OK;
        }
    }
    char prev_h[3][48], ago_h[3][48];
    snprintf(prev_h[0], sizeof prev_h[0], "%s", r->previous[0] ? r->previous : "PREVIOUS");
    snprintf(prev_h[1], sizeof prev_h[1], "ATT. %s", r->previous);
    snprintf(prev_h[2], sizeof prev_h[2], "CHANGE");
    snprintf(ago_h[0], sizeof ago_h[0], "%s", r->year_ago[0] ? r->year_ago : "A YEAR AGO");
    snprintf(ago_h[1], sizeof ago_h[1], "ATT. %s", r->year_ago);
    snprintf(ago_h[2], sizeof ago_h[2], "CHANGE");
    char this_h[2][48];
    snprintf(this_h[0], sizeof this_h[0], "%s", r->period);
    snprintf(this_h[1], sizeof this_h[1], "ATT. %s", r->period);
    const char *names[] = {"WHO",     this_h[0], this_h[1], prev_h[0], prev_h[1],
                           prev_h[2], ago_h[0],  ago_h[1],  ago_h[2]};
    static const char *const keys[] = {"path",
                                       "actual",
                                       "attainment",
                                       "previous_actual",
                                       "previous_attainment",
                                       "change_from_previous",
                                       "year_ago_actual",
                                       "year_ago_attainment",
                                       "change_from_year_ago"};
    review_table_t *t = review_table_new(
        r, "comparison", "Against the previous period and a year ago", 9, names, keys, "lrrrrrrrr");
    const msgpack_object *rows = cli_reply_get(self->progress.body, "rows");
    size_t depth = 0;
    for (const char *c = r->path; *c; c++)
        depth += *c == '/';
    for (uint32_t i = 0; t && i < array_size(rows); i++) {
        const msgpack_object *row = array_at(rows, i);
        char path[512], scope[128];
        cli_reply_str(row, "path", path, sizeof path);
        size_t d = 0;
        for (const char *c = path; *c; c++)
            d += *c == '/';
        size_t n = strlen(r->path);
        bool self_row = !strcmp(path, r->path);
        bool child = d == depth + 1 && !strncmp(path, r->path, n) && path[n] == '/';
        if (!self_row && !child)
            continue;
        cli_reply_str(row, "scope", scope, sizeof scope);
        int64_t actual = 0;
        cli_reply_int(row, "actual", &actual);
        review_cell(t, path, json_string(path));
        char text[96];
        json_t *v;
        figure_of(self, row, "actual", false, text, sizeof text, &v);
        review_cell(t, text, v);
        percent_of(row, "attainment", text, sizeof text, &v);
        review_cell(t, text, v);
        compare_cells(self, t, has_prev ? row_of(&before, scope) : NULL, actual);
        compare_cells(self, t, has_ago ? row_of(&year, scope) : NULL, actual);
    }
    if (t)
        review_table_note(t,
                          "%s and its children in %s, %s%s%s; CHANGE is this period's actual "
                          "against that one's%s.",
                          r->path, r->period, r->previous[0] ? r->previous : "",
                          r->year_ago[0] ? " and " : "", r->year_ago,
                          r->now < r->period_end ? " (this period still running: figures to date)"
                                                 : "");
    comparison_card(self, has_prev ? row_of(&before, r->scope) : NULL, r->previous, true);
    comparison_card(self, has_ago ? row_of(&year, r->scope) : NULL, r->year_ago, false);
    cli_reply_done(&before);
    cli_reply_done(&year);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------------
   The command */

static int
report_parse(report_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"period", required_argument, NULL, OPT_PERIOD},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"product-line", required_argument, NULL, OPT_PRODUCT_LINE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"out", required_argument, NULL, OPT_OUT},
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_init(&self->common, "report");
    self->metric = "revenue";
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&self->common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0) {
            ok = true;
            switch (opt) {
            case OPT_PERIOD:
                self->period = optarg;
                break;
            case OPT_SCOPE:
                self->scope = optarg;
                break;
            case OPT_METRIC:
                self->metric = optarg;
                break;
            case OPT_PRODUCT_LINE:
                self->product_line = optarg;
                break;
            case OPT_FORMAT:
                self->format = optarg;
                break;
            case OPT_OUT:
                self->out_path = optarg;
                break;
            case OPT_NOW:
                ok = cli_options_time(&self->common, "now", optarg, &self->now);
                self->has_now = true;
                break;
            case OPT_JSON:
                self->format = "json";
                break;
            default:
                ok = false;
            }
        }
        if (!ok)
            return cli_options_try_help(&self->common);
    }
    int status = cli_options_end(&self->common, argc, argv, report_usage);
    if (status >= 0)
        return status;
    if (!self->period) {
        cli_options_error(&self->common, "--period is required");
        return CLI_EXIT_FAILED;
    }
    if (!self->format && self->out_path) {
        const char *dot = strrchr(self->out_path, '.');
        self->format = !dot                                               ? "html"
                       : !strcmp(dot, ".md") || !strcmp(dot, ".markdown") ? "md"
                       : !strcmp(dot, ".csv")                             ? "csv"
                       : !strcmp(dot, ".json")                            ? "json"
                                                                          : "html";
    }
    if (!self->format)
        self->format = "html";
    if (strcmp(self->format, "html") && strcmp(self->format, "md") && strcmp(self->format, "csv") &&
        strcmp(self->format, "json")) {
        cli_options_error(&self->common, "--format: expected html, md, csv or json, got \"%s\"",
                          self->format);
        return CLI_EXIT_FAILED;
    }
    return -1;
}

/* The zone, the scope's row, the heading. */
static int
report_begin(report_t *self)
{
    review_t *r = &self->review;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "status");
    cli_reply_t status;
    int rc = query(self, &request, &status, false);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_reply_str(status.body, "time_zone", r->zone, sizeof r->zone);
    cli_reply_done(&status);
    char err[256];
    self->calendar = calendar_new(r->zone[0] ? r->zone : "UTC", 1, err, sizeof err); /* sets TZ */
    if (!self->calendar) {
        cli_options_error(&self->common, "time zone: %s", err);
        return CLI_EXIT_FAILED;
    }
    rc = query_progress(self, self->scope, self->period, self->metric, &self->progress, false);
    if (rc != CLI_EXIT_OK)
        return rc;
    const msgpack_object *rows = cli_reply_get(self->progress.body, "rows");
    char want[512];
    snprintf(want, sizeof want, "%s", self->scope ? self->scope : "");
    size_t n = strlen(want);
    while (n && want[n - 1] == '/')
        want[--n] = 0;
    for (uint32_t i = 0; i < array_size(rows) && !self->scope_row; i++) {
        const msgpack_object *row = array_at(rows, i);
        if (self->scope ? (str_is(row, "scope", want) || str_is(row, "path", want))
                        : str_is(row, "kind", "company"))
            self->scope_row = row;
    }
    if (!self->scope_row) {
        cli_options_error(&self->common, "no %s figures for %s in %s: %s", self->metric,
                          self->scope ? self->scope : "the company", self->period,
                          self->scope ? "has it a target or sales in the period?"
                                      : "give --scope (no company has a target of this metric)");
        return CLI_EXIT_REJECTED;
    }
    const msgpack_object *row = self->scope_row;
    cli_reply_str(row, "scope", r->scope, sizeof r->scope);
    cli_reply_str(row, "path", r->path, sizeof r->path);
    cli_reply_str(row, "name", r->name, sizeof r->name);
    cli_reply_str(row, "metric", r->metric, sizeof r->metric);
    cli_reply_str(row, "period", r->period, sizeof r->period);
    cli_reply_int(row, "period_start", &r->period_start);
    cli_reply_int(row, "period_end", &r->period_end);
    cli_reply_int(self->progress.body, "now", &r->now);
    cli_reply_int(self->progress.body, "seq", &r->seq);
    /* the currency: the scope's target's, else the first under it that has one */
    if (!cli_reply_str(row, "currency", r->currency, sizeof r->currency) || !r->currency[0])
        for (uint32_t i = 0; i < array_size(rows) && !r->currency[0]; i++)
            cli_reply_str(array_at(rows, i), "currency", r->currency, sizeof r->currency);
    char from[64], to[64];
    cli_time_format(r->period_start, from, sizeof from);
    cli_time_format(r->period_end, to, sizeof to);
    snprintf(r->range, sizeof r->range, "%s to %s", from, to);
    cli_time_format(r->now / 60000 * 60000, r->now_text, sizeof r->now_text); /* to the minute */
    cli_time_format(cli_time_now() / 60000 * 60000, r->generated, sizeof r->generated);
    return CLI_EXIT_OK;
}

static int
report_write(report_t *self)
{
    FILE *out = stdout;
    if (self->out_path && !(out = fopen(self->out_path, "w"))) {
        cli_options_error(&self->common, "cannot write %s: %s", self->out_path, strerror(errno));
        return CLI_EXIT_FAILED;
    }
    const char *f = self->format;
    int rc = !strcmp(f, "md")     ? review_render_md(&self->review, out)
             : !strcmp(f, "csv")  ? review_render_csv(&self->review, out)
             : !strcmp(f, "json") ? review_render_json(&self->review, out)
                                  : review_render_html(&self->review, out);
    if (out != stdout && fclose(out) != 0)
        rc = -1;
    else if (out == stdout && fflush(stdout) != 0)
        rc = -1;
    if (rc != 0) {
        cli_options_error(&self->common, "cannot write %s",
                          self->out_path ? self->out_path : "the output");
        return CLI_EXIT_FAILED;
    }
    if (self->out_path)
        fprintf(stderr, "pacer report: %s, %s %s, written to %s (%s)\n", self->review.path,
                self->review.metric, self->review.period, self->out_path, f);
    return CLI_EXIT_OK;
}

int
cli_review_report_main(int argc, char **argv)
{
    report_t self;
    memset(&self, 0, sizeof self);
    int status = report_parse(&self, argc, argv);
    if (status >= 0)
        return status;
    self.client = pacer_client_new(NULL, self.common.query);
    self.ranges = zhashx_new();
    if (!self.client || !self.ranges) {
        cli_options_error(&self.common, "cannot connect to %s", self.common.query);
        status = CLI_EXIT_FAILED;
    } else {
        zhashx_set_destructor(self.ranges, (zhashx_destructor_fn *)zstr_free);
        pacer_client_set_timeout(self.client, self.common.timeout_ms);
        status = report_begin(&self);
    }
    if (status == CLI_EXIT_OK) {
        headline(&self, self.scope_row);
        status = burnup(&self);
    }
    if (status == CLI_EXIT_OK)
        level_tables(&self, cli_reply_get(self.progress.body, "rows"));
    if (status == CLI_EXIT_OK)
        status = alerts(&self);
    if (status == CLI_EXIT_OK)
        status = target_changes(&self);
    if (status == CLI_EXIT_OK)
        status = comparison(&self);
    if (status == CLI_EXIT_OK)
        status = report_write(&self);
    review_free(&self.review);
    cli_reply_done(&self.progress);
    zhashx_destroy(&self.ranges);
    calendar_destroy(&self.calendar);
    pacer_client_destroy(&self.client);
    return status;
}
