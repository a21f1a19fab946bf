"""Targets: set, adjust and their audit trail; top-down allocation; references checked.

EVENTS.md ("Targets", "Targets and progress: how events count") and PROTOCOL.md ("target_history",
"allocate"): every change of a target is recorded with who, when and why and the tiers before and
after; an adjustment needs a reason; a parent's target is split across its children equally, by
weights or by history with integer rounding that keeps each tier's sum exact, as one atomic batch
whose retry is all duplicates; a preview appends nothing; an event that names something the log
does not know is refused with `invalid_value` naming the field.

Also the `pacer target` commands against the same daemon.

The organisation: acme > east > t1 > reps a, b, c (and t2, empty), all from 1 September 2026.
Times are local to the daemon's default zone, Asia/Shanghai."""

import json

import pacertest as pt
from pacertest import expect_ok
from it_progress import ProgressCase, ev, local, node, sale

DEFINED = local(2026, 9, 1)


def tset(scope, period, tgt, floor=None, stretch=None, metric="revenue", product_line=None,
         at=None, author="ceo", reason="plan", id=None, currency=None):
    key = "%s:%s:%s:%s" % (scope, metric, period, product_line or "*")
    return ev("target_set", id or "t:%s:%s" % (key, at or DEFINED), at or local(2026, 9, 20),
              scope=scope, metric=metric, period=period, product_line=product_line,
              target=tgt, floor=floor, stretch=stretch, currency=currency, author=author,
              reason=reason)


def tadj(scope, period, at, author, reason, metric="revenue", id=None, **tiers):
    return ev("target_adjusted", id or "adj:%s:%s:%s" % (scope, period, at), at, scope=scope,
              metric=metric, period=period, author=author, reason=reason, **tiers)


def org():
    """One stage per level: a parent must be in the log before its children's request."""
    return [[node("acme", "company")], [node("east", "region", "acme")],
            [node("t1", "team", "east"), node("t2", "team", "east")],
            [node("a", "rep", "t1"), node("b", "rep", "t1"), node("c", "rep", "t1")]]


class TargetCase(ProgressCase):

    def setUp(self):
        self.d = self.start_daemon()
        self.load(self.d, *org())

    def append(self, events, atomic=None):
        with self.d.client() as c:
            return expect_ok(c.append(events, atomic=atomic))

    def refused(self, event, code, field):
        """Append one event; it must be refused with `code`, the message naming `field`."""
        before = self.d.status()["last_seq"]
        result = self.append([event])["results"][0]
        self.assertEqual(result.get("error"), code, result)
        self.assertRegex(result["message"], r"\b(%s)\b" % field, result)
        self.assertEqual(self.d.status()["last_seq"], before)
        return result

    def history(self, scope, period, metric="revenue", **kw):
        return self.query(self.d, "target_history", scope=scope, metric=metric, period=period,
                          **kw)["history"]

    def call(self, which, op, **fields):
        with self.d.client(which) as c:
            return c.call(op, **fields)


def tiers(entry_part):
    return None if entry_part is None else tuple(entry_part.get(k)
                                                 for k in ("floor", "target", "stretch"))


