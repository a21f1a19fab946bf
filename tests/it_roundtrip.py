"""Round trip: append, read back with `events`, `status`, and the hash chain of raw records.

Checks PROTOCOL.md's append/status/events replies and that "The log and its hash chain" is
implementable from the document alone (the chain is recomputed here with hashlib)."""

import time

import pacertest as pt
from pacertest import expect_ok


class RoundTrip(pt.PacerTestCase):

    def test_append_then_read_back(self):
        d = self.start_daemon()
        st0 = d.status()
        self.assertEqual(st0["last_seq"], 0)
        self.assertEqual(st0["log_events"], 0)
        self.assertEqual(st0["last_hash"], pt.ZERO_HASH)

        sent = pt.one_of_each() + pt.sales(20)
        with d.client() as c:
            reply = c.append(sent)
        seqs = self.assertAppended(reply, len(sent), first_seq=1)
        self.assertEqual(reply["last_seq"], len(sent))

        with d.client("query") as q:
            log = pt.read_log(q)
        self.assertEqual([r["seq"] for r in log], seqs)
        for rec, ev in zip(log, sent):
            self.assertTrue(pt.same_content(rec["event"], ev),
                            "seq %d: stored %r\n sent canonical %r"
                            % (rec["seq"], rec["event"], pt.canonical(ev)))
            self.assertIsInstance(rec["recorded_at"], int)
            self.assertIsInstance(rec["hash"], bytes)
            self.assertEqual(len(rec["hash"]), 32)
        # recorded_at is the daemon's clock: not before the epoch, and never decreasing.
        stamps = [r["recorded_at"] for r in log]
        self.assertEqual(stamps, sorted(stamps))
        self.assertGreater(stamps[0], 1500000000000)

        st = d.status()
        self.assertEqual(st["last_seq"], len(sent))
        self.assertEqual(st["log_events"], len(sent))
        self.assertEqual(st["last_hash"], log[-1]["hash"])
        self.assertEqual(st["protocol"], 1)
        self.assertIsInstance(st["version"], str)
        self.assertTrue(st["version"])
        self.assertEqual(pt.os.path.realpath(st["state_dir"]), pt.os.path.realpath(d.state_dir))
        self.assertIsInstance(st["started_at"], int)
        self.assertLess(abs(st["started_at"] - time.time() * 1000), 86400000)
        self.assertIsInstance(st["uptime_ms"], int)
        self.assertGreaterEqual(st["uptime_ms"], 0)
        self.assertIsInstance(st["map_size"], int)
        self.assertGreater(st["map_size"], 0)
        self.assertEqual(st["snapshot_seq"], 0)  # a fresh log, far from --snapshot-every
        counters = st["counters"]
        for key in ("requests", "appended", "duplicates", "rejected", "bad_requests", "commits",
                    "map_resizes"):
            self.assertIn(key, counters)
            self.assertIsInstance(counters[key], int)
        self.assertEqual(counters["appended"], len(sent))
        self.assertEqual(counters["duplicates"], 0)
        self.assertEqual(counters["rejected"], 0)
        self.assertEqual(counters["bad_requests"], 0)
        self.assertGreaterEqual(counters["commits"], 1)
        self.assertGreaterEqual(counters["requests"], 1)

    def test_raw_events_verify_against_hash_chain(self):
        d = self.start_daemon()
        batches = [pt.one_of_each(), pt.sales(50), [pt.sale_closed(customer="客户-ü")],
                   pt.sales(7)]
        sent = []
        with d.client() as c:
            for b in batches:
                expect_ok(c.append(b))
                sent.extend(b)
        with d.client("query") as q:
            raw = pt.read_log(q, raw=True)
            decoded = pt.read_log(q)
        self.assertEqual(len(raw), len(sent))
        last = pt.verify_chain(raw)
        self.assertEqual(d.status()["last_hash"], last)
        for r, dec, ev in zip(raw, decoded, sent):
            self.assertEqual(r["hash"], dec["hash"])
            self.assertEqual(r["recorded_at"], dec["recorded_at"])
            self.assertEqual(pt.msgpack.unpackb(r["event"], raw=False), dec["event"])

    def test_raw_bytes_are_the_documented_canonical_encoding(self):
        """PROTOCOL.md: fields in EVENTS.md order (envelope first), shortest integers, numbers as
        float64, so a client can recompute the stored bytes (and hashes) from what it sent."""
        d = self.start_daemon()
        # Keys deliberately sent in reverse order; numbers sent as integers.
        sent = [dict(reversed(list(ev.items()))) for ev in pt.one_of_each()]
        with d.client() as c:
            expect_ok(c.append(sent))
        with d.client("query") as q:
            raw = pt.read_log(q, raw=True)
        for r, ev in zip(raw, sent):
            self.assertEqual(r["event"], pt.canonical_bytes(ev),
                             "seq %d (%s): stored bytes differ from the canonical encoding"
                             % (r["seq"], ev["type"]))

    def test_events_paging(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(pt.sales(25)))
        with d.client("query") as q:
            r = expect_ok(q.events(from_seq=3, limit=5))
            self.assertEqual([e["seq"] for e in r["events"]], [3, 4, 5, 6, 7])
            self.assertEqual(r["next"], 8)
            self.assertEqual(r["last_seq"], 25)
            r = expect_ok(q.events())  # defaults: from 1, limit 1000
            self.assertEqual([e["seq"] for e in r["events"]], list(range(1, 26)))
            self.assertGreater(r["next"], r["last_seq"])
            r = expect_ok(q.events(from_seq=24, limit=10))
            self.assertEqual([e["seq"] for e in r["events"]], [24, 25])
            self.assertGreater(r["next"], r["last_seq"])
            r = expect_ok(q.events(from_seq=26, limit=10))
            self.assertEqual(r["events"], [])
            self.assertGreater(r["next"], r["last_seq"])
            self.assertEqual(len(pt.read_log(q, limit=4)), 25)

    def test_corr_is_echoed_unchanged(self):
        d = self.start_daemon()
        with d.client("query") as q:
            for corr in (0, 7, "abc", -3, 2 ** 63, {"k": [1, 2.5, None, b"\x00\xff"]}, None):
                q.send_body_bytes(pt.packb({"v": 1, "op": "status", "corr": corr}))
                reply = q.recv_reply()
                self.assertEqual(reply["corr"], corr)
            # No corr at all: nil in the reply.
            q.send_body_bytes(pt.packb({"v": 1, "op": "status"}))
            self.assertIsNone(q.recv_reply()["corr"])

    def test_pipelined_requests_on_one_dealer(self):
        """Many requests in flight on one DEALER: replies come back in order, one each."""
        d = self.start_daemon()
        with d.client() as c:
            corrs = [c.send({"v": 1, "op": "append", "events": pt.sales(3)}) for _ in range(30)]
            replies = [c.recv_reply() for _ in corrs]
            self.assertFalse(c.poll(0.2), "more replies than requests")
        self.assertEqual([r["corr"] for r in replies], corrs)
        seqs = [res["seq"] for r in replies for res in expect_ok(r)["results"]]
        self.assertEqual(seqs, list(range(1, 91)))

    def test_ten_thousand_events_in_one_request(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(pt.sales(5)))
            batch = pt.sales(10000)
            reply = c.append(batch)
            self.assertAppended(reply, 10000, first_seq=6)
            self.assertEqual(reply["last_seq"], 10005)
            again = expect_ok(c.append(batch))
            self.assertEqual((again["appended"], again["duplicates"], again["rejected"]),
                             (0, 10000, 0))
            self.assertEqual([r["seq"] for r in again["results"]], list(range(6, 10006)))
        with d.client("query") as q:
            log = pt.read_log(q, raw=True)
            self.assertEqual(len(log), 10005)
            pt.verify_chain(log)
            for rec, ev in zip(log[5:], batch):
                self.assertTrue(pt.same_content(pt.msgpack.unpackb(rec["event"], raw=False), ev))
            # limit is at most 10,000: a larger one is either refused or capped.
            r = q.events(from_seq=1, limit=20000)
            if r["ok"]:
                self.assertLessEqual(len(r["events"]), 10000)
            else:
                self.assertEqual(r["error"], "bad_request")


if __name__ == "__main__":
    pt.main()
