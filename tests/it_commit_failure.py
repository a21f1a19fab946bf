"""A transaction that fails: the writer commits one group on the commit thread while it applies
the next (daemon/writer), so a failed commit must answer its own group `internal`, undo the
duplicate index and the projection, and apply the group behind it again on the durable log.

pacerd-test (pacerd with its fault hooks compiled in) runs with PACERD_TEST_FAIL_COMMIT=N
(daemon/commit.h): every Nth transaction of appends fails as a broken disk would make it. Four
producers stream batches of 300 events concurrently (a group of fewer than 256 waits for the
commit before it instead), so groups are applied behind failing ones; each batch answered
`internal` is sent again until it is acknowledged. In the end every event is in the log exactly
once, in acknowledged order, the chain holds, and the projection counts every sale once, live and
after a restart. The production pacerd has no such hook."""

import threading

import pacertest as pt

PRODUCERS = 4
BATCHES = 20
BATCH = 300  # at least the 256 events with which a group is applied behind a commit


class CommitFailure(pt.PacerTestCase):

    def test_failed_commits_are_answered_undone_and_retried(self):
        d = self.start_daemon(env={"PACERD_TEST_FAIL_COMMIT": "4"}, test_build=True)
        self.assertIn("PACERD_TEST_FAIL_COMMIT=4", d.log_text())
        with d.client() as c:  # before any transaction can fail
            pt.define_zhang_deals_target(c)
        acked = {}      # id -> seq
        failures = []   # (producer, batch) answered `internal`
        errors = []
        lock = threading.Lock()

        def produce(p, phase):
            try:
                with d.client() as c:
                    for b in range(BATCHES):
                        batch = [pt.sale_closed(id="%s-p%d-b%d-%d" % (phase, p, b, i), rep="zhang")
                                 for i in range(BATCH)]
                        for attempt in range(20):
                            reply = c.append(batch)
                            if reply.get("ok") is True:
                                break
                            if reply.get("error") != "internal":
                                raise AssertionError("unexpected reply %r" % (reply,))
                            with lock:
                                failures.append((p, b))
                        else:
                            raise AssertionError("batch %d of producer %d never went in" % (b, p))
                        results = reply["results"]
                        # A retry finds nothing of a failed attempt: all appended, none a
                        # duplicate (a duplicate would point at a seq that does not hold it).
                        if any("error" in r or r["dup"] for r in results):
                            raise AssertionError("batch %d of producer %d: %r" % (b, p, results))
                        with lock:
                            for ev, r in zip(batch, results):
                                acked[ev["id"]] = r["seq"]
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        # Concurrent producers (failed commits found while the next group is applied), then one
        # producer alone (failed commits found between groups), then concurrent ones again.
        for phase, producers in (("a", PRODUCERS), ("b", 1), ("c", PRODUCERS)):
            threads = [threading.Thread(target=produce, args=(p, phase))
                       for p in range(producers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertGreater(len(failures), 0, "no transaction failed: the hook did not work")
        self.assertIn("injected failure", d.log_text())
        # Every failure was an injected one: none came from the recovery itself. One that was not
        # is shown with the lines before it (which groups failed, which were applied again), and
        # the daemon's whole log is kept (pacertest keeps a failed run's directory).
        lines = d.log_text().splitlines()
        for k, line in enumerate(lines):
            if "not appended" in line and "injected failure" not in line:
                self.fail("a failure the test did not inject:\n"
                          + "\n".join(lines[max(0, k - 30):k + 1]))
        # At least one group was applied behind a failed one and had to be applied again.
        self.assertIn("the commit before it failed", d.log_text())
        total = (2 * PRODUCERS + 1) * BATCHES * BATCH
        self.assertEqual(len(acked), total)
        self.check(d, acked, total)
        self.stop_ok(d)
        self.restart(d)
        self.check(d, acked, total)

    def test_production_pacerd_has_no_fault_hook(self):
        with open(pt.PACERD, "rb") as f:
            self.assertNotIn(b"PACERD_TEST_", f.read())  # no test hook of any kind
        d = self.start_daemon(env={"PACERD_TEST_FAIL_COMMIT": "1"})
        with d.client() as c:
            pt.define_zhang_deals_target(c)
            self.assertAppended(c.append(pt.sales(300, rep="zhang")), 300)
        self.assertNotIn("PACERD_TEST_FAIL_COMMIT", d.log_text())

    def check(self, d, acked, total):
        with d.client("query") as q:
            log = pt.read_log(q, raw=True)
        pt.verify_chain(log)
        self.assertEqual([r["seq"] for r in log], list(range(1, len(log) + 1)))
        sales = {}
        for rec in log:
            ev = pt.msgpack.unpackb(rec["event"], raw=False)
            if ev["type"] == "sale_closed":
                self.assertNotIn(ev["id"], sales, "%s is in the log twice" % ev["id"])
                sales[ev["id"]] = rec["seq"]
        self.assertEqual(sales, acked)
        self.assertEqual(pt.deals_of_zhang(d), total)


if __name__ == "__main__":
    pt.main()
