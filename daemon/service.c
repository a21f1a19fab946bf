/*  service: see service.h. */

#define _GNU_SOURCE /* pthread_setname_np */
#include "daemon/service.h"

#include "daemon/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define STATUS_REPEAT_MS   1000
#define WATCHDOG_MIN_STALE 1500 /* ms: the idle writer turns once a second */

typedef enum { STAGE_STARTING, STAGE_READY, STAGE_STOPPING } stage_t;

struct _service_t {
    pthread_t thread;
    int sfd, efd; /* SIGHUP; stop */
    service_reload_fn *reload;
    void *reload_arg;
    uint64_t watchdog_usec;
    pthread_mutex_t lock; /* guards what follows */
    stage_t stage;
    char phase[256];
    double phase_t0, status_sent;
    const _Atomic int64_t *writer_alive_ms;
};

void
service_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void
service_notify(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int rc = sd_notify(0, msg);
    if (rc < 0)
        log_debug("sd_notify: %s", strerror(-rc));
}

/* Sends the phase with its elapsed time. Lock held. */
static void
send_phase(service_t *self, double now)
{
    double s = (now - self->phase_t0) / 1e3;
    if (s < 1)
        service_notify("STATUS=%s", self->phase);
    else
        service_notify("STATUS=%s (%.0f s)", self->phase, s);
    self->status_sent = now;
}

/* The poll timeout: the status repeat while starting, a quarter of the
   watchdog interval; -1: nothing periodic to do. */
static int
tick_ms(service_t *self)
{
    int t = -1;
    if (self->watchdog_usec) {
        uint64_t q = self->watchdog_usec / 4000;
        t = q < 10 ? 10 : q > 60000 ? 60000 : (int)q;
    }
    pthread_mutex_lock(&self->lock);
    if (self->stage == STAGE_STARTING && (t < 0 || t > STATUS_REPEAT_MS))
        t = STATUS_REPEAT_MS;
    pthread_mutex_unlock(&self->lock);
    return t;
}

/* Whether the writer turned recently enough for a watchdog ping. */
static bool
writer_alive(service_t *self, double now)
{
    if (self->stage != STAGE_READY || !self->writer_alive_ms)
        return true; /* start and stop have timeouts of their own */
    double stale = (double)self->watchdog_usec / 2000.0;
    if (stale < WATCHDOG_MIN_STALE)
        stale = WATCHDOG_MIN_STALE;
    return now - (double)atomic_load(self->writer_alive_ms) < stale;
}

static void
periodic(service_t *self, double *last_ping)
{
    double now = log_clock_ms();
    pthread_mutex_lock(&self->lock);
    if (self->stage == STAGE_STARTING && now - self->status_sent >= STATUS_REPEAT_MS - 5)
        send_phase(self, now);
    bool alive = writer_alive(self, now);
    pthread_mutex_unlock(&self->lock);
    if (!self->watchdog_usec || now - *last_ping < (double)self->watchdog_usec / 4000.0 - 5)
        return;
    if (alive) {
        service_notify("WATCHDOG=1");
        *last_ping = now;
    } else if (now - *last_ping > (double)self->watchdog_usec / 1000.0 / 2)
        log_error("the writer has not turned for over %.1f s: watchdog pings withheld",
                  (now - (double)atomic_load(self->writer_alive_ms)) / 1e3);
}

static void
on_sighup(service_t *self)
{
    struct signalfd_siginfo si;
    while (read(self->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        service_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
                       (unsigned long long)(log_clock_ms() * 1000));
        log_info("SIGHUP: reloading");
        if (self->reload)
            self->reload(self->reload_arg);
        pthread_mutex_lock(&self->lock);
        bool ready = self->stage == STAGE_READY;
        pthread_mutex_unlock(&self->lock);
        if (ready)
            service_notify("READY=1");
    }
}

static void *
service_run(void *arg)
{
    service_t *self = arg;
    pthread_setname_np(pthread_self(), "pacerd-service");
    double last_ping = 0;
    for (;;) {
        struct pollfd fds[2] = {{self->efd, POLLIN, 0}, {self->sfd, POLLIN, 0}};
        int n = poll(fds, self->sfd >= 0 ? 2 : 1, tick_ms(self));
        if (n < 0 && errno != EINTR) {
            log_error("service thread: poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && (fds[0].revents & POLLIN))
            break;
        if (n > 0 && self->sfd >= 0 && (fds[1].revents & POLLIN))
            on_sighup(self);
        periodic(self, &last_ping);
    }
    return NULL;
}

service_t *
service_start(service_reload_fn *reload, void *arg, char *err, size_t errlen)
{
    service_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->reload = reload;
    self->reload_arg = arg;
    self->phase_t0 = log_clock_ms();
    pthread_mutex_init(&self->lock, NULL);
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        self->watchdog_usec = usec;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    self->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->sfd < 0)
        log_warn("no SIGHUP reload: signalfd: %s", strerror(errno));
    self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = self->efd < 0 ? errno : pthread_create(&self->thread, NULL, service_run, self);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the service thread: %s", strerror(rc));
        if (self->sfd >= 0)
            close(self->sfd);
        if (self->efd >= 0)
            close(self->efd);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    if (self->watchdog_usec)
        log_info("systemd watchdog: every %.1f s", (double)self->watchdog_usec / 1e6);
    return self;
}

void
service_destroy(service_t **self_p)
{
    service_t *self = *self_p;
    if (!self)
        return;
    uint64_t one = 1;
    if (write(self->efd, &one, sizeof one) != (ssize_t)sizeof one)
        log_warn("stopping the service thread: %s", strerror(errno));
    pthread_join(self->thread, NULL);
    if (self->sfd >= 0)
        close(self->sfd);
    close(self->efd);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void
service_starting(service_t *self, const char *fmt, ...)
{
    pthread_mutex_lock(&self->lock);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->phase, sizeof self->phase, fmt, ap);
    va_end(ap);
    self->phase_t0 = log_clock_ms();
    send_phase(self, self->phase_t0);
    pthread_mutex_unlock(&self->lock);
}

void
service_ready(service_t *self, const _Atomic int64_t *writer_alive_ms, const char *fmt, ...)
{
    char status[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(status, sizeof status, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&self->lock);
    self->stage = STAGE_READY;
    self->writer_alive_ms = writer_alive_ms;
    service_notify("READY=1\nSTATUS=%s", status);
    pthread_mutex_unlock(&self->lock);
}

void
service_stopping(service_t *self, const char *fmt, ...)
{
    char status[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(status, sizeof status, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&self->lock);
    self->stage = STAGE_STOPPING;
    service_notify("STOPPING=1\nSTATUS=%s", status);
    pthread_mutex_unlock(&self->lock);
}

uint64_t
service_watchdog_usec(service_t *self)
{
    return self->watchdog_usec;
}
