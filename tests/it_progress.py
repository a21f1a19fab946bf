"""Progress against targets over one month, with a fixed clock, counted by hand.

Everything is evaluated with an explicit `now` (PROTOCOL.md, "Targets and progress"), so the
expected figures below are exact. The daemon runs in its default zone, Asia/Shanghai (UTC+8,
no DST); all times here are local times there.

The month is 2026-10. National Day holidays Thu 1 to Wed 7 October and a make-up working day on
Saturday 10 October (plus a make-up Sunday 27 September, outside the month) are set by
calendar_day_set events. October 2026 then has 18 working days:

    8 9 10(Sat, make-up) 12 13 14 15 16 | 19 20 21 22 23 | 26 27 28 29 30

NOW is Friday 16 October, 12:00 local: 7 whole working days have passed (8, 9, 10, 12, 13, 14,
15) and half of the 16th, so the working-day curve stands at 7.5 / 18 = 5/12, the remaining
working days are 10.5, and a forecast is actual x 18 / 7.5 = actual x 2.4.

Organisation (all defined 1 September):

    acme (company)
      east (region, no target of its own)
        t1 (team):  zhang, wang (wang moves to t2 from 12 October, recorded late)
        t2 (team):  zhao
      west (region)
        t3 (team):  chen

Sales, in CNY fen:

    zhang  s0  30 Sep 23:30  400,000 cloud   refunded 100,000 on 9 Oct  (September: 300,000)
           s1   1 Oct 00:30  100,000 cloud   (a holiday, and still 30 Sep in UTC)
           s2   8 Oct 10:00  200,000 cloud   paid 200,000 on 10 Oct
           s3  12 Oct 15:00  150,000 hw
           s4  14 Oct 11:00  200,000 cloud   refunded 90,000 on 15 Oct         (110,000)
           s6  13 Oct 16:00   50,000 hw      cancelled 15 Oct                   (0, no deal)
           s8  13 Oct 17:00   30,000 hw      fully refunded 14 Oct              (0, no deal)
           s7   1 Nov 07:00  200,000 cloud   (November here, still October in UTC)
           s5   9 Oct 09:00  100,000 hw      appended last (late)
           payment of 130,000 credited to zhang by rep, 15 Oct
    wang   w1   9 Oct 14:00  200,000         (t1: before the move)
           w2  13 Oct 10:00  300,000         (t2: after the move)
    zhao   z1   8 Oct 11:00  500,000
    chen   c1  10 Oct 10:00 1,000,000        c2  15 Oct 16:00  600,000

October revenue: zhang 660,000 (560,000 before s5 arrives), wang 500,000, zhao 500,000,
chen 1,600,000; t1 860,000, t2 800,000, t3 1,600,000; east 1,660,000, west 1,600,000;
acme 3,260,000.
"""

import decimal
import json
import os
import pty
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pacertest as pt
from pacertest import expect_ok

SHANGHAI = timezone(timedelta(hours=8))


def local(y, mo, d, h=0, mi=0):
    """ms UTC of a local time in Asia/Shanghai."""
    return int(datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).timestamp() * 1000)


NOW = local(2026, 10, 16, 12)
OCT_START, OCT_END = local(2026, 10, 1), local(2026, 11, 1)
FRACTION = 7.5 / 18
REMAINING_DAYS = 18 - 7.5
DEFINED = local(2026, 9, 1)
PLANNED = local(2026, 9, 25, 10)


def ev(etype, id, at, **fields):
    e = {"type": etype, "id": id, "occurred_at": at}
    e.update({k: v for k, v in fields.items() if v is not None})
    return e


def node(nid, kind, parent=None, name=None):
    return ev("node_defined", "org:" + nid, DEFINED, node=nid, kind=kind,
              name=name or nid.title(), parent=parent, owner=nid + ".owner")


def target(scope, metric, period, tgt, floor=None, stretch=None, product_line=None,
           at=PLANNED, currency=None):
    key = "%s:%s:%s:%s" % (scope, metric, period, product_line or "*")
    return ev("target_set", "t:" + key, at, scope=scope, metric=metric, period=period,
              product_line=product_line, target=tgt, floor=floor, stretch=stretch,
              currency=currency, author="planner", reason="2026 plan")


