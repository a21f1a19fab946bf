"""pacer notify: every alert reaches the web hook exactly once, in order, through 500s, 429s,
timeouts, a refused alert, notify being killed and restarted, and the daemon restarting.

The daemon here is alerttest.FakeAlertDaemon (an XPUB and a ROUTER speaking the Alerts part
of PROTOCOL.md), so these tests drive drops and restarts exactly; it_alert_clients.py does it
end to end with a real pacerd. The web hook is a python http.server on loopback."""

import json
import os
import signal
import time

import alerttest as at
import pacertest as pt

EAST = "alert/behind/acme/east/"


class NotifyTest(pt.PacerTestCase):

    def setUp(self):
        self.fake = at.FakeAlertDaemon().start()
        self.addCleanup(self.fake.stop)
        self.dir = pt.make_temp_dir("notify")
        self.cursor = os.path.join(self.dir, "cursor")

    def webhook(self, script=None, **kw):
        hook = at.Webhook(script, **kw)
        self.addCleanup(hook.close)
        return hook

    def notify(self, hook, extra=()):
        n = at.Notify(self.fake, hook, self.cursor, extra).start()
        self.addCleanup(lambda: n.proc.poll() is None and n.stop(signal.SIGKILL))
        return n

    def assertExactlyOnce(self, hook, aseqs):
        """The success log holds exactly these alerts, once each, in this order, each with
        the idempotency key of its record and the record's summary as `text`."""
        self.assertEqual(hook.delivered_aseqs(), aseqs)
        for aseq, key in hook.delivered:
            record = self.fake.records[aseq - 1]
            self.assertEqual(key, "%s#%d@%d" % (record["key"], aseq, record["at"]))
            body = hook.bodies[aseq]
            self.assertEqual(body["text"], record["summary"])
            self.assertEqual({k: v for k, v in body.items() if k != "text"}, record)
            self.assertEqual(hook.headers[aseq]["Content-Type"], "application/json")

    def test_failures_are_retried_and_each_alert_lands_once(self):
        for _ in range(4):
            self.fake.raise_alert(EAST, publish=False)      # history before notify starts
        hook = self.webhook({2: ["500", "503", "ok"], 3: ["timeout", "ok"], 5: ["429", "ok"],
                             7: ["400"], 9: ["timeout", "500", "timeout", "ok"]}, hang=1.0)
        n = self.notify(hook, ["--since", "1", "--json"])
        self.fake.wait_subscribed(2)
        for i in range(5, 13):
            self.fake.raise_alert(EAST, publish=i % 3 != 0)  # every third one dropped
        self.fake.heartbeat()
        hook.wait_delivered(11)
        pt.wait_until(lambda: os.path.exists(self.cursor) and at.read_cursor(self.cursor) == 12,
                      30, "the cursor at 12")
        self.assertEqual(n.stop(), 0)
        self.assertExactlyOnce(hook, [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12])
        attempts = [a for a, _ in hook.attempts]
        self.assertEqual(attempts.count(2), 3)
        self.assertEqual(attempts.count(3), 2)
        self.assertEqual(attempts.count(5), 2)
        self.assertEqual(attempts.count(7), 1, "a 400 is not retried")
        self.assertEqual(attempts.count(9), 4)
        self.assertEqual(hook.replays, 0, "nothing was sent again after it was accepted")
        err = n.stderr()
        self.assertIn("#7 behind/east/revenue/2026-11: HTTP 400", err)
        self.assertIn("skipped", err)
        self.assertIn("HTTP 500 (attempt 1); retrying", err)
        log = [json.loads(line) for line in n.stdout().splitlines()]
        self.assertEqual([(e["aseq"], e["outcome"], e["http"]) for e in log],
                         [(a, "skipped" if a == 7 else "delivered", 400 if a == 7 else 200)
                          for a in range(1, 13)])
        self.assertEqual(log[1]["attempts"], 3)

    def test_killed_notify_resumes_from_its_cursor(self):
        hook = self.webhook({4: ["timeout", "ok"]}, hang=0.3)
        n = self.notify(hook, ["--since", "1"])
        self.fake.wait_subscribed(2)
        for _ in range(6):
            self.fake.raise_alert(EAST)
        hook.wait_delivered(6)
        pt.wait_until(lambda: at.read_cursor(self.cursor) == 6, 30, "the cursor at 6")
        self.assertEqual(n.stop(signal.SIGKILL), -signal.SIGKILL)

        # Raised while nobody listens.
        for _ in range(4):
            self.fake.raise_alert(EAST)
        subs = self.fake.subscriptions
        n2 = self.notify(hook)          # --since is ignored now: the cursor file decides
        hook.wait_delivered(10)
        self.fake.wait_subscribed(2, since=subs)
        # Killed again, this time in the middle of a stream; some alerts may be in flight.
        for _ in range(10):
            self.fake.raise_alert(EAST)
        pt.wait_until(lambda: len(hook.delivered) >= 13, 30, "a few more deliveries")
        n2.stop(signal.SIGKILL)
        n3 = self.notify(hook)
        hook.wait_delivered(20)
        pt.wait_until(lambda: at.read_cursor(self.cursor) == 20, 30, "the cursor at 20")
        self.assertEqual(n3.stop(), 0)
        self.assertExactlyOnce(hook, list(range(1, 21)))
        # A kill between the endpoint's 200 and the cursor's rename may send that one alert
        # again (the endpoint knows it by its key); nothing persisted is ever sent again.
        self.assertLessEqual(hook.replays, 1)
        attempts = [a for a, _ in hook.attempts]
        self.assertTrue(all(attempts.count(a) <= 3 for a in range(1, 21)), attempts)

    def test_daemon_restart_and_prefixes(self):
        hook = self.webhook()
        n = self.notify(hook, ["--since", "1", "behind/acme/east/"])
        self.fake.wait_subscribed(2)
        self.fake.raise_alert(EAST)                              # 1
        self.fake.raise_alert("alert/behind/acme/west/")         # 2: not ours
        self.fake.raise_alert(EAST + "t3/rep-42/")               # 3
        hook.wait_delivered(2)
        self.fake.down()
        self.fake.raise_alert(EAST)                              # 4: raised while down
        self.fake.raise_alert("alert/at_risk/acme/east/")        # 5: not ours
        subs = self.fake.subscriptions
        time.sleep(0.2)
        self.fake.up()
        self.fake.wait_subscribed(2, since=subs)
        self.fake.heartbeat()
        hook.wait_delivered(3)
        pt.wait_until(lambda: at.read_cursor(self.cursor) == 5, 30, "the cursor past 5")
        self.assertEqual(n.stop(), 0)
        self.assertExactlyOnce(hook, [1, 3, 4])
        for q in self.fake.queries:
            self.assertEqual(q.get("prefix"), [EAST], q)

    def test_first_start_without_since_begins_now(self):
        for _ in range(3):
            self.fake.raise_alert(EAST, publish=False)
        hook = self.webhook()
        n = self.notify(hook)
        pt.wait_until(lambda: os.path.exists(self.cursor), 30, "the cursor file")
        self.assertEqual(at.read_cursor(self.cursor), 3)
        self.fake.wait_subscribed(2)
        self.fake.raise_alert(EAST)
        hook.wait_delivered(1)
        self.assertEqual(n.stop(), 0)
        self.assertExactlyOnce(hook, [4])

    def test_bad_arguments_and_cursor(self):
        hook = self.webhook()
        r = pt.run_cli(["notify", "--cursor", self.cursor] + self.fake.cli_args())
        self.assertEqual(r.returncode, 2)
        self.assertIn("--webhook and --cursor are required", r.stderr)
        r = pt.run_cli(["notify", "--webhook", "ftp://x", "--cursor", self.cursor])
        self.assertEqual(r.returncode, 2)
        with open(self.cursor, "w") as f:
            f.write("twelve\n")
        r = pt.run_cli(["notify", "--webhook", hook.url, "--cursor", self.cursor]
                       + self.fake.cli_args())
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not hold a cursor", r.stderr)
        r = pt.run_cli(["notify", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("Idempotency-Key", r.stdout)


if __name__ == "__main__":
    pt.main()
