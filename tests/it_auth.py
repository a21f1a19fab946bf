"""Integration tests: authentication and roles (docs/PROTOCOL.md, "Authentication").

Against real pacerd processes started with --keys and --server-key, with key pairs made by
`pacer keygen`: a client without a key, with an unknown key or with the wrong server key is
refused with a clear error and appends nothing; each role is refused what it may not do with
`forbidden`; every appended record carries the authenticated principal, whatever the events
say, and the hash chain (version 2 records) covers it; the keys file is read again when it
changes and on SIGHUP; a non-loopback endpoint without authentication is refused; and a log of
version 1 records written without authentication goes on, and verifies, with authentication on.
"""

import hashlib
import itertools
import json
import os
import re
import signal
import struct
import subprocess
import time
import urllib.request

import pacertest as pt
from pacertest import expect_ok

import msgpack
import zmq

ROLES = {"crm": "producer", "bi": "reader", "boss": "admin"}


def chain_hash_v2(prev, seq, recorded_at, principal, event_bytes):
    """PROTOCOL.md, "The log and its hash chain", version 2."""
    p = principal.encode()
    h = hashlib.blake2b(digest_size=32)
    h.update(prev)
    h.update(struct.pack(">Qq", seq, recorded_at))
    h.update(bytes([2, len(p)]))
    h.update(p)
    h.update(event_bytes)
    return h.digest()


def verify_mixed_chain(records):
    """Records from `events` with raw: true, of either version; returns the last hash."""
    prev = pt.ZERO_HASH
    for r in records:
        if "principal" in r:
            h = chain_hash_v2(prev, r["seq"], r["recorded_at"], r["principal"], r["event"])
        else:
            h = pt.chain_hash(prev, r["seq"], r["recorded_at"], r["event"])
        if h != r["hash"]:
            raise AssertionError("seq %d: hash does not match" % r["seq"])
        prev = h
    return prev


def public_key(path):
    with open(path) as f:
        return re.search(r'public-key = "(.{40})"', f.read()).group(1)


def secret_key(path):
    with open(path + "_secret") as f:
        return re.search(r'secret-key = "(.{40})"', f.read()).group(1)


class Keys:
    """Key pairs made with `pacer keygen --out`, and a keys file."""

    def __init__(self):
        self.dir = pt.make_temp_dir("keys")
        for name in ["server", "stranger"] + list(ROLES):
            r = pt.run_cli(["keygen", "--out", self.path(name)])
            assert r.returncode == 0, r.stderr
            assert public_key(self.path(name)) in r.stdout
        self.file = os.path.join(self.dir, "keys")
        self.write(ROLES)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, roles, text=None):
        """The keys file, replaced at once (a new inode: the daemon sees a change)."""
        if text is None:
            text = "# it_auth\n" + "".join("%s %s %s\n" % (public_key(self.path(n)), role, n)
                                           for n, role in roles.items())
        tmp = self.file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.file)

    def cli(self, name, server="server"):
        """pacer's key options for `name` (None: none)."""
        if name is None:
            return []
        return ["--key", self.path(name), "--server-key", self.path(server)]


class CurveClient(pt.Client):
    """pacertest's Client, with CURVE keys set before it connects."""

    def __init__(self, endpoint, keys, name, server_key=None, timeout=pt.REQUEST_TIMEOUT,
                 daemon=None):
        self.endpoint = endpoint
        self.timeout = timeout
        self.daemon = daemon
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if name is not None:
            self.sock.curve_publickey = public_key(keys.path(name)).encode()
            self.sock.curve_secretkey = secret_key(keys.path(name)).encode()
            self.sock.curve_serverkey = (server_key or public_key(keys.path("server"))).encode()
        self.sock.connect(endpoint)
        self._corr = itertools.count(1)


