/*  cli_top: `pacer top`, a live terminal view of a scope's progress.

    The screen (ncurses) shows the scope's own figures, its children with
    a progress bar each (attainment, with the pace marker on it), pace
    ratio and status, worst pace first, and below them the newest alerts
    under the scope. Enter drills into the selected child, Backspace goes
    back up to the parent, q quits.

    Three sources, one loop:
      - `progress` on the query endpoint, for the scope and everything
        under it (one request a refresh);
      - a SUB socket on the publish endpoint subscribed to `progress/`:
        an update of a key under the scope marks the view stale, and it is
        asked again at most four times a second (pacerd coalesces updates
        per key per second already); without updates, every --interval;
      - libpacer's alert subscriber (libpacer_sub.h) for `alert/`, started
        200 alerts back so the list is not empty, every alert exactly once;
        the list shows those under the current scope.
    The loop waits in zmq_poll on the SUB socket and the terminal, at most
    100 ms, so keys, updates and alerts are all handled within a tenth of
    a second. */

#define _XOPEN_SOURCE 700 /* wcwidth */
#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <curses.h>
#include <zmq.h>

#include "clients/cli_figure.h"
#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_table.h"
#include "clients/cli_time.h"
#include "clients/libpacer.h"
#include "clients/libpacer_alert.h"
#include "clients/libpacer_sub.h"
#include "projections/calendar.h"

#define TOP_ALERTS       256 /* kept, newest last */
#define TOP_ALERTS_BACK  200 /* replayed at start */
#define TOP_STALE_MS     250 /* an update is shown within this */
#define TOP_POLL_MS      100
#define TOP_BAR_CELLS    20
#define TOP_INTERVAL_DEF 5
#define TOP_QUERY_MS     3000 /* the longest a refresh may hold the screen */

enum { OPT_PERIOD = CLI_OPT_FIRST_OWN, OPT_SCOPE, OPT_METRIC, OPT_NOW, OPT_INTERVAL };

enum { PAIR_GREEN = 1, PAIR_YELLOW, PAIR_RED, PAIR_CYAN, PAIR_DIM };

typedef struct {
    char scope[128], path[512], name[300], kind[16], status[32], currency[8];
    int64_t actual, target, expected, forecast;
    bool has_target, has_forecast, has_att, has_pace;
    double attainment, pace;
} top_row_t;

typedef struct {
    cli_options_t common;
    const char *publish, *scope_arg, *metric;
    char period[32], zone[64];
    bool has_now;
    int64_t now;
    int interval_ms;

    pacer_client_t *client;
    pacer_sub_t *sub;
    void *zmq;
    void *updates; /* SUB on progress/ */
    calendar_t *calendar;

    char path[512]; /* the scope shown */
    top_row_t self;
    bool has_self;
    top_row_t *children;
    size_t nchildren, cap, selected;
    int64_t seq, answered_now;
    pacer_alert_t *alerts[TOP_ALERTS];
    size_t nalerts;
    char message[700];
    bool stale;
    int64_t refreshed_ms;
} top_t;

static void
top_usage(FILE *out)
{
    fputs("usage: pacer top [--scope S] [--period P] [--metric M] [--now TIME]\n"
          "       [--interval SEC] [--publish EP]\n"
          "\n"
          "A live view of a scope on the terminal: its children with progress bars and\n"
          "status, the worst pace first, and the newest alerts under it. Updated as pacerd\n"
          "publishes progress (within a quarter of a second) and every --interval seconds.\n"
          "\n"
          "  Up/Down (k/j)       select a child\n"
          "  Enter (Right, l)    show the selected child and its children\n"
          "  Backspace (Left, h) back up to the parent\n"
          "  r                   refresh now\n"
          "  q                   quit\n"
          "\n"
          "  --scope S           a node id or path to start from (default: the company)\n"
          "  --period P          the period (default: this month in pacerd's zone)\n"
          "  --metric M          the metric (default revenue)\n"
          "  --now TIME          evaluate pace at TIME instead of pacerd's clock\n"
          "  --interval SEC      refresh at least this often (default 5)\n"
          "\n" CLI_TIME_HELP "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------
   Queries */

static int
top_query(top_t *self, cli_map_t *request, cli_reply_t *reply)
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
        snprintf(self->message, sizeof self->message, "%s", pacer_client_error(self->client));
        return rc == PACER_EREFUSED ? CLI_EXIT_REJECTED : CLI_EXIT_FAILED;
    }
    msgpack_unpacked_init(&reply->unpacked);
    if (msgpack_unpack_next(&reply->unpacked, (const char *)pacer_reply_data(reply->raw),
                            pacer_reply_size(reply->raw), NULL) != MSGPACK_UNPACK_SUCCESS) {
        cli_reply_done(reply);
        snprintf(self->message, sizeof self->message, "out of memory");
        return CLI_EXIT_FAILED;
    }
    reply->body = &reply->unpacked.data;
    return CLI_EXIT_OK;
}

