/*  pacer-bench: acknowledged-append throughput and latency of a pacerd.

    P producer threads, each with its own libpacer client, keep K batches of
    B generated `sale_closed` events in flight: as soon as one is answered
    the next is sent. Each batch's ack latency is the time from
    pacer_append_send to its reply, which, since acknowledged means durable,
    includes the daemon's commit and fsync. Throughput is events appended
    over the wall time from the common start to the last ack.

    Event ids carry a random per-run prefix, so every event is new and any
    result other than "appended" (a duplicate or an error) counts as an
    error: a fresh run must report 0. Producers share nothing but the start
    barrier, the stop flag and their slot in the results array, read after
    join. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "clients/bench/bench_latency.h"
#include "clients/bench/bench_option.h"
#include "clients/libpacer.h"

#define BENCH_MAX_PRODUCERS 256
#define BENCH_MAX_INFLIGHT  1024

typedef struct {
    const char *endpoint;
    int producers;
    size_t batch;
    size_t inflight;
    double seconds;  /* used when events == 0 */
    uint64_t events; /* total to send; 0: run for `seconds` */
    int timeout_ms;
    bool json;
    double rate;  /* events a second in all, 0: as fast as acknowledged */
    char run[17]; /* random hex prefix of every id */
} bench_config_t;

/* One producer's work and results. */
typedef struct {
    const bench_config_t *config;
    int index;
    uint64_t quota; /* events to send, when config->events */
    pthread_barrier_t *start;
    atomic_bool *stop;

    uint64_t sent_events, appended, errors, batches;
    double *latencies_ms; /* one per answered batch */
    size_t latency_count, latency_max;
    int64_t last_ack_ns;
    int64_t started_ns;    /* for --rate */
    size_t event_bytes;    /* encoded bytes of all events sent, for the average size */
    char first_error[512]; /* the first non-appended result, for the report */
    char failure[512];     /* why the producer stopped early, "" if it did not */
} producer_t;

/* ---- events -------------------------------------------------------------- */

/* The events are written from a template: each producer packs one
   sale_closed with fixed-width numbers once (decimal fields zero-padded,
   integers in msgpack's 9-byte int64 form), remembers where each number
   is, and then writes only the numbers of each event into it. Packing
   every event field by field took about a third of the load generator's
   CPU, which on a small machine is CPU the daemon under test does not get.
   The daemon re-encodes every event canonically, so the wider integers
   cost it nothing. */

#define SEQ_DIGITS 10 /* n in the id and the order number: 9 hours at 300k/s */

typedef struct {
    msgpack_sbuffer bytes;
    size_t id_n, order_n, rep, customer;          /* offsets of decimal fields */
    size_t occurred_at, amount, margin, quantity; /* of int64 payloads */
} sale_template_t;

static bool
pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) == 0 && msgpack_pack_str_body(pk, s, len) == 0;
}

/* Pack a string of `prefix` then `digits` zeros; *at = offset of the zeros. */
static bool
pack_numbered(msgpack_packer *pk, msgpack_sbuffer *out, const char *prefix, int digits, size_t *at)
{
    char text[96];
    size_t len = strlen(prefix);
    if (len + (size_t)digits >= sizeof text)
        return false;
    memcpy(text, prefix, len);
    memset(text + len, '0', (size_t)digits);
    if (msgpack_pack_str(pk, len + (size_t)digits) != 0)
        return false;
    *at = out->size + len;
    return msgpack_pack_str_body(pk, text, len + (size_t)digits) == 0;
}

static bool
pack_int_field(msgpack_packer *pk, msgpack_sbuffer *out, const char *key, size_t *at)
{
    if (!pack_str(pk, key))
        return false;
    *at = out->size + 1; /* after the 0xd3 marker */
    return msgpack_pack_fix_int64(pk, 0) == 0;
}

/* about 230 bytes, the size of a typical CRM order event:
   id bench:RUN:P:N, order so-RUN-P-N, rep rep-NNN (n % 200),
   customer cust-P-NNNNN (n % 5000) */
