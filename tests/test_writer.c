/*  Unit tests for the writer's state machine (daemon/writer) against a fake
    committer: the real writer, intake thread, store (LMDB in a temporary
    directory), projection and alerter; only the commit step is the test's
    (writer_set_committer). The fake either commits a job for real
    (commit_job_run, as the commit thread does), fails it with a store
    code, or holds it until the test lets it finish, so that a group can be
    applied behind one that then fails. Requests go in over a DEALER on an
    inproc ROUTER, as producers' do.

    Every reply is checked against what was committed: an acknowledged seq
    is at most the last seq the fake committed when the reply came, and the
    log holds the acknowledged event at it. Nothing here depends on timing:
    the test waits on the fake's condition variable for the writer to
    submit or to wait for a job; the one wait on the clock (the writer
    probes a full disk once a second) is a bounded retry. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/commit.h"
#include "daemon/outbox.h"
#include "daemon/projector.h"
#include "daemon/store.h"
#include "daemon/store_log.h"
#include "daemon/writer.h"
#include "events/wire.h"

#include <errno.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* The longest the test waits for the writer before it fails. */
#define WAIT_S 60

/* ---- the fake committer ---- */

#define FAKE_JOBS 64

typedef struct {
    store_t *store;
    writer_stats_t *stats;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int efd;
    commit_job_t *job; /* in hand: submitted, not reaped */
    bool finished;
    /* the script */
    bool hold;     /* a job waits for fake_finish */
    bool full;     /* a job not held fails with STORE_DISK_FULL */
    int fail_next; /* > 0: the next jobs not held fail with STORE_ERROR */
    /* what happened */
    size_t submitted, waits; /* jobs; reaps that had to wait for one */
    uint64_t committed_seq;  /* the log's last seq after the last job committed */
    struct {
        uint64_t first_seq;
        size_t n;
        int rc;
    } jobs[FAKE_JOBS];
} fake_t;

/* The fake runs on the writer's thread too, where a cmocka assertion
   cannot unwind: a broken protocol (two jobs in hand, a lost wake-up)
   ends the test program. */
static void
fake_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fake committer: %s\n", what);
        abort();
    }
}

/* Finish the job in hand: commit it for real, or fail it with rc. Under
   the lock. */
static void
fake_complete(fake_t *f, int rc)
{
    commit_job_t *j = f->job;
    if (rc == STORE_OK)
        commit_job_run(f->store, f->stats, j);
    else {
        j->rc = rc;
        snprintf(j->err, sizeof j->err, "%s",
                 rc == STORE_DISK_FULL ? "No space left on device (the fake's)"
                                       : "injected failure (the fake's)");
    }
    if (j->rc == STORE_OK)
        f->committed_seq = store_last_seq(f->store);
    if (f->submitted <= FAKE_JOBS)
        f->jobs[f->submitted - 1].rc = j->rc;
    f->finished = true;
    uint64_t one = 1;
    fake_check(write(f->efd, &one, sizeof one) == (ssize_t)sizeof one, "eventfd write");
    pthread_cond_broadcast(&f->cond);
}

static void
fake_submit(void *self, commit_job_t *job)
{
    fake_t *f = self;
    pthread_mutex_lock(&f->lock);
    fake_check(!f->job, "a job submitted while one is in hand");
    f->job = job;
    f->finished = false;
    if (f->submitted < FAKE_JOBS) {
        f->jobs[f->submitted].first_seq = job->first_seq;
        f->jobs[f->submitted].n = job->n;
    }
    f->submitted++;
    pthread_cond_broadcast(&f->cond);
    if (!f->hold) {
        int rc = STORE_OK;
        if (f->full)
            rc = STORE_DISK_FULL;
        else if (f->fail_next > 0) {
            f->fail_next--;
            rc = STORE_ERROR;
        }
        fake_complete(f, rc);
    }
    pthread_mutex_unlock(&f->lock);
}