static void
row_read(const msgpack_object *o, top_row_t *r)
{
    memset(r, 0, sizeof *r);
    cli_reply_str(o, "scope", r->scope, sizeof r->scope);
    cli_reply_str(o, "path", r->path, sizeof r->path);
    cli_reply_str(o, "name", r->name, sizeof r->name);
    cli_reply_str(o, "kind", r->kind, sizeof r->kind);
    cli_reply_str(o, "status", r->status, sizeof r->status);
    cli_reply_str(o, "currency", r->currency, sizeof r->currency);
    cli_reply_int(o, "actual", &r->actual);
    cli_reply_bool(o, "has_target", &r->has_target);
    cli_reply_int(o, "target", &r->target);
    cli_reply_int(o, "expected", &r->expected);
    r->has_forecast = cli_reply_int(o, "forecast", &r->forecast);
    r->has_att = cli_reply_double(o, "attainment", &r->attainment);
    r->has_pace = cli_reply_double(o, "pace_ratio", &r->pace);
}

static size_t
depth_of(const char *path)
{
    size_t d = 0;
    for (; *path; path++)
        d += *path == '/';
    return d;
}

/* Worst pace first; rows without a pace after, by path. */
static int
child_cmp(const void *a, const void *b)
{
    const top_row_t *x = a, *y = b;
    if (x->has_pace != y->has_pace)
        return x->has_pace ? -1 : 1;
    if (x->has_pace && x->pace != y->pace)
        return x->pace < y->pace ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Ask progress for the scope `scope` (a path, or an id the first time)
   and keep its row and its children's. */
static int
top_refresh(top_t *self, const char *scope)
{
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "progress");
    cli_map_str(&request, "scope", scope);
    cli_map_str(&request, "period", self->period);
    cli_map_str(&request, "metric", self->metric);
    cli_map_int(&request, "limit", 100000);
    if (self->has_now)
        cli_map_int(&request, "now", self->now);
    cli_reply_t reply;
    int rc = top_query(self, &request, &reply);
    self->refreshed_ms = mono_ms();
    self->stale = false;
    if (rc != CLI_EXIT_OK)
        return rc;
    const msgpack_object *rows = cli_reply_get(reply.body, "rows");
    uint32_t n = rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
    top_row_t row;
    bool found = false;
    char want[512];
    snprintf(want, sizeof want, "%s", scope ? scope : "");
    for (uint32_t i = 0; i < n && !found; i++) {
        row_read(&rows->via.array.ptr[i], &row);
        found = scope ? strcmp(row.path, want) == 0 || strcmp(row.scope, want) == 0
                      : strcmp(row.kind, "company") == 0;
    }
    if (!found) {
        snprintf(self->message, sizeof self->message, "no %s figures for %s in %s", self->metric,
                 scope ? scope : "the company", self->period);
        cli_reply_done(&reply);
        return CLI_EXIT_REJECTED;
    }
    char keep[128] = ""; /* the selected child, by id, across refreshes */
    if (self->selected < self->nchildren && !strcmp(self->path, row.path))
        snprintf(keep, sizeof keep, "%s", self->children[self->selected].scope);
    self->self = row;
    self->has_self = true;
    snprintf(self->path, sizeof self->path, "%s", row.path);
    size_t depth = depth_of(row.path), plen = strlen(row.path);
    self->nchildren = 0;
    for (uint32_t i = 0; i < n; i++) {
        row_read(&rows->via.array.ptr[i], &row);
        if (depth_of(row.path) != depth + 1 || strncmp(row.path, self->path, plen) != 0 ||
            row.path[plen] != '/')
            continue;
        if (self->nchildren == self->cap) {
            size_t cap = self->cap ? self->cap * 2 : 32;
            top_row_t *grown = realloc(self->children, cap * sizeof *grown);
            if (!grown)
                break;
            self->children = grown;
            self->cap = cap;
        }
        self->children[self->nchildren++] = row;
    }
    if (self->nchildren)
        qsort(self->children, self->nchildren, sizeof *self->children, child_cmp);
    self->selected = 0;
    for (size_t i = 0; keep[0] && i < self->nchildren; i++)
        if (!strcmp(self->children[i].scope, keep))
            self->selected = i;
    cli_reply_int(reply.body, "seq", &self->seq);
    cli_reply_int(reply.body, "now", &self->answered_now);
    cli_reply_done(&reply);
    self->message[0] = 0;
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------------
   Alerts */

/* The path an alert is about: its `path`, or for a review's record, the
   one in its topic. */
static const char *
alert_path(const pacer_alert_t *a, char *buf, size_t buflen)
{
    if (a->path)
        return a->path;
    const char *t = a->topic + strlen("alert/");
    t = strncmp(t, "anomaly/", 8) == 0 ? strchr(t + 8, '/') : strchr(t, '/');
    snprintf(buf, buflen, "%s", t ? t + 1 : "");
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '/')
        buf[n - 1] = 0;
    return buf;
}

