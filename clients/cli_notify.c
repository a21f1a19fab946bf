/*  cli_notify: `pacer notify --webhook URL [PREFIX...] --cursor FILE`.

    Forwards every alert of the prefixes to an HTTP endpoint, the way chat
    tools, e-mail gateways and 飞书/钉钉 bots take them: one POST per alert,
    the body the alert record as JSON plus `text` (the summary, for bots
    that show one field). libcurl makes the requests.

    Exactly once, as far as HTTP allows. The alerts come from a libpacer
    subscriber (every alert once, in aseq order, across gaps and daemon
    restarts). An alert counts as delivered on a 2xx answer; only then is
    the cursor file rewritten with its aseq (write a temporary file, fsync,
    rename over the old one, fsync the directory), so a notify killed at
    any moment resumes after the last alert the endpoint accepted. The one
    alert that can be sent twice is the one in flight when notify dies
    after the endpoint accepted it but before the rename: every request
    carries `Idempotency-Key: <key>#<aseq>@<at>` (bytes outside
    printable ASCII percent-encoded), the same on every attempt and after a
    restart, for the endpoint to recognise it.

    Failures. A network error, a timeout (--request-timeout) and any
    answer other than 2xx and 4xx are retried after a backoff that doubles
    from 0.5 s up to --max-backoff (a Retry-After header is honoured up to
    the same cap), forever unless --max-attempts says otherwise; 408 and
    429 are retried too. Any other 4xx means the endpoint will never take
    this alert as sent (a bad URL, a rejected payload): it is logged on
    stderr with the start of the answer and skipped, so that one bad alert
    does not stop all the others. While an alert is being retried, the
    alerts behind it wait in order (the subscriber reads back anything
    the publish socket dropped meanwhile). */

#include "clients/cli_commands.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clients/cli_alert.h"
#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/libpacer_sub.h"

#define NOTIFY_HEADERS_MAX   16
#define NOTIFY_BACKOFF_FIRST 500
#define NOTIFY_ANSWER_KEEP   200

static volatile sig_atomic_t notify_stop;

static void
on_signal(int sig)
{
    (void)sig;
    notify_stop = 1;
}

typedef struct {
    cli_options_t common;
    const char *webhook;
    const char *cursor_path;
    bool has_since;
    bool json;
    uint64_t since;
    int request_timeout_ms;
    int max_backoff_ms;
    uint64_t max_attempts; /* 0: retry forever */
    const char *headers[NOTIFY_HEADERS_MAX];
    size_t nheaders;
    CURL *curl;
} notify_t;

typedef enum { NOTIFY_SENT, NOTIFY_SKIPPED, NOTIFY_STOPPED, NOTIFY_GAVE_UP } outcome_t;

static void
notify_usage(FILE *out)
{
    fputs(
        "usage: pacer notify --webhook URL --cursor FILE [PREFIX...] [--since ASEQ]\n"
        "                    [--header 'Name: value']... [--request-timeout SEC]\n"
        "                    [--max-backoff SEC] [--max-attempts N] [--json]\n"
        "\n"
        "Forward every alert to an HTTP endpoint: one POST per alert, in aseq order, the\n"
        "body the alert record as JSON plus \"text\" (the summary), with the header\n"
        "Idempotency-Key: <key>#<aseq>@<at>. An alert is done when the endpoint\n"
        "answers 2xx; the cursor FILE then records its aseq and the alert outbox's epoch\n"
        "(atomically), so a restarted notify goes\n"
        "on after it: nothing lost, nothing repeated.\n"
        "\n"
        "  --webhook URL          where to POST (http:// or https://)\n"
        "  --cursor FILE          the last aseq delivered and its outbox epoch; created\n"
        "                         when missing\n"
        "  --since ASEQ           when FILE does not exist yet: start at this aseq (1:\n"
        "                         every alert); default: alerts raised from now on\n"
        "  --header 'N: v'        an extra request header, e.g. an Authorization\n"
        "                         (repeatable)\n"
        "  --request-timeout SEC  give up on one request after SEC s (default 10)\n"
        "  --max-backoff SEC      longest wait between retries (default 60; the wait\n"
        "                         doubles from 0.5 s)\n"
        "  --max-attempts N       exit with status 2 after N failed attempts at one\n"
        "                         alert (default: retry forever)\n"
        "  --json                 log each alert's outcome on stdout as one JSON object:\n"
        "                         {\"aseq\", \"key\", \"outcome\": \"delivered\" or \"skipped\",\n"
        "                         \"http\", \"attempts\"}\n"
        "\n"
        "Retried: network errors, timeouts, 408, 429 and every status but 2xx and 4xx.\n"
        "Logged on stderr and skipped: any other 4xx (the endpoint refuses that alert\n"
        "for good). Each outcome is logged on stdout. SIGINT and SIGTERM stop it\n"
        "(status 0); an alert not yet accepted is sent again at the next start.\n"
        "\n" CLI_ALERT_PREFIX_HELP "\n" CLI_OPTIONS_COMMON_HELP,
        out);
}