static commit_job_t *
fake_reap(void *self, bool wait)
{
    fake_t *f = self;
    pthread_mutex_lock(&f->lock);
    if (wait && f->job && !f->finished) {
        f->waits++;
        pthread_cond_broadcast(&f->cond);
        while (!f->finished)
            pthread_cond_wait(&f->cond, &f->lock);
    }
    commit_job_t *j = f->job && f->finished ? f->job : NULL;
    if (j) {
        f->job = NULL;
        f->finished = false;
        uint64_t n;
        fake_check(read(f->efd, &n, sizeof n) == (ssize_t)sizeof n, "eventfd read");
    }
    pthread_mutex_unlock(&f->lock);
    return j;
}

static int
fake_fd(const void *self)
{
    return ((const fake_t *)self)->efd;
}

static void
fake_destroy(void **self_p)
{
    fake_t *f = *self_p;
    if (!f)
        return;
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    close(f->efd);
    free(f);
    *self_p = NULL;
}

static const committer_ops_t fake_ops = {fake_submit, fake_reap, fake_fd, fake_destroy};

static fake_t *
fake_new(store_t *store, writer_stats_t *stats)
{
    fake_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->store = store;
    f->stats = stats;
    f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(f->efd >= 0);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    return f;
}

static struct timespec
deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_S;
    return ts;
}

/* Wait (under the lock) until *count reaches n. */
static void
fake_wait_for(fake_t *f, const size_t *count, size_t n, const char *what)
{
    struct timespec until = deadline();
    pthread_mutex_lock(&f->lock);
    while (*count < n)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&f->lock);
            fail_msg("the writer never %s (%zu of %zu)", what, *count, n);
        }
    pthread_mutex_unlock(&f->lock);
}

/* Until the writer has submitted n jobs in all. */
static void
fake_wait_submitted(fake_t *f, size_t n)
{
    fake_wait_for(f, &f->submitted, n, "submitted the job");
}

/* Until the writer has waited for a job to finish n times in all. */
static void
fake_wait_waiting(fake_t *f, size_t n)
{
    fake_wait_for(f, &f->waits, n, "waited for the job in hand");
}

/* Finish the held job in hand (once it is submitted) with rc. */
static void
fake_finish(fake_t *f, int rc)
{
    struct timespec until = deadline();
    pthread_mutex_lock(&f->lock);
    while (!f->job || f->finished)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&f->lock);
            fail_msg("no job to finish");
        }
    fake_complete(f, rc);
    pthread_mutex_unlock(&f->lock);
}

/* The script for the next jobs: held, failing as on a full disk, or the
   next fail_next failing with STORE_ERROR. */
static void
fake_script(fake_t *f, bool hold, bool full, int fail_next)
{
    pthread_mutex_lock(&f->lock);
    f->hold = hold;
    f->full = full;
    f->fail_next = fail_next;
    pthread_mutex_unlock(&f->lock);
}

static uint64_t
fake_committed(fake_t *f)
{
    pthread_mutex_lock(&f->lock);
    uint64_t seq = f->committed_seq;
    pthread_mutex_unlock(&f->lock);
    return seq;
}

/* ---- the rig: a writer on a temporary store, a producer ---- */

typedef struct {
    char dir[64];
    store_t *store;
    projector_t *projector;
    writer_t *writer;
    writer_stats_t stats;
    void *ctx, *router, *client;
    fake_t *fake;
    pthread_t thread;
    volatile int stop;
    int rc;
    bool running;
} rig_t;

static void *
run_writer(void *arg)
{
    rig_t *r = arg;
    r->rc = writer_run(r->writer, &r->stop);
    return NULL;
}