static bool
alert_under(const top_t *self, const pacer_alert_t *a)
{
    char buf[600];
    const char *path = alert_path(a, buf, sizeof buf);
    size_t n = strlen(self->path);
    return strncmp(path, self->path, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static void
alerts_take(top_t *self)
{
    pacer_alert_t *a = NULL;
    int rc;
    while ((rc = pacer_sub_recv(self->sub, &a, 0)) == PACER_OK) {
        if (self->nalerts == TOP_ALERTS) {
            pacer_alert_destroy(&self->alerts[0]);
            memmove(self->alerts, self->alerts + 1, (TOP_ALERTS - 1) * sizeof *self->alerts);
            self->nalerts--;
        }
        self->alerts[self->nalerts++] = a;
        a = NULL;
    }
    if (rc != PACER_EAGAIN)
        snprintf(self->message, sizeof self->message, "alerts: %s", pacer_sub_error(self->sub));
}

/* A progress update: stale when it is about a key under the scope. */
static void
updates_take(top_t *self)
{
    char topic[600];
    for (;;) {
        int n = zmq_recv(self->updates, topic, sizeof topic - 1, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        topic[n < (int)sizeof topic - 1 ? n : (int)sizeof topic - 1] = 0;
        int more = 0;
        size_t len = sizeof more;
        zmq_getsockopt(self->updates, ZMQ_RCVMORE, &more, &len);
        while (more) { /* the row itself: the refresh asks for all of them */
            zmq_msg_t part;
            zmq_msg_init(&part);
            zmq_msg_recv(&part, self->updates, 0);
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        size_t plen = strlen(self->path);
        const char *p = topic + strlen("progress/");
        if (!strncmp(topic, "progress/", 9) && !strncmp(p, self->path, plen) &&
            (p[plen] == '/' || p[plen] == 0))
            self->stale = true;
    }
}

/* ---------------------------------------------------------------------
   Drawing */

/* Put `text` at (y, x) in exactly `width` columns: cut on a character
   boundary, padded with spaces, right-aligned when `right`. */
static void
put(int y, int x, const char *text, int width, bool right)
{
    if (width <= 0 || y >= LINES || x >= COLS)
        return;
    if (x + width > COLS)
        width = COLS - x;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    const char *s = text;
    size_t left = strlen(text);
    int used = 0;
    size_t bytes = 0;
    while (left) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, left, &st);
        if (k == (size_t)-1 || k == (size_t)-2) {
            k = 1;
            wc = L'?';
        }
        if (k == 0)
            break;
        int w = wcwidth(wc);
        if (w < 0)
            w = 1;
        if (used + w > width)
            break;
        used += w;
        bytes += k;
        s += k;
        left -= k;
    }
    int pad = width - used;
    move(y, x);
    if (right)
        for (int i = 0; i < pad; i++)
            addch(' ');
    addnstr(text, (int)bytes);
    if (!right)
        for (int i = 0; i < pad; i++)
            addch(' ');
}

static int
status_pair(const char *status)
{
    if (!strcmp(status, "on_track") || !strcmp(status, "achieved") ||
        !strcmp(status, "stretch_achieved"))
        return PAIR_GREEN;
    if (!strcmp(status, "at_risk") || !strcmp(status, "warning"))
        return PAIR_YELLOW;
    if (!strcmp(status, "behind") || !strcmp(status, "critical"))
        return PAIR_RED;
    return 0;
}

/* put, in the colour of `status` where the terminal has colours. */
static void
put_status(int y, int x, const char *text, int width, const char *status)
{
    int pair = status_pair(status);
    if (pair && has_colors())
        attron(COLOR_PAIR(pair));
    put(y, x, text, width, false);
    if (pair && has_colors())
        attroff(COLOR_PAIR(pair));
}

static void
figure(const top_t *self, int64_t v, char *out, size_t outlen)
{
    const char *currency = self->self.currency[0] ? self->self.currency : NULL;
    for (size_t i = 0; !currency && i < self->nchildren; i++)
        if (self->children[i].currency[0])
            currency = self->children[i].currency;
    cli_figure_format(v, self->metric, currency, false, out, outlen);
}

/* A row's figures as people read them; `none` for those it lacks. */
typedef struct {
    char actual[64], target[64], pct[32], pace[32], forecast[64];
} top_figures_t;

static void
row_figures(const top_t *self, const top_row_t *r, const char *none, top_figures_t *out)
{
    figure(self, r->actual, out->actual, sizeof out->actual);
    figure(self, r->target, out->target, sizeof out->target);
    snprintf(out->pct, sizeof out->pct, "%s", none);
    snprintf(out->pace, sizeof out->pace, "%s", none);
    snprintf(out->forecast, sizeof out->forecast, "%s", none);
    if (r->has_att)
        cli_format_percent(r->attainment, out->pct, sizeof out->pct);
    if (r->has_pace)
        cli_format_ratio(r->pace, out->pace, sizeof out->pace);
    if (r->has_forecast)
        figure(self, r->forecast, out->forecast, sizeof out->forecast);
}

/* The bar: filled to attainment, the pace marker where pace expects the
   actual to be by now. */
static void
draw_bar(int y, int x, const top_row_t *r)
{
    char bar[TOP_BAR_CELLS * 3 + 1];
    size_t o = 0;
    int filled = r->has_att ? (int)floor(fmin(fmax(r->attainment, 0), 1) * TOP_BAR_CELLS) : 0;
    int mark = r->has_target && r->target > 0
                   ? (int)floor((double)r->expected / (double)r->target * TOP_BAR_CELLS)
                   : -1;
    if (mark >= TOP_BAR_CELLS)
        mark = TOP_BAR_CELLS - 1;
    for (int i = 0; i < TOP_BAR_CELLS; i++) {
        const char *cell = i == mark    ? "\xe2\x94\x82"  /* │ */
                           : i < filled ? "\xe2\x96\x88"  /* █ */
                                        : "\xe2\x96\x91"; /* ░ */
        memcpy(bar + o, cell, 3);
        o += 3;
    }
    bar[o] = 0;
    put_status(y, x, r->has_target ? bar : "", TOP_BAR_CELLS, r->status);
}

/* One line of figures: name, actual, target, bar, %, pace, status, forecast. */
static void
draw_row(const top_t *self, int y, const top_row_t *r, int name_w, bool selected)
{
    top_figures_t f;
    row_figures(self, r, "", &f);
    char name[448];
    snprintf(name, sizeof name, "%s%s%s", r->name[0] ? r->name : r->scope, r->name[0] ? " " : "",
             r->name[0] ? r->scope : "");
    if (selected)
        attron(A_REVERSE);
    put(y, 0, selected ? ">" : " ", 1, false);
    put(y, 1, name, name_w, false);
    if (selected)
        attroff(A_REVERSE);
    int x = 1 + name_w + 1;
    put(y, x, f.actual, 16, true);
    put(y, x + 17, r->has_target ? f.target : "-", 16, true);
    draw_bar(y, x + 35, r);
    put(y, x + 35 + TOP_BAR_CELLS, f.pct, 6, true);
    put(y, x + 42 + TOP_BAR_CELLS, f.pace, 5, true);
    put_status(y, x + 49 + TOP_BAR_CELLS, r->has_target ? r->status : "(no target)", 16, r->status);
    put(y, x + 66 + TOP_BAR_CELLS, f.forecast, 16, true);
}

static void
draw(top_t *self)
{
    erase();
    char now[64] = "", line[1200];
    if (self->answered_now)
        cli_time_format(self->answered_now, now, sizeof now);
    const top_row_t *me = &self->self;
    attron(A_BOLD);
    snprintf(line, sizeof line, "pacer top  %s%s%s  %s %s", self->path, me->name[0] ? "  " : "",
             me->name, self->metric, self->period);
    put(0, 0, line, COLS, false);
    attroff(A_BOLD);
    snprintf(line, sizeof line, "as of %s  %s  log seq %" PRId64, now, self->zone, self->seq);
    put(1, 0, line, COLS, false);
    top_figures_t f;
    row_figures(self, me, "-", &f);
    const char *code = me->currency[0] ? me->currency : "";
    if (me->has_target)
        snprintf(line, sizeof line, "actual %s of %s %s  %s  pace %s  %s  forecast %s", f.actual,
                 f.target, code, f.pct, f.pace, me->status, f.forecast);
    else
        snprintf(line, sizeof line, "actual %s %s  (no target of its own)", f.actual, code);
    put_status(2, 0, line, COLS, me->status);
    if (has_colors())
        attron(COLOR_PAIR(PAIR_DIM));
    put(3, 0, "Up/Down select  Enter drill down  Backspace up  r refresh  q quit", COLS, false);
    if (has_colors())
        attroff(COLOR_PAIR(PAIR_DIM));

    int name_w = 12;
    for (size_t i = 0; i < self->nchildren; i++) {
        const top_row_t *r = &self->children[i];
        char name[448];
        snprintf(name, sizeof name, "%s %s", r->name, r->scope);
        int w = (int)cli_text_width(name);
        name_w = w > name_w ? w : name_w;
    }
    if (name_w > 30)
        name_w = 30;
    int y = 5, x = 1 + name_w + 1;
    attron(A_UNDERLINE);
    put(y, 0, " NAME", name_w + 2, false);
    put(y, x, "ACTUAL", 16, true);
    put(y, x + 17, "TARGET", 16, true);
    put(y, x + 35, "ATTAINMENT", TOP_BAR_CELLS + 6, false);
    put(y, x + 42 + TOP_BAR_CELLS, "PACE", 5, true);
    put(y, x + 49 + TOP_BAR_CELLS, "STATUS", 16, false);
    put(y, x + 66 + TOP_BAR_CELLS, "FORECAST", 16, true);
    attroff(A_UNDERLINE);
    y++;
    int alert_lines = LINES / 3 > 4 ? LINES / 3 : 4;
    int rows_room = LINES - y - alert_lines - 2;
    if (rows_room < 1)
        rows_room = 1;
    size_t first = self->selected >= (size_t)rows_room ? self->selected - rows_room + 1 : 0;
    if (!self->nchildren)
        put(y, 1, "(nothing under this scope)", COLS - 1, false);
    for (size_t i = first; i < self->nchildren && y < 6 + rows_room; i++)
        draw_row(self, y++, &self->children[i], name_w, i == self->selected);

    /* the newest alerts under the scope, newest last */
    int ay = LINES - alert_lines - 1;
    attron(A_BOLD);
    snprintf(line, sizeof line, "ALERTS under %s", self->path);
    put(ay - 1, 0, line, COLS, false);
    attroff(A_BOLD);
    size_t shown[TOP_ALERTS], n = 0;
    for (size_t i = self->nalerts; i-- > 0 && n < (size_t)alert_lines;)
        if (alert_under(self, self->alerts[i]))
            shown[n++] = i;
    for (size_t k = n; k-- > 0;) {
        const pacer_alert_t *a = self->alerts[shown[k]];
        char when[64];
        cli_time_format(a->at, when, sizeof when);
        char *offset = strlen(when) > 16 ? strpbrk(when + 16, "+-Z") : NULL;
        if (offset)
            *offset = 0;
        put(ay, 0, when, 17, false);
        int sp = status_pair(a->severity);
        if (!strcmp(a->state, "resolved"))
            sp = PAIR_GREEN;
        if (sp && has_colors())
            attron(COLOR_PAIR(sp));
        snprintf(line, sizeof line, "%-8s %-8s", a->state, a->severity);
        put(ay, 17, line, 18, false);
        if (sp && has_colors())
            attroff(COLOR_PAIR(sp));
        put(ay, 35, a->summary, COLS - 35, false);
        ay++;
    }
    if (!n)
        put(ay, 0, "(none yet)", COLS, false);
    if (self->message[0]) {
        attron(A_REVERSE);
        put(LINES - 1, 0, self->message, COLS, false);
        attroff(A_REVERSE);
    }
    refresh();
}

/* ---------------------------------------------------------------------
   The command */

static int
top_parse(top_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"period", required_argument, NULL, OPT_PERIOD},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"now", required_argument, NULL, OPT_NOW},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {NULL, 0, NULL, 0},
    };
    cli_options_init(&self->common, "top");
    self->metric = "revenue";
    self->interval_ms = TOP_INTERVAL_DEF * 1000;
    int opt;
    uint64_t seconds;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&self->common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0) {
            ok = true;
            switch (opt) {
            case OPT_PERIOD:
                snprintf(self->period, sizeof self->period, "%s", optarg);
                break;
            case OPT_SCOPE:
                self->scope_arg = optarg;
                break;
            case OPT_METRIC:
                self->metric = optarg;
                break;
            case OPT_NOW:
                ok = cli_options_time(&self->common, "now", optarg, &self->now);
                self->has_now = true;
                break;
            case OPT_INTERVAL:
                ok = cli_options_uint(&self->common, "interval", optarg, 1, 3600, &seconds);
                self->interval_ms = (int)seconds * 1000;
                break;
            default:
                ok = false;
            }
        }
        if (!ok)
            return cli_options_try_help(&self->common);
    }
    int status = cli_options_end(&self->common, argc, argv, top_usage);
    if (status >= 0)
        return status;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        cli_options_error(&self->common,
                          "needs a terminal; for a script, `pacer progress --json` gives the "
                          "same figures and `pacer tail --json` the alerts");
        return CLI_EXIT_FAILED;
    }
    return -1;
}

