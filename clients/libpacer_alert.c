/*  libpacer_alert: alert records, and the queries that read them.

    A record arrives as untrusted msgpack, either alone (an alert message's
    frame 1) or inside a reply's `alerts` array. mp_scan (events/wire.c)
    checks the bytes before msgpack-c unpacks them, as for every reply; then
    each record becomes one allocation: the pacer_alert_t, its notify array,
    its strings and its raw bytes, laid out by a first pass that measures
    and a second that copies. One free releases all of it, and a record can
    be handed to an application without a tree of small allocations.

    A record inside a reply has no bytes of its own in the reply buffer
    that msgpack-c tells us about, so its raw form is packed again from the
    unpacked object: the same map, keys in the same order, with msgpack-c's
    shortest encodings (which pacerd also uses). */

#include "clients/libpacer_alert.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "clients/libpacer_private.h"
#include "events/wire.h"

/* What the daemon answers when a request gives no limit. */
#define ALERTS_DEFAULT_LIMIT 1000

struct _pacer_alert_page_t {
    pacer_alert_t **alerts;
    size_t count;
    uint64_t next, last_aseq, total;
    uint64_t epoch; /* 0: the reply had none (a pacerd older than epochs) */
    bool at_end;
};

static int fail(char *err, size_t errlen, int rc, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int rc, const char *format, ...)
{
    if (err && errlen) {
        va_list args;
        va_start(args, format);
        vsnprintf(err, errlen, format, args);
        va_end(args);
    }
    return rc;
}

static const char *
type_name(const msgpack_object *object)
{
    switch (object->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "str";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_BIN:
        return "bin";
    case MSGPACK_OBJECT_EXT:
        return "ext";
    }
    return "unknown";
}

/* ---- one record ------------------------------------------------------------- */

/* The str fields of a record, where each goes in pacer_alert_t. */
static const struct {
    const char *key;
    size_t offset;
    bool required;
} str_fields[] = {
    {"key", offsetof(pacer_alert_t, key), true},
    {"topic", offsetof(pacer_alert_t, topic), true},
    {"rule", offsetof(pacer_alert_t, rule), true},
    {"state", offsetof(pacer_alert_t, state), true},
    {"severity", offsetof(pacer_alert_t, severity), true},
    {"summary", offsetof(pacer_alert_t, summary), true},
    {"scope", offsetof(pacer_alert_t, scope), false},
    {"path", offsetof(pacer_alert_t, path), false},
    {"metric", offsetof(pacer_alert_t, metric), false},
    {"period", offsetof(pacer_alert_t, period), false},
    {"product_line", offsetof(pacer_alert_t, product_line), false},
    {"owner", offsetof(pacer_alert_t, owner), false},
    {"silenced_by", offsetof(pacer_alert_t, silenced_by), false},
};

static const struct {
    const char *key;
    size_t offset;
    bool required;
} int_fields[] = {
    {"at", offsetof(pacer_alert_t, at), true},
    {"since", offsetof(pacer_alert_t, since), false},
    {"silenced_until", offsetof(pacer_alert_t, silenced_until), false},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool
get_int(const msgpack_object *value, int64_t *out)
{
    if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = value->via.i64;
        return true;
    }
    if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER && value->via.u64 <= INT64_MAX) {
        *out = (int64_t)value->via.u64;
        return true;
    }
    return false;
}

/* Check the record's fields and measure what its allocation needs besides
   the struct: the notify pointers and every string with its NUL. An entry
   of alerts_active (unpublished_ok) may have aseq 0: silenced since it
   started, it has no record yet. */
