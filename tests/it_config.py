"""pacerd's calendar settings: --working-weekdays, --time-zone, --fiscal-start-month, and the
same settings from a --config file (czmq ZPL). Fixed clocks: every query passes `now`.

The month is 2026-02 (28 days, 2026-02-01 is a Sunday). Mon-Fri gives 20 working days;
Sun-Thu (a Gulf week) also 20, but a different set: at Sunday 2026-02-08 12:00 local the
Mon-Fri week has 5 working days elapsed (Feb 2-6) while the Sun-Thu week has 5.5 (Feb 1-5 and
half of Feb 8)."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pacertest as pt  # noqa: E402
from pacertest import expect_ok  # noqa: E402

HOUR = 3600 * 1000
# 2026-02-01T00:00:00 in UTC+8 (Asia/Shanghai) and UTC+4 (Asia/Dubai)
FEB1_SH = 1769875200000
FEB1_DXB = FEB1_SH + 4 * HOUR


def org_and_target(at):
    return [
        pt.node_defined(node="acme", kind="company", name="ACME", parent=None),
        pt.node_defined(node="r1", kind="rep", name="R1", parent="acme"),
        pt.target_set(scope="r1", metric="revenue", period="2026-02", floor=None,
                      stretch=None, target=2000000, occurred_at=at),
    ]


class CalendarSettings(pt.PacerTestCase):

    def expected(self, d, now):
        with d.client("query") as q:
            rows = expect_ok(q.call("progress", scope="r1", metric="revenue",
                                    period="2026-02", now=now))["rows"]
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def test_default_week_is_monday_to_friday(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(org_and_target(FEB1_SH)))
        row = self.expected(d, FEB1_SH + 7 * 24 * HOUR + 12 * HOUR)
        self.assertEqual(row["expected"], 2000000 * 5 // 20)  # 5 of 20 working days

    def test_working_weekdays_flag(self):
        d = self.start_daemon(extra_args=["--working-weekdays", "sun,mon,tue,wed,thu"])
        with d.client() as c:
            expect_ok(c.append(org_and_target(FEB1_SH)))
        row = self.expected(d, FEB1_SH + 7 * 24 * HOUR + 12 * HOUR)
        self.assertEqual(row["expected"], 2000000 * 55 // 200)  # 5.5 of 20

    def test_bad_settings_are_refused(self):
        for args in (["--working-weekdays", "mon,funday"], ["--fiscal-start-month", "13"],
                     ["--time-zone", "Mars/Olympus"]):
            with self.subTest(args=args):
                r = subprocess.run([pt.PACERD] + args + ["--state-dir", pt.make_temp_dir("bad")],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(r.returncode, 0)
                self.assertTrue(r.stderr.strip(), "no message on stderr")

    def test_config_file(self):
        path = os.path.join(pt.make_temp_dir("cfg"), "pacerd.cfg")
        with open(path, "w") as f:
            f.write("pacerd\n    time_zone = Asia/Dubai\n    fiscal_start_month = 4\n"
                    "    working_weekdays = sun,mon,tue,wed,thu\n")
        d = self.start_daemon(extra_args=["--config", path])
        with d.client() as c:
            expect_ok(c.append(org_and_target(FEB1_DXB)))
            expect_ok(c.append([pt.target_set(scope="r1", metric="revenue",
                                              period="FY2026-Q4", target=3, floor=None,
                                              stretch=None)]))
        row = self.expected(d, FEB1_DXB + 7 * 24 * HOUR + 12 * HOUR)
        self.assertEqual(row["expected"], 2000000 * 55 // 200)
        self.assertEqual(row["period_start"], FEB1_DXB)  # local midnight in Dubai
        with d.client("query") as q:
            fy = expect_ok(q.call("progress", scope="r1", metric="revenue",
                                  period="FY2026-Q4", now=FEB1_DXB))["rows"][0]
        # April start, named for the year it ends in: FY2026-Q4 is 2026-01..2026-03
        self.assertEqual(fy["period_start"], FEB1_DXB - 31 * 24 * HOUR)


if __name__ == "__main__":
    pt.main()
