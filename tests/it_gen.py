"""pacer-gen: a generated history is deterministic, valid by docs/EVENTS.md (a real pacerd
appends all of it with nothing refused), and its labels name events that are in it.

Small histories (2 regions x 2 teams x 1-5 reps, three months: 3,000-3,700 deals, 15,000-18,000
events), so this runs in about a second."""

import json
import os
import re
import subprocess
import unittest

import pacertest as pt

GEN = os.path.join(pt.BIN_DIR, "pacer-gen")
SMALL = ["--months", "3", "--regions", "2", "--teams", "2", "--reps", "3"]
DETECTORS = {"amount_outlier", "duplicate_order", "customer_burst", "period_end_stuffing",
             "padding", "no_sales_trail", "benford", "overdue_collection"}
SUMMARY = re.compile(r"appended (\d+), duplicate (\d+), rejected (\d+)")


def generate(args, labels=True):
    """Runs pacer-gen; returns (events bytes, labels bytes or None)."""
    d = pt.make_temp_dir("gen")
    out, lab = os.path.join(d, "events.jsonl"), os.path.join(d, "labels.jsonl")
    argv = [GEN, "--out", out] + (["--labels", lab] if labels else []) + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=pt.CLI_TIMEOUT)
    if r.returncode != 0:
        raise AssertionError("pacer-gen %r exited %d: %s" % (args, r.returncode, r.stderr))
    with open(out, "rb") as f:
        events = f.read()
    labels_bytes = None
    if labels:
        with open(lab, "rb") as f:
            labels_bytes = f.read()
    return events, labels_bytes


def lines(data):
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


