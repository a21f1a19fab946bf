"""The alert commands of the CLI: tail, alerts, silences against alerttest.FakeAlertDaemon
(which speaks the Alerts part of PROTOCOL.md), and silence, unsilence, review and rule set,
which append events, against a real pacerd (the events land in the log as EVENTS.md says)."""

import json
import os
import signal
import subprocess
import time

import alerttest as at
import pacertest as pt

EAST = "alert/behind/acme/east/"


class FakeDaemonCommands(pt.PacerTestCase):

    def setUp(self):
        self.fake = at.FakeAlertDaemon().start()
        self.addCleanup(self.fake.stop)

    @staticmethod
    def reap(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    def cli(self, args, env=None):
        endpoints = self.fake.cli_args() if args[0] == "tail" else ["--query", self.fake.query_ep]
        return subprocess.run([pt.PACER] + args + endpoints, capture_output=True,
                              text=True, timeout=pt.CLI_TIMEOUT,
                              env=dict(os.environ, **(env or {})))

    def test_tail_since_replays_then_follows_live(self):
        for i in range(3):
            self.fake.raise_alert(EAST if i != 1 else "alert/at_risk/acme/west/",
                                  publish=False)
        proc = subprocess.Popen([pt.PACER, "tail", "--since", "1", "--json", "--count", "5",
                                 "--timeout", "0.5"] + self.fake.cli_args(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=pt._die_with_parent)
        self.addCleanup(self.reap, proc)
        lines = [proc.stdout.readline() for _ in range(3)]
        self.fake.raise_alert(EAST)
        self.fake.raise_alert(EAST, publish=False)       # dropped: read back after a heartbeat
        lines += [proc.stdout.readline() for _ in range(2)]
        self.assertEqual(proc.wait(30), 0)
        got = [json.loads(l) for l in lines]
        self.assertEqual(got, self.fake.records)

    def test_tail_prefix_and_readable_lines_in_the_daemons_zone(self):
        self.fake.raise_alert(EAST, publish=False)
        self.fake.raise_alert("alert/behind/acme/west/", publish=False)
        self.fake.raise_alert(EAST + "t3/", publish=False, state="resolved", severity="warning")
        # TZ=UTC here; the fake's status says Asia/Shanghai, and tail shows that zone.
        r = self.cli(["tail", "behind/acme/east/", "--since", "1", "--count", "2"],
                     env={"TZ": "UTC"})
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[0], "2026-11-18 16:01+08:00  #1    firing    critical  "
                         + self.fake.records[0]["summary"])
        self.assertTrue(lines[1].startswith("2026-11-18 16:03+08:00  #3    resolved  warning   "),
                        lines[1])
        r = self.cli(["tail", "--since", "3", "--count", "1", "--time-zone", "UTC"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("2026-11-18 08:03Z  #3    "), r.stdout)

    def test_tail_stops_on_sigterm(self):
        proc = subprocess.Popen([pt.PACER, "tail"] + self.fake.cli_args(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=pt._die_with_parent)
        self.addCleanup(self.reap, proc)
        self.fake.wait_subscribed(2)
        self.fake.raise_alert(EAST)
        line = proc.stdout.readline()
        self.assertIn("#1    firing", line)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(30), 0)

    def test_tail_says_when_pacerd_does_not_answer(self):
        self.fake.mute = True
        proc = subprocess.Popen([pt.PACER, "tail", "--since", "1", "--timeout", "0.2"]
                                + self.fake.cli_args(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=pt._die_with_parent)
        self.addCleanup(self.reap, proc)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(30), 0)
        err = proc.stderr.read()
        self.assertIn("no answer from %s" % self.fake.query_ep, err)
        self.assertEqual(err.count("no answer"), 1, "said once, not at every retry")

    def test_alerts_history_and_filters(self):
        self.fake.raise_alert(EAST)                                             # 1
        self.fake.raise_alert("alert/at_risk/acme/east/", severity="warning")   # 2
        self.fake.raise_alert("alert/behind/acme/west/")                        # 3
        self.fake.raise_alert(EAST, state="resolved", severity="info")          # 4
        r = self.cli(["alerts", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(l) for l in r.stdout.splitlines()], self.fake.records)
        r = self.cli(["alerts", "--json", "--prefix", "behind/", "--since", "2"])
        self.assertEqual([json.loads(l)["aseq"] for l in r.stdout.splitlines()], [3, 4])
        r = self.cli(["alerts", "--json", "--severity", "warning"])
        self.assertEqual([json.loads(l)["aseq"] for l in r.stdout.splitlines()], [1, 2, 3])
        r = self.cli(["alerts", "--limit", "2", "--time-zone", "Asia/Shanghai"])
        self.assertEqual(r.stdout.splitlines(), [
            "2026-11-18 16:01+08:00  #1    firing    critical  " + self.fake.records[0]["summary"],
            "2026-11-18 16:02+08:00  #2    firing    warning   " + self.fake.records[1]["summary"]])
        r = self.cli(["alerts", "--severity", "loud"])
        self.assertEqual(r.returncode, 2)

    def test_alerts_active_and_silences(self):
        self.fake.raise_alert(EAST)
        self.fake.raise_alert("alert/behind/acme/west/")
        self.fake.raise_alert("alert/behind/acme/west/", state="resolved")
        r = self.cli(["alerts", "--active", "--time-zone", "Asia/Shanghai"])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3, r.stdout)   # header, rule, one alert
        self.assertEqual(lines[0].split(), ["SEVERITY", "SINCE", "KEY", "SUMMARY"])
        self.assertIn("behind/east/revenue/2026-11", lines[2])
        r = self.cli(["alerts", "--active", "--json"])
        self.assertEqual([json.loads(l)["key"] for l in r.stdout.splitlines()],
                         ["behind/east/revenue/2026-11"])
        r = self.cli(["silences"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("alert/behind/acme/west/", r.stdout)
        self.assertIn("resolved", r.stdout)
        r = self.cli(["silences", "--json"])
        self.assertEqual(json.loads(r.stdout)["author"], "li.wei")


class ActionCommands(pt.PacerTestCase):
    """silence, unsilence, review and rule set append one event each."""

    def run_ok(self, d, args):
        r = pt.run_cli(args + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def stored(self, d, seq):
        with d.client("query") as q:
            return pt.read_log(q, from_seq=seq, limit=1)[0]["event"]

    def test_each_action_appends_its_event(self):
        d = self.start_daemon()
        env_author = os.environ.get("USER") or os.environ.get("LOGNAME")
        res = self.run_ok(d, ["silence", "behind/acme/east/", "--until",
                              "2026-11-20T18:00+08:00", "--reason", "offsite week",
                              "--author", "li.wei", "--json"])
        self.assertEqual(res["type"], "alert_silenced")
        self.assertRegex(res["id"], r"^silence:\d{13}:[0-9a-f]{8}$")
        ev = self.stored(d, res["seq"])
        self.assertEqual((ev["alert"], ev["author"], ev["reason"], ev["until"]),
                         ("alert/behind/acme/east/", "li.wei", "offsite week", 1795168800000))

        res = self.run_ok(d, ["silence", "behind/rep-42/revenue/2026-11",
                              "--reason", "on leave", "--json"])
        ev = self.stored(d, res["seq"])
        self.assertEqual(ev["alert"], "behind/rep-42/revenue/2026-11")
        self.assertNotIn("until", ev)
        if env_author:
            self.assertEqual(ev["author"], env_author)

        res = self.run_ok(d, ["unsilence", "alert/behind/acme/east/", "--author", "li.wei",
                              "--json"])
        ev = self.stored(d, res["seq"])
        self.assertEqual((ev["type"], ev["alert"]), ("alert_unsilenced", "alert/behind/acme/east/"))

        # A review names an anomaly flag pacerd raised; an unknown one is refused.
        r = pt.run_cli(["review", "anomaly/duplicate_order/crm:1", "--dismiss", "--reason",
                        "a re-keyed order", "--author", "ceo", "--json"] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(json.loads(r.stdout)["error"], "invalid_value")
        self.assertIn("refused: invalid_value", r.stderr)

        res = self.run_ok(d, ["rule", "set", "behind", "threshold", "0.75", "--metric",
                              "revenue", "--kind", "rep", "--author", "ceo", "--reason", "Q4",
                              "--json"])
        ev = self.stored(d, res["seq"])
        self.assertEqual((ev["type"], ev["rule"], ev["param"], ev["value"], ev["metric"],
                          ev["kind"]),
                         ("alert_rule_set", "behind", "threshold", 0.75, "revenue", "rep"))

        # An explicit --id makes a retry a duplicate.
        args = ["silence", "alert/", "--reason", "maintenance", "--id", "ops:m1", "--at",
                "2026-11-20T00:00Z"]
        r1 = pt.run_cli(args + pt.cli_append_args(d))
        r2 = pt.run_cli(args + pt.cli_append_args(d))
        self.assertIn("appended as seq", r1.stdout)
        self.assertIn("already in the log", r2.stdout)

    def test_usage_errors(self):
        for args, message in [
                (["silence", "alert/x/"], "--reason is required"),
                (["silence", "alert/x/", "--reason", "r", "--until", "+3w"], "+DURATION"),
                (["silence", "--reason", "r"], "expected one PREFIX|KEY"),
                (["review", "k", "--reason", "r"], "one of --confirm and --dismiss"),
                (["rule", "set", "behind", "threshold", "x", "--author", "a"], "expected a number"),
                (["rule", "get"], "expected the subcommand"),
                (["unsilence", "k", "--until", "2026-01-01"], "not an option of")]:
            r = pt.run_cli(args + ["--endpoint", "tcp://127.0.0.1:1"])
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr, args)
        for command in (["silence"], ["unsilence"], ["silences"], ["review"], ["rule", "set"],
                        ["tick"], ["tail"], ["alerts"], ["notify"]):
            r = pt.run_cli(command + ["--help"])
            self.assertEqual(r.returncode, 0, command)
            self.assertIn("usage: pacer " + " ".join(command), r.stdout)


if __name__ == "__main__":
    pt.main()
