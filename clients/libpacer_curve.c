/*  libpacer_curve: CURVE keys for the client, and telling a refused
    handshake from a daemon that does not answer.

    A pacerd started with --keys speaks only CURVE (docs/PROTOCOL.md,
    "Authentication"). Keys come in czmq's certificate format, as `pacer
    keygen` writes them with zcert: ZPL text whose `curve` section holds
    `public-key = "<Z85>"` and, in FILE_secret, `secret-key`. Those two
    lines are read here rather than with zcert_load, so that libpacer
    needs no czmq (an application links it with libzmq, msgpack and
    libsodium alone); tests/test_libpacer_curve.c reads what zcert writes,
    comments, metadata and all. A handshake that fails is never
    answered: libzmq tells only the socket's monitor. So each socket a
    client connects gets a monitor (an inproc PAIR fed by
    zmq_socket_monitor) that the waits poll beside the socket. libzmq gives
    up the connection after a handshake that fails with a protocol error:
    a key pacerd refuses (ZAP status 400) or a mechanism mismatch (a key
    on one side only); a handshake the server just drops (the wrong server
    key: it cannot decrypt the client's) is retried forever. So the first
    two, or two of the last in a row, end the wait at once with
    PACER_EAUTH and a sentence saying which. pacer_socket_connect is the
    one way the client and the subscriber make a socket, so none goes
    without its keys or its monitor. */

#include "clients/libpacer.h"
#include "clients/libpacer_private.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Failed handshakes in a row that mean the security settings differ. */
#define HANDSHAKE_TRIES 2

static bool
z85_key(const char *text)
{
    uint8_t bin[32];
    return text && strlen(text) == PACER_KEY_LEN && zmq_z85_decode(bin, text) != NULL;
}

typedef struct {
    char public_key[PACER_KEY_LEN + 1];
    char secret_key[PACER_KEY_LEN + 1]; /* "" in a public certificate */
} cert_t;

/* `<name> = "<40 characters>"` (quotes optional) at line, into out. */
static bool
cert_value(const char *line, const char *name, char out[PACER_KEY_LEN + 1])
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) != 0)
        return false;
    line += n;
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line++ != '=')
        return false;
    while (*line == ' ' || *line == '\t')
        line++;
    bool quoted = *line == '"';
    line += quoted;
    if (strnlen(line, PACER_KEY_LEN) < PACER_KEY_LEN)
        return false;
    memcpy(out, line, PACER_KEY_LEN);
    out[PACER_KEY_LEN] = 0;
    line += PACER_KEY_LEN;
    if (quoted && *line++ != '"')
        return false;
    return strspn(line, " \t\r\n") == strlen(line) && z85_key(out);
}

/* The keys of the `curve` section of one certificate file; false when
   it cannot be read or has no public key. */
static bool
cert_read(const char *path, cert_t *cert)
{
    memset(cert, 0, sizeof *cert);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool in_curve = false;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != ' ' && line[0] != '\t') { /* a section's name, or a comment */
            in_curve =
                strncmp(line, "curve", 5) == 0 && strspn(line + 5, " \t\r\n") == strlen(line + 5);
            continue;
        }
        const char *p = line + strspn(line, " \t");
        if (in_curve && !cert_value(p, "public-key", cert->public_key))
            cert_value(p, "secret-key", cert->secret_key);
    }
    fclose(f);
    return cert->public_key[0] != 0;
}

/* A certificate file as zcert_load reads it: FILE_secret first, then
   FILE. */
static bool
load_cert(const char *path, cert_t *cert, const char *what, char *err, size_t errlen)
{
    char secret[4096];
    int n = snprintf(secret, sizeof secret, "%s_secret", path);
    if ((n > 0 && (size_t)n < sizeof secret && cert_read(secret, cert)) || cert_read(path, cert))
        return true;
    snprintf(err, errlen,
             "%s %s: missing, unreadable or not a key file in zcert's format (pacer keygen "
             "--out FILE writes one)",
             what, path);
    return false;
}

int
pacer_curve_load(pacer_curve_t *curve, const char *key_file, const char *server_key, char *err,
                 size_t errlen)
{
    if (!curve || !key_file || !server_key) {
        snprintf(err, errlen, "pacer_curve_load needs a key file and the server's key");
        return PACER_EINVAL;
    }
    memset(curve, 0, sizeof *curve);
    cert_t cert;
    if (!load_cert(key_file, &cert, "key file", err, errlen))
        return PACER_EINVAL;
    if (!cert.secret_key[0]) {
        snprintf(err, errlen,
                 "key file %s holds no secret key: give the FILE_secret that pacer keygen wrote "
                 "(or FILE, with FILE_secret beside it)",
                 key_file);
        return PACER_EINVAL;
    }
    memcpy(curve->public_key, cert.public_key, sizeof curve->public_key);
    memcpy(curve->secret_key, cert.secret_key, sizeof curve->secret_key);
    if (z85_key(server_key)) {
        snprintf(curve->server_key, sizeof curve->server_key, "%s", server_key);
        return PACER_OK;
    }
    if (!load_cert(server_key, &cert, "server key", err, errlen)) {
        snprintf(err, errlen,
                 "server key \"%.60s\": neither a public key (40 characters of Z85) nor a "
                 "readable key file",
                 server_key);
        return PACER_EINVAL;
    }
    memcpy(curve->server_key, cert.public_key, sizeof curve->server_key);
    return PACER_OK;
}