static bool
sale_template_init(sale_template_t *t, const char *run, int producer)
{
    char prefix[64];
    msgpack_sbuffer_init(&t->bytes);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &t->bytes, msgpack_sbuffer_write);
    msgpack_sbuffer *out = &t->bytes;
    bool ok = msgpack_pack_map(&pk, 12) == 0 && pack_str(&pk, "type") &&
              pack_str(&pk, "sale_closed") && pack_str(&pk, "id");
    snprintf(prefix, sizeof prefix, "bench:%s:%d:", run, producer);
    ok = ok && pack_numbered(&pk, out, prefix, SEQ_DIGITS, &t->id_n) &&
         pack_int_field(&pk, out, "occurred_at", &t->occurred_at) && pack_str(&pk, "source") &&
         pack_str(&pk, "pacer-bench") && pack_str(&pk, "order");
    snprintf(prefix, sizeof prefix, "so-%s-%d-", run, producer);
    ok = ok && pack_numbered(&pk, out, prefix, SEQ_DIGITS, &t->order_n) && pack_str(&pk, "rep") &&
         pack_numbered(&pk, out, "rep-", 3, &t->rep) &&
         pack_int_field(&pk, out, "amount", &t->amount) && pack_str(&pk, "currency") &&
         pack_str(&pk, "CNY") && pack_str(&pk, "customer");
    snprintf(prefix, sizeof prefix, "cust-%d-", producer);
    return ok && pack_numbered(&pk, out, prefix, 5, &t->customer) &&
           pack_int_field(&pk, out, "margin", &t->margin) && pack_str(&pk, "product_line") &&
           pack_str(&pk, "cloud") && pack_int_field(&pk, out, "quantity", &t->quantity);
}

static void
put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
}

static void
put_be64(char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        p[i] = (char)(u & 0xff);
}

/* Turn the template into sale_closed number n of this producer. */
static void
sale_template_fill(sale_template_t *t, uint64_t n, int64_t occurred_at)
{
    char *b = t->bytes.data;
    int64_t amount = 100000 + (int64_t)((n * 7919) % 5000000);
    put_digits(b + t->id_n, n, SEQ_DIGITS);
    put_digits(b + t->order_n, n, SEQ_DIGITS);
    put_digits(b + t->rep, n % 200, 3);
    put_digits(b + t->customer, n % 5000, 5);
    put_be64(b + t->occurred_at, occurred_at);
    put_be64(b + t->amount, amount);
    put_be64(b + t->margin, amount / 3);
    put_be64(b + t->quantity, 1 + (int64_t)(n % 20));
}

/* ---- producer -------------------------------------------------------------- */

typedef struct {
    uint64_t corr;
    int64_t sent_ns;
} flight_t;

static bool
producer_record_latency(producer_t *self, double ms)
{
    if (self->latency_count == self->latency_max) {
        size_t max = self->latency_max ? self->latency_max * 2 : 4096;
        double *latencies = realloc(self->latencies_ms, max * sizeof *latencies);
        if (!latencies)
            return false;
        self->latencies_ms = latencies;
        self->latency_max = max;
    }
    self->latencies_ms[self->latency_count++] = ms;
    return true;
}

/* With --rate, whether this producer's share of the rate allows a batch
   now. */
static bool
producer_may_send(producer_t *self)
{
    if (self->config->rate <= 0)
        return true;
    double elapsed = (double)(bench_now_ns() - self->started_ns) / 1e9;
    return (double)self->sent_events <= elapsed * self->config->rate / self->config->producers;
}

static bool
producer_should_send(producer_t *self)
{
    if (self->config->events)
        return self->sent_events < self->quota;
    return !atomic_load(self->stop);
}

/* Fill and send one batch. Returns false with self->failure set. */
static bool
producer_send(producer_t *self, pacer_client_t *client, pacer_batch_t *batch,
              sale_template_t *event, flight_t *flights, size_t *flight_count)
{
    pacer_batch_reset(batch);
    size_t size = self->config->batch;
    if (self->config->events && self->quota - self->sent_events < size)
        size = (size_t)(self->quota - self->sent_events);
    int64_t occurred_at = (int64_t)time(NULL) * 1000;
    for (size_t i = 0; i < size; i++) {
        sale_template_fill(event, self->sent_events + i, occurred_at);
        int rc = pacer_batch_add_msgpack(batch, event->bytes.data, event->bytes.size);
        if (rc != PACER_OK) {
            snprintf(self->failure, sizeof self->failure, "cannot batch an event: %s",
                     pacer_strerror(rc));
            return false;
        }
        self->event_bytes += event->bytes.size;
    }
    uint64_t corr = 0;
    int64_t sent = bench_now_ns();
    if (pacer_append_send(client, batch, &corr) != PACER_OK) {
        snprintf(self->failure, sizeof self->failure, "%s", pacer_client_error(client));
        return false;
    }
    flights[(*flight_count)++] = (flight_t){corr, sent};
    self->sent_events += size;
    return true;
}