class Gen(pt.PacerTestCase):

    def test_same_seed_same_bytes_other_seed_differs(self):
        a = generate(SMALL + ["--seed", "7"])
        b = generate(SMALL + ["--seed", "7"])
        c = generate(SMALL + ["--seed", "8"])
        self.assertEqual(a, b, "the same seed gave different output")
        self.assertNotEqual(a[0], c[0], "another seed gave the same events")
        self.assertNotEqual(a[1], c[1], "another seed gave the same labels")
        # Standard output carries the same bytes as --out.
        r = subprocess.run([GEN] + SMALL + ["--seed", "7"], capture_output=True,
                           timeout=pt.CLI_TIMEOUT)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, a[0])

    def test_events_are_ordered_unique_and_typed(self):
        events, _ = generate(SMALL + ["--seed", "3"])
        evs = lines(events)
        self.assertGreater(len(evs), 5000)
        times = [e["occurred_at"] for e in evs]
        self.assertEqual(times, sorted(times), "events are not in occurred_at order")
        ids = [e["id"] for e in evs]
        self.assertEqual(len(ids), len(set(ids)), "event ids repeat")
        for e in evs:
            extra = set(e) - {name for name, _ in pt.ENVELOPE + pt.SCHEMA[e["type"]]}
            self.assertFalse(extra, "unknown fields %r in %r" % (extra, e))
        types = {e["type"] for e in evs}
        for t in ("node_defined", "calendar_day_set", "target_set", "customer_created",
                  "activity_logged", "sale_closed", "sale_refunded", "sale_cancelled",
                  "payment_received"):
            self.assertIn(t, types)
        orders = [e["order"] for e in evs if e["type"] == "sale_closed"]
        self.assertEqual(len(orders), len(set(orders)), "an order is booked twice")

    def test_calendar_and_targets(self):
        events, _ = generate(SMALL + ["--seed", "4"], labels=False)
        evs = lines(events)
        days = {e["date"]: e["day_type"] for e in evs if e["type"] == "calendar_day_set"}
        # China's official 2026 arrangements for the quarter.
        for d in ("2026-01-01", "2026-01-02", "2026-01-03", "2026-02-15", "2026-02-23"):
            self.assertEqual(days.get(d), "holiday", d)
        for d in ("2026-01-04", "2026-02-14", "2026-02-28"):
            self.assertEqual(days.get(d), "workday", d)
        nodes = {e["node"]: e for e in evs if e["type"] == "node_defined"}
        self.assertEqual(sorted({n["kind"] for n in nodes.values()}),
                         ["company", "region", "rep", "team"])
        self.assertTrue(all(n.get("owner") for n in nodes.values()))
        # January's revenue targets: every node has one, tiers in order, and a parent's tiers
        # are the sums of its children's (nobody has moved yet in January).
        jan = {e["scope"]: e for e in evs if e["type"] == "target_set"
               and e["period"] == "2026-01" and e["metric"] == "revenue"}
        first = min(e["occurred_at"] for e in evs)
        for node in nodes.values():
            if node["occurred_at"] == first:
                self.assertIn(node["node"], jan)
        for t in jan.values():
            self.assertLessEqual(t["floor"], t["target"])
            self.assertLessEqual(t["target"], t["stretch"])
            self.assertEqual(t["currency"], "CNY")
            self.assertTrue(t["author"] and t["reason"])
        for parent in jan:
            children = [n for n, e in nodes.items() if e.get("parent") == parent and n in jan]
            if not children:
                continue
            for tier in ("floor", "target", "stretch"):
                self.assertEqual(jan[parent][tier], sum(jan[c][tier] for c in children),
                                 "%s %s" % (parent, tier))

    def test_appends_into_pacerd_with_nothing_refused(self):
        events, _ = generate(SMALL + ["--seed", "5"], labels=False)
        path = os.path.join(pt.make_temp_dir("gen"), "history.jsonl")
        with open(path, "wb") as f:
            f.write(events)
        n = events.count(b"\n")
        d = self.start_daemon()
        r = pt.run_cli(["append", path] + pt.cli_append_args(d))
        m = SUMMARY.search(r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertEqual(tuple(int(x) for x in m.groups()), (n, 0, 0), r.stdout[:4000])
        self.assertEqual(r.returncode, 0)
        self.assertEqual(d.status()["last_seq"], n)
        # every alert it raised has a JSON form, a figure a detector could
        # not compute (NaN inside pacerd) included: it is null
        r = pt.run_cli(["alerts", "--json", "--limit", "10000"] + pt.cli_append_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        alerts = [json.loads(line) for line in r.stdout.splitlines()]
        flags = [a for a in alerts if a["rule"].startswith("anomaly/")]
        self.assertTrue(flags)
        self.assertTrue([a for a in flags if None in a["values"].values()])

    def test_labels_name_events_of_the_history(self):
        events, labels = generate(SMALL + ["--seed", "11"])
        by_id = {e["id"]: e for e in lines(events)}
        labs = lines(labels)
        self.assertGreater(len(labs), 0)
        kinds = set()
        for lab in labs:
            self.assertEqual(set(lab), {"detector", "event_ids", "rep", "customer", "at", "note"})
            self.assertIn(lab["detector"], DETECTORS)
            kinds.add(lab["detector"])
            self.assertTrue(lab["event_ids"])
            evs = []
            for eid in lab["event_ids"]:
                self.assertIn(eid, by_id, "label %r names an event not in the output" % lab)
                evs.append(by_id[eid])
            at = [e["occurred_at"] for e in evs]
            self.assertEqual(at, sorted(at), "evidence not in occurred_at order")
            self.assertEqual(lab["at"], at[0])
            if lab["rep"] is not None:
                self.assertIn("hr:node:" + lab["rep"], by_id)
        # Three months of a small organisation still have an opportunity of every kind.
        self.assertEqual(kinds, DETECTORS)

    def test_clean_history_has_no_labels(self):
        events, labels = generate(SMALL + ["--seed", "11", "--clean"])
        self.assertEqual(labels, b"")
        self.assertGreater(events.count(b"\n"), 5000)

    def test_rates_and_bad_options(self):
        _, none = generate(SMALL + ["--rate", "0"])
        self.assertEqual(none, b"")
        _, only = generate(SMALL + ["--rate", "0", "--rate-duplicate_order", "0.01"])
        self.assertEqual({lab["detector"] for lab in lines(only)}, {"duplicate_order"})
        for bad in (["--start", "2026-02-30"], ["--rate", "1.5"], ["--months", "0"],
                    ["--rate-nonsense", "0.1"], ["extra"]):
            r = subprocess.run([GEN, "--out", os.devnull] + bad, capture_output=True, text=True,
                               timeout=pt.CLI_TIMEOUT)
            self.assertEqual(r.returncode, 2, "%r: %s" % (bad, r.stderr))
            self.assertTrue(r.stderr)
        r = subprocess.run([GEN, "--help"], capture_output=True, text=True, timeout=pt.CLI_TIMEOUT)
        self.assertEqual(r.returncode, 0)
        for name in DETECTORS:
            self.assertIn(name, r.stdout)


if __name__ == "__main__":
    pt.main()
