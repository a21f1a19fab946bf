"""pacer report: the period review (复盘) against a pacerd that lived through two months.

tests/salesmonth.py builds the state: October and November 2026 of a pacer-gen company, appended
a day at a time with an 18:00 tick after each day, one target adjusted with its reason and one
anomaly flag dismissed. The review of November is then checked against the query endpoint's own
answers, in every format:

- the headline and every level's table show progress's numbers, money in major units with the
  currency; the burn-up ends at progress's actual and its pace line at the target;
- "who fell behind, and when" is what the at_risk and behind alerts say, worked out here
  independently from the `alerts` query (records of one instant are one change);
- every alert key of the period under the scope is a row, with how it ended (the dismissal);
- the target adjustment is there with its author and reason;
- the previous month matches `progress` for October, and a year earlier says "no data";
- the HTML is one self-contained file (no script, nothing fetched) with print rules and an SVG
  chart, and, where Chromium is installed, prints to a PDF;
- a review in the middle of the month draws the forecast;
- csv and md carry the same tables; errors are reported.
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import unittest

import pacertest as pt
import salesmonth as sm
from pacertest import expect_ok

NOW = "2026-12-02T09:00+08:00"
NOV_START, NOV_END = sm.local(2026, 11, 1), sm.local(2026, 12, 1)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def money(minor, code="CNY"):
    """money_format: major units grouped by thousands, two decimals, the code."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    text = "{:,}.{:02d}".format(minor // 100, minor % 100)
    return sign + text + (" " + code if code else "")


