/*  libpacer_private: what libpacer's modules share and its users do not see.

    libpacer_alert.c builds its queries on pacer_request and reports a reply
    it cannot decode through the client's error, as libpacer.c does for its
    own. The client (libpacer.c) and the subscriber (libpacer_sub.c) connect
    their sockets alike and keep time alike; every module reads replies'
    maps alike. Nothing here is exported from the shared library. */

#ifndef PACER_LIBPACER_PRIVATE_H
#define PACER_LIBPACER_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "clients/libpacer.h"

#define PACER_PRIVATE __attribute__((visibility("hidden")))

/* Deepest container nesting a request or reply may have (PROTOCOL.md):
   what mp_scan is given before msgpack-c unpacks untrusted bytes. */
#define PACER_MSGPACK_MAX_DEPTH 32

/* Record "malformed reply from <the query endpoint>: <what>" as the
   client's error and return PACER_EPROTOCOL. */
PACER_PRIVATE int pacer_client_malformed_query(pacer_client_t *self, const char *what);

/* Record `message` as the client's error and return rc. */
PACER_PRIVATE int pacer_client_fail_with(pacer_client_t *self, int rc, const char *message);

/* The value under string key `key` in `map`, or NULL when absent or nil
   (the protocol treats the two alike) or when `map` is not a map. */
PACER_PRIVATE const msgpack_object *pacer_map_get(const msgpack_object *map, const char *key);

/* Pack `s` as a msgpack str; false when the packer fails (out of memory). */
PACER_PRIVATE bool pacer_pack_str(msgpack_packer *pk, const char *s);

/* Milliseconds on the monotonic clock, for deadlines. */
PACER_PRIVATE int64_t pacer_now_ms(void);

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

/* One socket option for pacer_socket_connect: zmq_setsockopt's arguments. */
typedef struct {
    int option;
    const void *value;
    size_t size;
} pacer_sockopt_t;

/* A socket of `type` in `ctx` connected to `endpoint`: linger 0 (closing
   it must not wait for a daemon that is gone), then `options` in order,
   the CURVE keys (curve NULL: none) and a monitor in *watch. NULL with
   errno when a step fails, with nothing left open. Close it with
   pacer_socket_close. */
PACER_PRIVATE void *pacer_socket_connect(void *ctx, int type, const char *endpoint,
                                         const pacer_curve_t *curve, pacer_watch_t *watch,
                                         const pacer_sockopt_t *options, size_t count);

/* Stop watching *socket_p, close it and set it NULL; nothing when it is
   NULL already. */
PACER_PRIVATE void pacer_socket_close(void **socket_p, pacer_watch_t *watch);

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