static int
record_check(const msgpack_object *record, bool unpublished_ok, size_t *strings, size_t *notify,
             char *err, size_t errlen)
{
    if (record->type != MSGPACK_OBJECT_MAP)
        return fail(err, errlen, PACER_EPROTOCOL, "an alert record is a %s, expected a map",
                    type_name(record));
    const msgpack_object *aseq = pacer_map_get(record, "aseq");
    if (!aseq || aseq->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        (aseq->via.u64 == 0 && !unpublished_ok))
        return fail(err, errlen, PACER_EPROTOCOL, "aseq: %s, expected an integer from %d",
                    aseq ? type_name(aseq) : "missing", unpublished_ok ? 0 : 1);
    uint64_t n = aseq->via.u64;
    *strings = 0;
    *notify = 0;
    for (size_t i = 0; i < COUNT(str_fields); i++) {
        const msgpack_object *value = pacer_map_get(record, str_fields[i].key);
        if (!value && str_fields[i].required)
            return fail(err, errlen, PACER_EPROTOCOL, "alert %" PRIu64 ": %s: missing", n,
                        str_fields[i].key);
        if (value && value->type != MSGPACK_OBJECT_STR)
            return fail(err, errlen, PACER_EPROTOCOL,
                        "alert %" PRIu64 ": %s: expected a str, got %s", n, str_fields[i].key,
                        type_name(value));
        if (value)
            *strings += value->via.str.size + 1;
    }
    for (size_t i = 0; i < COUNT(int_fields); i++) {
        const msgpack_object *value = pacer_map_get(record, int_fields[i].key);
        int64_t ignored;
        if (!value && int_fields[i].required)
            return fail(err, errlen, PACER_EPROTOCOL, "alert %" PRIu64 ": %s: missing", n,
                        int_fields[i].key);
        if (value && !get_int(value, &ignored))
            return fail(err, errlen, PACER_EPROTOCOL,
                        "alert %" PRIu64 ": %s: expected an int64, got %s", n, int_fields[i].key,
                        type_name(value));
    }
    const msgpack_object *log_seq = pacer_map_get(record, "log_seq");
    if (log_seq && log_seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fail(err, errlen, PACER_EPROTOCOL,
                    "alert %" PRIu64 ": log_seq: expected a non-negative integer, got %s", n,
                    type_name(log_seq));
    const msgpack_object *silenced = pacer_map_get(record, "silenced");
    if (silenced && silenced->type != MSGPACK_OBJECT_BOOLEAN)
        return fail(err, errlen, PACER_EPROTOCOL,
                    "alert %" PRIu64 ": silenced: expected a bool, got %s", n, type_name(silenced));
    const msgpack_object *who = pacer_map_get(record, "notify");
    if (who && who->type != MSGPACK_OBJECT_ARRAY)
        return fail(err, errlen, PACER_EPROTOCOL,
                    "alert %" PRIu64 ": notify: expected an array, got %s", n, type_name(who));
    for (uint32_t i = 0; who && i < who->via.array.size; i++) {
        const msgpack_object *person = &who->via.array.ptr[i];
        if (person->type != MSGPACK_OBJECT_STR)
            return fail(err, errlen, PACER_EPROTOCOL,
                        "alert %" PRIu64 ": notify[%" PRIu32 "]: expected a str, got %s", n, i,
                        type_name(person));
        *strings += person->via.str.size + 1;
        (*notify)++;
    }
    return PACER_OK;
}

static const char *
copy_str(char **cursor, const char *p, size_t n)
{
    char *out = *cursor;
    memcpy(out, p, n);
    out[n] = '\0';
    *cursor += n + 1;
    return out;
}

/* Build the record's allocation from its checked object and raw bytes. */
static int
record_build(const msgpack_object *record, bool unpublished_ok, const uint8_t *raw, size_t raw_len,
             pacer_alert_t **alert_p, char *err, size_t errlen)
{
    size_t strings = 0, notify = 0;
    int rc = record_check(record, unpublished_ok, &strings, &notify, err, errlen);
    if (rc != PACER_OK)
        return rc;
    /* struct | notify pointers | raw bytes | strings */
    size_t pointers = sizeof(pacer_alert_t) + notify * sizeof(char *);
    size_t total = pointers + raw_len + strings;
    char *block = calloc(1, total);
    if (!block)
        return fail(err, errlen, PACER_ENOMEM, "out of memory keeping an alert of %zu bytes",
                    raw_len);
    pacer_alert_t *alert = (pacer_alert_t *)block;
    const char **who = (const char **)(block + sizeof(pacer_alert_t));
    uint8_t *raw_copy = (uint8_t *)block + pointers;
    char *cursor = block + pointers + raw_len;

    alert->aseq = pacer_map_get(record, "aseq")->via.u64;
    for (size_t i = 0; i < COUNT(str_fields); i++) {
        const msgpack_object *value = pacer_map_get(record, str_fields[i].key);
        if (value)
            *(const char **)((char *)alert + str_fields[i].offset) =
                copy_str(&cursor, value->via.str.ptr, value->via.str.size);
    }
    for (size_t i = 0; i < COUNT(int_fields); i++) {
        const msgpack_object *value = pacer_map_get(record, int_fields[i].key);
        if (value)
            get_int(value, (int64_t *)((char *)alert + int_fields[i].offset));
    }
    const msgpack_object *log_seq = pacer_map_get(record, "log_seq");
    if (log_seq)
        alert->log_seq = log_seq->via.u64;
    const msgpack_object *silenced = pacer_map_get(record, "silenced");
    alert->silenced = silenced && silenced->via.boolean;
    const msgpack_object *people = pacer_map_get(record, "notify");
    for (uint32_t i = 0; people && i < people->via.array.size; i++)
        who[i] = copy_str(&cursor, people->via.array.ptr[i].via.str.ptr,
                          people->via.array.ptr[i].via.str.size);
    alert->notify = who;
    alert->notify_count = notify;
    memcpy(raw_copy, raw, raw_len);
    alert->raw = raw_copy;
    alert->raw_len = raw_len;
    assert(cursor == block + total);
    *alert_p = alert;
    return PACER_OK;
}

/* Check untrusted bytes and unpack them; the caller destroys *unpacked on
   PACER_OK. */
static int
unpack(const void *data, size_t len, msgpack_unpacked *unpacked, const char *what, char *err,
       size_t errlen)
{
    if (!mp_scan(data, len, PACER_MSGPACK_MAX_DEPTH))
        return fail(err, errlen, PACER_EPROTOCOL,
                    "%s is not exactly one well-formed msgpack value (truncated, trailing bytes, "
                    "a count larger than the bytes that follow, or nested deeper than %d)",
                    what, PACER_MSGPACK_MAX_DEPTH);
    msgpack_unpacked_init(unpacked);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(unpacked, data, len, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(unpacked);
        return ret == MSGPACK_UNPACK_NOMEM_ERROR
                   ? fail(err, errlen, PACER_ENOMEM, "out of memory unpacking %s", what)
                   : fail(err, errlen, PACER_EPROTOCOL, "%s does not unpack (msgpack-c error %d)",
                          what, (int)ret);
    }
    return PACER_OK;
}

static int
decode(const void *data, size_t len, bool unpublished_ok, pacer_alert_t **alert_p, char *err,
       size_t errlen)
{
    *alert_p = NULL;
    msgpack_unpacked unpacked;
    int rc = unpack(data, len, &unpacked, "the alert record", err, errlen);
    if (rc != PACER_OK)
        return rc;
    rc = record_build(&unpacked.data, unpublished_ok, data, len, alert_p, err, errlen);
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

int
pacer_alert_decode(const void *data, size_t len, pacer_alert_t **alert_p, char *err, size_t errlen)
{
    if (!data || !alert_p)
        return fail(err, errlen, PACER_EINVAL,
                    "pacer_alert_decode needs bytes and a place for "
                    "the alert");
    return decode(data, len, false, alert_p, err, errlen);
}

pacer_alert_t *
pacer_alert_dup(const pacer_alert_t *alert)
{
    assert(alert);
    /* raw decoded once already, so only memory can fail (an alerts_active
       entry with no record yet has aseq 0, which its page accepted) */
    pacer_alert_t *copy = NULL;
    if (decode(alert->raw, alert->raw_len, alert->aseq == 0, &copy, NULL, 0) != PACER_OK)
        return NULL;
    return copy;
}

void
pacer_alert_destroy(pacer_alert_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

bool
pacer_alert_matches(const pacer_alert_t *alert, const char *prefix)
{
    assert(alert && prefix);
    return strncmp(alert->topic, prefix, strlen(prefix)) == 0;
}

/* ---- pages ----------------------------------------------------------------- */

size_t
pacer_alert_page_count(pacer_alert_page_t *self)
{
    assert(self);
    return self->count;
}

const pacer_alert_t *
pacer_alert_page_get(pacer_alert_page_t *self, size_t index)
{
    assert(self);
    return index < self->count ? self->alerts[index] : NULL;
}

pacer_alert_t *
pacer_alert_page_take(pacer_alert_page_t *self, size_t index)
{
    assert(self);
    if (index >= self->count)
        return NULL;
    pacer_alert_t *alert = self->alerts[index];
    self->alerts[index] = NULL;
    return alert;
}

uint64_t
pacer_alert_page_next(pacer_alert_page_t *self)
{
    assert(self);
    return self->next;
}

uint64_t
pacer_alert_page_last_aseq(pacer_alert_page_t *self)
{
    assert(self);
    return self->last_aseq;
}

uint64_t
pacer_alert_page_total(pacer_alert_page_t *self)
{
    assert(self);
    return self->total;
}

uint64_t
pacer_alert_page_epoch(pacer_alert_page_t *self)
{
    assert(self);
    return self->epoch;
}

bool
pacer_alert_page_at_end(pacer_alert_page_t *self)
{
    assert(self);
    return self->at_end;
}

void
pacer_alert_page_destroy(pacer_alert_page_t **self_p)
{
    assert(self_p);
    pacer_alert_page_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free(self->alerts[i]);
    free(self->alerts);
    free(self);
    *self_p = NULL;
}

static int
reply_uint(const msgpack_object *body, const char *key, bool required, uint64_t *out, char *err,
           size_t errlen)
{
    const msgpack_object *value = pacer_map_get(body, key);
    if (!value)
        return required ? fail(err, errlen, PACER_EPROTOCOL, "%s: missing", key) : PACER_OK;
    if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fail(err, errlen, PACER_EPROTOCOL, "%s: expected a non-negative integer, got %s",
                    key, type_name(value));
    *out = value->via.u64;
    return PACER_OK;
}

static int
page_decode_object(const msgpack_object *body, size_t limit, bool ordered, pacer_alert_page_t *page,
                   char *err, size_t errlen)
{
    if (body->type != MSGPACK_OBJECT_MAP)
        return fail(err, errlen, PACER_EPROTOCOL, "the reply is a %s, expected a map",
                    type_name(body));
    const msgpack_object *alerts = pacer_map_get(body, "alerts");
    if (!alerts || alerts->type != MSGPACK_OBJECT_ARRAY)
        return fail(err, errlen, PACER_EPROTOCOL, "alerts: expected an array, got %s",
                    alerts ? type_name(alerts) : "nothing");
    int rc = reply_uint(body, "last_aseq", true, &page->last_aseq, err, errlen);
    if (rc == PACER_OK)
        rc = reply_uint(body, "epoch", false, &page->epoch, err, errlen);
    if (rc == PACER_OK && ordered)
        rc = reply_uint(body, "next", true, &page->next, err, errlen);
    page->total = alerts->via.array.size;
    if (rc == PACER_OK && !ordered)
        rc = reply_uint(body, "total", false, &page->total, err, errlen);
    if (rc != PACER_OK)
        return rc;
    size_t count = alerts->via.array.size;
    page->alerts = calloc(count ? count : 1, sizeof *page->alerts);
    if (!page->alerts)
        return fail(err, errlen, PACER_ENOMEM, "out of memory decoding %zu alerts", count);

    msgpack_sbuffer raw;
    msgpack_sbuffer_init(&raw);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &raw, msgpack_sbuffer_write);
    for (size_t i = 0; i < count && rc == PACER_OK; i++) {
        const msgpack_object *record = &alerts->via.array.ptr[i];
        msgpack_sbuffer_clear(&raw);
        if (msgpack_pack_object(&pk, *record) != 0) {
            rc = fail(err, errlen, PACER_ENOMEM, "out of memory decoding %zu alerts", count);
            break;
        }
        char why[512];
        rc = record_build(record, !ordered, (const uint8_t *)raw.data, raw.size, &page->alerts[i],
                          why, sizeof why);
        if (rc != PACER_OK) {
            fail(err, errlen, rc, "alerts[%zu]: %s", i, why);
            break;
        }
        page->count = i + 1;
        if (ordered && i > 0 && page->alerts[i]->aseq <= page->alerts[i - 1]->aseq)
            rc = fail(err, errlen, PACER_EPROTOCOL,
                      "alerts[%zu]: aseq %" PRIu64 " after %" PRIu64 ", expected increasing", i,
                      page->alerts[i]->aseq, page->alerts[i - 1]->aseq);
    }
    msgpack_sbuffer_destroy(&raw);
    if (rc != PACER_OK)
        return rc;
    if (ordered && count > 0 && page->next <= page->alerts[count - 1]->aseq)
        return fail(err, errlen, PACER_EPROTOCOL,
                    "next %" PRIu64 " is not past the last alert returned (%" PRIu64 ")",
                    page->next, page->alerts[count - 1]->aseq);
    size_t asked = limit ? limit : ALERTS_DEFAULT_LIMIT;
    page->at_end = !ordered || (count < asked && page->next > page->last_aseq);
    return PACER_OK;
}

int
pacer_alert_page_decode(const void *data, size_t len, size_t limit, bool ordered,
                        pacer_alert_page_t **page_p, char *err, size_t errlen)
{
    if (!data || !page_p)
        return fail(err, errlen, PACER_EINVAL,
                    "pacer_alert_page_decode needs bytes and a "
                    "place for the page");
    *page_p = NULL;
    msgpack_unpacked unpacked;
    int rc = unpack(data, len, &unpacked, "the reply", err, errlen);
    if (rc != PACER_OK)
        return rc;
    pacer_alert_page_t *page = calloc(1, sizeof *page);
    if (!page)
        rc = fail(err, errlen, PACER_ENOMEM, "out of memory decoding alerts");
    else
        rc = page_decode_object(&unpacked.data, limit, ordered, page, err, errlen);
    msgpack_unpacked_destroy(&unpacked);
    if (rc != PACER_OK)
        pacer_alert_page_destroy(&page);
    *page_p = page;
    return rc;
}

/* ---- queries ----------------------------------------------------------------- */

static bool
pack_prefixes(msgpack_packer *pk, const char *const *prefixes, size_t count)
{
    if (!pacer_pack_str(pk, "prefix") || msgpack_pack_array(pk, count) != 0)
        return false;
    for (size_t i = 0; i < count; i++)
        if (!pacer_pack_str(pk, prefixes[i]))
            return false;
    return true;
}

/* Send `request` (a packed map) and decode the reply into a page. */
static int
alerts_request(pacer_client_t *client, msgpack_sbuffer *request, size_t limit, bool ordered,
               pacer_alert_page_t **page_p)
{
    pacer_reply_t *reply = NULL;
    int rc = pacer_request(client, PACER_ENDPOINT_QUERY, request->data, request->size, &reply);
    if (rc != PACER_OK)
        return rc;
    char err[768];
    rc = pacer_alert_page_decode(pacer_reply_data(reply), pacer_reply_size(reply), limit, ordered,
                                 page_p, err, sizeof err);
    pacer_reply_destroy(&reply);
    if (rc == PACER_EPROTOCOL)
        return pacer_client_malformed_query(client, err);
    if (rc != PACER_OK)
        return pacer_client_fail_with(client, rc, err);
    return PACER_OK;
}

static int
check_prefixes(pacer_client_t *client, const char *const *prefixes, size_t count)
{
    if (count > PACER_ALERTS_MAX_PREFIXES)
        return pacer_client_fail_with(client, PACER_EINVAL, "at most 64 prefixes in one query");
    for (size_t i = 0; i < count; i++)
        if (!prefixes || !prefixes[i])
            return pacer_client_fail_with(client, PACER_EINVAL, "a NULL prefix");
    return PACER_OK;
}

int
pacer_alerts(pacer_client_t *client, const pacer_alerts_query_t *query, pacer_alert_page_t **page_p)
{
    assert(client);
    if (!query || !page_p)
        return pacer_client_fail_with(client, PACER_EINVAL,
                                      "pacer_alerts needs a query and a place for the page");
    *page_p = NULL;
    int rc = check_prefixes(client, query->prefixes, query->prefix_count);
    if (rc != PACER_OK)
        return rc;
    size_t limit = query->limit > PACER_ALERTS_MAX_LIMIT ? PACER_ALERTS_MAX_LIMIT : query->limit;
    size_t keys = 2 + (query->to ? 1 : 0) + (query->prefix_count ? 1 : 0) + (limit ? 1 : 0);
    msgpack_sbuffer request;
    msgpack_sbuffer_init(&request);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &request, msgpack_sbuffer_write);
    bool packed =
        msgpack_pack_map(&pk, keys) == 0 && pacer_pack_str(&pk, "op") &&
        pacer_pack_str(&pk, "alerts") && pacer_pack_str(&pk, "from") &&
        msgpack_pack_uint64(&pk, query->from ? query->from : 1) == 0 &&
        (!query->to || (pacer_pack_str(&pk, "to") && msgpack_pack_uint64(&pk, query->to) == 0)) &&
        (!query->prefix_count || pack_prefixes(&pk, query->prefixes, query->prefix_count)) &&
        (!limit || (pacer_pack_str(&pk, "limit") && msgpack_pack_uint64(&pk, limit) == 0));
    rc = packed ? alerts_request(client, &request, limit, true, page_p)
                : pacer_client_fail_with(client, PACER_ENOMEM, "out of memory encoding a request");
    msgpack_sbuffer_destroy(&request);
    if (rc == PACER_OK && query->to && (*page_p)->next > query->to)
        (*page_p)->at_end = true;
    return rc;
}

int
pacer_alerts_active(pacer_client_t *client, const pacer_alerts_active_query_t *query,
                    pacer_alert_page_t **page_p)
{
    assert(client);
    if (!query || !page_p)
        return pacer_client_fail_with(client, PACER_EINVAL,
                                      "pacer_alerts_active needs a query and a place for the page");
    *page_p = NULL;
    int rc = check_prefixes(client, query->prefixes, query->prefix_count);
    if (rc != PACER_OK)
        return rc;
    size_t keys = 1 + (query->prefix_count ? 1 : 0) + (query->severity ? 1 : 0) +
                  (query->limit ? 1 : 0) + (query->now ? 1 : 0);
    msgpack_sbuffer request;
    msgpack_sbuffer_init(&request);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &request, msgpack_sbuffer_write);
    bool packed =
        msgpack_pack_map(&pk, keys) == 0 && pacer_pack_str(&pk, "op") &&
        pacer_pack_str(&pk, "alerts_active") &&
        (!query->prefix_count || pack_prefixes(&pk, query->prefixes, query->prefix_count)) &&
        (!query->severity ||
         (pacer_pack_str(&pk, "severity") && pacer_pack_str(&pk, query->severity))) &&
        (!query->limit ||
         (pacer_pack_str(&pk, "limit") && msgpack_pack_uint64(&pk, query->limit) == 0)) &&
        (!query->now || (pacer_pack_str(&pk, "now") && msgpack_pack_int64(&pk, query->now) == 0));
    rc = packed ? alerts_request(client, &request, query->limit, false, page_p)
                : pacer_client_fail_with(client, PACER_ENOMEM, "out of memory encoding a request");
    msgpack_sbuffer_destroy(&request);
    return rc;
}