class AuthDaemon(pt.Daemon):
    """pacerd with --keys and --server-key; start-up is checked with the admin's key."""

    def __init__(self, keys, **kw):
        self.keys = keys
        extra = ["--keys", keys.file, "--server-key", keys.path("server")]
        super().__init__(extra_args=extra + list(kw.pop("extra_args", [])), **kw)

    def wait_ready(self, timeout=pt.START_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.as_("boss", "query", timeout=1) as c:
            c.send({"v": 1, "op": "status"})
            while True:
                if c.poll(0.1):
                    return expect_ok(c.recv_reply(0))
                rc = self.proc.poll()
                if rc is not None:
                    self._reap(rc)
                    raise pt.DaemonExited("pacerd exited with %d during start-up; log:\n%s"
                                          % (rc, self.log_tail()))
                if time.monotonic() > deadline:
                    raise AssertionError("pacerd did not answer status within %.0f s; log:\n%s"
                                         % (timeout, self.log_tail()))

    def as_(self, name, which="append", server_key=None, timeout=pt.REQUEST_TIMEOUT):
        ep = {"append": self.append_ep, "query": self.query_ep}[which]
        return CurveClient(ep, self.keys, name, server_key, timeout, daemon=self)

    def status(self):
        with self.as_("boss", "query") as c:
            return expect_ok(c.status())


class AuthTest(pt.PacerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.keys = Keys()

    def setUp(self):
        self.keys.write(ROLES)

    def start_auth(self, **kw):
        d = AuthDaemon(self.keys, **kw)
        self._daemons.append(d)
        self.addCleanup(self._stop_at_end, d)
        d.start()
        return d

    def cli(self, d, name, args, server="server", input=None):
        return pt.run_cli(args + pt.cli_append_args(d) + self.keys.cli(name, server) +
                          ["--timeout", "60"], input=input)

    def assertForbidden(self, reply, *words):
        self.assertIs(reply["ok"], False, reply)
        self.assertEqual(reply["error"], "forbidden", reply)
        for w in words:
            self.assertIn(w, reply["message"])

    def org(self, d):
        """acme > east > zhang, appended by the admin."""
        with d.as_("boss") as c:
            expect_ok(c.append([pt.node_defined(node="acme", kind="company", name="ACME",
                                                 parent=None, owner="ceo"),
                                pt.node_defined(),
                                pt.node_defined(node="zhang", kind="rep", name="Zhang San",
                                                parent="east", owner=None)]))

    # ---------------------------------------------------------------------------------------

    def test_no_key_unknown_key_wrong_server_key_are_refused(self):
        d = self.start_auth()
        before = d.status()["last_seq"]
        lines = json.dumps(pt.sale_closed()) + "\n"
        cases = [
            (None, "server", "pacerd requires authentication"),
            ("stranger", "server", "refused this client's key"),
            ("crm", "stranger", "the handshake with pacerd at %s fails" % d.append_ep),
        ]
        for name, server, words in cases:
            with self.subTest(key=name, server=server):
                r = self.cli(d, name, ["append", "-"], server=server, input=lines)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(words, r.stderr)
                self.assertNotIn("no reply", r.stderr)  # said at once, not after the timeout
                r = self.cli(d, name, ["status"], server=server)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(words.replace(d.append_ep, d.query_ep), r.stderr)
        # the wire: an unknown key never gets a reply, and pacerd logs why
        with d.as_("stranger") as c:
            c.send({"v": 1, "op": "append", "events": [pt.sale_closed()]})
            self.assertFalse(c.poll(1.0))
        pt.wait_until(lambda: "key not in the keys file" in d.log_text(), 10, "the refusal log")
        self.assertEqual(d.status()["last_seq"], before, "something was appended")
        # a key file that does not load is said before anything is sent
        r = pt.run_cli(["status", "--query", d.query_ep, "--key", "/nonexistent",
                        "--server-key", self.keys.path("server")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("key file /nonexistent", r.stderr)

    def test_each_role_is_refused_what_it_may_not_do(self):
        d = self.start_auth()
        self.org(d)
        before = d.status()["last_seq"]
        with d.as_("bi") as reader, d.as_("crm") as producer, \
                d.as_("crm", "query") as producer_q:
            self.assertForbidden(reader.append([pt.sale_closed()]),
                                 "bi has the role reader, which may not append",
                                 "needs a producer or admin key")
            self.assertForbidden(producer.call("rebuild"),
                                 "crm has the role producer, which may not rebuild",
                                 "needs an admin key")
            self.assertForbidden(producer.call("tick", now=pt.T0), "may not tick")
            self.assertForbidden(producer.call("allocate", id="a1", occurred_at=pt.T0,
                                               scope="east", metric="revenue",
                                               period="2026-Q4", method="equal",
                                               author="crm"), "may not allocate")
            # a decision among sales: the whole request is refused
            self.assertForbidden(producer.append([pt.sale_closed(), pt.target_set()]),
                                 "may not append target_set events (event 1, id",
                                 "needs an admin key")
            self.assertForbidden(producer.append([pt.alert_silenced()], atomic=True),
                                 "alert_silenced")
            self.assertForbidden(producer_q.events(), "may not run the events query",
                                 "needs a reader or admin key")
            # status is anyone's, and says who the caller is
            st = expect_ok(producer_q.status())
            self.assertEqual((st["principal"], st["role"]), ("crm", "producer"))
        self.assertEqual(d.status()["last_seq"], before, "a refused request appended")
        # the CLI says it too, exit status 1 (refused)
        r = self.cli(d, "crm", ["rebuild"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("forbidden: crm has the role producer, which may not rebuild", r.stderr)
        r = self.cli(d, "bi", ["append", "-"], input=json.dumps(pt.sale_closed()) + "\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("forbidden: bi has the role reader", r.stdout + r.stderr)
        # and each may do its own
        with d.as_("crm") as producer, d.as_("boss") as admin, d.as_("bi", "query") as reader:
            self.assertAppended(producer.append([pt.sale_closed(rep="zhang")]), 1)
            self.assertAppended(admin.append([pt.target_set()]), 1)
            expect_ok(admin.call("rebuild"))
            expect_ok(reader.call("progress", period="2026-Q4"))
        self.assertEqual(d.status()["last_seq"], before + 2)

    def test_the_principal_is_the_authenticated_one(self):
        d = self.start_auth()
        self.org(d)
        # a subscriber with the reader's key sees the principal; a producer may not subscribe
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.curve_publickey = public_key(self.keys.path("bi")).encode()
        sub.curve_secretkey = secret_key(self.keys.path("bi")).encode()
        sub.curve_serverkey = public_key(self.keys.path("server")).encode()
        sub.setsockopt(zmq.SUBSCRIBE, b"event/")
        sub.connect(d.publish_ep)
        self.addCleanup(sub.close, 0)
        time.sleep(0.5)  # the subscription reaches the XPUB
        forged = pt.sale_closed(source="boss")
        with d.as_("crm") as c:
            # what the request says of itself changes nothing
            reply = expect_ok(c.call("append", events=[forged], principal="boss"))
        seq = reply["results"][0]["seq"]
        with d.as_("boss") as c:
            expect_ok(c.append([pt.target_set(author="crm")]))
        self.assertTrue(sub.poll(10000), "no event/ message for the subscriber")
        topic, body = sub.recv_multipart()
        self.assertEqual(topic, b"event/sale_closed/")
        msg = msgpack.unpackb(body, raw=False)
        self.assertEqual((msg["seq"], msg["principal"]), (seq, "crm"))
        r = pt.run_cli(["tail", "--publish", d.publish_ep] + pt.cli_query_args(d) +
                       self.keys.cli("crm"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("refused this client's key", r.stderr)
        self.assertIn("may subscribe", d.log_text())

        with d.as_("bi", "query") as c:
            log = pt.read_log(c, raw=True)
            decoded = pt.read_log(c)
        self.assertEqual([r.get("principal") for r in log], ["boss"] * 3 + ["crm", "boss"])
        self.assertEqual(decoded[3]["event"]["source"], "boss")  # stored as sent
        verify_mixed_chain(log)
        # pacer events prints it; pacer verify walks the version 2 records
        r = pt.run_cli(["events"] + pt.cli_query_args(d) + self.keys.cli("bi"))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(lines[3]["principal"], "crm")
        self.stop_ok(d)
        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok: 5 records, chain intact", r.stdout)

    def test_keys_file_reload(self):
        d = self.start_auth()
        self.org(d)
        with d.as_("crm") as crm:
            self.assertAppended(crm.append([pt.sale_closed()]), 1)
            # the file changes (its mtime, size, inode): no signal needed
            self.keys.write({"crm": "reader", "bi": "reader", "boss": "admin",
                             "stranger": "producer"})
            pt.wait_until(lambda: "4 keys (1 producer, 2 reader, 1 admin)" in d.log_text(), 10,
                          "the reload")
            # the same connection has the new role at its next request
            self.assertForbidden(crm.append([pt.sale_closed()]), "crm has the role reader")
            with d.as_("stranger") as stranger:
                reply = expect_ok(stranger.append([pt.sale_closed()]))
            # a key removed: its next request is nobody's
            self.keys.write({"bi": "reader", "boss": "admin"})
            pt.wait_until(lambda: "2 keys (0 producer, 1 reader, 1 admin)" in d.log_text(), 10,
                          "the second reload")
            self.assertForbidden(crm.append([pt.sale_closed()]), "not in pacerd's keys file")
        with d.as_("bi", "query") as c:
            log = pt.read_log(c)
        self.assertEqual(log[-1]["seq"], reply["results"][0]["seq"])
        self.assertEqual(log[-1]["principal"], "stranger")

        # SIGHUP reads it at once; a file that does not parse keeps the keys in force
        self.keys.write(None, text="this is not a key\n")
        d.send_signal(signal.SIGHUP)
        pt.wait_until(lambda: "line 1: expected <public key> <role> [name]" in d.log_text(), 10,
                      "the refused reload")
        self.assertIn("the keys loaded before stay in force", d.log_text())
        self.assertEqual(d.status()["role"], "admin")
        self.keys.write(ROLES)
        d.send_signal(signal.SIGHUP)
        pt.wait_until(lambda: d.log_text().count("3 keys (1 producer, 1 reader, 1 admin)") >= 2,
                      10, "the reload on SIGHUP")
        with d.as_("crm") as crm:
            self.assertAppended(crm.append([pt.sale_closed()]), 1)

    def test_settings_refused_before_anything_is_created(self):
        port = pt.free_ports(1)[0]
        cases = [
            (["--append", "tcp://0.0.0.0:%d" % port],
             "refusing to serve the append endpoint tcp://0.0.0.0:%d without authentication"
             % port),
            (["--publish", "tcp://*:%d" % port], "--insecure-bind-anywhere"),
            (["--keys", self.keys.file], "--keys without --server-key"),
            (["--keys", self.keys.file, "--server-key", self.keys.path("bi") + "_nope"],
             "missing, unreadable or not a certificate"),
        ]
        bad_keys = os.path.join(self.keys.dir, "bad-keys")
        with open(bad_keys, "w") as f:
            f.write("%s writer crm\n" % public_key(self.keys.path("crm")))
        cases.append((["--keys", bad_keys, "--server-key", self.keys.path("server")],
                      "line 1: role \"writer\": expected producer, reader or admin"))
        for args, words in cases:
            with self.subTest(args=args):
                state = os.path.join(pt.make_temp_dir("refused"), "state")
                r = subprocess.run([pt.PACERD, "--state-dir", state] + args,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(words, r.stderr)
                self.assertFalse(os.path.exists(state), "created before the refusal")
        # told explicitly, it serves anywhere without keys; with keys it needs no telling
        port = pt.free_ports(1)[0]
        d = self.start_daemon(extra_args=["--append", "tcp://0.0.0.0:%d" % port,
                                          "--insecure-bind-anywhere"])
        self.assertIn("authentication: off", d.log_text())
        with pt.Client("tcp://127.0.0.1:%d" % port) as c:
            self.assertAppended(c.append([pt.sale_closed()]), 1)
        port = pt.free_ports(1)[0]
        a = self.start_auth(extra_args=["--append", "tcp://0.0.0.0:%d" % port])
        self.assertIn("authentication: CURVE on every endpoint", a.log_text())
        with CurveClient("tcp://127.0.0.1:%d" % port, self.keys, "crm") as c:
            self.assertAppended(c.append([pt.sale_closed()]), 1)

    def test_dashboard_reads_in_process(self):
        # the dashboard asks the query actor over inproc, which has no handshake: a reader
        port = pt.free_ports(1)[0]
        d = self.start_auth(extra_args=["--dashboard", "127.0.0.1:%d" % port])
        self.org(d)
        with urllib.request.urlopen("http://127.0.0.1:%d/api/alerts" % port, timeout=60) as r:
            body = json.loads(r.read())
        self.assertIs(body["ok"], True, body)

    def test_old_log_goes_on_and_verifies(self):
        # version 1 records: a pacerd without authentication
        d = self.start_daemon()
        with d.client() as c:
            self.assertAppended(c.append([pt.sale_closed() for _ in range(3)]), 3, 1)
        self.stop_ok(d)
        # the same state directory with authentication: version 2 records after them
        a = AuthDaemon(self.keys, state_dir=d.state_dir)
        self._daemons.append(a)
        self.addCleanup(self._stop_at_end, a)
        a.start()
        with a.as_("crm") as c:
            self.assertAppended(c.append([pt.sale_closed() for _ in range(2)]), 2, 4)
        with a.as_("bi", "query") as c:
            log = pt.read_log(c, raw=True)
        self.assertEqual([r.get("principal") for r in log], [None] * 3 + ["crm"] * 2)
        verify_mixed_chain(log)
        self.stop_ok(a)
        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok: 5 records, chain intact", r.stdout)
        # and back without authentication: both versions read
        d.start()
        with d.client("query") as c:
            log = pt.read_log(c)
        self.assertEqual(len(log), 5)
        self.assertEqual(log[4]["principal"], "crm")


if __name__ == "__main__":
    pt.main()