/* map_size 0: the store's default. */
static rig_t *
rig_new(size_t map_size)
{
    static int instance;
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    snprintf(r->dir, sizeof r->dir, "/tmp/test_writer.XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    char err[512];
    store_options_t so = {.map_size = map_size};
    r->store = store_open(r->dir, &so, err, sizeof err);
    if (!r->store)
        fail_msg("%s", err);
    uint64_t last_aseq;
    if (outbox_open(r->store, &last_aseq, err, sizeof err) != STORE_OK)
        fail_msg("%s", err);
    dedup_t *dedup = writer_load_ids(r->store, err, sizeof err);
    if (!dedup)
        fail_msg("%s", err);
    projector_options_t po = {.time_zone = "Asia/Shanghai", .fiscal_start_month = 1};
    r->projector = projector_open(r->store, &po, err, sizeof err);
    if (!r->projector)
        fail_msg("%s", err);
    r->ctx = zmq_ctx_new();
    assert_non_null(r->ctx);
    r->router = zmq_socket(r->ctx, ZMQ_ROUTER);
    r->client = zmq_socket(r->ctx, ZMQ_DEALER);
    assert_non_null(r->router);
    assert_non_null(r->client);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://test-writer-%d", instance++);
    int linger = 0, timeout = WAIT_S * 1000;
    assert_int_equal(zmq_setsockopt(r->client, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal(zmq_setsockopt(r->router, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal(zmq_setsockopt(r->client, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    assert_int_equal(zmq_bind(r->router, endpoint), 0);
    assert_int_equal(zmq_connect(r->client, endpoint), 0);
    r->writer =
        writer_new(r->store, r->projector, &dedup, r->router, NULL, &r->stats, err, sizeof err);
    if (!r->writer)
        fail_msg("%s", err);
    r->fake = fake_new(r->store, &r->stats);
    writer_set_committer(r->writer, &fake_ops, r->fake);
    writer_set_tick(r->writer, 0); /* ticks only on request */
    return r;
}

static void
rig_start(rig_t *r)
{
    assert_int_equal(pthread_create(&r->thread, NULL, run_writer, r), 0);
    r->running = true;
}

/* The state directory holds files only (LMDB's, the daemon lock). */
static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char path[320];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            assert_int_equal(unlink(path), 0);
        }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

static void
rig_destroy(rig_t **r_p)
{
    rig_t *r = *r_p;
    if (r->running) {
        r->stop = 1;
        pthread_join(r->thread, NULL);
        assert_int_equal(r->rc, 0);
    }
    writer_destroy(&r->writer); /* and the fake */
    projector_destroy(&r->projector);
    zmq_close(r->client);
    zmq_close(r->router);
    zmq_ctx_term(r->ctx);
    store_destroy(&r->store);
    remove_dir(r->dir);
    free(r);
    *r_p = NULL;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* 2026-10-01T00:00:00+08:00 */
#define OCT1 1790784000000

static void
pack_sale(msgpack_packer *pk, const char *id, int64_t amount)
{
    msgpack_pack_map(pk, 7);
    pack_str(pk, "type");
    pack_str(pk, "sale_closed");
    pack_str(pk, "id");
    pack_str(pk, id);
    pack_str(pk, "occurred_at");
    msgpack_pack_int64(pk, OCT1);
    pack_str(pk, "order");
    pack_str(pk, id);
    pack_str(pk, "rep");
    pack_str(pk, "zhang");
    pack_str(pk, "amount");
    msgpack_pack_int64(pk, amount);
    pack_str(pk, "currency");
    pack_str(pk, "CNY");
}

static void
send_body(rig_t *r, const msgpack_sbuffer *sb)
{
    assert_int_equal(zmq_send(r->client, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(r->client, sb->data, sb->size, 0), (int)sb->size);
}

/* An append of n sales, ids "<prefix>-0".."<prefix>-(n-1)", of amount
   each. */
static void
send_append(rig_t *r, int corr, const char *prefix, int n, int64_t amount)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "op");
    pack_str(&pk, "append");
    pack_str(&pk, "corr");
    msgpack_pack_int(&pk, corr);
    pack_str(&pk, "events");
    msgpack_pack_array(&pk, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        pack_sale(&pk, id, amount);
    }
    send_body(r, &sb);
    msgpack_sbuffer_destroy(&sb);
}

/* A request of op alone, or a tick at now (now < 0: without one). */
static void
send_op(rig_t *r, int corr, const char *op, int64_t now)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, now >= 0 ? 4 : 3);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "op");
    pack_str(&pk, op);
    pack_str(&pk, "corr");
    msgpack_pack_int(&pk, corr);
    if (now >= 0) {
        pack_str(&pk, "now");
        msgpack_pack_int64(&pk, now);
    }
    send_body(r, &sb);
    msgpack_sbuffer_destroy(&sb);
}

typedef struct {
    zmq_msg_t msg; /* the body, which u's strings point into */
    msgpack_unpacked u;
    const msgpack_object *body;
    bool ok;
    int64_t corr;
    char error[64], message[640];
} reply_t;

static const msgpack_object *
get(const msgpack_object *map, const char *key)
{
    return wire_map_get(map, key);
}

static void
copy_str(char *out, size_t cap, const msgpack_object *o)
{
    out[0] = 0;
    if (o && o->type == MSGPACK_OBJECT_STR)
        snprintf(out, cap, "%.*s", (int)o->via.str.size, o->via.str.ptr);
}

/* The id of the event stored at seq (committed). */
static void
stored_id(rig_t *r, uint64_t seq, char *id, size_t cap)
{
    char err[256];
    store_reader_t *rd = store_read_begin(r->store, err, sizeof err);
    assert_non_null(rd);
    store_record_t rec;
    if (store_reader_get(rd, seq, &rec, err, sizeof err) != STORE_OK)
        fail_msg("seq %llu: %s", (unsigned long long)seq, err);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, (const char *)rec.event, rec.event_len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    copy_str(id, cap, get(&u.data, "id"));
    msgpack_unpacked_destroy(&u);
    store_read_end(&rd);
}

/* The next reply. An acknowledged append is checked against the log: each
   seq it names was committed before the reply left (the fake's last
   committed seq), and holds the event of that id (prefix-i). */
static void
recv_reply(rig_t *r, reply_t *rep, const char *prefix)
{
    zmq_msg_t *m = &rep->msg;
    zmq_msg_init(m);
    if (zmq_msg_recv(m, r->client, 0) < 0)
        fail_msg("no reply: %s", zmq_strerror(errno));
    assert_int_equal(zmq_msg_size(m), 0);
    assert_true(zmq_msg_more(m));
    assert_true(zmq_msg_recv(m, r->client, 0) >= 0);
    uint64_t committed = fake_committed(r->fake);
    msgpack_unpacked_init(&rep->u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&rep->u, zmq_msg_data(m), zmq_msg_size(m), &off),
                     MSGPACK_UNPACK_SUCCESS);
    rep->body = &rep->u.data;
    const msgpack_object *ok = get(rep->body, "ok"), *corr = get(rep->body, "corr");
    assert_non_null(ok);
    rep->ok = ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
    rep->corr = corr ? corr->via.i64 : -1;
    copy_str(rep->error, sizeof rep->error, get(rep->body, "error"));
    copy_str(rep->message, sizeof rep->message, get(rep->body, "message"));
    const msgpack_object *results = get(rep->body, "results");
    if (!rep->ok || !results || !prefix)
        return;
    for (uint32_t i = 0; i < results->via.array.size; i++) {
        const msgpack_object *seq = get(&results->via.array.ptr[i], "seq");
        if (!seq)
            continue;
        if (seq->via.u64 > committed)
            fail_msg("seq %llu acknowledged, but the log was committed up to %llu",
                     (unsigned long long)seq->via.u64, (unsigned long long)committed);
        char want[64], got[64];
        snprintf(want, sizeof want, "%s-%u", prefix, i);
        stored_id(r, seq->via.u64, got, sizeof got);
        assert_string_equal(got, want);
    }
}

static void
reply_free(reply_t *rep)
{
    msgpack_unpacked_destroy(&rep->u);
    zmq_msg_close(&rep->msg);
}

/* The reply of an append of n events that went in: corr, n results, each
   appended (dup false) or, with dup, a duplicate; the first seq. */
static uint64_t
expect_appended(rig_t *r, int corr, const char *prefix, int n, bool dup)
{
    reply_t rep;
    recv_reply(r, &rep, prefix);
    if (!rep.ok)
        fail_msg("corr %d: %s: %s", corr, rep.error, rep.message);
    assert_int_equal(rep.corr, corr);
    const msgpack_object *results = get(rep.body, "results");
    assert_non_null(results);
    assert_int_equal(results->via.array.size, n);
    uint64_t first = 0;
    for (int i = 0; i < n; i++) {
        const msgpack_object *res = &results->via.array.ptr[i];
        const msgpack_object *seq = get(res, "seq"), *d = get(res, "dup");
        if (!seq || !d)
            fail_msg("corr %d: event %d refused", corr, i);
        assert_int_equal(d->via.boolean, dup);
        if (i == 0)
            first = seq->via.u64;
        else
            assert_int_equal(seq->via.u64, first + (uint64_t)i); /* in order, no gap */
    }
    assert_int_equal(get(rep.body, dup ? "duplicates" : "appended")->via.u64, n);
    reply_free(&rep);
    return first;
}

/* The reply of a request answered with an error code; its message. */
static void
expect_error(rig_t *r, int corr, const char *error, char *message, size_t cap)
{
    reply_t rep;
    recv_reply(r, &rep, NULL);
    assert_false(rep.ok);
    assert_int_equal(rep.corr, corr);
    assert_string_equal(rep.error, error);
    if (message)
        snprintf(message, cap, "%s", rep.message);
    reply_free(&rep);
}

/* The test's pipelining needs a group applied behind one committing: the
   intake thread hands one over meanwhile only with this many events
   (PIPELINE_MIN_EVENTS in daemon/intake.c). */
#define BIG 300

/* ---- the tests ---- */

/* Groups are acknowledged in the order they arrived, each only after its
   own commit: one held commit keeps the group behind it unanswered. */
static void
test_groups_acknowledged_in_order(void **state)
{
    rig_t *r = rig_new(0);
    fake_script(r->fake, true, false, 0);
    rig_start(r);
    send_append(r, 1, "a", BIG, 100);
    fake_wait_submitted(r->fake, 1);
    send_append(r, 2, "b", BIG, 100);
    fake_wait_waiting(r->fake, 1); /* b applied, the writer waits for a's commit */
    fake_finish(r->fake, STORE_OK);
    assert_int_equal(expect_appended(r, 1, "a", BIG, false), 1);
    fake_finish(r->fake, STORE_OK);
    assert_int_equal(expect_appended(r, 2, "b", BIG, false), BIG + 1);
    /* many small requests: answered in order, seqs gap-free across groups */
    fake_script(r->fake, false, false, 0);
    for (int k = 0; k < 20; k++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "c%d", k);
        send_append(r, 10 + k, prefix, 3, 7);
    }
    for (int k = 0; k < 20; k++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "c%d", k);
        assert_int_equal(expect_appended(r, 10 + k, prefix, 3, false), 2 * BIG + 1 + 3 * k);
    }
    assert_int_equal(store_last_seq(r->store), 2 * BIG + 60);
    assert_int_equal(atomic_load(&r->stats.last_seq), 2 * BIG + 60);
    rig_destroy(&r);
}

