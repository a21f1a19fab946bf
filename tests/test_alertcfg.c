/*  Unit tests for projections/alertcfg's snapshot section: a silence
    saved and loaded back, a save whose packer cannot write reported as
    -1 (it used to return 0 over a truncated section), and a damaged
    section refused with a message. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "projections/alertcfg.h"

#include <msgpack.h>
#include <string.h>

static ev_str_t
str(const char *s)
{
    return (ev_str_t){s, (uint32_t)strlen(s)};
}

static alertcfg_t *
with_one_silence(void)
{
    alertcfg_t *cfg = alertcfg_new();
    assert_non_null(cfg);
    event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_ALERT_SILENCED;
    ev.present = 1ull << F_ALERT | 1ull << F_AUTHOR | 1ull << F_REASON;
    ev.v[F_ALERT].s = str("alert/behind/acme/");
    ev.v[F_AUTHOR].s = str("li");
    ev.v[F_REASON].s = str("quarter close");
    assert_int_equal(alertcfg_fold(cfg, 7, &ev), 0);
    return cfg;
}

static void
test_save_and_load(void **state)
{
    alertcfg_t *cfg = with_one_silence();
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    assert_int_equal(alertcfg_save(cfg, &pk), 0);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.size, &off), MSGPACK_UNPACK_SUCCESS);
    alertcfg_t *back = alertcfg_new();
    char err[128] = "";
    assert_int_equal(alertcfg_load(back, &u.data, err, sizeof err), 0);
    size_t n;
    const silence_t *s = alertcfg_silences(back, &n);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].alert, "alert/behind/acme/");
    assert_int_equal(s[0].seq, 7);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    alertcfg_destroy(&back);
    alertcfg_destroy(&cfg);
}

/* A writer that takes limit bytes, then fails as a full buffer would. */
typedef struct {
    size_t left;
} tight_t;

static int
tight_write(void *data, const char *buf, size_t len)
{
    tight_t *t = data;
    (void)buf;
    if (len > t->left)
        return -1;
    t->left -= len;
    return 0;
}

static void
test_save_reports_a_failed_write(void **state)
{
    alertcfg_t *cfg = with_one_silence();
    for (size_t limit = 0; limit < 16; limit++) {
        tight_t t = {limit};
        msgpack_packer pk;
        msgpack_packer_init(&pk, &t, tight_write);
        assert_int_equal(alertcfg_save(cfg, &pk), -1);
    }
    alertcfg_destroy(&cfg);
}

static void
test_damaged_section_refused(void **state)
{
    alertcfg_t *cfg = alertcfg_new();
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    char err[128] = "";
    assert_int_equal(alertcfg_load(cfg, &nil, err, sizeof err), -1);
    assert_string_equal(err, "alert settings section: damaged");
    alertcfg_destroy(&cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_and_load),
        cmocka_unit_test(test_save_reports_a_failed_write),
        cmocka_unit_test(test_damaged_section_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
