"""The contract, said exactly (issue 10): what a client written from docs/ alone relies on, checked
against a real pacerd. Each test names the item of PROTOCOL.md or EVENTS.md it holds to."""

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