/* ---- the cursor file ---------------------------------------------------------- */

/* The file holds "<aseq> <epoch>\n": the last aseq delivered and the
   outbox epoch it counts in (docs/PROTOCOL.md, "Alerts"). A file of one
   aseq (written before epochs were kept, or by hand) reads with epoch 0,
   unknown: the first epoch pacerd reports is taken as its. *exists false
   (and true returned) when there is no file yet. */
static bool
cursor_read(notify_t *n, uint64_t *cursor, uint64_t *epoch, bool *exists)
{
    *exists = false;
    FILE *file = fopen(n->cursor_path, "r");
    if (!file) {
        if (errno == ENOENT)
            return true;
        cli_options_error(&n->common, "cannot read %s: %s", n->cursor_path, strerror(errno));
        return false;
    }
    char text[64] = "";
    size_t len = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[len] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10), epoch_value = 0;
    bool ok = len > 0 && text[0] >= '0' && text[0] <= '9' && errno == 0;
    if (ok && *end == ' ') {
        const char *start = end + 1;
        ok = *start >= '0' && *start <= '9';
        epoch_value = strtoull(start, &end, 10);
        ok = ok && errno == 0;
    }
    if (!ok || (*end != '\0' && strcmp(end, "\n") != 0)) {
        cli_options_error(&n->common,
                          "%s does not hold a cursor (an aseq, optionally a space and the "
                          "outbox epoch, and a newline); remove it to start again, or fix it",
                          n->cursor_path);
        return false;
    }
    *cursor = value;
    *epoch = epoch_value;
    *exists = true;
    return true;
}

/* Replace the cursor file so that a crash leaves the old one or the new
   one, never a torn one, and the new one survives a power cut. */
static bool
cursor_write(notify_t *n, uint64_t cursor, uint64_t epoch)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", n->cursor_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        cli_options_error(&n->common, "cannot write %s: %s", tmp, strerror(errno));
        return false;
    }
    char text[64];
    int len = epoch ? snprintf(text, sizeof text, "%" PRIu64 " %" PRIu64 "\n", cursor, epoch)
                    : snprintf(text, sizeof text, "%" PRIu64 "\n", cursor);
    bool ok = write(fd, text, (size_t)len) == len && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, n->cursor_path) != 0) {
        cli_options_error(&n->common, "cannot write %s: %s", n->cursor_path,
                          strerror(ok ? errno : saved));
        unlink(tmp);
        return false;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", n->cursor_path);
    int dirfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd == -1 || fsync(dirfd) != 0) {
        cli_options_error(&n->common, "cannot sync the directory of %s: %s", n->cursor_path,
                          strerror(errno));
        if (dirfd != -1)
            close(dirfd);
        return false;
    }
    close(dirfd);
    return true;
}

/* ---- HTTP ------------------------------------------------------------------------- */

typedef struct {
    char text[NOTIFY_ANSWER_KEEP + 1];
    size_t len;
} answer_t;

static size_t
keep_answer(char *data, size_t size, size_t nmemb, void *userp)
{
    answer_t *answer = userp;
    size_t bytes = size * nmemb;
    size_t room = NOTIFY_ANSWER_KEEP - answer->len;
    size_t take = bytes < room ? bytes : room;
    /* Kept for a log line: control characters (a trailing newline) become spaces. */
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)data[i];
        answer->text[answer->len + i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    answer->len += take;
    answer->text[answer->len] = '\0';
    return bytes;
}

/* A signal aborts a request in progress instead of waiting for its timeout. */
static int
check_stop(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
           curl_off_t ulnow)
{
    (void)clientp, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return notify_stop ? 1 : 0;
}

/* "Idempotency-Key: <key>#<aseq>@<at>", bytes outside printable ASCII
   and '%' percent-encoded so that any key is a valid header value. The
   same on every attempt and after a restart. `at` (when the record was
   raised, ms UTC) tells apart two records that share a key and an aseq:
   a restore of an older backup, or a new installation, numbers its alerts
   again from where its outbox ends, often with the same keys, and those
   must not be taken for the ones the endpoint saw before. */