/* The zone (for times and the default period), the client, the first
   figures, the alert subscriber, the update socket. */
static int
top_start(top_t *self)
{
    self->client = pacer_client_new(NULL, self->common.query);
    if (!self->client) {
        cli_options_error(&self->common, "cannot connect to %s", self->common.query);
        return CLI_EXIT_FAILED;
    }
    /* a screen that waits on a query cannot take keys: give up on one soon */
    pacer_client_set_timeout(self->client, self->common.timeout_ms < TOP_QUERY_MS
                                               ? self->common.timeout_ms
                                               : TOP_QUERY_MS);
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "status");
    cli_reply_t status;
    if (top_query(self, &request, &status) != CLI_EXIT_OK) {
        cli_options_error(&self->common, "%s", self->message);
        return CLI_EXIT_FAILED;
    }
    cli_reply_str(status.body, "time_zone", self->zone, sizeof self->zone);
    cli_reply_done(&status);
    char err[256];
    self->calendar = calendar_new(self->zone[0] ? self->zone : "UTC", 1, err, sizeof err);
    if (!self->calendar) {
        cli_options_error(&self->common, "time zone: %s", err);
        return CLI_EXIT_FAILED;
    }
    if (!self->period[0]) {
        period_t month;
        if (calendar_period_containing(self->calendar, PERIOD_MONTH,
                                       self->has_now ? self->now : cli_time_now(), &month) == 0)
            snprintf(self->period, sizeof self->period, "%s", month.name);
    }
    int rc = top_refresh(self, self->scope_arg);
    if (rc != CLI_EXIT_OK) {
        cli_options_error(&self->common, "%s", self->message);
        return rc;
    }
    self->publish = self->common.publish; /* the common --publish, PACER_PUBLISH */
    self->sub = pacer_sub_new(self->publish, self->common.query);
    self->zmq = zmq_ctx_new();
    self->updates = self->zmq ? zmq_socket(self->zmq, ZMQ_SUB) : NULL;
    if (!self->sub || !self->updates || zmq_connect(self->updates, self->publish) != 0 ||
        zmq_setsockopt(self->updates, ZMQ_SUBSCRIBE, "progress/", 9) != 0) {
        cli_options_error(&self->common, "cannot connect to %s: %s", self->publish,
                          strerror(errno));
        return CLI_EXIT_FAILED;
    }
    /* the last alerts first, so the list is not empty */
    pacer_alerts_query_t q = {.from = 1, .limit = 1};
    pacer_alert_page_t *page = NULL;
    uint64_t last = 0;
    if (pacer_alerts(self->client, &q, &page) == PACER_OK)
        last = pacer_alert_page_last_aseq(page);
    pacer_alert_page_destroy(&page);
    pacer_sub_set_cursor(self->sub, last > TOP_ALERTS_BACK ? last - TOP_ALERTS_BACK : 0);
    return CLI_EXIT_OK;
}

