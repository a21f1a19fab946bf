"""Restarts: SIGTERM/SIGINT exit 0 and keep everything; a second daemon on the same state
directory is refused while the first keeps serving."""

import re
import signal

import pacertest as pt
from pacertest import expect_ok


class Restart(pt.PacerTestCase):

    def test_restart_keeps_everything(self):
        d = self.start_daemon()
        batches = [pt.one_of_each(), pt.sales(100), pt.sales(3)]
        seqs = []
        with d.client() as c:
            for b in batches:
                seqs.append(self.assertAppended(c.append(b), len(b)))
        st1 = d.status()
        with d.client("query") as q:
            log1 = pt.read_log(q, raw=True)
        self.stop_ok(d)

        self.restart(d)
        st2 = d.status()
        self.assertEqual(st2["last_seq"], st1["last_seq"])
        self.assertEqual(st2["last_hash"], st1["last_hash"])
        self.assertEqual(st2["log_events"], st1["log_events"])
        with d.client("query") as q:
            self.assertEqual(pt.read_log(q, raw=True), log1)
        # The duplicate index survived: retries get their original seqs.
        with d.client() as c:
            for b, s in zip(batches, seqs):
                again = expect_ok(c.append(b))
                self.assertEqual([r["seq"] for r in again["results"]], s)
                self.assertTrue(all(r["dup"] for r in again["results"]))
                self.assertEqual(again["appended"], 0)
            # Appending continues from there, and the chain continues across the restart.
            more = pt.sales(10)
            self.assertAppended(c.append(more), 10, first_seq=st1["last_seq"] + 1)
        with d.client("query") as q:
            log2 = pt.read_log(q, raw=True)
        self.assertEqual(log2[:len(log1)], log1)
        self.assertEqual(pt.verify_chain(log2), d.status()["last_hash"])
        self.assertEqual(d.status()["counters"]["appended"], 10)  # counters are since start

    def test_empty_log_restarts(self):
        d = self.start_daemon()
        self.stop_ok(d)
        self.restart(d)
        st = d.status()
        self.assertEqual((st["last_seq"], st["last_hash"]), (0, pt.ZERO_HASH))
        with d.client() as c:
            self.assertAppended(c.append(pt.sales(2)), 2, first_seq=1)

    def test_sigint_exits_zero_and_keeps_everything(self):
        d = self.start_daemon()
        with d.client() as c:
            self.assertAppended(c.append(pt.sales(5)), 5, first_seq=1)
        h = d.status()["last_hash"]
        self.stop_ok(d, signal.SIGINT)
        self.restart(d)
        self.assertEqual(d.status()["last_hash"], h)

    def test_several_restarts(self):
        d = self.start_daemon()
        sent = []
        for round_ in range(4):
            with d.client() as c:
                b = pt.sales(25) + [pt.kpi_defined(), pt.kpi_recorded(value=round_)]
                self.assertAppended(c.append(b), len(b), first_seq=len(sent) + 1)
                sent.extend(b)
            self.stop_ok(d)
            self.restart(d)
        with d.client("query") as q:
            log = pt.read_log(q, raw=True)
        self.assertEqual(len(log), len(sent))
        for r, e in zip(log, sent):
            self.assertTrue(pt.same_content(pt.msgpack.unpackb(r["event"], raw=False), e))
        pt.verify_chain(log)

    def test_sigterm_while_producers_stream(self):
        """SIGTERM while appends stream in: exit 0, and every acknowledged event is there."""
        d = self.start_daemon()
        producers = [pt.Producer(d.append_ep, "p%d" % i) for i in range(3)]
        for p in producers:
            p.start()
        try:
            pt.wait_until(lambda: sum(p.acked_count() for p in producers) >= 600,
                          pt.REQUEST_TIMEOUT, "600 acknowledged events")
            d.send_signal(signal.SIGTERM)
            rc = d.wait()
        finally:
            for p in producers:
                p.daemon_gone()
                p.join(pt.REQUEST_TIMEOUT)
        self.assertEqual(rc, 0, d.log_tail())
        for p in producers:
            self.assertEqual(p.errors, [], p.name)
        self.restart(d)
        with d.client("query") as q:
            log = pt.read_log(q)
        self.assertEqual([r["seq"] for r in log], list(range(1, len(log) + 1)))
        by_seq = {r["seq"]: r["event"] for r in log}
        for p in producers:
            for seq, ev in p.acked:
                self.assertIn(seq, by_seq)
                self.assertEqual(by_seq[seq]["id"], ev["id"])
        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_second_daemon_on_same_state_dir_is_refused(self):
        d1 = self.start_daemon()
        with d1.client() as c:
            self.assertAppended(c.append(pt.sales(3)), 3, first_seq=1)
        d2 = pt.Daemon(state_dir=d1.state_dir)  # other ports
        self._daemons.append(d2)
        self.addCleanup(d2.kill)
        d2.spawn()
        try:
            rc = d2.wait(pt.START_TIMEOUT)
        except AssertionError:
            self.fail("a second pacerd on the same state dir kept running")
        self.assertNotEqual(rc, 0)
        self.assertGreater(rc, 0, "died of a signal instead of exiting: %d" % rc)
        msg = d2.log_text()
        self.assertRegex(msg, re.compile(r"lock|already|running|in use|pid", re.I),
                         "the refusal does not say why")
        # The first one is unaffected.
        self.assertTrue(d1.running())
        self.assertServing(d1, expect_last_seq=3)
        # Also refused when the same directory is spelled differently.
        d3 = pt.Daemon(state_dir=d1.state_dir + "/./")
        self._daemons.append(d3)
        self.addCleanup(d3.kill)
        d3.spawn()
        self.assertNotEqual(d3.wait(pt.START_TIMEOUT), 0)
        self.assertServing(d1, expect_last_seq=4)


if __name__ == "__main__":
    pt.main()
