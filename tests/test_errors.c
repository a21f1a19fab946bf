/*  The error vocabularies against their contracts (docs/DESIGN.md,
    "Errors"): every code of wire_rc_t, ev_errcode_t and pq_rc_t has a name
    of its own from its one name function, and every name a client can
    see is in the document clients are written from: the request-level
    codes in docs/PROTOCOL.md's table, the event codes in docs/EVENTS.md's
    ("Validation errors"; aborted and internal in PROTOCOL.md), the query
    codes in PROTOCOL.md. A code added without its row fails here. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "clients/libpacer.h"
#include "events/schema.h"
#include "events/wire.h"
#include "projections/projection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/%s", PACER_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = 0;
    fclose(f);
    return text;
}

/* The name as a table row's first cell: "| `name` |". */
static void
assert_row(const char *doc, const char *docname, const char *name)
{
    char row[96];
    snprintf(row, sizeof row, "| `%s` |", name);
    if (!strstr(doc, row))
        fail_msg("%s has no row for the code %s", docname, name);
}

static void
assert_mentioned(const char *doc, const char *docname, const char *name)
{
    char quoted[96];
    snprintf(quoted, sizeof quoted, "`%s`", name);
    if (!strstr(doc, quoted))
        fail_msg("%s does not mention the code %s", docname, name);
}

static void
test_wire_codes(void **state)
{
    char *protocol = slurp("PROTOCOL.md");
    assert_string_equal(wire_rc_name(WIRE_OK), "ok");
    for (int rc = WIRE_OK + 1; rc <= WIRE_RC_LAST; rc++) {
        const char *name = wire_rc_name((wire_rc_t)rc);
        /* the fallback is "internal": only WIRE_INTERNAL may have it */
        if (rc != WIRE_INTERNAL)
            assert_string_not_equal(name, "internal");
        for (int other = WIRE_OK; other < rc; other++)
            assert_string_not_equal(name, wire_rc_name((wire_rc_t)other));
        assert_row(protocol, "PROTOCOL.md", name);
    }
    free(protocol);
}

static void
test_event_codes(void **state)
{
    char *events = slurp("EVENTS.md");
    char *protocol = slurp("PROTOCOL.md");
    assert_string_equal(ev_errcode_name(EVE_OK), "ok");
    for (int rc = EVE_OK + 1; rc <= EVE_INTERNAL; rc++) {
        const char *name = ev_errcode_name((ev_errcode_t)rc);
        if (rc != EVE_INTERNAL)
            assert_string_not_equal(name, "internal");
        for (int other = EVE_OK; other < rc; other++)
            assert_string_not_equal(name, ev_errcode_name((ev_errcode_t)other));
        /* aborted and internal are the batch's and the daemon's, not the
           event's: PROTOCOL.md lists them beside EVENTS.md's table */
        if (rc == EVE_ABORTED || rc == EVE_INTERNAL)
            assert_mentioned(protocol, "PROTOCOL.md", name);
        else
            assert_row(events, "EVENTS.md", name);
    }
    free(events);
    free(protocol);
}

static void
test_query_codes(void **state)
{
    char *protocol = slurp("PROTOCOL.md");
    const pq_rc_t codes[] = {PQ_BAD_REQUEST, PQ_NOT_FOUND, PQ_INVALID_VALUE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_mentioned(protocol, "PROTOCOL.md", pq_rc_name(codes[i]));
    /* a query's bad_request is the wire's: one name for one meaning */
    assert_string_equal(pq_rc_name(PQ_BAD_REQUEST), wire_rc_name(WIRE_BAD_REQUEST));
    free(protocol);
}

/* pacer_strerror names every pacer_rc_t, each differently. */
static void
test_client_codes(void **state)
{
    const char *unknown = pacer_strerror(1);
    for (int rc = PACER_OK; rc >= PACER_EAUTH; rc--) {
        assert_string_not_equal(pacer_strerror(rc), unknown);
        for (int other = PACER_OK; other > rc; other--)
            assert_string_not_equal(pacer_strerror(rc), pacer_strerror(other));
    }
    assert_string_equal(pacer_strerror(PACER_EAUTH - 1), unknown);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_codes),
        cmocka_unit_test(test_event_codes),
        cmocka_unit_test(test_query_codes),
        cmocka_unit_test(test_client_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
