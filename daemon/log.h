/*  log: levelled log lines on stderr, for pacerd.

    On a terminal or a file, one line per message:
    "2026-11-25T14:35:08.123Z I message". When stderr is the systemd
    journal (JOURNAL_STREAM names stderr's device and inode, as systemd
    sets it for StandardError=journal), each line is "<6>message" instead:
    the syslog priority in the prefix that journald reads (debug 7, info 6,
    warn 4, error 3), and no time stamp, since the journal keeps its own.
    So `journalctl -u pacerd -p err` shows exactly the error lines.

    The level may change at any time from any thread (SIGHUP reloads it);
    lines below it cost one relaxed load and a comparison. Each line goes
    out in one write, so lines of different threads never interleave.

    Errors: logging cannot fail in a way anyone could act on, so nothing
    here returns a failure: a line that cannot be written (stderr closed,
    a full pipe) is lost. The one parse returns -1 for a name it does not
    know. */

#ifndef PACER_LOG_H
#define PACER_LOG_H

#include <stdbool.h>

typedef enum { PLOG_DEBUG, PLOG_INFO, PLOG_WARN, PLOG_ERROR } log_level_t;

/* Parse "debug", "info", "warn", "error": the log_level_t; -1 if none of
   those (the caller names the option). */
int log_level_parse(const char *name);
/* "debug", "info", "warn", "error"; the one place a level becomes a word. */
const char *log_level_name(log_level_t level);
void log_set_level(log_level_t level);
log_level_t log_get_level(void);
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage or configuration error, before the daemon starts: "pacerd:
   message" on stderr (with the error priority on the journal), whatever
   the level. */
void log_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when stderr is the journal (see above); decided at the first call. */
bool log_to_journal(void);
/* Monotonic milliseconds, for timing what a log line reports (a slow
   group's phases, on the writer and the commit thread). */
double log_clock_ms(void);

#define log_debug(...) log_msg(PLOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(PLOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(PLOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(PLOG_ERROR, __VA_ARGS__)

#endif