/* A failed commit answers its own group `internal`, undoes the group
   applied behind it, which is applied again (the same seqs as the failed
   one would have had) and acknowledged once committed. The failed group's
   events went nowhere: sent again they are appended, not duplicates, and
   a retry of an acknowledged request is answered with its original seqs. */
static void
test_failed_commit_redo_and_retries(void **state)
{
    rig_t *r = rig_new(0);
    fake_script(r->fake, true, false, 0);
    rig_start(r);
    send_append(r, 1, "a", BIG, 100);
    fake_wait_submitted(r->fake, 1);
    send_append(r, 2, "b", BIG, 100);
    fake_wait_waiting(r->fake, 1);
    fake_finish(r->fake, STORE_ERROR);
    char message[640];
    expect_error(r, 1, "internal", message, sizeof message);
    assert_non_null(strstr(message, "nothing in this request was appended"));
    assert_non_null(strstr(message, "injected failure"));
    /* b again, on the durable log: from seq 1 */
    fake_wait_submitted(r->fake, 2);
    assert_int_equal(r->fake->jobs[1].first_seq, 1);
    assert_int_equal(r->fake->jobs[1].n, BIG);
    fake_finish(r->fake, STORE_OK);
    assert_int_equal(expect_appended(r, 2, "b", BIG, false), 1);
    assert_int_equal(store_last_seq(r->store), BIG);
    assert_int_equal(atomic_load(&r->stats.commit_failures), 1);

    /* the idempotent retries */
    fake_script(r->fake, false, false, 0);
    send_append(r, 3, "a", BIG, 100); /* the failed one: appended now */
    assert_int_equal(expect_appended(r, 3, "a", BIG, false), BIG + 1);
    send_append(r, 4, "b", BIG, 100); /* the acknowledged one: its seqs */
    assert_int_equal(expect_appended(r, 4, "b", BIG, true), 1);
    send_append(r, 5, "a", BIG, 100);
    assert_int_equal(expect_appended(r, 5, "a", BIG, true), BIG + 1);
    /* the same id with another body is a conflict, not a duplicate */
    send_append(r, 6, "a", 1, 999);
    reply_t rep;
    recv_reply(r, &rep, NULL);
    assert_true(rep.ok);
    const msgpack_object *res = &get(rep.body, "results")->via.array.ptr[0];
    char error[64];
    copy_str(error, sizeof error, get(res, "error"));
    assert_string_equal(error, "conflict");
    reply_free(&rep);

    /* a failure with nothing behind it, not held: the retry goes in */
    fake_script(r->fake, false, false, 1);
    send_append(r, 7, "d", 5, 1);
    expect_error(r, 7, "internal", NULL, 0);
    send_append(r, 8, "d", 5, 1);
    assert_int_equal(expect_appended(r, 8, "d", 5, false), 2 * BIG + 1);
    assert_int_equal(store_last_seq(r->store), 2 * BIG + 5);
    assert_int_equal(atomic_load(&r->stats.commit_failures), 2);
    rig_destroy(&r);
}