class Review(pt.PacerTestCase):
    """One daemon for the whole class: the tests only read."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pt.make_temp_dir("report")
        cls.d = pt.Daemon(extra_args=("--manual-clock", "--tick", "0"))
        cls.d.start()
        events = sm.generate(cls.tmp)
        sm.append_by_day(cls.d, events)
        with cls.d.client() as c:
            expect_ok(c.call("tick", now=sm.local(2026, 12, 1, 9)))
        cls.dismissed = sm.adjust_and_review(cls.d)
        cls.outputs = {}

    @classmethod
    def tearDownClass(cls):
        if cls.d.running():
            cls.d.stop()

    def query(self, op, **fields):
        with self.d.client("query") as q:
            return expect_ok(q.call(op, **fields))

    def report(self, *args, rc=0):
        r = pt.run_cli(["report"] + list(args) + pt.cli_append_args(self.d))
        self.assertEqual(r.returncode, rc, r.stdout + r.stderr)
        return r

    def review(self, fmt, scope="acme"):
        key = (fmt, scope)
        if key not in self.outputs:
            path = os.path.join(self.tmp, "review-%s.%s" % (scope, fmt))
            r = self.report("--period", "2026-11", "--scope", scope, "--now", NOW, "--out", path)
            self.assertIn("written to %s (%s)" % (path, fmt), r.stderr)
            with open(path, encoding="utf-8") as f:
                self.outputs[key] = f.read()
        return self.outputs[key]

    def progress(self, period="2026-11", scope="acme", **kw):
        return self.query("progress", period=period, scope=scope, metric="revenue",
                          now=sm.local(2026, 12, 2, 9), **kw)["rows"]

    # ----------------------------------------------------------------------------------------

    def test_figures_are_progress_figures(self):
        doc = json.loads(self.review("json"))
        rows = self.progress()
        company = [r for r in rows if r["path"] == "acme"][0]
        self.assertEqual((doc["path"], doc["time_zone"], doc["currency"]),
                         ("acme", "Asia/Shanghai", "CNY"))
        self.assertEqual(doc["summary"][0]["value"], money(company["actual"]))
        self.assertEqual(doc["summary"][0]["detail"], "target " + money(company["target"]))
        by_kind = {"companies": "company", "regions": "region", "teams": "team", "reps": "rep"}
        for table, kind in by_kind.items():
            want = {r["path"]: r for r in rows if r["kind"] == kind}
            got = {r["path"]: r for r in doc["tables"][table]["rows"]}
            self.assertEqual(set(got), set(want), table)
            for path, r in got.items():
                self.assertEqual((r["actual"], r["target"], r["status"]),
                                 (want[path]["actual"], want[path]["target"],
                                  want[path]["status"]), path)
            atts = [r["attainment"] for r in doc["tables"][table]["rows"]]
            self.assertEqual(atts, sorted(atts, reverse=True), "best first")
        # the burn-up: 30 days, cumulative to progress's actual, pace line to the target
        days = doc["burnup"]["days"]
        self.assertEqual((len(days), days[0]["date"], days[-1]["date"]),
                         (30, "2026-11-01", "2026-11-30"))
        self.assertEqual(days[-1]["cumulative"], company["actual"])
        self.assertEqual(days[-1]["expected"], company["target"])
        self.assertEqual(doc["burnup"]["floor"], company["floor"])
        daily = self.query("daily", scope="acme", metric="revenue", period="2026-11")["days"]
        self.assertEqual([d["cumulative"] for d in days], [d["cumulative"] for d in daily])
        # the markdown table shows the same in major units
        md = self.review("md")
        zeng = [r for r in rows if r["path"].endswith("/zeng.yan")][0]
        self.assertIn("| %s | %s | %s |" % (zeng["path"], money(zeng["actual"], None),
                                            money(zeng["target"], None)), md)

    def test_who_fell_behind_and_when(self):
        """Recomputed from the `alerts` query: per target key, the state after each instant
        (behind while `behind` fires, else at risk while `at_risk` fires, else on track), the
        resolutions at the period's end aside; FELL BEHIND is the first instant it was behind."""
        records = []
        start = 1
        while True:
            page = self.query("alerts", **{"from": start, "limit": 10000})
            records += page["alerts"]
            if page["next"] > page["last_aseq"]:
                break
            start = page["next"]
        keys = {}
        for a in records:
            if a["rule"] not in ("behind", "at_risk") or a["period"] != "2026-11":
                continue
            k = keys.setdefault(a["key"].split("/", 1)[1], {
                "path": a["path"], "metric": a["metric"], "active": set(), "steps": [],
                "closed": None})
            if a["state"] == "repeat":
                continue
            if a["state"] == "resolved" and a["at"] >= NOV_END:
                if k["closed"] is None:
                    k["closed"] = self.state_of(k["active"])
                k["active"].discard(a["rule"])
                continue
            if a["state"] == "firing":
                k["active"].add(a["rule"])
            else:
                k["active"].discard(a["rule"])
            state = self.state_of(k["active"])
            if k["steps"] and k["steps"][-1][1] == a["at"]:
                k["steps"][-1] = (state, a["at"])
                before = k["steps"][-2][0] if len(k["steps"]) > 1 else "on track"
                if before == state:
                    k["steps"].pop()
            elif (k["steps"][-1][0] if k["steps"] else "on track") != state:
                k["steps"].append((state, a["at"]))
        want = {}
        for k in keys.values():
            if not k["steps"]:
                continue
            behind = [at for s, at in k["steps"] if s == "behind"]
            end = ("ended " + k["closed"]) if k["closed"] else self.state_of(k["active"])
            want[(k["path"], k["metric"])] = (behind[0] if behind else None,
                                              [s for s, _ in k["steps"]], end)
        doc = json.loads(self.review("json"))
        rows = doc["tables"]["status_changes"]["rows"]
        got = {(r["path"], r["metric"]): (r["fell_behind"], [s["state"] for s in r["timeline"]],
                                          r["state"]) for r in rows}
        self.assertGreater(len(want), 10)
        self.assertEqual(got, want)
        fell = [r["fell_behind"] or 2 ** 62 for r in rows]
        self.assertEqual(fell, sorted(fell), "ordered by when they fell behind")
        self.assertTrue(any(r["state"] == "ended behind" for r in rows))
        self.assertTrue(any(r["state"] == "on track" and r["fell_behind"] for r in rows),
                        "someone recovered")
        # the HTML shows the time in the daemon's zone
        first = rows[0]
        html = self.review("html")
        self.assertIn(pt.subprocess.run(
            ["date", "-d", "@%d" % (first["fell_behind"] // 1000), "+%Y-%m-%d %H:%M"],
            env={"TZ": "Asia/Shanghai"}, capture_output=True, text=True).stdout.strip(), html)

    @staticmethod
    def state_of(active):
        return "behind" if "behind" in active else "at risk" if "at_risk" in active else "on track"

    def test_alerts_of_the_period_with_their_resolution(self):
        doc = json.loads(self.review("json"))
        rows = doc["tables"]["alerts"]["rows"]
        records = self.query("alerts", limit=10000)["alerts"]
        first = {}
        for a in records:
            first.setdefault(a["key"], a)
        want = set()
        for key, a in first.items():
            if a["rule"].startswith("anomaly/"):
                # an anomaly belongs to the period its sale (the first evidence) happened in
                seq = a["evidence"][0]["seq"]
                at = self.query("events", **{"from": seq, "limit": 1})["events"][0]["event"][
                    "occurred_at"]
                if NOV_START <= at < NOV_END:
                    want.add(key)
            elif a["period"] == "2026-11":
                want.add(key)
        self.assertEqual(len(rows), len(want))
        self.assertEqual({(r["rule"], r["path"], r["since"]) for r in rows},
                         {(first[k]["rule"], first[k]["path"], first[k]["since"]) for k in want})
        dismissed = [r for r in rows if r["resolution"].startswith("reviewed")]
        self.assertIsNotNone(self.dismissed)
        self.assertEqual(len(dismissed), 1)
        self.assertIn("dismissed by li.wei: re-keyed by the CRM", dismissed[0]["resolution"])
        self.assertTrue(any(r["resolution"].startswith("still firing") for r in rows))
        self.assertTrue(any("period ended" in r["resolution"] for r in rows))
        # east's review has only east's alerts
        east = json.loads(self.review("json", scope="east"))["tables"]["alerts"]["rows"]
        self.assertTrue(east and all(r["path"].startswith("acme/east") for r in east))

    def test_target_changes_and_comparison(self):
        doc = json.loads(self.review("json"))
        changes = doc["tables"]["target_changes"]["rows"]
        self.assertEqual(len(changes), 1)
        self.assertEqual((changes[0]["path"], changes[0]["author"], changes[0]["reason"]),
                         ("acme/east/shanghai", "li.wei", "key account moved to next quarter"))
        self.assertIn("-> floor 27,000,000.00, target 30,000,000.00, stretch 34,500,000.00",
                      changes[0]["change"])
        self.assertEqual(changes[0]["occurred_at"], sm.local(2026, 11, 16, 9))
        comparison = {r["path"]: r for r in doc["tables"]["comparison"]["rows"]}
        self.assertEqual(set(comparison), {"acme", "acme/east", "acme/north"})
        october = {r["path"]: r for r in self.progress("2026-10")}
        for path, r in comparison.items():
            self.assertEqual(r["previous_actual"], october[path]["actual"])
            self.assertEqual(r["year_ago_actual"], None)
        self.assertEqual((doc["previous_period"], doc["year_ago_period"]), ("2026-10", "2025-11"))
        md = self.review("md")
        self.assertIn("| acme |", md)
        self.assertIn("| no data |", md)

    def test_html_is_self_contained_and_prints(self):
        html = self.review("html")
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertNotIn("<script", html.lower())
        self.assertEqual(re.findall(r'(?:src|href)\s*=', html), [], "nothing linked")
        self.assertEqual(set(re.findall(r'https?://[^"\s<]+', html)),
                         {"http://www.w3.org/2000/svg"})  # the SVG namespace, not fetched
        self.assertIn("@media print", html)
        self.assertIn("<svg", html)
        self.assertIn("stretch 143.1M", html)  # the tiers, labelled
        for section in ("Burn-up", "Reps (revenue, CNY)", "Who fell behind, and when",
                        "Alerts and anomaly flags", "Target changes",
                        "Against the previous period and a year ago"):
            self.assertIn("<h2>%s</h2>" % section, html)
        if not CHROMIUM:
            self.skipTest("chromium is not installed: the PDF print is not checked")
        page = os.path.join(self.tmp, "review-acme.html")
        pdf = os.path.join(self.tmp, "review-acme.pdf")
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-pdf-header-footer", "--print-to-pdf=" + pdf, "file://" + page],
                       capture_output=True, timeout=120, preexec_fn=pt._die_with_parent)
        with open(pdf, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"%PDF"))
        pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
        self.assertGreater(pages, 2, "an A4 review of a month runs to several pages")

    def test_csv_carries_the_same_tables(self):
        text = self.review("csv")
        lines = list(csv.reader(io.StringIO(text)))
        titles = [l[0] for l in lines if len(l) == 1]
        doc = json.loads(self.review("json"))
        for table in doc["tables"].values():
            self.assertIn(table["title"], titles)
        header = lines.index(["NAME", "PATH", "ACTUAL", "TARGET", "ATTAINMENT", "PACE", "STATUS",
                              "FORECAST"], lines.index(["Reps (revenue, CNY)"]))
        reps = []
        for l in lines[header + 1:]:
            if not l or len(l) == 1:
                break
            reps.append(l)
        self.assertEqual([r[1] for r in reps],
                         [r["path"] for r in doc["tables"]["reps"]["rows"]])
        zeng = [r for r in self.progress() if r["path"].endswith("/zeng.yan")][0]
        row = [r for r in reps if r[1] == zeng["path"]][0]
        self.assertEqual(row[2:4], [money(zeng["actual"], None), money(zeng["target"], None)])
        md = self.review("md")
        for table in doc["tables"].values():
            self.assertIn("## " + table["title"], md)

    def test_errors(self):
        r = self.report("--scope", "acme", rc=2)
        self.assertIn("--period is required", r.stderr)
        r = self.report("--period", "2026-11", "--scope", "nobody", rc=1)
        self.assertIn("nobody", r.stderr)
        r = self.report("--period", "2026-13", rc=1)
        self.assertIn("period", r.stderr)
        r = self.report("--period", "2026-11", "--format", "pdf", rc=2)
        self.assertIn("--format", r.stderr)
        r = self.report("--help")
        self.assertIn("--period P", r.stdout)


