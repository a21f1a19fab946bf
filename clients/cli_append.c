/*  cli_append: `pacer append [FILE|-]`, JSON Lines into the log.

    Each non-blank line is one event as a JSON object. It is converted to
    msgpack (cli_json) and added to the current batch; a full batch is sent
    with pacer_append_send, and up to --inflight batches are kept in flight
    so the daemon commits one while the next is read and encoded. Every
    batch in flight remembers the input line of each of its events, so the
    daemon's per-event results (and its "event 3" messages, which count
    within the batch) are reported against the file's line numbers.

    A line that is not valid JSON, or not an object, is refused here with
    jansson's reason and never sent. Rejections are errors, so they go to
    stderr, in line order, as the input streams through; stdout has the
    totals.

    --atomic makes the whole input one atomic batch: either every event is
    appended or none is. So it must fit one request (100,000 events, 16 MiB),
    and if any line fails locally nothing is sent at all.

    --json prints the same report as one JSON object on stdout; the
    rejections are then collected in a temporary file (a large bad file must
    not fill memory), one compact JSON object a line, and spliced into its
    "rejections" array at the end. */

#define _GNU_SOURCE /* asprintf */
#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <msgpack.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/cli_progress.h"
#include "clients/libpacer.h"
#include "events/schema.h"
#include "events/wire.h"

#define APPEND_DEFAULT_BATCH    1000
#define APPEND_DEFAULT_INFLIGHT 2
#define APPEND_MAX_INFLIGHT     64

/* A batch sent and not yet answered. */
typedef struct {
    uint64_t corr;
    uint64_t *lines; /* input line of each event, in batch order */
    size_t count;
} append_flight_t;

/* A rejection report held back until every earlier line is reported. */
typedef struct {
    uint64_t line;
    char *text;
} held_t;

typedef struct {
    cli_options_t options;
    const char *path;
    size_t batch_size;
    size_t inflight_max;
    bool atomic, json;

    pacer_client_t *client;
    pacer_batch_t *batch;
    uint64_t *lines; /* lines of the events in `batch` */
    append_flight_t flights[APPEND_MAX_INFLIGHT];
    size_t flight_count;
    msgpack_sbuffer event; /* the line being converted */

    uint64_t line_no;
    uint64_t appended, duplicates, rejected, aborted;
    FILE *rejections; /* temporary file, or stdout when none could be made */
    held_t *held;     /* local rejections waiting for earlier lines' results */
    size_t held_count, held_max;
} append_t;

static void
append_usage(FILE *out)
{
    fputs(
        "usage: pacer append [OPTIONS] [FILE|-]\n"
        "\n"
        "Append events read as JSON Lines (one JSON object per line, field names as in\n"
        "docs/EVENTS.md; blank lines are skipped) from FILE, or standard input, to the log.\n"
        "Prints \"appended N, duplicate N, rejected N\", and each rejected line's number\n"
        "and reason on stderr. Exit status: 0 all appended or duplicate, 1 some line was\n"
        "rejected, 2 usage or connection error.\n"
        "\n"
        "  --batch N       events per request (default 1000, at most 100000)\n"
        "  --inflight K    requests kept in flight (default 2)\n"
        "  --atomic        all or nothing: the input is one atomic batch (at most 100000\n"
        "                  events and 16 MiB); if any line is refused, none is appended\n"
        "  --json          print the report as one JSON object:\n"
        "                  {\"appended\":N,\"duplicates\":N,\"rejected\":N,\"aborted\":N,\n"
        "                   \"rejections\":[{\"line\":N,\"error\":\"code\",\"message\":\"...\"},\n"
        "                   {\"lines\":[FIRST,LAST],\"message\":\"...\"} (a refused request)]}\n"
        "                  (\"rejected\" counts the aborted events too)\n"
        "\n" CLI_OPTIONS_COMMON_HELP,
        out);
}

/* ---- rejections --------------------------------------------------------- */

