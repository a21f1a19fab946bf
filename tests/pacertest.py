"""pacertest: shared helpers for pacer's integration tests (tests/it_*.py).

Each it_*.py is a stdlib unittest module that ctest runs as `python3 tests/it_xxx.py` with
PACER_BIN_DIR pointing at the build directory (pacerd, pacer, pacer-bench). The helpers here:

- Daemon: a real `pacerd` process in a fresh temporary state directory, on free loopback ports,
  ready once it answers a `status` query; stopped with SIGTERM (exit status checked) or SIGKILL.
  Processes and temporary directories are cleaned up even when a test fails or the runner dies
  (the daemon gets PR_SET_PDEATHSIG).
- Client: a DEALER socket that frames requests exactly as docs/PROTOCOL.md says (an empty
  delimiter frame, then one msgpack map), with timeouts and `corr` matching.
- Event generators for every event type in docs/EVENTS.md, a Python rendering of the canonical
  encoding, and the BLAKE2b-256 hash chain of PROTOCOL.md ("The log").

Nothing here measures wall-clock time for pass/fail: timeouts exist only to turn a hung daemon
into a failure instead of a hung test run, and they are generous because CI machines are noisy.

Environment:
  PACER_BIN_DIR       where pacerd and pacer are (default: ../build relative to this file)
  PACER_KEEP_TMP=1    keep state directories and daemon logs after the run
  PACER_TIMEOUT_SCALE multiply every liveness timeout (default 1)

In a build with AddressSanitizer and UBSan (`make sanitize`) any sanitizer report from a process
started here fails the run: see "Sanitizer reports" below.
"""

import os
import sys

try:
    import msgpack
    import zmq
except ImportError:
    # ctest runs the first `python3` on PATH, which may be a pyenv or venv interpreter that cannot
    # see Debian's python3-zmq / python3-msgpack. Re-run the test under the system interpreter.
    _system = "/usr/bin/python3"
    if (os.access(_system, os.X_OK) and not os.environ.get("PACERTEST_REEXEC")
            and os.path.realpath(sys.executable) != os.path.realpath(_system)):
        os.environ["PACERTEST_REEXEC"] = "1"
        os.execv(_system, [_system] + sys.argv)
    raise

import atexit
import ctypes
import faulthandler
import glob
import hashlib
import itertools
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
BIN_DIR = os.environ.get("PACER_BIN_DIR") or os.path.join(os.path.dirname(HERE), "build")
PACERD = os.path.join(BIN_DIR, "pacerd")
PACER = os.path.join(BIN_DIR, "pacer")
# pacerd with the fault-injection hooks compiled in (-DPACER_FAULT_INJECTION); see Daemon(test_build)
PACERD_TEST = os.path.join(BIN_DIR, "pacerd-test")
KEEP_TMP = bool(os.environ.get("PACER_KEEP_TMP"))
TIMEOUT_SCALE = float(os.environ.get("PACER_TIMEOUT_SCALE", "1"))

# Liveness timeouts (seconds). Generous on purpose; they never decide a pass.
START_TIMEOUT = 60 * TIMEOUT_SCALE
REQUEST_TIMEOUT = 120 * TIMEOUT_SCALE
STOP_TIMEOUT = 120 * TIMEOUT_SCALE
CLI_TIMEOUT = 180 * TIMEOUT_SCALE

MiB = 1024 * 1024
ZERO_HASH = bytes(32)

# --------------------------------------------------------------------------------------------
# Temporary directories and process cleanup

_session_root = None
_session_lock = threading.Lock()
_live_daemons = set()
_any_failure = False


def session_root():
    """One temporary directory per test process; everything else lives under it."""
    global _session_root
    with _session_lock:
        if _session_root is None:
            _session_root = tempfile.mkdtemp(prefix="pacer-it-")
        return _session_root


def make_temp_dir(prefix="t"):
    return tempfile.mkdtemp(prefix=prefix + "-", dir=session_root())


def _cleanup_session():
    for d in list(_live_daemons):
        d.kill()
    if _session_root and os.path.isdir(_session_root):
        if KEEP_TMP or _any_failure:
            sys.stderr.write("pacertest: kept %s\n" % _session_root)
        else:
            shutil.rmtree(_session_root, ignore_errors=True)


atexit.register(_cleanup_session)

