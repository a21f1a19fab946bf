"""`make deb` as a Debian admin meets it: the package CPack's DEB generator makes of this build
(cpack --config CPackConfig.cmake, into a temporary directory), inspected with dpkg-deb -I and
-c, unpacked with dpkg -x into a temporary root (never installed on this machine), and its
pacerd and pacer run from there. Its postinst, run with a stand-in systemctl on PATH, touches
systemd only when systemd is PID 1.

Environment (set by CMake): PACER_BIN_DIR, the build directory; CPACK, the cpack to run.
Exit status 77 (skipped) without dpkg-deb."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.environ.get("PACER_BIN_DIR", os.path.join(os.path.dirname(HERE), "build"))
CPACK = os.environ.get("CPACK") or shutil.which("cpack") or "cpack"

# What the package holds, under /usr (libdir: lib, or lib/<multiarch> in a /usr build).
CONTENTS = [r"usr/bin/pacerd", r"usr/bin/pacer", r"usr/lib(/[^/]+)?/libpacer\.so\.0\.1\.0",
            r"usr/lib(/[^/]+)?/libpacer\.so\.0", r"usr/lib(/[^/]+)?/libpacer\.so",
            r"usr/lib(/[^/]+)?/libpacer\.a", r"usr/include/libpacer\.h",
            r"usr/include/libpacer_alert\.h", r"usr/include/libpacer_sub\.h",
            r"usr/lib(/[^/]+)?/pkgconfig/libpacer\.pc",
            r"usr/lib(/[^/]+)?/cmake/pacer/pacerConfig\.cmake",
            r"usr/share/man/man1/pacer\.1(\.gz)?", r"usr/share/man/man8/pacerd\.8(\.gz)?",
            r"usr/lib/systemd/system/pacerd\.service",
            r"usr/share/bash-completion/completions/pacer"]


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                    r.stderr))
    return r.stdout


def systemd_is_pid1():
    try:
        with open("/proc/1/comm") as f:
            return f.read().strip() == "systemd" and os.path.isdir("/run/systemd/system")
    except OSError:
        return False


class Deb(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pacer-deb-")
        run([CPACK, "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
             "-B", cls.tmp])
        debs = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.tmp, debs[0])

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("PACER_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_control(self):
        self.assertRegex(os.path.basename(self.deb), r"^pacer_0\.1\.0_[a-z0-9]+\.deb$")
        info = run(["dpkg-deb", "-I", self.deb])
        self.assertRegex(info, r"(?m)^ Package: pacer$")
        self.assertRegex(info, r"(?m)^ Version: 0\.1\.0$")
        # dpkg-shlibdeps: the shared libraries the binaries link, by their Debian packages.
        depends = re.search(r"(?m)^ Depends: (.*)$", info).group(1)
        for pkg in ("libc6", "libzmq5", "libczmq4", "liblmdb0", "libmsgpackc2", "libsodium23",
                    "libsystemd0", "libmicrohttpd12"):
            self.assertRegex(depends, r"(^|, )%s( |,|$)" % pkg)
        for script in ("postinst", "prerm", "postrm"):
            self.assertRegex(info, r"(?m)^ +\d+ bytes, +\d+ lines +\* +%s " % script)

    def test_contents(self):
        listing = run(["dpkg-deb", "-c", self.deb])
        paths = [line.split()[5].lstrip("./") for line in listing.splitlines()]
        for pattern in CONTENTS:
            self.assertTrue(any(re.fullmatch(pattern, p) for p in paths), pattern)
        for line in listing.splitlines():
            self.assertEqual(line.split()[1], "root/root", line)

    def test_unpacked_runs(self):
        root = os.path.join(self.tmp, "root")
        run(["dpkg", "-x", self.deb, root])
        self.assertEqual(run([os.path.join(root, "usr/bin/pacerd"), "--version"]).strip(),
                         "pacerd 0.1.0")
        self.assertRegex(run([os.path.join(root, "usr/bin/pacer"), "--version"]),
                         r"^pacer 0\.1\.0 ")
        with open(os.path.join(root, "usr/lib/systemd/system/pacerd.service")) as f:
            self.assertRegex(f.read(), r"(?m)^ExecStart=/usr/bin/pacerd ")
        pc = run(["find", root, "-name", "libpacer.pc"]).split()[0]
        libs = run(["pkg-config", "--libs", "libpacer"],
                   env=dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pc)))
        self.assertIn("-lpacer", libs.split())

    def test_postinst_touches_systemd_only_as_pid1(self):
        control = os.path.join(self.tmp, "control")
        run(["dpkg-deb", "-e", self.deb, control])
        fake = os.path.join(self.tmp, "fakebin")
        os.makedirs(fake)
        calls = os.path.join(self.tmp, "systemctl-calls")
        with open(os.path.join(fake, "systemctl"), "w") as f:
            f.write('#!/bin/sh\necho "$@" >> %s\n' % calls)
        os.chmod(os.path.join(fake, "systemctl"), 0o755)
        env = dict(os.environ, PATH=fake + ":" + os.environ["PATH"])
        run(["sh", os.path.join(control, "postinst"), "configure", ""], env=env)
        run(["sh", os.path.join(control, "prerm"), "remove"], env=env)
        run(["sh", os.path.join(control, "postrm"), "remove"], env=env)
        if systemd_is_pid1():
            with open(calls) as f:
                self.assertIn("daemon-reload", f.read())
        else:
            self.assertFalse(os.path.exists(calls), "systemctl called without systemd as PID 1")


if __name__ == "__main__":
    if not shutil.which("dpkg-deb"):
        print("skipped: dpkg-deb is missing (dpkg)", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
