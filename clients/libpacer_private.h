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

#endif
