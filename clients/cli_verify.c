/*  cli_verify: `pacer verify --state-dir DIR`, walk the log's hash chain.

    Runs store_verify (daemon/store_verify.h) on the state directory directly, not
    through pacerd: verification must not trust the process whose output it
    checks, and works on a copy of a state directory with no daemon at all.
    A running pacerd may keep appending; the check covers the records that
    existed when it began, and the hash printed is that of the last one
    checked. */

#include "clients/cli_commands.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "daemon/store_log.h"
#include "daemon/store_verify.h"

static void
verify_usage(FILE *out)
{
    fputs(
        "usage: pacer verify --state-dir DIR [--json]\n"
        "\n"
        "Check that every record of the log in DIR decodes and that the hash chain is\n"
        "intact. Prints \"ok: N records, chain intact, last hash H\" and exits 0, or\n"
        "\"corrupt at seq N: <reason>\" and exits 1; 2 when DIR cannot be read.\n"
        "\n"
        "  --state-dir DIR pacerd's state directory\n"
        "  --json          one JSON object: {\"ok\":true,\"records\":N,\"last_hash\":\"hex\"}\n"
        "                  or {\"ok\":false,\"records\":N,\"corrupt_at\":SEQ,\"reason\":\"...\"}\n"
        "                  (records: those checked and found good)\n"
        "\n" CLI_OPTIONS_COMMON_HELP,
        out);
}

/* The hash of record `seq` (32 zero bytes for seq 0), read from a fresh
   read-only snapshot. */
static int
verify_hash_of(const char *dir, uint64_t seq, uint8_t hash[STORE_HASH_BYTES], char *err,
               size_t errlen)
{
    memset(hash, 0, STORE_HASH_BYTES);
    if (seq == 0)
        return STORE_OK;
    store_options_t options = {.map_size = 0, .exclusive = false, .read_only = true};
    store_t *store = store_open(dir, &options, err, errlen);
    if (!store)
        return STORE_ERROR;
    int rc = STORE_ERROR;
    store_reader_t *reader = store_read_begin(store, err, errlen);
    if (reader) {
        store_record_t record;
        rc = store_reader_get(reader, seq, &record, err, errlen);
        if (rc == STORE_OK)
            memcpy(hash, record.hash, STORE_HASH_BYTES);
        store_read_end(&reader);
    }
    store_destroy(&store);
    return rc;
}

/* The outcome as one JSON object; the exit status verify's text has. */
static int
verify_print_json(cli_options_t *common, bool ok, uint64_t records, uint64_t bad_seq,
                  const char *reason, const char *hex)
{
    json_t *o = json_pack("{s:b, s:I}", "ok", ok, "records", (json_int_t)records);
    if (o && ok && hex)
        json_object_set_new(o, "last_hash", json_string(hex));
    if (o && !ok) {
        json_object_set_new(o, "corrupt_at", json_integer((json_int_t)bad_seq));
        json_object_set_new(o, "reason", json_string(reason));
    }
    char *text = o ? cli_json_dumps(o) : NULL;
    json_decref(o);
    if (!text) {
        cli_options_error(common, "cannot build the JSON (out of memory)");
        return CLI_EXIT_FAILED;
    }
    puts(text);
    free(text);
    return ok ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
}

int
cli_verify_main(int argc, char **argv)
{
    enum { OPT_STATE_DIR = CLI_OPT_FIRST_OWN, OPT_JSON };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "verify");
    const char *dir = NULL;
    bool json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        if (handled == 0 && opt == OPT_STATE_DIR)
            dir = optarg;
        else if (handled == 0 && opt == OPT_JSON)
            json = true;
        else if (handled <= 0)
            return cli_options_try_help(&common);
    }
    int status = cli_options_end(&common, argc, argv, verify_usage);
    if (status >= 0)
        return status;
    if (!dir) {
        cli_options_error(&common, "--state-dir DIR is required");
        return CLI_EXIT_FAILED;
    }

    uint64_t checked = 0, bad_seq = 0;
    char err[512] = "";
    int rc = store_verify(dir, &checked, &bad_seq, err, sizeof err);
    if (rc == STORE_CORRUPT) {
        if (json)
            return verify_print_json(&common, false, checked, bad_seq, err, NULL);
        printf("corrupt at seq %" PRIu64 ": %s\n", bad_seq, err);
        return CLI_EXIT_REJECTED;
    }
    if (rc != STORE_OK) {
        cli_options_error(&common, "%s", err[0] ? err : "cannot verify the state directory");
        return CLI_EXIT_FAILED;
    }
    uint8_t hash[STORE_HASH_BYTES];
    char hex[2 * STORE_HASH_BYTES + 1];
    if (verify_hash_of(dir, checked, hash, err, sizeof err) != STORE_OK) {
        cli_options_error(&common, "could not read the last hash back: %s", err);
        if (json)
            return verify_print_json(&common, true, checked, 0, NULL, NULL);
        printf("ok: %" PRIu64 " records, chain intact\n", checked);
        return CLI_EXIT_OK;
    }
    cli_json_hex(hash, STORE_HASH_BYTES, hex);
    if (json)
        return verify_print_json(&common, true, checked, 0, NULL, hex);
    printf("ok: %" PRIu64 " records, chain intact, last hash %s\n", checked, hex);
    return CLI_EXIT_OK;
}
