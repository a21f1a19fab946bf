"""kill -9 while producers stream acknowledged appends.

PROTOCOL.md: "Acknowledged means durable", and a batch sent without a reply may or may not be
in the log; retried unchanged, its events come back as duplicates or new appends. After each
SIGKILL and restart: every acknowledged event is in the log exactly once at the seq it was
acknowledged with, no id appears twice, seqs are gap-free, the hash chain holds (checked here
and by `pacer verify`), and retries are never conflicts."""

import pacertest as pt
from pacertest import expect_ok

PRODUCERS = 4
ROUNDS = 3
ACKED_PER_ROUND = 3000  # acknowledged events to wait for before each kill


class KillNine(pt.PacerTestCase):

    def check_log(self, d, producers_so_far):
        with d.client("query") as q:
            log = pt.read_log(q, raw=True)
        self.assertEqual([r["seq"] for r in log], list(range(1, len(log) + 1)),
                         "seqs are not gap-free")
        last = pt.verify_chain(log)
        self.assertEqual(d.status()["last_hash"], last)
        events = {r["seq"]: pt.msgpack.unpackb(r["event"], raw=False) for r in log}
        ids = [e["id"] for e in events.values()]
        self.assertEqual(len(ids), len(set(ids)), "an id appears twice in the log")
        sent = set()
        for p in producers_so_far:
            sent |= p.sent_ids
            for seq, ev in p.acked:
                self.assertIn(seq, events, "acknowledged seq %d is missing" % seq)
                self.assertTrue(pt.same_content(events[seq], ev),
                                "seq %d: %r is not the acknowledged %r" % (seq, events[seq], ev))
        self.assertLessEqual(set(ids), sent, "the log holds ids nobody sent")
        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, "pacer verify: %s%s" % (r.stdout, r.stderr))
        self.assertTrue(r.stdout.startswith("ok:"), r.stdout)
        return len(log)

    def test_kill_9_while_streaming(self):
        d = self.start_daemon()
        everyone = []
        for round_ in range(ROUNDS):
            producers = [pt.Producer(d.append_ep, "r%dp%d" % (round_, i),
                                     batch_size=(10, 40, 97, 1500)[i % 4])
                         for i in range(PRODUCERS)]
            everyone.extend(producers)
            for p in producers:
                p.start()
            try:
                pt.wait_until(lambda: sum(p.acked_count() for p in producers) >= ACKED_PER_ROUND
                              or any(p.errors for p in producers) or not d.running(),
                              pt.REQUEST_TIMEOUT * 2, "acknowledged appends")
                d.kill()
            finally:
                for p in producers:
                    p.daemon_gone()
                for p in producers:
                    p.join(pt.REQUEST_TIMEOUT)
            for p in producers:
                self.assertEqual(p.errors, [], p.name)
                self.assertFalse(p.is_alive())
            self.assertEqual(d.returncode, -9, "pacerd was not running when killed")

            self.restart(d)
            n = self.check_log(d, everyone)
            pt.sys.stderr.write("round %d: log %d, acked %d, unacked batches %d\n" % (
                round_, n, sum(p.acked_count() for p in everyone),
                sum(len(p.unacked) for p in everyone)))

        # Retries: unacknowledged batches are duplicates or new appends, never conflicts;
        # acknowledged batches are all duplicates with their original seqs.
        with d.client() as c:
            for p in everyone:
                for batch in p.unacked:
                    reply = expect_ok(c.append(batch))
                    self.assertEqual([r.get("error") for r in reply["results"]],
                                     [None] * len(batch), "a retry was refused")
                    self.assertEqual(reply["appended"] + reply["duplicates"], len(batch))
                for batch, seqs in p.acked_batches:
                    reply = expect_ok(c.append(batch))
                    self.assertEqual([(r["seq"], r["dup"]) for r in reply["results"]],
                                     [(s, True) for s in seqs])
        total = self.check_log(d, everyone)
        self.assertEqual(total, sum(len(p.sent_ids) for p in everyone),
                         "after the retries every sent event is in the log once")


if __name__ == "__main__":
    pt.main()
