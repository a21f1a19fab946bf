/*  cli_keygen: `pacer keygen [--out FILE]`, a CURVE key pair for pacerd or
    a client (docs/PROTOCOL.md, "Authentication").

    The pair is czmq's zcert, saved in its certificate format: FILE holds
    the public key, FILE_secret both keys and is made readable by its owner
    only. pacerd's --server-key, libpacer's key files and the CLI's --key
    read that format (zcert_load tries FILE_secret first, so FILE names the
    pair either way). Without --out the secret certificate goes to stdout,
    for `pacer keygen > me.key`, and the public key to stderr. Nothing here
    talks to pacerd. */

#include "clients/cli_commands.h"

#include <czmq.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"

static void
keygen_usage(FILE *out)
{
    fputs("usage: pacer keygen [--out FILE] [--name NAME] [--force] [--json]\n"
          "\n"
          "Make a CURVE key pair, for pacerd (--server-key) or a client (--key), in\n"
          "czmq's certificate format. With --out, FILE gets the public key (hand it to\n"
          "whoever needs it) and FILE_secret both keys, readable by you alone; without,\n"
          "the secret certificate goes to stdout and the public key to stderr. Then list\n"
          "a client's public key in pacerd's keys file with its role:\n"
          "  <public key> producer|reader|admin [name]\n"
          "\n"
          "  --out FILE      write FILE and FILE_secret (refused if either exists)\n"
          "  --name NAME     a name recorded in the certificate's metadata\n"
          "  --force         overwrite FILE and FILE_secret\n"
          "  --json          print {\"public_key\", \"public_file\", \"secret_file\"}\n"
          "  --help          show this help\n",
          out);
}

static bool
exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int
save_pair(zcert_t *cert, const char *out, bool force, char *secret, size_t secret_len)
{
    snprintf(secret, secret_len, "%s_secret", out);
    if (strlen(out) > 240) {
        fprintf(stderr, "pacer keygen: --out %s: path too long (at most 240 bytes)\n", out);
        return CLI_EXIT_FAILED;
    }
    if (!force && (exists(out) || exists(secret))) {
        fprintf(stderr, "pacer keygen: %s exists; pass --force to replace the key pair\n",
                exists(out) ? out : secret);
        return CLI_EXIT_FAILED;
    }
    /* the secret first: if it cannot be written, no public key is left
       behind for a pair that does not exist */
    if (zcert_save_secret(cert, secret) != 0 || chmod(secret, 0600) != 0 ||
        zcert_save_public(cert, out) != 0) {
        fprintf(stderr, "pacer keygen: cannot write %s: %s\n", exists(secret) ? out : secret,
                strerror(errno));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

int
cli_keygen_main(int argc, char **argv)
{
    enum { OPT_OUT = 0x100, OPT_NAME, OPT_FORCE, OPT_JSON, OPT_HELP };
    static const struct option options[] = {
        {"out", required_argument, NULL, OPT_OUT}, {"name", required_argument, NULL, OPT_NAME},
        {"force", no_argument, NULL, OPT_FORCE},   {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},     {NULL, 0, NULL, 0}};
    const char *out = NULL, *name = NULL;
    bool force = false, json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_FORCE:
            force = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_HELP:
            keygen_usage(stdout);
            return CLI_EXIT_OK;
        default:
            fputs("Try 'pacer keygen --help'.\n", stderr);
            return CLI_EXIT_FAILED;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pacer keygen: unexpected argument \"%s\"\n", argv[optind]);
        return CLI_EXIT_FAILED;
    }
    if (!zmq_has("curve")) {
        fputs("pacer keygen: this libzmq was built without CURVE security\n", stderr);
        return CLI_EXIT_FAILED;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        fputs("pacer keygen: cannot make a key pair\n", stderr);
        return CLI_EXIT_FAILED;
    }
    if (name)
        zcert_set_meta(cert, "name", "%s", name);
    char secret[300] = "";
    int status = CLI_EXIT_OK;
    if (out)
        status = save_pair(cert, out, force, secret, sizeof secret);
    else if (zcert_save_secret(cert, "-") != 0) { /* zconfig: "-" is stdout */
        fputs("pacer keygen: cannot write to stdout\n", stderr);
        status = CLI_EXIT_FAILED;
    }
    if (status == CLI_EXIT_OK && json) {
        json_t *o = out ? json_pack("{s:s, s:s, s:s}", "public_key", zcert_public_txt(cert),
                                    "public_file", out, "secret_file", secret)
                        : json_pack("{s:s}", "public_key", zcert_public_txt(cert));
        char *text = o ? cli_json_dumps(o) : NULL;
        fprintf(out ? stdout : stderr, "%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
    } else if (status == CLI_EXIT_OK && out)
        printf("public key %s\n"
               "wrote %s (the public key) and %s (the pair: keep it private)\n",
               zcert_public_txt(cert), out, secret);
    else if (status == CLI_EXIT_OK)
        fprintf(stderr, "public key %s\n", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return status;
}
