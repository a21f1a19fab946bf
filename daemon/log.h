/*  log: levelled log lines on stderr, for pacerd.

    One line per message: "2026-11-25T14:35:08.123Z I message". The level
    is process-wide and set once at start-up; lines below it cost one
    comparison. stderr is unbuffered, so each line reaches journald whole. */

#ifndef PACER_LOG_H
#define PACER_LOG_H

typedef enum { PLOG_DEBUG, PLOG_INFO, PLOG_WARN, PLOG_ERROR } log_level_t;

/* Parse "debug", "info", "warn", "error"; -1 if none of those. */
int log_level_parse(const char *name);
void log_set_level(log_level_t level);
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Monotonic milliseconds, for timing what a log line reports (a slow
   group's phases, on the writer and the commit thread). */
double log_clock_ms(void);

#define log_debug(...) log_msg(PLOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(PLOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(PLOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(PLOG_ERROR, __VA_ARGS__)

#endif
