/*  pacer-eval: how well the anomaly detectors find what pacer-gen injected.

    Offline mode (the default): reads a pacer-gen history (JSON
    Lines events, validated as pacerd validates them) and its labels, folds
    every registered detector in-process over the events in order (seq = the
    accepted events' position, as a fresh pacerd would number them), keeps
    the daemon's calendar up to date from calendar_day_set events, and
    scores the flags against the labels (clients/eval/eval_score.h says how
    a flag matches a label). Prints per detector labels, flags, TP, FP, FN,
    precision, recall, F1 and false alarms per 10,000 deals, then the fold
    cost per event and the memory each detector holds at the end.

    The reading (this file) is apart from the scoring (eval_score.c) so that
    an online mode, collecting alerts from a pacerd, reports the same way. */

#include "clients/cli_json.h"
#include "clients/eval/eval_online.h"
#include "clients/eval/eval_score.h"
#include "events/codec.h"
#include "projections/calendar.h"
#include "projections/fold.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH         4096
#define MAX_DETECTORS 32

typedef struct {
    eval_t *eval;
    FILE *print; /* every flag as a line, or NULL */
    uint64_t nflags[MAX_DETECTORS];
    int det;
} sink_t;

static void
usage(FILE *out)
{
    fputs("usage: pacer-eval --events FILE [--labels FILE] [OPTIONS]\n"
          "\n"
          "Folds every anomaly detector over a pacer-gen history in-process and scores its\n"
          "flags against the labels: per detector TP, FP, FN, precision, recall, F1 and false\n"
          "alarms per 10,000 deals. A flag matches a label of the same detector when one of\n"
          "its evidence event ids is among the label's event_ids.\n"
          "\n"
          "  --events FILE       the history, JSON Lines (pacer-gen --out)\n"
          "  --labels FILE       its labels (pacer-gen --labels); without: every flag is a\n"
          "                      false alarm (a --clean history)\n"
          "  --set DET.PARAM=V   a detector setting, e.g. --set amount_outlier.threshold=4\n"
          "  --time-zone ZONE    the daemon's zone (default Asia/Shanghai)\n"
          "  --markdown          the table as markdown\n"
          "  --list N            list up to N false positives and misses per detector\n"
          "  --flags FILE        write every flag to FILE, one line each\n"
          "  --per-detector      time each detector alone (batch by batch) instead of all\n"
          "                      of them event by event\n"
          "  --only DET          run that detector alone\n"
          "  --pacerd            online: instead of folding in-process, start a fresh pacerd\n"
          "                      (the one beside pacer-eval), append the history with pacer\n"
          "                      append, tick to its end and score the anomaly alerts it\n"
          "                      raised (alert/anomaly/): the whole path a user's data takes\n"
          "  --help              this text\n",
          out);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* the machine is shared: CPU time */
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
collect(void *arg, const det_flag_t *f)
{
    sink_t *sink = arg;
    const char *ids[DET_EVIDENCE_MAX];
    for (int k = 0; k < f->nevidence; k++)
        ids[k] = f->evidence[k].id;
    if (eval_add_flag(sink->eval, f->detector, f->key, ids, (size_t)f->nevidence, f->summary)) {
        fprintf(stderr, "pacer-eval: out of memory\n");
        exit(2);
    }
    sink->nflags[sink->det]++;
    if (sink->print) {
        fprintf(sink->print, "%s\t%s\t%s\t%.3f\t", f->detector, f->key, f->rep, f->score);
        for (int k = 0; k < f->nevidence; k++)
            fprintf(sink->print, "%s%llu:%s", k ? "," : "", (unsigned long long)f->evidence[k].seq,
                    f->evidence[k].id);
        fprintf(sink->print, "\t%s\n", f->summary);
    }
}

/* Labels: one JSON object a line with "detector" and "event_ids". */
static int
read_labels(eval_t *eval, const char *path)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "pacer-eval: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, in)) > 0) {
        lineno++;
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)len, 0, &jerr);
        json_t *det = obj ? json_object_get(obj, "detector") : NULL;
        json_t *ids = obj ? json_object_get(obj, "event_ids") : NULL;
        if (!json_is_string(det) || !json_is_array(ids)) {
            fprintf(stderr, "pacer-eval: %s:%zu: not a label (detector, event_ids)\n", path,
                    lineno);
            rc = -1;
        } else {
            size_t n = json_array_size(ids);
            const char **v = calloc(n ? n : 1, sizeof *v);
            for (size_t k = 0; v && k < n; k++)
                v[k] = json_is_string(json_array_get(ids, k))
                           ? json_string_value(json_array_get(ids, k))
                           : "";
            if (!v || eval_add_label(eval, json_string_value(det), v, n) != 0)
                rc = -1;
            free(v);
        }
        json_decref(obj);
    }
    free(line);
    fclose(in);
    return rc;
}