class SetAdjustHistory(TargetCase):

    def test_audit_trail(self):
        t1, t2, t3, t4 = (local(2026, 10, 20, 9), local(2026, 11, 3, 10),
                          local(2026, 11, 10, 15), local(2026, 11, 12, 8))
        events = [
            tset("t1", "2026-11", 1000000, floor=800000, stretch=1200000, at=t1, author="ceo",
                 reason="Q4 plan", currency="CNY"),
            tadj("t1", "2026-11", t2, "vp.sales", "market grew", target=1100000),
            tadj("t1", "2026-11", t3, "vp.sales", "stretch up", floor=900000, stretch=1300000),
            tset("t1", "2026-11", 1050000, at=t4, author="cfo", reason="replan"),
        ]
        seqs = []
        for e in events:  # one request each: an adjustment needs the target before it
            seqs.append(self.assertAppended(self.append([e]), 1)[0])
        h = self.history("t1", "2026-11")
        self.assertEqual([x["seq"] for x in h], seqs)
        self.assertEqual([x["kind"] for x in h], ["set", "adjust", "adjust", "set"])
        self.assertEqual([x["author"] for x in h], ["ceo", "vp.sales", "vp.sales", "cfo"])
        self.assertEqual([x["reason"] for x in h],
                         ["Q4 plan", "market grew", "stretch up", "replan"])
        self.assertEqual([x["occurred_at"] for x in h], [t1, t2, t3, t4])
        self.assertTrue(all(isinstance(x["recorded_at"], int) for x in h))
        self.assertTrue(all(x.get("allocation") is None for x in h))
        self.assertEqual([tiers(x["before"]) for x in h], [
            None, (800000, 1000000, 1200000), (800000, 1100000, 1200000),
            (900000, 1100000, 1300000)])
        # An adjustment keeps the tiers it does not name; a new set replaces all three.
        self.assertEqual([tiers(x["after"]) for x in h], [
            (800000, 1000000, 1200000), (800000, 1100000, 1200000),
            (900000, 1100000, 1300000), (None, 1050000, None)])
        # Progress shows the current tiers.
        rows = self.progress(self.d, period="2026-11", scope="t1",
                             now=local(2026, 11, 15))["rows"]
        self.assertRow(self.row(rows, "acme/east/t1"), floor=None, target=1050000,
                       stretch=None, actual=0)

    def test_product_line_key_has_its_own_trail(self):
        self.append([tset("a", "2026-11", 500000)])
        self.append([tset("a", "2026-11", 200000, product_line="cloud", reason="cloud push")])
        self.append([tadj("a", "2026-11", local(2026, 11, 2), "vp", "more cloud", target=250000,
                          id="adj:cloud", product_line="cloud")])
        self.assertEqual([tiers(x["after"]) for x in self.history("a", "2026-11")],
                         [(None, 500000, None)])
        cloud = self.history("a", "2026-11", product_line="cloud")
        self.assertEqual([(x["kind"], x["reason"]) for x in cloud],
                         [("set", "cloud push"), ("adjust", "more cloud")])
        self.assertEqual(tiers(cloud[-1]["after"]), (None, 250000, None))

    def test_history_of_unknown_key(self):
        self.append([tset("a", "2026-11", 500000)])
        for fields in ({"scope": "a", "period": "2026-12"}, {"scope": "b", "period": "2026-11"},
                       {"scope": "a", "period": "2026-11", "product_line": "cloud"},
                       {"scope": "nobody", "period": "2026-11"}):
            r = self.call("query", "target_history", metric="revenue", **fields)
            self.assertEqual((r["ok"], r.get("error")), (False, "not_found"), (fields, r))

    def test_refusals(self):
        self.append([tset("a", "2026-11", 500000, floor=400000)])
        at = local(2026, 11, 5)
        # An adjustment needs a reason, and at least one tier.
        no_reason = tadj("a", "2026-11", at, "vp", None, target=600000)
        self.refused(no_reason, "missing_field", "reason")
        r = self.append([tadj("a", "2026-11", at, "vp", "", target=600000, id="adj:empty")])
        self.assertIn("error", r["results"][0], r)
        self.assertIn("reason", r["results"][0]["message"])
        r = self.append([tadj("a", "2026-11", at, "vp", "why not", id="adj:none")])
        self.assertIn("error", r["results"][0], r)
        # Nothing to adjust.
        self.refused(tadj("b", "2026-11", at, "vp", "no target yet", target=1), "invalid_value",
                     "scope|metric|period|target")
        # Unknown node, malformed period, unknown metric or KPI.
        self.refused(tset("nobody", "2026-11", 1), "invalid_value", "scope")
        self.refused(tset("a", "2026-13", 1), "invalid_value", "period")
        self.refused(tset("a", "2026-W54", 1), "invalid_value", "period")
        self.refused(tset("a", "2026-11", 1, metric="happiness"), "invalid_value", "metric")
        self.refused(tset("a", "2026-11", 1, metric="kpi:nps"), "invalid_value", "metric")
        # Tiers out of order.
        self.refused(tset("a", "2026-12", 100, floor=200), "out_of_range", "floor")
        self.refused(tadj("a", "2026-11", at, "vp", "lower", target=300000, id="adj:order"),
                     "out_of_range", "floor|target")
        # The trail holds only the accepted set.
        self.assertEqual(len(self.history("a", "2026-11")), 1)