static void
idempotency_header(const pacer_alert_t *alert, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = (size_t)snprintf(out, outlen, "Idempotency-Key: ");
    for (const unsigned char *p = (const unsigned char *)alert->key; *p && o + 4 < outlen; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '%')
            out[o++] = (char)*p;
        else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    snprintf(out + o, outlen - o, "#%" PRIu64 "@%" PRId64, alert->aseq, alert->at);
}

static void
sleep_ms(int64_t ms)
{
    while (ms > 0 && !notify_stop) {
        int64_t slice = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)slice * 1000000};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* The outcome of one alert on stdout: a line for a person, or with --json
   {"aseq", "key", "outcome": "delivered" or "skipped", "http", "attempts"}. */
static void
report(notify_t *n, const pacer_alert_t *alert, const char *outcome, long status, uint64_t attempts)
{
    if (n->json) {
        json_t *line = json_pack("{s:I, s:s, s:s, s:i, s:I}", "aseq", (json_int_t)alert->aseq,
                                 "key", alert->key, "outcome", outcome, "http", (int)status,
                                 "attempts", (json_int_t)attempts);
        char *text = line ? cli_json_dumps(line) : NULL;
        json_decref(line);
        if (text)
            puts(text);
        free(text);
    } else
        printf("%s #%" PRIu64 " %s (HTTP %ld, attempt %" PRIu64 ")\n", outcome, alert->aseq,
               alert->key, status, attempts);
    fflush(stdout);
}

/* POST one alert until it is accepted, refused for good, or notify stops. */
static outcome_t
deliver(notify_t *n, const pacer_alert_t *alert)
{
    char err[256];
    json_t *json = cli_alert_json(alert, true, err, sizeof err);
    char *body = json ? cli_json_dumps(json) : NULL;
    json_decref(json);
    if (!body) {
        cli_options_error(&n->common, "#%" PRIu64 " %s: no JSON form (%s): skipped", alert->aseq,
                          alert->key, json ? "out of memory" : err);
        return NOTIFY_SKIPPED;
    }
    char key_header[2048];
    idempotency_header(alert, key_header, sizeof key_header);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, key_header);
    for (size_t i = 0; i < n->nheaders; i++)
        headers = curl_slist_append(headers, n->headers[i]);

    CURL *curl = n->curl;
    curl_easy_setopt(curl, CURLOPT_URL, n->webhook);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)n->request_timeout_ms);

    outcome_t outcome = NOTIFY_STOPPED;
    int64_t backoff =
        NOTIFY_BACKOFF_FIRST < n->max_backoff_ms ? NOTIFY_BACKOFF_FIRST : n->max_backoff_ms;
    for (uint64_t attempt = 1; !notify_stop; attempt++) {
        answer_t answer = {.len = 0};
        answer.text[0] = '\0';
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
        CURLcode rc = curl_easy_perform(curl);
        long status = 0;
        curl_off_t retry_after = 0;
        if (rc == CURLE_OK) {
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after);
        }
        if (notify_stop) {
            outcome = NOTIFY_STOPPED;
            break;
        }
        if (rc == CURLE_OK && status >= 200 && status < 300) {
            report(n, alert, "delivered", status, attempt);
            outcome = NOTIFY_SENT;
            break;
        }
        if (rc == CURLE_OK && status >= 400 && status < 500 && status != 408 && status != 429) {
            cli_options_error(&n->common,
                              "#%" PRIu64 " %s: HTTP %ld from %s: skipped (a 4xx is not "
                              "retried): %s",
                              alert->aseq, alert->key, status, n->webhook, answer.text);
            report(n, alert, "skipped", status, attempt);
            outcome = NOTIFY_SKIPPED;
            break;
        }
        char why[320];
        if (rc != CURLE_OK)
            snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
        else
            snprintf(why, sizeof why, "HTTP %ld", status);
        if (n->max_attempts && attempt >= n->max_attempts) {
            cli_options_error(&n->common,
                              "#%" PRIu64 " %s: %s (attempt %" PRIu64 "); giving up after "
                              "--max-attempts",
                              alert->aseq, alert->key, why, attempt);
            outcome = NOTIFY_GAVE_UP;
            break;
        }
        int64_t wait = backoff;
        if (retry_after > 0) {
            wait = (int64_t)retry_after * 1000;
            if (wait > n->max_backoff_ms)
                wait = n->max_backoff_ms;
        }
        cli_options_error(&n->common,
                          "#%" PRIu64 " %s: %s (attempt %" PRIu64 "); retrying in %.1f s",
                          alert->aseq, alert->key, why, attempt, wait / 1000.0);
        sleep_ms(wait);
        backoff = backoff * 2 > n->max_backoff_ms ? n->max_backoff_ms : backoff * 2;
        outcome = NOTIFY_STOPPED; /* if the sleep was cut short */
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    free(body);
    return outcome;
}

