/*  cli_alert: what the alert commands of the pacer command line share. */

#include "clients/cli_alert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/cli_json.h"
#include "clients/cli_request.h"
#include "clients/cli_time.h"

#define ALERT_TOPIC  "alert/"
#define ZONE_WAIT_MS 3000

void
cli_alert_prefix(const char *arg, char *out, size_t outlen)
{
    if (strncmp(arg, ALERT_TOPIC, strlen(ALERT_TOPIC)) == 0)
        snprintf(out, outlen, "%s", arg);
    else
        snprintf(out, outlen, "%s%s", ALERT_TOPIC, arg);
}

static void
set_zone(const char *zone)
{
    setenv("TZ", zone, 1);
    tzset();
}

void
cli_alert_use_zone(cli_options_t *common, const char *zone)
{
    if (zone) {
        set_zone(zone);
        return;
    }
    cli_options_t quick = *common;
    if (quick.timeout_ms > ZONE_WAIT_MS)
        quick.timeout_ms = ZONE_WAIT_MS;
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "status");
    /* Quietly: a daemon that does not answer or says no zone leaves the
       machine's own, and the printed offsets keep every time unambiguous. */
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    bool packed = cli_map_finish(&request, &body);
    cli_map_destroy(&request);
    pacer_client_t *client = packed ? pacer_client_new(NULL, quick.query) : NULL;
    pacer_reply_t *reply = NULL;
    if (client) {
        pacer_client_set_timeout(client, quick.timeout_ms);
        if (pacer_request(client, PACER_ENDPOINT_QUERY, body.data, body.size, &reply) == PACER_OK) {
            msgpack_unpacked unpacked;
            msgpack_unpacked_init(&unpacked);
            size_t off = 0;
            char name[128];
            if (msgpack_unpack_next(&unpacked, (const char *)pacer_reply_data(reply),
                                    pacer_reply_size(reply), &off) == MSGPACK_UNPACK_SUCCESS &&
                cli_reply_str(&unpacked.data, "time_zone", name, sizeof name) && name[0])
                set_zone(name);
            msgpack_unpacked_destroy(&unpacked);
        }
    }
    pacer_reply_destroy(&reply);
    pacer_client_destroy(&client);
    msgpack_sbuffer_destroy(&body);
}

const char *
cli_alert_style(const pacer_alert_t *alert)
{
    if (strcmp(alert->state, "resolved") == 0)
        return "32";
    if (strcmp(alert->severity, "critical") == 0)
        return "31";
    if (strcmp(alert->severity, "warning") == 0)
        return "33";
    return NULL;
}

void
cli_alert_format(const pacer_alert_t *alert, bool colour, char *out, size_t outlen)
{
    char when[64];
    cli_time_format(alert->at, when, sizeof when);
    const char *style = colour ? cli_alert_style(alert) : NULL;
    char middle[64], number[32];
    snprintf(middle, sizeof middle, "%-8s  %-8s", alert->state, alert->severity);
    /* Aligned up to #9999, and two spaces after it beyond. */
    snprintf(number, sizeof number, "#%" PRIu64, alert->aseq);
    snprintf(out, outlen, "%s  %-4s  %s%s%s%s%s  %s", when, number, style ? "\x1b[" : "",
             style ? style : "", style ? "m" : "", middle, style ? "\x1b[0m" : "", alert->summary);
}

json_t *
cli_alert_json(const pacer_alert_t *alert, bool with_text, char *err, size_t errlen)
{
    json_t *json = cli_msgpack_bytes_to_json(alert->raw, alert->raw_len, NULL, err, errlen);
    if (json && with_text && json_object_set_new(json, "text", json_string(alert->summary)) != 0) {
        json_decref(json);
        snprintf(err, errlen, "the summary is not valid UTF-8");
        return NULL;
    }
    return json;
}

bool
cli_alert_print(cli_options_t *common, const pacer_alert_t *alert, bool json, bool colour)
{
    if (json) {
        char err[256];
        json_t *object = cli_alert_json(alert, false, err, sizeof err);
        char *text = object ? cli_json_dumps(object) : NULL;
        json_decref(object);
        if (!text) {
            cli_options_error(common, "alert %" PRIu64 " has no JSON form: %s", alert->aseq,
                              object ? "out of memory" : err);
            return false;
        }
        puts(text);
        free(text);
    } else {
        char line[8192];
        cli_alert_format(alert, colour, line, sizeof line);
        puts(line);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_options_error(common, "cannot write the output");
        return false;
    }
    return true;
}