/* Rejections are reported in line order. A line refused locally is known at
   once, but lines before it may still be in flight; so its report is held
   until the daemon has answered for every earlier line. Replies come back
   in the order batches were sent, which bounds what is held to the lines
   of the batches in flight. */

/* The lowest line whose outcome is not known yet (UINT64_MAX: none). */
static uint64_t
append_unanswered_line(append_t *self)
{
    if (self->flight_count > 0)
        return self->flights[0].lines[0];
    if (pacer_batch_count(self->batch) > 0)
        return self->lines[0];
    return UINT64_MAX;
}

/* One rejection report, as a line of text or (--json) of compact JSON:
   line `first` refused with code and message, or lines first..last (all
   the events of a request, code NULL) with message. malloc'd; NULL when
   out of memory. */
static char *
rejection_format(append_t *self, uint64_t first, uint64_t last, size_t events, const char *code,
                 const char *message)
{
    message = message ? message : "(no message)";
    char *text = NULL;
    if (self->json) {
        json_t *o =
            code ? json_pack("{s:I, s:s, s:s}", "line", (json_int_t)first, "error", code, "message",
                             message)
                 : json_pack("{s:[I, I], s:I, s:s}", "lines", (json_int_t)first, (json_int_t)last,
                             "events", (json_int_t)events, "message", message);
        char *dumped = o ? cli_json_dumps(o) : NULL;
        json_decref(o);
        if (dumped && asprintf(&text, "%s\n", dumped) < 0)
            text = NULL;
        free(dumped);
    } else if (code) {
        if (asprintf(&text, "pacer append: line %" PRIu64 ": %s: %s\n", first, code, message) < 0)
            text = NULL;
    } else if (asprintf(&text, "pacer append: lines %" PRIu64 "-%" PRIu64 " (%zu events): %s\n",
                        first, last, events, message) < 0)
        text = NULL;
    return text;
}

static void
rejection_write(append_t *self, char *text)
{
    if (text)
        fputs(text, self->rejections);
    else
        fputs(self->json ? "{\"message\":\"out of memory reporting a rejection\"}\n"
                         : "(out of memory reporting a rejection)\n",
              self->rejections);
    free(text);
}

/* Write the held reports of lines before `line`. */
static void
append_release(append_t *self, uint64_t line)
{
    size_t released = 0;
    while (released < self->held_count && self->held[released].line < line) {
        fputs(self->held[released].text, self->rejections);
        free(self->held[released].text);
        released++;
    }
    if (released == 0)
        return;
    memmove(self->held, self->held + released, (self->held_count - released) * sizeof *self->held);
    self->held_count -= released;
}

static void
append_reject(append_t *self, uint64_t line, const char *code, const char *message)
{
    self->rejected++;
    append_release(self, line);
    rejection_write(self, rejection_format(self, line, line, 1, code, message));
}

/* A line refused before it was sent. */
static void
append_reject_local(append_t *self, const char *code, const char *message)
{
    self->rejected++;
    char *text = rejection_format(self, self->line_no, self->line_no, 1, code, message);
    if (text && self->held_count == self->held_max) {
        size_t max = self->held_max ? self->held_max * 2 : 64;
        held_t *held = realloc(self->held, max * sizeof *held);
        if (held) {
            self->held = held;
            self->held_max = max;
        }
    }
    if (text && self->held_count < self->held_max)
        self->held[self->held_count++] = (held_t){self->line_no, text};
    else /* out of memory: report it now, out of order, rather than not at all */
        rejection_write(
            self,
            text ? text : rejection_format(self, self->line_no, self->line_no, 1, code, message));
    append_release(self, append_unanswered_line(self));
}

/* Account for the daemon's results of one batch. */
static void
append_account(append_t *self, append_flight_t *flight, pacer_append_result_t *result)
{
    for (size_t i = 0; i < flight->count; i++) {
        const pacer_event_result_t *event = pacer_append_result_event(result, i);
        if (!event->error) {
            if (event->dup)
                self->duplicates++;
            else
                self->appended++;
        } else if (strcmp(event->error, ev_errcode_name(EVE_ABORTED)) == 0) {
            /* Listed as one line at the end, not once per event. */
            self->rejected++;
            self->aborted++;
        } else
            append_reject(self, flight->lines[i], event->error, event->message);
    }
}

