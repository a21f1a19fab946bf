"""The install tree as another project uses it: `cmake --install` into a temporary prefix, then a
small program built against that prefix alone, once with pkg-config (libpacer.pc: the shared
library, and --static for libpacer.a with its Requires.private) and once as a CMake project with
find_package(pacer) (pacer::pacer and pacer::pacer_static). Each program runs: it calls
pacer_strerror and asks a port where no pacerd listens for its status, which fails within the
connect timeout, so the library is loaded and its dependencies resolve.

Also: the installed layout (GNUInstallDirs), the unit's ExecStart pointing at the installed
pacerd, bash completion of commands and options, and the installed man pages rendering without a
warning (groff -ww; skipped without groff).

Environment (set by CMake): PACER_BIN_DIR, the build directory; CMAKE, the cmake to install and
build with; CC, the compiler."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
BUILD_DIR = os.environ.get("PACER_BIN_DIR", os.path.join(SOURCE_DIR, "build"))
CMAKE = os.environ.get("CMAKE") or shutil.which("cmake") or "cmake"
CC = os.environ.get("CC") or shutil.which("cc") or "gcc"
APP_CFLAGS = os.environ.get("PACER_APP_CFLAGS", "").split()

PROGRAM = r"""
#include <stdio.h>
#include <string.h>

#include <libpacer.h>
#include <libpacer_sub.h>

