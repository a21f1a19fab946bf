/*  auth: see auth.h for the policy and how it is enforced.

    The ZAP handler is written here rather than taken from czmq's zauth:
    zauth applies one policy to every socket of the context and answers
    with no way to tell the endpoints apart, while the publish endpoint
    must refuse producer keys at the handshake (an XPUB cannot refuse a
    subscription otherwise; libzmq 4.3.4's XPUB_MANUAL, the other way, can
    use a freed pipe when a subscriber leaves before its subscription is
    read, fixed upstream after 4.3.4). czmq's zcert still reads and writes
    every certificate, and the handler is a czmq actor. */

#include "daemon/auth.h"

#include "daemon/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ZAP_ENDPOINT    "inproc://zeromq.zap.01"
#define RELOAD_CHECK_MS 1000
#define REFUSAL_LOG_MS  60000 /* one log line per refused key and minute */
#define NO_SECRET       "0000000000000000000000000000000000000000"

/* ---- policy ------------------------------------------------------------- */

const char *
auth_role_name(auth_role_t role)
{
    switch (role) {
    case AUTH_PRODUCER:
        return "producer";
    case AUTH_READER:
        return "reader";
    case AUTH_ADMIN:
        return "admin";
    case AUTH_NONE:
        break;
    }
    return "none";
}

auth_role_t
auth_op_needs(wire_op_t op, unsigned endpoint)
{
    if (endpoint == WIRE_ON_APPEND) {
        if (op == OP_APPEND)
            return AUTH_PRODUCER;
        if (op == OP_ALLOCATE || op == OP_REBUILD || op == OP_TICK)
            return AUTH_ADMIN;
        return AUTH_NONE; /* not served here: unknown_op */
    }
    return op == OP_STATUS ? AUTH_NONE : AUTH_READER;
}

bool
auth_role_has(auth_role_t role, auth_role_t needs)
{
    if (role == AUTH_NONE)
        return false;
    return needs == AUTH_NONE || role == needs || role == AUTH_ADMIN;
}

bool
auth_may(auth_role_t role, wire_op_t op, unsigned endpoint)
{
    return auth_role_has(role, auth_op_needs(op, endpoint));
}

/* Events that record a decision about targets or alerts are an admin's:
   targets are what people are measured against (allocate, which writes
   target_set events, is admin only), silences and rule settings decide
   what is heard. What the company's systems report (sales, payments,
   activities, the organisation, the calendar, KPIs) is a producer's. */
auth_role_t
auth_event_needs(ev_type_t type)
{
    switch (type) {
    case EV_TARGET_SET:
    case EV_TARGET_ADJUSTED:
    case EV_ALERT_SILENCED:
    case EV_ALERT_UNSILENCED:
    case EV_ALERT_RULE_SET:
    case EV_ANOMALY_REVIEWED:
        return AUTH_ADMIN;
    default:
        return AUTH_PRODUCER;
    }
}

bool
auth_may_append(auth_role_t role, ev_type_t type)
{
    return auth_role_has(role, auth_event_needs(type));
}

auth_role_t
auth_domain_needs(const char *domain)
{
    return domain && streq(domain, AUTH_DOMAIN_PUBLISH) ? AUTH_READER : AUTH_NONE;
}

char *
auth_forbidden(auth_role_t role, const char *principal, const char *what, auth_role_t needs,
               char *out, size_t outlen)
{
    if (role == AUTH_NONE)
        snprintf(out, outlen,
                 "the key of this connection (%s) is not in pacerd's keys file (removed since "
                 "it connected?): it may not %s",
                 principal && *principal ? principal : "none", what);
    else if (needs == AUTH_READER)
        snprintf(out, outlen,
                 "%s has the role %s, which may not %s: that needs a reader or admin key",
                 principal, auth_role_name(role), what);
    else
        snprintf(out, outlen, "%s has the role %s, which may not %s: that needs %s key", principal,
                 auth_role_name(role), what,
                 needs == AUTH_ADMIN ? "an admin" : "a producer or admin");
    return out;
}

/* ---- the keys file --------------------------------------------------------- */

struct _auth_keys_t {
    auth_entry_t *entries; /* sorted by key */
    size_t count;
};