class References(TargetCase):
    """EVENTS.md, "References are checked": invalid_value naming the field."""

    def test_bad_references(self):
        self.append([ev("kpi_defined", "kpi:csat", DEFINED, kpi="csat", aggregation="average")])
        self.assertAppended(self.append([sale("o1", "a", local(2026, 10, 9), 100000)]), 1)
        at = local(2026, 10, 12)
        # A sale may name a rep the organisation has not defined yet (EVENTS.md, "Credit to
        # nodes not defined yet"): accepted, credited to that id.
        self.assertAppended(self.append([sale("o2", "nobody", at, 100)]), 1)
        self.refused(ev("sale_refunded", "r:x", at, order="no-such-order", amount=1,
                        currency="CNY"), "invalid_value", "order")
        self.refused(ev("sale_cancelled", "c:x", at, order="no-such-order"), "invalid_value",
                     "order")
        self.refused(ev("sale_refunded", "r:big", at, order="o1", amount=100001,
                        currency="CNY"), "invalid_value", "amount")
        self.refused(ev("sale_refunded", "r:usd", at, order="o1", amount=1, currency="USD"),
                     "invalid_value", "currency")
        self.refused(ev("node_defined", "org:x", at, node="x", kind="rep", name="X",
                        parent="nowhere"), "invalid_value", "parent")
        self.refused(ev("node_moved", "mv:cycle", at, node="t1", parent="a",
                        effective_at=at), "invalid_value", "parent")
        self.refused(ev("node_moved", "mv:self", at, node="t1", parent="t1",
                        effective_at=at), "invalid_value", "parent")
        self.refused(ev("kpi_recorded", "k:x", at, kpi="nps", scope="a", value=1),
                     "invalid_value", "kpi")
        self.assertAppended(self.append([ev("kpi_recorded", "k:y", at, kpi="csat",
                                            scope="nobody", value=1)]), 1)
        self.refused(ev("payment_received", "p:x", at, amount=1, currency="CNY",
                        customer="c-unknown"), "invalid_value", "rep|order")
        # What remains of an order shrinks with each refund: 100,000 - 60,000 leaves 40,000.
        self.assertAppended(self.append([ev("sale_refunded", "r:1", at, order="o1",
                                            amount=60000, currency="CNY")]), 1)
        self.refused(ev("sale_refunded", "r:2", at, order="o1", amount=40001,
                        currency="CNY"), "invalid_value", "amount")
        self.assertAppended(self.append([ev("sale_refunded", "r:3", at, order="o1",
                                            amount=40000, currency="CNY")]), 1)

    def test_retired_rep(self):
        # A node retired at the event's time is refused; before it, it still takes credit.
        self.append([ev("node_retired", "ret:c", local(2026, 10, 20), node="c",
                        effective_at=local(2026, 10, 20), reason="left")])
        self.assertAppended(self.append([sale("rc1", "c", local(2026, 10, 19, 18), 100)]), 1)
        self.refused(sale("rc2", "c", local(2026, 10, 20, 9), 100), "invalid_value", "rep")

    def test_atomic_batch_whose_events_clash_with_each_other(self):
        """Two refunds that each fit what remains of the order, but not both: checked one by
        one against the log before the batch they pass, so the clash shows only while the
        batch is appended. The batch is refused whole and the log and projection are as before;
        a normal append afterwards still works and later replays agree."""
        self.assertAppended(self.append([sale("o-clash", "a", local(2026, 10, 9), 1000)]), 1)
        before = self.d.status()["last_seq"]
        at = local(2026, 10, 12)
        r = self.append([ev("sale_refunded", "r:c1", at, order="o-clash", amount=600,
                            currency="CNY"),
                         ev("sale_refunded", "r:c2", at, order="o-clash", amount=600,
                            currency="CNY")], atomic=True)
        self.assertEqual(r["appended"], 0, r)
        self.assertEqual(r["results"][0].get("error"), "aborted", r)
        self.assertEqual(r["results"][1].get("error"), "invalid_value", r)
        self.assertIn("amount", r["results"][1]["message"])
        self.assertEqual(self.d.status()["last_seq"], before)
        self.assertAppended(self.append([ev("sale_refunded", "r:c3", at, order="o-clash",
                                            amount=1000, currency="CNY")]), 1)

    def test_atomic_batch_checks_against_the_log_before_it(self):
        before = self.d.status()["last_seq"]
        # The target's scope is defined by the same atomic batch: not yet, as far as the
        # checks of an atomic batch can see (EVENTS.md), so the batch is refused whole.
        r = self.append([node("d", "rep", "t1"), tset("d", "2026-11", 5)], atomic=True)
        self.assertEqual(r["appended"], 0)
        self.assertEqual(r["results"][0].get("error"), "aborted", r)
        self.assertEqual(r["results"][1].get("error"), "invalid_value", r)
        self.assertIn("scope", r["results"][1]["message"])
        self.assertEqual(self.d.status()["last_seq"], before)


