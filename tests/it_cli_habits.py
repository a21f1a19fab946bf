"""The pacer CLI as people and scripts use it, against real pacerd processes:

- figures in each metric's unit as people read it (money in major units with its currency, with
  the ISO 4217 minor digits of that currency; counts; ratio metrics in percent) and --raw for
  pacerd's integers, in progress, leaderboard, target history and allocate;
- times in pacerd's time zone (its status names it) whatever the CLI's TZ, or in --time-zone's /
  $PACER_TIME_ZONE's;
- table columns aligned by display width, with Chinese names;
- options before the command and PACER_* environment variables, the nearest winning;
- --json on every command, --version, errors on stderr and exit statuses;
- a stopped or absent pacerd reported within about a second, not after the 30 s timeout."""

import datetime
import json
import os
import re
import subprocess
import time
import unicodedata

import pacertest as pt

CST = datetime.timezone(datetime.timedelta(hours=8))
NOW = "2026-11-15T12:00+08:00"


def ms(*args):
    """ms UTC of a wall-clock time in Asia/Shanghai."""
    return int(datetime.datetime(*args, tzinfo=CST).timestamp() * 1000)


def width(text):
    """Columns a terminal gives text: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(out, header_word):
    """The table whose header contains header_word, at the end of out: header, rule, rows."""
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if header_word in l)
    return lines[start], lines[start + 1], [l for l in lines[start + 2:] if l.strip()]


def organisation():
    """ACME with a Chinese-named region; one region sells in CNY, the other in JPY (no minor
    unit); targets of every unit: money, a count and a ratio (basis points)."""
    at = ms(2026, 10, 1)
    node = lambda n, kind, name, parent: pt.node_defined(  # noqa: E731
        node=n, kind=kind, name=name, parent=parent, owner=None, occurred_at=at)
    target = lambda scope, metric, t, currency=None, **kw: pt.target_set(  # noqa: E731
        scope=scope, metric=metric, period="2026-11", target=t, floor=None, stretch=None,
        currency=currency, occurred_at=at, **kw)
    return [
        [node("acme", "company", "ACME", None)],
        [node("east", "region", "华东大区", "acme"), node("west", "region", "West", "acme")],
        [node("zhang", "rep", "张三", "east"), node("wang", "rep", "Wang Wu", "east"),
         node("li", "rep", "李四", "west")],
        [target("east", "revenue", 10000000, "CNY"),
         target("zhang", "revenue", 6000000, "CNY"),
         target("wang", "revenue", 4000000, "CNY"),
         target("li", "revenue", 500000, "JPY"),
         target("zhang", "deals", 10),
         target("east", "collection_rate", 9500)],
        [pt.sale_closed(rep="zhang", amount=2000000, currency="CNY", order="z1",
                        occurred_at=ms(2026, 11, 2, 10)),
         pt.sale_closed(rep="zhang", amount=500000, currency="CNY", order="z2",
                        occurred_at=ms(2026, 11, 3, 10)),
         pt.sale_closed(rep="wang", amount=600000, currency="CNY", order="w1",
                        occurred_at=ms(2026, 11, 4, 10)),
         pt.sale_closed(rep="li", amount=120000, currency="JPY", order="l1",
                        occurred_at=ms(2026, 11, 4, 11))],
        [pt.payment_received(rep="zhang", order="z1", amount=1550000, currency="CNY",
                             occurred_at=ms(2026, 11, 5, 10))],
    ]


class CliCase(pt.PacerTestCase):

    def setUp(self):
        self.d = self.start_daemon()
        with self.d.client() as c:
            for stage in organisation():
                reply = pt.expect_ok(c.append(stage, atomic=True))
                self.assertEqual(reply["rejected"], 0, reply)

    def cli(self, *args, env=None, endpoints=True, input=None):
        """pacer args... pointed at the daemon (unless endpoints=False), with TZ=UTC so that
        nothing depends on this machine's zone; env adds to the environment."""
        argv = [pt.PACER] + list(args) + (pt.cli_append_args(self.d) if endpoints else [])
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PACER_")}
        environ.update({"TZ": "UTC"}, **(env or {}))
        return subprocess.run(argv, capture_output=True, text=True, env=environ, input=input,
                              timeout=pt.CLI_TIMEOUT, preexec_fn=pt._die_with_parent)

    def ok(self, *args, **kw):
        r = self.cli(*args, **kw)
        self.assertEqual(r.returncode, 0, "pacer %s:\n%s%s" % (" ".join(args), r.stdout,
                                                             r.stderr))
        return r.stdout