static bool
key_ok(const char *key, size_t len)
{
    if (len != AUTH_KEY_LEN)
        return false;
    char text[AUTH_KEY_LEN + 1];
    uint8_t bin[32];
    memcpy(text, key, len);
    text[len] = 0;
    return zmq_z85_decode(bin, text) != NULL;
}

static bool
name_ok(const char *name, size_t len)
{
    if (len == 0 || len > AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._-@+", c)))
            return false;
    }
    return true;
}

static int
role_parse(const char *s, size_t len, auth_role_t *out)
{
    static const auth_role_t roles[] = {AUTH_PRODUCER, AUTH_READER, AUTH_ADMIN};
    for (size_t i = 0; i < 3; i++) {
        const char *name = auth_role_name(roles[i]);
        if (strlen(name) == len && !memcmp(name, s, len)) {
            *out = roles[i];
            return 0;
        }
    }
    return -1;
}

static int
entry_cmp(const void *a, const void *b)
{
    return memcmp(((const auth_entry_t *)a)->key, ((const auth_entry_t *)b)->key, AUTH_KEY_LEN);
}

/* Split a line into up to 4 whitespace-separated fields; returns how many
   (4: too many). A field that starts with '#' starts a comment: no key
   does (Z85's '#' stands for 84, and a first digit over 82 would make a
   4-byte group overflow), no role or name may. */
static int
split_fields(const char *p, const char *end, const char *f[4], size_t flen[4])
{
    int n = 0;
    while (n < 4) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == end || *p == '#')
            break;
        f[n] = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        flen[n] = (size_t)(p - f[n]);
        n++;
    }
    return n;
}

/* One line into *e: 1 an entry, 0 nothing on it, -1 with a message. */
static int
parse_line(const char *p, const char *end, unsigned line, auth_entry_t *e, char *err, size_t errlen)
{
    const char *f[4];
    size_t flen[4];
    int n = split_fields(p, end, f, flen);
    if (n == 0)
        return 0;
    if (n == 1 || n == 4) {
        snprintf(err, errlen, "line %u: expected <public key> <role> [name], got %s", line,
                 n == 1 ? "one field" : "more than three fields");
        return -1;
    }
    if (!key_ok(f[0], flen[0])) {
        snprintf(err, errlen,
                 "line %u: \"%.*s\" is not a public key (40 characters of Z85, as pacer keygen "
                 "prints)",
                 line, (int)(flen[0] > 48 ? 48 : flen[0]), f[0]);
        return -1;
    }
    if (role_parse(f[1], flen[1], &e->role) != 0) {
        snprintf(err, errlen, "line %u: role \"%.*s\": expected producer, reader or admin", line,
                 (int)(flen[1] > 32 ? 32 : flen[1]), f[1]);
        return -1;
    }
    memcpy(e->key, f[0], AUTH_KEY_LEN);
    e->key[AUTH_KEY_LEN] = 0;
    if (n == 2) {
        memcpy(e->name, e->key, AUTH_KEY_LEN + 1);
        return 1;
    }
    if (!name_ok(f[2], flen[2])) {
        snprintf(err, errlen,
                 "line %u: name \"%.*s\": expected 1 to %d characters of A-Z a-z 0-9 . _ - @ +",
                 line, (int)(flen[2] > 80 ? 80 : flen[2]), f[2], AUTH_NAME_MAX);
        return -1;
    }
    memcpy(e->name, f[2], flen[2]);
    e->name[flen[2]] = 0;
    return 1;
}

