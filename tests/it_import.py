"""pacer import: spreadsheets and CRM exports (CSV) into events, against a real pacerd.

The files are the kind a sales team has: Chinese column names, amounts written "¥1,234.50" or
"1234.5", dates "2026/11/5 14:30" or "2026年11月7日", UTF-8 from a web CRM or GB18030 from a
Chinese Excel. What is checked:

- amounts reach the log in minor units exactly, and times in the daemon's zone (asked of pacerd,
  here also America/New_York) unless the cell carries an offset;
- a re-import is all duplicates, also of the same rows written differently (another encoding,
  another amount format, columns in another order), since ids come from the content;
- a file with bad rows appends nothing and names every bad row by line, with the column; a dry
  run appends nothing either way; --skip-bad appends the rest;
- what only the log knows (a refund of an unknown order) is refused by pacerd and reported by
  line.
"""

import json
import os
import pty
import select
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pacertest as pt
from pacertest import expect_ok

SHANGHAI = timezone(timedelta(hours=8))
NEW_YORK_NOV = timezone(timedelta(hours=-5))  # EST: November 2026 is after the DST change


def ms(dt):
    return int(dt.timestamp() * 1000)


SALES_CSV = """订单号,销售,客户,金额,日期,产品线,备注
A-1001,zhang,客户-甲,"¥1,234.50",2026/11/5 14:30,cloud,first order
A-1002,wang,客户-乙,1234.5,2026-11-06,,
A-1003,zhang,客户-丙,"1,234.50 元",2026年11月7日,hw,"two
lines"
A-1004,wang,客户-丁,"0.05",2026-11-09T10:00:00Z,,
"""
SALES_MAP = "订单号=order,销售=rep,客户=customer,金额=amount,日期=occurred_at,产品线=product_line"

# The same four sales, exported again: other column order, plain amounts, one date written
# otherwise, an extra column.
SALES_AGAIN_CSV = """日期,金额,订单号,客户,销售,产品线,地区
2026-11-05 14:30:00,1234.50,A-1001,客户-甲,zhang,cloud,华东
2026/11/6,"1,234.50",A-1002,客户-乙,wang,,华东
2026-11-07,123450e-2,A-1003,客户-丙,zhang,hw,华东
2026-11-09 18:00+08:00,0.050,A-1004,客户-丁,wang,,华东
"""

BAD_CSV = """订单号,销售,客户,金额,日期
B-1,zhang,C-1,"1,234.505",2026-11-05
B-2,wang,C-2,12,11/05/2026
B-3,,C-3,12,2026-11-05
B-4,wang,C-4,"1234,50",2026-11-05
B-5,wang,C-5,100,2026-11-05
B-6,wang,C-6,"$100",2026-11-05
"""


class ImportCase(pt.PacerTestCase):

    def setUp(self):
        self.dir = pt.make_temp_dir("import")

    def write(self, name, text, encoding="utf-8"):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(text.encode(encoding))
        return path

    def cli(self, d, *args):
        r = pt.run_cli(["import"] + list(args) + pt.cli_append_args(d))
        return r.returncode, r.stdout, r.stderr

    def cli_json(self, d, *args, rc=0):
        code, out, err = self.cli(d, *args, "--json")
        self.assertEqual(code, rc, out + err)
        return json.loads(out)

    def events(self, d, etype="sale_closed"):
        with d.client("query") as q:
            return [r["event"] for r in pt.read_log(q) if r["event"]["type"] == etype]