int
pacer_curve_from_env(pacer_curve_t *curve, char *err, size_t errlen)
{
    const char *key = getenv("PACER_KEY"), *server = getenv("PACER_SERVER_KEY");
    if (key && !*key)
        key = NULL;
    if (server && !*server)
        server = NULL;
    if (!key && !server)
        return 0;
    if (!key || !server) {
        snprintf(err, errlen,
                 "%s is set but not %s: a client needs its key pair and pacerd's public key",
                 key ? "PACER_KEY" : "PACER_SERVER_KEY", key ? "PACER_SERVER_KEY" : "PACER_KEY");
        return PACER_EINVAL;
    }
    return pacer_curve_load(curve, key, server, err, errlen) == PACER_OK ? 1 : PACER_EINVAL;
}

int
pacer_curve_apply(void *socket, const pacer_curve_t *curve)
{
    if (!curve)
        return 0;
    if (!z85_key(curve->public_key) || !z85_key(curve->secret_key) || !z85_key(curve->server_key)) {
        errno = EINVAL;
        return -1;
    }
    return zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, curve->server_key, PACER_KEY_LEN) ||
                   zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, curve->public_key, PACER_KEY_LEN) ||
                   zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, curve->secret_key, PACER_KEY_LEN)
               ? -1
               : 0;
}

/* ---- the handshake watch --------------------------------------------------------- */

int
pacer_watch_start(pacer_watch_t *watch, void *ctx, void *socket)
{
    static atomic_uint_fast64_t next;
    memset(watch, 0, sizeof *watch);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://pacer-watch-%llu",
             (unsigned long long)atomic_fetch_add(&next, 1));
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(socket, endpoint, events) != 0)
        return -1;
    watch->pair = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    if (!watch->pair || zmq_setsockopt(watch->pair, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(watch->pair, endpoint) != 0) {
        int saved = zmq_errno();
        pacer_watch_stop(watch, socket);
        errno = saved;
        return -1;
    }
    return 0;
}

void
pacer_watch_stop(pacer_watch_t *watch, void *socket)
{
    if (socket)
        zmq_socket_monitor(socket, NULL, 0);
    if (watch->pair)
        zmq_close(watch->pair);
    watch->pair = NULL;
}

void *
pacer_socket_connect(void *ctx, int type, const char *endpoint, const pacer_curve_t *curve,
                     pacer_watch_t *watch, const pacer_sockopt_t *options, size_t count)
{
    void *socket = zmq_socket(ctx, type);
    if (!socket)
        return NULL;
    int linger = 0;
    bool ok = zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger) == 0;
    for (size_t i = 0; ok && i < count; i++)
        ok = zmq_setsockopt(socket, options[i].option, options[i].value, options[i].size) == 0;
    if (!ok || pacer_curve_apply(socket, curve) == -1 ||
        pacer_watch_start(watch, ctx, socket) == -1 || zmq_connect(socket, endpoint) == -1) {
        int saved = errno;
        pacer_watch_stop(watch, socket);
        zmq_close(socket);
        errno = saved;
        return NULL;
    }
    return socket;
}

void
pacer_socket_close(void **socket_p, pacer_watch_t *watch)
{
    pacer_watch_stop(watch, *socket_p);
    if (*socket_p)
        zmq_close(*socket_p);
    *socket_p = NULL;
}

/* One event off the monitor: false when none is waiting. */
static bool
next_event(pacer_watch_t *watch, uint16_t *event, uint32_t *value)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, watch->pair, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close(&frame);
        return false;
    }
    bool ok = zmq_msg_size(&frame) == 6;
    if (ok) {
        memcpy(event, zmq_msg_data(&frame), sizeof *event);
        memcpy(value, (const uint8_t *)zmq_msg_data(&frame) + 2, sizeof *value);
    }
    while (zmq_msg_more(&frame)) { /* the endpoint's address */
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, watch->pair, ZMQ_DONTWAIT) == -1)
            break;
    }
    zmq_msg_close(&frame);
    if (!ok)
        *event = 0;
    return true;
}

int
pacer_watch_check(pacer_watch_t *watch, const char *endpoint, const pacer_curve_t *curve, char *err,
                  size_t errlen)
{
    if (!watch->pair)
        return PACER_OK;
    uint16_t event;
    uint32_t value;
    while (!watch->refused && next_event(watch, &event, &value)) {
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            watch->failures = 0;
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            watch->refused = true;
            watch->status = value;
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            watch->failures = HANDSHAKE_TRIES; /* libzmq will not retry */
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            watch->failures++;
    }
    if (watch->refused) {
        snprintf(err, errlen,
                 "pacerd at %s refused this client's key %s (ZAP status %u): it is not in "
                 "pacerd's keys file, or its role may not use this endpoint",
                 endpoint, curve ? curve->public_key : "", watch->status);
        return PACER_EAUTH;
    }
    if (watch->failures < HANDSHAKE_TRIES)
        return PACER_OK;
    if (curve)
        snprintf(err, errlen,
                 "the handshake with pacerd at %s fails: is the server key %s pacerd's public "
                 "key, and does pacerd run with --keys?",
                 endpoint, curve->server_key);
    else
        snprintf(err, errlen,
                 "the handshake with pacerd at %s fails: pacerd requires authentication (give "
                 "a key: pacer's --key FILE and --server-key KEY, or PACER_KEY and "
                 "PACER_SERVER_KEY)",
                 endpoint);
    return PACER_EAUTH;
}