auth_keys_t *
auth_keys_parse(const char *text, size_t len, char *err, size_t errlen)
{
    auth_keys_t *self = calloc(1, sizeof *self);
    size_t cap = 16;
    if (!self || !(self->entries = malloc(cap * sizeof *self->entries))) {
        free(self);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *p = text, *end = text + len;
    for (unsigned line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (memchr(p, 0, (size_t)(eol - p))) {
            snprintf(err, errlen, "line %u: a NUL byte", line);
            goto fail;
        }
        if (self->count == cap) {
            auth_entry_t *grown = realloc(self->entries, 2 * cap * sizeof *grown);
            if (!grown) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            self->entries = grown;
            cap *= 2;
        }
        int rc = parse_line(p, eol, line, &self->entries[self->count], err, errlen);
        if (rc < 0)
            goto fail;
        self->count += (size_t)rc;
        p = eol + (eol < end);
    }
    qsort(self->entries, self->count, sizeof *self->entries, entry_cmp);
    for (size_t i = 1; i < self->count; i++)
        if (!entry_cmp(&self->entries[i - 1], &self->entries[i])) {
            snprintf(err, errlen, "key %s is listed twice", self->entries[i].key);
            goto fail;
        }
    return self;
fail:
    auth_keys_destroy(&self);
    return NULL;
}

auth_keys_t *
auth_keys_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "keys file %s: %s", path, strerror(errno));
        return NULL;
    }
    enum { KEYS_FILE_MAX = 16 << 20 };
    char *text = malloc(KEYS_FILE_MAX);
    size_t len = text ? fread(text, 1, KEYS_FILE_MAX, f) : 0;
    bool too_big = text && len == KEYS_FILE_MAX;
    bool failed = !text || ferror(f);
    fclose(f);
    if (failed || too_big) {
        snprintf(err, errlen, "keys file %s: %s", path,
                 !text     ? "out of memory"
                 : too_big ? "over 16 MiB"
                           : "read error");
        free(text);
        return NULL;
    }
    char why[400];
    auth_keys_t *keys = auth_keys_parse(text, len, why, sizeof why);
    free(text);
    if (!keys)
        snprintf(err, errlen, "keys file %s: %s", path, why);
    return keys;
}

void
auth_keys_destroy(auth_keys_t **self_p)
{
    auth_keys_t *self = *self_p;
    if (!self)
        return;
    free(self->entries);
    free(self);
    *self_p = NULL;
}

size_t
auth_keys_count(const auth_keys_t *self)
{
    return self->count;
}

size_t
auth_keys_count_role(const auth_keys_t *self, auth_role_t role)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        n += self->entries[i].role == role;
    return n;
}

const auth_entry_t *
auth_keys_find(const auth_keys_t *self, const char *key)
{
    auth_entry_t probe;
    memcpy(probe.key, key, AUTH_KEY_LEN);
    return bsearch(&probe, self->entries, self->count, sizeof probe, entry_cmp);
}

/* ---- the authenticator ------------------------------------------------------- */

struct _auth_t {
    zcert_t *cert;
    char *keys_path;
    pthread_rwlock_t lock; /* guards keys */
    auth_keys_t *keys;
    pthread_mutex_t reload_lock; /* one reload at a time; guards the file's identity */
    struct stat loaded;          /* the keys file as last loaded (or tried) */
    zactor_t *zap;
    /* the handler's refusal log (its thread only) */
    char last_refused[AUTH_KEY_LEN + 32];
    int64_t last_refused_at;
};

/* A certificate with its secret key: `pacer keygen --out FILE` writes
   FILE and FILE_secret; zcert_load tries FILE_secret first. */
