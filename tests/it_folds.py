"""The fold seam end to end: pacerd-testfold is pacerd plus one fold (tests/fold_test_counter.c,
one file, registered by one line of projections/folds.c) that answers one operation of its
own. On a state directory whose snapshot was written by plain pacerd, it folds only the new fold
from the first event while the projection and the other folds load from the snapshot; on its own
snapshot it folds nothing again (one written at a stop with nothing appended after the refold
included); plain pacerd ignores the section it does not know."""

import os

import pacertest as pt
from pacertest import expect_ok

TESTFOLD = os.path.join(os.path.dirname(pt.PACERD), "pacerd-testfold")


class Folds(pt.PacerTestCase):

    def counter(self, d, **fields):
        with d.client("query") as c:
            return c.call("test_counter", **fields)

    def test_a_new_fold_refolds_alone_and_answers_its_operation(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(pt.one_of_each()))
            n = expect_ok(c.append([pt.sale_closed() for _ in range(40)]))["last_seq"]
        r = self.counter(d)
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"], "unknown_op")
        d.stop()  # writes a snapshot at seq n
        plain = d.argv

        d.argv = lambda: [TESTFOLD] + plain()[1:]
        self.restart(d)
        log = d.log_text()
        # test_counter alone, over the snapshot's events
        self.assertIn("folded from seq 1: test_counter (%d events" % n, log)
        self.assertIn("projection at seq %d: snapshot %d + 0 events" % (n, n), log)
        r = expect_ok(self.counter(d))
        self.assertEqual((r["events"], r["first_seq"], r["sales"]),
                         (n, 1, 40 + sum(1 for e in pt.one_of_each()
                                          if e["type"] == "sale_closed")))
        # stopped with nothing appended, the refolded fold is still kept:
        # the stop writes a snapshot at the same seq, with its section
        d.stop()
        self.restart(d)
        self.assertNotIn("folded from seq", d.log_text())
        self.assertEqual(expect_ok(self.counter(d))["events"], n)
        with d.client() as c:
            m = expect_ok(c.append([pt.sale_closed() for _ in range(5)]))["last_seq"]
        self.assertEqual(expect_ok(self.counter(d))["events"], m)
        self.check_request_fields(d, m)
        d.stop()

        self.restart(d)  # its own snapshot now has the section: nothing refolded
        self.assertNotIn("folded from seq", d.log_text())
        self.assertEqual(expect_ok(self.counter(d))["events"], m)
        d.stop()

        d.argv = plain  # plain pacerd skips the section it does not know
        self.restart(d)
        self.assertNotIn("ignoring the snapshot", d.log_text())
        self.assertEqual(d.status()["last_seq"], m)
        self.assertEqual(self.counter(d)["error"], "unknown_op")

    def check_request_fields(self, d, m):
        """A fold's operation lists the request keys it reads (fold_op_t's fields): the fold
        set checks them before the fold answers, with the messages every query key gets."""
        def counters(r):
            return {k: v for k, v in expect_ok(r).items() if k not in ("v", "corr", "ok")}
        every = counters(self.counter(d))
        self.assertEqual(set(every), {"events", "sales", "first_seq"})
        self.assertEqual(counters(self.counter(d, only=None)), every)  # nil: left out
        self.assertEqual(counters(self.counter(d, only="events")), {"events": m})
        self.assertEqual(counters(self.counter(d, only=["first_seq", "sales", "first_seq"])),
                         {"first_seq": 1, "sales": every["sales"]})
        for only, message in (
                (1, "only: expected a string or an array of at most 3 strings"),
                (["events", 2], "only: expected a string or an array of at most 3 strings"),
                (["events"] * 4, "only: expected a string or an array of at most 3 strings"),
                ("everything", "only: expected events, sales or first_seq")):
            with self.subTest(only=only):
                r = self.counter(d, only=only)
                self.assertEqual((r["ok"], r["error"], r["message"]),
                                 (False, "bad_request", message))


if __name__ == "__main__":
    pt.main()