# --------------------------------------------------------------------------------------------
# Sanitizer reports
#
# Under `make sanitize` a pacerd that leaks, overflows a buffer or runs into undefined behaviour
# writes a report and exits 1, but nobody would read it: a daemon's stderr goes to its log, a
# daemon that is killed or refused to start has no exit status a test checks, and LeakSanitizer
# only speaks as a process exits. So every process started from here (pacerd, pacer, pacer-gen)
# inherits options that write each report to a file of its own, <log_path>.<pid>: a Daemon's into
# its own directory, where Daemon.wait() fails the test on one, anything else's into the session
# directory; and main() fails the run on any report left anywhere under it. gcc's UBSan runtime
# ignores log_path and writes to stderr, so daemon logs are searched for reports too. A daemon
# stops at its first report (halt_on_error): a Client from Daemon.client() then fails at once
# instead of waiting out its timeout. A build without sanitizers ignores the variables.

SANITIZER_LOG = "sanitizer"
_SANITIZER_OPTIONS = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:print_stacktrace=1",
    "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=0:print_stacktrace=1",
}


def sanitizer_env(env, log_dir):
    """env (a mapping) with sanitizer options that write reports under log_dir; options already
    in env are kept, except for log_path."""
    env = dict(env)
    log_path = os.path.join(log_dir, SANITIZER_LOG)
    for var, opts in _SANITIZER_OPTIONS.items():
        given = env.get(var)
        env[var] = ":".join(o for o in (given, opts, "log_path=" + log_path) if o)
    return env


# A report's first line in a log: UBSan's "file:line:col: runtime error: ...", ASan's and
# LeakSanitizer's "==pid==ERROR: ...".
_SANITIZER_LINE = re.compile(r"^(?:\S+:\d+:\d+: runtime error: .*|==\d+==ERROR: \w+Sanitizer.*)$",
                             re.M)


def sanitizer_lines(log_path):
    """The first line of each sanitizer report in a log, joined; "" if none."""
    with open(log_path, "rb") as f:
        return "\n".join(_SANITIZER_LINE.findall(f.read().decode("utf-8", "replace")))


def sanitizer_reports(log_dir, recursive=False):
    """Paths of the sanitizer reports written under log_dir, sorted."""
    if recursive:
        walk = ((d, files) for d, _, files in os.walk(log_dir))
    else:
        walk = [(log_dir, os.listdir(log_dir) if os.path.isdir(log_dir) else [])]
    return sorted(os.path.join(d, f) for d, files in walk for f in files
                  if f.startswith(SANITIZER_LOG + "."))


def read_report(path, limit=20000):
    with open(path, "rb") as f:
        return f.read(limit).decode("utf-8", "replace")


os.environ.update(sanitizer_env(os.environ, session_root()))

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent():
    # Runs in the child between fork and exec: if the test runner dies (ctest timeout, ^C), the
    # daemon gets SIGKILL instead of holding ports and state directories forever.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (bound together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# --------------------------------------------------------------------------------------------
# Wire client


class ProtocolError(AssertionError):
    pass


