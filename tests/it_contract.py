"""The contract, said exactly (issue 10): what a client written from docs/ alone relies on, checked
against a real pacerd. Each test names the item of PROTOCOL.md or EVENTS.md it holds to."""

import json

import pacertest as pt
from pacertest import expect_ok

Q4 = 1790784000000  # 2026-10-01T00:00:00+08:00
DAY = 86400000
HUGE = 1 << 62


def org_events():
    return [pt.node_defined(node="acme", kind="company", name="ACME", parent=None, owner="ceo",
                            occurred_at=1),
            pt.node_defined(node="east", kind="region", name="East", parent="acme",
                            occurred_at=1),
            pt.node_defined(node="zhang", kind="rep", name="Zhang", parent="east",
                            occurred_at=1),
            pt.node_defined(node="wang", kind="rep", name="Wang", parent="east", occurred_at=1)]


def target(scope, value, metric="revenue", period="2026-Q4", **kw):
    kw.setdefault("floor", None)
    kw.setdefault("stretch", None)
    return pt.target_set(scope=scope, metric=metric, period=period, target=value, author="ceo",
                         occurred_at=1, **kw)


class Contract(pt.PacerTestCase):

    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.q = self.d.client("query")
        self.addCleanup(self.c.close)
        self.addCleanup(self.q.close)
        expect_ok(self.c.append(org_events()))

    def progress(self, **fields):
        fields.setdefault("period", "2026-Q4")
        fields.setdefault("now", Q4 + 40 * DAY)
        return expect_ok(self.q.call("progress", **fields))["rows"]

    def row(self, rows, path, metric="revenue", product_line=None):
        for r in rows:
            if r["path"] == path and r["metric"] == metric and r["product_line"] == product_line:
                return r
        self.fail("no row %s %s %s in %r" % (path, metric, product_line,
                                             [(r["path"], r["metric"], r["product_line"])
                                              for r in rows]))

    # EVENTS.md, "Limits": no limit on product lines; a refusal never stops the daemon.
    def test_thousands_of_product_lines_keep_pacerd_serving(self):
        expect_ok(self.c.append([target("zhang", 1000, product_line="sku-4500")]))
        lines = 4546
        for start in range(0, lines, 1000):
            batch = [pt.sale_closed(rep="zhang", amount=100, product_line="sku-%d" % i,
                                    occurred_at=Q4 + DAY)
                     for i in range(start, min(start + 1000, lines))]
            reply = expect_ok(self.c.append(batch))
            self.assertEqual(reply["appended"], len(batch), reply["results"][:3])
        row = self.row(self.progress(scope="zhang", product_line="sku-4500"), "acme/east/zhang",
                       product_line="sku-4500")
        self.assertEqual(row["actual"], 100)
        total = self.row(self.progress(scope="acme", metric="revenue"), "acme")
        self.assertEqual(total["actual"], 100 * lines)
        # still appending and answering
        expect_ok(self.c.append([pt.sale_closed(rep="wang", product_line="sku-9999")]))
        self.assertGreater(self.d.status()["last_seq"], lines)

    # EVENTS.md, "Limits", Totals: the second of two 2^62 sales is refused, nothing wraps.
    def test_totals_do_not_wrap(self):
        expect_ok(self.c.append([target("acme", HUGE), target("zhang", HUGE),
                                 target("wang", HUGE)]))
        reply = expect_ok(self.c.append([
            pt.sale_closed(rep="zhang", amount=HUGE, margin=HUGE, occurred_at=Q4 + DAY),
            pt.sale_closed(rep="wang", amount=HUGE, margin=0, occurred_at=Q4 + DAY)]))
        self.assertEqual(reply["appended"], 1)
        self.assertEqual(reply["results"][1]["error"], "out_of_range")
        self.assertIn("amount: with it, the amounts of every sale", reply["results"][1]["message"])
        # the rest of the way up to INT64_MAX is still open
        reply = expect_ok(self.c.append([
            pt.sale_closed(rep="wang", amount=HUGE - 1, margin=0, occurred_at=Q4 + DAY)]))
        self.assertEqual(reply["appended"], 1)
        now = Q4 + 12 * 3600 * 1000  # half a day in: the forecast saturates
        rows = self.progress(scope="acme", metric="revenue", now=now)
        company = self.row(rows, "acme")
        self.assertEqual(company["actual"], 2 ** 63 - 1)
        self.assertEqual(company["forecast"], 2 ** 63 - 1)
        self.assertEqual(company["status"], "achieved")
        self.assertGreater(company["attainment"], 1.99)
        board = expect_ok(self.q.call("leaderboard", level="rep", period="2026-Q4",
                                      metric="revenue", now=now))["rows"]
        self.assertEqual([(r["scope"], r["actual"]) for r in board],
                         [("zhang", HUGE), ("wang", HUGE - 1)])
        # KPI sums: three values of 4.6e15 are 1.38e19 thousandths; the third is refused
        expect_ok(self.c.append([pt.kpi_defined(kpi="csat", aggregation="sum")]))
        reply = expect_ok(self.c.append([
            pt.kpi_recorded(kpi="csat", scope="zhang", value=4.6e15, occurred_at=Q4 + DAY)
            for _ in range(3)]))
        self.assertEqual([r.get("error") for r in reply["results"]],
                         [None, None, "out_of_range"])

    # PROTOCOL.md, status: `commits` counts group commits that appended something.
    def test_commits_counts_only_commits_that_append(self):
        dup = pt.sale_closed(rep="zhang")
        expect_ok(self.c.append([dup]))
        before = self.d.status()["counters"]
        self.c.send_body_bytes(b"\xc1")  # malformed
        self.assertEqual(self.c.recv_reply()["error"], "malformed")
        self.assertEqual(self.c.call("no_such_op")["error"], "unknown_op")
        self.assertEqual(self.c.call("append", events=[])["error"], "bad_request")
        reply = expect_ok(self.c.append([dup, dup]))
        self.assertEqual(reply["duplicates"], 2)
        reply = expect_ok(self.c.append([pt.sale_closed(rep="zhang", amount=-1)]))
        self.assertEqual(reply["rejected"], 1)
        after = self.d.status()["counters"]
        self.assertEqual(after["commits"], before["commits"])
        self.assertEqual(after["requests"], before["requests"] + 5)
        self.assertEqual(after["bad_requests"], before["bad_requests"] + 3)
        self.assertEqual(after["duplicates"], before["duplicates"] + 2)
        self.assertEqual(after["rejected"], before["rejected"] + 1)
        expect_ok(self.c.append([pt.sale_closed(rep="zhang")]))
        self.assertEqual(self.d.status()["counters"]["commits"], before["commits"] + 1)

    # PROTOCOL.md, progress rows: ratios carry 4 decimals, the value the table shows.
    def test_ratios_are_sent_as_the_table_shows_them(self):
        expect_ok(self.c.append([target("east", 10000000), target("zhang", 6000000),
                                 target("wang", 4000000),
                                 pt.sale_closed(rep="zhang", amount=2500000,
                                                occurred_at=1791367200000),
                                 pt.sale_closed(rep="wang", amount=900000,
                                                occurred_at=1792576800000)]))
        now = 1794715200000  # 2026-11-15T12:00:00+08:00
        rows = self.progress(scope="east", metric="revenue", now=now)
        for r in rows:
            for key in ("attainment", "pace_ratio", "elapsed"):
                if r[key] is not None:
                    self.assertEqual(r[key], round(r[key], 4), (r["path"], key, r[key]))
                    self.assertLessEqual(len(repr(r[key])), 6, (r["path"], key, r[key]))
        east = self.row(rows, "acme/east")
        self.assertEqual(east["attainment"], 0.34)
        out = pt.run_cli(["progress", "--period", "2026-Q4", "--scope", "east", "--metric",
                          "revenue", "--now", "2026-11-15T12:00:00+08:00"]
                         + pt.cli_query_args(self.d))
        self.assertEqual(out.returncode, 0, out.stderr)
        line = [l for l in out.stdout.splitlines() if l.startswith("acme/east ")][0]
        self.assertIn("%.2f" % east["pace_ratio"], line.split())
        self.assertIn("34%", line.split())

    # A wide percentage keeps the attainment column aligned (its own right-aligned column).
    def test_wide_percentages_stay_aligned(self):
        expect_ok(self.c.append([target("zhang", 1), target("wang", 1000000),
                                 pt.sale_closed(rep="zhang", amount=12696030,
                                                occurred_at=Q4 + DAY),
                                 pt.sale_closed(rep="wang", amount=310000,
                                                occurred_at=Q4 + DAY)]))
        out = pt.run_cli(["progress", "--period", "2026-Q4", "--scope", "east", "--metric",
                          "revenue", "--now", "2026-11-15T12:00:00+08:00"]
                         + pt.cli_query_args(self.d))
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = [l for l in out.stdout.splitlines() if l.startswith("acme/east/")]
        self.assertEqual(len(lines), 2, out.stdout)
        self.assertIn("1,269,603,000%", lines[1])
        self.assertIn(" 31%", lines[0])
        self.assertEqual(lines[0].index("%"), lines[1].index("%"), out.stdout)

    # PROTOCOL.md, "Replies without corr": nil corr, one reply per request, in order.
    def test_corr_nil_before_the_body_is_read_and_replies_in_order(self):
        c = self.c
        c.send({"v": 1, "op": "status", "corr": 1})  # status: unknown_op here
        c.send_body_bytes(b"\x92\x01")  # truncated: malformed
        c.send_body_bytes(pt.packb([1, 2]))  # not a map
        c.send_body_bytes(b"\x81" + b"\xa1v")  # map with a key and no value: malformed
        c.send({"v": 1, "op": "append", "events": [], "corr": 5})
        replies = [c.recv_reply() for _ in range(5)]
        self.assertEqual([(r["corr"], r.get("error")) for r in replies],
                         [(1, "unknown_op"), (None, "malformed"), (None, "bad_request"),
                          (None, "malformed"), (5, "bad_request")])
        # a str corr that is not UTF-8 comes back byte for byte
        body = pt.packb({"v": 1, "op": "status", "corr": "XY"}).replace(b"\xa2XY",
                                                                         b"\xa2\xff\xfe")
        self.q.send_body_bytes(body)
        frames = self.q.sock.recv_multipart()
        self.assertIn(b"\xa4corr\xa2\xff\xfe", frames[1])

    # PROTOCOL.md: every key of a request body is a string.
    def test_request_keys_must_be_strings(self):
        self.q.send_body_bytes(pt.packb({"v": 1, "op": "status", "corr": 3, 7: 1}))
        reply = self.q.recv_reply()
        self.assertEqual((reply["corr"], reply["error"]), (3, "bad_request"))
        self.assertIn("key 3 is an integer; every key must be a string", reply["message"])
        self.q.send_body_bytes(pt.packb({b"v": 1, "op": "status"}))
        reply = self.q.recv_reply()
        self.assertEqual(reply["error"], "bad_request")
        self.assertIn("key 0 is a bin", reply["message"])

    # PROTOCOL.md, events: `from` 0 reads from 1, negative is bad_request.
    def test_events_from(self):
        self.assertEqual(expect_ok(self.q.events(from_seq=0, limit=1))["events"][0]["seq"], 1)
        self.assertEqual(self.q.events(from_seq=-1)["error"], "bad_request")
        self.assertEqual(self.q.events(limit=0)["error"], "bad_request")

    # EVENTS.md: the code of every limit.
    def test_codes_of_limits(self):
        cases = [
            (pt.sale_closed(id=""), "invalid_value"),
            (pt.sale_closed(id="x" * 65), "too_long"),
            (pt.kpi_recorded(value=float("nan")), "out_of_range"),
            (pt.kpi_recorded(value=float("inf")), "out_of_range"),
            (pt.kpi_recorded(value=9.000000000000002e15), "out_of_range"),
            (pt.sale_closed(amount=HUGE + 1), "out_of_range"),
            (pt.sale_closed(occurred_at=22649040000000), "out_of_range"),
            (target("zhang", 5, period="2687-09"), "out_of_range"),
        ]
        expect_ok(self.c.append([pt.kpi_defined()]))
        reply = expect_ok(self.c.append([ev for ev, _ in cases]))
        self.assertEqual([r.get("error") for r in reply["results"]], [code for _, code in cases],
                         reply["results"])
        reply = expect_ok(self.c.append([pt.kpi_recorded(value=9e15)]))
        self.assertEqual(reply["appended"], 1, reply)

    # EVENTS.md, "References are checked": an order is booked once.
    def test_order_booked_once(self):
        first = pt.sale_closed(order="10023")
        expect_ok(self.c.append([first, pt.sale_cancelled(order="10023")]))
        reply = expect_ok(self.c.append([pt.sale_closed(order="10023", amount=5)]))
        self.assertEqual(reply["results"][0]["error"], "invalid_value")
        self.assertIn('order: "10023" is already booked; refund or cancel it instead',
                      reply["results"][0]["message"])

    # EVENTS.md, "Events of one batch".
    def test_events_of_one_batch(self):
        def sale_and_refund(order):
            return [pt.sale_closed(order=order, amount=100, currency="CNY"),
                    pt.sale_refunded(order=order, amount=40, currency="CNY")]
        reply = expect_ok(self.c.append(sale_and_refund("b1")))
        self.assertEqual(reply["appended"], 2, reply)
        reply = expect_ok(self.c.append(sale_and_refund("b2"), atomic=True))
        self.assertEqual([r.get("error") for r in reply["results"]], ["aborted", "invalid_value"])
        self.assertIn('order: "b2" is not a booked order', reply["results"][1]["message"])
        # two refunds that each fit, but not both: refused whole by the second check
        expect_ok(self.c.append([pt.sale_closed(order="b3", amount=100, currency="CNY")]))
        reply = expect_ok(self.c.append([
            pt.sale_refunded(order="b3", amount=60, currency="CNY"),
            pt.sale_refunded(order="b3", amount=60, currency="CNY")], atomic=True))
        self.assertEqual([r.get("error") for r in reply["results"]], ["aborted", "invalid_value"])

    # EVENTS.md, currency: a current ISO 4217 code, checked when the event is appended.
    def test_currency_is_a_current_iso_4217_code(self):
        reply = expect_ok(self.c.append([pt.sale_closed(currency="XYZ"),
                                         pt.sale_closed(currency="RMB"),
                                         pt.sale_closed(currency="cny"),
                                         pt.sale_closed(currency="EUR"),
                                         target("zhang", 5, currency="ABC")]))
        self.assertEqual([r.get("error") for r in reply["results"]],
                         ["invalid_value", "invalid_value", "invalid_value", None,
                          "invalid_value"])
        self.assertIn('currency: "XYZ" is not a current ISO 4217 code',
                      reply["results"][0]["message"])
        self.assertIn("(the renminbi is CNY)", reply["results"][1]["message"])
        self.assertIn('currency: "cny" is not three capital letters',
                      reply["results"][2]["message"])

    # PROTOCOL.md, allocate: ties go in child id order; a refused weight names its child.
    def test_allocation_ties_and_weights(self):
        expect_ok(self.c.append([
            pt.node_defined(node="li", kind="rep", name="Li", parent="east", occurred_at=1),
            target("east", 10)]))
        key = dict(scope="east", metric="revenue", period="2026-Q4", occurred_at=Q4,
                   author="ceo", id=pt.uid("alloc"))
        reply = expect_ok(self.q.call("allocate", method="equal", **key))
        self.assertEqual([(a["child"], a["target"]) for a in reply["allocation"]],
                         [("li", 4), ("wang", 3), ("zhang", 3)])
        reply = self.q.call("allocate", method="weights",
                            weights={"li": 1, "wang": -1, "zhang": 2}, **key)
        self.assertEqual(reply["error"], "bad_request")
        self.assertEqual(reply["message"], "weights: wang = -1 is negative")
        reply = self.q.call("allocate", method="weights",
                            weights={"li": 1, "wang": float("nan"), "zhang": 2}, **key)
        self.assertEqual(reply["message"], "weights: wang = nan is not a finite number")
        out = pt.run_cli(["target", "allocate", "--help"])
        self.assertIn("child whose id sorts first", out.stdout)

    # PROTOCOL.md, progress: the keys without a product line by default; each_product_line all.
    def test_progress_of_every_product_line(self):
        expect_ok(self.c.append([
            target("east", 1000), target("zhang", 500, product_line="cloud"),
            target("wang", 300, product_line="box"),
            pt.sale_closed(rep="zhang", amount=70, product_line="cloud", occurred_at=Q4 + DAY),
            pt.sale_closed(rep="wang", amount=20, product_line="box", occurred_at=Q4 + DAY),
            pt.sale_closed(rep="wang", amount=5, product_line=None, occurred_at=Q4 + DAY)]))
        keys = lambda rows: [(r["path"], r["product_line"], r["actual"], r["has_target"])
                             for r in rows]
        self.assertEqual(keys(self.progress(scope="east", metric="revenue")),
                         [("acme/east", None, 95, True)])
        self.assertEqual(keys(self.progress(scope="east", metric="revenue",
                                            each_product_line=True)),
                         [("acme/east", None, 95, True), ("acme/east", "box", 20, False),
                          ("acme/east", "cloud", 70, False), ("acme/east/wang", "box", 20, True),
                          ("acme/east/zhang", "cloud", 70, True)])
        self.assertEqual(keys(self.progress(scope="east", metric="revenue", product_line="box")),
                         [("acme/east", "box", 20, False), ("acme/east/wang", "box", 20, True)])
        reply = self.q.call("progress", period="2026-Q4", product_line="box",
                            each_product_line=True)
        self.assertEqual(reply["error"], "bad_request")
        out = pt.run_cli(["progress", "--period", "2026-Q4", "--scope", "east", "--product-line",
                          "*", "--now", "2026-11-15T12:00:00+08:00"] + pt.cli_query_args(self.d))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("LINE", out.stdout)
        self.assertEqual(len([l for l in out.stdout.splitlines() if l.startswith("acme/")]), 5,
                         out.stdout)

    # PROTOCOL.md, status.undefined_nodes and the undefined_nodes query.
    def test_undefined_nodes_are_visible(self):
        self.assertEqual(self.d.status()["undefined_nodes"], 0)
        expect_ok(self.c.append([
            pt.sale_closed(rep="zhnag", amount=700, margin=100, occurred_at=Q4 + DAY),
            pt.sale_closed(rep="zhnag", amount=300, margin=0, occurred_at=Q4 + 3 * DAY),
            pt.payment_received(rep="zhnag", amount=50, order=None, customer="c",
                                occurred_at=Q4 + DAY),
            pt.activity_logged(rep="li", activity="call", occurred_at=Q4 + DAY),
            pt.sale_closed(rep="zhang", amount=5, occurred_at=Q4 + DAY)]))
        self.assertEqual(self.d.status()["undefined_nodes"], 2)
        reply = expect_ok(self.q.call("undefined_nodes"))
        self.assertEqual(reply["total"], 2)
        self.assertEqual(reply["nodes"], [
            {"node": "li", "first_day": "2026-10-02", "last_day": "2026-10-02", "revenue": 0,
             "margin": 0, "deals": 0, "new_customers": 0, "activities": 1, "collections": 0},
            {"node": "zhnag", "first_day": "2026-10-02", "last_day": "2026-10-04",
             "revenue": 1000, "margin": 100, "deals": 2, "new_customers": 0, "activities": 0,
             "collections": 50}])
        out = pt.run_cli(["undefined"] + pt.cli_query_args(self.d))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("zhnag  2026-10-02  2026-10-04", out.stdout)
        self.assertIn("2 credited ids are not defined", out.stdout)
        out = pt.run_cli(["status"] + pt.cli_query_args(self.d))
        self.assertIn("2 credited ids are not defined nodes", out.stdout)
        # defining one takes it off the list, and a restart (from a snapshot) agrees
        expect_ok(self.c.append([pt.node_defined(node="li", kind="rep", name="Li",
                                                 parent="east")]))
        self.assertEqual(self.d.status()["undefined_nodes"], 1)
        self.c.close()
        self.q.close()
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        self.assertEqual(self.d.status()["undefined_nodes"], 1)

    # README, first session: append and events take --json too.
    def test_append_and_events_json(self):
        good = pt.sale_closed(rep="zhang")
        lines = [json.dumps(good), "{not json", json.dumps(pt.sale_closed(currency="XYZ")),
                 json.dumps(good)]
        out = pt.run_cli(["append", "--json", "-"] + pt.cli_append_args(self.d),
                         input="\n".join(lines) + "\n")
        self.assertEqual(out.returncode, 1, out.stderr)
        report = json.loads(out.stdout)
        self.assertEqual((report["appended"], report["duplicates"], report["rejected"],
                          report["aborted"]), (1, 1, 2, 0))
        self.assertEqual([(r["line"], r["error"]) for r in report["rejections"]],
                         [(2, "invalid_json"), (3, "invalid_value")])
        self.assertIn("XYZ", report["rejections"][1]["message"])
        plain = pt.run_cli(["events"] + pt.cli_query_args(self.d))
        as_json = pt.run_cli(["events", "--json"] + pt.cli_query_args(self.d))
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        self.assertEqual(plain.stdout, as_json.stdout)
        self.assertEqual(json.loads(as_json.stdout.splitlines()[-1])["event"]["id"], good["id"])


class RebuildLog(pt.PacerTestCase):

    # A rebuild is not reported as a slow group (it logs its own time).
    def test_rebuild_is_not_a_slow_group(self):
        d = self.start_daemon(env={"PACERD_SLOW_GROUP_MS": "0"})
        with d.client() as c:
            expect_ok(c.append(org_events()))
            self.assertIn("slow group: 4 events", d.log_text())  # the hook works
            expect_ok(c.call("rebuild"))
            expect_ok(c.append([pt.sale_closed(rep="zhang")]))
        log = d.log_text()
        self.assertIn("projection rebuilt:", log)
        self.assertNotIn("slow group: 0 events", log)
        self.assertIn("slow group: 1 events", log)


if __name__ == "__main__":
    pt.main()