/* The daemon refused a whole batch (ok: false): every event in it is rejected. */
static void
append_account_refused(append_t *self, append_flight_t *flight)
{
    self->rejected += flight->count;
    append_release(self, flight->lines[0]);
    rejection_write(self, rejection_format(self, flight->lines[0], flight->lines[flight->count - 1],
                                           flight->count, NULL, pacer_client_error(self->client)));
}

/* ---- batches in flight ---------------------------------------------------- */

static void
flight_forget(append_t *self, size_t index)
{
    free(self->flights[index].lines);
    memmove(&self->flights[index], &self->flights[index + 1],
            (self->flight_count - index - 1) * sizeof self->flights[0]);
    self->flight_count--;
}

/* Wait for one reply and account for it. Returns 0, or -1 when the daemon
   could not be heard (the client's error says why). */
static int
append_receive(append_t *self)
{
    pacer_append_result_t *result = NULL;
    uint64_t corr = 0;
    int rc = pacer_append_recv(self->client, &result, &corr);
    if (rc != PACER_OK && rc != PACER_EREFUSED)
        return -1;
    size_t index = 0;
    while (index < self->flight_count && self->flights[index].corr != corr)
        index++;
    if (index == self->flight_count) {
        /* libpacer only returns corrs we sent; this cannot happen. */
        pacer_append_result_destroy(&result);
        return -1;
    }
    if (rc == PACER_OK)
        append_account(self, &self->flights[index], result);
    else
        append_account_refused(self, &self->flights[index]);
    pacer_append_result_destroy(&result);
    flight_forget(self, index);
    append_release(self, append_unanswered_line(self));
    return 0;
}

/* Send the current batch, first making room among the batches in flight. */
static int
append_flush(append_t *self)
{
    size_t count = pacer_batch_count(self->batch);
    if (count == 0)
        return 0;
    while (self->flight_count >= self->inflight_max)
        if (append_receive(self) != 0)
            return -1;
    uint64_t corr = 0;
    if (pacer_append_send(self->client, self->batch, &corr) != PACER_OK)
        return -1;
    self->flights[self->flight_count++] = (append_flight_t){corr, self->lines, count};
    self->lines = malloc(self->batch_size * sizeof *self->lines);
    pacer_batch_reset(self->batch);
    if (!self->lines) {
        fprintf(stderr, "pacer append: out of memory\n");
        return -1;
    }
    return 0;
}

/* ---- input ------------------------------------------------------------- */

static bool
line_is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
            return false;
    return true;
}

/* Convert one line and add it to the batch. Returns 0 (added or rejected),
   or -1 on a failure that ends the run. */