class Client:
    """A DEALER socket talking PROTOCOL.md framing: [b"", msgpack(body)] both ways.

    Not thread-safe (ZeroMQ sockets are not); give each thread its own Client."""

    def __init__(self, endpoint, timeout=REQUEST_TIMEOUT, daemon=None):
        self.endpoint = endpoint
        self.timeout = timeout
        self.daemon = daemon  # if given: a reply is not waited for once it has exited
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self._corr = itertools.count(1)

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw access, for tests of framing and malformed input
    def send_frames(self, frames):
        self.sock.send_multipart(frames, copy=False)

    def send_body_bytes(self, body_bytes):
        self.send_frames([b"", body_bytes])

    def poll(self, timeout):
        """True if a reply is waiting within timeout seconds."""
        return bool(self.sock.poll(int(timeout * 1000), zmq.POLLIN))

    def recv_reply(self, timeout=None):
        """The next reply body (a dict). Checks the reply framing."""
        timeout = self.timeout if timeout is None else timeout
        if not self._poll_while_alive(timeout):
            raise TimeoutError("no reply from %s within %.0f s" % (self.endpoint, timeout))
        frames = self.sock.recv_multipart()
        if len(frames) != 2 or frames[0] != b"":
            raise ProtocolError("reply is not [empty, body]: %r" % [f[:40] for f in frames])
        try:
            body = msgpack.unpackb(frames[1], raw=False, strict_map_key=False)
        except Exception as e:  # noqa: BLE001 - any decode failure is a protocol error
            raise ProtocolError("reply body is not msgpack with valid UTF-8 strings: %s: %r"
                                % (e, frames[1][:200]))
        if not isinstance(body, dict):
            raise ProtocolError("reply body is not a map: %r" % (body,))
        for key in ("v", "corr", "ok"):
            if key not in body:
                raise ProtocolError("reply lacks %r: %r" % (key, body))
        if body["v"] != 1 or not isinstance(body["ok"], bool):
            raise ProtocolError("bad reply header: %r" % (body,))
        if body["ok"] is False:
            if not isinstance(body.get("error"), str) or not isinstance(body.get("message"), str):
                raise ProtocolError("error reply without error/message strings: %r" % (body,))
        return body

    def _poll_while_alive(self, timeout):
        """poll(timeout), but a daemon that died (a sanitizer stops it at the first report)
        fails at once instead of after the whole timeout."""
        if self.daemon is None:
            return self.poll(timeout)
        deadline = time.monotonic() + timeout
        while True:
            if self.poll(min(0.2, max(0.0, deadline - time.monotonic()))):
                return True
            if not self.daemon.running():
                if self.poll(0.2):  # a reply sent just before it exited
                    return True
                raise DaemonExited("pacerd exited (status %r) while %s waited for a reply; "
                                   "log:\n%s" % (self.daemon.proc.poll(), self.endpoint,
                                                  self.daemon.log_tail()))
            if time.monotonic() >= deadline:
                return False

    # -- well-formed requests
    def send(self, body):
        """Sends a request body (a dict). Adds a corr if it has none; returns the corr."""
        if "corr" not in body:
            body = dict(body, corr=next(self._corr))
        self.send_body_bytes(packb(body))
        return body["corr"]

    def request(self, body, timeout=None):
        corr = self.send(body)
        reply = self.recv_reply(timeout)
        if reply["corr"] != corr:
            raise ProtocolError("reply corr %r does not match request corr %r"
                                % (reply["corr"], corr))
        return reply

    def call(self, op, timeout=None, **fields):
        body = {"v": 1, "op": op}
        body.update(fields)
        return self.request(body, timeout)

    def append(self, events, atomic=None, timeout=None):
        fields = {"events": list(events)}
        if atomic is not None:
            fields["atomic"] = atomic
        return self.call("append", timeout=timeout, **fields)

    def status(self, timeout=None):
        return self.call("status", timeout=timeout)

    def events(self, from_seq=None, limit=None, raw=None, timeout=None):
        fields = {}
        if from_seq is not None:
            fields["from"] = from_seq
        if limit is not None:
            fields["limit"] = limit
        if raw is not None:
            fields["raw"] = raw
        return self.call("events", timeout=timeout, **fields)


def packb(obj):
    return msgpack.packb(obj, use_bin_type=True)


def expect_ok(reply):
    if reply.get("ok") is not True:
        raise AssertionError("request failed: %r" % (reply,))
    return reply


# --------------------------------------------------------------------------------------------
# The daemon


class DaemonExited(AssertionError):
    pass