class MidPeriod(pt.PacerTestCase):
    """On the 20th the month still runs: the chart stops at now and draws the forecast."""

    def test_forecast_while_the_period_runs(self):
        tmp = pt.make_temp_dir("mid")
        d = self.start_daemon(extra_args=("--manual-clock", "--tick", "0"))
        sm.append_by_day(d, sm.generate(tmp), until=sm.local(2026, 11, 21))
        now = sm.local(2026, 11, 20, 18)
        r = pt.run_cli(["report", "--period", "2026-11", "--scope", "east", "--now",
                        "2026-11-20T18:00+08:00", "--json"] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        with d.client("query") as q:
            row = [x for x in expect_ok(q.call("progress", period="2026-11", scope="east",
                                               metric="revenue", now=now))["rows"]
                   if x["path"] == "acme/east"][0]
        self.assertEqual(doc["burnup"]["forecast"], row["forecast"])
        shown = [x for x in doc["burnup"]["days"] if x["cumulative"] is not None]
        self.assertEqual(len(shown), 20)
        self.assertEqual(shown[-1]["cumulative"], row["actual"])
        self.assertEqual([c["value"] for c in doc["summary"][:1]], [money(row["actual"])])
        self.assertEqual(doc["summary"][3]["value"], money(row["forecast"]))
        html = pt.run_cli(["report", "--period", "2026-11", "--scope", "east", "--now",
                           "2026-11-20T18:00+08:00"] + pt.cli_append_args(d)).stdout
        self.assertIn('stroke-dasharray="7 5"', html)  # the forecast
        self.assertIn(">now</text>", html)
        self.assertIn("this period still running", html)


if __name__ == "__main__":
    pt.main()
