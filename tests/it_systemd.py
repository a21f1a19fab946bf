"""pacerd under systemd: the unit (systemd/pacerd.service) and the service protocol.

The unit: `systemd-analyze verify` passes on it as `cmake --install` installs it (into a
temporary prefix, ExecStart pointing at the installed pacerd), and it keeps the promises the
deployment relies on (Type=notify, watchdog, reload, dedicated user, state directory, SIGTERM
with a stop timeout, hardening). Skipped only when systemd-analyze is not installed.

The protocol, without systemd as PID 1: the test binds the datagram socket that NOTIFY_SOCKET
names and reads what pacerd sends (READY=1 once the replay is done, STATUS= lines before,
WATCHDOG=1 with WATCHDOG_USEC, RELOADING=1 on SIGHUP, STOPPING=1); JOURNAL_STREAM naming
pacerd's stderr gives every line a syslog priority prefix; a bad setting exits 2 before
anything is created on disk; SIGHUP re-reads the config file's log level."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
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

    def test_installed_with_the_binaries(self):
        """cmake --install puts the unit beside pacerd, ExecStart pointing at it; verify
        passes on the installed copy."""
        cmake = shutil.which("cmake")
        if not cmake or not os.path.exists(os.path.join(pt.BIN_DIR, "cmake_install.cmake")):
            self.skipTest("no cmake build directory at %s" % pt.BIN_DIR)
        prefix = os.path.join(pt.make_temp_dir("prefix"), "usr")
        r = subprocess.run([cmake, "--install", pt.BIN_DIR, "--prefix", prefix],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        unit = os.path.join(prefix, "lib", "systemd", "system", "pacerd.service")
        with open(unit, encoding="utf-8") as f:
            d = directives(f.read())
        argv = d[("Service", "ExecStart")][-1].split()
        self.assertEqual(argv[0], os.path.join(prefix, "bin", "pacerd"))
        self.assertTrue(os.access(argv[0], os.X_OK))
        tool = shutil.which("systemd-analyze")
        if tool:
            r = subprocess.run([tool, "verify", unit], capture_output=True, text=True,
                               timeout=120, cwd=prefix)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("pacerd.service", r.stdout + r.stderr)

    def test_exec_start(self):
        self.assertEqual(self.get("Type"), "notify")
        self.assertEqual(self.get("NotifyAccess"), "main")
        self.assertTrue(self.get("WatchdogSec"))
        self.assertIn("kill -HUP $MAINPID", self.get("ExecReload"))
        self.assertEqual(self.get("RestartPreventExitStatus"), "2")
        argv = self.get("ExecStart").split()
        self.assertEqual(argv[0], "/usr/local/bin/pacerd")
        self.assertEqual(argv[argv.index("--state-dir") + 1], "/var/lib/pacer")
        self.assertEqual(argv[argv.index("--metrics") + 1], "127.0.0.1:7703")

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


class NotifySocket:
    """The datagram socket NOTIFY_SOCKET names: what pacerd sends, one message per datagram,
    as (monotonic time, {key: value})."""

    def __init__(self):
        self.path = os.path.join(pt.make_temp_dir("notify"), "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def close(self):
        self.sock.close()

    def read(self, timeout):
        """Reads for up to timeout seconds; returns what arrived."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return got
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            got.append((time.monotonic(), fields))
            self.messages.append(fields)

    def wait_for(self, key, value=None, timeout=60):
        """Reads until a message has key (= value); returns the messages up to it."""
        got = []
        deadline = time.monotonic() + timeout * pt.TIMEOUT_SCALE
        while time.monotonic() < deadline:
            for t, m in self.read(min(0.5, deadline - time.monotonic())):
                got.append(m)
                if key in m and (value is None or m[key] == value):
                    return got
        raise AssertionError("no %s=%s within %.0f s; got %r" % (key, value, timeout, got))


class JournalDaemon(pt.Daemon):
    """A Daemon whose JOURNAL_STREAM names its log file, as systemd names the journal stream it
    connects to stderr; and without --log-level unless given, so that a config file sets it."""

    def __init__(self, journal=True, log_level_flag=True, **kw):
        super().__init__(**kw)
        self.journal = journal
        self.log_level_flag = log_level_flag

    def argv(self):
        argv = super().argv()
        if not self.log_level_flag:
            i = argv.index("--log-level")
            del argv[i:i + 2]
        return argv

    def spawn(self):
        self._starts += 1
        self.log_path = os.path.join(self.base, "pacerd.%d.log" % self._starts)
        self._log_file = open(self.log_path, "wb")
        env = dict(self.env or os.environ)
        if self.journal:
            st = os.fstat(self._log_file.fileno())
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        self.proc = subprocess.Popen(self.argv(), cwd=self.base, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     preexec_fn=pt._die_with_parent, env=env)
        self.returncode = None
        pt._live_daemons.add(self)
        return self


