/*  Unit tests for the store (daemon/store, store_log, store_ids,
    store_snapshot, store_verify) and daemon/dedup: append and commit, the
    hash chain and its verification, the id index, snapshots in LMDB, map
    growth, the daemon lock, the codes' names, and the duplicate index's
    rollback. Real LMDB files in a temp dir. The manifest on bytes is in
    tests/test_store_snapshot.c. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/dedup.h"
#include "daemon/store.h"
#include "daemon/store_ids.h"
#include "daemon/store_log.h"
#include "daemon/store_snapshot.h"
#include "daemon/store_verify.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];
static char err[512];

static int
setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pacer-test-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void
append_n(store_t *s, int n, int64_t at)
{
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    for (int i = 0; i < n; i++) {
        char ev[64];
        int len = snprintf(ev, sizeof ev, "\x81\xa2id\xa8%08d", (int)store_last_seq(s) + i);
        uint64_t seq;
        assert_int_equal(store_append(s, at, (uint8_t *)ev, (size_t)len, 1000 + (uint64_t)i, &seq,
                                      err, sizeof err),
                         STORE_OK);
        assert_int_equal(seq, store_last_seq(s) + (uint64_t)i + 1);
    }
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
}

static void
count_ids(void *arg, uint64_t seq, uint64_t h)
{
    uint64_t *n = arg;
    assert_int_equal(seq, *n + 1);
    (*n)++;
}

static void
test_append_reopen_verify(void **state)
{
    store_options_t opts = {.exclusive = true};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(store_last_seq(s), 0);
    append_n(s, 1500, 1764590400000); /* crosses an id block boundary */
    append_n(s, 10, 1764590400001);
    uint8_t last[STORE_HASH_BYTES];
    memcpy(last, store_last_hash(s), sizeof last);

    /* a second daemon on the same directory is refused (the lock is a
       process's: the second daemon is another process) */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store_t *other = store_open(dir, &opts, err, sizeof err);
        _exit(!other && strstr(err, "in use by another pacerd") ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    store_destroy(&s);
    assert_null(s);

    s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(store_last_seq(s), 1510);
    assert_memory_equal(store_last_hash(s), last, sizeof last);
    uint64_t n = 0;
    assert_int_equal(store_scan_ids(s, count_ids, &n, err, sizeof err), STORE_OK);
    assert_int_equal(n, 1510);

    /* the chain recomputed from the records matches */
    store_reader_t *r = store_read_begin(s, err, sizeof err);
    store_record_t rec;
    uint8_t prev[STORE_HASH_BYTES] = {0}, h[STORE_HASH_BYTES];
    for (uint64_t seq = 1; seq <= 1510; seq++) {
        assert_int_equal(store_reader_get(r, seq, &rec, err, sizeof err), STORE_OK);
        store_chain_hash(prev, seq, rec.recorded_at, rec.event, rec.event_len, h);
        assert_memory_equal(h, rec.hash, sizeof h);
        memcpy(prev, h, sizeof h);
    }
    assert_int_equal(store_reader_get(r, 1511, &rec, err, sizeof err), STORE_NOT_FOUND);
    store_read_end(&r);
    store_destroy(&s);

    uint64_t checked, bad;
    assert_int_equal(store_verify(dir, &checked, &bad, err, sizeof err), STORE_OK);
    assert_int_equal(checked, 1510);
}

/* Version 1 and 2 records mixed in one log: each reads back with its
   principal (or none), the chain covers the principals, and verify names
   a record whose principal was altered on disk. */