class Daemon:
    """One pacerd process. Construct, then start(); stop() with SIGTERM or kill()."""

    def __init__(self, state_dir=None, map_size=None, log_level="info", extra_args=(),
                 ports=None, env=None, test_build=False):
        self.base = make_temp_dir("d")
        # pacerd-test: the same daemon with its fault-injection hooks (PACERD_TEST_FAIL_COMMIT)
        self.binary = PACERD_TEST if test_build else PACERD
        self.state_dir = state_dir or os.path.join(self.base, "state")
        self.map_size = map_size
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.env = sanitizer_env(dict(os.environ, **(env or {})), self.base)
        self.reports_seen = set()
        self.ports = list(ports) if ports else free_ports(3)
        self.proc = None
        self.returncode = None
        self.log_path = None
        self._log_file = None
        self._starts = 0

    # endpoints
    @property
    def append_ep(self):
        return "tcp://127.0.0.1:%d" % self.ports[0]

    @property
    def query_ep(self):
        return "tcp://127.0.0.1:%d" % self.ports[1]

    @property
    def publish_ep(self):
        return "tcp://127.0.0.1:%d" % self.ports[2]

    def argv(self):
        argv = [self.binary, "--state-dir", self.state_dir, "--append", self.append_ep,
                "--query", self.query_ep, "--publish", self.publish_ep,
                "--log-level", self.log_level]
        if self.map_size is not None:
            argv += ["--map-size", str(self.map_size)]
        return argv + self.extra_args

    def spawn(self):
        """Starts the process without waiting for it to serve."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if not os.access(self.binary, os.X_OK):
            raise AssertionError("%s not found (set PACER_BIN_DIR)" % self.binary)
        self._starts += 1
        self.log_path = os.path.join(self.base, "pacerd.%d.log" % self._starts)
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv(), cwd=self.base, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent, env=self.env)
        self.returncode = None
        _live_daemons.add(self)
        return self

    def start(self, timeout=START_TIMEOUT):
        """Starts pacerd and waits until it answers `status`. Retries with new ports if a port
        it was given turned out to be taken (another test grabbed it in between)."""
        for attempt in range(3):
            self.spawn()
            try:
                self.wait_ready(timeout)
                return self
            except DaemonExited:
                log = self.log_text().lower()
                if attempt < 2 and ("address already in use" in log or "eaddrinuse" in log):
                    self.ports = free_ports(3)
                    continue
                raise
        raise AssertionError("unreachable")

    def wait_ready(self, timeout=START_TIMEOUT):
        """Waits until the daemon answers a status query on its query endpoint."""
        deadline = time.monotonic() + timeout
        with Client(self.query_ep) as c:
            c.send({"v": 1, "op": "status"})
            while True:
                if c.poll(0.1):
                    reply = c.recv_reply(0)
                    if reply.get("ok") is True:
                        return reply
                    raise AssertionError("status refused during start-up: %r" % (reply,))
                rc = self.proc.poll()
                if rc is not None:
                    self._reap(rc)
                    raise DaemonExited("pacerd exited with %d during start-up; log:\n%s"
                                       % (rc, self.log_tail()))
                if time.monotonic() > deadline:
                    raise AssertionError("pacerd did not answer status within %.0f s; log:\n%s"
                                         % (timeout, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self, rc):
        self.returncode = rc
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        _live_daemons.discard(self)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the process to exit; returns its exit status (negative: signal). Fails on
        a sanitizer report not seen before (see "Sanitizer reports")."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            self._reap(rc)
            raise AssertionError("pacerd did not exit within %.0f s; killed. log:\n%s"
                                 % (timeout, self.log_tail()))
        self._reap(rc)
        self.assert_no_sanitizer_report()
        return rc

    def new_sanitizer_reports(self):
        """Reports since the last call: files under this daemon's directory, and report lines in
        its logs (gcc's UBSan runtime writes to stderr whatever log_path says)."""
        new = [read_report(p) for p in sanitizer_reports(self.base) if p not in self.reports_seen]
        self.reports_seen.update(sanitizer_reports(self.base))
        for log in sorted(glob.glob(os.path.join(self.base, "pacerd.*.log"))):
            if log in self.reports_seen:
                continue
            self.reports_seen.add(log)  # called once the daemon exited: the log is complete
            found = sanitizer_lines(log)
            if found:
                new.append("%s:\n%s" % (log, found))
        return new

    def assert_no_sanitizer_report(self):
        new = self.new_sanitizer_reports()
        if new:
            raise AssertionError("pacerd (exit status %r) wrote a sanitizer report:\n%s"
                                 % (self.returncode, "\n".join(new)))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig (SIGTERM) and waits; returns the exit status."""
        if not self.running():
            return self.proc.poll() if self.proc else None
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def kill(self):
        """SIGKILL, and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self._reap(self.proc.wait())
        return self.returncode

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=40):
        """The log's last n lines, then any sanitizer report."""
        tail = "\n".join(self.log_text().splitlines()[-n:])
        for p in sanitizer_reports(self.base):
            tail += "\n--- %s ---\n%s" % (p, read_report(p))
        return tail

    def client(self, which="append", timeout=REQUEST_TIMEOUT):
        ep = {"append": self.append_ep, "query": self.query_ep}[which]
        return Client(ep, timeout, daemon=self)

    def status(self):
        with self.client("query") as c:
            return expect_ok(c.status())


# --------------------------------------------------------------------------------------------
# Events: generators and the canonical form

ENVELOPE = [("type", "enum"), ("id", "id"), ("occurred_at", "time"), ("source", "id")]

