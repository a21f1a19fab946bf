"""systemd/pacerd.service: `systemd-analyze verify` passes, and the unit keeps the promises the
deployment relies on (dedicated user, state directory, SIGTERM with a stop timeout, hardening).

verify needs ExecStart's binary to exist, so it runs on a copy whose ExecStart points at the
built pacerd (or /bin/true when pacerd is not built). Skipped only when systemd-analyze is not
installed."""

import os
import re
import shutil
import subprocess
import unittest

import pacertest as pt

UNIT = os.path.join(os.path.dirname(pt.HERE), "systemd", "pacerd.service")


def directives(text):
    """{(section, key): [values]} of a unit file."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        m = re.match(r"\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out


class SystemdUnit(unittest.TestCase):

    def setUp(self):
        with open(UNIT, encoding="utf-8") as f:
            self.text = f.read()
        self.d = directives(self.text)

    def get(self, key, section="Service"):
        values = self.d.get((section, key))
        self.assertTrue(values, "%s= missing from [%s]" % (key, section))
        return values[-1]

    def test_systemd_analyze_verify(self):
        tool = shutil.which("systemd-analyze")
        if not tool:
            self.skipTest("systemd-analyze is not installed (apt-get install systemd)")
        binary = pt.PACERD if os.access(pt.PACERD, os.X_OK) else "/bin/true"
        tmp = pt.make_temp_dir("unit")
        copy = os.path.join(tmp, "pacerd.service")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(self.text.replace("/usr/local/bin/pacerd", binary))
        r = subprocess.run([tool, "verify", copy], capture_output=True, text=True, timeout=120,
                           cwd=tmp)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn("pacerd.service", out, "verify complained:\n" + out)

    def test_exec_start(self):
        self.assertEqual(self.get("Type"), "simple")
        argv = self.get("ExecStart").split()
        self.assertEqual(argv[0], "/usr/local/bin/pacerd")
        self.assertEqual(argv[argv.index("--state-dir") + 1], "/var/lib/pacer")

    def test_user_state_and_lifecycle(self):
        self.assertTrue(self.get("DynamicUser") == "yes" or self.d.get(("Service", "User")))
        self.assertEqual(self.get("StateDirectory"), "pacer")
        self.assertEqual(self.get("KillSignal"), "SIGTERM")
        self.assertTrue(self.get("TimeoutStopSec"))
        self.assertIn(self.get("Restart"), ("on-failure", "always", "on-abnormal"))
        self.assertTrue(self.get("LimitNOFILE"))
        self.assertEqual(self.get("WantedBy", "Install"), "multi-user.target")

    def test_hardening(self):
        for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("PrivateDevices", "yes"), ("ProtectKernelTunables", "yes"),
                           ("ProtectKernelModules", "yes"), ("ProtectKernelLogs", "yes"),
                           ("ProtectControlGroups", "yes"), ("RestrictNamespaces", "yes"),
                           ("LockPersonality", "yes"), ("MemoryDenyWriteExecute", "yes"),
                           ("CapabilityBoundingSet", ""),
                           ("SystemCallFilter", "@system-service")]:
            with self.subTest(key=key):
                self.assertEqual(self.d.get(("Service", key), [None])[0], value)
        self.assertEqual(set(self.get("RestrictAddressFamilies").split()),
                         {"AF_INET", "AF_INET6", "AF_UNIX"})


if __name__ == "__main__":
    pt.main()
