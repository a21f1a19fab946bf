/*  cli_request: msgpack maps out, replies in, for the target and report commands. */

#include "clients/cli_request.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include <jansson.h>
#include <sodium.h>

#include "clients/cli_json.h"
#include "clients/cli_time.h"

void
cli_map_init(cli_map_t *self)
{
    msgpack_sbuffer_init(&self->fields);
    msgpack_packer_init(&self->pk, &self->fields, msgpack_sbuffer_write);
    self->keys = 0;
    self->failed = false;
}

void
cli_map_destroy(cli_map_t *self)
{
    msgpack_sbuffer_destroy(&self->fields);
}

msgpack_packer *
cli_map_key(cli_map_t *self, const char *key)
{
    size_t len = strlen(key);
    if (msgpack_pack_str(&self->pk, len) != 0 || msgpack_pack_str_body(&self->pk, key, len) != 0)
        self->failed = true;
    self->keys++;
    return &self->pk;
}

void
cli_map_str(cli_map_t *self, const char *key, const char *value)
{
    if (!value)
        return;
    msgpack_packer *pk = cli_map_key(self, key);
    size_t len = strlen(value);
    if (msgpack_pack_str(pk, len) != 0 || msgpack_pack_str_body(pk, value, len) != 0)
        self->failed = true;
}

void
cli_map_int(cli_map_t *self, const char *key, int64_t value)
{
    if (msgpack_pack_int64(cli_map_key(self, key), value) != 0)
        self->failed = true;
}

void
cli_map_bool(cli_map_t *self, const char *key, bool value)
{
    msgpack_packer *pk = cli_map_key(self, key);
    if ((value ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) != 0)
        self->failed = true;
}

bool
cli_map_finish(cli_map_t *self, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    return !self->failed && msgpack_pack_map(&pk, self->keys) == 0 &&
           msgpack_sbuffer_write(out, self->fields.data, self->fields.size) == 0;
}

int
cli_request_run(cli_options_t *common, pacer_endpoint_t endpoint, cli_map_t *request,
                cli_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    if (!cli_map_finish(request, &body)) {
        msgpack_sbuffer_destroy(&body);
        cli_options_error(common, "out of memory building the request");
        return CLI_EXIT_FAILED;
    }
    bool append = endpoint == PACER_ENDPOINT_APPEND;
    pacer_client_t *client =
        cli_options_client(common, append ? common->endpoint : NULL, append ? NULL : common->query);
    if (!client) {
        msgpack_sbuffer_destroy(&body);
        return CLI_EXIT_FAILED;
    }
    int rc = pacer_request(client, endpoint, body.data, body.size, &reply->raw);
    msgpack_sbuffer_destroy(&body);
    if (rc != PACER_OK) {
        cli_options_error(common, "%s", pacer_client_error(client));
        pacer_client_destroy(&client);
        return rc == PACER_EREFUSED ? CLI_EXIT_REJECTED : CLI_EXIT_FAILED;
    }
    pacer_client_destroy(&client);

    /* libpacer has checked the bytes are one map nested at most 32 deep. */
    msgpack_unpacked_init(&reply->unpacked);
    size_t off = 0;
    if (msgpack_unpack_next(&reply->unpacked, (const char *)pacer_reply_data(reply->raw),
                            pacer_reply_size(reply->raw), &off) != MSGPACK_UNPACK_SUCCESS) {
        cli_reply_done(reply);
        cli_options_error(common, "out of memory reading the reply");
        return CLI_EXIT_FAILED;
    }
    reply->body = &reply->unpacked.data;
    return CLI_EXIT_OK;
}

void
cli_reply_done(cli_reply_t *reply)
{
    if (reply->raw) {
        msgpack_unpacked_destroy(&reply->unpacked);
        pacer_reply_destroy(&reply->raw);
    }
    reply->body = NULL;
}

const msgpack_object *
cli_reply_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
            memcmp(kv->key.via.str.ptr, key, len) == 0)
            return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
    }
    return NULL;
}

bool
cli_reply_int(const msgpack_object *map, const char *key, int64_t *out)
{
    const msgpack_object *value = cli_reply_get(map, key);
    if (value && value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = value->via.i64;
        return true;
    }
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER && value->via.u64 <= INT64_MAX) {
        *out = (int64_t)value->via.u64;
        return true;
    }
    return false;
}

bool
cli_reply_double(const msgpack_object *map, const char *key, double *out)
{
    const msgpack_object *value = cli_reply_get(map, key);
    if (!value)
        return false;
    switch (value->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = value->via.f64;
        return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)value->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)value->via.i64;
        return true;
    default:
        return false;
    }
}