# Field order and kind of each event type, as EVENTS.md lists them (the canonical order).
SCHEMA = {
    "node_defined": [("node", "id"), ("kind", "enum"), ("name", "text"), ("parent", "id"),
                     ("owner", "id"), ("effective_at", "time")],
    "node_moved": [("node", "id"), ("parent", "id"), ("effective_at", "time"),
                   ("author", "id"), ("reason", "text")],
    "node_retired": [("node", "id"), ("effective_at", "time"), ("reason", "text")],
    "target_set": [("scope", "id"), ("metric", "metric"), ("period", "period"),
                   ("product_line", "id"), ("target", "int"), ("floor", "int"),
                   ("stretch", "int"), ("currency", "currency"), ("author", "id"),
                   ("reason", "text"), ("allocation", "id")],
    "target_adjusted": [("scope", "id"), ("metric", "metric"), ("period", "period"),
                        ("product_line", "id"), ("floor", "int"), ("target", "int"),
                        ("stretch", "int"), ("author", "id"), ("reason", "text")],
    "sale_closed": [("order", "id"), ("rep", "id"), ("amount", "money"),
                    ("currency", "currency"), ("customer", "id"), ("margin", "money"),
                    ("product_line", "id"), ("quantity", "int"), ("due_at", "time")],
    "sale_refunded": [("order", "id"), ("amount", "money"), ("currency", "currency"),
                      ("reason", "text")],
    "sale_cancelled": [("order", "id"), ("reason", "text")],
    "payment_received": [("amount", "money"), ("currency", "currency"), ("order", "id"),
                         ("customer", "id"), ("rep", "id")],
    "activity_logged": [("rep", "id"), ("activity", "enum"), ("customer", "id"),
                        ("order", "id")],
    "customer_created": [("customer", "id"), ("rep", "id"), ("name", "text")],
    "kpi_defined": [("kpi", "id"), ("aggregation", "enum"), ("name", "text"),
                    ("unit", "text")],
    "kpi_recorded": [("kpi", "id"), ("scope", "id"), ("value", "number"),
                     ("product_line", "id")],
    "calendar_day_set": [("date", "date"), ("day_type", "enum"), ("name", "text")],
    "alert_silenced": [("alert", "text"), ("author", "id"), ("reason", "text"),
                       ("until", "time")],
}

_RUN = uuid.uuid4().hex[:8]
_seq = itertools.count(1)
T0 = 1764547200000  # 2025-12-01T00:00:00Z


def uid(prefix="ev"):
    """A unique id (per test process and across processes)."""
    return "%s:%s:%d" % (prefix, _RUN, next(_seq))


_UNSET = object()


def _event(etype, id=_UNSET, occurred_at=None, **fields):
    ev = {"type": etype, "id": uid(etype) if id is _UNSET else id,
          "occurred_at": T0 if occurred_at is None else occurred_at}
    ev.update(fields)
    return ev


def sale_closed(**kw):
    n = next(_seq)
    f = dict(order="o-%s-%d" % (_RUN, n), rep="zhang", amount=1250000 + n, currency="CNY",
             customer="c-%s-%d" % (_RUN, n), margin=400000, product_line="cloud")
    f.update(kw)
    return _event("sale_closed", occurred_at=f.pop("occurred_at", T0 + n * 1000), **f)


def node_defined(**kw):
    f = dict(node="east", kind="region", name="East", parent="acme", owner="li.wei")
    f.update(kw)
    return _event("node_defined", **f)


def node_moved(**kw):
    f = dict(node="zhang", parent="west", effective_at=T0 + 86400000, author="hr",
             reason="reorg")
    f.update(kw)
    return _event("node_moved", **f)


def node_retired(**kw):
    f = dict(node="wang", effective_at=T0 + 86400000)
    f.update(kw)
    return _event("node_retired", **f)


def target_set(**kw):
    f = dict(scope="east", metric="revenue", period="2026-Q4", floor=80000000,
             target=100000000, stretch=120000000, currency="CNY", author="ceo",
             reason="Q4 plan")
    f.update(kw)
    return _event("target_set", **f)


def target_adjusted(**kw):
    f = dict(scope="east", metric="revenue", period="2026-Q4", target=110000000,
             author="ceo", reason="market grew")
    f.update(kw)
    return _event("target_adjusted", **f)


def sale_refunded(**kw):
    f = dict(order="10023", amount=250000, currency="CNY", reason="partial return")
    f.update(kw)
    return _event("sale_refunded", **f)


def sale_cancelled(**kw):
    f = dict(order="10023", reason="customer withdrew")
    f.update(kw)
    return _event("sale_cancelled", **f)


def payment_received(**kw):
    f = dict(amount=1000000, currency="CNY", order="10023", rep="zhang")
    f.update(kw)
    return _event("payment_received", **f)


def activity_logged(**kw):
    f = dict(rep="zhang", activity="visit", customer="c-88")
    f.update(kw)
    return _event("activity_logged", **f)


def customer_created(**kw):
    f = dict(customer="c-88", rep="zhang", name="Big Customer Ltd")
    f.update(kw)
    return _event("customer_created", **f)


def kpi_defined(**kw):
    f = dict(kpi="csat", aggregation="average", name="Customer satisfaction", unit="points")
    f.update(kw)
    return _event("kpi_defined", **f)


