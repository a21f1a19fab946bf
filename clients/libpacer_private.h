/*  libpacer_private: what libpacer's modules share and its users do not see.

    libpacer_alert.c builds its queries on pacer_request and reports a reply
    it cannot decode through the client's error, as libpacer.c does for its
    own. Nothing here is exported from the shared library. */

#ifndef PACER_LIBPACER_PRIVATE_H
#define PACER_LIBPACER_PRIVATE_H

#include "clients/libpacer.h"

#define PACER_PRIVATE __attribute__((visibility("hidden")))

/* Record "malformed reply from <the query endpoint>: <what>" as the
   client's error and return PACER_EPROTOCOL. */
PACER_PRIVATE int pacer_client_malformed_query(pacer_client_t *self, const char *what);

/* Record `message` as the client's error and return rc. */
PACER_PRIVATE int pacer_client_fail_with(pacer_client_t *self, int rc, const char *message);

/* ---- libpacer_curve.c ---- */

/* Set a socket's CURVE options before it connects; curve NULL: none.
   0, or -1 with errno. */
PACER_PRIVATE int pacer_curve_apply(void *socket, const pacer_curve_t *curve);

/* A socket's handshakes, as its monitor reports them. */
typedef struct {
    void *pair;      /* the monitor's events; NULL: not watched */
    int failures;    /* handshakes failed since the last that succeeded */
    bool refused;    /* pacerd refused the key: libzmq will not retry */
    unsigned status; /* the ZAP status it refused with */
} pacer_watch_t;

/* Watch `socket` (before it connects). 0, or -1 with errno. */
PACER_PRIVATE int pacer_watch_start(pacer_watch_t *watch, void *ctx, void *socket);
/* Stop watching; before the socket closes. Harmless when not watching. */
PACER_PRIVATE void pacer_watch_stop(pacer_watch_t *watch, void *socket);
/* Read what the monitor reported: PACER_OK, or PACER_EAUTH with a
   sentence in err when the key was refused or the handshake keeps
   failing. `curve`: the keys the socket uses, for the sentence. */
PACER_PRIVATE int pacer_watch_check(pacer_watch_t *watch, const char *endpoint,
                                    const pacer_curve_t *curve, char *err, size_t errlen);

#endif