static int
append_line(append_t *self, char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    /* A byte order mark is not JSON, but editors put one on the first line. */
    if (self->line_no == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (line_is_blank(line, len))
        return 0;

    char err[256];
    msgpack_sbuffer_clear(&self->event);
    int rc = cli_json_line_to_msgpack(line, len, &self->event, err, sizeof err);
    if (rc == CLI_JSON_NOMEM) {
        fprintf(stderr, "pacer append: line %" PRIu64 ": %s\n", self->line_no, err);
        return -1;
    }
    if (rc != CLI_JSON_OK) {
        append_reject_local(self, cli_json_rc_code(rc), err);
        return 0;
    }
    rc = pacer_batch_add_msgpack(self->batch, self->event.data, self->event.size);
    if (rc == PACER_EFULL && pacer_batch_count(self->batch) > 0) {
        if (self->atomic) {
            fprintf(stderr,
                    "pacer append: --atomic: the input does not fit one request "
                    "(%d events, 16 MiB) at line %" PRIu64 "; nothing was sent\n",
                    PACER_BATCH_MAX_EVENTS, self->line_no);
            return -1;
        }
        if (append_flush(self) != 0)
            return -1;
        rc = pacer_batch_add_msgpack(self->batch, self->event.data, self->event.size);
    }
    if (rc == PACER_EFULL) {
        snprintf(err, sizeof err, "the event's %zu bytes do not fit in one request",
                 self->event.size);
        append_reject_local(self, wire_rc_name(WIRE_TOO_LARGE), err);
        return 0;
    }
    if (rc != PACER_OK) {
        fprintf(stderr, "pacer append: line %" PRIu64 ": %s\n", self->line_no, pacer_strerror(rc));
        return rc == PACER_ENOMEM ? -1 : 0;
    }
    self->lines[pacer_batch_count(self->batch) - 1] = self->line_no;
    if (!self->atomic && pacer_batch_count(self->batch) >= self->batch_size)
        return append_flush(self);
    return 0;
}

/* Read the whole input, sending as it goes. Returns 0, or -1 when the run
   stopped early. */
static int
append_stream(append_t *self, FILE *input, uint64_t total_bytes)
{
    cli_progress_t *progress = cli_progress_new(total_bytes);
    char *line = NULL;
    size_t line_max = 0;
    uint64_t bytes = 0;
    int rc = 0;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &line_max, input)) != -1) {
        self->line_no++;
        bytes += (uint64_t)len;
        rc = append_line(self, line, (size_t)len);
        if (progress)
            cli_progress_update(progress, bytes, self->line_no);
    }
    if (rc == 0 && ferror(input)) {
        fprintf(stderr, "pacer append: cannot read %s: %s\n", self->path, strerror(errno));
        rc = -1;
    }
    free(line);

    if (rc == 0 && self->atomic && self->rejected > 0) {
        /* All or nothing, and something already failed: send nothing. */
        self->aborted = pacer_batch_count(self->batch);
        self->rejected += self->aborted;
        pacer_batch_reset(self->batch);
    }
    if (rc == 0)
        rc = append_flush(self);
    while (rc == 0 && self->flight_count > 0)
        rc = append_receive(self);
    if (rc == 0)
        append_release(self, UINT64_MAX);
    cli_progress_destroy(&progress);
    return rc;
}

/* ---- command --------------------------------------------------------------- */

static int
append_parse(append_t *self, int argc, char **argv)
{
    enum { OPT_BATCH = CLI_OPT_FIRST_OWN, OPT_INFLIGHT, OPT_ATOMIC, OPT_JSON };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"batch", required_argument, NULL, OPT_BATCH},
        {"inflight", required_argument, NULL, OPT_INFLIGHT},
        {"atomic", no_argument, NULL, OPT_ATOMIC},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    uint64_t value;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&self->options, opt, optarg);
        if (handled < 0)
            return -1;
        if (handled > 0)
            continue;
        if (opt == OPT_BATCH) {
            if (!cli_options_uint(&self->options, "batch", optarg, 1, PACER_BATCH_MAX_EVENTS,
                                  &value))
                return -1;
            self->batch_size = value;
        } else if (opt == OPT_INFLIGHT) {
            if (!cli_options_uint(&self->options, "inflight", optarg, 1, APPEND_MAX_INFLIGHT,
                                  &value))
                return -1;
            self->inflight_max = value;
        } else if (opt == OPT_ATOMIC)
            self->atomic = true;
        else if (opt == OPT_JSON)
            self->json = true;
        else
            return -1; /* getopt_long printed what is wrong */
    }
    if (optind < argc)
        self->path = argv[optind++];
    if (optind < argc) {
        cli_options_error(&self->options, "one input file at most, got also \"%s\"", argv[optind]);
        return -1;
    }
    return 0;
}

/* --json: the totals, then the rejections collected one JSON object a line,
   spliced into an array. */