class ImportShanghai(ImportCase):
    """A daemon in its default zone, Asia/Shanghai."""

    def setUp(self):
        super().setUp()
        self.d = self.start_daemon()
        with self.d.client() as c:
            expect_ok(c.append([pt.node_defined(node="acme", kind="company", parent=None)]))
            expect_ok(c.append([pt.node_defined(node="zhang", kind="rep", parent="acme"),
                                pt.node_defined(node="wang", kind="rep", parent="acme")]))

    def test_utf8_import_and_reimports(self):
        d = self.d
        path = self.write("sales.csv", SALES_CSV)
        code, out, err = self.cli(d, "--csv", path, "--map", SALES_MAP, "--set", "currency=CNY")
        self.assertEqual(code, 0, out + err)
        self.assertIn("4 rows (UTF-8), sale_closed events, times in Asia/Shanghai", out)
        self.assertIn("appended 4, duplicate 0, rejected 0", out)
        sales = {e["order"]: e for e in self.events(d)}
        self.assertEqual({o: e["amount"] for o, e in sales.items()},
                         {"A-1001": 123450, "A-1002": 123450, "A-1003": 123450, "A-1004": 5})
        self.assertEqual(sales["A-1001"]["occurred_at"],
                         ms(datetime(2026, 11, 5, 14, 30, tzinfo=SHANGHAI)))
        self.assertEqual(sales["A-1002"]["occurred_at"],
                         ms(datetime(2026, 11, 6, tzinfo=SHANGHAI)))
        self.assertEqual(sales["A-1003"]["occurred_at"],
                         ms(datetime(2026, 11, 7, tzinfo=SHANGHAI)))
        self.assertEqual(sales["A-1004"]["occurred_at"],
                         ms(datetime(2026, 11, 9, 10, tzinfo=timezone.utc)))
        self.assertEqual(sales["A-1001"]["customer"], "客户-甲")
        self.assertEqual(sales["A-1001"]["currency"], "CNY")
        self.assertEqual(sales["A-1003"]["product_line"], "hw")
        self.assertNotIn("product_line", sales["A-1002"])  # an empty cell is no field
        self.assertTrue(all(e["id"].startswith("csv:") for e in sales.values()))
        last = d.status()["last_seq"]

        # Again, and the same rows written otherwise: all duplicates.
        again = self.write("again.csv", SALES_AGAIN_CSV)
        for p in [path, again]:
            r = self.cli_json(d, "--csv", p, "--map", SALES_MAP, "--set", "currency=CNY")
            self.assertEqual((r["appended"], r["duplicates"], r["rejected"]), (0, 4, 0), r)
        self.assertEqual(d.status()["last_seq"], last)

        # The daemon's progress counts each once.
        with d.client() as c:
            expect_ok(c.append([pt.target_set(scope="zhang", metric="revenue", period="2026-11",
                                              floor=None, stretch=None, target=1000000)]))
        with d.client("query") as q:
            row = expect_ok(q.call("progress", period="2026-11", scope="zhang",
                                   metric="revenue"))["rows"][0]
        self.assertEqual(row["actual"], 246900)

    def test_gb18030(self):
        d = self.d
        gb = self.write("sales-gb.csv", SALES_CSV, encoding="gb18030")
        # Read as UTF-8 it is refused before anything is sent, with a hint.
        code, out, err = self.cli(d, "--csv", gb, "--map", SALES_MAP, "--set", "currency=CNY")
        self.assertEqual(code, 2, out + err)
        self.assertIn("line 1 is not valid UTF-8", err)
        self.assertIn("--encoding gb18030", err)
        r = self.cli_json(d, "--csv", gb, "--encoding", "gb18030", "--map", SALES_MAP,
                          "--set", "currency=CNY")
        self.assertEqual((r["encoding"], r["appended"], r["problems"]), ("GB18030", 4, []))
        self.assertEqual(sorted(e["customer"] for e in self.events(d)),
                         sorted(["客户-甲", "客户-乙", "客户-丙", "客户-丁"]))
        # The UTF-8 export of the same rows: the same ids.
        utf8 = self.write("sales.csv", SALES_CSV)
        r = self.cli_json(d, "--csv", utf8, "--map", SALES_MAP, "--set", "currency=CNY")
        self.assertEqual((r["appended"], r["duplicates"]), (0, 4))
        # A byte that is not GB18030 is named by line.
        with open(gb, "ab") as f:
            f.write(b"A-9,zhang,C,1,2026-11-05,\x81\x20,\n")
        code, out, err = self.cli(d, "--csv", gb, "--encoding", "gb18030", "--map", SALES_MAP,
                                  "--set", "currency=CNY")
        self.assertEqual(code, 2, out + err)
        self.assertIn("line 7 is not valid GB18030", err)

    def test_bad_rows_are_all_reported_and_nothing_is_appended(self):
        d = self.d
        path = self.write("bad.csv", BAD_CSV)
        last = d.status()["last_seq"]
        m = "订单号=order,销售=rep,客户=customer,金额=amount,日期=occurred_at"
        for extra in [(), ("--dry-run",)]:
            code, out, err = self.cli(d, "--csv", path, "--map", m, "--set", "currency=CNY",
                                      *extra)
            self.assertEqual(code, 1, out + err)
            lines = [l for l in out.splitlines() if l.startswith("line ")]
            self.assertEqual([l.split(":")[0] for l in lines],
                             ["line 2", "line 3", "line 4", "line 5", "line 7"], out)
            self.assertIn('line 2: column 金额 (amount): "1,234.505" has 3 decimals; CNY has 2',
                          out)
            self.assertIn('line 3: column 日期 (occurred_at): "11/05/2026": write the year first',
                          out)
            self.assertIn("line 4: column 销售 (rep): required", out)
            self.assertIn("write 1234.50", out)
            self.assertIn('line 7: column 金额 (amount): "$100" is not in CNY', out)
            self.assertEqual(d.status()["last_seq"], last, "something was appended")
        self.assertIn("dry run: 1 row would be appended, 5 bad; nothing was appended", out)

        r = self.cli_json(d, "--csv", path, "--map", m, "--set", "currency=CNY", "--dry-run",
                          rc=1)
        self.assertEqual((r["rows"], r["good_rows"], r["bad_rows"], r["appended"]), (6, 1, 5, 0))
        self.assertEqual(r["problems"][2], {
            "line": 4, "column": "销售", "field": "rep", "error": "missing_field",
            "message": "rep: required for sale_closed"})

        r = self.cli_json(d, "--csv", path, "--map", m, "--set", "currency=CNY", "--skip-bad",
                          rc=1)
        self.assertEqual((r["appended"], r["bad_rows"]), (1, 5))
        self.assertEqual([e["order"] for e in self.events(d)], ["B-5"])

    def test_id_column_refunds_and_refusals_by_line(self):
        d = self.d
        sales = self.write("s.csv", "ID,Order,Rep,Amount,Currency,Closed\n"
                                    "7001,O-1,zhang,100.00,cny,2026-11-05 09:00\n"
                                    "7002,O-2,wang,$20,USD,2026-11-05 10:00\n")
        r = self.cli_json(d, "--csv", sales, "--map",
                          "ID=id,Order=order,Rep=rep,Amount=amount,Currency=currency,"
                          "Closed=occurred_at", "--id-prefix", "crm:")
        self.assertEqual(r["appended"], 2, r)
        got = {e["id"]: (e["amount"], e["currency"]) for e in self.events(d)}
        self.assertEqual(got, {"crm:7001": (10000, "CNY"), "crm:7002": (2000, "USD")})
        refunds = self.write("r.csv", "order,amount,when\n"
                                      "O-1,10.00,2026-11-06\n"
                                      "O-404,5.00,2026-11-06\n"
                                      "O-1,1000.00,2026-11-07\n")
        code, out, err = self.cli(d, "--csv", refunds, "--type", "sale_refunded", "--map",
                                  "order=order,amount=amount,when=occurred_at",
                                  "--set", "currency=CNY", "--set", "reason=CRM return")
        self.assertEqual(code, 1, out + err)
        self.assertIn("appended 1, duplicate 0, rejected 2", out)
        self.assertRegex(out, r'line 3: invalid_value: order: "O-404" is not a booked order '
                              r'\(id csv:[0-9a-f]{24}\)')
        self.assertIn('line 4: invalid_value: amount: 100000 is more than the 9000 that remains',
                      out)
        self.assertEqual([(e["order"], e["amount"], e["reason"])
                          for e in self.events(d, "sale_refunded")], [("O-1", 1000, "CRM return")])

    def test_targets_in_major_units(self):
        """Tiers are amounts when the event has a currency, counts when it has none."""
        d = self.d
        path = self.write("t.csv", "node,period,floor,target,stretch,cur\n"
                                   "zhang,2026-12,\"900,000.00\",\"1,000,000.00\",\"1,200,000\",CNY\n"
                                   "wang,2026-12,9,10,12,\n")
        r = self.cli_json(d, "--csv", path, "--type", "target_set", "--map",
                          "node=scope,period=period,floor=floor,target=target,stretch=stretch,"
                          "cur=currency", "--set", "metric=revenue", "--set", "author=planner",
                          "--set", "occurred_at=2026-11-25 09:00")
        self.assertEqual(r["appended"], 2, r)
        got = {e["scope"]: (e["floor"], e["target"], e["stretch"], e.get("currency"))
               for e in self.events(d, "target_set")}
        self.assertEqual(got, {"zhang": (90000000, 100000000, 120000000, "CNY"),
                               "wang": (9, 10, 12, None)})

    def test_usage_errors(self):
        d = self.d
        path = self.write("s.csv", SALES_CSV)
        for args, words in [
            ((), "--csv is required"),
            (("--csv", path), "--map is required"),
            (("--csv", path, "--map", "金额=amout"), '"amout" is not an event field'),
            (("--csv", path, "--map", "金额=amount,订单=order"), 'no column "订单"'),
            (("--csv", path, "--map", "金额=kpi"), "sale_closed has no field kpi"),
            (("--csv", path, "--map", "金额=amount", "--encoding", "latin1"), "--encoding"),
            (("--csv", path, "--map", "金额=amount", "--type", "sale"), "not an event type"),
            (("--csv", "/nonexistent.csv", "--map", "金额=amount"), "cannot open"),
            (("--csv", path, "--map", "订单号=order,销售=rep,金额=amount", "--set",
              "currency=CNY"), "sale_closed needs occurred_at: map a column to it"),
        ]:
            code, out, err = self.cli(d, *args)
            self.assertEqual(code, 2, (args, out, err))
            self.assertIn(words, err, args)
        code, out, err = self.cli(d, "--help")
        self.assertEqual(code, 0)
        self.assertIn("--map C=F", out)

    def test_progress_bar_on_a_terminal(self):
        """The bar is drawn on stderr only on a terminal, once the work has taken half a second:
        checked when this import took that long, and never on a pipe."""
        d = self.d
        rows = ["order,rep,amount,at"] + [
            "P-%d,zhang,%d.%02d,2026-11-%02d 10:00" % (i, i, i % 100, 1 + i % 28)
            for i in range(50000)]
        path = self.write("big.csv", "\n".join(rows) + "\n")
        args = [pt.PACER, "import", "--csv", path, "--map",
                "order=order,rep=rep,amount=amount,at=occurred_at", "--set",
                "currency=CNY"] + pt.cli_append_args(d)
        master, slave = pty.openpty()
        started = time.monotonic()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, text=True,
                                preexec_fn=pt._die_with_parent)
        os.close(slave)
        drawn = b""
        while True:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
        out = proc.stdout.read()
        proc.stdout.close()
        took = time.monotonic() - started
        self.assertEqual(proc.wait(), 0, out + drawn.decode(errors="replace"))
        os.close(master)
        self.assertIn("appended 50000", out)
        # The bar is drawn from half a second into the work, on the next row read or batch
        # acknowledged; a run's total time also holds the start (connecting, pacerd's zone)
        # and the wait for the last replies, which draw nothing: under a loaded machine a run of
        # 1-2 s could end before a draw. Three seconds leaves no such doubt.
        if took > 3.0:
            self.assertIn(b"\r[", drawn)
            self.assertIn(b"events", drawn)
        self.assertTrue(drawn == b"" or drawn.endswith(b"\r\x1b[K"), drawn[-40:])