typedef struct {
    const fold_class_t *dc;
    void *state;
    double seconds;
} det_run_t;

typedef struct {
    det_run_t det[MAX_DETECTORS];
    int ndet;
    sink_t sink;
    calendar_t *cal;
    /* the batch being read */
    msgpack_sbuffer buf;
    size_t off[BATCH];
    event_t ev[BATCH];
    uint64_t seq[BATCH];
    int n;
    uint64_t next_seq, deals, refused;
    int per_detector;
    double seconds; /* folding, event by event */
} run_t;

/* Fold the batch event by event through every detector, as the daemon does; with
   per_detector, into each detector in turn instead (detectors are independent, so this order
   gives the same flags, and a time per detector). */
static void
flush(run_t *r)
{
    if (!r->per_detector) {
        double t0 = now_s();
        for (int k = 0; k < r->n; k++)
            for (int d = 0; d < r->ndet; d++) {
                det_run_t *dr = &r->det[d];
                r->sink.det = d;
                if (dr->dc->fold(dr->state, r->seq[k], 0, &r->ev[k], collect, &r->sink) != 0) {
                    fprintf(stderr, "pacer-eval: %s: fold failed (out of memory)\n", dr->dc->name);
                    exit(2);
                }
            }
        r->seconds += now_s() - t0;
        r->n = 0;
        r->buf.size = 0;
        return;
    }
    for (int d = 0; d < r->ndet; d++) {
        det_run_t *dr = &r->det[d];
        r->sink.det = d;
        double t0 = now_s();
        for (int k = 0; k < r->n; k++)
            if (dr->dc->fold(dr->state, r->seq[k], 0, &r->ev[k], collect, &r->sink) != 0) {
                fprintf(stderr, "pacer-eval: %s: fold failed (out of memory)\n", dr->dc->name);
                exit(2);
            }
        dr->seconds += now_s() - t0;
    }
    r->n = 0;
    r->buf.size = 0;
}

static int
apply_calendar(run_t *r, const char *date, int holiday)
{
    int y, m, d;
    if (sscanf(date, "%d-%d-%d", &y, &m, &d) != 3)
        return -1;
    char err[256];
    calendar_day_t kind = holiday ? CALENDAR_DAY_HOLIDAY : CALENDAR_DAY_WORKING;
    if (calendar_set_day(r->cal, y, m, d, kind, err, sizeof err) != 0) {
        fprintf(stderr, "pacer-eval: %s\n", err);
        return -1;
    }
    return 0;
}