/* ---- the loop ------------------------------------------------------------------------ */

static int
notify_run(notify_t *n, pacer_sub_t *sub, uint64_t persisted, uint64_t persisted_epoch)
{
    char warned[1024] = "";
    pacer_sub_stats_t seen;
    pacer_sub_stats(sub, &seen);
    while (!notify_stop) {
        pacer_alert_t *alert = NULL;
        int rc = pacer_sub_recv(sub, &alert, 1000);
        if (rc == PACER_OK) {
            warned[0] = '\0';
            outcome_t outcome = deliver(n, alert);
            pacer_alert_destroy(&alert);
            if (outcome == NOTIFY_STOPPED)
                break;
            if (outcome == NOTIFY_GAVE_UP)
                return CLI_EXIT_FAILED;
        } else if (rc == PACER_ENOMEM || rc == PACER_ETRANSPORT || rc == PACER_EAUTH ||
                   rc == PACER_EINVAL) {
            cli_options_error(&n->common, "%s", pacer_sub_error(sub));
            return CLI_EXIT_FAILED;
        } else if (rc != PACER_EAGAIN && strcmp(warned, pacer_sub_error(sub)) != 0) {
            snprintf(warned, sizeof warned, "%s", pacer_sub_error(sub));
            cli_options_error(&n->common, "%s; retrying", warned);
        }
        /* Also after alerts of other prefixes moved the cursor on, and
           once a "now" start has learnt where now is. */
        uint64_t cursor = pacer_sub_cursor(sub), epoch = pacer_sub_epoch(sub);
        pacer_sub_stats_t stats;
        pacer_sub_stats(sub, &stats);
        if (stats.epoch_changes != seen.epoch_changes)
            cli_options_error(&n->common,
                              "pacerd's alert outbox is another one (epoch %" PRIu64
                              " after %" PRIu64 "): its state directory was replaced; "
                              "delivering its alerts from aseq 1",
                              epoch, persisted_epoch);
        if (stats.rollbacks != seen.rollbacks)
            cli_options_error(&n->common,
                              "pacerd's alert outbox ends at aseq %" PRIu64
                              ", before the cursor: it was restored from an older backup; "
                              "going on from there",
                              cursor);
        seen = stats;
        if (cursor != PACER_SUB_NOW && (cursor != persisted || epoch != persisted_epoch)) {
            if (!cursor_write(n, cursor, epoch))
                return CLI_EXIT_FAILED;
            persisted = cursor;
            persisted_epoch = epoch;
        }
    }
    return CLI_EXIT_OK;
}

static bool
parse_seconds(notify_t *n, const char *name, const char *arg, int *out_ms)
{
    char *end = NULL;
    double seconds = strtod(arg, &end);
    if (end == arg || *end != '\0' || !(seconds >= 0.001) || seconds > 86400) {
        cli_options_error(&n->common, "--%s: expected seconds from 0.001 to 86400, got \"%s\"",
                          name, arg);
        return false;
    }
    *out_ms = (int)(seconds * 1000 + 0.5);
    return true;
}

