/*  cli_backup: `pacer backup DIR`, a consistent compacted copy of pacerd's
    state while it runs (daemon/backup.h says how).

    The copy is taken here, in the CLI's process, from a read-only LMDB
    open of the state directory, not by pacerd: it works the same with
    pacerd stopped, never waits for or slows the writer beyond what any
    reader does, and needs no new operation on the wire. So it runs on the
    machine that holds the state directory, as a user who may read it
    (under the systemd unit, root or the service's user). Without
    --state-dir, the directory is the one pacerd's `status` names. */

#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/libpacer.h"
#include "daemon/backup.h"

static void
backup_usage(FILE *out)
{
    fputs("usage: pacer backup DIR [--state-dir SRC] [--json]\n"
          "\n"
          "Copy pacerd's state (the log, its id index, the projection snapshots and the\n"
          "alert outbox) into DIR, a new or empty directory, as one consistent,\n"
          "compacted LMDB file DIR/data.mdb, while pacerd runs and appends. Run it where\n"
          "the state directory is, as a user who may read it. Prints the seq and hash\n"
          "of the copy's last event. To restore: stop pacerd and start it with\n"
          "--state-dir DIR (or copy DIR/data.mdb into an empty state directory);\n"
          "`pacer verify --state-dir DIR` checks the copy's hash chain.\n"
          "\n"
          "  --state-dir SRC the state directory to copy (default: the one pacerd's\n"
          "                  status names, asked on --query)\n"
          "  --json          one JSON object instead of text\n"
          "\n" CLI_OPTIONS_COMMON_HELP,
          out);
}

/* The state directory pacerd reports. */
static int
ask_state_dir(cli_options_t *common, char *dir, size_t len)
{
    pacer_client_t *client = cli_options_client(common, NULL, common->query);
    if (!client)
        return -1;
    pacer_status_t status;
    int rc = pacer_status(client, &status);
    if (rc != PACER_OK)
        cli_options_error(common, "asking pacerd for its state directory: %s",
                          pacer_client_error(client));
    pacer_client_destroy(&client);
    if (rc != PACER_OK)
        return -1;
    if (status.state_dir[0] != '/') {
        cli_options_error(common,
                          "pacerd names its state directory \"%s\", relative to its own "
                          "working directory: pass --state-dir",
                          status.state_dir);
        return -1;
    }
    snprintf(dir, len, "%s", status.state_dir);
    return 0;
}

static int
print_result(const char *src, const char *dest, const backup_result_t *r, double seconds,
             bool as_json)
{
    char hex[2 * STORE_HASH_BYTES + 1];
    cli_json_hex(r->last_hash, STORE_HASH_BYTES, hex);
    if (!as_json) {
        printf("backup of %s in %s: %" PRIu64 " events, last hash %s; %.1f MiB (source "
               "%.1f MiB) in %.2f s\n",
               src, dest, r->last_seq, hex, (double)r->bytes / 1048576.0,
               (double)r->source_bytes / 1048576.0, seconds);
        return CLI_EXIT_OK;
    }
    json_t *json = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:f}", "state_dir", src, "backup",
                             dest, "last_seq", (json_int_t)r->last_seq, "last_hash", hex, "bytes",
                             (json_int_t)r->bytes, "source_bytes", (json_int_t)r->source_bytes,
                             "seconds", seconds);
    char *text = json ? cli_json_dumps(json) : NULL;
    json_decref(json);
    if (!text) {
        fputs("pacer backup: cannot build the JSON\n", stderr);
        return CLI_EXIT_FAILED;
    }
    puts(text);
    free(text);
    return CLI_EXIT_OK;
}

int
cli_backup_main(int argc, char **argv)
{
    enum { OPT_STATE_DIR = CLI_OPT_FIRST_OWN, OPT_JSON };
    static const struct option options[] = {
        CLI_OPTIONS_COMMON,
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    cli_options_t common;
    cli_options_init(&common, "backup");
    const char *src = NULL;
    bool as_json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int handled = cli_options_handle(&common, opt, optarg);
        if (handled == 0 && opt == OPT_STATE_DIR)
            src = optarg;
        else if (handled == 0 && opt == OPT_JSON)
            as_json = true;
        else if (handled <= 0)
            return cli_options_try_help(&common);
    }
    if (common.help) {
        backup_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (optind + 1 != argc) {
        cli_options_error(&common,
                          optind < argc ? "unexpected argument \"%s\""
                                        : "the backup directory DIR is required%s",
                          optind < argc ? argv[optind + 1] : "");
        return CLI_EXIT_FAILED;
    }
    const char *dest = argv[optind];
    char asked[4096];
    if (!src) {
        if (ask_state_dir(&common, asked, sizeof asked) != 0)
            return CLI_EXIT_FAILED;
        src = asked;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    backup_result_t result;
    char err[512] = "";
    if (backup_copy(src, dest, &result, err, sizeof err) != STORE_OK) {
        cli_options_error(&common, "%s", err);
        return CLI_EXIT_FAILED;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return print_result(src, dest, &result, seconds, as_json);
}
