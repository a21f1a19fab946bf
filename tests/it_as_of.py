"""Progress is a pure fold of the log: as of a past point, after a rebuild, after a restart.

PROTOCOL.md: `as_of_seq` answers from the log up to and including that seq, `as_of` from the
events recorded at or before a time; `rebuild` discards the projection and folds the whole log
again; DESIGN.md: start-up loads the newest snapshot and replays the tail. In each case the
answer must be the one the log determines, so it is compared with an answer obtained another
way: the live answer recorded when the log stood at that point, a fresh daemon fed only the
log's first N events, or the answer before the rebuild or restart. The clock is fixed (`now`)
and the scenario is the month of it_progress.py."""

import json
import time

import pacertest as pt
from pacertest import expect_ok
from it_progress import NOW, ProgressCase, late, local, organisation, sale, scenario

QUERIES = [
    ("progress", {"period": "2026-10"}),
    ("progress", {"period": "2026-10", "scope": "east", "metric": "revenue"}),
    ("progress", {"period": "2026-10", "scope": "zhang", "product_line": "cloud"}),
    ("progress", {"period": "2026-09"}),
    ("progress", {"period": "2026-10", "metric": "revenue", "curve": "linear"}),
    ("leaderboard", {"level": "rep", "period": "2026-10", "metric": "revenue"}),
    ("leaderboard", {"level": "team", "period": "2026-10", "metric": "revenue"}),
]


def more_events():
    """Changes after the first snapshot of the answers: a target adjusted, new sales, a
    refund of an October sale."""
    return [
        {"type": "target_adjusted", "id": "adj:zhang", "occurred_at": local(2026, 10, 15, 9),
         "scope": "zhang", "metric": "revenue", "period": "2026-10", "target": 2000000,
         "author": "vp", "reason": "bigger territory"},
        sale("m1", "zhao", local(2026, 10, 15, 10), 250000, "hw"),
        sale("m2", "chen", local(2026, 10, 16, 9), 90000, "cloud"),
    ]


def refund_more():
    return [{"type": "sale_refunded", "id": "crm:c1:r", "occurred_at": local(2026, 10, 16, 10),
             "order": "c1", "amount": 300000, "currency": "CNY", "reason": "return"}]