static void
top_stop(top_t *self)
{
    for (size_t i = 0; i < self->nalerts; i++)
        pacer_alert_destroy(&self->alerts[i]);
    free(self->children);
    if (self->updates)
        zmq_close(self->updates);
    if (self->zmq)
        zmq_ctx_term(self->zmq);
    pacer_sub_destroy(&self->sub);
    pacer_client_destroy(&self->client);
    calendar_destroy(&self->calendar);
}

/* Handle a key; false to quit. */
static bool
top_key(top_t *self, int key)
{
    switch (key) {
    case 'q':
    case 'Q':
        return false;
    case KEY_UP:
    case 'k':
        if (self->selected > 0)
            self->selected--;
        break;
    case KEY_DOWN:
    case 'j':
        if (self->selected + 1 < self->nchildren)
            self->selected++;
        break;
    case '\n':
    case '\r':
    case KEY_ENTER:
    case KEY_RIGHT:
    case 'l':
        if (self->selected < self->nchildren) {
            const top_row_t *child = &self->children[self->selected];
            if (!strcmp(child->kind, "rep"))
                snprintf(self->message, sizeof self->message, "%s is a rep: nothing under it",
                         child->path);
            else {
                char path[512];
                snprintf(path, sizeof path, "%s", child->path);
                self->selected = 0;
                top_refresh(self, path);
            }
        }
        break;
    case KEY_BACKSPACE:
    case 127:
    case 8:
    case KEY_LEFT:
    case 'h': {
        char path[512];
        snprintf(path, sizeof path, "%s", self->path);
        char *slash = strrchr(path, '/');
        if (!slash) {
            snprintf(self->message, sizeof self->message, "%s is the top", self->path);
            break;
        }
        char from[128];
        snprintf(from, sizeof from, "%s", slash + 1);
        *slash = 0;
        self->selected = 0;
        if (top_refresh(self, path) == CLI_EXIT_OK)
            for (size_t i = 0; i < self->nchildren; i++)
                if (!strcmp(self->children[i].scope, from))
                    self->selected = i; /* back on the child we came from */
        break;
    }
    case 'r':
        top_refresh(self, self->path);
        break;
    default:
        break;
    }
    return true;
}