class Allocate(TargetCase):

    def setUp(self):
        super().setUp()
        self.append([
            tset("t1", "2027-01", 1000001, floor=800000, stretch=1200002),
            tset("t1", "2026-12", 1000000, floor=700000, stretch=1300000),
            tset("t1", "2026-11", 1000000, floor=900000),
            tset("t1", "2027-06", 999),
            tset("t2", "2026-11", 5),
        ])
        self.at = local(2026, 10, 20)

    def allocate(self, which="append", **fields):
        req = dict(id="alloc-1", occurred_at=self.at, scope="t1", metric="revenue",
                   period="2027-01", method="equal", author="vp.sales", reason="split")
        req.update(fields)
        req = {k: v for k, v in req.items() if v is not None}
        return self.call(which, "allocate", **req)

    def split(self, reply):
        return {x["child"]: (x.get("floor"), x.get("target"), x.get("stretch"))
                for x in reply["allocation"]}

    def assertSums(self, split, parent):
        for i, tier in enumerate(("floor", "target", "stretch")):
            values = [v[i] for v in split.values()]
            if parent[i] is None:
                self.assertEqual(values, [None] * len(values), tier)
            else:
                self.assertEqual(sum(values), parent[i], tier)

    def test_equal_commit_retry_and_events(self):
        before = self.d.status()["last_seq"]
        r = expect_ok(self.allocate())
        split = self.split(r)
        self.assertEqual(set(split), {"a", "b", "c"})
        self.assertSums(split, (800000, 1000001, 1200002))
        self.assertEqual(sorted(v[1] for v in split.values()), [333333, 333334, 333334])
        self.assertEqual(sorted(v[0] for v in split.values()), [266666, 266667, 266667])
        self.assertEqual(sorted(v[2] for v in split.values()), [400000, 400001, 400001])
        # Largest remainder, ties to the lower index: the extra units go to the first two.
        order = [x["child"] for x in r["allocation"]]
        self.assertEqual([split[c][1] for c in order], [333334, 333334, 333333])
        self.assertIs(r["fell_back"], False)
        self.assertEqual((r["appended"], r["duplicates"], r["rejected"]), (3, 0, 0))
        self.assertEqual(r["last_seq"], before + 3)
        seqs = [x["seq"] for x in r["results"]]
        self.assertEqual(seqs, list(range(before + 1, before + 4)))

        # The children's target_set events, in the log.
        with self.d.client("query") as q:
            log = pt.read_log(q, from_seq=before + 1)
        for rec, child in zip(log, order):
            e = rec["event"]
            self.assertEqual((e["type"], e["id"], e["scope"], e["allocation"], e["author"]),
                             ("target_set", "alloc-1/" + child, child, "alloc-1", "vp.sales"))
            self.assertEqual((e["floor"], e["target"], e["stretch"]), split[child])
            self.assertEqual((e["metric"], e["period"]), ("revenue", "2027-01"))
        h = self.history(order[0], "2027-01")
        self.assertEqual([(x["kind"], x["allocation"], x["author"]) for x in h],
                         [("set", "alloc-1", "vp.sales")])

        # A retry is all duplicates with the original seqs.
        again = expect_ok(self.allocate())
        self.assertEqual((again["appended"], again["duplicates"], again["rejected"]), (0, 3, 0))
        self.assertEqual([x["seq"] for x in again["results"]], seqs)
        self.assertTrue(all(x["dup"] for x in again["results"]))
        self.assertEqual(self.d.status()["last_seq"], before + 3)

        # The parent is now exactly covered.
        rows = self.progress(self.d, period="2027-01", scope="t1",
                             now=local(2027, 1, 10))["rows"]
        cov = self.row(rows, "acme/east/t1")["coverage"]
        self.assertEqual((cov["children"], cov["with_target"], cov["children_target"]),
                         (3, 3, 1000001))
        self.assertTrue(abs(cov["ratio"] - 1.0) < 1e-12, cov)

    def test_weights(self):
        r = expect_ok(self.allocate(period="2026-12", method="weights",
                                    weights={"a": 1, "b": 2, "c": 3.5}, id="alloc-w"))
        self.assertEqual(self.split(r), {"a": (107692, 153846, 200000),
                                         "b": (215385, 307692, 400000),
                                         "c": (376923, 538462, 700000)})
        self.assertEqual({x["child"]: x["weight"] for x in r["allocation"]},
                         {"a": 1, "b": 2, "c": 3.5})
        self.assertEqual(r["appended"], 3)

    def test_weights_refused(self):
        before = self.d.status()["last_seq"]
        for weights, word in (({"a": 1, "b": -1, "c": 1}, "b|negative|weight"),
                              ({"a": 0, "b": 0, "c": 0}, "zero|weight"),
                              ({"a": 1, "b": 2}, r"\bc\b|missing|every")):
            r = self.allocate(period="2026-12", method="weights", weights=weights,
                              id="alloc-bad")
            self.assertEqual((r["ok"], r.get("error")), (False, "bad_request"), (weights, r))
            self.assertRegex(r["message"], word)
            p = self.allocate("query", period="2026-12", method="weights", weights=weights,
                              id="alloc-bad")
            self.assertEqual(p.get("error"), "bad_request", p)
        r = self.allocate(period="2026-12", method="weights", id="alloc-bad")
        self.assertEqual(r.get("error"), "bad_request", r)
        self.assertIn("weights", r["message"])
        r = self.allocate(method="lottery", id="alloc-bad")
        self.assertEqual(r.get("error"), "bad_request", r)
        r = self.allocate(method="history", history_periods=13, id="alloc-bad")
        self.assertEqual(r.get("error"), "bad_request", r)
        r = self.allocate(author=None, id="alloc-bad")
        self.assertEqual(r.get("error"), "bad_request", r)
        self.assertIn("author", r["message"])
        for fields, code in (({"scope": "nobody"}, "not_found"),
                             ({"period": "2027-02"}, "not_found"),  # no parent target
                             ({"scope": "a", "period": "2027-01"}, "not_found"),  # no children
                             ({"scope": "t2", "period": "2026-11"}, "not_found"),  # t2 is empty
                             ({"period": "2027-13"}, "invalid_value")):
            r = self.allocate(id="alloc-bad", **fields)
            self.assertEqual((r["ok"], r.get("error")), (False, code), (fields, r))
        self.assertEqual(self.d.status()["last_seq"], before)

    def test_history(self):
        # October actuals: a 300,000, b 100,000, c nothing; c sold 400,000 in September.
        self.append([sale("h1", "a", local(2026, 10, 9), 300000),
                     sale("h2", "b", local(2026, 10, 12), 100000),
                     sale("h3", "c", local(2026, 9, 15), 400000)])
        p = expect_ok(self.allocate("query", period="2026-11", method="history",
                                    history_periods=1, id="alloc-h"))
        self.assertEqual(self.split(p), {"a": (675000, 750000, None),
                                         "b": (225000, 250000, None), "c": (0, 0, None)})
        self.assertIs(p["fell_back"], False)
        p2 = expect_ok(self.allocate("query", period="2026-11", method="history",
                                     history_periods=2, id="alloc-h"))
        self.assertEqual(self.split(p2), {"a": (337500, 375000, None),
                                          "b": (112500, 125000, None),
                                          "c": (450000, 500000, None)})
        r = expect_ok(self.allocate(period="2026-11", method="history", history_periods=1,
                                    id="alloc-h"))
        self.assertEqual(self.split(r), self.split(p))
        self.assertEqual(r["appended"], 3)
        # All zero: May 2027 has no sales, so the split falls back to equal.
        z = expect_ok(self.allocate(period="2027-06", method="history", history_periods=1,
                                    id="alloc-z"))
        self.assertIs(z["fell_back"], True)
        self.assertEqual(sorted(v[1] for v in self.split(z).values()), [333, 333, 333])

    def test_preview_appends_nothing(self):
        before = self.d.status()
        q = expect_ok(self.allocate("query"))
        self.assertNotIn("appended", {k for k, v in q.items() if v})
        p = expect_ok(self.allocate("append", preview=True))
        after = self.d.status()
        self.assertEqual((after["last_seq"], after["last_hash"]),
                         (before["last_seq"], before["last_hash"]))
        self.assertEqual(self.split(q), self.split(p))
        self.assertSums(self.split(q), (800000, 1000001, 1200002))
        # preview is read as the query endpoint reads a key: one of another type is
        # bad_request on either endpoint, with the same message, and nothing is appended.
        for which in ("append", "query"):
            for bad in ("yes", 1):
                r = self.allocate(which, preview=bad)
                self.assertEqual((r["ok"], r.get("error"), r.get("message")),
                                 (False, "bad_request", "preview: expected a boolean"), r)
        # ... but the first bad key in the operation's list wins: scope before preview
        r = self.allocate(preview="yes", scope=7)
        self.assertEqual((r.get("error"), r.get("message")),
                         ("bad_request", "scope: expected a string of at most 79 bytes"), r)
        self.assertEqual(self.d.status()["last_seq"], before["last_seq"])
        # Committing gives what the preview showed; a nil preview is no preview.
        req = dict(id="alloc-1", occurred_at=self.at, scope="t1", metric="revenue",
                   period="2027-01", method="equal", author="vp.sales", reason="split")
        c = expect_ok(self.call("append", "allocate", preview=None, **req))
        self.assertEqual(self.split(c), self.split(q))
        self.assertEqual(c["appended"], 3)

    def test_children_as_of_occurred_at(self):
        self.append([ev("node_moved", "mv:c", local(2026, 11, 25), node="c", parent="t2",
                        effective_at=local(2026, 12, 1))])
        early = expect_ok(self.allocate("query", period="2026-12", occurred_at=local(2026, 11,
                                                                                      20)))
        late = expect_ok(self.allocate("query", period="2026-12", occurred_at=local(2026, 12, 5)))
        self.assertEqual(set(self.split(early)), {"a", "b", "c"})
        self.assertEqual(set(self.split(late)), {"a", "b"})
        self.assertSums(self.split(late), (700000, 1000000, 1300000))