static void
test_records_with_principals(void **state)
{
    store_options_t opts = {0};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    const char *who[] = {NULL, "crm", NULL, "ceo", "crm"};
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    uint8_t prev[STORE_HASH_BYTES] = {0}, h[STORE_HASH_BYTES];
    for (int i = 0; i < 5; i++) {
        char ev[32];
        int len = snprintf(ev, sizeof ev, "\x81\xa2id\xa1%c", 'a' + i);
        size_t plen = who[i] ? strlen(who[i]) : 0;
        store_chain_hash_principal(prev, (uint64_t)i + 1, 77, who[i], plen, (uint8_t *)ev,
                                   (size_t)len, h);
        uint64_t seq;
        assert_int_equal(store_append_hashed(s, 77, (uint8_t *)ev, (size_t)len, who[i], plen,
                                             (uint64_t)i, h, &seq, err, sizeof err),
                         STORE_OK);
        memcpy(prev, h, sizeof h);
    }
    /* a principal of 0 or over 255 bytes is refused */
    uint64_t seq;
    char big[300];
    memset(big, 'x', sizeof big);
    assert_int_equal(store_append_hashed(s, 77, (uint8_t *)"\x80", 1, big, sizeof big, 9, h, &seq,
                                         err, sizeof err),
                     STORE_ERROR);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    store_destroy(&s);

    s = store_open(dir, &opts, err, sizeof err);
    assert_int_equal(store_last_seq(s), 5);
    store_reader_t *r = store_read_begin(s, err, sizeof err);
    for (uint64_t q = 1; q <= 5; q++) {
        store_record_t rec;
        assert_int_equal(store_reader_get(r, q, &rec, err, sizeof err), STORE_OK);
        const char *want = who[q - 1];
        if (want) {
            assert_int_equal(rec.principal_len, strlen(want));
            assert_memory_equal(rec.principal, want, rec.principal_len);
        } else
            assert_null(rec.principal);
        assert_int_equal(rec.event_len, 6);
        assert_int_equal(rec.event[5], 'a' + (int)q - 1);
    }
    store_read_end(&r);
    store_destroy(&s);
    uint64_t checked, bad;
    assert_int_equal(store_verify(dir, &checked, &bad, err, sizeof err), STORE_OK);
    assert_int_equal(checked, 5);

    /* "ceo" becomes "cfo" in record 4: its hash no longer matches */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    mdb_txn_begin(env, NULL, 0, &txn);
    assert_int_equal(mdb_dbi_open(txn, "log", MDB_INTEGERKEY, &dbi), 0);
    size_t key = 4;
    MDB_val k = {sizeof key, &key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t copy[128];
    memcpy(copy, v.mv_data, v.mv_size);
    assert_int_equal(copy[0], 0x95);
    assert_int_equal(copy[45], 0xd9);
    assert_int_equal(copy[46], 3);
    copy[48] = 'f';
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    mdb_txn_commit(txn);
    mdb_env_close(env);
    assert_int_equal(store_verify(dir, &checked, &bad, err, sizeof err), STORE_CORRUPT);
    assert_int_equal(bad, 4);
    assert_int_equal(checked, 3);

    /* malformed heads: a principal of length 0, one that runs past the
       end, a version 2 head in a 4-element array */
    store_record_t rec;
    uint8_t bad_rec[64];
    memcpy(bad_rec, copy, sizeof bad_rec);
    bad_rec[46] = 0;
    assert_int_equal(store_record_decode(4, bad_rec, 55, &rec, err, sizeof err), STORE_CORRUPT);
    memcpy(bad_rec, copy, sizeof bad_rec);
    bad_rec[46] = 200;
    assert_int_equal(store_record_decode(4, bad_rec, 55, &rec, err, sizeof err), STORE_CORRUPT);
    memcpy(bad_rec, copy, sizeof bad_rec);
    bad_rec[0] = 0x94;
    assert_int_equal(store_record_decode(4, bad_rec, 55, &rec, err, sizeof err), STORE_CORRUPT);
    memcpy(bad_rec, copy, sizeof bad_rec);
    assert_int_equal(store_record_decode(4, bad_rec, 55, &rec, err, sizeof err), STORE_OK);
    assert_int_equal(rec.principal_len, 3);
    assert_int_equal(rec.event_len, 55 - 50);
}

/* The version 2 hash input cannot be taken for a version 1 one: the same
   event under a principal hashes differently from it without, and the
   principal's bytes cannot move into the event. */
static void
test_principal_hash_is_unambiguous(void **state)
{
    uint8_t prev[STORE_HASH_BYTES] = {1}, a[STORE_HASH_BYTES], b[STORE_HASH_BYTES];
    const uint8_t ev[] = {0x81, 0xa1, 'x', 0x01};
    store_chain_hash(prev, 3, 9, ev, sizeof ev, a);
    store_chain_hash_principal(prev, 3, 9, NULL, 0, ev, sizeof ev, b);
    assert_memory_equal(a, b, sizeof a);
    store_chain_hash_principal(prev, 3, 9, "ab", 2, ev, sizeof ev, b);
    assert_memory_not_equal(a, b, sizeof a);
    uint8_t c[STORE_HASH_BYTES];
    const uint8_t ev2[] = {'b', 0x81, 0xa1, 'x', 0x01};
    store_chain_hash_principal(prev, 3, 9, "a", 1, ev2, sizeof ev2, c);
    assert_memory_not_equal(b, c, sizeof b);
}

static void
test_verify_names_altered_record(void **state)
{
    store_options_t opts = {0};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    append_n(s, 100, 5);
    store_destroy(&s);

    /* alter record 42's event bytes behind the store's back */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    mdb_txn_begin(env, NULL, 0, &txn);
    assert_int_equal(mdb_dbi_open(txn, "log", MDB_INTEGERKEY, &dbi), 0);
    size_t key = 42;
    MDB_val k = {sizeof key, &key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    char copy[256];
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size - 1] ^= 1;
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    mdb_txn_commit(txn);
    mdb_env_close(env);

    uint64_t checked, bad;
    assert_int_equal(store_verify(dir, &checked, &bad, err, sizeof err), STORE_CORRUPT);
    assert_int_equal(bad, 42);
    assert_int_equal(checked, 41);
    assert_non_null(strstr(err, "record 42"));
}

/* Replace record seq's first byte behind the store's back. */
static void
damage_record_head(size_t seq)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "log", MDB_INTEGERKEY, &dbi), 0);
    MDB_val k = {sizeof seq, &seq}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    char copy[256];
    assert_true(v.mv_size <= sizeof copy);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[0] = 0;
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* The newest record is the one store_open reads to learn the last seq and
   hash: verify still names it as the corrupt one, and a store refuses to
   open on it. */
