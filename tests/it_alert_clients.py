"""Alert clients against a real pacerd: `pacer tail` (live, late, with a prefix, killed and
resumed) and `pacer notify` (killed and resumed from its cursor file) while pacerd raises a
stream of alerts and is killed with -9 in the middle of it. Every client ends with every alert
of its prefixes exactly once, in aseq order, equal to what the `alerts` query returns.

Time is driven with `pacer tick` on a pacerd started with --manual-clock. Five reps with a
revenue target for November 2026 and almost no sales are behind from mid-month; `pacer rule
set lag repeat_hours 1` makes every behind alert repeat each hour, so each hourly tick raises
a few alerts (firing, then repeats)."""

import datetime
import json
import os
import signal
import subprocess
import threading

import alerttest as at
import pacertest as pt
from pacertest import expect_ok

H = 3600 * 1000
DAY = 24 * H
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
NOV2 = int(datetime.datetime(2026, 11, 2, tzinfo=SHANGHAI).timestamp() * 1000)  # a Monday
REPS = ["rep-%d" % i for i in range(1, 6)]


def org():
    at_ = NOV2 - 30 * DAY
    events = [
        pt.node_defined(node="acme", kind="company", name="ACME", parent=None, owner="ceo",
                        occurred_at=at_),
        pt.node_defined(node="east", kind="region", name="East", parent="acme", owner="li.wei",
                        occurred_at=at_),
        pt.node_defined(node="t3", kind="team", name="Team 3", parent="east", owner="boss3",
                        occurred_at=at_),
    ]
    for rep in REPS:
        events.append(pt.node_defined(node=rep, kind="rep", name=rep, parent="t3", owner=rep,
                                      occurred_at=at_))
        events.append(pt.target_set(scope=rep, metric="revenue", period="2026-11",
                                    floor=70000000, target=100000000, stretch=120000000,
                                    currency="CNY", occurred_at=NOV2 - DAY))
        events.append(pt.sale_closed(rep=rep, amount=1000000, occurred_at=NOV2 + 10 * H,
                                     product_line=None, margin=None))
    return events


class Tail:
    """A `pacer tail --json` process; a thread collects the records it prints."""

    def __init__(self, d, *args):
        self.argv = [pt.PACER, "tail", "--json", "--timeout", "0.5", "--publish", d.publish_ep,
                     "--query", d.query_ep] + list(args)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=pt._die_with_parent)
        self.records = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.records.append(json.loads(line))

    def aseqs(self):
        return [r["aseq"] for r in self.records]

    def wait_for(self, aseq, timeout=60):
        pt.wait_until(lambda: self.records and self.records[-1]["aseq"] >= aseq, timeout,
                      "tail %r to reach aseq %d (has %r)" % (self.argv[3:], aseq, self.aseqs()))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(30)
        self.thread.join(10)
        self.close()
        return rc

    def close(self):
        self.proc.stdout.close()
        self.proc.stderr.close()