int
cli_top_main(int argc, char **argv)
{
    top_t self;
    memset(&self, 0, sizeof self);
    int status = top_parse(&self, argc, argv);
    if (status >= 0)
        return status;
    setlocale(LC_ALL, "");
    status = top_start(&self);
    if (status != CLI_EXIT_OK) {
        top_stop(&self);
        return status;
    }
    initscr();
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(PAIR_GREEN, COLOR_GREEN, -1);
        init_pair(PAIR_YELLOW, COLOR_YELLOW, -1);
        init_pair(PAIR_RED, COLOR_RED, -1);
        init_pair(PAIR_CYAN, COLOR_CYAN, -1);
        init_pair(PAIR_DIM, COLOR_BLUE, -1);
    }
    bool running = true;
    draw(&self);
    while (running) {
        zmq_pollitem_t items[] = {{self.updates, 0, ZMQ_POLLIN, 0},
                                  {NULL, STDIN_FILENO, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, TOP_POLL_MS);
        updates_take(&self);
        alerts_take(&self);
        int key;
        while (running && (key = getch()) != ERR)
            running = top_key(&self, key);
        int64_t now = mono_ms();
        if ((self.stale && now - self.refreshed_ms >= TOP_STALE_MS) ||
            now - self.refreshed_ms >= self.interval_ms)
            top_refresh(&self, self.path);
        if (running)
            draw(&self);
    }
    endwin();
    top_stop(&self);
    return CLI_EXIT_OK;
}
