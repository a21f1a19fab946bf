"""alerttest: helpers for the tests of alert clients (tests/it_notify.py, it_alert_cli.py).

- FakeAlertDaemon: what pacerd looks like to an alert subscriber (docs/PROTOCOL.md, "Alerts"),
  and nothing else: an XPUB that publishes alert records and heartbeats, and a ROUTER that
  answers `alerts`, `alerts_active`, `silences` and `status` from the records it holds. A
  test raises alerts with or without publishing them (a dropped message), announces them
  with a heartbeat, and restarts the fake (both sockets closed and bound again on the same
  ports). It runs in a thread of its own; the test talks to it through thread-safe calls.
- Webhook: an HTTP server on loopback (http.server) that plays a script of failures per
  alert (500, 429, a timeout, a 4xx) and keeps a success log, honouring Idempotency-Key as
  a real endpoint would (a key it already accepted gets 200 and is not logged again).
- Notify: a `pacer notify` process with its output collected.
"""

import http.server
import json
import os
import queue
import signal
import subprocess
import threading
import time

import pacertest as pt
from pacertest import msgpack, zmq

AT0 = 1794988800000  # 2026-11-18T08:00:00Z; alert n is raised at AT0 + n minutes


def alert_record(aseq, topic, state="firing", severity="critical"):
    """An alert record as PROTOCOL.md describes it, for `topic` = alert/<rule>/<path>/."""
    rest = topic[len("alert/"):].rstrip("/")
    rule, _, path = rest.partition("/")
    scope = path.rsplit("/", 1)[-1]
    key = "%s/%s/revenue/2026-11" % (rule, scope)
    return {
        "aseq": aseq, "key": key, "topic": topic, "rule": rule, "state": state,
        "severity": severity, "at": AT0 + aseq * 60000, "since": AT0,
        "scope": scope, "path": path, "metric": "revenue",
        "period": "2026-11", "product_line": None, "owner": "rep-42",
        "notify": ["rep-42", "li.wei"],
        "summary": "%s revenue 2026-11: 41%% of target with 63%% of working days gone "
                   "(pace 0.65, %s); alert %d" % (path, rule, aseq),
        "values": {"pace_ratio": 0.65, "actual": 4100000, "currency": "CNY"},
        "evidence": [{"seq": 1000 + aseq, "id": "crm:%d" % aseq}],
        "log_seq": 1000 + aseq,
    }


class FakeAlertDaemon:
    """Call start(); raise_alert(topic, publish=True) -> aseq; heartbeat(); restart().
    Like pacerd it also sends a heartbeat by itself, every `heartbeat_every` seconds (None:
    only when asked)."""

    def __init__(self, heartbeat_every=0.3):
        self.heartbeat_every = heartbeat_every
        self.ports = pt.free_ports(2)
        self.records = []          # index aseq - 1
        self.subscriptions = 0
        self.queries = []          # the bodies of the alerts queries received
        self.mute = False          # drop queries unanswered
        self._cmds = queue.Queue()
        self._lock = threading.Lock()
        self._thread = None
        self._stop = False
        self._up = False

    @property
    def publish_ep(self):
        return "tcp://127.0.0.1:%d" % self.ports[0]

    @property
    def query_ep(self):
        return "tcp://127.0.0.1:%d" % self.ports[1]

    def cli_args(self):
        return ["--publish", self.publish_ep, "--query", self.query_ep]

    # -- control (any thread)
    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._call("up")
        return self

    def stop(self):
        self._stop = True
        self._thread.join(10)

    def raise_alert(self, topic="alert/behind/acme/east/", publish=True, **kw):
        with self._lock:
            aseq = len(self.records) + 1
            record = alert_record(aseq, topic, **kw)
            self.records.append(record)
        if publish:
            self._call("publish", aseq)
        return aseq

    def publish(self, aseq):
        self._call("publish", aseq)

    def heartbeat(self):
        self._call("heartbeat")

    def down(self):
        self._call("down")

    def up(self):
        self._call("up")

    def restart(self):
        self.down()
        self.up()

    def wait_subscribed(self, n, since=0, timeout=30):
        """Waits until n subscribe messages came after `since` (an earlier value of
        .subscriptions: a restarted client subscribes again)."""
        pt.wait_until(lambda: self.subscriptions >= since + n, timeout, "%d subscriptions" % n)

    def _call(self, *cmd):
        done = threading.Event()
        self._cmds.put((cmd, done))
        if not done.wait(30):
            raise AssertionError("fake daemon did not run %r" % (cmd,))

    # -- the fake's thread
    def _bind(self, kind, port):
        sock = zmq.Context.instance().socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        if kind == zmq.XPUB:
            sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                sock.bind("tcp://127.0.0.1:%d" % port)
                return sock
            except zmq.ZMQError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _run(self):
        self.xpub = self.router = None
        last_beat = time.monotonic()
        while not self._stop:
            if (self.heartbeat_every and self.xpub is not None
                    and time.monotonic() - last_beat > self.heartbeat_every):
                self._do(("heartbeat",))
                last_beat = time.monotonic()
            while True:
                try:
                    cmd, done = self._cmds.get_nowait()
                except queue.Empty:
                    break
                self._do(cmd)
                done.set()
            if self.xpub is None:
                time.sleep(0.005)
                continue
            poller = zmq.Poller()
            poller.register(self.xpub, zmq.POLLIN)
            poller.register(self.router, zmq.POLLIN)
            for sock, _ in poller.poll(5):
                if sock is self.xpub:
                    msg = self.xpub.recv()
                    if msg[:1] == b"\x01":
                        self.subscriptions += 1
                else:
                    self._answer(self.router.recv_multipart())
        if self.xpub is not None:
            self._do(("down",))

    def _do(self, cmd):
        if cmd[0] == "up" and self.xpub is None:
            self.xpub = self._bind(zmq.XPUB, self.ports[0])
            self.router = self._bind(zmq.ROUTER, self.ports[1])
        elif cmd[0] == "down" and self.xpub is not None:
            self.xpub.close(0)
            self.router.close(0)
            self.xpub = self.router = None
        elif cmd[0] == "publish" and self.xpub is not None:
            record = self.records[cmd[1] - 1]
            self.xpub.send_multipart([record["topic"].encode(), pt.packb(record)])
        elif cmd[0] == "heartbeat" and self.xpub is not None:
            self.xpub.send_multipart([b"heartbeat/", pt.packb(
                {"aseq": len(self.records), "seq": 1, "at": AT0})])

    @staticmethod
    def _matches(topic, prefix):
        if prefix is None:
            return True
        prefixes = [prefix] if isinstance(prefix, str) else prefix
        return any(topic.startswith(p) for p in prefixes)

    def _answer(self, frames):
        identity, _, body = frames
        req = msgpack.unpackb(body, raw=False)
        op = req.get("op")
        reply = {"v": 1, "corr": req.get("corr"), "ok": True}
        with self._lock:
            records = list(self.records)
        if op == "alerts":
            self.queries.append(req)
            if self.mute:
                return
            last = len(records)
            start = max(req.get("from", 1), 1)
            to = min(req.get("to") or last, last)
            limit = req.get("limit", 1000)
            out, nxt = [], to + 1
            for r in records[start - 1:to]:
                if self._matches(r["topic"], req.get("prefix")):
                    out.append(r)
                    if len(out) == limit:
                        nxt = r["aseq"] + 1
                        break
            reply.update(alerts=out, next=nxt, last_aseq=last)
        elif op == "alerts_active":
            newest = {}
            for r in records:
                if self._matches(r["topic"], req.get("prefix")):
                    newest[r["key"]] = r
            active = [dict(r, silenced=False) for k, r in sorted(newest.items())
                      if r["state"] != "resolved"]
            reply.update(alerts=active, total=len(active), last_aseq=len(records))
        elif op == "silences":
            reply.update(silences=[{"alert": "alert/behind/acme/west/", "author": "li.wei",
                                    "reason": "known: two reps on leave", "until": None,
                                    "seq": 77}])
        elif op == "status":
            reply.update(time_zone="Asia/Shanghai", last_seq=0)
        else:
            reply = {"v": 1, "corr": req.get("corr"), "ok": False, "error": "unknown_op",
                     "message": "unknown op %r" % op}
        self.router.send_multipart([identity, b"", pt.packb(reply)])