class TargetCli(TargetCase):
    """`pacer target` set, adjust, history and allocate."""

    def cli(self, *args):
        r = pt.run_cli(list(args) + pt.cli_append_args(self.d))
        return r.returncode, r.stdout, r.stderr

    def test_set_adjust_history(self):
        at = "2026-10-20T09:00+08:00"
        at_ms = local(2026, 10, 20, 9)
        key = ["--scope", "t1", "--metric", "revenue", "--period", "2026-11"]
        rc, out, err = self.cli("target", "set", *key, "--floor", "800000", "--target",
                                "1000000", "--stretch", "1200000", "--currency", "CNY",
                                "--author", "ceo", "--reason", "Q4 plan", "--at", at, "--json")
        self.assertEqual(rc, 0, err)
        first = json.loads(out)
        self.assertEqual(first["id"], "target:t1:revenue:2026-11:*:%d" % at_ms)
        self.assertIs(first["dup"], False)
        # The same command again is a duplicate, not a second change.
        rc, out, err = self.cli("target", "set", *key, "--floor", "800000", "--target",
                                "1000000", "--stretch", "1200000", "--currency", "CNY",
                                "--author", "ceo", "--reason", "Q4 plan", "--at", at)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"already in the log as seq %d" % first["seq"])
        with self.d.client("query") as q:
            e = expect_ok(q.events(from_seq=first["seq"], limit=1))["events"][0]["event"]
        self.assertEqual(e, {"type": "target_set", "id": first["id"], "occurred_at": at_ms,
                             "scope": "t1", "metric": "revenue", "period": "2026-11",
                             "target": 1000000, "floor": 800000, "stretch": 1200000,
                             "currency": "CNY", "author": "ceo", "reason": "Q4 plan"})

        rc, _, err = self.cli("target", "adjust", *key, "--target", "1100000", "--author", "vp")
        self.assertEqual(rc, 2, err)
        self.assertIn("--reason", err)
        rc, out, err = self.cli("target", "adjust", *key, "--target", "1100000", "--author",
                                "vp", "--reason", "market grew", "--at",
                                "2026-11-03T02:00:00Z")
        self.assertEqual(rc, 0, err)
        self.assertIn("appended as seq", out)

        rc, out, err = self.cli("target", "history", *key)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        adjust = [l for l in lines if "adjust" in l]
        self.assertEqual(len(adjust), 1, out)
        self.assertIn("10,000.00 CNY \u2192 11,000.00 CNY", adjust[0])
        self.assertIn("2026-11-03 10:00+08:00", adjust[0])  # pacerd's zone, Asia/Shanghai
        self.assertIn("market grew", adjust[0])
        self.assertIn("vp", adjust[0])
        rc, out, err = self.cli("target", "history", *key, "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["history"], self.history("t1", "2026-11"))

        # Refusals: unknown scope (pacerd), malformed time (locally).
        rc, out, err = self.cli("target", "set", "--scope", "nobody", "--metric", "revenue",
                                "--period", "2026-11", "--target", "1", "--author", "ceo")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("scope", err)
        rc, out, err = self.cli("target", "set", *key, "--target", "1", "--author", "ceo",
                                "--json", "--id", "cli:bad-scope", "--scope", "nobody")
        self.assertEqual(rc, 1, err)
        self.assertEqual(json.loads(out)["error"], "invalid_value")
        rc, _, err = self.cli("target", "set", *key, "--target", "1", "--author", "ceo",
                              "--at", "2026-11-03T02:00")
        self.assertEqual(rc, 2, err)
        rc, _, err = self.cli("target", "set", *key, "--target", "-5", "--author", "ceo")
        self.assertEqual(rc, 2, err)
        rc, _, err = self.cli("target", "frobnicate")
        self.assertEqual(rc, 2, err)
        for sub in ("set", "adjust", "allocate", "history"):
            rc, out, _ = self.cli("target", sub, "--help")
            self.assertEqual(rc, 0, sub)
            self.assertIn("--scope", out)

    def test_long_key_gets_a_digest_id(self):
        long_line = "p" * 60
        rc, out, err = self.cli("target", "set", "--scope", "a", "--metric", "revenue",
                                "--period", "2026-11", "--product-line", long_line,
                                "--target", "5", "--author", "ceo", "--at", "2026-11-01",
                                "--json")
        self.assertEqual(rc, 0, err)
        ident = json.loads(out)["id"]
        self.assertLessEqual(len(ident.encode()), 64)
        self.assertRegex(ident, r"^target:[0-9a-f]{32}:%d$" % local(2026, 11, 1, 8))

    def test_allocate(self):
        self.append([tset("t1", "2026-12", 1000000, floor=700000, stretch=1300000)])
        key = ["--scope", "t1", "--metric", "revenue", "--period", "2026-12"]
        before = self.d.status()["last_seq"]
        rc, out, err = self.cli("target", "allocate", *key, "--method", "weights",
                                "--weights", "a=1,b=2,c=3.5", "--author", "vp", "--preview")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.d.status()["last_seq"], before)
        self.assertIn("preview: nothing appended", out)
        rows = {l.split()[0]: l.split()[1:] for l in out.splitlines()
                if l.split() and l.split()[0] in ("a", "b", "c", "total")}
        # Money in major units; this target has no currency, so no code.
        self.assertEqual(rows["c"], ["3.5", "3,769.23", "5,384.62", "7,000.00"])
        self.assertEqual(rows["total"], ["7,000.00", "10,000.00", "13,000.00"])
        rc, out, err = self.cli("target", "allocate", *key, "--method", "weights",
                                "--weights", "a=1,b=2,c=3.5", "--author", "vp", "--preview",
                                "--raw")
        self.assertEqual(rc, 0, err)
        rows = {l.split()[0]: l.split()[1:] for l in out.splitlines()
                if l.split() and l.split()[0] in ("c", "total")}
        self.assertEqual(rows["c"], ["3.5", "376923", "538462", "700000"])
        self.assertEqual(rows["total"], ["700000", "1000000", "1300000"])

        # A retry is the same request: same id and the same time (--at).
        args = ["target", "allocate", *key, "--method", "weights", "--weights",
                "a=1,b=2,c=3.5", "--author", "vp", "--id", "cli-alloc", "--at",
                "2026-11-20T10:00+08:00", "--json"]
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, err)
        first = json.loads(out)
        self.assertEqual((first["appended"], first["duplicates"]), (3, 0))
        self.assertEqual({x["child"]: x["target"] for x in first["allocation"]},
                         {"a": 153846, "b": 307692, "c": 538462})
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, err)
        self.assertEqual((json.loads(out)["appended"], json.loads(out)["duplicates"]), (0, 3))
        rc, out, err = self.cli(*args[:-1])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"appended 0, duplicate 3, rejected 0")

        rc, _, err = self.cli("target", "allocate", *key, "--method", "weights", "--weights",
                              "a=1,b=-2,c=1", "--author", "vp")
        self.assertEqual(rc, 1, err)
        self.assertIn("bad_request", err)
        for bad in (["--method", "weights", "--weights", "a=x"],
                    ["--method", "weights", "--weights", "a"],
                    ["--method", "weights"],
                    ["--method", "history"],
                    ["--method", "equal", "--history-periods", "2"],
                    ["--method", "dice"]):
            rc, _, err = self.cli("target", "allocate", *key, "--author", "vp", *bad)
            self.assertEqual(rc, 2, (bad, err))
        self.assertEqual(self.d.status()["last_seq"], before + 3)


if __name__ == "__main__":
    pt.main()