static void
append_report_json(append_t *self)
{
    printf("{\"appended\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"rejected\":%" PRIu64
           ",\"aborted\":%" PRIu64 ",\"rejections\":[",
           self->appended, self->duplicates, self->rejected, self->aborted);
    rewind(self->rejections);
    char *line = NULL;
    size_t max = 0;
    ssize_t len;
    bool first = true;
    while ((len = getline(&line, &max, self->rejections)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = 0;
        printf("%s%s", first ? "" : ",", line);
        first = false;
    }
    free(line);
    puts("]}");
}

static void
append_report(append_t *self)
{
    if (self->json) {
        append_report_json(self);
        return;
    }
    printf("appended %" PRIu64 ", duplicate %" PRIu64 ", rejected %" PRIu64 "\n", self->appended,
           self->duplicates, self->rejected);
    if (self->aborted > 0)
        fprintf(stderr,
                "pacer append: %" PRIu64 " more events not appended: --atomic, and the lines "
                "reported were refused\n",
                self->aborted);
}

int
cli_append_main(int argc, char **argv)
{
    append_t self_ = {0};
    append_t *self = &self_;
    cli_options_init(&self->options, "append");
    self->path = "-";
    self->batch_size = APPEND_DEFAULT_BATCH;
    self->inflight_max = APPEND_DEFAULT_INFLIGHT;
    if (append_parse(self, argc, argv) != 0)
        return cli_options_try_help(&self->options);
    if (self->options.help) {
        append_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (self->atomic) {
        self->batch_size = PACER_BATCH_MAX_EVENTS;
        self->inflight_max = 1;
    }

    FILE *input = stdin;
    bool from_stdin = strcmp(self->path, "-") == 0;
    if (from_stdin)
        self->path = "standard input";
    else if (!(input = fopen(self->path, "r"))) {
        cli_options_error(&self->options, "cannot open %s: %s", self->path, strerror(errno));
        return CLI_EXIT_FAILED;
    }
    struct stat st;
    uint64_t total_bytes = 0;
    if (fstat(fileno(input), &st) == 0 && S_ISREG(st.st_mode))
        total_bytes = (uint64_t)st.st_size;

    int status = CLI_EXIT_FAILED;
    msgpack_sbuffer_init(&self->event);
    self->rejections = self->json ? tmpfile() : stderr;
    if (!self->rejections) {
        cli_options_error(&self->options, "cannot create a temporary file for the rejections: %s",
                          strerror(errno));
        msgpack_sbuffer_destroy(&self->event);
        if (!from_stdin)
            fclose(input);
        return CLI_EXIT_FAILED;
    }
    self->client = cli_options_client(&self->options, self->options.endpoint, NULL);
    self->batch = pacer_batch_new();
    self->lines = malloc(self->batch_size * sizeof *self->lines);
    if (!self->client)
        ;
    else if (!self->batch || !self->lines)
        cli_options_error(&self->options, "out of memory");
    else {
        pacer_batch_set_atomic(self->batch, self->atomic);
        if (append_stream(self, input, total_bytes) == 0) {
            append_report(self);
            status = self->rejected > 0 ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
        } else {
            if (pacer_client_error(self->client)[0])
                cli_options_error(&self->options, "%s", pacer_client_error(self->client));
            fprintf(stderr,
                    "pacer append: stopped at line %" PRIu64 " of %s; acknowledged before "
                    "that: appended %" PRIu64 ", duplicate %" PRIu64 ", rejected %" PRIu64
                    ".\nRun the same input again: events already appended come back as "
                    "duplicates.\n",
                    self->line_no, self->path, self->appended, self->duplicates, self->rejected);
        }
    }
    for (size_t i = 0; i < self->flight_count; i++)
        free(self->flights[i].lines);
    for (size_t i = 0; i < self->held_count; i++)
        free(self->held[i].text);
    free(self->held);
    free(self->lines);
    pacer_batch_destroy(&self->batch);
    pacer_client_destroy(&self->client);
    msgpack_sbuffer_destroy(&self->event);
    if (self->rejections && self->rejections != stderr)
        fclose(self->rejections);
    if (!from_stdin)
        fclose(input);
    return status;
}