class Figures(CliCase):

    def row(self, out, path):
        found = [l for l in out.splitlines() if re.match(re.escape(path) + r"\s", l)]
        self.assertEqual(len(found), 1, "row %s in:\n%s" % (path, out))
        return found[0]

    def test_money_counts_and_ratios(self):
        out = self.ok("progress", "--period", "2026-11", "--scope", "east", "--now", NOW)
        revenue = [l for l in out.splitlines() if l.startswith("acme/east ") and " revenue " in l]
        rate = [l for l in out.splitlines() if " collection_rate " in l]
        deals = [l for l in out.splitlines() if l.startswith("acme/east/zhang ") and " deals " in l]
        self.assertIn("31,000.00 CNY", revenue[0])
        self.assertIn("100,000.00 CNY", revenue[0])
        self.assertIn("50.00%", rate[0])      # 15,500.00 collected of 31,000.00 sold
        self.assertIn("95.00%", rate[0])
        self.assertNotIn("CNY", rate[0])
        self.assertRegex(deals[0], r"acme/east/zhang\s+deals\s+2\s+10\s")
        zhang = [l for l in out.splitlines() if l.startswith("acme/east/zhang ")
                 and " revenue " in l][0]
        self.assertIn("25,000.00 CNY", zhang)
        self.assertIn("60,000.00 CNY", zhang)

        raw = self.ok("progress", "--period", "2026-11", "--scope", "east", "--now", NOW,
                      "--raw")
        revenue = [l for l in raw.splitlines() if l.startswith("acme/east ") and " revenue " in l]
        rate = [l for l in raw.splitlines() if " collection_rate " in l]
        self.assertRegex(revenue[0], r"\s3100000\s+10000000\s")
        self.assertRegex(rate[0], r"\s5000\s+9500\s")
        self.assertNotIn("CNY", raw)

    def test_currency_minor_digits_and_roll_ups(self):
        out = self.ok("progress", "--period", "2026-11", "--scope", "acme", "--metric",
                      "revenue", "--now", NOW)
        li = self.row(out, "acme/west/li")
        self.assertIn("120,000 JPY", li)     # the yen has no minor unit
        self.assertIn("500,000 JPY", li)
        # A roll-up has no target and so no currency: it takes the one the targets under it
        # agree on (west: JPY only), and shows no code when they do not (acme: CNY and JPY).
        self.assertIn("120,000 JPY", self.row(out, "acme/west"))
        acme = self.row(out, "acme")
        self.assertIn("32,200.00", acme)
        self.assertNotRegex(acme, r"CNY|JPY")

    def test_leaderboard_aligned_by_display_width(self):
        out = self.ok("leaderboard", "--level", "rep", "--period", "2026-11", "--metric",
                      "revenue", "--now", NOW)
        header, rule, rows = table(out, "RANK")
        self.assertEqual(len(rows), 3, out)
        for name in ("张三", "Wang Wu", "李四"):
            self.assertTrue(any(name in r for r in rows), out)
        # The last column is right-aligned: every line ends at the rule's width.
        for line in [header] + rows:
            self.assertEqual(width(line), len(rule), "misaligned:\n" + out)
        # And a cell after a Chinese name ends where its header does.
        zhang = [r for r in rows if "张三" in r][0]
        col = width(zhang[:zhang.index("25,000.00 CNY")]) + len("25,000.00 CNY")
        self.assertEqual(col, width(header[:header.index("ACTUAL")]) + len("ACTUAL"), out)

    def test_target_history_and_allocate(self):
        out = self.ok("target", "adjust", "--scope", "zhang", "--metric", "revenue", "--period",
                      "2026-11", "--target", "6500000", "--author", "vp", "--reason",
                      "bigger territory", "--at", "2026-11-10T09:30+08:00")
        out = self.ok("target", "history", "--scope", "zhang", "--metric", "revenue",
                      "--period", "2026-11")
        adjust = [l for l in out.splitlines() if " adjust " in l][0]
        self.assertIn("2026-11-10 09:30+08:00", adjust)   # pacerd's zone, not the CLI's UTC
        self.assertIn("60,000.00 CNY \u2192 65,000.00 CNY", adjust)
        out = self.ok("target", "history", "--scope", "zhang", "--metric", "revenue",
                      "--period", "2026-11", "--raw")
        self.assertIn("6000000 \u2192 6500000", out)

        out = self.ok("target", "allocate", "--scope", "east", "--metric", "revenue", "--period",
                      "2026-11", "--method", "equal", "--author", "vp", "--preview")
        self.assertRegex(out, r"wang\s+1\s+-\s+50,000\.00 CNY\s+-")
        self.assertRegex(out, r"total\s+-\s+100,000\.00 CNY\s+-")