static zcert_t *
load_server_cert(const char *path, char *err, size_t errlen)
{
    if (strlen(path) > 240) {
        snprintf(err, errlen, "server key %s: path too long (at most 240 bytes)", path);
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        snprintf(err, errlen,
                 "server key %s (or %s_secret): missing, unreadable or not a certificate (make "
                 "one with pacer keygen --out FILE)",
                 path, path);
        return NULL;
    }
    if (streq(zcert_secret_txt(cert), NO_SECRET)) {
        snprintf(err, errlen,
                 "server key %s holds no secret key: give the FILE_secret that pacer keygen "
                 "wrote (or make it readable by pacerd)",
                 path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

int
auth_check(const char *server_cert, const char *keys_path, char *err, size_t errlen)
{
    if (!zmq_has("curve")) {
        snprintf(err, errlen,
                 "this libzmq was built without CURVE security: authentication "
                 "needs a libzmq with libsodium (Debian's has it)");
        return -1;
    }
    zcert_t *cert = load_server_cert(server_cert, err, errlen);
    if (!cert)
        return -1;
    zcert_destroy(&cert);
    auth_keys_t *keys = auth_keys_load(keys_path, err, errlen);
    if (!keys)
        return -1;
    auth_keys_destroy(&keys);
    return 0;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void
warn_permissions(const char *path, const struct stat *st)
{
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        log_warn("keys file %s is writable by others than its owner: whoever can write it can "
                 "make themselves admin",
                 path);
}

/* Load the keys file if `force` or it changed since last loaded. Returns
   1 reloaded, 0 unchanged, -1 with a message (the keys in force stay). */
static int
reload_keys(auth_t *self, bool force, char *err, size_t errlen)
{
    pthread_mutex_lock(&self->reload_lock);
    struct stat st;
    int rc = 0;
    if (stat(self->keys_path, &st) != 0) {
        snprintf(err, errlen, "keys file %s: %s", self->keys_path, strerror(errno));
        rc = -1;
    } else if (force || !same_file(&st, &self->loaded)) {
        self->loaded = st;
        auth_keys_t *keys = auth_keys_load(self->keys_path, err, errlen);
        if (keys) {
            warn_permissions(self->keys_path, &st);
            log_info(
                "keys file %s: %zu keys (%zu producer, %zu reader, %zu admin)", self->keys_path,
                auth_keys_count(keys), auth_keys_count_role(keys, AUTH_PRODUCER),
                auth_keys_count_role(keys, AUTH_READER), auth_keys_count_role(keys, AUTH_ADMIN));
            pthread_rwlock_wrlock(&self->lock);
            auth_keys_t *old = self->keys;
            self->keys = keys;
            pthread_rwlock_unlock(&self->lock);
            auth_keys_destroy(&old);
            rc = 1;
        } else
            rc = -1;
    }
    pthread_mutex_unlock(&self->reload_lock);
    return rc;
}

int
auth_reload(auth_t *self, char *err, size_t errlen)
{
    assert(self);
    return reload_keys(self, true, err, errlen) < 0 ? -1 : 0;
}

const char *
auth_server_key(auth_t *self)
{
    assert(self);
    return zcert_public_txt(self->cert);
}

auth_role_t
auth_identify(auth_t *self, zmq_msg_t *msg, char *principal, size_t len)
{
    assert(self);
    const char *key = zmq_msg_gets(msg, "User-Id");
    snprintf(principal, len, "%s", key ? key : "");
    if (!key || strlen(key) != AUTH_KEY_LEN)
        return AUTH_NONE;
    auth_role_t role = AUTH_NONE;
    pthread_rwlock_rdlock(&self->lock);
    const auth_entry_t *e = auth_keys_find(self->keys, key);
    if (e) {
        role = e->role;
        snprintf(principal, len, "%s", e->name);
    }
    pthread_rwlock_unlock(&self->lock);
    return role;
}

void
auth_apply(auth_t *self, zsock_t *sock, const char *domain)
{
    assert(self);
    zsock_set_zap_domain(sock, domain);
    zsock_set_curve_server(sock, 1);
    zcert_apply(self->cert, sock);
}

/* ---- the ZAP handler (RFC 27) -------------------------------------------------- */

/* A 200 reply carries the client's key as the user id; anything else 400. */
static void
zap_reply(zsock_t *handler, const char *request_id, bool ok, const char *text, const char *user)
{
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, request_id);
    zmsg_addstr(reply, ok ? "200" : "400");
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, ok ? user : "");
    zmsg_addmem(reply, "", 0); /* no metadata */
    if (zmsg_send(&reply, handler) != 0)
        zmsg_destroy(&reply);
}

static void
log_refusal(auth_t *self, const char *key, const char *domain, const char *address, const char *why)
{
    char id[sizeof self->last_refused];
    snprintf(id, sizeof id, "%s %s", key, domain);
    int64_t now = zclock_mono();
    if (streq(id, self->last_refused) && now - self->last_refused_at < REFUSAL_LOG_MS)
        return;
    snprintf(self->last_refused, sizeof self->last_refused, "%s", id);
    self->last_refused_at = now;
    log_warn("auth: refused %s from %s on %s: %s", key[0] ? key : "a client", address, domain, why);
}

/* Frames: version, request id, domain, address, identity, mechanism,
   credentials (CURVE: the client's 32-byte public key). */
static void
zap_handle(auth_t *self, zsock_t *handler)
{
    zmsg_t *req = zmsg_recv(handler);
    if (!req)
        return;
    char *version = zmsg_popstr(req), *request_id = zmsg_popstr(req), *domain = zmsg_popstr(req),
         *address = zmsg_popstr(req), *identity = zmsg_popstr(req), *mechanism = zmsg_popstr(req);
    zframe_t *cred = zmsg_pop(req);
    if (!version || !streq(version, "1.0") || !request_id || !domain || !address || !mechanism) {
        log_error("auth: a ZAP request that is not RFC 27 version 1.0; refused");
        zap_reply(handler, request_id ? request_id : "", false, "bad ZAP request", "");
    } else {
        char key[AUTH_KEY_LEN + 1] = "";
        if (streq(mechanism, "CURVE") && cred && zframe_size(cred) == 32)
            zmq_z85_encode(key, zframe_data(cred), 32);
        auth_role_t role = AUTH_NONE;
        if (key[0]) {
            pthread_rwlock_rdlock(&self->lock);
            const auth_entry_t *e = auth_keys_find(self->keys, key);
            role = e ? e->role : AUTH_NONE;
            pthread_rwlock_unlock(&self->lock);
        }
        auth_role_t needs = auth_domain_needs(domain);
        const char *why = !key[0]                       ? "not a CURVE client"
                          : role == AUTH_NONE           ? "key not in the keys file"
                          : !auth_role_has(role, needs) ? "only reader and admin keys may subscribe"
                                                        : NULL;
        if (why)
            log_refusal(self, key, domain, address, why);
        else
            log_debug("auth: %s (%s) connected from %s on %s", key, auth_role_name(role), address,
                      domain);
        zap_reply(handler, request_id, !why, why ? why : "OK", key);
    }
    zframe_destroy(&cred);
    zstr_free(&version);
    zstr_free(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&identity);
    zstr_free(&mechanism);
    zmsg_destroy(&req);
}

static void
zap_actor(zsock_t *pipe, void *arg)
{
    auth_t *self = arg;
    zsock_signal(pipe, 0); /* zactor_new waits for this */
    zsock_t *handler = zsock_new(ZMQ_REP);
    if (!handler || zsock_bind(handler, ZAP_ENDPOINT) != 0) {
        zstr_sendf(pipe, "cannot bind the ZAP handler on %s: %s", ZAP_ENDPOINT,
                   zmq_strerror(zmq_errno()));
        zsock_destroy(&handler);
        return;
    }
    zpoller_t *poller = zpoller_new(pipe, handler, NULL);
    zstr_send(pipe, ""); /* bound: an empty error */
    int64_t next_check = zclock_mono() + RELOAD_CHECK_MS;
    char last_error[512] = "";
    for (;;) {
        int64_t wait = next_check - zclock_mono();
        void *which = zpoller_wait(poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || streq(cmd, "$TERM");
            zstr_free(&cmd);
            if (term)
                break;
        } else if (which == handler)
            zap_handle(self, handler);
        else if (zpoller_terminated(poller))
            break;
        if (zclock_mono() >= next_check) {
            /* a file that stays missing or bad is said once, not every second */
            char err[sizeof last_error];
            int rc = reload_keys(self, false, err, sizeof err);
            if (rc < 0 && strcmp(err, last_error) != 0)
                log_error("%s; the keys loaded before stay in force", err);
            snprintf(last_error, sizeof last_error, "%s", rc < 0 ? err : "");
            next_check = zclock_mono() + RELOAD_CHECK_MS;
        }
    }
    zpoller_destroy(&poller);
    zsock_unbind(handler, ZAP_ENDPOINT);
    zsock_destroy(&handler);
}

auth_t *
auth_new(const char *server_cert, const char *keys_path, char *err, size_t errlen)
{
    auth_t *self = calloc(1, sizeof *self);
    if (!self || !(self->keys_path = strdup(keys_path))) {
        free(self);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_rwlock_init(&self->lock, NULL);
    pthread_mutex_init(&self->reload_lock, NULL);
    if (!(self->cert = load_server_cert(server_cert, err, errlen)) ||
        reload_keys(self, true, err, errlen) < 0)
        goto fail;
    self->zap = zactor_new(zap_actor, self);
    char *bind_error = self->zap ? zstr_recv(self->zap) : NULL;
    if (!bind_error || *bind_error) {
        snprintf(err, errlen, "%s", bind_error ? bind_error : "cannot start the ZAP handler");
        zstr_free(&bind_error);
        goto fail;
    }
    zstr_free(&bind_error);
    return self;
fail:
    auth_destroy(&self);
    return NULL;
}

void
auth_destroy(auth_t **self_p)
{
    auth_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->zap);
    zcert_destroy(&self->cert);
    auth_keys_destroy(&self->keys);
    pthread_rwlock_destroy(&self->lock);
    pthread_mutex_destroy(&self->reload_lock);
    free(self->keys_path);
    free(self);
    *self_p = NULL;
}
