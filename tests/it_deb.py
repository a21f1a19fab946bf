"""`make deb` as a Debian admin meets it: the three packages CPack's DEB generator makes (pacer,
libpacer0, libpacer-dev), made as `make deb` makes them (`make deb-packages`: a build of their
own with the prefix /usr, here the test build's deb-build/), checked with lintian (no error, no
warning; the overrides they carry are the ones listed below, each with its reason in
cmake/deb/), inspected with dpkg-deb -I and -c, unpacked with dpkg -x into a temporary root
(never installed on this machine), and pacerd and pacer run from there. pacer's maintainer
scripts, run with stand-ins for systemctl, deb-systemd-helper and deb-systemd-invoke on PATH,
enable the unit, and start, stop or reload systemd only where systemd runs.

Environment (set by CMake): PACER_BIN_DIR, the build directory.
Exit status 77 (skipped) without dpkg-deb."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
BUILD_DIR = os.environ.get("PACER_BIN_DIR", os.path.join(SOURCE_DIR, "build"))
DEB_BUILD = os.path.join(BUILD_DIR, "deb-build")
VERSION = "0.1.0"


def run(argv, timeout=120, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                    r.stderr))
    return r.stdout


MULTIARCH = run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).strip() \
    if shutil.which("dpkg-architecture") else ""
LIB = "usr/lib/" + MULTIARCH

# What each package holds (besides directories), and no package holds a file of another.
CONTENTS = {
    "pacer": ["usr/bin/pacerd", "usr/bin/pacer", "usr/share/man/man1/pacer.1.gz",
              "usr/share/man/man8/pacerd.8.gz", "usr/lib/systemd/system/pacerd.service",
              "usr/share/bash-completion/completions/pacer"],
    "libpacer0": [LIB + "/libpacer.so.0.1.0", LIB + "/libpacer.so.0",
                  "usr/share/lintian/overrides/libpacer0"],
    "libpacer-dev": [LIB + "/libpacer.so", LIB + "/libpacer.a", "usr/include/libpacer.h",
                     "usr/include/libpacer_alert.h", "usr/include/libpacer_sub.h",
                     LIB + "/pkgconfig/libpacer.pc", LIB + "/cmake/pacer/pacerConfig.cmake",
                     LIB + "/cmake/pacer/pacerConfigVersion.cmake",
                     LIB + "/cmake/pacer/pacerTargets.cmake"],
}
for _pkg in CONTENTS:
    CONTENTS[_pkg] += ["usr/share/doc/%s/copyright" % _pkg, "usr/share/doc/%s/changelog.gz" % _pkg]

# lintian's overrides, each explained where it is written (cmake/deb/<package>.lintian-overrides).
OVERRIDES = {"O: libpacer0: maintscript-calls-ldconfig [postinst]",
             "O: libpacer0: maintscript-calls-ldconfig [postrm]"}


def systemd_runs():
    # what the maintainer scripts test, as debhelper's do
    return os.path.isdir("/run/systemd/system")


class Deb(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pacer-deb-")
        # a make started by make test must not take the outer make's jobserver for its own
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        run(["make", "-C", SOURCE_DIR, "deb-packages", "DEB_BUILD=" + DEB_BUILD, "JOBS=2"],
            timeout=540, env=env)
        out = os.path.join(DEB_BUILD, "deb")
        cls.debs = {}
        for f in sorted(os.listdir(out)):
            if f.endswith(".deb"):
                cls.debs[f.split("_")[0]] = os.path.join(out, f)

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("PACER_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_packages(self):
        self.assertEqual(sorted(self.debs), ["libpacer-dev", "libpacer0", "pacer"])
        for name, deb in self.debs.items():
            self.assertRegex(os.path.basename(deb),
                             r"^%s_%s_[a-z0-9]+\.deb$" % (re.escape(name), re.escape(VERSION)))

    def control(self, name):
        info = run(["dpkg-deb", "-I", self.debs[name]])
        self.assertRegex(info, r"(?m)^ Package: %s$" % re.escape(name))
        self.assertRegex(info, r"(?m)^ Version: %s$" % re.escape(VERSION))
        depends = re.search(r"(?m)^ Depends: (.*)$", info).group(1)
        return info, depends

    def assert_depends(self, depends, pkgs):
        for pkg in pkgs:
            self.assertRegex(depends, r"(^|, )%s( |,|$)" % re.escape(pkg))

    def test_control_pacer(self):
        info, depends = self.control("pacer")
        # dpkg-shlibdeps: the shared libraries the binaries link, by their Debian packages
        self.assert_depends(depends, ["libc6", "libzmq5", "libczmq4", "liblmdb0", "libmsgpackc2",
                                      "libsodium23", "libsystemd0", "libmicrohttpd12"])
        self.assertRegex(info, r"(?m)^ Section: net$")
        for script in ("postinst", "prerm", "postrm"):
            self.assertRegex(info, r"(?m)^ +\d+ bytes, +\d+ lines +\* +%s " % script)

    def test_control_libpacer0(self):
        info, depends = self.control("libpacer0")
        self.assert_depends(depends, ["libc6", "libzmq5", "libmsgpackc2", "libsodium23"])
        control = os.path.join(self.tmp, "control-libpacer0")
        run(["dpkg-deb", "-e", self.debs["libpacer0"], control])
        # the soname's package, for dpkg-shlibdeps of programs linking libpacer
        with open(os.path.join(control, "shlibs")) as f:
            self.assertEqual(f.read().strip(), "libpacer 0 libpacer0 (>= %s)" % VERSION)
        with open(os.path.join(control, "triggers")) as f:
            self.assertIn("activate-noawait ldconfig", f.read().splitlines())

    def test_control_libpacer_dev(self):
        info, depends = self.control("libpacer-dev")
        # the exact library, and the -dev packages of libpacer.pc's Requires.private
        self.assert_depends(depends, ["libpacer0 (= %s)" % VERSION, "libzmq3-dev",
                                      "libmsgpack-dev", "libsodium-dev"])

    def test_contents(self):
        owner = {}
        for name, deb in self.debs.items():
            listing = run(["dpkg-deb", "-c", deb])
            for line in listing.splitlines():
                self.assertEqual(line.split()[1], "root/root", line)
            paths = [line.split()[5].lstrip("./") for line in listing.splitlines()
                     if not line.startswith("d")]
            for path in CONTENTS[name]:
                self.assertIn(path, paths, name)
            for path in paths:
                self.assertNotIn(path, owner, "%s in %s and %s" % (path, owner.get(path), name))
                owner[path] = name
                # GNUInstallDirs' multiarch libdir for a /usr build: no library in /usr/lib
                self.assertIsNone(re.fullmatch(r"usr/lib/[^/]*\.(so.*|a)", path), path)

    def test_lintian(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian is missing (make deps installs it)")
        r = subprocess.run(["lintian", "--show-overrides"] + sorted(self.debs.values()),
                           capture_output=True, text=True, timeout=300)
        tags = [line for line in r.stdout.splitlines() if re.match(r"^[EWO]: ", line)]
        # no error and no warning: what lintian reports is only the overrides, each explained
        self.assertEqual([t for t in tags if t[0] in "EW"], [], r.stdout)
        self.assertEqual(set(t for t in tags if t[0] == "O"), OVERRIDES, r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_unpacked_runs(self):
        root = os.path.join(self.tmp, "root")
        for deb in self.debs.values():
            run(["dpkg", "-x", deb, root])
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, LIB))
        self.assertEqual(run([os.path.join(root, "usr/bin/pacerd"), "--version"], env=env).strip(),
                         "pacerd %s" % VERSION)
        self.assertRegex(run([os.path.join(root, "usr/bin/pacer"), "--version"], env=env),
                         r"^pacer %s " % re.escape(VERSION))
        with open(os.path.join(root, "usr/lib/systemd/system/pacerd.service")) as f:
            self.assertRegex(f.read(), r"(?m)^ExecStart=/usr/bin/pacerd ")
        libs = run(["pkg-config", "--libs", "libpacer"],
                   env=dict(os.environ, PKG_CONFIG_PATH=os.path.join(root, LIB, "pkgconfig")))
        # libpacer.pc finds its prefix from where it lies: the unpacked root's multiarch libdir
        libdirs = [os.path.realpath(w[2:]) for w in libs.split() if w.startswith("-L")]
        self.assertEqual(libdirs, [os.path.realpath(os.path.join(root, LIB))])
        self.assertIn("-lpacer", libs.split())
        # the man pages, gzipped, still render
        if shutil.which("groff"):
            page = subprocess.run(["gzip", "-dc", os.path.join(root, "usr/share/man/man8/"
                                                               "pacerd.8.gz")],
                                  capture_output=True, check=True).stdout
            r = subprocess.run(["groff", "-ww", "-man", "-z"], input=page, capture_output=True)
            self.assertEqual((r.returncode, r.stderr), (0, b""))

    def test_maintainer_scripts(self):
        control = os.path.join(self.tmp, "control-pacer")
        run(["dpkg-deb", "-e", self.debs["pacer"], control])
        fake = os.path.join(self.tmp, "fakebin")
        os.makedirs(fake)
        calls = os.path.join(self.tmp, "calls")
        for tool in ("systemctl", "deb-systemd-helper", "deb-systemd-invoke"):
            with open(os.path.join(fake, tool), "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >> %s\n' % (tool, calls))
            os.chmod(os.path.join(fake, tool), 0o755)
        env = dict(os.environ, PATH=fake + ":" + os.environ["PATH"])

        def script(name, *args):
            if os.path.exists(calls):
                os.unlink(calls)
            run(["sh", "-e", os.path.join(control, name)] + list(args), env=env)
            if not os.path.exists(calls):
                return []
            with open(calls) as f:
                return f.read().splitlines()

        up = systemd_runs()
        # a first installation: enabled (its symlinks, systemd or not); started where it runs
        self.assertEqual(script("postinst", "configure", ""),
                         ["deb-systemd-helper unmask pacerd.service",
                          "deb-systemd-helper --quiet was-enabled pacerd.service",
                          "deb-systemd-helper enable pacerd.service"]
                         + (["systemctl --system daemon-reload",
                             "deb-systemd-invoke start pacerd.service"] if up else []))
        # an upgrade restarts it
        self.assertEqual(script("postinst", "configure", "0.0.9")[-1:],
                         ["deb-systemd-invoke restart pacerd.service"] if up
                         else ["deb-systemd-helper enable pacerd.service"])
        self.assertEqual(script("prerm", "remove"),
                         ["deb-systemd-invoke stop pacerd.service"] if up else [])
        self.assertEqual(script("postrm", "remove"),
                         (["systemctl --system daemon-reload"] if up else [])
                         + ["deb-systemd-helper mask pacerd.service"])
        self.assertEqual(script("postrm", "purge"),
                         ["deb-systemd-helper purge pacerd.service",
                          "deb-systemd-helper unmask pacerd.service"])


if __name__ == "__main__":
    if not shutil.which("dpkg-deb"):
        print("skipped: dpkg-deb is missing (dpkg)", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