/* A full map: the commit step grows it and puts the records again; the
   writer sees a commit that succeeded. With no headroom the writer asks
   for no room ahead, so the transactions themselves find the map full. */
static void
test_map_full_grows_and_retries(void **state)
{
    rig_t *r = rig_new((size_t)1 << 20);
    writer_set_map_headroom(r->writer, 0);
    size_t before = store_map_size(r->store);
    rig_start(r);
    uint64_t seq = 1;
    for (int k = 0; k < 8; k++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "m%d", k);
        send_append(r, k, prefix, 2000, 100 + k);
        assert_int_equal(expect_appended(r, k, prefix, 2000, false), seq);
        seq += 2000;
    }
    assert_true(atomic_load(&r->stats.map_resizes) > 0);
    assert_true(store_map_size(r->store) > before);
    assert_int_equal(store_last_seq(r->store), 16000);
    assert_int_equal(r->fake->submitted, 8);
    assert_int_equal(atomic_load(&r->stats.commit_failures), 0);
    rig_destroy(&r);
}

/* A full disk: the group is answered `internal` naming the full disk, and
   so is every append until a commit succeeds again; then appends resume
   by themselves. Meanwhile the writer applies at most one group a second
   (a probe), so the fake sees fewer jobs than requests; the test only
   waits for the probe that finds room. */