int
cli_notify_main(int argc, char **argv)
{
    enum {
        OPT_WEBHOOK = CLI_OPT_FIRST_OWN,
        OPT_CURSOR,
        OPT_SINCE,
        OPT_HEADER,
        OPT_REQUEST_TIMEOUT,
        OPT_MAX_BACKOFF,
        OPT_MAX_ATTEMPTS,
        OPT_JSON
    };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"webhook", required_argument, NULL, OPT_WEBHOOK},
        {"cursor", required_argument, NULL, OPT_CURSOR},
        {"since", required_argument, NULL, OPT_SINCE},
        {"header", required_argument, NULL, OPT_HEADER},
        {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
        {"max-backoff", required_argument, NULL, OPT_MAX_BACKOFF},
        {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    notify_t n = {0};
    cli_options_init(&n.common, "notify");
    n.request_timeout_ms = 10000;
    n.max_backoff_ms = 60000;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&n.common, opt, optarg);
        bool ok = handled > 0;
        if (handled == 0) {
            ok = true;
            switch (opt) {
            case OPT_WEBHOOK:
                n.webhook = optarg;
                break;
            case OPT_CURSOR:
                n.cursor_path = optarg;
                break;
            case OPT_SINCE:
                n.has_since = true;
                ok = cli_options_uint(&n.common, "since", optarg, 0, UINT64_MAX - 1, &n.since);
                break;
            case OPT_HEADER:
                if (n.nheaders == NOTIFY_HEADERS_MAX || !strchr(optarg, ':')) {
                    cli_options_error(&n.common,
                                      "--header: expected 'Name: value' (at most %d), "
                                      "got \"%s\"",
                                      NOTIFY_HEADERS_MAX, optarg);
                    ok = false;
                } else
                    n.headers[n.nheaders++] = optarg;
                break;
            case OPT_REQUEST_TIMEOUT:
                ok = parse_seconds(&n, "request-timeout", optarg, &n.request_timeout_ms);
                break;
            case OPT_MAX_BACKOFF:
                ok = parse_seconds(&n, "max-backoff", optarg, &n.max_backoff_ms);
                break;
            case OPT_MAX_ATTEMPTS:
                ok = cli_options_uint(&n.common, "max-attempts", optarg, 1, UINT64_MAX,
                                      &n.max_attempts);
                break;
            case OPT_JSON:
                n.json = true;
                break;
            default:
                ok = false;
            }
        }
        if (!ok)
            return cli_options_try_help(&n.common);
    }
    if (n.common.help) {
        notify_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!n.webhook || !n.cursor_path) {
        cli_options_error(&n.common, "--webhook and --cursor are required");
        return cli_options_try_help(&n.common);
    }
    if (strncmp(n.webhook, "http://", 7) != 0 && strncmp(n.webhook, "https://", 8) != 0) {
        cli_options_error(&n.common, "--webhook: expected an http:// or https:// URL, got \"%s\"",
                          n.webhook);
        return CLI_EXIT_FAILED;
    }
    uint64_t cursor = 0, epoch = 0;
    bool exists = false;
    if (!cursor_read(&n, &cursor, &epoch, &exists))
        return CLI_EXIT_FAILED;
    if (!exists)
        cursor = n.has_since ? (n.since ? n.since - 1 : 0) : PACER_SUB_NOW;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(n.curl = curl_easy_init())) {
        cli_options_error(&n.common, "cannot initialise libcurl");
        return CLI_EXIT_FAILED;
    }
    curl_easy_setopt(n.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(n.curl, CURLOPT_USERAGENT, "pacer-notify");
    curl_easy_setopt(n.curl, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(n.curl, CURLOPT_XFERINFOFUNCTION, check_stop);
    curl_easy_setopt(n.curl, CURLOPT_NOPROGRESS, 0L);

    int status = CLI_EXIT_FAILED;
    pacer_sub_t *sub = pacer_sub_new(n.common.publish, n.common.query);
    if (!sub)
        cli_options_error(&n.common, "cannot connect to %s and %s: %s", n.common.publish,
                          n.common.query, strerror(errno));
    for (int i = optind; sub && i < argc; i++) {
        char prefix[PACER_SUB_PREFIX_MAX_BYTES + 8];
        cli_alert_prefix(argv[i], prefix, sizeof prefix);
        if (pacer_sub_subscribe(sub, prefix) != PACER_OK) {
            cli_options_error(&n.common, "%s: %s", argv[i], pacer_sub_error(sub));
            pacer_sub_destroy(&sub);
        }
    }
    if (sub) {
        pacer_sub_set_cursor(sub, cursor);
        pacer_sub_set_epoch(sub, epoch);
        if (n.common.timeout_ms != PACER_DEFAULT_TIMEOUT_MS)
            pacer_sub_set_query_timeout(sub, n.common.timeout_ms);
        struct sigaction action = {0};
        action.sa_handler = on_signal;
        sigemptyset(&action.sa_mask);
        sigaction(SIGINT, &action, NULL);
        sigaction(SIGTERM, &action, NULL);
        status = notify_run(&n, sub, exists ? cursor : PACER_SUB_NOW, epoch);
    }
    pacer_sub_destroy(&sub);
    curl_easy_cleanup(n.curl);
    curl_global_cleanup();
    return status;
}