def kpi_recorded(**kw):
    f = dict(kpi="csat", scope="zhang", value=4.5)
    f.update(kw)
    return _event("kpi_recorded", **f)


def calendar_day_set(**kw):
    f = dict(date="2026-10-01", day_type="holiday", name="National Day")
    f.update(kw)
    return _event("calendar_day_set", **f)


def alert_silenced(**kw):
    f = dict(alert="alert/lag/acme/east/", author="ops", reason="known, being handled",
             until=T0 + 7 * 86400000)
    f.update(kw)
    return _event("alert_silenced", **f)


GENERATORS = {
    "node_defined": node_defined, "node_moved": node_moved, "node_retired": node_retired,
    "target_set": target_set, "target_adjusted": target_adjusted, "sale_closed": sale_closed,
    "sale_refunded": sale_refunded, "sale_cancelled": sale_cancelled,
    "payment_received": payment_received, "activity_logged": activity_logged,
    "customer_created": customer_created, "kpi_defined": kpi_defined,
    "kpi_recorded": kpi_recorded, "calendar_day_set": calendar_day_set,
    "alert_silenced": alert_silenced,
}


def one_of_each():
    """One valid event of every type, all fields (required and optional) exercised,
    in an order whose references resolve (parents, targets and orders exist before
    they are named), as the daemon checks them."""
    return [
        node_defined(node="acme", kind="company", name="ACME", parent=None, owner="ceo"),
        node_defined(effective_at=T0, source="hr-system"),
        node_defined(node="west", kind="region", name="West", parent="acme"),
        node_defined(node="zhang", kind="rep", name="张三", parent="east", owner="zhang"),
        node_defined(node="wang", kind="rep", name="王五", parent="east"),
        node_moved(),
        node_retired(reason="left the company"),
        target_set(product_line="cloud", allocation="alloc-1"),
        target_adjusted(floor=90000000, stretch=130000000, product_line="cloud"),
        sale_closed(order="10023", quantity=3, due_at=T0 + 30 * 86400000, margin=-5000),
        sale_refunded(),
        sale_cancelled(),
        payment_received(customer="c-88"),
        activity_logged(activity="quote", order="10023"),
        customer_created(),
        kpi_defined(),
        kpi_recorded(value=4, product_line="cloud"),
        kpi_recorded(value=4.25),
        calendar_day_set(),
        calendar_day_set(date="2026-10-11", day_type="workday", name="Make-up day"),
        alert_silenced(),
    ]


def define_zhang_deals_target(client, period="2025-12"):
    """Company acme, rep zhang under it, and a deals target for zhang in period: then
    deals_of_zhang() counts every sale_closed credited to zhang, also those appended before."""
    expect_ok(client.append([node_defined(node="acme", kind="company", parent=None)]))
    expect_ok(client.append([node_defined(node="zhang", kind="rep", parent="acme")]))
    expect_ok(client.append([target_set(scope="zhang", metric="deals", period=period, floor=None,
                                        target=100000, stretch=None, currency=None)]))


def deals_of_zhang(d, period="2025-12"):
    """Zhang's deals actual in period (see define_zhang_deals_target)."""
    with d.client("query") as q:
        rows = expect_ok(q.call("progress", period=period, scope="zhang", metric="deals",
                                now=T0 + 86400000))["rows"]
    assert [r["path"] for r in rows] == ["acme/zhang"], rows
    return rows[0]["actual"]


def sales(n, **kw):
    return [sale_closed(**kw) for _ in range(n)]


def canonical(ev):
    """The event as EVENTS.md/PROTOCOL.md say it is stored: envelope then fields in the listed
    order, nil fields dropped, `number` fields as float. Returns an ordered dict."""
    fields = ENVELOPE + SCHEMA[ev["type"]]
    out = {}
    for name, kind in fields:
        if ev.get(name) is None:
            continue
        value = ev[name]
        if kind == "number":
            value = float(value)
        out[name] = value
    extra = set(ev) - {name for name, _ in fields}
    assert not extra, "canonical() of an event with unknown fields %r" % extra
    return out


def canonical_bytes(ev):
    return packb(canonical(ev))


def same_content(stored, sent):
    """True when the stored (decoded) event is the canonical form of what was sent, types
    included (so 4 vs 4.0 in a number field counts)."""
    want = canonical(sent)
    if set(stored) != set(want):
        return False
    for k, v in want.items():
        if stored[k] != v or type(stored[k]) is not type(v):
            return False
    return True