int
main(int argc, char **argv)
{
    if (argc != 2)
        return 64;
    if (strcmp(pacer_strerror(PACER_OK), pacer_strerror(PACER_ETIMEOUT)) == 0)
        return 3;
    pacer_client_t *client = pacer_client_new(NULL, argv[1]);
    if (!client)
        return 4;
    pacer_client_set_connect_timeout(client, 200);
    pacer_status_t status;
    int rc = pacer_status(client, &status);
    printf("status: %s\n", pacer_strerror(rc));
    pacer_client_destroy(&client);
    return rc == PACER_OK ? 5 : 0;
}
"""

CMAKE_PROJECT = """
cmake_minimum_required(VERSION 3.18)
project(app LANGUAGES C)
find_package(pacer 0.1 REQUIRED)
add_executable(app-shared app.c)
target_link_libraries(app-shared PRIVATE pacer::pacer)
add_executable(app-static app.c)
target_link_libraries(app-static PRIVATE pacer::pacer_static)
"""


def run(argv, env=None, cwd=None, timeout=120):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                    r.stderr))
    return r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Install(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pacer-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run([CMAKE, "--install", BUILD_DIR, "--prefix", cls.prefix])
        # The layout is GNUInstallDirs': lib, or lib/<multiarch> for a /usr build.
        cls.libdir = os.path.dirname(os.path.dirname(
            run(["find", cls.prefix, "-name", "libpacer.pc"]).split()[0]))
        cls.app = os.path.join(cls.tmp, "app")
        os.makedirs(cls.app)
        with open(os.path.join(cls.app, "app.c"), "w") as f:
            f.write(PROGRAM)
        with open(os.path.join(cls.app, "CMakeLists.txt"), "w") as f:
            f.write(CMAKE_PROJECT)

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("PACER_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def env(self, **extra):
        env = dict(os.environ)
        # Only the temporary prefix: nothing of the build tree or /usr/local.
        env["PKG_CONFIG_PATH"] = os.path.join(self.libdir, "pkgconfig")
        env.update(extra)
        return env

    def run_app(self, program, env=None):
        out = run([program, "tcp://127.0.0.1:%d" % free_port()], env=env, timeout=30)
        self.assertRegex(out, r"^status: \S")
        needed = run(["readelf", "-d", program])
        return needed

    def test_layout(self):
        p = self.prefix
        for rel in ("bin/pacerd", "bin/pacer", "include/libpacer.h", "include/libpacer_alert.h",
                    "include/libpacer_sub.h", "share/man/man1/pacer.1.gz",
                    "share/man/man8/pacerd.8.gz",
                    "share/bash-completion/completions/pacer",
                    "lib/systemd/system/pacerd.service"):
            self.assertTrue(os.path.exists(os.path.join(p, rel)), rel)
        for rel in ("libpacer.so", "libpacer.so.0", "libpacer.a", "pkgconfig/libpacer.pc",
                    "cmake/pacer/pacerConfig.cmake", "cmake/pacer/pacerConfigVersion.cmake",
                    "cmake/pacer/pacerTargets.cmake"):
            self.assertTrue(os.path.exists(os.path.join(self.libdir, rel)), rel)
        # the Debian packages' copyright, changelog and lintian overrides are theirs alone
        self.assertFalse(os.path.exists(os.path.join(p, "share/doc")))
        self.assertFalse(os.path.exists(os.path.join(p, "share/lintian")))
        with open(os.path.join(p, "lib/systemd/system/pacerd.service")) as f:
            self.assertIn("\nExecStart=%s/bin/pacerd " % p, f.read())
        self.assertEqual(run([os.path.join(p, "bin/pacerd"), "--version"]).strip(),
                         "pacerd 0.1.0")

    def test_pkg_config(self):
        env = self.env()
        self.assertEqual(run(["pkg-config", "--modversion", "libpacer"], env=env).strip(), "0.1.0")
        cflags = run(["pkg-config", "--cflags", "libpacer"], env=env).split()
        libs = run(["pkg-config", "--libs", "libpacer"], env=env).split()
        static_libs = run(["pkg-config", "--static", "--libs", "libpacer"], env=env).split()
        for lib in ("-lzmq", "-lmsgpackc", "-lsodium", "-lm"):
            self.assertIn(lib, static_libs)
        src = os.path.join(self.app, "app.c")
        shared = os.path.join(self.tmp, "pc-shared")
        run([CC, "-std=c11", "-Wall", "-Werror"] + APP_CFLAGS + cflags + [src, "-o", shared]
            + libs)
        needed = self.run_app(shared, env=dict(os.environ, LD_LIBRARY_PATH=self.libdir))
        self.assertIn("libpacer.so.0", needed)
        # libpacer.a by its path (-lpacer takes the .so), and the libraries of its
        # Requires.private. Not `pkg-config --static --libs` whole: Debian 12's libzmq.pc then
        # names libprotokit.a (libnorm's), which no package ships.
        static = os.path.join(self.tmp, "pc-static")
        libdir = run(["pkg-config", "--variable=libdir", "libpacer"], env=env).strip()
        private = run(["pkg-config", "--print-requires-private", "libpacer"], env=env).split()
        self.assertEqual(private, ["libzmq", "msgpack", "libsodium"])
        deps = run(["pkg-config", "--libs"] + private, env=env).split()
        run([CC, "-std=c11", "-Wall", "-Werror"] + APP_CFLAGS + cflags + [src, "-o", static,
            os.path.join(libdir, "libpacer.a")] + deps + ["-lm"])
        self.assertNotIn("libpacer", self.run_app(static))

    def test_find_package(self):
        build = os.path.join(self.tmp, "app-build")
        env = self.env(CC=CC, CFLAGS=" ".join(APP_CFLAGS))
        run([CMAKE, "-S", self.app, "-B", build, "-DCMAKE_PREFIX_PATH=" + self.prefix], env=env)
        run([CMAKE, "--build", build], env=env)
        # The build tree's RPATH names the prefix's lib directory: no LD_LIBRARY_PATH.
        self.assertIn("libpacer.so.0", self.run_app(os.path.join(build, "app-shared")))
        self.assertNotIn("libpacer", self.run_app(os.path.join(build, "app-static")))

    def test_bash_completion(self):
        script = r"""
source "$1"
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _pacer
      echo "${COMPREPLY[*]}"; }
t pacer st
t pacer --query tcp://h:1 prog
t pacer target al
t pacer target set --cur
t pacer report --format ''
"""
        out = run(["bash", "-c", script, "bash",
                   os.path.join(self.prefix, "share/bash-completion/completions/pacer")],
                  env=dict(os.environ, PATH=os.path.join(self.prefix, "bin") + ":"
                           + os.environ["PATH"]))
        self.assertEqual(out.splitlines(), ["status", "progress", "allocate", "--currency",
                                            "html md csv json"])

    @unittest.skipUnless(shutil.which("groff"), "groff is missing (groff-base)")
    def test_man_pages_render_without_warnings(self):
        for page in ("man1/pacer.1.gz", "man8/pacerd.8.gz"):
            # installed gzipped (gzip -9n), as man-db reads them
            text = subprocess.run(["gzip", "-dc", os.path.join(self.prefix, "share/man", page)],
                                  capture_output=True, check=True).stdout
            r = subprocess.run(["groff", "-ww", "-man", "-z"], input=text, capture_output=True)
            self.assertEqual((r.returncode, r.stderr), (0, b""), page)


if __name__ == "__main__":
    unittest.main(verbosity=2)
