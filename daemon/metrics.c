/*  metrics: see metrics.h.

    The exposition is written family by family: "# HELP", "# TYPE", then
    its samples, one per line, "name{labels} value". Histograms give their
    buckets cumulatively (`le` = each bound, then "+Inf"), then _sum and
    _count, where _count is the +Inf bucket, as the format requires. */

#include "daemon/metrics.h"

#include "daemon/store_log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct _metrics_t {
    metrics_args_t args;
    /* the snapshot whose age was looked up last (HTTP thread only) */
    uint64_t snapshot_seq;
    int64_t snapshot_at; /* recorded_at of its last event, ms; -1: unknown */
};

/* Microseconds: 0.25 ms to 10 s. */
static const uint64_t ack_bounds[] = {250,    500,     1000,    2500,    5000,
                                      10000,  25000,   50000,   100000,  250000,
                                      500000, 1000000, 2500000, 5000000, 10000000};
/* Events: powers of two up to GROUP_MAX_EVENTS (262,144). */
static const uint64_t group_bounds[] = {1,     2,     4,     8,      16,    32,   64,
                                        128,   256,   512,   1024,   2048,  4096, 8192,
                                        16384, 32768, 65536, 131072, 262144};
/* Microseconds: 0.25 ms to 5 s. */
static const uint64_t commit_bounds[] = {250,   500,    1000,   2000,   5000,    10000,   20000,
                                         50000, 100000, 200000, 500000, 1000000, 2000000, 5000000};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void
metrics_init_stats(writer_stats_t *stats)
{
    histogram_init(&stats->ack_latency, ack_bounds, COUNT(ack_bounds), 1e-6);
    histogram_init(&stats->group_events, group_bounds, COUNT(group_bounds), 1);
    histogram_init(&stats->commit_time, commit_bounds, COUNT(commit_bounds), 1e-6);
}

metrics_t *
metrics_new(const metrics_args_t *args)
{
    metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->args = *args;
    self->snapshot_at = -1;
    return self;
}