static void
test_disk_full_refuses_then_resumes(void **state)
{
    rig_t *r = rig_new(0);
    rig_start(r);
    send_append(r, 1, "ok", 2, 1);
    expect_appended(r, 1, "ok", 2, false);
    fake_script(r->fake, false, true, 0);
    char message[640];
    send_append(r, 2, "f", 2, 1);
    expect_error(r, 2, "internal", message, sizeof message);
    assert_non_null(strstr(message, "is full"));
    assert_non_null(strstr(message, r->dir));
    assert_int_equal(atomic_load(&r->stats.disk_full), 1);
    for (int k = 0; k < 5; k++) {
        send_append(r, 3 + k, "f", 2, 1);
        expect_error(r, 3 + k, "internal", message, sizeof message);
        assert_non_null(strstr(message, "is full"));
    }
    /* a tick is refused with the appends: nothing of it committed */
    send_op(r, 50, "tick", -1);
    expect_error(r, 50, "internal", message, sizeof message);
    assert_non_null(strstr(message, "nothing in this request was committed"));
    assert_non_null(strstr(message, "is full"));
    assert_int_equal(store_last_seq(r->store), 2);
    fake_script(r->fake, false, false, 0);
    /* retried until the next probe commits (about a second) */
    struct timespec until = deadline(), now;
    for (int corr = 100;; corr++) {
        send_append(r, corr, "f", 2, 1);
        reply_t rep;
        recv_reply(r, &rep, "f");
        bool ok = rep.ok;
        if (!ok)
            assert_non_null(strstr(rep.message, "is full"));
        reply_free(&rep);
        if (ok)
            break;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > until.tv_sec)
            fail_msg("appends never resumed");
        usleep(50 * 1000);
    }
    assert_int_equal(atomic_load(&r->stats.disk_full), 0);
    assert_int_equal(store_last_seq(r->store), 4);
    send_append(r, 999, "f", 2, 1);
    assert_int_equal(expect_appended(r, 999, "f", 2, true), 3);
    rig_destroy(&r);
}