/* Wait for one reply and account for it. */
static bool
producer_receive(producer_t *self, pacer_client_t *client, flight_t *flights, size_t *flight_count)
{
    pacer_append_result_t *result = NULL;
    uint64_t corr = 0;
    int rc = pacer_append_recv(client, &result, &corr);
    int64_t now = bench_now_ns();
    if (rc != PACER_OK && rc != PACER_EREFUSED) {
        snprintf(self->failure, sizeof self->failure, "%s", pacer_client_error(client));
        return false;
    }
    size_t index = 0;
    while (index < *flight_count && flights[index].corr != corr)
        index++;
    if (index == *flight_count) {
        pacer_append_result_destroy(&result);
        snprintf(self->failure, sizeof self->failure, "a reply to unknown batch %" PRIu64, corr);
        return false;
    }
    double latency = (now - flights[index].sent_ns) / 1e6;
    memmove(&flights[index], &flights[index + 1], (*flight_count - index - 1) * sizeof *flights);
    (*flight_count)--;
    self->batches++;
    self->last_ack_ns = now;
    if (!producer_record_latency(self, latency)) {
        pacer_append_result_destroy(&result);
        snprintf(self->failure, sizeof self->failure, "out of memory");
        return false;
    }
    if (rc == PACER_EREFUSED) {
        /* The batch size is unknown here; a refused batch is a failed run anyway. */
        self->errors++;
        if (!self->first_error[0])
            snprintf(self->first_error, sizeof self->first_error, "%s", pacer_client_error(client));
        return true;
    }
    for (size_t i = 0; i < pacer_append_result_count(result); i++) {
        const pacer_event_result_t *event = pacer_append_result_event(result, i);
        if (!event->error && !event->dup) {
            self->appended++;
            continue;
        }
        self->errors++;
        if (!self->first_error[0])
            snprintf(self->first_error, sizeof self->first_error, "%s: %s",
                     event->error ? event->error : "duplicate",
                     event->message ? event->message : "the id was already in the log");
    }
    pacer_append_result_destroy(&result);
    return true;
}

static void *
producer_run(void *arg)
{
    producer_t *self = arg;
    const bench_config_t *config = self->config;
    pacer_client_t *client = pacer_client_new(config->endpoint, NULL);
    pacer_batch_t *batch = pacer_batch_new();
    flight_t *flights = calloc(config->inflight, sizeof *flights);
    sale_template_t event;
    bool templated = sale_template_init(&event, config->run, self->index);
    if (!client)
        snprintf(self->failure, sizeof self->failure, "cannot connect to %s: %s", config->endpoint,
                 strerror(errno));
    else if (!batch || !flights || !templated)
        snprintf(self->failure, sizeof self->failure, "out of memory");
    else
        pacer_client_set_timeout(client, config->timeout_ms);

    pthread_barrier_wait(self->start);
    self->started_ns = bench_now_ns();
    size_t flight_count = 0;
    bool ok = self->failure[0] == '\0';
    while (ok) {
        while (ok && flight_count < config->inflight && producer_should_send(self) &&
               producer_may_send(self))
            ok = producer_send(self, client, batch, &event, flights, &flight_count);
        if (!ok)
            break;
        if (flight_count == 0) {
            if (!producer_should_send(self))
                break;
            struct timespec ts = {0, 200000}; /* held back by --rate */
            nanosleep(&ts, NULL);
            continue;
        }
        ok = producer_receive(self, client, flights, &flight_count);
    }
    free(flights);
    msgpack_sbuffer_destroy(&event.bytes);
    pacer_batch_destroy(&batch);
    pacer_client_destroy(&client);
    return NULL;
}

/* ---- report ---------------------------------------------------------------- */