# --------------------------------------------------------------------------------------------
# The log and its hash chain (PROTOCOL.md, "The log and its hash chain")


def chain_hash(prev, seq, recorded_at, event_bytes):
    h = hashlib.blake2b(digest_size=32)
    h.update(prev)
    h.update(struct.pack(">Q", seq))
    h.update(struct.pack(">q", recorded_at))
    h.update(event_bytes)
    return h.digest()


def read_log(client, from_seq=1, raw=False, limit=10000):
    """Every record from from_seq to the end, by paging `events`."""
    out = []
    nxt = from_seq
    while True:
        reply = expect_ok(client.events(from_seq=nxt, limit=limit, raw=raw))
        evs = reply["events"]
        out.extend(evs)
        if len(evs) < limit and reply["next"] > reply["last_seq"]:
            return out
        if not evs:
            raise AssertionError("events returned nothing but not at the end: %r"
                                 % {k: reply[k] for k in ("next", "last_seq")})
        nxt = reply["next"]


def verify_chain(records, prev_hash=ZERO_HASH, first_seq=1):
    """Checks raw records chain exactly as PROTOCOL.md says. Returns the last hash.
    Raises AssertionError naming the first bad seq."""
    expect_seq = first_seq
    for r in records:
        if r["seq"] != expect_seq:
            raise AssertionError("seq %d where %d was expected" % (r["seq"], expect_seq))
        if not isinstance(r["event"], bytes):
            raise AssertionError("seq %d: raw event is %s, not bin" % (r["seq"],
                                                                       type(r["event"])))
        h = chain_hash(prev_hash, r["seq"], r["recorded_at"], r["event"])
        if h != r["hash"]:
            raise AssertionError("seq %d: hash %s, computed %s"
                                 % (r["seq"], bytes(r["hash"]).hex(), h.hex()))
        prev_hash = h
        expect_seq += 1
    return prev_hash


# --------------------------------------------------------------------------------------------
# Producers: threads that stream append batches and record what was acknowledged


class Producer(threading.Thread):
    """Streams batches of sale_closed events to an append endpoint, one request in flight, and
    records what the daemon acknowledged.

    stop() asks it to finish the batch in flight and return; daemon_gone() tells it not to
    wait for a reply that will never come (the batch in flight goes to `unacked`)."""

    def __init__(self, endpoint, name, batch_size=40, max_batches=None):
        super().__init__(name=name, daemon=True)
        self.endpoint = endpoint
        self.tag = "%s:%s" % (name, _RUN)
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.acked = []          # (seq, event) of every acknowledged event
        self.acked_batches = []  # (events, seqs) per acknowledged batch
        self.unacked = []        # batches sent without a reply
        self.errors = []         # anything unexpected
        self.sent_ids = set()
        self._stop_req = threading.Event()
        self._gone_evt = threading.Event()
        self._nbatch = 0

    def stop(self):
        self._stop_req.set()

    def daemon_gone(self):
        self._gone_evt.set()

    def acked_count(self):
        return len(self.acked)

    def make_batch(self):
        n = self._nbatch
        self._nbatch += 1
        return [sale_closed(id="%s:%d:%d" % (self.tag, n, i)) for i in range(self.batch_size)]

    def run(self):
        try:
            with Client(self.endpoint) as c:
                while not self._stop_req.is_set() and not self._gone_evt.is_set():
                    if self.max_batches is not None and self._nbatch >= self.max_batches:
                        break
                    batch = self.make_batch()
                    self.sent_ids.update(e["id"] for e in batch)
                    corr = c.send({"v": 1, "op": "append", "events": batch})
                    reply = self._wait(c)
                    if reply is None:
                        self.unacked.append(batch)
                        break
                    if reply["corr"] != corr or reply["ok"] is not True:
                        self.errors.append(reply)
                        break
                    results = reply["results"]
                    if len(results) != len(batch) or any("error" in r or r["dup"]
                                                         for r in results):
                        self.errors.append(reply)
                        break
                    seqs = [r["seq"] for r in results]
                    self.acked.extend(zip(seqs, batch))
                    self.acked_batches.append((batch, seqs))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def _wait(self, c):
        deadline = time.monotonic() + REQUEST_TIMEOUT
        while True:
            if c.poll(0.05):
                return c.recv_reply(0)
            if self._gone_evt.is_set():
                # A reply already on its way when the daemon died is still delivered.
                return c.recv_reply(0) if c.poll(0.5) else None
            if time.monotonic() > deadline:
                raise TimeoutError("no reply to an append within %.0f s" % REQUEST_TIMEOUT)


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until true; fails (liveness) after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# The CLI


