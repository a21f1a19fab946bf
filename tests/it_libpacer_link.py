"""libpacer as another project uses it: a small program compiled against the headers and linked
with libpacer.a (plus the libraries pkg-config names for libzmq, msgpack and libsodium) or with
-lpacer, both run against a real pacerd; and only the public API is visible from either library.

The public API is every pacer_* function the three installed headers declare: libpacer.so must
export exactly those (`nm -D --defined-only`), and libpacer.a must define no other global symbol,
so that an application with a function of its own named like one of libpacer's internals
(`mp_scan`, `event_decode`) still links, and still calls its own."""

import os
import re
import shutil
import subprocess

import pacertest as pt

SOURCE_DIR = os.path.dirname(pt.HERE)
HEADERS = [os.path.join(SOURCE_DIR, "clients", h)
           for h in ("libpacer.h", "libpacer_alert.h", "libpacer_sub.h")]
CC = os.environ.get("CC") or shutil.which("cc") or "gcc"
# Set by CMake in a sanitizer build: the library's code calls the sanitizers' runtime.
APP_CFLAGS = os.environ.get("PACER_APP_CFLAGS", "").split()

PROGRAM = r"""
#include <stdio.h>
#include <string.h>

#include "libpacer.h"
#include "libpacer_sub.h"

/* Names libpacer uses inside: the application's own must not clash with them. */
int mp_scan(void) { return 42; }
int event_decode(void) { return 43; }

int
main(int argc, char **argv)
{
    if (argc != 3)
        return 64;
    pacer_client_t *client = pacer_client_new(NULL, argv[1]);
    if (!client)
        return 3;
    pacer_status_t status;
    int rc = pacer_status(client, &status);
    if (rc != PACER_OK) {
        fprintf(stderr, "%s: %s\n", pacer_strerror(rc), pacer_client_error(client));
        return 1;
    }
    pacer_client_destroy(&client);
    pacer_sub_t *sub = pacer_sub_new(argv[2], argv[1]);
    if (!sub)
        return 4;
    pacer_sub_destroy(&sub);
    printf("pacerd %s, last seq %llu, %d %d\n", status.version,
           (unsigned long long)status.last_seq, mp_scan(), event_decode());
    return 0;
}
"""


def pkg_config_libs(*modules):
    r = subprocess.run(["pkg-config", "--libs"] + list(modules), capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("pkg-config --libs %s: %s" % (" ".join(modules), r.stderr))
    return r.stdout.split()


def public_functions():
    names = set()
    for path in HEADERS:
        with open(path, encoding="utf-8") as f:
            names.update(re.findall(r"\b(pacer_\w+)\s*\(", f.read()))
    return names


def defined_globals(nm_args):
    r = subprocess.run(["nm"] + nm_args, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("nm %s: %s" % (" ".join(nm_args), r.stderr))
    names = set()
    for line in r.stdout.splitlines():
        parts = line.split()
        # "address TYPE name": an upper-case type other than U is a defined global symbol
        if len(parts) == 3 and parts[1].isupper() and parts[1] != "U":
            names.add(parts[2].split("@")[0])
    return names


class LibpacerLink(pt.PacerTestCase):

    def setUp(self):
        self.dir = pt.make_temp_dir("link")
        self.source = os.path.join(self.dir, "app.c")
        with open(self.source, "w") as f:
            f.write(PROGRAM)

    def build(self, name, link_args):
        out = os.path.join(self.dir, name)
        argv = ([CC, "-std=c11", "-Wall", "-Werror"] + APP_CFLAGS
                + ["-I", os.path.join(SOURCE_DIR, "clients"), self.source, "-o", out] + link_args)
        r = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "%s\n%s" % (" ".join(argv), r.stderr))
        return out

    def run_against(self, program, d):
        r = subprocess.run([program, d.query_ep, d.publish_ep], capture_output=True, text=True,
                           timeout=pt.CLI_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^pacerd \S+, last seq 1, 42 43$")

    def test_static_and_shared_link_and_run(self):
        d = self.start_daemon()
        with d.client() as c:
            self.assertAppended(c.append([pt.sale_closed()]), 1)
        static = self.build("app-static", [os.path.join(pt.BIN_DIR, "libpacer.a")]
                            + pkg_config_libs("libzmq", "msgpack", "libsodium") + ["-lm"])
        shared = self.build("app-shared", ["-L" + pt.BIN_DIR, "-lpacer",
                                           "-Wl,-rpath," + pt.BIN_DIR])
        self.run_against(static, d)
        self.run_against(shared, d)
        needed = subprocess.run(["readelf", "-d", static], capture_output=True, text=True).stdout
        self.assertNotIn("libpacer", needed, "the static program needs libpacer.so")

    def test_only_the_public_api_is_visible(self):
        public = public_functions()
        self.assertGreater(len(public), 50)
        exported = defined_globals(["-D", "--defined-only",
                                    os.path.join(pt.BIN_DIR, "libpacer.so")])
        self.assertEqual(sorted(exported - public), [], "exported but not public")
        self.assertEqual(sorted(public - exported), [], "declared but not exported")
        archived = defined_globals([os.path.join(pt.BIN_DIR, "libpacer.a")])
        self.assertEqual(sorted(archived - public), [], "global in libpacer.a but not public")
        self.assertEqual(sorted(public - archived), [], "declared but not in libpacer.a")


if __name__ == "__main__":
    pt.main()