static int
bench_report(const bench_config_t *config, producer_t *producers, int64_t started_ns)
{
    uint64_t sent = 0, appended = 0, errors = 0, batches = 0, bytes = 0;
    size_t latency_count = 0;
    int64_t last_ack = started_ns;
    const char *failure = NULL, *first_error = NULL;
    for (int i = 0; i < config->producers; i++) {
        producer_t *p = &producers[i];
        sent += p->sent_events;
        appended += p->appended;
        errors += p->errors;
        batches += p->batches;
        bytes += p->event_bytes;
        latency_count += p->latency_count;
        if (p->last_ack_ns > last_ack)
            last_ack = p->last_ack_ns;
        if (p->failure[0] && !failure)
            failure = p->failure;
        if (p->first_error[0] && !first_error)
            first_error = p->first_error;
    }
    double *all = malloc((latency_count ? latency_count : 1) * sizeof *all);
    if (!all) {
        fputs("pacer-bench: out of memory\n", stderr);
        return 2;
    }
    size_t at = 0;
    for (int i = 0; i < config->producers; i++) {
        memcpy(all + at, producers[i].latencies_ms, producers[i].latency_count * sizeof *all);
        at += producers[i].latency_count;
    }
    bench_latency_sort(all, latency_count);
    double seconds = (last_ack - started_ns) / 1e9;
    double events_per_s = seconds > 0 ? appended / seconds : 0;
    double batches_per_s = seconds > 0 ? batches / seconds : 0;
    double p50 = bench_percentile(all, latency_count, 50),
           p99 = bench_percentile(all, latency_count, 99);
    double max = latency_count ? all[latency_count - 1] : 0;
    double event_size = sent ? (double)bytes / sent : 0;
    free(all);

    if (config->json)
        printf("{\"producers\":%d,\"batch\":%zu,\"inflight\":%zu,\"seconds\":%.3f,"
               "\"events\":%" PRIu64 ",\"appended\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"batches\":%" PRIu64 ",\"events_per_s\":%.1f,\"batches_per_s\":%.1f,"
               "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ack_max_ms\":%.3f,"
               "\"event_bytes\":%.1f,\"run\":\"%s\"}\n",
               config->producers, config->batch, config->inflight, seconds, sent, appended, errors,
               batches, events_per_s, batches_per_s, p50, p99, max, event_size, config->run);
    else {
        printf("pacer-bench: %d producers x %zu batches in flight x %zu events/batch, "
               "%.2f s, %" PRIu64 " events sent (%.0f bytes each), run %s\n",
               config->producers, config->inflight, config->batch, seconds, sent, event_size,
               config->run);
        printf("  throughput  %.0f events/s, %.0f batches/s\n", events_per_s, batches_per_s);
        printf("  ack latency p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu batches)\n", p50, p99, max,
               latency_count);
        printf("  appended %" PRIu64 ", errors %" PRIu64 "\n", appended, errors);
    }
    if (first_error)
        fprintf(stderr, "pacer-bench: first error: %s\n", first_error);
    if (failure) {
        fprintf(stderr, "pacer-bench: a producer stopped early: %s\n", failure);
        return 2;
    }
    return errors ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------ */

static void
usage(FILE *out)
{
    fputs("usage: pacer-bench [OPTIONS]\n"
          "\n"
          "Measure pacerd's acknowledged (durable) append throughput and ack latency with\n"
          "generated sale_closed events. Every id is new, so any result other than\n"
          "\"appended\" is an error. Exit status: 0 no errors, 1 errors, 2 failure.\n"
          "\n"
          "  --endpoint EP   append endpoint (default tcp://127.0.0.1:7700)\n"
          "  --producers P   producer threads, one client each (default 4)\n"
          "  --batch B       events per batch (default 100)\n"
          "  --inflight K    batches each producer keeps in flight (default 4)\n"
          "  --seconds S     run for S seconds (default 10)\n"
          "  --events N      instead, send N events in all\n"
          "  --timeout SEC   give up on a reply after SEC seconds (default 30)\n"
          "  --rate R        send at most R events a second in all (default: as fast as\n"
          "                  they are acknowledged), to measure latency under a given load\n"
          "  --json          one JSON object instead of text\n"
          "  --help          show this help\n"
          "\n"
          "Against a pacerd with --keys, set PACER_KEY (a producer's key file) and\n"
          "PACER_SERVER_KEY (pacerd's public key): libpacer authenticates with them.\n",
          out);
}

static void
make_run_prefix(char run[17])
{
    uint64_t bits = 0;
    FILE *random = fopen("/dev/urandom", "rb");
    if (!random || fread(&bits, sizeof bits, 1, random) != 1)
        bits = (uint64_t)bench_now_ns() ^ ((uint64_t)getpid() << 32);
    if (random)
        fclose(random);
    snprintf(run, 17, "%016" PRIx64, bits);
}

static int
parse_args(bench_config_t *config, int argc, char **argv)
{
    enum {
        OPT_ENDPOINT = 0x100,
        OPT_PRODUCERS,
        OPT_BATCH,
        OPT_INFLIGHT,
        OPT_SECONDS,
        OPT_EVENTS,
        OPT_TIMEOUT,
        OPT_RATE,
        OPT_JSON,
        OPT_HELP
    };
    static const struct option options[] = {
        {"endpoint", required_argument, NULL, OPT_ENDPOINT},
        {"producers", required_argument, NULL, OPT_PRODUCERS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"inflight", required_argument, NULL, OPT_INFLIGHT},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"rate", required_argument, NULL, OPT_RATE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    double value;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_ENDPOINT:
            config->endpoint = optarg;
            break;
        case OPT_PRODUCERS:
            if (!bench_option_number("pacer-bench", "producers", optarg, 1, BENCH_MAX_PRODUCERS,
                                     &value))
                return -1;
            config->producers = (int)value;
            break;
        case OPT_BATCH:
            if (!bench_option_number("pacer-bench", "batch", optarg, 1, PACER_BATCH_MAX_EVENTS,
                                     &value))
                return -1;
            config->batch = (size_t)value;
            break;
        case OPT_INFLIGHT:
            if (!bench_option_number("pacer-bench", "inflight", optarg, 1, BENCH_MAX_INFLIGHT,
                                     &value))
                return -1;
            config->inflight = (size_t)value;
            break;
        case OPT_SECONDS:
            if (!bench_option_number("pacer-bench", "seconds", optarg, 0.01, 86400,
                                     &config->seconds))
                return -1;
            config->events = 0;
            break;
        case OPT_EVENTS:
            if (!bench_option_number("pacer-bench", "events", optarg, 1, 1e12, &value))
                return -1;
            config->events = (uint64_t)value;
            break;
        case OPT_TIMEOUT:
            if (!bench_option_number("pacer-bench", "timeout", optarg, 0.001, 86400, &value))
                return -1;
            config->timeout_ms = (int)(value * 1000);
            break;
        case OPT_RATE:
            if (!bench_option_number("pacer-bench", "rate", optarg, 1, 1e9, &value))
                return -1;
            config->rate = value;
            break;
        case OPT_JSON:
            config->json = true;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pacer-bench: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    bench_config_t config = {
        .endpoint = PACER_DEFAULT_APPEND_ENDPOINT,
        .producers = 4,
        .batch = 100,
        .inflight = 4,
        .seconds = 10,
        .timeout_ms = PACER_DEFAULT_TIMEOUT_MS,
    };
    if (parse_args(&config, argc, argv) != 0) {
        fputs("Try 'pacer-bench --help'.\n", stderr);
        return 2;
    }
    make_run_prefix(config.run);

    producer_t *producers = calloc((size_t)config.producers, sizeof *producers);
    pthread_t *threads = calloc((size_t)config.producers, sizeof *threads);
    if (!producers || !threads) {
        fputs("pacer-bench: out of memory\n", stderr);
        return 2;
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)config.producers + 1);
    atomic_bool stop = false;
    int64_t started_ns = 0;
    int created = 0;
    for (int i = 0; i < config.producers; i++) {
        producer_t *p = &producers[i];
        p->config = &config;
        p->index = i;
        p->quota = config.events / (uint64_t)config.producers +
                   ((uint64_t)i < config.events % (uint64_t)config.producers);
        p->start = &start;
        p->stop = &stop;
        if (pthread_create(&threads[i], NULL, producer_run, p) != 0) {
            fprintf(stderr, "pacer-bench: cannot start producer %d\n", i);
            return 2; /* the others wait on the barrier forever; exit ends them */
        }
        created++;
    }
    started_ns = bench_now_ns();
    pthread_barrier_wait(&start);
    if (!config.events) {
        struct timespec pause = {(time_t)config.seconds,
                                 (long)((config.seconds - (time_t)config.seconds) * 1e9)};
        while (nanosleep(&pause, &pause) == -1 && errno == EINTR)
            ;
        atomic_store(&stop, true);
    }
    for (int i = 0; i < created; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);

    int status = bench_report(&config, producers, started_ns);
    for (int i = 0; i < config.producers; i++)
        free(producers[i].latencies_ms);
    free(producers);
    free(threads);
    return status;
}