static void
test_verify_names_damaged_newest_record(void **state)
{
    store_options_t opts = {0};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    append_n(s, 30, 5);
    store_destroy(&s);
    damage_record_head(30);

    uint64_t checked, bad;
    assert_int_equal(store_verify(dir, &checked, &bad, err, sizeof err), STORE_CORRUPT);
    assert_int_equal(bad, 30);
    assert_int_equal(checked, 29);
    assert_non_null(strstr(err, "record 30: not a version 1 or 2 record"));
    assert_null(store_open(dir, &opts, err, sizeof err));
    assert_non_null(strstr(err, "record 30"));
}

/* A directory with no environment is an error, not corruption. */
static void
test_verify_without_a_log(void **state)
{
    uint64_t checked, bad;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none", dir);
    err[0] = '\0';
    assert_int_equal(store_verify(missing, &checked, &bad, err, sizeof err), STORE_ERROR);
    assert_true(err[0] != '\0');
    assert_int_equal(checked, 0);
}

static void
test_rc_names(void **state)
{
    assert_string_equal(store_rc_name(STORE_OK), "ok");
    assert_string_equal(store_rc_name(STORE_ERROR), "error");
    assert_string_equal(store_rc_name(STORE_MAP_FULL), "map_full");
    assert_string_equal(store_rc_name(STORE_LOCKED), "locked");
    assert_string_equal(store_rc_name(STORE_CORRUPT), "corrupt");
    assert_string_equal(store_rc_name(STORE_NOT_FOUND), "not_found");
    assert_string_equal(store_rc_name(STORE_DISK_FULL), "disk_full");
    assert_string_equal(store_rc_name((store_rc_t)-100), "unknown");
    assert_string_equal(store_rc_name((store_rc_t)1), "unknown");
}

/* Raw LMDB access to the state dir, with the store closed. */
static MDB_env *
raw_open(MDB_txn **txn, const char *db, MDB_dbi *dbi)
{
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, (size_t)1 << 30);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, txn), 0);
    assert_int_equal(mdb_dbi_open(*txn, db, MDB_INTEGERKEY, dbi), 0);
    return env;
}