class AlertClients(pt.PacerTestCase):

    def daemon(self, **kw):
        return self.start_daemon(extra_args=["--manual-clock", "--tick", "0"], **kw)

    def tick(self, d, now):
        r = pt.run_cli(["tick", "--now", str(now), "--json"] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def all_alerts(self, d, prefix=None):
        out, start = [], 1
        with d.client("query") as c:
            while True:
                fields = {"from": start, "limit": 100}
                if prefix:
                    fields["prefix"] = prefix
                page = expect_ok(c.call("alerts", **fields))
                out += page["alerts"]
                if len(page["alerts"]) < 100 and page["next"] > page["last_aseq"]:
                    return out
                start = page["next"]

    def test_every_client_gets_every_alert_once_through_kills(self):
        d = self.daemon()
        with d.client() as c:
            r = expect_ok(c.append(org()))
            self.assertEqual(r["rejected"], 0, r)
        r = pt.run_cli(["rule", "set", "lag", "repeat_hours", "1", "--author", "ops",
                        "--reason", "a stream for the test"] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)

        live = Tail(d, "--since", "1")
        rep1 = "behind/acme/east/t3/rep-1/"
        mine = Tail(d, rep1, "--since", "1")
        hook = at.Webhook()
        self.addCleanup(hook.close)
        cursor = os.path.join(pt.make_temp_dir("notify"), "cursor")
        notify_args = ["notify", "--webhook", hook.url, "--cursor", cursor, "--since", "1",
                       "--timeout", "0.5", "--publish", d.publish_ep, "--query", d.query_ep]

        notify_log = open(cursor + ".log", "ab")
        self.addCleanup(notify_log.close)

        def start_notify():
            return subprocess.Popen([pt.PACER] + notify_args, stdout=notify_log,
                                    stderr=notify_log, preexec_fn=pt._die_with_parent)
        notify = start_notify()
        for t in (live, mine):
            self.addCleanup(lambda t=t: t.proc.poll() is None and t.stop(signal.SIGKILL))
        self.addCleanup(lambda: notify.poll() is None and notify.kill())

        now = NOV2 + 14 * DAY + 12 * H      # Monday the 16th, noon: every rep behind
        last = self.tick(d, now)["last_aseq"]
        self.assertGreaterEqual(last, len(REPS))
        mine_before = []
        for hour in range(1, 31):
            now += H
            last = self.tick(d, now)["last_aseq"]
            if hour == 8:
                # The prefix subscriber dies; it had handled what it printed, and resumes
                # after the last aseq it printed.
                mine.wait_for(1)
                mine.stop(signal.SIGKILL)
                mine_before = list(mine.records)
                mine = Tail(d, rep1, "--since", str(mine_before[-1]["aseq"] + 1))
                self.addCleanup(lambda t=mine: t.proc.poll() is None and t.stop(signal.SIGKILL))
            if hour == 12:
                notify.kill()
                notify.wait()
            if hour == 16:
                notify = start_notify()
            if hour == 20:
                # Killed right after a tick committed: its alerts may never have been
                # published; the clients read them back once pacerd is up again.
                d.kill()
                self.restart(d)
        self.assertGreater(last, 5 * 30)

        everything = self.all_alerts(d)
        self.assertEqual([a["aseq"] for a in everything], list(range(1, last + 1)))
        ours = [a for a in everything if a["topic"].startswith("alert/" + rep1)]
        self.assertGreater(len(ours), 30)

        # A subscriber that joins at the end with --since 1 gets the same alerts.
        late = Tail(d, "--since", "1", "--count", str(last))
        self.assertEqual(late.proc.wait(60), 0, late.proc.stderr.read())
        late.thread.join(10)
        late.close()

        live.wait_for(last)
        mine.wait_for(ours[-1]["aseq"])
        hook.wait_delivered(last)
        pt.wait_until(lambda: at.read_cursor(cursor) == last, 30, "notify's cursor at the end")
        with d.client("query") as c:
            epoch = expect_ok(c.call("alerts", limit=1))["epoch"]
        self.assertEqual(at.read_cursor_epoch(cursor), epoch)
        self.assertEqual(live.stop(), 0)
        self.assertEqual(mine.stop(), 0)
        notify.send_signal(signal.SIGTERM)
        self.assertEqual(notify.wait(30), 0)

        self.assertEqual(live.records, everything)
        self.assertEqual(late.records, everything)
        self.assertEqual(mine_before + mine.records, ours)
        self.assertEqual(hook.delivered_aseqs(), list(range(1, last + 1)))
        self.assertLessEqual(hook.replays, 1, "only the alert in flight at the kill")
        for a in everything:
            self.assertEqual(hook.bodies[a["aseq"]], dict(a, text=a["summary"]))
        with_key = dict(hook.delivered)
        self.assertEqual(with_key[everything[0]["aseq"]],
                         "%s#%d@%d" % (everything[0]["key"], everything[0]["aseq"],
                                       everything[0]["at"]))

    def test_notify_follows_a_restored_and_a_replaced_state(self):
        """pacerd restored from an older backup of its state (the same outbox epoch, fewer
        alerts than notify's cursor), then started on a new state directory (another epoch):
        notify goes on from the restored outbox's last alert, then forwards the new outbox's
        alerts from aseq 1; its cursor file follows with the epoch; no alert is taken for an
        earlier one with the same key and aseq."""
        d = self.daemon()
        with d.client() as c:
            self.assertEqual(expect_ok(c.append(org()))["rejected"], 0)
        rule = ["rule", "set", "lag", "repeat_hours", "1", "--author", "ops", "--reason", "test"]
        r = pt.run_cli(rule + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        hook = at.Webhook()
        self.addCleanup(hook.close)
        base = pt.make_temp_dir("notify")
        cursor = os.path.join(base, "cursor")
        with open(os.path.join(base, "stderr"), "wb") as err:
            notify = subprocess.Popen(
                [pt.PACER, "notify", "--webhook", hook.url, "--cursor", cursor, "--since", "1",
                 "--timeout", "0.5", "--publish", d.publish_ep, "--query", d.query_ep],
                stdout=subprocess.DEVNULL, stderr=err, preexec_fn=pt._die_with_parent)
        self.addCleanup(lambda: notify.poll() is None and notify.kill())

        def cursor_at(aseq):
            pt.wait_until(lambda: os.path.exists(cursor) and at.read_cursor(cursor) == aseq, 30,
                          "notify's cursor at %d" % aseq)

        now = NOV2 + 14 * DAY + 12 * H
        first = self.tick(d, now)["last_aseq"]
        cursor_at(first)
        epoch = at.read_cursor_epoch(cursor)
        with d.client("query") as c:
            self.assertEqual(expect_ok(c.call("alerts", limit=1))["epoch"], epoch)
        copy = os.path.join(pt.make_temp_dir("backup"), "copy")
        r = pt.run_cli(["backup", copy] + pt.cli_query_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        for _ in range(3):
            now += H
            last = self.tick(d, now)["last_aseq"]
        self.assertGreater(last, first)
        cursor_at(last)
        d.stop()

        # Restored: the cursor moves back to the copy's last alert, and what the restored
        # pacerd raises next (numbered from there) is forwarded.
        restored = self.daemon(state_dir=copy, ports=d.ports)
        cursor_at(first)
        self.assertEqual(at.read_cursor_epoch(cursor), epoch)
        after = self.tick(restored, now + H)["last_aseq"]
        self.assertGreater(after, first)
        cursor_at(after)
        hook.wait_delivered(last + (after - first))
        restored.stop()

        # Replaced: a new state directory, another epoch; its alerts from aseq 1.
        fresh = self.daemon(ports=d.ports)
        with fresh.client() as c:
            self.assertEqual(expect_ok(c.append(org()))["rejected"], 0)
        # Another hour than the first tick's: the same keys and aseqs, raised at another time,
        # so new to the endpoint (the first tick's hour would raise the very same records).
        again = self.tick(fresh, NOV2 + 14 * DAY + 13 * H)["last_aseq"]
        self.assertGreater(again, 0)
        hook.wait_delivered(last + (after - first) + again)
        # The cursor file is written after the endpoint's answer, so it may lag the hook.
        pt.wait_until(lambda: at.read_cursor_epoch(cursor) not in (0, epoch)
                      and at.read_cursor(cursor) == again, 30,
                      "the new epoch and aseq %d in the cursor file" % again)
        self.assertEqual(hook.delivered_aseqs(),
                         list(range(1, last + 1)) + list(range(first + 1, after + 1))
                         + list(range(1, again + 1)))
        self.assertEqual(hook.replays, 0)
        notify.send_signal(signal.SIGTERM)
        self.assertEqual(notify.wait(30), 0)
        with open(os.path.join(base, "stderr")) as f:
            text = f.read()
        self.assertIn("restored from an older backup", text)
        self.assertIn("its state directory was replaced", text)

    def test_cli_against_pacerd(self):
        """pacer alerts, alerts --active, silence, silences, unsilence, tick on a real pacerd."""
        d = self.daemon()
        with d.client() as c:
            expect_ok(c.append(org()))
        out = self.tick(d, NOV2 + 14 * DAY + 12 * H)
        self.assertGreaterEqual(out["raised"], 5)
        r = pt.run_cli(["alerts", "--json"] + pt.cli_query_args(d))
        self.assertEqual([json.loads(l) for l in r.stdout.splitlines()], self.all_alerts(d))
        # Times in the daemon's zone (status says Asia/Shanghai), whatever this machine's.
        r = pt.run_cli(["alerts", "--active", "--prefix", "behind/"] + pt.cli_query_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("behind/rep-3/revenue/2026-11", r.stdout)
        self.assertIn("2026-11-16 12:00+08:00", r.stdout)    # when it started firing
        r = pt.run_cli(["silence", "behind/acme/east/t3/rep-1/", "--reason", "on leave",
                        "--author", "li.wei", "--until", str(NOV2 + 20 * DAY)]
                       + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        # With --manual-clock, silences are judged at the daemon's wall clock unless told.
        at_now = ["--now", str(NOV2 + 15 * DAY)]
        r = pt.run_cli(["silences", "--json"] + at_now + pt.cli_query_args(d))
        self.assertEqual([json.loads(l)["alert"] for l in r.stdout.splitlines()],
                         ["alert/behind/acme/east/t3/rep-1/"])
        r = pt.run_cli(["alerts", "--active", "--json", "--prefix", "behind/acme/east/t3/rep-1/"]
                       + at_now + pt.cli_query_args(d))
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([a["silenced"] for a in rows], [True])
        r = pt.run_cli(["unsilence", "behind/acme/east/t3/rep-1/", "--author", "li.wei"]
                       + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = pt.run_cli(["unsilence", "behind/acme/east/t3/rep-1/", "--author", "li.wei"]
                       + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_value", r.stderr)
        r = pt.run_cli(["tick", "--now", str(NOV2)] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 1, "a tick back in time is refused")
        r = pt.run_cli(["tick", "--now", str(NOV2 + 15 * DAY)] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^tick at .*: \d+ alerts? raised, last aseq \d+\n$")


if __name__ == "__main__":
    pt.main()