class AsOf(ProgressCase):

    def answers(self, d, **extra):
        """Every query of QUERIES, with a fixed now: {index: (seq, rows)}."""
        out = {}
        for i, (op, fields) in enumerate(QUERIES):
            reply = self.query(d, op, now=NOW, **dict(fields, **extra))
            out[i] = (reply["seq"], reply["rows"])
        return out

    def rows_only(self, answers):
        return {i: rows for i, (_, rows) in answers.items()}

    def stages(self):
        return scenario() + [late(), more_events(), refund_more()]

    def test_as_of_seq_and_as_of_time_equal_the_live_answer_then(self):
        d = self.start_daemon()
        stages = self.stages()
        org = len(organisation())
        self.load(d, *stages[:org])  # the queries name nodes: define them first
        recorded = []  # (seq, recorded_at, live answers) after each later stage
        for stage in stages[org:]:
            self.load(d, stage)
            seq = d.status()["last_seq"]
            with d.client("query") as q:
                rec = expect_ok(q.events(from_seq=seq, limit=1))["events"][0]
            recorded.append((seq, rec["recorded_at"], self.answers(d)))
            time.sleep(0.01)  # the next stage is recorded at a later ms
        final = self.answers(d)
        for seq, recorded_at, live in recorded:
            self.assertEqual({i: s for i, (s, _) in live.items()},
                             {i: seq for i in live}, "live seq")
            progress_only = {i: a for i, a in live.items() if QUERIES[i][0] == "progress"}
            for i, (_, rows) in progress_only.items():
                op, fields = QUERIES[i]
                by_seq = self.query(d, op, now=NOW, as_of_seq=seq, **fields)
                self.assertEqual(by_seq["seq"], seq)
                self.assertEqual(by_seq["rows"], rows, "as_of_seq %d, %r" % (seq, fields))
                by_time = self.query(d, op, now=NOW, as_of=recorded_at, **fields)
                self.assertEqual(by_time["rows"], rows, "as_of %d, %r" % (recorded_at, fields))
        # Asking about the past did not disturb the present.
        self.assertEqual(self.answers(d), final)
        # Later events did change the answer, so the comparisons above meant something.
        self.assertNotEqual(self.rows_only(recorded[-3][2]), self.rows_only(final))

    def test_fresh_daemon_on_a_truncated_log(self):
        d = self.start_daemon()
        for stage in self.stages():
            self.load(d, stage)
        with d.client("query") as q:
            log = pt.read_log(q)
        cuts = sorted({len(log) // 3, len(log) // 2, len(log) - 4, len(log)})
        fresh = self.start_daemon()
        done = 0
        with fresh.client() as c:
            for cut in cuts:
                # One event a request, in log order: each sees the log before it, as it did.
                for rec in log[done:cut]:
                    r = expect_ok(c.append([rec["event"]]))
                    self.assertNotIn("error", r["results"][0], rec)
                done = cut
                want = self.rows_only(self.answers(fresh))
                for i, (op, fields) in enumerate(QUERIES):
                    if op != "progress":
                        continue
                    got = self.query(d, op, now=NOW, as_of_seq=cut, **fields)["rows"]
                    self.assertEqual(got, want[i], "as_of_seq %d, %r" % (cut, fields))

    def test_rebuild_gives_the_same_answers(self):
        d = self.start_daemon()
        for stage in self.stages():
            self.load(d, stage)
        before = self.answers(d)
        last = d.status()["last_seq"]
        with d.client() as c:
            r = expect_ok(c.call("rebuild"))
        self.assertEqual(r["events"], last)
        self.assertIsInstance(r["ms"], int)
        self.assertGreaterEqual(r["ms"], 0)
        self.assertEqual(d.status()["last_seq"], last, "rebuild appended something")
        self.assertEqual(self.answers(d), before)
        # And the projection keeps folding afterwards.
        self.load(d, [sale("after-rebuild", "zhang", local(2026, 10, 16, 8), 40000)])
        rows = self.progress(d, period="2026-10", scope="zhang", metric="revenue")["rows"]
        self.assertRow(self.row(rows, "acme/east/t1/zhang"), actual=660000 + 40000)

    def test_restart_gives_the_same_answers(self):
        d = self.start_daemon()
        stages = self.stages()
        for stage in stages[:-2]:
            self.load(d, stage)
        before = self.answers(d)
        self.stop_ok(d)  # a clean stop: a snapshot may be written
        self.restart(d)
        self.assertEqual(self.answers(d), before, "after SIGTERM and restart")
        # A tail after the snapshot, then a crash: snapshot + tail replay.
        for stage in stages[-2:]:
            self.load(d, stage)
        before = self.answers(d)
        d.kill()
        self.restart(d)
        self.assertEqual(self.answers(d), before, "after SIGKILL and restart")
        # A daemon that never stopped, fed the same log, agrees.
        with d.client("query") as q:
            log = pt.read_log(q)
        fresh = self.start_daemon()
        with fresh.client() as c:
            for rec in log:
                expect_ok(c.append([rec["event"]]))
        self.assertEqual(self.rows_only(self.answers(fresh)), self.rows_only(before))

    def test_periodic_snapshots_then_a_crash(self):
        """--snapshot-every: a forked child serialises the projection while the writer goes on;
        the writer stores it; a crash and restart load it and replay only the tail."""
        d = self.start_daemon(extra_args=("--snapshot-every", "4"))
        for stage in self.stages():
            self.load(d, stage)
        last = d.status()["last_seq"]
        deadline = time.time() + 120
        while d.status()["snapshot_seq"] == 0 and time.time() < deadline:
            time.sleep(0.05)  # the child is serialising; an idle writer stores it within 1 s
        snap = d.status()["snapshot_seq"]
        self.assertGreater(snap, 0, d.log_tail())
        self.assertLessEqual(snap, last)
        self.assertIn("serialised in", d.log_text())
        before = self.answers(d)
        d.kill()
        self.restart(d)
        # The newest stored snapshot at the kill may be later than the one read above.
        self.assertGreaterEqual(d.status()["snapshot_seq"], snap)
        started = [ln for ln in d.log_text().splitlines() if "projection at seq" in ln][-1]
        self.assertRegex(started, r"projection at seq %d: snapshot [1-9]" % last)
        self.assertNotIn("ignoring the snapshot", d.log_text())
        self.assertEqual(self.answers(d), before)

    def test_snapshots_under_churn(self):
        """A snapshot after every group: children are forked, stored, abandoned by a rebuild
        and by the stop; the answers never change and nothing is logged as failed."""
        d = self.start_daemon(extra_args=("--snapshot-every", "1"))
        stages = self.stages()
        for i, stage in enumerate(stages):
            self.load(d, stage)
            if i % 3 == 2:
                with d.client() as c:
                    expect_ok(c.call("rebuild"))
        before = self.answers(d)
        self.stop_ok(d)
        log = d.log_text()  # the restart starts a new log
        self.restart(d)
        self.assertEqual(self.answers(d), before)
        self.assertIn("serialising in child process", log)
        for bad in ("not written", "not stored", "ignoring the snapshot", " E "):
            self.assertNotIn(bad, log)
        self.assertNotIn("ignoring the snapshot", d.log_text())
        last = d.status()["last_seq"]
        self.assertEqual(d.status()["snapshot_seq"], last)  # the stop wrote the newest

    def test_cli_as_of_seq(self):
        d = self.start_daemon()
        stages = self.stages()
        for stage in stages[:-3]:
            self.load(d, stage)
        seq = d.status()["last_seq"]
        live = self.progress(d, period="2026-10")
        for stage in stages[-3:]:
            self.load(d, stage)
        r = pt.run_cli(["progress", "--period", "2026-10", "--now", "2026-10-16T12:00+08:00",
                        "--as-of-seq", str(seq), "--json"] + pt.cli_query_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual((got["seq"], got["rows"]), (seq, live["rows"]))


if __name__ == "__main__":
    pt.main()