void
metrics_destroy(metrics_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

static void
family(http_reply_t *r, const char *name, const char *type, const char *help)
{
    http_reply_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample_u64(http_reply_t *r, const char *name, uint64_t v)
{
    http_reply_printf(r, "%s %" PRIu64 "\n", name, v);
}

static void
counter(http_reply_t *r, const char *name, const char *help, _Atomic uint64_t *v)
{
    family(r, name, "counter", help);
    sample_u64(r, name, atomic_load_explicit(v, memory_order_relaxed));
}

static void
gauge(http_reply_t *r, const char *name, const char *help, uint64_t v)
{
    family(r, name, "gauge", help);
    sample_u64(r, name, v);
}

static void
gauge_f(http_reply_t *r, const char *name, const char *help, double v)
{
    family(r, name, "gauge", help);
    http_reply_printf(r, "%s %.3f\n", name, v);
}

static void
histogram(http_reply_t *r, const char *name, const char *help, histogram_t *h)
{
    family(r, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->nbounds)
            http_reply_printf(r, "%s_bucket{le=\"%.10g\"} %" PRIu64 "\n", name,
                              (double)h->bounds[i] * h->unit, cumulative);
        else
            http_reply_printf(r, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    }
    uint64_t sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
    if (h->unit == 1)
        http_reply_printf(r, "%s_sum %" PRIu64 "\n", name, sum);
    else
        http_reply_printf(r, "%s_sum %.6f\n", name, (double)sum * h->unit);
    http_reply_printf(r, "%s_count %" PRIu64 "\n", name, cumulative);
}

static int64_t
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When the newest event the snapshot holds was recorded (ms), looked up
   once per snapshot; -1 when there is no snapshot or it cannot be read. */
static int64_t
snapshot_recorded_at(metrics_t *self, uint64_t seq)
{
    if (seq == self->snapshot_seq && self->snapshot_at >= 0)
        return self->snapshot_at;
    self->snapshot_seq = seq;
    self->snapshot_at = -1;
    if (seq == 0)
        return -1;
    char err[256];
    store_reader_t *r = store_read_begin(self->args.store, err, sizeof err);
    store_record_t rec;
    if (r && store_reader_get(r, seq, &rec, err, sizeof err) == STORE_OK)
        self->snapshot_at = rec.recorded_at;
    store_read_end(&r);
    return self->snapshot_at;
}

void
metrics_render(metrics_t *self, http_reply_t *r)
{
    writer_stats_t *st = self->args.stats;
    family(r, "pacer_info", "gauge", "pacerd's version, as a label; always 1");
    http_reply_printf(r, "pacer_info{version=\"%s\"} 1\n", self->args.version);
    gauge_f(r, "pacer_start_time_seconds", "When this pacerd process started, seconds UTC",
            (double)self->args.started_at / 1e3);

    counter(r, "pacer_requests_total", "Requests answered on the append endpoint, errors included",
            &st->requests);
    counter(r, "pacer_events_appended_total", "Events newly appended to the log", &st->appended);
    counter(r, "pacer_events_duplicate_total", "Events answered as duplicates of logged ones",
            &st->duplicates);
    counter(r, "pacer_events_rejected_total", "Events refused, aborted ones included",
            &st->rejected);
    counter(r, "pacer_bad_requests_total",
            "Append-endpoint requests answered ok: false, or dropped for their framing",
            &st->bad_requests);
    counter(r, "pacer_commits_total", "Group commits that appended events to the log",
            &st->commits);
    counter(r, "pacer_commit_failures_total",
            "Groups answered `internal` because their commit failed (nothing acknowledged)",
            &st->commit_failures);
    counter(r, "pacer_map_resizes_total", "Times the LMDB map was grown", &st->map_resizes);

    uint64_t last_seq = atomic_load_explicit(&st->last_seq, memory_order_relaxed);
    gauge(r, "pacer_log_last_seq", "Sequence number of the newest durable event", last_seq);
    gauge(r, "pacer_map_size_bytes", "Current LMDB map size",
          atomic_load_explicit(&st->map_size, memory_order_relaxed));
    gauge(r, "pacer_map_used_bytes", "LMDB map in use, up to its last used page",
          atomic_load_explicit(&st->map_used, memory_order_relaxed));
    gauge(r, "pacer_disk_full",
          "1 while appends fail for want of disk space (they resume once space is freed)",
          (uint64_t)atomic_load_explicit(&st->disk_full, memory_order_relaxed));
    long subs = atomic_load_explicit(&st->subscriptions, memory_order_relaxed);
    gauge(r, "pacer_publish_subscriptions",
          "Subscriptions (topic prefixes of all subscribers) on the publish endpoint",
          subs > 0 ? (uint64_t)subs : 0);

    uint64_t snap = projector_snapshot_seq(self->args.projector);
    gauge(r, "pacer_snapshot_seq", "Log seq of the newest projection snapshot (0: none)", snap);
    gauge(r, "pacer_snapshot_behind_events",
          "Events a restart would replay after the newest snapshot",
          last_seq > snap ? last_seq - snap : 0);
    int64_t at = snapshot_recorded_at(self, snap);
    if (at >= 0) {
        int64_t age = wall_ms() - at;
        gauge_f(r, "pacer_snapshot_age_seconds",
                "Seconds since the newest event the newest snapshot holds was recorded",
                age > 0 ? (double)age / 1e3 : 0);
    }

    gauge(r, "pacer_alerts_active", "Alerts firing now, silenced ones included",
          atomic_load_explicit(&st->alerts_active, memory_order_relaxed));
    gauge(r, "pacer_alerts_last_aseq", "Alert sequence number of the newest durable alert",
          atomic_load_explicit(&st->last_aseq, memory_order_relaxed));
    gauge(r, "pacer_alerts_held",
          "Anomaly flags raised under a silence, published when it ends (unless reviewed)",
          atomic_load_explicit(&st->alerts_held, memory_order_relaxed));
    gauge(r, "pacer_alert_sweep_keys_left",
          "Target keys the running re-evaluation of every key (a new day, a setting or silence "
          "changed) has yet to evaluate; 0 when none runs",
          atomic_load_explicit(&st->sweep_left, memory_order_relaxed));
    gauge(r, "pacer_alert_timers", "Entries in the alerter's timer queue, stale ones included",
          atomic_load_explicit(&st->alert_timers, memory_order_relaxed));

    histogram(r, "pacer_ack_latency_seconds",
              "Append-endpoint requests, from read to reply sent (after their commit)",
              &st->ack_latency);
    histogram(r, "pacer_group_events",
              "Events appended per group commit (groups that appended any)", &st->group_events);
    histogram(r, "pacer_commit_seconds",
              "Write transaction of a group commit, puts and synced commit", &st->commit_time);
}

static void
serve_metrics(void *arg, const http_request_t *req, http_reply_t *reply)
{
    reply->content_type = METRICS_CONTENT_TYPE;
    metrics_render(arg, reply);
}

int
metrics_route(metrics_t *self, http_t *http)
{
    return http_route(http, "/metrics", serve_metrics, self);
}