/* Commands ride a group: a tick in a group applied behind a failing
   commit is applied again with it and answered once committed; a tick in
   a group that fails is answered `internal`; a rebuild folds the log
   again after its group's commit. */
static void
test_commands_ride_groups(void **state)
{
    rig_t *r = rig_new(0);
    writer_set_manual_clock(r->writer, true);
    fake_script(r->fake, true, false, 0);
    rig_start(r);
    const int64_t t1 = OCT1 + 3600000, t2 = OCT1 + 7200000;
    send_append(r, 1, "a", BIG, 100);
    fake_wait_submitted(r->fake, 1);
    /* the tick and b make one group: it goes to the writer with b */
    send_op(r, 2, "tick", t1);
    send_append(r, 3, "b", BIG, 100);
    fake_wait_waiting(r->fake, 1);
    fake_finish(r->fake, STORE_ERROR);
    expect_error(r, 1, "internal", NULL, 0);
    fake_finish(r->fake, STORE_OK); /* the tick and b, again */
    reply_t rep;
    recv_reply(r, &rep, NULL);
    assert_true(rep.ok);
    assert_int_equal(rep.corr, 2);
    assert_int_equal(get(rep.body, "now")->via.i64, t1);
    assert_non_null(get(rep.body, "raised"));
    reply_free(&rep);
    assert_int_equal(expect_appended(r, 3, "b", BIG, false), 1);
    assert_int_equal(atomic_load(&r->stats.alert_clock), t1);

    /* a tick in a group whose commit fails is not committed */
    send_op(r, 4, "tick", t2);
    fake_finish(r->fake, STORE_ERROR);
    char message[640];
    expect_error(r, 4, "internal", message, sizeof message);
    assert_non_null(strstr(message, "nothing in this request was committed"));

    /* the alert clock only moves forward */
    fake_script(r->fake, false, false, 0);
    send_op(r, 5, "tick", t1 - 1);
    expect_error(r, 5, "bad_request", message, sizeof message);
    assert_non_null(strstr(message, "earlier than the alert clock"));

    /* a rebuild after its group's commit, on the durable log */
    send_append(r, 6, "c", 10, 5);
    send_op(r, 7, "rebuild", -1);
    assert_int_equal(expect_appended(r, 6, "c", 10, false), BIG + 1);
    recv_reply(r, &rep, NULL);
    assert_true(rep.ok);
    assert_int_equal(rep.corr, 7);
    assert_int_equal(get(rep.body, "events")->via.u64, BIG + 10);
    reply_free(&rep);
    /* and an op the append endpoint does not serve */
    send_op(r, 8, "status", -1);
    expect_error(r, 8, "unknown_op", NULL, 0);
    rig_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_acknowledged_in_order),
        cmocka_unit_test(test_failed_commit_redo_and_retries),
        cmocka_unit_test(test_map_full_grows_and_retries),
        cmocka_unit_test(test_disk_full_refuses_then_resumes),
        cmocka_unit_test(test_commands_ride_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
