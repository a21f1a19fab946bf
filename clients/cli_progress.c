/*  cli_progress: a progress line on a terminal for long-running commands. */

#include "clients/cli_progress.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_DELAY_MS    500
#define PROGRESS_INTERVAL_MS 100
#define PROGRESS_BAR_WIDTH   30

struct _cli_progress_t {
    uint64_t total_bytes;
    int64_t started_ms;
    int64_t drawn_ms;
    bool drawn;
};

static int64_t
progress_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cli_progress_t *
cli_progress_new(uint64_t total_bytes)
{
    if (!isatty(STDERR_FILENO))
        return NULL;
    cli_progress_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->total_bytes = total_bytes;
    self->started_ms = progress_now_ms();
    return self;
}

void
cli_progress_update(cli_progress_t *self, uint64_t bytes, uint64_t events)
{
    assert(self);
    int64_t now = progress_now_ms();
    if (now - self->started_ms < PROGRESS_DELAY_MS || now - self->drawn_ms < PROGRESS_INTERVAL_MS)
        return;
    double seconds = (now - self->started_ms) / 1000.0;
    double rate = events / seconds;
    if (self->total_bytes > 0) {
        double done = bytes < self->total_bytes ? (double)bytes / self->total_bytes : 1.0;
        int filled = (int)(done * PROGRESS_BAR_WIDTH);
        char bar[PROGRESS_BAR_WIDTH + 1];
        for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[PROGRESS_BAR_WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %3d%%  %llu events  %.0f/s\033[K", bar, (int)(done * 100),
                (unsigned long long)events, rate);
    } else
        fprintf(stderr, "\r%llu events  %.0f/s\033[K", (unsigned long long)events, rate);
    fflush(stderr);
    self->drawn_ms = now;
    self->drawn = true;
}

void
cli_progress_destroy(cli_progress_t **self_p)
{
    assert(self_p);
    cli_progress_t *self = *self_p;
    if (!self)
        return;
    if (self->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    free(self);
    *self_p = NULL;
}
