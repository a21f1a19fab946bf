/*  log: see log.h. */

#include "daemon/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Atomic int threshold = PLOG_INFO;
/* -1: not decided yet; 0: plain lines; 1: journal lines */
static _Atomic int journal = -1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* syslog priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
static const char level_priority[] = {'7', '6', '4', '3'};

int
log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *
log_level_name(log_level_t level)
{
    return level_names[level];
}

double
log_clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void
log_set_level(log_level_t level)
{
    atomic_store_explicit(&threshold, level, memory_order_relaxed);
}

log_level_t
log_get_level(void)
{
    return (log_level_t)atomic_load_explicit(&threshold, memory_order_relaxed);
}

/* JOURNAL_STREAM is "<device>:<inode>" of the stream systemd connected;
   it is inherited by children whose stderr is something else, so it only
   counts when it names stderr itself. */
static bool
stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool
log_to_journal(void)
{
    int j = atomic_load_explicit(&journal, memory_order_relaxed);
    if (j < 0) {
        j = stderr_is_journal();
        atomic_store_explicit(&journal, j, memory_order_relaxed);
    }
    return j == 1;
}

static void
write_line(char *line, size_t len)
{
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

static void
log_vmsg(log_level_t level, const char *prefix, const char *fmt, va_list ap)
{
    char line[1024];
    int n;
    if (log_to_journal())
        n = snprintf(line, sizeof line, "<%c>%s", level_priority[level], prefix);
    else if (!*prefix) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %c ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, "DIWE"[level]);
    } else
        n = snprintf(line, sizeof line, "%s", prefix);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    write_line(line, strlen(line));
}

void
log_msg(log_level_t level, const char *fmt, ...)
{
    if ((int)level < atomic_load_explicit(&threshold, memory_order_relaxed))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, "", fmt, ap);
    va_end(ap);
}

void
log_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(PLOG_ERROR, "pacerd: ", fmt, ap);
    va_end(ap);
}