class TimeZones(CliCase):

    def test_status_and_times_in_pacerds_zone(self):
        out = self.ok("status")
        self.assertIn("time zone   Asia/Shanghai (UTC+08:00 now)", out)
        self.assertRegex(out, r"started     \d{4}-\d\d-\d\d \d\d:\d\d[:.\d]*\+08:00, up ")
        self.assertEqual(json.loads(self.ok("status", "--json"))["time_zone"], "Asia/Shanghai")
        heading = self.ok("progress", "--period", "2026-11", "--scope", "zhang", "--now",
                          NOW).splitlines()[0]
        self.assertEqual(heading.split("  log seq")[0],
                         "2026-11 [2026-11-01 00:00+08:00, 2026-12-01 00:00+08:00)  "
                         "now 2026-11-15 12:00+08:00")

    def test_time_zone_option_and_environment(self):
        args = ["progress", "--period", "2026-11", "--scope", "zhang", "--now", NOW]
        utc = self.ok(*args, "--time-zone", "UTC").splitlines()[0]
        self.assertIn("now 2026-11-15 04:00Z", utc)
        ny = self.ok(*args, env={"PACER_TIME_ZONE": "America/New_York"}).splitlines()[0]
        self.assertIn("now 2026-11-14 23:00-05:00", ny)
        # The option beats the environment; before the command too.
        first = self.ok("--time-zone", "Asia/Tokyo", *args,
                        env={"PACER_TIME_ZONE": "America/New_York"}).splitlines()[0]
        self.assertIn("now 2026-11-15 13:00+09:00", first)
        local = self.ok(*args, "--time-zone", "local", env={"TZ": "Europe/London"})
        self.assertIn("now 2026-11-15 04:00Z", local)
        r = self.cli(*args, "--time-zone", "Mars/Olympus_Mons")
        self.assertEqual(r.returncode, 2)
        self.assertIn("Mars/Olympus_Mons", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_follows_a_daemon_in_another_zone(self):
        berlin = self.start_daemon(extra_args=["--time-zone", "Europe/Berlin"])
        argv = pt.cli_append_args(berlin)
        out = self.ok("status", *argv, endpoints=False, env={"TZ": "Asia/Tokyo"})
        self.assertIn("time zone   Europe/Berlin", out)
        self.assertRegex(out, r"started     .*\+01:00, up ")
        out = self.ok("tick", "--now", "2026-12-01T12:00Z", *argv, endpoints=False,
                      env={"TZ": "Asia/Tokyo"})
        self.assertRegex(out, r"^tick at 2026-12-01 13:00\+01:00: ")


class OptionsAndEnvironment(CliCase):

    def test_version(self):
        out = self.ok("--version", endpoints=False)
        self.assertRegex(out, r"^pacer \d+\.\d+\.\d+ \(protocol 1\)\n$")
        self.assertEqual(json.loads(self.ok("--version", "--json", endpoints=False))["protocol"], 1)

    def test_options_before_the_command(self):
        d = self.d
        out = self.ok("--endpoint", d.append_ep, "--query", d.query_ep, "status", endpoints=False)
        self.assertIn("log         ", out)
        status = json.loads(self.ok("--query", d.query_ep, "--json", "status", endpoints=False))
        self.assertEqual(status["last_seq"], d.status()["last_seq"])
        # The command's own option beats the one before it.
        self.ok("--query", "tcp://127.0.0.1:1", "status", "--query", d.query_ep, endpoints=False)
        r = self.cli("--bogus", "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--bogus", r.stderr)
        out = self.ok("--help", "status", endpoints=False)
        self.assertIn("usage: pacer status", out)
        out = self.ok("--help", endpoints=False)
        self.assertIn("usage: pacer [COMMON OPTIONS] COMMAND", out)
        self.assertIn("PACER_QUERY", out)

    def test_environment_endpoints(self):
        d = self.d
        env = {"PACER_APPEND": d.append_ep, "PACER_QUERY": d.query_ep,
               "PACER_PUBLISH": d.publish_ep}
        before = d.status()["last_seq"]
        path = os.path.join(pt.make_temp_dir("env"), "one.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(pt.sale_closed(rep="wang")) + "\n")
        out = self.ok("append", path, env=env, endpoints=False)
        self.assertIn("appended 1, duplicate 0, rejected 0", out)
        self.assertEqual(json.loads(self.ok("status", "--json", env=env,
                                            endpoints=False))["last_seq"], before + 1)
        # An option beats the environment.
        self.ok("status", "--query", d.query_ep, env={"PACER_QUERY": "tcp://127.0.0.1:1"},
                endpoints=False)
        r = self.cli("status", env={"PACER_TIMEOUT": "soon"}, endpoints=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("PACER_TIMEOUT", r.stderr)

    def test_json_on_every_command(self):
        d = self.d
        tmp = pt.make_temp_dir("json")
        events = os.path.join(tmp, "e.jsonl")
        with open(events, "w") as f:
            f.write(json.dumps(pt.sale_closed(rep="zhang")) + "\n")
        key = ["--scope", "zhang", "--metric", "revenue", "--period", "2026-11"]
        commands = [
            ["append", events],
            ["status"],
            ["events", "--limit", "2"],
            ["verify", "--state-dir", d.state_dir],
            ["backup", os.path.join(tmp, "backup")],
            ["target", "set", "--scope", "wang", "--metric", "deals", "--period", "2026-11",
             "--target", "5", "--author", "vp"],
            ["target", "adjust"] + key + ["--target", "6100000", "--author", "vp",
                                          "--reason", "r"],
            ["target", "allocate", "--scope", "east", "--metric", "revenue", "--period",
             "2026-11", "--method", "equal", "--author", "vp", "--preview"],
            ["target", "history"] + key,
            ["progress", "--period", "2026-11", "--now", NOW],
            ["leaderboard", "--level", "rep", "--period", "2026-11", "--metric", "revenue"],
            ["undefined"],
            ["rebuild"],
            ["tick"],
            ["alerts"],
            ["alerts", "--active"],
            ["silence", "alert/behind/acme/east/", "--reason", "offsite", "--author", "li"],
            ["silences"],
            ["unsilence", "alert/behind/acme/east/", "--reason", "back", "--author", "li"],
            ["rule", "set", "behind", "threshold", "0.75", "--author", "ceo", "--reason", "r"],
        ]
        for i, argv in enumerate(commands):
            # --json after the command, or before it (for the command all the same)
            args = argv + ["--json"] if i % 2 else ["--json"] + argv
            r = self.cli(*args)
            self.assertEqual(r.returncode, 0, "%s:\n%s%s" % (args, r.stdout, r.stderr))
            lines = r.stdout.splitlines()
            self.assertTrue(lines or argv[0] == "alerts", args)
            for line in lines:
                json.loads(line)  # every line of stdout is JSON
        for command in (["tail"], ["notify"]):
            self.assertIn("--json", self.ok(*command, "--help", endpoints=False))

    def test_errors_on_stderr(self):
        # Usage error: status 2, nothing on stdout.
        r = self.cli("progress")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertIn("--period is required", r.stderr)
        # Refused by pacerd: status 1; with --json the result is still JSON on stdout.
        args = ["target", "set", "--scope", "nobody", "--metric", "revenue", "--period",
                "2026-11", "--target", "1", "--author", "ceo"]
        r = self.cli(*args)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("refused", r.stderr)
        r = self.cli(*args, "--json")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["error"], "invalid_value")
        # Rejected lines of an append are errors: stdout has the totals alone.
        path = os.path.join(pt.make_temp_dir("err"), "bad.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(pt.sale_closed(rep="zhang")) + "\n{not json\n")
        r = self.cli("append", path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "appended 1, duplicate 0, rejected 1\n")
        self.assertRegex(r.stderr, r"pacer append: line 2: invalid_json: ")


class Unreachable(CliCase):
    """Nothing listens: every command says so within about a second (the connect timeout),
    not after the 30 s request timeout, with exit status 2."""

    def setUp(self):
        self.port = pt.free_ports(1)[0]
        self.ep = "tcp://127.0.0.1:%d" % self.port

    def assertFast(self, args, env=None):
        started = time.monotonic()
        r = self.cli(*args, env=env, endpoints=False)
        took = time.monotonic() - started
        self.assertEqual(r.returncode, 2, "%s:\n%s" % (args, r.stderr))
        self.assertEqual(r.stdout, "", args)
        self.assertIn("pacerd is not answering at %s: is it running?" % self.ep, r.stderr)
        # 1 s of connect timeout, against 30 s before; generous for a loaded machine.
        self.assertLess(took, 10, args)
        return took

    def test_stopped_daemon_reported_at_once(self):
        ep = ["--endpoint", self.ep, "--query", self.ep]
        self.assertFast(["status"] + ep)
        self.assertFast(["--query", self.ep, "status"])
        self.assertFast(["status"], env={"PACER_QUERY": self.ep})
        self.assertFast(["events"] + ep)
        self.assertFast(["progress", "--period", "2026-11"] + ep)
        self.assertFast(["target", "history", "--scope", "a", "--metric", "revenue",
                         "--period", "2026-11"] + ep)
        self.assertFast(["alerts"] + ep)
        self.assertFast(["tick"] + ep)
        self.assertFast(["target", "set", "--scope", "a", "--metric", "revenue", "--period",
                         "2026-11", "--target", "1", "--author", "a"] + ep)
        r = self.cli("append", "-", "--endpoint", self.ep, endpoints=False,
                     input=json.dumps(pt.sale_closed()) + "\n")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("pacerd is not answering at %s: is it running?" % self.ep, r.stderr)

    def test_a_daemon_that_stopped(self):
        d = self.start_daemon()
        self.ep = d.query_ep
        self.stop_ok(d)
        took = self.assertFast(["status", "--query", d.query_ep, "--connect-timeout", "0.3"])
        self.assertLess(took, 8)


if __name__ == "__main__":
    pt.main()
