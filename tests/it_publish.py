"""Publish: a SUB socket receives each committed event as ["event/<type>/", msgpack
{"seq", "recorded_at", "event"}], gap-free, with the seqs the append acknowledged."""

import time

import pacertest as pt
from pacertest import expect_ok, zmq


class Subscriber:
    def __init__(self, endpoint, prefix):
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.sock.connect(endpoint)
        self.prefix = prefix

    def close(self):
        self.sock.close(0)

    def recv(self, timeout):
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        frames = self.sock.recv_multipart()
        assert len(frames) == 2, "published message has %d frames" % len(frames)
        return frames[0].decode(), pt.msgpack.unpackb(frames[1], raw=False)

    def until_seq(self, seq, timeout=pt.REQUEST_TIMEOUT):
        """Messages received up to and including the one with `seq`."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(0.2)
            if m is None:
                continue
            got.append(m)
            if m[1]["seq"] >= seq:
                return got
        raise AssertionError("no published seq %d on %r within %.0f s" % (seq, self.prefix,
                                                                         timeout))


class Publish(pt.PacerTestCase):

    def sync(self, d, subs):
        """Appends probe events until every subscriber sees one (the subscription has reached
        the PUB socket; ZeroMQ drops what is published before that). Returns the probe's seq."""
        deadline = time.monotonic() + pt.START_TIMEOUT
        with d.client() as c:
            while True:
                seq = expect_ok(c.append([pt.sale_closed()]))["results"][0]["seq"]
                ok = True
                for s in subs:
                    m = s.recv(0.3)
                    while m is not None and m[1]["seq"] < seq:
                        m = s.recv(0.3)
                    ok = ok and m is not None and m[1]["seq"] == seq
                if ok:
                    return seq
                if time.monotonic() > deadline:
                    raise AssertionError("subscribers never saw a probe event")

    def test_committed_events_are_published_with_their_seqs(self):
        d = self.start_daemon()
        everything = Subscriber(d.publish_ep, "event/")
        kpis = Subscriber(d.publish_ep, "event/kpi_recorded/")
        self.addCleanup(everything.close)
        self.addCleanup(kpis.close)
        self.sync(d, [everything])
        # The kpi subscriber syncs on its own type.
        with d.client() as c:
            expect_ok(c.append([pt.kpi_defined()]))
            deadline = time.monotonic() + pt.START_TIMEOUT
            while True:
                seq = expect_ok(c.append([pt.kpi_recorded(value=1)]))["results"][0]["seq"]
                m = kpis.recv(0.3)
                if m is not None and m[1]["seq"] == seq:
                    break
                self.assertLess(time.monotonic(), deadline, "kpi subscriber never synced")
            everything.until_seq(seq)

            batch = pt.one_of_each() + pt.sales(30)
            reply = expect_ok(c.append(batch))
        seqs = [r["seq"] for r in reply["results"]]
        self.assertEqual(seqs, list(range(seq + 1, seq + 1 + len(batch))))

        got = everything.until_seq(seqs[-1])
        self.assertEqual([m[1]["seq"] for m in got], seqs, "published seqs are not the acked ones")
        with d.client("query") as q:
            stored = {r["seq"]: r for r in pt.read_log(q, from_seq=seqs[0])}
        for (topic, body), ev, s in zip(got, batch, seqs):
            self.assertEqual(topic, "event/%s/" % ev["type"])
            self.assertEqual(set(body), {"seq", "recorded_at", "event"})
            self.assertEqual(body["seq"], s)
            self.assertEqual(body["recorded_at"], stored[s]["recorded_at"])
            self.assertTrue(pt.same_content(body["event"], ev), (body["event"], ev))

        kpi_seqs = [s for s, ev in zip(seqs, batch) if ev["type"] == "kpi_recorded"]
        got_kpi = kpis.until_seq(kpi_seqs[-1])
        self.assertEqual([m[1]["seq"] for m in got_kpi], kpi_seqs)
        self.assertTrue(all(t == "event/kpi_recorded/" for t, _ in got_kpi))

    def test_duplicates_and_rejects_are_not_published(self):
        d = self.start_daemon()
        sub = Subscriber(d.publish_ep, "event/")
        self.addCleanup(sub.close)
        self.sync(d, [sub])
        with d.client() as c:
            batch = pt.sales(5)
            first = expect_ok(c.append(batch))
            expect_ok(c.append(batch))                                   # all duplicates
            expect_ok(c.append([pt.sale_closed(currency="x")]))         # rejected
            expect_ok(c.append([pt.sale_closed(), pt.sale_closed(amount=-1)], atomic=True))
            marker = expect_ok(c.append([pt.sale_closed()]))["results"][0]["seq"]
        got = sub.until_seq(marker)
        self.assertEqual([m[1]["seq"] for m in got],
                         [r["seq"] for r in first["results"]] + [marker])

    def test_publishing_continues_after_restart(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(pt.sales(4)))
        self.stop_ok(d)
        self.restart(d)
        sub = Subscriber(d.publish_ep, "event/")
        self.addCleanup(sub.close)
        probe = self.sync(d, [sub])
        self.assertEqual(probe, 5)


if __name__ == "__main__":
    pt.main()