bool
cli_reply_bool(const msgpack_object *map, const char *key, bool *out)
{
    const msgpack_object *value = cli_reply_get(map, key);
    if (!value || value->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *out = value->via.boolean;
    return true;
}

bool
cli_reply_str(const msgpack_object *map, const char *key, char *out, size_t outlen)
{
    assert(outlen > 0);
    out[0] = '\0';
    const msgpack_object *value = cli_reply_get(map, key);
    if (!value || value->type != MSGPACK_OBJECT_STR)
        return false;
    size_t n = value->via.str.size < outlen - 1 ? value->via.str.size : outlen - 1;
    memcpy(out, value->via.str.ptr, n);
    out[n] = '\0';
    return true;
}

/* How long the zone lookup may wait for pacerd's status. */
#define ZONE_WAIT_MS 3000

void
cli_request_use_zone(cli_options_t *common)
{
    static bool done;
    if (done)
        return;
    done = true;
    if (common->time_zone) {
        cli_time_use_zone(common->time_zone);
        return;
    }
    cli_options_t quick = *common;
    if (quick.timeout_ms > ZONE_WAIT_MS)
        quick.timeout_ms = ZONE_WAIT_MS;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "status");
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    bool packed = cli_map_finish(&request, &body);
    cli_map_destroy(&request);
    pacer_client_t *client = packed ? pacer_client_new(NULL, quick.query) : NULL;
    pacer_reply_t *reply = NULL;
    if (client) {
        pacer_client_set_timeout(client, quick.timeout_ms);
        pacer_client_set_connect_timeout(client, quick.connect_timeout_ms);
        if (pacer_request(client, PACER_ENDPOINT_QUERY, body.data, body.size, &reply) == PACER_OK) {
            msgpack_unpacked unpacked;
            msgpack_unpacked_init(&unpacked);
            size_t off = 0;
            char name[128];
            if (msgpack_unpack_next(&unpacked, (const char *)pacer_reply_data(reply),
                                    pacer_reply_size(reply), &off) == MSGPACK_UNPACK_SUCCESS &&
                cli_reply_str(&unpacked.data, "time_zone", name, sizeof name) &&
                cli_time_zone_known(name))
                cli_time_use_zone(name);
            msgpack_unpacked_destroy(&unpacked);
        }
    }
    pacer_reply_destroy(&reply);
    pacer_client_destroy(&client);
    msgpack_sbuffer_destroy(&body);
}

int
cli_reply_print_json(cli_options_t *common, const msgpack_object *body)
{
    char err[256];
    json_t *json = cli_msgpack_to_json(body, NULL, err, sizeof err);
    if (!json) {
        cli_options_error(common, "the reply has no JSON form: %s", err);
        return CLI_EXIT_FAILED;
    }
    json_object_del(json, "v");
    json_object_del(json, "corr");
    json_object_del(json, "ok");
    char *text = cli_json_dumps(json);
    json_decref(json);
    if (!text) {
        cli_options_error(common, "out of memory printing the reply");
        return CLI_EXIT_FAILED;
    }
    puts(text);
    free(text);
    return CLI_EXIT_OK;
}

/* ---- one event ------------------------------------------------------------ */

static int
print_event_result(cli_options_t *common, const char *type, const char *id,
                   const pacer_event_result_t *result, bool json)
{
    if (json) {
        json_t *object =
            result->error
                ? json_pack("{s:s, s:s, s:s, s:s}", "type", type, "id", id, "error", result->error,
                            "message", result->message ? result->message : "")
                : json_pack("{s:s, s:s, s:I, s:b}", "type", type, "id", id, "seq",
                            (json_int_t)result->seq, "dup", result->dup);
        char *text = object ? cli_json_dumps(object) : NULL;
        json_decref(object);
        if (!text) {
            cli_options_error(common, "out of memory printing the result");
            return CLI_EXIT_FAILED;
        }
        puts(text);
        free(text);
    }
    if (result->error)
        cli_options_error(common, "refused: %s: %s", result->error,
                          result->message ? result->message : "");
    else if (!json && result->dup)
        printf("%s %s is already in the log as seq %" PRIu64 "; not appended again\n", type, id,
               result->seq);
    else if (!json)
        printf("%s %s appended as seq %" PRIu64 "\n", type, id, result->seq);
    return result->error ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
}

int
cli_event_append(cli_options_t *common, cli_map_t *event, const char *type, const char *id,
                 bool json)
{
    msgpack_sbuffer bytes;
    msgpack_sbuffer_init(&bytes);
    bool packed = cli_map_finish(event, &bytes);
    int status = CLI_EXIT_FAILED;
    pacer_client_t *client = NULL;
    pacer_batch_t *batch = pacer_batch_new();
    pacer_append_result_t *result = NULL;
    if (!packed || !batch)
        cli_options_error(common, "out of memory building the event");
    else if (pacer_batch_add_msgpack(batch, bytes.data, bytes.size) != PACER_OK)
        cli_options_error(common, "the event does not fit a batch");
    else if ((client = cli_options_client(common, common->endpoint, NULL))) {
        if (pacer_append(client, batch, &result) != PACER_OK) {
            cli_options_error(common, "%s", pacer_client_error(client));
            status = pacer_client_error_code(client)[0] ? CLI_EXIT_REJECTED : CLI_EXIT_FAILED;
        } else if (pacer_append_result_count(result) != 1)
            cli_options_error(common, "pacerd answered with %zu results for one event",
                              pacer_append_result_count(result));
        else
            status =
                print_event_result(common, type, id, pacer_append_result_event(result, 0), json);
    }
    pacer_append_result_destroy(&result);
    pacer_client_destroy(&client);
    pacer_batch_destroy(&batch);
    msgpack_sbuffer_destroy(&bytes);
    return status;
}

void
cli_event_id(const char *prefix, int64_t at, char *out, size_t outlen)
{
    uint8_t random[4];
    if (sodium_init() < 0) {
        /* Cannot happen on Linux; the clock alone still differs per run. */
        memset(random, 0, sizeof random);
    } else
        randombytes_buf(random, sizeof random);
    char hex[2 * sizeof random + 1];
    cli_json_hex(random, sizeof random, hex);
    snprintf(out, outlen, "%s:%" PRId64 ":%s", prefix, at, hex);
}

const char *
cli_event_author(void)
{
    static const char *const names[] = {"PACER_AUTHOR", "USER", "LOGNAME"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        if (value && value[0])
            return value;
    }
    return "cli";
}