/* Decode one JSON line into the batch; refused events get no seq, as in pacerd. */
static void
add_line(run_t *r, const char *line, size_t len)
{
    char err[320];
    size_t start = r->buf.size;
    if (cli_json_line_to_msgpack(line, len, &r->buf, err, sizeof err) != 0) {
        r->refused++;
        return;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t pos = start;
    ev_error_t everr;
    if (msgpack_unpack_next(&up, r->buf.data, r->buf.size, &pos) != MSGPACK_UNPACK_SUCCESS ||
        event_decode(&up.data, &r->ev[r->n], &everr) != EVE_OK) {
        msgpack_unpacked_destroy(&up);
        r->buf.size = start;
        r->refused++;
        return;
    }
    msgpack_unpacked_destroy(&up);
    event_t *ev = &r->ev[r->n];
    r->seq[r->n] = ++r->next_seq;
    if (ev->type == EV_SALE_CLOSED)
        r->deals++;
    r->n++;
    if (ev->type == EV_CALENDAR_DAY_SET) {
        /* the calendar changes between the events before and after it */
        char date[16];
        snprintf(date, sizeof date, "%.*s", (int)ev->v[F_DATE].s.len, ev->v[F_DATE].s.ptr);
        int holiday = ev->v[F_DAY_TYPE].i == DAY_HOLIDAY;
        flush(r);
        apply_calendar(r, date, holiday);
        return;
    }
    if (r->n == BATCH)
        flush(r);
}

/* --pacerd: the same scoring, of the alerts a real pacerd raised. */
static int
main_online(const char *argv0, const char *events, const char *labels, int markdown, size_t nlist)
{
    static const char *names[MAX_DETECTORS + 1];
    int n = 0;
    for (const fold_class_t *const *dc = DETECTORS; *dc && n < MAX_DETECTORS; dc++)
        names[n++] = (*dc)->name;
    eval_t *eval = eval_new(names);
    if (!eval)
        return 2;
    if (labels && read_labels(eval, labels) != 0)
        return 1;
    char bindir[4096];
    snprintf(bindir, sizeof bindir, "%s", argv0);
    char *slash = strrchr(bindir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(bindir, sizeof bindir, ".");
    eval_online_stats_t st;
    char err[512];
    if (eval_online(bindir, events, eval, &st, err, sizeof err) != 0) {
        fprintf(stderr, "pacer-eval: %s\n", err);
        eval_destroy(&eval);
        return 2;
    }
    printf("pacer-eval --pacerd: %s: %llu events (%llu deals) appended to a fresh pacerd in "
           "%.2f s, %llu anomaly alerts raised%s%s\n",
           events, (unsigned long long)st.events, (unsigned long long)st.deals, st.append_s,
           (unsigned long long)st.flags, labels ? "; labels " : "; no labels",
           labels ? labels : "");
    eval_print(eval, stdout, markdown, nlist);
    eval_destroy(&eval);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *events = NULL, *labels = NULL, *zone = "Asia/Shanghai", *flags_path = NULL;
    int markdown = 0, per_detector = 0;
    size_t nlist = 0;
    const char *sets[64];
    int nsets = 0;
    const char *only = NULL;
    int online = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--markdown") == 0) {
            markdown = 1;
        } else if (strcmp(a, "--pacerd") == 0) {
            online = 1;
        } else if (strcmp(a, "--per-detector") == 0) {
            per_detector = 1;
        } else if (v && strcmp(a, "--events") == 0) {
            events = v, i++;
        } else if (v && strcmp(a, "--labels") == 0) {
            labels = v, i++;
        } else if (v && strcmp(a, "--time-zone") == 0) {
            zone = v, i++;
        } else if (v && strcmp(a, "--flags") == 0) {
            flags_path = v, i++;
        } else if (v && strcmp(a, "--list") == 0) {
            nlist = strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--only") == 0) {
            only = v, i++;
        } else if (v && strcmp(a, "--set") == 0 && nsets < 64) {
            sets[nsets++] = v, i++;
        } else {
            fprintf(stderr, "pacer-eval: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (!events) {
        usage(stderr);
        return 1;
    }

    if (online)
        return main_online(argv[0], events, labels, markdown, nlist);
    static run_t r;
    r.per_detector = per_detector;
    char err[256];
    r.cal = calendar_new(zone, 1, err, sizeof err);
    if (!r.cal) {
        fprintf(stderr, "pacer-eval: %s\n", err);
        return 1;
    }
    det_env_t env = {.cal = r.cal};
    static const char *names[MAX_DETECTORS + 1];
    for (const fold_class_t *const *dc = DETECTORS; *dc && r.ndet < MAX_DETECTORS; dc++) {
        if (only && strcmp(only, (*dc)->name) != 0)
            continue;
        r.det[r.ndet].dc = *dc;
        r.det[r.ndet].state = (*dc)->create(&env);
        if (!r.det[r.ndet].state) {
            fprintf(stderr, "pacer-eval: out of memory\n");
            return 2;
        }
        names[r.ndet] = (*dc)->name;
        r.ndet++;
    }
    for (int k = 0; k < nsets; k++) {
        char det[64], param[64];
        double value;
        if (sscanf(sets[k], "%63[^.].%63[^=]=%lf", det, param, &value) != 3) {
            fprintf(stderr, "pacer-eval: --set %s: expected DETECTOR.PARAM=VALUE\n", sets[k]);
            return 1;
        }
        int d = 0;
        while (d < r.ndet && strcmp(r.det[d].dc->name, det) != 0)
            d++;
        if (d == r.ndet) {
            fprintf(stderr, "pacer-eval: --set %s: no detector %s\n", sets[k], det);
            return 1;
        }
        if (r.det[d].dc->set_param(r.det[d].state, param, value, err, sizeof err) != 0) {
            fprintf(stderr, "pacer-eval: --set %s: %s\n", sets[k], err);
            return 1;
        }
    }
    r.sink.eval = eval_new(names);
    if (!r.sink.eval)
        return 2;
    if (labels && read_labels(r.sink.eval, labels) != 0)
        return 1;
    if (flags_path && !(r.sink.print = fopen(flags_path, "w"))) {
        fprintf(stderr, "pacer-eval: %s: %s\n", flags_path, strerror(errno));
        return 1;
    }

    FILE *in = strcmp(events, "-") == 0 ? stdin : fopen(events, "r");
    if (!in) {
        fprintf(stderr, "pacer-eval: %s: %s\n", events, strerror(errno));
        return 1;
    }
    /* room for a batch, so that the batch's events (which point into it) never move */
    msgpack_sbuffer_init(&r.buf);
    r.buf.alloc = 16u << 20;
    r.buf.data = malloc(r.buf.alloc);
    if (!r.buf.data)
        return 2;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) > 0) {
        /* the batch's events point into buf: flush before it could move */
        if (r.buf.alloc - r.buf.size < 2 * (size_t)len + 1024)
            flush(&r);
        add_line(&r, line, (size_t)len);
    }
    flush(&r);
    free(line);
    if (in != stdin)
        fclose(in);
    eval_set_deals(r.sink.eval, r.deals);

    printf("pacer-eval: %s: %llu events (%llu deals), %llu refused%s%s\n", events,
           (unsigned long long)r.next_seq, (unsigned long long)r.deals,
           (unsigned long long)r.refused, labels ? "; labels " : "; no labels",
           labels ? labels : "");
    eval_print(r.sink.eval, stdout, markdown, nlist);
    double total = r.seconds;
    size_t mem = 0;
    printf("\n%-20s %12s %12s\n", "DETECTOR", per_detector ? "NS/EVENT" : "", "MEMORY");
    for (int d = 0; d < r.ndet; d++) {
        size_t m = r.det[d].dc->memory(r.det[d].state);
        total += r.det[d].seconds;
        mem += m;
        if (per_detector)
            printf("%-20s %12.1f %12zu\n", r.det[d].dc->name,
                   r.next_seq ? 1e9 * r.det[d].seconds / r.next_seq : 0.0, m);
        else
            printf("%-20s %12s %12zu\n", r.det[d].dc->name, "", m);
    }
    printf("%-20s %12.1f %12zu   (ns/event: every detector, %s)\n", "all",
           r.next_seq ? 1e9 * total / r.next_seq : 0.0, mem,
           per_detector ? "one detector at a time" : "event by event");

    for (int d = 0; d < r.ndet; d++)
        r.det[d].dc->destroy(&r.det[d].state);
    if (r.sink.print)
        fclose(r.sink.print);
    eval_destroy(&r.sink.eval);
    msgpack_sbuffer_destroy(&r.buf);
    calendar_destroy(&r.cal);
    return 0;
}