static size_t
raw_count(const char *db)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_env *env = raw_open(&txn, db, &dbi);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

static char *
pattern(size_t len, unsigned seed)
{
    char *p = malloc(len);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 131 + seed + (i >> 20));
    return p;
}

/* The newest snapshot at or before max_seq must be (seq, want, len). */
static void
expect_snapshot(store_t *s, uint64_t max_seq, uint64_t seq, const char *want, size_t len)
{
    store_reader_t *r = store_read_begin(s, err, sizeof err);
    assert_non_null(r);
    uint64_t got_seq;
    const void *data;
    size_t got_len;
    assert_int_equal(store_reader_snapshot(r, max_seq, &got_seq, &data, &got_len, err, sizeof err),
                     STORE_OK);
    assert_int_equal(got_seq, seq);
    assert_int_equal(got_len, len);
    assert_memory_equal(data, want, len);
    store_read_end(&r);
}

static void
put_whole(store_t *s, uint64_t seq, const char *data, size_t len)
{
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(store_put_snapshot(s, seq, data, len, 2, err, sizeof err), STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
}

static void
test_snapshots_in_chunks(void **state)
{
    store_options_t opts = {0};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    append_n(s, 10, 5);
    /* Two chunks and a bit, in one transaction; an empty one; one chunk exactly. */
    size_t big = 2 * STORE_SNAPSHOT_CHUNK + 1000;
    char *a = pattern(big, 1), *c = pattern(STORE_SNAPSHOT_CHUNK, 3);
    put_whole(s, 3, a, big);
    expect_snapshot(s, UINT64_MAX, 3, a, big);
    put_whole(s, 5, "", 0);
    expect_snapshot(s, UINT64_MAX, 5, "", 0);
    expect_snapshot(s, 4, 3, a, big);

    /* Piece by piece over three transactions, with a group commit between. */
    uint64_t first;
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(store_snapshot_next_chunk(s, &first, err, sizeof err), STORE_OK);
    assert_int_equal(first, 4); /* chunks 1-3 hold the first snapshot */
    assert_int_equal(store_put_snapshot_chunk(s, first, a, STORE_SNAPSHOT_CHUNK, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    append_n(s, 5, 6);
    expect_snapshot(s, UINT64_MAX, 5, "", 0); /* not a snapshot yet */
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(store_put_snapshot_chunk(s, first + 1, a + STORE_SNAPSHOT_CHUNK,
                                              STORE_SNAPSHOT_CHUNK, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(
        store_put_snapshot_chunk(s, first + 2, a + 2 * STORE_SNAPSHOT_CHUNK, 1000, err, sizeof err),
        STORE_OK);
    assert_int_equal(store_put_snapshot_manifest(s, 8, first, 3, big, 2, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    expect_snapshot(s, UINT64_MAX, 8, a, big);
    expect_snapshot(s, 7, 5, "", 0);
    store_reader_t *r = store_read_begin(s, err, sizeof err);
    uint64_t seq;
    const void *data;
    size_t len; /* only two are kept: seq 3 went */
    assert_int_equal(store_reader_snapshot(r, 4, &seq, &data, &len, err, sizeof err),
                     STORE_NOT_FOUND);
    store_read_end(&r);

    /* A snapshot cut short (no manifest) leaves chunks; the next manifest prunes them. */
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(store_snapshot_next_chunk(s, &first, err, sizeof err), STORE_OK);
    assert_int_equal(first, 7);
    assert_int_equal(store_put_snapshot_chunk(s, first, c, STORE_SNAPSHOT_CHUNK, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    put_whole(s, 9, c, STORE_SNAPSHOT_CHUNK);
    expect_snapshot(s, UINT64_MAX, 9, c, STORE_SNAPSHOT_CHUNK);
    /* Chunks of any sizes, as another chunk size would have written them;
       a manifest that claims more bytes than its chunks hold is refused. */
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(store_snapshot_next_chunk(s, &first, err, sizeof err), STORE_OK);
    assert_int_equal(store_put_snapshot_chunk(s, first, "0123456789", 10, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_put_snapshot_chunk(s, first + 1, "a", 1, err, sizeof err), STORE_OK);
    assert_int_equal(store_put_snapshot_chunk(s, first + 2, "bcdef", 5, err, sizeof err), STORE_OK);
    assert_int_equal(store_put_snapshot_manifest(s, 10, first, 3, 16, 3, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_put_snapshot_manifest(s, 11, first, 3, 17, 3, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_commit(s, err, sizeof err), STORE_OK);
    expect_snapshot(s, 10, 10, "0123456789abcdef", 16);
    r = store_read_begin(s, err, sizeof err);
    assert_int_equal(store_reader_snapshot(r, 11, &seq, &data, &len, err, sizeof err),
                     STORE_CORRUPT);
    assert_non_null(strstr(err, "hold 16 of its 17 bytes"));
    store_read_end(&r);
    put_whole(s, 12, c, STORE_SNAPSHOT_CHUNK); /* keeps 2: seq 11 and 12 */
    store_destroy(&s);
    /* Pruned to the newest two (seq 11 and 12): every other chunk went,
       including the orphan and those of seq 3, 5, 8, 9 and 10. */
    assert_int_equal(raw_count("snap"), 2);
    assert_int_equal(raw_count("snapchunk"), 4); /* seq 11's three and seq 12's one */
    free(a);
    free(c);
}

/* No writer may store an empty chunk: readers refuse one as corrupt. */
static void
test_empty_chunk_refused(void **state)
{
    store_options_t opts = {0};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    uint64_t first;
    assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
    assert_int_equal(store_snapshot_next_chunk(s, &first, err, sizeof err), STORE_OK);
    assert_int_equal(store_put_snapshot_chunk(s, first, "", 0, err, sizeof err), STORE_ERROR);
    assert_non_null(strstr(err, "at least one byte"));
    /* nor keep more snapshots than pruning can tell apart */
    assert_int_equal(store_put_snapshot(s, 1, "x", 1, 9, err, sizeof err), STORE_ERROR);
    assert_non_null(strstr(err, "1 to 8 can be kept"));
    assert_int_equal(store_put_snapshot(s, 1, "x", 1, 0, err, sizeof err), STORE_ERROR);
    store_abort(s);
    store_destroy(&s);
}

static void
test_snapshot_formats(void **state)
{
    store_options_t opts = {0};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    append_n(s, 10, 5);
    char *a = pattern(STORE_SNAPSHOT_CHUNK + 10, 7);
    put_whole(s, 4, a, STORE_SNAPSHOT_CHUNK + 10);
    store_destroy(&s);

    /* A whole snapshot as earlier versions stored it is still read; a
       manifest whose chunk is gone is refused, not read past. */
    MDB_txn *txn;
    MDB_dbi snap, chunks;
    MDB_env *env = raw_open(&txn, "snap", &snap);
    size_t key = 6;
    MDB_val k = {sizeof key, &key}, v = {11, "old format!"};
    assert_int_equal(mdb_put(txn, snap, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    expect_snapshot(s, UINT64_MAX, 6, "old format!", 11);
    expect_snapshot(s, 5, 4, a, STORE_SNAPSHOT_CHUNK + 10);
    store_destroy(&s);

    env = raw_open(&txn, "snapchunk", &chunks);
    key = 2;
    assert_int_equal(mdb_del(txn, chunks, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    s = store_open(dir, &opts, err, sizeof err);
    store_reader_t *r = store_read_begin(s, err, sizeof err);
    uint64_t seq;
    const void *data;
    size_t len;
    assert_int_equal(store_reader_snapshot(r, 5, &seq, &data, &len, err, sizeof err),
                     STORE_CORRUPT);
    assert_non_null(strstr(err, "chunk 2 is missing"));
    store_read_end(&r);
    store_destroy(&s);
    free(a);
}

static void
test_map_full_grows(void **state)
{
    store_options_t opts = {.map_size = 256 * 1024};
    store_t *s = store_open(dir, &opts, err, sizeof err);
    assert_non_null(s);
    size_t before = store_map_size(s);
    int grew = 0;
    for (int round = 0; round < 50; round++) {
        assert_int_equal(store_begin(s, err, sizeof err), STORE_OK);
        int rc = STORE_OK;
        for (int i = 0; i < 200 && rc == STORE_OK; i++) {
            uint8_t ev[300];
            memset(ev, 0xa0, sizeof ev); /* 300 empty strings: a valid array body */
            ev[0] = 0xdc, ev[1] = 0x01, ev[2] = 0x29;
            uint64_t seq;
            rc = store_append(s, 1, ev, sizeof ev, 7, &seq, err, sizeof err);
        }
        if (rc == STORE_OK)
            rc = store_commit(s, err, sizeof err);
        else
            store_abort(s);
        if (rc == STORE_MAP_FULL) {
            uint64_t last = store_last_seq(s);
            assert_int_equal(store_grow(s, err, sizeof err), STORE_OK);
            assert_int_equal(store_last_seq(s), last); /* nothing lost */
            grew++;
            round--;
            continue;
        }
        assert_int_equal(rc, STORE_OK);
    }
    assert_true(grew > 0);
    assert_true(store_map_size(s) > before);
    assert_int_equal(store_last_seq(s), 50 * 200);
    store_destroy(&s);
    uint64_t checked, bad;
    assert_int_equal(store_verify(dir, &checked, &bad, err, sizeof err), STORE_OK);
    assert_int_equal(checked, 10000);
}

/* How many times seq is a candidate for hash. */
static int
candidates(dedup_t *d, uint64_t hash, uint64_t seq)
{
    dedup_iter_t it;
    int n = 0;
    for (uint64_t s = dedup_first(d, hash, &it); s; s = dedup_next(d, &it))
        n += s == seq;
    return n;
}

static uint64_t
hash_of(uint64_t i)
{
    uint64_t h = i * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static void
test_dedup_grows_a_slice_at_a_time(void **state)
{
    /* Groups of 3000 from an index sized for 1000: several growths, each
       moving its entries over many groups. After every group each id
       inserted so far is a candidate exactly once, whichever table holds
       it; a rolled-back group in the middle of a move leaves no trace. */
    dedup_t *d = dedup_new(1000);
    assert_non_null(d);
    uint64_t next = 1;
    for (int g = 0; g < 400; g++) {
        assert_int_equal(dedup_reserve(d, 3000), 0);
        for (int i = 0; i < 3000; i++, next++)
            dedup_insert(d, hash_of(next), next);
        /* 125 and 250: while the 2^19- and 2^20-slot tables are being moved
           out of (they fill at groups 122 and 244; a move takes 8 and 16). */
        if (g == 42 || g == 125 || g == 250) {
            dedup_rollback(d);
            next -= 3000;
            for (uint64_t k = next; k < next + 3000; k += 97)
                assert_int_equal(candidates(d, hash_of(k), k), 0);
        } else
            dedup_settle(d, dedup_mark(d));
        if (g % 25 == 0 || g == 399)
            for (uint64_t k = 1; k < next; k += (g == 399 ? 1 : 13))
                assert_int_equal(candidates(d, hash_of(k), k), 1);
    }
    assert_int_equal(dedup_size(d), next - 1);
    /* One hash, two seqs, one of them in the table being grown out of;
       and a move takes several groups once the table is large. */
    dedup_t *e = dedup_new(0);
    uint64_t k = 1, planted = 0;
    int growing_groups = 0;
    while (growing_groups < 3) {
        assert_true(k < 2000000);
        assert_int_equal(dedup_reserve(e, 1000), 0);
        for (int i = 0; i < 1000; i++, k++)
            dedup_insert(e, k == 1 ? 42 : hash_of(k), k);
        dedup_settle(e, dedup_mark(e));
        if (!dedup_growing(e) || k < 100000)
            continue;
        growing_groups++;
        if (!planted) {
            assert_int_equal(dedup_reserve(e, 1), 0);
            dedup_insert(e, 42, planted = k++);
            dedup_settle(e, dedup_mark(e));
        }
        assert_int_equal(candidates(e, 42, 1), 1);
        assert_int_equal(candidates(e, 42, planted), 1);
    }
    dedup_destroy(&e);
    dedup_destroy(&d);
}

/* The writer settles a group's inserts after its commit, while the next
   group's are already in (daemon/writer's pipeline): settling up to a mark
   keeps the first and not the second, a rollback then drops only the
   second, also when the second's reservation started a growth. */
static void
test_dedup_settles_up_to_a_mark(void **state)
{
    (void)state;
    dedup_t *d = dedup_new(0);
    assert_non_null(d);
    uint64_t next = 1;
    for (int g = 0; g < 60; g++) {
        assert_int_equal(dedup_reserve(d, 2000), 0);
        uint64_t a = next;
        for (int i = 0; i < 2000; i++, next++)
            dedup_insert(d, hash_of(next), next);
        size_t mark = dedup_mark(d);
        /* the next group goes in before the first commits */
        assert_int_equal(dedup_reserve(d, 3000), 0);
        uint64_t b = next;
        for (int i = 0; i < 3000; i++)
            dedup_insert(d, hash_of(b + i), b + i);
        dedup_settle(d, mark);
        assert_int_equal(dedup_mark(d), 3000);
        if (g % 3 == 0) { /* the second group's transaction fails */
            dedup_rollback(d);
            for (uint64_t k = b; k < b + 3000; k += 7)
                assert_int_equal(candidates(d, hash_of(k), k), 0);
        } else {
            dedup_settle(d, dedup_mark(d));
            next += 3000;
        }
        for (uint64_t k = a; k < b; k += 5)
            assert_int_equal(candidates(d, hash_of(k), k), 1);
        /* and a retry of the failed ids finds nothing to confuse them with */
        if (g % 3 == 0) {
            assert_int_equal(dedup_reserve(d, 3000), 0);
            for (int i = 0; i < 3000; i++, next++)
                dedup_insert(d, hash_of(next), next);
            dedup_settle(d, dedup_mark(d));
        }
    }
    for (uint64_t k = 1; k < next; k++)
        assert_int_equal(candidates(d, hash_of(k), k), 1);
    assert_int_equal(dedup_size(d), next - 1);
    dedup_destroy(&d);
}

static void
test_dedup(void **state)
{
    dedup_t *d = dedup_new(0);
    assert_int_equal(dedup_reserve(d, 5001), 0);
    for (uint64_t i = 1; i <= 5000; i++)
        dedup_insert(d, i * 0x9E3779B97F4A7C15ull, i);
    dedup_insert(d, 2 * 0x9E3779B97F4A7C15ull, 9999); /* a colliding hash */
    dedup_settle(d, dedup_mark(d));
    dedup_iter_t it;
    assert_int_equal(dedup_first(d, 77 * 0x9E3779B97F4A7C15ull, &it), 77);
    assert_int_equal(dedup_next(d, &it), 0);
    uint64_t a = dedup_first(d, 2 * 0x9E3779B97F4A7C15ull, &it);
    uint64_t b = dedup_next(d, &it);
    assert_true((a == 2 && b == 9999) || (a == 9999 && b == 2));
    assert_int_equal(dedup_first(d, 12345, &it), 0);

    /* a rolled-back batch leaves no trace */
    assert_int_equal(dedup_reserve(d, 100000), 0);
    for (uint64_t i = 0; i < 100000; i++)
        dedup_insert(d, i * 31 + 5, 10000 + i);
    assert_int_equal(dedup_size(d), 105001);
    dedup_rollback(d);
    assert_int_equal(dedup_size(d), 5001);
    assert_int_equal(dedup_first(d, 5, &it), 0);
    for (uint64_t i = 1; i <= 5000; i++)
        assert_int_equal(dedup_first(d, i * 0x9E3779B97F4A7C15ull, &it) != 0, 1);
    dedup_destroy(&d);
    assert_null(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_reopen_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_names_altered_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_names_damaged_newest_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_without_a_log, setup, teardown),
        cmocka_unit_test(test_rc_names),
        cmocka_unit_test_setup_teardown(test_records_with_principals, setup, teardown),
        cmocka_unit_test(test_principal_hash_is_unambiguous),
        cmocka_unit_test_setup_teardown(test_map_full_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_in_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_chunk_refused, setup, teardown),
        cmocka_unit_test(test_dedup_settles_up_to_a_mark),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_dedup_grows_a_slice_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
