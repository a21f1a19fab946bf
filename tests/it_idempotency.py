"""Idempotent appends, conflicts, duplicates within a batch, and atomic batches.

EVENTS.md: a retry with the same id and content returns the original seq and is never counted
twice; the same id with different content is refused (`conflict`); key order, and an integer
versus the same value as a float in a `number` field, do not make content different; nil for an
optional field is the same as leaving it out. PROTOCOL.md: `atomic: true` appends all or none."""

import threading

import pacertest as pt
from pacertest import expect_ok


def results_summary(reply):
    return [("error", r["error"]) if "error" in r else (r["seq"], r["dup"])
            for r in reply["results"]]


class Idempotency(pt.PacerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = pt.Daemon()
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        if rc != 0:
            raise AssertionError("pacerd exited %r on SIGTERM" % rc)

    def setUp(self):
        self._daemons.append(self.d)
        self.c = self.d.client()
        self.q = self.d.client("query")
        self.addCleanup(self.c.close)
        self.addCleanup(self.q.close)

    def last_seq(self):
        return expect_ok(self.q.status())["last_seq"]

    def counters(self):
        return expect_ok(self.q.status())["counters"]

    def test_retry_of_same_batch_is_all_duplicates(self):
        batch = pt.one_of_each() + pt.sales(30)
        first = expect_ok(self.c.append(batch))
        seqs = self.assertAppended(first, len(batch))
        before = self.last_seq()
        dup_before = self.counters()["duplicates"]
        for _ in range(2):
            again = expect_ok(self.c.append(batch))
            self.assertEqual([r["seq"] for r in again["results"]], seqs)
            self.assertTrue(all(r["dup"] is True for r in again["results"]))
            self.assertEqual((again["appended"], again["duplicates"], again["rejected"]),
                             (0, len(batch), 0))
            self.assertEqual(again["last_seq"], before)
        self.assertEqual(self.last_seq(), before, "the log grew on a retry")
        self.assertEqual(self.counters()["duplicates"] - dup_before, 2 * len(batch))
        # The log holds each event once.
        ids = [r["event"]["id"] for r in pt.read_log(self.q, from_seq=seqs[0])]
        self.assertEqual(ids[:len(batch)], [e["id"] for e in batch])
        self.assertEqual(len(ids), len(set(ids)))

    def test_retry_mixed_with_new_events(self):
        old = pt.sales(3)
        seqs = self.assertAppended(self.c.append(old), 3)
        new = pt.sales(2)
        reply = expect_ok(self.c.append([new[0]] + old + [new[1]]))
        base = reply["results"][0]["seq"]
        self.assertEqual(results_summary(reply),
                         [(base, False)] + [(s, True) for s in seqs] + [(base + 1, False)])
        self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]), (2, 3, 0))

    def test_same_id_different_payload_is_conflict(self):
        ev = pt.sale_closed()
        seq = self.assertAppended(self.c.append([ev]), 1)[0]
        before = self.last_seq()
        for change in ({"amount": ev["amount"] + 1}, {"rep": "wang"}, {"customer": None},
                       {"quantity": 2}, {"source": "pos-17"}, {"occurred_at": ev["occurred_at"] + 1}):
            changed = dict(ev, **change)
            reply = expect_ok(self.c.append([changed]))
            self.assertEqual(results_summary(reply), [("error", "conflict")], change)
            self.assertIn(ev["id"], reply["results"][0]["message"])
            self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]),
                             (0, 0, 1))
        # A different type under a known id is a conflict too.
        other = pt.sale_cancelled(id=ev["id"])
        self.assertEqual(results_summary(expect_ok(self.c.append([other]))),
                         [("error", "conflict")])
        self.assertEqual(self.last_seq(), before)
        # The original is untouched and still a duplicate of itself.
        self.assertEqual(results_summary(expect_ok(self.c.append([ev]))), [(seq, True)])

    def test_conflict_does_not_stop_the_rest_of_a_batch(self):
        ev = pt.sale_closed()
        expect_ok(self.c.append([ev]))
        good = pt.sales(2)
        reply = expect_ok(self.c.append([good[0], dict(ev, amount=1), good[1]]))
        s = reply["results"][0]["seq"]
        self.assertEqual(results_summary(reply), [(s, False), ("error", "conflict"), (s + 1, False)])
        self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]), (2, 0, 1))

    def test_duplicate_ids_inside_one_batch(self):
        a, b = pt.sale_closed(), pt.sale_closed()
        reply = expect_ok(self.c.append([a, b, a, dict(a)]))
        s = reply["results"][0]["seq"]
        self.assertEqual(results_summary(reply), [(s, False), (s + 1, False), (s, True), (s, True)])
        self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]), (2, 2, 0))
        self.assertEqual(self.last_seq(), s + 1)

        c = pt.sale_closed()
        reply = expect_ok(self.c.append([c, dict(c, amount=c["amount"] + 1)]))
        s = reply["results"][0]["seq"]
        self.assertEqual(results_summary(reply), [(s, False), ("error", "conflict")])
        self.assertEqual(self.last_seq(), s)

    def test_key_order_does_not_make_a_conflict(self):
        ev = pt.sale_closed(quantity=2, due_at=pt.T0)
        seq = self.assertAppended(self.c.append([ev]), 1)[0]
        shuffled = dict(sorted(ev.items()))
        reversed_ = dict(reversed(list(ev.items())))
        self.assertNotEqual(pt.packb(shuffled), pt.packb(ev))
        reply = expect_ok(self.c.append([shuffled, reversed_]))
        self.assertEqual(results_summary(reply), [(seq, True), (seq, True)])

    def test_int_versus_float_in_number_field_is_not_a_conflict(self):
        self.assertAppended(self.c.append([pt.kpi_defined()]), 1)
        as_int = pt.kpi_recorded(value=5)
        as_float = dict(as_int, value=5.0)
        seq = self.assertAppended(self.c.append([as_int]), 1)[0]
        self.assertEqual(results_summary(expect_ok(self.c.append([as_float]))), [(seq, True)])
        # and the other way round
        f = pt.kpi_recorded(value=-2.0)
        seq2 = self.assertAppended(self.c.append([f]), 1)[0]
        self.assertEqual(results_summary(expect_ok(self.c.append([dict(f, value=-2)]))),
                         [(seq2, True)])
        # A different value is a conflict.
        self.assertEqual(results_summary(expect_ok(self.c.append([dict(as_int, value=5.5)]))),
                         [("error", "conflict")])
        # Stored as float64 either way.
        rec = expect_ok(self.q.events(from_seq=seq, limit=1))["events"][0]
        self.assertIsInstance(rec["event"]["value"], float)
        self.assertEqual(rec["event"]["value"], 5.0)

    def test_nil_optional_field_is_the_same_as_absent(self):
        ev = pt.sale_closed()
        del ev["customer"]
        seq = self.assertAppended(self.c.append([ev]), 1)[0]
        reply = expect_ok(self.c.append([dict(ev, customer=None, source=None)]))
        self.assertEqual(results_summary(reply), [(seq, True)])

    def test_atomic_batch_with_one_bad_event_appends_nothing(self):
        before = self.last_seq()
        good = pt.sales(3)
        bad = pt.sale_closed(amount="12.50")
        reply = expect_ok(self.c.append([good[0], good[1], bad, good[2]], atomic=True))
        self.assertEqual(results_summary(reply), [("error", "aborted"), ("error", "aborted"),
                                                  ("error", "wrong_type"), ("error", "aborted")])
        self.assertIn("amount", reply["results"][2]["message"])
        self.assertEqual(reply["appended"], 0)
        self.assertEqual(reply["appended"] + reply["duplicates"] + reply["rejected"], 4)
        self.assertEqual(reply["last_seq"], before)
        self.assertEqual(self.last_seq(), before)
        # None of the good ids were taken: the same good events append normally afterwards.
        self.assertAppended(self.c.append(good), 3, first_seq=before + 1)

    def test_atomic_batch_with_a_conflict_appends_nothing(self):
        ev = pt.sale_closed()
        expect_ok(self.c.append([ev]))
        before = self.last_seq()
        fresh = pt.sales(2)
        reply = expect_ok(self.c.append([fresh[0], dict(ev, amount=7), fresh[1]], atomic=True))
        self.assertEqual(results_summary(reply), [("error", "aborted"), ("error", "conflict"),
                                                  ("error", "aborted")])
        self.assertEqual(self.last_seq(), before)

    def test_atomic_good_batch_appends_everything(self):
        before = self.last_seq()
        batch = pt.sales(5)
        self.assertAppended(self.c.append(batch, atomic=True), 5, first_seq=before + 1)
        # A retry of an atomic batch is all duplicates.
        reply = expect_ok(self.c.append(batch, atomic=True))
        self.assertEqual(results_summary(reply), [(before + 1 + i, True) for i in range(5)])

    def test_non_atomic_batch_keeps_the_good_events(self):
        before = self.last_seq()
        good = pt.sales(2)
        reply = expect_ok(self.c.append([good[0], pt.sale_closed(currency="cny"), good[1]],
                                        atomic=False))
        self.assertEqual(results_summary(reply), [(before + 1, False), ("error", "invalid_value"),
                                                  (before + 2, False)])
        self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]), (2, 0, 1))


    def race(self, batches_per_thread):
        """Each thread pipelines its batches on its own DEALER, all starting together so that
        requests of different producers land in the same group commits. Returns the replies."""
        barrier = threading.Barrier(len(batches_per_thread))
        replies = [None] * len(batches_per_thread)

        def run(i):
            with self.d.client() as c:
                barrier.wait(pt.START_TIMEOUT)
                corrs = [c.send({"v": 1, "op": "append", "events": b})
                         for b in batches_per_thread[i]]
                got = [c.recv_reply() for _ in corrs]
                assert [g["corr"] for g in got] == corrs
                replies[i] = got
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(replies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(pt.REQUEST_TIMEOUT)
        self.assertTrue(all(r is not None for r in replies), "a racing client failed")
        return replies

    def test_same_batches_from_concurrent_producers(self):
        before = self.last_seq()
        batches = [pt.sales(50) for _ in range(20)]
        replies = self.race([batches] * 4)
        fresh = {}
        for per_thread in replies:
            for batch, reply in zip(batches, per_thread):
                expect_ok(reply)
                for ev, res in zip(batch, reply["results"]):
                    self.assertNotIn("error", res)
                    fresh.setdefault(ev["id"], []).append((res["seq"], res["dup"]))
                # the counts are this request's own, though it shared its group commit
                self.assertEqual((reply["appended"], reply["duplicates"], reply["rejected"]),
                                 (sum(1 for r in reply["results"] if not r["dup"]),
                                  sum(1 for r in reply["results"] if r["dup"]), 0))
        for id_, outcomes in fresh.items():
            self.assertEqual(len({s for s, _ in outcomes}), 1, "%s got different seqs" % id_)
            self.assertEqual(sum(1 for _, dup in outcomes if not dup), 1,
                             "%s appended %d times" % (id_, sum(1 for _, d in outcomes if not d)))
        self.assertEqual(self.last_seq(), before + 1000)
        log = pt.read_log(self.q, from_seq=before + 1)
        self.assertEqual(len({r["event"]["id"] for r in log}), 1000)

    def test_conflicting_events_from_concurrent_producers(self):
        before = self.last_seq()
        ids = [pt.uid("race") for _ in range(100)]
        per_thread = [[[pt.sale_closed(id=i, amount=1000 + t)] for i in ids] for t in range(4)]
        replies = self.race(per_thread)
        for k, id_ in enumerate(ids):
            results = [replies[t][k]["results"][0] for t in range(4)]
            won = [t for t, r in enumerate(results) if "seq" in r]
            self.assertEqual(len(won), 1, "%s: %r" % (id_, results))
            self.assertEqual(sorted(r.get("error") for r in results if "error" in r),
                             ["conflict"] * 3)
        log = pt.read_log(self.q, from_seq=before + 1)
        self.assertEqual(sorted(r["event"]["id"] for r in log), sorted(ids))


if __name__ == "__main__":
    pt.main()
