/*  service: pacerd as a systemd service (Type=notify).

    Talks to the service manager with sd_notify (libsystemd): STATUS=
    lines while pacerd starts (opening the state, replaying the log,
    binding), READY=1 once the replay is done and every endpoint serves,
    RELOADING=1 / READY=1 around a reload, STOPPING=1 at a stop, and
    WATCHDOG=1 pings when the unit sets WatchdogSec. Without NOTIFY_SOCKET
    (not started by systemd) every notification is a no-op.

    A thread of its own does the periodic parts:
    - while starting, it repeats the current STATUS with the seconds spent
      in it, once a second, so `systemctl status pacerd` shows a long
      replay moving;
    - the watchdog: every quarter of WATCHDOG_USEC it pings, but only while
      the writer proves alive (its loop turned within the last half of the
      interval, at least 1.5 s since the idle writer turns once a second):
      a writer stuck in a commit or a deadlock stops the pings and systemd
      restarts pacerd. Before READY and after STOPPING it pings regardless
      (start and stop have their own timeouts);
    - SIGHUP: received on a signalfd (service_block_signals blocks it in
      every thread first), it calls the reload function on this thread.

    Threads: service_notify and the status functions may be called from
    any thread.

    Errors: only service_start can fail (NULL with a message). The
    notifications are best effort and return nothing: a service manager
    that cannot be told is logged at debug level, never a reason to stop
    pacerd (systemd's own timeouts notice a pacerd that never says READY). */

#ifndef PACER_SERVICE_H
#define PACER_SERVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _service_t service_t;

/* Block SIGHUP in the calling thread and so in every thread it starts
   afterwards. Call first thing in main, before any thread exists. */
void service_block_signals(void);

/* Send "KEY=value\n..." to the service manager; no-op without it. */
void service_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reload what can be reloaded; runs on the service thread. */
typedef void(service_reload_fn)(void *arg);

/* Start the thread. NULL with a message when it cannot start: out of
   memory, or the eventfd or the thread cannot be made (strerror). A
   signalfd that cannot be made is a warning, not a failure: pacerd runs
   without SIGHUP reloads. */
service_t *service_start(service_reload_fn *reload, void *arg, char *err, size_t errlen);
/* Stop the thread and free it. */
void service_destroy(service_t **self_p);

/* Starting: a STATUS line now, repeated with the elapsed time. */
void service_starting(service_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ready: READY=1 and a STATUS line. From now on the watchdog pings only
   while *writer_alive_ms (monotonic ms, log_clock_ms) is fresh. */
void service_ready(service_t *self, const _Atomic int64_t *writer_alive_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Stopping: STOPPING=1 and a STATUS line. */
void service_stopping(service_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The watchdog interval systemd asked for, in microseconds (0: none). */
uint64_t service_watchdog_usec(service_t *self);

#endif