class ImportNewYork(ImportCase):
    """Times without an offset are read in the daemon's zone, whatever the CLI's."""

    def test_times_in_the_daemons_zone(self):
        d = self.start_daemon(extra_args=("--time-zone", "America/New_York"))
        with d.client() as c:
            expect_ok(c.append([pt.node_defined(node="acme", kind="company", parent=None)]))
            expect_ok(c.append([pt.node_defined(node="zhang", kind="rep", parent="acme")]))
        path = self.write("s.csv", "order,rep,amount,at\n"
                                   "N-1,zhang,$10,2026-11-05 14:30\n"
                                   "N-2,zhang,$10,2026-11-05 14:30+08:00\n")
        env_tz = os.environ.get("TZ")
        os.environ["TZ"] = "Asia/Shanghai"  # the CLI's own zone must not matter
        try:
            r = self.cli_json(d, "--csv", path, "--map",
                              "order=order,rep=rep,amount=amount,at=occurred_at")
        finally:
            if env_tz is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = env_tz
        self.assertEqual((r["time_zone"], r["appended"]), ("America/New_York", 2), r)
        got = {e["order"]: (e["occurred_at"], e["currency"]) for e in self.events(d)}
        self.assertEqual(got, {
            "N-1": (ms(datetime(2026, 11, 5, 14, 30, tzinfo=NEW_YORK_NOV)), "USD"),
            "N-2": (ms(datetime(2026, 11, 5, 14, 30, tzinfo=SHANGHAI)), "USD")})


if __name__ == "__main__":
    pt.main()