def run_pacerd(args, env=None, stderr_path=None):
    """pacerd with args to completion; (exit status, stderr text)."""
    if stderr_path:
        with open(stderr_path, "wb") as f:
            r = subprocess.run([pt.PACERD] + args, stdin=subprocess.DEVNULL, stdout=f,
                               stderr=subprocess.STDOUT, env=env, timeout=60)
        with open(stderr_path, encoding="utf-8") as f:
            return r.returncode, f.read()
    r = subprocess.run([pt.PACERD] + args, capture_output=True, text=True, env=env, timeout=60)
    return r.returncode, r.stderr


class ServiceProtocol(pt.PacerTestCase):

    def start(self, d):
        self._daemons.append(d)
        self.addCleanup(self._stop_at_end, d)
        d.start()
        return d

    def test_ready_after_replay_status_watchdog_reload_stopping(self):
        # A log with a tail to replay at the next start (no snapshot yet: it is written at
        # the clean stop, so kill the first daemon).
        d = self.start_daemon()
        with d.client() as c:
            for _ in range(5):
                expect = pt.expect_ok(c.append(pt.sales(200)))
        last_seq = expect["last_seq"]
        d.kill()

        notify = NotifySocket()
        self.addCleanup(notify.close)
        env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"}
        d2 = pt.Daemon(state_dir=d.state_dir, env=env)
        self._daemons.append(d2)
        self.addCleanup(self._stop_at_end, d2)
        d2.spawn()
        before = notify.wait_for("READY", "1")
        statuses = [m["STATUS"] for m in before if "STATUS" in m]
        self.assertTrue(any("replaying the log (%d events)" % last_seq in st for st in statuses),
                        statuses)
        self.assertTrue(statuses[0].startswith("opening the state directory"), statuses)
        ready = before[-1]
        self.assertIn("serving: %d events" % last_seq, ready.get("STATUS", ""))
        # Ready means replayed and serving: status answers at once, with the whole log.
        with d2.client("query", timeout=5) as q:
            st = pt.expect_ok(q.status())
        self.assertEqual(st["last_seq"], last_seq)
        self.assertIn("projection at seq %d" % last_seq, d2.log_text())

        # WATCHDOG_USEC=2 s: pings every half second while the writer turns.
        got = notify.read(1.6)
        pings = [t for t, m in got if m.get("WATCHDOG") == "1"]
        self.assertGreaterEqual(len(pings), 2, got)
        # ... also while it works.
        with d2.client() as c:
            for _ in range(3):
                pt.expect_ok(c.append(pt.sales(50)))

        d2.send_signal(signal.SIGHUP)
        after = notify.wait_for("READY", "1", timeout=30)
        self.assertTrue(any(m.get("RELOADING") == "1" for m in after), after)
        pt.wait_until(lambda: "reload:" in d2.log_text(), 30, "the reload's log line")

        self.stop_ok(d2)
        rest = notify.read(0.2)
        stopping = [m for m in notify.messages if m.get("STOPPING") == "1"]
        self.assertEqual(len(stopping), 1, notify.messages[-5:] + [m for _, m in rest])
        self.assertIn("stopping", stopping[0].get("STATUS", ""))

    def test_without_notify_socket_nothing_is_sent(self):
        d = self.start_daemon()  # NOTIFY_SOCKET unset: runs as before
        self.assertServing(d)

    def test_journal_priorities(self):
        d = self.start(JournalDaemon(log_level="debug"))
        with d.client() as c:
            pt.expect_ok(c.append(pt.sales(3)))
            c.send_frames([b"not-a-delimiter", b"x"])  # dropped, with a debug line
        pt.wait_until(lambda: "<7>dropped a request" in d.log_text(), 30, "the debug line")
        self.stop_ok(d)
        lines = [line for line in d.log_text().splitlines() if line]
        self.assertTrue(lines)
        bad = [line for line in lines if not re.match(r"<[3467]>\S", line)]
        self.assertEqual(bad, [], "lines without a priority prefix")
        self.assertTrue(any(line.startswith("<6>pacerd ") for line in lines), lines)
        # No time stamps: the journal keeps its own.
        self.assertFalse(any(re.match(r"<\d>\d{4}-\d\d-\d\dT", line) for line in lines))

        # An error is <3>, so `journalctl -p err` shows it; a usage error too.
        base = pt.make_temp_dir("journal")
        path = os.path.join(base, "stderr")
        with open(path, "wb") as f:
            st = os.fstat(f.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        rc, err = run_pacerd(["--state-dir", os.path.join(base, "s"), "--time-zone", "Mars/X"],
                             env=env, stderr_path=path)
        self.assertEqual(rc, 2, err)
        self.assertTrue(err.startswith("<3>pacerd: time zone"), err)
        # JOURNAL_STREAM naming another file (inherited by a child): plain lines.
        env = dict(os.environ, JOURNAL_STREAM="1:1")
        rc, err = run_pacerd(["--state-dir", os.path.join(base, "s"), "--time-zone", "Mars/X"],
                             env=env)
        self.assertEqual(rc, 2)
        self.assertTrue(err.startswith("pacerd: time zone"), err)

    def test_bad_settings_exit_2_and_create_nothing(self):
        base = pt.make_temp_dir("bad")
        cfg_unknown = os.path.join(base, "unknown.cfg")
        with open(cfg_unknown, "w") as f:
            f.write("pacerd\n    state_dir = %s\n    colour = blue\n" % os.path.join(base, "c1"))
        cfg_tz = os.path.join(base, "tz.cfg")
        with open(cfg_tz, "w") as f:
            f.write("pacerd\n    time_zone = Nowhere/Special\n")
        cases = [
            ["--time-zone", "Mars/Olympus"],
            ["--fiscal-start-month", "13"],
            ["--working-weekdays", "mon,funday"],
            ["--log-level", "loud"],
            ["--map-size", "12"],
            ["--append", "tcp://127.0.0.1"],
            ["--query", "udp://127.0.0.1:7701"],
            ["--publish", "127.0.0.1:7702"],
            ["--metrics", "localhost"],
            ["--metrics", "127.0.0.1:99999"],
            ["--metrics", "no-such-host.invalid:7703"],
            ["--no-such-flag"],
            ["extra-argument"],
            ["--config", os.path.join(base, "missing.cfg")],
            ["--config", cfg_unknown],
            ["--config", cfg_tz],
            ["--config=" + cfg_tz],
        ]
        for i, args in enumerate(cases):
            with self.subTest(args=args):
                state = os.path.join(base, "state%d" % i)
                rc, err = run_pacerd(args + ["--state-dir", state])
                self.assertEqual(rc, 2, err)
                self.assertTrue(err.strip(), "no message")
                self.assertFalse(os.path.exists(state), "%s created" % state)
                self.assertFalse(os.path.exists(os.path.join(base, "c1")))

    def test_sighup_reloads_the_log_level(self):
        cfg = os.path.join(pt.make_temp_dir("cfg"), "pacerd.cfg")
        with open(cfg, "w") as f:
            f.write("pacerd\n    log_level = info\n")
        d = self.start(JournalDaemon(journal=False, log_level_flag=False,
                                     extra_args=["--config", cfg]))
        with d.client() as c:
            c.send_frames([b"not-a-delimiter", b"x"])
            pt.expect_ok(c.append(pt.sales(1)))  # after the dropped one: it was read
        self.assertNotIn("dropped a request", d.log_text())
        with open(cfg, "w") as f:
            f.write("pacerd\n    log_level = debug\n")
        d.send_signal(signal.SIGHUP)
        pt.wait_until(lambda: "log level debug" in d.log_text(), 30, "the reload")
        with d.client() as c:
            c.send_frames([b"not-a-delimiter", b"x"])
            pt.expect_ok(c.append(pt.sales(1)))
        self.assertIn("dropped a request", d.log_text())
        # A config that became invalid is refused whole; pacerd runs on.
        with open(cfg, "w") as f:
            f.write("pacerd\n    log_level = loud\n")
        d.send_signal(signal.SIGHUP)
        pt.wait_until(lambda: "settings not applied" in d.log_text(), 30, "the refusal")
        self.assertServing(d)


if __name__ == "__main__":
    pt.main()