def sale(sid, rep, at, amount, product_line=None, customer=None):
    return ev("sale_closed", "crm:" + sid, at, order=sid, rep=rep, amount=amount,
              currency="CNY", product_line=product_line, customer=customer or "c-" + sid,
              margin=amount // 4)


def refund(sid, at, amount, suffix="r"):
    return ev("sale_refunded", "crm:%s:%s" % (sid, suffix), at, order=sid, amount=amount,
              currency="CNY", reason="return")


def cancel(sid, at):
    return ev("sale_cancelled", "crm:%s:cancel" % sid, at, order=sid, reason="void")


def organisation():
    """One stage per level: a parent must be in the log before its children's request."""
    return [
        [node("acme", "company")],
        [node("east", "region", "acme"), node("west", "region", "acme")],
        [node("t1", "team", "east"), node("t2", "team", "east"), node("t3", "team", "west")],
        [node("zhang", "rep", "t1", "张三"), node("wang", "rep", "t1", "王五"),
         node("zhao", "rep", "t2", "赵六"), node("chen", "rep", "t3", "陈七")],
    ]


def calendar():
    days = [ev("calendar_day_set", "cal:2026-10-%02d" % d, DEFINED, date="2026-10-%02d" % d,
               day_type="holiday", name="National Day") for d in range(1, 8)]
    days.append(ev("calendar_day_set", "cal:2026-09-27", DEFINED, date="2026-09-27",
                   day_type="workday", name="National Day make-up"))
    days.append(ev("calendar_day_set", "cal:2026-10-10", DEFINED, date="2026-10-10",
                   day_type="workday", name="National Day make-up"))
    return days


def targets():
    return [
        target("acme", "revenue", "2026-10", 6000000, floor=5000000, stretch=7200000,
               currency="CNY"),
        target("west", "revenue", "2026-10", 2000000, floor=1600000, stretch=2400000),
        target("t1", "revenue", "2026-10", 3000000),
        target("t2", "revenue", "2026-10", 1500000),
        target("t3", "revenue", "2026-10", 1500000, stretch=1600000),
        target("zhang", "revenue", "2026-10", 1800000, floor=1500000, stretch=2160000),
        target("wang", "revenue", "2026-10", 1000000),
        target("zhao", "revenue", "2026-10", 2000000),
        target("chen", "revenue", "2026-10", 1200000),
        target("zhang", "revenue", "2026-10", 900000, product_line="cloud"),
        target("zhang", "deals", "2026-10", 12),
        target("zhang", "collection_rate", "2026-10", 9000),
        target("zhang", "kpi:csat", "2026-10", 4500),
        target("t1", "kpi:csat", "2026-10", 4500),
        target("zhang", "revenue", "2026-09", 1000000),
    ]


def activity():
    """Everything but the late events."""
    return [
        ev("kpi_defined", "kpi:csat", DEFINED, kpi="csat", aggregation="average",
           name="Customer satisfaction", unit="points"),
        sale("s0", "zhang", local(2026, 9, 30, 23, 30), 400000, "cloud"),
        refund("s0", local(2026, 10, 9, 10), 100000),
        sale("s1", "zhang", local(2026, 10, 1, 0, 30), 100000, "cloud"),
        sale("s2", "zhang", local(2026, 10, 8, 10), 200000, "cloud", customer="c-big"),
        sale("s3", "zhang", local(2026, 10, 12, 15), 150000, "hw"),
        sale("s4", "zhang", local(2026, 10, 14, 11), 200000, "cloud"),
        refund("s4", local(2026, 10, 15, 9), 90000),
        sale("s6", "zhang", local(2026, 10, 13, 16), 50000, "hw"),
        cancel("s6", local(2026, 10, 15, 10)),
        sale("s8", "zhang", local(2026, 10, 13, 17), 30000, "hw"),
        refund("s8", local(2026, 10, 14, 9), 30000),
        sale("s7", "zhang", local(2026, 11, 1, 7), 200000, "cloud"),
        ev("payment_received", "pay:s2", local(2026, 10, 10, 9), amount=200000,
           currency="CNY", order="s2"),
        ev("payment_received", "pay:c-x", local(2026, 10, 15, 11), amount=130000,
           currency="CNY", customer="c-x", rep="zhang"),
        sale("w1", "wang", local(2026, 10, 9, 14), 200000, "cloud"),
        sale("w2", "wang", local(2026, 10, 13, 10), 300000, "cloud"),
        sale("z1", "zhao", local(2026, 10, 8, 11), 500000, "hw"),
        sale("c1", "chen", local(2026, 10, 10, 10), 1000000, "hw"),
        sale("c2", "chen", local(2026, 10, 15, 16), 600000, "cloud"),
        # csat: zhang averages 4.0 (4.5, 4.0, 3.5), wang 4.0 (one record), so t1's average
        # is 4.0 whether it averages the records or the reps' averages.
        ev("kpi_recorded", "csat:1", local(2026, 10, 9, 12), kpi="csat", scope="zhang",
           value=4.5),
        ev("kpi_recorded", "csat:2", local(2026, 10, 12, 12), kpi="csat", scope="zhang",
           value=4.0),
        ev("kpi_recorded", "csat:3", local(2026, 10, 14, 12), kpi="csat", scope="zhang",
           value=3.5),
        ev("kpi_recorded", "csat:4", local(2026, 10, 9, 12), kpi="csat", scope="wang",
           value=4),
    ]


def late():
    """Arrive after everything else: a sale from 9 October, and wang's move to t2 effective
    12 October, recorded after both of wang's sales."""
    return [
        sale("s5", "zhang", local(2026, 10, 9, 9), 100000, "hw"),
        ev("node_moved", "org:wang:move", local(2026, 10, 14, 9), node="wang", parent="t2",
           effective_at=local(2026, 10, 12), author="hr", reason="team rebalance"),
    ]


def scenario():
    """The events before the late ones, in dependency stages: EVENTS.md checks references
    (a sale's rep, a refund's order, a target's scope and KPI) against the log as it was
    before the request in an atomic batch, so what is referred to goes in an earlier request."""
    acts = activity()
    first = [e for e in acts if e["type"] == "kpi_defined"]
    sales = [e for e in acts if e["type"] == "sale_closed"]
    rest = [e for e in acts if e["type"] not in ("kpi_defined", "sale_closed")]
    return organisation() + [calendar() + first, targets(), sales, rest]


def rounded(x, places):
    """x to `places` decimals, half away from zero, as PROTOCOL.md says ratios are sent."""
    q = decimal.Decimal(repr(x)).quantize(decimal.Decimal(1).scaleb(-places),
                                          rounding=decimal.ROUND_HALF_UP)
    return float(q)


def near(a, b):
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


class ProgressCase(pt.PacerTestCase):
    """Helpers shared by the test classes of this file (and it_as_of.py)."""

    def load(self, d, *stages):
        """Append each stage (a list of events) as one atomic request, in order."""
        with d.client() as c:
            for events in stages:
                reply = expect_ok(c.append(events, atomic=True))
                refused = [(e["id"], r) for e, r in zip(events, reply["results"])
                           if "error" in r]
                self.assertEqual(refused, [], "events refused")
        return reply

    def query(self, d, op, **fields):
        with d.client("query") as q:
            return expect_ok(q.call(op, **fields))

    def progress(self, d, **fields):
        fields.setdefault("now", NOW)
        reply = self.query(d, "progress", **fields)
        self.assertEqual(reply["now"], fields["now"])
        self.assertIsInstance(reply["seq"], int)
        return reply

    def row(self, rows, path, metric="revenue", product_line=None):
        found = [r for r in rows if r["path"] == path and r["metric"] == metric
                 and r.get("product_line") == product_line]
        self.assertEqual(len(found), 1, "rows for %s %s %s: %r" % (
            path, metric, product_line, [(r["path"], r["metric"], r.get("product_line"))
                                         for r in rows]))
        return found[0]

    def assertRow(self, row, **want):
        """Integers and strings exactly, floats as PROTOCOL.md rounds them (ratios to 4 decimals,
        rates to 2) to 1e-9 relative; None means nil."""
        for key, value in want.items():
            got = row.get(key)
            where = "%s %s: %s" % (row.get("path"), row.get("metric"), key)
            if isinstance(value, float):
                value = rounded(value, 2 if key == "required_rate" else 4)
                self.assertTrue(near(got, value), "%s = %r, expected %r" % (where, got, value))
            else:
                self.assertEqual(got, value, where)
                if isinstance(value, bool) or value is None:
                    continue
                self.assertIs(type(got), type(value), where)


class MonthScenario(ProgressCase):

    def setUp(self):
        self.d = self.start_daemon()
        self.load(self.d, *scenario())

    def test_late_events_are_credited_to_their_own_day(self):
        d = self.d
        rows = self.progress(d, period="2026-10", metric="revenue")["rows"]
        self.assertRow(self.row(rows, "acme/east/t1/zhang"), actual=560000)
        # Before the move is known, both of wang's sales count for t1.
        self.assertRow(self.row(rows, "acme/east/t1/wang"), actual=500000)
        self.assertRow(self.row(rows, "acme/east/t1"), actual=1060000)
        self.assertRow(self.row(rows, "acme/east/t2"), actual=500000)

        self.load(d, late())
        rows = self.progress(d, period="2026-10", metric="revenue")["rows"]
        self.assertRow(self.row(rows, "acme/east/t1/zhang"), actual=660000)
        # The move, recorded late, takes the sale after 12 October to t2 and leaves the one
        # before it in t1; wang's own figure and the region's do not change.
        self.assertRow(self.row(rows, "acme/east/t2/wang"), actual=500000)
        self.assertRow(self.row(rows, "acme/east/t1"), actual=860000)
        self.assertRow(self.row(rows, "acme/east/t2"), actual=800000)
        self.assertRow(self.row(rows, "acme/east"), actual=1660000)
        # The late sale is in the day it happened on.
        day = self.progress(d, period="2026-10-09", scope="zhang", metric="revenue")["rows"]
        self.assertRow(self.row(day, "acme/east/t1/zhang"), has_target=False, actual=100000)

    def test_credit_to_a_rep_defined_later(self):
        # EVENTS.md, "Credit to nodes not defined yet": the sale is kept, credited to the id,
        # and rolls up once the node is defined; its first membership covers earlier days.
        d = self.d
        self.load(d, late(), [sale("n1", "newbie", local(2026, 10, 9, 10), 70000)])
        rows = self.progress(d, period="2026-10", scope="t3", metric="revenue")["rows"]
        self.assertRow(self.row(rows, "acme/west/t3"), actual=1600000)
        self.load(d, [ev("node_defined", "org:newbie", local(2026, 10, 14), node="newbie",
                         kind="rep", name="New", parent="t3", effective_at=local(2026, 10, 14))])
        rows = self.progress(d, period="2026-10", scope="t3", metric="revenue")["rows"]
        self.assertRow(self.row(rows, "acme/west/t3"), actual=1670000)
        rows = self.progress(d, period="2026-10", scope="newbie", metric="revenue")["rows"]
        self.assertRow(self.row(rows, "acme/west/t3/newbie"), has_target=False, actual=70000)

    def test_rep_progress_by_hand(self):
        self.load(self.d, late())
        reply = self.progress(self.d, period="2026-10", scope="zhang", metric="revenue")
        self.assertEqual(reply["seq"], self.d.status()["last_seq"])
        r = self.row(reply["rows"], "acme/east/t1/zhang")
        self.assertRow(
            r, scope="zhang", kind="rep", name="张三", owner="zhang.owner", metric="revenue",
            period="2026-10", product_line=None, period_start=OCT_START, period_end=OCT_END,
            has_target=True, floor=1500000, target=1800000, stretch=2160000, actual=660000,
            expected=750000, curve="working", elapsed=FRACTION, attainment=660000 / 1800000,
            pace_ratio=0.88, gap=90000, remaining=1140000,
            required_rate=1140000 / REMAINING_DAYS, forecast=1584000, tier="none",
            status="at_risk", coverage=None)

    def test_rollups_and_statuses(self):
        self.load(self.d, late())
        rows = self.progress(self.d, period="2026-10", scope="acme", metric="revenue")["rows"]
        all_lines = [r for r in rows if r.get("product_line") is None]
        self.assertEqual([r["path"] for r in all_lines], [
            "acme", "acme/east", "acme/east/t1", "acme/east/t1/zhang", "acme/east/t2",
            "acme/east/t2/wang", "acme/east/t2/zhao", "acme/west", "acme/west/t3",
            "acme/west/t3/chen"])
        # A region with no target of its own still shows what its reps sold.
        self.assertRow(self.row(rows, "acme/east"), kind="region", has_target=False,
                       actual=1660000, target=None, attainment=None, status=None)
        self.assertRow(self.row(rows, "acme"), kind="company", has_target=True,
                       actual=3260000, target=6000000, expected=2500000,
                       attainment=3260000 / 6000000, pace_ratio=3260000 / 2500000,
                       gap=-760000, remaining=2740000, required_rate=2740000 / REMAINING_DAYS,
                       forecast=7824000, tier="none", status="on_track", currency="CNY")
        self.assertRow(self.row(rows, "acme/west"), actual=1600000, expected=833333,
                       attainment=0.8, pace_ratio=1600000 / 833333, gap=-766667,
                       remaining=400000, forecast=3840000, tier="floor", status="on_track")
        self.assertRow(self.row(rows, "acme/east/t1"), actual=860000, expected=1250000,
                       pace_ratio=0.688, gap=390000, remaining=2140000,
                       required_rate=2140000 / REMAINING_DAYS, forecast=2064000, tier="none",
                       status="behind")
        self.assertRow(self.row(rows, "acme/east/t2"), actual=800000, expected=625000,
                       pace_ratio=1.28, forecast=1920000, status="on_track")
        self.assertRow(self.row(rows, "acme/west/t3"), actual=1600000, remaining=0,
                       required_rate=0.0, tier="stretch", status="stretch_achieved")
        self.assertRow(self.row(rows, "acme/west/t3/chen"), actual=1600000,
                       attainment=1600000 / 1200000, tier="target", status="achieved")
        self.assertRow(self.row(rows, "acme/east/t2/wang"), actual=500000, expected=416667,
                       pace_ratio=500000 / 416667, status="on_track")
        self.assertRow(self.row(rows, "acme/east/t2/zhao"), actual=500000, expected=833333,
                       pace_ratio=500000 / 833333, status="behind")
        # Asking for the region alone gives the same roll-up row.
        east = self.progress(self.d, period="2026-10", scope="east", metric="revenue")["rows"]
        self.assertRow(self.row(east, "acme/east"), has_target=False, actual=1660000)
        self.assertNotIn("acme/west", [r["path"] for r in east])

    def test_coverage(self):
        self.load(self.d, late())
        rows = self.progress(self.d, period="2026-10", metric="revenue")["rows"]
        cov = {r["path"]: r["coverage"] for r in rows if r.get("product_line") is None}
        self.assertEqual(cov["acme"], {"children": 2, "with_target": 1,
                                       "children_target": 2000000,
                                       "ratio": cov["acme"]["ratio"]})
        self.assertEqual(cov["acme"]["ratio"], 0.3333)  # 2,000,000 / 6,000,000 to 4 decimals
        self.assertEqual(cov["acme/west"], {"children": 1, "with_target": 1,
                                            "children_target": 1500000, "ratio": 0.75})
        self.assertEqual(cov["acme/west/t3"], {"children": 1, "with_target": 1,
                                               "children_target": 1200000, "ratio": 0.8})
        # wang has moved: t1 holds zhang alone, t2 zhao and wang.
        self.assertEqual(cov["acme/east/t1"], {"children": 1, "with_target": 1,
                                               "children_target": 1800000, "ratio": 0.6})
        self.assertEqual(cov["acme/east/t2"], {"children": 2, "with_target": 2,
                                               "children_target": 3000000, "ratio": 2.0})
        # A node without a target of its own: its children's sum, no ratio.
        self.assertEqual(cov["acme/east"]["children_target"], 4500000)
        self.assertIsNone(cov["acme/east"]["ratio"])
        self.assertIsNone(cov["acme/east/t1/zhang"])

    def test_reversals_count_in_the_period_of_the_sale(self):
        self.load(self.d, late())
        sep = self.progress(self.d, period="2026-09", scope="zhang", metric="revenue")["rows"]
        # 400,000 sold on 30 September, 100,000 refunded on 9 October: September loses it.
        # The period is over, so the whole target is expected and no working day remains.
        self.assertRow(self.row(sep, "acme/east/t1/zhang"), actual=300000, target=1000000,
                       expected=1000000, elapsed=1.0, pace_ratio=0.3, gap=700000,
                       remaining=700000, required_rate=None, forecast=300000,
                       status="behind")
        # s7 happened on 1 November local time (31 October in UTC): not October.
        nov = self.progress(self.d, period="2026-11", scope="zhang", metric="revenue")["rows"]
        self.assertRow(self.row(nov, "acme/east/t1/zhang"), has_target=False, actual=200000)

    def test_product_line_deals_ratio_and_kpi(self):
        self.load(self.d, late())
        rows = self.progress(self.d, period="2026-10", scope="zhang",
                             product_line="cloud")["rows"]
        # cloud: s1 100,000 + s2 200,000 + s4 110,000 (s3, s5, s6, s8 are hw).
        self.assertRow(self.row(rows, "acme/east/t1/zhang", "revenue", "cloud"),
                       actual=410000, target=900000, expected=375000,
                       attainment=410000 / 900000, pace_ratio=410000 / 375000,
                       forecast=984000, status="on_track")
        rows = self.progress(self.d, period="2026-10", scope="zhang")["rows"]
        # deals: s1 s2 s3 s4 s5; s6 was cancelled and s8 fully refunded.
        self.assertRow(self.row(rows, "acme/east/t1/zhang", "deals"), actual=5, target=12,
                       expected=5, pace_ratio=1.0, remaining=7, status="on_track")
        # collections 200,000 + 130,000 over revenue 660,000: 50.00%.
        self.assertRow(self.row(rows, "acme/east/t1/zhang", "collection_rate"), actual=5000,
                       target=9000, expected=3750, attainment=5000 / 9000)
        # csat: average of 4.5, 4.0, 3.5, x 1000.
        self.assertRow(self.row(rows, "acme/east/t1/zhang", "kpi:csat"), actual=4000,
                       target=4500, attainment=4000 / 4500)
        t1 = self.progress(self.d, period="2026-10", scope="t1", metric="kpi:csat")["rows"]
        self.assertRow(self.row(t1, "acme/east/t1", "kpi:csat"), actual=4000)
        # The selection's metrics are the ones with targets; rows by path, then metric.
        zhang = [(r["metric"], r.get("product_line")) for r in rows
                 if r["path"] == "acme/east/t1/zhang"]
        self.assertEqual(sorted(m for m, _ in zhang), [m for m, _ in zhang])
        self.assertTrue({"revenue", "deals", "collection_rate", "kpi:csat"} <= {m for m, _ in
                                                                                  zhang})

    def test_linear_curve(self):
        self.load(self.d, late())
        rows = self.progress(self.d, period="2026-10", scope="zhang", metric="revenue",
                             curve="linear")["rows"]
        # 15.5 of 31 calendar days.
        self.assertRow(self.row(rows, "acme/east/t1/zhang"), curve="linear", elapsed=0.5,
                       expected=900000, pace_ratio=660000 / 900000, status="behind")

    def test_daily(self):
        """PROTOCOL.md, "daily": a key's actual day by day, each sale on its own local day by
        the membership of that day, reversals on the original sale's day."""
        self.load(self.d, late())
        reply = self.query(self.d, "daily", scope="t1", metric="revenue", period="2026-10",
                           now=NOW)
        days = reply["days"]
        self.assertEqual((reply["path"], reply["target"], reply["floor"], reply["currency"]),
                         ("acme/east/t1", 3000000, None, None))
        self.assertEqual(len(days), 31)
        self.assertEqual((days[0]["date"], days[0]["start"], days[-1]["date"]),
                         ("2026-10-01", OCT_START, "2026-10-31"))
        self.assertEqual(days[1]["start"], local(2026, 10, 2))
        # s1 on the 1st (still 30 September in UTC); wang's w2 of the 13th went to t2 with
        # his move of the 12th; s6 (cancelled) and s8 (fully refunded) leave the 13th at 0;
        # s4's refund of the 15th lowers the 14th.
        by_day = {d["date"][-2:]: d["actual"] for d in days if d["actual"]}
        self.assertEqual(by_day, {"01": 100000, "08": 200000, "09": 300000, "12": 150000,
                                  "14": 110000})
        self.assertEqual(days[-1]["cumulative"], 860000)
        self.assertEqual(days[8]["cumulative"], 600000)  # the 9th
        # holidays 1-7 October, make-up Saturday the 10th, Sunday off; the pace line reaches the target.
        self.assertEqual([d["working"] for d in days[:12]],
                         [False] * 7 + [True] * 3 + [False, True])
        self.assertEqual(days[6]["expected"], 0)
        self.assertRow(days[7], elapsed=1 / 18, expected=166667)
        self.assertRow(days[-1], elapsed=1.0, expected=3000000)
        # Every key's last cumulative is its progress actual.
        rows = self.progress(self.d, period="2026-10", scope="acme")["rows"]
        for r in rows:
            if r["metric"] == "kpi:csat" and r["path"] == "acme":
                continue
            fields = dict(scope=r["scope"], metric=r["metric"], period="2026-10")
            if r.get("product_line"):
                fields["product_line"] = r["product_line"]
            last = self.query(self.d, "daily", **fields)["days"][-1]
            self.assertEqual(last["cumulative"], r["actual"], fields)
        # A ratio per day and cumulated: the 10th has 200,000 collected on 400,000 sold.
        ratio = self.query(self.d, "daily", scope="zhang", metric="collection_rate",
                           period="2026-10")["days"]
        self.assertEqual((ratio[9]["actual"], ratio[9]["cumulative"]), (None, 5000))
        self.assertNotIn("expected", self.query(self.d, "daily", scope="east",
                                                metric="revenue", period="2026-10")["days"][0])
        with self.d.client("query") as q:
            for fields, word in [(dict(metric="revenue"), "scope"), (dict(scope="t1"), "metric"),
                                 (dict(scope="t1", metric="revenue", each_product_line=True),
                                  "each_product_line")]:
                r = q.call("daily", period="2026-10", **fields)
                self.assertEqual((r["ok"], r["error"]), (False, "bad_request"), r)
                self.assertIn(word, r["message"])

    def test_leaderboard(self):
        self.load(self.d, late())
        d = self.d

        def board(level, **kw):
            reply = self.query(d, "leaderboard", level=level, period="2026-10",
                               metric="revenue", now=NOW, **kw)
            rows = reply["rows"]
            self.assertEqual([r["rank"] for r in rows], list(range(1, len(rows) + 1)))
            return [r["path"] for r in rows], rows

        paths, rows = board("rep")
        self.assertEqual(paths, ["acme/west/t3/chen", "acme/east/t2/wang",
                                 "acme/east/t1/zhang", "acme/east/t2/zhao"])
        self.assertRow(rows[0], attainment=1600000 / 1200000, status="achieved")
        self.assertEqual(board("team")[0], ["acme/west/t3", "acme/east/t2", "acme/east/t1"])
        self.assertEqual(board("region")[0], ["acme/west"])  # east has no target
        self.assertEqual(board("rep", scope="east")[0],
                         ["acme/east/t2/wang", "acme/east/t1/zhang", "acme/east/t2/zhao"])
        self.assertEqual(board("rep", limit=2)[0], ["acme/west/t3/chen", "acme/east/t2/wang"])

    def test_leaderboard_ties_by_actual_then_id(self):
        d = self.d
        self.load(d, late(), [node("li", "rep", "t3"), node("an", "rep", "t3")],
                  [target("li", "revenue", "2026-10", 1000000),
                   target("an", "revenue", "2026-10", 2000000),
                   sale("l1", "li", local(2026, 10, 12, 9), 500000),
                   sale("a1", "an", local(2026, 10, 12, 9), 1000000)])
        # wang, li and an all stand at 50%: an sold most; wang and li tie on actual too,
        # and li < wang by id.
        rows = self.query(d, "leaderboard", level="rep", period="2026-10", metric="revenue",
                          now=NOW)["rows"]
        self.assertEqual([r["scope"] for r in rows], ["chen", "an", "li", "wang", "zhang",
                                                      "zhao"])

    def test_bad_requests(self):
        with self.d.client("query") as q:
            r = q.call("progress", period="2026-13", now=NOW)
            self.assertEqual((r["ok"], r["error"]), (False, "invalid_value"), r)
            self.assertIn("period", r["message"])
            r = q.call("progress", period="2026-10", scope="nobody", now=NOW)
            self.assertEqual((r["ok"], r["error"]), (False, "not_found"), r)
            self.assertIn("nobody", r["message"])
            r = q.call("progress", now=NOW)
            self.assertEqual((r["ok"], r["error"]), (False, "bad_request"), r)
            self.assertIn("period", r["message"])
            r = q.call("progress", period="2026-10", metric="Revenue!", now=NOW)
            self.assertEqual((r["ok"], r["error"]), (False, "invalid_value"), r)
            r = q.call("leaderboard", level="galaxy", period="2026-10", metric="revenue")
            self.assertFalse(r["ok"], r)
            self.assertIn("level", r["message"])


ANSI = re.compile(r"\x1b\[")


class ProgressCli(ProgressCase):
    """pacer progress, leaderboard and rebuild against the month scenario."""

    def setUp(self):
        self.d = self.start_daemon()
        self.load(self.d, *scenario(), late())

    def cli(self, *args):
        r = pt.run_cli(list(args) + pt.cli_append_args(self.d))
        return r.returncode, r.stdout, r.stderr

    def test_progress_json_is_the_reply(self):
        rc, out, err = self.cli("progress", "--period", "2026-10", "--scope", "east",
                                "--metric", "revenue", "--now", str(NOW), "--json")
        self.assertEqual(rc, 0, err)
        got = json.loads(out)
        want = self.progress(self.d, period="2026-10", scope="east", metric="revenue")
        self.assertEqual(got["rows"], want["rows"])
        self.assertEqual((got["seq"], got["now"]), (want["seq"], want["now"]))
        # The same instant written three ways.
        for when in ("2026-10-16T12:00+08:00", "2026-10-16T04:00:00Z",
                     "2026-10-16T12:00:00.000+0800"):
            rc, out2, err = self.cli("progress", "--period", "2026-10", "--scope", "east",
                                     "--metric", "revenue", "--now", when, "--json")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out2), got, when)

    def test_progress_table(self):
        rc, out, err = self.cli("progress", "--period", "2026-10", "--now",
                                "2026-10-16T12:00+08:00", "--metric", "revenue")
        self.assertEqual(rc, 0, err)
        self.assertIsNone(ANSI.search(out), "colour codes on a pipe")
        lines = out.splitlines()
        zhang = [l for l in lines if "acme/east/t1/zhang" in l and "cloud" not in l]
        self.assertEqual(len(zhang), 1, out)
        # 36.7%: three full cells of ten; 660,000 of 1,800,000; at risk, pace 0.88.
        self.assertIn("\u2588\u2588\u2588\u2591", zhang[0])
        self.assertRegex(zhang[0], r"\b37%")
        for text in ("660,000", "1,800,000", "0.88", "at_risk", "1,584,000"):
            self.assertIn(text, zhang[0])
        east = [l for l in lines if re.search(r"acme/east\s", l)]
        self.assertEqual(len(east), 1, out)
        self.assertIn("1,660,000", east[0])
        acme = [l for l in lines if re.match(r"acme\s", l)]
        self.assertRegex(acme[0], r"33% 1/2")  # coverage
        self.assertIn("stretch_achieved", out)
        self.assertIn("behind", out)

    def test_progress_errors(self):
        rc, _, err = self.cli("progress", "--period", "2026-10", "--scope", "nobody",
                              "--now", str(NOW))
        self.assertEqual(rc, 1, err)
        self.assertIn("not_found", err)
        rc, _, err = self.cli("progress", "--now", str(NOW))
        self.assertEqual(rc, 2, err)
        self.assertIn("--period", err)
        for bad in ("2026-10-16T12:00", "2026-13-01", "yesterday", "2026-10-16T25:00Z"):
            rc, _, err = self.cli("progress", "--period", "2026-10", "--now", bad)
            self.assertEqual(rc, 2, bad)
            self.assertIn("--now", err)
        rc, _, err = self.cli("progress", "--period", "2026-10", "--as-of", "2026-10-16",
                              "--as-of-seq", "3")
        self.assertEqual(rc, 2, err)
        rc, out, _ = self.cli("progress", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--as-of-seq", out)

    def test_colour_only_on_a_terminal(self):
        argv = [pt.PACER, "progress", "--period", "2026-10", "--metric", "revenue", "--now",
                str(NOW)] + pt.cli_query_args(self.d)

        def on_pty(env):
            master, slave = pty.openpty()
            p = subprocess.Popen(argv, stdout=slave, stderr=subprocess.DEVNULL, env=env)
            os.close(slave)
            chunks = []
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO once the child has closed its side
                    break
                if not data:
                    break
                chunks.append(data)
            os.close(master)
            return p.wait(timeout=pt.CLI_TIMEOUT), b"".join(chunks).decode()

        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        rc, out = on_pty(env)
        self.assertEqual(rc, 0, out)
        for styled in ("\x1b[33mat_risk", "\x1b[31mbehind", "\x1b[32mon_track",
                       "\x1b[32machieved", "\x1b[1;32mstretch_achieved"):
            self.assertIn(styled, out)
        rc, out = on_pty(dict(env, NO_COLOR="1"))
        self.assertEqual(rc, 0, out)
        self.assertIsNone(ANSI.search(out))

    def test_leaderboard_cli(self):
        rc, out, err = self.cli("leaderboard", "--level", "rep", "--period", "2026-10",
                                "--metric", "revenue", "--now", str(NOW), "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["scope"] for r in json.loads(out)["rows"]],
                         ["chen", "wang", "zhang", "zhao"])
        rc, out, err = self.cli("leaderboard", "--level", "rep", "--period", "2026-10",
                                "--metric", "revenue", "--now", str(NOW), "--limit", "2")
        self.assertEqual(rc, 0, err)
        ranked = [l for l in out.splitlines() if re.match(r"\s*\d+\s+acme/", l)]
        self.assertEqual(len(ranked), 2, out)
        self.assertIn("acme/west/t3/chen", ranked[0])
        self.assertIn("陈七", ranked[0])
        self.assertIn("acme/east/t2/wang", ranked[1])
        rc, _, err = self.cli("leaderboard", "--period", "2026-10", "--metric", "revenue")
        self.assertEqual(rc, 2, err)
        self.assertIn("--level", err)

    def test_rebuild_cli(self):
        before = self.progress(self.d, period="2026-10")
        rc, out, err = self.cli("rebuild")
        self.assertEqual(rc, 0, err)
        m = re.search(r"(\d+) events folded in (\d+) ms", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(1)), self.d.status()["last_seq"])
        rc, out, err = self.cli("rebuild", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["events"], self.d.status()["last_seq"])
        self.assertEqual(self.progress(self.d, period="2026-10")["rows"], before["rows"])


if __name__ == "__main__":
    pt.main()
