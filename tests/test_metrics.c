/*  test_metrics: the histograms' buckets at their bounds, and the
    exposition of daemon/metrics on a real (empty) store and projection:
    every family has its HELP and TYPE, every other line is one sample,
    histogram buckets are cumulative and end with +Inf equal to _count. */

#include "daemon/histogram.h"
#include "daemon/log.h"
#include "daemon/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void
test_buckets_at_their_bounds(void **state)
{
    static const uint64_t bounds[] = {10, 100, 1000};
    histogram_t h = {0};
    histogram_init(&h, bounds, 3, 1e-6);
    uint64_t values[] = {0, 10, 11, 100, 1000, 1001, 5000000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        histogram_observe(&h, values[i]);
    assert_int_equal(atomic_load(&h.counts[0]), 2); /* 0, 10: le 10 */
    assert_int_equal(atomic_load(&h.counts[1]), 2); /* 11, 100 */
    assert_int_equal(atomic_load(&h.counts[2]), 1); /* 1000 */
    assert_int_equal(atomic_load(&h.counts[3]), 2); /* above every bound */
    assert_int_equal(atomic_load(&h.sum), 0 + 10 + 11 + 100 + 1000 + 1001 + 5000000);
}

static void
test_uninitialised_histogram_counts_in_inf(void **state)
{
    histogram_t h = {0};
    histogram_observe(&h, 42);
    assert_int_equal(atomic_load(&h.counts[0]), 1);
    assert_int_equal(atomic_load(&h.sum), 42);
}

/* The value of the sample line that starts with `prefix` (name and
   labels, then a space). */
static double
sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (!strncmp(line, prefix, n) && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        if (!strchr(line, '\n'))
            break;
    }
    fail_msg("no sample %s", prefix);
    return -1;
}

static void
test_exposition_format(void **state)
{
    char dir[] = "/tmp/test_metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[512];
    store_options_t opts = {0};
    store_t *store = store_open(dir, &opts, err, sizeof err);
    assert_non_null(store);
    projector_options_t popts = {"Asia/Shanghai", 1, 0, 0, true};
    projector_t *projector = projector_open(store, &popts, err, sizeof err);
    assert_non_null(projector);
    writer_stats_t stats = {0};
    metrics_init_stats(&stats);
    atomic_store(&stats.appended, 7);
    atomic_store(&stats.last_seq, 7);
    histogram_observe(&stats.ack_latency, 1500); /* 1.5 ms */
    histogram_observe(&stats.ack_latency, 20000000);
    histogram_observe(&stats.group_events, 7);
    metrics_args_t args = {&stats, store, projector, 1764547200000, "9.9.9"};
    metrics_t *m = metrics_new(&args);
    assert_non_null(m);
    http_reply_t r = {0};
    metrics_render(m, &r);
    assert_false(r.failed);
    assert_non_null(r.body);
    const char *t = r.body;
    assert_int_equal(t[r.len - 1], '\n');

    /* every line: a HELP, then its TYPE, or a sample of the family typed last */
    char family[128] = "";
    for (const char *line = t; *line;) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        char buf[512];
        size_t len = (size_t)(end - line);
        assert_true(len > 0 && len < sizeof buf);
        memcpy(buf, line, len);
        buf[len] = 0;
        char name[128], kind[32];
        if (sscanf(buf, "# HELP %127s", name) == 1) {
            const char *type_line = end + 1;
            char want[160];
            snprintf(want, sizeof want, "# TYPE %s ", name);
            assert_memory_equal(type_line, want, strlen(want));
            snprintf(family, sizeof family, "%s", name);
        } else if (sscanf(buf, "# TYPE %127s %31s", name, kind) == 2)
            assert_string_equal(name, family);
        else {
            assert_true(buf[0] != '#');
            assert_memory_equal(buf, family, strlen(family)); /* a sample of its family */
            char *space = strrchr(buf, ' ');
            assert_non_null(space);
            char *rest;
            strtod(space + 1, &rest);
            assert_true(*rest == 0);
        }
        line = end + 1;
    }

    assert_true(strstr(t, "pacer_info{version=\"9.9.9\"} 1\n") != NULL);
    assert_true(sample(t, "pacer_events_appended_total") == 7);
    assert_true(sample(t, "pacer_snapshot_behind_events") == 7);
    assert_null(strstr(t, "pacer_snapshot_age_seconds")); /* no snapshot yet */
    assert_true(sample(t, "pacer_ack_latency_seconds_bucket{le=\"0.001\"}") == 0);
    assert_true(sample(t, "pacer_ack_latency_seconds_bucket{le=\"0.0025\"}") == 1);
    assert_true(sample(t, "pacer_ack_latency_seconds_bucket{le=\"10\"}") == 1);
    assert_true(sample(t, "pacer_ack_latency_seconds_bucket{le=\"+Inf\"}") == 2);
    assert_true(sample(t, "pacer_ack_latency_seconds_count") == 2);
    assert_true(sample(t, "pacer_ack_latency_seconds_sum") == 20.0015);
    assert_true(sample(t, "pacer_group_events_bucket{le=\"4\"}") == 0);
    assert_true(sample(t, "pacer_group_events_bucket{le=\"8\"}") == 1);
    assert_true(sample(t, "pacer_group_events_sum") == 7);
    assert_true(sample(t, "pacer_commit_seconds_count") == 0);

    free(r.body);
    metrics_destroy(&m);
    projector_destroy(&projector);
    store_destroy(&store);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    log_set_level(PLOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_at_their_bounds),
        cmocka_unit_test(test_uninitialised_histogram_counts_in_inf),
        cmocka_unit_test(test_exposition_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