class Webhook:
    """An HTTP endpoint on loopback. script: {aseq: [behaviour, ...]} for successive attempts
    at that alert, each "ok", "500", "503", "429" (Retry-After: 1), "400", "404" or "timeout"
    (no answer for `hang` seconds, then the connection is closed). Further attempts: "ok".

    attempts: every request as (aseq, idempotency key); delivered: the success log, one entry
    per accepted alert, in the order accepted; replays: requests for a key already accepted."""

    def __init__(self, script=None, hang=2.0):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.hang = hang
        self.attempts = []
        self.delivered = []
        self.bodies = {}
        self.headers = {}
        self.replays = 0
        self.lock = threading.Lock()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key")
                doc = json.loads(body)
                aseq = doc["aseq"]
                with hook.lock:
                    hook.attempts.append((aseq, key))
                    steps = hook.script.get(aseq)
                    step = steps.pop(0) if steps else "ok"
                if step == "timeout":
                    time.sleep(hook.hang)
                    self.close_connection = True
                    return
                if step != "ok":
                    self.send_response(int(step))
                    if step == "429":
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "5")
                    self.end_headers()
                    self.wfile.write(b"nope\n")
                    return
                with hook.lock:
                    if any(k == key for _, k in hook.delivered):
                        hook.replays += 1
                    else:
                        hook.delivered.append((aseq, key))
                        hook.bodies[aseq] = doc
                        hook.headers[aseq] = dict(self.headers)
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def delivered_aseqs(self):
        with self.lock:
            return [a for a, _ in self.delivered]

    def wait_delivered(self, n, timeout=60):
        pt.wait_until(lambda: len(self.delivered) >= n, timeout, "%d deliveries (have %r)"
                      % (n, self.delivered_aseqs()))


class Notify:
    """A `pacer notify` process."""

    def __init__(self, fake, webhook, cursor, extra=()):
        self.argv = [pt.PACER, "notify", "--webhook", webhook.url, "--cursor", cursor,
                     "--timeout", "0.5", "--request-timeout", "0.5", "--max-backoff", "0.2"]
        self.argv += fake.cli_args() + list(extra)
        self.out_path = cursor + ".out"
        self.err_path = cursor + ".err"
        self.proc = None

    def start(self):
        self.out = open(self.out_path, "ab")
        self.err = open(self.err_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.out, stderr=self.err,
                                     preexec_fn=pt._die_with_parent)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(30)
        self.out.close()
        self.err.close()
        return rc

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def read_cursor(path):
    """The aseq of pacer notify's cursor file ("<aseq> <epoch>\n")."""
    with open(path) as f:
        return int(f.read().split()[0])


def read_cursor_epoch(path):
    """The outbox epoch of pacer notify's cursor file; 0 when it holds none."""
    with open(path) as f:
        fields = f.read().split()
    return int(fields[1]) if len(fields) > 1 else 0


def cursor_exists(path):
    return os.path.exists(path)