def run_cli(args, input=None, timeout=CLI_TIMEOUT):
    """Runs `pacer args...`; returns CompletedProcess with text stdout/stderr."""
    if not os.access(PACER, os.X_OK):
        raise AssertionError("pacer CLI not found at %s (set PACER_BIN_DIR)" % PACER)
    return subprocess.run([PACER] + list(args), input=input, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_die_with_parent)


def cli_query_args(daemon):
    """The flags that point a query command (status, events) at a daemon."""
    return ["--query", daemon.query_ep]


def cli_append_args(daemon):
    return ["--endpoint", daemon.append_ep, "--query", daemon.query_ep]


# --------------------------------------------------------------------------------------------
# Test case base


class PacerTestCase(unittest.TestCase):
    """unittest.TestCase with daemon helpers. Daemons started with start_daemon() are stopped
    with SIGTERM at the end of the test (exit status 0 required), or killed if they hang."""

    maxDiff = 4000

    def run(self, result=None):
        global _any_failure
        before = (len(result.failures) + len(result.errors)) if result else 0
        self._daemons = []
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            _any_failure = True
            for d in self._daemons:
                sys.stderr.write("\n--- pacerd log (%s) ---\n%s\n" % (d.state_dir, d.log_tail(60)))
        return out

    def start_daemon(self, **kw):
        d = Daemon(**kw)
        self._daemons.append(d)
        self.addCleanup(self._stop_at_end, d)
        d.start()
        return d

    def restart(self, d):
        """Starts an already-stopped daemon again on the same state dir and ports."""
        d.start()
        return d

    def _stop_at_end(self, d):
        if d.running():
            rc = d.stop()
            if rc != 0:
                raise AssertionError("pacerd exited %r on SIGTERM at the end of the test" % rc)

    def stop_ok(self, d, sig=signal.SIGTERM):
        rc = d.stop(sig)
        self.assertEqual(rc, 0, "pacerd exit status on %s; log:\n%s"
                         % (signal.Signals(sig).name, d.log_tail()))

    # assertions shared by several files
    def assertAppended(self, reply, n, first_seq=None):
        """All n events newly appended, consecutive seqs (from first_seq if given)."""
        expect_ok(reply)
        results = reply["results"]
        self.assertEqual(len(results), n)
        errors = [r for r in results if "error" in r]
        self.assertEqual(errors, [], "events refused")
        seqs = [r["seq"] for r in results]
        self.assertTrue(all(r["dup"] is False for r in results), "some came back as dup")
        if first_seq is None:
            first_seq = seqs[0]
        self.assertEqual(seqs, list(range(first_seq, first_seq + n)))
        self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]), (n, 0, 0))
        self.assertGreaterEqual(reply["last_seq"], seqs[-1])
        return seqs

    def assertServing(self, d, expect_last_seq=None):
        """The daemon still works: status answers, and a good append gets the next seq."""
        st = d.status()
        if expect_last_seq is not None:
            self.assertEqual(st["last_seq"], expect_last_seq, "log changed")
        with d.client() as c:
            reply = expect_ok(c.append([sale_closed()]))
        self.assertEqual(reply["results"], [{"seq": st["last_seq"] + 1, "dup": False}])
        return st["last_seq"] + 1


def main():
    """unittest.main, then: the run fails on any sanitizer report left under the session
    directory (by a process no test waited for, or after a test that passed). A run still going
    after PACER_HANG_DUMP seconds (240) prints every thread's stack, and again each period
    after, so that a hang in CI, which ctest ends at 600 s, says where it was."""
    faulthandler.dump_traceback_later(float(os.environ.get("PACER_HANG_DUMP", "240")),
                                      repeat=True)
    prog = unittest.main(verbosity=2, exit=False)
    faulthandler.cancel_dump_traceback_later()
    ok = prog.result.wasSuccessful()
    reports = sanitizer_reports(session_root(), recursive=True)
    for p in reports:
        sys.stderr.write("\n--- sanitizer report %s ---\n%s\n" % (p, read_report(p)))
    for d, _, files in os.walk(session_root()):
        for log in sorted(os.path.join(d, f) for f in files if f.startswith("pacerd.")):
            found = sanitizer_lines(log)
            if found:
                reports.append(log)
                sys.stderr.write("\n--- sanitizer report in %s ---\n%s\n" % (log, found))
    if reports:
        sys.stderr.write("FAILED: %d sanitizer report(s)\n" % len(reports))
    sys.exit(0 if ok and not reports else 1)
